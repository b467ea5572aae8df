//! Code signing configurations: Create/Get/Update/Delete/ListCodeSigningConfigs and
//! ListFunctionsByCodeSigningConfig. Functions attach one with
//! PutFunctionCodeSigningConfig ([`crate::configs`]).
//!
//! nephos does not verify signatures (there is no AWS Signer): a configuration is stored
//! and reported, and packages deploy as if `UntrustedArtifactOnDeployment` were `Warn`.

use crate::Lambda;
use crate::configs::page;
use crate::model;
use crate::state;
use nephos_core::{AwsError, RequestContext, Value};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CodeSigningConfig {
    pub description: String,
    pub signing_profile_version_arns: Vec<String>,
    /// `Warn` or `Enforce`.
    pub untrusted_artifact_on_deployment: String,
    pub last_modified: String,
}

pub fn arn(region: &str, account: &str, id: &str) -> String {
    format!("arn:aws:lambda:{region}:{account}:code-signing-config:{id}")
}

/// The id an ARN of this account and region names.
fn id_of<'a>(ctx: &RequestContext, arn: &'a str) -> Option<&'a str> {
    let prefix = format!(
        "arn:aws:lambda:{}:{}:code-signing-config:",
        ctx.region, ctx.account_id
    );
    arn.strip_prefix(&prefix)
}

/// AWS's message has no `Type` member, unlike most Lambda errors.
fn not_found(arn: &str) -> AwsError {
    AwsError::new(
        404,
        "ResourceNotFoundException",
        format!("The Lambda code signing configuration {arn} can not be found."),
    )
    .with_field("Type", Value::Null)
}

pub fn exists(l: &Lambda, ctx: &RequestContext, arn: &str) -> bool {
    id_of(ctx, arn).is_some_and(|id| {
        l.regions
            .get(ctx)
            .code_signing
            .lock()
            .unwrap()
            .contains_key(id)
    })
}

fn value(ctx: &RequestContext, id: &str, c: &CodeSigningConfig) -> Value {
    Value::map()
        .with("CodeSigningConfigId", id)
        .with(
            "CodeSigningConfigArn",
            arn(&ctx.region, &ctx.account_id, id),
        )
        .with("Description", c.description.as_str())
        .with(
            "AllowedPublishers",
            Value::map().with(
                "SigningProfileVersionArns",
                Value::List(
                    c.signing_profile_version_arns
                        .iter()
                        .map(|a| a.as_str().into())
                        .collect(),
                ),
            ),
        )
        .with(
            "CodeSigningPolicies",
            Value::map().with(
                "UntrustedArtifactOnDeployment",
                c.untrusted_artifact_on_deployment.as_str(),
            ),
        )
        .with("LastModified", c.last_modified.as_str())
}

fn profiles(input: &Value) -> Option<Vec<String>> {
    input
        .get("AllowedPublishers")
        .and_then(|p| p.get("SigningProfileVersionArns"))
        .and_then(Value::as_list)
        .map(|l| {
            l.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
}

fn policy(input: &Value) -> Option<String> {
    input
        .get("CodeSigningPolicies")
        .and_then(|p| p.str("UntrustedArtifactOnDeployment"))
        .map(str::to_owned)
}

pub async fn create(l: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value, AwsError> {
    let id = format!(
        "csc-{}",
        nephos_core::random_alnum(17, b"abcdefghijklmnopqrstuvwxyz0123456789")
    );
    let c = CodeSigningConfig {
        description: input.str("Description").unwrap_or_default().to_owned(),
        signing_profile_version_arns: profiles(input).unwrap_or_default(),
        untrusted_artifact_on_deployment: policy(input).unwrap_or_else(|| "Warn".into()),
        last_modified: model::lambda_time(ctx.clock.now_millis()),
    };
    let out = value(ctx, &id, &c);
    let record = state::put_record(ctx, state::CODE_SIGNING, &id, Some(&c))?;
    l.regions
        .get(ctx)
        .code_signing
        .lock()
        .unwrap()
        .insert(id, c);
    state::commit(&l.storage, vec![record]).await?;
    Ok(Value::map().with("CodeSigningConfig", out))
}

pub fn get(l: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value, AwsError> {
    let arn = input.str("CodeSigningConfigArn").unwrap_or_default();
    let region = l.regions.get(ctx);
    let all = region.code_signing.lock().unwrap();
    let (id, c) = id_of(ctx, arn)
        .and_then(|id| all.get_key_value(id))
        .ok_or_else(|| not_found(arn))?;
    Ok(Value::map().with("CodeSigningConfig", value(ctx, id, c)))
}

pub async fn update(l: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value, AwsError> {
    let arn = input.str("CodeSigningConfigArn").unwrap_or_default();
    let now = model::lambda_time(ctx.clock.now_millis());
    let region = l.regions.get(ctx);
    let (out, record) = {
        let mut all = region.code_signing.lock().unwrap();
        let id = id_of(ctx, arn)
            .filter(|id| all.contains_key(*id))
            .ok_or_else(|| not_found(arn))?;
        let c = all.get_mut(id).expect("checked");
        let mut changed = false;
        if let Some(d) = input.str("Description") {
            changed |= c.description != d;
            c.description = d.to_owned();
        }
        if let Some(p) = profiles(input) {
            changed |= c.signing_profile_version_arns != p;
            c.signing_profile_version_arns = p;
        }
        if let Some(p) = policy(input) {
            changed |= c.untrusted_artifact_on_deployment != p;
            c.untrusted_artifact_on_deployment = p;
        }
        if changed {
            c.last_modified = now;
        }
        (
            value(ctx, id, c),
            state::put_record(ctx, state::CODE_SIGNING, id, Some(&*c))?,
        )
    };
    state::commit(&l.storage, vec![record]).await?;
    Ok(Value::map().with("CodeSigningConfig", out))
}

pub async fn delete(l: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value, AwsError> {
    let arn = input.str("CodeSigningConfigArn").unwrap_or_default();
    let region = l.regions.get(ctx);
    let id = {
        let mut all = region.code_signing.lock().unwrap();
        let id = id_of(ctx, arn)
            .filter(|id| all.contains_key(*id))
            .ok_or_else(|| not_found(arn))?
            .to_owned();
        all.remove(&id);
        id
    };
    let record = state::put_record::<CodeSigningConfig>(ctx, state::CODE_SIGNING, &id, None)?;
    state::commit(&l.storage, vec![record]).await?;
    Ok(Value::map())
}

pub fn list(l: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value, AwsError> {
    let region = l.regions.get(ctx);
    let all: Vec<Value> = region
        .code_signing
        .lock()
        .unwrap()
        .iter()
        .map(|(id, c)| value(ctx, id, c))
        .collect();
    Ok(page(all, input, "CodeSigningConfigs"))
}

pub fn list_functions(l: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value, AwsError> {
    let arn = input.str("CodeSigningConfigArn").unwrap_or_default();
    if !exists(l, ctx, arn) {
        return Err(not_found(arn));
    }
    let region = l.regions.get(ctx);
    let all: Vec<Value> = region
        .functions
        .lock()
        .unwrap()
        .values()
        .filter(|f| f.code_signing_config.as_deref() == Some(arn))
        .map(|f| model::function_arn(&ctx.region, &ctx.account_id, &f.name).into())
        .collect();
    Ok(page(all, input, "FunctionArns"))
}
