//! Bucket handlers: create (with region constraints and the global namespace), head,
//! list, delete, location, tagging and versioning settings.

use crate::S3Provider;
use crate::errors;
use crate::store::{Bucket, BucketMeta, T_BUCKETS, owner_value};
use nephos_core::{AwsError, RequestContext, Timestamp, Value};
use nephos_storage::Mutation;
use std::sync::Arc;

/// S3's bucket naming rules (general purpose buckets).
pub fn valid_bucket_name(name: &str) -> bool {
    let b = name.as_bytes();
    if !(3..=63).contains(&b.len()) {
        return false;
    }
    let edge_ok = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    if !edge_ok(b[0]) || !edge_ok(b[b.len() - 1]) {
        return false;
    }
    if !b
        .iter()
        .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'.' || c == b'-')
    {
        return false;
    }
    if name.contains("..") || name.contains(".-") || name.contains("-.") {
        return false;
    }
    if name.split('.').count() == 4 && name.split('.').all(|p| p.parse::<u8>().is_ok()) {
        return false;
    }
    const PREFIXES: [&str; 4] = ["xn--", "sthree-", "amzn-s3-demo-", "sthree-configurator"];
    const SUFFIXES: [&str; 5] = ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"];
    !PREFIXES.iter().any(|p| name.starts_with(p)) && !SUFFIXES.iter().any(|s| name.ends_with(s))
}

/// Whether S3 knows `c` as a LocationConstraint (the model's list, which leaves out
/// us-east-1).
fn known_constraint(c: &str) -> bool {
    const REGIONS: &[&str] = &[
        "af-south-1",
        "ap-east-1",
        "ap-east-2",
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-northeast-3",
        "ap-south-1",
        "ap-south-2",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-southeast-3",
        "ap-southeast-4",
        "ap-southeast-5",
        "ap-southeast-6",
        "ap-southeast-7",
        "ca-central-1",
        "ca-west-1",
        "cn-north-1",
        "cn-northwest-1",
        "EU",
        "eu-central-1",
        "eu-central-2",
        "eu-north-1",
        "eu-south-1",
        "eu-south-2",
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
        "il-central-1",
        "me-central-1",
        "me-south-1",
        "mx-central-1",
        "sa-east-1",
        "us-east-2",
        "us-gov-east-1",
        "us-gov-west-1",
        "us-west-1",
        "us-west-2",
    ];
    REGIONS.contains(&c)
}

pub fn tag_set(tags: &[(String, String)]) -> Value {
    Value::List(
        tags.iter()
            .map(|(k, v)| {
                Value::map()
                    .with("Key", k.as_str())
                    .with("Value", v.as_str())
            })
            .collect(),
    )
}

/// Whether a tag key or value holds only what S3 allows: letters, digits, white space
/// and `_ . : / = + - @`.
fn tag_chars_ok(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c))
}

fn invalid_tag(message: &str, key: &str) -> AwsError {
    AwsError::new(400, "InvalidTag", message).with_field("TagKey", key)
}

/// Reads the TagSet of a `Tagging` body. A tag without its Key or Value is a schema
/// violation; `aws:` keys are refused with `reserved`'s message.
fn read_tags(tagging: Option<&Value>, reserved: &str) -> Result<Vec<(String, String)>, AwsError> {
    let mut out: Vec<(String, String)> = Vec::new();
    let list = tagging
        .and_then(|t| t.get("TagSet"))
        .and_then(Value::as_list)
        .unwrap_or_default();
    for t in list {
        let (Some(k), Some(v)) = (t.str("Key"), t.str("Value")) else {
            return Err(errors::malformed_xml());
        };
        if out.iter().any(|(x, _)| x == k) {
            return Err(invalid_tag(
                "Cannot provide multiple Tags with the same key",
                k,
            ));
        }
        if k.starts_with("aws:") {
            return Err(invalid_tag(reserved, k));
        }
        check_tag(k, v)?;
        out.push((k.to_owned(), v.to_owned()));
    }
    Ok(out)
}

/// The tags a CreateBucket request gives the new bucket (`CreateBucketConfiguration.Tags`),
/// checked with CreateBucket's own answers.
fn create_tags(config: Option<&Value>) -> Result<Vec<(String, String)>, AwsError> {
    let mut out: Vec<(String, String)> = Vec::new();
    let list = config
        .and_then(|c| c.get("Tags"))
        .and_then(Value::as_list)
        .unwrap_or_default();
    for t in list {
        let (Some(k), Some(v)) = (t.str("Key"), t.str("Value")) else {
            return Err(errors::malformed_xml());
        };
        if k.starts_with("aws:") {
            return Err(AwsError::new(
                400,
                "InvalidTag",
                "User-defined tag keys can't start with \"aws:\". This prefix is reserved for system tags. Remove \"aws:\" from your tag keys and try again.",
            ));
        }
        // AWS answers a repeated key here with an internal error.
        if out.iter().any(|(x, _)| x == k) {
            return Err(AwsError::new(
                500,
                "InternalError",
                "We encountered an internal error. Please try again.",
            ));
        }
        check_tag(k, v)?;
        out.push((k.to_owned(), v.to_owned()));
    }
    Ok(out)
}

/// Reads and checks an object's `Tagging` TagSet.
pub fn read_tag_set(tagging: Option<&Value>) -> Result<Vec<(String, String)>, AwsError> {
    read_tags(tagging, "Your TagKey cannot be prefixed with aws:")
}

pub fn check_tag(k: &str, v: &str) -> Result<(), AwsError> {
    if k.is_empty() || k.chars().count() > 128 || !tag_chars_ok(k) {
        return Err(invalid_tag("The TagKey you have provided is invalid", k));
    }
    if v.chars().count() > 256 || !tag_chars_ok(v) {
        return Err(
            invalid_tag("The TagValue you have provided is invalid", k).with_field("TagValue", v)
        );
    }
    Ok(())
}

/// Checks the `x-amz-tagging` header of an object write: URL query parameters
/// (`k1=v1&k2=v2`) without a repeated key.
pub fn check_tagging_header(h: &str) -> Result<(), AwsError> {
    let invalid = || {
        errors::invalid_arg(
            "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates.",
            "x-amz-tagging",
            Some(h),
        )
    };
    let mut keys = Vec::new();
    for pair in h.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        // A second `=` or a `,` means the header is not query parameters.
        if v.contains('=') || pair.contains(',') || keys.contains(&k) {
            return Err(invalid());
        }
        keys.push(k);
    }
    Ok(())
}

impl S3Provider {
    /// The bucket `name`, if the caller may run the request's operation on it.
    pub fn bucket_for(&self, ctx: &RequestContext, name: &str) -> Result<Arc<Bucket>, AwsError> {
        self.bucket_for_key(ctx, name, None)
    }

    /// The same for an operation on object `key`.
    pub fn bucket_for_key(
        &self,
        ctx: &RequestContext,
        name: &str,
        key: Option<&str>,
    ) -> Result<Arc<Bucket>, AwsError> {
        let b = self
            .store
            .bucket(name)
            .ok_or_else(|| errors::no_such_bucket(name))?;
        self.authorize(ctx, &b, key)?;
        Ok(b)
    }

    /// The bucket `name` when the caller owns it (bucket configuration operations).
    pub fn owned_bucket(&self, ctx: &RequestContext, name: &str) -> Result<Arc<Bucket>, AwsError> {
        let b = self
            .store
            .bucket(name)
            .ok_or_else(|| errors::no_such_bucket(name))?;
        if ctx.anonymous || b.owner() != ctx.account_id {
            return Err(errors::access_denied());
        }
        Ok(b)
    }

    pub(crate) async fn create_bucket(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let name = input.str("Bucket").unwrap_or_default();
        if !valid_bucket_name(name) {
            return Err(AwsError::new(
                400,
                "InvalidBucketName",
                "The specified bucket is not valid.",
            )
            .with_field("BucketName", name));
        }
        let constraint = input
            .get("CreateBucketConfiguration")
            .and_then(|c| c.str("LocationConstraint"))
            .filter(|c| !c.is_empty());
        let invalid_constraint = |c: &str| {
            AwsError::new(
                400,
                "InvalidLocationConstraint",
                "The specified location-constraint is not valid",
            )
            .with_field("LocationConstraint", c)
        };
        let incompatible = |c: &str| {
            AwsError::new(
                400,
                "IllegalLocationConstraintException",
                format!(
                    "The {c} location constraint is incompatible for the region specific endpoint this request was sent to."
                ),
            )
        };
        // The us-east-1 endpoint is S3's global one: it creates buckets in any region a
        // constraint names. A regional endpoint creates only in its own region.
        let region = match constraint {
            None if ctx.region == "us-east-1" => "us-east-1".to_owned(),
            None => return Err(incompatible("unspecified")),
            // us-east-1 is named by sending no constraint at all.
            Some(c) if ctx.region == "us-east-1" && (c == "us-east-1" || !known_constraint(c)) => {
                return Err(invalid_constraint(c));
            }
            Some("EU") if matches!(ctx.region.as_str(), "us-east-1" | "eu-west-1") => {
                "eu-west-1".to_owned()
            }
            Some(c) if ctx.region == "us-east-1" || c == ctx.region => c.to_owned(),
            Some(c) => return Err(incompatible(c)),
        };
        // Since April 2023 new buckets block public access and have ACLs disabled unless
        // the request chooses another ownership.
        let ownership = match input.str("ObjectOwnership") {
            None => "BucketOwnerEnforced",
            Some(o) if crate::acl::OWNERSHIPS.contains(&o) => o,
            Some(o) => {
                return Err(errors::invalid_arg(
                    format!("Invalid x-amz-object-ownership header: {o}"),
                    "x-amz-object-ownership",
                    None,
                ));
            }
        };
        let tags = create_tags(input.get("CreateBucketConfiguration"))?;
        let acl = crate::acl::from_input(input)?;
        if let Some(g) = &acl {
            if ownership == "BucketOwnerEnforced" && crate::acl::grants_others(g) {
                return Err(crate::acl::invalid_acl_with_ownership());
            }
            // The new bucket's own settings block public ACLs from the start.
            if crate::acl::is_public(g) {
                return Err(AwsError::new(
                    400,
                    "InvalidBucketAclWithBlockPublicAccessError",
                    "Bucket cannot have public ACLs set with BlockPublicAccess enabled",
                ));
            }
        }
        let meta = BucketMeta {
            name: name.to_owned(),
            owner: ctx.account_id.clone(),
            region,
            created_ms: ctx.clock.now_millis(),
            versioning: None,
            tags: (!tags.is_empty()).then(|| tags.clone()),
            policy: None,
            cors: None,
            acl,
            public_access_block: Some(crate::acl::PublicAccessBlock::ALL),
            ownership: Some(ownership.to_owned()),
            encryption: None,
            lifecycle: None,
            lifecycle_min_size: None,
            location_constraint: None,
            object_lock: None,
            notifications: None,
            configs: Default::default(),
        };
        let mut meta = meta;
        // `EU` is eu-west-1's old name: GetBucketLocation answers it as it was given.
        if constraint == Some("EU") {
            meta.location_constraint = Some("EU".to_owned());
        }
        if input.bool("ObjectLockEnabledForBucket") == Some(true) {
            // Object Lock needs versioning, so it comes with it.
            meta.object_lock = Some(crate::lock::LockConfig::default());
            meta.versioning = Some("Enabled".to_owned());
        }
        {
            let buckets = self.store.buckets.read().unwrap();
            if let Some(existing) = buckets.get(name) {
                return if existing.owner() != ctx.account_id {
                    Err(AwsError::new(
                        409,
                        "BucketAlreadyExists",
                        "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.",
                    )
                    .with_field("BucketName", name))
                } else if ctx.region == "us-east-1"
                    && existing.meta.read().unwrap().region == "us-east-1"
                    // Tags are set only at creation: a repeat that brings some fails.
                    && tags.is_empty()
                {
                    // us-east-1 answers a repeated create of its own buckets by the owner
                    // with success (a legacy of the global endpoint); not of other regions'.
                    Ok(Value::map().with("Location", format!("/{name}")))
                } else {
                    Err(AwsError::new(
                        409,
                        "BucketAlreadyOwnedByYou",
                        "Your previous request to create the named bucket succeeded and you already own it.",
                    )
                    .with_field("BucketName", name))
                };
            }
        }
        let meta_region = meta.region.clone();
        let batch = self.store.put(T_BUCKETS, name.as_bytes().to_vec(), &meta);
        // Claim the name before committing so a racing create of the same name fails.
        {
            let mut buckets = self.store.buckets.write().unwrap();
            if buckets.contains_key(name) {
                return Err(AwsError::new(
                    409,
                    "OperationAborted",
                    "A conflicting conditional operation is currently in progress against this resource. Please try again.",
                ));
            }
            buckets.insert(name.to_owned(), Arc::new(Bucket::new_pub(meta)));
        }
        if let Err(e) = self.store.commit(batch).await {
            self.store.buckets.write().unwrap().remove(name);
            return Err(e);
        }
        // A bucket outside us-east-1 is located by its virtual host on S3's global name.
        let location = if meta_region == "us-east-1" {
            format!("/{name}")
        } else {
            format!("http://{name}.s3.amazonaws.com/")
        };
        Ok(Value::map().with("Location", location))
    }

    pub(crate) async fn delete_bucket(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let name = input.str("Bucket").unwrap_or_default();
        let b = self.owned_bucket(ctx, name)?;
        {
            let mut buckets = self.store.buckets.write().unwrap();
            if !b.is_empty() {
                let message = if b.versioning().is_some() {
                    "The bucket you tried to delete is not empty. You must delete all versions in the bucket."
                } else {
                    "The bucket you tried to delete is not empty"
                };
                return Err(
                    AwsError::new(409, "BucketNotEmpty", message).with_field("BucketName", name)
                );
            }
            buckets.remove(name);
        }
        self.store
            .commit(vec![Mutation::delete(T_BUCKETS, name.as_bytes())])
            .await?;
        Ok(Value::map())
    }

    pub(crate) fn head_bucket(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let name = input.str("Bucket").unwrap_or_default();
        let b = self.bucket_for(ctx, name)?;
        let region = b.meta.read().unwrap().region.clone();
        // BucketArn and the location type are for directory buckets only.
        Ok(Value::map()
            .with("BucketRegion", region)
            .with("AccessPointAlias", false))
    }

    pub(crate) fn list_buckets(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let prefix = input.str("Prefix").unwrap_or_default();
        let region = input.str("BucketRegion");
        if let Some(r) = region
            && r != "us-east-1"
            && (!known_constraint(r) || r == "EU")
        {
            return Err(errors::invalid_arg(
                format!("Argument value {r} is not a valid AWS Region"),
                "bucket-region",
                None,
            ));
        }
        let after = input
            .str("ContinuationToken")
            .and_then(crate::listing::decode_token);
        let max = input.int("MaxBuckets").unwrap_or(10_000).clamp(1, 10_000) as usize;
        let buckets = self.store.buckets.read().unwrap();
        let mut out = Vec::new();
        let mut next = None;
        for (name, b) in buckets.iter() {
            if after.as_ref().is_some_and(|a| name <= a) || !name.starts_with(prefix) {
                continue;
            }
            let meta = b.meta.read().unwrap();
            if meta.owner != ctx.account_id || region.is_some_and(|r| r != meta.region) {
                continue;
            }
            if out.len() == max {
                next = out
                    .last()
                    .and_then(|v: &Value| v.str("Name"))
                    .map(crate::listing::encode_token);
                break;
            }
            out.push(
                Value::map()
                    .with("Name", name.as_str())
                    .with("CreationDate", Timestamp::from_millis(meta.created_ms))
                    .with("BucketRegion", meta.region.as_str()),
            );
        }
        let mut v = Value::map()
            .with("Buckets", Value::List(out))
            .with("Owner", owner_value(&ctx.account_id));
        if input.get("Prefix").is_some() {
            v.insert("Prefix", prefix);
        }
        if let Some(n) = next {
            v.insert("ContinuationToken", n);
        }
        Ok(v)
    }

    pub(crate) fn get_bucket_location(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let b = self.bucket_for(ctx, input.str("Bucket").unwrap_or_default())?;
        let region = {
            let m = b.meta.read().unwrap();
            m.location_constraint
                .clone()
                .unwrap_or_else(|| m.region.clone())
        };
        let mut v = Value::map();
        // us-east-1 is reported as an empty constraint.
        if region != "us-east-1" {
            v.insert("LocationConstraint", region);
        }
        Ok(v)
    }

    /// The Delete* operations of a bucket's sub-resources (tagging, CORS, encryption,
    /// lifecycle, ...): the owner clears one setting, durably.
    pub(crate) async fn clear_bucket_setting(
        &self,
        ctx: &RequestContext,
        input: &Value,
        clear: impl FnOnce(&mut crate::store::BucketMeta),
    ) -> Result<Value, AwsError> {
        let b = self.owned_bucket(ctx, input.str("Bucket").unwrap_or_default())?;
        clear(&mut b.meta.write().unwrap());
        self.save_bucket(&b).await?;
        Ok(Value::map())
    }

    pub(crate) async fn save_bucket(&self, b: &Bucket) -> Result<(), AwsError> {
        let meta = b.meta.read().unwrap().clone();
        let batch = self
            .store
            .put(T_BUCKETS, meta.name.as_bytes().to_vec(), &meta);
        self.store.commit(batch).await
    }

    pub(crate) async fn put_bucket_tagging(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let b = self.owned_bucket(ctx, input.str("Bucket").unwrap_or_default())?;
        let tags = read_tags(
            input.get("Tagging"),
            "System tags cannot be added/updated by requester",
        )?;
        if tags.len() > 50 {
            return Err(AwsError::new(
                400,
                "InvalidTag",
                "Bucket tag count cannot be greater than 50",
            ));
        }
        // An empty TagSet removes the tags, as DeleteBucketTagging does.
        b.meta.write().unwrap().tags = (!tags.is_empty()).then_some(tags);
        self.save_bucket(&b).await?;
        Ok(Value::map())
    }

    pub(crate) fn get_bucket_tagging(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let name = input.str("Bucket").unwrap_or_default();
        let b = self.owned_bucket(ctx, name)?;
        let tags = b.meta.read().unwrap().tags.clone();
        match tags {
            Some(t) => Ok(Value::map().with("TagSet", tag_set(&t))),
            None => Err(
                AwsError::new(404, "NoSuchTagSet", "The TagSet does not exist")
                    .with_field("BucketName", name),
            ),
        }
    }

    pub(crate) async fn delete_bucket_tagging(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        self.clear_bucket_setting(ctx, input, |m| m.tags = None)
            .await
    }

    pub(crate) async fn put_bucket_versioning(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let b = self.owned_bucket(ctx, input.str("Bucket").unwrap_or_default())?;
        let config = input.get("VersioningConfiguration");
        let status = config.and_then(|c| c.str("Status")).map(str::to_owned);
        match status.as_deref() {
            Some("Enabled" | "Suspended") => {}
            // Only an MFADelete setting may come without a status; it changes nothing here.
            None if config.and_then(|c| c.get("MFADelete")).is_some() => {
                return Ok(Value::map());
            }
            None => {
                return Err(AwsError::new(
                    400,
                    "IllegalVersioningConfigurationException",
                    "The Versioning element must be specified",
                ));
            }
            Some(_) => return Err(errors::malformed_xml()),
        }
        if status.as_deref() == Some("Suspended") && b.meta.read().unwrap().object_lock.is_some() {
            return Err(AwsError::new(
                409,
                "InvalidBucketState",
                "An Object Lock configuration is present on this bucket, so the versioning state cannot be changed.",
            ));
        }
        b.meta.write().unwrap().versioning = status;
        self.save_bucket(&b).await?;
        Ok(Value::map())
    }

    pub(crate) fn get_bucket_versioning(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let b = self.owned_bucket(ctx, input.str("Bucket").unwrap_or_default())?;
        let mut v = Value::map();
        if let Some(s) = b.versioning() {
            v.insert("Status", s);
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::valid_bucket_name as ok;

    #[test]
    fn bucket_names() {
        assert!(ok("my-bucket.1"));
        assert!(ok("abc"));
        assert!(!ok("ab"));
        assert!(!ok("My-Bucket"));
        assert!(!ok("-abc"));
        assert!(!ok("abc-"));
        assert!(!ok("a..b"));
        assert!(!ok("192.168.5.4"));
        assert!(!ok("xn--abc"));
        assert!(!ok("abc-s3alias"));
        assert!(!ok("a_b"));
        assert!(!ok(&"a".repeat(64)));
    }
}
