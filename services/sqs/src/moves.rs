//! Message move tasks: taking messages out of a dead-letter queue, back to where they came
//! from or to a chosen queue, at a rate, on the shared clock.

use crate::errors;
use crate::messages::move_to;
use crate::queue::Moved;
use crate::state::Core;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use nephos_core::{AwsError, Clock, RequestContext, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

/// Messages moved per second when the caller sets no rate.
const DEFAULT_RATE: i64 = 500;

pub struct Task {
    pub handle: String,
    pub source_arn: String,
    pub dest_arn: Option<String>,
    pub rate: Option<i64>,
    pub started_ms: i64,
    pub to_move: i64,
    pub moved: AtomicI64,
    /// RUNNING, COMPLETED, CANCELLING, CANCELLED or FAILED.
    pub status: Mutex<String>,
    pub failure: Mutex<Option<String>>,
}

/// Tasks by source queue ARN, newest last.
#[derive(Default)]
pub struct Tasks(Mutex<HashMap<String, Vec<Arc<Task>>>>);

fn not_found(what: &str) -> AwsError {
    AwsError::new(404, "ResourceNotFoundException", what.to_owned())
}

fn is_dead_letter_queue(core: &Core, account: &str, region: &str, arn: &str) -> bool {
    let region = core.regions.get_for(account, region);
    let queues: Vec<_> = region.queues.read().unwrap().values().cloned().collect();
    queues.iter().any(|q| {
        q.inner
            .lock()
            .unwrap()
            .meta()
            .attrs
            .get("RedrivePolicy")
            .and_then(|p| crate::attributes::redrive_policy(p).ok())
            .is_some_and(|p| p.target_arn == arn)
    })
}

pub fn start(core: &Arc<Core>, ctx: &RequestContext, input: &Value) -> Result<Value, AwsError> {
    let source_arn = input.str("SourceArn").unwrap_or_default().to_owned();
    let source = core
        .by_arn(&source_arn)
        .filter(|q| q.account == ctx.account_id)
        .ok_or_else(|| {
            not_found("The resource that you specified for the SourceArn parameter doesn't exist.")
        })?;
    if !is_dead_letter_queue(core, &source.account, &source.region, &source.arn) {
        return Err(errors::invalid_parameter(
            "Source queue must be configured as a Dead Letter Queue.",
        ));
    }
    let dest_arn = input.str("DestinationArn").map(str::to_owned);
    if let Some(d) = &dest_arn
        && core.by_arn(d).is_none()
    {
        return Err(not_found(
            "The resource that you specified for the DestinationArn parameter doesn't exist.",
        ));
    }
    let rate = input.int("MaxNumberOfMessagesPerSecond");
    if let Some(r) = rate
        && !(1..=500).contains(&r)
    {
        return Err(errors::invalid_parameter(
            "Value for parameter MaxNumberOfMessagesPerSecond is invalid. Reason: must be between 1 and 500.",
        ));
    }
    let mut tasks = core.tasks.0.lock().unwrap();
    let list = tasks.entry(source_arn.clone()).or_default();
    if list.iter().any(|t| *t.status.lock().unwrap() == "RUNNING") {
        return Err(errors::invalid_parameter(
            "There is already a task running. Only one active task is allowed for a source queue arn at a given time.",
        ));
    }
    let now = ctx.clock.now_millis();
    let to_move = source.inner.lock().unwrap().counts().0 as i64;
    let id = nephos_core::request_id();
    let task = Arc::new(Task {
        handle: B64.encode(serde_json::json!({"taskId": id, "sourceArn": source_arn}).to_string()),
        source_arn,
        dest_arn,
        rate,
        started_ms: now,
        to_move,
        moved: AtomicI64::new(0),
        status: Mutex::new("RUNNING".into()),
        failure: Mutex::new(None),
    });
    list.push(task.clone());
    drop(tasks);
    let handle = task.handle.clone();
    tokio::spawn(run(core.clone(), ctx.clock.clone(), task));
    Ok(Value::map().with("TaskHandle", handle))
}

async fn run(core: Arc<Core>, clock: Arc<Clock>, task: Arc<Task>) {
    let per_second = task.rate.unwrap_or(DEFAULT_RATE) as usize;
    loop {
        if *task.status.lock().unwrap() != "RUNNING" {
            *task.status.lock().unwrap() = "CANCELLED".into();
            return;
        }
        let Some(source) = core.by_arn(&task.source_arn) else {
            fail(&task, "The source queue was deleted.");
            return;
        };
        let now = clock.now_millis();
        let taken: Vec<Moved> = {
            let mut inner = source.inner.lock().unwrap();
            inner.maintain(now);
            inner
                .visible(per_second)
                .into_iter()
                .filter_map(|seq| {
                    inner.remove(seq).map(|data| Moved {
                        seq,
                        data,
                        receipt: None,
                    })
                })
                .collect()
        };
        if taken.is_empty() {
            *task.status.lock().unwrap() = "COMPLETED".into();
            return;
        }
        // A batch short of the rate drained the queue: the task is done once it is moved.
        let drained = taken.len() < per_second;
        // Group by destination: the chosen queue, else each message's original source.
        let mut by_dest: HashMap<String, Vec<Moved>> = HashMap::new();
        for m in taken {
            let dest = task
                .dest_arn
                .clone()
                .or_else(|| m.data.dlq_source.clone())
                .unwrap_or_default();
            by_dest.entry(dest).or_default().push(m);
        }
        for (dest, msgs) in by_dest {
            let n = msgs.len() as i64;
            let Some(to) = core.by_arn(&dest) else {
                // Nowhere to go: put them back and stop.
                let mut inner = source.inner.lock().unwrap();
                for m in msgs {
                    inner.insert(m.seq, m.data, now);
                }
                drop(inner);
                fail(&task, "The destination queue does not exist.");
                return;
            };
            if let Err(e) = move_to(&core, &source, &to, msgs, now, false).await {
                fail(&task, &e.message);
                return;
            }
            task.moved.fetch_add(n, Ordering::Relaxed);
        }
        if drained {
            let mut status = task.status.lock().unwrap();
            *status = if *status == "RUNNING" {
                "COMPLETED"
            } else {
                "CANCELLED"
            }
            .into();
            return;
        }
        clock.sleep_until(now + 1000).await;
    }
}

fn fail(task: &Task, reason: &str) {
    *task.status.lock().unwrap() = "FAILED".into();
    *task.failure.lock().unwrap() = Some(reason.to_owned());
}

pub fn cancel(core: &Core, input: &Value) -> Result<Value, AwsError> {
    let handle = input.str("TaskHandle").unwrap_or_default();
    // A handle is base64 of {"taskId", "sourceArn"}; its source queue must exist.
    let source_arn = B64
        .decode(handle)
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|doc| {
            doc.get("taskId")?;
            Some(doc.get("sourceArn")?.as_str()?.to_owned())
        })
        .ok_or_else(|| errors::invalid_parameter("Value for parameter TaskHandle is invalid."))?;
    if core.by_arn(&source_arn).is_none() {
        return Err(not_found(
            "The resource that you specified for the SourceArn parameter doesn't exist.",
        ));
    }
    let tasks = core.tasks.0.lock().unwrap();
    let task = tasks
        .values()
        .flatten()
        .find(|t| t.handle == handle)
        .ok_or_else(|| not_found("Task does not exist."))?;
    let mut status = task.status.lock().unwrap();
    if *status != "RUNNING" {
        return Err(errors::invalid_parameter(
            "Only active tasks can be cancelled.",
        ));
    }
    *status = "CANCELLING".into();
    Ok(Value::map().with(
        "ApproximateNumberOfMessagesMoved",
        task.moved.load(Ordering::Relaxed),
    ))
}

pub fn list(core: &Core, ctx: &RequestContext, input: &Value) -> Result<Value, AwsError> {
    let source_arn = input.str("SourceArn").unwrap_or_default();
    if core
        .by_arn(source_arn)
        .filter(|q| q.account == ctx.account_id)
        .is_none()
    {
        return Err(not_found(
            "The resource that you specified for the SourceArn parameter doesn't exist.",
        ));
    }
    let max = input.int("MaxResults").unwrap_or(1);
    if !(1..=10).contains(&max) {
        return Err(errors::invalid_parameter(
            "Value for parameter MaxResults is invalid. Reason: must be between 1 and 10.",
        ));
    }
    let tasks = core.tasks.0.lock().unwrap();
    let results: Vec<Value> = tasks
        .get(source_arn)
        .map(|l| l.iter().rev().take(max as usize).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .map(|t| {
            let status = t.status.lock().unwrap().clone();
            let mut v = Value::map();
            if status == "RUNNING" {
                v.insert("TaskHandle", t.handle.as_str());
            }
            v.insert("Status", status.as_str());
            v.insert("SourceArn", t.source_arn.as_str());
            if let Some(d) = &t.dest_arn {
                v.insert("DestinationArn", d.as_str());
            }
            if let Some(r) = t.rate {
                v.insert("MaxNumberOfMessagesPerSecond", r);
            }
            v.insert(
                "ApproximateNumberOfMessagesMoved",
                t.moved.load(Ordering::Relaxed),
            );
            v.insert("ApproximateNumberOfMessagesToMove", t.to_move);
            if let Some(f) = t.failure.lock().unwrap().clone() {
                v.insert("FailureReason", f);
            }
            v.insert("StartedTimestamp", t.started_ms);
            v
        })
        .collect();
    Ok(Value::map().with("Results", results))
}
