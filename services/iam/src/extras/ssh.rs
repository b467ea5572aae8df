//! Users' SSH public keys (for CodeCommit): upload, get (SSH or PEM encoding), list,
//! update, delete. AWS takes RSA keys of at least 2048 bits, as `ssh-rsa` lines or PEM;
//! the fingerprint is the MD5 of the key's SSH wire blob, colon-separated, as
//! `ssh-keygen -l -E md5` prints it.

use super::{Ctx, handlers, limit_exceeded, no_such_entity, page, ts};
use base64::Engine;
use md5::{Digest, Md5};
use nephos_core::{AwsError, Value};
use serde::{Deserialize, Serialize};

pub const KIND: &str = "ssh-key";

pub(super) const HANDLERS: &[(&str, super::Handler)] = handlers! {
    "UploadSSHPublicKey" => upload,
    "GetSSHPublicKey" => get,
    "ListSSHPublicKeys" => list,
    "UpdateSSHPublicKey" => update,
    "DeleteSSHPublicKey" => delete,
};

/// AWS's quota of SSH keys per user.
const PER_USER: usize = 5;
const MIN_BITS: usize = 2048;
/// The DER of OID 1.2.840.113549.1.1.1 (rsaEncryption) with NULL parameters.
const RSA_ALGORITHM: &[u8] = &[
    0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
];

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SshKey {
    pub id: String,
    pub user: String,
    /// RSA modulus and exponent, big-endian without leading zeros.
    pub n: Vec<u8>,
    pub e: Vec<u8>,
    pub fingerprint: String,
    pub active: bool,
    pub uploaded: i64,
}

fn invalid_key(message: &str) -> AwsError {
    AwsError::new(400, "InvalidPublicKey", message)
}

fn unrecognized() -> AwsError {
    AwsError::new(
        400,
        "UnrecognizedPublicKeyEncoding",
        "The public key encoding format is unsupported or unrecognized.",
    )
}

fn not_found(id: &str) -> AwsError {
    no_such_entity(format!("The Public Key with id {id} cannot be found."))
}

fn strip_zeros(b: &[u8]) -> Vec<u8> {
    let start = b.iter().position(|x| *x != 0).unwrap_or(b.len());
    b[start..].to_vec()
}

// The SSH wire format (RFC 4253): length-prefixed strings and mpints.

fn ssh_string(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_be_bytes());
    out.extend_from_slice(b);
}

fn ssh_mpint(out: &mut Vec<u8>, b: &[u8]) {
    let b = strip_zeros(b);
    if b.first().is_some_and(|x| x & 0x80 != 0) {
        let mut padded = vec![0];
        padded.extend_from_slice(&b);
        ssh_string(out, &padded);
    } else {
        ssh_string(out, &b);
    }
}

fn ssh_blob(n: &[u8], e: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    ssh_string(&mut out, b"ssh-rsa");
    ssh_mpint(&mut out, e);
    ssh_mpint(&mut out, n);
    out
}

fn read_ssh_string<'a>(b: &mut &'a [u8]) -> Option<&'a [u8]> {
    let len = u32::from_be_bytes(b.get(..4)?.try_into().ok()?) as usize;
    let s = b.get(4..4 + len)?;
    *b = &b[4 + len..];
    Some(s)
}

// Minimal DER: enough to read and write an RSA SubjectPublicKeyInfo.

fn der_read<'a>(b: &mut &'a [u8], tag: u8) -> Option<&'a [u8]> {
    if *b.first()? != tag {
        return None;
    }
    let first = *b.get(1)?;
    let (len, head) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | usize::from(*b.get(2 + i)?);
        }
        (len, 2 + n)
    };
    let content = b.get(head..head + len)?;
    *b = &b[head + len..];
    Some(content)
}

fn der_write(out: &mut Vec<u8>, tag: u8, content: &[u8]) {
    out.push(tag);
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend_from_slice(&bytes);
    }
    out.extend_from_slice(content);
}

fn der_uint(out: &mut Vec<u8>, b: &[u8]) {
    let mut v = strip_zeros(b);
    if v.first().is_none_or(|x| x & 0x80 != 0) {
        v.insert(0, 0);
    }
    der_write(out, 0x02, &v);
}

/// (n, e) of a DER RSAPublicKey.
fn rsa_public_key(mut der: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut seq = der_read(&mut der, 0x30)?;
    let n = der_read(&mut seq, 0x02)?;
    let e = der_read(&mut seq, 0x02)?;
    Some((strip_zeros(n), strip_zeros(e)))
}

/// (n, e) of a DER SubjectPublicKeyInfo holding an RSA key.
fn rsa_spki(mut der: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut seq = der_read(&mut der, 0x30)?;
    let mut alg = der_read(&mut seq, 0x30)?;
    let oid = der_read(&mut alg, 0x06)?;
    if oid != &RSA_ALGORITHM[4..13] {
        return None;
    }
    let bits = der_read(&mut seq, 0x03)?;
    rsa_public_key(bits.get(1..)?)
}

fn spki_pem(n: &[u8], e: &[u8]) -> String {
    let mut rsa = Vec::new();
    der_uint(&mut rsa, n);
    der_uint(&mut rsa, e);
    let mut rsa_seq = Vec::new();
    der_write(&mut rsa_seq, 0x30, &rsa);
    let mut bits = vec![0];
    bits.extend_from_slice(&rsa_seq);
    let mut body = RSA_ALGORITHM.to_vec();
    der_write(&mut body, 0x03, &bits);
    let mut spki = Vec::new();
    der_write(&mut spki, 0x30, &body);
    let b64 = base64::engine::general_purpose::STANDARD.encode(spki);
    let mut out = String::from("-----BEGIN PUBLIC KEY-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END PUBLIC KEY-----\n");
    out
}

/// (n, e) of an uploaded key body: an `ssh-rsa` line or a PEM public key.
fn parse_body(body: &str) -> Result<(Vec<u8>, Vec<u8>), AwsError> {
    let body = body.trim();
    let (n, e) = if body.starts_with("-----BEGIN") {
        let blocks = super::certificates::pem_blocks(body);
        let [(label, der)] = blocks.as_slice() else {
            return Err(unrecognized());
        };
        match label.as_str() {
            "PUBLIC KEY" => rsa_spki(der),
            "RSA PUBLIC KEY" => rsa_public_key(der),
            _ => return Err(unrecognized()),
        }
        .ok_or_else(|| invalid_key("The public key is not valid."))?
    } else {
        let mut parts = body.split_whitespace();
        let (Some(kind), Some(b64)) = (parts.next(), parts.next()) else {
            return Err(unrecognized());
        };
        if kind != "ssh-rsa" {
            return Err(unrecognized());
        }
        let blob = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|_| invalid_key("The public key is not valid."))?;
        let mut b = blob.as_slice();
        let parsed = (|| {
            if read_ssh_string(&mut b)? != b"ssh-rsa" {
                return None;
            }
            let e = read_ssh_string(&mut b)?;
            let n = read_ssh_string(&mut b)?;
            Some((strip_zeros(n), strip_zeros(e)))
        })();
        parsed.ok_or_else(|| invalid_key("The public key is not valid."))?
    };
    let bits = n.len() * 8 - n.first().map_or(8, |b| b.leading_zeros() as usize);
    if bits < MIN_BITS {
        return Err(invalid_key(
            "The public key is too short. The minimum bit-length of the public key is 2048 bits.",
        ));
    }
    Ok((n, e))
}

fn fingerprint(n: &[u8], e: &[u8]) -> String {
    Md5::digest(ssh_blob(n, e))
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn metadata(k: &SshKey) -> Value {
    Value::map()
        .with("UserName", k.user.as_str())
        .with("SSHPublicKeyId", k.id.as_str())
        .with("Status", if k.active { "Active" } else { "Inactive" })
        .with("UploadDate", ts(k.uploaded))
}

fn full(k: &SshKey, pem: bool) -> Value {
    let body = if pem {
        spki_pem(&k.n, &k.e)
    } else {
        format!(
            "ssh-rsa {}",
            base64::engine::general_purpose::STANDARD.encode(ssh_blob(&k.n, &k.e))
        )
    };
    metadata(k)
        .with("Fingerprint", k.fingerprint.as_str())
        .with("SSHPublicKeyBody", body)
}

async fn upload(c: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    let user = c.require_user(i.str("UserName").unwrap_or_default())?;
    let (n, e) = parse_body(i.str("SSHPublicKeyBody").unwrap_or_default())?;
    let key = SshKey {
        id: super::unique_id("APKA"),
        user: user.clone(),
        fingerprint: fingerprint(&n, &e),
        n,
        e,
        active: true,
        uploaded: c.now(),
    };
    let change = c.put(KIND, &key.id, &key);
    let out = full(&key, false);
    {
        let mut s = c.extras_for_user(&user)?;
        let mine: Vec<&SshKey> = s.ssh_keys.values().filter(|k| k.user == user).collect();
        if mine.iter().any(|k| k.fingerprint == key.fingerprint) {
            return Err(AwsError::new(
                400,
                "DuplicateSSHPublicKey",
                "The public key was already uploaded.",
            ));
        }
        if mine.len() >= PER_USER {
            return Err(limit_exceeded(format!(
                "Cannot exceed quota for PublicKeysPerUser: {PER_USER}"
            )));
        }
        s.ssh_keys.insert(key.id.clone(), key);
    }
    c.commit(vec![change]).await?;
    Ok(Value::map().with("SSHPublicKey", out))
}

/// The user's key named by the input.
fn users_key(c: &Ctx<'_>, i: &Value) -> Result<SshKey, AwsError> {
    let user = c.require_user(i.str("UserName").unwrap_or_default())?;
    let id = i.str("SSHPublicKeyId").unwrap_or_default();
    c.account
        .extras
        .read()
        .unwrap()
        .ssh_keys
        .get(id)
        .filter(|k| k.user == user)
        .cloned()
        .ok_or_else(|| not_found(id))
}

async fn get(c: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    let key = users_key(c, i)?;
    Ok(Value::map().with("SSHPublicKey", full(&key, i.str("Encoding") == Some("PEM"))))
}

async fn list(c: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    // Callers that are not IAM users have no keys of their own to list.
    let user = match (i.str("UserName"), c.caller_user()) {
        (Some(u), _) => u.to_owned(),
        (None, Some(u)) => u,
        (None, None) => return page(Vec::new(), i, "SSHPublicKeys"),
    };
    let user = c.require_user(&user)?;
    let items = c
        .account
        .extras
        .read()
        .unwrap()
        .ssh_keys
        .values()
        .filter(|k| k.user == user)
        .map(|k| (k.id.clone(), metadata(k)))
        .collect();
    page(items, i, "SSHPublicKeys")
}

async fn update(c: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    let mut key = users_key(c, i)?;
    key.active = i.str("Status") == Some("Active");
    let change = c.put(KIND, &key.id, &key);
    {
        let mut s = c.extras_for_user(&key.user)?;
        // Unless deleted (or its user renamed) since it was read.
        match s.ssh_keys.get_mut(&key.id) {
            Some(k) if k.user == key.user => *k = key,
            _ => return Err(not_found(&key.id)),
        }
    }
    c.commit(vec![change]).await?;
    Ok(Value::map())
}

async fn delete(c: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    let key = users_key(c, i)?;
    if c.extras_for_user(&key.user)?
        .ssh_keys
        .remove(&key.id)
        .is_none()
    {
        return Err(not_found(&key.id));
    }
    c.commit(vec![c.delete(KIND, &key.id)]).await?;
    Ok(Value::map())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_and_pem_encodings_carry_the_same_key() {
        let n: Vec<u8> = std::iter::once(0xc5)
            .chain((0..255).map(|x| x as u8))
            .collect();
        let e = vec![1, 0, 1];
        let line = format!(
            "ssh-rsa {} me@host",
            base64::engine::general_purpose::STANDARD.encode(ssh_blob(&n, &e))
        );
        assert_eq!(parse_body(&line).unwrap(), (n.clone(), e.clone()));
        assert_eq!(
            parse_body(&spki_pem(&n, &e)).unwrap(),
            (n.clone(), e.clone())
        );
        assert_eq!(fingerprint(&n, &e).len(), 47);
        let short = format!(
            "ssh-rsa {}",
            base64::engine::general_purpose::STANDARD.encode(ssh_blob(&n[..64], &e))
        );
        assert_eq!(parse_body(&short).unwrap_err().code, "InvalidPublicKey");
        assert_eq!(
            parse_body("ssh-ed25519 AAAA").unwrap_err().code,
            "UnrecognizedPublicKeyEncoding"
        );
    }
}
