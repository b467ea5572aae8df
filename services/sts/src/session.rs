//! What every session-making operation checks the same way: session tags (and the
//! transitive ones a role chain inherits), session policies, their packed size, and the
//! requested duration.

use nephos_core::{AwsError, Value};

/// The packed binary form of session policies and tags has its own limit. AWS does not
/// publish the packing; nephos approximates it by plain text: a minified policy (and
/// policy ARNs) fill the space at about 1,200 characters, session tags (keys and values,
/// two characters of framing each) at about 400. Reports from real accounts fall close
/// to this (a 1,690-character policy at 157%, six EKS pod identity tags at 74%).
const POLICY_CHARS_AT_FULL: usize = 1_200;
const TAG_CHARS_AT_FULL: usize = 400;

/// Session tags of a request, and those it marks transitive.
#[derive(Debug, Default, Clone)]
pub(crate) struct Tags {
    pub(crate) tags: Vec<(String, String)>,
    pub(crate) transitive: Vec<String>,
}

fn invalid(message: &str) -> AwsError {
    AwsError::new(400, "InvalidParameterValue", message)
}

/// `Tags` and `TransitiveTagKeys` as given (keys compare without case, as AWS's do).
pub(crate) fn request_tags(input: &Value) -> Result<Tags, AwsError> {
    let tags = crate::role::tags_of(input.get("Tags"));
    let mut seen = std::collections::HashSet::new();
    if !tags.iter().all(|(k, _)| seen.insert(k.to_lowercase())) {
        return Err(invalid(
            "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
        ));
    }
    let transitive: Vec<String> = input
        .get("TransitiveTagKeys")
        .and_then(Value::as_list)
        .unwrap_or_default()
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect();
    if !transitive.iter().all(|k| seen.contains(&k.to_lowercase())) {
        return Err(invalid(
            "The specified transitive tag key must be included in the requested tags.",
        ));
    }
    Ok(Tags { tags, transitive })
}

/// The tags of a session assumed by a caller whose session carries `inherited` tags of
/// which `inherited_transitive` pass down a role chain: those pass on, and may not be
/// set again.
pub(crate) fn chain(
    requested: Tags,
    inherited: &[(String, String)],
    inherited_transitive: &[String],
) -> Result<Tags, AwsError> {
    let passing: Vec<(String, String)> = inherited
        .iter()
        .filter(|(k, _)| {
            inherited_transitive
                .iter()
                .any(|t| t.eq_ignore_ascii_case(k))
        })
        .cloned()
        .collect();
    if requested
        .tags
        .iter()
        .any(|(k, _)| passing.iter().any(|(p, _)| p.eq_ignore_ascii_case(k)))
    {
        return Err(invalid(
            "One of the specified transitive tag keys can't be set because it conflicts with a transitive tag key from the calling session.",
        ));
    }
    let mut out = Tags {
        transitive: passing.iter().map(|(k, _)| k.clone()).collect(),
        tags: passing,
    };
    out.tags.extend(requested.tags);
    out.transitive.extend(requested.transitive);
    Ok(out)
}

/// Session policies: the `Policy` document and the `PolicyArns`.
#[derive(Debug, Default, Clone)]
pub(crate) struct Policies {
    pub(crate) documents: Vec<String>,
    pub(crate) arns: Vec<String>,
}

pub(crate) fn request_policies(input: &Value) -> Result<Policies, AwsError> {
    let mut out = Policies::default();
    if let Some(text) = input.str("Policy") {
        check_policy(text)?;
        out.documents.push(text.to_owned());
    }
    for d in input
        .get("PolicyArns")
        .and_then(Value::as_list)
        .unwrap_or_default()
    {
        let arn = d.str("arn").unwrap_or_default();
        let valid = arn
            .strip_prefix("arn:aws:iam::")
            .and_then(|r| r.split_once(":policy/"))
            .is_some_and(|(acct, name)| {
                (acct == "aws" || nephos_core::is_account_id(acct)) && !name.is_empty()
            });
        if !valid {
            return Err(AwsError::new(
                400,
                "ValidationError",
                format!("{arn} is invalid"),
            ));
        }
        out.arns.push(arn.to_owned());
    }
    Ok(out)
}

/// A session policy must be a policy document: a JSON object with statements.
fn check_policy(text: &str) -> Result<(), AwsError> {
    let malformed = |m: &str| AwsError::new(400, "MalformedPolicyDocument", m);
    let doc: serde_json::Value = serde_json::from_str(text)
        .map_err(|_| malformed("The policy is not in the valid JSON format."))?;
    let statements = match doc.get("Statement") {
        Some(serde_json::Value::Array(a)) if !a.is_empty() => a.iter().collect::<Vec<_>>(),
        Some(s @ serde_json::Value::Object(_)) => vec![s],
        _ => return Err(malformed("Syntax errors in policy.")),
    };
    for s in statements {
        match s.get("Effect").and_then(serde_json::Value::as_str) {
            Some("Allow" | "Deny") => {}
            Some(_) => return Err(malformed("Syntax errors in policy.")),
            None => return Err(malformed("Missing required field Effect")),
        }
        if s.get("Principal").is_some() || s.get("NotPrincipal").is_some() {
            return Err(malformed("Has prohibited field Principal"));
        }
    }
    Ok(())
}

/// How full the packed form is, in percent (what `PackedPolicySize` answers).
pub(crate) fn packed_percent(policies: &Policies, tags: &[(String, String)]) -> i64 {
    let policy_chars: usize = policies
        .documents
        .iter()
        .map(|d| minified_len(d))
        .chain(policies.arns.iter().map(String::len))
        .sum();
    let tag_chars: usize = tags
        .iter()
        .map(|(k, v)| k.chars().count() + v.chars().count() + 2)
        .sum();
    let percent = (policy_chars * 100).div_ceil(POLICY_CHARS_AT_FULL)
        + (tag_chars * 100).div_ceil(TAG_CHARS_AT_FULL);
    percent as i64
}

/// Refuses what does not fit, as `PackedPolicyTooLarge`; else the `PackedPolicySize` to
/// answer, which AWS answers only when the session has policies or tags.
pub(crate) fn check_packed(
    policies: &Policies,
    tags: &[(String, String)],
) -> Result<Option<i64>, AwsError> {
    let percent = packed_percent(policies, tags);
    if percent <= 100 {
        let any = !(policies.documents.is_empty() && policies.arns.is_empty() && tags.is_empty());
        return Ok(any.then_some(percent));
    }
    let message = if policies.documents.is_empty() && policies.arns.is_empty() {
        format!("Packed size of session tags consumes {percent}% of allotted space.")
    } else {
        format!("Packed policy consumes {percent}% of allotted space")
    };
    Err(AwsError::new(400, "PackedPolicyTooLarge", message))
}

/// The length of a JSON document without the whitespace between its tokens.
fn minified_len(text: &str) -> usize {
    let mut len = 0;
    let (mut in_string, mut escaped) = (false, false);
    for c in text.chars() {
        if in_string {
            len += 1;
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if !c.is_whitespace() {
            len += 1;
            in_string = c == '"';
        }
    }
    len
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> Value {
        Value::List(
            pairs
                .iter()
                .map(|(k, v)| Value::map().with("Key", *k).with("Value", *v))
                .collect(),
        )
    }

    #[test]
    fn tag_rules() {
        let input = Value::map().with("Tags", tags(&[("Team", "a"), ("team", "b")]));
        assert_eq!(
            request_tags(&input).unwrap_err().code,
            "InvalidParameterValue"
        );
        let input = Value::map()
            .with("Tags", tags(&[("Team", "a")]))
            .with("TransitiveTagKeys", Value::List(vec!["Cost".into()]));
        assert!(
            request_tags(&input)
                .unwrap_err()
                .message
                .contains("must be included")
        );
        let input = Value::map()
            .with("Tags", tags(&[("Team", "a"), ("Cost", "1")]))
            .with("TransitiveTagKeys", Value::List(vec!["team".into()]));
        let t = request_tags(&input).unwrap();
        // Chained: the transitive tags of the caller come along and cannot be set again.
        let inherited = vec![
            ("Project".to_owned(), "x".to_owned()),
            ("Other".into(), "y".into()),
        ];
        let chained = chain(t.clone(), &inherited, &["project".into()]).unwrap();
        assert_eq!(chained.tags.len(), 3);
        assert!(chained.tags.contains(&("Project".into(), "x".into())));
        assert!(!chained.tags.iter().any(|(k, _)| k == "Other"));
        assert_eq!(
            chained.transitive,
            vec!["Project".to_owned(), "team".into()]
        );
        let err = chain(t, &inherited, &["TEAM".into()]);
        assert!(
            err.is_ok(),
            "Team is not inherited: only Project and Other are"
        );
        let clash = Tags {
            tags: vec![("PROJECT".into(), "z".into())],
            transitive: vec![],
        };
        assert!(chain(clash, &inherited, &["Project".into()]).is_err());
    }

    #[test]
    fn policies_and_their_packed_size() {
        let ok = Value::map().with(
            "Policy",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#,
        );
        let p = request_policies(&ok).unwrap();
        assert_eq!(p.documents.len(), 1);
        let small = packed_percent(&p, &[]);
        assert!((1..=10).contains(&small), "{small}");
        for bad in ["nope", "{}", r#"{"Statement":[{"Action":"s3:*"}]}"#] {
            let e = request_policies(&Value::map().with("Policy", bad)).unwrap_err();
            assert_eq!(e.code, "MalformedPolicyDocument", "{bad}");
        }
        let arns = Value::map().with(
            "PolicyArns",
            Value::List(vec![
                Value::map().with("arn", "arn:aws:iam::aws:policy/ReadOnlyAccess"),
            ]),
        );
        assert_eq!(request_policies(&arns).unwrap().arns.len(), 1);
        let bad = Value::map().with(
            "PolicyArns",
            Value::List(vec![Value::map().with("arn", "x")]),
        );
        assert_eq!(request_policies(&bad).unwrap_err().code, "ValidationError");
        // Whitespace does not count; long documents and many tags overflow.
        assert_eq!(minified_len("{ \"a b\" : [ 1 , 2 ] }"), 13);
        let big = Policies {
            documents: vec![format!(
                r#"{{"Statement":[{{"Effect":"Allow","Action":[{}]}}]}}"#,
                vec!["\"s3:GetObject\""; 100].join(",")
            )],
            arns: vec![],
        };
        assert_eq!(
            check_packed(&big, &[]).unwrap_err().code,
            "PackedPolicyTooLarge"
        );
        let many: Vec<(String, String)> = (0..50)
            .map(|i| (format!("key-{i:03}"), "v".repeat(20)))
            .collect();
        let e = check_packed(&Policies::default(), &many).unwrap_err();
        assert!(
            e.message
                .starts_with("Packed size of session tags consumes"),
            "{}",
            e.message
        );
    }
}
