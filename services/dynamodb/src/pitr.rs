//! Point-in-time recovery history as an undo log: for every change since recovery was
//! enabled, the item as it was before. The table as of any moment is today's items with
//! the later changes undone, so no copy of the table is ever kept, and the log persists
//! entry by entry next to the item write it belongs to (`dynamodb.pitr`, keyed by table
//! id then a per-table counter), so history survives a crash.

use crate::table::ByteMap;
use nephos_core::Clock;
use std::collections::VecDeque;
use std::sync::Arc;

/// How long AWS keeps point-in-time history.
pub const PITR_RETENTION_MS: i64 = 35 * 24 * 3600 * 1000;

/// One change: when, which table key, and the encoded item before it (None: absent).
pub struct Undo {
    pub id: u64,
    pub at_ms: i64,
    pub key: Box<[u8]>,
    pub old: Option<Box<[u8]>>,
}

pub struct Pitr {
    pub clock: Arc<Clock>,
    /// When recovery was enabled (epoch ms).
    pub since_ms: i64,
    /// Changes in the order they happened.
    pub log: VecDeque<Undo>,
    /// The id the next entry gets (ids only grow, also across restarts).
    pub next_id: u64,
}

impl Pitr {
    pub fn new(clock: Arc<Clock>, since_ms: i64) -> Pitr {
        Pitr {
            clock,
            since_ms,
            log: VecDeque::new(),
            next_id: 0,
        }
    }

    /// The earliest moment a restore may target.
    pub fn earliest(&self, now_ms: i64) -> i64 {
        self.since_ms.max(now_ms - PITR_RETENTION_MS)
    }

    /// Appends a change and returns its entry (for persisting).
    pub fn record(&mut self, at_ms: i64, key: &[u8], old: Option<Box<[u8]>>) -> &Undo {
        let id = self.next_id;
        self.next_id += 1;
        self.log.push_back(Undo {
            id,
            at_ms,
            key: key.into(),
            old,
        });
        self.log.back().expect("just pushed")
    }

    /// Forgets history older than the retention window; returns the dropped ids.
    pub fn trim(&mut self, now_ms: i64) -> Vec<u64> {
        let cutoff = now_ms - PITR_RETENTION_MS;
        let mut dropped = Vec::new();
        while self.log.front().is_some_and(|u| u.at_ms <= cutoff) {
            if let Some(u) = self.log.pop_front() {
                dropped.push(u.id);
            }
        }
        dropped
    }

    /// The items as of `at_ms`, given the current items.
    pub fn at(&self, current: &ByteMap, at_ms: i64) -> ByteMap {
        let mut m = current.clone();
        for u in self.log.iter().rev() {
            if u.at_ms <= at_ms {
                break;
            }
            match &u.old {
                Some(v) => {
                    m.insert(u.key.clone(), v.clone());
                }
                None => {
                    m.remove(&u.key);
                }
            }
        }
        m
    }
}

/// Storage key of an undo entry: the table id then the id, big-endian (log order).
pub fn record_key(table_id: &str, id: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(table_id.len() + 8);
    k.extend_from_slice(table_id.as_bytes());
    k.extend_from_slice(&id.to_be_bytes());
    k
}

/// Stored form of an entry: time, key length, key, then the old item if any.
pub fn encode(u: &Undo) -> Vec<u8> {
    let old_len = u.old.as_ref().map_or(0, |o| o.len());
    let mut out = Vec::with_capacity(13 + u.key.len() + old_len);
    out.extend_from_slice(&u.at_ms.to_be_bytes());
    out.extend_from_slice(&(u.key.len() as u32).to_be_bytes());
    out.extend_from_slice(&u.key);
    match &u.old {
        Some(o) => {
            out.push(1);
            out.extend_from_slice(o);
        }
        None => out.push(0),
    }
    out
}

pub fn decode(id: u64, b: &[u8]) -> Option<Undo> {
    let at_ms = i64::from_be_bytes(b.get(..8)?.try_into().ok()?);
    let klen = u32::from_be_bytes(b.get(8..12)?.try_into().ok()?) as usize;
    let key = b.get(12..12 + klen)?;
    let old = match b.get(12 + klen)? {
        0 => None,
        _ => Some(b.get(13 + klen..)?.into()),
    };
    Some(Undo {
        id,
        at_ms,
        key: key.into(),
        old,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bm(pairs: &[(&[u8], &[u8])]) -> ByteMap {
        pairs
            .iter()
            .map(|(k, v)| (Box::from(*k), Box::from(*v)))
            .collect()
    }

    #[test]
    fn undo_rebuilds_the_past() {
        let mut p = Pitr::new(Arc::new(Clock::new()), 0);
        // t=10: put a=1 (was absent); t=20: a=2; t=30: delete a; t=40: put b=1.
        p.record(10, b"a", None);
        p.record(20, b"a", Some(b"1".as_slice().into()));
        p.record(30, b"a", Some(b"2".as_slice().into()));
        p.record(40, b"b", None);
        let now = bm(&[(b"b", b"1")]);
        assert_eq!(p.at(&now, 5), bm(&[]));
        assert_eq!(p.at(&now, 15), bm(&[(b"a", b"1")]));
        assert_eq!(p.at(&now, 25), bm(&[(b"a", b"2")]));
        assert_eq!(p.at(&now, 35), bm(&[]));
        assert_eq!(p.at(&now, 45), now);
    }

    #[test]
    fn entries_round_trip() {
        let u = Undo {
            id: 7,
            at_ms: 123,
            key: b"k\0".as_slice().into(),
            old: Some(b"old".as_slice().into()),
        };
        let d = decode(7, &encode(&u)).unwrap();
        assert_eq!(
            (d.at_ms, &*d.key, d.old.as_deref()),
            (123, &b"k\0"[..], Some(&b"old"[..]))
        );
        let none = Undo { old: None, ..u };
        assert!(decode(7, &encode(&none)).unwrap().old.is_none());
        assert!(decode(7, b"short").is_none());
    }

    #[test]
    fn trim_drops_only_old_history() {
        let mut p = Pitr::new(Arc::new(Clock::new()), 0);
        p.record(1, b"a", None);
        p.record(PITR_RETENTION_MS + 5, b"a", None);
        assert_eq!(p.trim(PITR_RETENTION_MS + 2), vec![0]);
        assert_eq!(p.log.len(), 1);
    }
}
