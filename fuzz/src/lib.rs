//! Shared plumbing of the fuzz targets: turning fuzz bytes into an [`HttpRequest`] and
//! driving one codec over it the way the gateway does (resolve, parse, validate, and
//! serialize whatever error comes out, since error messages echo input).

#![allow(clippy::result_large_err)] // AwsError is big by design; the workspace allows it too.

use std::sync::OnceLock;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use nephos_model::ServiceModel;
use nephos_protocol::{Body, Codec, HttpRequest, ResponseMeta};

/// A vendored model; the fuzz targets only name models that are embedded.
pub fn model(name: &str) -> &'static ServiceModel {
    nephos_model::service(name).unwrap_or_else(|| panic!("model {name} is not vendored"))
}

/// Characters `http::Uri` takes verbatim in a path and query; everything else is
/// percent-encoded so the fuzzer's bytes still reach the codec instead of being rejected
/// by the URI parser. `%` stays raw so malformed escapes get through too.
fn uri_safe(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?%".contains(&b)
}

/// A request target (`/path?query`) from arbitrary bytes; `None` if `http` still rejects it.
pub fn uri_from_bytes(bytes: &[u8]) -> Option<Uri> {
    let mut s = String::with_capacity(bytes.len() + 1);
    if bytes.first() != Some(&b'/') {
        s.push('/');
    }
    for &b in bytes {
        if uri_safe(b) {
            s.push(char::from(b));
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    Uri::try_from(s).ok()
}

/// Splits `data` at its first `\n` (the line without it, and the rest).
pub fn split_line(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}

/// Parses an HTTP-like head: `name: value` lines up to an empty line (or the end), then the
/// body. Lines that are not valid headers are skipped, not fatal, so mutations keep going.
pub fn headers_and_body(mut data: &[u8]) -> (HeaderMap, &[u8]) {
    let mut headers = HeaderMap::new();
    while !data.is_empty() {
        let (line, rest) = split_line(data);
        data = rest;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(&line[..colon]),
            HeaderValue::from_bytes(line[colon + 1..].trim_ascii()),
        ) else {
            continue;
        };
        headers.append(name, value);
    }
    (headers, data)
}

/// An HTTP method picked by one byte, biased towards the common ones.
pub fn method(b: u8) -> Method {
    match b % 6 {
        0 | 1 => Method::POST,
        2 => Method::GET,
        3 => Method::PUT,
        4 => Method::DELETE,
        _ => Method::HEAD,
    }
}

/// `NEPHOS_FUZZ_DEBUG=1` prints each input's outcome: a quick check that seeds get past
/// operation resolution (`cargo fuzz run <target> -- -runs=0`).
fn debug() -> bool {
    static DEBUG: OnceLock<bool> = OnceLock::new();
    *DEBUG.get_or_init(|| std::env::var_os("NEPHOS_FUZZ_DEBUG").is_some())
}

/// Runs `codec` on a request the way the gateway does. Nothing is asserted but the absence
/// of panics and the cheap invariant that errors are client/server HTTP statuses.
pub fn exercise(model: &ServiceModel, codec: &dyn Codec, req: &HttpRequest, body: &[u8]) {
    let meta = ResponseMeta { request_id: "fuzz" };
    let op = match codec.resolve(model, req, Some(body)) {
        Ok(op) => op,
        Err(e) => {
            if debug() {
                eprintln!("resolve: {} {}: {}", e.status, e.code, e.message);
            }
            assert!(
                (400..600).contains(&e.status),
                "resolve status {}",
                e.status
            );
            let _ = codec.serialize_error(model, None, &e, meta);
            return;
        }
    };
    let result = codec
        .parse(model, op, req, Body::Full(Bytes::copy_from_slice(body)))
        .and_then(|input| nephos_protocol::validate::validate(model, op, &input.value));
    if debug() {
        match &result {
            Ok(()) => eprintln!("{}: ok", op.name),
            Err(e) => eprintln!("{}: {} {}: {}", op.name, e.status, e.code, e.message),
        }
    }
    if let Err(e) = result {
        assert!((400..600).contains(&e.status), "parse status {}", e.status);
        let _ = codec.serialize_error(model, Some(op), &e, meta);
    }
}
