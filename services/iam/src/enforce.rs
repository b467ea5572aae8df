//! The authorizer under `--enforce-iam`: every request an IAM identity signs (an IAM
//! user's access key, a role session, a federated user) is decided by the policy engine
//! before its handler runs, from the caller's identity policies, permissions boundary
//! and session policies, and the resource's policy.
//!
//! The request path pays for a decision, not for parsing: a principal's documents are
//! compiled once and kept until its account's entities change (the account's
//! generation), session policies once per session, resource policies once per text.
//! Where no document involved reads the request's context (no condition, no policy
//! variable), the decision itself depends only on who asks, the action, the resource,
//! the principal's account state and the resource's owner and policy: it is kept per
//! (access key, region, operation, action, resource) and reused while those stay as
//! they were, so a repeated request costs a map lookup. Such callers' requests are also
//! mapped to actions without their condition keys ([`actions::actions_and_resources`]),
//! and the mappings of the operations a workload repeats most are kept by the members
//! they read ([`mapping_key`]). Measured with callgrind (whole process, an IAM user
//! allowed by a one-statement policy, 2026-12-07): GetItem 64.0k instructions per
//! request without `--enforce-iam`, 69.8k with it; GetObject 77.1k / 84.5k;
//! SendMessage 77.2k / 82.5k.
//!
//! Beside what the action table says, an operation that hands a role to a service
//! (Lambda's `Role`, S3 replication, SNS feedback roles, Logs subscription filters) is
//! also `iam:PassRole` on that role, with `iam:PassedToService`.
//!
//! Each decision is appended to a bounded log served at `/_nephos/iam/decisions`, so a
//! user can see which statements let a request in or why it was denied.

use crate::IamProvider;
use crate::actions::fasthash::FastMap;
use crate::actions::{self, Authorization, Lookup};
use crate::state::Account;
use nephos_core::{AwsError, Credential, FactsLookup, RequestContext, ResourceFacts, Value};
use nephos_policy::{
    Context, DenyReason, Document, Evaluation, PolicyKind, PolicySet, Principal, Request, Verdict,
};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};

/// How many decisions the log keeps.
const LOG_LEN: usize = 1000;
/// Bounds of the caches (principals, sessions, resource policies, decisions); past them
/// a cache starts over.
const CACHE_LEN: usize = 4096;
const DECISIONS_LEN: usize = 16_384;
/// IAM's last-used record of a key is written at most this often per key, operation and
/// resource when decisions come from the cache (IAM itself keeps one per second).
const NOTE_EVERY_MS: i64 = 1000;

/// A moment of an account's IAM state: the account object (a reset replaces it) and its
/// generation.
#[derive(Clone)]
struct Stamp {
    account: Weak<Account>,
    generation: u64,
}

impl Stamp {
    fn of(account: &Arc<Account>) -> Stamp {
        Stamp {
            account: Arc::downgrade(account),
            generation: account.generation.load(Ordering::Acquire),
        }
    }

    fn is(&self, other: &Stamp) -> bool {
        self.generation == other.generation && Weak::ptr_eq(&self.account, &other.account)
    }
}

/// The compiled policies of one user or role.
struct Compiled {
    stamp: Stamp,
    identity: Vec<(String, Document)>,
    boundary: Option<(String, Document)>,
    tags: Vec<(String, String)>,
    user_name: Option<String>,
    id: String,
    /// No document reads the request's context.
    plain: bool,
}

/// One session's compiled session policies.
struct SessionDocs {
    stamp: Stamp,
    docs: Vec<(String, Document)>,
    plain: bool,
}

/// A resource policy, compiled.
struct ResourceDoc {
    doc: Document,
    plain: bool,
}

/// A decision kept for reuse, with what it was made from.
struct Cached {
    stamp: Stamp,
    owner: Option<String>,
    policy: Option<String>,
    decided: Arc<Decided>,
    /// When IAM last heard of this key's use through this entry (ms).
    noted_ms: AtomicI64,
}

#[derive(Default)]
pub struct Enforcer {
    principals: RwLock<FastMap<Arc<Compiled>>>,
    sessions: RwLock<FastMap<Arc<SessionDocs>>>,
    resources: RwLock<FastMap<Arc<ResourceDoc>>>,
    decisions: RwLock<FastMap<Arc<Cached>>>,
    /// Lean mappings of the hottest operations ([`mapping_key`]).
    mappings: RwLock<FastMap<Arc<Vec<Authorization>>>>,
    log: Mutex<VecDeque<Entry>>,
}

impl Enforcer {
    /// Forgets everything kept (a reset of nephos's state): nothing decided for the old
    /// state may answer for the new.
    pub(crate) fn clear(&self) {
        self.principals.write().unwrap().clear();
        self.sessions.write().unwrap().clear();
        self.resources.write().unwrap().clear();
        self.decisions.write().unwrap().clear();
        self.mappings.write().unwrap().clear();
        self.log.lock().unwrap().clear();
    }
}

/// Who signed the request, as the engine sees it.
enum Caller<'a> {
    /// An account's root user: everything in its own account (resource policies and ACLs
    /// are the services' business).
    Root,
    /// An IAM user (its own long-term key or a GetSessionToken session).
    User { arn: &'a str },
    /// A role session: the role's policies, bounded by the session's.
    Role { role_arn: &'a str },
    /// A federated user (GetFederationToken): the issuing user's policies, bounded by
    /// the session's.
    Federated { user_arn: &'a str },
}

fn classify(cred: &Credential) -> Caller<'_> {
    let arn = cred.principal_arn.as_str();
    // After the fifth `:` (`arn:aws:iam::123456789012:user/u`), found byte by byte.
    let resource = arn
        .bytes()
        .enumerate()
        .filter(|(_, b)| *b == b':')
        .nth(4)
        .map_or("", |(i, _)| &arn[i + 1..]);
    let source = cred.session.as_ref().and_then(|s| s.source_arn.as_deref());
    if resource.starts_with("assumed-role/") {
        match source {
            Some(role_arn) => Caller::Role { role_arn },
            None => Caller::Root,
        }
    } else if resource.starts_with("federated-user/") {
        match source {
            Some(user_arn) => Caller::Federated { user_arn },
            None => Caller::Root,
        }
    } else if resource.starts_with("user/") {
        Caller::User { arn }
    } else {
        Caller::Root
    }
}

/// The resource facts of one request, each asked of the service once.
struct Facts<'a> {
    lookup: FactsLookup<'a>,
    seen: RefCell<Vec<(String, Rc<ResourceFacts>)>>,
}

impl Facts<'_> {
    fn get(&self, arn: &str) -> Rc<ResourceFacts> {
        if let Some((_, f)) = self.seen.borrow().iter().find(|(a, _)| a == arn) {
            return f.clone();
        }
        let f = Rc::new(if arn == "*" {
            ResourceFacts::default()
        } else {
            (self.lookup)(arn)
        });
        self.seen.borrow_mut().push((arn.to_owned(), f.clone()));
        f
    }
}

/// Who asks, with the policies that apply to them.
#[derive(Clone, Copy)]
struct Who<'a> {
    cred: &'a Credential,
    caller: &'a Caller<'a>,
    compiled: Option<&'a Compiled>,
    session: Option<&'a SessionDocs>,
    stamp: &'a Stamp,
    /// No identity, boundary or session policy reads the request's context.
    plain: bool,
}

/// What the action table may ask of IAM's state and the services'.
struct StateLookup<'a> {
    iam: &'a IamProvider,
    caller_user: Option<&'a str>,
    facts: &'a Facts<'a>,
}

impl Lookup for StateLookup<'_> {
    fn partition_key(&self, account: &str, region: &str, table: &str) -> Option<String> {
        let arn = format!("arn:aws:dynamodb:{region}:{account}:table/{table}");
        self.facts.get(&arn).partition_key.clone()
    }

    fn iam_path(&self, account: &str, kind: &str, name: &str) -> Option<String> {
        self.iam.entity_path(account, kind, name)
    }

    fn caller_user(&self) -> Option<String> {
        self.caller_user.map(str::to_owned)
    }
}

fn bounded_insert<V>(map: &RwLock<FastMap<V>>, key: String, value: V, max: usize) {
    let mut map = map.write().unwrap();
    if map.len() >= max {
        map.clear();
    }
    map.insert(key, value);
}

fn all_plain<'a>(docs: impl IntoIterator<Item = &'a Document>) -> bool {
    docs.into_iter().all(|d| d.context_keys().is_empty())
}

impl IamProvider {
    /// The account's current stamp.
    fn stamp(&self, account: &str) -> Stamp {
        Stamp::of(&self.account_of(account))
    }

    /// The compiled policies of `arn` (a user or role), recompiled when its account
    /// changed since, and the account's stamp. A kept compilation whose account object
    /// is still alive (a reset drops it) at the same generation needs no other lookup.
    fn compiled(&self, arn: &str) -> (Option<Arc<Compiled>>, Stamp) {
        if let Some(c) = self.enforcer.principals.read().unwrap().get(arn)
            && let Some(account) = c.stamp.account.upgrade()
            && account.generation.load(Ordering::Acquire) == c.stamp.generation
        {
            return (Some(c.clone()), c.stamp.clone());
        }
        let stamp = self.stamp(arn.split(':').nth(4).unwrap_or_default());
        (self.compile(arn, &stamp), stamp)
    }

    fn compile(&self, arn: &str, stamp: &Stamp) -> Option<Arc<Compiled>> {
        let p = self.principal_policies(arn)?;
        let compile = |(id, text): (String, String)| (id, lenient(&text, PolicyKind::Identity));
        let identity: Vec<(String, Document)> = p.identity.into_iter().map(compile).collect();
        let boundary = p.boundary.map(compile);
        let plain = all_plain(identity.iter().chain(&boundary).map(|(_, d)| d));
        let c = Arc::new(Compiled {
            stamp: stamp.clone(),
            identity,
            boundary,
            tags: p.tags,
            user_name: p.user_name,
            id: p.id,
            plain,
        });
        bounded_insert(
            &self.enforcer.principals,
            arn.to_owned(),
            c.clone(),
            CACHE_LEN,
        );
        Some(c)
    }

    /// A session's policies (inline `Policy` and `PolicyArns`), compiled once per key
    /// and again when the managed ones may have changed (their account's stamp).
    fn session_docs(&self, cred: &Credential, stamp: &Stamp) -> Option<Arc<SessionDocs>> {
        let s = cred.session.as_ref()?;
        if s.policies.is_empty() && s.policy_arns.is_empty() {
            return None;
        }
        if let Some(d) = self
            .enforcer
            .sessions
            .read()
            .unwrap()
            .get(&cred.access_key_id)
            && (s.policy_arns.is_empty() || d.stamp.is(stamp))
        {
            return Some(d.clone());
        }
        let mut docs = Vec::new();
        for (i, text) in s.policies.iter().enumerate() {
            docs.push((format!("session/{i}"), lenient(text, PolicyKind::Session)));
        }
        for arn in &s.policy_arns {
            // A managed policy that no longer exists grants nothing.
            let text = self.managed_policy_text(arn).unwrap_or_default();
            docs.push((arn.clone(), lenient(&text, PolicyKind::Session)));
        }
        let plain = all_plain(docs.iter().map(|(_, d)| d));
        let d = Arc::new(SessionDocs {
            stamp: stamp.clone(),
            docs,
            plain,
        });
        bounded_insert(
            &self.enforcer.sessions,
            cred.access_key_id.clone(),
            d.clone(),
            CACHE_LEN,
        );
        Some(d)
    }

    fn resource_doc(&self, text: &str) -> Arc<ResourceDoc> {
        if let Some(d) = self.enforcer.resources.read().unwrap().get(text) {
            return d.clone();
        }
        let doc = Document::parse_lenient(text);
        let plain = doc.context_keys().is_empty();
        let d = Arc::new(ResourceDoc { doc, plain });
        bounded_insert(
            &self.enforcer.resources,
            text.to_owned(),
            d.clone(),
            CACHE_LEN,
        );
        d
    }

    /// Decides one request (see [`nephos_core::Authorizer`]).
    pub fn decide(
        &self,
        ctx: &RequestContext,
        input: &Value,
        facts: FactsLookup<'_>,
    ) -> Result<Vec<String>, AwsError> {
        let Some(cred) = ctx.credential.as_deref() else {
            return Ok(Vec::new());
        };
        let caller = classify(cred);
        let policy_arn = match caller {
            Caller::Root => return Ok(Vec::new()),
            Caller::User { arn } => arn,
            Caller::Role { role_arn } => role_arn,
            Caller::Federated { user_arn } => user_arn,
        };
        let facts = Facts {
            lookup: facts,
            seen: RefCell::new(Vec::new()),
        };
        let lookup = StateLookup {
            iam: self,
            caller_user: match caller {
                Caller::User { arn } => Some(crate::state::arn_name(arn)),
                _ => None,
            },
            facts: &facts,
        };
        // A principal IAM no longer knows (a deleted role's session) has no policies.
        let (compiled, stamp) = self.compiled(policy_arn);
        let session = self.session_docs(cred, &stamp);
        let plain =
            compiled.as_ref().is_none_or(|c| c.plain) && session.as_ref().is_none_or(|s| s.plain);
        let map = |lean: bool| {
            let mut auths = if lean {
                actions::actions_and_resources
            } else {
                actions::for_request_with
            }(
                ctx.service,
                &ctx.operation,
                input,
                &ctx.account_id,
                &ctx.region,
                &lookup,
            );
            auths.extend(passed_roles(ctx.service, &ctx.operation, input));
            auths
        };
        // Policies that read no context need none of the request's keys, unless the
        // resource's policy reads them. The hottest operations' lean mappings are kept.
        let memo = plain.then(|| mapping_key(ctx, input)).flatten();
        let kept = memo
            .as_deref()
            .and_then(|k| self.enforcer.mappings.read().unwrap().get(k).cloned());
        let mut auths = match kept {
            Some(auths) => auths,
            None => {
                let auths = Arc::new(map(plain));
                if let Some(k) = memo {
                    bounded_insert(&self.enforcer.mappings, k, auths.clone(), CACHE_LEN);
                }
                auths
            }
        };
        if plain
            && auths.iter().flat_map(|a| &a.resources).any(|r| {
                facts
                    .get(r)
                    .policy
                    .as_deref()
                    .is_some_and(|t| !self.resource_doc(t).plain)
            })
        {
            auths = Arc::new(map(false));
        }
        let who = Who {
            cred,
            caller: &caller,
            compiled: compiled.as_deref(),
            session: session.as_deref(),
            stamp: &stamp,
            plain,
        };
        let mut noted = false;
        // S3 answers a DeleteObjects request key by key, a denied key among them.
        let mut refused = (ctx.service == "s3" && ctx.operation == "DeleteObjects").then(Vec::new);
        let outcome = self.decide_all(ctx, &who, &auths, &facts, &mut noted, &mut refused);
        // A long-term key's use is IAM's to record (AccessKeyLastUsed), denied or not.
        if !noted && cred.session.is_none() {
            self.note_key_use(
                &cred.access_key_id,
                ctx.service,
                &ctx.region,
                ctx.clock.now_millis(),
            );
        }
        outcome.map(|()| refused.unwrap_or_default())
    }

    fn decide_all(
        &self,
        ctx: &RequestContext,
        who: &Who,
        auths: &[Authorization],
        facts: &Facts,
        noted: &mut bool,
        refused: &mut Option<Vec<String>>,
    ) -> Result<(), AwsError> {
        let Who {
            cred,
            caller,
            compiled,
            session,
            stamp,
            plain,
        } = *who;
        // Built on the first decision the cache cannot answer.
        let mut slow: Option<(Principal, Context)> = None;
        let now_ms = ctx.clock.now_millis();
        for auth in auths {
            for resource in &auth.resources {
                // A role's trust policy is the resource policy of the `sts:` actions on
                // it: naming a same-account user grants without an identity policy.
                let trust = trust_action(&auth.action)
                    .then(|| self.role_trust(resource))
                    .flatten();
                let facts = match &trust {
                    Some((f, _)) => Rc::new(f.clone()),
                    None => facts.get(resource),
                };
                let key = plain.then(|| cache_key(ctx, cred, auth, resource));
                let hit = key.as_deref().and_then(|k| {
                    let cached = self.enforcer.decisions.read().unwrap().get(k).cloned()?;
                    (cached.stamp.is(stamp)
                        && cached.owner == facts.owner
                        && cached.policy == facts.policy)
                        .then_some(cached)
                });
                let decided = match hit {
                    Some(cached) => {
                        if !*noted && cred.session.is_none() {
                            let last = cached.noted_ms.load(Ordering::Relaxed);
                            if now_ms - last < NOTE_EVERY_MS {
                                *noted = true;
                            } else {
                                cached.noted_ms.store(now_ms, Ordering::Relaxed);
                            }
                        }
                        cached.decided.clone()
                    }
                    None => {
                        let (principal, context) = slow.get_or_insert_with(|| {
                            let principal = Principal::Aws {
                                account: cred.account_id.clone(),
                                arn: cred.principal_arn.clone(),
                            };
                            let context =
                                principal_context(ctx, cred, caller, &principal, compiled);
                            (principal, context)
                        });
                        let resource_doc = match &trust {
                            Some((_, doc)) => Some(doc.clone()),
                            None => facts.policy.as_deref().map(|t| self.resource_doc(t)),
                        };
                        let decided = Arc::new(self.evaluate(
                            ctx,
                            cred,
                            principal,
                            compiled,
                            session,
                            resource_doc.as_deref(),
                            context,
                            auth,
                            resource,
                            &facts,
                        ));
                        if let Some(key) = key
                            && resource_doc.as_ref().is_none_or(|d| d.plain)
                        {
                            let cached = Arc::new(Cached {
                                stamp: stamp.clone(),
                                owner: facts.owner.clone(),
                                policy: facts.policy.clone(),
                                decided: decided.clone(),
                                noted_ms: AtomicI64::new(now_ms),
                            });
                            bounded_insert(&self.enforcer.decisions, key, cached, DECISIONS_LEN);
                        }
                        decided
                    }
                };
                self.record(ctx, decided.clone());
                // What the trust policy alone refuses, STS refuses in its own words.
                let trust_refused = trust.is_some()
                    && matches!(
                        decided.reason,
                        Some(DenyReason::NoResourceAllow | DenyReason::ResourceExplicit)
                    );
                if decided.verdict != Verdict::Allow
                    && !trust_refused
                    && resource.contains('/')
                    && let Some(refused) = refused.as_mut()
                {
                    refused.push(resource.clone());
                    continue;
                }
                if decided.verdict != Verdict::Allow && !trust_refused {
                    return Err(denial(
                        ctx,
                        cred,
                        &auth.action,
                        resource,
                        decided.reason.unwrap_or(DenyReason::NoIdentityAllow),
                    ));
                }
            }
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn evaluate(
        &self,
        ctx: &RequestContext,
        cred: &Credential,
        principal: &Principal,
        compiled: Option<&Compiled>,
        session: Option<&SessionDocs>,
        resource_doc: Option<&ResourceDoc>,
        context: &mut Context,
        auth: &Authorization,
        resource: &str,
        facts: &ResourceFacts,
    ) -> Decided {
        let mut set = PolicySet::new(&cred.account_id);
        if let Some(c) = compiled {
            set.identity = c.identity.iter().map(|(id, d)| (id.as_str(), d)).collect();
            set.boundary = c.boundary.as_ref().map(|(id, d)| (id.as_str(), d));
        }
        if let Some(s) = session {
            set.session = s.docs.iter().map(|(id, d)| (id.as_str(), d)).collect();
        }
        set.resource = resource_doc.map(|d| ("resource", &d.doc));
        set.resource_account = facts.owner.as_deref().filter(|o| *o != cred.account_id);
        set.session_source = cred.session.as_ref().and_then(|s| s.source_arn.as_deref());
        // The request's own keys, then the resource's, replaced per resource.
        for (k, vs) in &auth.context {
            context.set_many(k, vs.iter().cloned());
        }
        for (k, v) in &facts.tags {
            context.set(&format!("aws:ResourceTag/{k}"), v.as_str());
        }
        if let Some(owner) = &facts.owner {
            context.set("aws:ResourceAccount", owner.as_str());
        }
        let request = Request {
            principal,
            action: &auth.action,
            resource,
            context,
        };
        let e = nephos_policy::engine::evaluate(&request, &set);
        let decided = Decided::of(ctx, cred, auth, resource, &e);
        for (k, _) in &auth.context {
            context.remove(k);
        }
        for (k, _) in &facts.tags {
            context.remove(&format!("aws:ResourceTag/{k}"));
        }
        context.remove("aws:ResourceAccount");
        decided
    }

    fn record(&self, ctx: &RequestContext, decided: Arc<Decided>) {
        let entry = Entry {
            at_ms: ctx.clock.now_millis(),
            request_id: ctx.request_id.clone(),
            decided,
        };
        let mut log = self.enforcer.log.lock().unwrap();
        if log.len() >= LOG_LEN {
            log.pop_front();
        }
        log.push_back(entry);
    }

    /// `GET /_nephos/iam/decisions`: the recent decisions, newest last.
    pub(crate) fn decisions(&self) -> Vec<u8> {
        let log = self.enforcer.log.lock().unwrap();
        let list: Vec<serde_json::Value> = log.iter().map(Entry::to_json).collect();
        serde_json::to_vec(&serde_json::json!({ "decisions": list })).unwrap_or_default()
    }
}

/// For the operations a workload repeats most (item reads and writes, messages, invokes,
/// log events), the members their lean mapping depends on: the resource they name, in
/// the caller's account and region. Their other members (items, bodies, entries) only
/// ever feed condition keys, which the lean mapping leaves out. `None` for every other
/// operation, and when such a member is not a string.
fn mapping_key(ctx: &RequestContext, input: &Value) -> Option<String> {
    let members: &[&str] = match (ctx.service, ctx.operation.as_str()) {
        (
            "dynamodb",
            "GetItem" | "PutItem" | "UpdateItem" | "DeleteItem" | "Query" | "Scan"
            | "DescribeTable",
        ) => &["TableName", "IndexName"],
        (
            "sqs",
            "SendMessage"
            | "SendMessageBatch"
            | "ReceiveMessage"
            | "DeleteMessage"
            | "DeleteMessageBatch"
            | "ChangeMessageVisibility"
            | "ChangeMessageVisibilityBatch"
            | "GetQueueAttributes",
        ) => &["QueueUrl"],
        ("sns", "Publish") => &["TopicArn", "TargetArn"],
        ("lambda", "Invoke") => &["FunctionName", "Qualifier"],
        ("logs", "PutLogEvents") => &["logGroupName", "logGroupIdentifier", "logStreamName"],
        _ => return None,
    };
    let mut key = String::with_capacity(96);
    for part in [
        ctx.account_id.as_str(),
        ctx.region.as_str(),
        ctx.service,
        ctx.operation.as_str(),
    ] {
        key.push_str(part);
        key.push('\n');
    }
    for m in members {
        if let Some(v) = input.get(m) {
            key.push_str(m);
            key.push('=');
            key.push_str(v.as_str()?);
        }
        key.push('\n');
    }
    Some(key)
}

/// The decision cache's key: who (the access key), where (the region: the key's use is
/// noted per region), what and on what.
fn cache_key(ctx: &RequestContext, cred: &Credential, auth: &Authorization, res: &str) -> String {
    let mut k = String::with_capacity(
        cred.access_key_id.len()
            + ctx.region.len()
            + ctx.operation.len()
            + auth.action.len()
            + res.len()
            + 4,
    );
    for part in [
        cred.access_key_id.as_str(),
        ctx.region.as_str(),
        ctx.operation.as_str(),
        auth.action.as_str(),
        res,
    ] {
        k.push_str(part);
        k.push('\n');
    }
    k
}

/// The context keys of the caller and of the request as a whole.
fn principal_context(
    ctx: &RequestContext,
    cred: &Credential,
    caller: &Caller,
    principal: &Principal,
    compiled: Option<&Compiled>,
) -> Context {
    let mut context = Context::new();
    let role_arn = match caller {
        Caller::Role { role_arn } => Some(*role_arn),
        _ => None,
    };
    let user_id = compiled.map(|c| c.id.as_str());
    context.set_principal(principal, user_id.or(Some(&cred.user_id)), role_arn);
    if let Some(c) = compiled {
        if let Some(name) = &c.user_name
            && matches!(caller, Caller::User { .. })
        {
            context.set("aws:username", name.as_str());
        }
        for (k, v) in &c.tags {
            context.set(&format!("aws:PrincipalTag/{k}"), v.as_str());
        }
    }
    global_keys(ctx, cred, &mut context);
    context
}

/// One decision as the log shows it, kept as data and written as JSON only when asked
/// for; shared by every request the decision cache answers.
struct Decided {
    principal: String,
    service: &'static str,
    operation: String,
    action: String,
    resource: String,
    verdict: Verdict,
    reason: Option<DenyReason>,
    matched: Vec<Matched>,
    missing: Vec<String>,
}

impl Decided {
    fn of(
        ctx: &RequestContext,
        cred: &Credential,
        auth: &Authorization,
        resource: &str,
        e: &Evaluation<'_>,
    ) -> Decided {
        Decided {
            principal: cred.principal_arn.clone(),
            service: ctx.service,
            operation: ctx.operation.clone(),
            action: auth.action.clone(),
            resource: resource.to_owned(),
            verdict: e.verdict,
            reason: e.denied_by,
            matched: e
                .matched
                .iter()
                .map(|m| Matched {
                    source: m.source,
                    policy: m.source_id.to_owned(),
                    sid: m.sid.map(str::to_owned),
                    index: m.index,
                    effect: m.effect,
                })
                .collect(),
            missing: e
                .missing_context_keys
                .iter()
                .map(|k| (*k).to_owned())
                .collect(),
        }
    }
}

struct Entry {
    at_ms: i64,
    request_id: String,
    decided: Arc<Decided>,
}

struct Matched {
    source: nephos_policy::Source,
    policy: String,
    sid: Option<String>,
    index: usize,
    effect: nephos_policy::Effect,
}

impl Entry {
    fn to_json(&self) -> serde_json::Value {
        let d = &self.decided;
        let matched: Vec<serde_json::Value> = d
            .matched
            .iter()
            .map(|m| {
                serde_json::json!({
                    "source": format!("{:?}", m.source),
                    "policy": m.policy,
                    "sid": m.sid,
                    "statement": m.index,
                    "effect": format!("{:?}", m.effect),
                })
            })
            .collect();
        serde_json::json!({
            "time": nephos_core::Timestamp::from_millis(self.at_ms).to_iso8601(),
            "request_id": self.request_id,
            "principal": d.principal,
            "service": d.service,
            "operation": d.operation,
            "action": d.action,
            "resource": d.resource,
            "decision": format!("{:?}", d.verdict),
            "reason": d.reason.map(|r| r.phrase(&d.action)),
            "matched": matched,
            "missing_context_keys": d.missing,
        })
    }
}

/// A stored document of `kind`, read leniently: IAM validated it on the way in, and a
/// statement that cannot be read grants nothing.
pub(crate) fn lenient(text: &str, kind: PolicyKind) -> Document {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(json) => Document::from_json(&json, kind),
        Err(_) => Document::from_json(&serde_json::Value::Null, kind),
    }
}

/// The global condition keys nephos knows of every request.
fn global_keys(ctx: &RequestContext, cred: &Credential, c: &mut Context) {
    for (k, v) in ctx.global_condition_keys() {
        c.set(&k, v);
    }
    c.set("aws:RequestedRegion", ctx.region.as_str());
    c.set("aws:ViaAWSService", "false");
    c.set("aws:PrincipalIsAWSService", "false");
    if let Some(s) = &cred.session {
        // Present only for temporary credentials, as on AWS.
        c.set(
            "aws:MultiFactorAuthPresent",
            if s.mfa { "true" } else { "false" },
        );
        if let Some(id) = &s.source_identity {
            c.set("aws:SourceIdentity", id.as_str());
        }
        // Session tags override the principal's tags of the same key.
        for (k, v) in &s.tags {
            c.set(&format!("aws:PrincipalTag/{k}"), v.as_str());
        }
    }
}

/// The roles an operation hands to a service, which the caller must be allowed to pass
/// (`iam:PassRole` on the role, `iam:PassedToService` naming the service): Lambda's
/// execution role, S3's replication role, SNS's delivery-status and subscription roles,
/// CloudWatch Logs' subscription role.
fn passed_roles(service: &str, operation: &str, input: &Value) -> Vec<Authorization> {
    fn attr_roles<'a>(attrs: Option<&'a Value>, roles: &mut Vec<(&'a str, &'static str)>) {
        for (name, value) in attrs.and_then(Value::as_map).into_iter().flatten() {
            if sns_role_attribute(name)
                && let Some(v) = value.as_str()
            {
                roles.push((v, "sns.amazonaws.com"));
            }
        }
    }
    let mut roles: Vec<(&str, &'static str)> = Vec::new();
    match (service, operation) {
        ("lambda", "CreateFunction" | "UpdateFunctionConfiguration") => {
            roles.extend(input.str("Role").map(|r| (r, "lambda.amazonaws.com")));
        }
        ("s3", "PutBucketReplication") => roles.extend(
            input
                .get("ReplicationConfiguration")
                .and_then(|c| c.str("Role"))
                .map(|r| (r, "s3.amazonaws.com")),
        ),
        ("logs", "PutSubscriptionFilter") => {
            roles.extend(input.str("roleArn").map(|r| (r, "logs.amazonaws.com")));
        }
        ("sns", "SetTopicAttributes" | "SetSubscriptionAttributes") => {
            if input.str("AttributeName").is_some_and(sns_role_attribute)
                && let Some(v) = input.str("AttributeValue")
            {
                roles.push((v, "sns.amazonaws.com"));
            }
        }
        (
            "sns",
            "CreateTopic"
            | "Subscribe"
            | "CreatePlatformApplication"
            | "SetPlatformApplicationAttributes",
        ) => attr_roles(input.get("Attributes"), &mut roles),
        ("sns", "SetSMSAttributes") => attr_roles(input.get("attributes"), &mut roles),
        _ => {}
    }
    roles
        .into_iter()
        .filter(|(arn, _)| arn.starts_with("arn:") && arn.contains(":role/"))
        .map(|(arn, to)| Authorization {
            action: "iam:PassRole".to_owned(),
            resources: vec![arn.to_owned()],
            context: vec![("iam:PassedToService".to_owned(), vec![to.to_owned()])],
        })
        .collect()
}

/// SNS attributes that name a role SNS acts as: topics' and platform applications'
/// delivery-status roles (`LambdaSuccessFeedbackRoleArn`, `SuccessFeedbackRoleArn`),
/// SMS delivery status (`DeliveryStatusIAMRole`), Firehose subscriptions
/// (`SubscriptionRoleArn`).
fn sns_role_attribute(name: &str) -> bool {
    name.ends_with("FeedbackRoleArn")
        || name == "DeliveryStatusIAMRole"
        || name == "SubscriptionRoleArn"
}

/// AWS's denial, as each service frames it.
fn denial(
    ctx: &RequestContext,
    cred: &Credential,
    action: &str,
    resource: &str,
    reason: DenyReason,
) -> AwsError {
    let who = &cred.principal_arn;
    let phrase = reason.phrase(action);
    let (status, code, resource) = match ctx.service {
        // S3 quotes the resource in its enhanced messages.
        "s3" | "s3control" => (403, "AccessDenied", format!("\"{resource}\"")),
        "sns" => (403, "AuthorizationError", resource.to_owned()),
        "sqs" | "iam" | "sts" => (403, "AccessDenied", resource.to_owned()),
        "lambda" => (403, "AccessDeniedException", resource.to_owned()),
        _ => (400, "AccessDeniedException", resource.to_owned()),
    };
    AwsError::new(
        status,
        code,
        format!(
            "User: {who} is not authorized to perform: {action} on resource: {resource} {phrase}"
        ),
    )
}

impl nephos_core::Authorizer for IamProvider {
    fn authorize(
        &self,
        ctx: &RequestContext,
        input: &Value,
        facts: FactsLookup<'_>,
    ) -> Result<Vec<String>, AwsError> {
        self.decide(ctx, input, facts)
    }
}

/// What the authorizer asks of IAM's entities.
/// The `sts:` actions a role's trust policy governs.
fn trust_action(action: &str) -> bool {
    matches!(
        action,
        "sts:AssumeRole"
            | "sts:AssumeRoleWithWebIdentity"
            | "sts:AssumeRoleWithSAML"
            | "sts:TagSession"
            | "sts:SetSourceIdentity"
    )
}

impl IamProvider {
    /// A role's owner and trust policy, as the resource facts of the `sts:` actions on it.
    fn role_trust(&self, arn: &str) -> Option<(ResourceFacts, Arc<ResourceDoc>)> {
        let rest = arn.strip_prefix("arn:aws:iam::")?;
        let (account, path) = rest.split_once(':')?;
        let name = path.strip_prefix("role/")?.rsplit('/').next()?;
        let acct = self.account_of(account);
        let (text, tags) = {
            let c = acct.core.read().unwrap();
            let role = c.role(name).ok()?;
            (role.trust.clone(), role.tags.clone())
        };
        let doc = lenient(&text, PolicyKind::Trust);
        let plain = doc.context_keys().is_empty();
        let facts = ResourceFacts {
            owner: Some(account.to_owned()),
            policy: Some(text),
            tags,
            ..ResourceFacts::default()
        };
        Some((facts, Arc::new(ResourceDoc { doc, plain })))
    }

    /// The path of a user, role or group, for ARNs the action table builds from names.
    fn entity_path(&self, account: &str, kind: &str, name: &str) -> Option<String> {
        let acct = self.account_of(account);
        let c = acct.core.read().unwrap();
        match kind {
            "user" => c.user(name).ok().map(|u| u.path.clone()),
            "role" => c.role(name).ok().map(|r| r.path.clone()),
            "group" => c.group(name).ok().map(|g| g.path.clone()),
            "instance-profile" => c.profile(name).ok().map(|p| p.path.clone()),
            _ => None,
        }
    }

    /// The default version of a managed policy (a session's `PolicyArns`).
    fn managed_policy_text(&self, arn: &str) -> Option<String> {
        if let Some(p) = crate::catalog::get(arn) {
            return Some(p.document.clone());
        }
        let account = arn.split(':').nth(4)?;
        let acct = self.account_of(account);
        let c = acct.core.read().unwrap();
        c.managed_document(arn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nephos_core::Clock;

    /// The kept lean mappings are keyed by the members those mappings read: two requests
    /// with the same key map alike whatever else they carry.
    #[test]
    fn kept_mappings_depend_only_on_their_keys() {
        let item = |v: &str| Value::map().with("pk", Value::map().with("S", v));
        let cases = [
            (
                "dynamodb",
                "GetItem",
                Value::map().with("TableName", "t").with("Key", item("a")),
                Value::map()
                    .with("TableName", "t")
                    .with("Key", item("b"))
                    .with("ProjectionExpression", "x, y")
                    .with("ReturnConsumedCapacity", "TOTAL"),
            ),
            (
                "dynamodb",
                "Query",
                Value::map().with("TableName", "t").with("IndexName", "i"),
                Value::map()
                    .with("TableName", "t")
                    .with("IndexName", "i")
                    .with("KeyConditionExpression", "pk = :v"),
            ),
            (
                "sqs",
                "SendMessage",
                Value::map()
                    .with("QueueUrl", "http://h/111111111111/q")
                    .with("MessageBody", "a"),
                Value::map()
                    .with("QueueUrl", "http://h/111111111111/q")
                    .with("MessageBody", "b")
                    .with("DelaySeconds", 5),
            ),
            (
                "sns",
                "Publish",
                Value::map()
                    .with("TopicArn", "arn:aws:sns:us-east-1:111111111111:t")
                    .with("Message", "a"),
                Value::map()
                    .with("TopicArn", "arn:aws:sns:us-east-1:111111111111:t")
                    .with("Message", "b")
                    .with("Subject", "s"),
            ),
            (
                "lambda",
                "Invoke",
                Value::map().with("FunctionName", "f").with("Payload", "{}"),
                Value::map()
                    .with("FunctionName", "f")
                    .with("InvocationType", "Event"),
            ),
            (
                "logs",
                "PutLogEvents",
                Value::map()
                    .with("logGroupName", "g")
                    .with("logStreamName", "s"),
                Value::map()
                    .with("logGroupName", "g")
                    .with("logStreamName", "s")
                    .with("logEvents", Value::List(vec![])),
            ),
        ];
        for (service, op, a, b) in cases {
            let mut ctx = RequestContext::internal(service, op, Arc::new(Clock::new()));
            ctx.account_id = "111111111111".to_owned();
            assert_eq!(mapping_key(&ctx, &a), mapping_key(&ctx, &b), "{op}");
            assert!(mapping_key(&ctx, &a).is_some(), "{op}");
            let map = |i: &Value| {
                actions::actions_and_resources(
                    service,
                    op,
                    i,
                    "111111111111",
                    "us-east-1",
                    &actions::NoLookup,
                )
            };
            assert_eq!(map(&a), map(&b), "{op}");
        }
        // Another table is another key.
        let ctx = RequestContext::internal("dynamodb", "GetItem", Arc::new(Clock::new()));
        assert_ne!(
            mapping_key(&ctx, &Value::map().with("TableName", "t")),
            mapping_key(&ctx, &Value::map().with("TableName", "u"))
        );
        let ctx = RequestContext::internal("s3", "GetObject", Arc::new(Clock::new()));
        assert!(mapping_key(&ctx, &Value::map().with("Bucket", "b")).is_none());
    }

    #[test]
    fn roles_handed_to_services_are_passed() {
        let role = "arn:aws:iam::111111111111:role/r";
        let input = Value::map().with("FunctionName", "f").with("Role", role);
        let got = passed_roles("lambda", "CreateFunction", &input);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].action, "iam:PassRole");
        assert_eq!(got[0].resources, vec![role.to_owned()]);
        assert_eq!(
            got[0].context,
            vec![(
                "iam:PassedToService".to_owned(),
                vec!["lambda.amazonaws.com".to_owned()]
            )]
        );
        assert!(passed_roles("lambda", "GetFunction", &input).is_empty());
        let topic = Value::map()
            .with("AttributeName", "SQSSuccessFeedbackRoleArn")
            .with("AttributeValue", role);
        assert_eq!(passed_roles("sns", "SetTopicAttributes", &topic).len(), 1);
        let display = Value::map()
            .with("AttributeName", "DisplayName")
            .with("AttributeValue", role);
        assert!(passed_roles("sns", "SetTopicAttributes", &display).is_empty());
        let created = Value::map().with(
            "Attributes",
            Value::map()
                .with("HTTPFailureFeedbackRoleArn", role)
                .with("DisplayName", "x"),
        );
        assert_eq!(passed_roles("sns", "CreateTopic", &created).len(), 1);
        let replication =
            Value::map().with("ReplicationConfiguration", Value::map().with("Role", role));
        let got = passed_roles("s3", "PutBucketReplication", &replication);
        assert_eq!(got[0].context[0].1, vec!["s3.amazonaws.com".to_owned()]);
        // Not a role ARN: the service's own validation answers.
        let bad = Value::map().with("Role", "nope");
        assert!(passed_roles("lambda", "CreateFunction", &bad).is_empty());
    }
}

/// Nanoseconds per decision on the hot path (`cargo test --release -p nephos-iam
/// hot_path -- --ignored --nocapture`).
#[cfg(test)]
mod bench {
    use super::*;
    use nephos_core::{Clock, CredentialStore, Dispatcher, Provider};
    use nephos_storage::Storage;
    use std::time::Instant;

    const ACCOUNT: &str = "123456789012";

    async fn call(p: &IamProvider, op: &str, input: Value) -> Value {
        let mut c = RequestContext::internal("iam", op, Arc::new(Clock::new()));
        c.account_id = ACCOUNT.to_owned();
        let input = nephos_core::Input {
            value: input,
            body: None,
        };
        p.handle(&c, input).await.unwrap().value
    }

    #[tokio::test]
    #[ignore]
    async fn hot_path() {
        let p = IamProvider::new(Storage::ephemeral(), Dispatcher::new()).unwrap();
        let u = Value::map().with("UserName", "u");
        call(&p, "CreateUser", u.clone()).await;
        let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["dynamodb:GetItem","sqs:SendMessage"],"Resource":"*"}]}"#;
        call(
            &p,
            "PutUserPolicy",
            u.clone()
                .with("PolicyName", "p")
                .with("PolicyDocument", doc),
        )
        .await;
        let key = call(&p, "CreateAccessKey", u).await;
        let key = key
            .get("AccessKey")
            .and_then(|k| k.str("AccessKeyId"))
            .unwrap()
            .to_owned();
        let cred = Arc::new(p.lookup(&key).unwrap());
        let mut ctx = RequestContext::internal("dynamodb", "GetItem", Arc::new(Clock::new()));
        ctx.account_id = ACCOUNT.to_owned();
        ctx.credential = Some(cred);
        let input = Value::map().with("TableName", "bench").with(
            "Key",
            Value::map()
                .with("pk", Value::map().with("S", "user#1"))
                .with("sk", Value::map().with("N", "1")),
        );
        let facts = |_: &str| ResourceFacts {
            owner: Some(ACCOUNT.to_owned()),
            partition_key: Some("pk".to_owned()),
            ..Default::default()
        };
        // The best of several rounds: the machine is shared.
        let n: u128 = std::env::var("HOT_PATH_N")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(100_000);
        let rounds = if std::env::var("HOT_PATH_N").is_ok() {
            1
        } else {
            7
        };
        let (mut mapping, mut decide) = (u128::MAX, u128::MAX);
        // Loads the reference and fills the caches.
        p.decide(&ctx, &input, &facts).unwrap();
        // `HOT_PATH=decide` runs only the decisions (for `perf stat -e instructions`).
        let only_decide = std::env::var("HOT_PATH").is_ok_and(|v| v == "decide");
        for _ in 0..rounds {
            let t = Instant::now();
            for _ in 0..if only_decide { 0 } else { n } {
                std::hint::black_box(actions::for_request(
                    "dynamodb",
                    "GetItem",
                    &input,
                    ACCOUNT,
                    "us-east-1",
                ));
            }
            mapping = mapping.min(t.elapsed().as_nanos() / n.max(1));
            let t = Instant::now();
            for _ in 0..n {
                p.decide(&ctx, &input, &facts).unwrap();
            }
            decide = decide.min(t.elapsed().as_nanos() / n.max(1));
        }
        println!("mapping: {mapping} ns, decide (mapping included): {decide} ns");
    }
}
