//! The errors SQS answers with, spelled as AWS spells them.

use nephos_core::AwsError;

pub fn queue_does_not_exist() -> AwsError {
    AwsError::new(
        400,
        "QueueDoesNotExist",
        "The specified queue does not exist.",
    )
}

pub fn invalid_parameter(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "InvalidParameterValue", message)
}

pub fn missing_parameter(name: &str) -> AwsError {
    AwsError::new(
        400,
        "MissingParameter",
        format!("The request must contain the parameter {name}."),
    )
}

pub fn invalid_attribute_value(name: &str) -> AwsError {
    AwsError::new(
        400,
        "InvalidAttributeValue",
        format!("Invalid value for the parameter {name}."),
    )
}

pub fn invalid_attribute_name(name: &str) -> AwsError {
    AwsError::new(
        400,
        "InvalidAttributeName",
        format!("Unknown Attribute {name}."),
    )
}

pub fn receipt_handle_invalid(handle: &str) -> AwsError {
    AwsError::new(
        404,
        "ReceiptHandleIsInvalid",
        format!("The input receipt handle \"{handle}\" is not a valid receipt handle."),
    )
}

pub fn not_for_queue_type(param: &str, value: &str) -> AwsError {
    invalid_parameter(format!(
        "Value {value} for parameter {param} is invalid. Reason: The request include parameter that is not valid for this queue type."
    ))
}

pub fn access_denied(url: &str) -> AwsError {
    AwsError::new(
        403,
        "AccessDenied",
        format!("Access to the resource {url} is denied."),
    )
}

pub fn storage(e: impl std::fmt::Display) -> AwsError {
    tracing::error!(error = %e, "sqs: storage commit failed");
    AwsError::internal("the change could not be stored")
}
