//! Checks IAM makes beyond the model's constraints (which the gateway applies): policy
//! documents and their size quotas, paths, ARNs, tags.
//!
//! Statement-level checks of policy documents (effects, actions, resources, principals,
//! condition operators) belong to the policy engine (`nephos-policy`); this module
//! checks what every document must be before that: JSON, a known version, statements,
//! and within the quota of where it goes.

use crate::util::{invalid_input, limit_exceeded, malformed, validation};
use nephos_core::AwsError;

/// Where a policy document goes, which sets its size quota and rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocKind<'a> {
    /// A customer managed policy version: 6,144 characters, version 2012-10-17.
    Managed,
    /// An inline policy of the named user: 2,048 characters for all of them together.
    User(&'a str),
    /// An inline policy of the named group: 5,120 together.
    Group(&'a str),
    /// An inline policy of the named role: 10,240 together.
    Role(&'a str),
    /// A role's trust policy: 2,048.
    Trust,
}

impl DocKind<'_> {
    /// The quota, in characters other than whitespace.
    pub fn quota(self) -> usize {
        match self {
            DocKind::Managed => 6_144,
            DocKind::User(_) | DocKind::Trust => 2_048,
            DocKind::Group(_) => 5_120,
            DocKind::Role(_) => 10_240,
        }
    }

    /// The LimitExceeded message IAM gives past the quota.
    pub fn over_quota(self) -> AwsError {
        let q = self.quota();
        limit_exceeded(match self {
            DocKind::Managed => format!("Cannot exceed quota for PolicySize: {q}"),
            DocKind::Trust => format!("Cannot exceed quota for ACLSizePerRole: {q}"),
            DocKind::User(n) => format!("Maximum policy size of {q} bytes exceeded for user {n}"),
            DocKind::Group(n) => {
                format!("Maximum policy size of {q} bytes exceeded for group {n}")
            }
            DocKind::Role(n) => format!("Maximum policy size of {q} bytes exceeded for role {n}"),
        })
    }
}

/// A document's size as IAM counts it against quotas: characters, whitespace excluded.
pub fn size(doc: &str) -> usize {
    doc.chars().filter(|c| !c.is_whitespace()).count()
}

/// Checks a policy document for `kind`: JSON, top-level members, version, statements,
/// and size (inline policies' combined size is the caller's to check, with
/// [`DocKind::over_quota`]).
pub fn policy_document(text: &str, kind: DocKind) -> Result<(), AwsError> {
    let trimmed = text.trim_start();
    if !trimmed.starts_with('{') {
        return Err(malformed("Syntax errors in policy."));
    }
    let doc: serde_json::Value =
        serde_json::from_str(text).map_err(|_| malformed("This policy contains invalid Json"))?;
    let Some(obj) = doc.as_object() else {
        return Err(malformed("Syntax errors in policy."));
    };
    if obj
        .keys()
        .any(|k| !matches!(k.as_str(), "Version" | "Id" | "Statement"))
    {
        return Err(malformed("Syntax errors in policy."));
    }
    let version = match obj.get("Version") {
        None => None,
        Some(serde_json::Value::String(v)) if v == "2012-10-17" || v == "2008-10-17" => {
            Some(v.as_str())
        }
        Some(_) => return Err(malformed("Syntax errors in policy.")),
    };
    if obj.get("Id").is_some_and(|i| !i.is_string()) {
        return Err(malformed("Syntax errors in policy."));
    }
    let statements = match obj.get("Statement") {
        Some(serde_json::Value::Array(s)) if !s.is_empty() => s.iter().collect::<Vec<_>>(),
        Some(s @ serde_json::Value::Object(_)) => vec![s],
        _ => return Err(malformed("Syntax errors in policy.")),
    };
    if statements.iter().any(|s| !s.is_object()) {
        return Err(malformed("Syntax errors in policy."));
    }
    // Managed policies were introduced with the 2012-10-17 language and require it.
    if kind == DocKind::Managed && version != Some("2012-10-17") {
        return Err(malformed(
            "Policy document must be version 2012-10-17 or greater.",
        ));
    }
    if size(text) > kind.quota() {
        return Err(kind.over_quota());
    }
    Ok(())
}

/// An entity path: `/`, or `/`-delimited segments beginning and ending with `/`.
pub fn path(p: &str) -> Result<(), AwsError> {
    if p.starts_with('/') && p.ends_with('/') && !p.contains("//") {
        Ok(())
    } else {
        Err(validation(format!(
            "The specified value for path is invalid. It must begin and end with / and contain only alphanumeric characters and/or / characters. ({p})"
        )))
    }
}

/// A managed policy ARN as Attach*Policy take it (`arn:<partition>:iam::<account or
/// aws>:policy/...`); anything else is not an ARN to IAM.
pub fn policy_arn(arn: &str) -> Result<(), AwsError> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    if parts.len() == 6 && parts[0] == "arn" && !parts[1].is_empty() && !parts[5].is_empty() {
        Ok(())
    } else {
        Err(validation("Invalid ARN:  Could not be parsed!"))
    }
}

/// A permissions boundary: the ARN of a managed policy.
pub fn boundary_arn(arn: &str) -> Result<(), AwsError> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    if parts.len() == 6 && parts[0] == "arn" && parts[2] == "iam" && parts[5].starts_with("policy/")
    {
        Ok(())
    } else {
        Err(invalid_input(format!(
            "Value ({arn}) for parameter PermissionsBoundary is invalid."
        )))
    }
}

/// Tags of one request: keys unique regardless of case.
pub fn tags(tags: &[(String, String)]) -> Result<(), AwsError> {
    let mut seen = std::collections::HashSet::new();
    for (k, _) in tags {
        if !seen.insert(k.to_lowercase()) {
            return Err(invalid_input(
                "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;

    #[test]
    fn documents_are_checked_as_iam_checks_them() {
        assert!(policy_document(OK, DocKind::Managed).is_ok());
        let msg = |t: &str, k| policy_document(t, k).unwrap_err().message;
        assert_eq!(
            msg("{\"Version\": \"2012-10-17\",}", DocKind::Trust),
            "This policy contains invalid Json"
        );
        assert_eq!(
            msg("not json", DocKind::Managed),
            "Syntax errors in policy."
        );
        assert_eq!(
            msg(r#"{"Version":"2012-10-17"}"#, DocKind::Managed),
            "Syntax errors in policy."
        );
        assert_eq!(
            msg(
                r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
                DocKind::Managed
            ),
            "Policy document must be version 2012-10-17 or greater."
        );
        assert!(
            policy_document(
                r#"{"Version":"2008-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
                DocKind::Role("r")
            )
            .is_ok()
        );
    }

    #[test]
    fn sizes_exclude_whitespace() {
        let pad = " ".repeat(10_000);
        let doc = OK.replace(',', &format!(",{pad}"));
        assert!(policy_document(&doc, DocKind::User("u")).is_ok());
        let big = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"s3:*","Resource":"{}"}}]}}"#,
            "a".repeat(2_048)
        );
        let e = policy_document(&big, DocKind::User("u")).unwrap_err();
        assert_eq!(e.code, "LimitExceeded");
        assert_eq!(
            e.message,
            "Maximum policy size of 2048 bytes exceeded for user u"
        );
        assert!(policy_document(&big, DocKind::Role("r")).is_ok());
    }
}
