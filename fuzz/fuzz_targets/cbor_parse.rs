//! smithy rpcv2Cbor requests against the CloudWatch model: the first byte picks the
//! operation (`/service/.../operation/<name>`), the rest is the CBOR body. Decoding,
//! shape-driven conversion and validation must reject garbage with a 4xx, never panic.
#![no_main]

use http::{HeaderMap, HeaderValue, Method, Uri, header};
use libfuzzer_sys::fuzz_target;
use nephos_model::Protocol;
use nephos_protocol::HttpRequest;

const OPERATIONS: &[&str] = &[
    "PutMetricData",
    "GetMetricData",
    "GetMetricStatistics",
    "PutMetricAlarm",
    "DescribeAlarms",
    "ListMetrics",
    "PutDashboard",
    "NoSuchOperation",
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let model = nephos_fuzz::model("cloudwatch");
    let op = OPERATIONS[usize::from(pick) % OPERATIONS.len()];
    let Ok(uri) = Uri::try_from(format!(
        "/service/GraniteServiceVersion20100801/operation/{op}"
    )) else {
        return;
    };
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/cbor"),
    );
    headers.insert("smithy-protocol", HeaderValue::from_static("rpc-v2-cbor"));
    let req = HttpRequest {
        method: Method::POST,
        uri,
        headers,
    };
    nephos_fuzz::exercise(
        model,
        nephos_protocol::codec(Protocol::RpcV2Cbor),
        &req,
        body,
    );
});
