//! Query and Scan over tables and indexes: key ranges in the ordered maps, pagination,
//! the 1 MB page limit, Select, filters, parallel scan segments.

use crate::attr::{
    Attr, Item, item_from_value, item_size, item_to_value, key_bytes, partition_prefix,
};
use crate::capacity::{Consumed, Kind, read_units};
use crate::expr::parser::{CmpOp, Operand, PathPart};
use crate::expr::{Cond, Path, eval, parse_condition, validate_static};
use crate::items::{condition, expr_attrs, projection};
use crate::state::DynamoDb;
use crate::table::{IndexMeta, Table, index_key, index_prefix, index_sk_bound};
use crate::tables::table_name;
use nephos_core::{AwsError, RequestContext, Value};
use std::ops::Bound;

const PAGE_BYTES: usize = 1024 * 1024;

/// The sort-key part of a key condition.
enum SkCond {
    Cmp(CmpOp, Attr),
    Between(Attr, Attr),
    BeginsWith(Attr),
}

fn unsupported() -> AwsError {
    AwsError::validation("Query key condition not supported")
}

fn flatten_and<'a>(c: &'a Cond, out: &mut Vec<&'a Cond>) {
    match c {
        Cond::And(a, b) => {
            flatten_and(a, out);
            flatten_and(b, out);
        }
        other => out.push(other),
    }
}

fn single_attr(p: &Path) -> Option<&str> {
    match p.as_slice() {
        [PathPart::Attr(a)] => Some(a),
        _ => None,
    }
}

fn key_conditions(
    c: &Cond,
    hash: &str,
    range: Option<&str>,
) -> Result<(Attr, Option<SkCond>), AwsError> {
    let mut parts = Vec::new();
    flatten_and(c, &mut parts);
    if parts.len() > 2 {
        return Err(AwsError::validation(
            "Conditions can be of length 1 or 2 only",
        ));
    }
    let mut pk = None;
    let mut sk = None;
    for p in parts {
        let (attr, cond) = match p {
            Cond::Cmp(op, Operand::Path(path), Operand::Value(v)) => (
                single_attr(path).ok_or_else(unsupported)?,
                SkCond::Cmp(*op, v.clone()),
            ),
            Cond::Cmp(op, Operand::Value(v), Operand::Path(path)) => {
                let flipped = match op {
                    CmpOp::Lt => CmpOp::Gt,
                    CmpOp::Le => CmpOp::Ge,
                    CmpOp::Gt => CmpOp::Lt,
                    CmpOp::Ge => CmpOp::Le,
                    o => *o,
                };
                (
                    single_attr(path).ok_or_else(unsupported)?,
                    SkCond::Cmp(flipped, v.clone()),
                )
            }
            Cond::Between(Operand::Path(path), Operand::Value(a), Operand::Value(b)) => (
                single_attr(path).ok_or_else(unsupported)?,
                SkCond::Between(a.clone(), b.clone()),
            ),
            Cond::BeginsWith(Operand::Path(path), Operand::Value(v)) => (
                single_attr(path).ok_or_else(unsupported)?,
                SkCond::BeginsWith(v.clone()),
            ),
            _ => return Err(unsupported()),
        };
        if matches!(cond, SkCond::Cmp(CmpOp::Ne, _)) {
            return Err(AwsError::validation(
                "Invalid KeyConditionExpression: Invalid operator used in KeyConditionExpression: <>",
            ));
        }
        if attr == hash {
            match cond {
                SkCond::Cmp(CmpOp::Eq, v) if pk.is_none() => pk = Some(v),
                _ => return Err(unsupported()),
            }
        } else if Some(attr) == range && sk.is_none() {
            sk = Some(cond);
        } else {
            return Err(AwsError::validation(format!(
                "Query condition missed key schema element: {}",
                if pk.is_none() {
                    hash
                } else {
                    range.unwrap_or(hash)
                }
            )));
        }
    }
    let pk = pk.ok_or_else(|| {
        AwsError::validation(format!("Query condition missed key schema element: {hash}"))
    })?;
    Ok((pk, sk))
}

/// Legacy Condition maps (`KeyConditions`, `QueryFilter`, `ScanFilter`) as a condition.
pub fn legacy_conditions(m: Option<&Value>, or: bool) -> Result<Option<Cond>, AwsError> {
    let Some(m) = m.and_then(Value::as_map) else {
        return Ok(None);
    };
    let mut out: Option<Cond> = None;
    for (name, c) in m {
        let path = Operand::Path(vec![PathPart::Attr(name.clone())]);
        let vals: Vec<Operand> = c
            .get("AttributeValueList")
            .and_then(Value::as_list)
            .unwrap_or_default()
            .iter()
            .map(|v| Attr::from_value(v).map(Operand::Value))
            .collect::<Result<_, _>>()?;
        let op = c.str("ComparisonOperator").unwrap_or_default();
        let arg = |i: usize| -> Result<Operand, AwsError> {
            vals.get(i).cloned().ok_or_else(|| {
                AwsError::validation(format!(
                    "One or more parameter values were invalid: Invalid number of argument(s) for the {op} ComparisonOperator"
                ))
            })
        };
        let p = vec![PathPart::Attr(name.clone())];
        let cond = match op {
            "EQ" => Cond::Cmp(CmpOp::Eq, path, arg(0)?),
            "NE" => Cond::Cmp(CmpOp::Ne, path, arg(0)?),
            "LT" => Cond::Cmp(CmpOp::Lt, path, arg(0)?),
            "LE" => Cond::Cmp(CmpOp::Le, path, arg(0)?),
            "GT" => Cond::Cmp(CmpOp::Gt, path, arg(0)?),
            "GE" => Cond::Cmp(CmpOp::Ge, path, arg(0)?),
            "BETWEEN" => Cond::Between(path, arg(0)?, arg(1)?),
            "BEGINS_WITH" => Cond::BeginsWith(path, arg(0)?),
            "CONTAINS" => Cond::Contains(path, arg(0)?),
            "NOT_CONTAINS" => Cond::Not(Box::new(Cond::Contains(path, arg(0)?))),
            "NULL" => Cond::NotExists(p),
            "NOT_NULL" => Cond::Exists(p),
            "IN" => Cond::In(path, vals.clone()),
            _ => return Err(AwsError::validation("Unsupported ComparisonOperator")),
        };
        out = Some(match out {
            None => cond,
            Some(prev) if or => Cond::Or(Box::new(prev), Box::new(cond)),
            Some(prev) => Cond::And(Box::new(prev), Box::new(cond)),
        });
    }
    Ok(out)
}

fn successor(mut b: Vec<u8>) -> Option<Vec<u8>> {
    while let Some(&last) = b.last() {
        if last == 0xFF {
            b.pop();
        } else {
            let n = b.len() - 1;
            b[n] += 1;
            return Some(b);
        }
    }
    None
}

fn raw(a: &Attr) -> Vec<u8> {
    let mut v = Vec::new();
    key_bytes(a, &mut v);
    v
}

fn escaped_raw(a: &Attr) -> Vec<u8> {
    let mut out = Vec::new();
    for b in raw(a) {
        out.push(b);
        if b == 0 {
            out.push(0xFF);
        }
    }
    out
}

type Range = (Bound<Vec<u8>>, Bound<Vec<u8>>);

fn cat(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut v = a.to_vec();
    v.extend_from_slice(b);
    v
}

fn partition_end(prefix: &[u8]) -> Bound<Vec<u8>> {
    match successor(prefix.to_vec()) {
        Some(s) => Bound::Excluded(s),
        None => Bound::Unbounded,
    }
}

/// Byte range of the main table for a partition and sort condition.
fn table_range(prefix: &[u8], sk: Option<&SkCond>) -> Range {
    let lo_all = Bound::Included(prefix.to_vec());
    let hi_all = partition_end(prefix);
    match sk {
        None => (lo_all, hi_all),
        Some(SkCond::Cmp(op, v)) => {
            let k = cat(prefix, &raw(v));
            match op {
                CmpOp::Eq => (Bound::Included(k.clone()), Bound::Included(k)),
                CmpOp::Lt => (lo_all, Bound::Excluded(k)),
                CmpOp::Le => (lo_all, Bound::Included(k)),
                CmpOp::Gt => (Bound::Excluded(k), hi_all),
                _ => (Bound::Included(k), hi_all),
            }
        }
        Some(SkCond::Between(a, b)) => (
            Bound::Included(cat(prefix, &raw(a))),
            Bound::Included(cat(prefix, &raw(b))),
        ),
        Some(SkCond::BeginsWith(v)) => {
            let k = cat(prefix, &raw(v));
            let hi = match successor(k.clone()) {
                Some(s) => Bound::Excluded(s),
                None => hi_all,
            };
            (Bound::Included(k), hi)
        }
    }
}

/// Byte range of an index map for a partition and sort condition.
fn index_range(prefix: &[u8], sk: Option<&SkCond>) -> Range {
    let lo_all = Bound::Included(prefix.to_vec());
    let hi_all = partition_end(prefix);
    let before = |v: &Attr| index_sk_bound(prefix, v, false);
    let after = |v: &Attr| index_sk_bound(prefix, v, true);
    match sk {
        None => (lo_all, hi_all),
        Some(SkCond::Cmp(op, v)) => match op {
            CmpOp::Eq => (Bound::Included(before(v)), Bound::Excluded(after(v))),
            CmpOp::Lt => (lo_all, Bound::Excluded(before(v))),
            CmpOp::Le => (lo_all, Bound::Excluded(after(v))),
            CmpOp::Gt => (Bound::Included(after(v)), hi_all),
            _ => (Bound::Included(before(v)), hi_all),
        },
        Some(SkCond::Between(a, b)) => (Bound::Included(before(a)), Bound::Excluded(after(b))),
        Some(SkCond::BeginsWith(v)) => {
            let k = cat(prefix, &escaped_raw(v));
            let hi = match successor(k.clone()) {
                Some(s) => Bound::Excluded(s),
                None => hi_all,
            };
            (Bound::Included(k), hi)
        }
    }
}

fn cond_attrs(c: &Cond, out: &mut Vec<String>) {
    let op = |o: &Operand, out: &mut Vec<String>| match o {
        Operand::Path(p) | Operand::Size(p) => {
            if let Some(PathPart::Attr(a)) = p.first() {
                out.push(a.clone());
            }
        }
        _ => {}
    };
    match c {
        Cond::And(a, b) | Cond::Or(a, b) => {
            cond_attrs(a, out);
            cond_attrs(b, out);
        }
        Cond::Not(a) => cond_attrs(a, out),
        Cond::Exists(p) | Cond::NotExists(p) | Cond::Type(p, _) => {
            if let Some(PathPart::Attr(a)) = p.first() {
                out.push(a.clone());
            }
        }
        Cond::Cmp(_, a, b) | Cond::BeginsWith(a, b) | Cond::Contains(a, b) => {
            op(a, out);
            op(b, out);
        }
        Cond::Between(a, b, c) => {
            op(a, out);
            op(b, out);
            op(c, out);
        }
        Cond::In(a, l) => {
            op(a, out);
            for x in l {
                op(x, out);
            }
        }
    }
}

struct Page {
    items: Vec<Item>,
    count: usize,
    scanned: usize,
    last_key: Option<Item>,
    bytes: usize,
}

struct Reader<'a> {
    table: &'a Table,
    index: Option<&'a IndexMeta>,
    filter: Option<&'a Cond>,
    limit: Option<usize>,
    segment: Option<(u64, u64)>,
}

fn fnv(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf29ce484222325u64, |h, &x| {
        (h ^ u64::from(x)).wrapping_mul(0x100000001b3)
    })
}

impl Reader<'_> {
    /// Walks `range` in the table or index, in order or reversed.
    fn run(&self, range: Range, forward: bool) -> Result<Page, AwsError> {
        let mut page = Page {
            items: Vec::new(),
            count: 0,
            scanned: 0,
            last_key: None,
            bytes: 0,
        };
        let t = self.table;
        let bounds = (
            range.0.as_ref().map(Vec::as_slice),
            range.1.as_ref().map(Vec::as_slice),
        );
        // Entries: (map key, table key, encoded item).
        let mut visit = |table_key: &[u8], enc: &[u8]| -> Result<bool, AwsError> {
            if let Some((seg, total)) = self.segment {
                let plen = table_key
                    .get(..4)
                    .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize);
                let pk = table_key.get(4..4 + plen).unwrap_or_default();
                if fnv(pk) % total != seg {
                    return Ok(true);
                }
            }
            let Some(full) = crate::attr::decode_item(enc) else {
                return Ok(true);
            };
            let item = match self.index {
                Some(idx) => t.project_for_index(&full, idx),
                None => full,
            };
            page.scanned += 1;
            page.bytes += item_size(&item);
            let keep = match self.filter {
                Some(f) => eval(f, &item)?,
                None => true,
            };
            let key = t.key_attrs(&item, self.index);
            if keep {
                page.count += 1;
                page.items.push(item);
            }
            let full_page =
                self.limit.is_some_and(|l| page.scanned >= l) || page.bytes >= PAGE_BYTES;
            if full_page {
                page.last_key = Some(key);
                return Ok(false);
            }
            Ok(true)
        };
        let mut stopped = false;
        match self.index {
            None => {
                let it = t.items.range::<[u8], _>(bounds);
                if forward {
                    for (k, v) in it {
                        if !visit(k, v)? {
                            stopped = true;
                            break;
                        }
                    }
                } else {
                    for (k, v) in it.rev() {
                        if !visit(k, v)? {
                            stopped = true;
                            break;
                        }
                    }
                }
            }
            Some(idx) => {
                let Some(m) = t.indexes.get(&idx.name) else {
                    return Ok(page);
                };
                let it = m.range::<[u8], _>(bounds);
                let mut each = |tk: &[u8]| -> Result<bool, AwsError> {
                    match t.items.get(tk) {
                        Some(enc) => visit(tk, enc),
                        None => Ok(true),
                    }
                };
                if forward {
                    for (_, tk) in it {
                        if !each(tk)? {
                            stopped = true;
                            break;
                        }
                    }
                } else {
                    for (_, tk) in it.rev() {
                        if !each(tk)? {
                            stopped = true;
                            break;
                        }
                    }
                }
            }
        }
        let _ = stopped;
        Ok(page)
    }
}

/// Narrows `range` to start after the ExclusiveStartKey.
fn after_start(range: Range, start: Option<Vec<u8>>, forward: bool) -> Range {
    let Some(s) = start else { return range };
    if forward {
        (Bound::Excluded(s), range.1)
    } else {
        (range.0, Bound::Excluded(s))
    }
}

fn start_key(t: &Table, idx: Option<&IndexMeta>, v: &Value) -> Result<Option<Vec<u8>>, AwsError> {
    let Some(esk) = v.get("ExclusiveStartKey") else {
        return Ok(None);
    };
    let esk = item_from_value(Some(esk))?;
    let mut table_key_item = Item::new();
    for n in t.meta.key.names() {
        if let Some(x) = esk.get(n) {
            table_key_item.insert(n.to_owned(), x.clone());
        }
    }
    let tk = t
        .validate_key(&table_key_item)
        .map_err(|_| AwsError::validation("The provided starting key is invalid: The provided key element does not match the schema"))?;
    match idx {
        None => Ok(Some(tk)),
        Some(i) => Ok(Some(index_key(&i.key, &esk, &tk).ok_or_else(|| {
            AwsError::validation("The provided starting key is invalid: The provided key element does not match the schema")
        })?)),
    }
}

fn select_and_index<'a>(
    t: &'a Table,
    v: &Value,
    has_projection: bool,
    query: bool,
) -> Result<(Option<&'a IndexMeta>, String), AwsError> {
    let idx = match v.str("IndexName") {
        Some(n) => Some(t.index(n).ok_or_else(|| {
            AwsError::validation(format!("The table does not have the specified index: {n}"))
        })?),
        None => None,
    };
    let select = match v.str("Select") {
        Some(s) => s.to_owned(),
        None if has_projection => "SPECIFIC_ATTRIBUTES".to_owned(),
        None if idx.is_some() => "ALL_PROJECTED_ATTRIBUTES".to_owned(),
        None => "ALL_ATTRIBUTES".to_owned(),
    };
    if select == "SPECIFIC_ATTRIBUTES" && !has_projection {
        return Err(AwsError::validation(
            "Select type SPECIFIC_ATTRIBUTES requires ProjectionExpression or AttributesToGet",
        ));
    }
    if select != "SPECIFIC_ATTRIBUTES" && has_projection {
        let what = if select == "COUNT" {
            "only the Count"
        } else {
            select.as_str()
        };
        // Query words this one as a constraint violation, Scan does not.
        return Err(AwsError::validation(format!(
            "{}Cannot specify the ProjectionExpression when choosing to get {what}",
            if query {
                "1 validation error detected: "
            } else {
                ""
            }
        )));
    }
    if select == "ALL_PROJECTED_ATTRIBUTES" && idx.is_none() {
        return Err(AwsError::validation(
            "ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName",
        ));
    }
    if let Some(i) = idx {
        if i.global && v.bool("ConsistentRead") == Some(true) {
            return Err(AwsError::validation(
                "Consistent reads are not supported on global secondary indexes",
            ));
        }
        if select == "ALL_ATTRIBUTES" && i.global && i.projection != "ALL" {
            return Err(AwsError::validation(format!(
                "One or more parameter values were invalid: Select type ALL_ATTRIBUTES is not supported for global secondary index {} because its projection type is not ALL",
                i.name
            )));
        }
    }
    Ok((idx, select))
}

fn respond(
    page: Page,
    t: &Table,
    idx: Option<&IndexMeta>,
    select: &str,
    proj: Option<&[Path]>,
    v: &Value,
) -> Value {
    let mut out = Value::map()
        .with("Count", page.count as i64)
        .with("ScannedCount", page.scanned as i64);
    if select != "COUNT" {
        let items: Vec<Value> = page
            .items
            .iter()
            .map(|i| {
                let i = if select == "ALL_ATTRIBUTES" && idx.is_some() {
                    // An LSI fetches the rest of the item from the table.
                    let k = t.key_of(i);
                    t.get(&k).unwrap_or_else(|| i.clone())
                } else {
                    i.clone()
                };
                match proj {
                    Some(p) => item_to_value(&crate::expr::project(&i, p)),
                    None => item_to_value(&i),
                }
            })
            .collect();
        out.insert("Items", Value::List(items));
    }
    if let Some(k) = &page.last_key {
        out.insert("LastEvaluatedKey", item_to_value(k));
    }
    let c = page_consumed(page.bytes, idx, v);
    if let Some(c) = c.to_value(v.str("ReturnConsumedCapacity"), &t.meta.name, Kind::Read) {
        out.insert("ConsumedCapacity", c);
    }
    out
}

/// The read capacity a page of a query or scan consumed.
fn page_consumed(bytes: usize, idx: Option<&IndexMeta>, v: &Value) -> Consumed {
    let consistent = v.bool("ConsistentRead").unwrap_or(false);
    let units = read_units(bytes, consistent);
    let mut c = Consumed {
        table: if idx.is_none() { units } else { 0.0 },
        ..Default::default()
    };
    if let Some(i) = idx {
        c.add_index(&i.name, i.global, units);
    }
    c
}

fn limit(v: &Value) -> Option<usize> {
    v.int("Limit").map(|l| l.max(1) as usize)
}

impl DynamoDb {
    pub fn query(&self, ctx: &RequestContext, v: &Value) -> Result<Value, AwsError> {
        let name = table_name(v);
        let has_expr = [
            "KeyConditionExpression",
            "FilterExpression",
            "ProjectionExpression",
        ]
        .iter()
        .any(|m| v.get(m).is_some());
        let mut attrs = expr_attrs(v, has_expr)?;
        let key_cond = match v.str("KeyConditionExpression") {
            Some(src) => Some(parse_condition(src, "KeyConditionExpression", &mut attrs)?),
            None => legacy_conditions(v.get("KeyConditions"), false)?,
        };
        let filter = match condition(v, "FilterExpression", "FilterExpression", &mut attrs)? {
            Some(f) => Some(f),
            None => legacy_conditions(
                v.get("QueryFilter"),
                v.str("ConditionalOperator") == Some("OR"),
            )?,
        };
        let proj = projection(v, &mut attrs)?;
        attrs.check_unused()?;
        let Some(key_cond) = key_cond else {
            return Err(AwsError::validation(
                "Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.",
            ));
        };
        let t = self.table(ctx, &name)?;
        let t = t.read().unwrap();
        let (idx, select) = select_and_index(&t, v, proj.is_some(), true)?;
        let schema = idx.map_or(&t.meta.key, |i| &i.key);
        let (pk, sk) = key_conditions(
            &key_cond,
            &schema.hash.name,
            schema.range.as_ref().map(|r| r.name.as_str()),
        )?;
        validate_static(&key_cond, "KeyConditionExpression")?;
        let type_ok = pk.type_name() == schema.hash.ty
            && match (&sk, &schema.range) {
                (Some(SkCond::Cmp(_, a)) | Some(SkCond::BeginsWith(a)), Some(r)) => {
                    a.type_name() == r.ty
                }
                (Some(SkCond::Between(a, b)), Some(r)) => {
                    a.type_name() == r.ty && b.type_name() == r.ty
                }
                _ => true,
            };
        if !type_ok {
            return Err(AwsError::validation(
                "One or more parameter values were invalid: Condition parameter type does not match schema type",
            ));
        }
        if let Some(SkCond::BeginsWith(a)) = &sk
            && matches!(a, Attr::N(_))
        {
            return Err(AwsError::validation(
                "Invalid KeyConditionExpression: Incorrect operand type for operator or function; operator or function: begins_with, operand type: N",
            ));
        }
        if let Some(f) = &filter {
            let mut names = Vec::new();
            cond_attrs(f, &mut names);
            for n in names {
                if schema.names().contains(&n.as_str()) {
                    return Err(AwsError::validation(format!(
                        "Filter Expression can only contain non-primary key attributes: Primary key attribute: {n}"
                    )));
                }
            }
        }
        let forward = v.bool("ScanIndexForward").unwrap_or(true);
        let range = match idx {
            None => table_range(&partition_prefix(&pk), sk.as_ref()),
            Some(_) => index_range(&index_prefix(&pk), sk.as_ref()),
        };
        let range = after_start(range, start_key(&t, idx, v)?, forward);
        let page = Reader {
            table: &t,
            index: idx,
            filter: filter.as_ref(),
            limit: limit(v),
            segment: None,
        }
        .run(range, forward)?;
        self.charge(&t, &page_consumed(page.bytes, idx, v), Kind::Read)?;
        Ok(respond(page, &t, idx, &select, proj.as_deref(), v))
    }

    pub fn scan(&self, ctx: &RequestContext, v: &Value) -> Result<Value, AwsError> {
        let name = table_name(v);
        let has_expr = ["FilterExpression", "ProjectionExpression"]
            .iter()
            .any(|m| v.get(m).is_some());
        let mut attrs = expr_attrs(v, has_expr)?;
        let filter = match condition(v, "FilterExpression", "FilterExpression", &mut attrs)? {
            Some(f) => Some(f),
            None => legacy_conditions(
                v.get("ScanFilter"),
                v.str("ConditionalOperator") == Some("OR"),
            )?,
        };
        let proj = projection(v, &mut attrs)?;
        attrs.check_unused()?;
        let segment = match (v.int("Segment"), v.int("TotalSegments")) {
            (Some(s), Some(total)) => {
                if s >= total {
                    return Err(AwsError::validation(format!(
                        "The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: {s} is not less than TotalSegments: {total}"
                    )));
                }
                Some((s as u64, total as u64))
            }
            (None, None) => None,
            (Some(_), None) => {
                return Err(AwsError::validation(
                    "The TotalSegments parameter is required but was not present in the request when Segment parameter is present",
                ));
            }
            (None, Some(_)) => {
                return Err(AwsError::validation(
                    "The Segment parameter is required but was not present in the request when parameter TotalSegments is present",
                ));
            }
        };
        let t = self.table(ctx, &name)?;
        let t = t.read().unwrap();
        let (idx, select) = select_and_index(&t, v, proj.is_some(), false)?;
        let range = after_start(
            (Bound::Unbounded, Bound::Unbounded),
            start_key(&t, idx, v)?,
            true,
        );
        let page = Reader {
            table: &t,
            index: idx,
            filter: filter.as_ref(),
            limit: limit(v),
            segment,
        }
        .run(range, true)?;
        self.charge(&t, &page_consumed(page.bytes, idx, v), Kind::Read)?;
        Ok(respond(page, &t, idx, &select, proj.as_deref(), v))
    }
}
