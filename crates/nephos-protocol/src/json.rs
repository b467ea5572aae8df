//! awsJson 1.0 and 1.1: `POST /` with `X-Amz-Target: <targetPrefix>.<Operation>` and a
//! JSON document of the input; responses are JSON documents, errors
//! `{"__type": code, "message": ...}` with an `X-Amzn-ErrorType` header.
//! Query-compatible services (`awsQueryCompatible`, e.g. SQS) also send
//! `x-amzn-query-error: <query code>;Sender|Receiver`, from which SDKs take the code their
//! query-protocol ancestors used.
//!
//! The JSON reading and writing by shape ([`read`], [`write`], [`read_struct`],
//! [`write_struct`]) is shared with restJson1.

#![allow(clippy::result_large_err)]

use crate::eventstream::{self, PayloadFormat};
use crate::rest::{document_from_json, document_to_json, format_float};
use crate::{Body, Codec, HttpRequest, HttpResponse, ResponseMeta};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use nephos_core::{AwsError, Input, Map, Output, Timestamp, Value};
use nephos_model::{
    Operation, Protocol, ServiceModel, Shape, ShapeRef, ShapeType, TimestampFormat,
};

pub struct JsonCodec;

fn serialization(msg: impl Into<String>) -> AwsError {
    AwsError::new(400, "SerializationException", msg)
}

/// Reads a JSON value of the shape `r` points at. Nulls in structures are absent members;
/// in sparse lists and maps they are kept.
pub fn read(model: &ServiceModel, r: &ShapeRef, j: &serde_json::Value) -> Result<Value, AwsError> {
    let shape = model.target(r);
    if shape.document {
        return Ok(document_from_json(j.clone()));
    }
    if j.is_null() {
        return Ok(Value::Null);
    }
    let wrong = || {
        serialization(format!(
            "Unexpected value {j} for a {:?} ({})",
            shape.kind, r.shape
        ))
    };
    Ok(match shape.kind {
        ShapeType::Structure => {
            let o = j.as_object().ok_or_else(wrong)?;
            Value::Map(read_struct(model, shape, o)?)
        }
        ShapeType::List => {
            let a = j.as_array().ok_or_else(wrong)?;
            let m = shape.member.as_ref().ok_or_else(wrong)?;
            let mut out = Vec::with_capacity(a.len());
            for item in a {
                if item.is_null() && !shape.sparse {
                    continue;
                }
                out.push(read(model, m, item)?);
            }
            Value::List(out)
        }
        ShapeType::Map => {
            let o = j.as_object().ok_or_else(wrong)?;
            let vr = shape.value.as_ref().ok_or_else(wrong)?;
            let mut out = Map::default();
            for (k, v) in o {
                if v.is_null() && !shape.sparse {
                    continue;
                }
                out.insert(k.clone(), read(model, vr, v)?);
            }
            Value::Map(out)
        }
        ShapeType::String | ShapeType::Character => {
            Value::String(j.as_str().ok_or_else(wrong)?.to_owned())
        }
        ShapeType::Integer | ShapeType::Long | ShapeType::Short | ShapeType::Byte => {
            match j.as_i64() {
                Some(i) => Value::Integer(i),
                None => match j.as_f64() {
                    Some(f) if f.fract() == 0.0 && f.abs() < 9.2e18 => Value::Integer(f as i64),
                    _ => return Err(wrong()),
                },
            }
        }
        ShapeType::Float | ShapeType::Double => match j {
            serde_json::Value::Number(n) => Value::Float(n.as_f64().ok_or_else(wrong)?),
            serde_json::Value::String(s) => match s.as_str() {
                "NaN" => Value::Float(f64::NAN),
                "Infinity" => Value::Float(f64::INFINITY),
                "-Infinity" => Value::Float(f64::NEG_INFINITY),
                _ => return Err(wrong()),
            },
            _ => return Err(wrong()),
        },
        ShapeType::Boolean => Value::Bool(j.as_bool().ok_or_else(wrong)?),
        ShapeType::Blob => {
            let s = j.as_str().ok_or_else(wrong)?;
            Value::Blob(B64.decode(s).map_err(|_| wrong())?.into())
        }
        ShapeType::Timestamp => Value::Timestamp(match j {
            serde_json::Value::Number(n) => Timestamp(n.as_f64().ok_or_else(wrong)?),
            serde_json::Value::String(s) => {
                let format =
                    crate::rest::timestamp_format(model, r, TimestampFormat::UnixTimestamp);
                crate::timestamp::parse(s, format)
                    .or_else(|| crate::timestamp::parse_any(s))
                    .ok_or_else(wrong)?
            }
            _ => return Err(wrong()),
        }),
        ShapeType::BigInteger | ShapeType::BigDecimal => match j {
            serde_json::Value::Number(n) => Value::String(n.to_string()),
            serde_json::Value::String(s) => Value::String(s.clone()),
            _ => return Err(wrong()),
        },
    })
}

/// Reads a structure's members from a JSON object, keyed by wire name (`locationName`).
pub fn read_struct(
    model: &ServiceModel,
    shape: &Shape,
    o: &serde_json::Map<String, serde_json::Value>,
) -> Result<Map, AwsError> {
    let mut out = Map::default();
    for (name, r) in &shape.members {
        if r.location.is_some() {
            continue;
        }
        let wire = r.location_name.as_deref().unwrap_or(name);
        if let Some(j) = o.get(wire) {
            let v = read(model, r, j)?;
            if !v.is_null() || model.target(r).document {
                out.insert(name.clone(), v);
            }
        }
    }
    Ok(out)
}

/// Writes a value of the shape `r` points at as JSON.
pub fn write(model: &ServiceModel, r: &ShapeRef, v: &Value) -> serde_json::Value {
    let shape = model.target(r);
    if shape.document {
        return document_to_json(v);
    }
    match (shape.kind, v) {
        (ShapeType::Structure, Value::Map(m)) => {
            serde_json::Value::Object(write_struct(model, shape, m))
        }
        (ShapeType::List, Value::List(items)) => match &shape.member {
            Some(mr) => items.iter().map(|i| write(model, mr, i)).collect(),
            None => serde_json::Value::Array(Vec::new()),
        },
        (ShapeType::Map, Value::Map(m)) => match &shape.value {
            Some(vr) => serde_json::Value::Object(
                m.iter()
                    .filter(|(_, v)| shape.sparse || !v.is_null())
                    .map(|(k, v)| (k.clone(), write(model, vr, v)))
                    .collect(),
            ),
            None => serde_json::Value::Object(Default::default()),
        },
        (_, Value::Timestamp(t)) => {
            match crate::rest::timestamp_format(model, r, TimestampFormat::UnixTimestamp) {
                TimestampFormat::UnixTimestamp => epoch_json(*t),
                f => crate::timestamp::format(*t, f).into(),
            }
        }
        (_, Value::Float(f)) if !f.is_finite() => format_float(*f).into(),
        (ShapeType::BigInteger | ShapeType::BigDecimal, Value::String(s)) => {
            serde_json::from_str::<serde_json::Number>(s)
                .map(serde_json::Value::Number)
                .unwrap_or_else(|_| s.clone().into())
        }
        (ShapeType::Float | ShapeType::Double, Value::Integer(i)) => (*i as f64).into(),
        (_, other) => document_to_json(other),
    }
}

/// Epoch seconds as a JSON number: integral when whole, else with millisecond precision.
fn epoch_json(t: Timestamp) -> serde_json::Value {
    let ms = t.as_millis();
    if ms % 1000 == 0 {
        (ms / 1000).into()
    } else {
        serde_json::Number::from_f64(ms as f64 / 1000.0)
            .map(serde_json::Value::Number)
            .unwrap_or(serde_json::Value::Null)
    }
}

/// Writes a structure's body members (those without an HTTP location) in model order.
pub fn write_struct(
    model: &ServiceModel,
    shape: &Shape,
    m: &Map,
) -> serde_json::Map<String, serde_json::Value> {
    let mut out = serde_json::Map::new();
    for (name, r) in &shape.members {
        if r.location.is_some() {
            continue;
        }
        let Some(v) = m.get(name) else { continue };
        if v.is_null() && !model.target(r).document {
            continue;
        }
        let wire = r.location_name.as_deref().unwrap_or(name);
        out.insert(wire.to_owned(), write(model, r, v));
    }
    out
}

/// Parses a JSON request body into the members of `shape` (empty body = no members).
pub fn parse_body(model: &ServiceModel, shape: &Shape, body: &[u8]) -> Result<Map, AwsError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::default());
    }
    crate::jsonshape::parse_struct(model, shape, body).map_err(|e| {
        serialization(match e.classify() {
            serde_json::error::Category::Data => e.to_string(),
            _ => format!("Malformed JSON request body: {e}"),
        })
    })
}

/// The error shape for `code`, with its name.
pub fn error_shape<'m>(model: &'m ServiceModel, code: &str) -> Option<(&'m str, &'m Shape)> {
    model.error_shape(code)
}

/// An error document: the code under `__type`, the message under the shape's message
/// member name (`message` when the shape has none), and the modelled fields.
pub fn error_body(model: &ServiceModel, type_name: &str, err: &AwsError) -> serde_json::Value {
    let mut body = serde_json::Map::new();
    body.insert("__type".into(), type_name.into());
    let shape = error_shape(model, &err.code).map(|(_, s)| s);
    let message_key = shape
        .and_then(|s| {
            s.members
                .keys()
                .find(|k| k.eq_ignore_ascii_case("message"))
                .map(|k| {
                    let r = &s.members[k];
                    r.location_name.clone().unwrap_or_else(|| k.clone())
                })
        })
        .unwrap_or_else(|| "message".to_owned());
    if !err.message.is_empty() || shape.is_none() {
        body.insert(message_key, err.message.clone().into());
    }
    match shape {
        Some(s) => {
            for (k, v) in write_struct(model, s, &err.fields) {
                body.entry(k).or_insert(v);
            }
        }
        None => {
            for (k, v) in &err.fields {
                body.insert(k.clone(), document_to_json(v));
            }
        }
    }
    serde_json::Value::Object(body)
}

/// Event payloads of awsJson and restJson1: JSON documents of the event's shape.
pub const EVENT_PAYLOADS: PayloadFormat = PayloadFormat {
    content_type: "application/json",
    serialize: event_payload,
};

fn event_payload(model: &ServiceModel, shape: &str, v: &Value) -> bytes::Bytes {
    let r = ShapeRef {
        shape: shape.to_owned(),
        ..Default::default()
    };
    serde_json::to_vec(&write(model, &r, v))
        .unwrap_or_default()
        .into()
}

fn content_type(model: &ServiceModel) -> String {
    format!(
        "application/x-amz-json-{}",
        model.metadata.json_version.as_deref().unwrap_or("1.0")
    )
}

fn base_headers(content_type: &str, meta: ResponseMeta<'_>) -> http::HeaderMap {
    let mut h = http::HeaderMap::new();
    if let Ok(v) = http::HeaderValue::from_str(content_type) {
        h.insert(http::header::CONTENT_TYPE, v);
    }
    if let Ok(v) = http::HeaderValue::from_str(meta.request_id) {
        h.insert(crate::names::X_AMZN_REQUESTID, v);
    }
    h
}

/// Adds the error's own headers (`Retry-After`, ...).
pub fn extra_headers(h: &mut http::HeaderMap, err: &AwsError) {
    for (k, v) in &err.headers {
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::from_bytes(k.as_bytes()),
            http::HeaderValue::from_str(v),
        ) {
            h.append(n, v);
        }
    }
}

fn unknown_operation(target: &str) -> AwsError {
    AwsError::new(
        400,
        "UnknownOperationException",
        if target.is_empty() {
            "Missing required header X-Amz-Target".to_owned()
        } else {
            format!("Unknown operation {target}")
        },
    )
}

impl Codec for JsonCodec {
    fn protocol(&self) -> Protocol {
        Protocol::Json
    }

    fn resolve<'m>(
        &self,
        model: &'m ServiceModel,
        req: &HttpRequest,
        _body: Option<&[u8]>,
    ) -> Result<&'m Operation, AwsError> {
        let target = req
            .headers
            .get(crate::names::X_AMZ_TARGET)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .trim();
        let Some((prefix, name)) = target.rsplit_once('.') else {
            return Err(unknown_operation(target));
        };
        if let Some(expected) = &model.metadata.target_prefix
            && expected != prefix
        {
            return Err(unknown_operation(target));
        }
        model
            .operations
            .get(name)
            .ok_or_else(|| unknown_operation(target))
    }

    fn parse(
        &self,
        model: &ServiceModel,
        op: &Operation,
        _req: &HttpRequest,
        body: Body,
    ) -> Result<Input, AwsError> {
        let Body::Full(bytes) = body else {
            return Err(serialization("awsJson requests cannot stream"));
        };
        let Some(input) = &op.input else {
            return Ok(Input {
                value: Value::map(),
                body: None,
            });
        };
        let members = parse_body(model, model.target(input), &bytes)?;
        Ok(Input {
            value: Value::Map(members),
            body: None,
        })
    }

    fn serialize(
        &self,
        model: &ServiceModel,
        op: &Operation,
        output: Output,
        meta: ResponseMeta<'_>,
    ) -> HttpResponse {
        // An event stream answers with the other output members in an `initial-response`
        // event, then the events (botocore's JSONParser insists on that first event).
        if let Some(r) = &op.output
            && let shape = model.target(r)
            && let Some((name, stream_ref)) = eventstream::stream_member(model, shape)
            && let Some(events) = output.events
        {
            let mut members = match output.value {
                Value::Map(m) => m,
                _ => Map::default(),
            };
            members.shift_remove(name);
            let initial = serde_json::to_vec(&serde_json::Value::Object(write_struct(
                model, shape, &members,
            )))
            .unwrap_or_default();
            let initial = eventstream::event_message(
                "initial-response",
                Some(EVENT_PAYLOADS.content_type),
                initial.into(),
            );
            return HttpResponse {
                status: 200,
                headers: base_headers(eventstream::CONTENT_TYPE, meta),
                body: Body::Stream(eventstream::response_body(
                    model,
                    &stream_ref.shape,
                    Some(initial),
                    events,
                    EVENT_PAYLOADS,
                )),
            };
        }
        let body = match (&op.output, &output.value) {
            (Some(r), Value::Map(m)) => crate::jsonshape::struct_to_vec(model, model.target(r), m),
            _ => b"{}".to_vec(),
        };
        HttpResponse {
            status: 200,
            headers: base_headers(&content_type(model), meta),
            body: Body::Full(body.into()),
        }
    }

    fn serialize_error(
        &self,
        model: &ServiceModel,
        _op: Option<&Operation>,
        err: &AwsError,
        meta: ResponseMeta<'_>,
    ) -> HttpResponse {
        let mut headers = base_headers(&content_type(model), meta);
        let shape = error_shape(model, &err.code);
        let type_name = match (&model.metadata.aws_query_compatible, shape) {
            // Query-compatible services name the shape in `__type` and give the query code in
            // the header (which SDKs prefer).
            (Some(_), Some((name, _))) => name.to_owned(),
            _ => err.code.to_string(),
        };
        if model.metadata.aws_query_compatible.is_some() {
            let query_code = shape
                .and_then(|(_, s)| s.error.as_ref().and_then(|e| e.code.clone()))
                .unwrap_or_else(|| err.code.to_string());
            let fault = if err.sender_fault {
                "Sender"
            } else {
                "Receiver"
            };
            if let Ok(v) = http::HeaderValue::from_str(&format!("{query_code};{fault}")) {
                headers.insert("x-amzn-query-error", v);
            }
        }
        if let Ok(v) = http::HeaderValue::from_str(&type_name) {
            headers.insert("x-amzn-errortype", v);
        }
        extra_headers(&mut headers, err);
        let body = error_body(model, &type_name, err);
        HttpResponse {
            status: err.status,
            headers,
            body: Body::Full(serde_json::to_vec(&body).unwrap_or_default().into()),
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
    fn event_stream_output_starts_with_the_initial_response() {
        let model = fixtures::model("json");
        let op = model.operation("Select").unwrap();
        let out = Output::with_events(Value::map().with("Note", "hello"), fixtures::events());
        let meta = ResponseMeta { request_id: "rid" };
        let resp = JsonCodec.serialize(&model, op, out, meta);
        assert_eq!(resp.status, 200);
        assert_eq!(resp.headers["content-type"], eventstream::CONTENT_TYPE);
        assert_eq!(resp.headers["x-amzn-requestid"], "rid");
        let msgs = collect_messages(resp.body);
        assert_eq!(
            fixtures::str_header(&msgs[0], ":event-type"),
            Some("initial-response")
        );
        assert_eq!(json(&msgs[0].payload), serde_json::json!({"Note": "hello"}));
        let payloads = fixtures::check_events(&msgs[1..], "application/json");
        assert_eq!(json(&payloads[1]), serde_json::json!({"BytesScanned": 10}));
        assert_eq!(json(&payloads[2]), serde_json::json!({"Text": "hi"}));
        assert_eq!(
            json(&payloads[4]),
            serde_json::json!({"Message": "it broke", "Reason": "disk"})
        );

        // Without events the same operation answers a plain JSON document.
        let resp = JsonCodec.serialize(&model, op, Output::new(Value::map()), meta);
        assert_eq!(resp.headers["content-type"], "application/x-amz-json-1.1");
    }
}
