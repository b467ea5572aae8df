//! Amazon S3: buckets in one global namespace, objects streamed to blob files (small ones
//! inline), listings, multipart uploads, flexible checksums, versioning and tagging,
//! access control, encryption, lifecycle, Object Lock, CORS, event notifications and
//! static websites.
//!
//! Modules: [`store`] (state, persistence, body streaming), [`buckets`], [`objects`],
//! [`listing`], [`multipart`] (handlers), [`checksum`] (ETags and flexible checksums),
//! [`conditions`] (conditional requests and ranges), [`post`] (browser-based POST Object uploads), [`policy`] and [`acl`] (access
//! control, Block Public Access, ownership), [`sse`] (encryption), [`lifecycle`] (rules
//! and the background task), [`lock`] (Object Lock), [`cors`], [`notify`] (events to
//! SQS), [`configs`] (configurations stored as sent), [`website`] (static website
//! hosting), [`control`] (S3 Control: account-level Block Public Access), [`errors`].
//!
//! Durability: a body is written and fsynced as a blob before the record naming it is
//! committed, so after a crash an object is either whole or absent.

pub mod acl;
pub mod buckets;
pub mod checksum;
pub mod conditions;
pub mod configs;
pub mod control;
pub mod cors;
pub mod errors;
pub mod lifecycle;
pub mod listing;
pub mod lock;
pub mod logging;
pub mod md5hub;
pub mod multipart;
pub mod notify;
pub mod objects;
pub mod policy;
pub mod post;
mod prechecks;
pub mod restore;
pub mod sse;
pub mod store;
pub mod website;

use nephos_core::{
    AwsError, BoxFuture, Clock, Dispatcher, Input, Output, Provider, RequestContext, Value,
};
use nephos_storage::{BlobStore, Storage};
use std::path::Path;
use std::sync::Arc;

pub use control::S3ControlProvider;

pub struct S3Provider {
    store: store::Store,
    pub(crate) dispatcher: Dispatcher,
    /// Server access log records waiting for delivery.
    access_logs: logging::Pending,
}

impl S3Provider {
    /// Opens S3's state: blobs under `data_dir` when given (durable), else in a private
    /// temporary directory.
    /// The lifecycle task starts here when a tokio runtime is running.
    pub fn new(
        storage: Storage,
        data_dir: Option<&Path>,
        clock: Arc<Clock>,
        dispatcher: Dispatcher,
    ) -> Result<Arc<S3Provider>, String> {
        let blobs = match data_dir {
            Some(d) => BlobStore::open(&d.join("s3")),
            None => BlobStore::temporary(),
        }
        .map_err(|e| format!("opening the s3 blob store: {e}"))?;
        let provider = Arc::new(S3Provider {
            store: store::Store::open(storage, blobs)?,
            dispatcher,
            access_logs: logging::Pending::default(),
        });
        provider.start_lifecycle(clock.clone());
        provider.start_access_logs(clock);
        Ok(provider)
    }
}

const OPERATIONS: &[&str] = &[
    "AbortMultipartUpload",
    "CompleteMultipartUpload",
    "CopyObject",
    "CreateBucket",
    "CreateMultipartUpload",
    "DeleteBucket",
    "DeleteBucketAnalyticsConfiguration",
    "DeleteBucketCors",
    "DeleteBucketEncryption",
    "DeleteBucketIntelligentTieringConfiguration",
    "DeleteBucketInventoryConfiguration",
    "DeleteBucketLifecycle",
    "DeleteBucketMetricsConfiguration",
    "DeleteBucketOwnershipControls",
    "DeleteBucketPolicy",
    "DeleteBucketReplication",
    "DeleteBucketTagging",
    "DeleteBucketWebsite",
    "DeleteObject",
    "DeleteObjectTagging",
    "DeleteObjects",
    "DeletePublicAccessBlock",
    "GetBucketAccelerateConfiguration",
    "GetBucketAcl",
    "GetBucketAnalyticsConfiguration",
    "GetBucketCors",
    "GetBucketEncryption",
    "GetBucketIntelligentTieringConfiguration",
    "GetBucketInventoryConfiguration",
    "GetBucketLifecycleConfiguration",
    "GetBucketLocation",
    "GetBucketLogging",
    "GetBucketMetricsConfiguration",
    "GetBucketNotificationConfiguration",
    "GetBucketOwnershipControls",
    "GetBucketPolicy",
    "GetBucketPolicyStatus",
    "GetBucketReplication",
    "GetBucketRequestPayment",
    "GetBucketTagging",
    "GetBucketVersioning",
    "GetBucketWebsite",
    "GetObject",
    "GetObjectAcl",
    "GetObjectAttributes",
    "GetObjectLegalHold",
    "GetObjectLockConfiguration",
    "GetObjectRetention",
    "GetObjectTagging",
    "GetPublicAccessBlock",
    "HeadBucket",
    "HeadObject",
    "ListBucketAnalyticsConfigurations",
    "ListBucketIntelligentTieringConfigurations",
    "ListBucketInventoryConfigurations",
    "ListBucketMetricsConfigurations",
    "ListBuckets",
    "ListMultipartUploads",
    "ListObjectVersions",
    "ListObjects",
    "ListObjectsV2",
    "ListParts",
    "PutBucketAccelerateConfiguration",
    "PutBucketAcl",
    "PutBucketAnalyticsConfiguration",
    "PutBucketCors",
    "PutBucketEncryption",
    "PutBucketIntelligentTieringConfiguration",
    "PutBucketInventoryConfiguration",
    "PutBucketLifecycleConfiguration",
    "PutBucketLogging",
    "PutBucketMetricsConfiguration",
    "PutBucketNotificationConfiguration",
    "PutBucketOwnershipControls",
    "PutBucketPolicy",
    "PutBucketReplication",
    "PutBucketRequestPayment",
    "PutBucketTagging",
    "PutBucketVersioning",
    "PutBucketWebsite",
    "PutObject",
    "PutObjectAcl",
    "PutObjectLegalHold",
    "PutObjectLockConfiguration",
    "PutObjectRetention",
    "PutObjectTagging",
    "PutPublicAccessBlock",
    "RestoreObject",
    "UploadPart",
    "UploadPartCopy",
];

impl Provider for S3Provider {
    fn service(&self) -> &'static str {
        "s3"
    }

    fn resource_facts(&self, _ctx: &RequestContext, arn: &str) -> nephos_core::ResourceFacts {
        let Some(name) = arn
            .strip_prefix("arn:aws:s3:::")
            .map(|r| r.split('/').next().unwrap_or(r))
        else {
            return nephos_core::ResourceFacts::default();
        };
        let Some(b) = self.store.bucket(name) else {
            return nephos_core::ResourceFacts::default();
        };
        let m = b.meta.read().unwrap();
        nephos_core::ResourceFacts {
            owner: Some(m.owner.clone()),
            policy: m.policy.clone(),
            tags: m.tags.clone().unwrap_or_default(),
            ..Default::default()
        }
    }

    fn operations(&self) -> &'static [&'static str] {
        OPERATIONS
    }

    fn handle<'a>(
        &'a self,
        ctx: &'a RequestContext,
        input: Input,
    ) -> BoxFuture<'a, Result<Output, AwsError>> {
        Box::pin(async move {
            let logged = self.access_log_input(&input.value);
            let started = std::time::Instant::now();
            let result = self.run_notifying(ctx, input).await;
            if let Some(v) = logged {
                let ms = started.elapsed().as_millis() as u64;
                self.log_access(ctx, &v, &result, ms);
            }
            result
        })
    }

    fn handle_raw<'a>(
        &'a self,
        ctx: &'a RequestContext,
        request: nephos_core::RawRequest,
    ) -> BoxFuture<'a, Result<nephos_core::RawResponse, AwsError>> {
        Box::pin(async move {
            match ctx.operation.as_str() {
                "PostObject" => self.post_object(ctx, request).await,
                other => Err(AwsError::not_implemented("s3", other)),
            }
        })
    }

    fn cors(
        &self,
        request: &nephos_core::CorsRequest<'_>,
    ) -> Option<Result<Vec<(String, String)>, AwsError>> {
        Some(self.cors_answer(request))
    }

    fn reset(&self) {
        self.store.clear();
        self.access_logs.clear();
    }
}

impl S3Provider {
    /// What the access log needs of a request's input, when its bucket logs requests.
    fn access_log_input(&self, input: &Value) -> Option<Value> {
        let b = self.store.bucket(input.str("Bucket")?)?;
        if !b.meta.read().unwrap().configs.contains_key("logging") {
            return None;
        }
        let mut v = Value::map();
        for k in ["Bucket", "Key", "ContentLength"] {
            if let Some(x) = input.get(k) {
                v.insert(k, x.clone());
            }
        }
        Some(v)
    }

    /// Runs the operation, then sends the event notifications it causes.
    async fn run_notifying(
        &self,
        ctx: &RequestContext,
        mut input: Input,
    ) -> Result<Output, AwsError> {
        let op = ctx.operation.as_str();
        // A quiet DeleteObjects still reports its deletions to the notifier: it runs
        // verbose, and the answer drops them afterwards.
        let quiet = op == "DeleteObjects"
            && input.value.get("Delete").and_then(|d| d.bool("Quiet")) == Some(true);
        if quiet
            && let Value::Map(m) = &mut input.value
            && let Some(Value::Map(d)) = m.get_mut("Delete")
        {
            d.shift_remove("Quiet");
        }
        // S3 ignores an If-Modified-Since later than its own clock.
        if matches!(op, "GetObject" | "HeadObject")
            && let Some(Value::Timestamp(t)) = input.value.get("IfModifiedSince")
            && t.as_millis() > ctx.clock.now_millis()
            && let Value::Map(m) = &mut input.value
        {
            m.shift_remove("IfModifiedSince");
        }
        let head = Value::map()
            .with("Bucket", input.value.str("Bucket").unwrap_or_default())
            .with("Key", input.value.str("Key").unwrap_or_default());
        let versioned = input.value.get("VersionId").is_some();
        let mut result = self.run(ctx, input).await;
        if let Ok(out) = &mut result {
            match op {
                "PutObject"
                | "CopyObject"
                | "CompleteMultipartUpload"
                | "DeleteObject"
                | "DeleteObjects"
                | "PutObjectTagging"
                | "DeleteObjectTagging" => {
                    self.after(ctx, &head, &out.value).await;
                }
                // S3 answers these with 204, which the model does not declare.
                "PutBucketPolicy"
                | "PutBucketTagging"
                | "PutBucketAnalyticsConfiguration"
                | "PutBucketIntelligentTieringConfiguration"
                | "PutBucketInventoryConfiguration"
                | "PutBucketMetricsConfiguration" => out.status = Some(204),
                _ => {}
            }
            if quiet && let Value::Map(m) = &mut out.value {
                m.shift_remove("Deleted");
            }
            if !versioned
                && matches!(
                    op,
                    "PutObject"
                        | "CopyObject"
                        | "CompleteMultipartUpload"
                        | "GetObject"
                        | "HeadObject"
                )
            {
                self.add_expiration(&head, &mut out.value);
            }
        }
        result
    }
}

impl S3Provider {
    async fn run(&self, ctx: &RequestContext, input: Input) -> Result<Output, AwsError> {
        self.admit(ctx, &input.value)?;
        self.precheck(ctx, &input.value)?;
        {
            let v = &input.value;
            let value = match ctx.operation.as_str() {
                "PutObject" => return self.put_object(ctx, input).await,
                "UploadPart" => return self.upload_part(ctx, input).await,
                "GetObject" => return self.get_object(ctx, v, true),
                "RestoreObject" => return self.restore_object(ctx, v).await,
                "HeadObject" => return self.get_object(ctx, v, false),
                "CreateBucket" => self.create_bucket(ctx, v).await?,
                "DeleteBucket" => self.delete_bucket(ctx, v).await?,
                "HeadBucket" => self.head_bucket(ctx, v)?,
                "ListBuckets" => self.list_buckets(ctx, v)?,
                "GetBucketLocation" => self.get_bucket_location(ctx, v)?,
                "PutBucketTagging" => self.put_bucket_tagging(ctx, v).await?,
                "GetBucketTagging" => self.get_bucket_tagging(ctx, v)?,
                "DeleteBucketTagging" => self.delete_bucket_tagging(ctx, v).await?,
                "PutBucketAcl" => self.put_bucket_acl(ctx, v).await?,
                "GetBucketAcl" => self.get_bucket_acl(ctx, v)?,
                "PutObjectAcl" => self.put_object_acl(ctx, v).await?,
                "GetObjectAcl" => self.get_object_acl(ctx, v)?,
                "PutPublicAccessBlock" => self.put_public_access_block(ctx, v).await?,
                "GetPublicAccessBlock" => self.get_public_access_block(ctx, v)?,
                "DeletePublicAccessBlock" => self.delete_public_access_block(ctx, v).await?,
                "PutBucketOwnershipControls" => self.put_ownership_controls(ctx, v).await?,
                "GetBucketOwnershipControls" => self.get_ownership_controls(ctx, v)?,
                "DeleteBucketOwnershipControls" => self.delete_ownership_controls(ctx, v).await?,
                "PutBucketEncryption" => self.put_bucket_encryption(ctx, v).await?,
                "GetBucketEncryption" => self.get_bucket_encryption(ctx, v)?,
                "DeleteBucketEncryption" => self.delete_bucket_encryption(ctx, v).await?,
                "PutBucketLifecycleConfiguration" => self.put_bucket_lifecycle(ctx, v).await?,
                "GetBucketLifecycleConfiguration" => self.get_bucket_lifecycle(ctx, v)?,
                "DeleteBucketLifecycle" => self.delete_bucket_lifecycle(ctx, v).await?,
                "PutObjectLockConfiguration" => self.put_object_lock_configuration(ctx, v).await?,
                "GetObjectLockConfiguration" => self.get_object_lock_configuration(ctx, v)?,
                "PutObjectRetention" => self.put_object_retention(ctx, v).await?,
                "GetObjectRetention" => self.get_object_retention(ctx, v)?,
                "PutObjectLegalHold" => self.put_object_legal_hold(ctx, v).await?,
                "GetObjectLegalHold" => self.get_object_legal_hold(ctx, v)?,
                "PutBucketNotificationConfiguration" => {
                    self.put_bucket_notification(ctx, v).await?
                }
                "GetBucketNotificationConfiguration" => self.get_bucket_notification(ctx, v)?,
                "PutBucketLogging"
                | "GetBucketLogging"
                | "PutBucketRequestPayment"
                | "GetBucketRequestPayment"
                | "PutBucketAccelerateConfiguration"
                | "GetBucketAccelerateConfiguration"
                | "PutBucketReplication"
                | "GetBucketReplication"
                | "DeleteBucketReplication"
                | "PutBucketInventoryConfiguration"
                | "GetBucketInventoryConfiguration"
                | "DeleteBucketInventoryConfiguration"
                | "ListBucketInventoryConfigurations"
                | "PutBucketAnalyticsConfiguration"
                | "GetBucketAnalyticsConfiguration"
                | "DeleteBucketAnalyticsConfiguration"
                | "ListBucketAnalyticsConfigurations"
                | "PutBucketMetricsConfiguration"
                | "GetBucketMetricsConfiguration"
                | "DeleteBucketMetricsConfiguration"
                | "ListBucketMetricsConfigurations"
                | "PutBucketIntelligentTieringConfiguration"
                | "GetBucketIntelligentTieringConfiguration"
                | "DeleteBucketIntelligentTieringConfiguration"
                | "ListBucketIntelligentTieringConfigurations"
                | "PutBucketWebsite"
                | "GetBucketWebsite"
                | "DeleteBucketWebsite" => self.stored_config(ctx, v).await?,
                "PutBucketCors" => self.put_bucket_cors(ctx, v).await?,
                "GetBucketCors" => self.get_bucket_cors(ctx, v)?,
                "DeleteBucketCors" => self.delete_bucket_cors(ctx, v).await?,
                "PutBucketPolicy" => self.put_bucket_policy(ctx, v).await?,
                "GetBucketPolicy" => self.get_bucket_policy(ctx, v)?,
                "GetBucketPolicyStatus" => self.get_bucket_policy_status(ctx, v)?,
                "DeleteBucketPolicy" => self.delete_bucket_policy(ctx, v).await?,
                "PutBucketVersioning" => self.put_bucket_versioning(ctx, v).await?,
                "GetBucketVersioning" => self.get_bucket_versioning(ctx, v)?,
                "DeleteObject" => self.delete_object(ctx, v).await?,
                "DeleteObjects" => self.delete_objects(ctx, v).await?,
                "CopyObject" => self.copy_object(ctx, v).await?,
                "GetObjectTagging" => self.get_object_tagging(ctx, v)?,
                "GetObjectAttributes" => self.get_object_attributes(ctx, v)?,
                "PutObjectTagging" => self.set_object_tags(ctx, v, None).await?,
                "DeleteObjectTagging" => self.set_object_tags(ctx, v, Some(Vec::new())).await?,
                "ListObjects" => self.list_objects(ctx, v, false)?,
                "ListObjectsV2" => self.list_objects(ctx, v, true)?,
                "ListObjectVersions" => self.list_object_versions(ctx, v)?,
                "CreateMultipartUpload" => self.create_multipart_upload(ctx, v).await?,
                "UploadPartCopy" => self.upload_part_copy(ctx, v).await?,
                "CompleteMultipartUpload" => self.complete_multipart_upload(ctx, v).await?,
                "AbortMultipartUpload" => self.abort_multipart_upload(ctx, v).await?,
                "ListParts" => self.list_parts(ctx, v)?,
                "ListMultipartUploads" => self.list_multipart_uploads(ctx, v)?,
                other => return Err(AwsError::not_implemented("s3", other)),
            };
            Ok(Output::new(value))
        }
    }
}
