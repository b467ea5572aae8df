//! Incremental decoder for `Content-Encoding: aws-chunked` request bodies.
//!
//! Signed framing (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]`):
//! `hex-size;chunk-signature=<sig>\r\n<data>\r\n` ... `0;chunk-signature=<sig>\r\n`
//! then optional trailer lines (`x-amz-checksum-crc32:...\r\n`,
//! `x-amz-trailer-signature:<sig>\r\n`) and a final `\r\n`.
//! Unsigned framing (`STREAMING-UNSIGNED-PAYLOAD-TRAILER`): `hex-size\r\n<data>\r\n` ...
//! `0\r\n` trailers `\r\n`.
//!
//! The decoder is push-style: the gateway feeds whatever buffers arrive, in any split,
//! and receives decoded bytes. Memory stays constant (one header line at most): chunk
//! data is hashed on the fly and passed through, so a bad chunk signature is reported
//! when the chunk ends, after its bytes were emitted — the caller must discard the
//! whole output on any error (which it must do on framing errors anyway).

use sha2::{Digest, Sha256};

use crate::error::{AuthError, AuthErrorKind};
use crate::signing::{EMPTY_SHA256, SigningKey, sha256_hex, sign, signatures_equal};

/// Longest chunk-header or trailer line accepted.
const MAX_LINE: usize = 4096;
/// Most trailer lines accepted.
const MAX_TRAILERS: usize = 64;

/// Which aws-chunked flavour the body uses (from `x-amz-content-sha256`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkedMode {
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`.
    Signed,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`.
    SignedWithTrailer,
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`.
    UnsignedWithTrailer,
}

impl ChunkedMode {
    /// The mode for an `x-amz-content-sha256` value, if it names an aws-chunked body.
    pub fn from_content_sha256(v: &str) -> Option<Self> {
        match v {
            crate::verify::STREAMING_PAYLOAD => Some(ChunkedMode::Signed),
            crate::verify::STREAMING_PAYLOAD_TRAILER => Some(ChunkedMode::SignedWithTrailer),
            crate::verify::STREAMING_UNSIGNED_TRAILER => Some(ChunkedMode::UnsignedWithTrailer),
            _ => None,
        }
    }

    fn signed(self) -> bool {
        !matches!(self, ChunkedMode::UnsignedWithTrailer)
    }
}

/// What chunk signatures are checked against (see [`crate::Verified::chunk_signing`]).
#[derive(Debug, Clone)]
pub struct ChunkSigning {
    pub key: SigningKey,
    /// `X-Amz-Date` of the request, basic format.
    pub amz_date: String,
    /// `date/region/service/aws4_request`.
    pub scope: String,
    /// The request's own signature, which the first chunk signature chains from.
    pub seed_signature: String,
}

impl ChunkSigning {
    /// The signature of one chunk given the previous signature.
    pub fn chunk_signature(&self, previous: &str, chunk_sha256_hex: &str) -> String {
        let sts = format!(
            "AWS4-HMAC-SHA256-PAYLOAD\n{}\n{}\n{previous}\n{EMPTY_SHA256}\n{chunk_sha256_hex}",
            self.amz_date, self.scope
        );
        sign(&self.key, &sts)
    }

    /// The signature of the trailer block given the final chunk's signature.
    pub fn trailer_signature(&self, previous: &str, trailers: &[(String, String)]) -> String {
        let mut canon = String::new();
        for (k, v) in trailers {
            canon.push_str(k);
            canon.push(':');
            canon.push_str(v);
            canon.push('\n');
        }
        let sts = format!(
            "AWS4-HMAC-SHA256-TRAILER\n{}\n{}\n{previous}\n{}",
            self.amz_date,
            self.scope,
            sha256_hex(canon.as_bytes())
        );
        sign(&self.key, &sts)
    }
}

/// The end of a decoded body: trailing headers and the decoded length.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trailers {
    /// Trailer headers (lowercase names, trimmed values) in order, without the signature.
    pub headers: Vec<(String, String)>,
    /// `x-amz-trailer-signature` when sent.
    pub signature: Option<String>,
    /// Number of decoded bytes.
    pub decoded_length: u64,
}

impl Trailers {
    /// The value of a trailer (`name` lowercase).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Header,
    Data,
    /// Expecting the `\r\n` after chunk data; holds how many of its bytes were seen.
    DataEnd(u8),
    Trailer,
    Done,
}

/// Push-style aws-chunked decoder.
#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    mode: ChunkedMode,
    signing: Option<ChunkSigning>,
    previous_signature: String,
    state: State,
    line: Vec<u8>,
    remaining: u64,
    hasher: Sha256,
    chunk_signature: String,
    decoded: u64,
    expected_length: Option<u64>,
    trailers: Trailers,
}

fn signature_mismatch() -> AuthError {
    AuthError::signature_mismatch("s3")
}

impl ChunkedDecoder {
    /// A decoder; with `signing`, every chunk signature (and the trailer signature in
    /// [`ChunkedMode::SignedWithTrailer`]) is verified.
    pub fn new(mode: ChunkedMode, signing: Option<ChunkSigning>) -> Self {
        let previous_signature = signing
            .as_ref()
            .map(|s| s.seed_signature.clone())
            .unwrap_or_default();
        ChunkedDecoder {
            mode,
            signing,
            previous_signature,
            state: State::Header,
            line: Vec::new(),
            remaining: 0,
            hasher: Sha256::new(),
            chunk_signature: String::new(),
            decoded: 0,
            expected_length: None,
            trailers: Trailers::default(),
        }
    }

    /// Makes the decoder check the total against `x-amz-decoded-content-length`.
    pub fn with_decoded_length(mut self, expected: u64) -> Self {
        self.expected_length = Some(expected);
        self
    }

    /// Decoded bytes so far.
    pub fn decoded_length(&self) -> u64 {
        self.decoded
    }

    /// True once the terminating empty line has been read.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Decodes `input`, appending body bytes to `out`.
    pub fn feed(&mut self, mut input: &[u8], out: &mut Vec<u8>) -> Result<(), AuthError> {
        while !input.is_empty() {
            match self.state {
                State::Header | State::Trailer => {
                    let Some(line) = self.take_line(&mut input)? else {
                        return Ok(());
                    };
                    if self.state == State::Header {
                        self.on_header(&line)?;
                    } else {
                        self.on_trailer(&line)?;
                    }
                }
                State::Data => {
                    let n = usize::try_from(self.remaining)
                        .unwrap_or(usize::MAX)
                        .min(input.len());
                    let (data, rest) = input.split_at(n);
                    if self.signing.is_some() {
                        self.hasher.update(data);
                    }
                    out.extend_from_slice(data);
                    self.remaining -= n as u64;
                    input = rest;
                    if self.remaining == 0 {
                        self.state = State::DataEnd(0);
                    }
                }
                State::DataEnd(seen) => {
                    let expected = if seen == 0 { b'\r' } else { b'\n' };
                    if input[0] != expected {
                        return Err(AuthError::chunked(
                            "Malformed aws-chunked body: chunk data not followed by CRLF",
                        ));
                    }
                    input = &input[1..];
                    if seen == 0 {
                        self.state = State::DataEnd(1);
                    } else {
                        let digest = hex::encode(std::mem::take(&mut self.hasher).finalize());
                        self.check_chunk_signature(&digest)?;
                        self.state = State::Header;
                    }
                }
                State::Done => {
                    return Err(AuthError::chunked(
                        "Malformed aws-chunked body: data after the final chunk",
                    ));
                }
            }
        }
        Ok(())
    }

    /// Ends the body: checks it was complete, verifies the trailer signature and the
    /// decoded length, and returns the trailers.
    pub fn finish(mut self) -> Result<Trailers, AuthError> {
        // Some clients omit the CRLF that closes an (empty) trailer section.
        let complete =
            self.state == State::Done || (self.state == State::Trailer && self.line.is_empty());
        if !complete {
            return Err(AuthError::incomplete_body());
        }
        if self.mode == ChunkedMode::SignedWithTrailer
            && let Some(signing) = &self.signing
        {
            let Some(provided) = &self.trailers.signature else {
                return Err(signature_mismatch());
            };
            let computed =
                signing.trailer_signature(&self.previous_signature, &self.trailers.headers);
            if !signatures_equal(&computed, provided) {
                return Err(signature_mismatch());
            }
        }
        if let Some(expected) = self.expected_length
            && expected != self.decoded
        {
            return Err(length_mismatch());
        }
        self.trailers.decoded_length = self.decoded;
        Ok(std::mem::take(&mut self.trailers))
    }

    /// Accumulates a CRLF-terminated line; `None` while it is incomplete.
    fn take_line(&mut self, input: &mut &[u8]) -> Result<Option<Vec<u8>>, AuthError> {
        let nl = input.iter().position(|&b| b == b'\n');
        let take = nl.map_or(input.len(), |p| p + 1);
        if self.line.len() + take > MAX_LINE + 2 {
            return Err(AuthError::chunked(
                "Malformed aws-chunked body: chunk header or trailer line too long",
            ));
        }
        self.line.extend_from_slice(&input[..take]);
        *input = &input[take..];
        if nl.is_none() {
            return Ok(None);
        }
        let mut line = std::mem::take(&mut self.line);
        line.pop();
        if line.pop() != Some(b'\r') {
            return Err(AuthError::chunked(
                "Malformed aws-chunked body: line not terminated by CRLF",
            ));
        }
        Ok(Some(line))
    }

    fn on_header(&mut self, line: &[u8]) -> Result<(), AuthError> {
        let line = std::str::from_utf8(line)
            .map_err(|_| AuthError::chunked("Malformed aws-chunked body: invalid chunk header"))?;
        let mut parts = line.split(';');
        let size_str = parts.next().unwrap_or("").trim();
        if size_str.is_empty()
            || size_str.len() > 16
            || !size_str.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return Err(AuthError::chunked(format!(
                "Malformed aws-chunked body: invalid chunk size '{size_str}'"
            )));
        }
        let size = u64::from_str_radix(size_str, 16)
            .map_err(|_| AuthError::chunked("Malformed aws-chunked body: invalid chunk size"))?;
        self.chunk_signature.clear();
        for ext in parts {
            if let Some(sig) = ext.trim().strip_prefix("chunk-signature=") {
                self.chunk_signature = sig.trim().to_string();
            }
        }
        if self.mode.signed() && self.signing.is_some() && self.chunk_signature.is_empty() {
            return Err(AuthError::chunked(
                "Malformed aws-chunked body: chunk-signature missing",
            ));
        }
        if let Some(expected) = self.expected_length
            && self.decoded.saturating_add(size) > expected
        {
            return Err(length_mismatch());
        }
        self.decoded = self.decoded.saturating_add(size);
        if size == 0 {
            self.check_chunk_signature(EMPTY_SHA256)?;
            self.state = State::Trailer;
        } else {
            self.remaining = size;
            self.state = State::Data;
        }
        Ok(())
    }

    fn check_chunk_signature(&mut self, chunk_sha256_hex: &str) -> Result<(), AuthError> {
        let Some(signing) = &self.signing else {
            return Ok(());
        };
        if !self.mode.signed() {
            return Ok(());
        }
        let computed = signing.chunk_signature(&self.previous_signature, chunk_sha256_hex);
        if !signatures_equal(&computed, &self.chunk_signature) {
            return Err(signature_mismatch());
        }
        self.previous_signature = computed;
        Ok(())
    }

    fn on_trailer(&mut self, line: &[u8]) -> Result<(), AuthError> {
        if line.is_empty() {
            self.state = State::Done;
            return Ok(());
        }
        let line = std::str::from_utf8(line)
            .map_err(|_| AuthError::chunked("Malformed aws-chunked body: invalid trailer"))?;
        let Some((name, value)) = line.split_once(':') else {
            return Err(AuthError::chunked(
                "Malformed aws-chunked body: trailer without ':'",
            ));
        };
        let name = name.trim().to_ascii_lowercase();
        let value = value.trim().to_string();
        if name.is_empty() {
            return Err(AuthError::chunked(
                "Malformed aws-chunked body: empty trailer name",
            ));
        }
        if name == "x-amz-trailer-signature" {
            self.trailers.signature = Some(value);
        } else {
            if self.trailers.headers.len() >= MAX_TRAILERS {
                return Err(AuthError::chunked(
                    "Malformed aws-chunked body: too many trailers",
                ));
            }
            self.trailers.headers.push((name, value));
        }
        Ok(())
    }
}

fn length_mismatch() -> AuthError {
    AuthError::new(
        AuthErrorKind::DecodedLengthMismatch,
        "IncompleteBody",
        400,
        "You did not provide the number of bytes specified by the x-amz-decoded-content-length HTTP header",
    )
}
