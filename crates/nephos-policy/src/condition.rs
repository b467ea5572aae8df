//! The `Condition` element: every operator, `...IfExists`, and the `ForAllValues:` /
//! `ForAnyValue:` set qualifiers, compiled once (numbers, dates, CIDRs and base64 parsed
//! when the document is) and evaluated against a [`Context`].
//!
//! Semantics, from
//! <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html>
//! and <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_multi-value-conditions.html>:
//! - several values for one key are ORed; several keys in a block, and several blocks,
//!   are ANDed;
//! - a negated operator (`StringNotEquals`, `NotIpAddress`, `ArnNotLike`, ...) holds
//!   when no value matches: NOT(any);
//! - a key absent from the context makes a condition false, a negated one true
//!   ("If the policy condition requires that the key is *not* matched ... and the right
//!   key is not present, the condition is *true*"), except `...IfExists` (true) and
//!   `Null` (which tests exactly that);
//! - `ForAllValues`: every context value must match; true when the key is absent or its
//!   values are a null data set (empty strings). `ForAnyValue`: some context value must
//!   match; false when absent. With a negated operator the negation applies per context
//!   value;
//! - variables are resolved in string, `Bool` and ARN values only (the operator page
//!   lists `Bool` among the operators that take variables);
//! - `ArnEquals` and `ArnLike` behave identically: each of the six colon-separated
//!   segments is matched on its own, with wildcards.

use std::net::IpAddr;

use serde_json::Value as Json;

use crate::context::Context;
use crate::matching::{self, Piece};
use crate::variables::Template;

/// A condition operator, without its qualifier and `IfExists`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    NumericEquals,
    NumericNotEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateNotEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    BinaryEquals,
    IpAddress,
    NotIpAddress,
    ArnEquals,
    ArnLike,
    ArnNotEquals,
    ArnNotLike,
    Null,
}

impl Op {
    pub fn from_name(name: &str) -> Option<Op> {
        use Op::*;
        Some(match name {
            "StringEquals" => StringEquals,
            "StringNotEquals" => StringNotEquals,
            "StringEqualsIgnoreCase" => StringEqualsIgnoreCase,
            "StringNotEqualsIgnoreCase" => StringNotEqualsIgnoreCase,
            "StringLike" => StringLike,
            "StringNotLike" => StringNotLike,
            "NumericEquals" => NumericEquals,
            "NumericNotEquals" => NumericNotEquals,
            "NumericLessThan" => NumericLessThan,
            "NumericLessThanEquals" => NumericLessThanEquals,
            "NumericGreaterThan" => NumericGreaterThan,
            "NumericGreaterThanEquals" => NumericGreaterThanEquals,
            "DateEquals" => DateEquals,
            "DateNotEquals" => DateNotEquals,
            "DateLessThan" => DateLessThan,
            "DateLessThanEquals" => DateLessThanEquals,
            "DateGreaterThan" => DateGreaterThan,
            "DateGreaterThanEquals" => DateGreaterThanEquals,
            "Bool" => Bool,
            "BinaryEquals" => BinaryEquals,
            "IpAddress" => IpAddress,
            "NotIpAddress" => NotIpAddress,
            "ArnEquals" => ArnEquals,
            "ArnLike" => ArnLike,
            "ArnNotEquals" => ArnNotEquals,
            "ArnNotLike" => ArnNotLike,
            "Null" => Null,
            _ => return None,
        })
    }

    fn negated(self) -> bool {
        use Op::*;
        matches!(
            self,
            StringNotEquals
                | StringNotEqualsIgnoreCase
                | StringNotLike
                | NumericNotEquals
                | DateNotEquals
                | NotIpAddress
                | ArnNotEquals
                | ArnNotLike
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Qualifier {
    None,
    ForAllValues,
    ForAnyValue,
}

/// Splits `ForAnyValue:StringLikeIfExists` into its parts; `None` for an operator IAM
/// does not know. IAM's validator takes `NullIfExists` (it strips `IfExists` from any
/// operator), which then tests presence as `Null` does.
pub(crate) fn parse_operator(name: &str) -> Option<(Op, Qualifier, bool)> {
    let (qual, rest) = if let Some(r) = name.strip_prefix("ForAnyValue:") {
        (Qualifier::ForAnyValue, r)
    } else if let Some(r) = name.strip_prefix("ForAllValues:") {
        (Qualifier::ForAllValues, r)
    } else {
        (Qualifier::None, name)
    };
    let (rest, if_exists) = match rest.strip_suffix("IfExists") {
        Some(r) => (r, true),
        None => (rest, false),
    };
    let op = Op::from_name(rest)?;
    Some((op, qual, if_exists))
}

#[derive(Debug, Clone)]
enum Values {
    /// String operators and `Bool`.
    Text(Vec<Template>),
    Arn(Vec<Template>),
    Number(Vec<Option<f64>>),
    Date(Vec<Option<i128>>),
    Binary(Vec<Option<Vec<u8>>>),
    Ip(Vec<Option<Cidr>>),
    Null(Vec<Option<bool>>),
}

/// One key of one operator block.
#[derive(Debug, Clone)]
pub(crate) struct Condition {
    op: Op,
    qual: Qualifier,
    if_exists: bool,
    key: String,
    values: Values,
}

/// The scalar values of a condition entry (a JSON string, number or bool, or a list of
/// them), as text.
pub(crate) fn scalars(v: &Json) -> Vec<String> {
    fn one(v: &Json) -> Option<String> {
        match v {
            Json::String(s) => Some(s.clone()),
            Json::Bool(b) => Some(b.to_string()),
            Json::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }
    match v {
        Json::Array(a) => a.iter().filter_map(one).collect(),
        v => one(v).into_iter().collect(),
    }
}

impl Condition {
    pub fn new(
        op: Op,
        qual: Qualifier,
        if_exists: bool,
        key: &str,
        raw: &[String],
        vars: bool,
    ) -> Self {
        use Op::*;
        let texts = |vars: bool| raw.iter().map(|s| Template::parse(s, vars)).collect();
        let values = match op {
            StringEquals
            | StringNotEquals
            | StringEqualsIgnoreCase
            | StringNotEqualsIgnoreCase
            | StringLike
            | StringNotLike
            | Bool => Values::Text(texts(vars)),
            ArnEquals | ArnLike | ArnNotEquals | ArnNotLike => Values::Arn(texts(vars)),
            NumericEquals
            | NumericNotEquals
            | NumericLessThan
            | NumericLessThanEquals
            | NumericGreaterThan
            | NumericGreaterThanEquals => {
                Values::Number(raw.iter().map(|s| parse_number(s)).collect())
            }
            DateEquals
            | DateNotEquals
            | DateLessThan
            | DateLessThanEquals
            | DateGreaterThan
            | DateGreaterThanEquals => Values::Date(raw.iter().map(|s| parse_date(s)).collect()),
            BinaryEquals => Values::Binary(raw.iter().map(|s| base64_decode(s)).collect()),
            IpAddress | NotIpAddress => Values::Ip(raw.iter().map(|s| Cidr::parse(s)).collect()),
            Null => Values::Null(
                raw.iter()
                    .map(|s| match s.to_ascii_lowercase().as_str() {
                        "true" => Some(true),
                        "false" => Some(false),
                        _ => None,
                    })
                    .collect(),
            ),
        };
        Condition {
            op,
            qual,
            if_exists,
            key: key.to_owned(),
            values,
        }
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    /// Keys the condition's values read as variables.
    pub fn var_keys(&self) -> impl Iterator<Item = &str> {
        let templates: &[Template] = match &self.values {
            Values::Text(t) | Values::Arn(t) => t,
            _ => &[],
        };
        templates.iter().flat_map(Template::var_keys)
    }

    /// Whether the condition holds. Keys (and variables) the context lacks are passed to
    /// `missing`.
    pub fn holds<'a>(&'a self, ctx: &Context, missing: &mut dyn FnMut(&'a str)) -> bool {
        let actual = ctx.get(&self.key);
        if let Values::Null(wanted) = &self.values {
            // `"Null": {"key": "true"}` holds when the key is absent.
            let absent = actual.is_none();
            return wanted.contains(&Some(absent));
        }
        let negated = self.op.negated();
        let actual = match (actual, self.qual) {
            (Some(v), Qualifier::None) => v,
            // A null data set (only empty strings) counts as no values for the set
            // operators.
            (Some(v), _) if v.iter().any(|s| !s.is_empty()) => v,
            (got, _) => {
                if got.is_none() {
                    missing(&self.key);
                }
                return self.if_exists
                    || match self.qual {
                        Qualifier::ForAllValues => true,
                        Qualifier::ForAnyValue => false,
                        Qualifier::None => negated,
                    };
            }
        };
        let mut matches = |v: &str| self.matches_any(v, ctx, missing);
        match self.qual {
            Qualifier::None => actual.iter().any(|v| matches(v)) != negated,
            Qualifier::ForAllValues => actual.iter().all(|v| matches(v) != negated),
            Qualifier::ForAnyValue => actual.iter().any(|v| matches(v) != negated),
        }
    }

    /// Whether one context value matches one of the policy's values (the operator's
    /// positive sense).
    fn matches_any<'a>(&'a self, v: &str, ctx: &Context, missing: &mut dyn FnMut(&'a str)) -> bool {
        use Op::*;
        match &self.values {
            Values::Text(ts) => {
                let (glob, fold) = match self.op {
                    StringLike | StringNotLike => (true, false),
                    StringEqualsIgnoreCase | StringNotEqualsIgnoreCase | Bool => (false, true),
                    _ => (false, false),
                };
                ts.iter().any(|t| {
                    if glob {
                        t.matches_glob(v, false, false, ctx, missing)
                    } else {
                        t.equals(v, fold, ctx, missing)
                    }
                })
            }
            Values::Arn(ts) => ts
                .iter()
                .any(|t| t.matches_glob(v, false, true, ctx, missing)),
            Values::Number(ns) => {
                let Some(x) = parse_number(v) else {
                    return false;
                };
                ns.iter().flatten().any(|&n| match self.op {
                    NumericEquals | NumericNotEquals => x == n,
                    NumericLessThan => x < n,
                    NumericLessThanEquals => x <= n,
                    NumericGreaterThan => x > n,
                    _ => x >= n,
                })
            }
            Values::Date(ds) => {
                let Some(x) = parse_date(v) else {
                    return false;
                };
                ds.iter().flatten().any(|&d| match self.op {
                    DateEquals | DateNotEquals => x == d,
                    DateLessThan => x < d,
                    DateLessThanEquals => x <= d,
                    DateGreaterThan => x > d,
                    _ => x >= d,
                })
            }
            Values::Binary(bs) => {
                let decoded = base64_decode(v);
                let x = decoded.as_deref().unwrap_or(v.as_bytes());
                bs.iter().flatten().any(|b| b == x)
            }
            Values::Ip(cs) => {
                let Ok(ip) = v.trim().parse::<IpAddr>() else {
                    return false;
                };
                cs.iter().flatten().any(|c| c.contains(ip))
            }
            Values::Null(_) => false,
        }
    }
}

impl Template {
    /// Wildcard match of `v` against the template (`arn`: segment by segment).
    pub(crate) fn matches_glob<'t>(
        &'t self,
        v: &str,
        fold: bool,
        arn: bool,
        ctx: &Context,
        missing: &mut dyn FnMut(&'t str),
    ) -> bool {
        if let Some(p) = self.plain() {
            let piece = [Piece {
                text: p,
                wild: true,
            }];
            let barrier = if arn {
                matching::arn_barrier(self.colons(), v)
            } else {
                0
            };
            return matching::glob(&piece, v, fold, barrier);
        }
        self.with_pieces(ctx, missing, |pieces| {
            let barrier = if arn {
                matching::arn_barrier(matching::colons(pieces), v)
            } else {
                0
            };
            matching::glob(pieces, v, fold, barrier)
        })
        .unwrap_or(false)
    }
}

fn parse_number(s: &str) -> Option<f64> {
    let s = s.trim();
    // Rust's parser also takes `inf`, `NaN` and the like; IAM numbers are decimals.
    if s.is_empty()
        || !s
            .bytes()
            .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b))
    {
        return None;
    }
    s.parse().ok()
}

/// A date as nanoseconds since the epoch: epoch seconds (`1526357900`, as
/// `aws:EpochTime` gives them) or one of the W3C profiles of ISO 8601 the operator page
/// names (`2019`, `2019-07`, `2019-07-16`, `2019-07-16T12:00Z`,
/// `2019-07-16T12:00:00.5+02:00`), also in basic form (`20190716T120000Z`). A time
/// without zone is UTC.
pub(crate) fn parse_date(s: &str) -> Option<i128> {
    let s = s.trim();
    // Digits alone are epoch seconds (as IAM's own parser reads them), never a basic
    // ISO date.
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        let (int, frac) = s.split_once('.').unwrap_or((s, ""));
        let secs: i128 = digits(int)?;
        return Some(secs * 1_000_000_000 + fraction_nanos(frac)?);
    }
    let (date, time) = match s.find(['T', 't']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let (neg, date) = match date.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, date),
    };
    let mut parts = date.split('-');
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let (y, m, d) = if date.len() == 8 && all_digits(date) {
        (
            date[..4].parse::<i64>().ok()?,
            date[4..6].parse::<u32>().ok()?,
            date[6..].parse::<u32>().ok()?,
        )
    } else {
        let y: i64 = digits(parts.next()?)?;
        let m: u32 = parts.next().map_or(Some(1), digits)?;
        let d: u32 = parts.next().map_or(Some(1), digits)?;
        if parts.next().is_some() {
            return None;
        }
        (y, m, d)
    };
    let y = if neg { -y } else { y };
    if !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
        return None;
    }
    let mut nanos = i128::from(days_from_civil(y, m, d)) * 86_400 * 1_000_000_000;
    if let Some(time) = time {
        nanos += parse_time(time)?;
    }
    Some(nanos)
}

fn digits<T: std::str::FromStr>(s: &str) -> Option<T> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn fraction_nanos(frac: &str) -> Option<i128> {
    if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let padded = format!("{frac:0<9}");
    padded.parse().ok()
}

/// `hh[:mm[:ss[.f]]]` or `hhmmss`, then `Z`, `±hh[:mm]`, `±hhmm` or nothing: the time of
/// day in nanoseconds, the zone's offset taken off.
fn parse_time(t: &str) -> Option<i128> {
    let (clock, offset) = match t.find(['Z', 'z', '+', '-']) {
        Some(i) => {
            let zone = &t[i..];
            let off = match zone.as_bytes()[0] {
                b'Z' | b'z' if zone.len() == 1 => 0,
                b'Z' | b'z' => return None,
                sign => {
                    let z = &zone[1..];
                    let (h, m) = match z.split_once(':') {
                        Some((h, m)) => (h, m),
                        None if z.len() == 4 && z.is_ascii() => (&z[..2], &z[2..]),
                        None => (z, "0"),
                    };
                    let (h, m): (i128, i128) = (digits(h)?, digits(m)?);
                    if h > 23 || m > 59 {
                        return None;
                    }
                    let secs = (h * 60 + m) * 60;
                    if sign == b'-' { -secs } else { secs }
                }
            };
            (&t[..i], off)
        }
        None => (t, 0),
    };
    let (hms, frac) = clock.split_once('.').unwrap_or((clock, ""));
    let mut fields: Vec<&str> = hms.split(':').collect();
    if fields.len() == 1 && hms.len() == 6 && hms.is_ascii() {
        fields = vec![&hms[..2], &hms[2..4], &hms[4..]];
    }
    if fields.len() > 3 || (fields.len() < 3 && !frac.is_empty()) {
        return None;
    }
    let h: i128 = digits(fields[0])?;
    let m: i128 = fields.get(1).map_or(Some(0), |f| digits(f))?;
    let s: i128 = fields.get(2).map_or(Some(0), |f| digits(f))?;
    if h > 23 || m > 59 || s > 60 {
        return None;
    }
    let secs = h * 3600 + m * 60 + s - offset;
    Some(secs * 1_000_000_000 + fraction_nanos(frac)?)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

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

/// Standard base64 (the URL-safe alphabet too), padding optional.
pub(crate) fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let s = s.trim().trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for b in s.bytes() {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    // Leftover bits that are not padding zeros mean a truncated encoding.
    (bits < 6 && acc & ((1 << bits) - 1) == 0).then_some(out)
}

/// An `IpAddress` value: an address with its routing prefix (`/32` or `/128` when
/// none is written).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Option<Cidr> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(digits::<u8>(p)?)),
            None => (s, None),
        };
        let addr: IpAddr = addr.parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(Cidr { addr, prefix })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(parse_date("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_date("0"), Some(0));
        assert_eq!(parse_date("1526357900"), Some(1_526_357_900_000_000_000));
        let a = parse_date("2019-07-16T12:00:00Z").unwrap();
        assert_eq!(a, 1_563_278_400 * 1_000_000_000);
        assert_eq!(parse_date("2019-07-16T14:00:00+02:00"), Some(a));
        assert_eq!(parse_date("2019-07-16T12:00Z"), Some(a));
        assert_eq!(parse_date("20190716T120000Z"), Some(a));
        assert_eq!(parse_date("2019-07-16t12:00:00z"), Some(a));
        assert_eq!(parse_date("2019-07-16T12:00:00.5Z"), Some(a + 500_000_000));
        // Digits alone are epoch seconds, as IAM's legacy parser reads them.
        assert_eq!(parse_date("2019"), Some(2019 * 1_000_000_000));
        assert_eq!(parse_date("2019-01"), parse_date("2019-01-01T00:00:00Z"));
        assert!(parse_date("2019-02-30").is_none());
        assert!(parse_date("sdfdsf").is_none());
        assert!(parse_date("2019-13").is_none());
        assert!(parse_date("1969-12-31T23:59:59Z").unwrap() < 0);
        // Byte lengths that look like basic forms are not sliced inside characters.
        assert!(parse_date("€€abT00:00:00Z").is_none());
        assert!(parse_date("2020-01-01T€€").is_none());
        assert!(parse_date("2020-01-01T00:00+€a").is_none());
    }

    #[test]
    fn cidrs_and_base64() {
        let c = Cidr::parse("203.0.113.0/24").unwrap();
        assert!(c.contains("203.0.113.7".parse().unwrap()));
        assert!(!c.contains("203.0.114.7".parse().unwrap()));
        assert!(c.contains("::ffff:203.0.113.9".parse().unwrap()));
        let one = Cidr::parse("10.1.2.3").unwrap();
        assert!(one.contains("10.1.2.3".parse().unwrap()));
        assert!(!one.contains("10.1.2.4".parse().unwrap()));
        let v6 = Cidr::parse("2001:DB8:1234:5678::/64").unwrap();
        assert!(v6.contains("2001:db8:1234:5678:ffff::1".parse().unwrap()));
        assert!(!v6.contains("2001:db8:1234:5679::1".parse().unwrap()));
        assert!(!v6.contains("10.0.0.1".parse().unwrap()));
        assert!(
            Cidr::parse("0.0.0.0/0")
                .unwrap()
                .contains("8.8.8.8".parse().unwrap())
        );
        assert!(Cidr::parse("10.0.0.0/33").is_none());
        assert_eq!(base64_decode("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(base64_decode("aGVsbG8").unwrap(), b"hello");
        assert!(base64_decode("a!").is_none());
    }

    #[test]
    fn operator_names() {
        assert_eq!(
            parse_operator("ForAnyValue:StringLikeIfExists"),
            Some((Op::StringLike, Qualifier::ForAnyValue, true))
        );
        assert!(parse_operator("StringEqualz").is_none());
        assert!(parse_operator("ForAnyValue::StringEquals").is_none());
    }
}
