//! AWS Security Token Service (STS): who is calling, and temporary credentials.
//!
//! Implemented: GetCallerIdentity, GetSessionToken, AssumeRole, GetAccessKeyInfo.
//! Credentials that GetSessionToken and AssumeRole issue are kept (durably with `--data-dir`) so that requests signed
//! with them resolve to the right account and principal, verify with
//! `--verify-signatures`, and stop working when they expire on the nephos clock.

use nephos_core::{
    AwsError, BoxFuture, Credential, CredentialStore, Input, Output, Provider, RequestContext,
    Value, random_alnum,
};
use nephos_storage::{Mutation, Storage};
use std::collections::HashMap;
use std::sync::RwLock;

const TABLE: &str = "sts.credentials";
const UPPER_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const SECRET_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Session durations GetSessionToken allows, in seconds (the model enforces the range).
const DEFAULT_SESSION_SECS: i64 = 43_200;
/// Sessions of an account's root user are capped at one hour.
const ROOT_MAX_SESSION_SECS: i64 = 3_600;

pub struct StsProvider {
    issued: RwLock<HashMap<String, Credential>>,
    storage: Storage,
    /// The account of keys nephos never issued and that are not account numbers.
    default_account: String,
}

impl StsProvider {
    /// Opens the provider, reloading credentials issued before a restart.
    pub fn new(storage: Storage, default_account: &str) -> Result<StsProvider, String> {
        let mut issued = HashMap::new();
        for (_, value) in storage.load(TABLE).map_err(|e| e.to_string())? {
            let cred: Credential = serde_json::from_slice(&value).map_err(|e| e.to_string())?;
            issued.insert(cred.access_key_id.clone(), cred);
        }
        Ok(StsProvider {
            issued: RwLock::new(issued),
            storage,
            default_account: default_account.to_owned(),
        })
    }

    /// The principal behind the caller's key: an issued credential's, else the account root.
    fn caller(&self, ctx: &RequestContext) -> (String, String) {
        if let Some(key) = &ctx.access_key_id
            && let Some(c) = self.issued.read().unwrap().get(key)
        {
            return (c.user_id.clone(), c.principal_arn.clone());
        }
        (
            ctx.account_id.clone(),
            format!("arn:aws:iam::{}:root", ctx.account_id),
        )
    }

    fn get_caller_identity(&self, ctx: &RequestContext) -> Value {
        let (user_id, arn) = self.caller(ctx);
        Value::map()
            .with("UserId", user_id)
            .with("Account", ctx.account_id.as_str())
            .with("Arn", arn)
    }

    async fn get_session_token(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let caller_key = ctx.access_key_id.as_deref().unwrap_or("");
        if self
            .issued
            .read()
            .unwrap()
            .get(caller_key)
            .is_some_and(|c| c.session_token.is_some())
        {
            return Err(AwsError::new(
                403,
                "AccessDenied",
                "Cannot call GetSessionToken with session credentials",
            ));
        }
        let (user_id, principal_arn) = self.caller(ctx);
        let mut secs = input.int("DurationSeconds").unwrap_or(DEFAULT_SESSION_SECS);
        if principal_arn.ends_with(":root") {
            secs = secs.min(ROOT_MAX_SESSION_SECS);
        }
        let expires_at_ms = ctx.clock.now_millis() + secs * 1000;
        let cred = Credential {
            access_key_id: format!("ASIA{}", random_alnum(16, UPPER_ALNUM)),
            secret_access_key: random_alnum(40, SECRET_CHARS),
            session_token: Some(format!("FwoGZXIvYXdzE{}", random_alnum(343, SECRET_CHARS))),
            account_id: ctx.account_id.clone(),
            principal_arn,
            user_id,
            expires_at_ms: Some(expires_at_ms),
            session: None,
        };
        Ok(Value::map().with("Credentials", self.issue(cred).await?))
    }

    /// Keeps `cred` (durably: a client may use it right after) and answers its
    /// `Credentials` member.
    async fn issue(&self, cred: Credential) -> Result<Value, AwsError> {
        let record = serde_json::to_vec(&cred).map_err(|e| AwsError::internal(e.to_string()))?;
        self.storage
            .commit(vec![Mutation::put(
                TABLE,
                cred.access_key_id.as_bytes(),
                record,
            )])
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "persisting session credentials failed");
                AwsError::internal("the credentials could not be stored")
            })?;
        let out = Value::map()
            .with("AccessKeyId", cred.access_key_id.as_str())
            .with("SecretAccessKey", cred.secret_access_key.as_str())
            .with(
                "SessionToken",
                cred.session_token.clone().unwrap_or_default(),
            )
            .with(
                "Expiration",
                nephos_core::Timestamp::from_millis(cred.expires_at_ms.unwrap_or_default()),
            );
        self.issued
            .write()
            .unwrap()
            .insert(cred.access_key_id.clone(), cred);
        Ok(out)
    }

    /// AssumeRole: a session of the role in the role's own account. Until IAM exists the
    /// role is not looked up and its trust policy not evaluated; the session acts as the
    /// role's account.
    async fn assume_role(&self, ctx: &RequestContext, input: &Value) -> Result<Value, AwsError> {
        let role_arn = input.str("RoleArn").unwrap_or_default();
        let session = input.str("RoleSessionName").unwrap_or_default();
        let Some((account, role_path)) = role_arn
            .strip_prefix("arn:aws:iam::")
            .and_then(|r| r.split_once(":role/"))
            .filter(|(a, n)| nephos_core::is_account_id(a) && !n.is_empty())
        else {
            return Err(AwsError::new(
                400,
                "ValidationError",
                format!("{role_arn} is invalid"),
            ));
        };
        let role_name = role_path.rsplit('/').next().unwrap_or(role_path);
        let secs = input.int("DurationSeconds").unwrap_or(3_600);
        // A stable id per role, as IAM gives each role one (AROA...).
        let digest = <sha2::Sha256 as sha2::Digest>::digest(role_arn.as_bytes());
        let role_id: String = digest
            .iter()
            .take(17)
            .map(|b| UPPER_ALNUM[(*b as usize) % UPPER_ALNUM.len()] as char)
            .collect();
        let assumed_id = format!("AROA{role_id}:{session}");
        let arn = format!("arn:aws:sts::{account}:assumed-role/{role_name}/{session}");
        let cred = Credential {
            access_key_id: format!("ASIA{}", random_alnum(16, UPPER_ALNUM)),
            secret_access_key: random_alnum(40, SECRET_CHARS),
            session_token: Some(format!("FwoGZXIvYXdzE{}", random_alnum(343, SECRET_CHARS))),
            account_id: account.to_owned(),
            principal_arn: arn.clone(),
            user_id: assumed_id.clone(),
            expires_at_ms: Some(ctx.clock.now_millis() + secs * 1000),
            session: Some(nephos_core::Session {
                source_arn: Some(role_arn.to_owned()),
                ..Default::default()
            }),
        };
        Ok(Value::map()
            .with("Credentials", self.issue(cred).await?)
            .with(
                "AssumedRoleUser",
                Value::map()
                    .with("AssumedRoleId", assumed_id)
                    .with("Arn", arn),
            )
            .with("PackedPolicySize", 0i64))
    }

    fn get_access_key_info(&self, input: &Value) -> Value {
        let key = input.str("AccessKeyId").unwrap_or_default();
        let account = match self.issued.read().unwrap().get(key) {
            Some(c) => c.account_id.clone(),
            None if nephos_core::is_account_id(key) => key.to_owned(),
            None => self.default_account.clone(),
        };
        Value::map().with("Account", account)
    }
}

impl CredentialStore for StsProvider {
    fn lookup(&self, access_key_id: &str) -> Option<Credential> {
        self.issued.read().unwrap().get(access_key_id).cloned()
    }
}

impl Provider for StsProvider {
    fn service(&self) -> &'static str {
        "sts"
    }

    fn operations(&self) -> &'static [&'static str] {
        &[
            "AssumeRole",
            "GetAccessKeyInfo",
            "GetCallerIdentity",
            "GetSessionToken",
        ]
    }

    fn handle<'a>(
        &'a self,
        ctx: &'a RequestContext,
        input: Input,
    ) -> BoxFuture<'a, Result<Output, AwsError>> {
        Box::pin(async move {
            let value = match ctx.operation.as_str() {
                "GetCallerIdentity" => self.get_caller_identity(ctx),
                "GetSessionToken" => self.get_session_token(ctx, &input.value).await?,
                "GetAccessKeyInfo" => self.get_access_key_info(&input.value),
                "AssumeRole" => self.assume_role(ctx, &input.value).await?,
                other => return Err(AwsError::not_implemented("sts", other)),
            };
            Ok(Output::new(value))
        })
    }

    fn reset(&self) {
        self.issued.write().unwrap().clear();
    }
}
