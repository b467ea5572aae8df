//! Archived objects: GLACIER and DEEP_ARCHIVE objects cannot be read until RestoreObject
//! has made a temporary copy, which takes the tier's time on the shared clock (advance
//! the clock to finish a restore) and lasts the requested days, to the next midnight UTC.

use crate::S3Provider;
use crate::errors;
use crate::store::{ObjectMeta, Restore};
use nephos_core::{AwsError, Output, RequestContext, Timestamp, Value};

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// Whether the object's storage class keeps it offline.
pub fn archived(meta: &ObjectMeta) -> bool {
    matches!(
        meta.storage_class.as_deref(),
        Some("GLACIER" | "DEEP_ARCHIVE")
    )
}

/// Refuses to read (GetObject, a copy source) an archived object without a ready restore.
pub fn check_readable(meta: &ObjectMeta, now_ms: i64) -> Result<(), AwsError> {
    let restored = meta
        .restore
        .is_some_and(|r| now_ms >= r.ready_ms && now_ms < r.expiry_ms);
    if archived(meta) && !restored {
        return Err(AwsError::new(
            403,
            "InvalidObjectState",
            "The operation is not valid for the object's storage class",
        )
        .with_field(
            "StorageClass",
            meta.storage_class.as_deref().unwrap_or_default(),
        ));
    }
    Ok(())
}

/// The `x-amz-restore` header of an archived object with a restore.
pub fn restore_header(meta: &ObjectMeta, now_ms: i64) -> Option<String> {
    let r = meta.restore.filter(|r| now_ms < r.expiry_ms)?;
    Some(if now_ms < r.ready_ms {
        "ongoing-request=\"true\"".to_owned()
    } else {
        format!(
            "ongoing-request=\"false\", expiry-date=\"{}\"",
            Timestamp::from_millis(r.expiry_ms).to_http_date()
        )
    })
}

/// The upper end of the retrieval times AWS documents per tier.
fn retrieval_ms(storage_class: &str, tier: &str) -> i64 {
    match (storage_class, tier) {
        ("DEEP_ARCHIVE", "Bulk") => 48 * HOUR,
        ("DEEP_ARCHIVE", _) => 12 * HOUR,
        (_, "Expedited") => 5 * MINUTE,
        (_, "Bulk") => 12 * HOUR,
        _ => 5 * HOUR,
    }
}

/// A restored copy lasts `days` from `from_ms`, rounded up to the next midnight UTC.
fn expiry_ms(from_ms: i64, days: i64) -> i64 {
    ((from_ms + days * DAY) / DAY + 1) * DAY
}

impl S3Provider {
    /// RestoreObject: 202 when a restore starts, 200 when a restored copy's days are
    /// renewed, 409 while one is in progress.
    pub(crate) async fn restore_object(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Output, AwsError> {
        let key = input.str("Key").unwrap_or_default();
        let b = self.bucket_for_key(ctx, input.str("Bucket").unwrap_or_default(), Some(key))?;
        let v = self.find_version(&b, key, input.str("VersionId"))?;
        if !archived(&v.meta) {
            return Err(AwsError::new(
                403,
                "InvalidObjectState",
                "Restore is not allowed for the object's current storage class",
            )
            .with_field(
                "StorageClass",
                v.meta.storage_class.as_deref().unwrap_or("STANDARD"),
            ));
        }
        let request = input
            .get("RestoreRequest")
            .cloned()
            .unwrap_or_else(Value::map);
        if request.str("Type").is_some() {
            return Err(AwsError::new(
                501,
                "NotImplemented",
                "Restores of type SELECT are not implemented by nephos",
            ));
        }
        let days = request.int("Days").ok_or_else(errors::malformed_xml)?;
        if days < 1 {
            return Err(errors::invalid_argument("Days must be a positive integer")
                .with_field("ArgumentName", "Days")
                .with_field("ArgumentValue", days.to_string()));
        }
        let tier = request
            .get("GlacierJobParameters")
            .and_then(|g| g.str("Tier"))
            .or_else(|| request.str("Tier"))
            .unwrap_or("Standard");
        let now = ctx.clock.now_millis();
        let class = v.meta.storage_class.clone().unwrap_or_default();
        let (restore, status) = match v.meta.restore {
            Some(r) if now < r.ready_ms => {
                return Err(AwsError::new(
                    409,
                    "RestoreAlreadyInProgress",
                    "Object restore is already in progress",
                ));
            }
            Some(r) if now < r.expiry_ms => (
                Restore {
                    ready_ms: r.ready_ms,
                    expiry_ms: expiry_ms(now, days),
                },
                200,
            ),
            _ => {
                let ready_ms = now + retrieval_ms(&class, tier);
                let restore = Restore {
                    ready_ms,
                    expiry_ms: expiry_ms(ready_ms, days),
                };
                (restore, 202)
            }
        };
        self.replace_version(&b, &v, |u| u.meta.restore = Some(restore))
            .await?;
        let mut out = Output::new(Value::map());
        out.status = Some(status);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restored_copies_last_to_the_next_midnight() {
        // 2024-01-01T10:00Z + 2 days -> 2024-01-04T00:00Z.
        let ten = 1_704_103_200_000;
        assert_eq!(expiry_ms(ten, 2), 1_704_326_400_000);
        let meta = ObjectMeta {
            storage_class: Some("GLACIER".into()),
            restore: Some(Restore {
                ready_ms: 100,
                expiry_ms: 1000,
            }),
            ..Default::default()
        };
        assert!(check_readable(&meta, 50).is_err());
        assert!(check_readable(&meta, 100).is_ok());
        assert!(check_readable(&meta, 1000).is_err());
        assert_eq!(
            restore_header(&meta, 50).unwrap(),
            "ongoing-request=\"true\""
        );
        assert!(restore_header(&meta, 500).unwrap().contains("expiry-date="));
        assert!(restore_header(&meta, 1000).is_none());
    }
}
