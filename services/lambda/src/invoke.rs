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
            let client_context = match input.str("ClientContext") {
                Some(c) => Some(
                    base64::engine::general_purpose::STANDARD
                        .decode(c)
                        .ok()
                        .and_then(|b| String::from_utf8(b).ok())
                        .ok_or_else(|| {
                            AwsError::new(
                                400,
                                "InvalidRequestContentException",
                                "Client context must be a valid Base64-encoded JSON object.",
                            )
                        })?,
                ),
                None => None,
            };
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

/// AWS splits a buffered response into chunks of at most this many bytes.
const CHUNK: usize = 32 * 1024;

/// InvokeWithResponseStream: the function's response as `PayloadChunk` events, then
/// `InvokeComplete` (with the error and the log tail when asked). Runtimes here answer
/// buffered, which AWS streams the same way.
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
    let r = runtime::run(
        l,
        &t,
        runtime::Request {
            request_id: ctx.request_id.clone(),
            payload,
            trace_id: ctx.trace_header.clone(),
            client_context: None,
        },
    )
    .await?;
    let mut events: Vec<Result<Value, AwsError>> = Vec::new();
    let mut complete = Value::map();
    match &r.outcome {
        Outcome::Response(body) => {
            for chunk in body.chunks(CHUNK) {
                events.push(Ok(Value::map().with(
                    "PayloadChunk",
                    Value::map().with("Payload", Value::Blob(Bytes::copy_from_slice(chunk))),
                )));
            }
        }
        other => {
            let body = runtime::error_payload(other, &r.request_id).unwrap_or_default();
            let kind = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["errorType"].as_str().map(str::to_owned))
                .unwrap_or_else(|| "Unhandled".into());
            complete.insert("ErrorCode", kind);
            complete.insert("ErrorDetails", String::from_utf8_lossy(&body).into_owned());
        }
    }
    if input.str("LogType") == Some("Tail") {
        complete.insert(
            "LogResult",
            base64::engine::general_purpose::STANDARD.encode(r.log_tail.as_bytes()),
        );
    }
    events.push(Ok(Value::map().with("InvokeComplete", complete)));
    let out = Value::map()
        .with("StatusCode", 200i64)
        .with("ExecutedVersion", t.key.version.as_str())
        .with("ResponseStreamContentType", "application/octet-stream");
    Ok(Output::with_events(
        out,
        nephos_core::EventStream::new(futures_util::stream::iter(events)),
    ))
}
