//! Function URLs, the control plane: Create/Get/Update/Delete/ListFunctionUrlConfigs.
//!
//! A URL belongs to the unqualified function or to one alias and has AWS's host name
//! form, `<32-character id>.lambda-url.<region>`, under nephos's address ([`url_of`]);
//! [`target`] maps the id back to the function for the data plane (`url_invoke`).

use crate::Lambda;
use crate::configs::page;
use crate::functions::{conflict, target as function_target};
use crate::model::{self, Cors, Function, LATEST, UrlConfig, qualified_arn};
use crate::state;
use nephos_core::{AwsError, RequestContext, Value};

fn no_function() -> AwsError {
    AwsError::new(404, "ResourceNotFoundException", "Function does not exist")
}

fn no_url() -> AwsError {
    AwsError::new(
        404,
        "ResourceNotFoundException",
        "The resource you requested does not exist.",
    )
}

/// The function and qualifier (`""`: none) a request names. A URL's qualifier is an
/// alias: a version number or `$LATEST` is refused as AWS refuses it.
fn url_target(ctx: &RequestContext, input: &Value) -> Result<(String, String), AwsError> {
    if let Some(q) = input.str("Qualifier")
        && (q == LATEST || q.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(AwsError::validation(format!(
            "1 validation error detected: Value '{q}' at 'qualifier' failed to satisfy constraint: Member must satisfy regular expression pattern: ((?!^\\d+$)^[0-9a-zA-Z-_]+$)"
        )));
    }
    let (name, q) = function_target(ctx, input)?;
    Ok((name, q.unwrap_or_default()))
}

fn exists(f: &Function, q: &str) -> bool {
    q.is_empty() || f.aliases.contains_key(q)
}

/// The URL callers reach the function at through nephos: AWS's host name form under the
/// name nephos was addressed by (`http://<id>.lambda-url.<region>.localhost:4566/`, or
/// LocalStack's `...localhost.localstack.cloud:4566` form), since `on.aws` would leave
/// the machine. Browsers and curl resolve `*.localhost` to the loopback address.
pub fn url_of(ctx: &RequestContext, id: &str) -> String {
    let host = ctx.host.as_deref().unwrap_or("localhost:4566");
    let port = host
        .rsplit_once(':')
        .map(|(_, p)| p)
        .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let domain = if host.contains("localhost.localstack.cloud") {
        "localhost.localstack.cloud"
    } else {
        "localhost"
    };
    let region = &ctx.region;
    match port {
        Some(p) => format!("http://{id}.lambda-url.{region}.{domain}:{p}/"),
        None => format!("http://{id}.lambda-url.{region}.{domain}/"),
    }
}

fn strings(v: &Option<Vec<String>>) -> Option<Value> {
    v.as_ref()
        .map(|l| Value::List(l.iter().map(|s| s.as_str().into()).collect()))
}

fn cors_value(c: &Cors) -> Value {
    let mut v = Value::map();
    if let Some(b) = c.allow_credentials {
        v.insert("AllowCredentials", b);
    }
    for (k, l) in [
        ("AllowHeaders", &c.allow_headers),
        ("AllowMethods", &c.allow_methods),
        ("AllowOrigins", &c.allow_origins),
        ("ExposeHeaders", &c.expose_headers),
    ] {
        if let Some(l) = strings(l) {
            v.insert(k, l);
        }
    }
    if let Some(m) = c.max_age {
        v.insert("MaxAge", m);
    }
    v
}

fn cors_of(v: &Value) -> Cors {
    let list = |k: &str| {
        v.get(k).and_then(Value::as_list).map(|l| {
            l.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
    };
    Cors {
        allow_credentials: v.bool("AllowCredentials"),
        allow_headers: list("AllowHeaders"),
        allow_methods: list("AllowMethods"),
        allow_origins: list("AllowOrigins"),
        expose_headers: list("ExposeHeaders"),
        max_age: v.int("MaxAge"),
    }
}

/// What Create and Update answer: what they were given (AWS leaves `InvokeMode` out
/// unless the request named it).
fn echo(ctx: &RequestContext, name: &str, q: &str, u: &UrlConfig, input: &Value) -> Value {
    let q = (!q.is_empty()).then_some(q);
    let mut v = Value::map()
        .with("FunctionUrl", url_of(ctx, &u.id))
        .with(
            "FunctionArn",
            qualified_arn(&ctx.region, &ctx.account_id, name, q),
        )
        .with("AuthType", u.auth_type.as_str())
        .with("CreationTime", u.created.as_str());
    if let Some(c) = &u.cors {
        v.insert("Cors", cors_value(c));
    }
    // Streaming URLs always say so; buffered ones only when the request named the mode.
    if input.str("InvokeMode").is_some() || u.invoke_mode != "BUFFERED" {
        v.insert("InvokeMode", u.invoke_mode.as_str());
    }
    v
}

fn full(ctx: &RequestContext, name: &str, q: &str, u: &UrlConfig) -> Value {
    let q = (!q.is_empty()).then_some(q);
    let mut v = Value::map()
        .with("FunctionUrl", url_of(ctx, &u.id))
        .with(
            "FunctionArn",
            qualified_arn(&ctx.region, &ctx.account_id, name, q),
        )
        .with("AuthType", u.auth_type.as_str())
        .with("CreationTime", u.created.as_str())
        .with("LastModifiedTime", u.last_modified.as_str())
        .with("InvokeMode", u.invoke_mode.as_str());
    if let Some(c) = &u.cors {
        v.insert("Cors", cors_value(c));
    }
    v
}

async fn change<T>(
    l: &Lambda,
    ctx: &RequestContext,
    name: &str,
    missing: fn() -> AwsError,
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

pub async fn create(l: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value, AwsError> {
    let (name, q) = url_target(ctx, input)?;
    let now = model::lambda_time(ctx.clock.now_millis());
    change(l, ctx, &name, no_function, |f| {
        if !exists(f, &q) {
            return Err(no_function());
        }
        if f.urls.contains_key(&q) {
            return Err(conflict(format!(
                "Failed to create function url config for [functionArn = {}]. Error message:  FunctionUrlConfig exists for this Lambda function",
                qualified_arn(
                    &ctx.region,
                    &ctx.account_id,
                    &name,
                    (!q.is_empty()).then_some(q.as_str())
                )
            )));
        }
        let u = UrlConfig {
            id: nephos_core::random_alnum(32, b"abcdefghijklmnopqrstuvwxyz0123456789"),
            auth_type: input.str("AuthType").unwrap_or("NONE").to_owned(),
            invoke_mode: input.str("InvokeMode").unwrap_or("BUFFERED").to_owned(),
            cors: input.get("Cors").map(cors_of),
            created: now.clone(),
            last_modified: now.clone(),
        };
        let out = echo(ctx, &name, &q, &u, input);
        f.urls.insert(q.clone(), u);
        Ok(out)
    })
    .await
}

pub fn get(l: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value, AwsError> {
    let (name, q) = url_target(ctx, input)?;
    let region = l.regions.get(ctx);
    let fns = region.functions.lock().unwrap();
    let u = fns
        .get(&name)
        .and_then(|f| f.urls.get(&q))
        .ok_or_else(no_url)?;
    Ok(full(ctx, &name, &q, u))
}

pub async fn update(l: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value, AwsError> {
    let (name, q) = url_target(ctx, input)?;
    let now = model::lambda_time(ctx.clock.now_millis());
    change(l, ctx, &name, no_function, |f| {
        if !exists(f, &q) {
            return Err(no_function());
        }
        let u = f.urls.get_mut(&q).ok_or_else(no_url)?;
        if let Some(a) = input.str("AuthType") {
            u.auth_type = a.to_owned();
        }
        if let Some(m) = input.str("InvokeMode") {
            u.invoke_mode = m.to_owned();
        }
        if let Some(c) = input.get("Cors") {
            u.cors = Some(cors_of(c));
        }
        u.last_modified = now.clone();
        Ok(echo(ctx, &name, &q, u, input).with("LastModifiedTime", now.as_str()))
    })
    .await
}

pub async fn delete(l: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value, AwsError> {
    let (name, q) = url_target(ctx, input)?;
    change(l, ctx, &name, no_url, |f| {
        f.urls.remove(&q).ok_or_else(no_url)?;
        Ok(Value::map())
    })
    .await
}

pub fn list(l: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value, AwsError> {
    let (name, _) = function_target(ctx, input)?;
    let region = l.regions.get(ctx);
    let fns = region.functions.lock().unwrap();
    let f = fns.get(&name).ok_or_else(no_function)?;
    let all: Vec<Value> = f.urls.iter().map(|(q, u)| full(ctx, &name, q, u)).collect();
    Ok(page(all, input, "FunctionUrlConfigs"))
}

/// A function URL's owner: (account, region, function, qualifier), from the id in its
/// host name. The qualifier is an alias or `None` for the unqualified function.
pub fn target(l: &Lambda, id: &str) -> Option<(String, String, String, Option<String>)> {
    for ((account, region), r) in l.regions.all() {
        let fns = r.functions.lock().unwrap();
        for f in fns.values() {
            if let Some((q, _)) = f.urls.iter().find(|(_, u)| u.id == id) {
                return Some((
                    account.clone(),
                    region.clone(),
                    f.name.clone(),
                    (!q.is_empty()).then(|| q.clone()),
                ));
            }
        }
    }
    None
}
