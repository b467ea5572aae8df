//! restJson1: HTTP bindings ([`crate::rest`]) plus a JSON body — the body members as one
//! JSON object, or the `payload` member alone (raw for blobs and strings, JSON for
//! structures and documents). Streaming blob payloads stay streams in both directions.
//! Errors: the code in `X-Amzn-ErrorType` and the body's `__type`, the status from the
//! error shape. Event stream outputs bind their other members to headers as usual and
//! stream the events as the body ([`crate::eventstream`]).

#![allow(clippy::result_large_err)]

use crate::json::EVENT_PAYLOADS;
use crate::json::{error_body, extra_headers, parse_body, read, write};
use crate::rest::{self, BodyTarget};
use crate::{Body, Codec, HttpRequest, HttpResponse, ResponseMeta};
use nephos_core::{AwsError, ByteStream, Input, Output, Value};
use nephos_model::{Operation, Protocol, ServiceModel, ShapeType};

pub struct RestJsonCodec;

fn serialization(msg: impl Into<String>) -> AwsError {
    AwsError::new(400, "SerializationException", msg)
}

fn set(headers: &mut http::HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = http::HeaderValue::from_str(value) {
        headers.insert(name, v);
    }
}

fn json_bytes(j: &serde_json::Value) -> bytes::Bytes {
    serde_json::to_vec(j).unwrap_or_default().into()
}

impl Codec for RestJsonCodec {
    fn protocol(&self) -> Protocol {
        Protocol::RestJson
    }

    fn resolve<'m>(
        &self,
        model: &'m ServiceModel,
        req: &HttpRequest,
        _body: Option<&[u8]>,
    ) -> Result<&'m Operation, AwsError> {
        rest::resolve(model, req).map(|(op, _)| op).ok_or_else(|| {
            AwsError::new(
                404,
                "UnknownOperationException",
                format!("No operation matches {} {}", req.method, req.uri.path()),
            )
        })
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
                    Body::Full(bytes) if streaming => {
                        let len = bytes.len() as u64;
                        stream = Some(ByteStream::new(
                            Some(len),
                            futures_util::stream::iter([Ok::<_, std::io::Error>(bytes)]),
                        ));
                    }
                    Body::Stream(_) => {
                        return Err(AwsError::internal(
                            "a streamed body reached a non-streaming operation",
                        ));
                    }
                    Body::Full(bytes) if bytes.is_empty() => {}
                    Body::Full(bytes) => {
                        let v = match target.kind {
                            ShapeType::Blob => Value::Blob(bytes),
                            ShapeType::String => Value::String(
                                String::from_utf8(bytes.to_vec())
                                    .map_err(|_| serialization("payload is not UTF-8"))?,
                            ),
                            _ => {
                                let j: serde_json::Value =
                                    serde_json::from_slice(&bytes).map_err(|e| {
                                        serialization(format!("Malformed JSON payload: {e}"))
                                    })?;
                                read(model, r, &j)?
                            }
                        };
                        // An empty object for a structure payload is what clients send
                        // when the member is unset.
                        let unset = v.is_null()
                            || (target.kind == ShapeType::Structure
                                && v.as_map().is_some_and(|m| m.is_empty()));
                        if !unset {
                            value.insert(name.to_owned(), v);
                        }
                    }
                }
            }
            BodyTarget::Members(_) => {
                let Body::Full(bytes) = body else {
                    return Err(AwsError::internal(
                        "a streamed body reached a non-streaming operation",
                    ));
                };
                for (k, v) in parse_body(model, shape, &bytes)? {
                    value.insert(k, v);
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
        set(&mut headers, "x-amzn-requestid", meta.request_id);
        let Some(out_ref) = &op.output else {
            set(&mut headers, "content-type", "application/json");
            return HttpResponse {
                status: op.http.response_code.unwrap_or(200),
                headers,
                body: Body::Full(bytes::Bytes::from_static(b"{}")),
            };
        };
        let shape = model.target(out_ref);
        let mut members = match output.value {
            Value::Map(m) => m,
            _ => Default::default(),
        };
        let status = rest::bind_response(model, Some(op), shape, &mut members, &mut headers);
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
                let streaming = r.streaming || target.streaming;
                if streaming {
                    if !headers.contains_key("content-type") {
                        set(&mut headers, "content-type", "application/octet-stream");
                    }
                    match output.body {
                        Some(s) => Body::Stream(s),
                        None => match members.get(name) {
                            Some(Value::Blob(b)) => Body::Full(b.clone()),
                            _ => Body::Full(bytes::Bytes::new()),
                        },
                    }
                } else {
                    match (target.kind, members.get(name)) {
                        (_, None | Some(Value::Null)) => Body::Full(bytes::Bytes::new()),
                        (ShapeType::Blob, Some(Value::Blob(b))) => {
                            if !headers.contains_key("content-type") {
                                set(&mut headers, "content-type", "application/octet-stream");
                            }
                            Body::Full(b.clone())
                        }
                        (ShapeType::String, Some(Value::String(s))) => {
                            if !headers.contains_key("content-type") {
                                set(&mut headers, "content-type", "text/plain");
                            }
                            Body::Full(s.clone().into())
                        }
                        (_, Some(v)) => {
                            set(&mut headers, "content-type", "application/json");
                            Body::Full(json_bytes(&write(model, r, v)))
                        }
                    }
                }
            }
            BodyTarget::Members(_) => {
                set(&mut headers, "content-type", "application/json");
                Body::Full(crate::jsonshape::struct_to_vec(model, shape, &members).into())
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
        let mut headers = http::HeaderMap::new();
        set(&mut headers, "x-amzn-requestid", meta.request_id);
        set(&mut headers, "content-type", "application/json");
        set(&mut headers, "x-amzn-errortype", &err.code);
        let mut status = err.status;
        let mut err_body = err.clone();
        if let Some((_, shape)) = model.error_shape(&err.code) {
            // Header-bound error members travel as headers, not in the body.
            let mut fields = err.fields.clone();
            let mut h = http::HeaderMap::new();
            let bound = rest::bind_response(model, None, shape, &mut fields, &mut h);
            if bound != 200 {
                status = bound;
            }
            headers.extend(h);
            err_body.fields = fields;
        }
        extra_headers(&mut headers, err);
        HttpResponse {
            status,
            headers,
            body: Body::Full(json_bytes(&error_body(model, &err.code, &err_body))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eventstream::{collect_messages, fixtures};

    fn json(b: &[u8]) -> serde_json::Value {
        serde_json::from_slice(b).unwrap()
    }

    #[test]
    fn event_stream_output_binds_headers_and_streams_events() {
        let model = fixtures::model("rest-json");
        let op = model.operation("Select").unwrap();
        let out = Output::with_events(
            Value::map().with("Charged", "requester"),
            fixtures::events(),
        );
        let meta = ResponseMeta { request_id: "rid" };
        let resp = RestJsonCodec.serialize(&model, op, out, meta);
        assert_eq!(resp.status, 200);
        assert_eq!(
            resp.headers["content-type"],
            crate::eventstream::CONTENT_TYPE
        );
        assert_eq!(resp.headers["x-amz-request-charged"], "requester");
        let msgs = collect_messages(resp.body);
        let payloads = fixtures::check_events(&msgs, "application/json");
        assert_eq!(json(&payloads[1]), serde_json::json!({"BytesScanned": 10}));
        assert_eq!(json(&payloads[2]), serde_json::json!({"Text": "hi"}));
        assert_eq!(
            json(&payloads[4]),
            serde_json::json!({"Message": "it broke", "Reason": "disk"})
        );
    }
}
