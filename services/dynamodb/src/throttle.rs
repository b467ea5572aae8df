//! Provisioned-throughput throttling (off unless `--dynamodb-throttling`): every table in
//! PROVISIONED mode, and each of its global secondary indexes, has a read and a write
//! token bucket on the shared clock that refills at the provisioned units per second and
//! keeps up to 300 seconds of unused capacity (AWS's burst capacity). A request whose
//! capacity does not fit fails with ProvisionedThroughputExceededException; a write whose
//! GSI is out of capacity is throttled on the base table, as AWS does.

use crate::capacity::{Consumed, Kind};
use crate::state::DynamoDb;
use crate::table::Table;
use nephos_core::AwsError;
use std::collections::HashMap;

/// Seconds of unused capacity a bucket keeps.
const BURST_SECONDS: f64 = 300.0;

#[derive(Debug, Clone)]
pub struct Bucket {
    tokens: f64,
    last_ms: i64,
}

impl Bucket {
    /// A bucket that starts with one second of capacity at `now_ms`.
    pub fn new(rate: f64, now_ms: i64) -> Bucket {
        Bucket {
            tokens: rate,
            last_ms: now_ms,
        }
    }

    fn refill(&mut self, rate: f64, now_ms: i64) {
        if now_ms > self.last_ms {
            let gained = rate * (now_ms - self.last_ms) as f64 / 1000.0;
            self.tokens = (self.tokens + gained).min(rate * BURST_SECONDS);
            self.last_ms = now_ms;
        }
    }

    /// Whether `units` may be taken now: a request larger than one second of capacity
    /// needs a full second's worth and then leaves the bucket in debt.
    fn fits(&mut self, rate: f64, now_ms: i64, units: f64) -> bool {
        self.refill(rate, now_ms);
        self.tokens + 1e-9 >= units.min(rate)
    }

    fn take(&mut self, units: f64) {
        self.tokens -= units;
    }
}

/// The buckets of one table: (read, write) for the table and per GSI.
#[derive(Debug, Default, Clone)]
pub struct Throttle {
    table: Option<(Bucket, Bucket)>,
    gsi: HashMap<String, (Bucket, Bucket)>,
}

/// The `ThrottlingReasons` member: which resource, which operation, which limit.
fn reasons(index: bool, kind: Kind, arn: &str) -> nephos_core::Value {
    let reason = format!(
        "{}{}ProvisionedThroughputExceeded",
        if index { "Index" } else { "Table" },
        match kind {
            Kind::Read => "Read",
            Kind::Write => "Write",
        }
    );
    nephos_core::Value::List(vec![
        nephos_core::Value::map()
            .with("reason", reason)
            .with("resource", arn),
    ])
}

pub fn table_exceeded(kind: Kind, arn: &str) -> AwsError {
    table_error().with_field("ThrottlingReasons", reasons(false, kind, arn))
}

fn gsi_exceeded(kind: Kind, arn: &str) -> AwsError {
    gsi_error().with_field("ThrottlingReasons", reasons(true, kind, arn))
}

fn table_error() -> AwsError {
    AwsError::new(
        400,
        "ProvisionedThroughputExceededException",
        "The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.",
    )
}

fn gsi_error() -> AwsError {
    AwsError::new(
        400,
        "ProvisionedThroughputExceededException",
        "The level of configured provisioned throughput for one or more global secondary indexes of the table was exceeded. Consider increasing your provisioning level for the under-provisioned global secondary indexes with the UpdateTable API",
    )
}

fn pick(b: &mut (Bucket, Bucket), kind: Kind) -> &mut Bucket {
    match kind {
        Kind::Read => &mut b.0,
        Kind::Write => &mut b.1,
    }
}

impl Throttle {
    /// Checks `c` against the table's and its GSIs' capacity and takes it when it fits
    /// everywhere (nothing is taken otherwise). `probe` only asks whether any capacity is
    /// left (the first step of a batch).
    pub fn charge(
        &mut self,
        t: &crate::table::TableMeta,
        c: &Consumed,
        kind: Kind,
        now_ms: i64,
        probe: bool,
    ) -> Result<(), AwsError> {
        let rate = |r: i64, w: i64| match kind {
            Kind::Read => r as f64,
            Kind::Write => w as f64,
        };
        let created = t.created_ms;
        let fresh = |r: i64, w: i64| {
            (
                Bucket::new(r as f64, created),
                Bucket::new(w as f64, created),
            )
        };
        // Local indexes share the table's capacity.
        let table_units = c.table + c.lsi.iter().map(|x| x.1).sum::<f64>();
        for (name, units) in &c.gsi {
            let Some(idx) = t.indexes.iter().find(|i| i.global && &i.name == name) else {
                continue;
            };
            let b = self
                .gsi
                .entry(name.clone())
                .or_insert_with(|| fresh(idx.rcu, idx.wcu));
            let need = if probe { 1.0 } else { *units };
            if !pick(b, kind).fits(rate(idx.rcu, idx.wcu), now_ms, need) {
                return Err(gsi_exceeded(kind, &format!("{}/index/{name}", t.arn)));
            }
        }
        let tb = self.table.get_or_insert_with(|| fresh(t.rcu, t.wcu));
        let need = if probe { 1.0 } else { table_units };
        if (table_units > 0.0 || probe) && !pick(tb, kind).fits(rate(t.rcu, t.wcu), now_ms, need) {
            return Err(table_exceeded(kind, &t.arn));
        }
        if probe {
            return Ok(());
        }
        pick(tb, kind).take(table_units);
        for (name, units) in &c.gsi {
            if let Some(b) = self.gsi.get_mut(name) {
                pick(b, kind).take(*units);
            }
        }
        Ok(())
    }

    /// Takes capacity already used (a batch that was let through), possibly into debt.
    pub fn force(&mut self, t: &crate::table::TableMeta, c: &Consumed, kind: Kind) {
        if let Some(tb) = &mut self.table {
            pick(tb, kind).take(c.table + c.lsi.iter().map(|x| x.1).sum::<f64>());
        }
        for (name, units) in &c.gsi {
            if t.indexes.iter().any(|i| &i.name == name)
                && let Some(b) = self.gsi.get_mut(name)
            {
                pick(b, kind).take(*units);
            }
        }
    }
}

impl DynamoDb {
    pub fn set_throttling(&self, on: bool) {
        self.throttling
            .store(on, std::sync::atomic::Ordering::Relaxed);
    }

    fn throttles(&self, t: &Table) -> bool {
        self.throttling.load(std::sync::atomic::Ordering::Relaxed)
            && t.meta.billing == "PROVISIONED"
    }

    /// Charges a request's capacity to its table, or refuses it.
    pub fn charge(&self, t: &Table, c: &Consumed, kind: Kind) -> Result<(), AwsError> {
        if !self.throttles(t) {
            return Ok(());
        }
        let now = self.clock.now_millis();
        let mut th = t.throttle.lock().unwrap_or_else(|e| e.into_inner());
        th.charge(&t.meta, c, kind, now, false)
    }

    /// Charges several tables at once (a transaction): all of it fits, or nothing is
    /// taken and the first table out of capacity is named.
    pub fn charge_tables<'a>(
        &self,
        tables: &[(&'a str, &Table, &Consumed)],
        kind: Kind,
    ) -> Result<(), (&'a str, AwsError)> {
        let now = self.clock.now_millis();
        for (name, t, c) in tables {
            if self.throttles(t) {
                let mut trial = t.throttle.lock().unwrap_or_else(|e| e.into_inner()).clone();
                trial
                    .charge(&t.meta, c, kind, now, false)
                    .map_err(|e| (*name, e))?;
            }
        }
        for (_, t, c) in tables {
            if self.throttles(t) {
                let mut th = t.throttle.lock().unwrap_or_else(|e| e.into_inner());
                let _ = th.charge(&t.meta, c, kind, now, false);
            }
        }
        Ok(())
    }

    /// Whether a batch may touch the table now (some capacity is left).
    pub fn probe(&self, t: &Table, kind: Kind, with_gsis: bool) -> Result<(), AwsError> {
        if !self.throttles(t) {
            return Ok(());
        }
        let mut c = Consumed::default();
        if with_gsis {
            for i in t.meta.indexes.iter().filter(|i| i.global) {
                c.gsi.push((i.name.clone(), 1.0));
            }
        }
        let now = self.clock.now_millis();
        let mut th = t.throttle.lock().unwrap_or_else(|e| e.into_inner());
        th.charge(&t.meta, &c, kind, now, true)
    }

    /// Takes what a batch consumed after it ran.
    pub fn charge_after(&self, t: &Table, c: &Consumed, kind: Kind) {
        if self.throttles(t) {
            let mut th = t.throttle.lock().unwrap_or_else(|e| e.into_inner());
            th.force(&t.meta, c, kind);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_keeps_300_seconds_of_unused_capacity() {
        let mut b = Bucket::new(2.0, 0);
        assert!(b.fits(2.0, 0, 2.0));
        b.take(2.0);
        assert!(!b.fits(2.0, 10, 1.0));
        // Long idle: capped at 300 s of capacity.
        assert!(b.fits(2.0, 10_000_000, 600.0));
        b.take(600.0);
        assert!(!b.fits(2.0, 10_000_000, 0.5));
        assert!(b.fits(2.0, 10_000_500, 1.0));
    }

    #[test]
    fn a_request_bigger_than_a_second_waits_for_a_full_second() {
        let mut b = Bucket::new(1.0, 0);
        assert!(b.fits(1.0, 0, 5.0));
        b.take(5.0);
        // In debt until the 5 units are repaid and one more second accrues.
        assert!(!b.fits(1.0, 4_000, 1.0));
        assert!(b.fits(1.0, 5_000, 1.0));
    }
}
