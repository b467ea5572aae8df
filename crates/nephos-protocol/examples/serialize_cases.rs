//! Serializes every output case of one protocol test suite file with nephos's codecs, for
//! the output-direction conformance test (`tests/protocol/test_output_conformance.py`),
//! which parses each response with botocore's own parsers.
//!
//! Usage: `serialize_cases <suite file>`. Prints one JSON line per case:
//! `{"suite", "case", "id", "status", "headers": [[name, value]...], "body_base64"}`, or
//! `{"suite", "case", "id", "failure"}` when serialization panicked or the case could not
//! be built. Cases with a `result` are serialized with `Codec::serialize`; cases with an
//! `error` with `Codec::serialize_error` (code `errorCode`, message `errorMessage`, fields
//! from `error`, status from the error shape's `httpStatusCode`, else 400). Event stream
//! outputs get their events from the `result`'s list under the stream member.

#[path = "../tests/conformance/support.rs"]
mod support;

use base64::Engine;
use futures_util::StreamExt;
use nephos_core::{AwsError, ByteStream, EventStream, Output, Value};
use nephos_model::Protocol;
use nephos_protocol::{Body, HttpResponse, ResponseMeta};
use std::panic::AssertUnwindSafe;
use support::Case;

fn error_of(case: &Case, model: &nephos_model::ServiceModel) -> AwsError {
    let c = &case.case;
    let code = c["errorCode"].as_str().unwrap_or("").to_owned();
    let message = c["errorMessage"]
        .as_str()
        .or(c["error"]["message"].as_str())
        .or(c["error"]["Message"].as_str())
        .unwrap_or("")
        .to_owned();
    let shape = model.error_shape(&code);
    let status = shape
        .and_then(|(_, s)| s.error.as_ref())
        .and_then(|e| e.http_status_code)
        .unwrap_or(400);
    let mut err = AwsError::new(status, code, message);
    if let Some((name, s)) = shape {
        err.sender_fault = s
            .error
            .as_ref()
            .map(|e| e.sender_fault || status < 500)
            .unwrap_or(!s.fault);
        if let Value::Map(fields) = support::structure_value(model, Some(name), &c["error"]) {
            for (k, v) in fields {
                if !k.eq_ignore_ascii_case("message") {
                    err.fields.insert(k, v);
                }
            }
        }
    }
    err
}

/// The events of an event stream output: the case's `result` lists them under the stream
/// member, one `{event member: fields}` each; they leave `result` for `Output.events`.
fn events_of(
    model: &nephos_model::ServiceModel,
    shape: Option<&str>,
    result: &mut serde_json::Value,
) -> Option<EventStream> {
    let out_shape = model.shapes.get(shape?)?;
    let (name, r) = nephos_protocol::eventstream::stream_member(model, out_shape)?;
    let listed = result.as_object_mut()?.remove(name);
    let items = match listed {
        Some(serde_json::Value::Array(items)) => items,
        _ => Vec::new(),
    };
    let events: Vec<Result<Value, AwsError>> = items
        .iter()
        .map(|item| Ok(support::structure_value(model, Some(&r.shape), item)))
        .collect();
    Some(EventStream::new(futures_util::stream::iter(events)))
}

fn output_of(case: &Case, model: &nephos_model::ServiceModel) -> Output {
    let op = model.operations.values().next();
    let shape = op.and_then(|o| o.output.as_ref()).map(|r| r.shape.as_str());
    let mut result = case.case["result"].clone();
    let events = events_of(model, shape, &mut result);
    let mut value = support::structure_value(model, shape, &result);
    let mut body = None;
    if let Some(s) = shape {
        let out_shape = model.shape(s);
        if let Some(payload) = &out_shape.payload
            && let Some(m) = out_shape.members.get(payload)
            && (m.streaming || model.target(m).streaming)
            && model.target(m).kind == nephos_model::ShapeType::Blob
        {
            let bytes = match &mut value {
                Value::Map(map) => match map.shift_remove(payload) {
                    Some(Value::Blob(b)) => b,
                    _ => bytes::Bytes::new(),
                },
                _ => bytes::Bytes::new(),
            };
            body = Some(ByteStream::new(
                Some(bytes.len() as u64),
                futures_util::stream::iter([Ok::<_, std::io::Error>(bytes)]),
            ));
        }
    }
    Output {
        value,
        body,
        events,
        status: None,
    }
}

fn body_bytes(body: Body) -> Result<Vec<u8>, String> {
    match body {
        Body::Full(b) => Ok(b.to_vec()),
        Body::Stream(s) => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .build()
                .map_err(|e| e.to_string())?;
            rt.block_on(async move {
                let mut st = s.stream;
                let mut out = Vec::new();
                while let Some(chunk) = st.next().await {
                    out.extend_from_slice(&chunk.map_err(|e| e.to_string())?);
                }
                Ok(out)
            })
        }
    }
}

fn run(case: &Case) -> Result<HttpResponse, String> {
    let name = case.metadata["protocol"].as_str().unwrap_or("");
    let protocol = Protocol::from_name(name).ok_or(format!("unknown protocol {name}"))?;
    let model = case.model()?;
    let op = model
        .operations
        .values()
        .next()
        .ok_or("suite has no operation")?;
    let codec = nephos_protocol::codec(protocol);
    let meta = ResponseMeta {
        request_id: "00000000-0000-4000-8000-000000000000",
    };
    if case.case.get("error").is_some() {
        let err = error_of(case, &model);
        Ok(codec.serialize_error(&model, Some(op), &err, meta))
    } else {
        let output = output_of(case, &model);
        Ok(codec.serialize(&model, op, output, meta))
    }
}

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: serialize_cases <suite file>");
        std::process::exit(2);
    };
    let cases = match support::load(std::path::Path::new(&path)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    // Placeholder codecs panic; keep the report to the one JSON line per case.
    std::panic::set_hook(Box::new(|_| {}));
    for case in cases.iter().filter(|c| c.case.get("response").is_some()) {
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
            let resp = run(case)?;
            let body = body_bytes(resp.body)?;
            Ok::<_, String>((resp.status, resp.headers, body))
        }))
        .unwrap_or_else(|p| {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            Err(format!("panicked: {msg}"))
        });
        let line = match outcome {
            Ok((status, headers, body)) => serde_json::json!({
                "suite": case.suite,
                "case": case.index,
                "id": case.id,
                "status": status,
                "headers": headers
                    .iter()
                    .map(|(k, v)| vec![
                        k.as_str().to_owned(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    ])
                    .collect::<Vec<_>>(),
                "body_base64": base64::engine::general_purpose::STANDARD.encode(body),
            }),
            Err(e) => serde_json::json!({
                "suite": case.suite,
                "case": case.index,
                "id": case.id,
                "failure": e,
            }),
        };
        println!("{line}");
    }
}
