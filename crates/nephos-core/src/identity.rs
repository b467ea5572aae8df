//! Credentials nephos has issued, and how the gateway finds who a key belongs to.

use serde::{Deserialize, Serialize};

/// A set of credentials nephos knows: issued by STS (temporary) or IAM (long-term).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Credential {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
    pub account_id: String,
    /// The principal the credentials act as (`arn:aws:iam::123456789012:root`).
    pub principal_arn: String,
    /// What GetCallerIdentity reports as `UserId`.
    pub user_id: String,
    /// Unix milliseconds after which the credentials no longer work.
    pub expires_at_ms: Option<i64>,
    /// What a temporary session carries besides its principal; `None` for long-term keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<Session>,
}

/// The policy-relevant facts of a temporary session (STS AssumeRole*, GetSessionToken,
/// GetFederationToken), which the authorizer evaluates with the principal's own policies.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Session {
    /// Whose policies the session acts with: the role an assumed-role session is of, or
    /// the user a federated or GetSessionToken session came from.
    #[serde(default)]
    pub source_arn: Option<String>,
    /// Session policy documents (the `Policy` parameter), which bound the session.
    #[serde(default)]
    pub policies: Vec<String>,
    /// Managed policies passed as session policies (`PolicyArns`).
    #[serde(default)]
    pub policy_arns: Vec<String>,
    /// Session tags (`aws:PrincipalTag/*`), with those marked transitive.
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    #[serde(default)]
    pub transitive_tag_keys: Vec<String>,
    #[serde(default)]
    pub source_identity: Option<String>,
    /// Authenticated with MFA (`aws:MultiFactorAuthPresent`).
    #[serde(default)]
    pub mfa: bool,
    /// Assumed with other role-session credentials (role chaining caps it at one hour).
    #[serde(default)]
    pub chained: bool,
}

/// Looks up credentials by access key id. Services that issue credentials implement it;
/// the gateway asks every registered store.
pub trait CredentialStore: Send + Sync {
    fn lookup(&self, access_key_id: &str) -> Option<Credential>;

    /// Whether the key was issued here and no longer works (an IAM access key made
    /// inactive or deleted): such a key is refused rather than taken for its account's
    /// root, as an unknown key would be.
    fn revoked(&self, access_key_id: &str) -> bool {
        let _ = access_key_id;
        false
    }

    /// Whether an MFA code is right; `None` when this store keeps no such device for
    /// that user. STS asks it for `SerialNumber`/`TokenCode`.
    fn verify_mfa(&self, code: &MfaCode<'_>) -> Option<bool> {
        let _ = code;
        None
    }
}

/// A one-time code offered for the MFA device `serial` of `user` in `account`, at
/// `now_ms` on nephos's clock (STS's `SerialNumber` and `TokenCode`).
#[derive(Debug, Clone, Copy)]
pub struct MfaCode<'a> {
    pub account: &'a str,
    pub user: &'a str,
    pub serial: &'a str,
    pub code: &'a str,
    pub now_ms: i64,
}
