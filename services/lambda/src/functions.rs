//! The control plane: functions, code, configuration, versions, aliases, tags,
//! concurrency and account settings.

use crate::Lambda;
use crate::code;
use crate::layers;
use crate::model::{
    self, Alias, Config, Function, FunctionRef, LATEST, configuration, function_arn, qualified_arn,
};
use crate::state;
use base64::Engine;
use nephos_core::{AwsError, RequestContext, Value};
use std::collections::BTreeMap;

pub fn not_found(ctx: &RequestContext, name: &str, qualifier: Option<&str>) -> AwsError {
    AwsError::new(
        404,
        "ResourceNotFoundException",
        format!(
            "Function not found: {}",
            qualified_arn(&ctx.region, &ctx.account_id, name, qualifier)
        ),
    )
}

/// Lambda's errors carry `Type: User` (the caller's fault) besides their message; a few
/// AWS answers without it, and their handlers mark that with a null `Type`. Generic
/// errors (validation, access, not implemented) have no such member.
pub fn typed(mut e: AwsError) -> AwsError {
    match e.fields.get("Type") {
        Some(Value::Null) => {
            e.fields.shift_remove("Type");
        }
        Some(_) => {}
        None => {
            if e.status < 500
                && !matches!(
                    e.code.as_ref(),
                    "ValidationException" | "AccessDeniedException" | "NotImplemented"
                )
            {
                e.fields.insert("Type".to_owned(), Value::from("User"));
            }
        }
    }
    e
}

pub fn invalid(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "InvalidParameterValueException", message)
}

pub fn conflict(message: impl Into<String>) -> AwsError {
    AwsError::new(409, "ResourceConflictException", message)
}

fn precondition(api: &str) -> AwsError {
    AwsError::new(
        412,
        "PreconditionFailedException",
        format!(
            "The Revision Id provided does not match the latest Revision Id. Call the {api} API to retrieve the latest Revision Id"
        ),
    )
}

/// The function a request names, checked against the request's region; the qualifier
/// from the name and from `Qualifier` must agree.
pub fn target(ctx: &RequestContext, input: &Value) -> Result<(String, Option<String>), AwsError> {
    let r = FunctionRef::parse(input.str("FunctionName").unwrap_or_default())?;
    if let Some(region) = &r.region
        && region != &ctx.region
    {
        return Err(AwsError::new(
            404,
            "ResourceNotFoundException",
            format!(
                "Functions from '{region}' are not reachable in this region ('{}')",
                ctx.region
            ),
        ));
    }
    let qualifier = match (r.qualifier, input.str("Qualifier")) {
        (Some(a), Some(b)) if a != b => {
            return Err(invalid(
                "The derived qualifier from the function name does not match the specified qualifier.",
            ));
        }
        (a, b) => a.or(b.map(str::to_owned)),
    };
    Ok((r.name, qualifier))
}

fn check_role(role: &str) -> Result<(), AwsError> {
    let ok = role
        .strip_prefix("arn:")
        .and_then(|r| r.split_once(":iam::"))
        .and_then(|(_, rest)| rest.split_once(":role/"))
        .is_some_and(|(account, name)| {
            nephos_core::is_account_id(account)
                && !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+=,.@-_/".contains(&b))
        });
    if ok {
        Ok(())
    } else {
        Err(AwsError::validation(format!(
            "1 validation error detected: Value '{role}' at 'role' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*)?:iam::\\d{{12}}:role/?[a-zA-Z_0-9+=,.@\\-_/]+"
        )))
    }
}

fn check_runtime(runtime: &str) -> Result<(), AwsError> {
    if model::RUNTIMES.contains(&runtime) {
        return Ok(());
    }
    Err(invalid(format!(
        "Value {runtime} at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: [nodejs20.x, python3.14, provided.al2023, python3.12, python3.13, nodejs24.x, nodejs22.x, java25, python3.10, python3.11, java21, ruby3.3, ruby3.4, ruby3.2, python3.8, python3.9, java17, nodejs16.x, dotnet10, dotnet8, java11, dotnet6, nodejs18.x, provided.al2, java8.al2] or be a valid ARN"
    )))
}

fn check_environment(vars: &BTreeMap<String, String>) -> Result<(), AwsError> {
    let text = serde_json::to_string(vars).unwrap_or_default();
    if text.len() > 4096 {
        return Err(invalid(format!(
            "Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit. String measured: {text}"
        )));
    }
    for k in vars.keys() {
        if matches!(
            k.as_str(),
            "_HANDLER"
                | "_X_AMZN_TRACE_ID"
                | "AWS_DEFAULT_REGION"
                | "AWS_REGION"
                | "AWS_EXECUTION_ENV"
                | "AWS_LAMBDA_FUNCTION_NAME"
                | "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"
                | "AWS_LAMBDA_FUNCTION_VERSION"
                | "AWS_LAMBDA_INITIALIZATION_TYPE"
                | "AWS_LAMBDA_LOG_GROUP_NAME"
                | "AWS_LAMBDA_LOG_STREAM_NAME"
                | "AWS_ACCESS_KEY"
                | "AWS_ACCESS_KEY_ID"
                | "AWS_SECRET_ACCESS_KEY"
                | "AWS_SESSION_TOKEN"
                | "AWS_LAMBDA_RUNTIME_API"
                | "LAMBDA_TASK_ROOT"
                | "LAMBDA_RUNTIME_DIR"
        ) {
            return Err(invalid(format!(
                "Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: {k}"
            )));
        }
    }
    Ok(())
}

fn string_map(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_map)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

/// Applies the configuration members of CreateFunction / UpdateFunctionConfiguration;
/// `layers` are the request's `Layers`, resolved by [`layers::resolve_refs`].
fn apply_configuration(
    c: &mut Config,
    input: &Value,
    layers: Option<Vec<model::LayerRef>>,
) -> Result<(), AwsError> {
    if let Some(r) = input.str("Runtime") {
        check_runtime(r)?;
        c.runtime = Some(r.to_owned());
    }
    if let Some(h) = input.str("Handler") {
        c.handler = Some(h.to_owned());
    }
    if let Some(r) = input.str("Role") {
        check_role(r)?;
        c.role = r.to_owned();
    }
    if let Some(d) = input.str("Description") {
        c.description = d.to_owned();
    }
    if let Some(t) = input.int("Timeout") {
        c.timeout = t as u32;
    }
    if let Some(m) = input.int("MemorySize") {
        c.memory = m as u32;
    }
    if let Some(s) = input.get("EphemeralStorage").and_then(|e| e.int("Size")) {
        c.ephemeral_storage = s as u32;
    }
    if let Some(env) = input.get("Environment") {
        let vars = string_map(env.get("Variables"));
        check_environment(&vars)?;
        c.environment = Some(vars);
    }
    if let Some(m) = input.get("TracingConfig").and_then(|t| t.str("Mode")) {
        c.tracing_mode = m.to_owned();
    }
    if let Some(d) = input.get("DeadLetterConfig") {
        c.dead_letter_target = d
            .str("TargetArn")
            .filter(|t| !t.is_empty())
            .map(str::to_owned);
    }
    if let Some(k) = input.str("KMSKeyArn") {
        c.kms_key_arn = (!k.is_empty()).then(|| k.to_owned());
    }
    if let Some(l) = input.get("LoggingConfig") {
        if let Some(f) = l.str("LogFormat") {
            c.log_format = f.to_owned();
        }
        if let Some(g) = l.str("LogGroup") {
            c.log_group = Some(g.to_owned());
        }
        c.application_log_level = l.str("ApplicationLogLevel").map(str::to_owned);
        c.system_log_level = l.str("SystemLogLevel").map(str::to_owned);
        if c.log_format == "JSON" {
            c.application_log_level.get_or_insert_with(|| "INFO".into());
            c.system_log_level.get_or_insert_with(|| "INFO".into());
        } else if c.application_log_level.is_some() || c.system_log_level.is_some() {
            return Err(invalid(
                "Application log level and system log level are only supported when LogFormat is JSON.",
            ));
        }
    }
    if let Some(layers) = layers {
        c.layers = layers;
    }
    if let Some(a) = input.get("SnapStart").and_then(|s| s.str("ApplyOn")) {
        c.snap_start = a.to_owned();
    }
    if let Some(d) = input.get("DurableConfig") {
        let old = c.durable.take();
        c.durable = Some(model::DurableConfig {
            execution_timeout: d
                .int("ExecutionTimeout")
                .map(|t| t as u32)
                .or_else(|| old.as_ref().and_then(|o| o.execution_timeout)),
            retention_days: d
                .int("RetentionPeriodInDays")
                .map(|t| t as u32)
                .or_else(|| old.as_ref().map(|o| o.retention_days))
                .unwrap_or(model::DEFAULT_RETENTION_DAYS),
            kms_key_arn: d
                .str("KMSKeyArn")
                .filter(|k| !k.is_empty())
                .map(str::to_owned)
                .or_else(|| old.and_then(|o| o.kms_key_arn)),
        });
    }
    Ok(())
}

/// Reads a package from `ZipFile` or from S3 (through nephos's own S3).
pub(crate) async fn package(
    l: &Lambda,
    ctx: &RequestContext,
    input: &Value,
) -> Result<Option<(code::Package, Vec<u8>)>, AwsError> {
    let zip = if let Some(Value::Blob(b)) = input.get("ZipFile") {
        b.to_vec()
    } else if let Some(bucket) = input.str("S3Bucket") {
        let mut req = Value::map()
            .with("Bucket", bucket)
            .with("Key", input.str("S3Key").unwrap_or_default());
        if let Some(v) = input.str("S3ObjectVersion") {
            req.insert("VersionId", v);
        }
        let out = l
            .dispatcher
            .call_input(
                ctx,
                "s3",
                "GetObject",
                nephos_core::Input {
                    value: req,
                    body: None,
                },
            )
            .await
            .map_err(|e| {
                let msg = if e.code == "NoSuchBucket" {
                    "The specified bucket does not exist".to_owned()
                } else {
                    e.message.clone()
                };
                invalid(format!(
                    "Error occurred while GetObject. S3 Error Code: {}. S3 Error Message: {msg}",
                    e.code
                ))
            })?;
        let Some(body) = out.body else {
            return Err(code::unzip_error());
        };
        body.read_all()
            .await
            .map_err(|e| AwsError::internal(e.to_string()))?
    } else if input.get("ImageUri").is_some() {
        return Err(AwsError::not_implemented("lambda", "container images"));
    } else {
        return Ok(None);
    };
    let pkg = code::inspect(&zip)?;
    Ok(Some((pkg, zip)))
}

pub(crate) fn store_package(l: &Lambda, pkg: &code::Package, zip: &[u8]) -> Result<(), AwsError> {
    l.code.store(&pkg.key, zip).map_err(|e| {
        tracing::error!(error = %e, "storing a code package failed");
        AwsError::internal("the code could not be stored")
    })
}

pub async fn create_function(
    l: &std::sync::Arc<Lambda>,
    ctx: &RequestContext,
    input: &Value,
) -> Result<Value, AwsError> {
    let name = target(ctx, input)?.0;
    if name.len() > 64 {
        return Err(invalid(format!(
            "1 validation error detected: Value '{name}' at 'functionName' failed to satisfy constraint: Member must have length less than or equal to 64"
        )));
    }
    let package_type = input.str("PackageType").unwrap_or("Zip");
    if package_type == "Image" {
        return Err(AwsError::not_implemented("lambda", "container images"));
    }
    let code_in = input.get("Code").cloned().unwrap_or_default();
    if input.str("Runtime").is_none() || input.str("Handler").is_none() {
        return Err(invalid(
            "Runtime and Handler are mandatory parameters for functions created with deployment packages.",
        ));
    }
    let now = ctx.clock.now_millis();
    let mut c = Config {
        runtime: None,
        handler: None,
        role: String::new(),
        description: String::new(),
        timeout: 3,
        memory: 128,
        ephemeral_storage: 512,
        environment: None,
        architectures: vec!["x86_64".into()],
        tracing_mode: "PassThrough".into(),
        layers: Vec::new(),
        dead_letter_target: None,
        kms_key_arn: None,
        log_format: "Text".into(),
        application_log_level: None,
        system_log_level: None,
        log_group: None,
        code_sha256: String::new(),
        code_size: 0,
        last_modified: model::lambda_time(now),
        revision_id: model::revision_id(),
        state: "Pending".into(),
        // AWS reports no update status until the function is first active.
        last_update_status: String::new(),
        snap_start: "None".into(),
        durable: None,
    };
    apply_configuration(&mut c, input, layers::resolve_refs(l, ctx, input)?)?;
    l.check_role_assumable(ctx, &name, &c.role).await?;
    if let Some(a) = input.get("Architectures").and_then(Value::as_list) {
        c.architectures = a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect();
    }
    let Some((pkg, zip)) = package(l, ctx, &code_in).await? else {
        return Err(invalid("Please provide a source for function code."));
    };
    c.code_sha256 = pkg.sha256.clone();
    c.code_size = pkg.size;
    let region = l.regions.get(ctx);
    {
        if region.functions.lock().unwrap().contains_key(&name) {
            return Err(conflict(format!("Function already exist: {name}")));
        }
    }
    store_package(l, &pkg, &zip)?;
    let mut f = Function {
        name: name.clone(),
        latest: c,
        versions: BTreeMap::new(),
        next_version: 1,
        aliases: BTreeMap::new(),
        policies: BTreeMap::new(),
        tags: string_map(input.get("Tags")),
        reserved_concurrency: None,
        created_ms: now,
        event_invoke: BTreeMap::new(),
        urls: BTreeMap::new(),
        provisioned: BTreeMap::new(),
        code_signing_config: None,
        recursive_loop: None,
        runtime_management: BTreeMap::new(),
        published_from: None,
    };
    let mut version = LATEST.to_owned();
    if input.bool("Publish") == Some(true) {
        let mut v = f.latest.clone();
        v.state = "Pending".into();
        f.versions.insert(1, v);
        f.next_version = 2;
        f.published_from = Some(f.latest.clone());
        version = "1".into();
    }
    let out = {
        let mut fns = region.functions.lock().unwrap();
        if fns.contains_key(&name) {
            return Err(conflict(format!("Function already exist: {name}")));
        }
        let (_, cfg) = f.resolve(Some(&version)).expect("just created");
        let mut out = configuration(&ctx.region, &ctx.account_id, &name, &version, cfg);
        // Even when it publishes version 1, CreateFunction names the function unqualified.
        out.insert(
            "FunctionArn",
            function_arn(&ctx.region, &ctx.account_id, &name),
        );
        fns.insert(name.clone(), f.clone());
        out
    };
    state::commit(&l.storage, vec![state::put(ctx, &f)?]).await?;
    l.settle(ctx, &name);
    Ok(out)
}

/// Read access to a function, or its not-found error.
pub fn with_function<T>(
    l: &Lambda,
    ctx: &RequestContext,
    name: &str,
    qualifier: Option<&str>,
    read: impl FnOnce(&Function) -> Result<T, AwsError>,
) -> Result<T, AwsError> {
    let region = l.regions.get(ctx);
    let fns = region.functions.lock().unwrap();
    let f = fns
        .get(name)
        .ok_or_else(|| not_found(ctx, name, qualifier))?;
    read(f)
}

/// Changes a function and stores it before answering.
pub async fn mutate<T>(
    l: &Lambda,
    ctx: &RequestContext,
    name: &str,
    qualifier: Option<&str>,
    change: impl FnOnce(&mut Function) -> Result<T, AwsError>,
) -> Result<T, AwsError> {
    let region = l.regions.get(ctx);
    let (out, record) = {
        let mut fns = region.functions.lock().unwrap();
        let f = fns
            .get_mut(name)
            .ok_or_else(|| not_found(ctx, name, qualifier))?;
        let out = change(f)?;
        (out, state::put(ctx, f)?)
    };
    state::commit(&l.storage, vec![record]).await?;
    Ok(out)
}

fn resolve_config<'a>(
    ctx: &RequestContext,
    f: &'a Function,
    name: &str,
    qualifier: Option<&str>,
) -> Result<(String, &'a Config), AwsError> {
    f.resolve(qualifier)
        .ok_or_else(|| not_found(ctx, name, qualifier))
}

pub fn get_function_configuration(
    l: &Lambda,
    ctx: &RequestContext,
    input: &Value,
) -> Result<Value, AwsError> {
    let (name, q) = target(ctx, input)?;
    with_function(l, ctx, &name, q.as_deref(), |f| {
        let (version, c) = resolve_config(ctx, f, &name, q.as_deref())?;
        Ok(latest_arn_as_asked(
            ctx,
            &name,
            q.as_deref(),
            configuration(&ctx.region, &ctx.account_id, &name, &version, c),
        ))
    })
}

/// Asked for `$LATEST` by name, AWS answers the qualified ARN (`...:function:f:$LATEST`).
fn latest_arn_as_asked(
    ctx: &RequestContext,
    name: &str,
    q: Option<&str>,
    mut config: Value,
) -> Value {
    if q == Some(LATEST) {
        config.insert(
            "FunctionArn",
            qualified_arn(&ctx.region, &ctx.account_id, name, Some(LATEST)),
        );
    }
    config
}

pub fn get_function(l: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value, AwsError> {
    let (name, q) = target(ctx, input)?;
    let endpoint = l.endpoint();
    with_function(l, ctx, &name, q.as_deref(), |f| {
        let (version, c) = resolve_config(ctx, f, &name, q.as_deref())?;
        let key = hex::encode(
            base64::engine::general_purpose::STANDARD
                .decode(&c.code_sha256)
                .unwrap_or_default(),
        );
        let mut out = Value::map()
            .with(
                "Configuration",
                latest_arn_as_asked(
                    ctx,
                    &name,
                    q.as_deref(),
                    configuration(&ctx.region, &ctx.account_id, &name, &version, c),
                ),
            )
            .with(
                "Code",
                Value::map().with("RepositoryType", "S3").with(
                    "Location",
                    format!("{endpoint}/_nephos/lambda/code/{key}.zip"),
                ),
            );
        if !f.tags.is_empty() {
            let tags: nephos_core::Map = f
                .tags
                .iter()
                .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
                .collect();
            out.insert("Tags", Value::Map(tags));
        }
        if let Some(r) = f.reserved_concurrency {
            out.insert(
                "Concurrency",
                Value::map().with("ReservedConcurrentExecutions", r as i64),
            );
        }
        Ok(out)
    })
}

pub fn list_functions(l: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value, AwsError> {
    let all_versions = input.str("FunctionVersion") == Some("ALL");
    let max = input.int("MaxItems").unwrap_or(50).clamp(1, 50) as usize;
    let marker = input.str("Marker");
    let region = l.regions.get(ctx);
    let fns = region.functions.lock().unwrap();
    let mut items = Vec::new();
    for f in fns.values() {
        items.push((
            format!("{}\t", f.name),
            LATEST.to_owned(),
            &f.latest,
            &f.name,
        ));
        if all_versions {
            for (n, c) in &f.versions {
                items.push((format!("{}\t{n:020}", f.name), n.to_string(), c, &f.name));
            }
        }
    }
    let start = marker
        .map(|m| {
            items
                .iter()
                .position(|i| i.0.as_str() > m)
                .unwrap_or(items.len())
        })
        .unwrap_or(0);
    let page: Vec<Value> = items[start..]
        .iter()
        .take(max)
        .map(|(_, v, c, n)| configuration(&ctx.region, &ctx.account_id, n, v, c))
        .collect();
    let mut out = Value::map().with("Functions", Value::List(page));
    if start + max < items.len() {
        out.insert("NextMarker", items[start + max - 1].0.as_str());
    }
    Ok(out)
}

pub async fn delete_function(
    l: &Lambda,
    ctx: &RequestContext,
    input: &Value,
) -> Result<Value, AwsError> {
    let (name, q) = target(ctx, input)?;
    if q.as_deref() == Some(LATEST) {
        return Err(invalid(
            "$LATEST version cannot be deleted without deleting the function.",
        ));
    }
    let region = l.regions.get(ctx);
    let batch = {
        let mut fns = region.functions.lock().unwrap();
        // AWS names the unqualified function whatever the qualifier.
        let f = fns
            .get_mut(&name)
            .ok_or_else(|| not_found(ctx, &name, None))?;
        match q.as_deref() {
            None => {
                fns.remove(&name);
                state::delete(ctx, &name)
            }
            Some(LATEST) => {
                return Err(invalid(
                    "$LATEST version cannot be deleted without deleting the function.",
                ));
            }
            Some(v) => {
                let Ok(n) = v.parse::<u64>() else {
                    return Err(invalid("Deletion of aliases is not currently supported."));
                };
                if f.aliases
                    .values()
                    .any(|a| a.version == v || a.weights.contains_key(v))
                {
                    return Err(conflict(format!(
                        "Unable to delete version because the following aliases reference it: {:?}",
                        f.aliases
                            .iter()
                            .filter(|(_, a)| a.version == v)
                            .map(|(k, _)| k.clone())
                            .collect::<Vec<_>>()
                    )));
                }
                f.versions.remove(&n);
                f.policies.remove(v);
                crate::configs::forget_qualifier(f, v);
                state::put(ctx, f)?
            }
        }
    };
    state::commit(&l.storage, vec![batch]).await?;
    l.retire(ctx, &name);
    Ok(Value::map().with("StatusCode", 204i64))
}

pub async fn update_function_code(
    l: &std::sync::Arc<Lambda>,
    ctx: &RequestContext,
    input: &Value,
) -> Result<Value, AwsError> {
    let (name, _) = target(ctx, input)?;
    with_function(l, ctx, &name, None, |_| Ok(()))?;
    let Some((pkg, zip)) = package(l, ctx, input).await? else {
        return Err(invalid("Please provide a source for function code."));
    };
    let dry_run = input.bool("DryRun") == Some(true);
    if !dry_run {
        store_package(l, &pkg, &zip)?;
    }
    let now = ctx.clock.now_millis();
    let publish = input.bool("Publish") == Some(true);
    let out = mutate(l, ctx, &name, None, |f| {
        check_revision(input, &f.latest.revision_id, "GetFunction/GetAlias")?;
        check_updatable(ctx, f)?;
        let mut c = f.latest.clone();
        c.code_sha256 = pkg.sha256.clone();
        c.code_size = pkg.size;
        if let Some(a) = input.get("Architectures").and_then(Value::as_list) {
            c.architectures = a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect();
        }
        c.last_modified = model::lambda_time(now);
        c.revision_id = model::revision_id();
        c.last_update_status = "InProgress".into();
        if dry_run {
            return Ok(configuration(
                &ctx.region,
                &ctx.account_id,
                &name,
                LATEST,
                &c,
            ));
        }
        f.latest = c;
        let version = if publish {
            let next = f.next_version;
            let v = publish_latest(f, "");
            // A version published along with new code is created as the code settles.
            if f.next_version != next
                && let Some(c) = f.versions.get_mut(&next)
            {
                c.state = "Pending".into();
                c.last_update_status.clear();
            }
            v
        } else {
            LATEST.to_owned()
        };
        let (v, c) = f.resolve(Some(&version)).expect("exists");
        Ok(configuration(&ctx.region, &ctx.account_id, &name, &v, c))
    })
    .await?;
    if !dry_run {
        l.retire(ctx, &name);
        l.settle(ctx, &name);
    }
    Ok(out)
}

fn check_revision(input: &Value, current: &str, api: &str) -> Result<(), AwsError> {
    match input.str("RevisionId") {
        Some(r) if r != current => Err(precondition(api)),
        _ => Ok(()),
    }
}

fn check_updatable(ctx: &RequestContext, f: &Function) -> Result<(), AwsError> {
    if f.latest.last_update_status == "InProgress" {
        return Err(conflict(format!(
            "The operation cannot be performed at this time. An update is in progress for resource: {}",
            function_arn(&ctx.region, &ctx.account_id, &f.name)
        )));
    }
    Ok(())
}

pub async fn update_function_configuration(
    l: &std::sync::Arc<Lambda>,
    ctx: &RequestContext,
    input: &Value,
) -> Result<Value, AwsError> {
    let (name, _) = target(ctx, input)?;
    let now = ctx.clock.now_millis();
    let layers = layers::resolve_refs(l, ctx, input)?;
    if let Some(role) = input.str("Role") {
        l.check_role_assumable(ctx, &name, role).await?;
    }
    let out = mutate(l, ctx, &name, None, |f| {
        check_revision(input, &f.latest.revision_id, "GetFunction/GetAlias")?;
        check_updatable(ctx, f)?;
        let mut c = f.latest.clone();
        apply_configuration(&mut c, input, layers)?;
        c.last_modified = model::lambda_time(now);
        c.revision_id = model::revision_id();
        c.last_update_status = "InProgress".into();
        f.latest = c;
        Ok(configuration(
            &ctx.region,
            &ctx.account_id,
            &name,
            LATEST,
            &f.latest,
        ))
    })
    .await?;
    l.retire(ctx, &name);
    l.settle(ctx, &name);
    Ok(out)
}

/// Publishes `$LATEST` as a new version unless `$LATEST` is what the newest version was
/// published from (AWS then answers that version, whatever description is asked for).
fn publish_latest(f: &mut Function, description: &str) -> String {
    let comparable = |c: &Config| {
        let mut c = c.clone();
        c.last_modified.clear();
        c.revision_id.clear();
        c.state.clear();
        c.last_update_status.clear();
        c
    };
    if let Some((n, last)) = f.versions.iter().next_back() {
        // Records from before `published_from` was kept compare with the version itself,
        // descriptions aside.
        let unchanged = match &f.published_from {
            Some(from) => comparable(from) == comparable(&f.latest),
            None => {
                let (mut a, mut b) = (comparable(last), comparable(&f.latest));
                a.description.clear();
                b.description.clear();
                a == b
            }
        };
        if unchanged {
            return n.to_string();
        }
    }
    let mut candidate = f.latest.clone();
    if !description.is_empty() {
        candidate.description = description.to_owned();
    }
    let n = f.next_version;
    f.next_version += 1;
    candidate.revision_id = model::revision_id();
    candidate.last_update_status = "Successful".into();
    f.published_from = Some(f.latest.clone());
    f.versions.insert(n, candidate);
    n.to_string()
}

pub async fn publish_version(
    l: &Lambda,
    ctx: &RequestContext,
    input: &Value,
) -> Result<Value, AwsError> {
    let (name, _) = target(ctx, input)?;
    mutate(l, ctx, &name, None, |f| {
        check_revision(input, &f.latest.revision_id, "GetFunction/GetAlias")?;
        if let Some(sha) = input.str("CodeSha256")
            && sha != f.latest.code_sha256
        {
            return Err(invalid(format!(
                "CodeSHA256 ({sha}) is different from current CodeSHA256 in $LATEST ({}). Please try again with the CodeSHA256 in $LATEST.",
                f.latest.code_sha256
            )));
        }
        check_updatable(ctx, f)?;
        let v = publish_latest(f, input.str("Description").unwrap_or_default());
        let (v, c) = f.resolve(Some(&v)).expect("published");
        Ok(configuration(&ctx.region, &ctx.account_id, &name, &v, c))
    })
    .await
}

pub fn list_versions(l: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value, AwsError> {
    let (name, _) = target(ctx, input)?;
    let max = input.int("MaxItems").unwrap_or(50).clamp(1, 50) as usize;
    let start: usize = input
        .str("Marker")
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    with_function(l, ctx, &name, None, |f| {
        let mut all = vec![
            configuration(&ctx.region, &ctx.account_id, &name, LATEST, &f.latest).with(
                "FunctionArn",
                qualified_arn(&ctx.region, &ctx.account_id, &name, Some(LATEST)),
            ),
        ];
        for (n, c) in &f.versions {
            all.push(configuration(
                &ctx.region,
                &ctx.account_id,
                &name,
                &n.to_string(),
                c,
            ));
        }
        // AWS's version list leaves out the state members and the runtime version.
        for v in &mut all {
            if let Value::Map(m) = v {
                for k in ["State", "LastUpdateStatus", "RuntimeVersionConfig"] {
                    m.shift_remove(k);
                }
            }
        }
        let page: Vec<Value> = all.iter().skip(start).take(max).cloned().collect();
        let mut out = Value::map().with("Versions", Value::List(page));
        if start + max < all.len() {
            out.insert("NextMarker", (start + max).to_string());
        }
        Ok(out)
    })
}

fn alias_not_found(ctx: &RequestContext, fname: &str, alias: &str) -> AwsError {
    AwsError::new(
        404,
        "ResourceNotFoundException",
        format!(
            "Cannot find alias arn: {}",
            qualified_arn(&ctx.region, &ctx.account_id, fname, Some(alias))
        ),
    )
}

/// The alias's routing weights; `pointer` is the version the alias points to (a weight
/// may not name it again).
fn weights(
    f: &Function,
    ctx: &RequestContext,
    input: &Value,
    pointer: Option<&str>,
) -> Result<Option<BTreeMap<String, f64>>, AwsError> {
    let Some(routing) = input.get("RoutingConfig") else {
        return Ok(None);
    };
    let mut out = BTreeMap::new();
    if let Some(m) = routing
        .get("AdditionalVersionWeights")
        .and_then(Value::as_map)
    {
        if m.len() > 1 {
            return Err(invalid(
                "Number of items in AdditionalVersionWeights cannot be greater than 1",
            ));
        }
        for (v, w) in m {
            let w = match w {
                Value::Float(f) => *f,
                Value::Integer(i) => *i as f64,
                _ => 0.0,
            };
            let Ok(n) = v.parse::<u64>() else {
                return Err(invalid(format!("Invalid function version {v}.")));
            };
            if !f.versions.contains_key(&n) {
                return Err(not_found(ctx, &f.name, Some(v)));
            }
            if Some(v.as_str()) == pointer {
                return Err(invalid(format!(
                    "Invalid function version {v}. Function version {v} is already included in routing configuration."
                )));
            }
            out.insert(v.clone(), w);
        }
    }
    if out.len() > 1 {
        return Err(invalid(
            "Number of items in AdditionalVersionWeights cannot be greater than 1",
        ));
    }
    Ok(Some(out))
}

/// An alias that routes between versions must point at a published one.
fn check_latest_routing(version: &str, input: &Value) -> Result<(), AwsError> {
    let routes = input
        .get("RoutingConfig")
        .and_then(|r| r.get("AdditionalVersionWeights"))
        .and_then(Value::as_map)
        .is_some_and(|m| !m.is_empty());
    if version == LATEST && routes {
        return Err(invalid(
            "$LATEST is not supported for an alias pointing to more than 1 version",
        )
        .with_field("Type", Value::Null));
    }
    Ok(())
}

fn check_alias_version(ctx: &RequestContext, f: &Function, v: &str) -> Result<(), AwsError> {
    if v == LATEST {
        return Ok(());
    }
    match v.parse::<u64>() {
        Ok(n) if f.versions.contains_key(&n) => Ok(()),
        _ => Err(not_found(ctx, &f.name, Some(v))),
    }
}

pub async fn create_alias(
    l: &Lambda,
    ctx: &RequestContext,
    input: &Value,
) -> Result<Value, AwsError> {
    let (fname, _) = target(ctx, input)?;
    let name = input.str("Name").unwrap_or_default().to_owned();
    let version = input.str("FunctionVersion").unwrap_or_default().to_owned();
    check_latest_routing(&version, input)?;
    mutate(l, ctx, &fname, None, |f| {
        check_alias_version(ctx, f, &version)?;
        if f.aliases.contains_key(&name) {
            return Err(conflict(format!(
                "Alias already exists: {}",
                qualified_arn(&ctx.region, &ctx.account_id, &fname, Some(&name))
            )));
        }
        let weights = weights(f, ctx, input, Some(&version))?.unwrap_or_default();
        let a = Alias {
            version,
            description: input.str("Description").unwrap_or_default().to_owned(),
            weights,
            revision_id: model::revision_id(),
        };
        let out = model::alias_configuration(&ctx.region, &ctx.account_id, &fname, &name, &a);
        f.aliases.insert(name.clone(), a);
        Ok(out)
    })
    .await
}

pub fn get_alias(l: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value, AwsError> {
    let (fname, _) = target(ctx, input)?;
    let name = input.str("Name").unwrap_or_default();
    with_function(l, ctx, &fname, None, |f| {
        let a = f
            .aliases
            .get(name)
            .ok_or_else(|| alias_not_found(ctx, &fname, name))?;
        Ok(model::alias_configuration(
            &ctx.region,
            &ctx.account_id,
            &fname,
            name,
            a,
        ))
    })
}

pub async fn update_alias(
    l: &Lambda,
    ctx: &RequestContext,
    input: &Value,
) -> Result<Value, AwsError> {
    let (fname, _) = target(ctx, input)?;
    let name = input.str("Name").unwrap_or_default().to_owned();
    mutate(l, ctx, &fname, None, |f| {
        let pointer = input
            .str("FunctionVersion")
            .map(str::to_owned)
            .or_else(|| f.aliases.get(&name).map(|a| a.version.clone()));
        let w = weights(f, ctx, input, pointer.as_deref())?;
        if let Some(v) = input.str("FunctionVersion") {
            check_alias_version(ctx, f, v)?;
        }
        let a = f.aliases.get_mut(&name).ok_or_else(|| {
            AwsError::new(
                404,
                "ResourceNotFoundException",
                format!(
                    "Alias not found: {}",
                    qualified_arn(&ctx.region, &ctx.account_id, &fname, Some(&name))
                ),
            )
        })?;
        check_revision(input, &a.revision_id, "GetFunction/GetAlias")?;
        if let Some(v) = input.str("FunctionVersion") {
            a.version = v.to_owned();
        }
        if let Some(d) = input.str("Description") {
            a.description = d.to_owned();
        }
        if let Some(w) = w {
            a.weights = w;
        }
        a.revision_id = model::revision_id();
        Ok(model::alias_configuration(
            &ctx.region,
            &ctx.account_id,
            &fname,
            &name,
            a,
        ))
    })
    .await
}

pub async fn delete_alias(
    l: &Lambda,
    ctx: &RequestContext,
    input: &Value,
) -> Result<Value, AwsError> {
    let (fname, _) = target(ctx, input)?;
    let name = input.str("Name").unwrap_or_default().to_owned();
    mutate(l, ctx, &fname, None, |f| {
        f.aliases.remove(&name);
        f.policies.remove(&name);
        crate::configs::forget_qualifier(f, &name);
        Ok(Value::map())
    })
    .await
}

pub fn list_aliases(l: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value, AwsError> {
    let (fname, _) = target(ctx, input)?;
    let version = input.str("FunctionVersion");
    let max = input.int("MaxItems").unwrap_or(50).clamp(1, 10000) as usize;
    let marker = input.str("Marker");
    with_function(l, ctx, &fname, None, |f| {
        let all: Vec<(&String, &Alias)> = f
            .aliases
            .iter()
            .filter(|(_, a)| version.is_none_or(|v| a.version == v))
            .filter(|(n, _)| marker.is_none_or(|m| n.as_str() > m))
            .collect();
        let page: Vec<Value> = all
            .iter()
            .take(max)
            .map(|(n, a)| model::alias_configuration(&ctx.region, &ctx.account_id, &fname, n, a))
            .collect();
        let mut out = Value::map().with("Aliases", Value::List(page));
        if all.len() > max {
            out.insert("NextMarker", all[max - 1].0.as_str());
        }
        Ok(out)
    })
}

/// `arn:aws:lambda:<region>:<account>:function:<name>` of a tagging request.
fn tagged_function(input: &Value) -> Result<String, AwsError> {
    let arn = input.str("Resource").unwrap_or_default();
    let r = FunctionRef::parse(arn).map_err(|_| {
        AwsError::validation(format!(
            "1 validation error detected: Value '{arn}' at 'resource' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*):lambda:(eusc-)?[a-z]{{2}}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{{1}}:\\d{{12}}:(function:[a-zA-Z0-9-_]+(:(\\$LATEST|[a-zA-Z0-9-_]+))?|layer:([a-zA-Z0-9-_]+)|code-signing-config:csc-[a-z0-9]{{17}}|event-source-mapping:[0-9a-fA-F]{{8}}-[0-9a-fA-F]{{4}}-[0-9a-fA-F]{{4}}-[0-9a-fA-F]{{4}}-[0-9a-fA-F]{{12}}|capacity-provider:[a-zA-Z0-9-_]+)"
        ))
    })?;
    if r.qualifier.is_some() {
        return Err(invalid(
            "Tags on function aliases and versions are not supported. Please specify a function ARN.",
        ));
    }
    Ok(r.name)
}

pub async fn tag_resource(
    l: &Lambda,
    ctx: &RequestContext,
    input: &Value,
) -> Result<Value, AwsError> {
    let name = tagged_function(input)?;
    let tags = string_map(input.get("Tags"));
    if tags.is_empty() {
        return Err(invalid(
            "An error occurred and the request cannot be processed.",
        ));
    }
    mutate(l, ctx, &name, None, |f| {
        if f.tags.len() + tags.keys().filter(|k| !f.tags.contains_key(*k)).count() > 50 {
            return Err(invalid("Number of tags exceeds resource tag limit."));
        }
        f.tags.extend(tags);
        // Tagging changes the function: AWS gives it a new revision id.
        f.latest.revision_id = model::revision_id();
        Ok(Value::map())
    })
    .await
}

pub async fn untag_resource(
    l: &Lambda,
    ctx: &RequestContext,
    input: &Value,
) -> Result<Value, AwsError> {
    let name = tagged_function(input)?;
    let keys: Vec<String> = input
        .get("TagKeys")
        .and_then(Value::as_list)
        .map(|l| {
            l.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    mutate(l, ctx, &name, None, |f| {
        for k in &keys {
            f.tags.remove(k);
        }
        f.latest.revision_id = model::revision_id();
        Ok(Value::map())
    })
    .await
}

pub fn list_tags(l: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value, AwsError> {
    let name = tagged_function(input)?;
    with_function(l, ctx, &name, None, |f| {
        let tags: nephos_core::Map = f
            .tags
            .iter()
            .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
            .collect();
        Ok(Value::map().with("Tags", Value::Map(tags)))
    })
}

/// The smallest unreserved concurrency AWS lets an account keep.
const MIN_UNRESERVED: i64 = 100;

fn reserved_total(l: &Lambda, ctx: &RequestContext, except: Option<&str>) -> i64 {
    l.regions
        .get(ctx)
        .functions
        .lock()
        .unwrap()
        .values()
        .filter(|f| Some(f.name.as_str()) != except)
        .filter_map(|f| f.reserved_concurrency)
        .map(i64::from)
        .sum()
}

pub async fn put_function_concurrency(
    l: &Lambda,
    ctx: &RequestContext,
    input: &Value,
) -> Result<Value, AwsError> {
    let (name, q) = target(ctx, input)?;
    if q.is_some() {
        return Err(invalid(
            "This operation is permitted on Lambda functions only. Aliases and versions do not support this operation. Please specify either a function name or an unqualified function ARN.",
        ));
    }
    let n = input.int("ReservedConcurrentExecutions").unwrap_or(0);
    let others = reserved_total(l, ctx, Some(&name));
    if l.settings.max_concurrency as i64 - others - n < MIN_UNRESERVED {
        // AWS's answer has no `Type` member here.
        return Err(invalid(format!(
            "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [{MIN_UNRESERVED}]."
        ))
        .with_field("Type", Value::Null));
    }
    mutate(l, ctx, &name, None, |f| {
        let provisioned = crate::configs::total_provisioned(f);
        if (n as u64) < provisioned as u64 {
            return Err(invalid(format!(
                " ReservedConcurrentExecutions  {n} should not be lower than function's total provisioned concurrency [{provisioned}]."
            ))
            .with_field("Type", Value::Null));
        }
        f.reserved_concurrency = Some(n as u32);
        Ok(Value::map().with("ReservedConcurrentExecutions", n))
    })
    .await
}

pub fn get_function_concurrency(
    l: &Lambda,
    ctx: &RequestContext,
    input: &Value,
) -> Result<Value, AwsError> {
    let (name, _) = target(ctx, input)?;
    with_function(l, ctx, &name, None, |f| {
        Ok(match f.reserved_concurrency {
            Some(n) => Value::map().with("ReservedConcurrentExecutions", n as i64),
            None => Value::map(),
        })
    })
}

pub async fn delete_function_concurrency(
    l: &Lambda,
    ctx: &RequestContext,
    input: &Value,
) -> Result<Value, AwsError> {
    let (name, _) = target(ctx, input)?;
    mutate(l, ctx, &name, None, |f| {
        f.reserved_concurrency = None;
        Ok(Value::map())
    })
    .await
}

pub fn get_account_settings(l: &Lambda, ctx: &RequestContext) -> Value {
    let region = l.regions.get(ctx);
    let fns = region.functions.lock().unwrap();
    let total_code: i64 = fns
        .values()
        .map(|f| {
            f.latest.code_size as i64 + f.versions.values().map(|c| c.code_size as i64).sum::<i64>()
        })
        .sum();
    let reserved: i64 = fns
        .values()
        .filter_map(|f| f.reserved_concurrency)
        .map(i64::from)
        .sum();
    let limit = l.settings.max_concurrency as i64;
    Value::map()
        .with(
            "AccountLimit",
            Value::map()
                .with("TotalCodeSize", 80_530_636_800i64)
                .with("CodeSizeUnzipped", code::UNZIPPED_LIMIT as i64)
                .with("CodeSizeZipped", code::ZIPPED_LIMIT as i64)
                .with("ConcurrentExecutions", limit)
                .with("UnreservedConcurrentExecutions", limit - reserved),
        )
        .with(
            "AccountUsage",
            Value::map()
                .with("TotalCodeSize", total_code)
                .with("FunctionCount", fns.len() as i64),
        )
}

/// InvokeAsync (deprecated): an Event invocation of the request's body.
pub async fn invoke_async(
    l: &std::sync::Arc<Lambda>,
    ctx: &RequestContext,
    input: nephos_core::Input,
) -> Result<Value, AwsError> {
    let payload = match (input.body, input.value.get("InvokeArgs")) {
        (Some(body), _) => body
            .read_all()
            .await
            .map_err(|e| AwsError::internal(e.to_string()))?,
        (None, Some(Value::Blob(b))) => b.to_vec(),
        _ => Vec::new(),
    };
    let request = Value::map()
        .with(
            "FunctionName",
            input.value.str("FunctionName").unwrap_or_default(),
        )
        .with("InvocationType", "Event")
        .with("Payload", Value::Blob(payload.into()));
    crate::invoke::invoke(l, ctx, &request).await?;
    Ok(Value::map().with("Status", 202i64))
}
