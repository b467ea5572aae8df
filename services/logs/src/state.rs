//! Where log groups, streams and events live: per account and region in memory, written
//! through to storage before a request is acknowledged, rebuilt from it at start.
//!
//! Storage tables (keys are tab-separated):
//! - `logs.groups`: `account region group` → the group's settings and filters (JSON);
//! - `logs.streams`: `account region group stream` → the stream's creation time;
//! - `logs.events`: `account region group stream first-seq` → one accepted PutLogEvents
//!   batch, `[[timestamp, ingestion time, message], ...]` with consecutive sequence numbers,
//!   so a batch costs one write however many events it holds.

use crate::errors;
use nephos_core::{AwsError, Dispatcher, Scoped};
use nephos_storage::{Mutation, Storage};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

pub const GROUPS: &str = "logs.groups";
pub const STREAMS: &str = "logs.streams";
pub const EVENTS: &str = "logs.events";

/// One log event, kept compact: events are the bulk of the memory this service holds.
#[derive(Debug, Clone)]
pub struct Event {
    pub timestamp: i64,
    pub ingestion: i64,
    /// Per stream, in order of arrival; orders events of equal timestamp and makes ids.
    pub seq: u64,
    pub message: Box<str>,
}

impl Event {
    /// The position of the event in its stream.
    pub fn key(&self) -> (i64, u64) {
        (self.timestamp, self.seq)
    }
}

/// A stored batch: its first sequence number and newest timestamp (it can be deleted once
/// retention has passed that).
#[derive(Debug, Clone, Copy)]
pub struct Batch {
    pub first_seq: u64,
    pub newest: i64,
}

#[derive(Debug)]
pub struct LogStream {
    pub name: String,
    pub creation: i64,
    /// Sorted by (timestamp, seq).
    pub events: Vec<Event>,
    pub next_seq: u64,
    pub batches: Vec<Batch>,
    pub last_ingestion: Option<i64>,
    pub bytes: u64,
    /// Counts accepted uploads, for the (ignored) sequence tokens.
    pub uploads: u64,
}

impl LogStream {
    pub fn new(name: &str, creation: i64) -> LogStream {
        LogStream {
            name: name.to_owned(),
            creation,
            events: Vec::new(),
            next_seq: 0,
            batches: Vec::new(),
            last_ingestion: None,
            bytes: 0,
            uploads: 0,
        }
    }

    /// Adds events (already in timestamp order), keeping the stream sorted.
    pub fn insert(&mut self, batch: Vec<Event>) {
        let (Some(first), Some(last)) = (batch.first(), batch.last()) else {
            return;
        };
        self.batches.push(Batch {
            first_seq: first.seq,
            newest: last.timestamp,
        });
        self.next_seq = self.next_seq.max(last.seq + 1);
        self.last_ingestion = Some(self.last_ingestion.unwrap_or(0).max(first.ingestion));
        self.bytes += batch.iter().map(|e| e.message.len() as u64).sum::<u64>();
        if self.events.last().is_none_or(|l| l.key() <= first.key()) {
            self.events.extend(batch);
        } else {
            // A batch older than what the stream holds: merge it in.
            let mut merged = Vec::with_capacity(self.events.len() + batch.len());
            let mut old = std::mem::take(&mut self.events).into_iter().peekable();
            let mut new = batch.into_iter().peekable();
            loop {
                let take_old = match (old.peek(), new.peek()) {
                    (Some(o), Some(n)) => o.key() <= n.key(),
                    (Some(_), None) => true,
                    (None, Some(_)) => false,
                    (None, None) => break,
                };
                merged.extend(if take_old { old.next() } else { new.next() });
            }
            self.events = merged;
        }
    }

    /// Drops events older than `cutoff`; returns the storage keys' sequence numbers of the
    /// batches that are now wholly gone.
    pub fn expire(&mut self, cutoff: i64) -> Vec<u64> {
        let n = self.events.partition_point(|e| e.timestamp < cutoff);
        if n > 0 {
            let gone: u64 = self.events[..n]
                .iter()
                .map(|e| e.message.len() as u64)
                .sum();
            self.bytes -= gone;
            self.events.drain(..n);
        }
        let mut done = Vec::new();
        self.batches.retain(|b| {
            let keep = b.newest >= cutoff;
            if !keep {
                done.push(b.first_seq);
            }
            keep
        });
        done
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricFilter {
    pub filter_pattern: String,
    pub metric_transformations: serde_json::Value,
    pub creation_time: i64,
    #[serde(default)]
    pub apply_on_transformed_logs: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionFilter {
    pub filter_pattern: String,
    pub destination_arn: String,
    #[serde(default)]
    pub role_arn: Option<String>,
    pub distribution: String,
    pub creation_time: i64,
    #[serde(default)]
    pub apply_on_transformed_logs: bool,
}

/// What is stored of a group besides its streams.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct GroupMeta {
    pub creation_time: i64,
    #[serde(default)]
    pub retention_in_days: Option<i64>,
    #[serde(default)]
    pub kms_key_id: Option<String>,
    #[serde(default)]
    pub log_group_class: String,
    #[serde(default)]
    pub deletion_protection: bool,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default)]
    pub metric_filters: BTreeMap<String, MetricFilter>,
    #[serde(default)]
    pub subscription_filters: BTreeMap<String, SubscriptionFilter>,
}

#[derive(Debug)]
pub struct LogGroup {
    pub name: String,
    pub meta: GroupMeta,
    pub streams: BTreeMap<String, LogStream>,
}

impl LogGroup {
    /// Forgets events past the group's retention; returns the deletions to store.
    pub fn expire(&mut self, account: &str, region: &str, now: i64) -> Vec<Mutation> {
        let Some(days) = self.meta.retention_in_days else {
            return Vec::new();
        };
        let cutoff = now - days * 86_400_000;
        let mut out = Vec::new();
        for s in self.streams.values_mut() {
            for seq in s.expire(cutoff) {
                out.push(Mutation::delete(
                    EVENTS,
                    batch_key(account, region, &self.name, &s.name, seq),
                ));
            }
        }
        out
    }

    pub fn stored_bytes(&self) -> u64 {
        self.streams.values().map(|s| s.bytes).sum()
    }
}

/// The groups of one account in one region.
#[derive(Default)]
pub struct Region {
    pub groups: Mutex<BTreeMap<String, Arc<Mutex<LogGroup>>>>,
    pub queries: Mutex<crate::insights::Queries>,
    pub query_defs: Mutex<BTreeMap<String, crate::definitions::QueryDefinition>>,
    /// By `name:<policy name>` or `arn:<resource ARN>`.
    pub policies: Mutex<BTreeMap<String, crate::policies::Policy>>,
    /// In order of creation.
    pub exports: Mutex<Vec<crate::exports::ExportTask>>,
}

pub struct Core {
    pub regions: Scoped<Region>,
    pub storage: Storage,
    pub dispatcher: Dispatcher,
    /// Accepted batches, for live tails.
    pub tail: tokio::sync::broadcast::Sender<Arc<crate::livetail::Ingested>>,
}

pub fn group_key(account: &str, region: &str, group: &str) -> String {
    format!("{account}\t{region}\t{group}")
}

pub fn stream_key(account: &str, region: &str, group: &str, stream: &str) -> String {
    format!("{account}\t{region}\t{group}\t{stream}")
}

pub fn batch_key(account: &str, region: &str, group: &str, stream: &str, seq: u64) -> String {
    format!("{account}\t{region}\t{group}\t{stream}\t{seq:020}")
}

type StoredEvent = (i64, i64, String);

impl Core {
    /// Rebuilds groups, streams and events from storage.
    pub fn load(storage: Storage, dispatcher: Dispatcher) -> Result<Core, String> {
        let core = Core {
            regions: Scoped::regional(),
            storage,
            dispatcher,
            tail: tokio::sync::broadcast::channel(crate::livetail::CHANNEL_CAPACITY).0,
        };
        let mut bad = Vec::new();
        core.storage
            .for_each(GROUPS, |k, v| {
                let key = String::from_utf8_lossy(k);
                let parts: Vec<&str> = key.splitn(3, '\t').collect();
                let (Ok(meta), [account, region, name]) =
                    (serde_json::from_slice::<GroupMeta>(v), parts.as_slice())
                else {
                    bad.push(key.into_owned());
                    return;
                };
                core.regions
                    .get_for(account, region)
                    .groups
                    .lock()
                    .unwrap()
                    .insert(
                        (*name).to_owned(),
                        Arc::new(Mutex::new(LogGroup {
                            name: (*name).to_owned(),
                            meta,
                            streams: BTreeMap::new(),
                        })),
                    );
            })
            .map_err(|e| e.to_string())?;
        core.storage
            .for_each(STREAMS, |k, v| {
                let key = String::from_utf8_lossy(k);
                let parts: Vec<&str> = key.splitn(4, '\t').collect();
                let [account, region, group, stream] = parts.as_slice() else {
                    return;
                };
                let Some(g) = core.find(account, region, group) else {
                    return;
                };
                let creation = String::from_utf8_lossy(v).parse().unwrap_or(0);
                g.lock()
                    .unwrap()
                    .streams
                    .insert((*stream).to_owned(), LogStream::new(stream, creation));
            })
            .map_err(|e| e.to_string())?;
        core.storage
            .for_each(EVENTS, |k, v| {
                let key = String::from_utf8_lossy(k);
                let parts: Vec<&str> = key.splitn(5, '\t').collect();
                let [account, region, group, stream, seq] = parts.as_slice() else {
                    return;
                };
                let (Some(g), Ok(first), Ok(events)) = (
                    core.find(account, region, group),
                    seq.parse::<u64>(),
                    serde_json::from_slice::<Vec<StoredEvent>>(v),
                ) else {
                    return;
                };
                let mut g = g.lock().unwrap();
                let Some(s) = g.streams.get_mut(*stream) else {
                    return;
                };
                s.insert(
                    events
                        .into_iter()
                        .enumerate()
                        .map(|(i, (timestamp, ingestion, message))| Event {
                            timestamp,
                            ingestion,
                            seq: first + i as u64,
                            message: message.into_boxed_str(),
                        })
                        .collect(),
                );
                s.uploads += 1;
            })
            .map_err(|e| e.to_string())?;
        core.storage
            .for_each(crate::definitions::QUERY_DEFS, |k, v| {
                let key = String::from_utf8_lossy(k);
                let parts: Vec<&str> = key.splitn(3, '\t').collect();
                let ([account, region, id], Ok(def)) =
                    (parts.as_slice(), serde_json::from_slice(v))
                else {
                    return;
                };
                core.regions
                    .get_for(account, region)
                    .query_defs
                    .lock()
                    .unwrap()
                    .insert((*id).to_owned(), def);
            })
            .map_err(|e| e.to_string())?;
        core.storage
            .for_each(crate::policies::POLICIES, |k, v| {
                let key = String::from_utf8_lossy(k);
                let parts: Vec<&str> = key.splitn(3, '\t').collect();
                let ([account, region, key], Ok(policy)) =
                    (parts.as_slice(), serde_json::from_slice(v))
                else {
                    return;
                };
                core.regions
                    .get_for(account, region)
                    .policies
                    .lock()
                    .unwrap()
                    .insert((*key).to_owned(), policy);
            })
            .map_err(|e| e.to_string())?;
        core.storage
            .for_each(crate::exports::EXPORTS, |k, v| {
                let key = String::from_utf8_lossy(k);
                let parts: Vec<&str> = key.splitn(3, '\t').collect();
                let ([account, region, _], Ok(task)) = (
                    parts.as_slice(),
                    serde_json::from_slice::<crate::exports::ExportTask>(v),
                ) else {
                    return;
                };
                let r = core.regions.get_for(account, region);
                let mut tasks = r.exports.lock().unwrap();
                tasks.push(task);
                tasks.sort_by_key(|t| t.creation_time);
            })
            .map_err(|e| e.to_string())?;
        if !bad.is_empty() {
            tracing::warn!(
                count = bad.len(),
                "logs: unreadable log group records skipped"
            );
        }
        Ok(core)
    }

    pub fn find(&self, account: &str, region: &str, group: &str) -> Option<Arc<Mutex<LogGroup>>> {
        self.regions
            .get_for(account, region)
            .groups
            .lock()
            .unwrap()
            .get(group)
            .cloned()
    }

    pub async fn commit(&self, batch: Vec<Mutation>) -> Result<(), AwsError> {
        self.storage.commit(batch).await.map_err(errors::storage)
    }

    /// Stores retention's deletions; they are housekeeping, so a failure is only logged
    /// (the events are gone from memory and are filtered again at the next start).
    pub async fn forget(&self, batch: Vec<Mutation>) {
        if let Err(e) = self.storage.commit(batch).await {
            tracing::warn!(error = %e, "logs: storing expired events' deletion failed");
        }
    }

    pub fn meta_mutation(account: &str, region: &str, g: &LogGroup) -> Mutation {
        Mutation::put(
            GROUPS,
            group_key(account, region, &g.name),
            serde_json::to_vec(&g.meta).unwrap_or_default(),
        )
    }

    pub fn stream_mutation(account: &str, region: &str, group: &str, s: &LogStream) -> Mutation {
        Mutation::put(
            STREAMS,
            stream_key(account, region, group, &s.name),
            s.creation.to_string(),
        )
    }

    pub fn batch_mutation(
        account: &str,
        region: &str,
        group: &str,
        stream: &str,
        events: &[Event],
    ) -> Mutation {
        let stored: Vec<(i64, i64, &str)> = events
            .iter()
            .map(|e| (e.timestamp, e.ingestion, &*e.message))
            .collect();
        Mutation::put(
            EVENTS,
            batch_key(account, region, group, stream, events[0].seq),
            serde_json::to_vec(&stored).unwrap_or_default(),
        )
    }

    /// The deletions that forget a stream and its events.
    pub fn forget_stream(account: &str, region: &str, group: &str, s: &LogStream) -> Vec<Mutation> {
        let mut out = vec![Mutation::delete(
            STREAMS,
            stream_key(account, region, group, &s.name),
        )];
        out.extend(s.batches.iter().map(|b| {
            Mutation::delete(
                EVENTS,
                batch_key(account, region, group, &s.name, b.first_seq),
            )
        }));
        out
    }
}
