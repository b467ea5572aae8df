//! Function URLs, the data plane: an HTTP request to a function's URL (routed here by
//! the gateway as `InvokeFunctionUrl`) is authorized by the URL's AuthType and the
//! function's resource policy, becomes the payload format 2.0 event, runs the function
//! synchronously, and its result becomes the HTTP answer, as AWS's URL front end does
//! (<https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html>,
//! <https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html>,
//! <https://docs.aws.amazon.com/lambda/latest/dg/urls-configuration.html#urls-cors>).
//!
//! `RESPONSE_STREAM` URLs stream the answer's body as the function writes it
//! (<https://docs.aws.amazon.com/lambda/latest/dg/config-rs-write-functions.html>): a
//! stream posted as `application/vnd.awslambda.http-integration-response` starts with a
//! JSON prelude (`statusCode`, `headers`, `cookies`) ended by 8 NUL bytes; any other is
//! the body of a 200. A buffered result goes out as it is, not read as a response object.

use crate::Lambda;
use crate::env::Outcome;
use crate::model::{Cors, UrlConfig, qualified_arn};
use crate::{invoke, policy, runtime, urls};
use base64::Engine;
use bytes::Bytes;
use nephos_core::{RawRequest, RawResponse, RequestContext, Timestamp, Value};
use serde_json::{Map, Value as Json, json};
use std::sync::Arc;

/// AWS's payload limit for URL requests and answers, as for synchronous invocations.
const LIMIT: usize = 6 * 1024 * 1024;

const FORBIDDEN: &str = "Forbidden. For troubleshooting Function URL authorization issues, see: https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html";

/// A JSON error answer of the URL front end.
fn message(status: u16, kind: &str, message: Json) -> RawResponse {
    RawResponse {
        status,
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("x-amzn-ErrorType".into(), kind.into()),
        ],
        body: Bytes::from(json!({ "Message": message }).to_string()),
        stream: None,
    }
}

/// A request to a URL, its body apart.
struct Request {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
}

fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Answers a request to a function URL.
pub async fn serve(l: &Arc<Lambda>, ctx: &RequestContext, raw: RawRequest) -> RawResponse {
    let RawRequest {
        method,
        path,
        query,
        headers,
        body,
    } = raw;
    let req = Request {
        method,
        path,
        query,
        headers,
    };
    let host = header(&req, "host").unwrap_or_default().to_owned();
    let id = host.split('.').next().unwrap_or_default();
    let region_named = host.split('.').nth(2).unwrap_or_default();
    let found = urls::target(l, id).filter(|(_, region, _, _)| region == region_named);
    let Some((account, region, function, qualifier)) = found else {
        return message(403, "AccessDeniedException", Json::Null);
    };
    // Copied out: deciding may ask Lambda about the function again (the authorizer's
    // resource facts), which must not find its region locked.
    let found = {
        let r = l.regions.get_for(&account, &region);
        let fns = r.functions.lock().unwrap();
        fns.get(&function).and_then(|f| {
            let url = f.urls.get(qualifier.as_deref().unwrap_or_default())?;
            Some((url.clone(), f.clone()))
        })
    };
    let Some((config, f)) = found else {
        return message(403, "AccessDeniedException", Json::Null);
    };
    let origin = header(&req, "origin").map(str::to_owned);
    if req.method == "OPTIONS"
        && let Some(method) = header(&req, "access-control-request-method")
    {
        return preflight(&config, origin.as_deref(), method);
    }
    let resource = qualified_arn(&region, &account, &function, qualifier.as_deref());
    if !authorized(
        l,
        ctx,
        &config,
        &f,
        qualifier.as_deref(),
        &account,
        &resource,
    ) {
        return message(403, "AccessDeniedException", json!(FORBIDDEN));
    }
    let body = match body.read_at_most(LIMIT).await {
        Ok(Some(b)) => b,
        Ok(None) => {
            return message(
                413,
                "RequestTooLargeException",
                json!(format!(
                    "Request must be smaller than {LIMIT} bytes for the InvokeFunction operation"
                )),
            );
        }
        Err(e) => return message(400, "InvalidRequestContentException", json!(e.to_string())),
    };
    let event = event(ctx, &req, &body);
    let place = (account.as_str(), region.as_str());
    let mut answer = if config.invoke_mode == "RESPONSE_STREAM" {
        run_streaming(l, ctx, event, place, &function, qualifier).await
    } else {
        run(l, ctx, event, place, &function, qualifier).await
    };
    if let (Some(cors), Some(origin)) = (&config.cors, origin.as_deref()) {
        answer.headers.extend(cors_headers(cors, origin, false));
    }
    answer
        .headers
        .push(("x-amzn-RequestId".into(), ctx.request_id.clone()));
    answer
}

/// AuthType `NONE`: the function's policy must let everyone invoke the URL; `AWS_IAM`:
/// a signed caller of the function's account (decided by its identity policies under
/// `--enforce-iam`), or one the function's policy names.
fn authorized(
    l: &Lambda,
    ctx: &RequestContext,
    config: &UrlConfig,
    f: &crate::model::Function,
    qualifier: Option<&str>,
    owner: &str,
    resource: &str,
) -> bool {
    // An IAM identity's request is decided as any of its requests is under
    // --enforce-iam: its own policies and the function's.
    if config.auth_type == "AWS_IAM" && !ctx.anonymous {
        let input = Value::map()
            .with("FunctionName", resource)
            .with("AuthType", config.auth_type.as_str());
        if l.dispatcher.authorize(ctx, &input).is_err() {
            return false;
        }
    }
    let mut caller = if config.auth_type == "NONE" {
        nephos_policy::Caller {
            principal: nephos_policy::Principal::anonymous(),
            keys: ctx.global_condition_keys(),
        }
    } else if ctx.anonymous {
        return false;
    } else if ctx.account_id == owner {
        return true;
    } else {
        policy::caller_of(ctx)
    };
    caller.keys.push((
        "lambda:FunctionUrlAuthType".into(),
        config.auth_type.clone(),
    ));
    policy::function_policy_allows(f, qualifier, &caller, "lambda:InvokeFunctionUrl", resource)
}

/// The function version a URL runs, resolved as its owner would invoke it.
fn target(
    l: &Arc<Lambda>,
    (account, region): (&str, &str),
    function: &str,
    qualifier: Option<&str>,
) -> Result<runtime::Target, RawResponse> {
    let owner = runtime::service_context(l, account, region, "Invoke");
    let mut input = Value::map().with("FunctionName", function);
    if let Some(q) = qualifier {
        input.insert("Qualifier", q);
    }
    invoke::resolve(l, &owner, &input).map_err(|e| message(e.status, &e.code, json!(e.message)))
}

/// Runs the function with the request as its event and makes its result the answer.
async fn run(
    l: &Arc<Lambda>,
    ctx: &RequestContext,
    event: Json,
    (account, region): (&str, &str),
    function: &str,
    qualifier: Option<String>,
) -> RawResponse {
    let t = match target(l, (account, region), function, qualifier.as_deref()) {
        Ok(t) => t,
        Err(answer) => return answer,
    };
    let result = runtime::run(
        l,
        &t,
        runtime::Request {
            request_id: ctx.request_id.clone(),
            payload: Bytes::from(event.to_string()),
            trace_id: ctx.trace_header.clone(),
            client_context: None,
        },
    )
    .await;
    match result {
        Ok(r) => match &r.outcome {
            Outcome::Response(b) => answer_of(b),
            _ => internal_error(),
        },
        Err(e) if e.status == 429 => message(429, "TooManyRequestsException", json!(e.message)),
        Err(_) => internal_error(),
    }
}

/// The content type of a stream that begins with an HTTP prelude.
const PRELUDE_TYPE: &str = "application/vnd.awslambda.http-integration-response";
/// The prelude must end within this many bytes of the stream (as API Gateway requires).
const PRELUDE_LIMIT: usize = 16 * 1024;
/// What ends the prelude.
const DELIMITER: [u8; 8] = [0; 8];

/// Runs the function for a `RESPONSE_STREAM` URL: the answer's head once the stream (and
/// its prelude) has begun, its body as the function writes it.
async fn run_streaming(
    l: &Arc<Lambda>,
    ctx: &RequestContext,
    event: Json,
    (account, region): (&str, &str),
    function: &str,
    qualifier: Option<String>,
) -> RawResponse {
    let t = match target(l, (account, region), function, qualifier.as_deref()) {
        Ok(t) => t,
        Err(answer) => return answer,
    };
    let request = runtime::Request {
        request_id: ctx.request_id.clone(),
        payload: Bytes::from(event.to_string()),
        trace_id: ctx.trace_header.clone(),
        client_context: None,
    };
    let (mut run, mut streamed) = invoke::start_streaming(l, t, request);
    let content_type = match streamed.recv().await {
        Some(runtime::Streamed::Started(c)) => c,
        Some(runtime::Streamed::Data(_)) => None,
        // Not streamed: the result is the body as it is.
        None => {
            return match invoke::finished(&mut run).await {
                Ok(r) => match r.outcome {
                    Outcome::Response(body) => RawResponse {
                        status: 200,
                        headers: vec![("content-type".into(), OCTET_STREAM.into())],
                        body,
                        stream: None,
                    },
                    _ => internal_error(),
                },
                Err(e) if e.status == 429 => {
                    message(429, "TooManyRequestsException", json!(e.message))
                }
                Err(_) => internal_error(),
            };
        }
    };
    let mut head = RawResponse {
        status: 200,
        headers: Vec::new(),
        body: Bytes::new(),
        stream: None,
    };
    if content_type.as_deref() == Some(PRELUDE_TYPE) {
        let mut seen = Vec::new();
        let at = loop {
            if let Some(at) = seen.windows(DELIMITER.len()).position(|w| w == DELIMITER) {
                break at;
            }
            match streamed.recv().await {
                Some(runtime::Streamed::Data(d)) if seen.len() < PRELUDE_LIMIT => {
                    seen.extend_from_slice(&d);
                }
                Some(runtime::Streamed::Started(_)) => {}
                // No prelude: the stream ended or failed before one, or it is too long.
                _ => {
                    drop(streamed);
                    let _ = invoke::finished(&mut run).await;
                    return internal_error();
                }
            }
        };
        let Some(prelude) = serde_json::from_slice::<Json>(&seen[..at])
            .ok()
            .filter(Json::is_object)
        else {
            drop(streamed);
            let _ = invoke::finished(&mut run).await;
            return internal_error();
        };
        let Some((status, headers)) = prelude_head(&prelude) else {
            drop(streamed);
            let _ = invoke::finished(&mut run).await;
            return internal_error();
        };
        head.status = status;
        head.headers = headers;
        head.body = Bytes::copy_from_slice(&seen[at + DELIMITER.len()..]);
    } else {
        head.headers.push((
            "content-type".into(),
            content_type.unwrap_or_else(|| OCTET_STREAM.into()),
        ));
    }
    if !head
        .headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
    {
        head.headers
            .push(("content-type".into(), OCTET_STREAM.into()));
    }
    // The rest of the body as it comes; a function that fails mid-stream cuts the answer
    // off (the client sees it incomplete, never a clean end).
    let rest = futures_util::stream::unfold(Some((run, streamed)), |state| async move {
        let (mut run, mut streamed) = state?;
        loop {
            match streamed.recv().await {
                Some(runtime::Streamed::Data(d)) => return Some((Ok(d), Some((run, streamed)))),
                Some(runtime::Streamed::Started(_)) => {}
                None => {
                    let failed = match invoke::finished(&mut run).await {
                        Ok(r) => !matches!(r.outcome, Outcome::Response(_)),
                        Err(_) => true,
                    };
                    return failed.then(|| {
                        (
                            Err(std::io::Error::other("the function failed mid-stream")),
                            None,
                        )
                    });
                }
            }
        }
    });
    head.stream = Some(nephos_core::ByteStream::new(None, rest));
    head
}

const OCTET_STREAM: &str = "application/octet-stream";

/// The status and headers of a stream's prelude (`statusCode` 200 unless given,
/// `headers`, `cookies` as `Set-Cookie`); `None` for a status no HTTP answer has.
fn prelude_head(prelude: &Json) -> Option<(u16, Vec<(String, String)>)> {
    let status = match prelude.get("statusCode") {
        None | Some(Json::Null) => 200,
        Some(Json::Number(n)) => u16::try_from(n.as_u64()?).ok()?,
        Some(Json::String(s)) => s.parse().ok()?,
        Some(_) => return None,
    };
    if !(100..600).contains(&status) {
        return None;
    }
    let mut headers = Vec::new();
    if let Some(Json::Object(h)) = prelude.get("headers") {
        for (k, v) in h {
            let v = match v {
                Json::String(s) => s.clone(),
                other => other.to_string(),
            };
            headers.push((k.clone(), v));
        }
    }
    if let Some(Json::Array(cs)) = prelude.get("cookies") {
        for c in cs.iter().filter_map(Json::as_str) {
            headers.push(("set-cookie".into(), c.to_owned()));
        }
    }
    Some((status, headers))
}

fn internal_error() -> RawResponse {
    RawResponse {
        status: 502,
        headers: vec![("content-type".into(), "application/json".into())],
        body: Bytes::from_static(b"Internal Server Error"),
        stream: None,
    }
}

/// Whether a body of `content_type` travels as text (else base64), as for HTTP APIs.
fn is_text(content_type: Option<&str>) -> bool {
    let Some(t) = content_type.map(|t| t.to_ascii_lowercase()) else {
        return true;
    };
    let t = t.split(';').next().unwrap_or_default().trim().to_owned();
    t.starts_with("text/")
        || t.ends_with("json")
        || t.ends_with("xml")
        || t.ends_with("javascript")
        || t == "application/x-www-form-urlencoded"
}

/// The payload format 2.0 event of a request.
fn event(ctx: &RequestContext, req: &Request, body: &[u8]) -> Json {
    let host = header(req, "host").unwrap_or_default();
    let domain = host.split(':').next().unwrap_or_default();
    let id = domain.split('.').next().unwrap_or_default();
    let mut headers = Map::new();
    let mut cookies = Vec::new();
    for (k, v) in &req.headers {
        let k = k.to_ascii_lowercase();
        // Hop-by-hop headers end at the URL's front end.
        if matches!(
            k.as_str(),
            "connection" | "keep-alive" | "proxy-connection" | "te" | "trailer" | "upgrade"
        ) {
            continue;
        }
        if k == "cookie" {
            cookies.extend(v.split(';').map(|c| json!(c.trim())));
            continue;
        }
        match headers.get_mut(&k) {
            Some(Json::String(prev)) => *prev = format!("{prev},{v}"),
            _ => {
                headers.insert(k, json!(v));
            }
        }
    }
    let mut query = Map::new();
    for (k, v) in form_urlencoded::parse(req.query.as_bytes()) {
        match query.get_mut(k.as_ref()) {
            Some(Json::String(prev)) => *prev = format!("{prev},{v}"),
            _ => {
                query.insert(k.into_owned(), json!(v));
            }
        }
    }
    let now = ctx.clock.now_millis();
    let mut request_context = json!({
        "accountId": if ctx.anonymous { "anonymous".to_owned() } else { ctx.account_id.clone() },
        "apiId": id,
        "domainName": domain,
        "domainPrefix": id,
        "http": {
            "method": req.method,
            "path": req.path,
            "protocol": "HTTP/1.1",
            "sourceIp": ctx.source_ip.map(|ip| ip.to_string()).unwrap_or_else(|| "127.0.0.1".into()),
            "userAgent": header(req, "user-agent").unwrap_or_default(),
        },
        "requestId": ctx.request_id,
        "routeKey": "$default",
        "stage": "$default",
        "time": Timestamp::from_millis(now).to_common_log_date(),
        "timeEpoch": now,
    });
    if !ctx.anonymous
        && let Some(rc) = request_context.as_object_mut()
    {
        let user_id = ctx
            .credential
            .as_ref()
            .map_or_else(|| ctx.account_id.clone(), |c| c.user_id.clone());
        rc.insert(
            "authorizer".into(),
            json!({"iam": {
                "accessKey": ctx.access_key_id,
                "accountId": ctx.account_id,
                "callerId": user_id,
                "cognitoIdentity": null,
                "principalOrgId": null,
                "userArn": ctx.caller_arn,
                "userId": user_id,
            }}),
        );
    }
    let mut event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": req.path,
        "rawQueryString": req.query,
    });
    let e = event.as_object_mut().expect("an object");
    if !cookies.is_empty() {
        e.insert("cookies".into(), Json::Array(cookies));
    }
    e.insert("headers".into(), Json::Object(headers));
    if !query.is_empty() {
        e.insert("queryStringParameters".into(), Json::Object(query));
    }
    e.insert("requestContext".into(), request_context);
    let text = is_text(header(req, "content-type"));
    if !body.is_empty() {
        let b = if text {
            String::from_utf8_lossy(body).into_owned()
        } else {
            base64::engine::general_purpose::STANDARD.encode(body)
        };
        e.insert("body".into(), json!(b));
    }
    e.insert("isBase64Encoded".into(), json!(!body.is_empty() && !text));
    event
}

/// The HTTP answer of a function's result: a response object (`statusCode`, `headers`,
/// `cookies`, `body`, `isBase64Encoded`) as given; anything else is the JSON body of a
/// 200 (a string as its text).
fn answer_of(result: &[u8]) -> RawResponse {
    let json_type = ("content-type".to_owned(), "application/json".to_owned());
    let parsed: Option<Json> = serde_json::from_slice(result).ok();
    let Some(Json::Object(o)) = parsed.as_ref().filter(|v| v.get("statusCode").is_some()) else {
        let body = match parsed {
            Some(Json::String(s)) => Bytes::from(s),
            Some(other) => Bytes::from(other.to_string()),
            None => Bytes::copy_from_slice(result),
        };
        return RawResponse {
            status: 200,
            headers: vec![json_type],
            body,
            stream: None,
        };
    };
    let status = match &o["statusCode"] {
        Json::Number(n) => n.as_u64(),
        Json::String(s) => s.parse().ok(),
        _ => None,
    };
    let Some(status) = status
        .and_then(|s| u16::try_from(s).ok())
        .filter(|s| (100..600).contains(s))
    else {
        return internal_error();
    };
    let mut headers: Vec<(String, String)> = Vec::new();
    if let Some(Json::Object(h)) = o.get("headers") {
        for (k, v) in h {
            let v = match v {
                Json::String(s) => s.clone(),
                other => other.to_string(),
            };
            headers.push((k.clone(), v));
        }
    }
    if !headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
    {
        headers.push(json_type);
    }
    if let Some(Json::Array(cs)) = o.get("cookies") {
        for c in cs.iter().filter_map(Json::as_str) {
            headers.push(("set-cookie".into(), c.to_owned()));
        }
    }
    let text = match o.get("body") {
        Some(Json::String(s)) => s.clone(),
        Some(Json::Null) | None => String::new(),
        Some(other) => other.to_string(),
    };
    let body = if o.get("isBase64Encoded") == Some(&Json::Bool(true)) {
        match base64::engine::general_purpose::STANDARD.decode(text.as_bytes()) {
            Ok(b) => Bytes::from(b),
            Err(_) => return internal_error(),
        }
    } else {
        Bytes::from(text)
    };
    if body.len() > LIMIT {
        return internal_error();
    }
    RawResponse {
        status,
        headers,
        body,
        stream: None,
    }
}

/// Whether the URL's CORS rules allow `origin`.
fn allows_origin(cors: &Cors, origin: &str) -> bool {
    cors.allow_origins
        .as_ref()
        .is_some_and(|o| o.iter().any(|a| a == "*" || a.eq_ignore_ascii_case(origin)))
}

/// The CORS headers of an answer to `origin` (none when the rules do not allow it).
fn cors_headers(cors: &Cors, origin: &str, preflight: bool) -> Vec<(String, String)> {
    if !allows_origin(cors, origin) {
        return Vec::new();
    }
    let join = |l: &Option<Vec<String>>| l.as_ref().map(|l| l.join(","));
    let mut out = vec![
        ("access-control-allow-origin".to_owned(), origin.to_owned()),
        ("vary".to_owned(), "Origin".to_owned()),
    ];
    if cors.allow_credentials == Some(true) {
        out.push(("access-control-allow-credentials".into(), "true".into()));
    }
    if preflight {
        if let Some(m) = join(&cors.allow_methods) {
            out.push(("access-control-allow-methods".into(), m));
        }
        if let Some(h) = join(&cors.allow_headers) {
            out.push(("access-control-allow-headers".into(), h));
        }
        if let Some(age) = cors.max_age {
            out.push(("access-control-max-age".into(), age.to_string()));
        }
    } else if let Some(h) = join(&cors.expose_headers) {
        out.push(("access-control-expose-headers".into(), h));
    }
    out
}

/// A browser's preflight, answered from the URL's CORS rules (without them, or for an
/// origin or method they do not allow, with no CORS headers, which the browser refuses).
fn preflight(config: &UrlConfig, origin: Option<&str>, method: &str) -> RawResponse {
    let headers = match (&config.cors, origin) {
        (Some(cors), Some(origin))
            if cors
                .allow_methods
                .as_ref()
                .is_some_and(|m| m.iter().any(|x| x == "*" || x.eq_ignore_ascii_case(method))) =>
        {
            cors_headers(cors, origin, true)
        }
        _ => Vec::new(),
    };
    RawResponse {
        status: 200,
        headers,
        body: Bytes::new(),
        stream: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preludes_set_status_headers_and_cookies() {
        let (status, headers) = prelude_head(&json!({
            "statusCode": 201,
            "headers": {"Content-Type": "text/plain", "X-N": 3},
            "cookies": ["a=1", "b=2"],
        }))
        .unwrap();
        assert_eq!(status, 201);
        assert_eq!(
            headers,
            [
                ("Content-Type".to_owned(), "text/plain".to_owned()),
                ("X-N".to_owned(), "3".to_owned()),
                ("set-cookie".to_owned(), "a=1".to_owned()),
                ("set-cookie".to_owned(), "b=2".to_owned()),
            ]
        );
        // AWS reads no `status` key: such a prelude answers 200.
        assert_eq!(prelude_head(&json!({"status": 404})).unwrap().0, 200);
        assert_eq!(prelude_head(&json!({"statusCode": "418"})).unwrap().0, 418);
        assert!(prelude_head(&json!({"statusCode": 99})).is_none());
        assert!(prelude_head(&json!({"statusCode": [200]})).is_none());
    }
}
