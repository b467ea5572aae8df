//! Bucket CORS: the configuration (validated as S3 does) and its evaluation for
//! preflights and cross-origin requests, which the gateway forwards through
//! [`nephos_core::Provider::cors`].

use crate::S3Provider;
use crate::errors;
use nephos_core::{AwsError, CorsRequest, RequestContext, Value};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CorsRule {
    pub id: Option<String>,
    pub origins: Vec<String>,
    pub methods: Vec<String>,
    pub headers: Vec<String>,
    pub expose: Vec<String>,
    pub max_age: Option<i64>,
}

const METHODS: [&str; 5] = ["GET", "PUT", "POST", "DELETE", "HEAD"];

fn strings(v: &Value, key: &str) -> Vec<String> {
    v.get(key)
        .and_then(Value::as_list)
        .unwrap_or_default()
        .iter()
        .filter_map(|x| x.as_str().map(str::to_owned))
        .collect()
}

/// Reads and checks a `CORSConfiguration`.
pub fn parse(config: Option<&Value>) -> Result<Vec<CorsRule>, AwsError> {
    let rules = config
        .and_then(|c| c.get("CORSRules"))
        .and_then(Value::as_list)
        .unwrap_or_default();
    if rules.is_empty() {
        return Err(errors::malformed_xml());
    }
    if rules.len() > 100 {
        return Err(errors::invalid_request(
            "The number of CORS rules should not exceed allowed limit of 100 rules.",
        ));
    }
    let mut out = Vec::new();
    for r in rules {
        let rule = CorsRule {
            id: r.str("ID").map(str::to_owned),
            origins: strings(r, "AllowedOrigins"),
            methods: strings(r, "AllowedMethods"),
            headers: strings(r, "AllowedHeaders"),
            expose: strings(r, "ExposeHeaders"),
            max_age: r.int("MaxAgeSeconds"),
        };
        if rule.origins.is_empty() || rule.methods.is_empty() {
            return Err(errors::malformed_xml());
        }
        if let Some(m) = rule.methods.iter().find(|m| !METHODS.contains(&m.as_str())) {
            return Err(errors::invalid_request(format!(
                "Found unsupported HTTP method in CORS config. Unsupported method is {m}"
            )));
        }
        if let Some(o) = rule.origins.iter().find(|o| o.matches('*').count() > 1) {
            return Err(errors::invalid_request(format!(
                "AllowedOrigin \"{o}\" can not have more than one wildcard."
            )));
        }
        if let Some(h) = rule.headers.iter().find(|h| h.matches('*').count() > 1) {
            return Err(errors::invalid_request(format!(
                "AllowedHeader \"{h}\" can not have more than one wildcard."
            )));
        }
        out.push(rule);
    }
    Ok(out)
}

pub fn to_value(rules: &[CorsRule]) -> Value {
    let list = |xs: &[String]| Value::List(xs.iter().map(|x| Value::from(x.as_str())).collect());
    Value::List(
        rules
            .iter()
            .map(|r| {
                let mut v = Value::map()
                    .with("AllowedMethods", list(&r.methods))
                    .with("AllowedOrigins", list(&r.origins));
                if !r.headers.is_empty() {
                    v.insert("AllowedHeaders", list(&r.headers));
                }
                if !r.expose.is_empty() {
                    v.insert("ExposeHeaders", list(&r.expose));
                }
                if let Some(id) = &r.id {
                    v.insert("ID", id.as_str());
                }
                if let Some(m) = r.max_age {
                    v.insert("MaxAgeSeconds", m);
                }
                v
            })
            .collect(),
    )
}

/// `*` matches any run of characters (at most one in a pattern); case-sensitive for
/// origins, callers lower-case headers.
fn wildcard(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((pre, post)) => {
            text.len() >= pre.len() + post.len() && text.starts_with(pre) && text.ends_with(post)
        }
    }
}

fn forbidden(message: &str) -> AwsError {
    AwsError::new(403, "CORSResponse", message)
}

/// The headers of the first rule allowing `req`, or the refusal S3 gives a preflight.
pub fn evaluate(
    rules: Option<&[CorsRule]>,
    req: &CorsRequest<'_>,
) -> Result<Vec<(String, String)>, AwsError> {
    let Some(origin) = req.origin else {
        return Err(AwsError::new(
            400,
            "BadRequest",
            "Insufficient information. Origin request header needed.",
        ));
    };
    let Some(rules) = rules else {
        return Err(forbidden("CORS is not enabled for this bucket."));
    };
    let rule = rules.iter().find(|r| {
        r.origins.iter().any(|o| wildcard(o, origin))
            && r.methods.iter().any(|m| m == req.method)
            && req.headers.iter().all(|h| {
                r.headers
                    .iter()
                    .any(|a| wildcard(&a.to_ascii_lowercase(), h))
            })
    });
    let Some(rule) = rule else {
        return Err(forbidden(
            "This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.",
        ));
    };
    let any_origin = rule.origins.iter().any(|o| o == "*");
    let mut h = vec![
        (
            "access-control-allow-origin".to_owned(),
            if any_origin {
                "*".to_owned()
            } else {
                origin.to_owned()
            },
        ),
        (
            "access-control-allow-methods".to_owned(),
            rule.methods.join(", "),
        ),
        (
            "vary".to_owned(),
            "Origin, Access-Control-Request-Headers, Access-Control-Request-Method".to_owned(),
        ),
    ];
    if !any_origin {
        h.push(("access-control-allow-credentials".into(), "true".into()));
    }
    if req.preflight && !req.headers.is_empty() {
        h.push((
            "access-control-allow-headers".into(),
            req.headers.join(", "),
        ));
    }
    if !rule.expose.is_empty() {
        h.push((
            "access-control-expose-headers".into(),
            rule.expose.join(", "),
        ));
    }
    if let Some(m) = rule.max_age {
        h.push(("access-control-max-age".into(), m.to_string()));
    }
    Ok(h)
}

impl S3Provider {
    pub(crate) fn cors_answer(
        &self,
        req: &CorsRequest<'_>,
    ) -> Result<Vec<(String, String)>, AwsError> {
        let rules = self
            .store
            .bucket(req.resource)
            .and_then(|b| b.meta.read().unwrap().cors.clone());
        evaluate(rules.as_deref(), req)
    }

    pub(crate) async fn put_bucket_cors(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let b = self.owned_bucket(ctx, input.str("Bucket").unwrap_or_default())?;
        let rules = parse(input.get("CORSConfiguration"))?;
        b.meta.write().unwrap().cors = Some(rules);
        self.save_bucket(&b).await?;
        Ok(Value::map())
    }

    pub(crate) fn get_bucket_cors(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let name = input.str("Bucket").unwrap_or_default();
        let b = self.owned_bucket(ctx, name)?;
        let rules = b.meta.read().unwrap().cors.clone();
        match rules {
            Some(r) => Ok(Value::map().with("CORSRules", to_value(&r))),
            None => Err(AwsError::new(
                404,
                "NoSuchCORSConfiguration",
                "The CORS configuration does not exist",
            )
            .with_field("BucketName", name)),
        }
    }

    pub(crate) async fn delete_bucket_cors(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        self.clear_bucket_setting(ctx, input, |m| m.cors = None)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req<'a>(origin: &'a str, method: &'a str, headers: &[&str]) -> CorsRequest<'a> {
        CorsRequest {
            resource: "b",
            origin: Some(origin),
            method,
            headers: headers.iter().map(|h| h.to_string()).collect(),
            preflight: true,
        }
    }

    #[test]
    fn first_matching_rule_answers() {
        let rules = vec![
            CorsRule {
                id: None,
                origins: vec!["https://*.example.com".into()],
                methods: vec!["GET".into(), "PUT".into()],
                headers: vec!["x-amz-*".into(), "Content-Type".into()],
                expose: vec!["ETag".into()],
                max_age: Some(60),
            },
            CorsRule {
                id: None,
                origins: vec!["*".into()],
                methods: vec!["GET".into()],
                headers: vec![],
                expose: vec![],
                max_age: None,
            },
        ];
        let h = evaluate(
            Some(&rules),
            &req(
                "https://app.example.com",
                "PUT",
                &["x-amz-date", "content-type"],
            ),
        )
        .unwrap();
        assert!(h.contains(&(
            "access-control-allow-origin".into(),
            "https://app.example.com".into()
        )));
        assert!(h.contains(&("access-control-max-age".into(), "60".into())));
        let h = evaluate(Some(&rules), &req("http://other", "GET", &[])).unwrap();
        assert!(h.contains(&("access-control-allow-origin".into(), "*".into())));
        assert_eq!(
            evaluate(Some(&rules), &req("http://other", "PUT", &[]))
                .unwrap_err()
                .status,
            403
        );
        assert_eq!(
            evaluate(
                Some(&rules),
                &req("https://a.example.com", "PUT", &["authorization"])
            )
            .unwrap_err()
            .code,
            "CORSResponse"
        );
        assert_eq!(
            evaluate(None, &req("x", "GET", &[])).unwrap_err().status,
            403
        );
    }
}
