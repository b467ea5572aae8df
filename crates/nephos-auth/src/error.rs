//! The structured authentication error every function of this crate returns.
//!
//! Errors carry AWS's wire code, message and HTTP status, plus the extra fields S3
//! puts in its `<Error>` document (`ServerTime`, `X-Amz-Expires`, ...). The crate does
//! not depend on `nephos-core`: the gateway maps an [`AuthError`] to its own error type.
//! [`AuthErrorKind`] lets the gateway re-map per protocol (JSON services answer
//! `InvalidSignatureException`/400 where query services answer
//! `SignatureDoesNotMatch`/403, for instance).

use std::fmt;

/// What went wrong, independent of the wire code chosen for the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthErrorKind {
    /// The recomputed signature differs from the one sent (request, chunk or trailer).
    SignatureMismatch,
    /// An `Authorization` header or presigned query lacks parts or is malformed.
    MalformedAuthorization,
    /// No credentials at all where the service requires them.
    MissingAuthentication,
    /// The request date is more than 15 minutes away from the server clock.
    RequestTimeSkewed,
    /// A presigned request is past its expiry (or not valid yet).
    Expired,
    /// `x-amz-content-sha256` is missing, malformed or disagrees with the body.
    ContentSha256,
    /// The access key id is unknown (raised by the gateway, constructor here).
    InvalidAccessKey,
    /// The aws-chunked body framing is malformed or truncated.
    MalformedChunkedBody,
    /// The aws-chunked decoded length disagrees with `x-amz-decoded-content-length`.
    DecodedLengthMismatch,
    /// The caller broke the API contract (e.g. no body hash where one was needed).
    Internal,
}

/// An authentication failure in AWS's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthError {
    pub kind: AuthErrorKind,
    /// AWS error code, e.g. `SignatureDoesNotMatch`.
    pub code: &'static str,
    pub message: String,
    /// HTTP status code.
    pub status: u16,
    /// Extra elements S3 adds to its error document, in order.
    pub fields: Vec<(&'static str, String)>,
}

impl AuthError {
    pub(crate) fn new(
        kind: AuthErrorKind,
        code: &'static str,
        status: u16,
        message: impl Into<String>,
    ) -> Self {
        AuthError {
            kind,
            code,
            message: message.into(),
            status,
            fields: Vec::new(),
        }
    }

    pub(crate) fn with_field(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.fields.push((name, value.into()));
        self
    }

    /// `SignatureDoesNotMatch` (403) with the message the given service uses.
    pub fn signature_mismatch(service: &str) -> Self {
        let message = if service == "s3" {
            "The request signature we calculated does not match the signature you provided. Check your key and signing method."
        } else {
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
        };
        AuthError::new(
            AuthErrorKind::SignatureMismatch,
            "SignatureDoesNotMatch",
            403,
            message,
        )
    }

    /// What a non-S3 service answers to a request without any credentials.
    pub fn missing_authentication_token() -> Self {
        AuthError::new(
            AuthErrorKind::MissingAuthentication,
            "MissingAuthenticationToken",
            403,
            "Request is missing Authentication Token",
        )
    }

    /// What a service answers when the access key id is unknown.
    pub fn invalid_access_key_id(service: &str, access_key_id: &str) -> Self {
        if service == "s3" {
            AuthError::new(
                AuthErrorKind::InvalidAccessKey,
                "InvalidAccessKeyId",
                403,
                "The AWS Access Key Id you provided does not exist in our records.",
            )
            .with_field("AWSAccessKeyId", access_key_id)
        } else {
            AuthError::new(
                AuthErrorKind::InvalidAccessKey,
                "InvalidClientTokenId",
                403,
                "The security token included in the request is invalid.",
            )
        }
    }

    /// Malformed authorization, with the S3 or generic code depending on the service.
    pub(crate) fn malformed(service: &str, presigned: bool, message: impl Into<String>) -> Self {
        let code = match (service == "s3", presigned) {
            (true, true) => "AuthorizationQueryParametersError",
            (true, false) => "AuthorizationHeaderMalformed",
            (false, _) => "IncompleteSignature",
        };
        AuthError::new(AuthErrorKind::MalformedAuthorization, code, 400, message)
    }

    pub(crate) fn chunked(message: impl Into<String>) -> Self {
        AuthError::new(
            AuthErrorKind::MalformedChunkedBody,
            "InvalidRequest",
            400,
            message,
        )
    }

    pub(crate) fn incomplete_body() -> Self {
        AuthError::new(
            AuthErrorKind::MalformedChunkedBody,
            "IncompleteBody",
            400,
            "The request body terminated unexpectedly",
        )
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.status, self.message)
    }
}

impl std::error::Error for AuthError {}
