//! Policy variables (`${aws:username}`, `${aws:PrincipalTag/team, 'default'}`) and the
//! escapes `${*}`, `${?}`, `${$}`, compiled once into a [`Template`] and resolved against
//! a request's [`Context`] without allocating (up to eight parts on the stack).
//!
//! Semantics from <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html>:
//! variables exist only in documents of `Version` 2012-10-17 (elsewhere `${...}` is
//! literal text); a variable whose key has no single value (absent, or multivalued,
//! which cannot be a variable) leaves its value matching nothing, unless it names a
//! default; substituted values and escapes are literal, never wildcards.

use crate::context::Context;
use crate::matching::{self, Piece};

#[derive(Debug, Clone)]
enum Part {
    /// Policy text: `*`/`?` are wildcards where the operator has them.
    Text(String),
    /// An escape's character or other text that is never a wildcard.
    Literal(String),
    Var {
        key: String,
        default: Option<String>,
    },
}

/// A policy string with its variables located.
#[derive(Debug, Clone)]
pub(crate) struct Template {
    parts: Vec<Part>,
    has_vars: bool,
    /// Colons in the text when it has no variables (ARN matching needs the count).
    colons: usize,
    /// The whole text when it is one plain part (the common case: no resolution).
    plain: Option<String>,
}

impl Template {
    /// `vars`: whether the document's version supports variables.
    pub fn parse(s: &str, vars: bool) -> Template {
        let mut parts = Vec::new();
        if vars {
            let mut rest = s;
            let mut text = String::new();
            while let Some(i) = rest.find("${") {
                let Some(close) = rest[i + 2..].find('}') else {
                    break;
                };
                text.push_str(&rest[..i]);
                let inner = &rest[i + 2..i + 2 + close];
                match inner {
                    "*" | "?" | "$" => {
                        flush(&mut parts, &mut text);
                        parts.push(Part::Literal(inner.to_owned()));
                    }
                    _ => {
                        let (key, default) = match inner.split_once(',') {
                            Some((k, d)) => {
                                let d = d.trim();
                                match d.strip_prefix('\'').and_then(|d| d.strip_suffix('\'')) {
                                    Some(d) => (k.trim(), Some(d.to_owned())),
                                    // Not the `${key, 'default'}` form: AWS's parser
                                    // would take it as a (missing) key name.
                                    None => (inner.trim(), None),
                                }
                            }
                            None => (inner.trim(), None),
                        };
                        flush(&mut parts, &mut text);
                        parts.push(Part::Var {
                            key: key.to_owned(),
                            default,
                        });
                    }
                }
                rest = &rest[i + 2 + close + 1..];
            }
            text.push_str(rest);
            flush(&mut parts, &mut text);
        } else if !s.is_empty() {
            parts.push(Part::Text(s.to_owned()));
        }
        let has_vars = parts.iter().any(|p| matches!(p, Part::Var { .. }));
        let plain = match parts.as_slice() {
            [] => Some(String::new()),
            [Part::Text(t)] => Some(t.clone()),
            _ => None,
        };
        let colons = s.bytes().filter(|&b| b == b':').count();
        Template {
            parts,
            has_vars,
            colons,
            plain,
        }
    }

    /// The text when it is plain policy text (no variables, no escapes).
    pub fn plain(&self) -> Option<&str> {
        self.plain.as_deref()
    }

    /// Whether the template is only literal text: its exact value when so.
    #[cfg(test)]
    pub fn literal_value(&self) -> Option<String> {
        if self.has_vars {
            return None;
        }
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) | Part::Literal(t) => out.push_str(t),
                Part::Var { .. } => return None,
            }
        }
        Some(out)
    }

    pub fn has_vars(&self) -> bool {
        self.has_vars
    }

    /// Pieces of the template with no variables, as wildcard/literal text.
    pub fn static_pieces(&self) -> Vec<(String, bool)> {
        self.parts
            .iter()
            .filter_map(|p| match p {
                Part::Text(t) => Some((t.clone(), true)),
                Part::Literal(t) => Some((t.clone(), false)),
                Part::Var { .. } => None,
            })
            .collect()
    }

    pub fn colons(&self) -> usize {
        self.colons
    }

    /// The keys its variables read, in order.
    pub fn var_keys(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Var { key, .. } => Some(key.as_str()),
            _ => None,
        })
    }

    /// Runs `f` on the resolved pieces; `None` when a variable has no value (the value
    /// then matches nothing). Variables missing from the context are reported to
    /// `missing`.
    pub fn with_pieces<'t, R>(
        &'t self,
        ctx: &Context,
        missing: &mut dyn FnMut(&'t str),
        f: impl FnOnce(&[Piece]) -> R,
    ) -> Option<R> {
        let mut stack = [Piece {
            text: "",
            wild: false,
        }; 8];
        let mut heap = Vec::new();
        let n = self.parts.len();
        let buf: &mut [Piece] = if n <= stack.len() {
            &mut stack[..n]
        } else {
            heap.resize(
                n,
                Piece {
                    text: "",
                    wild: false,
                },
            );
            &mut heap
        };
        let mut ok = true;
        for (slot, part) in buf.iter_mut().zip(&self.parts) {
            *slot = match part {
                Part::Text(t) => Piece {
                    text: t,
                    wild: true,
                },
                Part::Literal(t) => Piece {
                    text: t,
                    wild: false,
                },
                Part::Var { key, default } => match ctx.get(key) {
                    Some([v]) => Piece {
                        text: v,
                        wild: false,
                    },
                    got => {
                        if got.is_none() {
                            missing(key);
                        }
                        match default {
                            Some(d) => Piece {
                                text: d,
                                wild: false,
                            },
                            None => {
                                ok = false;
                                Piece {
                                    text: "",
                                    wild: false,
                                }
                            }
                        }
                    }
                },
            };
        }
        ok.then(|| f(buf))
    }

    /// Exact equality with `value` (`fold`: ASCII case-insensitive).
    pub fn equals<'t>(
        &'t self,
        value: &str,
        fold: bool,
        ctx: &Context,
        missing: &mut dyn FnMut(&'t str),
    ) -> bool {
        if let Some(p) = &self.plain {
            return p == value
                || (fold
                    && (p.eq_ignore_ascii_case(value)
                        || (!(p.is_ascii() && value.is_ascii())
                            && p.to_lowercase() == value.to_lowercase())));
        }
        self.with_pieces(ctx, missing, |pieces| {
            matching::pieces_eq(pieces, value, fold)
        })
        .unwrap_or(false)
    }
}

/// A compiled `Action` or `Resource` value, with fast forms for the common shapes
/// (`*`, no wildcard, one trailing `*`).
#[derive(Debug, Clone)]
pub(crate) enum Pattern {
    Any,
    Exact(String),
    Prefix(String),
    /// Anything else; `head` and `tail` are the literal text before the first and
    /// after the last wildcard (when there are no variables), which every match starts
    /// and ends with: most non-matching resources fail there, without matching.
    General {
        t: Template,
        head: String,
        tail: String,
    },
}

impl Pattern {
    pub fn compile(t: Template) -> Pattern {
        if t.has_vars() {
            return Pattern::General {
                t,
                head: String::new(),
                tail: String::new(),
            };
        }
        let pieces = t.static_pieces();
        let wilds: usize = pieces
            .iter()
            .filter(|(_, wild)| *wild)
            .map(|(s, _)| s.bytes().filter(|&b| b == b'*' || b == b'?').count())
            .sum();
        let text: String = pieces.iter().map(|(s, _)| s.as_str()).collect();
        match (wilds, pieces.last()) {
            (0, _) => Pattern::Exact(text),
            // ARN matching needs nothing more for a trailing `*`: a prefix holding five
            // colons puts the `*` in the resource part, where it may cross colons, and a
            // shorter one is matched as plain text anyway.
            (1, Some((last, true))) if last.ends_with('*') => {
                let prefix = &text[..text.len() - 1];
                if prefix.is_empty() {
                    Pattern::Any
                } else {
                    Pattern::Prefix(prefix.to_owned())
                }
            }
            _ => {
                let is_wild = |b: u8| b == b'*' || b == b'?';
                let mut head = String::new();
                for (s, wild) in &pieces {
                    match s.bytes().position(is_wild).filter(|_| *wild) {
                        Some(i) => {
                            head.push_str(&s[..i]);
                            break;
                        }
                        None => head.push_str(s),
                    }
                }
                let mut tail = String::new();
                for (s, wild) in pieces.iter().rev() {
                    match s.bytes().rposition(is_wild).filter(|_| *wild) {
                        Some(i) => {
                            tail.insert_str(0, &s[i + 1..]);
                            break;
                        }
                        None => tail.insert_str(0, s),
                    }
                }
                Pattern::General { t, head, tail }
            }
        }
    }

    /// For an action pattern: the service prefix every action it matches has, when
    /// the pattern spells it out (`s3` of `s3:Get*`; none for `*` or `s3*:Get`).
    pub fn vendor(&self) -> Option<&str> {
        let literal = match self {
            Pattern::Any => return None,
            Pattern::Exact(e) => return Some(e.split(':').next().unwrap_or(e)),
            Pattern::Prefix(p) => p,
            Pattern::General { head, .. } => head,
        };
        literal.split_once(':').map(|(v, _)| v)
    }

    pub fn var_keys(&self) -> impl Iterator<Item = &str> {
        let t = match self {
            Pattern::General { t, .. } => Some(t),
            _ => None,
        };
        t.into_iter().flat_map(Template::var_keys)
    }

    /// `Action` matching: case-insensitive, no variables.
    #[inline]
    pub fn matches_action(&self, action: &str) -> bool {
        match self {
            Pattern::Any => true,
            Pattern::Exact(e) => e.eq_ignore_ascii_case(action),
            Pattern::Prefix(p) => action
                .as_bytes()
                .get(..p.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(p.as_bytes())),
            Pattern::General { t, head, tail } => {
                let b = action.as_bytes();
                b.len() >= head.len() + tail.len()
                    && b[..head.len()].eq_ignore_ascii_case(head.as_bytes())
                    && b[b.len() - tail.len()..].eq_ignore_ascii_case(tail.as_bytes())
                    && t.matches_glob(action, true, false, &Context::default(), &mut |_| {})
            }
        }
    }

    /// `Resource` matching: case-sensitive, ARN segment by segment, with variables.
    #[inline]
    pub fn matches_resource<'t>(
        &'t self,
        resource: &str,
        ctx: &Context,
        missing: &mut dyn FnMut(&'t str),
    ) -> bool {
        match self {
            Pattern::Any => true,
            Pattern::Exact(e) => e == resource,
            Pattern::Prefix(p) => resource.starts_with(p.as_str()),
            Pattern::General { t, head, tail } => {
                resource.len() >= head.len() + tail.len()
                    && resource.starts_with(head.as_str())
                    && resource.ends_with(tail.as_str())
                    && t.matches_glob(resource, false, true, ctx, missing)
            }
        }
    }
}

fn flush(parts: &mut Vec<Part>, text: &mut String) {
    if !text.is_empty() {
        parts.push(Part::Text(std::mem::take(text)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(t: &Template, ctx: &Context) -> Option<Vec<(String, bool)>> {
        t.with_pieces(ctx, &mut |_| {}, |p| {
            p.iter().map(|p| (p.text.to_owned(), p.wild)).collect()
        })
    }

    #[test]
    fn pattern_forms() {
        let ctx = Context::new();
        let compile = |s: &str| Pattern::compile(Template::parse(s, true));
        assert!(matches!(compile("*"), Pattern::Any));
        assert!(matches!(compile("a${*}b"), Pattern::Exact(e) if e == "a*b"));
        assert!(
            matches!(compile("arn:aws:s3:::b/*"), Pattern::Prefix(p) if p == "arn:aws:s3:::b/")
        );
        let p = compile("arn:aws:s3:::b?/x*y${?}z");
        let Pattern::General { head, tail, .. } = &p else {
            panic!("{p:?}");
        };
        assert_eq!((head.as_str(), tail.as_str()), ("arn:aws:s3:::b", "y?z"));
        assert!(p.matches_resource("arn:aws:s3:::b1/x--y?z", &ctx, &mut |_| {}));
        assert!(!p.matches_resource("arn:aws:s3:::b1/x--yaz", &ctx, &mut |_| {}));
        assert!(!p.matches_resource("arn:aws:s3:::b/x--y?z", &ctx, &mut |_| {}));
        let a = compile("S3:*Object?");
        assert!(a.matches_action("s3:GetObjectS"));
        assert!(!a.matches_action("s3:GetObject"));
        assert!(compile("s3:GetObject").matches_action("S3:getobject"));
        assert!(compile("s3:Get*").matches_action("S3:GETOBJECT"));
        assert!(!compile("s3:Get*").matches_action("s3:Ge"));
    }

    #[test]
    fn variables_escapes_and_defaults() {
        let mut ctx = Context::new();
        ctx.set("aws:username", "alice");
        ctx.set_many("aws:TagKeys", ["a", "b"]);
        let t = Template::parse("home/${aws:username}/*", true);
        assert_eq!(
            resolve(&t, &ctx).unwrap(),
            vec![
                ("home/".into(), true),
                ("alice".into(), false),
                ("/*".into(), true)
            ]
        );
        // Key names are case-insensitive.
        let t = Template::parse("${AWS:UserName}", true);
        assert!(t.equals("alice", false, &ctx, &mut |_| {}));
        // Missing and multivalued keys match nothing; a default stands in.
        assert!(resolve(&Template::parse("${aws:userid}", true), &ctx).is_none());
        assert!(resolve(&Template::parse("${aws:TagKeys}", true), &ctx).is_none());
        let t = Template::parse("b-${aws:PrincipalTag/team, 'company-wide'}", true);
        assert!(t.equals("b-company-wide", false, &ctx, &mut |_| {}));
        // Escapes are literal characters.
        let t = Template::parse("a${*}b${?}c${$}", true);
        assert_eq!(t.literal_value().unwrap(), "a*b?c$");
        assert!(t.plain().is_none());
        // Before 2012-10-17 nothing is a variable.
        let t = Template::parse("${aws:username}", false);
        assert_eq!(t.plain(), Some("${aws:username}"));
        // An unclosed `${` is text.
        assert_eq!(Template::parse("a${b", true).plain(), Some("a${b"));
        let keys: Vec<_> = Template::parse("${a:b}/${*}/${c:d, 'x'}", true)
            .var_keys()
            .map(str::to_owned)
            .collect();
        assert_eq!(keys, ["a:b", "c:d"]);
    }
}
