//! Evaluation of parsed expressions against items: conditions, projections and updates.

use super::parser::{CmpOp, Cond, Operand, Path, PathPart, Update};
use crate::attr::{Attr, Item};
use nephos_core::AwsError;
use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::BTreeMap;

pub fn get_path<'a>(item: &'a Item, path: &Path) -> Option<&'a Attr> {
    let mut parts = path.iter();
    let Some(PathPart::Attr(first)) = parts.next() else {
        return None;
    };
    let mut cur = item.get(first)?;
    for p in parts {
        cur = match (p, cur) {
            (PathPart::Attr(a), Attr::M(m)) => m.get(a)?,
            (PathPart::Index(i), Attr::L(l)) => l.get(*i)?,
            _ => return None,
        };
    }
    Some(cur)
}

fn resolve<'a>(op: &'a Operand, item: &'a Item) -> Result<Option<Cow<'a, Attr>>, AwsError> {
    Ok(match op {
        Operand::Path(p) => get_path(item, p).map(Cow::Borrowed),
        Operand::Value(v) => Some(Cow::Borrowed(v)),
        Operand::Size(p) => match get_path(item, p) {
            None => None,
            Some(a) => {
                let n = match a {
                    Attr::S(s) => s.len(),
                    Attr::B(b) => b.len(),
                    Attr::SS(v) => v.len(),
                    Attr::NS(v) => v.len(),
                    Attr::BS(v) => v.len(),
                    Attr::M(m) => m.len(),
                    Attr::L(l) => l.len(),
                    other => {
                        return Err(AwsError::validation(format!(
                            "Invalid ConditionExpression: Incorrect operand type for operator or function; operator or function: size, operand type: {}",
                            other.type_name()
                        )));
                    }
                };
                Some(Cow::Owned(Attr::N(crate::number::Decimal::from_i64(
                    n as i64,
                ))))
            }
        },
        // Update-only operands never appear in conditions (the parser rejects them).
        _ => None,
    })
}

/// Orders two scalars of the same type (S by UTF-8 bytes, N by value, B bytewise).
pub fn compare(a: &Attr, b: &Attr) -> Option<Ordering> {
    match (a, b) {
        (Attr::S(x), Attr::S(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
        (Attr::N(x), Attr::N(y)) => Some(x.cmp(y)),
        (Attr::B(x), Attr::B(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

pub fn eval(c: &Cond, item: &Item) -> Result<bool, AwsError> {
    Ok(match c {
        Cond::And(a, b) => eval(a, item)? && eval(b, item)?,
        Cond::Or(a, b) => eval(a, item)? || eval(b, item)?,
        Cond::Not(a) => !eval(a, item)?,
        Cond::Exists(p) => get_path(item, p).is_some(),
        Cond::NotExists(p) => get_path(item, p).is_none(),
        Cond::Type(p, t) => match (get_path(item, p), resolve(t, item)?) {
            (Some(a), Some(t)) => matches!(&*t, Attr::S(t) if t == a.type_name()),
            _ => false,
        },
        Cond::BeginsWith(a, b) => match (resolve(a, item)?, resolve(b, item)?) {
            (Some(a), Some(b)) => match (&*a, &*b) {
                (Attr::S(x), Attr::S(y)) => x.starts_with(y.as_str()),
                (Attr::B(x), Attr::B(y)) => x.starts_with(y),
                _ => false,
            },
            _ => false,
        },
        Cond::Contains(a, b) => match (resolve(a, item)?, resolve(b, item)?) {
            (Some(a), Some(b)) => match (&*a, &*b) {
                (Attr::S(x), Attr::S(y)) => x.contains(y.as_str()),
                (Attr::B(x), Attr::B(y)) => {
                    y.is_empty() || x.windows(y.len()).any(|w| w == y.as_slice())
                }
                (Attr::SS(x), Attr::S(y)) => x.contains(y),
                (Attr::NS(x), Attr::N(y)) => x.contains(y),
                (Attr::BS(x), Attr::B(y)) => x.contains(y),
                (Attr::L(x), y) => x.contains(y),
                _ => false,
            },
            _ => false,
        },
        Cond::Cmp(op, a, b) => {
            let (Some(a), Some(b)) = (resolve(a, item)?, resolve(b, item)?) else {
                // A missing attribute differs from every value.
                return Ok(*op == CmpOp::Ne);
            };
            match op {
                CmpOp::Eq => *a == *b,
                CmpOp::Ne => *a != *b,
                _ => match compare(&a, &b) {
                    None => false,
                    Some(o) => match op {
                        CmpOp::Lt => o == Ordering::Less,
                        CmpOp::Le => o != Ordering::Greater,
                        CmpOp::Gt => o == Ordering::Greater,
                        _ => o != Ordering::Less,
                    },
                },
            }
        }
        Cond::Between(v, lo, hi) => {
            let (Some(v), Some(lo), Some(hi)) =
                (resolve(v, item)?, resolve(lo, item)?, resolve(hi, item)?)
            else {
                return Ok(false);
            };
            matches!(compare(&lo, &v), Some(Ordering::Less | Ordering::Equal))
                && matches!(compare(&v, &hi), Some(Ordering::Less | Ordering::Equal))
        }
        Cond::In(v, list) => {
            let Some(v) = resolve(v, item)? else {
                return Ok(false);
            };
            for o in list {
                if let Some(x) = resolve(o, item)?
                    && *x == *v
                {
                    return Ok(true);
                }
            }
            false
        }
    })
}

/// Checks operands that are known before any item is read (BETWEEN bounds).
pub fn validate_static(c: &Cond, kind: &str) -> Result<(), AwsError> {
    match c {
        Cond::And(a, b) | Cond::Or(a, b) => {
            validate_static(a, kind)?;
            validate_static(b, kind)
        }
        Cond::Not(a) => validate_static(a, kind),
        Cond::Between(_, Operand::Value(lo), Operand::Value(hi)) => {
            if compare(lo, hi) == Some(Ordering::Greater) {
                return Err(AwsError::validation(format!(
                    "Invalid {kind}: The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: AttributeValue: {{{}:{}}}, upper bound operand: AttributeValue: {{{}:{}}}",
                    lo.type_name(),
                    scalar_text(lo),
                    hi.type_name(),
                    scalar_text(hi)
                )));
            }
            Ok(())
        }
        Cond::In(_, list) if list.len() > 100 => Err(AwsError::validation(format!(
            "Invalid {kind}: The expression contains too many operands for the IN operator; operator: IN, number of operands: {}",
            list.len()
        ))),
        _ => Ok(()),
    }
}

fn scalar_text(a: &Attr) -> String {
    match a {
        Attr::S(s) => s.clone(),
        Attr::N(n) => n.to_string(),
        Attr::B(b) => format!("{b:?}"),
        other => other.type_name().to_owned(),
    }
}

/// Keeps only the projected paths of `item`, preserving nesting.
pub fn project(item: &Item, paths: &[Path]) -> Item {
    let mut out = Item::new();
    for p in paths {
        let Some(v) = get_path(item, p) else { continue };
        let Some(PathPart::Attr(first)) = p.first() else {
            continue;
        };
        if p.len() == 1 {
            out.insert(first.clone(), v.clone());
            continue;
        }
        // Rebuild the nesting; list indexes collapse into a compact list, as DynamoDB does.
        let entry = out.entry(first.clone()).or_insert_with(|| match &p[1] {
            PathPart::Attr(_) => Attr::M(BTreeMap::new()),
            PathPart::Index(_) => Attr::L(Vec::new()),
        });
        insert_projected(entry, &p[1..], v.clone());
    }
    out
}

fn insert_projected(target: &mut Attr, rest: &[PathPart], v: Attr) {
    let Some((head, tail)) = rest.split_first() else {
        *target = v;
        return;
    };
    let fresh = |next: Option<&PathPart>| match next {
        Some(PathPart::Index(_)) => Attr::L(Vec::new()),
        _ => Attr::M(BTreeMap::new()),
    };
    match (head, target) {
        (PathPart::Attr(a), Attr::M(m)) => {
            let e = m.entry(a.clone()).or_insert_with(|| fresh(tail.first()));
            insert_projected(e, tail, v);
        }
        (PathPart::Index(_), Attr::L(l)) => {
            if tail.is_empty() {
                l.push(v);
            } else {
                l.push(fresh(tail.first()));
                if let Some(last) = l.last_mut() {
                    insert_projected(last, tail, v);
                }
            }
        }
        _ => {}
    }
}

fn bad_operand() -> AwsError {
    AwsError::validation("An operand in the update expression has an incorrect data type")
}

fn invalid_path() -> AwsError {
    AwsError::validation(
        "The document path provided in the update expression is invalid for update",
    )
}

fn update_value(op: &Operand, item: &Item) -> Result<Attr, AwsError> {
    match op {
        Operand::Path(p) => get_path(item, p).cloned().ok_or_else(|| {
            AwsError::validation(
                "The provided expression refers to an attribute that does not exist in the item",
            )
        }),
        Operand::Value(v) => Ok(v.clone()),
        Operand::IfNotExists(p, dflt) => match get_path(item, p) {
            Some(v) => Ok(v.clone()),
            None => update_value(dflt, item),
        },
        Operand::ListAppend(a, b) => match (update_value(a, item)?, update_value(b, item)?) {
            (Attr::L(mut x), Attr::L(y)) => {
                x.extend(y);
                Ok(Attr::L(x))
            }
            _ => Err(bad_operand()),
        },
        Operand::Plus(a, b) | Operand::Minus(a, b) => {
            match (update_value(a, item)?, update_value(b, item)?) {
                (Attr::N(x), Attr::N(y)) => {
                    let r = if matches!(op, Operand::Plus(..)) {
                        x.add(y)
                    } else {
                        x.sub(y)
                    };
                    r.map(Attr::N).map_err(AwsError::validation)
                }
                _ => Err(bad_operand()),
            }
        }
        Operand::Size(_) => Err(AwsError::validation(
            "Invalid UpdateExpression: The function is not allowed to be used this way in an expression; function: size",
        )),
    }
}

fn parent_mut<'a>(item: &'a mut Item, path: &[PathPart]) -> Result<Option<&'a mut Attr>, AwsError> {
    // Returns the container holding the last element (None: the item itself).
    if path.len() <= 1 {
        return Ok(None);
    }
    let Some(PathPart::Attr(first)) = path.first() else {
        return Err(invalid_path());
    };
    let mut cur = item.get_mut(first).ok_or_else(invalid_path)?;
    for p in &path[1..path.len() - 1] {
        cur = match (p, cur) {
            (PathPart::Attr(a), Attr::M(m)) => m.get_mut(a).ok_or_else(invalid_path)?,
            (PathPart::Index(i), Attr::L(l)) => l.get_mut(*i).ok_or_else(invalid_path)?,
            _ => return Err(invalid_path()),
        };
    }
    Ok(Some(cur))
}

fn set_path(item: &mut Item, path: &[PathPart], v: Attr) -> Result<(), AwsError> {
    let last = path.last().ok_or_else(invalid_path)?;
    match (parent_mut(item, path)?, last) {
        (None, PathPart::Attr(a)) => {
            item.insert(a.clone(), v);
        }
        (Some(Attr::M(m)), PathPart::Attr(a)) => {
            m.insert(a.clone(), v);
        }
        (Some(Attr::L(l)), PathPart::Index(i)) => {
            if *i < l.len() {
                l[*i] = v;
            } else {
                l.push(v);
            }
        }
        _ => return Err(invalid_path()),
    }
    Ok(())
}

fn remove_path(item: &mut Item, path: &[PathPart]) -> Result<(), AwsError> {
    let Some(last) = path.last() else {
        return Ok(());
    };
    match (parent_mut(item, path), last) {
        (Ok(None), PathPart::Attr(a)) => {
            item.remove(a);
        }
        (Ok(Some(Attr::M(m))), PathPart::Attr(a)) => {
            m.remove(a);
        }
        (Ok(Some(Attr::L(l))), PathPart::Index(i)) if *i < l.len() => {
            l.remove(*i);
        }
        (Ok(Some(Attr::L(_))), PathPart::Index(_)) => {}
        (Ok(Some(_)), _) => return Err(invalid_path()),
        // Removing below a missing parent is a no-op in DynamoDB.
        _ => {}
    }
    Ok(())
}

/// Applies an update expression; every right-hand side reads the item as it was before.
pub fn apply_update(u: &Update, old: &Item) -> Result<Item, AwsError> {
    let mut item = old.clone();
    let mut sets = Vec::with_capacity(u.set.len());
    for (p, op) in &u.set {
        sets.push((p, update_value(op, old)?));
    }
    for (p, v) in sets {
        set_path(&mut item, p, v)?;
    }
    // Remove list elements from the highest index down so indexes refer to the old list.
    let mut removes: Vec<&Path> = u.remove.iter().collect();
    removes.sort_by(|a, b| b.cmp(a));
    for p in removes {
        remove_path(&mut item, p)?;
    }
    for (p, op) in &u.add {
        let v = update_value(op, old)?;
        let cur = get_path(&item, p).cloned();
        let new = match (cur, v) {
            (None, v @ (Attr::N(_) | Attr::SS(_) | Attr::NS(_) | Attr::BS(_))) => v,
            (Some(Attr::N(a)), Attr::N(b)) => Attr::N(a.add(b).map_err(AwsError::validation)?),
            (Some(Attr::SS(mut a)), Attr::SS(b)) => {
                for x in b {
                    if !a.contains(&x) {
                        a.push(x);
                    }
                }
                Attr::SS(a)
            }
            (Some(Attr::NS(mut a)), Attr::NS(b)) => {
                for x in b {
                    if !a.contains(&x) {
                        a.push(x);
                    }
                }
                Attr::NS(a)
            }
            (Some(Attr::BS(mut a)), Attr::BS(b)) => {
                for x in b {
                    if !a.contains(&x) {
                        a.push(x);
                    }
                }
                Attr::BS(a)
            }
            (None, other) => {
                return Err(AwsError::validation(format!(
                    "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: ADD, operand type: {}",
                    long_type(&other)
                )));
            }
            _ => return Err(bad_operand()),
        };
        set_path(&mut item, p, new)?;
    }
    for (p, op) in &u.delete {
        let v = update_value(op, old)?;
        if !matches!(v, Attr::SS(_) | Attr::NS(_) | Attr::BS(_)) {
            return Err(AwsError::validation(format!(
                "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: DELETE, operand type: {}",
                long_type(&v)
            )));
        }
        let Some(cur) = get_path(&item, p).cloned() else {
            continue;
        };
        let new = match (cur, v) {
            (Attr::SS(a), Attr::SS(b)) => {
                let r: Vec<_> = a.into_iter().filter(|x| !b.contains(x)).collect();
                (!r.is_empty()).then_some(Attr::SS(r))
            }
            (Attr::NS(a), Attr::NS(b)) => {
                let r: Vec<_> = a.into_iter().filter(|x| !b.contains(x)).collect();
                (!r.is_empty()).then_some(Attr::NS(r))
            }
            (Attr::BS(a), Attr::BS(b)) => {
                let r: Vec<_> = a.into_iter().filter(|x| !b.contains(x)).collect();
                (!r.is_empty()).then_some(Attr::BS(r))
            }
            _ => return Err(bad_operand()),
        };
        match new {
            Some(n) => set_path(&mut item, p, n)?,
            None => remove_path(&mut item, p)?,
        }
    }
    Ok(item)
}

fn long_type(a: &Attr) -> &'static str {
    match a {
        Attr::S(_) => "STRING",
        Attr::N(_) => "NUMBER",
        Attr::B(_) => "BINARY",
        Attr::SS(_) => "STRING SET",
        Attr::NS(_) => "NUMBER SET",
        Attr::BS(_) => "BINARY SET",
        Attr::M(_) => "MAP",
        Attr::L(_) => "LIST",
        Attr::Null => "NULL",
        Attr::Bool(_) => "BOOLEAN",
    }
}

#[cfg(test)]
mod tests {
    use super::super::parser::{ExprAttrs, parse_condition, parse_update};
    use super::*;
    use crate::number::Decimal;
    use std::collections::HashMap;

    fn n(s: &str) -> Attr {
        Attr::N(Decimal::parse(s).unwrap())
    }

    fn vals() -> HashMap<String, Attr> {
        let mut v = HashMap::new();
        v.insert(":a".into(), n("0.1"));
        v.insert(":b".into(), n("0.2"));
        v.insert(":s".into(), Attr::S("he".into()));
        v.insert(":l".into(), Attr::L(vec![n("3")]));
        v.insert(":ss".into(), Attr::SS(vec!["x".into()]));
        v
    }

    fn item() -> Item {
        let mut i = Item::new();
        i.insert("num".into(), n("0.1"));
        i.insert("s".into(), Attr::S("hello".into()));
        i.insert("l".into(), Attr::L(vec![n("1"), n("2")]));
        i.insert("tags".into(), Attr::SS(vec!["x".into(), "y".into()]));
        i
    }

    fn cond(src: &str) -> bool {
        let mut a = ExprAttrs::new(HashMap::new(), vals());
        eval(
            &parse_condition(src, "ConditionExpression", &mut a).unwrap(),
            &item(),
        )
        .unwrap()
    }

    #[test]
    fn conditions() {
        assert!(cond("num = :a"));
        assert!(cond("num < :b AND begins_with(s, :s)"));
        assert!(cond(
            "contains(tags, :s) OR size(l) = :a OR attribute_exists(l[1])"
        ));
        assert!(!cond("attribute_exists(l[2])"));
        assert!(cond("num BETWEEN :a AND :b"));
        assert!(cond("num IN (:b, :a)"));
        assert!(!cond("absent = :a"));
        assert!(cond("absent <> :a"));
        assert!(cond("NOT (s < :s)"));
    }

    #[test]
    fn updates() {
        let mut a = ExprAttrs::new(HashMap::new(), vals());
        let u = parse_update(
            "SET num = num + :b, l = list_append(l, :l), c = if_not_exists(c, :a) DELETE tags :ss",
            &mut a,
        )
        .unwrap();
        let out = apply_update(&u, &item()).unwrap();
        assert_eq!(out["num"], n("0.3"));
        assert_eq!(out["l"], Attr::L(vec![n("1"), n("2"), n("3")]));
        assert_eq!(out["c"], n("0.1"));
        assert_eq!(out["tags"], Attr::SS(vec!["y".into()]));
        let u = parse_update("REMOVE l[0], s ADD num :a", &mut a).unwrap();
        let out = apply_update(&u, &item()).unwrap();
        assert_eq!(out["l"], Attr::L(vec![n("2")]));
        assert_eq!(out["num"], n("0.2"));
        assert!(!out.contains_key("s"));
    }

    #[test]
    fn projection_keeps_nesting() {
        let p = vec![vec![PathPart::Attr("l".into()), PathPart::Index(1)]];
        let out = project(&item(), &p);
        assert_eq!(out["l"], Attr::L(vec![n("2")]));
    }
}
