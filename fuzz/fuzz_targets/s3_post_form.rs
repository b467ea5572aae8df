//! Arbitrary bytes into S3's POST Object form parser (browser uploads arrive from anyone):
//! it must find the fields or answer AWS's error, never panic or loop. The first byte
//! picks the boundary's length, so boundaries that occur inside the data are tried too.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let n = (n as usize % 16).min(rest.len());
    let (boundary, body) = rest.split_at(n);
    let boundary = String::from_utf8_lossy(boundary);
    let _ = nephos_s3::post::count_form_fields(body, &boundary);
});
