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

/// A user as the credential report lists it (`extras` builds the report from these).
#[derive(Debug, Clone, Default)]
pub struct UserRow {
    pub name: String,
    pub arn: String,
    /// Unix milliseconds.
    pub created: i64,
    pub password_last_used: Option<i64>,
    pub keys: Vec<KeyRow>,
}

/// One access key of a [`UserRow`].
#[derive(Debug, Clone, Default)]
pub struct KeyRow {
    pub active: bool,
    /// Unix milliseconds of creation.
    pub last_rotated: i64,
    pub last_used: Option<i64>,
    pub last_used_service: Option<String>,
    pub last_used_region: Option<String>,
}

/// What `extras` may ask of the core entities.
impl Core {
    /// Whether the account has a user of this name.
    pub fn has_user(&self, name: &str) -> bool {
        let _ = name;
        false
    }

    /// The user's ARN (`arn:aws:iam::<account>:user/<path><name>`), if the user exists.
    pub fn user_arn(&self, name: &str) -> Option<String> {
        let _ = name;
        None
    }

    /// Every user, for the credential report.
    pub fn report_rows(&self) -> Vec<UserRow> {
        Vec::new()
    }
}

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
