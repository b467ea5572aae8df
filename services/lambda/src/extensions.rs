//! External extensions (AWS's Extensions API): the executables of `/opt/extensions/`,
//! started in an environment's process group before its runtime, and the register, event
//! and error calls they make on the environment's Runtime API listener.
//!
//! An environment's runtime starts only once every extension has registered; each
//! invocation the runtime fetches becomes an INVOKE event for the extensions that asked
//! for them, and the environment is reused only once those have asked for their next
//! event again. When the environment ends, SHUTDOWN-registered extensions get that event
//! and a short grace period before the process group is killed.

use bytes::Bytes;
use nephos_core::runtime::{ExtensionRegistration, ReportedError, RuntimeRefusal};
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::Notify;

/// How long extensions have after SHUTDOWN (AWS: 2000 ms with external extensions, of
/// which the runtime's share is already over: nephos ends the runtime first).
pub const SHUTDOWN_GRACE: Duration = Duration::from_millis(2000);

/// AWS allows 10 extensions per function.
const MAX_EXTENSIONS: usize = 10;

/// One executable of `/opt/extensions/`.
#[derive(Debug, Clone)]
pub struct Extension {
    pub name: String,
    pub path: PathBuf,
}

/// The executables of `/opt/extensions/`, by file name: `opt_dirs` are the layers, last
/// one first, so a later layer's file hides an earlier one's of the same name.
pub fn discover(opt_dirs: &[PathBuf]) -> Vec<Extension> {
    use std::os::unix::fs::PermissionsExt;
    let mut found: Vec<Extension> = Vec::new();
    for dir in opt_dirs {
        let Ok(entries) = std::fs::read_dir(dir.join("extensions")) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            let executable = std::fs::metadata(&path)
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
            if executable && !found.iter().any(|e| e.name == name) {
                found.push(Extension {
                    name: name.to_owned(),
                    path: path.clone(),
                });
            }
        }
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    found
}

/// The runtime's variables that AWS withholds from extensions.
const WITHHELD: &[&str] = &[
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_XRAY_CONTEXT_MISSING",
    "AWS_XRAY_DAEMON_ADDRESS",
    "LAMBDA_RUNTIME_DIR",
    "LAMBDA_TASK_ROOT",
    "_AWS_XRAY_DAEMON_ADDRESS",
    "_AWS_XRAY_DAEMON_PORT",
    "_HANDLER",
];

/// An extension's environment: the runtime's, less what AWS withholds.
pub fn vars(runtime_vars: &[(String, String)]) -> Vec<(String, String)> {
    runtime_vars
        .iter()
        .filter(|(k, _)| !WITHHELD.contains(&k.as_str()))
        .cloned()
        .collect()
}

/// What a register call answers with.
#[derive(Debug, Clone, Default)]
pub struct FunctionInfo {
    pub name: String,
    pub version: String,
    pub handler: String,
    pub account: String,
}

struct Registered {
    id: String,
    name: String,
    invoke: bool,
    shutdown: bool,
    events: VecDeque<Bytes>,
    /// Asked for its next event and has none yet: done with the previous one.
    waiting: bool,
    /// Has asked for its first event: its init is over.
    ready: bool,
    exited: bool,
}

#[derive(Default)]
struct State {
    info: FunctionInfo,
    expected: Vec<String>,
    registered: Vec<Registered>,
    /// The runtime was started: no more registrations.
    closed: bool,
    /// Why the init failed (an extension crashed, posted an init error or never
    /// registered).
    failure: Option<ReportedError>,
    /// An extension failed after the init: the environment is not reused.
    broken: bool,
    shutting_down: bool,
}

impl State {
    /// Every extension has registered and asked for its first event: the init is over
    /// as far as extensions go.
    fn settled(&self) -> bool {
        self.closed && self.registered.iter().all(|e| e.ready || e.exited)
    }
}

/// Where an environment's extensions stand.
pub enum Registration {
    Pending,
    Complete,
    Failed(ReportedError),
}

/// An environment's extensions as the Extensions API sees them.
#[derive(Default)]
pub struct Extensions {
    state: Mutex<State>,
    event: Notify,
}

fn error_body(error_type: &str, message: &str) -> ReportedError {
    ReportedError {
        error_type: Some(error_type.to_owned()),
        body: Bytes::from(
            serde_json::json!({"errorType": error_type, "errorMessage": message}).to_string(),
        ),
    }
}

fn forbidden(error_type: &'static str, message: impl Into<String>) -> RuntimeRefusal {
    RuntimeRefusal::new(403, error_type, message)
}

impl Extensions {
    pub fn new(expected: &[Extension], info: FunctionInfo) -> Extensions {
        Extensions {
            state: Mutex::new(State {
                info,
                expected: expected.iter().map(|e| e.name.clone()).collect(),
                ..State::default()
            }),
            event: Notify::new(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.state.lock().unwrap().expected.is_empty()
    }

    pub fn register(&self, r: ExtensionRegistration) -> Result<(String, Bytes), RuntimeRefusal> {
        let mut s = self.state.lock().unwrap();
        let Some(name) = r.name.filter(|n| !n.is_empty()) else {
            return Err(forbidden(
                "Extension.MissingHeader",
                "Missing Lambda-Extension-Name header",
            ));
        };
        if s.closed || s.failure.is_some() {
            return Err(forbidden(
                "Extension.RegistrationClosed",
                "Extension registration closed already",
            ));
        }
        // Lambda knows its extensions by their file names in /opt/extensions.
        if !s.expected.contains(&name) || s.registered.iter().any(|e| e.name == name) {
            return Err(forbidden(
                "Extension.InvalidExtensionName",
                format!("Invalid extension name: {name}"),
            ));
        }
        if s.registered.len() >= MAX_EXTENSIONS {
            return Err(forbidden(
                "Extension.TooManyExtensions",
                "Too many extensions registered",
            ));
        }
        let body: serde_json::Value = if r.body.iter().all(u8::is_ascii_whitespace) {
            serde_json::json!({})
        } else {
            serde_json::from_slice(&r.body).map_err(|_| {
                RuntimeRefusal::new(
                    400,
                    "InvalidRequestFormat",
                    "Request body is not valid JSON",
                )
            })?
        };
        let (mut invoke, mut shutdown) = (false, false);
        for e in body["events"].as_array().into_iter().flatten() {
            match e.as_str() {
                Some("INVOKE") => invoke = true,
                Some("SHUTDOWN") => shutdown = true,
                other => {
                    return Err(forbidden(
                        "Extension.InvalidEventType",
                        format!("Invalid event type: {}", other.unwrap_or_default()),
                    ));
                }
            }
        }
        let id = crate::runtime::uuid();
        s.registered.push(Registered {
            id: id.clone(),
            name,
            invoke,
            shutdown,
            events: VecDeque::new(),
            waiting: false,
            ready: false,
            exited: false,
        });
        let mut answer = serde_json::json!({
            "functionName": s.info.name,
            "functionVersion": s.info.version,
            "handler": s.info.handler,
        });
        if r.accept_feature
            .is_some_and(|f| f.split(',').any(|f| f.trim() == "accountId"))
        {
            answer["accountId"] = s.info.account.clone().into();
        }
        Ok((id, Bytes::from(answer.to_string())))
    }

    fn find<'a>(s: &'a mut State, id: Option<&str>) -> Result<&'a mut Registered, RuntimeRefusal> {
        let Some(id) = id.filter(|i| !i.is_empty()) else {
            return Err(forbidden(
                "Extension.MissingExtensionIdentifier",
                "Missing Lambda-Extension-Identifier header",
            ));
        };
        s.registered.iter_mut().find(|e| e.id == id).ok_or_else(|| {
            forbidden(
                "Extension.UnknownExtensionIdentifier",
                format!("Unknown extension identifier: {id}"),
            )
        })
    }

    pub async fn next(&self, id: Option<&str>) -> Result<Bytes, RuntimeRefusal> {
        loop {
            let notified = self.event.notified();
            {
                let mut s = self.state.lock().unwrap();
                let e = Self::find(&mut s, id)?;
                e.ready = true;
                if let Some(event) = e.events.pop_front() {
                    e.waiting = false;
                    return Ok(event);
                }
                e.waiting = true;
            }
            notified.await;
        }
    }

    /// An init/error or exit/error post: fails the init while it lasts, and makes the
    /// environment unfit for reuse after it.
    pub fn error(
        &self,
        id: Option<&str>,
        exit: bool,
        error: ReportedError,
    ) -> Result<(), RuntimeRefusal> {
        let mut s = self.state.lock().unwrap();
        let e = Self::find(&mut s, id)?;
        let name = e.name.clone();
        let fallback = if exit {
            "Extension.ExitError"
        } else {
            "Extension.InitError"
        };
        let error_type = error
            .error_type
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| fallback.to_owned());
        let posted = serde_json::from_slice::<serde_json::Value>(&error.body)
            .ok()
            .and_then(|v| v["errorMessage"].as_str().map(str::to_owned));
        let message = match posted {
            Some(m) => format!("RequestId: <request-id> Error: {m}"),
            None => {
                format!("RequestId: <request-id> Error: extension {name} reported {error_type}")
            }
        };
        if s.settled() {
            s.broken = true;
        } else if s.failure.is_none() {
            s.failure = Some(error_body(&error_type, &message));
        }
        Ok(())
    }

    /// An extension's process ended.
    pub fn exited(&self, name: &str, status: Option<String>) {
        let mut s = self.state.lock().unwrap();
        let shutting_down = s.shutting_down;
        if let Some(e) = s.registered.iter_mut().find(|e| e.name == name) {
            e.exited = true;
        }
        if shutting_down {
            return;
        }
        if s.settled() {
            s.broken = true;
        } else if s.failure.is_none() {
            let status = status.unwrap_or_else(|| "exited".into());
            s.failure = Some(error_body(
                "Extension.Crash",
                &format!("RequestId: <request-id> Error: {status}"),
            ));
        }
    }

    /// An extension could not be started at all.
    pub fn launch_failed(&self, name: &str, error: &std::io::Error) {
        let mut s = self.state.lock().unwrap();
        if s.failure.is_none() {
            s.failure = Some(error_body(
                "Extension.LaunchError",
                &format!(
                    "RequestId: <request-id> Error: fork/exec /opt/extensions/{name}: {error}"
                ),
            ));
        }
    }

    pub fn registration(&self) -> Registration {
        let s = self.state.lock().unwrap();
        if let Some(f) = &s.failure {
            return Registration::Failed(f.clone());
        }
        if s.expected
            .iter()
            .all(|n| s.registered.iter().any(|e| &e.name == n))
        {
            Registration::Complete
        } else {
            Registration::Pending
        }
    }

    /// Waits (at most `limit`) for every extension to register, then closes the
    /// registration: the runtime may start.
    pub async fn await_registration(&self, limit: Duration) -> Result<(), ReportedError> {
        let until = tokio::time::Instant::now() + limit;
        loop {
            match self.registration() {
                Registration::Complete => {
                    self.state.lock().unwrap().closed = true;
                    return Ok(());
                }
                Registration::Failed(e) => return Err(e),
                Registration::Pending => {}
            }
            if tokio::time::Instant::now() >= until {
                let mut s = self.state.lock().unwrap();
                let missing: Vec<String> = s
                    .expected
                    .iter()
                    .filter(|n| !s.registered.iter().any(|e| &e.name == *n))
                    .cloned()
                    .collect();
                let failure = error_body(
                    "Extension.InitError",
                    &format!(
                        "RequestId: <request-id> Error: extensions did not register within {} s: {}",
                        limit.as_secs(),
                        missing.join(", ")
                    ),
                );
                s.failure = Some(failure.clone());
                return Err(failure);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Whether the extensions' init is over (trivially, without extensions).
    pub fn settled(&self) -> bool {
        let s = self.state.lock().unwrap();
        s.expected.is_empty() || s.settled()
    }

    /// Waits (at most `limit`) until the extensions' init is over, or one of them failed
    /// it (which the runtime's own init cannot undo).
    pub async fn await_settled(&self, limit: Duration) -> Result<(), ReportedError> {
        let until = tokio::time::Instant::now() + limit;
        loop {
            {
                let s = self.state.lock().unwrap();
                if let Some(f) = &s.failure {
                    return Err(f.clone());
                }
                if s.settled() {
                    return Ok(());
                }
            }
            if tokio::time::Instant::now() >= until {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// The runtime fetched an invocation: INVOKE for the extensions that asked for it.
    pub fn invoke(&self, request_id: &str, deadline_ms: i64, arn: &str, trace: Option<&str>) {
        let mut s = self.state.lock().unwrap();
        let mut event = serde_json::json!({
            "eventType": "INVOKE",
            "deadlineMs": deadline_ms,
            "requestId": request_id,
            "invokedFunctionArn": arn,
        });
        if let Some(t) = trace {
            event["tracing"] = serde_json::json!({"type": "X-Amzn-Trace-Id", "value": t});
        }
        let event = Bytes::from(event.to_string());
        let mut any = false;
        for e in s.registered.iter_mut().filter(|e| e.invoke && !e.exited) {
            e.events.push_back(event.clone());
            any = true;
        }
        drop(s);
        if any {
            self.event.notify_waiters();
        }
    }

    /// Whether every INVOKE-registered extension is done with its events (has asked for
    /// the next one).
    pub fn idle(&self) -> bool {
        let s = self.state.lock().unwrap();
        s.registered
            .iter()
            .filter(|e| e.invoke && !e.exited)
            .all(|e| e.events.is_empty() && e.waiting)
    }

    pub fn broken(&self) -> bool {
        self.state.lock().unwrap().broken
    }

    /// Sends SHUTDOWN to the extensions that registered for it: whether any did (and so
    /// is worth waiting for).
    pub fn shutdown(&self, reason: &str, deadline_ms: i64) -> bool {
        let mut s = self.state.lock().unwrap();
        s.shutting_down = true;
        let event = Bytes::from(
            serde_json::json!({
                "eventType": "SHUTDOWN",
                "shutdownReason": reason,
                "deadlineMs": deadline_ms,
            })
            .to_string(),
        );
        let mut any = false;
        for e in s.registered.iter_mut().filter(|e| e.shutdown && !e.exited) {
            e.events.clear();
            e.events.push_back(event.clone());
            any = true;
        }
        drop(s);
        self.event.notify_waiters();
        any
    }

    /// Waits (at most `limit`) for the SHUTDOWN-registered extensions to exit or to ask
    /// for an event after SHUTDOWN.
    pub async fn await_shutdown(&self, limit: Duration) {
        let until = tokio::time::Instant::now() + limit;
        while tokio::time::Instant::now() < until {
            let done = {
                let s = self.state.lock().unwrap();
                s.registered
                    .iter()
                    .filter(|e| e.shutdown)
                    .all(|e| e.exited || (e.events.is_empty() && e.waiting))
            };
            if done {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn put(dir: &std::path::Path, name: &str, mode: u32) {
        let p = dir.join("extensions").join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn later_layers_hide_earlier_extensions_and_plain_files_are_skipped() {
        let root = std::env::temp_dir().join(format!("nephos-ext-test-{}", std::process::id()));
        let (early, late) = (root.join("early"), root.join("late"));
        put(&early, "shared", 0o755);
        put(&early, "only-early", 0o755);
        put(&early, "not-executable", 0o644);
        put(&late, "shared", 0o755);
        // Layers come last one first.
        let found = discover(&[late.clone(), early.clone()]);
        let names: Vec<_> = found.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["only-early", "shared"]);
        assert!(found[1].path.starts_with(&late));
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn extensions_do_not_see_the_runtime_only_variables() {
        let runtime = vec![
            ("_HANDLER".to_owned(), "index.handler".to_owned()),
            ("LAMBDA_TASK_ROOT".to_owned(), "/var/task".to_owned()),
            ("AWS_REGION".to_owned(), "us-east-1".to_owned()),
        ];
        assert_eq!(
            vars(&runtime),
            vec![("AWS_REGION".to_owned(), "us-east-1".to_owned())]
        );
    }

    #[tokio::test]
    async fn invoke_events_go_to_registered_extensions_until_they_ask_again() {
        let ext = Extensions::new(
            &[Extension {
                name: "rec".into(),
                path: "/opt/extensions/rec".into(),
            }],
            FunctionInfo::default(),
        );
        let reg = |name: &str| ExtensionRegistration {
            name: Some(name.into()),
            accept_feature: None,
            body: Bytes::from_static(br#"{"events":["INVOKE"]}"#),
        };
        assert_eq!(
            ext.register(reg("other")).unwrap_err().error_type,
            "Extension.InvalidExtensionName"
        );
        let (id, _) = ext.register(reg("rec")).unwrap();
        assert!(ext.await_registration(Duration::from_secs(1)).await.is_ok());
        assert!(!ext.idle());
        ext.invoke("req-1", 0, "arn", None);
        let event: serde_json::Value =
            serde_json::from_slice(&ext.next(Some(&id)).await.unwrap()).unwrap();
        assert_eq!(event["requestId"], "req-1");
        assert!(!ext.idle());
        let again = ext.next(Some(&id));
        tokio::pin!(again);
        assert!(poll_once(again.as_mut()).await.is_none());
        assert!(ext.idle());
        assert_eq!(
            ext.next(Some("nope")).await.unwrap_err().error_type,
            "Extension.UnknownExtensionIdentifier"
        );
    }

    /// Polls a future once: `None` while it is pending.
    async fn poll_once<F: std::future::Future + Unpin>(f: F) -> Option<F::Output> {
        tokio::select! {
            biased;
            v = f => Some(v),
            _ = std::future::ready(()) => None,
        }
    }
}
