//! Export to and import from S3 in DynamoDB JSON (and CSV for imports), through the
//! in-process dispatcher to nephos's S3. Exports run synchronously and are COMPLETED
//! when the call returns; data files are written uncompressed (`data/<id>.json`).

use crate::attr::{Attr, decode_item, item_from_value};
use crate::state::DynamoDb;
use crate::tables::uuid;
use nephos_core::{AwsError, ByteStream, Input, RequestContext, Timestamp, Value};

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

pub(crate) fn b64(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

pub(crate) fn unb64(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for ch in s.bytes().filter(|b| *b != b'=') {
        let v = B64.iter().position(|x| *x == ch)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

fn attr_json(a: &Attr) -> serde_json::Value {
    use serde_json::{Value as J, json};
    match a {
        Attr::S(s) => json!({ "S": s }),
        Attr::N(n) => json!({ "N": n.to_string() }),
        Attr::B(b) => json!({ "B": b64(b) }),
        Attr::SS(v) => json!({ "SS": v }),
        Attr::NS(v) => json!({ "NS": v.iter().map(|n| n.to_string()).collect::<Vec<_>>() }),
        Attr::BS(v) => json!({ "BS": v.iter().map(|b| b64(b)).collect::<Vec<_>>() }),
        Attr::M(m) => {
            let o: serde_json::Map<String, J> =
                m.iter().map(|(k, v)| (k.clone(), attr_json(v))).collect();
            json!({ "M": o })
        }
        Attr::L(l) => json!({ "L": l.iter().map(attr_json).collect::<Vec<_>>() }),
        Attr::Null => json!({ "NULL": true }),
        Attr::Bool(b) => json!({ "BOOL": b }),
    }
}

/// DynamoDB JSON (binary as base64) to the wire Value form `Attr::from_value` reads.
fn json_value(j: &serde_json::Value, binary: bool) -> Value {
    use serde_json::Value as J;
    match j {
        J::String(s) if binary => Value::Blob(unb64(s).unwrap_or_default().into()),
        J::String(s) => Value::String(s.clone()),
        J::Bool(b) => Value::Bool(*b),
        J::Number(n) => Value::String(n.to_string()),
        J::Array(a) => Value::List(a.iter().map(|x| json_value(x, binary)).collect()),
        J::Object(o) => {
            let mut out = Value::map();
            for (k, v) in o {
                // Inside an AttributeValue, B and BS hold base64; M and L hold more values.
                out.insert(k, json_value(v, matches!(k.as_str(), "B" | "BS")));
            }
            out
        }
        J::Null => Value::Null,
    }
}

fn job_arn(table_arn: &str, kind: &str, now: i64) -> String {
    let suffix = nephos_core::random_alnum(8, b"0123456789abcdef");
    format!("{table_arn}/{kind}/{now:014}-{suffix}")
}

fn s3_error(e: AwsError) -> AwsError {
    AwsError::new(
        400,
        "ValidationException",
        format!("S3 request failed: {}", e.message),
    )
}

impl DynamoDb {
    pub async fn export_table(&self, ctx: &RequestContext, v: &Value) -> Result<Value, AwsError> {
        let table_arn = v.str("TableArn").unwrap_or_default().to_owned();
        let name = table_arn
            .split_once(":table/")
            .map(|x| x.1.to_owned())
            .unwrap_or_default();
        let t = self.table(ctx, &name).map_err(|_| {
            AwsError::new(
                400,
                "TableNotFoundException",
                format!("Table not found: {name}"),
            )
        })?;
        let now = ctx.clock.now_millis();
        let at = v
            .get("ExportTime")
            .and_then(|x| match x {
                Value::Timestamp(t) => Some(t.as_millis()),
                _ => None,
            })
            .unwrap_or(now);
        let (items, table_id) = {
            let t = t.read().unwrap();
            let Some(p) = &t.pitr else {
                return Err(AwsError::new(
                    400,
                    "PointInTimeRecoveryUnavailableException",
                    format!("Point in time recovery is not enabled for table '{name}'"),
                ));
            };
            let items = if at >= now {
                t.items.clone()
            } else {
                p.at(&t.items, at)
            };
            (items, t.meta.id.clone())
        };
        let bucket = v.str("S3Bucket").unwrap_or_default().to_owned();
        let prefix = v.str("S3Prefix").unwrap_or_default().trim_end_matches('/');
        let export_id = format!("{now:014}-{}", &uuid()[..8]);
        let base = if prefix.is_empty() {
            format!("AWSDynamoDB/{export_id}")
        } else {
            format!("{prefix}/AWSDynamoDB/{export_id}")
        };
        let ion = v.str("ExportFormat") == Some("ION");
        let mut text = String::new();
        for enc in items.values() {
            if let Some(item) = decode_item(enc) {
                if ion {
                    crate::ion::item_line(&item, &mut text);
                    continue;
                }
                let o: serde_json::Map<String, serde_json::Value> = item
                    .iter()
                    .map(|(k, v)| (k.clone(), attr_json(v)))
                    .collect();
                let line = serde_json::json!({ "Item": o });
                text.push_str(&line.to_string());
                text.push('\n');
            }
        }
        // Export data files are gzip-compressed, as AWS writes them.
        let billed = text.len();
        let data = {
            use std::io::Write;
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            gz.write_all(text.as_bytes())
                .and_then(|_| gz.finish())
                .map_err(|e| AwsError::internal(e.to_string()))?
        };
        let data_key = format!(
            "{base}/data/{}.{}.gz",
            uuid(),
            if ion { "ion" } else { "json" }
        );
        let arn = job_arn(&table_arn, "export", now);
        let files = serde_json::json!({"itemCount": items.len(), "dataFileS3Key": data_key});
        let summary = serde_json::json!({
            "version": "2020-06-30", "exportArn": arn, "tableArn": table_arn, "tableId": table_id,
            "s3Bucket": bucket, "s3Prefix": prefix,
            "outputFormat": if ion { "ION" } else { "DYNAMODB_JSON" },
            "itemCount": items.len(), "billedSizeBytes": billed,
            "manifestFilesS3Key": format!("{base}/manifest-files.json"),
        });
        for (key, body) in [
            (data_key.clone(), data),
            (
                format!("{base}/manifest-files.json"),
                files.to_string().into_bytes(),
            ),
            (
                format!("{base}/manifest-summary.json"),
                summary.to_string().into_bytes(),
            ),
        ] {
            self.put_object(ctx, &bucket, &key, body).await?;
        }
        let desc = Value::map()
            .with("ExportArn", arn.as_str())
            .with("ExportStatus", "COMPLETED")
            .with("ExportType", "FULL_EXPORT")
            .with(
                "ExportFormat",
                v.str("ExportFormat").unwrap_or("DYNAMODB_JSON"),
            )
            .with("TableArn", table_arn.as_str())
            .with("TableId", table_id.as_str())
            .with("S3Bucket", bucket.as_str())
            .with("S3Prefix", prefix)
            .with("ExportManifest", format!("{base}/manifest-summary.json"))
            .with("ExportTime", Timestamp::from_millis(at))
            .with("StartTime", Timestamp::from_millis(now))
            .with("EndTime", Timestamp::from_millis(ctx.clock.now_millis()))
            .with("ItemCount", items.len() as i64)
            .with("BilledSizeBytes", billed as i64);
        self.region(ctx)
            .exports
            .lock()
            .unwrap()
            .insert(arn, desc.clone());
        Ok(Value::map().with("ExportDescription", desc))
    }

    async fn put_object(
        &self,
        ctx: &RequestContext,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
    ) -> Result<(), AwsError> {
        let len = body.len() as i64;
        let input = Input {
            value: Value::map()
                .with("Bucket", bucket)
                .with("Key", key)
                .with("ContentLength", len),
            body: Some(ByteStream::from_bytes(body)),
        };
        self.dispatcher()?
            .call_input(ctx, "s3", "PutObject", input)
            .await
            .map_err(s3_error)?;
        Ok(())
    }

    fn dispatcher(&self) -> Result<&nephos_core::Dispatcher, AwsError> {
        self.dispatcher
            .get()
            .ok_or_else(|| AwsError::internal("the in-process dispatcher is not wired"))
    }

    pub fn describe_export(&self, ctx: &RequestContext, v: &Value) -> Result<Value, AwsError> {
        let arn = v.str("ExportArn").unwrap_or_default();
        let d = self.region(ctx).exports.lock().unwrap().get(arn).cloned();
        let d = d.ok_or_else(|| {
            AwsError::new(
                400,
                "ExportNotFoundException",
                format!("Export not found: {arn}"),
            )
        })?;
        Ok(Value::map().with("ExportDescription", d))
    }

    pub fn list_exports(&self, ctx: &RequestContext, v: &Value) -> Value {
        let table = v.str("TableArn");
        let list = self
            .region(ctx)
            .exports
            .lock()
            .unwrap()
            .values()
            .filter(|d| table.is_none_or(|t| d.str("TableArn") == Some(t)))
            .map(|d| {
                Value::map()
                    .with("ExportArn", d.str("ExportArn").unwrap_or_default())
                    .with("ExportStatus", "COMPLETED")
                    .with("ExportType", "FULL_EXPORT")
            })
            .collect();
        Value::map().with("ExportSummaries", Value::List(list))
    }

    pub async fn import_table(&self, ctx: &RequestContext, v: &Value) -> Result<Value, AwsError> {
        let src = v.get("S3BucketSource").cloned().unwrap_or_default();
        let bucket = src.str("S3Bucket").unwrap_or_default().to_owned();
        let prefix = src.str("S3KeyPrefix").unwrap_or_default().to_owned();
        let format = v.str("InputFormat").unwrap_or_default().to_owned();
        let compression = v.str("InputCompressionType").unwrap_or("NONE").to_owned();
        let params = v
            .get("TableCreationParameters")
            .cloned()
            .unwrap_or_default();
        // Read every object first: a failed read creates no table.
        let listed = self
            .dispatcher()?
            .call(
                ctx,
                "s3",
                "ListObjectsV2",
                Value::map()
                    .with("Bucket", bucket.as_str())
                    .with("Prefix", prefix.as_str()),
            )
            .await
            .map_err(s3_error)?;
        let mut bodies = Vec::new();
        for o in listed
            .get("Contents")
            .and_then(Value::as_list)
            .unwrap_or_default()
        {
            let key = o.str("Key").unwrap_or_default();
            if key.ends_with('/') || key.contains("manifest-") {
                continue;
            }
            let out = self
                .dispatcher()?
                .call_input(
                    ctx,
                    "s3",
                    "GetObject",
                    Input {
                        value: Value::map()
                            .with("Bucket", bucket.as_str())
                            .with("Key", key),
                        body: None,
                    },
                )
                .await
                .map_err(s3_error)?;
            if let Some(b) = out.body {
                bodies.push(
                    b.read_all()
                        .await
                        .map_err(|e| AwsError::internal(e.to_string()))?,
                );
            }
        }
        let mut items = Vec::new();
        let mut errors = 0i64;
        for body in &bodies {
            // An object that does not decompress is malformed: one error, nothing read.
            let Some(body) = decompress(body, &compression) else {
                errors += 1;
                continue;
            };
            if format == "ION" {
                let (found, bad) = crate::ion::items(&body);
                items.extend(found);
                errors += bad;
                continue;
            }
            let text = String::from_utf8_lossy(&body);
            if format == "CSV" {
                errors += csv_items(&text, &params, v, &mut items);
                continue;
            }
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                let parsed = serde_json::from_str::<serde_json::Value>(line)
                    .ok()
                    .and_then(|j| j.get("Item").map(|i| json_value(i, false)))
                    .and_then(|i| item_from_value(Some(&i)).ok());
                match parsed {
                    Some(i) => items.push(i),
                    None => errors += 1,
                }
            }
        }
        let created = self.create_table(ctx, &params).await?;
        let name = params.str("TableName").unwrap_or_default().to_owned();
        let t = self.table(ctx, &name)?;
        let mut imported = 0i64;
        let pending = {
            let mut t = t.write().unwrap();
            let mut batch = Vec::new();
            for item in &items {
                match t.validate_item_key(item) {
                    Ok(key) => {
                        let enc = t.put(&key, item);
                        imported += 1;
                        batch.push(nephos_storage::Mutation::put(
                            crate::state::ITEMS,
                            crate::state::item_record_key(&t.meta.id, &key),
                            enc,
                        ));
                    }
                    Err(_) => errors += 1,
                }
            }
            batch.extend(t.take_journal());
            self.start_commit(batch)
        };
        pending.wait().await?;
        let now = ctx.clock.now_millis();
        let table_arn = created
            .get("TableDescription")
            .and_then(|d| d.str("TableArn"))
            .unwrap_or_default()
            .to_owned();
        let arn = job_arn(&table_arn, "import", now);
        let desc = Value::map()
            .with("ImportArn", arn.as_str())
            .with("ImportStatus", "COMPLETED")
            .with("TableArn", table_arn.as_str())
            .with("S3BucketSource", src)
            .with("InputFormat", format.as_str())
            .with("InputCompressionType", compression.as_str())
            .with("TableCreationParameters", params)
            .with("StartTime", Timestamp::from_millis(now))
            .with("EndTime", Timestamp::from_millis(now))
            .with("ProcessedItemCount", imported + errors)
            .with("ImportedItemCount", imported)
            .with("ErrorCount", errors);
        let desc = match v.get("InputFormatOptions") {
            Some(o) => desc.with("InputFormatOptions", o.clone()),
            None => desc,
        };
        self.region(ctx)
            .imports
            .lock()
            .unwrap()
            .insert(arn, desc.clone());
        Ok(Value::map().with("ImportTableDescription", desc))
    }

    pub fn describe_import(&self, ctx: &RequestContext, v: &Value) -> Result<Value, AwsError> {
        let arn = v.str("ImportArn").unwrap_or_default();
        let d = self.region(ctx).imports.lock().unwrap().get(arn).cloned();
        let d = d.ok_or_else(|| {
            AwsError::new(
                400,
                "ImportNotFoundException",
                format!("Import not found: {arn}"),
            )
        })?;
        Ok(Value::map().with("ImportTableDescription", d))
    }

    pub fn list_imports(&self, ctx: &RequestContext, v: &Value) -> Value {
        let table = v.str("TableArn");
        let list = self
            .region(ctx)
            .imports
            .lock()
            .unwrap()
            .values()
            .filter(|d| table.is_none_or(|t| d.str("TableArn") == Some(t)))
            .map(|d| {
                let mut s = Value::map();
                for k in ["ImportArn", "ImportStatus", "TableArn", "InputFormat"] {
                    if let Some(x) = d.get(k) {
                        s.insert(k, x.clone());
                    }
                }
                s
            })
            .collect();
        Value::map().with("ImportSummaryList", Value::List(list))
    }
}

/// The bytes of an import object under `InputCompressionType`; None when they do not
/// decompress.
fn decompress(body: &[u8], compression: &str) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut out = Vec::new();
    match compression {
        "GZIP" => {
            flate2::read::MultiGzDecoder::new(body)
                .read_to_end(&mut out)
                .ok()?;
        }
        "ZSTD" => {
            // A file may hold several frames, one after another.
            let mut rest = body;
            while !rest.is_empty() {
                let mut d = ruzstd::decoding::StreamingDecoder::new(&mut rest).ok()?;
                d.read_to_end(&mut out).ok()?;
            }
        }
        _ => return Some(body.to_vec()),
    }
    Some(out)
}

/// Items of a CSV file: the header (first line, or HeaderList) names the attributes; key
/// attributes take their defined type, every other value is a String. Returns errors.
fn csv_items(text: &str, params: &Value, v: &Value, out: &mut Vec<crate::attr::Item>) -> i64 {
    let csv = v.get("InputFormatOptions").and_then(|o| o.get("Csv"));
    let delim = csv
        .and_then(|c| c.str("Delimiter"))
        .and_then(|d| d.chars().next())
        .unwrap_or(',');
    let mut lines = text.lines().filter(|l| !l.is_empty());
    let header: Vec<String> = match csv
        .and_then(|c| c.get("HeaderList"))
        .and_then(Value::as_list)
    {
        Some(h) => h
            .iter()
            .filter_map(|x| x.as_str().map(str::to_owned))
            .collect(),
        None => match lines.next() {
            Some(h) => h.split(delim).map(|s| s.trim().to_owned()).collect(),
            None => return 0,
        },
    };
    let types: Vec<(String, String)> = params
        .get("AttributeDefinitions")
        .and_then(Value::as_list)
        .unwrap_or_default()
        .iter()
        .map(|d| {
            (
                d.str("AttributeName").unwrap_or_default().to_owned(),
                d.str("AttributeType").unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let mut errors = 0;
    for line in lines {
        let mut item = crate::attr::Item::new();
        let mut ok = true;
        for (name, cell) in header.iter().zip(line.split(delim)) {
            if cell.is_empty() {
                continue;
            }
            let ty = types
                .iter()
                .find(|t| &t.0 == name)
                .map_or("S", |t| t.1.as_str());
            let attr = match ty {
                "N" => crate::number::Decimal::parse(cell).map(Attr::N).ok(),
                "B" => unb64(cell).map(Attr::B),
                _ => Some(Attr::S(cell.to_owned())),
            };
            match attr {
                Some(a) => {
                    item.insert(name.clone(), a);
                }
                None => ok = false,
            }
        }
        if ok {
            out.push(item);
        } else {
            errors += 1;
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_round_trips() {
        for data in [&b""[..], b"a", b"ab", b"abc", b"\x00\xff\x10\x80"] {
            assert_eq!(super::unb64(&super::b64(data)).unwrap(), data);
        }
        assert_eq!(super::b64(b"hello"), "aGVsbG8=");
    }
}
