//! Which IAM actions a request performs, on which resources, with which condition keys:
//! the Service Authorization Reference (vendored as data,
//! [`reference`](mod@reference)) applied to a request's input.
//!
//! Each implemented service has a module that says how its operations map to actions
//! where the names differ (S3's `ListObjectsV2` is `s3:ListBucket`), which input members
//! fill the reference's ARN template variables (`${QueueName}` from a `QueueUrl`), and
//! which service condition keys a request supplies. The reference then gives the exact
//! action name, the resource types to build ARNs for, and which condition keys the
//! action supports: a key the reference does not list for the action is not supplied.
//! A service without a module maps each operation to the action of the same name.

mod dynamodb;
pub mod fasthash;
mod iam;
mod lambda;
mod logs;
mod messaging;
pub mod reference;
mod s3;

#[cfg(test)]
mod implemented;
#[cfg(test)]
mod tests;

use nephos_core::Value;

/// One action a request is authorized as (CopyObject is two: read the source, write the
/// target).
#[derive(Debug, Clone, PartialEq)]
pub struct Authorization {
    /// `s3:GetObject`.
    pub action: String,
    /// The ARNs the action is on (`*` when the action has no resource type, or when the
    /// input does not name the resource). Where there are several (Lambda's
    /// PutFunctionCodeSigningConfig: the configuration and the function), every one must
    /// be allowed.
    pub resources: Vec<String>,
    /// Service-specific condition keys the request supplies (`s3:prefix`), with values,
    /// sorted by key. Tags the request carries are `aws:RequestTag/<key>` and
    /// `aws:TagKeys` where the action supports them.
    pub context: Vec<(String, Vec<String>)>,
}

/// Facts a request's input does not carry but nephos's state knows, asked while mapping
/// a request. Every method may answer `None`; [`for_request`] answers `None` to all.
pub trait Lookup {
    /// The name of the partition key attribute of a DynamoDB table, for
    /// `dynamodb:LeadingKeys`. Without it the first attribute of each key or item (in the
    /// request's order) stands for the partition key.
    fn partition_key(&self, account: &str, region: &str, table: &str) -> Option<String> {
        let _ = (account, region, table);
        None
    }
    /// The path (`/`, `/division/`) of an IAM entity of `kind` (`user`, `role`, `group`,
    /// `policy`, `instance-profile`, `server-certificate`, `mfa`), for its ARN. Without
    /// it `/` (create operations take the path from their input).
    fn iam_path(&self, account: &str, kind: &str, name: &str) -> Option<String> {
        let _ = (account, kind, name);
        None
    }
    /// The caller's IAM user name, for the IAM operations that act on the caller's own
    /// user when their input names none (ListAccessKeys, ChangePassword, ...). Without
    /// it those resources are `*`.
    fn caller_user(&self) -> Option<String> {
        None
    }
}

/// A [`Lookup`] that knows nothing.
pub struct NoLookup;

impl Lookup for NoLookup {}

/// The authorizations of a request to `service`'s `operation` (botocore names) with
/// `input`, made in `account` and `region`; empty when the operation needs none
/// (GetCallerIdentity, GetSessionToken). Every one must be allowed, except that a
/// DeleteObjects request has one per key, in the request's order, and AWS reports a
/// denied key in its answer rather than refusing the request.
///
/// What the input cannot say is left to the caller: the caller's identity and session
/// keys (`aws:`), `aws:ResourceTag/...` and `s3:ResourceAccount` (the resource's state),
/// `iam:PassRole` with `iam:PassedToService` for operations that pass a role, and the
/// resources of operations that name theirs only by an opaque id (logs GetQueryResults:
/// `*`).
pub fn for_request(
    service: &str,
    operation: &str,
    input: &Value,
    account: &str,
    region: &str,
) -> Vec<Authorization> {
    for_request_with(service, operation, input, account, region, &NoLookup)
}

/// [`for_request`], asking `lookup` for what the input does not say.
pub fn for_request_with(
    service: &str,
    operation: &str,
    input: &Value,
    account: &str,
    region: &str,
    lookup: &dyn Lookup,
) -> Vec<Authorization> {
    map(service, operation, input, account, region, lookup, false)
}

/// [`for_request_with`] without the condition keys: only the actions and their
/// resources, for a caller whose policies read no context (the authorizer's hot path,
/// where collecting DynamoDB's attribute names and tags would cost more than deciding).
/// Companion actions that depend on what the request carries (tagging on create) are
/// still there.
pub fn actions_and_resources(
    service: &str,
    operation: &str,
    input: &Value,
    account: &str,
    region: &str,
    lookup: &dyn Lookup,
) -> Vec<Authorization> {
    map(service, operation, input, account, region, lookup, true)
}

fn map(
    service: &str,
    operation: &str,
    input: &Value,
    account: &str,
    region: &str,
    lookup: &dyn Lookup,
    lean: bool,
) -> Vec<Authorization> {
    let prefix = reference::prefix_of(service).unwrap_or(service);
    let cx = Cx {
        prefix,
        account,
        region,
        input,
        lookup,
        lean,
    };
    let plans = match service {
        "s3" => s3::plans(operation, &cx),
        "s3control" => s3::control(operation, &cx),
        "dynamodb" | "dynamodbstreams" => dynamodb::plans(operation, &cx),
        "lambda" => lambda::plans(operation, &cx),
        "logs" => logs::plans(operation, &cx),
        "sqs" => messaging::sqs(operation, &cx),
        "sns" => messaging::sns(operation, &cx),
        "iam" => iam::iam(operation, &cx),
        "sts" => iam::sts(operation, &cx),
        _ => vec![cx.plan(operation)],
    };
    let mut out: Vec<Authorization> = plans.into_iter().map(|p| cx.finish(p)).collect();
    if let Some(tagging) = tag_on_create(service, operation, input, &cx)
        && let Some(created) = out.first()
    {
        let plan = tagging.resources(created.resources.clone());
        out.push(cx.finish(plan));
    }
    out
}

/// Creating a resource with tags is also tagging it, where the service says so: "To be
/// able to tag a queue on creation, you must have the sqs:CreateQueue and sqs:TagQueue
/// permissions" (SQS CreateQueue; SNS CreateTopic likewise with sns:TagResource; S3
/// CreateBucket with s3:TagResource; IAM's create operations with `iam:Tag<Entity>`).
/// The tagging action sees the request's tags, on the resource being created.
fn tag_on_create(service: &str, op: &str, input: &Value, cx: &Cx) -> Option<Plan> {
    let (action, tags) = match (service, op) {
        ("sqs", "CreateQueue") => ("TagQueue", Some(input)),
        ("sns", "CreateTopic") => ("TagResource", Some(input)),
        ("s3", "CreateBucket") => ("TagResource", input.get("CreateBucketConfiguration")),
        ("iam", "CreateUser") => ("TagUser", Some(input)),
        ("iam", "CreateRole") => ("TagRole", Some(input)),
        ("iam", "CreatePolicy") => ("TagPolicy", Some(input)),
        ("iam", "CreateInstanceProfile") => ("TagInstanceProfile", Some(input)),
        ("iam", "CreateOpenIDConnectProvider") => ("TagOpenIDConnectProvider", Some(input)),
        ("iam", "CreateSAMLProvider") => ("TagSAMLProvider", Some(input)),
        ("iam", "UploadServerCertificate") => ("TagServerCertificate", Some(input)),
        ("iam", "CreateVirtualMFADevice") => ("TagMFADevice", Some(input)),
        _ => return None,
    };
    let context = tag_keys(tags?);
    if context.is_empty() {
        return None;
    }
    let mut plan = cx.plan(action).without_tags();
    plan.context = context;
    Some(plan)
}

/// One request being mapped.
pub(crate) struct Cx<'a> {
    /// The IAM prefix of the request's service.
    pub prefix: &'a str,
    pub account: &'a str,
    pub region: &'a str,
    pub input: &'a Value,
    pub lookup: &'a dyn Lookup,
    /// Condition keys are not wanted ([`actions_and_resources`]).
    pub lean: bool,
}

/// One authorization before the reference has resolved it.
pub(crate) struct Plan {
    prefix: String,
    /// The action's name within its prefix, in any case (the reference has the exact
    /// spelling).
    action: String,
    /// ARN template variables (`QueueName`); `Account` and `Region` override the
    /// caller's.
    vars: Vec<(&'static str, String)>,
    /// Resources the input names by ARN, used for the action's resource types whose
    /// template they fit.
    arns: Vec<String>,
    /// ARNs for given resource types (`function` -> the qualified function ARN), where
    /// the module builds them itself.
    typed: Vec<(&'static str, String)>,
    /// Resources decided by the service module, bypassing the templates.
    resources: Option<Vec<String>>,
    context: Vec<(String, Vec<String>)>,
    /// Whether the request's top-level tags are this action's (`aws:RequestTag/...`).
    tags: bool,
    /// The one resource type to build, where the reference lists several the request
    /// could fill (a DynamoDB Query on an index is authorized on the index alone).
    only: Option<&'static str>,
}

impl Plan {
    pub fn new(prefix: &str, action: &str) -> Plan {
        Plan {
            prefix: prefix.to_owned(),
            action: action.to_owned(),
            vars: Vec::new(),
            arns: Vec::new(),
            typed: Vec::new(),
            resources: None,
            context: Vec::new(),
            tags: true,
            only: None,
        }
    }

    pub fn var(mut self, name: &'static str, value: impl Into<String>) -> Plan {
        let value = value.into();
        if !value.is_empty() {
            self.vars.push((name, value));
        }
        self
    }

    pub fn var_opt(self, name: &'static str, value: Option<impl Into<String>>) -> Plan {
        match value {
            Some(v) => self.var(name, v),
            None => self,
        }
    }

    pub fn arn(mut self, arn: Option<&str>) -> Plan {
        if let Some(a) = arn.filter(|a| a.starts_with("arn:")) {
            self.arns.push(a.to_owned());
        }
        self
    }

    /// The ARN to use for the action's resource type `kind`, if it has one.
    pub fn typed(mut self, kind: &'static str, arn: String) -> Plan {
        self.typed.push((kind, arn));
        self
    }

    pub fn resources(mut self, resources: Vec<String>) -> Plan {
        self.resources = Some(resources);
        self
    }

    pub fn key(mut self, key: &str, values: Vec<String>) -> Plan {
        if !values.is_empty() {
            self.context.push((key.to_owned(), values));
        }
        self
    }

    pub fn key1(self, key: &str, value: Option<impl Into<String>>) -> Plan {
        match value {
            Some(v) => self.key(key, vec![v.into()]),
            None => self,
        }
    }

    pub fn only(mut self, kind: &'static str) -> Plan {
        self.only = Some(kind);
        self
    }

    /// This action does not take the request's tags (a read half of a copy).
    pub fn without_tags(mut self) -> Plan {
        self.tags = false;
        self
    }

    fn lookup_var<'a>(&'a self, name: &str, cx: &Cx<'a>) -> Option<&'a str> {
        if let Some((_, v)) = self.vars.iter().find(|(n, _)| *n == name) {
            return Some(v);
        }
        match name {
            "Partition" => Some("aws"),
            "Region" => Some(cx.region),
            "Account" => Some(cx.account),
            _ => None,
        }
    }
}

impl Cx<'_> {
    /// An action of the request's own service.
    pub fn plan(&self, action: &str) -> Plan {
        Plan::new(self.prefix, action)
    }

    fn finish(&self, plan: Plan) -> Authorization {
        let service = reference::service(&plan.prefix);
        let found = service.and_then(|s| s.action(&plan.action));
        let action = match found {
            Some((exact, a)) => a.full_name(&plan.prefix, exact).to_owned(),
            None => format!("{}:{}", plan.prefix, plan.action),
        };
        let mut resources: Vec<String> = Vec::new();
        let mut push = |r: String| {
            if !resources.contains(&r) {
                resources.push(r);
            }
        };
        match (&plan.resources, service, found) {
            (Some(explicit), _, _) => explicit.iter().cloned().for_each(&mut push),
            (None, Some(svc), Some((_, a))) => {
                for ar in &a.resources {
                    if plan.only.is_some_and(|k| k != ar.kind) {
                        continue;
                    }
                    if let Some((_, arn)) = plan.typed.iter().find(|(k, _)| *k == ar.kind) {
                        push(arn.clone());
                        continue;
                    }
                    let Some(rt) = svc.resources.get(&ar.kind) else {
                        continue;
                    };
                    if let Some(arn) = plan
                        .arns
                        .iter()
                        .find(|arn| reference::matches_template(&rt.arn, arn))
                    {
                        push(arn.clone());
                    } else if let Some(arn) = rt.fill(|v| plan.lookup_var(v, self)) {
                        push(arn);
                    }
                }
            }
            // An action the reference does not know: no resource type to build.
            _ => {}
        }
        if resources.is_empty() {
            resources.push("*".to_owned());
        }

        if self.lean {
            return Authorization {
                action,
                resources,
                context: Vec::new(),
            };
        }
        let mut context = plan.context;
        if plan.tags {
            context.extend(tag_keys(self.input));
        }
        if let (Some(svc), Some((_, a))) = (service, found) {
            context.retain(|(k, _)| svc.supports(a, k));
        }
        let mut merged: Vec<(String, Vec<String>)> = Vec::with_capacity(context.len());
        for (k, vs) in context {
            match merged.iter_mut().find(|(m, _)| *m == k) {
                Some((_, existing)) => {
                    for v in vs {
                        if !existing.contains(&v) {
                            existing.push(v);
                        }
                    }
                }
                None => merged.push((k, vs)),
            }
        }
        merged.sort_by(|a, b| a.0.cmp(&b.0));
        Authorization {
            action,
            resources,
            context: merged,
        }
    }
}

/// `aws:RequestTag/<key>` and `aws:TagKeys` of the tags an input carries, in whichever
/// shape its service uses: a list of `Key`/`Value` structures (IAM, SNS, DynamoDB, STS),
/// a map (SQS, Lambda, Logs), a list of keys (untag operations), S3's `Tagging`
/// structure (`TagSet`) or header text (`k1=v1&k2=v2`).
pub(crate) fn tag_keys(input: &Value) -> Vec<(String, Vec<String>)> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut keys: Vec<String> = Vec::new();
    // One pass over the members the input has: most requests carry no tags.
    for (member, v) in input.as_map().into_iter().flatten() {
        if matches!(
            member.as_str(),
            "Tags" | "tags" | "TagKeys" | "tagKeys" | "Tagging"
        ) {
            collect_tags(v, &mut pairs, &mut keys);
        }
    }
    tags_context(pairs, keys)
}

pub(crate) fn tags_context(
    pairs: Vec<(String, String)>,
    mut keys: Vec<String>,
) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for (k, v) in &pairs {
        out.push((format!("aws:RequestTag/{k}"), vec![v.clone()]));
        if !keys.contains(k) {
            keys.push(k.clone());
        }
    }
    if !keys.is_empty() {
        out.push(("aws:TagKeys".to_owned(), keys));
    }
    out
}

pub(crate) fn collect_tags(v: &Value, pairs: &mut Vec<(String, String)>, keys: &mut Vec<String>) {
    match v {
        Value::List(items) => {
            for item in items {
                match item {
                    Value::String(k) => keys.push(k.clone()),
                    Value::Map(_) => {
                        let k = item.str("Key").or_else(|| item.str("key"));
                        let val = item.str("Value").or_else(|| item.str("value"));
                        if let Some(k) = k {
                            pairs.push((k.to_owned(), val.unwrap_or_default().to_owned()));
                        }
                    }
                    _ => {}
                }
            }
        }
        Value::Map(m) => {
            if let Some(set) = m.get("TagSet") {
                collect_tags(set, pairs, keys);
                return;
            }
            for (k, val) in m {
                if let Some(s) = val.as_str() {
                    pairs.push((k.clone(), s.to_owned()));
                }
            }
        }
        Value::String(s) => pairs.extend(query_pairs(s)),
        _ => {}
    }
}

/// `k1=v1&k2=v2`, percent- and `+`-decoded (S3's `x-amz-tagging` header).
pub(crate) fn query_pairs(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                percent_decode(&k.replace('+', " ")),
                percent_decode(&v.replace('+', " ")),
            )
        })
        .collect()
}

/// Decodes `%XX` escapes; anything malformed stays as written.
pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A scalar member as condition key text (numbers and booleans as written in JSON,
/// timestamps in ISO 8601).
pub(crate) fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Integer(i) => Some(i.to_string()),
        Value::Float(f) => Some(f.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Timestamp(t) => Some(t.to_iso8601()),
        _ => None,
    }
}

/// The parts of an ARN: (service, region, account, resource).
pub(crate) fn arn_parts(arn: &str) -> Option<(&str, &str, &str, &str)> {
    let mut it = arn.splitn(6, ':');
    if it.next()? != "arn" {
        return None;
    }
    let _partition = it.next()?;
    let service = it.next()?;
    let region = it.next()?;
    let account = it.next()?;
    let resource = it.next()?;
    Some((service, region, account, resource))
}
