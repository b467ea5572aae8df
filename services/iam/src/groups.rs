//! Groups and their members.

use crate::state::{Core, Group, Kind, key, no_group};
use crate::users::user_value;
use crate::util::{
    GROUPS_QUOTA, already_exists, check_account_quota, delete_conflict, limit_exceeded, list_page,
    new_id, no_such, page, paged, ts, under_prefix,
};
use crate::{IamProvider, validate};
use nephos_core::{AwsError, RequestContext, Value};
use std::collections::BTreeMap;

pub const OPS: &[&str] = &[
    "AddUserToGroup",
    "CreateGroup",
    "DeleteGroup",
    "GetGroup",
    "ListGroups",
    "ListGroupsForUser",
    "RemoveUserFromGroup",
    "UpdateGroup",
];

/// Groups a user may be in.
const GROUPS_PER_USER: usize = 10;

pub async fn handle(
    p: &IamProvider,
    ctx: &RequestContext,
    op: &str,
    i: &Value,
) -> Result<Value, AwsError> {
    match op {
        "CreateGroup" => create_group(p, ctx, i).await,
        "GetGroup" => get_group(p, ctx, i),
        "UpdateGroup" => update_group(p, ctx, i).await,
        "DeleteGroup" => delete_group(p, ctx, i).await,
        "ListGroups" => list_groups(p, ctx, i),
        "AddUserToGroup" => add_user(p, ctx, i).await,
        "RemoveUserFromGroup" => remove_user(p, ctx, i).await,
        "ListGroupsForUser" => groups_for_user(p, ctx, i),
        _ => Err(AwsError::not_implemented("iam", op)),
    }
}

pub(crate) fn group_value(c: &Core, g: &Group) -> Value {
    Value::map()
        .with("Path", g.path.as_str())
        .with("GroupName", g.name.as_str())
        .with("GroupId", g.id.as_str())
        .with("Arn", c.arn("group", &g.path, &g.name))
        .with("CreateDate", ts(g.created))
}

async fn create_group(p: &IamProvider, ctx: &RequestContext, i: &Value) -> Result<Value, AwsError> {
    let name = i.str("GroupName").unwrap_or_default();
    let path = i.str("Path").unwrap_or("/");
    validate::path(path)?;
    p.write(ctx, |tx| {
        if tx.core.groups.contains_key(&key(name)) {
            return Err(already_exists(format!(
                "Group with name {name} already exists."
            )));
        }
        check_account_quota(tx.core.groups.len(), GROUPS_QUOTA, "GroupsPerAccount")?;
        let g = Group {
            id: new_id("AGPA"),
            name: name.to_owned(),
            path: path.to_owned(),
            created: tx.now,
            inline: BTreeMap::new(),
            attached: Vec::new(),
        };
        let out = Value::map().with("Group", group_value(tx.core, &g));
        tx.touch(Kind::Group, &g.id);
        tx.core.insert_group(g);
        Ok(out)
    })
    .await
}

fn get_group(p: &IamProvider, ctx: &RequestContext, i: &Value) -> Result<Value, AwsError> {
    let acct = p.account(ctx);
    let c = acct.core.read().unwrap();
    let g = c.group(i.str("GroupName").unwrap_or_default())?;
    let members = c
        .users
        .iter()
        .filter(|(_, u)| u.groups.contains(&g.id))
        .map(|(k, u)| (k.clone(), user_value(&c, u, false)))
        .collect();
    let (users, next) = page(members, i)?;
    Ok(paged(
        Value::map()
            .with("Group", group_value(&c, g))
            .with("Users", Value::List(users)),
        next,
    ))
}

async fn update_group(p: &IamProvider, ctx: &RequestContext, i: &Value) -> Result<Value, AwsError> {
    let name = i.str("GroupName").unwrap_or_default();
    let new_name = i.str("NewGroupName");
    let new_path = i.str("NewPath");
    if let Some(np) = new_path {
        validate::path(np)?;
    }
    p.write(ctx, |tx| {
        let id = tx.core.group(name)?.id.clone();
        if let Some(n) = new_name
            && key(n) != key(name)
            && tx.core.groups.contains_key(&key(n))
        {
            return Err(already_exists(format!(
                "Group with name {n} already exists."
            )));
        }
        let mut g = tx.core.remove_group(name).ok_or_else(|| no_group(name))?;
        if let Some(n) = new_name {
            g.name = n.to_owned();
        }
        if let Some(np) = new_path {
            g.path = np.to_owned();
        }
        tx.core.insert_group(g);
        tx.touch(Kind::Group, &id);
        Ok(Value::map())
    })
    .await
}

async fn delete_group(p: &IamProvider, ctx: &RequestContext, i: &Value) -> Result<Value, AwsError> {
    let name = i.str("GroupName").unwrap_or_default();
    p.write(ctx, |tx| {
        let g = tx.core.group(name)?;
        if tx.core.users.values().any(|u| u.groups.contains(&g.id)) {
            return Err(delete_conflict(
                "Cannot delete entity, must remove users from group first.",
            ));
        }
        if !g.inline.is_empty() {
            return Err(delete_conflict(
                "Cannot delete entity, must delete policies first.",
            ));
        }
        if !g.attached.is_empty() {
            return Err(delete_conflict(
                "Cannot delete entity, must detach all policies first.",
            ));
        }
        let g = tx.core.remove_group(name).ok_or_else(|| no_group(name))?;
        tx.touch(Kind::Group, &g.id);
        Ok(Value::map())
    })
    .await
}

fn list_groups(p: &IamProvider, ctx: &RequestContext, i: &Value) -> Result<Value, AwsError> {
    let acct = p.account(ctx);
    let c = acct.core.read().unwrap();
    let items = c
        .groups
        .iter()
        .filter(|(_, g)| under_prefix(&g.path, i))
        .map(|(k, g)| (k.clone(), group_value(&c, g)))
        .collect();
    list_page(items, i, "Groups")
}

async fn add_user(p: &IamProvider, ctx: &RequestContext, i: &Value) -> Result<Value, AwsError> {
    let group = i.str("GroupName").unwrap_or_default();
    let user = i.str("UserName").unwrap_or_default();
    p.write(ctx, |tx| {
        let gid = tx.core.group(group)?.id.clone();
        let u = tx.core.user_mut(user)?;
        if u.groups.contains(&gid) {
            return Ok(Value::map());
        }
        if u.groups.len() >= GROUPS_PER_USER {
            return Err(limit_exceeded(format!(
                "Cannot exceed quota for GroupsPerUser: {GROUPS_PER_USER}"
            )));
        }
        u.groups.push(gid);
        let uid = u.id.clone();
        tx.touch(Kind::User, &uid);
        Ok(Value::map())
    })
    .await
}

async fn remove_user(p: &IamProvider, ctx: &RequestContext, i: &Value) -> Result<Value, AwsError> {
    let group = i.str("GroupName").unwrap_or_default();
    let user = i.str("UserName").unwrap_or_default();
    p.write(ctx, |tx| {
        let gid = tx.core.group(group)?.id.clone();
        let u = tx.core.user_mut(user)?;
        let Some(pos) = u.groups.iter().position(|g| *g == gid) else {
            return Err(no_such(format!("User {user} is not in group {group}.")));
        };
        u.groups.remove(pos);
        let uid = u.id.clone();
        tx.touch(Kind::User, &uid);
        Ok(Value::map())
    })
    .await
}

fn groups_for_user(p: &IamProvider, ctx: &RequestContext, i: &Value) -> Result<Value, AwsError> {
    let acct = p.account(ctx);
    let c = acct.core.read().unwrap();
    let u = c.user(i.str("UserName").unwrap_or_default())?;
    let mut items: Vec<(String, Value)> = u
        .groups
        .iter()
        .filter_map(|id| c.group_by_id(id))
        .map(|g| (key(&g.name), group_value(&c, g)))
        .collect();
    items.sort_by(|a, b| a.0.cmp(&b.0));
    list_page(items, i, "Groups")
}
