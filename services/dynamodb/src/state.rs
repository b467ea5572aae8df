//! Provider state: tables per account and region, persistence, idempotency tokens.

use crate::table::{Table, TableMeta};
use nephos_core::{AwsError, Clock, RequestContext, Scoped, Value};
use nephos_storage::{Mutation, Storage};
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex, RwLock};
use std::task::{Context, Poll, Waker};

pub const TABLES: &str = "dynamodb.tables";
pub const ITEMS: &str = "dynamodb.items";
pub const BACKUPS: &str = "dynamodb.backups";
pub const BACKUP_ITEMS: &str = "dynamodb.backup_items";
pub const STREAMS: &str = "dynamodb.streams";
pub const STREAM_RECORDS: &str = "dynamodb.stream_records";
pub const PITR: &str = "dynamodb.pitr";
pub const OUTBOX: &str = "dynamodb.outbox";

/// Set once a provider with durable storage exists: only then do tables build the storage
/// writes of their stream records and history (see `Table::journal`).
static JOURNALING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

pub fn journaling() -> bool {
    JOURNALING.load(std::sync::atomic::Ordering::Relaxed)
}

pub type TableRef = Arc<RwLock<Table>>;

#[derive(Default)]
pub struct Region {
    pub tables: RwLock<BTreeMap<String, TableRef>>,
    /// ClientRequestToken -> (expiry ms, request fingerprint, response).
    pub tokens: Mutex<HashMap<String, (i64, String, Value)>>,
    /// Backup ARN -> backup.
    pub backups: Mutex<BTreeMap<String, Arc<crate::backup::Backup>>>,
    /// Export ARN -> ExportDescription; import ARN -> ImportTableDescription.
    pub exports: Mutex<BTreeMap<String, Value>>,
    pub imports: Mutex<BTreeMap<String, Value>>,
}

pub struct DynamoDb {
    /// Provisioned-throughput throttling (`--dynamodb-throttling`).
    pub throttling: std::sync::atomic::AtomicBool,
    pub dispatcher: std::sync::OnceLock<nephos_core::Dispatcher>,
    pub state: Scoped<Region>,
    pub storage: Storage,
    pub clock: Arc<Clock>,
}

/// Storage key of a table's description.
pub fn table_record_key(account: &str, region: &str, name: &str) -> Vec<u8> {
    format!("{account}/{region}/{name}").into_bytes()
}

/// Storage key of an item: the table's id then the item's ordered key.
pub fn item_record_key(table_id: &str, key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(table_id.len() + key.len());
    k.extend_from_slice(table_id.as_bytes());
    k.extend_from_slice(key);
    k
}

pub fn not_found() -> AwsError {
    AwsError::new(
        400,
        "ResourceNotFoundException",
        "Requested resource not found",
    )
}

impl DynamoDb {
    pub fn load(storage: Storage, clock: Arc<Clock>) -> Result<DynamoDb, String> {
        if storage.is_durable() {
            JOURNALING.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        let state: Scoped<Region> = Scoped::regional();
        let mut streams = Self::load_streams(&storage, clock.now_millis())?;
        let mut by_id: HashMap<String, TableRef> = HashMap::new();
        for (key, value) in storage.load(TABLES).map_err(|e| e.to_string())? {
            let meta: TableMeta = serde_json::from_slice(&value).map_err(|e| e.to_string())?;
            let key = String::from_utf8_lossy(&key).into_owned();
            let mut parts = key.splitn(3, '/');
            let (Some(account), Some(region)) = (parts.next(), parts.next()) else {
                continue;
            };
            let id = meta.id.clone();
            let name = meta.name.clone();
            let mut table = Table::new(meta);
            if let Some(logs) = streams.remove(&id) {
                table.streams = logs;
            } else if let (Some(view), Some(label)) = (
                table.meta.stream_view.clone(),
                table.meta.stream_label.clone(),
            ) {
                // A data directory from before streams persisted: a fresh shard.
                let log = crate::stream::StreamLog::new(
                    &table.meta.arn,
                    &view,
                    label,
                    clock.now_millis(),
                );
                table.push_stream(log);
            }
            let t = Arc::new(RwLock::new(table));
            by_id.insert(id, t.clone());
            state
                .get_for(account, region)
                .tables
                .write()
                .unwrap()
                .insert(name, t);
        }
        // Stored keys are the table id then the item key, so each table's items arrive
        // contiguous and in order; tables are then filled in parallel.
        let mut per_table: Vec<(TableRef, crate::table::SortedPairs)> = Vec::new();
        let mut current: Option<(String, usize)> = None;
        storage
            .for_each(ITEMS, |key, value| {
                // Table ids are 36-character UUIDs; items of deleted tables are ignored.
                let Some(id) = key.get(..36) else { return };
                let slot = match &current {
                    Some((cur, slot)) if cur.as_bytes() == id => Some(*slot),
                    _ => {
                        let id = String::from_utf8_lossy(id).into_owned();
                        let slot = by_id.get(&id).map(|t| {
                            per_table.push((t.clone(), Vec::new()));
                            per_table.len() - 1
                        });
                        current = slot.map(|s| (id, s));
                        slot
                    }
                };
                if let Some(slot) = slot {
                    per_table[slot].1.push((key[36..].into(), value.into()));
                }
            })
            .map_err(|e| e.to_string())?;
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
        let queue = Mutex::new(per_table);
        std::thread::scope(|s| {
            for _ in 0..workers {
                s.spawn(|| {
                    loop {
                        let next = queue.lock().unwrap().pop();
                        let Some((t, entries)) = next else { break };
                        t.write().unwrap().load_sorted(entries);
                    }
                });
            }
        });
        // Changes not yet replicated when the process stopped are sent again.
        storage
            .for_each(OUTBOX, |key, value| {
                let (Some(id), Some(n)) = (key.get(..36), key.get(36..)) else {
                    return;
                };
                let (Ok(n), Some(t)) = (
                    <[u8; 8]>::try_from(n),
                    std::str::from_utf8(id).ok().and_then(|id| by_id.get(id)),
                ) else {
                    return;
                };
                if let Some(change) = crate::table::decode_change(value) {
                    let n = u64::from_be_bytes(n);
                    let mut t = t.write().unwrap();
                    t.outbox_next = t.outbox_next.max(n + 1);
                    t.outbox.push((n, change));
                    crate::replicas::PENDING.store(true, std::sync::atomic::Ordering::Release);
                }
            })
            .map_err(|e| e.to_string())?;
        let mut history = Self::load_pitr(&storage)?;
        for t in by_id.values() {
            let mut t = t.write().unwrap();
            if let Some(since) = t.meta.pitr_since_ms {
                let mut p = crate::pitr::Pitr::new(clock.clone(), since);
                if let Some(log) = history.remove(&t.meta.id) {
                    p.next_id = log.back().map_or(0, |u| u.id + 1);
                    p.log = log;
                }
                t.pitr = Some(p);
            }
        }
        Self::load_backups(&storage, &state)?;
        Ok(DynamoDb {
            throttling: std::sync::atomic::AtomicBool::new(false),
            dispatcher: std::sync::OnceLock::new(),
            state,
            storage,
            clock,
        })
    }

    /// Stored streams and their records, per table id, oldest stream first.
    fn load_streams(
        storage: &Storage,
        now_ms: i64,
    ) -> Result<HashMap<String, Vec<crate::stream::StreamLog>>, String> {
        use crate::stream::{StreamLog, StreamMeta, StreamRecord};
        let mut out: HashMap<String, Vec<StreamLog>> = HashMap::new();
        for (key, value) in storage.load(STREAMS).map_err(|e| e.to_string())? {
            let Some(id) = key.get(..36) else { continue };
            let meta: StreamMeta = serde_json::from_slice(&value).map_err(|e| e.to_string())?;
            if let Some(log) = StreamLog::from_meta(meta) {
                out.entry(String::from_utf8_lossy(id).into_owned())
                    .or_default()
                    .push(log);
            }
        }
        for logs in out.values_mut() {
            logs.sort_by(|a, b| (a.created_ms, &a.label).cmp(&(b.created_ms, &b.label)));
        }
        storage
            .for_each(STREAM_RECORDS, |key, value| {
                if key.len() < 36 + 16 {
                    return;
                }
                let (head, seq) = key.split_at(key.len() - 16);
                let Ok(seq) = <[u8; 16]>::try_from(seq) else {
                    return;
                };
                let (id, shard) = head.split_at(36);
                let Some(logs) = std::str::from_utf8(id).ok().and_then(|id| out.get_mut(id)) else {
                    return;
                };
                let Some(log) = logs.iter_mut().find(|l| l.shard_id.as_bytes() == shard) else {
                    return;
                };
                if let Some(r) = StreamRecord::decode(u128::from_be_bytes(seq), value) {
                    log.restore_record(r);
                }
            })
            .map_err(|e| e.to_string())?;
        for log in out.values_mut().flatten() {
            log.finish_restore(now_ms);
        }
        Ok(out)
    }

    /// Stored point-in-time history per table id, in log order.
    fn load_pitr(
        storage: &Storage,
    ) -> Result<HashMap<String, std::collections::VecDeque<crate::pitr::Undo>>, String> {
        let mut out: HashMap<String, std::collections::VecDeque<crate::pitr::Undo>> =
            HashMap::new();
        storage
            .for_each(PITR, |key, value| {
                let (Some(id), Some(n)) = (key.get(..36), key.get(36..)) else {
                    return;
                };
                let Ok(n) = <[u8; 8]>::try_from(n) else {
                    return;
                };
                if let Some(u) = crate::pitr::decode(u64::from_be_bytes(n), value) {
                    out.entry(String::from_utf8_lossy(id).into_owned())
                        .or_default()
                        .push_back(u);
                }
            })
            .map_err(|e| e.to_string())?;
        Ok(out)
    }

    fn load_backups(storage: &Storage, state: &Scoped<Region>) -> Result<(), String> {
        let mut by_id: HashMap<String, (String, String, crate::backup::BackupRec)> = HashMap::new();
        for (key, value) in storage.load(BACKUPS).map_err(|e| e.to_string())? {
            let rec: crate::backup::BackupRec =
                serde_json::from_slice(&value).map_err(|e| e.to_string())?;
            let key = String::from_utf8_lossy(&key).into_owned();
            let mut parts = key.splitn(3, '/');
            let (Some(account), Some(region)) = (parts.next(), parts.next()) else {
                continue;
            };
            by_id.insert(rec.id.clone(), (account.to_owned(), region.to_owned(), rec));
        }
        let mut items: HashMap<String, crate::table::SortedPairs> = HashMap::new();
        for (key, value) in storage.load(BACKUP_ITEMS).map_err(|e| e.to_string())? {
            let Some(id) = key.get(..36) else { continue };
            let id = String::from_utf8_lossy(id).into_owned();
            if by_id.contains_key(&id) {
                items
                    .entry(id)
                    .or_default()
                    .push((key[36..].into(), value.into_boxed_slice()));
            }
        }
        for (id, (account, region, rec)) in by_id {
            let items = items.remove(&id).unwrap_or_default().into_iter().collect();
            state
                .get_for(&account, &region)
                .backups
                .lock()
                .unwrap()
                .insert(
                    rec.arn.clone(),
                    Arc::new(crate::backup::Backup { rec, items }),
                );
        }
        Ok(())
    }

    pub fn clear(&self) {
        self.state.clear();
        let _ = self.storage.clear();
    }

    pub fn region(&self, ctx: &RequestContext) -> Arc<Region> {
        self.state.get(ctx)
    }

    pub fn table(&self, ctx: &RequestContext, name: &str) -> Result<TableRef, AwsError> {
        self.region(ctx)
            .tables
            .read()
            .unwrap()
            .get(name)
            .cloned()
            .ok_or_else(not_found)
    }

    /// Commits `batch`. Call [`Pending::start`] while still holding the table lock so
    /// commits reach the writer in the order the memory changed.
    pub fn start_commit(&self, batch: Vec<Mutation>) -> Pending {
        if !self.storage.is_durable() {
            return Pending::Done(Ok(()));
        }
        let storage = self.storage.clone();
        let mut fut: std::pin::Pin<Box<dyn Future<Output = Result<(), String>> + Send>> =
            Box::pin(async move { storage.commit(batch).await.map_err(|e| e.to_string()) });
        // The first poll hands the batch to the storage writer (Storage::commit sends before
        // it first awaits); the caller awaits the acknowledgement after unlocking.
        let mut cx = Context::from_waker(Waker::noop());
        match fut.as_mut().poll(&mut cx) {
            Poll::Ready(r) => Pending::Done(r),
            Poll::Pending => Pending::Waiting(fut),
        }
    }
}

pub enum Pending {
    Done(Result<(), String>),
    Waiting(std::pin::Pin<Box<dyn Future<Output = Result<(), String>> + Send>>),
}

impl Pending {
    pub async fn wait(self) -> Result<(), AwsError> {
        let r = match self {
            Pending::Done(r) => r,
            Pending::Waiting(f) => f.await,
        };
        r.map_err(|e| {
            tracing::error!(error = %e, "persisting dynamodb state failed");
            AwsError::internal("the change could not be stored")
        })
    }
}
