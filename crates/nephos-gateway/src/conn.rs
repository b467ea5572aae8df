//! The connection under hyper: `100 Continue` for requests hyper will not send it to.
//!
//! hyper answers `Expect: 100-continue` with `100 Continue` only when the request has a
//! body to read. botocore sends the expectation on every file-object body, empty files
//! included, and AWS's front ends answer `100 Continue` to those too. botocore relies on
//! it: on an early final answer it keeps that answer's status line for the connection,
//! and the next request on it then parses its response against the stale status and
//! stalls for its read timeout (botocore issue 3755). So for such requests the
//! connection writes the interim line itself, just before hyper's final answer.

use std::io::IoSlice;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, ready};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// Set by the service for a request owed a `100 Continue`; read by the next write.
#[derive(Clone, Default)]
pub struct ContinueOwed(Arc<AtomicBool>);

impl ContinueOwed {
    /// Marks the current request if it expects `100 Continue` that hyper will not send:
    /// an HTTP/1.1 request with `Expect: 100-continue` and an empty body.
    pub fn note<B>(&self, req: &http::Request<B>) {
        if req.version() != http::Version::HTTP_11 {
            return;
        }
        let expects = req
            .headers()
            .get(http::header::EXPECT)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
        let empty = req
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .is_none_or(|v| v.as_bytes() == b"0")
            && !req.headers().contains_key(http::header::TRANSFER_ENCODING);
        if expects && empty {
            self.0.store(true, Ordering::Relaxed);
        }
    }
}

/// A stream that writes an owed `100 Continue` before the next bytes hyper writes.
pub struct Io<S> {
    inner: S,
    owed: ContinueOwed,
    /// How much of [`CONTINUE`] has been written (it may take several writes).
    sent: usize,
}

impl<S> Io<S> {
    pub fn new(inner: S, owed: ContinueOwed) -> Io<S> {
        Io {
            inner,
            owed,
            sent: 0,
        }
    }
}

impl<S: AsyncWrite + Unpin> Io<S> {
    /// Writes what is owed of the interim line; Ready once nothing is.
    fn poll_owed(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        if self.sent == 0 && !self.owed.0.swap(false, Ordering::Relaxed) {
            return Poll::Ready(Ok(()));
        }
        while self.sent < CONTINUE.len() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &CONTINUE[self.sent..]))?;
            if n == 0 {
                return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
            }
            self.sent += n;
        }
        self.sent = 0;
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Io<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Io<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        ready!(self.poll_owed(cx))?;
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        ready!(self.poll_owed(cx))?;
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        ready!(self.poll_owed(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
