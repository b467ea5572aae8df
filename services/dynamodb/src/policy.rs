//! DescribeEndpoints and resource-based policies (Put/Get/DeleteResourcePolicy) of tables.
//! Policies are kept and answered with AWS's revision ids and errors; nephos does not
//! evaluate them on requests.

use crate::state::DynamoDb;
use crate::table::Table;
use nephos_core::{AwsError, RequestContext, Value};

fn policy_not_found(arn: &str) -> AwsError {
    AwsError::new(
        400,
        "PolicyNotFoundException",
        format!("Resource-based policy not found for the provided ResourceArn: {arn}"),
    )
}

impl DynamoDb {
    /// The regional endpoint, as AWS names it (endpoint discovery).
    pub fn describe_endpoints(&self, ctx: &RequestContext) -> Value {
        Value::map().with(
            "Endpoints",
            Value::List(vec![
                Value::map()
                    .with("Address", format!("dynamodb.{}.amazonaws.com", ctx.region))
                    .with("CachePeriodInMinutes", 1440),
            ]),
        )
    }

    pub async fn put_resource_policy(
        &self,
        ctx: &RequestContext,
        v: &Value,
    ) -> Result<Value, AwsError> {
        let arn = v.str("ResourceArn").unwrap_or_default();
        let text = v.str("Policy").unwrap_or_default();
        if serde_json::from_str::<serde_json::Value>(text).is_err() {
            return Err(AwsError::validation("Invalid policy document"));
        }
        let t = self.table_by_arn(ctx, arn)?;
        let (snapshot, revision) = {
            let mut t = t.write().unwrap();
            if let Some(expected) = v.str("ExpectedRevisionId")
                && t.meta.resource_policy.as_ref().map(|p| p.1.as_str()) != Some(expected)
            {
                return Err(policy_not_found(arn));
            }
            // Revision ids are the change's time in milliseconds, kept increasing.
            let previous = t
                .meta
                .resource_policy
                .as_ref()
                .and_then(|p| p.1.parse::<i64>().ok())
                .unwrap_or(0);
            let revision = ctx.clock.now_millis().max(previous + 1).to_string();
            t.meta.resource_policy = Some((text.to_owned(), revision.clone()));
            (Table::new(t.meta.clone()), revision)
        };
        self.persist_meta(ctx, &snapshot).await?;
        Ok(Value::map().with("RevisionId", revision))
    }

    pub fn get_resource_policy(&self, ctx: &RequestContext, v: &Value) -> Result<Value, AwsError> {
        let arn = v.str("ResourceArn").unwrap_or_default();
        let t = self.table_by_arn(ctx, arn)?;
        let t = t.read().unwrap();
        let (policy, revision) = t
            .meta
            .resource_policy
            .as_ref()
            .ok_or_else(|| policy_not_found(arn))?;
        Ok(Value::map()
            .with("Policy", policy.as_str())
            .with("RevisionId", revision.as_str()))
    }

    pub async fn delete_resource_policy(
        &self,
        ctx: &RequestContext,
        v: &Value,
    ) -> Result<Value, AwsError> {
        let arn = v.str("ResourceArn").unwrap_or_default();
        let t = self.table_by_arn(ctx, arn)?;
        let (snapshot, revision) = {
            let mut t = t.write().unwrap();
            let Some((_, revision)) = t.meta.resource_policy.clone() else {
                return Err(policy_not_found(arn));
            };
            if let Some(expected) = v.str("ExpectedRevisionId")
                && expected != revision
            {
                return Err(policy_not_found(arn));
            }
            t.meta.resource_policy = None;
            (Table::new(t.meta.clone()), revision)
        };
        self.persist_meta(ctx, &snapshot).await?;
        Ok(Value::map().with("RevisionId", revision))
    }
}
