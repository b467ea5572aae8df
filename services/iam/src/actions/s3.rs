//! S3 and S3 Control: the actions of S3's operations, which mostly differ from their
//! names (AWS's "Required permissions for Amazon S3 API operations"), on bucket, object
//! and access point ARNs, with the header condition keys S3 supplies.

use super::{Cx, Plan, collect_tags, percent_decode, text};
use nephos_core::Value;

/// The action of an operation that reads or writes one object, and the one it becomes
/// when the request names a version.
fn object_action(op: &str) -> Option<(&'static str, &'static str)> {
    Some(match op {
        "GetObject" | "HeadObject" => ("GetObject", "GetObjectVersion"),
        "GetObjectAcl" => ("GetObjectAcl", "GetObjectVersionAcl"),
        "PutObjectAcl" => ("PutObjectAcl", "PutObjectVersionAcl"),
        "GetObjectTagging" => ("GetObjectTagging", "GetObjectVersionTagging"),
        "PutObjectTagging" => ("PutObjectTagging", "PutObjectVersionTagging"),
        "DeleteObjectTagging" => ("DeleteObjectTagging", "DeleteObjectVersionTagging"),
        "DeleteObject" => ("DeleteObject", "DeleteObjectVersion"),
        "GetObjectAttributes" => ("GetObjectAttributes", "GetObjectVersionAttributes"),
        "GetObjectLegalHold" => ("GetObjectLegalHold", "GetObjectLegalHold"),
        "PutObjectLegalHold" => ("PutObjectLegalHold", "PutObjectLegalHold"),
        "GetObjectRetention" => ("GetObjectRetention", "GetObjectRetention"),
        "PutObjectRetention" => ("PutObjectRetention", "PutObjectRetention"),
        "RestoreObject" => ("RestoreObject", "RestoreObject"),
        "AbortMultipartUpload" => ("AbortMultipartUpload", "AbortMultipartUpload"),
        "ListParts" => ("ListMultipartUploadParts", "ListMultipartUploadParts"),
        "PutObject" | "CreateMultipartUpload" | "UploadPart" | "CompleteMultipartUpload" => {
            ("PutObject", "PutObject")
        }
        _ => return None,
    })
}

/// The action of an operation on a bucket (or on the account, ListBuckets).
fn bucket_action(op: &str) -> Option<&'static str> {
    Some(match op {
        "ListObjects" | "ListObjectsV2" | "HeadBucket" => "ListBucket",
        "ListObjectVersions" => "ListBucketVersions",
        "ListMultipartUploads" => "ListBucketMultipartUploads",
        "ListBuckets" => "ListAllMyBuckets",
        "CreateBucket" => "CreateBucket",
        "DeleteBucket" => "DeleteBucket",
        "GetBucketAccelerateConfiguration" => "GetAccelerateConfiguration",
        "PutBucketAccelerateConfiguration" => "PutAccelerateConfiguration",
        "GetBucketAcl" => "GetBucketAcl",
        "PutBucketAcl" => "PutBucketAcl",
        "GetBucketAnalyticsConfiguration" | "ListBucketAnalyticsConfigurations" => {
            "GetAnalyticsConfiguration"
        }
        "PutBucketAnalyticsConfiguration" | "DeleteBucketAnalyticsConfiguration" => {
            "PutAnalyticsConfiguration"
        }
        "GetBucketCors" => "GetBucketCORS",
        "PutBucketCors" | "DeleteBucketCors" => "PutBucketCORS",
        "GetBucketEncryption" => "GetEncryptionConfiguration",
        "PutBucketEncryption" | "DeleteBucketEncryption" => "PutEncryptionConfiguration",
        "GetBucketIntelligentTieringConfiguration"
        | "ListBucketIntelligentTieringConfigurations" => "GetIntelligentTieringConfiguration",
        "PutBucketIntelligentTieringConfiguration"
        | "DeleteBucketIntelligentTieringConfiguration" => "PutIntelligentTieringConfiguration",
        "GetBucketInventoryConfiguration" | "ListBucketInventoryConfigurations" => {
            "GetInventoryConfiguration"
        }
        "PutBucketInventoryConfiguration" | "DeleteBucketInventoryConfiguration" => {
            "PutInventoryConfiguration"
        }
        "GetBucketLifecycleConfiguration" | "GetBucketLifecycle" => "GetLifecycleConfiguration",
        "PutBucketLifecycleConfiguration" | "PutBucketLifecycle" | "DeleteBucketLifecycle" => {
            "PutLifecycleConfiguration"
        }
        "GetBucketLocation" => "GetBucketLocation",
        "GetBucketLogging" => "GetBucketLogging",
        "PutBucketLogging" => "PutBucketLogging",
        "GetBucketMetricsConfiguration" | "ListBucketMetricsConfigurations" => {
            "GetMetricsConfiguration"
        }
        "PutBucketMetricsConfiguration" | "DeleteBucketMetricsConfiguration" => {
            "PutMetricsConfiguration"
        }
        "GetBucketNotificationConfiguration" | "GetBucketNotification" => "GetBucketNotification",
        "PutBucketNotificationConfiguration" | "PutBucketNotification" => "PutBucketNotification",
        "GetBucketOwnershipControls" => "GetBucketOwnershipControls",
        "PutBucketOwnershipControls" | "DeleteBucketOwnershipControls" => {
            "PutBucketOwnershipControls"
        }
        "GetBucketPolicy" => "GetBucketPolicy",
        "PutBucketPolicy" => "PutBucketPolicy",
        "DeleteBucketPolicy" => "DeleteBucketPolicy",
        "GetBucketPolicyStatus" => "GetBucketPolicyStatus",
        "GetBucketReplication" => "GetReplicationConfiguration",
        "PutBucketReplication" | "DeleteBucketReplication" => "PutReplicationConfiguration",
        "GetBucketRequestPayment" => "GetBucketRequestPayment",
        "PutBucketRequestPayment" => "PutBucketRequestPayment",
        "GetBucketTagging" => "GetBucketTagging",
        "PutBucketTagging" | "DeleteBucketTagging" => "PutBucketTagging",
        "GetBucketVersioning" => "GetBucketVersioning",
        "PutBucketVersioning" => "PutBucketVersioning",
        "GetBucketWebsite" => "GetBucketWebsite",
        "PutBucketWebsite" => "PutBucketWebsite",
        "DeleteBucketWebsite" => "DeleteBucketWebsite",
        "GetObjectLockConfiguration" => "GetBucketObjectLockConfiguration",
        "PutObjectLockConfiguration" => "PutBucketObjectLockConfiguration",
        "GetPublicAccessBlock" => "GetBucketPublicAccessBlock",
        "PutPublicAccessBlock" | "DeletePublicAccessBlock" => "PutBucketPublicAccessBlock",
        _ => return None,
    })
}

/// The S3 condition keys whose values are request members as they are.
const HEADER_KEYS: &[(&str, &str)] = &[
    ("s3:prefix", "Prefix"),
    ("s3:delimiter", "Delimiter"),
    ("s3:max-keys", "MaxKeys"),
    ("s3:x-amz-acl", "ACL"),
    ("s3:x-amz-grant-full-control", "GrantFullControl"),
    ("s3:x-amz-grant-read", "GrantRead"),
    ("s3:x-amz-grant-read-acp", "GrantReadACP"),
    ("s3:x-amz-grant-write", "GrantWrite"),
    ("s3:x-amz-grant-write-acp", "GrantWriteACP"),
    ("s3:x-amz-server-side-encryption", "ServerSideEncryption"),
    (
        "s3:x-amz-server-side-encryption-aws-kms-key-id",
        "SSEKMSKeyId",
    ),
    (
        "s3:x-amz-server-side-encryption-customer-algorithm",
        "SSECustomerAlgorithm",
    ),
    ("s3:x-amz-storage-class", "StorageClass"),
    (
        "s3:x-amz-website-redirect-location",
        "WebsiteRedirectLocation",
    ),
    ("s3:x-amz-metadata-directive", "MetadataDirective"),
    ("s3:x-amz-copy-source", "CopySource"),
    ("s3:x-amz-object-ownership", "ObjectOwnership"),
    ("s3:object-lock-mode", "ObjectLockMode"),
    (
        "s3:object-lock-retain-until-date",
        "ObjectLockRetainUntilDate",
    ),
    ("s3:object-lock-legal-hold", "ObjectLockLegalHoldStatus"),
    ("s3:if-match", "IfMatch"),
    ("s3:if-none-match", "IfNoneMatch"),
    ("s3:VersionId", "VersionId"),
];

/// Where a bucket or object lives: a bucket name, or an access point ARN
/// (`arn:aws:s3:us-east-1:123456789012:accesspoint/ap`) in `Bucket`.
fn located(plan: Plan, bucket: Option<&str>, key: Option<&str>) -> Plan {
    let Some(bucket) = bucket else {
        return plan.var_opt("ObjectName", key);
    };
    if let Some((_, region, account, resource)) = super::arn_parts(bucket)
        && let Some(ap) = resource.strip_prefix("accesspoint/")
    {
        return plan
            .var_opt("ObjectName", key)
            .var("AccessPointName", ap)
            .var("Region", region)
            .var("Account", account);
    }
    // A bucket (and key) is the bucket or object resource type of every S3 action that
    // takes one: the ARN is built directly rather than from the reference's templates
    // (every object request pays for this).
    let arn = match key {
        Some(k) => format!("arn:aws:s3:::{bucket}/{k}"),
        None => format!("arn:aws:s3:::{bucket}"),
    };
    plan.resources(vec![arn])
}

/// Condition keys taken from the request's members (the reference drops those the
/// action does not support).
fn with_headers(mut plan: Plan, cx: &Cx) -> Plan {
    if cx.lean {
        return plan;
    }
    let i = cx.input;
    for (key, member) in HEADER_KEYS {
        plan = plan.key1(key, text(i.get(member)));
    }
    if let Some(lc) = i
        .get("CreateBucketConfiguration")
        .and_then(|c| c.str("LocationConstraint"))
    {
        plan = plan.key1("s3:locationconstraint", Some(lc));
    }
    if let Some(r) = i.get("Retention") {
        plan = plan.key1("s3:object-lock-mode", r.str("Mode")).key1(
            "s3:object-lock-retain-until-date",
            text(r.get("RetainUntilDate")),
        );
    }
    if let Some(h) = i.get("LegalHold") {
        plan = plan.key1("s3:object-lock-legal-hold", h.str("Status"));
    }
    // The tags an object is written with: the `x-amz-tagging` header, or
    // PutObjectTagging's tag set.
    if let Some(t) = i.get("Tagging") {
        let (mut pairs, mut keys) = (Vec::new(), Vec::new());
        collect_tags(t, &mut pairs, &mut keys);
        for (k, v) in &pairs {
            plan = plan.key(&format!("s3:RequestObjectTag/{k}"), vec![v.clone()]);
            keys.push(k.clone());
        }
        plan = plan.key("s3:RequestObjectTagKeys", keys);
    }
    plan
}

/// Whether a request sets an ACL through headers (canned or grants).
fn sets_acl(i: &Value) -> bool {
    [
        "ACL",
        "GrantFullControl",
        "GrantRead",
        "GrantReadACP",
        "GrantWrite",
        "GrantWriteACP",
    ]
    .iter()
    .any(|m| i.get(m).is_some())
}

/// `CopySource`: `bucket/key` or `/bucket/key`, URL-encoded, with an optional
/// `?versionId=`; or an access point's `arn:...:accesspoint/ap/object/key`.
fn copy_source(src: &str) -> (String, String, Option<String>) {
    let (path, version) = match src.split_once("?versionId=") {
        Some((p, v)) => (p, Some(percent_decode(v))),
        None => (src, None),
    };
    let path = percent_decode(path);
    let path = path.strip_prefix('/').unwrap_or(&path);
    if path.starts_with("arn:")
        && let Some((ap, key)) = path.split_once("/object/")
    {
        return (ap.to_owned(), key.to_owned(), version);
    }
    let (bucket, key) = path.split_once('/').unwrap_or((path, ""));
    (bucket.to_owned(), key.to_owned(), version)
}

pub(super) fn plans(op: &str, cx: &Cx) -> Vec<Plan> {
    let i = cx.input;
    let bucket = i.str("Bucket");
    let key = i.str("Key");
    let versioned = i.get("VersionId").is_some();
    let bypass = i.bool("BypassGovernanceRetention") == Some(true);
    let object = |action: &str| with_headers(located(cx.plan(action), bucket, key), cx);
    let bucket_plan = |action: &str| with_headers(located(cx.plan(action), bucket, None), cx);

    match op {
        "CopyObject" | "UploadPartCopy" => {
            let (sb, sk, sv) = copy_source(i.str("CopySource").unwrap_or_default());
            let read = if sv.is_some() {
                "GetObjectVersion"
            } else {
                "GetObject"
            };
            let source = located(cx.plan(read), Some(&sb), Some(&sk))
                .key1("s3:VersionId", sv)
                .without_tags();
            let mut out = vec![source, object("PutObject")];
            if op == "CopyObject" {
                out.extend(object_extras(i, cx, bucket, key));
            }
            return out;
        }
        "DeleteObjects" => {
            let mut out = Vec::new();
            let objects = i
                .get("Delete")
                .and_then(|d| d.get("Objects"))
                .and_then(Value::as_list)
                .unwrap_or_default();
            for o in objects {
                let version = o.str("VersionId");
                let action = if version.is_some() {
                    "DeleteObjectVersion"
                } else {
                    "DeleteObject"
                };
                out.push(
                    located(cx.plan(action), bucket, o.str("Key")).key1("s3:VersionId", version),
                );
            }
            if out.is_empty() {
                // A malformed request still needs the permission to delete.
                out.push(located(cx.plan("DeleteObject"), bucket, None));
            }
            if bypass {
                out.push(located(cx.plan("BypassGovernanceRetention"), bucket, None));
            }
            return out;
        }
        _ => {}
    }

    if let Some((plain, version)) = object_action(op) {
        let mut out = vec![object(if versioned { version } else { plain })];
        match op {
            // PutObject's documented companions: an ACL or tags in the request need
            // their own permission, as does object lock retention set on upload.
            "PutObject" | "CreateMultipartUpload" => {
                out.extend(object_extras(i, cx, bucket, key));
            }
            // GetObjectAttributes reads the object as well as its attributes.
            "GetObjectAttributes" => {
                out.insert(
                    0,
                    object(if versioned {
                        "GetObjectVersion"
                    } else {
                        "GetObject"
                    }),
                );
            }
            "DeleteObject" | "PutObjectRetention" if bypass => {
                out.push(object("BypassGovernanceRetention"));
            }
            _ => {}
        }
        return out;
    }
    if let Some(action) = bucket_action(op) {
        let mut out = vec![bucket_plan(action)];
        if op == "CreateBucket" {
            // CreateBucket's documented companions: headers that configure the new
            // bucket need the permissions that configure it later.
            if sets_acl(i) {
                out.push(bucket_plan("PutBucketAcl"));
            }
            if i.bool("ObjectLockEnabledForBucket") == Some(true) {
                out.push(bucket_plan("PutBucketObjectLockConfiguration"));
                out.push(bucket_plan("PutBucketVersioning"));
            }
            if i.get("ObjectOwnership").is_some() {
                out.push(bucket_plan("PutBucketOwnershipControls"));
            }
            // The tags a bucket is created with sit in its configuration.
            if let Some(t) = i
                .get("CreateBucketConfiguration")
                .and_then(|c| c.get("Tags"))
            {
                let (mut pairs, mut keys) = (Vec::new(), Vec::new());
                collect_tags(t, &mut pairs, &mut keys);
                let ctx = super::tags_context(pairs, keys);
                out[0].context.extend(ctx);
            }
        }
        return out;
    }
    vec![with_headers(located(cx.plan(op), bucket, key), cx)]
}

/// The permissions an object write needs beside `s3:PutObject` for what its headers set.
fn object_extras(i: &Value, cx: &Cx, bucket: Option<&str>, key: Option<&str>) -> Vec<Plan> {
    let mut out = Vec::new();
    let object = |action: &str| with_headers(located(cx.plan(action), bucket, key), cx);
    if sets_acl(i) {
        out.push(object("PutObjectAcl"));
    }
    let replaces_tags = i.str("TaggingDirective").is_none_or(|d| d == "REPLACE");
    if i.get("Tagging").is_some() && replaces_tags {
        out.push(object("PutObjectTagging"));
    }
    if i.get("ObjectLockMode").is_some() || i.get("ObjectLockRetainUntilDate").is_some() {
        out.push(object("PutObjectRetention"));
    }
    if i.get("ObjectLockLegalHoldStatus").is_some() {
        out.push(object("PutObjectLegalHold"));
    }
    out
}

/// S3 Control: the account's Block Public Access settings.
pub(super) fn control(op: &str, cx: &Cx) -> Vec<Plan> {
    let action = match op {
        "GetPublicAccessBlock" => "GetAccountPublicAccessBlock",
        "PutPublicAccessBlock" | "DeletePublicAccessBlock" => "PutAccountPublicAccessBlock",
        other => other,
    };
    vec![cx.plan(action)]
}
