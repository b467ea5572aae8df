//! The smithy rpcv2Cbor protocol: `POST {prefix}/service/{Service}/operation/{Operation}`
//! with a CBOR body holding the input structure, answered with a CBOR body holding the
//! output structure (or an error map with `__type`).
//!
//! Decoding goes in two steps: the body is first read into a generic [`Item`] tree (all
//! major types, definite and indefinite lengths, half/single/double floats, tags), with a
//! bounded nesting depth and no allocation sized by untrusted length prefixes; the tree is
//! then converted into a [`Value`] guided by the model's shapes. HTTP binding traits
//! (`location`, `payload`) do not apply to this protocol: every member lives in the body.
//! Event stream outputs answer `application/vnd.amazon.eventstream`: an `initial-response`
//! event with the other output members, then the events, all with CBOR payloads.

// `AwsError` is the crate-wide error of the `Codec` trait; boxing it here alone would
// only add conversions.
#![allow(clippy::result_large_err)]

use crate::eventstream::{self, PayloadFormat};
use crate::{Body, Codec, HttpRequest, HttpResponse, ResponseMeta};
use bytes::Bytes;
use minicbor::data::{Tag, Type};
use minicbor::decode::Decoder;
use minicbor::encode::{Encoder, Error as EncError};
use nephos_core::{AwsError, Input, Map, Output, Timestamp, Value};
use nephos_model::{Operation, Protocol, ServiceModel, Shape, ShapeRef, ShapeType};
use std::borrow::Cow;
use std::convert::Infallible;

/// The rpcv2Cbor codec.
pub struct CborCodec;

/// Deepest nesting of arrays, maps and tags accepted in a request body; deeper input is
/// rejected rather than risking the stack.
pub const MAX_DEPTH: usize = 100;

/// Longest big-number magnitude (tags 2/3) accepted, in bytes.
const MAX_BIGNUM_BYTES: usize = 128;

const CONTENT_TYPE: &str = "application/cbor";
const SMITHY_PROTOCOL: &str = "rpc-v2-cbor";

/// A decoded CBOR data item, before any model applies. Strings and byte strings borrow
/// from the input unless they were sent in indefinite-length chunks.
#[derive(Debug, Clone, PartialEq)]
pub enum Item<'b> {
    /// Major types 0 and 1 (the full range -2^64 ..= 2^64-1).
    Int(i128),
    Float(f64),
    Bytes(Cow<'b, [u8]>),
    Text(Cow<'b, str>),
    Array(Vec<Item<'b>>),
    Map(Vec<(Item<'b>, Item<'b>)>),
    Tag(u64, Box<Item<'b>>),
    Bool(bool),
    /// `null` and `undefined`.
    Null,
}

fn serialization(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "SerializationException", message)
}

/// Decodes exactly one CBOR data item spanning the whole input.
pub fn decode_item(bytes: &[u8]) -> Result<Item<'_>, AwsError> {
    let mut d = Decoder::new(bytes);
    let item = read_item(&mut d)?;
    if d.position() != bytes.len() {
        return Err(serialization("trailing data after the CBOR body"));
    }
    Ok(item)
}

/// Decodes a CBOR body without a model (document semantics). Used by fuzzing and by
/// callers holding CBOR of unknown shape.
pub fn decode_document(bytes: &[u8]) -> Result<Value, AwsError> {
    let item = decode_item(bytes)?;
    document_value(&item).ok_or_else(non_text_key)
}

fn bad(e: minicbor::decode::Error) -> AwsError {
    serialization(format!("malformed CBOR: {e}"))
}

/// A container being filled while decoding. Decoding keeps these on a heap stack instead
/// of recursing, so deep input costs memory proportional to its size, never the call stack.
enum Frame<'b> {
    Array(Vec<Item<'b>>, Option<u64>),
    Map(Vec<(Item<'b>, Item<'b>)>, Option<u64>, Option<Item<'b>>),
    Tag(u64),
}

fn read_item<'b>(d: &mut Decoder<'b>) -> Result<Item<'b>, AwsError> {
    let mut stack: Vec<Frame<'b>> = Vec::new();
    loop {
        // An indefinite container ends at a break byte.
        if let Some(Frame::Array(_, None) | Frame::Map(_, None, None)) = stack.last()
            && at_break(d)?
        {
            let item = match stack.pop() {
                Some(Frame::Array(items, _)) => Item::Array(items),
                Some(Frame::Map(entries, _, _)) => Item::Map(entries),
                _ => return Err(serialization("unexpected CBOR break")),
            };
            if let Some(done) = complete(&mut stack, item) {
                return Ok(done);
            }
            continue;
        }
        let item = match read_head(d)? {
            Head::Item(item) => item,
            Head::Open(frame) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(serialization("CBOR nesting too deep"));
                }
                match frame {
                    Frame::Array(_, Some(0)) => Item::Array(Vec::new()),
                    Frame::Map(_, Some(0), _) => Item::Map(Vec::new()),
                    f => {
                        stack.push(f);
                        continue;
                    }
                }
            }
        };
        if let Some(done) = complete(&mut stack, item) {
            return Ok(done);
        }
    }
}

/// Adds a finished item to the innermost open container, closing every container it
/// fills; returns the top-level item once there is no container left.
fn complete<'b>(stack: &mut Vec<Frame<'b>>, mut item: Item<'b>) -> Option<Item<'b>> {
    loop {
        match stack.last_mut() {
            None => return Some(item),
            Some(Frame::Tag(t)) => {
                let t = *t;
                stack.pop();
                item = Item::Tag(t, Box::new(item));
            }
            Some(Frame::Array(items, len)) => {
                items.push(item);
                if len.is_some_and(|n| items.len() as u64 >= n) {
                    let Some(Frame::Array(items, _)) = stack.pop() else {
                        return None;
                    };
                    item = Item::Array(items);
                } else {
                    return None;
                }
            }
            Some(Frame::Map(entries, len, key)) => {
                match key.take() {
                    None => {
                        *key = Some(item);
                        return None;
                    }
                    Some(k) => entries.push((k, item)),
                }
                if len.is_some_and(|n| entries.len() as u64 >= n) {
                    let Some(Frame::Map(entries, _, _)) = stack.pop() else {
                        return None;
                    };
                    item = Item::Map(entries);
                } else {
                    return None;
                }
            }
        }
    }
}

enum Head<'b> {
    Item(Item<'b>),
    Open(Frame<'b>),
}

/// Reads one scalar item, or the head of a container or tag.
fn read_head<'b>(d: &mut Decoder<'b>) -> Result<Head<'b>, AwsError> {
    // Every element takes at least one byte: never reserve more than remains.
    let remaining = d.input().len().saturating_sub(d.position());
    let cap = |n: u64, per: usize| (n.min(4096) as usize).min(remaining / per);
    Ok(Head::Item(match d.datatype().map_err(bad)? {
        Type::Bool => Item::Bool(d.bool().map_err(bad)?),
        Type::Null => {
            d.null().map_err(bad)?;
            Item::Null
        }
        Type::Undefined => {
            d.undefined().map_err(bad)?;
            Item::Null
        }
        Type::U8
        | Type::U16
        | Type::U32
        | Type::U64
        | Type::I8
        | Type::I16
        | Type::I32
        | Type::I64
        | Type::Int => Item::Int(i128::from(d.int().map_err(bad)?)),
        Type::F16 => {
            // The `half` feature of minicbor is off; the conversion is a few lines.
            let pos = d.position();
            let raw = d
                .input()
                .get(pos + 1..pos + 3)
                .ok_or_else(|| serialization("truncated half-precision float"))?;
            let h = u16::from_be_bytes([raw[0], raw[1]]);
            d.set_position(pos + 3);
            Item::Float(f16_to_f64(h))
        }
        Type::F32 => Item::Float(f64::from(d.f32().map_err(bad)?)),
        Type::F64 => Item::Float(d.f64().map_err(bad)?),
        Type::Bytes => Item::Bytes(Cow::Borrowed(d.bytes().map_err(bad)?)),
        Type::BytesIndef => {
            let mut buf = Vec::new();
            for chunk in d.bytes_iter().map_err(bad)? {
                buf.extend_from_slice(chunk.map_err(bad)?);
            }
            Item::Bytes(Cow::Owned(buf))
        }
        Type::String => Item::Text(Cow::Borrowed(d.str().map_err(bad)?)),
        Type::StringIndef => {
            let mut buf = String::new();
            for chunk in d.str_iter().map_err(bad)? {
                buf.push_str(chunk.map_err(bad)?);
            }
            Item::Text(Cow::Owned(buf))
        }
        Type::Array | Type::ArrayIndef => {
            let len = d.array().map_err(bad)?;
            let items = Vec::with_capacity(len.map_or(0, |n| cap(n, 1)));
            return Ok(Head::Open(Frame::Array(items, len)));
        }
        Type::Map | Type::MapIndef => {
            let len = d.map().map_err(bad)?;
            let entries = Vec::with_capacity(len.map_or(0, |n| cap(n, 2)));
            return Ok(Head::Open(Frame::Map(entries, len, None)));
        }
        Type::Tag => {
            let tag = d.tag().map_err(bad)?.as_u64();
            return Ok(Head::Open(Frame::Tag(tag)));
        }
        Type::Simple => {
            let v = d.simple().map_err(bad)?;
            return Err(serialization(format!("unsupported CBOR simple value {v}")));
        }
        Type::Break => return Err(serialization("unexpected CBOR break")),
        other => return Err(serialization(format!("unsupported CBOR item {other}"))),
    }))
}

/// Consumes the break byte ending an indefinite-length container, if it is next.
fn at_break(d: &mut Decoder<'_>) -> Result<bool, AwsError> {
    if d.datatype().map_err(bad)? == Type::Break {
        d.set_position(d.position() + 1);
        Ok(true)
    } else {
        Ok(false)
    }
}

fn f16_to_f64(h: u16) -> f64 {
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = i32::from((h >> 10) & 0x1f);
    let mant = f64::from(h & 0x3ff);
    sign * match exp {
        0 => mant * 2f64.powi(-24),
        31 if mant == 0.0 => f64::INFINITY,
        31 => f64::NAN,
        e => (1.0 + mant / 1024.0) * 2f64.powi(e - 15),
    }
}

// ---------------------------------------------------------------------------------------
// Item -> Value, by shape

/// Converts a decoded item into the value of `shape_name`. `None` means the item was
/// `null`, which callers drop (or keep as `Null` in sparse collections).
pub fn item_to_value(
    model: &ServiceModel,
    shape_name: &str,
    item: &Item<'_>,
) -> Result<Option<Value>, AwsError> {
    to_value(model, model.shape(shape_name), shape_name, item)
}

fn mismatch(what: &str, shape_name: &str) -> AwsError {
    serialization(format!("expected {what} for shape {shape_name}"))
}

fn to_value(
    model: &ServiceModel,
    shape: &Shape,
    shape_name: &str,
    item: &Item<'_>,
) -> Result<Option<Value>, AwsError> {
    if matches!(item, Item::Null) {
        return Ok(None);
    }
    if shape.document {
        return shapeless(item);
    }
    let v = match shape.kind {
        ShapeType::Structure => {
            let Item::Map(entries) = item else {
                return Err(mismatch("a map", shape_name));
            };
            let mut out = Map::default();
            for (k, v) in entries {
                let Item::Text(key) = k else {
                    return Err(mismatch("text keys", shape_name));
                };
                // Unknown members are skipped: clients built from newer models may send them.
                let Some(member) = shape.members.get(key.as_ref()) else {
                    continue;
                };
                if let Some(val) = member_value(model, member, v)? {
                    out.insert(key.clone().into_owned(), val);
                }
            }
            if shape.union && out.len() > 1 {
                return Err(serialization(format!(
                    "union {shape_name} must have exactly one member set"
                )));
            }
            Value::Map(out)
        }
        ShapeType::List => {
            let Item::Array(items) = item else {
                return Err(mismatch("an array", shape_name));
            };
            let Some(member) = shape.member.as_ref() else {
                return shapeless(item);
            };
            let mut out = Vec::with_capacity(items.len());
            for it in items {
                match member_value(model, member, it)? {
                    Some(v) => out.push(v),
                    None if shape.sparse => out.push(Value::Null),
                    None => {}
                }
            }
            Value::List(out)
        }
        ShapeType::Map => {
            let Item::Map(entries) = item else {
                return Err(mismatch("a map", shape_name));
            };
            let Some(value_ref) = shape.value.as_ref() else {
                return shapeless(item);
            };
            let mut out = Map::with_capacity_and_hasher(entries.len(), Default::default());
            for (k, v) in entries {
                let Item::Text(key) = k else {
                    return Err(mismatch("text keys", shape_name));
                };
                match member_value(model, value_ref, v)? {
                    Some(v) => {
                        out.insert(key.clone().into_owned(), v);
                    }
                    None if shape.sparse => {
                        out.insert(key.clone().into_owned(), Value::Null);
                    }
                    None => {}
                }
            }
            Value::Map(out)
        }
        ShapeType::String | ShapeType::Character => match item {
            Item::Text(s) => Value::String(s.clone().into_owned()),
            _ => return Err(mismatch("a text string", shape_name)),
        },
        ShapeType::Boolean => match item {
            Item::Bool(b) => Value::Bool(*b),
            _ => return Err(mismatch("a boolean", shape_name)),
        },
        ShapeType::Integer | ShapeType::Long | ShapeType::Short | ShapeType::Byte => {
            let n = match item {
                Item::Int(i) => i64::try_from(*i).ok(),
                Item::Float(f) if f.fract() == 0.0 && f.abs() < 9.2e18 => Some(*f as i64),
                _ => None,
            };
            let n = n.ok_or_else(|| mismatch("an integer", shape_name))?;
            let (lo, hi) = match shape.kind {
                ShapeType::Byte => (i64::from(i8::MIN), i64::from(i8::MAX)),
                ShapeType::Short => (i64::from(i16::MIN), i64::from(i16::MAX)),
                ShapeType::Integer => (i64::from(i32::MIN), i64::from(i32::MAX)),
                _ => (i64::MIN, i64::MAX),
            };
            if n < lo || n > hi {
                return Err(serialization(format!(
                    "integer {n} out of range for shape {shape_name}"
                )));
            }
            Value::Integer(n)
        }
        ShapeType::Float | ShapeType::Double => match item {
            Item::Float(f) => Value::Float(*f),
            Item::Int(i) => Value::Float(*i as f64),
            _ => return Err(mismatch("a number", shape_name)),
        },
        ShapeType::Blob => match item {
            Item::Bytes(b) => Value::Blob(Bytes::copy_from_slice(b)),
            _ => return Err(mismatch("a byte string", shape_name)),
        },
        ShapeType::Timestamp => {
            let inner = match item {
                Item::Tag(1, inner) => inner.as_ref(),
                other => other,
            };
            match inner {
                Item::Int(i) => Value::Timestamp(Timestamp(*i as f64)),
                Item::Float(f) if f.is_finite() => Value::Timestamp(Timestamp(*f)),
                _ => return Err(mismatch("an epoch-seconds timestamp", shape_name)),
            }
        }
        ShapeType::BigInteger => match item {
            Item::Int(i) => Value::String(i.to_string()),
            Item::Tag(t @ (2 | 3), inner) => match inner.as_ref() {
                Item::Bytes(b) => Value::String(bignum_to_string(b, *t == 3)?),
                _ => return Err(mismatch("a bignum", shape_name)),
            },
            _ => return Err(mismatch("an integer", shape_name)),
        },
        ShapeType::BigDecimal => match item {
            Item::Int(i) => Value::String(i.to_string()),
            Item::Float(f) if f.is_finite() => Value::String(f.to_string()),
            Item::Tag(4, inner) => Value::String(decimal_fraction(inner, shape_name)?),
            _ => return Err(mismatch("a decimal", shape_name)),
        },
    };
    Ok(Some(v))
}

fn member_value(
    model: &ServiceModel,
    member: &ShapeRef,
    item: &Item<'_>,
) -> Result<Option<Value>, AwsError> {
    let shape = model
        .shapes
        .get(&member.shape)
        .ok_or_else(|| AwsError::internal(format!("model has no shape {}", member.shape)))?;
    to_value(model, shape, &member.shape, item)
}

fn non_text_key() -> AwsError {
    serialization("document map keys must be text strings")
}

/// A document, or a list or map whose model gives no member shape: the natural mapping.
/// Kept out of [`to_value`] so its error path does not grow that recursive frame.
fn shapeless(item: &Item<'_>) -> Result<Option<Value>, AwsError> {
    document_value(item).map(Some).ok_or_else(non_text_key)
}

/// The natural mapping of a CBOR item without a shape; `None` if a map has a key that is
/// not text (callers report [`non_text_key`]).
///
/// Document objects have text keys (smithy documents are JSON-like), so any other key is
/// malformed input. Rendering such keys as text instead was exponential in their nesting
/// depth (found by the `cbor_decode` fuzz target).
fn document_value(item: &Item<'_>) -> Option<Value> {
    Some(match item {
        Item::Int(i) => i64::try_from(*i)
            .map(Value::Integer)
            .unwrap_or(Value::Float(*i as f64)),
        Item::Float(f) => Value::Float(*f),
        Item::Bytes(b) => Value::Blob(Bytes::copy_from_slice(b)),
        Item::Text(s) => Value::String(s.clone().into_owned()),
        Item::Array(items) => Value::List(items.iter().map(document_value).collect::<Option<_>>()?),
        Item::Map(entries) => Value::Map(
            entries
                .iter()
                .map(|(k, v)| match k {
                    Item::Text(key) => Some((key.clone().into_owned(), document_value(v)?)),
                    _ => None,
                })
                .collect::<Option<_>>()?,
        ),
        Item::Tag(1, inner) => match inner.as_ref() {
            Item::Int(i) => Value::Timestamp(Timestamp(*i as f64)),
            Item::Float(f) => Value::Timestamp(Timestamp(*f)),
            other => document_value(other)?,
        },
        Item::Tag(_, inner) => document_value(inner)?,
        Item::Bool(b) => Value::Bool(*b),
        Item::Null => Value::Null,
    })
}

/// The decimal digits of a big-endian magnitude (tag 2), or of -1 - magnitude (tag 3).
fn bignum_to_string(bytes: &[u8], negative: bool) -> Result<String, AwsError> {
    if bytes.len() > MAX_BIGNUM_BYTES {
        return Err(serialization("bignum too large"));
    }
    // Little-endian base-10^9 limbs.
    let mut limbs: Vec<u32> = Vec::new();
    for &b in bytes {
        let mut carry = u64::from(b);
        for limb in limbs.iter_mut() {
            let v = u64::from(*limb) * 256 + carry;
            *limb = (v % 1_000_000_000) as u32;
            carry = v / 1_000_000_000;
        }
        while carry > 0 {
            limbs.push((carry % 1_000_000_000) as u32);
            carry /= 1_000_000_000;
        }
    }
    if negative {
        // -1 - n: add one to the magnitude.
        let mut carry = 1u64;
        for limb in limbs.iter_mut() {
            let v = u64::from(*limb) + carry;
            *limb = (v % 1_000_000_000) as u32;
            carry = v / 1_000_000_000;
            if carry == 0 {
                break;
            }
        }
        if carry > 0 {
            limbs.push(carry as u32);
        }
    }
    let mut s = String::new();
    if negative {
        s.push('-');
    }
    match limbs.split_last() {
        None => s.push('0'),
        Some((top, rest)) => {
            s.push_str(&top.to_string());
            for limb in rest.iter().rev() {
                s.push_str(&format!("{limb:09}"));
            }
        }
    }
    Ok(s)
}

/// Tag 4 `[exponent, mantissa]` as decimal text.
fn decimal_fraction(inner: &Item<'_>, shape_name: &str) -> Result<String, AwsError> {
    let Item::Array(parts) = inner else {
        return Err(mismatch("a decimal fraction", shape_name));
    };
    let [Item::Int(exp), mantissa] = parts.as_slice() else {
        return Err(mismatch("a decimal fraction", shape_name));
    };
    let digits = match mantissa {
        Item::Int(i) => i.to_string(),
        Item::Tag(t @ (2 | 3), b) => match b.as_ref() {
            Item::Bytes(b) => bignum_to_string(b, *t == 3)?,
            _ => return Err(mismatch("a decimal fraction", shape_name)),
        },
        _ => return Err(mismatch("a decimal fraction", shape_name)),
    };
    let exp = *exp;
    if exp == 0 {
        return Ok(digits);
    }
    if exp.abs() > 1000 {
        return Ok(format!("{digits}E{exp}"));
    }
    let (sign, mag) = match digits.strip_prefix('-') {
        Some(m) => ("-", m.to_owned()),
        None => ("", digits),
    };
    if exp > 0 {
        return Ok(format!("{sign}{mag}{}", "0".repeat(exp as usize)));
    }
    let shift = (-exp) as usize;
    let padded = if mag.len() <= shift {
        format!("{}{mag}", "0".repeat(shift + 1 - mag.len()))
    } else {
        mag
    };
    let (int, frac) = padded.split_at(padded.len() - shift);
    Ok(format!("{sign}{int}.{frac}"))
}

// ---------------------------------------------------------------------------------------
// Value -> CBOR, by shape

type Enc = Encoder<Vec<u8>>;
type EncResult = Result<(), EncError<Infallible>>;

/// Encodes `value` as the CBOR of `shape_name`.
pub fn encode_value(model: &ServiceModel, shape_name: &str, value: &Value) -> Vec<u8> {
    let mut e = Encoder::new(Vec::new());
    // Writing into a Vec cannot fail.
    let _ = write_value(&mut e, model, shape_name, value);
    e.into_writer()
}

fn write_value(e: &mut Enc, model: &ServiceModel, shape_name: &str, value: &Value) -> EncResult {
    let Some(shape) = model.shapes.get(shape_name) else {
        return write_document(e, value);
    };
    if shape.document {
        return write_document(e, value);
    }
    match shape.kind {
        ShapeType::Structure => {
            let Value::Map(m) = value else {
                return write_document(e, value);
            };
            write_structure(e, model, shape, m, None)
        }
        ShapeType::List => {
            let Value::List(items) = value else {
                return write_document(e, value);
            };
            let keep = |v: &&Value| shape.sparse || !v.is_null();
            e.array(items.iter().filter(keep).count() as u64)?;
            for item in items.iter().filter(keep) {
                match (&shape.member, item) {
                    (_, Value::Null) => {
                        e.null()?;
                    }
                    (Some(m), v) => write_value(e, model, &m.shape, v)?,
                    (None, v) => write_document(e, v)?,
                }
            }
            Ok(())
        }
        ShapeType::Map => {
            let Value::Map(m) = value else {
                return write_document(e, value);
            };
            let keep = |(_, v): &(&String, &Value)| shape.sparse || !v.is_null();
            e.map(m.iter().filter(keep).count() as u64)?;
            for (k, v) in m.iter().filter(keep) {
                e.str(k)?;
                match (&shape.value, v) {
                    (_, Value::Null) => {
                        e.null()?;
                    }
                    (Some(r), v) => write_value(e, model, &r.shape, v)?,
                    (None, v) => write_document(e, v)?,
                }
            }
            Ok(())
        }
        ShapeType::String | ShapeType::Character => match value {
            Value::String(s) => e.str(s).map(drop),
            Value::Integer(i) => e.str(&i.to_string()).map(drop),
            Value::Float(f) => e.str(&f.to_string()).map(drop),
            Value::Bool(b) => e.str(if *b { "true" } else { "false" }).map(drop),
            other => write_document(e, other),
        },
        ShapeType::Boolean => match value {
            Value::Bool(b) => e.bool(*b).map(drop),
            Value::String(s) => e.bool(s.eq_ignore_ascii_case("true")).map(drop),
            other => write_document(e, other),
        },
        ShapeType::Integer | ShapeType::Long | ShapeType::Short | ShapeType::Byte => match value {
            Value::Integer(i) => e.i64(*i).map(drop),
            Value::Float(f) if f.fract() == 0.0 && f.is_finite() => e.i64(*f as i64).map(drop),
            Value::String(s) => match s.trim().parse::<i64>() {
                Ok(i) => e.i64(i).map(drop),
                Err(_) => e.str(s).map(drop),
            },
            other => write_document(e, other),
        },
        ShapeType::Float | ShapeType::Double => {
            let f = match value {
                Value::Float(f) => *f,
                Value::Integer(i) => *i as f64,
                Value::String(s) => match s.as_str() {
                    "NaN" => f64::NAN,
                    "Infinity" => f64::INFINITY,
                    "-Infinity" => f64::NEG_INFINITY,
                    other => match other.trim().parse() {
                        Ok(f) => f,
                        Err(_) => return e.str(s).map(drop),
                    },
                },
                other => return write_document(e, other),
            };
            write_float(e, f, shape.kind == ShapeType::Float)
        }
        ShapeType::Blob => match value {
            Value::Blob(b) => e.bytes(b).map(drop),
            Value::String(s) => e.bytes(s.as_bytes()).map(drop),
            other => write_document(e, other),
        },
        ShapeType::Timestamp => {
            let secs = match value {
                Value::Timestamp(t) => t.0,
                Value::Integer(i) => *i as f64,
                Value::Float(f) => *f,
                Value::String(s) => match crate::timestamp::parse_any(s) {
                    Some(t) => t.0,
                    None => return e.str(s).map(drop),
                },
                other => return write_document(e, other),
            };
            e.tag(Tag::new(1))?.f64(secs).map(drop)
        }
        ShapeType::BigInteger => match value {
            Value::String(s) => write_big_integer(e, s),
            Value::Integer(i) => e.i64(*i).map(drop),
            other => write_document(e, other),
        },
        ShapeType::BigDecimal => match value {
            Value::String(s) => write_big_decimal(e, s),
            Value::Integer(i) => e.i64(*i).map(drop),
            Value::Float(f) => e.f64(*f).map(drop),
            other => write_document(e, other),
        },
    }
}

/// A structure's members in model order; `extra` is written first (the error `__type`).
fn write_structure(
    e: &mut Enc,
    model: &ServiceModel,
    shape: &Shape,
    m: &Map,
    extra: Option<(&str, &str)>,
) -> EncResult {
    let present: Vec<(&String, &ShapeRef, &Value)> = shape
        .members
        .iter()
        .filter_map(|(name, r)| match m.get(name) {
            Some(v) if !v.is_null() => Some((name, r, v)),
            _ => None,
        })
        .collect();
    e.map(present.len() as u64 + u64::from(extra.is_some()))?;
    if let Some((k, v)) = extra {
        e.str(k)?.str(v)?;
    }
    for (name, r, v) in present {
        e.str(name)?;
        write_value(e, model, &r.shape, v)?;
    }
    Ok(())
}

/// Floats of `float` shapes go out as single precision when that loses nothing.
fn write_float(e: &mut Enc, f: f64, single: bool) -> EncResult {
    if single && (f.is_nan() || f64::from(f as f32) == f) {
        e.f32(f as f32).map(drop)
    } else {
        e.f64(f).map(drop)
    }
}

fn write_document(e: &mut Enc, value: &Value) -> EncResult {
    match value {
        Value::Null => e.null().map(drop),
        Value::Bool(b) => e.bool(*b).map(drop),
        Value::Integer(i) => e.i64(*i).map(drop),
        Value::Float(f) => e.f64(*f).map(drop),
        Value::String(s) => e.str(s).map(drop),
        Value::Blob(b) => e.bytes(b).map(drop),
        Value::Timestamp(t) => e.tag(Tag::new(1))?.f64(t.0).map(drop),
        Value::Json(raw) => write_document(e, &crate::rest::raw_to_document(raw)),
        Value::List(items) => {
            e.array(items.len() as u64)?;
            for v in items {
                write_document(e, v)?;
            }
            Ok(())
        }
        Value::Map(m) => {
            e.map(m.len() as u64)?;
            for (k, v) in m {
                e.str(k)?;
                write_document(e, v)?;
            }
            Ok(())
        }
    }
}

/// Big-endian magnitude bytes of a string of decimal digits.
fn digits_to_bytes(digits: &str) -> Vec<u8> {
    let mut out: Vec<u8> = Vec::new(); // little-endian while building
    for d in digits.bytes() {
        let mut carry = u32::from(d - b'0');
        for b in out.iter_mut() {
            let v = u32::from(*b) * 10 + carry;
            *b = (v & 0xff) as u8;
            carry = v >> 8;
        }
        while carry > 0 {
            out.push((carry & 0xff) as u8);
            carry >>= 8;
        }
    }
    out.reverse();
    out
}

fn write_big_integer(e: &mut Enc, s: &str) -> EncResult {
    let t = s.trim();
    if let Ok(i) = t.parse::<i64>() {
        return e.i64(i).map(drop);
    }
    let (neg, mag) = match t.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    if mag.is_empty() || !mag.bytes().all(|b| b.is_ascii_digit()) {
        return e.str(s).map(drop);
    }
    let mut bytes = digits_to_bytes(mag);
    if neg {
        // Tag 3 carries -1 - n, so the magnitude shrinks by one.
        for b in bytes.iter_mut().rev() {
            if *b > 0 {
                *b -= 1;
                break;
            }
            *b = 0xff;
        }
    }
    e.tag(Tag::new(if neg { 3 } else { 2 }))?
        .bytes(&bytes)
        .map(drop)
}

fn write_big_decimal(e: &mut Enc, s: &str) -> EncResult {
    let t = s.trim();
    let (mant, exp_part) = match t.find(['e', 'E']) {
        Some(i) => (&t[..i], Some(&t[i + 1..])),
        None => (t, None),
    };
    let Ok(mut exp) = exp_part.map_or(Ok(0i64), |x| x.parse::<i64>()) else {
        return e.str(s).map(drop);
    };
    let (neg, mant) = match mant.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mant.strip_prefix('+').unwrap_or(mant)),
    };
    let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
    if int.is_empty() && frac.is_empty()
        || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
    {
        return e.str(s).map(drop);
    }
    exp -= frac.len() as i64;
    let digits = format!("{}{int}{frac}", if neg { "-" } else { "" });
    e.tag(Tag::new(4))?.array(2)?.i64(exp)?;
    write_big_integer(e, &digits)
}

// ---------------------------------------------------------------------------------------
// The codec

/// Event payloads of rpcv2Cbor: CBOR maps of the event's shape.
const EVENT_PAYLOADS: PayloadFormat = PayloadFormat {
    content_type: CONTENT_TYPE,
    serialize: event_payload,
};

fn event_payload(model: &ServiceModel, shape: &str, v: &Value) -> Bytes {
    Bytes::from(encode_value(model, shape, v))
}

fn response_headers(meta: ResponseMeta<'_>, with_body: bool) -> http::HeaderMap {
    let mut h = http::HeaderMap::new();
    h.insert(
        "smithy-protocol",
        http::HeaderValue::from_static(SMITHY_PROTOCOL),
    );
    if with_body {
        h.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static(CONTENT_TYPE),
        );
    }
    if let Ok(v) = http::HeaderValue::from_str(meta.request_id) {
        h.insert("x-amzn-requestid", v);
    }
    h
}

/// The operation name of an rpcv2Cbor path: `{prefix}/service/{[namespace.]Service}/operation/{Op}`.
fn operation_from_path(path: &str) -> Option<&str> {
    let idx = path.rfind("/service/")?;
    let rest = &path[idx + "/service/".len()..];
    let (service, op) = rest.split_once("/operation/")?;
    if service.is_empty() || service.contains('/') || op.is_empty() || op.contains('/') {
        return None;
    }
    Some(op)
}

impl Codec for CborCodec {
    fn protocol(&self) -> Protocol {
        Protocol::RpcV2Cbor
    }

    fn resolve<'m>(
        &self,
        model: &'m ServiceModel,
        req: &HttpRequest,
        _body: Option<&[u8]>,
    ) -> Result<&'m Operation, AwsError> {
        let path = req.uri.path();
        let unknown = || {
            AwsError::new(
                404,
                "UnknownOperationException",
                format!("no operation is bound to {path}"),
            )
        };
        if req.method != http::Method::POST {
            return Err(AwsError::new(
                405,
                "MethodNotAllowedException",
                "rpc-v2-cbor requests must use POST",
            ));
        }
        let name = operation_from_path(path).ok_or_else(unknown)?;
        model.operation(name).ok_or_else(unknown)
    }

    fn parse(
        &self,
        model: &ServiceModel,
        op: &Operation,
        _req: &HttpRequest,
        body: Body,
    ) -> Result<Input, AwsError> {
        let bytes = match body {
            Body::Full(b) => b,
            Body::Stream(_) => {
                return Err(serialization(
                    "rpc-v2-cbor request bodies cannot be streamed",
                ));
            }
        };
        let Some(input) = &op.input else {
            return Ok(Input {
                value: Value::map(),
                body: None,
            });
        };
        if bytes.is_empty() {
            return Ok(Input {
                value: Value::map(),
                body: None,
            });
        }
        let item = decode_item(&bytes)?;
        let value = match member_value(model, input, &item)? {
            Some(v @ Value::Map(_)) => v,
            Some(_) => return Err(serialization("the request body must be a CBOR map")),
            None => Value::map(),
        };
        Ok(Input { value, body: None })
    }

    fn serialize(
        &self,
        model: &ServiceModel,
        op: &Operation,
        output: Output,
        meta: ResponseMeta<'_>,
    ) -> HttpResponse {
        // An event stream answers with the other output members in an `initial-response`
        // event, then the events, all CBOR.
        if let Some(r) = &op.output
            && let Some(shape) = model.try_target(r)
            && let Some((name, stream_ref)) = eventstream::stream_member(model, shape)
            && let Some(events) = output.events
        {
            let mut members = match output.value {
                Value::Map(m) => m,
                _ => Map::default(),
            };
            members.shift_remove(name);
            let initial = eventstream::event_message(
                "initial-response",
                Some(CONTENT_TYPE),
                Bytes::from(encode_value(model, &r.shape, &Value::Map(members))),
            );
            let mut headers = response_headers(meta, false);
            headers.insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static(eventstream::CONTENT_TYPE),
            );
            return HttpResponse {
                status: 200,
                headers,
                body: Body::Stream(eventstream::response_body(
                    model,
                    &stream_ref.shape,
                    Some(initial),
                    events,
                    EVENT_PAYLOADS,
                )),
            };
        }
        if let Some(stream) = output.body {
            let mut headers = response_headers(meta, false);
            headers.insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/vnd.amazon.eventstream"),
            );
            return HttpResponse {
                status: 200,
                headers,
                body: Body::Stream(stream),
            };
        }
        let Some(out) = &op.output else {
            return HttpResponse {
                status: 200,
                headers: response_headers(meta, false),
                body: Body::Full(Bytes::new()),
            };
        };
        let value = match output.value {
            Value::Null => Value::map(),
            v => v,
        };
        let bytes = encode_value(model, &out.shape, &value);
        HttpResponse {
            status: 200,
            headers: response_headers(meta, true),
            body: Body::Full(Bytes::from(bytes)),
        }
    }

    fn serialize_error(
        &self,
        model: &ServiceModel,
        _op: Option<&Operation>,
        err: &AwsError,
        meta: ResponseMeta<'_>,
    ) -> HttpResponse {
        let found = model.error_shape(&err.code);
        let (type_name, status, sender_fault, query_code) = match found {
            Some((name, shape)) => {
                let trait_ = shape.error.as_ref();
                let fault = shape.fault;
                let status = trait_.and_then(|t| t.http_status_code).unwrap_or(if fault {
                    500
                } else {
                    400
                });
                let query_code = trait_
                    .and_then(|t| t.code.as_deref())
                    .unwrap_or(name)
                    .to_owned();
                (name.to_owned(), status, !fault, query_code)
            }
            None => (
                err.code.to_string(),
                err.status,
                err.sender_fault,
                err.code.to_string(),
            ),
        };

        let mut e = Encoder::new(Vec::new());
        let _ = write_error_body(&mut e, model, found.map(|f| f.1), &type_name, err);
        let body = e.into_writer();

        let mut headers = response_headers(meta, true);
        if model.metadata.aws_query_compatible.is_some() {
            let fault = if sender_fault { "Sender" } else { "Receiver" };
            if let Ok(v) = http::HeaderValue::from_str(&format!("{query_code};{fault}")) {
                headers.insert("x-amzn-query-error", v);
            }
        }
        for (k, v) in &err.headers {
            if let (Ok(k), Ok(v)) = (
                http::HeaderName::from_bytes(k.as_bytes()),
                http::HeaderValue::from_str(v),
            ) {
                headers.append(k, v);
            }
        }
        HttpResponse {
            status,
            headers,
            body: Body::Full(Bytes::from(body)),
        }
    }
}

/// `{"__type": ..., "<message member>": ..., <error fields>...}`.
fn write_error_body(
    e: &mut Enc,
    model: &ServiceModel,
    shape: Option<&Shape>,
    type_name: &str,
    err: &AwsError,
) -> EncResult {
    let message_key = shape
        .and_then(|s| s.members.keys().find(|k| k.eq_ignore_ascii_case("message")))
        .map_or("message", String::as_str);
    let mut fields: Map = Map::default();
    if !err.message.is_empty() {
        fields.insert(message_key.to_owned(), Value::String(err.message.clone()));
    }
    for (k, v) in &err.fields {
        if !v.is_null() && !k.eq_ignore_ascii_case("message") {
            fields.insert(k.clone(), v.clone());
        }
    }
    match shape {
        Some(s) => {
            // Members the shape declares, with their types; the message always goes out.
            let declared: Vec<(&String, &Value)> = fields
                .iter()
                .filter(|(k, _)| s.members.contains_key(*k) || *k == message_key)
                .collect();
            e.map(declared.len() as u64 + 1)?;
            e.str("__type")?.str(type_name)?;
            for (k, v) in declared {
                e.str(k)?;
                match s.members.get(k) {
                    Some(r) => write_value(e, model, &r.shape, v)?,
                    None => write_document(e, v)?,
                }
            }
        }
        None => {
            e.map(fields.len() as u64 + 1)?;
            e.str("__type")?.str(type_name)?;
            for (k, v) in &fields {
                e.str(k)?;
                write_document(e, v)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;

    fn model(shapes: serde_json::Value, ops: serde_json::Value) -> ServiceModel {
        ServiceModel::from_value(serde_json::json!({
            "metadata": {"protocol": "smithy-rpc-v2-cbor", "targetPrefix": "RpcV2Protocol"},
            "shapes": shapes,
            "operations": ops,
        }))
        .unwrap()
    }

    fn scalars() -> ServiceModel {
        model(
            serde_json::json!({
                "S": {"type": "structure", "members": {
                    "trueBooleanValue": {"shape": "Boolean"},
                    "falseBooleanValue": {"shape": "Boolean"},
                    "byteValue": {"shape": "Integer"},
                    "doubleValue": {"shape": "Double"},
                    "floatValue": {"shape": "Float"},
                    "integerValue": {"shape": "Integer"},
                    "longValue": {"shape": "Long"},
                    "shortValue": {"shape": "Integer"},
                    "stringValue": {"shape": "String"},
                    "blobValue": {"shape": "Blob"},
                    "ts": {"shape": "Ts"},
                    "list": {"shape": "L"},
                    "sparse": {"shape": "SL"},
                    "big": {"shape": "Big"},
                    "dec": {"shape": "Dec"}
                }},
                "Boolean": {"type": "boolean"},
                "Integer": {"type": "integer"},
                "Long": {"type": "long"},
                "Double": {"type": "double"},
                "Float": {"type": "float"},
                "String": {"type": "string"},
                "Blob": {"type": "blob"},
                "Ts": {"type": "timestamp"},
                "L": {"type": "list", "member": {"shape": "String"}},
                "SL": {"type": "list", "member": {"shape": "String"}, "sparse": true},
                "Big": {"type": "biginteger"},
                "Dec": {"type": "bigdecimal"},
                "Err": {"type": "structure", "members": {"Message": {"shape": "String"}},
                        "exception": true, "error": {"httpStatusCode": 404}}
            }),
            serde_json::json!({
                "SimpleScalarProperties": {"name": "SimpleScalarProperties",
                    "input": {"shape": "S"}, "output": {"shape": "S"}},
                "NoOutput": {"name": "NoOutput"}
            }),
        )
    }

    fn request(path: &str) -> HttpRequest {
        HttpRequest {
            method: http::Method::POST,
            uri: path.parse().unwrap(),
            headers: http::HeaderMap::new(),
        }
    }

    fn parse(m: &ServiceModel, body: &[u8]) -> Result<Value, AwsError> {
        let req = request("/service/RpcV2Protocol/operation/SimpleScalarProperties");
        let op = CborCodec.resolve(m, &req, None)?;
        CborCodec
            .parse(m, op, &req, Body::Full(Bytes::copy_from_slice(body)))
            .map(|i| i.value)
    }

    #[test]
    fn parses_the_suite_scalar_case() {
        let m = scalars();
        let body = STANDARD.decode("v2lieXRlVmFsdWUFa2RvdWJsZVZhbHVl+z/+OVgQYk3TcWZhbHNlQm9vbGVhblZhbHVl9GpmbG9hdFZhbHVl+kD0AABsaW50ZWdlclZhbHVlGQEAaWxvbmdWYWx1ZRkmkWpzaG9ydFZhbHVlGSaqa3N0cmluZ1ZhbHVlZnNpbXBsZXB0cnVlQm9vbGVhblZhbHVl9WlibG9iVmFsdWVDZm9v/w==").unwrap();
        let v = parse(&m, &body).unwrap();
        assert_eq!(v.int("byteValue"), Some(5));
        assert_eq!(v.get("doubleValue"), Some(&Value::Float(1.889)));
        assert_eq!(v.get("floatValue"), Some(&Value::Float(7.625)));
        assert_eq!(v.int("longValue"), Some(9873));
        assert_eq!(v.str("stringValue"), Some("simple"));
        assert_eq!(v.bool("trueBooleanValue"), Some(true));
        assert_eq!(v.bool("falseBooleanValue"), Some(false));
        assert_eq!(
            v.get("blobValue"),
            Some(&Value::Blob(Bytes::from_static(b"foo")))
        );
    }

    #[test]
    fn half_floats_and_specials() {
        assert_eq!(f16_to_f64(0x7c00), f64::INFINITY);
        assert_eq!(f16_to_f64(0xfc00), f64::NEG_INFINITY);
        assert!(f16_to_f64(0x7c01).is_nan());
        assert!(f16_to_f64(0x7e00).is_nan());
        assert_eq!(f16_to_f64(0x0050), 4.76837158203125e-06);
        assert_eq!(f16_to_f64(0x3e00), 1.5);
        let m = scalars();
        // {"doubleValue": f16 1.5, "floatValue": NaN (f32)}
        let body = [
            0xa2, 0x6b, b'd', b'o', b'u', b'b', b'l', b'e', b'V', b'a', b'l', b'u', b'e', 0xf9,
            0x3e, 0x00, 0x6a, b'f', b'l', b'o', b'a', b't', b'V', b'a', b'l', b'u', b'e', 0xfa,
            0x7f, 0xc0, 0x00, 0x00,
        ];
        let v = parse(&m, &body).unwrap();
        assert_eq!(v.get("doubleValue"), Some(&Value::Float(1.5)));
        assert!(matches!(v.get("floatValue"), Some(Value::Float(f)) if f.is_nan()));
    }

    #[test]
    fn nulls_indefinite_and_sparse() {
        let m = scalars();
        // {_ "stringValue": null, "list": [_ (_ "a" "b"), null], "sparse": [null, "x"]}
        let mut body = vec![0xbf, 0x6b];
        body.extend_from_slice(b"stringValue");
        body.push(0xf6);
        body.push(0x64);
        body.extend_from_slice(b"list");
        body.extend_from_slice(&[0x9f, 0x7f, 0x61, b'a', 0x61, b'b', 0xff, 0xf6, 0xff]);
        body.push(0x66);
        body.extend_from_slice(b"sparse");
        body.extend_from_slice(&[0x82, 0xf6, 0x61, b'x', 0xff]);
        let v = parse(&m, &body).unwrap();
        assert_eq!(v.get("stringValue"), None);
        assert_eq!(v.get("list"), Some(&Value::List(vec!["ab".into()])));
        assert_eq!(
            v.get("sparse"),
            Some(&Value::List(vec![Value::Null, "x".into()]))
        );
    }

    #[test]
    fn malformed_input_is_a_serialization_error() {
        let m = scalars();
        for body in [
            &[0xbf][..],                                             // unterminated map
            &[0xa1, 0x61],                                           // truncated key
            &[0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // huge array
            &[0xa0, 0x00],                                           // trailing data
            &[0xff],                                                 // lone break
            &[0xa1, 0x63, b'a', b'b'],                               // truncated
            &[0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // huge bytes
            &[
                0xa1, 0x6b, b'i', b'n', b't', b'e', b'g', b'e', b'r', b'V', b'a', b'l', b'u', b'e',
                0x61, b'x',
            ],
        ] {
            let err = parse(&m, body).unwrap_err();
            assert_eq!(err.code, "SerializationException", "{body:?}");
            assert_eq!(err.status, 400);
        }
        // Deep nesting.
        let deep = vec![0x81; 10_000];
        assert_eq!(
            decode_item(&deep).unwrap_err().code,
            "SerializationException"
        );
    }

    #[test]
    fn deep_recursive_shapes_fit_a_small_stack() {
        let m = model(
            serde_json::json!({
                "R": {"type": "structure", "members": {"r": {"shape": "R"}, "l": {"shape": "RL"}}},
                "RL": {"type": "list", "member": {"shape": "R"}}
            }),
            serde_json::json!({}),
        );
        // {"r": {"r": ... }} nested as deep as allowed, then the same through lists.
        let mut body = Vec::new();
        for _ in 0..MAX_DEPTH - 1 {
            body.extend_from_slice(&[0xa1, 0x61, b'r']);
        }
        body.push(0xa0);
        let mut lists = Vec::new();
        for _ in 0..(MAX_DEPTH - 1) / 2 {
            lists.extend_from_slice(&[0xa1, 0x61, b'l', 0x81]);
        }
        lists.push(0xa0);
        std::thread::Builder::new()
            .stack_size(1024 * 1024)
            .spawn(move || {
                for b in [body, lists] {
                    let item = decode_item(&b).unwrap();
                    let v = item_to_value(&m, "R", &item).unwrap().unwrap();
                    let out = encode_value(&m, "R", &v);
                    assert_eq!(out, b);
                }
            })
            .unwrap()
            .join()
            .unwrap();
    }

    #[test]
    fn round_trips_output() {
        let m = scalars();
        let value = Value::map()
            .with("integerValue", 256)
            .with("floatValue", 7.625)
            .with("doubleValue", Value::String("-Infinity".into()))
            .with("ts", Timestamp(946845296.123))
            .with("list", vec![Value::from("a"), Value::Null])
            .with("sparse", vec![Value::Null, Value::from("b")])
            .with("big", "-123456789012345678901234567890")
            .with("dec", "-12.5e-3");
        let bytes = encode_value(&m, "S", &value);
        let item = decode_item(&bytes).unwrap();
        let back = item_to_value(&m, "S", &item).unwrap().unwrap();
        assert_eq!(back.int("integerValue"), Some(256));
        assert_eq!(back.get("floatValue"), Some(&Value::Float(7.625)));
        assert_eq!(
            back.get("doubleValue"),
            Some(&Value::Float(f64::NEG_INFINITY))
        );
        assert_eq!(
            back.get("ts"),
            Some(&Value::Timestamp(Timestamp(946845296.123)))
        );
        assert_eq!(back.get("list"), Some(&Value::List(vec!["a".into()])));
        assert_eq!(
            back.get("sparse"),
            Some(&Value::List(vec![Value::Null, "b".into()]))
        );
        assert_eq!(back.str("big"), Some("-123456789012345678901234567890"));
        assert_eq!(back.str("dec"), Some("-0.0125"));
    }

    #[test]
    fn resolves_paths() {
        let m = scalars();
        for p in [
            "/service/RpcV2Protocol/operation/SimpleScalarProperties",
            "/prefix/service/ns.RpcV2Protocol/operation/SimpleScalarProperties",
        ] {
            assert_eq!(
                CborCodec.resolve(&m, &request(p), None).unwrap().name,
                "SimpleScalarProperties"
            );
        }
        for p in [
            "/service/RpcV2Protocol/operation/Nope",
            "/service/RpcV2Protocol/operation/SimpleScalarProperties/x",
            "/",
        ] {
            let err = CborCodec.resolve(&m, &request(p), None).unwrap_err();
            assert_eq!(
                (err.status, err.code.as_ref()),
                (404, "UnknownOperationException")
            );
        }
    }

    #[test]
    fn empty_output_and_errors() {
        let m = scalars();
        let meta = ResponseMeta { request_id: "rid" };
        let op = m.operation("NoOutput").unwrap();
        let r = CborCodec.serialize(&m, op, Output::default(), meta);
        assert!(matches!(r.body, Body::Full(ref b) if b.is_empty()));
        assert!(r.headers.get("content-type").is_none());
        assert_eq!(r.headers["smithy-protocol"], "rpc-v2-cbor");

        let op = m.operation("SimpleScalarProperties").unwrap();
        let r = CborCodec.serialize(&m, op, Output::default(), meta);
        assert!(matches!(r.body, Body::Full(ref b) if b.as_ref() == [0xa0]));

        let err = AwsError::new(400, "Err", "nope");
        let r = CborCodec.serialize_error(&m, Some(op), &err, meta);
        assert_eq!(r.status, 404);
        let Body::Full(b) = r.body else { panic!() };
        let v = decode_document(&b).unwrap();
        assert_eq!(v.str("__type"), Some("Err"));
        assert_eq!(v.str("Message"), Some("nope"));
        assert!(r.headers.get("x-amzn-query-error").is_none());
    }

    #[test]
    fn event_stream_output_is_cbor_throughout() {
        use crate::eventstream::{collect_messages, fixtures};
        let model = fixtures::model("smithy-rpc-v2-cbor");
        let op = model.operation("Select").unwrap();
        let out = Output::with_events(Value::map().with("Note", "hello"), fixtures::events());
        let resp = CborCodec.serialize(&model, op, out, ResponseMeta { request_id: "rid" });
        assert_eq!(resp.status, 200);
        assert_eq!(resp.headers["content-type"], eventstream::CONTENT_TYPE);
        assert_eq!(resp.headers["smithy-protocol"], SMITHY_PROTOCOL);
        let msgs = collect_messages(resp.body);
        assert_eq!(
            fixtures::str_header(&msgs[0], ":event-type"),
            Some("initial-response")
        );
        assert_eq!(
            fixtures::str_header(&msgs[0], ":content-type"),
            Some(CONTENT_TYPE)
        );
        let doc = |b: &[u8]| decode_document(b).unwrap();
        assert_eq!(doc(&msgs[0].payload), Value::map().with("Note", "hello"));
        let payloads = fixtures::check_events(&msgs[1..], CONTENT_TYPE);
        assert_eq!(doc(&payloads[1]), Value::map().with("BytesScanned", 10));
        assert_eq!(doc(&payloads[2]), Value::map().with("Text", "hi"));
        assert_eq!(
            doc(&payloads[4]),
            Value::map()
                .with("Message", "it broke")
                .with("Reason", "disk")
        );
    }

    /// Found by the `cbor_decode` fuzz target: maps keyed by maps, nested a few dozen
    /// deep, took exponential time (each level re-escaped the debug text of the one
    /// inside). Non-text document keys are now a client error, at once.
    #[test]
    fn document_with_non_text_keys_is_rejected_quickly() {
        let depth = 40;
        let mut body = vec![0xa1; depth];
        body.push(0xa0);
        body.extend(std::iter::repeat_n(0x00, depth));
        let err = decode_document(&body).unwrap_err();
        assert_eq!(err.code, "SerializationException");
        assert_eq!(err.status, 400);
        // Text keys still decode.
        let v = decode_document(&[0xa1, 0x61, b'k', 0x01]).unwrap();
        assert_eq!(
            v,
            Value::Map([("k".to_string(), Value::Integer(1))].into_iter().collect())
        );
    }
}
