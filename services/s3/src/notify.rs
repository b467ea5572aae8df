//! Event notifications: the bucket's configuration (queues, topics, Lambda functions,
//! EventBridge), validated as S3 does, and delivery of S3 event records to SQS queues and
//! SNS topics through the in-process dispatcher. Topics are published to as the service
//! principal `s3.amazonaws.com` for the bucket, so the topic's policy decides, as on AWS.
//! Lambda and EventBridge destinations are stored and returned; they deliver once those
//! services exist.

use crate::S3Provider;
use crate::errors;
use crate::store::Bucket;
use nephos_core::{AwsError, RequestContext, Timestamp, Value};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Destination {
    /// `Queue`, `Topic` or `LambdaFunction`.
    pub kind: String,
    pub id: String,
    pub arn: String,
    pub events: Vec<String>,
    pub rules: Vec<(String, String)>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Notifications {
    pub destinations: Vec<Destination>,
    pub eventbridge: bool,
}

const EVENTS: &[&str] = &[
    "s3:TestEvent",
    "s3:ObjectCreated:*",
    "s3:ObjectCreated:Put",
    "s3:ObjectCreated:Post",
    "s3:ObjectCreated:Copy",
    "s3:ObjectCreated:CompleteMultipartUpload",
    "s3:ObjectRemoved:*",
    "s3:ObjectRemoved:Delete",
    "s3:ObjectRemoved:DeleteMarkerCreated",
    "s3:ObjectRestore:*",
    "s3:ObjectRestore:Post",
    "s3:ObjectRestore:Completed",
    "s3:ObjectRestore:Delete",
    "s3:ReducedRedundancyLostObject",
    "s3:Replication:*",
    "s3:Replication:OperationFailedReplication",
    "s3:Replication:OperationNotTracked",
    "s3:Replication:OperationMissedThreshold",
    "s3:Replication:OperationReplicatedAfterThreshold",
    "s3:LifecycleExpiration:*",
    "s3:LifecycleExpiration:Delete",
    "s3:LifecycleExpiration:DeleteMarkerCreated",
    "s3:LifecycleTransition",
    "s3:IntelligentTiering",
    "s3:ObjectTagging:*",
    "s3:ObjectTagging:Put",
    "s3:ObjectTagging:Delete",
    "s3:ObjectAcl:Put",
];

/// (member of NotificationConfiguration, ARN member, kind, ARN service, the name S3's
/// errors give the destination).
const KINDS: [(&str, &str, &str, &str, &str); 3] = [
    ("QueueConfigurations", "QueueArn", "Queue", "sqs", "Queue"),
    ("TopicConfigurations", "TopicArn", "Topic", "sns", "Topic"),
    (
        "LambdaFunctionConfigurations",
        "LambdaFunctionArn",
        "LambdaFunction",
        "lambda",
        "CloudFunction",
    ),
];

/// A destination S3 could not validate (`ArgumentName1`/`ArgumentValue1`, numbered as
/// S3 numbers them).
fn unvalidated(name: &str, reason: &str) -> AwsError {
    AwsError::new(
        400,
        "InvalidArgument",
        "Unable to validate the following destination configurations",
    )
    .with_field("ArgumentName1", name)
    .with_field("ArgumentValue1", reason)
}

fn arn_parts(arn: &str) -> Option<(&str, &str, &str, &str)> {
    let mut p = arn.splitn(6, ':');
    if p.next()? != "arn" {
        return None;
    }
    let _partition = p.next()?;
    let service = p.next()?;
    let region = p.next()?;
    let account = p.next()?;
    let resource = p.next()?;
    Some((service, region, account, resource))
}

pub fn parse(config: Option<&Value>) -> Result<Notifications, AwsError> {
    let mut out = Notifications::default();
    let Some(config) = config else {
        return Ok(out);
    };
    for (member, arn_member, kind, service, arg) in KINDS {
        for c in config
            .get(member)
            .and_then(Value::as_list)
            .unwrap_or_default()
        {
            let arn = c.str(arn_member).unwrap_or_default();
            match arn_parts(arn) {
                None => {
                    return Err(errors::invalid_arg(
                        "The ARN could not be parsed",
                        arg,
                        Some(arn),
                    ));
                }
                Some((s, ..)) if s != service => {
                    return Err(errors::invalid_arg(
                        "The ARN is not well formed",
                        arg,
                        Some(arn),
                    ));
                }
                Some(_) => {}
            }
            let events: Vec<String> = c
                .get("Events")
                .and_then(Value::as_list)
                .unwrap_or_default()
                .iter()
                .filter_map(|e| e.as_str().map(str::to_owned))
                .collect();
            if events.is_empty() || events.iter().any(|e| !EVENTS.contains(&e.as_str())) {
                return Err(errors::invalid_argument(
                    "The event is not supported for notifications",
                ));
            }
            let mut rules = Vec::new();
            let list = c
                .get("Filter")
                .and_then(|f| f.get("Key"))
                .and_then(|k| k.get("FilterRules"))
                .and_then(Value::as_list)
                .unwrap_or_default();
            for r in list {
                // Names are matched in any case and kept as S3 writes them.
                let name = match r
                    .str("Name")
                    .unwrap_or_default()
                    .to_ascii_lowercase()
                    .as_str()
                {
                    "prefix" => "Prefix".to_owned(),
                    "suffix" => "Suffix".to_owned(),
                    other => other.to_owned(),
                };
                if name != "Prefix" && name != "Suffix" {
                    return Err(errors::invalid_arg(
                        "filter rule name must be either prefix or suffix",
                        "FilterRule.Name",
                        r.str("Name"),
                    ));
                }
                if rules.iter().any(|(n, _)| *n == name) {
                    return Err(errors::invalid_argument(
                        "Cannot specify more than one prefix rule in a filter.",
                    ));
                }
                rules.push((name, r.str("Value").unwrap_or_default().to_owned()));
            }
            let id = c
                .str("Id")
                .map(str::to_owned)
                .unwrap_or_else(|| crate::store::random_id(40));
            out.destinations.push(Destination {
                kind: kind.to_owned(),
                id,
                arn: arn.to_owned(),
                events,
                rules,
            });
        }
    }
    out.eventbridge = config.get("EventBridgeConfiguration").is_some();
    Ok(out)
}

pub fn to_value(n: &Notifications) -> Value {
    let mut v = Value::map();
    for (member, arn_member, kind, ..) in KINDS {
        let list: Vec<Value> = n
            .destinations
            .iter()
            .filter(|d| d.kind == kind)
            .map(|d| {
                let mut c = Value::map()
                    .with("Id", d.id.as_str())
                    .with(arn_member, d.arn.as_str())
                    .with(
                        "Events",
                        Value::List(d.events.iter().map(|e| Value::from(e.as_str())).collect()),
                    );
                if !d.rules.is_empty() {
                    let rules = d
                        .rules
                        .iter()
                        .map(|(n, x)| {
                            Value::map()
                                .with("Name", n.as_str())
                                .with("Value", x.as_str())
                        })
                        .collect();
                    c.insert(
                        "Filter",
                        Value::map()
                            .with("Key", Value::map().with("FilterRules", Value::List(rules))),
                    );
                }
                c
            })
            .collect();
        if !list.is_empty() {
            v.insert(member, Value::List(list));
        }
    }
    if n.eventbridge {
        v.insert("EventBridgeConfiguration", Value::map());
    }
    v
}

/// Keys in event records are URL-encoded, spaces as `+`.
pub fn encode_key(key: &str) -> String {
    let mut out = String::new();
    for b in key.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' | b'*' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn matches(d: &Destination, event: &str, key: &str) -> bool {
    let full = format!("s3:{event}");
    let event_ok = d.events.iter().any(|e| match e.strip_suffix('*') {
        Some(prefix) => full.starts_with(prefix),
        None => *e == full,
    });
    event_ok
        && d.rules.iter().all(|(n, v)| {
            if n.eq_ignore_ascii_case("prefix") {
                key.starts_with(v.as_str())
            } else {
                key.ends_with(v.as_str())
            }
        })
}

/// What an event says about its object.
pub struct ObjectEvent<'a> {
    pub name: &'a str,
    pub key: &'a str,
    pub size: Option<u64>,
    pub etag: Option<&'a str>,
    pub version_id: Option<&'a str>,
    /// The sequencer; events about an object's subresources (tags, ACL) carry none.
    pub seq: Option<u64>,
}

impl S3Provider {
    async fn queue_url(&self, ctx: &RequestContext, arn: &str) -> Result<String, AwsError> {
        let (_, region, account, name) =
            arn_parts(arn).ok_or_else(|| errors::invalid_argument("The ARN is not well formed"))?;
        let mut qctx = ctx.clone();
        qctx.region = region.to_owned();
        let out = self
            .dispatcher
            .call(
                &qctx,
                "sqs",
                "GetQueueUrl",
                Value::map()
                    .with("QueueName", name)
                    .with("QueueOwnerAWSAccountId", account),
            )
            .await?;
        Ok(out.str("QueueUrl").unwrap_or_default().to_owned())
    }

    /// Publishes `body` to a topic as S3 does: as the service principal, for the bucket.
    async fn publish(
        &self,
        ctx: &RequestContext,
        bucket: &str,
        arn: &str,
        body: String,
    ) -> Result<(), AwsError> {
        let mut tctx = ctx.clone();
        if let Some((_, region, ..)) = arn_parts(arn) {
            tctx.region = region.to_owned();
        }
        tctx.caller_arn =
            nephos_policy::service_caller("s3.amazonaws.com", &format!("arn:aws:s3:::{bucket}"));
        self.dispatcher
            .call(
                &tctx,
                "sns",
                "Publish",
                Value::map()
                    .with("TopicArn", arn)
                    .with("Subject", "Amazon S3 Notification")
                    .with("Message", body),
            )
            .await
            .map(|_| ())
    }

    /// Invokes a function as S3 does: asynchronously, as the service principal, for the
    /// bucket, so the function's resource policy decides.
    async fn invoke(
        &self,
        ctx: &RequestContext,
        bucket: &str,
        arn: &str,
        body: String,
        kind: &str,
    ) -> Result<(), AwsError> {
        let mut fctx = ctx.clone();
        if let Some((_, region, account, _)) = arn_parts(arn) {
            fctx.region = region.to_owned();
            fctx.account_id = account.to_owned();
        }
        fctx.caller_arn =
            nephos_policy::service_caller("s3.amazonaws.com", &format!("arn:aws:s3:::{bucket}"));
        self.dispatcher
            .call(
                &fctx,
                "lambda",
                "Invoke",
                Value::map()
                    .with("FunctionName", arn)
                    .with("InvocationType", kind)
                    .with("Payload", bytes::Bytes::from(body)),
            )
            .await
            .map(|_| ())
    }

    /// Delivers `body` to a queue, topic or function destination.
    async fn deliver(
        &self,
        ctx: &RequestContext,
        bucket: &str,
        d: &Destination,
        body: String,
    ) -> Result<(), AwsError> {
        match d.kind.as_str() {
            "Queue" => self.send(ctx, &d.arn, body).await,
            "Topic" => self.publish(ctx, bucket, &d.arn, body).await,
            "LambdaFunction" => self.invoke(ctx, bucket, &d.arn, body, "Event").await,
            _ => Ok(()),
        }
    }

    async fn send(&self, ctx: &RequestContext, arn: &str, body: String) -> Result<(), AwsError> {
        let url = self.queue_url(ctx, arn).await?;
        let mut qctx = ctx.clone();
        if let Some((_, region, ..)) = arn_parts(arn) {
            qctx.region = region.to_owned();
        }
        self.dispatcher
            .call(
                &qctx,
                "sqs",
                "SendMessage",
                Value::map().with("QueueUrl", url).with("MessageBody", body),
            )
            .await
            .map(|_| ())
    }

    pub(crate) async fn put_bucket_notification(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let name = input.str("Bucket").unwrap_or_default();
        let b = self.owned_bucket(ctx, name)?;
        let config = parse(input.get("NotificationConfiguration"))?;
        let skip = input.bool("SkipDestinationValidation").unwrap_or(false);
        let queues: Vec<String> = config
            .destinations
            .iter()
            .filter(|d| d.kind == "Queue")
            .map(|d| d.arn.clone())
            .collect();
        if !skip {
            for arn in &queues {
                if self.queue_url(ctx, arn).await.is_err() {
                    return Err(unvalidated(arn, "The destination queue does not exist"));
                }
            }
            // S3 checks that it may invoke each function (a dry run as S3, for the bucket).
            for d in config
                .destinations
                .iter()
                .filter(|d| d.kind == "LambdaFunction")
            {
                if self
                    .invoke(ctx, name, &d.arn, String::new(), "DryRun")
                    .await
                    .is_err()
                {
                    return Err(unvalidated(
                        &format!("{}, null", d.arn),
                        &format!("Not authorized to invoke function [{}]", d.arn),
                    ));
                }
            }
        }
        let test = serde_json::json!({
            "Service": "Amazon S3",
            "Event": "s3:TestEvent",
            "Time": ctx.clock.now().to_iso8601(),
            "Bucket": name,
            "RequestId": ctx.request_id,
            "HostId": crate::store::random_id(56),
        })
        .to_string();
        // S3 validates a topic by publishing its test event to it: a missing topic or one
        // whose policy does not let S3 publish refuses the configuration.
        if !skip {
            for d in config.destinations.iter().filter(|d| d.kind == "Topic") {
                if self.publish(ctx, name, &d.arn, test.clone()).await.is_err() {
                    return Err(unvalidated(
                        &d.arn,
                        "Permissions on the destination topic do not allow S3 to publish notifications from this bucket",
                    ));
                }
            }
        }
        b.meta.write().unwrap().notifications = Some(config);
        self.save_bucket(&b).await?;
        for arn in &queues {
            if let Err(e) = self.send(ctx, arn, test.clone()).await {
                tracing::warn!(error = %e.message, "s3 test event not delivered");
            }
        }
        Ok(Value::map())
    }

    pub(crate) fn get_bucket_notification(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let b = self.owned_bucket(ctx, input.str("Bucket").unwrap_or_default())?;
        let n = b
            .meta
            .read()
            .unwrap()
            .notifications
            .clone()
            .unwrap_or_default();
        Ok(to_value(&n))
    }

    /// Sends `event` to the bucket's matching queues (nothing when it has none).
    pub(crate) async fn notify(&self, ctx: &RequestContext, b: &Bucket, event: ObjectEvent<'_>) {
        let (config, name, owner, region) = {
            let m = b.meta.read().unwrap();
            let Some(n) = m.notifications.clone() else {
                return;
            };
            (n, m.name.clone(), m.owner.clone(), m.region.clone())
        };
        for d in config
            .destinations
            .iter()
            .filter(|d| matches!(d.kind.as_str(), "Queue" | "Topic" | "LambdaFunction"))
            .filter(|d| matches(d, event.name, event.key))
        {
            let mut object = serde_json::json!({"key": encode_key(event.key)});
            if let Some(seq) = event.seq {
                object["sequencer"] = format!("{seq:016X}").into();
            }
            if let Some(s) = event.size {
                object["size"] = s.into();
            }
            if let Some(e) = event.etag {
                object["eTag"] = e.trim_matches('"').into();
            }
            if let Some(v) = event
                .version_id
                .filter(|v| *v != crate::store::NULL_VERSION)
            {
                object["versionId"] = v.into();
            }
            // Tagging and ACL events came later, with version 2.3 of the record.
            let event_version = if event.name.starts_with("ObjectTagging:")
                || event.name.starts_with("ObjectAcl:")
            {
                "2.3"
            } else {
                "2.1"
            };
            let record = serde_json::json!({"Records": [{
                "eventVersion": event_version,
                "eventSource": "aws:s3",
                "awsRegion": region,
                "eventTime": Timestamp::from_millis(ctx.clock.now_millis()).to_iso8601(),
                "eventName": event.name,
                "userIdentity": {"principalId": format!("AWS:{}", ctx.account_id)},
                "requestParameters": {"sourceIPAddress": ctx.source_ip.map(|i| i.to_string()).unwrap_or_else(|| "127.0.0.1".into())},
                "responseElements": {"x-amz-request-id": ctx.request_id, "x-amz-id-2": crate::store::random_id(56)},
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": d.id,
                    "bucket": {"name": name, "ownerIdentity": {"principalId": crate::store::canonical_id(&owner)}, "arn": format!("arn:aws:s3:::{name}")},
                    "object": object,
                },
            }]});
            if let Err(e) = self.deliver(ctx, &name, d, record.to_string()).await {
                tracing::warn!(error = %e.message, destination = %d.arn, "s3 event not delivered");
            }
        }
    }

    /// The events of a finished request, from its input and output.
    pub(crate) async fn after(&self, ctx: &RequestContext, input: &Value, output: &Value) {
        let Some(b) = input.str("Bucket").and_then(|n| self.store.bucket(n)) else {
            return;
        };
        if b.meta.read().unwrap().notifications.is_none() {
            return;
        }
        let created = |name: &'static str, key: &str| {
            let version = output
                .str("VersionId")
                .unwrap_or(crate::store::NULL_VERSION);
            b.version(key, version).map(|v| (name, v))
        };
        match ctx.operation.as_str() {
            "PutObject" | "CopyObject" | "CompleteMultipartUpload" => {
                let name = match ctx.operation.as_str() {
                    "PutObject" => "ObjectCreated:Put",
                    "CopyObject" => "ObjectCreated:Copy",
                    _ => "ObjectCreated:CompleteMultipartUpload",
                };
                let key = input.str("Key").unwrap_or_default();
                if let Some((name, v)) = created(name, key) {
                    let ev = ObjectEvent {
                        name,
                        key,
                        size: Some(v.size),
                        etag: Some(&v.etag),
                        version_id: Some(&v.version_id),
                        seq: Some(v.seq),
                    };
                    self.notify(ctx, &b, ev).await;
                }
            }
            "DeleteObject" => {
                let key = input.str("Key").unwrap_or_default();
                self.removed(ctx, &b, key, output).await;
            }
            "PutObjectTagging" | "DeleteObjectTagging" => {
                let key = input.str("Key").unwrap_or_default();
                let name = if ctx.operation == "PutObjectTagging" {
                    "ObjectTagging:Put"
                } else {
                    "ObjectTagging:Delete"
                };
                let v = match output.str("VersionId") {
                    Some(id) => b.version(key, id),
                    None => b.latest(key),
                };
                if let Some(v) = v {
                    self.notify_subresource(ctx, &b, name, &v).await;
                }
            }
            "DeleteObjects" => {
                for d in output
                    .get("Deleted")
                    .and_then(Value::as_list)
                    .unwrap_or_default()
                {
                    self.removed(ctx, &b, d.str("Key").unwrap_or_default(), d)
                        .await;
                }
            }
            _ => {}
        }
    }

    /// An event about a version's tags or ACL: the object's key and ETag, no sequencer.
    pub(crate) async fn notify_subresource(
        &self,
        ctx: &RequestContext,
        b: &Bucket,
        name: &str,
        v: &crate::store::Version,
    ) {
        let ev = ObjectEvent {
            name,
            key: &v.key,
            size: None,
            etag: Some(&v.etag),
            version_id: Some(&v.version_id),
            seq: None,
        };
        self.notify(ctx, b, ev).await;
    }

    async fn removed(&self, ctx: &RequestContext, b: &Bucket, key: &str, out: &Value) {
        // A delete that created a marker leaves it behind; one that removed a marker does not.
        let marker = out.bool("DeleteMarker") == Some(true);
        let name = if marker
            && out
                .str("VersionId")
                .is_some_and(|v| b.version(key, v).is_some())
        {
            "ObjectRemoved:DeleteMarkerCreated"
        } else {
            "ObjectRemoved:Delete"
        };
        let version = out
            .str("VersionId")
            .or_else(|| out.str("DeleteMarkerVersionId"));
        // A delete marker is an empty object: its record carries the empty body's ETag.
        let etag = (name == "ObjectRemoved:DeleteMarkerCreated")
            .then_some("d41d8cd98f00b204e9800998ecf8427e");
        let ev = ObjectEvent {
            name,
            key,
            size: None,
            etag,
            version_id: version,
            seq: Some(self.store.next_seq()),
        };
        self.notify(ctx, b, ev).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_url_encoded() {
        assert_eq!(encode_key("a b/c+d.txt"), "a+b/c%2Bd.txt");
    }
}
