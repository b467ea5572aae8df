//! The decision over every policy that applies to a request: identity policies, the
//! resource's policy, a permissions boundary, session policies; same account and cross
//! account.
//!
//! From <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html>
//! and <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html>:
//! 1. an explicit `Deny` in any of them decides;
//! 2. within one account, an `Allow` in an identity policy or in the resource policy
//!    suffices, but what a resource policy grants depends on how it names the caller:
//!    naming the user, the session (assumed-role or federated-user ARN), or everyone,
//!    grants outright ("not limited by an implicit deny in an identity-based policy, a
//!    permissions boundary, or session policy"); naming the role of a session (or the
//!    IAM user a federated session came from) is limited by the boundary and session
//!    policies; naming the account delegates to the account's own policies;
//! 3. an identity policy's `Allow` is then limited by the permissions boundary, if any,
//!    and by session policies, if any; a federated-user session (GetFederationToken)
//!    without a session policy has no permissions of its own;
//! 4. across accounts, the principal's side (identity policies within boundary and
//!    session limits) and the resource policy must both allow;
//! 5. the account's root user needs no identity policy in its own account;
//! 6. role trust policies (and key policies: [`PolicySet::resource_required`]) must allow
//!    in any case;
//! 7. principals with no identity policies (services, identity providers, anonymous
//!    callers) are let in by resource policies alone.
//!
//! Evaluation allocates nothing but the list of matched statements (and missing keys,
//! when there are any).

use crate::Decision;
use crate::Principal;
use crate::context::Context;
use crate::document::{Document, Effect, PolicyKind, Position, Principals};
use crate::principal::{Grant, Who};

/// What is asked: who performs which action on which resource, in which context.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub principal: &'a Principal,
    /// `s3:GetObject` (any case).
    pub action: &'a str,
    /// The resource's ARN, or `*` for actions on no resource.
    pub resource: &'a str,
    pub context: &'a Context,
}

/// The policies that apply to a request, each with the id the caller reports it by
/// (a policy ARN, `user/alice/inline-name`, `PolicyInputList.1`...).
#[derive(Debug, Clone)]
pub struct PolicySet<'a> {
    /// The principal's own and its groups' policies, managed and inline.
    pub identity: Vec<(&'a str, &'a Document)>,
    pub resource: Option<(&'a str, &'a Document)>,
    /// The principal's permissions boundary, if it has one.
    pub boundary: Option<(&'a str, &'a Document)>,
    /// Session policies (inline and managed), if the principal is a session given any.
    pub session: Vec<(&'a str, &'a Document)>,
    /// The account owning the resource; `None`: the principal's own.
    pub resource_account: Option<&'a str>,
    pub principal_account: &'a str,
    /// The caller is the account's root user.
    pub is_root: bool,
    /// The role or IAM user a session was issued for (`Credential::session.source_arn`):
    /// a resource policy naming it grants within the session's limits. Role sessions
    /// are matched to their role by name without it.
    pub session_source: Option<&'a str>,
    /// The resource policy must allow even within one account (KMS key policies). Role
    /// trust policies (documents of [`PolicyKind::Trust`]) always must.
    pub resource_required: bool,
}

impl<'a> PolicySet<'a> {
    /// No policies yet, for a principal of `principal_account`.
    pub fn new(principal_account: &'a str) -> PolicySet<'a> {
        PolicySet {
            identity: Vec::new(),
            resource: None,
            boundary: None,
            session: Vec::new(),
            resource_account: None,
            principal_account,
            is_root: false,
            session_source: None,
            resource_required: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    ExplicitDeny,
    ImplicitDeny,
}

/// Which of a request's policies a statement belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Identity,
    Resource,
    Boundary,
    Session,
}

/// A statement that applied to the request (either effect).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchedStatement<'a> {
    pub source: Source,
    /// The id the policy was given in the [`PolicySet`].
    pub source_id: &'a str,
    pub sid: Option<&'a str>,
    /// The statement's index in its document.
    pub index: usize,
    pub effect: Effect,
    /// Just after the statement's `{` and just after its `}` (documents from
    /// [`Document::parse`] only), as SimulatePrincipalPolicy reports them.
    pub start: Option<Position>,
    pub end: Option<Position>,
}

/// Which policy denied, or failed to allow: what AWS's AccessDenied message says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenyReason {
    IdentityExplicit,
    ResourceExplicit,
    BoundaryExplicit,
    SessionExplicit,
    NoIdentityAllow,
    NoResourceAllow,
    BoundaryImplicit,
    SessionImplicit,
}

impl DenyReason {
    pub fn is_explicit(self) -> bool {
        matches!(
            self,
            DenyReason::IdentityExplicit
                | DenyReason::ResourceExplicit
                | DenyReason::BoundaryExplicit
                | DenyReason::SessionExplicit
        )
    }

    /// The end of AWS's message "User: ... is not authorized to perform: `action` on
    /// resource: ... `<this>`", e.g. "because no identity-based policy allows the
    /// s3:GetObject action" or "with an explicit deny in a resource-based policy".
    pub fn phrase(self, action: &str) -> String {
        let (explicit, kind) = match self {
            DenyReason::IdentityExplicit => (true, "an identity-based policy"),
            DenyReason::ResourceExplicit => (true, "a resource-based policy"),
            DenyReason::BoundaryExplicit => (true, "a permissions boundary"),
            DenyReason::SessionExplicit => (true, "a session policy"),
            DenyReason::NoIdentityAllow => (false, "identity-based policy"),
            DenyReason::NoResourceAllow => (false, "resource-based policy"),
            DenyReason::BoundaryImplicit => (false, "permissions boundary"),
            DenyReason::SessionImplicit => (false, "session policy"),
        };
        if explicit {
            format!("with an explicit deny in {kind}")
        } else {
            format!("because no {kind} allows the {action} action")
        }
    }
}

/// The outcome, with what the policy simulator reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation<'a> {
    pub verdict: Verdict,
    /// Every statement that applied, in evaluation order (identity, resource, boundary,
    /// session).
    pub matched: Vec<MatchedStatement<'a>>,
    /// Context keys the applicable statements read but the context lacks, as the
    /// policies spell them.
    pub missing_context_keys: Vec<&'a str>,
    /// Why the request is denied (`None` when allowed).
    pub denied_by: Option<DenyReason>,
    /// What each kind of policy said on its own.
    pub identity: Decision,
    pub resource: Decision,
    pub boundary: Option<Decision>,
    pub session: Option<Decision>,
}

impl Evaluation<'_> {
    pub fn allowed(&self) -> bool {
        self.verdict == Verdict::Allow
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Outcome {
    allowed: bool,
    denied: bool,
    /// The strongest way an applying `Allow` named the caller (resource policies).
    grant: Option<Grant>,
}

impl Outcome {
    fn decision(self) -> Decision {
        if self.denied {
            Decision::Deny
        } else if self.allowed {
            Decision::Allow
        } else {
            Decision::NoMatch
        }
    }
}

struct Collect<'a> {
    matched: Vec<MatchedStatement<'a>>,
    missing: Vec<&'a str>,
    record: bool,
}

fn add_missing<'a>(missing: &mut Vec<&'a str>, key: &'a str) {
    if !missing.iter().any(|m| m.eq_ignore_ascii_case(key)) {
        missing.push(key);
    }
}

/// Evaluates one kind of policy. `boundary`: the principal has a permissions boundary
/// (which makes `NotPrincipal` denials apply to it whatever they list: "The
/// `NotPrincipal` element with a Deny effect will always deny any IAM principal that
/// has a permissions boundary policy attached",
/// <https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html>).
fn evaluate_kind<'a>(
    source: Source,
    docs: &[(&'a str, &'a Document)],
    req: &Request<'_>,
    who: &Who<'_>,
    boundary: bool,
    out: &mut Collect<'a>,
) -> Outcome {
    let mut o = Outcome::default();
    for &(id, doc) in docs {
        let names = doc.kind().names_principals();
        for &index in doc.candidates(req.action) {
            let index = index as usize;
            let st = &doc.statements[index];
            if st.never || !st.action_matches(req.action) {
                continue;
            }
            let grant = if names {
                match &st.principals {
                    Some(Principals::Only(ids)) => match who.best_grant(ids) {
                        Some(g) => g,
                        None => continue,
                    },
                    Some(Principals::AllBut(ids)) => {
                        let deny = st.effect == Effect::Deny;
                        let bounded = deny && boundary && who.has_identity();
                        if !bounded && !who.not_principal_applies(ids, deny) {
                            continue;
                        }
                        Grant::Direct
                    }
                    None => continue,
                }
            } else {
                Grant::Direct
            };
            let (record, missing) = (out.record, &mut out.missing);
            let mut note = |k: &'a str| {
                if record {
                    add_missing(missing, k);
                }
            };
            if !st.resource_matches(req.resource, req.context, &mut note)
                || !st.conditions_hold(req.context, &mut note)
            {
                continue;
            }
            match st.effect {
                Effect::Deny => o.denied = true,
                Effect::Allow => {
                    o.allowed = true;
                    o.grant = o.grant.max(Some(grant));
                }
            }
            if out.record {
                out.matched.push(MatchedStatement {
                    source,
                    source_id: id,
                    sid: st.sid.as_deref(),
                    index,
                    effect: st.effect,
                    start: st.span.map(|s| s.0),
                    end: st.span.map(|s| s.1),
                });
            }
        }
    }
    o
}

/// Evaluates `req` against every policy in `set`, reporting what applied.
pub fn evaluate<'a>(req: &Request<'_>, set: &PolicySet<'a>) -> Evaluation<'a> {
    run(req, set, true)
}

/// The decision alone, for authorizing requests: nothing is recorded, nothing
/// allocated.
pub fn authorize(req: &Request<'_>, set: &PolicySet<'_>) -> Result<(), DenyReason> {
    run(req, set, false).denied_by.map_or(Ok(()), Err)
}

fn run<'a>(req: &Request<'_>, set: &PolicySet<'a>, record: bool) -> Evaluation<'a> {
    let who = Who::of(req.principal, set.session_source);
    let boundary_present = set.boundary.is_some();
    let mut out = Collect {
        matched: Vec::new(),
        missing: Vec::new(),
        record,
    };
    let id = evaluate_kind(
        Source::Identity,
        &set.identity,
        req,
        &who,
        boundary_present,
        &mut out,
    );
    let res = match &set.resource {
        Some(r) => evaluate_kind(
            Source::Resource,
            std::slice::from_ref(r),
            req,
            &who,
            boundary_present,
            &mut out,
        ),
        None => Outcome::default(),
    };
    let bnd = set.boundary.as_ref().map(|b| {
        evaluate_kind(
            Source::Boundary,
            std::slice::from_ref(b),
            req,
            &who,
            boundary_present,
            &mut out,
        )
    });
    let ses = (!set.session.is_empty()).then(|| {
        evaluate_kind(
            Source::Session,
            &set.session,
            req,
            &who,
            boundary_present,
            &mut out,
        )
    });

    let explicit = [
        (id.denied, DenyReason::IdentityExplicit),
        (res.denied, DenyReason::ResourceExplicit),
        (bnd.is_some_and(|b| b.denied), DenyReason::BoundaryExplicit),
        (ses.is_some_and(|s| s.denied), DenyReason::SessionExplicit),
    ]
    .into_iter()
    .find_map(|(denied, why)| denied.then_some(why));

    let outcome = match explicit {
        Some(why) => Err(why),
        None => decide(set, &who, id, res, bnd, ses),
    };
    Evaluation {
        verdict: match outcome {
            Ok(()) => Verdict::Allow,
            Err(why) if why.is_explicit() => Verdict::ExplicitDeny,
            Err(_) => Verdict::ImplicitDeny,
        },
        matched: out.matched,
        missing_context_keys: out.missing,
        denied_by: outcome.err(),
        identity: id.decision(),
        resource: res.decision(),
        boundary: bnd.map(Outcome::decision),
        session: ses.map(Outcome::decision),
    }
}

/// Steps 2 to 7 of the module comment, once no explicit deny applies.
fn decide(
    set: &PolicySet<'_>,
    who: &Who<'_>,
    id: Outcome,
    res: Outcome,
    bnd: Option<Outcome>,
    ses: Option<Outcome>,
) -> Result<(), DenyReason> {
    let grant = res.grant;
    if !who.has_identity() {
        return grant.map(|_| ()).ok_or(DenyReason::NoResourceAllow);
    }
    let root = set.is_root || who.root;
    // What limits a session's or bounded principal's permissions.
    let limits = || {
        if bnd.is_some_and(|b| !b.allowed) {
            return Err(DenyReason::BoundaryImplicit);
        }
        match ses {
            Some(s) if !s.allowed => Err(DenyReason::SessionImplicit),
            None if who.federated_user => Err(DenyReason::SessionImplicit),
            _ => Ok(()),
        }
    };
    let identity_side = || {
        if root {
            Ok(())
        } else if !id.allowed {
            Err(DenyReason::NoIdentityAllow)
        } else {
            limits()
        }
    };
    let same_account = set
        .resource_account
        .is_none_or(|r| r == set.principal_account);
    let required = set.resource_required
        || set
            .resource
            .is_some_and(|(_, d)| d.kind() == PolicyKind::Trust);
    if same_account {
        match grant {
            Some(Grant::Direct) => Ok(()),
            Some(Grant::Role) => limits(),
            Some(Grant::Account) => identity_side(),
            None if required => Err(DenyReason::NoResourceAllow),
            None => identity_side(),
        }
    } else {
        identity_side()?;
        grant.map(|_| ()).ok_or(DenyReason::NoResourceAllow)
    }
}

/// What one resource policy says about a request on its own (the old [`crate::Policy`]
/// interface): an applying `Deny`, an applying `Allow` however it names the caller, or
/// nothing.
pub(crate) fn resource_decision(req: &Request<'_>, doc: &Document) -> Decision {
    let who = Who::of(req.principal, None);
    let mut out = Collect {
        matched: Vec::new(),
        missing: Vec::new(),
        record: false,
    };
    evaluate_kind(Source::Resource, &[("", doc)], req, &who, false, &mut out).decision()
}
