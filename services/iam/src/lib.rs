//! AWS Identity and Access Management (IAM): users, groups, roles, managed and inline
//! policies, access keys, instance profiles and the account's other identity resources,
//! global per account.
//!
//! - [`state`]: the account's entities in memory, written through to storage
//!   ([`store`]) before a request is acknowledged and rebuilt from it at start;
//! - handler modules, each listing the operations it answers (`OPS`): `users`, `groups`,
//!   `roles`, `policies` (managed policies and versions), `attach` (managed policies on
//!   users, groups, roles), `inline`, `keys`, `profiles`, `tags`, `slr` (service-linked
//!   roles), `account` (summary, authorization details, last-accessed reports);
//! - `extras`: login profiles, password policy, MFA devices, identity providers,
//!   certificates, SSH keys, service-specific credentials, aliases, credential report;
//! - access keys created here sign requests as their user ([`CredentialStore`]); the
//!   authorizer and STS read principals through [`IamProvider::principal_policies`] and
//!   [`IamProvider::role_of`].

mod account;
pub mod actions;
mod attach;
pub mod catalog;
mod enforce;
mod extras;
mod groups;
mod inline;
mod keys;
mod policies;
mod profiles;
mod roles;
mod simulate;
mod slr;
pub mod state;
mod store;
mod tags;
mod users;
mod util;
pub mod validate;

pub use state::{PrincipalPolicies, RoleInfo};

use nephos_core::{
    AwsError, BoxFuture, Credential, CredentialStore, Dispatcher, Input, Output, Provider,
    RequestContext, Scoped, Value,
};
use nephos_storage::Storage;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, LazyLock, RwLock};

/// The operations of the core entities' handler modules.
const MODULE_OPS: &[&[&str]] = &[
    users::OPS,
    groups::OPS,
    roles::OPS,
    policies::OPS,
    attach::OPS,
    inline::OPS,
    keys::OPS,
    profiles::OPS,
    tags::OPS,
    slr::OPS,
    account::OPS,
    simulate::OPS,
];

/// The operations of every handler module, in one list (what `operations()` answers).
static OPERATIONS: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    let mut ops: Vec<&'static str> = MODULE_OPS.concat();
    ops.extend_from_slice(extras::OPS);
    ops.sort_unstable();
    ops
});

pub struct IamProvider {
    pub(crate) accounts: Scoped<state::Account>,
    pub(crate) store: store::Store,
    /// Access key id -> account, so a signing key is found without visiting accounts:
    /// the accounts' keys and the keys they deleted (which are refused).
    pub(crate) key_index: RwLock<HashMap<String, String>>,
    #[allow(dead_code)]
    pub(crate) dispatcher: Dispatcher,
    /// The authorizer's caches and decision log (`--enforce-iam`).
    pub(crate) enforcer: enforce::Enforcer,
}

/// Who signed a request, as IAM operations that default to the caller see it.
pub(crate) enum Caller {
    Root,
    /// An IAM user of the account (by name).
    User(String),
    /// A role session or federated user: not a user.
    Other,
}

impl IamProvider {
    /// Opens the provider, reloading every account's entities stored before a restart.
    pub fn new(storage: Storage, dispatcher: Dispatcher) -> Result<IamProvider, String> {
        let accounts = Scoped::global();
        let store = store::Store::new(storage);
        for (account, kind, id, value) in store.load()? {
            let acct: Arc<state::Account> = accounts.get_for(&account, "");
            acct.core.write().unwrap().account = account.clone();
            acct.restore(&kind, &id, value)?;
        }
        let mut key_index = HashMap::new();
        for ((account, _), acct) in accounts.all() {
            let c = acct.core.read().unwrap();
            for k in c.key_owner.keys().chain(c.deleted_keys.keys()) {
                key_index.insert(k.clone(), account.clone());
            }
        }
        Ok(IamProvider {
            accounts,
            store,
            key_index: RwLock::new(key_index),
            dispatcher,
            enforcer: enforce::Enforcer::default(),
        })
    }

    pub(crate) fn account(&self, ctx: &RequestContext) -> Arc<state::Account> {
        self.account_of(&ctx.account_id)
    }

    pub(crate) fn account_of(&self, account: &str) -> Arc<state::Account> {
        let acct = self.accounts.get_for(account, "");
        if acct.core.read().unwrap().account.is_empty() {
            acct.core.write().unwrap().account = account.to_owned();
        }
        acct
    }

    /// Runs one request's change to the caller's account and commits the records it
    /// touched before returning: the account's writer turn is held until the commit is
    /// durable, so records reach storage in the order they changed.
    pub(crate) async fn write<T>(
        &self,
        ctx: &RequestContext,
        f: impl FnOnce(&mut state::Tx) -> Result<T, AwsError>,
    ) -> Result<T, AwsError> {
        self.write_inner(ctx, false, |tx, _| f(tx)).await
    }

    /// [`Self::write`] for a change that reads or moves the extras' per-user resources
    /// too (DeleteUser, a user's rename): both are locked for the change, the extras
    /// first (the order every handler keeps), and their records (`Tx::extras_changes`)
    /// committed together.
    pub(crate) async fn write_with_extras<T>(
        &self,
        ctx: &RequestContext,
        f: impl FnOnce(&mut state::Tx, &mut extras::State) -> Result<T, AwsError>,
    ) -> Result<T, AwsError> {
        self.write_inner(ctx, true, |tx, extras| {
            f(tx, extras.expect("the extras are locked"))
        })
        .await
    }

    async fn write_inner<T>(
        &self,
        ctx: &RequestContext,
        with_extras: bool,
        f: impl FnOnce(&mut state::Tx, Option<&mut extras::State>) -> Result<T, AwsError>,
    ) -> Result<T, AwsError> {
        let acct = self.account(ctx);
        let _turn = acct.writer.lock().await;
        let (out, changes, added) = {
            let mut extras = with_extras.then(|| acct.extras.write().unwrap());
            let mut core = acct.core.write().unwrap();
            let mut tx = state::Tx::new(&mut core, ctx.clock.now_millis());
            let out = f(&mut tx, extras.as_deref_mut())?;
            let added = std::mem::take(&mut tx.keys_added);
            (out, tx.finish(&ctx.account_id), added)
        };
        if !added.is_empty() {
            let mut index = self.key_index.write().unwrap();
            for k in added {
                index.insert(k, ctx.account_id.clone());
            }
        }
        if !changes.is_empty() {
            acct.generation.fetch_add(1, Ordering::AcqRel);
            self.store.commit(changes).await?;
        }
        Ok(out)
    }

    /// The principal behind the request, for operations whose user defaults to the
    /// caller.
    pub(crate) fn caller(ctx: &RequestContext) -> Caller {
        let arn = ctx.caller_arn.as_str();
        if arn.ends_with(":root") || arn.is_empty() {
            return Caller::Root;
        }
        match arn.split_once(":user/") {
            Some((head, _)) if head.starts_with("arn:") && head.contains(":iam:") => {
                Caller::User(state::arn_name(arn).to_owned())
            }
            _ => Caller::Other,
        }
    }

    /// Notes that a request signed with an access key reached `service` in `region` (the
    /// gateway calls it per request). Stored with the account's next change, not per
    /// request.
    pub fn note_key_use(&self, key_id: &str, service: &str, region: &str, now_ms: i64) {
        let Some(account) = self.key_index.read().unwrap().get(key_id).cloned() else {
            return;
        };
        let acct = self.account_of(&account);
        let fresh = |l: &Option<state::LastUsed>| {
            l.as_ref().is_some_and(|l| {
                l.service == service && l.region == region && (now_ms - l.at).abs() < 1_000
            })
        };
        {
            let c = acct.core.read().unwrap();
            if fresh(&keys::find_key(&c, key_id).and_then(|k| k.last_used.clone())) {
                return;
            }
        }
        let mut c = acct.core.write().unwrap();
        let used = Some(state::LastUsed {
            at: now_ms,
            service: service.to_owned(),
            region: region.to_owned(),
        });
        // A deleted key (still indexed, to be refused) has no owner and no use to note.
        let Some(owner) = c.key_owner.get(key_id).cloned() else {
            return;
        };
        if owner.is_empty() {
            if let Some(k) = c.root_keys.iter_mut().find(|k| k.id == key_id) {
                k.last_used = used;
                c.unsaved_use
                    .insert((state::Kind::RootKeys, "root".to_owned()));
            }
        } else if let Some((state::Kind::User, name)) = c.ids.get(&owner).cloned()
            && let Some(k) = c
                .users
                .get_mut(&name)
                .and_then(|u| u.keys.iter_mut().find(|k| k.id == key_id))
        {
            k.last_used = used;
            c.unsaved_use.insert((state::Kind::User, owner));
        }
    }

    /// Notes that a role was assumed (`RoleLastUsed`), for STS.
    pub fn note_role_use(&self, role_arn: &str, region: &str, now_ms: i64) {
        let Some(account) = role_arn.split(':').nth(4) else {
            return;
        };
        let acct = self.account_of(account);
        let mut c = acct.core.write().unwrap();
        let Some(id) = c.role_by_arn(role_arn).map(|r| r.id.clone()) else {
            return;
        };
        if let Some(r) = c.roles.get_mut(&state::key(state::arn_name(role_arn))) {
            r.last_used = Some(state::LastUsed {
                at: now_ms,
                service: String::new(),
                region: region.to_owned(),
            });
        }
        c.unsaved_use.insert((state::Kind::Role, id));
    }

    /// The role with this ARN in `account`, as STS needs it to assume it.
    pub fn role_of(&self, account: &str, role_arn: &str) -> Option<RoleInfo> {
        let acct = self.account_of(account);
        let c = acct.core.read().unwrap();
        let r = c.role_by_arn(role_arn)?;
        Some(RoleInfo {
            arn: role_arn.to_owned(),
            id: r.id.clone(),
            name: r.name.clone(),
            path: r.path.clone(),
            max_session_duration: r.max_session,
            trust_policy: r.trust.clone(),
            tags: r.tags.clone(),
        })
    }

    /// The policies of a user or role ARN (`arn:aws:iam::<account>:user/...` or
    /// `:role/...`), for the authorizer and the simulator: inline and attached policies,
    /// a user's groups' too; AWS managed ones' documents from the catalogue.
    pub fn principal_policies(&self, principal_arn: &str) -> Option<PrincipalPolicies> {
        let account = principal_arn.split(':').nth(4)?;
        let acct = self.account_of(account);
        let c = acct.core.read().unwrap();
        let mut out = PrincipalPolicies::default();
        let attached = |out: &mut PrincipalPolicies, arns: &[String]| {
            for a in arns {
                if let Some(doc) = c.managed_document(a) {
                    out.identity.push((a.clone(), doc));
                }
            }
        };
        let boundary = |b: &Option<String>| {
            b.as_ref()
                .and_then(|a| c.managed_document(a).map(|d| (a.clone(), d)))
        };
        if let Some(u) = c.user_by_arn(principal_arn) {
            for (n, d) in &u.inline {
                out.identity
                    .push((format!("user/{}/{n}", u.name), d.clone()));
            }
            attached(&mut out, &u.attached);
            for g in u.groups.iter().filter_map(|id| c.group_by_id(id)) {
                for (n, d) in &g.inline {
                    out.identity
                        .push((format!("group/{}/{n}", g.name), d.clone()));
                }
                attached(&mut out, &g.attached);
            }
            out.boundary = boundary(&u.boundary);
            out.tags = u.tags.clone();
            out.user_name = Some(u.name.clone());
            out.id = u.id.clone();
            return Some(out);
        }
        let r = c.role_by_arn(principal_arn)?;
        for (n, d) in &r.inline {
            out.identity
                .push((format!("role/{}/{n}", r.name), d.clone()));
        }
        attached(&mut out, &r.attached);
        out.boundary = boundary(&r.boundary);
        out.tags = r.tags.clone();
        out.id = r.id.clone();
        Some(out)
    }

    /// The generation of `account`'s entities (see [`state::Account::generation`]).
    pub fn generation(&self, account: &str) -> u64 {
        self.account_of(account).generation.load(Ordering::Acquire)
    }
}

impl CredentialStore for IamProvider {
    /// An active access key created by IAM, as the credential of its user (or of the
    /// account's root user); inactive and deleted keys are [`Self::revoked`].
    fn lookup(&self, access_key_id: &str) -> Option<Credential> {
        let account = self.key_index.read().unwrap().get(access_key_id).cloned()?;
        let acct = self.accounts.get_for(&account, "");
        let c = acct.core.read().unwrap();
        let owner = c.key_owner.get(access_key_id)?;
        let (key, principal_arn, user_id) = if owner.is_empty() {
            let k = c.root_keys.iter().find(|k| k.id == access_key_id)?;
            (k, format!("arn:aws:iam::{account}:root"), account.clone())
        } else {
            let u = c.user_by_id(owner)?;
            let k = u.keys.iter().find(|k| k.id == access_key_id)?;
            (k, c.arn("user", &u.path, &u.name), u.id.clone())
        };
        if !key.active {
            return None;
        }
        Some(Credential {
            access_key_id: key.id.clone(),
            secret_access_key: key.secret.clone(),
            session_token: None,
            account_id: account.clone(),
            principal_arn,
            user_id,
            expires_at_ms: None,
            session: None,
        })
    }

    fn verify_mfa(&self, code: &nephos_core::MfaCode<'_>) -> Option<bool> {
        extras::verify_mfa(&self.account_of(code.account), code)
    }

    /// An access key IAM made inactive or deleted: the gateway refuses it, where an
    /// unknown key would act as the root user of the account it names.
    fn revoked(&self, access_key_id: &str) -> bool {
        let Some(account) = self.key_index.read().unwrap().get(access_key_id).cloned() else {
            return false;
        };
        let acct = self.accounts.get_for(&account, "");
        let c = acct.core.read().unwrap();
        c.deleted_keys.contains_key(access_key_id)
            || keys::find_key(&c, access_key_id).is_some_and(|k| !k.active)
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
            let value: Value = if users::OPS.contains(&op) {
                users::handle(self, ctx, op, i).await?
            } else if groups::OPS.contains(&op) {
                groups::handle(self, ctx, op, i).await?
            } else if roles::OPS.contains(&op) {
                roles::handle(self, ctx, op, i).await?
            } else if policies::OPS.contains(&op) {
                policies::handle(self, ctx, op, i).await?
            } else if attach::OPS.contains(&op) {
                attach::handle(self, ctx, op, i).await?
            } else if inline::OPS.contains(&op) {
                inline::handle(self, ctx, op, i).await?
            } else if keys::OPS.contains(&op) {
                keys::handle(self, ctx, op, i).await?
            } else if profiles::OPS.contains(&op) {
                profiles::handle(self, ctx, op, i).await?
            } else if tags::OPS.contains(&op) {
                tags::handle(self, ctx, op, i).await?
            } else if slr::OPS.contains(&op) {
                slr::handle(self, ctx, op, i).await?
            } else if account::OPS.contains(&op) {
                account::handle(self, ctx, op, i).await?
            } else if simulate::OPS.contains(&op) {
                simulate::handle(self, ctx, op, i).await?
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
        self.key_index.write().unwrap().clear();
        self.enforcer.clear();
    }

    fn internal(&self, method: &str, path: &str, _body: &[u8]) -> Option<(u16, String, Vec<u8>)> {
        match (method, path) {
            ("GET", "decisions") => Some((200, "application/json".to_owned(), self.decisions())),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;
