//! Single-item operations: PutItem, GetItem, UpdateItem, DeleteItem, and the parameter
//! handling they share with batches, transactions, queries and scans.

use crate::attr::{
    Attr, Item, MAX_ITEM_SIZE, decode_item, encoded_item_size, item_from_value, item_size,
    item_to_value,
};
use crate::capacity::{Consumed, Kind, read_units, write_units};
use crate::expr::parser::{PathPart, Update};
use crate::expr::{
    Cond, ExprAttrs, Path, apply_update, eval, parse_condition, parse_projection, parse_update,
    validate_static,
};
use crate::state::{DynamoDb, ITEMS, item_record_key};
use crate::table::Table;
use crate::tables::table_name;
use nephos_core::{AwsError, RequestContext, Value};
use nephos_storage::Mutation;
use std::collections::HashMap;

/// `ExpressionAttributeNames` or `ExpressionAttributeValues`, when given: never empty,
/// and only next to an expression.
fn expr_map<'a>(
    v: &'a Value,
    key: &str,
    has_expressions: bool,
) -> Result<Option<&'a nephos_core::Map>, AwsError> {
    let Some(m) = v.get(key).and_then(Value::as_map) else {
        return Ok(None);
    };
    if m.is_empty() {
        return Err(AwsError::validation(format!("{key} must not be empty")));
    }
    if !has_expressions {
        return Err(AwsError::validation(format!(
            "{key} can only be specified when using expressions"
        )));
    }
    Ok(Some(m))
}

/// A placeholder is its sigil then letters, digits or underscores.
fn check_placeholder(member: &str, k: &str, sigil: char) -> Result<(), AwsError> {
    let ok = k.strip_prefix(sigil).is_some_and(|rest| {
        !rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    });
    if ok {
        Ok(())
    } else {
        Err(AwsError::validation(format!(
            "{member} contains invalid key: Syntax error; key: \"{k}\""
        )))
    }
}

/// ExpressionAttributeNames/Values of a request, parsed.
pub fn expr_attrs(v: &Value, has_expressions: bool) -> Result<ExprAttrs, AwsError> {
    let mut names = HashMap::new();
    if let Some(m) = expr_map(v, "ExpressionAttributeNames", has_expressions)? {
        for (k, n) in m {
            check_placeholder("ExpressionAttributeNames", k, '#')?;
            names.insert(k.clone(), n.as_str().unwrap_or_default().to_owned());
        }
    }
    let mut values = HashMap::new();
    if let Some(m) = expr_map(v, "ExpressionAttributeValues", has_expressions)? {
        for k in m.keys() {
            check_placeholder("ExpressionAttributeValues", k, ':')?;
        }
        for (k, x) in m {
            let a = Attr::from_value(x).map_err(|e| {
                AwsError::validation(format!(
                    "ExpressionAttributeValues contains invalid value: {} for key {k}",
                    e.message
                ))
            })?;
            values.insert(k.clone(), a);
        }
    }
    Ok(ExprAttrs::new(names, values))
}

pub fn condition(
    v: &Value,
    member: &str,
    kind: &'static str,
    attrs: &mut ExprAttrs,
) -> Result<Option<Cond>, AwsError> {
    match v.str(member) {
        None => Ok(None),
        Some(src) => {
            let c = parse_condition(src, kind, attrs)?;
            validate_static(&c, kind)?;
            Ok(Some(c))
        }
    }
}

/// ProjectionExpression or the legacy AttributesToGet.
pub fn projection(v: &Value, attrs: &mut ExprAttrs) -> Result<Option<Vec<Path>>, AwsError> {
    if let Some(src) = v.str("ProjectionExpression") {
        if v.get("AttributesToGet").is_some() {
            return Err(AwsError::validation(
                "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {AttributesToGet} Expression parameters: {ProjectionExpression}",
            ));
        }
        return Ok(Some(parse_projection(src, attrs)?));
    }
    if let Some(list) = v.get("AttributesToGet").and_then(Value::as_list) {
        return Ok(Some(
            list.iter()
                .filter_map(Value::as_str)
                .map(|s| vec![PathPart::Attr(s.to_owned())])
                .collect(),
        ));
    }
    Ok(None)
}

pub fn ccf_error(old: Option<&Item>, rv: Option<&str>) -> AwsError {
    let mut e = AwsError::new(
        400,
        "ConditionalCheckFailedException",
        "The conditional request failed",
    );
    if rv == Some("ALL_OLD")
        && let Some(o) = old
    {
        e = e.with_field("Item", item_to_value(o));
    }
    e
}

pub fn check_item_size(item: &Item, update: bool) -> Result<(), AwsError> {
    if item_size(item) > MAX_ITEM_SIZE {
        return Err(AwsError::validation(if update {
            "Item size to update has exceeded the maximum allowed size"
        } else {
            "Item size has exceeded the maximum allowed size"
        }));
    }
    Ok(())
}

/// Write capacity of a write to the table and to every index the old or new item is in.
pub fn write_capacity(t: &Table, old: Option<&Item>, new: Option<&Item>, factor: f64) -> Consumed {
    let size = old.map_or(0, item_size).max(new.map_or(0, item_size));
    let mut c = Consumed {
        table: write_units(size) * factor,
        ..Default::default()
    };
    for idx in &t.meta.indexes {
        let in_index = |i: Option<&Item>| {
            i.is_some_and(|i| idx.key.names().iter().all(|n| i.contains_key(*n)))
        };
        let n = usize::from(in_index(old)) + usize::from(in_index(new));
        if n > 0 {
            let isize = new
                .filter(|_| in_index(new))
                .or(old)
                .map_or(0, |i| item_size(&t.project_for_index(i, idx)));
            c.add_index(
                &idx.name,
                idx.global,
                write_units(isize) * factor * n.min(2) as f64,
            );
        }
    }
    c
}

fn return_values(v: &Value, allowed: &[&str]) -> Result<String, AwsError> {
    let rv = v.str("ReturnValues").unwrap_or("NONE").to_owned();
    if !allowed.contains(&rv.as_str()) {
        // PutItem and DeleteItem name the two values they accept.
        return Err(AwsError::validation(if allowed.len() == 2 {
            "ReturnValues can only be ALL_OLD or NONE"
        } else {
            "Return values set to invalid value"
        }));
    }
    Ok(rv)
}

fn updated_paths(u: &Update) -> Vec<Path> {
    u.set
        .iter()
        .map(|x| x.0.clone())
        .chain(u.remove.iter().cloned())
        .chain(u.add.iter().map(|x| x.0.clone()))
        .chain(u.delete.iter().map(|x| x.0.clone()))
        .collect()
}

impl DynamoDb {
    pub async fn put_item(&self, ctx: &RequestContext, v: &Value) -> Result<Value, AwsError> {
        let name = table_name(v);
        let item = item_from_value(v.get("Item"))?;
        let rv = return_values(v, &["NONE", "ALL_OLD"])?;
        let has_expr = v.get("ConditionExpression").is_some();
        let mut attrs = expr_attrs(v, has_expr)?;
        let cond = condition(v, "ConditionExpression", "ConditionExpression", &mut attrs)?;
        attrs.check_unused()?;
        check_item_size(&item, false)?;
        let t = self.table(ctx, &name)?;
        let (pending, old, consumed, metrics) = {
            let mut t = t.write().unwrap();
            let key = t.validate_item_key(&item)?;
            // The old item is decoded only when something reads it; a plain overwrite of
            // a table without indexes or a stream needs no more than its size.
            let needs_old =
                cond.is_some() || rv == "ALL_OLD" || !t.meta.indexes.is_empty() || t.streaming();
            let old = if needs_old { t.get(&key) } else { None };
            if let Some(c) = &cond
                && !eval(c, old.as_ref().unwrap_or(&Item::new()))?
            {
                return Err(ccf_error(
                    old.as_ref(),
                    v.str("ReturnValuesOnConditionCheckFailure"),
                ));
            }
            t.check_collection(old.as_ref(), &item)?;
            let consumed = if needs_old {
                write_capacity(&t, old.as_ref(), Some(&item), 1.0)
            } else {
                let old_size = t.get_encoded(&key).and_then(encoded_item_size);
                Consumed {
                    table: write_units(old_size.unwrap_or(0).max(item_size(&item))),
                    ..Default::default()
                }
            };
            self.charge(&t, &consumed, Kind::Write)?;
            let enc = t.put(&key, &item);
            t.changed(ctx.clock.now_millis(), old.as_ref(), Some(&item), false);
            let metrics = want_metrics(v)
                .then(|| t.collection_metrics(&item))
                .flatten();
            let mut batch = vec![Mutation::put(ITEMS, item_record_key(&t.meta.id, &key), enc)];
            batch.extend(t.take_journal());
            let pending = self.start_commit(batch);
            (pending, old, consumed, metrics)
        };
        pending.wait().await?;
        Ok(write_answer(
            v,
            &name,
            (rv == "ALL_OLD").then_some(old).flatten(),
            &consumed,
            metrics,
        ))
    }

    pub fn get_item(&self, ctx: &RequestContext, v: &Value) -> Result<Value, AwsError> {
        let name = table_name(v);
        let key = item_from_value(v.get("Key"))?;
        let has_expr = v.get("ProjectionExpression").is_some();
        let mut attrs = expr_attrs(v, has_expr)?;
        let proj = projection(v, &mut attrs)?;
        attrs.check_unused()?;
        let t = self.table(ctx, &name)?;
        let t = t.read().unwrap();
        let skey = t.validate_key(&key)?;
        let consistent = v.bool("ConsistentRead").unwrap_or(false);
        let mut out = Value::map();
        // Without a projection the answer comes straight from the stored bytes.
        let found = match t.get_encoded(&skey) {
            None => None,
            Some(enc) => Some(
                match &proj {
                    // Written as JSON straight from the bytes: no value tree to build and walk.
                    None => crate::attr::encoded_item_to_json(enc)
                        .map(Value::Json)
                        .zip(encoded_item_size(enc)),
                    Some(p) => decode_item(enc).map(|i| {
                        let size = item_size(&i);
                        (item_to_value(&crate::expr::project(&i, p)), size)
                    }),
                }
                .ok_or_else(|| AwsError::internal("a stored item does not decode"))?,
            ),
        };
        let size = found.as_ref().map_or(0, |(_, size)| *size);
        let c = Consumed {
            table: read_units(size, consistent),
            ..Default::default()
        };
        self.charge(&t, &c, Kind::Read)?;
        if let Some((value, _)) = found {
            out.insert("Item", value);
        }
        if let Some(c) = c.to_value(v.str("ReturnConsumedCapacity"), &name, Kind::Read) {
            out.insert("ConsumedCapacity", c);
        }
        Ok(out)
    }

    pub async fn delete_item(&self, ctx: &RequestContext, v: &Value) -> Result<Value, AwsError> {
        let name = table_name(v);
        let key = item_from_value(v.get("Key"))?;
        let rv = return_values(v, &["NONE", "ALL_OLD"])?;
        let has_expr = v.get("ConditionExpression").is_some();
        let mut attrs = expr_attrs(v, has_expr)?;
        let cond = condition(v, "ConditionExpression", "ConditionExpression", &mut attrs)?;
        attrs.check_unused()?;
        let t = self.table(ctx, &name)?;
        let (pending, old, consumed, metrics) = {
            let mut t = t.write().unwrap();
            let skey = t.validate_key(&key)?;
            let old = t.get(&skey);
            if let Some(c) = &cond
                && !eval(c, old.as_ref().unwrap_or(&Item::new()))?
            {
                return Err(ccf_error(
                    old.as_ref(),
                    v.str("ReturnValuesOnConditionCheckFailure"),
                ));
            }
            let consumed = write_capacity(&t, old.as_ref(), None, 1.0);
            self.charge(&t, &consumed, Kind::Write)?;
            let pending = if old.is_some() {
                t.remove(&skey);
                t.changed(ctx.clock.now_millis(), old.as_ref(), None, false);
                let mut batch = vec![Mutation::delete(ITEMS, item_record_key(&t.meta.id, &skey))];
                batch.extend(t.take_journal());
                self.start_commit(batch)
            } else {
                self.start_commit(Vec::new())
            };
            let metrics = want_metrics(v)
                .then(|| t.collection_metrics(&key))
                .flatten();
            (pending, old, consumed, metrics)
        };
        pending.wait().await?;
        Ok(write_answer(
            v,
            &name,
            (rv == "ALL_OLD").then_some(old).flatten(),
            &consumed,
            metrics,
        ))
    }

    pub async fn update_item(&self, ctx: &RequestContext, v: &Value) -> Result<Value, AwsError> {
        let name = table_name(v);
        let key = item_from_value(v.get("Key"))?;
        let rv = return_values(
            v,
            &["NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW"],
        )?;
        let has_expr =
            v.get("ConditionExpression").is_some() || v.get("UpdateExpression").is_some();
        let mut attrs = expr_attrs(v, has_expr)?;
        let update = match v.str("UpdateExpression") {
            Some(src) => Some(parse_update(src, &mut attrs)?),
            None => None,
        };
        let cond = condition(v, "ConditionExpression", "ConditionExpression", &mut attrs)?;
        attrs.check_unused()?;
        let update = match update {
            Some(u) => u,
            None => legacy_updates(v)?,
        };
        let t = self.table(ctx, &name)?;
        let (pending, old, new, consumed, metrics) = {
            let mut t = t.write().unwrap();
            let skey = t.validate_key(&key)?;
            for p in updated_paths(&update) {
                if let Some(PathPart::Attr(a)) = p.first()
                    && t.meta.key.names().contains(&a.as_str())
                {
                    return Err(AwsError::validation(format!(
                        "One or more parameter values were invalid: Cannot update attribute {a}. This attribute is part of the key"
                    )));
                }
            }
            let old = t.get(&skey);
            let base = old.clone().unwrap_or_else(|| key.clone());
            if let Some(c) = &cond
                && !eval(c, old.as_ref().unwrap_or(&Item::new()))?
            {
                return Err(ccf_error(
                    old.as_ref(),
                    v.str("ReturnValuesOnConditionCheckFailure"),
                ));
            }
            let new = apply_update(&update, &base)?;
            check_item_size(&new, true)?;
            t.validate_item_key(&new)?;
            t.check_collection(old.as_ref(), &new)?;
            let consumed = write_capacity(&t, old.as_ref(), Some(&new), 1.0);
            self.charge(&t, &consumed, Kind::Write)?;
            let enc = t.put(&skey, &new);
            t.changed(ctx.clock.now_millis(), old.as_ref(), Some(&new), false);
            let metrics = want_metrics(v)
                .then(|| t.collection_metrics(&new))
                .flatten();
            let mut batch = vec![Mutation::put(
                ITEMS,
                item_record_key(&t.meta.id, &skey),
                enc,
            )];
            batch.extend(t.take_journal());
            let pending = self.start_commit(batch);
            (pending, old, new, consumed, metrics)
        };
        pending.wait().await?;
        let mut out = Value::map();
        let paths = updated_paths(&update);
        let attrs_out = match rv.as_str() {
            "ALL_OLD" => old,
            "ALL_NEW" => Some(new),
            "UPDATED_OLD" => old.map(|o| crate::expr::project(&o, &paths)),
            "UPDATED_NEW" => Some(crate::expr::project(&new, &paths)),
            _ => None,
        };
        if let Some(a) = attrs_out.filter(|a| !a.is_empty()) {
            out.insert("Attributes", item_to_value(&a));
        }
        if let Some(c) = consumed.to_value(v.str("ReturnConsumedCapacity"), &name, Kind::Write) {
            out.insert("ConsumedCapacity", c);
        }
        if let Some(m) = metrics {
            out.insert("ItemCollectionMetrics", m);
        }
        Ok(out)
    }
}

/// Whether the request asks for `ItemCollectionMetrics`.
pub fn want_metrics(v: &Value) -> bool {
    v.str("ReturnItemCollectionMetrics") == Some("SIZE")
}

/// The legacy AttributeUpdates parameter as an update expression.
fn legacy_updates(v: &Value) -> Result<Update, AwsError> {
    let mut u = Update::default();
    let Some(m) = v.get("AttributeUpdates").and_then(Value::as_map) else {
        return Ok(u);
    };
    use crate::expr::parser::Operand;
    for (name, upd) in m {
        let path = vec![PathPart::Attr(name.clone())];
        let value = match upd.get("Value") {
            Some(x) => Some(Attr::from_value(x)?),
            None => None,
        };
        match (upd.str("Action").unwrap_or("PUT"), value) {
            ("PUT", Some(x)) => u.set.push((path, Operand::Value(x))),
            ("DELETE", None) => u.remove.push(path),
            ("DELETE", Some(x)) => u.delete.push((path, Operand::Value(x))),
            ("ADD", Some(x)) => u.add.push((path, Operand::Value(x))),
            _ => {
                return Err(AwsError::validation(format!(
                    "One or more parameter values were invalid: Only DELETE action is allowed when no attribute value is specified: {name}"
                )));
            }
        }
    }
    Ok(u)
}

/// The answer of PutItem and DeleteItem: the old item when asked for, consumed capacity
/// and item-collection metrics.
fn write_answer(
    v: &Value,
    table: &str,
    old: Option<Item>,
    consumed: &Consumed,
    metrics: Option<Value>,
) -> Value {
    let mut out = Value::map();
    if let Some(o) = old {
        out.insert("Attributes", item_to_value(&o));
    }
    if let Some(c) = consumed.to_value(v.str("ReturnConsumedCapacity"), table, Kind::Write) {
        out.insert("ConsumedCapacity", c);
    }
    if let Some(m) = metrics {
        out.insert("ItemCollectionMetrics", m);
    }
    out
}
