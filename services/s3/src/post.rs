//! POST Object: browser-based uploads. A `multipart/form-data` form posted to the bucket
//! carries the key, the object's headers as fields, a base64 JSON policy (expiration and
//! conditions every field must meet) signed with SigV4 or SigV2 fields, and the file.
//! The model has no operation for it; the gateway hands the request over whole
//! ([`nephos_core::Provider::handle_raw`]) and the form is parsed here, then stored
//! through PutObject's handler.

use crate::S3Provider;
use crate::errors;
use bytes::Bytes;
use nephos_core::{AwsError, ByteStream, Input, RawRequest, RawResponse, RequestContext, Value};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

/// One part of a `multipart/form-data` body.
#[derive(Debug)]
struct Field {
    name: String,
    filename: Option<String>,
    data: Bytes,
}

/// The boundary of a `multipart/form-data` content type.
fn boundary(content_type: &str) -> Option<String> {
    let mut params = content_type.split(';');
    let kind = params.next()?.trim();
    if !kind.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| v.trim().trim_matches('"').to_owned())
    })
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    (from..=hay.len() - needle.len()).find(|&i| &hay[i..i + needle.len()] == needle)
}

/// A parameter of a `Content-Disposition` header (`name="file"`).
fn disposition_param(header: &str, param: &str) -> Option<String> {
    header.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(param)
            .then(|| v.trim().trim_matches('"').to_owned())
    })
}

/// The largest POST Object form nephos takes (it is parsed in memory).
const MAX_FORM_BYTES: usize = 100 * 1024 * 1024;

/// Parses a `multipart/form-data` body as POST Object does: the number of fields, or the
/// error AWS would give. Public for the fuzz target (`fuzz/fuzz_targets/s3_post_form.rs`).
pub fn count_form_fields(body: &[u8], boundary: &str) -> Result<usize, AwsError> {
    parse_form(&Bytes::copy_from_slice(body), boundary).map(|f| f.len())
}

fn parse_form(body: &Bytes, boundary: &str) -> Result<Vec<Field>, AwsError> {
    let malformed =
        || errors::invalid_argument("POST body is not a valid multipart/form-data document");
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    let mut at = find(body, delimiter, 0).ok_or_else(malformed)? + delimiter.len();
    let mut fields = Vec::new();
    loop {
        if body[at..].starts_with(b"--") {
            return Ok(fields);
        }
        // The line break after the delimiter.
        at = find(body, b"\r\n", at).ok_or_else(malformed)? + 2;
        let head_end = find(body, b"\r\n\r\n", at).ok_or_else(malformed)?;
        let head = String::from_utf8_lossy(&body[at..head_end]).into_owned();
        let data_start = head_end + 4;
        let mut next_delim = Vec::with_capacity(delimiter.len() + 2);
        next_delim.extend_from_slice(b"\r\n");
        next_delim.extend_from_slice(delimiter);
        let data_end = find(body, &next_delim, data_start).ok_or_else(malformed)?;
        let disposition = head
            .split("\r\n")
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.trim()
                    .eq_ignore_ascii_case("content-disposition")
                    .then(|| v.trim().to_owned())
            })
            .unwrap_or_default();
        if let Some(name) = disposition_param(&disposition, "name") {
            fields.push(Field {
                name,
                filename: disposition_param(&disposition, "filename"),
                data: body.slice(data_start..data_end),
            });
        }
        at = data_end + next_delim.len();
    }
}

/// The form's fields by lower-case name (the first of each), the file apart.
struct Form {
    fields: Vec<(String, String)>,
    file: Option<Field>,
}

impl Form {
    fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn form_of(parsed: Vec<Field>) -> Form {
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut file = None;
    for f in parsed {
        // S3 ignores whatever follows the file.
        if f.name.eq_ignore_ascii_case("file") {
            file = Some(f);
            break;
        }
        if fields.iter().all(|(k, _)| !k.eq_ignore_ascii_case(&f.name)) {
            fields.push((f.name, String::from_utf8_lossy(&f.data).into_owned()));
        }
    }
    Form { fields, file }
}

fn missing_field(name: &str) -> AwsError {
    AwsError::new(
        400,
        "InvalidArgument",
        format!(
            "Bucket POST must contain a field named '{name}'.  If it is specified, please check the order of the fields."
        ),
    )
    .with_field("ArgumentName", name)
    .with_field("ArgumentValue", "")
}

fn policy_denied(why: &str) -> AwsError {
    AwsError::new(
        403,
        "AccessDenied",
        format!("Invalid according to Policy: {why}"),
    )
}

/// The access key of the form's signature fields; checks they are all there.
fn signing_key(form: &Form) -> Result<Option<String>, AwsError> {
    let v4 = ["x-amz-algorithm", "x-amz-credential", "x-amz-signature"];
    if v4.iter().any(|f| form.get(f).is_some()) || form.get("x-amz-date").is_some() {
        for (field, name) in
            v4.iter()
                .zip(["X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature"])
        {
            if form.get(field).is_none() {
                return Err(missing_field(name));
            }
        }
        let credential = form.get("x-amz-credential").unwrap_or_default();
        return Ok(credential.split('/').next().map(str::to_owned));
    }
    if form.get("awsaccesskeyid").is_some() || form.get("signature").is_some() {
        for (field, name) in [
            ("awsaccesskeyid", "AWSAccessKeyId"),
            ("signature", "Signature"),
        ] {
            if form.get(field).is_none() {
                return Err(missing_field(name));
            }
        }
        return Ok(form.get("awsaccesskeyid").map(str::to_owned));
    }
    Err(errors::access_denied())
}

/// Milliseconds since the epoch of an ISO 8601 UTC time (`2026-01-02T03:04:05.000Z`).
fn iso8601_millis(s: &str) -> Option<i64> {
    let s = s.trim().strip_suffix('Z')?;
    let (date, time) = s.split_once('T')?;
    let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let mut t = hms.split(':').map(|p| p.parse::<i64>().ok());
    let (h, min, sec) = (t.next()??, t.next()??, t.next()??);
    let ms: i64 = format!("{frac:0<3}")[..3].parse().ok()?;
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 24 + h) * 60 + min) * 60_000 + sec * 1000 + ms)
}

/// A condition as S3 quotes it in its errors: `["eq", "$key", "a"]`.
fn quoted(items: &[&serde_json::Value]) -> String {
    let parts: Vec<String> = items.iter().map(|v| v.to_string()).collect();
    format!("[{}]", parts.join(", "))
}

fn as_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn as_size(v: &serde_json::Value) -> Option<u64> {
    match v {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The value a policy condition checks: a form field, or the bucket.
fn field_value<'a>(form: &'a Form, bucket: &'a str, name: &str) -> Option<&'a str> {
    let name = name.strip_prefix('$').unwrap_or(name);
    if name.eq_ignore_ascii_case("bucket") {
        return Some(bucket);
    }
    form.get(name)
}

/// Checks the policy's expiration and conditions against the form.
fn check_policy(
    policy: &str,
    form: &Form,
    bucket: &str,
    file_size: u64,
    now_ms: i64,
) -> Result<(), AwsError> {
    let invalid =
        |m: &str| AwsError::new(400, "InvalidPolicyDocument", format!("Invalid Policy: {m}"));
    use base64::Engine;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(policy.trim())
        .map_err(|_| invalid("Invalid 'POST' form policy document."))?;
    let doc: serde_json::Value =
        serde_json::from_slice(&raw).map_err(|_| invalid("Invalid JSON."))?;
    let expiration = doc
        .get("expiration")
        .and_then(|e| e.as_str())
        .ok_or_else(|| invalid("Policy missing expiration."))?;
    let expires_ms = iso8601_millis(expiration)
        .ok_or_else(|| invalid(&format!("Invalid 'expiration' value: '{expiration}'")))?;
    if expires_ms < now_ms {
        return Err(policy_denied("Policy expired."));
    }
    let conditions = doc
        .get("conditions")
        .and_then(|c| c.as_array())
        .cloned()
        .unwrap_or_default();
    for c in &conditions {
        match c {
            serde_json::Value::Object(m) => {
                for (name, expected) in m {
                    let ok = as_text(expected)
                        .is_some_and(|e| field_value(form, bucket, name) == Some(e.as_str()));
                    if !ok {
                        let field = serde_json::Value::String(format!("${name}"));
                        let op = serde_json::Value::String("eq".into());
                        return Err(policy_denied(&format!(
                            "Policy Condition failed: {}",
                            quoted(&[&op, &field, expected])
                        )));
                    }
                }
            }
            serde_json::Value::Array(items) if items.len() == 3 => {
                let failed = || {
                    let refs: Vec<&serde_json::Value> = items.iter().collect();
                    policy_denied(&format!("Policy Condition failed: {}", quoted(&refs)))
                };
                let op = items[0].as_str().unwrap_or_default().to_ascii_lowercase();
                match op.as_str() {
                    "content-length-range" => {
                        let (Some(min), Some(max)) = (as_size(&items[1]), as_size(&items[2]))
                        else {
                            return Err(failed());
                        };
                        if file_size > max {
                            return Err(AwsError::new(
                                400,
                                "EntityTooLarge",
                                "Your proposed upload exceeds the maximum allowed size",
                            )
                            .with_field("ProposedSize", file_size.to_string())
                            .with_field("MaxSizeAllowed", max.to_string()));
                        }
                        if file_size < min {
                            return Err(AwsError::new(
                                400,
                                "EntityTooSmall",
                                "Your proposed upload is smaller than the minimum allowed size",
                            )
                            .with_field("ProposedSize", file_size.to_string())
                            .with_field("MinSizeAllowed", min.to_string()));
                        }
                    }
                    "eq" | "starts-with" => {
                        let name = items[1].as_str().unwrap_or_default();
                        let expected = as_text(&items[2]).unwrap_or_default();
                        let value = field_value(form, bucket, name).unwrap_or_default();
                        let ok = if op == "eq" {
                            value == expected
                        } else {
                            value.starts_with(&expected)
                        };
                        if !ok {
                            return Err(failed());
                        }
                    }
                    _ => return Err(failed()),
                }
            }
            _ => return Err(invalid("Invalid Policy: Invalid Simple-Condition.")),
        }
    }
    Ok(())
}

fn unescape_xml(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

fn escape_xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The text of each `<name>` element in `xml`.
fn elements<'a>(xml: &'a str, name: &str) -> Vec<&'a str> {
    let (open, close) = (format!("<{name}>"), format!("</{name}>"));
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(i) = rest.find(&open) {
        let after = &rest[i + open.len()..];
        let Some(j) = after.find(&close) else { break };
        out.push(&after[..j]);
        rest = &after[j + close.len()..];
    }
    out
}

/// The `tagging` field (a `<Tagging>` document) as the `x-amz-tagging` header's text.
fn tagging_header(xml: &str) -> Result<String, AwsError> {
    let xml = xml.trim();
    if !(xml.starts_with('<') && xml.ends_with('>')) {
        return Err(errors::malformed_xml());
    }
    let enc = |s: &str| utf8_percent_encode(&unescape_xml(s), NON_ALPHANUMERIC).to_string();
    let pairs: Vec<String> = elements(xml, "Tag")
        .into_iter()
        .map(|tag| {
            let key = elements(tag, "Key").first().copied().unwrap_or_default();
            let value = elements(tag, "Value").first().copied().unwrap_or_default();
            format!("{}={}", enc(key), enc(value))
        })
        .collect();
    Ok(pairs.join("&"))
}

/// Form fields that set a PutObject member.
const HEADER_FIELDS: &[(&str, &str)] = &[
    ("content-type", "ContentType"),
    ("cache-control", "CacheControl"),
    ("content-disposition", "ContentDisposition"),
    ("content-encoding", "ContentEncoding"),
    ("content-language", "ContentLanguage"),
    ("expires", "Expires"),
    ("acl", "ACL"),
    ("x-amz-storage-class", "StorageClass"),
    ("x-amz-website-redirect-location", "WebsiteRedirectLocation"),
    ("x-amz-server-side-encryption", "ServerSideEncryption"),
    ("x-amz-server-side-encryption-aws-kms-key-id", "SSEKMSKeyId"),
    ("x-amz-checksum-algorithm", "ChecksumAlgorithm"),
    ("x-amz-checksum-crc32", "ChecksumCRC32"),
    ("x-amz-checksum-crc32c", "ChecksumCRC32C"),
    ("x-amz-checksum-crc64nvme", "ChecksumCRC64NVME"),
    ("x-amz-checksum-sha1", "ChecksumSHA1"),
    ("x-amz-checksum-sha256", "ChecksumSHA256"),
];

/// PutObject output members answered as headers by POST Object.
const OUTPUT_HEADERS: &[(&str, &str)] = &[
    ("VersionId", "x-amz-version-id"),
    ("ServerSideEncryption", "x-amz-server-side-encryption"),
    ("SSEKMSKeyId", "x-amz-server-side-encryption-aws-kms-key-id"),
    ("ChecksumCRC32", "x-amz-checksum-crc32"),
    ("ChecksumCRC32C", "x-amz-checksum-crc32c"),
    ("ChecksumCRC64NVME", "x-amz-checksum-crc64nvme"),
    ("ChecksumSHA1", "x-amz-checksum-sha1"),
    ("ChecksumSHA256", "x-amz-checksum-sha256"),
    ("ChecksumType", "x-amz-checksum-type"),
];

impl S3Provider {
    pub(crate) async fn post_object(
        &self,
        ctx: &RequestContext,
        request: RawRequest,
    ) -> Result<RawResponse, AwsError> {
        let header = |name: &str| {
            request
                .headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        let bucket = request.path.trim_matches('/').to_owned();
        let Some(boundary) = header("content-type").and_then(boundary) else {
            return Err(AwsError::new(
                412,
                "PreconditionFailed",
                "At least one of the pre-conditions you specified did not hold",
            )
            .with_field(
                "Condition",
                "Bucket POST must be of the enclosure-type multipart/form-data",
            ));
        };
        if self.store.bucket(&bucket).is_none() {
            return Err(errors::no_such_bucket(&bucket));
        }
        // The form is parsed whole, so its size is bounded like every body nephos
        // collects (AWS allows 5 GB here; nephos does not hold that in memory).
        let body = request
            .body
            .read_at_most(MAX_FORM_BYTES)
            .await
            .map_err(|e| AwsError::new(400, "IncompleteBody", e.to_string()))?
            .ok_or_else(|| {
                AwsError::new(
                    400,
                    "EntityTooLarge",
                    "Your proposed upload exceeds the maximum allowed size",
                )
                .with_field("MaxSizeAllowed", MAX_FORM_BYTES.to_string())
            })?;
        let body = Bytes::from(body);
        let form = form_of(parse_form(&body, &boundary)?);
        let mut caller = ctx.clone();
        caller.operation = "PutObject".to_owned();
        if let Some(policy) = form.get("policy") {
            let key = signing_key(&form)?;
            if let Some(k) = key.filter(|k| !k.is_empty()) {
                if nephos_core::is_account_id(&k) {
                    caller.account_id = k.clone();
                    caller.caller_arn = format!("arn:aws:iam::{k}:root");
                }
                // The form is the request's signature: its key, not the unsigned HTTP
                // request, says who is calling.
                caller.access_key_id = Some(k);
                caller.anonymous = false;
            }
            let size = form.file.as_ref().map_or(0, |f| f.data.len() as u64);
            check_policy(policy, &form, &bucket, size, ctx.clock.now_millis())?;
        }
        let Some(file) = form.file.as_ref() else {
            return Err(missing_field("file"));
        };
        let mut key = form
            .get("key")
            .ok_or_else(|| missing_field("key"))?
            .to_owned();
        if let Some(name) = file.filename.as_deref() {
            key = key.replace("${filename}", name);
        }
        let mut input = Value::map()
            .with("Bucket", bucket.as_str())
            .with("Key", key.as_str());
        for (field, member) in HEADER_FIELDS {
            if let Some(v) = form.get(field) {
                input.insert(member, v);
            }
        }
        let mut metadata = Value::map();
        for (k, v) in &form.fields {
            if let Some(name) = k
                .to_ascii_lowercase()
                .strip_prefix("x-amz-meta-")
                .filter(|n| !n.is_empty())
            {
                metadata.insert(name, v.as_str());
            }
        }
        if metadata.as_map().is_some_and(|m| !m.is_empty()) {
            input.insert("Metadata", metadata);
        }
        if let Some(t) = form.get("tagging") {
            input.insert("Tagging", tagging_header(t)?);
        }
        let output = nephos_core::Provider::handle(
            self,
            &caller,
            Input {
                value: input,
                body: Some(ByteStream::from_bytes(file.data.clone())),
            },
        )
        .await?;
        let out = output.value;
        let etag = out.str("ETag").unwrap_or_default().to_owned();
        let location = crate::listing::object_url(ctx.host.as_deref(), &bucket, &key);
        let mut headers = vec![
            ("ETag".to_owned(), etag.clone()),
            ("Location".to_owned(), location.clone()),
        ];
        for (member, name) in OUTPUT_HEADERS {
            if let Some(v) = out.str(member) {
                headers.push(((*name).to_owned(), v.to_owned()));
            }
        }
        let redirect = form
            .get("success_action_redirect")
            .filter(|r| r.starts_with("http://") || r.starts_with("https://"));
        if let Some(r) = redirect {
            let enc = |s: &str| utf8_percent_encode(s, NON_ALPHANUMERIC).to_string();
            let sep = if r.contains('?') { '&' } else { '?' };
            let target = format!(
                "{r}{sep}bucket={}&key={}&etag={}",
                enc(&bucket),
                enc(&key),
                enc(&etag)
            );
            headers.retain(|(k, _)| k != "Location");
            headers.push(("Location".to_owned(), target));
            return Ok(RawResponse {
                status: 303,
                headers,
                body: Bytes::new(),
                stream: None,
            });
        }
        match form.get("success_action_status") {
            Some("200") => Ok(RawResponse {
                status: 200,
                headers,
                body: Bytes::new(),
                stream: None,
            }),
            Some("201") => {
                let xml = format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<PostResponse><Location>{}</Location><Bucket>{}</Bucket><Key>{}</Key><ETag>{}</ETag></PostResponse>",
                    escape_xml(&location),
                    escape_xml(&bucket),
                    escape_xml(&key),
                    escape_xml(&etag)
                );
                headers.push(("Content-Type".to_owned(), "application/xml".to_owned()));
                Ok(RawResponse {
                    status: 201,
                    headers,
                    body: Bytes::from(xml),
                    stream: None,
                })
            }
            _ => Ok(RawResponse {
                status: 204,
                headers,
                body: Bytes::new(),
                stream: None,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_parse_into_fields_and_the_file() {
        let body = Bytes::from_static(
            b"--xyz\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\na/${filename}\r\n--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f.txt\"\r\nContent-Type: text/plain\r\n\r\nhello\r\nworld\r\n--xyz--\r\n",
        );
        let form = form_of(parse_form(&body, "xyz").unwrap());
        assert_eq!(form.get("KEY"), Some("a/${filename}"));
        let file = form.file.unwrap();
        assert_eq!(&file.data[..], b"hello\r\nworld");
        assert_eq!(file.filename.as_deref(), Some("f.txt"));
        assert_eq!(
            boundary("multipart/form-data; boundary=\"xyz\"").as_deref(),
            Some("xyz")
        );
        assert_eq!(boundary("text/html"), None);
    }

    #[test]
    fn expirations_parse_as_utc() {
        assert_eq!(iso8601_millis("1970-01-01T00:00:01Z"), Some(1000));
        assert_eq!(
            iso8601_millis("2000-03-01T00:00:00.5Z"),
            Some(951_868_800_500)
        );
    }

    #[test]
    fn tagging_documents_become_headers() {
        assert_eq!(
            tagging_header(
                "<Tagging><TagSet><Tag><Key>a b</Key><Value>1&amp;</Value></Tag></TagSet></Tagging>"
            )
            .unwrap(),
            "a%20b=1%26"
        );
        assert_eq!(tagging_header("<Other/>").unwrap(), "");
        assert!(tagging_header("not-xml").is_err());
    }
}
