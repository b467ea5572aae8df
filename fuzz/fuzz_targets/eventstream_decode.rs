//! Arbitrary bytes, fed in two pieces, into the incremental event stream decoder: it must
//! yield messages or an error, never panic or buffer without bound.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nephos_protocol::eventstream::MessageDecoder;

fuzz_target!(|data: &[u8]| {
    let split = data.first().map_or(0, |b| usize::from(*b)).min(data.len());
    let mut d = MessageDecoder::new();
    for piece in [&data[..split], &data[split..]] {
        d.push(piece);
        while let Ok(Some(msg)) = d.next_message() {
            // Whatever decodes must encode again.
            let _ = nephos_protocol::eventstream::encode(&msg);
        }
    }
});
