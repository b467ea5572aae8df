//! The AWS managed policy catalogue (`arn:aws:iam::aws:policy/...`), vendored as data.

/// One AWS managed policy, as GetPolicy and GetPolicyVersion describe it.
#[derive(Debug, Clone)]
pub struct ManagedPolicy {
    pub name: String,
    pub arn: String,
    pub path: String,
    pub description: String,
    /// The default version's id (`v3`).
    pub version_id: String,
    /// The default version's document, as JSON text.
    pub document: String,
    /// Unix milliseconds.
    pub create_date: i64,
    pub update_date: i64,
}

/// Every AWS managed policy, sorted by ARN.
pub fn all() -> &'static [ManagedPolicy] {
    &[]
}

/// The AWS managed policy with this ARN.
pub fn get(arn: &str) -> Option<&'static ManagedPolicy> {
    all().iter().find(|p| p.arn == arn)
}
