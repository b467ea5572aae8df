//! Subscription filter policies: parsing with AWS's validation and limits, and matching
//! against message attributes (`MessageAttributes` scope) or the JSON body
//! (`MessageBody` scope).
//!
//! A policy is an AND of conditions; a condition names a key (a path of nested keys in the
//! body scope) and an OR of rules, or is a `$or` of sub-policies.

use serde_json::Value as Json;

/// Where a policy looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    MessageAttributes,
    MessageBody,
}

impl Scope {
    pub fn parse(s: &str) -> Option<Scope> {
        match s {
            "MessageAttributes" => Some(Scope::MessageAttributes),
            "MessageBody" => Some(Scope::MessageBody),
            _ => None,
        }
    }
}

/// AWS's limits on one filter policy.
const MAX_KEYS: usize = 5;
const MAX_COMBINATIONS: usize = 150;

#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    conds: Vec<Cond>,
}

#[derive(Debug, Clone, PartialEq)]
enum Cond {
    /// A key path, its rules, and how deeply the key is nested (1 at the top).
    Key(Vec<String>, Vec<Rule>, usize),
    Or(Vec<Policy>),
}

/// A scalar as policies and messages carry it.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Str(String),
    Num(f64),
    Bool(bool),
    Null,
}

#[derive(Debug, Clone, PartialEq)]
enum Rule {
    Exact(Scalar),
    Prefix(String),
    Suffix(String),
    EqualsIgnoreCase(String),
    AnythingBut(Vec<Scalar>),
    AnythingButPrefix(String),
    /// Lower and upper bounds: (value, inclusive).
    Numeric {
        lower: Option<(f64, bool)>,
        upper: Option<(f64, bool)>,
    },
    Exists(bool),
    /// An IP address range: network address and prefix length.
    Cidr(std::net::IpAddr, u32),
}

/// Parses and validates a policy. The error is the part of AWS's message after
/// `Invalid parameter: ` (`FilterPolicy: ...`).
pub fn parse(text: &str, scope: Scope) -> Result<Policy, String> {
    let json: Json = serde_json::from_str(text)
        .map_err(|e| format!("FilterPolicy: failed to parse JSON. {e}"))?;
    let Json::Object(_) = json else {
        return Err("FilterPolicy: Filter policy must be a JSON object".into());
    };
    let policy = parse_object(&json, scope, &[], 1)?;
    if policy.conds.is_empty() {
        return Ok(policy);
    }
    if key_count(&policy) > MAX_KEYS {
        return Err(format!(
            "FilterPolicy: Filter policy can not have more than {MAX_KEYS} keys"
        ));
    }
    if combinations(&policy) > MAX_COMBINATIONS {
        return Err("FilterPolicy: Filter policy is too complex".into());
    }
    Ok(policy)
}

fn parse_object(
    json: &Json,
    scope: Scope,
    prefix: &[String],
    depth: usize,
) -> Result<Policy, String> {
    let Json::Object(map) = json else {
        return Err("FilterPolicy: Filter policy must be a JSON object".into());
    };
    let mut conds = Vec::new();
    for (key, value) in map {
        if key == "$or" {
            let Json::Array(branches) = value else {
                return Err("FilterPolicy: \"$or\" must be an array".into());
            };
            if branches.len() < 2 {
                return Err("FilterPolicy: \"$or\" must have at least 2 elements".into());
            }
            let mut parsed = Vec::new();
            for b in branches {
                if !b.is_object() {
                    return Err("FilterPolicy: \"$or\" elements must be objects".into());
                }
                parsed.push(parse_object(b, scope, prefix, depth)?);
            }
            conds.push(Cond::Or(parsed));
            continue;
        }
        let mut path = prefix.to_vec();
        // In the body a dotted key is a path: "a.b" matches {"a":{"b":..}} and {"a.b":..}.
        if scope == Scope::MessageBody {
            path.extend(key.split('.').map(str::to_owned));
        } else {
            path.push(key.clone());
        }
        match value {
            Json::Array(items) => {
                if items.is_empty() {
                    return Err("FilterPolicy: Empty arrays are not allowed".into());
                }
                let rules = items
                    .iter()
                    .map(parse_rule)
                    .collect::<Result<Vec<_>, _>>()?;
                conds.push(Cond::Key(path, rules, depth));
            }
            Json::Object(_) => {
                if scope == Scope::MessageAttributes {
                    return Err(
                        "Filter policy scope MessageAttributes does not support nested filter policy"
                            .into(),
                    );
                }
                conds.extend(parse_object(value, scope, &path, depth + 1)?.conds);
            }
            _ => {
                return Err(format!(
                    "FilterPolicy: \"{key}\" must be an object or an array"
                ));
            }
        }
    }
    Ok(Policy { conds })
}

fn scalar(v: &Json) -> Option<Scalar> {
    match v {
        Json::String(s) => Some(Scalar::Str(s.clone())),
        Json::Number(n) => n.as_f64().map(Scalar::Num),
        Json::Bool(b) => Some(Scalar::Bool(*b)),
        Json::Null => Some(Scalar::Null),
        _ => None,
    }
}

fn string_operand(op: &str, v: &Json) -> Result<String, String> {
    v.as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("FilterPolicy: {op} match pattern must be a string"))
}

fn parse_rule(item: &Json) -> Result<Rule, String> {
    if let Some(s) = scalar(item) {
        return Ok(Rule::Exact(s));
    }
    let Json::Object(ops) = item else {
        return Err(
            "FilterPolicy: Match value must be String, number, true, false, or null".into(),
        );
    };
    if ops.len() != 1 {
        return Err("FilterPolicy: Only one key allowed in match expression".into());
    }
    let (op, operand) = ops.iter().next().expect("one key");
    match op.as_str() {
        "prefix" => Ok(Rule::Prefix(string_operand("prefix", operand)?)),
        "suffix" => Ok(Rule::Suffix(string_operand("suffix", operand)?)),
        "equals-ignore-case" => Ok(Rule::EqualsIgnoreCase(string_operand(
            "equals-ignore-case",
            operand,
        )?)),
        "exists" => match operand {
            Json::Bool(b) => Ok(Rule::Exists(*b)),
            _ => Err("FilterPolicy: exists match pattern must be either true or false.".into()),
        },
        "anything-but" => parse_anything_but(operand),
        "numeric" => parse_numeric(operand),
        "cidr" => parse_cidr(operand),
        other => Err(format!("FilterPolicy: Unrecognized match type {other}")),
    }
}

fn parse_anything_but(operand: &Json) -> Result<Rule, String> {
    match operand {
        Json::Array(values) => {
            if values.is_empty() {
                return Err("FilterPolicy: Empty arrays are not allowed".into());
            }
            let mut out = Vec::new();
            for v in values {
                match scalar(v) {
                    Some(s @ (Scalar::Str(_) | Scalar::Num(_))) => out.push(s),
                    _ => {
                        return Err("FilterPolicy: Inside anything but list, start|null|boolean is not supported.".into());
                    }
                }
            }
            Ok(Rule::AnythingBut(out))
        }
        Json::Object(m) => {
            if m.len() != 1 {
                return Err("FilterPolicy: Only one key allowed in match expression".into());
            }
            let (op, v) = m.iter().next().expect("one key");
            match op.as_str() {
                "prefix" => Ok(Rule::AnythingButPrefix(string_operand("prefix", v)?)),
                other => Err(format!(
                    "FilterPolicy: Unsupported anything-but pattern: {other}"
                )),
            }
        }
        other => match scalar(other) {
            Some(s @ (Scalar::Str(_) | Scalar::Num(_))) => Ok(Rule::AnythingBut(vec![s])),
            _ => Err(
                "FilterPolicy: Inside anything but list, start|null|boolean is not supported."
                    .into(),
            ),
        },
    }
}

fn parse_cidr(operand: &Json) -> Result<Rule, String> {
    // AWS answers a non-string range with the prefix operator's wording.
    let text = string_operand("prefix", operand)?;
    let Some((ip, bits)) = text.split_once('/').filter(|(_, b)| !b.contains('/')) else {
        return Err("FilterPolicy: Malformed CIDR, one '/' required".into());
    };
    let bits: u32 = bits
        .parse()
        .map_err(|_| "FilterPolicy: Malformed CIDR, mask bits must be an integer".to_owned())?;
    let nonstandard = || format!("FilterPolicy: Nonstandard IP address: {ip}");
    let addr: std::net::IpAddr = ip.parse().map_err(|_| nonstandard())?;
    let width = if addr.is_ipv4() { 32 } else { 128 };
    // A range with host bits set is no network.
    if bits > width || masked(addr, bits) != addr {
        return Err(nonstandard());
    }
    Ok(Rule::Cidr(addr, bits))
}

/// The address with all but its first `bits` bits cleared.
fn masked(addr: std::net::IpAddr, bits: u32) -> std::net::IpAddr {
    use std::net::IpAddr;
    match addr {
        IpAddr::V4(a) => {
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            IpAddr::V4((u32::from(a) & mask).into())
        }
        IpAddr::V6(a) => {
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            IpAddr::V6((u128::from(a) & mask).into())
        }
    }
}

fn parse_numeric(operand: &Json) -> Result<Rule, String> {
    let Json::Array(items) = operand else {
        return Err("FilterPolicy: Value of numeric must be an array.".into());
    };
    // AWS reads `[op, value]` or `[>|>=, low, <|<=, high]`, naming the first bad member.
    let number = |op: &str, v: Option<&Json>| -> Result<f64, String> {
        let name = if op == "=" { "equals" } else { op };
        v.filter(|v| v.is_number())
            .and_then(Json::as_f64)
            .ok_or_else(|| format!("FilterPolicy: Value of {name} must be numeric"))
    };
    let Some(first) = items.first() else {
        return Err("FilterPolicy: Invalid member in numeric match: ]".into());
    };
    let op = first
        .as_str()
        .ok_or_else(|| format!("FilterPolicy: Invalid member in numeric match: {first}"))?;
    if !matches!(op, "<" | "<=" | "=" | ">" | ">=") {
        return Err(format!(
            "FilterPolicy: Unrecognized numeric range operator: {op}"
        ));
    }
    let n = number(op, items.get(1))?;
    if items.len() <= 2 {
        return Ok(match op {
            "=" => Rule::Numeric {
                lower: Some((n, true)),
                upper: Some((n, true)),
            },
            ">" | ">=" => Rule::Numeric {
                lower: Some((n, op == ">=")),
                upper: None,
            },
            _ => Rule::Numeric {
                lower: None,
                upper: Some((n, op == "<=")),
            },
        });
    }
    if !matches!(op, ">" | ">=") {
        return Err("FilterPolicy: Too many elements in numeric expression".into());
    }
    let second = &items[2];
    let Some(op2) = second.as_str() else {
        return Err(format!(
            "FilterPolicy: Bad value in numeric range: {second}"
        ));
    };
    if !matches!(op2, "<" | "<=") {
        return Err(format!("FilterPolicy: Bad numeric range operator: {op2}"));
    }
    let top = number(op2, items.get(3))?;
    if top <= n {
        return Err("FilterPolicy: Bottom must be less than top".into());
    }
    if items.len() > 4 {
        return Err("FilterPolicy: Too many terms in numeric range expression".into());
    }
    Ok(Rule::Numeric {
        lower: Some((n, op == ">=")),
        upper: Some((top, op2 == "<=")),
    })
}

fn key_count(p: &Policy) -> usize {
    p.conds
        .iter()
        .map(|c| match c {
            Cond::Key(..) => 1,
            Cond::Or(branches) => branches.iter().map(key_count).max().unwrap_or(0),
        })
        .sum()
}

fn combinations(p: &Policy) -> usize {
    p.conds.iter().fold(1usize, |acc, c| {
        let n = match c {
            // AWS weighs a nested key's values by its depth.
            Cond::Key(_, rules, depth) => rules.len() * depth,
            Cond::Or(branches) => branches.iter().map(combinations).sum(),
        };
        acc.saturating_mul(n.max(1))
    })
}

/// A message attribute as the filter sees it: its data type and string value.
pub struct Attr<'a> {
    pub data_type: &'a str,
    pub value: Option<&'a str>,
}

impl Policy {
    /// Whether a message with these attributes passes (`MessageAttributes` scope).
    pub fn matches_attributes<'a>(&self, lookup: &dyn Fn(&str) -> Option<Attr<'a>>) -> bool {
        self.conds.iter().all(|c| match c {
            Cond::Or(branches) => branches.iter().any(|b| b.matches_attributes(lookup)),
            Cond::Key(path, rules, _) => {
                let attr = lookup(&path[0]);
                let values = attr.as_ref().map(attribute_values);
                rules_match(rules, values.as_deref())
            }
        })
    }

    /// Whether a message body passes (`MessageBody` scope); bodies that are not JSON
    /// objects never do.
    pub fn matches_body(&self, body: &Json) -> bool {
        if !body.is_object() {
            return false;
        }
        self.conds.iter().all(|c| match c {
            Cond::Or(branches) => branches.iter().any(|b| b.matches_body(body)),
            Cond::Key(path, rules, _) => {
                let mut found = Vec::new();
                let present = collect_path(body, path, &mut found);
                rules_match(rules, present.then_some(found.as_slice()))
            }
        })
    }
}

fn attribute_values(a: &Attr<'_>) -> Vec<Scalar> {
    let Some(v) = a.value else {
        return Vec::new();
    };
    if a.data_type.starts_with("Number") {
        return v
            .trim()
            .parse::<f64>()
            .map(Scalar::Num)
            .into_iter()
            .collect();
    }
    if a.data_type == "String.Array" {
        if let Ok(Json::Array(items)) = serde_json::from_str::<Json>(v) {
            return items.iter().filter_map(scalar).collect();
        }
        return vec![Scalar::Str(v.to_owned())];
    }
    if a.data_type.starts_with("String") {
        return vec![Scalar::Str(v.to_owned())];
    }
    // Binary attributes exist but match no value rule.
    Vec::new()
}

/// The scalars at `path`, descending through arrays; returns whether the path exists.
fn collect_path(node: &Json, path: &[String], out: &mut Vec<Scalar>) -> bool {
    match node {
        Json::Array(items) => {
            let mut any = false;
            for item in items {
                any |= collect_path(item, path, out);
            }
            any
        }
        _ if path.is_empty() => {
            if let Some(s) = scalar(node) {
                out.push(s);
                true
            } else {
                // An object where a leaf was expected: AWS does not match it.
                false
            }
        }
        Json::Object(map) => {
            // A key of the body may itself hold dots and so span several path segments.
            let mut any = false;
            let mut key = String::new();
            for (i, seg) in path.iter().enumerate() {
                if i > 0 {
                    key.push('.');
                }
                key.push_str(seg);
                if let Some(child) = map.get(&key) {
                    any |= collect_path(child, &path[i + 1..], out);
                }
            }
            any
        }
        _ => false,
    }
}

fn rules_match(rules: &[Rule], values: Option<&[Scalar]>) -> bool {
    rules.iter().any(|r| match (r, values) {
        (Rule::Exists(want), v) => v.is_some() == *want,
        (_, None) => false,
        (r, Some(vals)) => vals.iter().any(|v| rule_matches(r, v)),
    })
}

fn rule_matches(rule: &Rule, v: &Scalar) -> bool {
    match (rule, v) {
        (Rule::Exact(Scalar::Num(a)), Scalar::Num(b)) => (a - b).abs() < 1e-9,
        (Rule::Exact(a), b) => a == b,
        (Rule::Prefix(p), Scalar::Str(s)) => s.starts_with(p.as_str()),
        (Rule::Suffix(p), Scalar::Str(s)) => s.ends_with(p.as_str()),
        (Rule::EqualsIgnoreCase(p), Scalar::Str(s)) => s.to_lowercase() == p.to_lowercase(),
        (Rule::AnythingBut(list), v) => !list.iter().any(|x| match (x, v) {
            (Scalar::Num(a), Scalar::Num(b)) => (a - b).abs() < 1e-9,
            (a, b) => a == b,
        }),
        (Rule::AnythingButPrefix(p), Scalar::Str(s)) => !s.starts_with(p.as_str()),
        (Rule::Cidr(net, bits), Scalar::Str(s)) => s
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_ipv4() == net.is_ipv4() && masked(ip, *bits) == *net),
        (Rule::Numeric { lower, upper }, Scalar::Num(n)) => {
            lower.is_none_or(|(lo, inc)| if inc { *n >= lo } else { *n > lo })
                && upper.is_none_or(|(hi, inc)| if inc { *n <= hi } else { *n < hi })
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn attrs(
        pairs: &[(&'static str, &'static str, &'static str)],
    ) -> HashMap<&'static str, (&'static str, &'static str)> {
        pairs.iter().map(|(k, t, v)| (*k, (*t, *v))).collect()
    }

    fn m(policy: &str, a: &[(&'static str, &'static str, &'static str)]) -> bool {
        let p = parse(policy, Scope::MessageAttributes).unwrap();
        let a = attrs(a);
        p.matches_attributes(&|k| {
            a.get(k).map(|(t, v)| Attr {
                data_type: t,
                value: Some(v),
            })
        })
    }

    fn b(policy: &str, body: &str) -> bool {
        let p = parse(policy, Scope::MessageBody).unwrap();
        p.matches_body(&serde_json::from_str(body).unwrap())
    }

    #[test]
    fn exact_prefix_suffix_ignore_case() {
        assert!(m(r#"{"c":["red","blue"]}"#, &[("c", "String", "blue")]));
        assert!(!m(r#"{"c":["red"]}"#, &[("c", "String", "blue")]));
        assert!(!m(r#"{"c":["red"]}"#, &[]));
        assert!(m(r#"{"c":[{"prefix":"bl"}]}"#, &[("c", "String", "blue")]));
        assert!(m(r#"{"c":[{"suffix":"ue"}]}"#, &[("c", "String", "blue")]));
        assert!(m(
            r#"{"c":[{"equals-ignore-case":"BLUE"}]}"#,
            &[("c", "String", "Blue")]
        ));
        // ignores attributes the policy does not name; all named keys must match
        assert!(m(
            r#"{"c":["x"],"d":["y"]}"#,
            &[
                ("c", "String", "x"),
                ("d", "String", "y"),
                ("e", "String", "z")
            ]
        ));
        assert!(!m(r#"{"c":["x"],"d":["y"]}"#, &[("c", "String", "x")]));
    }

    #[test]
    fn numeric_and_anything_but() {
        assert!(m(r#"{"p":[100]}"#, &[("p", "Number", "100.0")]));
        assert!(!m(r#"{"p":[100]}"#, &[("p", "String", "100")]));
        assert!(m(
            r#"{"p":[{"numeric":[">",0,"<=",150]}]}"#,
            &[("p", "Number", "150")]
        ));
        assert!(!m(
            r#"{"p":[{"numeric":[">",0,"<",150]}]}"#,
            &[("p", "Number", "150")]
        ));
        assert!(m(
            r#"{"p":[{"numeric":["=",3.5]}]}"#,
            &[("p", "Number", "3.5")]
        ));
        assert!(m(
            r#"{"c":[{"anything-but":["red","blue"]}]}"#,
            &[("c", "String", "green")]
        ));
        assert!(!m(
            r#"{"c":[{"anything-but":"red"}]}"#,
            &[("c", "String", "red")]
        ));
        assert!(!m(r#"{"c":[{"anything-but":"red"}]}"#, &[]));
        assert!(m(
            r#"{"c":[{"anything-but":{"prefix":"re"}}]}"#,
            &[("c", "String", "green")]
        ));
        // SNS supports no suffix inside anything-but.
        assert!(
            parse(
                r#"{"c":[{"anything-but":{"suffix":"ed"}}]}"#,
                Scope::MessageAttributes
            )
            .is_err()
        );
        assert!(m(
            r#"{"p":[{"anything-but":[100]}]}"#,
            &[("p", "Number", "5")]
        ));
    }

    #[test]
    fn exists_arrays_and_or() {
        assert!(m(r#"{"c":[{"exists":true}]}"#, &[("c", "String", "x")]));
        assert!(!m(r#"{"c":[{"exists":true}]}"#, &[]));
        assert!(m(r#"{"c":[{"exists":false}]}"#, &[("d", "String", "x")]));
        assert!(m(
            r#"{"c":["rugby"]}"#,
            &[("c", "String.Array", r#"["soccer","rugby"]"#)]
        ));
        assert!(m(r#"{"c":[5]}"#, &[("c", "String.Array", "[1,5]")]));
        let or = r#"{"a":["1"],"$or":[{"b":["2"]},{"c":["3"]}]}"#;
        assert!(m(or, &[("a", "String", "1"), ("c", "String", "3")]));
        assert!(!m(or, &[("a", "String", "1"), ("c", "String", "4")]));
    }

    #[test]
    fn body_scope_nested_keys() {
        let p = r#"{"store":{"name":["shop"],"zip":[{"prefix":"9"}]},"tags":["x"]}"#;
        assert!(b(
            p,
            r#"{"store":{"name":"shop","zip":"94"},"tags":["y","x"]}"#
        ));
        assert!(!b(
            p,
            r#"{"store":{"name":"shop","zip":"14"},"tags":["x"]}"#
        ));
        assert!(b(
            r#"{"items":{"sku":["a"]}}"#,
            r#"{"items":[{"sku":"b"},{"sku":"a"}]}"#
        ));
        assert!(b(r#"{"ok":[true],"n":[null]}"#, r#"{"ok":true,"n":null}"#));
        assert!(b(r#"{"x":[{"exists":false}]}"#, r#"{"y":1}"#));
        assert!(
            !parse(r#"{"x":["a"]}"#, Scope::MessageBody)
                .unwrap()
                .matches_body(&Json::String("not an object".into()))
        );
    }

    #[test]
    fn validation_and_limits() {
        let err = |p: &str| parse(p, Scope::MessageAttributes).unwrap_err();
        assert_eq!(
            err(r#"{"a":[1],"b":[1],"c":[1],"d":[1],"e":[1],"f":[1]}"#),
            "FilterPolicy: Filter policy can not have more than 5 keys"
        );
        let many: Vec<String> = (0..13).map(|i| format!("\"v{i}\"")).collect();
        let list = many.join(",");
        assert_eq!(
            err(&format!(r#"{{"a":[{list}],"b":[{list}]}}"#)),
            "FilterPolicy: Filter policy is too complex"
        );
        assert!(err(r#"{"a":{"b":["x"]}}"#).contains("does not support nested"));
        assert!(err(r#"{"a":[{"prefixx":"x"}]}"#).contains("Unrecognized match type prefixx"));
        assert!(err(r#"{"a":[{"numeric":[">","x"]}]}"#).contains("Value of > must be numeric"));
        assert!(err(r#"{"a":[{"numeric":[">",1,">",5]}]}"#).contains("Bad numeric range operator"));
        assert!(err(r#"{"a":[{"exists":"yes"}]}"#).contains("exists"));
        assert!(err(r#"{"a":[]}"#).contains("Empty arrays"));
        assert!(err(r#"{"a":"x"}"#).contains("must be an object or an array"));
        assert!(err("[1]").contains("JSON object"));
        assert!(err("{nope").contains("failed to parse JSON"));
        assert!(parse(r#"{"a":{"b":["x"]}}"#, Scope::MessageBody).is_ok());
    }
}
