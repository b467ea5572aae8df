//! Who signed a request, and whether the signature holds.

use http::request::Parts;

/// What the signature scope says: the caller's key, region and service.
#[derive(Debug, Default, Clone)]
pub struct Scope {
    pub access_key_id: Option<String>,
    pub region: Option<String>,
    pub service: Option<String>,
}

/// Reads the credential scope from the `Authorization` header or presigned query.
pub fn scope(parts: &Parts) -> Scope {
    let from_credential = |cred: &str| {
        let mut it = cred.split('/');
        let key = it.next().filter(|k| !k.is_empty()).map(str::to_owned);
        let _date = it.next();
        let region = it.next().map(str::to_owned);
        let service = it.next().map(str::to_owned);
        Scope {
            access_key_id: key,
            region,
            service,
        }
    };
    if let Some(auth) = parts
        .headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        if let Some(rest) = auth.strip_prefix("AWS4-HMAC-SHA256") {
            if let Some(cred) = rest
                .split(',')
                .find_map(|p| p.trim().strip_prefix("Credential="))
            {
                return from_credential(cred);
            }
        } else if let Some(rest) = auth.strip_prefix("AWS ") {
            let key = rest.split(':').next().unwrap_or_default();
            return Scope {
                access_key_id: Some(key.to_owned()),
                ..Scope::default()
            };
        }
    }
    if let Some(q) = parts.uri.query()
        && q.contains("X-Amz-Credential=")
    {
        for (k, v) in form_urlencoded::parse(q.as_bytes()) {
            if k == "X-Amz-Credential" {
                return from_credential(&v);
            }
        }
    }
    Scope::default()
}
