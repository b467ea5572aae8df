//! Placeholder: model constraint validation, being written.

use nephos_core::{AwsError, Value};
use nephos_model::{Operation, ServiceModel};

/// Checks an operation's parsed input against the model's constraints.
pub fn validate(_model: &ServiceModel, _op: &Operation, _input: &Value) -> Result<(), AwsError> {
    Ok(())
}
