//! HMAC-SHA256 primitives and the SigV4 signing-key derivation, with a small bounded
//! cache of derived keys (four HMACs per request otherwise, on the hot path).

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

/// A derived SigV4 signing key.
pub type SigningKey = [u8; 32];

/// Hex SHA-256 of the empty string.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

const CACHE_CAPACITY: usize = 256;

pub fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC takes keys of any length: `new_from_slice` cannot fail here.
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(data);
    let mut out = [0u8; 32];
    out.copy_from_slice(&mac.finalize().into_bytes());
    out
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Derives `kSigning` without the cache.
pub fn derive_signing_key(secret: &str, date: &str, region: &str, service: &str) -> SigningKey {
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    hmac(&k_service, b"aws4_request")
}

type CacheKey = (String, String, String, String);

/// Derives `kSigning`, memoised per (secret, date, region, service).
pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> SigningKey {
    static CACHE: OnceLock<Mutex<HashMap<CacheKey, SigningKey>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    let key = (
        secret.to_string(),
        date.to_string(),
        region.to_string(),
        service.to_string(),
    );
    if let Ok(map) = cache.lock()
        && let Some(k) = map.get(&key)
    {
        return *k;
    }
    let derived = derive_signing_key(secret, date, region, service);
    if let Ok(mut map) = cache.lock() {
        // Keys change daily; dropping everything when full is simpler than LRU and
        // costs one re-derivation per live credential.
        if map.len() >= CACHE_CAPACITY {
            map.clear();
        }
        map.insert(key, derived);
    }
    derived
}

/// Hex HMAC of a string to sign.
pub fn sign(key: &SigningKey, string_to_sign: &str) -> String {
    hex::encode(hmac(key, string_to_sign.as_bytes()))
}

/// Constant-time comparison of two hex signatures.
pub fn signatures_equal(computed: &str, provided: &str) -> bool {
    use subtle::ConstantTimeEq;
    computed.len() == provided.len() && bool::from(computed.as_bytes().ct_eq(provided.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_doc_signing_key() {
        // From AWS's "Derive a signing key" example (IAM, 20120215).
        let k = derive_signing_key(
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "20120215",
            "us-east-1",
            "iam",
        );
        assert_eq!(
            hex::encode(k),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
        );
        assert_eq!(
            signing_key(
                "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                "20120215",
                "us-east-1",
                "iam"
            ),
            k
        );
        assert_eq!(sha256_hex(b""), EMPTY_SHA256);
        assert!(signatures_equal("ab", "ab"));
        assert!(!signatures_equal("ab", "ac"));
        assert!(!signatures_equal("ab", "abc"));
    }
}
