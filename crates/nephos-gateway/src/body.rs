//! Request and response bodies: collected with a limit, or streamed through untouched.

use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::{BodyExt, Full, Limited, StreamBody, combinators::UnsyncBoxBody};
use hyper::body::{Frame, Incoming};
use nephos_core::{AwsError, ByteStream};

/// The body type of every response nephos sends.
pub type ResBody = UnsyncBoxBody<Bytes, std::io::Error>;

/// The most a non-streaming request body may hold. Large uploads (S3 objects) stream
/// instead; the biggest collected inputs are base64 Lambda zips (50 MB before encoding).
pub const MAX_COLLECTED_BODY: usize = 100 * 1024 * 1024;

pub fn full(bytes: impl Into<Bytes>) -> ResBody {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

pub fn stream(body: ByteStream) -> ResBody {
    let frames = body.stream.map(|chunk| chunk.map(Frame::data));
    StreamBody::new(frames).boxed_unsync()
}

/// Reads the whole body, refusing more than [`MAX_COLLECTED_BODY`].
pub async fn collect(body: Incoming) -> Result<Bytes, AwsError> {
    match Limited::new(body, MAX_COLLECTED_BODY).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(AwsError::new(
            413,
            "RequestEntityTooLarge",
            format!(
                "the request body is larger than the {MAX_COLLECTED_BODY} bytes nephos accepts"
            ),
        )),
        Err(e) => Err(AwsError::new(
            400,
            "IncompleteBody",
            format!("the request body could not be read: {e}"),
        )),
    }
}

/// Hands the body on as a stream of data chunks, without reading it here.
pub fn into_stream(body: Incoming, length: Option<u64>) -> ByteStream {
    let chunks = http_body_util::BodyStream::new(body).filter_map(|frame| async move {
        match frame {
            Ok(frame) => frame.into_data().ok().map(Ok),
            Err(e) => Some(Err(std::io::Error::other(e))),
        }
    });
    ByteStream::new(length, chunks)
}
