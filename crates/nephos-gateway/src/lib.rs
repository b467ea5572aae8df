//! The HTTP front of nephos.
//!
//! One port serves every service. A request passes named stages, top to bottom
//! ([`Gateway::handle`], then [`pipeline`]):
//! 1. nephos's own endpoints (`/_nephos/*`, `/_localstack/*`) and CORS preflights;
//! 2. read a form body (query-protocol services are named by its `Action`);
//! 3. resolve the service ([`resolve`]) and the protocol it is spoken in;
//! 4. identify the caller from the signing key;
//! 5. route the data plane (S3 virtual hosts, websites) and answer requests outside
//!    the model (S3's POST Object);
//! 6. resolve the operation, authenticate, read the body, parse the input, apply
//!    service wire conventions ([`conventions`]), validate against the model;
//! 7. invoke the service's [`Provider`] (or answer 501 for unimplemented operations);
//! 8. serialize the output or error; finishing touches (S3), CORS, checksums;
//! 9. log one line: service, operation, status, milliseconds ([`reqlog`]).
//!
//! Handlers never see HTTP; this crate is the only one that does (with the codecs).

mod auth;
mod body;
mod conn;
mod conventions;
mod dispatch;
mod function_url;
mod internal;
mod pipeline;
mod reqlog;
pub mod resolve;
pub mod runtime_api;
mod s3host;

pub use body::ResBody;
pub use dispatch::InProcess;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, request::Parts};
use hyper::body::Incoming;
use nephos_core::{Clock, CredentialStore, Provider};
use nephos_protocol::{Body, HttpResponse};
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
    /// Decides every request of an IAM identity; installed with `--enforce-iam`.
    authorizer: Option<Arc<dyn nephos_core::Authorizer>>,
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
            authorizer: None,
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

    /// Authorizes every request from the wire with `authorizer` (`--enforce-iam`).
    pub fn set_authorizer(&mut self, authorizer: Arc<dyn nephos_core::Authorizer>) {
        self.authorizer = Some(authorizer);
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

    /// Serves one request: nephos's own endpoints and CORS preflights first, then the
    /// service stages ([`pipeline`]), then the response stages, then the log line.
    pub async fn handle(
        &self,
        req: Request<Incoming>,
        remote: Option<SocketAddr>,
    ) -> Response<ResBody> {
        let started = Instant::now();
        let (parts, body) = req.into_parts();
        if internal::claims(parts.uri.path()) {
            return internal::handle(self, parts, body).await;
        }
        if let Some(resp) = self.preflight(&parts) {
            return resp;
        }
        let cors = CrossOrigin::of(&parts);
        let mut ex = pipeline::Exchange::new(parts, body, remote);
        let outcome = self.serve_service(&mut ex).await;
        let mut response = into_response(ex.service, self.respond(&ex, outcome));
        // A function URL answers with its own CORS rules.
        if let Some(cors) = cors
            && ex.operation != Some(function_url::OPERATION)
        {
            cors.answer(self, ex.service, response.headers_mut());
        }
        self.log.record(
            ex.service,
            ex.operation,
            response.status().as_u16(),
            started.elapsed(),
        );
        response
    }

    /// Browser preflights: S3 answers from the bucket's CORS rules, a function URL from
    /// its own (in Lambda), everything else permissively.
    fn preflight(&self, parts: &Parts) -> Option<Response<ResBody>> {
        if parts.method != Method::OPTIONS
            || !parts.headers.contains_key("access-control-request-method")
            || pipeline::host_of_parts(parts).is_some_and(function_url::is_function_url)
        {
            return None;
        }
        Some(s3host::preflight(self, parts).unwrap_or_else(|| preflight(&parts.headers)))
    }
}

/// A cross-origin request: its origin and where it went, kept only when there is an
/// `Origin` (same-origin requests pay nothing).
struct CrossOrigin {
    origin: HeaderValue,
    method: Method,
    uri: http::Uri,
    host: Option<HeaderValue>,
}

impl CrossOrigin {
    fn of(parts: &Parts) -> Option<CrossOrigin> {
        Some(CrossOrigin {
            origin: parts.headers.get(http::header::ORIGIN)?.clone(),
            method: parts.method.clone(),
            uri: parts.uri.clone(),
            host: parts.headers.get(http::header::HOST).cloned(),
        })
    }

    /// S3 buckets answer from their own rules; every other service allows the origin.
    fn answer(self, gw: &Gateway, service: &str, headers: &mut HeaderMap) {
        let answered = service == "s3"
            && s3host::cors_headers(
                gw,
                &self.method,
                &self.uri,
                self.host.as_ref(),
                &self.origin,
                headers,
            );
        if !answered {
            allow_origin(headers, self.origin);
        }
    }
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

/// A request as a service's raw handler sees it: text and bytes, no HTTP types.
pub(crate) fn raw_request(
    req: &nephos_protocol::HttpRequest,
    body: nephos_core::ByteStream,
) -> nephos_core::RawRequest {
    nephos_core::RawRequest {
        method: req.method.as_str().to_owned(),
        path: req.uri.path().to_owned(),
        query: req.uri.query().unwrap_or_default().to_owned(),
        headers: req
            .headers
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect(),
        body,
    }
}
