//! The Lambda Runtime API as typed calls, between the Lambda service (which owns execution
//! environments) and the HTTP server that a function's runtime talks to.
//!
//! Service crates never see HTTP, yet a function's runtime interface client speaks HTTP to
//! `AWS_LAMBDA_RUNTIME_API`. So the service implements [`RuntimeHandler`] for each
//! environment and asks a [`RuntimeServer`] (wired by the binary, built on the gateway's
//! HTTP stack) to serve it on a loopback listener.
//!
//! A runtime may stream its response (`Lambda-Runtime-Function-Response-Mode: streaming`,
//! a chunked body, an error in its trailers): the server hands the parts on through a
//! [`StreamSink`] as they arrive, so the caller sees them before the function finishes.

use crate::BoxFuture;
use bytes::Bytes;
use std::sync::Arc;

/// One invocation as `GET /2018-06-01/runtime/invocation/next` hands it out.
#[derive(Debug, Clone)]
pub struct NextInvocation {
    pub request_id: String,
    /// Wall-clock milliseconds since the epoch (`Lambda-Runtime-Deadline-Ms`).
    pub deadline_ms: i64,
    pub function_arn: String,
    pub trace_id: Option<String>,
    /// The client context JSON, as the caller sent it (decoded from base64).
    pub client_context: Option<String>,
    pub cognito_identity: Option<String>,
    pub payload: Bytes,
}

/// Why the Runtime API refuses a call (answered as AWS's `{"errorMessage","errorType"}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeRefusal {
    pub status: u16,
    pub error_type: &'static str,
    pub message: String,
}

impl RuntimeRefusal {
    pub fn new(status: u16, error_type: &'static str, message: impl Into<String>) -> Self {
        RuntimeRefusal {
            status,
            error_type,
            message: message.into(),
        }
    }
}

/// A function error as the runtime reports it: `Lambda-Runtime-Function-Error-Type` and
/// the JSON body (`errorMessage`, `errorType`, `stackTrace`).
#[derive(Debug, Clone)]
pub struct ReportedError {
    pub error_type: Option<String>,
    pub body: Bytes,
}

/// One part of a streamed response, in the order the runtime sent them.
#[derive(Debug)]
pub enum StreamPart {
    Data(Bytes),
    /// The runtime ended the stream with an error (`Lambda-Runtime-Function-Error-Type`
    /// and the decoded `Lambda-Runtime-Function-Error-Body` trailers, or a size limit).
    Failed(ReportedError),
    /// The stream ended normally. A sink dropped without `End` or `Failed` means the
    /// runtime's connection broke off mid-stream.
    End,
}

/// Where the parts of a streamed response go. Bounded: a slow caller slows the runtime's
/// writes down instead of filling memory.
pub type StreamSink = tokio::sync::mpsc::Sender<StreamPart>;

/// One execution environment's side of the Runtime API.
pub trait RuntimeHandler: Send + Sync + 'static {
    /// Waits for the next invocation; `None` when the environment is being shut down
    /// (the server then holds the request open until the process is ended).
    fn next(&self) -> BoxFuture<'_, Option<NextInvocation>>;

    /// The function's result for `request_id`.
    fn response(&self, request_id: &str, body: Bytes) -> Result<(), RuntimeRefusal>;

    /// A streamed response for `request_id` begins (its `Content-Type` as posted): its
    /// parts go to the returned sink as they arrive.
    fn response_stream(
        &self,
        request_id: &str,
        content_type: Option<String>,
    ) -> Result<StreamSink, RuntimeRefusal> {
        let _ = (request_id, content_type);
        Err(RuntimeRefusal::new(
            400,
            "InvalidRequest",
            "this environment takes no streamed responses",
        ))
    }

    /// The function failed for `request_id`.
    fn error(&self, request_id: &str, error: ReportedError) -> Result<(), RuntimeRefusal>;

    /// The runtime failed to initialise (`/runtime/init/error`).
    fn init_error(&self, error: ReportedError) -> Result<(), RuntimeRefusal>;

    /// The largest body the runtime may post: AWS allows 6 MB and 100 bytes for a
    /// synchronous invocation's response.
    fn response_limit(&self) -> usize {
        6 * 1024 * 1024 + 100
    }

    /// The most a streamed response may carry: AWS's default maximum for response
    /// streaming is 200 MB (it was 20 MB until July 2025).
    fn stream_limit(&self) -> usize {
        200 * 1024 * 1024
    }

    /// `POST /2020-01-01/extension/register` from an external extension: its identifier
    /// and the JSON body AWS answers with.
    fn extension_register(
        &self,
        _registration: ExtensionRegistration,
    ) -> Result<(String, Bytes), RuntimeRefusal> {
        Err(no_extensions())
    }

    /// `GET /2020-01-01/extension/event/next`: the next lifecycle event's JSON. A future
    /// that never resolves holds the request open until the environment ends.
    fn extension_next(&self, _id: Option<&str>) -> BoxFuture<'_, Result<Bytes, RuntimeRefusal>> {
        Box::pin(async { Err(no_extensions()) })
    }

    /// `POST /2020-01-01/extension/init/error` (`exit` false) or `.../exit/error`.
    fn extension_error(
        &self,
        _id: Option<&str>,
        _exit: bool,
        _error: ReportedError,
    ) -> Result<(), RuntimeRefusal> {
        Err(no_extensions())
    }
}

/// A register call as the extension made it.
#[derive(Debug, Clone)]
pub struct ExtensionRegistration {
    /// `Lambda-Extension-Name`.
    pub name: Option<String>,
    /// `Lambda-Extension-Accept-Feature` (`accountId` adds the account to the answer).
    pub accept_feature: Option<String>,
    pub body: Bytes,
}

fn no_extensions() -> RuntimeRefusal {
    RuntimeRefusal::new(
        404,
        "InvalidRequest",
        "this environment serves no Extensions API",
    )
}

/// Serves the Runtime API over HTTP for one environment.
pub trait RuntimeServer: Send + Sync + 'static {
    /// Serves `handler` on `listener` (bound on loopback) until `handler.next()` has
    /// returned `None` and the listener is dropped with the returned guard.
    fn serve(
        &self,
        listener: std::net::TcpListener,
        handler: Arc<dyn RuntimeHandler>,
    ) -> ServeGuard;
}

/// Ends a served Runtime API when dropped.
pub struct ServeGuard(pub Box<dyn Send + Sync>);

impl std::fmt::Debug for ServeGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServeGuard")
    }
}
