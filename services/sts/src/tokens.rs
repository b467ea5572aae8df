//! Sessions of the caller itself: GetSessionToken (the same principal, possibly with
//! MFA), GetFederationToken (a federated user bounded by session policies), and
//! AssumeRoot (privileged sessions of an organization's member accounts).

use crate::StsProvider;
use crate::assume::validation;
use crate::caller::{Caller, Kind};
use crate::session;
use nephos_core::{AwsError, RequestContext, Session, Value};

/// GetSessionToken's and GetFederationToken's default duration.
const DEFAULT_SECS: i64 = 43_200;
/// Sessions of an account's root user are capped at one hour.
const ROOT_MAX_SECS: i64 = 3_600;

impl StsProvider {
    pub(crate) async fn get_session_token(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let caller = Caller::of(ctx);
        if caller.temporary {
            return Err(AwsError::new(
                403,
                "AccessDenied",
                "Cannot call GetSessionToken with session credentials",
            ));
        }
        let mut secs = input.int("DurationSeconds").unwrap_or(DEFAULT_SECS);
        if caller.kind == Kind::Root {
            secs = secs.min(ROOT_MAX_SECS);
        }
        let mfa = match (input.str("SerialNumber"), input.str("TokenCode")) {
            (None, None) => false,
            (serial, code) => self.check_mfa(ctx, &caller, serial, code).await?,
        };
        let now = ctx.clock.now_millis();
        let cred = crate::creds::temporary(
            &caller.account,
            caller.arn.clone(),
            caller.user_id.clone(),
            now + secs * 1000,
            Session {
                source_arn: Some(caller.arn.clone()),
                mfa,
                ..Default::default()
            },
        );
        Ok(Value::map().with("Credentials", self.issued.issue(cred, now).await?))
    }

    pub(crate) async fn get_federation_token(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let caller = Caller::of(ctx);
        if caller.temporary {
            return Err(AwsError::new(
                403,
                "AccessDenied",
                "Cannot call GetFederationToken with session credentials",
            ));
        }
        if !matches!(caller.kind, Kind::Root | Kind::User) {
            return Err(AwsError::new(
                403,
                "AccessDenied",
                format!(
                    "User: {} is not authorized to perform: sts:GetFederationToken",
                    caller.arn
                ),
            ));
        }
        let name = input.str("Name").unwrap_or_default();
        let mut secs = input.int("DurationSeconds").unwrap_or(DEFAULT_SECS);
        if caller.kind == Kind::Root {
            secs = secs.min(ROOT_MAX_SECS);
        }
        let tags = session::request_tags(input)?;
        let policies = session::request_policies(input)?;
        let packed = session::check_packed(&policies, &tags.tags)?;
        let account = caller.account.clone();
        let arn = format!("arn:aws:sts::{account}:federated-user/{name}");
        let user_id = format!("{account}:{name}");
        let now = ctx.clock.now_millis();
        // A federated user acts with the intersection of its session policies and the
        // policies of the user (or root) that made it; no session policy, no permissions.
        let cred = crate::creds::temporary(
            &account,
            arn.clone(),
            user_id.clone(),
            now + secs * 1000,
            Session {
                source_arn: Some(caller.arn.clone()),
                policies: policies.documents,
                policy_arns: policies.arns,
                tags: tags.tags,
                ..Default::default()
            },
        );
        let mut out = Value::map()
            .with("Credentials", self.issued.issue(cred, now).await?)
            .with(
                "FederatedUser",
                Value::map()
                    .with("FederatedUserId", user_id)
                    .with("Arn", arn),
            );
        if let Some(size) = packed {
            out.insert("PackedPolicySize", size);
        }
        Ok(out)
    }

    /// AssumeRoot is for an organization's management account (or a delegated
    /// administrator for IAM) with centralized root access enabled. nephos models no
    /// organizations, so every account is standalone and no caller may make the call.
    pub(crate) fn assume_root(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let caller = Caller::of(ctx);
        let target = input.str("TargetPrincipal").unwrap_or_default();
        let target_arn = if nephos_core::is_account_id(target) {
            format!("arn:aws:iam::{target}:root")
        } else if target.starts_with("arn:aws:iam::") && target.ends_with(":root") {
            target.to_owned()
        } else {
            return Err(validation(format!("{target} is invalid")));
        };
        Err(AwsError::new(
            403,
            "AccessDenied",
            format!(
                "User: {} is not authorized to perform: sts:AssumeRoot on resource: {target_arn}",
                caller.arn
            ),
        ))
    }
}
