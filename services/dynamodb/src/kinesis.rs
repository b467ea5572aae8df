//! Kinesis streaming destinations of a table: stored and described. Nothing is delivered
//! while nephos has no Kinesis service.

use crate::state::{DynamoDb, TABLES, table_record_key};
use nephos_core::{AwsError, RequestContext, Value};
use nephos_storage::Mutation;

fn table_of(v: &Value) -> String {
    let t = v.str("TableName").unwrap_or_default();
    match t.split_once(":table/") {
        Some((_, rest)) => rest.split('/').next().unwrap_or(rest).to_owned(),
        None => t.to_owned(),
    }
}

impl DynamoDb {
    /// Enable (`enable`) or disable a destination.
    pub async fn kinesis_destination(
        &self,
        ctx: &RequestContext,
        v: &Value,
        enable: bool,
    ) -> Result<Value, AwsError> {
        let name = table_of(v);
        let t = self.table(ctx, &name)?;
        let arn = v.str("StreamArn").unwrap_or_default().to_owned();
        let precision = v
            .get("EnableKinesisStreamingConfiguration")
            .and_then(|c| c.str("ApproximateCreationDateTimePrecision"))
            .unwrap_or("MILLISECOND")
            .to_owned();
        let pending = {
            let mut t = t.write().unwrap();
            let existing = t.meta.kinesis.iter().position(|d| d.0 == arn);
            match (enable, existing) {
                (true, Some(i)) if t.meta.kinesis[i].1 == "ACTIVE" => {
                    return Err(AwsError::validation(
                        "Table is already streaming to the destination",
                    ));
                }
                (true, Some(i)) => {
                    t.meta.kinesis[i] = (arn.clone(), "ACTIVE".into(), precision.clone());
                }
                (true, None) => {
                    t.meta
                        .kinesis
                        .push((arn.clone(), "ACTIVE".into(), precision.clone()));
                }
                (false, Some(i)) if t.meta.kinesis[i].1 == "ACTIVE" => {
                    t.meta.kinesis[i].1 = "DISABLED".into();
                }
                (false, _) => {
                    return Err(AwsError::validation(
                        "Table is not in a valid state to disable Kinesis Streaming Destination:DISABLE_NOT_ALLOWED",
                    ));
                }
            }
            let bytes =
                serde_json::to_vec(&t.meta).map_err(|e| AwsError::internal(e.to_string()))?;
            self.start_commit(vec![Mutation::put(
                TABLES,
                table_record_key(&ctx.account_id, &ctx.region, &name),
                bytes,
            )])
        };
        pending.wait().await?;
        Ok(Value::map()
            .with("TableName", name.as_str())
            .with("StreamArn", arn.as_str())
            .with(
                "DestinationStatus",
                if enable { "ENABLING" } else { "DISABLING" },
            )
            .with(
                "EnableKinesisStreamingConfiguration",
                Value::map().with("ApproximateCreationDateTimePrecision", precision.as_str()),
            ))
    }

    pub fn describe_kinesis_destinations(
        &self,
        ctx: &RequestContext,
        v: &Value,
    ) -> Result<Value, AwsError> {
        let name = table_of(v);
        let t = self.table(ctx, &name)?;
        let t = t.read().unwrap();
        let list = t
            .meta
            .kinesis
            .iter()
            .map(|(arn, status, precision)| {
                Value::map()
                    .with("StreamArn", arn.as_str())
                    .with("DestinationStatus", status.as_str())
                    .with("ApproximateCreationDateTimePrecision", precision.as_str())
            })
            .collect();
        Ok(Value::map()
            .with("TableName", name.as_str())
            .with("KinesisDataStreamDestinations", Value::List(list)))
    }
}
