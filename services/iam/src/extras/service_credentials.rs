//! Service-specific credentials: user names and passwords for CodeCommit and Amazon
//! Keyspaces, and Bedrock API keys (an alias and a secret, optionally expiring after
//! CredentialAgeDays). Create, list, reset, update, delete.

use super::{Ctx, handlers, limit_exceeded, no_such_entity, page, ts};
use base64::Engine;
use nephos_core::{AwsError, Value, random_alnum};
use serde::{Deserialize, Serialize};

pub const KIND: &str = "service-cred";

pub(super) const HANDLERS: &[(&str, super::Handler)] = handlers! {
    "CreateServiceSpecificCredential" => create,
    "ListServiceSpecificCredentials" => list,
    "ResetServiceSpecificCredential" => reset,
    "UpdateServiceSpecificCredential" => update,
    "DeleteServiceSpecificCredential" => delete,
};

const SERVICES: &[&str] = &[
    "codecommit.amazonaws.com",
    "cassandra.amazonaws.com",
    "bedrock.amazonaws.com",
];
const BEDROCK: &str = "bedrock.amazonaws.com";
/// AWS's quota per user and service.
const PER_USER_AND_SERVICE: usize = 2;
const DAY_MS: i64 = 86_400_000;
const PASSWORD_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServiceCred {
    pub id: String,
    pub user: String,
    pub service: String,
    /// ServiceUserName, or a Bedrock key's ServiceCredentialAlias.
    pub name: String,
    pub secret: String,
    pub active: bool,
    pub created: i64,
    pub expires: Option<i64>,
}

impl ServiceCred {
    fn bedrock(&self) -> bool {
        self.service == BEDROCK
    }

    fn status(&self, now: i64) -> &'static str {
        match (self.active, self.expires) {
            (_, Some(e)) if e <= now => "Expired",
            (true, _) => "Active",
            (false, _) => "Inactive",
        }
    }

    /// The listing's metadata; `with_secret` adds the password or secret (Create and
    /// Reset answer it, once).
    fn to_value(&self, now: i64, with_secret: bool) -> Value {
        let mut v = Value::map()
            .with("UserName", self.user.as_str())
            .with("Status", self.status(now))
            .with("CreateDate", ts(self.created))
            .with("ServiceSpecificCredentialId", self.id.as_str())
            .with("ServiceName", self.service.as_str());
        let (name_key, secret_key) = if self.bedrock() {
            ("ServiceCredentialAlias", "ServiceCredentialSecret")
        } else {
            ("ServiceUserName", "ServicePassword")
        };
        v.insert(name_key, self.name.as_str());
        if with_secret {
            v.insert(secret_key, self.secret.as_str());
        }
        if let Some(e) = self.expires {
            v.insert("ExpirationDate", ts(e));
        }
        v
    }
}

fn check_service(service: &str) -> Result<(), AwsError> {
    if SERVICES.contains(&service) {
        Ok(())
    } else {
        Err(no_such_entity(format!(
            "No such service {service} is supported for Service Specific Credentials"
        )))
    }
}

fn not_found(id: &str) -> AwsError {
    no_such_entity(format!("No such credential {id} exists"))
}

/// A new password or Bedrock key secret for `name`.
fn new_secret(service: &str, name: &str) -> String {
    if service == BEDROCK {
        // Bedrock API keys are base64 of `alias:random`, prefixed as AWS's are.
        let raw = format!("{name}:{}", random_alnum(40, PASSWORD_CHARS));
        format!(
            "ABSK{}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    } else {
        // AWS's passwords are 60 characters ending in `=` (not base64, just shaped so).
        format!("{}=", random_alnum(59, PASSWORD_CHARS))
    }
}

async fn create(c: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    let user = c.require_user(i.str("UserName").unwrap_or_default())?;
    let service = i.str("ServiceName").unwrap_or_default().to_owned();
    check_service(&service)?;
    let now = c.now();
    let name = if service == BEDROCK {
        format!(
            "BedrockAPIKey-{}-at-{}",
            random_alnum(4, b"abcdefghijklmnopqrstuvwxyz0123456789"),
            c.account_id()
        )
    } else {
        format!("{user}-at-{}", c.account_id())
    };
    let cred = ServiceCred {
        id: super::unique_id("ACCA"),
        user: user.clone(),
        secret: new_secret(&service, &name),
        name,
        service: service.clone(),
        active: true,
        created: now,
        expires: i.int("CredentialAgeDays").map(|d| now + d * DAY_MS),
    };
    let change = c.put(KIND, &cred.id, &cred);
    let out = cred.to_value(now, true);
    {
        let mut s = c.extras_for_user(&user)?;
        let same = s
            .service_creds
            .values()
            .filter(|o| o.user == user && o.service == service)
            .count();
        if same >= PER_USER_AND_SERVICE {
            return Err(limit_exceeded(format!(
                "Cannot exceed quota for ServiceSpecificCredentialsPerUserPerService: {PER_USER_AND_SERVICE}"
            )));
        }
        s.service_creds.insert(cred.id.clone(), cred);
    }
    c.commit(vec![change]).await?;
    Ok(Value::map().with("ServiceSpecificCredential", out))
}

async fn list(c: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    let all = i.bool("AllUsers").unwrap_or(false);
    let user = if all {
        None
    } else {
        Some(c.require_user(&c.user_or_caller(i)?)?)
    };
    let service = i.str("ServiceName");
    if let Some(s) = service {
        check_service(s)?;
    }
    let now = c.now();
    let items = c
        .account
        .extras
        .read()
        .unwrap()
        .service_creds
        .values()
        .filter(|cred| user.as_ref().is_none_or(|u| *u == cred.user))
        .filter(|cred| service.is_none_or(|s| s == cred.service))
        .map(|cred| (cred.id.clone(), cred.to_value(now, false)))
        .collect();
    let mut out = page(items, i, "ServiceSpecificCredentials")?;
    // AWS answers this list without `IsTruncated` (as recorded) unless paging was asked
    // for; it is kept whenever a page is cut short or a page was asked for.
    let paging = i.get("MaxItems").is_some() || i.get("Marker").is_some();
    if !paging
        && out.bool("IsTruncated") == Some(false)
        && let Value::Map(m) = &mut out
    {
        m.shift_remove("IsTruncated");
    }
    Ok(out)
}

/// The caller's (or named user's) credential from the input.
fn users_cred(c: &Ctx<'_>, i: &Value) -> Result<ServiceCred, AwsError> {
    let user = c.require_user(&c.user_or_caller(i)?)?;
    let id = i.str("ServiceSpecificCredentialId").unwrap_or_default();
    c.account
        .extras
        .read()
        .unwrap()
        .service_creds
        .get(id)
        .filter(|cred| cred.user == user)
        .cloned()
        .ok_or_else(|| not_found(id))
}

/// Writes back a credential read by [`users_cred`], unless it was deleted (or its user
/// renamed) since.
async fn store(c: &Ctx<'_>, cred: ServiceCred) -> Result<(), AwsError> {
    let change = c.put(KIND, &cred.id, &cred);
    {
        let mut s = c.extras_for_user(&cred.user)?;
        match s.service_creds.get_mut(&cred.id) {
            Some(o) if o.user == cred.user => *o = cred,
            _ => return Err(not_found(&cred.id)),
        }
    }
    c.commit(vec![change]).await
}

async fn reset(c: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    let mut cred = users_cred(c, i)?;
    cred.secret = new_secret(&cred.service, &cred.name);
    let out = cred.to_value(c.now(), true);
    store(c, cred).await?;
    Ok(Value::map().with("ServiceSpecificCredential", out))
}

async fn update(c: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    let mut cred = users_cred(c, i)?;
    cred.active = i.str("Status") == Some("Active");
    store(c, cred).await?;
    Ok(Value::map())
}

async fn delete(c: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    let cred = users_cred(c, i)?;
    if c.extras_for_user(&cred.user)?
        .service_creds
        .remove(&cred.id)
        .is_none()
    {
        return Err(not_found(&cred.id));
    }
    c.commit(vec![c.delete(KIND, &cred.id)]).await?;
    Ok(Value::map())
}
