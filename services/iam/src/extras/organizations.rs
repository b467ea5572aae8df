//! The operations that need AWS Organizations or AWS-managed role templates, which
//! nephos has none of: they answer as AWS does for a standalone account (no
//! organization) and for templates that do not exist.

use super::{Ctx, handlers, no_such_entity};
use nephos_core::{AwsError, Value};

pub(super) const HANDLERS: &[(&str, super::Handler)] = handlers! {
    "ListOrganizationsFeatures" => no_organization,
    "EnableOrganizationsRootCredentialsManagement" => no_organization,
    "DisableOrganizationsRootCredentialsManagement" => no_organization,
    "EnableOrganizationsRootSessions" => no_organization,
    "DisableOrganizationsRootSessions" => no_organization,
    "GetOrganizationsAccessReport" => no_access_report,
    "AcquireRole" => no_template,
    "GetRoleTemplateVersion" => no_template,
};

/// Every account in nephos is standalone: no organization is associated with it.
async fn no_organization(_c: &Ctx<'_>, _i: &Value) -> Result<Value, AwsError> {
    Err(AwsError::new(
        400,
        "OrganizationNotFoundException",
        "The request was rejected because no organization is associated with your account.",
    ))
}

/// Without an organization no access report was ever generated, so no job id exists.
async fn no_access_report(_c: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    Err(no_such_entity(format!(
        "The job with id {} cannot be found.",
        i.str("JobId").unwrap_or_default()
    )))
}

/// Role templates are AWS-managed and nephos ships none.
async fn no_template(_c: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    Err(no_such_entity(format!(
        "The role template with ARN {} cannot be found.",
        i.str("TemplateArn").unwrap_or_default()
    )))
}
