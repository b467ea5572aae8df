//! IAM and STS: entity ARNs from names (with their paths, which only create operations
//! carry: the others ask [`super::Lookup::iam_path`]) or given ARNs; STS's session
//! companions (`sts:TagSession`, `sts:SetSourceIdentity`); the operations that need no
//! permission.

use super::{Cx, Plan};
use nephos_core::Value;

/// `name` under `path` as IAM's ARNs write it: `/` is nothing, `/a/b/` is `a/b/`.
fn with_path(path: &str, name: &str) -> String {
    let p = path.trim_start_matches('/');
    if p.is_empty() {
        name.to_owned()
    } else if p.ends_with('/') {
        format!("{p}{name}")
    } else {
        format!("{p}/{name}")
    }
}

/// The path of an entity: the request's own `Path` when it creates the entity, else what
/// nephos knows, else `/`.
fn path_of(cx: &Cx, kind: &str, name: &str, creates: bool) -> String {
    if creates && let Some(p) = cx.input.str("Path") {
        return p.to_owned();
    }
    cx.lookup
        .iam_path(cx.account, kind, name)
        .unwrap_or_else(|| "/".to_owned())
}

fn entity(
    plan: Plan,
    cx: &Cx,
    var: &'static str,
    kind: &str,
    name: Option<&str>,
    creates: bool,
) -> Plan {
    match name {
        Some(n) => plan.var(var, with_path(&path_of(cx, kind, n, creates), n)),
        None => plan,
    }
}

pub(super) fn iam(op: &str, cx: &Cx) -> Vec<Plan> {
    let i = cx.input;
    let creates = op.starts_with("Create") || op.starts_with("Upload");
    let mut plan = cx.plan(op);

    // A user-scoped operation without `UserName` acts on the caller's own user.
    let user = i
        .str("UserName")
        .map(str::to_owned)
        .or_else(|| cx.lookup.caller_user());
    plan = entity(
        plan,
        cx,
        "UserNameWithPath",
        "user",
        user.as_deref(),
        creates,
    );
    plan = entity(
        plan,
        cx,
        "GroupNameWithPath",
        "group",
        i.str("GroupName"),
        creates,
    );
    plan = entity(
        plan,
        cx,
        "RoleNameWithPath",
        "role",
        i.str("RoleName"),
        creates,
    );
    plan = entity(
        plan,
        cx,
        "InstanceProfileNameWithPath",
        "instance-profile",
        i.str("InstanceProfileName"),
        creates,
    );
    plan = entity(
        plan,
        cx,
        "CertificateNameWithPath",
        "server-certificate",
        i.str("ServerCertificateName"),
        creates,
    );
    if op == "CreatePolicy" {
        plan = entity(
            plan,
            cx,
            "PolicyNameWithPath",
            "policy",
            i.str("PolicyName"),
            true,
        );
    }
    if op == "CreateVirtualMFADevice" {
        plan = entity(
            plan,
            cx,
            "MfaTokenIdWithPath",
            "mfa",
            i.str("VirtualMFADeviceName"),
            true,
        );
    }
    if op == "CreateOpenIDConnectProvider" {
        let url = i.str("Url").map(|u| {
            u.strip_prefix("https://")
                .or_else(|| u.strip_prefix("http://"))
                .unwrap_or(u)
        });
        plan = plan.var_opt("OidcProviderName", url);
    }
    if op == "CreateSAMLProvider" {
        plan = plan.var_opt("SamlProviderName", i.str("Name"));
    }
    plan = plan
        .var_opt("EntityPath", i.str("EntityPath"))
        .var_opt("DelegationRequestId", i.str("DelegationRequestId"));
    for member in [
        "PolicyArn",
        "OpenIDConnectProviderArn",
        "SAMLProviderArn",
        "SerialNumber",
        "PolicySourceArn",
        "Arn",
    ] {
        plan = plan.arn(i.str(member));
    }

    plan = plan
        .key1("iam:PolicyARN", i.str("PolicyArn"))
        .key1("iam:PermissionsBoundary", i.str("PermissionsBoundary"))
        .key1("iam:AWSServiceName", i.str("AWSServiceName"))
        .key1("iam:OrganizationsPolicyId", i.str("OrganizationsPolicyId"))
        .key1(
            "iam:ServiceSpecificCredentialServiceName",
            i.str("ServiceName"),
        )
        .key1(
            "iam:ServiceSpecificCredentialAgeDays",
            super::text(i.get("CredentialAgeDays")),
        );

    // Renaming or moving needs permission on the entity under its new name too.
    let renamed = match op {
        "UpdateUser" => {
            i.str("NewUserName")
                .or(i.str("NewPath").and(user.as_deref()))
                .map(|n| {
                    let path = i.str("NewPath").map(str::to_owned).unwrap_or_else(|| {
                        path_of(cx, "user", user.as_deref().unwrap_or(n), false)
                    });
                    format!("arn:aws:iam::{}:user/{}", cx.account, with_path(&path, n))
                })
        }
        "UpdateGroup" => {
            let old = i.str("GroupName");
            i.str("NewGroupName")
                .or(i.str("NewPath").and(old))
                .map(|n| {
                    let path = i
                        .str("NewPath")
                        .map(str::to_owned)
                        .unwrap_or_else(|| path_of(cx, "group", old.unwrap_or(n), false));
                    format!("arn:aws:iam::{}:group/{}", cx.account, with_path(&path, n))
                })
        }
        _ => None,
    };
    if let Some(new) = renamed {
        let kind = if op == "UpdateUser" { "user" } else { "group" };
        let old = match kind {
            "user" => user.as_deref(),
            _ => i.str("GroupName"),
        };
        let mut resources = Vec::new();
        if let Some(o) = old {
            resources.push(format!(
                "arn:aws:iam::{}:{kind}/{}",
                cx.account,
                with_path(&path_of(cx, kind, o, false), o)
            ));
        }
        resources.push(new);
        plan = plan.resources(resources);
    }
    vec![plan]
}

/// STS. AssumeRoleWithSAML and AssumeRoleWithWebIdentity are unsigned on AWS: their
/// authorization is the role's trust policy alone, evaluated for the action returned
/// here on the role; AssumeRole needs both the caller's permission and the trust policy.
pub(super) fn sts(op: &str, cx: &Cx) -> Vec<Plan> {
    let i = cx.input;
    match op {
        // AWS checks no permission for these: anyone may ask who they are, and
        // GetSessionToken authenticates (MFA) rather than acts.
        "GetCallerIdentity" | "GetSessionToken" => return Vec::new(),
        _ => {}
    }
    let role = i.str("RoleArn");
    let mut plan = cx
        .plan(op)
        .arn(role)
        .key1("sts:RoleSessionName", i.str("RoleSessionName"))
        .key1("sts:ExternalId", i.str("ExternalId"))
        .key1("sts:SourceIdentity", i.str("SourceIdentity"))
        .key("sts:TransitiveTagKeys", strings(i.get("TransitiveTagKeys")));
    match op {
        "GetFederationToken" => {
            plan = plan.var_opt("FederatedUserName", i.str("Name"));
        }
        "AssumeRoot" => {
            plan = plan.var_opt("Account", i.str("TargetPrincipal")).key1(
                "sts:TaskPolicyArn",
                i.get("TaskPolicyArn").and_then(|p| p.str("arn")),
            );
        }
        _ => {}
    }
    let mut out = vec![plan];
    if op.starts_with("AssumeRole") {
        // Passing session tags and setting a source identity are permissions of their
        // own, on the same role.
        let tags = i
            .get("Tags")
            .and_then(Value::as_list)
            .is_some_and(|t| !t.is_empty());
        let transitive = !strings(i.get("TransitiveTagKeys")).is_empty();
        if tags || transitive {
            out.push(
                cx.plan("TagSession")
                    .arn(role)
                    .key("sts:TransitiveTagKeys", strings(i.get("TransitiveTagKeys"))),
            );
        }
        if let Some(si) = i.str("SourceIdentity") {
            out.push(
                cx.plan("SetSourceIdentity")
                    .arn(role)
                    .key1("sts:SourceIdentity", Some(si))
                    .without_tags(),
            );
        }
    }
    out
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_list)
        .unwrap_or_default()
        .iter()
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect()
}
