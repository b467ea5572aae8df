//! A minimal HTTP/1.1 client for deliveries to `http://` subscribers.
//!
//! Service crates may not depend on the HTTP stack (docs/ARCHITECTURE.md), and a delivery
//! is one POST whose response status is all SNS looks at, so this writes the request
//! over a tokio `TcpStream` and reads the status line (`Connection: close`). `https://`
//! endpoints are accepted but deliveries to them fail (no TLS in nephos yet), as they
//! would to an unreachable server: retried, then dead-lettered.

use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// AWS waits up to 15 s for an HTTP endpoint to answer.
const TIMEOUT: Duration = Duration::from_secs(15);

/// POSTs `body` to `url`; `Ok(status)` when the server answered.
pub async fn post(url: &str, headers: &[(&str, &str)], body: &str) -> Result<u16, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("unsupported URL scheme: {url}"))?;
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) if rest.as_bytes()[i] == b'/' => (&rest[..i], &rest[i..]),
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let path = if path.starts_with('?') {
        format!("/{path}")
    } else {
        path.to_owned()
    };
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    let addr = if authority.starts_with('[') {
        if authority.contains("]:") {
            authority.to_owned()
        } else {
            format!("{authority}:80")
        }
    } else if authority.contains(':') {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Length: {}\r\nConnection: close\r\nUser-Agent: Amazon Simple Notification Service Agent\r\nAccept-Encoding: gzip,deflate\r\n",
        body.len()
    );
    for (k, v) in headers {
        request.push_str(k);
        request.push_str(": ");
        request.push_str(v);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    let exchange = async {
        let mut stream = TcpStream::connect(&addr)
            .await
            .map_err(|e| format!("connect {addr}: {e}"))?;
        let _ = stream.set_nodelay(true);
        stream
            .write_all(request.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        stream
            .write_all(body.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let mut head = Vec::with_capacity(256);
        let mut buf = [0u8; 1024];
        while !head.windows(2).any(|w| w == b"\r\n") {
            let n = stream.read(&mut buf).await.map_err(|e| e.to_string())?;
            if n == 0 {
                break;
            }
            head.extend_from_slice(&buf[..n]);
            if head.len() > 64 * 1024 {
                break;
            }
        }
        let line = String::from_utf8_lossy(&head);
        let status = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse::<u16>().ok())
            .ok_or_else(|| "malformed HTTP response".to_owned())?;
        // Read the rest so the server sees a clean close.
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            while stream.read(&mut buf).await.map(|n| n > 0).unwrap_or(false) {}
        })
        .await;
        Ok(status)
    };
    tokio::time::timeout(TIMEOUT, exchange)
        .await
        .map_err(|_| "timed out".to_owned())?
}
