//! AWS Identity and Access Management (IAM): users, groups, roles, managed and inline
//! policies, access keys, instance profiles and the account's other identity resources,
//! global per account.
//!
//! - [`state`]: the account's entities in memory, written through to storage
//!   ([`store`]) before a request is acknowledged and rebuilt from it at start;
//! - `extras`: login profiles, password policy, MFA devices, identity providers,
//!   certificates, SSH keys, service-specific credentials, aliases, credential report;
//! - access keys created here sign requests as their user ([`CredentialStore`]).
//!
//! Each handler module lists the operations it answers (`OPS`) and routes them in its
//! `handle`; [`IamProvider::handle`] picks the module.

pub mod actions;
pub mod catalog;
mod extras;
pub mod state;
mod store;

use nephos_core::{
    AwsError, BoxFuture, Credential, CredentialStore, Dispatcher, Input, Output, Provider,
    RequestContext, Scoped, Value,
};
use nephos_storage::Storage;
use std::sync::LazyLock;

/// The operations of every handler module, in one list (what `operations()` answers).
static OPERATIONS: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    let mut ops: Vec<&'static str> = [state::OPS, extras::OPS].concat();
    ops.sort_unstable();
    ops
});

pub struct IamProvider {
    pub(crate) accounts: Scoped<state::Account>,
    pub(crate) store: store::Store,
    #[allow(dead_code)]
    pub(crate) dispatcher: Dispatcher,
}

impl IamProvider {
    /// Opens the provider, reloading every account's entities stored before a restart.
    pub fn new(storage: Storage, dispatcher: Dispatcher) -> Result<IamProvider, String> {
        let accounts = Scoped::global();
        let store = store::Store::new(storage);
        for (account, kind, id, value) in store.load()? {
            let acct = accounts.get_for(&account, "");
            state::Account::restore(&acct, &kind, &id, value)?;
        }
        Ok(IamProvider {
            accounts,
            store,
            dispatcher,
        })
    }

    pub(crate) fn account(&self, ctx: &RequestContext) -> std::sync::Arc<state::Account> {
        self.accounts.get_for(&ctx.account_id, "")
    }
}

impl CredentialStore for IamProvider {
    fn lookup(&self, _access_key_id: &str) -> Option<Credential> {
        None
    }
}

impl Provider for IamProvider {
    fn service(&self) -> &'static str {
        "iam"
    }

    fn operations(&self) -> &'static [&'static str] {
        OPERATIONS.as_slice()
    }

    fn handle<'a>(
        &'a self,
        ctx: &'a RequestContext,
        input: Input,
    ) -> BoxFuture<'a, Result<Output, AwsError>> {
        Box::pin(async move {
            let op = ctx.operation.as_str();
            let i = &input.value;
            let value: Value = if state::OPS.contains(&op) {
                state::handle(self, ctx, op, i).await?
            } else if extras::OPS.contains(&op) {
                extras::handle(self, ctx, op, i).await?
            } else {
                return Err(AwsError::not_implemented("iam", op));
            };
            Ok(Output::new(value))
        })
    }

    fn reset(&self) {
        self.accounts.clear();
    }
}
