//! AssumeRoleWithSAML: a SAML 2.0 assertion exchanged for a role session. Until its
//! XML signature can be verified, every assertion is refused: an unverified assertion
//! would let anyone name any role.

use crate::StsProvider;
use nephos_core::{AwsError, RequestContext, Value};

impl StsProvider {
    pub(crate) async fn assume_role_with_saml(
        &self,
        _ctx: &RequestContext,
        _input: &Value,
    ) -> Result<Value, AwsError> {
        Err(AwsError::new(
            400,
            "InvalidIdentityToken",
            "Invalid SAML response: the signature could not be verified.",
        ))
    }
}
