//! Property tests: the key encodings and the expression evaluator against straightforward
//! reference models (exact decimal comparison by digit strings, byte-wise comparison,
//! naive prefix checks).

use crate::attr::{Attr, Item, storage_key};
use crate::expr::eval;
use crate::expr::parser::{CmpOp, Cond, Operand, PathPart};
use crate::number::Decimal;
use crate::table::{KeyAttr, KeySchema, index_key};
use proptest::prelude::*;
use std::cmp::Ordering;

/// A number as sign, digits and exponent; its text is what DynamoDB would receive.
#[derive(Debug, Clone)]
struct Num {
    neg: bool,
    digits: String,
    exp: i32,
}

impl Num {
    fn text(&self) -> String {
        format!(
            "{}{}E{}",
            if self.neg { "-" } else { "" },
            self.digits,
            self.exp
        )
    }
}

fn num() -> impl Strategy<Value = Num> {
    (any::<bool>(), "[0-9]{1,38}", -60i32..60).prop_map(|(neg, digits, exp)| Num {
        neg,
        digits,
        exp,
    })
}

/// Reference comparison: scale both to the smaller exponent by appending zeros, then
/// compare the integers as digit strings.
fn reference_cmp(a: &Num, b: &Num) -> Ordering {
    let mag = |n: &Num, e: i32| -> String {
        let s = format!("{}{}", n.digits, "0".repeat((n.exp - e) as usize));
        let t = s.trim_start_matches('0');
        t.to_owned()
    };
    let e = a.exp.min(b.exp);
    let (ma, mb) = (mag(a, e), mag(b, e));
    let abs = ma.len().cmp(&mb.len()).then_with(|| ma.cmp(&mb));
    let za = ma.is_empty();
    let zb = mb.is_empty();
    let sa = if za {
        0
    } else if a.neg {
        -1
    } else {
        1
    };
    let sb = if zb {
        0
    } else if b.neg {
        -1
    } else {
        1
    };
    match sa.cmp(&sb) {
        Ordering::Equal if sa < 0 => abs.reverse(),
        Ordering::Equal => abs,
        o => o,
    }
}

fn path(n: &str) -> Operand {
    Operand::Path(vec![PathPart::Attr(n.into())])
}

fn scalar() -> impl Strategy<Value = Attr> {
    prop_oneof![
        "[a-c\u{e9}\u{1F600}]{0,4}".prop_map(Attr::S),
        num().prop_filter_map("in range", |n| Decimal::parse(&n.text()).ok().map(Attr::N)),
        proptest::collection::vec(0u8..4, 0..4).prop_map(Attr::B),
    ]
}

fn reference_order(a: &Attr, b: &Attr) -> Option<Ordering> {
    match (a, b) {
        (Attr::S(x), Attr::S(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
        (Attr::B(x), Attr::B(y)) => Some(x.as_slice().cmp(y.as_slice())),
        (Attr::N(x), Attr::N(y)) => {
            let parse = |d: &Decimal| {
                let t = d.to_string();
                let neg = t.starts_with('-');
                let t = t.trim_start_matches('-');
                let (int, frac) = t.split_once('.').unwrap_or((t, ""));
                Num {
                    neg,
                    digits: format!("{int}{frac}"),
                    exp: -(frac.len() as i32),
                }
            };
            Some(reference_cmp(&parse(x), &parse(y)))
        }
        _ => None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn number_order_matches_exact_decimal_order(a in num(), b in num()) {
        let (Ok(da), Ok(db)) = (Decimal::parse(&a.text()), Decimal::parse(&b.text())) else {
            return Ok(());
        };
        let want = reference_cmp(&a, &b);
        prop_assert_eq!(da.cmp(&db), want);
        let (mut ka, mut kb) = (Vec::new(), Vec::new());
        da.sortable_bytes(&mut ka);
        db.sortable_bytes(&mut kb);
        prop_assert_eq!(ka.cmp(&kb), want);
        // The text form reparses to the same number.
        prop_assert_eq!(Decimal::parse(&da.to_string()).ok(), Some(da));
    }

    #[test]
    fn sort_keys_order_like_dynamodb(pk in "[a-z]{0,3}x", a in scalar(), b in scalar()) {
        if a.type_name() != b.type_name() {
            return Ok(());
        }
        let p = Attr::S(pk);
        let want = reference_order(&a, &b);
        prop_assert_eq!(Some(storage_key(&p, Some(&a)).cmp(&storage_key(&p, Some(&b)))), want);
        // Index keys escape the sort key; the escaped form must order the same way.
        let schema = KeySchema {
            hash: KeyAttr { name: "g".into(), ty: "S".into() },
            range: Some(KeyAttr { name: "r".into(), ty: a.type_name().into() }),
        };
        let item = |v: &Attr| -> Item {
            [("g".to_owned(), p.clone()), ("r".to_owned(), v.clone())].into_iter().collect()
        };
        let ia = index_key(&schema, &item(&a), b"\x01");
        let ib = index_key(&schema, &item(&b), b"\x00\x02");
        if let (Some(ia), Some(ib)) = (ia, ib) {
            match want {
                Some(Ordering::Equal) | None => {}
                Some(o) => prop_assert_eq!(ia.cmp(&ib), o),
            }
        }
        // Partition keys never interleave: every key of one partition sorts together.
        let other = Attr::S("zz".into());
        let (lo, hi) = (storage_key(&p, Some(&a)).min(storage_key(&p, Some(&b))),
                        storage_key(&p, Some(&a)).max(storage_key(&p, Some(&b))));
        let o = storage_key(&other, Some(&a));
        prop_assert!(!(lo < o && o < hi));
    }

    #[test]
    fn comparators_match_reference(a in scalar(), b in scalar(), lo in scalar()) {
        let mut item = Item::new();
        item.insert("a".into(), a.clone());
        let ord = reference_order(&a, &b);
        let cases = [
            (CmpOp::Eq, ord == Some(Ordering::Equal)),
            (CmpOp::Ne, ord != Some(Ordering::Equal)),
            (CmpOp::Lt, ord == Some(Ordering::Less)),
            (CmpOp::Le, matches!(ord, Some(Ordering::Less | Ordering::Equal))),
            (CmpOp::Gt, ord == Some(Ordering::Greater)),
            (CmpOp::Ge, matches!(ord, Some(Ordering::Greater | Ordering::Equal))),
        ];
        for (op, want) in cases {
            let c = Cond::Cmp(op, path("a"), Operand::Value(b.clone()));
            prop_assert_eq!(eval(&c, &item).unwrap(), want, "{:?} {:?} {:?}", op, a, b);
        }
        // A missing attribute: only <> holds.
        let c = Cond::Cmp(CmpOp::Ne, path("missing"), Operand::Value(b.clone()));
        prop_assert!(eval(&c, &item).unwrap());
        let between = Cond::Between(path("a"), Operand::Value(lo.clone()), Operand::Value(b.clone()));
        let want = matches!(reference_order(&lo, &a), Some(Ordering::Less | Ordering::Equal))
            && matches!(ord, Some(Ordering::Less | Ordering::Equal));
        prop_assert_eq!(eval(&between, &item).unwrap(), want);
        let begins = Cond::BeginsWith(path("a"), Operand::Value(b.clone()));
        let want = match (&a, &b) {
            (Attr::S(x), Attr::S(y)) => x.len() >= y.len() && x.as_bytes()[..y.len()] == *y.as_bytes(),
            (Attr::B(x), Attr::B(y)) => x.len() >= y.len() && x[..y.len()] == y[..],
            _ => false,
        };
        prop_assert_eq!(eval(&begins, &item).unwrap(), want);
        let inside = Cond::In(path("a"), vec![Operand::Value(lo.clone()), Operand::Value(b.clone())]);
        let want = reference_order(&a, &lo) == Some(Ordering::Equal) || ord == Some(Ordering::Equal);
        prop_assert_eq!(eval(&inside, &item).unwrap(), want);
    }

    #[test]
    fn expression_parsers_never_panic(src in "[ a-z0-9#:=<>(),.\\[\\]+-]{0,40}") {
        let mut attrs = crate::expr::ExprAttrs::new(
            [("#a".to_owned(), "a".to_owned())].into_iter().collect(),
            [(":v".to_owned(), Attr::S("x".into()))].into_iter().collect(),
        );
        let _ = crate::expr::parse_condition(&src, "ConditionExpression", &mut attrs);
        let _ = crate::expr::parse_update(&src, &mut attrs);
        let _ = crate::expr::parse_projection(&src, &mut attrs);
        let _ = crate::partiql::parser::parse(&src, &[]);
    }
}
