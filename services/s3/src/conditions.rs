//! Conditional requests (If-Match, If-None-Match, If-Modified-Since,
//! If-Unmodified-Since) and byte ranges, as S3 evaluates them.

use crate::errors;
use nephos_core::{AwsError, Value};

/// Whether an `If-Match`/`If-None-Match` list names `etag` (quotes optional, `*` any).
pub fn etag_matches(list: &str, etag: &str) -> bool {
    let bare = etag.trim_matches('"');
    list.split(',').any(|e| {
        let e = e.trim();
        let e = e.strip_prefix("W/").unwrap_or(e);
        e == "*" || e.trim_matches('"') == bare
    })
}

fn unsupported_header(header: &str, why: &str) -> AwsError {
    AwsError::new(
        501,
        "NotImplemented",
        "A header you provided implies functionality that is not implemented",
    )
    .with_field("Header", header)
    .with_field("additionalMessage", why)
}

/// What a conditional write is checked against: the key's current object (etag), and
/// when the key was last written (a delete marker counts).
pub struct WriteTarget<'a> {
    pub current_etag: Option<&'a str>,
    pub last_write_ms: Option<i64>,
}

/// Conditional writes (PutObject, CompleteMultipartUpload): `If-None-Match: *` needs no
/// current object, `If-Match: <etag>` the current object with that ETag. A multipart
/// upload (`started_ms`) also conflicts with any write to the key since it began.
pub fn check_write(
    input: &Value,
    key: &str,
    target: WriteTarget<'_>,
    started_ms: Option<i64>,
) -> Result<(), AwsError> {
    let if_match = input.str("IfMatch");
    let if_none_match = input.str("IfNoneMatch");
    if if_match.is_some() && if_none_match.is_some() {
        return Err(unsupported_header(
            "If-Match,If-None-Match",
            "Multiple conditional request headers present in the request",
        ));
    }
    if let Some(inm) = if_none_match
        && inm.trim() != "*"
    {
        return Err(unsupported_header(
            "If-None-Match",
            "We don't accept the provided value of If-None-Match header for this API",
        ));
    }
    if let Some(im) = if_match
        && im.trim() == "*"
    {
        return Err(unsupported_header(
            "If-Match",
            "We don't accept the provided value of If-Match header for this API",
        ));
    }
    let condition = match (if_match, if_none_match) {
        (Some(im), _) => match target.current_etag {
            None => return Err(errors::no_such_key(key)),
            Some(etag) if !etag_matches(im, etag) => {
                return Err(errors::precondition_failed("If-Match"));
            }
            Some(_) => "If-Match",
        },
        (None, Some(_)) if target.current_etag.is_some() => {
            return Err(errors::precondition_failed("If-None-Match"));
        }
        (None, Some(_)) => "If-None-Match",
        (None, None) => return Ok(()),
    };
    if let (Some(started), Some(written)) = (started_ms, target.last_write_ms)
        && written > started
    {
        return Err(AwsError::new(
            409,
            "ConditionalRequestConflict",
            "The conditional request cannot succeed due to a conflicting operation against this resource.",
        )
        .with_field("Condition", condition)
        .with_field("Key", key));
    }
    Ok(())
}

/// DeleteObject's conditions are an S3 Express feature; general purpose buckets refuse
/// them.
pub fn check_delete(input: &Value) -> Result<(), AwsError> {
    let header = [
        (
            "IfMatchLastModifiedTime",
            "x-amz-if-match-last-modified-time",
        ),
        ("IfMatchSize", "x-amz-if-match-size"),
        ("IfMatch", "If-Match"),
    ]
    .into_iter()
    .find(|(member, _)| input.get(member).is_some());
    match header {
        Some((_, name)) => Err(AwsError::new(
            501,
            "NotImplemented",
            "A header you provided implies functionality that is not implemented",
        )
        .with_field("Header", name)),
        None => Ok(()),
    }
}

/// A date condition; one in the future is not a valid date and is ignored (RFC 7232).
fn past_secs(v: &Value, member: &str, now_ms: i64) -> Option<i64> {
    match v.get(member) {
        Some(Value::Timestamp(t)) if t.as_millis() <= now_ms => Some(t.as_secs()),
        _ => None,
    }
}

/// Evaluates read conditions (GetObject, HeadObject) against an object, in the order and
/// with the precedence of RFC 7232 as S3 applies it.
pub fn check_read(
    input: &Value,
    etag: &str,
    last_modified_ms: i64,
    now_ms: i64,
) -> Result<(), AwsError> {
    check_conditions(
        input.str("IfMatch"),
        input.str("IfNoneMatch"),
        past_secs(input, "IfModifiedSince", now_ms),
        past_secs(input, "IfUnmodifiedSince", now_ms),
        etag,
        last_modified_ms,
        false,
    )
}

/// The same for the `x-amz-copy-source-if-*` headers of copies, which fail with 412 only.
pub fn check_copy_source(
    input: &Value,
    etag: &str,
    last_modified_ms: i64,
    now_ms: i64,
) -> Result<(), AwsError> {
    check_conditions(
        input.str("CopySourceIfMatch"),
        input.str("CopySourceIfNoneMatch"),
        past_secs(input, "CopySourceIfModifiedSince", now_ms),
        past_secs(input, "CopySourceIfUnmodifiedSince", now_ms),
        etag,
        last_modified_ms,
        true,
    )
}

fn check_conditions(
    if_match: Option<&str>,
    if_none_match: Option<&str>,
    modified_since: Option<i64>,
    unmodified_since: Option<i64>,
    etag: &str,
    last_modified_ms: i64,
    copy: bool,
) -> Result<(), AwsError> {
    let modified = last_modified_ms.div_euclid(1000);
    let (im, inm, ims, ius) = if copy {
        (
            "x-amz-copy-source-If-Match",
            "x-amz-copy-source-If-None-Match",
            "x-amz-copy-source-If-Modified-Since",
            "x-amz-copy-source-If-Unmodified-Since",
        )
    } else {
        (
            "If-Match",
            "If-None-Match",
            "If-Modified-Since",
            "If-Unmodified-Since",
        )
    };
    if let Some(m) = if_match {
        if !etag_matches(m, etag) {
            return Err(errors::precondition_failed(im));
        }
    } else if let Some(t) = unmodified_since
        && modified > t
    {
        return Err(errors::precondition_failed(ius));
    }
    let not_modified = if copy {
        errors::precondition_failed(inm)
    } else {
        // A 304 names the representation the client already has (RFC 9110 15.4.5).
        errors::not_modified().with_header("ETag", etag)
    };
    if let Some(m) = if_none_match {
        if etag_matches(m, etag) {
            return Err(not_modified);
        }
    } else if let Some(t) = modified_since
        && modified <= t
    {
        if copy {
            return Err(errors::precondition_failed(ims));
        }
        return Err(not_modified);
    }
    Ok(())
}

/// A parsed `Range: bytes=...` against an object of `size` bytes: `Ok(None)` means the
/// whole object (absent or unparseable ranges are ignored, as S3 does), `Ok(Some((a, b)))`
/// the inclusive range, and an error an unsatisfiable one.
pub fn parse_range(header: Option<&str>, size: u64) -> Result<Option<(u64, u64)>, AwsError> {
    let Some(h) = header else { return Ok(None) };
    let Some(spec) = h.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    // Several ranges are not supported by S3: it serves the whole object.
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((a, b)) = spec.split_once('-') else {
        return Ok(None);
    };
    let (a, b) = (a.trim(), b.trim());
    let unsatisfiable = || {
        AwsError::new(
            416,
            "InvalidRange",
            "The requested range is not satisfiable",
        )
        .with_field("RangeRequested", h)
        .with_field("ActualObjectSize", size.to_string())
    };
    if a.is_empty() {
        let Ok(n) = b.parse::<u64>() else {
            return Ok(None);
        };
        if n == 0 || size == 0 {
            return Err(unsatisfiable());
        }
        return Ok(Some((size.saturating_sub(n), size - 1)));
    }
    let Ok(start) = a.parse::<u64>() else {
        return Ok(None);
    };
    let end = if b.is_empty() {
        u64::MAX
    } else {
        match b.parse::<u64>() {
            Ok(e) if e >= start => e,
            _ => return Ok(None),
        }
    };
    if start >= size {
        return Err(unsatisfiable());
    }
    Ok(Some((start, end.min(size - 1))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range(Some("bytes=0-4"), 10).unwrap(), Some((0, 4)));
        assert_eq!(parse_range(Some("bytes=5-"), 10).unwrap(), Some((5, 9)));
        assert_eq!(parse_range(Some("bytes=-3"), 10).unwrap(), Some((7, 9)));
        assert_eq!(parse_range(Some("bytes=-30"), 10).unwrap(), Some((0, 9)));
        assert_eq!(parse_range(Some("bytes=8-100"), 10).unwrap(), Some((8, 9)));
        assert_eq!(parse_range(Some("bytes=5-2"), 10).unwrap(), None);
        assert_eq!(parse_range(Some("items=0-1"), 10).unwrap(), None);
        assert_eq!(parse_range(None, 10).unwrap(), None);
        assert_eq!(parse_range(Some("bytes=10-"), 10).unwrap_err().status, 416);
    }

    #[test]
    fn conditions() {
        let e = "\"abc\"";
        assert!(check_conditions(Some("\"abc\""), None, None, None, e, 5000, false).is_ok());
        assert!(check_conditions(Some("*"), None, None, None, e, 5000, false).is_ok());
        assert_eq!(
            check_conditions(Some("x"), None, None, None, e, 5000, false)
                .unwrap_err()
                .status,
            412
        );
        assert_eq!(
            check_conditions(None, Some("abc"), None, None, e, 5000, false)
                .unwrap_err()
                .status,
            304
        );
        assert_eq!(
            check_conditions(None, None, Some(5), None, e, 5000, false)
                .unwrap_err()
                .status,
            304
        );
        assert!(check_conditions(None, None, Some(4), None, e, 5000, false).is_ok());
        assert_eq!(
            check_conditions(None, None, None, Some(4), e, 5000, false)
                .unwrap_err()
                .status,
            412
        );
        // If-Match wins over If-Unmodified-Since.
        assert!(check_conditions(Some("abc"), None, None, Some(4), e, 5000, false).is_ok());
    }
}
