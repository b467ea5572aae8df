//! Delivery: runs after Publish has answered. Per subscription: filter policy, then
//! - SQS through the in-process dispatcher (GetQueueUrl once per queue, SendMessage), as
//!   the JSON envelope AWS sends or raw; FIFO topics keep order through one worker per topic;
//! - HTTP: POSTs with AWS's headers, retried per the delivery policy on the nephos clock;
//! - email, SMS, mobile push: the outbox;
//! - Lambda and Firehose: Invoke / PutRecord through the dispatcher; while those services
//!   are not emulated the delivery fails as to a deleted endpoint (not retried, to the
//!   dead-letter queue) with an outbox record saying so, never a pretended delivery;
//! - dead-letter queue (RedrivePolicy) when delivery finally fails.

use crate::feedback::{self, Outcome};
use crate::outbox::Entry;
use crate::publish::{Attribute, Message};
use crate::signing::canonical;
use crate::state::{Region, Subscription, parse_arn};
use crate::{Sns, filter, http};
use nephos_core::{AwsError, RequestContext, Value};
use serde_json::{Value as Json, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use tokio::sync::mpsc;

/// Queue URLs by queue ARN, so a delivery costs one SendMessage.
#[derive(Default)]
pub struct QueueUrls {
    urls: RwLock<HashMap<String, String>>,
    /// FIFO topics deliver in order through one worker each.
    workers: Mutex<HashMap<String, mpsc::UnboundedSender<Delivery>>>,
}

impl QueueUrls {
    pub fn clear(&self) {
        self.urls.write().unwrap().clear();
        self.workers.lock().unwrap().clear();
    }
}

/// What delivery needs to know about the topic.
struct TopicView {
    signature_version: String,
    delivery_policy: Option<String>,
    feedback: feedback::Settings,
}

/// Hands a published message to its subscribers in the background: those subscribed and
/// confirmed when it was published (a subscription confirmed later does not get it).
pub fn fan_out(sns: &Arc<Sns>, message: Arc<Message>, fifo: bool) {
    let subs = region_of(sns, &message.topic_arn)
        .map(|r| r.subscriptions_of(&message.topic_arn))
        .unwrap_or_default();
    if fifo {
        let mut workers = sns.queue_urls.workers.lock().unwrap();
        let tx = workers.entry(message.topic_arn.clone()).or_insert_with(|| {
            let (tx, mut rx) = mpsc::unbounded_channel::<Delivery>();
            let sns = sns.clone();
            tokio::spawn(async move {
                while let Some((m, subs)) = rx.recv().await {
                    deliver_all(&sns, m, subs, true).await;
                }
            });
            tx
        });
        if let Err(mpsc::error::SendError((m, _))) = tx.send((message, subs)) {
            workers.remove(&m.topic_arn);
        }
        return;
    }
    let sns = sns.clone();
    tokio::spawn(async move { deliver_all(&sns, message, subs, false).await });
}

/// A topic's subscriptions as they were when a message was published.
type Recipients = Vec<Arc<crate::state::Subscription>>;

/// A message and its recipients, queued for a FIFO topic's worker.
type Delivery = (Arc<Message>, Recipients);

fn region_of(sns: &Sns, arn: &str) -> Option<Arc<Region>> {
    parse_arn(arn).map(|a| sns.region(a.account, a.region))
}

async fn deliver_all(sns: &Arc<Sns>, m: Arc<Message>, subs: Recipients, ordered: bool) {
    let Some(region) = region_of(sns, &m.topic_arn) else {
        return;
    };
    let topic = {
        let topics = region.topics.read().unwrap();
        let Some(t) = topics.get(&m.topic_arn) else {
            return;
        };
        Arc::new(TopicView {
            signature_version: t.attr("SignatureVersion").unwrap_or("1").to_owned(),
            delivery_policy: t.attr("DeliveryPolicy").map(str::to_owned),
            feedback: feedback::Settings::of(&t.attributes),
        })
    };
    let mut contexts = QueueContexts::default();
    for sub in subs {
        if !sub.confirmed || !passes(&sub, &m) {
            continue;
        }
        match sub.protocol.as_str() {
            "sqs" => deliver_sqs(sns, &mut contexts, &sub, &m, &topic).await,
            "http" | "https" => {
                let (sns, m, topic) = (sns.clone(), m.clone(), topic.clone());
                let task = async move { deliver_http(&sns, &sub, &m, &topic).await };
                if ordered {
                    task.await;
                } else {
                    tokio::spawn(task);
                }
            }
            "email-json" => {
                let body = envelope(sns, &sub, &m, &topic);
                to_outbox(sns, &sub, &m, &body, None);
            }
            "email" | "sms" | "application" => {
                to_outbox(sns, &sub, &m, m.body_for(&sub.protocol), None);
            }
            "lambda" | "firehose" => deliver_managed(sns, &sub, &m, &topic).await,
            _ => {}
        }
    }
}

fn passes(sub: &Subscription, m: &Message) -> bool {
    let Some(policy) = &sub.filter else {
        return true;
    };
    match sub.scope() {
        filter::Scope::MessageAttributes => policy.matches_attributes(&|name| {
            m.attribute(name).map(|a| filter::Attr {
                data_type: &a.data_type,
                value: a.string.as_deref(),
            })
        }),
        filter::Scope::MessageBody => serde_json::from_str::<Json>(m.body_for(&sub.protocol))
            .map(|body| policy.matches_body(&body))
            .unwrap_or(false),
    }
}

fn to_outbox(sns: &Sns, sub: &Subscription, m: &Message, body: &str, note: Option<&str>) {
    sns.outbox.push(Entry {
        protocol: &sub.protocol,
        endpoint: &sub.endpoint,
        subject: m.subject.as_deref(),
        message: body,
        attributes: attributes_json(&m.attributes),
        timestamp: m.timestamp.clone(),
        topic_arn: Some(&m.topic_arn),
        subscription_arn: Some(&sub.arn),
        message_id: &m.id,
        note,
    });
}

pub fn attributes_json(attrs: &[(String, Attribute)]) -> Json {
    let mut out = serde_json::Map::new();
    for (k, a) in attrs {
        out.insert(
            k.clone(),
            json!({"Type": a.data_type, "Value": a.envelope_value()}),
        );
    }
    Json::Object(out)
}

fn q(s: &str) -> String {
    Json::String(s.to_owned()).to_string()
}

/// The JSON envelope of a Notification, laid out as AWS writes it.
fn envelope(sns: &Sns, sub: &Subscription, m: &Message, topic: &TopicView) -> String {
    let body = m.body_for(&sub.protocol);
    let version = topic.signature_version.as_str();
    // AWS does not sign the notifications of FIFO topics.
    let signed = !m.topic_arn.ends_with(".fifo");
    let signature = if !signed {
        String::new()
    } else {
        sns.signer.sign(
            version,
            &canonical(&[
                ("Message", Some(body)),
                ("MessageId", Some(&m.id)),
                ("Subject", m.subject.as_deref()),
                ("Timestamp", Some(&m.timestamp)),
                ("TopicArn", Some(&m.topic_arn)),
                ("Type", Some("Notification")),
            ]),
        )
    };
    let mut out = String::with_capacity(body.len() + 1024);
    out.push_str("{\n  \"Type\" : \"Notification\",\n");
    out.push_str(&format!("  \"MessageId\" : {},\n", q(&m.id)));
    if let Some(seq) = &m.sequence {
        out.push_str(&format!("  \"SequenceNumber\" : {},\n", q(seq)));
    }
    out.push_str(&format!("  \"TopicArn\" : {},\n", q(&m.topic_arn)));
    if let Some(s) = &m.subject {
        out.push_str(&format!("  \"Subject\" : {},\n", q(s)));
    }
    out.push_str(&format!("  \"Message\" : {},\n", q(body)));
    out.push_str(&format!("  \"Timestamp\" : {},\n", q(&m.timestamp)));
    if signed {
        out.push_str(&format!("  \"SignatureVersion\" : {},\n", q(version)));
        out.push_str(&format!("  \"Signature\" : {},\n", q(&signature)));
        out.push_str(&format!("  \"SigningCertURL\" : {},\n", q(&sns.cert_url())));
    }
    out.push_str(&format!(
        "  \"UnsubscribeURL\" : {}",
        q(&format!(
            "{}/?Action=Unsubscribe&SubscriptionArn={}",
            sns.endpoint(),
            sub.arn
        ))
    ));
    if !m.attributes.is_empty() {
        out.push_str(",\n  \"MessageAttributes\" : {\n");
        let items: Vec<String> = m
            .attributes
            .iter()
            .map(|(k, a)| {
                format!(
                    "    {} : {{\"Type\":{},\"Value\":{}}}",
                    q(k),
                    q(&a.data_type),
                    q(&a.envelope_value())
                )
            })
            .collect();
        out.push_str(&items.join(",\n"));
        out.push_str("\n  }");
    }
    out.push_str("\n}");
    out
}

fn queue_context(sns: &Sns, account: &str, region: &str) -> RequestContext {
    let mut ctx = RequestContext::internal("sns", "Publish", sns.clock.clone());
    ctx.account_id = account.to_owned();
    ctx.region = region.to_owned();
    ctx.caller_arn = format!("arn:aws:iam::{account}:root");
    ctx
}

/// The contexts a message's deliveries run in, made once per message rather than once
/// per subscription (a context costs a fresh request id): per queue account and region,
/// the owner's (to look a queue URL up) and SNS's (to send, as `sns.amazonaws.com` for
/// the topic).
#[derive(Default)]
struct QueueContexts(Vec<(RequestContext, RequestContext)>);

impl QueueContexts {
    fn get(
        &mut self,
        sns: &Sns,
        topic_arn: &str,
        account: &str,
        region: &str,
    ) -> &(RequestContext, RequestContext) {
        let i = match self
            .0
            .iter()
            .position(|(c, _)| c.account_id == account && c.region == region)
        {
            Some(i) => i,
            None => {
                let owner = queue_context(sns, account, region);
                let mut sender = owner.clone();
                if let Some(topic) = parse_arn(topic_arn) {
                    sender.account_id = topic.account.to_owned();
                }
                sender.caller_arn = nephos_policy::service_caller("sns.amazonaws.com", topic_arn);
                self.0.push((owner, sender));
                self.0.len() - 1
            }
        };
        &self.0[i]
    }
}

/// Sends `m` to the queue `queue_arn` (URL looked up once, then cached) as SNS does: as
/// the service principal `sns.amazonaws.com` for the topic, so the queue's policy must
/// allow it (the lookup of the URL is SNS's own business and needs none). Answers SQS's
/// request id and message id.
async fn send_to_queue(
    sns: &Sns,
    contexts: &mut QueueContexts,
    m: &Message,
    queue_arn: &str,
    body: String,
    attributes: Option<Value>,
) -> Result<(String, String), AwsError> {
    let topic_arn = m.topic_arn.as_str();
    let a = parse_arn(queue_arn)
        .filter(|a| a.service == "sqs")
        .ok_or_else(|| AwsError::new(400, "InvalidParameter", "not an SQS queue ARN"))?;
    let (ctx, sender) = contexts.get(sns, topic_arn, a.account, a.region);
    let cached = sns.queue_urls.urls.read().unwrap().get(queue_arn).cloned();
    let url = match cached {
        Some(u) => u,
        None => {
            let out = sns
                .dispatcher
                .call(
                    ctx,
                    "sqs",
                    "GetQueueUrl",
                    Value::map()
                        .with("QueueName", a.resource)
                        .with("QueueOwnerAWSAccountId", a.account),
                )
                .await?;
            let url = out.str("QueueUrl").unwrap_or_default().to_owned();
            sns.queue_urls
                .urls
                .write()
                .unwrap()
                .insert(queue_arn.to_owned(), url.clone());
            url
        }
    };
    let mut input = Value::map().with("QueueUrl", url).with("MessageBody", body);
    if let Some(attrs) = attributes {
        input.insert("MessageAttributes", attrs);
    }
    // AWS carries the publisher's X-Ray trace on to the queue (LocalStack's recorded
    // test_publish_sqs_from_sns_with_xray_propagation).
    if let Some(trace) = &m.trace_header {
        input.insert(
            "MessageSystemAttributes",
            Value::map().with(
                "AWSTraceHeader",
                Value::map()
                    .with("DataType", "String")
                    .with("StringValue", trace.as_str()),
            ),
        );
    }
    match fifo_ids(m) {
        FifoIds::Fifo(group, dedup) if a.resource.ends_with(".fifo") => {
            input.insert("MessageGroupId", group);
            input.insert("MessageDeduplicationId", dedup);
        }
        // A standard topic passes a message group on to standard queues (fair queues);
        // a FIFO topic does not.
        FifoIds::Group(group) if !a.resource.ends_with(".fifo") => {
            input.insert("MessageGroupId", group);
        }
        _ => {}
    }
    let result = sns
        .dispatcher
        .call(sender, "sqs", "SendMessage", input)
        .await;
    if let Err(e) = &result
        && (e.code.contains("NonExistentQueue") || e.code.contains("QueueDoesNotExist"))
    {
        sns.queue_urls.urls.write().unwrap().remove(queue_arn);
    }
    result.map(|out| {
        (
            sender.request_id.clone(),
            out.str("MessageId").unwrap_or_default().to_owned(),
        )
    })
}

fn sqs_attributes(attrs: &[(String, Attribute)]) -> Option<Value> {
    if attrs.is_empty() {
        return None;
    }
    let mut map = Value::map();
    for (k, a) in attrs {
        let mut v = Value::map().with("DataType", a.data_type.as_str());
        if let Some(s) = &a.string {
            v.insert("StringValue", s.as_str());
        }
        if let Some(b) = &a.binary {
            v.insert("BinaryValue", b.clone());
        }
        map.insert(k, v);
    }
    Some(map)
}

/// The body and SQS attributes a subscription receives: raw, or the envelope.
fn payload(
    sns: &Sns,
    sub: &Subscription,
    m: &Message,
    topic: &TopicView,
) -> (String, Option<Value>) {
    if sub.raw() {
        (
            m.body_for(&sub.protocol).to_owned(),
            sqs_attributes(&m.attributes),
        )
    } else {
        (envelope(sns, sub, m, topic), None)
    }
}

/// The message group and deduplication ids a queue may receive with a message.
#[derive(Clone, Copy)]
enum FifoIds<'a> {
    None,
    /// Of a FIFO topic's message.
    Fifo(&'a str, &'a str),
    /// A standard topic's message published with a MessageGroupId.
    Group(&'a str),
}

fn fifo_ids(m: &Message) -> FifoIds<'_> {
    match (m.group_id.as_deref(), m.dedup_id.as_deref(), &m.sequence) {
        (Some(g), Some(d), Some(_)) => FifoIds::Fifo(g, d),
        (Some(g), _, None) => FifoIds::Group(g),
        _ => FifoIds::None,
    }
}

async fn deliver_sqs(
    sns: &Sns,
    contexts: &mut QueueContexts,
    sub: &Subscription,
    m: &Message,
    topic: &TopicView,
) {
    let (body, attrs) = payload(sns, sub, m, topic);
    let outcome = match send_to_queue(sns, contexts, m, &sub.endpoint, body, attrs).await {
        Ok((request, message)) => Outcome {
            success: true,
            status_code: 200,
            provider_response: json!({"sqsRequestId": request, "sqsMessageId": message})
                .to_string(),
            attempts: None,
        },
        Err(e) => {
            tracing::warn!(subscription = %sub.arn, code = %e.code, message = %e.message, "SNS delivery to SQS failed");
            dead_letter(sns, sub, m, topic).await;
            Outcome {
                success: false,
                status_code: e.status,
                provider_response: json!({"ErrorCode": e.code, "ErrorMessage": e.message})
                    .to_string(),
                attempts: None,
            }
        }
    };
    feedback::record(sns, &topic.feedback, "sqs", m, &sub.endpoint, outcome).await;
}

/// The Lambda event of a notification: the envelope's fields in a `Records` list, with
/// the `SigningCertUrl`/`UnsubscribeUrl` spelling Lambda uses.
fn lambda_event(sns: &Sns, sub: &Subscription, m: &Message, topic: &TopicView) -> String {
    let mut record: serde_json::Map<String, Json> =
        serde_json::from_str(&envelope(sns, sub, m, topic)).unwrap_or_default();
    for (from, to) in [
        ("SigningCertURL", "SigningCertUrl"),
        ("UnsubscribeURL", "UnsubscribeUrl"),
    ] {
        if let Some(v) = record.remove(from) {
            record.insert(to.to_owned(), v);
        }
    }
    record
        .entry("MessageAttributes")
        .or_insert_with(|| json!({}));
    // Lambda's records always carry a Subject (null without one), and always say
    // SignatureVersion 1, even where the signature is a version 2 (SHA256) one: AWS
    // recorded both.
    record.entry("Subject").or_insert(Json::Null);
    if let Some(v) = record.get_mut("SignatureVersion") {
        *v = json!("1");
    }
    json!({"Records": [{
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": sub.arn,
        "Sns": record,
    }]})
    .to_string()
}

/// Lambda and Firehose subscriptions: the function is invoked (asynchronously) or the
/// record put through the dispatcher, as SNS calls those services, with SNS's service
/// principal and the topic as source. While nephos does not emulate the target service
/// the call fails like a call to a deleted endpoint: a client-side error, which AWS does
/// not retry, so the message goes to the subscription's dead-letter queue if it has one
/// (and is discarded otherwise). An outbox record with a `note` says why, so the failure
/// is visible; nothing pretends the message arrived.
async fn deliver_managed(sns: &Sns, sub: &Subscription, m: &Message, topic: &TopicView) {
    let Some(a) = parse_arn(&sub.endpoint) else {
        return;
    };
    let mut ctx = RequestContext::internal("sns", "Publish", sns.clock.clone());
    ctx.account_id = a.account.to_owned();
    ctx.region = a.region.to_owned();
    ctx.caller_arn = nephos_policy::service_caller("sns.amazonaws.com", &m.topic_arn);
    let raw = sub.raw();
    let (service, operation, body, input) = if sub.protocol == "lambda" {
        let event = lambda_event(sns, sub, m, topic);
        let input = Value::map()
            .with("FunctionName", sub.endpoint.as_str())
            .with("InvocationType", "Event")
            .with("Payload", bytes::Bytes::from(event.clone()));
        ("lambda", "Invoke", event, input)
    } else {
        let body = if raw {
            m.body_for(&sub.protocol).to_owned()
        } else {
            envelope(sns, sub, m, topic)
        };
        let stream = a
            .resource
            .strip_prefix("deliverystream/")
            .unwrap_or(a.resource);
        let input = Value::map().with("DeliveryStreamName", stream).with(
            "Record",
            Value::map().with("Data", bytes::Bytes::from(body.clone())),
        );
        ("firehose", "PutRecord", body, input)
    };
    let outcome = match sns.dispatcher.call(&ctx, service, operation, input).await {
        Ok(out) => {
            // An asynchronous invocation is accepted with 202; the response names
            // Lambda's request, the one the function's logs carry.
            let provider_response = if service == "lambda" {
                json!({"lambdaRequestId": ctx.request_id}).to_string()
            } else {
                json!({"firehoseRecordId": out.str("RecordId")}).to_string()
            };
            let status_code = out
                .int("StatusCode")
                .and_then(|s| u16::try_from(s).ok())
                .unwrap_or(200);
            Outcome {
                success: true,
                status_code,
                provider_response,
                attempts: None,
            }
        }
        Err(e) => failed(sns, sub, m, topic, &body, service, e).await,
    };
    feedback::record(
        sns,
        &topic.feedback,
        &sub.protocol,
        m,
        &sub.endpoint,
        outcome,
    )
    .await;
}

/// A refused delivery to Lambda or Firehose: noted in the outbox, sent to the
/// subscription's dead-letter queue, and described for delivery status logging.
async fn failed(
    sns: &Sns,
    sub: &Subscription,
    m: &Message,
    topic: &TopicView,
    body: &str,
    service: &str,
    e: AwsError,
) -> Outcome {
    let name = if service == "lambda" {
        "Lambda"
    } else {
        "Firehose"
    };
    let note = if e.status == 501 || e.code.contains("NotImplemented") {
        format!(
            "not delivered: {name} is not emulated by nephos yet; sent to the dead-letter queue if the subscription has one"
        )
    } else {
        format!(
            "not delivered: {name} answered {}: {}; sent to the dead-letter queue if the subscription has one",
            e.code, e.message
        )
    };
    tracing::info!(subscription = %sub.arn, code = %e.code, "SNS delivery to {name} failed");
    to_outbox(sns, sub, m, body, Some(&note));
    dead_letter(sns, sub, m, topic).await;
    Outcome {
        success: false,
        status_code: e.status,
        provider_response: json!({"ErrorCode": e.code, "ErrorMessage": e.message}).to_string(),
        attempts: None,
    }
}

async fn dead_letter(sns: &Sns, sub: &Subscription, m: &Message, topic: &TopicView) {
    let Some(target) = sub
        .attr("RedrivePolicy")
        .and_then(|p| serde_json::from_str::<Json>(p).ok())
        .and_then(|p| p["deadLetterTargetArn"].as_str().map(str::to_owned))
    else {
        return;
    };
    let (body, attrs) = payload(sns, sub, m, topic);
    let mut contexts = QueueContexts::default();
    if let Err(e) = send_to_queue(sns, &mut contexts, m, &target, body, attrs).await {
        tracing::warn!(subscription = %sub.arn, dlq = %target, code = %e.code, "SNS dead-letter delivery failed");
    }
}

/// A retry policy as AWS documents it (`healthyRetryPolicy`).
#[derive(Debug, Clone, PartialEq)]
struct RetryPolicy {
    min_delay: f64,
    max_delay: f64,
    num_retries: u32,
    no_delay: u32,
    min_delay_retries: u32,
    max_delay_retries: u32,
    backoff: String,
}

impl RetryPolicy {
    fn default_http() -> RetryPolicy {
        RetryPolicy {
            min_delay: 20.0,
            max_delay: 20.0,
            num_retries: 3,
            no_delay: 0,
            min_delay_retries: 0,
            max_delay_retries: 0,
            backoff: "linear".into(),
        }
    }

    fn from_json(j: &Json) -> RetryPolicy {
        let d = RetryPolicy::default_http();
        let n = |k: &str, dflt: u32| j[k].as_u64().map_or(dflt, |v| v as u32);
        RetryPolicy {
            min_delay: j["minDelayTarget"].as_f64().unwrap_or(d.min_delay),
            max_delay: j["maxDelayTarget"].as_f64().unwrap_or(d.max_delay),
            num_retries: n("numRetries", d.num_retries),
            no_delay: n("numNoDelayRetries", 0),
            min_delay_retries: n("numMinDelayRetries", 0),
            max_delay_retries: n("numMaxDelayRetries", 0),
            backoff: j["backoffFunction"].as_str().unwrap_or("linear").to_owned(),
        }
    }

    fn to_json(&self) -> Json {
        json!({
            "minDelayTarget": self.min_delay,
            "maxDelayTarget": self.max_delay,
            "numRetries": self.num_retries,
            "numMaxDelayRetries": self.max_delay_retries,
            "numNoDelayRetries": self.no_delay,
            "numMinDelayRetries": self.min_delay_retries,
            "backoffFunction": self.backoff,
        })
    }

    /// Seconds to wait before each retry: immediate, pre-backoff (min delay), backoff
    /// (min to max by the backoff function), post-backoff (max delay).
    fn delays(&self) -> Vec<f64> {
        let mut out = vec![0.0; self.no_delay as usize];
        out.extend(std::iter::repeat_n(
            self.min_delay,
            self.min_delay_retries as usize,
        ));
        let backoff = self
            .num_retries
            .saturating_sub(self.no_delay + self.min_delay_retries + self.max_delay_retries);
        for i in 1..=backoff {
            let f = i as f64 / backoff as f64;
            let (lo, hi) = (self.min_delay, self.max_delay);
            out.push(match self.backoff.as_str() {
                "arithmetic" => lo + (hi - lo) * f * f,
                "geometric" | "exponential" if lo > 0.0 => lo * (hi / lo).powf(f),
                _ => lo + (hi - lo) * f,
            });
        }
        out.extend(std::iter::repeat_n(
            self.max_delay,
            self.max_delay_retries as usize,
        ));
        out
    }
}

fn policy_for(sub: &Subscription, topic_policy: Option<&str>) -> RetryPolicy {
    let topic: Option<Json> = topic_policy.and_then(|p| serde_json::from_str(p).ok());
    let overrides_disabled = topic
        .as_ref()
        .and_then(|t| t["http"]["disableSubscriptionOverrides"].as_bool())
        .unwrap_or(false);
    if !overrides_disabled
        && let Some(p) = sub
            .attr("DeliveryPolicy")
            .and_then(|p| serde_json::from_str::<Json>(p).ok())
        && p["healthyRetryPolicy"].is_object()
    {
        return RetryPolicy::from_json(&p["healthyRetryPolicy"]);
    }
    match &topic {
        Some(t) if t["http"]["defaultHealthyRetryPolicy"].is_object() => {
            RetryPolicy::from_json(&t["http"]["defaultHealthyRetryPolicy"])
        }
        _ => RetryPolicy::default_http(),
    }
}

pub fn effective_policy_json(sns: &Sns, sub: &Subscription) -> String {
    let topic_policy = region_of(sns, &sub.topic_arn).and_then(|r| {
        r.topics
            .read()
            .unwrap()
            .get(&sub.topic_arn)
            .and_then(|t| t.attr("DeliveryPolicy").map(str::to_owned))
    });
    json!({
        "healthyRetryPolicy": policy_for(sub, topic_policy.as_deref()).to_json(),
        "requestPolicy": {"headerContentType": "text/plain; charset=UTF-8"},
    })
    .to_string()
}

/// POSTs until the endpoint accepts or the policy gives up; `true` when delivered.
async fn post_with_retries(
    sns: &Sns,
    url: &str,
    headers: &[(&str, &str)],
    body: &str,
    policy: &RetryPolicy,
) -> bool {
    let mut delays = policy.delays().into_iter();
    loop {
        match http::post(url, headers, body).await {
            Ok(s) if (200..300).contains(&s) => return true,
            // Client errors other than throttling are final, as in AWS.
            Ok(s) if (400..500).contains(&s) && s != 429 => return false,
            Ok(s) => tracing::debug!(url, status = s, "SNS HTTP delivery failed"),
            Err(e) => tracing::debug!(url, error = %e, "SNS HTTP delivery failed"),
        }
        let Some(delay) = delays.next() else {
            return false;
        };
        let deadline = sns.clock.now_millis() + (delay * 1000.0) as i64;
        sns.clock.sleep_until(deadline).await;
    }
}

async fn deliver_http(sns: &Sns, sub: &Subscription, m: &Message, topic: &TopicView) {
    let policy = policy_for(sub, topic.delivery_policy.as_deref());
    let raw = sub.raw();
    let body = if raw {
        m.body_for(&sub.protocol).to_owned()
    } else {
        envelope(sns, sub, m, topic)
    };
    let mut headers = vec![
        ("x-amz-sns-message-type", "Notification"),
        ("x-amz-sns-message-id", m.id.as_str()),
        ("x-amz-sns-topic-arn", m.topic_arn.as_str()),
        ("x-amz-sns-subscription-arn", sub.arn.as_str()),
        ("Content-Type", "text/plain; charset=UTF-8"),
    ];
    if raw {
        headers.push(("x-amz-sns-rawdelivery", "true"));
    }
    if !post_with_retries(sns, &sub.endpoint, &headers, &body, &policy).await {
        tracing::info!(subscription = %sub.arn, "SNS HTTP delivery gave up");
        dead_letter(sns, sub, m, topic).await;
    }
}

/// Which confirmation a subscriber is sent.
#[derive(Clone, Copy, PartialEq)]
pub enum Confirmation {
    /// Of a new HTTP(S) or email subscription.
    Subscribe,
    /// Of an HTTP(S) subscription just deleted; its SubscribeURL restores it.
    Unsubscribe,
}

/// Sends a SubscriptionConfirmation or UnsubscribeConfirmation, laid out and signed as
/// AWS sends them.
pub fn send_confirmation(sns: Arc<Sns>, sub: Subscription, kind: Confirmation) {
    let unsubscribe = kind == Confirmation::Unsubscribe;
    let kind = if unsubscribe {
        "UnsubscribeConfirmation"
    } else {
        "SubscriptionConfirmation"
    };
    tokio::spawn(async move {
        let token = sub.token.clone().unwrap_or_default();
        let id = nephos_core::request_id();
        let timestamp = crate::publish::now_iso(&sns);
        let subscribe_url = format!(
            "{}/?Action=ConfirmSubscription&TopicArn={}&Token={}",
            sns.endpoint(),
            sub.topic_arn,
            token
        );
        let message = if unsubscribe {
            format!(
                "You have chosen to deactivate subscription {}.\nTo cancel this operation and restore the subscription, visit the SubscribeURL included in this message.",
                sub.arn
            )
        } else {
            format!(
                "You have chosen to subscribe to the topic {}.\nTo confirm the subscription, visit the SubscribeURL included in this message.",
                sub.topic_arn
            )
        };
        let version = region_of(&sns, &sub.topic_arn)
            .and_then(|r| {
                r.topics
                    .read()
                    .unwrap()
                    .get(&sub.topic_arn)
                    .and_then(|t| t.attr("SignatureVersion").map(str::to_owned))
            })
            .unwrap_or_else(|| "1".to_owned());
        let signature = sns.signer.sign(
            &version,
            &canonical(&[
                ("Message", Some(&message)),
                ("MessageId", Some(&id)),
                ("SubscribeURL", Some(&subscribe_url)),
                ("Timestamp", Some(&timestamp)),
                ("Token", Some(&token)),
                ("TopicArn", Some(&sub.topic_arn)),
                ("Type", Some(kind)),
            ]),
        );
        let body = format!(
            "{{\n  \"Type\" : {},\n  \"MessageId\" : {},\n  \"Token\" : {},\n  \"TopicArn\" : {},\n  \"Message\" : {},\n  \"SubscribeURL\" : {},\n  \"Timestamp\" : {},\n  \"SignatureVersion\" : {},\n  \"Signature\" : {},\n  \"SigningCertURL\" : {}\n}}",
            q(kind),
            q(&id),
            q(&token),
            q(&sub.topic_arn),
            q(&message),
            q(&subscribe_url),
            q(&timestamp),
            q(&version),
            q(&signature),
            q(&sns.cert_url()),
        );
        match sub.protocol.as_str() {
            "http" | "https" => {
                let mut headers = vec![
                    ("x-amz-sns-message-type", kind),
                    ("x-amz-sns-message-id", id.as_str()),
                    ("x-amz-sns-topic-arn", sub.topic_arn.as_str()),
                    ("Content-Type", "text/plain; charset=UTF-8"),
                ];
                // The subscription exists (until now) only for the unsubscribe message.
                if unsubscribe {
                    headers.push(("x-amz-sns-subscription-arn", sub.arn.as_str()));
                }
                let policy = policy_for(&sub, None);
                post_with_retries(&sns, &sub.endpoint, &headers, &body, &policy).await;
            }
            _ => {
                let text = if sub.protocol == "email-json" {
                    body.clone()
                } else {
                    format!("{message}\n{subscribe_url}")
                };
                sns.outbox.push(Entry {
                    protocol: &sub.protocol,
                    endpoint: &sub.endpoint,
                    subject: Some("AWS Notification - Subscription Confirmation"),
                    message: &text,
                    attributes: json!({"Token": token, "SubscribeURL": subscribe_url}),
                    timestamp,
                    topic_arn: Some(&sub.topic_arn),
                    subscription_arn: Some(&sub.arn),
                    message_id: &id,
                    note: Some("SubscriptionConfirmation"),
                });
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_schedule_follows_the_policy_phases() {
        assert_eq!(RetryPolicy::default_http().delays(), vec![20.0, 20.0, 20.0]);
        let p = RetryPolicy::from_json(&json!({
            "minDelayTarget": 1, "maxDelayTarget": 10, "numRetries": 7,
            "numNoDelayRetries": 2, "numMinDelayRetries": 1, "numMaxDelayRetries": 1,
            "backoffFunction": "linear"
        }));
        let d = p.delays();
        assert_eq!(d.len(), 7);
        assert_eq!(&d[..3], &[0.0, 0.0, 1.0]);
        assert_eq!(d[6], 10.0);
        assert!(d[3] < d[4] && d[4] < d[5]);
    }
}
