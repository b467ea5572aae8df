//! The restXml protocol ([`RestXmlCodec`]): S3, Route 53, CloudFront.
//!
//! HTTP bindings (URI labels, query strings, headers, status codes) come from [`rest`];
//! this file handles the body. A `payload` member is the whole body: raw for blobs and
//! strings (streaming blobs stay a stream), an XML document rooted at the member's element
//! for structures. Otherwise the unbound members form one XML document rooted at the
//! structure's `locationName`. Errors are S3's bare `<Error>` for S3, and
//! `<ErrorResponse><Error><Type/>..</Error><RequestId/></ErrorResponse>` for the others.
//! Event stream outputs (S3 SelectObjectContent) bind their other members to headers and
//! stream the events as the body, with XML event payloads ([`crate::eventstream`]).

// `AwsError` is the crate-wide error of the `Codec` trait.
#![allow(clippy::result_large_err)]

use crate::eventstream::PayloadFormat;
use crate::query::{add_headers, wire_error, write_error_fields};
use crate::rest::{self, BodyTarget};
use crate::xml::{self, XmlWriter};
use crate::{Body, Codec, HttpRequest, HttpResponse, ResponseMeta};
use bytes::Bytes;
use nephos_core::{AwsError, ByteStream, Input, Output, Value};
use nephos_model::{Operation, Protocol, ServiceModel, Shape, ShapeRef, ShapeType};

pub struct RestXmlCodec;

/// S3 frames errors and request ids its own way.
fn is_s3(model: &ServiceModel) -> bool {
    matches!(model.metadata.endpoint_prefix.as_str(), "s3" | "s3-control")
        || model.metadata.signing_name.as_deref() == Some("s3")
}

fn malformed_xml(detail: &str) -> AwsError {
    AwsError::new(
        400,
        "MalformedXML",
        format!(
            "The XML you provided was not well-formed or did not validate against our published schema ({detail})"
        ),
    )
}

fn parse_xml(body: &[u8]) -> Result<xml::Element, AwsError> {
    xml::parse_document(body).map_err(|e| malformed_xml(&e.0))
}

/// S3 keeps whole seconds and writes every timestamp in its documents with three zero
/// decimals (`2023-11-15T12:02:40.000Z`); clients written against it parse exactly that.
fn s3_timestamps(v: &mut Value) {
    match v {
        Value::Timestamp(t) => {
            let whole = nephos_core::Timestamp(t.0.floor()).to_iso8601();
            *v = Value::String(format!("{}.000Z", whole.trim_end_matches('Z')));
        }
        Value::List(items) => items.iter_mut().for_each(s3_timestamps),
        Value::Map(m) => m.values_mut().for_each(s3_timestamps),
        _ => {}
    }
}

/// The namespace of the root element: the shape's, else S3's well-known one.
fn root_namespace(
    model: &ServiceModel,
    r: Option<&ShapeRef>,
    shape: &Shape,
) -> Vec<(String, String)> {
    if let Some(ns) = r
        .and_then(|r| r.xml_namespace.as_ref())
        .or(shape.xml_namespace.as_ref())
    {
        return vec![xml::namespace_attr(ns)];
    }
    match &model.metadata.xml_namespace {
        Some(ns) => vec![("xmlns".to_owned(), ns.clone())],
        None if model.metadata.endpoint_prefix == "s3" => vec![(
            "xmlns".to_owned(),
            "http://s3.amazonaws.com/doc/2006-03-01/".to_owned(),
        )],
        None => Vec::new(),
    }
}

/// Event payloads of restXml: an XML document rooted at the shape's element name.
const EVENT_PAYLOADS: PayloadFormat = PayloadFormat {
    content_type: "text/xml",
    serialize: event_payload,
};

fn event_payload(model: &ServiceModel, shape_name: &str, v: &Value) -> Bytes {
    let Some(shape) = model.shapes.get(shape_name) else {
        return Bytes::new();
    };
    let root = shape.location_name.as_deref().unwrap_or(shape_name);
    let mut w = XmlWriter::new();
    w.open(root, &xml::struct_attributes(model, shape, v));
    xml::write_members(&mut w, model, shape, v);
    w.close(root);
    Bytes::from(w.finish())
}

impl Codec for RestXmlCodec {
    fn protocol(&self) -> Protocol {
        Protocol::RestXml
    }

    fn resolve<'m>(
        &self,
        model: &'m ServiceModel,
        req: &HttpRequest,
        _body: Option<&[u8]>,
    ) -> Result<&'m Operation, AwsError> {
        match rest::resolve(model, req) {
            Some((op, _)) => Ok(op),
            None if rest::router(model).path_matches(req) => Err(AwsError::new(
                405,
                "MethodNotAllowed",
                "The specified method is not allowed against this resource.",
            )),
            None => Err(AwsError::new(
                404,
                "NotFound",
                "The requested resource does not exist.",
            )),
        }
    }

    fn parse(
        &self,
        model: &ServiceModel,
        op: &Operation,
        req: &HttpRequest,
        body: Body,
    ) -> Result<Input, AwsError> {
        let Some(input) = &op.input else {
            return Ok(Input {
                value: Value::map(),
                body: None,
            });
        };
        let shape = model.target(input);
        let labels = rest::router(model).labels_for(op, req);
        let mut value = rest::bind_request(model, shape, &labels, req)?;
        let mut stream = None;
        match rest::body_target(shape) {
            BodyTarget::Payload(name, r) => {
                let target = model.target(r);
                let streaming = r.streaming || target.streaming;
                match body {
                    Body::Stream(s) if streaming => stream = Some(s),
                    Body::Stream(_) => {
                        return Err(AwsError::internal(
                            "non-streaming rest-xml payload was not collected",
                        ));
                    }
                    Body::Full(bytes) if streaming => {
                        let len = bytes.len() as u64;
                        stream = Some(ByteStream::new(
                            Some(len),
                            futures_util::stream::iter([Ok::<_, std::io::Error>(bytes)]),
                        ));
                    }
                    Body::Full(bytes) if bytes.is_empty() => {}
                    Body::Full(bytes) => match target.kind {
                        ShapeType::Blob => {
                            value.insert(name.to_owned(), Value::Blob(bytes));
                        }
                        ShapeType::String => {
                            let text = String::from_utf8(bytes.to_vec()).map_err(|_| {
                                AwsError::new(400, "InvalidArgument", "The body is not UTF-8.")
                            })?;
                            value.insert(name.to_owned(), Value::String(text));
                        }
                        _ => {
                            let root = parse_xml(&bytes)?;
                            let v = xml::read_value(model, r, &root)
                                .map_err(|e| malformed_xml(&e.0))?;
                            value.insert(name.to_owned(), v);
                        }
                    },
                }
            }
            BodyTarget::Members(members) => {
                let bytes = match body {
                    Body::Full(b) => b,
                    Body::Stream(_) => {
                        return Err(AwsError::internal("rest-xml body was not collected"));
                    }
                };
                if !members.is_empty() && !bytes.iter().all(u8::is_ascii_whitespace) {
                    let root = parse_xml(&bytes)?;
                    let parsed =
                        xml::read_members(model, shape, &root).map_err(|e| malformed_xml(&e.0))?;
                    value.extend(parsed);
                }
            }
        }
        Ok(Input {
            value: Value::Map(value),
            body: stream,
        })
    }

    fn serialize(
        &self,
        model: &ServiceModel,
        op: &Operation,
        mut output: Output,
        meta: ResponseMeta<'_>,
    ) -> HttpResponse {
        let mut headers = http::HeaderMap::new();
        request_id_headers(model, &mut headers, meta.request_id);
        let Some(out) = &op.output else {
            return HttpResponse {
                status: output.status.or(op.http.response_code).unwrap_or(200),
                headers,
                body: Body::Full(Bytes::new()),
            };
        };
        let shape = model.target(out);
        let mut value = match output.value {
            Value::Map(m) => m,
            _ => Default::default(),
        };
        let status = rest::bind_response(model, Some(op), shape, &mut value, &mut headers);
        let status = output.status.unwrap_or(status);
        if model.metadata.endpoint_prefix == "s3" {
            for v in value.values_mut() {
                s3_timestamps(v);
            }
        }
        if let Some(resp) = rest::event_stream_response(
            model,
            shape,
            status,
            &mut headers,
            &mut output.events,
            EVENT_PAYLOADS,
        ) {
            return resp;
        }
        let body = match rest::body_target(shape) {
            BodyTarget::Payload(name, r) => {
                let target = model.target(r);
                match (output.body, value.get(name)) {
                    (Some(stream), _) => Body::Stream(stream),
                    (None, None | Some(Value::Null)) => Body::Full(Bytes::new()),
                    (None, Some(v)) => match target.kind {
                        ShapeType::Blob | ShapeType::String => Body::Full(match v {
                            Value::Blob(b) => b.clone(),
                            Value::String(s) => Bytes::from(s.clone().into_bytes()),
                            _ => Bytes::new(),
                        }),
                        _ => {
                            let mut w = XmlWriter::new();
                            if is_s3(model) {
                                w.declaration();
                            }
                            let root = r
                                .location_name
                                .as_deref()
                                .or(target.location_name.as_deref())
                                .unwrap_or(&r.shape);
                            let mut attrs = root_namespace(model, Some(r), target);
                            attrs.extend(xml::struct_attributes(model, target, v));
                            w.open(root, &attrs);
                            xml::write_members(&mut w, model, target, v);
                            w.close(root);
                            set_xml_type(&mut headers);
                            Body::Full(Bytes::from(w.finish()))
                        }
                    },
                }
            }
            BodyTarget::Members(members) => {
                // What bind_response left are body members (uri/querystring ones too:
                // responses have neither, and botocore reads them from the body). A shape
                // with body members is answered with its document even when none is set
                // (`<VersioningConfiguration/>`, a quiet `<DeleteResult/>`), as AWS does.
                let present = value
                    .iter()
                    .any(|(k, v)| !v.is_null() && shape.members.contains_key(k));
                if present || !members.is_empty() {
                    let v = Value::Map(value);
                    let mut w = XmlWriter::new();
                    if is_s3(model) {
                        w.declaration();
                    }
                    let root = shape.location_name.as_deref().unwrap_or(&out.shape);
                    let mut attrs = root_namespace(model, Some(out), shape);
                    attrs.extend(xml::struct_attributes(model, shape, &v));
                    w.open(root, &attrs);
                    xml::write_members(&mut w, model, shape, &v);
                    w.close(root);
                    set_xml_type(&mut headers);
                    Body::Full(Bytes::from(w.finish()))
                } else {
                    Body::Full(Bytes::new())
                }
            }
        };
        HttpResponse {
            status,
            headers,
            body,
        }
    }

    fn serialize_error(
        &self,
        model: &ServiceModel,
        _op: Option<&Operation>,
        err: &AwsError,
        meta: ResponseMeta<'_>,
    ) -> HttpResponse {
        let (code, status, sender, shape) = wire_error(model, err, false);
        let mut headers = http::HeaderMap::new();
        request_id_headers(model, &mut headers, meta.request_id);
        // Error members bound to headers go there; the rest into the XML.
        let mut fields = err.fields.clone();
        if let Some(shape) = shape {
            rest::bind_response(model, None, shape, &mut fields, &mut headers);
        }
        let body_err = AwsError {
            fields,
            ..err.clone()
        };
        let mut w = XmlWriter::new();
        if is_s3(model) {
            w.declaration();
            w.open("Error", &[]);
            w.leaf("Code", &[], &code);
            w.leaf("Message", &[], &err.message);
            write_error_fields(&mut w, model, shape, &body_err);
            write_undeclared_fields(&mut w, shape, &body_err);
            w.leaf("RequestId", &[], meta.request_id);
            w.leaf("HostId", &[], &host_id(meta.request_id));
            w.close("Error");
        } else {
            let ns: Vec<(String, String)> = model
                .metadata
                .xml_namespace
                .iter()
                .map(|n| ("xmlns".to_owned(), n.clone()))
                .collect();
            w.open("ErrorResponse", &ns);
            w.open("Error", &[]);
            w.leaf("Type", &[], if sender { "Sender" } else { "Receiver" });
            w.leaf("Code", &[], &code);
            w.leaf("Message", &[], &err.message);
            write_error_fields(&mut w, model, shape, &body_err);
            w.close("Error");
            w.leaf("RequestId", &[], meta.request_id);
            w.close("ErrorResponse");
        }
        set_xml_type(&mut headers);
        let mut resp = HttpResponse {
            status,
            headers,
            body: Body::Full(Bytes::from(w.finish())),
        };
        add_headers(&mut resp, err);
        resp
    }
}

/// S3 errors carry context the model does not declare (`<BucketName>`, `<Key>`,
/// `<Condition>`, `<ArgumentName>`, ...): scalar fields outside the error's shape are
/// written as plain elements, in the order the handler added them.
fn write_undeclared_fields(w: &mut XmlWriter, shape: Option<&Shape>, err: &AwsError) {
    for (name, value) in &err.fields {
        if name.eq_ignore_ascii_case("message")
            || shape.is_some_and(|s| s.members.contains_key(name))
        {
            continue;
        }
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Integer(i) => i.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Float(f) => f.to_string(),
            _ => continue,
        };
        w.leaf(name, &[], &text);
    }
}

fn set_xml_type(headers: &mut http::HeaderMap) {
    if !headers.contains_key(http::header::CONTENT_TYPE) {
        headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/xml"),
        );
    }
}

/// S3's `x-amz-id-2` is an opaque base64 token; derive a stable one from the request id.
fn host_id(request_id: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(request_id.as_bytes())
}

fn request_id_headers(model: &ServiceModel, headers: &mut http::HeaderMap, request_id: &str) {
    if let Ok(v) = http::HeaderValue::from_str(request_id) {
        if is_s3(model) {
            headers.insert(crate::names::X_AMZ_REQUEST_ID, v);
            if let Ok(h) = http::HeaderValue::from_str(&host_id(request_id)) {
                headers.insert(crate::names::X_AMZ_ID_2, h);
            }
        } else {
            headers.insert(crate::names::X_AMZN_REQUESTID, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eventstream::{collect_messages, fixtures};

    #[test]
    fn event_stream_output_has_xml_event_payloads() {
        let model = fixtures::model("rest-xml");
        let op = model.operation("Select").unwrap();
        let out = Output::with_events(
            Value::map().with("Charged", "requester"),
            fixtures::events(),
        );
        let resp = RestXmlCodec.serialize(&model, op, out, ResponseMeta { request_id: "rid" });
        assert_eq!(resp.status, 200);
        assert_eq!(
            resp.headers["content-type"],
            crate::eventstream::CONTENT_TYPE
        );
        assert_eq!(resp.headers["x-amz-request-charged"], "requester");
        let msgs = collect_messages(resp.body);
        let payloads = fixtures::check_events(&msgs, "text/xml");
        assert_eq!(
            payloads[1].as_ref(),
            b"<Stats><BytesScanned>10</BytesScanned></Stats>"
        );
        assert_eq!(
            payloads[2].as_ref(),
            b"<NoteEvent><Text>hi</Text></NoteEvent>"
        );
        assert_eq!(
            payloads[4].as_ref(),
            b"<BoomException><Message>it broke</Message><Reason>disk</Reason></BoomException>"
        );
    }
}
