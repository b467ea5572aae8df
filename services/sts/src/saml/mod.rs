//! AssumeRoleWithSAML: a SAML 2.0 response exchanged for a role session.
//!
//! The response is accepted only when its XML signature (on the response, or on the
//! assertion) verifies with a signing certificate of the IAM SAML provider named by
//! `PrincipalArn` (`iam GetSAMLProvider`, its metadata document): see [`dsig`]. The
//! assertion read is the signed element itself or the one assertion of the signed
//! response, so a signature cannot vouch for something wrapped around it. Encrypted
//! assertions are refused (IAM keeps no private keys for them).
//!
//! The assertion must be current on nephos's clock (`NotBefore`, `NotOnOrAfter`), for
//! AWS (`https://signin.aws.amazon.com/saml` or `urn:amazon:webservices` among its
//! audiences), and carry AWS's attributes: `Role` (the provider and role pair asked
//! for), `RoleSessionName`, and optionally `SourceIdentity`, `PrincipalTag:*` and
//! `TransitiveTagKeys`.

mod dsig;
mod xml;

use crate::StsProvider;
use crate::assume::{RoleSession, global_keys, role_duration, tag_keys, validation};
use crate::role::{self, Lookup};
use crate::session::{self, Tags};
use crate::trust::{self, Who};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use nephos_core::{AwsError, RequestContext, Value};
use xml::{Element, Scope};

const PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
const ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
const ATTRIBUTES: &str = "https://aws.amazon.com/SAML/Attributes/";
const AWS_AUDIENCES: &[&str] = &[
    "https://signin.aws.amazon.com/saml",
    "urn:amazon:webservices",
];
/// How far clocks may disagree about `NotBefore`.
const SKEW_MS: i64 = 5 * 60 * 1000;

fn invalid(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "InvalidIdentityToken", message)
}

fn signature_invalid() -> AwsError {
    invalid("Response signature invalid")
}

fn not_authorized() -> AwsError {
    AwsError::new(
        403,
        "AccessDenied",
        "Not authorized to perform sts:AssumeRoleWithSAML",
    )
}

/// The descendants of `e` (scope inside `e`) in namespace `ns` named `local`, with the
/// scope inside each.
fn descendants<'a>(
    e: &'a Element,
    scope: &Scope,
    ns: &str,
    local: &str,
    out: &mut Vec<(&'a Element, Scope)>,
) {
    for c in e.elements() {
        let inner = c.scope(scope);
        if c.local == local && c.ns(&inner) == ns {
            out.push((c, inner.clone()));
        }
        descendants(c, &inner, ns, local, out);
    }
}

fn children<'a>(e: &'a Element, scope: &Scope, ns: &str, local: &str) -> Vec<(&'a Element, Scope)> {
    e.elements()
        .map(|c| (c, c.scope(scope)))
        .filter(|(c, inner)| c.local == local && c.ns(inner) == ns)
        .collect()
}

fn time_ms(text: &str) -> Option<i64> {
    let t =
        time::OffsetDateTime::parse(text.trim(), &time::format_description::well_known::Rfc3339)
            .ok()?;
    Some((t.unix_timestamp_nanos() / 1_000_000) as i64)
}

/// The signing certificates' RSA keys in a provider's metadata document.
fn provider_keys(metadata: &str) -> Vec<Vec<u8>> {
    let Ok(root) = xml::parse(metadata) else {
        return Vec::new();
    };
    let mut descriptors = Vec::new();
    let scope = root.scope(&Scope::new());
    collect_key_descriptors(&root, &scope, &mut descriptors);
    let mut keys = Vec::new();
    for (d, d_scope) in descriptors {
        if d.attr("use") == Some("encryption") {
            continue;
        }
        let mut certs = Vec::new();
        descendants(d, &d_scope, dsig::DSIG, "X509Certificate", &mut certs);
        for (c, _) in certs {
            let compact: String = c.text().chars().filter(|c| !c.is_whitespace()).collect();
            if let Ok(der) = STANDARD.decode(compact)
                && let Ok(key) = dsig::rsa_key_of_certificate(&der)
            {
                keys.push(key);
            }
        }
    }
    keys
}

fn collect_key_descriptors<'a>(e: &'a Element, scope: &Scope, out: &mut Vec<(&'a Element, Scope)>) {
    if e.local == "KeyDescriptor" {
        out.push((e, scope.clone()));
        return;
    }
    for c in e.elements() {
        collect_key_descriptors(c, &c.scope(scope), out);
    }
}

/// The one assertion of a response (or a bare assertion), read only from an element whose
/// signature verifies with one of `keys`: the assertion itself or the response holding it.
fn signed_assertion<'a>(
    root: &'a Element,
    keys: &[Vec<u8>],
) -> Result<(&'a Element, Scope), AwsError> {
    let empty = Scope::new();
    let root_scope = root.scope(&empty);
    if root.local == "Response" && root.ns(&root_scope) == PROTOCOL {
        let status_ok = children(root, &root_scope, PROTOCOL, "Status")
            .first()
            .and_then(|(s, s_scope)| {
                children(s, s_scope, PROTOCOL, "StatusCode")
                    .first()
                    .and_then(|(c, _)| c.attr("Value").map(str::to_owned))
            })
            .is_some_and(|v| v == SUCCESS);
        if !status_ok {
            return Err(invalid("The SAML response does not report success."));
        }
        if !children(root, &root_scope, ASSERTION, "EncryptedAssertion").is_empty() {
            return Err(invalid(
                "Encrypted SAML assertions are not supported: IAM holds no key to decrypt them.",
            ));
        }
        let mut assertions = children(root, &root_scope, ASSERTION, "Assertion");
        if assertions.len() != 1 {
            return Err(invalid(
                "The SAML response must hold exactly one assertion.",
            ));
        }
        let (assertion, a_scope) = assertions.remove(0);
        let response_sig =
            dsig::signature_of(root, &root_scope).map_err(|_| signature_invalid())?;
        let assertion_sig =
            dsig::signature_of(assertion, &a_scope).map_err(|_| signature_invalid())?;
        if response_sig.is_none() && assertion_sig.is_none() {
            return Err(signature_invalid());
        }
        if let Some(sig) = response_sig {
            dsig::verify(root, &empty, sig, keys, true).map_err(|_| signature_invalid())?;
        }
        if let Some(sig) = assertion_sig {
            dsig::verify(assertion, &root_scope, sig, keys, false)
                .map_err(|_| signature_invalid())?;
        }
        Ok((assertion, a_scope))
    } else if root.local == "Assertion" && root.ns(&root_scope) == ASSERTION {
        let sig = dsig::signature_of(root, &root_scope)
            .map_err(|_| signature_invalid())?
            .ok_or_else(signature_invalid)?;
        dsig::verify(root, &empty, sig, keys, true).map_err(|_| signature_invalid())?;
        Ok((root, root_scope))
    } else {
        Err(invalid("The document is not a SAML response."))
    }
}

/// What a verified assertion says.
#[derive(Debug, Default)]
struct Assertion {
    issuer: String,
    subject: String,
    subject_format: Option<String>,
    recipient: Option<String>,
    audiences: Vec<String>,
    not_before: Option<i64>,
    not_on_or_after: Vec<i64>,
    /// Attribute name to values.
    attributes: Vec<(String, Vec<String>)>,
}

impl Assertion {
    fn values(&self, name: &str) -> Vec<&str> {
        self.attributes
            .iter()
            .filter(|(n, _)| n == name)
            .flat_map(|(_, v)| v.iter().map(String::as_str))
            .collect()
    }
}

fn read_assertion(a: &Element, scope: &Scope) -> Result<Assertion, AwsError> {
    let malformed = |what: &str| invalid(format!("Invalid SAML assertion: {what}"));
    let mut out = Assertion {
        issuer: children(a, scope, ASSERTION, "Issuer")
            .first()
            .map(|(i, _)| i.text().trim().to_owned())
            .ok_or_else(|| malformed("no Issuer"))?,
        ..Default::default()
    };
    let (subject, s_scope) = children(a, scope, ASSERTION, "Subject")
        .into_iter()
        .next()
        .ok_or_else(|| malformed("no Subject"))?;
    if let Some((id, _)) = children(subject, &s_scope, ASSERTION, "NameID").first() {
        out.subject = id.text().trim().to_owned();
        out.subject_format = id.attr("Format").map(str::to_owned);
    }
    for (conf, c_scope) in children(subject, &s_scope, ASSERTION, "SubjectConfirmation") {
        for (data, _) in children(conf, &c_scope, ASSERTION, "SubjectConfirmationData") {
            if let Some(t) = data.attr("NotOnOrAfter") {
                out.not_on_or_after
                    .push(time_ms(t).ok_or_else(|| malformed("a bad NotOnOrAfter"))?);
            }
            if out.recipient.is_none() {
                out.recipient = data.attr("Recipient").map(str::to_owned);
            }
        }
    }
    for (cond, c_scope) in children(a, scope, ASSERTION, "Conditions") {
        if let Some(t) = cond.attr("NotBefore") {
            out.not_before = Some(time_ms(t).ok_or_else(|| malformed("a bad NotBefore"))?);
        }
        if let Some(t) = cond.attr("NotOnOrAfter") {
            out.not_on_or_after
                .push(time_ms(t).ok_or_else(|| malformed("a bad NotOnOrAfter"))?);
        }
        for (restriction, r_scope) in children(cond, &c_scope, ASSERTION, "AudienceRestriction") {
            for (aud, _) in children(restriction, &r_scope, ASSERTION, "Audience") {
                out.audiences.push(aud.text().trim().to_owned());
            }
        }
    }
    for (statement, st_scope) in children(a, scope, ASSERTION, "AttributeStatement") {
        for (attr, at_scope) in children(statement, &st_scope, ASSERTION, "Attribute") {
            let Some(name) = attr.attr("Name") else {
                continue;
            };
            let values = children(attr, &at_scope, ASSERTION, "AttributeValue")
                .into_iter()
                .map(|(v, _)| v.text().trim().to_owned())
                .collect();
            out.attributes.push((name.to_owned(), values));
        }
    }
    Ok(out)
}

/// Whether `name` is a session name AWS accepts from an assertion.
fn valid_session_name(name: &str) -> bool {
    (2..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c))
}

impl StsProvider {
    pub(crate) async fn assume_role_with_saml(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let role_arn = input.str("RoleArn").unwrap_or_default();
        let principal_arn = input.str("PrincipalArn").unwrap_or_default();
        if role::parse_arn(role_arn).is_none() {
            return Err(validation(format!("{role_arn} is invalid")));
        }
        let Some((provider_account, provider_name)) = principal_arn
            .strip_prefix("arn:aws:iam::")
            .and_then(|r| r.split_once(":saml-provider/"))
            .filter(|(a, n)| nephos_core::is_account_id(a) && !n.is_empty())
        else {
            return Err(validation(format!("{principal_arn} is invalid")));
        };
        let encoded: String = input
            .str("SAMLAssertion")
            .unwrap_or_default()
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        let text = STANDARD
            .decode(encoded)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| invalid("Invalid base64 SAMLResponse (SAMLAssertion)"))?;
        let root = xml::parse(&text)
            .map_err(|e| invalid(format!("The SAML response could not be read: {e}")))?;

        let iam_ctx = role::as_account(ctx, provider_account);
        let metadata = match self
            .dispatcher
            .call(
                &iam_ctx,
                "iam",
                "GetSAMLProvider",
                Value::map().with("SAMLProviderArn", principal_arn),
            )
            .await
        {
            Ok(v) => v.str("SAMLMetadataDocument").unwrap_or_default().to_owned(),
            Err(e) if e.code == "NoSuchEntity" || role::iam_unavailable(&e) => {
                return Err(invalid(format!(
                    "No SAML provider found in your account for {principal_arn}"
                )));
            }
            Err(e) => return Err(e),
        };
        let keys = provider_keys(&metadata);
        if keys.is_empty() {
            return Err(signature_invalid());
        }

        let (assertion, a_scope) = signed_assertion(&root, &keys)?;
        let a = read_assertion(assertion, &a_scope)?;

        let now = ctx.clock.now_millis();
        if a.not_before.is_some_and(|t| t > now + SKEW_MS) {
            return Err(invalid("The SAML assertion is not yet valid (NotBefore)."));
        }
        if let Some(t) = a
            .not_on_or_after
            .iter()
            .copied()
            .filter(|t| *t <= now)
            .min()
        {
            return Err(AwsError::new(
                400,
                "ExpiredTokenException",
                format!(
                    "Token expired: current date/time {} must be before the expiration date/time {}",
                    now / 1000,
                    t / 1000
                ),
            ));
        }
        let for_aws = |aud: &str| {
            AWS_AUDIENCES.contains(&aud)
                || aud
                    .strip_prefix("https://")
                    .and_then(|r| r.strip_suffix(".signin.aws.amazon.com/saml"))
                    .is_some_and(|region| !region.contains('/'))
        };
        if !a.audiences.iter().any(|aud| for_aws(aud)) {
            return Err(invalid("The SAML assertion's audience is not AWS."));
        }
        let pair_asked = a
            .values(&format!("{ATTRIBUTES}Role"))
            .into_iter()
            .any(|pair| {
                let mut parts: Vec<&str> = pair.split(',').map(str::trim).collect();
                parts.sort_unstable();
                let mut asked = vec![principal_arn, role_arn];
                asked.sort_unstable();
                parts == asked
            });
        if !pair_asked {
            return Err(not_authorized());
        }
        let name = a
            .values(&format!("{ATTRIBUTES}RoleSessionName"))
            .first()
            .map(|s| (*s).to_owned())
            .unwrap_or_default();
        if !valid_session_name(&name) {
            return Err(invalid(
                "RoleSessionName in AuthnResponse must match [a-zA-Z_0-9+=,.@-]{2,64}",
            ));
        }
        let source_identity = a
            .values(&format!("{ATTRIBUTES}SourceIdentity"))
            .first()
            .map(|s| (*s).to_owned());
        let tag_prefix = format!("{ATTRIBUTES}PrincipalTag:");
        let tags: Vec<Value> = a
            .attributes
            .iter()
            .filter_map(|(n, v)| {
                let key = n.strip_prefix(&tag_prefix)?;
                Some(
                    Value::map()
                        .with("Key", key)
                        .with("Value", v.first().cloned().unwrap_or_default()),
                )
            })
            .collect();
        let transitive: Vec<Value> = a
            .values(&format!("{ATTRIBUTES}TransitiveTagKeys"))
            .into_iter()
            .map(Value::from)
            .collect();
        if tags.len() > 50 {
            return Err(invalid(
                "The SAML assertion carries more than 50 session tags.",
            ));
        }
        let tags: Tags = session::request_tags(
            &Value::map()
                .with("Tags", Value::List(tags))
                .with("TransitiveTagKeys", Value::List(transitive)),
        )?;

        let role = match role::lookup(&self.dispatcher, ctx, role_arn).await? {
            Lookup::Found(r) => r,
            Lookup::Missing => return Err(not_authorized()),
        };
        let secs = role_duration(input, &role, false)?;
        let policies = session::request_policies(input)?;
        let packed = session::check_packed(&policies, &tags.tags)?;

        let audience = a
            .recipient
            .clone()
            .unwrap_or_else(|| AWS_AUDIENCES[0].to_owned());
        let subject_type = match a.subject_format.as_deref() {
            Some("urn:oasis:names:tc:SAML:2.0:nameid-format:persistent") => "persistent".to_owned(),
            Some("urn:oasis:names:tc:SAML:2.0:nameid-format:transient") => "transient".to_owned(),
            Some(other) => other.to_owned(),
            None => "unspecified".to_owned(),
        };
        // AWS's documented recipe: BASE64(SHA1(issuer + account + "/" + provider name)).
        let name_qualifier = {
            let digest = ring::digest::digest(
                &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
                format!("{}{provider_account}/{provider_name}", a.issuer).as_bytes(),
            );
            STANDARD.encode(digest.as_ref())
        };

        if nephos_policy::enforces_iam()
            && let Some(policy) = &role.trust_policy
        {
            let mut keys = Vec::new();
            global_keys(ctx, &mut keys);
            keys.push(("aws:FederatedProvider".into(), principal_arn.to_owned()));
            keys.push(("sts:RoleSessionName".into(), name.clone()));
            keys.push(("saml:aud".into(), audience.clone()));
            keys.push(("saml:iss".into(), a.issuer.clone()));
            keys.push(("saml:sub".into(), a.subject.clone()));
            keys.push(("saml:sub_type".into(), subject_type.clone()));
            keys.push(("saml:namequalifier".into(), name_qualifier.clone()));
            keys.push((
                "saml:doc".into(),
                format!("{provider_account}/{provider_name}"),
            ));
            if let Some(id) = &source_identity {
                keys.push(("sts:SourceIdentity".into(), id.clone()));
            }
            tag_keys(&mut keys, &tags.tags, &tags.transitive);
            let mut actions = vec!["sts:AssumeRoleWithSAML"];
            if !tags.tags.is_empty() {
                actions.push("sts:TagSession");
            }
            if source_identity.is_some() {
                actions.push("sts:SetSourceIdentity");
            }
            let who = Who::Federated(principal_arn.to_owned());
            if trust::first_refused(policy, &who, &actions, role_arn, &keys).is_some() {
                return Err(not_authorized());
            }
        }

        let session = RoleSession {
            role,
            name,
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
            .with("AssumedRoleUser", user)
            .with("Subject", a.subject)
            .with("SubjectType", subject_type)
            .with("Issuer", a.issuer)
            .with("Audience", audience)
            .with("NameQualifier", name_qualifier);
        if let Some(size) = packed {
            out.insert("PackedPolicySize", size);
        }
        if let Some(id) = source_identity {
            out.insert("SourceIdentity", id);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
