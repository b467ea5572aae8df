//! Arbitrary `aws-chunked` bodies into `ChunkedDecoder`, in every `ChunkedMode`, with and
//! without chunk signing, with and without an expected decoded length.
//!
//! Input layout: byte 0 picks where the body is split into two `feed` calls (scaled to the
//! body length), byte 1 whether `x-amz-decoded-content-length` is checked; the rest is the
//! body. Invariants: no panic; the decoded output is never longer than the input; and the
//! decoder is split-independent: feeding the body whole or in two pieces gives the same
//! success, the same bytes and the same trailers.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nephos_auth::{ChunkSigning, ChunkedDecoder, ChunkedMode, signing_key};

fn signing() -> ChunkSigning {
    ChunkSigning {
        key: signing_key(
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "20130524",
            "us-east-1",
            "s3",
        ),
        amz_date: "20130524T000000Z".into(),
        scope: "20130524/us-east-1/s3/aws4_request".into(),
        seed_signature: "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9".into(),
    }
}

fn decode(
    mode: ChunkedMode,
    signed: bool,
    expected: Option<u64>,
    pieces: &[&[u8]],
) -> Option<(Vec<u8>, Option<nephos_auth::Trailers>)> {
    let mut d = ChunkedDecoder::new(mode, signed.then(signing));
    if let Some(n) = expected {
        d = d.with_decoded_length(n);
    }
    let mut out = Vec::new();
    let total: usize = pieces.iter().map(|p| p.len()).sum();
    for piece in pieces {
        let fed = d.feed(piece, &mut out);
        assert!(out.len() <= total, "{} bytes out of {total}", out.len());
        // Declared chunk sizes are counted up front, so they bound what came out.
        assert!(d.decoded_length() >= out.len() as u64);
        if fed.is_err() {
            return None;
        }
    }
    let trailers = d.finish().ok();
    if let Some(t) = &trailers {
        // A complete body has no chunk left half-read.
        assert_eq!(t.decoded_length, out.len() as u64);
    }
    Some((out, trailers))
}

fuzz_target!(|data: &[u8]| {
    let [split, flags, body @ ..] = data else {
        return;
    };
    let at = usize::from(*split) * body.len() / 255;
    let (a, b) = body.split_at(at.min(body.len()));
    let expected = (flags & 1 != 0).then(|| u64::from(flags >> 1));
    for mode in [
        ChunkedMode::Signed,
        ChunkedMode::SignedWithTrailer,
        ChunkedMode::UnsignedWithTrailer,
    ] {
        for signed in [false, true] {
            let whole = decode(mode, signed, expected, &[body]);
            let split = decode(mode, signed, expected, &[a, b]);
            assert_eq!(whole, split, "{mode:?} signed={signed} split at {at}");
        }
    }
});
