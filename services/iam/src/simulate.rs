//! The policy simulator (SimulatePrincipalPolicy, SimulateCustomPolicy) and the context
//! keys of policies (GetContextKeysForPrincipalPolicy, GetContextKeysForCustomPolicy),
//! answered by the same engine that authorizes requests under `--enforce-iam`.

use crate::IamProvider;
use nephos_core::{AwsError, RequestContext, Value};
use nephos_policy::{
    Context, Document, Effect, Evaluation, MatchedStatement, PolicyKind, PolicySet, Principal,
    Request, Source, Verdict,
};

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
        "GetContextKeysForPrincipalPolicy" => context_keys(p, input, true),
        "GetContextKeysForCustomPolicy" => context_keys(p, input, false),
        _ => Err(AwsError::not_implemented("iam", op)),
    }
}

fn invalid(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "InvalidInput", message)
}

fn strings<'a>(input: &'a Value, member: &str) -> Vec<&'a str> {
    match input.get(member) {
        Some(Value::List(l)) => l.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// A policy the simulation takes into account, with the id and type AWS reports it by.
struct Input {
    id: String,
    kind: &'static str,
    doc: Document,
}

/// Parses a policy a caller passed, with IAM's message for a malformed one.
fn parse(text: &str, kind: PolicyKind) -> Result<Document, AwsError> {
    Document::parse(text, kind)
        .map_err(|e| AwsError::new(400, "MalformedPolicyDocument", e.to_string()))
}

/// The stored policies of the entity `arn` (a user, group or role), as the simulator
/// names them: inline ones by their name (`user`, `group`, `role`), managed ones by
/// ARN (`aws-managed`, `user-managed`).
fn principal_inputs(p: &IamProvider, arn: &str) -> Result<(Vec<Input>, Option<Input>), AwsError> {
    let policies = p.principal_policies(arn).ok_or_else(|| {
        AwsError::new(404, "NoSuchEntity", format!("Entity {arn} does not exist."))
    })?;
    let describe = |(source, text): (String, String)| {
        let (id, kind) = if source.starts_with("arn:aws:iam::aws:policy/") {
            (source, "aws-managed")
        } else if source.starts_with("arn:") {
            (source, "user-managed")
        } else {
            // user/<name>/<policy>, group/<name>/<policy>, role/<name>/<policy>
            let mut parts = source.splitn(3, '/');
            let kind = match parts.next() {
                Some("group") => "group",
                Some("role") => "role",
                _ => "user",
            };
            (parts.nth(1).unwrap_or_default().to_owned(), kind)
        };
        let doc = Document::parse(&text, PolicyKind::Identity)
            .unwrap_or_else(|_| crate::enforce::lenient(&text, PolicyKind::Identity));
        Input { id, kind, doc }
    };
    let identity = policies.identity.into_iter().map(describe).collect();
    let boundary = policies.boundary.map(describe);
    Ok((identity, boundary))
}

fn simulate(
    p: &IamProvider,
    ctx: &RequestContext,
    input: &Value,
    principal_policy: bool,
) -> Result<Value, AwsError> {
    let mut identity = Vec::new();
    let mut boundary = None;
    let source_arn = input.str("PolicySourceArn");
    if principal_policy {
        let arn = source_arn.unwrap_or_default();
        let (stored, stored_boundary) = principal_inputs(p, arn)?;
        identity = stored;
        boundary = stored_boundary;
    }
    for (i, text) in strings(input, "PolicyInputList").iter().enumerate() {
        identity.push(Input {
            id: format!("PolicyInputList.{}", i + 1),
            kind: "none",
            doc: parse(text, PolicyKind::Identity)?,
        });
    }
    for (i, text) in strings(input, "PermissionsBoundaryPolicyInputList")
        .iter()
        .enumerate()
    {
        boundary = Some(Input {
            id: format!("PermissionsBoundaryPolicyInputList.{}", i + 1),
            kind: "none",
            doc: parse(text, PolicyKind::Boundary)?,
        });
    }
    let resource_policy = match input.str("ResourcePolicy") {
        Some(text) => Some(Input {
            id: "ResourcePolicy".to_owned(),
            kind: "resource",
            doc: parse(text, PolicyKind::Resource)?,
        }),
        None => None,
    };
    let caller_arn = input
        .str("CallerArn")
        .or(source_arn.filter(|a| a.contains(":user/") || a.contains(":role/")));
    if resource_policy.is_some() && caller_arn.is_none() {
        return Err(invalid(
            "Invalid Input: CallerArn is required when a resource policy is specified.",
        ));
    }
    let caller_arn = caller_arn
        .map(str::to_owned)
        .unwrap_or_else(|| format!("arn:aws:iam::{}:user/simulated", ctx.account_id));
    let account = caller_arn
        .split(':')
        .nth(4)
        .filter(|a| !a.is_empty())
        .unwrap_or(&ctx.account_id)
        .to_owned();
    let principal = Principal::Aws {
        account: account.clone(),
        arn: caller_arn.clone(),
    };
    let mut context = Context::new();
    let user_id = p
        .principal_policies(&caller_arn)
        .map(|pp| pp.id)
        .filter(|id| !id.is_empty());
    context.set_principal(&principal, user_id.as_deref(), None);
    if let Some(Value::List(entries)) = input.get("ContextEntries") {
        for e in entries {
            let Some(key) = e.str("ContextKeyName") else {
                continue;
            };
            context.set_many(key, strings(e, "ContextKeyValues"));
        }
    }
    let actions = strings(input, "ActionNames");
    let mut resources = strings(input, "ResourceArns");
    let resources_given = !resources.is_empty();
    if resources.is_empty() {
        resources.push("*");
    }
    let resource_owner = input.str("ResourceOwner");
    let mut set = PolicySet::new(&account);
    set.identity = identity.iter().map(|i| (i.id.as_str(), &i.doc)).collect();
    set.boundary = boundary.as_ref().map(|b| (b.id.as_str(), &b.doc));
    set.resource = resource_policy.as_ref().map(|r| (r.id.as_str(), &r.doc));
    set.resource_account = resource_owner
        .and_then(|o| o.split(':').nth(4).or(Some(o)))
        .filter(|o| *o != account);
    let kind_of = |id: &str| -> &'static str {
        identity
            .iter()
            .chain(boundary.iter())
            .chain(resource_policy.iter())
            .find(|i| i.id == id)
            .map_or("none", |i| i.kind)
    };
    let mut results = Vec::new();
    for action in &actions {
        for resource in &resources {
            let request = Request {
                principal: &principal,
                action,
                resource,
                context: &context,
            };
            let e = nephos_policy::engine::evaluate(&request, &set);
            let mut r = Value::map()
                .with("EvalActionName", *action)
                .with("EvalResourceName", *resource)
                .with("EvalDecision", decision(e.verdict))
                .with("MatchedStatements", matched(&e, &kind_of))
                .with(
                    "MissingContextValues",
                    Value::List(
                        e.missing_context_keys
                            .iter()
                            .map(|k| Value::from(*k))
                            .collect(),
                    ),
                );
            if let Some(b) = e.boundary {
                r = r.with(
                    "PermissionsBoundaryDecisionDetail",
                    Value::map().with(
                        "AllowedByPermissionsBoundary",
                        b == nephos_policy::Decision::Allow,
                    ),
                );
            }
            if resources_given {
                r = r.with("EvalDecisionDetails", Value::map());
            }
            results.push(r);
        }
    }
    paginate(results, input)
}

/// The statements that decided: the denying ones when a deny applies, else the
/// allowing ones (AWS lists only the deny when there is one).
fn matched(e: &Evaluation<'_>, kind_of: &dyn Fn(&str) -> &'static str) -> Value {
    let deny = e.verdict == Verdict::ExplicitDeny;
    let pick = |m: &&MatchedStatement<'_>| {
        (m.effect == Effect::Deny) == deny && (deny || m.source != Source::Boundary)
    };
    Value::List(
        e.matched
            .iter()
            .filter(pick)
            .map(|m| {
                let mut s = Value::map()
                    .with("SourcePolicyId", m.source_id)
                    .with("SourcePolicyType", kind_of(m.source_id));
                if let (Some(start), Some(end)) = (m.start, m.end) {
                    s = s
                        .with(
                            "StartPosition",
                            Value::map()
                                .with("Line", start.line as i64)
                                .with("Column", start.column as i64),
                        )
                        .with(
                            "EndPosition",
                            Value::map()
                                .with("Line", end.line as i64)
                                .with("Column", end.column as i64),
                        );
                }
                s
            })
            .collect(),
    )
}

fn decision(v: Verdict) -> &'static str {
    match v {
        Verdict::Allow => "allowed",
        Verdict::ExplicitDeny => "explicitDeny",
        Verdict::ImplicitDeny => "implicitDeny",
    }
}

/// `MaxItems`/`Marker` over the results; the marker is the index of the next result.
fn paginate(results: Vec<Value>, input: &Value) -> Result<Value, AwsError> {
    let start = match input.str("Marker") {
        Some(m) => m
            .parse::<usize>()
            .ok()
            .filter(|i| *i <= results.len())
            .ok_or_else(|| invalid("Invalid Marker."))?,
        None => 0,
    };
    let max = input.int("MaxItems").unwrap_or(100).max(1) as usize;
    let end = (start + max).min(results.len());
    let truncated = end < results.len();
    let mut out = Value::map()
        .with(
            "EvaluationResults",
            Value::List(results[start..end].to_vec()),
        )
        .with("IsTruncated", truncated);
    if truncated {
        out = out.with("Marker", end.to_string());
    }
    Ok(out)
}

fn context_keys(p: &IamProvider, input: &Value, principal: bool) -> Result<Value, AwsError> {
    let mut docs = Vec::new();
    if principal {
        let arn = input.str("PolicySourceArn").unwrap_or_default();
        let (identity, _) = principal_inputs(p, arn)?;
        docs.extend(identity.into_iter().map(|i| i.doc));
    }
    for text in strings(input, "PolicyInputList") {
        docs.push(parse(text, PolicyKind::Identity)?);
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
