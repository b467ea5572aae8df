//! Export tasks: CreateExportTask writes a group's events to an S3 bucket through the
//! `Dispatcher`, as the `logs.amazonaws.com` service principal (so the bucket's policy
//! decides, as on AWS); DescribeExportTasks and CancelExportTask.
//!
//! AWS runs exports in the background; nephos runs one to its end before answering, so a
//! task is `COMPLETED` (or the request fails) by the time its id comes back. Objects are
//! laid out as AWS lays them out: `<prefix>/aws-logs-write-test`, then per stream
//! `<prefix>/<task id>/<stream>/000000.gz`, gzipped lines `<ISO 8601 time> <message>`.
//! Task records are stored in `logs.exports` (`account region id` → JSON).

use crate::errors;
use crate::state::Core;
use crate::util;
use nephos_core::{AwsError, ByteStream, Input, RequestContext, Value};
use nephos_storage::Mutation;
use serde::{Deserialize, Serialize};
use std::io::Write;

pub const EXPORTS: &str = "logs.exports";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportTask {
    pub task_id: String,
    #[serde(default)]
    pub task_name: Option<String>,
    pub log_group_name: String,
    pub from: i64,
    pub to: i64,
    pub destination: String,
    pub destination_prefix: String,
    pub status_code: String,
    pub status_message: String,
    pub creation_time: i64,
    #[serde(default)]
    pub completion_time: Option<i64>,
}

impl ExportTask {
    fn describe(&self) -> Value {
        let mut info = Value::map().with("creationTime", self.creation_time);
        if let Some(t) = self.completion_time {
            info.insert("completionTime", t);
        }
        let mut v = Value::map()
            .with("taskId", self.task_id.as_str())
            .with("logGroupName", self.log_group_name.as_str())
            .with("from", self.from)
            .with("to", self.to)
            .with("destination", self.destination.as_str())
            .with("destinationPrefix", self.destination_prefix.as_str())
            .with(
                "status",
                Value::map()
                    .with("code", self.status_code.as_str())
                    .with("message", self.status_message.as_str()),
            )
            .with("executionInfo", info);
        if let Some(n) = &self.task_name {
            v.insert("taskName", n.as_str());
        }
        v
    }
}

/// `2024-01-02T03:04:05.678Z`, as exported lines start.
fn iso_millis(ms: i64) -> String {
    let t = nephos_core::Timestamp::from_millis(ms - ms.rem_euclid(1000)).to_iso8601();
    format!("{}.{:03}Z", t.trim_end_matches('Z'), ms.rem_euclid(1000))
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let _ = gz.write_all(data);
    gz.finish().unwrap_or_default()
}

async fn put_object(
    c: &Core,
    ctx: &RequestContext,
    bucket: &str,
    key: &str,
    body: Vec<u8>,
) -> Result<(), AwsError> {
    let input = Input {
        value: Value::map()
            .with("Bucket", bucket)
            .with("Key", key)
            .with("ContentLength", body.len() as i64),
        body: Some(ByteStream::from_bytes(body)),
    };
    match c.dispatcher.call_input(ctx, "s3", "PutObject", input).await {
        Ok(_) => Ok(()),
        Err(e) if e.code == "NoSuchBucket" => Err(errors::invalid_parameter(
            "The given bucket does not exist. Please make sure the bucket is valid.",
        )),
        Err(e) if e.status == 403 => Err(errors::invalid_parameter(
            "PutObject call on the given bucket failed. Please check if CloudWatch Logs has been granted permission to perform this operation.",
        )),
        Err(e) => Err(e),
    }
}

pub async fn create_export_task(
    c: &Core,
    ctx: &RequestContext,
    i: &Value,
) -> Result<Value, AwsError> {
    let group = i.str("logGroupName").unwrap_or_default();
    let from = i.int("from").unwrap_or(0);
    let to = i.int("to").unwrap_or(0);
    if from > to {
        return Err(errors::invalid_parameter(
            "The 'from' time must be earlier than the 'to' time.",
        ));
    }
    let bucket = i.str("destination").unwrap_or_default();
    let prefix = i.str("destinationPrefix").unwrap_or("exportedlogs");
    let prefix = prefix.trim_end_matches('/');
    let stream_prefix = i.str("logStreamNamePrefix");
    let g = c
        .find(&ctx.account_id, &ctx.region, group)
        .ok_or_else(errors::group_not_found)?;
    // One gzipped object per stream, of the events in [from, to].
    let objects: Vec<(String, Vec<u8>)> = {
        let g = g.lock().unwrap();
        g.streams
            .values()
            .filter(|s| stream_prefix.is_none_or(|p| s.name.starts_with(p)))
            .filter_map(|s| {
                let lo = s.events.partition_point(|e| e.timestamp < from);
                let hi = s.events.partition_point(|e| e.timestamp <= to);
                if lo >= hi {
                    return None;
                }
                let mut text = String::new();
                for e in &s.events[lo..hi] {
                    text.push_str(&iso_millis(e.timestamp));
                    text.push(' ');
                    text.push_str(&e.message);
                    text.push('\n');
                }
                Some((s.name.clone(), gzip(text.as_bytes())))
            })
            .collect()
    };
    let id = crate::insights::random_id();
    let mut sctx = ctx.clone();
    sctx.caller_arn = nephos_policy::service_caller(
        "logs.amazonaws.com",
        &util::group_arn(&ctx.account_id, &ctx.region, group),
    );
    put_object(
        c,
        &sctx,
        bucket,
        &format!("{prefix}/aws-logs-write-test"),
        b"Permission Check Successful".to_vec(),
    )
    .await?;
    for (stream, body) in objects {
        put_object(
            c,
            &sctx,
            bucket,
            &format!("{prefix}/{id}/{stream}/000000.gz"),
            body,
        )
        .await?;
    }
    let now = ctx.clock.now_millis();
    let task = ExportTask {
        task_id: id.clone(),
        task_name: i.str("taskName").map(str::to_owned),
        log_group_name: group.to_owned(),
        from,
        to,
        destination: bucket.to_owned(),
        destination_prefix: prefix.to_owned(),
        status_code: "COMPLETED".to_owned(),
        status_message: "Completed successfully".to_owned(),
        creation_time: now,
        completion_time: Some(now),
    };
    let m = Mutation::put(
        EXPORTS,
        format!("{}\t{}\t{id}", ctx.account_id, ctx.region),
        serde_json::to_vec(&task).unwrap_or_default(),
    );
    c.commit(vec![m]).await?;
    c.regions.get(ctx).exports.lock().unwrap().push(task);
    Ok(Value::map().with("taskId", id))
}

pub fn describe_export_tasks(c: &Core, ctx: &RequestContext, i: &Value) -> Result<Value, AwsError> {
    let id = i.str("taskId");
    let status = i.str("statusCode");
    let region = c.regions.get(ctx);
    let found: Vec<Value> = region
        .exports
        .lock()
        .unwrap()
        .iter()
        .rev()
        .filter(|t| id.is_none_or(|x| t.task_id == x) && status.is_none_or(|s| t.status_code == s))
        .map(ExportTask::describe)
        .collect();
    let limit = i.int("limit").unwrap_or(50) as usize;
    let (page, next) = util::page(found, i.str("nextToken"), limit)?;
    let mut out = Value::map().with("exportTasks", page);
    if let Some(t) = next {
        out.insert("nextToken", t);
    }
    Ok(out)
}

pub fn cancel_export_task(c: &Core, ctx: &RequestContext, i: &Value) -> Result<Value, AwsError> {
    let id = i.str("taskId").unwrap_or_default();
    let region = c.regions.get(ctx);
    let tasks = region.exports.lock().unwrap();
    let task = tasks
        .iter()
        .find(|t| t.task_id == id)
        .ok_or_else(|| errors::not_found("The specified export task does not exist."))?;
    // Exports finish before CreateExportTask answers, so none is ever still cancellable.
    Err(AwsError::new(
        400,
        "InvalidOperationException",
        format!(
            "The specified export task has already finished with status {}.",
            task.status_code
        ),
    ))
}
