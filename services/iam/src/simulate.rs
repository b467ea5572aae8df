//! The policy simulator (SimulatePrincipalPolicy, SimulateCustomPolicy) and the context
//! keys of policies (GetContextKeysForPrincipalPolicy, GetContextKeysForCustomPolicy),
//! answered by the engine that authorizes requests under `--enforce-iam`.
//!
//! What AWS answers, where its API reference is silent or wrong, is taken from answers
//! recorded against AWS (LocalStack's `test_simulate_principle_policy` snapshots, the
//! aws-cli examples, Terraform's acceptance tests, tools built on the simulator):
//! - every statement is reported as `SourcePolicyType` `IAM Policy` (identity policies),
//!   `Resource Policy` or `Permissions Boundary Policy`, with `SourcePolicyId` the
//!   managed policy's name, `user_<user>_<policy>` / `group_<group>_<policy>` /
//!   `role_<role>_<policy>` for inline ones, `PolicyInputList.N`,
//!   `PermissionsBoundaryPolicyInputList.1` and `ResourcePolicy`;
//! - `MatchedStatements` lists every statement that applied, whatever its effect (an
//!   explicit deny comes with the allows it overrode), the resource policy's first;
//! - a statement starts just after the token before it (the `[` or the previous
//!   statement's `}` in a list, the `{` of a lone statement object) and ends just after
//!   its `}`;
//! - with resources named, each action has one result and `ResourceSpecificResults`
//!   per resource; `EvalDecisionDetails` is empty within one account and says what each
//!   kind of policy decided across accounts; with one resource the result repeats the
//!   resource's, with several it names the action's resource type and the strictest
//!   decision;
//! - the simulation's context is the `ContextEntries` alone: keys the policies read that
//!   no entry supplies are `MissingContextValues`.
//!
//! `ResourceHandlingOption` (EC2's launch scenarios) is accepted and not checked:
//! nephos has no EC2 whose resources the scenarios name.

use crate::IamProvider;
use crate::actions::reference;
use crate::state::{self, Core};
use crate::util::{invalid_input, page, paged};
use nephos_core::{AwsError, RequestContext, Value};
use nephos_policy::engine::{self, Evaluation, MatchedStatement, PolicySet, Request, Source};
use nephos_policy::{Context, Decision, Document, PolicyKind, Position, Principal, Verdict};

pub const OPS: &[&str] = &[
    "GetContextKeysForCustomPolicy",
    "GetContextKeysForPrincipalPolicy",
    "SimulateCustomPolicy",
    "SimulatePrincipalPolicy",
];

pub async fn handle(
    p: &IamProvider,
    ctx: &RequestContext,
    op: &str,
    input: &Value,
) -> Result<Value, AwsError> {
    match op {
        "SimulatePrincipalPolicy" => simulate(p, ctx, input, true),
        "SimulateCustomPolicy" => simulate(p, ctx, input, false),
        "GetContextKeysForPrincipalPolicy" => context_keys(p, ctx, input, true),
        "GetContextKeysForCustomPolicy" => context_keys(p, ctx, input, false),
        _ => Err(AwsError::not_implemented("iam", op)),
    }
}

/// The caller a resource policy needs must be an IAM user.
const CALLER_MUST_BE_USER: &str = "Invalid caller - Caller must be an IAM user in this context.";

fn strings<'a>(input: &'a Value, member: &str) -> Vec<&'a str> {
    input
        .get(member)
        .and_then(Value::as_list)
        .unwrap_or_default()
        .iter()
        .filter_map(Value::as_str)
        .collect()
}

/// Which kind of policy a simulated document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Identity,
    Boundary,
    Resource,
}

impl Kind {
    fn source_type(self) -> &'static str {
        match self {
            Kind::Identity => "IAM Policy",
            Kind::Boundary => "Permissions Boundary Policy",
            Kind::Resource => "Resource Policy",
        }
    }
}

/// A policy the simulation takes into account, with the id AWS reports it by.
struct Input {
    id: String,
    kind: Kind,
    text: String,
    doc: Document,
}

impl Input {
    /// A stored document: IAM checked it when it was stored, so a strict parse (which
    /// gives the statements' positions) fails only on documents older rules let in,
    /// which are then read leniently.
    fn stored(id: String, kind: Kind, text: String) -> Input {
        let policy_kind = match kind {
            Kind::Boundary => PolicyKind::Boundary,
            _ => PolicyKind::Identity,
        };
        let doc = Document::parse(&text, policy_kind)
            .unwrap_or_else(|_| crate::enforce::lenient(&text, policy_kind));
        Input {
            id,
            kind,
            text,
            doc,
        }
    }

    /// A document the request passes, checked as IAM checks one of `policy_kind`.
    fn given(
        id: String,
        kind: Kind,
        text: &str,
        policy_kind: PolicyKind,
    ) -> Result<Input, AwsError> {
        let doc = Document::parse(text, policy_kind).map_err(|e| invalid_input(e.message))?;
        Ok(Input {
            id,
            kind,
            text: text.to_owned(),
            doc,
        })
    }
}

/// A user, group or role ARN, as `PolicySourceArn` names one.
struct Entity<'a> {
    account: &'a str,
    kind: &'static str,
    name: &'a str,
}

fn entity(arn: &str) -> Result<Entity<'_>, AwsError> {
    let unclear = || {
        invalid_input(format!(
            "Invalid Entity Arn: {arn} does not clearly define entity type and name."
        ))
    };
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let ["arn", _, "iam", "", account, resource] = parts.as_slice() else {
        return Err(unclear());
    };
    let kind = ["user", "group", "role"]
        .into_iter()
        .find(|k| resource.strip_prefix(k).is_some_and(|r| r.starts_with('/')))
        .ok_or_else(unclear)?;
    let name = state::arn_name(resource);
    if name.is_empty() || !nephos_core::is_account_id(account) {
        return Err(unclear());
    }
    Ok(Entity {
        account,
        kind,
        name,
    })
}

/// Policies `PolicyExclusionList` leaves out of a principal simulation.
struct Exclusions<'a> {
    arns: Vec<&'a str>,
    types: Vec<&'a str>,
    /// (attachment type, attachment name, policy name).
    inline: Vec<(&'a str, &'a str, &'a str)>,
}

impl<'a> Exclusions<'a> {
    fn of(input: &'a Value) -> Exclusions<'a> {
        let mut x = Exclusions {
            arns: Vec::new(),
            types: Vec::new(),
            inline: Vec::new(),
        };
        for item in input
            .get("PolicyExclusionList")
            .and_then(Value::as_list)
            .unwrap_or_default()
        {
            if let Some(arn) = item.str("PolicyArn") {
                x.arns.push(arn);
            }
            if let Some(t) = item.str("PolicyType") {
                x.types.push(t);
            }
            if let Some(i) = item.get("InlinePolicyIdentifier") {
                x.inline.push((
                    i.str("AttachmentType").unwrap_or_default(),
                    i.str("AttachmentName").unwrap_or_default(),
                    i.str("PolicyName").unwrap_or_default(),
                ));
            }
        }
        x
    }

    fn managed(&self, arn: &str) -> bool {
        let kind = if arn.starts_with("arn:aws:iam::aws:") {
            "aws-managed"
        } else {
            "user-managed"
        };
        self.arns.contains(&arn) || self.types.contains(&kind)
    }

    fn inline(&self, attachment: &str, owner: &str, policy: &str) -> bool {
        self.types.contains(&"inline")
            || self
                .inline
                .iter()
                .any(|&(t, o, p)| t == attachment && o.eq_ignore_ascii_case(owner) && p == policy)
    }

    fn boundary(&self, arn: &str) -> bool {
        self.types.contains(&"permission-boundary") || self.arns.contains(&arn)
    }
}

/// The policies of the user, group or role `arn` as the simulator names them: its
/// inline and attached policies (a user's groups' too), and its permissions boundary.
fn entity_policies(
    p: &IamProvider,
    ctx: &RequestContext,
    arn: &str,
    exclude: &Exclusions<'_>,
) -> Result<(Vec<Input>, Option<Input>), AwsError> {
    let e = entity(arn)?;
    if e.account != ctx.account_id {
        return Err(invalid_input(format!(
            "Invalid Policy Source Arn: caller's account {} does not have access to policies in account {}",
            ctx.account_id, e.account
        )));
    }
    let acct = p.account_of(e.account);
    let c = acct.core.read().unwrap();
    let mut identity = Vec::new();
    let inline = |out: &mut Vec<Input>,
                  kind: &str,
                  owner: &str,
                  policies: &std::collections::BTreeMap<String, String>| {
        for (name, doc) in policies {
            if !exclude.inline(kind, owner, name) {
                out.push(Input::stored(
                    format!("{kind}_{owner}_{name}"),
                    Kind::Identity,
                    doc.clone(),
                ));
            }
        }
    };
    let attached = |out: &mut Vec<Input>, arns: &[String]| {
        for a in arns.iter().filter(|a| !exclude.managed(a)) {
            if let Some(doc) = c.managed_document(a) {
                out.push(Input::stored(
                    state::arn_name(a).to_owned(),
                    Kind::Identity,
                    doc,
                ));
            }
        }
    };
    let boundary = |b: &Option<String>, c: &Core| {
        b.as_ref().filter(|a| !exclude.boundary(a)).and_then(|a| {
            c.managed_document(a)
                .map(|doc| Input::stored(state::arn_name(a).to_owned(), Kind::Boundary, doc))
        })
    };
    match e.kind {
        "user" => {
            let u = c.user_by_arn(arn).ok_or_else(|| state::no_user(e.name))?;
            inline(&mut identity, "user", &u.name, &u.inline);
            attached(&mut identity, &u.attached);
            for g in u.groups.iter().filter_map(|id| c.group_by_id(id)) {
                inline(&mut identity, "group", &g.name, &g.inline);
                attached(&mut identity, &g.attached);
            }
            Ok((identity, boundary(&u.boundary, &c)))
        }
        "group" => {
            let g = c.group_by_arn(arn).ok_or_else(|| state::no_group(e.name))?;
            inline(&mut identity, "group", &g.name, &g.inline);
            attached(&mut identity, &g.attached);
            Ok((identity, None))
        }
        _ => {
            let r = c.role_by_arn(arn).ok_or_else(|| state::no_role(e.name))?;
            inline(&mut identity, "role", &r.name, &r.inline);
            attached(&mut identity, &r.attached);
            Ok((identity, boundary(&r.boundary, &c)))
        }
    }
}

/// Whether `arn` is an IAM user's ARN.
fn is_user_arn(arn: &str) -> bool {
    entity(arn).is_ok_and(|e| e.kind == "user")
}

/// An account id from `ResourceOwner`: the id or the account's root ARN.
fn owner_account(owner: &str) -> Result<&str, AwsError> {
    let account = owner
        .strip_prefix("arn:aws:iam::")
        .and_then(|r| r.strip_suffix(":root"))
        .unwrap_or(owner);
    if nephos_core::is_account_id(account) {
        Ok(account)
    } else {
        Err(invalid_input(format!(
            "'{owner}' is not a valid as a Resource Owner."
        )))
    }
}

fn simulate(
    p: &IamProvider,
    ctx: &RequestContext,
    input: &Value,
    principal_policy: bool,
) -> Result<Value, AwsError> {
    let source_arn = input.str("PolicySourceArn").unwrap_or_default();
    let exclude = Exclusions::of(input);
    let (mut identity, mut boundary) = if principal_policy {
        entity_policies(p, ctx, source_arn, &exclude)?
    } else {
        (Vec::new(), None)
    };
    for (i, text) in strings(input, "PolicyInputList").iter().enumerate() {
        identity.push(Input::given(
            format!("PolicyInputList.{}", i + 1),
            Kind::Identity,
            text,
            PolicyKind::Identity,
        )?);
    }
    let boundaries = strings(input, "PermissionsBoundaryPolicyInputList");
    if boundaries.len() > 1 {
        return Err(invalid_input(
            "The list of Permissions Boundary policies cannot exceed 1 items.",
        ));
    }
    if let Some(text) = boundaries.first() {
        // "the new permissions boundary policy is used for the simulation".
        boundary = Some(Input::given(
            "PermissionsBoundaryPolicyInputList.1".to_owned(),
            Kind::Boundary,
            text,
            PolicyKind::Boundary,
        )?);
    }
    let resource_policy = match input.str("ResourcePolicy") {
        Some(text) => Some(
            Input::given(
                "ResourcePolicy".to_owned(),
                Kind::Resource,
                text,
                PolicyKind::Resource,
            )
            // A role's trust policy is a resource policy without `Resource`.
            .or_else(|e| {
                Input::given(
                    "ResourcePolicy".to_owned(),
                    Kind::Resource,
                    text,
                    PolicyKind::Trust,
                )
                .map_err(|_| e)
            })?,
        ),
        None => None,
    };

    // The caller: `CallerArn`, else the simulated user. Only users may be callers.
    let caller_arn = match input.str("CallerArn") {
        Some(arn) if !is_user_arn(arn) => return Err(invalid_input(CALLER_MUST_BE_USER)),
        Some(arn) => Some(arn),
        None => (principal_policy && is_user_arn(source_arn)).then_some(source_arn),
    };
    if resource_policy.is_some() && caller_arn.is_none() {
        return Err(invalid_input(CALLER_MUST_BE_USER));
    }
    let caller_account = caller_arn
        .and_then(|a| a.split(':').nth(4))
        .unwrap_or(&ctx.account_id)
        .to_owned();
    let principal = Principal::Aws {
        account: caller_account.clone(),
        arn: caller_arn
            .or(principal_policy.then_some(source_arn))
            .unwrap_or_default()
            .to_owned(),
    };
    let owner = match input.str("ResourceOwner") {
        Some(o) => Some(owner_account(o)?.to_owned()),
        None => None,
    };

    let mut context = Context::new();
    for e in input
        .get("ContextEntries")
        .and_then(Value::as_list)
        .unwrap_or_default()
    {
        if let Some(key) = e.str("ContextKeyName") {
            context.set_many(key, strings(e, "ContextKeyValues"));
        }
    }

    let sim = Simulation {
        identity: &identity,
        boundary: boundary.as_ref(),
        resource_policy: resource_policy.as_ref(),
        principal: &principal,
        caller_account: &caller_account,
        owner: owner.as_deref(),
        context: &context,
    };
    let resources: Vec<&str> = strings(input, "ResourceArns")
        .into_iter()
        .filter(|r| *r != "*")
        .collect();
    let mut results = Vec::new();
    for (i, action) in strings(input, "ActionNames").into_iter().enumerate() {
        results.push((format!("{i:08}"), sim.result(action, &resources)));
    }
    let (page, next) = page(results, input)?;
    Ok(paged(
        Value::map().with("EvaluationResults", Value::List(page)),
        next,
    ))
}

/// The policies and request of one simulation.
struct Simulation<'a> {
    identity: &'a [Input],
    boundary: Option<&'a Input>,
    resource_policy: Option<&'a Input>,
    principal: &'a Principal,
    caller_account: &'a str,
    /// `ResourceOwner`: the account of resources whose ARN names none, and of the
    /// resource policy.
    owner: Option<&'a str>,
    context: &'a Context,
}

/// One action on one resource, simulated.
struct Outcome {
    resource: String,
    decision: &'static str,
    matched: Value,
    missing: Value,
    /// `PermissionsBoundaryDecisionDetail`'s `AllowedByPermissionsBoundary`.
    boundary: Option<bool>,
    /// What each kind of policy decided, across accounts only.
    details: Option<Value>,
}

impl Simulation<'_> {
    /// Whose resource `resource` is: the account its ARN names, else `ResourceOwner`,
    /// else the caller's. `*` and wildcards in the account are the caller's.
    fn owner_of<'r>(&'r self, resource: &'r str) -> &'r str {
        match resource.split(':').nth(4) {
            Some(a) if nephos_core::is_account_id(a) => a,
            _ => self.owner.unwrap_or(self.caller_account),
        }
    }

    fn evaluate(&self, action: &str, resource: &str) -> Outcome {
        let owner = self.owner_of(resource);
        let cross = owner != self.caller_account;
        let mut set = PolicySet::new(self.caller_account);
        set.identity = self
            .identity
            .iter()
            .map(|i| (i.id.as_str(), &i.doc))
            .collect();
        set.boundary = self.boundary.map(|b| (b.id.as_str(), &b.doc));
        set.resource = self.resource_policy.map(|r| (r.id.as_str(), &r.doc));
        set.resource_account = cross.then_some(owner);
        let request = Request {
            principal: self.principal,
            action,
            resource,
            context: self.context,
        };
        let e = engine::evaluate(&request, &set);
        let details = cross.then(|| {
            let mut d = Value::map()
                .with("IAM Policy", decision_of(e.identity))
                .with("Resource Policy", decision_of(e.resource));
            if let Some(b) = e.boundary {
                d.insert("Permissions Boundary Policy", decision_of(b));
            }
            d
        });
        Outcome {
            resource: resource.to_owned(),
            decision: verdict(e.verdict),
            matched: self.matched(&e),
            missing: Value::List(
                e.missing_context_keys
                    .iter()
                    .map(|k| Value::from(*k))
                    .collect(),
            ),
            boundary: e.boundary.map(|b| b == Decision::Allow),
            details,
        }
    }

    /// The statements that applied, resource policy first, with their positions.
    fn matched(&self, e: &Evaluation<'_>) -> Value {
        let order = |m: &&MatchedStatement<'_>| match m.source {
            Source::Resource => 0,
            Source::Identity => 1,
            Source::Boundary => 2,
            Source::Session => 3,
        };
        let mut matched: Vec<&MatchedStatement<'_>> = e.matched.iter().collect();
        matched.sort_by_key(order);
        Value::List(
            matched
                .into_iter()
                .filter_map(|m| {
                    let input = self
                        .identity
                        .iter()
                        .chain(self.boundary)
                        .chain(self.resource_policy)
                        .find(|i| i.id == m.source_id)?;
                    let mut s = Value::map()
                        .with("SourcePolicyId", m.source_id)
                        .with("SourcePolicyType", input.kind.source_type());
                    if let (Some(start), Some(end)) = (m.start, m.end) {
                        let start = statement_start(&input.text, start);
                        s = s
                            .with("StartPosition", position(start))
                            .with("EndPosition", position(end));
                    }
                    Some(s)
                })
                .collect(),
        )
    }

    /// The `EvaluationResult` of `action` on `resources` (none: every resource, `*`).
    fn result(&self, action: &str, resources: &[&str]) -> Value {
        let with_boundary = |mut v: Value, allowed: Option<bool>| {
            if let Some(allowed) = allowed {
                v.insert(
                    "PermissionsBoundaryDecisionDetail",
                    Value::map().with("AllowedByPermissionsBoundary", allowed),
                );
            }
            v
        };
        if resources.is_empty() {
            let o = self.evaluate(action, "*");
            let r = Value::map()
                .with("EvalActionName", action)
                .with("EvalResourceName", "*")
                .with("EvalDecision", o.decision)
                .with("MatchedStatements", o.matched)
                .with("MissingContextValues", o.missing);
            return with_boundary(r, o.boundary);
        }
        let outcomes: Vec<Outcome> = resources.iter().map(|r| self.evaluate(action, r)).collect();
        let strictest = ["explicitDeny", "implicitDeny"]
            .into_iter()
            .find(|d| outcomes.iter().any(|o| o.decision == *d))
            .unwrap_or("allowed");
        let boundary = outcomes
            .iter()
            .map(|o| o.boundary)
            .reduce(|a, b| a.zip(b).map(|(a, b)| a && b))
            .flatten();
        let details = outcomes
            .iter()
            .find_map(|o| o.details.clone())
            .unwrap_or_else(Value::map);
        let (name, matched) = match outcomes.as_slice() {
            [one] => (one.resource.clone(), one.matched.clone()),
            _ => (
                resource_type(action, resources).unwrap_or_else(|| "*".to_owned()),
                Value::List(Vec::new()),
            ),
        };
        let specific = outcomes
            .into_iter()
            .map(|o| {
                let mut r = Value::map()
                    .with("EvalResourceName", o.resource)
                    .with("EvalResourceDecision", o.decision)
                    .with("MatchedStatements", o.matched)
                    .with("MissingContextValues", o.missing);
                if let Some(d) = o.details {
                    r.insert("EvalDecisionDetails", d);
                }
                with_boundary(r, o.boundary)
            })
            .collect();
        let r = Value::map()
            .with("EvalActionName", action)
            .with("EvalResourceName", name)
            .with("EvalDecision", strictest)
            .with("MatchedStatements", matched)
            .with("MissingContextValues", Value::List(Vec::new()))
            .with("EvalDecisionDetails", details)
            .with("ResourceSpecificResults", Value::List(specific));
        with_boundary(r, boundary)
    }
}

/// The ARN template of the resource type of `action` that every one of `resources` is
/// of (`arn:aws:s3:::${BucketName}/${ObjectName}`), as the simulator names the
/// resources of one action.
fn resource_type(action: &str, resources: &[&str]) -> Option<String> {
    let (_, a) = reference::action(action)?;
    let service = reference::service(action.split(':').next()?.to_ascii_lowercase().as_str())?;
    a.resources.iter().find_map(|r| {
        let template = &service.resources.get(&r.kind)?.arn;
        resources
            .iter()
            .all(|arn| reference::matches_template(template, arn))
            .then(|| template.replace("${Partition}", "aws"))
    })
}

fn verdict(v: Verdict) -> &'static str {
    match v {
        Verdict::Allow => "allowed",
        Verdict::ExplicitDeny => "explicitDeny",
        Verdict::ImplicitDeny => "implicitDeny",
    }
}

fn decision_of(d: Decision) -> &'static str {
    match d {
        Decision::Allow => "allowed",
        Decision::Deny => "explicitDeny",
        Decision::NoMatch => "implicitDeny",
    }
}

fn position(p: Position) -> Value {
    Value::map()
        .with("Line", p.line as i64)
        .with("Column", p.column as i64)
}

/// Where the simulator says a statement starts, from where the engine says (just after
/// its `{`): in a list, just after the token before the statement (the `[`, or the
/// previous statement's `}`); a lone statement object, just after its `{`.
fn statement_start(text: &str, after_brace: Position) -> Position {
    let Some(offset) = offset_of(text, after_brace) else {
        return after_brace;
    };
    let b = text.as_bytes();
    if offset == 0 || b.get(offset - 1) != Some(&b'{') {
        return after_brace;
    }
    let before = |mut i: usize| {
        while i > 0 && b[i - 1].is_ascii_whitespace() {
            i -= 1;
        }
        i.checked_sub(1)
    };
    match before(offset - 1).map(|i| (i, b[i])) {
        Some((i, b'[')) => position_of(text, i + 1),
        Some((i, b',')) => match before(i) {
            Some(j) => position_of(text, j + 1),
            None => after_brace,
        },
        _ => after_brace,
    }
}

/// The byte offset of a 1-based line and column (columns count characters).
fn offset_of(text: &str, p: Position) -> Option<usize> {
    let line_start = if p.line <= 1 {
        0
    } else {
        text.match_indices('\n').nth(p.line - 2)?.0 + 1
    };
    let line = &text[line_start..];
    let within = line
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(line.len()))
        .nth(p.column.checked_sub(1)?)?;
    Some(line_start + within)
}

/// The 1-based line and column of byte `offset`.
fn position_of(text: &str, offset: usize) -> Position {
    let head = &text[..offset];
    let line_start = head.rfind('\n').map_or(0, |i| i + 1);
    Position {
        line: head.matches('\n').count() + 1,
        column: head[line_start..].chars().count() + 1,
    }
}

fn context_keys(
    p: &IamProvider,
    ctx: &RequestContext,
    input: &Value,
    principal: bool,
) -> Result<Value, AwsError> {
    let mut docs = Vec::new();
    if principal {
        let arn = input.str("PolicySourceArn").unwrap_or_default();
        let none = Exclusions {
            arns: Vec::new(),
            types: Vec::new(),
            inline: Vec::new(),
        };
        let (identity, _) = entity_policies(p, ctx, arn, &none)?;
        docs.extend(identity.into_iter().map(|i| i.doc));
    }
    for text in strings(input, "PolicyInputList") {
        docs.push(
            Document::parse(text, PolicyKind::Identity).map_err(|e| invalid_input(e.message))?,
        );
    }
    let mut keys: Vec<String> = Vec::new();
    for d in &docs {
        for k in d.context_keys() {
            if !keys.iter().any(|have| have.eq_ignore_ascii_case(&k)) {
                keys.push(k);
            }
        }
    }
    Ok(Value::map().with(
        "ContextKeyNames",
        Value::List(keys.into_iter().map(Value::from).collect()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(line: usize, column: usize) -> Position {
        Position { line, column }
    }

    fn starts(text: &str) -> Vec<(Position, Position)> {
        let doc = Document::parse(text, PolicyKind::Identity).unwrap();
        let principal = Principal::Aws {
            account: "111122223333".into(),
            arn: String::new(),
        };
        let ctx = Context::new();
        let mut set = PolicySet::new("111122223333");
        set.identity = vec![("p", &doc)];
        let req = Request {
            principal: &principal,
            action: "s3:GetObject",
            resource: "arn:aws:s3:::b/k",
            context: &ctx,
        };
        engine::evaluate(&req, &set)
            .matched
            .iter()
            .map(|m| (statement_start(text, m.start.unwrap()), m.end.unwrap()))
            .collect()
    }

    #[test]
    fn statements_are_placed_as_the_simulator_places_them() {
        // LocalStack's recorded answer: a lone statement object, from just after its
        // `{` (column 41) to just after its `}` (113).
        let lone = r#"{"Version": "2012-10-17", "Statement": {"Sid": "", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}}"#;
        assert_eq!(starts(lone), vec![(at(1, 41), at(1, 113))]);
        // In a list: just after the `[`, then just after the previous `}` (its comma).
        let list = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"},{"Effect":"Deny","Action":"s3:GetObject","Resource":"*"}]}"#;
        let first_end = list.find('}').unwrap() + 2;
        assert_eq!(
            starts(list),
            vec![
                (at(1, 38), at(1, first_end)),
                (at(1, first_end), at(1, list.len() - 1))
            ]
        );
        // aws-cli's simulate-principal-policy example: line 3 column 19 to line 9
        // column 10.
        let pretty = "{\n    \"Version\": \"2012-10-17\",\n    \"Statement\": [\n        {\n            \"Sid\": \"Grant\",\n            \"Effect\": \"Allow\",\n            \"Action\": \"s3:GetObject\",\n            \"Resource\": \"*\"\n        }\n    ]\n}";
        assert_eq!(starts(pretty), vec![(at(3, 19), at(9, 10))]);
    }

    #[test]
    fn entity_arns() {
        let e = entity("arn:aws:iam::111122223333:user/dev/alice").unwrap();
        assert_eq!(
            (e.account, e.kind, e.name),
            ("111122223333", "user", "alice")
        );
        assert_eq!(
            entity("arn:aws:iam::111122223333:group/devs").unwrap().kind,
            "group"
        );
        let err = entity("arn:aws:sts::111122223333:assumed-role/r/s")
            .err()
            .unwrap();
        assert_eq!(err.code, "InvalidInput");
        assert_eq!(
            err.message,
            "Invalid Entity Arn: arn:aws:sts::111122223333:assumed-role/r/s does not clearly define entity type and name."
        );
        assert!(entity("arn:aws:iam::111122223333:root").is_err());
        assert!(entity("arn:aws:iam::111122223333:users/x").is_err());
    }
}
