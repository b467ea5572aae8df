//! Server access logging: every request to a bucket with logging enabled becomes one
//! line in AWS's server access log format, buffered per source bucket and delivered as
//! log objects to the target bucket periodically on the shared clock (as AWS delivers
//! them in batches), provided the target bucket lets the logging service write: a
//! bucket policy allowing the `logging.s3.amazonaws.com` service principal
//! `s3:PutObject` (conditions on `aws:SourceArn`/`aws:SourceAccount` are evaluated), or,
//! on buckets with ACLs enabled, a WRITE grant to the Log Delivery group.

use crate::S3Provider;
use crate::acl::{Grantee, LOG_DELIVERY};
use crate::checksum::{Algorithm, Kind, Stored};
use crate::store::{Bucket, ObjectMeta, Version, canonical_id};
use nephos_core::{AwsError, ByteStream, Clock, Output, RequestContext, Timestamp, Value};
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::sync::{Arc, Weak};

/// How often buffered records are delivered, in clock milliseconds.
pub const FLUSH_MS: i64 = 60_000;
const SERVICE: &str = "logging.s3.amazonaws.com";

/// Where one source bucket's records go.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Target {
    pub bucket: String,
    pub prefix: String,
    /// `TargetObjectKeyFormat.PartitionedPrefix` rather than the simple prefix.
    pub partitioned: bool,
    pub source: String,
    pub source_account: String,
    pub source_region: String,
}

/// Records waiting for delivery.
#[derive(Default)]
pub struct Pending(std::sync::Mutex<BTreeMap<Target, Vec<String>>>);

impl Pending {
    pub fn clear(&self) {
        self.0.lock().unwrap().clear();
    }
}

/// (year, month, day, hour, minute, second) of a clock time, in UTC.
fn civil(ms: i64) -> [String; 6] {
    let iso = Timestamp::from_millis(ms.div_euclid(1000) * 1000).to_iso8601();
    let d = |a: usize, b: usize| iso.get(a..b).unwrap_or("00").to_owned();
    [d(0, 4), d(5, 7), d(8, 10), d(11, 13), d(14, 16), d(17, 19)]
}

/// `[06/Feb/2019:00:00:38 +0000]`
fn log_time(ms: i64) -> String {
    format!("[{}]", Timestamp::from_millis(ms).to_common_log_date())
}

/// The key of a log object delivered at `ms`.
pub fn object_key(t: &Target, ms: i64) -> String {
    let [y, mo, d, h, mi, s] = civil(ms);
    let unique = crate::store::random_id(16)
        .replace(['.', '_'], "0")
        .to_ascii_uppercase();
    let name = format!("{y}-{mo}-{d}-{h}-{mi}-{s}-{unique}");
    if t.partitioned {
        format!(
            "{}{}/{}/{}/{y}/{mo}/{d}/{name}",
            t.prefix, t.source_account, t.source_region, t.source
        )
    } else {
        format!("{}{name}", t.prefix)
    }
}

/// The `REST.<METHOD>.<RESOURCE>` name AWS logs for an operation.
pub fn log_operation(op: &str) -> String {
    let fixed = match op {
        "GetObject" => "REST.GET.OBJECT",
        "HeadObject" => "REST.HEAD.OBJECT",
        "PutObject" => "REST.PUT.OBJECT",
        "DeleteObject" => "REST.DELETE.OBJECT",
        "CopyObject" => "REST.COPY.OBJECT",
        "DeleteObjects" => "REST.POST.MULTI_OBJECT_DELETE",
        "CreateMultipartUpload" => "REST.POST.UPLOADS",
        "UploadPart" => "REST.PUT.PART",
        "UploadPartCopy" => "REST.COPY.PART",
        "CompleteMultipartUpload" => "REST.POST.UPLOAD",
        "AbortMultipartUpload" => "REST.DELETE.UPLOAD",
        "ListParts" => "REST.GET.UPLOAD",
        "ListMultipartUploads" => "REST.GET.UPLOADS",
        "ListObjects" | "ListObjectsV2" => "REST.GET.BUCKET",
        "ListObjectVersions" => "REST.GET.BUCKETVERSIONS",
        "HeadBucket" => "REST.HEAD.BUCKET",
        "CreateBucket" => "REST.PUT.BUCKET",
        "DeleteBucket" => "REST.DELETE.BUCKET",
        "GetBucketAcl" | "GetObjectAcl" => "REST.GET.ACL",
        "PutBucketAcl" | "PutObjectAcl" => "REST.PUT.ACL",
        "GetBucketPolicy" => "REST.GET.BUCKETPOLICY",
        "PutBucketPolicy" => "REST.PUT.BUCKETPOLICY",
        "DeleteBucketPolicy" => "REST.DELETE.BUCKETPOLICY",
        "GetBucketLogging" => "REST.GET.LOGGING_STATUS",
        "PutBucketLogging" => "REST.PUT.LOGGING_STATUS",
        _ => "",
    };
    if !fixed.is_empty() {
        return fixed.to_owned();
    }
    let (method, rest) = [
        ("Get", "GET"),
        ("Put", "PUT"),
        ("Delete", "DELETE"),
        ("List", "GET"),
    ]
    .iter()
    .find_map(|(p, m)| op.strip_prefix(p).map(|r| (*m, r)))
    .unwrap_or(("GET", op));
    let rest = rest.strip_prefix("Bucket").unwrap_or(rest);
    let rest = rest.strip_suffix("Configuration").unwrap_or(rest);
    let mut resource = String::new();
    for (i, c) in rest.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            resource.push('_');
        }
        resource.push(c.to_ascii_uppercase());
    }
    format!("REST.{method}.{resource}")
}

/// Whether a policy lets the logging service write `key` for `t`'s source bucket.
fn policy_allows(policy: &str, t: &Target) -> bool {
    let Ok(doc) = serde_json::from_str::<Json>(policy) else {
        return false;
    };
    let statements = match doc.get("Statement") {
        Some(Json::Array(a)) => a.clone(),
        Some(s) => vec![s.clone()],
        None => Vec::new(),
    };
    let resource = format!("arn:aws:s3:::{}/{}", t.bucket, t.prefix);
    let list = |v: Option<&Json>| -> Vec<String> {
        match v {
            Some(Json::String(s)) => vec![s.clone()],
            Some(Json::Array(a)) => a
                .iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        }
    };
    let mut allowed = false;
    for s in &statements {
        let principal = match s.get("Principal") {
            Some(Json::String(p)) => p == "*",
            Some(Json::Object(o)) => list(o.get("Service")).iter().any(|x| x == SERVICE),
            _ => false,
        };
        let action = list(s.get("Action"))
            .iter()
            .any(|a| crate::policy::glob(&a.to_ascii_lowercase(), "s3:putobject"));
        // The log object's key starts with the prefix; a resource covering the prefix
        // (or the whole bucket) covers it.
        let res = list(s.get("Resource"))
            .iter()
            .any(|r| crate::policy::glob(r, &format!("{resource}x")) || *r == resource);
        if !(principal && action && res && conditions_hold(s.get("Condition"), t)) {
            continue;
        }
        match s.get("Effect").and_then(Json::as_str) {
            Some("Deny") => return false,
            Some("Allow") => allowed = true,
            _ => {}
        }
    }
    allowed
}

/// The conditions AWS recommends for log delivery: `aws:SourceArn` and
/// `aws:SourceAccount` with the String/Arn operators; any other condition fails.
fn conditions_hold(c: Option<&Json>, t: &Target) -> bool {
    let Some(Json::Object(ops)) = c else {
        return c.is_none();
    };
    let source_arn = format!("arn:aws:s3:::{}", t.source);
    ops.iter().all(|(op, tests)| {
        let Json::Object(tests) = tests else {
            return false;
        };
        tests.iter().all(|(key, want)| {
            let have = match key.to_ascii_lowercase().as_str() {
                "aws:sourcearn" => source_arn.as_str(),
                "aws:sourceaccount" => t.source_account.as_str(),
                _ => return false,
            };
            let wants: Vec<&str> = match want {
                Json::String(s) => vec![s.as_str()],
                Json::Array(a) => a.iter().filter_map(Json::as_str).collect(),
                _ => return false,
            };
            match op.as_str() {
                "StringEquals" | "ArnEquals" => wants.contains(&have),
                "StringLike" | "ArnLike" => wants.iter().any(|w| crate::policy::glob(w, have)),
                _ => false,
            }
        })
    })
}

/// Whether the target bucket accepts logs from the logging service.
pub fn may_deliver(target: &Bucket, t: &Target) -> bool {
    let m = target.meta.read().unwrap();
    if m.policy.as_deref().is_some_and(|p| policy_allows(p, t)) {
        return true;
    }
    let acls_on = m.ownership.as_deref() != Some("BucketOwnerEnforced");
    acls_on
        && m.acl.as_deref().is_some_and(|g| {
            g.iter().any(|g| {
                g.grantee == Grantee::Group(LOG_DELIVERY.into())
                    && (g.permission == "WRITE" || g.permission == "FULL_CONTROL")
            })
        })
}

fn dash(s: Option<String>) -> String {
    s.filter(|s| !s.is_empty())
        .unwrap_or_else(|| "-".to_owned())
}

impl S3Provider {
    /// The logging target of a bucket, when logging is enabled.
    fn logging_target(&self, b: &Bucket) -> Option<Target> {
        let m = b.meta.read().unwrap();
        let c = m.configs.get("logging")?;
        let bucket = c.get("TargetBucket")?.as_str()?.to_owned();
        Some(Target {
            bucket,
            prefix: c
                .get("TargetPrefix")
                .and_then(Json::as_str)
                .unwrap_or_default()
                .to_owned(),
            partitioned: c
                .get("TargetObjectKeyFormat")
                .and_then(|f| f.get("PartitionedPrefix"))
                .is_some(),
            source: m.name.clone(),
            source_account: m.owner.clone(),
            source_region: m.region.clone(),
        })
    }

    /// Buffers the access log record of one request to a bucket with logging enabled.
    pub(crate) fn log_access(
        &self,
        ctx: &RequestContext,
        input: &Value,
        result: &Result<Output, AwsError>,
        elapsed_ms: u64,
    ) {
        let Some(bucket) = input.str("Bucket") else {
            return;
        };
        let Some(b) = self.store.bucket(bucket) else {
            return;
        };
        let Some(target) = self.logging_target(&b) else {
            return;
        };
        let op = ctx.operation.as_str();
        let website = ctx
            .host
            .as_deref()
            .and_then(crate::website::website_bucket)
            .is_some()
            && matches!(op, "GetObject" | "HeadObject");
        let raw_key = input.str("Key").map(str::to_owned);
        let (operation, key, method, path) = if website {
            let raw = raw_key.unwrap_or_default();
            let (m, p) = raw.split_once(' ').unwrap_or(("GET", raw.as_str()));
            let key = percent_encoding::percent_decode_str(p.trim_start_matches('/'))
                .decode_utf8_lossy()
                .into_owned();
            (
                format!("WEBSITE.{m}.OBJECT"),
                Some(key),
                m.to_owned(),
                p.to_owned(),
            )
        } else {
            let operation = log_operation(op);
            let method = operation
                .split('.')
                .nth(1)
                .map(|m| if m == "COPY" { "PUT" } else { m })
                .unwrap_or("GET")
                .to_owned();
            let path = match &raw_key {
                Some(k) => format!("/{bucket}/{k}"),
                None => format!("/{bucket}"),
            };
            (operation, raw_key, method, path)
        };
        let (status, error, bytes_sent, object_size, version) = match result {
            Ok(out) => {
                let v = &out.value;
                let status = if v.get("ContentRange").is_some() {
                    206
                } else if op.starts_with("Delete") && op != "DeleteObjects" {
                    204
                } else {
                    200
                };
                let sent = matches!(op, "GetObject")
                    .then(|| v.int("ContentLength").map(|n| n.to_string()))
                    .flatten();
                let size = match op {
                    "GetObject" | "HeadObject" => v.int("ContentLength").map(|n| n.to_string()),
                    "PutObject" | "UploadPart" => input.int("ContentLength").map(|n| n.to_string()),
                    _ => None,
                };
                (
                    status,
                    None,
                    sent,
                    size,
                    v.str("VersionId").map(str::to_owned),
                )
            }
            Err(e) => (e.status, Some(e.code.to_string()), None, None, None),
        };
        let signed = ctx.access_key_id.is_some();
        let wire = ctx.wire.as_deref();
        let request_line = match wire {
            Some(w) => w.request_line.clone(),
            None => format!("{method} {path} HTTP/1.1"),
        };
        let quoted = |v: Option<&String>| format!("\"{}\"", v.map_or("-", |s| s.as_str()));
        let auth_type = match wire {
            _ if !signed => "-",
            Some(w) if w.query_signed => "QueryString",
            _ => "AuthHeader",
        };
        let line = [
            canonical_id(&target.source_account),
            bucket.to_owned(),
            log_time(ctx.clock.now_millis()),
            dash(ctx.source_ip.map(|ip| ip.to_string())),
            if signed {
                canonical_id(&ctx.account_id)
            } else {
                "-".to_owned()
            },
            ctx.request_id.clone(),
            operation,
            dash(key),
            format!("\"{request_line}\""),
            status.to_string(),
            dash(error),
            dash(bytes_sent),
            dash(object_size),
            elapsed_ms.to_string(),
            "-".to_owned(),
            quoted(wire.and_then(|w| w.referer.as_ref())),
            quoted(wire.and_then(|w| w.user_agent.as_ref())),
            dash(version),
            crate::store::b64_encode(ctx.request_id.as_bytes()),
            match wire.and_then(|w| w.signature_version) {
                _ if !signed => "-",
                Some(v) => v,
                None => "SigV4",
            }
            .to_owned(),
            "-".to_owned(),
            auth_type.to_owned(),
            dash(ctx.host.clone()),
            "-".to_owned(),
            "-".to_owned(),
            "-".to_owned(),
        ]
        .join(" ");
        self.access_logs
            .0
            .lock()
            .unwrap()
            .entry(target)
            .or_default()
            .push(line);
    }

    /// Delivers every buffered record: one log object per source bucket and batch.
    pub async fn flush_access_logs(&self, now_ms: i64) {
        let batches = std::mem::take(&mut *self.access_logs.0.lock().unwrap());
        for (t, lines) in batches {
            let Some(target) = self.store.bucket(&t.bucket) else {
                continue;
            };
            if !may_deliver(&target, &t) {
                tracing::debug!(bucket = %t.bucket, "target bucket refuses access logs");
                continue;
            }
            let mut text = lines.join("\n");
            text.push('\n');
            let key = object_key(&t, now_ms);
            if let Err(e) = self.put_log_object(&target, &key, text, now_ms).await {
                tracing::warn!(error = %e.message, "delivering access logs failed");
            }
        }
    }

    async fn put_log_object(
        &self,
        b: &Bucket,
        key: &str,
        text: String,
        now_ms: i64,
    ) -> Result<(), AwsError> {
        let written = self
            .store
            .write_body(Some(ByteStream::from_bytes(text)), None, false)
            .await?;
        let default = b
            .meta
            .read()
            .unwrap()
            .encryption
            .clone()
            .unwrap_or_default();
        let meta = ObjectMeta {
            content_type: Some("text/plain".to_owned()),
            sse: Some(default.algorithm),
            sse_kms_key: default.kms_key,
            ..ObjectMeta::default()
        };
        let checksum = written
            .digests
            .b64(Algorithm::Crc64Nvme)
            .map(|value| Stored {
                algorithm: Algorithm::Crc64Nvme,
                kind: Kind::FullObject,
                value,
            });
        let version = Version {
            bucket: b.name(),
            key: key.to_owned(),
            version_id: Self::new_version_id(b),
            seq: self.store.next_seq(),
            delete_marker: false,
            last_modified_ms: now_ms,
            etag: written.digests.etag(),
            size: written.size,
            body: written.body,
            meta,
            tags: Vec::new(),
            checksum,
            parts: Vec::new(),
        };
        self.store_version(b, version).await.map(|_| ())
    }

    /// Delivers buffered logs every [`FLUSH_MS`] of clock time (advancing the clock
    /// delivers at once).
    pub(crate) fn start_access_logs(self: &Arc<Self>, clock: Arc<Clock>) {
        if tokio::runtime::Handle::try_current().is_err() {
            return;
        }
        let me: Weak<S3Provider> = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                clock.sleep_until(clock.now_millis() + FLUSH_MS).await;
                let Some(p) = me.upgrade() else { return };
                p.flush_access_logs(clock.now_millis()).await;
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> Target {
        Target {
            bucket: "logs".into(),
            prefix: "web/".into(),
            partitioned: false,
            source: "site".into(),
            source_account: "111111111111".into(),
            source_region: "us-east-1".into(),
        }
    }

    #[test]
    fn names_and_times() {
        assert_eq!(log_operation("GetBucketVersioning"), "REST.GET.VERSIONING");
        assert_eq!(
            log_operation("GetBucketLifecycleConfiguration"),
            "REST.GET.LIFECYCLE"
        );
        assert_eq!(
            log_operation("PutPublicAccessBlock"),
            "REST.PUT.PUBLIC_ACCESS_BLOCK"
        );
        assert_eq!(log_operation("PutObject"), "REST.PUT.OBJECT");
        assert_eq!(log_time(1_549_411_238_000), "[06/Feb/2019:00:00:38 +0000]");
        let k = object_key(&target(), 1_549_411_238_000);
        assert!(k.starts_with("web/2019-02-06-00-00-38-"), "{k}");
        let mut p = target();
        p.partitioned = true;
        let k = object_key(&p, 1_549_411_238_000);
        assert!(
            k.starts_with("web/111111111111/us-east-1/site/2019/02/06/2019-02-06-00-00-38-"),
            "{k}"
        );
    }

    #[test]
    fn delivery_policy() {
        let ok = r#"{"Statement":[{"Effect":"Allow","Principal":{"Service":"logging.s3.amazonaws.com"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::logs/*","Condition":{"ArnLike":{"aws:SourceArn":"arn:aws:s3:::site"},"StringEquals":{"aws:SourceAccount":"111111111111"}}}]}"#;
        assert!(policy_allows(ok, &target()));
        let other = ok.replace("111111111111", "222222222222");
        assert!(!policy_allows(&other, &target()));
        let wrong_service = ok.replace("logging.s3", "cloudtrail");
        assert!(!policy_allows(&wrong_service, &target()));
    }
}
