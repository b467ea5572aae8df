//! Cheap, tolerant extraction of what a request claims about its signer: access key,
//! credential scope, signed headers and signature, from the `Authorization` header
//! (SigV4 or the legacy `AWS AKID:sig` form) or from presigned query parameters.
//!
//! The gateway runs this on every request (even when verification is off) to pick the
//! account and region, so it never panics and never computes a hash.

use http::HeaderMap;
use percent_encoding::percent_decode_str;

use crate::error::AuthError;

/// The only SigV4 algorithm this crate verifies.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// Where the credentials were found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthScheme {
    /// `Authorization: AWS4-HMAC-SHA256 Credential=...`.
    V4Header,
    /// `X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=...` query parameters.
    V4Presigned,
    /// Legacy S3 `Authorization: AWS AKID:signature`: access key only, not verified.
    V2Header,
    /// Legacy S3 `?AWSAccessKeyId=AKID&Signature=...&Expires=...`: access key only.
    V2Presigned,
}

/// What a request claims about its signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedRequestInfo {
    pub scheme: AuthScheme,
    pub access_key_id: String,
    /// Credential scope date, `yyyymmdd` (empty for SigV2).
    pub date: String,
    /// Credential scope region (empty for SigV2).
    pub region: String,
    /// Credential scope service, i.e. the signing name (empty for SigV2).
    pub service: String,
    pub presigned: bool,
    /// Lowercase header names, in the order given.
    pub signed_headers: Vec<String>,
    /// Hex signature as sent (SigV2: base64, as sent).
    pub signature: String,
    /// `X-Amz-Date` from the query (presigned) or the header, when present.
    pub amz_date: Option<String>,
    /// `X-Amz-Expires` seconds (SigV4 presigned) or `Expires` epoch seconds (SigV2 presigned).
    pub expires: Option<String>,
    /// `X-Amz-Security-Token` from the query or the header.
    pub security_token: Option<String>,
}

impl SignedRequestInfo {
    /// `date/region/service/aws4_request`.
    pub fn scope(&self) -> String {
        format!(
            "{}/{}/{}/aws4_request",
            self.date, self.region, self.service
        )
    }

    /// True for the SigV4 schemes, the only ones [`crate::verify`] accepts.
    pub fn is_v4(&self) -> bool {
        matches!(self.scheme, AuthScheme::V4Header | AuthScheme::V4Presigned)
    }
}

// Parsed at compile time: a lookup by `&str` parses the name on every request.
const X_AMZ_DATE: http::HeaderName = http::HeaderName::from_static("x-amz-date");
const X_AMZ_SECURITY_TOKEN: http::HeaderName =
    http::HeaderName::from_static("x-amz-security-token");

fn header_str(headers: &HeaderMap, name: impl http::header::AsHeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Iterates over `key=value` pairs of a raw query string, keys raw, values decoded.
fn query_pairs(query: &str) -> impl Iterator<Item = (&str, String)> {
    query.split('&').filter(|p| !p.is_empty()).map(|p| {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        (k, percent_decode_str(v).decode_utf8_lossy().into_owned())
    })
}

/// Parses the credentials a request carries.
///
/// `None`: the request carries none (anonymous). `Some(Err)`: it tries to but is
/// malformed; the error is what AWS answers. `Some(Ok)`: the claims, not yet verified.
pub fn parse_auth(
    _method: &http::Method,
    uri: &http::Uri,
    headers: &HeaderMap,
) -> Option<Result<SignedRequestInfo, AuthError>> {
    let authz = headers.get(http::header::AUTHORIZATION);
    let query = uri.query().unwrap_or("");
    let presigned_v4 = !query.is_empty()
        && (query_pairs_raw_has(query, "X-Amz-Algorithm")
            || query_pairs_raw_has(query, "X-Amz-Credential")
            || query_pairs_raw_has(query, "X-Amz-Signature"));
    if let Some(authz) = authz {
        if presigned_v4 {
            return Some(Err(AuthError::new(
                crate::AuthErrorKind::MalformedAuthorization,
                "InvalidArgument",
                400,
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified",
            )));
        }
        let Ok(authz) = authz.to_str() else {
            return Some(Err(unsupported()));
        };
        return Some(parse_authorization_header(authz, headers));
    }
    if presigned_v4 {
        return Some(parse_presigned(query, headers));
    }
    if query_pairs_raw_has(query, "AWSAccessKeyId") {
        let mut info = empty(AuthScheme::V2Presigned);
        info.presigned = true;
        for (k, v) in query_pairs(query) {
            match k {
                "AWSAccessKeyId" => info.access_key_id = v,
                "Signature" => info.signature = v,
                "Expires" => info.expires = Some(v),
                "x-amz-security-token" | "X-Amz-Security-Token" => info.security_token = Some(v),
                _ => {}
            }
        }
        return Some(Ok(info));
    }
    None
}

fn query_pairs_raw_has(query: &str, key: &str) -> bool {
    query
        .split('&')
        .any(|p| p.split_once('=').map_or(p, |(k, _)| k) == key)
}

fn empty(scheme: AuthScheme) -> SignedRequestInfo {
    SignedRequestInfo {
        scheme,
        access_key_id: String::new(),
        date: String::new(),
        region: String::new(),
        service: String::new(),
        presigned: false,
        signed_headers: Vec::new(),
        signature: String::new(),
        amz_date: None,
        expires: None,
        security_token: None,
    }
}

fn unsupported() -> AuthError {
    AuthError::new(
        crate::AuthErrorKind::MalformedAuthorization,
        "InvalidArgument",
        400,
        "Unsupported Authorization Type",
    )
}

/// Splits `AKID/yyyymmdd/region/service/aws4_request` into the info's fields.
fn parse_credential(
    cred: &str,
    info: &mut SignedRequestInfo,
    presigned: bool,
) -> Result<(), AuthError> {
    let mut parts = cred.rsplitn(5, '/');
    let (terminator, service, region, date, akid) = (
        parts.next().unwrap_or(""),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    );
    let (Some(service), Some(region), Some(date), Some(akid)) = (service, region, date, akid)
    else {
        let service = if cred.contains("/s3/") { "s3" } else { "" };
        let msg = if service == "s3" {
            "The authorization header is malformed; the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".".to_string()
        } else {
            format!("Credential should be scoped to a valid region, not '{cred}'. ")
        };
        return Err(AuthError::malformed(service, presigned, msg));
    };
    info.access_key_id = akid.to_string();
    info.date = date.to_string();
    info.region = region.to_string();
    info.service = service.to_string();
    let s3 = service == "s3";
    let problem = if terminator != "aws4_request" {
        Some(format!(
            "Credential should be scoped with a valid terminator: 'aws4_request', not '{terminator}'."
        ))
    } else if date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
        Some(format!(
            "Invalid credential date \"{date}\". This date is not the same as X-Amz-Date: \"{date}\"."
        ))
    } else if akid.is_empty() || region.is_empty() || service.is_empty() {
        Some(format!(
            "Credential should be scoped to a valid region, not '{region}'. "
        ))
    } else {
        None
    };
    match problem {
        None => Ok(()),
        Some(_) if s3 && !presigned => Err(AuthError::malformed(
            "s3",
            false,
            "The authorization header is malformed; the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".",
        )),
        Some(_) if s3 => Err(AuthError::malformed(
            "s3",
            true,
            "Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".",
        )),
        Some(msg) => Err(AuthError::malformed(service, presigned, msg)),
    }
}

fn split_signed_headers(s: &str) -> Vec<String> {
    s.split(';')
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.is_empty())
        .collect()
}

fn parse_authorization_header(
    authz: &str,
    headers: &HeaderMap,
) -> Result<SignedRequestInfo, AuthError> {
    let authz_trim = authz.trim();
    if let Some(rest) = authz_trim.strip_prefix("AWS ") {
        let (akid, sig) = rest.trim().split_once(':').unwrap_or((rest.trim(), ""));
        let mut info = empty(AuthScheme::V2Header);
        info.access_key_id = akid.to_string();
        info.signature = sig.to_string();
        return Ok(info);
    }
    let Some(rest) = authz_trim.strip_prefix(ALGORITHM) else {
        return Err(unsupported());
    };
    if !rest.starts_with([' ', '\t']) {
        return Err(unsupported());
    }
    let mut info = empty(AuthScheme::V4Header);
    let (mut cred, mut signed, mut sig) = (None, None, None);
    for part in rest.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let Some((k, v)) = part.split_once('=') else {
            return Err(AuthError::malformed(
                "",
                false,
                format!(
                    "'{part}' not a valid key=value pair (missing equal-sign) in Authorization header: '{authz}'."
                ),
            ));
        };
        match k.trim() {
            "Credential" => cred = Some(v.trim()),
            "SignedHeaders" => signed = Some(v.trim()),
            "Signature" => sig = Some(v.trim()),
            _ => {}
        }
    }
    if let Some(cred) = cred {
        parse_credential(cred, &mut info, false)?;
    }
    if cred.is_none() || signed.is_none() || sig.is_none() {
        if info.service == "s3" {
            return Err(AuthError::malformed(
                "s3",
                false,
                "The authorization header is malformed; the authorization header requires three components: Credential, SignedHeaders, and Signature.",
            ));
        }
        let mut msg = String::new();
        for (name, v) in [
            ("Credential", cred),
            ("Signature", sig),
            ("SignedHeaders", signed),
        ] {
            if v.is_none() {
                msg.push_str(&format!(
                    "Authorization header requires '{name}' parameter. "
                ));
            }
        }
        msg.push_str(&format!("Authorization={authz}"));
        return Err(AuthError::malformed(&info.service, false, msg));
    }
    info.signed_headers = split_signed_headers(signed.unwrap_or(""));
    info.signature = sig.unwrap_or("").to_string();
    info.amz_date = header_str(headers, X_AMZ_DATE).map(str::to_string);
    info.security_token = header_str(headers, X_AMZ_SECURITY_TOKEN).map(str::to_string);
    Ok(info)
}

fn parse_presigned(query: &str, headers: &HeaderMap) -> Result<SignedRequestInfo, AuthError> {
    let mut info = empty(AuthScheme::V4Presigned);
    info.presigned = true;
    let (mut alg, mut cred, mut signed, mut sig) = (None, None, None, None);
    for (k, v) in query_pairs(query) {
        match k {
            "X-Amz-Algorithm" => alg = Some(v),
            "X-Amz-Credential" => cred = Some(v),
            "X-Amz-SignedHeaders" => signed = Some(v),
            "X-Amz-Signature" => sig = Some(v),
            "X-Amz-Date" => info.amz_date = Some(v),
            "X-Amz-Expires" => info.expires = Some(v),
            "X-Amz-Security-Token" => info.security_token = Some(v),
            _ => {}
        }
    }
    if let Some(cred) = &cred {
        parse_credential(cred, &mut info, true)?;
    }
    let s3 = info.service == "s3";
    if let Some(alg) = &alg
        && alg != ALGORITHM
    {
        return Err(AuthError::malformed(
            &info.service,
            true,
            "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"",
        ));
    }
    let missing_expires = s3 && info.expires.is_none();
    if alg.is_none()
        || cred.is_none()
        || signed.is_none()
        || sig.is_none()
        || info.amz_date.is_none()
        || missing_expires
    {
        let msg = if s3 {
            "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.".to_string()
        } else {
            let mut m = String::new();
            for (name, present) in [
                ("X-Amz-Algorithm", alg.is_some()),
                ("X-Amz-Credential", cred.is_some()),
                ("X-Amz-Signature", sig.is_some()),
                ("X-Amz-SignedHeaders", signed.is_some()),
                ("X-Amz-Date", info.amz_date.is_some()),
            ] {
                if !present {
                    m.push_str(&format!(
                        "AWS query-string parameters must include '{name}'. "
                    ));
                }
            }
            m.push_str("Re-examine the query-string parameters.");
            m
        };
        return Err(AuthError::malformed(&info.service, true, msg));
    }
    info.signed_headers = split_signed_headers(signed.as_deref().unwrap_or(""));
    info.signature = sig.unwrap_or_default();
    if info.security_token.is_none() {
        info.security_token = header_str(headers, "x-amz-security-token").map(str::to_string);
    }
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderValue, Method, Uri};

    fn hdrs(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn header_form() {
        let h = hdrs(&[
            (
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/sqs/aws4_request, SignedHeaders=host;X-Amz-Date, Signature=abcd",
            ),
            ("x-amz-date", "20150830T123600Z"),
        ]);
        let info = parse_auth(&Method::GET, &Uri::from_static("/"), &h)
            .unwrap()
            .unwrap();
        assert_eq!(info.access_key_id, "AKID");
        assert_eq!(info.date, "20150830");
        assert_eq!(info.region, "us-east-1");
        assert_eq!(info.service, "sqs");
        assert_eq!(info.signed_headers, ["host", "x-amz-date"]);
        assert_eq!(info.signature, "abcd");
        assert_eq!(info.amz_date.as_deref(), Some("20150830T123600Z"));
        assert!(!info.presigned);
    }

    #[test]
    fn presigned_form() {
        let uri: Uri = "/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeee"
            .parse()
            .unwrap();
        let info = parse_auth(&Method::GET, &uri, &HeaderMap::new())
            .unwrap()
            .unwrap();
        assert!(info.presigned);
        assert_eq!(info.service, "s3");
        assert_eq!(info.expires.as_deref(), Some("86400"));
        assert_eq!(info.signed_headers, ["host"]);
    }

    #[test]
    fn v2_and_none() {
        let h = hdrs(&[("authorization", "AWS AKIDV2:c2lnbmF0dXJl")]);
        let info = parse_auth(&Method::GET, &Uri::from_static("/"), &h)
            .unwrap()
            .unwrap();
        assert_eq!(info.scheme, AuthScheme::V2Header);
        assert_eq!(info.access_key_id, "AKIDV2");
        assert!(parse_auth(&Method::GET, &Uri::from_static("/x?a=b"), &HeaderMap::new()).is_none());
        let uri = Uri::from_static("/b/k?AWSAccessKeyId=AK2&Expires=1700000000&Signature=abc%3D");
        let info = parse_auth(&Method::GET, &uri, &HeaderMap::new())
            .unwrap()
            .unwrap();
        assert_eq!(info.scheme, AuthScheme::V2Presigned);
        assert_eq!(info.signature, "abc=");
    }

    #[test]
    fn garbage_gives_errors() {
        for v in [
            "AWS4-HMAC-SHA256",
            "AWS4-HMAC-SHA256 ",
            "AWS4-HMAC-SHA256 Credential=",
            "AWS4-HMAC-SHA256 Credential=a/b, SignedHeaders=host, Signature=x",
            "AWS4-HMAC-SHA256 garbage",
            "AWS4-HMAC-SHA256XX Credential=a",
            "Bearer token",
            "AWS4-HMAC-SHA256 Credential=AKID/2015/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=x",
        ] {
            let h = hdrs(&[("authorization", v)]);
            let r = parse_auth(&Method::GET, &Uri::from_static("/"), &h).unwrap();
            assert!(r.is_err(), "{v}");
        }
        let uri =
            Uri::from_static("/?X-Amz-Credential=AKID%2F20130524%2Fus-east-1%2Fs3%2Faws4_request");
        let err = parse_auth(&Method::GET, &uri, &HeaderMap::new())
            .unwrap()
            .unwrap_err();
        assert_eq!(err.code, "AuthorizationQueryParametersError");
    }
}
