//! JSON Web Tokens (RFC 7519) as identity providers sign them: compact JWS with RSA
//! (`RS256/384/512`, `PS256/384/512`) or ECDSA (`ES256`, `ES384`), verified against the
//! issuer's JSON Web Keys; and ES256 signing for nephos's own issuer.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{self, EcdsaKeyPair, RsaPublicKeyComponents, UnparsedPublicKey};
use serde_json::{Value as Json, json};

/// A decoded (not yet verified) token.
#[derive(Debug)]
pub(crate) struct Token {
    header: Json,
    pub(crate) claims: Json,
    /// `<header>.<payload>` as sent: what the signature covers.
    signed: String,
    signature: Vec<u8>,
}

/// Lenient about padding, as some issuers pad.
fn b64(part: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).ok()
}

impl Token {
    pub(crate) fn decode(text: &str) -> Result<Token, String> {
        let mut parts = text.trim().split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err("the token is not a JSON web token".into());
        };
        let header: Json = b64(h)
            .and_then(|b| serde_json::from_slice(&b).ok())
            .filter(Json::is_object)
            .ok_or("the token's header is not JSON")?;
        let claims: Json = b64(p)
            .and_then(|b| serde_json::from_slice(&b).ok())
            .filter(Json::is_object)
            .ok_or("the token's claims are not JSON")?;
        let signature = b64(s).ok_or("the token's signature is not base64url")?;
        Ok(Token {
            header,
            claims,
            signed: format!("{h}.{p}"),
            signature,
        })
    }

    pub(crate) fn alg(&self) -> &str {
        self.header.get("alg").and_then(Json::as_str).unwrap_or("")
    }

    pub(crate) fn kid(&self) -> Option<&str> {
        self.header.get("kid").and_then(Json::as_str)
    }

    pub(crate) fn claim(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Json::as_str)
    }

    /// Whether one of `keys` (a JWKS's `keys`) verifies the signature.
    pub(crate) fn verify(&self, keys: &[Json]) -> Result<(), String> {
        let alg = self.alg();
        if algorithm(alg, "RSA").is_none() && ec_algorithm(alg).is_none() {
            return Err(format!("the token's algorithm {alg:?} is not supported"));
        }
        let candidates = keys.iter().filter(|k| {
            let kid_ok = match (self.kid(), k.get("kid").and_then(Json::as_str)) {
                (Some(want), Some(have)) => want == have,
                (Some(_), None) => false,
                (None, _) => true,
            };
            let alg_ok = k.get("alg").and_then(Json::as_str).is_none_or(|a| a == alg);
            let use_ok = k
                .get("use")
                .and_then(Json::as_str)
                .is_none_or(|u| u == "sig");
            kid_ok && alg_ok && use_ok
        });
        for key in candidates {
            if verify_with(key, alg, self.signed.as_bytes(), &self.signature) {
                return Ok(());
            }
        }
        Err("the token's signature does not verify with the issuer's keys".into())
    }
}

fn algorithm(alg: &str, kty: &str) -> Option<&'static signature::RsaParameters> {
    (kty == "RSA").then_some(())?;
    Some(match alg {
        "RS256" => &signature::RSA_PKCS1_2048_8192_SHA256,
        "RS384" => &signature::RSA_PKCS1_2048_8192_SHA384,
        "RS512" => &signature::RSA_PKCS1_2048_8192_SHA512,
        "PS256" => &signature::RSA_PSS_2048_8192_SHA256,
        "PS384" => &signature::RSA_PSS_2048_8192_SHA384,
        "PS512" => &signature::RSA_PSS_2048_8192_SHA512,
        _ => return None,
    })
}

fn ec_algorithm(
    alg: &str,
) -> Option<(&'static signature::EcdsaVerificationAlgorithm, &'static str)> {
    match alg {
        "ES256" => Some((&signature::ECDSA_P256_SHA256_FIXED, "P-256")),
        "ES384" => Some((&signature::ECDSA_P384_SHA384_FIXED, "P-384")),
        _ => None,
    }
}

fn verify_with(key: &Json, alg: &str, message: &[u8], sig: &[u8]) -> bool {
    let field = |name: &str| key.get(name).and_then(Json::as_str).and_then(b64);
    match key.get("kty").and_then(Json::as_str) {
        Some("RSA") => {
            let (Some(params), Some(n), Some(e)) = (algorithm(alg, "RSA"), field("n"), field("e"))
            else {
                return false;
            };
            RsaPublicKeyComponents { n, e }
                .verify(params, message, sig)
                .is_ok()
        }
        Some("EC") => {
            let (Some((params, curve)), Some(x), Some(y)) =
                (ec_algorithm(alg), field("x"), field("y"))
            else {
                return false;
            };
            if key.get("crv").and_then(Json::as_str) != Some(curve) {
                return false;
            }
            let mut point = vec![4u8];
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            UnparsedPublicKey::new(params, point)
                .verify(message, sig)
                .is_ok()
        }
        _ => false,
    }
}

/// The JWK of a P-256 public key (an uncompressed point).
pub(crate) fn p256_jwk(point: &[u8], kid: &str) -> Json {
    let (x, y) = point
        .get(1..)
        .unwrap_or_default()
        .split_at(point.len().saturating_sub(1) / 2);
    json!({
        "kty": "EC",
        "crv": "P-256",
        "x": URL_SAFE_NO_PAD.encode(x),
        "y": URL_SAFE_NO_PAD.encode(y),
        "use": "sig",
        "alg": "ES256",
        "kid": kid,
    })
}

/// A compact ES256 token of `claims`.
pub(crate) fn sign_es256(
    key: &EcdsaKeyPair,
    rng: &dyn ring::rand::SecureRandom,
    kid: &str,
    claims: &Json,
) -> Result<String, String> {
    let header = json!({"alg": "ES256", "typ": "JWT", "kid": kid});
    let signed = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let sig = key
        .sign(rng, signed.as_bytes())
        .map_err(|_| "signing failed".to_owned())?;
    Ok(format!("{signed}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;
    use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, KeyPair};

    #[test]
    fn es256_round_trip_and_tampering() {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        let jwk = p256_jwk(key.public_key().as_ref(), "k1");
        let token = sign_es256(&key, &rng, "k1", &json!({"sub": "me"})).unwrap();
        let t = Token::decode(&token).unwrap();
        assert_eq!(t.claim("sub"), Some("me"));
        assert_eq!(t.kid(), Some("k1"));
        t.verify(std::slice::from_ref(&jwk)).unwrap();
        // Another kid, another key, or altered claims do not verify.
        let mut other = jwk.clone();
        other["kid"] = json!("k2");
        assert!(t.verify(&[other]).is_err());
        let (h, rest) = token.split_once('.').unwrap();
        let (_, s) = rest.split_once('.').unwrap();
        let forged = format!("{h}.{}.{s}", URL_SAFE_NO_PAD.encode(r#"{"sub":"you"}"#));
        assert!(
            Token::decode(&forged)
                .unwrap()
                .verify(std::slice::from_ref(&jwk))
                .is_err()
        );
        assert!(Token::decode("a.b").is_err());
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
            URL_SAFE_NO_PAD.encode(r#"{"sub":"x"}"#)
        );
        assert!(Token::decode(&none).unwrap().verify(&[jwk]).is_err());
    }
}
