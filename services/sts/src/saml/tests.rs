//! Signed SAML responses checked end to end: built as identity providers build them (the
//! canonical form digested and signed), sent in an equivalent but different form, and
//! then altered.

use super::*;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};

/// A throwaway RSA key (PKCS#8) and its self-signed certificate, made for these tests.
const TEST_KEY: &[&str] = &[
    "MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQDeuPK30F6bSshaL9bUJ4QVne32rBIBMG+isMT6",
    "5fiyc5x4aiFjJEM895L/OGtRpm1UqPFrTynfdI01RJ82akOHivV0wIRZ6SHbeUwMuJu5161dBCPmHmcpXX9QTbYH",
    "XfUU7Gl9ssAXGC7zm/PFLsh0WA4rDB7UQB/sU9qAeDYbT6O71YxQFbEOOglI5Xp+yZK9dnOeVkEMOQozy0qQNClD",
    "Mam2HIH6EBwXhYpaM1TgbZUN7lA5ZSfcRUTOr2xnU1mXdpRj6FZ429Yz/aDgFNJzH5Niy8XHH0W4ou2LaAWkLt39",
    "DZ2w2BAGFcMK3HjbcJJDcDFXeo44VqIG3MTgzvepAgMBAAECggEADjLYNmOwRFImJ6m5FllWkFI7I2ig1TaTR1nh",
    "lOUoT6gTJ5IMgteC+dYGpwKfxNrJSYZjraWkU7yIbAbt53gqye9P6puDVIAKSoWXFZCHTPe086MZ7setZ/Ov9Byg",
    "KCQTRbw0lXDZ0h8Wjy04AzASU2hxrsjdBkb4QgaufVYsjN0ObuKhp6C2VcsF8pI27oml3S12I0FlS7+TlBLy/SDm",
    "+s9Pvu5tm3Y+RoV0ntHmSyWv31fBGep+kYgu3FJG5iPN8Rvd/tvxVyZkAaYq7PE6eYk3gedhbplA7DFDe3V5I8eW",
    "pfVzJeHU9Td6nGeiysVw2AHIFntymv/t1hdkLWEFSQKBgQDwrO4CcYFsL+Ujcn8UChPVxIba7lynBOU1W8+GMy+i",
    "v/z3ec75tNLp7mmpPh0tqd2qhFEH45jgpr5ZJ3Z9bzyfThdICgz6PTw7y2P+vS0b+mwVMEI1iUTovRHZPSTVmGtc",
    "rnwU9PnxapSDrOBwNmIoWrbOXXa/uyxjrm2UwsEUuwKBgQDs52ESXtzxA/4mkSa01vTymOaR50WrXDLoWZsDOZu9",
    "zHiNlEfctjx6DHMQBzjEAjxmPyD+NvDj0naZBp3WT8oCKmEw+oTz4PSUZsBSqHi4oWfRVoL8kvsczVrvAdt5/MS0",
    "UGaTMPZVE5LnoX4a4RcD++z5FINu/2Y9fIKoCxvQ6wKBgQCKqEZzV+tlZe6QTn2SEQA+bvv2k88DVlmrNRrJSSIP",
    "lKZr+VxaFmhQ588t9yAeV7fiblq0vdYsz0Po30hvma+GZBoboda6MJ9MH7CbaWfcr5inWGc8qrntkEgBLS3UdPyd",
    "p9TKyhxZjrrDZczkOSCx+RlKqSQp7+7x+uMdClrs0wKBgETJRhlEbBibFS9zk+6MP6E1HjWdFlCUO7/VTLoZ/wuU",
    "FCjftiHy1AqIFNzBjAz1rT3u9JB7uWQdFwyFrEyu7DPGxGOpSfNaDQoN76fQfQT28KMK4IufzcPmKJIfUu/PofnN",
    "Iot4ev3m6g/Rh0EcvEcO3hbQiv0usSwHPBS47QGzAoGBAK5jvWSWHpCb/NF3kZP26Y9Ht/hEtHVzGIsjgp/Imgqc",
    "8XdQRyC/Q74p/hPro1CUpfE629YcYWRXCcazNbSp20RkndwlHI85iUddIf4u875hfQAVmcGzkqdDpmUh2ilhMNkY",
    "60RhN4tBJXQzySjr7LQvpZ/CwI7iWk18wTteR0wK",
];
const TEST_CERT: &[&str] = &[
    "MIICrTCCAZWgAwIBAgIBATANBgkqhkiG9w0BAQsFADAaMRgwFgYDVQQDDA9uZXBob3MgdGVzdCBpZHAwHhcNMjYw",
    "MTAxMDAwMDAwWhcNMzUxMjMwMDAwMDAwWjAaMRgwFgYDVQQDDA9uZXBob3MgdGVzdCBpZHAwggEiMA0GCSqGSIb3",
    "DQEBAQUAA4IBDwAwggEKAoIBAQDeuPK30F6bSshaL9bUJ4QVne32rBIBMG+isMT65fiyc5x4aiFjJEM895L/OGtR",
    "pm1UqPFrTynfdI01RJ82akOHivV0wIRZ6SHbeUwMuJu5161dBCPmHmcpXX9QTbYHXfUU7Gl9ssAXGC7zm/PFLsh0",
    "WA4rDB7UQB/sU9qAeDYbT6O71YxQFbEOOglI5Xp+yZK9dnOeVkEMOQozy0qQNClDMam2HIH6EBwXhYpaM1TgbZUN",
    "7lA5ZSfcRUTOr2xnU1mXdpRj6FZ429Yz/aDgFNJzH5Niy8XHH0W4ou2LaAWkLt39DZ2w2BAGFcMK3HjbcJJDcDFX",
    "eo44VqIG3MTgzvepAgMBAAEwDQYJKoZIhvcNAQELBQADggEBAGZlDaM0lk1geFQMrxzHwbTs15VJbm/MCe/7/pb4",
    "73YoQKYJhnIadDNBaDw3YAk/jkySn1DmSQweUuuCPhwedFQ658SfIaQtSjzexH/T8HxKxORPQC2tFgGv4QtQmWKu",
    "trTnulzMa1P2PGlAKjma9A6EfYjX4cQI0vZuB0ZiIqThJ4qE95DaYF5HNtjyCwyKUWMf8tB7pBSqQOqUMGLj01Td",
    "sFLHsuEbksTW1bwfnVZAQ5LuWeP4BJzbEdncY2s4xWSxKDiYU30BDrVQ7XLPgZnF3lbIbwVGEKzId4p9NOR11zfR",
    "E+dGd52LCjj9hjc66zWJdQqgTQl93Dfn+Dd0Pqk=",
];

const ROLE: &str = "arn:aws:iam::111111111111:role/r";
const PROVIDER: &str = "arn:aws:iam::111111111111:saml-provider/idp";
const DS: &str = "http://www.w3.org/2000/09/xmldsig#";

fn der(parts: &[&str]) -> Vec<u8> {
    STANDARD.decode(parts.concat()).unwrap()
}

fn metadata() -> String {
    format!(
        r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.example.test/"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="{DS}"><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor></md:IDPSSODescriptor></md:EntityDescriptor>"#,
        TEST_CERT.concat()
    )
}

/// The assertion in canonical form (as the apex of exclusive canonicalization).
fn canonical_assertion(session: &str) -> String {
    format!(
        r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a1" IssueInstant="2026-01-01T00:00:00Z" Version="2.0"><saml:Issuer>https://idp.example.test/</saml:Issuer><saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">alice</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="2099-01-01T00:00:00Z" Recipient="https://signin.aws.amazon.com/saml"></saml:SubjectConfirmationData></saml:SubjectConfirmation></saml:Subject><saml:Conditions NotBefore="2020-01-01T00:00:00Z" NotOnOrAfter="2099-01-01T00:00:00Z"><saml:AudienceRestriction><saml:Audience>https://signin.aws.amazon.com/saml</saml:Audience></saml:AudienceRestriction></saml:Conditions><saml:AttributeStatement><saml:Attribute Name="https://aws.amazon.com/SAML/Attributes/Role"><saml:AttributeValue>{PROVIDER},{ROLE}</saml:AttributeValue></saml:Attribute><saml:Attribute Name="https://aws.amazon.com/SAML/Attributes/RoleSessionName"><saml:AttributeValue>{session}</saml:AttributeValue></saml:Attribute></saml:AttributeStatement></saml:Assertion>"#
    )
}

/// The `ds:Signature` of `canonical` (an element with `ID="_a1"`), as an identity
/// provider makes it.
fn signature(canonical: &str) -> String {
    let digest = STANDARD.encode(ring::digest::digest(
        &ring::digest::SHA256,
        canonical.as_bytes(),
    ));
    let signed_info = format!(
        r##"<ds:SignedInfo xmlns:ds="{DS}"><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"></ds:CanonicalizationMethod><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"></ds:SignatureMethod><ds:Reference URI="#_a1"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"></ds:Transform><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"></ds:Transform></ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"></ds:DigestMethod><ds:DigestValue>{digest}</ds:DigestValue></ds:Reference></ds:SignedInfo>"##
    );
    let key = RsaKeyPair::from_pkcs8(&der(TEST_KEY)).unwrap();
    let mut sig = vec![0; key.public().modulus_len()];
    key.sign(
        &RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        signed_info.as_bytes(),
        &mut sig,
    )
    .unwrap();
    // Inside the signature the namespace is declared once, on ds:Signature, and the
    // signed info is written with different (insignificant) white space in its tags.
    format!(
        r#"<ds:Signature xmlns:ds="{DS}">{}<ds:SignatureValue>{}</ds:SignatureValue></ds:Signature>"#,
        signed_info
            .replacen(&format!(r#" xmlns:ds="{DS}""#), "", 1)
            .replace("></ds:Transform>", " />"),
        STANDARD.encode(sig)
    )
}

/// A response holding `assertion`, written as a different but equivalent document.
fn response(assertion: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" ID=\"_r1\" Version=\"2.0\"><samlp:Status><samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:Success\"/></samlp:Status>{assertion}</samlp:Response>"
    )
}

/// `canonical` with its signature after the issuer, presented differently.
fn presented(canonical: &str, signature: &str) -> String {
    canonical
        .replacen("</saml:Issuer>", &format!("</saml:Issuer>{signature}"), 1)
        .replacen(
            r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a1" IssueInstant="2026-01-01T00:00:00Z" Version="2.0">"#,
            "<saml:Assertion Version='2.0' ID=\"_a1\"\n   IssueInstant=\"2026-01-01T00:00:00Z\" xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\">",
            1,
        )
        .replace("></saml:SubjectConfirmationData>", " />")
        .replacen("</saml:Subject>", "</saml:Subject><!-- signed by the test -->", 1)
}

fn check(doc: &str) -> Result<Assertion, AwsError> {
    let keys = provider_keys(&metadata());
    let root = xml::parse(doc).map_err(invalid)?;
    let (a, scope) = signed_assertion(&root, &keys)?;
    read_assertion(a, &scope)
}

#[test]
fn a_signed_assertion_verifies_in_any_equivalent_form() {
    assert_eq!(provider_keys(&metadata()).len(), 1);
    let canonical = canonical_assertion("alice");
    let doc = response(&presented(&canonical, &signature(&canonical)));
    let a = check(&doc).unwrap();
    assert_eq!(a.issuer, "https://idp.example.test/");
    assert_eq!(a.subject, "alice");
    assert_eq!(a.values(&format!("{ATTRIBUTES}RoleSessionName")), ["alice"]);
    assert_eq!(
        a.values(&format!("{ATTRIBUTES}Role")),
        [format!("{PROVIDER},{ROLE}")]
    );
    assert_eq!(a.audiences, ["https://signin.aws.amazon.com/saml"]);
    assert_eq!(a.not_on_or_after.len(), 2);
    // A bare assertion verifies too.
    assert!(check(&presented(&canonical, &signature(&canonical))).is_ok());
}

#[test]
fn altered_unsigned_or_wrapped_assertions_are_refused() {
    let canonical = canonical_assertion("alice");
    let sig = signature(&canonical);
    let signed = presented(&canonical, &sig);
    let refused = |doc: &str| check(doc).map(|_| ()).unwrap_err().message;
    // Another session name after signing.
    let altered = signed.replace(
        ">alice</saml:AttributeValue>",
        ">admin</saml:AttributeValue>",
    );
    assert_eq!(refused(&response(&altered)), "Response signature invalid");
    // A comment is not signed content, but text is: one more space breaks the digest.
    let spaced = signed.replacen("<saml:Subject>", "<saml:Subject> ", 1);
    assert_eq!(refused(&response(&spaced)), "Response signature invalid");
    // No signature at all.
    assert_eq!(
        refused(&response(&presented(&canonical, ""))),
        "Response signature invalid"
    );
    // A signature value from another signing.
    let other = canonical_assertion("bob");
    let other_sig = signature(&other);
    let value = |s: &str| s.split("<ds:SignatureValue>").nth(1).unwrap().to_owned();
    let swapped = signed.replace(&value(&sig), &value(&other_sig));
    assert_eq!(refused(&response(&swapped)), "Response signature invalid");
    // A signed assertion beside a forged one, or tucked away where it is not read.
    let forged = presented(&canonical_assertion("admin"), "").replace("_a1", "_f1");
    assert!(refused(&response(&format!("{forged}{signed}"))).contains("exactly one assertion"));
    let wrapped = response(&format!(
        "<samlp:Extensions>{signed}</samlp:Extensions>{forged}"
    ));
    assert_eq!(refused(&wrapped), "Response signature invalid");
    // A reference to another element than the one holding the signature.
    let elsewhere = signed.replace("URI=\"#_a1\"", "URI=\"#_r1\"");
    assert_eq!(refused(&response(&elsewhere)), "Response signature invalid");
    // Not a SAML document, or not read as XML.
    assert!(refused("<x/>").contains("not a SAML response"));
    assert!(check("<<<").is_err());
}

#[test]
fn session_names_from_assertions() {
    assert!(valid_session_name("alice@example.com"));
    assert!(!valid_session_name("a"));
    assert!(!valid_session_name("has space"));
    assert!(!valid_session_name(&"x".repeat(65)));
}
