//! Invoke: synchronous (RequestResponse), asynchronous (Event: accepted here and run by
//! [`crate::asyncinv`]) and DryRun.

use crate::Lambda;
use crate::env::Outcome;
use crate::functions::{not_found, target};
use crate::model;
use crate::runtime::{self, EnvKey, Target};
use base64::Engine;
use bytes::Bytes;
use nephos_core::{AwsError, Output, RequestContext, Value};
use std::sync::Arc;

/// 6 MB for synchronous payloads, 256 KB (since 2025: 1 MB) for asynchronous ones.
const SYNC_LIMIT: usize = 6 * 1024 * 1024;
const ASYNC_LIMIT: usize = 1024 * 1024;

pub use crate::asyncinv::{ASYNC, Queued, run_async};

/// Resolves what an invocation runs: the version a qualifier (or an alias's weights)
/// picks, with its configuration at this moment.
pub fn resolve(l: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Target, AwsError> {
    let (name, q) = target(ctx, input)?;
    let region = l.regions.get(ctx);
    let fns = region.functions.lock().unwrap();
    let f = fns
        .get(&name)
        // An invocation of no function names what it would have run: `$LATEST` unless
        // qualified (AWS's answer).
        .ok_or_else(|| not_found(ctx, &name, Some(q.as_deref().unwrap_or(model::LATEST))))?;
    let mut pick = q.clone();
    if let Some(alias) = q.as_deref().and_then(|a| f.aliases.get(a)) {
        pick = Some(alias.version.clone());
        let roll: f64 = rand::random();
        let mut acc = 0.0;
        for (v, w) in &alias.weights {
            acc += w;
            if roll < acc {
                pick = Some(v.clone());
                break;
            }
        }
    }
    let (version, config) = f
        .resolve(pick.as_deref())
        .ok_or_else(|| not_found(ctx, &name, q.as_deref()))?;
    authorize(ctx, f, q.as_deref())?;
    if config.state != "Active" {
        return Err(AwsError::new(
            409,
            "ResourceConflictException",
            format!(
                "The operation cannot be performed at this time. The function is currently in the following state: {}",
                config.state
            ),
        ));
    }
    let provisioned_here = f
        .provisioned
        .contains_key(q.as_deref().unwrap_or(model::LATEST))
        || f.provisioned.contains_key(&version);
    Ok(Target {
        key: EnvKey {
            account: ctx.account_id.clone(),
            region: ctx.region.clone(),
            function: name.clone(),
            version,
            revision: config.revision_id.clone(),
        },
        config: config.clone(),
        invoked_arn: model::qualified_arn(&ctx.region, &ctx.account_id, &name, q.as_deref()),
        reserved: f.reserved_concurrency,
        provisioned_total: f.provisioned.values().map(|p| p.requested).sum(),
        provisioned_here,
    })
}

/// A service (S3, SNS, EventBridge invoking for one of its resources) or another account
/// may invoke only as the function's resource policy allows, as on AWS; the owner's own
/// identities need no policy.
fn authorize(
    ctx: &RequestContext,
    f: &crate::model::Function,
    qualifier: Option<&str>,
) -> Result<(), AwsError> {
    let service = nephos_policy::is_service_caller(&ctx.caller_arn);
    if !service && !ctx.anonymous {
        return Ok(());
    }
    let resource = model::qualified_arn(&ctx.region, &ctx.account_id, &f.name, qualifier);
    let caller = crate::policy::caller_of(ctx);
    let action = "lambda:InvokeFunction";
    if crate::policy::function_policy_allows(f, qualifier, &caller, action, &resource)
        || (service && !nephos_policy::refuse_service_delivery(&ctx.caller_arn, action, &resource))
    {
        return Ok(());
    }
    Err(AwsError::new(
        403,
        "AccessDeniedException",
        format!(
            "User: {} is not authorized to perform: lambda:InvokeFunction on resource: {resource} because no resource-based policy allows the lambda:InvokeFunction action",
            ctx.caller_arn.split(' ').next().unwrap_or_default()
        ),
    ))
}

fn payload_of(input: &Value) -> Bytes {
    match input.get("Payload") {
        Some(Value::Blob(b)) => b.clone(),
        _ => Bytes::new(),
    }
}

fn check_json(payload: &[u8]) -> Result<(), AwsError> {
    if payload.is_empty() {
        return Ok(());
    }
    serde_json::from_slice::<serde::de::IgnoredAny>(payload).map_err(|e| {
        AwsError::new(
            400,
            "InvalidRequestContentException",
            format!(
                "Could not parse request body into json: Could not parse payload into json: {e}"
            ),
        )
    })?;
    Ok(())
}

pub async fn invoke(
    l: &Arc<Lambda>,
    ctx: &RequestContext,
    input: &Value,
) -> Result<Output, AwsError> {
    let payload = payload_of(input);
    let kind = input.str("InvocationType").unwrap_or("RequestResponse");
    let limit = if kind == "Event" {
        ASYNC_LIMIT
    } else {
        SYNC_LIMIT
    };
    if payload.len() > limit {
        return Err(AwsError::new(
            413,
            "RequestTooLargeException",
            format!("Request must be smaller than {limit} bytes for the InvokeFunction operation"),
        ));
    }
    check_json(&payload)?;
    let t = resolve(l, ctx, input)?;
    if t.config.durable.is_some() && kind != "DryRun" {
        return crate::durable::invoke(l, ctx, input, t, payload, kind).await;
    }
    match kind {
        "DryRun" => Ok(Output {
            status: Some(204),
            ..Output::new(Value::map().with("StatusCode", 204i64))
        }),
        "Event" => {
            crate::asyncinv::enqueue(l, ctx, &t, payload).await?;
            Ok(Output {
                status: Some(202),
                ..Output::new(
                    Value::map()
                        .with("StatusCode", 202i64)
                        .with("Payload", Value::Blob(Bytes::new())),
                )
            })
        }
        _ => {
            let client_context = client_context(input)?;
            let r = runtime::run(
                l,
                &t,
                runtime::Request {
                    request_id: ctx.request_id.clone(),
                    payload,
                    trace_id: ctx.trace_header.clone(),
                    client_context,
                },
            )
            .await?;
            let mut out = Value::map()
                .with("StatusCode", 200i64)
                .with("ExecutedVersion", t.key.version.as_str());
            let body = match &r.outcome {
                Outcome::Response(b) => b.clone(),
                other => {
                    out.insert("FunctionError", "Unhandled");
                    runtime::error_payload(other, &r.request_id).unwrap_or_default()
                }
            };
            out.insert("Payload", Value::Blob(body));
            if input.str("LogType") == Some("Tail") {
                out.insert(
                    "LogResult",
                    base64::engine::general_purpose::STANDARD.encode(r.log_tail.as_bytes()),
                );
            }
            Ok(Output::new(out))
        }
    }
}

/// AWS splits a response into chunks of at most this many bytes.
const CHUNK: usize = 32 * 1024;

/// `ClientContext`: base64 of a JSON object, handed to the function decoded.
fn client_context(input: &Value) -> Result<Option<String>, AwsError> {
    let Some(c) = input.str("ClientContext") else {
        return Ok(None);
    };
    base64::engine::general_purpose::STANDARD
        .decode(c)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .map(Some)
        .ok_or_else(|| {
            AwsError::new(
                400,
                "InvalidRequestContentException",
                "Client context must be a valid Base64-encoded JSON object.",
            )
        })
}

/// `PayloadChunk` events of `data`, at most [`CHUNK`] bytes each.
fn payload_chunks(data: &Bytes) -> impl Iterator<Item = Result<Value, AwsError>> + use<> {
    let data = data.clone();
    (0..data.len().div_ceil(CHUNK)).map(move |i| {
        let piece = data.slice(i * CHUNK..((i + 1) * CHUNK).min(data.len()));
        Ok(Value::map().with(
            "PayloadChunk",
            Value::map().with("Payload", Value::Blob(piece)),
        ))
    })
}

/// The `InvokeComplete` event of a finished invocation (its error and log tail).
fn invoke_complete(r: &runtime::Result_, tail: bool) -> Value {
    let mut complete = Value::map();
    if let Some(body) = runtime::error_payload(&r.outcome, &r.request_id) {
        let kind = match &r.outcome {
            Outcome::Error(e) | Outcome::InitError(e) => e.error_type.clone(),
            _ => None,
        };
        let kind = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["errorType"].as_str().map(str::to_owned))
            .or(kind)
            .unwrap_or_else(|| "Unhandled".into());
        complete.insert("ErrorCode", kind);
        complete.insert("ErrorDetails", String::from_utf8_lossy(&body).into_owned());
    }
    if tail {
        complete.insert(
            "LogResult",
            base64::engine::general_purpose::STANDARD.encode(r.log_tail.as_bytes()),
        );
    }
    Value::map().with("InvokeComplete", complete)
}

/// InvokeWithResponseStream: the function's response as `PayloadChunk` events as the
/// runtime streams it, then `InvokeComplete` (with the error and the log tail when
/// asked). A buffered response (a function not written for streaming) comes as chunks
/// of the whole payload once the function has finished, as on AWS.
pub async fn invoke_with_response_stream(
    l: &Arc<Lambda>,
    ctx: &RequestContext,
    input: &Value,
) -> Result<Output, AwsError> {
    let payload = payload_of(input);
    if payload.len() > SYNC_LIMIT {
        return Err(AwsError::new(
            413,
            "RequestTooLargeException",
            format!(
                "Request must be smaller than {SYNC_LIMIT} bytes for the InvokeFunction operation"
            ),
        ));
    }
    check_json(&payload)?;
    let t = resolve(l, ctx, input)?;
    if input.str("InvocationType") == Some("DryRun") {
        return Ok(Output {
            status: Some(204),
            ..Output::new(Value::map().with("StatusCode", 204i64))
        });
    }
    let request = runtime::Request {
        request_id: ctx.request_id.clone(),
        payload,
        trace_id: ctx.trace_header.clone(),
        client_context: client_context(input)?,
    };
    let tail = input.str("LogType") == Some("Tail");
    let version = t.key.version.clone();
    let (mut run, mut streamed) = start_streaming(l, t, request);
    // The member is the answer's Content-Type header: the event stream's own, whatever
    // the function streamed (its content type is no part of the answer).
    let out = Value::map()
        .with("StatusCode", 200i64)
        .with("ExecutedVersion", version.as_str())
        .with(
            "ResponseStreamContentType",
            "application/vnd.amazon.eventstream",
        );
    match streamed.recv().await {
        // Nothing streamed: the invocation is over (a buffered response, an error, or
        // one refused before it ran, answered as an error of the call itself).
        None => {
            let r = finished(&mut run).await?;
            let mut events: Vec<Result<Value, AwsError>> = Vec::new();
            if let Outcome::Response(body) = &r.outcome {
                events.extend(payload_chunks(body));
            }
            events.push(Ok(invoke_complete(&r, tail)));
            Ok(Output::with_events(
                out,
                nephos_core::EventStream::new(futures_util::stream::iter(events)),
            ))
        }
        Some(_) => {
            // Each chunk becomes an event as it arrives; the completion follows once the
            // invocation is over.
            let events =
                futures_util::stream::unfold(Some((run, streamed)), move |state| async move {
                    let (mut run, mut streamed) = state?;
                    loop {
                        match streamed.recv().await {
                            Some(runtime::Streamed::Data(data)) => {
                                let events: Vec<_> = payload_chunks(&data).collect();
                                return Some((
                                    futures_util::stream::iter(events),
                                    Some((run, streamed)),
                                ));
                            }
                            Some(runtime::Streamed::Started(_)) => {}
                            None => {
                                let last =
                                    finished(&mut run).await.map(|r| invoke_complete(&r, tail));
                                return Some((futures_util::stream::iter(vec![last]), None));
                            }
                        }
                    }
                });
            Ok(Output::with_events(
                out,
                nephos_core::EventStream::new(futures_util::StreamExt::flatten(events)),
            ))
        }
    }
}

/// An invocation running in the background, its streamed response (if any) arriving on
/// the receiver, which ends when the invocation does.
pub type Running = (
    tokio::task::JoinHandle<Result<runtime::Result_, AwsError>>,
    tokio::sync::mpsc::Receiver<runtime::Streamed>,
);

/// Starts an invocation whose streamed response is forwarded as it arrives.
pub fn start_streaming(l: &Arc<Lambda>, t: Target, request: runtime::Request) -> Running {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let l = l.clone();
    let run = tokio::spawn(async move { runtime::run_streaming(&l, &t, request, tx).await });
    (run, rx)
}

/// The result of a background invocation.
pub async fn finished(
    run: &mut tokio::task::JoinHandle<Result<runtime::Result_, AwsError>>,
) -> Result<runtime::Result_, AwsError> {
    run.await
        .map_err(|e| AwsError::internal(format!("an invocation failed: {e}")))?
}
