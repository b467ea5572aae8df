//! A role's trust policy asked whether a principal may assume the role.
//!
//! The principal is matched here, since trust policies name principals the resource
//! policy evaluator of `nephos-policy` does not know (`Federated` identity providers,
//! role sessions known by their role's ARN); each statement whose principal matches is
//! then handed to that evaluator, principal-free, for its actions and conditions. An
//! applying `Deny` refuses, and every action asked (`sts:AssumeRole`, plus
//! `sts:TagSession` and `sts:SetSourceIdentity` when the request sets them) needs an
//! applying `Allow`.

use nephos_policy::{Caller, Decision, Policy};
use serde_json::Value as Json;

/// The principal assuming a role.
#[derive(Debug, Clone)]
pub(crate) enum Who {
    /// An identity of an account: its ARN, and the ARN policies know it by (a role
    /// session's role).
    Aws {
        account: String,
        arn: String,
        principal_arn: String,
    },
    /// A web identity or SAML provider (`arn:aws:iam::<acct>:oidc-provider/<url>`,
    /// `accounts.google.com`).
    Federated(String),
}

/// Whether `policy` lets `who` perform every one of `actions` on the role `role_arn`,
/// with the request's condition keys.
#[cfg(test)]
fn allows(
    policy: &str,
    who: &Who,
    actions: &[&str],
    role_arn: &str,
    keys: &[(String, String)],
) -> bool {
    first_refused(policy, who, actions, role_arn, keys).is_none()
}

/// The first of `actions` that `policy` does not let `who` perform on the role
/// `role_arn` (with the request's condition keys), if any.
pub(crate) fn first_refused<'a>(
    policy: &str,
    who: &Who,
    actions: &[&'a str],
    role_arn: &str,
    keys: &[(String, String)],
) -> Option<&'a str> {
    let Ok(doc) = serde_json::from_str::<Json>(policy) else {
        return actions.first().copied();
    };
    let statements: Vec<&Json> = match doc.get("Statement") {
        Some(Json::Array(a)) => a.iter().collect(),
        Some(s @ Json::Object(_)) => vec![s],
        _ => return actions.first().copied(),
    };
    let version = doc.get("Version").cloned().unwrap_or(Json::Null);
    // Each statement whose principal matches, rewritten for any principal.
    let applicable: Vec<Policy> = statements
        .into_iter()
        .filter(|s| principal_applies(s, who))
        .filter_map(|s| {
            let mut s = s.clone();
            let obj = s.as_object_mut()?;
            obj.remove("NotPrincipal");
            obj.insert("Principal".into(), Json::String("*".into()));
            let mut one = serde_json::Map::new();
            if !version.is_null() {
                one.insert("Version".into(), version.clone());
            }
            one.insert("Statement".into(), Json::Array(vec![s]));
            Policy::parse(&Json::Object(one).to_string())
        })
        .collect();
    let caller = caller(who, keys);
    actions.iter().copied().find(|action| {
        let mut allowed = false;
        for p in &applicable {
            match p.evaluate(&caller, action, role_arn) {
                Decision::Deny => return true,
                Decision::Allow => allowed = true,
                Decision::NoMatch => {}
            }
        }
        !allowed
    })
}

fn caller(who: &Who, keys: &[(String, String)]) -> Caller {
    let mut caller = match who {
        Who::Aws {
            account,
            principal_arn,
            ..
        } => Caller::from_context(account, principal_arn),
        Who::Federated(provider) => Caller {
            principal: nephos_policy::Principal::Aws {
                account: String::new(),
                arn: provider.clone(),
            },
            keys: Vec::new(),
        },
    };
    for (k, v) in keys {
        caller = caller.with_key(k, v);
    }
    caller
}

fn principal_applies(s: &Json, who: &Who) -> bool {
    match (s.get("Principal"), s.get("NotPrincipal")) {
        (Some(p), None) => principal_matches(p, who),
        (None, Some(np)) => !principal_matches(np, who),
        _ => false,
    }
}

fn principal_matches(p: &Json, who: &Who) -> bool {
    match p {
        Json::String(s) => s == "*",
        Json::Object(m) => m.iter().any(|(kind, ids)| {
            strings(ids).any(|id| match (kind.as_str(), who) {
                (
                    "AWS",
                    Who::Aws {
                        account,
                        arn,
                        principal_arn,
                    },
                ) => {
                    id == "*"
                        || id == account
                        || id == arn
                        || id == principal_arn
                        || id
                            .strip_prefix("arn:aws:iam::")
                            .and_then(|r| r.strip_suffix(":root"))
                            == Some(account.as_str())
                }
                ("Federated", Who::Federated(provider)) => id == provider,
                _ => false,
            })
        }),
        _ => false,
    }
}

fn strings(v: &Json) -> Box<dyn Iterator<Item = &str> + '_> {
    match v {
        Json::String(s) => Box::new(std::iter::once(s.as_str())),
        Json::Array(a) => Box::new(a.iter().filter_map(Json::as_str)),
        _ => Box::new(std::iter::empty()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROLE: &str = "arn:aws:iam::111111111111:role/r";

    fn user() -> Who {
        Who::Aws {
            account: "222222222222".into(),
            arn: "arn:aws:iam::222222222222:user/alice".into(),
            principal_arn: "arn:aws:iam::222222222222:user/alice".into(),
        }
    }

    fn keys(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn principals_by_account_arn_and_role_of_a_session() {
        let p = |principal: &str| {
            format!(
                r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":{principal}}},"Action":"sts:AssumeRole"}}]}}"#
            )
        };
        let ok = |doc: String, who: &Who| allows(&doc, who, &["sts:AssumeRole"], ROLE, &[]);
        assert!(ok(p(r#""222222222222""#), &user()));
        assert!(ok(p(r#""arn:aws:iam::222222222222:root""#), &user()));
        assert!(ok(
            p(r#"["x","arn:aws:iam::222222222222:user/alice"]"#),
            &user()
        ));
        assert!(!ok(p(r#""333333333333""#), &user()));
        assert!(!ok(p(r#""arn:aws:iam::222222222222:user/bob""#), &user()));
        let session = Who::Aws {
            account: "222222222222".into(),
            arn: "arn:aws:sts::222222222222:assumed-role/ops/s1".into(),
            principal_arn: "arn:aws:iam::222222222222:role/team/ops".into(),
        };
        assert!(ok(
            p(r#""arn:aws:iam::222222222222:role/team/ops""#),
            &session
        ));
        assert!(ok(
            p(r#""arn:aws:sts::222222222222:assumed-role/ops/s1""#),
            &session
        ));
        // A statement for another action grants nothing.
        let doc = p(r#""*""#).replace("sts:AssumeRole\"", "sts:TagSession\"");
        assert!(!ok(doc, &user()));
    }

    #[test]
    fn every_action_needs_an_allow_and_deny_wins() {
        let doc = r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":["sts:AssumeRole","sts:TagSession"]},
            {"Effect":"Deny","Principal":{"AWS":"*"},"Action":"sts:SetSourceIdentity"}]}"#;
        assert!(allows(
            doc,
            &user(),
            &["sts:AssumeRole", "sts:TagSession"],
            ROLE,
            &[]
        ));
        assert!(!allows(
            doc,
            &user(),
            &["sts:AssumeRole", "sts:SetSourceIdentity"],
            ROLE,
            &[]
        ));
        let only_assume =
            r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}}"#;
        assert!(!allows(
            only_assume,
            &user(),
            &["sts:AssumeRole", "sts:TagSession"],
            ROLE,
            &[]
        ));
        assert!(!allows("not json", &user(), &["sts:AssumeRole"], ROLE, &[]));
        let not_principal = r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"},
            {"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::222222222222:user/alice"},"Action":"sts:*"}]}"#;
        assert!(allows(
            not_principal,
            &user(),
            &["sts:AssumeRole"],
            ROLE,
            &[]
        ));
        let bob = Who::Aws {
            account: "222222222222".into(),
            arn: "arn:aws:iam::222222222222:user/bob".into(),
            principal_arn: "arn:aws:iam::222222222222:user/bob".into(),
        };
        assert!(!allows(not_principal, &bob, &["sts:AssumeRole"], ROLE, &[]));
    }

    #[test]
    fn conditions_see_the_request_keys() {
        let doc = r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"222222222222"},"Action":"sts:AssumeRole",
            "Condition":{"StringEquals":{"sts:ExternalId":"secret"}}}]}"#;
        let with = keys(&[("sts:ExternalId", "secret")]);
        assert!(allows(doc, &user(), &["sts:AssumeRole"], ROLE, &with));
        let wrong = keys(&[("sts:ExternalId", "guess")]);
        assert!(!allows(doc, &user(), &["sts:AssumeRole"], ROLE, &wrong));
        assert!(!allows(doc, &user(), &["sts:AssumeRole"], ROLE, &[]));
    }

    #[test]
    fn federated_principals() {
        let provider = "arn:aws:iam::111111111111:oidc-provider/idp.example.com";
        let doc = format!(
            r#"{{"Statement":[{{"Effect":"Allow","Principal":{{"Federated":"{provider}"}},"Action":"sts:AssumeRoleWithWebIdentity",
            "Condition":{{"StringLike":{{"idp.example.com:sub":"repo:o/*"}}}}}}]}}"#
        );
        let who = Who::Federated(provider.into());
        let sub = keys(&[("idp.example.com:sub", "repo:o/r")]);
        assert!(allows(
            &doc,
            &who,
            &["sts:AssumeRoleWithWebIdentity"],
            ROLE,
            &sub
        ));
        let other = keys(&[("idp.example.com:sub", "repo:x/r")]);
        assert!(!allows(
            &doc,
            &who,
            &["sts:AssumeRoleWithWebIdentity"],
            ROLE,
            &other
        ));
        assert!(!allows(
            &doc,
            &user(),
            &["sts:AssumeRoleWithWebIdentity"],
            ROLE,
            &sub
        ));
        let elsewhere = Who::Federated("accounts.google.com".into());
        assert!(!allows(
            &doc,
            &elsewhere,
            &["sts:AssumeRoleWithWebIdentity"],
            ROLE,
            &sub
        ));
    }
}
