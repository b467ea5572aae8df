//! The identities of one account: users, groups, roles, managed and inline policies,
//! access keys, instance profiles.

use crate::IamProvider;
use nephos_core::{AwsError, RequestContext, Value};
use std::sync::RwLock;

/// The operations this module answers.
pub const OPS: &[&str] = &[];

/// One account's IAM entities. `core` is this module's; `extras` belongs to `extras`.
#[derive(Default)]
pub struct Account {
    pub core: RwLock<Core>,
    pub extras: RwLock<crate::extras::State>,
}

#[derive(Default)]
pub struct Core {}

impl Account {
    /// Puts back one stored record at start.
    pub fn restore(&self, kind: &str, id: &str, value: serde_json::Value) -> Result<(), String> {
        if crate::extras::restore(self, kind, id, &value)? {
            return Ok(());
        }
        let _ = (kind, id, value);
        Ok(())
    }
}

pub async fn handle(
    _p: &IamProvider,
    _ctx: &RequestContext,
    op: &str,
    _input: &Value,
) -> Result<Value, AwsError> {
    Err(AwsError::not_implemented("iam", op))
}
