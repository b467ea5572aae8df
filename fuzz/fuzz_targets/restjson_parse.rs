//! restJson1 requests against the Lambda model. Input layout (see `fuzz/README.md`):
//! byte 0 picks the method, then a request-target line (`/path?query`), then
//! `name: value` header lines up to an empty line, then the body. URI template matching,
//! label and query binding, header scalars, the JSON payload and validation must reject
//! garbage with a 4xx, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nephos_model::Protocol;
use nephos_protocol::HttpRequest;

fuzz_target!(|data: &[u8]| {
    let Some((&m, rest)) = data.split_first() else {
        return;
    };
    let (target, rest) = nephos_fuzz::split_line(rest);
    let Some(uri) = nephos_fuzz::uri_from_bytes(target) else {
        return;
    };
    let (headers, body) = nephos_fuzz::headers_and_body(rest);
    let req = HttpRequest {
        method: nephos_fuzz::method(m),
        uri,
        headers,
    };
    let model = nephos_fuzz::model("lambda");
    nephos_fuzz::exercise(
        model,
        nephos_protocol::codec(Protocol::RestJson),
        &req,
        body,
    );
});
