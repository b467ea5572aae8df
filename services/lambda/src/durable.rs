//! Durable executions (Lambda durable functions): a function with a `DurableConfig`
//! runs as an execution whose progress the function checkpoints through
//! CheckpointDurableExecution (steps, waits, callbacks, child contexts), as AWS's
//! durable execution SDKs do.
//!
//! An Invoke starts an execution and invokes the function with AWS's durable event (the
//! execution's ARN, a checkpoint token and the operations so far). A function that
//! answers `PENDING` is invoked again when what it waits for is done: a wait's or a
//! retry's time on nephos's clock, a callback completed by
//! SendDurableExecutionCallbackSuccess/Failure (or timed out). Each execution is one
//! stored record, written before a checkpoint is acknowledged, so with a data directory
//! executions survive a restart and resume where they were.
//!
//! PauseDurableExecution holds an execution: nephos stops invoking the function (an
//! invocation in flight loses its checkpoint token at its next checkpoint) while waits
//! and callbacks still complete; ResumeDurableExecution lets it go on.

use crate::Lambda;
use crate::env::Outcome;
use crate::functions::{conflict, not_found, target};
use crate::runtime::{self, Target};
use base64::Engine;
use bytes::Bytes;
use nephos_core::{AwsError, Output, RequestContext, Timestamp, Value};
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

pub const TABLE: &str = "lambda.durable";

const RUNNING: &str = "RUNNING";
const PAUSING: &str = "PAUSING";
const PAUSED: &str = "PAUSED";
/// A ClientToken makes a pause or resume request idempotent for this long (AWS: 15 minutes).
const CLIENT_TOKEN_MS: i64 = 15 * 60 * 1000;
/// A function that keeps failing (not a `FAILED` answer: an error of the invocation)
/// is invoked this many times before its execution fails.
const MAX_INVOCATION_FAILURES: u32 = 3;
/// Synchronous invocations wait at most this long for their execution (AWS: 15 minutes).
const SYNC_LIMIT_MS: u64 = 15 * 60 * 1000;

/// The executions of every account and region, by ARN.
#[derive(Default)]
pub struct Executions {
    map: Mutex<BTreeMap<String, Arc<Entry>>>,
}

impl Executions {
    pub fn clear(&self) {
        self.map.lock().unwrap().clear();
    }

    fn get(&self, arn: &str) -> Option<Arc<Entry>> {
        self.map.lock().unwrap().get(arn).cloned()
    }

    fn all(&self) -> Vec<Arc<Entry>> {
        self.map.lock().unwrap().values().cloned().collect()
    }
}

pub struct Entry {
    state: Mutex<Execution>,
    /// Wakes the execution's driver: a callback completed, the execution was stopped.
    wake: Notify,
    /// Wakes synchronous callers waiting for the end.
    ended: Notify,
}

#[derive(Clone, Serialize, Deserialize)]
struct Execution {
    arn: String,
    account: String,
    region: String,
    function: String,
    version: String,
    name: String,
    id: String,
    status: String,
    input: String,
    result: Option<String>,
    error: Option<Json>,
    start_ms: i64,
    end_ms: Option<i64>,
    timeout_s: Option<u32>,
    retention_days: u32,
    kms_key_arn: Option<String>,
    /// The token of the invocation running now (none between invocations).
    token: Option<String>,
    token_seq: u64,
    ops: Vec<Op>,
    events: Vec<Json>,
    /// Something changed that the function has not seen: it is to be invoked again.
    due: bool,
    /// Operations changed outside a checkpoint, not yet reported to the function.
    changed: Vec<String>,
    failures: u32,
    /// The pause asked for, while the execution is `PAUSING` or `PAUSED`.
    #[serde(default)]
    pause: Option<Pause>,
    /// How long paused pauses have held the execution timeout, in milliseconds.
    #[serde(default)]
    timeout_paused_ms: i64,
    /// ClientTokens of recent pause and resume requests: (token, request, when).
    #[serde(default)]
    client_tokens: Vec<(String, String, i64)>,
}

#[derive(Clone, Serialize, Deserialize)]
struct Pause {
    request_ms: i64,
    reason: Option<String>,
    timeout_paused: bool,
    /// When the status became `PAUSED` (none while `PAUSING`).
    paused_ms: Option<i64>,
    /// The pause cut an invocation short: resuming invokes the function again.
    interrupted: bool,
}

/// One operation of an execution, as `Operation` reports it.
#[derive(Clone, Serialize, Deserialize, Default)]
struct Op {
    id: String,
    parent_id: Option<String>,
    name: Option<String>,
    kind: String,
    sub_type: Option<String>,
    status: String,
    start_ms: i64,
    end_ms: Option<i64>,
    input: Option<String>,
    result: Option<String>,
    error: Option<Json>,
    attempt: i64,
    next_attempt_ms: Option<i64>,
    scheduled_end_ms: Option<i64>,
    wait_seconds: Option<i64>,
    callback_id: Option<String>,
    timeout_s: Option<i64>,
    heartbeat_s: Option<i64>,
    heartbeat_ms: Option<i64>,
    replay_children: Option<bool>,
}

fn terminal(status: &str) -> bool {
    matches!(
        status,
        "SUCCEEDED" | "FAILED" | "CANCELLED" | "TIMED_OUT" | "STOPPED"
    )
}

fn param(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "InvalidParameterValueException", message)
}

fn resource_not_found(message: impl Into<String>) -> AwsError {
    AwsError::new(404, "ResourceNotFoundException", message)
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s.as_bytes())
}

/// A JSON document as a value; integers under keys ending in `Timestamp` are the epoch
/// milliseconds this module stores times as.
fn to_value(j: &Json) -> Value {
    match j {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => n
            .as_i64()
            .map(Value::Integer)
            .unwrap_or_else(|| Value::Float(n.as_f64().unwrap_or(0.0))),
        Json::String(s) => Value::String(s.clone()),
        Json::Array(a) => Value::List(a.iter().map(to_value).collect()),
        Json::Object(o) => {
            let mut m = Value::map();
            for (k, v) in o {
                match v.as_i64() {
                    Some(ms) if k.ends_with("Timestamp") => {
                        m.insert(k, Value::Timestamp(Timestamp::from_millis(ms)));
                    }
                    _ => m.insert(k, to_value(v)),
                }
            }
            m
        }
    }
}

/// A request's `ErrorObject` as stored.
fn error_json(v: &Value) -> Json {
    let mut o = serde_json::Map::new();
    for k in ["ErrorType", "ErrorMessage", "ErrorData"] {
        if let Some(s) = v.str(k) {
            o.insert(k.into(), json!(s));
        }
    }
    if let Some(trace) = v.get("StackTrace").and_then(Value::as_list) {
        let lines: Vec<&str> = trace.iter().filter_map(Value::as_str).collect();
        o.insert("StackTrace".into(), json!(lines));
    }
    Json::Object(o)
}

impl Op {
    /// The operation as the API and the durable event state it (times in milliseconds).
    fn to_json(&self) -> Json {
        let mut o = json!({
            "Id": self.id,
            "Type": self.kind,
            "Status": self.status,
            "StartTimestamp": self.start_ms,
        });
        if let Some(t) = self.end_ms {
            o["EndTimestamp"] = json!(t);
        }
        if let Some(p) = &self.parent_id {
            o["ParentId"] = json!(p);
        }
        if let Some(n) = &self.name {
            o["Name"] = json!(n);
        }
        if let Some(s) = &self.sub_type {
            o["SubType"] = json!(s);
        }
        let mut details = serde_json::Map::new();
        if let Some(r) = &self.result {
            details.insert("Result".into(), json!(r));
        }
        if let Some(e) = &self.error {
            details.insert("Error".into(), e.clone());
        }
        match self.kind.as_str() {
            "EXECUTION" => {
                o["ExecutionDetails"] =
                    json!({"InputPayload": self.input.clone().unwrap_or_default()});
            }
            "STEP" => {
                details.insert("Attempt".into(), json!(self.attempt));
                if let Some(t) = self.next_attempt_ms {
                    details.insert("NextAttemptTimestamp".into(), json!(t));
                }
                o["StepDetails"] = Json::Object(details);
            }
            "WAIT" => {
                o["WaitDetails"] = json!({"ScheduledEndTimestamp": self.scheduled_end_ms});
            }
            "CALLBACK" => {
                details.insert("CallbackId".into(), json!(self.callback_id));
                o["CallbackDetails"] = Json::Object(details);
            }
            "CONTEXT" => {
                if let Some(r) = self.replay_children {
                    details.insert("ReplayChildren".into(), json!(r));
                }
                o["ContextDetails"] = Json::Object(details);
            }
            _ => {}
        }
        o
    }
}

impl Execution {
    fn op(&self, id: &str) -> Option<&Op> {
        self.ops.iter().find(|o| o.id == id)
    }

    fn op_mut(&mut self, id: &str) -> Option<&mut Op> {
        self.ops.iter_mut().find(|o| o.id == id)
    }

    /// Appends a history event about `op` (the execution itself when `None`).
    fn event(&mut self, now: i64, kind: &str, op: Option<&str>, details: Option<(&str, Json)>) {
        let mut e = json!({
            "EventId": self.events.len() + 1,
            "EventTimestamp": now,
            "EventType": kind,
        });
        match op.and_then(|id| self.op(id)) {
            Some(o) => {
                e["Id"] = json!(o.id);
                if let Some(n) = &o.name {
                    e["Name"] = json!(n);
                }
                if let Some(p) = &o.parent_id {
                    e["ParentId"] = json!(p);
                }
                if let Some(s) = &o.sub_type {
                    e["SubType"] = json!(s);
                }
            }
            None => {
                e["Id"] = json!(self.id);
                e["Name"] = json!(self.name);
            }
        }
        if let Some((k, v)) = details {
            e[k] = v;
        }
        self.events.push(e);
    }

    /// Ends the execution (its `EXECUTION` operation too) with `status`.
    fn end(&mut self, now: i64, status: &str, result: Option<String>, error: Option<Json>) {
        self.status = status.to_owned();
        self.end_ms = Some(now);
        self.token = None;
        self.pause = None;
        self.result = result.clone();
        self.error = error.clone();
        let id = self.id.clone();
        if let Some(o) = self.op_mut(&id) {
            o.status = status.to_owned();
            o.end_ms = Some(now);
        }
        let err = || json!({"Error": {"Payload": error.clone().unwrap_or(json!({})), "Truncated": false}});
        let (kind, details) = match status {
            "SUCCEEDED" => (
                "ExecutionSucceeded",
                json!({"Result": {"Payload": result.clone().unwrap_or_default(), "Truncated": false}}),
            ),
            "FAILED" => ("ExecutionFailed", err()),
            "TIMED_OUT" => ("ExecutionTimedOut", err()),
            _ => ("ExecutionStopped", err()),
        };
        let key = format!("{kind}Details");
        self.event(now, kind, None, Some((&key, details)));
    }

    fn new_token(&mut self) -> String {
        self.token_seq += 1;
        let t = b64(&format!("{}:{}", self.id, self.token_seq));
        self.token = Some(t.clone());
        t
    }

    /// Completes what the clock has made due: waits that elapsed, retries whose time
    /// came, callbacks that timed out. Whether anything changed.
    fn fire_timers(&mut self, now: i64) -> bool {
        let mut fired: Vec<(String, &'static str, Option<Json>)> = Vec::new();
        for o in &mut self.ops {
            match (o.kind.as_str(), o.status.as_str()) {
                ("WAIT", "STARTED") if o.scheduled_end_ms.is_some_and(|t| t <= now) => {
                    o.status = "SUCCEEDED".into();
                    o.end_ms = Some(now);
                    fired.push((
                        o.id.clone(),
                        "WaitSucceeded",
                        Some(json!({"Duration": o.wait_seconds})),
                    ));
                }
                ("STEP", "PENDING") if o.next_attempt_ms.is_some_and(|t| t <= now) => {
                    o.status = "READY".into();
                    fired.push((o.id.clone(), "", None));
                }
                ("CALLBACK", "STARTED") => {
                    let timed_out = o
                        .timeout_s
                        .filter(|t| *t > 0)
                        .is_some_and(|t| now >= o.start_ms + t * 1000);
                    let heartbeat_missed = o
                        .heartbeat_s
                        .filter(|t| *t > 0)
                        .is_some_and(|t| now >= o.heartbeat_ms.unwrap_or(o.start_ms) + t * 1000);
                    if timed_out || heartbeat_missed {
                        let kind = if timed_out {
                            "Callback.Timeout"
                        } else {
                            "Callback.Heartbeat"
                        };
                        let error =
                            json!({"ErrorType": kind, "ErrorMessage": "Callback timed out"});
                        o.status = "TIMED_OUT".into();
                        o.end_ms = Some(now);
                        o.error = Some(error.clone());
                        fired.push((
                            o.id.clone(),
                            "CallbackTimedOut",
                            Some(json!({"Error": {"Payload": error, "Truncated": false}})),
                        ));
                    }
                }
                _ => {}
            }
        }
        let any = !fired.is_empty();
        for (id, kind, details) in fired {
            if !kind.is_empty() {
                let key = format!("{kind}Details");
                self.event(
                    now,
                    kind,
                    Some(&id),
                    details.as_ref().map(|d| (key.as_str(), d.clone())),
                );
            }
            self.changed.push(id);
            self.due = true;
        }
        any
    }

    /// When the execution times out: later by the time pauses held the timeout, never
    /// while such a pause holds it.
    fn timeout_deadline(&self) -> Option<i64> {
        let t = self.timeout_s?;
        if self
            .pause
            .as_ref()
            .is_some_and(|p| p.timeout_paused && p.paused_ms.is_some())
        {
            return None;
        }
        Some(self.start_ms + i64::from(t) * 1000 + self.timeout_paused_ms)
    }

    /// The requested pause takes effect: no invocation until resumed.
    fn paused(&mut self, now: i64, interrupted: bool) {
        self.status = PAUSED.into();
        self.token = None;
        let Some(p) = self.pause.as_mut() else {
            return;
        };
        p.paused_ms = Some(now);
        p.interrupted = interrupted;
        let mut d = json!({
            "PauseRequestTimestamp": p.request_ms,
            "ExecutionTimeoutPaused": p.timeout_paused,
        });
        if let Some(r) = &p.reason {
            d["Reason"] = json!({"Payload": r, "Truncated": false});
        }
        self.event(
            now,
            "ExecutionPaused",
            None,
            Some(("ExecutionPausedDetails", d)),
        );
    }

    /// Whether a pause or resume request repeats one of the last 15 minutes with the
    /// same ClientToken (it is then answered without acting again).
    fn repeated(&mut self, input: &Value, request: &str, now: i64) -> Result<bool, AwsError> {
        self.client_tokens
            .retain(|(_, _, at)| now - at < CLIENT_TOKEN_MS);
        let Some(token) = input.str("ClientToken") else {
            return Ok(false);
        };
        match self.client_tokens.iter().find(|(t, _, _)| t == token) {
            Some((_, r, _)) if r == request => Ok(true),
            Some(_) => Err(param(
                "The ClientToken was already used with different parameters.",
            )),
            None => Ok(false),
        }
    }

    fn remember(&mut self, input: &Value, request: &str, now: i64) {
        if let Some(token) = input.str("ClientToken") {
            self.client_tokens
                .push((token.to_owned(), request.to_owned(), now));
        }
    }

    /// When the clock next makes something due (the execution's timeout included).
    fn next_deadline(&self) -> Option<i64> {
        let mut next = self.timeout_deadline();
        let mut consider = |t: i64| next = Some(next.map_or(t, |n: i64| n.min(t)));
        for o in &self.ops {
            match (o.kind.as_str(), o.status.as_str()) {
                ("WAIT", "STARTED") => o.scheduled_end_ms.into_iter().for_each(&mut consider),
                ("STEP", "PENDING") => o.next_attempt_ms.into_iter().for_each(&mut consider),
                ("CALLBACK", "STARTED") => {
                    if let Some(t) = o.timeout_s.filter(|t| *t > 0) {
                        consider(o.start_ms + t * 1000);
                    }
                    if let Some(t) = o.heartbeat_s.filter(|t| *t > 0) {
                        consider(o.heartbeat_ms.unwrap_or(o.start_ms) + t * 1000);
                    }
                }
                _ => {}
            }
        }
        next
    }

    /// The event the function is invoked with.
    fn invocation_event(&mut self) -> Bytes {
        let token = self.new_token();
        let ops: Vec<Json> = self.ops.iter().map(Op::to_json).collect();
        Bytes::from(
            json!({
                "DurableExecutionArn": self.arn,
                "CheckpointToken": token,
                "InitialExecutionState": {"Operations": ops},
            })
            .to_string(),
        )
    }

    /// Whether the retention period after the end has passed (the execution is gone).
    fn expired(&self, now: i64) -> bool {
        self.end_ms
            .is_some_and(|e| now > e + i64::from(self.retention_days) * 86_400_000)
    }

    /// Applies one checkpoint update; the operation it touched.
    fn apply(&mut self, u: &Value, now: i64) -> Result<Option<String>, AwsError> {
        let id = u.str("Id").unwrap_or_default().to_owned();
        let kind = u.str("Type").unwrap_or_default().to_owned();
        let action = u.str("Action").unwrap_or_default();
        let payload = u.str("Payload").map(str::to_owned);
        let error = u.get("Error").map(error_json);
        if kind == "EXECUTION" {
            return match action {
                "SUCCEED" => {
                    self.end(now, "SUCCEEDED", Some(payload.unwrap_or_default()), None);
                    Ok(None)
                }
                "FAIL" => {
                    self.end(now, "FAILED", None, error);
                    Ok(None)
                }
                _ => Err(param("Invalid action for EXECUTION operation.")),
            };
        }
        if kind == "CHAINED_INVOKE" {
            // TODO: chained invokes (a durable invoke of another function, its result
            // completing the operation).
            return Err(param(
                "CHAINED_INVOKE operations are not supported by nephos yet.",
            ));
        }
        if let Some(parent) = u.str("ParentId")
            && self.op(parent).is_none()
        {
            return Err(param(format!("Parent operation {parent} does not exist.")));
        }
        let existing = self.op(&id).map(|o| o.status.clone());
        if let Some(status) = &existing
            && terminal(status)
        {
            return Err(param(format!(
                "Cannot update operation {id}: it has already completed."
            )));
        }
        if let Some(o) = self.op(&id)
            && o.kind != kind
        {
            return Err(param(format!(
                "Operation {id} is of type {}, not {kind}.",
                o.kind
            )));
        }
        if existing.is_none() {
            self.ops.push(Op {
                id: id.clone(),
                parent_id: u.str("ParentId").map(str::to_owned),
                name: u.str("Name").map(str::to_owned),
                kind: kind.clone(),
                sub_type: u.str("SubType").map(str::to_owned),
                status: "STARTED".into(),
                start_ms: now,
                ..Op::default()
            });
        }
        let callback_id = b64(&format!("{}|{}|{}", self.arn, id, crate::runtime::uuid()));
        let Some(o) = self.op_mut(&id) else {
            return Ok(None);
        };
        let event: (&str, Json) = match (kind.as_str(), action) {
            (_, "START") => {
                let fresh = existing.is_none();
                o.status = "STARTED".into();
                match kind.as_str() {
                    "WAIT" => {
                        if !fresh {
                            return Ok(Some(id));
                        }
                        let secs = u
                            .get("WaitOptions")
                            .and_then(|w| w.int("WaitSeconds"))
                            .ok_or_else(|| param("WaitOptions.WaitSeconds is required to start a WAIT operation."))?;
                        o.wait_seconds = Some(secs);
                        o.scheduled_end_ms = Some(now + secs * 1000);
                        (
                            "WaitStarted",
                            json!({"Duration": secs, "ScheduledEndTimestamp": now + secs * 1000}),
                        )
                    }
                    "CALLBACK" => {
                        if !fresh {
                            return Ok(Some(id));
                        }
                        let opts = u.get("CallbackOptions");
                        o.timeout_s = opts.and_then(|c| c.int("TimeoutSeconds"));
                        o.heartbeat_s = opts.and_then(|c| c.int("HeartbeatTimeoutSeconds"));
                        o.callback_id = Some(callback_id.clone());
                        let mut d = json!({"CallbackId": callback_id});
                        if let Some(t) = o.timeout_s {
                            d["Timeout"] = json!(t);
                        }
                        if let Some(t) = o.heartbeat_s {
                            d["HeartbeatTimeout"] = json!(t);
                        }
                        ("CallbackStarted", d)
                    }
                    "CONTEXT" => {
                        o.replay_children = u
                            .get("ContextOptions")
                            .and_then(|c| c.bool("ReplayChildren"));
                        ("ContextStarted", json!({}))
                    }
                    "STEP" => {
                        o.next_attempt_ms = None;
                        ("StepStarted", json!({}))
                    }
                    _ => return Err(param(format!("Invalid operation type {kind}."))),
                }
            }
            ("STEP", "SUCCEED") | ("CONTEXT", "SUCCEED") => {
                o.status = "SUCCEEDED".into();
                o.end_ms = Some(now);
                o.result = payload.clone();
                let result = json!({"Payload": payload.unwrap_or_default(), "Truncated": false});
                if kind == "STEP" {
                    (
                        "StepSucceeded",
                        json!({"Result": result, "RetryDetails": {"CurrentAttempt": o.attempt + 1}}),
                    )
                } else {
                    ("ContextSucceeded", json!({"Result": result}))
                }
            }
            ("STEP", "FAIL") | ("CONTEXT", "FAIL") => {
                o.status = "FAILED".into();
                o.end_ms = Some(now);
                o.error = error.clone();
                let e = json!({"Payload": error.unwrap_or(json!({})), "Truncated": false});
                if kind == "STEP" {
                    (
                        "StepFailed",
                        json!({"Error": e, "RetryDetails": {"CurrentAttempt": o.attempt + 1}}),
                    )
                } else {
                    ("ContextFailed", json!({"Error": e}))
                }
            }
            ("STEP", "RETRY") => {
                let delay = u
                    .get("StepOptions")
                    .and_then(|s| s.int("NextAttemptDelaySeconds"))
                    .unwrap_or(1);
                o.attempt += 1;
                o.status = "PENDING".into();
                o.next_attempt_ms = Some(now + delay * 1000);
                o.error = error.clone();
                (
                    "StepFailed",
                    json!({
                        "Error": {"Payload": error.unwrap_or(json!({})), "Truncated": false},
                        "RetryDetails": {"CurrentAttempt": o.attempt, "NextAttemptDelaySeconds": delay},
                    }),
                )
            }
            ("WAIT", "CANCEL") => {
                o.status = "CANCELLED".into();
                o.end_ms = Some(now);
                ("WaitCancelled", json!({}))
            }
            _ => {
                if existing.is_none() {
                    self.ops.retain(|o| o.id != id);
                }
                return Err(param(format!(
                    "Invalid action {action} for {kind} operation."
                )));
            }
        };
        let key = format!("{}Details", event.0);
        self.event(now, event.0, Some(&id), Some((&key, event.1)));
        Ok(Some(id))
    }

    fn summary(&self) -> Value {
        let mut v = Value::map()
            .with("DurableExecutionArn", self.arn.as_str())
            .with("DurableExecutionName", self.name.as_str())
            .with("FunctionArn", self.function_arn())
            .with("Status", self.status.as_str())
            .with(
                "StartTimestamp",
                Value::Timestamp(Timestamp::from_millis(self.start_ms)),
            );
        if let Some(e) = self.end_ms {
            v.insert("EndTimestamp", Value::Timestamp(Timestamp::from_millis(e)));
        }
        if let Some(k) = &self.kms_key_arn {
            v.insert("KMSKeyArn", k.as_str());
        }
        v
    }

    fn function_arn(&self) -> String {
        crate::model::qualified_arn(
            &self.region,
            &self.account,
            &self.function,
            Some(&self.version),
        )
    }
}

fn record(x: &Execution) -> nephos_storage::Mutation {
    nephos_storage::Mutation::put(
        TABLE,
        x.arn.as_bytes(),
        serde_json::to_vec(x).unwrap_or_default(),
    )
}

async fn commit(l: &Lambda, m: nephos_storage::Mutation) -> Result<(), AwsError> {
    crate::state::commit(&l.storage, vec![m]).await
}

/// The execution an ARN names, if the caller's account and region own it.
fn find(l: &Lambda, ctx: &RequestContext, arn: &str) -> Option<Arc<Entry>> {
    let e = l.durable.get(arn)?;
    let x = e.state.lock().unwrap();
    (x.account == ctx.account_id && x.region == ctx.region && !x.expired(l.clock.now_millis()))
        .then(|| e.clone())
}

fn execution_not_found(arn: &str) -> AwsError {
    resource_not_found(format!("Durable execution not found: {arn}"))
}

/// Loads stored executions and resumes those still running (once the dispatcher is up).
pub fn resume(l: &Arc<Lambda>) -> Result<(), String> {
    let stored = l.storage.load(TABLE).map_err(|e| e.to_string())?;
    let mut running = Vec::new();
    for (_, v) in stored {
        let Ok(mut x) = serde_json::from_slice::<Execution>(&v) else {
            continue;
        };
        let live = !terminal(&x.status);
        if live && x.token.is_some() {
            if x.status == PAUSING {
                // The invocation the pause waited for is gone with the old process.
                x.paused(l.clock.now_millis(), true);
            } else {
                // nephos stopped during an invocation: the function runs again from
                // its last checkpoint.
                x.token = None;
                x.due = true;
            }
        }
        let entry = Arc::new(Entry {
            state: Mutex::new(x.clone()),
            wake: Notify::new(),
            ended: Notify::new(),
        });
        l.durable
            .map
            .lock()
            .unwrap()
            .insert(x.arn.clone(), entry.clone());
        if live {
            running.push(entry);
        }
    }
    let l = l.clone();
    tokio::spawn(async move {
        while !l.dispatcher.is_wired() {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        for e in running {
            tokio::spawn(drive(l.clone(), e));
        }
    });
    Ok(())
}

/// Invoke of a durable function: starts an execution (or reattaches to the one of the
/// same name and payload), then answers at once (`Event`) or with its end.
pub async fn invoke(
    l: &Arc<Lambda>,
    ctx: &RequestContext,
    input: &Value,
    t: Target,
    payload: Bytes,
    kind: &str,
) -> Result<Output, AwsError> {
    let (_, qualifier) = target(ctx, input)?;
    if qualifier.is_none() {
        return Err(param(
            "You must specify a qualified function ARN (a version, an alias or $LATEST) to invoke a durable function.",
        ));
    }
    let durable = t
        .config
        .durable
        .clone()
        .unwrap_or(crate::model::DurableConfig {
            execution_timeout: None,
            retention_days: crate::model::DEFAULT_RETENTION_DAYS,
            kms_key_arn: None,
        });
    let input_text = String::from_utf8_lossy(&payload).into_owned();
    let now = l.clock.now_millis();
    let name = input.str("DurableExecutionName").map(str::to_owned);
    let existing = name.as_ref().and_then(|n| {
        l.durable.all().into_iter().find(|e| {
            let x = e.state.lock().unwrap();
            x.account == ctx.account_id
                && x.region == ctx.region
                && x.function == t.key.function
                && &x.name == n
                && !x.expired(now)
        })
    });
    let entry = match existing {
        Some(e) => {
            let same = {
                let x = e.state.lock().unwrap();
                !terminal(&x.status) && x.input == input_text
            };
            if !same {
                return Err(AwsError::new(
                    409,
                    "DurableExecutionAlreadyStartedException",
                    format!(
                        "A durable execution named {} has already been started.",
                        name.unwrap_or_default()
                    ),
                ));
            }
            e
        }
        None => {
            let id = crate::runtime::uuid();
            let name = name.unwrap_or_else(|| id.clone());
            let function_arn = crate::model::qualified_arn(
                &ctx.region,
                &ctx.account_id,
                &t.key.function,
                Some(&t.key.version),
            );
            let arn = format!("{function_arn}/durable-execution/{name}/{id}");
            let mut x = Execution {
                arn: arn.clone(),
                account: ctx.account_id.clone(),
                region: ctx.region.clone(),
                function: t.key.function.clone(),
                version: t.key.version.clone(),
                name,
                id: id.clone(),
                status: RUNNING.into(),
                input: input_text.clone(),
                result: None,
                error: None,
                start_ms: now,
                end_ms: None,
                timeout_s: durable.execution_timeout,
                retention_days: durable.retention_days,
                kms_key_arn: durable.kms_key_arn.clone(),
                token: None,
                token_seq: 0,
                ops: vec![Op {
                    id: id.clone(),
                    kind: "EXECUTION".into(),
                    status: "STARTED".into(),
                    start_ms: now,
                    input: Some(input_text.clone()),
                    ..Op::default()
                }],
                events: Vec::new(),
                due: true,
                changed: Vec::new(),
                failures: 0,
                pause: None,
                timeout_paused_ms: 0,
                client_tokens: Vec::new(),
            };
            let mut started = json!({"Input": {"Payload": input_text, "Truncated": false}});
            if let Some(t) = durable.execution_timeout {
                started["ExecutionTimeout"] = json!(t);
            }
            x.event(
                now,
                "ExecutionStarted",
                None,
                Some(("ExecutionStartedDetails", started)),
            );
            commit(l, record(&x)).await?;
            let entry = Arc::new(Entry {
                state: Mutex::new(x),
                wake: Notify::new(),
                ended: Notify::new(),
            });
            l.durable.map.lock().unwrap().insert(arn, entry.clone());
            tokio::spawn(drive(l.clone(), entry.clone()));
            entry
        }
    };
    let arn = entry.state.lock().unwrap().arn.clone();
    if kind == "Event" {
        return Ok(Output {
            status: Some(202),
            ..Output::new(
                Value::map()
                    .with("StatusCode", 202i64)
                    .with("DurableExecutionArn", arn.as_str())
                    .with("Payload", Value::Blob(Bytes::new())),
            )
        });
    }
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_millis(SYNC_LIMIT_MS);
    loop {
        let ended = entry.ended.notified();
        let done = {
            let x = entry.state.lock().unwrap();
            terminal(&x.status).then(|| (x.status.clone(), x.result.clone(), x.error.clone()))
        };
        if let Some((status, result, error)) = done {
            let mut out = Value::map()
                .with("StatusCode", 200i64)
                .with("ExecutedVersion", t.key.version.as_str())
                .with("DurableExecutionArn", arn.as_str());
            let body = if status == "SUCCEEDED" {
                result.unwrap_or_default()
            } else {
                out.insert("FunctionError", "Unhandled");
                let e = error.unwrap_or(json!({}));
                json!({
                    "errorType": e["ErrorType"].as_str().unwrap_or(&status),
                    "errorMessage": e["ErrorMessage"].as_str().unwrap_or_default(),
                })
                .to_string()
            };
            out.insert("Payload", Value::Blob(Bytes::from(body)));
            return Ok(Output::new(out));
        }
        if tokio::time::timeout_at(deadline, ended).await.is_err() {
            return Err(AwsError::new(
                408,
                "RequestTimeoutException",
                "The durable execution did not complete within the synchronous invocation limit.",
            ));
        }
    }
}

enum Step {
    Ended,
    Sleep(Option<i64>),
    Invoke(Bytes),
}

/// Runs an execution to its end: invokes the function whenever something it waits for
/// is done, and sleeps on nephos's clock in between.
async fn drive(l: Arc<Lambda>, e: Arc<Entry>) {
    loop {
        let now = l.clock.now_millis();
        let (step, rec) = {
            let mut x = e.state.lock().unwrap();
            if terminal(&x.status) {
                (Step::Ended, None)
            } else if x.timeout_deadline().is_some_and(|d| now >= d) {
                let error = json!({"ErrorType": "Execution.Timeout", "ErrorMessage": "The durable execution timed out."});
                x.end(now, "TIMED_OUT", None, Some(error));
                (Step::Ended, Some(record(&x)))
            } else {
                let fired = x.fire_timers(now);
                // A paused execution's waits and callbacks complete, but the function
                // is not invoked until it is resumed.
                if x.due && x.status == RUNNING {
                    x.due = false;
                    x.changed.clear();
                    let ev = x.invocation_event();
                    (Step::Invoke(ev), Some(record(&x)))
                } else {
                    (Step::Sleep(x.next_deadline()), fired.then(|| record(&x)))
                }
            }
        };
        if let Some(r) = rec {
            let _ = commit(&l, r).await;
        }
        match step {
            Step::Ended => {
                e.ended.notify_waiters();
                return;
            }
            Step::Sleep(deadline) => {
                let sleep = async {
                    match deadline {
                        Some(d) => l.clock.sleep_until(d).await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    _ = sleep => {}
                    _ = e.wake.notified() => {}
                }
            }
            Step::Invoke(payload) => {
                invoke_once(&l, &e, payload).await;
            }
        }
    }
}

/// One invocation of the function for an execution, and what its answer means.
async fn invoke_once(l: &Arc<Lambda>, e: &Arc<Entry>, payload: Bytes) {
    let (account, region, function, version) = {
        let x = e.state.lock().unwrap();
        (
            x.account.clone(),
            x.region.clone(),
            x.function.clone(),
            x.version.clone(),
        )
    };
    let ctx = runtime::service_context(l, &account, &region, "Invoke");
    let input = Value::map()
        .with("FunctionName", function.as_str())
        .with("Qualifier", version.as_str());
    let started = l.clock.now_millis();
    let request_id = crate::runtime::uuid();
    let outcome = match crate::invoke::resolve(l, &ctx, &input) {
        Ok(t) => {
            let request = runtime::Request {
                request_id: request_id.clone(),
                payload,
                trace_id: None,
                client_context: None,
            };
            runtime::run(l, &t, request).await.map(|r| r.outcome)
        }
        Err(err) => Err(err),
    };
    // What the function answered: (status, result, error), or its invocation's error.
    let answer: Result<(String, Option<String>, Option<Json>), Json> = match outcome {
        Ok(Outcome::Response(body)) => match serde_json::from_slice::<Json>(&body) {
            Ok(v) if v["Status"].is_string() => Ok((
                v["Status"].as_str().unwrap_or_default().to_owned(),
                v["Result"].as_str().map(str::to_owned),
                v.get("Error").filter(|e| !e.is_null()).cloned(),
            )),
            _ => Err(json!({
                "ErrorType": "InvalidDurableExecutionOutput",
                "ErrorMessage": "The function's answer is not a durable execution status.",
            })),
        },
        Ok(other) => {
            let body = runtime::error_payload(&other, &request_id).unwrap_or_default();
            let v: Json = serde_json::from_slice(&body).unwrap_or(json!({}));
            Err(json!({
                "ErrorType": v["errorType"].as_str().unwrap_or("Unhandled"),
                "ErrorMessage": v["errorMessage"].as_str().unwrap_or_default(),
            }))
        }
        Err(err) => Err(json!({"ErrorType": err.code, "ErrorMessage": err.message})),
    };
    let now = l.clock.now_millis();
    let rec = {
        let mut x = e.state.lock().unwrap();
        // A pause took the token away: the function's answer (PENDING) means nothing.
        let current = x.token.is_some();
        x.token = None;
        let mut completed = json!({
            "StartTimestamp": started,
            "EndTimestamp": now,
            "RequestId": request_id,
        });
        if let Err(err) = &answer {
            completed["Error"] = json!({"Payload": err, "Truncated": false});
        }
        x.event(
            now,
            "InvocationCompleted",
            None,
            Some(("InvocationCompletedDetails", completed)),
        );
        if current && (x.status == RUNNING || x.status == PAUSING) {
            match answer {
                Ok((status, result, error)) => match status.as_str() {
                    "SUCCEEDED" => {
                        // A result too large for the answer was checkpointed instead.
                        let result = result.filter(|r| !r.is_empty()).or(x.result.clone());
                        x.end(now, "SUCCEEDED", result, None);
                    }
                    "FAILED" => x.end(now, "FAILED", None, error),
                    _ => x.failures = 0,
                },
                Err(err) => {
                    x.failures += 1;
                    if x.failures >= MAX_INVOCATION_FAILURES {
                        x.end(now, "FAILED", None, Some(err));
                    } else {
                        x.due = true;
                    }
                }
            }
            // The invocation ended before checkpointing again: the pause holds now.
            if x.status == PAUSING {
                x.paused(now, false);
            }
        }
        record(&x)
    };
    let _ = commit(l, rec).await;
}

/// CheckpointDurableExecution: the function records its progress.
pub async fn checkpoint(
    l: &Lambda,
    ctx: &RequestContext,
    input: &Value,
) -> Result<Value, AwsError> {
    let arn = input.str("DurableExecutionArn").unwrap_or_default();
    let token = input.str("CheckpointToken").unwrap_or_default();
    let e =
        find(l, ctx, arn).ok_or_else(|| param(format!("Durable execution not found: {arn}")))?;
    let now = l.clock.now_millis();
    let (out, rec) = {
        let mut x = e.state.lock().unwrap();
        if x.token.as_deref() != Some(token) {
            return Err(param("Invalid checkpoint token."));
        }
        let snapshot = x.clone();
        let mut touched: Vec<String> = Vec::new();
        for u in input
            .get("Updates")
            .and_then(Value::as_list)
            .unwrap_or_default()
        {
            match x.apply(u, now) {
                Ok(Some(id)) => touched.push(id),
                Ok(None) => {}
                Err(err) => {
                    // A checkpoint applies whole or not at all.
                    *x = snapshot;
                    return Err(err);
                }
            }
        }
        touched.append(&mut x.changed);
        let mut seen = std::collections::HashSet::new();
        let ops: Vec<Value> = touched
            .iter()
            .filter(|id| seen.insert(id.to_string()))
            .filter_map(|id| x.op(id))
            .map(|o| to_value(&o.to_json()))
            .collect();
        let mut out = Value::map().with(
            "NewExecutionState",
            Value::map().with("Operations", Value::List(ops)),
        );
        if x.status == RUNNING {
            out.insert("CheckpointToken", x.new_token());
        } else if x.status == PAUSING {
            // Without a new token the SDK ends the invocation as PENDING.
            x.paused(now, true);
        }
        (out, record(&x))
    };
    commit(l, rec).await?;
    if terminal(&e.state.lock().unwrap().status) {
        e.wake.notify_one();
        e.ended.notify_waiters();
    }
    Ok(out)
}

/// `Marker`/`MaxItems` paging over `items`: the page and the next marker.
fn page<T: Clone>(
    items: &[T],
    input: &Value,
    default: usize,
) -> Result<(Vec<T>, Option<String>), AwsError> {
    let start = match input.str("Marker").filter(|m| !m.is_empty()) {
        Some(m) => m.parse::<usize>().map_err(|_| param("Invalid marker."))?,
        None => 0,
    };
    let max = match input.int("MaxItems") {
        Some(n) if n > 0 => n as usize,
        _ => default,
    };
    let end = (start + max).min(items.len());
    let page = items
        .get(start.min(items.len())..end)
        .unwrap_or_default()
        .to_vec();
    Ok((page, (end < items.len()).then(|| end.to_string())))
}

/// GetDurableExecutionState: the operations, for the invocation holding the token.
pub fn get_state(l: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value, AwsError> {
    let arn = input.str("DurableExecutionArn").unwrap_or_default();
    let e =
        find(l, ctx, arn).ok_or_else(|| param(format!("Durable execution not found: {arn}")))?;
    let x = e.state.lock().unwrap();
    if x.token.as_deref() != input.str("CheckpointToken") {
        return Err(param("Invalid checkpoint token."));
    }
    let (ops, next) = page(&x.ops, input, 1000)?;
    let mut v = Value::map().with(
        "Operations",
        Value::List(ops.iter().map(|o| to_value(&o.to_json())).collect()),
    );
    if let Some(n) = next {
        v.insert("NextMarker", n);
    }
    Ok(v)
}

fn include_data(input: &Value) -> bool {
    input.bool("IncludeExecutionData").unwrap_or(true)
}

/// GetDurableExecution.
pub fn get(l: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value, AwsError> {
    let arn = input.str("DurableExecutionArn").unwrap_or_default();
    let e = find(l, ctx, arn).ok_or_else(|| execution_not_found(arn))?;
    let x = e.state.lock().unwrap();
    let mut v = x.summary().with("Version", x.version.as_str());
    let mut dc = Value::map().with("RetentionPeriodInDays", i64::from(x.retention_days));
    if let Some(t) = x.timeout_s {
        dc.insert("ExecutionTimeout", i64::from(t));
        // While a pause holds the timeout, as if it were resumed now.
        let held = match &x.pause {
            Some(Pause {
                timeout_paused: true,
                paused_ms: Some(p),
                ..
            }) => l.clock.now_millis() - p,
            _ => 0,
        };
        let at = x.start_ms + i64::from(t) * 1000 + x.timeout_paused_ms + held;
        v.insert(
            "ExpectedExecutionTimeoutTimestamp",
            Value::Timestamp(Timestamp::from_millis(at)),
        );
    }
    if let Some(p) = &x.pause {
        let mut d = Value::map()
            .with(
                "PauseRequestTimestamp",
                Value::Timestamp(Timestamp::from_millis(p.request_ms)),
            )
            .with("ExecutionTimeoutPaused", p.timeout_paused);
        if let Some(r) = p.reason.as_deref().filter(|_| include_data(input)) {
            d.insert("Reason", r);
        }
        v.insert("PauseDetails", d);
    }
    if let Some(k) = &x.kms_key_arn {
        dc.insert("KMSKeyArn", k.as_str());
    }
    v.insert("DurableConfig", dc);
    if let Some(err) = &x.error {
        v.insert("Error", to_value(err));
    }
    if include_data(input) {
        v.insert("ExecutionDataIncluded", true);
        v.insert("InputPayload", x.input.as_str());
        if let Some(r) = &x.result {
            v.insert("Result", r.as_str());
        }
    } else {
        v.insert("ExecutionDataIncluded", false);
    }
    Ok(v)
}

/// GetDurableExecutionHistory: the execution's events, oldest first unless reversed.
pub fn history(l: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value, AwsError> {
    let arn = input.str("DurableExecutionArn").unwrap_or_default();
    let e = find(l, ctx, arn).ok_or_else(|| execution_not_found(arn))?;
    let mut events = e.state.lock().unwrap().events.clone();
    if input.bool("ReverseOrder") == Some(true) {
        events.reverse();
    }
    if !include_data(input) {
        for ev in &mut events {
            if let Some(o) = ev.as_object_mut() {
                for (_, d) in o.iter_mut().filter(|(k, _)| k.ends_with("Details")) {
                    for k in ["Input", "Result", "Error"] {
                        if let Some(p) = d.get_mut(k).and_then(Json::as_object_mut) {
                            p.remove("Payload");
                        }
                    }
                }
            }
        }
    }
    let (events, next) = page(&events, input, 100)?;
    let mut v = Value::map().with("Events", Value::List(events.iter().map(to_value).collect()));
    if let Some(n) = next {
        v.insert("NextMarker", n);
    }
    Ok(v)
}

/// ListDurableExecutionsByFunction.
pub fn list(l: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value, AwsError> {
    let (name, qualifier) = target(ctx, input)?;
    let version = {
        let region = l.regions.get(ctx);
        let fns = region.functions.lock().unwrap();
        let f = fns.get(&name).ok_or_else(|| not_found(ctx, &name, None))?;
        match qualifier.as_deref() {
            None => None,
            Some(q) => Some(
                f.resolve(Some(q))
                    .map(|(v, _)| v)
                    .ok_or_else(|| not_found(ctx, &name, Some(q)))?,
            ),
        }
    };
    let statuses: Vec<String> = input
        .get("Statuses")
        .and_then(Value::as_list)
        .unwrap_or_default()
        .iter()
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect();
    let ms = |k: &str| match input.get(k) {
        Some(Value::Timestamp(t)) => Some(t.as_millis()),
        _ => None,
    };
    let (after, before) = (ms("StartedAfter"), ms("StartedBefore"));
    let now = l.clock.now_millis();
    let mut found: Vec<(i64, String, Value)> = l
        .durable
        .all()
        .iter()
        .filter_map(|e| {
            let x = e.state.lock().unwrap();
            let keep = x.account == ctx.account_id
                && x.region == ctx.region
                && x.function == name
                && !x.expired(now)
                && version.as_ref().is_none_or(|v| &x.version == v)
                && input
                    .str("DurableExecutionName")
                    .is_none_or(|n| n == x.name)
                && (statuses.is_empty() || statuses.contains(&x.status))
                && after.is_none_or(|a| x.start_ms > a)
                && before.is_none_or(|b| x.start_ms < b);
            keep.then(|| (x.start_ms, x.arn.clone(), x.summary()))
        })
        .collect();
    found.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    if input.bool("ReverseOrder") == Some(true) {
        found.reverse();
    }
    let items: Vec<Value> = found.into_iter().map(|(_, _, v)| v).collect();
    let (items, next) = page(&items, input, 50)?;
    let mut v = Value::map().with("DurableExecutions", Value::List(items));
    if let Some(n) = next {
        v.insert("NextMarker", n);
    }
    Ok(v)
}

/// StopDurableExecution: ends a running execution as `STOPPED`.
pub async fn stop(l: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value, AwsError> {
    let arn = input.str("DurableExecutionArn").unwrap_or_default();
    let e = find(l, ctx, arn).ok_or_else(|| execution_not_found(arn))?;
    let now = l.clock.now_millis();
    let rec = {
        let mut x = e.state.lock().unwrap();
        if terminal(&x.status) {
            return Err(param(format!(
                "Durable execution {arn} is not running: its status is {}.",
                x.status
            )));
        }
        let error = input.get("Error").map(error_json);
        x.end(now, "STOPPED", None, error);
        record(&x)
    };
    commit(l, rec).await?;
    e.wake.notify_one();
    e.ended.notify_waiters();
    Ok(Value::map().with(
        "StopTimestamp",
        Value::Timestamp(Timestamp::from_millis(now)),
    ))
}

/// The execution and operation a callback id names (they are encoded in it).
fn callback(
    l: &Lambda,
    ctx: &RequestContext,
    input: &Value,
) -> Result<(Arc<Entry>, String), AwsError> {
    let id = input.str("CallbackId").unwrap_or_default();
    let nf = || resource_not_found(format!("Callback not found: {id}"));
    let text = base64::engine::general_purpose::STANDARD
        .decode(id)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(nf)?;
    let mut parts = text.split('|');
    let (Some(arn), Some(op)) = (parts.next(), parts.next()) else {
        return Err(nf());
    };
    let e = find(l, ctx, arn).ok_or_else(nf)?;
    let ok = e
        .state
        .lock()
        .unwrap()
        .op(op)
        .is_some_and(|o| o.callback_id.as_deref() == Some(id));
    if !ok {
        return Err(nf());
    }
    Ok((e, op.to_owned()))
}

/// SendDurableExecutionCallbackSuccess/Failure/Heartbeat.
pub async fn send_callback(
    l: &Lambda,
    ctx: &RequestContext,
    input: &Value,
) -> Result<Value, AwsError> {
    let (e, op) = callback(l, ctx, input)?;
    let now = l.clock.now_millis();
    let rec = {
        let mut x = e.state.lock().unwrap();
        x.fire_timers(now);
        let status = x.op(&op).map(|o| o.status.clone()).unwrap_or_default();
        if status == "TIMED_OUT" {
            return Err(AwsError::new(
                400,
                "CallbackTimeoutException",
                "The callback has timed out.",
            ));
        }
        if status != "STARTED" || terminal(&x.status) {
            return Err(param(format!(
                "The callback has already completed: its status is {status}."
            )));
        }
        let Some(o) = x.op_mut(&op) else {
            return Err(resource_not_found("Callback not found."));
        };
        let event = match ctx.operation.as_str() {
            "SendDurableExecutionCallbackSuccess" => {
                let result = match input.get("Result") {
                    Some(Value::Blob(b)) => String::from_utf8_lossy(b).into_owned(),
                    _ => String::new(),
                };
                o.status = "SUCCEEDED".into();
                o.end_ms = Some(now);
                o.result = Some(result.clone());
                Some((
                    "CallbackSucceeded",
                    json!({"Result": {"Payload": result, "Truncated": false}}),
                ))
            }
            "SendDurableExecutionCallbackFailure" => {
                let error = input.get("Error").map(error_json).unwrap_or(json!({}));
                o.status = "FAILED".into();
                o.end_ms = Some(now);
                o.error = Some(error.clone());
                Some((
                    "CallbackFailed",
                    json!({"Error": {"Payload": error, "Truncated": false}}),
                ))
            }
            _ => {
                o.heartbeat_ms = Some(now);
                None
            }
        };
        if let Some((kind, details)) = event {
            let key = format!("{kind}Details");
            x.event(now, kind, Some(&op), Some((&key, details)));
            x.changed.push(op.clone());
            x.due = true;
        }
        record(&x)
    };
    commit(l, rec).await?;
    e.wake.notify_one();
    Ok(Value::map())
}

/// PauseDurableExecution: holds a running execution. With an invocation in flight it
/// is `PAUSING` until that invocation checkpoints or ends, then `PAUSED`.
pub async fn pause(l: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value, AwsError> {
    let arn = input.str("DurableExecutionArn").unwrap_or_default();
    let e = find(l, ctx, arn).ok_or_else(|| execution_not_found(arn))?;
    let now = l.clock.now_millis();
    let reason = input.str("Reason").map(str::to_owned);
    let timeout_paused = input.bool("ExecutionTimeoutPaused").unwrap_or(false);
    let request = json!(["pause", reason, timeout_paused]).to_string();
    let rec = {
        let mut x = e.state.lock().unwrap();
        if x.repeated(input, &request, now)? {
            return Ok(Value::map());
        }
        if x.status != RUNNING {
            return Err(conflict(format!(
                "Durable execution {arn} can't be paused: its status is {}.",
                x.status
            )));
        }
        x.pause = Some(Pause {
            request_ms: now,
            reason,
            timeout_paused,
            paused_ms: None,
            interrupted: false,
        });
        if x.token.is_some() {
            x.status = PAUSING.into();
        } else {
            x.paused(now, false);
        }
        x.remember(input, &request, now);
        record(&x)
    };
    commit(l, rec).await?;
    e.wake.notify_one();
    Ok(Value::map())
}

/// ResumeDurableExecution: lets a paused execution go on. The function is invoked if
/// the pause cut an invocation short or something completed meanwhile; resuming a
/// `PAUSING` execution cancels the pause and its invocation goes on.
pub async fn resume_execution(
    l: &Lambda,
    ctx: &RequestContext,
    input: &Value,
) -> Result<Value, AwsError> {
    let arn = input.str("DurableExecutionArn").unwrap_or_default();
    let e = find(l, ctx, arn).ok_or_else(|| execution_not_found(arn))?;
    let now = l.clock.now_millis();
    let reason = input.str("Reason").map(str::to_owned);
    let request = json!(["resume", reason]).to_string();
    let rec = {
        let mut x = e.state.lock().unwrap();
        if x.repeated(input, &request, now)? {
            return Ok(Value::map());
        }
        match x.status.as_str() {
            PAUSING => {
                x.status = RUNNING.into();
                x.pause = None;
            }
            PAUSED => {
                if let Some(p) = x.pause.take() {
                    if p.timeout_paused {
                        x.timeout_paused_ms += now - p.paused_ms.unwrap_or(now);
                    }
                    if p.interrupted {
                        x.due = true;
                    }
                }
                x.status = RUNNING.into();
                let mut d = json!({"ResumeRequestTimestamp": now});
                if let Some(r) = &reason {
                    d["Reason"] = json!({"Payload": r, "Truncated": false});
                }
                x.event(
                    now,
                    "ExecutionResumed",
                    None,
                    Some(("ExecutionResumedDetails", d)),
                );
            }
            status => {
                return Err(conflict(format!(
                    "Durable execution {arn} can't be resumed: its status is {status}."
                )));
            }
        }
        x.remember(input, &request, now);
        record(&x)
    };
    commit(l, rec).await?;
    e.wake.notify_one();
    Ok(Value::map())
}

/// DeleteDurableExecution: removes an ended execution and its data.
pub async fn delete(l: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value, AwsError> {
    let arn = input.str("DurableExecutionArn").unwrap_or_default();
    let e = find(l, ctx, arn).ok_or_else(|| execution_not_found(arn))?;
    {
        let x = e.state.lock().unwrap();
        if !terminal(&x.status) {
            return Err(conflict(format!(
                "Durable execution {arn} can't be deleted: its status is {}. Only an execution in a terminal state (SUCCEEDED, FAILED, STOPPED or TIMED_OUT) can be deleted.",
                x.status
            )));
        }
    }
    commit(l, nephos_storage::Mutation::delete(TABLE, arn.as_bytes())).await?;
    l.durable.map.lock().unwrap().remove(arn);
    Ok(Value::map().with(
        "DeletionRequestTimestamp",
        Value::Timestamp(Timestamp::from_millis(l.clock.now_millis())),
    ))
}
