//! The account's identity resources besides users, groups, roles and policies.

use crate::IamProvider;
use nephos_core::{AwsError, RequestContext, Value};

/// The operations this module answers.
pub const OPS: &[&str] = &[];

/// This module's share of an account's state.
#[derive(Default)]
pub struct State {}

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
