//! The HTTP front of nephos.
//!
//! One port serves every service. For each request the gateway:
//! 1. answers internal endpoints (`/_nephos/*`, `/_localstack/*`) and CORS preflights;
//! 2. reads the signature scope and resolves the service ([`resolve`]);
//! 3. picks the protocol and codec, resolves the operation, parses and validates input;
//! 4. calls the service's [`Provider`] (or answers 501 for unimplemented operations);
//! 5. serializes the output or error, adds request ids, CORS and checksum headers;
//! 6. logs one line: service, operation, status, milliseconds.
//!
//! Handlers never see HTTP; this crate is the only one that does (with the codecs).

mod auth;
mod body;
mod conn;
mod dispatch;
mod internal;
mod reqlog;
pub mod resolve;
mod s3host;

pub use body::ResBody;
pub use dispatch::InProcess;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, request::Parts};
use hyper::body::Incoming;
use nephos_core::{AwsError, Clock, CredentialStore, Provider, RequestContext};
use nephos_model::{Protocol, ServiceModel};
use nephos_protocol::{Body, HttpRequest, HttpResponse, ResponseMeta};
use nephos_storage::Storage;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

/// Settings the gateway needs from the command line.
#[derive(Debug, Clone)]
pub struct Config {
    /// Account of requests whose access key is neither issued by nephos nor 12 digits.
    pub default_account: String,
    pub default_region: String,
    /// Reject requests whose SigV4 signature does not verify.
    pub verify_signatures: bool,
    /// The secret every access key nephos did not issue signs with, when verifying.
    pub default_secret_key: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            default_account: nephos_core::DEFAULT_ACCOUNT.to_owned(),
            default_region: nephos_core::DEFAULT_REGION.to_owned(),
            verify_signatures: false,
            default_secret_key: "test".to_owned(),
        }
    }
}

/// The request pipeline and everything it dispatches to.
pub struct Gateway {
    config: Config,
    providers: HashMap<&'static str, Arc<dyn Provider>>,
    credentials: Vec<Arc<dyn CredentialStore>>,
    clock: Arc<Clock>,
    storage: Storage,
    log: reqlog::RequestLog,
}

impl Gateway {
    pub fn new(config: Config, clock: Arc<Clock>, storage: Storage) -> Gateway {
        Gateway {
            config,
            providers: HashMap::new(),
            credentials: Vec::new(),
            clock,
            storage,
            log: reqlog::RequestLog::from_tracing(),
        }
    }

    /// Writes out the request log's queued lines; call once serving has ended.
    pub fn flush_request_log(&self) {
        self.log.stop();
    }

    pub fn register(&mut self, provider: Arc<dyn Provider>) {
        self.providers.insert(provider.service(), provider);
    }

    pub fn add_credentials(&mut self, store: Arc<dyn CredentialStore>) {
        self.credentials.push(store);
    }

    pub fn providers(&self) -> impl Iterator<Item = &Arc<dyn Provider>> {
        self.providers.values()
    }

    /// A [`nephos_core::Dispatch`] over this gateway, for [`nephos_core::Dispatcher::set`].
    pub fn in_process(self: &Arc<Self>) -> Arc<dyn nephos_core::Dispatch> {
        Arc::new(InProcess(Arc::downgrade(self)))
    }

    pub(crate) fn provider(&self, service: &str) -> Option<&Arc<dyn Provider>> {
        self.providers.get(service)
    }

    pub fn clock(&self) -> &Arc<Clock> {
        &self.clock
    }

    /// Serves one request.
    pub async fn handle(
        &self,
        req: Request<Incoming>,
        remote: Option<SocketAddr>,
    ) -> Response<ResBody> {
        let started = Instant::now();
        let (parts, body) = req.into_parts();
        let path = parts.uri.path();
        if path.starts_with("/_nephos/") || path.starts_with("/_localstack/") {
            return internal::handle(self, parts, body).await;
        }
        if parts.method == Method::OPTIONS
            && parts.headers.contains_key("access-control-request-method")
        {
            if let Some(resp) = s3host::preflight(self, &parts) {
                return resp;
            }
            return preflight(&parts.headers);
        }
        let origin = parts.headers.get(http::header::ORIGIN).cloned();
        // Only cross-origin requests pay for remembering where they went.
        let target = origin.as_ref().map(|_| {
            (
                parts.method.clone(),
                parts.uri.clone(),
                parts.headers.get(http::header::HOST).cloned(),
            )
        });
        let request_id = nephos_core::request_id();
        let (service, operation, mut response) =
            self.dispatch(parts, body, remote, &request_id).await;
        if let Some(origin) = origin {
            let answered = match &target {
                Some((method, uri, host)) if service == "s3" => s3host::cors_headers(
                    self,
                    method,
                    uri,
                    host.as_ref(),
                    &origin,
                    response.headers_mut(),
                ),
                _ => false,
            };
            if !answered {
                allow_origin(response.headers_mut(), origin);
            }
        }
        self.log.record(
            service,
            operation,
            response.status().as_u16(),
            started.elapsed(),
        );
        response
    }

    async fn dispatch(
        &self,
        parts: Parts,
        body: Incoming,
        remote: Option<SocketAddr>,
        request_id: &str,
    ) -> (&'static str, Option<&'static str>, Response<ResBody>) {
        let scope = auth::scope(&parts);
        let header = |name: http::HeaderName| parts.headers.get(name).and_then(|v| v.to_str().ok());
        let is_form = parts.method == Method::POST
            && header(http::header::CONTENT_TYPE)
                .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
        // Query-protocol requests name their service only through `Action` in the body.
        let mut collected: Option<Bytes> = None;
        let mut body = Some(body);
        if is_form {
            match body::collect(body.take().expect("body present")).await {
                Ok(b) => collected = Some(b),
                Err(e) => return ("-", None, plain_error(&e, request_id)),
            }
        }
        let action = find_action(parts.uri.query(), collected.as_deref());
        let clues = resolve::Clues {
            target: header(nephos_protocol::names::X_AMZ_TARGET),
            signing_name: scope.service(),
            host: header(http::header::HOST).or_else(|| parts.uri.host()),
            action: action.as_deref(),
            path: parts.uri.path(),
        };
        let service = match resolve::resolve(&clues) {
            resolve::Resolved::Service(s) => s,
            resolve::Resolved::Unknown(name) => {
                let err = AwsError::new(
                    501,
                    "NotImplemented",
                    format!("the service {name} is not emulated by nephos"),
                );
                return ("-", None, plain_error(&err, request_id));
            }
        };
        let model = nephos_model::service(service).expect("resolved services are vendored");
        // Only S3 logs requests as sent (server access logs); nothing else pays for this.
        let wire = (service == "s3").then(|| wire_summary(&parts));
        let req = HttpRequest {
            method: parts.method,
            uri: parts.uri,
            headers: parts.headers,
        };
        let protocol = nephos_protocol::detect(model, &req);
        let codec = nephos_protocol::codec(protocol);
        let meta = ResponseMeta { request_id };

        // The codec routes S3 on the path: virtual-host buckets move into it.
        let routed = s3host::route(service, &req);
        let creq = routed.as_ref().unwrap_or(&req);
        if let Some(name) = s3host::raw_operation(service, creq) {
            let host = req
                .headers
                .get(http::header::HOST)
                .and_then(|v| v.to_str().ok())
                .or_else(|| req.uri.host());
            let mut ctx = self.context(service, name, &scope, remote, request_id, host);
            ctx.wire = wire;
            let stream = match (collected, body) {
                (Some(bytes), _) => nephos_core::ByteStream::from_bytes(bytes),
                (None, Some(incoming)) => body::into_stream(incoming, None),
                (None, None) => nephos_core::ByteStream::from_bytes(Bytes::new()),
            };
            let resp = s3host::raw(self, &ctx, creq, stream, model, codec, meta).await;
            return (service, Some(name), into_response(service, resp));
        }
        let shared = s3host::operation(service, creq).and_then(|name| model.operation(name));
        let op = match shared.map_or_else(|| codec.resolve(model, creq, collected.as_deref()), Ok) {
            Ok(op) => op,
            Err(e) => {
                let resp = codec.serialize_error(model, None, &e, meta);
                return (service, None, into_response(service, resp));
            }
        };
        let host = req
            .headers
            .get(http::header::HOST)
            .and_then(|v| v.to_str().ok())
            .or_else(|| req.uri.authority().map(|a| a.as_str()));
        let mut ctx = self.context(service, &op.name, &scope, remote, request_id, host);
        ctx.wire = wire;
        let result = async {
            let issued = scope
                .access_key_id()
                .and_then(|k| self.credentials.iter().find_map(|s| s.lookup(k)));
            let check = auth::Check {
                verify_signatures: self.config.verify_signatures,
                default_secret: &self.config.default_secret_key,
                protocol,
                now_ms: self.clock.now_millis(),
                issued: issued.as_ref(),
                anonymous_allowed: op.authtype.as_deref() == Some("none")
                    || op.auth.iter().any(|a| a == "smithy.api#noAuth"),
                service,
            };
            let streaming = nephos_protocol::streams_input(model, op);
            // Verification may need the body's hash, so collect it first unless it streams.
            let mut full = match (collected, body.take()) {
                (Some(bytes), _) => Some(bytes),
                (None, Some(incoming)) if streaming && !auth::needs_body_hash(&scope, &req) => {
                    body = Some(incoming);
                    None
                }
                (None, Some(incoming)) => Some(body::collect(incoming).await?),
                (None, None) => Some(Bytes::new()),
            };
            let hash = match &full {
                Some(bytes)
                    if self.config.verify_signatures && auth::needs_body_hash(&scope, &req) =>
                {
                    Some(nephos_auth::sha256_hex(bytes))
                }
                _ => None,
            };
            let verified = check.run(&scope, &req, hash.as_deref())?;
            let chunked = auth::chunked_mode(&req);
            let input_body = match (full.take(), body.take(), chunked) {
                (Some(bytes), _, Some(mode)) => Body::Full(auth::decode_collected(
                    &req,
                    mode,
                    verified.as_ref(),
                    &bytes,
                    protocol,
                )?),
                (Some(bytes), _, None) => Body::Full(bytes),
                (None, Some(incoming), mode) => {
                    let length = req
                        .headers
                        .get(http::header::CONTENT_LENGTH)
                        .and_then(|v| v.to_str().ok()?.parse().ok());
                    let raw = body::into_stream(incoming, length);
                    Body::Stream(match mode {
                        Some(mode) => auth::decode_stream(&req, mode, verified.as_ref(), raw),
                        None => raw,
                    })
                }
                (None, None, _) => Body::Full(Bytes::new()),
            };
            let mut input = codec.parse(model, op, creq, input_body)?;
            if chunked.is_some() {
                declared_trailer_checksum(model, op, &req.headers, &mut input.value);
            }
            if service == "sqs" {
                queue_url_from_path(&mut input.value, op, model, &req, host)?;
                sqs_required_members(&input.value, op, model)?;
            }
            nephos_protocol::validate::validate(model, op, &input.value)?;
            let provider = self
                .providers
                .get(service)
                .filter(|p| p.operations().contains(&op.name.as_str()))
                .ok_or_else(|| AwsError::not_implemented(service, &op.name))?;
            provider.handle(&ctx, input).await
        }
        .await;
        let mut resp = match result {
            Ok(output) => codec.serialize(model, op, output, meta),
            Err(e) => {
                if e.status >= 500 && e.status != 501 {
                    tracing::warn!(service, operation = %op.name, code = %e.code, message = %e.message, "server error");
                }
                codec.serialize_error(
                    model,
                    Some(op),
                    &query_compatible_code(model, protocol, e),
                    meta,
                )
            }
        };
        s3host::finish(service, &op.name, &mut resp);
        (
            service,
            Some(op.name.as_str()),
            into_response(service, resp),
        )
    }

    fn context(
        &self,
        service: &'static str,
        operation: &str,
        scope: &auth::Scope,
        remote: Option<SocketAddr>,
        request_id: &str,
        host: Option<&str>,
    ) -> RequestContext {
        let key = scope.access_key_id().map(str::to_owned);
        let issued = key
            .as_deref()
            .and_then(|k| self.credentials.iter().find_map(|s| s.lookup(k)));
        let account_id = match (&issued, key.as_deref()) {
            (Some(c), _) => c.account_id.clone(),
            (None, Some(k)) if nephos_core::is_account_id(k) => k.to_owned(),
            _ => self.config.default_account.clone(),
        };
        let caller_arn = issued
            .as_ref()
            .map(|c| c.principal_arn.clone())
            .unwrap_or_else(|| format!("arn:aws:iam::{account_id}:root"));
        RequestContext {
            request_id: request_id.to_owned(),
            account_id,
            region: scope
                .region()
                .map_or_else(|| self.config.default_region.clone(), str::to_owned),
            service,
            operation: operation.to_owned(),
            anonymous: key.is_none(),
            access_key_id: key,
            caller_arn,
            source_ip: remote.map(|a| a.ip()),
            host: host.map(str::to_owned),
            wire: None,
            clock: self.clock.clone(),
        }
    }
}

/// The request line and browser headers of a request, as an access log quotes them.
fn wire_summary(parts: &Parts) -> Arc<nephos_core::WireSummary> {
    let text = |name: http::HeaderName| {
        parts
            .headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    };
    let target = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path(), |pq| pq.as_str());
    let in_query = |name: &str| {
        parts
            .uri
            .query()
            .is_some_and(|q| q.split('&').any(|kv| kv.split('=').next() == Some(name)))
    };
    let authorization = parts
        .headers
        .get(http::header::AUTHORIZATION)
        .map(|v| v.as_bytes());
    let query_signed = in_query("X-Amz-Signature") || in_query("Signature");
    let signature_version = match authorization {
        Some(a) if a.starts_with(b"AWS4-") => Some("SigV4"),
        Some(a) if a.starts_with(b"AWS ") => Some("SigV2"),
        _ if in_query("X-Amz-Signature") => Some("SigV4"),
        _ if in_query("Signature") => Some("SigV2"),
        _ => None,
    };
    let version = match parts.version {
        http::Version::HTTP_10 => "HTTP/1.0",
        http::Version::HTTP_2 => "HTTP/2.0",
        _ => "HTTP/1.1",
    };
    let method = parts.method.as_str();
    let mut request_line = String::with_capacity(method.len() + target.len() + 10);
    for piece in [method, " ", target, " ", version] {
        request_line.push_str(piece);
    }
    Arc::new(nephos_core::WireSummary {
        request_line,
        user_agent: text(http::header::USER_AGENT),
        referer: text(http::header::REFERER),
        query_signed,
        signature_version,
    })
}

/// An aws-chunked body whose checksum comes as a trailer declares it up front in
/// `x-amz-trailer`; the handler must know it before the body arrives to compute it, as
/// it would from `x-amz-sdk-checksum-algorithm` (which the AWS CRT leaves out).
fn declared_trailer_checksum(
    model: &ServiceModel,
    op: &nephos_model::Operation,
    headers: &HeaderMap,
    value: &mut nephos_core::Value,
) {
    let Some(algorithm) = headers
        .get("x-amz-trailer")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.trim().strip_prefix("x-amz-checksum-"))
    else {
        return;
    };
    let takes_it = op.input.as_ref().is_some_and(|i| {
        model
            .shape(&i.shape)
            .members
            .contains_key("ChecksumAlgorithm")
    });
    if takes_it && value.get("ChecksumAlgorithm").is_none() {
        if value.is_null() {
            *value = nephos_core::Value::map();
        }
        value.insert("ChecksumAlgorithm", algorithm.to_ascii_uppercase());
    }
}

/// The generic input error is spelled differently by query-protocol services.
fn query_compatible_code(model: &ServiceModel, protocol: Protocol, mut e: AwsError) -> AwsError {
    if e.code == "ValidationException"
        && protocol == Protocol::Query
        && model.metadata.aws_query_compatible.is_none()
    {
        e.code = "ValidationError".into();
    }
    // SQS's query API still words a missing queue as its WSDL-era API did.
    if protocol == Protocol::Query
        && model.metadata.endpoint_prefix == "sqs"
        && e.code == "QueueDoesNotExist"
    {
        e.message = "The specified queue does not exist for this wsdl version.".into();
    }
    e
}

/// SQS answers a missing required parameter with its own `MissingParameter`, naming it.
fn sqs_required_members(
    value: &nephos_core::Value,
    op: &nephos_model::Operation,
    model: &ServiceModel,
) -> Result<(), AwsError> {
    let Some(input) = &op.input else {
        return Ok(());
    };
    for name in &model.shape(&input.shape).required {
        if value.get(name).is_none_or(|v| v.is_null()) {
            return Err(AwsError::new(
                400,
                "MissingParameter",
                format!("The request must contain the parameter {name}."),
            ));
        }
    }
    Ok(())
}

/// Older SQS clients send query requests to the queue URL itself and leave `QueueUrl`
/// out of the form: the path (`/<account>/<name>`) names the queue. An action that takes
/// no queue (CreateQueue, ListQueues) is not valid at a queue's URL.
fn queue_url_from_path(
    value: &mut nephos_core::Value,
    op: &nephos_model::Operation,
    model: &ServiceModel,
    req: &HttpRequest,
    host: Option<&str>,
) -> Result<(), AwsError> {
    let takes_url = op
        .input
        .as_ref()
        .is_some_and(|i| model.shape(&i.shape).members.contains_key("QueueUrl"));
    let segments: Vec<&str> = req
        .uri
        .path()
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let queue_path =
        segments.len() >= 2 && nephos_core::is_account_id(segments[segments.len() - 2]);
    if queue_path && matches!(op.name.as_str(), "CreateQueue" | "ListQueues") {
        return Err(AwsError::new(
            400,
            "InvalidAction",
            format!("The action {} is not valid for this endpoint.", op.name),
        ));
    }
    if value.get("QueueUrl").is_some() {
        return Ok(());
    }
    if takes_url && queue_path {
        let url = format!("http://{}{}", host.unwrap_or("localhost"), req.uri.path());
        if value.is_null() {
            *value = nephos_core::Value::map();
        }
        value.insert("QueueUrl", url);
    }
    Ok(())
}

fn find_action(query: Option<&str>, form: Option<&[u8]>) -> Option<String> {
    let from = |bytes: &[u8]| {
        form_urlencoded::parse(bytes)
            .find(|(k, _)| k == "Action")
            .map(|(_, v)| v.into_owned())
    };
    form.and_then(from)
        .or_else(|| query.and_then(|q| from(q.as_bytes())))
}

fn into_response(service: &str, resp: HttpResponse) -> Response<ResBody> {
    let mut headers = resp.headers;
    if service == "s3" {
        // AWS's S3 front ends name themselves; clients and recorded answers expect it.
        headers.insert(http::header::SERVER, HeaderValue::from_static("AmazonS3"));
    }
    let body = match resp.body {
        Body::Full(bytes) => {
            // DynamoDB clients check this CRC32 of the body and retry on a mismatch.
            if service == "dynamodb" || service == "dynamodbstreams" {
                let crc = crc32fast::hash(&bytes);
                headers.insert(nephos_protocol::names::X_AMZ_CRC32, HeaderValue::from(crc));
            }
            body::full(bytes)
        }
        Body::Stream(stream) => body::stream(stream),
    };
    let mut out = Response::new(body);
    *out.status_mut() =
        StatusCode::from_u16(resp.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    *out.headers_mut() = headers;
    out
}

/// An error for a request no service could claim, framed as JSON.
fn plain_error(err: &AwsError, request_id: &str) -> Response<ResBody> {
    let body = serde_json::json!({"__type": err.code, "message": err.message});
    let mut out = Response::new(body::full(body.to_string()));
    *out.status_mut() = StatusCode::from_u16(err.status).unwrap_or(StatusCode::BAD_REQUEST);
    let h = out.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-amzn-requestid", v);
    }
    out
}

/// Browser SDKs send a preflight before every cross-origin call; answer it permissively
/// (bucket CORS rules, where they exist, are the S3 service's business).
fn preflight(req_headers: &HeaderMap) -> Response<ResBody> {
    let mut out = Response::new(body::full(Bytes::new()));
    let h = out.headers_mut();
    let origin = req_headers
        .get(http::header::ORIGIN)
        .cloned()
        .unwrap_or(HeaderValue::from_static("*"));
    h.insert("access-control-allow-origin", origin);
    h.insert(
        "access-control-allow-methods",
        HeaderValue::from_static("HEAD,GET,PUT,POST,DELETE,OPTIONS,PATCH"),
    );
    let allow_headers = req_headers
        .get("access-control-request-headers")
        .cloned()
        .unwrap_or(HeaderValue::from_static("*"));
    h.insert("access-control-allow-headers", allow_headers);
    h.insert(
        "access-control-allow-credentials",
        HeaderValue::from_static("true"),
    );
    h.insert("access-control-max-age", HeaderValue::from_static("86400"));
    out
}

fn allow_origin(h: &mut HeaderMap, origin: HeaderValue) {
    h.insert("access-control-allow-origin", origin);
    h.insert(
        "access-control-allow-credentials",
        HeaderValue::from_static("true"),
    );
    h.insert(
        "access-control-expose-headers",
        HeaderValue::from_static(
            "etag,x-amz-version-id,x-amz-request-id,x-amz-id-2,x-amzn-requestid,x-amzn-errortype,x-amz-delete-marker,x-amz-checksum-crc32,x-amz-checksum-crc32c,x-amz-checksum-sha1,x-amz-checksum-sha256,x-amz-checksum-crc64nvme,x-amz-crc32,date",
        ),
    );
}

/// Accepts connections until `shutdown` resolves, then lets open requests finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    gateway: Arc<Gateway>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use hyper_util::server::conn::auto::Builder;
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(std::time::Duration::from_secs(30))
        .max_buf_size(256 * 1024);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, remote) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let gw = gateway.clone();
                let owed = conn::ContinueOwed::default();
                let io = conn::Io::new(stream, owed.clone());
                let service = hyper::service::service_fn(move |req| {
                    owed.note(&req);
                    let gw = gw.clone();
                    async move { Ok::<_, std::convert::Infallible>(gw.handle(req, Some(remote)).await) }
                });
                let conn = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
                let conn = graceful.watch(conn.into_owned());
                tokio::spawn(async move {
                    let _ = conn.await;
                });
            }
            _ = &mut shutdown => break,
        }
    }
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(std::time::Duration::from_secs(5)) => {
            tracing::warn!("open connections did not finish within 5 s");
        }
    }
}
