//! Resource policies: PutResourcePolicy, DescribeResourcePolicies, DeleteResourcePolicy.
//!
//! Account-scoped policies are named; resource-scoped ones belong to a log group ARN.
//! Each put gets a new revision id, and a request naming an `expectedRevisionId` that is
//! no longer current is refused. nephos stores the documents; it does not evaluate them
//! (services that deliver logs do not run inside nephos yet). Stored in `logs.policies`
//! (`account region key` → JSON).

use crate::errors;
use crate::state::Core;
use crate::util;
use nephos_core::{AwsError, RequestContext, Value};
use nephos_storage::Mutation;
use serde::{Deserialize, Serialize};

pub const POLICIES: &str = "logs.policies";
/// AWS's quota of account-level resource policies per region.
const MAX_ACCOUNT_POLICIES: usize = 10;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Policy {
    #[serde(default)]
    pub policy_name: Option<String>,
    pub policy_document: String,
    #[serde(default)]
    pub resource_arn: Option<String>,
    pub revision_id: String,
    pub last_updated_time: i64,
}

impl Policy {
    fn describe(&self) -> Value {
        let mut v = Value::map()
            .with("policyDocument", self.policy_document.as_str())
            .with("lastUpdatedTime", self.last_updated_time)
            .with(
                "policyScope",
                if self.resource_arn.is_some() {
                    "RESOURCE"
                } else {
                    "ACCOUNT"
                },
            )
            .with("revisionId", self.revision_id.as_str());
        if let Some(n) = &self.policy_name {
            v.insert("policyName", n.as_str());
        }
        if let Some(a) = &self.resource_arn {
            v.insert("resourceArn", a.as_str());
        }
        v
    }
}

/// Where a policy is kept: by the resource it belongs to, else by its name.
fn policy_key(i: &Value) -> Result<String, AwsError> {
    match (i.str("resourceArn"), i.str("policyName")) {
        (Some(arn), _) => Ok(format!("arn:{arn}")),
        (None, Some(name)) => Ok(format!("name:{name}")),
        (None, None) => Err(errors::invalid_parameter(
            "Either policyName or resourceArn must be specified.",
        )),
    }
}

fn storage_key(ctx: &RequestContext, key: &str) -> String {
    format!("{}\t{}\t{key}", ctx.account_id, ctx.region)
}

fn conflict() -> AwsError {
    AwsError::new(
        400,
        "OperationAbortedException",
        "The expected revision id does not match the current revision of the policy.",
    )
}

pub async fn put_resource_policy(
    c: &Core,
    ctx: &RequestContext,
    i: &Value,
) -> Result<Value, AwsError> {
    let key = policy_key(i)?;
    let document = i.str("policyDocument").unwrap_or_default().to_owned();
    if serde_json::from_str::<serde_json::Value>(&document).is_err() {
        return Err(errors::invalid_parameter(
            "The policy document is not valid JSON.",
        ));
    }
    if let Some(arn) = i.str("resourceArn") {
        let r = util::parse_group_arn(arn)
            .ok_or_else(|| errors::invalid_parameter(format!("Invalid resource ARN: {arn}")))?;
        c.find(&r.account, &r.region, &r.name)
            .ok_or_else(errors::group_not_found)?;
    }
    let region = c.regions.get(ctx);
    let (policy, m) = {
        let mut policies = region.policies.lock().unwrap();
        let current = policies.get(&key);
        if let Some(expected) = i.str("expectedRevisionId")
            && current.is_none_or(|p| p.revision_id != expected)
        {
            return Err(conflict());
        }
        let account_level = policies.keys().filter(|k| k.starts_with("name:")).count();
        if current.is_none() && key.starts_with("name:") && account_level >= MAX_ACCOUNT_POLICIES {
            return Err(errors::limit_exceeded("Resource limit exceeded."));
        }
        let policy = Policy {
            policy_name: i.str("policyName").map(str::to_owned),
            policy_document: document,
            resource_arn: i.str("resourceArn").map(str::to_owned),
            revision_id: crate::insights::random_id(),
            last_updated_time: ctx.clock.now_millis(),
        };
        let m = Mutation::put(
            POLICIES,
            storage_key(ctx, &key),
            serde_json::to_vec(&policy).unwrap_or_default(),
        );
        policies.insert(key, policy.clone());
        (policy, m)
    };
    c.commit(vec![m]).await?;
    Ok(Value::map()
        .with("resourcePolicy", policy.describe())
        .with("revisionId", policy.revision_id.as_str()))
}

pub fn describe_resource_policies(
    c: &Core,
    ctx: &RequestContext,
    i: &Value,
) -> Result<Value, AwsError> {
    let scope = i.str("policyScope");
    let arn = i.str("resourceArn");
    let region = c.regions.get(ctx);
    let found: Vec<Value> = region
        .policies
        .lock()
        .unwrap()
        .values()
        .filter(|p| {
            let resource_scoped = p.resource_arn.is_some();
            scope.is_none_or(|s| (s == "RESOURCE") == resource_scoped)
                && arn.is_none_or(|a| p.resource_arn.as_deref() == Some(a))
        })
        .map(Policy::describe)
        .collect();
    let limit = i.int("limit").unwrap_or(50) as usize;
    let (page, next) = util::page(found, i.str("nextToken"), limit)?;
    let mut out = Value::map().with("resourcePolicies", page);
    if let Some(t) = next {
        out.insert("nextToken", t);
    }
    Ok(out)
}

pub async fn delete_resource_policy(
    c: &Core,
    ctx: &RequestContext,
    i: &Value,
) -> Result<Value, AwsError> {
    let key = policy_key(i)?;
    let region = c.regions.get(ctx);
    {
        let mut policies = region.policies.lock().unwrap();
        let Some(current) = policies.get(&key) else {
            let name = i
                .str("policyName")
                .or(i.str("resourceArn"))
                .unwrap_or_default();
            return Err(errors::not_found(format!(
                "Policy with name [{name}] does not exist"
            )));
        };
        if i.str("expectedRevisionId")
            .is_some_and(|e| e != current.revision_id)
        {
            return Err(conflict());
        }
        policies.remove(&key);
    }
    c.commit(vec![Mutation::delete(POLICIES, storage_key(ctx, &key))])
        .await?;
    Ok(Value::map())
}
