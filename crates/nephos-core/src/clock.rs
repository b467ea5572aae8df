//! The one clock of nephos.
//!
//! Every time-driven behaviour (visibility timeouts, TTLs, lifecycle rules, credential
//! expiry, schedules) reads [`Clock::now`] and waits with [`Clock::sleep_until`], so a test
//! that advances the clock moves every service forward at once.

use crate::Timestamp;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::Notify;

/// Wall-clock time plus an offset that only grows.
#[derive(Debug, Default)]
pub struct Clock {
    offset_ms: AtomicI64,
    advanced: Notify,
}

impl Clock {
    pub fn new() -> Clock {
        Clock::default()
    }

    /// Milliseconds since the Unix epoch, as nephos sees it.
    pub fn now_millis(&self) -> i64 {
        let real = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        real + self.offset_ms.load(Ordering::Relaxed)
    }

    pub fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.now_millis())
    }

    /// How far the clock has been advanced, in milliseconds.
    pub fn offset_millis(&self) -> i64 {
        self.offset_ms.load(Ordering::Relaxed)
    }

    /// Moves the clock forward and wakes every sleeper so it re-checks its deadline.
    pub fn advance(&self, by: Duration) {
        self.offset_ms
            .fetch_add(by.as_millis() as i64, Ordering::Relaxed);
        self.advanced.notify_waiters();
    }

    /// Waits until [`Clock::now_millis`] reaches `deadline_ms`, by real time or by advances.
    pub async fn sleep_until(&self, deadline_ms: i64) {
        loop {
            let notified = self.advanced.notified();
            let left = deadline_ms - self.now_millis();
            if left <= 0 {
                return;
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(left as u64)) => {}
                _ = notified => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn advancing_wakes_sleepers() {
        let clock = Arc::new(Clock::new());
        let deadline = clock.now_millis() + 3_600_000;
        let c = clock.clone();
        let sleeper = tokio::spawn(async move { c.sleep_until(deadline).await });
        tokio::task::yield_now().await;
        clock.advance(Duration::from_secs(3601));
        tokio::time::timeout(Duration::from_secs(2), sleeper)
            .await
            .unwrap()
            .unwrap();
        assert!(clock.now_millis() >= deadline);
    }
}
