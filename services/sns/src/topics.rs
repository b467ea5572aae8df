//! Topics: create (standard and FIFO, idempotent), delete, list, attributes, the topic
//! policy (AddPermission/RemovePermission), data protection policies and tags.

use crate::Sns;
use crate::state::{self, Topic, invalid, topic_arn, topic_not_found};
use nephos_core::{AwsError, RequestContext, Value};
use serde_json::json;
use std::collections::BTreeMap;

const PAGE: usize = 100;
const MAX_TAGS: usize = 50;

/// Attributes a client may set on a topic (besides the per-protocol feedback ones).
const SETTABLE: &[&str] = &[
    "DisplayName",
    "Policy",
    "DeliveryPolicy",
    "KmsMasterKeyId",
    "ContentBasedDeduplication",
    "FifoThroughputScope",
    "SignatureVersion",
    "TracingConfig",
    "ArchivePolicy",
];

fn feedback_attribute(name: &str) -> bool {
    ["HTTP", "HTTPS", "Firehose", "Lambda", "SQS", "Application"]
        .iter()
        .any(|p| {
            name.strip_prefix(p).is_some_and(|rest| {
                matches!(
                    rest,
                    "SuccessFeedbackRoleArn"
                        | "SuccessFeedbackSampleRate"
                        | "FailureFeedbackRoleArn"
                )
            })
        })
}

pub fn default_policy(arn: &str, account: &str) -> String {
    json!({
        "Version": "2008-10-17",
        "Id": "__default_policy_ID",
        "Statement": [{
            "Sid": "__default_statement_ID",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": [
                "SNS:GetTopicAttributes", "SNS:SetTopicAttributes", "SNS:AddPermission",
                "SNS:RemovePermission", "SNS:DeleteTopic", "SNS:Subscribe",
                "SNS:ListSubscriptionsByTopic", "SNS:Publish"
            ],
            "Resource": arn,
            "Condition": {"StringEquals": {"AWS:SourceOwner": account}}
        }]
    })
    .to_string()
}

pub const DEFAULT_HTTP_POLICY: &str = r#"{"http":{"defaultHealthyRetryPolicy":{"minDelayTarget":20,"maxDelayTarget":20,"numRetries":3,"numMaxDelayRetries":0,"numNoDelayRetries":0,"numMinDelayRetries":0,"backoffFunction":"linear"},"disableSubscriptionOverrides":false,"defaultRequestPolicy":{"headerContentType":"text/plain; charset=UTF-8"}}}"#;

fn valid_name(name: &str, fifo: bool) -> bool {
    let base = if fifo {
        match name.strip_suffix(".fifo") {
            Some(b) => b,
            None => return false,
        }
    } else {
        name
    };
    !name.is_empty()
        && name.len() <= 256
        && !base.is_empty()
        && base
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Validates one settable attribute; `fifo` is the topic's kind.
fn check_attribute(name: &str, value: &str, fifo: bool) -> Result<(), AwsError> {
    let bad = |reason: &str| {
        Err(invalid(format!(
            "Invalid parameter: Attributes Reason: {name}: {reason}"
        )))
    };
    match name {
        "DisplayName" if value.len() > 100 => bad("DisplayName must be at most 100 characters"),
        "Policy" | "DeliveryPolicy" | "ArchivePolicy"
            if !value.is_empty() && serde_json::from_str::<serde_json::Value>(value).is_err() =>
        {
            Err(invalid(format!(
                "Invalid parameter: {name}: failed to parse JSON"
            )))
        }
        "ContentBasedDeduplication" => {
            if !fifo {
                return Err(invalid(
                    "Invalid parameter: ContentBasedDeduplication Reason: Content based deduplication can only be set for FIFO topics",
                ));
            }
            if value != "true" && value != "false" {
                return bad("must be true or false");
            }
            Ok(())
        }
        "FifoThroughputScope" => {
            if !fifo {
                return Err(invalid(
                    "Invalid parameter: FifoThroughputScope Reason: FifoThroughputScope can only be set for FIFO topics",
                ));
            }
            if value != "Topic" && value != "MessageGroup" {
                return Err(invalid(format!(
                    "Invalid parameter: FifoThroughputScope Reason: Invalid value [{value}] for FifoThroughputScope. Valid values are [Topic, MessageGroup]"
                )));
            }
            Ok(())
        }
        "SignatureVersion" if value != "1" && value != "2" => Err(invalid(
            "Invalid parameter: SignatureVersion Reason: SignatureVersion must be 1 or 2",
        )),
        "TracingConfig" if value != "PassThrough" && value != "Active" => Err(invalid(
            "Invalid parameter: TracingConfig Reason: TracingConfig must be PassThrough or Active",
        )),
        _ => Ok(()),
    }
}

fn tags_of(v: Option<&Value>) -> Vec<(String, String)> {
    v.and_then(Value::as_list)
        .unwrap_or_default()
        .iter()
        .map(|t| {
            (
                t.str("Key").unwrap_or_default().to_owned(),
                t.str("Value").unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn string_map(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_map)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

fn check_tags(tags: &[(String, String)]) -> Result<(), AwsError> {
    for (k, v) in tags {
        if k.is_empty() || k.len() > 128 || v.len() > 256 || k.starts_with("aws:") {
            return Err(invalid(format!(
                "Invalid parameter: Tags Reason: invalid tag {k}"
            )));
        }
    }
    Ok(())
}

pub async fn create(sns: &Sns, ctx: &RequestContext, i: &Value) -> Result<Value, AwsError> {
    let name = i.str("Name").unwrap_or_default();
    let mut attributes = string_map(i.get("Attributes"));
    let fifo = match attributes.remove("FifoTopic").as_deref() {
        Some("true") => true,
        Some("false") | None => false,
        Some(_) => {
            return Err(invalid(
                "Invalid parameter: Attributes Reason: FifoTopic must be true or false",
            ));
        }
    };
    if !valid_name(name, fifo) {
        return Err(invalid(if fifo || name.ends_with(".fifo") {
            "Invalid parameter: Fifo Topic names must end with .fifo and must be made up of only uppercase and lowercase ASCII letters, numbers, underscores, and hyphens, and must be between 1 and 256 characters long."
        } else {
            "Invalid parameter: Topic Name"
        }));
    }
    for (k, v) in &attributes {
        if !SETTABLE.contains(&k.as_str()) && !feedback_attribute(k) {
            return Err(invalid(
                "Invalid parameter: Attributes Reason: Unknown attribute",
            ));
        }
        check_attribute(k, v, fifo)?;
    }
    let tags = tags_of(i.get("Tags"));
    check_tags(&tags)?;
    if tags.len() > MAX_TAGS {
        return Err(AwsError::new(
            400,
            "TagLimitExceeded",
            "Could not complete request: tag quota of per resource exceeded",
        ));
    }
    let dpp = i.str("DataProtectionPolicy").map(str::to_owned);
    let arn = format!("arn:aws:sns:{}:{}:{name}", ctx.region, ctx.account_id);
    let region = sns.region(&ctx.account_id, &ctx.region);
    let topic = {
        let mut topics = region.topics.write().unwrap();
        if let Some(existing) = topics.get(&arn) {
            // Creating an existing topic answers its ARN when nothing differs.
            let differs = attributes
                .iter()
                .any(|(k, v)| existing.attributes.get(k) != Some(v));
            if differs {
                return Err(invalid(
                    "Invalid parameter: Attributes Reason: Topic already exists with different attributes",
                ));
            }
            if !tags.is_empty() && !tags.iter().all(|t| existing.tags.contains(t)) {
                return Err(invalid(
                    "Invalid parameter: Tags Reason: Topic already exists with different tags",
                ));
            }
            return Ok(Value::map().with("TopicArn", arn));
        }
        let mut dedup = BTreeMap::new();
        for (k, v) in tags {
            dedup.insert(k, v);
        }
        let t = Topic {
            arn: arn.clone(),
            name: name.to_owned(),
            fifo,
            attributes,
            tags: dedup.into_iter().collect(),
            data_protection_policy: dpp,
            subscriptions_deleted: 0,
        };
        topics.insert(arn.clone(), t.clone());
        t
    };
    sns.persist(state::TOPICS, vec![(arn.clone(), Some(&topic))])
        .await?;
    Ok(Value::map().with("TopicArn", arn))
}

/// Runs `f` on the topic `arn` (in the account and region the ARN names) and persists it.
pub async fn update<R>(
    sns: &Sns,
    arn: &str,
    param: &str,
    f: impl FnOnce(&mut Topic) -> Result<R, AwsError>,
) -> Result<R, AwsError> {
    let a = topic_arn(arn, param)?;
    let region = sns.region(a.account, a.region);
    let (out, topic) = {
        let mut topics = region.topics.write().unwrap();
        let t = topics.get_mut(arn).ok_or_else(topic_not_found)?;
        let out = f(t)?;
        (out, t.clone())
    };
    sns.persist(state::TOPICS, vec![(arn.to_owned(), Some(&topic))])
        .await?;
    Ok(out)
}

pub fn read<R>(
    sns: &Sns,
    arn: &str,
    param: &str,
    f: impl FnOnce(&Topic) -> R,
) -> Result<R, AwsError> {
    let a = topic_arn(arn, param)?;
    let region = sns.region(a.account, a.region);
    let topics = region.topics.read().unwrap();
    topics.get(arn).map(f).ok_or_else(topic_not_found)
}

pub async fn delete(sns: &Sns, i: &Value) -> Result<Value, AwsError> {
    let arn = i.str("TopicArn").unwrap_or_default();
    let a = topic_arn(arn, "TopicArn")?;
    let region = sns.region(a.account, a.region);
    // Deleting a topic that does not exist succeeds, as in AWS.
    let removed = region.topics.write().unwrap().remove(arn).is_some();
    if !removed {
        return Ok(Value::map());
    }
    let subs: Vec<String> = region
        .subscriptions_of(arn)
        .into_iter()
        .map(|s| s.arn.clone())
        .collect();
    {
        let mut all = region.subs.write().unwrap();
        for s in &subs {
            all.remove(s);
        }
    }
    sns.runtime.forget(arn);
    sns.persist::<Topic>(state::TOPICS, vec![(arn.to_owned(), None)])
        .await?;
    sns.persist::<state::Subscription>(
        state::SUBSCRIPTIONS,
        subs.into_iter().map(|s| (s, None)).collect(),
    )
    .await?;
    Ok(Value::map())
}

/// A NextToken is the offset of the next page, base64-encoded as AWS's tokens are.
pub fn page_start(token: Option<&str>) -> Result<usize, AwsError> {
    use base64::Engine;
    match token {
        None | Some("") => Ok(0),
        Some(t) => base64::engine::general_purpose::STANDARD
            .decode(t)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| invalid("Invalid parameter: NextToken")),
    }
}

pub fn page_token(start: usize) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(start.to_string())
}

pub fn list(sns: &Sns, ctx: &RequestContext, i: &Value) -> Result<Value, AwsError> {
    let start = page_start(i.str("NextToken"))?;
    let region = sns.region(&ctx.account_id, &ctx.region);
    let topics = region.topics.read().unwrap();
    let page: Vec<Value> = topics
        .keys()
        .skip(start)
        .take(PAGE)
        .map(|arn| Value::map().with("TopicArn", arn.as_str()))
        .collect();
    let mut out = Value::map();
    if start + page.len() < topics.len() {
        out.insert("NextToken", page_token(start + PAGE));
    }
    out.insert("Topics", Value::List(page));
    Ok(out)
}

pub fn get_attributes(sns: &Sns, i: &Value) -> Result<Value, AwsError> {
    let arn = i.str("TopicArn").unwrap_or_default();
    let topic = read(sns, arn, "TopicArn", Clone::clone)?;
    let a = topic_arn(arn, "TopicArn")?;
    let region = sns.region(a.account, a.region);
    let subs = region.subscriptions_of(arn);
    let confirmed = subs.iter().filter(|s| s.confirmed).count();
    let mut attrs = Value::map()
        .with(
            "Policy",
            topic
                .attr("Policy")
                .map(str::to_owned)
                .unwrap_or_else(|| default_policy(arn, a.account)),
        )
        .with("Owner", a.account)
        .with("SubscriptionsPending", (subs.len() - confirmed).to_string())
        .with("TopicArn", arn)
        .with(
            "EffectiveDeliveryPolicy",
            topic.attr("DeliveryPolicy").unwrap_or(DEFAULT_HTTP_POLICY),
        )
        .with("SubscriptionsConfirmed", confirmed.to_string())
        .with("DisplayName", topic.attr("DisplayName").unwrap_or_default())
        .with(
            "SubscriptionsDeleted",
            topic.subscriptions_deleted.to_string(),
        );
    if topic.fifo {
        attrs.insert("FifoTopic", "true");
        attrs.insert(
            "ContentBasedDeduplication",
            topic.attr("ContentBasedDeduplication").unwrap_or("false"),
        );
    }
    for (k, v) in &topic.attributes {
        if !matches!(k.as_str(), "Policy" | "DisplayName") {
            attrs.insert(k, v.as_str());
        }
    }
    Ok(Value::map().with("Attributes", attrs))
}

pub async fn set_attribute(sns: &Sns, i: &Value) -> Result<Value, AwsError> {
    let arn = i.str("TopicArn").unwrap_or_default();
    let name = i.str("AttributeName").unwrap_or_default().to_owned();
    let value = i.str("AttributeValue").unwrap_or_default().to_owned();
    if !SETTABLE.contains(&name.as_str()) && !feedback_attribute(&name) {
        // Known by the topic check below first: AWS reports a missing topic before this.
        read(sns, arn, "TopicArn", |_| ())?;
        return Err(invalid("Invalid parameter: AttributeName"));
    }
    update(sns, arn, "TopicArn", |t| {
        check_attribute(&name, &value, t.fifo)?;
        if value.is_empty() && name != "DisplayName" {
            t.attributes.remove(&name);
        } else {
            t.attributes.insert(name, value);
        }
        Ok(())
    })
    .await?;
    Ok(Value::map())
}

fn policy_of(t: &Topic) -> serde_json::Value {
    let text = t
        .attr("Policy")
        .map(str::to_owned)
        .unwrap_or_else(|| default_policy(&t.arn, t.account()));
    serde_json::from_str(&text)
        .unwrap_or_else(|_| json!({"Version": "2008-10-17", "Statement": []}))
}

/// The SNS actions a topic policy statement may grant.
const SNS_ACTIONS: &[&str] = &[
    "AddPermission",
    "ConfirmSubscription",
    "CreatePlatformApplication",
    "CreatePlatformEndpoint",
    "CreateTopic",
    "DeleteEndpoint",
    "DeletePlatformApplication",
    "DeleteTopic",
    "GetDataProtectionPolicy",
    "GetEndpointAttributes",
    "GetPlatformApplicationAttributes",
    "GetSubscriptionAttributes",
    "GetTopicAttributes",
    "ListEndpointsByPlatformApplication",
    "ListPlatformApplications",
    "ListSubscriptions",
    "ListSubscriptionsByTopic",
    "ListTagsForResource",
    "ListTopics",
    "Publish",
    "PutDataProtectionPolicy",
    "RemovePermission",
    "SetEndpointAttributes",
    "SetPlatformApplicationAttributes",
    "SetSubscriptionAttributes",
    "SetTopicAttributes",
    "Subscribe",
    "TagResource",
    "Unsubscribe",
    "UntagResource",
];

pub async fn add_permission(sns: &Sns, i: &Value) -> Result<Value, AwsError> {
    let arn = i.str("TopicArn").unwrap_or_default();
    let label = i.str("Label").unwrap_or_default().to_owned();
    let strings = |k: &str| -> Vec<String> {
        i.get(k)
            .and_then(Value::as_list)
            .unwrap_or_default()
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    };
    let accounts = strings("AWSAccountId");
    let actions = strings("ActionName");
    update(sns, arn, "TopicArn", |t| {
        let mut policy = policy_of(t);
        let statements = policy["Statement"].as_array_mut().ok_or_else(|| {
            invalid("Invalid parameter: Policy")
        })?;
        if statements.iter().any(|s| s["Sid"] == json!(label)) {
            return Err(invalid("Invalid parameter: Statement already exists"));
        }
        if actions.iter().any(|a| !SNS_ACTIONS.contains(&a.as_str())) {
            return Err(invalid(
                "Invalid parameter: Policy statement action out of service scope!",
            ));
        }
        let principals: Vec<String> = accounts
            .iter()
            .map(|a| format!("arn:aws:iam::{a}:root"))
            .collect();
        let actions: Vec<String> = actions.iter().map(|a| format!("SNS:{a}")).collect();
        statements.push(json!({
            "Sid": label,
            "Effect": "Allow",
            "Principal": {"AWS": if principals.len() == 1 { json!(principals[0]) } else { json!(principals) }},
            "Action": if actions.len() == 1 { json!(actions[0]) } else { json!(actions) },
            "Resource": t.arn,
        }));
        t.attributes.insert("Policy".into(), policy.to_string());
        Ok(())
    })
    .await?;
    Ok(Value::map())
}

pub async fn remove_permission(sns: &Sns, i: &Value) -> Result<Value, AwsError> {
    let arn = i.str("TopicArn").unwrap_or_default();
    let label = i.str("Label").unwrap_or_default().to_owned();
    update(sns, arn, "TopicArn", |t| {
        let mut policy = policy_of(t);
        if let Some(statements) = policy["Statement"].as_array_mut() {
            statements.retain(|s| s["Sid"] != json!(label));
        }
        t.attributes.insert("Policy".into(), policy.to_string());
        Ok(())
    })
    .await?;
    Ok(Value::map())
}

pub fn get_data_protection(sns: &Sns, i: &Value) -> Result<Value, AwsError> {
    let arn = i.str("ResourceArn").unwrap_or_default();
    let p = read(sns, arn, "ResourceArn", |t| {
        t.data_protection_policy.clone()
    })?;
    Ok(Value::map().with("DataProtectionPolicy", p.unwrap_or_default()))
}

pub async fn put_data_protection(sns: &Sns, i: &Value) -> Result<Value, AwsError> {
    let arn = i.str("ResourceArn").unwrap_or_default();
    let policy = i.str("DataProtectionPolicy").unwrap_or_default().to_owned();
    if serde_json::from_str::<serde_json::Value>(&policy).map_or(true, |v| !v.is_object()) {
        return Err(invalid(
            "Invalid parameter: DataProtectionPolicy Reason: Failed to parse JSON",
        ));
    }
    update(sns, arn, "ResourceArn", |t| {
        t.data_protection_policy = Some(policy);
        Ok(())
    })
    .await?;
    Ok(Value::map())
}

fn resource_not_found() -> AwsError {
    AwsError::new(404, "ResourceNotFound", "Resource does not exist")
}

async fn update_tags(
    sns: &Sns,
    arn: &str,
    f: impl FnOnce(&mut Vec<(String, String)>) -> Result<(), AwsError>,
) -> Result<(), AwsError> {
    let a = state::parse_arn(arn)
        .filter(|a| a.service == "sns")
        .ok_or_else(|| invalid("Invalid parameter: ResourceArn"))?;
    let region = sns.region(a.account, a.region);
    let topic = {
        let mut topics = region.topics.write().unwrap();
        let t = topics.get_mut(arn).ok_or_else(resource_not_found)?;
        f(&mut t.tags)?;
        t.clone()
    };
    sns.persist(state::TOPICS, vec![(arn.to_owned(), Some(&topic))])
        .await
}

pub async fn tag(sns: &Sns, i: &Value) -> Result<Value, AwsError> {
    let arn = i.str("ResourceArn").unwrap_or_default();
    let new = tags_of(i.get("Tags"));
    check_tags(&new)?;
    update_tags(sns, arn, |tags| {
        let mut merged: BTreeMap<String, String> = tags.drain(..).collect();
        for (k, v) in new {
            merged.insert(k, v);
        }
        if merged.len() > MAX_TAGS {
            return Err(AwsError::new(
                400,
                "TagLimitExceeded",
                "Could not complete request: tag quota of per resource exceeded",
            ));
        }
        *tags = merged.into_iter().collect();
        Ok(())
    })
    .await?;
    Ok(Value::map())
}

pub async fn untag(sns: &Sns, i: &Value) -> Result<Value, AwsError> {
    let arn = i.str("ResourceArn").unwrap_or_default();
    let keys: Vec<&str> = i
        .get("TagKeys")
        .and_then(Value::as_list)
        .unwrap_or_default()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    update_tags(sns, arn, |tags| {
        tags.retain(|(k, _)| !keys.contains(&k.as_str()));
        Ok(())
    })
    .await?;
    Ok(Value::map())
}

pub fn list_tags(sns: &Sns, i: &Value) -> Result<Value, AwsError> {
    let arn = i.str("ResourceArn").unwrap_or_default();
    let a = state::parse_arn(arn)
        .filter(|a| a.service == "sns")
        .ok_or_else(|| invalid("Invalid parameter: ResourceArn"))?;
    let region = sns.region(a.account, a.region);
    let topics = region.topics.read().unwrap();
    let t = topics.get(arn).ok_or_else(resource_not_found)?;
    let tags: Vec<Value> = t
        .tags
        .iter()
        .map(|(k, v)| {
            Value::map()
                .with("Key", k.as_str())
                .with("Value", v.as_str())
        })
        .collect();
    Ok(Value::map().with("Tags", Value::List(tags)))
}
