//! Event filtering of event source mappings (`FilterCriteria`): EventBridge's pattern
//! language over a record (an SQS message with its `body` parsed when it is JSON, a
//! DynamoDB stream record). A record passes when any filter matches it.

use serde_json::Value as Json;

/// A filter's `Pattern` text, checked when the mapping is created.
pub fn parse(pattern: &str) -> Result<Json, String> {
    let v: Json = serde_json::from_str(pattern).map_err(|e| e.to_string())?;
    if !v.is_object() {
        return Err("a filter pattern must be a JSON object".into());
    }
    well_formed(&v)?;
    Ok(v)
}

/// Every field of a pattern is a nested pattern or a non-empty list of alternatives, as
/// Lambda requires (`{"eventSource": "aws:sqs"}` and `{"eventSource": []}` are refused).
fn well_formed(pattern: &Json) -> Result<(), String> {
    let Some(fields) = pattern.as_object() else {
        return Err("a filter pattern must be a JSON object".into());
    };
    for (k, rule) in fields {
        match rule {
            Json::Object(_) => well_formed(rule)?,
            Json::Array(alternatives) if !alternatives.is_empty() => {}
            _ => return Err(format!("the rule of {k} must be a non-empty list")),
        }
    }
    Ok(())
}

/// Whether `record` matches `pattern`: every key of the pattern must match.
pub fn matches(pattern: &Json, record: &Json) -> bool {
    let Some(p) = pattern.as_object() else {
        return false;
    };
    p.iter().all(|(k, rule)| {
        let field = record.get(k);
        match rule {
            Json::Object(_) => field.is_some_and(|f| matches(rule, f)),
            Json::Array(alternatives) => alternatives.iter().any(|alt| {
                match field {
                    // A list field matches when any of its elements does.
                    Some(Json::Array(items)) => items.iter().any(|i| value_matches(alt, Some(i))),
                    other => value_matches(alt, other),
                }
            }),
            _ => false,
        }
    })
}

fn value_matches(rule: &Json, field: Option<&Json>) -> bool {
    match rule {
        Json::Object(op) => {
            let Some((name, arg)) = op.iter().next() else {
                return false;
            };
            match name.as_str() {
                // Only leaves exist for `exists`: an object in the record is not one.
                "exists" => {
                    arg.as_bool() == Some(field.is_some_and(|f| !f.is_null() && !f.is_object()))
                }
                "prefix" => match (arg.as_str(), field.and_then(Json::as_str)) {
                    (Some(p), Some(s)) => s.starts_with(p),
                    _ => false,
                },
                "suffix" => match (arg.as_str(), field.and_then(Json::as_str)) {
                    (Some(p), Some(s)) => s.ends_with(p),
                    _ => false,
                },
                "equals-ignore-case" => match (arg.as_str(), field.and_then(Json::as_str)) {
                    (Some(p), Some(s)) => s.eq_ignore_ascii_case(p),
                    _ => false,
                },
                "anything-but" => {
                    let Some(f) = field else { return false };
                    match arg {
                        Json::Array(list) => !list.iter().any(|x| x == f),
                        Json::Object(_) => !value_matches(arg, Some(f)),
                        x => x != f,
                    }
                }
                "numeric" => field
                    .and_then(Json::as_f64)
                    .is_some_and(|n| numeric(arg, n)),
                _ => false,
            }
        }
        Json::Null => field.is_none_or(Json::is_null),
        exact => field == Some(exact),
    }
}

fn numeric(ops: &Json, n: f64) -> bool {
    let Some(list) = ops.as_array() else {
        return false;
    };
    list.chunks(2).all(|pair| {
        let (Some(op), Some(v)) = (pair[0].as_str(), pair.get(1).and_then(Json::as_f64)) else {
            return false;
        };
        match op {
            "=" => n == v,
            "<" => n < v,
            "<=" => n <= v,
            ">" => n > v,
            ">=" => n >= v,
            _ => false,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn patterns_match_as_eventbridge_does() {
        let r =
            json!({"body": {"kind": "order", "total": 12, "tags": ["a", "b"]}, "attributes": {}});
        assert!(matches(&json!({"body": {"kind": ["order"]}}), &r));
        assert!(!matches(&json!({"body": {"kind": ["refund"]}}), &r));
        assert!(matches(
            &json!({"body": {"total": [{"numeric": [">", 10, "<=", 12]}]}}),
            &r
        ));
        assert!(matches(&json!({"body": {"kind": [{"prefix": "ord"}]}}), &r));
        assert!(matches(&json!({"body": {"tags": ["b"]}}), &r));
        assert!(matches(
            &json!({"body": {"missing": [{"exists": false}]}}),
            &r
        ));
        assert!(matches(
            &json!({"body": {"kind": [{"anything-but": ["refund"]}]}}),
            &r
        ));
        assert!(!matches(
            &json!({"body": {"kind": [{"anything-but": "order"}]}}),
            &r
        ));
    }
}
