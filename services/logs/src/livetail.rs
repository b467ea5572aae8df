//! StartLiveTail: an event stream of the events ingested into up to ten log groups while
//! the session lasts.
//!
//! PutLogEvents announces every accepted batch on a broadcast channel (a no-op while
//! nobody tails). A session answers `sessionStart`, then once a second a `sessionUpdate`
//! with what arrived and matched (empty ones too, as AWS keeps the stream alive with
//! them). Past 500 events a second, or when the session fell behind the channel, the
//! update is marked `sampled`, as AWS marks it. After three hours of the nephos clock
//! the session ends with `SessionTimeoutException`.

use crate::errors;
use crate::pattern::Pattern;
use crate::state::Core;
use crate::util::{self, GroupRef};
use nephos_core::{AwsError, Clock, EventStream, Output, RequestContext, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;

/// Events one update carries at most; the rest of the second is dropped (sampled).
const MAX_PER_UPDATE: usize = 500;
const SESSION_MS: i64 = 3 * 3_600_000;
/// Batches the channel holds for a slow session before it skips ahead.
pub const CHANNEL_CAPACITY: usize = 4096;

/// One accepted PutLogEvents batch, as live tails see it.
#[derive(Debug)]
pub struct Ingested {
    pub account: String,
    pub region: String,
    pub group: String,
    pub stream: String,
    /// (timestamp, ingestion time, message)
    pub events: Vec<(i64, i64, Arc<str>)>,
}

struct Session {
    rx: broadcast::Receiver<Arc<Ingested>>,
    clock: Arc<Clock>,
    deadline: i64,
    groups: Vec<GroupRef>,
    /// The identifier each group was named by, echoed in the events.
    identifiers: Vec<String>,
    names: Vec<String>,
    prefixes: Vec<String>,
    pattern: Pattern,
    start: Option<Value>,
}

impl Session {
    fn wants(&self, batch: &Ingested) -> Option<&str> {
        let n = self.groups.iter().position(|g| {
            g.account == batch.account && g.region == batch.region && g.name == batch.group
        })?;
        let stream_ok = (self.names.is_empty() || self.names.contains(&batch.stream))
            && (self.prefixes.is_empty()
                || self.prefixes.iter().any(|p| batch.stream.starts_with(p)));
        stream_ok.then_some(self.identifiers[n].as_str())
    }

    /// Collects for one second; `None` once the session is over.
    async fn next_update(&mut self) -> Option<Result<Value, AwsError>> {
        if let Some(start) = self.start.take() {
            return Some(Ok(Value::map().with("sessionStart", start)));
        }
        if self.clock.now_millis() >= self.deadline {
            return Some(Err(AwsError::new(
                400,
                "SessionTimeoutException",
                "Session timed out after 3 hours.",
            )));
        }
        let tick = tokio::time::sleep(Duration::from_secs(1));
        tokio::pin!(tick);
        let mut results = Vec::new();
        let mut sampled = false;
        loop {
            tokio::select! {
                _ = &mut tick => break,
                got = self.rx.recv() => match got {
                    Ok(batch) => {
                        let Some(id) = self.wants(&batch) else { continue };
                        for (ts, ingested, message) in &batch.events {
                            if !self.pattern.matches(message) {
                                continue;
                            }
                            if results.len() >= MAX_PER_UPDATE {
                                sampled = true;
                                continue;
                            }
                            results.push(
                                Value::map()
                                    .with("logStreamName", batch.stream.as_str())
                                    .with("logGroupIdentifier", id)
                                    .with("message", &**message)
                                    .with("timestamp", *ts)
                                    .with("ingestionTime", *ingested),
                            );
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => sampled = true,
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
            }
        }
        Some(Ok(Value::map().with(
            "sessionUpdate",
            Value::map()
                .with("sessionMetadata", Value::map().with("sampled", sampled))
                .with("sessionResults", results),
        )))
    }
}

pub fn start_live_tail(c: &Core, ctx: &RequestContext, i: &Value) -> Result<Output, AwsError> {
    let identifiers = util::strings(i.get("logGroupIdentifiers"));
    let names = util::strings(i.get("logStreamNames"));
    let prefixes = util::strings(i.get("logStreamNamePrefixes"));
    if !names.is_empty() && !prefixes.is_empty() {
        return Err(errors::invalid_parameter(
            "logStreamNames and logStreamNamePrefixes are mutually exclusive parameters.",
        ));
    }
    if (!names.is_empty() || !prefixes.is_empty()) && identifiers.len() != 1 {
        return Err(errors::invalid_parameter(
            "logStreamNames and logStreamNamePrefixes need exactly one log group.",
        ));
    }
    let pattern_text = i.str("logEventFilterPattern").unwrap_or("");
    let pattern = Pattern::parse(pattern_text).map_err(|e| errors::invalid_parameter(e.0))?;
    let mut groups = Vec::new();
    for id in &identifiers {
        let r = if id.starts_with("arn:") {
            util::parse_group_arn(id).ok_or_else(errors::group_not_found)?
        } else {
            GroupRef {
                account: ctx.account_id.clone(),
                region: ctx.region.clone(),
                name: id.clone(),
            }
        };
        if c.find(&r.account, &r.region, &r.name).is_none() {
            return Err(errors::group_not_found());
        }
        groups.push(r);
    }
    let list = |v: &[String]| Value::List(v.iter().map(|s| Value::from(s.as_str())).collect());
    let start = Value::map()
        .with("requestId", ctx.request_id.as_str())
        .with("sessionId", random_session_id())
        .with("logGroupIdentifiers", list(&identifiers))
        .with("logStreamNames", list(&names))
        .with("logStreamNamePrefixes", list(&prefixes))
        .with("logEventFilterPattern", pattern_text);
    let session = Session {
        rx: c.tail.subscribe(),
        clock: ctx.clock.clone(),
        deadline: ctx.clock.now_millis() + SESSION_MS,
        groups,
        identifiers,
        names,
        prefixes,
        pattern,
        start: Some(start),
    };
    let stream = futures_util::stream::unfold(Some(session), |session| async move {
        let mut s = session?;
        match s.next_update().await? {
            Ok(v) => Some((Ok(v), Some(s))),
            // An error is the session's last event.
            Err(e) => Some((Err(e), None)),
        }
    });
    Ok(Output::with_events(Value::map(), EventStream::new(stream)))
}

fn random_session_id() -> String {
    let n: u128 = rand::random();
    let h = format!("{n:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}
