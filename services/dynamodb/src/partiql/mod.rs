//! PartiQL: ExecuteStatement, BatchExecuteStatement and ExecuteTransaction. Statements
//! are parsed by [`parser`], reads run over the table's ordered maps, and writes go
//! through the same all-or-nothing write path as TransactWriteItems.

pub mod parser;

use crate::attr::{Attr, Item, decode_item, item_to_value, partition_prefix};
use crate::expr::parser::{CmpOp, Cond, Operand, PathPart, Update};
use crate::expr::{eval, project};
use crate::state::DynamoDb;
use crate::table::{KeySchema, Table, index_prefix};
use crate::transact::{Op, Write};
use nephos_core::{AwsError, RequestContext, Value};
use parser::{Stmt, parse};
use std::ops::Bound;

fn conjuncts(c: Cond, out: &mut Vec<Cond>) {
    match c {
        Cond::And(a, b) => {
            conjuncts(*a, out);
            conjuncts(*b, out);
        }
        other => out.push(other),
    }
}

fn and_all(mut cs: Vec<Cond>) -> Option<Cond> {
    let first = cs.pop()?;
    Some(
        cs.into_iter()
            .rev()
            .fold(first, |acc, c| Cond::And(Box::new(c), Box::new(acc))),
    )
}

/// `name = value` (either way round) on a top-level attribute.
fn equality(c: &Cond) -> Option<(&str, &Attr)> {
    let Cond::Cmp(CmpOp::Eq, a, b) = c else {
        return None;
    };
    let (p, v) = match (a, b) {
        (Operand::Path(p), Operand::Value(v)) | (Operand::Value(v), Operand::Path(p)) => (p, v),
        _ => return None,
    };
    match p.as_slice() {
        [PathPart::Attr(n)] => Some((n.as_str(), v)),
        _ => None,
    }
}

/// Splits a WHERE clause into the item's full key and the remaining condition.
fn key_and_rest(schema: &KeySchema, cond: Option<Cond>) -> Result<(Item, Option<Cond>), AwsError> {
    let mut cs = Vec::new();
    if let Some(c) = cond {
        conjuncts(c, &mut cs);
    }
    let mut key = Item::new();
    let mut rest = Vec::new();
    for c in cs {
        match equality(&c) {
            Some((n, v)) if schema.names().contains(&n) && !key.contains_key(n) => {
                key.insert(n.to_owned(), v.clone());
            }
            _ => rest.push(c),
        }
    }
    if key.len() != schema.names().len() {
        return Err(AwsError::validation(
            "Where clause does not contain a mandatory equality on all key attributes",
        ));
    }
    Ok((key, and_all(rest)))
}

fn exists(name: &str) -> Cond {
    Cond::Exists(vec![PathPart::Attr(name.to_owned())])
}

fn duplicate() -> AwsError {
    AwsError::new(
        400,
        "DuplicateItemException",
        "Duplicate primary key exists in table",
    )
}

fn params(v: &Value) -> Result<Vec<Attr>, AwsError> {
    v.get("Parameters")
        .and_then(Value::as_list)
        .unwrap_or_default()
        .iter()
        .map(Attr::from_value)
        .collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

fn invalid_token() -> AwsError {
    AwsError::validation("Invalid NextToken")
}

/// One page of a SELECT.
struct Page {
    items: Vec<Item>,
    next: Option<Vec<u8>>,
}

fn select(
    t: &Table,
    index: Option<&str>,
    proj: Option<&[crate::expr::Path]>,
    cond: Option<&Cond>,
    start: Option<Vec<u8>>,
    limit: Option<usize>,
) -> Result<Page, AwsError> {
    let idx = match index {
        Some(n) => Some(t.index(n).ok_or_else(|| {
            AwsError::validation(format!("The table does not have the specified index: {n}"))
        })?),
        None => None,
    };
    let schema = idx.map_or(&t.meta.key, |i| &i.key);
    // An equality on the partition key narrows the walk to one partition.
    let mut prefix = Vec::new();
    if let Some(c) = cond {
        let mut cs = Vec::new();
        conjuncts(c.clone(), &mut cs);
        for c in &cs {
            if let Some((n, v)) = equality(c)
                && n == schema.hash.name
                && v.type_name() == schema.hash.ty
            {
                prefix = if idx.is_some() {
                    index_prefix(v)
                } else {
                    partition_prefix(v)
                };
            }
        }
    }
    let lo = match start {
        Some(s) => Bound::Excluded(s),
        None => Bound::Included(prefix.clone()),
    };
    let map = match idx {
        Some(i) => t.indexes.get(&i.name).ok_or_else(invalid_token)?,
        None => &t.items,
    };
    let mut items = Vec::new();
    let mut next = None;
    let mut last: Option<&[u8]> = None;
    let range = map.range::<[u8], _>((lo.as_ref().map(Vec::as_slice), Bound::Unbounded));
    for (evaluated, (k, v)) in range.enumerate() {
        if !k.starts_with(&prefix) {
            break;
        }
        if limit.is_some_and(|l| evaluated >= l) {
            next = last.map(<[u8]>::to_vec);
            break;
        }
        last = Some(k);
        let item = match idx {
            Some(i) => t
                .items
                .get(v)
                .and_then(|b| decode_item(b))
                .map(|it| t.project_for_index(&it, i)),
            None => decode_item(v),
        };
        let Some(item) = item else { continue };
        if let Some(c) = cond
            && !eval(c, &item)?
        {
            continue;
        }
        items.push(match proj {
            Some(p) => project(&item, p),
            None => item,
        });
    }
    Ok(Page { items, next })
}

impl DynamoDb {
    /// The write a PartiQL INSERT, UPDATE or DELETE makes.
    fn partiql_write(&self, ctx: &RequestContext, stmt: Stmt) -> Result<Write, AwsError> {
        let t = self.table(ctx, stmt.table())?;
        let schema = t.read().unwrap().meta.key.clone();
        let hash = schema.hash.name.clone();
        let (op, cond) = match stmt {
            Stmt::Insert { item, .. } => {
                let c = Cond::Not(Box::new(exists(&hash)));
                (Op::Put(item), Some(c))
            }
            Stmt::Update {
                set, remove, cond, ..
            } => {
                let (key, rest) = key_and_rest(&schema, cond)?;
                let u = Update {
                    set,
                    remove,
                    ..Default::default()
                };
                let c = match rest {
                    Some(r) => Cond::And(Box::new(exists(&hash)), Box::new(r)),
                    None => exists(&hash),
                };
                (Op::Update(u, key), Some(c))
            }
            Stmt::Delete { cond, .. } => {
                let (key, rest) = key_and_rest(&schema, cond)?;
                (Op::Delete(key), rest)
            }
            Stmt::Select { .. } => {
                return Err(AwsError::validation("Expected a write statement"));
            }
        };
        Ok(Write {
            table: t.read().unwrap().meta.name.clone(),
            op,
            cond,
            rvoccf: None,
        })
    }

    async fn run_write(&self, ctx: &RequestContext, stmt: Stmt) -> Result<(), AwsError> {
        let insert = matches!(stmt, Stmt::Insert { .. });
        let w = self.partiql_write(ctx, stmt)?;
        let (pending, _) = match self.apply_writes(ctx, std::slice::from_ref(&w), false, 1.0, false)
        {
            Err(e) if insert && e.code == "ConditionalCheckFailedException" => {
                return Err(duplicate());
            }
            other => other?,
        };
        pending.wait().await
    }

    /// A SELECT that names an item's full key, as batches and transactions require.
    fn get_by_key(&self, ctx: &RequestContext, stmt: Stmt) -> Result<Option<Item>, AwsError> {
        let Stmt::Select {
            table,
            index,
            proj,
            cond,
        } = stmt
        else {
            return Err(AwsError::validation("Expected a read statement"));
        };
        if index.is_some() {
            return Err(AwsError::validation(
                "Select statements with an index are not supported in batches and transactions",
            ));
        }
        let t = self.table(ctx, &table)?;
        let t = t.read().unwrap();
        let (key, rest) = key_and_rest(&t.meta.key, cond)?;
        let skey = t.validate_key(&key)?;
        let Some(item) = t.get(&skey) else {
            return Ok(None);
        };
        if let Some(c) = &rest
            && !eval(c, &item)?
        {
            return Ok(None);
        }
        Ok(Some(match &proj {
            Some(p) => project(&item, p),
            None => item,
        }))
    }

    pub async fn execute_statement(
        &self,
        ctx: &RequestContext,
        v: &Value,
    ) -> Result<Value, AwsError> {
        let src = v.str("Statement").unwrap_or_default();
        let stmt = parse(src, &params(v)?)?;
        match stmt {
            Stmt::Select {
                table,
                index,
                proj,
                cond,
            } => {
                let start = match v.str("NextToken") {
                    Some(tok) => Some(unhex(tok).ok_or_else(invalid_token)?),
                    None => None,
                };
                let limit = v.int("Limit").map(|l| l.max(1) as usize);
                let t = self.table(ctx, &table)?;
                let t = t.read().unwrap();
                let page = select(
                    &t,
                    index.as_deref(),
                    proj.as_deref(),
                    cond.as_ref(),
                    start,
                    limit,
                )?;
                let mut out = Value::map().with(
                    "Items",
                    Value::List(page.items.iter().map(item_to_value).collect()),
                );
                if let Some(n) = page.next {
                    out.insert("NextToken", hex(&n));
                }
                Ok(out)
            }
            write => {
                self.run_write(ctx, write).await?;
                Ok(Value::map().with("Items", Value::List(Vec::new())))
            }
        }
    }

    pub async fn batch_execute_statement(
        &self,
        ctx: &RequestContext,
        v: &Value,
    ) -> Result<Value, AwsError> {
        let list = v
            .get("Statements")
            .and_then(Value::as_list)
            .unwrap_or_default();
        if list.len() > 25 {
            return Err(AwsError::validation(
                "1 validation error detected: Value at 'statements' failed to satisfy constraint: Member must have length less than or equal to 25",
            ));
        }
        let mut parsed = Vec::new();
        for s in list {
            let stmt = parse(s.str("Statement").unwrap_or_default(), &params(s)?)?;
            parsed.push(stmt);
        }
        let reads = parsed.iter().filter(|s| s.is_read()).count();
        if reads != 0 && reads != parsed.len() {
            return Err(AwsError::validation(
                "Batch request can not contain both read and write operations",
            ));
        }
        let mut responses = Vec::new();
        for stmt in parsed {
            let table = stmt.table().to_owned();
            let result = if stmt.is_read() {
                self.get_by_key(ctx, stmt)
                    .map(|i| i.map(|i| item_to_value(&i)))
            } else {
                self.run_write(ctx, stmt).await.map(|()| None)
            };
            let mut r = Value::map().with("TableName", table);
            match result {
                Ok(Some(item)) => r.insert("Item", item),
                Ok(None) => {}
                Err(e) => {
                    let code = match e.code.as_ref() {
                        "ConditionalCheckFailedException" => "ConditionalCheckFailed",
                        "DuplicateItemException" => "DuplicateItem",
                        "ResourceNotFoundException" => "ResourceNotFound",
                        _ => "ValidationError",
                    };
                    r.insert(
                        "Error",
                        Value::map().with("Code", code).with("Message", e.message),
                    );
                }
            }
            responses.push(r);
        }
        Ok(Value::map().with("Responses", Value::List(responses)))
    }

    pub async fn execute_transaction(
        &self,
        ctx: &RequestContext,
        v: &Value,
    ) -> Result<Value, AwsError> {
        let list = v
            .get("TransactStatements")
            .and_then(Value::as_list)
            .unwrap_or_default();
        let mut parsed = Vec::new();
        for s in list {
            parsed.push(parse(s.str("Statement").unwrap_or_default(), &params(s)?)?);
        }
        let reads = parsed.iter().filter(|s| s.is_read()).count();
        if reads == parsed.len() {
            let mut responses = Vec::new();
            for stmt in parsed {
                let mut r = Value::map();
                if let Some(i) = self.get_by_key(ctx, stmt)? {
                    r.insert("Item", item_to_value(&i));
                }
                responses.push(r);
            }
            return Ok(Value::map().with("Responses", Value::List(responses)));
        }
        if reads != 0 {
            return Err(AwsError::validation(
                "Transaction request cannot contain both read and write operations",
            ));
        }
        let inserts: Vec<bool> = parsed
            .iter()
            .map(|s| matches!(s, Stmt::Insert { .. }))
            .collect();
        let writes = parsed
            .into_iter()
            .map(|s| self.partiql_write(ctx, s))
            .collect::<Result<Vec<_>, _>>()?;
        let (pending, _) = match self.apply_writes(ctx, &writes, true, 2.0, false) {
            Ok(x) => x,
            Err(e) if e.code == "TransactionCanceledException" => {
                return Err(duplicate_reasons(e, &inserts));
            }
            Err(e) => return Err(e),
        };
        pending.wait().await?;
        // AWS answers a write transaction with an empty Responses list, not none.
        Ok(Value::map().with("Responses", Value::List(Vec::new())))
    }
}

/// A failed INSERT in a transaction is reported as DuplicateItem, not a condition failure.
fn duplicate_reasons(mut e: AwsError, inserts: &[bool]) -> AwsError {
    let Some(Value::List(reasons)) = e.fields.get_mut("CancellationReasons") else {
        return e;
    };
    for (r, insert) in reasons.iter_mut().zip(inserts) {
        if *insert && r.str("Code") == Some("ConditionalCheckFailed") {
            *r = Value::map()
                .with("Code", "DuplicateItem")
                .with("Message", "Duplicate primary key exists in table");
        }
    }
    let codes: Vec<&str> = reasons
        .iter()
        .map(|r| r.str("Code").unwrap_or("None"))
        .collect();
    e.message = format!(
        "Transaction cancelled, please refer cancellation reasons for specific reasons [{}]",
        codes.join(", ")
    );
    e
}
