//! Bucket configurations kept as the request's value tree (converted to JSON for
//! storage): logging (acted on by [`crate::logging`]), website (served by
//! [`crate::website`]), and requester pays, replication and inventory, which are stored
//! and returned only.

use crate::S3Provider;
use crate::errors;
use nephos_core::{AwsError, RequestContext, Timestamp, Value};
use serde_json::{Value as Json, json};

/// A value tree as JSON; timestamps and blobs are tagged so they come back typed.
pub fn to_json(v: &Value) -> Json {
    match v {
        Value::Null => Json::Null,
        Value::Bool(b) => json!(b),
        Value::Integer(i) => json!(i),
        Value::Float(f) => json!({"$f": f}),
        Value::String(s) => json!(s),
        Value::Blob(b) => json!({"$b": crate::store::b64_encode(b)}),
        Value::Timestamp(t) => json!({"$t": t.as_millis()}),
        Value::Json(raw) => serde_json::from_str(raw.text()).unwrap_or_default(),
        Value::List(l) => Json::Array(l.iter().map(to_json).collect()),
        Value::Map(m) => Json::Object(m.iter().map(|(k, v)| (k.clone(), to_json(v))).collect()),
    }
}

pub fn from_json(j: &Json) -> Value {
    match j {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => Value::Integer(n.as_i64().unwrap_or_default()),
        Json::String(s) => Value::from(s.as_str()),
        Json::Array(a) => Value::List(a.iter().map(from_json).collect()),
        Json::Object(o) => {
            if let (1, Some(f)) = (o.len(), o.get("$f").and_then(Json::as_f64)) {
                return Value::Float(f);
            }
            if let (1, Some(t)) = (o.len(), o.get("$t").and_then(Json::as_i64)) {
                return Value::Timestamp(Timestamp::from_millis(t));
            }
            if let (1, Some(b)) = (o.len(), o.get("$b").and_then(Json::as_str)) {
                return Value::Blob(crate::store::b64_decode(b).unwrap_or_default().into());
            }
            let mut m = Value::map();
            for (k, v) in o {
                m.insert(k, from_json(v));
            }
            m
        }
    }
}

impl S3Provider {
    async fn set_config(
        &self,
        ctx: &RequestContext,
        input: &Value,
        name: &str,
        value: Option<&Value>,
    ) -> Result<(), AwsError> {
        let b = self.owned_bucket(ctx, input.str("Bucket").unwrap_or_default())?;
        {
            let mut m = b.meta.write().unwrap();
            match value {
                Some(v) => {
                    m.configs.insert(name.to_owned(), to_json(v));
                }
                None => {
                    m.configs.remove(name);
                }
            }
        }
        self.save_bucket(&b).await
    }

    fn config(
        &self,
        ctx: &RequestContext,
        input: &Value,
        name: &str,
    ) -> Result<Option<Value>, AwsError> {
        let b = self.owned_bucket(ctx, input.str("Bucket").unwrap_or_default())?;
        let m = b.meta.read().unwrap();
        Ok(m.configs.get(name).map(from_json))
    }

    /// Put/Get/Delete/List of a configuration family kept per `Id` (inventory,
    /// analytics, metrics, Intelligent-Tiering).
    async fn id_config(
        &self,
        ctx: &RequestContext,
        input: &Value,
        family: &IdFamily,
        verb: &str,
    ) -> Result<Value, AwsError> {
        let bucket = input.str("Bucket").unwrap_or_default();
        let id = input.str("Id").unwrap_or_default();
        let slot = format!("{}:{id}", family.prefix);
        let missing = || {
            AwsError::new(
                404,
                "NoSuchConfiguration",
                "The specified configuration does not exist.",
            )
        };
        Ok(match verb {
            "Put" => {
                let c = input.get(family.member);
                if family.prefix == "inventory" {
                    check_inventory(c, id)?;
                }
                // Inventory names the mismatch (above); analytics answers MalformedXML.
                if c.and_then(|c| c.str("Id")) != Some(id) {
                    return Err(errors::malformed_xml());
                }
                let b = self.owned_bucket(ctx, bucket)?;
                let count = b
                    .meta
                    .read()
                    .unwrap()
                    .configs
                    .keys()
                    .filter(|k| k.starts_with(family.prefix) && **k != slot)
                    .count();
                if count >= MAX_ID_CONFIGS {
                    return Err(AwsError::new(
                        400,
                        "TooManyConfigurations",
                        "You are attempting to create a new configuration but have already reached the 1,000-configuration limit.",
                    ));
                }
                self.set_config(ctx, input, &slot, c).await?;
                Value::map()
            }
            "Get" => match self.config(ctx, input, &slot)? {
                Some(v) => Value::map().with(family.member, v),
                None => return Err(missing()),
            },
            "Delete" => {
                if self.config(ctx, input, &slot)?.is_none() {
                    return Err(missing());
                }
                self.set_config(ctx, input, &slot, None).await?;
                Value::map()
            }
            _ => {
                let b = self.owned_bucket(ctx, bucket)?;
                let token = input.str("ContinuationToken");
                // Pages of 100, in Id order; the token names the last Id of a page.
                let after = token.and_then(crate::listing::decode_token);
                let start = format!("{}:", family.prefix);
                let m = b.meta.read().unwrap();
                let mut page = m
                    .configs
                    .range(start.clone()..)
                    .take_while(|(k, _)| k.starts_with(&start))
                    .filter(|(k, _)| after.as_ref().is_none_or(|a| k[start.len()..] > **a))
                    .map(|(k, v)| (k[start.len()..].to_owned(), from_json(v)));
                let list: Vec<(String, Value)> = page.by_ref().take(ID_CONFIG_PAGE).collect();
                let more = page.next().is_some();
                let mut out = Value::map().with("IsTruncated", more);
                if let Some(t) = token {
                    out.insert("ContinuationToken", t);
                }
                if more && let Some((last, _)) = list.last() {
                    out.insert("NextContinuationToken", crate::listing::encode_token(last));
                }
                out.with(
                    family.list,
                    Value::List(list.into_iter().map(|(_, v)| v).collect()),
                )
            }
        })
    }

    /// Bucket configuration operations kept as sent.
    pub(crate) async fn stored_config(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let bucket = input.str("Bucket").unwrap_or_default();
        let none = |code: &'static str, msg: &'static str| {
            AwsError::new(404, code, msg).with_field("BucketName", bucket)
        };
        if let Some((family, verb)) = IdFamily::of(&ctx.operation) {
            return self.id_config(ctx, input, family, verb).await;
        }
        Ok(match ctx.operation.as_str() {
            "PutBucketLogging" => {
                let status = input.get("BucketLoggingStatus");
                let enabled = status.and_then(|s| s.get("LoggingEnabled"));
                if let Some(target) = enabled.and_then(|e| e.str("TargetBucket")) {
                    let t = self.store.bucket(target).ok_or_else(|| {
                        AwsError::new(
                            400,
                            "InvalidTargetBucketForLogging",
                            "The target bucket for logging does not exist",
                        )
                        .with_field("TargetBucket", target)
                    })?;
                    if t.owner() != ctx.account_id {
                        return Err(AwsError::new(
                            400,
                            "InvalidTargetBucketForLogging",
                            "The owner for the bucket to be logged and the target bucket must be the same.",
                        ));
                    }
                    // The target's permissions (Log Delivery grants, or a policy for the
                    // logging service) are not checked here: AWS accepts a target that does
                    // not allow delivery yet, and delivery checks them (AWS-recorded).
                    let source = self.owned_bucket(ctx, bucket)?;
                    let source_region = source.meta.read().unwrap().region.clone();
                    let target_region = t.meta.read().unwrap().region.clone();
                    if source_region != target_region {
                        let mut e = AwsError::new(
                            403,
                            "CrossLocationLoggingProhibitted",
                            "Cross S3 location logging not allowed. ",
                        );
                        // us-east-1 (S3's global location) does not name itself.
                        if source_region != "us-east-1" {
                            e = e.with_field("SourceBucketLocation", source_region);
                        }
                        return Err(e.with_field("TargetBucketLocation", target_region));
                    }
                }
                self.set_config(ctx, input, "logging", enabled).await?;
                Value::map()
            }
            "GetBucketLogging" => match self.config(ctx, input, "logging")? {
                Some(v) => Value::map().with("LoggingEnabled", v),
                None => Value::map(),
            },
            "PutBucketRequestPayment" => {
                let payer = input
                    .get("RequestPaymentConfiguration")
                    .and_then(|c| c.get("Payer"))
                    .cloned();
                if !payer
                    .as_ref()
                    .and_then(Value::as_str)
                    .is_some_and(|p| matches!(p, "Requester" | "BucketOwner"))
                {
                    return Err(errors::malformed_xml());
                }
                self.set_config(ctx, input, "requestPayment", payer.as_ref())
                    .await?;
                Value::map()
            }
            "PutBucketAccelerateConfiguration" => {
                if bucket.contains('.') {
                    return Err(errors::invalid_request(
                        "S3 Transfer Acceleration is not supported for buckets with periods (.) in their names",
                    ));
                }
                let status = input
                    .get("AccelerateConfiguration")
                    .and_then(|c| c.get("Status"))
                    .cloned();
                if !status
                    .as_ref()
                    .and_then(Value::as_str)
                    .is_some_and(|s| matches!(s, "Enabled" | "Suspended"))
                {
                    return Err(errors::malformed_xml());
                }
                self.set_config(ctx, input, "accelerate", status.as_ref())
                    .await?;
                Value::map()
            }
            // Never configured: an empty configuration, no Status.
            "GetBucketAccelerateConfiguration" => match self.config(ctx, input, "accelerate")? {
                Some(status) => Value::map().with("Status", status),
                None => Value::map(),
            },
            "GetBucketRequestPayment" => Value::map().with(
                "Payer",
                self.config(ctx, input, "requestPayment")?
                    .unwrap_or_else(|| Value::from("BucketOwner")),
            ),
            "PutBucketReplication" => {
                let b = self.owned_bucket(ctx, bucket)?;
                if !b.versioned() {
                    return Err(errors::invalid_request(
                        "Versioning must be 'Enabled' on the bucket to apply a replication configuration",
                    ));
                }
                let c = input.get("ReplicationConfiguration");
                let rules = c
                    .and_then(|c| c.get("Rules"))
                    .and_then(Value::as_list)
                    .unwrap_or_default();
                if rules.is_empty() || c.and_then(|c| c.str("Role")).is_none() {
                    return Err(errors::malformed_xml());
                }
                // AWS refuses a destination it cannot replicate to, missing or unversioned
                // alike, with the same words.
                for r in rules {
                    let dest = r
                        .get("Destination")
                        .and_then(|d| d.str("Bucket"))
                        .unwrap_or_default();
                    let name = dest.strip_prefix("arn:aws:s3:::").unwrap_or(dest);
                    if !self.store.bucket(name).is_some_and(|d| d.versioned()) {
                        return Err(errors::invalid_request(
                            "Destination bucket must have versioning enabled.",
                        ));
                    }
                }
                // A rule without an ID gets one, as S3 names it: base64 of a UUID.
                let mut c = c.cloned().unwrap_or_else(Value::map);
                let named: Vec<Value> = rules
                    .iter()
                    .map(|r| match r.str("ID") {
                        Some(_) => r.clone(),
                        None => r.clone().with(
                            "ID",
                            crate::store::b64_encode(nephos_core::request_id().as_bytes()),
                        ),
                    })
                    .collect();
                c.insert("Rules", Value::List(named));
                self.set_config(ctx, input, "replication", Some(&c)).await?;
                Value::map()
            }
            "GetBucketReplication" => match self.config(ctx, input, "replication")? {
                Some(v) => Value::map().with("ReplicationConfiguration", v),
                None => {
                    return Err(none(
                        "ReplicationConfigurationNotFoundError",
                        "The replication configuration was not found",
                    ));
                }
            },
            "DeleteBucketReplication" => {
                self.set_config(ctx, input, "replication", None).await?;
                Value::map()
            }
            "PutBucketWebsite" => {
                let c = input.get("WebsiteConfiguration");
                check_website(c)?;
                self.set_config(ctx, input, "website", c).await?;
                Value::map()
            }
            "GetBucketWebsite" => match self.config(ctx, input, "website")? {
                Some(v) => v,
                None => {
                    return Err(none(
                        "NoSuchWebsiteConfiguration",
                        "The specified bucket does not have a website configuration",
                    ));
                }
            },
            "DeleteBucketWebsite" => {
                self.set_config(ctx, input, "website", None).await?;
                Value::map()
            }
            other => return Err(AwsError::not_implemented("s3", other)),
        })
    }
}

/// How many configurations of a family one List answer holds.
const ID_CONFIG_PAGE: usize = 100;

/// What S3 refuses in an inventory configuration (AWS-recorded answers).
fn check_inventory(c: Option<&Value>, id: &str) -> Result<(), AwsError> {
    const FIELDS: [&str; 15] = [
        "Size",
        "LastModifiedDate",
        "StorageClass",
        "ETag",
        "IsMultipartUploaded",
        "ReplicationStatus",
        "EncryptionStatus",
        "ObjectLockRetainUntilDate",
        "ObjectLockMode",
        "ObjectLockLegalHoldStatus",
        "IntelligentTieringAccessTier",
        "BucketKeyStatus",
        "ChecksumAlgorithm",
        "ObjectAccessControlList",
        "ObjectOwner",
    ];
    let Some(c) = c else {
        return Err(errors::malformed_xml());
    };
    if c.str("Id") != Some(id) {
        return Err(AwsError::new(
            400,
            "IdMismatch",
            "Document ID does not match the specified configuration ID.",
        ));
    }
    let dest = c
        .get("Destination")
        .and_then(|d| d.get("S3BucketDestination"));
    let one_of = |v: Option<&str>, allowed: &[&str]| v.is_some_and(|v| allowed.contains(&v));
    let fields_ok = c
        .get("OptionalFields")
        .and_then(Value::as_list)
        .unwrap_or_default()
        .iter()
        .all(|f| one_of(f.as_str(), &FIELDS));
    if !one_of(
        dest.and_then(|d| d.str("Format")),
        &["CSV", "ORC", "Parquet"],
    ) || !one_of(
        c.get("Schedule").and_then(|s| s.str("Frequency")),
        &["Daily", "Weekly"],
    ) || !one_of(c.str("IncludedObjectVersions"), &["All", "Current"])
        || !fields_ok
    {
        return Err(errors::malformed_xml());
    }
    if !dest
        .and_then(|d| d.str("Bucket"))
        .is_some_and(|b| b.starts_with("arn:") && b.split(':').count() == 6)
    {
        return Err(AwsError::new(
            400,
            "InvalidS3DestinationBucket",
            "Invalid bucket ARN.",
        ));
    }
    Ok(())
}

/// What S3 refuses in a website configuration, with its words (AWS-recorded).
fn check_website(c: Option<&Value>) -> Result<(), AwsError> {
    let has = |k: &str| c.and_then(|c| c.get(k)).is_some();
    if has("RedirectAllRequestsTo")
        && (has("IndexDocument") || has("ErrorDocument") || has("RoutingRules"))
    {
        return Err(errors::invalid_arg(
            "RedirectAllRequestsTo cannot be provided in conjunction with other Routing Rules.",
            "RedirectAllRequestsTo",
            Some("not null"),
        ));
    }
    if !has("RedirectAllRequestsTo") && !has("IndexDocument") {
        return Err(errors::invalid_arg(
            "A value for IndexDocument Suffix must be provided if RedirectAllRequestsTo is empty",
            "IndexDocument",
            Some("null"),
        ));
    }
    if let Some(suffix) = c
        .and_then(|c| c.get("IndexDocument"))
        .and_then(|i| i.str("Suffix"))
        .filter(|s| s.is_empty() || s.contains('/'))
    {
        return Err(errors::invalid_arg(
            "The IndexDocument Suffix is not well formed",
            "IndexDocument",
            Some(suffix),
        ));
    }
    let Some(rules) = c.and_then(|c| c.get("RoutingRules")) else {
        return Ok(());
    };
    let rules = rules.as_list().unwrap_or_default();
    if rules.is_empty() {
        return Err(errors::malformed_xml());
    }
    for rule in rules {
        let redirect = rule.get("Redirect");
        let field = |k: &str| redirect.and_then(|r| r.str(k));
        if field("Protocol").is_some_and(|p| p != "http" && p != "https") {
            return Err(errors::invalid_request(
                "Invalid protocol, protocol can be http or https. If not defined the protocol will be selected automatically.",
            ));
        }
        if field("ReplaceKeyPrefixWith").is_some() && field("ReplaceKeyWith").is_some() {
            return Err(errors::invalid_request(
                "You can only define ReplaceKeyPrefix or ReplaceKey but not both.",
            ));
        }
        if let Some(cond) = rule.get("Condition")
            && cond.as_map().is_none_or(|m| m.is_empty())
        {
            return Err(errors::invalid_request(
                "Condition cannot be empty. To redirect all requests without a condition, the condition element shouldn't be present.",
            ));
        }
    }
    Ok(())
}

/// A configuration family S3 keeps per `Id`, with its operations' names.
pub struct IdFamily {
    /// `Inventory` in `PutBucketInventoryConfiguration`, `ListBucketInventoryConfigurations`.
    name: &'static str,
    /// The key prefix in the bucket's configs (`inventory:<id>`).
    prefix: &'static str,
    /// The configuration's member in Put input and Get output.
    member: &'static str,
    /// The list member of the List output.
    list: &'static str,
}

static ID_FAMILIES: [IdFamily; 4] = [
    IdFamily {
        name: "Inventory",
        prefix: "inventory",
        member: "InventoryConfiguration",
        list: "InventoryConfigurationList",
    },
    IdFamily {
        name: "Analytics",
        prefix: "analytics",
        member: "AnalyticsConfiguration",
        list: "AnalyticsConfigurationList",
    },
    IdFamily {
        name: "Metrics",
        prefix: "metrics",
        member: "MetricsConfiguration",
        list: "MetricsConfigurationList",
    },
    IdFamily {
        name: "IntelligentTiering",
        prefix: "intelligentTiering",
        member: "IntelligentTieringConfiguration",
        list: "IntelligentTieringConfigurationList",
    },
];

/// Per bucket and family, as AWS documents for each.
const MAX_ID_CONFIGS: usize = 1000;

impl IdFamily {
    /// The family and verb (`Put`, `Get`, `Delete`, `List`) of an operation name.
    pub fn of(op: &str) -> Option<(&'static IdFamily, &'static str)> {
        ID_FAMILIES.iter().find_map(|f| {
            for verb in ["Put", "Get", "Delete"] {
                if op
                    .strip_prefix(verb)
                    .and_then(|r| r.strip_prefix("Bucket"))
                    .and_then(|r| r.strip_prefix(f.name))
                    == Some("Configuration")
                {
                    return Some((f, verb));
                }
            }
            (op.strip_prefix("ListBucket")
                .and_then(|r| r.strip_prefix(f.name))
                == Some("Configurations"))
            .then_some((f, "List"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_trees_survive_json() {
        let v = Value::map()
            .with("A", "x")
            .with("N", 3)
            .with("T", Timestamp::from_millis(86_400_000))
            .with("L", Value::List(vec![Value::from(true)]));
        assert_eq!(from_json(&to_json(&v)), v);
    }
}
