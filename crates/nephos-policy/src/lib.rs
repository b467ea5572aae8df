//! IAM resource-policy evaluation shared by nephos services (SNS topic policies; any
//! service whose resources carry a policy document can use it).
//!
//! A policy is evaluated as IAM evaluates resource-based policies: a statement applies when
//! its `Principal`/`NotPrincipal`, `Action`/`NotAction`, `Resource`/`NotResource` and every
//! `Condition` match the request; an applying `Deny` wins over any `Allow`; nothing
//! applying means no grant. Conditions support the string, ARN, `Null` and `Bool`
//! operators (with `IfExists` and the `ForAnyValue:`/`ForAllValues:` set prefixes, over
//! single-valued keys); an operator nephos does not know makes its statement not apply,
//! so an unknown condition never grants.
//!
//! Services call each other in process, so a call made *by a service* (S3 publishing an
//! event to SNS) is marked in the caller ARN of its `RequestContext` with
//! [`service_caller`]: `<service principal> <source ARN>`, e.g.
//! `s3.amazonaws.com arn:aws:s3:::bucket`, with the context's account set to the source
//! resource's owner. [`Caller::from_context`] reads it back, so `{"Service":
//! "s3.amazonaws.com"}` principals and `aws:SourceArn`/`aws:SourceAccount` conditions
//! work.

mod matching;

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use matching::arn_like;
pub use matching::wildcard;
use serde_json::Value as Json;

/// Who is asking.
#[derive(Debug, Clone, PartialEq)]
pub enum Principal {
    /// An IAM identity (root or otherwise) of an account.
    Aws { account: String, arn: String },
    /// An AWS service acting for a resource (`s3.amazonaws.com` for a bucket).
    Service(String),
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

    fn key(&self, name: &str) -> Option<&str> {
        self.keys
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
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

/// A policy document parsed once, for resources asked about often (a queue SNS delivers
/// to on every publish).
#[derive(Debug, Clone)]
pub struct Policy(Json);

impl Policy {
    /// `None` when the text is not JSON (such a policy grants nothing).
    pub fn parse(text: &str) -> Option<Policy> {
        serde_json::from_str(text).ok().map(Policy)
    }

    pub fn evaluate(&self, caller: &Caller, action: &str, resource: &str) -> Decision {
        evaluate_doc(&self.0, caller, action, resource)
    }

    pub fn allows(&self, caller: &Caller, action: &str, resource: &str) -> bool {
        self.evaluate(caller, action, resource) == Decision::Allow
    }
}

/// Evaluates `policy` for `caller` performing `action` (`sns:Publish`) on `resource`.
pub fn evaluate(policy: &str, caller: &Caller, action: &str, resource: &str) -> Decision {
    match Policy::parse(policy) {
        Some(p) => p.evaluate(caller, action, resource),
        None => Decision::NoMatch,
    }
}

fn evaluate_doc(doc: &Json, caller: &Caller, action: &str, resource: &str) -> Decision {
    let statements: Vec<&Json> = match doc.get("Statement") {
        Some(Json::Array(a)) => a.iter().collect(),
        Some(s @ Json::Object(_)) => vec![s],
        _ => return Decision::NoMatch,
    };
    let mut decision = Decision::NoMatch;
    for s in statements {
        if !applies(s, caller, action, resource) {
            continue;
        }
        match s.get("Effect").and_then(Json::as_str) {
            Some("Deny") => return Decision::Deny,
            Some("Allow") => decision = Decision::Allow,
            _ => {}
        }
    }
    decision
}

/// Whether `policy` grants the request (an `Allow` applies and no `Deny` does).
pub fn allows(policy: &str, caller: &Caller, action: &str, resource: &str) -> bool {
    evaluate(policy, caller, action, resource) == Decision::Allow
}

fn applies(s: &Json, caller: &Caller, action: &str, resource: &str) -> bool {
    let principal = match (s.get("Principal"), s.get("NotPrincipal")) {
        (Some(p), None) => principal_matches(p, &caller.principal),
        (None, Some(np)) => !principal_matches(np, &caller.principal),
        _ => false,
    };
    let action_ok = match (s.get("Action"), s.get("NotAction")) {
        (Some(a), None) => strings(a).any(|p| action_matches(p, action)),
        (None, Some(na)) => !strings(na).any(|p| action_matches(p, action)),
        _ => false,
    };
    let resource_ok = match (s.get("Resource"), s.get("NotResource")) {
        (Some(r), None) => strings(r).any(|p| wildcard(p, resource)),
        (None, Some(nr)) => !strings(nr).any(|p| wildcard(p, resource)),
        // Resource policies may leave the resource implicit: the one they are attached to.
        (None, None) => true,
        _ => false,
    };
    principal && action_ok && resource_ok && conditions_hold(s.get("Condition"), caller)
}

fn strings(v: &Json) -> Box<dyn Iterator<Item = &str> + '_> {
    match v {
        Json::String(s) => Box::new(std::iter::once(s.as_str())),
        Json::Array(a) => Box::new(a.iter().filter_map(Json::as_str)),
        _ => Box::new(std::iter::empty()),
    }
}

fn principal_matches(p: &Json, principal: &Principal) -> bool {
    match p {
        Json::String(s) => s == "*",
        Json::Object(m) => m.iter().any(|(kind, ids)| {
            strings(ids).any(|id| match (kind.as_str(), principal) {
                ("AWS", Principal::Aws { account, arn }) => {
                    id == "*"
                        || id == account
                        || id == arn
                        || id == format!("arn:aws:iam::{account}:root")
                }
                ("Service", Principal::Service(name)) => id == "*" || id.eq_ignore_ascii_case(name),
                _ => false,
            })
        }),
        _ => false,
    }
}

/// `service:Action` patterns: case-insensitive, with wildcards.
fn action_matches(pattern: &str, action: &str) -> bool {
    pattern == "*" || wildcard(&pattern.to_ascii_lowercase(), &action.to_ascii_lowercase())
}

fn conditions_hold(c: Option<&Json>, caller: &Caller) -> bool {
    let Some(c) = c else {
        return true;
    };
    let Some(blocks) = c.as_object() else {
        return false;
    };
    blocks.iter().all(|(op, block)| {
        block.as_object().is_some_and(|keys| {
            keys.iter()
                .all(|(key, values)| condition(op, caller.key(key), values))
        })
    })
}

/// One condition: operator, the request's value of the key, the policy's values.
fn condition(op: &str, actual: Option<&str>, values: &Json) -> bool {
    let op = op
        .strip_prefix("ForAnyValue:")
        .or_else(|| op.strip_prefix("ForAllValues:"))
        .unwrap_or(op);
    let (op, if_exists) = match op.strip_suffix("IfExists") {
        Some(base) => (base, true),
        None => (op, false),
    };
    let wanted: Vec<String> = match values {
        Json::Array(a) => a.iter().filter_map(scalar).collect(),
        v => scalar(v).into_iter().collect(),
    };
    if op == "Null" {
        // `"Null": {"key": "true"}` holds when the key is absent.
        return wanted
            .iter()
            .any(|w| w.eq_ignore_ascii_case("true") == actual.is_none());
    }
    let Some(actual) = actual else {
        // A missing key satisfies only IfExists and the negated operators.
        return if_exists || op.contains("Not");
    };
    let any = |f: &dyn Fn(&str) -> bool| wanted.iter().any(|w| f(w));
    match op {
        "StringEquals" => any(&|w| w == actual),
        "StringNotEquals" => !any(&|w| w == actual),
        "StringEqualsIgnoreCase" => any(&|w| w.eq_ignore_ascii_case(actual)),
        "StringNotEqualsIgnoreCase" => !any(&|w| w.eq_ignore_ascii_case(actual)),
        "StringLike" => any(&|w| wildcard(w, actual)),
        "StringNotLike" => !any(&|w| wildcard(w, actual)),
        "ArnEquals" | "ArnLike" => any(&|w| arn_like(w, actual)),
        "ArnNotEquals" | "ArnNotLike" => !any(&|w| arn_like(w, actual)),
        "Bool" => any(&|w| w.eq_ignore_ascii_case(actual)),
        _ => false,
    }
}

fn scalar(v: &Json) -> Option<String> {
    match v {
        Json::String(s) => Some(s.clone()),
        Json::Bool(b) => Some(b.to_string()),
        Json::Number(n) => Some(n.to_string()),
        _ => None,
    }
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
