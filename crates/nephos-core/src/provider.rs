//! The contract between the gateway and a service.

use crate::{AwsError, RequestContext, Value};
use bytes::Bytes;
use futures_core::Stream;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A body that is streamed, never held whole: S3 objects, Lambda code uploads.
pub struct ByteStream {
    /// The exact length when it is known up front (`Content-Length`, decoded chunk sizes).
    pub length: Option<u64>,
    pub stream: Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send>>,
    /// Trailing headers of an aws-chunked upload (`x-amz-checksum-crc32`, ...), set once
    /// the stream has been read to its end.
    pub trailers: Arc<OnceLock<Vec<(String, String)>>>,
}

impl ByteStream {
    pub fn new(
        length: Option<u64>,
        stream: impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
    ) -> Self {
        ByteStream {
            length,
            stream: Box::pin(stream),
            trailers: Arc::default(),
        }
    }

    /// A body held in memory (in-process calls that send one, like PutObject).
    pub fn from_bytes(data: impl Into<Bytes>) -> Self {
        struct Once(Option<Bytes>);
        impl Stream for Once {
            type Item = Result<Bytes, std::io::Error>;
            fn poll_next(
                mut self: Pin<&mut Self>,
                _: &mut std::task::Context<'_>,
            ) -> std::task::Poll<Option<Self::Item>> {
                std::task::Poll::Ready(self.0.take().map(Ok))
            }
        }
        let data = data.into();
        ByteStream::new(Some(data.len() as u64), Once(Some(data)))
    }

    /// Reads the whole body into memory.
    pub async fn read_all(self) -> Result<Vec<u8>, std::io::Error> {
        self.read_at_most(usize::MAX)
            .await?
            .ok_or_else(|| std::io::ErrorKind::OutOfMemory.into())
    }

    /// Reads the whole body into memory unless it is longer than `limit` bytes (`None`),
    /// so a body from anyone cannot exhaust memory.
    pub async fn read_at_most(mut self, limit: usize) -> Result<Option<Vec<u8>>, std::io::Error> {
        let mut out = Vec::new();
        while let Some(chunk) = std::future::poll_fn(|cx| self.stream.as_mut().poll_next(cx)).await
        {
            let chunk = chunk?;
            if out.len() + chunk.len() > limit {
                return Ok(None);
            }
            out.extend_from_slice(&chunk);
        }
        Ok(Some(out))
    }
}

impl std::fmt::Debug for ByteStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ByteStream({:?})", self.length)
    }
}

/// A parsed, validated request.
#[derive(Debug, Default)]
pub struct Input {
    pub value: Value,
    /// The streaming payload member's body, for operations whose model streams it.
    pub body: Option<ByteStream>,
}

/// The events of an event stream response (S3 SelectObjectContent, Lambda
/// InvokeWithResponseStream, Kinesis SubscribeToShard), produced while the response is sent.
///
/// Each item is a `Value::Map` with exactly one key, the member of the operation's
/// eventstream union naming the event: `{"Records": {"Payload": Blob}}`. An `Err` ends the
/// stream: the codec sends it as the union's modelled exception event when one matches the
/// error code, else as an unmodelled `:message-type error` message.
pub struct EventStream {
    pub stream: Pin<Box<dyn Stream<Item = Result<Value, AwsError>> + Send>>,
}

impl EventStream {
    pub fn new(stream: impl Stream<Item = Result<Value, AwsError>> + Send + 'static) -> Self {
        EventStream {
            stream: Box::pin(stream),
        }
    }
}

impl Stream for EventStream {
    type Item = Result<Value, AwsError>;

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.stream.as_mut().poll_next(cx)
    }
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EventStream")
    }
}

/// What a handler answers.
#[derive(Debug, Default)]
pub struct Output {
    pub value: Value,
    /// The streaming payload member's body.
    pub body: Option<ByteStream>,
    /// The events of an operation whose output streams events; `value` then holds the
    /// other output members (headers, or the `initial-response` of the RPC protocols).
    pub events: Option<EventStream>,
    /// A success status the API documents besides the operation's usual one (S3's
    /// RestoreObject answers 202 when it starts a restore, 200 when one is done).
    pub status: Option<u16>,
}

impl Output {
    pub fn new(value: Value) -> Output {
        Output {
            value,
            body: None,
            events: None,
            status: None,
        }
    }

    /// An event stream response: `value` holds the non-stream output members.
    pub fn with_events(value: Value, events: EventStream) -> Output {
        Output {
            value,
            body: None,
            events: Some(events),
            status: None,
        }
    }
}

impl From<Value> for Output {
    fn from(value: Value) -> Output {
        Output::new(value)
    }
}

/// A service: state plus the handlers of the operations it implements.
pub trait Provider: Send + Sync + 'static {
    /// The botocore name of the service (`sts`), which selects its model.
    fn service(&self) -> &'static str;

    /// The operations this provider implements; every other operation of the model answers
    /// 501 without reaching [`Provider::handle`]. Also the source of docs/coverage.md.
    fn operations(&self) -> &'static [&'static str];

    /// Runs one operation. `input` has been validated against the model.
    fn handle<'a>(
        &'a self,
        ctx: &'a RequestContext,
        input: Input,
    ) -> BoxFuture<'a, Result<Output, AwsError>>;

    /// Forgets all state (`POST /_nephos/reset`).
    fn reset(&self) {}

    /// The owner, resource-based policy and tags of the resource `arn` in the caller's
    /// account and region, for the authorizer under `--enforce-iam`. The default knows
    /// nothing: no policy, no tags, the caller's own account.
    fn resource_facts(&self, ctx: &RequestContext, arn: &str) -> crate::ResourceFacts {
        let _ = (ctx, arn);
        crate::ResourceFacts::default()
    }

    /// Answers a service's own internal endpoint `/_nephos/<service>/<path>` (an outbox,
    /// a certificate): `Some((status, content type, body))`, or `None` when `path` is not
    /// one of its endpoints.
    fn internal(&self, method: &str, path: &str, body: &[u8]) -> Option<(u16, String, Vec<u8>)> {
        let _ = (method, path, body);
        None
    }

    /// Answers a request the service defines outside its model (S3's browser-based POST
    /// Object, whose form the service parses itself), routed by the gateway under the
    /// operation name in `ctx.operation`. Errors are serialized as the service's errors.
    fn handle_raw<'a>(
        &'a self,
        ctx: &'a RequestContext,
        request: RawRequest,
    ) -> BoxFuture<'a, Result<RawResponse, AwsError>> {
        let _ = request;
        Box::pin(async move { Err(AwsError::not_implemented(ctx.service, &ctx.operation)) })
    }

    /// Answers a cross-origin request to a resource with its own CORS rules (an S3
    /// bucket): `None` leaves it to the gateway's permissive answer; `Some(Ok(headers))`
    /// allows it with those headers; `Some(Err(e))` refuses a preflight with `e` (and adds
    /// no CORS headers to an actual request).
    fn cors(&self, request: &CorsRequest<'_>) -> Option<Result<Vec<(String, String)>, AwsError>> {
        let _ = request;
        None
    }
}

/// A request outside the service's model, as [`Provider::handle_raw`] sees it: text and
/// bytes, no HTTP types.
#[derive(Debug)]
pub struct RawRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path as routed (an S3 virtual-host bucket already moved into it).
    pub path: String,
    /// The query string as sent (without `?`).
    pub query: String,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: ByteStream,
}

/// The answer to a [`RawRequest`].
#[derive(Debug, Default)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    /// A body sent as it is produced, after `body` (a Lambda function URL in
    /// `RESPONSE_STREAM` mode); an error from it cuts the answer off.
    pub stream: Option<ByteStream>,
}

/// A cross-origin request as [`Provider::cors`] sees it.
#[derive(Debug)]
pub struct CorsRequest<'a> {
    /// The resource the rules belong to (the bucket).
    pub resource: &'a str,
    /// The `Origin` header, when sent.
    pub origin: Option<&'a str>,
    /// `Access-Control-Request-Method` of a preflight, else the request's own method.
    pub method: &'a str,
    /// `Access-Control-Request-Headers` of a preflight (lower case).
    pub headers: Vec<String>,
    pub preflight: bool,
}

/// In-process calls between services (CloudFormation creating a queue, SNS delivering to
/// SQS): the same validation and handlers as the wire, without HTTP.
pub trait Dispatch: Send + Sync {
    fn call<'a>(
        &'a self,
        ctx: &'a RequestContext,
        service: &'a str,
        operation: &'a str,
        input: Value,
    ) -> BoxFuture<'a, Result<Value, AwsError>>;

    /// Like [`Dispatch::call`] with a streaming body in and out (S3 objects).
    fn call_input<'a>(
        &'a self,
        ctx: &'a RequestContext,
        service: &'a str,
        operation: &'a str,
        input: Input,
    ) -> BoxFuture<'a, Result<Output, AwsError>> {
        Box::pin(async move {
            if input.body.is_some() {
                return Err(AwsError::internal("this dispatcher cannot send bodies"));
            }
            let value = self.call(ctx, service, operation, input.value).await?;
            Ok(Output::new(value))
        })
    }

    /// Asks the services that keep MFA devices whether a one-time code is right (see
    /// [`crate::CredentialStore::verify_mfa`]): no AWS operation checks a single code, and
    /// the device's seed never leaves IAM.
    fn verify_mfa(&self, code: &crate::MfaCode<'_>) -> Option<bool> {
        let _ = code;
        None
    }

    /// With `--enforce-iam`, asks the authorizer about a request a service receives
    /// outside its model (a function URL's, as `ctx.operation`), given as the input the
    /// operation would have; `Ok` when no authorizer is installed or the caller is no IAM
    /// identity.
    fn authorize(&self, ctx: &RequestContext, input: &Value) -> Result<(), AwsError> {
        let _ = (ctx, input);
        Ok(())
    }
}

/// A late-bound handle to the dispatcher. Providers are built before the gateway that
/// dispatches for them, so they keep this handle and the binary fills it once the
/// gateway exists.
#[derive(Clone, Default)]
pub struct Dispatcher(Arc<OnceLock<Arc<dyn Dispatch>>>);

impl Dispatcher {
    pub fn new() -> Dispatcher {
        Dispatcher::default()
    }

    /// Installs the dispatcher; later calls are ignored.
    pub fn set(&self, dispatch: Arc<dyn Dispatch>) {
        let _ = self.0.set(dispatch);
    }

    /// Whether calls can go out yet (work resumed at start waits for this).
    pub fn is_wired(&self) -> bool {
        self.0.get().is_some()
    }

    /// Calls `service.operation` in process, as the caller in `ctx` (same account and
    /// region), with the model's validation.
    pub async fn call(
        &self,
        ctx: &RequestContext,
        service: &str,
        operation: &str,
        input: Value,
    ) -> Result<Value, AwsError> {
        match self.0.get() {
            Some(d) => d.call(ctx, service, operation, input).await,
            None => Err(AwsError::internal("the in-process dispatcher is not wired")),
        }
    }

    /// See [`Dispatch::authorize`].
    pub fn authorize(&self, ctx: &RequestContext, input: &Value) -> Result<(), AwsError> {
        match self.0.get() {
            Some(d) => d.authorize(ctx, input),
            None => Ok(()),
        }
    }

    /// See [`Dispatch::verify_mfa`]; `None` before the dispatcher is wired.
    pub fn verify_mfa(&self, code: &crate::MfaCode<'_>) -> Option<bool> {
        self.0.get()?.verify_mfa(code)
    }
}

impl Dispatcher {
    /// [`Dispatcher::call`] with the request body and the whole output (its body too).
    pub async fn call_input(
        &self,
        ctx: &RequestContext,
        service: &str,
        operation: &str,
        input: Input,
    ) -> Result<Output, AwsError> {
        match self.0.get() {
            Some(d) => d.call_input(ctx, service, operation, input).await,
            None => Err(AwsError::internal("the in-process dispatcher is not wired")),
        }
    }
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() {
            "Dispatcher(wired)"
        } else {
            "Dispatcher(unwired)"
        })
    }
}
