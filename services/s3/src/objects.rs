//! Object handlers: put, get, head, delete (one and many), copy, and object tagging.

use crate::S3Provider;
use crate::buckets::{check_tag, read_tag_set, tag_set};
use crate::checksum::{self, Algorithm, Kind, Stored};
use crate::conditions;
use crate::errors;
use crate::store::{
    BodyRef, Bucket, NULL_VERSION, ObjectMeta, T_OBJECTS, T_UPLOADS, Version, Written, random_id,
};
use nephos_core::{AwsError, Input, Output, RequestContext, Timestamp, Value};
use nephos_storage::Mutation;
use percent_encoding::percent_decode_str;
use std::sync::Arc;

/// Longest key S3 accepts, in UTF-8 bytes.
pub const MAX_KEY_BYTES: usize = 1024;
/// Most user metadata S3 accepts (names and values, in bytes).
const MAX_USER_METADATA: usize = 2 * 1024;

pub fn check_key(key: &str) -> Result<(), AwsError> {
    if key.len() > MAX_KEY_BYTES {
        return Err(
            AwsError::new(400, "KeyTooLongError", "Your key is too long")
                .with_field("Size", key.len().to_string())
                .with_field("MaxSizeAllowed", MAX_KEY_BYTES.to_string()),
        );
    }
    Ok(())
}

/// Whether `id` looks like a version id S3 could have issued.
pub fn valid_version_id(id: &str) -> bool {
    id == NULL_VERSION
        || (id.len() == 32
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_'))
}

/// A version id other than `null` in a bucket that was never versioned: AWS calls it
/// invalid rather than missing.
fn never_had(b: &Bucket, key: &str, id: &str) -> bool {
    id != NULL_VERSION && b.versioning().is_none() && b.version(key, id).is_none()
}

/// Characters a version id ends with to show S3 issued it.
const VERSION_CHECK_LEN: usize = 4;

fn version_check(body: &str) -> String {
    use sha2::{Digest, Sha256};
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._";
    Sha256::digest(format!("nephos-s3-version:{body}").as_bytes())[..VERSION_CHECK_LEN]
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect()
}

/// A fresh version id: random, with check characters, so that an altered id can be told
/// apart from one that merely no longer exists (AWS answers the first InvalidArgument).
pub fn issue_version_id() -> String {
    let body = random_id(32 - VERSION_CHECK_LEN);
    let check = version_check(&body);
    body + &check
}

/// An id S3 cannot have issued for this key: malformed, altered, or not `null` in a
/// bucket never versioned. Ids stored before ids carried a check are still found.
fn unissued_version(b: &Bucket, key: &str, id: &str) -> bool {
    if id == NULL_VERSION {
        return false;
    }
    if !valid_version_id(id) || never_had(b, key, id) {
        return true;
    }
    let (body, check) = id.split_at(32 - VERSION_CHECK_LEN);
    version_check(body) != check && b.version(key, id).is_none()
}

fn invalid_version(id: &str) -> AwsError {
    errors::invalid_arg("Invalid version id specified", "versionId", Some(id))
}

/// The storage classes S3 accepts on writes.
const STORAGE_CLASSES: [&str; 9] = [
    "STANDARD",
    "REDUCED_REDUNDANCY",
    "STANDARD_IA",
    "ONEZONE_IA",
    "INTELLIGENT_TIERING",
    "GLACIER",
    "DEEP_ARCHIVE",
    "GLACIER_IR",
    "EXPRESS_ONEZONE",
];

/// S3 answers an unknown storage class with its own error, not a validation error.
pub fn check_storage_class(input: &Value) -> Result<(), AwsError> {
    match input.str("StorageClass") {
        Some(c) if !STORAGE_CLASSES.contains(&c) => Err(AwsError::new(
            400,
            "InvalidStorageClass",
            "The storage class you specified is not valid",
        )
        .with_field("StorageClassRequested", c)),
        _ => Ok(()),
    }
}

/// `MetadataDirective`/`TaggingDirective` of a copy: `COPY` (the default) or `REPLACE`.
fn directive(input: &Value, member: &str, header: &str) -> Result<bool, AwsError> {
    match input.str(member) {
        None | Some("COPY") => Ok(false),
        Some("REPLACE") => Ok(true),
        Some(other) => Err(errors::invalid_arg(
            format!(
                "Unknown {} directive.",
                if member == "MetadataDirective" {
                    "metadata"
                } else {
                    "tagging"
                }
            ),
            header,
            Some(other),
        )),
    }
}

/// System and user metadata from a Put/Copy/CreateMultipartUpload request.
pub fn meta_from_input(input: &Value) -> Result<ObjectMeta, AwsError> {
    check_storage_class(input)?;
    let s = |k: &str| input.str(k).map(str::to_owned);
    let mut user = std::collections::BTreeMap::new();
    let mut total = 0;
    if let Some(m) = input.get("Metadata").and_then(Value::as_map) {
        for (k, v) in m {
            // The name the website answers are tagged with is never stored.
            if k.eq_ignore_ascii_case(crate::website::MARKER) {
                continue;
            }
            let v = v.as_str().unwrap_or_default();
            total += k.len() + v.len();
            user.insert(k.to_ascii_lowercase(), v.to_owned());
        }
    }
    if total > MAX_USER_METADATA {
        return Err(AwsError::new(
            400,
            "MetadataTooLarge",
            "Your metadata headers exceed the maximum allowed metadata size",
        )
        .with_field("Size", total.to_string())
        .with_field("MaxSizeAllowed", MAX_USER_METADATA.to_string()));
    }
    Ok(ObjectMeta {
        content_type: s("ContentType"),
        content_encoding: s("ContentEncoding")
            // aws-chunked is transfer framing, not the object's encoding.
            .map(|e| {
                e.split(',')
                    .map(str::trim)
                    .filter(|p| !p.eq_ignore_ascii_case("aws-chunked") && !p.is_empty())
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .filter(|e| !e.is_empty()),
        content_disposition: s("ContentDisposition"),
        content_language: s("ContentLanguage"),
        cache_control: s("CacheControl"),
        expires: s("Expires"),
        website_redirect: s("WebsiteRedirectLocation"),
        storage_class: s("StorageClass").filter(|c| c != "STANDARD"),
        sse: s("ServerSideEncryption"),
        sse_kms_key: s("SSEKMSKeyId"),
        user,
        acl: crate::acl::from_input(input)?,
        sse_c_md5: None,
        bucket_key: false,
        lock_mode: None,
        lock_until_ms: None,
        legal_hold: false,
        legal_hold_set: false,
        restore: None,
    })
}

/// Parses the `x-amz-tagging` header (`k1=v1&k2=v2`, URL-encoded).
pub fn parse_tagging_header(h: Option<&str>) -> Result<Vec<(String, String)>, AwsError> {
    let mut out: Vec<(String, String)> = Vec::new();
    let Some(h) = h else { return Ok(out) };
    let dec = |s: &str| {
        percent_decode_str(&s.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    for pair in h.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (dec(k), dec(v));
        check_tag(&k, &v)?;
        if out.iter().any(|(x, _)| *x == k) {
            return Err(AwsError::new(
                400,
                "InvalidTag",
                "Cannot provide multiple Tags with the same key",
            ));
        }
        out.push((k, v));
    }
    check_tag_count(&out)?;
    Ok(out)
}

fn check_tag_count(tags: &[(String, String)]) -> Result<(), AwsError> {
    if tags.len() > 10 {
        return Err(AwsError::new(
            400,
            "BadRequest",
            "Object tags cannot be greater than 10",
        ));
    }
    Ok(())
}

/// Which flexible checksum the client asked for (algorithm header or a checksum header).
pub fn wanted_checksum(input: &Value) -> Option<Algorithm> {
    input
        .str("ChecksumAlgorithm")
        .and_then(Algorithm::parse)
        .or_else(|| {
            checksum::ALL
                .into_iter()
                .find(|a| input.get(a.member()).is_some())
        })
}

/// Checks what the client sent (Content-MD5, checksum headers, aws-chunked trailers)
/// against what was received; returns the checksum to store.
pub fn verify_body(input: &Value, w: &Written) -> Result<Option<(Algorithm, String)>, AwsError> {
    if let Some(md5) = input.str("ContentMD5") {
        checksum::check_content_md5(md5, &w.digests.md5)?;
    }
    let mut chosen = None;
    let mut sent: Vec<(Algorithm, String)> = checksum::ALL
        .into_iter()
        .filter_map(|a| input.str(a.member()).map(|v| (a, v.to_owned())))
        .collect();
    for (name, value) in &w.trailers {
        let name = name.to_ascii_lowercase();
        if let Some(alg) = checksum::ALL.into_iter().find(|a| a.header() == name) {
            sent.push((alg, value.clone()));
        }
    }
    if sent.len() > 1 && sent.iter().any(|(a, _)| *a != sent[0].0) {
        return Err(errors::invalid_request(
            "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.",
        ));
    }
    for (alg, value) in sent {
        let raw = checksum::parse_sent(alg, &value)?;
        match w.digests.raw(alg) {
            Some(ours) if ours != raw => return Err(checksum::mismatch(alg)),
            Some(_) => chosen = Some((alg, value.trim().to_owned())),
            None => {}
        }
    }
    if chosen.is_none()
        && let Some(alg) = input.str("ChecksumAlgorithm").and_then(Algorithm::parse)
        && let Some(v) = w.digests.b64(alg)
    {
        chosen = Some((alg, v));
    }
    Ok(chosen)
}

/// Headers of GetObject/HeadObject for a version.
pub fn object_headers(b: &Bucket, v: &Version, checksum_mode: bool) -> Value {
    let mut out = Value::map()
        .with("ETag", v.etag.as_str())
        .with("LastModified", Timestamp::from_millis(v.last_modified_ms))
        .with("AcceptRanges", "bytes");
    crate::sse::add_headers(&v.meta, &mut out);
    crate::lock::add_headers(&v.meta, &mut out);
    let m = &v.meta;
    for (member, val) in [
        ("ContentType", &m.content_type),
        ("ContentEncoding", &m.content_encoding),
        ("ContentDisposition", &m.content_disposition),
        ("ContentLanguage", &m.content_language),
        ("CacheControl", &m.cache_control),
        ("WebsiteRedirectLocation", &m.website_redirect),
        ("StorageClass", &m.storage_class),
    ] {
        if let Some(x) = val {
            out.insert(member, x.as_str());
        }
    }
    if m.content_type.is_none() {
        out.insert("ContentType", "binary/octet-stream");
    }
    if let Some(e) = &m.expires {
        out.insert("Expires", e.as_str());
    }
    if !m.user.is_empty() {
        out.insert(
            "Metadata",
            Value::Map(
                m.user
                    .iter()
                    .map(|(k, x)| (k.clone(), Value::from(x.as_str())))
                    .collect(),
            ),
        );
    }
    if !v.tags.is_empty() {
        out.insert("TagCount", v.tags.len() as i64);
    }
    if v.version_id != NULL_VERSION || b.versioning().is_some() {
        out.insert("VersionId", v.version_id.as_str());
    }
    if checksum_mode && let Some(c) = &v.checksum {
        c.add_to(&mut out, true);
    }
    out
}

/// The error for reading a key whose current version is a delete marker.
fn delete_marker_error(v: &Version, by_version: bool) -> AwsError {
    let e = if by_version {
        AwsError::new(
            405,
            "MethodNotAllowed",
            "The specified method is not allowed against this resource.",
        )
        .with_field("Method", "GET")
        .with_field("ResourceType", "DeleteMarker")
        // What a delete marker does allow.
        .with_header("Allow", "DELETE")
    } else {
        errors::no_such_key(&v.key)
    };
    e.with_header("x-amz-delete-marker", "true")
        .with_header("x-amz-version-id", v.version_id.as_str())
}

impl S3Provider {
    /// The version a read addresses: `VersionId`, else the current one.
    pub fn find_version(
        &self,
        b: &Bucket,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<Arc<Version>, AwsError> {
        match version_id {
            Some(id) => {
                if unissued_version(b, key, id) {
                    return Err(invalid_version(id));
                }
                let v = b
                    .version(key, id)
                    .ok_or_else(|| errors::no_such_version(key, id))?;
                if v.delete_marker {
                    return Err(delete_marker_error(&v, true));
                }
                Ok(v)
            }
            None => {
                let v = b.latest(key).ok_or_else(|| errors::no_such_key(key))?;
                if v.delete_marker {
                    return Err(delete_marker_error(&v, false));
                }
                Ok(v)
            }
        }
    }

    /// The version id a new write gets in `b`.
    pub fn new_version_id(b: &Bucket) -> String {
        if b.versioned() {
            issue_version_id()
        } else {
            NULL_VERSION.to_owned()
        }
    }

    /// Commits a new version and makes it current; frees what it replaced.
    pub async fn store_version(&self, b: &Bucket, v: Version) -> Result<Arc<Version>, AwsError> {
        let batch = self.store.put(T_OBJECTS, v.storage_key(), &v);
        if let Err(e) = self.store.commit(batch).await {
            self.store.free_body(&v.body);
            return Err(e);
        }
        let v = Arc::new(v);
        if let Some(old) = b.insert(v.clone())
            && old.body != v.body
        {
            self.store.free_body(&old.body);
        }
        Ok(v)
    }

    /// Checks `If-None-Match: *` and `If-Match` on a write against the current version.
    fn check_write_conditions(b: &Bucket, key: &str, input: &Value) -> Result<(), AwsError> {
        let latest = b.latest(key);
        let target = conditions::WriteTarget {
            current_etag: latest
                .as_ref()
                .filter(|v| !v.delete_marker)
                .map(|v| v.etag.as_str()),
            last_write_ms: None,
        };
        conditions::check_write(input, key, target, None)
    }

    pub(crate) async fn put_object(
        &self,
        ctx: &RequestContext,
        mut input: Input,
    ) -> Result<Output, AwsError> {
        let mut body = input.body.take();
        let result = self.put_object_with(ctx, &input.value, &mut body).await;
        if result.is_err() {
            crate::store::drain(body.take()).await;
        }
        result
    }

    /// PutObject; takes `body` only once every check that needs no body has passed, so
    /// a refused request can still be drained.
    async fn put_object_with(
        &self,
        ctx: &RequestContext,
        v: &Value,
        body: &mut Option<nephos_core::ByteStream>,
    ) -> Result<Output, AwsError> {
        let key = v.str("Key").unwrap_or_default();
        check_key(key)?;
        let b = self.bucket_for_key(ctx, v.str("Bucket").unwrap_or_default(), Some(key))?;
        Self::check_write_conditions(&b, key, v)?;
        let mut meta = meta_from_input(v)?;
        self.check_acl(&b, meta.acl.as_deref())?;
        crate::sse::resolve(&mut meta, v, &b, ctx)?;
        crate::lock::resolve(&mut meta, v, &b, ctx.clock.now_millis())?;
        let tags = parse_tagging_header(v.str("Tagging"))?;
        let written = self
            .store
            .write_body(body.take(), wanted_checksum(v), false)
            .await?;
        let checked = verify_body(v, &written).and_then(|c| {
            // A conditional write is decided when the upload completes.
            Self::check_write_conditions(&b, key, v)?;
            Ok(c)
        });
        let chosen = match checked {
            Ok(c) => c,
            Err(e) => {
                self.store.free_body(&written.body);
                return Err(e);
            }
        };
        let checksum = Some(match chosen {
            Some((alg, value)) => Stored {
                algorithm: alg,
                kind: Kind::FullObject,
                value,
            },
            None => Stored {
                algorithm: Algorithm::Crc64Nvme,
                kind: Kind::FullObject,
                value: written
                    .digests
                    .b64(Algorithm::Crc64Nvme)
                    .unwrap_or_default(),
            },
        });
        let version = Version {
            bucket: b.name(),
            key: key.to_owned(),
            version_id: Self::new_version_id(&b),
            seq: self.store.next_seq(),
            delete_marker: false,
            last_modified_ms: ctx.clock.now_millis(),
            etag: written.digests.etag(),
            size: written.size,
            body: written.body,
            meta,
            tags,
            checksum,
            parts: Vec::new(),
        };
        let stored = self.store_version(&b, version).await?;
        let mut out = Value::map().with("ETag", stored.etag.as_str());
        crate::sse::add_headers(&stored.meta, &mut out);
        if let Some(c) = &stored.checksum {
            c.add_to(&mut out, true);
        }
        // A PutObject that wrote the null version (suspended bucket) names no version;
        // CopyObject does (below), as AWS recorded.
        if stored.version_id != NULL_VERSION {
            out.insert("VersionId", stored.version_id.as_str());
        }
        Ok(Output::new(out))
    }

    pub(crate) fn get_object(
        &self,
        ctx: &RequestContext,
        input: &Value,
        with_body: bool,
    ) -> Result<Output, AwsError> {
        if let Some(answer) = self.website(ctx, input, with_body) {
            return answer;
        }
        self.read_object(ctx, input, with_body)
    }

    /// GetObject/HeadObject on the REST endpoint.
    pub(crate) fn read_object(
        &self,
        ctx: &RequestContext,
        input: &Value,
        with_body: bool,
    ) -> Result<Output, AwsError> {
        let key = input.str("Key").unwrap_or_default();
        let b = self.bucket_for_key(ctx, input.str("Bucket").unwrap_or_default(), Some(key))?;
        let v = self.find_version(&b, key, input.str("VersionId"))?;
        crate::sse::check_read(&v.meta, input, "")?;
        conditions::check_read(input, &v.etag, v.last_modified_ms, ctx.clock.now_millis())?;
        let now = ctx.clock.now_millis();
        if with_body {
            crate::restore::check_readable(&v.meta, now)?;
        }
        let checksum_mode = input
            .str("ChecksumMode")
            .is_some_and(|m| m.eq_ignore_ascii_case("ENABLED"));
        let mut range = conditions::parse_range(input.str("Range"), v.size)?;
        let mut part_number = None;
        if let Some(n) = input.int("PartNumber") {
            if range.is_some() {
                return Err(errors::invalid_request(
                    "Cannot specify both Range header and partNumber query parameter",
                ));
            }
            let count = v.parts.len().max(1) as i64;
            if n < 1 || n > count {
                return Err(AwsError::new(
                    416,
                    "InvalidPartNumber",
                    "The requested partnumber is not satisfiable",
                )
                .with_field("PartNumberRequested", n.to_string())
                .with_field("ActualPartCount", count.to_string()));
            }
            if !v.parts.is_empty() {
                let start: u64 = v.parts[..(n - 1) as usize].iter().map(|p| p.size).sum();
                let len = v.parts[(n - 1) as usize].size;
                if len > 0 {
                    range = Some((start, start + len - 1));
                }
            } else if v.size > 0 {
                // Part 1 of a plain object is all of it, still answered as a range.
                range = Some((0, v.size - 1));
            }
            part_number = Some(count);
        }
        // The object's checksum describes a range only when it is the whole object.
        let whole = range.is_none_or(|(a, z)| a == 0 && z + 1 == v.size);
        let mut out = object_headers(&b, &v, checksum_mode && whole);
        if checksum_mode
            && let Some(n) = input.int("PartNumber")
            && let Some(c) = &v.checksum
        {
            // A part has its own checksum in a composite object; a full-object checksum
            // describes a part only when the object is that one part.
            match c.kind {
                checksum::Kind::Composite => {
                    if let Some(pc) = v
                        .parts
                        .get((n - 1) as usize)
                        .and_then(|p| p.checksum.as_deref())
                    {
                        out.insert(c.algorithm.member(), pc);
                        out.insert("ChecksumType", c.kind.name());
                    }
                }
                checksum::Kind::FullObject if v.parts.len() <= 1 => c.add_to(&mut out, true),
                checksum::Kind::FullObject => {}
            }
        }
        if let Some(restore) = crate::restore::restore_header(&v.meta, now) {
            out.insert("Restore", restore);
        }
        if let Some(count) = part_number
            && !v.parts.is_empty()
        {
            out.insert("PartsCount", count);
        }
        for (param, member) in [
            ("ResponseContentType", "ContentType"),
            ("ResponseContentLanguage", "ContentLanguage"),
            ("ResponseContentDisposition", "ContentDisposition"),
            ("ResponseContentEncoding", "ContentEncoding"),
            ("ResponseCacheControl", "CacheControl"),
        ] {
            if let Some(x) = input.str(param) {
                out.insert(member, x);
            }
        }
        match input.get("ResponseExpires") {
            Some(Value::Timestamp(t)) => out.insert("Expires", t.to_http_date()),
            Some(Value::String(t)) => out.insert("Expires", t.as_str()),
            _ => {}
        }
        let (start, end) = match range {
            Some((a, z)) => {
                out.insert("ContentRange", format!("bytes {a}-{z}/{}", v.size));
                (a, z + 1)
            }
            None => (0, v.size),
        };
        out.insert("ContentLength", (end - start) as i64);
        let mut output = Output::new(out);
        // A part is partial content for HeadObject too.
        if part_number.is_some() && range.is_some() {
            output.status = Some(206);
        }
        if with_body {
            output.body = Some(self.store.read_range(&v.body, start, end)?);
        }
        Ok(output)
    }

    /// Deletes one key or version, changing memory and collecting what to commit and free.
    #[allow(clippy::too_many_arguments)] // one call site per delete operation
    fn delete_one(
        &self,
        ctx: &RequestContext,
        b: &Bucket,
        key: &str,
        version_id: Option<&str>,
        bypass: bool,
        batch: &mut Vec<Mutation>,
        freed: &mut Vec<BodyRef>,
    ) -> Result<Value, AwsError> {
        check_key(key)?;
        let mut out = Value::map();
        if let Some(id) = version_id {
            if unissued_version(b, key, id) {
                return Err(invalid_version(id));
            }
            if let Some(v) = b.version(key, id) {
                crate::lock::check_delete(&v, bypass, ctx.clock.now_millis())?;
            }
            if let Some(v) = b.remove(key, id) {
                batch.push(Mutation::delete(T_OBJECTS, v.storage_key()));
                if v.delete_marker {
                    out.insert("DeleteMarker", true);
                }
                freed.push(v.body.clone());
            }
            out.insert("VersionId", id);
            return Ok(out);
        }
        match b.versioning().as_deref() {
            None => {
                if let Some(v) = b.remove(key, NULL_VERSION) {
                    batch.push(Mutation::delete(T_OBJECTS, v.storage_key()));
                    freed.push(v.body.clone());
                    let now = ctx.clock.now_millis();
                    let mut uploads = b.uploads.lock().unwrap();
                    for up in uploads.values_mut().filter(|u| u.key == key) {
                        up.key_deleted_ms = Some(now);
                        batch.extend(self.store.put(
                            T_UPLOADS,
                            up.upload_id.as_bytes().to_vec(),
                            &*up,
                        ));
                    }
                }
            }
            Some(status) => {
                let marker = Version {
                    bucket: b.name(),
                    key: key.to_owned(),
                    version_id: if status == "Enabled" {
                        issue_version_id()
                    } else {
                        NULL_VERSION.to_owned()
                    },
                    seq: self.store.next_seq(),
                    delete_marker: true,
                    last_modified_ms: ctx.clock.now_millis(),
                    etag: String::new(),
                    size: 0,
                    body: BodyRef::Inline(Default::default()),
                    meta: ObjectMeta::default(),
                    tags: Vec::new(),
                    checksum: None,
                    parts: Vec::new(),
                };
                batch.extend(self.store.put(T_OBJECTS, marker.storage_key(), &marker));
                out.insert("DeleteMarker", true);
                out.insert("VersionId", marker.version_id.as_str());
                if let Some(old) = b.insert(Arc::new(marker)) {
                    freed.push(old.body.clone());
                }
            }
        }
        Ok(out)
    }

    pub(crate) async fn delete_object(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let key = input.str("Key").unwrap_or_default();
        let b = self.bucket_for_key(ctx, input.str("Bucket").unwrap_or_default(), Some(key))?;
        conditions::check_delete(input)?;
        let (mut batch, mut freed) = (Vec::new(), Vec::new());
        let out = self.delete_one(
            ctx,
            &b,
            key,
            input.str("VersionId"),
            input.bool("BypassGovernanceRetention").unwrap_or(false),
            &mut batch,
            &mut freed,
        )?;
        self.store.commit(batch).await?;
        for body in freed {
            self.store.free_body(&body);
        }
        Ok(out)
    }

    pub(crate) async fn delete_objects(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let b = self.bucket_for(ctx, input.str("Bucket").unwrap_or_default())?;
        let bypass = input.bool("BypassGovernanceRetention").unwrap_or(false);
        let delete = input.get("Delete").ok_or_else(errors::malformed_xml)?;
        let objects = delete
            .get("Objects")
            .and_then(Value::as_list)
            .unwrap_or_default();
        if objects.is_empty() || objects.len() > 1000 {
            return Err(errors::malformed_xml());
        }
        let quiet = delete.bool("Quiet").unwrap_or(false);
        // Keys the authorizer refused (`--enforce-iam`) fail alone, as on AWS.
        let prefix = format!("arn:aws:s3:::{}/", b.name());
        let refused: std::collections::HashSet<&str> = ctx
            .refused
            .as_deref()
            .unwrap_or_default()
            .iter()
            .filter_map(|arn| arn.strip_prefix(prefix.as_str()))
            .collect();
        let (mut batch, mut freed) = (Vec::new(), Vec::new());
        let (mut deleted, mut failed) = (Vec::new(), Vec::new());
        for o in objects {
            let key = o.str("Key").unwrap_or_default();
            let vid = o.str("VersionId");
            let allowed = if refused.contains(key) {
                Err(errors::access_denied())
            } else {
                self.authorize(ctx, &b, Some(key))
            };
            let result = allowed.and_then(|()| match vid {
                // In a batch a missing version is an error (DeleteObject answers 204).
                Some(id)
                    if id != NULL_VERSION
                        && valid_version_id(id)
                        && b.version(key, id).is_none() =>
                {
                    Err(errors::no_such_version(key, id))
                }
                _ => self.delete_one(ctx, &b, key, vid, bypass, &mut batch, &mut freed),
            });
            match result {
                Ok(r) => {
                    if quiet {
                        continue;
                    }
                    let mut d = Value::map().with("Key", key);
                    if let Some(id) = vid {
                        d.insert("VersionId", id);
                        if r.bool("DeleteMarker") == Some(true) {
                            d.insert("DeleteMarker", true);
                            d.insert("DeleteMarkerVersionId", id);
                        }
                    } else if r.bool("DeleteMarker") == Some(true) {
                        d.insert("DeleteMarker", true);
                        if let Some(mid) = r.str("VersionId") {
                            d.insert("DeleteMarkerVersionId", mid);
                        }
                    }
                    deleted.push(d);
                }
                Err(e) => {
                    let mut f = Value::map()
                        .with("Key", key)
                        .with("Code", e.code.as_ref())
                        .with("Message", e.message.as_str());
                    if let Some(id) = vid {
                        f.insert("VersionId", id);
                    }
                    failed.push(f);
                }
            }
        }
        self.store.commit(batch).await?;
        for body in freed {
            self.store.free_body(&body);
        }
        let mut out = Value::map();
        if !deleted.is_empty() {
            out.insert("Deleted", Value::List(deleted));
        }
        if !failed.is_empty() {
            out.insert("Errors", Value::List(failed));
        }
        Ok(out)
    }

    /// Resolves `x-amz-copy-source` (`bucket/key?versionId=...`, URL-encoded).
    pub fn copy_source(
        &self,
        ctx: &RequestContext,
        source: &str,
    ) -> Result<(Arc<Bucket>, Arc<Version>), AwsError> {
        let (path, query) = source.split_once('?').unwrap_or((source, ""));
        let path = percent_decode_str(path).decode_utf8_lossy().into_owned();
        let path = path.strip_prefix('/').unwrap_or(&path);
        let Some((bucket, key)) = path
            .split_once('/')
            .filter(|(b, k)| !b.is_empty() && !k.is_empty())
        else {
            // AWS names the header as the value too.
            return Err(errors::invalid_arg(
                "Invalid copy source object key",
                "x-amz-copy-source",
                Some("x-amz-copy-source"),
            ));
        };
        let version = query
            .split('&')
            .find_map(|p| p.strip_prefix("versionId="))
            .map(|v| percent_decode_str(v).decode_utf8_lossy().into_owned());
        let b = self
            .store
            .bucket(bucket)
            .ok_or_else(|| errors::no_such_bucket(bucket))?;
        self.authorize_action(ctx, &b, Some(key), "s3:GetObject")?;
        let v = match self.find_version(&b, key, version.as_deref()) {
            Err(e) if e.status == 405 => {
                return Err(errors::invalid_request(
                    "The source of a copy request may not specifically refer to a delete marker by version id.",
                ));
            }
            other => other?,
        };
        crate::restore::check_readable(&v.meta, ctx.clock.now_millis())?;
        Ok((b, v))
    }

    pub(crate) async fn copy_object(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let key = input.str("Key").unwrap_or_default();
        check_key(key)?;
        let b = self.bucket_for_key(ctx, input.str("Bucket").unwrap_or_default(), Some(key))?;
        let (sb, src) = self.copy_source(ctx, input.str("CopySource").unwrap_or_default())?;
        conditions::check_copy_source(
            input,
            &src.etag,
            src.last_modified_ms,
            ctx.clock.now_millis(),
        )?;
        Self::check_write_conditions(&b, key, input)?;
        let replace_meta = directive(input, "MetadataDirective", "x-amz-metadata-directive")?;
        let replace_tags = directive(input, "TaggingDirective", "x-amz-tagging-directive")?;
        check_storage_class(input)?;
        let same = sb.name() == b.name() && src.key == key;
        let changes = replace_meta
            || input.get("StorageClass").is_some()
            || input.get("WebsiteRedirectLocation").is_some()
            || input.get("ServerSideEncryption").is_some()
            || input.get("SSECustomerAlgorithm").is_some()
            || input.get("ChecksumAlgorithm").is_some()
            // A default encryption the bucket was given (even SSE-S3's) lets a copy re-encrypt
            // in place, as AWS recorded.
            || b.meta.read().unwrap().encryption.is_some();
        if same && !changes {
            return Err(errors::invalid_request(
                "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
            ));
        }
        let mut meta = if replace_meta {
            meta_from_input(input)?
        } else {
            src.meta.clone()
        };
        // A copy gets the ACL and encryption its request names, never the source's.
        meta.acl = crate::acl::from_input(input)?;
        self.check_acl(&b, meta.acl.as_deref())?;
        crate::sse::check_read(&src.meta, input, "CopySource")?;
        meta.sse = input.str("ServerSideEncryption").map(str::to_owned);
        meta.sse_kms_key = input.str("SSEKMSKeyId").map(str::to_owned);
        (meta.lock_mode, meta.lock_until_ms, meta.legal_hold) = (None, None, false);
        // A copy is a new object: whatever restore its source had is not its own.
        meta.restore = None;
        crate::sse::resolve(&mut meta, input, &b, ctx)?;
        crate::lock::resolve(&mut meta, input, &b, ctx.clock.now_millis())?;
        // A copy is stored in the class its request names, STANDARD unless told: the
        // source's class does not carry over.
        meta.storage_class = input
            .str("StorageClass")
            .filter(|c| *c != "STANDARD")
            .map(str::to_owned);
        if let Some(r) = input.str("WebsiteRedirectLocation") {
            meta.website_redirect = Some(r.to_owned());
        }
        let tags = if replace_tags {
            parse_tagging_header(input.str("Tagging"))?
        } else {
            src.tags.clone()
        };
        let alg = input
            .str("ChecksumAlgorithm")
            .and_then(Algorithm::parse)
            .or(src.checksum.as_ref().map(|c| c.algorithm))
            .unwrap_or(Algorithm::Crc64Nvme);
        let stream = self.store.read_range(&src.body, 0, src.size)?;
        let written = self
            .store
            .write_body(Some(stream), Some(alg), false)
            .await?;
        let now = ctx.clock.now_millis();
        let checksum = written.digests.b64(alg).map(|value| Stored {
            algorithm: alg,
            kind: Kind::FullObject,
            value,
        });
        let version = Version {
            bucket: b.name(),
            key: key.to_owned(),
            version_id: Self::new_version_id(&b),
            seq: self.store.next_seq(),
            delete_marker: false,
            last_modified_ms: now,
            etag: written.digests.etag(),
            size: written.size,
            body: written.body,
            meta,
            tags,
            checksum,
            parts: Vec::new(),
        };
        let stored = self.store_version(&b, version).await?;
        let mut result = Value::map()
            .with("ETag", stored.etag.as_str())
            .with("LastModified", Timestamp::from_millis(now));
        // AWS names the algorithm's value in CopyObjectResult but never its type.
        if let Some(c) = &stored.checksum {
            c.add_to(&mut result, false);
        }
        let mut out = Value::map().with("CopyObjectResult", result);
        crate::sse::add_headers(&stored.meta, &mut out);
        if stored.version_id != NULL_VERSION || b.versioning().is_some() {
            out.insert("VersionId", stored.version_id.as_str());
        }
        // A null source version is not named, even in a versioned bucket.
        if src.version_id != NULL_VERSION {
            out.insert("CopySourceVersionId", src.version_id.as_str());
        }
        Ok(out)
    }

    pub(crate) fn get_object_tagging(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let key = input.str("Key").unwrap_or_default();
        let bucket = input.str("Bucket").unwrap_or_default();
        let b = self.bucket_for_key(ctx, bucket, Some(key))?;
        // GetObjectTagging's NoSuchKey names the key with its bucket.
        let v = self
            .find_version(&b, key, input.str("VersionId"))
            .map_err(|e| match e.code.as_ref() {
                "NoSuchKey" => e.with_field("Key", format!("{bucket}/{key}")),
                _ => e,
            })?;
        let mut out = Value::map().with("TagSet", tag_set(&v.tags));
        if v.version_id != NULL_VERSION {
            out.insert("VersionId", v.version_id.as_str());
        }
        Ok(out)
    }

    /// GetObjectAttributes: what HeadObject and ListParts would say, limited to the
    /// attributes asked for. Parts are listed only for objects with an additional
    /// checksum (otherwise S3 gives the count alone), numbered as GetObject's partNumber.
    pub(crate) fn get_object_attributes(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        const ATTRIBUTES: [&str; 5] = [
            "ETag",
            "Checksum",
            "ObjectParts",
            "StorageClass",
            "ObjectSize",
        ];
        let wanted: Vec<&str> = input
            .get("ObjectAttributes")
            .and_then(Value::as_list)
            .unwrap_or_default()
            .iter()
            .filter_map(Value::as_str)
            .flat_map(|s| s.split(','))
            .map(str::trim)
            .collect();
        if let Some(bad) = wanted.iter().find(|w| !ATTRIBUTES.contains(w)) {
            return Err(
                errors::invalid_argument("Invalid attribute name specified.")
                    .with_field("ArgumentName", "x-amz-object-attributes")
                    .with_field("ArgumentValue", *bad),
            );
        }
        let key = input.str("Key").unwrap_or_default();
        let b = self.bucket_for_key(ctx, input.str("Bucket").unwrap_or_default(), Some(key))?;
        let v = self.find_version(&b, key, input.str("VersionId"))?;
        crate::sse::check_read(&v.meta, input, "")?;
        let asked = |name: &str| wanted.contains(&name);
        let mut out = Value::map().with("LastModified", Timestamp::from_millis(v.last_modified_ms));
        if v.version_id != NULL_VERSION {
            out.insert("VersionId", v.version_id.as_str());
        }
        if asked("ETag") {
            out.insert("ETag", v.etag.trim_matches('"'));
        }
        if asked("Checksum")
            && let Some(c) = &v.checksum
        {
            let mut checksum = Value::map();
            c.add_to(&mut checksum, true);
            // GetObjectAttributes leaves the part count (`-N`) off a composite checksum.
            if let Some((value, _)) = c.value.split_once('-') {
                checksum.insert(c.algorithm.member(), value);
            }
            out.insert("Checksum", checksum);
        }
        if asked("ObjectParts") && !v.parts.is_empty() {
            let mut parts = Value::map().with("TotalPartsCount", v.parts.len() as i64);
            // Parts are listed for composite checksums only; a full-object one has none.
            let algorithm = v
                .checksum
                .as_ref()
                .filter(|c| c.kind == crate::checksum::Kind::Composite)
                .map(|c| c.algorithm);
            if let Some(alg) = algorithm.filter(|_| v.parts.iter().any(|p| p.checksum.is_some())) {
                let max = input.int("MaxParts").unwrap_or(1000).clamp(0, 1000) as usize;
                let marker = input.int("PartNumberMarker").unwrap_or(0).max(0) as usize;
                let listed: Vec<(usize, &crate::store::PartSummary)> = v
                    .parts
                    .iter()
                    .enumerate()
                    .map(|(i, p)| (i + 1, p))
                    .skip(marker)
                    .take(max)
                    .collect();
                let next = listed.last().map_or(0, |(n, _)| *n);
                parts.insert("PartNumberMarker", marker as i64);
                parts.insert("NextPartNumberMarker", next as i64);
                parts.insert("MaxParts", max as i64);
                parts.insert("IsTruncated", next != 0 && next < v.parts.len());
                let items = listed
                    .into_iter()
                    .map(|(n, p)| {
                        let mut part = Value::map()
                            .with("PartNumber", n as i64)
                            .with("Size", p.size as i64);
                        if let Some(c) = &p.checksum {
                            part.insert(alg.member(), c.as_str());
                        }
                        part
                    })
                    .collect();
                parts.insert("Parts", Value::List(items));
            }
            out.insert("ObjectParts", parts);
        }
        if asked("StorageClass") {
            out.insert(
                "StorageClass",
                v.meta.storage_class.as_deref().unwrap_or("STANDARD"),
            );
        }
        if asked("ObjectSize") {
            out.insert("ObjectSize", v.size as i64);
        }
        Ok(out)
    }

    /// Writes a changed copy of version `v` and swaps it in (a metadata change such as
    /// tags or a restore: no new version).
    pub(crate) async fn replace_version(
        &self,
        b: &Bucket,
        v: &Version,
        change: impl FnOnce(&mut Version),
    ) -> Result<(), AwsError> {
        let mut updated = v.clone();
        change(&mut updated);
        let batch = self.store.put(T_OBJECTS, updated.storage_key(), &updated);
        self.store.commit(batch).await?;
        let updated = Arc::new(updated);
        let mut objects = b.objects.write().unwrap();
        if let Some(list) = objects.get_mut(&v.key)
            && let Some(slot) = list.iter_mut().find(|x| x.version_id == v.version_id)
        {
            *slot = updated;
        }
        Ok(())
    }

    /// Replaces the tags of one version (a metadata change: no new version).
    pub(crate) async fn set_object_tags(
        &self,
        ctx: &RequestContext,
        input: &Value,
        tags: Option<Vec<(String, String)>>,
    ) -> Result<Value, AwsError> {
        let key = input.str("Key").unwrap_or_default();
        let b = self.bucket_for_key(ctx, input.str("Bucket").unwrap_or_default(), Some(key))?;
        let tags = match tags {
            Some(t) => t,
            None => read_tag_set(input.get("Tagging"))?,
        };
        check_tag_count(&tags)?;
        let v = self.find_version(&b, key, input.str("VersionId"))?;
        self.replace_version(&b, &v, |u| u.tags = tags).await?;
        let mut out = Value::map();
        if v.version_id != NULL_VERSION {
            out.insert("VersionId", v.version_id.as_str());
        }
        Ok(out)
    }
}
