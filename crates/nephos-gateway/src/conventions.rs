//! Wire conventions of particular services that their models do not express: how old
//! clients address SQS queues, SQS's and the query protocol's own error wordings, the
//! trailer that declares an upload's checksum, and what S3's access logs quote.

use http::HeaderMap;
use nephos_core::AwsError;
use nephos_model::{Protocol, ServiceModel};
use nephos_protocol::HttpRequest;
use std::sync::Arc;

/// The request line and browser headers of a request, as an access log quotes them.
pub fn wire_summary(req: &HttpRequest, version: http::Version) -> Arc<nephos_core::WireSummary> {
    let text = |name: http::HeaderName| {
        req.headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    };
    let target = req
        .uri
        .path_and_query()
        .map_or_else(|| req.uri.path(), |pq| pq.as_str());
    let in_query = |name: &str| {
        req.uri
            .query()
            .is_some_and(|q| q.split('&').any(|kv| kv.split('=').next() == Some(name)))
    };
    let authorization = req
        .headers
        .get(http::header::AUTHORIZATION)
        .map(|v| v.as_bytes());
    let query_signed = in_query("X-Amz-Signature") || in_query("Signature");
    let signature_version = match authorization {
        Some(a) if a.starts_with(b"AWS4-") => Some("SigV4"),
        Some(a) if a.starts_with(b"AWS ") => Some("SigV2"),
        _ if in_query("X-Amz-Signature") => Some("SigV4"),
        _ if in_query("Signature") => Some("SigV2"),
        _ => None,
    };
    let version = match version {
        http::Version::HTTP_10 => "HTTP/1.0",
        http::Version::HTTP_2 => "HTTP/2.0",
        _ => "HTTP/1.1",
    };
    let method = req.method.as_str();
    let mut request_line = String::with_capacity(method.len() + target.len() + 10);
    for piece in [method, " ", target, " ", version] {
        request_line.push_str(piece);
    }
    Arc::new(nephos_core::WireSummary {
        request_line,
        user_agent: text(http::header::USER_AGENT),
        referer: text(http::header::REFERER),
        query_signed,
        signature_version,
    })
}

/// An aws-chunked body whose checksum comes as a trailer declares it up front in
/// `x-amz-trailer`; the handler must know it before the body arrives to compute it, as
/// it would from `x-amz-sdk-checksum-algorithm` (which the AWS CRT leaves out).
pub fn declared_trailer_checksum(
    model: &ServiceModel,
    op: &nephos_model::Operation,
    headers: &HeaderMap,
    value: &mut nephos_core::Value,
) {
    let Some(algorithm) = headers
        .get("x-amz-trailer")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.trim().strip_prefix("x-amz-checksum-"))
    else {
        return;
    };
    let takes_it = op.input.as_ref().is_some_and(|i| {
        model
            .shape(&i.shape)
            .members
            .contains_key("ChecksumAlgorithm")
    });
    if takes_it && value.get("ChecksumAlgorithm").is_none() {
        if value.is_null() {
            *value = nephos_core::Value::map();
        }
        value.insert("ChecksumAlgorithm", algorithm.to_ascii_uppercase());
    }
}

/// A model constraint violation as the service reports it: CloudWatch Logs calls it
/// `InvalidParameterException` (its own `ValidationException` means something else, a
/// log group under deletion protection).
pub fn model_violation(model: &ServiceModel, mut e: AwsError) -> AwsError {
    if e.code == "ValidationException" && model.metadata.endpoint_prefix == "logs" {
        e.code = "InvalidParameterException".into();
    }
    e
}

/// Whether a model violation is one the service checks itself, in its own words: Lambda
/// answers an unknown `Runtime` with InvalidParameterValueException naming the runtimes it
/// still accepts (the model's enum lists retired ones too).
pub fn checked_by_handler(model: &ServiceModel, e: &AwsError) -> bool {
    model.metadata.endpoint_prefix == "lambda"
        && e.message
            .starts_with("1 validation error detected: Value '")
        && e.message.contains(
            "' at 'runtime' failed to satisfy constraint: Member must satisfy enum value set:",
        )
}

/// The generic input error is spelled differently by query-protocol services.
pub fn query_compatible_code(
    model: &ServiceModel,
    protocol: Protocol,
    mut e: AwsError,
) -> AwsError {
    if e.code == "ValidationException"
        && protocol == Protocol::Query
        && model.metadata.aws_query_compatible.is_none()
    {
        e.code = "ValidationError".into();
    }
    // SQS's query API still words a missing queue as its WSDL-era API did.
    if protocol == Protocol::Query
        && model.metadata.endpoint_prefix == "sqs"
        && e.code == "QueueDoesNotExist"
    {
        e.message = "The specified queue does not exist for this wsdl version.".into();
    }
    e
}

/// SQS answers a missing required parameter with its own `MissingParameter`, naming it.
pub fn sqs_required_members(
    value: &nephos_core::Value,
    op: &nephos_model::Operation,
    model: &ServiceModel,
) -> Result<(), AwsError> {
    let Some(input) = &op.input else {
        return Ok(());
    };
    for name in &model.shape(&input.shape).required {
        if value.get(name).is_none_or(|v| v.is_null()) {
            return Err(AwsError::new(
                400,
                "MissingParameter",
                format!("The request must contain the parameter {name}."),
            ));
        }
    }
    Ok(())
}

/// Older SQS clients send query requests to the queue URL itself and leave `QueueUrl`
/// out of the form: the path (`/<account>/<name>`) names the queue. An action that takes
/// no queue (CreateQueue, ListQueues) is not valid at a queue's URL.
pub fn queue_url_from_path(
    value: &mut nephos_core::Value,
    op: &nephos_model::Operation,
    model: &ServiceModel,
    req: &HttpRequest,
    host: Option<&str>,
) -> Result<(), AwsError> {
    let takes_url = op
        .input
        .as_ref()
        .is_some_and(|i| model.shape(&i.shape).members.contains_key("QueueUrl"));
    let segments: Vec<&str> = req
        .uri
        .path()
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let queue_path =
        segments.len() >= 2 && nephos_core::is_account_id(segments[segments.len() - 2]);
    if queue_path && matches!(op.name.as_str(), "CreateQueue" | "ListQueues") {
        return Err(AwsError::new(
            400,
            "InvalidAction",
            format!("The action {} is not valid for this endpoint.", op.name),
        ));
    }
    if value.get("QueueUrl").is_some() {
        return Ok(());
    }
    if takes_url && queue_path {
        let url = format!("http://{}{}", host.unwrap_or("localhost"), req.uri.path());
        if value.is_null() {
            *value = nephos_core::Value::map();
        }
        value.insert("QueueUrl", url);
    }
    Ok(())
}

pub fn find_action(query: Option<&str>, form: Option<&[u8]>) -> Option<String> {
    let from = |bytes: &[u8]| {
        form_urlencoded::parse(bytes)
            .find(|(k, _)| k == "Action")
            .map(|(_, v)| v.into_owned())
    };
    form.and_then(from)
        .or_else(|| query.and_then(|q| from(q.as_bytes())))
}
