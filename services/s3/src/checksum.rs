//! Integrity: MD5 ETags and the flexible checksums (CRC32, CRC32C, CRC64NVME, SHA1,
//! SHA256), full-object and composite, as S3 computes and reports them.

use crate::md5hub::{Body, Hub};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use crc_fast::CrcAlgorithm;
use md5_many::Md5State;
use nephos_core::{AwsError, Value};
use serde::{Deserialize, Serialize};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Algorithm {
    #[serde(rename = "CRC32")]
    Crc32,
    #[serde(rename = "CRC32C")]
    Crc32c,
    #[serde(rename = "CRC64NVME")]
    Crc64Nvme,
    #[serde(rename = "SHA1")]
    Sha1,
    #[serde(rename = "SHA256")]
    Sha256,
}

pub const ALL: [Algorithm; 5] = [
    Algorithm::Crc32,
    Algorithm::Crc32c,
    Algorithm::Crc64Nvme,
    Algorithm::Sha1,
    Algorithm::Sha256,
];

impl Algorithm {
    pub fn parse(s: &str) -> Option<Algorithm> {
        ALL.into_iter().find(|a| a.name().eq_ignore_ascii_case(s))
    }

    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Crc32 => "CRC32",
            Algorithm::Crc32c => "CRC32C",
            Algorithm::Crc64Nvme => "CRC64NVME",
            Algorithm::Sha1 => "SHA1",
            Algorithm::Sha256 => "SHA256",
        }
    }

    /// The model member carrying this checksum (`ChecksumCRC32`).
    pub fn member(self) -> &'static str {
        match self {
            Algorithm::Crc32 => "ChecksumCRC32",
            Algorithm::Crc32c => "ChecksumCRC32C",
            Algorithm::Crc64Nvme => "ChecksumCRC64NVME",
            Algorithm::Sha1 => "ChecksumSHA1",
            Algorithm::Sha256 => "ChecksumSHA256",
        }
    }

    /// The header (and aws-chunked trailer) name.
    pub fn header(self) -> &'static str {
        match self {
            Algorithm::Crc32 => "x-amz-checksum-crc32",
            Algorithm::Crc32c => "x-amz-checksum-crc32c",
            Algorithm::Crc64Nvme => "x-amz-checksum-crc64nvme",
            Algorithm::Sha1 => "x-amz-checksum-sha1",
            Algorithm::Sha256 => "x-amz-checksum-sha256",
        }
    }

    fn raw_len(self) -> usize {
        match self {
            Algorithm::Crc32 | Algorithm::Crc32c => 4,
            Algorithm::Crc64Nvme => 8,
            Algorithm::Sha1 => 20,
            Algorithm::Sha256 => 32,
        }
    }

    fn crc(self) -> Option<CrcAlgorithm> {
        match self {
            Algorithm::Crc32 => Some(CrcAlgorithm::Crc32IsoHdlc),
            Algorithm::Crc32c => Some(CrcAlgorithm::Crc32Iscsi),
            Algorithm::Crc64Nvme => Some(CrcAlgorithm::Crc64Nvme),
            _ => None,
        }
    }

    pub fn is_crc(self) -> bool {
        self.crc().is_some()
    }

    /// Hashes `data` whole (composite checksums hash the parts' checksums).
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Algorithm::Sha1 => Sha1::digest(data).to_vec(),
            Algorithm::Sha256 => Sha256::digest(data).to_vec(),
            crc => {
                let alg = crc.crc().unwrap_or(CrcAlgorithm::Crc32IsoHdlc);
                crc_bytes(self, crc_fast::checksum(alg, data))
            }
        }
    }
}

fn crc_bytes(alg: Algorithm, v: u64) -> Vec<u8> {
    if alg == Algorithm::Crc64Nvme {
        v.to_be_bytes().to_vec()
    } else {
        (v as u32).to_be_bytes().to_vec()
    }
}

/// FULL_OBJECT or COMPOSITE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Kind {
    #[serde(rename = "FULL_OBJECT")]
    FullObject,
    #[serde(rename = "COMPOSITE")]
    Composite,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::FullObject => "FULL_OBJECT",
            Kind::Composite => "COMPOSITE",
        }
    }
}

/// The checksum an object (or part) reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stored {
    pub algorithm: Algorithm,
    pub kind: Kind,
    /// Base64, with `-N` for composite checksums of N parts.
    pub value: String,
}

impl Stored {
    /// Adds `ChecksumXXX` and `ChecksumType` members to an output.
    pub fn add_to(&self, out: &mut Value, with_type: bool) {
        out.insert(self.algorithm.member(), self.value.as_str());
        if with_type {
            out.insert("ChecksumType", self.kind.name());
        }
    }
}

/// Bodies longer than this hash MD5 at the [`md5hub`] while the request task goes on
/// receiving and writing (and computing the CRCs and a requested SHA, which every task
/// can do for itself). Shorter bodies are not worth the hop.
const OFFLOAD_AFTER: u64 = 64 * 1024;

/// The hub every S3 body past [`OFFLOAD_AFTER`] is hashed at; `None` if its thread could
/// not start (bodies are then hashed on their own tasks).
fn hub() -> Option<&'static Hub> {
    static HUB: OnceLock<Option<Hub>> = OnceLock::new();
    HUB.get_or_init(|| {
        Hub::start()
            .inspect_err(|e| tracing::warn!(error = %e, "the MD5 hub did not start"))
            .ok()
    })
    .as_ref()
}

/// Everything computed over a body as it streams.
pub struct Hashers {
    crc32: crc_fast::Digest,
    crc32c: crc_fast::Digest,
    crc64: crc_fast::Digest,
    md5: Md5,
    shas: Shas,
    seen: u64,
}

/// A body's MD5: computed by its own task, or handed over to the hub.
enum Md5 {
    Here(Md5State),
    Away(Body),
}

/// The SHA checksums a client asked for.
struct Shas {
    sha1: Option<Sha1>,
    sha256: Option<Sha256>,
}

impl Shas {
    fn new(wanted: Option<Algorithm>) -> Shas {
        Shas {
            sha1: (wanted == Some(Algorithm::Sha1)).then(Sha1::new),
            sha256: (wanted == Some(Algorithm::Sha256)).then(Sha256::new),
        }
    }
}

impl Shas {
    fn update(&mut self, data: &[u8]) {
        if let Some(h) = &mut self.sha1 {
            h.update(data);
        }
        if let Some(h) = &mut self.sha256 {
            h.update(data);
        }
    }
}

/// The finished digests of a body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Digests {
    pub md5: [u8; 16],
    pub crc32: u32,
    pub crc32c: u32,
    pub crc64: u64,
    pub sha1: Option<Vec<u8>>,
    pub sha256: Option<Vec<u8>>,
}

impl Hashers {
    /// CRCs and MD5 always (cheap, or needed for the ETag); the SHAs only when the client
    /// asked for them.
    pub fn new(wanted: Option<Algorithm>) -> Hashers {
        Hashers {
            crc32: crc_fast::Digest::new(CrcAlgorithm::Crc32IsoHdlc),
            crc32c: crc_fast::Digest::new(CrcAlgorithm::Crc32Iscsi),
            crc64: crc_fast::Digest::new(CrcAlgorithm::Crc64Nvme),
            md5: Md5::Here(Md5State::new()),
            shas: Shas::new(wanted),
            seen: 0,
        }
    }

    /// Hashes the next piece of the body.
    pub async fn update(&mut self, chunk: &Bytes) {
        self.crc32.update(chunk);
        self.crc32c.update(chunk);
        self.crc64.update(chunk);
        self.seen += chunk.len() as u64;
        self.shas.update(chunk);
        if self.seen > OFFLOAD_AFTER
            && let Md5::Here(md5) = &self.md5
            && let Some(hub) = hub()
        {
            self.md5 = Md5::Away(hub.open(*md5));
        }
        match &mut self.md5 {
            Md5::Here(md5) => md5.update(chunk),
            Md5::Away(body) => body.update(chunk).await,
        }
    }

    pub async fn finish(self) -> Result<Digests, AwsError> {
        let md5 = match self.md5 {
            Md5::Here(md5) => md5,
            Md5::Away(body) => body
                .finish()
                .await
                .ok_or_else(|| AwsError::new(500, "InternalError", "hashing the body failed"))?,
        };
        Ok(Digests {
            md5: md5.finalize(),
            crc32: self.crc32.finalize() as u32,
            crc32c: self.crc32c.finalize() as u32,
            crc64: self.crc64.finalize(),
            sha1: self.shas.sha1.map(|h| h.finalize().to_vec()),
            sha256: self.shas.sha256.map(|h| h.finalize().to_vec()),
        })
    }
}

impl Digests {
    /// The raw checksum for `alg`, when it was computed.
    pub fn raw(&self, alg: Algorithm) -> Option<Vec<u8>> {
        match alg {
            Algorithm::Crc32 => Some(self.crc32.to_be_bytes().to_vec()),
            Algorithm::Crc32c => Some(self.crc32c.to_be_bytes().to_vec()),
            Algorithm::Crc64Nvme => Some(self.crc64.to_be_bytes().to_vec()),
            Algorithm::Sha1 => self.sha1.clone(),
            Algorithm::Sha256 => self.sha256.clone(),
        }
    }

    pub fn b64(&self, alg: Algorithm) -> Option<String> {
        self.raw(alg).map(|r| B64.encode(r))
    }

    pub fn etag(&self) -> String {
        format!("\"{}\"", hex::encode(self.md5))
    }

    fn crc_value(&self, alg: Algorithm) -> Option<u64> {
        match alg {
            Algorithm::Crc32 => Some(self.crc32.into()),
            Algorithm::Crc32c => Some(self.crc32c.into()),
            Algorithm::Crc64Nvme => Some(self.crc64),
            _ => None,
        }
    }
}

/// The full-object CRC of parts given each part's CRC and length (CRC combination).
pub fn combine_crc(alg: Algorithm, parts: &[(&Digests, u64)]) -> Option<String> {
    let crc = alg.crc()?;
    let mut acc: Option<u64> = None;
    for (d, len) in parts {
        let v = d.crc_value(alg)?;
        acc = Some(match acc {
            None => v,
            Some(a) => crc_fast::checksum_combine(crc, a, v, *len),
        });
    }
    let v = acc.unwrap_or_else(|| crc_fast::checksum(crc, b""));
    Some(B64.encode(crc_bytes(alg, v)))
}

/// The composite checksum: the checksum of the concatenated part checksums, `-N`.
pub fn composite(alg: Algorithm, parts: &[&Digests]) -> Option<String> {
    let mut cat = Vec::new();
    for p in parts {
        cat.extend(p.raw(alg)?);
    }
    Some(format!("{}-{}", B64.encode(alg.digest(&cat)), parts.len()))
}

/// The multipart ETag: MD5 of the concatenated part MD5s, `-N`.
pub fn multipart_etag(parts: &[&Digests]) -> String {
    let mut h = Md5State::new();
    for p in parts {
        h.update(&p.md5);
    }
    format!("\"{}-{}\"", hex::encode(h.finalize()), parts.len())
}

/// Checks that a client-sent checksum is well-formed base64 of the right length.
pub fn parse_sent(alg: Algorithm, value: &str) -> Result<Vec<u8>, AwsError> {
    match B64.decode(value.trim()) {
        Ok(raw) if raw.len() == alg.raw_len() => Ok(raw),
        _ => Err(AwsError::new(
            400,
            "InvalidRequest",
            format!("Value for {} header is invalid.", alg.header()),
        )),
    }
}

/// The mismatch error S3 returns for a flexible checksum.
pub fn mismatch(alg: Algorithm) -> AwsError {
    AwsError::new(
        400,
        "BadDigest",
        format!(
            "The {} you specified did not match the calculated checksum.",
            alg.name()
        ),
    )
}

/// Checks a `Content-MD5` header against the body's MD5.
pub fn check_content_md5(sent: &str, md5: &[u8; 16]) -> Result<(), AwsError> {
    let raw = B64.decode(sent.trim()).ok().filter(|r| r.len() == 16);
    match raw {
        None => Err(AwsError::new(
            400,
            "InvalidDigest",
            "The Content-MD5 you specified was invalid.",
        )
        .with_field("Content-MD5", sent)),
        // PutObject quotes the digest it expected in hex (UploadPart as sent).
        Some(r) if r.as_slice() != md5 => Err(AwsError::new(
            400,
            "BadDigest",
            "The Content-MD5 you specified did not match what we received.",
        )
        .with_field("ExpectedDigest", hex::encode(&r))
        .with_field("CalculatedDigest", B64.encode(md5))),
        Some(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn digest(pieces: &[&[u8]], wanted: Option<Algorithm>) -> Digests {
        let mut h = Hashers::new(wanted);
        for p in pieces {
            h.update(&Bytes::copy_from_slice(p)).await;
        }
        h.finish().await.unwrap()
    }

    #[tokio::test]
    async fn known_vectors() {
        let d = digest(&[b"hello ", b"world"], Some(Algorithm::Sha256)).await;
        assert_eq!(d.etag(), "\"5eb63bbbe01eeed093cb22bb8f5acdc3\"");
        assert_eq!(d.b64(Algorithm::Crc32).unwrap(), "DUoRhQ==");
        assert_eq!(d.b64(Algorithm::Crc32c).unwrap(), "yZRlqg==");
        assert_eq!(
            d.b64(Algorithm::Sha256).unwrap(),
            "uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek="
        );
        assert!(d.sha1.is_none());
    }

    #[tokio::test]
    async fn offloaded_hashing_matches_inline() {
        let body: Vec<u8> = (0..3 * OFFLOAD_AFTER as usize)
            .map(|i| (i % 251) as u8)
            .collect();
        let pieces: Vec<&[u8]> = body.chunks(70_001).collect();
        let streamed = digest(&pieces, Some(Algorithm::Sha1)).await;
        // References from other crates than the ones that hashed.
        assert_eq!(streamed.md5.as_slice(), md5::Md5::digest(&body).as_slice());
        assert_eq!(streamed.sha1.unwrap(), Sha1::digest(&body).to_vec());
        assert_eq!(
            streamed.crc64,
            crc_fast::checksum(CrcAlgorithm::Crc64Nvme, &body)
        );
    }

    #[tokio::test]
    async fn combined_crc_equals_whole() {
        let a = digest(&[b"hello "], None).await;
        let b = digest(&[b"world"], None).await;
        let w = digest(&[b"hello world"], None).await;
        for alg in [Algorithm::Crc32, Algorithm::Crc32c, Algorithm::Crc64Nvme] {
            assert_eq!(combine_crc(alg, &[(&a, 6), (&b, 5)]), w.b64(alg), "{alg:?}");
        }
        assert!(
            composite(Algorithm::Crc32, &[&a, &b])
                .unwrap()
                .ends_with("-2")
        );
        assert!(multipart_etag(&[&a, &b]).ends_with("-2\""));
    }

    #[test]
    fn content_md5_checks() {
        let md5 = [0u8; 16];
        assert_eq!(
            check_content_md5("nope", &md5).unwrap_err().code,
            "InvalidDigest"
        );
        assert_eq!(
            check_content_md5("AQAAAAAAAAAAAAAAAAAAAA==", &md5)
                .unwrap_err()
                .code,
            "BadDigest"
        );
        assert!(check_content_md5("AAAAAAAAAAAAAAAAAAAAAA==", &md5).is_ok());
    }
}
