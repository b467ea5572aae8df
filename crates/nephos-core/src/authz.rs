//! Authorization under `--enforce-iam`: the contract between the gateway, which asks
//! before every request, the services, which know their resources' policies, and IAM,
//! which knows the callers' policies and decides.

use crate::{AwsError, RequestContext, Value};

/// What a service knows about one of its resources that authorization needs: who owns
/// it, its resource-based policy, its tags (`aws:ResourceTag/*`).
#[derive(Debug, Clone, Default)]
pub struct ResourceFacts {
    /// The owning account; `None` when the resource does not exist (yet).
    pub owner: Option<String>,
    /// The resource-based policy document (bucket, queue, topic, function policy).
    pub policy: Option<String>,
    pub tags: Vec<(String, String)>,
    /// The name of a DynamoDB table's partition key attribute, for
    /// `dynamodb:LeadingKeys` (the request names only values).
    pub partition_key: Option<String>,
}

/// Looks a resource up by ARN for the authorizer (the gateway asks the service's
/// provider, [`crate::Provider::resource_facts`]).
pub type FactsLookup<'a> = &'a (dyn Fn(&str) -> ResourceFacts + Sync);

/// Decides whether the caller of a request may perform it. Installed in the gateway only
/// with `--enforce-iam`; runs after the input is validated and before the handler.
pub trait Authorizer: Send + Sync {
    /// `Ok` lets the request go on, with the resources refused on a request the service
    /// answers item by item ([`RequestContext::refused`]); `Err` is the denial as the
    /// service answers it (`AccessDenied`, `AccessDeniedException`, `AuthorizationError`).
    fn authorize(
        &self,
        ctx: &RequestContext,
        input: &Value,
        facts: FactsLookup<'_>,
    ) -> Result<Vec<String>, AwsError>;
}
