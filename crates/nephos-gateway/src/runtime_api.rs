//! The Lambda Runtime API over HTTP/1.1 (`/2018-06-01/runtime/...`), served per execution
//! environment on a loopback listener and translated into [`RuntimeHandler`] calls.
//!
//! Runtime interface clients (nephos's own bootstraps, `awslambdaric`, `aws-lambda-ric`, a
//! custom runtime's `bootstrap`) long-poll `invocation/next` on one keep-alive connection,
//! so every connection gets its own task and `next` may wait without a timeout.
//!
//! A response posted with `Lambda-Runtime-Function-Response-Mode: streaming` is not
//! collected: its chunks go to the handler's [`StreamSink`] frame by frame, and an error
//! reported in the trailers ends the stream.
//!
//! External extensions share the listener: the Extensions API (`/2020-01-01/extension/...`)
//! is answered from the same handler.

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use nephos_core::runtime::{
    ExtensionRegistration, ReportedError, RuntimeHandler, RuntimeRefusal, RuntimeServer,
    ServeGuard, StreamPart,
};
use std::sync::Arc;

const PREFIX: &str = "/2018-06-01/runtime/";
const EXTENSION_PREFIX: &str = "/2020-01-01/extension/";

/// The HTTP side of the Runtime API, built on hyper.
#[derive(Debug, Default)]
pub struct HyperRuntimeServer;

impl RuntimeServer for HyperRuntimeServer {
    fn serve(
        &self,
        listener: std::net::TcpListener,
        handler: Arc<dyn RuntimeHandler>,
    ) -> ServeGuard {
        let task = tokio::spawn(async move {
            let _ = listener.set_nonblocking(true);
            let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                return;
            };
            let mut connections = tokio::task::JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let handler = handler.clone();
                connections.spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let handler = handler.clone();
                        async move { Ok::<_, std::convert::Infallible>(answer(&*handler, req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
                // Finished connections are reaped as new ones arrive.
                while connections.try_join_next().is_some() {}
            }
        });
        ServeGuard(Box::new(AbortOnDrop(task)))
    }
}

/// Dropping the guard ends the accept loop and, with its `JoinSet`, every connection.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn answer(handler: &dyn RuntimeHandler, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_owned();
    if let Some(rest) = path.strip_prefix(EXTENSION_PREFIX) {
        return extension(handler, rest.to_owned(), req).await;
    }
    let Some(rest) = path.strip_prefix(PREFIX) else {
        return refusal(&RuntimeRefusal::new(
            404,
            "InvalidRequest",
            format!("no such Runtime API route: {path}"),
        ));
    };
    let method = req.method().clone();
    if method == Method::GET && rest == "invocation/next" {
        return match handler.next().await {
            Some(inv) => next_response(inv),
            // The environment is ending: hold the request until the process is killed.
            None => std::future::pending().await,
        };
    }
    if method != Method::POST {
        return refusal(&RuntimeRefusal::new(
            405,
            "InvalidRequest",
            "method not allowed",
        ));
    }
    if let Some(id) = rest
        .strip_prefix("invocation/")
        .and_then(|r| r.strip_suffix("/response"))
        && req
            .headers()
            .get("lambda-runtime-function-response-mode")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"streaming"))
    {
        let id = id.to_owned();
        return stream_response(handler, &id, req).await;
    }
    let error_type = req
        .headers()
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let limit = handler.response_limit();
    let body = match Limited::new(req.into_body(), limit).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            let message = format!(
                "Response payload size exceeded maximum allowed payload size ({limit} bytes)."
            );
            // The invocation ends with that error at once, as on AWS; the runtime hears
            // 413 and goes on to its next invocation.
            if let Some(id) = rest
                .strip_prefix("invocation/")
                .and_then(|r| r.strip_suffix("/response"))
            {
                let error = serde_json::json!({
                    "errorMessage": message,
                    "errorType": "Function.ResponseSizeTooLarge",
                });
                let _ = handler.error(
                    id,
                    ReportedError {
                        error_type: Some("Function.ResponseSizeTooLarge".into()),
                        body: error.to_string().into(),
                    },
                );
            }
            return refusal(&RuntimeRefusal::new(413, "RequestEntityTooLarge", message));
        }
    };
    let result = if rest == "init/error" {
        handler.init_error(ReportedError { error_type, body })
    } else if let Some(id) = rest.strip_prefix("invocation/") {
        match id.rsplit_once('/') {
            Some((id, "response")) => handler.response(id, body),
            Some((id, "error")) => handler.error(id, ReportedError { error_type, body }),
            _ => Err(RuntimeRefusal::new(404, "InvalidRequest", "no such route")),
        }
    } else {
        Err(RuntimeRefusal::new(404, "InvalidRequest", "no such route"))
    };
    match result {
        Ok(()) => json(StatusCode::ACCEPTED, r#"{"status":"OK"}"#.into()),
        Err(r) => refusal(&r),
    }
}

/// A streamed response: each data frame goes on as it arrives; the trailers may end it
/// with an error instead of success.
async fn stream_response(
    handler: &dyn RuntimeHandler,
    id: &str,
    req: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let content_type = req
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let sink = match handler.response_stream(id, content_type) {
        Ok(sink) => sink,
        Err(r) => return refusal(&r),
    };
    let limit = handler.stream_limit();
    let mut body = req.into_body();
    let mut sent = 0usize;
    // Once the caller has gone, the runtime still writes its stream to the end (as on
    // AWS, the function runs on), into nothing.
    let mut open = true;
    let mut failed = false;
    loop {
        let frame = match body.frame().await {
            None => break,
            Some(Ok(frame)) => frame,
            // The runtime's connection broke: the sink goes without an end, which the
            // invoker reads as a truncated response.
            Some(Err(_)) => {
                return refusal(&RuntimeRefusal::new(
                    400,
                    "InvalidRequest",
                    "the response stream broke off",
                ));
            }
        };
        match frame.into_data() {
            Ok(data) => {
                sent += data.len();
                if sent > limit {
                    let message = format!(
                        "Response payload size exceeded maximum allowed payload size ({limit} bytes)."
                    );
                    let error = serde_json::json!({
                        "errorMessage": message,
                        "errorType": "Function.ResponseSizeTooLarge",
                    });
                    let _ = sink
                        .send(StreamPart::Failed(ReportedError {
                            error_type: Some("Function.ResponseSizeTooLarge".into()),
                            body: error.to_string().into(),
                        }))
                        .await;
                    return refusal(&RuntimeRefusal::new(413, "RequestEntityTooLarge", message));
                }
                if open && !data.is_empty() && sink.send(StreamPart::Data(data)).await.is_err() {
                    open = false;
                }
            }
            Err(frame) => {
                if let Ok(trailers) = frame.into_trailers()
                    && let Some(error) = trailer_error(&trailers)
                    && !failed
                {
                    failed = true;
                    let _ = sink.send(StreamPart::Failed(error)).await;
                }
            }
        }
    }
    if !failed {
        let _ = sink.send(StreamPart::End).await;
    }
    json(StatusCode::ACCEPTED, r#"{"status":"OK"}"#.into())
}

/// The error a runtime reports in a streamed response's trailers: its type and its JSON
/// body, sent base64-encoded (a body that is no base64 is taken as it is).
fn trailer_error(trailers: &http::HeaderMap) -> Option<ReportedError> {
    let error_type = trailers
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = trailers
        .get("lambda-runtime-function-error-body")
        .and_then(|v| v.to_str().ok());
    if error_type.is_none() && body.is_none() {
        return None;
    }
    let body = match body {
        Some(b) => {
            nephos_protocol::xml::decode_base64(b).unwrap_or_else(|| Bytes::from(b.to_owned()))
        }
        None => serde_json::json!({
            "errorType": error_type.as_deref().unwrap_or("Unhandled"),
            "errorMessage": "",
        })
        .to_string()
        .into(),
    };
    Some(ReportedError { error_type, body })
}

/// The Extensions API: register, event/next, init/error and exit/error.
async fn extension(
    handler: &dyn RuntimeHandler,
    rest: String,
    req: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let id = header("lambda-extension-identifier");
    let name = header("lambda-extension-name");
    let accept_feature = header("lambda-extension-accept-feature");
    let error_type = header("lambda-extension-function-error-type");
    let method = req.method().clone();
    let result = match (method, rest.as_str()) {
        (Method::GET, "event/next") => match handler.extension_next(id.as_deref()).await {
            Ok(event) => Ok((StatusCode::OK, event)),
            Err(r) => Err(r),
        },
        (Method::POST, "register" | "init/error" | "exit/error") => {
            let body = match Limited::new(req.into_body(), 1024 * 1024).collect().await {
                Ok(b) => b.to_bytes(),
                Err(_) => {
                    return refusal(&RuntimeRefusal::new(
                        413,
                        "RequestEntityTooLarge",
                        "request body too large",
                    ));
                }
            };
            if rest == "register" {
                let registration = ExtensionRegistration {
                    name,
                    accept_feature,
                    body,
                };
                match handler.extension_register(registration) {
                    Ok((id, body)) => {
                        let mut r = json(StatusCode::OK, body);
                        if let Ok(v) = http::HeaderValue::from_str(&id) {
                            r.headers_mut().insert("lambda-extension-identifier", v);
                        }
                        return r;
                    }
                    Err(r) => Err(r),
                }
            } else {
                let error = ReportedError { error_type, body };
                handler
                    .extension_error(id.as_deref(), rest == "exit/error", error)
                    .map(|()| {
                        (
                            StatusCode::ACCEPTED,
                            Bytes::from_static(br#"{"status":"OK"}"#),
                        )
                    })
            }
        }
        _ => Err(RuntimeRefusal::new(
            404,
            "InvalidRequest",
            format!("no such Extensions API route: {rest}"),
        )),
    };
    match result {
        Ok((status, body)) => {
            let mut r = json(status, body);
            if let Some(v) = id.and_then(|id| http::HeaderValue::from_str(&id).ok()) {
                r.headers_mut().insert("lambda-extension-identifier", v);
            }
            r
        }
        Err(r) => refusal(&r),
    }
}

fn next_response(inv: nephos_core::runtime::NextInvocation) -> Response<Full<Bytes>> {
    let mut b = Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .header("lambda-runtime-aws-request-id", &inv.request_id)
        .header("lambda-runtime-deadline-ms", inv.deadline_ms.to_string())
        .header("lambda-runtime-invoked-function-arn", &inv.function_arn);
    if let Some(t) = &inv.trace_id {
        b = b.header("lambda-runtime-trace-id", t);
    }
    if let Some(c) = &inv.client_context {
        b = b.header("lambda-runtime-client-context", c);
    }
    if let Some(c) = &inv.cognito_identity {
        b = b.header("lambda-runtime-cognito-identity", c);
    }
    b.body(Full::new(inv.payload))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

fn refusal(r: &RuntimeRefusal) -> Response<Full<Bytes>> {
    let body = serde_json::json!({"errorMessage": r.message, "errorType": r.error_type});
    json(
        StatusCode::from_u16(r.status).unwrap_or(StatusCode::BAD_REQUEST),
        body.to_string().into(),
    )
}

fn json(status: StatusCode, body: Bytes) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailers_report_a_mid_stream_error() {
        let mut t = http::HeaderMap::new();
        assert!(trailer_error(&t).is_none());
        t.insert(
            "lambda-runtime-function-error-type",
            http::HeaderValue::from_static("TypeError"),
        );
        // base64 of {"errorMessage":"x"}
        t.insert(
            "lambda-runtime-function-error-body",
            http::HeaderValue::from_static("eyJlcnJvck1lc3NhZ2UiOiJ4In0="),
        );
        let e = trailer_error(&t).unwrap();
        assert_eq!(e.error_type.as_deref(), Some("TypeError"));
        assert_eq!(&e.body[..], br#"{"errorMessage":"x"}"#);
        t.remove("lambda-runtime-function-error-body");
        let e = trailer_error(&t).unwrap();
        let body: serde_json::Value = serde_json::from_slice(&e.body).unwrap();
        assert_eq!(body["errorType"], "TypeError");
    }
}
