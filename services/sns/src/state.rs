//! The records SNS keeps (topics, subscriptions, platform applications and endpoints, SMS
//! settings), per account and region, and how they are persisted.

use crate::filter::{self, Policy};
use nephos_core::AwsError;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, RwLock};

pub const TOPICS: &str = "sns.topics";
pub const SUBSCRIPTIONS: &str = "sns.subscriptions";
pub const APPS: &str = "sns.platform_applications";
pub const ENDPOINTS: &str = "sns.platform_endpoints";
pub const SMS: &str = "sns.sms";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Topic {
    pub arn: String,
    pub name: String,
    pub fifo: bool,
    /// Settable attributes as the client set them (DisplayName, Policy, DeliveryPolicy, ...).
    pub attributes: BTreeMap<String, String>,
    pub tags: Vec<(String, String)>,
    pub data_protection_policy: Option<String>,
    #[serde(default)]
    pub subscriptions_deleted: u64,
}

impl Topic {
    pub fn account(&self) -> &str {
        parse_arn(&self.arn).map(|a| a.account).unwrap_or_default()
    }
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attributes.get(name).map(String::as_str)
    }
    pub fn content_based_dedup(&self) -> bool {
        self.attr("ContentBasedDeduplication") == Some("true")
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Subscription {
    pub arn: String,
    pub topic_arn: String,
    pub protocol: String,
    pub endpoint: String,
    pub owner: String,
    pub confirmed: bool,
    /// Whether confirmation happened without the subscriber's credentials (false for
    /// tokens confirmed through the SubscribeURL).
    pub authenticated: bool,
    pub token: Option<String>,
    pub attributes: BTreeMap<String, String>,
    #[serde(skip)]
    pub filter: Option<Arc<Policy>>,
    /// The principal that subscribed (SubscriptionPrincipal); records of older versions
    /// have none and report the owner's root.
    #[serde(default)]
    pub principal: Option<String>,
}

impl Subscription {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attributes.get(name).map(String::as_str)
    }
    pub fn raw(&self) -> bool {
        self.attr("RawMessageDelivery") == Some("true")
    }
    pub fn scope(&self) -> filter::Scope {
        self.attr("FilterPolicyScope")
            .and_then(filter::Scope::parse)
            .unwrap_or(filter::Scope::MessageAttributes)
    }
    /// Rebuilds the parsed filter policy from the attributes.
    pub fn refresh_filter(&mut self) {
        self.filter = self
            .attr("FilterPolicy")
            .and_then(|p| filter::parse(p, self.scope()).ok())
            .map(Arc::new);
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlatformApp {
    pub arn: String,
    pub attributes: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlatformEndpoint {
    pub arn: String,
    pub app_arn: String,
    pub attributes: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Sms {
    pub attributes: BTreeMap<String, String>,
    /// Sandbox destination numbers: number -> (verified, one-time password).
    pub sandbox: BTreeMap<String, (bool, String)>,
    pub opted_out: BTreeSet<String>,
}

/// Everything SNS keeps for one account in one region. BTreeMaps keyed by ARN keep the
/// subscriptions of a topic together (`<topic-arn>:<id>`) and listings stable.
#[derive(Debug, Default)]
pub struct Region {
    pub topics: RwLock<BTreeMap<String, Topic>>,
    /// Shared so a publish takes a snapshot of a topic's subscriptions without copying them.
    pub subs: RwLock<BTreeMap<String, Arc<Subscription>>>,
    pub apps: RwLock<BTreeMap<String, PlatformApp>>,
    pub endpoints: RwLock<BTreeMap<String, PlatformEndpoint>>,
    pub sms: RwLock<Sms>,
    /// HTTP(S) subscriptions unsubscribed, by the token of the UnsubscribeConfirmation
    /// they were sent: confirming it restores them (kept in memory only).
    pub restorable: std::sync::Mutex<std::collections::HashMap<String, Subscription>>,
}

impl Region {
    /// The subscriptions of `topic_arn`, taken out of the lock.
    pub fn subscriptions_of(&self, topic_arn: &str) -> Vec<Arc<Subscription>> {
        let prefix = format!("{topic_arn}:");
        self.subs
            .read()
            .unwrap()
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(_, s)| s.clone())
            .collect()
    }
}

/// The parts of an SNS-style ARN `arn:<partition>:<service>:<region>:<account>:<resource>`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Arn<'a> {
    pub service: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub resource: &'a str,
}

pub fn parse_arn(arn: &str) -> Option<Arn<'_>> {
    let mut parts = arn.splitn(6, ':');
    if parts.next()? != "arn" {
        return None;
    }
    let _partition = parts.next().filter(|p| !p.is_empty())?;
    let service = parts.next()?;
    let region = parts.next()?;
    let account = parts.next()?;
    let resource = parts.next()?;
    Some(Arn {
        service,
        region,
        account,
        resource,
    })
}

pub fn invalid(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "InvalidParameter", message)
}

pub fn not_found(message: &str) -> AwsError {
    AwsError::new(404, "NotFound", message)
}

pub fn topic_not_found() -> AwsError {
    not_found("Topic does not exist")
}

/// Checks that `arn` is an SNS topic ARN; AWS words the error after the parameter.
pub fn topic_arn<'a>(arn: &'a str, param: &str) -> Result<Arn<'a>, AwsError> {
    match parse_arn(arn) {
        Some(a) if a.service == "sns" && !a.resource.contains(':') => Ok(a),
        Some(_) => Err(invalid(format!("Invalid parameter: {param}"))),
        None => Err(invalid(format!(
            "Invalid parameter: {param} Reason: An ARN must have at least 6 elements, not {}",
            arn.split(':').count()
        ))),
    }
}

pub fn storage_error(e: impl std::fmt::Display) -> AwsError {
    tracing::error!(error = %e, "persisting SNS state failed");
    AwsError::new(500, "InternalError", "The state could not be stored")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_split_into_parts() {
        let a = parse_arn("arn:aws:sns:us-east-1:123456789012:t:abc").unwrap();
        assert_eq!(a.service, "sns");
        assert_eq!(a.account, "123456789012");
        assert_eq!(a.resource, "t:abc");
        assert!(parse_arn("nope").is_none());
        assert!(topic_arn("arn:aws:sns:us-east-1:123456789012:t:abc", "TopicArn").is_err());
    }
}
