//! The authorizer under `--enforce-iam`: every request an IAM identity signs (an IAM
//! user's access key, a role session, a federated user) is decided by the policy engine
//! before its handler runs, from the caller's identity policies, permissions boundary
//! and session policies, and the resource's policy.
//!
//! The request path pays for a decision, not for parsing: a principal's documents are
//! compiled once and kept until its account's entities change (the account's
//! generation), session policies once per session, resource policies once per text.
//! Each decision is appended to a bounded log served at `/_nephos/iam/decisions`, so a
//! user can see which statements let a request in or why it was denied.

use crate::IamProvider;
use crate::actions::{self, Authorization, Lookup};
use nephos_core::{AwsError, Credential, FactsLookup, RequestContext, ResourceFacts, Value};
use nephos_policy::{
    Context, DenyReason, Document, Evaluation, PolicyKind, PolicySet, Principal, Request, Verdict,
};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, RwLock};

/// How many decisions the log keeps.
const LOG_LEN: usize = 1000;
/// Bounds of the caches of session and resource policy documents; past them a cache
/// starts over (sessions and policies are few in practice).
const CACHE_LEN: usize = 4096;

/// The compiled policies of one user or role.
struct Compiled {
    generation: u64,
    identity: Vec<(String, Document)>,
    boundary: Option<(String, Document)>,
    tags: Vec<(String, String)>,
    user_name: Option<String>,
    id: String,
}

/// One session's compiled session policies.
struct SessionDocs(Vec<(String, Document)>);

#[derive(Default)]
pub struct Enforcer {
    principals: RwLock<HashMap<String, Arc<Compiled>>>,
    sessions: RwLock<HashMap<String, Arc<SessionDocs>>>,
    resources: RwLock<HashMap<String, Arc<Document>>>,
    log: Mutex<VecDeque<Entry>>,
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
    let resource = arn.splitn(6, ':').nth(5).unwrap_or_default();
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

/// What the action table may ask of IAM's state.
struct StateLookup<'a> {
    iam: &'a IamProvider,
    caller_user: Option<String>,
}

impl Lookup for StateLookup<'_> {
    fn iam_path(&self, account: &str, kind: &str, name: &str) -> Option<String> {
        self.iam.entity_path(account, kind, name)
    }

    fn caller_user(&self) -> Option<String> {
        self.caller_user.clone()
    }
}

impl IamProvider {
    /// The compiled policies of `arn` (a user or role), recompiled when its account
    /// changed since.
    fn compiled(&self, arn: &str) -> Option<Arc<Compiled>> {
        let account = arn.split(':').nth(4)?;
        let generation = self.generation(account);
        if let Some(c) = self.enforcer.principals.read().unwrap().get(arn)
            && c.generation == generation
        {
            return Some(c.clone());
        }
        let p = self.principal_policies(arn)?;
        let compile = |(id, text): (String, String)| (id, lenient(&text, PolicyKind::Identity));
        let c = Arc::new(Compiled {
            generation,
            identity: p.identity.into_iter().map(compile).collect(),
            boundary: p.boundary.map(compile),
            tags: p.tags,
            user_name: p.user_name,
            id: p.id,
        });
        let mut map = self.enforcer.principals.write().unwrap();
        if map.len() >= CACHE_LEN {
            map.clear();
        }
        map.insert(arn.to_owned(), c.clone());
        Some(c)
    }

    /// A session's policies (inline `Policy` and `PolicyArns`), compiled once per key.
    fn session_docs(&self, cred: &Credential) -> Option<Arc<SessionDocs>> {
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
        let d = Arc::new(SessionDocs(docs));
        let mut map = self.enforcer.sessions.write().unwrap();
        if map.len() >= CACHE_LEN {
            map.clear();
        }
        map.insert(cred.access_key_id.clone(), d.clone());
        Some(d)
    }

    fn resource_doc(&self, text: &str) -> Arc<Document> {
        if let Some(d) = self.enforcer.resources.read().unwrap().get(text) {
            return d.clone();
        }
        let d = Arc::new(Document::parse_lenient(text));
        let mut map = self.enforcer.resources.write().unwrap();
        if map.len() >= CACHE_LEN {
            map.clear();
        }
        map.insert(text.to_owned(), d.clone());
        d
    }

    /// Decides one request (see [`nephos_core::Authorizer`]).
    pub fn decide(
        &self,
        ctx: &RequestContext,
        input: &Value,
        facts: FactsLookup<'_>,
    ) -> Result<(), AwsError> {
        let Some(cred) = ctx.credential.as_deref() else {
            return Ok(());
        };
        let caller = classify(cred);
        let policy_arn = match caller {
            Caller::Root => return Ok(()),
            Caller::User { arn } => arn,
            Caller::Role { role_arn } => role_arn,
            Caller::Federated { user_arn } => user_arn,
        };
        if cred.session.is_none() {
            self.note_key_use(
                &cred.access_key_id,
                ctx.service,
                &ctx.region,
                ctx.clock.now_millis(),
            );
        }
        let lookup = StateLookup {
            iam: self,
            caller_user: match caller {
                Caller::User { arn } => Some(crate::state::arn_name(arn).to_owned()),
                _ => None,
            },
        };
        let auths = actions::for_request_with(
            ctx.service,
            &ctx.operation,
            input,
            &ctx.account_id,
            &ctx.region,
            &lookup,
        );
        if auths.is_empty() {
            return Ok(());
        }
        // A principal IAM no longer knows (a deleted role's session) has no policies.
        let compiled = self.compiled(policy_arn);
        let session = self.session_docs(cred);
        let principal = Principal::Aws {
            account: cred.account_id.clone(),
            arn: cred.principal_arn.clone(),
        };
        let mut context = Context::new();
        let role_arn = match caller {
            Caller::Role { role_arn } => Some(role_arn),
            _ => None,
        };
        let user_id = compiled.as_ref().map(|c| c.id.as_str());
        context.set_principal(&principal, user_id.or(Some(&cred.user_id)), role_arn);
        if let Some(c) = &compiled {
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
        for auth in &auths {
            for resource in &auth.resources {
                self.decide_one(
                    ctx,
                    cred,
                    &principal,
                    compiled.as_deref(),
                    session.as_deref(),
                    &mut context,
                    auth,
                    resource,
                    facts,
                )?;
            }
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn decide_one(
        &self,
        ctx: &RequestContext,
        cred: &Credential,
        principal: &Principal,
        compiled: Option<&Compiled>,
        session: Option<&SessionDocs>,
        context: &mut Context,
        auth: &Authorization,
        resource: &str,
        facts: FactsLookup<'_>,
    ) -> Result<(), AwsError> {
        let facts = if resource == "*" {
            ResourceFacts::default()
        } else {
            facts(resource)
        };
        let resource_doc = facts.policy.as_deref().map(|t| self.resource_doc(t));
        let mut set = PolicySet::new(&cred.account_id);
        if let Some(c) = compiled {
            set.identity = c.identity.iter().map(|(id, d)| (id.as_str(), d)).collect();
            set.boundary = c.boundary.as_ref().map(|(id, d)| (id.as_str(), d));
        }
        if let Some(s) = session {
            set.session = s.0.iter().map(|(id, d)| (id.as_str(), d)).collect();
        }
        set.resource = resource_doc.as_deref().map(|d| ("resource", d));
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
        let evaluation = nephos_policy::engine::evaluate(&request, &set);
        self.record(ctx, cred, auth, resource, &evaluation);
        let outcome = match evaluation.denied_by {
            None if evaluation.verdict == Verdict::Allow => Ok(()),
            reason => Err(denial(
                ctx,
                cred,
                &auth.action,
                resource,
                reason.unwrap_or(DenyReason::NoIdentityAllow),
            )),
        };
        for (k, _) in &auth.context {
            context.remove(k);
        }
        for (k, _) in &facts.tags {
            context.remove(&format!("aws:ResourceTag/{k}"));
        }
        context.remove("aws:ResourceAccount");
        outcome
    }

    fn record(
        &self,
        ctx: &RequestContext,
        cred: &Credential,
        auth: &Authorization,
        resource: &str,
        e: &Evaluation<'_>,
    ) {
        let entry = Entry {
            at_ms: ctx.clock.now_millis(),
            request_id: ctx.request_id.clone(),
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

/// One decision in the log, kept as data and written as JSON only when asked for.
struct Entry {
    at_ms: i64,
    request_id: String,
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

struct Matched {
    source: nephos_policy::Source,
    policy: String,
    sid: Option<String>,
    index: usize,
    effect: nephos_policy::Effect,
}

impl Entry {
    fn to_json(&self) -> serde_json::Value {
        let matched: Vec<serde_json::Value> = self
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
            "principal": self.principal,
            "service": self.service,
            "operation": self.operation,
            "action": self.action,
            "resource": self.resource,
            "decision": format!("{:?}", self.verdict),
            "reason": self.reason.map(|r| r.phrase(&self.action)),
            "matched": matched,
            "missing_context_keys": self.missing,
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
    let now = ctx.clock.now_millis();
    c.set(
        "aws:CurrentTime",
        nephos_core::Timestamp::from_millis(now).to_iso8601(),
    );
    c.set("aws:EpochTime", (now / 1000).to_string());
    c.set("aws:RequestedRegion", ctx.region.as_str());
    // nephos serves plain HTTP.
    c.set("aws:SecureTransport", "false");
    c.set("aws:ViaAWSService", "false");
    c.set("aws:PrincipalIsAWSService", "false");
    if let Some(ip) = ctx.source_ip {
        c.set("aws:SourceIp", ip.to_string());
    }
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
    ) -> Result<(), AwsError> {
        self.decide(ctx, input, facts)
    }
}

/// What the authorizer asks of IAM's entities.
impl IamProvider {
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
