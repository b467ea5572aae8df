//! The account's identity resources besides users, groups, roles and policies: login
//! profiles and the password policy, MFA devices, OpenID Connect and SAML providers,
//! server and signing certificates, SSH keys, service-specific credentials, the account
//! alias, the credential report, STS preferences and the Organizations-only operations.
//!
//! Each resource kind lives in its own file with its own `OPS` and durable record kind
//! (`login`, `mfa`, `oidc`, ...); this file routes, restores, and holds what they share:
//! errors, users, tags and Marker/MaxItems pagination.

mod account;
mod aliases;
mod certificates;
mod login;
mod mfa;
mod oidc;
mod organizations;
mod password_policy;
mod report;
mod saml;
mod service_credentials;
mod ssh;
mod totp;

pub(crate) use mfa::verify as verify_mfa;

use crate::IamProvider;
use crate::state::Account;
use crate::store::Change;
use base64::Engine;
use nephos_core::{AwsError, RequestContext, Value};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::LazyLock;

/// The operations this module answers.
pub const OPS: &[&str] = &[
    // login profiles
    "CreateLoginProfile",
    "GetLoginProfile",
    "UpdateLoginProfile",
    "DeleteLoginProfile",
    "ChangePassword",
    // password policy
    "UpdateAccountPasswordPolicy",
    "GetAccountPasswordPolicy",
    "DeleteAccountPasswordPolicy",
    // MFA
    "CreateVirtualMFADevice",
    "DeleteVirtualMFADevice",
    "ListVirtualMFADevices",
    "EnableMFADevice",
    "DeactivateMFADevice",
    "ResyncMFADevice",
    "ListMFADevices",
    "GetMFADevice",
    "TagMFADevice",
    "UntagMFADevice",
    "ListMFADeviceTags",
    // OpenID Connect
    "CreateOpenIDConnectProvider",
    "GetOpenIDConnectProvider",
    "ListOpenIDConnectProviders",
    "DeleteOpenIDConnectProvider",
    "UpdateOpenIDConnectProviderThumbprint",
    "AddClientIDToOpenIDConnectProvider",
    "RemoveClientIDFromOpenIDConnectProvider",
    "TagOpenIDConnectProvider",
    "UntagOpenIDConnectProvider",
    "ListOpenIDConnectProviderTags",
    // SAML
    "CreateSAMLProvider",
    "GetSAMLProvider",
    "ListSAMLProviders",
    "UpdateSAMLProvider",
    "DeleteSAMLProvider",
    "TagSAMLProvider",
    "UntagSAMLProvider",
    "ListSAMLProviderTags",
    // server certificates
    "UploadServerCertificate",
    "GetServerCertificate",
    "ListServerCertificates",
    "UpdateServerCertificate",
    "DeleteServerCertificate",
    "TagServerCertificate",
    "UntagServerCertificate",
    "ListServerCertificateTags",
    // signing certificates
    "UploadSigningCertificate",
    "ListSigningCertificates",
    "UpdateSigningCertificate",
    "DeleteSigningCertificate",
    // SSH public keys
    "UploadSSHPublicKey",
    "GetSSHPublicKey",
    "ListSSHPublicKeys",
    "UpdateSSHPublicKey",
    "DeleteSSHPublicKey",
    // service-specific credentials
    "CreateServiceSpecificCredential",
    "ListServiceSpecificCredentials",
    "ResetServiceSpecificCredential",
    "UpdateServiceSpecificCredential",
    "DeleteServiceSpecificCredential",
    // account alias
    "CreateAccountAlias",
    "ListAccountAliases",
    "DeleteAccountAlias",
    // credential report
    "GenerateCredentialReport",
    "GetCredentialReport",
    // account settings
    "SetSecurityTokenServicePreferences",
    // Organizations and role templates, which nephos has none of
    "ListOrganizationsFeatures",
    "EnableOrganizationsRootCredentialsManagement",
    "DisableOrganizationsRootCredentialsManagement",
    "EnableOrganizationsRootSessions",
    "DisableOrganizationsRootSessions",
    "GetOrganizationsAccessReport",
    "AcquireRole",
    "GetRoleTemplateVersion",
];

/// This module's share of an account's state.
#[derive(Default)]
pub struct State {
    /// Login profiles by user name.
    pub(crate) logins: BTreeMap<String, login::LoginProfile>,
    pub(crate) password_policy: Option<password_policy::PasswordPolicy>,
    /// Virtual MFA devices by serial number (their ARN).
    pub(crate) mfa: BTreeMap<String, mfa::VirtualMfa>,
    /// OpenID Connect providers by ARN.
    pub(crate) oidc: BTreeMap<String, oidc::OidcProvider>,
    /// SAML providers by ARN.
    pub(crate) saml: BTreeMap<String, saml::SamlProvider>,
    /// Server certificates by lower-cased name (names are unique regardless of case).
    pub(crate) server_certs: BTreeMap<String, certificates::ServerCert>,
    /// Signing certificates by id.
    pub(crate) signing_certs: BTreeMap<String, certificates::SigningCert>,
    /// SSH public keys by id.
    pub(crate) ssh_keys: BTreeMap<String, ssh::SshKey>,
    /// Service-specific credentials by id.
    pub(crate) service_creds: BTreeMap<String, service_credentials::ServiceCred>,
    pub(crate) alias: Option<String>,
    /// The last credential report generated.
    pub(crate) report: Option<report::Report>,
    pub(crate) settings: account::Settings,
}

/// What the core entities may ask of this module.
impl State {
    /// AWS's DeleteConflict message when the user (by its stored name) still has
    /// resources that block DeleteUser: a login profile, MFA devices, signing
    /// certificates, SSH keys or service-specific credentials.
    pub fn user_has_resources(&self, user: &str) -> Option<&'static str> {
        if self.logins.contains_key(user) {
            Some("Cannot delete entity, must delete login profile first.")
        } else if self.mfa.values().any(|d| d.user.as_deref() == Some(user)) {
            Some("Cannot delete entity, must delete MFA device first.")
        } else if self.signing_certs.values().any(|c| c.user == user) {
            Some("Cannot delete entity, must delete certificates first.")
        } else if self.ssh_keys.values().any(|k| k.user == user)
            || self.service_creds.values().any(|c| c.user == user)
        {
            // What AWS answers for SSH keys; service-specific credentials are taken to
            // answer alike.
            Some("Cannot delete entity, must remove referenced objects first.")
        } else {
            None
        }
    }

    /// Moves the user's resources to its new name (UpdateUser's NewUserName), returning
    /// the records to store with the rename.
    pub fn rename_user(&mut self, account: &str, old: &str, new: &str) -> Vec<Change> {
        let mut changes = Vec::new();
        if let Some(mut l) = self.logins.remove(old) {
            l.user = new.to_owned();
            changes.push(Change::delete(account, login::KIND, old));
            changes.push(Change::put(account, login::KIND, new, &l));
            self.logins.insert(new.to_owned(), l);
        }
        for d in self.mfa.values_mut() {
            if d.user.as_deref() == Some(old) {
                d.user = Some(new.to_owned());
                changes.push(Change::put(account, mfa::KIND, &d.serial, &*d));
            }
        }
        for k in self.ssh_keys.values_mut().filter(|k| k.user == old) {
            k.user = new.to_owned();
            changes.push(Change::put(account, ssh::KIND, &k.id, &*k));
        }
        for c in self.signing_certs.values_mut().filter(|c| c.user == old) {
            c.user = new.to_owned();
            changes.push(Change::put(account, certificates::SIGNING_KIND, &c.id, &*c));
        }
        for c in self.service_creds.values_mut().filter(|c| c.user == old) {
            c.user = new.to_owned();
            changes.push(Change::put(account, service_credentials::KIND, &c.id, &*c));
        }
        changes
    }

    /// This module's counts for GetAccountSummary (`MFADevices`, `Providers`,
    /// `ServerCertificates`, `AccountMFAEnabled`, ...).
    pub fn summary_counts(&self) -> Vec<(&'static str, i64)> {
        let in_use = self.mfa.values().filter(|d| d.user.is_some()).count();
        vec![
            ("MFADevices", self.mfa.len() as i64),
            ("MFADevicesInUse", in_use as i64),
            // Only the root user's own MFA counts here, and nephos's root has none.
            ("AccountMFAEnabled", 0),
            ("Providers", (self.oidc.len() + self.saml.len()) as i64),
            ("ServerCertificates", self.server_certs.len() as i64),
            ("ServerCertificatesQuota", certificates::SERVER_CERTS_QUOTA),
            (
                "SigningCertificatesPerUserQuota",
                certificates::SIGNING_CERTS_PER_USER,
            ),
            (
                "GlobalEndpointTokenVersion",
                self.settings.token_version_number(),
            ),
        ]
    }
}

/// Puts back a stored record of a kind this module owns; `Ok(false)` for other kinds.
pub fn restore(
    account: &Account,
    kind: &str,
    id: &str,
    value: &serde_json::Value,
) -> Result<bool, String> {
    fn parse<T: for<'de> Deserialize<'de>>(v: &serde_json::Value) -> Result<T, String> {
        serde_json::from_value(v.clone()).map_err(|e| e.to_string())
    }
    let mut s = account.extras.write().unwrap();
    let id = id.to_owned();
    match kind {
        login::KIND => {
            s.logins.insert(id, parse(value)?);
        }
        password_policy::KIND => s.password_policy = Some(parse(value)?),
        mfa::KIND => {
            s.mfa.insert(id, parse(value)?);
        }
        oidc::KIND => {
            s.oidc.insert(id, parse(value)?);
        }
        saml::KIND => {
            s.saml.insert(id, parse(value)?);
        }
        certificates::SERVER_KIND => {
            s.server_certs.insert(id, parse(value)?);
        }
        certificates::SIGNING_KIND => {
            s.signing_certs.insert(id, parse(value)?);
        }
        ssh::KIND => {
            s.ssh_keys.insert(id, parse(value)?);
        }
        service_credentials::KIND => {
            s.service_creds.insert(id, parse(value)?);
        }
        aliases::KIND => s.alias = Some(parse(value)?),
        report::KIND => s.report = Some(parse(value)?),
        account::KIND => s.settings = parse(value)?,
        _ => return Ok(false),
    }
    Ok(true)
}

type Handler = for<'a> fn(&'a Ctx<'a>, &'a Value) -> HandlerFuture<'a>;
type HandlerFuture<'a> = nephos_core::BoxFuture<'a, Result<Value, AwsError>>;

/// What a handler works with: the provider, the request, and the caller's account.
pub(crate) struct Ctx<'a> {
    pub p: &'a IamProvider,
    pub ctx: &'a RequestContext,
    pub account: std::sync::Arc<Account>,
}

impl Ctx<'_> {
    pub fn account_id(&self) -> &str {
        &self.ctx.account_id
    }

    pub fn now(&self) -> i64 {
        self.ctx.clock.now_millis()
    }

    /// Stores `changes` durably before the caller answers.
    pub async fn commit(&self, changes: Vec<Change>) -> Result<(), AwsError> {
        self.p.store.commit(changes).await
    }

    pub fn put<T: Serialize>(&self, kind: &str, id: &str, value: &T) -> Change {
        Change::put(self.account_id(), kind, id, value)
    }

    pub fn delete(&self, kind: &str, id: &str) -> Change {
        Change::delete(self.account_id(), kind, id)
    }

    /// The user's name as stored (user names are unique regardless of case, and this
    /// module keys its per-user records by the stored one), or AWS's NoSuchEntity.
    pub fn require_user(&self, name: &str) -> Result<String, AwsError> {
        self.account
            .core
            .read()
            .unwrap()
            .canonical_user_name(name)
            .ok_or_else(|| no_such_user(name))
    }

    /// This module's state, locked for a change to the resources of `user` (a stored
    /// name), once the user is known to exist still: DeleteUser and renames hold this
    /// lock too, so the user cannot go or change its name until the change is made.
    pub fn extras_for_user(
        &self,
        user: &str,
    ) -> Result<std::sync::RwLockWriteGuard<'_, State>, AwsError> {
        // The extras before the core entities: the order DeleteUser and renames take.
        let s = self.account.extras.write().unwrap();
        if self
            .account
            .core
            .read()
            .unwrap()
            .canonical_user_name(user)
            .as_deref()
            == Some(user)
        {
            Ok(s)
        } else {
            Err(no_such_user(user))
        }
    }

    /// The IAM user making the request, when the caller is one (`arn:...:user/path/name`).
    pub fn caller_user(&self) -> Option<String> {
        let rest = self.ctx.caller_arn.split_once(":user/")?.1;
        Some(rest.rsplit('/').next().unwrap_or(rest).to_owned())
    }

    /// `UserName` from the input, else the calling IAM user (AWS's default for the
    /// operations whose user is optional); other callers must name one.
    pub fn user_or_caller(&self, input: &Value) -> Result<String, AwsError> {
        if let Some(u) = input.str("UserName") {
            return Ok(u.to_owned());
        }
        self.caller_user().ok_or_else(|| {
            validation("Must specify userName when calling with non-User credentials")
        })
    }
}

/// Every handler by operation name, from each resource file's table.
static HANDLERS: LazyLock<BTreeMap<&'static str, Handler>> = LazyLock::new(|| {
    let tables: [&[(&'static str, Handler)]; 12] = [
        login::HANDLERS,
        password_policy::HANDLERS,
        mfa::HANDLERS,
        oidc::HANDLERS,
        saml::HANDLERS,
        certificates::HANDLERS,
        ssh::HANDLERS,
        service_credentials::HANDLERS,
        aliases::HANDLERS,
        report::HANDLERS,
        account::HANDLERS,
        organizations::HANDLERS,
    ];
    tables.into_iter().flatten().copied().collect()
});

pub async fn handle(
    p: &IamProvider,
    ctx: &RequestContext,
    op: &str,
    input: &Value,
) -> Result<Value, AwsError> {
    let Some(h) = HANDLERS.get(op) else {
        return Err(AwsError::not_implemented("iam", op));
    };
    let c = Ctx {
        p,
        ctx,
        account: p.account(ctx),
    };
    h(&c, input).await
}

/// Wraps an `async fn(&Ctx, &Value)` as a [`Handler`] table entry.
macro_rules! handlers {
    ($($op:literal => $f:path),* $(,)?) => {
        &[$(($op, {
            fn h<'a>(c: &'a $crate::extras::Ctx<'a>, i: &'a nephos_core::Value)
                -> nephos_core::BoxFuture<'a, Result<nephos_core::Value, nephos_core::AwsError>> {
                Box::pin($f(c, i))
            }
            h as $crate::extras::Handler
        })),*]
    };
}
pub(crate) use handlers;

// Errors, with the status codes the model gives them.

pub fn no_such_entity(message: impl Into<String>) -> AwsError {
    AwsError::new(404, "NoSuchEntity", message)
}

pub fn no_such_user(name: &str) -> AwsError {
    no_such_entity(format!("The user with name {name} cannot be found."))
}

pub fn already_exists(message: impl Into<String>) -> AwsError {
    AwsError::new(409, "EntityAlreadyExists", message)
}

pub fn limit_exceeded(message: impl Into<String>) -> AwsError {
    AwsError::new(409, "LimitExceeded", message)
}

pub fn invalid_input(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "InvalidInput", message)
}

pub fn delete_conflict(message: impl Into<String>) -> AwsError {
    AwsError::new(409, "DeleteConflict", message)
}

pub fn validation(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "ValidationError", message)
}

// Timestamps and ids.

pub fn ts(ms: i64) -> Value {
    Value::Timestamp(nephos_core::Timestamp::from_millis(ms))
}

/// An IAM unique id: a four-letter prefix (`APKA`, `ASCA`, `ACCA`, ...) and 17
/// upper-case letters and digits, as AWS's ids look.
pub fn unique_id(prefix: &str) -> String {
    format!(
        "{prefix}{}",
        nephos_core::random_alnum(17, b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    )
}

/// `path` + `name` as AWS puts them in ARNs (`/` paths add nothing).
pub fn path_name(path: &str, name: &str) -> String {
    format!("{path}{name}")
}

/// AWS's path rule beyond the model's pattern: `/` or `/.../`, with no empty segment.
pub fn check_path(path: &str) -> Result<(), AwsError> {
    let inner = path.strip_prefix('/').and_then(|p| p.strip_suffix('/'));
    match inner {
        Some("") => Ok(()),
        Some(inner) if !inner.split('/').any(str::is_empty) => Ok(()),
        _ if path == "/" => Ok(()),
        _ => Err(validation(
            "The specified value for path is invalid. It must begin and end with / and contain only alphanumeric characters and/or / characters.",
        )),
    }
}

// Tags, as every taggable IAM resource keeps them.

/// Tags in the order they were first set; keys compare without case, as IAM's do.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tags(pub Vec<(String, String)>);

pub const MAX_TAGS: usize = 50;

impl Tags {
    /// The `Tags` member of an input, checked for keys given twice.
    pub fn from_input(input: &Value) -> Result<Tags, AwsError> {
        let mut tags = Tags::default();
        tags.merge(input)?;
        Ok(tags)
    }

    /// Adds or replaces the input's `Tags`; fails when the resource would end up with
    /// more than 50.
    pub fn merge(&mut self, input: &Value) -> Result<(), AwsError> {
        let given = input_tags(input);
        for (i, (k, _)) in given.iter().enumerate() {
            if given[..i].iter().any(|(o, _)| o.eq_ignore_ascii_case(k)) {
                return Err(invalid_input(
                    "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
                ));
            }
        }
        let mut next = self.0.clone();
        for (k, v) in given {
            match next.iter_mut().find(|(o, _)| o.eq_ignore_ascii_case(&k)) {
                Some(t) => *t = (k, v),
                None => next.push((k, v)),
            }
        }
        if next.len() > MAX_TAGS {
            return Err(limit_exceeded(
                "The number of tags has reached the maximum limit.",
            ));
        }
        self.0 = next;
        Ok(())
    }

    /// Removes the input's `TagKeys`.
    pub fn remove(&mut self, input: &Value) {
        let keys: Vec<&str> = input
            .get("TagKeys")
            .and_then(Value::as_list)
            .unwrap_or_default()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        self.0
            .retain(|(k, _)| !keys.iter().any(|r| r.eq_ignore_ascii_case(k)));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn to_value(&self) -> Value {
        Value::List(
            self.0
                .iter()
                .map(|(k, v)| {
                    Value::map()
                        .with("Key", k.as_str())
                        .with("Value", v.as_str())
                })
                .collect(),
        )
    }

    /// A `List...Tags` answer, paginated by Marker and MaxItems.
    pub fn list_answer(&self, input: &Value) -> Result<Value, AwsError> {
        let items = self
            .0
            .iter()
            .enumerate()
            .map(|(i, (k, v))| {
                (
                    format!("{i:08}"),
                    Value::map()
                        .with("Key", k.as_str())
                        .with("Value", v.as_str()),
                )
            })
            .collect();
        page(items, input, "Tags")
    }
}

fn input_tags(input: &Value) -> Vec<(String, String)> {
    input
        .get("Tags")
        .and_then(Value::as_list)
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

// Pagination.

/// A page of `items` (sorted by their key) as IAM answers lists: `member` holds at most
/// `MaxItems` (default 100) from the item after `Marker`; `IsTruncated` and `Marker`
/// say where the next page starts. Markers are opaque (the next item's key, encoded).
pub fn page(items: Vec<(String, Value)>, input: &Value, member: &str) -> Result<Value, AwsError> {
    let max = input.int("MaxItems").unwrap_or(100).max(1) as usize;
    let start = match input.str("Marker") {
        Some(m) => {
            let key = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(m)
                .ok()
                .and_then(|k| String::from_utf8(k).ok())
                .ok_or_else(|| validation("Invalid Marker."))?;
            items.partition_point(|(k, _)| *k < key)
        }
        None => 0,
    };
    let mut rest = items.into_iter().skip(start);
    let chosen: Vec<Value> = rest.by_ref().take(max).map(|(_, v)| v).collect();
    let next = rest.next();
    let mut out = Value::map()
        .with(member, Value::List(chosen))
        .with("IsTruncated", next.is_some());
    if let Some((key, _)) = next {
        out.insert(
            "Marker",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key),
        );
    }
    Ok(out)
}

/// The string members of the input list `key`.
pub fn str_list(input: &Value, key: &str) -> Vec<String> {
    input
        .get(key)
        .and_then(Value::as_list)
        .unwrap_or_default()
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_resume_after_their_marker() {
        let items: Vec<(String, Value)> = (0..5)
            .map(|i| (format!("k{i}"), Value::from(i as i64)))
            .collect();
        let first = page(items.clone(), &Value::map().with("MaxItems", 2), "L").unwrap();
        assert_eq!(first.bool("IsTruncated"), Some(true));
        let marker = first.str("Marker").unwrap().to_owned();
        let second = page(
            items.clone(),
            &Value::map().with("MaxItems", 3).with("Marker", marker),
            "L",
        )
        .unwrap();
        assert_eq!(second.get("L").unwrap().as_list().unwrap().len(), 3);
        assert_eq!(second.bool("IsTruncated"), Some(false));
        assert!(second.get("Marker").is_none());
    }

    #[test]
    fn tag_keys_ignore_case() {
        let mut t = Tags::default();
        let input = |k: &str, v: &str| {
            Value::map().with("Tags", vec![Value::map().with("Key", k).with("Value", v)])
        };
        t.merge(&input("Env", "a")).unwrap();
        t.merge(&input("ENV", "b")).unwrap();
        assert_eq!(t.0, vec![("ENV".to_owned(), "b".to_owned())]);
        let dup = Value::map().with(
            "Tags",
            vec![
                Value::map().with("Key", "a").with("Value", "1"),
                Value::map().with("Key", "A").with("Value", "2"),
            ],
        );
        assert_eq!(t.merge(&dup).unwrap_err().code, "InvalidInput");
    }

    #[test]
    fn renamed_users_keep_their_resources() {
        let mut s = State::default();
        s.ssh_keys.insert(
            "K".into(),
            ssh::SshKey {
                id: "K".into(),
                user: "old".into(),
                n: vec![1],
                e: vec![3],
                fingerprint: String::new(),
                active: true,
                uploaded: 0,
            },
        );
        assert!(s.user_has_resources("old").is_some());
        let changes = s.rename_user("123456789012", "old", "new");
        assert_eq!(changes.len(), 1);
        assert!(s.user_has_resources("new").is_some() && s.user_has_resources("old").is_none());
    }

    #[test]
    fn paths_need_their_slashes() {
        assert!(check_path("/").is_ok());
        assert!(check_path("/a/b/").is_ok());
        assert!(check_path("/a//b/").is_err());
    }
}
