//! JSON read and written by shape in one pass, with no intermediate `serde_json::Value`.
//!
//! [`Seed`] deserializes a JSON document straight into a [`Value`] guided by the shape it
//! should have; [`Shaped`] and [`Members`] serialize a [`Value`] straight to JSON text.
//! They mean exactly what [`crate::json::read`] and [`crate::json::write`] mean (those
//! stay as the tree-based forms other code composes with); this module exists because
//! building and dropping a `serde_json::Value` per request doubled the cost of every
//! awsJson and restJson call.

use crate::rest::{document_from_json, format_float, timestamp_format};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use nephos_core::{Map, Timestamp, Value};
use nephos_model::{ServiceModel, Shape, ShapeRef, ShapeType, TimestampFormat};
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use std::fmt;

/// Reads the JSON value of the shape `r` points at. Nulls come back as [`Value::Null`];
/// the containers drop them where [`crate::json::read`] does.
pub struct Seed<'a> {
    pub model: &'a ServiceModel,
    pub r: &'a ShapeRef,
}

/// Reads the body members of a structure (members bound to HTTP locations are skipped).
pub struct StructSeed<'a> {
    pub model: &'a ServiceModel,
    pub shape: &'a Shape,
    /// For error messages.
    pub name: &'a str,
}

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        let shape = self.model.target(self.r);
        if shape.document {
            let j = serde_json::Value::deserialize(d)?;
            return Ok(document_from_json(j));
        }
        match shape.kind {
            ShapeType::Structure => d.deserialize_any(StructVisitor {
                seed: StructSeed {
                    model: self.model,
                    shape,
                    name: &self.r.shape,
                },
                nullable: true,
            }),
            _ => d.deserialize_any(ScalarVisitor {
                model: self.model,
                r: self.r,
                shape,
            }),
        }
    }
}

impl<'de> DeserializeSeed<'de> for StructSeed<'_> {
    type Value = Map;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Map, D::Error> {
        match d.deserialize_any(StructVisitor {
            seed: self,
            nullable: false,
        })? {
            Value::Map(m) => Ok(m),
            _ => Ok(Map::default()),
        }
    }
}

fn unexpected<E: de::Error>(what: fmt::Arguments<'_>, shape: &Shape, name: &str) -> E {
    E::custom(format_args!(
        "Unexpected value {what} for a {:?} ({name})",
        shape.kind
    ))
}

struct StructVisitor<'a> {
    seed: StructSeed<'a>,
    /// A null where a member structure should be reads as an absent member.
    nullable: bool,
}

impl<'de> Visitor<'de> for StructVisitor<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a JSON object ({})", self.seed.name)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let StructSeed { model, shape, .. } = self.seed;
        let mut out = Map::with_capacity_and_hasher(
            access.size_hint().unwrap_or(0).min(shape.members.len()),
            Default::default(),
        );
        while let Some(key) = access.next_key::<std::borrow::Cow<'de, str>>()? {
            let member = shape.members.iter().find(|(name, r)| {
                r.location.is_none() && r.location_name.as_deref().unwrap_or(name) == key
            });
            match member {
                Some((name, r)) => {
                    let v = access.next_value_seed(Seed { model, r })?;
                    if !v.is_null() || model.target(r).document {
                        out.insert(name.clone(), v);
                    } else {
                        // A later null for a member cancels an earlier value, as a
                        // last-wins object would.
                        out.shift_remove(name.as_str());
                    }
                }
                None => {
                    access.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Value::Map(out))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Err(self.wrong(format_args!("{v}")))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Err(self.wrong(format_args!("{v}")))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Err(self.wrong(format_args!("{v}")))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Err(self.wrong(format_args!("{v}")))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Err(self.wrong(format_args!("{v:?}")))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Value, A::Error> {
        Err(self.wrong(format_args!("(an array)")))
    }
}

impl StructVisitor<'_> {
    fn wrong<E: de::Error>(&self, what: fmt::Arguments<'_>) -> E {
        if self.nullable {
            unexpected(what, self.seed.shape, self.seed.name)
        } else {
            E::custom("Request body must be a JSON object")
        }
    }
}

/// Lists, maps and scalars.
struct ScalarVisitor<'a> {
    model: &'a ServiceModel,
    r: &'a ShapeRef,
    shape: &'a Shape,
}

impl ScalarVisitor<'_> {
    fn wrong<E: de::Error>(&self, what: fmt::Arguments<'_>) -> E {
        unexpected(what, self.shape, &self.r.shape)
    }

    fn integer<E: de::Error>(&self, f: f64) -> Result<Value, E> {
        if f.fract() == 0.0 && f.abs() < 9.2e18 {
            Ok(Value::Integer(f as i64))
        } else {
            Err(self.wrong(format_args!("{f}")))
        }
    }
}

impl<'de> Visitor<'de> for ScalarVisitor<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a {:?} ({})", self.shape.kind, self.r.shape)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        match self.shape.kind {
            ShapeType::Boolean => Ok(Value::Bool(v)),
            _ => Err(self.wrong(format_args!("{v}"))),
        }
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        match self.shape.kind {
            ShapeType::Integer | ShapeType::Long | ShapeType::Short | ShapeType::Byte => {
                Ok(Value::Integer(v))
            }
            ShapeType::Float | ShapeType::Double => Ok(Value::Float(v as f64)),
            ShapeType::Timestamp => Ok(Value::Timestamp(Timestamp(v as f64))),
            ShapeType::BigInteger | ShapeType::BigDecimal => Ok(Value::String(v.to_string())),
            _ => Err(self.wrong(format_args!("{v}"))),
        }
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        match i64::try_from(v) {
            Ok(i) => self.visit_i64(i),
            Err(_) => match self.shape.kind {
                ShapeType::Integer | ShapeType::Long | ShapeType::Short | ShapeType::Byte => {
                    self.integer(v as f64)
                }
                ShapeType::BigInteger | ShapeType::BigDecimal => Ok(Value::String(v.to_string())),
                _ => self.visit_f64(v as f64),
            },
        }
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        match self.shape.kind {
            ShapeType::Integer | ShapeType::Long | ShapeType::Short | ShapeType::Byte => {
                self.integer(v)
            }
            ShapeType::Float | ShapeType::Double => Ok(Value::Float(v)),
            ShapeType::Timestamp => Ok(Value::Timestamp(Timestamp(v))),
            ShapeType::BigInteger | ShapeType::BigDecimal => Ok(Value::String(
                serde_json::Number::from_f64(v).map_or_else(|| v.to_string(), |n| n.to_string()),
            )),
            _ => Err(self.wrong(format_args!("{v}"))),
        }
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Value, E> {
        match self.shape.kind {
            ShapeType::String | ShapeType::Character => Ok(Value::String(s.to_owned())),
            ShapeType::Float | ShapeType::Double => match s {
                "NaN" => Ok(Value::Float(f64::NAN)),
                "Infinity" => Ok(Value::Float(f64::INFINITY)),
                "-Infinity" => Ok(Value::Float(f64::NEG_INFINITY)),
                _ => Err(self.wrong(format_args!("{s:?}"))),
            },
            ShapeType::Blob => B64
                .decode(s)
                .map(|b| Value::Blob(b.into()))
                .map_err(|_| self.wrong(format_args!("{s:?}"))),
            ShapeType::Timestamp => {
                let format = timestamp_format(self.model, self.r, TimestampFormat::UnixTimestamp);
                crate::timestamp::parse(s, format)
                    .or_else(|| crate::timestamp::parse_any(s))
                    .map(Value::Timestamp)
                    .ok_or_else(|| self.wrong(format_args!("{s:?}")))
            }
            ShapeType::BigInteger | ShapeType::BigDecimal => Ok(Value::String(s.to_owned())),
            _ => Err(self.wrong(format_args!("{s:?}"))),
        }
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<Value, E> {
        match self.shape.kind {
            ShapeType::String | ShapeType::Character => Ok(Value::String(s)),
            _ => self.visit_str(&s),
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let member = match (self.shape.kind, &self.shape.member) {
            (ShapeType::List, Some(m)) => m,
            _ => return Err(self.wrong(format_args!("(an array)"))),
        };
        let mut out = Vec::with_capacity(access.size_hint().unwrap_or(0));
        while let Some(v) = access.next_element_seed(Seed {
            model: self.model,
            r: member,
        })? {
            if !v.is_null() || self.shape.sparse {
                out.push(v);
            }
        }
        Ok(Value::List(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let value_ref = match (self.shape.kind, &self.shape.value) {
            (ShapeType::Map, Some(v)) => v,
            _ => return Err(self.wrong(format_args!("(an object)"))),
        };
        let mut out = Map::default();
        while let Some(k) = access.next_key::<String>()? {
            let v = access.next_value_seed(Seed {
                model: self.model,
                r: value_ref,
            })?;
            if !v.is_null() || self.shape.sparse {
                out.insert(k, v);
            } else {
                out.shift_remove(&k);
            }
        }
        Ok(Value::Map(out))
    }
}

/// Parses a whole JSON request body into the members of `shape`.
pub fn parse_struct(model: &ServiceModel, shape: &Shape, body: &[u8]) -> serde_json::Result<Map> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let m = StructSeed {
        model,
        shape,
        name: "",
    }
    .deserialize(&mut de)?;
    de.end()?;
    Ok(m)
}

/// A value of the shape `r` points at, serialized as [`crate::json::write`] would write it.
pub struct Shaped<'a> {
    pub model: &'a ServiceModel,
    pub r: &'a ShapeRef,
    pub v: &'a Value,
}

/// A structure's body members (those without an HTTP location).
pub struct Members<'a> {
    pub model: &'a ServiceModel,
    pub shape: &'a Shape,
    pub m: &'a Map,
}

/// A value written as a JSON document ([`crate::rest::document_to_json`]'s mapping).
struct Document<'a>(&'a Value);

impl Serialize for Members<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        // Walks the value's members rather than the model's: a union such as DynamoDB's
        // AttributeValue has one of ten. (Key order means nothing to JSON readers.)
        for (name, v) in self.m {
            let Some(r) = self.shape.members.get(name.as_str()) else {
                continue;
            };
            if r.location.is_some() {
                continue;
            }
            if v.is_null() && !self.model.target(r).document {
                continue;
            }
            let wire = r.location_name.as_deref().unwrap_or(name);
            map.serialize_entry(
                wire,
                &Shaped {
                    model: self.model,
                    r,
                    v,
                },
            )?;
        }
        map.end()
    }
}

impl Serialize for Shaped<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let model = self.model;
        let shape = model.target(self.r);
        if shape.document {
            return Document(self.v).serialize(s);
        }
        match (shape.kind, self.v) {
            (ShapeType::Structure, Value::Map(m)) => Members { model, shape, m }.serialize(s),
            (ShapeType::List, Value::List(items)) => match &shape.member {
                Some(r) => {
                    let mut seq = s.serialize_seq(Some(items.len()))?;
                    for v in items {
                        seq.serialize_element(&Shaped { model, r, v })?;
                    }
                    seq.end()
                }
                None => s.serialize_seq(Some(0))?.end(),
            },
            (ShapeType::Map, Value::Map(m)) => {
                let mut map = s.serialize_map(None)?;
                if let Some(r) = &shape.value {
                    for (k, v) in m {
                        if shape.sparse || !v.is_null() {
                            map.serialize_entry(k, &Shaped { model, r, v })?;
                        }
                    }
                }
                map.end()
            }
            (_, Value::Timestamp(t)) => {
                match timestamp_format(model, self.r, TimestampFormat::UnixTimestamp) {
                    TimestampFormat::UnixTimestamp => {
                        let ms = t.as_millis();
                        if ms % 1000 == 0 {
                            s.serialize_i64(ms / 1000)
                        } else {
                            s.serialize_f64(ms as f64 / 1000.0)
                        }
                    }
                    f => s.serialize_str(&crate::timestamp::format(*t, f)),
                }
            }
            (_, Value::Float(f)) if !f.is_finite() => s.serialize_str(&format_float(*f)),
            (ShapeType::BigInteger | ShapeType::BigDecimal, Value::String(text)) => {
                match serde_json::from_str::<serde_json::Number>(text) {
                    Ok(n) => n.serialize(s),
                    Err(_) => s.serialize_str(text),
                }
            }
            (ShapeType::Float | ShapeType::Double, Value::Integer(i)) => s.serialize_f64(*i as f64),
            (_, other) => Document(other).serialize(s),
        }
    }
}

impl Serialize for Document<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Integer(i) => s.serialize_i64(*i),
            Value::Float(f) if f.is_finite() => s.serialize_f64(*f),
            Value::Float(f) => s.serialize_str(&format_float(*f)),
            Value::String(text) => s.serialize_str(text),
            Value::Blob(b) => s.serialize_str(&B64.encode(b)),
            Value::Timestamp(t) if t.0.is_finite() => s.serialize_f64(t.0),
            Value::Timestamp(_) => s.serialize_unit(),
            Value::Json(raw) => raw.0.serialize(s),
            Value::List(l) => {
                let mut seq = s.serialize_seq(Some(l.len()))?;
                for v in l {
                    seq.serialize_element(&Document(v))?;
                }
                seq.end()
            }
            Value::Map(m) => {
                let mut map = s.serialize_map(Some(m.len()))?;
                for (k, v) in m {
                    map.serialize_entry(k, &Document(v))?;
                }
                map.end()
            }
        }
    }
}

/// The body members of `m` as JSON text.
pub fn struct_to_vec(model: &ServiceModel, shape: &Shape, m: &Map) -> Vec<u8> {
    // Most answers fit; growing from serde_json's 128 bytes costs copies.
    let mut out = Vec::with_capacity(1024);
    match serde_json::to_writer(&mut out, &Members { model, shape, m }) {
        Ok(()) => out,
        Err(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> ServiceModel {
        ServiceModel::from_value(serde_json::json!({
            "metadata": {"protocol": "json", "jsonVersion": "1.0"},
            "operations": {},
            "shapes": {
                "In": {"type": "structure", "members": {
                    "Name": {"shape": "S", "locationName": "name"},
                    "Count": {"shape": "I"},
                    "Ratio": {"shape": "D"},
                    "When": {"shape": "T"},
                    "Data": {"shape": "B"},
                    "Tags": {"shape": "L"},
                    "Attrs": {"shape": "M"},
                    "Doc": {"shape": "Doc"},
                    "Inner": {"shape": "In"},
                    "Header": {"shape": "S", "location": "header", "locationName": "x-h"}
                }},
                "S": {"type": "string"},
                "I": {"type": "integer"},
                "D": {"type": "double"},
                "T": {"type": "timestamp"},
                "B": {"type": "blob"},
                "L": {"type": "list", "member": {"shape": "S"}},
                "M": {"type": "map", "key": {"shape": "S"}, "value": {"shape": "I"}},
                "Doc": {"type": "structure", "members": {}, "document": true}
            }
        }))
        .unwrap()
    }

    const DOC: &str = r#"{"name":"n","Count":3.0,"Ratio":"NaN","When":1700000000.5,
        "Data":"aGk=","Tags":["a",null,"b"],"Attrs":{"x":1,"y":null},"Doc":{"k":[1,"v"]},
        "Inner":{"Count":-2,"Inner":null},"x-h":"ignored","Unknown":{"deep":[1,2]},
        "Header":"not a body member"}"#;

    #[test]
    fn reads_exactly_as_the_tree_reader() {
        let model = model();
        let shape = model.shape("In");
        let direct = parse_struct(&model, shape, DOC.as_bytes()).unwrap();
        let tree: serde_json::Value = serde_json::from_str(DOC).unwrap();
        let via_tree = crate::json::read_struct(&model, shape, tree.as_object().unwrap()).unwrap();
        // Debug output, because NaN is not equal to itself.
        assert_eq!(format!("{direct:?}"), format!("{via_tree:?}"));
        assert_eq!(direct.get("Count"), Some(&Value::Integer(3)));
        assert_eq!(direct.get("Tags").unwrap().as_list().unwrap().len(), 2);
    }

    #[test]
    fn writes_exactly_as_the_tree_writer() {
        let model = model();
        let shape = model.shape("In");
        let m = parse_struct(&model, shape, DOC.as_bytes()).unwrap();
        let direct: serde_json::Value =
            serde_json::from_slice(&struct_to_vec(&model, shape, &m)).unwrap();
        let tree = serde_json::Value::Object(crate::json::write_struct(&model, shape, &m));
        assert_eq!(direct, tree);
    }

    #[test]
    fn wrong_types_and_bad_documents_are_errors() {
        let model = model();
        let shape = model.shape("In");
        for bad in [
            r#"{"Count":"3"}"#,
            r#"{"Count":1.5}"#,
            r#"{"Tags":"a"}"#,
            r#"{"Data":"!!"}"#,
            r#"{"Inner":[1]}"#,
            r#"[1]"#,
            r#"{"name":"a"} x"#,
            r#"{"name":"#,
        ] {
            assert!(
                parse_struct(&model, shape, bad.as_bytes()).is_err(),
                "{bad}"
            );
        }
        assert!(parse_struct(&model, shape, b"null").unwrap().is_empty());
    }
}
