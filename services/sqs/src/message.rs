//! Message contents: attributes, the digests SDKs verify, and the content rules.

use crate::errors;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use indexmap::IndexMap;
use md5::{Digest, Md5};
use nephos_core::{AwsError, Value};
use serde::{Deserialize, Serialize};

/// One message attribute (or message system attribute) as the client sent it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attribute {
    pub data_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub string: Option<String>,
    /// Base64 in the stored record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binary: Option<String>,
}

pub type Attributes = IndexMap<String, Attribute>;

impl Attribute {
    fn binary_bytes(&self) -> Vec<u8> {
        self.binary
            .as_deref()
            .and_then(|b| BASE64.decode(b).ok())
            .unwrap_or_default()
    }

    fn is_binary(&self) -> bool {
        base_type(&self.data_type) == "Binary"
    }

    /// The attribute as the API returns it.
    pub fn to_value(&self) -> Value {
        let mut v = Value::map().with("DataType", self.data_type.as_str());
        if let Some(s) = &self.string {
            v.insert("StringValue", s.as_str());
        }
        if self.binary.is_some() {
            v.insert("BinaryValue", Bytes::from(self.binary_bytes()));
        }
        v
    }

    /// Bytes counted against the maximum message size: name, type and value.
    fn size(&self, name: &str) -> usize {
        name.len()
            + self.data_type.len()
            + self.string.as_ref().map_or(0, String::len)
            + self
                .binary
                .as_ref()
                .map_or(0, |_| self.binary_bytes().len())
    }
}

/// `String.custom` → `String`.
fn base_type(data_type: &str) -> &str {
    data_type.split('.').next().unwrap_or(data_type)
}

/// The MD5 of a body, as hex.
pub fn md5_hex(bytes: &[u8]) -> String {
    hex::encode(md5(bytes))
}

pub fn md5(bytes: &[u8]) -> [u8; 16] {
    Md5::digest(bytes).into()
}

/// The MD5 of message attributes as SQS and the SDKs compute it: attributes sorted by
/// name, each as length-prefixed name, length-prefixed data type, a transport byte (1 for
/// strings and numbers, 2 for binary) and the length-prefixed value.
pub fn md5_of_attributes<'a>(
    attrs: impl IntoIterator<Item = (&'a String, &'a Attribute)>,
) -> Option<String> {
    let mut sorted: Vec<_> = attrs.into_iter().collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let mut h = Md5::new();
    let put = |h: &mut Md5, b: &[u8]| {
        h.update((b.len() as u32).to_be_bytes());
        h.update(b);
    };
    for (name, a) in sorted {
        put(&mut h, name.as_bytes());
        put(&mut h, a.data_type.as_bytes());
        if a.is_binary() {
            h.update([2u8]);
            put(&mut h, &a.binary_bytes());
        } else {
            h.update([1u8]);
            put(&mut h, a.string.as_deref().unwrap_or("").as_bytes());
        }
    }
    Some(hex::encode(h.finalize()))
}

/// The characters SQS accepts: `#x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD |
/// #x10000 to #x10FFFF` (Rust strings already exclude surrogates).
pub fn check_characters(text: &str, what: &str) -> Result<(), AwsError> {
    // Scanning bytes is much faster than decoding chars: in UTF-8 the only excluded
    // characters are ASCII controls and U+FFFE/U+FFFF (EF BF BE, EF BF BF).
    let bytes = text.as_bytes();
    // Without an early exit, the scan of each 64-byte chunk vectorizes.
    let suspect = |&b: &u8| (b < 0x20 && !matches!(b, 0x9 | 0xA | 0xD)) || b == 0xEF;
    let suspicious = bytes
        .chunks(64)
        .any(|chunk| chunk.iter().fold(false, |acc, b| acc | suspect(b)));
    if !suspicious {
        return Ok(());
    }
    if let Some(c) = text.chars().find(|&c| {
        let c = c as u32;
        !(c == 0x9 || c == 0xA || c == 0xD || (0x20..=0xFFFD).contains(&c) || c >= 0x10000)
    }) {
        return Err(AwsError::new(
            400,
            "InvalidMessageContents",
            format!(
                "Invalid binary character '#x{:X}' was found in the {what}, the set of allowed characters is #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF",
                c as u32
            ),
        ));
    }
    Ok(())
}

/// Reads and validates the `MessageAttributes` of a send request.
pub fn parse_attributes(v: Option<&Value>, system: bool) -> Result<Attributes, AwsError> {
    let mut out = Attributes::new();
    let Some(map) = v.and_then(Value::as_map) else {
        return Ok(out);
    };
    if map.len() > 10 {
        return Err(errors::invalid_parameter(format!(
            "Number of message attributes [{}] exceeds the allowed maximum [10].",
            map.len()
        )));
    }
    for (name, a) in map {
        if system {
            if name != "AWSTraceHeader" {
                return Err(errors::invalid_parameter(format!(
                    "Message system attribute name '{name}' is invalid."
                )));
            }
        } else {
            validate_attribute_name(name)?;
        }
        let data_type = a.str("DataType").unwrap_or_default().to_owned();
        let base = base_type(&data_type);
        if !matches!(base, "String" | "Number" | "Binary")
            || data_type.len() > 256
            || (data_type.contains('.') && data_type.len() == base.len() + 1)
        {
            return Err(errors::invalid_parameter(format!(
                "The type of message (user) attribute '{name}' is invalid. You must use only the following supported type prefixes: Binary, Number, String."
            )));
        }
        if system && data_type != "String" {
            return Err(errors::invalid_parameter(format!(
                "The type of message system attribute '{name}' is invalid. You must use only the following supported type prefixes: String."
            )));
        }
        let string = a.str("StringValue").map(str::to_owned);
        let binary = match a.get("BinaryValue") {
            Some(Value::Blob(b)) => Some(BASE64.encode(b)),
            _ => None,
        };
        if a.get("StringListValues").is_some() || a.get("BinaryListValues").is_some() {
            return Err(errors::invalid_parameter(
                "Message attribute list values in SendMessage operation are not supported.",
            ));
        }
        match base {
            "Binary" => {
                if binary.as_ref().is_none_or(String::is_empty) || string.is_some() {
                    return Err(errors::invalid_parameter(format!(
                        "Message (user) attribute '{name}' must contain a non-empty message attribute value for message attribute type '{data_type}'."
                    )));
                }
            }
            _ => {
                let Some(s) = string.as_deref().filter(|s| !s.is_empty()) else {
                    return Err(errors::invalid_parameter(format!(
                        "Message (user) attribute '{name}' must contain a non-empty value of type '{data_type}'."
                    )));
                };
                if binary.is_some() {
                    return Err(errors::invalid_parameter(format!(
                        "Message (user) attribute '{name}' must have exactly one value."
                    )));
                }
                if base == "Number" && !is_number(s) {
                    return Err(errors::invalid_parameter(format!(
                        "Could not cast message attribute '{name}' value to number."
                    )));
                }
                // AWS reports these as an invalid parameter, not as invalid contents.
                check_characters(s, "message attribute value").map_err(|mut e| {
                    e.code = "InvalidParameterValue".into();
                    e
                })?;
            }
        }
        out.insert(
            name.clone(),
            Attribute {
                data_type,
                string,
                binary,
            },
        );
    }
    Ok(out)
}

fn validate_attribute_name(name: &str) -> Result<(), AwsError> {
    let lower = name.to_ascii_lowercase();
    let ok = !name.is_empty()
        && name.len() <= 256
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && !name.starts_with('.')
        && !name.ends_with('.')
        && !name.contains("..")
        && !lower.starts_with("aws.")
        && !lower.starts_with("amazon.");
    if ok {
        Ok(())
    } else {
        Err(errors::invalid_parameter(format!(
            "Message (user) attribute name '{name}' is invalid."
        )))
    }
}

fn is_number(s: &str) -> bool {
    let s = s.trim();
    !s.is_empty() && s.len() <= 38 + 3 && s.parse::<f64>().is_ok_and(f64::is_finite)
}

/// Bytes of a message as SQS counts them against `MaximumMessageSize`.
pub fn message_size(body: &str, attrs: &Attributes) -> usize {
    body.len() + attrs.iter().map(|(n, a)| a.size(n)).sum::<usize>()
}

/// Whether the attribute `name` is selected by `MessageAttributeNames`: `All`, `*`, `.*`,
/// `prefix.*` (any name starting with the prefix: `Hel.*` takes `Hello` and `Help.Me`),
/// or the exact name.
pub fn selected(name: &str, patterns: &[String]) -> bool {
    patterns.iter().any(|p| {
        matches!(p.as_str(), "All" | "*" | ".*")
            || p == name
            || p.strip_suffix(".*")
                .is_some_and(|prefix| name.starts_with(prefix))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(t: &str, v: &str) -> Attribute {
        Attribute {
            data_type: t.into(),
            string: Some(v.into()),
            binary: None,
        }
    }

    #[test]
    fn md5_matches_aws_examples() {
        assert_eq!(md5_hex(b"hello"), "5d41402abc4b2a76b9719d911017c592");
        // Reference value computed with the algorithm the AWS Java SDK uses.
        let mut attrs = Attributes::new();
        attrs.insert("a".into(), s("String", "b"));
        let mut h = Md5::new();
        h.update([0, 0, 0, 1, b'a', 0, 0, 0, 6]);
        h.update(b"String");
        h.update([1, 0, 0, 0, 1, b'b']);
        assert_eq!(
            md5_of_attributes(&attrs).unwrap(),
            hex::encode(h.finalize())
        );
        assert!(md5_of_attributes(&Attributes::new()).is_none());
    }

    #[test]
    fn characters() {
        assert!(check_characters("ok\t\n\r é 😀", "message body").is_ok());
        let e = check_characters("bad\u{1}", "message body").unwrap_err();
        assert_eq!(e.code, "InvalidMessageContents");
        assert!(check_characters("\u{FFFE}", "x").is_err());
    }

    #[test]
    fn selection_patterns() {
        let p = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(selected("x", &p(&["All"])));
        assert!(selected("x", &p(&[".*"])));
        assert!(selected("foo.bar", &p(&["foo.*"])));
        assert!(selected("foobar", &p(&["foo.*"])));
        assert!(!selected("fobar", &p(&["foo.*"])));
        assert!(selected("x", &p(&["*"])));
        assert!(selected("x", &p(&["x"])));
        assert!(!selected("y", &p(&["x"])));
    }
}
