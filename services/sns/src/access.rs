//! Who may act on a topic: its owner, and others only as the topic policy grants.
//!
//! Requests from another account (the gateway derives the account from the access key)
//! and in-process calls made by a service principal (`s3.amazonaws.com` publishing a
//! bucket's events, marked with `nephos_policy::service_caller`) are evaluated against the
//! topic's `Policy` (the default policy when none was set) with `nephos-policy`: principal,
//! `sns:<Action>`, the topic ARN, and the condition keys `aws:SourceArn`,
//! `aws:SourceAccount`, `aws:SourceOwner` (service calls), `aws:PrincipalAccount`,
//! `aws:PrincipalArn` (accounts), `sns:Protocol` and `sns:Endpoint` (Subscribe). An
//! explicit `Deny` applies to the owner too, as in IAM. The owner's own requests are not
//! checked otherwise: nephos has no identity policies, so an account may do everything
//! with what it owns.
//!
//! A subscription (Unsubscribe, Get/SetSubscriptionAttributes) belongs to the account
//! that subscribed and to the topic's owner; other signed callers are refused. An
//! unsigned Unsubscribe (the `UnsubscribeURL` of a message, opened by the subscriber)
//! passes, as it did before policies were enforced.

use crate::Sns;
use crate::state::parse_arn;
use nephos_core::{AwsError, RequestContext, Value};
use nephos_policy::{Caller, Decision, Principal};

/// The topic an operation acts on and the action it needs, if it acts on a topic.
fn target<'a>(operation: &str, i: &'a Value) -> Option<(&'a str, &'static str)> {
    let action = match operation {
        "Publish" | "PublishBatch" => "Publish",
        "Subscribe" => "Subscribe",
        "GetTopicAttributes" => "GetTopicAttributes",
        "SetTopicAttributes" => "SetTopicAttributes",
        "AddPermission" => "AddPermission",
        "RemovePermission" => "RemovePermission",
        "DeleteTopic" => "DeleteTopic",
        "ListSubscriptionsByTopic" => "ListSubscriptionsByTopic",
        "TagResource" => "TagResource",
        "UntagResource" => "UntagResource",
        "ListTagsForResource" => "ListTagsForResource",
        "GetDataProtectionPolicy" => "GetDataProtectionPolicy",
        "PutDataProtectionPolicy" => "PutDataProtectionPolicy",
        _ => return None,
    };
    let arn = i
        .str("TopicArn")
        .or_else(|| i.str("ResourceArn"))
        .or_else(|| i.str("TargetArn"))?;
    // Publishing to a platform endpoint (TargetArn) is not a topic action.
    let a = parse_arn(arn)?;
    (a.service == "sns" && !a.resource.contains(':') && !a.resource.contains('/'))
        .then_some((arn, action))
}

/// Refuses the request unless the caller owns the topic or its policy grants the action.
/// Unknown topics pass: the handler answers NotFound as it would to the owner.
pub fn check(sns: &Sns, ctx: &RequestContext, i: &Value) -> Result<(), AwsError> {
    if matches!(
        ctx.operation.as_str(),
        "Unsubscribe" | "GetSubscriptionAttributes" | "SetSubscriptionAttributes"
    ) {
        return check_subscription(sns, ctx, i.str("SubscriptionArn").unwrap_or_default());
    }
    let Some((arn, action)) = target(&ctx.operation, i) else {
        return Ok(());
    };
    let Some(a) = parse_arn(arn) else {
        return Ok(());
    };
    // A service principal is no identity of the owner: only the topic policy lets it in.
    let owner = ctx.account_id == a.account && !nephos_policy::is_service_caller(&ctx.caller_arn);
    let policy = {
        let region = sns.region(a.account, a.region);
        let topics = region.topics.read().unwrap();
        let Some(t) = topics.get(arn) else {
            return Ok(());
        };
        match t.attr("Policy") {
            // Only an explicit Deny can refuse the owner: most publishes stop here,
            // without parsing the policy.
            Some(p) if owner && !p.contains("Deny") => return Ok(()),
            None if owner => return Ok(()),
            Some(p) => p.to_owned(),
            None => crate::topics::default_policy(arn, a.account),
        }
    };
    let mut caller = Caller::from_context(&ctx.account_id, &ctx.caller_arn);
    if action == "Subscribe" {
        caller = caller
            .with_key("sns:Protocol", i.str("Protocol").unwrap_or_default())
            .with_key("sns:Endpoint", i.str("Endpoint").unwrap_or_default());
    }
    let full = format!("sns:{action}");
    match nephos_policy::evaluate(&policy, &caller, &full, arn) {
        Decision::Allow if !owner => Ok(()),
        Decision::NoMatch | Decision::Allow if owner => Ok(()),
        Decision::NoMatch
            if !nephos_policy::refuse_service_delivery(&ctx.caller_arn, &full, arn) =>
        {
            Ok(())
        }
        decision => Err(denied(&caller, action, arn, decision == Decision::Deny)),
    }
}

fn check_subscription(sns: &Sns, ctx: &RequestContext, arn: &str) -> Result<(), AwsError> {
    let Some(a) = parse_arn(arn) else {
        return Ok(());
    };
    let owner = {
        let region = sns.region(a.account, a.region);
        let subs = region.subs.read().unwrap();
        let Some(s) = subs.get(arn) else {
            return Ok(());
        };
        s.owner.clone()
    };
    let unsigned = ctx.access_key_id.is_none() && ctx.operation == "Unsubscribe";
    if ctx.account_id == owner || ctx.account_id == a.account || unsigned {
        return Ok(());
    }
    let caller = Caller::from_context(&ctx.account_id, &ctx.caller_arn);
    Err(denied(&caller, &ctx.operation, arn, false))
}

fn denied(caller: &Caller, action: &str, arn: &str, explicit: bool) -> AwsError {
    let who = match &caller.principal {
        Principal::Aws { arn, .. } => arn.as_str(),
        Principal::Service(s) => s.as_str(),
    };
    let why = if explicit {
        "with an explicit deny in a resource-based policy".to_owned()
    } else {
        format!("because no resource-based policy allows the SNS:{action} action")
    };
    AwsError::new(
        403,
        "AuthorizationError",
        format!("User: {who} is not authorized to perform: SNS:{action} on resource: {arn} {why}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use nephos_core::{Clock, Dispatcher, Provider};
    use nephos_storage::Storage;
    use std::sync::Arc;

    const OWNER: &str = "111111111111";

    fn ctx(operation: &str, account: &str, caller_arn: &str) -> RequestContext {
        let mut c = RequestContext::internal("sns", operation, Arc::new(Clock::new()));
        c.account_id = account.to_owned();
        c.caller_arn = caller_arn.to_owned();
        c
    }

    async fn call(
        p: &crate::SnsProvider,
        c: &RequestContext,
        input: Value,
    ) -> Result<Value, AwsError> {
        p.handle(
            c,
            nephos_core::Input {
                value: input,
                body: None,
            },
        )
        .await
        .map(|o| o.value)
    }

    #[tokio::test]
    async fn service_principals_publish_only_when_the_policy_names_them() {
        let p = crate::SnsProvider::new(
            Storage::ephemeral(),
            Dispatcher::new(),
            Arc::new(Clock::new()),
        )
        .unwrap();
        let owner = ctx("CreateTopic", OWNER, &format!("arn:aws:iam::{OWNER}:root"));
        let topic = call(&p, &owner, Value::map().with("Name", "events"))
            .await
            .unwrap()
            .str("TopicArn")
            .unwrap()
            .to_owned();
        let s3 = ctx(
            "Publish",
            OWNER,
            &nephos_policy::service_caller("s3.amazonaws.com", "arn:aws:s3:::photos"),
        );
        let publish = Value::map()
            .with("TopicArn", topic.as_str())
            .with("Message", "m");
        // The default policy grants accounts of the owner, not services (AWS refuses;
        // nephos does under --enforce-iam).
        nephos_policy::set_enforce_iam(true);
        let e = call(&p, &s3, publish.clone()).await.unwrap_err();
        assert_eq!((e.code.as_ref(), e.status), ("AuthorizationError", 403));
        assert!(e.message.starts_with("User: s3.amazonaws.com is not authorized to perform: SNS:Publish on resource: arn:aws:sns:"));
        let policy = serde_json::json!({"Statement": [{
            "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
            "Action": "SNS:Publish", "Resource": topic,
            "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:s3:*:*:photos"},
                          "StringEquals": {"aws:SourceAccount": OWNER}}}]});
        let set = ctx(
            "SetTopicAttributes",
            OWNER,
            &format!("arn:aws:iam::{OWNER}:root"),
        );
        call(
            &p,
            &set,
            Value::map()
                .with("TopicArn", topic.as_str())
                .with("AttributeName", "Policy")
                .with("AttributeValue", policy.to_string()),
        )
        .await
        .unwrap();
        assert!(
            call(&p, &s3, publish.clone())
                .await
                .unwrap()
                .str("MessageId")
                .is_some()
        );
        let other_bucket = ctx(
            "Publish",
            OWNER,
            &nephos_policy::service_caller("s3.amazonaws.com", "arn:aws:s3:::other"),
        );
        assert!(call(&p, &other_bucket, publish.clone()).await.is_err());
        let sqs = ctx(
            "Publish",
            OWNER,
            &nephos_policy::service_caller("sqs.amazonaws.com", "arn:aws:s3:::photos"),
        );
        assert!(call(&p, &sqs, publish).await.is_err());
    }
}
