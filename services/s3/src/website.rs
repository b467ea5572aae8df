//! Static website hosting: GET and HEAD on a website endpoint
//! (`<bucket>.s3-website[-.]<region>...`) serve a bucket with a website configuration:
//! index documents for `/` and `prefix/`, the error document for 403 and 404, routing
//! rules and redirect-all, and `x-amz-website-redirect-location` objects as redirects.
//!
//! The gateway hands such requests over as GetObject/HeadObject whose key is
//! `"<METHOD> <raw path>"` (the website endpoint accepts any path, and answers other
//! methods itself). Answers other than a served object leave as errors tagged with
//! [`MARKER`]; the gateway turns their bodies into AWS's HTML pages (redirects have none).
//! An error document leaves as an object whose tag carries the status to answer with; when
//! it cannot be served, the error says why, for the page's second section.

use crate::S3Provider;
use crate::configs::from_json;
use crate::errors;
use crate::store::Bucket;
use nephos_core::{AwsError, Output, RequestContext, Value};
use percent_encoding::{NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

/// The user-metadata name (`x-amz-meta-nephos-website`) that tags website answers for
/// the gateway; never stored (see [`crate::objects::meta_from_input`]).
pub const MARKER: &str = "nephos-website";
const MARKER_HEADER: &str = "x-amz-meta-nephos-website";
/// On an error answer: why the error document could not be served, as
/// `Code=..&Message=..&Key=..` (percent-encoded); the page shows it in its own section.
const DOCUMENT_ERROR_HEADER: &str = "x-amz-meta-nephos-website-document-error";

/// The bucket a website endpoint host names: `<bucket>.s3-website.<anything>` or
/// `<bucket>.s3-website-<region>.<anything>`.
pub fn website_bucket(host: &str) -> Option<String> {
    let host = match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    };
    let host = host.to_ascii_lowercase();
    let labels: Vec<&str> = host.split('.').collect();
    let at = labels
        .iter()
        .position(|l| *l == "s3-website" || l.starts_with("s3-website-"))?;
    (at > 0).then(|| labels[..at].join("."))
}

fn redirect(status: u16, location: String) -> AwsError {
    let (code, message) = match status {
        302 => ("Found", "Resource Found"),
        _ => ("Moved", "Object moved"),
    };
    AwsError::new(status, code, message).with_header("Location", location)
}

/// Whether a routing rule's condition holds for `key` and (after a lookup) `status`.
fn condition_holds(rule: &Value, key: &str, status: Option<u16>) -> bool {
    let Some(c) = rule.get("Condition") else {
        return status.is_none();
    };
    let prefix_ok = c.str("KeyPrefixEquals").is_none_or(|p| key.starts_with(p));
    let code_ok = match (c.str("HttpErrorCodeReturnedEquals"), status) {
        (None, None) => true,
        (Some(want), Some(got)) => want.trim() == got.to_string(),
        _ => false,
    };
    prefix_ok && code_ok
}

/// Where a matching routing rule sends the request.
fn rule_redirect(rule: &Value, key: &str, host: &str) -> AwsError {
    let r = rule.get("Redirect");
    let get = |k: &str| r.and_then(|r| r.str(k));
    let protocol = get("Protocol").unwrap_or("http");
    let host = get("HostName").unwrap_or(host);
    let path = match (get("ReplaceKeyWith"), get("ReplaceKeyPrefixWith")) {
        (Some(k), _) => k.to_owned(),
        (None, Some(p)) => {
            let prefix = rule
                .get("Condition")
                .and_then(|c| c.str("KeyPrefixEquals"))
                .unwrap_or("");
            format!("{p}{}", key.strip_prefix(prefix).unwrap_or(key))
        }
        (None, None) => key.to_owned(),
    };
    let status = get("HttpRedirectCode")
        .and_then(|c| c.trim().parse::<u16>().ok())
        .filter(|c| (300..400).contains(c))
        .unwrap_or(301);
    redirect(status, format!("{protocol}://{host}/{path}"))
}

impl S3Provider {
    /// Answers GetObject/HeadObject when the request came to a website endpoint.
    pub(crate) fn website(
        &self,
        ctx: &RequestContext,
        input: &Value,
        with_body: bool,
    ) -> Option<Result<Output, AwsError>> {
        let bucket = website_bucket(ctx.host.as_deref()?)?;
        Some(
            self.website_get(ctx, &bucket, input, with_body)
                .map_err(|e| e.with_header(MARKER_HEADER, "error")),
        )
    }

    fn website_get(
        &self,
        ctx: &RequestContext,
        bucket: &str,
        input: &Value,
        with_body: bool,
    ) -> Result<Output, AwsError> {
        let raw = input.str("Key").unwrap_or_default();
        let (method, path) = raw.split_once(' ').unwrap_or(("GET", raw));
        if method != "GET" && method != "HEAD" {
            return Err(AwsError::new(
                405,
                "MethodNotAllowed",
                "The specified method is not allowed against this resource.",
            )
            .with_field("Method", method)
            .with_field("ResourceType", "OBJECT"));
        }
        let b = self
            .store
            .bucket(bucket)
            .ok_or_else(|| errors::no_such_bucket(bucket))?;
        let config = b.meta.read().unwrap().configs.get("website").map(from_json);
        let Some(config) = config else {
            return Err(AwsError::new(
                404,
                "NoSuchWebsiteConfiguration",
                "The specified bucket does not have a website configuration",
            )
            .with_field("BucketName", bucket));
        };
        let path = path.split('?').next().unwrap_or_default();
        let key = percent_decode_str(path.trim_start_matches('/'))
            .decode_utf8_lossy()
            .into_owned();
        let host = ctx.host.as_deref().unwrap_or("localhost");
        if let Some(all) = config.get("RedirectAllRequestsTo") {
            let protocol = all.str("Protocol").unwrap_or("http");
            let to = all.str("HostName").unwrap_or(host);
            return Err(redirect(301, format!("{protocol}://{to}/{key}")));
        }
        let rules = config
            .get("RoutingRules")
            .and_then(Value::as_list)
            .unwrap_or_default();
        if let Some(rule) = rules.iter().find(|r| condition_holds(r, &key, None)) {
            return Err(rule_redirect(rule, &key, host));
        }
        let index = config
            .get("IndexDocument")
            .and_then(|i| i.str("Suffix"))
            .unwrap_or("index.html");
        let wanted = if key.is_empty() || key.ends_with('/') {
            format!("{key}{index}")
        } else {
            key.clone()
        };
        let err = match self.website_object(ctx, &b, &wanted, input, with_body) {
            Ok(out) => return Ok(out),
            Err(e) if e.status != 403 && e.status != 404 => return Err(e),
            Err(e) => e,
        };
        // `dir` without its slash, when `dir/<index>` exists, is redirected to `dir/`.
        if !key.is_empty() && !key.ends_with('/') {
            let folder = format!("{key}/{index}");
            if b.latest(&folder).is_some_and(|v| !v.delete_marker)
                && self
                    .authorize_action(ctx, &b, Some(&folder), "s3:GetObject")
                    .is_ok()
            {
                return Err(redirect(302, format!("/{key}/")));
            }
        }
        if let Some(rule) = rules
            .iter()
            .find(|r| condition_holds(r, &key, Some(err.status)))
        {
            return Err(rule_redirect(rule, &key, host));
        }
        let error_doc = config
            .get("ErrorDocument")
            .and_then(|d| d.str("Key"))
            .map(str::to_owned);
        let Some(doc) = error_doc else {
            return Err(err);
        };
        match self.website_object(ctx, &b, &doc, input, with_body) {
            Ok(mut out) => {
                let mut meta = out
                    .value
                    .get("Metadata")
                    .cloned()
                    .unwrap_or_else(Value::map);
                meta.insert(MARKER, err.status.to_string());
                out.value.insert("Metadata", meta);
                Ok(out)
            }
            // An error document that redirects sends the browser on (AWS-recorded).
            Err(doc_err) if (300..400).contains(&doc_err.status) => Err(doc_err),
            Err(doc_err) => {
                let part = |v: &str| utf8_percent_encode(v, NON_ALPHANUMERIC).to_string();
                let why = format!(
                    "Code={}&Message={}&Key={}",
                    part(&doc_err.code),
                    part(&doc_err.message),
                    part(&doc)
                );
                Err(err.with_header(DOCUMENT_ERROR_HEADER, why))
            }
        }
    }

    /// One object as the website serves it: readable by the caller (anonymous callers
    /// through the bucket policy or ACLs), a redirect when it says so.
    fn website_object(
        &self,
        ctx: &RequestContext,
        b: &Bucket,
        key: &str,
        input: &Value,
        with_body: bool,
    ) -> Result<Output, AwsError> {
        let current = b.latest(key).filter(|v| !v.delete_marker);
        let Some(v) = current else {
            // A missing key has no ACL to grant s3:GetObject: who may list the bucket
            // learns that it is missing, anyone else is refused (AWS-recorded).
            return Err(match self.authorize_action(ctx, b, None, "s3:ListBucket") {
                Ok(()) => errors::no_such_key(key),
                Err(e) => e,
            });
        };
        self.authorize_action(ctx, b, Some(key), "s3:GetObject")?;
        if let Some(to) = &v.meta.website_redirect {
            return Err(redirect(301, to.clone()));
        }
        let mut read = Value::map().with("Bucket", b.name()).with("Key", key);
        for member in [
            "IfMatch",
            "IfNoneMatch",
            "IfModifiedSince",
            "IfUnmodifiedSince",
            "Range",
        ] {
            if let Some(x) = input.get(member) {
                read.insert(member, x.clone());
            }
        }
        self.read_object(ctx, &read, with_body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn website_hosts() {
        let b = |h| website_bucket(h);
        assert_eq!(b("site.s3-website.localhost:4566").as_deref(), Some("site"));
        assert_eq!(
            b("my.site.s3-website-us-east-1.amazonaws.com").as_deref(),
            Some("my.site")
        );
        assert_eq!(
            b("bkt.s3-website.eu-west-1.amazonaws.com").as_deref(),
            Some("bkt")
        );
        assert_eq!(
            b("bkt.s3-website.localhost.localstack.cloud:4566").as_deref(),
            Some("bkt")
        );
        assert_eq!(b("bkt.s3.localhost"), None);
        assert_eq!(b("s3-website.localhost"), None);
    }

    #[test]
    fn routing_rules() {
        let rule = Value::map()
            .with("Condition", Value::map().with("KeyPrefixEquals", "docs/"))
            .with(
                "Redirect",
                Value::map()
                    .with("ReplaceKeyPrefixWith", "documents/")
                    .with("HttpRedirectCode", "302"),
            );
        assert!(condition_holds(&rule, "docs/a.html", None));
        assert!(!condition_holds(&rule, "img/a.png", None));
        let e = rule_redirect(&rule, "docs/a.html", "h:1");
        assert_eq!(e.status, 302);
        assert_eq!(
            e.headers,
            vec![(
                "Location".to_owned(),
                "http://h:1/documents/a.html".to_owned()
            )]
        );
        let on404 = Value::map().with(
            "Condition",
            Value::map().with("HttpErrorCodeReturnedEquals", "404"),
        );
        assert!(!condition_holds(&on404, "x", None));
        assert!(condition_holds(&on404, "x", Some(404)));
        assert!(!condition_holds(&on404, "x", Some(403)));
    }
}
