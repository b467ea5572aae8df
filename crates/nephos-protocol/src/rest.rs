//! HTTP bindings shared by the REST protocols (restJson1 and restXml).
//!
//! - Routing: an operation's `requestUri` template (`/{Bucket}/{Key+}?uploads`) is matched
//!   against the method, raw path and query of a request; the most specific template wins.
//!   Routers are built once per model and cached ([`resolve`]).
//! - Request binding ([`bind_request`]): members bound to URI labels, query parameters,
//!   headers and header-prefix maps are read with the type conversions AWS applies;
//!   [`body_target`] tells the body codec what is left for the body.
//! - Response binding ([`bind_response`]): headers, header-prefix maps and the status code
//!   are written; the body codec writes the rest.
//!
//! Nothing here knows a body format. Malformed bound values are 400
//! `SerializationException` (the restJson1 code); codecs of protocols that report them
//! differently rename the code.

// `AwsError` is the crate-wide error of the `Codec` trait; boxing it here alone would
// only add conversions.
#![allow(clippy::result_large_err)]

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use nephos_core::{AwsError, Map, Timestamp, Value};
use nephos_model::{Operation, ServiceModel, Shape, ShapeRef, ShapeType, TimestampFormat};
use percent_encoding::percent_decode_str;

use crate::HttpRequest;

/// Decoded URI label values by label name (`Bucket`, `Key`).
pub type Labels = Vec<(String, String)>;

#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Literal(String),
    Label(String),
    Greedy(String),
}

/// One operation's parsed `requestUri`.
#[derive(Debug, Clone)]
struct Route {
    op: String,
    method: String,
    segments: Vec<Segment>,
    /// Whether a segment is a greedy label (`{Key+}`).
    greedy: bool,
    /// Literal query requirements: key, and the value when the template fixes one.
    query: Vec<(String, Option<String>)>,
}

impl Route {
    fn parse(op: &Operation) -> Route {
        let template = op.http.request_uri.as_str();
        let (path, query) = template.split_once('?').unwrap_or((template, ""));
        let segments: Vec<Segment> = split_path(path)
            .into_iter()
            .map(|s| {
                if let Some(inner) = s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    match inner.strip_suffix('+') {
                        Some(name) => Segment::Greedy(name.to_owned()),
                        None => Segment::Label(inner.to_owned()),
                    }
                } else {
                    Segment::Literal(s.to_owned())
                }
            })
            .collect();
        let query = query
            .split('&')
            .filter(|q| !q.is_empty())
            .map(|q| match q.split_once('=') {
                Some((k, v)) => (k.to_owned(), Some(v.to_owned())),
                None => (q.to_owned(), None),
            })
            .collect();
        Route {
            op: op.name.clone(),
            method: op.http.method.to_ascii_uppercase(),
            greedy: segments.iter().any(|s| matches!(s, Segment::Greedy(_))),
            segments,
            query,
        }
    }

    /// Specificity: literal segments, then literal query requirements met, then literal
    /// characters, then fewer greedy labels.
    fn score(&self, query_matched: usize) -> (usize, usize, usize, usize) {
        let lits = self
            .segments
            .iter()
            .filter(|s| matches!(s, Segment::Literal(_)))
            .count();
        let chars = self
            .segments
            .iter()
            .map(|s| match s {
                Segment::Literal(l) => l.len(),
                _ => 0,
            })
            .sum();
        let greedy = self
            .segments
            .iter()
            .filter(|s| matches!(s, Segment::Greedy(_)))
            .count();
        (lits, query_matched, chars, usize::MAX - greedy)
    }

    /// Whether a path of `n` segments can match at all (most routes fail here, cheaply).
    fn fits(&self, n: usize) -> bool {
        if self.greedy {
            n >= self.segments.len()
        } else {
            n == self.segments.len()
        }
    }

    /// Whether the route matches decoded path segments (raw segments kept for greedy
    /// labels); returns how many query literals the request actually carries.
    fn matches(&self, raw: &[&str], query: &[(String, String)]) -> Option<usize> {
        if !self.fits(raw.len()) {
            return None;
        }
        let mut matched = 0;
        for (k, v) in &self.query {
            let found = query
                .iter()
                .any(|(qk, qv)| qk == k && v.as_ref().is_none_or(|v| v == qv));
            // `x-id=GetObject` only disambiguates for clients that send it.
            if found {
                matched += 1;
            } else if k != "x-id" || query.iter().any(|(qk, _)| qk == k) {
                return None;
            }
        }
        if !match_segments(&self.segments, raw, &mut None) {
            return None;
        }
        Some(matched)
    }

    /// The labels of a path this route matches.
    fn labels(&self, raw: &[&str]) -> Labels {
        let mut labels = Some(Vec::new());
        match_segments(&self.segments, raw, &mut labels);
        labels.unwrap_or_default()
    }
}

/// Matches a template against path segments, collecting labels when asked to (routing
/// tries many routes and needs the labels of one).
fn match_segments(tpl: &[Segment], raw: &[&str], labels: &mut Option<Labels>) -> bool {
    let Some((first, rest)) = tpl.split_first() else {
        return raw.is_empty();
    };
    match first {
        Segment::Literal(l) => {
            let Some((seg, raw_rest)) = raw.split_first() else {
                return false;
            };
            (seg == l || (seg.contains('%') && decode(seg) == *l))
                && match_segments(rest, raw_rest, labels)
        }
        Segment::Label(name) => {
            let Some((seg, raw_rest)) = raw.split_first() else {
                return false;
            };
            if seg.is_empty() {
                return false;
            }
            if let Some(l) = labels {
                l.push((name.clone(), decode(seg)));
            }
            if match_segments(rest, raw_rest, labels) {
                return true;
            }
            if let Some(l) = labels {
                l.pop();
            }
            false
        }
        Segment::Greedy(name) => {
            // Take as much as possible while leaving enough for the rest of the template.
            let min_rest = rest.len();
            if raw.len() <= min_rest {
                return false;
            }
            for take in (1..=raw.len() - min_rest).rev() {
                // The joined label is empty only when it is one empty segment.
                if take == 1 && raw[0].is_empty() {
                    continue;
                }
                if let Some(l) = labels {
                    l.push((name.clone(), decode(&raw[..take].join("/"))));
                }
                if match_segments(rest, &raw[take..], labels) {
                    return true;
                }
                if let Some(l) = labels {
                    l.pop();
                }
            }
            false
        }
    }
}

fn decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

/// Path segments without the leading slash; a trailing slash is not significant except
/// inside a greedy label.
fn split_path(path: &str) -> Vec<&str> {
    let p = path.strip_prefix('/').unwrap_or(path);
    if p.is_empty() {
        return Vec::new();
    }
    let mut segs: Vec<&str> = p.split('/').collect();
    if segs.last() == Some(&"") {
        segs.pop();
    }
    segs
}

/// Splits a raw query string into percent-decoded pairs, in order. `+` is kept literally:
/// AWS SDKs percent-encode spaces as `%20`.
pub fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    let Some(q) = query else { return Vec::new() };
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(p), String::new()),
        })
        .collect()
}

/// The parsed routes of one model.
#[derive(Debug)]
pub struct Router {
    routes: Vec<Route>,
    /// Indexes into `routes` by HTTP method.
    by_method: Vec<(String, Vec<usize>)>,
    /// Index into `routes` by operation name.
    by_name: std::collections::HashMap<String, usize, foldhash::fast::RandomState>,
}

impl Router {
    pub fn new(model: &ServiceModel) -> Router {
        let routes: Vec<Route> = model.operations.values().map(Route::parse).collect();
        let mut by_method: Vec<(String, Vec<usize>)> = Vec::new();
        for (i, r) in routes.iter().enumerate() {
            match by_method.iter_mut().find(|(m, _)| *m == r.method) {
                Some((_, list)) => list.push(i),
                None => by_method.push((r.method.clone(), vec![i])),
            }
        }
        let by_name = routes
            .iter()
            .enumerate()
            .map(|(i, r)| (r.op.clone(), i))
            .collect();
        Router {
            routes,
            by_method,
            by_name,
        }
    }

    /// The path labels of a request to `op`, already resolved (the codec parsing a request
    /// need not route it again). Empty when the operation's template does not match.
    pub fn labels_for(&self, op: &Operation, req: &HttpRequest) -> Labels {
        let raw = split_path(req.uri.path());
        match self.by_name.get(op.name.as_str()).map(|&i| &self.routes[i]) {
            Some(route) if route.fits(raw.len()) => route.labels(&raw),
            _ => Vec::new(),
        }
    }

    /// The operation a request calls, with its decoded labels.
    pub fn resolve<'m>(
        &self,
        model: &'m ServiceModel,
        req: &HttpRequest,
    ) -> Option<(&'m Operation, Labels)> {
        let raw = split_path(req.uri.path());
        let query = query_pairs(req.uri.query());
        let method = req.method.as_str();
        let mut best: Option<(_, &Route)> = None;
        let candidates = self
            .by_method
            .iter()
            .find(|(m, _)| m == method)
            .map_or(&[][..], |(_, list)| list.as_slice());
        for r in candidates.iter().map(|&i| &self.routes[i]) {
            let Some(matched) = r.matches(&raw, &query) else {
                continue;
            };
            let score = r.score(matched);
            if best.as_ref().is_none_or(|(s, _)| score > *s) {
                best = Some((score, r));
            }
        }
        let (_, r) = best?;
        Some((model.operations.get(&r.op)?, r.labels(&raw)))
    }

    /// Whether any operation's path matches, whatever the method (405 versus 404).
    pub fn path_matches(&self, req: &HttpRequest) -> bool {
        let raw = split_path(req.uri.path());
        let query = query_pairs(req.uri.query());
        self.routes
            .iter()
            .any(|r| r.matches(&raw, &query).is_some())
    }
}

/// The router of a model, built on first use and kept with the model.
pub fn router(model: &ServiceModel) -> &Router {
    let derived = model.derived.get_or_init(|| Box::new(Router::new(model)));
    match derived.downcast_ref::<Router>() {
        Some(r) => r,
        None => unreachable!("the protocol engine is the only user of ServiceModel::derived"),
    }
}

/// The operation a request calls by method and URI template, with its labels.
pub fn resolve<'m>(model: &'m ServiceModel, req: &HttpRequest) -> Option<(&'m Operation, Labels)> {
    router(model).resolve(model, req)
}

fn malformed(msg: impl Into<String>) -> AwsError {
    AwsError::new(400, "SerializationException", msg)
}

/// Where a structure's unbound members go in the body.
#[derive(Debug)]
pub enum BodyTarget<'s> {
    /// The whole body is this member (`payload` trait).
    Payload(&'s str, &'s ShapeRef),
    /// The body is a document of these members (possibly none).
    Members(Vec<(&'s str, &'s ShapeRef)>),
}

/// What of `shape` the body carries.
pub fn body_target(shape: &Shape) -> BodyTarget<'_> {
    if let Some(p) = &shape.payload
        && let Some((name, r)) = shape.members.get_key_value(p)
    {
        return BodyTarget::Payload(name.as_str(), r);
    }
    BodyTarget::Members(
        shape
            .members
            .iter()
            .filter(|(_, r)| r.location.is_none())
            .map(|(n, r)| (n.as_str(), r))
            .collect(),
    )
}

/// Whether a payload member is written raw (blob or string) rather than as a document.
pub fn is_raw_payload(model: &ServiceModel, r: &ShapeRef) -> bool {
    matches!(model.target(r).kind, ShapeType::Blob | ShapeType::String)
}

/// The timestamp format of a member: the member's, else its shape's, else `default`.
pub fn timestamp_format(
    model: &ServiceModel,
    r: &ShapeRef,
    default: TimestampFormat,
) -> TimestampFormat {
    r.timestamp_format
        .or(model.target(r).timestamp_format)
        .unwrap_or(default)
}

/// Reads the members of `shape` bound to labels, query, headers and header prefixes.
pub fn bind_request(
    model: &ServiceModel,
    shape: &Shape,
    labels: &Labels,
    req: &HttpRequest,
) -> Result<Map, AwsError> {
    let mut out = Map::default();
    let query = query_pairs(req.uri.query());
    // Most header-bound members are absent: checking the request's few (lowercase) header
    // names first spares parsing each member's name for a lookup.
    let header_names: Vec<&str> = req.headers.keys().map(|k| k.as_str()).collect();
    for (name, r) in &shape.members {
        let wire = r.location_name.as_deref().unwrap_or(name);
        let location = r.location.as_deref();
        match location {
            None => continue,
            Some("header") if !header_names.iter().any(|h| h.eq_ignore_ascii_case(wire)) => {
                continue;
            }
            Some("querystring") if query.is_empty() => continue,
            _ => {}
        }
        let target = model.target(r);
        match location {
            Some("uri") => {
                if let Some((_, v)) = labels.iter().find(|(l, _)| l == wire) {
                    let ts = timestamp_format(model, r, TimestampFormat::Iso8601);
                    out.insert(name.clone(), scalar(model, r, v, ts)?);
                }
            }
            Some("querystring") => {
                if target.kind == ShapeType::Map {
                    if let Some(v) = query_map(model, target, &query)? {
                        out.insert(name.clone(), v);
                    }
                    continue;
                }
                let values: Vec<&str> = query
                    .iter()
                    .filter(|(k, _)| k == wire)
                    .map(|(_, v)| v.as_str())
                    .collect();
                if values.is_empty() {
                    continue;
                }
                // S3 reads an empty number in the query (`?part-number-marker=`) as none.
                if values[0].is_empty()
                    && matches!(
                        target.kind,
                        ShapeType::Integer | ShapeType::Long | ShapeType::Short | ShapeType::Byte
                    )
                    && model.metadata.service_id.as_deref() == Some("S3")
                {
                    continue;
                }
                if target.kind == ShapeType::List {
                    let m = member_ref(target)?;
                    let ts = timestamp_format(model, m, TimestampFormat::Iso8601);
                    let items = values
                        .iter()
                        .map(|v| scalar(model, m, v, ts))
                        .collect::<Result<Vec<_>, _>>()?;
                    out.insert(name.clone(), Value::List(items));
                } else {
                    let ts = timestamp_format(model, r, TimestampFormat::Iso8601);
                    out.insert(name.clone(), scalar(model, r, values[0], ts)?);
                }
            }
            Some("header") => {
                let mut values = req.headers.get_all(wire).iter().peekable();
                if values.peek().is_none() {
                    continue;
                }
                let joined = values
                    .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                    .collect::<Vec<_>>()
                    .join(", ");
                if target.kind == ShapeType::List && joined.trim().is_empty() {
                    out.insert(name.clone(), Value::List(Vec::new()));
                } else if target.kind == ShapeType::List {
                    let m = member_ref(target)?;
                    let ts = timestamp_format(model, m, TimestampFormat::Rfc822);
                    let is_date = model.target(m).kind == ShapeType::Timestamp
                        && ts == TimestampFormat::Rfc822;
                    let items = split_header_list(&joined, is_date)
                        .iter()
                        .map(|v| scalar(model, m, v, ts))
                        .collect::<Result<Vec<_>, _>>()?;
                    out.insert(name.clone(), Value::List(items));
                } else {
                    let ts = timestamp_format(model, r, TimestampFormat::Rfc822);
                    out.insert(name.clone(), scalar(model, r, joined.trim(), ts)?);
                }
            }
            Some("headers") => {
                let prefix = r
                    .location_name
                    .as_deref()
                    .unwrap_or("")
                    .to_ascii_lowercase();
                let value_ref = target.value.as_ref().ok_or_else(|| {
                    AwsError::internal(format!("map shape {} has no value", r.shape))
                })?;
                let mut map = Map::default();
                for (k, v) in &req.headers {
                    if let Some(rest) = k.as_str().strip_prefix(prefix.as_str()) {
                        let text = String::from_utf8_lossy(v.as_bytes());
                        let ts = timestamp_format(model, value_ref, TimestampFormat::Rfc822);
                        map.insert(rest.to_owned(), scalar(model, value_ref, &text, ts)?);
                    }
                }
                if !map.is_empty() {
                    out.insert(name.clone(), Value::Map(map));
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

fn member_ref(list: &Shape) -> Result<&ShapeRef, AwsError> {
    list.member
        .as_ref()
        .ok_or_else(|| AwsError::internal("list shape without member"))
}

/// A query map member: every query parameter not bound to another member.
fn query_map(
    model: &ServiceModel,
    map: &Shape,
    query: &[(String, String)],
) -> Result<Option<Value>, AwsError> {
    let value_ref = map
        .value
        .as_ref()
        .ok_or_else(|| AwsError::internal("map shape without value"))?;
    let value_shape = model.target(value_ref);
    let mut out: Map = Map::default();
    // Smithy's httpQueryParams map sees every parameter, including those also bound to
    // named members (which take precedence only for their own member).
    for (k, v) in query {
        if value_shape.kind == ShapeType::List {
            let m = member_ref(value_shape)?;
            let item = scalar(model, m, v, TimestampFormat::Iso8601)?;
            match out
                .entry(k.clone())
                .or_insert_with(|| Value::List(Vec::new()))
            {
                Value::List(l) => l.push(item),
                _ => unreachable!("query map list entries are lists"),
            }
        } else if !out.contains_key(k) {
            out.insert(
                k.clone(),
                scalar(model, value_ref, v, TimestampFormat::Iso8601)?,
            );
        }
    }
    Ok((!out.is_empty()).then_some(Value::Map(out)))
}

/// Splits a comma-separated header list, honouring double-quoted items (`"b,c", a`);
/// HTTP dates contain a comma, so a list of them splits at every second comma.
pub fn split_header_list(text: &str, http_dates: bool) -> Vec<String> {
    if http_dates {
        let parts: Vec<&str> = text.split(',').map(str::trim).collect();
        return parts
            .chunks(2)
            .map(|c| c.join(", "))
            .filter(|s| !s.is_empty())
            .collect();
    }
    let mut items = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            break;
        }
        let mut item = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        if let Some(n) = chars.next() {
                            item.push(n);
                        }
                    }
                    '"' => break,
                    c => item.push(c),
                }
            }
            // Skip to the next separator.
            for c in chars.by_ref() {
                if c == ',' {
                    break;
                }
            }
            items.push(item);
        } else {
            for c in chars.by_ref() {
                if c == ',' {
                    break;
                }
                item.push(c);
            }
            items.push(item.trim().to_owned());
        }
    }
    items
}

/// Converts bound text (label, query value, header) into a value of `r`'s shape.
pub fn scalar(
    model: &ServiceModel,
    r: &ShapeRef,
    text: &str,
    ts: TimestampFormat,
) -> Result<Value, AwsError> {
    let shape = model.target(r);
    let bad = |what: &str| malformed(format!("Value '{text}' is not a valid {what}"));
    Ok(match shape.kind {
        ShapeType::String | ShapeType::Character => {
            if r.json_value {
                let bytes = B64
                    .decode(text.trim())
                    .map_err(|_| bad("base64 JSON value"))?;
                let json: serde_json::Value =
                    serde_json::from_slice(&bytes).map_err(|_| bad("JSON value"))?;
                document_from_json(json)
            } else {
                Value::String(text.to_owned())
            }
        }
        ShapeType::Integer | ShapeType::Long | ShapeType::Short | ShapeType::Byte => {
            Value::Integer(text.trim().parse().map_err(|_| bad("integer"))?)
        }
        ShapeType::Float | ShapeType::Double => {
            Value::Float(parse_float(text.trim()).ok_or_else(|| bad("number"))?)
        }
        ShapeType::Boolean => match text.trim().to_ascii_lowercase().as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => return Err(bad("boolean")),
        },
        ShapeType::Blob => Value::Blob(
            B64.decode(text.trim())
                .map_err(|_| bad("base64 blob"))?
                .into(),
        ),
        ShapeType::Timestamp => Value::Timestamp(
            crate::timestamp::parse(text, ts)
                .or_else(|| crate::timestamp::parse_any(text))
                .ok_or_else(|| bad("timestamp"))?,
        ),
        ShapeType::BigInteger | ShapeType::BigDecimal => Value::String(text.trim().to_owned()),
        ShapeType::List | ShapeType::Map | ShapeType::Structure => {
            return Err(malformed(format!(
                "shape {} cannot be bound outside the body",
                r.shape
            )));
        }
    })
}

/// Parses a float as AWS writes them, including `NaN` and `±Infinity`.
pub fn parse_float(text: &str) -> Option<f64> {
    match text {
        "NaN" => Some(f64::NAN),
        "Infinity" => Some(f64::INFINITY),
        "-Infinity" => Some(f64::NEG_INFINITY),
        t => t.parse().ok().filter(|f: &f64| f.is_finite()),
    }
}

/// Formats a float as AWS writes them outside JSON numbers (`NaN`, `Infinity`).
pub fn format_float(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f == f64::INFINITY {
        "Infinity".into()
    } else if f == f64::NEG_INFINITY {
        "-Infinity".into()
    } else {
        f.to_string()
    }
}

/// A JSON value (document, jsonvalue trait) in the natural [`Value`] mapping.
pub fn document_from_json(json: serde_json::Value) -> Value {
    match json {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::Integer(i),
            None => Value::Float(n.as_f64().unwrap_or(0.0)),
        },
        serde_json::Value::String(s) => Value::String(s),
        serde_json::Value::Array(a) => Value::List(a.into_iter().map(document_from_json).collect()),
        serde_json::Value::Object(o) => Value::Map(
            o.into_iter()
                .map(|(k, v)| (k, document_from_json(v)))
                .collect(),
        ),
    }
}

/// The inverse of [`document_from_json`]; blobs and timestamps (which documents cannot
/// hold) become base64 text and epoch seconds.
pub fn document_to_json(v: &Value) -> serde_json::Value {
    match v {
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => (*b).into(),
        Value::Integer(i) => (*i).into(),
        Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(serde_json::Value::Number)
            .unwrap_or_else(|| format_float(*f).into()),
        Value::String(s) => s.clone().into(),
        Value::Blob(b) => B64.encode(b).into(),
        Value::Timestamp(t) => serde_json::Number::from_f64(t.0)
            .map(serde_json::Value::Number)
            .unwrap_or(serde_json::Value::Null),
        Value::Json(raw) => serde_json::from_str(raw.text()).unwrap_or_default(),
        Value::List(l) => l.iter().map(document_to_json).collect(),
        Value::Map(m) => serde_json::Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), document_to_json(v)))
                .collect(),
        ),
    }
}

/// Formats a bound scalar for a header or query value.
pub fn format_scalar(model: &ServiceModel, r: &ShapeRef, v: &Value, ts: TimestampFormat) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Integer(i) => i.to_string(),
        Value::Float(f) => format_float(*f),
        Value::Bool(b) => b.to_string(),
        Value::Blob(b) => B64.encode(b),
        Value::Timestamp(t) => crate::timestamp::format(*t, ts),
        other if r.json_value || model.target(r).document => {
            serde_json::to_string(&document_to_json(other)).unwrap_or_default()
        }
        Value::Json(raw) => raw.text().to_owned(),
        Value::Null | Value::List(_) | Value::Map(_) => String::new(),
    }
}

/// A [`Value::Json`] as the document it holds, for writers of other formats.
pub fn raw_to_document(raw: &nephos_core::RawJson) -> Value {
    document_from_json(serde_json::from_str(raw.text()).unwrap_or_default())
}

fn header_value(text: String) -> Option<http::HeaderValue> {
    // Takes the text's buffer rather than copying it.
    http::HeaderValue::from_maybe_shared(bytes::Bytes::from(text)).ok()
}

/// Formats a header member (`jsonvalue` strings as base64 JSON, lists comma-joined with
/// quoting where an item holds a comma or quote).
fn header_text(model: &ServiceModel, r: &ShapeRef, v: &Value) -> String {
    let shape = model.target(r);
    match (shape.kind, v) {
        (ShapeType::List, Value::List(items)) => {
            let Some(m) = shape.member.as_ref() else {
                return String::new();
            };
            let ts = timestamp_format(model, m, TimestampFormat::Rfc822);
            items
                .iter()
                .map(|i| {
                    let t = format_scalar(model, m, i, ts);
                    let is_date = matches!(i, Value::Timestamp(_));
                    if !is_date && (t.contains(',') || t.contains('"')) {
                        format!("\"{}\"", t.replace('\\', "\\\\").replace('"', "\\\""))
                    } else {
                        t
                    }
                })
                .collect::<Vec<_>>()
                .join(", ")
        }
        _ if r.json_value => B64.encode(
            serde_json::to_string(&document_to_json(v))
                .unwrap_or_default()
                .as_bytes(),
        ),
        _ => format_scalar(
            model,
            r,
            v,
            timestamp_format(model, r, TimestampFormat::Rfc822),
        ),
    }
}

/// Writes the members of `shape` bound to headers, header prefixes and the status code,
/// removing them from `value`; returns the status (the `statusCode` member, else the
/// operation's `responseCode`, else 200). What stays in `value` belongs to the body.
pub fn bind_response(
    model: &ServiceModel,
    op: Option<&Operation>,
    shape: &Shape,
    value: &mut Map,
    headers: &mut http::HeaderMap,
) -> u16 {
    let mut status = op.and_then(|o| o.http.response_code).unwrap_or(200);
    // The value holds a few of the shape's many members (S3's GetObject output has 40):
    // visit those.
    let bound: Vec<(&String, &ShapeRef)> = value
        .keys()
        .filter_map(|k| shape.members.get_key_value(k.as_str()))
        .filter(|(_, r)| {
            matches!(
                r.location.as_deref(),
                Some("header" | "headers" | "statusCode")
            )
        })
        .collect();
    if bound.is_empty() {
        return status;
    }
    let mut taken: Vec<(&String, &ShapeRef, Value)> = Vec::with_capacity(bound.len());
    value.retain(|k, v| match bound.iter().find(|(n, _)| *n == k) {
        Some((n, r)) => {
            taken.push((n, r, std::mem::take(v)));
            false
        }
        None => true,
    });
    // Model order, so that overlapping prefix maps resolve as they always have.
    taken.sort_by_cached_key(|(n, _, _)| shape.members.get_index_of(n.as_str()));
    for (name, r, v) in taken {
        let loc = r.location.as_deref();
        match loc {
            Some("statusCode") => {
                if let Value::Integer(i) = v
                    && let Ok(s) = u16::try_from(i)
                {
                    status = s;
                }
            }
            Some("header") => {
                let wire = r.location_name.as_deref().unwrap_or(name);
                if let (Ok(hn), Some(hv)) = (
                    http::HeaderName::from_bytes(wire.as_bytes()),
                    header_value(header_text(model, r, &v)),
                ) {
                    headers.insert(hn, hv);
                }
            }
            Some("headers") => {
                let prefix = r.location_name.as_deref().unwrap_or("");
                let target = model.target(r);
                let (Value::Map(m), Some(value_ref)) = (&v, target.value.as_ref()) else {
                    continue;
                };
                for (k, item) in m {
                    let wire = format!("{prefix}{k}");
                    if let (Ok(hn), Some(hv)) = (
                        http::HeaderName::from_bytes(wire.as_bytes()),
                        header_value(header_text(model, value_ref, item)),
                    ) {
                        // Overlapping prefix maps (`""` and `x-`) name the same header once.
                        headers.insert(hn, hv);
                    }
                }
            }
            _ => {}
        }
    }
    status
}

/// The current time, for codecs that stamp `Date` headers.
pub fn now() -> Timestamp {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    Timestamp::from_millis(ms)
}

/// The response of a rest operation whose output payload is an event stream, when the
/// handler supplied events: status and headers bound as for any output, the events
/// framed one message each as they arrive. `None` leaves `events` untouched.
pub fn event_stream_response(
    model: &ServiceModel,
    output_shape: &nephos_model::Shape,
    status: u16,
    headers: &mut http::HeaderMap,
    events: &mut Option<nephos_core::EventStream>,
    format: crate::eventstream::PayloadFormat,
) -> Option<crate::HttpResponse> {
    // Only event-stream operations supply events; the others skip the member search.
    events.as_ref()?;
    let (_, stream_ref) = crate::eventstream::stream_member(model, output_shape)?;
    let events = events.take()?;
    let mut headers = std::mem::take(headers);
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(crate::eventstream::CONTENT_TYPE),
    );
    Some(crate::HttpResponse {
        status,
        headers,
        body: crate::Body::Stream(crate::eventstream::response_body(
            model,
            &stream_ref.shape,
            None,
            events,
            format,
        )),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(ops: &[(&str, &str, &str)]) -> ServiceModel {
        let mut operations = serde_json::Map::new();
        for (name, method, uri) in ops {
            operations.insert(
                name.to_string(),
                serde_json::json!({"name": name, "http": {"method": method, "requestUri": uri}}),
            );
        }
        ServiceModel::from_value(serde_json::json!({
            "metadata": {"protocol": "rest-xml"},
            "shapes": {},
            "operations": operations,
        }))
        .unwrap()
    }

    fn req(method: &str, uri: &str) -> HttpRequest {
        HttpRequest {
            method: method.parse().unwrap(),
            uri: uri.parse().unwrap(),
            headers: http::HeaderMap::new(),
        }
    }

    fn s3() -> ServiceModel {
        model(&[
            ("ListObjects", "GET", "/{Bucket}"),
            ("ListObjectsV2", "GET", "/{Bucket}?list-type=2"),
            ("ListMultipartUploads", "GET", "/{Bucket}?uploads"),
            ("GetObject", "GET", "/{Bucket}/{Key+}?x-id=GetObject"),
            ("ListParts", "GET", "/{Bucket}/{Key+}"),
            ("GetObjectTagging", "GET", "/{Bucket}/{Key+}?tagging"),
            ("ListBuckets", "GET", "/?x-id=ListBuckets"),
            ("PutObject", "PUT", "/{Bucket}/{Key+}?x-id=PutObject"),
        ])
    }

    fn op_of(m: &ServiceModel, method: &str, uri: &str) -> Option<(String, Labels)> {
        resolve(m, &req(method, uri)).map(|(o, l)| (o.name.clone(), l))
    }

    #[test]
    fn greedy_labels_keep_slashes_and_decode() {
        let m = s3();
        let (op, labels) = op_of(&m, "PUT", "/b/a/b%20c/d.txt").unwrap();
        assert_eq!(op, "PutObject");
        assert_eq!(
            labels,
            vec![
                ("Bucket".into(), "b".into()),
                ("Key".into(), "a/b c/d.txt".into())
            ]
        );
    }

    #[test]
    fn query_literals_win_over_none() {
        let m = s3();
        assert_eq!(op_of(&m, "GET", "/b").unwrap().0, "ListObjects");
        assert_eq!(
            op_of(&m, "GET", "/b?list-type=2").unwrap().0,
            "ListObjectsV2"
        );
        assert_eq!(
            op_of(&m, "GET", "/b?uploads").unwrap().0,
            "ListMultipartUploads"
        );
        assert_eq!(
            op_of(&m, "GET", "/b/k?tagging").unwrap().0,
            "GetObjectTagging"
        );
        assert_eq!(
            op_of(&m, "GET", "/b/k?x-id=GetObject").unwrap().0,
            "GetObject"
        );
        assert_eq!(op_of(&m, "GET", "/").unwrap().0, "ListBuckets");
        assert!(op_of(&m, "DELETE", "/b").is_none());
    }

    #[test]
    fn literal_segments_beat_labels() {
        let m = model(&[
            ("GetFunction", "GET", "/2015-03-31/functions/{FunctionName}"),
            (
                "Invoke",
                "POST",
                "/2015-03-31/functions/{FunctionName}/invocations",
            ),
            (
                "GetPolicy",
                "GET",
                "/2015-03-31/functions/{FunctionName}/policy",
            ),
            (
                "GetAny",
                "GET",
                "/2015-03-31/functions/{FunctionName}/{Other}",
            ),
            ("Greedy", "GET", "/x/{Path+}/end"),
        ]);
        assert_eq!(
            op_of(&m, "GET", "/2015-03-31/functions/f").unwrap().0,
            "GetFunction"
        );
        assert_eq!(
            op_of(&m, "POST", "/2015-03-31/functions/f/invocations")
                .unwrap()
                .0,
            "Invoke"
        );
        assert_eq!(
            op_of(&m, "GET", "/2015-03-31/functions/f/policy")
                .unwrap()
                .0,
            "GetPolicy"
        );
        assert_eq!(
            op_of(&m, "GET", "/2015-03-31/functions/f/zzz").unwrap().0,
            "GetAny"
        );
        let (op, l) = op_of(&m, "GET", "/x/a/b/c/end").unwrap();
        assert_eq!((op.as_str(), l[0].1.as_str()), ("Greedy", "a/b/c"));
        assert!(op_of(&m, "GET", "/x/end").is_none());
        assert!(op_of(&m, "GET", "/2015-03-31/functions//policy").is_none());
    }

    #[test]
    fn header_lists_split_with_quotes_and_dates() {
        assert_eq!(
            split_header_list(r#""b,c", "\"def\"", a"#, false),
            vec!["b,c", "\"def\"", "a"]
        );
        assert_eq!(split_header_list("a, b,c", false), vec!["a", "b", "c"]);
        assert_eq!(
            split_header_list(
                "Mon, 16 Dec 2019 23:48:18 GMT, Tue, 17 Dec 2019 23:48:18 GMT",
                true
            ),
            vec![
                "Mon, 16 Dec 2019 23:48:18 GMT",
                "Tue, 17 Dec 2019 23:48:18 GMT"
            ]
        );
    }
}
