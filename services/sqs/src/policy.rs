//! Queue policies: whether a caller from another account may act on a queue.
//!
//! Evaluated as IAM does for resource policies, for the statements SQS users write: an
//! explicit `Deny` wins, else an `Allow` whose principal, action and resource match grants.
//! Statements with conditions nephos cannot evaluate never grant.

use serde_json::Value as Json;

/// Who is asking.
pub struct Caller<'a> {
    pub account: &'a str,
    pub arn: &'a str,
}

/// Whether `policy` lets `caller` perform `sqs:<action>` on `resource`.
pub fn allows(policy: &str, caller: &Caller<'_>, action: &str, resource: &str) -> bool {
    let Ok(doc) = serde_json::from_str::<Json>(policy) else {
        return false;
    };
    let statements: Vec<&Json> = match doc.get("Statement") {
        Some(Json::Array(a)) => a.iter().collect(),
        Some(s @ Json::Object(_)) => vec![s],
        _ => return false,
    };
    let mut allowed = false;
    for s in statements {
        let applies = principal_matches(s, caller)
            && list_matches(s.get("Action"), |p| action_matches(p, action))
            && s.get("Resource")
                .is_none_or(|r| list_matches(Some(r), |p| wildcard(p, resource)));
        if !applies {
            continue;
        }
        match s.get("Effect").and_then(Json::as_str) {
            Some("Deny") => return false,
            Some("Allow") if s.get("Condition").is_none() => allowed = true,
            _ => {}
        }
    }
    allowed
}

fn strings(v: Option<&Json>) -> Vec<&str> {
    match v {
        Some(Json::String(s)) => vec![s.as_str()],
        Some(Json::Array(a)) => a.iter().filter_map(Json::as_str).collect(),
        _ => Vec::new(),
    }
}

fn list_matches(v: Option<&Json>, f: impl Fn(&str) -> bool) -> bool {
    strings(v).into_iter().any(f)
}

fn principal_matches(s: &Json, caller: &Caller<'_>) -> bool {
    let ids: Vec<&str> = match s.get("Principal") {
        Some(Json::String(p)) => vec![p.as_str()],
        Some(Json::Object(m)) => strings(m.get("AWS")),
        _ => Vec::new(),
    };
    let root = format!("arn:aws:iam::{}:root", caller.account);
    ids.iter()
        .any(|p| *p == "*" || *p == caller.account || *p == root || *p == caller.arn)
}

fn action_matches(pattern: &str, action: &str) -> bool {
    let full = format!("sqs:{action}");
    pattern == "*" || wildcard(&pattern.to_ascii_lowercase(), &full.to_ascii_lowercase())
}

/// IAM wildcards: `*` any run, `?` one character.
fn wildcard(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    const Q: &str = "arn:aws:sqs:us-east-1:111111111111:q";

    fn caller() -> Caller<'static> {
        Caller {
            account: "222222222222",
            arn: "arn:aws:iam::222222222222:root",
        }
    }

    #[test]
    fn grants_and_denials() {
        let p = r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"222222222222"},"Action":"sqs:SendMessage","Resource":"arn:aws:sqs:us-east-1:111111111111:q"}]}"#;
        assert!(allows(p, &caller(), "SendMessage", Q));
        assert!(!allows(p, &caller(), "ReceiveMessage", Q));
        let p = r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"sqs:*"}}"#;
        assert!(allows(p, &caller(), "ReceiveMessage", Q));
        let p = r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*"},{"Effect":"Deny","Principal":{"AWS":["arn:aws:iam::222222222222:root"]},"Action":"SQS:Send*"}]}"#;
        assert!(!allows(p, &caller(), "SendMessage", Q));
        assert!(allows(p, &caller(), "DeleteMessage", Q));
        let p = r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"333333333333"},"Action":"sqs:*"}]}"#;
        assert!(!allows(p, &caller(), "SendMessage", Q));
        assert!(!allows("not json", &caller(), "SendMessage", Q));
    }

    #[test]
    fn wildcards() {
        assert!(wildcard("arn:aws:sqs:*:111111111111:*", Q));
        assert!(!wildcard("arn:aws:sqs:*:999999999999:*", Q));
        assert!(wildcard("a?c", "abc"));
    }
}
