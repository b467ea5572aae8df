//! Publish and PublishBatch: validation (targets, subject, MessageStructure=json, message
//! attributes, size), FIFO sequencing and deduplication, then hand-off to delivery. Both
//! answer before any subscriber has been reached.

use crate::state::{invalid, not_found, parse_arn, topic_arn, topic_not_found};
use crate::{Sns, delivery, subscriptions};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use nephos_core::{AwsError, RequestContext, Value};
use sha2::Digest;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// 256 KiB, message and attributes together.
const MAX_SIZE: usize = 262_144;
const DEDUP_WINDOW_MS: i64 = 5 * 60 * 1000;
const MAX_BATCH: usize = 10;

#[derive(Debug, Clone)]
pub struct Attribute {
    pub data_type: String,
    pub string: Option<String>,
    pub binary: Option<Bytes>,
}

impl Attribute {
    /// The value as SNS envelopes show it (binary as base64).
    pub fn envelope_value(&self) -> String {
        match (&self.string, &self.binary) {
            (Some(s), _) => s.clone(),
            (None, Some(b)) => BASE64.encode(b),
            _ => String::new(),
        }
    }
}

/// One published message, shared by every delivery of it.
#[derive(Debug)]
pub struct Message {
    pub id: String,
    pub topic_arn: String,
    pub subject: Option<String>,
    pub default: String,
    /// Per-protocol bodies of a `MessageStructure=json` message.
    pub per_protocol: Option<HashMap<String, String>>,
    pub attributes: Vec<(String, Attribute)>,
    pub group_id: Option<String>,
    pub dedup_id: Option<String>,
    pub sequence: Option<String>,
    /// ISO 8601 with milliseconds.
    pub timestamp: String,
    /// The publisher's X-Ray trace header, passed on to subscribed queues as the
    /// message's AWSTraceHeader.
    pub trace_header: Option<String>,
    /// With `--data-dir`: forgets the message's record once every delivery has ended.
    pub done: Option<crate::pending::Done>,
}

impl Message {
    /// The body for a protocol: its own entry of a JSON-structured message, else `default`.
    pub fn body_for(&self, protocol: &str) -> &str {
        structured_body(self.per_protocol.as_ref(), protocol).unwrap_or(&self.default)
    }

    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, a)| a)
    }
}

/// A protocol's entry of a JSON-structured message, else its `default` entry.
fn structured_body<'a>(m: Option<&'a HashMap<String, String>>, protocol: &str) -> Option<&'a str> {
    let m = m?;
    m.get(protocol)
        .or_else(|| m.get("default"))
        .map(String::as_str)
}

/// Per-topic publishing state that need not survive restarts: FIFO sequence numbers and
/// the deduplication window.
#[derive(Default)]
pub struct Runtime {
    topics: Mutex<HashMap<String, TopicRuntime>>,
}

#[derive(Default)]
struct TopicRuntime {
    sequence: u64,
    /// dedup id -> (expiry, message id, sequence number)
    dedup: HashMap<String, (i64, String, String)>,
}

impl Runtime {
    pub fn clear(&self) {
        self.topics.lock().unwrap().clear();
    }
    pub fn forget(&self, topic: &str) {
        self.topics.lock().unwrap().remove(topic);
    }

    /// Assigns a sequence number, or answers the earlier message of a duplicate.
    fn sequence(&self, topic: &str, dedup_id: &str, now: i64, id: &str) -> (bool, String, String) {
        let mut topics = self.topics.lock().unwrap();
        let rt = topics.entry(topic.to_owned()).or_default();
        if rt.dedup.len() > 10_000 {
            rt.dedup.retain(|_, (exp, _, _)| *exp > now);
        }
        if let Some((exp, mid, seq)) = rt.dedup.get(dedup_id)
            && *exp > now
        {
            return (true, mid.clone(), seq.clone());
        }
        rt.sequence += 1;
        let seq = format!("{}", 10_000_000_000_000_000_000u128 + rt.sequence as u128);
        rt.dedup.insert(
            dedup_id.to_owned(),
            (now + DEDUP_WINDOW_MS, id.to_owned(), seq.clone()),
        );
        (false, id.to_owned(), seq)
    }
}

fn parse_attributes(v: Option<&Value>) -> Result<(Vec<(String, Attribute)>, usize), AwsError> {
    let mut out = Vec::new();
    let mut size = 0;
    let Some(map) = v.and_then(Value::as_map) else {
        return Ok((out, 0));
    };
    for (name, attr) in map {
        let data_type = attr.str("DataType").unwrap_or_default().to_owned();
        let string = attr.str("StringValue").map(str::to_owned);
        let binary = match attr.get("BinaryValue") {
            Some(Value::Blob(b)) => Some(b.clone()),
            _ => None,
        };
        if name.is_empty()
            || name.len() > 256
            || name.starts_with("AWS.")
            || name.starts_with("Amazon.")
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
        {
            return Err(invalid(format!(
                "Invalid parameter: MessageAttributes Reason: Message attribute name '{name}' is invalid"
            )));
        }
        // A type is a base type, optionally with a non-empty custom suffix after a dot.
        let (base, suffix) = match data_type.split_once('.') {
            Some((b, s)) => (b, Some(s)),
            None => (data_type.as_str(), None),
        };
        if !matches!(base, "String" | "Number" | "Binary") || suffix == Some("") {
            return Err(AwsError::new(
                400,
                "ParameterValueInvalid",
                format!(
                    "The message attribute '{name}' has an invalid message attribute type, the set of supported type prefixes is Binary, Number, and String."
                ),
            ));
        }
        let missing = || {
            invalid(format!(
                "Invalid parameter: The message attribute '{name}' must contain non-empty message attribute value for message attribute type '{base}'."
            ))
        };
        match base {
            "Binary" if binary.is_none() => return Err(missing()),
            "String" | "Number" if string.as_deref().is_none_or(str::is_empty) => {
                return Err(missing());
            }
            _ => {}
        }
        if base == "Number"
            && string
                .as_deref()
                .is_none_or(|s| s.trim().parse::<f64>().is_err())
        {
            return Err(invalid(format!(
                "Invalid parameter: Could not cast message attribute '{name}' value to number."
            )));
        }
        if data_type == "String.Array"
            && string
                .as_deref()
                .is_none_or(|s| !matches!(serde_json::from_str(s), Ok(serde_json::Value::Array(_))))
        {
            return Err(invalid(format!(
                "Invalid parameter: The message attribute '{name}' with type 'String.Array' has an invalid value. It must be a JSON array."
            )));
        }
        size += name.len()
            + data_type.len()
            + string.as_ref().map_or(0, String::len)
            + binary.as_ref().map_or(0, Bytes::len);
        out.push((
            name.clone(),
            Attribute {
                data_type,
                string,
                binary,
            },
        ));
    }
    Ok((out, size))
}

/// What Publish and each PublishBatch entry carry.
#[derive(Debug)]
struct Draft {
    message: String,
    subject: Option<String>,
    per_protocol: Option<HashMap<String, String>>,
    attributes: Vec<(String, Attribute)>,
    group_id: Option<String>,
    dedup_id: Option<String>,
}

fn draft(i: &Value) -> Result<Draft, AwsError> {
    let message = i.str("Message").unwrap_or_default().to_owned();
    if message.is_empty() {
        return Err(invalid("Invalid parameter: Empty message"));
    }
    let subject = i.str("Subject").map(str::to_owned);
    if let Some(s) = &subject
        && (s.is_empty() || s.chars().count() > 100 || s.chars().any(|c| c.is_control()))
    {
        return Err(invalid("Invalid parameter: Subject"));
    }
    let per_protocol = match i.str("MessageStructure") {
        None => None,
        Some("json") => {
            let parsed: serde_json::Value = serde_json::from_str(&message).map_err(|_| {
                invalid("Invalid parameter: Message Structure - JSON message body failed to parse")
            })?;
            let obj = parsed.as_object().ok_or_else(|| {
                invalid("Invalid parameter: Message Structure - JSON message body failed to parse")
            })?;
            // Entries that are no strings are ignored: their protocols get the default.
            let m: HashMap<String, String> = obj
                .iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned())))
                .collect();
            // A default that is no string counts as none.
            if !obj.get("default").is_some_and(serde_json::Value::is_string) {
                return Err(invalid(
                    "Invalid parameter: Message Structure - No default entry in JSON message body",
                ));
            }
            Some(m)
        }
        Some(_) => {
            return Err(invalid(
                "Invalid parameter: MessageStructure Reason: The value of MessageStructure must be json",
            ));
        }
    };
    let (attributes, attr_size) = parse_attributes(i.get("MessageAttributes"))?;
    if message.len() + attr_size > MAX_SIZE {
        return Err(invalid("Invalid parameter: Message too long"));
    }
    Ok(Draft {
        message,
        subject,
        per_protocol,
        attributes,
        group_id: i.str("MessageGroupId").map(str::to_owned),
        dedup_id: i.str("MessageDeduplicationId").map(str::to_owned),
    })
}

struct TopicFacts {
    fifo: bool,
    content_dedup: bool,
}

fn topic_facts(sns: &Sns, arn: &str) -> Result<TopicFacts, AwsError> {
    crate::topics::read(sns, arn, "TopicArn", |t| TopicFacts {
        fifo: t.fifo,
        content_dedup: t.content_based_dedup(),
    })
}

/// The FIFO parameters a message needs (or must not have) for its topic.
fn check_fifo(facts: &TopicFacts, d: &Draft) -> Result<(), AwsError> {
    if facts.fifo {
        if d.group_id.as_deref().is_none_or(str::is_empty) {
            return Err(invalid(
                "Invalid parameter: The MessageGroupId parameter is required for FIFO topics",
            ));
        }
        if d.dedup_id.is_none() && !facts.content_dedup {
            return Err(invalid(
                "Invalid parameter: The topic should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly",
            ));
        }
    } else if d.dedup_id.is_some() {
        return Err(invalid(
            "Invalid parameter: MessageDeduplicationId Reason: The request includes MessageDeduplicationId parameter that is not valid for this topic type",
        ));
    }
    Ok(())
}

/// Builds, sequences and dispatches one message to a topic; answers (MessageId,
/// SequenceNumber).
/// A message accepted for a topic: its id and sequence number, and the message to send
/// (none for a FIFO duplicate, which is answered but not sent again).
type Accepted = (String, Option<String>, Option<Message>);

fn publish_to_topic(
    ctx: &RequestContext,
    sns: &Arc<Sns>,
    arn: &str,
    facts: &TopicFacts,
    d: Draft,
) -> Result<Accepted, AwsError> {
    check_fifo(facts, &d)?;
    let mut id = nephos_core::request_id();
    let mut sequence = None;
    let mut dedup_id = d.dedup_id;
    if facts.fifo {
        if dedup_id.is_none() {
            dedup_id = Some(hex(&sha2::Sha256::digest(d.message.as_bytes())));
        }
        let (duplicate, mid, seq) = sns.runtime.sequence(
            arn,
            dedup_id.as_deref().unwrap_or_default(),
            ctx.clock.now_millis(),
            &id,
        );
        if duplicate {
            return Ok((mid, Some(seq), None));
        }
        id = mid;
        sequence = Some(seq);
    }
    let message = Message {
        id: id.clone(),
        topic_arn: arn.to_owned(),
        subject: d.subject,
        default: d.message,
        per_protocol: d.per_protocol,
        attributes: d.attributes,
        group_id: d.group_id,
        dedup_id,
        sequence: sequence.clone(),
        timestamp: ctx.clock.now().to_iso8601_millis(),
        trace_header: ctx.trace_header.clone(),
        done: None,
    };
    Ok((id, sequence, Some(message)))
}

/// Sends accepted messages: kept durably first (with `--data-dir`), so that once Publish
/// answers, a crash cannot lose them, then handed to the subscribers in the background.
async fn send(sns: &Arc<Sns>, messages: Vec<Message>, fifo: bool) -> Result<(), AwsError> {
    let mut messages = messages;
    if sns.storage.is_durable() && !messages.is_empty() {
        let batch = messages
            .iter()
            .map(|m| crate::pending::record(m, fifo))
            .collect();
        sns.storage
            .commit(batch)
            .await
            .map_err(crate::state::storage_error)?;
        for m in &mut messages {
            crate::pending::watch(sns, m);
        }
    }
    for m in messages {
        delivery::fan_out(sns, Arc::new(m), fifo);
    }
    Ok(())
}

trait IsoMillis {
    fn to_iso8601_millis(self) -> String;
}

impl IsoMillis for nephos_core::Timestamp {
    /// SNS always writes milliseconds (`...T12:00:00.000Z`).
    fn to_iso8601_millis(self) -> String {
        let s = self.to_iso8601();
        match s.strip_suffix('Z') {
            Some(base) if !base.contains('.') => format!("{base}.000Z"),
            _ => s,
        }
    }
}

pub fn now_iso(sns: &Sns) -> String {
    sns.clock.now().to_iso8601_millis()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A topic is only reachable through its own region's endpoint.
fn same_region(ctx: &RequestContext, a: crate::state::Arn, param: &str) -> Result<(), AwsError> {
    if a.region != ctx.region {
        return Err(invalid(format!("Invalid parameter: {param}")));
    }
    Ok(())
}

pub async fn publish(sns: &Arc<Sns>, ctx: &RequestContext, i: &Value) -> Result<Value, AwsError> {
    sns.signer.warm_up();
    let target = i
        .str("TopicArn")
        .or_else(|| i.str("TargetArn"))
        .filter(|s| !s.is_empty());
    let phone = i.str("PhoneNumber").filter(|s| !s.is_empty());
    if target.is_some() && phone.is_some() {
        return Err(invalid(
            "Invalid parameter: TopicArn or TargetArn Reason: Only one of TopicArn, TargetArn or PhoneNumber may be specified",
        ));
    }
    let d = draft(i)?;
    if let Some(phone) = phone {
        return publish_sms(sns, ctx, phone, d);
    }
    let Some(target) = target else {
        return Err(invalid(
            "Invalid parameter: TopicArn or TargetArn Reason: no value for required parameter",
        ));
    };
    if let Some(a) = parse_arn(target)
        && a.service == "sns"
        && a.resource.starts_with("endpoint/")
    {
        return publish_to_endpoint(sns, target, d);
    }
    let param = if i.str("TopicArn").is_some() {
        "TopicArn"
    } else {
        "TargetArn"
    };
    same_region(ctx, topic_arn(target, param)?, param)?;
    let facts = topic_facts(sns, target)?;
    let (id, seq, message) = publish_to_topic(ctx, sns, target, &facts, d)?;
    send(sns, message.into_iter().collect(), facts.fifo).await?;
    let mut out = Value::map().with("MessageId", id);
    if let Some(s) = seq {
        out.insert("SequenceNumber", s);
    }
    Ok(out)
}

fn publish_sms(
    sns: &Arc<Sns>,
    ctx: &RequestContext,
    phone: &str,
    d: Draft,
) -> Result<Value, AwsError> {
    if !subscriptions::valid_phone(phone) {
        return Err(invalid(format!(
            "Invalid parameter: PhoneNumber Reason: {phone} is not valid to publish to"
        )));
    }
    let region = sns.region(&ctx.account_id, &ctx.region);
    if region.sms.read().unwrap().opted_out.contains(phone) {
        return Err(AwsError::new(400, "OptedOut", "Phone number is opted out"));
    }
    let id = nephos_core::request_id();
    sns.outbox.push(crate::outbox::Entry {
        protocol: "sms",
        endpoint: phone,
        subject: d.subject.as_deref(),
        message: structured_body(d.per_protocol.as_ref(), "sms").unwrap_or(&d.message),
        attributes: delivery::attributes_json(&d.attributes),
        timestamp: now_iso(sns),
        topic_arn: None,
        subscription_arn: None,
        message_id: &id,
        note: None,
    });
    Ok(Value::map().with("MessageId", id))
}

fn publish_to_endpoint(sns: &Arc<Sns>, arn: &str, d: Draft) -> Result<Value, AwsError> {
    let a = parse_arn(arn).ok_or_else(|| invalid("Invalid parameter: TargetArn"))?;
    let region = sns.region(a.account, a.region);
    let ep = region
        .endpoints
        .read()
        .unwrap()
        .get(arn)
        .cloned()
        .ok_or_else(|| not_found("Endpoint does not exist"))?;
    if ep.attributes.get("Enabled").map(String::as_str) == Some("false") {
        return Err(AwsError::new(
            400,
            "EndpointDisabled",
            "Endpoint is disabled",
        ));
    }
    // endpoint/<Platform>/<App>/<id>: the platform picks the body of a JSON message.
    let platform = a.resource.split('/').nth(1).unwrap_or_default();
    let id = nephos_core::request_id();
    let body = structured_body(d.per_protocol.as_ref(), platform).unwrap_or(&d.message);
    sns.outbox.push(crate::outbox::Entry {
        protocol: "application",
        endpoint: arn,
        subject: d.subject.as_deref(),
        message: body,
        attributes: delivery::attributes_json(&d.attributes),
        timestamp: now_iso(sns),
        topic_arn: None,
        subscription_arn: None,
        message_id: &id,
        note: ep.attributes.get("Token").map(String::as_str),
    });
    Ok(Value::map().with("MessageId", id))
}

/// Why a batch entry Id is refused, as AWS words it after "The Id of a batch entry in
/// the batch request".
fn batch_id_error(id: &str) -> Option<&'static str> {
    if id.len() > 80 {
        Some("is too long")
    } else if id.is_empty()
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        Some("contains an impermissible character")
    } else {
        None
    }
}

pub async fn publish_batch(
    sns: &Arc<Sns>,
    ctx: &RequestContext,
    i: &Value,
) -> Result<Value, AwsError> {
    sns.signer.warm_up();
    let arn = i.str("TopicArn").unwrap_or_default();
    same_region(ctx, topic_arn(arn, "TopicArn")?, "TopicArn")?;
    let entries = i
        .get("PublishBatchRequestEntries")
        .and_then(Value::as_list)
        .unwrap_or_default();
    if entries.is_empty() {
        return Err(AwsError::new(
            400,
            "EmptyBatchRequest",
            "The batch request doesn't contain any entries.",
        ));
    }
    if entries.len() > MAX_BATCH {
        return Err(AwsError::new(
            400,
            "TooManyEntriesInBatchRequest",
            "The batch request contains more entries than permissible.",
        ));
    }
    let mut seen = HashSet::new();
    for e in entries {
        let id = e.str("Id").unwrap_or_default();
        if !seen.insert(id) {
            return Err(AwsError::new(
                400,
                "BatchEntryIdsNotDistinct",
                "Two or more batch entries in the request have the same Id.",
            ));
        }
        if let Some(reason) = batch_id_error(id) {
            return Err(AwsError::new(
                400,
                "InvalidBatchEntryId",
                format!("The Id of a batch entry in the batch request {reason}: {id}"),
            ));
        }
    }
    // The limit counts the messages and their attributes (names, types and values).
    let total: usize = entries
        .iter()
        .map(|e| {
            e.str("Message").map_or(0, str::len)
                + parse_attributes(e.get("MessageAttributes")).map_or(0, |(_, size)| size)
        })
        .sum();
    if total > MAX_SIZE {
        return Err(AwsError::new(
            400,
            "BatchRequestTooLong",
            "The length of all the messages put together is more than the limit.",
        ));
    }
    let facts = match topic_facts(sns, arn) {
        Ok(f) => f,
        Err(_) => return Err(topic_not_found()),
    };
    // An invalid entry fails the whole request, before any entry is sent.
    let mut drafts = Vec::with_capacity(entries.len());
    for e in entries {
        let d = draft(e)?;
        check_fifo(&facts, &d)?;
        drafts.push((e.str("Id").unwrap_or_default(), d));
    }
    let mut successful = Vec::new();
    let mut failed = Vec::new();
    let mut accepted = Vec::new();
    for (id, d) in drafts {
        match publish_to_topic(ctx, sns, arn, &facts, d) {
            Ok((mid, seq, message)) => {
                accepted.extend(message);
                let mut v = Value::map().with("Id", id).with("MessageId", mid);
                if let Some(s) = seq {
                    v.insert("SequenceNumber", s);
                }
                successful.push(v);
            }
            Err(err) => failed.push(
                Value::map()
                    .with("Id", id)
                    .with("Code", err.code.as_ref())
                    .with("Message", err.message.as_str())
                    .with("SenderFault", err.sender_fault),
            ),
        }
    }
    // One durable write for the whole batch.
    send(sns, accepted, facts.fifo).await?;
    Ok(Value::map()
        .with("Successful", Value::List(successful))
        .with("Failed", Value::List(failed)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_structure_needs_default() {
        let v = Value::map()
            .with("Message", r#"{"sqs":"x"}"#)
            .with("MessageStructure", "json");
        assert!(draft(&v).unwrap_err().message.contains("No default entry"));
        let v = Value::map()
            .with("Message", r#"{"default":"d","sqs":{"a":1}}"#)
            .with("MessageStructure", "json");
        let d = draft(&v).unwrap();
        let pp = d.per_protocol.unwrap();
        assert_eq!(pp["default"], "d");
        assert!(!pp.contains_key("sqs"));
    }

    #[test]
    fn sequence_numbers_grow_and_duplicates_repeat() {
        let rt = Runtime::default();
        let (dup, id1, s1) = rt.sequence("t", "a", 0, "m1");
        assert!(!dup);
        let (dup, id2, s2) = rt.sequence("t", "a", 1000, "m2");
        assert!(dup);
        assert_eq!((id1.as_str(), s1.as_str()), (id2.as_str(), s2.as_str()));
        let (dup, _, s3) = rt.sequence("t", "a", DEDUP_WINDOW_MS + 1, "m3");
        assert!(!dup);
        assert!(s3 > s1);
        assert_eq!(s3.len(), 20);
    }
}
