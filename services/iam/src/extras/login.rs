//! Login profiles (console passwords): Create/Get/Update/DeleteLoginProfile and
//! ChangePassword. Passwords are kept only as salted SHA-256 digests, enough to check
//! ChangePassword's old password and the policy's reuse prevention.

use super::{Ctx, already_exists, handlers, no_such_entity, password_policy, ts};
use nephos_core::{AwsError, Value};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const KIND: &str = "login";

pub(super) const HANDLERS: &[(&str, super::Handler)] = handlers! {
    "CreateLoginProfile" => create,
    "GetLoginProfile" => get,
    "UpdateLoginProfile" => update,
    "DeleteLoginProfile" => delete,
    "ChangePassword" => change_password,
};

/// How many earlier passwords are kept for the policy's reuse prevention (its maximum).
const HISTORY: usize = 24;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoginProfile {
    pub user: String,
    /// Unix milliseconds.
    pub created: i64,
    pub reset_required: bool,
    /// Unix milliseconds of the last password change (the credential report's
    /// `password_last_changed`).
    pub password_changed: i64,
    #[serde(default)]
    pub max_signin_session: Option<i64>,
    salt: String,
    /// Digest of the current password, then earlier ones, newest first.
    digests: Vec<String>,
}

fn digest(salt: &str, password: &str) -> String {
    let mut h = Sha256::new();
    h.update(salt.as_bytes());
    h.update(password.as_bytes());
    h.finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>()
}

impl LoginProfile {
    fn matches(&self, password: &str) -> bool {
        self.digests.first() == Some(&digest(&self.salt, password))
    }

    /// Whether `password` is one of the last `n` passwords.
    fn reused(&self, password: &str, n: usize) -> bool {
        let d = digest(&self.salt, password);
        self.digests.iter().take(n).any(|o| *o == d)
    }

    fn set_password(&mut self, password: &str, now: i64) {
        self.digests.insert(0, digest(&self.salt, password));
        self.digests.truncate(HISTORY);
        self.password_changed = now;
    }

    fn to_value(&self) -> Value {
        let mut v = Value::map()
            .with("UserName", self.user.as_str())
            .with("CreateDate", ts(self.created))
            .with("PasswordResetRequired", self.reset_required);
        if let Some(d) = self.max_signin_session {
            v.insert("MaxSigninSessionDuration", d);
        }
        v
    }
}

fn not_found(user: &str) -> AwsError {
    no_such_entity(format!("Login Profile for User {user} cannot be found."))
}

/// Checks `password` against the policy and, for an existing profile, its reuse rule.
fn check_new(c: &Ctx<'_>, profile: Option<&LoginProfile>, password: &str) -> Result<(), AwsError> {
    let s = c.account.extras.read().unwrap();
    let policy = s.password_policy.as_ref();
    password_policy::check(policy, password)?;
    if let (Some(profile), Some(n)) = (profile, policy.and_then(|p| p.reuse_prevention))
        && profile.reused(password, n as usize)
    {
        return Err(AwsError::new(
            400,
            "PasswordPolicyViolation",
            "Password does not conform to the account password policy.",
        ));
    }
    Ok(())
}

async fn create(c: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    let user = c.require_user(&c.user_or_caller(i)?)?;
    let Some(password) = i.str("Password") else {
        return Err(super::validation(
            "Password is required when not using an AssumeRoot session",
        ));
    };
    check_new(c, None, password)?;
    let now = c.now();
    let mut profile = LoginProfile {
        user: user.clone(),
        created: now,
        reset_required: i.bool("PasswordResetRequired").unwrap_or(false),
        password_changed: now,
        max_signin_session: i.int("MaxSigninSessionDuration"),
        salt: nephos_core::random_alnum(16, b"abcdefghijklmnopqrstuvwxyz0123456789"),
        digests: Vec::new(),
    };
    profile.set_password(password, now);
    let change = c.put(KIND, &user, &profile);
    let out = profile.to_value();
    {
        let mut s = c.extras_for_user(&user)?;
        if s.logins.contains_key(&user) {
            return Err(already_exists(format!(
                "Login Profile for user {user} already exists."
            )));
        }
        s.logins.insert(user, profile);
    }
    c.commit(vec![change]).await?;
    Ok(Value::map().with("LoginProfile", out))
}

async fn get(c: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    let user = c.require_user(&c.user_or_caller(i)?)?;
    let s = c.account.extras.read().unwrap();
    let p = s.logins.get(&user).ok_or_else(|| not_found(&user))?;
    Ok(Value::map().with("LoginProfile", p.to_value()))
}

async fn update(c: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    let user = c.require_user(i.str("UserName").unwrap_or_default())?;
    let existing = c.account.extras.read().unwrap().logins.get(&user).cloned();
    let mut profile = existing.ok_or_else(|| not_found(&user))?;
    if let Some(password) = i.str("Password") {
        check_new(c, Some(&profile), password)?;
        profile.set_password(password, c.now());
    }
    if let Some(r) = i.bool("PasswordResetRequired") {
        profile.reset_required = r;
    }
    if let Some(d) = i.int("MaxSigninSessionDuration") {
        profile.max_signin_session = Some(d);
    }
    store(c, user, profile).await?;
    Ok(Value::map())
}

/// Writes back a changed profile, unless it was deleted (or its user renamed) since it
/// was read.
async fn store(c: &Ctx<'_>, user: String, profile: LoginProfile) -> Result<(), AwsError> {
    let change = c.put(KIND, &user, &profile);
    {
        let mut s = c.extras_for_user(&user)?;
        let slot = s.logins.get_mut(&user).ok_or_else(|| not_found(&user))?;
        *slot = profile;
    }
    c.commit(vec![change]).await
}

async fn delete(c: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    let user = c.require_user(&c.user_or_caller(i)?)?;
    if c.extras_for_user(&user)?.logins.remove(&user).is_none() {
        return Err(not_found(&user));
    }
    c.commit(vec![c.delete(KIND, &user)]).await?;
    Ok(Value::map())
}

/// ChangePassword: the calling IAM user's own password; other principals have none.
async fn change_password(c: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    let Some(user) = c.caller_user() else {
        return Err(AwsError::new(
            400,
            "InvalidUserType",
            "Only IAM Users can change their own password.",
        ));
    };
    let user = c.require_user(&user)?;
    let existing = c.account.extras.read().unwrap().logins.get(&user).cloned();
    let mut profile = existing.ok_or_else(|| not_found(&user))?;
    let old = i.str("OldPassword").unwrap_or_default();
    if !profile.matches(old) {
        return Err(AwsError::new(
            403,
            "AccessDenied",
            "The old password is incorrect.",
        ));
    }
    let new = i.str("NewPassword").unwrap_or_default();
    check_new(c, Some(&profile), new)?;
    profile.set_password(new, c.now());
    profile.reset_required = false;
    store(c, user, profile).await?;
    Ok(Value::map())
}
