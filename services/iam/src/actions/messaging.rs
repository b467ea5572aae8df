//! SQS and SNS: queues named by URL (whose account may not be the caller's), topics by
//! ARN; batch operations are their single actions.

use super::{Cx, Plan};
use base64::Engine;

/// A queue URL in any form nephos, LocalStack or AWS writes
/// (`https://sqs.us-east-1.amazonaws.com/123456789012/q`,
/// `http://localhost:4566/queue/us-east-1/123456789012/q`, `/123456789012/q`, `q`):
/// (account, region, name). The URL's account is the queue's owner, who may not be the
/// caller; a region the URL does not name is the request's.
pub(crate) fn queue_from_url<'a>(url: &'a str, cx: &'a Cx) -> (&'a str, &'a str, &'a str) {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    let (host, path) = match rest {
        Some(r) => r.split_once('/').unwrap_or((r, "")),
        None => ("", url),
    };
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let host_region = host
        .split(['.', ':'])
        .find(|p| is_region(p))
        .unwrap_or(cx.region);
    match segs.as_slice() {
        [.., region, account, name] if is_region(region) => (account, region, name),
        [.., account, name] => (account, host_region, name),
        [name] => (cx.account, host_region, name),
        _ => (cx.account, cx.region, url),
    }
}

/// `us-east-1`, `eu-central-2`, `us-gov-west-1`: letters, dashes, a final number.
fn is_region(s: &str) -> bool {
    let mut parts = s.split('-');
    let first = parts.next().unwrap_or_default();
    let rest: Vec<&str> = parts.collect();
    first.len() == 2
        && first.bytes().all(|b| b.is_ascii_lowercase())
        && rest.len() >= 2
        && rest
            .last()
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        && rest[..rest.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
}

pub(super) fn sqs(op: &str, cx: &Cx) -> Vec<Plan> {
    let i = cx.input;
    let action = match op {
        "SendMessageBatch" => "SendMessage",
        "DeleteMessageBatch" => "DeleteMessage",
        "ChangeMessageVisibilityBatch" => "ChangeMessageVisibility",
        other => other,
    };
    let mut plan = cx.plan(action);
    if let Some(url) = i.str("QueueUrl") {
        let (account, region, name) = queue_from_url(url, cx);
        plan = plan
            .var("QueueName", name)
            .var("Account", account)
            .var("Region", region);
    } else if let Some(name) = i.str("QueueName") {
        plan = plan
            .var("QueueName", name)
            .var_opt("Account", i.str("QueueOwnerAWSAccountId"));
    }
    // A move task is authorized on its source queue; its handle is base64 of
    // {"taskId", "sourceArn"} (AWS's and nephos's).
    let from_handle = i.str("TaskHandle").and_then(|h| {
        let raw = base64::engine::general_purpose::STANDARD.decode(h).ok()?;
        let doc: serde_json::Value = serde_json::from_slice(&raw).ok()?;
        Some(doc.get("sourceArn")?.as_str()?.to_owned())
    });
    plan = plan.arn(i.str("SourceArn")).arn(from_handle.as_deref());
    vec![plan]
}

pub(super) fn sns(op: &str, cx: &Cx) -> Vec<Plan> {
    let i = cx.input;
    let action = match op {
        "PublishBatch" => "Publish",
        other => other,
    };
    let mut plan = cx
        .plan(action)
        .arn(i.str("TopicArn"))
        .arn(i.str("ResourceArn"))
        .arn(i.str("TargetArn"));
    if op == "CreateTopic" {
        plan = plan.var_opt("TopicName", i.str("Name"));
    }
    if op == "Subscribe" {
        plan = plan
            .key1("sns:Protocol", i.str("Protocol"))
            .key1("sns:Endpoint", i.str("Endpoint"));
    }
    vec![plan]
}
