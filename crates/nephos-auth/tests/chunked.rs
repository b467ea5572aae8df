//! aws-chunked decoding: AWS's 64 KiB + 1 KiB chunked-upload example (seed and chunk
//! signatures from the S3 documentation), arbitrary buffer splits, trailers, the
//! unsigned-trailer variant and malformed framing.

use http::{HeaderMap, HeaderValue, Method, Uri};
use nephos_auth::{
    AuthErrorKind, ChunkSigning, ChunkedDecoder, ChunkedMode, PayloadMode, parse_amz_date,
    parse_auth, sha256_hex, verify,
};

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const SEED: &str = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";
const CHUNK_SIGS: [&str; 3] = [
    "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
    "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
    "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
];

/// The request of AWS's "Example: PUT Object" chunked upload.
fn example_request() -> (Uri, HeaderMap) {
    let mut h = HeaderMap::new();
    for (k, v) in [
        ("host", "s3.amazonaws.com"),
        ("x-amz-date", "20130524T000000Z"),
        ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
        (
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
        ),
        ("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
        ("content-encoding", "aws-chunked"),
        ("x-amz-decoded-content-length", "66560"),
        ("content-length", "66824"),
    ] {
        h.insert(k, HeaderValue::from_static(v));
    }
    (Uri::from_static("/examplebucket/chunkObject.txt"), h)
}

fn example_signing() -> ChunkSigning {
    let (uri, h) = example_request();
    let info = parse_auth(&Method::PUT, &uri, &h).unwrap().unwrap();
    let now = parse_amz_date("20130524T000000Z").unwrap();
    let v = verify(&info, &Method::PUT, &uri, &h, None, SECRET, now).unwrap();
    assert_eq!(v.signature, SEED);
    assert_eq!(v.payload, PayloadMode::Chunked(ChunkedMode::Signed));
    v.chunk_signing().expect("signed chunked mode")
}

/// Frames `chunks` as a signed aws-chunked body, computing each signature.
fn encode_signed(signing: &ChunkSigning, chunks: &[&[u8]], trailers: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut prev = signing.seed_signature.clone();
    for data in chunks.iter().copied().chain([&b""[..]]) {
        let sig = signing.chunk_signature(&prev, &sha256_hex(data));
        out.extend_from_slice(format!("{:x};chunk-signature={sig}\r\n", data.len()).as_bytes());
        out.extend_from_slice(data);
        if !data.is_empty() {
            out.extend_from_slice(b"\r\n");
        }
        prev = sig;
    }
    if !trailers.is_empty() {
        let owned: Vec<(String, String)> = trailers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        for (k, v) in trailers {
            out.extend_from_slice(format!("{k}:{v}\r\n").as_bytes());
        }
        let sig = signing.trailer_signature(&prev, &owned);
        out.extend_from_slice(format!("x-amz-trailer-signature:{sig}\r\n").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out
}

fn decode_in_pieces(
    mut dec: ChunkedDecoder,
    body: &[u8],
    piece: usize,
) -> Result<(Vec<u8>, nephos_auth::Trailers), nephos_auth::AuthError> {
    let mut out = Vec::new();
    for part in body.chunks(piece.max(1)) {
        dec.feed(part, &mut out)?;
    }
    let trailers = dec.finish()?;
    Ok((out, trailers))
}

#[test]
fn aws_doc_chunked_upload_example() {
    let signing = example_signing();
    let a64 = vec![b'a'; 65536];
    let a1 = vec![b'a'; 1024];
    // The chunk signatures AWS publishes for this example.
    let s1 = signing.chunk_signature(SEED, &sha256_hex(&a64));
    let s2 = signing.chunk_signature(&s1, &sha256_hex(&a1));
    let s3 = signing.chunk_signature(&s2, &sha256_hex(b""));
    assert_eq!([s1.as_str(), s2.as_str(), s3.as_str()], CHUNK_SIGS);

    let body = encode_signed(&signing, &[&a64, &a1], &[]);
    assert_eq!(body.len(), 66824, "matches the example's Content-Length");
    for piece in [1, 2, 3, 7, 85, 86, 87, 4096, 65536, 70000, body.len()] {
        let dec = ChunkedDecoder::new(ChunkedMode::Signed, Some(signing.clone()))
            .with_decoded_length(66560);
        let (out, trailers) = decode_in_pieces(dec, &body, piece).unwrap();
        assert_eq!(out.len(), 66560, "piece {piece}");
        assert!(out.iter().all(|&b| b == b'a'));
        assert_eq!(trailers.decoded_length, 66560);
        assert!(trailers.headers.is_empty());
    }
}

#[test]
fn tampered_chunk_is_rejected() {
    let signing = example_signing();
    let a64 = vec![b'a'; 65536];
    let a1 = vec![b'a'; 1024];
    let mut body = encode_signed(&signing, &[&a64, &a1], &[]);
    // Flip one data byte of the second chunk.
    let pos = body.len() - 200;
    body[pos] = b'b';
    let dec = ChunkedDecoder::new(ChunkedMode::Signed, Some(signing.clone()));
    let err = decode_in_pieces(dec, &body, 1000).unwrap_err();
    assert_eq!(err.kind, AuthErrorKind::SignatureMismatch);
    assert_eq!(err.code, "SignatureDoesNotMatch");
    // Reordered chunks break the chain even though each chunk is intact.
    let good = encode_signed(&signing, &[&a1, &a64], &[]);
    let swapped = encode_signed(&signing, &[&a64, &a1], &[]);
    let mut mixed = swapped[..65536 + 90].to_vec();
    mixed.extend_from_slice(&good[1024 + 88..]);
    let dec = ChunkedDecoder::new(ChunkedMode::Signed, Some(signing.clone()));
    assert!(decode_in_pieces(dec, &mixed, 4096).is_err());
    // Without a key the same body decodes (verification off).
    let dec = ChunkedDecoder::new(ChunkedMode::Signed, None);
    assert!(decode_in_pieces(dec, &body, 4096).is_ok());
}

#[test]
fn signed_trailers() {
    let signing = example_signing();
    let data = b"hello world";
    let body = encode_signed(&signing, &[data], &[("x-amz-checksum-crc32", "DUoRhQ==")]);
    for piece in [1, 5, 64, body.len()] {
        let dec = ChunkedDecoder::new(ChunkedMode::SignedWithTrailer, Some(signing.clone()))
            .with_decoded_length(11);
        let (out, trailers) = decode_in_pieces(dec, &body, piece).unwrap();
        assert_eq!(out, data);
        assert_eq!(trailers.get("x-amz-checksum-crc32"), Some("DUoRhQ=="));
        assert!(trailers.signature.is_some());
    }
    // A changed trailer value fails the trailer signature.
    let text = String::from_utf8(body.clone()).unwrap();
    let bad = text.replace("DUoRhQ==", "AAAAAA==");
    let dec = ChunkedDecoder::new(ChunkedMode::SignedWithTrailer, Some(signing.clone()));
    let err = decode_in_pieces(dec, bad.as_bytes(), 7).unwrap_err();
    assert_eq!(err.kind, AuthErrorKind::SignatureMismatch);
    // A missing trailer signature too.
    let cut = text
        .split("x-amz-trailer-signature")
        .next()
        .unwrap()
        .to_string()
        + "\r\n";
    let dec = ChunkedDecoder::new(ChunkedMode::SignedWithTrailer, Some(signing));
    assert!(decode_in_pieces(dec, cut.as_bytes(), 7).is_err());
}

#[test]
fn unsigned_trailer_variant() {
    let body = b"5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n";
    for piece in 1..body.len() {
        let dec =
            ChunkedDecoder::new(ChunkedMode::UnsignedWithTrailer, None).with_decoded_length(11);
        let (out, trailers) = decode_in_pieces(dec, body, piece).unwrap();
        assert_eq!(out, b"hello world");
        assert_eq!(trailers.get("x-amz-checksum-crc32"), Some("DUoRhQ=="));
        assert_eq!(trailers.signature, None);
    }
    // Some clients end right after the last trailer line.
    let short = &body[..body.len() - 2];
    let dec = ChunkedDecoder::new(ChunkedMode::UnsignedWithTrailer, None);
    assert!(decode_in_pieces(dec, short, 3).is_ok());
}

#[test]
fn decoded_length_is_checked() {
    let body = b"5\r\nhello\r\n0\r\n\r\n";
    let dec = ChunkedDecoder::new(ChunkedMode::UnsignedWithTrailer, None).with_decoded_length(4);
    let err = decode_in_pieces(dec, body, 100).unwrap_err();
    assert_eq!(err.kind, AuthErrorKind::DecodedLengthMismatch);
    let dec = ChunkedDecoder::new(ChunkedMode::UnsignedWithTrailer, None).with_decoded_length(6);
    let err = decode_in_pieces(dec, body, 100).unwrap_err();
    assert_eq!(err.kind, AuthErrorKind::DecodedLengthMismatch);
}

#[test]
fn malformed_framing_is_rejected_cleanly() {
    let cases: &[&[u8]] = &[
        b"",                                            // nothing at all
        b"5\r\nhel",                                    // truncated data
        b"5\r\nhelloXX0\r\n\r\n",                       // no CRLF after data
        b"zz\r\nhello\r\n0\r\n\r\n",                    // bad hex size
        b"\r\n",                                        // empty size
        b"12345678901234567\r\n",                       // oversized size field
        b"5\nhello\r\n0\r\n\r\n",                       // bare LF
        b"5\r\nhello\r\n0\r\nno-colon\r\n\r\n",         // bad trailer
        b"5\r\nhello\r\n0\r\n\r\nextra",                // data after the end
        b"5\r\nhello\r\n",                              // no final chunk
        b"5\r\nhello\r\n0\r\nx-amz-checksum-crc32:abc", // truncated trailer
    ];
    for (i, body) in cases.iter().enumerate() {
        for piece in [1, 3, 1000] {
            let dec = ChunkedDecoder::new(ChunkedMode::UnsignedWithTrailer, None);
            let err = decode_in_pieces(dec, body, piece).unwrap_err();
            assert!(
                matches!(err.kind, AuthErrorKind::MalformedChunkedBody),
                "case {i}: {err:?}"
            );
            assert_eq!(err.status, 400);
        }
    }
    // An endless header line is cut off instead of buffered.
    let mut dec = ChunkedDecoder::new(ChunkedMode::UnsignedWithTrailer, None);
    let mut out = Vec::new();
    let junk = vec![b'1'; 1024];
    let res = (0..10).try_for_each(|_| dec.feed(&junk, &mut out));
    assert!(res.is_err());
    // Signed mode requires chunk signatures when verifying.
    let signing = example_signing();
    let dec = ChunkedDecoder::new(ChunkedMode::Signed, Some(signing));
    assert!(decode_in_pieces(dec, b"5\r\nhello\r\n0\r\n\r\n", 4).is_err());
}

#[test]
fn huge_declared_chunk_does_not_allocate() {
    let mut dec = ChunkedDecoder::new(ChunkedMode::UnsignedWithTrailer, None);
    let mut out = Vec::new();
    dec.feed(b"ffffffffffffffff\r\nabc", &mut out).unwrap();
    assert_eq!(out, b"abc");
    assert!(dec.finish().is_err());
}
