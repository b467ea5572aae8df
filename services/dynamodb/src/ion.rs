//! The Amazon Ion text subset that DynamoDB exports and imports: one `$ion_1_0 {Item:{..}}`
//! value per item, strings, decimals (`103.`, `6d2`), ints, floats, blobs (`{{base64}}`),
//! bools, nulls, lists, structs, and sets as lists annotated `$dynamodb_SS`, `$dynamodb_NS`
//! or `$dynamodb_BS`. Comments, quoted and long strings, and quoted symbols are read too.

use crate::attr::{Attr, Item};
use crate::number::Decimal;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq)]
enum Ion {
    Null,
    Bool(bool),
    /// An int, decimal or float, as DynamoDB number text.
    Number(String),
    String(String),
    Symbol(String),
    Blob(Vec<u8>),
    List(Vec<(Vec<String>, Ion)>),
    Struct(Vec<(String, Vec<String>, Ion)>),
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
}

type Res<T> = Result<T, String>;

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b == b'$'
}

fn is_ident(b: u8) -> bool {
    is_ident_start(b) || b.is_ascii_digit()
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        loop {
            match self.peek() {
                Some(b) if b.is_ascii_whitespace() => self.pos += 1,
                Some(b'/') if self.s.get(self.pos + 1) == Some(&b'/') => {
                    while self.peek().is_some_and(|b| b != b'\n') {
                        self.pos += 1;
                    }
                }
                Some(b'/') if self.s.get(self.pos + 1) == Some(&b'*') => {
                    self.pos += 2;
                    while self.pos < self.s.len() && !self.s[self.pos..].starts_with(b"*/") {
                        self.pos += 1;
                    }
                    self.pos = (self.pos + 2).min(self.s.len());
                }
                _ => return,
            }
        }
    }

    fn expect(&mut self, b: u8) -> Res<()> {
        self.skip_ws();
        if self.peek() == Some(b) {
            self.pos += 1;
            Ok(())
        } else {
            Err(format!("expected '{}' at offset {}", b as char, self.pos))
        }
    }

    /// A quoted text ending at `quote`, with Ion's escapes.
    fn quoted(&mut self, quote: u8) -> Res<String> {
        let mut out = Vec::new();
        loop {
            let Some(b) = self.peek() else {
                return Err("unterminated string".into());
            };
            self.pos += 1;
            if b == quote {
                break;
            }
            if b != b'\\' {
                out.push(b);
                continue;
            }
            let Some(e) = self.peek() else {
                return Err("unterminated escape".into());
            };
            self.pos += 1;
            let simple = match e {
                b'n' => Some(b'\n'),
                b't' => Some(b'\t'),
                b'r' => Some(b'\r'),
                b'0' => Some(0),
                b'a' => Some(7),
                b'b' => Some(8),
                b'f' => Some(12),
                b'v' => Some(11),
                b'"' | b'\'' | b'\\' | b'/' | b'?' => Some(e),
                b'\n' => continue,
                _ => None,
            };
            if let Some(c) = simple {
                out.push(c);
                continue;
            }
            let n = match e {
                b'x' => 2,
                b'u' => 4,
                b'U' => 8,
                _ => return Err(format!("invalid escape \\{}", e as char)),
            };
            let hex = self
                .s
                .get(self.pos..self.pos + n)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .and_then(char::from_u32)
                .ok_or("invalid escape")?;
            self.pos += n;
            let mut buf = [0u8; 4];
            out.extend_from_slice(hex.encode_utf8(&mut buf).as_bytes());
        }
        String::from_utf8(out).map_err(|_| "invalid UTF-8 in a string".to_owned())
    }

    /// A symbol (identifier or quoted) or None.
    fn symbol(&mut self) -> Res<Option<String>> {
        self.skip_ws();
        match self.peek() {
            Some(b'\'') if !self.s[self.pos..].starts_with(b"'''") => {
                self.pos += 1;
                Ok(Some(self.quoted(b'\'')?))
            }
            Some(b) if is_ident_start(b) => {
                let start = self.pos;
                while self.peek().is_some_and(is_ident) {
                    self.pos += 1;
                }
                Ok(Some(
                    String::from_utf8_lossy(&self.s[start..self.pos]).into_owned(),
                ))
            }
            _ => Ok(None),
        }
    }

    /// Annotations then a value.
    fn annotated(&mut self) -> Res<(Vec<String>, Ion)> {
        let mut annotations = Vec::new();
        loop {
            self.skip_ws();
            let save = self.pos;
            if let Some(sym) = self.symbol()? {
                self.skip_ws();
                if self.s[self.pos..].starts_with(b"::") {
                    self.pos += 2;
                    annotations.push(sym);
                    continue;
                }
                self.pos = save;
            }
            return Ok((annotations, self.value()?));
        }
    }

    fn value(&mut self) -> Res<Ion> {
        self.skip_ws();
        let Some(b) = self.peek() else {
            return Err("unexpected end of data".into());
        };
        match b {
            b'"' => {
                self.pos += 1;
                Ok(Ion::String(self.quoted(b'"')?))
            }
            b'\'' if self.s[self.pos..].starts_with(b"'''") => {
                // Adjacent long strings concatenate.
                let mut out = String::new();
                loop {
                    self.skip_ws();
                    if !self.s[self.pos..].starts_with(b"'''") {
                        break;
                    }
                    self.pos += 3;
                    let start = self.pos;
                    let end = self.s[start..]
                        .windows(3)
                        .position(|w| w == b"'''")
                        .ok_or("unterminated long string")?;
                    // 0xFF never occurs in UTF-8, so it can end the text for `quoted`.
                    let mut text = self.s[start..start + end].to_vec();
                    text.push(0xFF);
                    let mut inner = Parser { s: &text, pos: 0 };
                    out.push_str(&inner.quoted(0xFF)?);
                    self.pos = start + end + 3;
                }
                Ok(Ion::String(out))
            }
            b'[' => {
                self.pos += 1;
                let mut items = Vec::new();
                loop {
                    self.skip_ws();
                    if self.peek() == Some(b']') {
                        self.pos += 1;
                        break;
                    }
                    items.push(self.annotated()?);
                    self.skip_ws();
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(b']') => {}
                        _ => return Err(format!("expected ',' or ']' at offset {}", self.pos)),
                    }
                }
                Ok(Ion::List(items))
            }
            b'{' if self.s.get(self.pos + 1) == Some(&b'{') => {
                self.pos += 2;
                let start = self.pos;
                let end = self.s[start..]
                    .windows(2)
                    .position(|w| w == b"}}")
                    .ok_or("unterminated blob")?;
                let text: String = String::from_utf8_lossy(&self.s[start..start + end])
                    .chars()
                    .filter(|c| !c.is_whitespace())
                    .collect();
                self.pos = start + end + 2;
                if text.starts_with('"') || text.starts_with("'''") {
                    return Err("clobs are not DynamoDB values".into());
                }
                crate::s3io::unb64(&text)
                    .map(Ion::Blob)
                    .ok_or_else(|| "invalid base64 in a blob".into())
            }
            b'{' => {
                self.pos += 1;
                let mut fields = Vec::new();
                loop {
                    self.skip_ws();
                    if self.peek() == Some(b'}') {
                        self.pos += 1;
                        break;
                    }
                    let name = match self.peek() {
                        Some(b'"') => {
                            self.pos += 1;
                            self.quoted(b'"')?
                        }
                        _ => self.symbol()?.ok_or_else(|| {
                            format!("expected a field name at offset {}", self.pos)
                        })?,
                    };
                    self.expect(b':')?;
                    let (ann, v) = self.annotated()?;
                    fields.push((name, ann, v));
                    self.skip_ws();
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(b'}') => {}
                        _ => return Err(format!("expected ',' or '}}' at offset {}", self.pos)),
                    }
                }
                Ok(Ion::Struct(fields))
            }
            b'(' => Err("s-expressions are not DynamoDB values".into()),
            b'-' | b'+' | b'0'..=b'9' | b'.' => self.number(),
            _ => {
                let Some(sym) = self.symbol()? else {
                    return Err(format!("unexpected '{}' at offset {}", b as char, self.pos));
                };
                match sym.as_str() {
                    "true" => Ok(Ion::Bool(true)),
                    "false" => Ok(Ion::Bool(false)),
                    "null" => {
                        // Typed nulls (null.string, ...) are nulls too.
                        if self.peek() == Some(b'.') {
                            self.pos += 1;
                            self.symbol()?;
                        }
                        Ok(Ion::Null)
                    }
                    "nan" => Err("nan is not a DynamoDB number".into()),
                    _ => Ok(Ion::Symbol(sym)),
                }
            }
        }
    }

    fn number(&mut self) -> Res<Ion> {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'+' | b'_'))
        {
            self.pos += 1;
        }
        let raw: String = String::from_utf8_lossy(&self.s[start..self.pos])
            .chars()
            .filter(|c| *c != '_')
            .collect();
        if raw == "+inf" || raw == "-inf" {
            return Err("infinity is not a DynamoDB number".into());
        }
        let b = raw.as_bytes();
        let date_dash =
            (1..b.len()).any(|i| b[i] == b'-' && !matches!(b[i - 1], b'e' | b'E' | b'd' | b'D'));
        if raw.contains('T') || date_dash {
            return Err("timestamps are not DynamoDB values".into());
        }
        let (neg, body) = match raw.strip_prefix('-') {
            Some(b) => (true, b),
            None => (false, raw.as_str()),
        };
        let radix = match body.get(..2) {
            Some("0x") | Some("0X") => Some(16),
            Some("0b") | Some("0B") => Some(2),
            _ => None,
        };
        let text = match radix {
            Some(r) => {
                let n = u128::from_str_radix(&body[2..], r)
                    .map_err(|_| format!("invalid number {raw}"))?;
                format!("{}{n}", if neg { "-" } else { "" })
            }
            None => raw.replace(['d', 'D'], "E"),
        };
        Decimal::parse(&text).map_err(|_| format!("invalid number {raw}"))?;
        Ok(Ion::Number(text))
    }
}

fn to_attr(ann: &[String], v: Ion) -> Res<Attr> {
    let set = ann.iter().find(|a| a.starts_with("$dynamodb_"));
    if let Some(kind) = set {
        let Ion::List(items) = v else {
            return Err(format!("{kind} annotates a list"));
        };
        let mut out = Vec::new();
        for (_, x) in items {
            out.push(to_attr(&[], x)?);
        }
        return match kind.as_str() {
            "$dynamodb_SS" => out
                .into_iter()
                .map(|a| match a {
                    Attr::S(s) => Ok(s),
                    _ => Err("a $dynamodb_SS member is not a string".to_owned()),
                })
                .collect::<Res<Vec<_>>>()
                .map(Attr::SS),
            "$dynamodb_NS" => out
                .into_iter()
                .map(|a| match a {
                    Attr::N(n) => Ok(n),
                    _ => Err("a $dynamodb_NS member is not a number".to_owned()),
                })
                .collect::<Res<Vec<_>>>()
                .map(Attr::NS),
            "$dynamodb_BS" => out
                .into_iter()
                .map(|a| match a {
                    Attr::B(b) => Ok(b),
                    _ => Err("a $dynamodb_BS member is not a blob".to_owned()),
                })
                .collect::<Res<Vec<_>>>()
                .map(Attr::BS),
            other => Err(format!("unknown annotation {other}")),
        };
    }
    Ok(match v {
        Ion::Null => Attr::Null,
        Ion::Bool(b) => Attr::Bool(b),
        Ion::Number(n) => Attr::N(Decimal::parse(&n)?),
        Ion::String(s) => Attr::S(s),
        Ion::Symbol(s) => return Err(format!("the symbol {s} is not a DynamoDB value")),
        Ion::Blob(b) => Attr::B(b),
        Ion::List(items) => Attr::L(
            items
                .into_iter()
                .map(|(a, x)| to_attr(&a, x))
                .collect::<Res<Vec<_>>>()?,
        ),
        Ion::Struct(fields) => {
            let mut m = BTreeMap::new();
            for (k, a, x) in fields {
                m.insert(k, to_attr(&a, x)?);
            }
            Attr::M(m)
        }
    })
}

/// One export line: the version marker and the item, as DynamoDB writes Ion exports.
pub fn item_line(item: &Item, out: &mut String) {
    out.push_str("$ion_1_0 {Item:");
    write_struct(item, out);
    out.push_str("}\n");
}

fn write_string(s: &str, out: &mut String) {
    // JSON's string escapes are valid Ion.
    out.push_str(&serde_json::Value::from(s).to_string());
}

fn write_number(n: &Decimal, out: &mut String) {
    // A decimal point keeps the value an Ion decimal (a bare `103` would be an int).
    let text = n.to_string();
    out.push_str(&text);
    if !text.contains('.') {
        out.push('.');
    }
}

fn write_blob(b: &[u8], out: &mut String) {
    out.push_str("{{");
    out.push_str(&crate::s3io::b64(b));
    out.push_str("}}");
}

fn write_struct(m: &Item, out: &mut String) {
    out.push('{');
    for (i, (k, v)) in m.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_string(k, out);
        out.push(':');
        write_value(v, out);
    }
    out.push('}');
}

fn write_list<T>(annotation: &str, items: &[T], out: &mut String, f: impl Fn(&T, &mut String)) {
    out.push_str(annotation);
    out.push('[');
    for (i, x) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        f(x, out);
    }
    out.push(']');
}

fn write_value(a: &Attr, out: &mut String) {
    match a {
        Attr::S(s) => write_string(s, out),
        Attr::N(n) => write_number(n, out),
        Attr::B(b) => write_blob(b, out),
        Attr::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Attr::Null => out.push_str("null"),
        Attr::SS(v) => write_list("$dynamodb_SS::", v, out, |s, o| write_string(s, o)),
        Attr::NS(v) => write_list("$dynamodb_NS::", v, out, write_number),
        Attr::BS(v) => write_list("$dynamodb_BS::", v, out, |b, o| write_blob(b, o)),
        Attr::L(v) => write_list("", v, out, write_value),
        Attr::M(m) => write_struct(m, out),
    }
}

/// The items of an Ion import file. Returns (items, errors): a value that is not an item
/// is one error; a syntax error is one error and ends the file (AWS skips the rest of a
/// malformed object).
pub fn items(text: &[u8]) -> (Vec<Item>, i64) {
    let mut p = Parser { s: text, pos: 0 };
    let mut out = Vec::new();
    let mut errors = 0;
    loop {
        p.skip_ws();
        if p.peek().is_none() {
            break;
        }
        match p.annotated() {
            // The version marker and other top-level symbols carry no data.
            Ok((_, Ion::Symbol(_))) => {}
            Ok((_, Ion::Struct(fields))) => {
                let item = fields
                    .into_iter()
                    .find(|f| f.0 == "Item")
                    .ok_or_else(|| "no Item field".to_owned())
                    .and_then(|(_, a, v)| to_attr(&a, v));
                match item {
                    Ok(Attr::M(m)) => out.push(m),
                    _ => errors += 1,
                }
            }
            Ok(_) => errors += 1,
            Err(_) => {
                errors += 1;
                break;
            }
        }
    }
    (out, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Attr {
        Attr::N(Decimal::parse(s).unwrap())
    }

    #[test]
    fn reads_the_documented_export_line() {
        let src = br#"$ion_1_0 {
            Item:{
                Authors:$dynamodb_SS::["Author1","Author2"],
                Dimensions:"8.5 x 11.0 x 1.5",
                Id:103.,
                InPublication:false,
                PageCount:6d2,
                Price:2d3,
                'quoted name':'''long ''' '''string''',
                Bin:{{aGVsbG8=}},
                Nums:$dynamodb_NS::[1.5, 0x10],
                Bins:$dynamodb_BS::[{{AA==}}],
                Nothing:null,
                L:[1, "a", {m: true}], // a comment
                /* another */ Neg:-1.25e1
            }
        }
        $ion_1_0 {Item:{Id:104.}}"#;
        let (items, errors) = items(src);
        assert_eq!(errors, 0);
        assert_eq!(items.len(), 2);
        let i = &items[0];
        assert_eq!(
            i["Authors"],
            Attr::SS(vec!["Author1".into(), "Author2".into()])
        );
        assert_eq!(i["Id"], n("103"));
        assert_eq!(i["PageCount"], n("600"));
        assert_eq!(i["Price"], n("2000"));
        assert_eq!(i["InPublication"], Attr::Bool(false));
        assert_eq!(i["quoted name"], Attr::S("long string".into()));
        assert_eq!(i["Bin"], Attr::B(b"hello".to_vec()));
        assert_eq!(
            i["Nums"],
            Attr::NS(vec![
                Decimal::parse("1.5").unwrap(),
                Decimal::parse("16").unwrap()
            ])
        );
        assert_eq!(i["Bins"], Attr::BS(vec![vec![0]]));
        assert_eq!(i["Nothing"], Attr::Null);
        assert_eq!(i["Neg"], n("-12.5"));
        assert!(matches!(&i["L"], Attr::L(l) if l.len() == 3));
        assert_eq!(items[1]["Id"], n("104"));
    }

    #[test]
    fn export_lines_read_back() {
        let (src, _) = items(
            br#"$ion_1_0 {Item:{a:"x\"y",n:6d2,f:-0.5,b:{{AQI=}},ss:$dynamodb_SS::["p"],ns:$dynamodb_NS::[1.],bs:$dynamodb_BS::[{{AA==}}],l:[null,true],m:{'k k':"v"}}}"#,
        );
        let mut text = String::new();
        item_line(&src[0], &mut text);
        assert!(text.starts_with("$ion_1_0 {Item:{"), "{text}");
        assert!(text.contains("\"n\":600."), "{text}");
        let (back, errors) = items(text.as_bytes());
        assert_eq!((back, errors), (src, 0));
    }

    #[test]
    fn malformed_input_counts_errors_and_stops() {
        let (items, errors) = items(b"$ion_1_0 {Item:{a:1}} $ion_1_0 {Item:{b:(x)}} {Item:{c:1}}");
        assert_eq!((items.len(), errors), (1, 1));
        let (items, errors) =
            items_of(b"{NotItem:{a:1}} {Item:{a:\"x\"}} {Item:{a:\"unterminated}}");
        assert_eq!((items, errors), (1, 2));
        let (items, errors) = items_of(b"\x00\x01garbage");
        assert_eq!((items, errors), (0, 1));
    }

    fn items_of(b: &[u8]) -> (usize, i64) {
        let (i, e) = items(b);
        (i.len(), e)
    }
}
