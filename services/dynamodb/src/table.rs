//! A table in memory: its description, its items in key order (compactly encoded), and
//! its secondary indexes as ordered maps from index keys to table keys.

use crate::attr::{
    Attr, Item, decode_item, encode_item, encoded_item_size, invalid_param, item_size, key_bytes,
};
use crate::pitr::Pitr;
use crate::state::{PITR, journaling};
use crate::stream::StreamLog;
use nephos_core::AwsError;
use nephos_storage::Mutation;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct KeyAttr {
    pub name: String,
    /// "S", "N" or "B".
    pub ty: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct KeySchema {
    pub hash: KeyAttr,
    pub range: Option<KeyAttr>,
}

impl KeySchema {
    pub fn names(&self) -> Vec<&str> {
        let mut v = vec![self.hash.name.as_str()];
        if let Some(r) = &self.range {
            v.push(r.name.as_str());
        }
        v
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IndexMeta {
    pub name: String,
    pub global: bool,
    pub key: KeySchema,
    /// ALL, KEYS_ONLY or INCLUDE.
    pub projection: String,
    pub non_key: Vec<String>,
    pub rcu: i64,
    pub wcu: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TableMeta {
    pub name: String,
    pub id: String,
    pub arn: String,
    pub created_ms: i64,
    pub attr_defs: Vec<KeyAttr>,
    pub key: KeySchema,
    pub billing: String,
    pub rcu: i64,
    pub wcu: i64,
    pub indexes: Vec<IndexMeta>,
    pub tags: Vec<(String, String)>,
    pub deletion_protection: bool,
    pub table_class: String,
    #[serde(default)]
    pub ttl_attribute: Option<String>,
    #[serde(default)]
    pub stream_view: Option<String>,
    /// Label of the latest stream (kept after the stream is disabled, as AWS reports it).
    #[serde(default)]
    pub stream_label: Option<String>,
    /// When point-in-time recovery was enabled (epoch ms), while it is.
    #[serde(default)]
    pub pitr_since_ms: Option<i64>,
    /// Regions of every replica of this global table (this one included); empty when the
    /// table is not global.
    #[serde(default)]
    pub replicas: Vec<String>,
    /// Kinesis streaming destinations: (stream ARN, status, timestamp precision).
    #[serde(default)]
    pub kinesis: Vec<(String, String, String)>,
    /// When the table last switched to on-demand (epoch ms). AWS reports a
    /// BillingModeSummary only for tables that are, or once were, on demand.
    #[serde(default)]
    pub ppr_since_ms: Option<i64>,
    /// WarmThroughput asked for (read, write units per second).
    #[serde(default)]
    pub warm: Option<(i64, i64)>,
    /// The resource-based policy and its revision id.
    #[serde(default)]
    pub resource_policy: Option<(String, String)>,
    /// ARN of the KMS key of server-side encryption with a KMS key; None for the
    /// AWS-owned key, which AWS leaves out of table descriptions.
    #[serde(default)]
    pub sse_kms_key: Option<String>,
    /// Contributor insights of the table (index None) and of its global indexes, once
    /// configured; never-configured ones are absent.
    #[serde(default)]
    pub insights: Vec<Insights>,
}

/// Contributor insights of a table or a global secondary index.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Insights {
    pub index: Option<String>,
    pub enabled: bool,
    /// ACCESSED_AND_THROTTLED_KEYS or THROTTLED_KEYS.
    pub mode: String,
    pub updated_ms: i64,
    /// When the rules were created: their names end with it, and a change of mode keeps it.
    pub rules_ms: i64,
}

/// Stored form of a change: key length, key, then the new item if any.
pub fn encode_change(c: &Change) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + c.0.len() + c.1.as_ref().map_or(0, |v| v.len()));
    out.extend_from_slice(&(c.0.len() as u32).to_be_bytes());
    out.extend_from_slice(&c.0);
    if let Some(v) = &c.1 {
        out.push(1);
        out.extend_from_slice(v);
    } else {
        out.push(0);
    }
    out
}

pub fn decode_change(b: &[u8]) -> Option<Change> {
    let n = u32::from_be_bytes(b.get(..4)?.try_into().ok()?) as usize;
    let key = b.get(4..4 + n)?;
    let new = match b.get(4 + n)? {
        0 => None,
        _ => Some(b.get(5 + n..)?.into()),
    };
    Some((key.into(), new))
}

/// Bytes per local secondary index entry beyond its attributes.
const LSI_OVERHEAD: u64 = 100;
const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
/// The item collection size limit of tables with local secondary indexes.
pub const COLLECTION_LIMIT: u64 = 10 * 1024 * 1024 * 1024;

/// An ordered map from key bytes to key or item bytes.
pub type ByteMap = BTreeMap<Box<[u8]>, Box<[u8]>>;

/// `(key, value)` pairs in key order, ready to bulk-build a [`ByteMap`].
pub type SortedPairs = Vec<(Box<[u8]>, Box<[u8]>)>;

/// One change to a table: its key and the new encoded item, or None for a deletion.
pub type Change = (Box<[u8]>, Option<Box<[u8]>>);

pub struct Table {
    pub meta: TableMeta,
    pub items: ByteMap,
    pub size_bytes: u64,
    /// Index name -> (index key -> table key).
    pub indexes: HashMap<String, ByteMap>,
    /// (expiry in epoch seconds, table key) of items with a TTL, when TTL is enabled.
    pub ttl: BTreeSet<(i64, Box<[u8]>)>,
    /// Streams of this table, oldest first; the last one is live unless closed.
    pub streams: Vec<StreamLog>,
    /// History for point-in-time recovery, while it is enabled.
    pub pitr: Option<Pitr>,
    /// Storage writes that belong to the next commit of this table's changes (stream
    /// records, point-in-time history): callers take them with [`Table::take_journal`]
    /// into the same batch as the item writes, so both persist atomically.
    pub journal: Vec<Mutation>,
    /// Item collection sizes (bytes) per partition, kept for tables with local secondary
    /// indexes: the items plus their LSI entries, as AWS counts against the 10 GB limit.
    pub collections: HashMap<Box<[u8]>, u64>,
    /// Provisioned-capacity buckets (used only with throttling on).
    pub throttle: std::sync::Mutex<crate::throttle::Throttle>,
    /// Changes not yet copied to the other replicas: (table key, new item or None).
    /// With `--data-dir` each entry also persists (`dynamodb.outbox`, keyed by table id
    /// then its id) in the commit of its write, so a crash does not lose replication.
    pub outbox: Vec<(u64, Change)>,
    pub outbox_next: u64,
    /// Set while applying a replicated change, which must not be sent back.
    pub applying_replica: bool,
}

/// Escapes bytes so that a terminated, escaped component still sorts like the raw bytes
/// when something follows it (0x00 becomes 0x00 0xFF; the terminator is 0x00 0x00).
fn escaped(a: &Attr, out: &mut Vec<u8>) {
    let mut raw = Vec::new();
    key_bytes(a, &mut raw);
    for b in raw {
        out.push(b);
        if b == 0 {
            out.push(0xFF);
        }
    }
    out.extend_from_slice(&[0, 0]);
}

fn partition_part(pk: &Attr, out: &mut Vec<u8>) {
    let mut p = Vec::new();
    key_bytes(pk, &mut p);
    out.extend_from_slice(&(p.len() as u32).to_be_bytes());
    out.extend_from_slice(&p);
}

pub fn index_prefix(pk: &Attr) -> Vec<u8> {
    let mut out = Vec::new();
    partition_part(pk, &mut out);
    out
}

/// The index-map key of an item: index partition, escaped index sort key, table key.
pub fn index_key(idx: &KeySchema, item: &Item, table_key: &[u8]) -> Option<Vec<u8>> {
    let pk = item.get(&idx.hash.name)?;
    if pk.type_name() != idx.hash.ty {
        return None;
    }
    let mut out = Vec::new();
    partition_part(pk, &mut out);
    if let Some(r) = &idx.range {
        let sk = item.get(&r.name)?;
        if sk.type_name() != r.ty {
            return None;
        }
        escaped(sk, &mut out);
    }
    out.extend_from_slice(table_key);
    Some(out)
}

/// Start bound of an index sort-key range (`sk` with `inclusive`), within partition `prefix`.
pub fn index_sk_bound(prefix: &[u8], sk: &Attr, after: bool) -> Vec<u8> {
    let mut out = prefix.to_vec();
    let mut raw = Vec::new();
    key_bytes(sk, &mut raw);
    for b in raw {
        out.push(b);
        if b == 0 {
            out.push(0xFF);
        }
    }
    if after {
        // Past every entry whose escaped sort key equals `sk` (terminator 0x00 0x00 ...).
        out.extend_from_slice(&[0, 1]);
    } else {
        out.extend_from_slice(&[0, 0]);
    }
    out
}

impl Table {
    pub fn new(meta: TableMeta) -> Table {
        let indexes = meta
            .indexes
            .iter()
            .map(|i| (i.name.clone(), BTreeMap::new()))
            .collect();
        Table {
            meta,
            items: BTreeMap::new(),
            size_bytes: 0,
            indexes,
            ttl: BTreeSet::new(),
            streams: Vec::new(),
            pitr: None,
            journal: Vec::new(),
            throttle: Default::default(),
            collections: HashMap::new(),
            outbox: Vec::new(),
            outbox_next: 0,
            applying_replica: false,
        }
    }

    /// An item's expiry (epoch seconds) under the table's TTL setting.
    pub fn ttl_of(&self, item: &Item) -> Option<i64> {
        let name = self.meta.ttl_attribute.as_ref()?;
        match item.get(name)? {
            Attr::N(n) => n.trunc_i64(),
            _ => None,
        }
    }

    /// Rebuilds the expiry index after TTL was enabled or disabled.
    pub fn rebuild_ttl(&mut self) {
        let mut ttl = BTreeSet::new();
        if self.meta.ttl_attribute.is_some() {
            for (k, v) in &self.items {
                if let Some(e) = decode_item(v).and_then(|i| self.ttl_of(&i)) {
                    ttl.insert((e, k.clone()));
                }
            }
        }
        self.ttl = ttl;
    }

    pub fn key_of(&self, item: &Item) -> Vec<u8> {
        let pk = item.get(&self.meta.key.hash.name);
        let sk = self.meta.key.range.as_ref().and_then(|r| item.get(&r.name));
        match pk {
            Some(pk) => crate::attr::storage_key(pk, sk),
            None => Vec::new(),
        }
    }

    pub fn get(&self, key: &[u8]) -> Option<Item> {
        self.items.get(key).and_then(|b| decode_item(b))
    }

    /// The stored bytes of an item (see [`crate::attr::encoded_item_to_json`]).
    pub fn get_encoded(&self, key: &[u8]) -> Option<&[u8]> {
        self.items.get(key).map(|b| &b[..])
    }

    /// Stores `item` under `key` (replacing any old one) and maintains the indexes.
    pub fn put(&mut self, key: &[u8], item: &Item) -> Vec<u8> {
        let enc = encode_item(item);
        self.put_encoded(key, enc.clone().into_boxed_slice(), Some(item));
        enc
    }

    pub fn put_encoded(&mut self, key: &[u8], enc: Box<[u8]>, item: Option<&Item>) {
        let old = self.detach_encoded(key);
        let decoded;
        let item = match item {
            Some(i) => i,
            None => {
                decoded = decode_item(&enc).unwrap_or_default();
                &decoded
            }
        };
        self.size_bytes += item_size(item) as u64;
        self.grow_collection(item);
        if let Some(e) = self.ttl_of(item) {
            self.ttl.insert((e, key.into()));
        }
        for idx in &self.meta.indexes {
            if let Some(ik) = index_key(&idx.key, item, key)
                && let Some(m) = self.indexes.get_mut(&idx.name)
            {
                m.insert(ik.into_boxed_slice(), key.into());
            }
        }
        self.log_change(key, old, Some(&enc));
        self.items.insert(key.into(), enc);
    }

    pub fn remove(&mut self, key: &[u8]) -> Option<Item> {
        let (old, item) = self.detach(key)?;
        self.log_change(key, Some(old), None);
        Some(item)
    }

    /// [`Table::detach`] for callers that want only the old bytes: without indexes or TTL
    /// the old item need not be decoded at all (its size is read from the bytes).
    fn detach_encoded(&mut self, key: &[u8]) -> Option<Box<[u8]>> {
        if !self.meta.indexes.is_empty() || self.meta.ttl_attribute.is_some() {
            return self.detach(key).map(|(b, _)| b);
        }
        let old = self.items.remove(key)?;
        let size = encoded_item_size(&old).unwrap_or(0);
        self.size_bytes = self.size_bytes.saturating_sub(size as u64);
        Some(old)
    }

    /// Takes an item out of the map and every index, without recording a change.
    fn detach(&mut self, key: &[u8]) -> Option<(Box<[u8]>, Item)> {
        let old = self.items.remove(key)?;
        let item = decode_item(&old).unwrap_or_default();
        self.size_bytes = self.size_bytes.saturating_sub(item_size(&item) as u64);
        self.shrink_collection(&item);
        if let Some(e) = self.ttl_of(&item) {
            self.ttl.remove(&(e, Box::<[u8]>::from(key)));
        }
        for idx in &self.meta.indexes {
            if let Some(ik) = index_key(&idx.key, &item, key)
                && let Some(m) = self.indexes.get_mut(&idx.name)
            {
                m.remove(ik.as_slice());
            }
        }
        Some((old, item))
    }

    /// Feeds a change to point-in-time history and to the other replicas.
    fn log_change(&mut self, key: &[u8], old: Option<Box<[u8]>>, new: Option<&[u8]>) {
        if let Some(p) = &mut self.pitr {
            let now = p.clock.now_millis();
            let durable = journaling();
            let id = &self.meta.id;
            for gone in p.trim(now) {
                if durable {
                    self.journal
                        .push(Mutation::delete(PITR, crate::pitr::record_key(id, gone)));
                }
            }
            let u = p.record(now, key, old);
            if durable {
                self.journal.push(Mutation::put(
                    PITR,
                    crate::pitr::record_key(id, u.id),
                    crate::pitr::encode(u),
                ));
            }
        }
        if !self.meta.replicas.is_empty() && !self.applying_replica {
            let id = self.outbox_next;
            self.outbox_next += 1;
            let change: Change = (key.into(), new.map(Box::from));
            if journaling() {
                self.journal.push(Mutation::put(
                    crate::state::OUTBOX,
                    crate::pitr::record_key(&self.meta.id, id),
                    encode_change(&change),
                ));
            }
            self.outbox.push((id, change));
            crate::replicas::PENDING.store(true, std::sync::atomic::Ordering::Release);
        }
    }

    /// The storage writes this table's last changes need (see [`Table::journal`]).
    pub fn take_journal(&mut self) -> Vec<Mutation> {
        std::mem::take(&mut self.journal)
    }

    /// Fills an empty table from stored `(key, encoded item)` pairs in key order (a
    /// restart): the map is bulk-built, and items are only decoded when indexes or TTL
    /// need their attributes; sizes come from the encoded bytes.
    pub fn load_sorted(&mut self, entries: SortedPairs) {
        self.items = entries.into_iter().collect();
        let decode = !self.meta.indexes.is_empty() || self.meta.ttl_attribute.is_some();
        let mut size = 0u64;
        if !decode {
            for v in self.items.values() {
                size += crate::attr::encoded_item_size(v).unwrap_or(0) as u64;
            }
            self.size_bytes = size;
            return;
        }
        let mut ttl = Vec::new();
        let mut idx_entries: Vec<SortedPairs> = vec![Vec::new(); self.meta.indexes.len()];
        let mut collections = HashMap::new();
        for (k, v) in &self.items {
            let Some(item) = decode_item(v) else { continue };
            size += item_size(&item) as u64;
            if let Some((ck, share)) = self.collection_share(&item) {
                *collections.entry(ck).or_insert(0u64) += share;
            }
            if let Some(e) = self.ttl_of(&item) {
                ttl.push((e, k.clone()));
            }
            for (n, idx) in self.meta.indexes.iter().enumerate() {
                if let Some(ik) = index_key(&idx.key, &item, k) {
                    idx_entries[n].push((ik.into_boxed_slice(), k.clone()));
                }
            }
        }
        self.size_bytes = size;
        self.collections = collections;
        self.ttl = ttl.into_iter().collect();
        for (idx, entries) in self.meta.indexes.iter().zip(idx_entries) {
            self.indexes
                .insert(idx.name.clone(), entries.into_iter().collect());
        }
    }

    /// Builds a new index over the existing items (UpdateTable's backfill).
    pub fn backfill(&mut self, idx: &IndexMeta) {
        let mut m = BTreeMap::new();
        for (k, v) in &self.items {
            if let Some(item) = decode_item(v)
                && let Some(ik) = index_key(&idx.key, &item, k)
            {
                m.insert(ik.into_boxed_slice(), k.clone());
            }
        }
        self.indexes.insert(idx.name.clone(), m);
    }

    pub fn has_lsi(&self) -> bool {
        self.meta.indexes.iter().any(|i| !i.global)
    }

    /// The item collection an item belongs to, and the bytes it adds to it: its size plus,
    /// per local index it appears in, the projected attributes and 100 bytes of overhead.
    pub fn collection_share(&self, item: &Item) -> Option<(Box<[u8]>, u64)> {
        if !self.has_lsi() {
            return None;
        }
        let pk = item.get(&self.meta.key.hash.name)?;
        let mut share = item_size(item) as u64;
        for idx in self.meta.indexes.iter().filter(|i| !i.global) {
            if idx.key.names().iter().all(|n| item.contains_key(*n)) {
                share += item_size(&self.project_for_index(item, idx)) as u64 + LSI_OVERHEAD;
            }
        }
        Some((index_prefix(pk).into_boxed_slice(), share))
    }

    fn grow_collection(&mut self, item: &Item) {
        if let Some((k, share)) = self.collection_share(item) {
            *self.collections.entry(k).or_insert(0) += share;
        }
    }

    fn shrink_collection(&mut self, item: &Item) {
        if let Some((k, share)) = self.collection_share(item)
            && let Some(size) = self.collections.get_mut(&k)
        {
            *size = size.saturating_sub(share);
            if *size == 0 {
                self.collections.remove(&k);
            }
        }
    }

    /// Refuses a write that would take its item collection past 10 GB (writes that shrink
    /// a collection are always allowed).
    pub fn check_collection(&self, old: Option<&Item>, new: &Item) -> Result<(), AwsError> {
        let Some((k, add)) = self.collection_share(new) else {
            return Ok(());
        };
        let current = self.collections.get(&k).copied().unwrap_or(0);
        let remove = old
            .and_then(|o| self.collection_share(o))
            .map_or(0, |(_, s)| s);
        let after = current.saturating_sub(remove) + add;
        if after > COLLECTION_LIMIT && after > current {
            return Err(AwsError::new(
                400,
                "ItemCollectionSizeLimitExceededException",
                "Collection size exceeded.",
            ));
        }
        Ok(())
    }

    /// `ItemCollectionMetrics` for the collection of `item` (an item or a key), for
    /// tables with local secondary indexes: the key, and the size as AWS estimates it, a
    /// range of whole gigabytes around it.
    pub fn collection_metrics(&self, item: &Item) -> Option<nephos_core::Value> {
        if !self.has_lsi() {
            return None;
        }
        let name = &self.meta.key.hash.name;
        let pk = item.get(name)?;
        let size = self
            .collections
            .get(index_prefix(pk).as_slice())
            .copied()
            .unwrap_or(0);
        let low = (size as f64 / GIB).floor();
        let mut key = Item::new();
        key.insert(name.clone(), pk.clone());
        Some(
            nephos_core::Value::map()
                .with("ItemCollectionKey", crate::attr::item_to_value(&key))
                .with(
                    "SizeEstimateRangeGB",
                    nephos_core::Value::List(vec![low.into(), (low + 1.0).into()]),
                ),
        )
    }

    pub fn index(&self, name: &str) -> Option<&IndexMeta> {
        self.meta.indexes.iter().find(|i| i.name == name)
    }

    /// Validates the key attributes of a full item (PutItem) and returns its storage key.
    pub fn validate_item_key(&self, item: &Item) -> Result<Vec<u8>, AwsError> {
        for k in [Some(&self.meta.key.hash), self.meta.key.range.as_ref()]
            .into_iter()
            .flatten()
        {
            match item.get(&k.name) {
                None => {
                    return Err(invalid_param(format!(
                        "Missing the key {} in the item",
                        k.name
                    )));
                }
                Some(v) if v.type_name() != k.ty => {
                    return Err(invalid_param(format!(
                        "Type mismatch for key {} expected: {} actual: {}",
                        k.name,
                        k.ty,
                        v.type_name()
                    )));
                }
                Some(v) => check_key_value(&k.name, v, k.name == self.meta.key.hash.name)?,
            }
        }
        // Index keys must have the right type when present (sparse otherwise).
        for idx in &self.meta.indexes {
            for k in [Some(&idx.key.hash), idx.key.range.as_ref()]
                .into_iter()
                .flatten()
            {
                if let Some(v) = item.get(&k.name) {
                    if v.type_name() != k.ty {
                        return Err(invalid_param(format!(
                            "Type mismatch for Index Key {} Expected: {} Actual: {} IndexName: {}",
                            k.name,
                            k.ty,
                            v.type_name(),
                            idx.name
                        )));
                    }
                    check_empty_index_key(&k.name, v, &idx.name)?;
                }
            }
        }
        Ok(self.key_of(item))
    }

    /// Validates a `Key` parameter (exactly the key attributes) and returns its storage key.
    pub fn validate_key(&self, key: &Item) -> Result<Vec<u8>, AwsError> {
        let names = self.meta.key.names();
        let schema_mismatch =
            || AwsError::validation("The provided key element does not match the schema");
        if key.len() != names.len() || names.iter().any(|n| !key.contains_key(*n)) {
            return Err(schema_mismatch());
        }
        for k in [Some(&self.meta.key.hash), self.meta.key.range.as_ref()]
            .into_iter()
            .flatten()
        {
            let v = &key[&k.name];
            if v.type_name() != k.ty {
                return Err(schema_mismatch());
            }
            check_key_value(&k.name, v, k.name == self.meta.key.hash.name)?;
        }
        Ok(self.key_of(key))
    }

    /// The key attributes of an item, as returned in LastEvaluatedKey.
    pub fn key_attrs(&self, item: &Item, index: Option<&IndexMeta>) -> Item {
        let mut out = Item::new();
        let mut names = self.meta.key.names();
        if let Some(i) = index {
            names.extend(i.key.names());
        }
        for n in names {
            if let Some(v) = item.get(n) {
                out.insert(n.to_owned(), v.clone());
            }
        }
        out
    }

    /// What an index projects of an item.
    pub fn project_for_index(&self, item: &Item, idx: &IndexMeta) -> Item {
        if idx.projection == "ALL" {
            return item.clone();
        }
        let mut out = self.key_attrs(item, Some(idx));
        if idx.projection == "INCLUDE" {
            for n in &idx.non_key {
                if let Some(v) = item.get(n) {
                    out.insert(n.clone(), v.clone());
                }
            }
        }
        out
    }
}

fn check_key_value(name: &str, v: &Attr, is_hash: bool) -> Result<(), AwsError> {
    let len = match v {
        Attr::S(s) => s.len(),
        Attr::B(b) => b.len(),
        _ => 1,
    };
    if len == 0 {
        return Err(AwsError::validation(format!(
            "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty {} value. Key: {name}",
            if matches!(v, Attr::S(_)) {
                "string"
            } else {
                "binary"
            }
        )));
    }
    if is_hash && len > 2048 {
        return Err(invalid_param(
            "Size of hashkey has exceeded the maximum size limit of2048 bytes",
        ));
    }
    if !is_hash && len > 1024 {
        return Err(invalid_param(
            "Aggregated size of all range keys has exceeded the size limit of 1024 bytes",
        ));
    }
    Ok(())
}

fn check_empty_index_key(name: &str, v: &Attr, index: &str) -> Result<(), AwsError> {
    let empty = match v {
        Attr::S(s) => s.is_empty(),
        Attr::B(b) => b.is_empty(),
        _ => false,
    };
    if empty {
        return Err(AwsError::validation(format!(
            "One or more parameter values are not valid. A value specified for a secondary index key is not supported. The AttributeValue for a key attribute cannot contain an empty {} value. IndexName: {index}, IndexKey: {name}",
            if matches!(v, Attr::S(_)) {
                "string"
            } else {
                "binary"
            }
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::number::Decimal;

    fn key(name: &str, ty: &str) -> KeyAttr {
        KeyAttr {
            name: name.into(),
            ty: ty.into(),
        }
    }

    fn table(projection: &str) -> Table {
        Table::new(TableMeta {
            name: "t".into(),
            id: "00000000-0000-0000-0000-000000000000".into(),
            arn: "arn:aws:dynamodb:us-east-1:000000000000:table/t".into(),
            created_ms: 0,
            attr_defs: vec![key("pk", "S"), key("sk", "S"), key("l", "N")],
            key: KeySchema {
                hash: key("pk", "S"),
                range: Some(key("sk", "S")),
            },
            billing: "PAY_PER_REQUEST".into(),
            rcu: 0,
            wcu: 0,
            indexes: vec![IndexMeta {
                name: "byl".into(),
                global: false,
                key: KeySchema {
                    hash: key("pk", "S"),
                    range: Some(key("l", "N")),
                },
                projection: projection.into(),
                non_key: Vec::new(),
                rcu: 0,
                wcu: 0,
            }],
            tags: Vec::new(),
            deletion_protection: false,
            table_class: "STANDARD".into(),
            ttl_attribute: None,
            stream_view: None,
            stream_label: None,
            pitr_since_ms: None,
            replicas: Vec::new(),
            kinesis: Vec::new(),
            ppr_since_ms: None,
            warm: None,
            resource_policy: None,
            sse_kms_key: None,
            insights: Vec::new(),
        })
    }

    fn item(pk: &str, sk: &str, l: Option<i64>, pad: usize) -> Item {
        let mut i = Item::new();
        i.insert("pk".into(), Attr::S(pk.into()));
        i.insert("sk".into(), Attr::S(sk.into()));
        if let Some(l) = l {
            i.insert("l".into(), Attr::N(Decimal::from_i64(l)));
        }
        i.insert("pad".into(), Attr::S("x".repeat(pad)));
        i
    }

    fn size_of(t: &Table, pk: &str) -> u64 {
        t.collections
            .get(index_prefix(&Attr::S(pk.into())).as_slice())
            .copied()
            .unwrap_or(0)
    }

    #[test]
    fn collections_count_items_and_lsi_entries() {
        let mut t = table("KEYS_ONLY");
        let a = item("p", "a", Some(1), 100);
        let b = item("p", "b", None, 50);
        let ka = t.key_of(&a);
        t.put(&ka, &a);
        // pk(2+1) sk(2+1) l(1+2) pad(3+100) = 112; the KEYS_ONLY entry is pk, sk, l (9) + 100.
        assert_eq!(size_of(&t, "p"), 112 + 9 + 100);
        let kb = t.key_of(&b);
        t.put(&kb, &b);
        // Not in the index (no l): only the item counts.
        assert_eq!(size_of(&t, "p"), 221 + 3 + 3 + 53);
        assert_eq!(size_of(&t, "other"), 0);
        // Replacing and removing keep the sum exact.
        let a2 = item("p", "a", Some(1), 10);
        t.put(&ka, &a2);
        assert_eq!(size_of(&t, "p"), 22 + 109 + 59);
        t.remove(&ka);
        t.remove(&kb);
        assert!(t.collections.is_empty());
        // A reload computes the same sums.
        t.put(&ka, &a);
        let pairs: SortedPairs = t.items.clone().into_iter().collect();
        let mut u = table("KEYS_ONLY");
        u.load_sorted(pairs);
        assert_eq!(u.collections, t.collections);
    }

    #[test]
    fn all_projection_counts_the_whole_item_twice() {
        let mut t = table("ALL");
        let a = item("p", "a", Some(1), 100);
        t.put(&t.key_of(&a), &a);
        assert_eq!(size_of(&t, "p"), 112 * 2 + 100);
    }

    #[test]
    fn writes_past_ten_gigabytes_are_refused() {
        let mut t = table("KEYS_ONLY");
        let a = item("p", "a", Some(1), 1000);
        let share = t.collection_share(&a).unwrap().1;
        let k = index_prefix(&Attr::S("p".into())).into_boxed_slice();
        t.collections.insert(k.clone(), COLLECTION_LIMIT - share);
        // Exactly at the limit is allowed; one byte more is not.
        assert!(t.check_collection(None, &a).is_ok());
        let bigger = item("p", "a", Some(1), 1001);
        let e = t.check_collection(None, &bigger).unwrap_err();
        assert_eq!(e.code, "ItemCollectionSizeLimitExceededException");
        assert_eq!(e.message, "Collection size exceeded.");
        // Replacing an item with a smaller one, or another partition, still works.
        t.collections.insert(k, COLLECTION_LIMIT + 10);
        assert!(t.check_collection(Some(&bigger), &a).is_ok());
        assert!(
            t.check_collection(None, &item("q", "a", Some(1), 1000))
                .is_ok()
        );
        // Metrics: whole gigabytes around the estimate.
        let m = t.collection_metrics(&a).unwrap();
        assert_eq!(
            m.get("SizeEstimateRangeGB"),
            Some(&nephos_core::Value::List(vec![10.0.into(), 11.0.into()]))
        );
    }
}
