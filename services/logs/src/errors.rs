//! The errors CloudWatch Logs answers with, spelled as AWS spells them.

use nephos_core::AwsError;

pub fn invalid_parameter(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "InvalidParameterException", message)
}

pub fn group_not_found() -> AwsError {
    AwsError::new(
        400,
        "ResourceNotFoundException",
        "The specified log group does not exist.",
    )
}

pub fn stream_not_found() -> AwsError {
    AwsError::new(
        400,
        "ResourceNotFoundException",
        "The specified log stream does not exist.",
    )
}

pub fn not_found(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "ResourceNotFoundException", message)
}

pub fn already_exists(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "ResourceAlreadyExistsException", message)
}

pub fn limit_exceeded(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "LimitExceededException", message)
}

pub fn bad_token() -> AwsError {
    invalid_parameter("The specified nextToken is invalid.")
}

pub fn storage(e: impl std::fmt::Display) -> AwsError {
    tracing::error!(error = %e, "logs: storage commit failed");
    AwsError::internal("the change could not be stored")
}
