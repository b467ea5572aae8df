//! Arbitrary text into DynamoDB's PartiQL parser, with and without parameters.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(src) = std::str::from_utf8(data) {
        nephos_dynamodb::fuzzing::partiql(src);
    }
});
