//! Tags of users, roles, customer managed policies and instance profiles.

use crate::policies::no_policy;
use crate::state::{Core, Kind, key};

/// An entity's tags, in order.
type Tags = Vec<(String, String)>;
use crate::util::{input_strings, input_tags, limit_exceeded, list_page, tags_value};
use crate::{IamProvider, validate};
use nephos_core::{AwsError, RequestContext, Value};

pub const OPS: &[&str] = &[
    "ListInstanceProfileTags",
    "ListPolicyTags",
    "ListRoleTags",
    "ListUserTags",
    "TagInstanceProfile",
    "TagPolicy",
    "TagRole",
    "TagUser",
    "UntagInstanceProfile",
    "UntagPolicy",
    "UntagRole",
    "UntagUser",
];

/// Tags one entity may carry.
const MAX_TAGS: usize = 50;

#[derive(Clone, Copy)]
enum Of {
    User,
    Role,
    Policy,
    Profile,
}

impl Of {
    fn from_op(op: &str) -> Of {
        if op.ends_with("UserTags") || op.ends_with("User") {
            Of::User
        } else if op.ends_with("RoleTags") || op.ends_with("Role") {
            Of::Role
        } else if op.ends_with("PolicyTags") || op.ends_with("Policy") {
            Of::Policy
        } else {
            Of::Profile
        }
    }

    fn member(self) -> &'static str {
        match self {
            Of::User => "UserName",
            Of::Role => "RoleName",
            Of::Policy => "PolicyArn",
            Of::Profile => "InstanceProfileName",
        }
    }

    fn quota_name(self) -> &'static str {
        match self {
            Of::User => "TagsPerUser",
            Of::Role => "TagsPerRole",
            Of::Policy => "TagsPerPolicy",
            Of::Profile => "TagsPerInstanceProfile",
        }
    }
}

/// The tags of the entity an operation names.
fn tags_of<'a>(c: &'a Core, of: Of, name: &str) -> Result<&'a [(String, String)], AwsError> {
    Ok(match of {
        Of::User => &c.user(name)?.tags,
        Of::Role => &c.role(name)?.tags,
        Of::Profile => &c.profile(name)?.tags,
        Of::Policy => match c.policy(name) {
            Some(p) => &p.tags,
            // AWS managed policies carry no tags.
            None if crate::catalog::get(name).is_some() => &[],
            None => return Err(no_policy(name)),
        },
    })
}

fn tags_mut<'a>(
    c: &'a mut Core,
    of: Of,
    name: &str,
) -> Result<(&'a mut Tags, Kind, String), AwsError> {
    Ok(match of {
        Of::User => {
            let u = c.user_mut(name)?;
            (&mut u.tags, Kind::User, u.id.clone())
        }
        Of::Role => {
            let r = c.role_mut(name)?;
            (&mut r.tags, Kind::Role, r.id.clone())
        }
        Of::Profile => {
            let p = c.profile_mut(name)?;
            (&mut p.tags, Kind::Profile, p.id.clone())
        }
        Of::Policy => {
            let p = c.policy_mut(name).ok_or_else(|| no_policy(name))?;
            (&mut p.tags, Kind::Policy, p.id.clone())
        }
    })
}

pub async fn handle(
    p: &IamProvider,
    ctx: &RequestContext,
    op: &str,
    i: &Value,
) -> Result<Value, AwsError> {
    let of = Of::from_op(op);
    let name = i.str(of.member()).unwrap_or_default();
    if matches!(of, Of::Policy) {
        validate::policy_arn(name)?;
    }
    if op.starts_with("List") {
        let acct = p.account(ctx);
        let c = acct.core.read().unwrap();
        let items = tags_of(&c, of, name)?
            .iter()
            .enumerate()
            .map(|(n, t)| {
                let v = tags_value(std::slice::from_ref(t));
                let Value::List(mut l) = v else {
                    unreachable!("tags_value answers a list")
                };
                (format!("{n:03}"), l.remove(0))
            })
            .collect();
        return list_page(items, i, "Tags");
    }
    if op.starts_with("Tag") {
        let new = input_tags(i.get("Tags"));
        validate::tags(&new)?;
        return p
            .write(ctx, |tx| {
                let (tags, kind, id) = tags_mut(tx.core, of, name)?;
                let mut merged = tags.clone();
                for (k, v) in new {
                    match merged.iter_mut().find(|(ek, _)| key(ek) == key(&k)) {
                        Some(t) => *t = (k, v),
                        None => merged.push((k, v)),
                    }
                }
                if merged.len() > MAX_TAGS {
                    return Err(limit_exceeded(format!(
                        "Cannot exceed quota for {}: {MAX_TAGS}",
                        of.quota_name()
                    )));
                }
                *tags = merged;
                tx.touch(kind, &id);
                Ok(Value::map())
            })
            .await;
    }
    let keys: Vec<String> = input_strings(i.get("TagKeys"))
        .iter()
        .map(|k| key(k))
        .collect();
    p.write(ctx, |tx| {
        let (tags, kind, id) = tags_mut(tx.core, of, name)?;
        let before = tags.len();
        tags.retain(|(k, _)| !keys.contains(&key(k)));
        if tags.len() != before {
            tx.touch(kind, &id);
        }
        Ok(Value::map())
    })
    .await
}
