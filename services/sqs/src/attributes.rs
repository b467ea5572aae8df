//! Queue attributes: which exist, which a client may set, their ranges and defaults.

use crate::errors;
use nephos_core::AwsError;
use std::collections::BTreeMap;

/// The largest message (and batch) SQS takes: 1 MiB since August 2025.
pub const MAX_MESSAGE_SIZE: i64 = 1_048_576;

/// Settable attributes with their integer ranges (`None`: not an integer).
const SETTABLE: &[(&str, Option<(i64, i64)>)] = &[
    ("DelaySeconds", Some((0, 900))),
    ("MaximumMessageSize", Some((1024, MAX_MESSAGE_SIZE))),
    ("MessageRetentionPeriod", Some((60, 1_209_600))),
    ("ReceiveMessageWaitTimeSeconds", Some((0, 20))),
    ("VisibilityTimeout", Some((0, 43_200))),
    ("KmsDataKeyReusePeriodSeconds", Some((60, 86_400))),
    ("Policy", None),
    ("RedrivePolicy", None),
    ("RedriveAllowPolicy", None),
    ("KmsMasterKeyId", None),
    ("SqsManagedSseEnabled", None),
    ("FifoQueue", None),
    ("ContentBasedDeduplication", None),
    ("DeduplicationScope", None),
    ("FifoThroughputLimit", None),
];

/// Attributes only GetQueueAttributes reports.
pub const READ_ONLY: &[&str] = &[
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
    "CreatedTimestamp",
    "LastModifiedTimestamp",
    "QueueArn",
];

pub fn is_known(name: &str) -> bool {
    name == "All" || READ_ONLY.contains(&name) || SETTABLE.iter().any(|(n, _)| *n == name)
}

/// The value of a settable attribute when the client never set it.
pub fn default(name: &str, fifo: bool, set: &BTreeMap<String, String>) -> Option<String> {
    Some(
        match name {
            "DelaySeconds" => "0",
            "MaximumMessageSize" => "1048576",
            "MessageRetentionPeriod" => "345600",
            "ReceiveMessageWaitTimeSeconds" => "0",
            "VisibilityTimeout" => "30",
            // New queues get SSE-SQS unless a KMS key is chosen.
            "SqsManagedSseEnabled" => {
                if set.contains_key("KmsMasterKeyId") {
                    "false"
                } else {
                    "true"
                }
            }
            "KmsDataKeyReusePeriodSeconds" if set.contains_key("KmsMasterKeyId") => "300",
            "FifoQueue" if fifo => "true",
            "ContentBasedDeduplication" if fifo => "false",
            "DeduplicationScope" if fifo => "queue",
            "FifoThroughputLimit" if fifo => "perQueue",
            _ => return None,
        }
        .to_owned(),
    )
}

/// Checks attributes a client sets (on CreateQueue when `creating`) and returns them
/// normalized. Cross-queue checks (dead-letter targets) are the caller's.
pub fn validate(
    attrs: &BTreeMap<String, String>,
    fifo: bool,
    creating: bool,
) -> Result<BTreeMap<String, String>, AwsError> {
    let mut out = BTreeMap::new();
    for (name, value) in attrs {
        let Some((_, range)) = SETTABLE.iter().find(|(n, _)| n == name) else {
            return Err(errors::invalid_attribute_name(name));
        };
        if let Some((lo, hi)) = range {
            match value.trim().parse::<i64>() {
                Ok(n) if (*lo..=*hi).contains(&n) => {
                    out.insert(name.clone(), n.to_string());
                    continue;
                }
                _ => return Err(errors::invalid_attribute_value(name)),
            }
        }
        if !fifo {
            match name.as_str() {
                // Standard queues know no FifoQueue attribute, not even "false".
                "FifoQueue" | "ContentBasedDeduplication" => {
                    return Err(errors::invalid_attribute_name(name));
                }
                "DeduplicationScope" | "FifoThroughputLimit" => {
                    return Err(AwsError::new(
                        400,
                        "InvalidAttributeName",
                        format!("You can specify the {name} only when FifoQueue is set to true."),
                    ));
                }
                _ => {}
            }
        }
        let normalized = match name.as_str() {
            "FifoQueue" => match value.to_ascii_lowercase().as_str() {
                "true" => "true".to_owned(),
                _ if !creating => {
                    return Err(AwsError::new(
                        400,
                        "InvalidAttributeValue",
                        "Invalid value for the parameter FifoQueue. Reason: Modifying queue type is not supported.",
                    ));
                }
                _ => return Err(errors::invalid_attribute_value(name)),
            },
            "ContentBasedDeduplication" | "SqsManagedSseEnabled" => {
                match value.to_ascii_lowercase().as_str() {
                    "true" => "true".to_owned(),
                    "false" => "false".to_owned(),
                    _ => return Err(errors::invalid_attribute_value(name)),
                }
            }
            "DeduplicationScope" => match value.as_str() {
                "messageGroup" | "queue" => value.clone(),
                _ => return Err(errors::invalid_attribute_value(name)),
            },
            "FifoThroughputLimit" => match value.as_str() {
                "perQueue" | "perMessageGroupId" => value.clone(),
                _ => return Err(errors::invalid_attribute_value(name)),
            },
            "Policy" => {
                if !value.is_empty() {
                    let doc: serde_json::Value = serde_json::from_str(value)
                        .map_err(|_| errors::invalid_attribute_value(name))?;
                    if !doc.is_object() {
                        return Err(errors::invalid_attribute_value(name));
                    }
                }
                value.clone()
            }
            "RedrivePolicy" => {
                if value.is_empty() {
                    String::new()
                } else {
                    redrive_policy(value)?.to_json()
                }
            }
            "RedriveAllowPolicy" => {
                if value.is_empty() {
                    String::new()
                } else {
                    redrive_allow_policy(value)?.to_json()
                }
            }
            _ => value.clone(),
        };
        out.insert(name.clone(), normalized);
    }
    // High throughput needs deduplication per message group.
    if out.get("FifoThroughputLimit").map(String::as_str) == Some("perMessageGroupId")
        && out.get("DeduplicationScope").map(String::as_str) == Some("queue")
    {
        return Err(errors::invalid_parameter(
            "The perMessageGroupId value is allowed only when the value for DeduplicationScope is messageGroup",
        ));
    }
    Ok(out)
}

/// A parsed redrive policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Redrive {
    pub target_arn: String,
    pub max_receive_count: i64,
}

impl Redrive {
    fn to_json(&self) -> String {
        serde_json::json!({
            "deadLetterTargetArn": self.target_arn,
            "maxReceiveCount": self.max_receive_count,
        })
        .to_string()
    }
}

fn redrive_invalid(value: &str, reason: &str) -> AwsError {
    errors::invalid_parameter(format!(
        "Value {value} for parameter RedrivePolicy is invalid. Reason: {reason}"
    ))
}

pub fn redrive_policy(value: &str) -> Result<Redrive, AwsError> {
    let doc: serde_json::Value = serde_json::from_str(value)
        .map_err(|_| redrive_invalid(value, "Invalid JSON in redrive policy."))?;
    let target = doc
        .get("deadLetterTargetArn")
        .and_then(|v| v.as_str())
        .ok_or_else(|| {
            redrive_invalid(
                value,
                "Redrive policy does not contain mandatory attribute: deadLetterTargetArn.",
            )
        })?;
    let count = match doc.get("maxReceiveCount") {
        Some(serde_json::Value::Number(n)) => n.as_i64(),
        Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
        None => {
            return Err(redrive_invalid(
                value,
                "Redrive policy does not contain mandatory attribute: maxReceiveCount.",
            ));
        }
        _ => None,
    };
    let Some(count) = count.filter(|c| (1..=1000).contains(c)) else {
        return Err(redrive_invalid(
            value,
            "Invalid value for maxReceiveCount: must be an integer between 1 and 1000.",
        ));
    };
    if crate::names::parse_arn(target).is_none() {
        return Err(redrive_invalid(
            value,
            "Invalid value for deadLetterTargetArn.",
        ));
    }
    Ok(Redrive {
        target_arn: target.to_owned(),
        max_receive_count: count,
    })
}

/// Who may use a queue as its dead-letter queue.
#[derive(Debug, Clone, PartialEq)]
pub enum RedriveAllow {
    All,
    None,
    Queues(Vec<String>),
}

impl RedriveAllow {
    pub fn allows(&self, source_arn: &str) -> bool {
        match self {
            RedriveAllow::All => true,
            RedriveAllow::None => false,
            RedriveAllow::Queues(q) => q.iter().any(|a| a == source_arn),
        }
    }

    fn to_json(&self) -> String {
        match self {
            RedriveAllow::All => serde_json::json!({"redrivePermission": "allowAll"}),
            RedriveAllow::None => serde_json::json!({"redrivePermission": "denyAll"}),
            RedriveAllow::Queues(q) => {
                serde_json::json!({"redrivePermission": "byQueue", "sourceQueueArns": q})
            }
        }
        .to_string()
    }
}

pub fn redrive_allow_policy(value: &str) -> Result<RedriveAllow, AwsError> {
    let bad = |reason: &str| {
        errors::invalid_parameter(format!(
            "Value {value} for parameter RedriveAllowPolicy is invalid. Reason: {reason}"
        ))
    };
    let doc: serde_json::Value =
        serde_json::from_str(value).map_err(|_| bad("Invalid JSON in redrive allow policy."))?;
    let arns: Option<Vec<String>> = doc.get("sourceQueueArns").map(|v| {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    });
    match doc.get("redrivePermission").and_then(|v| v.as_str()) {
        Some("allowAll") if arns.is_none() => Ok(RedriveAllow::All),
        Some("denyAll") if arns.is_none() => Ok(RedriveAllow::None),
        Some("allowAll" | "denyAll") => Err(bad(
            "Only byQueue redrivePermission allows sourceQueueArns.",
        )),
        Some("byQueue") => match arns {
            Some(a) if !a.is_empty() && a.len() <= 10 => Ok(RedriveAllow::Queues(a)),
            _ => Err(bad(
                "byQueue redrivePermission requires between 1 and 10 sourceQueueArns.",
            )),
        },
        _ => Err(bad(
            "Invalid value for redrivePermission: must be one of allowAll, denyAll, byQueue.",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn ranges() {
        assert!(validate(&m(&[("DelaySeconds", "900")]), false, true).is_ok());
        assert!(validate(&m(&[("DelaySeconds", "901")]), false, true).is_err());
        assert!(validate(&m(&[("VisibilityTimeout", "43201")]), false, true).is_err());
        assert!(validate(&m(&[("MaximumMessageSize", "1023")]), false, true).is_err());
        assert!(validate(&m(&[("MessageRetentionPeriod", "59")]), false, true).is_err());
        assert!(validate(&m(&[("ReceiveMessageWaitTimeSeconds", "21")]), false, true).is_err());
        assert!(validate(&m(&[("DelaySeconds", "x")]), false, true).is_err());
        let e = validate(&m(&[("Bogus", "1")]), false, true).unwrap_err();
        assert_eq!(e.code, "InvalidAttributeName");
    }

    #[test]
    fn fifo_rules() {
        assert!(validate(&m(&[("ContentBasedDeduplication", "true")]), false, true).is_err());
        assert!(validate(&m(&[("FifoQueue", "true")]), false, true).is_err());
        assert!(validate(&m(&[("FifoQueue", "true")]), true, true).is_ok());
        assert!(validate(&m(&[("FifoQueue", "true")]), true, false).is_ok());
        assert!(validate(&m(&[("FifoQueue", "false")]), true, false).is_err());
        assert!(validate(&m(&[("FifoQueue", "false")]), false, true).is_err());
        assert!(
            validate(
                &m(&[
                    ("FifoThroughputLimit", "perMessageGroupId"),
                    ("DeduplicationScope", "queue")
                ]),
                true,
                true
            )
            .is_err()
        );
    }

    #[test]
    fn redrive() {
        let r = redrive_policy(
            r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:123456789012:d","maxReceiveCount":"3"}"#,
        )
        .unwrap();
        assert_eq!(r.max_receive_count, 3);
        assert!(redrive_policy(r#"{"maxReceiveCount":3}"#).is_err());
        assert!(
            redrive_policy(
                r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:123456789012:d","maxReceiveCount":0}"#
            )
            .is_err()
        );
        assert_eq!(
            redrive_allow_policy(r#"{"redrivePermission":"denyAll"}"#).unwrap(),
            RedriveAllow::None
        );
        assert!(redrive_allow_policy(r#"{"redrivePermission":"byQueue"}"#).is_err());
    }
}
