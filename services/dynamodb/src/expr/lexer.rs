//! Tokens of the expression languages, with their byte spans for AWS's `near:` texts.

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// A bare identifier: attribute name, keyword or function name.
    Ident(String),
    /// `#name`
    NameRef(String),
    /// `:value`
    ValueRef(String),
    /// A run of digits (list indexes).
    Number(String),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Dot,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Plus,
    Minus,
    Eof,
}

#[derive(Debug, Clone)]
pub struct Token {
    pub tok: Tok,
    pub start: usize,
    pub end: usize,
}

/// A character no token starts with; reported like a syntax error at that character.
#[derive(Debug)]
pub struct BadChar {
    pub start: usize,
    pub end: usize,
}

fn ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

pub fn lex(src: &str) -> Result<Vec<Token>, BadChar> {
    let mut out = Vec::new();
    let chars: Vec<(usize, char)> = src.char_indices().collect();
    let mut i = 0;
    let end_of = |i: usize| chars.get(i).map_or(src.len(), |c| c.0);
    while i < chars.len() {
        let (pos, c) = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let single = match c {
            '(' => Some(Tok::LParen),
            ')' => Some(Tok::RParen),
            '[' => Some(Tok::LBracket),
            ']' => Some(Tok::RBracket),
            ',' => Some(Tok::Comma),
            '.' => Some(Tok::Dot),
            '=' => Some(Tok::Eq),
            '+' => Some(Tok::Plus),
            '-' => Some(Tok::Minus),
            _ => None,
        };
        if let Some(tok) = single {
            out.push(Token {
                tok,
                start: pos,
                end: end_of(i + 1),
            });
            i += 1;
            continue;
        }
        let next = chars.get(i + 1).map(|c| c.1);
        match c {
            '<' | '>' => {
                let (tok, len) = match (c, next) {
                    ('<', Some('>')) => (Tok::Ne, 2),
                    ('<', Some('=')) => (Tok::Le, 2),
                    ('>', Some('=')) => (Tok::Ge, 2),
                    ('<', _) => (Tok::Lt, 1),
                    _ => (Tok::Gt, 1),
                };
                out.push(Token {
                    tok,
                    start: pos,
                    end: end_of(i + len),
                });
                i += len;
            }
            '#' | ':' => {
                let mut j = i + 1;
                while j < chars.len() && ident_char(chars[j].1) {
                    j += 1;
                }
                if j == i + 1 {
                    return Err(BadChar {
                        start: pos,
                        end: end_of(i + 1),
                    });
                }
                let text = src[pos..end_of(j)].to_owned();
                let tok = if c == '#' {
                    Tok::NameRef(text)
                } else {
                    Tok::ValueRef(text)
                };
                out.push(Token {
                    tok,
                    start: pos,
                    end: end_of(j),
                });
                i = j;
            }
            c if c.is_ascii_digit() => {
                let mut j = i;
                while j < chars.len() && chars[j].1.is_ascii_digit() {
                    j += 1;
                }
                // Digits followed by letters form an identifier-like token (`1abc`),
                // which AWS rejects as a syntax error at that token.
                let mut k = j;
                while k < chars.len() && ident_char(chars[k].1) {
                    k += 1;
                }
                let text = src[pos..end_of(k)].to_owned();
                let tok = if k == j {
                    Tok::Number(text)
                } else {
                    Tok::Ident(text)
                };
                out.push(Token {
                    tok,
                    start: pos,
                    end: end_of(k),
                });
                i = k;
            }
            c if ident_char(c) => {
                let mut j = i;
                while j < chars.len() && ident_char(chars[j].1) {
                    j += 1;
                }
                out.push(Token {
                    tok: Tok::Ident(src[pos..end_of(j)].to_owned()),
                    start: pos,
                    end: end_of(j),
                });
                i = j;
            }
            _ => {
                return Err(BadChar {
                    start: pos,
                    end: end_of(i + 1),
                });
            }
        }
    }
    out.push(Token {
        tok: Tok::Eof,
        start: src.len(),
        end: src.len(),
    });
    Ok(out)
}
