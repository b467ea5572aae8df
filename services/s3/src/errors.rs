//! S3's errors, with the codes, statuses and messages AWS returns.

use nephos_core::AwsError;

pub fn no_such_bucket(bucket: &str) -> AwsError {
    AwsError::new(404, "NoSuchBucket", "The specified bucket does not exist")
        .with_field("BucketName", bucket)
}

pub fn no_such_key(key: &str) -> AwsError {
    AwsError::new(404, "NoSuchKey", "The specified key does not exist.").with_field("Key", key)
}

pub fn no_such_version(key: &str, version: &str) -> AwsError {
    AwsError::new(
        404,
        "NoSuchVersion",
        "The specified version does not exist.",
    )
    .with_field("Key", key)
    .with_field("VersionId", version)
}

pub fn no_such_upload(upload_id: &str) -> AwsError {
    AwsError::new(
        404,
        "NoSuchUpload",
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
    )
    .with_field("UploadId", upload_id)
}

pub fn access_denied() -> AwsError {
    AwsError::new(403, "AccessDenied", "Access Denied")
}

pub fn invalid_argument(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "InvalidArgument", message)
}

/// `InvalidArgument` naming the argument (a header or query parameter) and, when AWS
/// echoes it, its value.
pub fn invalid_arg(message: impl Into<String>, name: &str, value: Option<&str>) -> AwsError {
    let e = invalid_argument(message).with_field("ArgumentName", name);
    match value {
        Some(v) => e.with_field("ArgumentValue", v),
        None => e,
    }
}

pub fn invalid_request(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "InvalidRequest", message)
}

pub fn malformed_xml() -> AwsError {
    AwsError::new(
        400,
        "MalformedXML",
        "The XML you provided was not well-formed or did not validate against our published schema",
    )
}

pub fn precondition_failed(condition: &str) -> AwsError {
    AwsError::new(
        412,
        "PreconditionFailed",
        "At least one of the pre-conditions you specified did not hold",
    )
    .with_field("Condition", condition)
}

pub fn not_modified() -> AwsError {
    AwsError::new(304, "NotModified", "Not Modified")
}

pub fn storage(e: impl std::fmt::Display) -> AwsError {
    tracing::error!(error = %e, "s3 storage failure");
    AwsError::internal("We encountered an internal error. Please try again.")
}

pub fn incomplete_body() -> AwsError {
    AwsError::new(
        400,
        "IncompleteBody",
        "You did not provide the number of bytes specified by the Content-Length HTTP header",
    )
}
