//! Message signatures as SNS makes them: SignatureVersion 1 (SHA1withRSA) and 2
//! (SHA256withRSA) over the canonical string of a message, with an RSA key made on first
//! use and a self-signed certificate served at the SigningCertURL
//! (`/_nephos/sns/SimpleNotificationService-<hash>.pem`, named after the certificate as
//! AWS names its own; the bare `SimpleNotificationService.pem` serves it too).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use rsa::pkcs1v15::SigningKey;
use rsa::signature::{SignatureEncoding, Signer as _};
use std::sync::{Arc, OnceLock};
use x509_cert::builder::{Builder, CertificateBuilder, profile};
use x509_cert::der::EncodePem;
use x509_cert::der::pem::LineEnding;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::SubjectPublicKeyInfoOwned;
use x509_cert::time::Validity;

pub const CERT_DIR: &str = "/_nephos/sns/";

struct Keys {
    sha1: SigningKey<sha1::Sha1>,
    sha256: SigningKey<rsa::sha2::Sha256>,
    cert_pem: String,
    /// `SimpleNotificationService-<32 hex of the certificate's SHA-1>.pem`.
    cert_file: String,
}

/// The signing key, generated once (in the background from the first SNS request on).
#[derive(Default)]
pub struct Signer {
    keys: Arc<OnceLock<Result<Keys, String>>>,
    started: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer")
    }
}

fn generate() -> Result<Keys, String> {
    let key = rsa::PrivateKey::new(&mut getrandom::SysRng, 2048).map_err(|e| e.to_string())?;
    let sha256 = SigningKey::<rsa::sha2::Sha256>::new(key.clone());
    let sha1 = SigningKey::<sha1::Sha1>::new(key);
    let public = rsa::pkcs8::EncodePublicKey::to_public_key_der(&key_public(&sha256))
        .map_err(|e| e.to_string())?;
    let spki = SubjectPublicKeyInfoOwned::try_from(public.as_bytes()).map_err(|e| e.to_string())?;
    let subject: Name = "CN=sns.amazonaws.com,O=nephos,C=US"
        .parse()
        .map_err(|e: x509_cert::der::Error| e.to_string())?;
    let profile = profile::cabf::Root::new(false, subject).map_err(|e| e.to_string())?;
    let validity = Validity::from_now(std::time::Duration::from_secs(10 * 365 * 86_400))
        .map_err(|e| e.to_string())?;
    let serial = SerialNumber::from(rand::random::<u32>() | 1);
    let builder =
        CertificateBuilder::new(profile, serial, validity, spki).map_err(|e| e.to_string())?;
    let cert = builder
        .build::<_, rsa::pkcs1v15::Signature>(&sha256)
        .map_err(|e| e.to_string())?;
    let cert_pem = cert.to_pem(LineEnding::LF).map_err(|e| e.to_string())?;
    let digest = <sha1::Sha1 as sha1::Digest>::digest(cert_pem.as_bytes());
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    Ok(Keys {
        sha1,
        sha256,
        cert_pem,
        cert_file: format!("SimpleNotificationService-{hex}.pem"),
    })
}

fn key_public(k: &SigningKey<rsa::sha2::Sha256>) -> rsa::PublicKey {
    use rsa::signature::Keypair;
    k.verifying_key().as_ref().clone()
}

impl Signer {
    /// Starts making the key in the background, so the first message does not wait.
    pub fn warm_up(&self) {
        if self
            .started
            .swap(true, std::sync::atomic::Ordering::Relaxed)
        {
            return;
        }
        let keys = self.keys.clone();
        std::thread::spawn(move || {
            keys.get_or_init(generate);
        });
    }

    fn keys(&self) -> Result<&Keys, String> {
        self.keys
            .get_or_init(generate)
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The base64 signature of `canonical` for SignatureVersion `version` ("1" or "2").
    pub fn sign(&self, version: &str, canonical: &str) -> String {
        let Ok(keys) = self.keys() else {
            return String::new();
        };
        let sig = if version == "2" {
            keys.sha256.sign(canonical.as_bytes()).to_bytes()
        } else {
            keys.sha1.sign(canonical.as_bytes()).to_bytes()
        };
        BASE64.encode(sig)
    }

    /// The certificate's file name under [`CERT_DIR`].
    pub fn cert_file(&self) -> &str {
        match self.keys() {
            Ok(k) => &k.cert_file,
            Err(_) => "SimpleNotificationService.pem",
        }
    }

    pub fn certificate_pem(&self) -> String {
        match self.keys() {
            Ok(k) => k.cert_pem.clone(),
            Err(e) => format!("certificate unavailable: {e}"),
        }
    }
}

/// The string SNS signs: `Name\nvalue\n` for each present field, in AWS's documented order.
pub fn canonical(fields: &[(&str, Option<&str>)]) -> String {
    let mut out = String::new();
    for (name, value) in fields {
        if let Some(v) = value {
            out.push_str(name);
            out.push('\n');
            out.push_str(v);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_skips_absent_fields() {
        assert_eq!(
            canonical(&[
                ("Message", Some("hi")),
                ("Subject", None),
                ("Type", Some("Notification"))
            ]),
            "Message\nhi\nType\nNotification\n"
        );
    }
}
