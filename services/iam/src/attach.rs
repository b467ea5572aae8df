//! Managed policies attached to users, groups and roles.

use crate::roles::modifiable;
use crate::state::{Core, Kind, arn_name, key};
use crate::util::{limit_exceeded, list_page, no_such};
use crate::{IamProvider, validate};
use nephos_core::{AwsError, RequestContext, Value};

pub const OPS: &[&str] = &[
    "AttachGroupPolicy",
    "AttachRolePolicy",
    "AttachUserPolicy",
    "DetachGroupPolicy",
    "DetachRolePolicy",
    "DetachUserPolicy",
    "ListAttachedGroupPolicies",
    "ListAttachedRolePolicies",
    "ListAttachedUserPolicies",
];

/// Managed policies one user, group or role may have attached (IAM's default quota).
const ATTACHED_PER_ENTITY: usize = 10;

/// Which kind of entity an operation attaches to.
#[derive(Clone, Copy)]
enum Target {
    User,
    Group,
    Role,
}

impl Target {
    fn of(op: &str) -> Target {
        if op.contains("User") {
            Target::User
        } else if op.contains("Group") {
            Target::Group
        } else {
            Target::Role
        }
    }

    fn name_member(self) -> &'static str {
        match self {
            Target::User => "UserName",
            Target::Group => "GroupName",
            Target::Role => "RoleName",
        }
    }

    fn quota_name(self) -> &'static str {
        match self {
            Target::User => "PoliciesPerUser",
            Target::Group => "PoliciesPerGroup",
            Target::Role => "PoliciesPerRole",
        }
    }
}

pub async fn handle(
    p: &IamProvider,
    ctx: &RequestContext,
    op: &str,
    i: &Value,
) -> Result<Value, AwsError> {
    let target = Target::of(op);
    let name = i.str(target.name_member()).unwrap_or_default();
    if op.starts_with("ListAttached") {
        let acct = p.account(ctx);
        let c = acct.core.read().unwrap();
        let attached = attached_mut_or_ref(&c, target, name)?;
        let items = attached
            .iter()
            .enumerate()
            .filter(|(_, a)| {
                crate::policies::find(&c, a).is_none_or(|v| crate::util::under_prefix(v.path, i))
            })
            .map(|(n, a)| {
                (
                    format!("{n:04}"),
                    Value::map()
                        .with("PolicyName", arn_name(a))
                        .with("PolicyArn", a.as_str()),
                )
            })
            .collect();
        return list_page(items, i, "AttachedPolicies");
    }
    let arn = i.str("PolicyArn").unwrap_or_default();
    let attach = op.starts_with("Attach");
    p.write(ctx, |tx| {
        let c = &mut *tx.core;
        // The entity must exist before the ARN is looked at.
        let (kind, id) = match target {
            Target::User => (Kind::User, c.user(name)?.id.clone()),
            Target::Group => (Kind::Group, c.group(name)?.id.clone()),
            Target::Role => {
                let r = c.role(name)?;
                modifiable(r)?;
                (Kind::Role, r.id.clone())
            }
        };
        validate::policy_arn(arn)?;
        if attach && !c.managed_exists(arn) {
            return Err(no_such(format!(
                "Policy {arn} does not exist or is not attachable."
            )));
        }
        let list = attached_mut(c, target, name);
        let present = list.iter().any(|a| a == arn);
        let changed = if attach {
            if present {
                false
            } else if list.len() >= ATTACHED_PER_ENTITY {
                return Err(limit_exceeded(format!(
                    "Cannot exceed quota for {}: {ATTACHED_PER_ENTITY}",
                    target.quota_name()
                )));
            } else {
                list.push(arn.to_owned());
                true
            }
        } else if present {
            list.retain(|a| a != arn);
            true
        } else {
            return Err(crate::policies::no_policy(arn));
        };
        if changed {
            Core::count(&mut c.attachments, arn, if attach { 1 } else { -1 });
            tx.touch(kind, &id);
        }
        Ok(Value::map())
    })
    .await
}

fn attached_mut_or_ref<'a>(
    c: &'a Core,
    t: Target,
    name: &str,
) -> Result<&'a Vec<String>, AwsError> {
    Ok(match t {
        Target::User => &c.user(name)?.attached,
        Target::Group => &c.group(name)?.attached,
        Target::Role => &c.role(name)?.attached,
    })
}

/// The attachment list of an entity known to exist.
fn attached_mut<'a>(c: &'a mut Core, t: Target, name: &str) -> &'a mut Vec<String> {
    let k = key(name);
    match t {
        Target::User => &mut c.users.get_mut(&k).expect("checked").attached,
        Target::Group => &mut c.groups.get_mut(&k).expect("checked").attached,
        Target::Role => &mut c.roles.get_mut(&k).expect("checked").attached,
    }
}
