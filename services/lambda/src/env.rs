//! Execution environments: one runtime process each, with its own Runtime API endpoint.
//!
//! An environment is a process group started from the function's runtime (nephos's
//! bootstrap for Python and Node.js, the package's `bootstrap` for custom runtimes) with
//! an environment built from nothing (never nephos's own), talking to a Runtime API served
//! on a loopback port of its own. It takes one invocation at a time: the invoker offers
//! it through [`EnvHandler`], the runtime fetches it with `invocation/next` and posts the
//! result, and the invoker wakes on that result, the process's exit or the timeout.
//! stdout and stderr share one pipe (their lines stay in order), read without blocking
//! when an invocation ends, so every line printed before the result belongs to it.
//! A runtime that streams its result hands the invoker a [`Stream`] of its parts instead,
//! read to its end by the invoker.
//!
//! A function with external extensions (`/opt/extensions/*` from its layers) has them
//! started first, in the same process group and on the same API listener; the runtime
//! follows once every one has registered (see [`crate::extensions`]).

use crate::extensions::{self, Extension, Extensions};
use bytes::Bytes;
use nephos_core::BoxFuture;
use nephos_core::runtime::{
    ExtensionRegistration, NextInvocation, ReportedError, RuntimeHandler, RuntimeRefusal,
    RuntimeServer, ServeGuard, StreamPart, StreamSink,
};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{Notify, oneshot};

/// How an invocation ended.
#[derive(Debug)]
pub enum Outcome {
    Response(Bytes),
    /// The runtime streams its response: the invoker reads it to its end (only between
    /// the environment and the invoker; callers see the outcome it ends with).
    Streaming(Stream),
    /// The handler failed (`invocation/<id>/error`).
    Error(ReportedError),
    /// The runtime could not start (`init/error`).
    InitError(ReportedError),
    /// The process ended before answering (its exit status as text, or `None`).
    Exited(Option<String>),
    /// The process ended before it fetched the invocation: nothing of it ran, so it can
    /// go to another environment.
    Unfetched,
}

/// A streamed response as it arrives from the runtime.
pub struct Stream {
    /// The `Content-Type` the runtime posted it with (`application/octet-stream` unless
    /// set; `application/vnd.awslambda.http-integration-response` with a prelude).
    pub content_type: Option<String>,
    pub parts: tokio::sync::mpsc::Receiver<StreamPart>,
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Stream({:?})", self.content_type)
    }
}

/// How many parts may wait for a slow caller before the runtime's writes wait too.
const STREAM_BACKLOG: usize = 16;

#[derive(Default)]
struct Slot {
    /// Offered, not yet fetched by `next`.
    offered: Option<NextInvocation>,
    /// The invocation in progress and where its outcome goes.
    current: Option<(String, oneshot::Sender<Outcome>)>,
    /// Told when the runtime fetches the offered invocation (its init is over).
    fetched: Option<oneshot::Sender<std::time::Instant>>,
    /// An init error posted before any invocation was fetched.
    init_error: Option<ReportedError>,
    ended: bool,
    /// Whether the runtime has fetched an invocation before (its init succeeded).
    served: bool,
    /// The runtime has asked for its next invocation (its init is over).
    waiting: bool,
    exit_status: Option<String>,
}

/// The service side of one environment's Runtime API.
pub struct EnvHandler {
    slot: Mutex<Slot>,
    offered: Notify,
    /// The environment's external extensions (none for most functions).
    pub ext: Extensions,
}

impl EnvHandler {
    fn new(ext: Extensions) -> Arc<EnvHandler> {
        Arc::new(EnvHandler {
            slot: Mutex::new(Slot::default()),
            offered: Notify::new(),
            ext,
        })
    }

    /// Hands `inv` to the runtime: the receivers learn when the runtime fetched it and
    /// how it ended.
    pub fn offer(
        &self,
        inv: NextInvocation,
    ) -> (
        oneshot::Receiver<std::time::Instant>,
        oneshot::Receiver<Outcome>,
    ) {
        let (tx, rx) = oneshot::channel();
        let (fetched_tx, fetched_rx) = oneshot::channel();
        let mut slot = self.slot.lock().unwrap();
        if let Some(e) = slot.init_error.take() {
            let _ = tx.send(Outcome::InitError(e));
            return (fetched_rx, rx);
        }
        if slot.ended {
            let outcome = if slot.served {
                Outcome::Unfetched
            } else {
                Outcome::Exited(slot.exit_status.clone())
            };
            let _ = tx.send(outcome);
            return (fetched_rx, rx);
        }
        slot.current = Some((inv.request_id.clone(), tx));
        slot.offered = Some(inv);
        slot.fetched = Some(fetched_tx);
        drop(slot);
        self.offered.notify_one();
        (fetched_rx, rx)
    }

    /// Waits (at most `limit`) for the runtime to finish its init and ask for an
    /// invocation: whether it did (a provisioned environment is then ready).
    pub async fn ready(&self, limit: std::time::Duration) -> bool {
        let until = std::time::Instant::now() + limit;
        loop {
            {
                let slot = self.slot.lock().unwrap();
                if slot.ended || slot.init_error.is_some() {
                    return false;
                }
                if slot.waiting && self.ext.settled() {
                    return true;
                }
            }
            if std::time::Instant::now() >= until {
                return false;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// The process is gone: whatever waits learns it.
    fn ended(&self, status: Option<String>) {
        let mut slot = self.slot.lock().unwrap();
        slot.ended = true;
        if slot.exit_status.is_none() {
            slot.exit_status = status.clone();
        }
        // A warm runtime that died between invocations: the next one never reached it.
        // A cold one that died in its init reports that instead.
        let unfetched = slot.offered.take().is_some() && slot.served;
        slot.fetched = None;
        if let Some((_, tx)) = slot.current.take() {
            let outcome = match slot.init_error.take() {
                Some(e) => Outcome::InitError(e),
                None if unfetched => Outcome::Unfetched,
                None => Outcome::Exited(status),
            };
            let _ = tx.send(outcome);
        }
        drop(slot);
        self.offered.notify_waiters();
    }

    fn finish(&self, request_id: &str, outcome: Outcome) -> Result<(), RuntimeRefusal> {
        let mut slot = self.slot.lock().unwrap();
        match slot.current.take() {
            Some((id, tx)) if id == request_id => {
                let _ = tx.send(outcome);
                Ok(())
            }
            other => {
                slot.current = other;
                Err(RuntimeRefusal::new(
                    400,
                    "InvalidRequestID",
                    format!("Invalid request ID: {request_id}"),
                ))
            }
        }
    }
}

impl RuntimeHandler for EnvHandler {
    fn next(&self) -> BoxFuture<'_, Option<NextInvocation>> {
        Box::pin(async move {
            loop {
                let notified = self.offered.notified();
                let unsettled = {
                    let mut slot = self.slot.lock().unwrap();
                    if slot.ended {
                        return None;
                    }
                    slot.waiting = true;
                    // The invocation starts once the extensions' init is over too.
                    let unsettled = slot.offered.is_some() && !self.ext.settled();
                    if !unsettled && let Some(mut inv) = slot.offered.take() {
                        // Offered with the timeout; the deadline runs from now.
                        inv.deadline_ms += wall_ms();
                        slot.served = true;
                        if let Some(f) = slot.fetched.take() {
                            let _ = f.send(std::time::Instant::now());
                        }
                        drop(slot);
                        self.ext.invoke(
                            &inv.request_id,
                            inv.deadline_ms,
                            &inv.function_arn,
                            inv.trace_id.as_deref(),
                        );
                        return Some(inv);
                    }
                    unsettled
                };
                if unsettled {
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                } else {
                    notified.await;
                }
            }
        })
    }

    fn response(&self, request_id: &str, body: Bytes) -> Result<(), RuntimeRefusal> {
        self.finish(request_id, Outcome::Response(body))
    }

    fn response_stream(
        &self,
        request_id: &str,
        content_type: Option<String>,
    ) -> Result<StreamSink, RuntimeRefusal> {
        let (tx, parts) = tokio::sync::mpsc::channel(STREAM_BACKLOG);
        self.finish(
            request_id,
            Outcome::Streaming(Stream {
                content_type,
                parts,
            }),
        )?;
        Ok(tx)
    }

    fn error(&self, request_id: &str, error: ReportedError) -> Result<(), RuntimeRefusal> {
        self.finish(request_id, Outcome::Error(error))
    }

    fn init_error(&self, error: ReportedError) -> Result<(), RuntimeRefusal> {
        let mut slot = self.slot.lock().unwrap();
        match slot.current.take() {
            Some((_, tx)) => {
                slot.offered = None;
                slot.fetched = None;
                let _ = tx.send(Outcome::InitError(error));
            }
            None => slot.init_error = Some(error),
        }
        Ok(())
    }

    fn extension_register(
        &self,
        registration: ExtensionRegistration,
    ) -> Result<(String, Bytes), RuntimeRefusal> {
        self.ext.register(registration)
    }

    fn extension_next(&self, id: Option<&str>) -> BoxFuture<'_, Result<Bytes, RuntimeRefusal>> {
        let id = id.map(str::to_owned);
        Box::pin(async move { self.ext.next(id.as_deref()).await })
    }

    fn extension_error(
        &self,
        id: Option<&str>,
        exit: bool,
        error: ReportedError,
    ) -> Result<(), RuntimeRefusal> {
        self.ext.error(id, exit, error)
    }
}

/// A small shell process that outlives nephos by a moment: nephos tells it each
/// environment's process group, and when nephos's end of the pipe closes without a
/// goodbye (nephos was killed, even by `kill -9`), it kills every group still listed, so
/// no function or its children outlive nephos.
struct Watchdog(std::process::ChildStdin);

const WATCHDOG: &str = r#"groups=" "
while read -r line; do
  case "$line" in
    exit) exit 0 ;;
    +*) groups="$groups${line#+} " ;;
    -*) groups=$(printf '%s' "$groups" | sed "s/ ${line#-} / /") ;;
  esac
done
# dash's built-in kill cannot signal a process group; procps's can.
for g in $groups; do /bin/kill -s KILL -- "-$g" 2>/dev/null || kill -9 "$g" 2>/dev/null; done"#;

static WATCHDOG_PIPE: Mutex<Option<Watchdog>> = Mutex::new(None);

fn tell_watchdog(line: &str) {
    use std::io::Write;
    use std::os::unix::process::CommandExt;
    let mut guard = WATCHDOG_PIPE.lock().unwrap_or_else(|e| e.into_inner());
    if guard.is_none() && line.starts_with('+') {
        let child = std::process::Command::new("/bin/sh")
            .args(["-c", WATCHDOG])
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .process_group(0)
            .spawn();
        match child {
            Ok(mut c) => *guard = c.stdin.take().map(Watchdog),
            Err(e) => tracing::warn!(error = %e, "cannot start the Lambda watchdog"),
        }
    }
    if let Some(w) = guard.as_mut()
        && writeln!(w.0, "{line}").is_err()
    {
        *guard = None;
    }
}

/// Process groups whose extensions are in their SHUTDOWN grace period.
static IN_GRACE: Mutex<Vec<rustix::process::Pid>> = Mutex::new(Vec::new());

/// Tells the watchdog nephos is ending cleanly (it has ended every environment itself):
/// extensions still in their SHUTDOWN grace period get the rest of it first (the
/// Extensions API is served from the runtime's other threads meanwhile), then their
/// groups are killed.
pub fn dismiss_watchdog() {
    let until = std::time::Instant::now() + extensions::SHUTDOWN_GRACE;
    while !IN_GRACE.lock().unwrap().is_empty() && std::time::Instant::now() < until {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    for pgid in std::mem::take(&mut *IN_GRACE.lock().unwrap()) {
        kill_group(Some(pgid));
    }
    tell_watchdog("exit");
    *WATCHDOG_PIPE.lock().unwrap_or_else(|e| e.into_inner()) = None;
}

/// What to start.
pub struct Launch {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub cwd: PathBuf,
    /// The whole environment of the process (nothing is inherited).
    pub vars: Vec<(String, String)>,
    /// The environment's own directory (its TMPDIR), removed with it.
    pub scratch: PathBuf,
    /// External extensions, started before the program, with their environment.
    pub extensions: Vec<Extension>,
    pub extension_vars: Vec<(String, String)>,
    /// What the Extensions API's register call answers.
    pub function: extensions::FunctionInfo,
    /// How long extensions have to register.
    pub init_limit: std::time::Duration,
    /// The environment's own namespace (`None` where the machine refuses one).
    pub sandbox: Option<crate::sandbox::Plan>,
}

/// A running environment.
pub struct Env {
    pub handler: Arc<EnvHandler>,
    pgid: Option<rustix::process::Pid>,
    /// The runtime's own process (0 until it is started: after the extensions).
    runtime_pid: Arc<AtomicI32>,
    output: Arc<Output>,
    scratch: PathBuf,
    dead: AtomicBool,
    /// The extensions' grace period goes on in the background (it removes `scratch`).
    deferred: AtomicBool,
    /// Kept until the extensions are done with SHUTDOWN.
    serve: Mutex<Option<ServeGuard>>,
    /// When the process was started (REPORT's Init Duration on a cold start).
    pub started: std::time::Instant,
    /// The process group's members, and when they were last listed.
    members: Mutex<(Option<std::time::Instant>, Vec<i32>)>,
}

/// The output pipe and the text read from it so far.
struct Output {
    pipe: tokio::net::unix::pipe::Receiver,
    text: Mutex<Vec<u8>>,
}

impl Output {
    /// Reads whatever the pipe holds now, without waiting. `false` once it is closed.
    fn drain(&self) -> bool {
        let mut text = self.text.lock().unwrap();
        let mut buf = [0u8; 16 * 1024];
        loop {
            match self.pipe.try_read(&mut buf) {
                Ok(0) => return false,
                Ok(n) => {
                    // One runaway environment cannot fill memory with output nobody reads.
                    if text.len() < 8 * 1024 * 1024 {
                        text.extend_from_slice(&buf[..n]);
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return true,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return false,
            }
        }
    }
}

impl Env {
    /// Starts the process with its Runtime API (after the extensions, if any); fails when
    /// it cannot be started at all.
    pub fn start(launch: Launch, server: &dyn RuntimeServer) -> std::io::Result<Arc<Env>> {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
        let addr = listener.local_addr()?.to_string();
        let handler = EnvHandler::new(Extensions::new(&launch.extensions, launch.function.clone()));
        let serve = server.serve(listener, handler.clone());
        std::fs::create_dir_all(&launch.scratch)?;
        let (reader, writer) = std::io::pipe()?;
        // The first process started leads the group; the others join it.
        let mut pgid = None;
        for e in &launch.extensions {
            let join = pgid.map(|p: rustix::process::Pid| p.as_raw_nonzero().get());
            let mut cmd = sandboxed(launch.sandbox.as_ref(), &e.path, &[], join);
            cmd.current_dir(&launch.cwd)
                .env_clear()
                .envs(launch.extension_vars.iter().map(|(k, v)| (k, v)))
                .env("AWS_LAMBDA_RUNTIME_API", &addr)
                .stdin(std::process::Stdio::null())
                .stdout(writer.try_clone()?)
                .stderr(writer.try_clone()?)
                .process_group(pgid.map_or(0, |p: rustix::process::Pid| p.as_raw_nonzero().get()))
                .kill_on_drop(true);
            let mut child = match cmd.spawn() {
                Ok(c) => c,
                Err(err) => {
                    handler.ext.launch_failed(&e.name, &err);
                    break;
                }
            };
            if pgid.is_none() {
                pgid = child
                    .id()
                    .and_then(|id| rustix::process::Pid::from_raw(id as i32));
                if let Some(p) = pgid {
                    tell_watchdog(&format!("+{}", p.as_raw_nonzero()));
                }
            }
            let (handler, name) = (handler.clone(), e.name.clone());
            tokio::spawn(async move {
                let status = exit_text(child.wait().await);
                handler.ext.exited(&name, status);
            });
        }
        let output = Arc::new(Output {
            pipe: tokio::net::unix::pipe::Receiver::from_owned_fd(reader.into())?,
            text: Mutex::new(Vec::new()),
        });
        let runtime_pid = Arc::new(AtomicI32::new(0));
        let runtime = Runtime {
            program: launch.program,
            args: launch.args,
            cwd: launch.cwd.clone(),
            vars: launch.vars,
            addr,
            writer,
            sandbox: launch.sandbox,
        };
        if launch.extensions.is_empty() {
            let child = runtime.spawn(None)?;
            pgid = child
                .id()
                .and_then(|id| rustix::process::Pid::from_raw(id as i32));
            if let Some(p) = pgid {
                tell_watchdog(&format!("+{}", p.as_raw_nonzero()));
                runtime_pid.store(p.as_raw_nonzero().get(), Ordering::Relaxed);
            }
            tokio::spawn(watch_runtime(child, handler.clone()));
        } else {
            let (handler, runtime_pid) = (handler.clone(), runtime_pid.clone());
            let limit = launch.init_limit;
            tokio::spawn(async move {
                if let Err(e) = handler.ext.await_registration(limit).await {
                    let _ = handler.init_error(e);
                    handler.ended(None);
                    return;
                }
                match runtime.spawn(pgid) {
                    Ok(child) => {
                        if let Some(id) = child.id() {
                            runtime_pid.store(id as i32, Ordering::Relaxed);
                        }
                        tokio::spawn(watch_runtime(child, handler.clone()));
                        // An extension may still fail the init until it asks for its
                        // first event.
                        if let Err(e) = handler.ext.await_settled(limit).await {
                            let _ = handler.init_error(e);
                            handler.ended(None);
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "starting a runtime after its extensions failed");
                        handler.ended(Some(e.to_string()));
                    }
                }
            });
        }
        let env = Arc::new(Env {
            handler,
            pgid,
            runtime_pid,
            output: output.clone(),
            scratch: launch.scratch,
            dead: AtomicBool::new(false),
            deferred: AtomicBool::new(false),
            serve: Mutex::new(Some(serve)),
            started: std::time::Instant::now(),
            members: Mutex::new((None, Vec::new())),
        });
        tokio::spawn(async move {
            loop {
                if output.pipe.readable().await.is_err() {
                    return;
                }
                if !output.drain() {
                    return;
                }
            }
        });
        Ok(env)
    }

    /// The text the process wrote since the last call.
    pub fn take_output(&self) -> Vec<u8> {
        self.output.drain();
        std::mem::take(&mut *self.output.text.lock().unwrap())
    }

    /// The runtime's process (the group's leader when there are no extensions).
    pub fn pid(&self) -> Option<i32> {
        match self.runtime_pid.load(Ordering::Relaxed) {
            0 => self.pgid.map(|p| p.as_raw_nonzero().get()),
            pid => Some(pid),
        }
    }

    /// The peak memory of the environment's processes (the runtime, its extensions and
    /// whatever they started), in MB, for REPORT's Max Memory Used. AWS measures the
    /// sandbox's cgroup; the sum of each process's peak RSS is the nearest a process
    /// group gets without one. Members are listed from /proc at most once a second,
    /// which keeps the scan off the warm path.
    pub fn peak_memory_mb(&self) -> u64 {
        let pids = {
            let mut m = self.members.lock().unwrap();
            if m.0
                .is_none_or(|t| t.elapsed() > std::time::Duration::from_secs(1))
            {
                m.1 = match self.pgid {
                    Some(g) => group_members(g.as_raw_nonzero().get()),
                    None => self.pid().into_iter().collect(),
                };
                m.0 = Some(std::time::Instant::now());
            }
            m.1.clone()
        };
        let kb: u64 = pids.iter().filter_map(|pid| peak_rss_kb(*pid)).sum();
        kb.div_ceil(1024)
    }

    pub fn is_dead(&self) -> bool {
        self.dead.load(Ordering::Relaxed)
            || self.handler.slot.lock().unwrap().ended
            || self.handler.ext.broken()
    }

    /// Whether the extensions are done with the last invocation (the environment may
    /// take the next one).
    pub fn extensions_idle(&self) -> bool {
        self.handler.ext.idle()
    }

    /// Ends the whole process group now (after SHUTDOWN to the extensions that asked for
    /// it, which get a moment to finish: the runtime ends at once).
    pub fn kill(&self) {
        let reason = if self.handler.slot.lock().unwrap().ended {
            "failure"
        } else {
            "spindown"
        };
        self.shutdown(reason);
    }

    /// Ends the environment, telling its extensions why (`spindown`, `timeout`,
    /// `failure`): whether their grace period (and the scratch directory's removal) goes
    /// on in the background.
    pub fn shutdown(&self, reason: &str) -> bool {
        if self.dead.swap(true, Ordering::Relaxed) {
            return false;
        }
        let runtime = self.runtime_pid.load(Ordering::Relaxed);
        let group_leader = self.pgid.map(|p| p.as_raw_nonzero().get());
        if runtime != 0
            && Some(runtime) != group_leader
            && let Some(pid) = rustix::process::Pid::from_raw(runtime)
        {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
        self.handler.ended(None);
        let deadline = wall_ms() + extensions::SHUTDOWN_GRACE.as_millis() as i64;
        let graceful = !self.handler.ext.is_empty()
            && self.handler.ext.shutdown(reason, deadline)
            && tokio::runtime::Handle::try_current().is_ok();
        if !graceful {
            kill_group(self.pgid);
            return false;
        }
        let handler = self.handler.clone();
        let pgid = self.pgid;
        let serve = self.serve.lock().unwrap().take();
        let scratch = self.scratch.clone();
        self.deferred.store(true, Ordering::Relaxed);
        if let Some(p) = pgid {
            IN_GRACE.lock().unwrap().push(p);
        }
        tokio::spawn(async move {
            handler.ext.await_shutdown(extensions::SHUTDOWN_GRACE).await;
            IN_GRACE.lock().unwrap().retain(|p| Some(*p) != pgid);
            kill_group(pgid);
            drop(serve);
            let _ = std::fs::remove_dir_all(&scratch);
        });
        true
    }
}

/// The processes of a process group (field 5 of /proc/<pid>/stat).
fn group_members(pgid: i32) -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return vec![pgid];
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                // The command name may hold spaces and parentheses: fields follow the last ')'.
                stat.rsplit_once(')')
                    .and_then(|(_, rest)| rest.split_whitespace().nth(2)?.parse::<i32>().ok())
                    == Some(pgid)
            })
        })
        .collect()
}

fn peak_rss_kb(pid: i32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn kill_group(pgid: Option<rustix::process::Pid>) {
    if let Some(pgid) = pgid {
        let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL);
        tell_watchdog(&format!("-{}", pgid.as_raw_nonzero()));
    }
}

/// The runtime's command, kept until the extensions have registered.
struct Runtime {
    program: PathBuf,
    args: Vec<String>,
    cwd: PathBuf,
    vars: Vec<(String, String)>,
    addr: String,
    writer: std::io::PipeWriter,
    sandbox: Option<crate::sandbox::Plan>,
}

/// The command that starts `program` in the environment's namespace (a new one, or that
/// of the process `join`), or directly where there is none.
fn sandboxed(
    plan: Option<&crate::sandbox::Plan>,
    program: &std::path::Path,
    args: &[String],
    join: Option<i32>,
) -> tokio::process::Command {
    match plan {
        Some(plan) => {
            let (launcher, args) = plan.command(program, args, join);
            let mut cmd = tokio::process::Command::new(launcher);
            cmd.args(args);
            cmd
        }
        None => {
            let mut cmd = tokio::process::Command::new(program);
            cmd.args(args);
            cmd
        }
    }
}

impl Runtime {
    fn spawn(self, pgid: Option<rustix::process::Pid>) -> std::io::Result<tokio::process::Child> {
        let join = pgid.map(|p| p.as_raw_nonzero().get());
        let mut cmd = sandboxed(self.sandbox.as_ref(), &self.program, &self.args, join);
        cmd.current_dir(&self.cwd)
            .env_clear()
            .envs(self.vars.iter().map(|(k, v)| (k, v)))
            .env("AWS_LAMBDA_RUNTIME_API", &self.addr)
            .stdin(std::process::Stdio::null())
            .stdout(self.writer.try_clone()?)
            .stderr(self.writer)
            .process_group(pgid.map_or(0, |p| p.as_raw_nonzero().get()))
            .kill_on_drop(true);
        // The parent's copies of the write end are gone with `cmd`: the pipe closes when
        // the process group's last writer exits.
        cmd.spawn()
    }
}

async fn watch_runtime(mut child: tokio::process::Child, handler: Arc<EnvHandler>) {
    let status = exit_text(child.wait().await);
    handler.ended(status);
}

fn exit_text(status: std::io::Result<std::process::ExitStatus>) -> Option<String> {
    status.ok().and_then(|s| match (s.code(), s.signal()) {
        (Some(c), _) => Some(format!("exit status {c}")),
        (None, Some(sig)) => Some(format!("signal: {sig}")),
        _ => None,
    })
}

impl Drop for Env {
    fn drop(&mut self) {
        if !self.shutdown("spindown") && !self.deferred.load(Ordering::Relaxed) {
            let _ = std::fs::remove_dir_all(&self.scratch);
        }
    }
}

use std::os::unix::process::ExitStatusExt;

fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
