//! AWS Security Token Service (STS): who is calling, and temporary credentials.
//!
//! - `caller`: the principal behind a request (root, IAM user, role session, federated
//!   user), for GetCallerIdentity and every operation that builds on the caller;
//! - `assume`: AssumeRole, with roles looked up in IAM in process (`role`), their
//!   trust policies evaluated (`trust`) under `--enforce-iam`, session tags, session
//!   policies and source identity (`session`), role chaining;
//! - `tokens`: GetSessionToken, GetFederationToken, AssumeRoot;
//! - `web_identity`: AssumeRoleWithWebIdentity, with JWTs (`jwt`) verified against
//!   keys nephos holds: its own OpenID Connect issuer's or keys registered per issuer
//!   (`oidc`, internal endpoints under `/_nephos/sts/oidc/`);
//! - `saml`: AssumeRoleWithSAML, with XML signatures verified against the IdP's
//!   certificate from IAM's SAML provider;
//! - `authmsg`: DecodeAuthorizationMessage, for messages nephos sealed itself.
//!
//! MFA (`SerialNumber`, `TokenCode`): the device must be one the calling user has
//! enabled in IAM and the code its current one, which IAM checks for STS
//! (`Dispatch::verify_mfa`: no AWS operation verifies a single code, and the seed stays
//! in IAM).
//!
//! Credentials are kept (`creds`; durably with `--data-dir`) so that requests signed
//! with them resolve to the right account and principal, verify with
//! `--verify-signatures`, and stop working when they expire on the nephos clock. Each
//! carries its session's facts (`nephos_core::Session`) for the authorizer.

mod assume;
mod authmsg;
mod caller;
mod creds;
mod jwt;
mod oidc;
mod role;
mod saml;
mod secrets;
mod session;
mod tokens;
mod trust;
mod web_identity;

use nephos_core::{
    AwsError, BoxFuture, Clock, Credential, CredentialStore, Dispatcher, Input, Output, Provider,
    RequestContext, Value,
};
use nephos_storage::Storage;
use std::sync::Arc;

pub struct StsProvider {
    issued: creds::Issued,
    secrets: secrets::Secrets,
    issuers: oidc::Issuers,
    dispatcher: Dispatcher,
    /// nephos's clock, for what internal endpoints date (tokens nephos's issuer mints).
    clock: Arc<Clock>,
    /// The account of keys nephos never issued and that are not account numbers.
    default_account: String,
}

impl StsProvider {
    /// Opens the provider, reloading credentials, keys and registered identity provider
    /// keys stored before a restart. `dispatcher` reaches IAM (roles, identity
    /// providers, MFA devices).
    pub fn new(
        storage: Storage,
        default_account: &str,
        dispatcher: Dispatcher,
        clock: Arc<Clock>,
    ) -> Result<StsProvider, String> {
        Ok(StsProvider {
            issued: creds::Issued::open(storage.clone())?,
            secrets: secrets::Secrets::open(storage.clone())?,
            issuers: oidc::Issuers::open(storage)?,
            dispatcher,
            clock,
            default_account: default_account.to_owned(),
        })
    }

    /// Seals an authorization failure's details (the JSON DecodeAuthorizationMessage
    /// answers) into the opaque text AWS puts in `Encoded authorization failure
    /// message: ...`. Only this nephos (same data directory) can decode it.
    pub fn encode_authorization_message(&self, decoded_json: &str) -> String {
        authmsg::encode(&self.secrets, decoded_json)
    }

    fn get_caller_identity(&self, ctx: &RequestContext) -> Value {
        let caller = caller::Caller::of(ctx);
        Value::map()
            .with("UserId", caller.user_id)
            .with("Account", ctx.account_id.as_str())
            .with("Arn", caller.arn)
    }

    fn get_access_key_info(&self, input: &Value) -> Value {
        let key = input.str("AccessKeyId").unwrap_or_default();
        let account = match self.issued.get(key) {
            Some(c) => c.account_id,
            None if nephos_core::is_account_id(key) => key.to_owned(),
            None => self.default_account.clone(),
        };
        Value::map().with("Account", account)
    }
}

impl CredentialStore for StsProvider {
    fn lookup(&self, access_key_id: &str) -> Option<Credential> {
        self.issued.get(access_key_id)
    }
}

impl Provider for StsProvider {
    fn service(&self) -> &'static str {
        "sts"
    }

    fn operations(&self) -> &'static [&'static str] {
        &[
            "AssumeRole",
            "AssumeRoleWithSAML",
            "AssumeRoleWithWebIdentity",
            "AssumeRoot",
            "DecodeAuthorizationMessage",
            "GetAccessKeyInfo",
            "GetCallerIdentity",
            "GetFederationToken",
            "GetSessionToken",
        ]
    }

    fn handle<'a>(
        &'a self,
        ctx: &'a RequestContext,
        input: Input,
    ) -> BoxFuture<'a, Result<Output, AwsError>> {
        Box::pin(async move {
            let i = &input.value;
            let value = match ctx.operation.as_str() {
                "GetCallerIdentity" => self.get_caller_identity(ctx),
                "GetAccessKeyInfo" => self.get_access_key_info(i),
                "GetSessionToken" => self.get_session_token(ctx, i).await?,
                "GetFederationToken" => self.get_federation_token(ctx, i).await?,
                "AssumeRoot" => self.assume_root(ctx, i)?,
                "AssumeRole" => self.assume_role(ctx, i).await?,
                "AssumeRoleWithWebIdentity" => self.assume_role_with_web_identity(ctx, i).await?,
                "AssumeRoleWithSAML" => self.assume_role_with_saml(ctx, i).await?,
                "DecodeAuthorizationMessage" => authmsg::decode(&self.secrets, i)?,
                other => return Err(AwsError::not_implemented("sts", other)),
            };
            Ok(Output::new(value))
        })
    }

    fn reset(&self) {
        self.issued.clear();
        self.issuers.clear();
        self.secrets.forget_saved();
    }

    fn internal(&self, method: &str, path: &str, body: &[u8]) -> Option<(u16, String, Vec<u8>)> {
        oidc::internal(self, method, path, body)
    }
}
