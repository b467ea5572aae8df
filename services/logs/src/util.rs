//! Small shared pieces: ARNs, naming a group by name or ARN, page tokens, JSON values.

use crate::errors;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use nephos_core::{AwsError, RequestContext, Value};

pub fn group_arn(account: &str, region: &str, name: &str) -> String {
    format!("arn:aws:logs:{region}:{account}:log-group:{name}")
}

pub fn stream_arn(account: &str, region: &str, group: &str, stream: &str) -> String {
    format!("arn:aws:logs:{region}:{account}:log-group:{group}:log-stream:{stream}")
}

/// A log group as a request names it.
#[derive(Debug, Clone)]
pub struct GroupRef {
    pub account: String,
    pub region: String,
    pub name: String,
}

impl GroupRef {
    pub fn arn(&self) -> String {
        group_arn(&self.account, &self.region, &self.name)
    }
}

/// `arn:aws:logs:<region>:<account>:log-group:<name>[:*]` into its parts.
pub fn parse_group_arn(arn: &str) -> Option<GroupRef> {
    let rest = arn.strip_prefix("arn:")?;
    let mut parts = rest.splitn(6, ':');
    let (_partition, service, region, account, kind) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    if service != "logs" || kind != "log-group" {
        return None;
    }
    let name = parts.next()?;
    let name = name.strip_suffix(":*").unwrap_or(name);
    if name.is_empty() || name.contains(':') {
        return None;
    }
    Some(GroupRef {
        account: account.to_owned(),
        region: region.to_owned(),
        name: name.to_owned(),
    })
}

/// The group a request names with `logGroupName` or `logGroupIdentifier` (a name or an
/// ARN); exactly one of them.
pub fn group_ref(ctx: &RequestContext, input: &Value) -> Result<GroupRef, AwsError> {
    let own = |name: &str| GroupRef {
        account: ctx.account_id.clone(),
        region: ctx.region.clone(),
        name: name.to_owned(),
    };
    match (input.str("logGroupName"), input.str("logGroupIdentifier")) {
        (Some(_), Some(_)) => Err(errors::invalid_parameter(
            "LogGroup name and LogGroup ARN are mutually exclusive parameters.",
        )),
        (Some(name), None) => Ok(own(name)),
        (None, Some(id)) if id.starts_with("arn:") => {
            parse_group_arn(id).ok_or_else(errors::group_not_found)
        }
        (None, Some(id)) => Ok(own(id)),
        (None, None) => Err(errors::invalid_parameter(
            "Should provide either name or ARN of the log group.",
        )),
    }
}

/// A page of `items` after the offset a token carries, and the token of the next page.
pub fn page<T>(
    items: Vec<T>,
    token: Option<&str>,
    limit: usize,
) -> Result<(Vec<T>, Option<String>), AwsError> {
    let start = match token {
        Some(t) => decode_token(t)
            .and_then(|s| s.strip_prefix("o:").and_then(|n| n.parse::<usize>().ok()))
            .ok_or_else(errors::bad_token)?,
        None => 0,
    };
    let total = items.len();
    let end = start.saturating_add(limit).min(total);
    let next = (end < total).then(|| encode_token(&format!("o:{end}")));
    Ok((
        items
            .into_iter()
            .skip(start)
            .take(end.saturating_sub(start))
            .collect(),
        next,
    ))
}

pub fn encode_token(s: &str) -> String {
    URL_SAFE_NO_PAD.encode(s)
}

pub fn decode_token(t: &str) -> Option<String> {
    String::from_utf8(URL_SAFE_NO_PAD.decode(t).ok()?).ok()
}

pub fn to_json(v: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::Null => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Integer(i) => J::from(*i),
        Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
        Value::String(s) => J::String(s.clone()),
        Value::Blob(b) => J::String(String::from_utf8_lossy(b).into_owned()),
        Value::Timestamp(t) => J::from(t.0),
        Value::List(l) => J::Array(l.iter().map(to_json).collect()),
        Value::Map(m) => J::Object(m.iter().map(|(k, v)| (k.clone(), to_json(v))).collect()),
        Value::Json(raw) => serde_json::from_str(raw.text()).unwrap_or(J::Null),
    }
}

pub fn from_json(j: &serde_json::Value) -> Value {
    use serde_json::Value as J;
    match j {
        J::Null => Value::Null,
        J::Bool(b) => Value::Bool(*b),
        J::Number(n) => match n.as_i64() {
            Some(i) => Value::Integer(i),
            None => Value::Float(n.as_f64().unwrap_or(0.0)),
        },
        J::String(s) => Value::String(s.clone()),
        J::Array(a) => Value::List(a.iter().map(from_json).collect()),
        J::Object(m) => {
            let mut out = Value::map();
            for (k, v) in m {
                out.insert(k, from_json(v));
            }
            out
        }
    }
}

/// A map of strings (tags) from the request.
pub fn string_map(v: Option<&Value>) -> Vec<(String, String)> {
    v.and_then(Value::as_map)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

pub fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_list)
        .map(|l| {
            l.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Stable 32-bit FNV-1a of a name, for event ids that differ between streams.
pub fn name_hash(s: &str) -> u32 {
    s.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ b as u32).wrapping_mul(0x0100_0193)
    })
}

/// An event id as AWS shapes them: 56 decimal digits, unique per event.
pub fn event_id(timestamp: i64, stream: &str, seq: u64) -> String {
    format!(
        "{:020}{:010}{:026}",
        timestamp.max(0),
        name_hash(stream),
        seq
    )
}
