//! XML Signature (<https://www.w3.org/TR/xmldsig-core1/>) as SAML identity providers
//! sign responses and assertions: one enveloped signature over the element that holds
//! it (a same-document reference to its `ID`), Exclusive XML Canonicalization, RSA with
//! SHA-256 (or SHA-1, SHA-512), checked against the identity provider's X.509
//! certificates. Anything else (other transforms, canonicalizations, several
//! references, a reference to another element) is refused, not ignored: a signature
//! nephos cannot fully check does not count.

use super::xml::{Element, Scope, exc_c14n};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::signature::{self, UnparsedPublicKey};

pub(crate) const DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
/// `rsaEncryption`.
const RSA_OID: &str = "1.2.840.113549.1.1.1";

/// The child of `e` in namespace `ns` named `local`, when there is exactly one; `scope`
/// is the scope inside `e`.
fn only_child<'a>(
    e: &'a Element,
    scope: &Scope,
    ns: &str,
    local: &str,
) -> Result<&'a Element, String> {
    let mut found = e
        .elements()
        .filter(|c| c.local == local && c.ns(&c.scope(scope)) == ns);
    match (found.next(), found.next()) {
        (Some(one), None) => Ok(one),
        (None, _) => Err(format!("no {local}")),
        _ => Err(format!("more than one {local}")),
    }
}

/// The enveloped signature of `e` (a direct child), if it has one; `scope` is the scope
/// inside `e`.
pub(crate) fn signature_of<'a>(
    e: &'a Element,
    scope: &Scope,
) -> Result<Option<&'a Element>, String> {
    match only_child(e, scope, DSIG, "Signature") {
        Ok(s) => Ok(Some(s)),
        Err(m) if m.starts_with("no ") => Ok(None),
        Err(m) => Err(m),
    }
}

/// `InclusiveNamespaces PrefixList` of a canonicalization method or transform.
fn inclusive_prefixes(method: &Element) -> Vec<String> {
    method
        .elements()
        .find(|c| c.local == "InclusiveNamespaces")
        .and_then(|c| c.attr("PrefixList"))
        .map(|l| l.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default()
}

fn b64(text: &str) -> Result<Vec<u8>, String> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    STANDARD
        .decode(compact)
        .map_err(|_| "not base64".to_owned())
}

fn digest(algorithm: &str, data: &[u8]) -> Result<Vec<u8>, String> {
    let alg = match algorithm {
        "http://www.w3.org/2001/04/xmlenc#sha256" => &ring::digest::SHA256,
        "http://www.w3.org/2001/04/xmlenc#sha512" => &ring::digest::SHA512,
        "http://www.w3.org/2000/09/xmldsig#sha1" => &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
        other => return Err(format!("digest method {other} is not supported")),
    };
    Ok(ring::digest::digest(alg, data).as_ref().to_vec())
}

fn signature_algorithm(algorithm: &str) -> Result<&'static signature::RsaParameters, String> {
    Ok(match algorithm {
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256" => {
            &signature::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY
        }
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512" => {
            &signature::RSA_PKCS1_1024_8192_SHA512_FOR_LEGACY_USE_ONLY
        }
        "http://www.w3.org/2000/09/xmldsig#rsa-sha1" => {
            &signature::RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY
        }
        other => return Err(format!("signature method {other} is not supported")),
    })
}

/// The RSA public key (PKCS#1 DER) of an X.509 certificate (DER).
pub(crate) fn rsa_key_of_certificate(der: &[u8]) -> Result<Vec<u8>, String> {
    use x509_cert::der::Decode;
    let cert = x509_cert::Certificate::from_der(der).map_err(|e| e.to_string())?;
    let spki = cert.tbs_certificate().subject_public_key_info();
    if spki.algorithm.oid.to_string() != RSA_OID {
        return Err("the certificate's key is not an RSA key".into());
    }
    spki.subject_public_key
        .as_bytes()
        .map(<[u8]>::to_vec)
        .ok_or_else(|| "the certificate's key is not whole bytes".into())
}

/// Verifies the enveloped signature `sig` of `signed` (whose parent's scope is
/// `parent_scope`) with one of `keys` (RSA public keys, PKCS#1 DER).
pub(crate) fn verify(
    signed: &Element,
    parent_scope: &Scope,
    sig: &Element,
    keys: &[Vec<u8>],
    is_root: bool,
) -> Result<(), String> {
    let scope = signed.scope(parent_scope);
    let sig_scope = sig.scope(&scope);
    let info = only_child(sig, &sig_scope, DSIG, "SignedInfo")?;
    let info_scope = info.scope(&sig_scope);
    let c14n = only_child(info, &info_scope, DSIG, "CanonicalizationMethod")?;
    if c14n.attr("Algorithm") != Some(EXC_C14N) {
        return Err("only exclusive canonicalization is supported".into());
    }
    let method = only_child(info, &info_scope, DSIG, "SignatureMethod")?;
    let params = signature_algorithm(method.attr("Algorithm").unwrap_or_default())?;
    let reference = only_child(info, &info_scope, DSIG, "Reference")?;
    let reference_scope = reference.scope(&info_scope);

    // The reference must be to the element that holds the signature.
    match (reference.attr("URI"), signed.attr("ID")) {
        (Some(""), _) if is_root => {}
        (Some(uri), Some(id)) if uri.strip_prefix('#') == Some(id) => {}
        _ => return Err("the signature does not refer to the element that holds it".into()),
    }
    let mut enveloped = false;
    let mut prefixes = Vec::new();
    let mut canonical = false;
    if let Ok(transforms) = only_child(reference, &reference_scope, DSIG, "Transforms") {
        for t in transforms.elements() {
            match t.attr("Algorithm") {
                Some(ENVELOPED) if !canonical => enveloped = true,
                Some(EXC_C14N) => {
                    canonical = true;
                    prefixes = inclusive_prefixes(t);
                }
                other => return Err(format!("transform {other:?} is not supported")),
            }
        }
    }
    if !enveloped || !canonical {
        return Err("the signature must be enveloped and exclusively canonicalized".into());
    }
    let digest_method = only_child(reference, &reference_scope, DSIG, "DigestMethod")?;
    let digest_value = only_child(reference, &reference_scope, DSIG, "DigestValue")?;
    let data = exc_c14n(signed, parent_scope, Some(sig as *const Element), &prefixes);
    let computed = digest(
        digest_method.attr("Algorithm").unwrap_or_default(),
        data.as_bytes(),
    )?;
    if computed != b64(&digest_value.text())? {
        return Err("the digest of the signed element does not match".into());
    }
    let signed_info = exc_c14n(info, &sig_scope, None, &inclusive_prefixes(c14n));
    let value = b64(&only_child(sig, &sig_scope, DSIG, "SignatureValue")?.text())?;
    if keys.iter().any(|k| {
        UnparsedPublicKey::new(params, k)
            .verify(signed_info.as_bytes(), &value)
            .is_ok()
    }) {
        Ok(())
    } else {
        Err("the signature does not verify with the provider's certificates".into())
    }
}
