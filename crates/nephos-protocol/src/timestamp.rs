//! The three wire formats of timestamps, and which one applies where.

use nephos_core::Timestamp;
use nephos_model::TimestampFormat;
use time::OffsetDateTime;
use time::format_description::well_known::{Rfc2822, Rfc3339};

/// Formats a timestamp in the given wire format. Epoch seconds are written as an integer
/// when whole, else with up to millisecond precision (`1398796238.123`).
pub fn format(ts: Timestamp, format: TimestampFormat) -> String {
    match format {
        TimestampFormat::Iso8601 => ts.to_iso8601(),
        TimestampFormat::Rfc822 => ts.to_http_date(),
        TimestampFormat::UnixTimestamp => format_epoch(ts),
    }
}

/// Epoch seconds as text: `1398796238` or `1398796238.123`.
pub fn format_epoch(ts: Timestamp) -> String {
    let ms = ts.as_millis();
    if ms % 1000 == 0 {
        (ms / 1000).to_string()
    } else {
        let s = format!("{:.3}", ms as f64 / 1000.0);
        s.trim_end_matches('0').to_owned()
    }
}

/// Parses a timestamp written in `format`; returns `None` when the text is not one.
///
/// Clients are lenient in what they send for ISO 8601 (fractions of any length, offsets,
/// lower-case `t`/`z`), so this accepts all of those.
pub fn parse(text: &str, format: TimestampFormat) -> Option<Timestamp> {
    match format {
        TimestampFormat::Iso8601 => parse_iso8601(text),
        TimestampFormat::Rfc822 => parse_http_date(text),
        TimestampFormat::UnixTimestamp => parse_epoch(text),
    }
}

/// Parses any of the three formats, trying the likeliest first.
pub fn parse_any(text: &str) -> Option<Timestamp> {
    parse_epoch(text)
        .or_else(|| parse_iso8601(text))
        .or_else(|| parse_http_date(text))
}

pub fn parse_epoch(text: &str) -> Option<Timestamp> {
    let t = text.trim();
    if t.is_empty()
        || !t.bytes().all(|b| {
            b.is_ascii_digit() || b == b'.' || b == b'-' || b == b'e' || b == b'E' || b == b'+'
        })
    {
        return None;
    }
    let secs: f64 = t.parse().ok()?;
    secs.is_finite().then_some(Timestamp(secs))
}

pub fn parse_iso8601(text: &str) -> Option<Timestamp> {
    let t = text.trim().to_ascii_uppercase();
    // RFC 3339 requires a time zone; AWS clients always send one, but accept a bare
    // date-time as UTC like AWS services do.
    // Bytes, not `str` slicing: index 19 may fall inside a multi-byte character.
    let has_offset = |t: &str| {
        t.as_bytes()
            .get(19..)
            .is_some_and(|b| b.contains(&b'+') || b.contains(&b'-'))
    };
    let with_zone = if t.len() >= 19 && !t.ends_with('Z') && !has_offset(&t) {
        format!("{t}Z")
    } else {
        t
    };
    let dt = OffsetDateTime::parse(&with_zone, &Rfc3339).ok()?;
    Some(to_ts(dt))
}

pub fn parse_http_date(text: &str) -> Option<Timestamp> {
    let t = text.trim();
    if let Ok(dt) = OffsetDateTime::parse(t, &Rfc2822) {
        return Some(to_ts(dt));
    }
    // RFC 2822 in the `time` crate wants a numeric zone; HTTP dates say GMT/UTC.
    let numeric = t
        .strip_suffix(" GMT")
        .or_else(|| t.strip_suffix(" UTC"))
        .map(|s| format!("{s} +0000"))?;
    OffsetDateTime::parse(&numeric, &Rfc2822).ok().map(to_ts)
}

fn to_ts(dt: OffsetDateTime) -> Timestamp {
    let nanos = dt.unix_timestamp_nanos();
    Timestamp(nanos as f64 / 1e9)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let t = Timestamp(1398796238.0);
        for f in [
            TimestampFormat::Iso8601,
            TimestampFormat::Rfc822,
            TimestampFormat::UnixTimestamp,
        ] {
            assert_eq!(parse(&format(t, f), f), Some(t), "{f:?}");
        }
        assert_eq!(format_epoch(Timestamp(1398796238.123)), "1398796238.123");
        assert_eq!(
            parse_iso8601("2014-04-29T18:30:38.123456Z")
                .unwrap()
                .as_millis(),
            1398796238123
        );
        assert_eq!(
            parse_iso8601("2014-04-29T18:30:38+01:00")
                .unwrap()
                .as_secs(),
            1398796238 - 3600
        );
        assert_eq!(parse_http_date("Tue, 29 Apr 2014 18:30:38 GMT"), Some(t));
        assert_eq!(parse_epoch("abc"), None);
    }

    /// Found by the `restxml_parse` fuzz target: a multi-byte character straddling byte 19
    /// made the zone check slice inside it and panic.
    #[test]
    fn iso8601_with_multibyte_text_is_rejected_not_a_panic() {
        let text = format!(
            "{}\u{FFFD}SAT, 29 OCT 1994 19:43:31 GMT",
            "\u{FFFD}".repeat(6)
        );
        assert!(!text.is_char_boundary(19));
        assert_eq!(parse_iso8601(&text), None);
        assert_eq!(parse_any(&text), None);
    }
}
