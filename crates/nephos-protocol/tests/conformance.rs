//! Input-direction conformance: every `input/*.json` and `legacy/input/*.json` case of the
//! AWS protocol test suites, for every protocol. Each case's `serialized` request must
//! resolve to the case's operation and parse back into its `params`.
//!
//! One test per suite file (`input_rest_json`, `legacy_input_query`, ...), so a protocol's
//! results can be run alone; `NEPHOS_CONFORMANCE=<file stem>` further filters by name.
//! A test fails on every failing case not listed in `tests/skips/<stem>.txt`
//! (`legacy-<stem>.txt` for legacy cases) and on every listed case that now passes.

#[path = "conformance/support.rs"]
mod support;

use base64::Engine;
use futures_util::StreamExt;
use nephos_core::{ByteStream, Value};
use nephos_model::{Protocol, ServiceModel, ShapeType};
use nephos_protocol::{Body, HttpRequest};
use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use support::Case;

/// Skip list entries: case id -> reason.
fn skips(name: &str) -> BTreeMap<String, String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/skips")
        .join(format!("{name}.txt"));
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let l = l.trim();
            if l.is_empty() || l.starts_with('#') {
                return None;
            }
            let (id, reason) = l.split_once('#').unwrap_or((l, ""));
            Some((id.trim().to_owned(), reason.trim().to_owned()))
        })
        .collect()
}

fn request(case: &Case, protocol: Protocol) -> Result<(HttpRequest, bytes::Bytes), String> {
    let ser = &case.case["serialized"];
    let method = ser["method"]
        .as_str()
        .or(case.case["given"]["http"]["method"].as_str())
        .unwrap_or("POST");
    let uri = ser["uri"].as_str().unwrap_or("/");
    let mut headers = http::HeaderMap::new();
    if let Some(h) = ser["headers"].as_object() {
        for (k, v) in h {
            let name = http::HeaderName::from_bytes(k.as_bytes()).map_err(|e| e.to_string())?;
            let value = http::HeaderValue::from_str(v.as_str().unwrap_or_default())
                .map_err(|e| e.to_string())?;
            headers.append(name, value);
        }
    }
    // The suites list only the headers they assert on; every awsJson client sends the
    // target, so add it where a case leaves it out.
    if protocol == Protocol::Json && !headers.contains_key("x-amz-target") {
        let prefix = case.metadata["targetPrefix"].as_str().unwrap_or("");
        if let Ok(v) = http::HeaderValue::from_str(&format!("{prefix}.{}", case.op_name())) {
            headers.insert("x-amz-target", v);
        }
    }
    if let Some(host) = ser["host"].as_str()
        && !headers.contains_key("host")
        && let Ok(v) = http::HeaderValue::from_str(host.split('/').next().unwrap_or(host))
    {
        headers.insert("host", v);
    }
    let body_text = ser["body"].as_str().unwrap_or("");
    let body = if protocol == Protocol::RpcV2Cbor {
        base64::engine::general_purpose::STANDARD
            .decode(body_text)
            .map_err(|e| format!("body is not base64: {e}"))?
            .into()
    } else {
        bytes::Bytes::from(body_text.to_owned())
    };
    if !body.is_empty() && !headers.contains_key("content-length") {
        headers.insert("content-length", body.len().into());
    }
    let req = HttpRequest {
        method: method.parse().map_err(|e| format!("method: {e}"))?,
        uri: uri.parse().map_err(|e| format!("uri {uri}: {e}"))?,
        headers,
    };
    Ok((req, body))
}

fn collect(stream: ByteStream) -> Result<Vec<u8>, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async move {
        let mut s = stream.stream;
        let mut out = Vec::new();
        while let Some(chunk) = s.next().await {
            out.extend_from_slice(&chunk.map_err(|e| e.to_string())?);
        }
        Ok(out)
    })
}

/// Values equal up to float noise, NaN == NaN, and millisecond timestamps.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => {
            (x.is_nan() && y.is_nan()) || x == y || (x - y).abs() <= 1e-9 * x.abs().max(1.0)
        }
        (Value::Timestamp(x), Value::Timestamp(y)) => (x.0 - y.0).abs() < 0.0005,
        (Value::List(x), Value::List(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Map(x), Value::Map(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

/// Header-prefix maps are case-insensitive on the wire; compare their keys lowercased.
fn lower_header_maps(model: &ServiceModel, shape: &str, v: &mut Value) {
    let Value::Map(m) = v else { return };
    for (name, r) in &model.shape(shape).members {
        if r.location.as_deref() == Some("headers")
            && let Some(Value::Map(hm)) = m.get_mut(name)
        {
            *hm = std::mem::take(hm)
                .into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v))
                .collect();
        }
    }
}

/// Clients send nothing for empty lists and maps bound to headers or the query string, so
/// a server cannot tell them from absent members; compare them as absent.
fn drop_empty_bound(model: &ServiceModel, shape: &str, v: &mut Value) {
    let Value::Map(m) = v else { return };
    for (name, r) in &model.shape(shape).members {
        if matches!(
            r.location.as_deref(),
            Some("header" | "headers" | "querystring")
        ) && matches!(m.get(name), Some(Value::List(l)) if l.is_empty())
            | matches!(m.get(name), Some(Value::Map(x)) if x.is_empty())
        {
            m.shift_remove(name);
        }
    }
}

fn run_case(case: &Case) -> Result<(), String> {
    let protocol_name = case.metadata["protocol"].as_str().unwrap_or("");
    let protocol =
        Protocol::from_name(protocol_name).ok_or(format!("unknown protocol {protocol_name}"))?;
    let model = case.model()?;
    let codec = nephos_protocol::codec(protocol);
    let (req, body) = request(case, protocol)?;
    let op = codec
        .resolve(&model, &req, Some(&body))
        .map_err(|e| format!("resolve: {e}"))?;
    let want_op = case.op_name();
    if op.name != want_op {
        return Err(format!("resolved {} instead of {want_op}", op.name));
    }
    let streaming = nephos_protocol::streams_input(&model, op);
    let body = if streaming {
        let len = body.len() as u64;
        Body::Stream(ByteStream::new(
            Some(len),
            futures_util::stream::iter([Ok::<_, std::io::Error>(body)]),
        ))
    } else {
        Body::Full(body)
    };
    let input = codec
        .parse(&model, op, &req, body)
        .map_err(|e| format!("parse: {e}"))?;
    let input_shape = op.input.as_ref().map(|r| r.shape.as_str());
    let mut expected = support::structure_value(&model, input_shape, &case.case["params"]);
    let mut actual = match input.value {
        Value::Null => Value::map(),
        v => v,
    };
    if let Some(shape_name) = input_shape {
        let shape = model.shape(shape_name);
        // The streaming payload travels in `Input.body`.
        if streaming && let Some(payload) = &shape.payload {
            let want = match expected.as_map().and_then(|m| m.get(payload)) {
                Some(Value::Blob(b)) => b.to_vec(),
                _ => Vec::new(),
            };
            if let Value::Map(m) = &mut expected {
                m.shift_remove(payload);
            }
            let got = match input.body {
                Some(s) => collect(s)?,
                None => Vec::new(),
            };
            if got != want {
                return Err(format!(
                    "streaming body {:?} != {:?}",
                    String::from_utf8_lossy(&got),
                    String::from_utf8_lossy(&want)
                ));
            }
        }
        // Idempotency tokens a client fills in are not in `params`.
        if let (Value::Map(e), Value::Map(a)) = (&expected, &mut actual) {
            for (name, r) in &shape.members {
                let is_token = r.idempotency_token
                    || model.target(r).kind == ShapeType::String
                        && shape.members.get(name).is_some_and(|m| m.idempotency_token);
                if is_token && !e.contains_key(name) {
                    a.shift_remove(name);
                }
            }
        }
        drop_empty_bound(&model, shape_name, &mut expected);
        drop_empty_bound(&model, shape_name, &mut actual);
        lower_header_maps(&model, shape_name, &mut expected);
        lower_header_maps(&model, shape_name, &mut actual);
    }
    if same(&expected, &actual) {
        Ok(())
    } else {
        Err(format!(
            "parsed {}\n        expected {}",
            support::show(&actual),
            support::show(&expected)
        ))
    }
}

/// Runs one suite file; `skip_name` names its skip list.
fn run_file(rel: &str, skip_name: &str) {
    if let Ok(filter) = std::env::var("NEPHOS_CONFORMANCE")
        && !filter.split(',').any(|f| skip_name.contains(f.trim()))
    {
        eprintln!("{rel}: filtered out by NEPHOS_CONFORMANCE");
        return;
    }
    let path = support::suites_dir().join(rel);
    let cases = support::load(&path).unwrap_or_else(|e| panic!("cannot read suite: {e}"));
    let skips = skips(skip_name);
    let (mut passed, mut skipped) = (0, 0);
    let mut failures = Vec::new();
    let mut honest = Vec::new();
    for case in &cases {
        let outcome =
            std::panic::catch_unwind(AssertUnwindSafe(|| run_case(case))).unwrap_or_else(|p| {
                let msg = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                Err(format!("panicked: {msg}"))
            });
        match (outcome, skips.contains_key(&case.id)) {
            (Ok(()), false) => passed += 1,
            (Ok(()), true) => honest.push(case.id.clone()),
            (Err(_), true) => skipped += 1,
            (Err(e), false) => {
                let short: String = e.chars().take(600).collect();
                failures.push(format!("  {}: {short}", case.id))
            }
        }
    }
    let unknown: Vec<_> = skips
        .keys()
        .filter(|id| !cases.iter().any(|c| &c.id == *id))
        .cloned()
        .collect();
    println!(
        "{rel}: passed {passed}/{}, failed {}, skipped {skipped}",
        cases.len(),
        failures.len()
    );
    let mut problems = String::new();
    if !failures.is_empty() {
        problems += &format!("failing cases:\n{}\n", failures.join("\n"));
    }
    if !honest.is_empty() {
        problems += &format!(
            "skipped cases that now pass (remove them from tests/skips/{skip_name}.txt): {}\n",
            honest.join(", ")
        );
    }
    if !unknown.is_empty() {
        problems += &format!(
            "tests/skips/{skip_name}.txt lists unknown cases: {}\n",
            unknown.join(", ")
        );
    }
    assert!(problems.is_empty(), "{rel}:\n{problems}");
}

macro_rules! suites {
    ($($test:ident => $rel:literal, $skip:literal;)*) => {
        $(
            #[test]
            fn $test() {
                run_file($rel, $skip);
            }
        )*
    };
}

suites! {
    input_query => "input/query.json", "query";
    input_ec2 => "input/ec2.json", "ec2";
    input_json => "input/json.json", "json";
    input_json_1_0 => "input/json_1_0.json", "json_1_0";
    input_json_1_0_query_compatible => "input/json_1_0-query-compatible.json", "json_1_0-query-compatible";
    input_rest_json => "input/rest-json.json", "rest-json";
    input_rest_xml => "input/rest-xml.json", "rest-xml";
    input_cbor => "input/smithy-rpc-v2-cbor.json", "smithy-rpc-v2-cbor";
    input_cbor_query_compatible => "input/smithy-rpc-v2-cbor-query-compatible.json", "smithy-rpc-v2-cbor-query-compatible";
    input_cbor_non_query_compatible => "input/smithy-rpc-v2-cbor-non-query-compatible.json", "smithy-rpc-v2-cbor-non-query-compatible";
    legacy_input_query => "legacy/input/query.json", "legacy-query";
    legacy_input_ec2 => "legacy/input/ec2.json", "legacy-ec2";
    legacy_input_json => "legacy/input/json.json", "legacy-json";
    legacy_input_rest_json => "legacy/input/rest-json.json", "legacy-rest-json";
    legacy_input_rest_xml => "legacy/input/rest-xml.json", "legacy-rest-xml";
}
