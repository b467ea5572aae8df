//! Asynchronous invocations (`InvocationType=Event`, InvokeAsync and the services that
//! invoke asynchronously): a durable internal queue, AWS's retries on nephos's clock
//! within the maximum event age, then the dead-letter queue and the destinations of the
//! event invoke configuration of the qualifier the caller invoked.
//!
//! The configuration is read again before every decision, as AWS applies a change to
//! events already queued; an event accepted before a restart follows it too.

use crate::Lambda;
use crate::env::Outcome;
use crate::model::{self, LATEST};
use crate::runtime::{self, Target};
use bytes::Bytes;
use nephos_core::{AwsError, RequestContext, Timestamp, Value};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::Arc;

pub const ASYNC: &str = "lambda.async";

/// AWS's defaults without an event invoke configuration: two retries, six hours.
const DEFAULT_RETRIES: u32 = 2;
const DEFAULT_MAX_AGE_SECONDS: u32 = 6 * 3600;

/// An accepted asynchronous invocation, stored until it has run (or been given up).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Queued {
    pub id: String,
    pub account: String,
    pub region: String,
    pub function: String,
    /// The qualifier the caller invoked (alias routing happens per attempt).
    pub qualifier: Option<String>,
    pub payload: String,
    pub accepted_ms: i64,
    pub attempts: u32,
    pub trace: Option<String>,
    /// The last failed attempt, so that an event given up after a restart still reports
    /// what its function answered.
    #[serde(default)]
    pub last: Option<Attempt>,
    /// When the next retry is due (on nephos's clock): a restart keeps AWS's delay.
    #[serde(default)]
    pub next_ms: i64,
}

/// What one attempt ended with, as the invocation record's `responseContext` and
/// `responsePayload` report it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Attempt {
    /// 200 when the function ran (even if it failed), else the status of the error.
    pub status: u16,
    pub executed_version: String,
    /// `Unhandled` when the function failed.
    pub function_error: Option<String>,
    /// The function's response or error document.
    pub payload: String,
}

impl Attempt {
    fn failed(&self) -> bool {
        self.function_error.is_some() || self.status != 200
    }

    /// The message of the error, as the dead-letter queue's `ErrorMessage` carries it.
    fn error_message(&self) -> String {
        serde_json::from_str::<serde_json::Value>(&self.payload)
            .ok()
            .and_then(|v| v["errorMessage"].as_str().map(str::to_owned))
            .unwrap_or_else(|| self.payload.clone())
    }
}

/// Why an event was given up (the record's `condition`).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Condition {
    Success,
    RetriesExhausted,
    EventAgeExceeded,
    ZeroReservedConcurrency,
}

impl Condition {
    fn as_str(self) -> &'static str {
        match self {
            Condition::Success => "Success",
            Condition::RetriesExhausted => "RetriesExhausted",
            Condition::EventAgeExceeded => "EventAgeExceeded",
            Condition::ZeroReservedConcurrency => "ZeroReservedConcurrency",
        }
    }
}

pub async fn enqueue(
    l: &Arc<Lambda>,
    ctx: &RequestContext,
    t: &Target,
    payload: Bytes,
) -> Result<(), AwsError> {
    let q = Queued {
        // Every attempt runs under Invoke's own request id, as on AWS.
        id: ctx.request_id.clone(),
        account: ctx.account_id.clone(),
        region: ctx.region.clone(),
        function: t.key.function.clone(),
        qualifier: t
            .invoked_arn
            .rsplit_once(&format!("function:{}:", t.key.function))
            .map(|(_, q)| q.to_owned()),
        payload: String::from_utf8_lossy(&payload).into_owned(),
        accepted_ms: ctx.clock.now_millis(),
        attempts: 0,
        trace: ctx.trace_header.clone(),
        last: None,
        next_ms: 0,
    };
    let record = serde_json::to_vec(&q).map_err(|e| AwsError::internal(e.to_string()))?;
    crate::state::commit(
        &l.storage,
        vec![nephos_storage::Mutation::put(
            ASYNC,
            q.id.as_bytes(),
            record,
        )],
    )
    .await?;
    tokio::spawn(run_async(l.clone(), q));
    Ok(())
}

/// Retries, event age and destinations in force for `q` now.
struct Policy {
    max_retries: u32,
    max_age_ms: i64,
    on_success: Option<String>,
    on_failure: Option<String>,
}

fn policy(l: &Lambda, q: &Queued) -> Policy {
    let c = crate::configs::event_invoke_config(
        l,
        &q.account,
        &q.region,
        &q.function,
        q.qualifier.as_deref(),
    );
    let c = c.as_ref();
    Policy {
        max_retries: c
            .and_then(|c| c.maximum_retry_attempts)
            .unwrap_or(DEFAULT_RETRIES),
        max_age_ms: i64::from(
            c.and_then(|c| c.maximum_event_age)
                .unwrap_or(DEFAULT_MAX_AGE_SECONDS),
        ) * 1000,
        on_success: c.and_then(|c| c.on_success.clone()),
        on_failure: c.and_then(|c| c.on_failure.clone()),
    }
}

/// AWS retries a failed asynchronous invocation (twice by default), about a minute and
/// then two minutes later, within the maximum event age (6 hours by default). A retry
/// that could not start before the event is too old is not waited for: the event is
/// given up at once (AWS, recorded: with a 60-second age, the failure record comes right
/// after the first attempt).
pub async fn run_async(l: Arc<Lambda>, mut q: Queued) {
    if q.next_ms > l.clock.now_millis() {
        l.clock.sleep_until(q.next_ms).await;
    }
    loop {
        let mut input = Value::map().with("FunctionName", q.function.as_str());
        if let Some(qual) = &q.qualifier {
            input.insert("Qualifier", qual.as_str());
        }
        let ctx = runtime::service_context(&l, &q.account, &q.region, "Invoke");
        let t = match crate::invoke::resolve(&l, &ctx, &input) {
            Ok(t) => t,
            Err(e) if e.code == "ResourceConflictException" => {
                l.clock.sleep_until(l.clock.now_millis() + 1000).await;
                continue;
            }
            // The function (or the qualifier) is gone: nothing is left to report to.
            Err(_) => break,
        };
        let p = policy(&l, &q);
        if l.clock.now_millis() - q.accepted_ms > p.max_age_ms {
            give_up(&l, &q, &t, &p, Condition::EventAgeExceeded).await;
            break;
        }
        let result = runtime::run(
            &l,
            &t,
            runtime::Request {
                request_id: q.id.clone(),
                payload: Bytes::from(q.payload.clone()),
                trace_id: q.trace.clone(),
                client_context: None,
            },
        )
        .await;
        let attempt = match result {
            Ok(r) => match &r.outcome {
                Outcome::Response(body) => Attempt {
                    status: 200,
                    executed_version: t.key.version.clone(),
                    function_error: None,
                    payload: String::from_utf8_lossy(body).into_owned(),
                },
                other => Attempt {
                    status: 200,
                    executed_version: t.key.version.clone(),
                    function_error: Some("Unhandled".into()),
                    payload: runtime::error_payload(other, &r.request_id)
                        .map(|b| String::from_utf8_lossy(&b).into_owned())
                        .unwrap_or_default(),
                },
            },
            Err(e) if e.status == 429 => {
                // AWS: with reserved concurrency 0, events go to the dead-letter queue or
                // the on-failure destination at once, without retries. Without either,
                // the event waits for concurrency within its age, as for any throttle.
                if t.reserved == Some(0)
                    && (p.on_failure.is_some() || t.config.dead_letter_target.is_some())
                {
                    q.last = Some(Attempt {
                        status: e.status,
                        executed_version: t.key.version.clone(),
                        function_error: None,
                        payload: json!({"errorType": e.code, "errorMessage": e.message})
                            .to_string(),
                    });
                    give_up(&l, &q, &t, &p, Condition::ZeroReservedConcurrency).await;
                    break;
                }
                l.clock.sleep_until(l.clock.now_millis() + 1000).await;
                continue;
            }
            Err(e) => Attempt {
                status: e.status,
                executed_version: t.key.version.clone(),
                function_error: None,
                payload: json!({"errorType": e.code, "errorMessage": e.message}).to_string(),
            },
        };
        q.attempts += 1;
        let failed = attempt.failed();
        q.last = Some(attempt);
        if !failed {
            give_up(&l, &q, &t, &p, Condition::Success).await;
            break;
        }
        if q.attempts > p.max_retries {
            give_up(&l, &q, &t, &p, Condition::RetriesExhausted).await;
            break;
        }
        let delay = if q.attempts == 1 { 60_000 } else { 120_000 };
        let next = l.clock.now_millis() + delay;
        if next - q.accepted_ms > p.max_age_ms {
            give_up(&l, &q, &t, &p, Condition::EventAgeExceeded).await;
            break;
        }
        q.next_ms = next;
        if let Ok(record) = serde_json::to_vec(&q) {
            let _ = l
                .storage
                .commit(vec![nephos_storage::Mutation::put(
                    ASYNC,
                    q.id.as_bytes(),
                    record,
                )])
                .await;
        }
        l.clock.sleep_until(next).await;
    }
    let _ = l
        .storage
        .commit(vec![nephos_storage::Mutation::delete(
            ASYNC,
            q.id.as_bytes(),
        )])
        .await;
}

/// The end of an event: its record to the destination for `condition`, and a failed
/// event's payload to the dead-letter queue too (AWS sends to both when both are set).
async fn give_up(l: &Arc<Lambda>, q: &Queued, t: &Target, p: &Policy, condition: Condition) {
    let destination = if condition == Condition::Success {
        &p.on_success
    } else {
        &p.on_failure
    };
    if let Some(arn) = destination {
        let record = invocation_record(l, q, condition);
        if let Err(e) = deliver(l, q, arn, record).await {
            tracing::warn!(error = %e.message, function = %q.function, destination = %arn, "delivery to the destination failed");
        }
    }
    if condition != Condition::Success
        && let Some(dlq) = &t.config.dead_letter_target
    {
        dead_letter(l, q, dlq).await;
    }
}

/// AWS's invocation record, keys in its order: the request, and the last attempt's
/// response when there was one (an event never run has none).
fn invocation_record(l: &Lambda, q: &Queued, condition: Condition) -> String {
    let ts = Timestamp::from_millis(l.clock.now_millis()).to_iso8601();
    // Always with milliseconds, as AWS writes it.
    let ts = if ts.contains('.') {
        ts
    } else {
        ts.replace('Z', ".000Z")
    };
    let qualifier = q.qualifier.as_deref().unwrap_or(LATEST);
    let mut record = json!({
        "version": "1.0",
        "timestamp": ts,
        "requestContext": {
            "requestId": q.id,
            "functionArn": model::qualified_arn(&q.region, &q.account, &q.function, Some(qualifier)),
            "condition": condition.as_str(),
            "approximateInvokeCount": q.attempts,
        },
        "requestPayload": as_json(&q.payload, json!({})),
    });
    if let Some(a) = q.last.as_ref().filter(|_| q.attempts > 0) {
        let mut response = json!({
            "statusCode": a.status,
            "executedVersion": a.executed_version,
        });
        if let Some(fe) = &a.function_error {
            response["functionError"] = json!(fe);
        }
        record["responseContext"] = response;
        record["responsePayload"] = as_json(&a.payload, serde_json::Value::Null);
    }
    record.to_string()
}

/// A payload as JSON (`empty` when there is none; text that is not JSON as a string).
fn as_json(s: &str, empty: serde_json::Value) -> serde_json::Value {
    if s.trim().is_empty() {
        return empty;
    }
    serde_json::from_str(s).unwrap_or_else(|_| json!(s))
}

/// Sends an invocation record to a destination, as the function's account. (On AWS the
/// function's execution role sends it, and needs the permission to.)
async fn deliver(l: &Arc<Lambda>, q: &Queued, arn: &str, record: String) -> Result<(), AwsError> {
    let mut parts = arn.split(':');
    let service = parts.nth(2).unwrap_or_default();
    let region = parts.next().unwrap_or(&q.region).to_owned();
    match service {
        "sqs" | "sns" => l.send_to(&q.account, arn, &record, None).await,
        "lambda" => {
            let ctx = runtime::service_context(l, &q.account, &region, "Invoke");
            l.dispatcher
                .call(
                    &ctx,
                    "lambda",
                    "Invoke",
                    Value::map()
                        .with("FunctionName", arn)
                        .with("InvocationType", "Event")
                        .with("Payload", Value::Blob(Bytes::from(record))),
                )
                .await
                .map(|_| ())
        }
        // TODO: EventBridge destinations (PutEvents of the record as `detail`, with
        // detail-type "Lambda Function Invocation Result - Success"/"- Failure", source
        // "lambda" and the bus and function ARNs as resources) once nephos has
        // EventBridge. Until then the record is not delivered, and says so.
        "events" => {
            tracing::warn!(function = %q.function, destination = %arn, "EventBridge destinations are not supported by nephos yet: the invocation record was not delivered");
            Ok(())
        }
        // TODO: S3 on-failure destinations (an object per record) are not delivered yet.
        _ => {
            tracing::warn!(function = %q.function, destination = %arn, "this destination type is not supported by nephos yet: the invocation record was not delivered");
            Ok(())
        }
    }
}

/// The event itself to the dead-letter queue or topic, with AWS's `RequestID`,
/// `ErrorCode` (the failed invocation's HTTP status, a Number) and `ErrorMessage`.
async fn dead_letter(l: &Arc<Lambda>, q: &Queued, dlq: &str) {
    let (status, error_message) = match &q.last {
        Some(a) => (a.status.to_string(), a.error_message()),
        None => ("500".to_owned(), String::new()),
    };
    let number = |v: &str| {
        Value::map()
            .with("DataType", "Number")
            .with("StringValue", v)
    };
    let attr = |v: &str| {
        Value::map()
            .with("DataType", "String")
            .with("StringValue", v)
    };
    let mut attributes = Value::map()
        .with("RequestID", attr(&q.id))
        .with("ErrorCode", number(&status));
    // SQS and SNS refuse an empty attribute value.
    if !error_message.is_empty() {
        attributes.insert("ErrorMessage", attr(&error_message));
    }
    let result = l
        .send_to(&q.account, dlq, &q.payload, Some(attributes))
        .await;
    if let Err(e) = result {
        tracing::warn!(error = %e.message, function = %q.function, "delivery to the dead-letter target failed");
    }
}
