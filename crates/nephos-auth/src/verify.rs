//! SigV4 verification of header-signed and presigned requests: date and expiry checks,
//! payload-hash selection (`x-amz-content-sha256` or the body's hash), canonical
//! request, signature comparison, and the [`Verified`] result that carries what an
//! aws-chunked body decoder needs to check chunk signatures.

use http::HeaderMap;

use crate::canonical::{RequestParts, canonical_request, string_to_sign};
use crate::chunked::{ChunkSigning, ChunkedMode};
use crate::clock::{format_amz_date, format_iso8601, parse_amz_date, parse_http_date};
use crate::error::{AuthError, AuthErrorKind};
use crate::parse::SignedRequestInfo;
use crate::signing::{SigningKey, sign, signatures_equal, signing_key};

/// Largest clock difference accepted for header-signed requests, in seconds.
pub const MAX_SKEW_SECS: i64 = 15 * 60;
/// Largest `X-Amz-Expires` accepted (one week).
pub const MAX_PRESIGNED_EXPIRES: i64 = 604_800;

pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
pub const STREAMING_PAYLOAD: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
pub const STREAMING_PAYLOAD_TRAILER: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
pub const STREAMING_UNSIGNED_TRAILER: &str = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";

/// How the body is covered by the signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayloadMode {
    /// The signature covers this hex SHA-256; the caller checks the body against it
    /// (see [`check_body_sha256`]) when it did not pass the body hash to [`verify`].
    Hashed(String),
    /// `UNSIGNED-PAYLOAD` (or S3 presigned): the body is not covered.
    Unsigned,
    /// An `aws-chunked` body; decode it with [`crate::ChunkedDecoder`].
    Chunked(ChunkedMode),
}

/// What a successful verification established.
#[derive(Debug, Clone)]
pub struct Verified {
    pub access_key_id: String,
    /// Request time (unix seconds) the signature was made for.
    pub request_time: i64,
    /// The derived signing key, reused for chunk signatures.
    pub signing_key: SigningKey,
    /// The request signature: the seed of aws-chunked chunk signatures.
    pub signature: String,
    /// `X-Amz-Date` in basic form.
    pub amz_date: String,
    /// `date/region/service/aws4_request`.
    pub scope: String,
    pub payload: PayloadMode,
}

impl Verified {
    /// The aws-chunked decoder mode and (for signed modes) its signing parameters.
    pub fn chunk_signing(&self) -> Option<ChunkSigning> {
        match &self.payload {
            PayloadMode::Chunked(ChunkedMode::Signed | ChunkedMode::SignedWithTrailer) => {
                Some(ChunkSigning {
                    key: self.signing_key,
                    amz_date: self.amz_date.clone(),
                    scope: self.scope.clone(),
                    seed_signature: self.signature.clone(),
                })
            }
            _ => None,
        }
    }
}

/// Where the payload hash of the canonical request comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayloadHashSource {
    /// A value the request itself declares (`x-amz-content-sha256`, or S3 presigned).
    Declared(String),
    /// The caller must hash the body and pass it to [`verify`].
    Body,
}

fn is_hex_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn query_param<'a>(query: &'a str, key: &str) -> Option<&'a str> {
    query.split('&').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        (k == key).then_some(v)
    })
}

/// Tells whether [`verify`] needs the body's hash for this request (non-S3 requests
/// without `x-amz-content-sha256`), so the gateway can collect the body first.
pub fn payload_hash_source(
    info: &SignedRequestInfo,
    query: &str,
    headers: &HeaderMap,
) -> PayloadHashSource {
    // Presigned S3 URLs cannot know the body: they sign UNSIGNED-PAYLOAD unless the
    // URL itself carries a hash, whatever headers the eventual request adds.
    if info.service == "s3" && info.presigned {
        let v = query_param(query, "X-Amz-Content-Sha256").unwrap_or(UNSIGNED_PAYLOAD);
        return PayloadHashSource::Declared(v.to_string());
    }
    if let Some(v) = headers
        .get("x-amz-content-sha256")
        .and_then(|v| v.to_str().ok())
    {
        return PayloadHashSource::Declared(v.trim().to_string());
    }
    if info.service == "s3" {
        // S3 insists on the header for SigV4; verify() reports it missing.
        return PayloadHashSource::Declared(String::new());
    }
    PayloadHashSource::Body
}

fn s3_invalid_sha256() -> AuthError {
    AuthError::new(
        AuthErrorKind::ContentSha256,
        "InvalidArgument",
        400,
        "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD, STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER or a valid sha256 value.",
    )
    .with_field("ArgumentName", "x-amz-content-sha256")
}

/// S3's `XAmzContentSHA256Mismatch`, for a body whose hash disagrees with the header.
pub fn content_sha256_mismatch(claimed: &str, computed: &str) -> AuthError {
    AuthError::new(
        AuthErrorKind::ContentSha256,
        "XAmzContentSHA256Mismatch",
        400,
        "The provided 'x-amz-content-sha256' header does not match what was computed.",
    )
    .with_field("ClientComputedContentSHA256", claimed)
    .with_field("S3ComputedContentSHA256", computed)
}

/// Checks a body hash computed after the fact against a [`PayloadMode::Hashed`] claim.
pub fn check_body_sha256(payload: &PayloadMode, body_sha256_hex: &str) -> Result<(), AuthError> {
    match payload {
        PayloadMode::Hashed(claimed) if !claimed.eq_ignore_ascii_case(body_sha256_hex) => {
            Err(content_sha256_mismatch(claimed, body_sha256_hex))
        }
        _ => Ok(()),
    }
}

fn spaced_hex(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for (i, b) in s.bytes().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Verifies a SigV4 request against `secret_key`, with the caller's clock.
///
/// `body_sha256_hex` is the hex SHA-256 of the whole body when the caller has it; it is
/// required when [`payload_hash_source`] says [`PayloadHashSource::Body`].
pub fn verify(
    info: &SignedRequestInfo,
    method: &http::Method,
    uri: &http::Uri,
    headers: &HeaderMap,
    body_sha256_hex: Option<&str>,
    secret_key: &str,
    now_unix_secs: i64,
) -> Result<Verified, AuthError> {
    let parts = RequestParts {
        method: method.as_str(),
        path: uri.path(),
        query: uri.query().unwrap_or(""),
        headers,
        authority: uri.authority().map(|a| a.as_str()),
    };
    verify_parts(info, &parts, body_sha256_hex, secret_key, now_unix_secs)
}

/// [`verify`] over raw request parts.
pub fn verify_parts(
    info: &SignedRequestInfo,
    parts: &RequestParts<'_>,
    body_sha256_hex: Option<&str>,
    secret_key: &str,
    now_unix_secs: i64,
) -> Result<Verified, AuthError> {
    let service = info.service.as_str();
    let s3 = service == "s3";
    if !info.is_v4() {
        return Err(AuthError::new(
            AuthErrorKind::MalformedAuthorization,
            "InvalidRequest",
            400,
            "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.",
        ));
    }

    let (amz_date, request_time) = request_time(info, parts.headers)?;
    if amz_date.get(..8) != Some(info.date.as_str()) {
        let msg = format!(
            "Invalid credential date \"{}\". This date is not the same as X-Amz-Date: \"{}\".",
            info.date,
            amz_date.get(..8).unwrap_or("")
        );
        return Err(if s3 {
            let msg = if info.presigned {
                msg
            } else {
                format!("The authorization header is malformed; {msg}")
            };
            AuthError::malformed("s3", info.presigned, msg)
        } else {
            AuthError::new(
                AuthErrorKind::SignatureMismatch,
                "SignatureDoesNotMatch",
                403,
                format!(
                    "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}', from '{amz_date}'.",
                    info.date,
                    amz_date.get(..8).unwrap_or("")
                ),
            )
        });
    }
    check_time(info, &amz_date, request_time, now_unix_secs)?;

    let declared = payload_hash_source(info, parts.query, parts.headers);
    let (payload_hash, payload) = match declared {
        PayloadHashSource::Declared(v) => {
            let mode = match v.as_str() {
                "" => {
                    return Err(AuthError::new(
                        AuthErrorKind::ContentSha256,
                        "InvalidRequest",
                        400,
                        "Missing required header for this request: x-amz-content-sha256",
                    ));
                }
                UNSIGNED_PAYLOAD => PayloadMode::Unsigned,
                STREAMING_PAYLOAD => PayloadMode::Chunked(ChunkedMode::Signed),
                STREAMING_PAYLOAD_TRAILER => PayloadMode::Chunked(ChunkedMode::SignedWithTrailer),
                STREAMING_UNSIGNED_TRAILER => {
                    PayloadMode::Chunked(ChunkedMode::UnsignedWithTrailer)
                }
                h if is_hex_sha256(h) => PayloadMode::Hashed(h.to_ascii_lowercase()),
                _ if s3 => return Err(s3_invalid_sha256()),
                // Other services sign whatever the header says; nothing to decode.
                _ => PayloadMode::Unsigned,
            };
            (v, mode)
        }
        PayloadHashSource::Body => {
            let Some(h) = body_sha256_hex else {
                return Err(AuthError::new(
                    AuthErrorKind::Internal,
                    "InternalFailure",
                    500,
                    "The body hash is required to verify this request",
                ));
            };
            (h.to_string(), PayloadMode::Unsigned)
        }
    };

    let creq = canonical_request(
        parts,
        &info.signed_headers,
        &payload_hash,
        service,
        info.presigned,
    );
    let scope = info.scope();
    let sts = string_to_sign(&amz_date, &scope, &creq);
    let key = signing_key(secret_key, &info.date, &info.region, service);
    let computed = sign(&key, &sts);
    if !signatures_equal(&computed, &info.signature) {
        let mut err = AuthError::signature_mismatch(service);
        if s3 {
            err = err
                .with_field("AWSAccessKeyId", info.access_key_id.clone())
                .with_field("StringToSign", sts.clone())
                .with_field("SignatureProvided", info.signature.clone())
                .with_field("StringToSignBytes", spaced_hex(&sts))
                .with_field("CanonicalRequest", creq.clone())
                .with_field("CanonicalRequestBytes", spaced_hex(&creq));
        }
        return Err(err);
    }
    if let (PayloadMode::Hashed(_), Some(body)) = (&payload, body_sha256_hex) {
        check_body_sha256(&payload, body)?;
    }
    Ok(Verified {
        access_key_id: info.access_key_id.clone(),
        request_time,
        signing_key: key,
        signature: computed,
        amz_date,
        scope,
        payload,
    })
}

/// The request time: `X-Amz-Date` (query or header), else the `Date` header.
fn request_time(info: &SignedRequestInfo, headers: &HeaderMap) -> Result<(String, i64), AuthError> {
    let s3 = info.service == "s3";
    if let Some(d) = &info.amz_date {
        return match parse_amz_date(d) {
            Some(t) => Ok((d.clone(), t)),
            None if s3 && info.presigned => Err(AuthError::malformed(
                "s3",
                true,
                "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"",
            )),
            None if s3 => Err(AuthError::new(
                AuthErrorKind::MalformedAuthorization,
                "AccessDenied",
                403,
                "AWS authentication requires a valid Date or x-amz-date header",
            )),
            None => Err(AuthError::malformed(
                &info.service,
                info.presigned,
                format!(
                    "Date must be in ISO-8601 'basic format'. Got '{d}'. See http://en.wikipedia.org/wiki/ISO_8601"
                ),
            )),
        };
    }
    if let Some(t) = headers
        .get(http::header::DATE)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_http_date)
    {
        return Ok((format_amz_date(t), t));
    }
    Err(if s3 {
        AuthError::new(
            AuthErrorKind::MalformedAuthorization,
            "AccessDenied",
            403,
            "AWS authentication requires a valid Date or x-amz-date header",
        )
    } else {
        AuthError::malformed(
            &info.service,
            false,
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
        )
    })
}

fn check_time(
    info: &SignedRequestInfo,
    amz_date: &str,
    request_time: i64,
    now: i64,
) -> Result<(), AuthError> {
    let s3 = info.service == "s3";
    let now_s = format_amz_date(now);
    if info.presigned {
        let expires = match info.expires.as_deref() {
            None => MAX_SKEW_SECS,
            Some(e) => match e.parse::<i64>() {
                Err(_) => {
                    return Err(AuthError::malformed(
                        &info.service,
                        true,
                        "X-Amz-Expires should be a number",
                    ));
                }
                Ok(e) if e < 0 => {
                    return Err(AuthError::malformed(
                        &info.service,
                        true,
                        "X-Amz-Expires must be non-negative",
                    ));
                }
                Ok(e) if e > MAX_PRESIGNED_EXPIRES => {
                    return Err(AuthError::malformed(
                        &info.service,
                        true,
                        "X-Amz-Expires must be less than a week (in seconds) that is 604800",
                    ));
                }
                Ok(e) => e,
            },
        };
        if now > request_time.saturating_add(expires) {
            return Err(if s3 {
                AuthError::new(
                    AuthErrorKind::Expired,
                    "AccessDenied",
                    403,
                    "Request has expired",
                )
                .with_field("X-Amz-Expires", expires.to_string())
                .with_field(
                    "Expires",
                    format_iso8601(request_time.saturating_add(expires)),
                )
                .with_field("ServerTime", format_iso8601(now))
            } else {
                AuthError::new(
                    AuthErrorKind::Expired,
                    "SignatureDoesNotMatch",
                    403,
                    format!(
                        "Signature expired: {} is now earlier than {now_s} ({amz_date} + {expires} sec.)",
                        format_amz_date(request_time.saturating_add(expires)),
                    ),
                )
            });
        }
        if request_time > now.saturating_add(MAX_SKEW_SECS) {
            return Err(if s3 {
                AuthError::new(
                    AuthErrorKind::Expired,
                    "AccessDenied",
                    403,
                    "Request is not valid yet",
                )
                .with_field("X-Amz-Date", amz_date)
                .with_field("ServerTime", format_iso8601(now))
            } else {
                not_yet_current(amz_date, now)
            });
        }
        return Ok(());
    }
    let skew = request_time.saturating_sub(now);
    if skew.abs() <= MAX_SKEW_SECS {
        return Ok(());
    }
    if s3 {
        return Err(AuthError::new(
            AuthErrorKind::RequestTimeSkewed,
            "RequestTimeTooSkewed",
            403,
            "The difference between the request time and the current time is too large.",
        )
        .with_field("RequestTime", amz_date)
        .with_field("ServerTime", format_iso8601(now))
        .with_field("MaxAllowedSkewMilliseconds", "900000"));
    }
    if skew < 0 {
        Err(AuthError::new(
            AuthErrorKind::RequestTimeSkewed,
            "SignatureDoesNotMatch",
            403,
            format!(
                "Signature expired: {amz_date} is now earlier than {} ({now_s} - 15 min.)",
                format_amz_date(now - MAX_SKEW_SECS)
            ),
        ))
    } else {
        Err(not_yet_current(amz_date, now))
    }
}

fn not_yet_current(amz_date: &str, now: i64) -> AuthError {
    AuthError::new(
        AuthErrorKind::RequestTimeSkewed,
        "SignatureDoesNotMatch",
        403,
        format!(
            "Signature not yet current: {amz_date} is still later than {} ({} + 15 min.)",
            format_amz_date(now + MAX_SKEW_SECS),
            format_amz_date(now)
        ),
    )
}
