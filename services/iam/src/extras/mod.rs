//! The account's identity resources besides users, groups, roles and policies.

use crate::IamProvider;
use nephos_core::{AwsError, RequestContext, Value};

/// The operations this module answers.
pub const OPS: &[&str] = &[];

/// This module's share of an account's state.
#[derive(Default)]
pub struct State {}

/// What the core entities may ask of this module.
impl State {
    /// Whether the user still has resources that block DeleteUser (a login profile, MFA
    /// devices, SSH keys, signing certificates, service-specific credentials).
    pub fn user_has_resources(&self, user: &str) -> bool {
        let _ = user;
        false
    }

    /// This module's counts for GetAccountSummary (`MFADevices`, `Providers`,
    /// `ServerCertificates`, `AccountMFAEnabled`, ...).
    pub fn summary_counts(&self) -> Vec<(&'static str, i64)> {
        Vec::new()
    }
}

/// Puts back a stored record of a kind this module owns; `Ok(false)` for other kinds.
pub fn restore(
    _account: &crate::state::Account,
    _kind: &str,
    _id: &str,
    _value: &serde_json::Value,
) -> Result<bool, String> {
    Ok(false)
}

pub async fn handle(
    _p: &IamProvider,
    _ctx: &RequestContext,
    op: &str,
    _input: &Value,
) -> Result<Value, AwsError> {
    Err(AwsError::not_implemented("iam", op))
}
