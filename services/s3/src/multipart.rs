//! Multipart uploads: create, upload part (and part copy), list parts and uploads,
//! complete (part order, sizes, ETags and checksums as S3 checks them) and abort.

use crate::S3Provider;
use crate::checksum::{self, Algorithm, Digests, Kind, Stored};
use crate::errors;
use crate::objects::{check_key, meta_from_input, parse_tagging_header, verify_body};
use crate::store::{
    BodyRef, NULL_VERSION, Part, PartSummary, Segment, T_OBJECTS, T_PARTS, T_UPLOADS, Upload,
    Version, owner_value, part_key, random_id,
};
use nephos_core::{AwsError, Input, Output, RequestContext, Timestamp, Value};
use nephos_storage::Mutation;

/// Every part but the last must be at least this large.
const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
const MAX_PART_NUMBER: i64 = 10_000;

fn part_number(input: &Value) -> Result<u32, AwsError> {
    match input.int("PartNumber") {
        Some(n) if (1..=MAX_PART_NUMBER).contains(&n) => Ok(n as u32),
        other => Err(errors::invalid_arg(
            "Part number must be an integer between 1 and 10000, inclusive",
            "partNumber",
            Some(&other.map(|n| n.to_string()).unwrap_or_default()),
        )),
    }
}

/// Parts (and a complete request that sends a key) must use the SSE-C key the upload
/// was created with, or none when it was created without one.
fn check_part_key(up: &Upload, input: &Value) -> Result<(), AwsError> {
    let sent = crate::sse::customer_key(input, "", crate::sse::KeyUse::Write)?;
    match (&up.meta.sse_c_md5, sent) {
        (None, None) => Ok(()),
        (Some(stored), Some(sent)) if *stored == sent => Ok(()),
        (Some(_), Some(_)) => Err(errors::invalid_request(
            "The provided encryption parameters did not match the ones used originally.",
        )),
        _ => Err(errors::invalid_request(
            "The multipart upload initiate requested encryption. Subsequent part requests must include the appropriate encryption parameters.",
        )),
    }
}

fn part_checksum(up: &Upload, d: &Digests) -> Option<(Algorithm, String)> {
    let alg = up.checksum_algorithm?;
    d.b64(alg).map(|v| (alg, v))
}

/// The checksum mode a complete request names must be the upload's.
fn check_complete_mode(up: &Upload, input: &Value) -> Result<(), AwsError> {
    match input.str("ChecksumType") {
        Some(sent) if Some(sent) != up.checksum_kind.map(Kind::name) => {
            Err(errors::invalid_request(format!(
                "The upload was created using the {} checksum mode. The complete request must use the same checksum mode.",
                up.checksum_kind.map_or("null", Kind::name)
            )))
        }
        _ => Ok(()),
    }
}

/// A part's checksum in a complete request: of the upload's algorithm and matching the
/// part (an upload without one takes none), required for each part of composite uploads.
fn check_part_checksum(
    up: &Upload,
    sent: &Value,
    part: &Part,
    number: i64,
    invalid_part: impl Fn() -> AwsError,
) -> Result<(), AwsError> {
    let given = checksum::ALL
        .into_iter()
        .find_map(|a| sent.str(a.member()).map(|v| (a, v.trim())));
    let Some(alg) = up.checksum_algorithm else {
        return match given {
            Some(_) => Err(invalid_part()),
            None => Ok(()),
        };
    };
    match given {
        Some((a, _)) if a != alg => Err(AwsError::new(
            400,
            "BadDigest",
            format!(
                "The {} you specified for part {number} did not match what we received.",
                a.name().to_ascii_lowercase()
            ),
        )),
        Some((_, v)) if part.digests.b64(alg).as_deref() != Some(v) => Err(invalid_part()),
        Some(_) => Ok(()),
        None if up.checksum_kind == Some(Kind::Composite) => Err(errors::invalid_request(format!(
            "The upload was created using a {} checksum. The complete request must include the checksum for each part. It was missing for part {number} in the request.",
            alg.name().to_ascii_lowercase()
        ))),
        None => Ok(()),
    }
}

/// A full-object checksum of a complete request that does not match.
fn complete_mismatch(alg: Algorithm) -> AwsError {
    AwsError::new(
        400,
        "BadDigest",
        format!(
            "The {} you specified did not match the calculated checksum.",
            alg.name().to_ascii_lowercase()
        ),
    )
}

/// An `x-amz-copy-source-range` (`bytes=first-last`, both given) within a source of
/// `size` bytes, as the half-open range to copy.
fn copy_range(r: &str, size: u64) -> Result<(u64, u64), AwsError> {
    let parsed = r
        .strip_prefix("bytes=")
        .and_then(|s| s.split_once('-'))
        .filter(|(a, z)| {
            [a, z]
                .iter()
                .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        })
        .and_then(|(a, z)| Some((a.parse::<u64>().ok()?, z.parse::<u64>().ok()?)))
        .filter(|(a, z)| a <= z);
    let Some((first, last)) = parsed else {
        return Err(errors::invalid_arg(
            "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy",
            "x-amz-copy-source-range",
            Some(r),
        ));
    };
    if first >= size {
        return Err(errors::invalid_request(
            "The specified copy range is invalid for the source object size",
        ));
    }
    if last >= size {
        return Err(errors::invalid_arg(
            format!("Range specified is not valid for source object of size: {size}"),
            "x-amz-copy-source-range",
            Some(r),
        ));
    }
    Ok((first, last + 1))
}

impl S3Provider {
    pub(crate) async fn create_multipart_upload(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let key = input.str("Key").unwrap_or_default();
        check_key(key)?;
        let b = self.bucket_for_key(ctx, input.str("Bucket").unwrap_or_default(), Some(key))?;
        let mut meta = meta_from_input(input)?;
        self.check_acl(&b, meta.acl.as_deref())?;
        crate::sse::resolve(&mut meta, input, &b, ctx)?;
        crate::lock::resolve(&mut meta, input, &b, ctx.clock.now_millis())?;
        let alg = match input.str("ChecksumAlgorithm") {
            Some(a) => Some(Algorithm::parse(a).ok_or_else(|| {
                errors::invalid_request(
                    "Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, SHA1, SHA256]",
                )
            })?),
            None => None,
        };
        if alg.is_none() && input.str("ChecksumType").is_some() {
            return Err(errors::invalid_request(
                "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.",
            ));
        }
        let kind = match input.str("ChecksumType") {
            Some("FULL_OBJECT") => {
                let a = alg.unwrap_or(Algorithm::Crc64Nvme);
                if !a.is_crc() {
                    return Err(errors::invalid_request(format!(
                        "The FULL_OBJECT checksum type cannot be used with the {} checksum algorithm.",
                        a.name().to_ascii_lowercase()
                    )));
                }
                Some(Kind::FullObject)
            }
            Some("COMPOSITE") => {
                if alg == Some(Algorithm::Crc64Nvme) {
                    return Err(errors::invalid_request(
                        "The COMPOSITE checksum type cannot be used with the crc64nvme checksum algorithm.",
                    ));
                }
                Some(Kind::Composite)
            }
            _ => alg.map(|a| {
                if a == Algorithm::Crc64Nvme {
                    Kind::FullObject
                } else {
                    Kind::Composite
                }
            }),
        };
        let up = Upload {
            bucket: b.name(),
            key: key.to_owned(),
            upload_id: random_id(64),
            initiated_ms: ctx.clock.now_millis(),
            owner: ctx.account_id.clone(),
            meta,
            tags: parse_tagging_header(input.str("Tagging"))?,
            checksum_algorithm: alg
                .or((kind == Some(Kind::FullObject)).then_some(Algorithm::Crc64Nvme)),
            checksum_kind: kind,
            key_deleted_ms: None,
            parts: Default::default(),
        };
        let batch = self
            .store
            .put(T_UPLOADS, up.upload_id.as_bytes().to_vec(), &up);
        self.store.commit(batch).await?;
        let mut out = Value::map()
            .with("Bucket", up.bucket.as_str())
            .with("Key", key)
            .with("UploadId", up.upload_id.as_str());
        crate::sse::add_headers(&up.meta, &mut out);
        if let Some(a) = up.checksum_algorithm {
            out.insert("ChecksumAlgorithm", a.name());
        }
        if let Some(k) = up.checksum_kind {
            out.insert("ChecksumType", k.name());
        }
        b.uploads.lock().unwrap().insert(up.upload_id.clone(), up);
        Ok(out)
    }

    /// A snapshot of an upload of `key` (without its parts).
    fn upload_of(b: &crate::store::Bucket, key: &str, id: &str) -> Result<Upload, AwsError> {
        let uploads = b.uploads.lock().unwrap();
        match uploads.get(id) {
            Some(u) if u.key == key => Ok(Upload {
                parts: Default::default(),
                ..u.clone()
            }),
            _ => Err(errors::no_such_upload(id)),
        }
    }

    /// Records a written part; frees the part it replaces.
    async fn store_part(
        &self,
        b: &crate::store::Bucket,
        up: &Upload,
        part: Part,
    ) -> Result<(), AwsError> {
        let batch = self.store.put(T_PARTS, part.storage_key(), &part);
        if let Err(e) = self.store.commit(batch).await {
            self.store.free_segment(&part.segment);
            return Err(e);
        }
        let replaced = {
            let mut uploads = b.uploads.lock().unwrap();
            match uploads.get_mut(&up.upload_id) {
                Some(u) => Ok(u.parts.insert(part.number, part)),
                None => Err(part),
            }
        };
        match replaced {
            Ok(Some(old)) => self.store.free_segment(&old.segment),
            Ok(None) => {}
            // Aborted or completed while this part was uploading.
            Err(part) => {
                self.store.free_segment(&part.segment);
                self.store
                    .commit(vec![Mutation::delete(T_PARTS, part.storage_key())])
                    .await?;
                return Err(errors::no_such_upload(&up.upload_id));
            }
        }
        Ok(())
    }

    pub(crate) async fn upload_part(
        &self,
        ctx: &RequestContext,
        mut input: Input,
    ) -> Result<Output, AwsError> {
        let mut body = input.body.take();
        let result = self.upload_part_with(ctx, &input.value, &mut body).await;
        if result.is_err() {
            crate::store::drain(body.take()).await;
        }
        result
    }

    /// UploadPart; takes `body` only after the checks that need none (see PutObject).
    async fn upload_part_with(
        &self,
        ctx: &RequestContext,
        v: &Value,
        body: &mut Option<nephos_core::ByteStream>,
    ) -> Result<Output, AwsError> {
        let key = v.str("Key").unwrap_or_default();
        let b = self.bucket_for_key(ctx, v.str("Bucket").unwrap_or_default(), Some(key))?;
        let number = part_number(v)?;
        let up = Self::upload_of(&b, key, v.str("UploadId").unwrap_or_default())?;
        check_part_key(&up, v)?;
        let sent_alg = crate::objects::wanted_checksum(v);
        if let (Some(expected), Some(actual)) = (up.checksum_algorithm, sent_alg)
            && expected != actual
        {
            return Err(errors::invalid_request(format!(
                "Checksum Type mismatch occurred, expected checksum Type: {}, actual checksum Type: {}",
                expected.name().to_ascii_lowercase(),
                actual.name().to_ascii_lowercase()
            )));
        }
        let wanted = sent_alg.or(up.checksum_algorithm);
        let written = self.store.write_body(body.take(), wanted, true).await?;
        let sent = match verify_body(v, &written) {
            Ok(sent) => sent,
            Err(mut e) => {
                // UploadPart quotes the Content-MD5 it expected as sent, not in hex.
                if e.fields.contains_key("ExpectedDigest")
                    && let Some(md5) = v.str("ContentMD5")
                {
                    e = e.with_field("ExpectedDigest", md5);
                }
                self.store.free_body(&written.body);
                return Err(e);
            }
        };
        let BodyRef::Blobs(mut segs) = written.body else {
            return Err(errors::storage("a part was not written as a blob"));
        };
        let segment = segs.pop().unwrap_or(Segment {
            blob: String::new(),
            len: 0,
        });
        let part = Part {
            upload_id: up.upload_id.clone(),
            number,
            segment,
            digests: written.digests,
            last_modified_ms: ctx.clock.now_millis(),
        };
        let mut out = Value::map().with("ETag", part.etag());
        crate::sse::add_headers(&up.meta, &mut out);
        // The answer echoes the checksum the part was sent with, even when the upload
        // names no algorithm (ListParts then shows none).
        if let Some((alg, value)) = sent.or_else(|| part_checksum(&up, &part.digests)) {
            out.insert(alg.member(), value);
        }
        self.store_part(&b, &up, part).await?;
        Ok(Output::new(out))
    }

    pub(crate) async fn upload_part_copy(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let key = input.str("Key").unwrap_or_default();
        let b = self.bucket_for_key(ctx, input.str("Bucket").unwrap_or_default(), Some(key))?;
        let number = part_number(input)?;
        let up = Self::upload_of(&b, key, input.str("UploadId").unwrap_or_default())?;
        let (_, src) = self.copy_source(ctx, input.str("CopySource").unwrap_or_default())?;
        crate::conditions::check_copy_source(
            input,
            &src.etag,
            src.last_modified_ms,
            ctx.clock.now_millis(),
        )?;
        crate::sse::check_read(&src.meta, input, "CopySource")?;
        check_part_key(&up, input)?;
        let (start, end) = match input.str("CopySourceRange") {
            None => (0, src.size),
            Some(r) => copy_range(r, src.size)?,
        };
        let stream = self.store.read_range(&src.body, start, end)?;
        let written = self
            .store
            .write_body(Some(stream), up.checksum_algorithm, true)
            .await?;
        let BodyRef::Blobs(mut segs) = written.body else {
            return Err(errors::storage("a part was not written as a blob"));
        };
        let segment = segs.pop().unwrap_or(Segment {
            blob: String::new(),
            len: 0,
        });
        let now = ctx.clock.now_millis();
        let part = Part {
            upload_id: up.upload_id.clone(),
            number,
            segment,
            digests: written.digests,
            last_modified_ms: now,
        };
        let mut result = Value::map()
            .with("ETag", part.etag())
            .with("LastModified", Timestamp::from_millis(now));
        if let Some((alg, value)) = part_checksum(&up, &part.digests) {
            result.insert(alg.member(), value);
        }
        self.store_part(&b, &up, part).await?;
        let mut out = Value::map().with("CopyPartResult", result);
        crate::sse::add_headers(&up.meta, &mut out);
        // A null source version is not named, as CopyObject does.
        if src.version_id != NULL_VERSION {
            out.insert("CopySourceVersionId", src.version_id.as_str());
        }
        Ok(out)
    }

    pub(crate) async fn complete_multipart_upload(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let key = input.str("Key").unwrap_or_default();
        let bucket = input.str("Bucket").unwrap_or_default();
        let b = self.bucket_for_key(ctx, bucket, Some(key))?;
        let id = input.str("UploadId").unwrap_or_default();
        let requested = input
            .get("MultipartUpload")
            .and_then(|m| m.get("Parts"))
            .and_then(Value::as_list)
            .unwrap_or_default();
        // Take the upload out so a concurrent complete or abort cannot use it too; an
        // unknown upload is reported before an empty part list.
        let up = {
            let mut uploads = b.uploads.lock().unwrap();
            match uploads.get(id) {
                Some(u) if u.key == key && !requested.is_empty() => uploads.remove(id),
                Some(u) if u.key == key => None,
                _ => return Err(errors::no_such_upload(id)),
            }
        }
        .ok_or_else(|| match input.get("MultipartUpload") {
            None => errors::invalid_request("You must specify at least one part"),
            Some(_) => errors::malformed_xml(),
        })?;
        if input.get("SSECustomerAlgorithm").is_some()
            && let Err(e) = check_part_key(&up, input)
        {
            b.uploads.lock().unwrap().insert(id.to_owned(), up);
            return Err(e);
        }
        let restore = |up: Upload| {
            b.uploads.lock().unwrap().insert(up.upload_id.clone(), up);
        };
        let mut chosen: Vec<&Part> = Vec::new();
        let mut failure = check_complete_mode(&up, input).err();
        let numbers: Vec<i64> = requested
            .iter()
            .map(|p| p.int("PartNumber").unwrap_or(0))
            .collect();
        if failure.is_none() && numbers.windows(2).any(|w| w[1] <= w[0]) {
            failure = Some(AwsError::new(
                400,
                "InvalidPartOrder",
                "The list of parts was not in ascending order. Parts must be ordered by part number.",
            )
            .with_field("UploadId", id));
        }
        for (i, p) in requested.iter().enumerate() {
            if failure.is_some() {
                break;
            }
            let n = numbers[i];
            let etag = p.str("ETag").unwrap_or_default();
            let invalid_part = || {
                AwsError::new(
                    400,
                    "InvalidPart",
                    "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
                )
                .with_field("UploadId", id)
                .with_field("PartNumber", n.to_string())
                .with_field("ETag", etag.trim_matches('"'))
            };
            let found = u32::try_from(n).ok().and_then(|n| up.parts.get(&n));
            let Some(part) =
                found.filter(|part| crate::conditions::etag_matches(etag, &part.etag()))
            else {
                failure = Some(invalid_part());
                break;
            };
            if i + 1 < requested.len() && part.segment.len < MIN_PART_SIZE {
                failure = Some(
                    AwsError::new(
                        400,
                        "EntityTooSmall",
                        "Your proposed upload is smaller than the minimum allowed size",
                    )
                    .with_field("ProposedSize", part.segment.len.to_string())
                    .with_field("MinSizeAllowed", MIN_PART_SIZE.to_string())
                    .with_field("PartNumber", n.to_string())
                    .with_field("ETag", part.etag().trim_matches('"')),
                );
                break;
            }
            if let Err(e) = check_part_checksum(&up, p, part, n, invalid_part) {
                failure = Some(e);
                break;
            }
            chosen.push(part);
        }
        if failure.is_none()
            && let Err(e) = Self::check_complete_conditions(&b, key, input, &up)
        {
            failure = Some(e);
        }
        let size: u64 = chosen.iter().map(|p| p.segment.len).sum();
        if failure.is_none()
            && let Some(expected) = input.int("MpuObjectSize")
            && expected as u64 != size
        {
            failure = Some(errors::invalid_request(format!(
                "The provided 'x-amz-mp-object-size' header value {expected} does not match what was computed: {size}"
            )));
        }
        let digests: Vec<&Digests> = chosen.iter().map(|p| &p.digests).collect();
        let kind = up.checksum_kind.unwrap_or(Kind::FullObject);
        let alg = up.checksum_algorithm.unwrap_or(Algorithm::Crc64Nvme);
        let value = match kind {
            Kind::Composite => checksum::composite(alg, &digests),
            Kind::FullObject => {
                let with_len: Vec<(&Digests, u64)> =
                    chosen.iter().map(|p| (&p.digests, p.segment.len)).collect();
                checksum::combine_crc(alg, &with_len)
            }
        };
        if failure.is_none()
            && kind == Kind::FullObject
            && let Some(upload_alg) = up.checksum_algorithm
            && let Some((sent_alg, sent)) = checksum::ALL
                .into_iter()
                .find_map(|a| input.str(a.member()).map(|v| (a, v)))
            // Without x-amz-checksum-type the checksum is not taken as the full object's.
            && (input.str("ChecksumType").is_none()
                || sent_alg != upload_alg
                || value.as_deref() != Some(sent.trim()))
        {
            failure = Some(complete_mismatch(upload_alg));
        }
        if let Some(e) = failure {
            restore(up);
            return Err(e);
        }
        let version = Version {
            bucket: b.name(),
            key: key.to_owned(),
            version_id: Self::new_version_id(&b),
            seq: self.store.next_seq(),
            delete_marker: false,
            last_modified_ms: ctx.clock.now_millis(),
            etag: checksum::multipart_etag(&digests),
            size,
            body: BodyRef::Blobs(chosen.iter().map(|p| p.segment.clone()).collect()),
            meta: up.meta.clone(),
            tags: up.tags.clone(),
            checksum: value.map(|value| Stored {
                algorithm: alg,
                kind,
                value,
            }),
            parts: chosen
                .iter()
                .map(|p| PartSummary {
                    size: p.segment.len,
                    checksum: up.checksum_algorithm.and_then(|a| p.digests.b64(a)),
                })
                .collect(),
        };
        let used: Vec<u32> = chosen.iter().map(|p| p.number).collect();
        let mut batch = self.store.put(T_OBJECTS, version.storage_key(), &version);
        if self.store.storage.is_durable() {
            batch.push(Mutation::delete(T_UPLOADS, up.upload_id.as_bytes()));
            for n in up.parts.keys() {
                batch.push(Mutation::delete(T_PARTS, part_key(&up.upload_id, *n)));
            }
        }
        if let Err(e) = self.store.commit(batch).await {
            restore(up);
            return Err(e);
        }
        for (n, p) in &up.parts {
            if !used.contains(n) {
                self.store.free_segment(&p.segment);
            }
        }
        let v = std::sync::Arc::new(version);
        if let Some(old) = b.insert(v.clone()) {
            self.store.free_body(&old.body);
        }
        let mut out = Value::map()
            .with(
                "Location",
                crate::listing::object_url(ctx.host.as_deref(), bucket, key),
            )
            .with("Bucket", bucket)
            .with("Key", key)
            .with("ETag", v.etag.as_str());
        crate::sse::add_headers(&v.meta, &mut out);
        if let Some(c) = &v.checksum {
            c.add_to(&mut out, true);
        }
        if v.version_id != NULL_VERSION {
            out.insert("VersionId", v.version_id.as_str());
        }
        Ok(out)
    }

    fn check_complete_conditions(
        b: &crate::store::Bucket,
        key: &str,
        input: &Value,
        up: &Upload,
    ) -> Result<(), AwsError> {
        let latest = b.latest(key);
        let target = crate::conditions::WriteTarget {
            current_etag: latest
                .as_ref()
                .filter(|v| !v.delete_marker)
                .map(|v| v.etag.as_str()),
            last_write_ms: latest
                .as_ref()
                .map(|v| v.last_modified_ms)
                .max(up.key_deleted_ms),
        };
        crate::conditions::check_write(input, key, target, Some(up.initiated_ms))
    }

    pub(crate) async fn abort_multipart_upload(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let key = input.str("Key").unwrap_or_default();
        let b = self.bucket_for_key(ctx, input.str("Bucket").unwrap_or_default(), Some(key))?;
        let id = input.str("UploadId").unwrap_or_default();
        let up = {
            let mut uploads = b.uploads.lock().unwrap();
            match uploads.get(id) {
                Some(u) if u.key == key => uploads.remove(id),
                _ => None,
            }
        }
        .ok_or_else(|| errors::no_such_upload(id))?;
        let mut batch = vec![Mutation::delete(T_UPLOADS, up.upload_id.as_bytes())];
        for n in up.parts.keys() {
            batch.push(Mutation::delete(T_PARTS, part_key(&up.upload_id, *n)));
        }
        self.store.commit(batch).await?;
        for p in up.parts.values() {
            self.store.free_segment(&p.segment);
        }
        Ok(Value::map())
    }

    pub(crate) fn list_parts(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let key = input.str("Key").unwrap_or_default();
        let b = self.bucket_for_key(ctx, input.str("Bucket").unwrap_or_default(), Some(key))?;
        let id = input.str("UploadId").unwrap_or_default();
        let marker = input.int("PartNumberMarker").unwrap_or(0).max(0) as u32;
        let max = input.int("MaxParts").unwrap_or(1000).clamp(0, 1000) as usize;
        let uploads = b.uploads.lock().unwrap();
        let up = uploads
            .get(id)
            .filter(|u| u.key == key)
            .ok_or_else(|| errors::no_such_upload(id))?;
        let mut parts = Vec::new();
        let mut truncated = false;
        let mut last = None;
        for (n, p) in up.parts.range(marker + 1..) {
            if parts.len() == max {
                truncated = true;
                break;
            }
            let mut e = Value::map()
                .with("PartNumber", i64::from(*n))
                .with("LastModified", Timestamp::from_millis(p.last_modified_ms))
                .with("ETag", p.etag())
                .with("Size", p.segment.len as i64);
            if let Some((alg, value)) = part_checksum(up, &p.digests) {
                e.insert(alg.member(), value);
            }
            parts.push(e);
            last = Some(*n);
        }
        let mut out = Value::map()
            .with("Bucket", up.bucket.as_str())
            .with("Key", key)
            .with("UploadId", id)
            .with("PartNumberMarker", i64::from(marker))
            .with("MaxParts", max as i64)
            .with("IsTruncated", truncated)
            .with("Initiator", owner_value(&up.owner))
            .with("Owner", owner_value(&up.owner))
            .with(
                "StorageClass",
                up.meta.storage_class.as_deref().unwrap_or("STANDARD"),
            );
        // Always sent: the last part listed, 0 when none was.
        out.insert("NextPartNumberMarker", i64::from(last.unwrap_or(0)));
        if let Some(a) = up.checksum_algorithm {
            out.insert("ChecksumAlgorithm", a.name());
        }
        if let Some(k) = up.checksum_kind {
            out.insert("ChecksumType", k.name());
        }
        if !parts.is_empty() {
            out.insert("Parts", Value::List(parts));
        }
        Ok(out)
    }

    pub(crate) fn list_multipart_uploads(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let bucket = input.str("Bucket").unwrap_or_default();
        let b = self.bucket_for(ctx, bucket)?;
        let url = crate::listing::url_encoding(input)?;
        let enc = |s: &str| crate::listing::enc(s, url);
        let prefix = input.str("Prefix").unwrap_or_default();
        let delimiter = input.str("Delimiter").filter(|d| !d.is_empty());
        let key_marker = input.str("KeyMarker").unwrap_or_default();
        // An upload id marker means nothing without a key marker.
        let id_marker = input
            .str("UploadIdMarker")
            .filter(|_| !key_marker.is_empty())
            .unwrap_or_default();
        let max = input.int("MaxUploads").unwrap_or(1000).clamp(0, 1000) as usize;
        let mut all: Vec<(String, i64, String, Value)> = {
            let uploads = b.uploads.lock().unwrap();
            uploads
                .values()
                .filter(|u| u.key.starts_with(prefix))
                .map(|u| {
                    let mut e = Value::map()
                        .with("UploadId", u.upload_id.as_str())
                        .with("Key", enc(&u.key))
                        .with("Initiated", Timestamp::from_millis(u.initiated_ms))
                        .with(
                            "StorageClass",
                            u.meta.storage_class.as_deref().unwrap_or("STANDARD"),
                        )
                        .with("Owner", owner_value(&u.owner))
                        .with("Initiator", owner_value(&u.owner));
                    if let Some(a) = u.checksum_algorithm {
                        e.insert("ChecksumAlgorithm", a.name());
                    }
                    if let Some(k) = u.checksum_kind {
                        e.insert("ChecksumType", k.name());
                    }
                    (u.key.clone(), u.initiated_ms, u.upload_id.clone(), e)
                })
                .collect()
        };
        all.sort_by(|a, b| (&a.0, a.1, &a.2).cmp(&(&b.0, b.1, &b.2)));
        let mut uploads = Vec::new();
        let mut prefixes: Vec<String> = Vec::new();
        let mut truncated = false;
        let mut next = None;
        // Uploads of one key list in the order they began, so an upload id marker is a
        // position, and must name an upload of the key marker.
        let skip = if !key_marker.is_empty() && !id_marker.is_empty() {
            let at = all
                .iter()
                .position(|(k, _, id, _)| k == key_marker && id == id_marker)
                .ok_or_else(|| {
                    errors::invalid_arg(
                        "Invalid uploadId marker",
                        "upload-id-marker",
                        Some(id_marker),
                    )
                })?;
            at + 1
        } else {
            all.iter()
                .take_while(|(k, ..)| !key_marker.is_empty() && k.as_str() <= key_marker)
                .count()
        };
        for (key, _, id, e) in all.into_iter().skip(skip) {
            if let Some(d) = delimiter
                && let Some(i) = key[prefix.len()..].find(d)
            {
                let cp = key[..prefix.len() + i + d.len()].to_owned();
                // A prefix the key marker is in (or past) was listed on an earlier page.
                if !key_marker.is_empty() && cp.as_str() <= key_marker {
                    continue;
                }
                if prefixes.last() != Some(&cp) {
                    if uploads.len() + prefixes.len() == max {
                        truncated = true;
                        break;
                    }
                    prefixes.push(cp);
                }
                continue;
            }
            if uploads.len() + prefixes.len() == max {
                truncated = true;
                break;
            }
            next = Some((key.clone(), id.clone()));
            uploads.push(e);
        }
        // The next markers are always sent: the last upload listed, else empty.
        let (next_key, next_id) = next.unwrap_or_default();
        let mut out = Value::map()
            .with("Bucket", bucket)
            .with("KeyMarker", enc(key_marker))
            .with("UploadIdMarker", id_marker)
            .with("NextKeyMarker", enc(&next_key))
            .with("NextUploadIdMarker", next_id)
            .with("MaxUploads", max as i64)
            .with("IsTruncated", truncated);
        if input.get("Prefix").is_some() {
            out.insert("Prefix", enc(prefix));
        }
        if let Some(d) = delimiter {
            out.insert("Delimiter", enc(d));
        }
        if url {
            out.insert("EncodingType", "url");
        }
        if !uploads.is_empty() {
            out.insert("Uploads", Value::List(uploads));
        }
        if !prefixes.is_empty() {
            out.insert(
                "CommonPrefixes",
                Value::List(
                    prefixes
                        .into_iter()
                        .map(|p| Value::map().with("Prefix", enc(&p)))
                        .collect(),
                ),
            );
        }
        Ok(out)
    }
}
