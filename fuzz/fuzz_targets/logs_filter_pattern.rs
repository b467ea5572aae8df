//! Arbitrary text into CloudWatch Logs' filter pattern parser (terms, JSON, space-delimited,
//! regular expressions) and matcher, and into the Logs Insights query parser and runner.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(src) = std::str::from_utf8(data) {
        nephos_logs::fuzzing::filter_pattern(src);
    }
});
