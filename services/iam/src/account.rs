//! Account-wide views: GetAccountSummary, GetAccountAuthorizationDetails, and
//! service-last-accessed reports built from what nephos saw of access key use.

use crate::IamProvider;
use crate::policies::{self, PolicyForm, View, find, version_list};
use crate::profiles::profile_value;
use crate::roles::{RoleForm, role_value};
use crate::state::{Core, EntityAccess, Job, Kind, ServiceAccess, arn_name};
use crate::util::{
    self, boundary_value, encode_document, input_strings, no_such, page, paged, tags_value, ts,
    uuid,
};
use nephos_core::{AwsError, RequestContext, Value};
use std::collections::{BTreeMap, BTreeSet};

pub const OPS: &[&str] = &[
    "GenerateServiceLastAccessedDetails",
    "GetAccountAuthorizationDetails",
    "GetAccountSummary",
    "GetServiceLastAccessedDetails",
    "GetServiceLastAccessedDetailsWithEntities",
];

/// IAM's default quotas, as GetAccountSummary reports them.
const QUOTAS: &[(&str, i64)] = &[
    ("AccessKeysPerUserQuota", 2),
    ("AssumeRolePolicySizeQuota", 2_048),
    ("AttachedPoliciesPerGroupQuota", 10),
    ("AttachedPoliciesPerRoleQuota", 10),
    ("AttachedPoliciesPerUserQuota", 10),
    ("GlobalEndpointTokenVersion", 1),
    ("GroupPolicySizeQuota", 5_120),
    ("GroupsPerUserQuota", 10),
    ("GroupsQuota", util::GROUPS_QUOTA as i64),
    (
        "InstanceProfilesQuota",
        util::INSTANCE_PROFILES_QUOTA as i64,
    ),
    ("PoliciesQuota", util::POLICIES_QUOTA as i64),
    ("PolicySizeQuota", 6_144),
    ("PolicyVersionsInUseQuota", 10_000),
    ("RolePolicySizeQuota", 10_240),
    ("RolesQuota", util::ROLES_QUOTA as i64),
    ("ServerCertificatesQuota", 20),
    ("SigningCertificatesPerUserQuota", 2),
    ("UserPolicySizeQuota", 2_048),
    ("UsersQuota", util::USERS_QUOTA as i64),
    ("VersionsPerPolicyQuota", 5),
];

/// Counts the extras module reports; zero until it reports them.
const EXTRAS_COUNTS: &[&str] = &[
    "AccountMFAEnabled",
    "AccountPasswordPresent",
    "AccountSigningCertificatesPresent",
    "MFADevices",
    "MFADevicesInUse",
    "Providers",
    "ServerCertificates",
];

pub async fn handle(
    p: &IamProvider,
    ctx: &RequestContext,
    op: &str,
    i: &Value,
) -> Result<Value, AwsError> {
    match op {
        "GetAccountSummary" => summary(p, ctx),
        "GetAccountAuthorizationDetails" => details(p, ctx, i),
        "GenerateServiceLastAccessedDetails" => generate(p, ctx, i).await,
        "GetServiceLastAccessedDetails" => report(p, ctx, i),
        "GetServiceLastAccessedDetailsWithEntities" => report_entities(p, ctx, i),
        _ => Err(AwsError::not_implemented("iam", op)),
    }
}

fn summary(p: &IamProvider, ctx: &RequestContext) -> Result<Value, AwsError> {
    let acct = p.account(ctx);
    let mut map = Value::map();
    for (k, v) in QUOTAS {
        map.insert(k, *v);
    }
    for k in EXTRAS_COUNTS {
        map.insert(k, 0i64);
    }
    {
        let c = acct.core.read().unwrap();
        let n = |x: usize| i64::try_from(x).unwrap_or(i64::MAX);
        map.insert("Users", n(c.users.len()));
        map.insert("Groups", n(c.groups.len()));
        map.insert("Roles", n(c.roles.len()));
        map.insert("Policies", n(c.policies.len()));
        map.insert("InstanceProfiles", n(c.profiles.len()));
        // Each attachment of a managed policy puts one of its versions in use.
        map.insert("PolicyVersionsInUse", c.attachments.values().sum::<i64>());
        map.insert(
            "AccountAccessKeysPresent",
            i64::from(!c.root_keys.is_empty()),
        );
    }
    for (k, v) in acct.extras.read().unwrap().summary_counts() {
        map.insert(k, v);
    }
    Ok(Value::map().with("SummaryMap", map))
}

fn attached_list(arns: &[String]) -> Value {
    Value::List(
        arns.iter()
            .map(|a| {
                Value::map()
                    .with("PolicyName", arn_name(a))
                    .with("PolicyArn", a.as_str())
            })
            .collect(),
    )
}

fn inline_list(docs: &BTreeMap<String, String>) -> Value {
    Value::List(
        docs.iter()
            .map(|(n, d)| {
                Value::map()
                    .with("PolicyName", n.as_str())
                    .with("PolicyDocument", encode_document(d))
            })
            .collect(),
    )
}

fn details(p: &IamProvider, ctx: &RequestContext, i: &Value) -> Result<Value, AwsError> {
    let filter = input_strings(i.get("Filter"));
    let wants = |k: &str| filter.is_empty() || filter.iter().any(|f| f == k);
    let acct = p.account(ctx);
    let c = acct.core.read().unwrap();
    let mut items: Vec<(String, (&str, Value))> = Vec::new();
    if wants("User") {
        for (k, u) in &c.users {
            let groups = u
                .groups
                .iter()
                .filter_map(|id| c.group_by_id(id))
                .map(|g| Value::from(g.name.as_str()))
                .collect::<Vec<_>>();
            let mut v = crate::users::user_value(&c, u, false)
                .with("UserPolicyList", inline_list(&u.inline))
                .with("GroupList", Value::List(groups))
                .with("AttachedManagedPolicies", attached_list(&u.attached))
                .with("Tags", tags_value(&u.tags));
            if let Some(b) = &u.boundary {
                v.insert("PermissionsBoundary", boundary_value(b));
            }
            items.push((format!("1\t{k}"), ("UserDetailList", v)));
        }
    }
    if wants("Group") {
        for (k, g) in &c.groups {
            let v = crate::groups::group_value(&c, g)
                .with("GroupPolicyList", inline_list(&g.inline))
                .with("AttachedManagedPolicies", attached_list(&g.attached));
            items.push((format!("2\t{k}"), ("GroupDetailList", v)));
        }
    }
    if wants("Role") {
        for (k, r) in &c.roles {
            let profiles = c
                .profiles
                .values()
                .filter(|pr| pr.roles.iter().any(|n| crate::state::key(n) == *k))
                .map(|pr| profile_value(&c, pr, false))
                .collect::<Vec<_>>();
            let mut v = role_value(&c, r, RoleForm::Get)
                .with("InstanceProfileList", Value::List(profiles))
                .with("RolePolicyList", inline_list(&r.inline))
                .with("AttachedManagedPolicies", attached_list(&r.attached))
                .with("Tags", tags_value(&r.tags));
            if let Value::Map(m) = &mut v {
                m.shift_remove("MaxSessionDuration");
                m.shift_remove("Description");
            }
            items.push((format!("3\t{k}"), ("RoleDetailList", v)));
        }
    }
    let mut views: Vec<View> = Vec::new();
    if wants("LocalManagedPolicy") {
        views.extend(c.policies.values().map(View::customer));
    }
    if wants("AWSManagedPolicy") {
        // Only the AWS managed policies the account uses, as IAM answers.
        views.extend(
            crate::catalog::all()
                .iter()
                .filter(|m| c.attachments.contains_key(&m.arn) || c.boundaries.contains_key(&m.arn))
                .map(View::aws),
        );
    }
    for v in views {
        let mut out = policies::policy_value(&c, &v, PolicyForm::List);
        if let Some(d) = v.description {
            out.insert("Description", d);
        }
        if let Some((vs, default)) = policies::versions(&c, v.arn) {
            out.insert("PolicyVersionList", version_list(&vs, &default, true));
        }
        items.push((format!("4\t{}", v.sort_key()), ("Policies", out)));
    }
    items.sort_by(|a, b| a.0.cmp(&b.0));
    let (page, next) = page(items, i)?;
    let mut out = Value::map();
    for m in [
        "UserDetailList",
        "GroupDetailList",
        "RoleDetailList",
        "Policies",
    ] {
        out.insert(m, Value::List(Vec::new()));
    }
    for (member, v) in page {
        if let Value::Map(m) = &mut out
            && let Some(Value::List(l)) = m.get_mut(member)
        {
            l.push(v);
        }
    }
    Ok(paged(out, next))
}

/// The service namespaces a policy document's Allow statements name (`s3` of
/// `s3:GetObject`); `*` names none in particular.
fn namespaces(doc: &str, into: &mut BTreeSet<String>) {
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(doc) else {
        return;
    };
    let statements = match doc.get("Statement") {
        Some(serde_json::Value::Array(s)) => s.iter().collect::<Vec<_>>(),
        Some(s) => vec![s],
        None => return,
    };
    for s in statements {
        if s.get("Effect").and_then(|e| e.as_str()) != Some("Allow") {
            continue;
        }
        let actions: Vec<&str> = match s.get("Action") {
            Some(serde_json::Value::String(a)) => vec![a.as_str()],
            Some(serde_json::Value::Array(l)) => l.iter().filter_map(|a| a.as_str()).collect(),
            _ => Vec::new(),
        };
        for a in actions {
            if let Some((ns, _)) = a.split_once(':') {
                into.insert(ns.to_lowercase());
            }
        }
    }
}

/// An entity a report covers, with the policy documents that apply to it.
struct Subject {
    info: EntityAccess,
    /// (service, region, when) of each of its access keys' last use.
    uses: Vec<(String, String, i64)>,
}

fn user_subject(c: &Core, u: &crate::state::User) -> Subject {
    Subject {
        info: EntityAccess {
            arn: c.arn("user", &u.path, &u.name),
            kind: "USER".to_owned(),
            name: u.name.clone(),
            id: u.id.clone(),
            path: u.path.clone(),
            last: None,
        },
        uses: u
            .keys
            .iter()
            .filter_map(|k| k.last_used.as_ref())
            .map(|l| (l.service.clone(), l.region.clone(), l.at))
            .collect(),
    }
}

fn role_subject(c: &Core, r: &crate::state::Role) -> Subject {
    Subject {
        info: EntityAccess {
            arn: c.arn("role", &r.path, &r.name),
            kind: "ROLE".to_owned(),
            name: r.name.clone(),
            id: r.id.clone(),
            path: r.path.clone(),
            last: None,
        },
        // A role's last use names no service.
        uses: Vec::new(),
    }
}

/// The entities and documents a report on `arn` covers.
fn subjects(c: &Core, arn: &str) -> Option<(Vec<Subject>, Vec<String>)> {
    let mut docs = Vec::new();
    let managed = |arns: &[String], docs: &mut Vec<String>| {
        docs.extend(arns.iter().filter_map(|a| c.managed_document(a)));
    };
    if let Some(u) = c.user_by_arn(arn) {
        docs.extend(u.inline.values().cloned());
        managed(&u.attached, &mut docs);
        for g in u.groups.iter().filter_map(|id| c.group_by_id(id)) {
            docs.extend(g.inline.values().cloned());
            managed(&g.attached, &mut docs);
        }
        return Some((vec![user_subject(c, u)], docs));
    }
    if let Some(r) = c.role_by_arn(arn) {
        docs.extend(r.inline.values().cloned());
        managed(&r.attached, &mut docs);
        return Some((vec![role_subject(c, r)], docs));
    }
    if let Some(g) = c.group_by_arn(arn) {
        docs.extend(g.inline.values().cloned());
        managed(&g.attached, &mut docs);
        let members = c
            .users
            .values()
            .filter(|u| u.groups.contains(&g.id))
            .map(|u| user_subject(c, u))
            .collect();
        return Some((members, docs));
    }
    let doc = find(c, arn).and_then(|_| c.managed_document(arn))?;
    let mut subjects: Vec<Subject> = c
        .users
        .values()
        .filter(|u| {
            u.attached.iter().any(|a| a == arn)
                || u.groups
                    .iter()
                    .filter_map(|id| c.group_by_id(id))
                    .any(|g| g.attached.iter().any(|a| a == arn))
        })
        .map(|u| user_subject(c, u))
        .collect();
    subjects.extend(
        c.roles
            .values()
            .filter(|r| r.attached.iter().any(|a| a == arn))
            .map(|r| role_subject(c, r)),
    );
    Some((subjects, vec![doc]))
}

async fn generate(p: &IamProvider, ctx: &RequestContext, i: &Value) -> Result<Value, AwsError> {
    let arn = i.str("Arn").unwrap_or_default();
    let granularity = i.str("Granularity").unwrap_or("SERVICE_LEVEL");
    p.write(ctx, |tx| {
        let (subjects, docs) = subjects(tx.core, arn)
            .ok_or_else(|| no_such(format!("The entity with ARN {arn} cannot be found.")))?;
        let mut names = BTreeSet::new();
        for d in &docs {
            namespaces(d, &mut names);
        }
        for s in &subjects {
            names.extend(s.uses.iter().map(|u| u.0.clone()));
        }
        let services = names
            .into_iter()
            .map(|ns| {
                let mut entities = Vec::new();
                let mut best: Option<(i64, String, String)> = None;
                for s in &subjects {
                    let last = s.uses.iter().filter(|u| u.0 == ns).max_by_key(|u| u.2);
                    let mut info = s.info.clone();
                    if let Some((_, region, at)) = last {
                        info.last = Some(*at);
                        if best.as_ref().is_none_or(|b| b.0 < *at) {
                            best = Some((*at, region.clone(), info.arn.clone()));
                        }
                    }
                    entities.push(info);
                }
                ServiceAccess {
                    namespace: ns,
                    last: best.as_ref().map(|b| b.0),
                    region: best.as_ref().map(|b| b.1.clone()),
                    entity: best.map(|b| b.2),
                    entities,
                }
            })
            .collect();
        let id = uuid();
        tx.core.jobs.insert(
            id.clone(),
            Job {
                arn: arn.to_owned(),
                granularity: granularity.to_owned(),
                created: tx.now,
                services,
            },
        );
        tx.touch(Kind::Job, &id);
        Ok(Value::map().with("JobId", id))
    })
    .await
}

fn job<'a>(c: &'a Core, i: &Value) -> Result<&'a Job, AwsError> {
    let id = i.str("JobId").unwrap_or_default();
    c.jobs
        .get(id)
        .ok_or_else(|| no_such(format!("The job with id {id} cannot be found.")))
}

fn job_header(j: &Job) -> Value {
    Value::map()
        .with("JobStatus", "COMPLETED")
        .with("JobCreationDate", ts(j.created))
        .with("JobCompletionDate", ts(j.created))
}

fn report(p: &IamProvider, ctx: &RequestContext, i: &Value) -> Result<Value, AwsError> {
    let acct = p.account(ctx);
    let c = acct.core.read().unwrap();
    let j = job(&c, i)?;
    let items = j
        .services
        .iter()
        .map(|s| {
            let mut v = Value::map()
                .with("ServiceName", s.namespace.as_str())
                .with("ServiceNamespace", s.namespace.as_str())
                .with(
                    "TotalAuthenticatedEntities",
                    i64::try_from(s.entities.iter().filter(|e| e.last.is_some()).count())
                        .unwrap_or(0),
                );
            if let Some(at) = s.last {
                v.insert("LastAuthenticated", ts(at));
            }
            if let Some(r) = &s.region {
                v.insert("LastAuthenticatedRegion", r.as_str());
            }
            if let Some(e) = &s.entity {
                v.insert("LastAuthenticatedEntity", e.as_str());
            }
            (s.namespace.clone(), v)
        })
        .collect();
    let (page, next) = page(items, i)?;
    let out = job_header(j)
        .with("JobType", j.granularity.as_str())
        .with("ServicesLastAccessed", Value::List(page));
    Ok(paged(out, next))
}

fn report_entities(p: &IamProvider, ctx: &RequestContext, i: &Value) -> Result<Value, AwsError> {
    let ns = i.str("ServiceNamespace").unwrap_or_default();
    let acct = p.account(ctx);
    let c = acct.core.read().unwrap();
    let j = job(&c, i)?;
    let items = j
        .services
        .iter()
        .filter(|s| s.namespace == ns)
        .flat_map(|s| s.entities.iter())
        .map(|e| {
            let mut v = Value::map().with(
                "EntityInfo",
                Value::map()
                    .with("Arn", e.arn.as_str())
                    .with("Name", e.name.as_str())
                    .with("Type", e.kind.as_str())
                    .with("Id", e.id.as_str())
                    .with("Path", e.path.as_str()),
            );
            if let Some(at) = e.last {
                v.insert("LastAuthenticated", ts(at));
            }
            (e.arn.clone(), v)
        })
        .collect();
    let (page, next) = page(items, i)?;
    Ok(paged(
        job_header(j).with("EntityDetailsList", Value::List(page)),
        next,
    ))
}
