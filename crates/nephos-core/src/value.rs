//! A protocol-neutral value: what a request means once its wire format is gone.

use bytes::Bytes;
use indexmap::IndexMap;

/// The members of a structure or the entries of a map, in insertion order. Keys are short
/// and come from requests; foldhash hashes them several times faster than SipHash.
pub type Map = IndexMap<String, Value, foldhash::fast::RandomState>;

/// Seconds since the Unix epoch, with sub-second precision.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Timestamp(pub f64);

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

impl Timestamp {
    pub fn from_millis(ms: i64) -> Timestamp {
        Timestamp(ms as f64 / 1000.0)
    }
    pub fn as_millis(self) -> i64 {
        (self.0 * 1000.0).round() as i64
    }
    pub fn as_secs(self) -> i64 {
        self.0.floor() as i64
    }
    /// ISO 8601 in UTC with millisecond precision when there is a fraction
    /// (`2024-01-02T03:04:05Z`, `2024-01-02T03:04:05.123Z`), as AWS writes it.
    pub fn to_iso8601(self) -> String {
        let ms = self.as_millis();
        let dt = time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        let frac = ms.rem_euclid(1000);
        let base = format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            dt.year(),
            u8::from(dt.month()),
            dt.day(),
            dt.hour(),
            dt.minute(),
            dt.second()
        );
        if frac == 0 {
            format!("{base}Z")
        } else {
            format!("{base}.{frac:03}Z")
        }
    }
    /// The common log format's date (`06/Feb/2019:00:00:38 +0000`), as S3's access logs
    /// and HTTP events (`requestContext.time`) carry dates.
    pub fn to_common_log_date(self) -> String {
        let dt = time::OffsetDateTime::from_unix_timestamp(self.as_secs())
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        format!(
            "{:02}/{}/{:04}:{:02}:{:02}:{:02} +0000",
            dt.day(),
            MONTHS[u8::from(dt.month()) as usize - 1],
            dt.year(),
            dt.hour(),
            dt.minute(),
            dt.second()
        )
    }

    /// RFC 822/1123 (`Tue, 29 Apr 2014 18:30:38 GMT`), as HTTP headers carry dates.
    pub fn to_http_date(self) -> String {
        let dt = time::OffsetDateTime::from_unix_timestamp(self.as_secs())
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
        format!(
            "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
            DAYS[dt.weekday().number_days_from_monday() as usize],
            dt.day(),
            MONTHS[u8::from(dt.month()) as usize - 1],
            dt.year(),
            dt.hour(),
            dt.minute(),
            dt.second()
        )
    }
}

/// A value of any shape. Structures and maps are both [`Value::Map`]; the model says which.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    /// integer, long, short, byte.
    Integer(i64),
    /// float, double (and the non-numbers NaN and ±Infinity).
    Float(f64),
    /// string, character, enum, and big numbers kept as their decimal text.
    String(String),
    Blob(Bytes),
    Timestamp(Timestamp),
    List(Vec<Value>),
    Map(Map),
    /// A member a JSON-only service wrote as JSON itself, because it holds it encoded
    /// already (DynamoDB's items, read from their stored bytes): the JSON codec writes it
    /// verbatim, and in-process callers get it decoded by its shape like any other
    /// answer.
    Json(RawJson),
}

/// JSON text a service wrote itself ([`Value::Json`]), checked to be one JSON value.
#[derive(Debug, Clone)]
pub struct RawJson(pub Box<serde_json::value::RawValue>);

impl RawJson {
    /// `text` as raw JSON, or `None` when it is not one JSON value.
    pub fn new(text: String) -> Option<RawJson> {
        serde_json::value::RawValue::from_string(text)
            .ok()
            .map(RawJson)
    }

    pub fn text(&self) -> &str {
        self.0.get()
    }
}

impl PartialEq for RawJson {
    fn eq(&self, other: &RawJson) -> bool {
        self.text() == other.text()
    }
}

impl Value {
    pub fn map() -> Value {
        Value::Map(Map::default())
    }

    /// Member `key` of a map or structure.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Map(m) => m.get(key),
            _ => None,
        }
    }

    /// Member `key` as a string, when it is one.
    pub fn str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Value::as_str)
    }

    pub fn int(&self, key: &str) -> Option<i64> {
        match self.get(key) {
            Some(Value::Integer(i)) => Some(*i),
            _ => None,
        }
    }

    pub fn bool(&self, key: &str) -> Option<bool> {
        match self.get(key) {
            Some(Value::Bool(b)) => Some(*b),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&Map> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    /// Sets member `key` (a no-op on non-maps) and returns `self`, for building outputs.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Value {
        self.insert(key, value);
        self
    }

    pub fn insert(&mut self, key: &str, value: impl Into<Value>) {
        if let Value::Map(m) = self {
            m.insert(key.to_owned(), value.into());
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_owned())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s)
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::Integer(i)
    }
}
impl From<i32> for Value {
    fn from(i: i32) -> Value {
        Value::Integer(i.into())
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}
impl From<f64> for Value {
    fn from(f: f64) -> Value {
        Value::Float(f)
    }
}
impl From<Timestamp> for Value {
    fn from(t: Timestamp) -> Value {
        Value::Timestamp(t)
    }
}
impl From<Bytes> for Value {
    fn from(b: Bytes) -> Value {
        Value::Blob(b)
    }
}
impl From<Vec<Value>> for Value {
    fn from(l: Vec<Value>) -> Value {
        Value::List(l)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_format_as_aws_does() {
        let t = Timestamp(1398796238.0);
        assert_eq!(t.to_iso8601(), "2014-04-29T18:30:38Z");
        assert_eq!(t.to_http_date(), "Tue, 29 Apr 2014 18:30:38 GMT");
        assert_eq!(
            Timestamp(1398796238.123).to_iso8601(),
            "2014-04-29T18:30:38.123Z"
        );
    }
}
