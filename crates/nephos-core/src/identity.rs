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
}

/// Looks up credentials by access key id. Services that issue credentials implement it;
/// the gateway asks every registered store.
pub trait CredentialStore: Send + Sync {
    fn lookup(&self, access_key_id: &str) -> Option<Credential>;
}
