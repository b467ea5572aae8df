//! Layers: PublishLayerVersion, GetLayerVersion(ByArn), ListLayers, ListLayerVersions,
//! DeleteLayerVersion and the layer version policies (Add/RemoveLayerVersionPermission,
//! GetLayerVersionPolicy); and what functions reference (`Layers` in their
//! configuration), checked here.
//!
//! A layer's zip is kept in the [`CodeStore`](crate::code::CodeStore) like a function's
//! package (by content hash), so runtimes unpack it the same way: [`code_key`] gives the
//! key of a layer version's zip.

use crate::Lambda;
use crate::functions::{conflict, invalid, package, store_package};
use crate::model::{self, LayerRef};
use crate::state;
use nephos_core::{AwsError, RequestContext, Value};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;

/// A layer and every version of it still published.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Layer {
    pub versions: BTreeMap<u64, LayerVersion>,
    /// The number the next PublishLayerVersion takes (numbers are never reused, even
    /// after every version was deleted).
    pub next_version: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LayerVersion {
    pub description: String,
    pub license_info: Option<String>,
    /// `None` when the publisher named none (AWS then reports no such member).
    pub compatible_runtimes: Option<Vec<String>>,
    pub compatible_architectures: Option<Vec<String>>,
    /// Base64 SHA-256 of the zip (`CodeSha256`).
    pub code_sha256: String,
    /// The zip's key in the code store (hex SHA-256).
    pub key: String,
    pub code_size: u64,
    pub created: String,
    /// Statements of the version's policy, in the order they were added.
    pub policy: Vec<serde_json::Value>,
    pub policy_revision: String,
}

pub fn layer_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:lambda:{region}:{account}:layer:{name}")
}

/// `arn:aws:lambda:<region>:<account>:layer:<name>:<version>` parsed.
struct VersionArn {
    region: String,
    account: String,
    name: String,
    version: u64,
}

fn parse_version_arn(arn: &str) -> Option<VersionArn> {
    let parts: Vec<&str> = arn.split(':').collect();
    match parts.as_slice() {
        ["arn", _, "lambda", region, account, "layer", name, version] => Some(VersionArn {
            region: (*region).to_owned(),
            account: (*account).to_owned(),
            name: (*name).to_owned(),
            version: version.parse().ok()?,
        }),
        _ => None,
    }
}

/// The name a `LayerName` parameter gives: a name or a layer ARN (unversioned).
fn layer_name(input: &Value) -> String {
    let raw = input.str("LayerName").unwrap_or_default();
    match raw.split(':').collect::<Vec<_>>().as_slice() {
        ["arn", _, "lambda", _, _, "layer", name] => (*name).to_owned(),
        _ => raw.to_owned(),
    }
}

fn not_found() -> AwsError {
    AwsError::new(
        404,
        "ResourceNotFoundException",
        "The resource you requested does not exist.",
    )
}

fn version_not_found(arn: &str) -> AwsError {
    AwsError::new(
        404,
        "ResourceNotFoundException",
        format!("Layer version {arn} does not exist."),
    )
}

fn version_number(input: &Value) -> Result<u64, AwsError> {
    let n = input.int("VersionNumber").unwrap_or(0);
    if n < 1 {
        return Err(invalid("Layer Version Cannot be less than 1"));
    }
    Ok(n as u64)
}

/// Where GetLayerVersion's `Content.Location` points: the zip, served by nephos.
fn location(l: &Lambda, key: &str) -> String {
    format!("{}/_nephos/lambda/code/{key}.zip", l.endpoint())
}

fn strings(v: &[String]) -> Value {
    Value::List(v.iter().map(|s| s.as_str().into()).collect())
}

/// The members ListLayerVersions and ListLayers report of a version.
fn version_summary(region: &str, account: &str, name: &str, n: u64, v: &LayerVersion) -> Value {
    let mut out = Value::map()
        .with(
            "LayerVersionArn",
            format!("{}:{n}", layer_arn(region, account, name)),
        )
        .with("Version", n as i64)
        .with("Description", v.description.as_str())
        .with("CreatedDate", v.created.as_str());
    if let Some(r) = &v.compatible_runtimes {
        out.insert("CompatibleRuntimes", strings(r));
    }
    if let Some(a) = &v.compatible_architectures {
        out.insert("CompatibleArchitectures", strings(a));
    }
    if let Some(li) = &v.license_info {
        out.insert("LicenseInfo", li.as_str());
    }
    out
}

/// GetLayerVersion's and PublishLayerVersion's answer.
fn version_detail(
    l: &Lambda,
    region: &str,
    account: &str,
    name: &str,
    n: u64,
    v: &LayerVersion,
) -> Value {
    version_summary(region, account, name, n, v)
        .with("LayerArn", layer_arn(region, account, name))
        .with(
            "Content",
            Value::map()
                .with("Location", location(l, &v.key))
                .with("CodeSha256", v.code_sha256.as_str())
                .with("CodeSize", v.code_size as i64),
        )
}

fn string_list(input: &Value, key: &str) -> Option<Vec<String>> {
    input.get(key).and_then(Value::as_list).map(|l| {
        l.iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    })
}

const RUNTIME_ENUM: &str = "[nodejs20.x, python3.14, provided.al2023, python3.12, python3.13, nodejs24.x, nodejs22.x, java25, python3.10, python3.11, java21, ruby3.3, ruby3.4, ruby3.2, python3.8, python3.9, java17, nodejs16.x, dotnet10, dotnet8, java11, dotnet6, nodejs18.x, provided.al2, java8.al2]";

/// AWS checks both lists and reports every invalid one in one message.
fn check_compatibility(runtimes: &[String], architectures: &[String]) -> Result<(), AwsError> {
    let mut errors = Vec::new();
    if runtimes
        .iter()
        .any(|r| !model::RUNTIMES.contains(&r.as_str()))
    {
        errors.push(format!(
            "Value '[{}]' at 'compatibleRuntimes' failed to satisfy constraint: Member must satisfy enum value set: {RUNTIME_ENUM}",
            runtimes.join(", ")
        ));
    }
    if architectures.iter().any(|a| a != "x86_64" && a != "arm64") {
        errors.push(format!(
            "Value '[{}]' at 'compatibleArchitectures' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [x86_64, arm64], Member must not be null]",
            architectures.join(", ")
        ));
    }
    if errors.is_empty() {
        return Ok(());
    }
    let n = errors.len();
    Err(AwsError::validation(format!(
        "{n} validation error{} detected: {}",
        if n == 1 { "" } else { "s" },
        errors.join("; ")
    )))
}

pub async fn publish_layer_version(
    l: &Lambda,
    ctx: &RequestContext,
    input: &Value,
) -> Result<Value, AwsError> {
    let name = layer_name(input);
    let runtimes = string_list(input, "CompatibleRuntimes");
    let architectures = string_list(input, "CompatibleArchitectures");
    check_compatibility(
        runtimes.as_deref().unwrap_or_default(),
        architectures.as_deref().unwrap_or_default(),
    )?;
    let content = input.get("Content").cloned().unwrap_or_default();
    let Some((pkg, zip)) = package(l, ctx, &content).await? else {
        return Err(invalid("Please provide a source for layer code."));
    };
    store_package(l, &pkg, &zip)?;
    let region = l.regions.get(ctx);
    let (out, record) = {
        let mut layers = region.layers.lock().unwrap();
        let layer = layers.entry(name.clone()).or_insert_with(|| Layer {
            versions: BTreeMap::new(),
            next_version: 1,
        });
        let n = layer.next_version;
        layer.next_version += 1;
        let v = LayerVersion {
            description: input.str("Description").unwrap_or_default().to_owned(),
            license_info: input.str("LicenseInfo").map(str::to_owned),
            compatible_runtimes: runtimes,
            compatible_architectures: architectures,
            code_sha256: pkg.sha256.clone(),
            key: pkg.key.clone(),
            code_size: pkg.size,
            created: model::lambda_time(ctx.clock.now_millis()),
            policy: Vec::new(),
            policy_revision: model::revision_id(),
        };
        let out = version_detail(l, &ctx.region, &ctx.account_id, &name, n, &v);
        layer.versions.insert(n, v);
        (
            out,
            state::put_record(ctx, state::LAYERS, &name, Some(&*layer))?,
        )
    };
    state::commit(&l.storage, vec![record]).await?;
    Ok(out)
}

pub fn get_layer_version(
    l: &Lambda,
    ctx: &RequestContext,
    input: &Value,
) -> Result<Value, AwsError> {
    let name = layer_name(input);
    let n = version_number(input)?;
    // A layer ARN may name another account's layer (readable when its policy allows).
    let owner = match input
        .str("LayerName")
        .unwrap_or_default()
        .split(':')
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["arn", _, "lambda", _, account, "layer", _] => (*account).to_owned(),
        _ => ctx.account_id.clone(),
    };
    let region = l.regions.get_for(&owner, &ctx.region);
    let layers = region.layers.lock().unwrap();
    let v = layers
        .get(&name)
        .and_then(|layer| layer.versions.get(&n))
        .filter(|v| owner == ctx.account_id || grants(v, &ctx.account_id))
        .ok_or_else(not_found)?;
    Ok(version_detail(l, &ctx.region, &owner, &name, n, v))
}

pub fn get_layer_version_by_arn(
    l: &Lambda,
    ctx: &RequestContext,
    input: &Value,
) -> Result<Value, AwsError> {
    let arn = input.str("Arn").unwrap_or_default();
    let r = parse_version_arn(arn).ok_or_else(|| {
        AwsError::validation(format!(
            "1 validation error detected: Value '{arn}' at 'arn' failed to satisfy constraint: Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:(eusc-)?[a-z]{{2}}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{{1}}:\\d{{12}}:layer:[a-zA-Z0-9-_]+:[0-9]+)|(arn:[a-zA-Z0-9-]+:lambda:::awslayer:[a-zA-Z0-9-_]+)"
        ))
    })?;
    let region = l.regions.get_for(&r.account, &r.region);
    let layers = region.layers.lock().unwrap();
    let v = layers
        .get(&r.name)
        .and_then(|layer| layer.versions.get(&r.version))
        .filter(|v| r.account == ctx.account_id || grants(v, &ctx.account_id))
        .ok_or_else(not_found)?;
    Ok(version_detail(
        l, &r.region, &r.account, &r.name, r.version, v,
    ))
}

/// Whether a version's policy lets `account` use it (a statement for everyone or for it).
fn grants(v: &LayerVersion, account: &str) -> bool {
    v.policy.iter().any(|s| {
        s["Principal"] == "*"
            || s["Principal"]["AWS"] == format!("arn:aws:iam::{account}:root").as_str()
    })
}

fn check_filters(input: &Value) -> Result<(Option<&str>, Option<&str>), AwsError> {
    let runtime = input.str("CompatibleRuntime");
    let arch = input.str("CompatibleArchitecture");
    if let Some(a) = arch
        && a != "x86_64"
        && a != "arm64"
    {
        return Err(AwsError::validation(format!(
            "1 validation error detected: Value '{a}' at 'compatibleArchitecture' failed to satisfy constraint: Member must satisfy enum value set: [x86_64, arm64]"
        )));
    }
    Ok((runtime, arch))
}

fn matches(v: &LayerVersion, runtime: Option<&str>, arch: Option<&str>) -> bool {
    let has = |list: &Option<Vec<String>>, x: &str| list.iter().flatten().any(|y| y == x);
    runtime.is_none_or(|r| has(&v.compatible_runtimes, r))
        && arch.is_none_or(|a| has(&v.compatible_architectures, a))
}

/// Pages a list by position (`Marker` is the index of the next item).
fn page(all: Vec<Value>, input: &Value, key: &str) -> Value {
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

pub fn list_layers(l: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value, AwsError> {
    let (runtime, arch) = check_filters(input)?;
    let region = l.regions.get(ctx);
    let layers = region.layers.lock().unwrap();
    let all: Vec<Value> = layers
        .iter()
        .filter_map(|(name, layer)| {
            let (n, v) = layer
                .versions
                .iter()
                .rev()
                .find(|(_, v)| matches(v, runtime, arch))?;
            Some(
                Value::map()
                    .with("LayerName", name.as_str())
                    .with("LayerArn", layer_arn(&ctx.region, &ctx.account_id, name))
                    .with(
                        "LatestMatchingVersion",
                        version_summary(&ctx.region, &ctx.account_id, name, *n, v),
                    ),
            )
        })
        .collect();
    Ok(page(all, input, "Layers"))
}

pub fn list_layer_versions(
    l: &Lambda,
    ctx: &RequestContext,
    input: &Value,
) -> Result<Value, AwsError> {
    let (runtime, arch) = check_filters(input)?;
    let name = layer_name(input);
    let region = l.regions.get(ctx);
    let layers = region.layers.lock().unwrap();
    // Newest first, as AWS lists them.
    let all: Vec<Value> = layers
        .get(&name)
        .map(|layer| {
            layer
                .versions
                .iter()
                .rev()
                .filter(|(_, v)| matches(v, runtime, arch))
                .map(|(n, v)| version_summary(&ctx.region, &ctx.account_id, &name, *n, v))
                .collect()
        })
        .unwrap_or_default();
    Ok(page(all, input, "LayerVersions"))
}

/// Deleting a version that does not exist succeeds, as in AWS. Functions that use the
/// version keep it (AWS keeps a copy for them): the zip stays in the code store.
pub async fn delete_layer_version(
    l: &Lambda,
    ctx: &RequestContext,
    input: &Value,
) -> Result<Value, AwsError> {
    let name = layer_name(input);
    let n = version_number(input)?;
    let region = l.regions.get(ctx);
    let record = {
        let mut layers = region.layers.lock().unwrap();
        let Some(layer) = layers.get_mut(&name) else {
            return Ok(Value::map());
        };
        if layer.versions.remove(&n).is_none() {
            return Ok(Value::map());
        }
        state::put_record(ctx, state::LAYERS, &name, Some(&*layer))?
    };
    state::commit(&l.storage, vec![record]).await?;
    Ok(Value::map())
}

fn wrong_revision() -> AwsError {
    AwsError::new(
        412,
        "PreconditionFailedException",
        "The Revision Id provided does not match the latest Revision Id. Call the GetLayerPolicy API to retrieve the latest Revision Id",
    )
}

/// Changes one version's policy and stores the layer; answers the change's result and the
/// policy's new revision.
async fn mutate_policy<T>(
    l: &Lambda,
    ctx: &RequestContext,
    input: &Value,
    change: impl FnOnce(&mut LayerVersion, &str) -> Result<T, AwsError>,
) -> Result<(T, String), AwsError> {
    let name = layer_name(input);
    let n = version_number(input)?;
    let arn = format!("{}:{n}", layer_arn(&ctx.region, &ctx.account_id, &name));
    let region = l.regions.get(ctx);
    let (out, record) = {
        let mut layers = region.layers.lock().unwrap();
        let layer = layers
            .get_mut(&name)
            .filter(|layer| layer.versions.contains_key(&n))
            .ok_or_else(|| version_not_found(&arn))?;
        let v = layer.versions.get_mut(&n).expect("checked");
        if let Some(r) = input.str("RevisionId")
            && r != v.policy_revision
        {
            return Err(wrong_revision());
        }
        let out = change(v, &arn)?;
        v.policy_revision = model::revision_id();
        (
            (out, v.policy_revision.clone()),
            state::put_record(ctx, state::LAYERS, &name, Some(&*layer))?,
        )
    };
    state::commit(&l.storage, vec![record]).await?;
    Ok(out)
}

pub async fn add_layer_version_permission(
    l: &Lambda,
    ctx: &RequestContext,
    input: &Value,
) -> Result<Value, AwsError> {
    let sid = input.str("StatementId").unwrap_or_default().to_owned();
    let action = input.str("Action").unwrap_or_default().to_owned();
    if action != "lambda:GetLayerVersion" {
        return Err(AwsError::validation(format!(
            "1 validation error detected: Value '{action}' at 'action' failed to satisfy constraint: Member must satisfy regular expression pattern: lambda:GetLayerVersion"
        )));
    }
    let p = input.str("Principal").unwrap_or_default();
    let principal = if p == "*" {
        json!("*")
    } else if nephos_core::is_account_id(p) {
        json!({ "AWS": format!("arn:aws:iam::{p}:root") })
    } else {
        json!({ "AWS": p })
    };
    let org = input.str("OrganizationId").map(str::to_owned);
    let (statement, revision) = mutate_policy(l, ctx, input, |v, arn| {
        if v.policy.iter().any(|s| s["Sid"] == sid.as_str()) {
            return Err(conflict(format!(
                "The statement id ({sid}) provided already exists. Please provide a new statement id, or remove the existing statement."
            )));
        }
        let mut statement = json!({
            "Sid": sid,
            "Effect": "Allow",
            "Principal": principal,
            "Action": action,
            "Resource": arn,
        });
        if let Some(o) = org {
            statement["Condition"] = json!({"StringEquals": {"aws:PrincipalOrgID": o}});
        }
        v.policy.push(statement.clone());
        Ok(statement)
    })
    .await?;
    Ok(Value::map()
        .with("Statement", statement.to_string())
        .with("RevisionId", revision))
}

pub async fn remove_layer_version_permission(
    l: &Lambda,
    ctx: &RequestContext,
    input: &Value,
) -> Result<Value, AwsError> {
    let sid = input.str("StatementId").unwrap_or_default().to_owned();
    mutate_policy(l, ctx, input, |v, _| {
        let before = v.policy.len();
        v.policy.retain(|s| s["Sid"] != sid.as_str());
        if v.policy.len() == before {
            return Err(AwsError::new(
                404,
                "ResourceNotFoundException",
                format!("Statement {sid} is not found in resource policy."),
            ));
        }
        Ok(())
    })
    .await?;
    Ok(Value::map())
}

pub fn get_layer_version_policy(
    l: &Lambda,
    ctx: &RequestContext,
    input: &Value,
) -> Result<Value, AwsError> {
    let name = layer_name(input);
    let n = version_number(input)?;
    let arn = format!("{}:{n}", layer_arn(&ctx.region, &ctx.account_id, &name));
    let region = l.regions.get(ctx);
    let layers = region.layers.lock().unwrap();
    let v = layers
        .get(&name)
        .and_then(|layer| layer.versions.get(&n))
        .ok_or_else(|| version_not_found(&arn))?;
    if v.policy.is_empty() {
        return Err(AwsError::new(
            404,
            "ResourceNotFoundException",
            "No policy is associated with the given resource.",
        ));
    }
    let doc = json!({"Version": "2012-10-17", "Id": "default", "Statement": v.policy});
    Ok(Value::map()
        .with("Policy", doc.to_string())
        .with("RevisionId", v.policy_revision.as_str()))
}

/// The layers a CreateFunction / UpdateFunctionConfiguration names, checked as AWS
/// checks them: at most 5, all in the function's region, existing, readable by the
/// caller, and no layer twice.
pub fn resolve_refs(
    l: &Lambda,
    ctx: &RequestContext,
    input: &Value,
) -> Result<Option<Vec<LayerRef>>, AwsError> {
    let Some(list) = input.get("Layers").and_then(Value::as_list) else {
        return Ok(None);
    };
    let arns: Vec<&str> = list.iter().filter_map(Value::as_str).collect();
    if arns.len() > 5 {
        return Err(invalid("Cannot reference more than 5 layers."));
    }
    let mut out: Vec<LayerRef> = Vec::new();
    let mut seen: Vec<(String, String, String)> = Vec::new();
    for arn in &arns {
        let r = parse_version_arn(arn).ok_or_else(|| {
            AwsError::validation(format!(
                "1 validation error detected: Value '[{}]' at 'layers' failed to satisfy constraint: Member must satisfy constraint: [Member must have length less than or equal to 2048, Member must have length greater than or equal to 1, Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:(eusc-)?[a-z]{{2}}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{{1}}:\\d{{12}}:layer:[a-zA-Z0-9-_]+:[0-9]+)|(arn:[a-zA-Z0-9-]+:lambda:::awslayer:[a-zA-Z0-9-_]+), Member must not be null]",
                arns.join(", ")
            ))
        })?;
        if r.region != ctx.region {
            return Err(invalid(format!(
                "Layers are not in the same region as the function. Layers are expected to be in region {}.",
                ctx.region
            )));
        }
        let id = (r.account.clone(), r.region.clone(), r.name.clone());
        if let Some(pos) = seen.iter().position(|s| *s == id) {
            return Err(invalid(format!(
                "Two different versions of the same layer are not allowed to be referenced in the same function. {} and {arn} are versions of the same layer.",
                out[pos].arn
            )));
        }
        let size = {
            let region = l.regions.get_for(&r.account, &r.region);
            let layers = region.layers.lock().unwrap();
            layers
                .get(&r.name)
                .and_then(|layer| layer.versions.get(&r.version))
                .filter(|v| r.account == ctx.account_id || grants(v, &ctx.account_id))
                .map(|v| v.code_size)
        };
        let Some(code_size) = size else {
            return Err(invalid(format!("Layer version {arn} does not exist.")));
        };
        seen.push(id);
        out.push(LayerRef {
            arn: (*arn).to_owned(),
            code_size,
        });
    }
    Ok(Some(out))
}

/// The code store key (hex SHA-256) of a layer version's zip, for runtimes to unpack it
/// with `CodeStore::unpacked`. `None` when the ARN names no layer version.
pub fn code_key(l: &Lambda, layer_version_arn: &str) -> Option<String> {
    let r = parse_version_arn(layer_version_arn)?;
    let region = l.regions.get_for(&r.account, &r.region);
    let layers = region.layers.lock().unwrap();
    layers
        .get(&r.name)
        .and_then(|layer| layer.versions.get(&r.version))
        .map(|v| v.key.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_arns() {
        let r =
            parse_version_arn("arn:aws:lambda:us-east-1:123456789012:layer:my-layer:3").unwrap();
        assert_eq!(
            (
                r.region.as_str(),
                r.account.as_str(),
                r.name.as_str(),
                r.version
            ),
            ("us-east-1", "123456789012", "my-layer", 3)
        );
        assert!(
            parse_version_arn("arn:aws:lambda:us-east-1:123456789012:layer:my-layer").is_none()
        );
        assert!(parse_version_arn("arn:aws:lambda:us-east-1:123456789012:layer:l:x").is_none());
    }

    #[test]
    fn invalid_compatibility_is_reported_together() {
        let e = check_compatibility(&["bad".into()], &["bad".into()]).unwrap_err();
        assert!(e.message.starts_with("2 validation errors detected"));
        assert!(check_compatibility(&["python3.12".into()], &["arm64".into()]).is_ok());
    }
}
