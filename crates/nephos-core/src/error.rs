//! Errors as AWS reports them to clients.

use crate::Value;
use std::borrow::Cow;
use std::fmt;

/// An error a client sees: the code it matches on, a message, the HTTP status, whether the
/// caller is at fault, and the modelled members of the error shape (if any).
///
/// Codecs frame it per protocol; the status and fault default from the model's error shape
/// when one exists for `code`, so handlers name the code and say what went wrong.
#[derive(Debug, Clone, PartialEq)]
pub struct AwsError {
    pub code: Cow<'static, str>,
    pub message: String,
    pub status: u16,
    pub sender_fault: bool,
    /// Members of the modelled error shape besides the message (`CancellationReasons`, ...).
    pub fields: crate::value::Map,
    /// Extra response headers the error carries (`Retry-After`, S3's `x-amz-*`).
    pub headers: Vec<(String, String)>,
}

impl AwsError {
    /// A client error (4xx, sender fault).
    pub fn new(
        status: u16,
        code: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
    ) -> Self {
        AwsError {
            code: code.into(),
            message: message.into(),
            status,
            sender_fault: status < 500,
            fields: Default::default(),
            headers: Vec::new(),
        }
    }

    /// 400 `ValidationException`, the generic input error of modern services. Protocols whose
    /// services use another code (query: `ValidationError`) rename it when framing.
    pub fn validation(message: impl Into<String>) -> Self {
        AwsError::new(400, "ValidationException", message)
    }

    /// 501 for an operation the model declares but nephos does not implement yet.
    pub fn not_implemented(service: &str, operation: &str) -> Self {
        AwsError::new(
            501,
            "NotImplemented",
            format!(
                "the operation {operation} of service {service} is not yet implemented by nephos"
            ),
        )
    }

    /// 500 for faults of nephos itself; the detail is logged, not leaked.
    pub fn internal(message: impl Into<String>) -> Self {
        AwsError::new(500, "InternalFailure", message)
    }

    pub fn with_field(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.fields.insert(key.to_owned(), value.into());
        self
    }

    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.status, self.message)
    }
}

impl std::error::Error for AwsError {}
