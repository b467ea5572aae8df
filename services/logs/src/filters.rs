//! Metric filters and subscription filters, TestMetricFilter, and delivery of subscribed
//! events to Lambda functions.
//!
//! Metric filters are stored and validated; nephos has no CloudWatch metrics to publish
//! them to yet. Subscription filters whose destination is a Lambda function get the
//! matching events of every accepted PutLogEvents, as AWS sends them: an asynchronous
//! `Invoke` with `{"awslogs": {"data": base64(gzip(json))}}`.

use crate::errors;
use crate::pattern::Pattern;
use crate::state::{Core, Event, LogGroup, MetricFilter, SubscriptionFilter};
use crate::util::{self, event_id};
use base64::Engine;
use nephos_core::{AwsError, Dispatcher, RequestContext, Value};
use std::io::Write;

/// AWS's quotas per log group.
const MAX_METRIC_FILTERS: usize = 100;
const MAX_SUBSCRIPTION_FILTERS: usize = 2;

fn parse_pattern(text: &str) -> Result<Pattern, AwsError> {
    Pattern::parse(text).map_err(|e| errors::invalid_parameter(e.0))
}

async fn with_group<T>(
    c: &Core,
    ctx: &RequestContext,
    name: &str,
    store: bool,
    f: impl FnOnce(&mut LogGroup) -> Result<T, AwsError>,
) -> Result<T, AwsError> {
    let g = c
        .find(&ctx.account_id, &ctx.region, name)
        .ok_or_else(errors::group_not_found)?;
    let (out, m) = {
        let mut g = g.lock().unwrap();
        let out = f(&mut g)?;
        (out, Core::meta_mutation(&ctx.account_id, &ctx.region, &g))
    };
    if store {
        c.commit(vec![m]).await?;
    }
    Ok(out)
}

pub async fn put_metric_filter(
    c: &Core,
    ctx: &RequestContext,
    i: &Value,
) -> Result<Value, AwsError> {
    let group = i.str("logGroupName").unwrap_or_default();
    let name = i.str("filterName").unwrap_or_default().to_owned();
    let pattern = i.str("filterPattern").unwrap_or_default().to_owned();
    parse_pattern(&pattern)?;
    let transformations = util::to_json(i.get("metricTransformations").unwrap_or(&Value::Null));
    let now = ctx.clock.now_millis();
    let apply = i.bool("applyOnTransformedLogs").unwrap_or(false);
    with_group(c, ctx, group, true, |g| {
        let filters = &mut g.meta.metric_filters;
        if !filters.contains_key(&name) && filters.len() >= MAX_METRIC_FILTERS {
            return Err(errors::limit_exceeded("Resource limit exceeded."));
        }
        let creation_time = filters.get(&name).map_or(now, |f| f.creation_time);
        filters.insert(
            name,
            MetricFilter {
                filter_pattern: pattern,
                metric_transformations: transformations,
                creation_time,
                apply_on_transformed_logs: apply,
            },
        );
        Ok(())
    })
    .await?;
    Ok(Value::map())
}

pub async fn delete_metric_filter(
    c: &Core,
    ctx: &RequestContext,
    i: &Value,
) -> Result<Value, AwsError> {
    let group = i.str("logGroupName").unwrap_or_default();
    let name = i.str("filterName").unwrap_or_default();
    with_group(c, ctx, group, true, |g| {
        g.meta
            .metric_filters
            .remove(name)
            .map(|_| ())
            .ok_or_else(|| errors::not_found("The specified metric filter does not exist."))
    })
    .await?;
    Ok(Value::map())
}

pub fn describe_metric_filters(
    c: &Core,
    ctx: &RequestContext,
    i: &Value,
) -> Result<Value, AwsError> {
    let prefix = i.str("filterNamePrefix");
    let metric = i.str("metricName");
    let namespace = i.str("metricNamespace");
    if metric.is_some() != namespace.is_some() {
        return Err(errors::invalid_parameter(
            "metricName and metricNamespace must be specified together.",
        ));
    }
    let groups: Vec<_> = match i.str("logGroupName") {
        Some(name) => vec![
            c.find(&ctx.account_id, &ctx.region, name)
                .ok_or_else(errors::group_not_found)?,
        ],
        None => c
            .regions
            .get(ctx)
            .groups
            .lock()
            .unwrap()
            .values()
            .cloned()
            .collect(),
    };
    let mut found = Vec::new();
    for g in groups {
        let g = g.lock().unwrap();
        for (name, f) in &g.meta.metric_filters {
            if prefix.is_some_and(|p| !name.starts_with(p)) {
                continue;
            }
            let measures = |t: &serde_json::Value| {
                t.get("metricName").and_then(|v| v.as_str()) == metric
                    && t.get("metricNamespace").and_then(|v| v.as_str()) == namespace
            };
            if metric.is_some()
                && !f
                    .metric_transformations
                    .as_array()
                    .is_some_and(|a| a.iter().any(measures))
            {
                continue;
            }
            found.push((
                (name.clone(), g.name.clone()),
                Value::map()
                    .with("filterName", name.as_str())
                    .with("filterPattern", f.filter_pattern.as_str())
                    .with(
                        "metricTransformations",
                        util::from_json(&f.metric_transformations),
                    )
                    .with("creationTime", f.creation_time)
                    .with("logGroupName", g.name.as_str())
                    .with("applyOnTransformedLogs", f.apply_on_transformed_logs),
            ));
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    let limit = i.int("limit").unwrap_or(50) as usize;
    let (page, next) = util::page(
        found.into_iter().map(|(_, v)| v).collect(),
        i.str("nextToken"),
        limit,
    )?;
    let mut out = Value::map().with("metricFilters", page);
    if let Some(t) = next {
        out.insert("nextToken", t);
    }
    Ok(out)
}

pub fn test_metric_filter(i: &Value) -> Result<Value, AwsError> {
    let pattern = parse_pattern(i.str("filterPattern").unwrap_or_default())?;
    let mut matches = Vec::new();
    for (n, msg) in util::strings(i.get("logEventMessages")).iter().enumerate() {
        if let Some(found) = pattern.find(msg) {
            let mut extracted = Value::map();
            for (name, value) in found.fields {
                extracted.insert(&format!("${name}"), value);
            }
            matches.push(
                Value::map()
                    .with("eventNumber", n as i64 + 1)
                    .with("eventMessage", msg.as_str())
                    .with("extractedValues", extracted),
            );
        }
    }
    Ok(Value::map().with("matches", matches))
}

pub async fn put_subscription_filter(
    c: &Core,
    ctx: &RequestContext,
    i: &Value,
) -> Result<Value, AwsError> {
    let group = i.str("logGroupName").unwrap_or_default();
    let name = i.str("filterName").unwrap_or_default().to_owned();
    let pattern = i.str("filterPattern").unwrap_or_default().to_owned();
    parse_pattern(&pattern)?;
    let destination = i.str("destinationArn").unwrap_or_default().to_owned();
    if !destination.starts_with("arn:") {
        return Err(errors::invalid_parameter(format!(
            "Invalid destination ARN: {destination}"
        )));
    }
    c.find(&ctx.account_id, &ctx.region, group)
        .ok_or_else(errors::group_not_found)?;
    check_destination(c, ctx, &destination).await?;
    let role = i.str("roleArn").map(str::to_owned);
    let distribution = i.str("distribution").unwrap_or("ByLogStream").to_owned();
    let apply = i.bool("applyOnTransformedLogs").unwrap_or(false);
    let now = ctx.clock.now_millis();
    with_group(c, ctx, group, true, |g| {
        let filters = &mut g.meta.subscription_filters;
        if !filters.contains_key(&name) && filters.len() >= MAX_SUBSCRIPTION_FILTERS {
            return Err(errors::limit_exceeded("Resource limit exceeded."));
        }
        let creation_time = filters.get(&name).map_or(now, |f| f.creation_time);
        filters.insert(
            name,
            SubscriptionFilter {
                filter_pattern: pattern,
                destination_arn: destination,
                role_arn: role,
                distribution,
                creation_time,
                apply_on_transformed_logs: apply,
            },
        );
        Ok(())
    })
    .await?;
    Ok(Value::map())
}

/// AWS tries the destination before it stores a filter; a Lambda function that does not
/// exist is refused. Where nephos serves no Lambda (it answers 501) there is nothing to
/// ask, and the filter is stored: deliveries then log their failure.
async fn check_destination(c: &Core, ctx: &RequestContext, arn: &str) -> Result<(), AwsError> {
    if !arn.starts_with("arn:aws:lambda:") {
        return Ok(());
    }
    let input = Value::map().with("FunctionName", arn);
    match c.dispatcher.call(ctx, "lambda", "GetFunction", input).await {
        Err(e) if e.status < 500 => Err(errors::invalid_parameter(
            "Could not execute the lambda function. Make sure you have given CloudWatch Logs permission to execute your function.",
        )),
        _ => Ok(()),
    }
}

pub async fn delete_subscription_filter(
    c: &Core,
    ctx: &RequestContext,
    i: &Value,
) -> Result<Value, AwsError> {
    let group = i.str("logGroupName").unwrap_or_default();
    let name = i.str("filterName").unwrap_or_default();
    with_group(c, ctx, group, true, |g| {
        g.meta
            .subscription_filters
            .remove(name)
            .map(|_| ())
            .ok_or_else(|| errors::not_found("The specified subscription filter does not exist."))
    })
    .await?;
    Ok(Value::map())
}

pub async fn describe_subscription_filters(
    c: &Core,
    ctx: &RequestContext,
    i: &Value,
) -> Result<Value, AwsError> {
    let group = i.str("logGroupName").unwrap_or_default();
    let prefix = i.str("filterNamePrefix");
    let found = with_group(c, ctx, group, false, |g| {
        Ok(g.meta
            .subscription_filters
            .iter()
            .filter(|(n, _)| prefix.is_none_or(|p| n.starts_with(p)))
            .map(|(n, f)| {
                let mut v = Value::map()
                    .with("filterName", n.as_str())
                    .with("logGroupName", g.name.as_str())
                    .with("filterPattern", f.filter_pattern.as_str())
                    .with("destinationArn", f.destination_arn.as_str())
                    .with("distribution", f.distribution.as_str())
                    .with("applyOnTransformedLogs", f.apply_on_transformed_logs)
                    .with("creationTime", f.creation_time);
                if let Some(r) = &f.role_arn {
                    v.insert("roleArn", r.as_str());
                }
                v
            })
            .collect::<Vec<_>>())
    })
    .await?;
    let limit = i.int("limit").unwrap_or(50) as usize;
    let (page, next) = util::page(found, i.str("nextToken"), limit)?;
    let mut out = Value::map().with("subscriptionFilters", page);
    if let Some(t) = next {
        out.insert("nextToken", t);
    }
    Ok(out)
}

/// The payload AWS hands a subscribed Lambda function: the events as JSON, gzipped,
/// base64-encoded, under `awslogs.data`.
pub fn lambda_payload(
    owner: &str,
    group: &str,
    stream: &str,
    filter: &str,
    events: &[&Event],
) -> Vec<u8> {
    let log_events: Vec<serde_json::Value> = events
        .iter()
        .map(|e| {
            serde_json::json!({
                "id": event_id(e.timestamp, stream, e.seq),
                "timestamp": e.timestamp,
                "message": &*e.message,
            })
        })
        .collect();
    let doc = serde_json::json!({
        "messageType": "DATA_MESSAGE",
        "owner": owner,
        "logGroup": group,
        "logStream": stream,
        "subscriptionFilters": [filter],
        "logEvents": log_events,
    });
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let _ = gz.write_all(doc.to_string().as_bytes());
    let data = base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap_or_default());
    serde_json::json!({"awslogs": {"data": data}})
        .to_string()
        .into_bytes()
}

/// Sends the events each subscription filter matches to its destination, after the
/// PutLogEvents that accepted them has answered. Only Lambda destinations are delivered;
/// failures are logged, as AWS retries and then drops them without telling the writer.
pub fn deliver(
    c: &Core,
    ctx: &RequestContext,
    group: &str,
    stream: &str,
    filters: &[(String, SubscriptionFilter)],
    events: &[Event],
) {
    for (name, f) in filters {
        let Ok(pattern) = Pattern::parse(&f.filter_pattern) else {
            continue;
        };
        let matching: Vec<&Event> = events
            .iter()
            .filter(|e| pattern.matches(&e.message))
            .collect();
        if matching.is_empty() {
            continue;
        }
        if !f.destination_arn.starts_with("arn:aws:lambda:") {
            tracing::warn!(
                destination = %f.destination_arn,
                "logs: subscription destinations other than Lambda are not delivered by nephos"
            );
            continue;
        }
        let payload = lambda_payload(&ctx.account_id, group, stream, name, &matching);
        let mut lctx = ctx.clone();
        lctx.caller_arn = nephos_policy::service_caller(
            "logs.amazonaws.com",
            &util::group_arn(&ctx.account_id, &ctx.region, group),
        );
        let dispatcher: Dispatcher = c.dispatcher.clone();
        let function = f.destination_arn.clone();
        tokio::spawn(async move {
            let input = Value::map()
                .with("FunctionName", function.as_str())
                .with("InvocationType", "Event")
                .with("Payload", bytes::Bytes::from(payload));
            if let Err(e) = dispatcher.call(&lctx, "lambda", "Invoke", input).await {
                tracing::warn!(function = %function, error = %e, "logs: subscription delivery failed");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn lambda_payload_is_gzipped_json_in_base64() {
        let e = Event {
            timestamp: 5,
            ingestion: 6,
            seq: 0,
            message: "hello".into(),
        };
        let p: serde_json::Value =
            serde_json::from_slice(&lambda_payload("123456789012", "g", "s", "f", &[&e])).unwrap();
        let data = base64::engine::general_purpose::STANDARD
            .decode(p["awslogs"]["data"].as_str().unwrap())
            .unwrap();
        let mut text = String::new();
        flate2::read::GzDecoder::new(&data[..])
            .read_to_string(&mut text)
            .unwrap();
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(doc["messageType"], "DATA_MESSAGE");
        assert_eq!(doc["owner"], "123456789012");
        assert_eq!(doc["subscriptionFilters"][0], "f");
        assert_eq!(doc["logEvents"][0]["message"], "hello");
        assert_eq!(doc["logEvents"][0]["id"].as_str().unwrap().len(), 56);
    }
}
