//! The SigV4 canonical request and string to sign.
//!
//! Works on raw request parts ([`RequestParts`]) rather than `http::Uri` so that the
//! path can be exactly what arrived on the wire (the AWS test suite even has raw UTF-8
//! and spaces in paths, which `http::Uri` cannot hold).
//!
//! Path rules: S3 signs the path as sent, without dot-segment removal or double
//! encoding; we only canonicalise its percent-encoding (escape what must be escaped,
//! unescape unreserved characters, uppercase hex) so clients that escape a little more
//! or less than botocore still verify. Every other service signs the path after
//! removing `.`/`..` segments and empty segments, then URI-encoding it once more
//! (so `%` becomes `%25`: the "encode twice" of the spec, relative to the raw key).

use http::HeaderMap;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, percent_encode};

/// Everything but the unreserved characters `A-Za-z0-9-_.~`.
const STRICT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');
/// [`STRICT`] but keeping `/`.
const PATH: &AsciiSet = &STRICT.remove(b'/');

/// The raw parts of a request that SigV4 signs.
#[derive(Debug, Clone, Copy)]
pub struct RequestParts<'a> {
    pub method: &'a str,
    /// The path as sent on the wire (still percent-encoded).
    pub path: &'a str,
    /// The raw query string without `?` (empty when none).
    pub query: &'a str,
    pub headers: &'a HeaderMap,
    /// The URI authority, used for `host` when no `Host` header exists (HTTP/2).
    pub authority: Option<&'a str>,
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~')
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn push_escaped(out: &mut String, b: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push('%');
    out.push(char::from(HEX[usize::from(b >> 4)]));
    out.push(char::from(HEX[usize::from(b & 15)]));
}

/// S3: the wire path with its percent-encoding put in canonical form.
fn s3_uri(path: &str) -> String {
    let b = path.as_bytes();
    let mut out = String::with_capacity(b.len() + 8);
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'%'
            && let (Some(hi), Some(lo)) = (
                b.get(i + 1).copied().and_then(hex_val),
                b.get(i + 2).copied().and_then(hex_val),
            )
        {
            let v = hi << 4 | lo;
            if is_unreserved(v) {
                out.push(char::from(v));
            } else {
                push_escaped(&mut out, v);
            }
            i += 3;
            continue;
        }
        if is_unreserved(c) || c == b'/' {
            out.push(char::from(c));
        } else {
            push_escaped(&mut out, c);
        }
        i += 1;
    }
    out
}

/// RFC 3986 dot-segment removal plus collapsing of empty segments, as AWS's signers do.
fn normalize_path(path: &str) -> String {
    let mut segs: Vec<&str> = Vec::new();
    for s in path.split('/') {
        match s {
            "" | "." => {}
            ".." => {
                segs.pop();
            }
            s => segs.push(s),
        }
    }
    let mut out = String::with_capacity(path.len() + 1);
    out.push('/');
    out.push_str(&segs.join("/"));
    if path.ends_with('/') && !segs.is_empty() {
        out.push('/');
    }
    out
}

/// The canonical URI line for `service`.
pub fn canonical_uri(path: &str, service: &str) -> String {
    if path.is_empty() {
        return "/".to_string();
    }
    if service == "s3" {
        s3_uri(path)
    } else {
        percent_encode(normalize_path(path).as_bytes(), PATH).to_string()
    }
}

/// The canonical query string: every pair decoded then strictly re-encoded, sorted by
/// key then value; `X-Amz-Signature` left out for presigned requests.
pub fn canonical_query(query: &str, presigned: bool) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .filter_map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            if presigned && k == "X-Amz-Signature" {
                return None;
            }
            let enc = |s: &str| {
                let raw: Vec<u8> = percent_decode_str(s).collect();
                percent_encode(&raw, STRICT).to_string()
            };
            Some((enc(k), enc(v)))
        })
        .collect();
    pairs.sort();
    let mut out = String::with_capacity(query.len() + 8);
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

/// A header value trimmed with every whitespace run collapsed to one space.
fn push_trimmed(out: &mut String, value: &[u8]) {
    let value = String::from_utf8_lossy(value);
    let mut first = true;
    for word in value.split_ascii_whitespace() {
        if !first {
            out.push(' ');
        }
        out.push_str(word);
        first = false;
    }
}

/// The canonical headers block (`name:value\n` per signed header, in the given order).
pub fn canonical_headers(
    headers: &HeaderMap,
    signed_headers: &[String],
    authority: Option<&str>,
) -> String {
    let mut out = String::with_capacity(256);
    for name in signed_headers {
        out.push_str(name);
        out.push(':');
        let mut values = headers.get_all(name.as_str()).iter().peekable();
        if values.peek().is_none() {
            if name == "host"
                && let Some(a) = authority
            {
                push_trimmed(&mut out, a.as_bytes());
            }
        } else {
            for (i, v) in values.enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_trimmed(&mut out, v.as_bytes());
            }
        }
        out.push('\n');
    }
    out
}

/// The full canonical request.
pub fn canonical_request(
    parts: &RequestParts<'_>,
    signed_headers: &[String],
    payload_hash: &str,
    service: &str,
    presigned: bool,
) -> String {
    let mut out = String::with_capacity(512);
    out.push_str(parts.method);
    out.push('\n');
    out.push_str(&canonical_uri(parts.path, service));
    out.push('\n');
    out.push_str(&canonical_query(parts.query, presigned));
    out.push('\n');
    out.push_str(&canonical_headers(
        parts.headers,
        signed_headers,
        parts.authority,
    ));
    out.push('\n');
    out.push_str(&signed_headers.join(";"));
    out.push('\n');
    out.push_str(payload_hash);
    out
}

/// `AWS4-HMAC-SHA256\n<amz-date>\n<scope>\n<hex(sha256(canonical request))>`.
pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    format!(
        "{}\n{amz_date}\n{scope}\n{}",
        crate::parse::ALGORITHM,
        crate::signing::sha256_hex(canonical_request.as_bytes())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris() {
        assert_eq!(canonical_uri("/a//b/./c/../d/", "svc"), "/a/b/d/");
        assert_eq!(canonical_uri("/%E1%88%B4", "svc"), "/%25E1%2588%25B4");
        assert_eq!(
            canonical_uri("/b/a//./k%2f(1)", "s3"),
            "/b/a//./k%2F%281%29"
        );
        assert_eq!(canonical_uri("/b/%7euser", "s3"), "/b/~user");
        assert_eq!(canonical_uri("", "s3"), "/");
        assert_eq!(canonical_uri("/..", "svc"), "/");
    }

    #[test]
    fn queries() {
        assert_eq!(canonical_query("b=2&a=1&a=0&c", false), "a=0&a=1&b=2&c=");
        assert_eq!(canonical_query("x=a%20b+c&y=%7e", false), "x=a%20b%2Bc&y=~");
        assert_eq!(
            canonical_query("X-Amz-Signature=abc&X-Amz-Date=1", true),
            "X-Amz-Date=1"
        );
        assert_eq!(canonical_query("k=%zz", false), "k=%25zz");
    }
}
