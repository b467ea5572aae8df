//! The pattern matching IAM uses: `*`/`?` wildcards, and ARNs compared segment by
//! segment. One matcher serves every use (actions, resources, `StringLike`, `ArnLike`):
//! a pattern is a run of [`Piece`]s, each either wildcard text or literal text (what a
//! policy variable or an escape such as `${*}` produced), matched without allocating.

/// A stretch of a pattern: in `wild` text `*` and `?` are wildcards, elsewhere every
/// byte stands for itself.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Piece<'a> {
    pub text: &'a str,
    pub wild: bool,
}

/// IAM wildcards: `*` any run (also empty), `?` exactly one character.
pub fn wildcard(pattern: &str, text: &str) -> bool {
    glob(
        &[Piece {
            text: pattern,
            wild: true,
        }],
        text,
        false,
        0,
    )
}

/// `ArnLike`: the six colon-separated parts match one by one (wildcards within a part;
/// the resource part keeps its own colons). Either side not being a six-part ARN falls
/// back to plain wildcards.
#[cfg(test)]
pub(crate) fn arn_like(pattern: &str, arn: &str) -> bool {
    let piece = [Piece {
        text: pattern,
        wild: true,
    }];
    glob(&piece, arn, false, arn_barrier(colons(&piece), arn))
}

/// Colons in a pattern, wildcard or literal.
pub(crate) fn colons(pieces: &[Piece]) -> usize {
    pieces
        .iter()
        .map(|p| p.text.bytes().filter(|&b| b == b':').count())
        .sum()
}

/// Where wildcards may start to swallow colons when a pattern with `pattern_colons`
/// colons is matched as an ARN against `text`: the start of the text's resource part
/// (after its fifth colon). Before it, a wildcard stays inside its segment, which is
/// exactly segment-by-segment matching: the pattern's first five colons can then only
/// meet the text's first five. `0` (no barrier) when either side is no six-part ARN.
pub(crate) fn arn_barrier(pattern_colons: usize, text: &str) -> usize {
    if pattern_colons < 5 {
        return 0;
    }
    text.bytes()
        .enumerate()
        .filter(|&(_, b)| b == b':')
        .nth(4)
        .map_or(0, |(i, _)| i + 1)
}

#[derive(Clone, Copy, PartialEq)]
enum Tok {
    Star,
    One,
    Byte(u8),
}

/// The token at (piece, offset) and the position after it; `None` at the end.
#[inline]
fn tok(pieces: &[Piece], mut pi: usize, mut po: usize) -> Option<(Tok, usize, usize)> {
    loop {
        let p = pieces.get(pi)?;
        if let Some(&b) = p.text.as_bytes().get(po) {
            let t = match b {
                b'*' if p.wild => Tok::Star,
                b'?' if p.wild => Tok::One,
                b => Tok::Byte(b),
            };
            return Some((t, pi, po + 1));
        }
        pi += 1;
        po = 0;
    }
}

/// Length of the UTF-8 character starting with byte `b`.
#[inline]
fn char_len(b: u8) -> usize {
    match b {
        0xF0.. => 4,
        0xE0.. => 3,
        0xC0.. => 2,
        _ => 1,
    }
}

/// Matches `text` against the pieces. `fold` compares ASCII letters case-insensitively
/// (actions); wildcards never swallow a `:` before byte `barrier` (ARN matching, see
/// [`arn_barrier`]). Greedy with one backtrack point: a later `*` can always stand in for
/// an earlier one, so only the last needs revisiting (with a barrier too: segments are
/// aligned by their literal colons, so a failure past a segment never needs a star
/// before it).
pub(crate) fn glob(pieces: &[Piece], text: &str, fold: bool, barrier: usize) -> bool {
    let t = text.as_bytes();
    let absorbs = |i: usize| t[i] != b':' || i >= barrier;
    let (mut pi, mut po, mut ti) = (0, 0, 0);
    let mut star: Option<(usize, usize)> = None;
    let mut mark = 0;
    while ti < t.len() {
        match tok(pieces, pi, po) {
            Some((Tok::Star, npi, npo)) => {
                star = Some((npi, npo));
                mark = ti;
                (pi, po) = (npi, npo);
                continue;
            }
            Some((Tok::One, npi, npo)) if absorbs(ti) => {
                ti += char_len(t[ti]);
                (pi, po) = (npi, npo);
                continue;
            }
            Some((Tok::Byte(b), npi, npo))
                if b == t[ti] || (fold && b.eq_ignore_ascii_case(&t[ti])) =>
            {
                ti += 1;
                (pi, po) = (npi, npo);
                continue;
            }
            _ => {}
        }
        match star {
            Some((spi, spo)) if absorbs(mark) => {
                mark += char_len(t[mark]);
                ti = mark;
                (pi, po) = (spi, spo);
            }
            _ => return false,
        }
    }
    loop {
        match tok(pieces, pi, po) {
            None => return true,
            Some((Tok::Star, npi, npo)) => (pi, po) = (npi, npo),
            Some(_) => return false,
        }
    }
}

/// Whether the pieces, read literally, spell exactly `text`.
pub(crate) fn pieces_eq(pieces: &[Piece], text: &str, fold: bool) -> bool {
    let mut rest = text.as_bytes();
    for p in pieces {
        let b = p.text.as_bytes();
        if rest.len() < b.len() {
            return false;
        }
        let (head, tail) = rest.split_at(b.len());
        if !(head == b || (fold && head.eq_ignore_ascii_case(b))) {
            return false;
        }
        rest = tail;
    }
    rest.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_and_arns() {
        assert!(wildcard(
            "arn:aws:sns:*:111111111111:*",
            "arn:aws:sns:us-east-1:111111111111:t"
        ));
        assert!(!wildcard(
            "arn:aws:sns:*:999999999999:*",
            "arn:aws:sns:us-east-1:111111111111:t"
        ));
        assert!(wildcard("a?c", "abc"));
        assert!(!wildcard("a?c", "ac"));
        assert!(wildcard("a?c", "aéc"));
        assert!(wildcard("*", ""));
        assert!(wildcard("a*b*c", "axxbyyc"));
        assert!(!wildcard("a*b*c", "axxbyy"));
        assert!(wildcard("*a*", "bab"));
        assert!(arn_like("arn:aws:s3:::photos*", "arn:aws:s3:::photos-2024"));
        assert!(arn_like("arn:aws:sqs:*:*:q", "arn:aws:sqs:us-east-1:1:q"));
        assert!(!arn_like("arn:aws:sqs:*:*:q", "arn:aws:sns:us-east-1:1:q"));
        // The operator page's own example: `*` may not run across segments in ArnLike,
        // though it does in StringLike.
        let p = "arn:aws:someservice:*:111122223333:finance/*";
        let v = "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt";
        assert!(wildcard(p, v));
        assert!(!arn_like(p, v));
        // The resource part keeps its colons, and wildcards cross them there.
        assert!(arn_like(
            "arn:aws:logs:*:1:log-group:*",
            "arn:aws:logs:eu-west-1:1:log-group:g:log-stream:s"
        ));
    }

    #[test]
    fn literal_pieces_and_folding() {
        let p = [
            Piece {
                text: "a",
                wild: true,
            },
            Piece {
                text: "*",
                wild: false,
            },
            Piece {
                text: "*",
                wild: true,
            },
        ];
        assert!(glob(&p, "a*bc", false, 0));
        assert!(!glob(&p, "abc", false, 0));
        assert!(glob(
            &[Piece {
                text: "s3:get*",
                wild: true
            }],
            "S3:GetObject",
            true,
            0
        ));
        assert!(pieces_eq(&p, "a**", false));
        assert!(!pieces_eq(&p, "a*", false));
    }
}
