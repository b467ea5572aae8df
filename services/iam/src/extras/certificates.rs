//! Server certificates (Upload/Get/List/Update/DeleteServerCertificate and tags) and
//! users' signing certificates (Upload/List/Update/DeleteSigningCertificate). Bodies
//! and chains must be PEM X.509 certificates, private keys PEM private keys; a server
//! certificate's Expiration is its certificate's notAfter.

use super::{
    Ctx, Tags, already_exists, check_path, handlers, limit_exceeded, no_such_entity, page,
    path_name, ts,
};
use base64::Engine;
use nephos_core::{AwsError, Value};
use serde::{Deserialize, Serialize};
use x509_cert::der::Decode;

pub const SERVER_KIND: &str = "server-cert";
pub const SIGNING_KIND: &str = "signing-cert";

pub(super) const HANDLERS: &[(&str, super::Handler)] = handlers! {
    "UploadServerCertificate" => upload_server,
    "GetServerCertificate" => get_server,
    "ListServerCertificates" => list_server,
    "UpdateServerCertificate" => update_server,
    "DeleteServerCertificate" => delete_server,
    "TagServerCertificate" => tag_server,
    "UntagServerCertificate" => untag_server,
    "ListServerCertificateTags" => list_server_tags,
    "UploadSigningCertificate" => upload_signing,
    "ListSigningCertificates" => list_signing,
    "UpdateSigningCertificate" => update_signing,
    "DeleteSigningCertificate" => delete_signing,
};

/// AWS's quotas (GetAccountSummary reports them too).
pub const SERVER_CERTS_QUOTA: i64 = 20;
pub const SIGNING_CERTS_PER_USER: i64 = 2;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServerCert {
    pub name: String,
    pub path: String,
    pub id: String,
    pub body: String,
    pub chain: Option<String>,
    pub uploaded: i64,
    pub expiration: i64,
    #[serde(default)]
    pub tags: Tags,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SigningCert {
    pub id: String,
    pub user: String,
    pub body: String,
    pub active: bool,
    pub uploaded: i64,
}

/// The blocks of a PEM text: (label, DER bytes). Text outside blocks is ignored, as
/// PEM readers do; a block whose base64 does not decode ends the list.
pub fn pem_blocks(text: &str) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let after = &rest[start + 11..];
        let Some(label_end) = after.find("-----") else {
            break;
        };
        let label = after[..label_end].to_owned();
        let body = &after[label_end + 5..];
        let end_marker = format!("-----END {label}-----");
        let Some(end) = body.find(&end_marker) else {
            break;
        };
        let b64: String = body[..end].chars().filter(|c| !c.is_whitespace()).collect();
        let Ok(der) = base64::engine::general_purpose::STANDARD.decode(b64) else {
            break;
        };
        out.push((label, der));
        rest = &body[end + end_marker.len()..];
    }
    out
}

fn malformed(message: &str) -> AwsError {
    AwsError::new(400, "MalformedCertificate", message)
}

/// The certificates of a PEM text, each parsed as X.509; `None` when any block is not
/// a certificate.
fn parse_certs(text: &str) -> Option<Vec<x509_cert::Certificate>> {
    let blocks = pem_blocks(text);
    if blocks.is_empty() {
        return None;
    }
    blocks
        .iter()
        .map(|(label, der)| {
            (label == "CERTIFICATE")
                .then(|| x509_cert::Certificate::from_der(der).ok())
                .flatten()
        })
        .collect()
}

fn not_after(cert: &x509_cert::Certificate) -> i64 {
    cert.tbs_certificate()
        .validity()
        .not_after
        .to_unix_duration()
        .as_millis() as i64
}

fn server_arn(c: &Ctx<'_>, cert: &ServerCert) -> String {
    format!(
        "arn:aws:iam::{}:server-certificate{}",
        c.account_id(),
        path_name(&cert.path, &cert.name)
    )
}

fn server_metadata(c: &Ctx<'_>, cert: &ServerCert) -> Value {
    Value::map()
        .with("Path", cert.path.as_str())
        .with("ServerCertificateName", cert.name.as_str())
        .with("ServerCertificateId", cert.id.as_str())
        .with("Arn", server_arn(c, cert))
        .with("UploadDate", ts(cert.uploaded))
        .with("Expiration", ts(cert.expiration))
}

fn server_not_found(name: &str) -> AwsError {
    no_such_entity(format!(
        "The Server Certificate with name {name} cannot be found."
    ))
}

async fn upload_server(c: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    let name = i.str("ServerCertificateName").unwrap_or_default();
    let path = i.str("Path").unwrap_or("/");
    check_path(path)?;
    let body = i.str("CertificateBody").unwrap_or_default();
    let certs = parse_certs(body).filter(|c| c.len() == 1).ok_or_else(|| {
        malformed("Unable to parse certificate. Please ensure the certificate is in PEM format.")
    })?;
    let chain = i.str("CertificateChain");
    if let Some(chain) = chain
        && parse_certs(chain).is_none()
    {
        return Err(malformed(
            "Unable to parse certificate chain. Please ensure the certificate chain is in PEM format.",
        ));
    }
    let key = pem_blocks(i.str("PrivateKey").unwrap_or_default());
    if key.len() != 1 || !key[0].0.ends_with("PRIVATE KEY") {
        return Err(malformed(
            "Unable to parse private key. Please ensure the private key is in PEM format.",
        ));
    }
    let tags = Tags::from_input(i)?;
    let cert = ServerCert {
        name: name.to_owned(),
        path: path.to_owned(),
        id: super::unique_id("ASCA"),
        body: body.to_owned(),
        chain: chain.map(str::to_owned),
        uploaded: c.now(),
        expiration: not_after(&certs[0]),
        tags,
    };
    let key = name.to_lowercase();
    let change = c.put(SERVER_KIND, &key, &cert);
    let mut out = Value::map().with("ServerCertificateMetadata", server_metadata(c, &cert));
    if !cert.tags.is_empty() {
        out.insert("Tags", cert.tags.to_value());
    }
    {
        let mut s = c.account.extras.write().unwrap();
        if s.server_certs.contains_key(&key) {
            return Err(already_exists(format!(
                "The Server Certificate with name {name} already exists."
            )));
        }
        if s.server_certs.len() as i64 >= SERVER_CERTS_QUOTA {
            return Err(limit_exceeded(format!(
                "Cannot exceed quota for ServerCertificatesPerAccount: {SERVER_CERTS_QUOTA}"
            )));
        }
        s.server_certs.insert(key, cert);
    }
    c.commit(vec![change]).await?;
    Ok(out)
}

fn find_server(c: &Ctx<'_>, name: &str) -> Result<ServerCert, AwsError> {
    c.account
        .extras
        .read()
        .unwrap()
        .server_certs
        .get(&name.to_lowercase())
        .cloned()
        .ok_or_else(|| server_not_found(name))
}

async fn get_server(c: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    let cert = find_server(c, i.str("ServerCertificateName").unwrap_or_default())?;
    let mut v = Value::map()
        .with("ServerCertificateMetadata", server_metadata(c, &cert))
        .with("CertificateBody", cert.body.as_str());
    if let Some(chain) = &cert.chain {
        v.insert("CertificateChain", chain.as_str());
    }
    if !cert.tags.is_empty() {
        v.insert("Tags", cert.tags.to_value());
    }
    Ok(Value::map().with("ServerCertificate", v))
}

async fn list_server(c: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    let prefix = i.str("PathPrefix").unwrap_or("/");
    let certs: Vec<ServerCert> = c
        .account
        .extras
        .read()
        .unwrap()
        .server_certs
        .values()
        .filter(|cert| cert.path.starts_with(prefix))
        .cloned()
        .collect();
    let items = certs
        .iter()
        .map(|cert| (cert.name.to_lowercase(), server_metadata(c, cert)))
        .collect();
    page(items, i, "ServerCertificateMetadataList")
}

async fn update_server(c: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    let name = i.str("ServerCertificateName").unwrap_or_default();
    if let Some(p) = i.str("NewPath") {
        check_path(p)?;
    }
    let (change_old, change_new) = {
        let mut s = c.account.extras.write().unwrap();
        let old_key = name.to_lowercase();
        let mut cert = s
            .server_certs
            .get(&old_key)
            .cloned()
            .ok_or_else(|| server_not_found(name))?;
        if let Some(new) = i.str("NewServerCertificateName") {
            if new.to_lowercase() != old_key && s.server_certs.contains_key(&new.to_lowercase()) {
                return Err(already_exists(format!(
                    "The Server Certificate with name {new} already exists."
                )));
            }
            cert.name = new.to_owned();
        }
        if let Some(p) = i.str("NewPath") {
            cert.path = p.to_owned();
        }
        let new_key = cert.name.to_lowercase();
        s.server_certs.remove(&old_key);
        let change_new = c.put(SERVER_KIND, &new_key, &cert);
        s.server_certs.insert(new_key.clone(), cert);
        (
            (old_key != new_key).then(|| c.delete(SERVER_KIND, &old_key)),
            change_new,
        )
    };
    let mut changes: Vec<_> = change_old.into_iter().collect();
    changes.push(change_new);
    c.commit(changes).await?;
    Ok(Value::map())
}

async fn delete_server(c: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    let name = i.str("ServerCertificateName").unwrap_or_default();
    let key = name.to_lowercase();
    if c.account
        .extras
        .write()
        .unwrap()
        .server_certs
        .remove(&key)
        .is_none()
    {
        return Err(server_not_found(name));
    }
    c.commit(vec![c.delete(SERVER_KIND, &key)]).await?;
    Ok(Value::map())
}

async fn modify_server(
    c: &Ctx<'_>,
    i: &Value,
    f: impl FnOnce(&mut ServerCert) -> Result<(), AwsError>,
) -> Result<Value, AwsError> {
    let name = i.str("ServerCertificateName").unwrap_or_default();
    let key = name.to_lowercase();
    let change = {
        let mut s = c.account.extras.write().unwrap();
        let cert = s
            .server_certs
            .get_mut(&key)
            .ok_or_else(|| server_not_found(name))?;
        let mut next = cert.clone();
        f(&mut next)?;
        *cert = next;
        c.put(SERVER_KIND, &key, &*cert)
    };
    c.commit(vec![change]).await?;
    Ok(Value::map())
}

async fn tag_server(c: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    modify_server(c, i, |cert| cert.tags.merge(i)).await
}

async fn untag_server(c: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    modify_server(c, i, |cert| {
        cert.tags.remove(i);
        Ok(())
    })
    .await
}

async fn list_server_tags(c: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    find_server(c, i.str("ServerCertificateName").unwrap_or_default())?
        .tags
        .list_answer(i)
}

// Signing certificates.

fn signing_value(cert: &SigningCert) -> Value {
    Value::map()
        .with("UserName", cert.user.as_str())
        .with("CertificateId", cert.id.as_str())
        .with("CertificateBody", cert.body.as_str())
        .with("Status", if cert.active { "Active" } else { "Inactive" })
        .with("UploadDate", ts(cert.uploaded))
}

fn signing_not_found(id: &str) -> AwsError {
    no_such_entity(format!("The Certificate with id {id} cannot be found."))
}

async fn upload_signing(c: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    let user = c.require_user(&c.user_or_caller(i)?)?;
    let body = i.str("CertificateBody").unwrap_or_default();
    let certs = parse_certs(body).filter(|c| c.len() == 1).ok_or_else(|| {
        malformed("Unable to parse certificate. Please ensure the certificate is in PEM format.")
    })?;
    drop(certs);
    let der = pem_blocks(body).remove(0).1;
    let cert = SigningCert {
        id: nephos_core::random_alnum(32, b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"),
        user: user.clone(),
        body: body.to_owned(),
        active: true,
        uploaded: c.now(),
    };
    let change = c.put(SIGNING_KIND, &cert.id, &cert);
    let out = signing_value(&cert);
    {
        let mut s = c.extras_for_user(&user)?;
        if let Some(dup) = s
            .signing_certs
            .values()
            .find(|o| pem_blocks(&o.body).first().is_some_and(|b| b.1 == der))
        {
            return Err(AwsError::new(
                409,
                "DuplicateCertificate",
                format!("The Certificate with id {} already exists.", dup.id),
            ));
        }
        let mine = s.signing_certs.values().filter(|o| o.user == user).count() as i64;
        if mine >= SIGNING_CERTS_PER_USER {
            return Err(limit_exceeded(format!(
                "Cannot exceed quota for CertificatesPerUser: {SIGNING_CERTS_PER_USER}"
            )));
        }
        s.signing_certs.insert(cert.id.clone(), cert);
    }
    c.commit(vec![change]).await?;
    Ok(Value::map().with("Certificate", out))
}

async fn list_signing(c: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    let user = c.require_user(&c.user_or_caller(i)?)?;
    let items = c
        .account
        .extras
        .read()
        .unwrap()
        .signing_certs
        .values()
        .filter(|cert| cert.user == user)
        .map(|cert| (cert.id.clone(), signing_value(cert)))
        .collect();
    page(items, i, "Certificates")
}

/// The user's certificate `id`, for update and delete.
fn users_cert(c: &Ctx<'_>, i: &Value) -> Result<(String, String), AwsError> {
    let user = c.require_user(&c.user_or_caller(i)?)?;
    let id = i.str("CertificateId").unwrap_or_default().to_owned();
    let s = c.account.extras.read().unwrap();
    match s.signing_certs.get(&id) {
        Some(cert) if cert.user == user => Ok((user, id)),
        _ => Err(signing_not_found(&id)),
    }
}

async fn update_signing(c: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    let (user, id) = users_cert(c, i)?;
    let active = i.str("Status") == Some("Active");
    let change = {
        let mut s = c.extras_for_user(&user)?;
        let cert = s
            .signing_certs
            .get_mut(&id)
            .filter(|cert| cert.user == user)
            .ok_or_else(|| signing_not_found(&id))?;
        cert.active = active;
        c.put(SIGNING_KIND, &id, &*cert)
    };
    c.commit(vec![change]).await?;
    Ok(Value::map())
}

async fn delete_signing(c: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    let (user, id) = users_cert(c, i)?;
    if c.extras_for_user(&user)?
        .signing_certs
        .remove(&id)
        .is_none()
    {
        return Err(signing_not_found(&id));
    }
    c.commit(vec![c.delete(SIGNING_KIND, &id)]).await?;
    Ok(Value::map())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_blocks_are_read_with_their_labels() {
        let text = "junk\n-----BEGIN PRIVATE KEY-----\nAAEC\n-----END PRIVATE KEY-----\n";
        assert_eq!(
            pem_blocks(text),
            vec![("PRIVATE KEY".to_owned(), vec![0, 1, 2])]
        );
        assert!(pem_blocks("-----BEGIN X-----\n!!\n-----END X-----").is_empty());
        assert!(parse_certs(text).is_none());
    }
}
