//! Table operations: create, describe, update, delete, list, tags, time to live.

use crate::attr::invalid_param;
use crate::state::{DynamoDb, ITEMS, TABLES, item_record_key, table_record_key};
use crate::table::{IndexMeta, KeyAttr, KeySchema, Table, TableMeta};
use nephos_core::{AwsError, RequestContext, Timestamp, Value};
use nephos_storage::Mutation;
use std::sync::{Arc, RwLock};

/// A table name or ARN as the operations accept it.
pub fn table_name(v: &Value) -> String {
    let raw = v.str("TableName").unwrap_or_default();
    match raw.split_once(":table/") {
        Some((_, name)) if raw.starts_with("arn:") => name.to_owned(),
        _ => raw.to_owned(),
    }
}

fn table_not_found(name: &str) -> AwsError {
    AwsError::new(
        400,
        "ResourceNotFoundException",
        format!("Requested resource not found: Table: {name} not found"),
    )
}

fn key_schema(v: Option<&Value>, defs: &[KeyAttr]) -> Result<KeySchema, AwsError> {
    let list = v.and_then(Value::as_list).unwrap_or_default();
    let elem = |i: usize| -> Option<(String, String)> {
        let e = list.get(i)?;
        Some((
            e.str("AttributeName")?.to_owned(),
            e.str("KeyType")?.to_owned(),
        ))
    };
    let Some((hname, htype)) = elem(0) else {
        return Err(AwsError::validation(
            "Invalid KeySchema: Some index key attribute have no definition",
        ));
    };
    if htype != "HASH" {
        return Err(AwsError::validation(
            "Invalid KeySchema: The first KeySchemaElement is not a HASH key type",
        ));
    }
    let range = match elem(1) {
        Some((rname, rtype)) => {
            if rtype != "RANGE" {
                return Err(AwsError::validation(
                    "Invalid KeySchema: The second KeySchemaElement is not a RANGE key type",
                ));
            }
            if rname == hname {
                return Err(AwsError::validation(
                    "Both the Hash Key and the Range Key element in the KeySchema have the same name",
                ));
            }
            Some(rname)
        }
        None => None,
    };
    let ty = |n: &str| defs.iter().find(|d| d.name == n).map(|d| d.ty.clone());
    let mut missing = Vec::new();
    for n in std::iter::once(&hname).chain(range.iter()) {
        if ty(n).is_none() {
            missing.push(n.clone());
        }
    }
    if !missing.is_empty() {
        let all: Vec<&str> = defs.iter().map(|d| d.name.as_str()).collect();
        return Err(invalid_param(format!(
            "Some index key attributes are not defined in AttributeDefinitions. Keys: [{}], AttributeDefinitions: [{}]",
            missing.join(", "),
            all.join(", ")
        )));
    }
    Ok(KeySchema {
        hash: KeyAttr {
            ty: ty(&hname).unwrap_or_default(),
            name: hname,
        },
        range: range.map(|r| KeyAttr {
            ty: ty(&r).unwrap_or_default(),
            name: r,
        }),
    })
}

pub(crate) fn throughput(v: Option<&Value>) -> Option<(i64, i64)> {
    let v = v?;
    Some((
        v.int("ReadCapacityUnits").unwrap_or(0),
        v.int("WriteCapacityUnits").unwrap_or(0),
    ))
}

pub(crate) fn index_meta(
    v: &Value,
    defs: &[KeyAttr],
    global: bool,
    billing: &str,
) -> Result<IndexMeta, AwsError> {
    let name = v.str("IndexName").unwrap_or_default().to_owned();
    let key = key_schema(v.get("KeySchema"), defs)?;
    let proj = v.get("Projection");
    let projection = proj
        .and_then(|p| p.str("ProjectionType"))
        .unwrap_or("ALL")
        .to_owned();
    let non_key: Vec<String> = proj
        .and_then(|p| p.get("NonKeyAttributes"))
        .and_then(Value::as_list)
        .unwrap_or_default()
        .iter()
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect();
    if projection == "INCLUDE" && non_key.is_empty() {
        return Err(invalid_param(
            "ProjectionType is INCLUDE, but NonKeyAttributes is not specified",
        ));
    }
    if projection != "INCLUDE" && !non_key.is_empty() {
        return Err(invalid_param(format!(
            "ProjectionType is {projection}, but NonKeyAttributes is specified"
        )));
    }
    let tp = throughput(v.get("ProvisionedThroughput"));
    if global && billing == "PROVISIONED" && tp.is_none() {
        return Err(invalid_param(format!(
            "ProvisionedThroughput must be specified for index: {name}"
        )));
    }
    if global && billing == "PAY_PER_REQUEST" && tp.is_some() {
        return Err(invalid_param(format!(
            "ProvisionedThroughput should not be specified for index: {name} when BillingMode is PAY_PER_REQUEST"
        )));
    }
    let (rcu, wcu) = tp.unwrap_or((0, 0));
    Ok(IndexMeta {
        name,
        global,
        key,
        projection,
        non_key,
        rcu,
        wcu,
    })
}

pub fn key_schema_value(k: &KeySchema) -> Value {
    let mut list = vec![
        Value::map()
            .with("AttributeName", k.hash.name.as_str())
            .with("KeyType", "HASH"),
    ];
    if let Some(r) = &k.range {
        list.push(
            Value::map()
                .with("AttributeName", r.name.as_str())
                .with("KeyType", "RANGE"),
        );
    }
    Value::List(list)
}

fn warm(v: Option<&Value>) -> Option<(i64, i64)> {
    let v = v?;
    Some((
        v.int("ReadUnitsPerSecond").unwrap_or(0),
        v.int("WriteUnitsPerSecond").unwrap_or(0),
    ))
}

/// WarmThroughput as AWS reports it: what was asked for, else what the table can take
/// at once (its provisioned capacity, or on-demand's documented starting point).
/// A new table only reports it when asked for one, still warming up.
fn warm_value(m: &TableMeta, status: &str) -> Option<Value> {
    let (r, w, state) = match (status, m.warm) {
        ("CREATING", Some((r, w))) => (r, w, "UPDATING"),
        ("ACTIVE" | "UPDATING", Some((r, w))) => (r, w, "ACTIVE"),
        ("ACTIVE" | "UPDATING", None) if m.billing == "PAY_PER_REQUEST" => {
            (12_000, 4_000, "ACTIVE")
        }
        ("ACTIVE" | "UPDATING", None) => (m.rcu, m.wcu, "ACTIVE"),
        _ => return None,
    };
    Some(
        Value::map()
            .with("ReadUnitsPerSecond", r)
            .with("WriteUnitsPerSecond", w)
            .with("Status", state),
    )
}

pub(crate) fn throughput_value(rcu: i64, wcu: i64) -> Value {
    Value::map()
        .with("NumberOfDecreasesToday", 0)
        .with("ReadCapacityUnits", rcu)
        .with("WriteCapacityUnits", wcu)
}

/// The KMS key ARN an SSESpecification asks for, None when it keeps the AWS-owned key.
/// Without KMSMasterKeyId the key is DynamoDB's AWS managed key (`alias/aws/dynamodb`);
/// a key id or alias name becomes its ARN in the caller's account and region.
pub(crate) fn sse_key(ctx: &RequestContext, spec: &Value) -> Option<String> {
    if spec.bool("Enabled") != Some(true) {
        return None;
    }
    let prefix = format!("arn:aws:kms:{}:{}:", ctx.region, ctx.account_id);
    Some(match spec.str("KMSMasterKeyId") {
        None | Some("") => format!("{prefix}alias/aws/dynamodb"),
        Some(k) if k.starts_with("arn:") => k.to_owned(),
        Some(k) if k.starts_with("alias/") => format!("{prefix}{k}"),
        Some(k) => format!("{prefix}key/{k}"),
    })
}

fn sse_value(key: &str, status: &str) -> Value {
    Value::map()
        .with("Status", status)
        .with("SSEType", "KMS")
        .with("KMSMasterKeyArn", key)
}

pub fn describe(t: &Table, status: &str) -> Value {
    let m = &t.meta;
    let defs: Vec<Value> = m
        .attr_defs
        .iter()
        .map(|d| {
            Value::map()
                .with("AttributeName", d.name.as_str())
                .with("AttributeType", d.ty.as_str())
        })
        .collect();
    let mut out = Value::map()
        .with("AttributeDefinitions", Value::List(defs))
        .with("TableName", m.name.as_str())
        .with("KeySchema", key_schema_value(&m.key))
        .with("TableStatus", status)
        .with("CreationDateTime", Timestamp::from_millis(m.created_ms))
        .with("ProvisionedThroughput", throughput_value(m.rcu, m.wcu))
        .with("TableSizeBytes", t.size_bytes as i64)
        .with("ItemCount", t.items.len() as i64)
        .with("TableArn", m.arn.as_str())
        .with("TableId", m.id.as_str())
        .with("DeletionProtectionEnabled", m.deletion_protection);
    let ppr_since = match (m.billing.as_str(), m.ppr_since_ms) {
        (_, Some(ms)) => Some(ms),
        ("PAY_PER_REQUEST", None) => Some(m.created_ms),
        _ => None,
    };
    if let Some(ms) = ppr_since {
        out.insert(
            "BillingModeSummary",
            Value::map().with("BillingMode", m.billing.as_str()).with(
                "LastUpdateToPayPerRequestDateTime",
                Timestamp::from_millis(ms),
            ),
        );
    }
    if let Some(w) = warm_value(m, status) {
        out.insert("WarmThroughput", w);
    }
    if m.table_class != "STANDARD" {
        out.insert(
            "TableClassSummary",
            Value::map().with("TableClass", m.table_class.as_str()),
        );
    }
    let mut gsis = Vec::new();
    let mut lsis = Vec::new();
    for idx in &m.indexes {
        let count = t.indexes.get(&idx.name).map_or(0, |x| x.len()) as i64;
        let mut proj = Value::map().with("ProjectionType", idx.projection.as_str());
        if !idx.non_key.is_empty() {
            proj.insert(
                "NonKeyAttributes",
                Value::List(
                    idx.non_key
                        .iter()
                        .map(|s| Value::from(s.as_str()))
                        .collect(),
                ),
            );
        }
        let mut d = Value::map()
            .with("IndexName", idx.name.as_str())
            .with("KeySchema", key_schema_value(&idx.key))
            .with("Projection", proj)
            .with("IndexSizeBytes", 0)
            .with("ItemCount", count)
            .with("IndexArn", format!("{}/index/{}", m.arn, idx.name));
        if idx.global {
            d.insert("IndexStatus", "ACTIVE");
            d.insert("ProvisionedThroughput", throughput_value(idx.rcu, idx.wcu));
            gsis.push(d);
        } else {
            lsis.push(d);
        }
    }
    if !gsis.is_empty() {
        out.insert("GlobalSecondaryIndexes", Value::List(gsis));
    }
    if !lsis.is_empty() {
        out.insert("LocalSecondaryIndexes", Value::List(lsis));
    }
    if let Some(view) = &m.stream_view {
        out.insert(
            "StreamSpecification",
            Value::map()
                .with("StreamEnabled", true)
                .with("StreamViewType", view.as_str()),
        );
    }
    if !m.replicas.is_empty() {
        let own = m.arn.split(':').nth(3).unwrap_or_default();
        out.insert("GlobalTableVersion", "2019.11.21");
        out.insert(
            "Replicas",
            Value::List(
                m.replicas
                    .iter()
                    .filter(|r| r.as_str() != own)
                    .map(|r| {
                        Value::map()
                            .with("RegionName", r.as_str())
                            .with("ReplicaStatus", "ACTIVE")
                    })
                    .collect(),
            ),
        );
    }
    if let Some(label) = &m.stream_label {
        out.insert("LatestStreamLabel", label.as_str());
        out.insert("LatestStreamArn", format!("{}/stream/{label}", m.arn));
    }
    if let Some(key) = &m.sse_kms_key {
        out.insert("SSEDescription", sse_value(key, "ENABLED"));
    }
    out
}

/// StreamViewType of a StreamSpecification that enables a stream; None when it disables.
fn stream_spec(s: &Value) -> Result<Option<String>, AwsError> {
    if s.bool("StreamEnabled") != Some(true) {
        return Ok(None);
    }
    match s.str("StreamViewType") {
        Some(v) => Ok(Some(v.to_owned())),
        None => Err(invalid_param(
            "StreamViewType is required when StreamEnabled is true",
        )),
    }
}

/// Starts a new stream (a new label and ARN) on the table.
pub fn open_stream(t: &mut Table, view: &str, now_ms: i64) {
    let mut label = crate::stream::label_for(now_ms);
    // Two streams of one table never share a label, even within a millisecond.
    if t.streams.last().is_some_and(|s| s.label == label) {
        label = crate::stream::label_for(now_ms + 1);
    }
    t.meta.stream_view = Some(view.to_owned());
    t.meta.stream_label = Some(label.clone());
    let log = crate::stream::StreamLog::new(&t.meta.arn, view, label, now_ms);
    t.push_stream(log);
}

fn parse_defs(v: &Value) -> Result<Vec<KeyAttr>, AwsError> {
    let mut defs: Vec<KeyAttr> = Vec::new();
    for d in v
        .get("AttributeDefinitions")
        .and_then(Value::as_list)
        .unwrap_or_default()
    {
        let name = d.str("AttributeName").unwrap_or_default().to_owned();
        if defs.iter().any(|x| x.name == name) {
            return Err(invalid_param(
                "Duplicate AttributeName in AttributeDefinitions",
            ));
        }
        defs.push(KeyAttr {
            name,
            ty: d.str("AttributeType").unwrap_or_default().to_owned(),
        });
    }
    Ok(defs)
}

/// The key attributes of the table and its indexes must be exactly the definitions.
fn check_defs_used(
    defs: &[KeyAttr],
    key: &KeySchema,
    indexes: &[IndexMeta],
) -> Result<(), AwsError> {
    let mut used: Vec<&str> = key.names();
    for i in indexes {
        for n in i.key.names() {
            if !used.contains(&n) {
                used.push(n);
            }
        }
    }
    if defs.len() != used.len() {
        if indexes.is_empty() {
            return Err(invalid_param(
                "Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions",
            ));
        }
        let all: Vec<&str> = defs.iter().map(|d| d.name.as_str()).collect();
        return Err(invalid_param(format!(
            "Some AttributeDefinitions are not used. AttributeDefinitions: [{}], keys used: [{}]",
            all.join(", "),
            used.join(", ")
        )));
    }
    Ok(())
}

impl DynamoDb {
    pub(crate) async fn persist_meta(
        &self,
        ctx: &RequestContext,
        t: &Table,
    ) -> Result<(), AwsError> {
        let bytes = serde_json::to_vec(&t.meta).map_err(|e| AwsError::internal(e.to_string()))?;
        self.start_commit(vec![Mutation::put(
            TABLES,
            table_record_key(&ctx.account_id, &ctx.region, &t.meta.name),
            bytes,
        )])
        .wait()
        .await
    }

    pub async fn create_table(&self, ctx: &RequestContext, v: &Value) -> Result<Value, AwsError> {
        let name = table_name(v);
        let defs = parse_defs(v)?;
        let key = key_schema(v.get("KeySchema"), &defs)?;
        let billing = v.str("BillingMode").unwrap_or("PROVISIONED").to_owned();
        let tp = throughput(v.get("ProvisionedThroughput"));
        let (rcu, wcu) = match (billing.as_str(), tp) {
            ("PROVISIONED", None) => {
                return Err(invalid_param(
                    "ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED",
                ));
            }
            ("PAY_PER_REQUEST", Some(_)) => {
                return Err(invalid_param(
                    "Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST",
                ));
            }
            (_, tp) => tp.unwrap_or((0, 0)),
        };
        let mut indexes = Vec::new();
        for l in v
            .get("LocalSecondaryIndexes")
            .and_then(Value::as_list)
            .unwrap_or_default()
        {
            let idx = index_meta(l, &defs, false, &billing)?;
            if key.range.is_none() {
                return Err(invalid_param(
                    "Table KeySchema does not have a range key, which is required when specifying a LocalSecondaryIndex",
                ));
            }
            if idx.key.hash.name != key.hash.name {
                return Err(invalid_param(format!(
                    "Index KeySchema does not have the same leading hash key as table KeySchema for index: {}. index hash key: {}, table hash key: {}",
                    idx.name, idx.key.hash.name, key.hash.name
                )));
            }
            if idx.key.range.is_none() {
                return Err(invalid_param(format!(
                    "Index KeySchema does not have a range key for index: {}",
                    idx.name
                )));
            }
            indexes.push(idx);
        }
        for g in v
            .get("GlobalSecondaryIndexes")
            .and_then(Value::as_list)
            .unwrap_or_default()
        {
            indexes.push(index_meta(g, &defs, true, &billing)?);
        }
        for (i, idx) in indexes.iter().enumerate() {
            if indexes[..i].iter().any(|x| x.name == idx.name) {
                return Err(invalid_param(format!("Duplicate index name: {}", idx.name)));
            }
        }
        check_defs_used(&defs, &key, &indexes)?;
        let region = self.region(ctx);
        let tags: Vec<(String, String)> = v
            .get("Tags")
            .and_then(Value::as_list)
            .unwrap_or_default()
            .iter()
            .map(|t| {
                (
                    t.str("Key").unwrap_or_default().to_owned(),
                    t.str("Value").unwrap_or_default().to_owned(),
                )
            })
            .collect();
        let meta = TableMeta {
            arn: format!(
                "arn:aws:dynamodb:{}:{}:table/{name}",
                ctx.region, ctx.account_id
            ),
            id: uuid(),
            name: name.clone(),
            created_ms: ctx.clock.now_millis(),
            attr_defs: defs,
            key,
            billing,
            rcu,
            wcu,
            indexes,
            tags,
            deletion_protection: v.bool("DeletionProtectionEnabled").unwrap_or(false),
            table_class: v.str("TableClass").unwrap_or("STANDARD").to_owned(),
            ttl_attribute: None,
            stream_view: None,
            stream_label: None,
            pitr_since_ms: None,
            replicas: Vec::new(),
            kinesis: Vec::new(),
            ppr_since_ms: None,
            warm: warm(v.get("WarmThroughput")),
            resource_policy: None,
            sse_kms_key: v.get("SSESpecification").and_then(|s| sse_key(ctx, s)),
            insights: Vec::new(),
        };
        let mut table = Table::new(meta);
        if let Some(spec) = v.get("StreamSpecification")
            && let Some(view) = stream_spec(spec)?
        {
            open_stream(&mut table, &view, ctx.clock.now_millis());
        }
        let journal = table.take_journal();
        let desc = describe(&table, "CREATING");
        let pending = {
            let mut tables = region.tables.write().unwrap();
            if tables.contains_key(&name) {
                return Err(AwsError::new(
                    400,
                    "ResourceInUseException",
                    format!("Table already exists: {name}"),
                ));
            }
            let bytes =
                serde_json::to_vec(&table.meta).map_err(|e| AwsError::internal(e.to_string()))?;
            tables.insert(name.clone(), Arc::new(RwLock::new(table)));
            let mut batch = vec![Mutation::put(
                TABLES,
                table_record_key(&ctx.account_id, &ctx.region, &name),
                bytes,
            )];
            batch.extend(journal);
            self.start_commit(batch)
        };
        pending.wait().await?;
        Ok(Value::map().with("TableDescription", desc))
    }

    pub fn describe_table(&self, ctx: &RequestContext, v: &Value) -> Result<Value, AwsError> {
        let name = table_name(v);
        let t = self.table(ctx, &name).map_err(|_| table_not_found(&name))?;
        let t = t.read().unwrap();
        Ok(Value::map().with("Table", describe(&t, "ACTIVE")))
    }

    pub async fn delete_table(&self, ctx: &RequestContext, v: &Value) -> Result<Value, AwsError> {
        let name = table_name(v);
        let region = self.region(ctx);
        let pending = {
            let mut tables = region.tables.write().unwrap();
            let Some(t) = tables.get(&name).cloned() else {
                return Err(table_not_found(&name));
            };
            let t = t.read().unwrap();
            if t.meta.deletion_protection {
                return Err(AwsError::validation(
                    "Resource cannot be deleted as it is currently protected against deletion. Disable deletion protection first.",
                ));
            }
            tables.remove(&name);
            let mut batch = vec![Mutation::delete(
                TABLES,
                table_record_key(&ctx.account_id, &ctx.region, &name),
            )];
            if self.storage.is_durable() {
                for k in t.items.keys() {
                    batch.push(Mutation::delete(ITEMS, item_record_key(&t.meta.id, k)));
                }
                batch.extend(t.side_deletions());
            }
            let desc = describe(&t, "DELETING");
            (self.start_commit(batch), desc, t.meta.replicas.clone())
        };
        pending.0.wait().await?;
        if !pending.2.is_empty() {
            // The other replicas stop replicating to the deleted one.
            self.leave_group(ctx, &name, &pending.2).await;
        }
        Ok(Value::map().with("TableDescription", pending.1))
    }

    pub fn list_tables(&self, ctx: &RequestContext, v: &Value) -> Value {
        let limit = v.int("Limit").unwrap_or(100).clamp(1, 100) as usize;
        let start = v.str("ExclusiveStartTableName").map(str::to_owned);
        let region = self.region(ctx);
        let tables = region.tables.read().unwrap();
        let names: Vec<&String> = tables
            .keys()
            .filter(|n| start.as_ref().is_none_or(|s| *n > s))
            .collect();
        let page: Vec<Value> = names
            .iter()
            .take(limit)
            .map(|n| Value::from(n.as_str()))
            .collect();
        let mut out = Value::map();
        if names.len() > limit
            && let Some(last) = names.get(limit - 1)
        {
            out.insert("LastEvaluatedTableName", last.as_str());
        }
        out.with("TableNames", Value::List(page))
    }

    pub async fn update_table(&self, ctx: &RequestContext, v: &Value) -> Result<Value, AwsError> {
        let name = table_name(v);
        let t = self.table(ctx, &name).map_err(|_| table_not_found(&name))?;
        if v.get("ReplicaUpdates").is_some() {
            return self.update_replicas(ctx, &name, v).await;
        }
        let pending = {
            let mut t = t.write().unwrap();
            let mut meta = t.meta.clone();
            if let Some(b) = v.str("BillingMode") {
                if meta.billing == "PAY_PER_REQUEST" && meta.ppr_since_ms.is_none() {
                    meta.ppr_since_ms = Some(meta.created_ms);
                }
                if b == "PAY_PER_REQUEST" && meta.billing != b {
                    meta.ppr_since_ms = Some(ctx.clock.now_millis());
                }
                meta.billing = b.to_owned();
                if b == "PAY_PER_REQUEST" {
                    meta.rcu = 0;
                    meta.wcu = 0;
                }
            }
            if let Some((r, w)) = throughput(v.get("ProvisionedThroughput")) {
                if meta.billing == "PAY_PER_REQUEST" {
                    return Err(invalid_param(
                        "Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST",
                    ));
                }
                meta.rcu = r;
                meta.wcu = w;
            } else if v.str("BillingMode") == Some("PROVISIONED") && meta.rcu == 0 {
                return Err(invalid_param(
                    "ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED",
                ));
            }
            if let Some(w) = warm(v.get("WarmThroughput")) {
                meta.warm = Some(w);
            }
            if let Some(d) = v.bool("DeletionProtectionEnabled") {
                meta.deletion_protection = d;
            }
            if let Some(c) = v.str("TableClass") {
                meta.table_class = c.to_owned();
            }
            let sse_change = v.get("SSESpecification").map(|spec| {
                match (spec.bool("Enabled"), &meta.sse_kms_key) {
                    // A new key for a table already encrypted with a KMS key.
                    (None, Some(_)) if spec.str("KMSMasterKeyId").is_some() => {
                        sse_key(ctx, &spec.clone().with("Enabled", true))
                    }
                    (None, current) => current.clone(),
                    _ => sse_key(ctx, spec),
                }
            });
            if let Some(key) = &sse_change {
                meta.sse_kms_key = key.clone();
            }
            let stream_change = match v.get("StreamSpecification") {
                Some(s) => {
                    let view = stream_spec(s)?;
                    match (&meta.stream_view, &view) {
                        (Some(_), Some(_)) => {
                            return Err(AwsError::validation(format!(
                                "Table already has an enabled stream: TableName: {name}"
                            )));
                        }
                        (None, None) => {
                            return Err(AwsError::validation(format!(
                                "Table does not have an enabled stream: TableName: {name}"
                            )));
                        }
                        _ => {}
                    }
                    Some(view)
                }
                None => None,
            };
            let new_defs = parse_defs(v)?;
            for d in new_defs {
                if !meta.attr_defs.iter().any(|x| x.name == d.name) {
                    meta.attr_defs.push(d);
                }
            }
            let mut backfill = Vec::new();
            for u in v
                .get("GlobalSecondaryIndexUpdates")
                .and_then(Value::as_list)
                .unwrap_or_default()
            {
                if let Some(c) = u.get("Create") {
                    let idx = index_meta(c, &meta.attr_defs, true, &meta.billing)?;
                    if meta.indexes.iter().any(|i| i.name == idx.name) {
                        return Err(AwsError::validation(format!(
                            "One or more parameter values were invalid: Index with name: {} already exists",
                            idx.name
                        )));
                    }
                    backfill.push(idx.clone());
                    meta.indexes.push(idx);
                } else if let Some(d) = u.get("Delete") {
                    let iname = d.str("IndexName").unwrap_or_default();
                    let before = meta.indexes.len();
                    meta.indexes.retain(|i| !(i.global && i.name == iname));
                    // Its contributor insights go with it (AWS leaves no orphan entry).
                    meta.insights.retain(|i| i.index.as_deref() != Some(iname));
                    if meta.indexes.len() == before {
                        return Err(AwsError::new(
                            400,
                            "ResourceNotFoundException",
                            format!("Requested resource not found: Index: {iname} not found"),
                        ));
                    }
                } else if let Some(up) = u.get("Update") {
                    let iname = up.str("IndexName").unwrap_or_default();
                    let Some(i) = meta
                        .indexes
                        .iter_mut()
                        .find(|i| i.global && i.name == iname)
                    else {
                        return Err(AwsError::new(
                            400,
                            "ResourceNotFoundException",
                            format!("Requested resource not found: Index: {iname} not found"),
                        ));
                    };
                    if let Some((r, w)) = throughput(up.get("ProvisionedThroughput")) {
                        i.rcu = r;
                        i.wcu = w;
                    }
                }
            }
            // Definitions that no key uses any more are dropped, as AWS does.
            let used: Vec<String> = meta
                .key
                .names()
                .into_iter()
                .chain(meta.indexes.iter().flat_map(|i| i.key.names()))
                .map(str::to_owned)
                .collect();
            meta.attr_defs.retain(|d| used.contains(&d.name));
            t.indexes
                .retain(|n, _| meta.indexes.iter().any(|i| &i.name == n));
            t.meta = meta;
            for idx in backfill {
                t.backfill(&idx);
            }
            let now = ctx.clock.now_millis();
            match stream_change.clone() {
                Some(Some(view)) => open_stream(&mut t, &view, now),
                Some(None) => {
                    t.meta.stream_view = None;
                    t.close_stream(now);
                }
                None => {}
            }
            let bytes =
                serde_json::to_vec(&t.meta).map_err(|e| AwsError::internal(e.to_string()))?;
            let mut desc = describe(&t, "UPDATING");
            if let (Some(_), Some(key)) = (&sse_change, &t.meta.sse_kms_key) {
                desc.insert("SSEDescription", sse_value(key, "UPDATING"));
            }
            let mut batch = vec![Mutation::put(
                TABLES,
                table_record_key(&ctx.account_id, &ctx.region, &name),
                bytes,
            )];
            batch.extend(t.take_journal());
            (
                self.start_commit(batch),
                desc,
                stream_change.map(|c| (c, t.meta.replicas.clone())),
            )
        };
        pending.0.wait().await?;
        if let Some((change, replicas)) = pending.2 {
            // Global tables keep the stream settings of their replicas aligned.
            self.align_replica_streams(ctx, &name, &replicas, change.as_deref())
                .await?;
        }
        Ok(Value::map().with("TableDescription", pending.1))
    }

    pub(crate) fn table_by_arn(
        &self,
        ctx: &RequestContext,
        arn: &str,
    ) -> Result<crate::state::TableRef, AwsError> {
        let missing = || {
            AwsError::new(
                400,
                "ResourceNotFoundException",
                format!("Requested resource not found: ResourcArn: {arn} not found"),
            )
        };
        let name = arn.split_once(":table/").map(|x| x.1).ok_or_else(missing)?;
        let t = self.table(ctx, name).map_err(|_| missing())?;
        if t.read().unwrap().meta.arn != arn {
            return Err(missing());
        }
        Ok(t)
    }

    pub async fn tag_resource(&self, ctx: &RequestContext, v: &Value) -> Result<Value, AwsError> {
        let t = self.table_by_arn(ctx, v.str("ResourceArn").unwrap_or_default())?;
        let snapshot = {
            let mut t = t.write().unwrap();
            for tag in v.get("Tags").and_then(Value::as_list).unwrap_or_default() {
                let k = tag.str("Key").unwrap_or_default().to_owned();
                let val = tag.str("Value").unwrap_or_default().to_owned();
                t.meta.tags.retain(|x| x.0 != k);
                t.meta.tags.push((k, val));
            }
            if t.meta.tags.len() > 50 {
                return Err(AwsError::validation(
                    "One or more parameter values were invalid: The number of tags exceeds the limit of 50",
                ));
            }
            Table::new(t.meta.clone())
        };
        self.persist_meta(ctx, &snapshot).await?;
        Ok(Value::map())
    }

    pub async fn untag_resource(&self, ctx: &RequestContext, v: &Value) -> Result<Value, AwsError> {
        let t = self.table_by_arn(ctx, v.str("ResourceArn").unwrap_or_default())?;
        let keys: Vec<&str> = v
            .get("TagKeys")
            .and_then(Value::as_list)
            .unwrap_or_default()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let snapshot = {
            let mut t = t.write().unwrap();
            t.meta.tags.retain(|x| !keys.contains(&x.0.as_str()));
            Table::new(t.meta.clone())
        };
        self.persist_meta(ctx, &snapshot).await?;
        Ok(Value::map())
    }

    pub fn list_tags(&self, ctx: &RequestContext, v: &Value) -> Result<Value, AwsError> {
        let t = self.table_by_arn(ctx, v.str("ResourceArn").unwrap_or_default())?;
        let t = t.read().unwrap();
        let tags: Vec<Value> = t
            .meta
            .tags
            .iter()
            .map(|(k, v)| {
                Value::map()
                    .with("Key", k.as_str())
                    .with("Value", v.as_str())
            })
            .collect();
        Ok(Value::map().with("Tags", Value::List(tags)))
    }

    pub async fn update_ttl(&self, ctx: &RequestContext, v: &Value) -> Result<Value, AwsError> {
        let name = table_name(v);
        let t = self.table(ctx, &name).map_err(|_| table_not_found(&name))?;
        let spec = v
            .get("TimeToLiveSpecification")
            .cloned()
            .unwrap_or_default();
        let enabled = spec.bool("Enabled").unwrap_or(false);
        let attr = spec.str("AttributeName").unwrap_or_default().to_owned();
        let snapshot = {
            let mut t = t.write().unwrap();
            match (&t.meta.ttl_attribute, enabled) {
                (Some(_), true) => {
                    return Err(AwsError::validation("TimeToLive is already enabled"));
                }
                (None, false) => {
                    return Err(AwsError::validation("TimeToLive is already disabled"));
                }
                (Some(cur), false) if *cur != attr => {
                    return Err(AwsError::validation(
                        "TimeToLive is active on a different AttributeName: current AttributeName is ".to_owned() + cur,
                    ));
                }
                _ => {}
            }
            t.meta.ttl_attribute = enabled.then(|| attr.clone());
            t.rebuild_ttl();
            Table::new(t.meta.clone())
        };
        self.persist_meta(ctx, &snapshot).await?;
        Ok(Value::map().with(
            "TimeToLiveSpecification",
            Value::map()
                .with("Enabled", enabled)
                .with("AttributeName", attr),
        ))
    }

    pub fn describe_ttl(&self, ctx: &RequestContext, v: &Value) -> Result<Value, AwsError> {
        let name = table_name(v);
        let t = self.table(ctx, &name).map_err(|_| table_not_found(&name))?;
        let t = t.read().unwrap();
        let d = match &t.meta.ttl_attribute {
            Some(a) => Value::map()
                .with("TimeToLiveStatus", "ENABLED")
                .with("AttributeName", a.as_str()),
            None => Value::map().with("TimeToLiveStatus", "DISABLED"),
        };
        Ok(Value::map().with("TimeToLiveDescription", d))
    }
}

pub(crate) fn uuid() -> String {
    let hex = nephos_core::random_alnum(32, b"0123456789abcdef");
    format!(
        "{}-{}-4{}-a{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}
