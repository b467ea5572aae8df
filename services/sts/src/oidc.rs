//! Where the keys of web identity tokens come from. nephos fetches nothing from the
//! internet, so every issuer's keys are local:
//!
//! - nephos is an OpenID Connect issuer itself, with a P-256 key made once per data
//!   directory. It signs (ES256) tokens for any issuer URL that has no registered keys:
//!   its own, `https://oidc.nephos.local`, by default, or the URL of the provider a
//!   test or a local CI job stands in for (`https://token.actions.githubusercontent.com`).
//! - Keys of any other issuer can be registered (a JWKS), for tokens signed elsewhere
//!   (by a test's own key, or an identity provider run locally). An issuer with
//!   registered keys is verified against those alone, and nephos no longer signs for it.
//!
//! Internal endpoints (`/_nephos/sts/...`):
//!
//! | endpoint | what |
//! |---|---|
//! | `GET oidc/.well-known/openid-configuration` | the discovery document of nephos's issuer |
//! | `GET oidc/jwks.json` | its public keys |
//! | `POST oidc/token` | a token of the claims in the body (a JSON object). `iss` defaults to nephos's issuer, `iat` to now and `exp` to an hour later on nephos's clock; answers `{"token", "issuer", "expires_at"}` |
//! | `GET oidc/issuers` | issuers with registered keys |
//! | `POST oidc/issuers` | registers `{"issuer": url, "jwks": {"keys": [...]}}` (replacing earlier keys) |
//! | `DELETE oidc/issuers` | forgets `{"issuer": url}`'s keys |
//!
//! Tokens are verified whatever the issuer: a token is only accepted when the account
//! has an IAM OpenID Connect provider for its issuer, exactly as on AWS.

use crate::StsProvider;
use crate::secrets::block_on;
use nephos_storage::{Mutation, Storage};
use serde_json::{Value as Json, json};
use std::collections::BTreeMap;
use std::sync::RwLock;

const TABLE: &str = "sts.issuers";
/// nephos's own issuer.
pub(crate) const NEPHOS_ISSUER: &str = "https://oidc.nephos.local";

/// An issuer URL as compared: a trailing slash does not make another issuer.
fn normal(issuer: &str) -> &str {
    issuer.strip_suffix('/').unwrap_or(issuer)
}

/// Keys registered per issuer.
pub(crate) struct Issuers {
    map: RwLock<BTreeMap<String, Vec<Json>>>,
    storage: Storage,
}

impl Issuers {
    pub(crate) fn open(storage: Storage) -> Result<Issuers, String> {
        let mut map = BTreeMap::new();
        for (key, value) in storage.load(TABLE).map_err(|e| e.to_string())? {
            let keys: Vec<Json> = serde_json::from_slice(&value).map_err(|e| e.to_string())?;
            map.insert(String::from_utf8_lossy(&key).into_owned(), keys);
        }
        Ok(Issuers {
            map: RwLock::new(map),
            storage,
        })
    }

    pub(crate) fn clear(&self) {
        self.map.write().unwrap().clear();
    }

    /// The registered keys of `issuer`, if any.
    pub(crate) fn keys(&self, issuer: &str) -> Option<Vec<Json>> {
        self.map.read().unwrap().get(normal(issuer)).cloned()
    }

    fn register(&self, issuer: &str, keys: Vec<Json>) -> Result<(), String> {
        let record = serde_json::to_vec(&keys).map_err(|e| e.to_string())?;
        block_on(self.storage.commit(vec![Mutation::put(
            TABLE,
            normal(issuer).as_bytes(),
            record,
        )]))
        .map_err(|e| e.to_string())?;
        self.map
            .write()
            .unwrap()
            .insert(normal(issuer).to_owned(), keys);
        Ok(())
    }

    fn remove(&self, issuer: &str) -> Result<bool, String> {
        block_on(
            self.storage
                .commit(vec![Mutation::delete(TABLE, normal(issuer).as_bytes())]),
        )
        .map_err(|e| e.to_string())?;
        Ok(self.map.write().unwrap().remove(normal(issuer)).is_some())
    }
}

impl StsProvider {
    /// The id of nephos's signing key: derived from the key, so it changes with it.
    fn kid(&self) -> String {
        let digest = <sha2::Sha256 as sha2::Digest>::digest(self.secrets.signing_public_point());
        digest[..8].iter().map(|b| format!("{b:02x}")).collect()
    }

    fn own_jwk(&self) -> Json {
        crate::jwt::p256_jwk(self.secrets.signing_public_point(), &self.kid())
    }

    /// The keys tokens of `issuer` are verified with.
    pub(crate) fn issuer_keys(&self, issuer: &str) -> Vec<Json> {
        self.issuers
            .keys(issuer)
            .unwrap_or_else(|| vec![self.own_jwk()])
    }

    fn mint(&self, body: &[u8]) -> Result<Json, (u16, String)> {
        let mut claims = if body.iter().all(u8::is_ascii_whitespace) {
            json!({})
        } else {
            serde_json::from_slice::<Json>(body)
                .ok()
                .filter(Json::is_object)
                .ok_or((400, "the body must be a JSON object of claims".to_owned()))?
        };
        let now = self.clock.now_millis() / 1000;
        let obj = claims.as_object_mut().expect("checked");
        let issuer = obj
            .entry("iss")
            .or_insert_with(|| json!(NEPHOS_ISSUER))
            .as_str()
            .ok_or((400, "iss must be a string".to_owned()))?
            .to_owned();
        if self.issuers.keys(&issuer).is_some() {
            return Err((
                409,
                format!(
                    "keys are registered for {issuer}: its tokens must be signed with them, and nephos does not hold their private key"
                ),
            ));
        }
        obj.entry("iat").or_insert_with(|| json!(now));
        let exp = obj
            .entry("exp")
            .or_insert_with(|| json!(now + 3600))
            .as_i64()
            .ok_or((400, "exp must be a number of seconds".to_owned()))?;
        obj.entry("jti")
            .or_insert_with(|| json!(nephos_core::request_id()));
        let key = self.secrets.signing_key().map_err(|e| (500, e))?;
        let token = crate::jwt::sign_es256(key, &self.secrets.rng, &self.kid(), &claims)
            .map_err(|e| (500, e))?;
        Ok(json!({"token": token, "issuer": issuer, "expires_at": exp}))
    }

    fn register_issuer(&self, body: &[u8]) -> Result<Json, (u16, String)> {
        let bad = |m: &str| (400, m.to_owned());
        let req: Json = serde_json::from_slice(body).map_err(|_| bad("the body must be JSON"))?;
        let issuer = req
            .get("issuer")
            .and_then(Json::as_str)
            .filter(|i| i.starts_with("https://") || i.starts_with("http://"))
            .ok_or_else(|| bad("issuer must be the issuer's URL"))?;
        let keys = req
            .get("jwks")
            .and_then(|j| j.get("keys"))
            .and_then(Json::as_array)
            .filter(|k| !k.is_empty())
            .ok_or_else(|| bad("jwks must be a JWK set: {\"keys\": [...]}"))?;
        if let Some(k) = keys.iter().find(|k| {
            !matches!(
                k.get("kty").and_then(Json::as_str),
                Some("RSA") | Some("EC")
            )
        }) {
            return Err(bad(&format!(
                "only RSA and EC keys can verify tokens, not {k}"
            )));
        }
        self.issuers
            .register(issuer, keys.clone())
            .map_err(|e| (500, e))?;
        Ok(json!({"issuer": normal(issuer), "keys": keys.len()}))
    }
}

fn answer(status: u16, body: &Json) -> Option<(u16, String, Vec<u8>)> {
    Some((
        status,
        "application/json".into(),
        body.to_string().into_bytes(),
    ))
}

fn answer_result(r: Result<Json, (u16, String)>) -> Option<(u16, String, Vec<u8>)> {
    match r {
        Ok(v) => answer(200, &v),
        Err((status, message)) => answer(status, &json!({"error": message})),
    }
}

/// Serves STS's internal endpoints (see the module documentation).
pub(crate) fn internal(
    p: &StsProvider,
    method: &str,
    path: &str,
    body: &[u8],
) -> Option<(u16, String, Vec<u8>)> {
    match (method, path) {
        ("GET", "oidc/.well-known/openid-configuration") => answer(
            200,
            &json!({
                "issuer": NEPHOS_ISSUER,
                "jwks_uri": "/_nephos/sts/oidc/jwks.json",
                "token_endpoint": "/_nephos/sts/oidc/token",
                "response_types_supported": ["id_token"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["ES256"],
                "claims_supported": ["aud", "exp", "iat", "iss", "sub", "nbf", "jti"],
            }),
        ),
        ("GET", "oidc/jwks.json") => answer(200, &json!({"keys": [p.own_jwk()]})),
        ("POST", "oidc/token") => answer_result(p.mint(body)),
        ("GET", "oidc/issuers") => {
            let list: Vec<Json> = p
                .issuers
                .map
                .read()
                .unwrap()
                .iter()
                .map(|(i, k)| json!({"issuer": i, "keys": k.len()}))
                .collect();
            answer(200, &json!({"issuers": list}))
        }
        ("POST" | "PUT", "oidc/issuers") => answer_result(p.register_issuer(body)),
        ("DELETE", "oidc/issuers") => {
            let issuer = serde_json::from_slice::<Json>(body)
                .ok()
                .and_then(|j| j.get("issuer").and_then(Json::as_str).map(str::to_owned));
            answer_result(match issuer {
                None => Err((400, "the body must be {\"issuer\": url}".to_owned())),
                Some(i) => match p.issuers.remove(&i) {
                    Ok(true) => Ok(json!({"issuer": normal(&i), "removed": true})),
                    Ok(false) => Err((404, format!("no keys are registered for {i}"))),
                    Err(e) => Err((500, e)),
                },
            })
        }
        _ => None,
    }
}
