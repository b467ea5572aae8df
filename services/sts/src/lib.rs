//! AWS STS.
