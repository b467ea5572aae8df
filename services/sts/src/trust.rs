//! A role's trust policy asked whether a principal may assume the role, on nephos's
//! policy engine (`nephos_policy::engine`).
//!
//! The trust policy is the role's resource policy (a document of `PolicyKind::Trust`,
//! read leniently: IAM checked it when it was stored), the request's keys its context,
//! with multivalued keys (`aws:TagKeys`, `sts:TransitiveTagKeys`, a token's `amr`) as
//! sets, so `ForAllValues:`/`ForAnyValue:` conditions see every value. The engine names
//! the caller as AWS does in a `Principal`: an account (id or root ARN), an IAM user, a
//! role (which names its sessions), a session, a service (`lambda.amazonaws.com`, for
//! the execution role Lambda assumes for a function) or an identity provider
//! (`Federated`, for AssumeRoleWithWebIdentity and AssumeRoleWithSAML).
//!
//! Only the trust side is decided here: an applying `Deny` refuses, and every action
//! asked (`sts:AssumeRole*`, plus `sts:TagSession` and `sts:SetSourceIdentity` when the
//! request sets them) needs an applying `Allow`. The caller's own identity policies
//! (which must also allow `sts:AssumeRole` on the role, across accounts always) are the
//! gateway's authorizer's business under `--enforce-iam`, before STS runs.

use nephos_policy::engine::{self, PolicySet, Request};
use nephos_policy::{Context, Decision, Document, PolicyKind, Principal};

/// The principal assuming a role.
#[derive(Debug, Clone)]
pub(crate) enum Who {
    /// An identity of an account: its ARN, and the ARN policies know it by (a role
    /// session's role). A service acting for one of its resources comes as its
    /// `nephos_policy::service_caller` marker in `arn`.
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
/// `role_arn`, if any. `keys` are the request's condition keys; a key given several
/// times is one multivalued key.
pub(crate) fn first_refused<'a>(
    policy: &str,
    who: &Who,
    actions: &[&'a str],
    role_arn: &str,
    keys: &[(String, String)],
) -> Option<&'a str> {
    let Ok(json) = serde_json::from_str::<serde_json::Value>(policy) else {
        return actions.first().copied();
    };
    let doc = Document::from_json(&json, PolicyKind::Trust);
    let mut context = Context::new();
    for (k, v) in keys {
        context.add(k, v.as_str());
    }
    let (principal, account, source) = match who {
        Who::Aws {
            account,
            arn,
            principal_arn,
        } => match arn.split_once(' ') {
            Some((service, source_arn)) if nephos_policy::is_service_caller(arn) => {
                // A service acts for a resource of `account`: what `aws:SourceArn` and
                // `aws:SourceAccount` conditions of a confused-deputy guard test.
                context.set("aws:SourceArn", source_arn);
                context.set("aws:SourceAccount", account.as_str());
                (
                    Principal::Service(service.to_owned()),
                    account.as_str(),
                    None,
                )
            }
            _ => {
                let principal = Principal::Aws {
                    account: account.clone(),
                    arn: arn.clone(),
                };
                let role = (principal_arn != arn).then_some(principal_arn.as_str());
                context.set_principal(&principal, None, role);
                (principal, account.as_str(), role)
            }
        },
        Who::Federated(provider) => (Principal::federated(provider), "", None),
    };
    let role_account = role_arn.split(':').nth(4).unwrap_or_default();
    let mut set = PolicySet::new(account);
    set.resource = Some(("trust", &doc));
    set.resource_account = (role_account != account).then_some(role_account);
    set.resource_required = true;
    set.session_source = source;
    actions.iter().copied().find(|action| {
        let request = Request {
            principal: &principal,
            action,
            resource: role_arn,
            context: &context,
        };
        // The trust policy's own say: the caller's identity side is decided elsewhere.
        engine::evaluate(&request, &set).resource != Decision::Allow
    })
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
        assert!(!ok(
            p(r#""arn:aws:iam::222222222222:role/other""#),
            &session
        ));
        // A statement for another action grants nothing.
        let doc = p(r#""*""#).replace("sts:AssumeRole\"", "sts:TagSession\"");
        assert!(!ok(doc, &user()));
        // Trust policies have no Resource: a statement applies to its role.
        assert!(ok(p(r#""*""#), &user()));
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
        assert_eq!(
            first_refused(
                doc,
                &user(),
                &["sts:AssumeRole", "sts:SetSourceIdentity"],
                ROLE,
                &[]
            ),
            Some("sts:SetSourceIdentity")
        );
        let only_assume =
            r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}}"#;
        assert_eq!(
            first_refused(
                only_assume,
                &user(),
                &["sts:AssumeRole", "sts:TagSession"],
                ROLE,
                &[]
            ),
            Some("sts:TagSession")
        );
        assert!(!allows("not json", &user(), &["sts:AssumeRole"], ROLE, &[]));
        let not_principal = r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"},
            {"Effect":"Deny","NotPrincipal":{"AWS":["arn:aws:iam::222222222222:user/alice","222222222222"]},"Action":"sts:*"}]}"#;
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
        // The caller's own keys come from who it is.
        let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole",
            "Condition":{"StringEquals":{"aws:PrincipalAccount":"222222222222","aws:PrincipalArn":"arn:aws:iam::222222222222:user/alice","aws:username":"alice"}}}]}"#;
        assert!(allows(doc, &user(), &["sts:AssumeRole"], ROLE, &[]));
        let session = Who::Aws {
            account: "222222222222".into(),
            arn: "arn:aws:sts::222222222222:assumed-role/ops/s1".into(),
            principal_arn: "arn:aws:iam::222222222222:role/ops".into(),
        };
        let doc = r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole",
            "Condition":{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::222222222222:role/ops"}}}]}"#;
        assert!(allows(doc, &session, &["sts:AssumeRole"], ROLE, &[]));
        assert!(!allows(doc, &user(), &["sts:AssumeRole"], ROLE, &[]));
    }

    #[test]
    fn multivalued_keys_are_sets() {
        let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":["sts:AssumeRole","sts:TagSession"],
            "Condition":{"ForAllValues:StringEquals":{"aws:TagKeys":["team","project"]}}}]}"#;
        let actions = ["sts:AssumeRole", "sts:TagSession"];
        let both = keys(&[("aws:TagKeys", "team"), ("aws:TagKeys", "project")]);
        assert!(allows(doc, &user(), &actions, ROLE, &both));
        // The second value is seen, not only the first.
        let extra = keys(&[("aws:TagKeys", "team"), ("aws:TagKeys", "cost")]);
        assert!(!allows(doc, &user(), &actions, ROLE, &extra));
        let any = r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole",
            "Condition":{"ForAnyValue:StringEquals":{"sts:TransitiveTagKeys":"project"}}}]}"#;
        let transitive = keys(&[
            ("sts:TransitiveTagKeys", "team"),
            ("sts:TransitiveTagKeys", "project"),
        ]);
        assert!(allows(any, &user(), &["sts:AssumeRole"], ROLE, &transitive));
        assert!(!allows(any, &user(), &["sts:AssumeRole"], ROLE, &[]));
    }

    #[test]
    fn services_assume_roles_that_trust_them() {
        let function = "arn:aws:lambda:us-east-1:111111111111:function:f";
        let lambda = Who::Aws {
            account: "111111111111".into(),
            arn: nephos_policy::service_caller("lambda.amazonaws.com", function),
            principal_arn: nephos_policy::service_caller("lambda.amazonaws.com", function),
        };
        let trusts = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
        assert!(allows(trusts, &lambda, &["sts:AssumeRole"], ROLE, &[]));
        let other = trusts.replace("lambda.amazonaws.com", "ec2.amazonaws.com");
        assert!(!allows(&other, &lambda, &["sts:AssumeRole"], ROLE, &[]));
        // A service is no identity of an account.
        let account = r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"111111111111"},"Action":"sts:AssumeRole"}]}"#;
        assert!(!allows(account, &lambda, &["sts:AssumeRole"], ROLE, &[]));
        // The confused-deputy guard sees the function and its account.
        let guarded = r#"{"Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole",
            "Condition":{"StringEquals":{"aws:SourceAccount":"111111111111"},"ArnLike":{"aws:SourceArn":"arn:aws:lambda:*:*:function:f"}}}]}"#;
        assert!(allows(guarded, &lambda, &["sts:AssumeRole"], ROLE, &[]));
        let elsewhere = guarded.replace("function:f\"", "function:g\"");
        assert!(!allows(&elsewhere, &lambda, &["sts:AssumeRole"], ROLE, &[]));
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
        // `{"AWS": "*"}` is no identity provider.
        let any_aws = r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRoleWithWebIdentity"}]}"#;
        assert!(!allows(
            any_aws,
            &who,
            &["sts:AssumeRoleWithWebIdentity"],
            ROLE,
            &sub
        ));
    }
}
