//! Who is calling STS: the account's root user, an IAM user, a role session or a
//! federated user, read from the credentials that signed the request.

use nephos_core::{RequestContext, Session};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Root,
    User,
    AssumedRole,
    FederatedUser,
    /// An AWS service calling in process for one of its resources.
    Service,
}

#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub(crate) account: String,
    /// The principal's ARN (`arn:aws:sts::<acct>:assumed-role/<role>/<session>`).
    pub(crate) arn: String,
    /// What GetCallerIdentity reports as `UserId`.
    pub(crate) user_id: String,
    pub(crate) kind: Kind,
    /// The session facts of temporary credentials.
    pub(crate) session: Option<Session>,
    /// Signed with temporary credentials (a session token), of whatever kind.
    pub(crate) temporary: bool,
}

impl Caller {
    pub(crate) fn of(ctx: &RequestContext) -> Caller {
        if let Some(c) = &ctx.credential {
            return Caller {
                account: c.account_id.clone(),
                arn: c.principal_arn.clone(),
                user_id: c.user_id.clone(),
                kind: kind_of(&c.principal_arn),
                session: c.session.clone(),
                temporary: c.session_token.is_some(),
            };
        }
        if nephos_policy::is_service_caller(&ctx.caller_arn) {
            return Caller {
                account: ctx.account_id.clone(),
                arn: ctx.caller_arn.clone(),
                user_id: ctx.account_id.clone(),
                kind: Kind::Service,
                session: None,
                temporary: false,
            };
        }
        Caller {
            account: ctx.account_id.clone(),
            arn: format!("arn:aws:iam::{}:root", ctx.account_id),
            user_id: ctx.account_id.clone(),
            kind: Kind::Root,
            session: None,
            temporary: false,
        }
    }

    /// `aws:PrincipalArn`: a role session is known by its role's ARN (with its path).
    pub(crate) fn principal_arn(&self) -> String {
        match (&self.kind, &self.session) {
            (Kind::AssumedRole, Some(s)) => {
                s.source_arn.clone().unwrap_or_else(|| self.arn.clone())
            }
            _ => self.arn.clone(),
        }
    }

    /// The IAM user's name, for a user's own keys and the sessions made from them.
    pub(crate) fn user_name(&self) -> Option<&str> {
        (self.kind == Kind::User)
            .then(|| self.arn.rsplit('/').next())
            .flatten()
    }

    /// Session tags the caller carries (`aws:PrincipalTag/*`).
    pub(crate) fn session_tags(&self) -> &[(String, String)] {
        self.session.as_ref().map_or(&[], |s| s.tags.as_slice())
    }

    pub(crate) fn mfa(&self) -> bool {
        self.session.as_ref().is_some_and(|s| s.mfa)
    }

    pub(crate) fn source_identity(&self) -> Option<&str> {
        self.session.as_ref()?.source_identity.as_deref()
    }
}

fn kind_of(arn: &str) -> Kind {
    let resource = arn.splitn(6, ':').nth(5).unwrap_or_default();
    if resource == "root" {
        Kind::Root
    } else if resource.starts_with("assumed-role/") {
        Kind::AssumedRole
    } else if resource.starts_with("federated-user/") {
        Kind::FederatedUser
    } else if resource.starts_with("user/") {
        Kind::User
    } else {
        Kind::Root
    }
}
