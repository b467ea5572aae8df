//! Arbitrary bytes into the rpcv2Cbor body decoder: it must return an error, never panic,
//! overflow the stack or allocate beyond the input's size.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = nephos_protocol::cbor::decode_document(data);
});
