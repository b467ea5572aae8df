//! The awsQuery protocol ([`QueryCodec`]): form-encoded `Action=...&Version=...` requests
//! (in the body, or in the query string of a GET), XML responses wrapped in
//! `<OpResponse><OpResult>` and `<ErrorResponse>` errors.
//!
//! Also home of the form-parameter reader shared with ec2Query ([`FormReader`], with the
//! naming and list rules of each [`Flavor`]), and of the query side of query-compatible
//! JSON services (SQS answering `Action=SendMessage`), whose JSON models lost the query
//! element names: for those, names are derived the way the old query models spelled them.

// `AwsError` is the crate-wide error of the `Codec` trait.
#![allow(clippy::result_large_err)]

use crate::xml::{self, XmlWriter};
use crate::{Body, Codec, HttpRequest, HttpResponse, ResponseMeta};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use indexmap::IndexMap;
use nephos_core::{AwsError, Input, Map, Output, Value};
use nephos_model::{
    Operation, Protocol, ServiceModel, Shape, ShapeRef, ShapeType, TimestampFormat,
};

pub struct QueryCodec;

/// The form parameters of a request: the URI's query string, then a form body.
pub fn form_params(req: &HttpRequest, body: &[u8]) -> IndexMap<String, String> {
    let mut params = IndexMap::new();
    if let Some(q) = req.uri.query() {
        for (k, v) in form_urlencoded::parse(q.as_bytes()) {
            params.insert(k.into_owned(), v.into_owned());
        }
    }
    for (k, v) in form_urlencoded::parse(body) {
        params.insert(k.into_owned(), v.into_owned());
    }
    params
}

/// The body of a query request; query bodies are small forms, never streamed.
pub(crate) fn full_body(body: Body) -> Result<Bytes, AwsError> {
    match body {
        Body::Full(b) => Ok(b),
        Body::Stream(_) => Err(AwsError::internal(
            "query protocol request body was not collected",
        )),
    }
}

/// The error of a query request to SQS that names no operation; AWS answers it with a
/// bare `<UnknownOperationException/>` element, not an ErrorResponse.
const UNKNOWN_OPERATION: &str = "UnknownOperationException";

/// The operation that `Action` names. A missing `Action` is AWS's `MissingAction` (SQS:
/// `UnknownOperationException`), an unknown one `InvalidAction`.
pub fn resolve_action<'m>(
    model: &'m ServiceModel,
    params: &IndexMap<String, String>,
) -> Result<&'m Operation, AwsError> {
    let action = params
        .get("Action")
        .filter(|a| !a.is_empty())
        .ok_or_else(|| {
            if compat_model_needed(model) {
                // SQS's front end: a GET or POST on a queue URL naming no operation.
                return AwsError::new(404, UNKNOWN_OPERATION, "");
            }
            AwsError::new(
                400,
                "MissingAction",
                "The request is missing an action or a required parameter.",
            )
        })?;
    model.operation(action).ok_or_else(|| {
        // SQS (the query-compatible JSON service) words it as its query API did.
        let message = if compat_model_needed(model) {
            format!("The action {action} is not valid for this endpoint.")
        } else {
            format!(
                "The action {action} is not valid for this web service (version {}).",
                model.metadata.api_version
            )
        };
        AwsError::new(400, "InvalidAction", message)
    })
}

/// Resolves a query request whose `Action` may be in its form body. The [`Codec::resolve`]
/// of the query codecs sees only the URI, so a gateway that has the (always small, never
/// streamed) body of a query request should resolve with this instead.
pub fn resolve_form<'m>(
    model: &'m ServiceModel,
    req: &HttpRequest,
    body: &[u8],
) -> Result<&'m Operation, AwsError> {
    resolve_action(model, &form_params(req, body))
}

/// Which query dialect names the parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// awsQuery: `locationName` else member name; lists `.member.N` unless flattened.
    Query,
    /// ec2Query: `queryName`, else capitalized `locationName`, else the member name;
    /// lists always `Name.N`.
    Ec2,
}

/// Reads a value tree out of flat `A.B.member.1.C=...` form parameters by shape.
pub struct FormReader<'a> {
    pub model: &'a ServiceModel,
    pub params: &'a IndexMap<String, String>,
    pub flavor: Flavor,
    /// A query-compatible JSON service: also accept the names its old query model used.
    pub compat: bool,
}

fn invalid(key: &str, what: &str, text: &str) -> AwsError {
    AwsError::new(
        400,
        "InvalidParameterValue",
        format!("Value ({text}) for parameter {key} is invalid. Expected {what}."),
    )
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// The singular of a plural member name (`Attributes` → `Attribute`), as the old query
/// models of query-compatible services named their flattened items.
pub(crate) fn singular(name: &str) -> Option<&str> {
    name.strip_suffix('s').filter(|s| !s.is_empty())
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}.{name}")
    }
}

impl FormReader<'_> {
    /// Candidate wire names of a structure member, preferred first.
    fn member_keys(&self, name: &str, r: &ShapeRef) -> Vec<String> {
        let target = self.model.target(r);
        let located = r
            .location_name
            .as_deref()
            .or(target.location_name.as_deref());
        let mut keys = Vec::new();
        match self.flavor {
            Flavor::Query => keys.push(located.unwrap_or(name).to_owned()),
            Flavor::Ec2 => {
                if let Some(q) = &r.query_name {
                    keys.push(q.clone());
                } else if let Some(l) = located {
                    keys.push(capitalize(l));
                } else {
                    keys.push(name.to_owned());
                    keys.push(capitalize(name));
                }
            }
        }
        if self.compat && located.is_none() {
            let flat = matches!(target.kind, ShapeType::List | ShapeType::Map)
                && (target.flattened || r.flattened);
            if flat {
                if let Some(s) = singular(name) {
                    keys.push(s.to_owned());
                    // SQS CreateQueue's `tags` went on the wire as `Tag.N.Key`.
                    keys.push(capitalize(s));
                }
                if let Some(m) = &target.member {
                    keys.push(m.shape.clone());
                }
            }
        }
        keys.dedup();
        keys
    }

    fn has_under(&self, prefix: &str) -> bool {
        let dotted = format!("{prefix}.");
        self.params.keys().any(|k| k.starts_with(&dotted))
    }

    /// The distinct item indices `N` of keys `prefix.N[...]`, in numeric order.
    fn indices(&self, prefix: &str) -> Vec<u64> {
        let dotted = format!("{prefix}.");
        let mut idx: Vec<u64> = self
            .params
            .keys()
            .filter_map(|k| k.strip_prefix(&dotted))
            .filter_map(|rest| rest.split('.').next())
            .filter_map(|n| n.parse().ok())
            .collect();
        idx.sort_unstable();
        idx.dedup();
        idx
    }

    /// Reads the members of a structure whose keys start with `prefix`.
    pub fn read_struct(&self, shape: &Shape, prefix: &str) -> Result<Map, AwsError> {
        let mut out = Map::default();
        for (name, r) in &shape.members {
            for key in self.member_keys(name, r) {
                if let Some(v) = self.read(r, &join(prefix, &key))? {
                    out.insert(name.clone(), v);
                    break;
                }
            }
        }
        Ok(out)
    }

    /// Reads the value of shape `r` at `key`, or `None` when the request has none.
    pub fn read(&self, r: &ShapeRef, key: &str) -> Result<Option<Value>, AwsError> {
        let shape = self.model.target(r);
        match shape.kind {
            ShapeType::Structure => {
                if !self.has_under(key) {
                    return Ok(None);
                }
                Ok(Some(Value::Map(self.read_struct(shape, key)?)))
            }
            ShapeType::List => self.read_list(r, shape, key),
            ShapeType::Map => self.read_map(r, shape, key),
            _ => match self.params.get(key) {
                Some(text) => Ok(Some(scalar(Some(r), shape, key, text)?)),
                None => Ok(None),
            },
        }
    }

    fn read_list(&self, r: &ShapeRef, shape: &Shape, key: &str) -> Result<Option<Value>, AwsError> {
        let Some(member) = &shape.member else {
            return Ok(None);
        };
        let member_name = member.location_name.as_deref().or(self
            .model
            .target(member)
            .location_name
            .as_deref());
        let mut prefixes = Vec::new();
        match self.flavor {
            Flavor::Ec2 => prefixes.push(key.to_owned()),
            Flavor::Query if shape.flattened || r.flattened => {
                prefixes.push(key.to_owned());
                // botocore replaces the last key segment by the member's name.
                if let Some(n) = member_name {
                    let parent = key.rsplit_once('.').map_or("", |(p, _)| p);
                    prefixes.push(join(parent, n));
                }
            }
            Flavor::Query => {
                prefixes.push(format!("{key}.{}", member_name.unwrap_or("member")));
                if self.compat {
                    prefixes.push(key.to_owned());
                }
            }
        }
        for prefix in prefixes {
            let idx = self.indices(&prefix);
            if idx.is_empty() {
                continue;
            }
            let mut items = Vec::with_capacity(idx.len());
            for i in idx {
                match self.read(member, &format!("{prefix}.{i}"))? {
                    Some(v) => items.push(v),
                    None if shape.sparse => items.push(Value::Null),
                    None => {}
                }
            }
            return Ok(Some(Value::List(items)));
        }
        // `List=` with no items is how clients send an empty list.
        Ok(self
            .params
            .get(key)
            .filter(|v| v.is_empty())
            .map(|_| Value::List(Vec::new())))
    }

    fn read_map(&self, r: &ShapeRef, shape: &Shape, key: &str) -> Result<Option<Value>, AwsError> {
        let (Some(kref), Some(vref)) = (&shape.key, &shape.value) else {
            return Ok(None);
        };
        let name_of = |x: &ShapeRef, default: &'static str| -> Vec<String> {
            let explicit =
                x.location_name
                    .as_deref()
                    .or(self.model.target(x).location_name.as_deref());
            let mut v = vec![explicit.unwrap_or(default).to_owned()];
            if self.compat && explicit.is_none() {
                // The old SQS/SNS models named map entries Name/Value or Key/Value.
                v.push(capitalize(default));
                if default == "key" {
                    v.push("Name".to_owned());
                }
            }
            v
        };
        let key_names = name_of(kref, "key");
        let value_names = name_of(vref, "value");
        let prefix = if shape.flattened || r.flattened {
            key.to_owned()
        } else {
            format!("{key}.entry")
        };
        let idx = self.indices(&prefix);
        if idx.is_empty() {
            return Ok(None);
        }
        let mut map = Map::default();
        for i in idx {
            let entry = format!("{prefix}.{i}");
            let mut k = None;
            for kn in &key_names {
                if let Some(text) = self.params.get(&format!("{entry}.{kn}")) {
                    k = Some(text.clone());
                    break;
                }
            }
            let Some(k) = k else {
                return Err(AwsError::new(
                    400,
                    "InvalidParameterValue",
                    format!("The map entry {entry} has no key."),
                ));
            };
            let mut v = None;
            for vn in &value_names {
                if let Some(x) = self.read(vref, &format!("{entry}.{vn}"))? {
                    v = Some(x);
                    break;
                }
            }
            match v {
                Some(v) => {
                    map.insert(k, v);
                }
                None if shape.sparse => {
                    map.insert(k, Value::Null);
                }
                None => {}
            }
        }
        Ok(Some(Value::Map(map)))
    }
}

/// Parses one scalar parameter.
pub(crate) fn scalar(
    r: Option<&ShapeRef>,
    shape: &Shape,
    key: &str,
    text: &str,
) -> Result<Value, AwsError> {
    Ok(match shape.kind {
        ShapeType::Boolean => match text {
            t if t.eq_ignore_ascii_case("true") => Value::Bool(true),
            t if t.eq_ignore_ascii_case("false") => Value::Bool(false),
            _ => return Err(invalid(key, "a boolean", text)),
        },
        ShapeType::Integer | ShapeType::Long | ShapeType::Short | ShapeType::Byte => {
            Value::Integer(
                text.trim()
                    .parse()
                    .map_err(|_| invalid(key, "an integer", text))?,
            )
        }
        ShapeType::Float | ShapeType::Double => {
            Value::Float(xml::parse_float(text).ok_or_else(|| invalid(key, "a number", text))?)
        }
        ShapeType::Blob => Value::Blob(
            BASE64
                .decode(text.trim().as_bytes())
                .map(Bytes::from)
                .map_err(|_| invalid(key, "base64 data", text))?,
        ),
        ShapeType::Timestamp => {
            let fmt = r
                .and_then(|r| r.timestamp_format)
                .or(shape.timestamp_format)
                .unwrap_or(TimestampFormat::Iso8601);
            Value::Timestamp(
                crate::timestamp::parse(text, fmt)
                    .or_else(|| crate::timestamp::parse_any(text))
                    .ok_or_else(|| invalid(key, "a timestamp", text))?,
            )
        }
        ShapeType::BigInteger | ShapeType::BigDecimal => Value::String(text.trim().to_owned()),
        ShapeType::String | ShapeType::Character => Value::String(text.to_owned()),
        ShapeType::Structure | ShapeType::List | ShapeType::Map => {
            return Err(invalid(key, "a structured value", text));
        }
    })
}

/// Parses a query or ec2 request into the operation's input.
pub(crate) fn parse_form(
    model: &ServiceModel,
    op: &Operation,
    req: &HttpRequest,
    body: Body,
    flavor: Flavor,
) -> Result<Input, AwsError> {
    let body = full_body(body)?;
    let params = form_params(req, &body);
    let value = match &op.input {
        Some(input) => {
            let reader = FormReader {
                model,
                params: &params,
                flavor,
                compat: model.metadata.aws_query_compatible.is_some()
                    && !model.protocols().contains(&Protocol::Query),
            };
            Value::Map(reader.read_struct(model.target(input), "")?)
        }
        None => Value::map(),
    };
    Ok(Input { value, body: None })
}

/// The XML namespace of a query service's responses: the model's, else the one AWS uses
/// for query-compatible SQS, else AWS's pattern from endpoint prefix and API version.
pub fn xml_namespace(model: &ServiceModel) -> String {
    if let Some(ns) = &model.metadata.xml_namespace {
        return ns.clone();
    }
    let prefix = &model.metadata.endpoint_prefix;
    let version = &model.metadata.api_version;
    if prefix == "sqs" {
        return format!("http://queue.amazonaws.com/doc/{version}/");
    }
    if prefix == "ec2" {
        return format!("http://ec2.amazonaws.com/doc/{version}/");
    }
    format!("https://{prefix}.amazonaws.com/doc/{version}/")
}

pub(crate) fn xml_response(
    status: u16,
    body: String,
    request_id: &str,
    id_header: &'static str,
) -> HttpResponse {
    let mut headers = http::HeaderMap::new();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/xml"),
    );
    if let Ok(v) = http::HeaderValue::from_str(request_id) {
        headers.insert(id_header, v);
    }
    HttpResponse {
        status,
        headers,
        body: Body::Full(Bytes::from(body)),
    }
}

/// Renames output members for query-compatible JSON services, whose JSON models lost the
/// element names the old query models had (`Messages` → repeated `<Message>`).
fn compat_model_needed(model: &ServiceModel) -> bool {
    model.metadata.aws_query_compatible.is_some() && !model.protocols().contains(&Protocol::Query)
}

/// Writes structure members for a query-compatible service: flattened lists and maps
/// without element names get the singular of the member name (or the item shape's name),
/// and map entries `Name`/`Value` (`Key`/`Value` for tags), as the old query APIs wrote.
fn write_compat_members(w: &mut XmlWriter, model: &ServiceModel, shape: &Shape, v: &Value) {
    for (name, r) in &shape.members {
        let Some(val) = v.get(name).filter(|x| !x.is_null()) else {
            continue;
        };
        let target = model.target(r);
        let named = r.location_name.is_some();
        let flat = target.flattened || r.flattened;
        match target.kind {
            ShapeType::List if flat && !named => {
                let Some(member) = &target.member else {
                    continue;
                };
                // Structures were named by their shape (`Results` held
                // `<ListMessageMoveTasksResultEntry>`), scalars by the singular
                // (`queueUrls` held `<QueueUrl>`).
                let item = match singular(name) {
                    Some(one) if model.target(member).kind != ShapeType::Structure => {
                        capitalize(one)
                    }
                    _ => member.shape.clone(),
                };
                for x in val.as_list().unwrap_or_default() {
                    write_compat_value(w, model, member, &item, x);
                }
            }
            ShapeType::Map if flat && !named => {
                let (Some(kref), Some(vref)) = (&target.key, &target.value) else {
                    continue;
                };
                let entry = singular(name).unwrap_or(name);
                let key_name = if entry.eq_ignore_ascii_case("tag") {
                    "Key"
                } else {
                    "Name"
                };
                let Some(map) = val.as_map() else { continue };
                for (k, x) in map {
                    w.open(entry, &[]);
                    xml::write_value(w, model, kref, key_name, &Value::String(k.clone()));
                    write_compat_value(w, model, vref, "Value", x);
                    w.close(entry);
                }
            }
            _ => write_compat_value(w, model, r, xml::member_name(model, name, r), val),
        }
    }
}

fn write_compat_value(
    w: &mut XmlWriter,
    model: &ServiceModel,
    r: &ShapeRef,
    name: &str,
    v: &Value,
) {
    let shape = model.target(r);
    if shape.kind == ShapeType::Structure {
        w.open(name, &[]);
        write_compat_members(w, model, shape, v);
        w.close(name);
    } else {
        xml::write_value(w, model, r, name, v);
    }
}

/// The modelled error shape of an error: by shape name first, then by `error.code`.
pub(crate) fn error_shape<'m>(model: &'m ServiceModel, code: &str) -> Option<(&'m str, &'m Shape)> {
    model.error_shape(code)
}

/// Code, status and fault of an error as the wire shows them, taking the model's `error`
/// trait into account (`error.code` differs from the shape name on query-compatible
/// services; `ValidationException` is `ValidationError` on query services).
pub(crate) fn wire_error<'m>(
    model: &'m ServiceModel,
    err: &AwsError,
    rename_validation: bool,
) -> (String, u16, bool, Option<&'m Shape>) {
    match error_shape(model, &err.code) {
        Some((name, shape)) => {
            let trait_ = shape.error.as_ref();
            let code = trait_
                .and_then(|e| e.code.clone())
                .unwrap_or_else(|| name.to_owned());
            let status = trait_
                .and_then(|e| e.http_status_code)
                .unwrap_or(err.status);
            let sender = trait_.map_or(err.sender_fault, |e| e.sender_fault || err.sender_fault);
            (code, status, sender, Some(shape))
        }
        None => {
            let code = if rename_validation && err.code == "ValidationException" {
                "ValidationError".to_owned()
            } else {
                err.code.to_string()
            };
            (code, err.status, err.sender_fault, None)
        }
    }
}

/// Writes the modelled members of an error (besides its message) from `err.fields`.
pub(crate) fn write_error_fields(
    w: &mut XmlWriter,
    model: &ServiceModel,
    shape: Option<&Shape>,
    err: &AwsError,
) {
    let Some(shape) = shape else { return };
    let fields = Value::Map(
        err.fields
            .iter()
            .filter(|(k, _)| !k.eq_ignore_ascii_case("message"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    );
    xml::write_members(w, model, shape, &fields);
}

impl Codec for QueryCodec {
    fn protocol(&self) -> Protocol {
        Protocol::Query
    }

    fn resolve<'m>(
        &self,
        model: &'m ServiceModel,
        req: &HttpRequest,
        body: Option<&[u8]>,
    ) -> Result<&'m Operation, AwsError> {
        resolve_action(model, &form_params(req, body.unwrap_or_default()))
    }

    fn parse(
        &self,
        model: &ServiceModel,
        op: &Operation,
        req: &HttpRequest,
        body: Body,
    ) -> Result<Input, AwsError> {
        parse_form(model, op, req, body, Flavor::Query)
    }

    fn serialize(
        &self,
        model: &ServiceModel,
        op: &Operation,
        output: Output,
        meta: ResponseMeta<'_>,
    ) -> HttpResponse {
        let mut w = XmlWriter::new();
        let root = format!("{}Response", op.name);
        w.open(&root, &[("xmlns".to_owned(), xml_namespace(model))]);
        if let Some(out) = &op.output {
            let shape = model.target(out);
            // Every query operation with an output wraps it; AWS names the wrapper
            // `<Op>Result` when the model does not say.
            let wrapper = out
                .result_wrapper
                .clone()
                .unwrap_or_else(|| format!("{}Result", op.name));
            w.open(
                &wrapper,
                &xml::struct_attributes(model, shape, &output.value),
            );
            let opened = w.as_str().len();
            if compat_model_needed(model) {
                write_compat_members(&mut w, model, shape, &output.value);
            } else {
                xml::write_members(&mut w, model, shape, &output.value);
            }
            // AWS writes an empty result as `<ReceiveMessageResult/>`.
            if w.as_str().len() == opened {
                w.end_empty();
            } else {
                w.close(&wrapper);
            }
        }
        w.open("ResponseMetadata", &[]);
        w.leaf("RequestId", &[], meta.request_id);
        w.close("ResponseMetadata");
        w.close(&root);
        xml_response(200, w.finish(), meta.request_id, "x-amzn-requestid")
    }

    fn serialize_error(
        &self,
        model: &ServiceModel,
        _op: Option<&Operation>,
        err: &AwsError,
        meta: ResponseMeta<'_>,
    ) -> HttpResponse {
        if err.status == 404 && err.code == UNKNOWN_OPERATION && compat_model_needed(model) {
            let body = "<UnknownOperationException/>".to_owned();
            return xml_response(404, body, meta.request_id, "x-amzn-requestid");
        }
        let (code, status, sender, shape) = wire_error(model, err, true);
        let mut w = XmlWriter::new();
        w.open(
            "ErrorResponse",
            &[("xmlns".to_owned(), xml_namespace(model))],
        );
        w.open("Error", &[]);
        w.leaf("Type", &[], if sender { "Sender" } else { "Receiver" });
        w.leaf("Code", &[], &code);
        w.leaf("Message", &[], &err.message);
        write_error_fields(&mut w, model, shape, err);
        w.close("Error");
        w.leaf("RequestId", &[], meta.request_id);
        w.close("ErrorResponse");
        let mut resp = xml_response(status, w.finish(), meta.request_id, "x-amzn-requestid");
        add_headers(&mut resp, err);
        resp
    }
}

/// Copies an error's extra headers onto its response.
pub(crate) fn add_headers(resp: &mut HttpResponse, err: &AwsError) {
    for (k, v) in &err.headers {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(k.as_bytes()),
            http::HeaderValue::from_str(v),
        ) {
            resp.headers.append(name, value);
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::Value as Json;

    /// Converts a test suite's JSON params into a Value of `shape`.
    pub(crate) fn json_to_value(model: &ServiceModel, shape: &Shape, j: &Json) -> Value {
        if j.is_null() {
            return Value::Null;
        }
        match shape.kind {
            ShapeType::Structure => Value::Map(
                j.as_object()
                    .into_iter()
                    .flatten()
                    .filter_map(|(k, v)| {
                        let m = shape.members.get(k)?;
                        Some((k.clone(), json_to_value(model, model.target(m), v)))
                    })
                    .collect(),
            ),
            ShapeType::List => {
                let m = model.shape(&shape.member.as_ref().unwrap().shape);
                Value::List(
                    j.as_array()
                        .into_iter()
                        .flatten()
                        .map(|v| json_to_value(model, m, v))
                        .collect(),
                )
            }
            ShapeType::Map => {
                let m = model.shape(&shape.value.as_ref().unwrap().shape);
                Value::Map(
                    j.as_object()
                        .into_iter()
                        .flatten()
                        .map(|(k, v)| (k.clone(), json_to_value(model, m, v)))
                        .collect(),
                )
            }
            ShapeType::Timestamp => match j {
                Json::Number(n) => Value::Timestamp(nephos_core::Timestamp(n.as_f64().unwrap())),
                Json::String(s) => Value::Timestamp(crate::timestamp::parse_any(s).unwrap()),
                _ => panic!("bad timestamp {j}"),
            },
            ShapeType::Blob => Value::Blob(Bytes::from(j.as_str().unwrap().as_bytes().to_vec())),
            ShapeType::Float | ShapeType::Double => match j {
                Json::String(s) => Value::Float(xml::parse_float(s).unwrap()),
                _ => Value::Float(j.as_f64().unwrap()),
            },
            ShapeType::Integer | ShapeType::Long | ShapeType::Short | ShapeType::Byte => {
                Value::Integer(j.as_i64().unwrap())
            }
            ShapeType::Boolean => Value::Bool(j.as_bool().unwrap()),
            _ => match j {
                Json::String(s) => Value::String(s.clone()),
                other => Value::String(other.to_string()),
            },
        }
    }

    /// Equality that treats NaN as equal to NaN and timestamps to the millisecond.
    pub(crate) fn same(a: &Value, b: &Value) -> bool {
        match (a, b) {
            (Value::Float(x), Value::Float(y)) => (x.is_nan() && y.is_nan()) || x == y,
            (Value::Timestamp(x), Value::Timestamp(y)) => x.as_millis() == y.as_millis(),
            (Value::List(x), Value::List(y)) => {
                x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
            }
            (Value::Map(x), Value::Map(y)) => {
                x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
            }
            _ => a == b,
        }
    }

    pub(crate) fn suite_model(suite: &Json, given: &Json) -> ServiceModel {
        let mut ops = serde_json::Map::new();
        ops.insert(given["name"].as_str().unwrap().to_owned(), given.clone());
        ServiceModel::from_value(serde_json::json!({
            "metadata": suite["metadata"],
            "shapes": suite["shapes"],
            "operations": ops,
        }))
        .unwrap()
    }

    pub(crate) fn request(ser: &Json) -> HttpRequest {
        let mut headers = http::HeaderMap::new();
        for (k, v) in ser["headers"].as_object().into_iter().flatten() {
            headers.insert(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                http::HeaderValue::from_str(v.as_str().unwrap()).unwrap(),
            );
        }
        HttpRequest {
            method: ser["method"].as_str().unwrap_or("POST").parse().unwrap(),
            uri: ser["uri"].as_str().unwrap_or("/").parse().unwrap(),
            headers,
        }
    }

    /// Runs the input cases of a suite file; returns the ids of failing cases.
    fn run_input(path: &str, codec: &dyn Codec) -> (usize, Vec<String>) {
        let text = std::fs::read_to_string(path).unwrap();
        let suites: Vec<Json> = serde_json::from_str(&text).unwrap();
        let mut total = 0;
        let mut failed = Vec::new();
        for suite in &suites {
            for (i, case) in suite["cases"].as_array().unwrap().iter().enumerate() {
                total += 1;
                let id = case["id"]
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| format!("{}#{i}", suite["description"].as_str().unwrap()));
                let model = suite_model(suite, &case["given"]);
                let ser = &case["serialized"];
                let req = request(ser);
                let body = Bytes::from(ser["body"].as_str().unwrap_or("").as_bytes().to_vec());
                let result = resolve_form(&model, &req, &body).and_then(|op| {
                    codec
                        .parse(&model, op, &req, Body::Full(body.clone()))
                        .map(|i| (op, i))
                });
                match result {
                    Ok((op, input)) => {
                        let expected = match &op.input {
                            Some(r) => json_to_value(&model, model.target(r), &case["params"]),
                            None => Value::map(),
                        };
                        if !same(&input.value, &expected) {
                            failed.push(format!(
                                "{id}: got {:?}\n   want {:?}",
                                input.value, expected
                            ));
                        }
                    }
                    Err(e) => failed.push(format!("{id}: error {e}")),
                }
            }
        }
        (total, failed)
    }

    /// Serializes every output case of a suite file into `out` (as JSON lines) for the
    /// botocore round-trip check in `scripts`; only runs when NEPHOS_DUMP_OUTPUTS is set.
    pub(crate) fn dump_outputs(path: &str, codec: &dyn Codec, out: &mut Vec<Json>) {
        let text = std::fs::read_to_string(path).unwrap();
        let suites: Vec<Json> = serde_json::from_str(&text).unwrap();
        for suite in &suites {
            for (i, case) in suite["cases"].as_array().unwrap().iter().enumerate() {
                let id = case["id"]
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| format!("{}#{i}", suite["description"].as_str().unwrap()));
                let model = suite_model(suite, &case["given"]);
                let op = model.operations.values().next().unwrap();
                let meta = ResponseMeta {
                    request_id: "req-1",
                };
                let resp = if let Some(e) = case.get("error") {
                    let code = case["errorCode"].as_str().unwrap_or("").to_owned();
                    let mut err = AwsError::new(
                        400,
                        code.clone(),
                        case["errorMessage"].as_str().unwrap_or(""),
                    );
                    if let Some((_, shape)) = model.error_shape(&code)
                        && let Value::Map(m) = json_to_value(&model, shape, e)
                    {
                        err.fields = m;
                    }
                    codec.serialize_error(&model, Some(op), &err, meta)
                } else {
                    let value = match &op.output {
                        Some(r) => json_to_value(&model, model.target(r), &case["result"]),
                        None => Value::map(),
                    };
                    codec.serialize(&model, op, Output::new(value), meta)
                };
                let body = match resp.body {
                    Body::Full(b) => String::from_utf8_lossy(&b).into_owned(),
                    Body::Stream(_) => "<stream>".into(),
                };
                let headers: serde_json::Map<String, Json> = resp
                    .headers
                    .iter()
                    .map(|(k, v)| (k.to_string(), Json::String(v.to_str().unwrap().to_owned())))
                    .collect();
                out.push(serde_json::json!({
                    "id": id, "file": path, "suite": i, "status": resp.status,
                    "headers": headers, "body": body,
                }));
            }
        }
    }

    #[test]
    fn dump_xml_outputs() {
        let Ok(dest) = std::env::var("NEPHOS_DUMP_OUTPUTS") else {
            return;
        };
        let base = "/work/shared/aws-protocol-tests";
        let mut out = Vec::new();
        for (file, codec) in [
            ("output/query.json", &QueryCodec as &dyn Codec),
            ("legacy/output/query.json", &QueryCodec),
            ("output/ec2.json", &crate::ec2::Ec2Codec),
            ("legacy/output/ec2.json", &crate::ec2::Ec2Codec),
        ] {
            dump_outputs(&format!("{base}/{file}"), codec, &mut out);
        }
        std::fs::write(dest, serde_json::to_string_pretty(&out).unwrap()).unwrap();
    }

    #[test]
    fn conformance_inputs() {
        let base = "/work/shared/aws-protocol-tests";
        if !std::path::Path::new(base).exists() {
            return;
        }
        for (file, codec) in [
            ("input/query.json", &QueryCodec as &dyn Codec),
            ("legacy/input/query.json", &QueryCodec),
            ("input/ec2.json", &crate::ec2::Ec2Codec),
            ("legacy/input/ec2.json", &crate::ec2::Ec2Codec),
        ] {
            let (total, failed) = run_input(&format!("{base}/{file}"), codec);
            eprintln!("{file}: {}/{total} pass", total - failed.len());
            for f in &failed {
                eprintln!("  FAIL {f}");
            }
        }
    }
}
