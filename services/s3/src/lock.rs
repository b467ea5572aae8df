//! Object Lock: the bucket's default retention, per-version retention (GOVERNANCE or
//! COMPLIANCE) and legal holds, and the rule that a protected version cannot be deleted.

use crate::S3Provider;
use crate::errors;
use crate::store::{Bucket, ObjectMeta, T_OBJECTS, Version};
use nephos_core::{AwsError, RequestContext, Timestamp, Value};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

const DAY_MS: i64 = 86_400_000;

const MODES: [&str; 2] = ["GOVERNANCE", "COMPLIANCE"];

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

fn no_lock_config() -> AwsError {
    AwsError::new(
        404,
        "NoSuchObjectLockConfiguration",
        "The specified object does not have a ObjectLock configuration",
    )
}

fn protected() -> AwsError {
    AwsError::new(
        403,
        "AccessDenied",
        "Access Denied because object protected by object lock.",
    )
}

/// `ms` as Java's `Date.toString()` prints it in S3's home time zone (US Pacific), which
/// is how S3 echoes a refused retain-until date: `Tue Dec 31 16:00:00 PST 2019`.
pub fn java_date(ms: i64) -> String {
    use time::{Date, Month, OffsetDateTime, Weekday};
    let utc = OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    // US daylight saving time: from 2:00 on March's second Sunday to 2:00 on November's
    // first Sunday, local time (10:00 and 9:00 UTC).
    let sunday = |month: Month, n: u8| {
        Date::from_calendar_date(utc.year(), month, 1)
            .and_then(|first| {
                let to_sunday = (7 - first.weekday().number_days_from_sunday()) % 7;
                first.replace_day(1 + to_sunday + 7 * (n - 1))
            })
            .map(|d| d.midnight().assume_utc())
    };
    let dst = match (sunday(Month::March, 2), sunday(Month::November, 1)) {
        (Ok(start), Ok(end)) => {
            (start + time::Duration::hours(10)..end + time::Duration::hours(9)).contains(&utc)
        }
        _ => false,
    };
    let (hours, zone) = if dst { (-7, "PDT") } else { (-8, "PST") };
    let local =
        utc.to_offset(time::UtcOffset::from_hms(hours, 0, 0).unwrap_or(time::UtcOffset::UTC));
    let day = match local.weekday() {
        Weekday::Monday => "Mon",
        Weekday::Tuesday => "Tue",
        Weekday::Wednesday => "Wed",
        Weekday::Thursday => "Thu",
        Weekday::Friday => "Fri",
        Weekday::Saturday => "Sat",
        Weekday::Sunday => "Sun",
    };
    let month = &local.month().to_string()[..3];
    format!(
        "{day} {month} {:02} {:02}:{:02}:{:02} {zone} {}",
        local.day(),
        local.hour(),
        local.minute(),
        local.second(),
        local.year()
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
    // Only this request's header sets a hold (a copy does not inherit its source's).
    meta.legal_hold_set = false;
    if config.is_none() {
        if mode.is_some() || until.is_some() || hold.is_some() {
            return Err(missing_config());
        }
        return Ok(());
    }
    const BOTH: &str =
        "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied";
    match (mode, until) {
        (Some(m), Some(u)) => {
            // Modes are case-sensitive: `governance` is as unknown as `BAD-VALUE`.
            if !MODES.contains(&m) {
                return Err(errors::invalid_arg(
                    "Unknown wormMode directive.",
                    "x-amz-object-lock-mode",
                    Some(m),
                ));
            }
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
        (Some(_), None) => {
            return Err(errors::invalid_arg(
                BOTH,
                "x-amz-object-lock-retain-until-date",
                None,
            ));
        }
        (None, Some(_)) => {
            return Err(errors::invalid_arg(BOTH, "x-amz-object-lock-mode", None));
        }
    }
    meta.legal_hold = hold == Some("ON");
    meta.legal_hold_set = hold.is_some();
    Ok(())
}

/// `x-amz-bypass-governance-retention` (even `false`) needs an Object Lock bucket.
pub fn check_bypass(b: &Bucket, input: &Value) -> Result<(), AwsError> {
    if input.get("BypassGovernanceRetention").is_some()
        && b.meta.read().unwrap().object_lock.is_none()
    {
        return Err(errors::invalid_arg(
            "x-amz-bypass-governance-retention is only applicable to Object Lock enabled buckets.",
            "x-amz-bypass-governance-retention",
            None,
        ));
    }
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
    if meta.legal_hold || meta.legal_hold_set {
        let status = if meta.legal_hold { "ON" } else { "OFF" };
        out.insert("ObjectLockLegalHoldStatus", status);
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
        if let Some(rule) = c.and_then(|c| c.get("Rule")) {
            // A Rule holds exactly one DefaultRetention, with a known mode and one period.
            let d = rule
                .get("DefaultRetention")
                .ok_or_else(errors::malformed_xml)?;
            config.mode = d.str("Mode").map(str::to_owned);
            config.days = d.int("Days");
            config.years = d.int("Years");
            if config.mode.as_deref().is_none_or(|m| !MODES.contains(&m))
                || config.days.is_some() == config.years.is_some()
            {
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
        // A retention names both a known mode and a date, or (to lift one) neither.
        let empty = mode.is_none() && until.is_none();
        if !empty && (mode.as_deref().is_none_or(|m| !MODES.contains(&m)) || until.is_none()) {
            return Err(errors::malformed_xml());
        }
        let now = ctx.clock.now_millis();
        if let Some(u) = until.filter(|u| *u <= now) {
            return Err(errors::invalid_arg(
                "The retain until date must be in the future!",
                "RetainUntilDate",
                Some(&java_date(u)),
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
            _ => Err(no_lock_config()),
        }
    }

    pub(crate) async fn put_object_legal_hold(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        // The body is checked before the bucket's lock setting.
        let on = match input.get("LegalHold").and_then(|h| h.str("Status")) {
            Some("ON") => true,
            Some("OFF") => false,
            _ => return Err(errors::malformed_xml()),
        };
        let (b, v) = self.locked_version(ctx, input)?;
        self.update_version(&b, &v, |m| {
            m.legal_hold = on;
            m.legal_hold_set = true;
        })
        .await?;
        Ok(Value::map())
    }

    pub(crate) fn get_object_legal_hold(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let (_, v) = self.locked_version(ctx, input)?;
        if !v.meta.legal_hold && !v.meta.legal_hold_set {
            return Err(no_lock_config());
        }
        Ok(Value::map().with(
            "LegalHold",
            Value::map().with("Status", if v.meta.legal_hold { "ON" } else { "OFF" }),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::java_date;

    #[test]
    fn java_dates_in_pacific_time() {
        // 2020-01-01T00:00:00Z
        assert_eq!(java_date(1_577_836_800_000), "Tue Dec 31 16:00:00 PST 2019");
        // 2024-07-04T12:00:00Z
        assert_eq!(java_date(1_720_094_400_000), "Thu Jul 04 05:00:00 PDT 2024");
        // Either side of 2024's spring-forward (2024-03-10T10:00:00Z) and fall-back
        // (2024-11-03T09:00:00Z).
        assert_eq!(java_date(1_710_064_799_000), "Sun Mar 10 01:59:59 PST 2024");
        assert_eq!(java_date(1_710_064_800_000), "Sun Mar 10 03:00:00 PDT 2024");
        assert_eq!(java_date(1_730_624_399_000), "Sun Nov 03 01:59:59 PDT 2024");
        assert_eq!(java_date(1_730_624_400_000), "Sun Nov 03 01:00:00 PST 2024");
    }
}
