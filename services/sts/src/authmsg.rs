//! Authorization messages: what nephos puts after `Encoded authorization failure
//! message:` when it refuses a request, and DecodeAuthorizationMessage reads back.
//!
//! A message is the decoded JSON, deflated, sealed with AES-256-GCM under a key of the
//! data directory (a random 96-bit nonce in front), in unpadded URL-safe base64 as
//! AWS's messages look. Only the nephos that sealed it can open it; anything else,
//! altered or not nephos's, is `InvalidAuthorizationMessageException`.

use crate::secrets::Secrets;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use nephos_core::{AwsError, Value};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::SecureRandom;
use std::io::{Read, Write};

/// Distinguishes these messages from anything else sealed with the same key.
const AAD: &[u8] = b"nephos authorization message v1";
/// Decoded messages larger than this are refused rather than inflated.
const MAX_DECODED: u64 = 1 << 20;

fn key(secrets: &Secrets) -> Option<LessSafeKey> {
    let bytes = secrets.message_key().ok()?;
    Some(LessSafeKey::new(UnboundKey::new(&AES_256_GCM, bytes).ok()?))
}

pub(crate) fn encode(secrets: &Secrets, decoded_json: &str) -> String {
    let mut deflater =
        flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    let _ = deflater.write_all(decoded_json.as_bytes());
    let mut data = deflater.finish().unwrap_or_default();
    let mut nonce = [0u8; NONCE_LEN];
    let sealed = key(secrets).is_some_and(|k| {
        secrets.rng.fill(&mut nonce).is_ok()
            && k.seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(AAD),
                &mut data,
            )
            .is_ok()
    });
    if !sealed {
        tracing::error!("an authorization message could not be sealed");
        return String::new();
    }
    let mut out = nonce.to_vec();
    out.extend_from_slice(&data);
    URL_SAFE_NO_PAD.encode(out)
}

pub(crate) fn decode(secrets: &Secrets, input: &Value) -> Result<Value, AwsError> {
    let encoded = input.str("EncodedMessage").unwrap_or_default();
    let invalid = || {
        AwsError::new(
            400,
            "InvalidAuthorizationMessageException",
            "The encoded authorization message is invalid.",
        )
    };
    let raw = URL_SAFE_NO_PAD
        .decode(encoded.trim().trim_end_matches('='))
        .map_err(|_| invalid())?;
    if raw.len() < NONCE_LEN {
        return Err(invalid());
    }
    let (nonce, sealed) = raw.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| invalid())?;
    let key = key(secrets).ok_or_else(|| AwsError::internal("no message key"))?;
    let mut sealed = sealed.to_vec();
    let plain = key
        .open_in_place(nonce, Aad::from(AAD), &mut sealed)
        .map_err(|_| invalid())?;
    let mut text = String::new();
    flate2::read::DeflateDecoder::new(&*plain)
        .take(MAX_DECODED)
        .read_to_string(&mut text)
        .map_err(|_| invalid())?;
    Ok(Value::map().with("DecodedMessage", text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_open_only_where_they_were_sealed() {
        let secrets = Secrets::open(nephos_storage::Storage::ephemeral()).unwrap();
        let json = r#"{"allowed":false,"explicitDeny":false,"matchedStatements":{"items":[]}}"#;
        let sealed = encode(&secrets, json);
        assert!(!sealed.contains('=') && !sealed.contains('+') && !sealed.contains('/'));
        let input = Value::map().with("EncodedMessage", sealed.as_str());
        assert_eq!(
            decode(&secrets, &input).unwrap().str("DecodedMessage"),
            Some(json)
        );
        // Sealed twice, two different texts (a fresh nonce each time).
        assert_ne!(encode(&secrets, json), sealed);
        // Another key, or one altered character, and it does not open.
        let other = Secrets::open(nephos_storage::Storage::ephemeral()).unwrap();
        assert_eq!(
            decode(&other, &input).unwrap_err().code,
            "InvalidAuthorizationMessageException"
        );
        let mut altered = sealed.into_bytes();
        let last = altered.len() - 2;
        altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
        let altered = String::from_utf8(altered).unwrap();
        let input = Value::map().with("EncodedMessage", altered.as_str());
        assert!(decode(&secrets, &input).is_err());
    }
}
