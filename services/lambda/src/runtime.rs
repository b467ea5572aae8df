//! Running invocations: the pool of warm environments per function version, starting
//! new ones within the concurrency limits, and the log lines each invocation writes.

use crate::Lambda;
use crate::env::{Env, Launch, Outcome};
use crate::model::{self, Config, RuntimeKind};
use bytes::Bytes;
use nephos_core::runtime::NextInvocation;
use nephos_core::{AwsError, RequestContext, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Which environments may serve an invocation: same function, version and revision.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EnvKey {
    pub account: String,
    pub region: String,
    pub function: String,
    pub version: String,
    pub revision: String,
}

/// A function version resolved for one invocation.
#[derive(Debug, Clone)]
pub struct Target {
    pub key: EnvKey,
    pub config: Config,
    /// The ARN the caller invoked (qualified as they qualified it).
    pub invoked_arn: String,
    pub reserved: Option<u32>,
    /// The function's provisioned concurrency, all versions and aliases together: carved
    /// out of its reserved concurrency.
    pub provisioned_total: u32,
    /// The invoked version or alias has provisioned concurrency of its own.
    pub provisioned_here: bool,
}

struct Worker {
    env: Arc<Env>,
    idle_since: Instant,
    /// Started for provisioned concurrency: kept warm however long it idles.
    provisioned: bool,
    /// Log lines go out in order, through one task per environment.
    logs: tokio::sync::mpsc::UnboundedSender<Vec<(i64, String)>>,
}

#[derive(Default)]
pub struct Pool {
    idle: Mutex<HashMap<EnvKey, Vec<Worker>>>,
    busy: Mutex<Busy>,
    next_id: AtomicU64,
    /// Provisioned concurrency configurations still starting their environments:
    /// (account, region, function, qualifier).
    warming: Mutex<std::collections::HashSet<(String, String, String, String)>>,
}

#[derive(Default)]
struct Busy {
    total: u32,
    by_function: HashMap<(String, String, String), u32>,
}

/// What one invocation produced.
pub struct Result_ {
    pub outcome: Outcome,
    pub request_id: String,
    pub log_tail: String,
}

fn too_many(reason: &str) -> AwsError {
    AwsError::new(429, "TooManyRequestsException", "Rate Exceeded.")
        .with_field("Reason", reason)
        .with_field("Type", "User")
}

impl Pool {
    fn reserve(&self, t: &Target, limit: u32) -> Result<(), AwsError> {
        let mut busy = self.busy.lock().unwrap();
        let fkey = (
            t.key.account.clone(),
            t.key.region.clone(),
            t.key.function.clone(),
        );
        let used = busy.by_function.get(&fkey).copied().unwrap_or(0);
        // What provisioned concurrency claims of the reservation, only the versions and
        // aliases it is configured for may use.
        let available = t.reserved.map(|r| {
            if t.provisioned_here {
                r
            } else {
                r.saturating_sub(t.provisioned_total)
            }
        });
        if let Some(r) = available
            && used >= r
        {
            return Err(too_many(
                "ReservedFunctionConcurrentInvocationLimitExceeded",
            ));
        }
        if busy.total >= limit {
            return Err(too_many("ConcurrentInvocationLimitExceeded"));
        }
        busy.total += 1;
        *busy.by_function.entry(fkey).or_default() += 1;
        Ok(())
    }

    fn unreserve(&self, t: &Target) {
        let mut busy = self.busy.lock().unwrap();
        busy.total = busy.total.saturating_sub(1);
        let fkey = (
            t.key.account.clone(),
            t.key.region.clone(),
            t.key.function.clone(),
        );
        if let Some(n) = busy.by_function.get_mut(&fkey) {
            *n = n.saturating_sub(1);
        }
    }

    /// Ends the idle environments of a function (its code or configuration changed, or
    /// it was deleted); busy ones end when their invocation does, as their key is stale.
    pub fn retire(&self, account: &str, region: &str, function: &str) {
        self.idle
            .lock()
            .unwrap()
            .retain(|k, _| !(k.account == account && k.region == region && k.function == function));
    }

    pub fn clear(&self) {
        self.idle.lock().unwrap().clear();
    }

    /// Ends environments idle for longer than `max_idle` (provisioned ones stay).
    pub fn reap(&self, max_idle: Duration) {
        let mut idle = self.idle.lock().unwrap();
        for workers in idle.values_mut() {
            workers.retain(|w| {
                (w.provisioned || w.idle_since.elapsed() < max_idle) && !w.env.is_dead()
            });
        }
        idle.retain(|_, w| !w.is_empty());
    }

    /// Whether a provisioned concurrency configuration is still starting environments.
    pub fn warming(&self, account: &str, region: &str, function: &str, qualifier: &str) -> bool {
        let key = (
            account.to_owned(),
            region.to_owned(),
            function.to_owned(),
            qualifier.to_owned(),
        );
        self.warming.lock().unwrap().contains(&key)
    }

    /// A version's provisioned environments become ordinary ones (their configuration
    /// was deleted): they end once idle for long enough.
    pub fn unprovision(&self, account: &str, region: &str, function: &str) {
        let mut idle = self.idle.lock().unwrap();
        for (k, workers) in idle.iter_mut() {
            if k.account == account && k.region == region && k.function == function {
                for w in workers {
                    w.provisioned = false;
                }
            }
        }
    }
}

/// One invocation's input.
pub struct Request {
    /// The invocation's request id: Invoke's own, kept across an async event's retries.
    pub request_id: String,
    pub payload: Bytes,
    pub trace_id: Option<String>,
    pub client_context: Option<String>,
}

impl Request {
    pub fn new(payload: Bytes) -> Request {
        Request {
            request_id: uuid(),
            payload,
            trace_id: None,
            client_context: None,
        }
    }
}

/// Runs one invocation to its end.
///
/// The invocation runs in a task of its own: a caller that goes away (a client that
/// disconnects) does not cut it short, as on AWS.
///
/// A response the runtime streams is collected (within the 6 MB of a buffered response).
pub async fn run(l: &Arc<Lambda>, t: &Target, req: Request) -> Result<Result_, AwsError> {
    run_with(l, t, req, None).await
}

/// What a caller of [`run_streaming`] hears while the invocation runs, in order.
#[derive(Debug)]
pub enum Streamed {
    /// The runtime began to stream its response, posted with this `Content-Type`.
    Started(Option<String>),
    Data(Bytes),
}

/// Like [`run`], but a response the runtime streams goes to `sink` as it arrives (the
/// outcome is then `Response` with an empty body, or the error that ended the stream); a
/// buffered response comes in the outcome as usual, with nothing sent to `sink`.
pub async fn run_streaming(
    l: &Arc<Lambda>,
    t: &Target,
    req: Request,
    sink: tokio::sync::mpsc::Sender<Streamed>,
) -> Result<Result_, AwsError> {
    run_with(l, t, req, Some(sink)).await
}

async fn run_with(
    l: &Arc<Lambda>,
    t: &Target,
    req: Request,
    sink: Option<tokio::sync::mpsc::Sender<Streamed>>,
) -> Result<Result_, AwsError> {
    l.pool.reserve(t, l.settings.max_concurrency)?;
    let (lambda, target) = (l.clone(), t.clone());
    let task = tokio::spawn(async move {
        let result = run_reserved(&lambda, &target, req, sink).await;
        lambda.pool.unreserve(&target);
        result
    });
    task.await
        .map_err(|e| AwsError::internal(format!("an invocation failed: {e}")))?
}

/// AWS gives a runtime's init 10 seconds of its own, apart from the function's timeout.
const INIT_LIMIT: Duration = Duration::from_secs(10);

fn take_idle(l: &Lambda, key: &EnvKey) -> Option<Worker> {
    let mut idle = l.pool.idle.lock().unwrap();
    let ws = idle.get_mut(key)?;
    while let Some(w) = ws.pop() {
        if !w.env.is_dead() {
            return Some(w);
        }
    }
    None
}

async fn run_reserved(
    l: &Arc<Lambda>,
    t: &Target,
    req: Request,
    sink: Option<tokio::sync::mpsc::Sender<Streamed>>,
) -> Result<Result_, AwsError> {
    let request_id = req.request_id.clone();
    let trace_id = req.trace_id.clone().unwrap_or_else(new_trace_id);
    let timeout = Duration::from_secs(u64::from(t.config.timeout.max(1)));
    // A warm environment that died between invocations never saw this one: it goes to
    // another environment (a few times at most, so a crashing runtime cannot loop).
    let mut attempts = 0;
    let (worker, cold, fetched_at, outcome, timed_out) = loop {
        attempts += 1;
        let (worker, cold) = match take_idle(l, &t.key) {
            Some(w) => (w, false),
            None => match start(l, t, false).await? {
                Started::Worker(w) => (w, true),
                Started::Refused(body) => {
                    return Ok(Result_ {
                        outcome: Outcome::InitError(nephos_core::runtime::ReportedError {
                            error_type: Some("Runtime.InvalidEntrypoint".into()),
                            body: Bytes::from(body.replace("<request-id>", &request_id)),
                        }),
                        request_id,
                        log_tail: String::new(),
                    });
                }
            },
        };
        let (fetched, mut rx) = worker.env.handler.offer(NextInvocation {
            request_id: request_id.clone(),
            deadline_ms: timeout.as_millis() as i64,
            function_arn: t.invoked_arn.clone(),
            trace_id: Some(trace_id.clone()),
            client_context: req.client_context.clone(),
            cognito_identity: None,
            payload: req.payload.clone(),
        });
        // With extensions, the environment's own limit on their init (from its start)
        // speaks first, naming what failed.
        let init_limit = if worker.env.handler.ext.is_empty() {
            INIT_LIMIT
        } else {
            INIT_LIMIT + Duration::from_millis(250)
        };
        let fetched_at = tokio::select! {
            at = fetched => at.ok(),
            _ = tokio::time::sleep(init_limit) => None,
        };
        let (outcome, timed_out) = match fetched_at {
            Some(_) => match tokio::time::timeout(timeout, &mut rx).await {
                Ok(Ok(o)) => (o, false),
                Ok(Err(_)) => (Outcome::Exited(None), false),
                Err(_) => (Outcome::Exited(None), true),
            },
            None => match rx.try_recv() {
                Ok(o) => (o, false),
                // Neither fetched nor ended within the init limit.
                Err(_) => (Outcome::Exited(None), true),
            },
        };
        if matches!(outcome, Outcome::Unfetched) && attempts < 3 {
            worker.env.kill();
            continue;
        }
        break (worker, cold, fetched_at, outcome, timed_out);
    };
    // A streamed response is read to its end within the function's timeout.
    let (outcome, timed_out) = match outcome {
        Outcome::Streaming(stream) => {
            let deadline = fetched_at.unwrap_or_else(Instant::now) + timeout;
            read_stream(stream, sink.as_ref(), deadline).await
        }
        other => (other, timed_out),
    };
    let end = std::time::Instant::now();
    let invoked_at = fetched_at.unwrap_or(end);
    let elapsed = end.saturating_duration_since(invoked_at);
    let init_ms = cold.then(|| {
        invoked_at
            .saturating_duration_since(worker.env.started)
            .as_secs_f64()
            * 1000.0
    });
    let wall_start = l.clock.now_millis() - elapsed.as_millis() as i64;
    let outcome = if timed_out {
        worker.env.shutdown("timeout");
        Outcome::Error(nephos_core::runtime::ReportedError {
            error_type: Some("Sandbox.Timedout".into()),
            body: Bytes::from(
                serde_json::json!({
                    "errorType": "Sandbox.Timedout",
                    "errorMessage": format!(
                        "RequestId: {request_id} Error: Task timed out after {}.00 seconds",
                        t.config.timeout
                    ),
                })
                .to_string(),
            ),
        })
    } else if let Outcome::InitError(mut e) = outcome {
        // An extension's failure names the invocation it failed.
        if let Ok(text) = std::str::from_utf8(&e.body)
            && text.contains("<request-id>")
        {
            e.body = Bytes::from(text.replace("<request-id>", &request_id));
        }
        Outcome::InitError(e)
    } else {
        outcome
    };
    let output = worker.env.take_output();
    let max_memory = worker.env.peak_memory_mb();
    let lines = log_lines(
        t,
        &request_id,
        wall_start,
        &output,
        elapsed,
        init_ms,
        max_memory,
        timed_out,
        &outcome,
    );
    let log_tail = tail(&lines);
    let _ = worker.logs.send(lines);
    let healthy = matches!(outcome, Outcome::Response(_) | Outcome::Error(_))
        && !timed_out
        && !worker.env.is_dead();
    if healthy && l.current_revision(&t.key) {
        // The caller has its answer; the environment takes the next invocation only once
        // its extensions are done with this one (within the function's timeout).
        if worker.env.extensions_idle() {
            park(l, &t.key, worker);
        } else {
            let (l, key) = (l.clone(), t.key.clone());
            let until = Instant::now() + timeout.saturating_sub(elapsed);
            tokio::spawn(async move {
                while !worker.env.extensions_idle() {
                    if Instant::now() >= until || worker.env.is_dead() {
                        worker.env.shutdown("timeout");
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                park(&l, &key, worker);
            });
        }
    } else {
        worker.env.kill();
    }
    Ok(Result_ {
        outcome,
        request_id,
        log_tail,
    })
}

/// The largest response a buffered caller takes: AWS's 6 MB and 100 bytes.
const BUFFERED_LIMIT: usize = 6 * 1024 * 1024 + 100;
/// AWS streams the first 6 MB of a response uncapped, the rest at most at 2 MBps.
const UNCAPPED: usize = 6 * 1024 * 1024;
const CAPPED_RATE: f64 = 2.0 * 1024.0 * 1024.0;

/// Reads a streamed response to its end (by `deadline`): forwarded to `sink` as it comes,
/// or collected when there is none. Whether the deadline passed comes with the outcome.
async fn read_stream(
    mut stream: crate::env::Stream,
    sink: Option<&tokio::sync::mpsc::Sender<Streamed>>,
    deadline: Instant,
) -> (Outcome, bool) {
    use nephos_core::runtime::{ReportedError, StreamPart};
    let read = async {
        // A caller that went away hears no more; the function still runs to its end.
        let mut open = match sink {
            Some(s) => s
                .send(Streamed::Started(stream.content_type.clone()))
                .await
                .is_ok(),
            None => false,
        };
        let mut collected = Vec::new();
        let mut sent = 0usize;
        let mut capped_from: Option<Instant> = None;
        loop {
            match stream.parts.recv().await {
                Some(StreamPart::Data(data)) => match sink {
                    Some(s) => {
                        sent += data.len();
                        if open && s.send(Streamed::Data(data)).await.is_err() {
                            open = false;
                        }
                        if sent > UNCAPPED {
                            let from = *capped_from.get_or_insert_with(Instant::now);
                            let due = from
                                + Duration::from_secs_f64((sent - UNCAPPED) as f64 / CAPPED_RATE);
                            tokio::time::sleep_until(due.into()).await;
                        }
                    }
                    None if collected.len() + data.len() > BUFFERED_LIMIT => {
                        let message = format!(
                            "Response payload size exceeded maximum allowed payload size ({BUFFERED_LIMIT} bytes)."
                        );
                        return Outcome::Error(ReportedError {
                            error_type: Some("Function.ResponseSizeTooLarge".into()),
                            body: Bytes::from(
                                serde_json::json!({
                                    "errorMessage": message,
                                    "errorType": "Function.ResponseSizeTooLarge",
                                })
                                .to_string(),
                            ),
                        });
                    }
                    None => collected.extend_from_slice(&data),
                },
                Some(StreamPart::Failed(e)) => return Outcome::Error(e),
                Some(StreamPart::End) => return Outcome::Response(Bytes::from(collected)),
                // The runtime's connection broke off mid-stream (it crashed, most likely).
                None => return Outcome::Exited(None),
            }
        }
    };
    match tokio::time::timeout_at(deadline.into(), read).await {
        Ok(outcome) => (outcome, false),
        Err(_) => (Outcome::Exited(None), true),
    }
}

/// Puts an environment back among the idle ones.
fn park(l: &Lambda, key: &EnvKey, mut w: Worker) {
    w.idle_since = Instant::now();
    l.pool
        .idle
        .lock()
        .unwrap()
        .entry(key.clone())
        .or_default()
        .push(w);
}

/// An X-Ray trace header for an invocation whose caller sent none (AWS always sets one).
fn new_trace_id() -> String {
    let secs = wall_ms() / 1000;
    let a: [u8; 12] = rand::random();
    let b: [u8; 8] = rand::random();
    format!(
        "Root=1-{secs:08x}-{};Parent={};Sampled=0;Lineage=1:{}:0",
        hex::encode(a),
        hex::encode(b),
        &hex::encode(rand::random::<[u8; 4]>())
    )
}

fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

pub fn uuid() -> String {
    let b: [u8; 16] = rand::random();
    let h = hex::encode(b);
    format!(
        "{}-{}-4{}-{}{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        ["8", "9", "a", "b"][(b[8] & 3) as usize],
        &h[17..20],
        &h[20..32]
    )
}

#[allow(clippy::too_many_arguments)]
fn log_lines(
    t: &Target,
    request_id: &str,
    start_ms: i64,
    output: &[u8],
    elapsed: Duration,
    init_ms: Option<f64>,
    max_memory: u64,
    timed_out: bool,
    outcome: &Outcome,
) -> Vec<(i64, String)> {
    let end_ms = start_ms + elapsed.as_millis() as i64;
    let version = &t.key.version;
    let mut lines = vec![(
        start_ms,
        format!("START RequestId: {request_id} Version: {version}"),
    )];
    for line in String::from_utf8_lossy(output).lines() {
        lines.push((end_ms, line.to_owned()));
    }
    if let Outcome::Exited(status) = outcome
        && !timed_out
    {
        let body = exit_error(status.as_deref(), request_id);
        let message = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["errorMessage"].as_str().map(str::to_owned))
            .unwrap_or_default();
        lines.push((end_ms, message));
        lines.push((end_ms, "Runtime.ExitError".into()));
    }
    if timed_out {
        lines.push((
            end_ms,
            format!(
                "{} {request_id} Task timed out after {}.00 seconds",
                model::lambda_time(end_ms).replace("+0000", "Z"),
                t.config.timeout
            ),
        ));
    }
    lines.push((end_ms, format!("END RequestId: {request_id}")));
    let ms = elapsed.as_secs_f64() * 1000.0;
    let mut report = format!(
        "REPORT RequestId: {request_id}\tDuration: {ms:.2} ms\tBilled Duration: {} ms\tMemory Size: {} MB\tMax Memory Used: {max_memory} MB",
        (ms.ceil() as u64).max(1),
        t.config.memory
    );
    if let Some(init) = init_ms {
        report.push_str(&format!("\tInit Duration: {:.2} ms", init.max(0.0)));
    }
    if timed_out {
        report.push_str("\tStatus: timeout");
    }
    if t.config.log_format == "JSON" {
        return json_log_lines(
            lines,
            request_id,
            version,
            (start_ms, end_ms),
            (ms, init_ms),
            t.config.memory,
            max_memory,
            timed_out,
        );
    }
    lines.push((end_ms, report));
    lines
}

/// With `LogFormat: JSON` the platform's lines are JSON records, as AWS writes them
/// (`platform.start`, `platform.report`); the function's own output stays as it wrote it.
#[allow(clippy::too_many_arguments)]
fn json_log_lines(
    mut lines: Vec<(i64, String)>,
    request_id: &str,
    version: &str,
    (start_ms, end_ms): (i64, i64),
    (ms, init_ms): (f64, Option<f64>),
    memory: u32,
    max_memory: u64,
    timed_out: bool,
) -> Vec<(i64, String)> {
    let time = |ms: i64| model::lambda_time(ms).replace("+0000", "Z");
    lines[0].1 = serde_json::json!({
        "time": time(start_ms),
        "type": "platform.start",
        "record": {"requestId": request_id, "version": version},
    })
    .to_string();
    // The END line has no JSON counterpart: the report closes the invocation.
    lines.pop();
    let mut metrics = serde_json::json!({
        "durationMs": (ms * 100.0).round() / 100.0,
        "billedDurationMs": (ms.ceil() as u64).max(1),
        "memorySizeMB": memory,
        "maxMemoryUsedMB": max_memory,
    });
    if let Some(init) = init_ms {
        metrics["initDurationMs"] = serde_json::json!((init.max(0.0) * 100.0).round() / 100.0);
    }
    lines.push((
        end_ms,
        serde_json::json!({
            "time": time(end_ms),
            "type": "platform.report",
            "record": {
                "requestId": request_id,
                "metrics": metrics,
                "status": if timed_out { "timeout" } else { "success" },
            },
        })
        .to_string(),
    ));
    lines
}

/// The last 4 KB of an invocation's log, as `LogType: Tail` returns it.
fn tail(lines: &[(i64, String)]) -> String {
    let mut text = String::new();
    for (_, l) in lines {
        text.push_str(l);
        text.push('\n');
    }
    let mut cut = text.len().saturating_sub(4096);
    while !text.is_char_boundary(cut) {
        cut += 1;
    }
    text[cut..].to_owned()
}

enum Started {
    Worker(Worker),
    /// The runtime cannot start at all: AWS's error payload for that
    /// (`<request-id>` stands for the invocation's id).
    Refused(String),
}

/// Starts a new environment for `t`.
async fn start(l: &Arc<Lambda>, t: &Target, provisioned: bool) -> Result<Started, AwsError> {
    let c = &t.config;
    let runtime = c.runtime.as_deref().unwrap_or_default();
    let kind = model::runtime_kind(runtime).ok_or_else(|| {
        AwsError::new(
            400,
            "InvalidRuntimeException",
            format!("The runtime parameter of {runtime} is not supported by nephos: it runs python3.9-3.14, nodejs18.x-24.x and provided (custom runtimes)."),
        )
    })?;
    let key = hex::encode(
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &c.code_sha256)
            .unwrap_or_default(),
    );
    let code = l.code.clone();
    let task_root = tokio::task::spawn_blocking(move || code.unpacked(&key))
        .await
        .map_err(|e| AwsError::internal(e.to_string()))?
        .map_err(|e| {
            tracing::error!(error = %e, "unpacking a function failed");
            AwsError::new(
                502,
                "InvalidZipFileException",
                "Lambda was unable to unzip the deployment package.",
            )
        })?;
    l.bootstraps()?;
    // Layers are what AWS unpacks into /opt, later ones over earlier ones: here each
    // stays in its own directory, searched last layer first.
    let mut opt_dirs = Vec::new();
    for layer in c.layers.iter().rev() {
        let Some(key) = crate::layers::code_key(l, &layer.arn) else {
            continue;
        };
        let code = l.code.clone();
        let dir = tokio::task::spawn_blocking(move || code.unpacked(&key))
            .await
            .map_err(|e| AwsError::internal(e.to_string()))?
            .map_err(|e| AwsError::internal(format!("a layer could not be unpacked: {e}")))?;
        opt_dirs.push(dir);
    }
    let opt = |sub: &str, fallback: &str| -> String {
        opt_dirs
            .iter()
            .map(|d| d.join(sub).to_string_lossy().into_owned())
            .chain(std::iter::once(fallback.to_owned()))
            .collect::<Vec<_>>()
            .join(":")
    };
    let id = l.pool.next_id.fetch_add(1, Ordering::Relaxed);
    let scratch = l.work_dir.join(format!("env-{id}"));
    let tmp = scratch.join("tmp");
    let _ = std::fs::create_dir_all(&tmp);
    let (program, args) = match kind {
        RuntimeKind::Python => {
            // Layers' Python paths go to the bootstrap as arguments, not through the
            // function's environment.
            let version = runtime.trim_start_matches("python");
            let mut args = vec![
                l.runtime_dir
                    .join("python.py")
                    .to_string_lossy()
                    .into_owned(),
            ];
            for d in &opt_dirs {
                args.push(d.join("python").to_string_lossy().into_owned());
                args.push(
                    d.join(format!("python/lib/python{version}/site-packages"))
                        .to_string_lossy()
                        .into_owned(),
                );
            }
            (l.interpreter(RuntimeKind::Python)?, args)
        }
        RuntimeKind::Node => (
            l.interpreter(RuntimeKind::Node)?,
            vec![
                l.runtime_dir
                    .join("node.mjs")
                    .to_string_lossy()
                    .into_owned(),
            ],
        ),
        RuntimeKind::Provided => {
            // AWS looks for /var/task/bootstrap, then /opt/bootstrap (from a layer).
            let bootstrap = std::iter::once(task_root.join("bootstrap"))
                .chain(opt_dirs.iter().map(|d| d.join("bootstrap")))
                .find(|p| p.exists())
                .unwrap_or_else(|| task_root.join("bootstrap"));
            use std::os::unix::fs::PermissionsExt;
            let message = match std::fs::metadata(&bootstrap) {
                Err(_) => Some(
                    "RequestId: <request-id> Error: Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]",
                ),
                Ok(m) if m.permissions().mode() & 0o111 == 0 => Some(
                    "RequestId: <request-id> Error: fork/exec /var/task/bootstrap: permission denied",
                ),
                Ok(_) => None,
            };
            if let Some(message) = message {
                return Ok(Started::Refused(
                    serde_json::json!({"errorType": "Runtime.InvalidEntrypoint", "errorMessage": message})
                        .to_string(),
                ));
            }
            (bootstrap, Vec::new())
        }
    };
    // A managed runtime starts through the function's wrapper script, given the runtime's
    // own command as its arguments (AWS's AWS_LAMBDA_EXEC_WRAPPER).
    let wrapper = c
        .environment
        .as_ref()
        .and_then(|e| e.get("AWS_LAMBDA_EXEC_WRAPPER"))
        .filter(|_| kind != RuntimeKind::Provided);
    let (program, args) = match wrapper {
        Some(w) => {
            let Some(script) = in_sandbox(w, &task_root, &opt_dirs) else {
                return Ok(Started::Refused(
                    // As Lambda's init reports any entrypoint it cannot exec.
                    serde_json::json!({
                        "errorType": "Runtime.InvalidEntrypoint",
                        "errorMessage": format!("RequestId: <request-id> Error: fork/exec {w}: no such file or directory"),
                    })
                    .to_string(),
                ));
            };
            let mut wrapped = vec![program.to_string_lossy().into_owned()];
            wrapped.extend(args);
            (script, wrapped)
        }
        None => (program, args),
    };
    let log_stream = log_stream_name(l.clock.now_millis(), &t.key.version);
    let log_group = model::log_group(&t.key.function, c);
    let credentials = l.credentials(t).await?;
    let mut vars: Vec<(String, String)> = Vec::new();
    let bin_dir = program
        .parent()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    vars.push((
        "PATH".into(),
        format!(
            "{bin_dir}:/usr/local/bin:/usr/bin:/bin:{}",
            opt("bin", "/opt/bin")
        ),
    ));
    vars.push(("LANG".into(), "en_US.UTF-8".into()));
    vars.push(("TZ".into(), ":UTC".into()));
    // With a namespace of its own the environment has a real /tmp, as on AWS (which sets
    // no TMPDIR); without one, a private directory stands in for it.
    let sandbox = crate::sandbox::available().then(|| crate::sandbox::Plan {
        tmp_mb: c.ephemeral_storage,
        read_only: std::iter::once(task_root.clone())
            .chain(opt_dirs.iter().cloned())
            .collect(),
        // The bootstraps, and the interpreter's whole installation (a virtualenv).
        keep: std::iter::once(l.runtime_dir.clone())
            .chain(
                (kind != RuntimeKind::Provided)
                    .then(|| l.interpreter(kind).ok())
                    .flatten()
                    .and_then(|p| p.parent()?.parent().map(std::path::Path::to_path_buf)),
            )
            .collect(),
        hidden: l.data_dir.iter().cloned().collect(),
    });
    if sandbox.is_none() {
        vars.push(("TMPDIR".into(), tmp.to_string_lossy().into_owned()));
    }
    vars.push(("LD_LIBRARY_PATH".into(), opt("lib", "/opt/lib")));
    vars.push(("_HANDLER".into(), c.handler.clone().unwrap_or_default()));
    vars.push(("AWS_REGION".into(), t.key.region.clone()));
    vars.push(("AWS_DEFAULT_REGION".into(), t.key.region.clone()));
    vars.push(("AWS_EXECUTION_ENV".into(), format!("AWS_Lambda_{runtime}")));
    vars.push(("AWS_LAMBDA_FUNCTION_NAME".into(), t.key.function.clone()));
    vars.push(("AWS_LAMBDA_FUNCTION_VERSION".into(), t.key.version.clone()));
    vars.push((
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE".into(),
        c.memory.to_string(),
    ));
    vars.push(("AWS_LAMBDA_LOG_GROUP_NAME".into(), log_group.clone()));
    vars.push(("AWS_LAMBDA_LOG_STREAM_NAME".into(), log_stream.clone()));
    let init_type = if provisioned {
        "provisioned-concurrency"
    } else {
        "on-demand"
    };
    vars.push(("AWS_LAMBDA_INITIALIZATION_TYPE".into(), init_type.into()));
    vars.push((
        "LAMBDA_TASK_ROOT".into(),
        task_root.to_string_lossy().into_owned(),
    ));
    vars.push((
        "LAMBDA_RUNTIME_DIR".into(),
        l.runtime_dir.to_string_lossy().into_owned(),
    ));
    vars.push(("AWS_ENDPOINT_URL".into(), l.endpoint()));
    vars.push(("AWS_ACCESS_KEY_ID".into(), credentials.0));
    vars.push(("AWS_SECRET_ACCESS_KEY".into(), credentials.1));
    if let Some(token) = credentials.2 {
        vars.push(("AWS_SESSION_TOKEN".into(), token));
    }
    if kind == RuntimeKind::Python {
        vars.push(("PYTHONUNBUFFERED".into(), "1".into()));
        vars.push(("PYTHONDONTWRITEBYTECODE".into(), "1".into()));
    }
    if kind == RuntimeKind::Node {
        let major = runtime
            .trim_start_matches("nodejs")
            .trim_end_matches(".x")
            .to_owned();
        let versioned = opt(&format!("nodejs/node{major}/node_modules"), "");
        vars.push((
            "NODE_PATH".into(),
            format!(
                "{versioned}{}",
                opt("nodejs/node_modules", "/opt/nodejs/node_modules")
            ),
        ));
    }
    if let Some(level) = &c.application_log_level {
        vars.push(("AWS_LAMBDA_LOG_LEVEL".into(), level.clone()));
    }
    if c.log_format == "JSON" {
        vars.push(("AWS_LAMBDA_LOG_FORMAT".into(), "JSON".into()));
    }
    if let Some(env) = &c.environment {
        for (k, v) in env {
            vars.retain(|(name, _)| name != k);
            vars.push((k.clone(), v.clone()));
        }
    }
    // External extensions: /opt/extensions from the layers, on the runtime's variables
    // less those AWS keeps for the runtime.
    let extensions = crate::extensions::discover(&opt_dirs);
    let function = crate::extensions::FunctionInfo {
        name: t.key.function.clone(),
        version: t.key.version.clone(),
        handler: c.handler.clone().unwrap_or_default(),
        account: t.key.account.clone(),
    };
    let launch = Launch {
        program,
        args,
        cwd: task_root,
        extension_vars: crate::extensions::vars(&vars),
        vars,
        scratch,
        extensions,
        function,
        init_limit: INIT_LIMIT,
        sandbox,
    };
    let env = Env::start(launch, &*l.server).map_err(|e| {
        tracing::warn!(error = %e, function = %t.key.function, "starting an environment failed");
        AwsError::new(
            502,
            "ServiceException",
            format!(
                "nephos could not start the runtime of {}: {e}",
                t.key.function
            ),
        )
    })?;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(crate::logs::ship(
        l.clone(),
        t.key.account.clone(),
        t.key.region.clone(),
        log_group,
        log_stream,
        rx,
    ));
    Ok(Started::Worker(Worker {
        env,
        idle_since: Instant::now(),
        provisioned,
        logs: tx,
    }))
}

/// Starts `n` environments of `t`'s version for a provisioned concurrency configuration
/// of `qualifier` (the version or its alias) and keeps them initialised, as AWS allocates
/// them after PutProvisionedConcurrencyConfig; the configuration reads `IN_PROGRESS`
/// until they are ready.
pub fn provision(l: &Arc<Lambda>, t: Target, qualifier: String, n: u32) {
    let key = (
        t.key.account.clone(),
        t.key.region.clone(),
        t.key.function.clone(),
        qualifier,
    );
    l.pool.warming.lock().unwrap().insert(key.clone());
    let l = l.clone();
    tokio::spawn(async move {
        let have = l
            .pool
            .idle
            .lock()
            .unwrap()
            .get(&t.key)
            .map_or(0, |ws| ws.iter().filter(|w| w.provisioned).count() as u32);
        for _ in have..n {
            let w = match start(&l, &t, true).await {
                Ok(Started::Worker(w)) => w,
                Ok(Started::Refused(_)) => break,
                Err(e) => {
                    tracing::warn!(error = %e, function = %t.key.function, "a provisioned environment did not start");
                    break;
                }
            };
            if !w.env.handler.ready(INIT_LIMIT).await {
                w.env.kill();
                continue;
            }
            l.pool
                .idle
                .lock()
                .unwrap()
                .entry(t.key.clone())
                .or_default()
                .push(w);
        }
        l.pool.warming.lock().unwrap().remove(&key);
    });
}

/// `2024/01/02/[$LATEST]0123456789abcdef0123456789abcdef`, as AWS names streams.
fn log_stream_name(now_ms: i64, version: &str) -> String {
    let date = nephos_core::Timestamp::from_millis(now_ms).to_iso8601();
    let day = date.get(0..10).unwrap_or("1970-01-01").replace('-', "/");
    let b: [u8; 16] = rand::random();
    format!("{day}/[{version}]{}", hex::encode(b))
}

/// The payload of an invocation's error as the caller sees it.
pub fn error_payload(outcome: &Outcome, request_id: &str) -> Option<Bytes> {
    match outcome {
        Outcome::Response(_) => None,
        // Never seen by callers: the invoker reads a stream to its end first.
        Outcome::Streaming(_) => Some(exit_error(None, request_id)),
        Outcome::Error(e) | Outcome::InitError(e) => Some(e.body.clone()),
        Outcome::Exited(status) => Some(exit_error(status.as_deref(), request_id)),
        Outcome::Unfetched => Some(exit_error(None, request_id)),
    }
}

/// AWS's payload for a runtime that ended without answering.
fn exit_error(status: Option<&str>, request_id: &str) -> Bytes {
    {
        {
            let msg = match status {
                Some(s) if s != "exit status 0" => {
                    format!("RequestId: {request_id} Error: Runtime exited with error: {s}")
                }
                _ => format!(
                    "RequestId: {request_id} Error: Runtime exited without providing a reason"
                ),
            };
            Bytes::from(
                serde_json::json!({"errorType": "Runtime.ExitError", "errorMessage": msg})
                    .to_string(),
            )
        }
    }
}

/// A context in `account`/`region` for calls lambda makes on its own behalf.
pub fn service_context(l: &Lambda, account: &str, region: &str, operation: &str) -> RequestContext {
    let mut ctx = RequestContext::internal("lambda", operation, l.clock.clone());
    ctx.account_id = account.to_owned();
    ctx.region = region.to_owned();
    ctx
}

pub fn credentials_from(v: &Value) -> Option<(String, String, Option<String>)> {
    let c = v.get("Credentials")?;
    Some((
        c.str("AccessKeyId")?.to_owned(),
        c.str("SecretAccessKey")?.to_owned(),
        c.str("SessionToken").map(str::to_owned),
    ))
}

/// Where a path a function names as AWS lays functions out (`/var/task/...`, `/opt/...`
/// from its layers, last layer first) is here; `None` when no such file exists.
fn in_sandbox(
    path: &str,
    task_root: &std::path::Path,
    opt_dirs: &[std::path::PathBuf],
) -> Option<std::path::PathBuf> {
    let found = if let Some(rest) = path.strip_prefix("/var/task/") {
        Some(task_root.join(rest))
    } else if let Some(rest) = path.strip_prefix("/opt/") {
        opt_dirs.iter().map(|d| d.join(rest)).find(|p| p.exists())
    } else {
        Some(std::path::PathBuf::from(path))
    };
    found.filter(|p| p.is_file())
}
