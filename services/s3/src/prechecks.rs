//! Checks S3 makes of a request before its operation runs, shared by several
//! operations, and the lifecycle header of object answers.

use crate::{S3Provider, buckets, errors, lifecycle, lock, store};
use nephos_core::{AwsError, RequestContext, Value};

impl S3Provider {
    /// What S3 checks of every request before its operation runs: who may act without
    /// a bucket, and the owners the caller expects (`x-amz-expected-bucket-owner`).
    pub(crate) fn admit(&self, ctx: &RequestContext, v: &Value) -> Result<(), AwsError> {
        if ctx.anonymous
            && matches!(
                ctx.operation.as_str(),
                "CreateBucket" | "ListBuckets" | "ListDirectoryBuckets"
            )
        {
            return Err(errors::access_denied());
        }
        let source_bucket = v.str("CopySource").and_then(|s| {
            let path = s.split_once('?').map_or(s, |(p, _)| p);
            let path = path.strip_prefix('/').unwrap_or(path);
            path.split_once('/').map(|(b, _)| b.to_owned())
        });
        let checks = [
            ("ExpectedBucketOwner", v.str("Bucket").map(str::to_owned)),
            ("ExpectedSourceBucketOwner", source_bucket),
        ];
        for (member, bucket) in checks {
            let Some(expected) = v.str(member) else {
                continue;
            };
            if !nephos_core::is_account_id(expected) {
                return Err(AwsError::new(
                    400,
                    "InvalidBucketOwnerAWSAccountID",
                    format!(
                        "The value of the expected bucket owner parameter must be an AWS Account ID... [{expected}]"
                    ),
                ));
            }
            if let Some(b) = bucket.and_then(|name| self.store.bucket(&name))
                && b.owner() != expected
            {
                return Err(errors::access_denied());
            }
        }
        Ok(())
    }

    /// Request checks S3 makes before the operation, shared by several operations.
    pub(crate) fn precheck(&self, ctx: &RequestContext, v: &Value) -> Result<(), AwsError> {
        let op = ctx.operation.as_str();
        if let Some(h) = v.str("Tagging")
            && matches!(op, "PutObject" | "CopyObject" | "CreateMultipartUpload")
        {
            buckets::check_tagging_header(h)?;
        }
        let Some(b) = v.str("Bucket").and_then(|n| self.store.bucket(n)) else {
            return Ok(());
        };
        if matches!(op, "DeleteObject" | "DeleteObjects") {
            lock::check_bypass(&b, v)?;
        }
        if matches!(op, "DeleteObject" | "GetObject" | "HeadObject") {
            objects_version_check(&b, v)?;
        }
        // An upload id marker must name an upload of the key marker.
        if op == "ListMultipartUploads"
            && let (Some(key), Some(id)) = (v.str("KeyMarker"), v.str("UploadIdMarker"))
            && !key.is_empty()
            && !id.is_empty()
            && b.uploads
                .lock()
                .unwrap()
                .get(id)
                .is_none_or(|u| u.key != key)
        {
            return Err(errors::invalid_arg(
                "Invalid uploadId marker",
                "upload-id-marker",
                Some(id),
            ));
        }
        Ok(())
    }

    /// The `x-amz-expiration` header of a request on an object's current version.
    pub(crate) fn add_expiration(&self, head: &Value, out: &mut Value) {
        let Some(b) = head.str("Bucket").and_then(|n| self.store.bucket(n)) else {
            return;
        };
        let Some(rules) = b.meta.read().unwrap().lifecycle.clone() else {
            return;
        };
        let Some(v) = b.latest(head.str("Key").unwrap_or_default()) else {
            return;
        };
        if let Some(h) = lifecycle::expiration_header(&rules, &v) {
            out.insert("Expiration", h);
        }
    }
}

/// A bucket never versioned has only `null` versions: any other id is invalid, not missing.
fn objects_version_check(b: &store::Bucket, v: &Value) -> Result<(), AwsError> {
    match v.str("VersionId") {
        Some(id) if id != store::NULL_VERSION && b.versioning().is_none() => Err(
            errors::invalid_arg("Invalid version id specified", "versionId", Some(id)),
        ),
        _ => Ok(()),
    }
}
