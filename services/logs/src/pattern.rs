//! The filter pattern language of metric filters, subscription filters, FilterLogEvents and
//! Live Tail, as AWS documents it ("Filter pattern syntax for metric filters, subscription
//! filters, filter log events, and Live Tail").
//!
//! Three forms, told apart by the first character of the trimmed pattern:
//!
//! - terms (`ERROR "disk full" ?WARN -debug %ab+c%`): every plain term must occur in the
//!   message (case-sensitive), at least one `?` term when there are any, no `-` term;
//! - JSON (`{ $.a = 1 && ($.b != "x*" || $.c IS NULL) }`): selectors into the message parsed
//!   as JSON, compared with `=`, `!=`, `<`, `<=`, `>`, `>=`, `IS TRUE|FALSE|NULL`,
//!   `NOT EXISTS`, combined with `&&`, `||` and parentheses;
//! - space-delimited (`[ip, user, ..., status = 4*, bytes > 1000]`): the message split into
//!   fields (quoted and bracketed text is one field), `...` standing for any number of them,
//!   with conditions per field; named fields are extracted (TestMetricFilter).
//!
//! String values take `*` wildcards; `%regex%` matches a regular expression anywhere in
//! the text. Patterns are parsed once ([`Pattern::parse`]) and matched per event.

use regex::Regex;
use serde_json::Value as Json;

/// Why a pattern was refused, worded as AWS words it.
#[derive(Debug, Clone, PartialEq)]
pub struct PatternError(pub String);

impl PatternError {
    fn invalid() -> PatternError {
        PatternError("Invalid filter pattern".to_owned())
    }
}

/// AWS allows at most this many regular expressions in one pattern.
const MAX_REGEXES: usize = 2;

/// A parsed filter pattern.
#[derive(Debug, Clone)]
pub enum Pattern {
    /// The empty pattern: every event matches.
    All,
    Terms(Terms),
    Json(JsonExpr),
    Delimited(Vec<FieldSpec>),
}

#[derive(Debug, Clone, Default)]
pub struct Terms {
    required: Vec<Term>,
    any_of: Vec<Term>,
    excluded: Vec<Term>,
}

#[derive(Debug, Clone)]
enum Term {
    Text(String),
    Regex(Regex),
}

impl Term {
    fn found_in(&self, message: &str) -> bool {
        match self {
            Term::Text(t) => message.contains(t.as_str()),
            Term::Regex(r) => r.is_match(message),
        }
    }
}

/// A boolean expression over the JSON of a message.
#[derive(Debug, Clone)]
pub enum JsonExpr {
    And(Box<JsonExpr>, Box<JsonExpr>),
    Or(Box<JsonExpr>, Box<JsonExpr>),
    Compare(Vec<Segment>, Op, Literal),
    IsTrue(Vec<Segment>),
    IsFalse(Vec<Segment>),
    IsNull(Vec<Segment>),
    NotExists(Vec<Segment>),
}

/// One step of a JSON selector (`$.a[0].b`).
#[derive(Debug, Clone, PartialEq)]
pub enum Segment {
    Key(String),
    Index(usize),
    /// `[*]` or `.*`: any element or member.
    Any,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// The right-hand side of a comparison.
#[derive(Debug, Clone)]
pub enum Literal {
    Number(f64),
    Text(Glob),
    Regex(Regex),
}

/// A string with `*` wildcards, matched against a whole value.
#[derive(Debug, Clone, PartialEq)]
pub struct Glob {
    parts: Vec<String>,
}

impl Glob {
    fn new(text: &str) -> Glob {
        Glob {
            parts: text.split('*').map(str::to_owned).collect(),
        }
    }

    pub fn matches(&self, value: &str) -> bool {
        if self.parts.len() == 1 {
            return self.parts[0] == value;
        }
        let first = &self.parts[0];
        let last = &self.parts[self.parts.len() - 1];
        if value.len() < first.len() + last.len()
            || !value.starts_with(first.as_str())
            || !value.ends_with(last.as_str())
        {
            return false;
        }
        let mut rest = &value[first.len()..value.len() - last.len()];
        for middle in &self.parts[1..self.parts.len() - 1] {
            match rest.find(middle.as_str()) {
                Some(at) => rest = &rest[at + middle.len()..],
                None => return false,
            }
        }
        true
    }
}

/// One comma-separated item of a space-delimited pattern.
#[derive(Debug, Clone)]
pub enum FieldSpec {
    /// `...`: any number of fields, unnamed.
    Ellipsis,
    Named {
        name: String,
        condition: Option<FieldExpr>,
    },
}

/// Conditions on one field (`status = 4* || status = 5*`).
#[derive(Debug, Clone)]
pub enum FieldExpr {
    And(Box<FieldExpr>, Box<FieldExpr>),
    Or(Box<FieldExpr>, Box<FieldExpr>),
    Compare(String, Op, Literal),
}

/// What matching an event found: whether it matched, and the values of the named fields of
/// a space-delimited pattern (in pattern order).
#[derive(Debug, Default, PartialEq)]
pub struct Found {
    pub fields: Vec<(String, String)>,
}

impl Pattern {
    /// Parses `text`; errors carry AWS's message for an `InvalidParameterException`.
    pub fn parse(text: &str) -> Result<Pattern, PatternError> {
        let t = text.trim();
        if t.is_empty() {
            return Ok(Pattern::All);
        }
        let mut regexes = 0;
        let pattern = if let Some(inner) = t.strip_prefix('{') {
            let inner = inner.strip_suffix('}').ok_or_else(PatternError::invalid)?;
            let tokens = lex(inner)?;
            let mut p = Parser {
                tokens,
                at: 0,
                regexes: &mut regexes,
                depth: 0,
            };
            let expr = p.json_or()?;
            if p.at != p.tokens.len() {
                return Err(PatternError::invalid());
            }
            Pattern::Json(expr)
        } else if let Some(inner) = t.strip_prefix('[') {
            let inner = inner.strip_suffix(']').ok_or_else(PatternError::invalid)?;
            Pattern::Delimited(parse_delimited(inner, &mut regexes)?)
        } else {
            Pattern::Terms(parse_terms(t, &mut regexes)?)
        };
        if regexes > MAX_REGEXES {
            return Err(PatternError(format!(
                "Invalid filter pattern: at most {MAX_REGEXES} regular expressions are allowed in a filter pattern"
            )));
        }
        Ok(pattern)
    }

    /// Whether `message` matches.
    pub fn matches(&self, message: &str) -> bool {
        self.find(message).is_some()
    }

    /// Matches `message`, returning the extracted fields when it does.
    pub fn find(&self, message: &str) -> Option<Found> {
        match self {
            Pattern::All => Some(Found::default()),
            Pattern::Terms(t) => {
                let ok = t.required.iter().all(|x| x.found_in(message))
                    && (t.any_of.is_empty() || t.any_of.iter().any(|x| x.found_in(message)))
                    && !t.excluded.iter().any(|x| x.found_in(message));
                ok.then(Found::default)
            }
            Pattern::Json(expr) => {
                // Only objects and arrays are JSON events; skip the parse for plain text.
                let first = message.trim_start().as_bytes().first()?;
                if *first != b'{' && *first != b'[' {
                    return None;
                }
                let doc: Json = serde_json::from_str(message).ok()?;
                eval_json(expr, &doc).then(Found::default)
            }
            Pattern::Delimited(specs) => {
                let fields = split_fields(message);
                let mut bound = Vec::new();
                if align(specs, &fields, &mut bound) {
                    Some(Found {
                        fields: bound
                            .into_iter()
                            .map(|(n, v)| (n.to_owned(), v.to_owned()))
                            .collect(),
                    })
                } else {
                    None
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Terms

fn parse_terms(text: &str, regexes: &mut usize) -> Result<Terms, PatternError> {
    let mut terms = Terms::default();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_whitespace() {
            i += 1;
            continue;
        }
        let kind = match chars[i] {
            '?' => {
                i += 1;
                1
            }
            '-' => {
                i += 1;
                2
            }
            _ => 0,
        };
        let term = if i < chars.len() && chars[i] == '"' {
            let (s, next) = quoted(&chars, i)?;
            i = next;
            Term::Text(s)
        } else if i < chars.len() && chars[i] == '%' {
            let (r, next) = regex_at(&chars, i)?;
            *regexes += 1;
            i = next;
            Term::Regex(r)
        } else {
            let start = i;
            while i < chars.len() && !chars[i].is_whitespace() {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            if word.is_empty() || !word.chars().all(|c| c.is_alphanumeric() || c == '_') {
                return Err(PatternError(format!(
                    "Invalid character(s) in term '{word}'"
                )));
            }
            Term::Text(word)
        };
        if i < chars.len() && !chars[i].is_whitespace() {
            return Err(PatternError::invalid());
        }
        // An empty quoted term ("") occurs in every message.
        if matches!(&term, Term::Text(t) if t.is_empty()) && kind == 0 {
            continue;
        }
        match kind {
            1 => terms.any_of.push(term),
            2 => terms.excluded.push(term),
            _ => terms.required.push(term),
        }
    }
    Ok(terms)
}

/// A double-quoted string starting at `chars[at]`: its text and the index after it.
fn quoted(chars: &[char], at: usize) -> Result<(String, usize), PatternError> {
    let mut s = String::new();
    let mut i = at + 1;
    while i < chars.len() {
        match chars[i] {
            '\\' if i + 1 < chars.len() && matches!(chars[i + 1], '"' | '\\') => {
                s.push(chars[i + 1]);
                i += 2;
            }
            '"' => return Ok((s, i + 1)),
            c => {
                s.push(c);
                i += 1;
            }
        }
    }
    Err(PatternError::invalid())
}

/// A `%regex%` starting at `chars[at]`, compiled.
fn regex_at(chars: &[char], at: usize) -> Result<(Regex, usize), PatternError> {
    let mut i = at + 1;
    let mut body = String::new();
    while i < chars.len() {
        match chars[i] {
            '\\' if i + 1 < chars.len() => {
                body.push('\\');
                body.push(chars[i + 1]);
                i += 2;
            }
            '%' => {
                return Ok((compile_regex(&body)?, i + 1));
            }
            c => {
                body.push(c);
                i += 1;
            }
        }
    }
    Err(PatternError::invalid())
}

/// Compiles the regular expression subset filter patterns allow: no look-around, no
/// back-references, no empty expression.
fn compile_regex(body: &str) -> Result<Regex, PatternError> {
    if body.is_empty() || body.contains("(?") {
        return Err(PatternError::invalid());
    }
    regex::RegexBuilder::new(body)
        .size_limit(1 << 20)
        .build()
        .map_err(|_| PatternError::invalid())
}

// ---------------------------------------------------------------------------------------
// Tokens of JSON and space-delimited patterns

#[derive(Debug, Clone)]
enum Tok {
    Word(String),
    Quoted(String),
    Regex(String),
    Op(Op),
    And,
    Or,
    Open,
    Close,
    Comma,
}

fn lex(text: &str) -> Result<Vec<Tok>, PatternError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match c {
            c if c.is_whitespace() => i += 1,
            '"' => {
                let (s, n) = quoted(&chars, i)?;
                out.push(Tok::Quoted(s));
                i = n;
            }
            '%' => {
                let start = i + 1;
                let mut j = start;
                while j < chars.len() && chars[j] != '%' {
                    if chars[j] == '\\' {
                        j += 1;
                    }
                    j += 1;
                }
                if j >= chars.len() {
                    return Err(PatternError::invalid());
                }
                out.push(Tok::Regex(chars[start..j].iter().collect()));
                i = j + 1;
            }
            '(' => {
                out.push(Tok::Open);
                i += 1;
            }
            ')' => {
                out.push(Tok::Close);
                i += 1;
            }
            ',' => {
                out.push(Tok::Comma);
                i += 1;
            }
            '&' if next == Some('&') => {
                out.push(Tok::And);
                i += 2;
            }
            '|' if next == Some('|') => {
                out.push(Tok::Or);
                i += 2;
            }
            '=' => {
                out.push(Tok::Op(Op::Eq));
                i += 1;
            }
            '!' if next == Some('=') => {
                out.push(Tok::Op(Op::Ne));
                i += 2;
            }
            '<' | '>' => {
                let eq = next == Some('=');
                out.push(Tok::Op(match (c, eq) {
                    ('<', true) => Op::Le,
                    ('<', false) => Op::Lt,
                    (_, true) => Op::Ge,
                    _ => Op::Gt,
                }));
                i += if eq { 2 } else { 1 };
            }
            _ => {
                let start = i;
                while i < chars.len() {
                    let c = chars[i];
                    if c.is_whitespace() || "\"%(),=!<>&|{}".contains(c) {
                        break;
                    }
                    i += 1;
                }
                if i == start {
                    return Err(PatternError::invalid());
                }
                out.push(Tok::Word(chars[start..i].iter().collect()));
            }
        }
    }
    Ok(out)
}

struct Parser<'r> {
    tokens: Vec<Tok>,
    at: usize,
    regexes: &'r mut usize,
    /// Parentheses open; bounded so that nesting cannot exhaust the stack.
    depth: usize,
}

/// Deepest nesting of parentheses a pattern may have.
const MAX_DEPTH: usize = 64;

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn enter(&mut self) -> Result<(), PatternError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(PatternError::invalid());
        }
        Ok(())
    }

    fn json_or(&mut self) -> Result<JsonExpr, PatternError> {
        let mut left = self.json_and()?;
        while matches!(self.peek(), Some(Tok::Or)) {
            self.at += 1;
            let right = self.json_and()?;
            left = JsonExpr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn json_and(&mut self) -> Result<JsonExpr, PatternError> {
        let mut left = self.json_primary()?;
        while matches!(self.peek(), Some(Tok::And)) {
            self.at += 1;
            let right = self.json_primary()?;
            left = JsonExpr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn json_primary(&mut self) -> Result<JsonExpr, PatternError> {
        match self.next() {
            Some(Tok::Open) => {
                self.enter()?;
                let e = self.json_or()?;
                self.depth -= 1;
                match self.next() {
                    Some(Tok::Close) => Ok(e),
                    _ => Err(PatternError::invalid()),
                }
            }
            Some(Tok::Word(w)) if w.starts_with('$') => {
                let path = parse_selector(&w)?;
                match self.next() {
                    Some(Tok::Op(op)) => {
                        let lit = self.literal(op)?;
                        Ok(JsonExpr::Compare(path, op, lit))
                    }
                    Some(Tok::Word(k)) if k == "IS" => match self.next() {
                        Some(Tok::Word(v)) if v == "TRUE" => Ok(JsonExpr::IsTrue(path)),
                        Some(Tok::Word(v)) if v == "FALSE" => Ok(JsonExpr::IsFalse(path)),
                        Some(Tok::Word(v)) if v == "NULL" => Ok(JsonExpr::IsNull(path)),
                        _ => Err(PatternError::invalid()),
                    },
                    Some(Tok::Word(k)) if k == "NOT" => match self.next() {
                        Some(Tok::Word(v)) if v == "EXISTS" => Ok(JsonExpr::NotExists(path)),
                        _ => Err(PatternError::invalid()),
                    },
                    _ => Err(PatternError::invalid()),
                }
            }
            _ => Err(PatternError::invalid()),
        }
    }

    /// The value after a comparison operator. Strings and regular expressions only take
    /// `=` and `!=`.
    fn literal(&mut self, op: Op) -> Result<Literal, PatternError> {
        let lit = match self.next() {
            Some(Tok::Quoted(s)) => Literal::Text(Glob::new(&s)),
            Some(Tok::Regex(r)) => {
                *self.regexes += 1;
                Literal::Regex(compile_regex(&r)?)
            }
            Some(Tok::Word(w)) => match parse_number(&w) {
                Some(n) => Literal::Number(n),
                None => Literal::Text(Glob::new(&w)),
            },
            _ => return Err(PatternError::invalid()),
        };
        if !matches!(lit, Literal::Number(_)) && !matches!(op, Op::Eq | Op::Ne) {
            return Err(PatternError::invalid());
        }
        Ok(lit)
    }

    fn field_or(&mut self) -> Result<FieldExpr, PatternError> {
        let mut left = self.field_and()?;
        while matches!(self.peek(), Some(Tok::Or)) {
            self.at += 1;
            let right = self.field_and()?;
            left = FieldExpr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn field_and(&mut self) -> Result<FieldExpr, PatternError> {
        let mut left = self.field_compare()?;
        while matches!(self.peek(), Some(Tok::And)) {
            self.at += 1;
            let right = self.field_compare()?;
            left = FieldExpr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn field_compare(&mut self) -> Result<FieldExpr, PatternError> {
        match self.next() {
            Some(Tok::Open) => {
                self.enter()?;
                let e = self.field_or()?;
                self.depth -= 1;
                match self.next() {
                    Some(Tok::Close) => Ok(e),
                    _ => Err(PatternError::invalid()),
                }
            }
            Some(Tok::Word(name)) if is_field_name(&name) => match self.next() {
                Some(Tok::Op(op)) => {
                    let lit = self.literal(op)?;
                    Ok(FieldExpr::Compare(name, op, lit))
                }
                _ => Err(PatternError::invalid()),
            },
            _ => Err(PatternError::invalid()),
        }
    }
}

fn parse_number(w: &str) -> Option<f64> {
    let first = w.chars().next()?;
    if !(first.is_ascii_digit() || first == '-' || first == '+' || first == '.') {
        return None;
    }
    w.parse::<f64>().ok().filter(|n| n.is_finite())
}

fn is_field_name(name: &str) -> bool {
    name.chars()
        .all(|c| c.is_alphanumeric() || c == '_' || c == '-' || c == '.')
        && name != "..."
}

/// `$.a.b[0]['c']` into segments.
fn parse_selector(text: &str) -> Result<Vec<Segment>, PatternError> {
    let rest = text.strip_prefix('$').ok_or_else(PatternError::invalid)?;
    let chars: Vec<char> = rest.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '.' => {
                i += 1;
                let start = i;
                while i < chars.len() && chars[i] != '.' && chars[i] != '[' {
                    i += 1;
                }
                let key: String = chars[start..i].iter().collect();
                if key.is_empty() {
                    return Err(PatternError::invalid());
                }
                out.push(if key == "*" {
                    Segment::Any
                } else {
                    Segment::Key(key)
                });
            }
            '[' => {
                let close = chars[i..]
                    .iter()
                    .position(|&c| c == ']')
                    .ok_or_else(PatternError::invalid)?
                    + i;
                let inside: String = chars[i + 1..close].iter().collect();
                let inside = inside.trim();
                if inside == "*" {
                    out.push(Segment::Any);
                } else if let Ok(n) = inside.parse::<usize>() {
                    out.push(Segment::Index(n));
                } else if let Some(k) = inside
                    .strip_prefix('\'')
                    .and_then(|s| s.strip_suffix('\''))
                    .or_else(|| inside.strip_prefix('"').and_then(|s| s.strip_suffix('"')))
                {
                    out.push(Segment::Key(k.to_owned()));
                } else {
                    return Err(PatternError::invalid());
                }
                i = close + 1;
            }
            _ => return Err(PatternError::invalid()),
        }
    }
    if out.is_empty() {
        return Err(PatternError::invalid());
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// JSON evaluation

/// Every value `path` selects in `doc` (more than one through `*`).
fn select<'a>(doc: &'a Json, path: &[Segment], out: &mut Vec<&'a Json>) {
    let Some((seg, rest)) = path.split_first() else {
        out.push(doc);
        return;
    };
    match (seg, doc) {
        (Segment::Key(k), Json::Object(m)) => {
            if let Some(v) = m.get(k) {
                select(v, rest, out);
            }
        }
        (Segment::Index(n), Json::Array(a)) => {
            if let Some(v) = a.get(*n) {
                select(v, rest, out);
            }
        }
        (Segment::Any, Json::Array(a)) => a.iter().for_each(|v| select(v, rest, out)),
        (Segment::Any, Json::Object(m)) => m.values().for_each(|v| select(v, rest, out)),
        _ => {}
    }
}

fn eval_json(expr: &JsonExpr, doc: &Json) -> bool {
    let selected = |path: &[Segment]| {
        let mut v = Vec::new();
        select(doc, path, &mut v);
        v
    };
    match expr {
        JsonExpr::And(a, b) => eval_json(a, doc) && eval_json(b, doc),
        JsonExpr::Or(a, b) => eval_json(a, doc) || eval_json(b, doc),
        JsonExpr::IsTrue(p) => selected(p).iter().any(|v| **v == Json::Bool(true)),
        JsonExpr::IsFalse(p) => selected(p).iter().any(|v| **v == Json::Bool(false)),
        JsonExpr::IsNull(p) => selected(p).iter().any(|v| v.is_null()),
        JsonExpr::NotExists(p) => selected(p).is_empty(),
        JsonExpr::Compare(p, op, lit) => selected(p).iter().any(|v| compare_json(v, *op, lit)),
    }
}

fn compare_json(v: &Json, op: Op, lit: &Literal) -> bool {
    match lit {
        Literal::Number(n) => match v.as_f64() {
            Some(x) => compare_numbers(x, op, *n),
            None => false,
        },
        Literal::Text(_) | Literal::Regex(_) => {
            let text = match v {
                Json::String(s) => s.clone(),
                Json::Number(n) => n.to_string(),
                Json::Bool(b) => b.to_string(),
                _ => return false,
            };
            compare_text(&text, op, lit)
        }
    }
}

fn compare_numbers(x: f64, op: Op, n: f64) -> bool {
    match op {
        Op::Eq => x == n,
        Op::Ne => x != n,
        Op::Lt => x < n,
        Op::Le => x <= n,
        Op::Gt => x > n,
        Op::Ge => x >= n,
    }
}

/// A string comparison (`=`/`!=` against a wildcard text or a regular expression), or a
/// numeric one when the literal is a number and the text reads as one.
fn compare_text(text: &str, op: Op, lit: &Literal) -> bool {
    let hit = match lit {
        Literal::Text(g) => g.matches(text),
        Literal::Regex(r) => r.is_match(text),
        Literal::Number(n) => {
            return text
                .parse::<f64>()
                .is_ok_and(|x| compare_numbers(x, op, *n));
        }
    };
    match op {
        Op::Eq => hit,
        Op::Ne => !hit,
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------
// Space-delimited

fn parse_delimited(inner: &str, regexes: &mut usize) -> Result<Vec<FieldSpec>, PatternError> {
    let tokens = lex(inner)?;
    let mut specs = Vec::new();
    for item in tokens.split(|t| matches!(t, Tok::Comma)) {
        match item {
            [] => return Err(PatternError::invalid()),
            // Consecutive ellipses mean what one does.
            [Tok::Word(w)] if w == "..." => {
                if !matches!(specs.last(), Some(FieldSpec::Ellipsis)) {
                    specs.push(FieldSpec::Ellipsis);
                }
            }
            [Tok::Word(w)] if is_field_name(w) => specs.push(FieldSpec::Named {
                name: w.clone(),
                condition: None,
            }),
            [Tok::Word(w), ..] if is_field_name(w) => {
                let mut p = Parser {
                    tokens: item.to_vec(),
                    at: 0,
                    regexes,
                    depth: 0,
                };
                let cond = p.field_or()?;
                if p.at != p.tokens.len() || !names_only(&cond, w) {
                    return Err(PatternError::invalid());
                }
                specs.push(FieldSpec::Named {
                    name: w.clone(),
                    condition: Some(cond),
                });
            }
            _ => return Err(PatternError::invalid()),
        }
    }
    if specs.is_empty() {
        return Err(PatternError::invalid());
    }
    Ok(specs)
}

/// The fields of a message: split on spaces, with double-quoted and bracketed text one
/// field each (without its quotes or brackets).
pub fn split_fields(message: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let bytes = message.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let close = match bytes[i] {
            b'"' => Some(b'"'),
            b'[' => Some(b']'),
            _ => None,
        };
        if let Some(close) = close
            && let Some(end) = bytes[i + 1..].iter().position(|&b| b == close)
        {
            out.push(&message[i + 1..i + 1 + end]);
            i += end + 2;
            continue;
        }
        let start = i;
        while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        out.push(&message[start..i]);
    }
    out
}

/// Matches specs to fields (`...` takes any number), binding named fields. Conditions
/// only look at their own field, so whether specs `si..` match fields `fi..` depends on
/// nothing else: failures are remembered, which keeps many ellipses linear, not
/// exponential.
fn align<'s, 'f>(
    specs: &'s [FieldSpec],
    fields: &[&'f str],
    bound: &mut Vec<(&'s str, &'f str)>,
) -> bool {
    let mut failed = vec![false; (specs.len() + 1) * (fields.len() + 1)];
    let mut failed_from = vec![usize::MAX; specs.len()];
    align_from(specs, fields, 0, 0, bound, &mut failed, &mut failed_from)
}

fn align_from<'s, 'f>(
    specs: &'s [FieldSpec],
    fields: &[&'f str],
    si: usize,
    fi: usize,
    bound: &mut Vec<(&'s str, &'f str)>,
    failed: &mut [bool],
    failed_from: &mut [usize],
) -> bool {
    let memo = si * (fields.len() + 1) + fi;
    if failed[memo] {
        return false;
    }
    let ok = match specs.get(si) {
        None => fi == fields.len(),
        Some(FieldSpec::Ellipsis) => {
            // An ellipsis that failed from field k fails from every later field too, and
            // the fields it tried then need no second try: stop where the last try began.
            let stop = failed_from[si].min(fields.len() + 1);
            let ok = (fi..stop)
                .any(|next| align_from(specs, fields, si + 1, next, bound, failed, failed_from));
            if !ok {
                failed_from[si] = fi;
            }
            ok
        }
        Some(FieldSpec::Named { name, condition }) => match fields.get(fi) {
            None => false,
            Some(value) => {
                condition.as_ref().is_none_or(|c| eval_field(c, value)) && {
                    bound.push((name, value));
                    let ok = align_from(specs, fields, si + 1, fi + 1, bound, failed, failed_from);
                    if !ok {
                        bound.pop();
                    }
                    ok
                }
            }
        },
    };
    if !ok {
        failed[memo] = true;
    }
    ok
}

fn eval_field(expr: &FieldExpr, value: &str) -> bool {
    match expr {
        FieldExpr::And(a, b) => eval_field(a, value) && eval_field(b, value),
        FieldExpr::Or(a, b) => eval_field(a, value) || eval_field(b, value),
        FieldExpr::Compare(_, op, lit) => compare_text(value, *op, lit),
    }
}

/// Whether every comparison of a field's condition names that field.
fn names_only(expr: &FieldExpr, name: &str) -> bool {
    match expr {
        FieldExpr::And(a, b) | FieldExpr::Or(a, b) => names_only(a, name) && names_only(b, name),
        FieldExpr::Compare(n, _, _) => n == name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, msg: &str) -> bool {
        Pattern::parse(p).unwrap().matches(msg)
    }

    #[test]
    fn empty_pattern_matches_everything() {
        assert!(m("", "anything"));
        assert!(m("   ", ""));
        assert!(m("\"\"", "x"));
    }

    #[test]
    fn terms_must_all_occur_case_sensitively() {
        assert!(m("ERROR", "an ERROR here"));
        assert!(!m("ERROR", "an error here"));
        assert!(m("ERROR Exception", "Exception then ERROR"));
        assert!(!m("ERROR Exception", "ERROR only"));
        assert!(m("\"disk full\"", "the disk full now"));
        assert!(!m("\"disk full\"", "the disk is full"));
        assert!(m("\"a:b\"", "x a:b y"));
    }

    #[test]
    fn optional_and_excluded_terms() {
        assert!(m("?ERROR ?WARN", "WARN x"));
        assert!(m("?ERROR ?WARN", "ERROR x"));
        assert!(!m("?ERROR ?WARN", "INFO x"));
        assert!(m("ERROR -Exiting", "ERROR now"));
        assert!(!m("ERROR -Exiting", "ERROR Exiting"));
        assert!(m("-DEBUG", "INFO"));
        assert!(!m("-\"DEBUG x\"", "a DEBUG x"));
    }

    #[test]
    fn unquoted_terms_with_symbols_are_refused() {
        assert_eq!(
            Pattern::parse("a:b").unwrap_err().0,
            "Invalid character(s) in term 'a:b'"
        );
        assert!(Pattern::parse("\"unclosed").is_err());
        assert!(Pattern::parse("ok_term1").is_ok());
    }

    #[test]
    fn regex_terms() {
        assert!(m("%ERR(OR)?-[0-9]+%", "x ERR-12"));
        assert!(m("%ERR(OR)?-[0-9]+%", "x ERROR-1"));
        assert!(!m("%ERR(OR)?-[0-9]+%", "x ERROR-"));
        assert!(Pattern::parse("%a% %b% %c%").is_err());
        assert!(Pattern::parse("%(?=x)%").is_err());
        assert!(Pattern::parse("%%").is_err());
    }

    #[test]
    fn json_comparisons() {
        let msg = r#"{"a":1,"b":"xyz","c":null,"d":true,"e":[10,{"f":"g"}],"n":{"m":2.5},"ip":"123.123.4.5"}"#;
        assert!(m("{ $.a = 1 }", msg));
        assert!(m("{$.a=1}", msg));
        assert!(!m("{ $.a = 2 }", msg));
        assert!(m("{ $.a != 2 }", msg));
        assert!(m("{ $.b = \"xyz\" }", msg));
        assert!(m("{ $.b = xyz }", msg));
        assert!(m("{ $.b = \"x*\" }", msg));
        assert!(m("{ $.b = *z }", msg));
        assert!(m("{ $.b != \"abc\" }", msg));
        assert!(!m("{ $.b != \"xyz\" }", msg));
        assert!(m("{ $.c IS NULL }", msg));
        assert!(!m("{ $.b IS NULL }", msg));
        assert!(m("{ $.d IS TRUE }", msg));
        assert!(m("{ $.zz NOT EXISTS }", msg));
        assert!(!m("{ $.a NOT EXISTS }", msg));
        assert!(m("{ $.e[0] > 5 }", msg));
        assert!(m("{ $.e[1].f = g }", msg));
        assert!(m("{ $.n.m >= 2.5 && $.n.m < 3 }", msg));
        assert!(m("{ $.n.m <= 2 || $.a = 1 }", msg));
        assert!(m("{ ($.a = 2 || $.a = 1) && $.b = xyz }", msg));
        assert!(!m("{ $.a = 1 && $.b = nope }", msg));
        assert!(m("{ $.ip != 124.* }", msg));
        assert!(m("{ $.ip = 123.123.* }", msg));
        assert!(m("{ $.b = %x.z% }", msg));
        assert!(m("{ $.a = 1e0 }", msg));
        assert!(m("{ $.e[*] = 10 }", msg));
        assert!(!m("{ $.a = 1 }", "not json"));
    }

    #[test]
    fn bad_json_patterns_are_refused() {
        for p in [
            "{ $.a = }",
            "{ $.a }",
            "{ a = 1 }",
            "{ $.a = 1",
            "{ $.a = 1 && }",
            "{ $.a > \"x\" }",
            "{ $.a IS MAYBE }",
            "{ ($.a = 1 }",
        ] {
            assert!(Pattern::parse(p).is_err(), "{p} should be refused");
        }
    }

    #[test]
    fn space_delimited_fields() {
        let line = r#"127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /apache_pb.gif HTTP/1.0" 404 2326"#;
        let p = "[ip, user, username, timestamp, request, status_code, bytes]";
        let found = Pattern::parse(p).unwrap().find(line).unwrap();
        assert_eq!(
            found.fields[3],
            ("timestamp".into(), "10/Oct/2000:13:25:15 -0700".into())
        );
        assert_eq!(
            found.fields[4],
            ("request".into(), "GET /apache_pb.gif HTTP/1.0".into())
        );
        assert!(m("[ip, user, ..., status_code = 4*, bytes > 1000]", line));
        assert!(!m("[ip, user, ..., status_code = 5*, bytes > 1000]", line));
        assert!(!m("[ip, user, ..., status_code = 4*, bytes > 3000]", line));
        assert!(m(
            "[..., status_code = 404 || status_code = 410, bytes]",
            line
        ));
        assert!(m("[ip = 127.*, ...]", line));
        assert!(m("[..., request = %GET /apache%, status, bytes]", line));
        assert!(m("[a, b != x, ...]", line));
        assert!(!m("[a, b]", line), "field counts must agree without ...");
        assert!(m("[..., bytes >= 2326 && bytes <= 2326]", line));
        let t = Pattern::parse("[w1, ..., w3]")
            .unwrap()
            .find("a b c d")
            .unwrap();
        assert_eq!(
            t.fields,
            vec![("w1".into(), "a".into()), ("w3".into(), "d".into())]
        );
    }

    #[test]
    fn many_ellipses_stay_fast_and_nesting_is_bounded() {
        let p = Pattern::parse(&format!("[{}z = 1]", "..., a, ".repeat(40))).unwrap();
        let msg = "x ".repeat(2000);
        let t = std::time::Instant::now();
        assert!(!p.matches(&msg));
        assert!(t.elapsed().as_secs() < 2, "{:?}", t.elapsed());
        let deep = format!("{{ {}$.a = 1{} }}", "(".repeat(100), ")".repeat(100));
        assert!(Pattern::parse(&deep).is_err());
        let ok = format!("{{ {}$.a = 1{} }}", "(".repeat(10), ")".repeat(10));
        assert!(Pattern::parse(&ok).unwrap().matches(r#"{"a":1}"#));
    }

    #[test]
    fn bad_delimited_patterns_are_refused() {
        for p in [
            "[",
            "[a,,b]",
            "[a = ]",
            "[a > x]",
            "[]",
            "[a b]",
            "[a, b = 1 || a = 2]",
        ] {
            assert!(Pattern::parse(p).is_err(), "{p} should be refused");
        }
    }

    #[test]
    fn globs() {
        assert!(Glob::new("a*c").matches("abc"));
        assert!(Glob::new("a*c").matches("ac"));
        assert!(!Glob::new("a*c").matches("a"));
        assert!(Glob::new("*").matches(""));
        assert!(Glob::new("a*b*c").matches("a1b2c"));
        assert!(!Glob::new("a*b*c").matches("acb"));
        assert!(!Glob::new("ab*ab").matches("ab"));
    }
}
