//! Log streams: create, delete, describe.

use crate::errors;
use crate::state::{Core, LogGroup, LogStream};
use crate::util::{self, stream_arn};
use nephos_core::{AwsError, RequestContext, Value};

pub async fn create_log_stream(
    c: &Core,
    ctx: &RequestContext,
    i: &Value,
) -> Result<Value, AwsError> {
    let group = i.str("logGroupName").unwrap_or_default();
    let name = i.str("logStreamName").unwrap_or_default();
    let g = c
        .find(&ctx.account_id, &ctx.region, group)
        .ok_or_else(errors::group_not_found)?;
    let m = {
        let mut g = g.lock().unwrap();
        if g.streams.contains_key(name) {
            return Err(errors::already_exists(
                "The specified log stream already exists",
            ));
        }
        let s = LogStream::new(name, ctx.clock.now_millis());
        let m = Core::stream_mutation(&ctx.account_id, &ctx.region, group, &s);
        g.streams.insert(name.to_owned(), s);
        m
    };
    if let Err(e) = c.commit(vec![m]).await {
        g.lock().unwrap().streams.remove(name);
        return Err(e);
    }
    Ok(Value::map())
}

pub async fn delete_log_stream(
    c: &Core,
    ctx: &RequestContext,
    i: &Value,
) -> Result<Value, AwsError> {
    let group = i.str("logGroupName").unwrap_or_default();
    let name = i.str("logStreamName").unwrap_or_default();
    let g = c
        .find(&ctx.account_id, &ctx.region, group)
        .ok_or_else(errors::group_not_found)?;
    let batch = {
        let mut g = g.lock().unwrap();
        let s = g
            .streams
            .remove(name)
            .ok_or_else(errors::stream_not_found)?;
        Core::forget_stream(&ctx.account_id, &ctx.region, group, &s)
    };
    c.commit(batch).await?;
    Ok(Value::map())
}

/// A stream as DescribeLogStreams shows it.
fn describe(account: &str, region: &str, g: &LogGroup, s: &LogStream) -> Value {
    let mut v = Value::map()
        .with("logStreamName", s.name.as_str())
        .with("creationTime", s.creation)
        .with("arn", stream_arn(account, region, &g.name, &s.name))
        // Deprecated by AWS for streams, which report zero since 2019.
        .with("storedBytes", 0i64);
    if let (Some(first), Some(last)) = (s.events.first(), s.events.last()) {
        v.insert("firstEventTimestamp", first.timestamp);
        v.insert("lastEventTimestamp", last.timestamp);
    }
    if let Some(t) = s.last_ingestion {
        v.insert("lastIngestionTime", t);
    }
    if s.uploads > 0 {
        v.insert("uploadSequenceToken", sequence_token(s.uploads));
    }
    v
}

/// The sequence token of a stream after `uploads` accepted uploads (AWS ignores them
/// now, but still hands them out).
pub fn sequence_token(uploads: u64) -> String {
    format!("49{:054}", uploads)
}

pub async fn describe_log_streams(
    c: &Core,
    ctx: &RequestContext,
    i: &Value,
) -> Result<Value, AwsError> {
    let r = util::group_ref(ctx, i)?;
    let by_time = i.str("orderBy") == Some("LastEventTime");
    let prefix = i.str("logStreamNamePrefix");
    if by_time && prefix.is_some() {
        return Err(errors::invalid_parameter(
            "Cannot order by LastEventTime with a logStreamNamePrefix.",
        ));
    }
    let g = c
        .find(&r.account, &r.region, &r.name)
        .ok_or_else(errors::group_not_found)?;
    let (shown, expired) = {
        let mut g = g.lock().unwrap();
        let expired = g.expire(&r.account, &r.region, ctx.clock.now_millis());
        let mut streams: Vec<&LogStream> = g
            .streams
            .values()
            .filter(|s| prefix.is_none_or(|p| s.name.starts_with(p)))
            .collect();
        if by_time {
            streams.sort_by_key(|s| (s.events.last().map(|e| e.timestamp), s.name.clone()));
        }
        if i.bool("descending") == Some(true) {
            streams.reverse();
        }
        let shown: Vec<Value> = streams
            .into_iter()
            .map(|s| describe(&r.account, &r.region, &g, s))
            .collect();
        (shown, expired)
    };
    c.forget(expired).await;
    let limit = i.int("limit").unwrap_or(50) as usize;
    let (page, next) = util::page(shown, i.str("nextToken"), limit)?;
    let mut out = Value::map().with("logStreams", page);
    if let Some(t) = next {
        out.insert("nextToken", t);
    }
    Ok(out)
}
