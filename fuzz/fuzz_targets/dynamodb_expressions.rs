//! Arbitrary text into DynamoDB's expression parsers (condition, update, projection), the
//! evaluator and update applier over what parses, and the number parser.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(src) = std::str::from_utf8(data) {
        nephos_dynamodb::fuzzing::expressions(src);
    }
});
