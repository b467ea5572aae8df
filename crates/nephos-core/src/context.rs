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
    /// An unsigned request from the wire: AWS treats it as anonymous, not as any
    /// account's (only resource policies and ACLs can let it in). In-process calls act
    /// for their account and are never anonymous.
    pub anonymous: bool,
    /// The caller's ARN (a root user unless the key belongs to an IAM or STS identity).
    pub caller_arn: String,
    /// The credentials nephos issued (IAM access keys, STS sessions) that signed the
    /// request: the caller's user id and session facts. `None` for account-number keys
    /// and in-process calls.
    pub credential: Option<Arc<crate::Credential>>,
    /// Where the request came from (`aws:SourceIp`).
    pub source_ip: Option<std::net::IpAddr>,
    /// The `Host` the client addressed (`localhost:4566`), for URLs that must route back
    /// to nephos (SQS queue URLs); `None` for in-process calls.
    pub host: Option<String>,
    /// The request line and browser headers as sent, for logs that quote them (S3
    /// server access logs); only S3 requests from the wire carry it.
    pub wire: Option<Arc<WireSummary>>,
    /// The X-Ray trace header the caller sent (`X-Amzn-Trace-Id`), which services pass
    /// on to what they invoke (SQS's `AWSTraceHeader`, SNS deliveries).
    pub trace_header: Option<String>,
    /// Resources the authorizer refused on a request the service answers item by item
    /// (the keys of an S3 DeleteObjects request): the service reports each as a failed
    /// item and goes on with the rest, as AWS does.
    pub refused: Option<Arc<[String]>>,
    pub clock: Arc<Clock>,
}

/// What an access log quotes of a request. Text only: handlers still see no HTTP.
#[derive(Debug, Clone, Default)]
pub struct WireSummary {
    /// `GET /bucket/key?versionId=1 HTTP/1.1`, as the client addressed it.
    pub request_line: String,
    pub user_agent: Option<String>,
    pub referer: Option<String>,
    /// Signed in the query string (a presigned URL), not in an `Authorization` header.
    pub query_signed: bool,
    /// `SigV4` or `SigV2`, when the request is signed.
    pub signature_version: Option<&'static str>,
}

impl RequestContext {
    /// The global condition keys every request has for the policies it meets: the time
    /// on nephos's clock, where it came from, and `aws:SecureTransport`. The last is
    /// `true`: callers reach nephos over the plain HTTP it serves where on AWS their SDKs
    /// use TLS, so a policy refusing insecure transport (CDK's `enforceSSL`) must judge
    /// them as AWS judges the same code there.
    pub fn global_condition_keys(&self) -> Vec<(String, String)> {
        let now = self.clock.now();
        let mut keys = vec![
            ("aws:CurrentTime".to_owned(), now.to_iso8601()),
            ("aws:EpochTime".to_owned(), now.as_secs().to_string()),
            ("aws:SecureTransport".to_owned(), "true".to_owned()),
        ];
        if let Some(ip) = self.source_ip {
            keys.push(("aws:SourceIp".to_owned(), ip.to_string()));
        }
        keys
    }

    /// A context for in-process calls and tests: the default account and region.
    pub fn internal(service: &'static str, operation: &str, clock: Arc<Clock>) -> Self {
        RequestContext {
            request_id: crate::request_id(),
            account_id: crate::DEFAULT_ACCOUNT.to_owned(),
            region: crate::DEFAULT_REGION.to_owned(),
            service,
            operation: operation.to_owned(),
            access_key_id: None,
            anonymous: false,
            caller_arn: format!("arn:aws:iam::{}:root", crate::DEFAULT_ACCOUNT),
            credential: None,
            source_ip: None,
            host: None,
            wire: None,
            trace_header: None,
            refused: None,
            clock,
        }
    }
}
