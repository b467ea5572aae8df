//! XML reading and writing driven by shapes, shared by the query, ec2 and restXml codecs.
//!
//! Reading parses a document with `quick-xml` into a small element tree ([`Element`]) and
//! then walks it along a shape ([`read_value`], [`read_members`]); writing walks a
//! [`Value`] along its shape into an [`XmlWriter`] ([`write_value`], [`write_members`]).
//! Both follow botocore's XML rules: element names come from `locationName` (member, then
//! shape), lists wrap their items in `member` (or the member's `locationName`) unless
//! `flattened`, maps use `entry`/`key`/`value`, `xmlAttribute` members live in the
//! enclosing element's attributes, `xmlNamespace` adds `xmlns[:prefix]`. Timestamps are
//! ISO 8601 unless the model says otherwise, blobs base64, booleans `true`/`false`, and
//! floats may be `NaN`, `Infinity` or `-Infinity`.

use crate::timestamp;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use nephos_core::{Map, Value};
use nephos_model::{ServiceModel, Shape, ShapeRef, ShapeType, TimestampFormat, XmlNamespace};
use quick_xml::events::Event;
use std::fmt;

/// Why an XML document could not be read, or did not fit its shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XmlError(pub String);

impl fmt::Display for XmlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for XmlError {}

fn err(msg: impl Into<String>) -> XmlError {
    XmlError(msg.into())
}

// ---------------------------------------------------------------------------------------
// Element tree
// ---------------------------------------------------------------------------------------

/// One parsed element: its qualified name as written, its attributes (unescaped), its
/// child elements and its text (the concatenation of all its direct text and CDATA).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Element {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Element>,
    pub text: String,
}

/// The part of a qualified name after its prefix.
fn local(name: &str) -> &str {
    name.rsplit_once(':').map_or(name, |(_, l)| l)
}

impl Element {
    /// The name without its namespace prefix (botocore matches on local names).
    pub fn local_name(&self) -> &str {
        local(&self.name)
    }

    /// The first child with this local name.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.local_name() == name)
    }

    /// All children with this local name, in document order.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> {
        self.children.iter().filter(move |c| c.local_name() == name)
    }

    /// An attribute by its name as written (`xsi:type`), else by local name.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .or_else(|| {
                let want = local(name);
                self.attrs
                    .iter()
                    .find(|(k, _)| !k.starts_with("xmlns") && local(k) == want)
            })
            .map(|(_, v)| v.as_str())
    }
}

/// Parses a whole document into its root element. Anything that is not well-formed XML
/// (unbalanced tags, bad entities, text outside the root, no root, two roots) is an error.
pub fn parse_document(bytes: &[u8]) -> Result<Element, XmlError> {
    let text = std::str::from_utf8(bytes).map_err(|e| err(format!("not UTF-8: {e}")))?;
    let mut reader = quick_xml::Reader::from_str(text);
    let config = reader.config_mut();
    config.trim_text(false);
    config.check_end_names = true;
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;

    // Adds text to the open element; text outside the root must be whitespace.
    fn push_text(stack: &mut [Element], s: &str) -> Result<(), XmlError> {
        match stack.last_mut() {
            Some(top) => top.text.push_str(s),
            None if s.trim().is_empty() => {}
            None => return Err(err("text outside the root element")),
        }
        Ok(())
    }

    loop {
        let event = reader
            .read_event()
            .map_err(|e| err(format!("malformed XML at {}: {e}", reader.error_position())))?;
        match event {
            Event::Start(start) => stack.push(open_element(&start, &root, &stack)?),
            Event::Empty(start) => {
                stack.push(open_element(&start, &root, &stack)?);
                close(&mut stack, &mut root)?;
            }
            Event::End(_) => {
                close(&mut stack, &mut root)?;
            }
            Event::Text(t) => {
                let s = t
                    .xml10_content()
                    .map_err(|e| err(format!("bad text: {e}")))?;
                push_text(&mut stack, &s)?;
            }
            Event::CData(c) => {
                let s = std::str::from_utf8(&c).map_err(|e| err(e.to_string()))?;
                push_text(&mut stack, s)?;
            }
            Event::GeneralRef(r) => {
                let s = if r.is_char_ref() {
                    match r.resolve_char_ref() {
                        Ok(Some(c)) => c.to_string(),
                        _ => return Err(err("bad character reference")),
                    }
                } else {
                    let name = r.decode().map_err(|e| err(e.to_string()))?;
                    quick_xml::escape::resolve_predefined_entity(&name)
                        .ok_or_else(|| err(format!("unknown entity &{name};")))?
                        .to_owned()
                };
                push_text(&mut stack, &s)?;
            }
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(err("unexpected end of document: unclosed element"));
    }
    root.ok_or_else(|| err("empty document: no root element"))
}

fn open_element(
    start: &quick_xml::events::BytesStart<'_>,
    root: &Option<Element>,
    stack: &[Element],
) -> Result<Element, XmlError> {
    if root.is_some() && stack.is_empty() {
        return Err(err("more than one root element"));
    }
    let name = std::str::from_utf8(start.name().as_ref())
        .map_err(|e| err(e.to_string()))?
        .to_owned();
    let mut attrs = Vec::new();
    for a in start.attributes() {
        let a = a.map_err(|e| err(format!("malformed attribute: {e}")))?;
        let key = std::str::from_utf8(a.key.as_ref())
            .map_err(|e| err(e.to_string()))?
            .to_owned();
        let value = a
            .unescape_value()
            .map_err(|e| err(format!("malformed attribute value: {e}")))?
            .into_owned();
        attrs.push((key, value));
    }
    Ok(Element {
        name,
        attrs,
        children: Vec::new(),
        text: String::new(),
    })
}

fn close(stack: &mut Vec<Element>, root: &mut Option<Element>) -> Result<(), XmlError> {
    let done = stack
        .pop()
        .ok_or_else(|| err("closing tag without opening tag"))?;
    match stack.last_mut() {
        Some(parent) => parent.children.push(done),
        None => *root = Some(done),
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------------------

/// The element name of a member: the reference's `locationName`, else the member name.
/// A target shape's own `locationName` only names a document's root element (clients
/// write `<nested>` for a member `nested` whose shape is named `Hello`).
pub fn member_name<'a>(_model: &'a ServiceModel, name: &'a str, r: &'a ShapeRef) -> &'a str {
    r.location_name.as_deref().unwrap_or(name)
}

/// The explicit element name of a reference, if any.
fn ref_name<'a>(_model: &'a ServiceModel, r: &'a ShapeRef) -> Option<&'a str> {
    r.location_name.as_deref()
}

fn is_flattened(r: Option<&ShapeRef>, shape: &Shape) -> bool {
    shape.flattened || r.is_some_and(|r| r.flattened)
}

/// The `xmlns` attribute a namespace trait adds.
pub fn namespace_attr(ns: &XmlNamespace) -> (String, String) {
    match ns.prefix() {
        Some(p) => (format!("xmlns:{p}"), ns.uri().to_owned()),
        None => ("xmlns".to_owned(), ns.uri().to_owned()),
    }
}

// ---------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------

/// Escapes element text. `\r` is written as a character reference because parsers turn a
/// raw `\r\n` into `\n`.
pub fn escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#xD;"),
            _ => out.push(c),
        }
    }
    out
}

/// Escapes an attribute value. Line breaks and tabs are written as character references
/// because attribute-value normalization would turn them into spaces.
pub fn escape_attr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\r' => out.push_str("&#xD;"),
            '\n' => out.push_str("&#xA;"),
            '\t' => out.push_str("&#x9;"),
            _ => out.push(c),
        }
    }
    out
}

/// An XML document being written, element by element.
#[derive(Debug, Default)]
pub struct XmlWriter {
    out: String,
}

impl XmlWriter {
    pub fn new() -> XmlWriter {
        XmlWriter::default()
    }

    /// `<?xml version="1.0" encoding="UTF-8"?>`, which S3 and others put first.
    pub fn declaration(&mut self) {
        self.out
            .push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    }

    pub fn open(&mut self, name: &str, attrs: &[(String, String)]) {
        self.out.push('<');
        self.out.push_str(name);
        for (k, v) in attrs {
            self.out.push(' ');
            self.out.push_str(k);
            self.out.push_str("=\"");
            self.out.push_str(&escape_attr(v));
            self.out.push('"');
        }
        self.out.push('>');
    }

    pub fn close(&mut self, name: &str) {
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
    }

    /// Ends the element just opened, with nothing in it, as `<name/>`.
    pub fn end_empty(&mut self) {
        if self.out.ends_with('>') {
            self.out.pop();
            self.out.push_str("/>");
        }
    }

    pub fn text(&mut self, s: &str) {
        self.out.push_str(&escape_text(s));
    }

    /// `<name attrs>text</name>`.
    pub fn leaf(&mut self, name: &str, attrs: &[(String, String)], text: &str) {
        self.open(name, attrs);
        self.text(text);
        self.close(name);
    }

    pub fn as_str(&self) -> &str {
        &self.out
    }

    pub fn finish(self) -> String {
        self.out
    }
}

/// A float as AWS writes it in XML and query strings.
pub fn format_float(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f.is_infinite() {
        if f > 0.0 { "Infinity" } else { "-Infinity" }.into()
    } else {
        f.to_string()
    }
}

/// The text of a scalar value of `shape`, with `default_ts` for timestamps that name no
/// format. Values of an unexpected kind are written as faithfully as possible rather than
/// dropped, since they come from handlers, not clients.
pub fn scalar_text(
    r: Option<&ShapeRef>,
    shape: &Shape,
    v: &Value,
    default_ts: TimestampFormat,
) -> String {
    match v {
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Integer(i) => {
            if matches!(shape.kind, ShapeType::Timestamp) {
                let fmt = ts_format(r, shape).unwrap_or(default_ts);
                timestamp::format(nephos_core::Timestamp(*i as f64), fmt)
            } else {
                i.to_string()
            }
        }
        Value::Float(f) => format_float(*f),
        Value::String(s) => {
            if matches!(shape.kind, ShapeType::Blob) {
                BASE64.encode(s.as_bytes())
            } else {
                s.clone()
            }
        }
        Value::Blob(b) => BASE64.encode(b),
        Value::Timestamp(t) => timestamp::format(*t, ts_format(r, shape).unwrap_or(default_ts)),
        Value::List(_) | Value::Map(_) | Value::Json(_) => String::new(),
    }
}

fn ts_format(r: Option<&ShapeRef>, shape: &Shape) -> Option<TimestampFormat> {
    r.and_then(|r| r.timestamp_format)
        .or(shape.timestamp_format)
}

/// The attributes that a structure's `xmlAttribute` members put on its element.
pub fn struct_attributes(model: &ServiceModel, shape: &Shape, v: &Value) -> Vec<(String, String)> {
    let mut attrs = Vec::new();
    for (name, r) in &shape.members {
        if !r.xml_attribute {
            continue;
        }
        if let Some(val) = v.get(name).filter(|x| !x.is_null()) {
            let text = scalar_text(Some(r), model.target(r), val, TimestampFormat::Iso8601);
            attrs.push((member_name(model, name, r).to_owned(), text));
        }
    }
    attrs
}

/// Writes the element members of structure `v` (not attributes, and not members bound to
/// headers or the status code). Responses have no URI or query string, so members bound
/// to those are body members there, as botocore reads them.
pub fn write_members(w: &mut XmlWriter, model: &ServiceModel, shape: &Shape, v: &Value) {
    for (name, r) in &shape.members {
        let bound = matches!(
            r.location.as_deref(),
            Some("header" | "headers" | "statusCode")
        );
        if r.xml_attribute || bound {
            continue;
        }
        if let Some(val) = v.get(name).filter(|x| !x.is_null()) {
            write_value(w, model, r, member_name(model, name, r), val);
        }
    }
}

/// Writes `v` of the shape `r` points at as element(s) named `name` (a flattened list or
/// map writes one element per item).
pub fn write_value(w: &mut XmlWriter, model: &ServiceModel, r: &ShapeRef, name: &str, v: &Value) {
    write_shape(w, model, Some(r), model.target(r), name, v);
}

/// Like [`write_value`], for a shape reached without a reference (an operation's root).
pub fn write_shape(
    w: &mut XmlWriter,
    model: &ServiceModel,
    r: Option<&ShapeRef>,
    shape: &Shape,
    name: &str,
    v: &Value,
) {
    let mut attrs: Vec<(String, String)> = r
        .and_then(|r| r.xml_namespace.as_ref())
        .or(shape.xml_namespace.as_ref())
        .map(namespace_attr)
        .into_iter()
        .collect();
    match shape.kind {
        ShapeType::Structure => {
            attrs.extend(struct_attributes(model, shape, v));
            w.open(name, &attrs);
            write_members(w, model, shape, v);
            w.close(name);
        }
        ShapeType::List => {
            let Some(member) = &shape.member else { return };
            let items = v.as_list().unwrap_or_default();
            if is_flattened(r, shape) {
                // A name on the structure member wins (as Smithy says); else the list
                // member's name, which is how the real models name flattened items
                // (SQS `QueueUrls` → `<QueueUrl>`) and what botocore's parser looks for.
                let item_name = if r.is_some_and(|r| r.location_name.is_some()) {
                    name
                } else {
                    ref_name(model, member).unwrap_or(name)
                };
                for item in items {
                    write_value(w, model, member, item_name, item);
                }
            } else {
                w.open(name, &attrs);
                let item_name = ref_name(model, member).unwrap_or("member");
                for item in items {
                    write_value(w, model, member, item_name, item);
                }
                w.close(name);
            }
        }
        ShapeType::Map => {
            let (Some(key), Some(value)) = (&shape.key, &shape.value) else {
                return;
            };
            let key_name = ref_name(model, key).unwrap_or("key");
            let value_name = ref_name(model, value).unwrap_or("value");
            let empty = Map::default();
            let entries = v.as_map().unwrap_or(&empty);
            let flattened = is_flattened(r, shape);
            if !flattened {
                w.open(name, &attrs);
            }
            for (k, val) in entries {
                if flattened {
                    w.open(name, &attrs);
                } else {
                    w.open("entry", &[]);
                }
                write_value(w, model, key, key_name, &Value::String(k.clone()));
                if !val.is_null() {
                    write_value(w, model, value, value_name, val);
                }
                w.close(if flattened { name } else { "entry" });
            }
            if !flattened {
                w.close(name);
            }
        }
        _ => {
            let text = scalar_text(r, shape, v, TimestampFormat::Iso8601);
            w.leaf(name, &attrs, &text);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------

/// Reads element `el` as a value of the shape `r` points at.
pub fn read_value(model: &ServiceModel, r: &ShapeRef, el: &Element) -> Result<Value, XmlError> {
    read_shape(model, Some(r), model.target(r), el)
}

/// Like [`read_value`], for a shape reached without a reference.
pub fn read_shape(
    model: &ServiceModel,
    r: Option<&ShapeRef>,
    shape: &Shape,
    el: &Element,
) -> Result<Value, XmlError> {
    match shape.kind {
        ShapeType::Structure => Ok(Value::Map(read_members(model, shape, el)?)),
        ShapeType::List => {
            let member = shape
                .member
                .as_ref()
                .ok_or_else(|| err("list shape without member"))?;
            let items = el
                .children
                .iter()
                .map(|c| read_item(model, member, shape.sparse, c))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Value::List(items))
        }
        ShapeType::Map => {
            let mut map = Map::default();
            for entry in &el.children {
                read_entry(model, shape, entry, &mut map)?;
            }
            Ok(Value::Map(map))
        }
        _ => parse_scalar(r, shape, &el.text),
    }
}

fn read_item(
    model: &ServiceModel,
    member: &ShapeRef,
    sparse: bool,
    el: &Element,
) -> Result<Value, XmlError> {
    // A sparse collection marks null items with an empty element of a scalar type.
    if sparse && el.children.is_empty() && el.text.is_empty() {
        let kind = model.target(member).kind;
        if !matches!(
            kind,
            ShapeType::String | ShapeType::Structure | ShapeType::List | ShapeType::Map
        ) {
            return Ok(Value::Null);
        }
    }
    read_value(model, member, el)
}

fn read_entry(
    model: &ServiceModel,
    shape: &Shape,
    entry: &Element,
    map: &mut Map,
) -> Result<(), XmlError> {
    let (Some(key), Some(value)) = (&shape.key, &shape.value) else {
        return Err(err("map shape without key or value"));
    };
    let key_name = local(ref_name(model, key).unwrap_or("key"));
    let value_name = local(ref_name(model, value).unwrap_or("value"));
    let k = entry
        .child(key_name)
        .ok_or_else(|| err(format!("map entry without <{key_name}>")))?
        .text
        .clone();
    match entry.child(value_name) {
        Some(v) => {
            map.insert(k, read_item(model, value, shape.sparse, v)?);
        }
        None if shape.sparse => {
            map.insert(k, Value::Null);
        }
        None => {}
    }
    Ok(())
}

/// Reads the members of structure `shape` from element `el`: attributes, child elements,
/// and repeated children for flattened lists and maps. Unknown elements are ignored, as
/// are members bound to other parts of the HTTP message.
pub fn read_members(model: &ServiceModel, shape: &Shape, el: &Element) -> Result<Map, XmlError> {
    let mut out = Map::default();
    for (name, r) in &shape.members {
        if r.location.is_some() {
            continue;
        }
        let target = model.target(r);
        let wire = local(member_name(model, name, r));
        if r.xml_attribute {
            if let Some(text) = el.attr(member_name(model, name, r)) {
                out.insert(name.clone(), parse_scalar(Some(r), target, text)?);
            }
            continue;
        }
        let flattened = is_flattened(Some(r), target);
        match target.kind {
            ShapeType::List if flattened => {
                let Some(member) = &target.member else {
                    continue;
                };
                // Clients write flattened items under the structure member's name; the
                // list member's own name is accepted too.
                let alt = ref_name(model, member).map(local);
                let items = el
                    .children
                    .iter()
                    .filter(|c| c.local_name() == wire || Some(c.local_name()) == alt)
                    .map(|c| read_item(model, member, target.sparse, c))
                    .collect::<Result<Vec<_>, _>>()?;
                if !items.is_empty() {
                    out.insert(name.clone(), Value::List(items));
                }
            }
            ShapeType::Map if flattened => {
                let mut map = Map::default();
                for entry in el.children_named(wire) {
                    read_entry(model, target, entry, &mut map)?;
                }
                if !map.is_empty() {
                    out.insert(name.clone(), Value::Map(map));
                }
            }
            _ => {
                if let Some(child) = el.child(wire) {
                    out.insert(name.clone(), read_value(model, r, child)?);
                }
            }
        }
    }
    Ok(out)
}

/// Parses scalar text as a value of `shape`.
pub fn parse_scalar(r: Option<&ShapeRef>, shape: &Shape, text: &str) -> Result<Value, XmlError> {
    let bad = |what: &str| err(format!("invalid {what} value: {text:?}"));
    Ok(match shape.kind {
        ShapeType::Boolean => match text.trim() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => return Err(bad("boolean")),
        },
        ShapeType::Integer | ShapeType::Long | ShapeType::Short | ShapeType::Byte => {
            Value::Integer(text.trim().parse().map_err(|_| bad("integer"))?)
        }
        ShapeType::Float | ShapeType::Double => {
            Value::Float(parse_float(text).ok_or_else(|| bad("float"))?)
        }
        ShapeType::BigInteger | ShapeType::BigDecimal => Value::String(text.trim().to_owned()),
        ShapeType::Blob => Value::Blob(decode_base64(text).ok_or_else(|| bad("base64"))?),
        ShapeType::Timestamp => {
            let fmt = ts_format(r, shape);
            let ts = fmt
                .and_then(|f| timestamp::parse(text, f))
                .or_else(|| timestamp::parse_any(text))
                .ok_or_else(|| bad("timestamp"))?;
            Value::Timestamp(ts)
        }
        ShapeType::String | ShapeType::Character => Value::String(text.to_owned()),
        ShapeType::Structure | ShapeType::List | ShapeType::Map => {
            return Err(err("expected a scalar"));
        }
    })
}

/// Parses a float as AWS writes them (including `NaN` and `±Infinity`).
pub fn parse_float(text: &str) -> Option<f64> {
    match text.trim() {
        "NaN" => Some(f64::NAN),
        "Infinity" => Some(f64::INFINITY),
        "-Infinity" => Some(f64::NEG_INFINITY),
        t if t.is_empty()
            || t.contains(|c: char| c.is_ascii_alphabetic() && c != 'e' && c != 'E') =>
        {
            None
        }
        t => t.parse().ok(),
    }
}

/// Decodes base64 that may be wrapped over several lines.
pub fn decode_base64(text: &str) -> Option<Bytes> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    BASE64.decode(compact.as_bytes()).ok().map(Bytes::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> ServiceModel {
        ServiceModel::from_value(serde_json::json!({
            "metadata": {"protocol": "rest-xml"},
            "shapes": {
                "S": {"type": "structure", "members": {
                    "attr": {"shape": "Str", "xmlAttribute": true, "locationName": "a"},
                    "text": {"shape": "Str"},
                    "flat": {"shape": "L", "flattened": true},
                    "wrapped": {"shape": "L"},
                    "ns": {"shape": "Str", "xmlNamespace": {"prefix": "p", "uri": "http://p"}},
                    "m": {"shape": "M", "flattened": true},
                    "f": {"shape": "F"},
                    "t": {"shape": "T"}
                }},
                "Str": {"type": "string"},
                "L": {"type": "list", "member": {"shape": "Str", "locationName": "item"}},
                "M": {"type": "map", "key": {"shape": "Str", "locationName": "K"}, "value": {"shape": "Str"}},
                "F": {"type": "double"},
                "T": {"type": "timestamp"}
            }
        }))
        .unwrap()
    }

    #[test]
    fn escapes_text_and_attributes() {
        assert_eq!(escape_text("a<b>&\r\n"), "a&lt;b&gt;&amp;&#xD;\n");
        assert_eq!(
            escape_attr("\"x\"\r\n\t&"),
            "&quot;x&quot;&#xD;&#xA;&#x9;&amp;"
        );
        let root = parse_document(b"<r a=\"&#xD;&#xA;&quot;\">x&amp;lt;&#xD;&#10;</r>").unwrap();
        assert_eq!(root.attr("a"), Some("\r\n\""));
        assert_eq!(root.text, "x&lt;\r\n");
    }

    #[test]
    fn malformed_documents_are_errors() {
        for bad in [
            &b"<a><b></a>"[..],
            b"<a>",
            b"",
            b"<a/><b/>",
            b"text",
            b"<a>&bogus;</a>",
            b"<a x=1/>",
            b"\xff\xfe",
        ] {
            assert!(
                parse_document(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn round_trips_a_structure() {
        let m = model();
        let shape = m.shape("S");
        let v = Value::map()
            .with("attr", "<&>\n")
            .with("text", "x")
            .with("flat", vec![Value::from("1"), Value::from("2")])
            .with("wrapped", vec![Value::from("3")])
            .with("ns", "n")
            .with(
                "m",
                Value::Map([("k".to_owned(), Value::from("v"))].into_iter().collect()),
            )
            .with("f", f64::NAN)
            .with("t", nephos_core::Timestamp(1398796238.0));
        let mut w = XmlWriter::new();
        write_shape(&mut w, &m, None, shape, "Root", &v);
        let text = w.finish();
        assert!(
            text.starts_with("<Root a=\"&lt;&amp;&gt;&#xA;\">"),
            "{text}"
        );
        assert!(text.contains("<item>1</item><item>2</item><wrapped><item>3</item></wrapped>"));
        assert!(text.contains("<ns xmlns:p=\"http://p\">n</ns>"));
        assert!(text.contains("<m><K>k</K><value>v</value></m>"));
        assert!(text.contains("<f>NaN</f><t>2014-04-29T18:30:38Z</t>"));
        let back = read_shape(&m, None, shape, &parse_document(text.as_bytes()).unwrap()).unwrap();
        let Value::Map(b) = &back else { panic!() };
        assert_eq!(b.get("attr"), v.get("attr"));
        assert_eq!(b.get("flat"), v.get("flat"));
        assert_eq!(b.get("wrapped"), v.get("wrapped"));
        assert_eq!(b.get("m"), v.get("m"));
        assert_eq!(b.get("t"), v.get("t"));
        assert!(matches!(b.get("f"), Some(Value::Float(f)) if f.is_nan()));
    }

    #[test]
    fn unknown_elements_are_ignored_and_bad_scalars_rejected() {
        let m = model();
        let shape = m.shape("S");
        let el = parse_document(b"<x><other>1</other><text>t</text></x>").unwrap();
        let v = read_shape(&m, None, shape, &el).unwrap();
        assert_eq!(v, Value::map().with("text", "t"));
        let el = parse_document(b"<x><f>abc</f></x>").unwrap();
        assert!(read_shape(&m, None, shape, &el).is_err());
    }
}
