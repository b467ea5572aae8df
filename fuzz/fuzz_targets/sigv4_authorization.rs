//! SigV4 credentials from arbitrary bytes: `parse_auth` over the `Authorization` header
//! and the (presigned) query string, then `verify` with a fixed secret and clock.
//!
//! Input layout: byte 0 picks the method and whether the body hash is passed; then an
//! `Authorization` line (omitted when empty), a request-target line (`/path?query`), and
//! `name: value` header lines. Invariants: no panic; errors are 4xx/5xx; and `verify`
//! never succeeds, because the fuzzer cannot compute an HMAC under a secret it never sees,
//! so a success would be a signature bypass.
#![no_main]

use http::{HeaderValue, header};
use libfuzzer_sys::fuzz_target;
use nephos_auth::{EMPTY_SHA256, PayloadHashSource, parse_auth, payload_hash_source, verify};

/// Not the secret of the aws-sig-v4 test suite, whose requests make good seeds: they must
/// get all the way to the signature comparison and fail there.
const SECRET: &str = "fuzz/K7MDENG+bPxRfiCYNOTTHEKEY";

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let (authz, rest) = nephos_fuzz::split_line(rest);
    let (target, rest) = nephos_fuzz::split_line(rest);
    let Some(uri) = nephos_fuzz::uri_from_bytes(target) else {
        return;
    };
    let (mut headers, _) = nephos_fuzz::headers_and_body(rest);
    if !authz.is_empty() {
        let Ok(v) = HeaderValue::from_bytes(authz) else {
            return;
        };
        headers.insert(header::AUTHORIZATION, v);
    }
    if !headers.contains_key(header::HOST) {
        headers.insert(
            header::HOST,
            HeaderValue::from_static("example.amazonaws.com"),
        );
    }
    let method = nephos_fuzz::method(flags);
    let Some(parsed) = parse_auth(&method, &uri, &headers) else {
        return;
    };
    let info = match parsed {
        Ok(info) => info,
        Err(e) => {
            assert!((400..600).contains(&e.status), "parse status {}", e.status);
            return;
        }
    };
    let _ = info.scope();
    let body_hash = match payload_hash_source(&info, uri.query().unwrap_or(""), &headers) {
        PayloadHashSource::Body => Some(EMPTY_SHA256),
        PayloadHashSource::Declared(_) => (flags & 0x80 != 0).then_some(EMPTY_SHA256),
    };
    // 2015-08-30T12:36:00Z, the aws-sig-v4 test suite's clock.
    let now = 1_440_938_160;
    match verify(&info, &method, &uri, &headers, body_hash, SECRET, now) {
        Ok(v) => panic!("forged request verified: {info:?} -> {v:?}"),
        Err(e) => assert!((400..600).contains(&e.status), "verify status {}", e.status),
    }
});
