//! Shipping an environment's log lines to CloudWatch Logs, in order, off the invocation's
//! path: the log group (`/aws/lambda/<name>` or the configured one) and the
//! environment's stream are created on first use, then each invocation's lines go out
//! as one PutLogEvents.

use crate::Lambda;
use crate::runtime::service_context;
use nephos_core::Value;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

static WARNED: AtomicBool = AtomicBool::new(false);

pub async fn ship(
    l: Arc<Lambda>,
    account: String,
    region: String,
    group: String,
    stream: String,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<Vec<(i64, String)>>,
) {
    let mut created = false;
    while let Some(mut lines) = rx.recv().await {
        // Under load, invocations queue up lines faster than one call per invocation
        // would ship them: what is waiting goes out together (within AWS's batch limit).
        while lines.len() < 5_000 {
            match rx.try_recv() {
                Ok(more) => lines.extend(more),
                Err(_) => break,
            }
        }
        if !created {
            let ctx = service_context(&l, &account, &region, "CreateLogGroup");
            let _ = l
                .dispatcher
                .call(
                    &ctx,
                    "logs",
                    "CreateLogGroup",
                    Value::map().with("logGroupName", group.as_str()),
                )
                .await;
            let r = l
                .dispatcher
                .call(
                    &ctx,
                    "logs",
                    "CreateLogStream",
                    Value::map()
                        .with("logGroupName", group.as_str())
                        .with("logStreamName", stream.as_str()),
                )
                .await;
            match r {
                Ok(_) => created = true,
                Err(e) if e.code == "ResourceAlreadyExistsException" => created = true,
                Err(e) => {
                    if !WARNED.swap(true, Ordering::Relaxed) {
                        tracing::warn!(error = %e.message, "function logs cannot reach CloudWatch Logs");
                    }
                    continue;
                }
            }
        }
        let events: Vec<Value> = lines
            .into_iter()
            // Lambda's log events end in a newline, as the runtime wrote them.
            .map(|(ts, m)| Value::map().with("timestamp", ts).with("message", m + "\n"))
            .collect();
        let ctx = service_context(&l, &account, &region, "PutLogEvents");
        let input = Value::map()
            .with("logGroupName", group.as_str())
            .with("logStreamName", stream.as_str())
            .with("logEvents", Value::List(events));
        if let Err(e) = l.dispatcher.call(&ctx, "logs", "PutLogEvents", input).await {
            tracing::debug!(error = %e.message, "PutLogEvents for a function failed");
        }
    }
}
