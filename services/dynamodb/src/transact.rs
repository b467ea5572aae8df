//! Multi-item operations: BatchGetItem, BatchWriteItem, TransactGetItems and
//! TransactWriteItems (all-or-nothing under the locks of every table involved).

use crate::attr::{Item, item_from_value, item_size, item_to_value};
use crate::capacity::{Consumed, Kind, read_units};
use crate::expr::parser::{PathPart, Update};
use crate::expr::{Cond, apply_update, eval, parse_update};
use crate::items::{ccf_error, check_item_size, condition, expr_attrs, projection, write_capacity};
use crate::state::{DynamoDb, ITEMS, TableRef, item_record_key, not_found};
use crate::table::Table;
use nephos_core::{AwsError, RequestContext, Value};
use nephos_storage::Mutation;
use std::collections::{BTreeMap, HashSet};
use std::sync::RwLockWriteGuard;

const BATCH_GET_BYTES: usize = 16 * 1024 * 1024;
const TOKEN_TTL_MS: i64 = 10 * 60 * 1000;

pub(crate) enum Op {
    Put(Item),
    Delete(Item),
    Update(Update, Item),
    Check(Item),
}

/// Storage key, old image, and the new image (None: a check; Some(None): a delete).
type Plan = (Vec<u8>, Option<Item>, Option<Option<Item>>);

pub(crate) struct Write {
    pub table: String,
    pub op: Op,
    pub cond: Option<Cond>,
    pub rvoccf: Option<String>,
}

fn consumed_list(
    per_table: &BTreeMap<String, Consumed>,
    mode: Option<&str>,
    kind: Kind,
) -> Option<Value> {
    if !matches!(mode, Some("TOTAL" | "INDEXES")) {
        return None;
    }
    Some(Value::List(
        per_table
            .iter()
            .filter_map(|(n, c)| c.to_value(mode, n, kind))
            .collect(),
    ))
}

fn merge(into: &mut Consumed, c: Consumed) {
    into.table += c.table;
    for (n, u) in c.gsi {
        into.add_index(&n, true, u);
    }
    for (n, u) in c.lsi {
        into.add_index(&n, false, u);
    }
}

impl DynamoDb {
    /// Locks every named table for writing, in name order so two requests never deadlock.
    fn lock_tables(
        &self,
        ctx: &RequestContext,
        names: &[String],
    ) -> Result<Vec<(String, TableRef)>, AwsError> {
        let mut uniq: Vec<String> = names.to_vec();
        uniq.sort();
        uniq.dedup();
        uniq.into_iter()
            .map(|n| self.table(ctx, &n).map(|t| (n, t)))
            .collect()
    }

    pub fn batch_get(&self, ctx: &RequestContext, v: &Value) -> Result<Value, AwsError> {
        let reqs = v
            .get("RequestItems")
            .and_then(Value::as_map)
            .cloned()
            .unwrap_or_default();
        let total: usize = reqs
            .values()
            .map(|r| {
                r.get("Keys")
                    .and_then(Value::as_list)
                    .map_or(0, <[Value]>::len)
            })
            .sum();
        if total > 100 {
            return Err(AwsError::validation(
                "Too many items requested for the BatchGetItem call",
            ));
        }
        let mut responses = Value::map();
        let mut unprocessed = Value::map();
        let mut consumed: BTreeMap<String, Consumed> = BTreeMap::new();
        let mut bytes = 0usize;
        let mut throttled = None;
        for (name, r) in &reqs {
            let has_expr = r.get("ProjectionExpression").is_some();
            let mut attrs = expr_attrs(r, has_expr)?;
            let proj = projection(r, &mut attrs)?;
            attrs.check_unused()?;
            let t = self.table(ctx, name)?;
            let t = t.read().unwrap();
            if let Err(e) = self.probe(&t, Kind::Read, false) {
                // A table out of capacity leaves all its keys unprocessed.
                for k in r.get("Keys").and_then(Value::as_list).unwrap_or_default() {
                    t.validate_key(&item_from_value(Some(k))?)?;
                }
                unprocessed.insert(name, r.clone());
                throttled.get_or_insert(e);
                continue;
            }
            let consistent = r.bool("ConsistentRead").unwrap_or(false);
            let mut seen = HashSet::new();
            let mut found = Vec::new();
            let mut left = Vec::new();
            let c = consumed.entry(name.clone()).or_default();
            for k in r.get("Keys").and_then(Value::as_list).unwrap_or_default() {
                let key = item_from_value(Some(k))?;
                let sk = t.validate_key(&key)?;
                if !seen.insert(sk.clone()) {
                    return Err(AwsError::validation(
                        "Provided list of item keys contains duplicates",
                    ));
                }
                if bytes >= BATCH_GET_BYTES {
                    left.push(k.clone());
                    continue;
                }
                if let Some(i) = t.get(&sk) {
                    let size = item_size(&i);
                    bytes += size;
                    c.table += read_units(size, consistent);
                    let i = match &proj {
                        Some(p) => crate::expr::project(&i, p),
                        None => i,
                    };
                    found.push(item_to_value(&i));
                } else {
                    c.table += read_units(0, consistent);
                }
            }
            self.charge_after(&t, c, Kind::Read);
            responses.insert(name, Value::List(found));
            if !left.is_empty() {
                let mut u = r.clone();
                u.insert("Keys", Value::List(left));
                unprocessed.insert(name, u);
            }
        }
        // Nothing processed because every table was out of capacity: the request fails.
        if let Some(e) = throttled
            && responses.as_map().is_some_and(|m| m.is_empty())
        {
            return Err(e);
        }
        let mut out = Value::map()
            .with("Responses", responses)
            .with("UnprocessedKeys", unprocessed);
        if let Some(c) = consumed_list(&consumed, v.str("ReturnConsumedCapacity"), Kind::Read) {
            out.insert("ConsumedCapacity", c);
        }
        Ok(out)
    }

    pub async fn batch_write(&self, ctx: &RequestContext, v: &Value) -> Result<Value, AwsError> {
        let reqs = v
            .get("RequestItems")
            .and_then(Value::as_map)
            .cloned()
            .unwrap_or_default();
        let total: usize = reqs
            .values()
            .map(|r| r.as_list().map_or(0, <[Value]>::len))
            .sum();
        if total > 25 {
            return Err(AwsError::validation(
                "Too many items requested for the BatchWriteItem call",
            ));
        }
        let mut writes = Vec::new();
        for (name, list) in &reqs {
            for r in list.as_list().unwrap_or_default() {
                let op = if let Some(p) = r.get("PutRequest") {
                    let item = item_from_value(p.get("Item"))?;
                    check_item_size(&item, false)?;
                    Op::Put(item)
                } else if let Some(d) = r.get("DeleteRequest") {
                    Op::Delete(item_from_value(d.get("Key"))?)
                } else {
                    return Err(AwsError::validation(
                        "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes",
                    ));
                };
                writes.push(Write {
                    table: name.clone(),
                    op,
                    cond: None,
                    rvoccf: None,
                });
            }
        }
        // Tables out of capacity (theirs or a GSI's) keep their writes unprocessed.
        let mut unprocessed = Value::map();
        let mut throttled = None;
        for (name, list) in &reqs {
            let t = self.table(ctx, name)?;
            let t = t.read().unwrap();
            if let Err(e) = self.probe(&t, Kind::Write, true) {
                unprocessed.insert(name, list.clone());
                throttled.get_or_insert(e);
            }
        }
        if let Some(e) = throttled {
            writes.retain(|w| unprocessed.get(&w.table).is_none());
            if writes.is_empty() {
                return Err(e);
            }
        }
        let (pending, consumed) = self.apply_writes(ctx, &writes, false, 1.0, true)?;
        for (name, c) in &consumed {
            if let Ok(t) = self.table(ctx, name) {
                self.charge_after(&t.read().unwrap(), c, Kind::Write);
            }
        }
        pending.wait().await?;
        let mut out = Value::map().with("UnprocessedItems", unprocessed);
        if crate::items::want_metrics(v) {
            self.insert_metrics(ctx, &writes, &mut out);
        }
        if let Some(c) = consumed_list(&consumed, v.str("ReturnConsumedCapacity"), Kind::Write) {
            out.insert("ConsumedCapacity", c);
        }
        Ok(out)
    }

    /// `ItemCollectionMetrics` per table for the written items of tables with local
    /// secondary indexes (absent when there are none).
    fn insert_metrics(&self, ctx: &RequestContext, writes: &[Write], out: &mut Value) {
        let mut per_table: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
        for w in writes {
            let item = match &w.op {
                Op::Put(i) => i,
                Op::Delete(k) | Op::Update(_, k) => k,
                Op::Check(_) => continue,
            };
            if let Ok(t) = self.table(ctx, &w.table)
                && let Some(m) = t.read().unwrap().collection_metrics(item)
            {
                per_table.entry(&w.table).or_default().push(m);
            }
        }
        if !per_table.is_empty() {
            let mut m = Value::map();
            for (t, list) in per_table {
                m.insert(t, Value::List(list));
            }
            out.insert("ItemCollectionMetrics", m);
        }
    }

    /// Validates, checks conditions and applies `writes` atomically; returns the commit.
    pub(crate) fn apply_writes(
        &self,
        ctx: &RequestContext,
        writes: &[Write],
        transactional: bool,
        factor: f64,
        batch: bool,
    ) -> Result<(crate::state::Pending, BTreeMap<String, Consumed>), AwsError> {
        let names: Vec<String> = writes.iter().map(|w| w.table.clone()).collect();
        let tables = self.lock_tables(ctx, &names)?;
        let mut guards: BTreeMap<String, RwLockWriteGuard<'_, Table>> = BTreeMap::new();
        for (n, t) in &tables {
            guards.insert(n.clone(), t.write().unwrap());
        }
        // Pass 1: keys, duplicates, conditions, new images.
        let mut seen = HashSet::new();
        let mut plans: Vec<Plan> = Vec::new();
        let mut reasons = Vec::new();
        let mut failed = false;
        for w in writes {
            let t = guards.get(&w.table).ok_or_else(not_found)?;
            let (skey, key_item) = match &w.op {
                Op::Put(item) => (t.validate_item_key(item)?, t.key_attrs(item, None)),
                Op::Delete(k) | Op::Update(_, k) | Op::Check(k) => (t.validate_key(k)?, k.clone()),
            };
            if !seen.insert((w.table.clone(), skey.clone())) {
                return Err(AwsError::validation(if batch {
                    "Provided list of item keys contains duplicates"
                } else {
                    "Transaction request cannot include multiple operations on one item"
                }));
            }
            let old = t.get(&skey);
            let ok = match &w.cond {
                Some(c) => eval(c, old.as_ref().unwrap_or(&Item::new()))?,
                None => true,
            };
            let new = match &w.op {
                Op::Put(item) => Some(Some(item.clone())),
                Op::Delete(_) => Some(None),
                Op::Check(_) => None,
                Op::Update(u, _) => {
                    for p in updated_top(u) {
                        if t.meta.key.names().contains(&p.as_str()) {
                            return Err(AwsError::validation(format!(
                                "One or more parameter values were invalid: Cannot update attribute {p}. This attribute is part of the key"
                            )));
                        }
                    }
                    let base = old.clone().unwrap_or(key_item);
                    let n = apply_update(u, &base)?;
                    check_item_size(&n, true)?;
                    t.validate_item_key(&n)?;
                    Some(Some(n))
                }
            };
            // An item collection past its limit cancels a transaction like a condition.
            let too_big = match &new {
                Some(Some(n)) => t.check_collection(old.as_ref(), n).err(),
                _ => None,
            };
            if let Some(e) = too_big {
                if !transactional {
                    return Err(e);
                }
                failed = true;
                reasons.push(
                    Value::map()
                        .with("Code", "ItemCollectionSizeLimitExceeded")
                        .with("Message", e.message.as_str()),
                );
            } else if ok {
                reasons.push(Value::map().with("Code", "None"));
            } else {
                failed = true;
                if !transactional {
                    return Err(ccf_error(old.as_ref(), w.rvoccf.as_deref()));
                }
                let mut r = Value::map()
                    .with("Code", "ConditionalCheckFailed")
                    .with("Message", "The conditional request failed");
                if w.rvoccf.as_deref() == Some("ALL_OLD")
                    && let Some(o) = &old
                {
                    r.insert("Item", item_to_value(o));
                }
                reasons.push(r);
            }
            plans.push((skey, old, new));
        }
        if failed {
            return Err(cancelled(reasons));
        }
        if transactional {
            // A transaction runs only when every table has the capacity for it.
            let mut per_table: BTreeMap<&str, Consumed> = BTreeMap::new();
            for (w, (_, old, new)) in writes.iter().zip(&plans) {
                let t = guards.get(&w.table).ok_or_else(not_found)?;
                let c = per_table.entry(w.table.as_str()).or_default();
                match new {
                    None => c.table += read_units(old.as_ref().map_or(0, item_size), true) * factor,
                    Some(n) => merge(c, write_capacity(t, old.as_ref(), n.as_ref(), factor)),
                }
            }
            let list: Vec<(&str, &Table, &Consumed)> = per_table
                .iter()
                .filter_map(|(n, c)| guards.get(*n).map(|t| (*n, &**t, c)))
                .collect();
            if let Err((table, e)) = self.charge_tables(&list, Kind::Write) {
                return Err(throttled_transaction(
                    writes.iter().map(|w| w.table.as_str()),
                    table,
                    &e,
                ));
            }
        }
        // Pass 2: apply.
        let mut batch_m = Vec::new();
        let mut consumed: BTreeMap<String, Consumed> = BTreeMap::new();
        for (w, (skey, old, new)) in writes.iter().zip(plans) {
            let t = guards.get_mut(&w.table).ok_or_else(not_found)?;
            let c = consumed.entry(w.table.clone()).or_default();
            match new {
                None => {
                    c.table += read_units(old.as_ref().map_or(0, item_size), true) * factor;
                }
                Some(Some(item)) => {
                    merge(c, write_capacity(t, old.as_ref(), Some(&item), factor));
                    let enc = t.put(&skey, &item);
                    t.changed(ctx.clock.now_millis(), old.as_ref(), Some(&item), false);
                    batch_m.push(Mutation::put(
                        ITEMS,
                        item_record_key(&t.meta.id, &skey),
                        enc,
                    ));
                }
                Some(None) => {
                    merge(c, write_capacity(t, old.as_ref(), None, factor));
                    if t.remove(&skey).is_some() {
                        t.changed(ctx.clock.now_millis(), old.as_ref(), None, false);
                        batch_m.push(Mutation::delete(ITEMS, item_record_key(&t.meta.id, &skey)));
                    }
                }
            }
        }
        for t in guards.values_mut() {
            batch_m.extend(t.take_journal());
        }
        let pending = self.start_commit(batch_m);
        drop(guards);
        Ok((pending, consumed))
    }

    pub fn transact_get(&self, ctx: &RequestContext, v: &Value) -> Result<Value, AwsError> {
        let list = v
            .get("TransactItems")
            .and_then(Value::as_list)
            .unwrap_or_default();
        let mut out = Vec::new();
        let mut names = Vec::new();
        let mut consumed: BTreeMap<String, Consumed> = BTreeMap::new();
        for g in list {
            let Some(g) = g.get("Get") else { continue };
            let name = crate::tables::table_name(g);
            let has_expr = g.get("ProjectionExpression").is_some();
            let mut attrs = expr_attrs(g, has_expr)?;
            let proj = projection(g, &mut attrs)?;
            attrs.check_unused()?;
            let t = self.table(ctx, &name)?;
            let t = t.read().unwrap();
            let key = item_from_value(g.get("Key"))?;
            let sk = t.validate_key(&key)?;
            let item = t.get(&sk);
            consumed.entry(name.clone()).or_default().table +=
                read_units(item.as_ref().map_or(0, item_size), true) * 2.0;
            let mut r = Value::map();
            if let Some(i) = item {
                let i = match &proj {
                    Some(p) => crate::expr::project(&i, p),
                    None => i,
                };
                r.insert("Item", item_to_value(&i));
            }
            out.push(r);
            names.push(name);
        }
        let tables: Vec<(String, TableRef)> = consumed
            .keys()
            .filter_map(|n| self.table(ctx, n).ok().map(|t| (n.clone(), t)))
            .collect();
        let guards: Vec<_> = tables.iter().map(|(n, t)| (n, t.read().unwrap())).collect();
        let list: Vec<(&str, &Table, &Consumed)> = guards
            .iter()
            .filter_map(|(n, t)| consumed.get(*n).map(|c| (n.as_str(), &**t, c)))
            .collect();
        if let Err((table, e)) = self.charge_tables(&list, Kind::Read) {
            return Err(throttled_transaction(
                names.iter().map(String::as_str),
                table,
                &e,
            ));
        }
        let mut resp = Value::map().with("Responses", Value::List(out));
        if let Some(c) = consumed_list(&consumed, v.str("ReturnConsumedCapacity"), Kind::Read) {
            resp.insert("ConsumedCapacity", c);
        }
        Ok(resp)
    }

    pub async fn transact_write(&self, ctx: &RequestContext, v: &Value) -> Result<Value, AwsError> {
        let token = v.str("ClientRequestToken").map(str::to_owned);
        let fingerprint = format!("{:?}", v.get("TransactItems"));
        let now = ctx.clock.now_millis();
        let region = self.region(ctx);
        if let Some(tok) = &token {
            let mut tokens = region.tokens.lock().unwrap();
            tokens.retain(|_, (exp, _, _)| *exp > now);
            if let Some((_, fp, resp)) = tokens.get(tok) {
                if *fp != fingerprint {
                    return Err(AwsError::new(
                        400,
                        "IdempotentParameterMismatchException",
                        "The request uses the same client token as a previous, but non-identical request. Do not reuse a client token with different requests, unless the requests are identical.",
                    ));
                }
                return Ok(resp.clone());
            }
        }
        let list = v
            .get("TransactItems")
            .and_then(Value::as_list)
            .unwrap_or_default();
        let mut writes = Vec::new();
        for w in list {
            let (kind, body) = match ["ConditionCheck", "Put", "Delete", "Update"]
                .iter()
                .find_map(|k| w.get(k).map(|b| (*k, b)))
            {
                Some(x) => x,
                None => continue,
            };
            let has_expr =
                body.get("ConditionExpression").is_some() || body.get("UpdateExpression").is_some();
            let mut attrs = expr_attrs(body, has_expr)?;
            let update = match body.str("UpdateExpression") {
                Some(src) => Some(parse_update(src, &mut attrs)?),
                None => None,
            };
            let cond = condition(
                body,
                "ConditionExpression",
                "ConditionExpression",
                &mut attrs,
            )?;
            attrs.check_unused()?;
            let op = match kind {
                "Put" => {
                    let item = item_from_value(body.get("Item"))?;
                    check_item_size(&item, false)?;
                    Op::Put(item)
                }
                "Delete" => Op::Delete(item_from_value(body.get("Key"))?),
                "Update" => Op::Update(
                    update.unwrap_or_default(),
                    item_from_value(body.get("Key"))?,
                ),
                _ => Op::Check(item_from_value(body.get("Key"))?),
            };
            writes.push(Write {
                table: crate::tables::table_name(body),
                op,
                cond,
                rvoccf: body
                    .str("ReturnValuesOnConditionCheckFailure")
                    .map(str::to_owned),
            });
        }
        let (pending, consumed) = self.apply_writes(ctx, &writes, true, 2.0, false)?;
        pending.wait().await?;
        let mut out = Value::map();
        if let Some(c) = consumed_list(&consumed, v.str("ReturnConsumedCapacity"), Kind::Write) {
            out.insert("ConsumedCapacity", c);
        }
        if crate::items::want_metrics(v) {
            self.insert_metrics(ctx, &writes, &mut out);
        }
        if let Some(tok) = token {
            region
                .tokens
                .lock()
                .unwrap()
                .insert(tok, (now + TOKEN_TTL_MS, fingerprint, out.clone()));
        }
        Ok(out)
    }
}

fn updated_top(u: &Update) -> Vec<String> {
    u.set
        .iter()
        .map(|x| &x.0)
        .chain(u.remove.iter())
        .chain(u.add.iter().map(|x| &x.0))
        .chain(u.delete.iter().map(|x| &x.0))
        .filter_map(|p| match p.first() {
            Some(PathPart::Attr(a)) => Some(a.clone()),
            _ => None,
        })
        .collect()
}

/// TransactionCanceledException with its reasons, one per action in request order.
fn cancelled(reasons: Vec<Value>) -> AwsError {
    let codes: Vec<&str> = reasons
        .iter()
        .map(|r| r.str("Code").unwrap_or("None"))
        .collect();
    AwsError::new(
        400,
        "TransactionCanceledException",
        format!(
            "Transaction cancelled, please refer cancellation reasons for specific reasons [{}]",
            codes.join(", ")
        ),
    )
    .with_field("CancellationReasons", Value::List(reasons))
}

/// A transaction refused for capacity: the actions on the table out of capacity carry
/// ProvisionedThroughputExceeded and its message.
fn throttled_transaction<'a>(
    actions: impl Iterator<Item = &'a str>,
    table: &str,
    e: &AwsError,
) -> AwsError {
    cancelled(
        actions
            .map(|t| {
                if t == table {
                    Value::map()
                        .with("Code", "ProvisionedThroughputExceeded")
                        .with("Message", e.message.as_str())
                } else {
                    Value::map().with("Code", "None")
                }
            })
            .collect(),
    )
}
