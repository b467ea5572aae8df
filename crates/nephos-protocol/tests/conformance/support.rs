//! What the input harness (`tests/conformance.rs`) and the output case serializer
//! (`examples/serialize_cases.rs`) share: reading the suites, naming cases, building a
//! suite's model, and turning a case's JSON `params`/`result` into a [`Value`] by shape.

#![allow(dead_code)]

use base64::Engine;
use nephos_core::{Map, Timestamp, Value};
use nephos_model::{ServiceModel, ShapeRef, ShapeType};
use std::collections::HashSet;
use std::path::PathBuf;

/// The protocol test suites: `$NEPHOS_PROTOCOL_TESTS`, else `shared/aws-protocol-tests`
/// beside the repository (or beside any ancestor, for worktrees nested deeper).
pub fn suites_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("NEPHOS_PROTOCOL_TESTS") {
        return PathBuf::from(dir);
    }
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let default = crate_dir.join("../../../shared/aws-protocol-tests");
    crate_dir
        .ancestors()
        .skip(3)
        .map(|a| a.join("shared/aws-protocol-tests"))
        .find(|p| p.is_dir())
        .unwrap_or(default)
}

/// One case of a suite file, with its stable id.
pub struct Case {
    pub id: String,
    pub suite: usize,
    pub index: usize,
    pub metadata: serde_json::Value,
    pub shapes: serde_json::Value,
    pub case: serde_json::Value,
}

fn slug(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// Reads a suite file into its cases. Cases without an `id` (the legacy suites) are named
/// `<suite description>-<case index>`, with `-<suite index>` added when that repeats; the
/// Python output harness names them the same way.
pub fn load(path: &std::path::Path) -> Result<Vec<Case>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let suites: Vec<serde_json::Value> =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (si, suite) in suites.iter().enumerate() {
        let cases = suite["cases"].as_array().cloned().unwrap_or_default();
        for (ci, case) in cases.into_iter().enumerate() {
            let mut id = match case["id"].as_str() {
                Some(id) => id.to_owned(),
                None => format!(
                    "{}-{ci}",
                    slug(suite["description"].as_str().unwrap_or("case"))
                ),
            };
            if !seen.insert(id.clone()) {
                id = format!("{id}-{si}");
                seen.insert(id.clone());
            }
            out.push(Case {
                id,
                suite: si,
                index: ci,
                metadata: suite["metadata"].clone(),
                shapes: suite["shapes"].clone(),
                case,
            });
        }
    }
    Ok(out)
}

impl Case {
    pub fn op_name(&self) -> String {
        self.case["given"]["name"]
            .as_str()
            .unwrap_or("OperationName")
            .to_owned()
    }

    /// The suite's model with the case's `given` as its one operation.
    pub fn model(&self) -> Result<ServiceModel, String> {
        let mut given = self.case["given"].clone();
        if given.get("name").is_none() {
            given["name"] = "OperationName".into();
        }
        let mut ops = serde_json::Map::new();
        ops.insert(self.op_name(), given);
        ServiceModel::from_value(serde_json::json!({
            "metadata": self.metadata,
            "shapes": self.shapes,
            "operations": ops,
        }))
    }
}

/// Converts case JSON into the [`Value`] of the shape `r` points at: blobs are given as
/// text, timestamps as epoch seconds, non-finite floats as `"NaN"`/`"Infinity"`.
pub fn to_value(model: &ServiceModel, r: &ShapeRef, j: &serde_json::Value) -> Value {
    let shape = model.target(r);
    if j.is_null() {
        return Value::Null;
    }
    if shape.document || (r.json_value && !j.is_string()) {
        return natural(j);
    }
    match shape.kind {
        ShapeType::Structure => {
            let mut m = Map::default();
            if let Some(o) = j.as_object() {
                for (k, v) in o {
                    if v.is_null() {
                        continue;
                    }
                    if let Some(mr) = shape.members.get(k) {
                        m.insert(k.clone(), to_value(model, mr, v));
                    }
                }
            }
            Value::Map(m)
        }
        ShapeType::List => {
            let Some(mr) = &shape.member else {
                return Value::Null;
            };
            Value::List(
                j.as_array()
                    .map(|a| a.iter().map(|v| to_value(model, mr, v)).collect())
                    .unwrap_or_default(),
            )
        }
        ShapeType::Map => {
            let Some(vr) = &shape.value else {
                return Value::Null;
            };
            Value::Map(
                j.as_object()
                    .map(|o| {
                        o.iter()
                            .filter(|(_, v)| shape.sparse || !v.is_null())
                            .map(|(k, v)| (k.clone(), to_value(model, vr, v)))
                            .collect()
                    })
                    .unwrap_or_default(),
            )
        }
        ShapeType::String | ShapeType::Character => match j {
            serde_json::Value::String(s) => Value::String(s.clone()),
            other => Value::String(other.to_string()),
        },
        ShapeType::BigInteger | ShapeType::BigDecimal => match j {
            serde_json::Value::String(s) => Value::String(s.clone()),
            other => Value::String(other.to_string()),
        },
        ShapeType::Integer | ShapeType::Long | ShapeType::Short | ShapeType::Byte => {
            match j.as_i64() {
                Some(i) => Value::Integer(i),
                None => Value::Integer(j.as_f64().unwrap_or(0.0) as i64),
            }
        }
        ShapeType::Float | ShapeType::Double => match j {
            serde_json::Value::String(s) => Value::Float(match s.as_str() {
                "NaN" => f64::NAN,
                "Infinity" => f64::INFINITY,
                "-Infinity" => f64::NEG_INFINITY,
                other => other.parse().unwrap_or(f64::NAN),
            }),
            other => Value::Float(other.as_f64().unwrap_or(f64::NAN)),
        },
        ShapeType::Boolean => Value::Bool(j.as_bool().unwrap_or(false)),
        ShapeType::Blob => match j {
            serde_json::Value::String(s) => Value::Blob(bytes::Bytes::from(s.clone().into_bytes())),
            other => Value::Blob(bytes::Bytes::from(other.to_string().into_bytes())),
        },
        ShapeType::Timestamp => match j {
            serde_json::Value::String(s) => nephos_protocol::timestamp::parse_any(s)
                .map(Value::Timestamp)
                .unwrap_or_else(|| Value::String(s.clone())),
            other => Value::Timestamp(Timestamp(other.as_f64().unwrap_or(0.0))),
        },
    }
}

/// The natural mapping of a JSON value (documents).
pub fn natural(j: &serde_json::Value) -> Value {
    nephos_protocol::rest::document_from_json(j.clone())
}

/// Case JSON for a whole structure (`params`, `result`); `None` shape means no members.
pub fn structure_value(model: &ServiceModel, shape: Option<&str>, j: &serde_json::Value) -> Value {
    match shape {
        Some(s) => to_value(
            model,
            &ShapeRef {
                shape: s.to_owned(),
                ..Default::default()
            },
            j,
        ),
        None => Value::map(),
    }
}

/// A compact rendering of a value for failure messages.
pub fn show(v: &Value) -> String {
    match v {
        Value::Blob(b) => format!(
            "b64:{}",
            base64::engine::general_purpose::STANDARD.encode(b)
        ),
        Value::Timestamp(t) => format!("ts:{}", t.0),
        Value::List(l) => format!("[{}]", l.iter().map(show).collect::<Vec<_>>().join(", ")),
        Value::Map(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("{k}: {}", show(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => format!("{other:?}"),
    }
}
