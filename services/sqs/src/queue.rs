//! One queue's messages and the state machine they move through: delayed, visible, in
//! flight, deleted or expired; FIFO group locking and deduplication. Pure logic on the
//! time it is given, so it is tested without a server.
//!
//! What must survive a restart besides the messages themselves is exposed as small records
//! ([`Receipt`], [`DedupRecord`], the sequence reservation) that the handlers commit with
//! the request that changed them; storage clean-up that no request asks for (expired
//! messages and deduplication entries) waits in [`Inner::pending`] for the next commit.

use crate::message::Attributes;
use nephos_storage::Mutation;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// Tables of the receive state, FIFO deduplication entries and sequence reservations
/// (messages and queue records live in `state`).
pub const RECEIPTS: &str = "sqs.receipts";
pub const DEDUP: &str = "sqs.dedup";
pub const SEQS: &str = "sqs.seqs";

/// FIFO deduplication and receive-attempt windows.
pub const DEDUP_WINDOW_MS: i64 = 5 * 60 * 1000;

/// What a queue is, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Meta {
    pub fifo: bool,
    /// Attributes the client set (normalized); defaults are not stored.
    pub attrs: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
    pub created_ms: i64,
    pub modified_ms: i64,
}

impl Meta {
    pub fn int(&self, name: &str) -> i64 {
        self.attrs
            .get(name)
            .and_then(|v| v.parse().ok())
            .or_else(|| {
                crate::attributes::default(name, self.fifo, &self.attrs)?
                    .parse()
                    .ok()
            })
            .unwrap_or(0)
    }
    pub fn flag(&self, name: &str) -> bool {
        self.attrs.get(name).is_some_and(|v| v == "true")
    }

    /// Whether deduplication ids are scoped to their message group.
    pub fn dedup_per_group(&self) -> bool {
        self.attrs.get("DeduplicationScope").map(String::as_str) == Some("messageGroup")
    }
}

/// AWS applies some attribute changes only after they have propagated (up to 60 s).
pub const ATTRIBUTE_PROPAGATION_MS: i64 = 60_000;

/// A message as stored: everything that survives a restart.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Stored {
    pub id: String,
    pub body: String,
    #[serde(default, skip_serializing_if = "Attributes::is_empty")]
    pub attrs: Attributes,
    #[serde(default, skip_serializing_if = "Attributes::is_empty")]
    pub sys: Attributes,
    pub sent_ms: i64,
    pub sender: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dedup_id: Option<String>,
    #[serde(default)]
    pub delay_until: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dlq_source: Option<String>,
    /// MD5 of the body, computed once (every receive reports it); not stored.
    #[serde(skip)]
    pub md5: [u8; 16],
}

/// The receive state of a message that has been received: stored apart from the message
/// so a receive rewrites a few bytes, not the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub count: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first: Option<i64>,
    /// In flight until then (clock milliseconds).
    pub until: i64,
    /// Keeps receipt handles issued before a restart valid.
    pub nonce: u64,
}

/// A FIFO deduplication entry as stored: the message a duplicate is answered with.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DedupRecord {
    pub id: String,
    pub seq: u64,
}

/// Sequence numbers are reserved in blocks: a restart continues above the reservation, so
/// FIFO sequence numbers keep growing without a write per message.
pub const SEQ_BLOCK: u64 = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Delayed,
    Visible,
    InFlight,
}

#[derive(Debug)]
pub struct Msg {
    pub data: Stored,
    state: State,
    visible_at: i64,
    pub receive_count: u32,
    pub first_receive_ms: Option<i64>,
    /// Changes on every receive; part of the receipt handle.
    pub nonce: u64,
}

/// What happened to a receipt handle's message.
#[derive(Debug, PartialEq, Eq)]
pub enum Handle {
    /// Acted on.
    Done,
    /// The message is gone (deleted, expired, moved): nothing to do.
    Gone,
    /// The message was received again since: the handle is out of date.
    Stale,
    /// The message is not in flight (ChangeMessageVisibility).
    NotInFlight,
}

struct Attempt {
    expires_ms: i64,
    handles: Vec<(u64, u64)>,
}

/// A message leaving for the dead-letter queue.
pub struct Moved {
    pub seq: u64,
    pub data: Stored,
    /// Receives so far: a dead-lettered message keeps counting in its new queue.
    pub receipt: Option<Receipt>,
}

#[derive(Default)]
pub struct Inner {
    pub meta: Option<Meta>,
    pub msgs: BTreeMap<u64, Msg>,
    ready: BTreeSet<u64>,
    timed: BTreeSet<(i64, u64)>,
    delayed: usize,
    in_flight: usize,
    /// FIFO: each message group's messages, in order.
    groups: HashMap<String, BTreeSet<u64>>,
    /// FIFO: the groups whose first message is visible, in the order they became so
    /// (AWS serves groups in that order, not by their messages' age).
    available: BTreeSet<(u64, String)>,
    /// FIFO: the stamp of each group in `available`.
    group_stamp: HashMap<String, u64>,
    next_stamp: u64,
    dedup: HashMap<String, (i64, String, u64)>,
    dedup_order: VecDeque<(i64, String)>,
    attempts: HashMap<String, Attempt>,
    next_seq: u64,
    /// Sequence numbers below this one are reserved in storage.
    reserved_seq: u64,
    /// Whether storage is durable: only then are clean-up mutations collected.
    durable: bool,
    /// Storage clean-up to fold into the next commit of this queue.
    pub pending: Vec<Mutation>,
    /// [`Queue::key`], for the clean-up mutations.
    queue_key: String,
    /// Until when another PurgeQueue is refused.
    pub purge_until: i64,
    /// Set when the queue is deleted, so waiting receivers give up.
    pub deleted: bool,
    /// A changed deduplication scope: the scope before, in force until then.
    pub dedup_scope_change: Option<(bool, i64)>,
}

pub struct Queue {
    pub name: String,
    pub account: String,
    pub region: String,
    pub arn: String,
    pub fifo: bool,
    pub inner: Mutex<Inner>,
    /// Woken when messages may have become receivable.
    pub notify: Notify,
    /// The `Policy` attribute parsed, with the text it was parsed from: services that
    /// deliver (SNS fan-out) are checked against it on every message.
    pub parsed_policy: nephos_policy::PolicyCache,
}

impl Queue {
    pub fn new(
        account: &str,
        region: &str,
        name: &str,
        meta: Meta,
        now_ms: i64,
        durable: bool,
    ) -> Queue {
        let floor = fifo_seq_floor(now_ms);
        let inner = Inner {
            next_seq: floor,
            reserved_seq: floor,
            durable,
            ..Default::default()
        };
        Queue {
            name: name.to_owned(),
            account: account.to_owned(),
            region: region.to_owned(),
            arn: crate::names::queue_arn(region, account, name),
            fifo: meta.fifo,
            inner: Mutex::new(Inner {
                meta: Some(meta),
                queue_key: format!("{account}\t{region}\t{name}"),
                ..inner
            }),
            notify: Notify::new(),
            parsed_policy: nephos_policy::PolicyCache::default(),
        }
    }

    /// The queue's policy parsed, reparsed only when its text has changed.
    pub fn policy(&self, text: &str) -> Option<Arc<nephos_policy::Policy>> {
        self.parsed_policy.get(text)
    }

    /// The storage key prefix of this queue.
    pub fn key(&self) -> String {
        format!("{}\t{}\t{}", self.account, self.region, self.name)
    }

    pub fn msg_key(&self, seq: u64) -> Vec<u8> {
        msg_key(&self.key(), seq)
    }

    /// The storage key of a deduplication entry: its expiry is part of the key, so the
    /// clean-up of an expired entry can never delete a newer entry for the same id.
    pub fn dedup_key(&self, expires_ms: i64, dedup: &str) -> Vec<u8> {
        dedup_storage_key(&self.key(), expires_ms, dedup)
    }
}

fn msg_key(queue_key: &str, seq: u64) -> Vec<u8> {
    format!("{queue_key}\t{seq:020}").into_bytes()
}

fn dedup_storage_key(queue_key: &str, expires_ms: i64, dedup: &str) -> Vec<u8> {
    format!("{queue_key}\t{expires_ms:020}\t{dedup}").into_bytes()
}

/// Sequence numbers start from the clock so they keep growing across restarts.
fn fifo_seq_floor(now_ms: i64) -> u64 {
    (now_ms.max(0) as u64) * 1000
}

impl Inner {
    pub fn meta(&self) -> &Meta {
        self.meta.as_ref().expect("queue meta is set at creation")
    }

    pub fn meta_mut(&mut self) -> &mut Meta {
        self.meta.as_mut().expect("queue meta is set at creation")
    }

    /// The deduplication scope in force: a change takes effect once it has propagated.
    pub fn dedup_per_group_at(&self, now: i64) -> bool {
        match self.dedup_scope_change {
            Some((before, until)) if now < until => before,
            _ => self.meta().dedup_per_group(),
        }
    }

    /// Expires messages past retention and makes due ones visible.
    pub fn maintain(&mut self, now: i64) {
        let retention = self.meta().int("MessageRetentionPeriod") * 1000;
        while let Some((&seq, m)) = self.msgs.first_key_value() {
            if m.data.sent_ms + retention > now {
                break;
            }
            let received = m.receive_count > 0;
            self.remove(seq);
            if self.durable {
                let key = msg_key(&self.queue_key, seq);
                if received {
                    self.pending.push(Mutation::delete(RECEIPTS, key.clone()));
                }
                self.pending
                    .push(Mutation::delete(crate::state::MESSAGES, key));
            }
        }
        while let Some(&(at, seq)) = self.timed.first() {
            if at > now {
                break;
            }
            self.timed.pop_first();
            if let Some(m) = self.msgs.get_mut(&seq) {
                match m.state {
                    State::Delayed => self.delayed -= 1,
                    State::InFlight => self.in_flight -= 1,
                    State::Visible => {}
                }
                m.state = State::Visible;
                self.ready.insert(seq);
                self.refresh_group_of(seq);
            }
        }
    }

    /// When the next delayed or in-flight message becomes visible.
    pub fn next_due(&self) -> Option<i64> {
        self.timed.first().map(|(at, _)| *at)
    }

    /// Removes a message from every index.
    pub fn remove(&mut self, seq: u64) -> Option<Stored> {
        let m = self.msgs.remove(&seq)?;
        if self.fifo() {
            let g = group_key(&m.data);
            if let Some(set) = self.groups.get_mut(g) {
                set.remove(&seq);
            }
            self.refresh_group(g);
        }
        match m.state {
            State::Visible => {
                self.ready.remove(&seq);
            }
            State::Delayed => {
                self.delayed -= 1;
                self.timed.remove(&(m.visible_at, seq));
            }
            State::InFlight => {
                self.in_flight -= 1;
                self.timed.remove(&(m.visible_at, seq));
            }
        }
        Some(m.data)
    }

    fn fifo(&self) -> bool {
        self.meta.as_ref().is_some_and(|m| m.fifo)
    }

    fn refresh_group_of(&mut self, seq: u64) {
        if self.fifo()
            && let Some(m) = self.msgs.get(&seq)
        {
            let g = group_key(&m.data).to_owned();
            self.refresh_group(&g);
        }
    }

    /// Re-evaluates whether a FIFO group can be served: only while its first message is
    /// visible. A group that becomes servable goes to the back of the line.
    fn refresh_group(&mut self, g: &str) {
        let head = self.groups.get(g).and_then(|s| s.first().copied());
        let servable = head
            .and_then(|seq| self.msgs.get(&seq))
            .is_some_and(|m| m.state == State::Visible);
        match (servable, self.group_stamp.get(g).copied()) {
            (true, None) => {
                self.next_stamp += 1;
                self.group_stamp.insert(g.to_owned(), self.next_stamp);
                self.available.insert((self.next_stamp, g.to_owned()));
            }
            (false, Some(stamp)) => {
                self.group_stamp.remove(g);
                self.available.remove(&(stamp, g.to_owned()));
            }
            _ => {}
        }
        if head.is_none() {
            self.groups.remove(g);
        }
    }

    /// A FIFO duplicate of a message sent in the last five minutes: its id and sequence.
    pub fn duplicate(&mut self, key: &str, now: i64) -> Option<(String, u64)> {
        while let Some((exp, k)) = self.dedup_order.front() {
            if *exp > now {
                break;
            }
            if self.dedup.get(k).is_some_and(|(e, _, _)| e == exp) {
                self.dedup.remove(k);
            }
            if self.durable {
                let key = dedup_storage_key(&self.queue_key, *exp, k);
                self.pending.push(Mutation::delete(DEDUP, key));
            }
            self.dedup_order.pop_front();
        }
        self.dedup.get(key).map(|(_, id, seq)| (id.clone(), *seq))
    }

    /// Remembers a deduplication id for five minutes; returns when it expires.
    pub fn remember_dedup(&mut self, key: String, id: String, seq: u64, now: i64) -> i64 {
        let exp = now + DEDUP_WINDOW_MS;
        self.restore_dedup(key, id, seq, exp);
        exp
    }

    /// Reloads a stored deduplication entry (entries arrive in expiry order per queue).
    pub fn restore_dedup(&mut self, key: String, id: String, seq: u64, exp: i64) {
        self.dedup_order.push_back((exp, key.clone()));
        self.dedup.insert(key, (exp, id, seq));
    }

    /// Every stored deduplication entry's key (queue deletion).
    pub fn dedup_keys(&self) -> Vec<Vec<u8>> {
        self.dedup_order
            .iter()
            .map(|(exp, k)| dedup_storage_key(&self.queue_key, *exp, k))
            .collect()
    }

    /// Forgets every deduplication entry (PurgeQueue); returns their storage keys.
    pub fn clear_dedup(&mut self) -> Vec<Vec<u8>> {
        let keys = self.dedup_keys();
        self.dedup.clear();
        self.dedup_order.clear();
        keys
    }

    pub fn next_seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    /// A new sequence reservation to store when the current one runs low. Reserving half a
    /// block ahead keeps concurrent senders, whose commits may land in any order, inside
    /// a reservation that is already stored.
    pub fn reserve_seq(&mut self) -> Option<Mutation> {
        if !self.durable || self.next_seq + SEQ_BLOCK / 2 < self.reserved_seq {
            return None;
        }
        self.reserved_seq = self.next_seq + SEQ_BLOCK;
        Some(Mutation::put(
            SEQS,
            self.queue_key.clone().into_bytes(),
            self.reserved_seq.to_string().into_bytes(),
        ))
    }

    /// Continues above a reservation stored before a restart.
    pub fn restore_reservation(&mut self, reserved: u64) {
        self.next_seq = self.next_seq.max(reserved);
        self.reserved_seq = self.next_seq;
    }

    /// The receive state of a received message, to store.
    pub fn receipt(&self, seq: u64) -> Option<Receipt> {
        let m = self.msgs.get(&seq)?;
        Some(Receipt {
            count: m.receive_count,
            first: m.first_receive_ms,
            until: if m.state == State::InFlight {
                m.visible_at
            } else {
                0
            },
            nonce: m.nonce,
        })
    }

    /// The mutation storing a received message's receive state.
    pub fn receipt_mutation(&self, seq: u64) -> Option<Mutation> {
        let r = self.receipt(seq)?;
        Some(Mutation::put(
            RECEIPTS,
            msg_key(&self.queue_key, seq),
            serde_json::to_vec(&r).unwrap_or_default(),
        ))
    }

    /// Reapplies a stored receive state after a restart: a message still in flight stays
    /// invisible (its FIFO group locked) until its visibility timeout.
    pub fn restore_receipt(&mut self, seq: u64, r: Receipt, now: i64) {
        let Some(m) = self.msgs.get_mut(&seq) else {
            return;
        };
        m.receive_count = r.count;
        m.first_receive_ms = r.first;
        m.nonce = r.nonce;
        if r.until <= now || m.state != State::Visible {
            return;
        }
        self.ready.remove(&seq);
        m.state = State::InFlight;
        m.visible_at = r.until;
        self.timed.insert((r.until, seq));
        self.in_flight += 1;
        self.refresh_group_of(seq);
    }

    /// Adds a message (new, moved in, or reloaded) under `seq`.
    pub fn insert(&mut self, seq: u64, mut data: Stored, now: i64) {
        self.next_seq = self.next_seq.max(seq);
        if data.md5 == [0; 16] {
            data.md5 = crate::message::md5(data.body.as_bytes());
        }
        let delayed = data.delay_until > now;
        let visible_at = if delayed { data.delay_until } else { now };
        let group = self.fifo().then(|| group_key(&data).to_owned());
        if delayed {
            self.delayed += 1;
            self.timed.insert((visible_at, seq));
        } else {
            self.ready.insert(seq);
        }
        self.msgs.insert(
            seq,
            Msg {
                data,
                state: if delayed {
                    State::Delayed
                } else {
                    State::Visible
                },
                visible_at,
                receive_count: 0,
                first_receive_ms: None,
                nonce: 0,
            },
        );
        if let Some(g) = group {
            self.groups.entry(g.clone()).or_default().insert(seq);
            self.refresh_group(&g);
        }
    }

    /// Receives up to `max` messages, making them invisible for `vt_ms`. Messages that
    /// would exceed `max_receives` are taken out for the dead-letter queue instead.
    pub fn receive(
        &mut self,
        now: i64,
        max: usize,
        vt_ms: i64,
        max_receives: Option<u32>,
        moved: &mut Vec<Moved>,
    ) -> Vec<u64> {
        if self.fifo() {
            return self.receive_fifo(now, max, vt_ms, max_receives, moved);
        }
        let mut out = Vec::new();
        while out.len() < max {
            let Some(seq) = self.ready.first().copied() else {
                break;
            };
            if self.take(seq, now, vt_ms, max_receives, moved) {
                out.push(seq);
            }
        }
        out
    }

    /// FIFO receives serve groups in the order they became servable, each from its first
    /// message on while its messages are visible: a message in flight holds back the
    /// ones after it in its group.
    fn receive_fifo(
        &mut self,
        now: i64,
        max: usize,
        vt_ms: i64,
        max_receives: Option<u32>,
        moved: &mut Vec<Moved>,
    ) -> Vec<u64> {
        let mut out = Vec::new();
        let line: Vec<String> = self.available.iter().map(|(_, g)| g.clone()).collect();
        for g in line {
            if out.len() >= max {
                break;
            }
            let seqs: Vec<u64> = self
                .groups
                .get(&g)
                .map(|s| s.iter().copied().collect())
                .unwrap_or_default();
            for seq in seqs {
                if out.len() >= max
                    || self
                        .msgs
                        .get(&seq)
                        .is_none_or(|m| m.state != State::Visible)
                {
                    break;
                }
                if self.take(seq, now, vt_ms, max_receives, moved) {
                    out.push(seq);
                }
            }
            self.refresh_group(&g);
        }
        out
    }

    /// Receives one visible message (true), or takes it out for the dead-letter queue
    /// when it has been received `max_receives` times already.
    fn take(
        &mut self,
        seq: u64,
        now: i64,
        vt_ms: i64,
        max_receives: Option<u32>,
        moved: &mut Vec<Moved>,
    ) -> bool {
        let Some(m) = self.msgs.get(&seq) else {
            self.ready.remove(&seq);
            return false;
        };
        if let Some(limit) = max_receives
            && m.receive_count >= limit
        {
            let receipt = self.receipt(seq);
            if let Some(data) = self.remove(seq) {
                moved.push(Moved { seq, data, receipt });
            }
            return false;
        }
        self.ready.remove(&seq);
        let Some(m) = self.msgs.get_mut(&seq) else {
            return false;
        };
        m.state = State::InFlight;
        m.visible_at = now + vt_ms;
        m.receive_count += 1;
        m.first_receive_ms.get_or_insert(now);
        m.nonce = rand::random();
        self.timed.insert((m.visible_at, seq));
        self.in_flight += 1;
        true
    }

    /// The messages an earlier FIFO receive with the same attempt id returned, if they are
    /// all still in flight under the same handles.
    pub fn retry_attempt(&mut self, id: &str, now: i64) -> Option<Vec<u64>> {
        self.attempts.retain(|_, a| a.expires_ms > now);
        let a = self.attempts.get(id)?;
        let intact = a.handles.iter().all(|(seq, nonce)| {
            self.msgs
                .get(seq)
                .is_some_and(|m| m.state == State::InFlight && m.nonce == *nonce)
        });
        intact.then(|| a.handles.iter().map(|(s, _)| *s).collect())
    }

    pub fn record_attempt(&mut self, id: String, seqs: &[u64], now: i64) {
        let handles = seqs
            .iter()
            .filter_map(|s| self.msgs.get(s).map(|m| (*s, m.nonce)))
            .collect();
        self.attempts.insert(
            id,
            Attempt {
                expires_ms: now + DEDUP_WINDOW_MS,
                handles,
            },
        );
    }

    /// Deletes by receipt handle. A FIFO handle expires with its visibility timeout; a
    /// standard queue's earlier handles still delete after the message was received again
    /// (AWS deletes with them: LocalStack's recorded SNS filter-policy tests rely on it).
    pub fn delete(&mut self, seq: u64, nonce: u64) -> Handle {
        let fifo = self.fifo();
        match self.msgs.get(&seq) {
            None => Handle::Gone,
            Some(m) if fifo && m.nonce != nonce => Handle::Stale,
            Some(m) if fifo && m.state != State::InFlight => Handle::NotInFlight,
            Some(_) => {
                self.remove(seq);
                Handle::Done
            }
        }
    }

    pub fn change_visibility(&mut self, seq: u64, nonce: u64, vt_ms: i64, now: i64) -> Handle {
        let Some(m) = self.msgs.get_mut(&seq) else {
            return Handle::Gone;
        };
        // Standard queues keep a message's earlier handles good for visibility changes.
        if m.nonce != nonce && self.meta.as_ref().is_some_and(|m| m.fifo) {
            return Handle::Stale;
        }
        if m.state != State::InFlight {
            return Handle::NotInFlight;
        }
        self.timed.remove(&(m.visible_at, seq));
        m.visible_at = now + vt_ms;
        self.timed.insert((m.visible_at, seq));
        Handle::Done
    }

    /// Removes every message; returns their sequence numbers.
    pub fn purge(&mut self) -> Vec<u64> {
        let seqs: Vec<u64> = self.msgs.keys().copied().collect();
        self.msgs.clear();
        self.ready.clear();
        self.timed.clear();
        self.delayed = 0;
        self.in_flight = 0;
        self.groups.clear();
        self.available.clear();
        self.group_stamp.clear();
        seqs
    }

    /// (visible, in flight, delayed).
    pub fn counts(&self) -> (usize, usize, usize) {
        (
            self.msgs.len() - self.in_flight - self.delayed,
            self.in_flight,
            self.delayed,
        )
    }

    /// Sequence numbers of visible messages, oldest first (message move tasks).
    pub fn visible(&self, limit: usize) -> Vec<u64> {
        self.ready.iter().take(limit).copied().collect()
    }
}

/// The group a FIFO message belongs to (messages moved in without one form their own).
fn group_key(d: &Stored) -> &str {
    d.group.as_deref().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue(fifo: bool) -> Inner {
        Inner {
            meta: Some(Meta {
                fifo,
                attrs: BTreeMap::new(),
                tags: BTreeMap::new(),
                created_ms: 0,
                modified_ms: 0,
            }),
            ..Default::default()
        }
    }

    fn msg(body: &str, group: Option<&str>, delay_until: i64) -> Stored {
        Stored {
            id: body.into(),
            body: body.into(),
            attrs: Attributes::new(),
            sys: Attributes::new(),
            sent_ms: 0,
            sender: "x".into(),
            group: group.map(str::to_owned),
            dedup_id: None,
            delay_until,
            dlq_source: None,
            md5: [0; 16],
        }
    }

    fn send(q: &mut Inner, body: &str, group: Option<&str>, delay_until: i64, now: i64) -> u64 {
        let seq = q.next_seq();
        q.insert(seq, msg(body, group, delay_until), now);
        seq
    }

    #[test]
    fn visibility_cycle() {
        let mut q = queue(false);
        let a = send(&mut q, "a", None, 0, 0);
        let mut moved = Vec::new();
        assert_eq!(q.receive(0, 10, 30_000, None, &mut moved), vec![a]);
        assert_eq!(q.counts(), (0, 1, 0));
        q.maintain(29_999);
        assert!(q.receive(29_999, 10, 30_000, None, &mut moved).is_empty());
        q.maintain(30_000);
        assert_eq!(q.counts(), (1, 0, 0));
        assert_eq!(q.receive(30_000, 10, 30_000, None, &mut moved), vec![a]);
        assert_eq!(q.msgs[&a].receive_count, 2);
        let nonce = q.msgs[&a].nonce;
        assert_eq!(q.delete(a, nonce.wrapping_add(1)), Handle::Done);
        assert_eq!(q.delete(a, nonce), Handle::Gone);
        assert_eq!(q.counts(), (0, 0, 0));
    }

    #[test]
    fn delays_and_retention() {
        let mut q = queue(false);
        send(&mut q, "a", None, 5_000, 0);
        assert_eq!(q.counts(), (0, 0, 1));
        assert_eq!(q.next_due(), Some(5_000));
        q.maintain(5_000);
        assert_eq!(q.counts(), (1, 0, 0));
        q.maintain(345_600_000);
        assert_eq!(q.counts(), (0, 0, 0));
    }

    #[test]
    fn fifo_groups_block_while_in_flight() {
        let mut q = queue(true);
        let a1 = send(&mut q, "a1", Some("a"), 0, 0);
        let a2 = send(&mut q, "a2", Some("a"), 0, 0);
        let b1 = send(&mut q, "b1", Some("b"), 0, 0);
        let mut moved = Vec::new();
        assert_eq!(q.receive(0, 1, 30_000, None, &mut moved), vec![a1]);
        // a2 waits for a1; b1 is free.
        assert_eq!(q.receive(0, 10, 30_000, None, &mut moved), vec![b1]);
        assert!(q.receive(0, 10, 30_000, None, &mut moved).is_empty());
        let n = q.msgs[&a1].nonce;
        q.delete(a1, n);
        assert_eq!(q.receive(0, 10, 30_000, None, &mut moved), vec![a2]);
    }

    #[test]
    fn fifo_batch_takes_a_group_in_order() {
        let mut q = queue(true);
        let a1 = send(&mut q, "a1", Some("a"), 0, 0);
        let a2 = send(&mut q, "a2", Some("a"), 0, 0);
        let mut moved = Vec::new();
        assert_eq!(q.receive(0, 10, 30_000, None, &mut moved), vec![a1, a2]);
        q.maintain(30_000);
        assert_eq!(
            q.receive(30_000, 10, 30_000, None, &mut moved),
            vec![a1, a2]
        );
    }

    #[test]
    fn redrive_moves_on_the_receive_that_exceeds() {
        let mut q = queue(false);
        let a = send(&mut q, "a", None, 0, 0);
        let mut moved = Vec::new();
        assert_eq!(q.receive(0, 10, 0, Some(2), &mut moved), vec![a]);
        q.maintain(0);
        assert_eq!(q.receive(0, 10, 0, Some(2), &mut moved), vec![a]);
        q.maintain(0);
        assert!(q.receive(0, 10, 0, Some(2), &mut moved).is_empty());
        assert_eq!(moved.len(), 1);
        assert_eq!(q.counts(), (0, 0, 0));
    }

    #[test]
    fn dedup_window() {
        let mut q = queue(true);
        q.remember_dedup("k".into(), "id".into(), 1, 0);
        assert!(q.duplicate("k", DEDUP_WINDOW_MS - 1).is_some());
        assert!(q.duplicate("k", DEDUP_WINDOW_MS).is_none());
    }

    #[test]
    fn change_visibility_rules() {
        let mut q = queue(false);
        let a = send(&mut q, "a", None, 0, 0);
        assert_eq!(q.change_visibility(a, 0, 10, 0), Handle::NotInFlight);
        let mut moved = Vec::new();
        q.receive(0, 1, 30_000, None, &mut moved);
        let n = q.msgs[&a].nonce;
        assert_eq!(q.change_visibility(a, n, 0, 1_000), Handle::Done);
        q.maintain(1_000);
        assert_eq!(q.counts(), (1, 0, 0));
    }

    #[test]
    fn receipts_restore_in_flight_state() {
        let mut q = queue(true);
        let a = send(&mut q, "a", Some("g"), 0, 0);
        let b = send(&mut q, "b", Some("g"), 0, 0);
        let mut moved = Vec::new();
        q.receive(0, 1, 30_000, None, &mut moved);
        let r = q.receipt(a).unwrap();
        assert_eq!((r.count, r.until), (1, 30_000));
        // A fresh queue with the same messages, as after a restart.
        let mut fresh = queue(true);
        fresh.insert(a, q.msgs[&a].data.clone(), 10_000);
        fresh.insert(b, q.msgs[&b].data.clone(), 10_000);
        fresh.restore_receipt(a, r, 10_000);
        assert_eq!(fresh.counts(), (1, 1, 0));
        // The group stays locked while `a` is in flight.
        assert!(
            fresh
                .receive(10_000, 10, 30_000, None, &mut moved)
                .is_empty()
        );
        fresh.maintain(30_000);
        assert_eq!(fresh.receive(30_000, 1, 30_000, None, &mut moved), vec![a]);
        assert_eq!(fresh.msgs[&a].receive_count, 2);
        // An old handle stays valid until the next receive.
        assert_eq!(fresh.delete(a, r.nonce), Handle::Stale);
    }

    #[test]
    fn sequence_reservations_cover_restarts() {
        let mut q = queue(false);
        q.durable = true;
        q.next_seq = 100;
        let m = q.reserve_seq().expect("first send reserves");
        assert_eq!(
            m.value.as_deref(),
            Some(format!("{}", 100 + SEQ_BLOCK).as_bytes())
        );
        assert!(q.reserve_seq().is_none());
        let mut fresh = queue(false);
        fresh.next_seq = 50;
        fresh.restore_reservation(100 + SEQ_BLOCK);
        assert!(fresh.next_seq() > 100 + SEQ_BLOCK);
    }

    #[test]
    fn expired_dedup_entries_are_cleaned_up_in_storage() {
        let mut q = queue(true);
        q.durable = true;
        let exp = q.remember_dedup("k".into(), "id".into(), 1, 0);
        assert_eq!(q.dedup_keys().len(), 1);
        assert!(q.duplicate("k", exp).is_none());
        assert_eq!(q.pending.len(), 1);
        assert!(q.pending[0].value.is_none());
    }
}
