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
    // From the end, without collecting: every SQS request goes through here.
    let mut segs = path.rsplit('/').filter(|s| !s.is_empty());
    let host_region = || {
        host.split(['.', ':'])
            .find(|p| is_region(p))
            .unwrap_or(cx.region)
    };
    match (segs.next(), segs.next(), segs.next()) {
        (Some(name), Some(account), Some(region)) if is_region(region) => (account, region, name),
        (Some(name), Some(account), _) => (account, host_region(), name),
        (Some(name), None, _) => (cx.account, host_region(), name),
        _ => (cx.account, cx.region, url),
    }
}

/// `us-east-1`, `eu-central-2`, `us-gov-west-1`: two lowercase letters, lowercase words,
/// a final number, joined by dashes.
fn is_region(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 6 || !b[0].is_ascii_lowercase() || !b[1].is_ascii_lowercase() || b[2] != b'-' {
        return false;
    }
    let rest = &s[3..];
    let Some(dash) = rest.rfind('-') else {
        return false;
    };
    let (words, number) = (&rest[..dash], &rest[dash + 1..]);
    !number.is_empty()
        && number.bytes().all(|c| c.is_ascii_digit())
        && !words.is_empty()
        && !words.starts_with('-')
        && !words.ends_with('-')
        && !words.contains("--")
        && words.bytes().all(|c| c.is_ascii_lowercase() || c == b'-')
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
