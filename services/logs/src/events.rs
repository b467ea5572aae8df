//! Log events: PutLogEvents (AWS's batch rules), GetLogEvents (forward and backward
//! tokens) and FilterLogEvents (filter patterns over many streams, interleaved).

use crate::errors;
use crate::pattern::Pattern;
use crate::state::{Core, EVENTS, Event, LogStream, batch_key};
use crate::streams::sequence_token;
use crate::util::{self, event_id};
use nephos_core::{AwsError, RequestContext, Value};
use nephos_storage::Mutation;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;

/// Most bytes of one PutLogEvents batch (messages in UTF-8 plus 26 per event), and of
/// what one read answers.
pub const MAX_BATCH_BYTES: usize = 1_048_576;
pub const EVENT_OVERHEAD: usize = 26;
const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

pub async fn put_log_events(c: &Core, ctx: &RequestContext, i: &Value) -> Result<Value, AwsError> {
    let group = i.str("logGroupName").unwrap_or_default();
    let stream = i.str("logStreamName").unwrap_or_default();
    let input: Vec<(i64, &str)> = i
        .get("logEvents")
        .and_then(Value::as_list)
        .unwrap_or_default()
        .iter()
        .map(|e| {
            (
                e.int("timestamp").unwrap_or(0),
                e.str("message").unwrap_or(""),
            )
        })
        .collect();
    let size: usize = input.iter().map(|(_, m)| m.len() + EVENT_OVERHEAD).sum();
    if size > MAX_BATCH_BYTES {
        return Err(errors::invalid_parameter(format!(
            "Upload too large: {size} bytes exceeds limit of {MAX_BATCH_BYTES}"
        )));
    }
    if input.windows(2).any(|w| w[1].0 < w[0].0) {
        return Err(errors::invalid_parameter(
            "Log events in a single PutLogEvents request must be in chronological order.",
        ));
    }
    if let (Some(first), Some(last)) = (input.first(), input.last())
        && last.0 - first.0 > DAY
    {
        return Err(errors::invalid_parameter(
            "The batch of log events in a single PutLogEvents request cannot span more than 24 hours.",
        ));
    }
    let g = c
        .find(&ctx.account_id, &ctx.region, group)
        .ok_or_else(errors::group_not_found)?;
    let now = ctx.clock.now_millis();

    let (accepted, mutation, rejected, token, subscriptions) = {
        let mut g = g.lock().unwrap();
        let retention = g.meta.retention_in_days;
        let name = g.name.clone();
        let Some(s) = g.streams.get_mut(stream) else {
            return Err(errors::stream_not_found());
        };
        // The batch is in order, so each kind of rejection is a prefix or a suffix.
        let too_old = input.partition_point(|(t, _)| *t < now - 14 * DAY);
        let expired = retention.map_or(0, |d| input.partition_point(|(t, _)| *t < now - d * DAY));
        let too_new = input.partition_point(|(t, _)| *t <= now + 2 * HOUR);
        let start = too_old.max(expired).min(too_new);
        let mut rejected = Value::map();
        if too_old > 0 {
            rejected.insert("tooOldLogEventEndIndex", too_old as i64);
        }
        if expired > 0 {
            rejected.insert("expiredLogEventEndIndex", expired as i64);
        }
        if too_new < input.len() {
            rejected.insert("tooNewLogEventStartIndex", too_new as i64);
        }
        let first_seq = s.next_seq;
        let accepted: Vec<Event> = input[start..too_new]
            .iter()
            .enumerate()
            .map(|(n, (t, m))| Event {
                timestamp: *t,
                ingestion: now,
                seq: first_seq + n as u64,
                message: (*m).into(),
            })
            .collect();
        s.next_seq += accepted.len() as u64;
        s.uploads += 1;
        let token = sequence_token(s.uploads);
        let mutation = (!accepted.is_empty())
            .then(|| Core::batch_mutation(&ctx.account_id, &ctx.region, &name, stream, &accepted));
        let subscriptions: Vec<_> = g.meta.subscription_filters.clone().into_iter().collect();
        (accepted, mutation, rejected, token, subscriptions)
    };
    if let Some(m) = mutation {
        c.commit(vec![m]).await?;
        let delivered = (!subscriptions.is_empty()).then(|| accepted.clone());
        if c.tail.receiver_count() > 0 {
            let _ = c.tail.send(Arc::new(crate::livetail::Ingested {
                account: ctx.account_id.clone(),
                region: ctx.region.clone(),
                group: group.to_owned(),
                stream: stream.to_owned(),
                events: accepted
                    .iter()
                    .map(|e| (e.timestamp, e.ingestion, Arc::from(&*e.message)))
                    .collect(),
            }));
        }
        let first_seq = accepted[0].seq;
        let stream_gone = {
            let mut g = g.lock().unwrap();
            match g.streams.get_mut(stream) {
                Some(s) => {
                    s.insert(accepted);
                    false
                }
                None => true,
            }
        };
        let group_gone = c
            .find(&ctx.account_id, &ctx.region, group)
            .is_none_or(|current| !Arc::ptr_eq(&current, &g));
        if stream_gone || group_gone {
            // Deleted while the batch was being stored: forget its record too, or a
            // stream of the same name made later would load it at the next start.
            c.forget(vec![Mutation::delete(
                EVENTS,
                batch_key(&ctx.account_id, &ctx.region, group, stream, first_seq),
            )])
            .await;
        }
        if let Some(events) = delivered {
            crate::filters::deliver(c, ctx, group, stream, &subscriptions, &events);
        }
    }
    let mut out = Value::map().with("nextSequenceToken", token);
    if !rejected.as_map().is_none_or(|m| m.is_empty()) {
        out.insert("rejectedLogEventsInfo", rejected);
    }
    Ok(out)
}

/// A position between events of a stream: before every event whose key is not less.
type Pos = (i64, u64);

fn pos_token(dir: char, p: Pos) -> String {
    format!("{dir}/{:026}{:030}", p.0.max(0), p.1)
}

fn parse_pos_token(t: &str) -> Option<(char, Pos)> {
    let (dir, digits) = t.split_once('/')?;
    let dir = match dir {
        "f" => 'f',
        "b" => 'b',
        _ => return None,
    };
    let digits = digits.strip_suffix("/s").unwrap_or(digits);
    if digits.len() != 56 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((
        dir,
        (digits[..26].parse().ok()?, digits[26..].parse().ok()?),
    ))
}

fn output_event(e: &Event) -> Value {
    Value::map()
        .with("timestamp", e.timestamp)
        .with("message", &*e.message)
        .with("ingestionTime", e.ingestion)
}

pub async fn get_log_events(c: &Core, ctx: &RequestContext, i: &Value) -> Result<Value, AwsError> {
    let r = util::group_ref(ctx, i)?;
    let stream = i.str("logStreamName").unwrap_or_default();
    let limit = i.int("limit").unwrap_or(10_000).clamp(1, 10_000) as usize;
    let token = match i.str("nextToken") {
        Some(t) => Some(
            parse_pos_token(t)
                .ok_or_else(|| errors::invalid_parameter("The specified nextToken is invalid."))?,
        ),
        None => None,
    };
    let g = c
        .find(&r.account, &r.region, &r.name)
        .ok_or_else(errors::group_not_found)?;
    let (out, expired) = {
        let mut g = g.lock().unwrap();
        let expired = g.expire(&r.account, &r.region, ctx.clock.now_millis());
        let s = g.streams.get(stream).ok_or_else(errors::stream_not_found)?;
        let ev = &s.events;
        let lo = i
            .int("startTime")
            .map_or(0, |t| ev.partition_point(|e| e.timestamp < t));
        let hi = i
            .int("endTime")
            .map_or(ev.len(), |t| ev.partition_point(|e| e.timestamp < t))
            .max(lo);
        let at = |p: Pos| ev.partition_point(|e| e.key() < p);
        let forward = match token {
            Some((dir, _)) => dir == 'f',
            None => i.bool("startFromHead") == Some(true),
        };
        let (a, b) = if forward {
            let a = token.map_or(lo, |(_, p)| at(p).clamp(lo, hi));
            let mut b = a;
            let mut bytes = 0;
            while b < hi && b - a < limit {
                bytes += ev[b].message.len() + EVENT_OVERHEAD;
                if bytes > MAX_BATCH_BYTES {
                    break;
                }
                b += 1;
            }
            (a, b)
        } else {
            let b = token.map_or(hi, |(_, p)| at(p).clamp(lo, hi));
            let mut a = b;
            let mut bytes = 0;
            while a > lo && b - a < limit {
                bytes += ev[a - 1].message.len() + EVENT_OVERHEAD;
                if bytes > MAX_BATCH_BYTES {
                    break;
                }
                a -= 1;
            }
            (a, b)
        };
        let position = |idx: usize| -> Pos {
            match ev.get(idx) {
                Some(e) => e.key(),
                None => ev.last().map_or((0, 0), |e| (e.timestamp, e.seq + 1)),
            }
        };
        let (next_f, next_b) = if a == b {
            // Nothing more that way: the same position comes back.
            let p = token.map_or_else(|| position(a), |(_, p)| p);
            (pos_token('f', p), pos_token('b', p))
        } else {
            let last = &ev[b - 1];
            (
                pos_token('f', (last.timestamp, last.seq + 1)),
                pos_token('b', ev[a].key()),
            )
        };
        let events: Vec<Value> = ev[a..b].iter().map(output_event).collect();
        (
            Value::map()
                .with("events", events)
                .with("nextForwardToken", next_f)
                .with("nextBackwardToken", next_b),
            expired,
        )
    };
    c.forget(expired).await;
    Ok(out)
}

/// Where a FilterLogEvents page ends: the last event returned.
fn filter_token(timestamp: i64, stream: &str, seq: u64) -> String {
    util::encode_token(&format!("{timestamp}/{seq}/{stream}"))
}

fn parse_filter_token(t: &str) -> Option<(i64, String, u64)> {
    let text = util::decode_token(t)?;
    let mut parts = text.splitn(3, '/');
    let ts = parts.next()?.parse().ok()?;
    let seq = parts.next()?.parse().ok()?;
    Some((ts, parts.next()?.to_owned(), seq))
}

pub async fn filter_log_events(
    c: &Core,
    ctx: &RequestContext,
    i: &Value,
) -> Result<Value, AwsError> {
    let r = util::group_ref(ctx, i)?;
    let names = util::strings(i.get("logStreamNames"));
    let prefix = i.str("logStreamNamePrefix");
    if !names.is_empty() && prefix.is_some() {
        return Err(errors::invalid_parameter(
            "logStreamNames and logStreamNamePrefix are mutually exclusive parameters.",
        ));
    }
    let pattern = Pattern::parse(i.str("filterPattern").unwrap_or(""))
        .map_err(|e| errors::invalid_parameter(e.0))?;
    let limit = i.int("limit").unwrap_or(10_000).clamp(1, 10_000) as usize;
    let after = match i.str("nextToken") {
        Some(t) => Some(parse_filter_token(t).ok_or_else(errors::bad_token)?),
        None => None,
    };
    let start = i.int("startTime");
    let end = i.int("endTime");
    let g = c
        .find(&r.account, &r.region, &r.name)
        .ok_or_else(errors::group_not_found)?;
    let (out, expired) = {
        let mut g = g.lock().unwrap();
        let expired = g.expire(&r.account, &r.region, ctx.clock.now_millis());
        let streams: Vec<&LogStream> = g
            .streams
            .values()
            .filter(|s| {
                (names.is_empty() || names.contains(&s.name))
                    && prefix.is_none_or(|p| s.name.starts_with(p))
            })
            .collect();
        let out = filter_streams(&streams, &pattern, start, end, after.as_ref(), limit);
        (out, expired)
    };
    c.forget(expired).await;
    Ok(out)
}

/// Merges the streams' events in (timestamp, stream name, seq) order from the page token
/// on, keeping those in the time window that match, until `limit` or 1 MB.
fn filter_streams(
    streams: &[&LogStream],
    pattern: &Pattern,
    start: Option<i64>,
    end: Option<i64>,
    after: Option<&(i64, String, u64)>,
    limit: usize,
) -> Value {
    // Each stream's cursor and end, found by binary search.
    let mut cursors: Vec<(usize, usize)> = streams
        .iter()
        .map(|s| {
            let ev = &s.events;
            let mut lo = start.map_or(0, |t| ev.partition_point(|e| e.timestamp < t));
            let hi = end.map_or(ev.len(), |t| ev.partition_point(|e| e.timestamp < t));
            if let Some((ts, name, seq)) = after {
                let past = ev.partition_point(|e| {
                    (e.timestamp, s.name.as_str(), e.seq) <= (*ts, name.as_str(), *seq)
                });
                lo = lo.max(past);
            }
            (lo, hi.max(lo))
        })
        .collect();
    let mut heap: BinaryHeap<Reverse<(i64, usize, u64)>> = BinaryHeap::new();
    // Streams are in name order, so their index orders equal timestamps by name.
    for (n, (lo, hi)) in cursors.iter().enumerate() {
        if lo < hi {
            let e = &streams[n].events[*lo];
            heap.push(Reverse((e.timestamp, n, e.seq)));
        }
    }
    let mut events = Vec::new();
    let mut bytes = 0;
    let mut last: Option<(i64, usize, u64)> = None;
    let mut more = false;
    while let Some(Reverse((ts, n, seq))) = heap.pop() {
        let (lo, hi) = &mut cursors[n];
        let e = &streams[n].events[*lo];
        *lo += 1;
        if *lo < *hi {
            let next = &streams[n].events[*lo];
            heap.push(Reverse((next.timestamp, n, next.seq)));
        }
        if !pattern.matches(&e.message) {
            continue;
        }
        bytes += e.message.len() + EVENT_OVERHEAD;
        if events.len() >= limit || bytes > MAX_BATCH_BYTES {
            more = true;
            break;
        }
        events.push(
            output_event(e)
                .with("logStreamName", streams[n].name.as_str())
                .with("eventId", event_id(ts, &streams[n].name, seq)),
        );
        last = Some((ts, n, seq));
    }
    let searched: Vec<Value> = streams
        .iter()
        .map(|s| {
            Value::map()
                .with("logStreamName", s.name.as_str())
                .with("searchedCompletely", true)
        })
        .collect();
    let mut out = Value::map()
        .with("events", events)
        .with("searchedLogStreams", searched);
    if more && let Some((ts, n, seq)) = last {
        out.insert("nextToken", filter_token(ts, &streams[n].name, seq));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(name: &str, n: u64) -> LogStream {
        let mut s = LogStream::new(name, 0);
        s.insert(
            (0..n)
                .map(|k| Event {
                    timestamp: 1_000 + (k as i64) * 10,
                    ingestion: 0,
                    seq: k,
                    message: if k % 10 == 0 {
                        format!("ERROR event {k}").into()
                    } else {
                        format!("INFO event {k}").into()
                    },
                })
                .collect(),
        );
        s
    }

    #[test]
    fn tokens_round_trip() {
        let t = pos_token('f', (1_700_000_000_000, 42));
        assert_eq!(t.len(), 58);
        assert_eq!(parse_pos_token(&t), Some(('f', (1_700_000_000_000, 42))));
        assert_eq!(parse_pos_token("x/123"), None);
    }

    #[test]
    fn filter_pages_through_interleaved_streams() {
        let a = stream("a", 50);
        let b = stream("b", 50);
        let all = Pattern::parse("").unwrap();
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = filter_streams(&[&a, &b], &all, None, None, after.as_ref(), 7);
            for e in page.get("events").unwrap().as_list().unwrap() {
                seen.push((
                    e.int("timestamp").unwrap(),
                    e.str("logStreamName").unwrap().to_owned(),
                ));
            }
            match page.str("nextToken") {
                Some(t) => after = parse_filter_token(t),
                None => break,
            }
        }
        assert_eq!(seen.len(), 100);
        let mut sorted = seen.clone();
        sorted.sort();
        assert_eq!(seen, sorted);
    }

    #[test]
    fn filtering_100k_events_is_fast() {
        let s = stream("big", 100_000);
        let p = Pattern::parse("ERROR").unwrap();
        let t = std::time::Instant::now();
        let page = filter_streams(&[&s], &p, None, None, None, 10_000);
        assert_eq!(page.get("events").unwrap().as_list().unwrap().len(), 10_000);
        assert!(t.elapsed().as_millis() < 1000, "{:?}", t.elapsed());
    }
}
