//! Delivery status logging: a topic with `<Protocol>SuccessFeedbackRoleArn` (sampled at
//! `<Protocol>SuccessFeedbackSampleRate` percent, none when unset) or
//! `<Protocol>FailureFeedbackRoleArn` has each delivery's outcome written to CloudWatch
//! Logs, in the log groups AWS uses: `sns/<region>/<account>/<topic>` for successes and
//! `.../<topic>/Failure` for failures, one new stream per entry, the entry laid out as
//! AWS writes it (`notification`, `delivery`, `status`).
//!
//! SNS writes them as the role: one that does not exist in IAM gets no logs (its trust
//! and permission policies are not evaluated).

use crate::Sns;
use crate::publish::Message;
use crate::state::parse_arn;
use md5::{Digest, Md5};
use nephos_core::{RequestContext, Value};
use serde_json::json;

/// The topic's feedback attributes, taken when the message's deliveries start.
#[derive(Default)]
pub struct Settings(Vec<(String, String)>);

impl Settings {
    pub fn of(attributes: &std::collections::BTreeMap<String, String>) -> Settings {
        Settings(
            attributes
                .iter()
                .filter(|(k, _)| k.contains("FeedbackRoleArn") || k.contains("FeedbackSampleRate"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        )
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The role to log this outcome as, when one is configured (and a success is sampled).
    fn role(&self, prefix: &str, success: bool) -> Option<&str> {
        if success {
            let rate: f64 = self
                .get(&format!("{prefix}SuccessFeedbackSampleRate"))
                .and_then(|r| r.parse().ok())
                .unwrap_or(0.0);
            if rate <= 0.0 || rand::random::<f64>() * 100.0 >= rate {
                return None;
            }
            self.get(&format!("{prefix}SuccessFeedbackRoleArn"))
        } else {
            self.get(&format!("{prefix}FailureFeedbackRoleArn"))
        }
        .filter(|r| !r.is_empty())
    }
}

/// The attribute prefix of a subscription protocol (`HTTP` covers `https` too).
fn prefix(protocol: &str) -> Option<&'static str> {
    Some(match protocol {
        "http" | "https" => "HTTP",
        "sqs" => "SQS",
        "lambda" => "Lambda",
        "firehose" => "Firehose",
        "application" => "Application",
        _ => return None,
    })
}

/// How one delivery ended.
pub struct Outcome {
    pub success: bool,
    pub status_code: u16,
    /// What the endpoint answered, as text (JSON for the AWS services).
    pub provider_response: String,
    /// Tries made, for protocols that retry (HTTP).
    pub attempts: Option<u32>,
}

/// Writes the log entry of one delivery if the topic asks for it.
pub async fn record(
    sns: &Sns,
    settings: &Settings,
    protocol: &str,
    m: &Message,
    destination: &str,
    outcome: Outcome,
) {
    let Some(prefix) = prefix(protocol) else {
        return;
    };
    let Some(role) = settings.role(prefix, outcome.success) else {
        return;
    };
    let Some(topic) = parse_arn(&m.topic_arn) else {
        return;
    };
    let now = sns.clock.now_millis();
    let mut ctx = RequestContext::internal("sns", "PutLogEvents", sns.clock.clone());
    ctx.account_id = topic.account.to_owned();
    ctx.region = topic.region.to_owned();
    let Some(r) = parse_arn(role).filter(|r| r.service == "iam") else {
        return;
    };
    let Some(role_name) = r
        .resource
        .strip_prefix("role/")
        .map(|n| n.rsplit('/').next().unwrap_or(n))
    else {
        return;
    };
    let mut iam = ctx.clone();
    iam.account_id = r.account.to_owned();
    if sns
        .dispatcher
        .call(
            &iam,
            "iam",
            "GetRole",
            Value::map().with("RoleName", role_name),
        )
        .await
        .is_err()
    {
        tracing::debug!(role, "SNS delivery status logging: no such role");
        return;
    }
    let body = m.body_for(protocol);
    let mut delivery = serde_json::Map::new();
    delivery.insert("deliveryId".into(), json!(uuid()));
    delivery.insert("destination".into(), json!(destination));
    delivery.insert("providerResponse".into(), json!(outcome.provider_response));
    delivery.insert(
        "dwellTimeMs".into(),
        json!(iso_millis(&m.timestamp).map_or(0, |t| (now - t).max(0))),
    );
    if let Some(n) = outcome.attempts {
        delivery.insert("attempts".into(), json!(n));
    }
    delivery.insert("statusCode".into(), json!(outcome.status_code));
    let entry = json!({
        "notification": {
            "messageMD5Sum": hex(&Md5::digest(body.as_bytes())),
            "messageId": m.id,
            "topicArn": m.topic_arn,
            // AWS writes this one without the `T` and `Z` of ISO 8601.
            "timestamp": m.timestamp.replace('T', " ").trim_end_matches('Z'),
        },
        "delivery": delivery,
        "status": if outcome.success { "SUCCESS" } else { "FAILURE" },
    });
    let mut group = format!("sns/{}/{}/{}", topic.region, topic.account, topic.resource);
    if !outcome.success {
        group.push_str("/Failure");
    }
    let stream = uuid();
    let _ = sns
        .dispatcher
        .call(
            &ctx,
            "logs",
            "CreateLogGroup",
            Value::map().with("logGroupName", group.as_str()),
        )
        .await;
    let calls = [
        (
            "CreateLogStream",
            Value::map()
                .with("logGroupName", group.as_str())
                .with("logStreamName", stream.as_str()),
        ),
        (
            "PutLogEvents",
            Value::map()
                .with("logGroupName", group.as_str())
                .with("logStreamName", stream.as_str())
                .with(
                    "logEvents",
                    Value::List(vec![
                        Value::map()
                            .with("timestamp", now)
                            .with("message", entry.to_string()),
                    ]),
                ),
        ),
    ];
    for (operation, input) in calls {
        if let Err(e) = sns.dispatcher.call(&ctx, "logs", operation, input).await {
            tracing::debug!(error = %e.message, "SNS delivery status logging failed");
            return;
        }
    }
}

fn uuid() -> String {
    let b: [u8; 16] = rand::random();
    let h = hex(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Milliseconds since the epoch of the `2024-01-02T03:04:05.678Z` a message was stamped with.
fn iso_millis(s: &str) -> Option<i64> {
    let n = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (n(0..4)?, n(5..7)?, n(8..10)?);
    let (h, mi, sec) = (n(11..13)?, n(14..16)?, n(17..19)?);
    let ms = s
        .get(19..)
        .and_then(|f| f.strip_prefix('.'))
        .and_then(|f| f.trim_end_matches('Z').get(..3))
        .and_then(|f| f.parse::<i64>().ok())
        .unwrap_or(0);
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 24 + h) * 60 + mi) * 60_000 + sec * 1000 + ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_timestamps_to_millis() {
        assert_eq!(iso_millis("1970-01-01T00:00:00.000Z"), Some(0));
        assert_eq!(
            iso_millis("2024-03-01T00:00:01.250Z"),
            Some(1_709_251_201_250)
        );
        assert_eq!(iso_millis("2024-03-01T00:00:01Z"), Some(1_709_251_201_000));
        assert_eq!(iso_millis("garbage"), None);
    }

    #[test]
    fn successes_are_logged_only_when_sampled() {
        let attrs = |rate: &str| {
            Settings(vec![
                (
                    "LambdaSuccessFeedbackRoleArn".into(),
                    "arn:aws:iam::1:role/r".into(),
                ),
                ("LambdaSuccessFeedbackSampleRate".into(), rate.into()),
                (
                    "SQSFailureFeedbackRoleArn".into(),
                    "arn:aws:iam::1:role/f".into(),
                ),
            ])
        };
        assert_eq!(
            attrs("100").role("Lambda", true),
            Some("arn:aws:iam::1:role/r")
        );
        assert_eq!(attrs("0").role("Lambda", true), None);
        assert_eq!(attrs("100").role("Lambda", false), None);
        assert_eq!(
            attrs("100").role("SQS", false),
            Some("arn:aws:iam::1:role/f")
        );
        assert_eq!(Settings::default().role("SQS", true), None);
    }
}
