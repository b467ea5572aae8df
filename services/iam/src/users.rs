//! Users: create, read, rename, delete, list; permissions boundaries.

use crate::state::{Core, Kind, User, key, no_user};
use crate::util::{
    USERS_QUOTA, already_exists, boundary_value, check_account_quota, delete_conflict, input_tags,
    list_page, new_id, no_such, ts, under_prefix, validation, with_tags,
};
use crate::{Caller, IamProvider, validate};
use nephos_core::{AwsError, RequestContext, Value};
use std::collections::BTreeMap;

pub const OPS: &[&str] = &[
    "CreateUser",
    "DeleteUser",
    "DeleteUserPermissionsBoundary",
    "GetUser",
    "ListUsers",
    "PutUserPermissionsBoundary",
    "UpdateUser",
];

pub async fn handle(
    p: &IamProvider,
    ctx: &RequestContext,
    op: &str,
    i: &Value,
) -> Result<Value, AwsError> {
    match op {
        "CreateUser" => create_user(p, ctx, i).await,
        "GetUser" => get_user(p, ctx, i),
        "UpdateUser" => update_user(p, ctx, i).await,
        "DeleteUser" => delete_user(p, ctx, i).await,
        "ListUsers" => list_users(p, ctx, i),
        "PutUserPermissionsBoundary" => put_boundary(p, ctx, i).await,
        "DeleteUserPermissionsBoundary" => delete_boundary(p, ctx, i).await,
        _ => Err(AwsError::not_implemented("iam", op)),
    }
}

/// A user as CreateUser and GetUser answer it (`full`), or as listings do.
pub(crate) fn user_value(c: &Core, u: &User, full: bool) -> Value {
    let mut v = Value::map()
        .with("Path", u.path.as_str())
        .with("UserName", u.name.as_str())
        .with("UserId", u.id.as_str())
        .with("Arn", c.arn("user", &u.path, &u.name))
        .with("CreateDate", ts(u.created));
    if full {
        if let Some(b) = &u.boundary {
            v.insert("PermissionsBoundary", boundary_value(b));
        }
        v = with_tags(v, &u.tags);
    }
    v
}

/// A permissions boundary to set: a managed policy ARN that exists.
pub(crate) fn check_boundary(c: &Core, arn: &str) -> Result<(), AwsError> {
    validate::boundary_arn(arn)?;
    if c.managed_exists(arn) {
        Ok(())
    } else {
        Err(no_such(format!(
            "Scope ARN: {arn} does not exist or is not attachable."
        )))
    }
}

/// The name of the user an operation is about: `UserName`, else the calling user.
pub(crate) fn target_user(ctx: &RequestContext, i: &Value) -> Result<Option<String>, AwsError> {
    if let Some(n) = i.str("UserName") {
        return Ok(Some(n.to_owned()));
    }
    match IamProvider::caller(ctx) {
        Caller::User(n) => Ok(Some(n)),
        Caller::Root => Ok(None),
        Caller::Other => Err(validation(
            "Must specify userName when calling with non-User credentials",
        )),
    }
}

async fn create_user(p: &IamProvider, ctx: &RequestContext, i: &Value) -> Result<Value, AwsError> {
    let name = i.str("UserName").unwrap_or_default();
    let path = i.str("Path").unwrap_or("/");
    let tags = input_tags(i.get("Tags"));
    let boundary = i.str("PermissionsBoundary");
    validate::path(path)?;
    validate::tags(&tags)?;
    p.write(ctx, |tx| {
        if tx.core.users.contains_key(&key(name)) {
            return Err(already_exists(format!(
                "User with name {name} already exists."
            )));
        }
        check_account_quota(tx.core.users.len(), USERS_QUOTA, "UsersPerAccount")?;
        if let Some(b) = boundary {
            check_boundary(tx.core, b)?;
        }
        let u = User {
            id: new_id("AIDA"),
            name: name.to_owned(),
            path: path.to_owned(),
            created: tx.now,
            tags,
            boundary: boundary.map(str::to_owned),
            inline: BTreeMap::new(),
            attached: Vec::new(),
            groups: Vec::new(),
            keys: Vec::new(),
        };
        let out = Value::map().with("User", user_value(tx.core, &u, true));
        tx.touch(Kind::User, &u.id);
        tx.core.insert_user(u);
        Ok(out)
    })
    .await
}

fn get_user(p: &IamProvider, ctx: &RequestContext, i: &Value) -> Result<Value, AwsError> {
    let acct = p.account(ctx);
    let c = acct.core.read().unwrap();
    let Some(name) = target_user(ctx, i)? else {
        // The root user: its id is the account number.
        let root = Value::map()
            .with("UserId", ctx.account_id.as_str())
            .with("Arn", format!("arn:aws:iam::{}:root", ctx.account_id))
            .with(
                "CreateDate",
                ts(c.created
                    .unwrap_or_else(|| ctx.clock.now_millis() / 1000 * 1000)),
            );
        return Ok(Value::map().with("User", root));
    };
    Ok(Value::map().with("User", user_value(&c, c.user(&name)?, true)))
}

async fn update_user(p: &IamProvider, ctx: &RequestContext, i: &Value) -> Result<Value, AwsError> {
    let name = i.str("UserName").unwrap_or_default();
    let new_name = i.str("NewUserName");
    let new_path = i.str("NewPath");
    if let Some(np) = new_path {
        validate::path(np)?;
    }
    // The extras know the user by its stored name: a rename moves its login profile, MFA
    // devices, SSH keys, certificates and service-specific credentials along.
    p.write_with_extras(ctx, |tx, extras| {
        let id = tx.core.user(name)?.id.clone();
        if let Some(n) = new_name
            && key(n) != key(name)
            && tx.core.users.contains_key(&key(n))
        {
            return Err(already_exists(format!(
                "User with name {n} already exists."
            )));
        }
        let mut u = tx.core.remove_user(name).ok_or_else(|| no_user(name))?;
        let old = u.name.clone();
        if let Some(n) = new_name {
            u.name = n.to_owned();
        }
        if let Some(np) = new_path {
            u.path = np.to_owned();
        }
        if u.name != old {
            let moved = extras.rename_user(&tx.core.account, &old, &u.name);
            tx.extras_changes.extend(moved);
        }
        tx.core.insert_user(u);
        tx.touch(Kind::User, &id);
        Ok(Value::map())
    })
    .await
}

async fn delete_user(p: &IamProvider, ctx: &RequestContext, i: &Value) -> Result<Value, AwsError> {
    let name = i.str("UserName").unwrap_or_default();
    // The extras' resources (login profile, MFA devices, SSH keys, certificates,
    // service-specific credentials) block the deletion too; both are locked so none is
    // added between the check and the deletion.
    p.write_with_extras(ctx, |tx, extras| {
        let u = tx.core.user(name)?;
        let in_extras = extras.user_has_resources(&u.name);
        let conflict = if !u.keys.is_empty() {
            Some("Cannot delete entity, must delete access keys first.")
        } else if !u.inline.is_empty() {
            Some("Cannot delete entity, must delete policies first.")
        } else if !u.attached.is_empty() {
            Some("Cannot delete entity, must detach all policies first.")
        } else if !u.groups.is_empty() {
            Some("Cannot delete entity, must remove users from group first.")
        } else if in_extras.is_some() {
            in_extras
        } else {
            None
        };
        if let Some(m) = conflict {
            return Err(delete_conflict(m));
        }
        let u = tx.core.remove_user(name).ok_or_else(|| no_user(name))?;
        tx.touch(Kind::User, &u.id);
        Ok(Value::map())
    })
    .await
}

fn list_users(p: &IamProvider, ctx: &RequestContext, i: &Value) -> Result<Value, AwsError> {
    let acct = p.account(ctx);
    let c = acct.core.read().unwrap();
    let items = c
        .users
        .iter()
        .filter(|(_, u)| under_prefix(&u.path, i))
        .map(|(k, u)| (k.clone(), user_value(&c, u, false)))
        .collect();
    list_page(items, i, "Users")
}

async fn put_boundary(p: &IamProvider, ctx: &RequestContext, i: &Value) -> Result<Value, AwsError> {
    let name = i.str("UserName").unwrap_or_default();
    let arn = i.str("PermissionsBoundary").unwrap_or_default();
    p.write(ctx, |tx| {
        tx.core.user(name)?;
        check_boundary(tx.core, arn)?;
        let u = tx.core.user_mut(name)?;
        let old = u.boundary.replace(arn.to_owned());
        let id = u.id.clone();
        if let Some(o) = old {
            Core::count(&mut tx.core.boundaries, &o, -1);
        }
        Core::count(&mut tx.core.boundaries, arn, 1);
        tx.touch(Kind::User, &id);
        Ok(Value::map())
    })
    .await
}

async fn delete_boundary(
    p: &IamProvider,
    ctx: &RequestContext,
    i: &Value,
) -> Result<Value, AwsError> {
    let name = i.str("UserName").unwrap_or_default();
    p.write(ctx, |tx| {
        let u = tx.core.user_mut(name)?;
        let old = u.boundary.take();
        let id = u.id.clone();
        if let Some(o) = old {
            Core::count(&mut tx.core.boundaries, &o, -1);
            tx.touch(Kind::User, &id);
        }
        Ok(Value::map())
    })
    .await
}
