//! Lifecycle configuration (validated as S3 does) and the background task that applies
//! it on the shared clock: expirations, noncurrent-version expirations, transitions
//! (storage class changes) and aborts of stale multipart uploads. The task runs every
//! hour of (possibly advanced) clock time and goes through the ordinary handlers, so
//! every deletion is committed like a client's.

use crate::S3Provider;
use crate::errors;
use crate::store::{Bucket, T_OBJECTS, Version};
use nephos_core::{AwsError, Clock, RequestContext, Timestamp, Value};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Weak};

const DAY_MS: i64 = 86_400_000;

/// TransitionDefaultMinimumObjectSize: what a configuration gets when it names none.
const DEFAULT_MIN_SIZE: &str = "all_storage_classes_128K";
const MIN_SIZES: [&str; 2] = ["all_storage_classes_128K", "varies_by_storage_class"];

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Filter {
    pub prefix: Option<String>,
    pub tags: Vec<(String, String)>,
    pub size_gt: Option<i64>,
    pub size_lt: Option<i64>,
    /// How the filter was written: `Prefix` (legacy, outside Filter), `Filter`, `And`.
    pub form: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    pub days: Option<i64>,
    pub date_ms: Option<i64>,
    pub storage_class: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    pub id: Option<String>,
    pub enabled: bool,
    pub filter: Filter,
    pub expiration_days: Option<i64>,
    pub expiration_date_ms: Option<i64>,
    pub expired_delete_marker: Option<bool>,
    pub noncurrent_days: Option<i64>,
    pub newer_noncurrent: Option<i64>,
    pub transitions: Vec<Transition>,
    pub abort_days: Option<i64>,
}

fn invalid(msg: &str) -> AwsError {
    errors::invalid_argument(msg)
}

fn date_of(v: &Value, key: &str) -> Result<Option<i64>, AwsError> {
    match v.get(key) {
        Some(Value::Timestamp(t)) => {
            let ms = t.as_millis();
            if ms % DAY_MS != 0 {
                return Err(errors::invalid_arg(
                    "'Date' must be at midnight GMT",
                    "Date",
                    Some(&t.to_iso8601()),
                ));
            }
            Ok(Some(ms))
        }
        _ => Ok(None),
    }
}

fn tags_of(v: Option<&Value>) -> Vec<(String, String)> {
    v.and_then(Value::as_list)
        .unwrap_or_default()
        .iter()
        .map(|t| {
            (
                t.str("Key").unwrap_or_default().to_owned(),
                t.str("Value").unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// Reads and checks a `LifecycleConfiguration`.
pub fn parse(config: Option<&Value>) -> Result<Vec<Rule>, AwsError> {
    let rules = config
        .and_then(|c| c.get("Rules"))
        .and_then(Value::as_list)
        .unwrap_or_default();
    if rules.is_empty() || rules.len() > 1000 {
        return Err(errors::malformed_xml());
    }
    let mut out: Vec<Rule> = Vec::new();
    for r in rules {
        // A rule without an ID gets one, as S3 names it: base64 of a UUID.
        let id = Some(
            r.str("ID")
                .map(str::to_owned)
                .unwrap_or_else(|| crate::store::b64_encode(nephos_core::request_id().as_bytes())),
        );
        if id.as_ref().is_some_and(|i| i.chars().count() > 255) {
            return Err(invalid("ID length should not exceed allowed limit of 255"));
        }
        if id.is_some() && out.iter().any(|o| o.id == id) {
            return Err(invalid(
                "RuleId must be unique. Found same ID for more than one rule",
            ));
        }
        let filter = match (r.get("Filter"), r.str("Prefix")) {
            // A rule names its objects with a Filter or a legacy Prefix: one of the two.
            (Some(_), Some(_)) | (None, None) => return Err(errors::malformed_xml()),
            (None, p) => Filter {
                prefix: p.map(str::to_owned),
                form: "Prefix".into(),
                ..Filter::default()
            },
            (Some(f), None) => {
                let set = [
                    "Prefix",
                    "Tag",
                    "And",
                    "ObjectSizeGreaterThan",
                    "ObjectSizeLessThan",
                ]
                .iter()
                .filter(|k| f.get(k).is_some())
                .count();
                if set > 1 {
                    return Err(errors::malformed_xml());
                }
                match f.get("And") {
                    Some(a) => Filter {
                        prefix: a.str("Prefix").map(str::to_owned),
                        tags: tags_of(a.get("Tags")),
                        size_gt: a.int("ObjectSizeGreaterThan"),
                        size_lt: a.int("ObjectSizeLessThan"),
                        form: "And".into(),
                    },
                    None => Filter {
                        prefix: f.str("Prefix").map(str::to_owned),
                        tags: f
                            .get("Tag")
                            .map(|t| {
                                vec![(
                                    t.str("Key").unwrap_or_default().to_owned(),
                                    t.str("Value").unwrap_or_default().to_owned(),
                                )]
                            })
                            .unwrap_or_default(),
                        size_gt: f.int("ObjectSizeGreaterThan"),
                        size_lt: f.int("ObjectSizeLessThan"),
                        form: "Filter".into(),
                    },
                }
            }
        };
        for (i, (k, _)) in filter.tags.iter().enumerate() {
            if filter.tags[..i].iter().any(|(x, _)| x == k) {
                return Err(errors::invalid_request(
                    "Duplicate Tag Keys are not allowed.",
                ));
            }
        }
        if let (Some(gt), Some(lt)) = (filter.size_gt, filter.size_lt)
            && gt >= lt
        {
            return Err(invalid(
                "ObjectSizeGreaterThan must be less than ObjectSizeLessThan in the And operator",
            ));
        }
        let exp = r.get("Expiration");
        let expiration_days = exp.and_then(|e| e.int("Days"));
        let expiration_date_ms = match exp {
            Some(e) => date_of(e, "Date")?,
            None => None,
        };
        let expired_delete_marker = exp.and_then(|e| e.bool("ExpiredObjectDeleteMarker"));
        let given = [
            expiration_days.is_some(),
            expiration_date_ms.is_some(),
            expired_delete_marker.is_some(),
        ]
        .iter()
        .filter(|x| **x)
        .count();
        if exp.is_some() && given != 1 {
            return Err(errors::malformed_xml());
        }
        if expiration_days.is_some_and(|d| d <= 0) {
            return Err(invalid(
                "'Days' for Expiration action must be a positive integer",
            ));
        }
        if expired_delete_marker.is_some() && !filter.tags.is_empty() {
            return Err(invalid(
                "ExpiredObjectDeleteMarker cannot be specified with object tag filters",
            ));
        }
        let nce = r.get("NoncurrentVersionExpiration");
        let noncurrent_days = nce.and_then(|n| n.int("NoncurrentDays"));
        if nce.is_some() && noncurrent_days.is_none() {
            return Err(errors::malformed_xml());
        }
        if noncurrent_days.is_some_and(|d| d <= 0) {
            return Err(invalid(
                "'NoncurrentDays' for NoncurrentVersionExpiration action must be a positive integer",
            ));
        }
        let mut transitions = Vec::new();
        for t in r
            .get("Transitions")
            .and_then(Value::as_list)
            .unwrap_or_default()
        {
            let days = t.int("Days");
            let date_ms = date_of(t, "Date")?;
            if days.is_some() == date_ms.is_some() {
                return Err(errors::malformed_xml());
            }
            if days.is_some_and(|d| d < 0) {
                return Err(invalid("'Days' in Transition action must be nonnegative"));
            }
            let storage_class = t.str("StorageClass").ok_or_else(errors::malformed_xml)?;
            transitions.push(Transition {
                days,
                date_ms,
                storage_class: storage_class.to_owned(),
            });
        }
        let abort_days = r
            .get("AbortIncompleteMultipartUpload")
            .and_then(|a| a.int("DaysAfterInitiation"));
        if abort_days.is_some_and(|d| d <= 0) {
            return Err(invalid(
                "'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be a positive integer",
            ));
        }
        if abort_days.is_some() && !filter.tags.is_empty() {
            return Err(invalid(
                "Tag-based filter cannot be used with AbortIncompleteMultipartUpload action",
            ));
        }
        let rule = Rule {
            id,
            enabled: r.str("Status") == Some("Enabled"),
            filter,
            expiration_days,
            expiration_date_ms,
            expired_delete_marker,
            noncurrent_days,
            newer_noncurrent: nce.and_then(|n| n.int("NewerNoncurrentVersions")),
            transitions,
            abort_days,
        };
        if rule.expiration_days.is_none()
            && rule.expiration_date_ms.is_none()
            && rule.expired_delete_marker.is_none()
            && rule.noncurrent_days.is_none()
            && rule.transitions.is_empty()
            && rule.abort_days.is_none()
            && r.get("NoncurrentVersionTransitions").is_none()
        {
            return Err(errors::invalid_request(
                "At least one action needs to be specified in a rule",
            ));
        }
        out.push(rule);
    }
    Ok(out)
}

fn tag_list(tags: &[(String, String)]) -> Value {
    crate::buckets::tag_set(tags)
}

pub fn to_value(rules: &[Rule]) -> Value {
    Value::List(
        rules
            .iter()
            .map(|r| {
                let mut v =
                    Value::map().with("Status", if r.enabled { "Enabled" } else { "Disabled" });
                if let Some(id) = &r.id {
                    v.insert("ID", id.as_str());
                }
                let f = &r.filter;
                match f.form.as_str() {
                    "Prefix" => v.insert("Prefix", f.prefix.clone().unwrap_or_default()),
                    "And" => {
                        let mut a = Value::map();
                        if let Some(p) = &f.prefix {
                            a.insert("Prefix", p.as_str());
                        }
                        if !f.tags.is_empty() {
                            a.insert("Tags", tag_list(&f.tags));
                        }
                        if let Some(x) = f.size_gt {
                            a.insert("ObjectSizeGreaterThan", x);
                        }
                        if let Some(x) = f.size_lt {
                            a.insert("ObjectSizeLessThan", x);
                        }
                        v.insert("Filter", Value::map().with("And", a));
                    }
                    _ => {
                        let mut fv = Value::map();
                        if let Some(p) = &f.prefix {
                            fv.insert("Prefix", p.as_str());
                        }
                        if let Some((k, val)) = f.tags.first() {
                            fv.insert(
                                "Tag",
                                Value::map()
                                    .with("Key", k.as_str())
                                    .with("Value", val.as_str()),
                            );
                        }
                        if let Some(x) = f.size_gt {
                            fv.insert("ObjectSizeGreaterThan", x);
                        }
                        if let Some(x) = f.size_lt {
                            fv.insert("ObjectSizeLessThan", x);
                        }
                        v.insert("Filter", fv);
                    }
                }
                let mut exp = Value::map();
                if let Some(d) = r.expiration_days {
                    exp.insert("Days", d);
                }
                if let Some(d) = r.expiration_date_ms {
                    exp.insert("Date", Timestamp::from_millis(d));
                }
                if let Some(m) = r.expired_delete_marker {
                    exp.insert("ExpiredObjectDeleteMarker", m);
                }
                if !exp.as_map().is_none_or(|m| m.is_empty()) {
                    v.insert("Expiration", exp);
                }
                if let Some(d) = r.noncurrent_days {
                    let mut n = Value::map().with("NoncurrentDays", d);
                    if let Some(k) = r.newer_noncurrent {
                        n.insert("NewerNoncurrentVersions", k);
                    }
                    v.insert("NoncurrentVersionExpiration", n);
                }
                if !r.transitions.is_empty() {
                    let ts = r
                        .transitions
                        .iter()
                        .map(|t| {
                            let mut x = Value::map().with("StorageClass", t.storage_class.as_str());
                            if let Some(d) = t.days {
                                x.insert("Days", d);
                            }
                            if let Some(d) = t.date_ms {
                                x.insert("Date", Timestamp::from_millis(d));
                            }
                            x
                        })
                        .collect();
                    v.insert("Transitions", Value::List(ts));
                }
                if let Some(d) = r.abort_days {
                    v.insert(
                        "AbortIncompleteMultipartUpload",
                        Value::map().with("DaysAfterInitiation", d),
                    );
                }
                v
            })
            .collect(),
    )
}

/// S3 acts on the first midnight (UTC) after `ms + days`.
fn due(ms: i64, days: i64) -> i64 {
    let t = ms + days * DAY_MS;
    (t + DAY_MS - 1).div_euclid(DAY_MS) * DAY_MS
}

impl Filter {
    pub fn matches(&self, key: &str, v: &Version) -> bool {
        self.prefix.as_deref().is_none_or(|p| key.starts_with(p))
            && self.tags.iter().all(|t| v.tags.contains(t))
            && self.size_gt.is_none_or(|g| v.size as i64 > g)
            && self.size_lt.is_none_or(|l| (v.size as i64) < l)
    }
}

/// The `x-amz-expiration` header of an object's current version: when the first enabled
/// rule that expires it will (`expiry-date="Fri, 23 Dec 2023 00:00:00 GMT",
/// rule-id="..."`).
pub fn expiration_header(rules: &[Rule], v: &Version) -> Option<String> {
    if v.delete_marker {
        return None;
    }
    rules
        .iter()
        .filter(|r| r.enabled && r.filter.matches(&v.key, v))
        .find_map(|r| {
            let at = match (r.expiration_days, r.expiration_date_ms) {
                (Some(d), _) => due(v.last_modified_ms, d),
                (None, Some(d)) => d,
                (None, None) => return None,
            };
            Some(format!(
                "expiry-date=\"{}\", rule-id=\"{}\"",
                Timestamp::from_millis(at).to_http_date(),
                r.id.as_deref().unwrap_or_default()
            ))
        })
}

/// What one pass decided for a bucket.
#[derive(Default)]
struct Work {
    delete_current: Vec<String>,
    delete_versions: Vec<(String, String)>,
    transition: Vec<(String, String, String)>,
    abort: Vec<(String, String)>,
}

fn plan(b: &Bucket, rules: &[Rule], now: i64) -> Work {
    let mut w = Work::default();
    let objects = b.objects.read().unwrap();
    for (key, versions) in objects.iter() {
        let Some(current) = versions.last() else {
            continue;
        };
        for r in rules.iter().filter(|r| r.enabled) {
            if !current.delete_marker && r.filter.matches(key, current) {
                let expired = r
                    .expiration_days
                    .is_some_and(|d| now >= due(current.last_modified_ms, d))
                    || r.expiration_date_ms.is_some_and(|d| now >= d);
                if expired {
                    w.delete_current.push(key.clone());
                    break;
                }
                if let Some(t) = r.transitions.iter().rev().find(|t| {
                    t.days
                        .is_some_and(|d| now >= due(current.last_modified_ms, d))
                        || t.date_ms.is_some_and(|d| now >= d)
                }) && current.meta.storage_class.as_deref().unwrap_or("STANDARD")
                    != t.storage_class
                {
                    w.transition.push((
                        key.clone(),
                        current.version_id.clone(),
                        t.storage_class.clone(),
                    ));
                }
            }
            if current.delete_marker
                && versions.len() == 1
                && r.expired_delete_marker == Some(true)
                && r.filter
                    .prefix
                    .as_deref()
                    .is_none_or(|p| key.starts_with(p))
            {
                w.delete_versions
                    .push((key.clone(), current.version_id.clone()));
            }
            if let Some(days) = r.noncurrent_days {
                // A version becomes noncurrent when its successor is written.
                let n = versions.len();
                for i in 0..n.saturating_sub(1) {
                    let v = &versions[i];
                    let newer_noncurrent = (n - 2 - i) as i64;
                    if r.newer_noncurrent.is_some_and(|k| newer_noncurrent < k) {
                        continue;
                    }
                    if r.filter.matches(key, v)
                        && now >= due(versions[i + 1].last_modified_ms, days)
                    {
                        w.delete_versions.push((key.clone(), v.version_id.clone()));
                    }
                }
            }
        }
    }
    drop(objects);
    for r in rules.iter().filter(|r| r.enabled) {
        if let Some(days) = r.abort_days {
            for up in b.uploads.lock().unwrap().values() {
                if r.filter
                    .prefix
                    .as_deref()
                    .is_none_or(|p| up.key.starts_with(p))
                    && now >= due(up.initiated_ms, days)
                {
                    w.abort.push((up.key.clone(), up.upload_id.clone()));
                }
            }
        }
    }
    w.delete_versions.sort();
    w.delete_versions.dedup();
    w
}

impl S3Provider {
    /// Starts the lifecycle task; it ends when the provider is dropped.
    pub(crate) fn start_lifecycle(self: &Arc<Self>, clock: Arc<Clock>) {
        if tokio::runtime::Handle::try_current().is_err() {
            return;
        }
        let me: Weak<S3Provider> = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let Some(p) = me.upgrade() else { return };
                p.lifecycle_pass(&clock).await;
                drop(p);
                clock.sleep_until(clock.now_millis() + 3_600_000).await;
            }
        });
    }

    pub async fn lifecycle_pass(&self, clock: &Arc<Clock>) {
        let now = clock.now_millis();
        let buckets: Vec<Arc<Bucket>> = self
            .store
            .buckets
            .read()
            .unwrap()
            .values()
            .cloned()
            .collect();
        for b in buckets {
            let (rules, owner, name) = {
                let m = b.meta.read().unwrap();
                (m.lifecycle.clone(), m.owner.clone(), m.name.clone())
            };
            let Some(rules) = rules else { continue };
            let work = plan(&b, &rules, now);
            let ctx = |op: &str| {
                let mut c = RequestContext::internal("s3", op, clock.clone());
                c.account_id = owner.clone();
                c.access_key_id = Some(owner.clone());
                c
            };
            let base = Value::map().with("Bucket", name.as_str());
            for key in work.delete_current {
                let input = base.clone().with("Key", key);
                if let Err(e) = self.delete_object(&ctx("DeleteObject"), &input).await {
                    tracing::warn!(error = %e.message, "lifecycle expiration failed");
                }
            }
            for (key, version) in work.delete_versions {
                let input = base.clone().with("Key", key).with("VersionId", version);
                if let Err(e) = self.delete_object(&ctx("DeleteObject"), &input).await {
                    tracing::warn!(error = %e.message, "lifecycle version expiration failed");
                }
            }
            for (key, upload) in work.abort {
                let input = base.clone().with("Key", key).with("UploadId", upload);
                if let Err(e) = self
                    .abort_multipart_upload(&ctx("AbortMultipartUpload"), &input)
                    .await
                {
                    tracing::warn!(error = %e.message, "lifecycle abort failed");
                }
            }
            for (key, version, class) in work.transition {
                let Some(v) = b.version(&key, &version) else {
                    continue;
                };
                let mut updated = (*v).clone();
                updated.meta.storage_class = Some(class);
                let batch = self.store.put(T_OBJECTS, updated.storage_key(), &updated);
                if self.store.commit(batch).await.is_err() {
                    continue;
                }
                if let Some(list) = b.objects.write().unwrap().get_mut(&key)
                    && let Some(slot) = list.iter_mut().find(|x| x.version_id == version)
                {
                    *slot = Arc::new(updated);
                }
            }
        }
    }

    pub(crate) async fn put_bucket_lifecycle(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let b = self.owned_bucket(ctx, input.str("Bucket").unwrap_or_default())?;
        let min_size = match input.str("TransitionDefaultMinimumObjectSize") {
            None => DEFAULT_MIN_SIZE,
            Some(m) if MIN_SIZES.contains(&m) => m,
            Some(m) => {
                return Err(errors::invalid_request(format!(
                    "Invalid TransitionDefaultMinimumObjectSize found: {m}"
                )));
            }
        };
        let rules = parse(input.get("LifecycleConfiguration"))?;
        {
            let mut m = b.meta.write().unwrap();
            m.lifecycle = Some(rules);
            m.lifecycle_min_size = Some(min_size.to_owned());
        }
        self.save_bucket(&b).await?;
        Ok(Value::map().with("TransitionDefaultMinimumObjectSize", min_size))
    }

    pub(crate) fn get_bucket_lifecycle(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let name = input.str("Bucket").unwrap_or_default();
        let b = self.owned_bucket(ctx, name)?;
        let (rules, min_size) = {
            let m = b.meta.read().unwrap();
            (m.lifecycle.clone(), m.lifecycle_min_size.clone())
        };
        match rules {
            Some(r) => Ok(Value::map().with("Rules", to_value(&r)).with(
                "TransitionDefaultMinimumObjectSize",
                min_size.unwrap_or_else(|| DEFAULT_MIN_SIZE.to_owned()),
            )),
            None => Err(AwsError::new(
                404,
                "NoSuchLifecycleConfiguration",
                "The lifecycle configuration does not exist",
            )
            .with_field("BucketName", name)),
        }
    }

    pub(crate) async fn delete_bucket_lifecycle(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        self.clear_bucket_setting(ctx, input, |m| m.lifecycle = None)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_rounds_to_the_next_midnight() {
        assert_eq!(due(0, 1), DAY_MS);
        assert_eq!(due(1, 1), 2 * DAY_MS);
        assert_eq!(due(DAY_MS - 1, 2), 3 * DAY_MS);
    }

    #[test]
    fn validation() {
        let rule = |r: Value| parse(Some(&Value::map().with("Rules", Value::List(vec![r]))));
        let base = || {
            Value::map()
                .with("Status", "Enabled")
                .with("Filter", Value::map())
        };
        assert_eq!(rule(base()).unwrap_err().code, "InvalidRequest");
        let ok = rule(base().with("Expiration", Value::map().with("Days", 3))).unwrap();
        assert_eq!(ok[0].expiration_days, Some(3));
        assert_eq!(
            rule(base().with("Expiration", Value::map().with("Days", 0)))
                .unwrap_err()
                .code,
            "InvalidArgument"
        );
    }
}
