//! Pieces every handler module shares: IAM's error codes, ids, dates, URL-encoded policy
//! documents, tags and Marker/MaxItems pagination.

use base64::Engine;
use nephos_core::{AwsError, Timestamp, Value, random_alnum};

/// The characters of IAM's unique ids and access key ids.
const ID_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const SECRET_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// IAM lists answer 100 items unless MaxItems says otherwise.
const DEFAULT_MAX_ITEMS: i64 = 100;

// IAM's default account-wide quotas, as GetAccountSummary reports them and as creations
// enforce them.
pub const USERS_QUOTA: usize = 5_000;
pub const GROUPS_QUOTA: usize = 300;
pub const ROLES_QUOTA: usize = 1_000;
/// Customer managed policies.
pub const POLICIES_QUOTA: usize = 1_500;
pub const INSTANCE_PROFILES_QUOTA: usize = 1_000;

/// AWS's LimitExceeded when an account that has `count` entities of a kind would pass
/// its `quota` (`quota_name`: `UsersPerAccount`, `RolesPerAccount`, ...).
pub fn check_account_quota(count: usize, quota: usize, quota_name: &str) -> Result<(), AwsError> {
    if count >= quota {
        Err(limit_exceeded(format!(
            "Cannot exceed quota for {quota_name}: {quota}"
        )))
    } else {
        Ok(())
    }
}

pub fn no_such(message: impl Into<String>) -> AwsError {
    AwsError::new(404, "NoSuchEntity", message)
}

pub fn already_exists(message: impl Into<String>) -> AwsError {
    AwsError::new(409, "EntityAlreadyExists", message)
}

pub fn delete_conflict(message: impl Into<String>) -> AwsError {
    AwsError::new(409, "DeleteConflict", message)
}

pub fn limit_exceeded(message: impl Into<String>) -> AwsError {
    AwsError::new(409, "LimitExceeded", message)
}

pub fn invalid_input(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "InvalidInput", message)
}

pub fn malformed(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "MalformedPolicyDocument", message)
}

pub fn validation(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "ValidationError", message)
}

/// A service-linked role only its service may change.
pub fn unmodifiable(role: &str) -> AwsError {
    AwsError::new(
        400,
        "UnmodifiableEntity",
        format!(
            "Cannot perform the operation on the protected role '{role}' - this role is only modifiable by AWS"
        ),
    )
}

/// A unique id: `prefix` (AIDA, AROA, AGPA, ANPA, AIPA) and 17 characters, 21 in all.
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}{}", random_alnum(17, ID_CHARS))
}

/// An access key id: AKIA and 16 characters.
pub fn new_access_key_id() -> String {
    format!("AKIA{}", random_alnum(16, ID_CHARS))
}

pub fn new_secret() -> String {
    random_alnum(40, SECRET_CHARS)
}

/// A random UUID (version 4), for job and task ids.
pub fn uuid() -> String {
    nephos_core::request_id()
}

pub fn ts(ms: i64) -> Value {
    Value::Timestamp(Timestamp::from_millis(ms))
}

/// A policy document as IAM answers it: URL-encoded (clients decode it).
pub fn encode_document(doc: &str) -> String {
    let mut out = String::with_capacity(doc.len() * 2);
    for b in doc.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'*') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `Tags` input (a list of `{Key, Value}`) as pairs.
pub fn input_tags(v: Option<&Value>) -> Vec<(String, String)> {
    v.and_then(Value::as_list)
        .unwrap_or_default()
        .iter()
        .map(|t| {
            (
                t.str("Key").unwrap_or_default().to_owned(),
                t.str("Value").unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// A list of strings from the input (`TagKeys`, `ServiceNamespaces`).
pub fn input_strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_list)
        .unwrap_or_default()
        .iter()
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect()
}

pub fn tags_value(tags: &[(String, String)]) -> Value {
    Value::List(
        tags.iter()
            .map(|(k, v)| {
                Value::map()
                    .with("Key", k.as_str())
                    .with("Value", v.as_str())
            })
            .collect(),
    )
}

/// Sets `Tags` on an entity's answer when it has any (IAM leaves the member out
/// otherwise).
pub fn with_tags(v: Value, tags: &[(String, String)]) -> Value {
    if tags.is_empty() {
        v
    } else {
        v.with("Tags", tags_value(tags))
    }
}

pub fn boundary_value(arn: &str) -> Value {
    Value::map()
        // AWS answers `Policy`, not the model's enum value `PermissionsBoundaryPolicy`.
        .with("PermissionsBoundaryType", "Policy")
        .with("PermissionsBoundaryArn", arn)
}

/// One page of `items` (each with its sort key, in order) after the request's `Marker`,
/// at most `MaxItems` long: the page, and the marker of the next page if there is one.
pub fn page<T>(
    items: Vec<(String, T)>,
    input: &Value,
) -> Result<(Vec<T>, Option<String>), AwsError> {
    let max = input.int("MaxItems").unwrap_or(DEFAULT_MAX_ITEMS).max(1) as usize;
    let start = match input.str("Marker") {
        Some(m) => {
            let after = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(m)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| validation("Invalid Marker."))?;
            items.partition_point(|(k, _)| *k < after)
        }
        None => 0,
    };
    let mut rest: Vec<(String, T)> = items.into_iter().skip(start).collect();
    let next = if rest.len() > max {
        let key = rest[max].0.clone();
        rest.truncate(max);
        Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key))
    } else {
        None
    };
    Ok((rest.into_iter().map(|(_, v)| v).collect(), next))
}

/// Adds `IsTruncated` (and `Marker` when truncated) to a list answer.
pub fn paged(mut out: Value, next: Option<String>) -> Value {
    out.insert("IsTruncated", next.is_some());
    if let Some(m) = next {
        out.insert("Marker", m);
    }
    out
}

/// A list answer: `member` holds the page of `items`.
pub fn list_page(
    items: Vec<(String, Value)>,
    input: &Value,
    member: &str,
) -> Result<Value, AwsError> {
    let (page, next) = page(items, input)?;
    Ok(paged(Value::map().with(member, Value::List(page)), next))
}

/// Whether an entity's path falls under the request's `PathPrefix`.
pub fn under_prefix(path: &str, input: &Value) -> bool {
    input.str("PathPrefix").is_none_or(|p| path.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_url_encoded_as_iam_answers_them() {
        assert_eq!(
            encode_document(r#"{"Action":"sts:AssumeRole", "x":"a b"}"#),
            "%7B%22Action%22%3A%22sts%3AAssumeRole%22%2C%20%22x%22%3A%22a%20b%22%7D"
        );
    }

    #[test]
    fn pages_follow_markers() {
        let items: Vec<(String, i32)> = (0..5).map(|i| (format!("k{i}"), i)).collect();
        let input = Value::map().with("MaxItems", 2i64);
        let (p, next) = page(items.clone(), &input).unwrap();
        assert_eq!(p, vec![0, 1]);
        let input = input.with("Marker", next.unwrap());
        let (p, next) = page(items.clone(), &input).unwrap();
        assert_eq!(p, vec![2, 3]);
        let input = input.with("Marker", next.unwrap());
        let (p, next) = page(items, &input).unwrap();
        assert_eq!((p, next), (vec![4], None));
    }

    #[test]
    fn ids_have_iam_shape() {
        let id = new_id("AIDA");
        assert_eq!(id.len(), 21);
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        );
        assert_eq!(new_access_key_id().len(), 20);
        assert_eq!(new_secret().len(), 40);
    }
}
