//! The request context: condition keys with their values, as a request supplies them.
//!
//! Key names are case-insensitive, tag keys after the `/` included: "Key names are not
//! case-sensitive ... `aws:ResourceTag/TagKey1` matches a resource tag key named either
//! `TagKey1` or `tagkey1`"
//! (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition.html>).
//! A key has one value or several (multivalued keys such as `aws:TagKeys`); a key set
//! with no values counts as absent. A handful of keys per request makes a vector with
//! lowercase names the fastest map.

use crate::Principal;

/// Condition keys of one request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Context {
    /// Lowercased key name, values.
    keys: Vec<(String, Vec<String>)>,
}

impl Context {
    pub fn new() -> Context {
        Context::default()
    }

    /// Sets a single-valued key, replacing any values it had.
    pub fn set(&mut self, key: &str, value: impl Into<String>) -> &mut Context {
        self.set_many(key, [value])
    }

    /// Sets a (possibly multivalued) key, replacing any values it had.
    pub fn set_many<V: Into<String>>(
        &mut self,
        key: &str,
        values: impl IntoIterator<Item = V>,
    ) -> &mut Context {
        let values: Vec<String> = values.into_iter().map(Into::into).collect();
        match self
            .keys
            .iter_mut()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
        {
            Some((_, v)) => *v = values,
            None => self.keys.push((key.to_ascii_lowercase(), values)),
        }
        self
    }

    /// Builder form of [`Context::set`].
    pub fn with(mut self, key: &str, value: impl Into<String>) -> Context {
        self.set(key, value);
        self
    }

    /// Adds values to a key (a multivalued key built up one value at a time).
    pub fn add(&mut self, key: &str, value: impl Into<String>) -> &mut Context {
        match self
            .keys
            .iter_mut()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
        {
            Some((_, v)) => v.push(value.into()),
            None => self
                .keys
                .push((key.to_ascii_lowercase(), vec![value.into()])),
        }
        self
    }

    pub fn remove(&mut self, key: &str) {
        self.keys.retain(|(k, _)| !k.eq_ignore_ascii_case(key));
    }

    /// The key's values, looked up case-insensitively; `None` when absent or empty.
    pub fn get(&self, key: &str) -> Option<&[String]> {
        self.keys
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_slice())
            .filter(|v| !v.is_empty())
    }

    /// Every key (lowercased) with its values.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.keys.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }

    /// The global keys that describe the caller, as AWS fills them for each principal
    /// type (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html#principaltable>,
    /// `aws:PrincipalArn`/`aws:PrincipalAccount`/`aws:PrincipalType` in
    /// <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html>):
    /// `aws:PrincipalArn` (a role session's is its role's: pass `role_arn`, which carries
    /// the role's path), `aws:PrincipalAccount`, `aws:PrincipalType`, `aws:username`
    /// (IAM users only) and `aws:userid` (`user_id`: the user's or role's unique id; a
    /// session's is `<role id>:<session name>`, built here from the role id).
    pub fn set_principal(
        &mut self,
        principal: &Principal,
        user_id: Option<&str>,
        role_arn: Option<&str>,
    ) -> &mut Context {
        let (account, arn) = match principal {
            Principal::Aws { account, arn } if !principal.is_anonymous() => (account, arn),
            Principal::Aws { .. } => {
                self.set("aws:PrincipalType", "Anonymous");
                self.set("aws:userid", "anonymous");
                return self;
            }
            Principal::Service(_) => return self,
        };
        self.set("aws:PrincipalAccount", account.as_str());
        let resource = arn.splitn(6, ':').nth(5).unwrap_or_default();
        if resource == "root" {
            self.set("aws:PrincipalArn", arn.as_str());
            self.set("aws:PrincipalType", "Account");
            self.set("aws:userid", account.as_str());
        } else if let Some(rest) = resource.strip_prefix("assumed-role/") {
            let session = rest.split_once('/').map_or("", |(_, s)| s);
            self.set("aws:PrincipalArn", role_arn.unwrap_or(arn));
            self.set("aws:PrincipalType", "AssumedRole");
            if let Some(id) = user_id {
                let id = id.split(':').next().unwrap_or(id);
                self.set("aws:userid", format!("{id}:{session}"));
            }
        } else if let Some(name) = resource.strip_prefix("federated-user/") {
            self.set("aws:PrincipalArn", arn.as_str());
            self.set("aws:PrincipalType", "FederatedUser");
            self.set("aws:userid", format!("{account}:{name}"));
        } else if resource.starts_with("user/") {
            self.set("aws:PrincipalArn", arn.as_str());
            self.set("aws:PrincipalType", "User");
            let name = resource.rsplit('/').next().unwrap_or_default();
            self.set("aws:username", name);
            if let Some(id) = user_id {
                self.set("aws:userid", id);
            }
        } else {
            self.set("aws:PrincipalArn", arn.as_str());
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_case_insensitive_and_replaced() {
        let mut c = Context::new();
        c.set("aws:SourceIp", "10.0.0.1");
        c.set("AWS:SOURCEIP", "10.0.0.2");
        assert_eq!(c.get("aws:sourceip").unwrap(), ["10.0.0.2"]);
        c.set_many("aws:TagKeys", ["a", "b"])
            .add("aws:tagkeys", "c");
        assert_eq!(c.get("aws:TagKeys").unwrap(), ["a", "b", "c"]);
        c.set("aws:ResourceTag/Team", "x");
        assert!(c.get("aws:resourcetag/team").is_some());
        c.set_many("empty", Vec::<String>::new());
        assert!(c.get("empty").is_none());
        c.remove("aws:sourceip");
        assert!(c.get("aws:SourceIp").is_none());
    }

    #[test]
    fn principal_keys() {
        let mut c = Context::new();
        let user = Principal::Aws {
            account: "111122223333".into(),
            arn: "arn:aws:iam::111122223333:user/dev/alice".into(),
        };
        c.set_principal(&user, Some("AIDAEXAMPLE"), None);
        assert_eq!(c.get("aws:username").unwrap(), ["alice"]);
        assert_eq!(c.get("aws:userid").unwrap(), ["AIDAEXAMPLE"]);
        assert_eq!(c.get("aws:PrincipalType").unwrap(), ["User"]);
        let mut c = Context::new();
        let session = Principal::Aws {
            account: "111122223333".into(),
            arn: "arn:aws:sts::111122223333:assumed-role/Admin/s1".into(),
        };
        c.set_principal(
            &session,
            Some("AROAEXAMPLE"),
            Some("arn:aws:iam::111122223333:role/ops/Admin"),
        );
        assert_eq!(
            c.get("aws:PrincipalArn").unwrap(),
            ["arn:aws:iam::111122223333:role/ops/Admin"]
        );
        assert_eq!(c.get("aws:userid").unwrap(), ["AROAEXAMPLE:s1"]);
        assert!(c.get("aws:username").is_none());
    }
}
