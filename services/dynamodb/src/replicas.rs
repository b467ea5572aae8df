//! Global tables (version 2019.11.21): replicas of a table in other regions of the same
//! account, created and deleted by UpdateTable's ReplicaUpdates. Writes to any replica
//! are queued in its outbox and copied to the others by a background task, shortly after
//! (asynchronously, last writer wins, as AWS replicates).

use crate::state::{DynamoDb, ITEMS, TABLES, item_record_key, table_record_key};
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
                let (name, group, changes) = {
                    let mut t = t.write().unwrap();
                    if t.outbox.is_empty() {
                        continue;
                    }
                    (
                        t.meta.name.clone(),
                        t.meta.replicas.clone(),
                        std::mem::take(&mut t.outbox),
                    )
                };
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
                        for (k, v) in &changes {
                            match v {
                                Some(v) => {
                                    tt.put_encoded(k, v.clone(), None);
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
                        self.start_commit(batch)
                    };
                    let _ = pending.wait().await;
                }
            }
        }
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
                meta.stream_view = None;
                meta.replicas = group.clone();
                meta.kinesis.clear();
                let mut table = Table::new(meta);
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
