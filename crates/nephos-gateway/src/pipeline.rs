//! The stages a request to a service passes through, in order.
//!
//! [`Gateway::serve_service`] reads top to bottom as the list of stages; each stage is a
//! method that takes the [`Exchange`] (what earlier stages learned) and either lets the
//! request go on or stops it with a [`Stop`]. The response side is
//! [`Gateway::respond`]. A new concern (authorization, data-plane routing) is a new
//! stage in the list, not another branch inside an existing one.

use crate::{Gateway, auth, body, conventions, s3host};
use bytes::Bytes;
use http::request::Parts;
use hyper::body::Incoming;
use nephos_core::{AwsError, ByteStream, Credential, Input, Output, RequestContext};
use nephos_model::{Operation, Protocol, ServiceModel};
use nephos_protocol::{Body, Codec, HttpRequest, HttpResponse, ResponseMeta};
use std::net::SocketAddr;
use std::sync::Arc;

/// One request on its way through the stages.
pub(crate) struct Exchange {
    pub request_id: String,
    remote: Option<SocketAddr>,
    version: http::Version,
    /// The request as sent.
    req: HttpRequest,
    /// The request as the codec routes it (an S3 virtual-host bucket moved into the
    /// path); `None` when that is the request as sent.
    routed: Option<HttpRequest>,
    /// The body until a stage collects or streams it.
    incoming: Option<Incoming>,
    /// The collected body, when a stage needed it whole.
    collected: Option<Bytes>,
    scope: auth::Scope,
    /// Credentials nephos issued for the signing key, when it did.
    issued: Option<Arc<Credential>>,
    /// `-` until a service claims the request.
    pub service: &'static str,
    target: Option<Target>,
    pub operation: Option<&'static str>,
    op: Option<&'static Operation>,
    verified: Option<nephos_auth::Verified>,
    body: Option<Body>,
    input: Option<Input>,
    /// What a handler knows of the request, made once the operation is known.
    ctx: Option<RequestContext>,
}

/// The service's model and how this request speaks to it.
#[derive(Clone, Copy)]
struct Target {
    model: &'static ServiceModel,
    protocol: Protocol,
    codec: &'static dyn Codec,
}

/// Why a request went no further.
pub(crate) enum Stop {
    /// No service claimed the request: an error framed as plain JSON.
    Unclaimed(AwsError),
    /// An error the service's protocol frames.
    Error(AwsError),
    /// An answer already complete (a request outside the service's model).
    Answered(HttpResponse),
}

impl From<AwsError> for Stop {
    fn from(e: AwsError) -> Stop {
        Stop::Error(e)
    }
}

type Stage = Result<(), Stop>;

static X_AMZN_TRACE_ID: http::HeaderName = http::HeaderName::from_static("x-amzn-trace-id");

impl Exchange {
    pub fn new(parts: Parts, incoming: Incoming, remote: Option<SocketAddr>) -> Exchange {
        Exchange {
            request_id: nephos_core::request_id(),
            remote,
            version: parts.version,
            scope: auth::scope(&parts),
            req: HttpRequest {
                method: parts.method,
                uri: parts.uri,
                headers: parts.headers,
            },
            routed: None,
            incoming: Some(incoming),
            collected: None,
            issued: None,
            service: "-",
            target: None,
            operation: None,
            op: None,
            verified: None,
            body: None,
            input: None,
            ctx: None,
        }
    }

    fn header(&self, name: impl http::header::AsHeaderName) -> Option<&str> {
        self.req.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `Host` the client addressed.
    pub(crate) fn host(&self) -> Option<&str> {
        host_of(&self.req)
    }

    /// The request as sent.
    pub(crate) fn request(&self) -> &HttpRequest {
        &self.req
    }

    /// Names the service and operation of a request the model does not address (a
    /// function URL's), with the service's model for the signature check.
    pub(crate) fn claim(&mut self, service: &'static str, operation: &'static str) {
        self.service = service;
        self.operation = Some(operation);
        if let Some(model) = nephos_model::service(service) {
            let protocol = nephos_protocol::detect(model, &self.req);
            self.target = Some(Target {
                model,
                protocol,
                codec: nephos_protocol::codec(protocol),
            });
        }
    }

    /// The whole body, collected now if no stage has yet.
    pub(crate) async fn collect_body(&mut self) -> Result<Bytes, Stop> {
        if let Some(incoming) = self.incoming.take() {
            self.collected = Some(body::collect(incoming).await.map_err(Stop::Unclaimed)?);
        }
        Ok(self.collected.clone().unwrap_or_default())
    }

    /// The request as the codec sees it.
    fn routed(&self) -> &HttpRequest {
        self.routed.as_ref().unwrap_or(&self.req)
    }

    fn target(&self) -> Target {
        self.target.expect("stage runs after resolve_service")
    }

    fn op(&self) -> &'static Operation {
        self.op.expect("stage runs after resolve_operation")
    }
}

impl Gateway {
    /// The stages of a request to a service, in order.
    pub(crate) async fn serve_service(&self, ex: &mut Exchange) -> Result<Output, Stop> {
        self.function_url(ex).await?;
        self.read_form(ex).await?;
        self.resolve_service(ex)?;
        self.identify_caller(ex)?;
        self.route_data_plane(ex)?;
        self.serve_raw(ex).await?;
        self.resolve_operation(ex)?;
        self.authenticate(ex).await?;
        self.read_body(ex).await?;
        self.parse_input(ex)?;
        self.apply_conventions(ex)?;
        self.validate_input(ex)?;
        self.authorize(ex)?;
        self.invoke(ex).await
    }

    /// Query-protocol requests name their service only through `Action` in a form body,
    /// so a form is read before anything is resolved.
    async fn read_form(&self, ex: &mut Exchange) -> Stage {
        let is_form = ex.req.method == http::Method::POST
            && ex
                .header(http::header::CONTENT_TYPE)
                .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
        if is_form {
            let incoming = ex.incoming.take().expect("body not yet read");
            ex.collected = Some(body::collect(incoming).await.map_err(Stop::Unclaimed)?);
        }
        Ok(())
    }

    /// Which service the request is for, its model, and which of its protocols it speaks.
    fn resolve_service(&self, ex: &mut Exchange) -> Stage {
        let action = conventions::find_action(ex.req.uri.query(), ex.collected.as_deref());
        let clues = crate::resolve::Clues {
            target: ex.header(nephos_protocol::names::X_AMZ_TARGET),
            signing_name: ex.scope.service(),
            host: ex.header(http::header::HOST).or_else(|| ex.req.uri.host()),
            action: action.as_deref(),
            path: ex.req.uri.path(),
        };
        let service = match crate::resolve::resolve(&clues) {
            crate::resolve::Resolved::Service(s) => s,
            crate::resolve::Resolved::Unknown(name) => {
                return Err(Stop::Unclaimed(AwsError::new(
                    501,
                    "NotImplemented",
                    format!("the service {name} is not emulated by nephos"),
                )));
            }
        };
        let model = nephos_model::service(service).expect("resolved services are vendored");
        let protocol = nephos_protocol::detect(model, &ex.req);
        ex.service = service;
        ex.target = Some(Target {
            model,
            protocol,
            codec: nephos_protocol::codec(protocol),
        });
        Ok(())
    }

    /// Data-plane addressing the model does not describe: S3 virtual-host and website
    /// buckets move into the path the codec routes on.
    fn route_data_plane(&self, ex: &mut Exchange) -> Stage {
        ex.routed = s3host::route(ex.service, &ex.req);
        Ok(())
    }

    /// Requests a service defines outside its model (S3's browser-form POST Object) are
    /// answered whole by the service's raw handler.
    async fn serve_raw(&self, ex: &mut Exchange) -> Stage {
        let Some(name) = s3host::raw_operation(ex.service, ex.routed()) else {
            return Ok(());
        };
        ex.operation = Some(name);
        let ctx = self.context(ex, name);
        let stream = match (ex.collected.take(), ex.incoming.take()) {
            (Some(bytes), _) => ByteStream::from_bytes(bytes),
            (None, Some(incoming)) => body::into_stream(incoming, None),
            (None, None) => ByteStream::from_bytes(Bytes::new()),
        };
        let t = ex.target();
        let meta = ResponseMeta {
            request_id: &ex.request_id,
        };
        let resp = s3host::raw(self, &ctx, ex.routed(), stream, t.model, t.codec, meta).await;
        Err(Stop::Answered(resp))
    }

    /// The operation, found the way the protocol addresses operations.
    fn resolve_operation(&self, ex: &mut Exchange) -> Stage {
        let t = ex.target();
        let routed = ex.routed();
        // Some S3 operations share a URI template in the model; the gateway tells them apart.
        let op = match s3host::operation(ex.service, routed).and_then(|n| t.model.operation(n)) {
            Some(op) => op,
            None => t.codec.resolve(t.model, routed, ex.collected.as_deref())?,
        };
        ex.op = Some(op);
        ex.operation = Some(op.name.as_str());
        Ok(())
    }

    /// Credentials nephos issued (STS, IAM) for the signing key, which name the caller's
    /// account and principal. A key IAM made inactive or deleted works no more.
    pub(crate) fn identify_caller(&self, ex: &mut Exchange) -> Stage {
        let Some(key) = ex.scope.access_key_id() else {
            return Ok(());
        };
        ex.issued = self
            .credentials
            .iter()
            .find_map(|s| s.lookup(key))
            .map(Arc::new);
        if ex.issued.is_none() && self.credentials.iter().any(|s| s.revoked(key)) {
            return Err(Stop::Error(auth::invalid_token(ex.service)));
        }
        Ok(())
    }

    /// Expiry of issued credentials always; the signature with `--verify-signatures`,
    /// which may need the body's hash, so the body is collected first unless it streams.
    async fn authenticate(&self, ex: &mut Exchange) -> Stage {
        let t = ex.target();
        let op = ex.op();
        let needs_hash = self.config.verify_signatures && auth::needs_body_hash(&ex.scope, &ex.req);
        if ex.collected.is_none()
            && (needs_hash || !nephos_protocol::streams_input(t.model, op))
            && let Some(incoming) = ex.incoming.take()
        {
            ex.collected = Some(body::collect(incoming).await?);
        }
        let body = ex.collected.clone().filter(|_| needs_hash);
        let anonymous_allowed = op.authtype.as_deref() == Some("none")
            || op.auth.iter().any(|a| a == "smithy.api#noAuth");
        self.check_signature(ex, body.as_ref(), anonymous_allowed)
    }

    /// Expiry of issued credentials, and the signature with `--verify-signatures` (over
    /// `body`'s hash when the signature covers the body).
    pub(crate) fn check_signature(
        &self,
        ex: &mut Exchange,
        body: Option<&Bytes>,
        anonymous_allowed: bool,
    ) -> Stage {
        let t = ex.target();
        let needs_hash = self.config.verify_signatures && auth::needs_body_hash(&ex.scope, &ex.req);
        let hash = body
            .filter(|_| needs_hash)
            .map(|b| nephos_auth::sha256_hex(b));
        let check = auth::Check {
            verify_signatures: self.config.verify_signatures,
            default_secret: &self.config.default_secret_key,
            protocol: t.protocol,
            now_ms: self.clock.now_millis(),
            issued: ex.issued.as_deref(),
            anonymous_allowed,
            service: ex.service,
        };
        ex.verified = check.run(&ex.scope, &ex.req, hash.as_deref())?;
        Ok(())
    }

    /// The body as the codec takes it: whole, or a stream for streaming payload members,
    /// with aws-chunked framing (and its chunk signatures) taken off.
    async fn read_body(&self, ex: &mut Exchange) -> Stage {
        let chunked = auth::chunked_mode(&ex.req);
        let verified = ex.verified.as_ref();
        let body = match (ex.collected.take(), ex.incoming.take(), chunked) {
            (Some(bytes), _, Some(mode)) => Body::Full(auth::decode_collected(
                &ex.req,
                mode,
                verified,
                &bytes,
                ex.target().protocol,
            )?),
            (Some(bytes), _, None) => Body::Full(bytes),
            (None, Some(incoming), mode) => {
                let length = ex
                    .header(http::header::CONTENT_LENGTH)
                    .and_then(|v| v.parse().ok());
                let raw = body::into_stream(incoming, length);
                Body::Stream(match mode {
                    Some(mode) => auth::decode_stream(&ex.req, mode, verified, raw),
                    None => raw,
                })
            }
            (None, None, _) => Body::Full(Bytes::new()),
        };
        ex.body = Some(body);
        Ok(())
    }

    /// The input members, read from the URI, headers and body by the protocol's codec.
    fn parse_input(&self, ex: &mut Exchange) -> Stage {
        let t = ex.target();
        let body = ex.body.take().expect("body read");
        ex.input = Some(t.codec.parse(t.model, ex.op(), ex.routed(), body)?);
        Ok(())
    }

    /// Wire conventions of particular services that the models do not express.
    fn apply_conventions(&self, ex: &mut Exchange) -> Stage {
        let t = ex.target();
        let op = ex.op();
        let input = ex.input.as_mut().expect("input parsed");
        if auth::chunked_mode(&ex.req).is_some() {
            conventions::declared_trailer_checksum(t.model, op, &ex.req.headers, &mut input.value);
        }
        if ex.service == "sqs" {
            let host = host_of(&ex.req);
            conventions::queue_url_from_path(&mut input.value, op, t.model, &ex.req, host)?;
            conventions::sqs_required_members(&input.value, op, t.model)?;
        }
        Ok(())
    }

    /// The model's constraints: required members, lengths, ranges, patterns, enums.
    fn validate_input(&self, ex: &mut Exchange) -> Stage {
        let input = ex.input.as_ref().expect("input parsed");
        let model = ex.target().model;
        match nephos_protocol::validate::validate(model, ex.op(), &input.value) {
            Err(e) if !conventions::checked_by_handler(model, &e) => {
                Err(conventions::model_violation(model, e).into())
            }
            _ => Ok(()),
        }
    }

    /// With `--enforce-iam`, whether the caller's policies (and the resource's) let the
    /// request through. An account's root and anonymous callers are left to the services
    /// (resource policies, ACLs), as only IAM identities carry identity policies.
    fn authorize(&self, ex: &mut Exchange) -> Stage {
        let Some(authorizer) = &self.authorizer else {
            return Ok(());
        };
        if ex.issued.is_none() {
            return Ok(());
        }
        let op = ex.op();
        let ctx = self.context(ex, &op.name);
        let provider = self.providers.get(ex.service);
        let facts = |arn: &str| {
            provider.map_or_else(nephos_core::ResourceFacts::default, |p| {
                p.resource_facts(&ctx, arn)
            })
        };
        let input = ex.input.as_ref().expect("input parsed");
        let outcome = authorizer.authorize(&ctx, &input.value, &facts);
        let mut ctx = ctx;
        let outcome = outcome.map(|refused| {
            if !refused.is_empty() {
                ctx.refused = Some(refused.into());
            }
        });
        ex.ctx = Some(ctx);
        outcome.map_err(Stop::Error)
    }

    /// The service's handler, or 501 for an operation it does not implement.
    async fn invoke(&self, ex: &mut Exchange) -> Result<Output, Stop> {
        let op = ex.op();
        let provider = self
            .providers
            .get(ex.service)
            .filter(|p| p.operations().contains(&op.name.as_str()))
            .ok_or_else(|| AwsError::not_implemented(ex.service, &op.name))?;
        let ctx = match ex.ctx.take() {
            Some(ctx) => ctx,
            None => self.context(ex, &op.name),
        };
        let input = ex.input.take().expect("input parsed");
        provider.handle(&ctx, input).await.map_err(|e| {
            if e.status >= 500 && e.status != 501 {
                tracing::warn!(service = ex.service, operation = %op.name, code = %e.code, message = %e.message, "server error");
            }
            Stop::Error(e)
        })
    }

    /// The output or error in the protocol's framing, with the service's own finishing.
    pub(crate) fn respond(&self, ex: &Exchange, outcome: Result<Output, Stop>) -> HttpResponse {
        let meta = ResponseMeta {
            request_id: &ex.request_id,
        };
        let mut resp = match (outcome, ex.target) {
            (Err(Stop::Answered(resp)), _) => return resp,
            // Before a service claims the request there is no protocol to frame it in.
            (Err(Stop::Unclaimed(e)), _) | (Err(Stop::Error(e)), None) => {
                return plain_error(&e, &ex.request_id);
            }
            (Ok(output), Some(t)) => t.codec.serialize(t.model, ex.op(), output, meta),
            (Err(Stop::Error(e)), Some(t)) => t.codec.serialize_error(
                t.model,
                ex.op,
                &conventions::query_compatible_code(t.model, t.protocol, e),
                meta,
            ),
            (Ok(_), None) => unreachable!("outputs come from resolved services"),
        };
        if let Some(name) = ex.operation {
            s3host::finish(ex.service, name, &mut resp);
        }
        resp
    }

    pub(crate) fn context(&self, ex: &Exchange, operation: &str) -> RequestContext {
        let key = ex.scope.access_key_id();
        let account_id = match (&ex.issued, key) {
            (Some(c), _) => c.account_id.clone(),
            (None, Some(k)) if nephos_core::is_account_id(k) => k.to_owned(),
            _ => self.config.default_account.clone(),
        };
        let caller_arn = ex
            .issued
            .as_ref()
            .map(|c| c.principal_arn.clone())
            .unwrap_or_else(|| format!("arn:aws:iam::{account_id}:root"));
        RequestContext {
            request_id: ex.request_id.clone(),
            account_id,
            region: ex
                .scope
                .region()
                .map_or_else(|| self.config.default_region.clone(), str::to_owned),
            service: ex.service,
            operation: operation.to_owned(),
            anonymous: key.is_none(),
            access_key_id: key.map(str::to_owned),
            caller_arn,
            credential: ex.issued.clone(),
            source_ip: ex.remote.map(|a| a.ip()),
            host: ex.host().map(str::to_owned),
            // Only S3 logs requests as sent (server access logs); nothing else pays for this.
            wire: (ex.service == "s3").then(|| conventions::wire_summary(&ex.req, ex.version)),
            trace_header: ex.header(&X_AMZN_TRACE_ID).map(str::to_owned),
            refused: None,
            clock: self.clock.clone(),
        }
    }
}

/// The `Host` a request addressed (with its port), from the header or an absolute URI.
fn host_of(req: &HttpRequest) -> Option<&str> {
    host_in(&req.headers, &req.uri)
}

/// [`host_of`] for a request not yet made an exchange.
pub(crate) fn host_of_parts(parts: &Parts) -> Option<&str> {
    host_in(&parts.headers, &parts.uri)
}

fn host_in<'a>(headers: &'a http::HeaderMap, uri: &'a http::Uri) -> Option<&'a str> {
    headers
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| uri.authority().map(|a| a.as_str()))
}

/// An error for a request no service could claim, framed as JSON.
fn plain_error(err: &AwsError, request_id: &str) -> HttpResponse {
    let body = serde_json::json!({"__type": err.code, "message": err.message});
    let mut headers = http::HeaderMap::new();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    if let Ok(v) = http::HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-requestid", v);
    }
    HttpResponse {
        status: err.status,
        headers,
        body: Body::Full(body.to_string().into()),
    }
}
