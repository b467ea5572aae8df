//! The `application/vnd.amazon.eventstream` framing: binary messages of typed headers plus a
//! payload, each protected by CRC32 checksums.
//!
//! A message is laid out as
//!
//! ```text
//! [total length u32 BE][headers length u32 BE][prelude CRC32 of the first 8 bytes]
//! [headers ...][payload ...][message CRC32 of everything before it]
//! ```
//!
//! and every header as `[name length u8][name][type u8][value]`. This module has the
//! encoder, an incremental decoder (feed it bytes as they arrive, take whole messages out),
//! and builders for the standard `event`, `exception` and `error` messages, including the
//! mapping of a modelled event structure onto headers and payload.
//!
//! [`response_body`] turns a handler's [`EventStream`] into the lazily encoded body of an
//! event stream response; each codec supplies its [`PayloadFormat`] and decides where the
//! other output members go (HTTP headers for the rest protocols, an `initial-response`
//! event for awsJson and rpcv2Cbor).

use bytes::{Buf, Bytes, BytesMut};
use futures_util::StreamExt;
use nephos_core::{AwsError, ByteStream, EventStream, Map, Value};
use nephos_model::{ServiceModel, Shape, ShapeRef, ShapeType};
use std::fmt;
use std::sync::Arc;

/// Prelude (12 bytes) plus the trailing message CRC (4 bytes).
const OVERHEAD: usize = 16;
const PRELUDE: usize = 12;
/// The largest message accepted or produced (the AWS SDKs' limit).
pub const MAX_MESSAGE_LEN: usize = 16 * 1024 * 1024;
/// The largest header block accepted or produced (the AWS SDKs' limit).
pub const MAX_HEADERS_LEN: usize = 128 * 1024;

/// A header value, by wire type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderValue {
    Bool(bool),
    Byte(i8),
    Short(i16),
    Int(i32),
    Long(i64),
    Bytes(Bytes),
    String(String),
    /// Milliseconds since the Unix epoch.
    Timestamp(i64),
    Uuid([u8; 16]),
}

impl HeaderValue {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            HeaderValue::String(s) => Some(s),
            _ => None,
        }
    }
}

impl From<&str> for HeaderValue {
    fn from(s: &str) -> Self {
        HeaderValue::String(s.to_owned())
    }
}

/// One event stream message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Message {
    pub headers: Vec<(String, HeaderValue)>,
    pub payload: Bytes,
}

impl Message {
    /// The first header called `name`.
    pub fn header(&self, name: &str) -> Option<&HeaderValue> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    pub fn with_header(mut self, name: &str, value: impl Into<HeaderValue>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }
}

/// Why a message could not be encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventStreamError {
    PreludeCrc {
        expected: u32,
        actual: u32,
    },
    MessageCrc {
        expected: u32,
        actual: u32,
    },
    /// Lengths in the prelude that cannot describe a message.
    InvalidLength(String),
    /// A header that does not parse (unknown type, truncated, bad UTF-8).
    InvalidHeader(String),
    /// A message too large to encode.
    TooLarge(String),
}

impl fmt::Display for EventStreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventStreamError::PreludeCrc { expected, actual } => write!(
                f,
                "event stream prelude checksum mismatch: expected {expected:#010x}, got {actual:#010x}"
            ),
            EventStreamError::MessageCrc { expected, actual } => write!(
                f,
                "event stream message checksum mismatch: expected {expected:#010x}, got {actual:#010x}"
            ),
            EventStreamError::InvalidLength(m) => write!(f, "invalid event stream length: {m}"),
            EventStreamError::InvalidHeader(m) => write!(f, "invalid event stream header: {m}"),
            EventStreamError::TooLarge(m) => write!(f, "event stream message too large: {m}"),
        }
    }
}

impl std::error::Error for EventStreamError {}

impl From<EventStreamError> for AwsError {
    fn from(e: EventStreamError) -> AwsError {
        AwsError::new(400, "SerializationException", e.to_string())
    }
}

fn header_value_len(v: &HeaderValue) -> usize {
    1 + match v {
        HeaderValue::Bool(_) => 0,
        HeaderValue::Byte(_) => 1,
        HeaderValue::Short(_) => 2,
        HeaderValue::Int(_) => 4,
        HeaderValue::Long(_) | HeaderValue::Timestamp(_) => 8,
        HeaderValue::Bytes(b) => 2 + b.len(),
        HeaderValue::String(s) => 2 + s.len(),
        HeaderValue::Uuid(_) => 16,
    }
}

/// Encodes one message.
pub fn encode(msg: &Message) -> Result<Bytes, EventStreamError> {
    let mut headers_len = 0usize;
    for (name, value) in &msg.headers {
        if name.is_empty() || name.len() > u8::MAX as usize {
            return Err(EventStreamError::TooLarge(format!(
                "header name of {} bytes",
                name.len()
            )));
        }
        if let HeaderValue::Bytes(b) = value
            && b.len() > u16::MAX as usize
        {
            return Err(EventStreamError::TooLarge(format!("header {name}")));
        }
        if let HeaderValue::String(s) = value
            && s.len() > u16::MAX as usize
        {
            return Err(EventStreamError::TooLarge(format!("header {name}")));
        }
        headers_len += 1 + name.len() + header_value_len(value);
    }
    let total = OVERHEAD + headers_len + msg.payload.len();
    if headers_len > MAX_HEADERS_LEN || total > MAX_MESSAGE_LEN {
        return Err(EventStreamError::TooLarge(format!("{total} bytes")));
    }
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&(total as u32).to_be_bytes());
    out.extend_from_slice(&(headers_len as u32).to_be_bytes());
    let prelude_crc = crc32fast::hash(&out);
    out.extend_from_slice(&prelude_crc.to_be_bytes());
    for (name, value) in &msg.headers {
        out.push(name.len() as u8);
        out.extend_from_slice(name.as_bytes());
        match value {
            HeaderValue::Bool(true) => out.push(0),
            HeaderValue::Bool(false) => out.push(1),
            HeaderValue::Byte(b) => {
                out.push(2);
                out.extend_from_slice(&b.to_be_bytes());
            }
            HeaderValue::Short(s) => {
                out.push(3);
                out.extend_from_slice(&s.to_be_bytes());
            }
            HeaderValue::Int(i) => {
                out.push(4);
                out.extend_from_slice(&i.to_be_bytes());
            }
            HeaderValue::Long(l) => {
                out.push(5);
                out.extend_from_slice(&l.to_be_bytes());
            }
            HeaderValue::Bytes(b) => {
                out.push(6);
                out.extend_from_slice(&(b.len() as u16).to_be_bytes());
                out.extend_from_slice(b);
            }
            HeaderValue::String(s) => {
                out.push(7);
                out.extend_from_slice(&(s.len() as u16).to_be_bytes());
                out.extend_from_slice(s.as_bytes());
            }
            HeaderValue::Timestamp(t) => {
                out.push(8);
                out.extend_from_slice(&t.to_be_bytes());
            }
            HeaderValue::Uuid(u) => {
                out.push(9);
                out.extend_from_slice(u);
            }
        }
    }
    out.extend_from_slice(&msg.payload);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    Ok(Bytes::from(out))
}

/// Decodes messages from bytes that arrive in arbitrary pieces.
///
/// After an error the stream is unusable (framing is lost); callers end the stream.
#[derive(Debug, Default)]
pub struct MessageDecoder {
    buf: BytesMut,
    failed: bool,
}

impl MessageDecoder {
    pub fn new() -> Self {
        MessageDecoder::default()
    }

    /// Appends received bytes.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Bytes received but not yet returned as a message.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The next complete message, `None` while more bytes are needed.
    pub fn next_message(&mut self) -> Result<Option<Message>, EventStreamError> {
        if self.failed {
            return Err(EventStreamError::InvalidLength(
                "stream already failed".into(),
            ));
        }
        let r = self.try_next();
        if r.is_err() {
            self.failed = true;
        }
        r
    }

    fn try_next(&mut self) -> Result<Option<Message>, EventStreamError> {
        if self.buf.len() < PRELUDE {
            return Ok(None);
        }
        let word =
            |b: &[u8], at: usize| u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
        let total = word(&self.buf, 0) as usize;
        let headers_len = word(&self.buf, 4) as usize;
        let expected = word(&self.buf, 8);
        let actual = crc32fast::hash(&self.buf[..8]);
        if expected != actual {
            return Err(EventStreamError::PreludeCrc { expected, actual });
        }
        // Checked before waiting for the rest, so a hostile length cannot make us buffer.
        if !(OVERHEAD..=MAX_MESSAGE_LEN).contains(&total) {
            return Err(EventStreamError::InvalidLength(format!(
                "total length {total}"
            )));
        }
        if headers_len > MAX_HEADERS_LEN || headers_len > total - OVERHEAD {
            return Err(EventStreamError::InvalidLength(format!(
                "headers length {headers_len} in a message of {total}"
            )));
        }
        if self.buf.len() < total {
            return Ok(None);
        }
        let frame = self.buf.split_to(total).freeze();
        let expected = word(&frame, total - 4);
        let actual = crc32fast::hash(&frame[..total - 4]);
        if expected != actual {
            return Err(EventStreamError::MessageCrc { expected, actual });
        }
        let headers = parse_headers(&frame[PRELUDE..PRELUDE + headers_len])?;
        let payload = frame.slice(PRELUDE + headers_len..total - 4);
        Ok(Some(Message { headers, payload }))
    }
}

/// Decodes exactly one message occupying the whole of `bytes`.
pub fn decode(bytes: &[u8]) -> Result<Message, EventStreamError> {
    let mut d = MessageDecoder::new();
    d.push(bytes);
    match d.next_message()? {
        Some(m) if d.buffered() == 0 => Ok(m),
        Some(_) => Err(EventStreamError::InvalidLength(
            "trailing bytes after the message".into(),
        )),
        None => Err(EventStreamError::InvalidLength("truncated message".into())),
    }
}

fn parse_headers(mut b: &[u8]) -> Result<Vec<(String, HeaderValue)>, EventStreamError> {
    let short = || EventStreamError::InvalidHeader("truncated".into());
    let take = |b: &mut &[u8], n: usize| -> Result<Vec<u8>, EventStreamError> {
        if b.len() < n {
            return Err(short());
        }
        let (head, rest) = b.split_at(n);
        *b = rest;
        Ok(head.to_vec())
    };
    let mut out = Vec::new();
    while !b.is_empty() {
        let name_len = usize::from(b.get_u8());
        let name = String::from_utf8(take(&mut b, name_len)?)
            .map_err(|_| EventStreamError::InvalidHeader("name is not UTF-8".into()))?;
        if b.is_empty() {
            return Err(short());
        }
        let ty = b.get_u8();
        let need = |b: &[u8], n: usize| if b.len() < n { Err(short()) } else { Ok(()) };
        let value = match ty {
            0 => HeaderValue::Bool(true),
            1 => HeaderValue::Bool(false),
            2 => {
                need(b, 1)?;
                HeaderValue::Byte(b.get_i8())
            }
            3 => {
                need(b, 2)?;
                HeaderValue::Short(b.get_i16())
            }
            4 => {
                need(b, 4)?;
                HeaderValue::Int(b.get_i32())
            }
            5 => {
                need(b, 8)?;
                HeaderValue::Long(b.get_i64())
            }
            6 | 7 => {
                need(b, 2)?;
                let len = usize::from(b.get_u16());
                let raw = take(&mut b, len)?;
                if ty == 6 {
                    HeaderValue::Bytes(Bytes::from(raw))
                } else {
                    HeaderValue::String(String::from_utf8(raw).map_err(|_| {
                        EventStreamError::InvalidHeader(format!("{name} is not UTF-8"))
                    })?)
                }
            }
            8 => {
                need(b, 8)?;
                HeaderValue::Timestamp(b.get_i64())
            }
            9 => {
                let raw = take(&mut b, 16)?;
                let mut u = [0u8; 16];
                u.copy_from_slice(&raw);
                HeaderValue::Uuid(u)
            }
            other => {
                return Err(EventStreamError::InvalidHeader(format!(
                    "unknown type {other} of header {name}"
                )));
            }
        };
        out.push((name, value));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// The standard messages

/// An event: `:message-type event`, `:event-type`, and `:content-type` when there is a
/// payload type to declare.
pub fn event_message(event_type: &str, content_type: Option<&str>, payload: Bytes) -> Message {
    let mut m = Message {
        headers: vec![
            (":message-type".into(), "event".into()),
            (":event-type".into(), event_type.into()),
        ],
        payload,
    };
    if let Some(ct) = content_type {
        m.headers.push((":content-type".into(), ct.into()));
    }
    m
}

/// A modelled exception: `:message-type exception`, `:exception-type <member name>`.
pub fn exception_message(exception_type: &str, content_type: &str, payload: Bytes) -> Message {
    Message {
        headers: vec![
            (":message-type".into(), "exception".into()),
            (":exception-type".into(), exception_type.into()),
            (":content-type".into(), content_type.into()),
        ],
        payload,
    }
}

/// An unmodelled error: `:message-type error`, `:error-code`, `:error-message`.
pub fn error_message(code: &str, message: &str) -> Message {
    Message {
        headers: vec![
            (":message-type".into(), "error".into()),
            (":error-code".into(), code.into()),
            (":error-message".into(), message.into()),
        ],
        payload: Bytes::new(),
    }
}

/// Builds the event message for member `event_type` of an event stream union, whose value
/// is `value` of shape `event_shape`.
///
/// Members marked `eventheader` become typed headers. A member marked `eventpayload` is the
/// whole payload: a blob raw (`application/octet-stream`), a string raw (`text/plain`), a
/// structure through `serialize_body`. Without such a member, the remaining (non-header)
/// members are serialized as the payload structure by `serialize_body(shape, value)`, which
/// returns the protocol's body bytes; `content_type` is that body's media type.
pub fn event_from_value(
    model: &ServiceModel,
    event_type: &str,
    event_shape: &str,
    value: &Value,
    content_type: &str,
    serialize_body: impl Fn(&str, &Value) -> Bytes,
) -> Message {
    let Some(shape) = model.shapes.get(event_shape) else {
        return event_message(
            event_type,
            Some(content_type),
            serialize_body(event_shape, value),
        );
    };
    let empty = Map::default();
    let fields = value.as_map().unwrap_or(&empty);
    let mut headers = Vec::new();
    let mut payload_member = None;
    let mut rest = Map::default();
    for (name, r) in &shape.members {
        let Some(v) = fields.get(name) else { continue };
        if r.event_header {
            if let Some(h) = header_from_value(model, &r.shape, v) {
                headers.push((name.clone(), h));
            }
        } else if r.event_payload {
            payload_member = Some((r, v));
        } else if !v.is_null() {
            rest.insert(name.clone(), v.clone());
        }
    }
    let mut msg = match payload_member {
        Some((r, v)) => {
            let kind = model.try_target(r).map(|s| s.kind);
            match (kind, v) {
                (Some(ShapeType::Blob), Value::Blob(b)) => {
                    event_message(event_type, Some("application/octet-stream"), b.clone())
                }
                (Some(ShapeType::String), Value::String(s)) => event_message(
                    event_type,
                    Some("text/plain"),
                    Bytes::copy_from_slice(s.as_bytes()),
                ),
                _ => event_message(event_type, Some(content_type), serialize_body(&r.shape, v)),
            }
        }
        // Events without body members (S3 Select's `Cont` and `End`) carry no payload.
        None if rest.is_empty()
            && shape
                .members
                .values()
                .all(|r| r.event_header || r.event_payload) =>
        {
            event_message(event_type, None, Bytes::new())
        }
        None => event_message(
            event_type,
            Some(content_type),
            serialize_body(event_shape, &Value::Map(rest)),
        ),
    };
    msg.headers.extend(headers);
    msg
}

fn header_from_value(model: &ServiceModel, shape: &str, v: &Value) -> Option<HeaderValue> {
    let kind = model.shapes.get(shape).map(|s| s.kind);
    Some(match (kind, v) {
        (_, Value::Bool(b)) => HeaderValue::Bool(*b),
        (Some(ShapeType::Byte), Value::Integer(i)) => HeaderValue::Byte(*i as i8),
        (Some(ShapeType::Short), Value::Integer(i)) => HeaderValue::Short(*i as i16),
        (Some(ShapeType::Integer), Value::Integer(i)) => HeaderValue::Int(*i as i32),
        (_, Value::Integer(i)) => HeaderValue::Long(*i),
        (_, Value::Blob(b)) => HeaderValue::Bytes(b.clone()),
        (_, Value::String(s)) => HeaderValue::String(s.clone()),
        (_, Value::Timestamp(t)) => HeaderValue::Timestamp(t.as_millis()),
        _ => return None,
    })
}

// ---------------------------------------------------------------------------------------
// Event stream responses

/// The media type of an event stream response body.
pub const CONTENT_TYPE: &str = "application/vnd.amazon.eventstream";

/// How a protocol writes the payloads of its event messages.
#[derive(Clone, Copy)]
pub struct PayloadFormat {
    /// The `:content-type` of serialized (not raw) payloads.
    pub content_type: &'static str,
    /// Serializes a value of the named shape as the protocol's body document.
    pub serialize: fn(&ServiceModel, &str, &Value) -> Bytes,
}

fn is_event_stream(model: &ServiceModel, r: &ShapeRef) -> bool {
    model.try_target(r).is_some_and(|s| s.eventstream)
}

/// The member of an output `shape` that carries an event stream: the payload member of the
/// rest protocols, else whichever member targets an `eventstream` structure (awsJson and
/// rpcv2Cbor outputs have no payload trait).
pub fn stream_member<'s>(
    model: &ServiceModel,
    shape: &'s Shape,
) -> Option<(&'s str, &'s ShapeRef)> {
    if let Some(p) = &shape.payload
        && let Some((name, r)) = shape.members.get_key_value(p)
        && is_event_stream(model, r)
    {
        return Some((name.as_str(), r));
    }
    shape
        .members
        .iter()
        .find(|(_, r)| is_event_stream(model, r))
        .map(|(n, r)| (n.as_str(), r))
}

/// The shapes reachable from `root`, with the model's metadata: what the encoder of a
/// response body keeps, since the body outlives the borrowed model.
fn sub_model(model: &ServiceModel, root: &str) -> ServiceModel {
    let mut shapes = indexmap::IndexMap::default();
    let mut todo = vec![root.to_owned()];
    while let Some(name) = todo.pop() {
        if shapes.contains_key(&name) {
            continue;
        }
        let Some(shape) = model.shapes.get(&name) else {
            continue;
        };
        let refs = shape
            .members
            .values()
            .chain(shape.member.iter())
            .chain(shape.key.iter())
            .chain(shape.value.iter());
        todo.extend(refs.map(|r| r.shape.clone()));
        shapes.insert(name, shape.clone());
    }
    ServiceModel {
        metadata: model.metadata.clone(),
        operations: Default::default(),
        shapes,
        derived: Default::default(),
    }
}

/// The message of one handler event `{member: value}` of the union `union`.
fn event_item(
    model: &ServiceModel,
    union: &Shape,
    item: &Value,
    format: PayloadFormat,
) -> Result<Message, String> {
    let entry = match item.as_map() {
        Some(m) if m.len() == 1 => m.first(),
        _ => None,
    };
    let Some((name, value)) = entry else {
        return Err("an event must be a map with exactly one member".to_owned());
    };
    let Some(r) = union.members.get(name) else {
        return Err(format!("{name} is not an event of this stream"));
    };
    let serialize = |shape: &str, v: &Value| (format.serialize)(model, shape, v);
    if model.try_target(r).is_some_and(|s| s.exception) {
        return Ok(exception_message(
            name,
            format.content_type,
            serialize(&r.shape, value),
        ));
    }
    Ok(event_from_value(
        model,
        name,
        &r.shape,
        value,
        format.content_type,
        serialize,
    ))
}

/// The message of an error that ends the stream: the union's exception event whose name,
/// shape or error code is the error's code, else an unmodelled error message.
pub fn error_event(
    model: &ServiceModel,
    union: &Shape,
    err: &AwsError,
    format: PayloadFormat,
) -> Message {
    let code: &str = &err.code;
    let found = union.members.iter().find_map(|(name, r)| {
        let shape = model.try_target(r).filter(|s| s.exception)?;
        let matches = name == code
            || r.shape == code
            || shape.error.as_ref().and_then(|e| e.code.as_deref()) == Some(code);
        matches.then_some((name, r, shape))
    });
    let Some((name, r, shape)) = found else {
        return error_message(code, &err.message);
    };
    let mut fields = err.fields.clone();
    let message_key = shape
        .members
        .keys()
        .find(|k| k.eq_ignore_ascii_case("message"))
        .map_or("message", String::as_str);
    if !err.message.is_empty() && !fields.contains_key(message_key) {
        fields.insert(message_key.to_owned(), Value::String(err.message.clone()));
    }
    let payload = (format.serialize)(model, &r.shape, &Value::Map(fields));
    exception_message(name, format.content_type, payload)
}

/// Encodes `msg`; a message that cannot be encoded (too large) becomes an error message,
/// and the second value says the stream must end there.
fn encode_or_fail(msg: &Message) -> (Bytes, bool) {
    match encode(msg) {
        Ok(b) => (b, false),
        Err(e) => (
            encode(&error_message("InternalFailure", &e.to_string())).unwrap_or_default(),
            true,
        ),
    }
}

struct ResponseState {
    model: Arc<ServiceModel>,
    union: String,
    format: PayloadFormat,
    initial: Option<Message>,
    /// `None` once the stream has ended (after an error).
    events: Option<EventStream>,
}

/// The body of an event stream response: `initial` first (the `initial-response` of the
/// RPC protocols), then one message per event of `events`, encoded as the events arrive.
/// `union` names the output's eventstream structure. The first error ends the stream.
pub fn response_body(
    model: &ServiceModel,
    union: &str,
    initial: Option<Message>,
    events: EventStream,
    format: PayloadFormat,
) -> ByteStream {
    let state = ResponseState {
        model: Arc::new(sub_model(model, union)),
        union: union.to_owned(),
        format,
        initial,
        events: Some(events),
    };
    let stream = futures_util::stream::unfold(state, |mut st| async move {
        if let Some(first) = st.initial.take() {
            let (bytes, failed) = encode_or_fail(&first);
            if failed {
                st.events = None;
            }
            return Some((Ok(bytes), st));
        }
        let item = st.events.as_mut()?.next().await?;
        let union = st.model.shapes.get(&st.union)?;
        let (msg, last) = match item {
            Ok(v) => match event_item(&st.model, union, &v, st.format) {
                Ok(m) => (m, false),
                Err(why) => (error_message("InternalFailure", &why), true),
            },
            Err(e) => (error_event(&st.model, union, &e, st.format), true),
        };
        let (bytes, failed) = encode_or_fail(&msg);
        if last || failed {
            st.events = None;
        }
        Some((Ok::<_, std::io::Error>(bytes), st))
    });
    ByteStream::new(None, stream)
}

/// Decodes a whole event stream body into its messages (tests of the codecs).
#[cfg(test)]
pub(crate) fn collect_messages(body: crate::Body) -> Vec<Message> {
    let bytes: Vec<u8> = match body {
        crate::Body::Full(b) => b.to_vec(),
        crate::Body::Stream(s) => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let mut st = s.stream;
                let mut out = Vec::new();
                while let Some(chunk) = st.next().await {
                    out.extend_from_slice(&chunk.expect("chunk"));
                }
                out
            })
        }
    };
    let mut d = MessageDecoder::new();
    d.push(&bytes);
    let mut out = Vec::new();
    while let Some(m) = d.next_message().expect("valid framing") {
        out.push(m);
    }
    assert_eq!(d.buffered(), 0, "trailing bytes");
    out
}

/// A model and events shared by the codecs' event stream tests.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;

    /// An S3-Select-like operation `Select`: for the rest protocols the stream is the
    /// payload and `Charged` a header; for the RPC ones `Note` goes in the initial response.
    pub fn model(protocol: &str) -> ServiceModel {
        let rest = protocol.starts_with("rest");
        let output = if rest {
            serde_json::json!({"type": "structure", "payload": "Payload", "members": {
                "Charged": {"shape": "Str", "location": "header",
                            "locationName": "x-amz-request-charged"},
                "Payload": {"shape": "SelectStream"}
            }})
        } else {
            serde_json::json!({"type": "structure", "members": {
                "Note": {"shape": "Str"},
                "Payload": {"shape": "SelectStream"}
            }})
        };
        ServiceModel::from_value(serde_json::json!({
            "metadata": {"protocol": protocol, "jsonVersion": "1.1",
                         "targetPrefix": "Svc", "endpointPrefix": "svc"},
            "operations": {"Select": {
                "name": "Select",
                "http": {"method": "POST", "requestUri": "/select"},
                "output": {"shape": "SelectOutput"}
            }},
            "shapes": {
                "SelectOutput": output,
                "SelectStream": {"type": "structure", "eventstream": true, "members": {
                    "Records": {"shape": "RecordsEvent"},
                    "Stats": {"shape": "StatsEvent"},
                    "Note": {"shape": "NoteEvent"},
                    "End": {"shape": "EndEvent"},
                    "Boom": {"shape": "BoomException"}
                }},
                "RecordsEvent": {"type": "structure", "event": true, "members": {
                    "Payload": {"shape": "Blob", "eventpayload": true}
                }},
                "StatsEvent": {"type": "structure", "event": true, "members": {
                    "Details": {"shape": "Stats", "eventpayload": true}
                }},
                "Stats": {"type": "structure", "members": {
                    "BytesScanned": {"shape": "Long"}
                }},
                "NoteEvent": {"type": "structure", "event": true, "members": {
                    "Id": {"shape": "Int", "eventheader": true},
                    "Text": {"shape": "Str"}
                }},
                "EndEvent": {"type": "structure", "event": true, "members": {}},
                "BoomException": {"type": "structure", "exception": true, "members": {
                    "Message": {"shape": "Str"},
                    "Reason": {"shape": "Str"}
                }},
                "Str": {"type": "string"},
                "Int": {"type": "integer"},
                "Long": {"type": "long"},
                "Blob": {"type": "blob"}
            }
        }))
        .expect("fixture model")
    }

    /// Records, Stats, Note, End, then the modelled `BoomException`, then an event that
    /// must never be sent since the error ended the stream.
    pub fn events() -> EventStream {
        let items: Vec<Result<Value, AwsError>> = vec![
            Ok(Value::map().with(
                "Records",
                Value::map().with("Payload", Bytes::from_static(b"a,b\n")),
            )),
            Ok(Value::map().with(
                "Stats",
                Value::map().with("Details", Value::map().with("BytesScanned", 10)),
            )),
            Ok(Value::map().with("Note", Value::map().with("Id", 7).with("Text", "hi"))),
            Ok(Value::map().with("End", Value::map())),
            Err(AwsError::new(400, "BoomException", "it broke").with_field("Reason", "disk")),
            Ok(Value::map().with(
                "Records",
                Value::map().with("Payload", Bytes::from_static(b"late")),
            )),
        ];
        EventStream::new(futures_util::stream::iter(items))
    }

    pub fn str_header<'m>(m: &'m Message, name: &str) -> Option<&'m str> {
        m.header(name).and_then(HeaderValue::as_str)
    }

    /// Checks the headers of the events of [`events`] (from the first message on) and
    /// returns their payloads, Records' raw bytes first.
    pub fn check_events(msgs: &[Message], content_type: &str) -> Vec<Bytes> {
        assert_eq!(msgs.len(), 5, "{msgs:?}");
        let kinds: Vec<_> = msgs
            .iter()
            .map(|m| {
                (
                    str_header(m, ":message-type").unwrap_or(""),
                    str_header(m, ":event-type")
                        .or(str_header(m, ":exception-type"))
                        .unwrap_or(""),
                )
            })
            .collect();
        assert_eq!(
            kinds,
            [
                ("event", "Records"),
                ("event", "Stats"),
                ("event", "Note"),
                ("event", "End"),
                ("exception", "Boom"),
            ]
        );
        assert_eq!(
            str_header(&msgs[0], ":content-type"),
            Some("application/octet-stream")
        );
        assert_eq!(msgs[0].payload.as_ref(), b"a,b\n");
        assert_eq!(str_header(&msgs[1], ":content-type"), Some(content_type));
        assert_eq!(msgs[2].header("Id"), Some(&HeaderValue::Int(7)));
        assert!(msgs[3].payload.is_empty() && msgs[3].header(":content-type").is_none());
        assert_eq!(str_header(&msgs[4], ":content-type"), Some(content_type));
        msgs.iter().map(|m| m.payload.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn empty_message_vector() {
        // The empty message of the AWS event stream test suites.
        let wire = hex("000000100000000005c248eb7d98c8ff");
        assert_eq!(encode(&Message::default()).unwrap().as_ref(), wire);
        assert_eq!(decode(&wire).unwrap(), Message::default());
    }

    #[test]
    fn payload_only_vector() {
        let wire = hex("0000001d00000000fd528c5a7b27666f6f273a27626172277dc3653936");
        let msg = Message {
            headers: vec![],
            payload: Bytes::from_static(b"{'foo':'bar'}"),
        };
        assert_eq!(encode(&msg).unwrap().as_ref(), wire);
        assert_eq!(decode(&wire).unwrap(), msg);
    }

    fn all_headers() -> Message {
        Message {
            headers: vec![
                ("t".into(), HeaderValue::Bool(true)),
                ("f".into(), HeaderValue::Bool(false)),
                ("b".into(), HeaderValue::Byte(-3)),
                ("s".into(), HeaderValue::Short(-300)),
                ("i".into(), HeaderValue::Int(40_000)),
                ("l".into(), HeaderValue::Long(-5_000_000_000)),
                (
                    "by".into(),
                    HeaderValue::Bytes(Bytes::from_static(b"\x00\x01")),
                ),
                ("st".into(), HeaderValue::String("héllo".into())),
                ("ts".into(), HeaderValue::Timestamp(1_700_000_000_123)),
                ("u".into(), HeaderValue::Uuid([7; 16])),
            ],
            payload: Bytes::from_static(b"payload"),
        }
    }

    #[test]
    fn round_trips_every_header_type_in_pieces() {
        let msg = all_headers();
        let one = encode(&msg).unwrap();
        let mut wire = one.to_vec();
        wire.extend_from_slice(&encode(&error_message("Boom", "it broke")).unwrap());
        let mut d = MessageDecoder::new();
        let mut got = Vec::new();
        for byte in wire {
            d.push(&[byte]);
            while let Some(m) = d.next_message().unwrap() {
                got.push(m);
            }
        }
        assert_eq!(got.len(), 2);
        assert_eq!(got[0], msg);
        assert_eq!(
            got[1].header(":error-code").and_then(HeaderValue::as_str),
            Some("Boom")
        );
        assert_eq!(d.buffered(), 0);
    }

    #[test]
    fn bad_crcs_and_lengths_fail() {
        let wire = encode(&all_headers()).unwrap().to_vec();
        let mut prelude = wire.clone();
        prelude[9] ^= 1;
        assert!(matches!(
            decode(&prelude),
            Err(EventStreamError::PreludeCrc { .. })
        ));
        let mut body = wire.clone();
        let n = body.len();
        body[n - 6] ^= 1;
        assert!(matches!(
            decode(&body),
            Err(EventStreamError::MessageCrc { .. })
        ));
        // A huge declared length with a valid prelude CRC is refused before buffering.
        let mut huge = (u32::MAX).to_be_bytes().to_vec();
        huge.extend_from_slice(&0u32.to_be_bytes());
        let crc = crc32fast::hash(&huge);
        huge.extend_from_slice(&crc.to_be_bytes());
        let mut d = MessageDecoder::new();
        d.push(&huge);
        assert!(matches!(
            d.next_message(),
            Err(EventStreamError::InvalidLength(_))
        ));
        // Headers longer than the message.
        let mut hl = 20u32.to_be_bytes().to_vec();
        hl.extend_from_slice(&10u32.to_be_bytes());
        let crc = crc32fast::hash(&hl);
        hl.extend_from_slice(&crc.to_be_bytes());
        hl.extend_from_slice(&[0; 8]);
        assert!(decode(&hl).is_err());
        assert!(decode(&wire[..wire.len() - 1]).is_err());
    }

    #[test]
    fn malformed_headers_fail_without_panicking() {
        for headers in [
            &[5u8, b'a'][..],
            &[1, b'a', 42],
            &[1, b'a', 7, 0, 9, b'x'],
            &[1, b'a'],
            &[1, b'a', 4, 0],
            &[1, b'a', 9, 1, 2],
            &[1, 0xff, 0],
        ] {
            let total = OVERHEAD + headers.len();
            let mut w = (total as u32).to_be_bytes().to_vec();
            w.extend_from_slice(&(headers.len() as u32).to_be_bytes());
            let crc = crc32fast::hash(&w);
            w.extend_from_slice(&crc.to_be_bytes());
            w.extend_from_slice(headers);
            let crc = crc32fast::hash(&w);
            w.extend_from_slice(&crc.to_be_bytes());
            assert!(
                matches!(decode(&w), Err(EventStreamError::InvalidHeader(_))),
                "{headers:?}"
            );
        }
    }

    #[test]
    fn builds_events_from_modelled_shapes() {
        let model = ServiceModel::from_value(serde_json::json!({
            "metadata": {"protocol": "rest-json"},
            "operations": {},
            "shapes": {
                "Ev": {"type": "structure", "members": {
                    "Id": {"shape": "Int", "eventheader": true},
                    "Note": {"shape": "Str"},
                    "Flag": {"shape": "Bool", "eventheader": true}
                }},
                "Raw": {"type": "structure", "members": {
                    "Data": {"shape": "Blob", "eventpayload": true}
                }},
                "Int": {"type": "integer"},
                "Str": {"type": "string"},
                "Bool": {"type": "boolean"},
                "Blob": {"type": "blob"}
            }
        }))
        .unwrap();
        let v = Value::map()
            .with("Id", 7)
            .with("Note", "hi")
            .with("Flag", true);
        let msg = event_from_value(&model, "Thing", "Ev", &v, "application/json", |shape, v| {
            assert_eq!(shape, "Ev");
            assert!(v.get("Id").is_none());
            Bytes::from(format!("{{\"Note\":\"{}\"}}", v.str("Note").unwrap_or("")))
        });
        assert_eq!(msg.header(":event-type"), Some(&"Thing".into()));
        assert_eq!(msg.header(":message-type"), Some(&"event".into()));
        assert_eq!(msg.header("Id"), Some(&HeaderValue::Int(7)));
        assert_eq!(msg.header("Flag"), Some(&HeaderValue::Bool(true)));
        assert_eq!(msg.payload.as_ref(), br#"{"Note":"hi"}"#);

        let raw = Value::map().with("Data", Bytes::from_static(b"\x01\x02"));
        let msg = event_from_value(&model, "Raw", "Raw", &raw, "application/json", |_, _| {
            unreachable!("blob payloads go out raw")
        });
        assert_eq!(
            msg.header(":content-type"),
            Some(&"application/octet-stream".into())
        );
        assert_eq!(msg.payload.as_ref(), b"\x01\x02");
        let wire = encode(&msg).unwrap();
        assert_eq!(decode(&wire).unwrap(), msg);

        let ex = exception_message("Bad", "application/json", Bytes::from_static(b"{}"));
        assert_eq!(ex.header(":message-type"), Some(&"exception".into()));
    }

    fn json_format() -> PayloadFormat {
        PayloadFormat {
            content_type: "application/json",
            serialize: |_, _, v| Bytes::from(format!("{v:?}")),
        }
    }

    #[test]
    fn response_bodies_are_produced_lazily() {
        // An endless event stream: taking three chunks must not wait for its end.
        let model = fixtures::model("rest-json");
        let endless =
            futures_util::stream::repeat_with(|| Ok(Value::map().with("End", Value::map())));
        let body = response_body(
            &model,
            "SelectStream",
            None,
            EventStream::new(endless),
            json_format(),
        );
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let chunks: Vec<_> = rt.block_on(body.stream.take(3).collect());
        assert_eq!(chunks.len(), 3);
        for c in chunks {
            let m = decode(&c.unwrap()).unwrap();
            assert_eq!(m.header(":event-type"), Some(&"End".into()));
        }
    }

    #[test]
    fn unmodelled_errors_and_bad_events_end_the_stream() {
        let model = fixtures::model("rest-json");
        let run = |items: Vec<Result<Value, AwsError>>| {
            let body = response_body(
                &model,
                "SelectStream",
                None,
                EventStream::new(futures_util::stream::iter(items)),
                json_format(),
            );
            collect_messages(crate::Body::Stream(body))
        };
        let end = || Ok(Value::map().with("End", Value::map()));
        let msgs = run(vec![
            end(),
            Err(AwsError::new(
                503,
                "SlowDown",
                "Please reduce your request rate.",
            )),
            end(),
        ]);
        assert_eq!(msgs.len(), 2);
        assert_eq!(msgs[1].header(":message-type"), Some(&"error".into()));
        assert_eq!(msgs[1].header(":error-code"), Some(&"SlowDown".into()));
        assert_eq!(
            msgs[1].header(":error-message"),
            Some(&"Please reduce your request rate.".into())
        );
        // An event the union does not declare is a handler bug, reported in band.
        let msgs = run(vec![Ok(Value::map().with("Nope", Value::map())), end()]);
        assert_eq!(msgs.len(), 1);
        assert_eq!(
            msgs[0].header(":error-code"),
            Some(&"InternalFailure".into())
        );
        // Events are modelled by the union member: a value in two members is refused too.
        let msgs = run(vec![Ok(Value::map()
            .with("End", Value::map())
            .with("Stats", Value::map()))]);
        assert_eq!(msgs[0].header(":message-type"), Some(&"error".into()));
        // A handler may yield a modelled exception as a value as well.
        let msgs = run(vec![Ok(
            Value::map().with("Boom", Value::map().with("Message", "m"))
        )]);
        assert_eq!(msgs[0].header(":exception-type"), Some(&"Boom".into()));
    }
}
