//! Amazon DynamoDB: tables, items, the expression languages, queries and scans, secondary
//! indexes, batches, transactions and consumed capacity; on-demand backups and
//! point-in-time recovery, global tables, exports to and imports from S3 (GZIP, ZSTD; CSV,
//! DynamoDB JSON, Ion), Kinesis streaming destinations (stored only), item collection
//! limits of tables with local indexes, contributor insights settings, server-side
//! encryption settings, and opt-in provisioned-throughput throttling.
//!
//! Items live in memory per table in an ordered map keyed by partition then sort key
//! (bytes that sort as DynamoDB sorts), each item compactly encoded (`attr::encode_item`);
//! the same bytes are what `--data-dir` persists, so restarts only copy them back. What a
//! write adds beside the item (its stream record, point-in-time history, replication
//! queue) is committed in the same storage transaction (`Table::journal`).

mod attr;
mod backup;
mod capacity;
mod expr;
mod insights;
mod ion;
mod items;
mod kinesis;
mod number;
mod partiql;
mod pitr;
mod policy;
#[cfg(test)]
mod proptests;
mod query;
mod replicas;
mod s3io;
mod state;
mod stream;
mod streams_api;
mod table;
mod tables;
mod throttle;
mod transact;
mod ttl;

use nephos_core::{AwsError, BoxFuture, Clock, Input, Output, Provider, RequestContext};
use nephos_storage::Storage;
use std::sync::Arc;

pub use state::DynamoDb;
pub use streams_api::DynamoDbStreams;

/// Entry points for the fuzz targets in `fuzz/` (not an API).
#[doc(hidden)]
pub mod fuzzing {
    use crate::attr::Attr;
    use crate::expr::{ExprAttrs, parse_condition, parse_projection, parse_update};

    fn attrs() -> ExprAttrs {
        ExprAttrs::new(
            [
                ("#a".to_owned(), "a".to_owned()),
                ("#b".to_owned(), "b".to_owned()),
            ]
            .into_iter()
            .collect(),
            [
                (":s".to_owned(), Attr::S("x".into())),
                (
                    ":n".to_owned(),
                    Attr::N(crate::number::Decimal::from_i64(1)),
                ),
            ]
            .into_iter()
            .collect(),
        )
    }

    /// Runs every expression parser over `src`, and the evaluator over what parses.
    pub fn expressions(src: &str) {
        let item = crate::attr::Item::new();
        if let Ok(c) = parse_condition(src, "ConditionExpression", &mut attrs()) {
            let _ = crate::expr::eval(&c, &item);
        }
        if let Ok(u) = parse_update(src, &mut attrs()) {
            let _ = crate::expr::apply_update(&u, &item);
        }
        let _ = parse_projection(src, &mut attrs());
        let _ = crate::number::Decimal::parse(src);
    }

    /// Runs the PartiQL parser over `src` with two parameters.
    pub fn partiql(src: &str) {
        let params = [Attr::S("p".into()), Attr::Bool(true)];
        let _ = crate::partiql::parser::parse(src, &params);
        let _ = crate::partiql::parser::parse(src, &[]);
    }
}

const OPERATIONS: &[&str] = &[
    "BatchExecuteStatement",
    "CreateBackup",
    "CreateGlobalTable",
    "DeleteBackup",
    "DeleteResourcePolicy",
    "DescribeEndpoints",
    "DescribeContributorInsights",
    "UpdateContributorInsights",
    "ListContributorInsights",
    "GetResourcePolicy",
    "PutResourcePolicy",
    "DescribeBackup",
    "DescribeContinuousBackups",
    "DescribeExport",
    "DescribeGlobalTable",
    "DescribeImport",
    "ExportTableToPointInTime",
    "ImportTable",
    "ListExports",
    "ListGlobalTables",
    "ListImports",
    "DescribeKinesisStreamingDestination",
    "DisableKinesisStreamingDestination",
    "EnableKinesisStreamingDestination",
    "ListBackups",
    "RestoreTableFromBackup",
    "RestoreTableToPointInTime",
    "UpdateContinuousBackups",
    "UpdateGlobalTable",
    "BatchGetItem",
    "BatchWriteItem",
    "CreateTable",
    "DeleteItem",
    "DeleteTable",
    "DescribeTable",
    "DescribeTimeToLive",
    "ExecuteStatement",
    "ExecuteTransaction",
    "GetItem",
    "ListTables",
    "ListTagsOfResource",
    "PutItem",
    "Query",
    "Scan",
    "TagResource",
    "TransactGetItems",
    "TransactWriteItems",
    "UntagResource",
    "UpdateItem",
    "UpdateTable",
    "UpdateTimeToLive",
];

/// `arn:aws:dynamodb:<region>:<account>:table/<name>[/<kind>/...]`, as the authorizer
/// sees it (see [`Provider::resource_facts`]).
pub(crate) fn facts(db: &DynamoDb, arn: &str) -> nephos_core::ResourceFacts {
    // The six fields, cut byte by byte: the authorizer asks on every request.
    let mut fields = [""; 6];
    let (mut n, mut start) = (0, 0);
    for (i, b) in arn.bytes().enumerate() {
        if b == b':' && n < 5 {
            fields[n] = &arn[start..i];
            n += 1;
            start = i + 1;
        }
    }
    fields[5] = &arn[start..];
    let ["arn", _, "dynamodb", region, account, resource] = fields else {
        return nephos_core::ResourceFacts::default();
    };
    if n < 5 {
        return nephos_core::ResourceFacts::default();
    }
    let Some(rest) = resource.strip_prefix("table/") else {
        return nephos_core::ResourceFacts::default();
    };
    let (name, under) = match rest.split_once('/') {
        Some((name, under)) => (name, Some(under)),
        None => (rest, None),
    };
    let region = db.state.get_for(account, region);
    let Some(table) = region.tables.read().unwrap().get(name).cloned() else {
        return nephos_core::ResourceFacts::default();
    };
    let t = table.read().unwrap();
    let own = under.is_none_or(|u| u.starts_with("index/"));
    nephos_core::ResourceFacts {
        owner: Some(account.to_owned()),
        policy: own
            .then(|| t.meta.resource_policy.as_ref().map(|p| p.0.clone()))
            .flatten(),
        tags: if own { t.meta.tags.clone() } else { Vec::new() },
        partition_key: Some(t.meta.key.hash.name.clone()),
    }
}

impl DynamoDb {
    /// Gives the provider the in-process dispatcher (exports to and imports from S3).
    pub fn set_dispatcher(&self, dispatcher: nephos_core::Dispatcher) {
        let _ = self.dispatcher.set(dispatcher);
    }

    /// Loads the stored tables and starts the TTL expiry task (when a runtime exists).
    pub fn open(storage: Storage, clock: Arc<Clock>) -> Result<Arc<DynamoDb>, String> {
        let db = Arc::new(DynamoDb::load(storage, clock)?);
        if tokio::runtime::Handle::try_current().is_ok() {
            tokio::spawn(ttl::expiry_task(Arc::downgrade(&db)));
            tokio::spawn(replicas::replication_task(Arc::downgrade(&db)));
        }
        Ok(db)
    }
}

impl Provider for DynamoDb {
    fn service(&self) -> &'static str {
        "dynamodb"
    }

    /// A table and what lives under its ARN (`/index/`, `/stream/`, `/backup/`,
    /// `/export/`, `/import/`) belong to the table's account; tables and indexes carry the
    /// table's resource policy and tags (streams and backups have no policy of their own
    /// in nephos), and the table's partition key for `dynamodb:LeadingKeys`.
    fn resource_facts(&self, _ctx: &RequestContext, arn: &str) -> nephos_core::ResourceFacts {
        facts(self, arn)
    }

    fn operations(&self) -> &'static [&'static str] {
        OPERATIONS
    }

    fn handle<'a>(
        &'a self,
        ctx: &'a RequestContext,
        input: Input,
    ) -> BoxFuture<'a, Result<Output, AwsError>> {
        Box::pin(async move {
            let v = &input.value;
            let out = match ctx.operation.as_str() {
                "CreateTable" => self.create_table(ctx, v).await?,
                "DescribeEndpoints" => self.describe_endpoints(ctx),
                "DescribeContributorInsights" => self.describe_contributor_insights(ctx, v)?,
                "UpdateContributorInsights" => self.update_contributor_insights(ctx, v).await?,
                "ListContributorInsights" => self.list_contributor_insights(ctx, v)?,
                "PutResourcePolicy" => self.put_resource_policy(ctx, v).await?,
                "GetResourcePolicy" => self.get_resource_policy(ctx, v)?,
                "DeleteResourcePolicy" => self.delete_resource_policy(ctx, v).await?,
                "DescribeTable" => self.describe_table(ctx, v)?,
                "UpdateTable" => self.update_table(ctx, v).await?,
                "DeleteTable" => self.delete_table(ctx, v).await?,
                "ListTables" => self.list_tables(ctx, v),
                "TagResource" => self.tag_resource(ctx, v).await?,
                "UntagResource" => self.untag_resource(ctx, v).await?,
                "ListTagsOfResource" => self.list_tags(ctx, v)?,
                "UpdateTimeToLive" => self.update_ttl(ctx, v).await?,
                "DescribeTimeToLive" => self.describe_ttl(ctx, v)?,
                "PutItem" => self.put_item(ctx, v).await?,
                "GetItem" => self.get_item(ctx, v)?,
                "UpdateItem" => self.update_item(ctx, v).await?,
                "DeleteItem" => self.delete_item(ctx, v).await?,
                "Query" => self.query(ctx, v)?,
                "Scan" => self.scan(ctx, v)?,
                "BatchGetItem" => self.batch_get(ctx, v)?,
                "BatchWriteItem" => self.batch_write(ctx, v).await?,
                "TransactGetItems" => self.transact_get(ctx, v)?,
                "TransactWriteItems" => self.transact_write(ctx, v).await?,
                "ExecuteStatement" => self.execute_statement(ctx, v).await?,
                "BatchExecuteStatement" => self.batch_execute_statement(ctx, v).await?,
                "ExecuteTransaction" => self.execute_transaction(ctx, v).await?,
                "CreateBackup" => self.create_backup(ctx, v).await?,
                "DescribeBackup" => self.describe_backup(ctx, v)?,
                "DeleteBackup" => self.delete_backup(ctx, v).await?,
                "ListBackups" => self.list_backups(ctx, v),
                "RestoreTableFromBackup" => self.restore_from_backup(ctx, v).await?,
                "RestoreTableToPointInTime" => self.restore_to_point_in_time(ctx, v).await?,
                "UpdateContinuousBackups" => self.update_continuous_backups(ctx, v).await?,
                "DescribeContinuousBackups" => self.describe_continuous_backups(ctx, v)?,
                "EnableKinesisStreamingDestination" => {
                    self.kinesis_destination(ctx, v, true).await?
                }
                "DisableKinesisStreamingDestination" => {
                    self.kinesis_destination(ctx, v, false).await?
                }
                "DescribeKinesisStreamingDestination" => {
                    self.describe_kinesis_destinations(ctx, v)?
                }
                "ExportTableToPointInTime" => self.export_table(ctx, v).await?,
                "DescribeExport" => self.describe_export(ctx, v)?,
                "ListExports" => self.list_exports(ctx, v),
                "ImportTable" => self.import_table(ctx, v).await?,
                "DescribeImport" => self.describe_import(ctx, v)?,
                "ListImports" => self.list_imports(ctx, v),
                "CreateGlobalTable" => self.create_global_table(ctx, v).await?,
                "DescribeGlobalTable" => self.describe_global_table(ctx, v)?,
                "UpdateGlobalTable" => self.update_global_table(ctx, v).await?,
                "ListGlobalTables" => self.list_global_tables(ctx, v),
                other => return Err(AwsError::not_implemented("dynamodb", other)),
            };
            Ok(Output::new(out))
        })
    }

    fn reset(&self) {
        self.clear();
    }
}
