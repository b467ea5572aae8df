//! DynamoDB-stream event source mappings: one reader per shard, from the starting
//! position or the stored checkpoint.
//!
//! A reader gathers records that pass `FilterCriteria` until it has `BatchSize` of them or
//! `MaximumBatchingWindowInSeconds` has passed, then hands them to up to
//! `ParallelizationFactor` lanes: records of one item key always go to the same lane, so
//! they stay in order while other keys run concurrently. A lane delivers its batches one
//! after another and retries a failed one with exponential back-off; a
//! `ReportBatchItemFailures` answer checkpoints before the lowest failed sequence number
//! and retries from there, `BisectBatchOnFunctionError` splits a batch that failed as a
//! whole. What `MaximumRetryAttempts` or `MaximumRecordAgeInSeconds` gives up on goes to
//! the on-failure destination (SQS, SNS or S3) as AWS's `DDBStreamBatchInfo` record.
//!
//! With `TumblingWindowInSeconds`, records are grouped into windows aligned on the epoch
//! by their creation time; each invocation carries the window and the state the previous
//! one returned, and a final invocation (no records, `isFinalInvokeForWindow`) closes the
//! window once nephos's clock passes its end or a record of a later window arrives.

use super::{CHECKPOINTS, Mapping, note_result, passes, patterns, pause, wire_json};
use crate::Lambda;
use crate::env::Outcome;
use crate::invoke;
use crate::runtime::{self, service_context};
use bytes::Bytes;
use nephos_core::{AwsError, ByteStream, Input, RequestContext, Timestamp, Value};
use nephos_storage::Mutation;
use serde_json::{Value as Json, json};
use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

/// AWS polls a shard about four times a second.
const POLL_INTERVAL: Duration = Duration::from_millis(250);
/// A tumbling window's state may be up to 1 MB; beyond, Lambda ends the window early.
const MAX_STATE_BYTES: usize = 1024 * 1024;

pub(super) async fn poll_stream(l: Arc<Lambda>, m: Mapping) {
    while !l.dispatcher.is_wired() {
        pause().await;
    }
    let ctx = service_context(&l, &m.account, &m.region, "DescribeStream");
    // Readers end with this task: dropping the set aborts them.
    let mut readers = tokio::task::JoinSet::new();
    let mut known = HashSet::new();
    loop {
        let r = l
            .dispatcher
            .call(
                &ctx,
                "dynamodbstreams",
                "DescribeStream",
                Value::map().with("StreamArn", m.source_arn.as_str()),
            )
            .await;
        if let Ok(v) = r {
            let shards = v
                .get("StreamDescription")
                .and_then(|d| d.get("Shards"))
                .and_then(Value::as_list)
                .unwrap_or_default();
            for s in shards {
                let Some(id) = s.str("ShardId") else { continue };
                if known.insert(id.to_owned()) {
                    readers.spawn(read_shard(l.clone(), m.clone(), id.to_owned()));
                }
            }
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
}

/// The open tumbling window of a shard and the state the function last returned for it.
struct Window {
    start_ms: i64,
    end_ms: i64,
    state: Json,
}

async fn read_shard(l: Arc<Lambda>, m: Mapping, shard: String) {
    let filters = patterns(&m);
    let ctx = service_context(&l, &m.account, &m.region, "GetRecords");
    let checkpoint_key = format!("{}\t{shard}", m.uuid);
    let checkpoint = l.storage.load(CHECKPOINTS).ok().and_then(|rows| {
        rows.into_iter()
            .find(|(k, _)| k == checkpoint_key.as_bytes())
            .map(|(_, v)| String::from_utf8_lossy(&v).into_owned())
    });
    let mut iterator_input = Value::map()
        .with("StreamArn", m.source_arn.as_str())
        .with("ShardId", shard.as_str());
    match &checkpoint {
        Some(seq) => {
            iterator_input.insert("ShardIteratorType", "AFTER_SEQUENCE_NUMBER");
            iterator_input.insert("SequenceNumber", seq.as_str());
        }
        None => iterator_input.insert(
            "ShardIteratorType",
            m.starting_position
                .clone()
                .unwrap_or_else(|| "LATEST".into()),
        ),
    }
    let mut iterator = shard_iterator(&l, &ctx, &iterator_input).await;
    let lanes = if m.tumbling > 0 {
        // The window's state is one per shard, so its batches go one at a time.
        1
    } else {
        m.parallelization.clamp(1, 10)
    };
    let batch_size = m.batch_size.max(1) as usize;
    let mut buffer: Vec<Json> = Vec::new();
    let mut read_up_to: Option<String> = None;
    let mut last_read: Option<String> = checkpoint.clone();
    let mut gathering_since: Option<tokio::time::Instant> = None;
    let mut window: Option<Window> = None;
    let mut closed = false;
    loop {
        if !closed {
            let r = l
                .dispatcher
                .call(
                    &ctx,
                    "dynamodbstreams",
                    "GetRecords",
                    Value::map()
                        .with("ShardIterator", iterator.as_str())
                        .with("Limit", (m.batch_size * lanes).clamp(1, 1000)),
                )
                .await;
            let v = match r {
                Ok(v) => v,
                Err(e) => {
                    if e.code == "ExpiredIteratorException" {
                        // A long retry outlived the iterator: go on after what was read.
                        if let Some(seq) = &last_read {
                            iterator_input.insert("ShardIteratorType", "AFTER_SEQUENCE_NUMBER");
                            iterator_input.insert("SequenceNumber", seq.as_str());
                        }
                        iterator = shard_iterator(&l, &ctx, &iterator_input).await;
                    } else {
                        pause().await;
                    }
                    continue;
                }
            };
            for r in v
                .get("Records")
                .and_then(Value::as_list)
                .unwrap_or_default()
            {
                let mut j = wire_json(r);
                j["eventSourceARN"] = json!(m.source_arn);
                if let Some(seq) = j["dynamodb"]["SequenceNumber"].as_str() {
                    read_up_to = Some(seq.to_owned());
                    last_read = Some(seq.to_owned());
                }
                if passes(&filters, &j) {
                    buffer.push(j);
                }
            }
            match v.str("NextShardIterator") {
                Some(next) => iterator = next.to_owned(),
                None => closed = true,
            }
        }
        if !buffer.is_empty() && gathering_since.is_none() {
            gathering_since = Some(tokio::time::Instant::now());
        }
        let window_over = gathering_since
            .is_some_and(|s| s.elapsed() >= Duration::from_secs(m.window_secs.max(0) as u64));
        let flush = !buffer.is_empty() && (closed || buffer.len() >= batch_size || window_over);
        if flush {
            let records = std::mem::take(&mut buffer);
            gathering_since = None;
            if m.tumbling > 0 {
                deliver_windowed(&l, &m, &shard, records, &mut window).await;
            } else {
                deliver_in_lanes(&l, &m, &shard, records, lanes as usize).await;
            }
        }
        if buffer.is_empty()
            && let Some(seq) = &read_up_to
        {
            let _ = l
                .storage
                .commit(vec![Mutation::put(
                    CHECKPOINTS,
                    checkpoint_key.as_bytes(),
                    seq.as_bytes(),
                )])
                .await;
            read_up_to = None;
        }
        if window
            .as_ref()
            .is_some_and(|w| l.clock.now_millis() >= w.end_ms)
            && let Some(w) = window.take()
        {
            final_invoke(&l, &m, &shard, w, false).await;
        }
        if closed && buffer.is_empty() {
            if let Some(w) = window.take() {
                final_invoke(&l, &m, &shard, w, false).await;
            }
            return;
        }
        if !flush {
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }
}

async fn shard_iterator(l: &Lambda, ctx: &RequestContext, input: &Value) -> String {
    loop {
        match l
            .dispatcher
            .call(ctx, "dynamodbstreams", "GetShardIterator", input.clone())
            .await
        {
            Ok(v) => return v.str("ShardIterator").unwrap_or_default().to_owned(),
            Err(_) => pause().await,
        }
    }
}

/// Splits `records` by item key into `lanes` and delivers the lanes concurrently, each
/// in order, `BatchSize` records at a time.
async fn deliver_in_lanes(
    l: &Arc<Lambda>,
    m: &Mapping,
    shard: &str,
    records: Vec<Json>,
    lanes: usize,
) {
    let mut split: Vec<Vec<Json>> = vec![Vec::new(); lanes];
    for r in records {
        split[lane_of(&r, lanes)].push(r);
    }
    let batch_size = m.batch_size.max(1) as usize;
    let runs = split
        .into_iter()
        .filter(|s| !s.is_empty())
        .map(|lane| async move {
            for chunk in lane.chunks(batch_size) {
                process_batch(l, m, shard, chunk.to_vec(), None).await;
            }
        });
    futures_util::future::join_all(runs).await;
}

/// The lane of a record: its item key decides, so one item's changes stay in order.
fn lane_of(record: &Json, lanes: usize) -> usize {
    if lanes <= 1 {
        return 0;
    }
    let mut h = std::collections::hash_map::DefaultHasher::new();
    record["dynamodb"]["Keys"].to_string().hash(&mut h);
    (h.finish() % lanes as u64) as usize
}

/// Delivers records of a tumbling-window mapping: each batch within its window, closing
/// the open window first when a record belongs to a later one.
async fn deliver_windowed(
    l: &Arc<Lambda>,
    m: &Mapping,
    shard: &str,
    records: Vec<Json>,
    window: &mut Option<Window>,
) {
    let width = m.tumbling * 1000;
    let mut groups: Vec<(i64, Vec<Json>)> = Vec::new();
    for r in records {
        let created = (r["dynamodb"]["ApproximateCreationDateTime"]
            .as_f64()
            .unwrap_or(0.0)
            * 1000.0) as i64;
        let start = created - created.rem_euclid(width);
        match groups.last_mut() {
            Some((s, g)) if *s == start => g.push(r),
            _ => groups.push((start, vec![r])),
        }
    }
    for (start, group) in groups {
        if let Some(w) = window.take_if(|w| w.start_ms != start) {
            final_invoke(l, m, shard, w, false).await;
        }
        let w = window.get_or_insert_with(|| Window {
            start_ms: start,
            end_ms: start + width,
            state: json!({}),
        });
        for chunk in group.chunks(m.batch_size.max(1) as usize) {
            process_batch(l, m, shard, chunk.to_vec(), Some(&mut *w)).await;
            let state_bytes = w.state.to_string().len();
            if state_bytes > MAX_STATE_BYTES {
                // AWS ends the window early and goes on in it with a fresh state.
                let early = Window {
                    start_ms: w.start_ms,
                    end_ms: w.end_ms,
                    state: std::mem::replace(&mut w.state, json!({})),
                };
                final_invoke(l, m, shard, early, true).await;
            }
        }
    }
}

fn window_event(
    m: &Mapping,
    shard: &str,
    records: &[Json],
    w: &Window,
    last: bool,
    early: bool,
) -> Json {
    json!({
        "Records": records,
        "window": {
            "start": iso_seconds(w.start_ms),
            "end": iso_seconds(w.end_ms),
        },
        "state": w.state,
        "shardId": shard,
        "eventSourceARN": m.source_arn,
        "isFinalInvokeForWindow": last,
        "isWindowTerminatedEarly": early,
    })
}

/// The invocation that closes a window. AWS holds the shard until it succeeds.
async fn final_invoke(l: &Arc<Lambda>, m: &Mapping, shard: &str, w: Window, early: bool) {
    let event = window_event(m, shard, &[], &w, true, early);
    let mut attempts = 0;
    loop {
        if attempts > 0 {
            back_off(l, attempts).await;
        }
        attempts += 1;
        match invoke_function(l, m, &event).await {
            Ok(inv) if inv.function_error.is_none() => return,
            _ => {}
        }
    }
}

/// How one invocation went.
struct Invocation {
    request_id: String,
    status: u16,
    executed_version: String,
    /// `Unhandled` when the function failed.
    function_error: Option<&'static str>,
    body: Option<Bytes>,
}

async fn invoke_function(
    l: &Arc<Lambda>,
    m: &Mapping,
    event: &Json,
) -> Result<Invocation, AwsError> {
    let ctx = service_context(l, &m.account, &m.region, "Invoke");
    let mut input = Value::map().with("FunctionName", m.function.as_str());
    if let Some(q) = &m.qualifier {
        input.insert("Qualifier", q.as_str());
    }
    let t = invoke::resolve(l, &ctx, &input)?;
    let r = runtime::run(l, &t, runtime::Request::new(Bytes::from(event.to_string()))).await?;
    let (function_error, body) = match r.outcome {
        Outcome::Response(b) => (None, Some(b)),
        _ => (Some("Unhandled"), None),
    };
    Ok(Invocation {
        request_id: r.request_id,
        status: 200,
        executed_version: t.key.version.clone(),
        function_error,
        body,
    })
}

/// What an answer means for the batch.
#[derive(Debug, PartialEq)]
enum Verdict {
    Success,
    /// Records from this index on failed (the lowest reported sequence number).
    FailedFrom(usize),
    Failed,
}

/// Judges a function's answer. With `ReportBatchItemFailures`, an empty or null answer
/// or failure list is a success and the lowest reported sequence number is where the
/// retry starts; a null or empty identifier, a wrong key or an identifier not in the
/// batch fails the whole batch (AWS's documented conditions). A tumbling-window answer
/// without `state` is a failed invocation.
fn judge(answer: &[u8], batch: &[Json], report_failures: bool, windowed: bool) -> Verdict {
    let parsed: Option<Json> = if answer.iter().all(u8::is_ascii_whitespace) {
        Some(Json::Null)
    } else {
        serde_json::from_slice(answer).ok()
    };
    if windowed && parsed.as_ref().and_then(|v| v.get("state")).is_none() {
        return Verdict::Failed;
    }
    if !report_failures {
        return Verdict::Success;
    }
    let Some(v) = parsed else {
        return Verdict::Failed;
    };
    let list = match &v {
        Json::Null => return Verdict::Success,
        Json::Array(a) if a.is_empty() => return Verdict::Success,
        Json::Object(o) => match o.get("batchItemFailures") {
            None | Some(Json::Null) => return Verdict::Success,
            Some(Json::Array(a)) if a.is_empty() => return Verdict::Success,
            Some(Json::Array(a)) => a,
            Some(_) => return Verdict::Failed,
        },
        _ => return Verdict::Failed,
    };
    let mut lowest: Option<usize> = None;
    for f in list {
        let Some(id) = f.get("itemIdentifier").and_then(Json::as_str) else {
            return Verdict::Failed;
        };
        let Some(i) = batch
            .iter()
            .position(|r| r["dynamodb"]["SequenceNumber"].as_str() == Some(id))
        else {
            return Verdict::Failed;
        };
        lowest = Some(lowest.map_or(i, |l: usize| l.min(i)));
    }
    lowest.map_or(Verdict::Failed, Verdict::FailedFrom)
}

/// Waits before retry `attempt` (1, 2, ...): half a second, doubling, at most 10 seconds,
/// on nephos's clock so a test can skip it.
async fn back_off(l: &Lambda, attempt: i64) {
    let ms = (500_i64 << (attempt - 1).clamp(0, 5)).min(10_000);
    l.clock.sleep_until(l.clock.now_millis() + ms).await;
}

/// Delivers one batch, retrying (and bisecting) failures as the mapping says; what is
/// given up on goes to the on-failure destination. In a tumbling window, the state each
/// answer returns becomes the window's.
async fn process_batch(
    l: &Arc<Lambda>,
    m: &Mapping,
    shard: &str,
    records: Vec<Json>,
    mut window: Option<&mut Window>,
) {
    let report = m
        .response_types
        .iter()
        .any(|t| t == "ReportBatchItemFailures");
    let mut pending = vec![records];
    while let Some(mut batch) = pending.pop() {
        let mut attempts: i64 = 0;
        let mut last: Option<Invocation> = None;
        loop {
            if m.max_age >= 0 {
                let expired = expired_prefix(l, m.max_age, &batch);
                if expired > 0 {
                    let rest = batch.split_off(expired);
                    send_on_failure(
                        l,
                        m,
                        shard,
                        &batch,
                        "RecordAgeExceeded",
                        attempts,
                        last.as_ref(),
                    )
                    .await;
                    batch = rest;
                }
                if batch.is_empty() {
                    break;
                }
            }
            if attempts > 0 {
                back_off(l, attempts).await;
            }
            let event = match window.as_deref() {
                Some(w) => window_event(m, shard, &batch, w, false, false),
                None => json!({ "Records": batch }),
            };
            attempts += 1;
            let verdict = match invoke_function(l, m, &event).await {
                Ok(inv) => {
                    let verdict = match &inv.body {
                        Some(body) => judge(body, &batch, report, window.is_some()),
                        None => Verdict::Failed,
                    };
                    if verdict != Verdict::Failed
                        && let (Some(w), Some(body)) = (window.as_deref_mut(), &inv.body)
                        && let Ok(answer) = serde_json::from_slice::<Json>(body)
                        && let Some(state) = answer.get("state")
                    {
                        w.state = state.clone();
                    }
                    last = Some(inv);
                    verdict
                }
                Err(e) => {
                    tracing::debug!(error = %e.message, "event source mapping cannot invoke its function");
                    last = Some(Invocation {
                        request_id: runtime::uuid(),
                        status: e.status,
                        executed_version: "$LATEST".into(),
                        function_error: None,
                        body: None,
                    });
                    Verdict::Failed
                }
            };
            note_result(
                l,
                &m.uuid,
                match last.as_ref().and_then(|i| i.body.as_ref()) {
                    Some(_) => "OK",
                    None => "PROBLEM: Function call failed",
                },
            );
            match verdict {
                Verdict::Success => break,
                // The records before the lowest failure are done; the rest is retried
                // (with bisection on, AWS splits the batch right there, which is the same).
                Verdict::FailedFrom(i) => {
                    batch.drain(..i);
                }
                Verdict::Failed if m.bisect && batch.len() > 1 => {
                    let b = batch.split_off(batch.len() / 2);
                    pending.push(b);
                    pending.push(batch);
                    break;
                }
                Verdict::Failed => {}
            }
            if m.max_retry >= 0 && attempts > m.max_retry {
                send_on_failure(
                    l,
                    m,
                    shard,
                    &batch,
                    "RetryAttemptsExhausted",
                    attempts,
                    last.as_ref(),
                )
                .await;
                break;
            }
        }
    }
}

/// How many records at the head of `batch` are older than `max_age` seconds (records
/// are in creation order).
fn expired_prefix(l: &Lambda, max_age: i64, batch: &[Json]) -> usize {
    let now = l.clock.now_millis() as f64 / 1000.0;
    batch
        .iter()
        .take_while(|r| {
            r["dynamodb"]["ApproximateCreationDateTime"]
                .as_f64()
                .is_some_and(|t| now - t > max_age as f64)
        })
        .count()
}

/// `2024-01-02T03:04:05Z`, as AWS writes record arrival times and window bounds.
fn iso_seconds(ms: i64) -> String {
    Timestamp::from_millis(ms - ms.rem_euclid(1000)).to_iso8601()
}

/// `2024-01-02T03:04:05.678Z`, as AWS writes the failure's own timestamp.
fn iso_millis(ms: i64) -> String {
    format!(
        "{}.{:03}Z",
        iso_seconds(ms).trim_end_matches('Z'),
        ms.rem_euclid(1000)
    )
}

fn created_ms(record: &Json) -> i64 {
    (record["dynamodb"]["ApproximateCreationDateTime"]
        .as_f64()
        .unwrap_or(0.0)
        * 1000.0) as i64
}

async fn send_on_failure(
    l: &Arc<Lambda>,
    m: &Mapping,
    shard: &str,
    batch: &[Json],
    condition: &str,
    attempts: i64,
    last: Option<&Invocation>,
) {
    let Some(dest) = &m.on_failure else { return };
    let (Some(first), Some(end)) = (batch.first(), batch.last()) else {
        return;
    };
    let now = l.clock.now_millis();
    let mut record = json!({
        "requestContext": {
            "requestId": last.map_or_else(runtime::uuid, |i| i.request_id.clone()),
            "functionArn": m.function_arn(),
            "condition": condition,
            "approximateInvokeCount": attempts,
        },
        "version": "1.0",
        "timestamp": iso_millis(now),
        "DDBStreamBatchInfo": {
            "shardId": shard,
            "startSequenceNumber": first["dynamodb"]["SequenceNumber"],
            "endSequenceNumber": end["dynamodb"]["SequenceNumber"],
            "approximateArrivalOfFirstRecord": iso_seconds(created_ms(first)),
            "approximateArrivalOfLastRecord": iso_seconds(created_ms(end)),
            "batchSize": batch.len(),
            "streamArn": m.source_arn,
        },
    });
    // AWS describes the last response only when retries ran out; a record that grew too
    // old is reported without one, however often it was tried.
    if condition == "RetryAttemptsExhausted"
        && let Some(i) = last
    {
        record["responseContext"] = json!({
            "statusCode": i.status,
            "executedVersion": i.executed_version,
            "functionError": i.function_error,
        });
    }
    let r = if dest.starts_with("arn:aws:s3:::") {
        // An S3 destination also gets the records themselves, under AWS's key layout.
        record["payload"] = json!({ "Records": batch });
        put_failure_object(l, m, shard, dest, now, record.to_string()).await
    } else {
        l.send_to(&m.account, dest, &record.to_string(), None).await
    };
    if let Err(e) = r {
        tracing::warn!(error = %e.message, "event source mapping's on-failure destination refused the record");
    }
}

/// Writes a failure record to `aws/lambda/<ESM-UUID>/<shardID>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<uuid>`.
async fn put_failure_object(
    l: &Lambda,
    m: &Mapping,
    shard: &str,
    bucket_arn: &str,
    now: i64,
    body: String,
) -> Result<(), AwsError> {
    let bucket = bucket_arn.trim_start_matches("arn:aws:s3:::");
    let stamp = iso_seconds(now);
    let (date, time) = stamp
        .trim_end_matches('Z')
        .split_once('T')
        .unwrap_or_default();
    let key = format!(
        "aws/lambda/{}/{shard}/{}/{date}T{}-{}",
        m.uuid,
        date.replace('-', "/"),
        time.replace(':', "."),
        runtime::uuid()
    );
    let ctx = service_context(l, &m.account, &m.region, "PutObject");
    let input = Input {
        value: Value::map()
            .with("Bucket", bucket)
            .with("Key", key)
            .with("ContentType", "application/json")
            .with("ContentLength", body.len() as i64),
        body: Some(ByteStream::from_bytes(body.into_bytes())),
    };
    l.dispatcher
        .call_input(&ctx, "s3", "PutObject", input)
        .await
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(seqs: &[&str]) -> Vec<Json> {
        seqs.iter()
            .map(|s| json!({"dynamodb": {"SequenceNumber": s}}))
            .collect()
    }

    #[test]
    fn answers_are_judged_as_aws_documents() {
        let b = batch(&["100", "200", "300"]);
        for ok in [
            "",
            "null",
            "[]",
            "{}",
            r#"{"batchItemFailures":[]}"#,
            r#"{"batchItemFailures":null}"#,
        ] {
            assert_eq!(
                judge(ok.as_bytes(), &b, true, false),
                Verdict::Success,
                "{ok}"
            );
        }
        for bad in [
            r#"{"batchItemFailures":[{"itemIdentifier":""}]}"#,
            r#"{"batchItemFailures":[{"itemIdentifier":null}]}"#,
            r#"{"batchItemFailures":[{"itemIdentifier":123}]}"#,
            r#"{"batchItemFailures":[{"foo":"200"}]}"#,
            r#"{"batchItemFailures":[{"itemIdentifier":"999"}]}"#,
            r#"{"batchItemFailures":"200"}"#,
            "not json",
        ] {
            assert_eq!(
                judge(bad.as_bytes(), &b, true, false),
                Verdict::Failed,
                "{bad}"
            );
        }
        let two = r#"{"batchItemFailures":[{"itemIdentifier":"300"},{"itemIdentifier":"200"}]}"#;
        assert_eq!(
            judge(two.as_bytes(), &b, true, false),
            Verdict::FailedFrom(1)
        );
        // Without the response type, the answer is not read.
        assert_eq!(judge(two.as_bytes(), &b, false, false), Verdict::Success);
    }

    #[test]
    fn a_window_answer_needs_state() {
        let b = batch(&["1"]);
        assert_eq!(judge(b"{}", &b, false, true), Verdict::Failed);
        assert_eq!(
            judge(br#"{"state":{"n":1}}"#, &b, false, true),
            Verdict::Success
        );
    }

    #[test]
    fn one_key_always_takes_one_lane() {
        let a = json!({"dynamodb": {"Keys": {"id": {"S": "a"}}, "SequenceNumber": "1"}});
        let a2 = json!({"dynamodb": {"Keys": {"id": {"S": "a"}}, "SequenceNumber": "2"}});
        assert_eq!(lane_of(&a, 7), lane_of(&a2, 7));
        assert_eq!(lane_of(&a, 1), 0);
    }

    #[test]
    fn exists_looks_at_leaves_of_stream_records() {
        // AWS: `presentKey` holds `{"S": ...}`, which is no leaf, so it does not "exist".
        let r = json!({"dynamodb": {"NewImage": {"presentKey": {"S": "v"}, "id": {"S": "1"}}}});
        let absent = json!({"dynamodb": {"NewImage": {"presentKey": [{"exists": false}]}}});
        assert!(crate::filter::matches(&absent, &r));
        let typed = json!({"dynamodb": {"NewImage": {"presentKey": {"S": [{"exists": true}]}}}});
        assert!(crate::filter::matches(&typed, &r));
        let typed_absent = json!({"dynamodb": {"NewImage": {"gone": {"S": [{"exists": true}]}}}});
        assert!(!crate::filter::matches(&typed_absent, &r));
    }

    #[test]
    fn times_are_written_as_aws_writes_them() {
        assert_eq!(iso_seconds(1_700_000_000_123), "2023-11-14T22:13:20Z");
        assert_eq!(iso_millis(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(iso_millis(1_700_000_000_000), "2023-11-14T22:13:20.000Z");
    }
}
