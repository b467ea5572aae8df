//! Roles: trust policies, session durations, descriptions, boundaries.

use crate::IamProvider;
use crate::state::{Core, Kind, Role, key, no_role};
use crate::users::check_boundary;
use crate::util::{
    ROLES_QUOTA, already_exists, boundary_value, check_account_quota, delete_conflict,
    encode_document, input_tags, list_page, new_id, ts, under_prefix, unmodifiable, with_tags,
};
use crate::validate::{self, DocKind};
use nephos_core::{AwsError, RequestContext, Value};
use std::collections::BTreeMap;

pub const OPS: &[&str] = &[
    "CreateRole",
    "DeleteRole",
    "DeleteRolePermissionsBoundary",
    "GetRole",
    "ListRoles",
    "PutRolePermissionsBoundary",
    "UpdateAssumeRolePolicy",
    "UpdateRole",
    "UpdateRoleDescription",
];

/// A role's session duration unless it says otherwise, in seconds.
pub(crate) const DEFAULT_MAX_SESSION: i64 = 3_600;

pub async fn handle(
    p: &IamProvider,
    ctx: &RequestContext,
    op: &str,
    i: &Value,
) -> Result<Value, AwsError> {
    match op {
        "CreateRole" => create_role(p, ctx, i).await,
        "GetRole" => get_role(p, ctx, i),
        "UpdateRole" => update_role(p, ctx, i).await,
        "UpdateRoleDescription" => update_description(p, ctx, i).await,
        "UpdateAssumeRolePolicy" => update_trust(p, ctx, i).await,
        "DeleteRole" => delete_role(p, ctx, i).await,
        "ListRoles" => list_roles(p, ctx, i),
        "PutRolePermissionsBoundary" => put_boundary(p, ctx, i).await,
        "DeleteRolePermissionsBoundary" => delete_boundary(p, ctx, i).await,
        _ => Err(AwsError::not_implemented("iam", op)),
    }
}

/// Which answer a role appears in: each carries different members.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum RoleForm {
    Create,
    Get,
    List,
}

pub(crate) fn role_value(c: &Core, r: &Role, form: RoleForm) -> Value {
    let mut v = Value::map()
        .with("Path", r.path.as_str())
        .with("RoleName", r.name.as_str())
        .with("RoleId", r.id.as_str())
        .with("Arn", c.arn("role", &r.path, &r.name))
        .with("CreateDate", ts(r.created))
        .with("AssumeRolePolicyDocument", encode_document(&r.trust));
    if let Some(d) = &r.description {
        v.insert("Description", d.as_str());
    }
    if form != RoleForm::Create {
        v.insert("MaxSessionDuration", r.max_session);
    }
    if form == RoleForm::Get {
        let mut used = Value::map();
        if let Some(l) = &r.last_used {
            used.insert("LastUsedDate", ts(l.at));
            used.insert("Region", l.region.as_str());
        }
        v.insert("RoleLastUsed", used);
    }
    if form != RoleForm::List {
        if let Some(b) = &r.boundary {
            v.insert("PermissionsBoundary", boundary_value(b));
        }
        v = with_tags(v, &r.tags);
    }
    v
}

/// A role its service owns cannot be changed by the account.
pub(crate) fn modifiable(r: &Role) -> Result<(), AwsError> {
    match r.linked_service {
        Some(_) => Err(unmodifiable(&r.name)),
        None => Ok(()),
    }
}

async fn create_role(p: &IamProvider, ctx: &RequestContext, i: &Value) -> Result<Value, AwsError> {
    let name = i.str("RoleName").unwrap_or_default();
    let path = i.str("Path").unwrap_or("/");
    let trust = i.str("AssumeRolePolicyDocument").unwrap_or_default();
    let tags = input_tags(i.get("Tags"));
    let boundary = i.str("PermissionsBoundary");
    validate::path(path)?;
    validate::policy_document(trust, DocKind::Trust)?;
    validate::tags(&tags)?;
    p.write(ctx, |tx| {
        if tx.core.roles.contains_key(&key(name)) {
            return Err(already_exists(format!(
                "Role with name {name} already exists."
            )));
        }
        check_account_quota(tx.core.roles.len(), ROLES_QUOTA, "RolesPerAccount")?;
        if let Some(b) = boundary {
            check_boundary(tx.core, b)?;
        }
        let r = Role {
            id: new_id("AROA"),
            name: name.to_owned(),
            path: path.to_owned(),
            created: tx.now,
            trust: trust.to_owned(),
            description: i.str("Description").map(str::to_owned),
            max_session: i.int("MaxSessionDuration").unwrap_or(DEFAULT_MAX_SESSION),
            boundary: boundary.map(str::to_owned),
            tags,
            inline: BTreeMap::new(),
            attached: Vec::new(),
            last_used: None,
            linked_service: None,
        };
        let out = Value::map().with("Role", role_value(tx.core, &r, RoleForm::Create));
        tx.touch(Kind::Role, &r.id);
        tx.core.insert_role(r);
        Ok(out)
    })
    .await
}

fn get_role(p: &IamProvider, ctx: &RequestContext, i: &Value) -> Result<Value, AwsError> {
    let acct = p.account(ctx);
    let c = acct.core.read().unwrap();
    let r = c.role(i.str("RoleName").unwrap_or_default())?;
    Ok(Value::map().with("Role", role_value(&c, r, RoleForm::Get)))
}

async fn update_role(p: &IamProvider, ctx: &RequestContext, i: &Value) -> Result<Value, AwsError> {
    let name = i.str("RoleName").unwrap_or_default();
    p.write(ctx, |tx| {
        let r = tx.core.role_mut(name)?;
        if let Some(d) = i.str("Description") {
            r.description = Some(d.to_owned());
        }
        if let Some(s) = i.int("MaxSessionDuration") {
            r.max_session = s;
        }
        let id = r.id.clone();
        tx.touch(Kind::Role, &id);
        Ok(Value::map())
    })
    .await
}

async fn update_description(
    p: &IamProvider,
    ctx: &RequestContext,
    i: &Value,
) -> Result<Value, AwsError> {
    let name = i.str("RoleName").unwrap_or_default();
    let description = i.str("Description").unwrap_or_default();
    p.write(ctx, |tx| {
        let r = tx.core.role_mut(name)?;
        r.description = Some(description.to_owned());
        let id = r.id.clone();
        tx.touch(Kind::Role, &id);
        let r = tx.core.role(name)?;
        Ok(Value::map().with("Role", role_value(tx.core, r, RoleForm::Get)))
    })
    .await
}

async fn update_trust(p: &IamProvider, ctx: &RequestContext, i: &Value) -> Result<Value, AwsError> {
    let name = i.str("RoleName").unwrap_or_default();
    let doc = i.str("PolicyDocument").unwrap_or_default();
    p.write(ctx, |tx| {
        modifiable(tx.core.role(name)?)?;
        validate::policy_document(doc, DocKind::Trust)?;
        let r = tx.core.role_mut(name)?;
        r.trust = doc.to_owned();
        let id = r.id.clone();
        tx.touch(Kind::Role, &id);
        Ok(Value::map())
    })
    .await
}

async fn delete_role(p: &IamProvider, ctx: &RequestContext, i: &Value) -> Result<Value, AwsError> {
    let name = i.str("RoleName").unwrap_or_default();
    p.write(ctx, |tx| {
        let r = tx.core.role(name)?;
        modifiable(r)?;
        delete_checks(tx.core, r)?;
        let r = tx.core.remove_role(name).ok_or_else(|| no_role(name))?;
        tx.touch(Kind::Role, &r.id);
        Ok(Value::map())
    })
    .await
}

/// What keeps a role from being deleted: instance profiles, policies.
pub(crate) fn delete_checks(c: &Core, r: &Role) -> Result<(), AwsError> {
    if c.profiles
        .values()
        .any(|p| p.roles.iter().any(|n| key(n) == key(&r.name)))
    {
        return Err(delete_conflict(
            "Cannot delete entity, must remove roles from instance profile first.",
        ));
    }
    if !r.attached.is_empty() {
        return Err(delete_conflict(
            "Cannot delete entity, must detach all policies first.",
        ));
    }
    if !r.inline.is_empty() {
        return Err(delete_conflict(
            "Cannot delete entity, must delete policies first.",
        ));
    }
    Ok(())
}

fn list_roles(p: &IamProvider, ctx: &RequestContext, i: &Value) -> Result<Value, AwsError> {
    let acct = p.account(ctx);
    let c = acct.core.read().unwrap();
    let items = c
        .roles
        .iter()
        .filter(|(_, r)| under_prefix(&r.path, i))
        .map(|(k, r)| (k.clone(), role_value(&c, r, RoleForm::List)))
        .collect();
    list_page(items, i, "Roles")
}

async fn put_boundary(p: &IamProvider, ctx: &RequestContext, i: &Value) -> Result<Value, AwsError> {
    let name = i.str("RoleName").unwrap_or_default();
    let arn = i.str("PermissionsBoundary").unwrap_or_default();
    p.write(ctx, |tx| {
        modifiable(tx.core.role(name)?)?;
        check_boundary(tx.core, arn)?;
        let r = tx.core.role_mut(name)?;
        let old = r.boundary.replace(arn.to_owned());
        let id = r.id.clone();
        if let Some(o) = old {
            Core::count(&mut tx.core.boundaries, &o, -1);
        }
        Core::count(&mut tx.core.boundaries, arn, 1);
        tx.touch(Kind::Role, &id);
        Ok(Value::map())
    })
    .await
}

async fn delete_boundary(
    p: &IamProvider,
    ctx: &RequestContext,
    i: &Value,
) -> Result<Value, AwsError> {
    let name = i.str("RoleName").unwrap_or_default();
    p.write(ctx, |tx| {
        modifiable(tx.core.role(name)?)?;
        let r = tx.core.role_mut(name)?;
        let old = r.boundary.take();
        let id = r.id.clone();
        if let Some(o) = old {
            Core::count(&mut tx.core.boundaries, &o, -1);
            tx.touch(Kind::Role, &id);
        }
        Ok(Value::map())
    })
    .await
}
