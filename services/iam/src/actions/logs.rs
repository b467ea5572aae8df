//! CloudWatch Logs: log groups named by name or by identifier (name or ARN), log streams
//! within them, destinations.
//!
//! AWS authorizes most log group actions against the group's ARN with a trailing `:*`
//! (`arn:aws:logs:r:a:log-group:NAME:*`, the `arn` DescribeLogGroups returns), so a
//! policy naming `log-group:NAME` without it does not match them; only TagResource,
//! UntagResource and ListTagsForResource use the ARN without it (`logGroupArn`).

use super::{Cx, Plan};
use nephos_core::Value;

/// A log group from a name or an ARN (with or without the trailing `:*`).
fn group_arn(cx: &Cx, raw: &str) -> String {
    if raw.starts_with("arn:") {
        let base = raw.strip_suffix(":*").unwrap_or(raw);
        return format!("{base}:*");
    }
    format!(
        "arn:aws:logs:{}:{}:log-group:{raw}:*",
        cx.region, cx.account
    )
}

/// The parts of a log group ARN or name: (account, region, name).
fn group_parts<'a>(cx: &'a Cx, raw: &'a str) -> (&'a str, &'a str, &'a str) {
    if let Some((_, region, account, resource)) = super::arn_parts(raw)
        && let Some(name) = resource.strip_prefix("log-group:")
    {
        return (account, region, name.strip_suffix(":*").unwrap_or(name));
    }
    (cx.account, cx.region, raw)
}

pub(super) fn plans(op: &str, cx: &Cx) -> Vec<Plan> {
    let i = cx.input;
    let plan = cx.plan(op);
    match op {
        "TagResource" | "UntagResource" | "ListTagsForResource" => {
            return vec![plan.arn(i.str("resourceArn"))];
        }
        _ => {}
    }
    let group = i
        .str("logGroupName")
        .or_else(|| i.str("logGroupIdentifier"))
        .or_else(|| {
            i.str("resourceIdentifier")
                .filter(|r| r.contains(":log-group:"))
        });
    let stream = i.str("logStreamName");
    let kinds: Vec<&str> = super::reference::service("logs")
        .and_then(|s| s.action(op))
        .map(|(_, a)| a.resources.iter().map(|r| r.kind.as_str()).collect())
        .unwrap_or_default();
    let takes_stream = kinds.contains(&"log-stream");
    let takes_group = takes_stream || kinds.contains(&"log-group");

    let mut groups: Vec<String> = Vec::new();
    if let Some(g) = group {
        if let (Some(s), true) = (stream, takes_stream) {
            let (account, region, name) = group_parts(cx, g);
            groups.push(format!(
                "arn:aws:logs:{region}:{account}:log-group:{name}:log-stream:{s}"
            ));
        } else {
            groups.push(group_arn(cx, g));
        }
    }
    // StartQuery and StartLiveTail name several groups.
    for member in ["logGroupNames", "logGroupIdentifiers"] {
        for g in i.get(member).and_then(Value::as_list).unwrap_or_default() {
            if let Some(g) = g.as_str() {
                let arn = group_arn(cx, g);
                if !groups.contains(&arn) {
                    groups.push(arn);
                }
            }
        }
    }
    let mut plan = plan.arn(i.str("destinationArn"));
    if takes_group && !groups.is_empty() {
        // A subscription to a Logs destination is authorized on both.
        let mut resources = groups;
        if let Some(d) = i
            .str("destinationArn")
            .filter(|d| d.contains(":destination:"))
        {
            resources.push(d.to_owned());
        }
        plan = plan.resources(resources);
    } else {
        plan = plan.var_opt("DestinationName", i.str("destinationName"));
    }
    vec![plan]
}
