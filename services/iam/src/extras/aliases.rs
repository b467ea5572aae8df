//! The account alias (Create/List/DeleteAccountAlias): at most one per account, and
//! unique across all accounts, as AWS's sign-in URLs need.

use super::{Ctx, already_exists, handlers, no_such_entity};
use nephos_core::{AwsError, Value};

pub const KIND: &str = "alias";

pub(super) const HANDLERS: &[(&str, super::Handler)] = handlers! {
    "CreateAccountAlias" => create,
    "ListAccountAliases" => list,
    "DeleteAccountAlias" => delete,
};

/// Creating an alias replaces the account's earlier one; another account's alias is
/// taken.
async fn create(c: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    let alias = i.str("AccountAlias").unwrap_or_default().to_owned();
    let taken = c.p.accounts.all().into_iter().any(|((account, _), a)| {
        account != c.account_id()
            && a.extras.read().unwrap().alias.as_deref() == Some(alias.as_str())
    });
    if taken {
        return Err(already_exists(format!(
            "The account alias {alias} already exists."
        )));
    }
    let change = c.put(KIND, "", &alias);
    c.account.extras.write().unwrap().alias = Some(alias);
    c.commit(vec![change]).await?;
    Ok(Value::map())
}

async fn list(c: &Ctx<'_>, _i: &Value) -> Result<Value, AwsError> {
    let aliases: Vec<Value> = c
        .account
        .extras
        .read()
        .unwrap()
        .alias
        .iter()
        .map(|a| Value::from(a.as_str()))
        .collect();
    Ok(Value::map()
        .with("AccountAliases", aliases)
        .with("IsTruncated", false))
}

async fn delete(c: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    let alias = i.str("AccountAlias").unwrap_or_default();
    {
        let mut s = c.account.extras.write().unwrap();
        if s.alias.as_deref() != Some(alias) {
            return Err(no_such_entity(format!(
                "The account alias {alias} cannot be found."
            )));
        }
        s.alias = None;
    }
    c.commit(vec![c.delete(KIND, "")]).await?;
    Ok(Value::map())
}
