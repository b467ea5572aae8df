//! Message handlers: send, receive (with long polling), delete, change visibility, and
//! their batch forms.

use crate::attributes;
use crate::errors;
use crate::message::{self, Attributes};
use crate::queue::{DEDUP, DedupRecord, Handle, Moved, Queue, RECEIPTS, Stored};
use crate::state::{Core, MESSAGES};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use nephos_core::{AwsError, RequestContext, Value};
use nephos_storage::Mutation;
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::sync::Arc;

const MAX_BATCH: usize = 10;
const MAX_VISIBILITY: i64 = 43_200;
const NO_DEDUP_ID: &str = "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly";

/// A message accepted into a queue (or recognized as a FIFO duplicate).
struct Sent {
    id: String,
    seq: u64,
    md5_body: String,
    md5_attrs: Option<String>,
    md5_sys: Option<String>,
    /// `false` for FIFO duplicates, which store nothing.
    fresh: bool,
    /// The record to persist, when storage is durable.
    stored: Option<Stored>,
    /// Other mutations to commit with it (deduplication entry, sequence reservation,
    /// pending clean-up of the queue).
    extra: Vec<Mutation>,
}

fn valid_fifo_token(s: &str) -> bool {
    !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_graphic())
}

fn sender_id(ctx: &RequestContext) -> String {
    if ctx.caller_arn.ends_with(":root") {
        ctx.account_id.clone()
    } else {
        ctx.access_key_id
            .clone()
            .unwrap_or_else(|| ctx.account_id.clone())
    }
}

/// Validates one message and puts it in the queue (memory only; the caller commits).
fn accept(
    q: &Queue,
    ctx: &RequestContext,
    entry: &Value,
    now: i64,
    durable: bool,
    batch: bool,
) -> Result<Sent, AwsError> {
    let body = match entry.str("MessageBody") {
        Some(b) if !b.is_empty() => b,
        _ => return Err(errors::missing_parameter("MessageBody")),
    };
    message::check_characters(body, "message body")?;
    let attrs = message::parse_attributes(entry.get("MessageAttributes"), false)?;
    let sys = message::parse_attributes(entry.get("MessageSystemAttributes"), true)?;
    let mut inner = q.inner.lock().unwrap();
    if inner.deleted {
        return Err(errors::queue_does_not_exist());
    }
    let meta = inner.meta();
    let max = meta.int("MaximumMessageSize") as usize;
    if message::message_size(body, &attrs) > max {
        // AWS words the same check differently for a batch entry.
        let verb = if batch {
            "cannot be validated"
        } else {
            "are invalid"
        };
        return Err(errors::invalid_parameter(format!(
            "One or more parameters {verb}. Reason: Message must be shorter than {max} bytes."
        )));
    }
    let group = entry.str("MessageGroupId");
    let dedup = entry.str("MessageDeduplicationId");
    let delay = match entry.get("DelaySeconds") {
        // A FIFO message takes no delay of its own, but an explicit 0 is accepted (and
        // means the queue's delay).
        Some(Value::Integer(0)) if q.fifo => meta.int("DelaySeconds"),
        Some(Value::Integer(d)) => {
            if q.fifo {
                return Err(errors::not_for_queue_type("DelaySeconds", &d.to_string()));
            }
            if !(0..=900).contains(d) {
                return Err(errors::invalid_parameter(format!(
                    "Value {d} for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= 900."
                )));
            }
            *d
        }
        _ => meta.int("DelaySeconds"),
    };
    for (name, v) in [("MessageGroupId", group), ("MessageDeduplicationId", dedup)] {
        if let Some(v) = v
            && !valid_fifo_token(v)
        {
            return Err(errors::invalid_parameter(format!(
                "Value {v} for parameter {name} is invalid. Reason: {name} can only include alphanumeric and punctuation characters. 1 to 128 in length."
            )));
        }
    }
    let digest = message::md5(body.as_bytes());
    let md5_body = hex::encode(digest);
    let md5_attrs = message::md5_of_attributes(&attrs);
    let md5_sys = message::md5_of_attributes(&sys);
    let mut dedup_key = None;
    if q.fifo {
        let Some(g) = group else {
            return Err(errors::missing_parameter("MessageGroupId"));
        };
        let id = match dedup {
            Some(d) => d.to_owned(),
            None if meta.flag("ContentBasedDeduplication") => {
                hex::encode(Sha256::digest(body.as_bytes()))
            }
            None => {
                return Err(errors::invalid_parameter(NO_DEDUP_ID));
            }
        };
        let per_group = inner.dedup_per_group_at(now);
        let key = if per_group {
            format!("{g}\n{id}")
        } else {
            id.clone()
        };
        if let Some((mid, seq)) = inner.duplicate(&key, now) {
            return Ok(Sent {
                id: mid,
                seq,
                md5_body,
                md5_attrs,
                md5_sys,
                fresh: false,
                stored: None,
                extra: Vec::new(),
            });
        }
        dedup_key = Some((key, id));
    } else if let Some(d) = dedup {
        return Err(errors::not_for_queue_type("MessageDeduplicationId", d));
    }
    // A caller traced by X-Ray sends its trace in the `X-Amzn-Trace-Id` header; AWS keeps
    // it as the message's AWSTraceHeader unless the message names one itself. The digest
    // answered covers only the system attributes the caller sent.
    let mut sys = sys;
    if let Some(trace) = &ctx.trace_header
        && !sys.contains_key("AWSTraceHeader")
    {
        sys.insert(
            "AWSTraceHeader".to_owned(),
            message::Attribute {
                data_type: "String".to_owned(),
                string: Some(trace.clone()),
                binary: None,
            },
        );
    }
    let stored = Stored {
        id: nephos_core::request_id(),
        body: body.to_owned(),
        attrs,
        sys,
        sent_ms: now,
        sender: sender_id(ctx),
        group: group.map(str::to_owned),
        dedup_id: dedup_key.as_ref().map(|(_, id)| id.clone()),
        delay_until: if delay > 0 { now + delay * 1000 } else { 0 },
        dlq_source: None,
        md5: digest,
    };
    let seq = inner.next_seq();
    let mut extra = Vec::new();
    if durable {
        extra.append(&mut inner.pending);
        extra.extend(inner.reserve_seq());
    }
    if let Some((key, _)) = dedup_key {
        let exp = inner.remember_dedup(key.clone(), stored.id.clone(), seq, now);
        if durable {
            let record = DedupRecord {
                id: stored.id.clone(),
                seq,
            };
            extra.push(Mutation::put(
                DEDUP,
                q.dedup_key(exp, &key),
                serde_json::to_vec(&record).unwrap_or_default(),
            ));
        }
    }
    let id = stored.id.clone();
    // Only a durable store needs its own copy of the record.
    let record = durable.then(|| stored.clone());
    inner.insert(seq, stored, now);
    Ok(Sent {
        id,
        seq,
        md5_body,
        md5_attrs,
        md5_sys,
        fresh: true,
        stored: record,
        extra,
    })
}

fn sent_value(q: &Queue, s: &Sent, mut v: Value) -> Value {
    v.insert("MessageId", s.id.as_str());
    v.insert("MD5OfMessageBody", s.md5_body.as_str());
    if let Some(m) = &s.md5_attrs {
        v.insert("MD5OfMessageAttributes", m.as_str());
    }
    if let Some(m) = &s.md5_sys {
        v.insert("MD5OfMessageSystemAttributes", m.as_str());
    }
    if q.fifo {
        v.insert("SequenceNumber", format!("{:020}", s.seq));
    }
    v
}

pub async fn send_message(
    core: &Core,
    ctx: &RequestContext,
    input: &Value,
) -> Result<Value, AwsError> {
    let q = core.resolve(ctx, input.str("QueueUrl").unwrap_or_default())?;
    let mut sent = accept(
        &q,
        ctx,
        input,
        ctx.clock.now_millis(),
        core.storage.is_durable(),
        false,
    )?;
    if let Some(stored) = &sent.stored {
        let mut batch = vec![Core::msg_mutation(&q, sent.seq, stored)];
        batch.append(&mut sent.extra);
        core.commit(batch).await?;
    }
    if sent.fresh {
        q.notify.notify_waiters();
    }
    Ok(sent_value(&q, &sent, Value::map()))
}

fn entries(input: &Value) -> &[Value] {
    input
        .get("Entries")
        .and_then(Value::as_list)
        .unwrap_or_default()
}

/// The checks every batch request shares: 1 to 10 entries with distinct, valid ids.
fn check_batch(entries: &[Value], what: &str) -> Result<(), AwsError> {
    if entries.is_empty() {
        return Err(AwsError::new(
            400,
            "EmptyBatchRequest",
            format!("There should be at least one {what} in the request."),
        ));
    }
    if entries.len() > MAX_BATCH {
        return Err(AwsError::new(
            400,
            "TooManyEntriesInBatchRequest",
            format!(
                "Maximum number of entries per request are 10. You have sent {}.",
                entries.len()
            ),
        ));
    }
    let mut seen = HashSet::new();
    for e in entries {
        let id = e.str("Id").unwrap_or_default();
        if id.is_empty()
            || id.len() > 80
            || !id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(AwsError::new(
                400,
                "InvalidBatchEntryId",
                "A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.",
            ));
        }
        if !seen.insert(id) {
            return Err(AwsError::new(
                400,
                "BatchEntryIdsNotDistinct",
                format!("Id {id} repeated."),
            ));
        }
    }
    Ok(())
}

fn failure(id: &str, e: &AwsError) -> Value {
    Value::map()
        .with("Id", id)
        .with("SenderFault", e.sender_fault)
        .with("Code", e.code.as_ref())
        .with("Message", e.message.as_str())
}

/// AWS leaves an empty list out of a batch answer.
fn batch_result(ok: Vec<Value>, failed: Vec<Value>) -> Value {
    let mut v = Value::map();
    for (name, list) in [("Successful", ok), ("Failed", failed)] {
        if !list.is_empty() {
            v.insert(name, list);
        }
    }
    v
}

pub async fn send_message_batch(
    core: &Core,
    ctx: &RequestContext,
    input: &Value,
) -> Result<Value, AwsError> {
    let q = core.resolve(ctx, input.str("QueueUrl").unwrap_or_default())?;
    let entries = entries(input);
    check_batch(entries, "SendMessageBatchRequestEntry")?;
    // The batch as a whole may take the largest message size, whatever the queue's own
    // maximum (which applies per entry).
    let limit = attributes::MAX_MESSAGE_SIZE as usize;
    let total: usize = entries
        .iter()
        .map(|e| {
            let attrs =
                message::parse_attributes(e.get("MessageAttributes"), false).unwrap_or_default();
            message::message_size(e.str("MessageBody").unwrap_or_default(), &attrs)
        })
        .sum();
    if total > limit {
        return Err(AwsError::new(
            400,
            "BatchRequestTooLong",
            format!(
                "Batch requests cannot be longer than {limit} bytes. You have sent {total} bytes."
            ),
        ));
    }
    if q.fifo {
        // A FIFO entry without its group or deduplication id fails the whole batch.
        let content_based = q
            .inner
            .lock()
            .unwrap()
            .meta()
            .flag("ContentBasedDeduplication");
        for e in entries {
            if e.str("MessageGroupId").is_none() {
                return Err(errors::invalid_parameter(
                    "The request must contain the parameter MessageGroupId.",
                ));
            }
            if e.str("MessageDeduplicationId").is_none() && !content_based {
                return Err(errors::invalid_parameter(NO_DEDUP_ID));
            }
        }
    }
    let now = ctx.clock.now_millis();
    let (mut ok, mut failed, mut batch) = (Vec::new(), Vec::new(), Vec::new());
    for e in entries {
        let id = e.str("Id").unwrap_or_default();
        match accept(&q, ctx, e, now, core.storage.is_durable(), true) {
            Ok(mut sent) => {
                if let Some(stored) = &sent.stored {
                    batch.push(Core::msg_mutation(&q, sent.seq, stored));
                }
                batch.append(&mut sent.extra);
                ok.push(sent_value(&q, &sent, Value::map().with("Id", id)));
            }
            Err(err) => failed.push(failure(id, &err)),
        }
    }
    core.commit(batch).await?;
    q.notify.notify_waiters();
    Ok(batch_result(ok, failed))
}

fn receipt_handle(q: &Queue, seq: u64, nonce: u64) -> String {
    B64.encode(format!("{} {seq} {nonce:x}", q.arn))
}

/// (sequence, nonce) of a receipt handle issued by `q`.
fn parse_handle(q: &Queue, handle: &str) -> Result<(u64, u64), AwsError> {
    let invalid = || errors::receipt_handle_invalid(handle);
    let text = B64
        .decode(handle)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(invalid)?;
    let mut parts = text.split(' ');
    let (Some(arn), Some(seq), Some(nonce), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid());
    };
    if arn != q.arn {
        return Err(invalid());
    }
    let seq = seq.parse().map_err(|_| invalid())?;
    let nonce = u64::from_str_radix(nonce, 16).map_err(|_| invalid())?;
    Ok((seq, nonce))
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_list)
        .map(|l| {
            l.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

struct Selection {
    system: Vec<String>,
    user: Vec<String>,
}

fn message_value(q: &Queue, seq: u64, m: &crate::queue::Msg, sel: &Selection) -> Value {
    let d = &m.data;
    let mut v = Value::map()
        .with("MessageId", d.id.as_str())
        .with("ReceiptHandle", receipt_handle(q, seq, m.nonce))
        .with("MD5OfBody", hex::encode(d.md5))
        .with("Body", d.body.as_str());
    let all = sel.system.iter().any(|s| s == "All");
    let want = |n: &str| all || sel.system.iter().any(|s| s == n);
    let mut attrs = Value::map();
    let mut put = |n: &str, val: Option<String>| {
        if want(n)
            && let Some(val) = val
        {
            attrs.insert(n, val);
        }
    };
    put("SenderId", Some(d.sender.clone()));
    put("SentTimestamp", Some(d.sent_ms.to_string()));
    put("ApproximateReceiveCount", Some(m.receive_count.to_string()));
    put(
        "ApproximateFirstReceiveTimestamp",
        m.first_receive_ms.map(|t| t.to_string()),
    );
    if q.fifo {
        put("SequenceNumber", Some(format!("{seq:020}")));
        put("MessageDeduplicationId", d.dedup_id.clone());
        put("MessageGroupId", d.group.clone());
    } else {
        put("MessageGroupId", d.group.clone());
    }
    put(
        "AWSTraceHeader",
        d.sys.get("AWSTraceHeader").and_then(|a| a.string.clone()),
    );
    put("DeadLetterQueueSourceArn", d.dlq_source.clone());
    if attrs.as_map().is_some_and(|m| !m.is_empty()) {
        v.insert("Attributes", attrs);
    }
    let chosen: Attributes = d
        .attrs
        .iter()
        .filter(|(n, _)| message::selected(n, &sel.user))
        .map(|(n, a)| (n.clone(), a.clone()))
        .collect();
    if let Some(md5) = message::md5_of_attributes(&chosen) {
        v.insert("MD5OfMessageAttributes", md5);
        let mut ma = Value::map();
        for (n, a) in &chosen {
            ma.insert(n, a.to_value());
        }
        v.insert("MessageAttributes", ma);
    }
    v
}

pub async fn receive_message(
    core: &Core,
    ctx: &RequestContext,
    input: &Value,
) -> Result<Value, AwsError> {
    let q = core.resolve(ctx, input.str("QueueUrl").unwrap_or_default())?;
    let max = input.int("MaxNumberOfMessages").unwrap_or(1);
    if !(1..=10).contains(&max) {
        return Err(errors::invalid_parameter(format!(
            "Value {max} for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided."
        )));
    }
    let (default_vt, default_wait, redrive) = {
        let inner = q.inner.lock().unwrap();
        let meta = inner.meta();
        (
            meta.int("VisibilityTimeout"),
            meta.int("ReceiveMessageWaitTimeSeconds"),
            meta.attrs
                .get("RedrivePolicy")
                .and_then(|p| attributes::redrive_policy(p).ok()),
        )
    };
    let vt = match input.int("VisibilityTimeout") {
        Some(v) if !(0..=MAX_VISIBILITY).contains(&v) => {
            return Err(errors::invalid_parameter(format!(
                "Value {v} for parameter VisibilityTimeout is invalid. Reason: Must be >= 0 and <= 43200, if provided."
            )));
        }
        Some(v) => v,
        None => default_vt,
    };
    let wait = match input.int("WaitTimeSeconds") {
        Some(w) if !(0..=20).contains(&w) => {
            return Err(errors::invalid_parameter(format!(
                "Value {w} for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided."
            )));
        }
        Some(w) => w,
        None => default_wait,
    };
    let mut system = strings(input.get("AttributeNames"));
    system.extend(strings(input.get("MessageSystemAttributeNames")));
    let sel = Selection {
        system,
        user: strings(input.get("MessageAttributeNames")),
    };
    let attempt = input
        .str("ReceiveRequestAttemptId")
        .filter(|_| q.fifo)
        .map(str::to_owned);
    let dlq = redrive.as_ref().and_then(|r| core.by_arn(&r.target_arn));
    let max_receives = dlq
        .as_ref()
        .and(redrive.as_ref())
        .map(|r| r.max_receive_count as u32);
    let deadline = ctx.clock.now_millis() + wait * 1000;
    let durable = core.storage.is_durable();
    loop {
        let notified = q.notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let now = ctx.clock.now_millis();
        let mut moved = Vec::new();
        let (messages, next_due, batch) = {
            let mut inner = q.inner.lock().unwrap();
            if inner.deleted {
                return Err(errors::queue_does_not_exist());
            }
            inner.maintain(now);
            let seqs = match attempt.as_deref().and_then(|a| inner.retry_attempt(a, now)) {
                Some(seqs) => seqs,
                None => {
                    let seqs =
                        inner.receive(now, max as usize, vt * 1000, max_receives, &mut moved);
                    if let Some(a) = &attempt {
                        inner.record_attempt(a.clone(), &seqs, now);
                    }
                    seqs
                }
            };
            let messages: Vec<Value> = seqs
                .iter()
                .filter_map(|s| inner.msgs.get(s).map(|m| message_value(&q, *s, m, &sel)))
                .collect();
            // A received message must stay in flight across a restart, with its count.
            let mut batch = Vec::new();
            if durable && !seqs.is_empty() {
                batch.append(&mut inner.pending);
                batch.extend(seqs.iter().filter_map(|s| inner.receipt_mutation(*s)));
            }
            (messages, inner.next_due(), batch)
        };
        if !moved.is_empty()
            && let Some(dlq) = &dlq
        {
            move_to(core, &q, dlq, moved, now, true).await?;
        }
        core.commit(batch).await?;
        if !messages.is_empty() || now >= deadline {
            let mut out = Value::map();
            if !messages.is_empty() {
                out.insert("Messages", messages);
            }
            return Ok(out);
        }
        let wake = next_due.map_or(deadline, |d| d.min(deadline));
        tokio::select! {
            _ = &mut notified => {}
            _ = ctx.clock.sleep_until(wake) => {}
        }
    }
}

/// Moves messages taken out of `from` into `to` (dead-lettering and move tasks), keeping
/// their ids, bodies and attributes; `source` marks where they came from.
pub async fn move_to(
    core: &Core,
    from: &Queue,
    to: &Arc<Queue>,
    moved: Vec<Moved>,
    now: i64,
    dead_letter: bool,
) -> Result<(), AwsError> {
    let mut batch = Vec::new();
    {
        let mut inner = to.inner.lock().unwrap();
        for Moved {
            seq,
            mut data,
            receipt,
        } in moved
        {
            batch.push(Mutation::delete(MESSAGES, from.msg_key(seq)));
            batch.push(Mutation::delete(RECEIPTS, from.msg_key(seq)));
            data.delay_until = 0;
            data.dlq_source = dead_letter.then(|| from.arn.clone());
            let new_seq = inner.next_seq();
            batch.push(Core::msg_mutation(to, new_seq, &data));
            inner.insert(new_seq, data, now);
            if let Some(r) = receipt {
                inner.restore_receipt(new_seq, r, now);
                batch.extend(inner.receipt_mutation(new_seq));
            }
        }
    }
    core.commit(batch).await?;
    to.notify.notify_waiters();
    Ok(())
}

/// Deletes a message by its handle; the mutations that forget it, if it was there.
fn delete_one(q: &Queue, handle: &str, now: i64, durable: bool) -> Result<Vec<Mutation>, AwsError> {
    let (seq, nonce) = parse_handle(q, handle)?;
    let mut inner = q.inner.lock().unwrap();
    inner.maintain(now);
    match inner.delete(seq, nonce) {
        Handle::Done => {}
        Handle::Stale | Handle::NotInFlight if q.fifo => {
            return Err(errors::invalid_parameter(format!(
                "Value {handle} for parameter ReceiptHandle is invalid. Reason: The receipt handle has expired."
            )));
        }
        _ => return Ok(Vec::new()),
    }
    if !durable {
        return Ok(Vec::new());
    }
    let mut batch = std::mem::take(&mut inner.pending);
    batch.push(Mutation::delete(MESSAGES, q.msg_key(seq)));
    batch.push(Mutation::delete(RECEIPTS, q.msg_key(seq)));
    Ok(batch)
}

pub async fn delete_message(
    core: &Core,
    ctx: &RequestContext,
    input: &Value,
) -> Result<Value, AwsError> {
    let q = core.resolve(ctx, input.str("QueueUrl").unwrap_or_default())?;
    let batch = delete_one(
        &q,
        input.str("ReceiptHandle").unwrap_or_default(),
        ctx.clock.now_millis(),
        core.storage.is_durable(),
    )?;
    core.commit(batch).await?;
    // A FIFO group may be free again.
    q.notify.notify_waiters();
    Ok(Value::map())
}

pub async fn delete_message_batch(
    core: &Core,
    ctx: &RequestContext,
    input: &Value,
) -> Result<Value, AwsError> {
    let q = core.resolve(ctx, input.str("QueueUrl").unwrap_or_default())?;
    let entries = entries(input);
    check_batch(entries, "DeleteMessageBatchRequestEntry")?;
    let now = ctx.clock.now_millis();
    let (mut ok, mut failed, mut batch) = (Vec::new(), Vec::new(), Vec::new());
    for e in entries {
        let id = e.str("Id").unwrap_or_default();
        let handle = e.str("ReceiptHandle").unwrap_or_default();
        match delete_one(&q, handle, now, core.storage.is_durable()) {
            Ok(mutations) => {
                batch.extend(mutations);
                ok.push(Value::map().with("Id", id));
            }
            Err(err) => failed.push(failure(id, &err)),
        }
    }
    core.commit(batch).await?;
    q.notify.notify_waiters();
    Ok(batch_result(ok, failed))
}

/// Changes one message's visibility; the mutation storing its new receive state when
/// storage is durable.
fn change_one(
    q: &Queue,
    handle: &str,
    vt: Option<i64>,
    now: i64,
    durable: bool,
) -> Result<Option<Mutation>, AwsError> {
    let vt = vt.unwrap_or(0);
    if !(0..=MAX_VISIBILITY).contains(&vt) {
        return Err(errors::invalid_parameter(format!(
            "Value {vt} for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200, if provided."
        )));
    }
    let (seq, nonce) = parse_handle(q, handle)?;
    let (outcome, mutation) = {
        let mut inner = q.inner.lock().unwrap();
        inner.maintain(now);
        let outcome = inner.change_visibility(seq, nonce, vt * 1000, now);
        let mutation = (durable && outcome == Handle::Done)
            .then(|| inner.receipt_mutation(seq))
            .flatten();
        (outcome, mutation)
    };
    match outcome {
        Handle::Done => Ok(mutation),
        // A message whose visibility timeout has already run out stays as it is.
        Handle::NotInFlight => Ok(None),
        Handle::Gone | Handle::Stale => Err(errors::invalid_parameter(format!(
            "Value {handle} for parameter ReceiptHandle is invalid. Reason: Message does not exist or is not available for visibility timeout change."
        ))),
    }
}

pub async fn change_message_visibility(
    core: &Core,
    ctx: &RequestContext,
    input: &Value,
) -> Result<Value, AwsError> {
    let q = core.resolve(ctx, input.str("QueueUrl").unwrap_or_default())?;
    let mutation = change_one(
        &q,
        input.str("ReceiptHandle").unwrap_or_default(),
        input.int("VisibilityTimeout"),
        ctx.clock.now_millis(),
        core.storage.is_durable(),
    )?;
    core.commit(mutation.into_iter().collect()).await?;
    q.notify.notify_waiters();
    Ok(Value::map())
}

pub async fn change_message_visibility_batch(
    core: &Core,
    ctx: &RequestContext,
    input: &Value,
) -> Result<Value, AwsError> {
    let q = core.resolve(ctx, input.str("QueueUrl").unwrap_or_default())?;
    let entries = entries(input);
    check_batch(entries, "ChangeMessageVisibilityBatchRequestEntry")?;
    let now = ctx.clock.now_millis();
    let (mut ok, mut failed, mut batch) = (Vec::new(), Vec::new(), Vec::new());
    for e in entries {
        let id = e.str("Id").unwrap_or_default();
        match change_one(
            &q,
            e.str("ReceiptHandle").unwrap_or_default(),
            e.int("VisibilityTimeout"),
            now,
            core.storage.is_durable(),
        ) {
            Ok(mutation) => {
                batch.extend(mutation);
                ok.push(Value::map().with("Id", id));
            }
            Err(err) => failed.push(failure(id, &err)),
        }
    }
    core.commit(batch).await?;
    q.notify.notify_waiters();
    Ok(batch_result(ok, failed))
}
