//! Header names read or written on every request, parsed at compile time: looking a
//! header up by `&str` validates and hashes the name anew each time.

use http::HeaderName;

pub const X_AMZ_TARGET: HeaderName = HeaderName::from_static("x-amz-target");
pub const X_AMZN_REQUESTID: HeaderName = HeaderName::from_static("x-amzn-requestid");
pub const X_AMZ_REQUEST_ID: HeaderName = HeaderName::from_static("x-amz-request-id");
pub const SMITHY_PROTOCOL: HeaderName = HeaderName::from_static("smithy-protocol");
pub const X_AMZ_CRC32: HeaderName = HeaderName::from_static("x-amz-crc32");
pub const X_AMZ_ID_2: HeaderName = HeaderName::from_static("x-amz-id-2");
