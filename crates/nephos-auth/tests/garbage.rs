//! Robustness: pseudo-random and mutated inputs must give errors, never panics, from the
//! Authorization parser, the verifier and the aws-chunked decoder. A cheap stand-in for
//! the cargo-fuzz targets, run on every `cargo test`.

use http::{HeaderMap, HeaderValue, Method, Uri};
use nephos_auth::{ChunkedDecoder, ChunkedMode, parse_auth, verify};

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const SEEDS: &[&str] = &[
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
    "AWS4-HMAC-SHA256 Credential=AKID/20130524/us-east-1/s3/aws4_request,SignedHeaders=host,Signature=00",
    "AWS AKID:sig",
];
const ALPHABET: &[u8] =
    b"AWS4-HMAC-SHA256 Credential=/,;:SignedHeaders=Signature=s3aws4_request0123456789abcdef \t";

fn mutate(rng: &mut XorShift, seed: &[u8]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..=rng.below(6) {
        match rng.below(3) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v.remove(i);
            }
            1 => {
                let i = rng.below(v.len() + 1);
                v.insert(i, ALPHABET[rng.below(ALPHABET.len())]);
            }
            _ if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] = ALPHABET[rng.below(ALPHABET.len())];
            }
            _ => {}
        }
    }
    v
}

#[test]
fn mutated_authorization_headers_never_panic() {
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let uri = Uri::from_static("/a/b?x=1");
    for i in 0..20_000 {
        let seed = SEEDS[i % SEEDS.len()].as_bytes();
        let value = mutate(&mut rng, seed);
        let Ok(value) = HeaderValue::from_bytes(&value) else {
            continue;
        };
        let mut h = HeaderMap::new();
        h.insert("authorization", value);
        if rng.below(2) == 0 {
            h.insert("x-amz-date", HeaderValue::from_static("20150830T123600Z"));
        }
        if let Some(Ok(info)) = parse_auth(&Method::GET, &uri, &h) {
            let _ = verify(
                &info,
                &Method::GET,
                &uri,
                &h,
                Some("00"),
                "secret",
                1_440_938_160,
            );
        }
    }
}

#[test]
fn mutated_presigned_queries_never_panic() {
    let base = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=ae";
    let mut rng = XorShift(12345);
    for _ in 0..20_000 {
        let q = mutate(&mut rng, base.as_bytes());
        let Ok(uri) = format!("/k?{}", String::from_utf8_lossy(&q)).parse::<Uri>() else {
            continue;
        };
        let h = HeaderMap::new();
        if let Some(Ok(info)) = parse_auth(&Method::GET, &uri, &h) {
            let _ = verify(&info, &Method::GET, &uri, &h, None, "secret", 1_369_353_600);
        }
    }
}

#[test]
fn random_chunked_bodies_never_panic() {
    let mut rng = XorShift(777);
    let seed = b"5\r\nhello\r\n6;chunk-signature=ab\r\n world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\nx-amz-trailer-signature:00\r\n\r\n";
    for _ in 0..20_000 {
        let body = mutate(&mut rng, seed);
        let mode = [
            ChunkedMode::Signed,
            ChunkedMode::SignedWithTrailer,
            ChunkedMode::UnsignedWithTrailer,
        ][rng.below(3)];
        let mut dec = ChunkedDecoder::new(mode, None).with_decoded_length(11);
        let mut out = Vec::new();
        let piece = 1 + rng.below(16);
        let ok = body.chunks(piece).all(|p| dec.feed(p, &mut out).is_ok());
        if ok {
            let _ = dec.finish();
        }
        assert!(out.len() <= body.len());
    }
}
