//! What a function is: its configuration per version, aliases, policy and tags, as stored
//! and as the API reports them (`FunctionConfiguration`, `AliasConfiguration`).

use nephos_core::{AwsError, Value};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const LATEST: &str = "$LATEST";

/// One version's configuration (`$LATEST` or a published number).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Config {
    pub runtime: Option<String>,
    pub handler: Option<String>,
    pub role: String,
    pub description: String,
    pub timeout: u32,
    pub memory: u32,
    pub ephemeral_storage: u32,
    pub environment: Option<BTreeMap<String, String>>,
    pub architectures: Vec<String>,
    pub tracing_mode: String,
    pub layers: Vec<LayerRef>,
    pub dead_letter_target: Option<String>,
    pub kms_key_arn: Option<String>,
    pub log_format: String,
    pub application_log_level: Option<String>,
    pub system_log_level: Option<String>,
    pub log_group: Option<String>,
    pub code_sha256: String,
    pub code_size: u64,
    pub last_modified: String,
    pub revision_id: String,
    /// `Pending`, `Active`, `Failed`.
    pub state: String,
    /// `InProgress`, `Successful`, `Failed` (None before the first update).
    pub last_update_status: String,
    /// SnapStart's `ApplyOn`: `None` or `PublishedVersions`.
    #[serde(default = "snap_start_none")]
    pub snap_start: String,
    /// Durable execution settings: the function runs as durable executions.
    #[serde(default)]
    pub durable: Option<DurableConfig>,
}

/// `DurableConfig`: how long an execution may run and how long its history is kept.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DurableConfig {
    pub execution_timeout: Option<u32>,
    pub retention_days: u32,
    pub kms_key_arn: Option<String>,
}

/// AWS keeps a finished execution's history 14 days unless told otherwise.
pub const DEFAULT_RETENTION_DAYS: u32 = 14;

fn snap_start_none() -> String {
    "None".into()
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LayerRef {
    pub arn: String,
    pub code_size: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Alias {
    pub version: String,
    pub description: String,
    pub weights: BTreeMap<String, f64>,
    pub revision_id: String,
}

/// A function with everything that hangs off it; stored as one record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Function {
    pub name: String,
    pub latest: Config,
    pub versions: BTreeMap<u64, Config>,
    /// The number the next PublishVersion takes (numbers are never reused).
    pub next_version: u64,
    pub aliases: BTreeMap<String, Alias>,
    /// Policy statements by qualifier (`""` for the unqualified function).
    pub policies: BTreeMap<String, Vec<serde_json::Value>>,
    pub tags: BTreeMap<String, String>,
    pub reserved_concurrency: Option<u32>,
    pub created_ms: i64,
    /// Asynchronous invocation settings by qualifier (`$LATEST`, a version, an alias).
    #[serde(default)]
    pub event_invoke: BTreeMap<String, EventInvokeConfig>,
    /// Function URLs by qualifier (`""` for the unqualified function, or an alias).
    #[serde(default)]
    pub urls: BTreeMap<String, UrlConfig>,
    /// Provisioned concurrency by qualifier (a version or an alias).
    #[serde(default)]
    pub provisioned: BTreeMap<String, Provisioned>,
    /// The ARN of the code signing configuration attached to the function.
    #[serde(default)]
    pub code_signing_config: Option<String>,
    /// `Allow` or `Terminate` (None: AWS's default, `Terminate`).
    #[serde(default)]
    pub recursive_loop: Option<String>,
    /// Runtime update mode by version (`$LATEST` or a number); absent means `Auto`.
    #[serde(default)]
    pub runtime_management: BTreeMap<String, RuntimeManagement>,
    /// `$LATEST` as it was when the newest version was published: PublishVersion makes
    /// no new version while `$LATEST` is still that.
    #[serde(default)]
    pub published_from: Option<Config>,
}

/// PutFunctionEventInvokeConfig's settings for one qualifier.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EventInvokeConfig {
    pub maximum_retry_attempts: Option<u32>,
    pub maximum_event_age: Option<u32>,
    pub on_success: Option<String>,
    pub on_failure: Option<String>,
    pub last_modified_ms: i64,
}

/// A function URL (the data plane answers at `https://<id>.lambda-url.<region>.on.aws/`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UrlConfig {
    /// The 32-character id in the URL's host name.
    pub id: String,
    pub auth_type: String,
    pub invoke_mode: String,
    pub cors: Option<Cors>,
    pub created: String,
    pub last_modified: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Cors {
    pub allow_credentials: Option<bool>,
    pub allow_headers: Option<Vec<String>>,
    pub allow_methods: Option<Vec<String>>,
    pub allow_origins: Option<Vec<String>>,
    pub expose_headers: Option<Vec<String>>,
    pub max_age: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Provisioned {
    pub requested: u32,
    pub last_modified: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RuntimeManagement {
    /// `Auto`, `FunctionUpdate` or `Manual`.
    pub update_runtime_on: String,
    pub runtime_version_arn: Option<String>,
}

impl Function {
    /// The configuration a qualifier names: `$LATEST`, a version number or an alias.
    pub fn resolve(&self, qualifier: Option<&str>) -> Option<(String, &Config)> {
        match qualifier {
            None | Some(LATEST) => Some((LATEST.to_owned(), &self.latest)),
            Some(q) => {
                if let Ok(n) = q.parse::<u64>() {
                    return self.versions.get(&n).map(|c| (n.to_string(), c));
                }
                let alias = self.aliases.get(q)?;
                self.resolve(Some(&alias.version))
            }
        }
    }
}

pub fn function_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:lambda:{region}:{account}:function:{name}")
}

pub fn qualified_arn(region: &str, account: &str, name: &str, qualifier: Option<&str>) -> String {
    match qualifier {
        Some(q) => format!("{}:{q}", function_arn(region, account, name)),
        None => function_arn(region, account, name),
    }
}

/// A `FunctionName` as the API accepts it: a name, `name:qualifier`, a partial ARN
/// (`123456789012:function:name`) or a full ARN, each possibly with a qualifier.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionRef {
    pub name: String,
    pub qualifier: Option<String>,
    pub account: Option<String>,
    pub region: Option<String>,
}

impl FunctionRef {
    pub fn parse(text: &str) -> Result<FunctionRef, AwsError> {
        let invalid = || {
            AwsError::validation(format!(
                "1 validation error detected: Value '{text}' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{{2}}(-gov)?-[a-z]+-\\d{{1}}:)?(\\d{{12}}:)?(function:)?([a-zA-Z0-9-_\\.]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?"
            ))
        };
        let parts: Vec<&str> = text.split(':').collect();
        let (account, region, rest): (Option<&str>, Option<&str>, &[&str]) = match parts.as_slice()
        {
            ["arn", _, "lambda", region, account, "function", rest @ ..] if !rest.is_empty() => {
                (Some(*account), Some(*region), rest)
            }
            // AWS's pattern makes `function:` optional, so `...:<account>:<name>` names a
            // function too (`...:function` names the function `function`).
            ["arn", _, "lambda", region, account, name] => {
                (Some(*account), Some(*region), std::slice::from_ref(name))
            }
            [account, "function", rest @ ..] => (Some(*account), None, rest),
            rest => (None, None, rest),
        };
        let (name, qualifier) = match rest {
            [name] => (*name, None),
            [name, q] => (*name, Some(*q)),
            _ => return Err(invalid()),
        };
        if name.is_empty()
            || name.len() > 140
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        {
            return Err(invalid());
        }
        if let Some(q) = qualifier
            && (q.is_empty()
                || (q != LATEST
                    && !q
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')))
        {
            return Err(invalid());
        }
        Ok(FunctionRef {
            name: name.to_owned(),
            qualifier: qualifier.map(str::to_owned),
            account: account.map(str::to_owned),
            region: region.map(str::to_owned),
        })
    }
}

/// `2024-01-02T03:04:05.678+0000`, the form Lambda reports times in.
pub fn lambda_time(ms: i64) -> String {
    let t = nephos_core::Timestamp::from_millis(ms).to_iso8601();
    // to_iso8601 ends in `Z` and leaves out a zero fraction; Lambda always writes the
    // milliseconds and the offset as +0000.
    let t = t.trim_end_matches('Z');
    if t.contains('.') {
        format!("{t}+0000")
    } else {
        format!("{t}.000+0000")
    }
}

/// A fresh RevisionId (a random UUID, as AWS's look).
pub fn revision_id() -> String {
    crate::runtime::uuid()
}

/// The `FunctionConfiguration` of `version` (`$LATEST` or a number).
pub fn configuration(region: &str, account: &str, name: &str, version: &str, c: &Config) -> Value {
    let arn = if version == LATEST {
        function_arn(region, account, name)
    } else {
        qualified_arn(region, account, name, Some(version))
    };
    let mut v = Value::map()
        .with("FunctionName", name)
        .with("FunctionArn", arn)
        .with("Role", c.role.as_str())
        .with("CodeSize", c.code_size as i64)
        .with("Description", c.description.as_str())
        .with("Timeout", c.timeout as i64)
        .with("MemorySize", c.memory as i64)
        .with("LastModified", c.last_modified.as_str())
        .with("CodeSha256", c.code_sha256.as_str())
        .with("Version", version)
        .with(
            "TracingConfig",
            Value::map().with("Mode", c.tracing_mode.as_str()),
        )
        .with("RevisionId", c.revision_id.as_str())
        .with("State", c.state.as_str())
        .with("PackageType", "Zip")
        .with(
            "Architectures",
            Value::List(c.architectures.iter().map(|a| a.as_str().into()).collect()),
        )
        .with(
            "EphemeralStorage",
            Value::map().with("Size", c.ephemeral_storage as i64),
        )
        .with(
            "SnapStart",
            Value::map()
                .with("ApplyOn", c.snap_start.as_str())
                // Published versions of a SnapStart function are optimized; $LATEST never.
                .with(
                    "OptimizationStatus",
                    if version != LATEST && c.snap_start == "PublishedVersions" {
                        "On"
                    } else {
                        "Off"
                    },
                ),
        );
    if let Some(r) = &c.runtime {
        v.insert("Runtime", r.as_str());
        v.insert(
            "RuntimeVersionConfig",
            Value::map().with("RuntimeVersionArn", runtime_version_arn(region, r)),
        );
    }
    if let Some(h) = &c.handler {
        v.insert("Handler", h.as_str());
    }
    if let Some(env) = &c.environment {
        let vars: nephos_core::Map = env
            .iter()
            .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
            .collect();
        v.insert(
            "Environment",
            Value::map().with("Variables", Value::Map(vars)),
        );
    }
    if !c.layers.is_empty() {
        v.insert(
            "Layers",
            Value::List(
                c.layers
                    .iter()
                    .map(|l| {
                        Value::map()
                            .with("Arn", l.arn.as_str())
                            .with("CodeSize", l.code_size as i64)
                    })
                    .collect(),
            ),
        );
    }
    if let Some(t) = &c.dead_letter_target {
        v.insert(
            "DeadLetterConfig",
            Value::map().with("TargetArn", t.as_str()),
        );
    }
    if let Some(k) = &c.kms_key_arn {
        v.insert("KMSKeyArn", k.as_str());
    }
    let mut logging = Value::map()
        .with("LogFormat", c.log_format.as_str())
        .with("LogGroup", log_group(name, c));
    if let Some(l) = &c.application_log_level {
        logging.insert("ApplicationLogLevel", l.as_str());
    }
    if let Some(l) = &c.system_log_level {
        logging.insert("SystemLogLevel", l.as_str());
    }
    v.insert("LoggingConfig", logging);
    if let Some(d) = &c.durable {
        let mut dc = Value::map().with("RetentionPeriodInDays", i64::from(d.retention_days));
        if let Some(t) = d.execution_timeout {
            dc.insert("ExecutionTimeout", i64::from(t));
        }
        if let Some(k) = &d.kms_key_arn {
            dc.insert("KMSKeyArn", k.as_str());
        }
        v.insert("DurableConfig", dc);
    }
    if c.state == "Pending" {
        v.insert("StateReason", "The function is being created.");
        v.insert("StateReasonCode", "Creating");
    }
    // A function being created has no update status yet.
    if !c.last_update_status.is_empty() {
        v.insert("LastUpdateStatus", c.last_update_status.as_str());
    }
    if c.last_update_status == "InProgress" {
        v.insert("LastUpdateStatusReason", "The function is being created.");
        v.insert("LastUpdateStatusReasonCode", "Creating");
    }
    v
}

pub fn log_group(name: &str, c: &Config) -> String {
    c.log_group
        .clone()
        .unwrap_or_else(|| format!("/aws/lambda/{name}"))
}

pub fn runtime_version_arn(region: &str, runtime: &str) -> String {
    // A stable per-runtime id, as AWS publishes one per runtime release.
    let digest = <sha2::Sha256 as sha2::Digest>::digest(runtime.as_bytes());
    format!(
        "arn:aws:lambda:{region}::runtime:{}",
        hex::encode(&digest[..32])
    )
}

pub fn alias_configuration(
    region: &str,
    account: &str,
    fname: &str,
    name: &str,
    a: &Alias,
) -> Value {
    let mut v = Value::map()
        .with(
            "AliasArn",
            qualified_arn(region, account, fname, Some(name)),
        )
        .with("Name", name)
        .with("FunctionVersion", a.version.as_str())
        .with("Description", a.description.as_str())
        .with("RevisionId", a.revision_id.as_str());
    if !a.weights.is_empty() {
        let w: nephos_core::Map = a
            .weights
            .iter()
            .map(|(k, v)| (k.clone(), Value::Float(*v)))
            .collect();
        v.insert(
            "RoutingConfig",
            Value::map().with("AdditionalVersionWeights", Value::Map(w)),
        );
    }
    v
}

/// The runtimes nephos runs, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuntimeKind {
    Python,
    Node,
    /// The function's own `bootstrap` executable.
    Provided,
}

/// Every runtime identifier AWS accepts in CreateFunction (deprecated ones included:
/// AWS still accepts updates to functions on them); only some of them run here.
pub const RUNTIMES: &[&str] = &[
    "nodejs",
    "nodejs4.3",
    "nodejs6.10",
    "nodejs8.10",
    "nodejs10.x",
    "nodejs12.x",
    "nodejs14.x",
    "nodejs16.x",
    "nodejs18.x",
    "nodejs20.x",
    "nodejs22.x",
    "nodejs24.x",
    "java8",
    "java8.al2",
    "java11",
    "java17",
    "java21",
    "java25",
    "python2.7",
    "python3.6",
    "python3.7",
    "python3.8",
    "python3.9",
    "python3.10",
    "python3.11",
    "python3.12",
    "python3.13",
    "python3.14",
    "dotnetcore1.0",
    "dotnetcore2.0",
    "dotnetcore2.1",
    "dotnetcore3.1",
    "dotnet6",
    "dotnet8",
    "dotnet10",
    "nodejs4.3-edge",
    "go1.x",
    "ruby2.5",
    "ruby2.7",
    "ruby3.2",
    "ruby3.3",
    "ruby3.4",
    "provided",
    "provided.al2",
    "provided.al2023",
];

pub fn runtime_kind(runtime: &str) -> Option<RuntimeKind> {
    match runtime {
        "python3.9" | "python3.10" | "python3.11" | "python3.12" | "python3.13" | "python3.14" => {
            Some(RuntimeKind::Python)
        }
        "nodejs18.x" | "nodejs20.x" | "nodejs22.x" | "nodejs24.x" => Some(RuntimeKind::Node),
        "provided" | "provided.al2" | "provided.al2023" => Some(RuntimeKind::Provided),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_names_in_every_form() {
        let r = FunctionRef::parse("f").unwrap();
        assert_eq!((r.name.as_str(), r.qualifier), ("f", None));
        let r = FunctionRef::parse("f:prod").unwrap();
        assert_eq!(r.qualifier.as_deref(), Some("prod"));
        let r = FunctionRef::parse("123456789012:function:f:$LATEST").unwrap();
        assert_eq!(r.account.as_deref(), Some("123456789012"));
        assert_eq!(r.qualifier.as_deref(), Some("$LATEST"));
        let r = FunctionRef::parse("arn:aws:lambda:eu-west-1:123456789012:function:f:3").unwrap();
        assert_eq!(r.region.as_deref(), Some("eu-west-1"));
        assert_eq!(r.qualifier.as_deref(), Some("3"));
        assert!(FunctionRef::parse("a/b").is_err());
        assert!(FunctionRef::parse("f:a:b:c").is_err());
        assert!(FunctionRef::parse("").is_err());
    }

    #[test]
    fn times_as_lambda_writes_them() {
        assert_eq!(lambda_time(0), "1970-01-01T00:00:00.000+0000");
    }
}
