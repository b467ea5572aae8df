//! The AWS wire protocols, generic over the service models.
//!
//! One codec per protocol walks the model's shapes at run time: it resolves which operation
//! a request calls, parses the request into a [`Value`](nephos_core::Value), and serializes
//! an output or an [`AwsError`] back into that protocol's HTTP response. Nothing here knows
//! any particular service; everything service-specific comes from the model.
//!
//! | module | protocol |
//! |---|---|
//! | [`query`] | awsQuery (form-encoded requests, XML responses) |
//! | [`ec2`] | ec2Query |
//! | [`json`] | awsJson 1.0 and 1.1 (incl. query-compatible errors) |
//! | [`restjson`] | restJson1 |
//! | [`restxml`] | restXml |
//! | [`cbor`] | smithy rpcv2Cbor |
//!
//! Shared parts: [`rest`] (HTTP bindings: URI templates, headers, query strings, status
//! codes), [`xml`] (XML reading and writing by shape), [`eventstream`] (the
//! `application/vnd.amazon.eventstream` framing), [`validate`] (model constraints) and
//! [`timestamp`] (the three timestamp formats).

pub mod cbor;
pub mod ec2;
pub mod eventstream;
pub mod json;
pub mod jsonshape;
pub mod names;
pub mod query;
pub mod rest;
pub mod restjson;
pub mod restxml;
pub mod timestamp;
pub mod validate;
pub mod xml;

use bytes::Bytes;
use nephos_core::{AwsError, ByteStream, Input, Output};
use nephos_model::{Operation, Protocol, ServiceModel};

/// The parts of an HTTP request a codec reads. The URI is exactly as received (raw,
/// percent-encoded path and query), since S3 keys and SigV4 depend on the raw form.
#[derive(Debug, Clone)]
pub struct HttpRequest {
    pub method: http::Method,
    pub uri: http::Uri,
    pub headers: http::HeaderMap,
}

/// A request body: collected whole, or left streaming for operations whose model streams
/// the payload (the gateway decides with [`streams_input`]).
#[derive(Debug)]
pub enum Body {
    Full(Bytes),
    Stream(ByteStream),
}

/// A serialized response, ready for the HTTP layer.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Body,
}

/// What a codec needs to know about the response besides the output itself.
#[derive(Debug, Clone, Copy)]
pub struct ResponseMeta<'a> {
    pub request_id: &'a str,
}

/// One AWS protocol's request parsing and response serialization.
pub trait Codec: Sync {
    fn protocol(&self) -> Protocol;

    /// The operation this request calls, found the way the protocol addresses operations
    /// (`Action=`, `X-Amz-Target`, method + URI template, `/service/S/operation/O`).
    /// An unknown operation is an error in the protocol's own terms.
    ///
    /// `body` is the collected body when the caller has it: the query protocols name the
    /// operation in a form-encoded body (`Action=`), which the gateway always collects.
    fn resolve<'m>(
        &self,
        model: &'m ServiceModel,
        req: &HttpRequest,
        body: Option<&[u8]>,
    ) -> Result<&'m Operation, AwsError>;

    /// Parses the request into the operation's input. Malformed input is a client error in
    /// the protocol's own terms; model constraints are checked afterwards by [`validate`].
    fn parse(
        &self,
        model: &ServiceModel,
        op: &Operation,
        req: &HttpRequest,
        body: Body,
    ) -> Result<Input, AwsError>;

    /// Serializes a successful output.
    fn serialize(
        &self,
        model: &ServiceModel,
        op: &Operation,
        output: Output,
        meta: ResponseMeta<'_>,
    ) -> HttpResponse;

    /// Serializes an error; `op` is `None` when the request never resolved to an operation.
    fn serialize_error(
        &self,
        model: &ServiceModel,
        op: Option<&Operation>,
        err: &AwsError,
        meta: ResponseMeta<'_>,
    ) -> HttpResponse;
}

/// The codec of a protocol.
pub fn codec(protocol: Protocol) -> &'static dyn Codec {
    match protocol {
        Protocol::Query => &query::QueryCodec,
        Protocol::Ec2 => &ec2::Ec2Codec,
        Protocol::Json => &json::JsonCodec,
        Protocol::RestJson => &restjson::RestJsonCodec,
        Protocol::RestXml => &restxml::RestXmlCodec,
        Protocol::RpcV2Cbor => &cbor::CborCodec,
    }
}

/// Which of a service's protocols a request speaks. Services may list several
/// (CloudWatch: cbor, json, query), and query-compatible JSON services (SQS) still answer
/// the query requests of older SDKs.
pub fn detect(model: &ServiceModel, req: &HttpRequest) -> Protocol {
    let protocols = model.protocols();
    let header = |name: http::HeaderName| {
        req.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let content_type = header(http::header::CONTENT_TYPE);
    let has = |p: Protocol| protocols.contains(&p);
    if has(Protocol::RpcV2Cbor)
        && (!header(crate::names::SMITHY_PROTOCOL).is_empty() || content_type == "application/cbor")
    {
        return Protocol::RpcV2Cbor;
    }
    if has(Protocol::Json) && !header(crate::names::X_AMZ_TARGET).is_empty() {
        return Protocol::Json;
    }
    let query_allowed = has(Protocol::Query) || model.metadata.aws_query_compatible.is_some();
    if query_allowed
        && (content_type.starts_with("application/x-www-form-urlencoded")
            || req.uri.query().is_some_and(|q| q.contains("Action=")))
    {
        return Protocol::Query;
    }
    // A query-compatible JSON service (SQS) takes a request that is not JSON for its query
    // API, which answers one without an Action as AWS does (404 UnknownOperationException).
    if !has(Protocol::Query)
        && model.metadata.aws_query_compatible.is_some()
        && !content_type.starts_with("application/x-amz-json")
    {
        return Protocol::Query;
    }
    protocols.first().copied().unwrap_or(Protocol::Json)
}

/// Whether an operation's input payload streams (S3 PutObject), so the gateway must not
/// collect the body first.
pub fn streams_input(model: &ServiceModel, op: &Operation) -> bool {
    let Some(input) = &op.input else { return false };
    let shape = model.target(input);
    let Some(payload) = &shape.payload else {
        return false;
    };
    let Some(member) = shape.members.get(payload) else {
        return false;
    };
    member.streaming || model.target(member).streaming
}
