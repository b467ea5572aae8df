//! Verification of header-signed and presigned requests against AWS's published S3
//! examples, plus date, expiry and payload-hash error cases.

use http::{HeaderMap, HeaderValue, Method, Uri};
use nephos_auth::{
    AuthErrorKind, PayloadHashSource, PayloadMode, parse_amz_date, parse_auth, payload_hash_source,
    sha256_hex, verify,
};

const S3_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(*k, HeaderValue::from_str(v).unwrap());
    }
    h
}

fn t(s: &str) -> i64 {
    parse_amz_date(s).unwrap()
}

const PRESIGNED: &str = "/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";

fn presigned_check(uri: &str, now: i64) -> Result<nephos_auth::Verified, nephos_auth::AuthError> {
    let uri: Uri = uri.parse().unwrap();
    let h = headers(&[("host", "examplebucket.s3.amazonaws.com")]);
    let info = parse_auth(&Method::GET, &uri, &h).unwrap()?;
    verify(&info, &Method::GET, &uri, &h, None, S3_SECRET, now)
}

#[test]
fn s3_presigned_example_from_aws_docs() {
    let v = presigned_check(PRESIGNED, t("20130524T120000Z")).unwrap();
    assert_eq!(v.access_key_id, "AKIAIOSFODNN7EXAMPLE");
    assert_eq!(v.payload, PayloadMode::Unsigned);
    // Still valid at the last second, expired one second later.
    assert!(presigned_check(PRESIGNED, t("20130525T000000Z")).is_ok());
    let err = presigned_check(PRESIGNED, t("20130525T000001Z")).unwrap_err();
    assert_eq!((err.code, err.status), ("AccessDenied", 403));
    assert_eq!(err.message, "Request has expired");
    assert_eq!(err.kind, AuthErrorKind::Expired);
    assert_eq!(
        err.fields,
        vec![
            ("X-Amz-Expires", "86400".to_string()),
            ("Expires", "2013-05-25T00:00:00Z".to_string()),
            ("ServerTime", "2013-05-25T00:00:01Z".to_string()),
        ]
    );
    // Any change to the URL breaks the signature.
    let tampered = PRESIGNED.replace("/test.txt", "/test2.txt");
    let err = presigned_check(&tampered, t("20130524T120000Z")).unwrap_err();
    assert_eq!(err.code, "SignatureDoesNotMatch");
    assert!(err.fields.iter().any(|(k, _)| *k == "CanonicalRequest"));
    // Not valid before it was signed (beyond the skew allowance).
    let err = presigned_check(PRESIGNED, t("20130523T000000Z")).unwrap_err();
    assert_eq!(err.kind, AuthErrorKind::Expired);
}

#[test]
fn presigned_expires_limits() {
    let week = PRESIGNED.replace("X-Amz-Expires=86400", "X-Amz-Expires=604801");
    let err = presigned_check(&week, t("20130524T000000Z")).unwrap_err();
    assert_eq!(err.code, "AuthorizationQueryParametersError");
    assert_eq!(
        err.message,
        "X-Amz-Expires must be less than a week (in seconds) that is 604800"
    );
    let nan = PRESIGNED.replace("X-Amz-Expires=86400", "X-Amz-Expires=soon");
    let err = presigned_check(&nan, t("20130524T000000Z")).unwrap_err();
    assert_eq!(err.message, "X-Amz-Expires should be a number");
    let missing = PRESIGNED.replace("&X-Amz-Expires=86400", "");
    let uri: Uri = missing.parse().unwrap();
    let err = parse_auth(&Method::GET, &uri, &HeaderMap::new())
        .unwrap()
        .unwrap_err();
    assert_eq!(err.code, "AuthorizationQueryParametersError");
}

fn s3_get_object_headers() -> HeaderMap {
    headers(&[
        ("host", "examplebucket.s3.amazonaws.com"),
        ("range", "bytes=0-9"),
        (
            "x-amz-content-sha256",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ),
        ("x-amz-date", "20130524T000000Z"),
        (
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
        ),
    ])
}

#[test]
fn s3_header_example_from_aws_docs() {
    let uri = Uri::from_static("/test.txt");
    let h = s3_get_object_headers();
    let info = parse_auth(&Method::GET, &uri, &h).unwrap().unwrap();
    let now = t("20130524T000500Z");
    let v = verify(&info, &Method::GET, &uri, &h, None, S3_SECRET, now).unwrap();
    assert_eq!(
        v.payload,
        PayloadMode::Hashed(sha256_hex(b"")),
        "the gateway checks the body against this"
    );
    // A body that does not match the declared hash.
    let err = verify(
        &info,
        &Method::GET,
        &uri,
        &h,
        Some(&sha256_hex(b"x")),
        S3_SECRET,
        now,
    )
    .unwrap_err();
    assert_eq!(err.code, "XAmzContentSHA256Mismatch");
    // Wrong secret.
    let err = verify(&info, &Method::GET, &uri, &h, None, "nope", now).unwrap_err();
    assert_eq!(err.code, "SignatureDoesNotMatch");
    assert_eq!(err.status, 403);
    assert_eq!(
        err.message,
        "The request signature we calculated does not match the signature you provided. Check your key and signing method."
    );
}

#[test]
fn s3_clock_skew() {
    let uri = Uri::from_static("/test.txt");
    let h = s3_get_object_headers();
    let info = parse_auth(&Method::GET, &uri, &h).unwrap().unwrap();
    assert!(
        verify(
            &info,
            &Method::GET,
            &uri,
            &h,
            None,
            S3_SECRET,
            t("20130524T001500Z")
        )
        .is_ok()
    );
    assert!(
        verify(
            &info,
            &Method::GET,
            &uri,
            &h,
            None,
            S3_SECRET,
            t("20130523T234500Z")
        )
        .is_ok()
    );
    let err = verify(
        &info,
        &Method::GET,
        &uri,
        &h,
        None,
        S3_SECRET,
        t("20130524T001501Z"),
    )
    .unwrap_err();
    assert_eq!((err.code, err.status), ("RequestTimeTooSkewed", 403));
    assert_eq!(
        err.fields,
        vec![
            ("RequestTime", "20130524T000000Z".to_string()),
            ("ServerTime", "2013-05-24T00:15:01Z".to_string()),
            ("MaxAllowedSkewMilliseconds", "900000".to_string()),
        ]
    );
}

#[test]
fn s3_requires_content_sha256() {
    let uri = Uri::from_static("/test.txt");
    let mut h = s3_get_object_headers();
    h.remove("x-amz-content-sha256");
    let info = parse_auth(&Method::GET, &uri, &h).unwrap().unwrap();
    let err = verify(
        &info,
        &Method::GET,
        &uri,
        &h,
        None,
        S3_SECRET,
        t("20130524T000000Z"),
    )
    .unwrap_err();
    assert_eq!(err.code, "InvalidRequest");
    h.insert("x-amz-content-sha256", HeaderValue::from_static("bogus"));
    let err = verify(
        &info,
        &Method::GET,
        &uri,
        &h,
        None,
        S3_SECRET,
        t("20130524T000000Z"),
    )
    .unwrap_err();
    assert_eq!(err.code, "InvalidArgument");
}

/// The suite's get-vanilla case through the `http`-typed API.
fn vanilla() -> (Uri, HeaderMap) {
    let h = headers(&[
        ("host", "example.amazonaws.com"),
        ("x-amz-date", "20150830T123600Z"),
        (
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        ),
    ]);
    (Uri::from_static("/"), h)
}

const SUITE_SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

#[test]
fn non_s3_needs_body_hash_and_checks_skew() {
    let (uri, h) = vanilla();
    let info = parse_auth(&Method::GET, &uri, &h).unwrap().unwrap();
    assert_eq!(payload_hash_source(&info, "", &h), PayloadHashSource::Body);
    let now = t("20150830T123600Z");
    let err = verify(&info, &Method::GET, &uri, &h, None, SUITE_SECRET, now).unwrap_err();
    assert_eq!(err.kind, AuthErrorKind::Internal);
    let empty = sha256_hex(b"");
    verify(
        &info,
        &Method::GET,
        &uri,
        &h,
        Some(&empty),
        SUITE_SECRET,
        now,
    )
    .unwrap();

    let late = t("20150830T130100Z");
    let err = verify(
        &info,
        &Method::GET,
        &uri,
        &h,
        Some(&empty),
        SUITE_SECRET,
        late,
    )
    .unwrap_err();
    assert_eq!(err.code, "SignatureDoesNotMatch");
    assert_eq!(
        err.message,
        "Signature expired: 20150830T123600Z is now earlier than 20150830T124600Z (20150830T130100Z - 15 min.)"
    );
    let early = t("20150830T120000Z");
    let err = verify(
        &info,
        &Method::GET,
        &uri,
        &h,
        Some(&empty),
        SUITE_SECRET,
        early,
    )
    .unwrap_err();
    assert_eq!(err.kind, AuthErrorKind::RequestTimeSkewed);
    assert!(
        err.message
            .starts_with("Signature not yet current: 20150830T123600Z")
    );
}

#[test]
fn http2_authority_stands_in_for_host() {
    let (_, mut h) = vanilla();
    h.remove("host");
    let uri: Uri = "https://example.amazonaws.com/".parse().unwrap();
    let info = parse_auth(&Method::GET, &uri, &h).unwrap().unwrap();
    let empty = sha256_hex(b"");
    verify(
        &info,
        &Method::GET,
        &uri,
        &h,
        Some(&empty),
        SUITE_SECRET,
        t("20150830T123600Z"),
    )
    .unwrap();
}

#[test]
fn credential_date_must_match() {
    let (uri, mut h) = vanilla();
    h.insert("x-amz-date", HeaderValue::from_static("20150831T000000Z"));
    let info = parse_auth(&Method::GET, &uri, &h).unwrap().unwrap();
    let err = verify(
        &info,
        &Method::GET,
        &uri,
        &h,
        Some(&sha256_hex(b"")),
        SUITE_SECRET,
        t("20150831T000000Z"),
    )
    .unwrap_err();
    assert_eq!(err.code, "SignatureDoesNotMatch");
    assert!(
        err.message
            .starts_with("Date in Credential scope does not match")
    );
    h.remove("x-amz-date");
    let info = parse_auth(&Method::GET, &uri, &h).unwrap().unwrap();
    let err = verify(
        &info,
        &Method::GET,
        &uri,
        &h,
        Some(&sha256_hex(b"")),
        SUITE_SECRET,
        t("20150831T000000Z"),
    )
    .unwrap_err();
    assert_eq!(err.code, "IncompleteSignature");
}

#[test]
fn legacy_v2_is_parsed_but_not_verified() {
    let h = headers(&[(
        "authorization",
        "AWS AKIDEXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=",
    )]);
    let uri = Uri::from_static("/b/k");
    let info = parse_auth(&Method::GET, &uri, &h).unwrap().unwrap();
    assert_eq!(info.access_key_id, "AKIDEXAMPLE");
    assert!(verify(&info, &Method::GET, &uri, &h, None, SUITE_SECRET, 0).is_err());
}

/// Presigns like botocore does for a non-S3 service, then verifies.
#[test]
fn non_s3_presigned_round_trip_and_expiry() {
    use nephos_auth::{RequestParts, canonical_request, sign, signing_key, string_to_sign};
    let base = "Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fsts%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host";
    let h = headers(&[("host", "sts.amazonaws.com")]);
    let parts = RequestParts {
        method: "GET",
        path: "/",
        query: base,
        headers: &h,
        authority: None,
    };
    let empty = sha256_hex(b"");
    let creq = canonical_request(&parts, &["host".to_string()], &empty, "sts", true);
    let sts = string_to_sign(
        "20150830T123600Z",
        "20150830/us-east-1/sts/aws4_request",
        &creq,
    );
    let sig = sign(
        &signing_key(SUITE_SECRET, "20150830", "us-east-1", "sts"),
        &sts,
    );
    let uri: Uri = format!("/?{base}&X-Amz-Signature={sig}").parse().unwrap();
    let info = parse_auth(&Method::GET, &uri, &h).unwrap().unwrap();
    assert!(info.presigned);
    let now = t("20150830T123700Z");
    verify(
        &info,
        &Method::GET,
        &uri,
        &h,
        Some(&empty),
        SUITE_SECRET,
        now,
    )
    .unwrap();
    let err = verify(
        &info,
        &Method::GET,
        &uri,
        &h,
        Some(&empty),
        SUITE_SECRET,
        now + 1,
    )
    .unwrap_err();
    assert_eq!(err.kind, AuthErrorKind::Expired);
    assert_eq!(err.code, "SignatureDoesNotMatch");
    // Security token and other parameters are signed: adding one breaks it.
    let uri: Uri = format!("/?{base}&X-Amz-Security-Token=abc&X-Amz-Signature={sig}")
        .parse()
        .unwrap();
    let info = parse_auth(&Method::GET, &uri, &h).unwrap().unwrap();
    assert_eq!(info.security_token.as_deref(), Some("abc"));
    let err = verify(
        &info,
        &Method::GET,
        &uri,
        &h,
        Some(&empty),
        SUITE_SECRET,
        now,
    )
    .unwrap_err();
    assert_eq!(err.kind, AuthErrorKind::SignatureMismatch);
}
