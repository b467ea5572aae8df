//! `Principal` and `NotPrincipal`: who a statement names, and how a caller matches it.
//!
//! From <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html>:
//! an account id and the account's root ARN both name the whole account (delegation,
//! not just the root user); a role ARN names the role's sessions; user, assumed-role
//! session and federated-user ARNs name exactly that principal; there are no partial
//! wildcards, only `"*"` and `{"AWS": "*"}`. How the resource policy named the caller
//! decides what it grants (see [`Grant`] and the engine).
//!
//! `NotPrincipal` from
//! <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notprincipal.html>:
//! a caller is the chain of its identities (session, role, account; user, account), and
//! a `Deny` with `NotPrincipal` spares it only when every link is listed ("If the
//! `NotPrincipal` element was missing the ARN of the role, the effect of the policy might
//! be to explicitly deny access to the role"). An `Allow` with `NotPrincipal` applies
//! only when no link is listed.

use serde_json::Value as Json;

use crate::Principal;

/// Marks the [`Principal::Service`] forms that stand for other principal types (the
/// enum keeps its two variants for the services that match on it).
pub(crate) const FEDERATED: &str = "Federated:";
pub(crate) const CANONICAL: &str = "CanonicalUser:";

/// One principal a statement names.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PrincipalId {
    /// `"Principal": "*"`: everyone, services and anonymous callers included.
    Everyone,
    /// `{"AWS": "*"}`: every AWS identity and anonymous callers.
    AwsAny,
    Account(String),
    Arn {
        arn: String,
        /// For a role ARN: its account and name, which its sessions carry.
        role: Option<(String, String)>,
    },
    Service(String),
    Federated(String),
    Canonical(String),
    /// A principal type IAM does not know: matches nobody.
    Other,
}

impl PrincipalId {
    pub fn aws(id: &str) -> PrincipalId {
        if id == "*" {
            return PrincipalId::AwsAny;
        }
        if id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()) {
            return PrincipalId::Account(id.to_owned());
        }
        let parts: Vec<&str> = id.splitn(6, ':').collect();
        if let ["arn", _, "iam", "", account, resource] = parts.as_slice() {
            if *resource == "root" {
                return PrincipalId::Account((*account).to_owned());
            }
            if let Some(path) = resource.strip_prefix("role/") {
                let name = path.rsplit('/').next().unwrap_or(path);
                return PrincipalId::Arn {
                    arn: id.to_owned(),
                    role: Some(((*account).to_owned(), name.to_owned())),
                };
            }
        }
        PrincipalId::Arn {
            arn: id.to_owned(),
            role: None,
        }
    }
}

/// The principals of a `Principal`/`NotPrincipal` element; `None` when the element is
/// not of a principal's shape.
pub(crate) fn compile(v: &Json) -> Option<Vec<PrincipalId>> {
    match v {
        Json::String(s) if s == "*" => Some(vec![PrincipalId::Everyone]),
        Json::Object(m) => {
            let mut out = Vec::new();
            for (kind, ids) in m {
                let ids: Vec<&str> = match ids {
                    Json::String(s) => vec![s.as_str()],
                    Json::Array(a) => a.iter().filter_map(Json::as_str).collect(),
                    _ => continue,
                };
                for id in ids {
                    out.push(match kind.as_str() {
                        "AWS" => PrincipalId::aws(id),
                        "Service" => PrincipalId::Service(id.to_owned()),
                        "Federated" => PrincipalId::Federated(id.to_owned()),
                        "CanonicalUser" => PrincipalId::Canonical(id.to_owned()),
                        _ => PrincipalId::Other,
                    });
                }
            }
            Some(out)
        }
        _ => None,
    }
}

/// How a resource policy's `Allow` named the caller, which decides what else the
/// request needs (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html>,
/// "Resource-based policies"). Ordered weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Grant {
    /// The caller's account: delegation, the caller's own policies must allow.
    Account,
    /// The role of a session, or the IAM user a federated session came from: limited by
    /// the permissions boundary and session policies.
    Role,
    /// The caller itself (user, session, federated user, service...), `"*"`, or
    /// everyone but a list (`NotPrincipal`): no other policy needs to allow.
    Direct,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum WhoKind<'a> {
    Iam,
    Anonymous,
    Service(&'a str),
    Federated(&'a str),
    Canonical(&'a str),
}

/// The caller as principal matching sees it, parsed once per evaluation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Who<'a> {
    pub kind: WhoKind<'a>,
    pub account: &'a str,
    pub arn: &'a str,
    /// An assumed-role session's role: account and name.
    pub role: Option<(&'a str, &'a str)>,
    /// The role or IAM user a session was issued for, when the caller knows it.
    pub source: Option<&'a str>,
    pub root: bool,
    pub federated_user: bool,
}

impl<'a> Who<'a> {
    pub fn of(p: &'a Principal, source: Option<&'a str>) -> Who<'a> {
        let mut who = Who {
            kind: WhoKind::Iam,
            account: "",
            arn: "",
            role: None,
            source,
            root: false,
            federated_user: false,
        };
        match p {
            Principal::Service(s) => {
                who.kind = if let Some(f) = s.strip_prefix(FEDERATED) {
                    WhoKind::Federated(f)
                } else if let Some(c) = s.strip_prefix(CANONICAL) {
                    WhoKind::Canonical(c)
                } else {
                    WhoKind::Service(s)
                };
            }
            Principal::Aws { .. } if p.is_anonymous() => who.kind = WhoKind::Anonymous,
            Principal::Aws { account, arn } => {
                who.account = account;
                who.arn = arn;
                let mut parts = arn.splitn(6, ':');
                let arn_account = parts.nth(4).unwrap_or(account);
                let resource = parts.next().unwrap_or_default();
                if resource == "root" {
                    who.root = true;
                } else if let Some(rest) = resource.strip_prefix("assumed-role/") {
                    let name = rest.split('/').next().unwrap_or(rest);
                    who.role = Some((arn_account, name));
                } else if resource.starts_with("federated-user/") {
                    who.federated_user = true;
                }
            }
        }
        who
    }

    /// Whether the caller is an IAM identity of an account (has identity policies).
    pub fn has_identity(&self) -> bool {
        self.kind == WhoKind::Iam
    }

    /// How `id` names the caller, if it does.
    fn named_by(&self, id: &PrincipalId) -> Option<Grant> {
        match (id, self.kind) {
            (PrincipalId::Everyone, _) => Some(Grant::Direct),
            (PrincipalId::AwsAny, WhoKind::Iam | WhoKind::Anonymous) => Some(Grant::Direct),
            (PrincipalId::Account(a), WhoKind::Iam) => {
                (a == self.account).then_some(Grant::Account)
            }
            (PrincipalId::Arn { arn, role }, WhoKind::Iam) => {
                if arn == self.arn && !self.root {
                    Some(Grant::Direct)
                } else if role
                    .as_ref()
                    .zip(self.role)
                    .is_some_and(|((ra, rn), (a, n))| ra == a && rn == n)
                    || self.source == Some(arn.as_str())
                {
                    Some(Grant::Role)
                } else {
                    None
                }
            }
            (PrincipalId::Service(s), WhoKind::Service(n)) => {
                (s == "*" || same_service(s, n)).then_some(Grant::Direct)
            }
            (PrincipalId::Federated(f), WhoKind::Federated(p)) => (f == p).then_some(Grant::Direct),
            (PrincipalId::Canonical(c), WhoKind::Canonical(x)) => (c == x).then_some(Grant::Direct),
            _ => None,
        }
    }

    /// The strongest way any of `ids` names the caller (`Principal`).
    pub fn best_grant(&self, ids: &[PrincipalId]) -> Option<Grant> {
        ids.iter().filter_map(|id| self.named_by(id)).max()
    }

    /// Whether a `NotPrincipal` statement listing `ids` applies to the caller.
    pub fn not_principal_applies(&self, ids: &[PrincipalId], deny: bool) -> bool {
        let listed = |member: Member| {
            ids.iter().any(|id| match (id, member) {
                (PrincipalId::Everyone, _) => true,
                (
                    PrincipalId::AwsAny,
                    Member::Arn
                    | Member::Account
                    | Member::Role
                    | Member::Source
                    | Member::Anonymous,
                ) => true,
                (PrincipalId::Account(a), Member::Account) => a == self.account,
                (PrincipalId::Arn { arn, .. }, Member::Arn) => arn == self.arn,
                (
                    PrincipalId::Arn {
                        role: Some((ra, rn)),
                        ..
                    },
                    Member::Role,
                ) => self.role.is_some_and(|(a, n)| ra == a && rn == n),
                (PrincipalId::Arn { arn, .. }, Member::Source) => self.source == Some(arn.as_str()),
                (_, Member::Other) => self.named_by(id).is_some(),
                _ => false,
            })
        };
        let mut chain = [Member::Other; 4];
        let n = match self.kind {
            WhoKind::Iam => {
                let mut n = 0;
                for (present, m) in [
                    (!self.root, Member::Arn),
                    (self.role.is_some(), Member::Role),
                    (self.source.is_some(), Member::Source),
                    (true, Member::Account),
                ] {
                    if present {
                        chain[n] = m;
                        n += 1;
                    }
                }
                n
            }
            WhoKind::Anonymous => {
                chain[0] = Member::Anonymous;
                1
            }
            _ => 1,
        };
        let chain = &chain[..n];
        if deny {
            chain.iter().any(|&m| !listed(m))
        } else {
            !chain.iter().any(|&m| listed(m))
        }
    }
}

/// One link of a caller's identity chain, for `NotPrincipal`.
#[derive(Debug, Clone, Copy)]
enum Member {
    Arn,
    Role,
    Source,
    Account,
    Anonymous,
    /// A service, identity provider or canonical user: matched as `Principal` would.
    Other,
}

/// Whether a policy's service principal names the calling service: the same name in
/// any case, or its regional form (`logs.us-east-1.amazonaws.com`, which AWS's guides
/// give for CloudWatch Logs) for nephos's `logs.amazonaws.com`.
fn same_service(named: &str, caller: &str) -> bool {
    if named.eq_ignore_ascii_case(caller) {
        return true;
    }
    let (Some((name, rest)), Some((svc, "amazonaws.com"))) =
        (named.split_once('.'), caller.split_once('.'))
    else {
        return false;
    };
    rest.strip_suffix(".amazonaws.com")
        .is_some_and(|region| name.eq_ignore_ascii_case(svc) && is_region(region))
}

fn is_region(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    parts.len() >= 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric()))
        && parts
            .last()
            .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn aws(arn: &str) -> Principal {
        Principal::Aws {
            account: arn.split(':').nth(4).unwrap().to_owned(),
            arn: arn.to_owned(),
        }
    }

    #[test]
    fn naming() {
        let user = aws("arn:aws:iam::111122223333:user/alice");
        let who = Who::of(&user, None);
        let ids = compile(&json!({"AWS": ["111122223333"]})).unwrap();
        assert_eq!(who.best_grant(&ids), Some(Grant::Account));
        let ids = compile(&json!({"AWS": "arn:aws:iam::111122223333:root"})).unwrap();
        assert_eq!(who.best_grant(&ids), Some(Grant::Account));
        let ids =
            compile(&json!({"AWS": ["111122223333", "arn:aws:iam::111122223333:user/alice"]}))
                .unwrap();
        assert_eq!(who.best_grant(&ids), Some(Grant::Direct));
        // User names in principals are case-sensitive.
        let ids = compile(&json!({"AWS": "arn:aws:iam::111122223333:user/Alice"})).unwrap();
        assert_eq!(who.best_grant(&ids), None);
        let session = aws("arn:aws:sts::111122223333:assumed-role/Admin/s1");
        let who = Who::of(&session, None);
        let ids = compile(&json!({"AWS": "arn:aws:iam::111122223333:role/team/Admin"})).unwrap();
        assert_eq!(who.best_grant(&ids), Some(Grant::Role));
        let ids =
            compile(&json!({"AWS": "arn:aws:sts::111122223333:assumed-role/Admin/s1"})).unwrap();
        assert_eq!(who.best_grant(&ids), Some(Grant::Direct));
        let ids = compile(&json!({"AWS": "arn:aws:iam::999999999999:role/Admin"})).unwrap();
        assert_eq!(who.best_grant(&ids), None);
        let svc = Principal::Service("sns.amazonaws.com".into());
        let ids = compile(&json!({"Service": ["SNS.amazonaws.com"]})).unwrap();
        assert_eq!(Who::of(&svc, None).best_grant(&ids), Some(Grant::Direct));
        let ids = compile(&json!({"AWS": "*"})).unwrap();
        assert_eq!(Who::of(&svc, None).best_grant(&ids), None);
        let fed = Principal::federated("accounts.google.com");
        let ids = compile(&json!({"Federated": "accounts.google.com"})).unwrap();
        assert_eq!(Who::of(&fed, None).best_grant(&ids), Some(Grant::Direct));
        assert!(compile(&json!("someone")).is_none());
    }

    #[test]
    fn not_principal_chains() {
        let session = aws("arn:aws:sts::444455556666:assumed-role/audit/app");
        let who = Who::of(&session, None);
        let all = compile(&json!({"AWS": [
            "arn:aws:sts::444455556666:assumed-role/audit/app",
            "arn:aws:iam::444455556666:role/audit",
            "arn:aws:iam::444455556666:root"
        ]}))
        .unwrap();
        assert!(!who.not_principal_applies(&all, true));
        let no_role = compile(&json!({"AWS": [
            "arn:aws:sts::444455556666:assumed-role/audit/app",
            "arn:aws:iam::444455556666:root"
        ]}))
        .unwrap();
        assert!(who.not_principal_applies(&no_role, true));
        let other = compile(&json!({"AWS": "333333333333"})).unwrap();
        assert!(who.not_principal_applies(&other, false));
        assert!(!who.not_principal_applies(&no_role, false));
        let anon = Principal::anonymous();
        assert!(Who::of(&anon, None).not_principal_applies(&all, true));
    }

    #[test]
    fn regional_service_principals_name_the_service() {
        assert!(same_service(
            "logs.us-east-1.amazonaws.com",
            "logs.amazonaws.com"
        ));
        assert!(same_service("LOGS.amazonaws.com", "logs.amazonaws.com"));
        assert!(!same_service(
            "logs.us-east-1.amazonaws.com",
            "sns.amazonaws.com"
        ));
        assert!(!same_service(
            "delivery.logs.amazonaws.com",
            "logs.amazonaws.com"
        ));
        assert!(!same_service(
            "logs.evil.amazonaws.com",
            "logs.amazonaws.com"
        ));
    }
}
