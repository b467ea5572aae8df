//! What S3 keeps: the global bucket registry, object versions, multipart uploads, and
//! the bodies behind them (small ones inline, others as blobs streamed to files).
//!
//! Records are JSON in four storage tables; bodies are written (and fsynced) before the
//! record that points at them is committed, so a crash never leaves a torn object.

use crate::checksum::{Algorithm, Digests, Hashers, Kind, Stored};
use crate::errors;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use futures_util::StreamExt;
use nephos_core::{AwsError, ByteStream};
use nephos_storage::{BlobId, BlobStore, Mutation, Storage};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Seek, SeekFrom};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

pub const T_BUCKETS: &str = "s3.buckets";
pub const T_OBJECTS: &str = "s3.objects";
pub const T_UPLOADS: &str = "s3.uploads";
pub const T_PARTS: &str = "s3.parts";
/// Account-wide settings (Block Public Access from s3control), keyed by account id.
pub const T_ACCOUNTS: &str = "s3.accounts";

/// Bodies up to this size live in the record instead of a file: a 1 KiB PutObject then
/// costs no file creation, and GetObject no open.
const INLINE_MAX: usize = 8 * 1024;
/// The least a blob write carries (except the last).
const WRITE_BATCH: usize = 512 * 1024;
/// How much of a blob a GetObject reads at a time.
const READ_CHUNK: usize = 256 * 1024;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BucketMeta {
    pub name: String,
    pub owner: String,
    pub region: String,
    pub created_ms: i64,
    /// `Enabled` or `Suspended`; `None` for a bucket never versioned.
    #[serde(default)]
    pub versioning: Option<String>,
    #[serde(default)]
    pub tags: Option<Vec<(String, String)>>,
    /// The bucket policy document, as sent.
    #[serde(default)]
    pub policy: Option<String>,
    #[serde(default)]
    pub cors: Option<Vec<crate::cors::CorsRule>>,
    #[serde(default)]
    pub acl: Option<Vec<crate::acl::Grant>>,
    #[serde(default)]
    pub public_access_block: Option<crate::acl::PublicAccessBlock>,
    /// ObjectOwnership: BucketOwnerEnforced, BucketOwnerPreferred or ObjectWriter.
    #[serde(default)]
    pub ownership: Option<String>,
    #[serde(default)]
    pub encryption: Option<crate::sse::Encryption>,
    #[serde(default)]
    pub lifecycle: Option<Vec<crate::lifecycle::Rule>>,
    /// The LocationConstraint the bucket was created with, when it is an alias of its
    /// region (`EU`).
    #[serde(default)]
    pub location_constraint: Option<String>,
    /// The lifecycle configuration's TransitionDefaultMinimumObjectSize.
    #[serde(default)]
    pub lifecycle_min_size: Option<String>,
    #[serde(default)]
    pub object_lock: Option<crate::lock::LockConfig>,
    #[serde(default)]
    pub notifications: Option<crate::notify::Notifications>,
    /// Configurations kept as sent (logging, website, replication, inventory:<id>, ...).
    #[serde(default)]
    pub configs: BTreeMap<String, serde_json::Value>,
}

/// One bucket: its settings and its keys, each with its versions (oldest first).
#[derive(Debug)]
pub struct Bucket {
    pub meta: RwLock<BucketMeta>,
    pub objects: RwLock<BTreeMap<String, Vec<Arc<Version>>>>,
    pub uploads: Mutex<HashMap<String, Upload>>,
    /// The bucket policy as last parsed, with its text (asked on every request from
    /// another account or anonymous caller).
    pub parsed_policy: nephos_policy::PolicyCache,
}

impl Bucket {
    pub fn new_pub(meta: BucketMeta) -> Bucket {
        Bucket {
            meta: RwLock::new(meta),
            objects: RwLock::default(),
            uploads: Mutex::default(),
            parsed_policy: nephos_policy::PolicyCache::default(),
        }
    }

    pub fn name(&self) -> String {
        self.meta.read().unwrap().name.clone()
    }

    /// The bucket policy `text` parsed, once per change of the text.
    pub fn policy(&self, text: &str) -> Option<Arc<nephos_policy::Policy>> {
        self.parsed_policy.get(text)
    }

    pub fn owner(&self) -> String {
        self.meta.read().unwrap().owner.clone()
    }

    pub fn versioning(&self) -> Option<String> {
        self.meta.read().unwrap().versioning.clone()
    }

    pub fn versioned(&self) -> bool {
        self.versioning().as_deref() == Some("Enabled")
    }

    /// The current version of `key` (possibly a delete marker).
    pub fn latest(&self, key: &str) -> Option<Arc<Version>> {
        self.objects.read().unwrap().get(key)?.last().cloned()
    }

    pub fn version(&self, key: &str, version_id: &str) -> Option<Arc<Version>> {
        self.objects
            .read()
            .unwrap()
            .get(key)?
            .iter()
            .find(|v| v.version_id == version_id)
            .cloned()
    }

    pub fn is_empty(&self) -> bool {
        self.objects.read().unwrap().is_empty() && self.uploads.lock().unwrap().is_empty()
    }

    /// Adds a version as the current one. A `null` version replaces the previous `null`
    /// one (unversioned and suspended buckets); returns what it replaced.
    pub fn insert(&self, v: Arc<Version>) -> Option<Arc<Version>> {
        let mut objects = self.objects.write().unwrap();
        let list = objects.entry(v.key.clone()).or_default();
        let mut replaced = None;
        if v.version_id == NULL_VERSION
            && let Some(i) = list.iter().position(|x| x.version_id == NULL_VERSION)
        {
            replaced = Some(list.remove(i));
        }
        // Keep versions ordered by sequence even if concurrent writers finish out of order.
        let at = list
            .iter()
            .position(|x| x.seq > v.seq)
            .unwrap_or(list.len());
        list.insert(at, v);
        replaced
    }

    /// Removes one version; returns it.
    pub fn remove(&self, key: &str, version_id: &str) -> Option<Arc<Version>> {
        let mut objects = self.objects.write().unwrap();
        let list = objects.get_mut(key)?;
        let i = list.iter().position(|x| x.version_id == version_id)?;
        let v = list.remove(i);
        if list.is_empty() {
            objects.remove(key);
        }
        Some(v)
    }
}

pub const NULL_VERSION: &str = "null";

/// System and user metadata stored with an object.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ObjectMeta {
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub content_disposition: Option<String>,
    pub content_language: Option<String>,
    pub cache_control: Option<String>,
    /// The `Expires` header as sent (S3 keeps it as text).
    pub expires: Option<String>,
    pub website_redirect: Option<String>,
    pub storage_class: Option<String>,
    pub sse: Option<String>,
    pub sse_kms_key: Option<String>,
    pub user: BTreeMap<String, String>,
    #[serde(default)]
    pub acl: Option<Vec<crate::acl::Grant>>,
    /// The MD5 of an SSE-C key (never the key).
    #[serde(default)]
    pub sse_c_md5: Option<String>,
    #[serde(default)]
    pub bucket_key: bool,
    #[serde(default)]
    pub lock_mode: Option<String>,
    #[serde(default)]
    pub lock_until_ms: Option<i64>,
    #[serde(default)]
    pub legal_hold: bool,
    /// Whether a legal hold was ever set (ON or OFF): one never set is no configuration.
    #[serde(default)]
    pub legal_hold_set: bool,
    /// A temporary copy of an archived (GLACIER, DEEP_ARCHIVE) object, from RestoreObject.
    #[serde(default)]
    pub restore: Option<Restore>,
}

/// When a restored copy of an archived object is readable, on the shared clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Restore {
    pub ready_ms: i64,
    pub expiry_ms: i64,
}

/// A piece of a body stored as a blob.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    /// The blob id in hex (serde has no portable u128).
    pub blob: String,
    pub len: u64,
}

impl Segment {
    pub fn id(&self) -> Option<BlobId> {
        u128::from_str_radix(&self.blob, 16).ok().map(BlobId)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum BodyRef {
    Inline(#[serde(with = "b64")] Bytes),
    Blobs(Vec<Segment>),
}

mod b64 {
    use super::B64;
    use base64::Engine;
    use bytes::Bytes;
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(b: &Bytes, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&B64.encode(b))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Bytes, D::Error> {
        let s = String::deserialize(d)?;
        B64.decode(s)
            .map(Bytes::from)
            .map_err(serde::de::Error::custom)
    }
}

/// What a multipart object remembers of each part (for `partNumber` reads and attributes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartSummary {
    pub size: u64,
    pub checksum: Option<String>,
}

/// One version of a key (or a delete marker).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Version {
    pub bucket: String,
    pub key: String,
    pub version_id: String,
    pub seq: u64,
    pub delete_marker: bool,
    pub last_modified_ms: i64,
    pub etag: String,
    pub size: u64,
    pub body: BodyRef,
    pub meta: ObjectMeta,
    pub tags: Vec<(String, String)>,
    pub checksum: Option<Stored>,
    #[serde(default)]
    pub parts: Vec<PartSummary>,
}

impl Version {
    pub fn storage_key(&self) -> Vec<u8> {
        object_key(&self.bucket, &self.key, &self.version_id)
    }
}

pub fn object_key(bucket: &str, key: &str, version_id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(bucket.len() + key.len() + version_id.len() + 2);
    k.extend_from_slice(bucket.as_bytes());
    k.push(0);
    k.extend_from_slice(key.as_bytes());
    k.push(0);
    k.extend_from_slice(version_id.as_bytes());
    k
}

/// A multipart upload in progress.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Upload {
    pub bucket: String,
    pub key: String,
    pub upload_id: String,
    pub initiated_ms: i64,
    pub owner: String,
    pub meta: ObjectMeta,
    pub tags: Vec<(String, String)>,
    pub checksum_algorithm: Option<Algorithm>,
    pub checksum_kind: Option<Kind>,
    /// When the key's object was last deleted outright (an unversioned bucket keeps no
    /// trace of it otherwise): a conditional completion must see that write.
    #[serde(default)]
    pub key_deleted_ms: Option<i64>,
    #[serde(skip)]
    pub parts: BTreeMap<u32, Part>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Part {
    pub upload_id: String,
    pub number: u32,
    pub segment: Segment,
    pub digests: Digests,
    pub last_modified_ms: i64,
}

impl Part {
    pub fn storage_key(&self) -> Vec<u8> {
        part_key(&self.upload_id, self.number)
    }
    pub fn etag(&self) -> String {
        self.digests.etag()
    }
}

pub fn part_key(upload_id: &str, number: u32) -> Vec<u8> {
    let mut k = upload_id.as_bytes().to_vec();
    k.push(0);
    k.extend_from_slice(&number.to_be_bytes());
    k
}

/// A body as written: where it is, how long, and its digests.
pub struct Written {
    pub body: BodyRef,
    pub size: u64,
    pub digests: Digests,
    /// Trailers of an aws-chunked upload (`x-amz-checksum-crc32`, ...).
    pub trailers: Vec<(String, String)>,
}

/// All of S3's state.
pub struct Store {
    pub buckets: RwLock<BTreeMap<String, Arc<Bucket>>>,
    pub blobs: BlobStore,
    pub storage: Storage,
    seq: AtomicU64,
    /// Account-level Block Public Access, by account id.
    pub account_pab: RwLock<HashMap<String, crate::acl::PublicAccessBlock>>,
}

impl Store {
    /// Opens the store, rebuilding memory from storage.
    pub fn open(storage: Storage, blobs: BlobStore) -> Result<Store, String> {
        let store = Store {
            buckets: RwLock::default(),
            blobs,
            storage,
            seq: AtomicU64::new(1),
            account_pab: RwLock::default(),
        };
        store.load().map_err(|e| format!("loading s3 state: {e}"))?;
        Ok(store)
    }

    fn load(&self) -> Result<(), String> {
        let s = &self.storage;
        let mut buckets = self.buckets.write().unwrap();
        for (_, v) in s.load(T_BUCKETS).map_err(|e| e.to_string())? {
            let meta: BucketMeta = serde_json::from_slice(&v).map_err(|e| e.to_string())?;
            buckets.insert(meta.name.clone(), Arc::new(Bucket::new_pub(meta)));
        }
        let mut pabs = self.account_pab.write().unwrap();
        for (k, v) in s.load(T_ACCOUNTS).map_err(|e| e.to_string())? {
            let pab = serde_json::from_slice(&v).map_err(|e| e.to_string())?;
            pabs.insert(String::from_utf8_lossy(&k).into_owned(), pab);
        }
        drop(pabs);
        let mut max_seq = 0;
        for (_, v) in s.load(T_OBJECTS).map_err(|e| e.to_string())? {
            let ver: Version = serde_json::from_slice(&v).map_err(|e| e.to_string())?;
            max_seq = max_seq.max(ver.seq);
            if let Some(b) = buckets.get(&ver.bucket) {
                b.insert(Arc::new(ver));
            }
        }
        let mut uploads: HashMap<String, Upload> = HashMap::new();
        for (_, v) in s.load(T_UPLOADS).map_err(|e| e.to_string())? {
            let up: Upload = serde_json::from_slice(&v).map_err(|e| e.to_string())?;
            uploads.insert(up.upload_id.clone(), up);
        }
        for (_, v) in s.load(T_PARTS).map_err(|e| e.to_string())? {
            let part: Part = serde_json::from_slice(&v).map_err(|e| e.to_string())?;
            if let Some(up) = uploads.get_mut(&part.upload_id) {
                up.parts.insert(part.number, part);
            }
        }
        for (id, up) in uploads {
            if let Some(b) = buckets.get(&up.bucket) {
                b.uploads.lock().unwrap().insert(id, up);
            }
        }
        self.seq.store(max_seq + 1, Ordering::Relaxed);
        Ok(())
    }

    pub fn next_seq(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::Relaxed)
    }

    pub fn bucket(&self, name: &str) -> Option<Arc<Bucket>> {
        self.buckets.read().unwrap().get(name).cloned()
    }

    /// Forgets every bucket and frees its blobs (the gateway clears the tables).
    pub fn clear(&self) {
        self.account_pab.write().unwrap().clear();
        let all: Vec<Arc<Bucket>> = std::mem::take(&mut *self.buckets.write().unwrap())
            .into_values()
            .collect();
        for b in all {
            for list in b.objects.read().unwrap().values() {
                for v in list {
                    self.free_body(&v.body);
                }
            }
            for up in b.uploads.lock().unwrap().values() {
                for p in up.parts.values() {
                    self.free_segment(&p.segment);
                }
            }
        }
    }

    /// Commits `batch` durably (a no-op when ephemeral).
    pub async fn commit(&self, batch: Vec<Mutation>) -> Result<(), AwsError> {
        if !self.storage.is_durable() {
            return Ok(());
        }
        self.storage.commit(batch).await.map_err(errors::storage)
    }

    /// A record for `table`, or nothing when storage is ephemeral (saves serializing).
    pub fn put<T: Serialize>(&self, table: &str, key: Vec<u8>, record: &T) -> Vec<Mutation> {
        if !self.storage.is_durable() {
            return Vec::new();
        }
        match serde_json::to_vec(record) {
            Ok(bytes) => vec![Mutation::put(table, key, bytes)],
            Err(e) => {
                tracing::error!(error = %e, "serializing an s3 record failed");
                Vec::new()
            }
        }
    }

    pub fn free_body(&self, body: &BodyRef) {
        if let BodyRef::Blobs(segs) = body {
            for s in segs {
                self.free_segment(s);
            }
        }
    }

    pub fn free_segment(&self, s: &Segment) {
        if let Some(id) = s.id()
            && let Err(e) = self.blobs.delete(id)
        {
            tracing::warn!(error = %e, "deleting a blob failed");
        }
    }

    /// Streams `body` to storage, hashing it on the way. Small bodies stay inline unless
    /// `force_blob` (multipart parts are always blobs).
    pub async fn write_body(
        &self,
        body: Option<ByteStream>,
        wanted: Option<Algorithm>,
        force_blob: bool,
    ) -> Result<Written, AwsError> {
        let mut hashers = Hashers::new(wanted);
        let Some(body) = body else {
            return Ok(Written {
                body: BodyRef::Inline(Bytes::new()),
                size: 0,
                digests: hashers.finish().await?,
                trailers: Vec::new(),
            });
        };
        let declared = body.length;
        let trailers = body.trailers.clone();
        let mut stream = body.stream;
        // Chunks not yet written. Small bodies stay here and become inline; larger ones
        // go to a blob in writes of at least WRITE_BATCH, since the page cache charges
        // per call (16 KiB writes cost about twice what 1 MiB writes do per byte).
        let mut pending: Vec<Bytes> = Vec::new();
        let mut pending_len = 0usize;
        let mut writer = None;
        let mut size = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| {
                AwsError::new(
                    400,
                    "IncompleteBody",
                    format!("The request body could not be read: {e}"),
                )
            })?;
            hashers.update(&chunk).await;
            size += chunk.len() as u64;
            pending_len += chunk.len();
            pending.push(chunk);
            if writer.is_none() && (force_blob || pending_len > INLINE_MAX) {
                writer = Some(self.blobs.create().map_err(errors::storage)?);
            }
            if let Some(w) = &mut writer
                && pending_len >= WRITE_BATCH
            {
                w.write_all_of(&pending).map_err(errors::storage)?;
                pending.clear();
                pending_len = 0;
            }
        }
        if declared.is_some_and(|d| d != size) {
            return Err(errors::incomplete_body());
        }
        let digests = hashers.finish().await?;
        let body = match writer {
            Some(mut w) => {
                w.write_all_of(&pending).map_err(errors::storage)?;
                let (id, len) = tokio::task::spawn_blocking(move || w.finish())
                    .await
                    .map_err(errors::storage)?
                    .map_err(errors::storage)?;
                BodyRef::Blobs(vec![Segment {
                    blob: format!("{:032x}", id.0),
                    len,
                }])
            }
            None if pending.len() == 1 => BodyRef::Inline(pending.pop().unwrap_or_default()),
            None => BodyRef::Inline(Bytes::from(pending.concat())),
        };
        Ok(Written {
            body,
            size,
            digests,
            trailers: trailers.get().cloned().unwrap_or_default(),
        })
    }

    /// Streams bytes `start..end` of a body from its files.
    pub fn read_range(&self, body: &BodyRef, start: u64, end: u64) -> Result<ByteStream, AwsError> {
        let len = end.saturating_sub(start);
        let segs = match body {
            BodyRef::Inline(b) => {
                let piece = b.slice(start as usize..(end as usize).min(b.len()));
                return Ok(ByteStream::new(
                    Some(len),
                    futures_util::stream::iter([Ok::<_, std::io::Error>(piece)]),
                ));
            }
            BodyRef::Blobs(segs) => segs,
        };
        // (path, offset in file, bytes to read) for every segment the range touches.
        let mut pieces = Vec::new();
        let mut at = 0u64;
        for s in segs {
            let (s_start, s_end) = (at, at + s.len);
            at = s_end;
            if s_end <= start || s_start >= end {
                continue;
            }
            let Some(id) = s.id() else {
                return Err(errors::storage("bad blob id"));
            };
            let from = start.max(s_start) - s_start;
            let to = end.min(s_end) - s_start;
            pieces.push((self.blobs.path(id), from, to - from));
        }
        // The first file is opened now: once open, it can be read even if a concurrent
        // overwrite deletes it.
        let mut pieces = pieces.into_iter();
        let mut current: Option<(std::fs::File, u64)> = None;
        if let Some((path, from, n)) = pieces.next() {
            current = Some((open_at(&path, from).map_err(errors::storage)?, n));
        }
        let stream = futures_util::stream::unfold(
            (pieces, current),
            |(mut pieces, mut current)| async move {
                loop {
                    let (file, left) = match current.as_mut() {
                        Some((f, left)) if *left > 0 => (f, left),
                        _ => {
                            let (path, from, n) = pieces.next()?;
                            match open_at(&path, from) {
                                Ok(f) => current = Some((f, n)),
                                Err(e) => return Some((Err(e), (pieces, None))),
                            }
                            continue;
                        }
                    };
                    let mut buf = vec![0u8; (*left as usize).min(READ_CHUNK)];
                    let read = match file.read(&mut buf) {
                        Ok(0) => Err(std::io::Error::new(
                            std::io::ErrorKind::UnexpectedEof,
                            "blob shorter than recorded",
                        )),
                        other => other,
                    };
                    return match read {
                        Ok(n) => {
                            buf.truncate(n);
                            *left -= n as u64;
                            Some((Ok(Bytes::from(buf)), (pieces, current)))
                        }
                        Err(e) => Some((Err(e), (pieces, None))),
                    };
                }
            },
        );
        Ok(ByteStream::new(Some(len), stream))
    }
}

/// Reads and drops what is left of a refused request's body (up to 8 MiB), so the client
/// finishes sending and the connection stays usable, as it does with S3.
pub async fn drain(body: Option<ByteStream>) {
    const LIMIT: u64 = 8 * 1024 * 1024;
    let Some(body) = body else { return };
    if body.length.is_some_and(|l| l > LIMIT) {
        return;
    }
    let mut stream = body.stream;
    let mut seen = 0u64;
    while let Some(Ok(chunk)) = stream.next().await {
        seen += chunk.len() as u64;
        if seen > LIMIT {
            return;
        }
    }
}

fn open_at(path: &std::path::Path, from: u64) -> std::io::Result<std::fs::File> {
    let mut f = std::fs::File::open(path)?;
    f.seek(SeekFrom::Start(from))?;
    Ok(f)
}

/// Encodes a short random id as S3-like URL-safe text.
pub fn random_id(len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._";
    nephos_core::random_alnum(len, ALPHABET)
}

/// The canonical user id S3 shows for an account.
pub fn canonical_id(account: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(
        format!("nephos-s3-owner:{account}").as_bytes(),
    ))
}

pub fn owner_value(account: &str) -> nephos_core::Value {
    nephos_core::Value::map()
        .with("ID", canonical_id(account))
        .with("DisplayName", account)
}

/// Decodes a base64 text or returns `None`.
pub fn b64_decode(s: &str) -> Option<Vec<u8>> {
    B64.decode(s).ok()
}

pub fn b64_encode(b: &[u8]) -> String {
    B64.encode(b)
}

pub fn stored_of(alg: Algorithm, kind: Kind, value: String) -> Stored {
    Stored {
        algorithm: alg,
        kind,
        value,
    }
}
