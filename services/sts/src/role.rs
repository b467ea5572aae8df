//! The role a session is of, asked of IAM in process (`iam GetRole` in the role's
//! account): its id, maximum session duration and trust policy.
//!
//! While IAM does not answer GetRole (501), a role is taken on the word of its ARN: its
//! id is derived from the ARN (stable per role) and no trust policy is known.

use crate::creds::UPPER_ALNUM;
use nephos_core::{AwsError, Dispatcher, RequestContext, Value};

/// AWS's longest role session, and IAM's default `MaxSessionDuration`.
pub(crate) const MAX_ROLE_SESSION_SECS: i64 = 43_200;
pub(crate) const DEFAULT_ROLE_MAX_SECS: i64 = 3_600;

#[derive(Debug, Clone)]
pub(crate) struct Role {
    pub(crate) arn: String,
    pub(crate) account: String,
    pub(crate) name: String,
    pub(crate) id: String,
    pub(crate) max_session_secs: i64,
    /// The trust policy as JSON; `None` when IAM does not know roles yet.
    pub(crate) trust_policy: Option<String>,
}

/// The account and name of `arn:aws:iam::<account>:role/<path><name>`.
pub(crate) fn parse_arn(arn: &str) -> Option<(&str, &str)> {
    let (account, path) = arn
        .strip_prefix("arn:aws:iam::")
        .and_then(|r| r.split_once(":role/"))?;
    let name = path.rsplit('/').next()?;
    (nephos_core::is_account_id(account) && !name.is_empty()).then_some((account, name))
}

/// A context acting as `account`'s own root, for asking IAM about that account's
/// entities whoever the caller is (a role may be in another account, and web identity
/// and SAML callers are anonymous).
pub(crate) fn as_account(ctx: &RequestContext, account: &str) -> RequestContext {
    let mut inner = ctx.clone();
    inner.account_id = account.to_owned();
    inner.caller_arn = format!("arn:aws:iam::{account}:root");
    inner.credential = None;
    inner.access_key_id = None;
    inner.anonymous = false;
    inner
}

/// Whether an error from IAM means it does not implement the operation yet (or cannot
/// be reached in process, as in unit tests).
pub(crate) fn iam_unavailable(e: &AwsError) -> bool {
    e.status == 501 || e.message.contains("dispatcher is not wired")
}

pub(crate) enum Lookup {
    Found(Role),
    /// IAM knows no such role (or a role of that name at another path).
    Missing,
}

/// The role `arn` names (already checked with [`parse_arn`]).
pub(crate) async fn lookup(
    dispatcher: &Dispatcher,
    ctx: &RequestContext,
    arn: &str,
) -> Result<Lookup, AwsError> {
    let Some((account, name)) = parse_arn(arn) else {
        return Ok(Lookup::Missing);
    };
    let iam_ctx = as_account(ctx, account);
    let answer = dispatcher
        .call(
            &iam_ctx,
            "iam",
            "GetRole",
            Value::map().with("RoleName", name),
        )
        .await;
    let role = match answer {
        Ok(v) => v.get("Role").cloned().unwrap_or_default(),
        Err(e) if iam_unavailable(&e) => {
            return Ok(Lookup::Found(unknown_role(arn, account, name)));
        }
        Err(e) if e.code == "NoSuchEntity" => return Ok(Lookup::Missing),
        Err(e) => return Err(e),
    };
    if role.str("Arn") != Some(arn) {
        return Ok(Lookup::Missing);
    }
    let trust = role
        .str("AssumeRolePolicyDocument")
        .map(decode_policy)
        .unwrap_or_default();
    Ok(Lookup::Found(Role {
        arn: arn.to_owned(),
        account: account.to_owned(),
        name: name.to_owned(),
        id: role
            .str("RoleId")
            .map_or_else(|| derived_id(arn), str::to_owned),
        max_session_secs: role
            .int("MaxSessionDuration")
            .unwrap_or(DEFAULT_ROLE_MAX_SECS),
        trust_policy: Some(trust),
    }))
}

/// A role IAM cannot tell about: any duration AWS allows, no trust policy.
fn unknown_role(arn: &str, account: &str, name: &str) -> Role {
    Role {
        arn: arn.to_owned(),
        account: account.to_owned(),
        name: name.to_owned(),
        id: derived_id(arn),
        max_session_secs: MAX_ROLE_SESSION_SECS,
        trust_policy: None,
    }
}

/// A stable id per role ARN, in IAM's format (AROA + 17).
fn derived_id(arn: &str) -> String {
    let digest = <sha2::Sha256 as sha2::Digest>::digest(arn.as_bytes());
    let tail: String = digest
        .iter()
        .take(17)
        .map(|b| UPPER_ALNUM[(*b as usize) % UPPER_ALNUM.len()] as char)
        .collect();
    format!("AROA{tail}")
}

/// IAM answers policy documents URL-encoded, as AWS does.
pub(crate) fn decode_policy(text: &str) -> String {
    if text.trim_start().starts_with('{') {
        return text.to_owned();
    }
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

/// `[{Key, Value}]` as pairs.
pub(crate) fn tags_of(v: Option<&Value>) -> Vec<(String, String)> {
    v.and_then(Value::as_list)
        .unwrap_or_default()
        .iter()
        .filter_map(|t| Some((t.str("Key")?.to_owned(), t.str("Value")?.to_owned())))
        .collect()
}
