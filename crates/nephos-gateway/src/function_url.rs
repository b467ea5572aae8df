//! Lambda function URLs on the wire: a request whose `Host` is a function URL's
//! (`<url-id>.lambda-url.<region>.localhost:4566`, LocalStack's
//! `...localhost.localstack.cloud:4566`, or AWS's own `...on.aws`) is no Lambda API call.
//! It is the function's HTTP endpoint: the gateway identifies the caller and checks a
//! signature as for any request, then hands the request whole to Lambda
//! (`Provider::handle_raw`, operation `InvokeFunctionUrl`), which authorizes it, runs
//! the function and answers as AWS's URL front end does (its own CORS headers too). A
//! `RESPONSE_STREAM` URL's answer streams: its body goes out as the function writes it.

use crate::Gateway;
use crate::pipeline::{Exchange, Stop};
use bytes::Bytes;
use nephos_core::{AwsError, ByteStream};
use nephos_protocol::{Body, HttpResponse};

/// The name the request log and `RequestContext::operation` give these requests.
pub(crate) const OPERATION: &str = "InvokeFunctionUrl";

/// Whether `host` (with or without a port) is a function URL's.
pub(crate) fn is_function_url(host: &str) -> bool {
    let name = host.rsplit_once(':').map_or(host, |(name, port)| {
        if port.bytes().all(|b| b.is_ascii_digit()) {
            name
        } else {
            host
        }
    });
    let mut labels = name.splitn(4, '.');
    let (Some(id), Some("lambda-url"), Some(region), Some(rest)) =
        (labels.next(), labels.next(), labels.next(), labels.next())
    else {
        return false;
    };
    !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && !region.is_empty()
        && matches!(
            rest.to_ascii_lowercase().as_str(),
            "localhost" | "localhost.localstack.cloud" | "on.aws"
        )
}

impl Gateway {
    /// The function URL's answer, when the request is addressed to one.
    pub(crate) async fn function_url(&self, ex: &mut Exchange) -> Result<(), Stop> {
        if !ex.host().is_some_and(is_function_url) {
            return Ok(());
        }
        ex.claim("lambda", OPERATION);
        self.identify_caller(ex)?;
        let body = ex.collect_body().await?;
        // Signed requests (AuthType AWS_IAM) are checked as any signed request; unsigned
        // ones go on as anonymous, for Lambda to judge by the URL's AuthType.
        self.check_signature(ex, Some(&body), true)?;
        let ctx = self.context(ex, OPERATION);
        let request = crate::raw_request(ex.request(), ByteStream::from_bytes(body));
        let answer = match self.provider("lambda") {
            Some(p) => p.handle_raw(&ctx, request).await,
            None => Err(AwsError::not_implemented("lambda", OPERATION)),
        };
        let answer = answer.unwrap_or_else(|e| nephos_core::RawResponse {
            status: e.status,
            headers: vec![
                ("content-type".into(), "application/json".into()),
                ("x-amzn-errortype".into(), e.code.to_string()),
            ],
            body: Bytes::from(serde_json::json!({ "Message": e.message }).to_string()),
            stream: None,
        });
        let mut headers = http::HeaderMap::new();
        for (k, v) in answer.headers {
            if let (Ok(k), Ok(v)) = (
                http::HeaderName::from_bytes(k.as_bytes()),
                http::HeaderValue::from_str(&v),
            ) {
                // Set-Cookie and its like come once per value.
                headers.append(k, v);
            }
        }
        // A streamed answer (RESPONSE_STREAM) goes out chunk by chunk as it arrives.
        let body = match answer.stream {
            Some(stream) => {
                let head = futures_util::stream::iter(
                    (!answer.body.is_empty()).then_some(Ok(answer.body)),
                );
                Body::Stream(ByteStream::new(
                    None,
                    futures_util::StreamExt::chain(head, stream.stream),
                ))
            }
            None => Body::Full(answer.body),
        };
        Err(Stop::Answered(HttpResponse {
            status: answer.status,
            headers,
            body,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_url_hosts() {
        for host in [
            "abcdefghijklmnopqrstuvwxyz012345.lambda-url.us-east-1.localhost:4566",
            "abc.lambda-url.eu-west-1.localhost",
            "abc.lambda-url.us-east-1.localhost.localstack.cloud:4566",
            "abc.lambda-url.us-east-1.on.aws",
        ] {
            assert!(is_function_url(host), "{host}");
        }
        for host in [
            "localhost:4566",
            "bucket.s3.localhost:4566",
            "abc.lambda-url.us-east-1.example.com",
            ".lambda-url.us-east-1.localhost",
            "lambda-url.us-east-1.localhost",
        ] {
            assert!(!is_function_url(host), "{host}");
        }
    }
}
