//! AssumeRoleWithWebIdentity: an OpenID Connect ID token exchanged for a role session.
//!
//! The token is accepted as AWS accepts it: its issuer (`iss`) is an OpenID Connect
//! provider of the role's account in IAM (`iam GetOpenIDConnectProvider`; Google and
//! Cognito identity pools need none), its signature verifies with the issuer's keys
//! (nephos holds them locally, see [`crate::oidc`]), it is for one of the provider's
//! client ids (`aud`, or `azp`), names its subject, and is current on nephos's clock
//! (`exp`, `nbf`). The role's trust policy then decides, under `--enforce-iam`, with the
//! provider as a `Federated` principal and the token's claims as `<provider>:<claim>`
//! condition keys.

use crate::StsProvider;
use crate::assume::{RoleSession, global_keys, role_duration, tag_keys, validation};
use crate::jwt::Token;
use crate::role::{self, Lookup};
use crate::session::{self, Tags};
use crate::trust::{self, Who};
use nephos_core::{AwsError, RequestContext, Value};
use serde_json::Value as Json;

/// Claims AWS reads from tokens (session tags and source identity).
const TAGS_CLAIM: &str = "https://aws.amazon.com/tags";
const SOURCE_IDENTITY_CLAIM: &str = "https://aws.amazon.com/source_identity";
/// Issuers AWS trusts without an IAM provider (the role's trust policy names them).
const BUILT_IN: &[&str] = &["accounts.google.com", "cognito-identity.amazonaws.com"];

fn invalid_token(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "InvalidIdentityToken", message)
}

fn unverifiable() -> AwsError {
    invalid_token(
        "The web identity token that was passed could not be validated by AWS. Get a new identity token from the identity provider and then retry the request.",
    )
}

fn not_authorized() -> AwsError {
    AwsError::new(
        403,
        "AccessDenied",
        "Not authorized to perform sts:AssumeRoleWithWebIdentity",
    )
}

/// A string claim, or each string of a list claim.
fn strings(v: Option<&Json>) -> Vec<String> {
    match v {
        Some(Json::String(s)) => vec![s.clone()],
        Some(Json::Array(a)) => a
            .iter()
            .filter_map(Json::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

/// Session tags a token carries in AWS's claim:
/// `{"principal_tags": {"k": ["v"]}, "transitive_tag_keys": ["k"]}`.
pub(crate) fn claimed_tags(claims: &Json) -> Result<Tags, AwsError> {
    let Some(claim) = claims.get(TAGS_CLAIM) else {
        return Ok(Tags::default());
    };
    let mut list = Vec::new();
    if let Some(tags) = claim.get("principal_tags").and_then(Json::as_object) {
        for (k, v) in tags {
            let value = strings(Some(v)).into_iter().next().unwrap_or_default();
            list.push(Value::map().with("Key", k.as_str()).with("Value", value));
        }
    }
    let transitive: Vec<Value> = strings(claim.get("transitive_tag_keys"))
        .into_iter()
        .map(Value::from)
        .collect();
    if list.len() > 50 {
        return Err(invalid_token(
            "The token carries more than 50 session tags.",
        ));
    }
    session::request_tags(
        &Value::map()
            .with("Tags", Value::List(list))
            .with("TransitiveTagKeys", Value::List(transitive)),
    )
}

impl StsProvider {
    pub(crate) async fn assume_role_with_web_identity(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let role_arn = input.str("RoleArn").unwrap_or_default();
        let name = input.str("RoleSessionName").unwrap_or_default();
        let Some((account, _)) = role::parse_arn(role_arn) else {
            return Err(validation(format!("{role_arn} is invalid")));
        };
        if let Some(provider) = input.str("ProviderId") {
            // OAuth 2.0 access tokens are opaque: only their provider can vouch for them,
            // and nephos reaches no provider on the internet.
            return Err(AwsError::new(
                400,
                "IDPCommunicationError",
                format!(
                    "The identity provider {provider} could not be reached to validate the access token."
                ),
            ));
        }
        let text = input.str("WebIdentityToken").unwrap_or_default();
        let token = Token::decode(text).map_err(|_| unverifiable())?;
        let Some(issuer) = token.claim("iss").map(str::to_owned) else {
            return Err(unverifiable());
        };
        let host = issuer
            .strip_prefix("https://")
            .unwrap_or(&issuer)
            .trim_end_matches('/')
            .to_owned();

        // The account's provider for this issuer, and the client ids it accepts.
        let built_in = BUILT_IN.contains(&host.as_str());
        let (provider, client_ids) = if built_in {
            (host.clone(), None)
        } else {
            let arn = format!("arn:aws:iam::{account}:oidc-provider/{host}");
            let iam_ctx = role::as_account(ctx, account);
            let answer = self
                .dispatcher
                .call(
                    &iam_ctx,
                    "iam",
                    "GetOpenIDConnectProvider",
                    Value::map().with("OpenIDConnectProviderArn", arn.as_str()),
                )
                .await;
            match answer {
                Ok(v) => (arn, Some(strings_of(v.get("ClientIDList")))),
                Err(e) if e.code == "NoSuchEntity" || role::iam_unavailable(&e) => {
                    return Err(invalid_token(format!(
                        "No OpenIDConnect provider found in your account for {issuer}"
                    )));
                }
                Err(e) => return Err(e),
            }
        };

        token
            .verify(&self.issuer_keys(&issuer))
            .map_err(|_| unverifiable())?;
        let now = ctx.clock.now_millis() / 1000;
        let Some(exp) = token.claims.get("exp").and_then(Json::as_f64) else {
            return Err(unverifiable());
        };
        if exp as i64 <= now {
            return Err(AwsError::new(
                400,
                "ExpiredTokenException",
                format!(
                    "Token expired: current date/time {now} must be before the expiration date/time {}",
                    exp as i64
                ),
            ));
        }
        if token
            .claims
            .get("nbf")
            .and_then(Json::as_f64)
            .is_some_and(|nbf| nbf as i64 > now)
        {
            return Err(unverifiable());
        }
        let audiences = strings(token.claims.get("aud"));
        let azp = token.claim("azp").map(str::to_owned);
        let audience = match &client_ids {
            Some(ids) => ids
                .iter()
                .find(|id| azp.as_deref() == Some(id.as_str()) || audiences.contains(id))
                .cloned()
                .ok_or_else(|| invalid_token("Incorrect token audience"))?,
            None => azp
                .clone()
                .or_else(|| audiences.first().cloned())
                .unwrap_or_default(),
        };
        let Some(subject) = token
            .claim("sub")
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
        else {
            return Err(unverifiable());
        };

        let role = match role::lookup(&self.dispatcher, ctx, role_arn).await? {
            Lookup::Found(r) => r,
            Lookup::Missing => return Err(not_authorized()),
        };
        let secs = role_duration(input, &role, false)?;
        let tags = claimed_tags(&token.claims)?;
        let source_identity = token.claim(SOURCE_IDENTITY_CLAIM).map(str::to_owned);
        let policies = session::request_policies(input)?;
        let packed = session::check_packed(&policies, &tags.tags)?;

        if nephos_policy::enforces_iam()
            && let Some(policy) = &role.trust_policy
        {
            let mut keys = Vec::new();
            global_keys(ctx, &mut keys);
            keys.push(("aws:FederatedProvider".into(), provider.clone()));
            keys.push(("sts:RoleSessionName".into(), name.to_owned()));
            keys.push((format!("{host}:aud"), audience.clone()));
            keys.push((format!("{host}:sub"), subject.clone()));
            for a in &audiences {
                keys.push((format!("{host}:oaud"), a.clone()));
            }
            if let Some(claims) = token.claims.as_object() {
                for (claim, value) in claims {
                    if matches!(claim.as_str(), "aud" | "sub") || claim.starts_with("https://") {
                        continue;
                    }
                    let values = match value {
                        Json::Bool(b) => vec![b.to_string()],
                        Json::Number(n) => vec![n.to_string()],
                        v => strings(Some(v)),
                    };
                    for v in values {
                        keys.push((format!("{host}:{claim}"), v));
                    }
                }
            }
            if let Some(id) = &source_identity {
                keys.push(("sts:SourceIdentity".into(), id.clone()));
            }
            tag_keys(&mut keys, &tags.tags, &tags.transitive);
            let mut actions = vec!["sts:AssumeRoleWithWebIdentity"];
            if !tags.tags.is_empty() {
                actions.push("sts:TagSession");
            }
            if source_identity.is_some() {
                actions.push("sts:SetSourceIdentity");
            }
            let who = Who::Federated(provider.clone());
            if trust::first_refused(policy, &who, &actions, role_arn, &keys).is_some() {
                return Err(not_authorized());
            }
        }

        let session = RoleSession {
            role,
            name: name.to_owned(),
            secs,
            tags,
            policies,
            source_identity: source_identity.clone(),
            mfa: false,
            chained: false,
        };
        let (credentials, user) = self.issue_role_session(ctx, session).await?;
        let mut out = Value::map()
            .with("Credentials", credentials)
            .with("SubjectFromWebIdentityToken", subject)
            .with("AssumedRoleUser", user)
            .with("Provider", provider)
            .with("Audience", audience);
        if let Some(size) = packed {
            out.insert("PackedPolicySize", size);
        }
        if let Some(id) = source_identity {
            out.insert("SourceIdentity", id);
        }
        Ok(out)
    }
}

fn strings_of(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_list)
        .unwrap_or_default()
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}
