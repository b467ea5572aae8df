//! OpenID Connect identity providers: create, get, list, delete, thumbprints, client ids
//! and tags. A provider's ARN is `arn:aws:iam::<account>:oidc-provider/<host/path>`.
//!
//! Without a ThumbprintList AWS fetches the IdP's certificate thumbprint itself; nephos
//! reaches no IdP, so such a provider keeps an empty list.

use super::{Ctx, Tags, already_exists, handlers, invalid_input, limit_exceeded, str_list, ts};
use nephos_core::{AwsError, Value};
use serde::{Deserialize, Serialize};

pub const KIND: &str = "oidc";

pub(super) const HANDLERS: &[(&str, super::Handler)] = handlers! {
    "CreateOpenIDConnectProvider" => create,
    "GetOpenIDConnectProvider" => get,
    "ListOpenIDConnectProviders" => list,
    "DeleteOpenIDConnectProvider" => delete,
    "UpdateOpenIDConnectProviderThumbprint" => update_thumbprint,
    "AddClientIDToOpenIDConnectProvider" => add_client_id,
    "RemoveClientIDFromOpenIDConnectProvider" => remove_client_id,
    "TagOpenIDConnectProvider" => tag,
    "UntagOpenIDConnectProvider" => untag,
    "ListOpenIDConnectProviderTags" => list_tags,
};

/// AWS's quotas: providers per account, client ids per provider, thumbprints.
const PER_ACCOUNT: usize = 100;
const CLIENT_IDS: usize = 100;
const THUMBPRINTS: usize = 5;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OidcProvider {
    pub arn: String,
    /// The URL without its scheme, as GetOpenIDConnectProvider answers it.
    pub url: String,
    pub client_ids: Vec<String>,
    pub thumbprints: Vec<String>,
    pub created: i64,
    #[serde(default)]
    pub tags: Tags,
}

fn not_found(arn: &str) -> AwsError {
    super::no_such_entity(format!("OpenIDConnect Provider not found for arn {arn}"))
}

/// `https://host/path` without scheme and trailing slash; AWS accepts only https URLs
/// with a host and no query or fragment.
fn provider_id(url: &str) -> Option<String> {
    let rest = url.strip_prefix("https://")?;
    let rest = rest.trim_end_matches('/');
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() || rest.contains(['?', '#', ' ']) {
        return None;
    }
    Some(rest.to_owned())
}

fn check_thumbprints(list: &[String]) -> Result<(), AwsError> {
    if list.len() > THUMBPRINTS {
        return Err(invalid_input(
            "Thumbprint list must contain fewer than 5 entries.",
        ));
    }
    Ok(())
}

async fn create(c: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    let url = i.str("Url").unwrap_or_default();
    let id = provider_id(url)
        .ok_or_else(|| super::validation("Invalid Open ID Connect Provider URL"))?;
    let thumbprints = str_list(i, "ThumbprintList");
    check_thumbprints(&thumbprints)?;
    let mut client_ids = Vec::new();
    for id in str_list(i, "ClientIDList") {
        if !client_ids.contains(&id) {
            client_ids.push(id);
        }
    }
    if client_ids.len() > CLIENT_IDS {
        return Err(limit_exceeded(format!(
            "Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: {CLIENT_IDS}"
        )));
    }
    let tags = Tags::from_input(i)?;
    let arn = format!("arn:aws:iam::{}:oidc-provider/{id}", c.account_id());
    let provider = OidcProvider {
        arn: arn.clone(),
        url: id,
        client_ids,
        thumbprints,
        created: c.now(),
        tags,
    };
    let change = c.put(KIND, &arn, &provider);
    let mut out = Value::map().with("OpenIDConnectProviderArn", arn.as_str());
    if !provider.tags.is_empty() {
        out.insert("Tags", provider.tags.to_value());
    }
    {
        let mut s = c.account.extras.write().unwrap();
        if s.oidc.contains_key(&arn) {
            return Err(already_exists(format!(
                "Provider with url {url} already exists."
            )));
        }
        if s.oidc.len() >= PER_ACCOUNT {
            return Err(limit_exceeded(format!(
                "Cannot exceed quota for OpenIdConnectProvidersPerAccount: {PER_ACCOUNT}"
            )));
        }
        s.oidc.insert(arn, provider);
    }
    c.commit(vec![change]).await?;
    Ok(out)
}

async fn get(c: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    let arn = i.str("OpenIDConnectProviderArn").unwrap_or_default();
    let s = c.account.extras.read().unwrap();
    let p = s.oidc.get(arn).ok_or_else(|| not_found(arn))?;
    let strings = |l: &[String]| Value::List(l.iter().map(|s| Value::from(s.as_str())).collect());
    let mut out = Value::map()
        .with("Url", p.url.as_str())
        .with("ClientIDList", strings(&p.client_ids))
        .with("ThumbprintList", strings(&p.thumbprints))
        .with("CreateDate", ts(p.created));
    if !p.tags.is_empty() {
        out.insert("Tags", p.tags.to_value());
    }
    Ok(out)
}

async fn list(c: &Ctx<'_>, _i: &Value) -> Result<Value, AwsError> {
    let s = c.account.extras.read().unwrap();
    let list = s
        .oidc
        .keys()
        .map(|arn| Value::map().with("Arn", arn.as_str()))
        .collect::<Vec<_>>();
    Ok(Value::map().with("OpenIDConnectProviderList", list))
}

async fn delete(c: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    let arn = i.str("OpenIDConnectProviderArn").unwrap_or_default();
    if c.account.extras.write().unwrap().oidc.remove(arn).is_none() {
        return Err(not_found(arn));
    }
    c.commit(vec![c.delete(KIND, arn)]).await?;
    Ok(Value::map())
}

/// Runs `f` on the provider named by the input and stores the result.
async fn modify(
    c: &Ctx<'_>,
    i: &Value,
    f: impl FnOnce(&mut OidcProvider) -> Result<(), AwsError>,
) -> Result<Value, AwsError> {
    let arn = i.str("OpenIDConnectProviderArn").unwrap_or_default();
    let change = {
        let mut s = c.account.extras.write().unwrap();
        let p = s.oidc.get_mut(arn).ok_or_else(|| not_found(arn))?;
        let mut next = p.clone();
        f(&mut next)?;
        *p = next;
        c.put(KIND, arn, &*p)
    };
    c.commit(vec![change]).await?;
    Ok(Value::map())
}

async fn update_thumbprint(c: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    let list = str_list(i, "ThumbprintList");
    check_thumbprints(&list)?;
    modify(c, i, |p| {
        p.thumbprints = list;
        Ok(())
    })
    .await
}

/// Idempotent, as AWS documents: an id already there is not added twice.
async fn add_client_id(c: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    let id = i.str("ClientID").unwrap_or_default().to_owned();
    modify(c, i, |p| {
        if !p.client_ids.contains(&id) {
            if p.client_ids.len() >= CLIENT_IDS {
                return Err(limit_exceeded(format!(
                    "Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: {CLIENT_IDS}"
                )));
            }
            p.client_ids.push(id);
        }
        Ok(())
    })
    .await
}

/// Idempotent, as AWS documents: removing an absent id succeeds.
async fn remove_client_id(c: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    let id = i.str("ClientID").unwrap_or_default().to_owned();
    modify(c, i, |p| {
        p.client_ids.retain(|c| *c != id);
        Ok(())
    })
    .await
}

async fn tag(c: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    modify(c, i, |p| p.tags.merge(i)).await
}

async fn untag(c: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    modify(c, i, |p| {
        p.tags.remove(i);
        Ok(())
    })
    .await
}

async fn list_tags(c: &Ctx<'_>, i: &Value) -> Result<Value, AwsError> {
    let arn = i.str("OpenIDConnectProviderArn").unwrap_or_default();
    let s = c.account.extras.read().unwrap();
    let p = s.oidc.get(arn).ok_or_else(|| not_found(arn))?;
    p.tags.list_answer(i)
}

#[cfg(test)]
mod tests {
    #[test]
    fn provider_ids_drop_the_scheme() {
        assert_eq!(
            super::provider_id("https://example.com/id/ABC/").as_deref(),
            Some("example.com/id/ABC")
        );
        assert_eq!(super::provider_id("http://example.com"), None);
        assert_eq!(super::provider_id("https://"), None);
    }
}
