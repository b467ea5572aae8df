//! Server-side encryption settings: SSE-S3 (the default), SSE-KMS (settings stored and
//! returned; bodies are not encrypted with a KMS key yet), SSE-C (the customer key is
//! checked and only its MD5 kept), and default bucket encryption.

use crate::S3Provider;
use crate::errors;
use crate::store::{Bucket, ObjectMeta};
use nephos_core::{AwsError, RequestContext, Value};
use serde::{Deserialize, Serialize};

/// A bucket's default encryption (`PutBucketEncryption`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Encryption {
    pub algorithm: String,
    pub kms_key: Option<String>,
    pub bucket_key: bool,
}

impl Default for Encryption {
    fn default() -> Self {
        Encryption {
            algorithm: "AES256".into(),
            kms_key: None,
            bucket_key: false,
        }
    }
}

/// The header AWS names in SSE-C argument errors.
const SSE_HEADER: &str = "x-amz-server-side-encryption";

/// What an SSE-C key is sent for: AWS words a missing key MD5 differently for each.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum KeyUse {
    Write,
    Read,
}

/// The 403 of a read whose SSE-C key is not the object's (or comes without its MD5).
fn wrong_read_key() -> AwsError {
    AwsError::new(
        403,
        "AccessDenied",
        "Requests specifying Server Side Encryption with Customer provided keys must provide the correct secret key.",
    )
}

/// The MD5 (base64) of a valid SSE-C key sent with `prefix` (`""` or `CopySource`).
/// AWS names the algorithm header in these errors, with the literal value `null`.
pub fn customer_key(input: &Value, prefix: &str, used: KeyUse) -> Result<Option<String>, AwsError> {
    let alg = input.str(&format!("{prefix}SSECustomerAlgorithm"));
    let key = input.str(&format!("{prefix}SSECustomerKey"));
    let md5 = input.str(&format!("{prefix}SSECustomerKeyMD5"));
    let Some(alg) = alg else {
        if key.is_some() || md5.is_some() {
            return Err(errors::invalid_arg(
                "Requests specifying Server Side Encryption with Customer provided keys must provide a valid encryption algorithm.",
                SSE_HEADER,
                Some("null"),
            ));
        }
        return Ok(None);
    };
    if alg != "AES256" {
        return Err(AwsError::new(
            400,
            "InvalidEncryptionAlgorithmError",
            "The Encryption request you specified is not valid. Supported value: AES256.",
        )
        .with_field("ArgumentName", SSE_HEADER)
        .with_field("ArgumentValue", alg));
    }
    let Some(key) = key else {
        return Err(errors::invalid_arg(
            "Requests specifying Server Side Encryption with Customer provided keys must provide an appropriate secret key.",
            SSE_HEADER,
            Some("null"),
        ));
    };
    let invalid_key = || {
        errors::invalid_arg(
            "The secret key was invalid for the specified algorithm.",
            SSE_HEADER,
            Some("null"),
        )
    };
    let raw = crate::store::b64_decode(key).ok_or_else(invalid_key)?;
    let actual = { crate::store::b64_encode(&md5_many::md5(&raw)) };
    if raw.len() != 32 {
        // A read compares the key with the object's: one of any other size is simply
        // not its key (botocore sends one when it encodes an encoded key again).
        return Err(match used {
            KeyUse::Read if md5.is_none_or(|m| m == actual) => wrong_read_key(),
            _ => invalid_key(),
        });
    }
    match md5 {
        // AWS names the algorithm header here too, not the MD5 one.
        Some(m) if m != actual => Err(errors::invalid_arg(
            "The calculated MD5 hash of the key did not match the hash that was provided.",
            SSE_HEADER,
            Some("null"),
        )),
        Some(_) => Ok(Some(actual)),
        None if used == KeyUse::Read => Err(wrong_read_key()),
        None => Err(errors::invalid_arg(
            "The secret key was invalid for the specified algorithm.",
            SSE_HEADER,
            Some("null"),
        )),
    }
}

/// Fills a new object's encryption from the request and the bucket's default.
pub fn resolve(
    meta: &mut ObjectMeta,
    input: &Value,
    b: &Bucket,
    ctx: &RequestContext,
) -> Result<(), AwsError> {
    // Both kinds of encryption at once is refused before the SSE-C headers are judged.
    if meta.sse.is_some() && input.get("SSECustomerAlgorithm").is_some() {
        return Err(errors::invalid_arg(
            "Server Side Encryption with Customer provided key is incompatible with the encryption method specified",
            "x-amz-server-side-encryption",
            meta.sse.as_deref(),
        ));
    }
    if let Some(md5) = customer_key(input, "", KeyUse::Write)? {
        meta.sse_c_md5 = Some(md5);
        return Ok(());
    }
    meta.sse_c_md5 = None;
    let default = b
        .meta
        .read()
        .unwrap()
        .encryption
        .clone()
        .unwrap_or_default();
    if meta.sse.is_none() {
        meta.sse = Some(default.algorithm.clone());
        if meta.sse_kms_key.is_none() {
            meta.sse_kms_key = default.kms_key.clone();
        }
    }
    match meta.sse.as_deref() {
        Some("aws:kms" | "aws:kms:dsse") => {
            if meta.sse_kms_key.is_none() {
                meta.sse_kms_key = Some(format!(
                    "arn:aws:kms:{}:{}:alias/aws/s3",
                    ctx.region, ctx.account_id
                ));
            }
            meta.bucket_key = input.bool("BucketKeyEnabled").unwrap_or(default.bucket_key);
        }
        _ if meta.sse_kms_key.is_some() => {
            return Err(errors::invalid_argument(
                "Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms",
            ));
        }
        _ => {}
    }
    Ok(())
}

/// Checks the SSE-C key a read of an object sends (`prefix` `CopySource` for copies).
pub fn check_read(meta: &ObjectMeta, input: &Value, prefix: &str) -> Result<(), AwsError> {
    let sent = customer_key(input, prefix, KeyUse::Read)?;
    match (&meta.sse_c_md5, sent) {
        (None, None) => Ok(()),
        (None, Some(_)) => Err(errors::invalid_request(
            "The encryption parameters are not applicable to this object.",
        )),
        (Some(_), None) => Err(errors::invalid_request(
            "The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.",
        )),
        (Some(stored), Some(sent)) if *stored != sent => Err(wrong_read_key()),
        _ => Ok(()),
    }
}

/// The encryption headers of a response about an object.
pub fn add_headers(meta: &ObjectMeta, out: &mut Value) {
    if let Some(md5) = &meta.sse_c_md5 {
        out.insert("SSECustomerAlgorithm", "AES256");
        out.insert("SSECustomerKeyMD5", md5.as_str());
        return;
    }
    out.insert(
        "ServerSideEncryption",
        meta.sse.as_deref().unwrap_or("AES256"),
    );
    if let Some(k) = &meta.sse_kms_key {
        out.insert("SSEKMSKeyId", k.as_str());
    }
    if meta.bucket_key {
        out.insert("BucketKeyEnabled", true);
    }
}

impl S3Provider {
    pub(crate) async fn put_bucket_encryption(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let b = self.owned_bucket(ctx, input.str("Bucket").unwrap_or_default())?;
        let rules = input
            .get("ServerSideEncryptionConfiguration")
            .and_then(|c| c.get("Rules"))
            .and_then(Value::as_list)
            .unwrap_or_default();
        let [rule] = rules else {
            return Err(errors::malformed_xml());
        };
        let by_default = rule.get("ApplyServerSideEncryptionByDefault");
        let algorithm = by_default
            .and_then(|d| d.str("SSEAlgorithm"))
            .unwrap_or("AES256");
        let kms_key = by_default.and_then(|d| d.str("KMSMasterKeyID"));
        if kms_key.is_some() && algorithm == "AES256" {
            return Err(errors::invalid_arg(
                "a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms or aws:kms:dsse",
                "ApplyServerSideEncryptionByDefault",
                None,
            ));
        }
        let enc = Encryption {
            algorithm: algorithm.to_owned(),
            kms_key: kms_key.map(str::to_owned),
            bucket_key: rule.bool("BucketKeyEnabled").unwrap_or(false),
        };
        b.meta.write().unwrap().encryption = Some(enc);
        self.save_bucket(&b).await?;
        Ok(Value::map())
    }

    pub(crate) fn get_bucket_encryption(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let b = self.owned_bucket(ctx, input.str("Bucket").unwrap_or_default())?;
        // Every bucket encrypts with SSE-S3 unless told otherwise.
        let enc = b
            .meta
            .read()
            .unwrap()
            .encryption
            .clone()
            .unwrap_or_default();
        let mut by_default = Value::map().with("SSEAlgorithm", enc.algorithm.as_str());
        if let Some(k) = &enc.kms_key {
            by_default.insert("KMSMasterKeyID", k.as_str());
        }
        let rule = Value::map()
            .with("ApplyServerSideEncryptionByDefault", by_default)
            .with("BucketKeyEnabled", enc.bucket_key);
        Ok(Value::map().with(
            "ServerSideEncryptionConfiguration",
            Value::map().with("Rules", Value::List(vec![rule])),
        ))
    }

    pub(crate) async fn delete_bucket_encryption(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        self.clear_bucket_setting(ctx, input, |m| m.encryption = None)
            .await
    }
}
