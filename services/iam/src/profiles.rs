//! Instance profiles: the role an EC2 instance runs as (at most one per profile).

use crate::roles::{RoleForm, role_value};
use crate::state::{Core, Kind, Profile, key, no_profile};
use crate::util::{
    INSTANCE_PROFILES_QUOTA, already_exists, check_account_quota, delete_conflict, input_tags,
    limit_exceeded, list_page, new_id, ts, under_prefix, with_tags,
};
use crate::{IamProvider, validate};
use nephos_core::{AwsError, RequestContext, Value};

pub const OPS: &[&str] = &[
    "AddRoleToInstanceProfile",
    "CreateInstanceProfile",
    "DeleteInstanceProfile",
    "GetInstanceProfile",
    "ListInstanceProfiles",
    "ListInstanceProfilesForRole",
    "RemoveRoleFromInstanceProfile",
];

pub async fn handle(
    p: &IamProvider,
    ctx: &RequestContext,
    op: &str,
    i: &Value,
) -> Result<Value, AwsError> {
    let name = i.str("InstanceProfileName").unwrap_or_default();
    match op {
        "CreateInstanceProfile" => create(p, ctx, i).await,
        "GetInstanceProfile" => {
            let acct = p.account(ctx);
            let c = acct.core.read().unwrap();
            let pr = c.profile(name)?;
            Ok(Value::map().with("InstanceProfile", profile_value(&c, pr, true)))
        }
        "DeleteInstanceProfile" => {
            p.write(ctx, |tx| {
                if !tx.core.profile(name)?.roles.is_empty() {
                    return Err(delete_conflict(
                        "Cannot delete entity, must remove roles from instance profile first.",
                    ));
                }
                let pr = tx
                    .core
                    .profiles
                    .remove(&key(name))
                    .ok_or_else(|| no_profile(name))?;
                tx.core.ids.remove(&pr.id);
                tx.touch(Kind::Profile, &pr.id);
                Ok(Value::map())
            })
            .await
        }
        "ListInstanceProfiles" => {
            let acct = p.account(ctx);
            let c = acct.core.read().unwrap();
            let items = c
                .profiles
                .iter()
                .filter(|(_, pr)| under_prefix(&pr.path, i))
                .map(|(k, pr)| (k.clone(), profile_value(&c, pr, false)))
                .collect();
            list_page(items, i, "InstanceProfiles")
        }
        "ListInstanceProfilesForRole" => {
            let role = i.str("RoleName").unwrap_or_default();
            let acct = p.account(ctx);
            let c = acct.core.read().unwrap();
            c.role(role)?;
            let items = c
                .profiles
                .iter()
                .filter(|(_, pr)| pr.roles.iter().any(|r| key(r) == key(role)))
                .map(|(k, pr)| (k.clone(), profile_value(&c, pr, false)))
                .collect();
            list_page(items, i, "InstanceProfiles")
        }
        "AddRoleToInstanceProfile" => {
            let role = i.str("RoleName").unwrap_or_default();
            p.write(ctx, |tx| {
                tx.core.profile(name)?;
                let role_name = tx.core.role(role)?.name.clone();
                let pr = tx.core.profile_mut(name)?;
                if !pr.roles.is_empty() {
                    return Err(limit_exceeded(
                        "Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1",
                    ));
                }
                pr.roles.push(role_name);
                let id = pr.id.clone();
                tx.touch(Kind::Profile, &id);
                Ok(Value::map())
            })
            .await
        }
        "RemoveRoleFromInstanceProfile" => {
            let role = i.str("RoleName").unwrap_or_default();
            p.write(ctx, |tx| {
                tx.core.profile(name)?;
                tx.core.role(role)?;
                let pr = tx.core.profile_mut(name)?;
                let before = pr.roles.len();
                pr.roles.retain(|r| key(r) != key(role));
                if pr.roles.len() == before {
                    return Err(crate::state::no_role(role));
                }
                let id = pr.id.clone();
                tx.touch(Kind::Profile, &id);
                Ok(Value::map())
            })
            .await
        }
        _ => Err(AwsError::not_implemented("iam", op)),
    }
}

/// A profile with its roles; tags in the answers of a single profile.
pub(crate) fn profile_value(c: &Core, pr: &Profile, with_tag_list: bool) -> Value {
    let roles = pr
        .roles
        .iter()
        .filter_map(|n| c.roles.get(&key(n)))
        .map(|r| role_value(c, r, RoleForm::List))
        .collect::<Vec<_>>();
    let v = Value::map()
        .with("Path", pr.path.as_str())
        .with("InstanceProfileName", pr.name.as_str())
        .with("InstanceProfileId", pr.id.as_str())
        .with("Arn", c.arn("instance-profile", &pr.path, &pr.name))
        .with("CreateDate", ts(pr.created))
        .with("Roles", Value::List(roles));
    if with_tag_list {
        with_tags(v, &pr.tags)
    } else {
        v
    }
}

async fn create(p: &IamProvider, ctx: &RequestContext, i: &Value) -> Result<Value, AwsError> {
    let name = i.str("InstanceProfileName").unwrap_or_default();
    let path = i.str("Path").unwrap_or("/");
    let tags = input_tags(i.get("Tags"));
    validate::path(path)?;
    validate::tags(&tags)?;
    p.write(ctx, |tx| {
        if tx.core.profiles.contains_key(&key(name)) {
            return Err(already_exists(format!(
                "Instance Profile {name} already exists."
            )));
        }
        check_account_quota(
            tx.core.profiles.len(),
            INSTANCE_PROFILES_QUOTA,
            "InstanceProfilesPerAccount",
        )?;
        let pr = Profile {
            id: new_id("AIPA"),
            name: name.to_owned(),
            path: path.to_owned(),
            created: tx.now,
            roles: Vec::new(),
            tags,
        };
        let out = Value::map().with("InstanceProfile", profile_value(tx.core, &pr, true));
        tx.touch(Kind::Profile, &pr.id);
        tx.core.insert_profile(pr);
        Ok(out)
    })
    .await
}
