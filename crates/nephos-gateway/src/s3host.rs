//! S3 addressing the rest-xml codec cannot see, because it routes on the path alone.
//!
//! - Virtual-host style: `bucket.s3.localhost[.localstack.cloud]` (and `*.amazonaws.com`)
//!   names the bucket in the host; it is moved into the path (`/bucket/key`).
//!   `s3.localhost` and `s3.localhost.localstack.cloud` are path style already.
//! - A key ending in `/` (`dir/`): the router drops a trailing slash, so the last one is
//!   escaped (`dir%2F`), which the greedy key label decodes back.
//! - Object operations that share one URI template in the model (PutObject, CopyObject,
//!   UploadPart, UploadPartCopy; GetObject and ListParts; DeleteObject and
//!   AbortMultipartUpload; CompleteMultipartUpload) are told apart by their query
//!   parameters and `x-amz-copy-source`, as S3 does; bucket `?lifecycle` and
//!   `?notification` requests go to the current operations, not the deprecated ones, and
//!   `GET ?inventory` (`?analytics`, `?metrics`, `?intelligent-tiering`) without an `id`
//!   lists.
//! - GetObject with a `Content-Range` answers 206 (the model has no status member for it).
//! - GetBucketLocation's body is a bare `<LocationConstraint>` root, which botocore reads
//!   by hand; the model describes it as a wrapped member.
//!
//! - Website endpoints (`<bucket>.s3-website[-.]<region>.<anything>`): every request
//!   becomes GetObject (HeadObject for HEAD) of the key `"<METHOD> <raw path>"`, which the
//!   S3 provider serves as a website; [`finish`] turns its tagged error answers into
//!   AWS's HTML pages (redirects get no body) and applies an error document's status.
//!
//! - POST Object (`POST /<bucket>`, a browser's form upload) has no operation in the
//!   model: [`raw_operation`] names it and [`raw`] hands the request to the provider
//!   ([`nephos_core::Provider::handle_raw`]), which parses the form.
//!
//! - CORS: preflights and cross-origin requests to a bucket are answered from the
//!   bucket's rules ([`nephos_core::Provider::cors`]), not the gateway's permissive default.
//!
//! Only the codec sees the rewritten request; signatures are checked on the original.

use crate::ResBody;
use http::Response;
use nephos_protocol::{HttpRequest, HttpResponse};

/// The request as the codec should route it, when it differs from `req`.
pub fn route(service: &str, req: &HttpRequest) -> Option<HttpRequest> {
    if service != "s3" {
        return None;
    }
    let host = req
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri.host())?;
    let path = req.uri.path();
    if let Some(bucket) = website_bucket(host) {
        return website_route(&bucket, req);
    }
    let bucket = bucket_from_host(host);
    let mut new_path = match &bucket {
        Some(b) => format!("/{b}{}", if path.is_empty() { "/" } else { path }),
        None => path.to_owned(),
    };
    // `/bucket/key/` keeps its trailing slash as part of the key.
    let has_key = new_path
        .trim_start_matches('/')
        .split_once('/')
        .is_some_and(|(_, rest)| !rest.is_empty());
    if has_key && new_path.ends_with('/') {
        new_path.pop();
        new_path.push_str("%2F");
    }
    if bucket.is_none() && new_path == path {
        return None;
    }
    let pq = match req.uri.query() {
        Some(q) => format!("{new_path}?{q}"),
        None => new_path,
    };
    let uri = http::Uri::builder().path_and_query(pq).build().ok()?;
    Some(HttpRequest {
        method: req.method.clone(),
        uri,
        headers: req.headers.clone(),
    })
}

/// The bucket of a website endpoint host: `<bucket>.s3-website.<anything>` or
/// `<bucket>.s3-website-<region>.<anything>` (the provider reads the host the same way).
fn website_bucket(host: &str) -> Option<String> {
    let host = match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    };
    let host = host.to_ascii_lowercase();
    let labels: Vec<&str> = host.split('.').collect();
    let at = labels
        .iter()
        .position(|l| *l == "s3-website" || l.starts_with("s3-website-"))?;
    (at > 0).then(|| labels[..at].join("."))
}

/// A website request as a GetObject (HeadObject) of `"<METHOD> <raw path>"`; the query is
/// dropped (website endpoints serve paths only).
fn website_route(bucket: &str, req: &HttpRequest) -> Option<HttpRequest> {
    let key = format!("{} {}", req.method, req.uri.path());
    // Every byte escaped: the key label decodes it back, slashes and all.
    let mut path = format!("/{bucket}/");
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() {
            path.push(b as char);
        } else {
            path.push_str(&format!("%{b:02X}"));
        }
    }
    let uri = http::Uri::builder().path_and_query(path).build().ok()?;
    let method = if req.method == http::Method::HEAD {
        http::Method::HEAD
    } else {
        http::Method::GET
    };
    let mut headers = req.headers.clone();
    // A copy source would make the object router pick CopyObject.
    headers.remove("x-amz-copy-source");
    Some(HttpRequest {
        method,
        uri,
        headers,
    })
}

/// The status line text of the statuses a website answers with.
fn reason(status: u16) -> &'static str {
    http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error")
}

/// AWS's HTML error page for an S3 XML error body: the status, then one item per
/// element of the error (code, message, what failed, request ids), and, when the bucket's
/// error document could not be served either, why (`document_error`, the provider's
/// `Code=..&Message=..&Key=..`).
fn website_error_page(status: u16, xml: &str, document_error: Option<&str>) -> String {
    let inner = xml
        .split_once("<Error>")
        .and_then(|(_, rest)| rest.rsplit_once("</Error>"))
        .map_or("", |(inner, _)| inner);
    let mut items = String::new();
    let mut rest = inner;
    while let Some(open) = rest.find('<') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('>') else { break };
        let name = &after[..close];
        let body = &after[close + 1..];
        let end_tag = format!("</{name}>");
        let Some(end) = body.find(&end_tag) else {
            break;
        };
        items.push_str(&format!("<li>{name}: {}</li>\n", &body[..end]));
        rest = &body[end + end_tag.len()..];
    }
    let mut document = String::new();
    if let Some(why) = document_error {
        document.push_str(
            "<h3>An Error Occurred While Attempting to Retrieve a Custom Error Document</h3>\n<ul>\n",
        );
        for (name, value) in form_urlencoded::parse(why.as_bytes()) {
            document.push_str(&format!(
                "<li>{name}: {}</li>\n",
                nephos_protocol::xml::escape_text(&value)
            ));
        }
        document.push_str("</ul>\n");
    }
    let title = format!("{status} {}", reason(status));
    format!(
        "<html>\n<head><title>{title}</title></head>\n<body>\n<h1>{title}</h1>\n<ul>\n{items}</ul>\n{document}<hr/>\n</body>\n</html>\n"
    )
}

/// Finishes a website answer the provider tagged (see the module doc).
fn finish_website(resp: &mut HttpResponse) {
    const MARKER: &str = "x-amz-meta-nephos-website";
    let Some(tag) = resp.headers.remove(MARKER) else {
        return;
    };
    let document_error = resp
        .headers
        .remove("x-amz-meta-nephos-website-document-error");
    let tag = tag.to_str().unwrap_or_default();
    if let Ok(status) = tag.parse::<u16>() {
        // An error document: served as an object, with the error's status.
        resp.status = status;
        return;
    }
    let body = if (300..400).contains(&resp.status) {
        String::new()
    } else {
        match &resp.body {
            nephos_protocol::Body::Full(bytes) => {
                let why = document_error.as_ref().and_then(|v| v.to_str().ok());
                website_error_page(resp.status, &String::from_utf8_lossy(bytes), why)
            }
            nephos_protocol::Body::Stream(_) => String::new(),
        }
    };
    resp.headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/html; charset=utf-8"),
    );
    resp.headers.insert(
        http::header::CONTENT_LENGTH,
        http::HeaderValue::from(body.len()),
    );
    resp.body = nephos_protocol::Body::Full(body.into());
}

/// Sub-resources whose operations the URI templates already tell apart.
const SUBRESOURCES: &[&str] = &[
    "acl",
    "tagging",
    "legal-hold",
    "retention",
    "torrent",
    "attributes",
    "restore",
    "select",
    "uploads",
    "renameObject",
    "annotation",
    "encryption",
];

/// The operation of an object request whose URI template is shared by several.
pub fn operation(service: &str, req: &HttpRequest) -> Option<&'static str> {
    if service != "s3" {
        return None;
    }
    let has_key = req
        .uri
        .path()
        .trim_start_matches('/')
        .split_once('/')
        .is_some_and(|(_, k)| !k.is_empty());
    let query = nephos_protocol::rest::query_pairs(req.uri.query());
    let has = |k: &str| query.iter().any(|(q, _)| q == k);
    if !has_key {
        // Deprecated operations share these templates with their replacements.
        return match (req.method.as_str(), has("lifecycle"), has("notification")) {
            ("GET", true, _) => Some("GetBucketLifecycleConfiguration"),
            ("PUT", true, _) => Some("PutBucketLifecycleConfiguration"),
            ("GET", _, true) => Some("GetBucketNotificationConfiguration"),
            ("PUT", _, true) => Some("PutBucketNotificationConfiguration"),
            // Id-keyed configurations share their template with the list.
            ("GET", ..) if !has("id") => [
                ("inventory", "ListBucketInventoryConfigurations"),
                ("analytics", "ListBucketAnalyticsConfigurations"),
                ("metrics", "ListBucketMetricsConfigurations"),
                (
                    "intelligent-tiering",
                    "ListBucketIntelligentTieringConfigurations",
                ),
            ]
            .into_iter()
            .find(|(sub, _)| has(sub))
            .map(|(_, op)| op),
            _ => None,
        };
    }
    if SUBRESOURCES.iter().any(|s| has(s)) {
        return None;
    }
    let upload = has("uploadId");
    let copy = req.headers.contains_key("x-amz-copy-source");
    Some(match req.method.as_str() {
        "GET" if upload => "ListParts",
        "GET" => "GetObject",
        "PUT" if upload && has("partNumber") && copy => "UploadPartCopy",
        "PUT" if upload && has("partNumber") => "UploadPart",
        "PUT" if copy => "CopyObject",
        "PUT" => "PutObject",
        "DELETE" if upload => "AbortMultipartUpload",
        "DELETE" => "DeleteObject",
        "POST" if upload => "CompleteMultipartUpload",
        _ => return None,
    })
}

/// The operation of a request S3 defines outside its model: `POST /<bucket>` without a
/// sub-resource is a browser-based upload (POST Object), whose form the provider parses.
pub fn raw_operation(service: &str, req: &HttpRequest) -> Option<&'static str> {
    if service != "s3" || req.method != http::Method::POST || req.uri.query().is_some() {
        return None;
    }
    let bucket = req.uri.path().trim_matches('/');
    (!bucket.is_empty() && !bucket.contains('/')).then_some("PostObject")
}

/// Runs a [`raw_operation`] on the S3 provider: its answer as it built it, its errors
/// as S3's XML errors.
pub async fn raw(
    gw: &crate::Gateway,
    ctx: &nephos_core::RequestContext,
    req: &HttpRequest,
    body: nephos_core::ByteStream,
    model: &nephos_model::ServiceModel,
    codec: &dyn nephos_protocol::Codec,
    meta: nephos_protocol::ResponseMeta<'_>,
) -> HttpResponse {
    let request = crate::raw_request(req, body);
    let result = match gw.provider("s3") {
        Some(p) => p.handle_raw(ctx, request).await,
        None => Err(nephos_core::AwsError::not_implemented("s3", &ctx.operation)),
    };
    match result {
        Ok(answer) => {
            let mut headers = http::HeaderMap::new();
            put_headers(&mut headers, answer.headers);
            if let Ok(v) = http::HeaderValue::from_str(meta.request_id) {
                headers.insert("x-amz-request-id", v);
            }
            HttpResponse {
                status: answer.status,
                headers,
                body: nephos_protocol::Body::Full(answer.body),
            }
        }
        Err(e) => codec.serialize_error(model, None, &e, meta),
    }
}

/// The bucket a request addresses, by host or first path segment.
fn bucket_of(host: Option<&str>, path: &str) -> Option<String> {
    if let Some(b) = host.and_then(bucket_from_host) {
        return Some(b);
    }
    let first = path.trim_start_matches('/').split('/').next()?;
    (!first.is_empty()).then(|| first.to_owned())
}

/// Answers a preflight to an S3 bucket from its rules; `None` when the request is not
/// S3's or names no bucket.
pub fn preflight(gw: &crate::Gateway, parts: &http::request::Parts) -> Option<Response<ResBody>> {
    let header = |n: &str| parts.headers.get(n).and_then(|v| v.to_str().ok());
    let host = header("host").or_else(|| parts.uri.host());
    let action = crate::conventions::find_action(parts.uri.query(), None);
    let clues = crate::resolve::Clues {
        target: None,
        signing_name: None,
        host,
        action: action.as_deref(),
        path: parts.uri.path(),
    };
    if crate::resolve::resolve(&clues) != crate::resolve::Resolved::Service("s3") {
        return None;
    }
    let bucket = bucket_of(host, parts.uri.path())?;
    let provider = gw.provider("s3")?;
    let request = nephos_core::CorsRequest {
        resource: &bucket,
        origin: header("origin"),
        method: header("access-control-request-method").unwrap_or_default(),
        headers: header("access-control-request-headers")
            .unwrap_or_default()
            .split(',')
            .map(|h| h.trim().to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            .collect(),
        preflight: true,
    };
    let request_id = nephos_core::request_id();
    let resp = match provider.cors(&request)? {
        Ok(headers) => {
            let mut out = HttpResponse {
                status: 200,
                headers: http::HeaderMap::new(),
                body: nephos_protocol::Body::Full(bytes::Bytes::new()),
            };
            put_headers(&mut out.headers, headers);
            out
        }
        Err(e) => {
            let model = nephos_model::service("s3")?;
            let codec = nephos_protocol::codec(nephos_model::Protocol::RestXml);
            let meta = nephos_protocol::ResponseMeta {
                request_id: &request_id,
            };
            codec.serialize_error(model, None, &e, meta)
        }
    };
    Some(crate::into_response("s3", resp))
}

/// Adds the CORS headers of the bucket's matching rule to an S3 response; `false` when
/// the request names no bucket (the gateway's default applies).
pub fn cors_headers(
    gw: &crate::Gateway,
    method: &http::Method,
    uri: &http::Uri,
    host: Option<&http::HeaderValue>,
    origin: &http::HeaderValue,
    out: &mut http::HeaderMap,
) -> bool {
    let host = host.and_then(|h| h.to_str().ok()).or_else(|| uri.host());
    let Some(bucket) = bucket_of(host, uri.path()) else {
        return false;
    };
    let Some(provider) = gw.provider("s3") else {
        return false;
    };
    let request = nephos_core::CorsRequest {
        resource: &bucket,
        origin: origin.to_str().ok(),
        method: method.as_str(),
        headers: Vec::new(),
        preflight: false,
    };
    match provider.cors(&request) {
        None => false,
        Some(Ok(headers)) => {
            put_headers(out, headers);
            true
        }
        Some(Err(_)) => true,
    }
}

fn put_headers(out: &mut http::HeaderMap, headers: Vec<(String, String)>) {
    for (k, v) in headers {
        if let (Ok(k), Ok(v)) = (
            http::HeaderName::from_bytes(k.as_bytes()),
            http::HeaderValue::from_str(&v),
        ) {
            out.insert(k, v);
        }
    }
}

/// The bucket of a virtual-host-style host name, if it names one.
fn bucket_from_host(host: &str) -> Option<String> {
    let host = match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    };
    let host = host.to_ascii_lowercase();
    let local = host
        .strip_suffix(".localhost.localstack.cloud")
        .or_else(|| host.strip_suffix(".localhost"))
        .or_else(|| host.strip_suffix(".amazonaws.com"))?;
    let labels: Vec<&str> = local.split('.').collect();
    let at = labels
        .iter()
        .position(|l| *l == "s3" || l.starts_with("s3-website"))?;
    (at > 0).then(|| labels[..at].join("."))
}

/// Fixes what the model cannot say about a response.
pub fn finish(service: &str, operation: &str, resp: &mut HttpResponse) {
    if service == "s3" && matches!(operation, "GetObject" | "HeadObject") {
        finish_website(resp);
    }
    if service == "s3"
        && operation == "GetObject"
        && resp.status == 200
        && resp.headers.contains_key(http::header::CONTENT_RANGE)
    {
        resp.status = 206;
    }
    // AWS labels HeadBucket's empty answer as XML, as its other bucket answers.
    if service == "s3" && operation == "HeadBucket" && resp.status == 200 {
        resp.headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/xml"),
        );
    }
    if service == "s3"
        && operation == "GetBucketLocation"
        && resp.status == 200
        && let nephos_protocol::Body::Full(bytes) = &resp.body
    {
        let text = String::from_utf8_lossy(bytes);
        let region = text
            .split_once("<LocationConstraint>")
            .and_then(|(_, rest)| rest.split_once("</LocationConstraint>"))
            .map_or("", |(r, _)| r);
        // us-east-1 is an empty element, written self-closed as AWS does.
        let body = if region.is_empty() {
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<LocationConstraint xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"/>".to_owned()
        } else {
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<LocationConstraint xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">{region}</LocationConstraint>"
            )
        };
        resp.body = nephos_protocol::Body::Full(body.into());
        resp.headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/xml"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(host: &str, uri: &str) -> HttpRequest {
        let mut headers = http::HeaderMap::new();
        headers.insert(http::header::HOST, host.parse().unwrap());
        HttpRequest {
            method: http::Method::GET,
            uri: uri.parse().unwrap(),
            headers,
        }
    }

    fn routed(host: &str, uri: &str) -> Option<String> {
        route("s3", &req(host, uri)).map(|r| r.uri.to_string())
    }

    #[test]
    fn virtual_hosts_move_the_bucket_into_the_path() {
        assert_eq!(
            routed("my.bucket.s3.localhost:4566", "/a/b?x=1").as_deref(),
            Some("/my.bucket/a/b?x=1")
        );
        assert_eq!(
            routed("bkt.s3.localhost.localstack.cloud:4566", "/").as_deref(),
            Some("/bkt/")
        );
        assert_eq!(
            routed("bkt.s3.us-east-1.amazonaws.com", "/k").as_deref(),
            Some("/bkt/k")
        );
        assert_eq!(routed("s3.localhost.localstack.cloud:4566", "/bkt/k"), None);
        assert_eq!(routed("s3.localhost:4566", "/bkt"), None);
        assert_eq!(routed("127.0.0.1:4566", "/bkt/k"), None);
        assert_eq!(
            route("sqs", &req("bkt.s3.localhost", "/")).map(|_| ()),
            None
        );
    }

    #[test]
    fn website_hosts_serve_paths_as_keys() {
        let r = route(
            "s3",
            &req("site.s3-website.localhost:4566", "/docs/a%20b?x=1"),
        )
        .unwrap();
        assert_eq!(r.uri.to_string(), "/site/GET%20%2Fdocs%2Fa%2520b");
        assert_eq!(r.method, http::Method::GET);
        assert_eq!(operation("s3", &r), Some("GetObject"));
        let mut post = req("site.s3-website-us-east-1.amazonaws.com", "/");
        post.method = http::Method::POST;
        let r = route("s3", &post).unwrap();
        assert_eq!(r.uri.to_string(), "/site/POST%20%2F");
        assert_eq!(r.method, http::Method::GET);
        let page = website_error_page(
            404,
            "<?xml version=\"1.0\"?>\n<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Key>a&amp;b</Key><RequestId>r</RequestId></Error>",
            Some(
                "Code=NoSuchKey&Message=The%20specified%20key%20does%20not%20exist.&Key=%3Coops%3E.html",
            ),
        );
        assert!(page.contains("<title>404 Not Found</title>"));
        assert!(page.contains("<li>Code: NoSuchKey</li>\n<li>Message: The specified key does not exist.</li>\n<li>Key: a&amp;b</li>"));
        assert!(page.contains("</ul>\n<h3>An Error Occurred While Attempting to Retrieve a Custom Error Document</h3>\n<ul>\n<li>Code: NoSuchKey</li>\n<li>Message: The specified key does not exist.</li>\n<li>Key: &lt;oops&gt;.html</li>\n</ul>\n<hr/>"));
    }

    #[test]
    fn bucket_posts_without_a_subresource_are_post_object() {
        let mut r = req("localhost", "/bkt");
        r.method = http::Method::POST;
        assert_eq!(raw_operation("s3", &r), Some("PostObject"));
        r.uri = "/bkt/".parse().unwrap();
        assert_eq!(raw_operation("s3", &r), Some("PostObject"));
        for uri in ["/bkt?delete", "/bkt/key?uploads", "/"] {
            r.uri = uri.parse().unwrap();
            assert_eq!(raw_operation("s3", &r), None, "{uri}");
        }
        r.uri = "/bkt".parse().unwrap();
        assert_eq!(raw_operation("sqs", &r), None);
        r.method = http::Method::PUT;
        assert_eq!(raw_operation("s3", &r), None);
    }

    #[test]
    fn trailing_slashes_of_keys_survive() {
        assert_eq!(
            routed("localhost", "/bkt/dir/").as_deref(),
            Some("/bkt/dir%2F")
        );
        assert_eq!(routed("localhost", "/bkt/"), None);
        assert_eq!(
            routed("bkt.s3.localhost", "/dir/?tagging").as_deref(),
            Some("/bkt/dir%2F?tagging")
        );
    }
}
