//! Bucket policies: stored as sent, checked for shape, and evaluated by the policy engine
//! every service shares (`nephos_policy`): principals by account, user, role session or
//! service, conditions on the keys nephos knows of every request (`aws:SourceIp`,
//! `aws:CurrentTime`, `aws:PrincipalArn`, ...; see
//! `RequestContext::global_condition_keys`). An explicit deny
//! binds every caller; an allow lets in callers other than the bucket owner (anonymous
//! requests, other accounts, services).

use crate::S3Provider;
use crate::errors;
use crate::store::{Bucket, T_BUCKETS};
use nephos_core::{AwsError, RequestContext, Value};
use serde_json::Value as Json;

fn malformed(msg: &str) -> AwsError {
    AwsError::new(400, "MalformedPolicy", msg)
}

/// A JSON string or list of strings as a list.
fn strings(v: Option<&Json>) -> Vec<String> {
    match v {
        Some(Json::String(s)) => vec![s.clone()],
        Some(Json::Array(a)) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

/// Checks a policy document the way S3 does before storing it.
pub fn validate(bucket: &str, text: &str) -> Result<(), AwsError> {
    let doc: Json = serde_json::from_str(text)
        .map_err(|_| malformed("Policies must be valid JSON and the first byte must be '{'"))?;
    let statements = match doc.get("Statement") {
        Some(Json::Array(a)) if !a.is_empty() => a.clone(),
        Some(s @ Json::Object(_)) => vec![s.clone()],
        _ => return Err(malformed("Missing required field Statement")),
    };
    for s in &statements {
        match s.get("Effect").and_then(Json::as_str) {
            Some("Allow" | "Deny") => {}
            _ => return Err(malformed("Invalid effect")),
        }
        if s.get("Principal").is_none() && s.get("NotPrincipal").is_none() {
            return Err(malformed("Missing required field Principal"));
        }
        let actions = strings(s.get("Action").or(s.get("NotAction")));
        if actions.is_empty() {
            return Err(malformed("Missing required field Action"));
        }
        if actions
            .iter()
            .any(|a| a != "*" && !a.to_ascii_lowercase().starts_with("s3:"))
        {
            return Err(malformed("Policy has invalid action"));
        }
        let resources = strings(s.get("Resource").or(s.get("NotResource")));
        if resources.is_empty() {
            return Err(malformed("Missing required field Resource"));
        }
        let arn = format!("arn:aws:s3:::{bucket}");
        if resources
            .iter()
            .any(|r| r != "*" && r != &arn && !r.starts_with(&format!("{arn}/")))
        {
            return Err(malformed("Policy has invalid resource"));
        }
    }
    Ok(())
}

/// `*` and `?` wildcards, case-sensitive (actions are compared lowercased): IAM's.
pub(crate) use nephos_policy::wildcard as glob;

/// Whether a statement's principal covers the caller (`None` = anonymous).
fn principal_matches(p: &Json, account: Option<&str>) -> bool {
    let aws = match p {
        Json::String(s) => return s == "*",
        Json::Object(o) => strings(o.get("AWS")),
        _ => return false,
    };
    aws.iter().any(|a| {
        a == "*"
            || account.is_some_and(|acct| a == acct || a == &format!("arn:aws:iam::{acct}:root"))
    })
}

/// Whether a policy allows everyone something without conditions (Block Public Access).
pub fn is_public_policy(text: &str) -> bool {
    let Ok(doc) = serde_json::from_str::<Json>(text) else {
        return false;
    };
    let statements = match doc.get("Statement") {
        Some(Json::Array(a)) => a.clone(),
        Some(s) => vec![s.clone()],
        None => Vec::new(),
    };
    statements.iter().any(|s| {
        s.get("Effect").and_then(Json::as_str) == Some("Allow")
            && s.get("Condition").is_none()
            && s.get("Principal")
                .is_some_and(|p| principal_matches(p, None))
    })
}

pub use nephos_policy::Decision;

/// What the bucket policy `text` says about `caller` performing `action` on `resource`.
pub fn evaluate(
    text: &str,
    caller: &nephos_policy::Caller,
    action: &str,
    resource: &str,
) -> Decision {
    nephos_policy::evaluate(text, caller, action, resource)
}

/// The caller of a request as a bucket policy sees it, with the global condition keys
/// nephos knows.
fn caller_of(ctx: &RequestContext) -> nephos_policy::Caller {
    let mut caller = if ctx.anonymous {
        nephos_policy::Caller {
            principal: nephos_policy::Principal::anonymous(),
            keys: Vec::new(),
        }
    } else {
        nephos_policy::Caller::from_context(&ctx.account_id, &ctx.caller_arn)
    };
    caller.keys.extend(ctx.global_condition_keys());
    caller
}

/// The IAM action an operation needs.
pub fn action_of(operation: &str) -> String {
    let action = match operation {
        "HeadObject" => "GetObject",
        "HeadBucket" | "ListObjects" | "ListObjectsV2" => "ListBucket",
        "ListObjectVersions" => "ListBucketVersions",
        "ListMultipartUploads" => "ListBucketMultipartUploads",
        "ListParts" => "ListMultipartUploadParts",
        "CreateMultipartUpload"
        | "UploadPart"
        | "UploadPartCopy"
        | "CompleteMultipartUpload"
        | "CopyObject" => "PutObject",
        "AbortMultipartUpload" => "AbortMultipartUpload",
        "DeleteObjects" => "DeleteObject",
        "GetBucketLocation" => "GetBucketLocation",
        op => op,
    };
    format!("s3:{action}")
}

impl S3Provider {
    /// Whether the caller may run `ctx.operation` on `b` (and `key`): owners may unless a
    /// policy denies; others need a policy that allows.
    pub fn authorize(
        &self,
        ctx: &RequestContext,
        b: &Bucket,
        key: Option<&str>,
    ) -> Result<(), AwsError> {
        self.authorize_action(ctx, b, key, &action_of(&ctx.operation))
    }

    /// The same for an explicit action (a copy reads its source with `s3:GetObject`).
    pub fn authorize_action(
        &self,
        ctx: &RequestContext,
        b: &Bucket,
        key: Option<&str>,
        action: &str,
    ) -> Result<(), AwsError> {
        let (owner, policy, name, acls_off) = {
            let m = b.meta.read().unwrap();
            (
                m.owner.clone(),
                m.policy.clone(),
                m.name.clone(),
                m.ownership.as_deref() == Some("BucketOwnerEnforced"),
            )
        };
        let pab = self.effective_pab(b);
        let service = nephos_policy::is_service_caller(&ctx.caller_arn);
        let is_owner = !ctx.anonymous && owner == ctx.account_id && !service;
        let caller = (!ctx.anonymous).then_some(ctx.account_id.as_str());
        let resource = match key {
            Some(k) => format!("arn:aws:s3:::{name}/{k}"),
            None => format!("arn:aws:s3:::{name}"),
        };
        let policy_ops = ctx.operation.contains("BucketPolicy");
        let decision = match policy.as_deref().and_then(|p| b.policy(p)) {
            Some(p) => p.evaluate(&caller_of(ctx), action, &resource),
            None => Decision::NoMatch,
        };
        match decision {
            // The owner can always manage the policy itself, so a bad one can be undone.
            Decision::Deny if !(is_owner && policy_ops) => return Err(errors::access_denied()),
            _ if is_owner => return Ok(()),
            // RestrictPublicBuckets: a public policy grants nothing to outsiders.
            Decision::Allow
                if !(pab.restrict_buckets && policy.as_deref().is_some_and(is_public_policy)) =>
            {
                return Ok(());
            }
            // A service writing for a resource of the account (a Logs export) needs the
            // bucket policy as on AWS, or only a warning without --enforce-iam.
            Decision::NoMatch
                if service
                    && owner == ctx.account_id
                    && !nephos_policy::refuse_service_delivery(
                        &ctx.caller_arn,
                        action,
                        &resource,
                    ) =>
            {
                return Ok(());
            }
            _ => {}
        }
        if !acls_off && let Some((permission, on_object)) = crate::acl::permission_of(action) {
            let grants = if on_object {
                key.and_then(|k| b.latest(k))
                    .and_then(|v| v.meta.acl.clone())
            } else {
                b.meta.read().unwrap().acl.clone()
            };
            if let Some(g) = grants
                && crate::acl::allows(&g, caller, &owner, permission, pab.ignore_acls)
            {
                return Ok(());
            }
        }
        Err(errors::access_denied())
    }

    async fn save_policy(&self, b: &Bucket, policy: Option<String>) -> Result<(), AwsError> {
        b.meta.write().unwrap().policy = policy;
        let meta = b.meta.read().unwrap().clone();
        let batch = self
            .store
            .put(T_BUCKETS, meta.name.as_bytes().to_vec(), &meta);
        self.store.commit(batch).await
    }

    pub(crate) async fn put_bucket_policy(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let name = input.str("Bucket").unwrap_or_default();
        let b = self.owned_bucket(ctx, name)?;
        let text = input.str("Policy").unwrap_or_default();
        validate(name, text)?;
        if self.effective_pab(&b).block_policy && is_public_policy(text) {
            return Err(errors::access_denied());
        }
        self.save_policy(&b, Some(text.to_owned())).await?;
        Ok(Value::map())
    }

    /// The bucket's policy text, for its owner; NoSuchBucketPolicy when it has none.
    fn owned_policy(&self, ctx: &RequestContext, input: &Value) -> Result<String, AwsError> {
        let name = input.str("Bucket").unwrap_or_default();
        let b = self.owned_bucket(ctx, name)?;
        let policy = b.meta.read().unwrap().policy.clone();
        policy.ok_or_else(|| {
            AwsError::new(
                404,
                "NoSuchBucketPolicy",
                "The bucket policy does not exist",
            )
            .with_field("BucketName", name)
        })
    }

    pub(crate) fn get_bucket_policy(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        Ok(Value::map().with("Policy", self.owned_policy(ctx, input)?))
    }

    /// GetBucketPolicyStatus: whether the bucket policy makes the bucket public (the same
    /// test Block Public Access applies).
    pub(crate) fn get_bucket_policy_status(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let public = is_public_policy(&self.owned_policy(ctx, input)?);
        Ok(Value::map().with("PolicyStatus", Value::map().with("IsPublic", public)))
    }

    pub(crate) async fn delete_bucket_policy(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let b = self.owned_bucket(ctx, input.str("Bucket").unwrap_or_default())?;
        self.save_policy(&b, None).await?;
        Ok(Value::map())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nephos_policy::Caller;

    fn who(account: Option<&str>) -> Caller {
        match account {
            None => Caller {
                principal: nephos_policy::Principal::anonymous(),
                keys: Vec::new(),
            },
            Some(a) => Caller::from_context(a, &format!("arn:aws:iam::{a}:root")),
        }
    }

    const PUBLIC_READ: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/public/*"},{"Effect":"Deny","Principal":{"AWS":"*"},"Action":"s3:*","Resource":"arn:aws:s3:::b/public/secret*"}]}"#;

    #[test]
    fn public_read_with_a_deny() {
        assert!(validate("b", PUBLIC_READ).is_ok());
        let eval = |acct, action, res| evaluate(PUBLIC_READ, &who(acct), action, res);
        assert_eq!(
            eval(None, "s3:GetObject", "arn:aws:s3:::b/public/x"),
            Decision::Allow
        );
        assert_eq!(
            eval(
                Some("111111111111"),
                "s3:GetObject",
                "arn:aws:s3:::b/public/x"
            ),
            Decision::Allow
        );
        assert_eq!(
            eval(None, "s3:PutObject", "arn:aws:s3:::b/public/x"),
            Decision::NoMatch
        );
        assert_eq!(
            eval(None, "s3:GetObject", "arn:aws:s3:::b/private"),
            Decision::NoMatch
        );
        assert_eq!(
            eval(None, "s3:GetObject", "arn:aws:s3:::b/public/secret.txt"),
            Decision::Deny
        );
    }

    #[test]
    fn account_principals_and_validation() {
        let p = r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::222222222222:root"]},"Action":["s3:List*"],"Resource":"arn:aws:s3:::b"}}"#;
        assert_eq!(
            evaluate(
                p,
                &who(Some("222222222222")),
                "s3:ListBucket",
                "arn:aws:s3:::b"
            ),
            Decision::Allow
        );
        assert_eq!(
            evaluate(p, &who(None), "s3:ListBucket", "arn:aws:s3:::b"),
            Decision::NoMatch
        );
        assert_eq!(validate("b", "nope").unwrap_err().code, "MalformedPolicy");
        assert_eq!(validate("other", p).unwrap_err().code, "MalformedPolicy");
        assert!(glob("a*b?d", "axxbcd"));
        assert!(!glob("a*b", "ac"));
    }

    #[test]
    fn conditions_and_user_principals_decide() {
        let p = r#"{"Statement":[
            {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::222222222222:user/alice"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"},
            {"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::b/*","Condition":{"NotIpAddress":{"aws:SourceIp":"127.0.0.0/8"}}}
        ]}"#;
        let alice = Caller::from_context("222222222222", "arn:aws:iam::222222222222:user/alice");
        let bob = Caller::from_context("222222222222", "arn:aws:iam::222222222222:user/bob");
        let here = alice.clone().with_key("aws:SourceIp", "127.0.0.1");
        let there = alice.with_key("aws:SourceIp", "10.1.2.3");
        let get = |c: &Caller| evaluate(p, c, "s3:GetObject", "arn:aws:s3:::b/k");
        assert_eq!(get(&here), Decision::Allow);
        assert_eq!(get(&there), Decision::Deny);
        assert_eq!(
            get(&bob.with_key("aws:SourceIp", "127.0.0.1")),
            Decision::NoMatch
        );
    }
}
