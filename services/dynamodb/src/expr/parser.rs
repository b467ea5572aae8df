//! Recursive-descent parsers for condition, key condition, filter, projection and update
//! expressions, reporting errors with AWS's texts.

use super::lexer::{Tok, Token, lex};
use crate::attr::Attr;
use nephos_core::AwsError;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::OnceLock;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PathPart {
    Attr(String),
    Index(usize),
}

pub type Path = Vec<PathPart>;

pub fn path_text(p: &Path) -> String {
    let parts: Vec<String> = p
        .iter()
        .map(|x| match x {
            PathPart::Attr(a) => a.clone(),
            PathPart::Index(i) => format!("[{i}]"),
        })
        .collect();
    format!("[{}]", parts.join(", "))
}

#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Path(Path),
    Value(Attr),
    Size(Path),
    IfNotExists(Path, Box<Operand>),
    ListAppend(Box<Operand>, Box<Operand>),
    Plus(Box<Operand>, Box<Operand>),
    Minus(Box<Operand>, Box<Operand>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    Cmp(CmpOp, Operand, Operand),
    Between(Operand, Operand, Operand),
    In(Operand, Vec<Operand>),
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
    Not(Box<Cond>),
    Exists(Path),
    NotExists(Path),
    Type(Path, Operand),
    BeginsWith(Operand, Operand),
    Contains(Operand, Operand),
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Update {
    pub set: Vec<(Path, Operand)>,
    pub remove: Vec<Path>,
    pub add: Vec<(Path, Operand)>,
    pub delete: Vec<(Path, Operand)>,
}

fn reserved() -> &'static HashSet<&'static str> {
    static WORDS: OnceLock<HashSet<&'static str>> = OnceLock::new();
    WORDS.get_or_init(|| {
        include_str!("../reserved_words.txt")
            .split_whitespace()
            .collect()
    })
}

pub fn is_reserved(word: &str) -> bool {
    reserved().contains(word.to_ascii_uppercase().as_str())
}

/// ExpressionAttributeNames/Values of one request, and which of them expressions used.
#[derive(Debug, Default)]
pub struct ExprAttrs {
    pub names: HashMap<String, String>,
    pub values: HashMap<String, Attr>,
    used_names: HashSet<String>,
    used_values: HashSet<String>,
}

impl ExprAttrs {
    pub fn new(names: HashMap<String, String>, values: HashMap<String, Attr>) -> ExprAttrs {
        ExprAttrs {
            names,
            values,
            ..Default::default()
        }
    }

    /// AWS rejects names and values that no expression of the request used.
    pub fn check_unused(&self) -> Result<(), AwsError> {
        let unused_names: BTreeSet<&String> = self
            .names
            .keys()
            .filter(|k| !self.used_names.contains(*k))
            .collect();
        if !unused_names.is_empty() {
            let list: Vec<&str> = unused_names.iter().map(|s| s.as_str()).collect();
            return Err(AwsError::validation(format!(
                "Value provided in ExpressionAttributeNames unused in expressions: keys: {{{}}}",
                list.join(", ")
            )));
        }
        let unused_values: BTreeSet<&String> = self
            .values
            .keys()
            .filter(|k| !self.used_values.contains(*k))
            .collect();
        if !unused_values.is_empty() {
            let list: Vec<&str> = unused_values.iter().map(|s| s.as_str()).collect();
            return Err(AwsError::validation(format!(
                "Value provided in ExpressionAttributeValues unused in expressions: keys: {{{}}}",
                list.join(", ")
            )));
        }
        Ok(())
    }
}

struct Parser<'a> {
    src: &'a str,
    kind: &'static str,
    toks: Vec<Token>,
    pos: usize,
    attrs: &'a mut ExprAttrs,
    /// The first non-syntax error; AWS reports syntax errors before these.
    deferred: Option<AwsError>,
    allow_update_ops: bool,
}

type PResult<T> = Result<T, AwsError>;

fn ci(s: &str, kw: &str) -> bool {
    s.eq_ignore_ascii_case(kw)
}

impl<'a> Parser<'a> {
    fn new(src: &'a str, kind: &'static str, attrs: &'a mut ExprAttrs) -> PResult<Parser<'a>> {
        if src.trim().is_empty() {
            return Err(AwsError::validation(format!(
                "Invalid {kind}: The expression can not be empty;"
            )));
        }
        let toks = lex(src).map_err(|bad| {
            let text = &src[bad.start..bad.end];
            AwsError::validation(format!(
                "Invalid {kind}: Syntax error; token: \"{text}\", near: \"{}\"",
                near_text(src, bad.start, bad.end)
            ))
        })?;
        Ok(Parser {
            src,
            kind,
            toks,
            pos: 0,
            attrs,
            deferred: None,
            allow_update_ops: false,
        })
    }

    fn peek(&self) -> &Tok {
        &self.toks[self.pos].tok
    }

    fn peek_at(&self, n: usize) -> &Tok {
        let i = (self.pos + n).min(self.toks.len() - 1);
        &self.toks[i].tok
    }

    fn advance(&mut self) -> Token {
        let t = self.toks[self.pos].clone();
        if self.pos < self.toks.len() - 1 {
            self.pos += 1;
        }
        t
    }

    fn syntax_error(&self) -> AwsError {
        let t = &self.toks[self.pos];
        let start = if self.pos > 0 {
            self.toks[self.pos - 1].start
        } else {
            t.start
        };
        let end = match self.toks.get(self.pos + 1) {
            Some(n) if n.tok != Tok::Eof => n.end,
            _ => t.end,
        };
        let token = if t.tok == Tok::Eof {
            "<EOF>".to_owned()
        } else {
            self.src[t.start..t.end].to_owned()
        };
        AwsError::validation(format!(
            "Invalid {}: Syntax error; token: \"{token}\", near: \"{}\"",
            self.kind,
            &self.src[start..end]
        ))
    }

    fn defer(&mut self, msg: String) {
        if self.deferred.is_none() {
            self.deferred = Some(AwsError::validation(format!(
                "Invalid {}: {msg}",
                self.kind
            )));
        }
    }

    fn expect(&mut self, tok: Tok) -> PResult<()> {
        if *self.peek() == tok {
            self.advance();
            Ok(())
        } else {
            Err(self.syntax_error())
        }
    }

    fn is_kw(&self, kw: &str) -> bool {
        matches!(self.peek(), Tok::Ident(s) if ci(s, kw))
    }

    fn finish<T>(mut self, v: T) -> PResult<T> {
        if *self.peek() != Tok::Eof {
            return Err(self.syntax_error());
        }
        match self.deferred.take() {
            Some(e) => Err(e),
            None => Ok(v),
        }
    }

    // ---- paths ----

    fn path_element(&mut self) -> PResult<String> {
        match self.peek().clone() {
            Tok::Ident(name) => {
                if is_keyword(&name) {
                    return Err(self.syntax_error());
                }
                self.advance();
                if is_reserved(&name) {
                    self.defer(format!(
                        "Attribute name is a reserved keyword; reserved keyword: {name}"
                    ));
                }
                Ok(name)
            }
            Tok::NameRef(r) => {
                self.advance();
                self.attrs.used_names.insert(r.clone());
                match self.attrs.names.get(&r) {
                    Some(n) => Ok(n.clone()),
                    None => {
                        self.defer(format!(
                            "An expression attribute name used in the document path is not defined; attribute name: {r}"
                        ));
                        Ok(r)
                    }
                }
            }
            _ => Err(self.syntax_error()),
        }
    }

    fn path(&mut self) -> PResult<Path> {
        let mut p = vec![PathPart::Attr(self.path_element()?)];
        loop {
            match self.peek() {
                Tok::Dot => {
                    self.advance();
                    p.push(PathPart::Attr(self.path_element()?));
                }
                Tok::LBracket => {
                    self.advance();
                    let Tok::Number(n) = self.peek().clone() else {
                        return Err(self.syntax_error());
                    };
                    self.advance();
                    let idx = n.parse::<usize>().unwrap_or(usize::MAX);
                    self.expect(Tok::RBracket)?;
                    p.push(PathPart::Index(idx));
                }
                _ => return Ok(p),
            }
        }
    }

    fn value_ref(&mut self, r: String) -> Operand {
        self.advance();
        self.attrs.used_values.insert(r.clone());
        match self.attrs.values.get(&r) {
            Some(v) => Operand::Value(v.clone()),
            None => {
                self.defer(format!(
                    "An expression attribute value used in expression is not defined; attribute value: {r}"
                ));
                Operand::Value(Attr::Null)
            }
        }
    }

    // ---- conditions ----

    fn condition(&mut self) -> PResult<Cond> {
        let mut left = self.and_cond()?;
        while self.is_kw("OR") {
            self.advance();
            let right = self.and_cond()?;
            left = Cond::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and_cond(&mut self) -> PResult<Cond> {
        let mut left = self.not_cond()?;
        while self.is_kw("AND") {
            self.advance();
            let right = self.not_cond()?;
            left = Cond::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn not_cond(&mut self) -> PResult<Cond> {
        if self.is_kw("NOT") {
            self.advance();
            return Ok(Cond::Not(Box::new(self.not_cond()?)));
        }
        self.predicate()
    }

    fn predicate(&mut self) -> PResult<Cond> {
        if *self.peek() == Tok::LParen {
            self.advance();
            let c = self.condition()?;
            self.expect(Tok::RParen)?;
            return Ok(c);
        }
        if let Tok::Ident(name) = self.peek().clone()
            && *self.peek_at(1) == Tok::LParen
            && !["size", "if_not_exists", "list_append"]
                .iter()
                .any(|f| ci(&name, f))
        {
            return self.function_cond(&name);
        }
        let left = self.operand()?;
        let op = match self.peek() {
            Tok::Eq => Some(CmpOp::Eq),
            Tok::Ne => Some(CmpOp::Ne),
            Tok::Lt => Some(CmpOp::Lt),
            Tok::Le => Some(CmpOp::Le),
            Tok::Gt => Some(CmpOp::Gt),
            Tok::Ge => Some(CmpOp::Ge),
            _ => None,
        };
        if let Some(op) = op {
            self.advance();
            let right = self.operand()?;
            return Ok(Cond::Cmp(op, left, right));
        }
        if self.is_kw("BETWEEN") {
            self.advance();
            let lo = self.operand()?;
            if !self.is_kw("AND") {
                return Err(self.syntax_error());
            }
            self.advance();
            let hi = self.operand()?;
            return Ok(Cond::Between(left, lo, hi));
        }
        if self.is_kw("IN") {
            self.advance();
            self.expect(Tok::LParen)?;
            let mut list = vec![self.operand()?];
            while *self.peek() == Tok::Comma {
                self.advance();
                list.push(self.operand()?);
            }
            self.expect(Tok::RParen)?;
            return Ok(Cond::In(left, list));
        }
        Err(self.syntax_error())
    }

    fn args(&mut self) -> PResult<Vec<Operand>> {
        self.expect(Tok::LParen)?;
        let mut args = vec![self.operand()?];
        while *self.peek() == Tok::Comma {
            self.advance();
            args.push(self.operand()?);
        }
        self.expect(Tok::RParen)?;
        Ok(args)
    }

    fn arity(&mut self, name: &str, args: &[Operand], n: usize) -> bool {
        if args.len() != n {
            self.defer(format!(
                "Incorrect number of operands for operator or function; operator or function: {name}, number of operands: {}",
                args.len()
            ));
            return false;
        }
        true
    }

    fn path_arg(&mut self, name: &str, op: &Operand) -> Path {
        match op {
            Operand::Path(p) => p.clone(),
            other => {
                self.defer(format!(
                    "Operator or function requires a document path; operator or function: {name}"
                ));
                let _ = other;
                Vec::new()
            }
        }
    }

    fn function_cond(&mut self, name: &str) -> PResult<Cond> {
        let lname = name.to_ascii_lowercase();
        let known = [
            "attribute_exists",
            "attribute_not_exists",
            "attribute_type",
            "begins_with",
            "contains",
        ];
        if !known.contains(&lname.as_str()) {
            self.advance();
            if matches!(lname.as_str(), "if_not_exists" | "list_append") {
                self.defer(format!(
                    "The function is not allowed in a condition expression; function: {name}"
                ));
            } else {
                self.defer(format!("Invalid function name; function: {name}"));
            }
            let _ = self.args()?;
            return Ok(Cond::Exists(Vec::new()));
        }
        self.advance();
        let args = self.args()?;
        let placeholder = Cond::Exists(Vec::new());
        Ok(match lname.as_str() {
            "attribute_exists" | "attribute_not_exists" => {
                if !self.arity(&lname, &args, 1) {
                    return Ok(placeholder);
                }
                let p = self.path_arg(&lname, &args[0]);
                if lname == "attribute_exists" {
                    Cond::Exists(p)
                } else {
                    Cond::NotExists(p)
                }
            }
            "attribute_type" => {
                if !self.arity(&lname, &args, 2) {
                    return Ok(placeholder);
                }
                let p = self.path_arg(&lname, &args[0]);
                if let Operand::Value(v) = &args[1] {
                    match v {
                        Attr::S(t)
                            if [
                                "S", "SS", "N", "NS", "B", "BS", "BOOL", "NULL", "L", "M",
                            ]
                            .contains(&t.as_str()) => {}
                        Attr::S(t) => self.defer(format!(
                            "Invalid attribute type name found; type: {t}, valid types: {{B,NULL,SS,BOOL,L,BS,N,NS,S,M}}"
                        )),
                        other => self.defer(format!(
                            "Incorrect operand type for operator or function; operator or function: attribute_type, operand type: {}",
                            other.type_name()
                        )),
                    }
                }
                Cond::Type(p, args[1].clone())
            }
            "begins_with" => {
                if !self.arity(&lname, &args, 2) {
                    return Ok(placeholder);
                }
                for a in &args {
                    if let Operand::Value(v) = a
                        && !matches!(v, Attr::S(_) | Attr::B(_))
                    {
                        self.defer(format!(
                            "Incorrect operand type for operator or function; operator or function: begins_with, operand type: {}",
                            v.type_name()
                        ));
                    }
                }
                Cond::BeginsWith(args[0].clone(), args[1].clone())
            }
            _ => {
                if !self.arity(&lname, &args, 2) {
                    return Ok(placeholder);
                }
                Cond::Contains(args[0].clone(), args[1].clone())
            }
        })
    }

    fn operand(&mut self) -> PResult<Operand> {
        match self.peek().clone() {
            Tok::ValueRef(r) => Ok(self.value_ref(r)),
            Tok::Ident(name) if *self.peek_at(1) == Tok::LParen => {
                let lname = name.to_ascii_lowercase();
                match lname.as_str() {
                    "size"
                    | "attribute_exists"
                    | "attribute_not_exists"
                    | "attribute_type"
                    | "begins_with"
                    | "contains"
                        if self.allow_update_ops =>
                    {
                        self.advance();
                        self.defer(format!(
                            "The function is not allowed in an update expression; function: {name}"
                        ));
                        let _ = self.args()?;
                        Ok(Operand::Value(Attr::Null))
                    }
                    "if_not_exists" | "list_append" if !self.allow_update_ops => {
                        self.advance();
                        self.defer(format!(
                            "The function is not allowed in a condition expression; function: {name}"
                        ));
                        let _ = self.args()?;
                        Ok(Operand::Value(Attr::Null))
                    }
                    "size" => {
                        self.advance();
                        let args = self.args()?;
                        if !self.arity("size", &args, 1) {
                            return Ok(Operand::Size(Vec::new()));
                        }
                        let p = self.path_arg("size", &args[0]);
                        Ok(Operand::Size(p))
                    }
                    "if_not_exists" | "list_append" if self.allow_update_ops => {
                        self.advance();
                        let args = self.args()?;
                        if !self.arity(&lname, &args, 2) {
                            return Ok(Operand::Value(Attr::Null));
                        }
                        let mut it = args.into_iter();
                        let (a, b) = (it.next(), it.next());
                        let (Some(a), Some(b)) = (a, b) else {
                            return Ok(Operand::Value(Attr::Null));
                        };
                        if lname == "if_not_exists" {
                            let p = self.path_arg(&lname, &a);
                            Ok(Operand::IfNotExists(p, Box::new(b)))
                        } else {
                            self.literal_type("list_append", &[&a, &b], "L");
                            Ok(Operand::ListAppend(Box::new(a), Box::new(b)))
                        }
                    }
                    "attribute_exists"
                    | "attribute_not_exists"
                    | "attribute_type"
                    | "begins_with"
                    | "contains"
                    | "if_not_exists"
                    | "list_append" => {
                        self.advance();
                        self.defer(format!(
                            "The function is not allowed to be used this way in an expression; function: {name}"
                        ));
                        let _ = self.args()?;
                        Ok(Operand::Value(Attr::Null))
                    }
                    _ => {
                        self.advance();
                        self.defer(format!("Invalid function name; function: {name}"));
                        let _ = self.args()?;
                        Ok(Operand::Value(Attr::Null))
                    }
                }
            }
            Tok::Ident(_) | Tok::NameRef(_) => Ok(Operand::Path(self.path()?)),
            _ => Err(self.syntax_error()),
        }
    }

    // ---- updates ----

    /// Literal operands of arithmetic and list_append have their type checked before any
    /// item is read, as AWS does.
    fn literal_type(&mut self, op: &str, operands: &[&Operand], want: &str) {
        for o in operands {
            if let Operand::Value(v) = o
                && v.type_name() != want
            {
                self.defer(format!(
                    "Incorrect operand type for operator or function; operator or function: {op}, operand type: {}",
                    v.type_name()
                ));
                return;
            }
        }
    }

    fn set_value(&mut self) -> PResult<Operand> {
        let left = self.operand()?;
        match self.peek() {
            Tok::Plus => {
                self.advance();
                let right = self.operand()?;
                self.literal_type("+", &[&left, &right], "N");
                Ok(Operand::Plus(Box::new(left), Box::new(right)))
            }
            Tok::Minus => {
                self.advance();
                let right = self.operand()?;
                self.literal_type("-", &[&left, &right], "N");
                Ok(Operand::Minus(Box::new(left), Box::new(right)))
            }
            _ => Ok(left),
        }
    }

    fn update(&mut self) -> PResult<Update> {
        self.allow_update_ops = true;
        let mut u = Update::default();
        let mut seen: HashSet<String> = HashSet::new();
        loop {
            let Tok::Ident(kw) = self.peek().clone() else {
                return Err(self.syntax_error());
            };
            let upper = kw.to_ascii_uppercase();
            if !["SET", "REMOVE", "ADD", "DELETE"].contains(&upper.as_str()) {
                return Err(self.syntax_error());
            }
            self.advance();
            if !seen.insert(upper.clone()) {
                self.defer(format!(
                    "The \"{upper}\" section can only be used once in an update expression;"
                ));
            }
            loop {
                match upper.as_str() {
                    "SET" => {
                        let p = self.path()?;
                        self.expect(Tok::Eq)?;
                        let v = self.set_value()?;
                        u.set.push((p, v));
                    }
                    "REMOVE" => u.remove.push(self.path()?),
                    other => {
                        let p = self.path()?;
                        let v = match self.peek().clone() {
                            Tok::ValueRef(r) => self.value_ref(r),
                            _ => return Err(self.syntax_error()),
                        };
                        if other == "ADD" {
                            u.add.push((p, v));
                        } else {
                            u.delete.push((p, v));
                        }
                    }
                }
                if *self.peek() == Tok::Comma {
                    self.advance();
                } else {
                    break;
                }
            }
            if *self.peek() == Tok::Eof {
                break;
            }
        }
        Ok(u)
    }
}

fn is_keyword(s: &str) -> bool {
    ["AND", "OR", "NOT", "BETWEEN", "IN"]
        .iter()
        .any(|k| ci(s, k))
}

fn near_text(src: &str, start: usize, end: usize) -> &str {
    let _ = end;
    let from = src[..start]
        .rfind(|c: char| !c.is_whitespace())
        .map_or(0, |i| {
            src[..i].rfind(char::is_whitespace).map_or(0, |j| j + 1)
        });
    let to = src[end..]
        .find(|c: char| !c.is_whitespace())
        .map_or(src.len(), |i| {
            let s = end + i;
            src[s..]
                .find(char::is_whitespace)
                .map_or(src.len(), |j| s + j)
        });
    &src[from..to]
}

pub fn parse_condition(src: &str, kind: &'static str, attrs: &mut ExprAttrs) -> PResult<Cond> {
    let mut p = Parser::new(src, kind, attrs)?;
    let c = p.condition()?;
    p.finish(c)
}

pub fn parse_update(src: &str, attrs: &mut ExprAttrs) -> PResult<Update> {
    let mut p = Parser::new(src, "UpdateExpression", attrs)?;
    let u = p.update()?;
    let u = p.finish(u)?;
    check_overlaps(
        u.set
            .iter()
            .map(|x| &x.0)
            .chain(u.remove.iter())
            .chain(u.add.iter().map(|x| &x.0))
            .chain(u.delete.iter().map(|x| &x.0)),
        "UpdateExpression",
    )?;
    Ok(u)
}

pub fn parse_projection(src: &str, attrs: &mut ExprAttrs) -> PResult<Vec<Path>> {
    let mut p = Parser::new(src, "ProjectionExpression", attrs)?;
    let mut paths = vec![p.path()?];
    while *p.peek() == Tok::Comma {
        p.advance();
        paths.push(p.path()?);
    }
    let paths = p.finish(paths)?;
    check_overlaps(paths.iter(), "ProjectionExpression")?;
    Ok(paths)
}

fn check_overlaps<'p>(paths: impl Iterator<Item = &'p Path>, kind: &str) -> Result<(), AwsError> {
    let all: Vec<&Path> = paths.collect();
    for (i, a) in all.iter().enumerate() {
        for b in &all[..i] {
            let n = a.len().min(b.len());
            if a[..n] == b[..n] {
                return Err(AwsError::validation(format!(
                    "Invalid {kind}: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: {}, path two: {}",
                    path_text(b),
                    path_text(a)
                )));
            }
            // Same prefix but one indexes a list where the other names a map member.
            let common = a.iter().zip(b.iter()).take_while(|(x, y)| x == y).count();
            if common < n {
                let (x, y) = (&a[common], &b[common]);
                if std::mem::discriminant(x) != std::mem::discriminant(y) {
                    return Err(AwsError::validation(format!(
                        "Invalid {kind}: Two document paths conflict with each other; must remove or rewrite one of these paths; path one: {}, path two: {}",
                        path_text(b),
                        path_text(a)
                    )));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs() -> ExprAttrs {
        let mut values = HashMap::new();
        values.insert(":v".to_owned(), Attr::S("x".into()));
        values.insert(
            ":n".to_owned(),
            Attr::N(crate::number::Decimal::from_i64(1)),
        );
        let mut names = HashMap::new();
        names.insert("#n".to_owned(), "name".to_owned());
        ExprAttrs::new(names, values)
    }

    fn err(src: &str) -> String {
        parse_condition(src, "ConditionExpression", &mut attrs())
            .unwrap_err()
            .message
    }

    #[test]
    fn precedence() {
        let c = parse_condition(
            "a = :v OR b = :v AND NOT c = :v",
            "ConditionExpression",
            &mut attrs(),
        )
        .unwrap();
        assert!(matches!(c, Cond::Or(_, r) if matches!(*r, Cond::And(_, _))));
    }

    #[test]
    fn syntax_errors_name_the_token() {
        assert_eq!(
            err("a = = :v"),
            "Invalid ConditionExpression: Syntax error; token: \"=\", near: \"= = :v\""
        );
        assert_eq!(
            err("a ="),
            "Invalid ConditionExpression: Syntax error; token: \"<EOF>\", near: \"=\""
        );
        assert_eq!(
            err(""),
            "Invalid ConditionExpression: The expression can not be empty;"
        );
    }

    #[test]
    fn reserved_and_undefined() {
        assert_eq!(
            err("name = :v"),
            "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: name"
        );
        assert_eq!(
            err("#x = :v"),
            "Invalid ConditionExpression: An expression attribute name used in the document path is not defined; attribute name: #x"
        );
        assert_eq!(
            err("a = :zz"),
            "Invalid ConditionExpression: An expression attribute value used in expression is not defined; attribute value: :zz"
        );
        assert_eq!(
            err("foo(a)"),
            "Invalid ConditionExpression: Invalid function name; function: foo"
        );
    }

    #[test]
    fn unused_values_are_reported() {
        let mut a = attrs();
        parse_condition("#n = :v", "ConditionExpression", &mut a).unwrap();
        assert_eq!(
            a.check_unused().unwrap_err().message,
            "Value provided in ExpressionAttributeValues unused in expressions: keys: {:n}"
        );
    }

    #[test]
    fn updates_and_projections() {
        let u = parse_update(
            "SET a = a + :n, b = if_not_exists(b, :v), c = list_append(c, c) REMOVE d[1] ADD e :n DELETE f :v",
            &mut attrs(),
        )
        .unwrap();
        assert_eq!(u.set.len(), 3);
        assert_eq!(
            u.remove,
            vec![vec![PathPart::Attr("d".into()), PathPart::Index(1)]]
        );
        let e = parse_update("SET a = :v, a.b = :v", &mut attrs()).unwrap_err();
        assert!(e.message.contains("overlap"), "{}", e.message);
        let p = parse_projection("a.b[2], #n", &mut attrs()).unwrap();
        assert_eq!(p.len(), 2);
    }
}
