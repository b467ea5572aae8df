//! A hand-written lexer and recursive-descent parser for DynamoDB's PartiQL subset:
//! SELECT, INSERT, UPDATE and DELETE with `?` parameters, mapped onto the condition and
//! update trees of the expression languages so one evaluator serves both.

use crate::attr::{Attr, Item};
use crate::expr::parser::{CmpOp, Cond, Operand, Path, PathPart};
use crate::number::Decimal;
use nephos_core::AwsError;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    /// A bare word (keyword or identifier).
    Word(String),
    /// A "double-quoted" identifier.
    Quoted(String),
    /// A 'single-quoted' string.
    Str(String),
    Num(String),
    Param,
    Sym(&'static str),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Stmt {
    Select {
        table: String,
        index: Option<String>,
        /// None for `*`.
        proj: Option<Vec<Path>>,
        cond: Option<Cond>,
    },
    Insert {
        table: String,
        item: Item,
    },
    Update {
        table: String,
        set: Vec<(Path, Operand)>,
        remove: Vec<Path>,
        cond: Option<Cond>,
    },
    Delete {
        table: String,
        cond: Option<Cond>,
    },
}

impl Stmt {
    pub fn table(&self) -> &str {
        match self {
            Stmt::Select { table, .. }
            | Stmt::Insert { table, .. }
            | Stmt::Update { table, .. }
            | Stmt::Delete { table, .. } => table,
        }
    }

    pub fn is_read(&self) -> bool {
        matches!(self, Stmt::Select { .. })
    }
}

pub fn malformed(detail: impl std::fmt::Display) -> AwsError {
    AwsError::validation(format!(
        "Statement wasn't well formed, can't be processed: {detail}"
    ))
}

const SYMS: &[&str] = &[
    "<<", ">>", "<=", ">=", "<>", "!=", "=", "<", ">", "(", ")", "[", "]", "{", "}", ",", ".", ":",
    "*", "+", "-", ";",
];

fn lex(src: &str) -> Result<Vec<Tok>, AwsError> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c == b'-' && b.get(i + 1) == Some(&b'-') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        if c == b'\'' || c == b'"' {
            let mut s = Vec::new();
            i += 1;
            loop {
                match b.get(i) {
                    None => return Err(malformed("unterminated quoted text")),
                    Some(&q) if q == c => {
                        // A doubled quote is an escaped quote.
                        if b.get(i + 1) == Some(&c) {
                            s.push(c);
                            i += 2;
                        } else {
                            i += 1;
                            break;
                        }
                    }
                    Some(&x) => {
                        s.push(x);
                        i += 1;
                    }
                }
            }
            let s = String::from_utf8(s).map_err(|_| malformed("invalid UTF-8"))?;
            out.push(if c == b'\'' {
                Tok::Str(s)
            } else {
                Tok::Quoted(s)
            });
            continue;
        }
        if c.is_ascii_digit() || (c == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit)) {
            let start = i;
            while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
                i += 1;
            }
            if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
                let mut j = i + 1;
                if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
                    j += 1;
                }
                if j < b.len() && b[j].is_ascii_digit() {
                    i = j;
                    while i < b.len() && b[i].is_ascii_digit() {
                        i += 1;
                    }
                }
            }
            out.push(Tok::Num(src[start..i].to_owned()));
            continue;
        }
        if c.is_ascii_alphabetic() || c == b'_' || c == b'$' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'$') {
                i += 1;
            }
            out.push(Tok::Word(src[start..i].to_owned()));
            continue;
        }
        if c == b'?' {
            out.push(Tok::Param);
            i += 1;
            continue;
        }
        match SYMS.iter().find(|s| src[i..].starts_with(**s)) {
            Some(s) => {
                out.push(Tok::Sym(s));
                i += s.len();
            }
            None => {
                let ch = src[i..].chars().next().unwrap_or('?');
                return Err(malformed(format!("Unexpected character: {ch}")));
            }
        }
    }
    Ok(out)
}

struct Parser<'a> {
    toks: Vec<Tok>,
    pos: usize,
    params: &'a [Attr],
    used: usize,
}

fn describe(t: Option<&Tok>) -> String {
    match t {
        None => "end of statement".into(),
        Some(Tok::Word(w)) => format!("'{w}'"),
        Some(Tok::Quoted(w)) => format!("\"{w}\""),
        Some(Tok::Str(s)) => format!("'{s}'"),
        Some(Tok::Num(n)) => n.clone(),
        Some(Tok::Param) => "?".into(),
        Some(Tok::Sym(s)) => (*s).into(),
    }
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn is_kw(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(w)) if w.eq_ignore_ascii_case(kw))
    }

    fn eat_kw(&mut self, kw: &str) -> bool {
        if self.is_kw(kw) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect_kw(&mut self, kw: &str) -> Result<(), AwsError> {
        if self.eat_kw(kw) {
            Ok(())
        } else {
            Err(malformed(format!(
                "Expected {kw} but found {}",
                describe(self.peek())
            )))
        }
    }

    fn eat_sym(&mut self, s: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Sym(x)) if *x == s) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect_sym(&mut self, s: &str) -> Result<(), AwsError> {
        if self.eat_sym(s) {
            Ok(())
        } else {
            Err(malformed(format!(
                "Expected {s} but found {}",
                describe(self.peek())
            )))
        }
    }

    fn ident(&mut self) -> Result<String, AwsError> {
        match self.next() {
            Some(Tok::Word(w)) | Some(Tok::Quoted(w)) => Ok(w),
            other => Err(malformed(format!(
                "Expected identifier but found {}",
                describe(other.as_ref())
            ))),
        }
    }

    fn table_ref(&mut self) -> Result<(String, Option<String>), AwsError> {
        let table = self.ident()?;
        let index = if self.eat_sym(".") {
            Some(self.ident()?)
        } else {
            None
        };
        Ok((table, index))
    }

    fn path(&mut self) -> Result<Path, AwsError> {
        let mut p = vec![PathPart::Attr(self.ident()?)];
        loop {
            if self.eat_sym(".") {
                p.push(PathPart::Attr(self.ident()?));
            } else if self.eat_sym("[") {
                match self.next() {
                    Some(Tok::Num(n)) => {
                        let i = n
                            .parse::<usize>()
                            .map_err(|_| malformed(format!("Invalid list index: {n}")))?;
                        p.push(PathPart::Index(i));
                    }
                    Some(Tok::Str(s)) => p.push(PathPart::Attr(s)),
                    other => {
                        return Err(malformed(format!(
                            "Expected list index but found {}",
                            describe(other.as_ref())
                        )));
                    }
                }
                self.expect_sym("]")?;
            } else {
                return Ok(p);
            }
        }
    }

    fn param(&mut self) -> Result<Attr, AwsError> {
        let a = self.params.get(self.used).cloned().ok_or_else(|| {
            AwsError::validation("Number of parameters in request and statement don't match.")
        })?;
        self.used += 1;
        Ok(a)
    }

    fn number(text: &str, neg: bool) -> Result<Attr, AwsError> {
        let d = Decimal::parse(text).map_err(AwsError::validation)?;
        Ok(Attr::N(if neg { d.neg() } else { d }))
    }

    fn literal(&mut self) -> Result<Attr, AwsError> {
        match self.next() {
            Some(Tok::Str(s)) => Ok(Attr::S(s)),
            Some(Tok::Num(n)) => Parser::number(&n, false),
            Some(Tok::Sym("-")) => match self.next() {
                Some(Tok::Num(n)) => Parser::number(&n, true),
                other => Err(malformed(format!(
                    "Unexpected token {}",
                    describe(other.as_ref())
                ))),
            },
            Some(Tok::Param) => self.param(),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("true") => Ok(Attr::Bool(true)),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("false") => Ok(Attr::Bool(false)),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("null") => Ok(Attr::Null),
            Some(Tok::Sym("{")) => {
                let mut m = BTreeMap::new();
                if !self.eat_sym("}") {
                    loop {
                        let key = match self.next() {
                            Some(Tok::Str(s)) => s,
                            Some(Tok::Param) => match self.param()? {
                                Attr::S(s) => s,
                                _ => return Err(malformed("Map keys must be strings")),
                            },
                            other => {
                                return Err(malformed(format!(
                                    "Expected string map key but found {}",
                                    describe(other.as_ref())
                                )));
                            }
                        };
                        self.expect_sym(":")?;
                        let v = self.literal()?;
                        m.insert(key, v);
                        if self.eat_sym("}") {
                            break;
                        }
                        self.expect_sym(",")?;
                    }
                }
                Ok(Attr::M(m))
            }
            Some(Tok::Sym("[")) => {
                let mut l = Vec::new();
                if !self.eat_sym("]") {
                    loop {
                        l.push(self.literal()?);
                        if self.eat_sym("]") {
                            break;
                        }
                        self.expect_sym(",")?;
                    }
                }
                Ok(Attr::L(l))
            }
            Some(Tok::Sym("<<")) => {
                let mut l = Vec::new();
                if !self.eat_sym(">>") {
                    loop {
                        l.push(self.literal()?);
                        if self.eat_sym(">>") {
                            break;
                        }
                        self.expect_sym(",")?;
                    }
                }
                set_of(l)
            }
            other => Err(malformed(format!(
                "Unexpected token {}",
                describe(other.as_ref())
            ))),
        }
    }

    /// A path or a literal.
    fn operand(&mut self) -> Result<Operand, AwsError> {
        match self.peek() {
            Some(Tok::Word(w))
                if !["true", "false", "null"]
                    .iter()
                    .any(|k| w.eq_ignore_ascii_case(k)) =>
            {
                Ok(Operand::Path(self.path()?))
            }
            Some(Tok::Quoted(_)) => Ok(Operand::Path(self.path()?)),
            _ => Ok(Operand::Value(self.literal()?)),
        }
    }

    /// A SET value: an operand, optionally `+`/`-` another.
    fn set_value(&mut self) -> Result<Operand, AwsError> {
        let a = self.operand()?;
        if self.eat_sym("+") {
            Ok(Operand::Plus(Box::new(a), Box::new(self.operand()?)))
        } else if self.eat_sym("-") {
            Ok(Operand::Minus(Box::new(a), Box::new(self.operand()?)))
        } else {
            Ok(a)
        }
    }

    fn or(&mut self) -> Result<Cond, AwsError> {
        let mut c = self.and()?;
        while self.eat_kw("OR") {
            c = Cond::Or(Box::new(c), Box::new(self.and()?));
        }
        Ok(c)
    }

    fn and(&mut self) -> Result<Cond, AwsError> {
        let mut c = self.not()?;
        while self.eat_kw("AND") {
            c = Cond::And(Box::new(c), Box::new(self.not()?));
        }
        Ok(c)
    }

    fn not(&mut self) -> Result<Cond, AwsError> {
        if self.eat_kw("NOT") {
            return Ok(Cond::Not(Box::new(self.not()?)));
        }
        self.predicate()
    }

    fn func_args(&mut self) -> Result<(Operand, Operand), AwsError> {
        self.expect_sym("(")?;
        let a = self.operand()?;
        self.expect_sym(",")?;
        let b = self.operand()?;
        self.expect_sym(")")?;
        Ok((a, b))
    }

    fn predicate(&mut self) -> Result<Cond, AwsError> {
        if self.eat_sym("(") {
            let c = self.or()?;
            self.expect_sym(")")?;
            return Ok(c);
        }
        let is_call = matches!(self.toks.get(self.pos + 1), Some(Tok::Sym("(")));
        if is_call && let Some(Tok::Word(w)) = self.peek() {
            let f = w.to_ascii_lowercase();
            match f.as_str() {
                "begins_with" | "contains" | "attribute_type" => {
                    self.pos += 1;
                    let (a, b) = self.func_args()?;
                    return Ok(match f.as_str() {
                        "begins_with" => Cond::BeginsWith(a, b),
                        "contains" => Cond::Contains(a, b),
                        _ => match a {
                            Operand::Path(p) => Cond::Type(p, b),
                            _ => return Err(malformed("attribute_type expects a path")),
                        },
                    });
                }
                _ => {
                    return Err(malformed(format!("Unsupported function: {w}")));
                }
            }
        }
        let left = self.operand()?;
        if self.eat_kw("IS") {
            let negated = self.eat_kw("NOT");
            let Operand::Path(p) = left else {
                return Err(malformed("IS expects a path"));
            };
            let c = if self.eat_kw("MISSING") {
                Cond::NotExists(p)
            } else if self.eat_kw("NULL") {
                Cond::Type(p, Operand::Value(Attr::S("NULL".into())))
            } else {
                return Err(malformed(format!(
                    "Expected MISSING or NULL but found {}",
                    describe(self.peek())
                )));
            };
            return Ok(if negated { Cond::Not(Box::new(c)) } else { c });
        }
        if self.eat_kw("BETWEEN") {
            let lo = self.operand()?;
            self.expect_kw("AND")?;
            let hi = self.operand()?;
            return Ok(Cond::Between(left, lo, hi));
        }
        if self.eat_kw("IN") {
            let close = if self.eat_sym("[") {
                "]"
            } else {
                self.expect_sym("(")?;
                ")"
            };
            let mut list = Vec::new();
            loop {
                list.push(self.operand()?);
                if self.eat_sym(close) {
                    break;
                }
                self.expect_sym(",")?;
            }
            return Ok(Cond::In(left, list));
        }
        let op = match self.next() {
            Some(Tok::Sym("=")) => CmpOp::Eq,
            Some(Tok::Sym("<>")) | Some(Tok::Sym("!=")) => CmpOp::Ne,
            Some(Tok::Sym("<")) => CmpOp::Lt,
            Some(Tok::Sym("<=")) => CmpOp::Le,
            Some(Tok::Sym(">")) => CmpOp::Gt,
            Some(Tok::Sym(">=")) => CmpOp::Ge,
            other => {
                return Err(malformed(format!(
                    "Expected comparison operator but found {}",
                    describe(other.as_ref())
                )));
            }
        };
        let right = self.operand()?;
        Ok(Cond::Cmp(op, left, right))
    }

    fn where_clause(&mut self) -> Result<Option<Cond>, AwsError> {
        if self.eat_kw("WHERE") {
            Ok(Some(self.or()?))
        } else {
            Ok(None)
        }
    }

    fn statement(&mut self) -> Result<Stmt, AwsError> {
        let stmt = if self.eat_kw("SELECT") {
            let proj = if self.eat_sym("*") {
                None
            } else {
                let mut ps = vec![self.path()?];
                while self.eat_sym(",") {
                    ps.push(self.path()?);
                }
                Some(ps)
            };
            self.expect_kw("FROM")?;
            let (table, index) = self.table_ref()?;
            let cond = self.where_clause()?;
            Stmt::Select {
                table,
                index,
                proj,
                cond,
            }
        } else if self.eat_kw("INSERT") {
            self.expect_kw("INTO")?;
            let table = self.ident()?;
            self.expect_kw("VALUE")?;
            let item = match self.literal()? {
                Attr::M(m) => m,
                _ => return Err(malformed("Expected a tuple after VALUE")),
            };
            Stmt::Insert { table, item }
        } else if self.eat_kw("UPDATE") {
            let table = self.ident()?;
            let mut set = Vec::new();
            let mut remove = Vec::new();
            loop {
                if self.eat_kw("SET") {
                    loop {
                        let p = self.path()?;
                        self.expect_sym("=")?;
                        set.push((p, self.set_value()?));
                        if !self.eat_sym(",") {
                            break;
                        }
                    }
                } else if self.eat_kw("REMOVE") {
                    loop {
                        remove.push(self.path()?);
                        if !self.eat_sym(",") {
                            break;
                        }
                    }
                } else {
                    break;
                }
            }
            if set.is_empty() && remove.is_empty() {
                return Err(malformed(format!(
                    "Expected SET or REMOVE but found {}",
                    describe(self.peek())
                )));
            }
            let cond = self.where_clause()?;
            Stmt::Update {
                table,
                set,
                remove,
                cond,
            }
        } else if self.eat_kw("DELETE") {
            self.expect_kw("FROM")?;
            let table = self.ident()?;
            let cond = self.where_clause()?;
            Stmt::Delete { table, cond }
        } else {
            return Err(malformed("Expected data manipulation"));
        };
        self.eat_sym(";");
        if self.pos < self.toks.len() {
            return Err(malformed(format!(
                "Unexpected token {}",
                describe(self.peek())
            )));
        }
        Ok(stmt)
    }
}

/// `<< ... >>`: a string, number or binary set.
fn set_of(l: Vec<Attr>) -> Result<Attr, AwsError> {
    let bad = || malformed("Set elements must all be strings, numbers or binaries of one type");
    let set = match l.first() {
        None => return Err(malformed("A set may not be empty")),
        Some(Attr::S(_)) => Attr::SS(
            l.into_iter()
                .map(|a| match a {
                    Attr::S(s) => Ok(s),
                    _ => Err(bad()),
                })
                .collect::<Result<_, _>>()?,
        ),
        Some(Attr::N(_)) => Attr::NS(
            l.into_iter()
                .map(|a| match a {
                    Attr::N(n) => Ok(n),
                    _ => Err(bad()),
                })
                .collect::<Result<_, _>>()?,
        ),
        Some(Attr::B(_)) => Attr::BS(
            l.into_iter()
                .map(|a| match a {
                    Attr::B(b) => Ok(b),
                    _ => Err(bad()),
                })
                .collect::<Result<_, _>>()?,
        ),
        _ => return Err(bad()),
    };
    let dup = match &set {
        Attr::SS(v) => (1..v.len()).any(|i| v[..i].contains(&v[i])),
        Attr::NS(v) => (1..v.len()).any(|i| v[..i].contains(&v[i])),
        Attr::BS(v) => (1..v.len()).any(|i| v[..i].contains(&v[i])),
        _ => false,
    };
    if dup {
        return Err(AwsError::validation(
            "One or more parameter values were invalid: Input collection contains duplicates.",
        ));
    }
    Ok(set)
}

/// Parses one statement, binding `?` parameters in order.
pub fn parse(src: &str, params: &[Attr]) -> Result<Stmt, AwsError> {
    let toks = lex(src)?;
    let mut p = Parser {
        toks,
        pos: 0,
        params,
        used: 0,
    };
    let stmt = p.statement()?;
    if p.used != params.len() {
        return Err(AwsError::validation(
            "Number of parameters in request and statement don't match.",
        ));
    }
    Ok(stmt)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(src: &str) -> Stmt {
        parse(src, &[]).unwrap()
    }

    fn err(src: &str) -> String {
        parse(src, &[]).unwrap_err().message
    }

    #[test]
    fn parses_the_four_statements() {
        assert!(matches!(
            ok(r#"SELECT a, b.c[1] FROM "t"."i" WHERE pk = 'x' AND n BETWEEN 1 AND 2"#),
            Stmt::Select { index: Some(_), proj: Some(p), cond: Some(_), .. } if p.len() == 2
        ));
        match ok("INSERT INTO t VALUE {'pk': 'a', 'n': -1.5, 's': <<'x', 'y'>>, 'l': [true, null]}")
        {
            Stmt::Insert { item, .. } => {
                assert_eq!(item.len(), 4);
                assert!(matches!(item["s"], Attr::SS(_)));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            ok("update t set a = a + 1, b = 'x' remove c where pk = 'k'"),
            Stmt::Update { set, remove, .. } if set.len() == 2 && remove.len() == 1
        ));
        assert!(matches!(
            ok("DELETE FROM \"t\" WHERE pk = 'k';"),
            Stmt::Delete { .. }
        ));
    }

    #[test]
    fn binds_parameters_in_order() {
        let p = [Attr::S("a".into()), Attr::N(Decimal::from_i64(2))];
        match parse("SELECT * FROM t WHERE pk = ? AND n > ?", &p).unwrap() {
            Stmt::Select {
                cond: Some(Cond::And(a, b)),
                ..
            } => {
                assert!(matches!(
                    *a,
                    Cond::Cmp(CmpOp::Eq, _, Operand::Value(Attr::S(_)))
                ));
                assert!(matches!(
                    *b,
                    Cond::Cmp(CmpOp::Gt, _, Operand::Value(Attr::N(_)))
                ));
            }
            other => panic!("{other:?}"),
        }
        assert!(parse("SELECT * FROM t WHERE pk = ?", &[]).is_err());
        assert!(parse("SELECT * FROM t", &p).is_err());
    }

    #[test]
    fn reports_malformed_statements() {
        assert_eq!(
            err("FOO bar"),
            "Statement wasn't well formed, can't be processed: Expected data manipulation"
        );
        assert!(err("SELECT * t").contains("Expected FROM"));
        assert!(err("SELECT * FROM t WHERE").contains("end of statement"));
        assert!(err("INSERT INTO t VALUE {'a': 'b'").contains("Expected"));
        assert!(err("SELECT * FROM 'unterminated").contains("unterminated"));
        assert!(err("SELECT * FROM t WHERE a = 1 extra").contains("Unexpected token"));
    }
}
