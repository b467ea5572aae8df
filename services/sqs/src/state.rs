//! Where queues live: per account and region, found by URL or ARN, persisted as records.

use crate::errors;
use crate::names::{self, QueueRef};
use crate::queue::{DEDUP, DedupRecord, Meta, Queue, RECEIPTS, Receipt, SEQS, Stored};
use nephos_core::{AwsError, RequestContext, Scoped};
use nephos_storage::{Mutation, Storage};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};

pub const QUEUES: &str = "sqs.queues";
pub const MESSAGES: &str = "sqs.messages";

/// The deletions that forget a queue's messages, their receive state, its deduplication
/// entries and its sequence reservation (purge keeps the last two).
pub fn forget_messages(q: &Queue, seqs: &[u64]) -> Vec<Mutation> {
    let mut batch = Vec::with_capacity(seqs.len() * 2);
    for &s in seqs {
        batch.push(Mutation::delete(MESSAGES, q.msg_key(s)));
        batch.push(Mutation::delete(RECEIPTS, q.msg_key(s)));
    }
    batch
}

/// The queues of one account in one region.
#[derive(Default)]
pub struct Region {
    pub queues: RwLock<BTreeMap<String, Arc<Queue>>>,
    /// Names deleted, with when: reusable 60 s later.
    pub deleted: Mutex<HashMap<String, i64>>,
}

pub struct Core {
    pub regions: Scoped<Region>,
    pub storage: Storage,
    pub tasks: crate::moves::Tasks,
}

impl Core {
    /// Rebuilds queues and messages from storage.
    pub fn load(storage: Storage) -> Result<Core, String> {
        let core = Core {
            regions: Scoped::regional(),
            storage,
            tasks: Default::default(),
        };
        let now = wall_ms();
        for (key, value) in core.storage.load(QUEUES).map_err(|e| e.to_string())? {
            let key = String::from_utf8_lossy(&key).into_owned();
            let mut parts = key.splitn(3, '\t');
            let (Some(account), Some(region), Some(name)) =
                (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let meta: Meta = serde_json::from_slice(&value).map_err(|e| e.to_string())?;
            let durable = core.storage.is_durable();
            let q = Arc::new(Queue::new(account, region, name, meta, now, durable));
            core.regions
                .get_for(account, region)
                .queues
                .write()
                .unwrap()
                .insert(name.to_owned(), q);
        }
        for (key, value) in core.storage.load(MESSAGES).map_err(|e| e.to_string())? {
            let key = String::from_utf8_lossy(&key).into_owned();
            let mut parts = key.splitn(4, '\t');
            let (Some(account), Some(region), Some(name), Some(seq)) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let Ok(seq) = seq.parse::<u64>() else {
                continue;
            };
            let Some(q) = core.find(account, region, name) else {
                continue;
            };
            let stored: Stored = serde_json::from_slice(&value).map_err(|e| e.to_string())?;
            q.inner.lock().unwrap().insert(seq, stored, now);
        }
        core.load_receive_state(now)?;
        Ok(core)
    }

    /// Reapplies what receives, FIFO deduplication and sequence numbering left in storage.
    fn load_receive_state(&self, now: i64) -> Result<(), String> {
        for (key, value) in self.storage.load(RECEIPTS).map_err(|e| e.to_string())? {
            let Some((q, seq)) = self.keyed(&key) else {
                continue;
            };
            let Ok(seq) = seq.parse::<u64>() else {
                continue;
            };
            let r: Receipt = serde_json::from_slice(&value).map_err(|e| e.to_string())?;
            q.inner.lock().unwrap().restore_receipt(seq, r, now);
        }
        // Keys sort by expiry within a queue, the order the in-memory window expects.
        for (key, value) in self.storage.load(DEDUP).map_err(|e| e.to_string())? {
            let Some((q, rest)) = self.keyed(&key) else {
                continue;
            };
            let Some((exp, dedup)) = rest.split_once('\t') else {
                continue;
            };
            let Ok(exp) = exp.parse::<i64>() else {
                continue;
            };
            let r: DedupRecord = serde_json::from_slice(&value).map_err(|e| e.to_string())?;
            let mut inner = q.inner.lock().unwrap();
            inner.restore_dedup(dedup.to_owned(), r.id, r.seq, exp);
            // Drops what expired while the server was down (and queues its clean-up).
            inner.duplicate("", now);
        }
        for (key, value) in self.storage.load(SEQS).map_err(|e| e.to_string())? {
            let key = String::from_utf8_lossy(&key).into_owned();
            let mut parts = key.splitn(3, '\t');
            let (Some(account), Some(region), Some(name)) =
                (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let Some(q) = self.find(account, region, name) else {
                continue;
            };
            if let Ok(reserved) = String::from_utf8_lossy(&value).parse::<u64>() {
                q.inner.lock().unwrap().restore_reservation(reserved);
            }
        }
        Ok(())
    }

    /// The queue a `account\tregion\tname\trest` key belongs to, and the rest.
    fn keyed(&self, key: &[u8]) -> Option<(Arc<Queue>, String)> {
        let key = std::str::from_utf8(key).ok()?;
        let mut parts = key.splitn(4, '\t');
        let (account, region, name, rest) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        Some((self.find(account, region, name)?, rest.to_owned()))
    }

    pub fn find(&self, account: &str, region: &str, name: &str) -> Option<Arc<Queue>> {
        self.regions
            .get_for(account, region)
            .queues
            .read()
            .unwrap()
            .get(name)
            .cloned()
    }

    pub fn by_arn(&self, arn: &str) -> Option<Arc<Queue>> {
        let r = names::parse_arn(arn)?;
        self.find(&r.account, r.region.as_deref()?, &r.name)
    }

    /// The queue a request's `QueueUrl` names, if the caller may perform the request's
    /// operation on it (its owner always may; others need the queue policy's grant).
    pub fn resolve(&self, ctx: &RequestContext, url: &str) -> Result<Arc<Queue>, AwsError> {
        let r: QueueRef = names::parse_url(url, &ctx.account_id)?;
        let region = r.region.as_deref().unwrap_or(&ctx.region);
        let q = self
            .find(&r.account, region, &r.name)
            .ok_or_else(errors::queue_does_not_exist)?;
        self.authorize(ctx, &q, &ctx.operation, url)?;
        Ok(q)
    }

    pub fn authorize(
        &self,
        ctx: &RequestContext,
        q: &Queue,
        action: &str,
        url: &str,
    ) -> Result<(), AwsError> {
        // The owner's identities need no policy; a service (SNS or S3 sending
        // for its resources) always does, in its own account too, as on AWS.
        if q.account == ctx.account_id && !nephos_policy::is_service_caller(&ctx.caller_arn) {
            return Ok(());
        }
        // Parsed once per change of the text (SNS fan-out asks on every message).
        let policy = {
            let inner = q.inner.lock().unwrap();
            inner
                .meta()
                .attrs
                .get("Policy")
                .and_then(|text| q.policy(text))
        };
        let caller = nephos_policy::Caller::from_context(&ctx.account_id, &ctx.caller_arn);
        let action = format!("sqs:{action}");
        if policy.is_some_and(|p| p.allows(&caller, &action, &q.arn))
            || !nephos_policy::refuse_service_delivery(&ctx.caller_arn, &action, &q.arn)
        {
            Ok(())
        } else {
            Err(errors::access_denied(url))
        }
    }

    pub async fn commit(&self, batch: Vec<Mutation>) -> Result<(), AwsError> {
        self.storage.commit(batch).await.map_err(errors::storage)
    }

    pub fn meta_mutation(q: &Queue, meta: &Meta) -> Mutation {
        Mutation::put(
            QUEUES,
            q.key().into_bytes(),
            serde_json::to_vec(meta).unwrap_or_default(),
        )
    }

    pub fn msg_mutation(q: &Queue, seq: u64, m: &Stored) -> Mutation {
        Mutation::put(
            MESSAGES,
            q.msg_key(seq),
            serde_json::to_vec(m).unwrap_or_default(),
        )
    }
}

fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
