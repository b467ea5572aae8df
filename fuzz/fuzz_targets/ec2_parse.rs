//! Form-encoded ec2Query bodies against the EC2 model (the biggest one, with
//! EC2's own list naming): operation resolution from `Action=`,
//! the form reader (nested `member.N`, `entry.N.key`) and validation must reject garbage
//! with a 4xx, never panic.
#![no_main]

use http::{HeaderMap, HeaderValue, Method, Uri, header};
use libfuzzer_sys::fuzz_target;
use nephos_model::Protocol;
use nephos_protocol::HttpRequest;

fuzz_target!(|data: &[u8]| {
    let model = nephos_fuzz::model("ec2");
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-www-form-urlencoded; charset=utf-8"),
    );
    let req = HttpRequest {
        method: Method::POST,
        uri: Uri::from_static("/"),
        headers,
    };
    nephos_fuzz::exercise(model, nephos_protocol::codec(Protocol::Ec2), &req, data);
});
