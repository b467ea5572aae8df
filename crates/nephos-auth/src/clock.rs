//! Date parsing and formatting for SigV4: the ISO 8601 basic form of `X-Amz-Date`
//! (`20150830T123600Z`), the HTTP `Date` header (IMF-fixdate) and the extended ISO 8601
//! form S3 puts in error fields. Hand-written civil-date arithmetic: it is on the hot
//! path and needs no time zone support.

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn digits(s: &[u8]) -> Option<u32> {
    // At most 4 digits: every field here fits, and the fold cannot overflow.
    if s.is_empty() || s.len() > 4 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        s.iter()
            .fold(0u32, |acc, &b| acc * 10 + u32::from(b - b'0')),
    )
}

fn to_unix(y: i64, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> Option<i64> {
    let valid = (1..=12).contains(&mo) && (1..=31).contains(&d) && h < 24 && mi < 60 && s < 61;
    valid.then(|| days_from_civil(y, mo, d) * 86_400 + i64::from(h * 3600 + mi * 60 + s))
}

/// Parses `yyyymmddThhmmssZ`.
pub fn parse_amz_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    to_unix(
        i64::from(digits(&b[0..4])?),
        digits(&b[4..6])?,
        digits(&b[6..8])?,
        digits(&b[9..11])?,
        digits(&b[11..13])?,
        digits(&b[13..15])?,
    )
}

/// Parses an HTTP date (`Sun, 30 Aug 2015 12:36:00 GMT`; the weekday is not checked).
pub fn parse_http_date(s: &str) -> Option<i64> {
    let rest = s.trim();
    let rest = rest.split_once(',').map_or(rest, |(_, r)| r).trim();
    let mut it = rest.split_ascii_whitespace();
    let d = digits(it.next()?.as_bytes())?;
    let mon = it.next()?;
    let months = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let mo = months
        .iter()
        .position(|m| m.eq_ignore_ascii_case(mon))
        .map(|p| p as u32 + 1)?;
    let y = digits(it.next()?.as_bytes())?;
    let mut hms = it.next()?.split(':');
    let h = digits(hms.next()?.as_bytes())?;
    let mi = digits(hms.next()?.as_bytes())?;
    let sec = digits(hms.next()?.as_bytes())?;
    match it.next() {
        None | Some("GMT") | Some("UTC") | Some("+0000") | Some("Z") => {}
        Some(_) => return None,
    }
    to_unix(i64::from(y), mo, d, h, mi, sec)
}

/// Formats as `yyyymmddThhmmssZ`.
pub fn format_amz_date(t: i64) -> String {
    let (y, mo, d) = civil_from_days(t.div_euclid(86_400));
    let s = t.rem_euclid(86_400);
    format!(
        "{y:04}{mo:02}{d:02}T{:02}{:02}{:02}Z",
        s / 3600,
        s % 3600 / 60,
        s % 60
    )
}

/// Formats as `yyyy-mm-ddThh:mm:ssZ`, the form S3 uses in error fields.
pub fn format_iso8601(t: i64) -> String {
    let (y, mo, d) = civil_from_days(t.div_euclid(86_400));
    let s = t.rem_euclid(86_400);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}Z",
        s / 3600,
        s % 3600 / 60,
        s % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let t = parse_amz_date("20150830T123600Z").unwrap();
        assert_eq!(t, 1_440_938_160);
        assert_eq!(format_amz_date(t), "20150830T123600Z");
        assert_eq!(format_iso8601(t), "2015-08-30T12:36:00Z");
        assert_eq!(parse_http_date("Sun, 30 Aug 2015 12:36:00 GMT"), Some(t));
        assert_eq!(format_amz_date(951_782_400), "20000229T000000Z");
    }

    #[test]
    fn rejects_garbage() {
        for s in [
            "",
            "2015",
            "20151330T123600Z",
            "2015083OT123600Z",
            "20150830T123600",
        ] {
            assert_eq!(parse_amz_date(s), None, "{s}");
        }
        assert_eq!(parse_http_date("yesterday"), None);
        assert_eq!(
            parse_http_date("Sun, 99999999999 Aug 2015 12:36:00 GMT"),
            None
        );
    }
}
