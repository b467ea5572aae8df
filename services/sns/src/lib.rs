//! Amazon Simple Notification Service (SNS): topics, subscriptions and fan-out delivery.
//!
//! - [`topics`]: standard and FIFO topics, attributes, policies, tags, data protection.
//! - [`subscriptions`]: subscribe/confirm/unsubscribe, subscription attributes.
//! - [`publish`]: Publish and PublishBatch (validation, FIFO sequencing and deduplication),
//!   handing messages to [`delivery`], which delivers asynchronously: to SQS through the
//!   in-process dispatcher, to HTTP and HTTPS ([`tls`]) endpoints with real POSTs (retries on the nephos clock,
//!   dead-letter queues), and to an inspectable [`outbox`] for email, SMS and mobile push;
//!   [`feedback`] logs deliveries' outcomes to CloudWatch Logs where the topic asks.
//! - [`filter`]: filter policies; [`signing`]: message signatures and the signing
//!   certificate; [`platform`]: platform applications, endpoints, SMS settings.
//!
//! State lives per account and region ([`state`]) and is persisted through `Storage`.
//! Requests from other accounts and from service principals act on a topic only as its
//! policy grants ([`access`], evaluated by `nephos-policy`).

mod access;
mod delivery;
mod feedback;
mod filter;
mod http;
mod outbox;
mod pending;
mod platform;
mod publish;
mod signing;
mod state;
mod subscriptions;
mod tls;
mod topics;

use nephos_core::{
    AwsError, BoxFuture, Clock, Dispatcher, Input, Output, Provider, RequestContext, Scoped, Value,
};
use nephos_storage::{Mutation, Storage};
use serde::Serialize;
use state::Region;
use std::sync::{Arc, OnceLock};

pub struct SnsProvider {
    inner: Arc<Sns>,
}

/// The shared state of the provider; delivery tasks hold it too.
pub struct Sns {
    regions: Scoped<Region>,
    storage: Storage,
    dispatcher: Dispatcher,
    clock: Arc<Clock>,
    /// The URL clients reach nephos at (SubscribeURL, UnsubscribeURL, SigningCertURL).
    endpoint: OnceLock<String>,
    outbox: outbox::Outbox,
    signer: signing::Signer,
    runtime: publish::Runtime,
    queue_urls: delivery::QueueUrls,
}

const OPERATIONS: &[&str] = &[
    "AddPermission",
    "CheckIfPhoneNumberIsOptedOut",
    "ConfirmSubscription",
    "CreatePlatformApplication",
    "CreatePlatformEndpoint",
    "CreateSMSSandboxPhoneNumber",
    "CreateTopic",
    "DeleteEndpoint",
    "DeletePlatformApplication",
    "DeleteSMSSandboxPhoneNumber",
    "DeleteTopic",
    "GetDataProtectionPolicy",
    "GetEndpointAttributes",
    "GetPlatformApplicationAttributes",
    "GetSMSAttributes",
    "GetSMSSandboxAccountStatus",
    "GetSubscriptionAttributes",
    "GetTopicAttributes",
    "ListEndpointsByPlatformApplication",
    "ListPhoneNumbersOptedOut",
    "ListPlatformApplications",
    "ListSMSSandboxPhoneNumbers",
    "ListSubscriptions",
    "ListSubscriptionsByTopic",
    "ListTagsForResource",
    "ListTopics",
    "OptInPhoneNumber",
    "Publish",
    "PublishBatch",
    "PutDataProtectionPolicy",
    "RemovePermission",
    "SetEndpointAttributes",
    "SetPlatformApplicationAttributes",
    "SetSMSAttributes",
    "SetSubscriptionAttributes",
    "SetTopicAttributes",
    "Subscribe",
    "TagResource",
    "Unsubscribe",
    "UntagResource",
    "VerifySMSSandboxPhoneNumber",
];

impl SnsProvider {
    /// Opens the provider, reloading topics, subscriptions and platform resources.
    pub fn new(
        storage: Storage,
        dispatcher: Dispatcher,
        clock: Arc<Clock>,
    ) -> Result<SnsProvider, String> {
        let sns = Sns {
            regions: Scoped::regional(),
            storage,
            dispatcher,
            clock,
            endpoint: OnceLock::new(),
            outbox: outbox::Outbox::default(),
            signer: signing::Signer::default(),
            runtime: publish::Runtime::default(),
            queue_urls: delivery::QueueUrls::default(),
        };
        sns.load().map_err(|e| format!("loading SNS state: {e}"))?;
        let left = pending::load(&sns).map_err(|e| format!("loading SNS state: {e}"))?;
        let inner = Arc::new(sns);
        pending::resume(&inner, left);
        Ok(SnsProvider { inner })
    }

    /// Sets the URL nephos is reachable at, once the listener is bound.
    pub fn set_endpoint(&self, url: &str) {
        let _ = self
            .inner
            .endpoint
            .set(url.trim_end_matches('/').to_owned());
    }
}

impl Sns {
    fn region(&self, account: &str, region: &str) -> Arc<Region> {
        self.regions.get_for(account, region)
    }

    fn endpoint(&self) -> &str {
        self.endpoint
            .get()
            .map(String::as_str)
            .unwrap_or("http://localhost:4566")
    }

    fn cert_url(&self) -> String {
        format!(
            "{}{}{}",
            self.endpoint(),
            signing::CERT_DIR,
            self.signer.cert_file()
        )
    }

    fn load(&self) -> Result<(), String> {
        fn records<T: serde::de::DeserializeOwned>(
            storage: &Storage,
            table: &str,
        ) -> Result<Vec<T>, String> {
            storage
                .load(table)
                .map_err(|e| e.to_string())?
                .into_iter()
                .map(|(_, v)| serde_json::from_slice(&v).map_err(|e| e.to_string()))
                .collect()
        }
        let scope = |arn: &str| state::parse_arn(arn).map(|a| self.region(a.account, a.region));
        for t in records::<state::Topic>(&self.storage, state::TOPICS)? {
            if let Some(r) = scope(&t.arn) {
                r.topics.write().unwrap().insert(t.arn.clone(), t);
            }
        }
        for mut s in records::<state::Subscription>(&self.storage, state::SUBSCRIPTIONS)? {
            s.refresh_filter();
            if let Some(r) = scope(&s.arn) {
                r.subs.write().unwrap().insert(s.arn.clone(), Arc::new(s));
            }
        }
        for a in records::<state::PlatformApp>(&self.storage, state::APPS)? {
            if let Some(r) = scope(&a.arn) {
                r.apps.write().unwrap().insert(a.arn.clone(), a);
            }
        }
        for e in records::<state::PlatformEndpoint>(&self.storage, state::ENDPOINTS)? {
            if let Some(r) = scope(&e.arn) {
                r.endpoints.write().unwrap().insert(e.arn.clone(), e);
            }
        }
        for (key, value) in self.storage.load(state::SMS).map_err(|e| e.to_string())? {
            let key = String::from_utf8_lossy(&key).into_owned();
            if let Some((account, region)) = key.split_once('/') {
                let sms: state::Sms = serde_json::from_slice(&value).map_err(|e| e.to_string())?;
                *self.region(account, region).sms.write().unwrap() = sms;
            }
        }
        Ok(())
    }

    /// Writes records (or deletions, `None`) durably before the handler answers.
    async fn persist<T: Serialize>(
        &self,
        table: &str,
        items: Vec<(String, Option<&T>)>,
    ) -> Result<(), AwsError> {
        let mut batch = Vec::with_capacity(items.len());
        for (key, item) in items {
            batch.push(match item {
                Some(v) => Mutation::put(
                    table,
                    key.into_bytes(),
                    serde_json::to_vec(v).map_err(state::storage_error)?,
                ),
                None => Mutation::delete(table, key.into_bytes()),
            });
        }
        self.storage
            .commit(batch)
            .await
            .map_err(state::storage_error)
    }
}

impl Provider for SnsProvider {
    fn service(&self) -> &'static str {
        "sns"
    }

    fn resource_facts(&self, _ctx: &RequestContext, arn: &str) -> nephos_core::ResourceFacts {
        let Some(a) = state::parse_arn(arn) else {
            return nephos_core::ResourceFacts::default();
        };
        let region = self.inner.region(a.account, a.region);
        let topics = region.topics.read().unwrap();
        let Some(t) = topics.get(arn) else {
            return nephos_core::ResourceFacts::default();
        };
        nephos_core::ResourceFacts {
            owner: Some(a.account.to_owned()),
            policy: t.attr("Policy").map(str::to_owned),
            tags: t.tags.clone(),
            ..Default::default()
        }
    }

    fn operations(&self) -> &'static [&'static str] {
        OPERATIONS
    }

    fn handle<'a>(
        &'a self,
        ctx: &'a RequestContext,
        input: Input,
    ) -> BoxFuture<'a, Result<Output, AwsError>> {
        Box::pin(async move {
            let sns = &self.inner;
            let i = &input.value;
            access::check(sns, ctx, i)?;
            let value: Value = match ctx.operation.as_str() {
                "CreateTopic" => topics::create(sns, ctx, i).await?,
                "DeleteTopic" => topics::delete(sns, i).await?,
                "ListTopics" => topics::list(sns, ctx, i)?,
                "GetTopicAttributes" => topics::get_attributes(sns, i)?,
                "SetTopicAttributes" => topics::set_attribute(sns, i).await?,
                "AddPermission" => topics::add_permission(sns, i).await?,
                "RemovePermission" => topics::remove_permission(sns, i).await?,
                "GetDataProtectionPolicy" => topics::get_data_protection(sns, i)?,
                "PutDataProtectionPolicy" => topics::put_data_protection(sns, i).await?,
                "TagResource" => topics::tag(sns, i).await?,
                "UntagResource" => topics::untag(sns, i).await?,
                "ListTagsForResource" => topics::list_tags(sns, i)?,
                "Subscribe" => subscriptions::subscribe(&self.inner, ctx, i).await?,
                "ConfirmSubscription" => subscriptions::confirm(sns, i).await?,
                "Unsubscribe" => subscriptions::unsubscribe(&self.inner, i).await?,
                "ListSubscriptions" => subscriptions::list(sns, ctx, i, None)?,
                "ListSubscriptionsByTopic" => {
                    let topic = i.str("TopicArn").unwrap_or_default();
                    subscriptions::list(sns, ctx, i, Some(topic))?
                }
                "GetSubscriptionAttributes" => subscriptions::get_attributes(sns, i)?,
                "SetSubscriptionAttributes" => subscriptions::set_attribute(sns, i).await?,
                "Publish" => publish::publish(&self.inner, ctx, i).await?,
                "PublishBatch" => publish::publish_batch(&self.inner, ctx, i).await?,
                op => platform::handle(sns, ctx, op, i).await?,
            };
            Ok(Output::new(value))
        })
    }

    fn reset(&self) {
        self.inner.regions.clear();
        self.inner.outbox.clear();
        self.inner.runtime.clear();
        self.inner.queue_urls.clear();
    }

    fn internal(&self, method: &str, path: &str, _body: &[u8]) -> Option<(u16, String, Vec<u8>)> {
        match (method, path) {
            ("GET", "outbox") => Some((
                200,
                "application/json".into(),
                self.inner.outbox.to_json().into_bytes(),
            )),
            ("DELETE", "outbox") => {
                self.inner.outbox.clear();
                Some((
                    200,
                    "application/json".into(),
                    b"{\"cleared\":true}".to_vec(),
                ))
            }
            ("GET", file)
                if file == "SimpleNotificationService.pem"
                    || file == self.inner.signer.cert_file() =>
            {
                Some((
                    200,
                    "application/x-pem-file".into(),
                    self.inner.signer.certificate_pem().into_bytes(),
                ))
            }
            _ => None,
        }
    }
}
