//! Settings that hang off a function, kept in its record: event invoke configurations
//! (retries, event age and destinations of asynchronous invocations, per qualifier),
//! provisioned concurrency, the recursion setting, runtime management and the attached
//! code signing configuration.

use crate::Lambda;
use crate::functions::{conflict, invalid, not_found, target};
use crate::model::{
    self, EventInvokeConfig, Function, LATEST, Provisioned, RuntimeManagement, qualified_arn,
};
use crate::signing;
use crate::state;
use nephos_core::{AwsError, RequestContext, Timestamp, Value};

/// Changes the function `name` (or fails with `missing`) and stores it before answering.
async fn change<T>(
    l: &Lambda,
    ctx: &RequestContext,
    name: &str,
    missing: impl FnOnce() -> AwsError,
    change: impl FnOnce(&mut Function) -> Result<T, AwsError>,
) -> Result<T, AwsError> {
    let region = l.regions.get(ctx);
    let (out, record) = {
        let mut fns = region.functions.lock().unwrap();
        let f = fns.get_mut(name).ok_or_else(missing)?;
        let out = change(f)?;
        (out, state::put(ctx, f)?)
    };
    state::commit(&l.storage, vec![record]).await?;
    Ok(out)
}

fn read<T>(
    l: &Lambda,
    ctx: &RequestContext,
    name: &str,
    missing: impl FnOnce() -> AwsError,
    read: impl FnOnce(&Function) -> Result<T, AwsError>,
) -> Result<T, AwsError> {
    let region = l.regions.get(ctx);
    let fns = region.functions.lock().unwrap();
    read(fns.get(name).ok_or_else(missing)?)
}

/// Whether `q` names something of `f`: `$LATEST`, a published version or an alias.
fn qualifier_exists(f: &Function, q: &str) -> bool {
    f.aliases.contains_key(q) || f.resolve(Some(q)).is_some()
}

// ---- Event invoke configurations -------------------------------------------------------

fn no_function() -> AwsError {
    AwsError::new(
        404,
        "ResourceNotFoundException",
        "The function doesn't exist.",
    )
}

fn no_config(ctx: &RequestContext, name: &str, q: &str) -> AwsError {
    AwsError::new(
        404,
        "ResourceNotFoundException",
        format!(
            "The function {} doesn't have an EventInvokeConfig",
            qualified_arn(&ctx.region, &ctx.account_id, name, Some(q))
        ),
    )
}

fn event_invoke_value(ctx: &RequestContext, name: &str, q: &str, c: &EventInvokeConfig) -> Value {
    let dest = |d: &Option<String>| match d {
        Some(arn) => Value::map().with("Destination", arn.as_str()),
        None => Value::map(),
    };
    let mut v = Value::map()
        .with(
            "FunctionArn",
            qualified_arn(&ctx.region, &ctx.account_id, name, Some(q)),
        )
        .with(
            "LastModified",
            Value::Timestamp(Timestamp::from_millis(c.last_modified_ms)),
        )
        .with(
            "DestinationConfig",
            Value::map()
                .with("OnSuccess", dest(&c.on_success))
                .with("OnFailure", dest(&c.on_failure)),
        );
    if let Some(n) = c.maximum_retry_attempts {
        v.insert("MaximumRetryAttempts", n as i64);
    }
    if let Some(n) = c.maximum_event_age {
        v.insert("MaximumEventAgeInSeconds", n as i64);
    }
    v
}

/// (OnSuccess, OnFailure) destination ARNs.
type Destinations = (Option<String>, Option<String>);

/// The destinations of a request's `DestinationConfig` (`None` when it has none),
/// checked: a destination is an SQS queue, SNS topic, Lambda function (not this one, and
/// existing), EventBridge bus or S3 bucket.
fn destinations(
    l: &Lambda,
    ctx: &RequestContext,
    name: &str,
    input: &Value,
) -> Result<Option<Destinations>, AwsError> {
    let Some(d) = input.get("DestinationConfig") else {
        return Ok(None);
    };
    let pick = |k: &str| {
        d.get(k)
            .and_then(|v| v.str("Destination"))
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let (on_success, on_failure) = (pick("OnSuccess"), pick("OnFailure"));
    for arn in [&on_success, &on_failure].into_iter().flatten() {
        let service = arn.split(':').nth(2).unwrap_or_default();
        if !matches!(service, "sqs" | "sns" | "lambda" | "events" | "s3") {
            let show = |k: &str, v: &Option<String>| match v {
                Some(a) => format!("{k}(destination={a})"),
                None => "null".to_owned(),
            };
            return Err(invalid(format!(
                "The provided destination config DestinationConfig(onSuccess={}, onFailure={}) is invalid.",
                show("OnSuccess", &on_success),
                show("OnFailure", &on_failure)
            )));
        }
        if service == "lambda" {
            let parts: Vec<&str> = arn.split(':').collect();
            let (region, account, fname) = match parts.as_slice() {
                [_, _, _, region, account, "function", fname, ..] => (*region, *account, *fname),
                _ => return Err(invalid(format!("The destination ARN {arn} is invalid."))),
            };
            if fname == name && account == ctx.account_id && region == ctx.region {
                return Err(invalid(
                    "You can't specify the function as a destination for itself.",
                ));
            }
            let exists = l
                .regions
                .get_for(account, region)
                .functions
                .lock()
                .unwrap()
                .contains_key(fname);
            if !exists {
                return Err(invalid(format!("The destination ARN {arn} is invalid.")));
            }
        }
    }
    Ok(Some((on_success, on_failure)))
}

/// Put replaces the whole configuration; Update changes only what the request names.
async fn write_event_invoke(
    l: &Lambda,
    ctx: &RequestContext,
    input: &Value,
    replace: bool,
) -> Result<Value, AwsError> {
    let (name, q) = target(ctx, input)?;
    let q = q.unwrap_or_else(|| LATEST.to_owned());
    let retries = input.int("MaximumRetryAttempts").map(|n| n as u32);
    let age = input.int("MaximumEventAgeInSeconds").map(|n| n as u32);
    if retries.is_none() && age.is_none() && input.get("DestinationConfig").is_none() {
        return Err(invalid(
            "You must specify at least one of error handling or destination setting.",
        ));
    }
    let dest = destinations(l, ctx, &name, input)?;
    let now = ctx.clock.now_millis();
    change(l, ctx, &name, no_function, |f| {
        if !qualifier_exists(f, &q) {
            return Err(no_function());
        }
        let c = if replace {
            let (on_success, on_failure) = dest.unwrap_or_default();
            EventInvokeConfig {
                maximum_retry_attempts: retries,
                maximum_event_age: age,
                on_success,
                on_failure,
                last_modified_ms: now,
            }
        } else {
            let mut c = f
                .event_invoke
                .get(&q)
                .cloned()
                .ok_or_else(|| no_config(ctx, &name, &q))?;
            if retries.is_some() {
                c.maximum_retry_attempts = retries;
            }
            if age.is_some() {
                c.maximum_event_age = age;
            }
            if let Some((s, fl)) = dest {
                c.on_success = s;
                c.on_failure = fl;
            }
            c.last_modified_ms = now;
            c
        };
        let out = event_invoke_value(ctx, &name, &q, &c);
        f.event_invoke.insert(q.clone(), c);
        Ok(out)
    })
    .await
}

pub async fn put_event_invoke_config(
    l: &Lambda,
    ctx: &RequestContext,
    input: &Value,
) -> Result<Value, AwsError> {
    write_event_invoke(l, ctx, input, true).await
}

pub async fn update_event_invoke_config(
    l: &Lambda,
    ctx: &RequestContext,
    input: &Value,
) -> Result<Value, AwsError> {
    write_event_invoke(l, ctx, input, false).await
}

pub fn get_event_invoke_config(
    l: &Lambda,
    ctx: &RequestContext,
    input: &Value,
) -> Result<Value, AwsError> {
    let (name, q) = target(ctx, input)?;
    let q = q.unwrap_or_else(|| LATEST.to_owned());
    read(
        l,
        ctx,
        &name,
        || no_config(ctx, &name, &q),
        |f| {
            let c = f
                .event_invoke
                .get(&q)
                .ok_or_else(|| no_config(ctx, &name, &q))?;
            Ok(event_invoke_value(ctx, &name, &q, c))
        },
    )
}

pub async fn delete_event_invoke_config(
    l: &Lambda,
    ctx: &RequestContext,
    input: &Value,
) -> Result<Value, AwsError> {
    let (name, q) = target(ctx, input)?;
    let q = q.unwrap_or_else(|| LATEST.to_owned());
    change(
        l,
        ctx,
        &name,
        || no_config(ctx, &name, &q),
        |f| {
            f.event_invoke
                .remove(&q)
                .ok_or_else(|| no_config(ctx, &name, &q))?;
            Ok(Value::map())
        },
    )
    .await
}

pub fn list_event_invoke_configs(
    l: &Lambda,
    ctx: &RequestContext,
    input: &Value,
) -> Result<Value, AwsError> {
    let (name, _) = target(ctx, input)?;
    let all = read(l, ctx, &name, no_function, |f| {
        Ok(f.event_invoke
            .iter()
            .map(|(q, c)| event_invoke_value(ctx, &name, q, c))
            .collect::<Vec<_>>())
    })?;
    Ok(page(all, input, "FunctionEventInvokeConfigs"))
}

/// Pages a list by position (`Marker` is the index of the next item).
pub fn page(all: Vec<Value>, input: &Value, key: &str) -> Value {
    let max = input.int("MaxItems").unwrap_or(50).clamp(1, 50) as usize;
    let start: usize = input
        .str("Marker")
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    let items: Vec<Value> = all.iter().skip(start).take(max).cloned().collect();
    let mut out = Value::map().with(key, Value::List(items));
    if start + max < all.len() {
        out.insert("NextMarker", (start + max).to_string());
    }
    out
}

/// The event invoke configuration asynchronous invocations of `function` through
/// `qualifier` (`None`: `$LATEST`) follow, if one is set.
pub fn event_invoke_config(
    l: &Lambda,
    account: &str,
    region: &str,
    function: &str,
    qualifier: Option<&str>,
) -> Option<EventInvokeConfig> {
    let r = l.regions.get_for(account, region);
    let fns = r.functions.lock().unwrap();
    fns.get(function)?
        .event_invoke
        .get(qualifier.unwrap_or(LATEST))
        .cloned()
}

// ---- Provisioned concurrency -----------------------------------------------------------

/// The not-found error AWS gives for a qualifier: a version's or an alias's.
fn qualifier_not_found(ctx: &RequestContext, name: &str, q: &str) -> AwsError {
    if q.parse::<u64>().is_ok() {
        not_found(ctx, name, Some(q))
    } else {
        AwsError::new(
            404,
            "ResourceNotFoundException",
            format!(
                "Cannot find alias arn: {}",
                qualified_arn(&ctx.region, &ctx.account_id, name, Some(q))
            ),
        )
    }
}

fn provisioned_qualifier(
    ctx: &RequestContext,
    input: &Value,
    latest_message: &str,
) -> Result<(String, String), AwsError> {
    let (name, q) = target(ctx, input)?;
    let q = q.unwrap_or_default();
    if q == LATEST {
        return Err(invalid(latest_message));
    }
    Ok((name, q))
}

fn check_provisioned_target(
    ctx: &RequestContext,
    f: &Function,
    name: &str,
    q: &str,
) -> Result<(), AwsError> {
    let exists = match q.parse::<u64>() {
        Ok(n) => f.versions.contains_key(&n),
        Err(_) => f.aliases.contains_key(q),
    };
    if exists {
        Ok(())
    } else {
        Err(qualifier_not_found(ctx, name, q))
    }
}

fn no_provisioned() -> AwsError {
    AwsError::new(
        404,
        "ProvisionedConcurrencyConfigNotFoundException",
        "No Provisioned Concurrency Config found for this function",
    )
}

/// Provisioning is immediate here, so a stored configuration reports itself `READY`.
fn provisioned_value(p: &Provisioned) -> Value {
    Value::map()
        .with(
            "RequestedProvisionedConcurrentExecutions",
            p.requested as i64,
        )
        .with(
            "AvailableProvisionedConcurrentExecutions",
            p.requested as i64,
        )
        .with(
            "AllocatedProvisionedConcurrentExecutions",
            p.requested as i64,
        )
        .with("Status", "READY")
        .with("LastModified", p.last_modified.as_str())
}

const LATEST_NOT_PROVISIONABLE: &str =
    "The function resource provided must be an alias or a published version.";

/// The smallest unreserved concurrency AWS lets an account keep.
const MIN_UNRESERVED: i64 = 100;

pub async fn put_provisioned_concurrency(
    l: &Lambda,
    ctx: &RequestContext,
    input: &Value,
) -> Result<Value, AwsError> {
    let (name, q) = provisioned_qualifier(
        ctx,
        input,
        "Provisioned Concurrency Configs cannot be applied to unpublished function versions.",
    )?;
    let n = input.int("ProvisionedConcurrentExecutions").unwrap_or(0);
    let unreserved = {
        let region = l.regions.get(ctx);
        let fns = region.functions.lock().unwrap();
        let reserved: i64 = fns
            .values()
            .filter_map(|f| f.reserved_concurrency)
            .map(i64::from)
            .sum();
        l.settings.max_concurrency as i64 - reserved
    };
    let now = model::lambda_time(ctx.clock.now_millis());
    change(
        l,
        ctx,
        &name,
        || qualifier_not_found(ctx, &name, &q),
        |f| {
            check_provisioned_target(ctx, f, &name, &q)?;
            // A version may be provisioned directly or through one alias, not both.
            if let Some(a) = f.aliases.get(&q)
                && f.provisioned.contains_key(&a.version)
            {
                return Err(conflict(
                    "Alias can't be used for Provisioned Concurrency configuration on an already Provisioned version",
                ));
            }
            if q.parse::<u64>().is_ok()
                && f.aliases
                    .iter()
                    .any(|(an, a)| a.version == q && f.provisioned.contains_key(an))
            {
                return Err(conflict(
                    "Version is pointed by a Provisioned Concurrency alias",
                ));
            }
            if let Some(r) = f.reserved_concurrency {
                let others: i64 = f
                    .provisioned
                    .iter()
                    .filter(|(k, _)| **k != q)
                    .map(|(_, p)| i64::from(p.requested))
                    .sum();
                if others + n > i64::from(r) {
                    return Err(invalid(
                        "Requested Provisioned Concurrency should not be greater than the reservedConcurrentExecution for function",
                    ));
                }
            }
            if n > unreserved {
                return Err(invalid(format!(
                    "Specified ConcurrentExecutions for function is greater than account's unreserved concurrency [{unreserved}]."
                ))
                .with_field("Type", Value::Null));
            }
            if unreserved - n < MIN_UNRESERVED {
                return Err(invalid(format!(
                    "Specified ConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [{MIN_UNRESERVED}]."
                ))
                .with_field("Type", Value::Null));
            }
            let p = Provisioned {
                requested: n as u32,
                last_modified: now.clone(),
            };
            f.provisioned.insert(q.clone(), p);
            // AWS answers the request while it allocates the environments.
            Ok(Value::map()
                .with("RequestedProvisionedConcurrentExecutions", n)
                .with("AvailableProvisionedConcurrentExecutions", 0i64)
                .with("AllocatedProvisionedConcurrentExecutions", 0i64)
                .with("Status", "IN_PROGRESS")
                .with("LastModified", now.as_str()))
        },
    )
    .await
}

/// Starts the environments of a provisioned concurrency configuration just stored.
pub fn provision(l: &std::sync::Arc<Lambda>, ctx: &RequestContext, input: &Value) {
    let Ok((name, Some(q))) = crate::functions::target(ctx, input) else {
        return;
    };
    let version = {
        let region = l.regions.get(ctx);
        let fns = region.functions.lock().unwrap();
        let Some(f) = fns.get(&name) else {
            return;
        };
        f.aliases
            .get(&q)
            .map_or_else(|| q.clone(), |a| a.version.clone())
    };
    let n = input.int("ProvisionedConcurrentExecutions").unwrap_or(0);
    let at = Value::map()
        .with("FunctionName", name.as_str())
        .with("Qualifier", version.as_str());
    if let Ok(t) = crate::invoke::resolve(l, ctx, &at) {
        crate::runtime::provision(l, t, q, u32::try_from(n).unwrap_or(0));
    }
}

pub fn get_provisioned_concurrency(
    l: &Lambda,
    ctx: &RequestContext,
    input: &Value,
) -> Result<Value, AwsError> {
    let (name, q) = provisioned_qualifier(ctx, input, LATEST_NOT_PROVISIONABLE)?;
    read(
        l,
        ctx,
        &name,
        || qualifier_not_found(ctx, &name, &q),
        |f| {
            check_provisioned_target(ctx, f, &name, &q)?;
            let p = f.provisioned.get(&q).ok_or_else(no_provisioned)?;
            if l.pool.warming(&ctx.account_id, &ctx.region, &name, &q) {
                return Ok(provisioned_value(p)
                    .with("AvailableProvisionedConcurrentExecutions", 0i64)
                    .with("AllocatedProvisionedConcurrentExecutions", 0i64)
                    .with("Status", "IN_PROGRESS"));
            }
            Ok(provisioned_value(p))
        },
    )
}

pub async fn delete_provisioned_concurrency(
    l: &Lambda,
    ctx: &RequestContext,
    input: &Value,
) -> Result<Value, AwsError> {
    let (name, q) = provisioned_qualifier(ctx, input, LATEST_NOT_PROVISIONABLE)?;
    change(
        l,
        ctx,
        &name,
        || qualifier_not_found(ctx, &name, &q),
        |f| {
            check_provisioned_target(ctx, f, &name, &q)?;
            f.provisioned.remove(&q);
            Ok(Value::map())
        },
    )
    .await
}

pub fn list_provisioned_concurrency(
    l: &Lambda,
    ctx: &RequestContext,
    input: &Value,
) -> Result<Value, AwsError> {
    let (name, _) = target(ctx, input)?;
    let all = read(
        l,
        ctx,
        &name,
        || not_found(ctx, &name, None),
        |f| {
            Ok(f.provisioned
                .iter()
                .map(|(q, p)| {
                    provisioned_value(p).with(
                        "FunctionArn",
                        qualified_arn(&ctx.region, &ctx.account_id, &name, Some(q)),
                    )
                })
                .collect::<Vec<_>>())
        },
    )?;
    Ok(page(all, input, "ProvisionedConcurrencyConfigs"))
}

/// Provisioned concurrency of a function over all its qualifiers (reserved concurrency
/// may not go below it).
pub fn total_provisioned(f: &Function) -> u32 {
    f.provisioned.values().map(|p| p.requested).sum()
}

// ---- Recursion, runtime management, code signing ---------------------------------------

pub fn get_recursion_config(
    l: &Lambda,
    ctx: &RequestContext,
    input: &Value,
) -> Result<Value, AwsError> {
    let (name, _) = target(ctx, input)?;
    read(
        l,
        ctx,
        &name,
        || not_found(ctx, &name, None),
        |f| {
            Ok(Value::map().with(
                "RecursiveLoop",
                f.recursive_loop.as_deref().unwrap_or("Terminate"),
            ))
        },
    )
}

pub async fn put_recursion_config(
    l: &Lambda,
    ctx: &RequestContext,
    input: &Value,
) -> Result<Value, AwsError> {
    let (name, _) = target(ctx, input)?;
    let mode = input.str("RecursiveLoop").unwrap_or("Terminate").to_owned();
    change(
        l,
        ctx,
        &name,
        || not_found(ctx, &name, None),
        |f| {
            f.recursive_loop = Some(mode.clone());
            Ok(Value::map().with("RecursiveLoop", mode.as_str()))
        },
    )
    .await
}

fn runtime_management_value(
    ctx: &RequestContext,
    f: &Function,
    name: &str,
    version: &str,
) -> Value {
    let arn = qualified_arn(&ctx.region, &ctx.account_id, name, Some(version));
    match f.runtime_management.get(version) {
        Some(m) => {
            let mut v = Value::map()
                .with("UpdateRuntimeOn", m.update_runtime_on.as_str())
                .with("FunctionArn", arn);
            if let Some(r) = &m.runtime_version_arn {
                v.insert("RuntimeVersionArn", r.as_str());
            }
            v
        }
        None => Value::map()
            .with("UpdateRuntimeOn", "Auto")
            .with("FunctionArn", arn),
    }
}

/// The version a runtime management request addresses (aliases are not accepted).
fn runtime_version(
    ctx: &RequestContext,
    f: &Function,
    name: &str,
    q: Option<&str>,
) -> Result<String, AwsError> {
    let q = q.unwrap_or(LATEST);
    if q != LATEST && q.parse::<u64>().is_err() {
        return Err(invalid(
            "The function resource provided must be a published version or $LATEST.",
        ));
    }
    f.resolve(Some(q))
        .map(|(v, _)| v)
        .ok_or_else(|| not_found(ctx, name, Some(q)))
}

pub fn get_runtime_management_config(
    l: &Lambda,
    ctx: &RequestContext,
    input: &Value,
) -> Result<Value, AwsError> {
    let (name, q) = target(ctx, input)?;
    read(
        l,
        ctx,
        &name,
        || not_found(ctx, &name, q.as_deref()),
        |f| {
            let v = runtime_version(ctx, f, &name, q.as_deref())?;
            Ok(runtime_management_value(ctx, f, &name, &v))
        },
    )
}

pub async fn put_runtime_management_config(
    l: &Lambda,
    ctx: &RequestContext,
    input: &Value,
) -> Result<Value, AwsError> {
    let (name, q) = target(ctx, input)?;
    let mode = input.str("UpdateRuntimeOn").unwrap_or("Auto").to_owned();
    let arn = input.str("RuntimeVersionArn").map(str::to_owned);
    match (mode.as_str(), &arn) {
        ("Manual", None) => {
            return Err(invalid(
                "RuntimeVersionArn must be provided when UpdateRuntimeOn is Manual.",
            ));
        }
        ("Auto" | "FunctionUpdate", Some(_)) => {
            return Err(invalid(
                "RuntimeVersionArn can only be provided when UpdateRuntimeOn is Manual.",
            ));
        }
        _ => {}
    }
    change(
        l,
        ctx,
        &name,
        || not_found(ctx, &name, q.as_deref()),
        |f| {
            let v = runtime_version(ctx, f, &name, q.as_deref())?;
            if mode == "Auto" {
                f.runtime_management.remove(&v);
            } else {
                f.runtime_management.insert(
                    v.clone(),
                    RuntimeManagement {
                        update_runtime_on: mode.clone(),
                        runtime_version_arn: arn.clone(),
                    },
                );
            }
            Ok(runtime_management_value(ctx, f, &name, &v))
        },
    )
    .await
}

pub async fn put_function_code_signing_config(
    l: &Lambda,
    ctx: &RequestContext,
    input: &Value,
) -> Result<Value, AwsError> {
    let (name, _) = target(ctx, input)?;
    let arn = input
        .str("CodeSigningConfigArn")
        .unwrap_or_default()
        .to_owned();
    if !signing::exists(l, ctx, &arn) {
        return Err(AwsError::new(
            404,
            "CodeSigningConfigNotFoundException",
            format!(
                "The code signing configuration cannot be found. Check that the provided configuration is not deleted: {arn}."
            ),
        ));
    }
    change(
        l,
        ctx,
        &name,
        || not_found(ctx, &name, None),
        |f| {
            f.code_signing_config = Some(arn.clone());
            Ok(Value::map()
                .with("CodeSigningConfigArn", arn.as_str())
                .with("FunctionName", name.as_str()))
        },
    )
    .await
}

pub fn get_function_code_signing_config(
    l: &Lambda,
    ctx: &RequestContext,
    input: &Value,
) -> Result<Value, AwsError> {
    let (name, _) = target(ctx, input)?;
    read(
        l,
        ctx,
        &name,
        || not_found(ctx, &name, None),
        |f| {
            Ok(match &f.code_signing_config {
                Some(arn) => Value::map()
                    .with("CodeSigningConfigArn", arn.as_str())
                    .with("FunctionName", name.as_str()),
                None => Value::map(),
            })
        },
    )
}

pub async fn delete_function_code_signing_config(
    l: &Lambda,
    ctx: &RequestContext,
    input: &Value,
) -> Result<Value, AwsError> {
    let (name, _) = target(ctx, input)?;
    change(
        l,
        ctx,
        &name,
        || not_found(ctx, &name, None),
        |f| {
            f.code_signing_config = None;
            Ok(Value::map())
        },
    )
    .await
}

/// Forgets what was set for a qualifier that no longer exists (a deleted version or alias).
pub fn forget_qualifier(f: &mut Function, q: &str) {
    f.event_invoke.remove(q);
    f.provisioned.remove(q);
    f.urls.remove(q);
    f.runtime_management.remove(q);
}
