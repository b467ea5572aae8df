//! Global tables (version 2019.11.21): replicas of a table in other regions of the same
//! account, created and deleted by UpdateTable's ReplicaUpdates. Writes to any replica
//! are queued in its outbox and copied to the others by a background task, shortly after
//! (asynchronously, last writer wins, as AWS replicates).

use crate::attr::decode_item;
use crate::state::{DynamoDb, ITEMS, OUTBOX, TABLES, item_record_key, table_record_key};
use crate::table::Table;
use crate::tables::{describe, uuid};
use nephos_core::{AwsError, RequestContext, Value};
use nephos_storage::Mutation;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

/// Set when some table's outbox has changes, so the task only scans when there is work.
pub static PENDING: AtomicBool = AtomicBool::new(false);

/// Copies queued changes between replicas every few milliseconds while there are any.
pub async fn replication_task(db: Weak<DynamoDb>) {
    loop {
        tokio::time::sleep(Duration::from_millis(10)).await;
        let Some(db) = db.upgrade() else { return };
        if PENDING.swap(false, Ordering::AcqRel) {
            db.replicate().await;
        }
    }
}

fn meta_mutation(account: &str, t: &Table) -> Result<Mutation, AwsError> {
    let region = t.meta.arn.split(':').nth(3).unwrap_or_default();
    let bytes = serde_json::to_vec(&t.meta).map_err(|e| AwsError::internal(e.to_string()))?;
    Ok(Mutation::put(
        TABLES,
        table_record_key(account, region, &t.meta.name),
        bytes,
    ))
}

impl DynamoDb {
    /// Drains every outbox into the other replicas of its table.
    pub async fn replicate(&self) {
        for ((account, region), state) in self.state.all() {
            let tables: Vec<_> = state.tables.read().unwrap().values().cloned().collect();
            for t in tables {
                let (name, id, group, queued) = {
                    let mut t = t.write().unwrap();
                    if t.outbox.is_empty() {
                        continue;
                    }
                    (
                        t.meta.name.clone(),
                        t.meta.id.clone(),
                        t.meta.replicas.clone(),
                        std::mem::take(&mut t.outbox),
                    )
                };
                let (ids, changes): (Vec<u64>, Vec<crate::table::Change>) =
                    queued.into_iter().unzip();
                let mut delivered = true;
                for other in group.iter().filter(|r| **r != region) {
                    let target = self
                        .state
                        .get_for(&account, other)
                        .tables
                        .read()
                        .unwrap()
                        .get(&name)
                        .cloned();
                    let Some(target) = target else { continue };
                    let pending = {
                        let mut tt = target.write().unwrap();
                        tt.applying_replica = true;
                        let mut batch = Vec::new();
                        let now = self.clock.now_millis();
                        for (k, v) in &changes {
                            // The replica's own stream records the replicated change, with
                            // the replica's table as its source.
                            let old = tt.get(k);
                            let new = v.as_deref().and_then(decode_item);
                            tt.changed(now, old.as_ref(), new.as_ref(), false);
                            match v {
                                Some(v) => {
                                    tt.put_encoded(k, v.clone(), new.as_ref());
                                    batch.push(Mutation::put(
                                        ITEMS,
                                        item_record_key(&tt.meta.id, k),
                                        v.to_vec(),
                                    ));
                                }
                                None => {
                                    tt.remove(k);
                                    batch.push(Mutation::delete(
                                        ITEMS,
                                        item_record_key(&tt.meta.id, k),
                                    ));
                                }
                            }
                        }
                        tt.applying_replica = false;
                        batch.extend(tt.take_journal());
                        self.start_commit(batch)
                    };
                    delivered &= pending.wait().await.is_ok();
                }
                // Once every replica holds the changes, they leave the stored outbox.
                if delivered && self.storage.is_durable() {
                    let done = ids
                        .iter()
                        .map(|n| Mutation::delete(OUTBOX, crate::pitr::record_key(&id, *n)))
                        .collect();
                    let _ = self.start_commit(done).wait().await;
                }
            }
        }
    }

    /// Enables (`Some(view)`) or disables the stream of every other replica of `name`.
    pub async fn align_replica_streams(
        &self,
        ctx: &RequestContext,
        name: &str,
        replicas: &[String],
        view: Option<&str>,
    ) -> Result<(), AwsError> {
        let account = ctx.account_id.as_str();
        let mut batch = Vec::new();
        let now = ctx.clock.now_millis();
        for r in replicas.iter().filter(|r| **r != ctx.region) {
            let Some(t) = self.regional_table(account, r, name) else {
                continue;
            };
            let mut t = t.write().unwrap();
            match view {
                Some(v) if t.meta.stream_view.is_none() => {
                    crate::tables::open_stream(&mut t, v, now)
                }
                None if t.meta.stream_view.is_some() => {
                    t.meta.stream_view = None;
                    t.close_stream(now);
                }
                _ => continue,
            }
            batch.push(meta_mutation(account, &t)?);
            batch.extend(t.take_journal());
        }
        self.start_commit(batch).wait().await
    }

    pub async fn update_replicas(
        &self,
        ctx: &RequestContext,
        name: &str,
        v: &Value,
    ) -> Result<Value, AwsError> {
        let account = ctx.account_id.as_str();
        for u in v
            .get("ReplicaUpdates")
            .and_then(Value::as_list)
            .unwrap_or_default()
        {
            let src = self.table(ctx, name)?;
            let mut group = src.read().unwrap().meta.replicas.clone();
            if group.is_empty() {
                group.push(ctx.region.clone());
            }
            let mut batch = Vec::new();
            if let Some(c) = u.get("Create") {
                let target = c.str("RegionName").unwrap_or_default().to_owned();
                if group.contains(&target) {
                    return Err(AwsError::validation(format!(
                        "Failed to create a the new replica of table with name: '{name}' because one or more replicas already existed as tables."
                    )));
                }
                let region = self.state.get_for(account, &target);
                let mut tables = region.tables.write().unwrap();
                if tables.contains_key(name) {
                    return Err(AwsError::validation(format!(
                        "Failed to create a the new replica of table with name: '{name}' because one or more replicas already existed as tables."
                    )));
                }
                group.push(target.clone());
                let (mut meta, items) = {
                    let s = src.read().unwrap();
                    (s.meta.clone(), s.items.clone())
                };
                meta.id = uuid();
                meta.arn = format!("arn:aws:dynamodb:{target}:{account}:table/{name}");
                meta.created_ms = ctx.clock.now_millis();
                meta.pitr_since_ms = None;
                meta.stream_label = None;
                meta.replicas = group.clone();
                meta.kinesis.clear();
                let view = meta.stream_view.take();
                let mut table = Table::new(meta);
                if let Some(view) = view {
                    // Replicas share the stream settings of the table, each with its own
                    // stream.
                    crate::tables::open_stream(&mut table, &view, ctx.clock.now_millis());
                }
                if self.storage.is_durable() {
                    for (k, v) in &items {
                        batch.push(Mutation::put(
                            ITEMS,
                            item_record_key(&table.meta.id, k),
                            v.to_vec(),
                        ));
                    }
                }
                table.load_sorted(items.into_iter().collect());
                batch.push(meta_mutation(account, &table)?);
                batch.extend(table.take_journal());
                tables.insert(name.to_owned(), Arc::new(RwLock::new(table)));
            } else if let Some(d) = u.get("Delete") {
                let target = d.str("RegionName").unwrap_or_default().to_owned();
                if !group.contains(&target) || target == ctx.region && group.len() == 1 {
                    return Err(AwsError::validation(format!(
                        "Cannot delete a replica in region {target} that does not exist for table {name}"
                    )));
                }
                group.retain(|r| *r != target);
                let region = self.state.get_for(account, &target);
                if let Some(t) = region.tables.write().unwrap().remove(name) {
                    let t = t.read().unwrap();
                    batch.push(Mutation::delete(
                        TABLES,
                        table_record_key(account, &target, name),
                    ));
                    if self.storage.is_durable() {
                        for k in t.items.keys() {
                            batch.push(Mutation::delete(ITEMS, item_record_key(&t.meta.id, k)));
                        }
                        batch.extend(t.side_deletions());
                    }
                }
            } else {
                continue;
            }
            // A single remaining replica is an ordinary table again.
            let members = if group.len() > 1 {
                group.clone()
            } else {
                Vec::new()
            };
            for r in &group {
                let t = self
                    .state
                    .get_for(account, r)
                    .tables
                    .read()
                    .unwrap()
                    .get(name)
                    .cloned();
                if let Some(t) = t {
                    let mut t = t.write().unwrap();
                    t.meta.replicas = members.clone();
                    batch.push(meta_mutation(account, &t)?);
                }
            }
            self.start_commit(batch).wait().await?;
        }
        let t = self.table(ctx, name)?;
        let t = t.read().unwrap();
        Ok(Value::map().with("TableDescription", describe(&t, "UPDATING")))
    }
}

fn global_not_found(name: &str) -> AwsError {
    AwsError::new(
        400,
        "GlobalTableNotFoundException",
        format!("Global table not found: Global table with name: '{name}' does not exist."),
    )
}

/// Legacy global tables (2017.11.29): existing same-named tables in several regions are
/// linked into one replication group.
impl DynamoDb {
    fn regional_table(&self, account: &str, region: &str, name: &str) -> Option<TableRefAlias> {
        self.state
            .get_for(account, region)
            .tables
            .read()
            .unwrap()
            .get(name)
            .cloned()
    }

    fn global_description(&self, ctx: &RequestContext, name: &str) -> Result<Value, AwsError> {
        let t = self
            .regional_table(&ctx.account_id, &ctx.region, name)
            .ok_or_else(|| global_not_found(name))?;
        let t = t.read().unwrap();
        if t.meta.replicas.is_empty() {
            return Err(global_not_found(name));
        }
        let group = t
            .meta
            .replicas
            .iter()
            .map(|r| {
                Value::map()
                    .with("RegionName", r.as_str())
                    .with("ReplicaStatus", "ACTIVE")
            })
            .collect();
        Ok(Value::map()
            .with("GlobalTableName", name)
            .with(
                "GlobalTableArn",
                format!("arn:aws:dynamodb::{}:global-table/{name}", ctx.account_id),
            )
            .with("GlobalTableStatus", "ACTIVE")
            .with(
                "CreationDateTime",
                nephos_core::Timestamp::from_millis(t.meta.created_ms),
            )
            .with("ReplicationGroup", Value::List(group)))
    }

    /// Points every listed region's table at `group` and persists the descriptions.
    async fn link(&self, account: &str, name: &str, regions: &[String], group: &[String]) {
        let mut batch = Vec::new();
        for r in regions {
            if let Some(t) = self.regional_table(account, r, name) {
                let mut t = t.write().unwrap();
                t.meta.replicas = group.to_vec();
                if let Ok(m) = meta_mutation(account, &t) {
                    batch.push(m);
                }
            }
        }
        let _ = self.start_commit(batch).wait().await;
    }

    /// Removes this region's (deleted) replica from the group of the others.
    pub async fn leave_group(&self, ctx: &RequestContext, name: &str, group: &[String]) {
        let rest: Vec<String> = group
            .iter()
            .filter(|r| **r != ctx.region)
            .cloned()
            .collect();
        let members = if rest.len() > 1 {
            rest.clone()
        } else {
            Vec::new()
        };
        self.link(&ctx.account_id, name, &rest, &members).await;
    }

    fn regions_of(list: Option<&Value>) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for r in list.and_then(Value::as_list).unwrap_or_default() {
            if let Some(n) = r.str("RegionName")
                && !out.iter().any(|x| x == n)
            {
                out.push(n.to_owned());
            }
        }
        out
    }

    pub async fn create_global_table(
        &self,
        ctx: &RequestContext,
        v: &Value,
    ) -> Result<Value, AwsError> {
        let name = v.str("GlobalTableName").unwrap_or_default().to_owned();
        let group = Self::regions_of(v.get("ReplicationGroup"));
        for r in &group {
            let t = self
                .regional_table(&ctx.account_id, r, &name)
                .ok_or_else(|| {
                    AwsError::new(
                        400,
                        "TableNotFoundException",
                        format!("Table not found: {name} in region {r}"),
                    )
                })?;
            if !t.read().unwrap().meta.replicas.is_empty() {
                return Err(AwsError::new(
                    400,
                    "GlobalTableAlreadyExistsException",
                    format!("Global table with name: '{name}' already exists."),
                ));
            }
        }
        self.link(&ctx.account_id, &name, &group, &group).await;
        Ok(Value::map().with(
            "GlobalTableDescription",
            self.global_description(ctx, &name)?,
        ))
    }

    pub fn describe_global_table(
        &self,
        ctx: &RequestContext,
        v: &Value,
    ) -> Result<Value, AwsError> {
        let name = v.str("GlobalTableName").unwrap_or_default();
        Ok(Value::map().with(
            "GlobalTableDescription",
            self.global_description(ctx, name)?,
        ))
    }

    pub async fn update_global_table(
        &self,
        ctx: &RequestContext,
        v: &Value,
    ) -> Result<Value, AwsError> {
        let name = v.str("GlobalTableName").unwrap_or_default().to_owned();
        self.global_description(ctx, &name)?;
        let mut group = self
            .regional_table(&ctx.account_id, &ctx.region, &name)
            .map(|t| t.read().unwrap().meta.replicas.clone())
            .unwrap_or_default();
        let mut removed = Vec::new();
        for u in v
            .get("ReplicaUpdates")
            .and_then(Value::as_list)
            .unwrap_or_default()
        {
            if let Some(r) = u.get("Create").and_then(|c| c.str("RegionName")) {
                if group.iter().any(|g| g == r) {
                    return Err(AwsError::new(
                        400,
                        "ReplicaAlreadyExistsException",
                        format!("Replica already exists in region: {r}"),
                    ));
                }
                if self.regional_table(&ctx.account_id, r, &name).is_none() {
                    return Err(AwsError::new(
                        400,
                        "TableNotFoundException",
                        format!("Table not found: {name} in region {r}"),
                    ));
                }
                group.push(r.to_owned());
            } else if let Some(r) = u.get("Delete").and_then(|c| c.str("RegionName")) {
                if !group.iter().any(|g| g == r) {
                    return Err(AwsError::new(
                        400,
                        "ReplicaNotFoundException",
                        format!("Replica not found in region: {r}"),
                    ));
                }
                group.retain(|g| g != r);
                removed.push(r.to_owned());
            }
        }
        self.link(&ctx.account_id, &name, &removed, &[]).await;
        let members = if group.len() > 1 {
            group.clone()
        } else {
            Vec::new()
        };
        self.link(&ctx.account_id, &name, &group, &members).await;
        if members.is_empty() {
            return Ok(Value::map().with(
                "GlobalTableDescription",
                Value::map()
                    .with("GlobalTableName", name.as_str())
                    .with("GlobalTableStatus", "ACTIVE")
                    .with("ReplicationGroup", Value::List(Vec::new())),
            ));
        }
        Ok(Value::map().with(
            "GlobalTableDescription",
            self.global_description(ctx, &name)?,
        ))
    }

    pub fn list_global_tables(&self, ctx: &RequestContext, v: &Value) -> Value {
        let region = v.str("RegionName").unwrap_or(&ctx.region);
        let limit = v.int("Limit").unwrap_or(100).clamp(1, 100) as usize;
        let start = v.str("ExclusiveStartGlobalTableName");
        let state = self.state.get_for(&ctx.account_id, region);
        let tables = state.tables.read().unwrap();
        let mut out = Vec::new();
        let mut last = None;
        for (name, t) in tables.iter() {
            if start.is_some_and(|s| name.as_str() <= s) {
                continue;
            }
            let t = t.read().unwrap();
            if t.meta.replicas.is_empty() {
                continue;
            }
            if out.len() == limit {
                last = out
                    .last()
                    .and_then(|g: &Value| g.str("GlobalTableName").map(str::to_owned));
                break;
            }
            let group = t
                .meta
                .replicas
                .iter()
                .map(|r| Value::map().with("RegionName", r.as_str()))
                .collect();
            out.push(
                Value::map()
                    .with("GlobalTableName", name.as_str())
                    .with("ReplicationGroup", Value::List(group)),
            );
        }
        let mut v = Value::map().with("GlobalTables", Value::List(out));
        if let Some(l) = last {
            v.insert("LastEvaluatedGlobalTableName", l);
        }
        v
    }
}

type TableRefAlias = crate::state::TableRef;
