//! The control plane of mobile push and SMS: platform applications and endpoints, SMS
//! attributes, sandbox destination numbers (one-time passwords go to the outbox) and
//! opt-outs.

use crate::state::{self, PlatformApp, PlatformEndpoint, invalid, not_found, parse_arn};
use crate::{Sns, subscriptions, topics};
use nephos_core::{AwsError, RequestContext, Value};
use std::collections::BTreeMap;

const PLATFORMS: &[&str] = &[
    "ADM",
    "APNS",
    "APNS_SANDBOX",
    "APNS_VOIP",
    "APNS_VOIP_SANDBOX",
    "BAIDU",
    "GCM",
    "MACOS",
    "MACOS_SANDBOX",
    "MPNS",
    "WNS",
];

const SMS_ATTRIBUTES: &[&str] = &[
    "MonthlySpendLimit",
    "DeliveryStatusIAMRole",
    "DeliveryStatusSuccessSamplingRate",
    "DefaultSenderID",
    "DefaultSMSType",
    "UsageReportS3Bucket",
];

fn string_map(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_map)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

fn attrs_value(m: &BTreeMap<String, String>, hide: &[&str]) -> Value {
    let mut out = Value::map();
    for (k, v) in m {
        if !hide.contains(&k.as_str()) {
            out.insert(k, v.as_str());
        }
    }
    out
}

pub async fn handle(
    sns: &Sns,
    ctx: &RequestContext,
    op: &str,
    i: &Value,
) -> Result<Value, AwsError> {
    match op {
        "CreatePlatformApplication" => create_app(sns, ctx, i).await,
        "GetPlatformApplicationAttributes" => {
            let app = find_app(sns, i.str("PlatformApplicationArn").unwrap_or_default())?;
            Ok(Value::map().with(
                "Attributes",
                attrs_value(
                    &app.attributes,
                    &["PlatformCredential", "PlatformPrincipal"],
                ),
            ))
        }
        "SetPlatformApplicationAttributes" => {
            let mut app = find_app(sns, i.str("PlatformApplicationArn").unwrap_or_default())?;
            app.attributes.extend(string_map(i.get("Attributes")));
            save_app(sns, app).await?;
            Ok(Value::map())
        }
        "DeletePlatformApplication" => {
            let arn = i.str("PlatformApplicationArn").unwrap_or_default();
            if let Some(a) = parse_arn(arn) {
                let region = sns.region(a.account, a.region);
                region.apps.write().unwrap().remove(arn);
                let gone: Vec<String> = {
                    let mut eps = region.endpoints.write().unwrap();
                    let gone: Vec<String> = eps
                        .values()
                        .filter(|e| e.app_arn == arn)
                        .map(|e| e.arn.clone())
                        .collect();
                    for g in &gone {
                        eps.remove(g);
                    }
                    gone
                };
                sns.persist::<PlatformApp>(state::APPS, vec![(arn.to_owned(), None)])
                    .await?;
                sns.persist::<PlatformEndpoint>(
                    state::ENDPOINTS,
                    gone.into_iter().map(|g| (g, None)).collect(),
                )
                .await?;
            }
            Ok(Value::map())
        }
        "ListPlatformApplications" => {
            let start = topics::page_start(i.str("NextToken"))?;
            let region = sns.region(&ctx.account_id, &ctx.region);
            let apps = region.apps.read().unwrap();
            let page: Vec<Value> = apps
                .values()
                .skip(start)
                .take(100)
                .map(|a| {
                    Value::map()
                        .with("PlatformApplicationArn", a.arn.as_str())
                        .with(
                            "Attributes",
                            attrs_value(
                                &a.attributes,
                                &["PlatformCredential", "PlatformPrincipal"],
                            ),
                        )
                })
                .collect();
            let mut out = Value::map();
            if start + page.len() < apps.len() {
                out.insert("NextToken", topics::page_token(start + 100));
            }
            out.insert("PlatformApplications", Value::List(page));
            Ok(out)
        }
        "CreatePlatformEndpoint" => create_endpoint(sns, i).await,
        "GetEndpointAttributes" => {
            let ep = find_endpoint(sns, i.str("EndpointArn").unwrap_or_default())?;
            Ok(Value::map().with("Attributes", attrs_value(&ep.attributes, &[])))
        }
        "SetEndpointAttributes" => {
            let mut ep = find_endpoint(sns, i.str("EndpointArn").unwrap_or_default())?;
            ep.attributes.extend(string_map(i.get("Attributes")));
            save_endpoint(sns, ep).await?;
            Ok(Value::map())
        }
        "DeleteEndpoint" => {
            let arn = i.str("EndpointArn").unwrap_or_default();
            if let Some(a) = parse_arn(arn) {
                sns.region(a.account, a.region)
                    .endpoints
                    .write()
                    .unwrap()
                    .remove(arn);
                sns.persist::<PlatformEndpoint>(state::ENDPOINTS, vec![(arn.to_owned(), None)])
                    .await?;
            }
            Ok(Value::map())
        }
        "ListEndpointsByPlatformApplication" => {
            let app = find_app(sns, i.str("PlatformApplicationArn").unwrap_or_default())?;
            let start = topics::page_start(i.str("NextToken"))?;
            let a = parse_arn(&app.arn)
                .ok_or_else(|| invalid("Invalid parameter: PlatformApplicationArn"))?;
            let region = sns.region(a.account, a.region);
            let eps: Vec<PlatformEndpoint> = region
                .endpoints
                .read()
                .unwrap()
                .values()
                .filter(|e| e.app_arn == app.arn)
                .cloned()
                .collect();
            let page: Vec<Value> = eps
                .iter()
                .skip(start)
                .take(100)
                .map(|e| {
                    Value::map()
                        .with("EndpointArn", e.arn.as_str())
                        .with("Attributes", attrs_value(&e.attributes, &[]))
                })
                .collect();
            let mut out = Value::map();
            if start + page.len() < eps.len() {
                out.insert("NextToken", topics::page_token(start + 100));
            }
            out.insert("Endpoints", Value::List(page));
            Ok(out)
        }
        _ => sms(sns, ctx, op, i).await,
    }
}

fn find_app(sns: &Sns, arn: &str) -> Result<PlatformApp, AwsError> {
    let a = parse_arn(arn)
        .filter(|a| a.service == "sns" && a.resource.starts_with("app/"))
        .ok_or_else(|| invalid("Invalid parameter: PlatformApplicationArn"))?;
    sns.region(a.account, a.region)
        .apps
        .read()
        .unwrap()
        .get(arn)
        .cloned()
        .ok_or_else(|| not_found("PlatformApplication does not exist"))
}

fn find_endpoint(sns: &Sns, arn: &str) -> Result<PlatformEndpoint, AwsError> {
    let a = parse_arn(arn)
        .filter(|a| a.service == "sns" && a.resource.starts_with("endpoint/"))
        .ok_or_else(|| invalid("Invalid parameter: EndpointArn"))?;
    sns.region(a.account, a.region)
        .endpoints
        .read()
        .unwrap()
        .get(arn)
        .cloned()
        .ok_or_else(|| not_found("Endpoint does not exist"))
}

async fn save_app(sns: &Sns, app: PlatformApp) -> Result<(), AwsError> {
    if let Some(a) = parse_arn(&app.arn) {
        sns.region(a.account, a.region)
            .apps
            .write()
            .unwrap()
            .insert(app.arn.clone(), app.clone());
    }
    sns.persist(state::APPS, vec![(app.arn.clone(), Some(&app))])
        .await
}

async fn save_endpoint(sns: &Sns, ep: PlatformEndpoint) -> Result<(), AwsError> {
    if let Some(a) = parse_arn(&ep.arn) {
        sns.region(a.account, a.region)
            .endpoints
            .write()
            .unwrap()
            .insert(ep.arn.clone(), ep.clone());
    }
    sns.persist(state::ENDPOINTS, vec![(ep.arn.clone(), Some(&ep))])
        .await
}

async fn create_app(sns: &Sns, ctx: &RequestContext, i: &Value) -> Result<Value, AwsError> {
    let name = i.str("Name").unwrap_or_default();
    let platform = i.str("Platform").unwrap_or_default();
    if name.is_empty()
        || name.len() > 256
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
    {
        return Err(invalid(
            "Invalid parameter: Invalid platform application name",
        ));
    }
    if !PLATFORMS.contains(&platform) {
        return Err(invalid(
            "Invalid parameter: Platform Reason: Invalid platform",
        ));
    }
    let mut attributes = string_map(i.get("Attributes"));
    if !attributes.contains_key("PlatformCredential") {
        return Err(invalid(
            "Invalid parameter: Attributes Reason: PlatformCredential attribute is required",
        ));
    }
    attributes
        .entry("Enabled".into())
        .or_insert_with(|| "true".into());
    let arn = format!(
        "arn:aws:sns:{}:{}:app/{platform}/{name}",
        ctx.region, ctx.account_id
    );
    save_app(
        sns,
        PlatformApp {
            arn: arn.clone(),
            attributes,
        },
    )
    .await?;
    Ok(Value::map().with("PlatformApplicationArn", arn))
}

async fn create_endpoint(sns: &Sns, i: &Value) -> Result<Value, AwsError> {
    let app = find_app(sns, i.str("PlatformApplicationArn").unwrap_or_default())?;
    let token = i.str("Token").unwrap_or_default();
    if token.is_empty() {
        return Err(invalid("Invalid parameter: Token Reason: Token is empty"));
    }
    let mut attributes = string_map(i.get("Attributes"));
    if let Some(data) = i.str("CustomUserData") {
        attributes.insert("CustomUserData".into(), data.to_owned());
    }
    attributes.insert("Token".into(), token.to_owned());
    attributes
        .entry("Enabled".into())
        .or_insert_with(|| "true".into());
    let a =
        parse_arn(&app.arn).ok_or_else(|| invalid("Invalid parameter: PlatformApplicationArn"))?;
    let region = sns.region(a.account, a.region);
    // The same token answers the same endpoint, unless its attributes differ.
    let existing = region
        .endpoints
        .read()
        .unwrap()
        .values()
        .find(|e| {
            e.app_arn == app.arn && e.attributes.get("Token").map(String::as_str) == Some(token)
        })
        .cloned();
    if let Some(e) = existing {
        if e.attributes == attributes {
            return Ok(Value::map().with("EndpointArn", e.arn));
        }
        return Err(invalid(format!(
            "Invalid parameter: Token Reason: Endpoint {} already exists with the same Token, but different attributes.",
            e.arn
        )));
    }
    let app_path = a.resource.trim_start_matches("app/");
    let arn = format!(
        "arn:aws:sns:{}:{}:endpoint/{app_path}/{}",
        a.region,
        a.account,
        nephos_core::request_id()
    );
    save_endpoint(
        sns,
        PlatformEndpoint {
            arn: arn.clone(),
            app_arn: app.arn.clone(),
            attributes,
        },
    )
    .await?;
    Ok(Value::map().with("EndpointArn", arn))
}

async fn save_sms(sns: &Sns, ctx: &RequestContext, sms: &state::Sms) -> Result<(), AwsError> {
    sns.persist(
        state::SMS,
        vec![(format!("{}/{}", ctx.account_id, ctx.region), Some(sms))],
    )
    .await
}

async fn sms(sns: &Sns, ctx: &RequestContext, op: &str, i: &Value) -> Result<Value, AwsError> {
    let region = sns.region(&ctx.account_id, &ctx.region);
    let phone = i
        .str("PhoneNumber")
        .or_else(|| i.str("phoneNumber"))
        .unwrap_or_default()
        .to_owned();
    match op {
        "GetSMSAttributes" => {
            let wanted: Vec<&str> = i
                .get("attributes")
                .and_then(Value::as_list)
                .unwrap_or_default()
                .iter()
                .filter_map(Value::as_str)
                .collect();
            let sms = region.sms.read().unwrap();
            let mut out = Value::map();
            for (k, v) in &sms.attributes {
                if wanted.is_empty() || wanted.contains(&k.as_str()) {
                    out.insert(k, v.as_str());
                }
            }
            Ok(Value::map().with("attributes", out))
        }
        "SetSMSAttributes" => {
            let attrs = string_map(i.get("attributes"));
            for (k, v) in &attrs {
                if !SMS_ATTRIBUTES.contains(&k.as_str()) {
                    return Err(invalid(format!("Invalid parameter: {k}")));
                }
                if k == "DefaultSMSType" && v != "Promotional" && v != "Transactional" {
                    return Err(invalid(
                        "Invalid parameter: DefaultSMSType Reason: must be Promotional or Transactional",
                    ));
                }
            }
            let snapshot = {
                let mut sms = region.sms.write().unwrap();
                sms.attributes.extend(attrs);
                sms.clone()
            };
            save_sms(sns, ctx, &snapshot).await?;
            Ok(Value::map())
        }
        "GetSMSSandboxAccountStatus" => Ok(Value::map().with("IsInSandbox", true)),
        "CreateSMSSandboxPhoneNumber" => {
            if !subscriptions::valid_phone(&phone) || !phone.starts_with('+') {
                return Err(invalid("Invalid parameter: PhoneNumber"));
            }
            let otp = nephos_core::random_alnum(6, b"0123456789");
            let snapshot = {
                let mut sms = region.sms.write().unwrap();
                if sms.sandbox.get(&phone).is_some_and(|(v, _)| *v) {
                    return Err(invalid(
                        "Invalid parameter: PhoneNumber Reason: already verified",
                    ));
                }
                sms.sandbox.insert(phone.clone(), (false, otp.clone()));
                sms.clone()
            };
            save_sms(sns, ctx, &snapshot).await?;
            let id = nephos_core::request_id();
            sns.outbox.push(crate::outbox::Entry {
                protocol: "sms",
                endpoint: &phone,
                subject: None,
                message: &format!("Your verification code is {otp}"),
                attributes: serde_json::json!({"OneTimePassword": otp}),
                timestamp: crate::publish::now_iso(sns),
                topic_arn: None,
                subscription_arn: None,
                message_id: &id,
                note: Some("SMSSandboxVerification"),
            });
            Ok(Value::map())
        }
        "VerifySMSSandboxPhoneNumber" => {
            let otp = i.str("OneTimePassword").unwrap_or_default();
            let snapshot = {
                let mut sms = region.sms.write().unwrap();
                let entry = sms.sandbox.get_mut(&phone).ok_or_else(|| {
                    AwsError::new(404, "ResourceNotFound", "Phone number does not exist")
                })?;
                if entry.1 != otp {
                    return Err(AwsError::new(
                        400,
                        "VerificationException",
                        "Invalid one-time password",
                    )
                    .with_field("Status", "Pending"));
                }
                entry.0 = true;
                sms.clone()
            };
            save_sms(sns, ctx, &snapshot).await?;
            Ok(Value::map())
        }
        "ListSMSSandboxPhoneNumbers" => {
            let sms = region.sms.read().unwrap();
            let list: Vec<Value> = sms
                .sandbox
                .iter()
                .map(|(n, (verified, _))| {
                    Value::map()
                        .with("PhoneNumber", n.as_str())
                        .with("Status", if *verified { "Verified" } else { "Pending" })
                })
                .collect();
            Ok(Value::map().with("PhoneNumbers", Value::List(list)))
        }
        "DeleteSMSSandboxPhoneNumber" => {
            let snapshot = {
                let mut sms = region.sms.write().unwrap();
                if sms.sandbox.remove(&phone).is_none() {
                    return Err(AwsError::new(
                        404,
                        "ResourceNotFound",
                        "Phone number does not exist",
                    ));
                }
                sms.clone()
            };
            save_sms(sns, ctx, &snapshot).await?;
            Ok(Value::map())
        }
        "CheckIfPhoneNumberIsOptedOut" => {
            let out = region.sms.read().unwrap().opted_out.contains(&phone);
            Ok(Value::map().with("isOptedOut", out))
        }
        "ListPhoneNumbersOptedOut" => {
            let list: Vec<Value> = region
                .sms
                .read()
                .unwrap()
                .opted_out
                .iter()
                .map(|n| Value::from(n.as_str()))
                .collect();
            Ok(Value::map().with("phoneNumbers", Value::List(list)))
        }
        "OptInPhoneNumber" => {
            let snapshot = {
                let mut sms = region.sms.write().unwrap();
                sms.opted_out.remove(&phone);
                sms.clone()
            };
            save_sms(sns, ctx, &snapshot).await?;
            Ok(Value::map())
        }
        other => Err(AwsError::not_implemented("sns", other)),
    }
}
