//! A minimal HTTP/1.1 client for deliveries to `http://` and `https://` subscribers.
//!
//! Service crates may not depend on the HTTP stack (docs/ARCHITECTURE.md), and a delivery
//! is one POST whose response status is all SNS looks at, so this writes the request
//! over a tokio `TcpStream` (wrapped in TLS for `https://`, see [`crate::tls`]) and reads
//! the status line (`Connection: close`).

use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// AWS waits up to 15 s for an HTTP endpoint to answer.
const TIMEOUT: Duration = Duration::from_secs(15);

/// Where a request goes: scheme, host (brackets stripped), `host:port` and path.
#[derive(Debug, PartialEq)]
struct Target {
    tls: bool,
    host: String,
    /// The authority as the URL wrote it, for the `Host` header.
    authority: String,
    addr: String,
    path: String,
}

fn target(url: &str) -> Result<Target, String> {
    let (tls, rest) = if let Some(r) = url.strip_prefix("http://") {
        (false, r)
    } else if let Some(r) = url.strip_prefix("https://") {
        (true, r)
    } else {
        return Err(format!("unsupported URL scheme: {url}"));
    };
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let path = if path.starts_with('?') {
        format!("/{path}")
    } else {
        path.to_owned()
    };
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    let default_port = if tls { 443 } else { 80 };
    let (host, addr) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6
            .split_once(']')
            .ok_or_else(|| format!("malformed host in {url}"))?;
        let port = after.strip_prefix(':').unwrap_or("");
        let port = if port.is_empty() {
            default_port.to_string()
        } else {
            port.to_owned()
        };
        (host.to_owned(), format!("[{host}]:{port}"))
    } else {
        let (h, port) = match authority.rsplit_once(':') {
            Some((h, p)) => (h, p.to_owned()),
            None => (authority, default_port.to_string()),
        };
        (
            h.to_owned(),
            format!("{}:{port}", loopback_alias(h).unwrap_or(h)),
        )
    };
    if host.is_empty() {
        return Err(format!("no host in {url}"));
    }
    Ok(Target {
        tls,
        host,
        authority: authority.to_owned(),
        addr,
        path,
    })
}

/// The loopback address of a `localhost` name: RFC 6761 reserves `localhost` and every
/// name under it for the loopback interface, and nephos hands out such names itself
/// (Lambda function URLs, `<id>.lambda-url.<region>.localhost:<port>`). The system
/// resolver often answers only the bare name, so these never go to it.
fn loopback_alias(host: &str) -> Option<&'static str> {
    let h = host.trim_end_matches('.');
    let local = h.eq_ignore_ascii_case("localhost")
        || h.len() > ".localhost".len()
            && h[h.len() - ".localhost".len()..].eq_ignore_ascii_case(".localhost");
    local.then_some("127.0.0.1")
}

/// POSTs `body` to `url`; `Ok(status)` when the server answered.
pub async fn post(url: &str, headers: &[(&str, &str)], body: &str) -> Result<u16, String> {
    let t = target(url)?;
    let mut request = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\nConnection: close\r\nUser-Agent: Amazon Simple Notification Service Agent\r\nAccept-Encoding: gzip,deflate\r\n",
        t.path,
        t.authority,
        body.len()
    );
    for (k, v) in headers {
        request.push_str(k);
        request.push_str(": ");
        request.push_str(v);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    let connection = async {
        let stream = TcpStream::connect(&t.addr)
            .await
            .map_err(|e| format!("connect {}: {e}", t.addr))?;
        let _ = stream.set_nodelay(true);
        if t.tls {
            let stream = crate::tls::connect(&t.host, stream).await?;
            exchange(stream, &request, body).await
        } else {
            exchange(stream, &request, body).await
        }
    };
    tokio::time::timeout(TIMEOUT, connection)
        .await
        .map_err(|_| "timed out".to_owned())?
}

/// Writes the request and reads the status of the answer.
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    request: &str,
    body: &str,
) -> Result<u16, String> {
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    stream
        .write_all(body.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    stream.flush().await.map_err(|e| e.to_string())?;
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
    // Read the rest so the server sees a clean close (TLS servers often skip close_notify,
    // which ends this read with an error: the status is what counts).
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        while stream.read(&mut buf).await.map(|n| n > 0).unwrap_or(false) {}
    })
    .await;
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_from_urls() {
        let t = target("https://example.com/hook?x=1").unwrap();
        assert!(t.tls);
        assert_eq!(
            (t.host.as_str(), t.addr.as_str()),
            ("example.com", "example.com:443")
        );
        assert_eq!(t.path, "/hook?x=1");
        let t = target("http://user@127.0.0.1:8080?q").unwrap();
        assert!(!t.tls);
        assert_eq!(
            (t.host.as_str(), t.addr.as_str()),
            ("127.0.0.1", "127.0.0.1:8080")
        );
        assert_eq!(
            (t.authority.as_str(), t.path.as_str()),
            ("127.0.0.1:8080", "/?q")
        );
        let t = target("https://[::1]/").unwrap();
        assert_eq!((t.host.as_str(), t.addr.as_str()), ("::1", "[::1]:443"));
        let t = target("https://[::1]:8443").unwrap();
        assert_eq!(t.addr, "[::1]:8443");
        // Names under `localhost` connect to the loopback address but keep their Host.
        let t = target("http://abc.lambda-url.us-east-1.localhost:4566/").unwrap();
        assert_eq!(t.addr, "127.0.0.1:4566");
        assert_eq!(t.authority, "abc.lambda-url.us-east-1.localhost:4566");
        assert_eq!(target("http://LOCALHOST./x").unwrap().addr, "127.0.0.1:80");
        assert_eq!(
            target("http://notlocalhost/").unwrap().addr,
            "notlocalhost:80"
        );
        assert!(target("ftp://x").is_err());
        assert!(target("https://").is_err());
    }
}
