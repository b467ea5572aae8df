//! SAML identity providers: create, get, list, update, delete and tags. The metadata
//! document must be well-formed XML whose root is an `EntityDescriptor`; its
//! `validUntil` (else its signing certificates' earliest expiry) is the provider's
//! ValidUntil.

use super::{Ctx, Tags, handlers, invalid_input, limit_exceeded, ts};
use base64::Engine;
use nephos_core::{AwsError, Value};
use quick_xml::events::Event;
use serde::{Deserialize, Serialize};
use x509_cert::der::Decode;

pub const KIND: &str = "saml";

pub(super) const HANDLERS: &[(&str, super::Handler)] = handlers! {
    "CreateSAMLProvider" => create,
    "GetSAMLProvider" => get,
    "ListSAMLProviders" => list,
    "UpdateSAMLProvider" => update,
    "DeleteSAMLProvider" => delete,
    "TagSAMLProvider" => tag,
    "UntagSAMLProvider" => untag,
    "ListSAMLProviderTags" => list_tags,
};

/// AWS's quota of SAML providers per account.
const PER_ACCOUNT: usize = 100;
/// Private keys a provider holds for encrypted assertions.
const PRIVATE_KEYS: usize = 2;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SamlProvider {
    pub arn: String,
    pub name: String,
    pub metadata: String,
    pub created: i64,
    pub valid_until: Option<i64>,
    pub uuid: String,
    #[serde(default)]
    pub encryption_mode: Option<String>,
    /// (key id, added at), newest last; the key material is not kept.
    #[serde(default)]
    pub private_keys: Vec<(String, i64)>,
    #[serde(default)]
    pub tags: Tags,
}

fn not_found(arn: &str) -> AwsError {
    super::no_such_entity(format!("Manifest not found for arn {arn}"))
}

fn bad_metadata() -> AwsError {
    invalid_input("Could not parse metadata")
}

/// Checks the metadata and finds its ValidUntil (Unix milliseconds).
fn parse_metadata(doc: &str) -> Result<Option<i64>, AwsError> {
    let mut reader = quick_xml::Reader::from_str(doc);
    let (mut depth, mut roots, mut root_ok) = (0usize, 0usize, false);
    let mut valid_until = None;
    let mut in_cert = false;
    let mut cert_expiry: Option<i64> = None;
    loop {
        let event = reader.read_event().map_err(|_| bad_metadata())?;
        let opens = matches!(event, Event::Start(_));
        match event {
            Event::Start(e) | Event::Empty(e) if depth == 0 => {
                roots += 1;
                root_ok = e.local_name().as_ref() == b"EntityDescriptor";
                for a in e.attributes() {
                    let a = a.map_err(|_| bad_metadata())?;
                    if a.key.local_name().as_ref() == b"validUntil" {
                        let text = String::from_utf8_lossy(&a.value).into_owned();
                        valid_until = parse_time(&text);
                    }
                }
                // A start tag opens the root; an empty one is the whole document.
                if opens {
                    depth += 1;
                }
            }
            Event::Start(e) => {
                in_cert = e.local_name().as_ref() == b"X509Certificate";
                depth += 1;
            }
            Event::End(_) => {
                in_cert = false;
                depth = depth.checked_sub(1).ok_or_else(bad_metadata)?;
            }
            Event::Text(t) if in_cert => {
                let text: String = String::from_utf8_lossy(&t)
                    .chars()
                    .filter(|c| !c.is_whitespace())
                    .collect();
                if let Some(expiry) = cert_not_after(&text) {
                    cert_expiry = Some(cert_expiry.map_or(expiry, |e| e.min(expiry)));
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if depth != 0 || roots != 1 || !root_ok {
        return Err(bad_metadata());
    }
    Ok(valid_until.or(cert_expiry))
}

fn parse_time(text: &str) -> Option<i64> {
    let t =
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    Some((t.unix_timestamp_nanos() / 1_000_000) as i64)
}

/// The expiry of a base64 DER certificate, in Unix milliseconds.
fn cert_not_after(b64: &str) -> Option<i64> {
    let der = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    let cert = x509_cert::Certificate::from_der(&der).ok()?;
    let d = cert
        .tbs_certificate()
        .validity()
        .not_after
        .to_unix_duration();
    Some(d.as_millis() as i64)
}

fn new_key_id() -> String {
    nephos_core::random_alnum(26, b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
}

/// Checks an AddPrivateKey value: one PEM private key.
fn check_private_key(pem: &str) -> Result<(), AwsError> {
    let blocks = super::certificates::pem_blocks(pem);
    if blocks.len() == 1 && blocks[0].0.ends_with("PRIVATE KEY") {
        Ok(())
    } else {
        Err(invalid_input("The private key is not valid."))
    }
}

async fn create(c: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    let name = i.str("Name").unwrap_or_default();
    let doc = i.str("SAMLMetadataDocument").unwrap_or_default();
    let valid_until = parse_metadata(doc)?;
    let tags = Tags::from_input(i)?;
    let mut private_keys = Vec::new();
    if let Some(key) = i.str("AddPrivateKey") {
        check_private_key(key)?;
        private_keys.push((new_key_id(), c.now()));
    }
    let arn = format!("arn:aws:iam::{}:saml-provider/{name}", c.account_id());
    let provider = SamlProvider {
        arn: arn.clone(),
        name: name.to_owned(),
        metadata: doc.to_owned(),
        created: c.now(),
        valid_until,
        uuid: new_key_id(),
        encryption_mode: i.str("AssertionEncryptionMode").map(str::to_owned),
        private_keys,
        tags,
    };
    let change = c.put(KIND, &arn, &provider);
    let mut out = Value::map().with("SAMLProviderArn", arn.as_str());
    if !provider.tags.is_empty() {
        out.insert("Tags", provider.tags.to_value());
    }
    {
        let mut s = c.account.extras.write().unwrap();
        if s.saml.contains_key(&arn) {
            return Err(invalid_input(format!(
                "SAMLProvider {name} already exists."
            )));
        }
        if s.saml.len() >= PER_ACCOUNT {
            return Err(limit_exceeded(format!(
                "Cannot exceed quota for SAMLProvidersPerAccount: {PER_ACCOUNT}"
            )));
        }
        s.saml.insert(arn, provider);
    }
    c.commit(vec![change]).await?;
    Ok(out)
}

async fn get(c: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    let arn = i.str("SAMLProviderArn").unwrap_or_default();
    let s = c.account.extras.read().unwrap();
    let p = s.saml.get(arn).ok_or_else(|| not_found(arn))?;
    let mut out = Value::map()
        .with("SAMLProviderUUID", p.uuid.as_str())
        .with("SAMLMetadataDocument", p.metadata.as_str())
        .with("CreateDate", ts(p.created));
    if let Some(v) = p.valid_until {
        out.insert("ValidUntil", ts(v));
    }
    if let Some(m) = &p.encryption_mode {
        out.insert("AssertionEncryptionMode", m.as_str());
    }
    if !p.private_keys.is_empty() {
        let keys = p
            .private_keys
            .iter()
            .map(|(id, at)| {
                Value::map()
                    .with("KeyId", id.as_str())
                    .with("Timestamp", ts(*at))
            })
            .collect::<Vec<_>>();
        out.insert("PrivateKeyList", keys);
    }
    if !p.tags.is_empty() {
        out.insert("Tags", p.tags.to_value());
    }
    Ok(out)
}

async fn list(c: &Ctx<'_>, _i: &Value) -> Result<Value, AwsError> {
    let s = c.account.extras.read().unwrap();
    let list = s
        .saml
        .values()
        .map(|p| {
            let mut v = Value::map()
                .with("Arn", p.arn.as_str())
                .with("CreateDate", ts(p.created));
            if let Some(u) = p.valid_until {
                v.insert("ValidUntil", ts(u));
            }
            v
        })
        .collect::<Vec<_>>();
    Ok(Value::map().with("SAMLProviderList", list))
}

/// Runs `f` on the provider named by the input and stores the result.
async fn modify(
    c: &Ctx<'_>,
    i: &Value,
    f: impl FnOnce(&mut SamlProvider) -> Result<(), AwsError>,
) -> Result<String, AwsError> {
    let arn = i.str("SAMLProviderArn").unwrap_or_default();
    let change = {
        let mut s = c.account.extras.write().unwrap();
        let p = s.saml.get_mut(arn).ok_or_else(|| not_found(arn))?;
        let mut next = p.clone();
        f(&mut next)?;
        *p = next;
        c.put(KIND, arn, &*p)
    };
    c.commit(vec![change]).await?;
    Ok(arn.to_owned())
}

async fn update(c: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    let parsed = match i.str("SAMLMetadataDocument") {
        Some(doc) => Some((doc.to_owned(), parse_metadata(doc)?)),
        None => None,
    };
    if let Some(key) = i.str("AddPrivateKey") {
        check_private_key(key)?;
    }
    let now = c.now();
    let arn = modify(c, i, |p| {
        if let Some((doc, valid_until)) = parsed {
            p.metadata = doc;
            p.valid_until = valid_until;
        }
        if let Some(m) = i.str("AssertionEncryptionMode") {
            p.encryption_mode = Some(m.to_owned());
        }
        if let Some(id) = i.str("RemovePrivateKey") {
            let before = p.private_keys.len();
            p.private_keys.retain(|(k, _)| k != id);
            if p.private_keys.len() == before {
                return Err(invalid_input(format!(
                    "The private key with id {id} does not exist."
                )));
            }
        }
        if i.str("AddPrivateKey").is_some() {
            if p.private_keys.len() >= PRIVATE_KEYS {
                return Err(limit_exceeded(format!(
                    "Cannot exceed quota for PrivateKeysPerSAMLProvider: {PRIVATE_KEYS}"
                )));
            }
            p.private_keys.push((new_key_id(), now));
        }
        Ok(())
    })
    .await?;
    Ok(Value::map().with("SAMLProviderArn", arn))
}

async fn delete(c: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    let arn = i.str("SAMLProviderArn").unwrap_or_default();
    if c.account.extras.write().unwrap().saml.remove(arn).is_none() {
        return Err(not_found(arn));
    }
    c.commit(vec![c.delete(KIND, arn)]).await?;
    Ok(Value::map())
}

async fn tag(c: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    modify(c, i, |p| p.tags.merge(i)).await?;
    Ok(Value::map())
}

async fn untag(c: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    modify(c, i, |p| {
        p.tags.remove(i);
        Ok(())
    })
    .await?;
    Ok(Value::map())
}

async fn list_tags(c: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    let arn = i.str("SAMLProviderArn").unwrap_or_default();
    let s = c.account.extras.read().unwrap();
    let p = s.saml.get(arn).ok_or_else(|| not_found(arn))?;
    p.tags.list_answer(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_must_be_an_entity_descriptor() {
        let good = r#"<?xml version="1.0"?><md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="x" validUntil="2030-01-02T03:04:05Z"><md:IDPSSODescriptor/></md:EntityDescriptor>"#;
        assert_eq!(parse_metadata(good).unwrap(), Some(1_893_553_445_000));
        assert!(parse_metadata("<Other/>").is_err());
        assert!(parse_metadata("<EntityDescriptor><a></EntityDescriptor>").is_err());
        assert!(parse_metadata("not xml").is_err());
    }
}
