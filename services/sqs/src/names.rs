//! Queue names, URLs and ARNs: parsing what clients send and building what AWS returns.

use crate::errors;
use nephos_core::AwsError;

/// Where a queue lives, as a URL or ARN names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct QueueRef {
    pub account: String,
    /// `None` when the URL does not say (then the caller's region applies).
    pub region: Option<String>,
    pub name: String,
}

/// Whether `name` is a valid queue name: 1-80 characters of `[A-Za-z0-9_-]`, with a
/// `.fifo` suffix for FIFO queues (counted in the 80).
pub fn validate_name(name: &str, fifo: bool) -> Result<(), AwsError> {
    let base = if fifo {
        name.strip_suffix(".fifo")
    } else {
        Some(name)
    };
    let ok = base.is_some_and(|b| {
        !b.is_empty()
            && name.len() <= 80
            && b.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
    });
    if ok {
        return Ok(());
    }
    Err(errors::invalid_parameter(if fifo {
        "The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with .fifo suffix and be 1 to 80 in length."
    } else {
        "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"
    }))
}

/// The URL of a queue, on the host and port the client addressed so later calls route
/// back here. Like AWS's `sqs.<region>.amazonaws.com/<account>/<name>` it names the
/// region, so queues of one name in two regions have two URLs: a host that names a
/// region (LocalStack's `sqs.<region>.localhost.localstack.cloud`) gets the queue's;
/// on any other host (`127.0.0.1:4566`, a container's name) the path does
/// (`/queue/<region>/<account>/<name>`, LocalStack's path form), since a host name that
/// only public DNS resolves would break offline machines.
pub fn queue_url(host: Option<&str>, region: &str, account: &str, name: &str) -> String {
    let host = host.unwrap_or("localhost:4566");
    let (hostname, port) = match host.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => (h, Some(p)),
        _ => (host, None),
    };
    // A host that already names a region (`sqs.eu-west-1.localhost.localstack.cloud`).
    let base = hostname
        .strip_prefix("sqs.")
        .and_then(|rest| rest.split_once('.'))
        .filter(|(r, _)| r.contains('-'))
        .map_or(hostname, |(_, domain)| domain);
    if base == hostname {
        return format!("http://{host}/queue/{region}/{account}/{name}");
    }
    let domain = base;
    match port {
        Some(p) => format!("http://sqs.{region}.{domain}:{p}/{account}/{name}"),
        None => format!("http://sqs.{region}.{domain}/{account}/{name}"),
    }
}

pub fn queue_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:sqs:{region}:{account}:{name}")
}

/// Reads a queue URL in any of the forms clients use: AWS's
/// (`https://sqs.us-east-1.amazonaws.com/123456789012/q`), nephos's or LocalStack's
/// (`http://localhost:4566/123456789012/q`, `.../queue/us-east-1/123456789012/q`), the
/// account-path form (`/123456789012/q`), or a bare queue name.
pub fn parse_url(url: &str, caller_account: &str) -> Result<QueueRef, AwsError> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    let (host, path) = match rest {
        Some(r) => match r.split_once('/') {
            Some((h, p)) => (Some(h), p),
            None => (Some(r), ""),
        },
        None => (None, url.trim_start_matches('/')),
    };
    let path = path.split(['?', '#']).next().unwrap_or("");
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let region_from_host = host.and_then(|h| {
        let h = h.split(':').next().unwrap_or(h);
        let mut labels = h.split('.');
        match (labels.next(), labels.next()) {
            (Some("sqs"), Some(r)) if r != "localhost" && r.contains('-') => Some(r.to_owned()),
            (Some(r), Some("queue")) if r.contains('-') => Some(r.to_owned()),
            _ => None,
        }
    });
    let (account, region, name) = match segs.as_slice() {
        ["queue", region, account, name] => (*account, Some((*region).to_owned()), *name),
        [account, name] => (*account, region_from_host, *name),
        [name] if host.is_none() => (caller_account, None, *name),
        _ => return Err(errors::queue_does_not_exist()),
    };
    if !nephos_core::is_account_id(account) || name.is_empty() {
        return Err(errors::queue_does_not_exist());
    }
    Ok(QueueRef {
        account: account.to_owned(),
        region,
        name: name.to_owned(),
    })
}

/// Reads `arn:aws:sqs:<region>:<account>:<name>`.
pub fn parse_arn(arn: &str) -> Option<QueueRef> {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(_partition), Some("sqs"), Some(region), Some(account), Some(name)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    if !nephos_core::is_account_id(account) || name.is_empty() || region.is_empty() {
        return None;
    }
    Some(QueueRef {
        account: account.to_owned(),
        region: Some(region.to_owned()),
        name: name.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_aws_rules() {
        assert!(validate_name("a-b_C9", false).is_ok());
        assert!(validate_name(&"a".repeat(80), false).is_ok());
        assert!(validate_name(&"a".repeat(81), false).is_err());
        assert!(validate_name("", false).is_err());
        assert!(validate_name("a.b", false).is_err());
        assert!(validate_name("q.fifo", true).is_ok());
        assert!(validate_name(".fifo", true).is_err());
        assert!(validate_name("q", true).is_err());
        assert!(validate_name(&format!("{}.fifo", "a".repeat(75)), true).is_ok());
        assert!(validate_name(&format!("{}.fifo", "a".repeat(76)), true).is_err());
    }

    #[test]
    fn urls_in_every_form() {
        let r = parse_url("https://sqs.eu-west-1.amazonaws.com/123456789012/q", "0").unwrap();
        assert_eq!(r.account, "123456789012");
        assert_eq!(r.region.as_deref(), Some("eu-west-1"));
        assert_eq!(r.name, "q");
        let r = parse_url("http://localhost:4566/123456789012/q", "0").unwrap();
        assert_eq!(r.region, None);
        let r = parse_url("http://localhost:4566/queue/us-west-2/123456789012/q", "0").unwrap();
        assert_eq!(r.region.as_deref(), Some("us-west-2"));
        let r = parse_url(
            "http://sqs.us-east-2.localhost.localstack.cloud:4566/123456789012/q",
            "0",
        )
        .unwrap();
        assert_eq!(r.region.as_deref(), Some("us-east-2"));
        let r = parse_url("q", "111111111111").unwrap();
        assert_eq!(r.account, "111111111111");
        assert!(parse_url("http://localhost:4566/notanaccount/q", "0").is_err());
        assert!(parse_url("http://localhost:4566/", "0").is_err());
    }

    #[test]
    fn urls_name_the_region_where_the_host_does() {
        let u = |h: Option<&str>, r: &str| queue_url(h, r, "123456789012", "q");
        assert_eq!(
            u(Some("127.0.0.1:4566"), "eu-west-1"),
            "http://127.0.0.1:4566/queue/eu-west-1/123456789012/q"
        );
        assert_eq!(
            u(
                Some("sqs.us-east-1.localhost.localstack.cloud:4566"),
                "ap-south-1"
            ),
            "http://sqs.ap-south-1.localhost.localstack.cloud:4566/123456789012/q"
        );
        assert_eq!(
            u(Some("nephos:4566"), "us-east-1"),
            "http://nephos:4566/queue/us-east-1/123456789012/q"
        );
        assert_eq!(
            u(None, "us-east-2"),
            "http://localhost:4566/queue/us-east-2/123456789012/q"
        );
    }
}
