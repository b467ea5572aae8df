//! Attribute values: the typed form of DynamoDB's `AttributeValue`, its validation, its
//! size as AWS bills it, and a compact binary encoding for storage.

use crate::number::Decimal;
use nephos_core::{AwsError, Value};
use std::collections::BTreeMap;

pub type Item = BTreeMap<String, Attr>;

#[derive(Debug, Clone)]
pub enum Attr {
    S(String),
    N(Decimal),
    B(Vec<u8>),
    SS(Vec<String>),
    NS(Vec<Decimal>),
    BS(Vec<Vec<u8>>),
    M(BTreeMap<String, Attr>),
    L(Vec<Attr>),
    Null,
    Bool(bool),
}

fn same_set<T: PartialEq>(a: &[T], b: &[T]) -> bool {
    a.len() == b.len() && a.iter().all(|x| b.contains(x))
}

impl PartialEq for Attr {
    fn eq(&self, other: &Attr) -> bool {
        use Attr::*;
        match (self, other) {
            (S(a), S(b)) => a == b,
            (N(a), N(b)) => a == b,
            (B(a), B(b)) => a == b,
            (SS(a), SS(b)) => same_set(a, b),
            (NS(a), NS(b)) => same_set(a, b),
            (BS(a), BS(b)) => same_set(a, b),
            (M(a), M(b)) => a == b,
            (L(a), L(b)) => a == b,
            (Null, Null) => true,
            (Bool(a), Bool(b)) => a == b,
            _ => false,
        }
    }
}

pub fn validation(msg: impl Into<String>) -> AwsError {
    AwsError::validation(msg)
}

pub fn invalid_param(msg: impl std::fmt::Display) -> AwsError {
    AwsError::validation(format!("One or more parameter values were invalid: {msg}"))
}

impl Attr {
    pub fn type_name(&self) -> &'static str {
        match self {
            Attr::S(_) => "S",
            Attr::N(_) => "N",
            Attr::B(_) => "B",
            Attr::SS(_) => "SS",
            Attr::NS(_) => "NS",
            Attr::BS(_) => "BS",
            Attr::M(_) => "M",
            Attr::L(_) => "L",
            Attr::Null => "NULL",
            Attr::Bool(_) => "BOOL",
        }
    }

    /// Parses a wire `AttributeValue` (`{"S": "x"}`), validating as DynamoDB does.
    pub fn from_value(v: &Value) -> Result<Attr, AwsError> {
        let Some(m) = v.as_map() else {
            return Err(validation(
                "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes",
            ));
        };
        let mut set = m.iter().filter(|(_, v)| !v.is_null());
        let Some((ty, inner)) = set.next() else {
            return Err(validation(
                "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes",
            ));
        };
        if set.next().is_some() {
            return Err(validation(
                "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes",
            ));
        }
        let num = |v: &Value| -> Result<Decimal, AwsError> {
            let s = match v {
                Value::String(s) => s.as_str(),
                _ => "",
            };
            Decimal::parse(s).map_err(validation)
        };
        let bytes = |v: &Value| -> Vec<u8> {
            match v {
                Value::Blob(b) => b.to_vec(),
                Value::String(s) => s.as_bytes().to_vec(),
                _ => Vec::new(),
            }
        };
        let list =
            |v: &Value| -> Vec<Value> { v.as_list().map(<[Value]>::to_vec).unwrap_or_default() };
        Ok(match ty.as_str() {
            "S" => Attr::S(inner.as_str().unwrap_or_default().to_owned()),
            "N" => Attr::N(num(inner)?),
            "B" => Attr::B(bytes(inner)),
            "BOOL" => Attr::Bool(matches!(inner, Value::Bool(true))),
            "NULL" => {
                if !matches!(inner, Value::Bool(true)) {
                    return Err(invalid_param(
                        "Null attribute value types must have the value of true",
                    ));
                }
                Attr::Null
            }
            "SS" => {
                let items: Vec<String> = list(inner)
                    .iter()
                    .map(|v| v.as_str().unwrap_or_default().to_owned())
                    .collect();
                check_set(&items, "string", |s| s.clone())?;
                Attr::SS(items)
            }
            "NS" => {
                let items = list(inner).iter().map(num).collect::<Result<Vec<_>, _>>()?;
                check_set(&items, "number", |d| d.to_string())?;
                Attr::NS(items)
            }
            "BS" => {
                let items: Vec<Vec<u8>> = list(inner).iter().map(bytes).collect();
                check_set(&items, "binary", |b| nephos_core_b64(b))?;
                Attr::BS(items)
            }
            "L" => Attr::L(
                list(inner)
                    .iter()
                    .map(Attr::from_value)
                    .collect::<Result<_, _>>()?,
            ),
            "M" => {
                let mut out = BTreeMap::new();
                if let Some(m) = inner.as_map() {
                    for (k, v) in m {
                        out.insert(k.clone(), Attr::from_value(v)?);
                    }
                }
                Attr::M(out)
            }
            _ => {
                return Err(validation(
                    "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes",
                ));
            }
        })
    }

    pub fn to_value(&self) -> Value {
        let inner: Value = match self {
            Attr::S(s) => Value::String(s.clone()),
            Attr::N(n) => Value::String(n.to_string()),
            Attr::B(b) => Value::Blob(b.clone().into()),
            Attr::SS(v) => Value::List(v.iter().map(|s| Value::String(s.clone())).collect()),
            Attr::NS(v) => Value::List(v.iter().map(|n| Value::String(n.to_string())).collect()),
            Attr::BS(v) => Value::List(v.iter().map(|b| Value::Blob(b.clone().into())).collect()),
            Attr::M(m) => {
                let mut out = Value::map();
                for (k, v) in m {
                    out.insert(k, v.to_value());
                }
                out
            }
            Attr::L(l) => Value::List(l.iter().map(Attr::to_value).collect()),
            Attr::Null => Value::Bool(true),
            Attr::Bool(b) => Value::Bool(*b),
        };
        Value::map().with(self.type_name(), inner)
    }

    /// Bytes this value counts for in the item size (names are added by the caller).
    pub fn size(&self) -> usize {
        match self {
            Attr::S(s) => s.len(),
            Attr::N(n) => number_size(n),
            Attr::B(b) => b.len(),
            Attr::SS(v) => v.iter().map(String::len).sum(),
            Attr::NS(v) => v.iter().map(number_size).sum(),
            Attr::BS(v) => v.iter().map(Vec::len).sum(),
            Attr::M(m) => 3 + m.iter().map(|(k, v)| 1 + k.len() + v.size()).sum::<usize>(),
            Attr::L(l) => 3 + l.iter().map(|v| 1 + v.size()).sum::<usize>(),
            Attr::Null | Attr::Bool(_) => 1,
        }
    }
}

fn number_size(n: &Decimal) -> usize {
    (n.significant_digits() as usize).div_ceil(2) + 1
}

fn nephos_core_b64(b: &[u8]) -> String {
    // Only used in error messages; a hex rendering is close enough and dependency-free.
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn check_set<T: PartialEq>(
    items: &[T],
    kind: &str,
    show: impl Fn(&T) -> String,
) -> Result<(), AwsError> {
    if items.is_empty() {
        return Err(invalid_param(format!("An {kind} set  may not be empty")));
    }
    for (i, a) in items.iter().enumerate() {
        if items[..i].contains(a) {
            let all: Vec<String> = items.iter().map(&show).collect();
            return Err(invalid_param(format!(
                "Input collection [{}] contains duplicates.",
                all.join(", ")
            )));
        }
    }
    Ok(())
}

/// The item size as AWS computes it: names plus values.
pub fn item_size(item: &Item) -> usize {
    item.iter().map(|(k, v)| k.len() + v.size()).sum()
}

pub const MAX_ITEM_SIZE: usize = 400 * 1024;

/// Parses an item (`{"name": AttributeValue}`).
pub fn item_from_value(v: Option<&Value>) -> Result<Item, AwsError> {
    let mut out = Item::new();
    if let Some(m) = v.and_then(Value::as_map) {
        for (k, v) in m {
            out.insert(k.clone(), Attr::from_value(v)?);
        }
    }
    Ok(out)
}

pub fn item_to_value(item: &Item) -> Value {
    let mut out = Value::map();
    for (k, v) in item {
        out.insert(k, v.to_value());
    }
    out
}

// ---- compact encoding ----

fn put_len(out: &mut Vec<u8>, mut n: usize) {
    loop {
        let b = (n & 0x7F) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_len(out, b.len());
    out.extend_from_slice(b);
}

fn encode_attr(a: &Attr, out: &mut Vec<u8>) {
    match a {
        Attr::S(s) => {
            out.push(0);
            put_bytes(out, s.as_bytes());
        }
        Attr::N(n) => {
            out.push(11);
            n.encode_compact(out);
        }
        Attr::B(b) => {
            out.push(2);
            put_bytes(out, b);
        }
        Attr::SS(v) => {
            out.push(3);
            put_len(out, v.len());
            for s in v {
                put_bytes(out, s.as_bytes());
            }
        }
        Attr::NS(v) => {
            out.push(12);
            put_len(out, v.len());
            for n in v {
                n.encode_compact(out);
            }
        }
        Attr::BS(v) => {
            out.push(5);
            put_len(out, v.len());
            for b in v {
                put_bytes(out, b);
            }
        }
        Attr::M(m) => {
            out.push(6);
            encode_map(m, out);
        }
        Attr::L(l) => {
            out.push(7);
            put_len(out, l.len());
            for v in l {
                encode_attr(v, out);
            }
        }
        Attr::Null => out.push(8),
        Attr::Bool(true) => out.push(9),
        Attr::Bool(false) => out.push(10),
    }
}

fn encode_map(m: &BTreeMap<String, Attr>, out: &mut Vec<u8>) {
    put_len(out, m.len());
    for (k, v) in m {
        put_bytes(out, k.as_bytes());
        encode_attr(v, out);
    }
}

pub fn encode_item(item: &Item) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    encode_map(item, &mut out);
    out
}

struct Reader<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Option<u8> {
        let v = *self.b.get(self.i)?;
        self.i += 1;
        Some(v)
    }
    fn len(&mut self) -> Option<usize> {
        let mut n = 0usize;
        let mut shift = 0;
        loop {
            let b = self.byte()?;
            n |= usize::from(b & 0x7F) << shift;
            if b & 0x80 == 0 {
                return Some(n);
            }
            shift += 7;
            if shift > 56 {
                return None;
            }
        }
    }
    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = self.len()?;
        let s = self.b.get(self.i..self.i.checked_add(n)?)?;
        self.i += n;
        Some(s)
    }
    fn string(&mut self) -> Option<String> {
        String::from_utf8(self.bytes()?.to_vec()).ok()
    }
    fn number(&mut self) -> Option<Decimal> {
        Decimal::parse(std::str::from_utf8(self.bytes()?).ok()?).ok()
    }
    fn attr(&mut self) -> Option<Attr> {
        Some(match self.byte()? {
            0 => Attr::S(self.string()?),
            1 => Attr::N(self.number()?),
            2 => Attr::B(self.bytes()?.to_vec()),
            3 => {
                let n = self.len()?;
                Attr::SS((0..n).map(|_| self.string()).collect::<Option<_>>()?)
            }
            4 => {
                let n = self.len()?;
                Attr::NS((0..n).map(|_| self.number()).collect::<Option<_>>()?)
            }
            5 => {
                let n = self.len()?;
                Attr::BS(
                    (0..n)
                        .map(|_| self.bytes().map(<[u8]>::to_vec))
                        .collect::<Option<_>>()?,
                )
            }
            6 => Attr::M(self.map()?),
            7 => {
                let n = self.len()?;
                Attr::L((0..n).map(|_| self.attr()).collect::<Option<_>>()?)
            }
            8 => Attr::Null,
            9 => Attr::Bool(true),
            10 => Attr::Bool(false),
            11 => Attr::N(Decimal::decode_compact(self.b, &mut self.i)?),
            12 => {
                let n = self.len()?;
                Attr::NS(
                    (0..n)
                        .map(|_| Decimal::decode_compact(self.b, &mut self.i))
                        .collect::<Option<_>>()?,
                )
            }
            _ => return None,
        })
    }

    /// The next encoded value as wire JSON (`{"S":"text"}`), written straight from the
    /// stored bytes: what serializing [`item_to_value`]'s answer writes, without the
    /// value tree in between.
    fn json(&mut self, out: &mut String) -> Option<()> {
        let tag = self.byte()?;
        let name = match tag {
            0 => "S",
            1 | 11 => "N",
            2 => "B",
            3 => "SS",
            4 | 12 => "NS",
            5 => "BS",
            6 => "M",
            7 => "L",
            8 => "NULL",
            9 | 10 => "BOOL",
            _ => return None,
        };
        out.push_str("{\"");
        out.push_str(name);
        out.push_str("\":");
        match tag {
            0 => json_string(out, std::str::from_utf8(self.bytes()?).ok()?),
            1 => json_string(out, &self.number()?.to_string()),
            11 => json_string(
                out,
                &Decimal::decode_compact(self.b, &mut self.i)?.to_string(),
            ),
            2 => json_string(out, &crate::s3io::b64(self.bytes()?)),
            3 | 4 | 5 | 7 | 12 => {
                let n = self.len()?;
                out.push('[');
                for i in 0..n {
                    if i > 0 {
                        out.push(',');
                    }
                    match tag {
                        3 => json_string(out, std::str::from_utf8(self.bytes()?).ok()?),
                        4 => json_number(out, &self.number()?),
                        12 => json_number(out, &Decimal::decode_compact(self.b, &mut self.i)?),
                        5 => json_string(out, &crate::s3io::b64(self.bytes()?)),
                        _ => self.json(out)?,
                    }
                }
                out.push(']');
            }
            6 => self.map_json(out)?,
            8 | 9 => out.push_str("true"),
            _ => out.push_str("false"),
        }
        out.push('}');
        Some(())
    }

    fn map_json(&mut self, out: &mut String) -> Option<()> {
        let n = self.len()?;
        out.push('{');
        for i in 0..n {
            if i > 0 {
                out.push(',');
            }
            json_string(out, std::str::from_utf8(self.bytes()?).ok()?);
            out.push(':');
            self.json(out)?;
        }
        out.push('}');
        Some(())
    }

    fn number_size(&mut self) -> Option<usize> {
        let d = Decimal::compact_digits(self.b, &mut self.i)?;
        Some((d as usize).div_ceil(2) + 1)
    }

    /// [`Attr::size`] of the next encoded value, without decoding it.
    fn attr_size(&mut self) -> Option<usize> {
        Some(match self.byte()? {
            0 | 2 => self.bytes()?.len(),
            1 => number_size(&self.number()?),
            3 | 5 => {
                let n = self.len()?;
                let mut t = 0;
                for _ in 0..n {
                    t += self.bytes()?.len();
                }
                t
            }
            4 => {
                let n = self.len()?;
                let mut t = 0;
                for _ in 0..n {
                    t += number_size(&self.number()?);
                }
                t
            }
            6 => 3 + self.map_size(1)?,
            7 => {
                let n = self.len()?;
                let mut t = 3;
                for _ in 0..n {
                    t += 1 + self.attr_size()?;
                }
                t
            }
            8..=10 => 1,
            11 => self.number_size()?,
            12 => {
                let n = self.len()?;
                let mut t = 0;
                for _ in 0..n {
                    t += self.number_size()?;
                }
                t
            }
            _ => return None,
        })
    }

    /// Sizes of a map's entries, each with `extra` bytes (1 inside a nested map).
    fn map_size(&mut self, extra: usize) -> Option<usize> {
        let n = self.len()?;
        let mut t = 0;
        for _ in 0..n {
            t += extra + self.bytes()?.len() + self.attr_size()?;
        }
        Some(t)
    }
    fn map(&mut self) -> Option<BTreeMap<String, Attr>> {
        let n = self.len()?;
        let mut m = BTreeMap::new();
        for _ in 0..n {
            let k = self.string()?;
            let v = self.attr()?;
            m.insert(k, v);
        }
        Some(m)
    }
}

pub fn decode_item(b: &[u8]) -> Option<Item> {
    Reader { b, i: 0 }.map()
}

/// An encoded item as the wire's attribute map in JSON: [`item_to_value`] of the
/// decoded item, serialized, written without decoding or building a value.
pub fn encoded_item_to_json(b: &[u8]) -> Option<nephos_core::RawJson> {
    let mut out = String::with_capacity(b.len() * 2 + 16);
    Reader { b, i: 0 }.map_json(&mut out)?;
    nephos_core::RawJson::new(out)
}

/// Appends a number as DynamoDB's JSON writes it: a string.
fn json_number(out: &mut String, n: &Decimal) {
    out.push('"');
    n.push_to(out);
    out.push('"');
}

/// Appends `s` as a JSON string.
fn json_string(out: &mut String, s: &str) {
    out.push('"');
    let mut start = 0;
    // Every character JSON escapes is ASCII, so byte positions are character boundaries.
    for (i, &b) in s.as_bytes().iter().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            b if b < 0x20 => "",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        if escape.is_empty() {
            out.push_str(&format!("\\u{b:04x}"));
        } else {
            out.push_str(escape);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// [`item_size`] of an encoded item, computed from the bytes (restarts skip decoding).
pub fn encoded_item_size(b: &[u8]) -> Option<usize> {
    Reader { b, i: 0 }.map_size(0)
}

/// Scalar key bytes: S as UTF-8, B raw, N order-preserving.
pub fn key_bytes(a: &Attr, out: &mut Vec<u8>) {
    match a {
        Attr::S(s) => out.extend_from_slice(s.as_bytes()),
        Attr::B(b) => out.extend_from_slice(b),
        Attr::N(n) => n.sortable_bytes(out),
        _ => {}
    }
}

/// The ordered-map key of an item: a length-prefixed partition key (so one partition is a
/// contiguous range) followed by the sort key bytes, which sort as DynamoDB sorts them.
pub fn storage_key(pk: &Attr, sk: Option<&Attr>) -> Vec<u8> {
    let mut out = Vec::with_capacity(32);
    let mut p = Vec::new();
    key_bytes(pk, &mut p);
    out.extend_from_slice(&(p.len() as u32).to_be_bytes());
    out.extend_from_slice(&p);
    if let Some(sk) = sk {
        key_bytes(sk, &mut out);
    }
    out
}

/// The prefix that every storage key of partition `pk` starts with.
pub fn partition_prefix(pk: &Attr) -> Vec<u8> {
    storage_key(pk, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_round_trips() {
        let mut item = Item::new();
        item.insert("s".into(), Attr::S("héllo \"q\" \\ \n\t\u{1}".into()));
        item.insert("n".into(), Attr::N(Decimal::parse("-12.5").unwrap()));
        item.insert("b".into(), Attr::B(vec![0, 255]));
        item.insert("ss".into(), Attr::SS(vec!["a".into(), "b".into()]));
        item.insert("ns".into(), Attr::NS(vec![Decimal::from_i64(3)]));
        item.insert("bs".into(), Attr::BS(vec![vec![1], vec![2]]));
        item.insert("l".into(), Attr::L(vec![Attr::Null, Attr::Bool(false)]));
        let mut m = BTreeMap::new();
        m.insert("x".into(), Attr::Bool(true));
        item.insert("m".into(), Attr::M(m));
        let enc = encode_item(&item);
        assert_eq!(decode_item(&enc).unwrap(), item);
        assert_eq!(encoded_item_size(&enc), Some(item_size(&item)));
        assert!(decode_item(&enc[..enc.len() - 1]).is_none());
        // Reads answer from the bytes directly: the same wire value, truncation refused.
        let json: serde_json::Value =
            serde_json::from_str(encoded_item_to_json(&enc).unwrap().text()).unwrap();
        assert_eq!(json, wire_json(&item_to_value(&item)));
        assert!(encoded_item_to_json(&enc[..enc.len() - 1]).is_none());
    }

    /// A wire value as the JSON codec writes it (blobs in base64).
    fn wire_json(v: &Value) -> serde_json::Value {
        match v {
            Value::String(s) => s.clone().into(),
            Value::Bool(b) => (*b).into(),
            Value::Blob(b) => crate::s3io::b64(b).into(),
            Value::List(l) => l.iter().map(wire_json).collect(),
            Value::Map(m) => m.iter().map(|(k, v)| (k.clone(), wire_json(v))).collect(),
            other => panic!("not in an item: {other:?}"),
        }
    }

    #[test]
    fn sizes_follow_aws_rules() {
        let mut item = Item::new();
        item.insert("ab".into(), Attr::S("xyz".into()));
        item.insert("n".into(), Attr::N(Decimal::parse("12345").unwrap()));
        assert_eq!(item_size(&item), 2 + 3 + 1 + 4);
        assert_eq!(Attr::L(vec![]).size(), 3);
        assert_eq!(Attr::L(vec![Attr::Null]).size(), 5);
    }

    #[test]
    fn set_equality_ignores_order() {
        assert_eq!(
            Attr::SS(vec!["a".into(), "b".into()]),
            Attr::SS(vec!["b".into(), "a".into()])
        );
    }
}
