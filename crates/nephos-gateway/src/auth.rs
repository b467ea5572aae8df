//! Who signed a request, whether the signature holds, and aws-chunked bodies.
//!
//! The signature scope is read on every request (it routes the request and picks account
//! and region). Signatures are verified only with `--verify-signatures`; the expiry of
//! credentials nephos issued is enforced always, since clients rely on it.

use bytes::Bytes;
use futures_util::StreamExt;
use nephos_auth::{
    AuthError, AuthErrorKind, AuthScheme, ChunkedDecoder, ChunkedMode, SignedRequestInfo,
};
use nephos_core::{AwsError, ByteStream, Credential};
use nephos_model::Protocol;
use nephos_protocol::HttpRequest;
use std::ops::Range;
use std::sync::OnceLock;

/// What the signature says: the caller's key, region and service.
///
/// Every request needs those three to be routed and to pick its account and region, but
/// few need the rest of the signature (only verification and session tokens do). A
/// SigV4 `Authorization` header is therefore read lightly, borrowing the three from the
/// header; the full parse runs on demand. Other schemes (presigned URLs, SigV2) are
/// parsed in full at once.
#[derive(Debug, Default)]
pub struct Scope {
    light: Option<Light>,
    full: OnceLock<Parsed>,
}

type Parsed = Option<Result<SignedRequestInfo, AuthError>>;

/// The credential scope of a SigV4 header (`KEY/DATE/REGION/SERVICE/aws4_request`) and
/// where its parts lie in it.
#[derive(Debug)]
struct Light {
    credential: Box<str>,
    key: Range<usize>,
    region: Range<usize>,
    service: Range<usize>,
}

impl Light {
    fn read(parts: &http::request::Parts) -> Option<Light> {
        // A presigned query beside a header is an error the full parse words.
        if parts.uri.query().is_some_and(|q| q.contains("X-Amz-")) {
            return None;
        }
        let header = parts.headers.get(http::header::AUTHORIZATION)?.as_bytes();
        let rest = header.strip_prefix(b"AWS4-HMAC-SHA256 ")?;
        // SDKs put the credential first; anything else takes the full parse.
        let rest = rest.trim_ascii_start().strip_prefix(b"Credential=")?;
        let end = rest.iter().position(|&b| b == b',').unwrap_or(rest.len());
        let credential = std::str::from_utf8(rest[..end].trim_ascii_end()).ok()?;
        let mut slashes = [0usize; 4];
        let mut found = 0;
        for (i, b) in credential.bytes().enumerate() {
            if b == b'/' {
                *slashes.get_mut(found)? = i;
                found += 1;
            }
        }
        let [key_end, date_end, region_end, service_end] = slashes;
        let key = 0..key_end;
        let region = date_end + 1..region_end;
        let service = region_end + 1..service_end;
        let well_formed = found == 4
            && &credential[service_end + 1..] == "aws4_request"
            && [&key, &(key_end + 1..date_end), &region, &service]
                .iter()
                .all(|r| !r.is_empty());
        well_formed.then(|| Light {
            credential: credential.into(),
            key,
            region,
            service,
        })
    }

    fn part(&self, range: &Range<usize>) -> &str {
        &self.credential[range.clone()]
    }
}

impl Scope {
    fn part(
        &self,
        light: impl Fn(&Light) -> &Range<usize>,
        full: fn(&SignedRequestInfo) -> &String,
    ) -> Option<&str> {
        match &self.light {
            Some(l) => Some(l.part(light(l))),
            None => self
                .full
                .get()
                .and_then(|p| p.as_ref()?.as_ref().ok())
                .map(|i| full(i).as_str())
                .filter(|s| !s.is_empty()),
        }
    }

    pub fn access_key_id(&self) -> Option<&str> {
        self.part(|l| &l.key, |i| &i.access_key_id)
    }

    pub fn region(&self) -> Option<&str> {
        self.part(|l| &l.region, |i| &i.region)
    }

    pub fn service(&self) -> Option<&str> {
        self.part(|l| &l.service, |i| &i.service)
    }

    /// The whole signature as parsed: `None` for an unsigned request, an error for a
    /// malformed one.
    pub fn parsed(&self, req: &HttpRequest) -> Option<Result<&SignedRequestInfo, &AuthError>> {
        self.full
            .get_or_init(|| nephos_auth::parse_auth(&req.method, &req.uri, &req.headers))
            .as_ref()
            .map(Result::as_ref)
    }

    fn info(&self, req: &HttpRequest) -> Option<&SignedRequestInfo> {
        self.parsed(req).and_then(Result::ok)
    }
}

/// Reads the credential scope from the `Authorization` header or presigned query.
pub fn scope(parts: &http::request::Parts) -> Scope {
    let scope = Scope {
        light: Light::read(parts),
        full: OnceLock::new(),
    };
    if scope.light.is_none() {
        let _ = scope.full.set(nephos_auth::parse_auth(
            &parts.method,
            &parts.uri,
            &parts.headers,
        ));
    }
    scope
}

/// Converts an authentication failure into the error the service's clients expect.
pub fn to_aws_error(e: AuthError, protocol: Protocol) -> AwsError {
    let json = matches!(
        protocol,
        Protocol::Json | Protocol::RestJson | Protocol::RpcV2Cbor
    );
    let code = match e.kind {
        // JSON-protocol services name a bad signature InvalidSignatureException.
        AuthErrorKind::SignatureMismatch if json => "InvalidSignatureException",
        _ => e.code,
    };
    let mut err = AwsError::new(e.status, code, e.message);
    for (k, v) in e.fields {
        err = err.with_field(k, v);
    }
    err
}

/// The answer to a key nephos knows and that no longer works (an IAM access key made
/// inactive or deleted), as each service words an unknown key.
pub fn invalid_token(service: &str) -> AwsError {
    match service {
        "s3" | "s3control" => AwsError::new(
            403,
            "InvalidAccessKeyId",
            "The AWS Access Key Id you provided does not exist in our records.",
        ),
        "dynamodb" | "dynamodbstreams" => AwsError::new(
            400,
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        ),
        _ => AwsError::new(
            403,
            "InvalidClientTokenId",
            "The security token included in the request is invalid.",
        ),
    }
}

/// The checks that apply to a request before its input is read.
pub struct Check<'a> {
    pub verify_signatures: bool,
    /// Secret of keys nephos did not issue, when verifying.
    pub default_secret: &'a str,
    pub protocol: Protocol,
    pub now_ms: i64,
    pub issued: Option<&'a Credential>,
    /// Operations callers invoke unsigned (`authtype: none`, e.g. AssumeRoleWithWebIdentity).
    pub anonymous_allowed: bool,
    pub service: &'a str,
}

impl Check<'_> {
    /// Enforces credential expiry and (when enabled) the signature. Returns the verified
    /// signature, whose signing key checks aws-chunked chunk signatures.
    pub fn run(
        &self,
        scope: &Scope,
        req: &HttpRequest,
        body_sha256: Option<&str>,
    ) -> Result<Option<nephos_auth::Verified>, AwsError> {
        if let Some(cred) = self.issued {
            if cred.expires_at_ms.is_some_and(|t| t <= self.now_ms) {
                return Err(AwsError::new(
                    403,
                    "ExpiredToken",
                    "The security token included in the request is expired",
                ));
            }
            let sent = scope.info(req).and_then(|i| i.security_token.as_deref());
            if cred.session_token.is_some() && sent != cred.session_token.as_deref() {
                return Err(AwsError::new(
                    403,
                    "InvalidClientTokenId",
                    "The security token included in the request is invalid.",
                ));
            }
        }
        if !self.verify_signatures {
            return Ok(None);
        }
        let parsed = scope.parsed(req);
        if let Some(Err(e)) = parsed {
            return Err(to_aws_error(e.clone(), self.protocol));
        }
        let Some(Ok(info)) = parsed else {
            // S3 serves anonymous requests; bucket policies decide what they may do.
            if self.anonymous_allowed || self.service == "s3" {
                return Ok(None);
            }
            return Err(to_aws_error(
                nephos_auth::AuthError::missing_authentication_token(),
                self.protocol,
            ));
        };
        if matches!(info.scheme, AuthScheme::V2Header | AuthScheme::V2Presigned) {
            return Err(AwsError::new(
                400,
                "InvalidRequest",
                "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.",
            ));
        }
        let secret = self
            .issued
            .map_or(self.default_secret, |c| c.secret_access_key.as_str());
        nephos_auth::verify(
            info,
            &req.method,
            &req.uri,
            &req.headers,
            body_sha256,
            secret,
            self.now_ms / 1000,
        )
        .map(Some)
        .map_err(|e| to_aws_error(e, self.protocol))
    }
}

/// Whether the body must be hashed for verification (non-S3 requests that declare no hash).
pub fn needs_body_hash(scope: &Scope, req: &HttpRequest) -> bool {
    scope.info(req).is_some_and(|info| {
        matches!(
            nephos_auth::payload_hash_source(info, req.uri.query().unwrap_or(""), &req.headers),
            nephos_auth::PayloadHashSource::Body
        )
    })
}

/// The aws-chunked flavour of the body, if the request declares one.
pub fn chunked_mode(req: &HttpRequest) -> Option<ChunkedMode> {
    let declared = req
        .headers
        .get("x-amz-content-sha256")
        .and_then(|v| v.to_str().ok())?;
    ChunkedMode::from_content_sha256(declared.trim())
}

fn decoder(
    req: &HttpRequest,
    mode: ChunkedMode,
    verified: Option<&nephos_auth::Verified>,
) -> ChunkedDecoder {
    let dec = ChunkedDecoder::new(mode, verified.and_then(|v| v.chunk_signing()));
    match decoded_length(req) {
        Some(n) => dec.with_decoded_length(n),
        None => dec,
    }
}

pub fn decoded_length(req: &HttpRequest) -> Option<u64> {
    req.headers
        .get("x-amz-decoded-content-length")
        .and_then(|v| v.to_str().ok()?.trim().parse().ok())
}

/// Decodes a collected aws-chunked body.
pub fn decode_collected(
    req: &HttpRequest,
    mode: ChunkedMode,
    verified: Option<&nephos_auth::Verified>,
    body: &[u8],
    protocol: Protocol,
) -> Result<Bytes, AwsError> {
    let mut dec = decoder(req, mode, verified);
    let mut out = Vec::with_capacity(body.len());
    dec.feed(body, &mut out)
        .map_err(|e| to_aws_error(e, protocol))?;
    dec.finish().map_err(|e| to_aws_error(e, protocol))?;
    Ok(out.into())
}

/// Decodes an aws-chunked body as it streams. A framing or signature error ends the
/// stream with an error, so the consumer discards what it read.
pub fn decode_stream(
    req: &HttpRequest,
    mode: ChunkedMode,
    verified: Option<&nephos_auth::Verified>,
    body: ByteStream,
) -> ByteStream {
    let length = decoded_length(req);
    let trailers = body.trailers.clone();
    let state = (
        Some(decoder(req, mode, verified)),
        body.stream,
        trailers.clone(),
    );
    let decoded =
        futures_util::stream::unfold(state, |(mut dec, mut inner, trailers)| async move {
            loop {
                let d = dec.as_mut()?;
                match inner.next().await {
                    Some(Ok(chunk)) => {
                        let mut out = Vec::with_capacity(chunk.len());
                        if let Err(e) = d.feed(&chunk, &mut out) {
                            return Some((
                                Err(std::io::Error::other(e.message)),
                                (None, inner, trailers),
                            ));
                        }
                        if !out.is_empty() {
                            return Some((Ok(Bytes::from(out)), (dec, inner, trailers)));
                        }
                    }
                    Some(Err(e)) => return Some((Err(e), (None, inner, trailers))),
                    None => {
                        let finished = dec.take()?.finish();
                        return match finished {
                            Ok(t) => {
                                let _ = trailers.set(t.headers);
                                None
                            }
                            Err(e) => Some((
                                Err(std::io::Error::other(e.message)),
                                (None, inner, trailers),
                            )),
                        };
                    }
                }
            }
        });
    let mut out = ByteStream::new(length, decoded);
    out.trailers = trailers;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope_of(authorization: &str, uri: &str) -> Scope {
        let (parts, ()) = http::Request::builder()
            .uri(uri)
            .header("authorization", authorization)
            .body(())
            .unwrap()
            .into_parts();
        scope(&parts)
    }

    fn triple(s: &Scope) -> (Option<&str>, Option<&str>, Option<&str>) {
        (s.access_key_id(), s.region(), s.service())
    }

    #[test]
    fn header_scope_is_read_lightly_and_agrees_with_the_full_parse() {
        let header = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7";
        let s = scope_of(header, "/");
        assert!(s.light.is_some());
        assert_eq!(
            triple(&s),
            (Some("AKIDEXAMPLE"), Some("us-east-1"), Some("iam"))
        );
        let req = HttpRequest {
            method: http::Method::GET,
            uri: "/".parse().unwrap(),
            headers: [(http::header::AUTHORIZATION, header.parse().unwrap())]
                .into_iter()
                .collect(),
        };
        let full = s.parsed(&req).unwrap().unwrap();
        assert_eq!(
            (
                full.access_key_id.as_str(),
                full.region.as_str(),
                full.service.as_str()
            ),
            ("AKIDEXAMPLE", "us-east-1", "iam")
        );
    }

    #[test]
    fn unusual_headers_take_the_full_parse() {
        for header in [
            "AWS4-HMAC-SHA256 SignedHeaders=host, Credential=K/20150830/eu-west-1/s3/aws4_request, Signature=00",
            "AWS4-HMAC-SHA256 Credential=K/20150830/eu-west-1/s3/aws4_request/extra, SignedHeaders=host, Signature=00",
            "AWS4-HMAC-SHA256 Credential=K/20150830//s3/aws4_request, SignedHeaders=host, Signature=00",
            "AWS AKID:signature",
        ] {
            assert!(scope_of(header, "/").light.is_none(), "{header}");
        }
        let reordered = scope_of(
            "AWS4-HMAC-SHA256 SignedHeaders=host, Credential=K/20150830/eu-west-1/s3/aws4_request, Signature=00",
            "/",
        );
        assert_eq!(
            triple(&reordered),
            (Some("K"), Some("eu-west-1"), Some("s3"))
        );
        let presigned_too = scope_of(
            "AWS4-HMAC-SHA256 Credential=K/20150830/eu-west-1/s3/aws4_request, SignedHeaders=host, Signature=00",
            "/?X-Amz-Signature=00",
        );
        assert!(presigned_too.light.is_none());
    }
}
