//! Managed policies (customer managed in the account, AWS managed from the catalogue):
//! create, read, delete, list; versions; who uses them; which grant a service.

use crate::IamProvider;
use crate::catalog::{self, ManagedPolicy};
use crate::state::{Core, Kind, Policy, PolicyVersion, arn_name, key};
use crate::util::{
    POLICIES_QUOTA, already_exists, check_account_quota, delete_conflict, encode_document,
    input_strings, input_tags, limit_exceeded, list_page, new_id, no_such, page, paged, ts,
    under_prefix, with_tags,
};
use crate::validate::{self, DocKind};
use nephos_core::{AwsError, RequestContext, Value};

pub const OPS: &[&str] = &[
    "CreatePolicy",
    "CreatePolicyVersion",
    "DeletePolicy",
    "DeletePolicyVersion",
    "GetPolicy",
    "GetPolicyVersion",
    "ListEntitiesForPolicy",
    "ListPolicies",
    "ListPoliciesGrantingServiceAccess",
    "ListPolicyVersions",
    "SetDefaultPolicyVersion",
];

/// Versions a managed policy may have.
const MAX_VERSIONS: usize = 5;

pub async fn handle(
    p: &IamProvider,
    ctx: &RequestContext,
    op: &str,
    i: &Value,
) -> Result<Value, AwsError> {
    match op {
        "CreatePolicy" => create_policy(p, ctx, i).await,
        "GetPolicy" => get_policy(p, ctx, i),
        "DeletePolicy" => delete_policy(p, ctx, i).await,
        "ListPolicies" => list_policies(p, ctx, i),
        "CreatePolicyVersion" => create_version(p, ctx, i).await,
        "GetPolicyVersion" => get_version(p, ctx, i),
        "DeletePolicyVersion" => delete_version(p, ctx, i).await,
        "ListPolicyVersions" => list_versions(p, ctx, i),
        "SetDefaultPolicyVersion" => set_default(p, ctx, i).await,
        "ListEntitiesForPolicy" => entities_for_policy(p, ctx, i),
        "ListPoliciesGrantingServiceAccess" => granting_access(p, ctx, i),
        _ => Err(AwsError::not_implemented("iam", op)),
    }
}

pub(crate) fn no_policy(arn: &str) -> AwsError {
    no_such(format!("Policy {arn} was not found."))
}

fn no_version(arn: &str, version: &str) -> AwsError {
    no_such(format!(
        "Policy {arn} version {version} does not exist or is not attachable."
    ))
}

/// A managed policy of either origin, as answers describe it.
pub(crate) struct View<'a> {
    pub name: &'a str,
    pub arn: &'a str,
    pub path: &'a str,
    pub id: String,
    pub description: Option<&'a str>,
    pub created: i64,
    pub updated: i64,
    pub default_version: &'a str,
    pub tags: &'a [(String, String)],
    pub aws: bool,
}

impl<'a> View<'a> {
    pub(crate) fn customer(p: &'a Policy) -> View<'a> {
        View {
            name: &p.name,
            arn: &p.arn,
            path: &p.path,
            id: p.id.clone(),
            description: p.description.as_deref(),
            created: p.created,
            updated: p.updated,
            default_version: &p.default_version,
            tags: &p.tags,
            aws: false,
        }
    }

    pub(crate) fn aws(p: &'a ManagedPolicy) -> View<'a> {
        View {
            name: &p.name,
            arn: &p.arn,
            path: &p.path,
            id: aws_policy_id(&p.arn),
            description: (!p.description.is_empty()).then_some(p.description.as_str()),
            created: p.create_date,
            updated: p.update_date,
            default_version: &p.version_id,
            tags: &[],
            aws: true,
        }
    }

    /// The policy's sort key in listings: names are unique within each origin.
    pub(crate) fn sort_key(&self) -> String {
        format!("{}\t{}", key(self.name), if self.aws { "a" } else { "l" })
    }
}

/// A stable id for an AWS managed policy (the catalogue carries none): derived from its
/// ARN, so every account and every restart sees the same one.
fn aws_policy_id(arn: &str) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let digest = <sha2::Sha256 as sha2::Digest>::digest(arn.as_bytes());
    let tail: String = digest
        .iter()
        .take(17)
        .map(|b| CHARS[usize::from(*b) % CHARS.len()] as char)
        .collect();
    format!("ANPA{tail}")
}

/// The managed policy with this ARN, customer or AWS.
pub(crate) fn find<'a>(c: &'a Core, arn: &str) -> Option<View<'a>> {
    c.policy(arn)
        .map(View::customer)
        .or_else(|| catalog::get(arn).map(View::aws))
}

/// Which answer a policy appears in.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum PolicyForm {
    /// CreatePolicy, GetPolicy: with description and tags.
    Full,
    List,
}

pub(crate) fn policy_value(c: &Core, v: &View, form: PolicyForm) -> Value {
    let mut out = Value::map()
        .with("PolicyName", v.name)
        .with("PolicyId", v.id.as_str())
        .with("Arn", v.arn)
        .with("Path", v.path)
        .with("DefaultVersionId", v.default_version)
        .with(
            "AttachmentCount",
            c.attachments.get(v.arn).copied().unwrap_or(0),
        )
        .with(
            "PermissionsBoundaryUsageCount",
            c.boundaries.get(v.arn).copied().unwrap_or(0),
        )
        .with("IsAttachable", true)
        .with("CreateDate", ts(v.created))
        .with("UpdateDate", ts(v.updated));
    if form == PolicyForm::Full {
        if let Some(d) = v.description {
            out.insert("Description", d);
        }
        out = with_tags(out, v.tags);
    }
    out
}

async fn create_policy(
    p: &IamProvider,
    ctx: &RequestContext,
    i: &Value,
) -> Result<Value, AwsError> {
    let name = i.str("PolicyName").unwrap_or_default();
    let path = i.str("Path").unwrap_or("/");
    let doc = i.str("PolicyDocument").unwrap_or_default();
    let tags = input_tags(i.get("Tags"));
    validate::path(path)?;
    validate::policy_document(doc, DocKind::Managed)?;
    validate::tags(&tags)?;
    p.write(ctx, |tx| {
        if tx.core.policies.contains_key(&key(name)) {
            return Err(already_exists(format!(
                "A policy called {name} already exists. Duplicate names are not allowed."
            )));
        }
        check_account_quota(tx.core.policies.len(), POLICIES_QUOTA, "PoliciesPerAccount")?;
        let pol = Policy {
            id: new_id("ANPA"),
            name: name.to_owned(),
            path: path.to_owned(),
            arn: tx.core.arn("policy", path, name),
            description: i.str("Description").map(str::to_owned),
            created: tx.now,
            updated: tx.now,
            default_version: "v1".to_owned(),
            versions: vec![PolicyVersion {
                id: "v1".to_owned(),
                document: doc.to_owned(),
                created: tx.now,
            }],
            next_version: 2,
            tags,
        };
        let out = Value::map().with(
            "Policy",
            policy_value(tx.core, &View::customer(&pol), PolicyForm::Full),
        );
        tx.touch(Kind::Policy, &pol.id);
        tx.core.insert_policy(pol);
        Ok(out)
    })
    .await
}

fn get_policy(p: &IamProvider, ctx: &RequestContext, i: &Value) -> Result<Value, AwsError> {
    let arn = i.str("PolicyArn").unwrap_or_default();
    validate::policy_arn(arn)?;
    let acct = p.account(ctx);
    let c = acct.core.read().unwrap();
    let v = find(&c, arn).ok_or_else(|| no_policy(arn))?;
    Ok(Value::map().with("Policy", policy_value(&c, &v, PolicyForm::Full)))
}

async fn delete_policy(
    p: &IamProvider,
    ctx: &RequestContext,
    i: &Value,
) -> Result<Value, AwsError> {
    let arn = i.str("PolicyArn").unwrap_or_default();
    validate::policy_arn(arn)?;
    p.write(ctx, |tx| {
        let pol = tx.core.policy(arn).ok_or_else(|| no_policy(arn))?;
        if tx.core.attachments.contains_key(arn) || tx.core.boundaries.contains_key(arn) {
            return Err(delete_conflict("Cannot delete a policy attached to entities."));
        }
        if pol.versions.len() > 1 {
            return Err(delete_conflict(
                "This policy has more than one version. Before you delete a policy, you must delete the policy's versions. The default version is deleted with the policy.",
            ));
        }
        let id = pol.id.clone();
        tx.core.policies.remove(&key(arn_name(arn)));
        tx.core.ids.remove(&id);
        tx.touch(Kind::Policy, &id);
        Ok(Value::map())
    })
    .await
}

fn list_policies(p: &IamProvider, ctx: &RequestContext, i: &Value) -> Result<Value, AwsError> {
    let acct = p.account(ctx);
    let c = acct.core.read().unwrap();
    let scope = i.str("Scope").unwrap_or("All");
    let only_attached = i.bool("OnlyAttached").unwrap_or(false);
    let usage = i.str("PolicyUsageFilter");
    let mut views: Vec<View> = Vec::new();
    if scope != "AWS" {
        views.extend(c.policies.values().map(View::customer));
    }
    if scope != "Local" {
        views.extend(catalog::all().iter().map(View::aws));
    }
    let mut items: Vec<(String, Value)> = views
        .into_iter()
        .filter(|v| under_prefix(v.path, i))
        .filter(|v| {
            let attached = c.attachments.contains_key(v.arn);
            let bounding = c.boundaries.contains_key(v.arn);
            match (usage, only_attached) {
                (Some("PermissionsPolicy"), true) => attached,
                (Some("PermissionsBoundary"), true) => bounding,
                (_, true) => attached,
                (_, false) => true,
            }
        })
        .map(|v| (v.sort_key(), policy_value(&c, &v, PolicyForm::List)))
        .collect();
    items.sort_by(|a, b| a.0.cmp(&b.0));
    list_page(items, i, "Policies")
}

fn version_value(v: &PolicyVersion, default: &str, with_document: bool) -> Value {
    let mut out = Value::map()
        .with("VersionId", v.id.as_str())
        .with("IsDefaultVersion", v.id == default)
        .with("CreateDate", ts(v.created));
    if with_document {
        out.insert("Document", encode_document(&v.document));
    }
    out
}

/// The versions of a managed policy (an AWS managed one has its default only).
pub(crate) fn versions(c: &Core, arn: &str) -> Option<(Vec<PolicyVersion>, String)> {
    if let Some(p) = c.policy(arn) {
        return Some((p.versions.clone(), p.default_version.clone()));
    }
    catalog::get(arn).map(|p| {
        (
            vec![PolicyVersion {
                id: p.version_id.clone(),
                document: p.document.clone(),
                created: p.update_date,
            }],
            p.version_id.clone(),
        )
    })
}

/// A version's number (`v12` -> 12), for ordering.
fn version_number(id: &str) -> u64 {
    id.trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

pub(crate) fn version_list(vs: &[PolicyVersion], default: &str, with_document: bool) -> Value {
    let mut vs: Vec<&PolicyVersion> = vs.iter().collect();
    vs.sort_by_key(|v| std::cmp::Reverse(version_number(&v.id)));
    Value::List(
        vs.into_iter()
            .map(|v| version_value(v, default, with_document))
            .collect(),
    )
}

async fn create_version(
    p: &IamProvider,
    ctx: &RequestContext,
    i: &Value,
) -> Result<Value, AwsError> {
    let arn = i.str("PolicyArn").unwrap_or_default();
    let doc = i.str("PolicyDocument").unwrap_or_default();
    let set_default = i.bool("SetAsDefault").unwrap_or(false);
    validate::policy_arn(arn)?;
    p.write(ctx, |tx| {
        let now = tx.now;
        let pol = tx.core.policy_mut(arn).ok_or_else(|| no_policy(arn))?;
        validate::policy_document(doc, DocKind::Managed)?;
        if pol.versions.len() >= MAX_VERSIONS {
            return Err(limit_exceeded(
                "A managed policy can have up to 5 versions. Before you create a new version, you must delete an existing version.",
            ));
        }
        let v = PolicyVersion {
            id: format!("v{}", pol.next_version),
            document: doc.to_owned(),
            created: now,
        };
        pol.next_version += 1;
        if set_default {
            pol.default_version = v.id.clone();
            pol.updated = now;
        }
        let out = version_value(&v, &pol.default_version, false);
        pol.versions.push(v);
        let id = pol.id.clone();
        tx.touch(Kind::Policy, &id);
        Ok(Value::map().with("PolicyVersion", out))
    })
    .await
}

fn get_version(p: &IamProvider, ctx: &RequestContext, i: &Value) -> Result<Value, AwsError> {
    let arn = i.str("PolicyArn").unwrap_or_default();
    let version = i.str("VersionId").unwrap_or_default();
    validate::policy_arn(arn)?;
    let acct = p.account(ctx);
    let c = acct.core.read().unwrap();
    let (vs, default) = versions(&c, arn).ok_or_else(|| no_version(arn, version))?;
    let v = vs
        .iter()
        .find(|v| v.id == version)
        .ok_or_else(|| no_version(arn, version))?;
    Ok(Value::map().with("PolicyVersion", version_value(v, &default, true)))
}

async fn delete_version(
    p: &IamProvider,
    ctx: &RequestContext,
    i: &Value,
) -> Result<Value, AwsError> {
    let arn = i.str("PolicyArn").unwrap_or_default();
    let version = i.str("VersionId").unwrap_or_default();
    validate::policy_arn(arn)?;
    p.write(ctx, |tx| {
        let pol = tx.core.policy_mut(arn).ok_or_else(|| no_policy(arn))?;
        let pos = pol
            .versions
            .iter()
            .position(|v| v.id == version)
            .ok_or_else(|| no_version(arn, version))?;
        if pol.default_version == version {
            return Err(delete_conflict(
                "Cannot delete the default version of a policy.",
            ));
        }
        pol.versions.remove(pos);
        let id = pol.id.clone();
        tx.touch(Kind::Policy, &id);
        Ok(Value::map())
    })
    .await
}

fn list_versions(p: &IamProvider, ctx: &RequestContext, i: &Value) -> Result<Value, AwsError> {
    let arn = i.str("PolicyArn").unwrap_or_default();
    validate::policy_arn(arn)?;
    let acct = p.account(ctx);
    let c = acct.core.read().unwrap();
    let (vs, default) = versions(&c, arn).ok_or_else(|| no_policy(arn))?;
    let Value::List(all) = version_list(&vs, &default, false) else {
        return Ok(Value::map());
    };
    // Newest first; the sort key keeps that order across pages.
    let items = all
        .into_iter()
        .enumerate()
        .map(|(n, v)| (format!("{n:06}"), v))
        .collect();
    list_page(items, i, "Versions")
}

async fn set_default(p: &IamProvider, ctx: &RequestContext, i: &Value) -> Result<Value, AwsError> {
    let arn = i.str("PolicyArn").unwrap_or_default();
    let version = i.str("VersionId").unwrap_or_default();
    validate::policy_arn(arn)?;
    p.write(ctx, |tx| {
        let now = tx.now;
        let pol = tx.core.policy_mut(arn).ok_or_else(|| no_policy(arn))?;
        if !pol.versions.iter().any(|v| v.id == version) {
            return Err(no_version(arn, version));
        }
        pol.default_version = version.to_owned();
        pol.updated = now;
        let id = pol.id.clone();
        tx.touch(Kind::Policy, &id);
        Ok(Value::map())
    })
    .await
}

fn entities_for_policy(
    p: &IamProvider,
    ctx: &RequestContext,
    i: &Value,
) -> Result<Value, AwsError> {
    let arn = i.str("PolicyArn").unwrap_or_default();
    validate::policy_arn(arn)?;
    let acct = p.account(ctx);
    let c = acct.core.read().unwrap();
    if find(&c, arn).is_none() {
        return Err(no_policy(arn));
    }
    let filter = i.str("EntityFilter");
    let wants = |kind: &str| match filter {
        Some(f @ ("User" | "Role" | "Group")) => f == kind,
        _ => true,
    };
    let usage = i.str("PolicyUsageFilter");
    let uses = |attached: &[String], boundary: &Option<String>| {
        let a = attached.iter().any(|x| x == arn);
        let b = boundary.as_deref() == Some(arn);
        match usage {
            Some("PermissionsPolicy") => a,
            Some("PermissionsBoundary") => b,
            _ => a || b,
        }
    };
    let mut items: Vec<(String, (&str, Value))> = Vec::new();
    if wants("Group") {
        for (k, g) in &c.groups {
            if under_prefix(&g.path, i) && uses(&g.attached, &None) {
                let v = Value::map()
                    .with("GroupName", g.name.as_str())
                    .with("GroupId", g.id.as_str());
                items.push((format!("g\t{k}"), ("PolicyGroups", v)));
            }
        }
    }
    if wants("Role") {
        for (k, r) in &c.roles {
            if under_prefix(&r.path, i) && uses(&r.attached, &r.boundary) {
                let v = Value::map()
                    .with("RoleName", r.name.as_str())
                    .with("RoleId", r.id.as_str());
                items.push((format!("r\t{k}"), ("PolicyRoles", v)));
            }
        }
    }
    if wants("User") {
        for (k, u) in &c.users {
            if under_prefix(&u.path, i) && uses(&u.attached, &u.boundary) {
                let v = Value::map()
                    .with("UserName", u.name.as_str())
                    .with("UserId", u.id.as_str());
                items.push((format!("u\t{k}"), ("PolicyUsers", v)));
            }
        }
    }
    let (page, next) = page(items, i)?;
    let mut out = Value::map()
        .with("PolicyGroups", Value::List(Vec::new()))
        .with("PolicyRoles", Value::List(Vec::new()))
        .with("PolicyUsers", Value::List(Vec::new()));
    for (member, v) in page {
        if let Some(Value::Map(m)) = Some(&mut out)
            && let Some(Value::List(l)) = m.get_mut(member)
        {
            l.push(v);
        }
    }
    Ok(paged(out, next))
}

/// Whether a policy document allows some action of service `namespace`.
pub(crate) fn grants_service(doc: &str, namespace: &str) -> bool {
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(doc) else {
        return false;
    };
    let statements = match doc.get("Statement") {
        Some(serde_json::Value::Array(s)) => s.iter().collect::<Vec<_>>(),
        Some(s) => vec![s],
        None => return false,
    };
    statements.iter().any(|s| {
        s.get("Effect").and_then(|e| e.as_str()) == Some("Allow")
            && match s.get("Action") {
                Some(serde_json::Value::String(a)) => action_in(a, namespace),
                Some(serde_json::Value::Array(l)) => l
                    .iter()
                    .filter_map(|a| a.as_str())
                    .any(|a| action_in(a, namespace)),
                _ => false,
            }
    })
}

fn action_in(action: &str, namespace: &str) -> bool {
    action == "*"
        || action
            .split_once(':')
            .is_some_and(|(ns, _)| ns.eq_ignore_ascii_case(namespace))
}

fn granting_access(p: &IamProvider, ctx: &RequestContext, i: &Value) -> Result<Value, AwsError> {
    let arn = i.str("Arn").unwrap_or_default();
    let namespaces = input_strings(i.get("ServiceNamespaces"));
    let acct = p.account(ctx);
    let c = acct.core.read().unwrap();
    // (policy name, type, ARN of a managed one, owner kind and name of an inline one, doc)
    type Source = (
        String,
        &'static str,
        Option<String>,
        Option<(&'static str, String)>,
        String,
    );
    let mut sources: Vec<Source> = Vec::new();
    let managed = |arns: &[String], sources: &mut Vec<Source>| {
        for a in arns {
            if let Some(doc) = c.managed_document(a) {
                sources.push((
                    arn_name(a).to_owned(),
                    "MANAGED",
                    Some(a.clone()),
                    None,
                    doc,
                ));
            }
        }
    };
    let inline = |kind: &'static str,
                  owner: &str,
                  docs: &std::collections::BTreeMap<String, String>,
                  sources: &mut Vec<Source>| {
        for (n, d) in docs {
            sources.push((
                n.clone(),
                "INLINE",
                None,
                Some((kind, owner.to_owned())),
                d.clone(),
            ));
        }
    };
    if let Some(u) = c.user_by_arn(arn) {
        inline("USER", &u.name, &u.inline, &mut sources);
        managed(&u.attached, &mut sources);
        for g in u.groups.iter().filter_map(|id| c.group_by_id(id)) {
            inline("GROUP", &g.name, &g.inline, &mut sources);
            managed(&g.attached, &mut sources);
        }
    } else if let Some(g) = c.group_by_arn(arn) {
        inline("GROUP", &g.name, &g.inline, &mut sources);
        managed(&g.attached, &mut sources);
    } else if let Some(r) = c.role_by_arn(arn) {
        inline("ROLE", &r.name, &r.inline, &mut sources);
        managed(&r.attached, &mut sources);
    } else {
        return Err(no_such(format!(
            "The entity with ARN {arn} cannot be found."
        )));
    }
    let entries = namespaces
        .iter()
        .map(|ns| {
            let policies = sources
                .iter()
                .filter(|s| grants_service(&s.4, ns))
                .map(|(name, kind, parn, owner, _)| {
                    let mut v = Value::map()
                        .with("PolicyName", name.as_str())
                        .with("PolicyType", *kind);
                    if let Some(a) = parn {
                        v.insert("PolicyArn", a.as_str());
                    }
                    if let Some((k, n)) = owner {
                        v.insert("EntityType", *k);
                        v.insert("EntityName", n.as_str());
                    }
                    v
                })
                .collect::<Vec<_>>();
            Value::map()
                .with("ServiceNamespace", ns.as_str())
                .with("Policies", Value::List(policies))
        })
        .collect::<Vec<_>>();
    Ok(Value::map()
        .with("PoliciesGrantingServiceAccess", Value::List(entries))
        .with("IsTruncated", false))
}
