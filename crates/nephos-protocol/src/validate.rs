//! Model constraint validation of operation inputs, with AWS's `ValidationException`
//! messages.
//!
//! Checks required members, `enum` values, `min`/`max` (string length in Unicode scalar
//! values, blob length in bytes, list and map sizes, numeric ranges) and `pattern`, walking
//! nested structures, lists and maps. Failures read exactly like AWS's (Coral) messages:
//!
//! ```text
//! 2 validation errors detected: Value 'a b' at 'tableName' failed to satisfy constraint:
//! Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; Value null at 'keySchema'
//! failed to satisfy constraint: Member must not be null
//! ```
//!
//! Paths lower-case the first letter of each member name; list elements are
//! `list.N.member` (1-based); constraints of scalar list elements and map keys/values are
//! reported once for the whole collection (`Member must satisfy constraint: [...]`,
//! `Map keys must satisfy constraint: [...]`). At most ten errors are listed, as AWS does.
//! The walk allocates nothing unless something fails: it runs on every request.

// `AwsError` is the crate-wide error of the `Codec` trait; boxing it here alone would
// only add conversions.
#![allow(clippy::result_large_err)]

use nephos_core::{AwsError, Value};
use nephos_model::{Operation, ServiceModel, Shape, ShapeRef, ShapeType};
use regex::Regex;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{LazyLock, RwLock};

/// AWS lists at most this many violations in one message.
pub const MAX_ERRORS: usize = 10;

/// Checks an operation's parsed input against the model's constraints.
pub fn validate(model: &ServiceModel, op: &Operation, input: &Value) -> Result<(), AwsError> {
    let Some(input_ref) = &op.input else {
        return Ok(());
    };
    let Some(shape) = model.try_target(input_ref) else {
        return Ok(());
    };
    // S3 checks no enum with a ValidationException: it answers unknown values with its
    // own errors (InvalidLocationConstraint, InvalidStorageClass, ...), from the handler.
    let checks = if model.metadata.service_id.as_deref() == Some("S3") {
        &ALL_CHECKS[..ALL_CHECKS.len() - 1]
    } else {
        &ALL_CHECKS[..]
    };
    let mut v = Validator {
        model,
        checks,
        errors: Vec::new(),
    };
    v.structure(shape, input, &Path::Root);
    if v.errors.is_empty() {
        return Ok(());
    }
    // S3 answers a document missing a required element as not fitting its schema.
    if model.metadata.service_id.as_deref() == Some("S3")
        && v.errors
            .iter()
            .all(|e| e.ends_with("Member must not be null"))
    {
        return Err(AwsError::new(
            400,
            "MalformedXML",
            "The XML you provided was not well-formed or did not validate against our published schema",
        ));
    }
    let n = v.errors.len();
    Err(AwsError::validation(format!(
        "{n} validation error{} detected: {}",
        if n == 1 { "" } else { "s" },
        v.errors.join("; ")
    )))
}

/// Where a value sits in the input; rendered only when reporting.
#[derive(Clone, Copy)]
enum Path<'a> {
    Root,
    Member(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
    Key(&'a Path<'a>, &'a str),
}

impl Path<'_> {
    fn render(&self, out: &mut String) {
        let sep = |out: &mut String| {
            if !out.is_empty() {
                out.push('.');
            }
        };
        match self {
            Path::Root => {}
            Path::Member(parent, name) => {
                parent.render(out);
                sep(out);
                let mut chars = name.chars();
                if let Some(first) = chars.next() {
                    out.extend(first.to_lowercase());
                    out.push_str(chars.as_str());
                }
            }
            Path::Index(parent, i) => {
                parent.render(out);
                let _ = write!(out, ".{}.member", i + 1);
            }
            Path::Key(parent, key) => {
                parent.render(out);
                let _ = write!(out, ".{key}.member");
            }
        }
    }
}

struct Validator<'m> {
    model: &'m ServiceModel,
    /// The scalar constraints this service enforces, in AWS's order.
    checks: &'static [Violation],
    // Empty vectors do not allocate: a valid input costs nothing here.
    errors: Vec<String>,
}

/// A scalar constraint a value can break.
#[derive(Clone, Copy)]
enum Violation {
    Pattern,
    LengthMin,
    LengthMax,
    ValueMin,
    ValueMax,
    Enum,
}

impl<'m> Validator<'m> {
    fn full(&self) -> bool {
        self.errors.len() >= MAX_ERRORS
    }

    fn report(
        &mut self,
        value: Option<&Value>,
        sensitive: bool,
        path: &Path<'_>,
        constraint: &str,
    ) {
        if self.full() {
            return;
        }
        let mut msg = String::from("Value ");
        match value {
            None | Some(Value::Null) => msg.push_str("null "),
            Some(_) if sensitive => {}
            Some(v) => {
                msg.push('\'');
                java_string(v, &mut msg);
                msg.push_str("' ");
            }
        }
        msg.push_str("at '");
        let mut rendered = String::new();
        path.render(&mut rendered);
        msg.push_str(&rendered);
        msg.push_str("' failed to satisfy constraint: ");
        msg.push_str(constraint);
        self.errors.push(msg);
    }

    fn shape(&self, r: &ShapeRef) -> Option<&'m Shape> {
        self.model.try_target(r)
    }

    fn structure(&mut self, shape: &'m Shape, value: &Value, path: &Path<'_>) {
        let Value::Map(fields) = value else { return };
        // Only members that are present or required can break a constraint. Visiting just
        // those (in model order, which AWS's messages follow) spares a union such as
        // DynamoDB's AttributeValue a lookup per absent member.
        let mut visit: Vec<usize> = fields
            .keys()
            .filter_map(|k| shape.members.get_index_of(k.as_str()))
            .chain(
                shape
                    .required
                    .iter()
                    .filter(|k| !fields.contains_key(k.as_str()))
                    .filter_map(|k| shape.members.get_index_of(k.as_str())),
            )
            .collect();
        visit.sort_unstable();
        visit.dedup();
        for (name, r) in visit.into_iter().filter_map(|i| shape.members.get_index(i)) {
            if self.full() {
                return;
            }
            let Some(member_shape) = self.shape(r) else {
                continue;
            };
            // Streaming payloads travel outside the value; event streams are not input data.
            if r.streaming || member_shape.streaming || member_shape.eventstream {
                continue;
            }
            let here = Path::Member(path, name);
            match fields.get(name) {
                None | Some(Value::Null) => {
                    if shape.is_required(name) {
                        self.report(None, false, &here, "Member must not be null");
                    }
                }
                Some(v) => self.value(member_shape, v, &here),
            }
        }
    }

    fn value(&mut self, shape: &'m Shape, v: &Value, path: &Path<'_>) {
        if shape.document {
            return;
        }
        match shape.kind {
            ShapeType::Structure => self.structure(shape, v, path),
            ShapeType::List => {
                let Value::List(items) = v else { return };
                self.size(shape, v, items.len(), path);
                let Some(member) = shape.member.as_ref().and_then(|r| self.shape(r)) else {
                    return;
                };
                if is_container(member) {
                    for (i, item) in items.iter().enumerate() {
                        if self.full() {
                            return;
                        }
                        if !item.is_null() {
                            self.value(member, item, &Path::Index(path, i));
                        }
                    }
                } else if items
                    .iter()
                    .any(|i| first_violation(self.checks, member, i).is_some())
                {
                    let c = aggregate("Member must satisfy constraint: ", member);
                    self.report(Some(v), shape.sensitive || member.sensitive, path, &c);
                }
            }
            ShapeType::Map => {
                let Value::Map(entries) = v else { return };
                self.size(shape, v, entries.len(), path);
                let sensitive = shape.sensitive;
                if let Some(key) = shape.key.as_ref().and_then(|r| self.shape(r))
                    && entries
                        .keys()
                        .any(|k| first_violation_str(self.checks, key, k).is_some())
                {
                    let c = aggregate("Map keys must satisfy constraint: ", key);
                    self.report(Some(v), sensitive || key.sensitive, path, &c);
                }
                let Some(val) = shape.value.as_ref().and_then(|r| self.shape(r)) else {
                    return;
                };
                if is_container(val) {
                    for (k, item) in entries {
                        if self.full() {
                            return;
                        }
                        if !item.is_null() {
                            self.value(val, item, &Path::Key(path, k));
                        }
                    }
                } else if entries
                    .values()
                    .any(|i| first_violation(self.checks, val, i).is_some())
                {
                    let c = aggregate("Map value must satisfy constraint: ", val);
                    self.report(Some(v), sensitive || val.sensitive, path, &c);
                }
            }
            _ => {
                // Every broken constraint is its own error, as AWS lists them.
                for violation in violations(self.checks, shape, v) {
                    let c = describe(shape, violation);
                    self.report(Some(v), shape.sensitive, path, &c);
                }
            }
        }
    }

    fn size(&mut self, shape: &Shape, v: &Value, len: usize, path: &Path<'_>) {
        let len = len as f64;
        if let Some(min) = shape.min
            && len < min
        {
            let c = describe(shape, Violation::LengthMin);
            self.report(Some(v), shape.sensitive, path, &c);
        }
        if let Some(max) = shape.max
            && len > max
        {
            let c = describe(shape, Violation::LengthMax);
            self.report(Some(v), shape.sensitive, path, &c);
        }
    }
}

fn is_container(shape: &Shape) -> bool {
    matches!(
        shape.kind,
        ShapeType::Structure | ShapeType::List | ShapeType::Map
    )
}

/// Every scalar constraint, in AWS's order: pattern, length, range, enum (last, so a
/// service that leaves enums to its handlers takes all but the last).
const ALL_CHECKS: [Violation; 6] = [
    Violation::Pattern,
    Violation::LengthMin,
    Violation::LengthMax,
    Violation::ValueMin,
    Violation::ValueMax,
    Violation::Enum,
];

/// The `checks` a scalar value breaks. Yields nothing (and allocates nothing) for a
/// valid value.
fn violations<'a>(
    checks: &'a [Violation],
    shape: &'a Shape,
    v: &'a Value,
) -> impl Iterator<Item = Violation> + 'a {
    checks.iter().copied().filter(move |c| breaks(shape, v, *c))
}

fn first_violation(checks: &[Violation], shape: &Shape, v: &Value) -> Option<Violation> {
    violations(checks, shape, v).next()
}

fn first_violation_str(checks: &[Violation], shape: &Shape, s: &str) -> Option<Violation> {
    checks.iter().copied().find(|c| breaks_str(shape, s, *c))
}

fn breaks(shape: &Shape, v: &Value, c: Violation) -> bool {
    match v {
        Value::String(s) => breaks_str(shape, s, c),
        Value::Blob(b) => match c {
            Violation::LengthMin => shape.min.is_some_and(|m| (b.len() as f64) < m),
            Violation::LengthMax => shape.max.is_some_and(|m| (b.len() as f64) > m),
            _ => false,
        },
        Value::Integer(_) | Value::Float(_) => {
            let n = match v {
                Value::Integer(i) => *i as f64,
                Value::Float(f) => *f,
                _ => return false,
            };
            match c {
                Violation::ValueMin => shape.min.is_some_and(|m| n < m),
                Violation::ValueMax => shape.max.is_some_and(|m| n > m),
                _ => false,
            }
        }
        _ => false,
    }
}

fn breaks_str(shape: &Shape, s: &str, c: Violation) -> bool {
    if !matches!(shape.kind, ShapeType::String | ShapeType::Character) {
        return false;
    }
    match c {
        Violation::Pattern => shape
            .pattern
            .as_deref()
            .is_some_and(|p| matches_pattern(p, s) == Some(false)),
        // Smithy measures string length in Unicode scalar values.
        Violation::LengthMin => shape.min.is_some_and(|m| (s.chars().count() as f64) < m),
        Violation::LengthMax => shape.max.is_some_and(|m| (s.chars().count() as f64) > m),
        Violation::Enum => shape
            .enum_values
            .as_ref()
            .is_some_and(|vals| !vals.is_empty() && !vals.iter().any(|e| e == s)),
        Violation::ValueMin | Violation::ValueMax => false,
    }
}

fn number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e18 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

fn describe(shape: &Shape, c: Violation) -> String {
    match c {
        Violation::Pattern => format!(
            "Member must satisfy regular expression pattern: {}",
            shape.pattern.as_deref().unwrap_or("")
        ),
        Violation::LengthMin => format!(
            "Member must have length greater than or equal to {}",
            number(shape.min.unwrap_or(0.0))
        ),
        Violation::LengthMax => format!(
            "Member must have length less than or equal to {}",
            number(shape.max.unwrap_or(0.0))
        ),
        Violation::ValueMin => format!(
            "Member must have value greater than or equal to {}",
            number(shape.min.unwrap_or(0.0))
        ),
        Violation::ValueMax => format!(
            "Member must have value less than or equal to {}",
            number(shape.max.unwrap_or(0.0))
        ),
        Violation::Enum => format!(
            "Member must satisfy enum value set: [{}]",
            shape.enum_values.as_deref().unwrap_or_default().join(", ")
        ),
    }
}

/// `prefix[every constraint of the element shape]`, as AWS reports collection elements.
fn aggregate(prefix: &str, shape: &Shape) -> String {
    let numeric = !matches!(
        shape.kind,
        ShapeType::String | ShapeType::Character | ShapeType::Blob
    );
    let mut parts = Vec::new();
    if numeric {
        if shape.max.is_some() {
            parts.push(describe(shape, Violation::ValueMax));
        }
        if shape.min.is_some() {
            parts.push(describe(shape, Violation::ValueMin));
        }
    } else {
        if shape.max.is_some() {
            parts.push(describe(shape, Violation::LengthMax));
        }
        if shape.min.is_some() {
            parts.push(describe(shape, Violation::LengthMin));
        }
    }
    if shape.pattern.is_some() {
        parts.push(describe(shape, Violation::Pattern));
    }
    if shape.enum_values.as_ref().is_some_and(|e| !e.is_empty()) {
        parts.push(describe(shape, Violation::Enum));
    }
    format!("{prefix}[{}]", parts.join(", "))
}

/// A value as Java's `toString` writes it, which is what AWS's messages quote.
fn java_string(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => {
            let _ = write!(out, "{b}");
        }
        Value::Integer(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(f) => {
            let _ = write!(out, "{f:?}");
        }
        Value::String(s) => out.push_str(s),
        Value::Json(raw) => out.push_str(raw.text()),
        Value::Blob(b) => {
            let _ = write!(
                out,
                "java.nio.HeapByteBuffer[pos=0 lim={} cap={}]",
                b.len(),
                b.len()
            );
        }
        Value::Timestamp(t) => out.push_str(&t.to_iso8601()),
        Value::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                java_string(item, out);
            }
            out.push(']');
        }
        Value::Map(m) => {
            out.push('{');
            for (i, (k, item)) in m.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(k);
                out.push('=');
                java_string(item, out);
            }
            out.push('}');
        }
    }
}

/// Compiled model patterns, shared by every request; `None` marks a pattern the `regex`
/// crate cannot compile (look-around, possessive quantifiers), which is then not enforced.
static PATTERNS: LazyLock<RwLock<HashMap<String, Option<Regex>>>> =
    LazyLock::new(|| RwLock::new(HashMap::new()));

/// Whether `s` matches the model pattern `pattern`; `None` when it cannot be compiled.
///
/// AWS services check patterns with Java's `Pattern.matches`, i.e. against the whole value
/// (DynamoDB rejects the table name `my table` for `[a-zA-Z0-9_.-]+`), so the pattern is
/// anchored at both ends here even though the Smithy spec reads patterns as searches.
pub fn matches_pattern(pattern: &str, s: &str) -> Option<bool> {
    if let Ok(cache) = PATTERNS.read()
        && let Some(re) = cache.get(pattern)
    {
        return re.as_ref().map(|re| re.is_match(s));
    }
    let compiled = Regex::new(&format!("^(?:{})$", java_to_rust(pattern))).ok();
    let result = compiled.as_ref().map(|re| re.is_match(s));
    if let Ok(mut cache) = PATTERNS.write() {
        cache.insert(pattern.to_owned(), compiled);
    }
    result
}

/// Rewrites the Java-only regex syntax that models use into the `regex` crate's.
fn java_to_rust(p: &str) -> String {
    const CLASSES: [(&str, &str); 12] = [
        (r"\p{Alnum}", "[:alnum:]"),
        (r"\p{Alpha}", "[:alpha:]"),
        (r"\p{Digit}", "[:digit:]"),
        (r"\p{Punct}", "[:punct:]"),
        (r"\p{Graph}", "[:graph:]"),
        (r"\p{Print}", "[:print:]"),
        (r"\p{Blank}", "[:blank:]"),
        (r"\p{Cntrl}", "[:cntrl:]"),
        (r"\p{XDigit}", "[:xdigit:]"),
        (r"\p{Space}", "[:space:]"),
        (r"\p{Lower}", "[:lower:]"),
        (r"\p{Upper}", "[:upper:]"),
    ];
    let mut out = String::with_capacity(p.len());
    let mut depth = 0usize; // inside a character class when > 0
    let mut rest = p;
    'outer: while let Some(c) = rest.chars().next() {
        if c == '\\' {
            for (java, posix) in CLASSES {
                if let Some(after) = rest.strip_prefix(java) {
                    if depth > 0 {
                        let _ = write!(out, "[{posix}]");
                    } else {
                        let _ = write!(out, "[[{posix}]]");
                    }
                    rest = after;
                    continue 'outer;
                }
            }
            if let Some(after) = rest.strip_prefix(r"\Z") {
                out.push_str(r"\z");
                rest = after;
                continue;
            }
            // Keep any other escape pair verbatim (including escaped brackets).
            let mut it = rest.char_indices();
            it.next();
            let end = it.next().map_or(rest.len(), |(i, ch)| i + ch.len_utf8());
            out.push_str(&rest[..end]);
            rest = &rest[end..];
            continue;
        }
        match c {
            '[' => depth += 1,
            ']' if depth > 0 => depth -= 1,
            _ => {}
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn model() -> ServiceModel {
        ServiceModel::from_value(serde_json::json!({
            "metadata": {"protocol": "json"},
            "operations": {
                "Op": {"name": "Op", "input": {"shape": "In"}},
                "NoInput": {"name": "NoInput"}
            },
            "shapes": {
                "In": {"type": "structure", "required": ["TableName", "Nested"], "members": {
                    "TableName": {"shape": "TableName"},
                    "Mode": {"shape": "Mode"},
                    "Limit": {"shape": "Limit"},
                    "Ratio": {"shape": "Ratio"},
                    "Data": {"shape": "Data"},
                    "Names": {"shape": "Names"},
                    "Items": {"shape": "Items"},
                    "Tags": {"shape": "Tags"},
                    "Nested": {"shape": "Nested"},
                    "Secret": {"shape": "Secret"},
                    "Body": {"shape": "Stream"},
                    "Bad": {"shape": "BadPattern"}
                }},
                "TableName": {"type": "string", "min": 3, "max": 255, "pattern": "[a-zA-Z0-9_.-]+"},
                "Mode": {"type": "string", "enum": ["A", "B"]},
                "Limit": {"type": "integer", "min": 1, "max": 100},
                "Ratio": {"type": "double", "min": 0.5},
                "Data": {"type": "blob", "max": 2},
                "Names": {"type": "list", "member": {"shape": "Name"}, "max": 2},
                "Name": {"type": "string", "min": 1, "max": 5},
                "Items": {"type": "list", "member": {"shape": "Item"}},
                "Item": {"type": "structure", "required": ["Key"], "members": {
                    "Key": {"shape": "Name"}
                }},
                "Tags": {"type": "map", "key": {"shape": "TagKey"}, "value": {"shape": "Name"}},
                "TagKey": {"type": "string", "pattern": "^[a-z]+$"},
                "Nested": {"type": "structure", "required": ["Inner"], "members": {
                    "Inner": {"shape": "Name"}
                }},
                "Secret": {"type": "string", "max": 3, "sensitive": true},
                "Stream": {"type": "blob", "streaming": true, "min": 5},
                "BadPattern": {"type": "string", "pattern": "(?<!x)y"}
            }
        }))
        .unwrap()
    }

    fn check(input: Value) -> Result<(), AwsError> {
        let m = model();
        validate(&m, m.operation("Op").unwrap(), &input)
    }

    fn base() -> Value {
        Value::map()
            .with("TableName", "table_1")
            .with("Nested", Value::map().with("Inner", "x"))
    }

    fn message(input: Value) -> String {
        let e = check(input).unwrap_err();
        assert_eq!((e.code.as_ref(), e.status), ("ValidationException", 400));
        e.message
    }

    #[test]
    fn valid_input_passes() {
        let v = base()
            .with("Mode", "A")
            .with("Limit", 100)
            .with("Ratio", 0.5)
            .with("Data", Bytes::from_static(b"ab"))
            .with("Names", vec![Value::from("a"), Value::from("bcdef")])
            .with("Items", vec![Value::map().with("Key", "k")])
            .with("Tags", Value::map().with("abc", "v"))
            .with("Bad", "anything");
        check(v).unwrap();
        let m = model();
        validate(&m, m.operation("NoInput").unwrap(), &Value::Null).unwrap();
    }

    #[test]
    fn required_members() {
        assert_eq!(
            message(Value::map().with("Nested", Value::map().with("Inner", "x"))),
            "1 validation error detected: Value null at 'tableName' failed to satisfy constraint: Member must not be null"
        );
        assert_eq!(
            message(
                Value::map()
                    .with("TableName", "abc")
                    .with("Nested", Value::map())
            ),
            "1 validation error detected: Value null at 'nested.inner' failed to satisfy constraint: Member must not be null"
        );
    }

    #[test]
    fn pattern_then_length_on_one_member() {
        assert_eq!(
            message(base().with("TableName", "a b").with("Mode", "C")),
            "2 validation errors detected: \
             Value 'a b' at 'tableName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; \
             Value 'C' at 'mode' failed to satisfy constraint: Member must satisfy enum value set: [A, B]"
        );
        assert_eq!(
            message(base().with("TableName", "")),
            "2 validation errors detected: \
             Value '' at 'tableName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; \
             Value '' at 'tableName' failed to satisfy constraint: Member must have length greater than or equal to 3"
        );
    }

    #[test]
    fn ranges_lengths_and_sensitive_values() {
        assert_eq!(
            message(base().with("Limit", 0)),
            "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1"
        );
        assert_eq!(
            message(base().with("Ratio", 0.25)),
            "1 validation error detected: Value '0.25' at 'ratio' failed to satisfy constraint: Member must have value greater than or equal to 0.5"
        );
        assert_eq!(
            message(base().with("Data", Bytes::from_static(b"abc"))),
            "1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=3 cap=3]' at 'data' failed to satisfy constraint: Member must have length less than or equal to 2"
        );
        assert_eq!(
            message(base().with("Secret", "hunter2")),
            "1 validation error detected: Value at 'secret' failed to satisfy constraint: Member must have length less than or equal to 3"
        );
        // Length counts characters, not bytes.
        check(base().with("Secret", "ééé")).unwrap();
    }

    #[test]
    fn collections() {
        assert_eq!(
            message(base().with(
                "Names",
                vec![Value::from(""), Value::from("a"), Value::from("b")]
            )),
            "2 validation errors detected: \
             Value '[, a, b]' at 'names' failed to satisfy constraint: Member must have length less than or equal to 2; \
             Value '[, a, b]' at 'names' failed to satisfy constraint: Member must satisfy constraint: [Member must have length less than or equal to 5, Member must have length greater than or equal to 1]"
        );
        assert_eq!(
            message(base().with("Items", vec![Value::map().with("Key", "k"), Value::map()])),
            "1 validation error detected: Value null at 'items.2.member.key' failed to satisfy constraint: Member must not be null"
        );
        assert_eq!(
            message(base().with("Tags", Value::map().with("AB", "v"))),
            "1 validation error detected: Value '{AB=v}' at 'tags' failed to satisfy constraint: Map keys must satisfy constraint: [Member must satisfy regular expression pattern: ^[a-z]+$]"
        );
        assert_eq!(
            message(base().with("Tags", Value::map().with("ab", "toolong"))),
            "1 validation error detected: Value '{ab=toolong}' at 'tags' failed to satisfy constraint: Map value must satisfy constraint: [Member must have length less than or equal to 5, Member must have length greater than or equal to 1]"
        );
    }

    #[test]
    fn caps_at_ten_errors_and_skips_streams_and_bad_patterns() {
        let items: Vec<Value> = (0..25).map(|_| Value::map()).collect();
        let msg = message(base().with("Items", items));
        assert!(msg.starts_with("10 validation errors detected: "), "{msg}");
        assert_eq!(msg.matches("Member must not be null").count(), 10);
        // The streaming member is never checked; the uncompilable pattern is skipped.
        check(base().with("Body", "x").with("Bad", "xy")).unwrap();
    }

    #[test]
    fn java_patterns_translate() {
        assert_eq!(matches_pattern(r"[\p{Alnum}_]+", "ab_1"), Some(true));
        assert_eq!(matches_pattern(r"[\p{Alnum}_]+", "ab-1"), Some(false));
        assert_eq!(matches_pattern(r"\p{Punct}", "!"), Some(true));
        assert_eq!(matches_pattern(r"[\u0020-\u007E]*", "hi there"), Some(true));
        assert_eq!(matches_pattern(r"[\u0020-\u007E]*", "é"), Some(false));
        assert_eq!(matches_pattern(r"[\[\]a]+", "[a]"), Some(true));
        assert_eq!(matches_pattern(r"(?<!-)x", "x"), None);
        // Mismatched types never panic or report.
        check(base().with("Limit", "not a number").with("Names", "x")).unwrap();
    }
}
