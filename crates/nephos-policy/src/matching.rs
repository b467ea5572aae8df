//! The pattern matching IAM uses: `*`/`?` wildcards, and ARNs compared part by part.

/// IAM wildcards: `*` any run (also empty), `?` exactly one character.
pub fn wildcard(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// `ArnLike`: the six colon-separated parts match one by one (wildcards within a part;
/// the resource part keeps its own colons).
pub fn arn_like(pattern: &str, arn: &str) -> bool {
    let p: Vec<&str> = pattern.splitn(6, ':').collect();
    let a: Vec<&str> = arn.splitn(6, ':').collect();
    if p.len() != 6 || a.len() != 6 {
        return wildcard(pattern, arn);
    }
    p.iter().zip(&a).all(|(p, a)| wildcard(p, a))
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
        assert!(arn_like("arn:aws:s3:::photos*", "arn:aws:s3:::photos-2024"));
        assert!(arn_like("arn:aws:sqs:*:*:q", "arn:aws:sqs:us-east-1:1:q"));
        assert!(!arn_like("arn:aws:sqs:*:*:q", "arn:aws:sns:us-east-1:1:q"));
    }
}
