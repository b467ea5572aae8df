//! The account password policy (Update/Get/DeleteAccountPasswordPolicy) and the check
//! every new console password passes: the custom policy when there is one, else AWS's
//! default (8 characters, three of the four character kinds).

use super::{Ctx, handlers, no_such_entity};
use nephos_core::{AwsError, Value};
use serde::{Deserialize, Serialize};

pub const KIND: &str = "password-policy";

pub(super) const HANDLERS: &[(&str, super::Handler)] = handlers! {
    "UpdateAccountPasswordPolicy" => update,
    "GetAccountPasswordPolicy" => get,
    "DeleteAccountPasswordPolicy" => delete,
};

/// What UpdateAccountPasswordPolicy set; omitted parameters take AWS's defaults (the
/// operation replaces the whole policy).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PasswordPolicy {
    pub minimum_length: i64,
    pub require_symbols: bool,
    pub require_numbers: bool,
    pub require_uppercase: bool,
    pub require_lowercase: bool,
    pub allow_users_to_change: bool,
    pub max_age: Option<i64>,
    pub reuse_prevention: Option<i64>,
    pub hard_expiry: Option<bool>,
}

/// The characters AWS counts as symbols (non-alphanumeric) in passwords.
const SYMBOLS: &str = "!@#$%^&*()_+-=[]{}|'";

async fn update(c: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    let policy = PasswordPolicy {
        minimum_length: i.int("MinimumPasswordLength").unwrap_or(6),
        require_symbols: i.bool("RequireSymbols").unwrap_or(false),
        require_numbers: i.bool("RequireNumbers").unwrap_or(false),
        require_uppercase: i.bool("RequireUppercaseCharacters").unwrap_or(false),
        require_lowercase: i.bool("RequireLowercaseCharacters").unwrap_or(false),
        allow_users_to_change: i.bool("AllowUsersToChangePassword").unwrap_or(false),
        max_age: i.int("MaxPasswordAge"),
        reuse_prevention: i.int("PasswordReusePrevention"),
        hard_expiry: i.bool("HardExpiry"),
    };
    let change = c.put(KIND, "", &policy);
    c.account.extras.write().unwrap().password_policy = Some(policy);
    c.commit(vec![change]).await?;
    Ok(Value::map())
}

async fn get(c: &Ctx<'_>, _i: &Value) -> Result<Value, AwsError> {
    let s = c.account.extras.read().unwrap();
    let p = s.password_policy.as_ref().ok_or_else(|| {
        no_such_entity(format!(
            "The Password Policy with domain name {} cannot be found.",
            c.account_id()
        ))
    })?;
    let mut v = Value::map()
        .with("MinimumPasswordLength", p.minimum_length)
        .with("RequireSymbols", p.require_symbols)
        .with("RequireNumbers", p.require_numbers)
        .with("RequireUppercaseCharacters", p.require_uppercase)
        .with("RequireLowercaseCharacters", p.require_lowercase)
        .with("AllowUsersToChangePassword", p.allow_users_to_change)
        .with("ExpirePasswords", p.max_age.is_some_and(|a| a > 0));
    if let Some(a) = p.max_age {
        v.insert("MaxPasswordAge", a);
    }
    if let Some(r) = p.reuse_prevention {
        v.insert("PasswordReusePrevention", r);
    }
    if let Some(h) = p.hard_expiry {
        v.insert("HardExpiry", h);
    }
    Ok(Value::map().with("PasswordPolicy", v))
}

async fn delete(c: &Ctx<'_>, _i: &Value) -> Result<Value, AwsError> {
    if c.account
        .extras
        .write()
        .unwrap()
        .password_policy
        .take()
        .is_none()
    {
        return Err(no_such_entity(
            "The account policy with name PasswordPolicy cannot be found.",
        ));
    }
    c.commit(vec![c.delete(KIND, "")]).await?;
    Ok(Value::map())
}

fn violation(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "PasswordPolicyViolation", message)
}

/// Checks a new password against the account's policy (or AWS's default without one).
pub fn check(policy: Option<&PasswordPolicy>, password: &str) -> Result<(), AwsError> {
    let upper = password.chars().any(|c| c.is_ascii_uppercase());
    let lower = password.chars().any(|c| c.is_ascii_lowercase());
    let number = password.chars().any(|c| c.is_ascii_digit());
    let symbol = password.chars().any(|c| SYMBOLS.contains(c));
    let length = password.chars().count() as i64;
    let Some(p) = policy else {
        if length < 8 {
            return Err(violation("Password should have a minimum length of 8"));
        }
        let kinds = [
            (upper, "Password should have at least one uppercase letter"),
            (lower, "Password should have at least one lowercase letter"),
            (number, "Password should have at least one number"),
            (symbol, "Password should have at least one symbol"),
        ];
        let have = kinds.iter().filter(|(ok, _)| *ok).count();
        if have < 3 {
            let missing: Vec<&str> = kinds.iter().filter(|(ok, _)| !ok).map(|k| k.1).collect();
            return Err(violation(format!(
                "Password should meet {} more of the following requirements: {}",
                3 - have,
                missing.join(", ")
            )));
        }
        return Ok(());
    };
    let mut failed = Vec::new();
    if length < p.minimum_length {
        failed.push(format!(
            "Password should have a minimum length of {}",
            p.minimum_length
        ));
    }
    for (required, ok, what) in [
        (p.require_uppercase, upper, "one uppercase letter"),
        (p.require_lowercase, lower, "one lowercase letter"),
        (p.require_numbers, number, "one number"),
        (p.require_symbols, symbol, "one symbol"),
    ] {
        if required && !ok {
            failed.push(format!("Password should have at least {what}"));
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(violation(failed.join(", ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_policy_wants_three_kinds_of_characters() {
        assert!(check(None, "abcdef12").is_err());
        assert!(check(None, "Abcdef12").is_ok());
        let e = check(None, "abc").unwrap_err();
        assert_eq!(e.message, "Password should have a minimum length of 8");
        let e = check(None, "abcdefg1").unwrap_err();
        assert_eq!(
            e.message,
            "Password should meet 1 more of the following requirements: Password should have at least one uppercase letter, Password should have at least one symbol"
        );
    }

    #[test]
    fn a_custom_policy_names_what_is_missing() {
        let p = PasswordPolicy {
            minimum_length: 10,
            require_symbols: true,
            require_numbers: false,
            require_uppercase: false,
            require_lowercase: false,
            allow_users_to_change: false,
            max_age: None,
            reuse_prevention: None,
            hard_expiry: None,
        };
        assert!(check(Some(&p), "abcdefghij!").is_ok());
        let e = check(Some(&p), "abc").unwrap_err();
        assert_eq!(e.code, "PasswordPolicyViolation");
        assert_eq!(
            e.message,
            "Password should have a minimum length of 10, Password should have at least one symbol"
        );
    }
}
