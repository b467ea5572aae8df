//! AssumeRole, and the role session every AssumeRole* operation ends in.

use crate::StsProvider;
use crate::caller::{Caller, Kind};
use crate::role::{self, Lookup, Role};
use crate::session::{self, Policies, Tags};
use crate::trust::{self, Who};
use nephos_core::{AwsError, RequestContext, Session, Value};

/// Role chaining caps a session at one hour, whatever the role allows.
const CHAINED_MAX_SECS: i64 = 3_600;
const DEFAULT_SECS: i64 = 3_600;

/// A role session about to be issued.
pub(crate) struct RoleSession {
    pub(crate) role: Role,
    pub(crate) name: String,
    pub(crate) secs: i64,
    pub(crate) tags: Tags,
    pub(crate) policies: Policies,
    pub(crate) source_identity: Option<String>,
    pub(crate) mfa: bool,
    pub(crate) chained: bool,
}

pub(crate) fn validation(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "ValidationError", message)
}

/// `DurationSeconds` of an AssumeRole* request, within what the role allows.
pub(crate) fn role_duration(input: &Value, role: &Role, chained: bool) -> Result<i64, AwsError> {
    let secs = input.int("DurationSeconds").unwrap_or(DEFAULT_SECS);
    if chained && secs > CHAINED_MAX_SECS {
        return Err(validation(
            "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.",
        ));
    }
    if secs > role.max_session_secs {
        return Err(validation(
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
        ));
    }
    Ok(secs)
}

/// The request's condition keys for tags it sets: `aws:RequestTag/*`, `aws:TagKeys`,
/// `sts:TransitiveTagKeys` (multi-valued keys repeat).
pub(crate) fn tag_keys(
    keys: &mut Vec<(String, String)>,
    tags: &[(String, String)],
    transitive: &[String],
) {
    for (k, v) in tags {
        keys.push((format!("aws:RequestTag/{k}"), v.clone()));
    }
    for (k, _) in tags {
        keys.push(("aws:TagKeys".into(), k.clone()));
    }
    for k in transitive {
        keys.push(("sts:TransitiveTagKeys".into(), k.clone()));
    }
}

/// Keys every request has: the time, and where it came from.
pub(crate) fn global_keys(ctx: &RequestContext, keys: &mut Vec<(String, String)>) {
    keys.extend(ctx.global_condition_keys());
}

impl StsProvider {
    pub(crate) async fn assume_role(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let role_arn = input.str("RoleArn").unwrap_or_default();
        let name = input.str("RoleSessionName").unwrap_or_default();
        if role::parse_arn(role_arn).is_none() {
            return Err(validation(format!("{role_arn} is invalid")));
        }
        let caller = Caller::of(ctx);
        let denied = || {
            AwsError::new(
                403,
                "AccessDenied",
                format!(
                    "User: {} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
                    caller.arn
                ),
            )
        };
        let enforce = nephos_policy::enforces_iam();
        if enforce && caller.kind == Kind::Root {
            return Err(AwsError::new(
                403,
                "AccessDenied",
                "Roles may not be assumed by root accounts.",
            ));
        }
        let role = match role::lookup(&self.dispatcher, ctx, role_arn).await? {
            Lookup::Found(r) => r,
            Lookup::Missing => return Err(denied()),
        };
        let chained = caller.kind == Kind::AssumedRole;
        // A service's own session of a role (Lambda's execution role for a function's
        // environment) is not bounded by the role's MaxSessionDuration: the service
        // keeps it for the environment's life.
        let secs = if caller.kind == Kind::Service {
            input.int("DurationSeconds").unwrap_or(DEFAULT_SECS)
        } else {
            role_duration(input, &role, chained)?
        };

        let requested = session::request_tags(input)?;
        let requested_tags = requested.tags.clone();
        let requested_transitive = requested.transitive.clone();
        let inherited_transitive = caller
            .session
            .as_ref()
            .map(|s| s.transitive_tag_keys.clone())
            .unwrap_or_default();
        let tags = session::chain(requested, caller.session_tags(), &inherited_transitive)?;
        let policies = session::request_policies(input)?;
        let packed = session::check_packed(&policies, &tags.tags)?;

        let requested_identity = input.str("SourceIdentity");
        let source_identity = match (caller.source_identity(), requested_identity) {
            (Some(set), Some(asked)) if set != asked => {
                return Err(validation(
                    "The source identity is already set for this assume role session",
                ));
            }
            (Some(set), _) => Some(set.to_owned()),
            (None, asked) => asked.map(str::to_owned),
        };
        let mfa = match (input.str("SerialNumber"), input.str("TokenCode")) {
            (None, None) => caller.mfa(),
            (serial, code) => self.check_mfa(ctx, &caller, serial, code).await?,
        };

        if enforce && let Some(policy) = &role.trust_policy {
            let mut keys = self.caller_keys(ctx, &caller, mfa).await;
            global_keys(ctx, &mut keys);
            keys.push(("sts:RoleSessionName".into(), name.to_owned()));
            if let Some(id) = input.str("ExternalId") {
                keys.push(("sts:ExternalId".into(), id.to_owned()));
            }
            if let Some(id) = &source_identity {
                keys.push(("sts:SourceIdentity".into(), id.clone()));
            }
            tag_keys(&mut keys, &requested_tags, &requested_transitive);
            let mut actions = vec!["sts:AssumeRole"];
            if !requested_tags.is_empty() {
                actions.push("sts:TagSession");
            }
            if requested_identity.is_some() {
                actions.push("sts:SetSourceIdentity");
            }
            let who = Who::Aws {
                account: caller.account.clone(),
                arn: caller.arn.clone(),
                principal_arn: caller.principal_arn(),
            };
            if let Some(action) = trust::first_refused(policy, &who, &actions, role_arn, &keys) {
                return Err(AwsError::new(
                    403,
                    "AccessDenied",
                    format!(
                        "User: {} is not authorized to perform: {action} on resource: {role_arn}",
                        caller.arn
                    ),
                ));
            }
        }

        let session = RoleSession {
            role,
            name: name.to_owned(),
            secs,
            tags,
            policies,
            source_identity,
            mfa,
            chained,
        };
        let identity = session.source_identity.clone();
        let (credentials, user) = self.issue_role_session(ctx, session).await?;
        let mut out = Value::map()
            .with("Credentials", credentials)
            .with("AssumedRoleUser", user);
        if let Some(size) = packed {
            out.insert("PackedPolicySize", size);
        }
        if let Some(id) = identity {
            out.insert("SourceIdentity", id);
        }
        Ok(out)
    }

    /// Issues the session's credentials: `Credentials` and `AssumedRoleUser`.
    pub(crate) async fn issue_role_session(
        &self,
        ctx: &RequestContext,
        s: RoleSession,
    ) -> Result<(Value, Value), AwsError> {
        let arn = format!(
            "arn:aws:sts::{}:assumed-role/{}/{}",
            s.role.account, s.role.name, s.name
        );
        let assumed_id = format!("{}:{}", s.role.id, s.name);
        let cred = crate::creds::temporary(
            &s.role.account,
            arn.clone(),
            assumed_id.clone(),
            ctx.clock.now_millis() + s.secs * 1000,
            Session {
                source_arn: Some(s.role.arn.clone()),
                policies: s.policies.documents,
                policy_arns: s.policies.arns,
                tags: s.tags.tags,
                transitive_tag_keys: s.tags.transitive,
                source_identity: s.source_identity,
                mfa: s.mfa,
                chained: s.chained,
            },
        );
        let credentials = self.issued.issue(cred, ctx.clock.now_millis()).await?;
        let user = Value::map()
            .with("AssumedRoleId", assumed_id)
            .with("Arn", arn);
        Ok((credentials, user))
    }

    /// The caller's own condition keys (`aws:PrincipalTag/*`, `aws:userid`, ...).
    pub(crate) async fn caller_keys(
        &self,
        ctx: &RequestContext,
        caller: &Caller,
        mfa: bool,
    ) -> Vec<(String, String)> {
        let mut keys = vec![
            ("aws:userid".to_owned(), caller.user_id.clone()),
            (
                "aws:PrincipalType".to_owned(),
                match caller.kind {
                    Kind::Root => "Account",
                    Kind::User => "User",
                    Kind::AssumedRole => "AssumedRole",
                    Kind::FederatedUser => "FederatedUser",
                    Kind::Service => "Service",
                }
                .to_owned(),
            ),
        ];
        if let Some(name) = caller.user_name() {
            keys.push(("aws:username".into(), name.to_owned()));
        }
        // Session tags win over the tags of the IAM user or role they came from.
        let mut tags: Vec<(String, String)> = caller.session_tags().to_vec();
        for (k, v) in self.principal_iam_tags(ctx, caller).await {
            if !tags.iter().any(|(t, _)| t.eq_ignore_ascii_case(&k)) {
                tags.push((k, v));
            }
        }
        for (k, v) in tags {
            keys.push((format!("aws:PrincipalTag/{k}"), v));
        }
        if caller.temporary || mfa {
            keys.push(("aws:MultiFactorAuthPresent".into(), mfa.to_string()));
        }
        if let Some(id) = caller.source_identity() {
            keys.push(("aws:SourceIdentity".into(), id.to_owned()));
        }
        keys
    }

    /// The IAM tags of the user or role behind the caller, asked of IAM (none while IAM
    /// cannot tell).
    async fn principal_iam_tags(
        &self,
        ctx: &RequestContext,
        caller: &Caller,
    ) -> Vec<(String, String)> {
        let iam_ctx = role::as_account(ctx, &caller.account);
        let (op, input, member) = match (caller.kind, caller.user_name()) {
            (Kind::User, Some(name)) => ("GetUser", Value::map().with("UserName", name), "User"),
            (Kind::AssumedRole, _) => {
                let Some(role_name) = caller
                    .session
                    .as_ref()
                    .and_then(|s| s.source_arn.as_deref())
                    .and_then(role::parse_arn)
                    .map(|(_, n)| n.to_owned())
                else {
                    return Vec::new();
                };
                ("GetRole", Value::map().with("RoleName", role_name), "Role")
            }
            _ => return Vec::new(),
        };
        match self.dispatcher.call(&iam_ctx, "iam", op, input).await {
            Ok(v) => role::tags_of(v.get(member).and_then(|m| m.get("Tags"))),
            Err(_) => Vec::new(),
        }
    }

    /// Checks an MFA device and code named in a request: the device must be one the
    /// caller (an IAM user) has enabled in IAM, and the code its current one on nephos's
    /// clock.
    pub(crate) async fn check_mfa(
        &self,
        ctx: &RequestContext,
        caller: &Caller,
        serial: Option<&str>,
        code: Option<&str>,
    ) -> Result<bool, AwsError> {
        let refused = |m: &str| AwsError::new(403, "AccessDenied", m);
        let wrong_code =
            || refused("MultiFactorAuthentication failed with invalid MFA one time pass code.");
        let (Some(serial), Some(code)) = (serial, code) else {
            return Err(wrong_code());
        };
        let not_theirs = || {
            refused(
                "MultiFactorAuthentication failed, unable to validate MFA code. Please verify your MFA serial number is valid and associated with this user.",
            )
        };
        let user = match (caller.kind, caller.user_name()) {
            (Kind::User, Some(name)) => name,
            _ => return Err(not_theirs()),
        };
        let offered = nephos_core::MfaCode {
            account: &caller.account,
            user,
            serial,
            code,
            now_ms: ctx.clock.now_millis(),
        };
        match self.dispatcher.verify_mfa(&offered) {
            Some(true) => Ok(true),
            Some(false) => Err(wrong_code()),
            None => Err(not_theirs()),
        }
    }
}
