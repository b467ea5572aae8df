//! On-demand backups (a copy of a table's description and items, restorable into a new
//! table) and point-in-time recovery (a base copy plus a change log per table).

use crate::pitr::Pitr;
use crate::state::{BACKUP_ITEMS, BACKUPS, DynamoDb, item_record_key, table_record_key};
use crate::table::{ByteMap, Table, TableMeta};
use crate::tables::{describe, index_meta, key_schema_value, throughput, throughput_value, uuid};
use nephos_core::{AwsError, RequestContext, Timestamp, Value};
use nephos_storage::Mutation;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, RwLock};

/// What a backup remembers besides its items.
#[derive(Clone, Serialize, Deserialize)]
pub struct BackupRec {
    pub arn: String,
    pub id: String,
    pub name: String,
    pub created_ms: i64,
    pub size_bytes: u64,
    pub item_count: u64,
    pub table: TableMeta,
}

pub struct Backup {
    pub rec: BackupRec,
    pub items: ByteMap,
}

pub fn backup_record_key(account: &str, region: &str, arn: &str) -> Vec<u8> {
    format!("{account}/{region}/{arn}").into_bytes()
}

fn name_of(v: &str) -> &str {
    match v.split_once(":table/") {
        Some((_, rest)) => rest.split('/').next().unwrap_or(rest),
        None => v,
    }
}

fn table_not_found(name: &str) -> AwsError {
    AwsError::new(
        400,
        "TableNotFoundException",
        format!("Table not found: {name}"),
    )
}

fn backup_not_found(arn: &str) -> AwsError {
    AwsError::new(
        400,
        "BackupNotFoundException",
        format!("Backup not found: {arn}"),
    )
}

fn details(r: &BackupRec) -> Value {
    Value::map()
        .with("BackupArn", r.arn.as_str())
        .with("BackupName", r.name.as_str())
        .with("BackupSizeBytes", r.size_bytes as i64)
        .with("BackupStatus", "AVAILABLE")
        .with("BackupType", "USER")
        .with(
            "BackupCreationDateTime",
            Timestamp::from_millis(r.created_ms),
        )
}

fn description(r: &BackupRec) -> Value {
    let t = &r.table;
    Value::map()
        .with("BackupDetails", details(r))
        .with(
            "SourceTableDetails",
            Value::map()
                .with("TableName", t.name.as_str())
                .with("TableId", t.id.as_str())
                .with("TableArn", t.arn.as_str())
                .with("TableSizeBytes", r.size_bytes as i64)
                .with("KeySchema", key_schema_value(&t.key))
                .with(
                    "TableCreationDateTime",
                    Timestamp::from_millis(t.created_ms),
                )
                .with("ProvisionedThroughput", throughput_value(t.rcu, t.wcu))
                .with("ItemCount", r.item_count as i64)
                .with("BillingMode", t.billing.as_str()),
        )
        .with("SourceTableFeatureDetails", Value::map())
}

fn continuous(pitr: Option<&Pitr>, now: i64) -> Value {
    let mut d = Value::map().with(
        "PointInTimeRecoveryStatus",
        if pitr.is_some() {
            "ENABLED"
        } else {
            "DISABLED"
        },
    );
    if let Some(p) = pitr {
        d.insert(
            "EarliestRestorableDateTime",
            Timestamp::from_millis(p.earliest(now)),
        );
        d.insert("LatestRestorableDateTime", Timestamp::from_millis(now));
        d.insert("RecoveryPeriodInDays", 35);
    }
    Value::map().with(
        "ContinuousBackupsDescription",
        Value::map()
            .with("ContinuousBackupsStatus", "ENABLED")
            .with("PointInTimeRecoveryDescription", d),
    )
}

impl DynamoDb {
    pub async fn create_backup(&self, ctx: &RequestContext, v: &Value) -> Result<Value, AwsError> {
        let name = name_of(v.str("TableName").unwrap_or_default()).to_owned();
        let t = self.table(ctx, &name).map_err(|_| table_not_found(&name))?;
        let now = ctx.clock.now_millis();
        let (rec, items) = {
            let t = t.read().unwrap();
            let suffix = nephos_core::random_alnum(8, b"0123456789abcdef");
            let rec = BackupRec {
                arn: format!("{}/backup/{now:014}-{suffix}", t.meta.arn),
                id: uuid(),
                name: v.str("BackupName").unwrap_or_default().to_owned(),
                created_ms: now,
                size_bytes: t.size_bytes,
                item_count: t.items.len() as u64,
                table: t.meta.clone(),
            };
            (rec, t.items.clone())
        };
        self.store_backup(ctx, rec.clone(), items).await?;
        Ok(Value::map().with("BackupDetails", details(&rec)))
    }

    async fn store_backup(
        &self,
        ctx: &RequestContext,
        rec: BackupRec,
        items: ByteMap,
    ) -> Result<(), AwsError> {
        let mut batch = Vec::new();
        if self.storage.is_durable() {
            let bytes = serde_json::to_vec(&rec).map_err(|e| AwsError::internal(e.to_string()))?;
            batch.push(Mutation::put(
                BACKUPS,
                backup_record_key(&ctx.account_id, &ctx.region, &rec.arn),
                bytes,
            ));
            for (k, v) in &items {
                batch.push(Mutation::put(
                    BACKUP_ITEMS,
                    item_record_key(&rec.id, k),
                    v.to_vec(),
                ));
            }
        }
        let arn = rec.arn.clone();
        self.region(ctx)
            .backups
            .lock()
            .unwrap()
            .insert(arn, Arc::new(crate::backup::Backup { rec, items }));
        self.start_commit(batch).wait().await
    }

    fn backup(&self, ctx: &RequestContext, arn: &str) -> Result<Arc<Backup>, AwsError> {
        self.region(ctx)
            .backups
            .lock()
            .unwrap()
            .get(arn)
            .cloned()
            .ok_or_else(|| backup_not_found(arn))
    }

    pub fn describe_backup(&self, ctx: &RequestContext, v: &Value) -> Result<Value, AwsError> {
        let b = self.backup(ctx, v.str("BackupArn").unwrap_or_default())?;
        Ok(Value::map().with("BackupDescription", description(&b.rec)))
    }

    pub async fn delete_backup(&self, ctx: &RequestContext, v: &Value) -> Result<Value, AwsError> {
        let arn = v.str("BackupArn").unwrap_or_default();
        let b = self
            .region(ctx)
            .backups
            .lock()
            .unwrap()
            .remove(arn)
            .ok_or_else(|| backup_not_found(arn))?;
        let mut batch = vec![Mutation::delete(
            BACKUPS,
            backup_record_key(&ctx.account_id, &ctx.region, arn),
        )];
        if self.storage.is_durable() {
            for k in b.items.keys() {
                batch.push(Mutation::delete(
                    BACKUP_ITEMS,
                    item_record_key(&b.rec.id, k),
                ));
            }
        }
        self.start_commit(batch).wait().await?;
        let mut d = description(&b.rec);
        if let Value::Map(m) = &mut d
            && let Some(Value::Map(det)) = m.get_mut("BackupDetails")
        {
            det.insert("BackupStatus".into(), Value::from("DELETED"));
        }
        Ok(Value::map().with("BackupDescription", d))
    }

    pub fn list_backups(&self, ctx: &RequestContext, v: &Value) -> Value {
        let table = v.str("TableName").map(name_of);
        let lo = v.get("TimeRangeLowerBound").and_then(as_millis);
        let hi = v.get("TimeRangeUpperBound").and_then(as_millis);
        let limit = v.int("Limit").unwrap_or(100).clamp(1, 100) as usize;
        let start = v.str("ExclusiveStartBackupArn");
        let region = self.region(ctx);
        let backups = region.backups.lock().unwrap();
        let mut all: Vec<&BackupRec> = backups
            .values()
            .map(|b| &b.rec)
            .filter(|r| table.is_none_or(|t| r.table.name == t))
            .filter(|r| lo.is_none_or(|lo| r.created_ms >= lo))
            .filter(|r| hi.is_none_or(|hi| r.created_ms < hi))
            .filter(|_| !matches!(v.str("BackupType"), Some("SYSTEM" | "AWS_BACKUP")))
            .collect();
        all.sort_by(|a, b| (a.created_ms, &a.arn).cmp(&(b.created_ms, &b.arn)));
        if let Some(s) = start
            && let Some(pos) = all.iter().position(|r| r.arn == s)
        {
            all.drain(..=pos);
        }
        let more = all.len() > limit;
        all.truncate(limit);
        let mut out = Value::map().with(
            "BackupSummaries",
            Value::List(
                all.iter()
                    .map(|r| {
                        details(r)
                            .with("TableName", r.table.name.as_str())
                            .with("TableId", r.table.id.as_str())
                            .with("TableArn", r.table.arn.as_str())
                    })
                    .collect(),
            ),
        );
        if more && let Some(last) = all.last() {
            out.insert("LastEvaluatedBackupArn", last.arn.as_str());
        }
        out
    }

    pub async fn restore_from_backup(
        &self,
        ctx: &RequestContext,
        v: &Value,
    ) -> Result<Value, AwsError> {
        let arn = v.str("BackupArn").unwrap_or_default();
        let b = self.backup(ctx, arn)?;
        let summary = Value::map()
            .with("SourceBackupArn", arn)
            .with("SourceTableArn", b.rec.table.arn.as_str())
            .with("RestoreDateTime", Timestamp::from_millis(b.rec.created_ms))
            .with("RestoreInProgress", false);
        self.restore_into(ctx, v, &b.rec.table, b.items.clone(), summary)
            .await
    }

    pub async fn restore_to_point_in_time(
        &self,
        ctx: &RequestContext,
        v: &Value,
    ) -> Result<Value, AwsError> {
        let src = v
            .str("SourceTableName")
            .or_else(|| v.str("SourceTableArn").map(name_of))
            .unwrap_or_default()
            .to_owned();
        let t = self.table(ctx, &src).map_err(|_| {
            AwsError::new(
                400,
                "TableNotFoundException",
                format!("Table not found: {src}"),
            )
        })?;
        let now = ctx.clock.now_millis();
        let (meta, items, at) = {
            let t = t.write().unwrap();
            let Some(p) = &t.pitr else {
                return Err(AwsError::new(
                    400,
                    "PointInTimeRecoveryUnavailableException",
                    format!("Point in time recovery is not enabled for table '{src}'"),
                ));
            };
            let at = if v.bool("UseLatestRestorableTime") == Some(true) {
                now
            } else {
                let Some(at) = v.get("RestoreDateTime").and_then(as_millis) else {
                    return Err(AwsError::validation(
                        "RestoreDateTime must be specified when UseLatestRestorableTime is false",
                    ));
                };
                let earliest = p.earliest(now);
                if at < earliest || at > now {
                    return Err(AwsError::new(
                        400,
                        "InvalidRestoreTimeException",
                        format!(
                            "RestoreDateTime must be between {} and {}",
                            Timestamp::from_millis(earliest).to_iso8601(),
                            Timestamp::from_millis(now).to_iso8601()
                        ),
                    ));
                }
                at
            };
            let items = p.at(&t.items, at);
            (t.meta.clone(), items, at)
        };
        let summary = Value::map()
            .with("SourceTableArn", meta.arn.as_str())
            .with("RestoreDateTime", Timestamp::from_millis(at))
            .with("RestoreInProgress", false);
        self.restore_into(ctx, v, &meta, items, summary).await
    }

    /// Creates `TargetTableName` from a source description and its items.
    async fn restore_into(
        &self,
        ctx: &RequestContext,
        v: &Value,
        src: &TableMeta,
        items: ByteMap,
        summary: Value,
    ) -> Result<Value, AwsError> {
        let name = v.str("TargetTableName").unwrap_or_default().to_owned();
        let mut meta = src.clone();
        meta.name = name.clone();
        meta.id = uuid();
        meta.arn = format!(
            "arn:aws:dynamodb:{}:{}:table/{name}",
            ctx.region, ctx.account_id
        );
        meta.created_ms = ctx.clock.now_millis();
        meta.tags.clear();
        meta.ttl_attribute = None;
        meta.stream_view = None;
        meta.stream_label = None;
        meta.pitr_since_ms = None;
        meta.ppr_since_ms = None;
        meta.resource_policy = None;
        meta.insights.clear();
        if let Some(spec) = v.get("SSESpecificationOverride") {
            meta.sse_kms_key = crate::tables::sse_key(ctx, spec);
        }
        meta.replicas.clear();
        meta.kinesis.clear();
        if let Some(b) = v.str("BillingModeOverride") {
            meta.billing = b.to_owned();
            if b == "PAY_PER_REQUEST" {
                (meta.rcu, meta.wcu) = (0, 0);
            }
        }
        if let Some((r, w)) = throughput(v.get("ProvisionedThroughputOverride")) {
            (meta.rcu, meta.wcu) = (r, w);
        }
        for (member, global) in [
            ("GlobalSecondaryIndexOverride", true),
            ("LocalSecondaryIndexOverride", false),
        ] {
            if let Some(list) = v.get(member).and_then(Value::as_list) {
                meta.indexes.retain(|i| i.global != global);
                for i in list {
                    meta.indexes
                        .push(index_meta(i, &meta.attr_defs, global, &meta.billing)?);
                }
            }
        }
        let mut table = Table::new(meta);
        let mut batch = Vec::new();
        if self.storage.is_durable() {
            let bytes =
                serde_json::to_vec(&table.meta).map_err(|e| AwsError::internal(e.to_string()))?;
            batch.push(Mutation::put(
                crate::state::TABLES,
                table_record_key(&ctx.account_id, &ctx.region, &name),
                bytes,
            ));
            for (k, v) in &items {
                batch.push(Mutation::put(
                    crate::state::ITEMS,
                    item_record_key(&table.meta.id, k),
                    v.to_vec(),
                ));
            }
        }
        table.load_sorted(items.into_iter().collect());
        let mut desc = describe(&table, "CREATING");
        desc.insert("RestoreSummary", summary);
        let region = self.region(ctx);
        let pending = {
            let mut tables = region.tables.write().unwrap();
            if tables.contains_key(&name) {
                return Err(AwsError::new(
                    400,
                    "TableAlreadyExistsException",
                    format!("Table already exists: {name}"),
                ));
            }
            tables.insert(name, Arc::new(RwLock::new(table)));
            self.start_commit(batch)
        };
        pending.wait().await?;
        Ok(Value::map().with("TableDescription", desc))
    }

    pub async fn update_continuous_backups(
        &self,
        ctx: &RequestContext,
        v: &Value,
    ) -> Result<Value, AwsError> {
        let name = name_of(v.str("TableName").unwrap_or_default()).to_owned();
        let t = self.table(ctx, &name).map_err(|_| table_not_found(&name))?;
        let spec = v.get("PointInTimeRecoverySpecification");
        let enable = spec
            .and_then(|s| s.bool("PointInTimeRecoveryEnabled"))
            .unwrap_or(false);
        if let Some(days) = spec.and_then(|s| s.int("RecoveryPeriodInDays"))
            && !(1..=35).contains(&days)
        {
            return Err(AwsError::validation(
                "RecoveryPeriodInDays must be between 1 and 35",
            ));
        }
        let now = ctx.clock.now_millis();
        let (out, pending) = {
            let mut t = t.write().unwrap();
            let mut batch = Vec::new();
            if enable && t.pitr.is_none() {
                t.pitr = Some(Pitr::new(self.clock.clone(), now));
                t.meta.pitr_since_ms = Some(now);
            } else if !enable {
                // Disabling forgets the history, as AWS does.
                if let Some(p) = t.pitr.take()
                    && self.storage.is_durable()
                {
                    batch.extend(p.log.iter().map(|u| {
                        Mutation::delete(
                            crate::state::PITR,
                            crate::pitr::record_key(&t.meta.id, u.id),
                        )
                    }));
                }
                t.meta.pitr_since_ms = None;
            }
            let bytes =
                serde_json::to_vec(&t.meta).map_err(|e| AwsError::internal(e.to_string()))?;
            batch.push(Mutation::put(
                crate::state::TABLES,
                table_record_key(&ctx.account_id, &ctx.region, &name),
                bytes,
            ));
            let pending = self.start_commit(batch);
            (continuous(t.pitr.as_ref(), now), pending)
        };
        pending.wait().await?;
        Ok(out)
    }

    pub fn describe_continuous_backups(
        &self,
        ctx: &RequestContext,
        v: &Value,
    ) -> Result<Value, AwsError> {
        let name = name_of(v.str("TableName").unwrap_or_default()).to_owned();
        let t = self.table(ctx, &name).map_err(|_| table_not_found(&name))?;
        let t = t.read().unwrap();
        Ok(continuous(t.pitr.as_ref(), ctx.clock.now_millis()))
    }
}

fn as_millis(v: &Value) -> Option<i64> {
    match v {
        Value::Timestamp(t) => Some(t.as_millis()),
        Value::Integer(i) => Some(*i * 1000),
        Value::Float(f) => Some((*f * 1000.0) as i64),
        _ => None,
    }
}
