//! DynamoDB Streams data: one log per stream a table has had (a single shard each), its
//! change records in sequence order, trimmed after 24 hours on the clock.
//!
//! With `--data-dir` each stream's description (`dynamodb.streams`, keyed by table id
//! then shard id) and each record (`dynamodb.stream_records`, keyed by table id, shard id,
//! then the sequence number big-endian) persist in the commit of the item write that made
//! them, so after a crash readers find the same shards and sequence numbers.

use crate::attr::{Item, encode_item, item_size};
use crate::state::{STREAM_RECORDS, STREAMS, journaling};
use crate::table::Table;
use nephos_core::Timestamp;
use nephos_storage::Mutation;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

pub const RETENTION_MS: i64 = 24 * 3600 * 1000;
/// Sequence numbers are 21 digits, like AWS's.
const SEQ_BASE: u128 = 100_000_000_000_000_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Insert,
    Modify,
    Remove,
}

impl Event {
    pub fn name(self) -> &'static str {
        match self {
            Event::Insert => "INSERT",
            Event::Modify => "MODIFY",
            Event::Remove => "REMOVE",
        }
    }
}

pub struct StreamRecord {
    pub seq: u128,
    pub at_ms: i64,
    pub event: Event,
    pub event_id: String,
    pub keys: Box<[u8]>,
    pub new: Option<Box<[u8]>>,
    pub old: Option<Box<[u8]>>,
    pub size: u64,
    /// A deletion by TTL rather than by a request.
    pub by_service: bool,
}

pub struct StreamLog {
    pub arn: String,
    pub label: String,
    pub view: String,
    pub created_ms: i64,
    pub shard_id: String,
    pub first_seq: u128,
    pub next_seq: u128,
    /// The lowest sequence number still readable (older records were trimmed).
    pub horizon: u128,
    /// When the stream was disabled; its shard is then closed.
    pub closed_ms: Option<i64>,
    pub records: VecDeque<StreamRecord>,
    /// The lowest sequence number that may still be in storage (trimmed records are
    /// deleted there on the next write).
    pub stored_from: u128,
}

/// The stored description of a stream (numbers as strings: JSON has no u128).
#[derive(Serialize, Deserialize)]
pub struct StreamMeta {
    pub arn: String,
    pub label: String,
    pub view: String,
    pub created_ms: i64,
    pub shard_id: String,
    pub first_seq: String,
    pub horizon: String,
    pub closed_ms: Option<i64>,
}

pub fn meta_key(table_id: &str, shard_id: &str) -> Vec<u8> {
    format!("{table_id}{shard_id}").into_bytes()
}

pub fn record_key(table_id: &str, shard_id: &str, seq: u128) -> Vec<u8> {
    let mut k = meta_key(table_id, shard_id);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

fn put_part(out: &mut Vec<u8>, b: Option<&[u8]>) {
    match b {
        Some(b) => {
            out.push(1);
            out.extend_from_slice(&(b.len() as u32).to_be_bytes());
            out.extend_from_slice(b);
        }
        None => out.push(0),
    }
}

fn take_part<'a>(b: &mut &'a [u8]) -> Option<Option<&'a [u8]>> {
    let (flag, rest) = b.split_first()?;
    if *flag == 0 {
        *b = rest;
        return Some(None);
    }
    let len = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?) as usize;
    let part = rest.get(4..4 + len)?;
    *b = &rest[4 + len..];
    Some(Some(part))
}

impl StreamRecord {
    /// Stored form (the sequence number is in the key).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.size as usize);
        out.extend_from_slice(&self.at_ms.to_be_bytes());
        out.push(match self.event {
            Event::Insert => 0,
            Event::Modify => 1,
            Event::Remove => 2,
        });
        out.push(u8::from(self.by_service));
        out.extend_from_slice(&self.size.to_be_bytes());
        put_part(&mut out, Some(self.event_id.as_bytes()));
        put_part(&mut out, Some(&self.keys));
        put_part(&mut out, self.new.as_deref());
        put_part(&mut out, self.old.as_deref());
        out
    }

    pub fn decode(seq: u128, b: &[u8]) -> Option<StreamRecord> {
        let at_ms = i64::from_be_bytes(b.get(..8)?.try_into().ok()?);
        let event = match b.get(8)? {
            0 => Event::Insert,
            1 => Event::Modify,
            _ => Event::Remove,
        };
        let by_service = *b.get(9)? != 0;
        let size = u64::from_be_bytes(b.get(10..18)?.try_into().ok()?);
        let mut rest = b.get(18..)?;
        let event_id = String::from_utf8(take_part(&mut rest)??.to_vec()).ok()?;
        let keys = take_part(&mut rest)??.into();
        let new = take_part(&mut rest)?.map(Box::from);
        let old = take_part(&mut rest)?.map(Box::from);
        Some(StreamRecord {
            seq,
            at_ms,
            event,
            event_id,
            keys,
            new,
            old,
            size,
            by_service,
        })
    }
}

/// A stream label as AWS writes it: the creation time in ISO 8601 with milliseconds.
pub fn label_for(ms: i64) -> String {
    let iso = Timestamp::from_millis(ms).to_iso8601();
    let iso = iso.trim_end_matches('Z');
    if iso.contains('.') {
        iso.to_owned()
    } else {
        format!("{iso}.000")
    }
}

impl StreamLog {
    pub fn new(table_arn: &str, view: &str, label: String, now_ms: i64) -> StreamLog {
        // Start above every sequence number an earlier run could have issued.
        let first = SEQ_BASE + (now_ms.max(0) as u128) * 100_000;
        StreamLog {
            arn: format!("{table_arn}/stream/{label}"),
            shard_id: format!(
                "shardId-{:020}-{}",
                now_ms.max(0),
                nephos_core::random_alnum(8, b"0123456789abcdef")
            ),
            label,
            view: view.to_owned(),
            created_ms: now_ms,
            first_seq: first,
            next_seq: first,
            horizon: first,
            closed_ms: None,
            records: VecDeque::new(),
            stored_from: first,
        }
    }

    pub fn to_meta(&self) -> StreamMeta {
        StreamMeta {
            arn: self.arn.clone(),
            label: self.label.clone(),
            view: self.view.clone(),
            created_ms: self.created_ms,
            shard_id: self.shard_id.clone(),
            first_seq: self.first_seq.to_string(),
            horizon: self.horizon.to_string(),
            closed_ms: self.closed_ms,
        }
    }

    /// A stream as stored; its records are added with [`StreamLog::restore_record`] and
    /// the counters settled by [`StreamLog::finish_restore`].
    pub fn from_meta(m: StreamMeta) -> Option<StreamLog> {
        let first: u128 = m.first_seq.parse().ok()?;
        let horizon: u128 = m.horizon.parse().ok()?;
        Some(StreamLog {
            arn: m.arn,
            label: m.label,
            view: m.view,
            created_ms: m.created_ms,
            shard_id: m.shard_id,
            first_seq: first,
            next_seq: horizon.max(first),
            horizon: horizon.max(first),
            closed_ms: m.closed_ms,
            records: VecDeque::new(),
            stored_from: horizon.max(first),
        })
    }

    pub fn restore_record(&mut self, r: StreamRecord) {
        self.stored_from = self.stored_from.min(r.seq);
        self.next_seq = self.next_seq.max(r.seq + 1);
        self.records.push_back(r);
    }

    /// After loading: records arrive in sequence order; expired ones are dropped.
    pub fn finish_restore(&mut self, now_ms: i64) {
        if let Some(r) = self.records.front() {
            self.horizon = self.horizon.min(r.seq);
        }
        self.trim(now_ms);
    }

    pub fn meta_mutation(&self, table_id: &str) -> Option<Mutation> {
        let bytes = serde_json::to_vec(&self.to_meta()).ok()?;
        Some(Mutation::put(
            STREAMS,
            meta_key(table_id, &self.shard_id),
            bytes,
        ))
    }

    /// Deletes from storage what trimming dropped from memory; returns the writes.
    pub fn flush_trim(&mut self, table_id: &str) -> Vec<Mutation> {
        let mut out = Vec::new();
        if self.stored_from >= self.horizon {
            return out;
        }
        for seq in self.stored_from..self.horizon {
            out.push(Mutation::delete(
                STREAM_RECORDS,
                record_key(table_id, &self.shard_id, seq),
            ));
        }
        self.stored_from = self.horizon;
        out.extend(self.meta_mutation(table_id));
        out
    }

    /// Every storage key of this stream, to delete it.
    pub fn deletions(&self, table_id: &str) -> Vec<Mutation> {
        let mut out = vec![Mutation::delete(
            STREAMS,
            meta_key(table_id, &self.shard_id),
        )];
        for seq in self.stored_from..self.next_seq {
            out.push(Mutation::delete(
                STREAM_RECORDS,
                record_key(table_id, &self.shard_id, seq),
            ));
        }
        out
    }

    /// Drops records older than the retention period.
    pub fn trim(&mut self, now_ms: i64) {
        while let Some(r) = self.records.front() {
            if r.at_ms >= now_ms - RETENTION_MS {
                break;
            }
            self.horizon = r.seq + 1;
            self.records.pop_front();
        }
    }

    /// The ending sequence number of a closed shard.
    pub fn ending_seq(&self) -> Option<u128> {
        self.closed_ms.map(|_| self.next_seq.saturating_sub(1))
    }

    /// Index of the first record at or after `seq`.
    pub fn position(&self, seq: u128) -> usize {
        self.records.partition_point(|r| r.seq < seq)
    }
}

impl Table {
    /// The stream that receives changes now, if streams are enabled.
    /// Whether changes are being recorded on a stream.
    pub fn streaming(&self) -> bool {
        self.streams.last().is_some_and(|s| s.closed_ms.is_none())
    }

    pub fn live_stream(&mut self) -> Option<&mut StreamLog> {
        self.streams.last_mut().filter(|s| s.closed_ms.is_none())
    }

    /// Records an item-level change on the table's stream (nothing when the item did not
    /// change, as AWS writes no record for a write that changes no data).
    pub fn changed(
        &mut self,
        now_ms: i64,
        old: Option<&Item>,
        new: Option<&Item>,
        by_service: bool,
    ) {
        if self.streams.last().is_none_or(|s| s.closed_ms.is_some()) {
            return;
        }
        let event = match (old, new) {
            (None, Some(_)) => Event::Insert,
            (Some(o), Some(n)) if o != n => Event::Modify,
            (Some(_), None) => Event::Remove,
            _ => return,
        };
        let Some(any) = new.or(old) else { return };
        let keys = self.key_attrs(any, None);
        let Some(s) = self.live_stream() else { return };
        let (with_new, with_old) = match s.view.as_str() {
            "NEW_IMAGE" => (true, false),
            "OLD_IMAGE" => (false, true),
            "NEW_AND_OLD_IMAGES" => (true, true),
            _ => (false, false),
        };
        let new = new.filter(|_| with_new);
        let old = old.filter(|_| with_old);
        let size = item_size(&keys) + new.map_or(0, item_size) + old.map_or(0, item_size);
        let seq = s.next_seq;
        s.next_seq += 1;
        s.trim(now_ms);
        let rec = StreamRecord {
            seq,
            at_ms: now_ms,
            event,
            event_id: nephos_core::random_alnum(32, b"0123456789abcdef"),
            keys: encode_item(&keys).into_boxed_slice(),
            new: new.map(|i| encode_item(i).into_boxed_slice()),
            old: old.map(|i| encode_item(i).into_boxed_slice()),
            size: size as u64,
            by_service,
        };
        if journaling() {
            let id = self.meta.id.clone();
            let Some(s) = self.live_stream() else { return };
            let mut writes = s.flush_trim(&id);
            writes.push(Mutation::put(
                STREAM_RECORDS,
                record_key(&id, &s.shard_id, seq),
                rec.encode(),
            ));
            s.records.push_back(rec);
            self.journal.extend(writes);
        } else {
            s.records.push_back(rec);
        }
    }

    /// Closes the live stream (StreamEnabled false), persisting its end.
    pub fn close_stream(&mut self, now_ms: i64) {
        let id = self.meta.id.clone();
        if let Some(s) = self.live_stream() {
            s.closed_ms = Some(now_ms);
            let m = s.meta_mutation(&id);
            if journaling() {
                self.journal.extend(m);
            }
        }
    }

    /// Adds a new live stream, and forgets streams no longer listed (closed over 24 h).
    pub fn push_stream(&mut self, log: StreamLog) {
        let now = log.created_ms;
        let id = self.meta.id.clone();
        let mut writes = Vec::new();
        self.streams.retain(|s| {
            let keep = s.closed_ms.is_none_or(|c| c + RETENTION_MS > now);
            if !keep {
                writes.extend(s.deletions(&id));
            }
            keep
        });
        writes.extend(log.meta_mutation(&id));
        self.streams.push(log);
        if journaling() {
            self.journal.extend(writes);
        }
    }

    /// Deletions of everything stored beside the items: streams, records, history.
    pub fn side_deletions(&self) -> Vec<Mutation> {
        let id = &self.meta.id;
        let mut out: Vec<Mutation> = self.streams.iter().flat_map(|s| s.deletions(id)).collect();
        if let Some(p) = &self.pitr {
            out.extend(
                p.log.iter().map(|u| {
                    Mutation::delete(crate::state::PITR, crate::pitr::record_key(id, u.id))
                }),
            );
        }
        out.extend(
            self.outbox.iter().map(|(n, _)| {
                Mutation::delete(crate::state::OUTBOX, crate::pitr::record_key(id, *n))
            }),
        );
        out
    }
}
