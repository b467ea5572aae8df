//! Resource policies: AddPermission, RemovePermission, GetPolicy, and the check a service
//! principal's invocation passes (S3, SNS, EventBridge invoking a function).

use crate::Lambda;
use crate::functions::{conflict, invalid, mutate, not_found, target, with_function};
use crate::model::{Function, FunctionRef, LATEST, qualified_arn, revision_id};
use nephos_core::{AwsError, RequestContext, Value};
use serde_json::json;

fn no_policy() -> AwsError {
    AwsError::new(
        404,
        "ResourceNotFoundException",
        "No policy is associated with the given resource.",
    )
}

/// The revision id of what a qualifier names (a policy lives on it): `$LATEST`'s for
/// the unqualified function, else the version's or the alias's.
fn revision_of<'a>(f: &'a mut Function, q: Option<&str>) -> Option<&'a mut String> {
    match q {
        None | Some(LATEST) => Some(&mut f.latest.revision_id),
        Some(q) => match q.parse::<u64>() {
            Ok(n) => f.versions.get_mut(&n).map(|c| &mut c.revision_id),
            Err(_) => f.aliases.get_mut(q).map(|a| &mut a.revision_id),
        },
    }
}

/// AWS accepts `*`, an account id, an ARN or a service principal.
fn valid_principal(p: &str) -> bool {
    p == "*"
        || nephos_core::is_account_id(p)
        || p.starts_with("arn:")
        || p.ends_with(".amazonaws.com")
        || p.ends_with(".amazonaws.com.cn")
}

/// The qualifier names a version or an alias of `f` (each with its own not-found text).
fn check_qualifier(
    ctx: &RequestContext,
    f: &Function,
    name: &str,
    q: Option<&str>,
) -> Result<(), AwsError> {
    match q {
        // Only a name that could be an alias's is reported as a missing alias.
        Some(a)
            if a.parse::<u64>().is_err()
                && a.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                && !f.aliases.contains_key(a) =>
        {
            Err(AwsError::new(
                404,
                "ResourceNotFoundException",
                format!(
                    "Cannot find alias arn: {}",
                    qualified_arn(&ctx.region, &ctx.account_id, name, Some(a))
                ),
            ))
        }
        _ if f.resolve(q).is_none() => Err(not_found(ctx, name, q)),
        _ => Ok(()),
    }
}

fn principal(p: &str) -> serde_json::Value {
    if p == "*" {
        json!("*")
    } else if p.ends_with(".amazonaws.com") || p.ends_with(".amazonaws.com.cn") {
        json!({ "Service": p })
    } else if nephos_core::is_account_id(p) {
        json!({ "AWS": format!("arn:aws:iam::{p}:root") })
    } else {
        json!({ "AWS": p })
    }
}

pub async fn add_permission(
    l: &Lambda,
    ctx: &RequestContext,
    input: &Value,
) -> Result<Value, AwsError> {
    let (name, q) = target(ctx, input)?;
    if q.as_deref() == Some(LATEST) {
        return Err(invalid(
            "We currently do not support adding policies for $LATEST.",
        ));
    }
    if !valid_principal(input.str("Principal").unwrap_or_default()) {
        return Err(invalid(
            "The provided principal was invalid. Please check the principal and try again.",
        ));
    }
    let sid = input.str("StatementId").unwrap_or_default().to_owned();
    let resource = qualified_arn(&ctx.region, &ctx.account_id, &name, q.as_deref());
    let mut statement = json!({
        "Sid": sid,
        "Effect": "Allow",
        "Principal": principal(input.str("Principal").unwrap_or_default()),
        "Action": input.str("Action").unwrap_or_default(),
        "Resource": resource,
    });
    let mut conditions = serde_json::Map::new();
    if let Some(a) = input.str("SourceArn") {
        conditions.insert("ArnLike".into(), json!({ "AWS:SourceArn": a }));
    }
    let mut equals = serde_json::Map::new();
    if let Some(a) = input.str("SourceAccount") {
        equals.insert("AWS:SourceAccount".into(), json!(a));
    }
    if let Some(o) = input.str("PrincipalOrgID") {
        equals.insert("aws:PrincipalOrgID".into(), json!(o));
    }
    if let Some(t) = input.str("EventSourceToken") {
        equals.insert("lambda:EventSourceToken".into(), json!(t));
    }
    if let Some(t) = input.str("FunctionUrlAuthType") {
        equals.insert("lambda:FunctionUrlAuthType".into(), json!(t));
    }
    if !equals.is_empty() {
        conditions.insert("StringEquals".into(), serde_json::Value::Object(equals));
    }
    if !conditions.is_empty() {
        statement["Condition"] = serde_json::Value::Object(conditions);
    }
    let text = statement.to_string();
    mutate(l, ctx, &name, q.as_deref(), |f| {
        check_qualifier(ctx, f, &name, q.as_deref())?;
        if let Some(r) = input.str("RevisionId")
            && Some(r) != revision_of(f, q.as_deref()).map(|r| r.as_str())
        {
            return Err(AwsError::new(
                412,
                "PreconditionFailedException",
                "The Revision Id provided does not match the latest Revision Id. Call the GetPolicy API to retrieve the latest Revision Id",
            ));
        }
        let list = f.policies.entry(q.clone().unwrap_or_default()).or_default();
        if list.iter().any(|s| s["Sid"] == sid.as_str()) {
            return Err(conflict(format!(
                "The statement id ({sid}) provided already exists. Please provide a new statement id, or remove the existing statement."
            )));
        }
        list.push(statement);
        // A policy change is a change of the function (or version, or alias).
        if let Some(r) = revision_of(f, q.as_deref()) {
            *r = revision_id();
        }
        Ok(Value::map().with("Statement", text))
    })
    .await
}

pub async fn remove_permission(
    l: &Lambda,
    ctx: &RequestContext,
    input: &Value,
) -> Result<Value, AwsError> {
    let (name, q) = target(ctx, input)?;
    let sid = input.str("StatementId").unwrap_or_default().to_owned();
    if !l
        .regions
        .get(ctx)
        .functions
        .lock()
        .unwrap()
        .contains_key(&name)
    {
        return Err(AwsError::new(
            404,
            "ResourceNotFoundException",
            format!(
                "No policy found for: {}",
                qualified_arn(&ctx.region, &ctx.account_id, &name, q.as_deref())
            ),
        ));
    }
    mutate(l, ctx, &name, q.as_deref(), |f| {
        check_qualifier(ctx, f, &name, q.as_deref())?;
        let key = q.clone().unwrap_or_default();
        let list = f.policies.get_mut(&key).ok_or_else(no_policy)?;
        let before = list.len();
        list.retain(|s| s["Sid"] != sid.as_str());
        if list.len() == before {
            return Err(AwsError::new(
                404,
                "ResourceNotFoundException",
                format!("Statement {sid} is not found in resource policy."),
            ));
        }
        // An emptied policy stays (GetPolicy then answers that the resource does not
        // exist, rather than that it has no policy, as AWS does).
        if let Some(r) = revision_of(f, q.as_deref()) {
            *r = revision_id();
        }
        Ok(Value::map())
    })
    .await
}

pub fn get_policy(l: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value, AwsError> {
    let (name, q) = target(ctx, input)?;
    with_function(l, ctx, &name, q.as_deref(), |f| {
        if f.resolve(q.as_deref()).is_none() {
            return Err(AwsError::new(
                404,
                "ResourceNotFoundException",
                "The resource you requested does not exist.",
            ));
        }
        let list = f
            .policies
            .get(&q.clone().unwrap_or_default())
            .ok_or_else(no_policy)?;
        if list.is_empty() {
            return Err(AwsError::new(
                404,
                "ResourceNotFoundException",
                "The resource you requested does not exist.",
            ));
        }
        let doc = json!({"Version": "2012-10-17", "Id": "default", "Statement": list});
        let revision = match q.as_deref() {
            None | Some(LATEST) => f.latest.revision_id.clone(),
            Some(q) => f
                .resolve(Some(q))
                .map(|(_, c)| c.revision_id.clone())
                .filter(|_| q.parse::<u64>().is_ok())
                .or_else(|| f.aliases.get(q).map(|a| a.revision_id.clone()))
                .unwrap_or_default(),
        };
        Ok(Value::map()
            .with("Policy", doc.to_string())
            .with("RevisionId", revision))
    })
}

/// The IAM action a Lambda operation is authorized as.
fn action_of(operation: &str) -> String {
    match operation {
        "Invoke" | "InvokeAsync" => "lambda:InvokeFunction".to_owned(),
        op => format!("lambda:{op}"),
    }
}

/// Whether `f`'s resource policy (its unqualified statements and those of `qualifier`)
/// lets `caller` perform `action` on `resource`, as the engine every service shares
/// decides: principals by account, user, role session or service; conditions.
pub fn function_policy_allows(
    f: &Function,
    qualifier: Option<&str>,
    caller: &nephos_policy::Caller,
    action: &str,
    resource: &str,
) -> bool {
    let mut statements: Vec<&serde_json::Value> =
        f.policies.get("").into_iter().flatten().collect();
    if let Some(q) = qualifier {
        statements.extend(f.policies.get(q).into_iter().flatten());
    }
    if statements.is_empty() {
        return false;
    }
    let doc = json!({"Version": "2012-10-17", "Statement": statements}).to_string();
    nephos_policy::allows(&doc, caller, action, resource)
}

/// The caller of a request as a function's policy sees it.
pub fn caller_of(ctx: &RequestContext) -> nephos_policy::Caller {
    let mut caller = nephos_policy::Caller::from_context(&ctx.account_id, &ctx.caller_arn);
    caller.keys.extend(ctx.global_condition_keys());
    caller
}

/// A request naming another account's function by ARN acts in that account when the
/// function's resource policy grants the caller the operation (AWS's cross-account
/// access); the context it then runs with. `None`: the request stays in its own account
/// (where a function of another account is not found).
pub fn acting_context(l: &Lambda, ctx: &RequestContext, input: &Value) -> Option<RequestContext> {
    let r = FunctionRef::parse(input.str("FunctionName")?).ok()?;
    let owner = r.account?;
    if owner == ctx.account_id || r.region.as_deref().is_some_and(|x| x != ctx.region) {
        return None;
    }
    let qualifier = r.qualifier.as_deref().or(input.str("Qualifier"));
    let region = l.regions.get_for(&owner, &ctx.region);
    let fns = region.functions.lock().unwrap();
    let f = fns.get(&r.name)?;
    let resource = qualified_arn(&ctx.region, &owner, &r.name, qualifier);
    let granted = function_policy_allows(
        f,
        qualifier,
        &caller_of(ctx),
        &action_of(&ctx.operation),
        &resource,
    );
    granted.then(|| {
        let mut acting = ctx.clone();
        acting.account_id = owner;
        acting
    })
}
