//! Access keys of users (and of the account's root user): create, activate, deactivate,
//! delete, list, last use. The keys sign requests through the provider's
//! [`nephos_core::CredentialStore`].

use crate::IamProvider;
use crate::state::{AccessKey, Core, Kind};
use crate::users::target_user;
use crate::util::{limit_exceeded, list_page, new_access_key_id, new_secret, no_such, ts};
use nephos_core::{AwsError, RequestContext, Value};

pub const OPS: &[&str] = &[
    "CreateAccessKey",
    "DeleteAccessKey",
    "GetAccessKeyLastUsed",
    "ListAccessKeys",
    "UpdateAccessKey",
];

/// Access keys one user may have.
const KEYS_PER_USER: usize = 2;

pub async fn handle(
    p: &IamProvider,
    ctx: &RequestContext,
    op: &str,
    i: &Value,
) -> Result<Value, AwsError> {
    match op {
        "CreateAccessKey" => create(p, ctx, i).await,
        "UpdateAccessKey" => update(p, ctx, i).await,
        "DeleteAccessKey" => delete(p, ctx, i).await,
        "ListAccessKeys" => list(p, ctx, i),
        "GetAccessKeyLastUsed" => last_used(p, ctx, i),
        _ => Err(AwsError::not_implemented("iam", op)),
    }
}

/// The key with this id, whoever in the account owns it.
pub(crate) fn find_key<'a>(c: &'a Core, id: &str) -> Option<&'a AccessKey> {
    let owner = c.key_owner.get(id)?;
    if owner.is_empty() {
        c.root_keys.iter().find(|k| k.id == id)
    } else {
        c.user_by_id(owner)?.keys.iter().find(|k| k.id == id)
    }
}

fn no_key(id: &str) -> AwsError {
    no_such(format!("The Access Key with id {id} cannot be found."))
}

/// The keys of one user (or of the root user), with the record to touch when they
/// change.
struct KeysOf<'a> {
    keys: &'a mut Vec<AccessKey>,
    kind: Kind,
    id: String,
    /// The user's name; `None` for the root user.
    name: Option<String>,
}

/// The keys of the user an operation names (`None`: the root user's).
fn keys_mut<'a>(c: &'a mut Core, user: Option<&str>) -> Result<KeysOf<'a>, AwsError> {
    match user {
        Some(n) => {
            let u = c.user_mut(n)?;
            Ok(KeysOf {
                keys: &mut u.keys,
                kind: Kind::User,
                id: u.id.clone(),
                name: Some(u.name.clone()),
            })
        }
        None => Ok(KeysOf {
            keys: &mut c.root_keys,
            kind: Kind::RootKeys,
            id: "root".to_owned(),
            name: None,
        }),
    }
}

fn key_value(k: &AccessKey, user: Option<&str>, with_secret: bool) -> Value {
    let mut v = Value::map()
        .with("AccessKeyId", k.id.as_str())
        .with("Status", if k.active { "Active" } else { "Inactive" })
        .with("CreateDate", ts(k.created));
    if let Some(u) = user {
        v.insert("UserName", u);
    }
    if with_secret {
        v.insert("SecretAccessKey", k.secret.as_str());
    }
    v
}

async fn create(p: &IamProvider, ctx: &RequestContext, i: &Value) -> Result<Value, AwsError> {
    let user = target_user(ctx, i)?;
    p.write(ctx, |tx| {
        let now = tx.now;
        let KeysOf {
            keys,
            kind,
            id,
            name,
        } = keys_mut(tx.core, user.as_deref())?;
        if keys.len() >= KEYS_PER_USER {
            return Err(limit_exceeded(format!(
                "Cannot exceed quota for AccessKeysPerUser: {KEYS_PER_USER}"
            )));
        }
        let k = AccessKey {
            id: new_access_key_id(),
            secret: new_secret(),
            active: true,
            created: now,
            last_used: None,
        };
        let out = key_value(&k, name.as_deref(), true);
        let key_id = k.id.clone();
        keys.push(k);
        let owner = if kind == Kind::User {
            id.clone()
        } else {
            String::new()
        };
        tx.core.key_owner.insert(key_id.clone(), owner);
        tx.keys_added.push(key_id);
        tx.touch(kind, &id);
        Ok(Value::map().with("AccessKey", out))
    })
    .await
}

async fn update(p: &IamProvider, ctx: &RequestContext, i: &Value) -> Result<Value, AwsError> {
    let user = target_user(ctx, i)?;
    let key_id = i.str("AccessKeyId").unwrap_or_default();
    let active = i.str("Status") == Some("Active");
    p.write(ctx, |tx| {
        let KeysOf { keys, kind, id, .. } = keys_mut(tx.core, user.as_deref())?;
        let k = keys
            .iter_mut()
            .find(|k| k.id == key_id)
            .ok_or_else(|| no_key(key_id))?;
        if k.active != active {
            k.active = active;
            tx.touch(kind, &id);
        }
        Ok(Value::map())
    })
    .await
}

async fn delete(p: &IamProvider, ctx: &RequestContext, i: &Value) -> Result<Value, AwsError> {
    let user = target_user(ctx, i)?;
    let key_id = i.str("AccessKeyId").unwrap_or_default();
    p.write(ctx, |tx| {
        let KeysOf { keys, kind, id, .. } = keys_mut(tx.core, user.as_deref())?;
        let pos = keys
            .iter()
            .position(|k| k.id == key_id)
            .ok_or_else(|| no_key(key_id))?;
        keys.remove(pos);
        tx.core.key_owner.remove(key_id);
        // Remembered (and stored) so the key is refused from now on; it stays in the
        // provider's key index for that.
        tx.core.deleted_keys.insert(key_id.to_owned(), tx.now);
        tx.touch(Kind::DeletedKey, key_id);
        tx.touch(kind, &id);
        Ok(Value::map())
    })
    .await
}

fn list(p: &IamProvider, ctx: &RequestContext, i: &Value) -> Result<Value, AwsError> {
    let user = target_user(ctx, i)?;
    let acct = p.account(ctx);
    let c = acct.core.read().unwrap();
    let (keys, name) = match &user {
        Some(n) => {
            let u = c.user(n)?;
            (&u.keys, Some(u.name.as_str()))
        }
        None => (&c.root_keys, None),
    };
    let items = keys
        .iter()
        .enumerate()
        .map(|(n, k)| (format!("{n:02}"), key_value(k, name, false)))
        .collect();
    list_page(items, i, "AccessKeyMetadata")
}

fn last_used(p: &IamProvider, ctx: &RequestContext, i: &Value) -> Result<Value, AwsError> {
    let key_id = i.str("AccessKeyId").unwrap_or_default();
    let acct = p.account(ctx);
    let c = acct.core.read().unwrap();
    let k = find_key(&c, key_id).ok_or_else(|| no_key(key_id))?;
    let mut used = Value::map();
    match &k.last_used {
        Some(l) => {
            used.insert("LastUsedDate", ts(l.at));
            used.insert("ServiceName", l.service.as_str());
            used.insert("Region", l.region.as_str());
        }
        // What IAM answers for a key never used.
        None => {
            used.insert("ServiceName", "N/A");
            used.insert("Region", "N/A");
        }
    }
    let mut out = Value::map().with("AccessKeyLastUsed", used);
    if let Some(owner) = c.key_owner.get(key_id).and_then(|o| c.user_by_id(o)) {
        out.insert("UserName", owner.name.as_str());
    }
    Ok(out)
}
