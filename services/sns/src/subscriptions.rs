//! Subscriptions: Subscribe (endpoint checks per protocol, confirmation for HTTP(S) and
//! email), ConfirmSubscription, Unsubscribe, listings and subscription attributes.

use crate::state::{self, Subscription, invalid, parse_arn, topic_arn, topic_not_found};
use crate::{Sns, delivery, filter, topics};
use nephos_core::{AwsError, RequestContext, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

const PAGE: usize = 100;

const PROTOCOLS: &[&str] = &[
    "http",
    "https",
    "email",
    "email-json",
    "sms",
    "sqs",
    "application",
    "lambda",
    "firehose",
];

const SETTABLE: &[&str] = &[
    "DeliveryPolicy",
    "FilterPolicy",
    "FilterPolicyScope",
    "RawMessageDelivery",
    "RedrivePolicy",
    "SubscriptionRoleArn",
    "ReplayPolicy",
];

/// Protocols whose subscriber must confirm before messages flow.
fn needs_confirmation(protocol: &str) -> bool {
    matches!(protocol, "http" | "https" | "email" | "email-json")
}

pub fn valid_phone(n: &str) -> bool {
    let digits = n.strip_prefix('+').unwrap_or(n);
    (digits.len() >= 7 && digits.len() <= 15) && digits.bytes().all(|b| b.is_ascii_digit())
}

fn check_endpoint(protocol: &str, endpoint: &str, topic_fifo: bool) -> Result<(), AwsError> {
    let arn_of = |service: &str| parse_arn(endpoint).filter(|a| a.service == service);
    let ok = match protocol {
        "http" => endpoint.starts_with("http://") && endpoint.len() > 7,
        "https" => endpoint.starts_with("https://") && endpoint.len() > 8,
        "email" | "email-json" => {
            let mut parts = endpoint.split('@');
            matches!((parts.next(), parts.next(), parts.next()), (Some(u), Some(d), None) if !u.is_empty() && !d.is_empty())
        }
        "sms" => valid_phone(endpoint),
        "sqs" => {
            let Some(a) = arn_of("sqs") else {
                return Err(invalid("Invalid parameter: SQS endpoint ARN"));
            };
            if a.resource.ends_with(".fifo") && !topic_fifo {
                return Err(invalid(
                    "Invalid parameter: Invalid parameter: Endpoint Reason: FIFO SQS Queues can not be subscribed to standard SNS topics",
                ));
            }
            true
        }
        "lambda" => arn_of("lambda").is_some(),
        "firehose" => arn_of("firehose").is_some_and(|a| a.resource.starts_with("deliverystream/")),
        "application" => arn_of("sns").is_some_and(|a| a.resource.starts_with("endpoint/")),
        _ => false,
    };
    if ok {
        return Ok(());
    }
    Err(invalid(match protocol {
        "email" | "email-json" => "Invalid parameter: Email address".to_owned(),
        "sms" => format!("Invalid SMS endpoint: {endpoint}"),
        "lambda" => "Invalid parameter: Lambda endpoint ARN".to_owned(),
        "firehose" => "Invalid parameter: Firehose endpoint ARN".to_owned(),
        "application" => "Invalid parameter: Application endpoint ARN".to_owned(),
        _ => "Invalid parameter: Endpoint must match the specified protocol".to_owned(),
    }))
}

/// Validates one subscription attribute; `reason` prefixes AWS's wording on Subscribe.
fn check_attribute(
    name: &str,
    value: &str,
    protocol: &str,
    attrs: &BTreeMap<String, String>,
    on_subscribe: bool,
) -> Result<(), AwsError> {
    let prefix = if on_subscribe {
        "Invalid parameter: Attributes Reason: "
    } else {
        "Invalid parameter: "
    };
    match name {
        "RawMessageDelivery" => {
            if !matches!(value.to_ascii_lowercase().as_str(), "true" | "false") {
                return Err(invalid(format!(
                    "{prefix}RawMessageDelivery: Invalid value [{value}]. Must be true or false."
                )));
            }
            if !matches!(protocol, "sqs" | "http" | "https" | "firehose") {
                return Err(invalid(format!(
                    "{prefix}Delivery protocol [{protocol}] does not support raw message delivery."
                )));
            }
        }
        "FilterPolicyScope" => {
            let Some(scope) = filter::Scope::parse(value) else {
                return Err(invalid(format!(
                    "{prefix}FilterPolicyScope: Invalid value [{value}]. Please use either MessageBody or MessageAttributes"
                )));
            };
            if let Some(p) = attrs.get("FilterPolicy").filter(|p| !p.is_empty()) {
                filter::parse(p, scope).map_err(|e| invalid(format!("{prefix}{e}")))?;
            }
        }
        "FilterPolicy" if !value.is_empty() => {
            let scope = attrs
                .get("FilterPolicyScope")
                .and_then(|s| filter::Scope::parse(s))
                .unwrap_or(filter::Scope::MessageAttributes);
            filter::parse(value, scope).map_err(|e| invalid(format!("{prefix}{e}")))?;
        }
        "RedrivePolicy" if !value.is_empty() => {
            let json: serde_json::Value = serde_json::from_str(value)
                .map_err(|_| invalid(format!("{prefix}RedrivePolicy: failed to parse JSON.")))?;
            let target = json["deadLetterTargetArn"].as_str().unwrap_or_default();
            if parse_arn(target).is_none_or(|a| a.service != "sqs") {
                return Err(invalid(format!(
                    "{prefix}RedrivePolicy: deadLetterTargetArn is an invalid arn"
                )));
            }
        }
        "DeliveryPolicy"
            if !value.is_empty() && serde_json::from_str::<serde_json::Value>(value).is_err() =>
        {
            return Err(invalid(format!(
                "{prefix}DeliveryPolicy: failed to parse JSON"
            )));
        }
        "SubscriptionRoleArn" if parse_arn(value).is_none_or(|a| a.service != "iam") => {
            return Err(invalid(format!(
                "{prefix}SubscriptionRoleArn: invalid role ARN"
            )));
        }
        _ => {}
    }
    Ok(())
}

pub async fn subscribe(sns: &Arc<Sns>, ctx: &RequestContext, i: &Value) -> Result<Value, AwsError> {
    let topic = i.str("TopicArn").unwrap_or_default().to_owned();
    let protocol = i.str("Protocol").unwrap_or_default().to_owned();
    let endpoint = i.str("Endpoint").unwrap_or_default().to_owned();
    let a = topic_arn(&topic, "TopicArn")?;
    let (account, region_name) = (a.account.to_owned(), a.region.to_owned());
    let fifo = topics::read(sns, &topic, "TopicArn", |t| t.fifo)?;
    if !PROTOCOLS.contains(&protocol.as_str()) {
        return Err(invalid(format!(
            "Invalid parameter: Amazon SNS does not support this protocol string: {protocol}"
        )));
    }
    check_endpoint(&protocol, &endpoint, fifo)?;
    let mut attributes = BTreeMap::new();
    if let Some(m) = i.get("Attributes").and_then(Value::as_map) {
        for (k, v) in m {
            let v = v.as_str().unwrap_or_default();
            if !SETTABLE.contains(&k.as_str()) {
                return Err(invalid(format!(
                    "Invalid parameter: Attributes Reason: Unknown attribute {k}"
                )));
            }
            attributes.insert(k.clone(), v.to_owned());
        }
    }
    for (k, v) in &attributes {
        check_attribute(k, v, &protocol, &attributes, true)?;
    }
    if protocol == "firehose" && !attributes.contains_key("SubscriptionRoleArn") {
        return Err(invalid(
            "Invalid parameter: Attributes Reason: SubscriptionRoleArn is required for firehose subscriptions",
        ));
    }
    if let Some(v) = attributes.get_mut("RawMessageDelivery") {
        *v = v.to_ascii_lowercase();
    }
    // An empty filter policy is no filter policy.
    if attributes.get("FilterPolicy").is_some_and(String::is_empty) {
        attributes.remove("FilterPolicy");
    }
    let region = sns.region(&account, &region_name);
    let return_arn = i.bool("ReturnSubscriptionArn").unwrap_or(false);
    // Subscribing the same endpoint twice answers the existing subscription.
    if let Some(existing) = region
        .subscriptions_of(&topic)
        .into_iter()
        .find(|s| s.protocol == protocol && s.endpoint == endpoint)
    {
        // Attributes the request leaves out, or sets to their defaults, match.
        let differs = attributes.iter().any(|(k, v)| {
            existing
                .attributes
                .get(k)
                .map_or(v != attribute_default(k), |e| e != v)
        });
        if differs {
            return Err(invalid(
                "Invalid parameter: Attributes Reason: Subscription already exists with different attributes",
            ));
        }
        let arn = if existing.confirmed || return_arn {
            existing.arn.clone()
        } else {
            "pending confirmation".to_owned()
        };
        return Ok(Value::map().with("SubscriptionArn", arn));
    }
    let confirm = needs_confirmation(&protocol);
    let mut sub = Subscription {
        arn: format!("{topic}:{}", nephos_core::request_id()),
        topic_arn: topic.clone(),
        protocol: protocol.clone(),
        endpoint,
        owner: ctx.account_id.clone(),
        confirmed: !confirm,
        authenticated: !confirm,
        token: confirm.then(new_token),
        attributes,
        filter: None,
        principal: Some(ctx.caller_arn.clone()),
    };
    sub.refresh_filter();
    region
        .subs
        .write()
        .unwrap()
        .insert(sub.arn.clone(), Arc::new(sub.clone()));
    sns.persist(state::SUBSCRIPTIONS, vec![(sub.arn.clone(), Some(&sub))])
        .await?;
    if confirm {
        delivery::send_confirmation(sns.clone(), sub.clone(), delivery::Confirmation::Subscribe);
    }
    let arn = if confirm && !return_arn {
        "pending confirmation".to_owned()
    } else {
        sub.arn
    };
    Ok(Value::map().with("SubscriptionArn", arn))
}

/// The value a subscription attribute has when never set.
fn attribute_default(name: &str) -> &'static str {
    match name {
        "RawMessageDelivery" => "false",
        "FilterPolicyScope" => "MessageAttributes",
        _ => "",
    }
}

/// AWS's tokens are long hex strings.
fn new_token() -> String {
    nephos_core::random_alnum(128, b"0123456789abcdef")
}

pub async fn confirm(sns: &Sns, i: &Value) -> Result<Value, AwsError> {
    let topic = i.str("TopicArn").unwrap_or_default();
    let token = i.str("Token").unwrap_or_default();
    let authenticated = i.str("AuthenticateOnUnsubscribe") == Some("true");
    let a = topic_arn(topic, "TopicArn")?;
    let region = sns.region(a.account, a.region);
    if !region.topics.read().unwrap().contains_key(topic) {
        return Err(topic_not_found());
    }
    let sub = {
        let mut subs = region.subs.write().unwrap();
        let prefix = format!("{topic}:");
        let found = subs
            .range_mut(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(_, s)| s)
            .find(|s| s.token.as_deref() == Some(token));
        match found {
            Some(sub) => {
                let sub = Arc::make_mut(sub);
                sub.confirmed = true;
                sub.authenticated = authenticated;
                sub.clone()
            }
            // The token of an UnsubscribeConfirmation brings the subscription back.
            None => {
                let mut restorable = region.restorable.lock().unwrap();
                let mut sub = restorable
                    .remove(token)
                    .filter(|s| s.topic_arn == topic)
                    .ok_or_else(|| invalid("Invalid parameter: Token"))?;
                sub.confirmed = true;
                sub.authenticated = authenticated;
                sub.refresh_filter();
                subs.insert(sub.arn.clone(), Arc::new(sub.clone()));
                sub
            }
        }
    };
    sns.persist(state::SUBSCRIPTIONS, vec![(sub.arn.clone(), Some(&sub))])
        .await?;
    Ok(Value::map().with("SubscriptionArn", sub.arn))
}

fn subscription_arn<'a>(arn: &'a str) -> Result<state::Arn<'a>, AwsError> {
    match parse_arn(arn) {
        Some(a) if a.service == "sns" && a.resource.split(':').count() == 2 => Ok(a),
        Some(_) => Err(invalid("Invalid parameter: SubscriptionArn")),
        None => Err(invalid(format!(
            "Invalid parameter: SubscriptionArn Reason: An ARN must have at least 6 elements, not {}",
            arn.split(':').count()
        ))),
    }
}

fn subscription_not_found() -> AwsError {
    state::not_found("Subscription does not exist")
}

pub async fn unsubscribe(sns: &Arc<Sns>, i: &Value) -> Result<Value, AwsError> {
    let arn = i.str("SubscriptionArn").unwrap_or_default();
    if arn.is_empty() {
        return Err(invalid(
            "Invalid parameter: SubscriptionArn Reason: no value for required parameter",
        ));
    }
    let a = subscription_arn(arn).map_err(|e| {
        // A well-formed ARN of something that is no subscription: AWS names the id.
        if parse_arn(arn).is_some() {
            invalid("Invalid parameter: SubscriptionId")
        } else {
            e
        }
    })?;
    let region = sns.region(a.account, a.region);
    // Unsubscribing twice succeeds: the subscription is gone either way.
    let Some(removed) = region.subs.write().unwrap().remove(arn) else {
        return Ok(Value::map());
    };
    let topic = {
        let mut topics = region.topics.write().unwrap();
        topics.get_mut(&removed.topic_arn).map(|t| {
            t.subscriptions_deleted += 1;
            t.clone()
        })
    };
    sns.persist::<Subscription>(state::SUBSCRIPTIONS, vec![(arn.to_owned(), None)])
        .await?;
    if let Some(t) = topic {
        sns.persist(state::TOPICS, vec![(t.arn.clone(), Some(&t))])
            .await?;
    }
    // HTTP(S) subscribers are told, with a token that undoes it.
    if removed.confirmed && matches!(removed.protocol.as_str(), "http" | "https") {
        let mut sub = Subscription::clone(&removed);
        sub.token = Some(new_token());
        region
            .restorable
            .lock()
            .unwrap()
            .insert(sub.token.clone().unwrap_or_default(), sub.clone());
        delivery::send_confirmation(sns.clone(), sub, delivery::Confirmation::Unsubscribe);
    }
    Ok(Value::map())
}

fn summary(s: &Subscription) -> Value {
    Value::map()
        .with(
            "SubscriptionArn",
            if s.confirmed {
                s.arn.as_str()
            } else {
                "PendingConfirmation"
            },
        )
        .with("Owner", s.owner.as_str())
        .with("Protocol", s.protocol.as_str())
        .with("Endpoint", s.endpoint.as_str())
        .with("TopicArn", s.topic_arn.as_str())
}

pub fn list(
    sns: &Sns,
    ctx: &RequestContext,
    i: &Value,
    topic: Option<&str>,
) -> Result<Value, AwsError> {
    let start = topics::page_start(i.str("NextToken"))?;
    let subs: Vec<Arc<Subscription>> = match topic {
        Some(t) => {
            let a = topic_arn(t, "TopicArn")?;
            let region = sns.region(a.account, a.region);
            if !region.topics.read().unwrap().contains_key(t) {
                return Err(topic_not_found());
            }
            region.subscriptions_of(t)
        }
        None => sns
            .region(&ctx.account_id, &ctx.region)
            .subs
            .read()
            .unwrap()
            .values()
            .cloned()
            .collect(),
    };
    let page: Vec<Value> = subs
        .iter()
        .skip(start)
        .take(PAGE)
        .map(|s| summary(s))
        .collect();
    let mut out = Value::map();
    if start + page.len() < subs.len() {
        out.insert("NextToken", topics::page_token(start + PAGE));
    }
    out.insert("Subscriptions", Value::List(page));
    Ok(out)
}

pub fn get_attributes(sns: &Sns, i: &Value) -> Result<Value, AwsError> {
    let arn = i.str("SubscriptionArn").unwrap_or_default();
    let a = subscription_arn(arn)?;
    let region = sns.region(a.account, a.region);
    let s = region
        .subs
        .read()
        .unwrap()
        .get(arn)
        .cloned()
        .ok_or_else(subscription_not_found)?;
    let mut attrs = Value::map()
        .with("Owner", s.owner.as_str())
        .with("RawMessageDelivery", if s.raw() { "true" } else { "false" })
        .with("TopicArn", s.topic_arn.as_str())
        .with("Endpoint", s.endpoint.as_str())
        .with("Protocol", s.protocol.as_str())
        .with(
            "PendingConfirmation",
            if s.confirmed { "false" } else { "true" },
        )
        .with(
            "ConfirmationWasAuthenticated",
            if s.authenticated { "true" } else { "false" },
        )
        .with("SubscriptionArn", s.arn.as_str())
        .with(
            "SubscriptionPrincipal",
            s.principal
                .clone()
                .unwrap_or_else(|| format!("arn:aws:iam::{}:root", s.owner)),
        );
    if matches!(s.protocol.as_str(), "http" | "https") {
        attrs.insert(
            "EffectiveDeliveryPolicy",
            delivery::effective_policy_json(sns, &s),
        );
    }
    // The scope is only reported beside a filter policy.
    let filtered = s.attributes.contains_key("FilterPolicy");
    for (k, v) in &s.attributes {
        if k != "RawMessageDelivery" && (k != "FilterPolicyScope" || filtered) {
            attrs.insert(k, v.as_str());
        }
    }
    if filtered && !s.attributes.contains_key("FilterPolicyScope") {
        attrs.insert("FilterPolicyScope", "MessageAttributes");
    }
    Ok(Value::map().with("Attributes", attrs))
}

pub async fn set_attribute(sns: &Sns, i: &Value) -> Result<Value, AwsError> {
    let arn = i.str("SubscriptionArn").unwrap_or_default();
    let name = i.str("AttributeName").unwrap_or_default().to_owned();
    let mut value = i.str("AttributeValue").unwrap_or_default().to_owned();
    let a = subscription_arn(arn)?;
    let region = sns.region(a.account, a.region);
    let sub = {
        let mut subs = region.subs.write().unwrap();
        let s = Arc::make_mut(subs.get_mut(arn).ok_or_else(subscription_not_found)?);
        if !SETTABLE.contains(&name.as_str()) {
            return Err(invalid("Invalid parameter: AttributeName"));
        }
        check_attribute(&name, &value, &s.protocol, &s.attributes, false)?;
        if name == "RawMessageDelivery" {
            value = value.to_ascii_lowercase();
        }
        if value.is_empty() && name != "RawMessageDelivery" {
            s.attributes.remove(&name);
        } else {
            s.attributes.insert(name, value);
        }
        s.refresh_filter();
        s.clone()
    };
    sns.persist(state::SUBSCRIPTIONS, vec![(sub.arn.clone(), Some(&sub))])
        .await?;
    Ok(Value::map())
}
