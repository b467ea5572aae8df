//! Who is calling, where, and as which request.

use crate::Clock;
use std::sync::Arc;

/// Everything a handler knows about the request besides its input. No HTTP in here.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// The id echoed in the response headers and error bodies.
    pub request_id: String,
    /// 12-digit account whose state this request reads and writes.
    pub account_id: String,
    /// Region from the signature scope (or the default).
    pub region: String,
    /// botocore name of the service (`sts`, `s3`).
    pub service: &'static str,
    pub operation: String,
    /// The access key id the request was signed with, if it was signed.
    pub access_key_id: Option<String>,
    /// The caller's ARN (a root user unless the key belongs to an IAM or STS identity).
    pub caller_arn: String,
    /// Where the request came from (`aws:SourceIp`).
    pub source_ip: Option<std::net::IpAddr>,
    /// The `Host` the client addressed (`localhost:4566`), for URLs that must route back
    /// to nephos (SQS queue URLs); `None` for in-process calls.
    pub host: Option<String>,
    pub clock: Arc<Clock>,
}

impl RequestContext {
    /// A context for in-process calls and tests: the default account and region.
    pub fn internal(service: &'static str, operation: &str, clock: Arc<Clock>) -> Self {
        RequestContext {
            request_id: crate::request_id(),
            account_id: crate::DEFAULT_ACCOUNT.to_owned(),
            region: crate::DEFAULT_REGION.to_owned(),
            service,
            operation: operation.to_owned(),
            access_key_id: None,
            caller_arn: format!("arn:aws:iam::{}:root", crate::DEFAULT_ACCOUNT),
            source_ip: None,
            host: None,
            clock,
        }
    }
}
