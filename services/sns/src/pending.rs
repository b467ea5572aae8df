//! Published messages whose deliveries have not all ended, kept with `--data-dir` so an
//! acknowledged Publish survives `kill -9`.
//!
//! A message is written here before Publish answers and removed when the last of its
//! deliveries has ended (the last `Arc<Message>` drops, HTTP retries included). On start,
//! what is left is handed to the topic's subscribers again, once the server can deliver
//! (dispatcher wired, endpoint known): delivery is at-least-once, as with SNS, so a
//! subscriber that got a message just before the crash may get it twice.

use crate::Sns;
use crate::publish::{Attribute, Message};
use nephos_storage::Mutation;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Weak};

pub const PENDING: &str = "sns.pending";

#[derive(Serialize, Deserialize)]
struct Record {
    id: String,
    topic_arn: String,
    subject: Option<String>,
    default: String,
    per_protocol: Option<HashMap<String, String>>,
    attributes: Vec<(String, StoredAttribute)>,
    group_id: Option<String>,
    dedup_id: Option<String>,
    sequence: Option<String>,
    timestamp: String,
    /// Absent in records of older versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    trace_header: Option<String>,
    fifo: bool,
}

#[derive(Serialize, Deserialize)]
struct StoredAttribute {
    data_type: String,
    string: Option<String>,
    binary: Option<Vec<u8>>,
}

/// Removes the message's record when dropped, that is when its deliveries have ended.
pub struct Done {
    sns: Weak<Sns>,
    key: Vec<u8>,
}

impl std::fmt::Debug for Done {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Done")
    }
}

impl Drop for Done {
    fn drop(&mut self) {
        let (Some(sns), Ok(rt)) = (self.sns.upgrade(), tokio::runtime::Handle::try_current())
        else {
            return;
        };
        let key = std::mem::take(&mut self.key);
        rt.spawn(async move {
            if let Err(e) = sns
                .storage
                .commit(vec![Mutation::delete(PENDING, key)])
                .await
            {
                tracing::warn!(error = %e, "forgetting a delivered SNS message failed");
            }
        });
    }
}

fn key(m: &Message) -> Vec<u8> {
    format!("{}\t{}", m.topic_arn, m.id).into_bytes()
}

/// The mutation that keeps `m` until its deliveries end.
pub fn record(m: &Message, fifo: bool) -> Mutation {
    let r = Record {
        id: m.id.clone(),
        topic_arn: m.topic_arn.clone(),
        subject: m.subject.clone(),
        default: m.default.clone(),
        per_protocol: m.per_protocol.clone(),
        attributes: m
            .attributes
            .iter()
            .map(|(k, a)| {
                let stored = StoredAttribute {
                    data_type: a.data_type.clone(),
                    string: a.string.clone(),
                    binary: a.binary.as_ref().map(|b| b.to_vec()),
                };
                (k.clone(), stored)
            })
            .collect(),
        group_id: m.group_id.clone(),
        dedup_id: m.dedup_id.clone(),
        sequence: m.sequence.clone(),
        timestamp: m.timestamp.clone(),
        trace_header: m.trace_header.clone(),
        fifo,
    };
    Mutation::put(PENDING, key(m), serde_json::to_vec(&r).unwrap_or_default())
}

/// Ties `m`'s record to its lifetime.
pub fn watch(sns: &Arc<Sns>, m: &mut Message) {
    m.done = Some(Done {
        sns: Arc::downgrade(sns),
        key: key(m),
    });
}

/// The messages a previous run left undelivered, with whether their topic is FIFO.
pub fn load(sns: &Sns) -> Result<Vec<(Message, bool)>, String> {
    let mut out = Vec::new();
    for (_, value) in sns.storage.load(PENDING).map_err(|e| e.to_string())? {
        let r: Record = serde_json::from_slice(&value).map_err(|e| e.to_string())?;
        let message = Message {
            id: r.id,
            topic_arn: r.topic_arn,
            subject: r.subject,
            default: r.default,
            per_protocol: r.per_protocol,
            attributes: r
                .attributes
                .into_iter()
                .map(|(k, a)| {
                    let attribute = Attribute {
                        data_type: a.data_type,
                        string: a.string,
                        binary: a.binary.map(bytes::Bytes::from),
                    };
                    (k, attribute)
                })
                .collect(),
            group_id: r.group_id,
            dedup_id: r.dedup_id,
            sequence: r.sequence,
            timestamp: r.timestamp,
            trace_header: r.trace_header,
            done: None,
        };
        out.push((message, r.fifo));
    }
    Ok(out)
}

/// Hands the messages of a previous run to their subscribers once the server can
/// deliver: the in-process dispatcher wired and the endpoint (for envelope URLs) known.
pub fn resume(sns: &Arc<Sns>, left: Vec<(Message, bool)>) {
    if left.is_empty() {
        return;
    }
    let Ok(rt) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let sns = sns.clone();
    rt.spawn(async move {
        while !(sns.dispatcher.is_wired() && sns.endpoint.get().is_some()) {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        tracing::info!(
            messages = left.len(),
            "resuming SNS deliveries cut off by a restart"
        );
        for (mut m, fifo) in left {
            watch(&sns, &mut m);
            crate::delivery::fan_out(&sns, Arc::new(m), fifo);
        }
    });
}
