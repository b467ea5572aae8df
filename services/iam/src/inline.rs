//! Inline policies of users, groups and roles.

use crate::IamProvider;
use crate::roles::modifiable;
use crate::state::{Core, Kind, key};
use crate::util::{encode_document, list_page, no_such};
use crate::validate::{self, DocKind};
use nephos_core::{AwsError, RequestContext, Value};
use std::collections::BTreeMap;

pub const OPS: &[&str] = &[
    "DeleteGroupPolicy",
    "DeleteRolePolicy",
    "DeleteUserPolicy",
    "GetGroupPolicy",
    "GetRolePolicy",
    "GetUserPolicy",
    "ListGroupPolicies",
    "ListRolePolicies",
    "ListUserPolicies",
    "PutGroupPolicy",
    "PutRolePolicy",
    "PutUserPolicy",
];

#[derive(Clone, Copy, PartialEq)]
enum Owner {
    User,
    Group,
    Role,
}

impl Owner {
    fn of(op: &str) -> Owner {
        if op.contains("User") {
            Owner::User
        } else if op.contains("Group") {
            Owner::Group
        } else {
            Owner::Role
        }
    }

    fn member(self) -> &'static str {
        match self {
            Owner::User => "UserName",
            Owner::Group => "GroupName",
            Owner::Role => "RoleName",
        }
    }

    fn word(self) -> &'static str {
        match self {
            Owner::User => "user",
            Owner::Group => "group",
            Owner::Role => "role",
        }
    }

    fn doc_kind(self, name: &str) -> DocKind<'_> {
        match self {
            Owner::User => DocKind::User(name),
            Owner::Group => DocKind::Group(name),
            Owner::Role => DocKind::Role(name),
        }
    }
}

/// The inline policies of an entity, and its kind and id; `NoSuchEntity` if it is gone.
fn policies<'a>(
    c: &'a Core,
    o: Owner,
    name: &str,
) -> Result<&'a BTreeMap<String, String>, AwsError> {
    Ok(match o {
        Owner::User => &c.user(name)?.inline,
        Owner::Group => &c.group(name)?.inline,
        Owner::Role => &c.role(name)?.inline,
    })
}

fn policies_mut<'a>(
    c: &'a mut Core,
    o: Owner,
    name: &str,
) -> Result<(&'a mut BTreeMap<String, String>, Kind, String), AwsError> {
    Ok(match o {
        Owner::User => {
            let u = c.user_mut(name)?;
            (&mut u.inline, Kind::User, u.id.clone())
        }
        Owner::Group => {
            let g = c.group_mut(name)?;
            (&mut g.inline, Kind::Group, g.id.clone())
        }
        Owner::Role => {
            let r = c.role_mut(name)?;
            (&mut r.inline, Kind::Role, r.id.clone())
        }
    })
}

pub async fn handle(
    p: &IamProvider,
    ctx: &RequestContext,
    op: &str,
    i: &Value,
) -> Result<Value, AwsError> {
    let o = Owner::of(op);
    let name = i.str(o.member()).unwrap_or_default();
    let policy = i.str("PolicyName").unwrap_or_default();
    let missing = || {
        no_such(format!(
            "The {} policy with name {policy} cannot be found.",
            o.word()
        ))
    };
    match op {
        _ if op.starts_with("Get") => {
            let acct = p.account(ctx);
            let c = acct.core.read().unwrap();
            let docs = policies(&c, o, name)?;
            let doc = docs.get(policy).ok_or_else(missing)?;
            // The stored spelling of the owner's name, as IAM answers it.
            let owner = match o {
                Owner::User => c.user(name)?.name.clone(),
                Owner::Group => c.group(name)?.name.clone(),
                Owner::Role => c.role(name)?.name.clone(),
            };
            Ok(Value::map()
                .with(o.member(), owner)
                .with("PolicyName", policy)
                .with("PolicyDocument", encode_document(doc)))
        }
        _ if op.starts_with("List") => {
            let acct = p.account(ctx);
            let c = acct.core.read().unwrap();
            let items = policies(&c, o, name)?
                .keys()
                .map(|k| (key(k) + "\t" + k, Value::from(k.as_str())))
                .collect::<Vec<_>>();
            let mut items = items;
            items.sort_by(|a, b| a.0.cmp(&b.0));
            list_page(items, i, "PolicyNames")
        }
        _ if op.starts_with("Put") => {
            let doc = i.str("PolicyDocument").unwrap_or_default();
            p.write(ctx, |tx| {
                if o == Owner::Role {
                    modifiable(tx.core.role(name)?)?;
                }
                let kind = o.doc_kind(name);
                let others: usize = policies(tx.core, o, name)?
                    .iter()
                    .filter(|(n, _)| n.as_str() != policy)
                    .map(|(_, d)| validate::size(d))
                    .sum();
                validate::policy_document(doc, kind)?;
                // The quota is on all of an entity's inline policies together.
                if others + validate::size(doc) > kind.quota() {
                    return Err(kind.over_quota());
                }
                let (docs, kind, id) = policies_mut(tx.core, o, name)?;
                docs.insert(policy.to_owned(), doc.to_owned());
                tx.touch(kind, &id);
                Ok(Value::map())
            })
            .await
        }
        _ => {
            p.write(ctx, |tx| {
                if o == Owner::Role {
                    modifiable(tx.core.role(name)?)?;
                }
                let (docs, kind, id) = policies_mut(tx.core, o, name)?;
                docs.remove(policy).ok_or_else(missing)?;
                tx.touch(kind, &id);
                Ok(Value::map())
            })
            .await
        }
    }
}
