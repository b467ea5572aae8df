//! Time to live: a background task on the shared clock that deletes items whose TTL
//! attribute (a Number of epoch seconds) has passed, as service deletions.

use crate::state::{DynamoDb, ITEMS, item_record_key};
use nephos_storage::Mutation;
use std::sync::Weak;

/// AWS never deletes items whose expiry lies more than five years in the past.
const MAX_AGE_SECS: i64 = 5 * 365 * 24 * 3600;
/// How often the task looks for expired items without a clock advance.
const PERIOD_MS: i64 = 1000;
/// Deletions per table per pass, so one pass never holds a table lock for long.
const BATCH: usize = 1000;

pub async fn expiry_task(db: Weak<DynamoDb>) {
    loop {
        let Some(clock) = db.upgrade().map(|d| d.clock.clone()) else {
            return;
        };
        // Wakes after a second of real time or as soon as a test advances the clock.
        clock.sleep_until(clock.now_millis() + PERIOD_MS).await;
        let Some(db) = db.upgrade() else { return };
        while db.expire_items().await > 0 {}
    }
}

impl DynamoDb {
    /// Deletes up to [`BATCH`] expired items per table; returns how many it deleted.
    pub async fn expire_items(&self) -> usize {
        let now_ms = self.clock.now_millis();
        let now_s = now_ms.div_euclid(1000);
        let mut deleted = 0;
        for (_, region) in self.state.all() {
            let tables: Vec<_> = region.tables.read().unwrap().values().cloned().collect();
            for t in tables {
                let pending = {
                    let mut t = t.write().unwrap();
                    if t.meta.ttl_attribute.is_none() || t.ttl.is_empty() {
                        continue;
                    }
                    let due: Vec<Box<[u8]>> = t
                        .ttl
                        .range((now_s - MAX_AGE_SECS, Box::<[u8]>::from(&[][..]))..)
                        .take_while(|(e, _)| e.saturating_mul(1000) <= now_ms)
                        .take(BATCH)
                        .map(|(_, k)| k.clone())
                        .collect();
                    if due.is_empty() {
                        continue;
                    }
                    let mut batch = Vec::with_capacity(due.len());
                    for k in due {
                        if let Some(old) = t.remove(&k) {
                            t.changed(now_ms, Some(&old), None, true);
                            batch.push(Mutation::delete(ITEMS, item_record_key(&t.meta.id, &k)));
                            deleted += 1;
                        }
                    }
                    batch.extend(t.take_journal());
                    self.start_commit(batch)
                };
                if let Err(e) = pending.wait().await {
                    tracing::warn!(error = ?e.message, "storing TTL deletions failed");
                }
            }
        }
        deleted
    }
}
