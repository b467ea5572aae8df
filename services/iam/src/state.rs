//! The identities of one account: users, groups, roles, managed and inline policies,
//! access keys, instance profiles; how they are stored (one record per entity, keyed by
//! its id so renames rewrite one record) and rebuilt at start.
//!
//! Names are unique per account regardless of case, as in IAM, so every map is keyed by
//! the lower-cased name (which also gives listings their order).

use crate::store::Change;
use nephos_core::AwsError;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::RwLock;
use std::sync::atomic::AtomicU64;

/// One account's IAM entities. `core` is this crate's core entities; `extras` belongs to
/// `extras`.
#[derive(Default)]
pub struct Account {
    pub core: RwLock<Core>,
    pub extras: RwLock<crate::extras::State>,
    /// Bumped on every change to the account's core entities (policies, attachments,
    /// group membership, boundaries, tags, key status, trust policies, ...), so callers
    /// may cache what they derived from them (authorization decisions) until it moves.
    pub generation: AtomicU64,
    /// Held from a change to its durable commit, so an account's records reach storage in
    /// the order they changed in memory.
    pub(crate) writer: tokio::sync::Mutex<()>,
}

/// What kind of entity a stored record holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Kind {
    User,
    Group,
    Role,
    Policy,
    Profile,
    /// The root user's access keys (id `root`).
    RootKeys,
    /// A service-linked role deletion task (id the task id).
    SlrTask,
    /// A service-last-accessed report (id the job id).
    Job,
    /// Account facts (id `account`): when its IAM state began.
    Meta,
    /// An access key deleted from the account (id the key id), still refused when it signs.
    DeletedKey,
}

impl Kind {
    pub(crate) fn record(self) -> &'static str {
        match self {
            Kind::User => "user",
            Kind::Group => "group",
            Kind::Role => "role",
            Kind::Policy => "policy",
            Kind::Profile => "profile",
            Kind::RootKeys => "rootkeys",
            Kind::SlrTask => "slrtask",
            Kind::Job => "job",
            Kind::Meta => "meta",
            Kind::DeletedKey => "deletedkey",
        }
    }
}

/// When and where an access key (or a role) was last used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LastUsed {
    /// Unix milliseconds.
    pub at: i64,
    /// The service's signing name (`s3`); empty for roles.
    #[serde(default)]
    pub service: String,
    pub region: String,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct AccessKey {
    pub id: String,
    /// Kept to verify signatures; never logged.
    pub secret: String,
    pub active: bool,
    pub created: i64,
    #[serde(default)]
    pub last_used: Option<LastUsed>,
}

/// Written without its secret, so a debug print never leaks it.
impl std::fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKey")
            .field("id", &self.id)
            .field("active", &self.active)
            .field("created", &self.created)
            .field("last_used", &self.last_used)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub name: String,
    pub path: String,
    pub created: i64,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    #[serde(default)]
    pub boundary: Option<String>,
    /// Inline policies: name -> document as given.
    #[serde(default)]
    pub inline: BTreeMap<String, String>,
    /// Attached managed policy ARNs, in attachment order.
    #[serde(default)]
    pub attached: Vec<String>,
    /// The ids of the groups the user is in, in the order added.
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub keys: Vec<AccessKey>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Group {
    pub id: String,
    pub name: String,
    pub path: String,
    pub created: i64,
    #[serde(default)]
    pub inline: BTreeMap<String, String>,
    #[serde(default)]
    pub attached: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Role {
    pub id: String,
    pub name: String,
    pub path: String,
    pub created: i64,
    /// The trust policy as given.
    pub trust: String,
    #[serde(default)]
    pub description: Option<String>,
    pub max_session: i64,
    #[serde(default)]
    pub boundary: Option<String>,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    #[serde(default)]
    pub inline: BTreeMap<String, String>,
    #[serde(default)]
    pub attached: Vec<String>,
    #[serde(default)]
    pub last_used: Option<LastUsed>,
    /// The service principal of a service-linked role (`autoscaling.amazonaws.com`).
    #[serde(default)]
    pub linked_service: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PolicyVersion {
    pub id: String,
    pub document: String,
    pub created: i64,
}

/// A customer managed policy (AWS managed ones come from [`crate::catalog`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Policy {
    pub id: String,
    pub name: String,
    pub path: String,
    pub arn: String,
    #[serde(default)]
    pub description: Option<String>,
    pub created: i64,
    pub updated: i64,
    pub default_version: String,
    /// Oldest first.
    pub versions: Vec<PolicyVersion>,
    /// Version numbers are never reused.
    pub next_version: u32,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Profile {
    pub id: String,
    pub name: String,
    pub path: String,
    pub created: i64,
    /// Role names (at most one).
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
}

/// A DeleteServiceLinkedRole task.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SlrTask {
    pub status: String,
}

/// One service of a service-last-accessed report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServiceAccess {
    pub namespace: String,
    /// Unix milliseconds of the last authenticated use nephos saw, if any.
    #[serde(default)]
    pub last: Option<i64>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub entity: Option<String>,
    /// The entities (ARN, kind, name, id, path, last use) that used it.
    #[serde(default)]
    pub entities: Vec<EntityAccess>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EntityAccess {
    pub arn: String,
    pub kind: String,
    pub name: String,
    pub id: String,
    pub path: String,
    #[serde(default)]
    pub last: Option<i64>,
}

/// A service-last-accessed report, computed when generated (so always complete).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Job {
    pub arn: String,
    pub granularity: String,
    pub created: i64,
    pub services: Vec<ServiceAccess>,
}

/// The account's core entities and the indexes derived from them.
#[derive(Default)]
pub struct Core {
    /// The 12-digit account these entities belong to.
    pub(crate) account: String,
    /// When the account's IAM state began (the root user's CreateDate).
    pub(crate) created: Option<i64>,
    pub(crate) users: BTreeMap<String, User>,
    pub(crate) groups: BTreeMap<String, Group>,
    pub(crate) roles: BTreeMap<String, Role>,
    /// Customer managed policies by lower-cased name (unique per account).
    pub(crate) policies: BTreeMap<String, Policy>,
    pub(crate) profiles: BTreeMap<String, Profile>,
    pub(crate) root_keys: Vec<AccessKey>,
    pub(crate) slr_tasks: HashMap<String, SlrTask>,
    pub(crate) jobs: HashMap<String, Job>,
    /// Entity id -> its kind and map key.
    pub(crate) ids: HashMap<String, (Kind, String)>,
    /// Access key id -> owning user id (empty for the root user).
    pub(crate) key_owner: HashMap<String, String>,
    /// Access keys deleted from the account -> when (Unix milliseconds). Kept for good:
    /// a deleted key must be refused, not taken for an unknown key (which would act as
    /// the account's root user).
    pub(crate) deleted_keys: HashMap<String, i64>,
    /// Policy ARN -> entities it is attached to (AWS managed ones too).
    pub(crate) attachments: HashMap<String, i64>,
    /// Policy ARN -> entities it bounds.
    pub(crate) boundaries: HashMap<String, i64>,
    /// Entities whose last-used facts changed since they were last stored; written with
    /// the account's next change.
    pub(crate) unsaved_use: BTreeSet<(Kind, String)>,
}

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

/// The policies that decide what a principal may do, for the authorizer and simulator.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PrincipalPolicies {
    /// (source, document JSON): a managed policy's ARN, or `user/<name>/<policy>`,
    /// `group/<name>/<policy>`, `role/<name>/<policy>` for inline ones. A user's include
    /// its groups' inline and attached policies.
    pub identity: Vec<(String, String)>,
    /// The permissions boundary (ARN, document), if one is set and its policy exists.
    pub boundary: Option<(String, String)>,
    /// The principal's tags (`aws:PrincipalTag/*`).
    pub tags: Vec<(String, String)>,
    /// The user's name (`aws:username`); `None` for roles.
    pub user_name: Option<String>,
    /// The AIDA... or AROA... id (`aws:userid`).
    pub id: String,
}

/// A role as STS needs it to assume it.
#[derive(Debug, Clone, PartialEq)]
pub struct RoleInfo {
    pub arn: String,
    /// The stable AROA... id (`AssumedRoleId` is `<id>:<session>`).
    pub id: String,
    pub name: String,
    pub path: String,
    /// Seconds.
    pub max_session_duration: i64,
    /// The trust policy as JSON text.
    pub trust_policy: String,
    pub tags: Vec<(String, String)>,
}

/// Lower-cased map key of a name.
pub(crate) fn key(name: &str) -> String {
    name.to_lowercase()
}

/// The last `/`-separated segment of an ARN's resource (the entity's name).
pub(crate) fn arn_name(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// A user as `extras` shows it in its answers (an MFA device's `User`).
#[derive(Debug, Clone, PartialEq)]
pub struct UserFacts {
    /// The name as the user was created (or last renamed), whatever case it was asked by.
    pub name: String,
    pub id: String,
    pub path: String,
    pub arn: String,
    /// Unix milliseconds.
    pub created: i64,
}

/// What `extras` may ask of the core entities.
impl Core {
    /// Whether the account has a user of this name.
    pub fn has_user(&self, name: &str) -> bool {
        self.users.contains_key(&key(name))
    }

    /// The user's name as stored, for a name given in any case: IAM names are unique
    /// regardless of case, so `extras` keys its per-user records by this one.
    pub fn canonical_user_name(&self, name: &str) -> Option<String> {
        self.users.get(&key(name)).map(|u| u.name.clone())
    }

    /// The user's id (`AIDA...`).
    pub fn user_id(&self, name: &str) -> Option<String> {
        self.users.get(&key(name)).map(|u| u.id.clone())
    }

    /// The user's name, id, path, ARN and creation date.
    pub fn user_facts(&self, name: &str) -> Option<UserFacts> {
        self.users.get(&key(name)).map(|u| UserFacts {
            name: u.name.clone(),
            id: u.id.clone(),
            path: u.path.clone(),
            arn: self.arn("user", &u.path, &u.name),
            created: u.created,
        })
    }

    /// The user's ARN (`arn:aws:iam::<account>:user/<path><name>`), if the user exists.
    pub fn user_arn(&self, name: &str) -> Option<String> {
        self.users
            .get(&key(name))
            .map(|u| self.arn("user", &u.path, &u.name))
    }

    /// Every user, for the credential report.
    pub fn report_rows(&self) -> Vec<UserRow> {
        self.users
            .values()
            .map(|u| UserRow {
                name: u.name.clone(),
                arn: self.arn("user", &u.path, &u.name),
                created: u.created,
                password_last_used: None,
                keys: u
                    .keys
                    .iter()
                    .map(|k| KeyRow {
                        active: k.active,
                        last_rotated: k.created,
                        last_used: k.last_used.as_ref().map(|l| l.at),
                        last_used_service: k.last_used.as_ref().map(|l| l.service.clone()),
                        last_used_region: k.last_used.as_ref().map(|l| l.region.clone()),
                    })
                    .collect(),
            })
            .collect()
    }
}

impl Core {
    /// `arn:aws:iam::<account>:<kind><path><name>`.
    pub(crate) fn arn(&self, kind: &str, path: &str, name: &str) -> String {
        format!("arn:aws:iam::{}:{kind}{path}{name}", self.account)
    }

    pub(crate) fn user(&self, name: &str) -> Result<&User, AwsError> {
        self.users.get(&key(name)).ok_or_else(|| no_user(name))
    }

    pub(crate) fn user_mut(&mut self, name: &str) -> Result<&mut User, AwsError> {
        self.users.get_mut(&key(name)).ok_or_else(|| no_user(name))
    }

    pub(crate) fn group(&self, name: &str) -> Result<&Group, AwsError> {
        self.groups.get(&key(name)).ok_or_else(|| no_group(name))
    }

    pub(crate) fn group_mut(&mut self, name: &str) -> Result<&mut Group, AwsError> {
        self.groups
            .get_mut(&key(name))
            .ok_or_else(|| no_group(name))
    }

    pub(crate) fn role(&self, name: &str) -> Result<&Role, AwsError> {
        self.roles.get(&key(name)).ok_or_else(|| no_role(name))
    }

    pub(crate) fn role_mut(&mut self, name: &str) -> Result<&mut Role, AwsError> {
        self.roles.get_mut(&key(name)).ok_or_else(|| no_role(name))
    }

    pub(crate) fn profile(&self, name: &str) -> Result<&Profile, AwsError> {
        self.profiles
            .get(&key(name))
            .ok_or_else(|| no_profile(name))
    }

    pub(crate) fn profile_mut(&mut self, name: &str) -> Result<&mut Profile, AwsError> {
        self.profiles
            .get_mut(&key(name))
            .ok_or_else(|| no_profile(name))
    }

    /// The customer managed policy with this ARN.
    pub(crate) fn policy(&self, arn: &str) -> Option<&Policy> {
        self.policies
            .get(&key(arn_name(arn)))
            .filter(|p| p.arn == arn)
    }

    pub(crate) fn policy_mut(&mut self, arn: &str) -> Option<&mut Policy> {
        self.policies
            .get_mut(&key(arn_name(arn)))
            .filter(|p| p.arn == arn)
    }

    /// The user with this id.
    pub(crate) fn user_by_id(&self, id: &str) -> Option<&User> {
        match self.ids.get(id) {
            Some((Kind::User, k)) => self.users.get(k),
            _ => None,
        }
    }

    pub(crate) fn group_by_id(&self, id: &str) -> Option<&Group> {
        match self.ids.get(id) {
            Some((Kind::Group, k)) => self.groups.get(k),
            _ => None,
        }
    }

    /// The default version's document of a managed policy (customer or AWS), by ARN.
    pub(crate) fn managed_document(&self, arn: &str) -> Option<String> {
        if let Some(p) = self.policy(arn) {
            return p
                .versions
                .iter()
                .find(|v| v.id == p.default_version)
                .map(|v| v.document.clone());
        }
        crate::catalog::get(arn).map(|p| p.document.clone())
    }

    /// Whether a managed policy of this ARN exists (customer in this account, or AWS).
    pub(crate) fn managed_exists(&self, arn: &str) -> bool {
        self.policy(arn).is_some() || crate::catalog::get(arn).is_some()
    }

    pub(crate) fn count(map: &mut HashMap<String, i64>, arn: &str, by: i64) {
        let n = map.entry(arn.to_owned()).or_insert(0);
        *n += by;
        if *n <= 0 {
            map.remove(arn);
        }
    }

    /// The user an ARN names in this account, if it exists and the path matches.
    pub(crate) fn user_by_arn(&self, arn: &str) -> Option<&User> {
        let u = self.users.get(&key(arn_name(arn)))?;
        (self.arn("user", &u.path, &u.name) == arn).then_some(u)
    }

    pub(crate) fn role_by_arn(&self, arn: &str) -> Option<&Role> {
        let r = self.roles.get(&key(arn_name(arn)))?;
        (self.arn("role", &r.path, &r.name) == arn).then_some(r)
    }

    pub(crate) fn group_by_arn(&self, arn: &str) -> Option<&Group> {
        let g = self.groups.get(&key(arn_name(arn)))?;
        (self.arn("group", &g.path, &g.name) == arn).then_some(g)
    }

    /// Adds an entity's references to the derived indexes (on creation and restore).
    fn index_user(&mut self, u: &User, by: i64) {
        for a in &u.attached {
            Core::count(&mut self.attachments, a, by);
        }
        if let Some(b) = &u.boundary {
            Core::count(&mut self.boundaries, b, by);
        }
        for k in &u.keys {
            if by > 0 {
                self.key_owner.insert(k.id.clone(), u.id.clone());
            } else {
                self.key_owner.remove(&k.id);
            }
        }
    }

    /// Inserts a user and indexes it.
    pub(crate) fn insert_user(&mut self, u: User) {
        self.index_user(&u, 1);
        self.ids.insert(u.id.clone(), (Kind::User, key(&u.name)));
        self.users.insert(key(&u.name), u);
    }

    pub(crate) fn remove_user(&mut self, name: &str) -> Option<User> {
        let u = self.users.remove(&key(name))?;
        self.index_user(&u, -1);
        self.ids.remove(&u.id);
        Some(u)
    }

    pub(crate) fn insert_group(&mut self, g: Group) {
        for a in &g.attached {
            Core::count(&mut self.attachments, a, 1);
        }
        self.ids.insert(g.id.clone(), (Kind::Group, key(&g.name)));
        self.groups.insert(key(&g.name), g);
    }

    pub(crate) fn remove_group(&mut self, name: &str) -> Option<Group> {
        let g = self.groups.remove(&key(name))?;
        for a in &g.attached {
            Core::count(&mut self.attachments, a, -1);
        }
        self.ids.remove(&g.id);
        Some(g)
    }

    pub(crate) fn insert_role(&mut self, r: Role) {
        for a in &r.attached {
            Core::count(&mut self.attachments, a, 1);
        }
        if let Some(b) = &r.boundary {
            Core::count(&mut self.boundaries, b, 1);
        }
        self.ids.insert(r.id.clone(), (Kind::Role, key(&r.name)));
        self.roles.insert(key(&r.name), r);
    }

    pub(crate) fn remove_role(&mut self, name: &str) -> Option<Role> {
        let r = self.roles.remove(&key(name))?;
        for a in &r.attached {
            Core::count(&mut self.attachments, a, -1);
        }
        if let Some(b) = &r.boundary {
            Core::count(&mut self.boundaries, b, -1);
        }
        self.ids.remove(&r.id);
        Some(r)
    }

    pub(crate) fn insert_policy(&mut self, p: Policy) {
        self.ids.insert(p.id.clone(), (Kind::Policy, key(&p.name)));
        self.policies.insert(key(&p.name), p);
    }

    pub(crate) fn insert_profile(&mut self, p: Profile) {
        self.ids.insert(p.id.clone(), (Kind::Profile, key(&p.name)));
        self.profiles.insert(key(&p.name), p);
    }

    /// The stored form of the entity with this id, or `None` when it no longer exists.
    fn record(&self, kind: Kind, id: &str) -> Option<serde_json::Value> {
        let found = self.ids.get(id).map(|(_, k)| k.as_str());
        let json = |v: Result<serde_json::Value, serde_json::Error>| v.ok();
        match kind {
            Kind::User => json(serde_json::to_value(self.users.get(found?)?)),
            Kind::Group => json(serde_json::to_value(self.groups.get(found?)?)),
            Kind::Role => json(serde_json::to_value(self.roles.get(found?)?)),
            Kind::Policy => json(serde_json::to_value(self.policies.get(found?)?)),
            Kind::Profile => json(serde_json::to_value(self.profiles.get(found?)?)),
            Kind::RootKeys => json(serde_json::to_value(&self.root_keys)),
            Kind::SlrTask => json(serde_json::to_value(self.slr_tasks.get(id)?)),
            Kind::Job => json(serde_json::to_value(self.jobs.get(id)?)),
            Kind::Meta => Some(serde_json::json!({ "created": self.created? })),
            Kind::DeletedKey => Some(serde_json::json!({ "deleted": self.deleted_keys.get(id)? })),
        }
    }
}

/// One request's changes to an account: handlers change `core` and name what they
/// touched; [`Tx::finish`] turns that into the records to commit.
pub(crate) struct Tx<'a> {
    pub core: &'a mut Core,
    /// The request's time, in whole seconds (as IAM reports dates), as Unix milliseconds.
    pub now: i64,
    touched: BTreeSet<(Kind, String)>,
    pub(crate) keys_added: Vec<String>,
    /// Records of `extras` changed in the same request (a rename's), committed with the
    /// core's.
    pub(crate) extras_changes: Vec<Change>,
}

impl<'a> Tx<'a> {
    pub(crate) fn new(core: &'a mut Core, now_ms: i64) -> Tx<'a> {
        Tx {
            core,
            now: now_ms - now_ms.rem_euclid(1000),
            touched: BTreeSet::new(),
            keys_added: Vec::new(),
            extras_changes: Vec::new(),
        }
    }

    /// Marks an entity (by id) as changed, created or deleted.
    pub(crate) fn touch(&mut self, kind: Kind, id: &str) {
        self.touched.insert((kind, id.to_owned()));
    }

    /// The records to commit: each touched entity as it now is, or its deletion, plus any
    /// last-used facts not stored yet.
    pub(crate) fn finish(mut self, account: &str) -> Vec<Change> {
        if self.touched.is_empty() {
            return std::mem::take(&mut self.extras_changes);
        }
        if self.core.created.is_none() {
            self.core.created = Some(self.now);
            self.touched.insert((Kind::Meta, "account".to_owned()));
        }
        let unsaved = std::mem::take(&mut self.core.unsaved_use);
        self.touched.extend(unsaved);
        let mut changes: Vec<Change> = self
            .touched
            .iter()
            .map(|(kind, id)| match self.core.record(*kind, id) {
                Some(v) => Change::put(account, kind.record(), id, &v),
                None => Change::delete(account, kind.record(), id),
            })
            .collect();
        changes.append(&mut self.extras_changes);
        changes
    }
}

impl Account {
    /// Puts back one stored record at start.
    pub fn restore(&self, kind: &str, id: &str, value: serde_json::Value) -> Result<(), String> {
        if crate::extras::restore(self, kind, id, &value)? {
            return Ok(());
        }
        let mut c = self.core.write().unwrap();
        let e = |e: serde_json::Error| format!("iam record {kind}/{id}: {e}");
        match kind {
            "user" => c.insert_user(serde_json::from_value(value).map_err(e)?),
            "group" => c.insert_group(serde_json::from_value(value).map_err(e)?),
            "role" => c.insert_role(serde_json::from_value(value).map_err(e)?),
            "policy" => c.insert_policy(serde_json::from_value(value).map_err(e)?),
            "profile" => c.insert_profile(serde_json::from_value(value).map_err(e)?),
            "rootkeys" => {
                let keys: Vec<AccessKey> = serde_json::from_value(value).map_err(e)?;
                for k in &keys {
                    c.key_owner.insert(k.id.clone(), String::new());
                }
                c.root_keys = keys;
            }
            "slrtask" => {
                let t = serde_json::from_value(value).map_err(e)?;
                c.slr_tasks.insert(id.to_owned(), t);
            }
            "job" => {
                let j = serde_json::from_value(value).map_err(e)?;
                c.jobs.insert(id.to_owned(), j);
            }
            "meta" => c.created = value.get("created").and_then(serde_json::Value::as_i64),
            "deletedkey" => {
                let at = value.get("deleted").and_then(serde_json::Value::as_i64);
                c.deleted_keys.insert(id.to_owned(), at.unwrap_or_default());
            }
            other => tracing::warn!(kind = other, "unknown iam record kind ignored"),
        }
        Ok(())
    }
}

pub(crate) fn no_user(name: &str) -> AwsError {
    crate::util::no_such(format!("The user with name {name} cannot be found."))
}

pub(crate) fn no_group(name: &str) -> AwsError {
    crate::util::no_such(format!("The group with name {name} cannot be found."))
}

pub(crate) fn no_role(name: &str) -> AwsError {
    crate::util::no_such(format!("The role with name {name} cannot be found."))
}

pub(crate) fn no_profile(name: &str) -> AwsError {
    crate::util::no_such(format!("Instance Profile {name} cannot be found."))
}
