//! The outbox: messages for endpoints nephos cannot reach (email, SMS, mobile push) and
//! delivery attempts to services that do not exist yet (Lambda, Firehose), kept in memory
//! and served at `GET /_nephos/sns/outbox` (cleared with `DELETE`).

use serde_json::{Value as Json, json};
use std::sync::Mutex;

/// At most this many entries are kept; the oldest go first.
const CAPACITY: usize = 10_000;

#[derive(Debug, Default)]
pub struct Outbox {
    entries: Mutex<std::collections::VecDeque<Json>>,
}

/// One message as it would have left the machine.
pub struct Entry<'a> {
    pub protocol: &'a str,
    pub endpoint: &'a str,
    pub subject: Option<&'a str>,
    pub message: &'a str,
    pub attributes: Json,
    pub timestamp: String,
    pub topic_arn: Option<&'a str>,
    pub subscription_arn: Option<&'a str>,
    pub message_id: &'a str,
    /// Why the message stays here (`Lambda is not emulated yet`), or kind of message.
    pub note: Option<&'a str>,
}

impl Outbox {
    pub fn push(&self, e: Entry<'_>) {
        let mut v = json!({
            "protocol": e.protocol,
            "endpoint": e.endpoint,
            "subject": e.subject,
            "message": e.message,
            "attributes": e.attributes,
            "timestamp": e.timestamp,
            "topicArn": e.topic_arn,
            "subscriptionArn": e.subscription_arn,
            "messageId": e.message_id,
        });
        if let Some(note) = e.note {
            v["note"] = json!(note);
        }
        let mut entries = self.entries.lock().unwrap();
        if entries.len() >= CAPACITY {
            entries.pop_front();
        }
        entries.push_back(v);
    }

    pub fn to_json(&self) -> String {
        let entries = self.entries.lock().unwrap();
        Json::Array(entries.iter().cloned().collect()).to_string()
    }

    pub fn clear(&self) {
        self.entries.lock().unwrap().clear();
    }
}
