//! CloudWatch Logs Insights: StartQuery, GetQueryResults, StopQuery, DescribeQueries, with
//! a subset of the query language run over the events in memory.
//!
//! Commands, separated by `|`: `fields` (fields and expressions, `as` aliases), `display`,
//! `filter` (comparisons, `like` and `=~` with strings or `/regex/`, `in [...]`, `and`,
//! `or`, `not`, functions such as `ispresent`), `stats` (`count`, `count_distinct`, `sum`,
//! `avg`, `min`, `max`, `pct`, `earliest`, `latest`, `by` fields and `bin(5m)`), `sort`
//! (`asc`|`desc`, AWS's natural order), `limit`, `dedup`, and `parse` (a `*` glob with
//! `as` names, or a regex with named groups). Records carry
//! `@timestamp`, `@message`, `@logStream`, `@log`, `@ingestionTime` and `@ptr`, and the
//! members of JSON messages (nested ones as `a.b`).
//!
//! A query runs to completion when it starts: its status is `Complete` at once, which
//! AWS's clients accept (they poll until a final status).

use crate::errors;
use crate::state::{Core, LogGroup};
use crate::util::{self, GroupRef};
use nephos_core::{AwsError, RequestContext, Value};
use regex::Regex;
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap, HashSet};

/// Queries kept per account and region; the oldest are forgotten past this.
const MAX_QUERIES: usize = 1000;
/// Results a query returns unless StartQuery's `limit` says otherwise.
const DEFAULT_LIMIT: usize = 10_000;

#[derive(Default)]
pub struct Queries {
    order: Vec<String>,
    by_id: HashMap<String, Query>,
}

struct Query {
    id: String,
    text: String,
    group: String,
    status: &'static str,
    create_time: i64,
    results: Vec<Row>,
    matched: f64,
    scanned: f64,
    bytes: f64,
}

/// One record or result row: field names and values, in order.
#[derive(Debug, Clone, Default)]
struct Row {
    fields: Vec<(String, String)>,
}

impl Row {
    fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn set(&mut self, name: &str, value: String) {
        match self.fields.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = value,
            None => self.fields.push((name.to_owned(), value)),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Lexer

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Num(f64),
    /// A number with a unit (`5m`), as `bin` takes.
    Duration(String),
    Str(String),
    Regex(String),
    Sym(&'static str),
}

fn malformed(message: impl Into<String>) -> AwsError {
    let message = message.into();
    AwsError::new(400, "MalformedQueryException", message.clone()).with_field(
        "queryCompileError",
        Value::map()
            .with(
                "location",
                Value::map().with("start", 0i64).with("end", 0i64),
            )
            .with("message", message),
    )
}

fn lex(text: &str) -> Result<Vec<Tok>, AwsError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '#' {
            // A comment runs to the end of the line.
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            continue;
        }
        if c == '"' || c == '\'' {
            let mut s = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err(malformed("unterminated string")),
                    Some('\\') if chars.get(i + 1).is_some() => {
                        s.push(chars[i + 1]);
                        i += 2;
                    }
                    Some(&q) if q == c => {
                        i += 1;
                        break;
                    }
                    Some(&ch) => {
                        s.push(ch);
                        i += 1;
                    }
                }
            }
            out.push(Tok::Str(s));
            continue;
        }
        if c == '/' {
            let mut s = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err(malformed("unterminated regular expression")),
                    Some('\\') if chars.get(i + 1) == Some(&'/') => {
                        s.push('/');
                        i += 2;
                    }
                    Some('\\') if chars.get(i + 1).is_some() => {
                        s.push('\\');
                        s.push(chars[i + 1]);
                        i += 2;
                    }
                    Some('/') => {
                        i += 1;
                        break;
                    }
                    Some(&ch) => {
                        s.push(ch);
                        i += 1;
                    }
                }
            }
            out.push(Tok::Regex(s));
            continue;
        }
        if c == '`' {
            let end = chars[i + 1..]
                .iter()
                .position(|&x| x == '`')
                .ok_or_else(|| malformed("unterminated quoted field name"))?;
            out.push(Tok::Ident(chars[i + 1..i + 1 + end].iter().collect()));
            i += end + 2;
            continue;
        }
        if c.is_ascii_digit() || (c == '.' && next.is_some_and(|n| n.is_ascii_digit())) {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            let num: String = chars[start..i].iter().collect();
            if i < chars.len() && chars[i].is_ascii_alphabetic() {
                let unit_start = i;
                while i < chars.len() && chars[i].is_ascii_alphabetic() {
                    i += 1;
                }
                let unit: String = chars[unit_start..i].iter().collect();
                out.push(Tok::Duration(format!("{num}{unit}")));
            } else {
                out.push(Tok::Num(
                    num.parse()
                        .map_err(|_| malformed(format!("bad number {num}")))?,
                ));
            }
            continue;
        }
        if c.is_alphanumeric() || c == '@' || c == '_' || c == '$' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_alphanumeric() || matches!(chars[i], '@' | '_' | '.' | '$' | '-'))
            {
                // A minus sign followed by a space or digit is subtraction, not a name.
                if chars[i] == '-' && !chars.get(i + 1).is_some_and(|n| n.is_alphabetic()) {
                    break;
                }
                i += 1;
            }
            out.push(Tok::Ident(chars[start..i].iter().collect()));
            continue;
        }
        let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
        let sym = match two.as_str() {
            "!=" => Some("!="),
            "<=" => Some("<="),
            ">=" => Some(">="),
            "=~" => Some("=~"),
            "==" => Some("="),
            _ => None,
        };
        if let Some(s) = sym {
            out.push(Tok::Sym(s));
            i += 2;
            continue;
        }
        let sym = match c {
            '|' => "|",
            '(' => "(",
            ')' => ")",
            '[' => "[",
            ']' => "]",
            ',' => ",",
            '=' => "=",
            '<' => "<",
            '>' => ">",
            '+' => "+",
            '-' => "-",
            '*' => "*",
            '%' => "%",
            _ => return Err(malformed(format!("unexpected symbol found {c}"))),
        };
        out.push(Tok::Sym(sym));
        i += 1;
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Parser

#[derive(Debug, Clone)]
enum Expr {
    Field(String),
    Num(f64),
    Str(String),
    Regex(Regex),
    List(Vec<Expr>),
    Cmp(Box<Expr>, &'static str, Box<Expr>),
    Like(Box<Expr>, Box<Expr>),
    In(Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Arith(Box<Expr>, char, Box<Expr>),
    Call(String, Vec<Expr>),
    /// `bin(5m)`: the bucket width in milliseconds.
    Bin(i64),
}

#[derive(Debug, Clone)]
enum Agg {
    Count(Option<Expr>),
    CountDistinct(Expr),
    Sum(Expr),
    Avg(Expr),
    Min(Expr),
    Max(Expr),
    /// `pct(field, p)`: the value at the p-th percentile.
    Pct(Expr, f64),
    /// `earliest(field)`, `latest(field)`: the value of the oldest or newest record.
    Earliest(Expr),
    Latest(Expr),
}

#[derive(Debug, Clone)]
enum Command {
    Fields(Vec<(Expr, String)>),
    Display(Vec<String>),
    Filter(Expr),
    Stats {
        aggs: Vec<(Agg, String)>,
        by: Vec<(Expr, String)>,
    },
    Sort(Vec<(Expr, bool)>),
    Limit(usize),
    Parse {
        source: Expr,
        regex: Regex,
        names: Vec<String>,
    },
    Dedup(Vec<String>),
}

struct Parser {
    toks: Vec<Tok>,
    at: usize,
    /// Nesting of expressions; bounded so that it cannot exhaust the stack.
    depth: usize,
}

const MAX_DEPTH: usize = 64;

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn eat_sym(&mut self, s: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Sym(x)) if *x == s) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn eat_word(&mut self, w: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Ident(x)) if x.eq_ignore_ascii_case(w)) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expect_sym(&mut self, s: &str) -> Result<(), AwsError> {
        if self.eat_sym(s) {
            Ok(())
        } else {
            Err(malformed(format!("expected {s}")))
        }
    }

    fn at_end_of_command(&self) -> bool {
        matches!(self.peek(), None | Some(Tok::Sym("|")))
    }

    fn ident(&mut self) -> Result<String, AwsError> {
        match self.next() {
            Some(Tok::Ident(s)) => Ok(s),
            other => Err(malformed(format!("expected a field name, found {other:?}"))),
        }
    }

    fn command(&mut self) -> Result<Command, AwsError> {
        let name = self.ident()?.to_ascii_lowercase();
        match name.as_str() {
            "fields" => {
                let mut out = Vec::new();
                loop {
                    let e = self.expr()?;
                    let alias = if self.eat_word("as") {
                        self.ident()?
                    } else {
                        expr_name(&e)
                    };
                    out.push((e, alias));
                    if !self.eat_sym(",") {
                        break;
                    }
                }
                Ok(Command::Fields(out))
            }
            "display" => {
                let mut out = vec![self.ident()?];
                while self.eat_sym(",") {
                    out.push(self.ident()?);
                }
                Ok(Command::Display(out))
            }
            "dedup" => {
                let mut out = vec![self.ident()?];
                while self.eat_sym(",") {
                    out.push(self.ident()?);
                }
                Ok(Command::Dedup(out))
            }
            "filter" => Ok(Command::Filter(self.expr()?)),
            "stats" => {
                let mut aggs = Vec::new();
                loop {
                    let (agg, name) = self.agg()?;
                    let alias = if self.eat_word("as") {
                        self.ident()?
                    } else {
                        name
                    };
                    aggs.push((agg, alias));
                    if !self.eat_sym(",") {
                        break;
                    }
                }
                let mut by = Vec::new();
                if self.eat_word("by") {
                    loop {
                        let e = self.expr()?;
                        let alias = if self.eat_word("as") {
                            self.ident()?
                        } else {
                            expr_name(&e)
                        };
                        by.push((e, alias));
                        if !self.eat_sym(",") {
                            break;
                        }
                    }
                }
                Ok(Command::Stats { aggs, by })
            }
            "sort" => {
                let mut out = Vec::new();
                loop {
                    let e = self.expr()?;
                    let desc = if self.eat_word("desc") {
                        true
                    } else {
                        self.eat_word("asc");
                        false
                    };
                    out.push((e, desc));
                    if !self.eat_sym(",") {
                        break;
                    }
                }
                Ok(Command::Sort(out))
            }
            "limit" => match self.next() {
                Some(Tok::Num(n)) if n >= 1.0 && n.fract() == 0.0 => Ok(Command::Limit(n as usize)),
                _ => Err(malformed("limit takes a positive whole number")),
            },
            "parse" => {
                let source = self.expr_primary()?;
                match self.next() {
                    Some(Tok::Str(glob)) => {
                        if !self.eat_word("as") {
                            return Err(malformed("parse with a pattern needs 'as' and names"));
                        }
                        let mut names = vec![self.ident()?];
                        while self.eat_sym(",") {
                            names.push(self.ident()?);
                        }
                        let stars = glob.matches('*').count();
                        if stars != names.len() {
                            return Err(malformed(
                                "the number of fields does not match the number of wildcards",
                            ));
                        }
                        let mut re = String::new();
                        let parts: Vec<&str> = glob.split('*').collect();
                        for (n, part) in parts.iter().enumerate() {
                            re.push_str(&regex::escape(part));
                            if n + 1 < parts.len() {
                                re.push_str("(.*?)");
                            }
                        }
                        if glob.ends_with('*') {
                            re.push('$');
                        }
                        let regex = Regex::new(&re).map_err(|e| malformed(e.to_string()))?;
                        Ok(Command::Parse {
                            source,
                            regex,
                            names,
                        })
                    }
                    Some(Tok::Regex(r)) => {
                        let regex = Regex::new(&r).map_err(|e| malformed(e.to_string()))?;
                        let names: Vec<String> =
                            regex.capture_names().flatten().map(str::to_owned).collect();
                        if names.is_empty() {
                            return Err(malformed("parse needs named capture groups"));
                        }
                        Ok(Command::Parse {
                            source,
                            regex,
                            names,
                        })
                    }
                    _ => Err(malformed(
                        "parse takes a pattern string or a regular expression",
                    )),
                }
            }
            other => Err(malformed(format!("unexpected symbol found {other}"))),
        }
    }

    fn agg(&mut self) -> Result<(Agg, String), AwsError> {
        let f = self.ident()?.to_ascii_lowercase();
        self.expect_sym("(")?;
        let (agg, arg) =
            if f == "count" && (self.eat_sym("*") || self.peek() == Some(&Tok::Sym(")"))) {
                (Agg::Count(None), "*".to_owned())
            } else {
                let e = self.expr()?;
                let text = expr_name(&e);
                if f == "pct" {
                    self.expect_sym(",")?;
                    let p = match self.next() {
                        Some(Tok::Num(p)) if (0.0..=100.0).contains(&p) => p,
                        _ => return Err(malformed("pct takes a percentile from 0 to 100")),
                    };
                    self.expect_sym(")")?;
                    let name = format!("pct({text}, {})", format_number(p));
                    return Ok((Agg::Pct(e, p), name));
                }
                let agg = match f.as_str() {
                    "earliest" => Agg::Earliest(e),
                    "latest" => Agg::Latest(e),
                    "count" => Agg::Count(Some(e)),
                    "count_distinct" => Agg::CountDistinct(e),
                    "sum" => Agg::Sum(e),
                    "avg" => Agg::Avg(e),
                    "min" => Agg::Min(e),
                    "max" => Agg::Max(e),
                    other => return Err(malformed(format!("unknown stats function {other}"))),
                };
                (agg, text)
            };
        self.expect_sym(")")?;
        Ok((agg, format!("{f}({arg})")))
    }

    fn expr(&mut self) -> Result<Expr, AwsError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(malformed("the query nests too deeply"));
        }
        let e = self.expr_or();
        self.depth -= 1;
        e
    }

    fn expr_or(&mut self) -> Result<Expr, AwsError> {
        let mut left = self.expr_and()?;
        while self.eat_word("or") {
            let right = self.expr_and()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn expr_and(&mut self) -> Result<Expr, AwsError> {
        let mut left = self.expr_not()?;
        while self.eat_word("and") {
            let right = self.expr_not()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn expr_not(&mut self) -> Result<Expr, AwsError> {
        if self.eat_word("not") {
            self.depth += 1;
            if self.depth > MAX_DEPTH {
                return Err(malformed("the query nests too deeply"));
            }
            let e = self.expr_not();
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(e?)));
        }
        self.expr_cmp()
    }

    fn expr_cmp(&mut self) -> Result<Expr, AwsError> {
        let left = self.expr_add()?;
        let negate = self.eat_word("not");
        let e = if self.eat_word("like") || self.eat_sym("=~") {
            Expr::Like(Box::new(left), Box::new(self.expr_add()?))
        } else if self.eat_word("in") {
            Expr::In(Box::new(left), Box::new(self.expr_add()?))
        } else if negate {
            return Err(malformed("expected like or in after not"));
        } else {
            for op in ["=", "!=", "<", "<=", ">", ">="] {
                if self.eat_sym(op) {
                    let right = self.expr_add()?;
                    return Ok(Expr::Cmp(Box::new(left), op, Box::new(right)));
                }
            }
            return Ok(left);
        };
        Ok(if negate { Expr::Not(Box::new(e)) } else { e })
    }

    fn expr_add(&mut self) -> Result<Expr, AwsError> {
        let mut left = self.expr_mul()?;
        loop {
            let op = if self.eat_sym("+") {
                '+'
            } else if self.eat_sym("-") {
                '-'
            } else {
                return Ok(left);
            };
            let right = self.expr_mul()?;
            left = Expr::Arith(Box::new(left), op, Box::new(right));
        }
    }

    fn expr_mul(&mut self) -> Result<Expr, AwsError> {
        let mut left = self.expr_primary()?;
        loop {
            let op = if self.eat_sym("*") {
                '*'
            } else if self.eat_sym("%") {
                '%'
            } else {
                return Ok(left);
            };
            let right = self.expr_primary()?;
            left = Expr::Arith(Box::new(left), op, Box::new(right));
        }
    }

    fn expr_primary(&mut self) -> Result<Expr, AwsError> {
        match self.next() {
            Some(Tok::Num(n)) => Ok(Expr::Num(n)),
            Some(Tok::Str(s)) => Ok(Expr::Str(s)),
            Some(Tok::Regex(r)) => Ok(Expr::Regex(
                Regex::new(&r).map_err(|e| malformed(e.to_string()))?,
            )),
            Some(Tok::Sym("-")) => match self.next() {
                Some(Tok::Num(n)) => Ok(Expr::Num(-n)),
                _ => Err(malformed("expected a number after -")),
            },
            Some(Tok::Sym("(")) => {
                let e = self.expr()?;
                self.expect_sym(")")?;
                Ok(e)
            }
            Some(Tok::Sym("[")) => {
                let mut items = Vec::new();
                if !self.eat_sym("]") {
                    loop {
                        items.push(self.expr()?);
                        if self.eat_sym("]") {
                            break;
                        }
                        self.expect_sym(",")?;
                    }
                }
                Ok(Expr::List(items))
            }
            Some(Tok::Ident(name)) => {
                if !self.eat_sym("(") {
                    return Ok(Expr::Field(name));
                }
                let f = name.to_ascii_lowercase();
                if f == "bin" {
                    let width = match self.next() {
                        Some(Tok::Duration(d)) => duration_ms(&d),
                        _ => None,
                    }
                    .ok_or_else(|| malformed("bin takes a period such as 5m"))?;
                    self.expect_sym(")")?;
                    return Ok(Expr::Bin(width));
                }
                let mut args = Vec::new();
                if !self.eat_sym(")") {
                    loop {
                        args.push(self.expr()?);
                        if self.eat_sym(")") {
                            break;
                        }
                        self.expect_sym(",")?;
                    }
                }
                if !KNOWN_FUNCTIONS.contains(&f.as_str()) {
                    return Err(malformed(format!("unknown function {name}")));
                }
                Ok(Expr::Call(f, args))
            }
            other => Err(malformed(format!("unexpected symbol found {other:?}"))),
        }
    }
}

const KNOWN_FUNCTIONS: &[&str] = &[
    "ispresent",
    "isempty",
    "isblank",
    "strlen",
    "tolower",
    "toupper",
    "trim",
    "concat",
    "abs",
    "ceil",
    "floor",
    "strcontains",
    "substr",
    "replace",
    "coalesce",
    "greatest",
    "least",
];

fn duration_ms(d: &str) -> Option<i64> {
    let split = d.find(|c: char| c.is_ascii_alphabetic())?;
    let (n, unit) = d.split_at(split);
    let n: f64 = n.parse().ok()?;
    let unit_ms = match unit {
        "ms" => 1.0,
        "s" | "sec" | "second" | "seconds" => 1e3,
        "m" | "min" | "minute" | "minutes" => 60e3,
        "h" | "hr" | "hour" | "hours" => 3600e3,
        "d" | "day" | "days" => 86_400e3,
        "w" | "week" | "weeks" => 7.0 * 86_400e3,
        _ => return None,
    };
    let ms = (n * unit_ms) as i64;
    (ms > 0).then_some(ms)
}

/// The name a result column gets from its expression when it has no alias.
fn expr_name(e: &Expr) -> String {
    match e {
        Expr::Field(f) => f.clone(),
        Expr::Num(n) => format_number(*n),
        Expr::Str(s) => format!("'{s}'"),
        Expr::Bin(ms) => format!("bin({})", format_duration(*ms)),
        Expr::Call(f, args) => format!(
            "{f}({})",
            args.iter().map(expr_name).collect::<Vec<_>>().join(", ")
        ),
        Expr::Arith(a, op, b) => format!("{}{op}{}", expr_name(a), expr_name(b)),
        _ => "expr".to_owned(),
    }
}

fn format_duration(ms: i64) -> String {
    for (unit, size) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
    ] {
        if ms % size == 0 {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}

fn parse_query(text: &str) -> Result<Vec<Command>, AwsError> {
    let toks = lex(text)?;
    let mut p = Parser {
        toks,
        at: 0,
        depth: 0,
    };
    let mut out = Vec::new();
    while p.peek().is_some() {
        if p.eat_sym("|") {
            continue;
        }
        out.push(p.command()?);
        if !p.at_end_of_command() {
            return Err(malformed(format!(
                "unexpected symbol found {:?}",
                p.peek().cloned()
            )));
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Evaluation

#[derive(Debug, Clone, PartialEq)]
enum Qv {
    Null,
    Num(f64),
    Str(String),
    Bool(bool),
}

impl Qv {
    fn truthy(&self) -> bool {
        match self {
            Qv::Null => false,
            Qv::Bool(b) => *b,
            Qv::Num(n) => *n != 0.0,
            Qv::Str(s) => !s.is_empty(),
        }
    }

    fn num(&self) -> Option<f64> {
        match self {
            Qv::Num(n) => Some(*n),
            Qv::Str(s) => s.trim().parse().ok(),
            Qv::Bool(_) | Qv::Null => None,
        }
    }

    fn text(&self) -> Option<String> {
        match self {
            Qv::Null => None,
            Qv::Num(n) => Some(format_number(*n)),
            Qv::Str(s) => Some(s.clone()),
            Qv::Bool(b) => Some(b.to_string()),
        }
    }
}

fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

fn compare(a: &Qv, b: &Qv) -> Option<Ordering> {
    if let (Some(x), Some(y)) = (a.num(), b.num()) {
        return x.partial_cmp(&y);
    }
    Some(a.text()?.cmp(&b.text()?))
}

fn eval(e: &Expr, row: &Row) -> Qv {
    match e {
        Expr::Field(f) => row.get(f).map_or(Qv::Null, |v| Qv::Str(v.to_owned())),
        Expr::Num(n) => Qv::Num(*n),
        Expr::Str(s) => Qv::Str(s.clone()),
        Expr::Regex(r) => Qv::Str(r.as_str().to_owned()),
        Expr::List(_) => Qv::Null,
        Expr::Bin(ms) => {
            let ts = row.get("@timestamp_ms").and_then(|t| t.parse::<i64>().ok());
            ts.map_or(Qv::Null, |t| Qv::Str(format_time(t - t.rem_euclid(*ms))))
        }
        Expr::Cmp(a, op, b) => {
            let (a, b) = (eval(a, row), eval(b, row));
            if a == Qv::Null || b == Qv::Null {
                return Qv::Bool(false);
            }
            let ord = compare(&a, &b);
            Qv::Bool(match (*op, ord) {
                ("=", Some(o)) => o == Ordering::Equal,
                ("!=", Some(o)) => o != Ordering::Equal,
                ("<", Some(o)) => o == Ordering::Less,
                ("<=", Some(o)) => o != Ordering::Greater,
                (">", Some(o)) => o == Ordering::Greater,
                (">=", Some(o)) => o != Ordering::Less,
                _ => false,
            })
        }
        Expr::Like(a, pattern) => {
            let Some(text) = eval(a, row).text() else {
                return Qv::Bool(false);
            };
            Qv::Bool(match &**pattern {
                Expr::Regex(r) => r.is_match(&text),
                other => eval(other, row).text().is_some_and(|p| text.contains(&p)),
            })
        }
        Expr::In(a, list) => {
            let v = eval(a, row);
            let Expr::List(items) = &**list else {
                return Qv::Bool(false);
            };
            Qv::Bool(
                items
                    .iter()
                    .any(|i| compare(&v, &eval(i, row)) == Some(Ordering::Equal)),
            )
        }
        Expr::And(a, b) => Qv::Bool(eval(a, row).truthy() && eval(b, row).truthy()),
        Expr::Or(a, b) => Qv::Bool(eval(a, row).truthy() || eval(b, row).truthy()),
        Expr::Not(a) => Qv::Bool(!eval(a, row).truthy()),
        Expr::Arith(a, op, b) => match (eval(a, row).num(), eval(b, row).num()) {
            (Some(x), Some(y)) => Qv::Num(match op {
                '+' => x + y,
                '-' => x - y,
                '*' => x * y,
                _ if y == 0.0 => return Qv::Null,
                _ => x % y,
            }),
            _ => Qv::Null,
        },
        Expr::Call(f, args) => call(f, args, row),
    }
}

fn call(f: &str, args: &[Expr], row: &Row) -> Qv {
    let arg = |n: usize| args.get(n).map_or(Qv::Null, |a| eval(a, row));
    let text = |n: usize| arg(n).text();
    match f {
        "ispresent" => Qv::Bool(arg(0) != Qv::Null),
        "isempty" => Qv::Bool(text(0).is_none_or(|s| s.is_empty())),
        "isblank" => Qv::Bool(text(0).is_none_or(|s| s.trim().is_empty())),
        "strlen" => text(0).map_or(Qv::Null, |s| Qv::Num(s.chars().count() as f64)),
        "tolower" => text(0).map_or(Qv::Null, |s| Qv::Str(s.to_lowercase())),
        "toupper" => text(0).map_or(Qv::Null, |s| Qv::Str(s.to_uppercase())),
        "trim" => text(0).map_or(Qv::Null, |s| Qv::Str(s.trim().to_owned())),
        "concat" => Qv::Str((0..args.len()).filter_map(text).collect()),
        "abs" => arg(0).num().map_or(Qv::Null, |n| Qv::Num(n.abs())),
        "ceil" => arg(0).num().map_or(Qv::Null, |n| Qv::Num(n.ceil())),
        "floor" => arg(0).num().map_or(Qv::Null, |n| Qv::Num(n.floor())),
        "strcontains" => match (text(0), text(1)) {
            (Some(s), Some(sub)) => Qv::Num(if s.contains(&sub) { 1.0 } else { 0.0 }),
            _ => Qv::Null,
        },
        "substr" => match (text(0), arg(1).num()) {
            (Some(s), Some(start)) => {
                let len = arg(2).num().map_or(usize::MAX, |l| l.max(0.0) as usize);
                Qv::Str(s.chars().skip(start.max(0.0) as usize).take(len).collect())
            }
            _ => Qv::Null,
        },
        "replace" => match (text(0), text(1), text(2)) {
            (Some(s), Some(from), Some(to)) if !from.is_empty() => Qv::Str(s.replace(&from, &to)),
            _ => Qv::Null,
        },
        "coalesce" => (0..args.len())
            .map(arg)
            .find(|v| *v != Qv::Null)
            .unwrap_or(Qv::Null),
        "greatest" | "least" => {
            let nums: Vec<f64> = (0..args.len()).filter_map(|n| arg(n).num()).collect();
            let pick = if f == "greatest" {
                nums.into_iter().reduce(f64::max)
            } else {
                nums.into_iter().reduce(f64::min)
            };
            pick.map_or(Qv::Null, Qv::Num)
        }
        _ => Qv::Null,
    }
}

/// The order `sort` uses, AWS's "natural sort": every non-number before every number;
/// numbers by value; other text in chunks of digits and of non-digits, digit chunks by
/// length and then value, the rest by Unicode order.
fn natural_cmp(a: &str, b: &str) -> Ordering {
    fn number(s: &str) -> Option<f64> {
        let digits = s.strip_prefix('-').unwrap_or(s);
        let plain = !digits.is_empty()
            && digits.bytes().all(|c| c.is_ascii_digit() || c == b'.')
            && digits.bytes().filter(|c| *c == b'.').count() <= 1
            && !digits.starts_with('.')
            && !digits.ends_with('.');
        plain.then(|| s.parse().ok()).flatten()
    }
    fn chunks(s: &str) -> Vec<&str> {
        let mut out = Vec::new();
        let mut start = 0;
        let mut digit = None;
        for (i, c) in s.char_indices() {
            let d = c.is_ascii_digit();
            if digit.is_some_and(|prev| prev != d) {
                out.push(&s[start..i]);
                start = i;
            }
            digit = Some(d);
        }
        if start < s.len() {
            out.push(&s[start..]);
        }
        out
    }
    match (number(a), number(b)) {
        (Some(x), Some(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal).then(a.cmp(b)),
        (Some(_), None) => Ordering::Greater,
        (None, Some(_)) => Ordering::Less,
        (None, None) => {
            let (ca, cb) = (chunks(a), chunks(b));
            for (x, y) in ca.iter().zip(&cb) {
                let both_digits =
                    x.as_bytes()[0].is_ascii_digit() && y.as_bytes()[0].is_ascii_digit();
                let o = if both_digits {
                    x.len().cmp(&y.len()).then(x.cmp(y))
                } else {
                    x.cmp(y)
                };
                if o != Ordering::Equal {
                    return o;
                }
            }
            ca.len().cmp(&cb.len())
        }
    }
}

/// `2024-01-02 03:04:05.678`, as Insights shows timestamps.
fn format_time(ms: i64) -> String {
    let dt = time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:03}",
        dt.year(),
        u8::from(dt.month()),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second(),
        ms.rem_euclid(1000)
    )
}

/// Adds the members of a JSON message as fields (`a.b` for nested, `a.0` for arrays).
fn discover(prefix: &str, v: &serde_json::Value, row: &mut Row, depth: usize) {
    if depth > 16 {
        return;
    }
    let join = |k: &str| {
        if prefix.is_empty() {
            k.to_owned()
        } else {
            format!("{prefix}.{k}")
        }
    };
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                discover(&join(k), v, row, depth + 1);
            }
        }
        serde_json::Value::Array(a) => {
            for (n, v) in a.iter().enumerate() {
                discover(&join(&n.to_string()), v, row, depth + 1);
            }
        }
        serde_json::Value::String(s) if !prefix.is_empty() => row.set(prefix, s.clone()),
        serde_json::Value::Null => {}
        other if !prefix.is_empty() => row.set(prefix, other.to_string()),
        _ => {}
    }
}

#[derive(Default)]
struct AggState {
    count: f64,
    sum: f64,
    min: Option<f64>,
    max: Option<f64>,
    distinct: HashSet<String>,
    values: Vec<f64>,
    /// (timestamp, value) of the oldest and newest record seen.
    first: Option<(i64, String)>,
    last: Option<(i64, String)>,
}

fn finish(agg: &Agg, s: &AggState) -> Option<String> {
    Some(match agg {
        Agg::Count(_) => format_number(s.count),
        Agg::CountDistinct(_) => format_number(s.distinct.len() as f64),
        Agg::Sum(_) => format_number(s.sum),
        Agg::Avg(_) if s.count > 0.0 => format_number(s.sum / s.count),
        Agg::Min(_) => format_number(s.min?),
        Agg::Max(_) => format_number(s.max?),
        Agg::Avg(_) => return None,
        Agg::Pct(_, p) => {
            let mut v = s.values.clone();
            if v.is_empty() {
                return None;
            }
            v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(Ordering::Equal));
            // Nearest rank: the smallest value with at least p% of the values at or below.
            let rank = ((p / 100.0) * v.len() as f64).ceil().max(1.0) as usize;
            format_number(v[rank.min(v.len()) - 1])
        }
        Agg::Earliest(_) => s.first.as_ref()?.1.clone(),
        Agg::Latest(_) => s.last.as_ref()?.1.clone(),
    })
}

fn accumulate(agg: &Agg, s: &mut AggState, row: &Row) {
    match agg {
        Agg::Count(None) => s.count += 1.0,
        Agg::Count(Some(e)) => {
            if eval(e, row) != Qv::Null {
                s.count += 1.0;
            }
        }
        Agg::CountDistinct(e) => {
            if let Some(t) = eval(e, row).text() {
                s.distinct.insert(t);
            }
        }
        Agg::Pct(e, _) => {
            if let Some(n) = eval(e, row).num() {
                s.values.push(n);
            }
        }
        Agg::Earliest(e) | Agg::Latest(e) => {
            let (Some(v), Some(ts)) = (
                eval(e, row).text(),
                row.get("@timestamp_ms").and_then(|t| t.parse::<i64>().ok()),
            ) else {
                return;
            };
            if s.first.as_ref().is_none_or(|(t, _)| ts < *t) {
                s.first = Some((ts, v.clone()));
            }
            if s.last.as_ref().is_none_or(|(t, _)| ts >= *t) {
                s.last = Some((ts, v));
            }
        }
        Agg::Sum(e) | Agg::Avg(e) | Agg::Min(e) | Agg::Max(e) => {
            if let Some(n) = eval(e, row).num() {
                s.count += 1.0;
                s.sum += n;
                s.min = Some(s.min.map_or(n, |m| m.min(n)));
                s.max = Some(s.max.map_or(n, |m| m.max(n)));
            }
        }
    }
}

/// Runs the commands over the records; returns the result rows and the count that
/// matched the filters.
fn run(commands: &[Command], mut rows: Vec<Row>, limit: usize) -> (Vec<Row>, usize) {
    let mut shown: Option<Vec<String>> = None;
    let mut fields_named: Vec<String> = Vec::new();
    let mut aggregated = false;
    // What the filters let through, counted before stats folds it into groups.
    let mut matched = None;
    for cmd in commands {
        match cmd {
            Command::Fields(list) => {
                for row in &mut rows {
                    for (e, name) in list {
                        if let Some(v) = eval(e, row).text() {
                            row.set(name, v);
                        }
                    }
                }
                for (_, name) in list {
                    if !fields_named.contains(name) {
                        fields_named.push(name.clone());
                    }
                }
            }
            Command::Display(list) => shown = Some(list.clone()),
            Command::Filter(e) => rows.retain(|r| eval(e, r).truthy()),
            Command::Parse {
                source,
                regex,
                names,
            } => {
                for row in &mut rows {
                    let Some(text) = eval(source, row).text() else {
                        continue;
                    };
                    if let Some(caps) = regex.captures(&text) {
                        let values: Vec<(String, String)> =
                            if regex.capture_names().flatten().next().is_some() {
                                names
                                    .iter()
                                    .filter_map(|n| {
                                        Some((n.clone(), caps.name(n)?.as_str().to_owned()))
                                    })
                                    .collect()
                            } else {
                                names
                                    .iter()
                                    .enumerate()
                                    .filter_map(|(k, n)| {
                                        Some((n.clone(), caps.get(k + 1)?.as_str().to_owned()))
                                    })
                                    .collect()
                            };
                        for (n, v) in values {
                            row.set(&n, v);
                        }
                    }
                }
            }
            Command::Dedup(keys) => {
                let mut seen = HashSet::new();
                rows.retain(|r| {
                    seen.insert(
                        keys.iter()
                            .map(|k| r.get(k).map(str::to_owned))
                            .collect::<Vec<_>>(),
                    )
                });
            }
            Command::Stats { aggs, by } => {
                matched.get_or_insert(rows.len());
                let mut groups: BTreeMap<Vec<String>, Vec<AggState>> = BTreeMap::new();
                for row in &rows {
                    let key: Vec<String> = by
                        .iter()
                        .map(|(e, _)| eval(e, row).text().unwrap_or_default())
                        .collect();
                    let states = groups
                        .entry(key)
                        .or_insert_with(|| aggs.iter().map(|_| AggState::default()).collect());
                    for ((agg, _), s) in aggs.iter().zip(states.iter_mut()) {
                        accumulate(agg, s, row);
                    }
                }
                // A stats without `by` over nothing still answers (a count of 0).
                if groups.is_empty() && by.is_empty() {
                    groups.insert(
                        Vec::new(),
                        aggs.iter().map(|_| AggState::default()).collect(),
                    );
                }
                rows = groups
                    .into_iter()
                    .map(|(key, states)| {
                        let mut row = Row::default();
                        for ((_, name), value) in by.iter().zip(key) {
                            row.set(name, value);
                        }
                        for ((agg, name), s) in aggs.iter().zip(&states) {
                            if let Some(v) = finish(agg, s) {
                                row.set(name, v);
                            }
                        }
                        row
                    })
                    .collect();
                let mut names: Vec<String> = by.iter().map(|(_, n)| n.clone()).collect();
                names.extend(aggs.iter().map(|(_, n)| n.clone()));
                fields_named = names;
                shown = None;
                aggregated = true;
            }
            Command::Sort(keys) => {
                rows.sort_by(|a, b| {
                    for (e, desc) in keys {
                        let (x, y) = (eval(e, a), eval(e, b));
                        let o = match (&x, &y) {
                            (Qv::Null, Qv::Null) => Ordering::Equal,
                            (Qv::Null, _) => Ordering::Greater,
                            (_, Qv::Null) => Ordering::Less,
                            _ => natural_cmp(
                                &x.text().unwrap_or_default(),
                                &y.text().unwrap_or_default(),
                            ),
                        };
                        let o = if *desc && !matches!((&x, &y), (Qv::Null, _) | (_, Qv::Null)) {
                            o.reverse()
                        } else {
                            o
                        };
                        if o != Ordering::Equal {
                            return o;
                        }
                    }
                    Ordering::Equal
                });
            }
            Command::Limit(n) => rows.truncate(*n),
        }
    }
    let matched = matched.unwrap_or(rows.len());
    rows.truncate(limit);
    let columns = shown.or((!fields_named.is_empty()).then_some(fields_named));
    let rows = rows
        .into_iter()
        .map(|r| {
            let mut out = Row::default();
            match &columns {
                Some(cols) => {
                    for c in cols {
                        if let Some(v) = r.get(c) {
                            out.fields.push((c.clone(), v.to_owned()));
                        }
                    }
                }
                None => {
                    for (n, v) in &r.fields {
                        if n != "@timestamp_ms" && n != "@ptr" {
                            out.fields.push((n.clone(), v.clone()));
                        }
                    }
                }
            }
            if !aggregated && let Some(p) = r.get("@ptr") {
                out.set("@ptr", p.to_owned());
            }
            out
        })
        .collect();
    (rows, matched)
}

/// Parses `text` as a query and runs what parses over a few records (for the fuzzer).
pub fn fuzz_query(text: &str) {
    if let Ok(commands) = parse_query(text) {
        let mut rows = Vec::new();
        for (t, m) in [(0, "a [b] c"), (61_000, r#"{"x":1,"y":{"z":"w"}}"#)] {
            let mut r = Row::default();
            r.set("@timestamp", format_time(t));
            r.set("@timestamp_ms", t.to_string());
            r.set("@message", m.to_owned());
            if let Ok(doc) = serde_json::from_str::<serde_json::Value>(m) {
                discover("", &doc, &mut r, 0);
            }
            rows.push(r);
        }
        let _ = run(&commands, rows, 100);
    }
}

// ---------------------------------------------------------------------------------------
// Operations

fn query_groups(ctx: &RequestContext, i: &Value) -> Result<Vec<GroupRef>, AwsError> {
    let mut out = Vec::new();
    let own = |name: &str| GroupRef {
        account: ctx.account_id.clone(),
        region: ctx.region.clone(),
        name: name.to_owned(),
    };
    if let Some(n) = i.str("logGroupName") {
        out.push(own(n));
    }
    for n in util::strings(i.get("logGroupNames")) {
        out.push(own(&n));
    }
    for id in util::strings(i.get("logGroupIdentifiers")) {
        out.push(if id.starts_with("arn:") {
            util::parse_group_arn(&id).ok_or_else(errors::group_not_found)?
        } else {
            own(&id)
        });
    }
    let given = [
        i.get("logGroupName").is_some(),
        i.get("logGroupNames").is_some(),
        i.get("logGroupIdentifiers").is_some(),
    ];
    if given.iter().filter(|g| **g).count() > 1 {
        return Err(errors::invalid_parameter(
            "logGroupName, logGroupNames and logGroupIdentifiers are mutually exclusive parameters.",
        ));
    }
    if out.is_empty() {
        return Err(errors::invalid_parameter(
            "Log group name or identifiers must be specified.",
        ));
    }
    Ok(out)
}

fn records(r: &GroupRef, g: &LogGroup, start: i64, end: i64, rows: &mut Vec<Row>, bytes: &mut f64) {
    for s in g.streams.values() {
        let ev = &s.events;
        let lo = ev.partition_point(|e| e.timestamp < start);
        let hi = ev.partition_point(|e| e.timestamp <= end);
        for e in &ev[lo..hi.max(lo)] {
            *bytes += e.message.len() as f64;
            let mut row = Row::default();
            row.set("@timestamp", format_time(e.timestamp));
            row.set("@message", e.message.to_string());
            row.set("@logStream", s.name.clone());
            row.set("@log", format!("{}:{}", r.account, g.name));
            row.set("@ingestionTime", format_time(e.ingestion));
            row.set("@timestamp_ms", e.timestamp.to_string());
            row.set(
                "@ptr",
                util::encode_token(&format!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    r.account, r.region, g.name, s.name, e.timestamp, e.seq
                )),
            );
            if e.message.trim_start().starts_with('{')
                && let Ok(doc) = serde_json::from_str::<serde_json::Value>(&e.message)
            {
                discover("", &doc, &mut row, 0);
            }
            rows.push(row);
        }
    }
}

/// GetLogRecord: the whole record a result's `@ptr` points at, timestamps in epoch
/// milliseconds as AWS writes them here.
pub fn get_log_record(c: &Core, i: &Value) -> Result<Value, AwsError> {
    let bad = || errors::invalid_parameter("The specified log record pointer is not valid.");
    let text = util::decode_token(i.str("logRecordPointer").unwrap_or_default()).ok_or_else(bad)?;
    let mut head = text.splitn(4, '\t');
    let (Some(account), Some(region), Some(group), Some(rest)) =
        (head.next(), head.next(), head.next(), head.next())
    else {
        return Err(bad());
    };
    let mut tail = rest.rsplitn(3, '\t');
    let (Some(seq), Some(ts), Some(stream)) = (tail.next(), tail.next(), tail.next()) else {
        return Err(bad());
    };
    let (Ok(seq), Ok(ts)) = (seq.parse::<u64>(), ts.parse::<i64>()) else {
        return Err(bad());
    };
    let missing = || errors::not_found("The specified log record does not exist.");
    let g = c.find(account, region, group).ok_or_else(missing)?;
    let g = g.lock().unwrap();
    let s = g.streams.get(stream).ok_or_else(missing)?;
    let at = s.events.partition_point(|e| e.key() < (ts, seq));
    let e = s
        .events
        .get(at)
        .filter(|e| e.key() == (ts, seq))
        .ok_or_else(missing)?;
    let mut row = Row::default();
    row.set("@ingestionTime", e.ingestion.to_string());
    row.set("@log", format!("{account}:{group}"));
    row.set("@logStream", stream.to_owned());
    row.set("@message", e.message.to_string());
    row.set("@timestamp", e.timestamp.to_string());
    if e.message.trim_start().starts_with('{')
        && let Ok(doc) = serde_json::from_str::<serde_json::Value>(&e.message)
    {
        discover("", &doc, &mut row, 0);
    }
    let mut record = Value::map();
    for (k, v) in row.fields {
        record.insert(&k, v);
    }
    Ok(Value::map().with("logRecord", record))
}

/// GetLogGroupFields: the fields of the group's events around `time` (8 minutes either
/// side) or in the last 5 minutes, each with the share of events that have it.
pub async fn get_log_group_fields(
    c: &Core,
    ctx: &RequestContext,
    i: &Value,
) -> Result<Value, AwsError> {
    let r = util::group_ref(ctx, i)?;
    let now = ctx.clock.now_millis();
    let (start, end) = match i.int("time") {
        Some(t) => (t * 1000 - 480_000, t * 1000 + 480_000),
        None => (now - 300_000, now),
    };
    let g = c
        .find(&r.account, &r.region, &r.name)
        .ok_or_else(errors::group_not_found)?;
    let mut rows = Vec::new();
    let mut bytes = 0.0;
    let expired = {
        let mut g = g.lock().unwrap();
        let expired = g.expire(&r.account, &r.region, now);
        records(&r, &g, start, end, &mut rows, &mut bytes);
        expired
    };
    c.forget(expired).await;
    let mut counts: Vec<(String, usize)> = Vec::new();
    for row in &rows {
        for (name, _) in &row.fields {
            if name == "@timestamp_ms" || name == "@ptr" {
                continue;
            }
            match counts.iter_mut().find(|(n, _)| n == name) {
                Some(c) => c.1 += 1,
                None => counts.push((name.clone(), 1)),
            }
        }
    }
    let fields: Vec<Value> = counts
        .into_iter()
        .map(|(name, n)| {
            Value::map()
                .with("name", name)
                .with("percent", (n * 100 / rows.len().max(1)) as i64)
        })
        .collect();
    Ok(Value::map().with("logGroupFields", fields))
}

pub async fn start_query(c: &Core, ctx: &RequestContext, i: &Value) -> Result<Value, AwsError> {
    let text = i.str("queryString").unwrap_or_default().to_owned();
    if let Some(lang) = i.str("queryLanguage")
        && lang != "CWLI"
    {
        return Err(errors::invalid_parameter(format!(
            "Query language {lang} is not supported by nephos; use CWLI."
        )));
    }
    let groups = query_groups(ctx, i)?;
    let commands = parse_query(&text)?;
    let start = i.int("startTime").unwrap_or(0) * 1000;
    let end = i.int("endTime").unwrap_or(0) * 1000 + 999;
    if end < start {
        return Err(errors::invalid_parameter(
            "End time should not be before the start time.",
        ));
    }
    let limit = i.int("limit").map_or(DEFAULT_LIMIT, |l| l as usize);
    let mut rows = Vec::new();
    let mut bytes = 0.0;
    let now = ctx.clock.now_millis();
    let mut expired = Vec::new();
    for r in &groups {
        let g = c
            .find(&r.account, &r.region, &r.name)
            .ok_or_else(errors::group_not_found)?;
        let mut g = g.lock().unwrap();
        expired.extend(g.expire(&r.account, &r.region, now));
        records(r, &g, start, end, &mut rows, &mut bytes);
    }
    c.forget(expired).await;
    let scanned = rows.len();
    // Newest first, as the console shows records unless the query sorts them.
    rows.sort_by(|a, b| b.get("@timestamp").cmp(&a.get("@timestamp")));
    let (results, matched) = run(&commands, rows, limit);
    let id = random_id();
    let region = c.regions.get(ctx);
    let mut q = region.queries.lock().unwrap();
    q.order.push(id.clone());
    q.by_id.insert(
        id.clone(),
        Query {
            id: id.clone(),
            text,
            group: groups[0].name.clone(),
            status: "Complete",
            create_time: now,
            results,
            matched: matched as f64,
            scanned: scanned as f64,
            bytes,
        },
    );
    if q.order.len() > MAX_QUERIES {
        let old = q.order.remove(0);
        q.by_id.remove(&old);
    }
    Ok(Value::map().with("queryId", id))
}

pub fn random_id() -> String {
    let n: u128 = rand::random();
    let h = format!("{n:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

pub fn get_query_results(c: &Core, ctx: &RequestContext, i: &Value) -> Result<Value, AwsError> {
    let id = i.str("queryId").unwrap_or_default();
    let region = c.regions.get(ctx);
    let queries = region.queries.lock().unwrap();
    let q = queries
        .by_id
        .get(id)
        .ok_or_else(|| errors::not_found(format!("Query does not exist: {id}")))?;
    let results: Vec<Value> = q
        .results
        .iter()
        .map(|row| {
            Value::List(
                row.fields
                    .iter()
                    .map(|(f, v)| {
                        Value::map()
                            .with("field", f.as_str())
                            .with("value", v.as_str())
                    })
                    .collect(),
            )
        })
        .collect();
    Ok(Value::map()
        .with("queryLanguage", "CWLI")
        .with("results", results)
        .with(
            "statistics",
            Value::map()
                .with("recordsMatched", q.matched)
                .with("recordsScanned", q.scanned)
                .with("bytesScanned", q.bytes),
        )
        .with("status", q.status))
}

pub fn stop_query(c: &Core, ctx: &RequestContext, i: &Value) -> Result<Value, AwsError> {
    let id = i.str("queryId").unwrap_or_default();
    let region = c.regions.get(ctx);
    let mut queries = region.queries.lock().unwrap();
    let q = queries
        .by_id
        .get_mut(id)
        .ok_or_else(|| errors::not_found(format!("Query does not exist: {id}")))?;
    // Queries finish as they start, so there is never one running to stop.
    let stopped = matches!(q.status, "Scheduled" | "Running");
    if stopped {
        q.status = "Cancelled";
    }
    Ok(Value::map().with("success", stopped))
}

pub fn describe_queries(c: &Core, ctx: &RequestContext, i: &Value) -> Result<Value, AwsError> {
    let group = i.str("logGroupName");
    let status = i.str("status");
    let region = c.regions.get(ctx);
    let queries = region.queries.lock().unwrap();
    let found: Vec<Value> = queries
        .order
        .iter()
        .rev()
        .filter_map(|id| queries.by_id.get(id))
        .filter(|q| group.is_none_or(|g| q.group == g) && status.is_none_or(|s| q.status == s))
        .map(|q| {
            Value::map()
                .with("queryLanguage", "CWLI")
                .with("queryId", q.id.as_str())
                .with("queryString", q.text.as_str())
                .with("status", q.status)
                .with("createTime", q.create_time)
                .with("logGroupName", q.group.as_str())
        })
        .collect();
    let limit = i.int("maxResults").unwrap_or(1000) as usize;
    let (page, next) = util::page(found, i.str("nextToken"), limit)?;
    let mut out = Value::map().with("queries", page);
    if let Some(t) = next {
        out.insert("nextToken", t);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(msgs: &[(i64, &str)]) -> Vec<Row> {
        msgs.iter()
            .map(|(t, m)| {
                let mut r = Row::default();
                r.set("@timestamp", format_time(*t));
                r.set("@message", (*m).to_owned());
                r.set("@timestamp_ms", t.to_string());
                r.set("@ptr", "p".to_owned());
                if let Ok(doc) = serde_json::from_str::<serde_json::Value>(m) {
                    discover("", &doc, &mut r, 0);
                }
                r
            })
            .collect()
    }

    fn q(text: &str, data: &[(i64, &str)]) -> Vec<Vec<(String, String)>> {
        let cmds = parse_query(text).unwrap();
        run(&cmds, rows(data), 10_000)
            .0
            .into_iter()
            .map(|r| r.fields)
            .collect()
    }

    #[test]
    fn fields_filter_sort_limit() {
        let data = [(1000, "a ERROR 1"), (2000, "b INFO 2"), (3000, "c ERROR 3")];
        let out = q(
            "fields @timestamp, @message | filter @message like /ERROR/ | sort @timestamp desc | limit 1",
            &data,
        );
        assert_eq!(out.len(), 1);
        assert_eq!(out[0][1], ("@message".into(), "c ERROR 3".into()));
        assert_eq!(out[0][2].0, "@ptr");
    }

    #[test]
    fn json_fields_and_stats() {
        let data = [
            (60_000, r#"{"level":"error","ms":10,"req":{"path":"/a"}}"#),
            (61_000, r#"{"level":"info","ms":30,"req":{"path":"/b"}}"#),
            (400_000, r#"{"level":"error","ms":50,"req":{"path":"/a"}}"#),
        ];
        let out = q(
            "stats count(*) as n, avg(ms), max(ms), sum(ms) by level",
            &data,
        );
        assert_eq!(
            out[0],
            vec![
                ("level".into(), "error".into()),
                ("n".into(), "2".into()),
                ("avg(ms)".into(), "30".into()),
                ("max(ms)".into(), "50".into()),
                ("sum(ms)".into(), "60".into())
            ]
        );
        let out = q("filter req.path = '/a' | stats count(*) by bin(5m)", &data);
        assert_eq!(out.len(), 2);
        assert_eq!(
            out[0][0],
            ("bin(5m)".into(), "1970-01-01 00:00:00.000".into())
        );
        assert_eq!(
            out[1][0],
            ("bin(5m)".into(), "1970-01-01 00:05:00.000".into())
        );
    }

    #[test]
    fn percentiles_and_earliest_latest() {
        let data: Vec<(i64, String)> = (1..=10)
            .map(|n| (n * 1000, format!(r#"{{"ms":{},"v":"x{n}"}}"#, n * 10)))
            .collect();
        let data: Vec<(i64, &str)> = data.iter().map(|(t, m)| (*t, m.as_str())).collect();
        let out = q(
            "stats pct(ms, 50), pct(ms, 90), pct(ms, 100), earliest(v), latest(v)",
            &data,
        );
        assert_eq!(
            out[0],
            vec![
                ("pct(ms, 50)".into(), "50".into()),
                ("pct(ms, 90)".into(), "90".into()),
                ("pct(ms, 100)".into(), "100".into()),
                ("earliest(v)".into(), "x1".into()),
                ("latest(v)".into(), "x10".into()),
            ]
        );
        assert!(parse_query("stats pct(ms, 101)").is_err());
    }

    #[test]
    fn parse_glob_and_regex() {
        let data = [(1, "2024 [WARN] disk nearly full")];
        let out = q(
            "parse @message \"* [*] *\" as year, level, text | display level, text",
            &data,
        );
        assert_eq!(
            out[0],
            vec![
                ("level".into(), "WARN".into()),
                ("text".into(), "disk nearly full".into()),
                ("@ptr".into(), "p".into())
            ]
        );
        let out = q(
            "parse @message /\\[(?<lvl>\\w+)\\]/ | filter lvl = 'WARN' | fields lvl",
            &data,
        );
        assert_eq!(out[0][0], ("lvl".into(), "WARN".into()));
    }

    #[test]
    fn boolean_logic_and_functions() {
        let data = [
            (1, r#"{"a":1,"b":"x"}"#),
            (2, r#"{"a":2}"#),
            (3, r#"{"a":3,"b":"y"}"#),
        ];
        assert_eq!(
            q("filter ispresent(b) and a > 1 | fields a", &data).len(),
            1
        );
        assert_eq!(
            q("filter not ispresent(b) or a = 1 | fields a", &data).len(),
            2
        );
        assert_eq!(q("filter a in [1, 3] | fields a", &data).len(), 2);
        assert_eq!(q("filter b =~ /^[xy]$/ | fields a", &data).len(), 2);
        assert_eq!(q("filter b not like 'x' | fields a", &data).len(), 2);
        assert_eq!(
            q(
                "fields toupper(b) as B | filter ispresent(B) | sort B desc | display B",
                &data
            )[0][0],
            ("B".into(), "Y".into())
        );
    }

    #[test]
    fn sort_is_aws_natural_order() {
        // The example of AWS's `sort` documentation, in ascending order.
        let sorted = [
            "!:",
            "#",
            "*%04",
            "0#",
            "5A",
            "111A",
            "2345_",
            "@",
            "@_",
            "A",
            "A9876fghj",
            "a12345hfh",
            "0",
            "01",
            "1",
            "2",
            "3",
        ];
        let mut shuffled = sorted.to_vec();
        shuffled.reverse();
        shuffled.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(shuffled, sorted);
    }

    #[test]
    fn malformed_queries_are_refused() {
        for bad in [
            "fields",
            "filter a = ",
            "stats nope(x)",
            "limit x",
            "parse @message \"* *\" as a",
            "wat a",
            "filter a like /unterminated",
            &format!("filter {}a = 1{}", "(".repeat(200), ")".repeat(200)),
            &format!("filter {}a", "not ".repeat(200)),
        ] {
            let e = parse_query(bad).unwrap_err();
            assert_eq!(e.code, "MalformedQueryException", "{bad}");
        }
    }
}
