//! nephos's own endpoints: health, reset and the clock.
//!
//! Also served under `/_localstack/` so that tools written for LocalStack (health checks,
//! `awslocal`-style wait loops) work unchanged.

use crate::{Gateway, ResBody, body};
use http::{Method, Response, StatusCode, request::Parts};
use hyper::body::Incoming;
use serde_json::{Value as Json, json};
use std::time::Duration;

/// Whether `path` is one of nephos's own endpoints rather than a service's.
pub fn claims(path: &str) -> bool {
    path.starts_with("/_nephos/") || path.starts_with("/_localstack/")
}

pub async fn handle(gw: &Gateway, parts: Parts, body: Incoming) -> Response<ResBody> {
    let path = parts.uri.path();
    let name = path
        .strip_prefix("/_nephos/")
        .or_else(|| path.strip_prefix("/_localstack/"))
        .unwrap_or_default()
        .trim_end_matches('/');
    match (&parts.method, name) {
        (&Method::GET | &Method::HEAD, "health") => json_response(StatusCode::OK, health(gw)),
        (&Method::POST, "reset") => {
            for p in gw.providers() {
                p.reset();
            }
            if let Err(e) = gw.storage.clear() {
                return json_response(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    json!({"error": e.to_string()}),
                );
            }
            json_response(StatusCode::OK, json!({"reset": true}))
        }
        (&Method::GET, "clock") => json_response(StatusCode::OK, clock_state(gw)),
        (&Method::POST, "clock") => {
            let bytes = match body::collect(body).await {
                Ok(b) => b,
                Err(e) => {
                    return json_response(StatusCode::BAD_REQUEST, json!({"error": e.message}));
                }
            };
            let request: Json = serde_json::from_slice(&bytes).unwrap_or(Json::Null);
            let Some(secs) = request
                .get("advance_seconds")
                .and_then(Json::as_f64)
                .filter(|s| *s >= 0.0)
            else {
                return json_response(
                    StatusCode::BAD_REQUEST,
                    json!({"error": "expected a JSON body {\"advance_seconds\": <non-negative number>}"}),
                );
            };
            gw.clock.advance(Duration::from_secs_f64(secs));
            json_response(StatusCode::OK, clock_state(gw))
        }
        (method, name) if service_endpoint(gw, name).is_some() => {
            let (service, rest) = service_endpoint(gw, name).expect("checked");
            let bytes = match body::collect(body).await {
                Ok(b) => b,
                Err(e) => {
                    return json_response(StatusCode::BAD_REQUEST, json!({"error": e.message}));
                }
            };
            match gw.providers[service].internal(method.as_str(), rest, &bytes) {
                Some((status, content_type, out)) => {
                    let mut resp = Response::new(body::full(out));
                    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
                    if let Ok(v) = http::HeaderValue::from_str(&content_type) {
                        resp.headers_mut().insert(http::header::CONTENT_TYPE, v);
                    }
                    resp
                }
                None => json_response(
                    StatusCode::NOT_FOUND,
                    json!({"error": format!("no internal endpoint {path}")}),
                ),
            }
        }
        _ => json_response(
            StatusCode::NOT_FOUND,
            json!({"error": format!("no internal endpoint {path}")}),
        ),
    }
}

/// `<service>/<rest>` of a registered service: its own endpoints (`sns/outbox`).
fn service_endpoint<'a>(gw: &Gateway, name: &'a str) -> Option<(&'a str, &'a str)> {
    let (service, rest) = name.split_once('/')?;
    gw.providers
        .contains_key(service)
        .then_some((service, rest))
}

fn health(gw: &Gateway) -> Json {
    let mut services = serde_json::Map::new();
    for name in nephos_model::service_names() {
        let state = if gw.providers.contains_key(name) {
            "running"
        } else {
            "available"
        };
        services.insert(name.to_owned(), json!(state));
    }
    json!({
        "services": services,
        "edition": "nephos",
        "version": env!("CARGO_PKG_VERSION"),
        "data": if gw.storage.is_durable() { "persistent" } else { "ephemeral" },
    })
}

fn clock_state(gw: &Gateway) -> Json {
    let now = gw.clock.now();
    json!({
        "now": now.to_iso8601(),
        "now_ms": now.as_millis(),
        "offset_ms": gw.clock.offset_millis(),
    })
}

fn json_response(status: StatusCode, value: Json) -> Response<ResBody> {
    let mut out = Response::new(body::full(value.to_string()));
    *out.status_mut() = status;
    out.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    out
}
