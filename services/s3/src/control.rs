//! S3 Control, the account-level half of S3 (service `s3control`): account-wide Block
//! Public Access. It shares S3's state, so the settings take effect on every bucket of
//! the account at once (see [`S3Provider::effective_pab`]).

use crate::S3Provider;
use crate::acl::PublicAccessBlock;
use crate::store::T_ACCOUNTS;
use nephos_core::{AwsError, BoxFuture, Input, Output, Provider, RequestContext, Value};
use nephos_storage::Mutation;
use std::sync::Arc;

/// The `s3control` provider: a view of the S3 provider's state.
pub struct S3ControlProvider {
    s3: Arc<S3Provider>,
}

impl S3ControlProvider {
    pub fn new(s3: Arc<S3Provider>) -> Arc<S3ControlProvider> {
        Arc::new(S3ControlProvider { s3 })
    }
}

const OPERATIONS: &[&str] = &[
    "DeletePublicAccessBlock",
    "GetPublicAccessBlock",
    "PutPublicAccessBlock",
];

impl Provider for S3ControlProvider {
    fn service(&self) -> &'static str {
        "s3control"
    }

    fn operations(&self) -> &'static [&'static str] {
        OPERATIONS
    }

    fn handle<'a>(
        &'a self,
        ctx: &'a RequestContext,
        input: Input,
    ) -> BoxFuture<'a, Result<Output, AwsError>> {
        Box::pin(async move {
            let v = &input.value;
            // The account in the request (host prefix and x-amz-account-id) must be the
            // caller's own: nobody manages another account's settings.
            let account = v.str("AccountId").unwrap_or_default();
            if account != ctx.account_id {
                return Err(AwsError::new(403, "AccessDenied", "Access Denied"));
            }
            let value = match ctx.operation.as_str() {
                "GetPublicAccessBlock" => self.get(account)?,
                "PutPublicAccessBlock" => {
                    let pab =
                        PublicAccessBlock::from_value(v.get("PublicAccessBlockConfiguration"));
                    self.set(account, Some(pab)).await?
                }
                "DeletePublicAccessBlock" => self.set(account, None).await?,
                other => return Err(AwsError::not_implemented("s3control", other)),
            };
            Ok(Output::new(value))
        })
    }

    fn reset(&self) {
        // The state is S3's; resetting S3 clears it.
    }
}

impl S3ControlProvider {
    fn get(&self, account: &str) -> Result<Value, AwsError> {
        match self.s3.account_pab(account) {
            Some(p) => Ok(Value::map().with("PublicAccessBlockConfiguration", p.to_value())),
            None => Err(AwsError::new(
                404,
                "NoSuchPublicAccessBlockConfiguration",
                "The public access block configuration was not found",
            )
            .with_field("AccountId", account)),
        }
    }

    async fn set(&self, account: &str, pab: Option<PublicAccessBlock>) -> Result<Value, AwsError> {
        let store = &self.s3.store;
        let mutation = match &pab {
            Some(p) => store.put(T_ACCOUNTS, account.as_bytes().to_vec(), p),
            None => vec![Mutation::delete(T_ACCOUNTS, account.as_bytes())],
        };
        store.commit(mutation).await?;
        let mut all = store.account_pab.write().unwrap();
        match pab {
            Some(p) => all.insert(account.to_owned(), p),
            None => all.remove(account),
        };
        Ok(Value::map())
    }
}
