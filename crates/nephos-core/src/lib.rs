//! What every part of nephos shares, and nothing that speaks HTTP.
//!
//! - [`Value`]: a protocol-neutral value tree; codecs parse requests into it and serialize
//!   responses from it, handlers read and build it.
//! - [`AwsError`]: an error as AWS reports it (code, message, status, fault, fields).
//! - [`RequestContext`]: who calls, in which account and region, with which request id.
//! - [`Clock`]: the one clock of all time-driven behaviour, advanced by tests.
//! - [`Scoped`]: per-account, per-region state, as AWS isolates it.
//! - [`Provider`]: what a service implements; [`Dispatch`]: how services call each other
//!   in process.
//! - [`runtime`]: the Lambda Runtime API as typed calls (service side and HTTP side).

mod authz;
mod clock;
mod context;
mod error;
mod identity;
mod ids;
mod provider;
pub mod runtime;
mod scoped;
mod value;

pub use authz::{Authorizer, FactsLookup, ResourceFacts};
pub use clock::Clock;
pub use context::{RequestContext, WireSummary};
pub use error::AwsError;
pub use identity::{Credential, CredentialStore, MfaCode, Session};
pub use ids::{is_account_id, random_alnum, request_id};
pub use provider::{
    BoxFuture, ByteStream, CorsRequest, Dispatch, Dispatcher, EventStream, Input, Output, Provider,
    RawRequest, RawResponse,
};
pub use scoped::Scoped;
pub use value::{Map, RawJson, Timestamp, Value};

/// The account of requests whose access key id is not a 12-digit account number.
pub const DEFAULT_ACCOUNT: &str = "000000000000";
/// The region of requests that name none.
pub const DEFAULT_REGION: &str = "us-east-1";
