//! AWS Signature Version 4 for nephos: pure functions over `http` types, no server code.
//!
//! How the gateway uses it:
//!
//! 1. [`parse_auth`]`(method, uri, headers)` on every request, cheap and panic-free:
//!    `None` for anonymous requests, `Some(Ok(`[`SignedRequestInfo`]`))` with the
//!    access key, credential scope (date, region, service = signing name), signed
//!    headers and signature (SigV4 header or presigned query; the legacy S3
//!    `AWS AKID:sig` header and `AWSAccessKeyId=` query give the access key only), or
//!    `Some(Err(`[`AuthError`]`))` for malformed credentials.
//! 2. [`payload_hash_source`] tells whether the body hash is needed up front (non-S3
//!    requests without `x-amz-content-sha256`); then
//!    [`verify`]`(info, method, uri, headers, body_sha256_hex, secret, now)` checks the
//!    date (±15 min, or presigned expiry), rebuilds the canonical request and compares
//!    signatures in constant time. On success [`Verified`] carries the signing key,
//!    the request signature and the [`PayloadMode`].
//! 3. For `aws-chunked` bodies ([`PayloadMode::Chunked`]), drive a [`ChunkedDecoder`]
//!    built from [`Verified::chunk_signing`]: `feed` buffers as they arrive, `finish`
//!    returns the [`Trailers`] (e.g. `x-amz-checksum-crc32`) after checking the trailer
//!    signature and `x-amz-decoded-content-length`. For [`PayloadMode::Hashed`] bodies
//!    streamed without a hash up front, call [`check_body_sha256`] at the end.
//!
//! Errors are [`AuthError`]s with AWS's code, message, status and S3's extra fields;
//! codes follow S3 when the signing service is `s3` and the query/JSON services
//! otherwise ([`AuthErrorKind`] lets the gateway adapt, e.g. to
//! `InvalidSignatureException` for JSON protocols).
//!
//! Lower-level pieces ([`canonical_request`], [`string_to_sign`], [`signing_key`],
//! [`verify_parts`] over raw [`RequestParts`]) are public for tests and tools.

mod canonical;
mod chunked;
mod clock;
mod error;
mod parse;
mod signing;
mod verify;

pub use canonical::{
    RequestParts, canonical_headers, canonical_query, canonical_request, canonical_uri,
    string_to_sign,
};
pub use chunked::{ChunkSigning, ChunkedDecoder, ChunkedMode, Trailers};
pub use clock::{format_amz_date, format_iso8601, parse_amz_date, parse_http_date};
pub use error::{AuthError, AuthErrorKind};
pub use parse::{ALGORITHM, AuthScheme, SignedRequestInfo, parse_auth};
pub use signing::{
    EMPTY_SHA256, SigningKey, derive_signing_key, sha256_hex, sign, signatures_equal, signing_key,
};
pub use verify::{
    MAX_PRESIGNED_EXPIRES, MAX_SKEW_SECS, PayloadHashSource, PayloadMode, STREAMING_PAYLOAD,
    STREAMING_PAYLOAD_TRAILER, STREAMING_UNSIGNED_TRAILER, UNSIGNED_PAYLOAD, Verified,
    check_body_sha256, content_sha256_mismatch, payload_hash_source, verify, verify_parts,
};
