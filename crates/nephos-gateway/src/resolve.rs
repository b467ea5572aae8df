//! Which service a request is for, from what the request shows.
//!
//! Everything here is derived from the routing index of the vendored models
//! (`models/index.json`): target prefixes, signing names, endpoint prefixes, query actions
//! and rest path prefixes. The order follows how specific each clue is.

use nephos_model::{ServiceEntry, index};
use std::sync::OnceLock;

/// Every request consults these maps; foldhash beats SipHash on such short keys.
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// The routing tables, built once from the index.
struct Tables {
    by_target: HashMap<&'static str, Vec<&'static ServiceEntry>>,
    by_signing: HashMap<&'static str, Vec<&'static ServiceEntry>>,
    by_endpoint: HashMap<&'static str, &'static ServiceEntry>,
    by_action: HashMap<&'static str, Vec<&'static ServiceEntry>>,
    /// (literal path prefix, service), longest prefix first.
    rest_prefixes: Vec<(&'static str, &'static ServiceEntry)>,
}

fn tables() -> &'static Tables {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    TABLES.get_or_init(|| {
        let mut t = Tables {
            by_target: HashMap::default(),
            by_signing: HashMap::default(),
            by_endpoint: HashMap::default(),
            by_action: HashMap::default(),
            rest_prefixes: Vec::new(),
        };
        for s in &index().services {
            if let Some(p) = &s.target_prefix {
                t.by_target.entry(p.as_str()).or_default().push(s);
            }
            t.by_signing
                .entry(s.signing_name.as_str())
                .or_default()
                .push(s);
            t.by_endpoint.insert(s.endpoint_prefix.as_str(), s);
            for a in &s.actions {
                t.by_action.entry(a.as_str()).or_default().push(s);
            }
            for p in &s.rest_prefixes {
                // A bare "/" or "/{Bucket}" tells nothing; S3 is the fallback anyway.
                if p.len() > 1 {
                    t.rest_prefixes.push((p.as_str(), s));
                }
            }
        }
        t.rest_prefixes
            .sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
        t
    })
}

/// The path every S3 Control operation starts with.
const S3CONTROL_PATH: &str = "/v20180820/";

/// What the gateway knows about a request before choosing its service.
#[derive(Debug, Default)]
pub struct Clues<'a> {
    pub target: Option<&'a str>,
    pub signing_name: Option<&'a str>,
    pub host: Option<&'a str>,
    pub action: Option<&'a str>,
    pub path: &'a str,
}

/// The outcome: a vendored service, or a signing name nephos does not emulate.
#[derive(Debug, PartialEq)]
pub enum Resolved {
    Service(&'static str),
    Unknown(String),
}

pub fn resolve(c: &Clues<'_>) -> Resolved {
    let t = tables();
    let signing: Option<&Vec<&ServiceEntry>> = c.signing_name.and_then(|s| t.by_signing.get(s));
    let narrow = |cands: &[&'static ServiceEntry]| -> Option<&'static str> {
        let kept = cands
            .iter()
            .copied()
            .find(|s| signing.is_none_or(|sig| sig.iter().any(|x| x.name == s.name)));
        kept.or_else(|| cands.first().copied())
            .map(|s| s.name.as_str())
    };

    if let Some(target) = c.target {
        let prefix = target.rsplit_once('.').map_or(target, |(p, _)| p);
        if let Some(cands) = t.by_target.get(prefix)
            && let Some(name) = narrow(cands)
        {
            return Resolved::Service(name);
        }
    }
    if let Some(host) = c.host
        && let Some(name) = from_host(host, t)
    {
        // S3 Control shares S3's hosts (`<account>.s3.localhost.localstack.cloud`, as the
        // SDKs prefix the account id); its API lives under the version path.
        if name == "s3" && c.path.starts_with(S3CONTROL_PATH) {
            return Resolved::Service("s3control");
        }
        return Resolved::Service(name);
    }
    if let Some(cands) = signing {
        if cands.len() == 1 {
            return Resolved::Service(cands[0].name.as_str());
        }
        // Several services share a signing name (dynamodb/dynamodbstreams, s3/s3control):
        // the action or the path decides.
        if let Some(action) = c.action
            && let Some(s) = cands.iter().find(|s| s.actions.iter().any(|a| a == action))
        {
            return Resolved::Service(s.name.as_str());
        }
        if let Some(s) = cands.iter().find(|s| {
            s.rest_prefixes
                .iter()
                .any(|p| p.len() > 1 && c.path.starts_with(p.as_str()))
        }) {
            return Resolved::Service(s.name.as_str());
        }
        return Resolved::Service(cands[0].name.as_str());
    }
    if let Some(name) = c.signing_name
        && !name.is_empty()
    {
        return Resolved::Unknown(name.to_owned());
    }
    if let Some(action) = c.action
        && let Some(cands) = t.by_action.get(action)
        && let Some(name) = narrow(cands)
    {
        return Resolved::Service(name);
    }
    if let Some((_, s)) = t.rest_prefixes.iter().find(|(p, _)| c.path.starts_with(p)) {
        return Resolved::Service(s.name.as_str());
    }
    Resolved::Service("s3")
}

/// Host-based addressing: `bucket.s3.localhost`, `s3.localhost.localstack.cloud`,
/// `sqs.us-east-1.localhost.localstack.cloud`.
fn from_host(host: &str, t: &Tables) -> Option<&'static str> {
    let host = host.rsplit_once(':').map_or(host, |(h, port)| {
        if port.bytes().all(|b| b.is_ascii_digit()) {
            h
        } else {
            host
        }
    });
    let local = host
        .strip_suffix(".localhost.localstack.cloud")
        .or_else(|| host.strip_suffix(".localhost"))?;
    let labels: Vec<&str> = local.split('.').collect();
    if labels.contains(&"s3") || labels.iter().any(|l| l.starts_with("s3-website")) {
        return Some("s3");
    }
    t.by_endpoint.get(labels[0]).map(|s| s.name.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(c: Clues<'_>) -> Resolved {
        resolve(&c)
    }

    #[test]
    fn resolves_from_each_clue() {
        use Resolved::Service;
        assert_eq!(
            svc(Clues {
                target: Some("DynamoDB_20120810.GetItem"),
                ..Default::default()
            }),
            Service("dynamodb")
        );
        assert_eq!(
            svc(Clues {
                target: Some("DynamoDBStreams_20120810.ListStreams"),
                signing_name: Some("dynamodb"),
                ..Default::default()
            }),
            Service("dynamodbstreams")
        );
        assert_eq!(
            svc(Clues {
                target: Some("AmazonSQS.SendMessage"),
                ..Default::default()
            }),
            Service("sqs")
        );
        assert_eq!(
            svc(Clues {
                signing_name: Some("sts"),
                action: Some("GetCallerIdentity"),
                ..Default::default()
            }),
            Service("sts")
        );
        assert_eq!(
            svc(Clues {
                action: Some("AssumeRoleWithWebIdentity"),
                ..Default::default()
            }),
            Service("sts")
        );
        assert_eq!(
            svc(Clues {
                signing_name: Some("monitoring"),
                ..Default::default()
            }),
            Service("cloudwatch")
        );
        assert_eq!(
            svc(Clues {
                host: Some("mybucket.s3.localhost:4566"),
                path: "/key",
                ..Default::default()
            }),
            Service("s3")
        );
        assert_eq!(
            svc(Clues {
                host: Some("sqs.us-east-1.localhost.localstack.cloud:4566"),
                ..Default::default()
            }),
            Service("sqs")
        );
        assert_eq!(
            svc(Clues {
                path: "/2015-03-31/functions",
                ..Default::default()
            }),
            Service("lambda")
        );
        assert_eq!(
            svc(Clues {
                path: "/bucket/key",
                ..Default::default()
            }),
            Service("s3")
        );
        for host in [
            "123456789012.localhost:4566",
            "123456789012.s3.localhost.localstack.cloud:4566",
        ] {
            assert_eq!(
                svc(Clues {
                    signing_name: Some("s3"),
                    host: Some(host),
                    path: "/v20180820/configuration/publicAccessBlock",
                    ..Default::default()
                }),
                Service("s3control")
            );
        }
        assert_eq!(
            svc(Clues {
                signing_name: Some("ses"),
                ..Default::default()
            }),
            Resolved::Unknown("ses".into())
        );
    }
}
