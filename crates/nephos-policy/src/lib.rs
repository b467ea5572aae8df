//! The IAM policy engine of nephos: policy documents parsed and checked once, and
//! evaluated as AWS evaluates them, for IAM itself (validation, the policy simulator),
//! for the gateway's authorization of every request, and for the resource policies of
//! services (SNS topics, SQS queues, S3 buckets, Lambda functions).
//!
//! # Documents
//! [`Document::parse`]`(text, kind)` checks a document as IAM does for a
//! [`PolicyKind`] (`Identity`, `Resource`, `Trust`, `Boundary`, `Session`) and fails
//! with a [`PolicyError`] carrying IAM's `MalformedPolicyDocument` message;
//! [`Document::parse_lenient`] reads a resource policy a service stored (never fails;
//! what it cannot read grants nothing). [`Document::context_keys`] lists the keys a
//! document reads (GetContextKeysForCustomPolicy), [`Document::principals`] the
//! principals it names, and [`canonical_len`] is a document's size as IAM's quotas count
//! it (white space not counted; size limits are the caller's business).
//!
//! Statements are compiled at parse time: actions match case-insensitively with
//! `*`/`?`, resources case-sensitively and ARN segment by segment, principals as IAM
//! names them (an account id or root ARN names the account, a role ARN its sessions,
//! `NotPrincipal` the whole identity chain), conditions with every IAM operator
//! (`String*`, `Numeric*`, `Date*`, `Bool`, `BinaryEquals`, `IpAddress`/`NotIpAddress`,
//! `Arn*`, `Null`, each `...IfExists`, the `ForAllValues:`/`ForAnyValue:` qualifiers),
//! and policy variables (`${aws:username}`, `${aws:PrincipalTag/team, 'default'}`,
//! `${*}`, `${?}`, `${$}`) in `Resource` and in string, `Bool` and ARN condition values
//! of `2012-10-17` documents.
//!
//! # Requests
//! A [`Request`] is a [`Principal`], an action, a resource ARN and a [`Context`] of
//! condition keys (case-insensitive names, one or several values;
//! [`Context::set_principal`] fills the `aws:Principal*`, `aws:username` and
//! `aws:userid` keys). A [`PolicySet`] holds the policies that apply: identity policies,
//! the resource policy, the permissions boundary, session policies, the accounts
//! involved, whether the caller is a root user, and a session's source. Then:
//! - [`evaluate`](engine::evaluate) → [`Evaluation`]: the [`Verdict`], the
//!   [`MatchedStatement`]s (with positions for the simulator), missing context keys,
//!   the [`DenyReason`] (whose [`DenyReason::phrase`] ends AWS's AccessDenied message)
//!   and what each kind of policy decided;
//! - [`authorize`] → `Result<(), DenyReason>`: the same decision, nothing recorded, for
//!   the request path.
//!
//! Principals other than IAM identities and services: [`Principal::anonymous`],
//! [`Principal::federated`] (an identity provider, for trust policies of
//! AssumeRoleWithWebIdentity/SAML) and [`Principal::canonical_user`].
//!
//! # Service resource policies
//! Services call each other in process, so a call made *by a service* (S3 publishing an
//! event to SNS) is marked in the caller ARN of its `RequestContext` with
//! [`service_caller`]: `<service principal> <source ARN>`, e.g.
//! `s3.amazonaws.com arn:aws:s3:::bucket`, with the context's account set to the source
//! resource's owner. [`Caller::from_context`] reads it back, so `{"Service":
//! "s3.amazonaws.com"}` principals and `aws:SourceArn`/`aws:SourceAccount` conditions
//! work. [`Policy`], [`evaluate`] and [`allows`] answer what one resource policy says of
//! a [`Caller`] (a [`Decision`]), through the same engine.

mod condition;
mod context;
mod document;
pub mod engine;
mod matching;
mod principal;
mod validate;
mod variables;

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

pub use context::Context;
pub use document::{Document, Effect, PolicyError, PolicyKind, Position, canonical_len};
pub use engine::{
    DenyReason, Evaluation, MatchedStatement, PolicySet, Request, Source, Verdict, authorize,
};
pub use matching::wildcard;

/// Who is asking.
#[derive(Debug, Clone, PartialEq)]
pub enum Principal {
    /// An IAM identity (root or otherwise) of an account: `arn` is the root's, a user's,
    /// an assumed-role session's or a federated user's ARN.
    Aws { account: String, arn: String },
    /// An AWS service acting for a resource (`s3.amazonaws.com` for a bucket).
    Service(String),
}

impl Principal {
    /// An unsigned request: matches only `"*"` and `{"AWS": "*"}` principals.
    pub fn anonymous() -> Principal {
        Principal::Aws {
            account: String::new(),
            arn: String::new(),
        }
    }

    pub fn is_anonymous(&self) -> bool {
        matches!(self, Principal::Aws { account, arn } if account.is_empty() && arn.is_empty())
    }

    /// An identity provider asking to assume a role (`accounts.google.com`,
    /// `cognito-identity.amazonaws.com`, `arn:aws:iam::111122223333:saml-provider/x`):
    /// matches `{"Federated": ...}` principals.
    pub fn federated(provider: &str) -> Principal {
        Principal::Service(format!("{}{provider}", principal::FEDERATED))
    }

    /// An S3 canonical user id: matches `{"CanonicalUser": ...}` principals.
    pub fn canonical_user(id: &str) -> Principal {
        Principal::Service(format!("{}{id}", principal::CANONICAL))
    }
}

/// The request a policy is asked about.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    /// Condition keys of the request (`aws:SourceArn`, `aws:SourceAccount`, ...), matched
    /// case-insensitively by name.
    pub keys: Vec<(String, String)>,
}

static ENFORCE_IAM: AtomicBool = AtomicBool::new(false);
static WARNED: Mutex<Option<HashSet<(String, String)>>> = Mutex::new(None);

/// `--enforce-iam`: deliveries that AWS would drop are dropped (see
/// [`refuse_service_delivery`]).
pub fn set_enforce_iam(on: bool) {
    ENFORCE_IAM.store(on, Ordering::Relaxed);
}

pub fn enforces_iam() -> bool {
    ENFORCE_IAM.load(Ordering::Relaxed)
}

/// Whether a delivery by a service (`caller_arn` a [`service_caller`]) that `target`'s
/// resource policy does not allow is refused. AWS refuses it, and so does nephos under
/// `--enforce-iam`. Without it the delivery goes through: code written against other
/// emulators subscribes queues without the policy and would see nothing arrive, with no
/// hint why. nephos then warns once per source and target, naming the statement AWS
/// would need. Anything but a service caller is refused.
pub fn refuse_service_delivery(caller_arn: &str, action: &str, target: &str) -> bool {
    let Some((service, source)) = caller_arn
        .split_once(' ')
        .filter(|(s, _)| s.ends_with(".amazonaws.com"))
    else {
        return true;
    };
    if enforces_iam() {
        return true;
    }
    let mut warned = WARNED.lock().unwrap_or_else(|e| e.into_inner());
    let warned = warned.get_or_insert_with(HashSet::new);
    // Bounded: a warning per pair is for a person to read, not an audit log.
    if warned.len() < 10_000 && warned.insert((source.to_owned(), target.to_owned())) {
        let statement = serde_json::json!({
            "Effect": "Allow",
            "Principal": {"Service": service},
            "Action": action,
            "Resource": target,
            "Condition": {"ArnEquals": {"aws:SourceArn": source}},
        });
        tracing::warn!(
            "{source} delivered to {target}, whose policy does not let {service} in: AWS would drop this delivery (nephos does with --enforce-iam). The policy needs: {statement}"
        );
    }
    false
}

/// Whether `caller_arn` is a [`service_caller`] marker: a service principal, which only
/// a resource policy can let in (it is no identity of any account).
pub fn is_service_caller(caller_arn: &str) -> bool {
    caller_arn
        .split_once(' ')
        .is_some_and(|(service, _)| service.ends_with(".amazonaws.com"))
}

/// The caller ARN that marks an in-process call made by `service` for `source_arn`.
pub fn service_caller(service: &str, source_arn: &str) -> String {
    format!("{service} {source_arn}")
}

impl Caller {
    /// The caller of a request: an account's identity, or a service marked with
    /// [`service_caller`] acting for a resource of `account`.
    pub fn from_context(account: &str, caller_arn: &str) -> Caller {
        let mut keys = vec![("aws:PrincipalAccount".to_owned(), account.to_owned())];
        if let Some((service, source)) = caller_arn.split_once(' ')
            && service.ends_with(".amazonaws.com")
        {
            keys = vec![
                ("aws:SourceArn".to_owned(), source.to_owned()),
                ("aws:SourceAccount".to_owned(), account.to_owned()),
                ("aws:SourceOwner".to_owned(), account.to_owned()),
            ];
            return Caller {
                principal: Principal::Service(service.to_owned()),
                keys,
            };
        }
        keys.push(("aws:PrincipalArn".to_owned(), caller_arn.to_owned()));
        Caller {
            principal: Principal::Aws {
                account: account.to_owned(),
                arn: caller_arn.to_owned(),
            },
            keys,
        }
    }

    /// Adds a condition key (a service's own keys, such as `sns:Protocol`).
    pub fn with_key(mut self, name: &str, value: &str) -> Caller {
        self.keys.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The keys as a request context (the first value of a key given twice wins).
    pub fn context(&self) -> Context {
        let mut ctx = Context::new();
        for (k, v) in &self.keys {
            if ctx.get(k).is_none() {
                ctx.set(k, v.as_str());
            }
        }
        ctx
    }
}

/// What a policy says about a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// An explicit `Deny` applies.
    Deny,
    /// No statement applies (or the document is not a policy).
    NoMatch,
}

/// A resource policy parsed once, for resources asked about often (a queue SNS delivers
/// to on every publish).
#[derive(Debug, Clone)]
pub struct Policy(Document);

impl Policy {
    /// `None` when the text is not JSON (such a policy grants nothing).
    pub fn parse(text: &str) -> Option<Policy> {
        let json: serde_json::Value = serde_json::from_str(text).ok()?;
        Some(Policy(Document::from_json(&json, PolicyKind::Resource)))
    }

    pub fn evaluate(&self, caller: &Caller, action: &str, resource: &str) -> Decision {
        let ctx = caller.context();
        let req = Request {
            principal: &caller.principal,
            action,
            resource,
            context: &ctx,
        };
        engine::resource_decision(&req, &self.0)
    }

    pub fn allows(&self, caller: &Caller, action: &str, resource: &str) -> bool {
        self.evaluate(caller, action, resource) == Decision::Allow
    }

    /// The parsed document.
    pub fn document(&self) -> &Document {
        &self.0
    }
}

/// A resource's policy parsed once per change of its text, for resources asked about on
/// every request (a queue SNS delivers to, a bucket other accounts read).
#[derive(Debug, Default)]
pub struct PolicyCache(Mutex<Option<(String, std::sync::Arc<Policy>)>>);

impl PolicyCache {
    /// `text` parsed, reparsed only when it differs from the text parsed last.
    pub fn get(&self, text: &str) -> Option<std::sync::Arc<Policy>> {
        let mut cached = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((source, parsed)) = cached.as_ref()
            && source == text
        {
            return Some(parsed.clone());
        }
        let parsed = std::sync::Arc::new(Policy::parse(text)?);
        *cached = Some((text.to_owned(), parsed.clone()));
        Some(parsed)
    }
}

/// Evaluates `policy` for `caller` performing `action` (`sns:Publish`) on `resource`.
pub fn evaluate(policy: &str, caller: &Caller, action: &str, resource: &str) -> Decision {
    match Policy::parse(policy) {
        Some(p) => p.evaluate(caller, action, resource),
        None => Decision::NoMatch,
    }
}

/// Whether `policy` grants the request (an `Allow` applies and no `Deny` does).
pub fn allows(policy: &str, caller: &Caller, action: &str, resource: &str) -> bool {
    evaluate(policy, caller, action, resource) == Decision::Allow
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOPIC: &str = "arn:aws:sns:us-east-1:111111111111:t";

    fn other() -> Caller {
        Caller::from_context("222222222222", "arn:aws:iam::222222222222:root")
    }

    #[test]
    fn principals_actions_resources() {
        let p = r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"222222222222"},"Action":"sns:Publish","Resource":"arn:aws:sns:us-east-1:111111111111:t"}]}"#;
        assert!(allows(p, &other(), "sns:Publish", TOPIC));
        assert!(!allows(p, &other(), "sns:Subscribe", TOPIC));
        assert!(!allows(
            p,
            &other(),
            "sns:Publish",
            "arn:aws:sns:us-east-1:111111111111:u"
        ));
        let p = r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"SNS:*"}}"#;
        assert!(allows(p, &other(), "sns:Subscribe", TOPIC));
        let p = r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"*"},{"Effect":"Deny","Principal":{"AWS":["arn:aws:iam::222222222222:root"]},"Action":"sns:Pub*"}]}"#;
        assert_eq!(evaluate(p, &other(), "sns:Publish", TOPIC), Decision::Deny);
        assert!(allows(p, &other(), "sns:Subscribe", TOPIC));
        let p = r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"333333333333"},"Action":"sns:*"}]}"#;
        assert_eq!(
            evaluate(p, &other(), "sns:Publish", TOPIC),
            Decision::NoMatch
        );
        assert_eq!(
            evaluate("nope", &other(), "sns:Publish", TOPIC),
            Decision::NoMatch
        );
        let p = r#"{"Statement":[{"Effect":"Allow","NotPrincipal":{"AWS":"333333333333"},"NotAction":"sns:DeleteTopic","Resource":"*"}]}"#;
        assert!(allows(p, &other(), "sns:Publish", TOPIC));
        assert!(!allows(p, &other(), "sns:DeleteTopic", TOPIC));
    }

    #[test]
    fn service_principals_and_source_conditions() {
        let bucket = Caller::from_context(
            "222222222222",
            &service_caller("s3.amazonaws.com", "arn:aws:s3:::photos"),
        );
        assert_eq!(
            bucket.principal,
            Principal::Service("s3.amazonaws.com".into())
        );
        let p = r#"{"Statement":[{"Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},"Action":"SNS:Publish","Resource":"*",
            "Condition":{"ArnLike":{"aws:SourceArn":"arn:aws:s3:*:*:photos"},"StringEquals":{"aws:SourceAccount":"222222222222"}}}]}"#;
        assert!(allows(p, &bucket, "sns:Publish", TOPIC));
        let elsewhere = Caller::from_context(
            "222222222222",
            &service_caller("s3.amazonaws.com", "arn:aws:s3:::other"),
        );
        assert!(!allows(p, &elsewhere, "sns:Publish", TOPIC));
        let wrong_account = Caller::from_context(
            "333333333333",
            &service_caller("s3.amazonaws.com", "arn:aws:s3:::photos"),
        );
        assert!(!allows(p, &wrong_account, "sns:Publish", TOPIC));
        // An account principal is not a service, and the reverse.
        assert!(!allows(p, &other(), "sns:Publish", TOPIC));
        let accounts =
            r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sns:Publish"}]}"#;
        assert!(!allows(accounts, &bucket, "sns:Publish", TOPIC));
    }

    #[test]
    fn condition_operators() {
        let c = other().with_key("sns:Protocol", "https");
        let cond = |op: &str, key: &str, v: &str| {
            let p = format!(
                r#"{{"Statement":[{{"Effect":"Allow","Principal":"*","Action":"*","Condition":{{"{op}":{{"{key}":{v}}}}}}}]}}"#
            );
            allows(&p, &c, "sns:Subscribe", TOPIC)
        };
        assert!(cond("StringEquals", "sns:protocol", r#"["http","https"]"#));
        assert!(!cond("StringNotEquals", "sns:Protocol", r#""https""#));
        assert!(cond("StringLike", "sns:Protocol", r#""http*""#));
        assert!(cond("StringEqualsIgnoreCase", "sns:Protocol", r#""HTTPS""#));
        assert!(!cond("StringEquals", "aws:SourceArn", r#""x""#));
        assert!(cond("StringEqualsIfExists", "aws:SourceArn", r#""x""#));
        assert!(cond("StringNotEquals", "aws:SourceArn", r#""x""#));
        assert!(cond("Null", "aws:SourceArn", r#""true""#));
        assert!(!cond("Null", "sns:Protocol", r#""true""#));
        assert!(cond(
            "ForAnyValue:StringEquals",
            "sns:Protocol",
            r#""https""#
        ));
        assert!(!cond("NumericLessThan", "sns:Protocol", r#""1""#));
        assert!(cond(
            "ArnEquals",
            "aws:PrincipalArn",
            r#""arn:aws:iam::222222222222:root""#
        ));
    }
}
