//! awsJson 1.0 bodies against the DynamoDB model: the first byte picks the operation
//! (`X-Amz-Target`), the rest is the JSON body. Attribute values, nested maps and lists,
//! blobs and validation must reject garbage with a 4xx, never panic.
#![no_main]

use http::{HeaderMap, HeaderValue, Method, Uri, header};
use libfuzzer_sys::fuzz_target;
use nephos_model::Protocol;
use nephos_protocol::HttpRequest;

const OPERATIONS: &[&str] = &[
    "GetItem",
    "PutItem",
    "UpdateItem",
    "Query",
    "Scan",
    "BatchWriteItem",
    "BatchGetItem",
    "TransactWriteItems",
    "CreateTable",
    "ExecuteStatement",
    // A name the model lacks, so unknown-operation errors are exercised too.
    "NoSuchOperation",
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let model = nephos_fuzz::model("dynamodb");
    let op = OPERATIONS[usize::from(pick) % OPERATIONS.len()];
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-amz-json-1.0"),
    );
    let Ok(target) = HeaderValue::try_from(format!("DynamoDB_20120810.{op}")) else {
        return;
    };
    headers.insert("x-amz-target", target);
    let req = HttpRequest {
        method: Method::POST,
        uri: Uri::from_static("/"),
        headers,
    };
    nephos_fuzz::exercise(model, nephos_protocol::codec(Protocol::Json), &req, body);
});
