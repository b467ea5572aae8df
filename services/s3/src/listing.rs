//! ListObjects (v1), ListObjectsV2 and ListObjectVersions: prefixes, delimiters and
//! common prefixes, markers and continuation tokens, `encoding-type=url`.

use crate::S3Provider;
use crate::errors;
use crate::store::{Version, owner_value};
use nephos_core::{AwsError, RequestContext, Timestamp, Value};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

/// What `encoding-type=url` leaves unescaped.
const URL_SAFE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// A key as it stands in a URL path (`/` kept).
pub fn url_path(key: &str) -> String {
    utf8_percent_encode(key, URL_SAFE).to_string()
}

/// An object's absolute URL as S3 reports it (CompleteMultipartUpload's and POST
/// Object's `Location`), on the host the client addressed: virtual-host style when that
/// host names the bucket, else path style, so the URL resolves wherever the request did.
pub fn object_url(host: Option<&str>, bucket: &str, key: &str) -> String {
    let host = host.unwrap_or("localhost:4566");
    let key = url_path(key);
    match host.strip_prefix(bucket).and_then(|h| h.strip_prefix('.')) {
        Some(_) => format!("http://{host}/{key}"),
        None => format!("http://{host}/{bucket}/{key}"),
    }
}

pub fn encode_token(after: &str) -> String {
    crate::store::b64_encode(after.as_bytes())
}

pub fn decode_token(token: &str) -> Option<String> {
    crate::store::b64_decode(token).and_then(|b| String::from_utf8(b).ok())
}

/// One entry of a listing page.
pub enum Item {
    Key(String),
    Prefix(String),
}

/// The smallest string above every key that starts with `p`.
fn past(p: &str) -> String {
    format!("{p}\u{10FFFF}")
}

/// Walks the keys of a bucket in order: those under `prefix`, strictly after `after`,
/// grouping by `delimiter`; keeps those `include` accepts; stops after `max` items.
/// Returns the items and whether more remain.
pub fn walk(
    objects: &BTreeMap<String, Vec<Arc<Version>>>,
    prefix: &str,
    delimiter: Option<&str>,
    after: Option<&str>,
    max: usize,
    include: impl Fn(&[Arc<Version>]) -> bool,
) -> (Vec<Item>, bool) {
    let delimiter = delimiter.filter(|d| !d.is_empty());
    let mut start: Bound<String> = Bound::Included(prefix.to_owned());
    if let Some(a) = after.filter(|a| a.as_bytes() >= prefix.as_bytes()) {
        // A marker inside a common prefix that was already returned skips the group.
        let group = delimiter.and_then(|d| {
            a.strip_prefix(prefix)
                .and_then(|rest| rest.find(d).map(|i| &a[..prefix.len() + i + d.len()]))
        });
        start = match group {
            Some(g) => Bound::Excluded(past(g)),
            None => Bound::Excluded(a.to_owned()),
        };
    }
    let mut items = Vec::new();
    let mut iter = objects.range::<String, _>((start, Bound::Unbounded));
    while let Some((k, versions)) = iter.next() {
        if !k.starts_with(prefix) {
            break;
        }
        if !include(versions) {
            continue;
        }
        if let Some(d) = delimiter
            && let Some(i) = k[prefix.len()..].find(d)
        {
            if items.len() == max {
                return (items, true);
            }
            let cp = k[..prefix.len() + i + d.len()].to_owned();
            iter = objects.range::<String, _>((Bound::Excluded(past(&cp)), Bound::Unbounded));
            items.push(Item::Prefix(cp));
            continue;
        }
        if items.len() == max {
            return (items, true);
        }
        items.push(Item::Key(k.clone()));
    }
    (items, false)
}

pub(crate) fn enc(s: &str, url: bool) -> String {
    if url {
        utf8_percent_encode(s, URL_SAFE).to_string()
    } else {
        s.to_owned()
    }
}

fn current(versions: &[Arc<Version>]) -> Option<&Arc<Version>> {
    versions.last().filter(|v| !v.delete_marker)
}

fn object_entry(v: &Version, url: bool, owner: Option<&str>) -> Value {
    let mut e = Value::map()
        .with("Key", enc(&v.key, url))
        .with("LastModified", Timestamp::from_millis(v.last_modified_ms))
        .with("ETag", v.etag.as_str())
        .with("Size", v.size as i64)
        .with(
            "StorageClass",
            v.meta.storage_class.as_deref().unwrap_or("STANDARD"),
        );
    if let Some(c) = &v.checksum {
        e.insert(
            "ChecksumAlgorithm",
            Value::List(vec![Value::from(c.algorithm.name())]),
        );
        e.insert("ChecksumType", c.kind.name());
    }
    if let Some(o) = owner {
        e.insert("Owner", owner_value(o));
    }
    e
}

fn max_keys(input: &Value, member: &str) -> usize {
    input.int(member).unwrap_or(1000).clamp(0, 1000) as usize
}

pub(crate) fn url_encoding(input: &Value) -> Result<bool, AwsError> {
    match input.str("EncodingType") {
        None => Ok(false),
        Some(e) if e.eq_ignore_ascii_case("url") => Ok(true),
        Some(e) => Err(errors::invalid_arg(
            "Invalid Encoding Method specified in Request",
            "encoding-type",
            Some(e),
        )),
    }
}

impl S3Provider {
    pub(crate) fn list_objects(
        &self,
        ctx: &RequestContext,
        input: &Value,
        v2: bool,
    ) -> Result<Value, AwsError> {
        let name = input.str("Bucket").unwrap_or_default();
        let b = self.bucket_for(ctx, name)?;
        let url = url_encoding(input)?;
        let prefix = input.str("Prefix").unwrap_or_default();
        let delimiter = input.str("Delimiter");
        let max = max_keys(input, "MaxKeys");
        let token = match input.str("ContinuationToken").filter(|_| v2) {
            // An empty token is no token S3 ever handed out.
            Some(t) => Some(decode_token(t).filter(|_| !t.is_empty()).ok_or_else(|| {
                errors::invalid_arg(
                    "The continuation token provided is incorrect",
                    "continuation-token",
                    Some(t).filter(|t| !t.is_empty()),
                )
            })?),
            None => None,
        };
        let after = if v2 {
            token.or_else(|| input.str("StartAfter").map(str::to_owned))
        } else {
            input.str("Marker").map(str::to_owned)
        };
        let owner = b.owner();
        let region = b.meta.read().unwrap().region.clone();
        let show_owner = !v2 || input.bool("FetchOwner") == Some(true);
        let objects = b.objects.read().unwrap();
        let (items, truncated) = walk(&objects, prefix, delimiter, after.as_deref(), max, |vs| {
            current(vs).is_some()
        });
        let mut contents = Vec::new();
        let mut prefixes = Vec::new();
        let mut last = None;
        for it in &items {
            match it {
                Item::Key(k) => {
                    if let Some(v) = objects.get(k).and_then(|vs| current(vs)) {
                        contents.push(object_entry(v, url, show_owner.then_some(owner.as_str())));
                    }
                    last = Some(k.clone());
                }
                Item::Prefix(p) => {
                    prefixes.push(Value::map().with("Prefix", enc(p, url)));
                    last = Some(p.clone());
                }
            }
        }
        drop(objects);
        let mut out = Value::map()
            .with("Name", name)
            .with("Prefix", enc(prefix, url))
            .with("MaxKeys", max as i64)
            .with("IsTruncated", truncated)
            // AWS names the bucket's region on listings as on HeadBucket (a models/ patch
            // binds the header).
            .with("BucketRegion", region);
        // An empty delimiter is no delimiter, and is not echoed.
        if let Some(d) = delimiter.filter(|d| !d.is_empty()) {
            out.insert("Delimiter", enc(d, url));
        }
        if url {
            out.insert("EncodingType", "url");
        }
        if v2 {
            out.insert("KeyCount", (contents.len() + prefixes.len()) as i64);
            if let Some(t) = input.str("ContinuationToken") {
                out.insert("ContinuationToken", t);
            }
            // With a continuation token, StartAfter no longer applies and is not echoed.
            if let Some(s) = input.str("StartAfter")
                && input.get("ContinuationToken").is_none()
            {
                out.insert("StartAfter", enc(s, url));
            }
            if truncated && let Some(l) = &last {
                out.insert("NextContinuationToken", encode_token(l));
            }
        } else {
            out.insert("Marker", enc(input.str("Marker").unwrap_or_default(), url));
            if truncated && let Some(l) = &last {
                out.insert("NextMarker", enc(l, url));
            }
        }
        if !contents.is_empty() {
            out.insert("Contents", Value::List(contents));
        }
        if !prefixes.is_empty() {
            out.insert("CommonPrefixes", Value::List(prefixes));
        }
        Ok(out)
    }

    pub(crate) fn list_object_versions(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let name = input.str("Bucket").unwrap_or_default();
        let b = self.bucket_for(ctx, name)?;
        let url = url_encoding(input)?;
        let prefix = input.str("Prefix").unwrap_or_default();
        let delimiter = input.str("Delimiter");
        let max = max_keys(input, "MaxKeys");
        let key_marker = input.str("KeyMarker").filter(|k| !k.is_empty());
        let vid_marker = input.str("VersionIdMarker").filter(|v| !v.is_empty());
        let owner = b.owner();
        let objects = b.objects.read().unwrap();
        let mut versions = Vec::new();
        let mut markers = Vec::new();
        let mut prefixes = Vec::new();
        let mut count = 0usize;
        let mut truncated = false;
        let mut next: Option<(String, Option<String>)> = None;
        // Versions of the marker key newer than (and including) the version marker were
        // on earlier pages.
        let mut resume: Option<(&str, &str)> = key_marker.zip(vid_marker);
        let after = match resume {
            // Include the marker key itself to continue within its versions.
            Some((k, _)) => objects
                .range::<String, _>((Bound::Unbounded, Bound::Excluded(k.to_owned())))
                .next_back()
                .map(|(k, _)| k.clone()),
            None => key_marker.map(str::to_owned),
        };
        let (items, more) = walk(
            &objects,
            prefix,
            delimiter,
            after.as_deref(),
            usize::MAX,
            |_| true,
        );
        'outer: for it in items {
            match it {
                Item::Prefix(p) => {
                    if count == max {
                        truncated = true;
                        break;
                    }
                    count += 1;
                    prefixes.push(Value::map().with("Prefix", enc(&p, url)));
                    next = Some((p, None));
                }
                Item::Key(k) => {
                    let Some(list) = objects.get(&k) else {
                        continue;
                    };
                    let mut skipping = match resume {
                        Some((rk, rv)) if rk == k => Some(rv),
                        _ => None,
                    };
                    if key_marker.is_some_and(|m| m == k) && skipping.is_none() {
                        continue;
                    }
                    for (i, v) in list.iter().rev().enumerate() {
                        if let Some(rv) = skipping {
                            if v.version_id == rv {
                                skipping = None;
                            }
                            continue;
                        }
                        if count == max {
                            truncated = true;
                            break 'outer;
                        }
                        count += 1;
                        let mut e = Value::map()
                            .with("Key", enc(&v.key, url))
                            .with("VersionId", v.version_id.as_str())
                            .with("IsLatest", i == 0)
                            .with("LastModified", Timestamp::from_millis(v.last_modified_ms))
                            .with("Owner", owner_value(&owner));
                        if v.delete_marker {
                            markers.push(e);
                        } else {
                            let o = object_entry(v, url, None);
                            for f in [
                                "ETag",
                                "Size",
                                "StorageClass",
                                "ChecksumAlgorithm",
                                "ChecksumType",
                            ] {
                                if let Some(x) = o.get(f) {
                                    e.insert(f, x.clone());
                                }
                            }
                            versions.push(e);
                        }
                        next = Some((k.clone(), Some(v.version_id.clone())));
                    }
                    resume = None;
                }
            }
        }
        truncated = truncated || (more && count == max);
        drop(objects);
        let mut out = Value::map()
            .with("Name", name)
            .with("Prefix", enc(prefix, url))
            .with("KeyMarker", enc(key_marker.unwrap_or_default(), url))
            .with("VersionIdMarker", vid_marker.unwrap_or_default())
            .with("MaxKeys", max as i64)
            .with("IsTruncated", truncated);
        // An empty delimiter is no delimiter, and is not echoed.
        if let Some(d) = delimiter.filter(|d| !d.is_empty()) {
            out.insert("Delimiter", enc(d, url));
        }
        if url {
            out.insert("EncodingType", "url");
        }
        if truncated && let Some((k, v)) = next {
            out.insert("NextKeyMarker", enc(&k, url));
            // A page that ends on a common prefix names no version (AWS-recorded): the
            // next page starts past the whole prefix, not within a key's versions.
            if let Some(v) = v {
                out.insert("NextVersionIdMarker", v);
            }
        }
        if !versions.is_empty() {
            out.insert("Versions", Value::List(versions));
        }
        if !markers.is_empty() {
            out.insert("DeleteMarkers", Value::List(markers));
        }
        if !prefixes.is_empty() {
            out.insert("CommonPrefixes", Value::List(prefixes));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{BodyRef, ObjectMeta};

    fn objects(keys: &[&str]) -> BTreeMap<String, Vec<Arc<Version>>> {
        keys.iter()
            .map(|k| {
                let v = Version {
                    bucket: "b".into(),
                    key: (*k).into(),
                    version_id: "null".into(),
                    seq: 1,
                    delete_marker: false,
                    last_modified_ms: 0,
                    etag: String::new(),
                    size: 0,
                    body: BodyRef::Inline(Default::default()),
                    meta: ObjectMeta::default(),
                    tags: Vec::new(),
                    checksum: None,
                    parts: Vec::new(),
                };
                ((*k).to_owned(), vec![Arc::new(v)])
            })
            .collect()
    }

    fn names(items: &[Item]) -> Vec<String> {
        items
            .iter()
            .map(|i| match i {
                Item::Key(k) => k.clone(),
                Item::Prefix(p) => format!("P:{p}"),
            })
            .collect()
    }

    #[test]
    fn delimiters_group_and_pages_resume() {
        let o = objects(&["a/1", "a/2", "b", "c/x/1", "c/y", "d"]);
        let (items, more) = walk(&o, "", Some("/"), None, 10, |_| true);
        assert_eq!(names(&items), ["P:a/", "b", "P:c/", "d"]);
        assert!(!more);
        let (items, more) = walk(&o, "", Some("/"), None, 2, |_| true);
        assert_eq!(names(&items), ["P:a/", "b"]);
        assert!(more);
        let (items, _) = walk(&o, "", Some("/"), Some("a/"), 10, |_| true);
        assert_eq!(names(&items), ["b", "P:c/", "d"]);
        let (items, _) = walk(&o, "c/", Some("/"), None, 10, |_| true);
        assert_eq!(names(&items), ["P:c/x/", "c/y"]);
        let (items, _) = walk(&o, "", None, Some("b"), 10, |_| true);
        assert_eq!(names(&items), ["c/x/1", "c/y", "d"]);
    }
}
