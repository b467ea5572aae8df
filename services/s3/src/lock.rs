//! Object Lock: the bucket's default retention, per-version retention (GOVERNANCE or
//! COMPLIANCE) and legal holds, and the rule that a protected version cannot be deleted.

use crate::S3Provider;
use crate::errors;
use crate::store::{Bucket, ObjectMeta, T_OBJECTS, Version};
use nephos_core::{AwsError, RequestContext, Timestamp, Value};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

const DAY_MS: i64 = 86_400_000;

/// A bucket's Object Lock setting: enabled, with an optional default retention.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LockConfig {
    pub mode: Option<String>,
    pub days: Option<i64>,
    pub years: Option<i64>,
}

fn missing_config() -> AwsError {
    errors::invalid_request("Bucket is missing Object Lock Configuration")
}

fn protected() -> AwsError {
    AwsError::new(
        403,
        "AccessDenied",
        "Access Denied because object protected by object lock.",
    )
}

/// Applies the request's lock headers, or the bucket's default retention, to a new version.
pub fn resolve(meta: &mut ObjectMeta, input: &Value, b: &Bucket, now: i64) -> Result<(), AwsError> {
    let config = b.meta.read().unwrap().object_lock.clone();
    let mode = input.str("ObjectLockMode");
    let until = match input.get("ObjectLockRetainUntilDate") {
        Some(Value::Timestamp(t)) => Some(t.as_millis()),
        _ => None,
    };
    let hold = input.str("ObjectLockLegalHoldStatus");
    if config.is_none() {
        if mode.is_some() || until.is_some() || hold.is_some() {
            return Err(missing_config());
        }
        return Ok(());
    }
    match (mode, until) {
        (Some(m), Some(u)) => {
            if u <= now {
                return Err(errors::invalid_argument(
                    "The retain until date must be in the future!",
                ));
            }
            meta.lock_mode = Some(m.to_owned());
            meta.lock_until_ms = Some(u);
        }
        (None, None) => {
            if let Some(c) = config.as_ref()
                && let Some(m) = &c.mode
            {
                let days = c.days.unwrap_or(0) + c.years.unwrap_or(0) * 365;
                meta.lock_mode = Some(m.clone());
                meta.lock_until_ms = Some(now + days * DAY_MS);
            }
        }
        _ => {
            return Err(errors::invalid_argument(
                "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied",
            ));
        }
    }
    meta.legal_hold = hold == Some("ON");
    Ok(())
}

/// Whether deleting `v` (by version id) is refused.
pub fn check_delete(v: &Version, bypass: bool, now: i64) -> Result<(), AwsError> {
    if v.meta.legal_hold {
        return Err(protected());
    }
    if let (Some(mode), Some(until)) = (&v.meta.lock_mode, v.meta.lock_until_ms)
        && until > now
        && !(mode == "GOVERNANCE" && bypass)
    {
        return Err(protected());
    }
    Ok(())
}

/// The lock headers of GetObject/HeadObject.
pub fn add_headers(meta: &ObjectMeta, out: &mut Value) {
    if let (Some(m), Some(u)) = (&meta.lock_mode, meta.lock_until_ms) {
        out.insert("ObjectLockMode", m.as_str());
        out.insert("ObjectLockRetainUntilDate", Timestamp::from_millis(u));
    }
    if meta.legal_hold {
        out.insert("ObjectLockLegalHoldStatus", "ON");
    }
}

impl S3Provider {
    pub(crate) async fn put_object_lock_configuration(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let b = self.owned_bucket(ctx, input.str("Bucket").unwrap_or_default())?;
        let c = input.get("ObjectLockConfiguration");
        if c.and_then(|c| c.str("ObjectLockEnabled")) != Some("Enabled") {
            return Err(errors::malformed_xml());
        }
        if !b.versioned() {
            return Err(AwsError::new(
                409,
                "InvalidBucketState",
                "Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration",
            ));
        }
        let mut config = LockConfig::default();
        if let Some(d) = c
            .and_then(|c| c.get("Rule"))
            .and_then(|r| r.get("DefaultRetention"))
        {
            config.mode = d.str("Mode").map(str::to_owned);
            config.days = d.int("Days");
            config.years = d.int("Years");
            if config.mode.is_none() || config.days.is_some() == config.years.is_some() {
                return Err(errors::malformed_xml());
            }
            if config.days.or(config.years).is_some_and(|n| n <= 0) {
                return Err(errors::invalid_argument(
                    "Default retention period must be a positive integer value",
                ));
            }
        }
        b.meta.write().unwrap().object_lock = Some(config);
        self.save_bucket(&b).await?;
        Ok(Value::map())
    }

    pub(crate) fn get_object_lock_configuration(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let name = input.str("Bucket").unwrap_or_default();
        let b = self.owned_bucket(ctx, name)?;
        let Some(c) = b.meta.read().unwrap().object_lock.clone() else {
            return Err(AwsError::new(
                404,
                "ObjectLockConfigurationNotFoundError",
                "Object Lock configuration does not exist for this bucket",
            )
            .with_field("BucketName", name));
        };
        let mut config = Value::map().with("ObjectLockEnabled", "Enabled");
        if let Some(m) = &c.mode {
            let mut d = Value::map().with("Mode", m.as_str());
            if let Some(x) = c.days {
                d.insert("Days", x);
            }
            if let Some(x) = c.years {
                d.insert("Years", x);
            }
            config.insert("Rule", Value::map().with("DefaultRetention", d));
        }
        Ok(Value::map().with("ObjectLockConfiguration", config))
    }

    async fn update_version(
        &self,
        b: &Bucket,
        v: &Version,
        change: impl FnOnce(&mut ObjectMeta),
    ) -> Result<(), AwsError> {
        let mut updated = v.clone();
        change(&mut updated.meta);
        let batch = self.store.put(T_OBJECTS, updated.storage_key(), &updated);
        self.store.commit(batch).await?;
        if let Some(list) = b.objects.write().unwrap().get_mut(&v.key)
            && let Some(slot) = list.iter_mut().find(|x| x.version_id == v.version_id)
        {
            *slot = Arc::new(updated);
        }
        Ok(())
    }

    fn locked_version(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<(Arc<Bucket>, Arc<Version>), AwsError> {
        let key = input.str("Key").unwrap_or_default();
        let b = self.bucket_for_key(ctx, input.str("Bucket").unwrap_or_default(), Some(key))?;
        if b.meta.read().unwrap().object_lock.is_none() {
            return Err(missing_config());
        }
        let v = self.find_version(&b, key, input.str("VersionId"))?;
        Ok((b, v))
    }

    pub(crate) async fn put_object_retention(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let (b, v) = self.locked_version(ctx, input)?;
        let r = input.get("Retention");
        let mode = r.and_then(|r| r.str("Mode")).map(str::to_owned);
        let until = match r.and_then(|r| r.get("RetainUntilDate")) {
            Some(Value::Timestamp(t)) => Some(t.as_millis()),
            _ => None,
        };
        let now = ctx.clock.now_millis();
        if until.is_some_and(|u| u <= now) {
            return Err(errors::invalid_argument(
                "The retain until date must be in the future!",
            ));
        }
        let bypass = input.bool("BypassGovernanceRetention").unwrap_or(false);
        if let (Some(old_mode), Some(old_until)) = (&v.meta.lock_mode, v.meta.lock_until_ms)
            && old_until > now
        {
            let weaker = mode.as_deref() != Some(old_mode) || until.is_none_or(|u| u < old_until);
            if weaker && (old_mode == "COMPLIANCE" || !bypass) {
                return Err(protected());
            }
        }
        self.update_version(&b, &v, |m| {
            m.lock_mode = mode;
            m.lock_until_ms = until;
        })
        .await?;
        Ok(Value::map())
    }

    pub(crate) fn get_object_retention(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let (_, v) = self.locked_version(ctx, input)?;
        match (&v.meta.lock_mode, v.meta.lock_until_ms) {
            (Some(m), Some(u)) => Ok(Value::map().with(
                "Retention",
                Value::map()
                    .with("Mode", m.as_str())
                    .with("RetainUntilDate", Timestamp::from_millis(u)),
            )),
            _ => Err(AwsError::new(
                404,
                "NoSuchObjectLockConfiguration",
                "The specified object does not have a ObjectLock configuration",
            )),
        }
    }

    pub(crate) async fn put_object_legal_hold(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let (b, v) = self.locked_version(ctx, input)?;
        let on = match input.get("LegalHold").and_then(|h| h.str("Status")) {
            Some("ON") => true,
            Some("OFF") => false,
            _ => return Err(errors::malformed_xml()),
        };
        self.update_version(&b, &v, |m| m.legal_hold = on).await?;
        Ok(Value::map())
    }

    pub(crate) fn get_object_legal_hold(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let (_, v) = self.locked_version(ctx, input)?;
        Ok(Value::map().with(
            "LegalHold",
            Value::map().with("Status", if v.meta.legal_hold { "ON" } else { "OFF" }),
        ))
    }
}
