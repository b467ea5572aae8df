//! DynamoDB Streams data: one log per stream a table has had (a single shard each), its
//! change records in sequence order, trimmed after 24 hours on the clock.
//!
//! Records live in memory only: a restart starts every enabled stream with a fresh shard
//! (a new shard is what a consumer sees after AWS rotates shards, so readers cope).

use crate::attr::{Item, encode_item, item_size};
use crate::table::Table;
use nephos_core::Timestamp;
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
        }
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
        s.records.push_back(StreamRecord {
            seq,
            at_ms: now_ms,
            event,
            event_id: nephos_core::random_alnum(32, b"0123456789abcdef"),
            keys: encode_item(&keys).into_boxed_slice(),
            new: new.map(|i| encode_item(i).into_boxed_slice()),
            old: old.map(|i| encode_item(i).into_boxed_slice()),
            size: size as u64,
            by_service,
        });
    }
}
