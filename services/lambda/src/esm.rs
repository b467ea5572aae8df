//! Event source mappings: pollers that read SQS queues and DynamoDB streams through the
//! in-process dispatcher and invoke functions with AWS's event shapes.
//!
//! SQS: long-polling receivers (up to five per mapping, or `ScalingConfig`'s maximum
//! concurrency) fill a batch up to `BatchSize` within `MaximumBatchingWindowInSeconds`,
//! invoke synchronously, and delete what succeeded (all of the batch, or all but the
//! `batchItemFailures` with `ReportBatchItemFailures`); a failed batch stays in the queue,
//! so its visibility timeout and redrive policy decide what happens next, as on AWS.
//! Records dropped by `FilterCriteria` are deleted. FIFO queues keep one group's messages
//! in order because SQS hands a group to one receiver at a time.
//!
//! DynamoDB Streams: see [`stream`]; one reader per shard with AWS's batching, retry,
//! partial-failure, parallelization and tumbling-window behaviour.

mod stream;

use crate::Lambda;
use crate::env::Outcome;
use crate::filter;
use crate::functions::invalid;
use crate::invoke;
use crate::model::{FunctionRef, function_arn};
use crate::runtime::{self, service_context};
use base64::Engine;
use bytes::Bytes;
use nephos_core::{AwsError, RequestContext, Timestamp, Value};
use nephos_storage::Mutation;
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const MAPPINGS: &str = "lambda.esm";
pub const CHECKPOINTS: &str = "lambda.esm.checkpoints";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Mapping {
    pub uuid: String,
    pub account: String,
    pub region: String,
    /// The function as named (`name` or `name:qualifier`).
    pub function: String,
    pub qualifier: Option<String>,
    pub source_arn: String,
    pub batch_size: i64,
    pub window_secs: i64,
    pub enabled: bool,
    pub starting_position: Option<String>,
    pub starting_timestamp_ms: Option<i64>,
    pub filters: Vec<String>,
    pub response_types: Vec<String>,
    pub max_concurrency: Option<i64>,
    pub max_retry: i64,
    pub max_age: i64,
    pub bisect: bool,
    pub parallelization: i64,
    pub tumbling: i64,
    pub on_failure: Option<String>,
    pub last_modified_ms: i64,
    pub last_result: String,
}

impl Mapping {
    fn kind(&self) -> Source {
        if self.source_arn.starts_with("arn:aws:sqs:") {
            Source::Sqs
        } else {
            Source::Stream
        }
    }

    fn state(&self) -> &'static str {
        if self.enabled { "Enabled" } else { "Disabled" }
    }

    fn arn(&self) -> String {
        format!(
            "arn:aws:lambda:{}:{}:event-source-mapping:{}",
            self.region, self.account, self.uuid
        )
    }

    fn function_arn(&self) -> String {
        let base = function_arn(&self.region, &self.account, &self.function);
        match &self.qualifier {
            Some(q) => format!("{base}:{q}"),
            None => base,
        }
    }

    fn describe(&self, state: &str) -> Value {
        let mut v = Value::map()
            .with("UUID", self.uuid.as_str())
            .with("BatchSize", self.batch_size)
            .with("MaximumBatchingWindowInSeconds", self.window_secs)
            .with("EventSourceArn", self.source_arn.as_str())
            .with("FunctionArn", self.function_arn())
            .with(
                "LastModified",
                Timestamp::from_millis(self.last_modified_ms),
            )
            .with("State", state)
            .with("StateTransitionReason", "USER_INITIATED")
            .with(
                "FunctionResponseTypes",
                Value::List(
                    self.response_types
                        .iter()
                        .map(|t| t.as_str().into())
                        .collect(),
                ),
            )
            .with("EventSourceMappingArn", self.arn());
        if !self.filters.is_empty() {
            v.insert(
                "FilterCriteria",
                Value::map().with(
                    "Filters",
                    Value::List(
                        self.filters
                            .iter()
                            .map(|p| Value::map().with("Pattern", p.as_str()))
                            .collect(),
                    ),
                ),
            );
        }
        if let Some(c) = self.max_concurrency {
            v.insert("ScalingConfig", Value::map().with("MaximumConcurrency", c));
        }
        if self.kind() == Source::Stream {
            v.insert("StateTransitionReason", "User action");
            v.insert("LastProcessingResult", self.last_result.as_str());
            v.insert(
                "StartingPosition",
                self.starting_position.clone().unwrap_or_default(),
            );
            if let Some(ts) = self.starting_timestamp_ms {
                v.insert("StartingPositionTimestamp", Timestamp::from_millis(ts));
            }
            v.insert("MaximumRecordAgeInSeconds", self.max_age);
            v.insert("BisectBatchOnFunctionError", self.bisect);
            v.insert("MaximumRetryAttempts", self.max_retry);
            v.insert("ParallelizationFactor", self.parallelization);
            v.insert("TumblingWindowInSeconds", self.tumbling);
            let mut on_failure = Value::map();
            if let Some(d) = &self.on_failure {
                on_failure.insert("Destination", d.as_str());
            }
            v.insert(
                "DestinationConfig",
                Value::map().with("OnFailure", on_failure),
            );
        }
        v
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Sqs,
    Stream,
}

type Pollers = Vec<tokio::task::JoinHandle<()>>;

/// Mappings and their running pollers.
#[derive(Default)]
pub struct Mappings {
    all: Mutex<HashMap<String, (Mapping, Pollers)>>,
}

impl Mappings {
    pub fn clear(&self) {
        for (_, (_, tasks)) in self.all.lock().unwrap().drain() {
            tasks.iter().for_each(|t| t.abort());
        }
    }
}

fn not_found(uuid: &str, ctx: &RequestContext) -> AwsError {
    AwsError::new(
        404,
        "ResourceNotFoundException",
        format!(
            "Event source mapping not found: arn:aws:lambda:{}:{}:event-source-mapping:{uuid}",
            ctx.region, ctx.account_id
        ),
    )
}

fn list_of(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_list)
        .map(|l| {
            l.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn filters_of(input: &Value) -> Result<Option<Vec<String>>, AwsError> {
    let Some(fc) = input.get("FilterCriteria") else {
        return Ok(None);
    };
    let mut out = Vec::new();
    for f in fc
        .get("Filters")
        .and_then(Value::as_list)
        .unwrap_or_default()
    {
        let p = f.str("Pattern").unwrap_or_default();
        filter::parse(p).map_err(|_| invalid("Invalid filter pattern definition."))?;
        out.push(p.to_owned());
    }
    Ok(Some(out))
}

/// Checks that the function exists (answered as AWS does for mappings).
fn resolve_function(
    l: &Lambda,
    ctx: &RequestContext,
    name: &str,
) -> Result<(String, Option<String>), AwsError> {
    let r = FunctionRef::parse(name)?;
    let exists = l
        .regions
        .get(ctx)
        .functions
        .lock()
        .unwrap()
        .get(&r.name)
        .is_some_and(|f| f.resolve(r.qualifier.as_deref()).is_some());
    if !exists {
        return Err(AwsError::new(
            404,
            "ResourceNotFoundException",
            "Function does not exist",
        ));
    }
    Ok((r.name, r.qualifier))
}

pub async fn create(
    l: &Arc<Lambda>,
    ctx: &RequestContext,
    input: &Value,
) -> Result<Value, AwsError> {
    let source = input.str("EventSourceArn").unwrap_or_default().to_owned();
    let (function, qualifier) =
        resolve_function(l, ctx, input.str("FunctionName").unwrap_or_default())?;
    let kind = if source.starts_with("arn:aws:sqs:") {
        Source::Sqs
    } else if source.starts_with("arn:aws:dynamodb:") && source.contains("/stream/") {
        Source::Stream
    } else if source.starts_with("arn:aws:kinesis:") {
        return Err(AwsError::not_implemented("lambda", "Kinesis event sources"));
    } else {
        return Err(invalid("Unrecognized event source."));
    };
    let batch_default = if kind == Source::Sqs { 10 } else { 100 };
    let batch_size = input.int("BatchSize").unwrap_or(batch_default);
    let window = input.int("MaximumBatchingWindowInSeconds").unwrap_or(0);
    if kind == Source::Sqs {
        check_sqs_batch(batch_size, window)?;
        check_queue(l, ctx, &source).await?;
    }
    let starting_position = input.str("StartingPosition").map(str::to_owned);
    if kind == Source::Stream && starting_position.is_none() {
        return Err(invalid(
            "1 validation error detected: Value null at 'startingPosition' failed to satisfy constraint: Member must not be null.",
        ));
    }
    if kind == Source::Stream && starting_position.as_deref() == Some("AT_TIMESTAMP") {
        return Err(invalid(format!(
            "Unsupported starting position for arn type: {source}"
        )));
    }
    let m = Mapping {
        uuid: runtime::uuid(),
        account: ctx.account_id.clone(),
        region: ctx.region.clone(),
        function: function.clone(),
        qualifier,
        source_arn: source.clone(),
        batch_size,
        window_secs: window,
        enabled: input.bool("Enabled").unwrap_or(true),
        starting_position,
        starting_timestamp_ms: match input.get("StartingPositionTimestamp") {
            Some(Value::Timestamp(t)) => Some(t.as_millis()),
            _ => None,
        },
        filters: filters_of(input)?.unwrap_or_default(),
        response_types: list_of(input.get("FunctionResponseTypes")),
        max_concurrency: input
            .get("ScalingConfig")
            .and_then(|s| s.int("MaximumConcurrency")),
        max_retry: input.int("MaximumRetryAttempts").unwrap_or(-1),
        max_age: input.int("MaximumRecordAgeInSeconds").unwrap_or(-1),
        bisect: input.bool("BisectBatchOnFunctionError").unwrap_or(false),
        parallelization: input.int("ParallelizationFactor").unwrap_or(1),
        tumbling: input.int("TumblingWindowInSeconds").unwrap_or(0),
        on_failure: input
            .get("DestinationConfig")
            .and_then(|d| d.get("OnFailure"))
            .and_then(|o| o.str("Destination"))
            .map(str::to_owned),
        last_modified_ms: ctx.clock.now_millis(),
        last_result: "No records processed".into(),
    };
    {
        let all = l.mappings.all.lock().unwrap();
        // A source maps to a function once; AWS words the conflict per source kind.
        if let Some((other, _)) = all.values().find(|(o, _)| {
            o.source_arn == source
                && o.function == function
                && o.account == ctx.account_id
                && o.region == ctx.region
        }) {
            let uuid = &other.uuid;
            let message = match kind {
                Source::Sqs => format!(
                    "An event source mapping with SQS arn (\" {source} \") and function (\" {function} \") already exists. Please update or delete the existing mapping with UUID {uuid}"
                ),
                Source::Stream => format!(
                    "The event source arn (\" {source} \") and function (\" {function} \") provided mapping already exists. Please update or delete the existing mapping with UUID {uuid}"
                ),
            };
            return Err(AwsError::new(409, "ResourceConflictException", message));
        }
    }
    store(l, &m).await?;
    let out = m.describe("Creating");
    start(l, m);
    Ok(out)
}

async fn store(l: &Lambda, m: &Mapping) -> Result<(), AwsError> {
    let v = serde_json::to_vec(m).map_err(|e| AwsError::internal(e.to_string()))?;
    crate::state::commit(
        &l.storage,
        vec![Mutation::put(MAPPINGS, m.uuid.as_bytes(), v)],
    )
    .await
}

/// Registers `m` and starts its pollers when it is enabled.
pub fn start(l: &Arc<Lambda>, m: Mapping) {
    let mut tasks = Vec::new();
    if m.enabled {
        match m.kind() {
            Source::Sqs => {
                let n = m.max_concurrency.unwrap_or(5).clamp(1, 5);
                for _ in 0..n {
                    tasks.push(tokio::spawn(poll_sqs(l.clone(), m.clone())));
                }
            }
            Source::Stream => tasks.push(tokio::spawn(stream::poll_stream(l.clone(), m.clone()))),
        }
    }
    if let Some((_, old)) = l
        .mappings
        .all
        .lock()
        .unwrap()
        .insert(m.uuid.clone(), (m, tasks))
    {
        old.iter().for_each(|t| t.abort());
    }
}

/// Notes how the mapping's last batch went (`LastProcessingResult`).
fn note_result(l: &Lambda, uuid: &str, result: &str) {
    if let Some((m, _)) = l.mappings.all.lock().unwrap().get_mut(uuid)
        && m.last_result != result
    {
        m.last_result = result.to_owned();
    }
}

/// Reloads mappings stored before a restart and starts their pollers.
pub fn resume(l: &Arc<Lambda>) -> Result<(), String> {
    for (_, v) in l.storage.load(MAPPINGS).map_err(|e| e.to_string())? {
        if let Ok(m) = serde_json::from_slice::<Mapping>(&v) {
            start(l, m);
        }
    }
    Ok(())
}

fn find(l: &Lambda, ctx: &RequestContext, uuid: &str) -> Result<Mapping, AwsError> {
    l.mappings
        .all
        .lock()
        .unwrap()
        .get(uuid)
        .filter(|(m, _)| m.account == ctx.account_id && m.region == ctx.region)
        .map(|(m, _)| m.clone())
        .ok_or_else(|| not_found(uuid, ctx))
}

pub fn get(l: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value, AwsError> {
    let m = find(l, ctx, input.str("UUID").unwrap_or_default())?;
    Ok(m.describe(m.state()))
}

pub async fn update(
    l: &Arc<Lambda>,
    ctx: &RequestContext,
    input: &Value,
) -> Result<Value, AwsError> {
    let mut m = find(l, ctx, input.str("UUID").unwrap_or_default())?;
    if let Some(f) = input.str("FunctionName") {
        let (name, q) = resolve_function(l, ctx, f)?;
        m.function = name;
        m.qualifier = q;
    }
    if let Some(b) = input.int("BatchSize") {
        m.batch_size = b;
    }
    if let Some(w) = input.int("MaximumBatchingWindowInSeconds") {
        m.window_secs = w;
    }
    if m.source_arn.starts_with("arn:aws:sqs:") {
        check_sqs_batch(m.batch_size, m.window_secs)?;
    }
    let was_enabled = m.enabled;
    if let Some(e) = input.bool("Enabled") {
        m.enabled = e;
    }
    if let Some(f) = filters_of(input)? {
        m.filters = f;
    }
    if input.get("FunctionResponseTypes").is_some() {
        m.response_types = list_of(input.get("FunctionResponseTypes"));
    }
    if let Some(c) = input.get("ScalingConfig") {
        m.max_concurrency = c.int("MaximumConcurrency");
    }
    if let Some(r) = input.int("MaximumRetryAttempts") {
        m.max_retry = r;
    }
    if let Some(a) = input.int("MaximumRecordAgeInSeconds") {
        m.max_age = a;
    }
    if let Some(b) = input.bool("BisectBatchOnFunctionError") {
        m.bisect = b;
    }
    if let Some(p) = input.int("ParallelizationFactor") {
        m.parallelization = p;
    }
    if let Some(t) = input.int("TumblingWindowInSeconds") {
        m.tumbling = t;
    }
    if let Some(d) = input
        .get("DestinationConfig")
        .and_then(|d| d.get("OnFailure"))
    {
        m.on_failure = d.str("Destination").map(str::to_owned);
    }
    m.last_modified_ms = ctx.clock.now_millis();
    store(l, &m).await?;
    // AWS names the transition a change of `Enabled` starts.
    let state = match (was_enabled, m.enabled) {
        (false, true) => "Enabling",
        (true, false) => "Disabling",
        _ => "Updating",
    };
    let out = m.describe(state);
    start(l, m);
    Ok(out)
}

pub async fn delete(
    l: &Arc<Lambda>,
    ctx: &RequestContext,
    input: &Value,
) -> Result<Value, AwsError> {
    let uuid = input.str("UUID").unwrap_or_default();
    let m = find(l, ctx, uuid)?;
    crate::state::commit(
        &l.storage,
        vec![Mutation::delete(MAPPINGS, m.uuid.as_bytes())],
    )
    .await?;
    if let Some((_, tasks)) = l.mappings.all.lock().unwrap().remove(uuid) {
        tasks.iter().for_each(|t| t.abort());
    }
    Ok(m.describe("Deleting"))
}

pub fn list(l: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value, AwsError> {
    let source = input.str("EventSourceArn");
    let function = match input.str("FunctionName") {
        Some(f) => Some(FunctionRef::parse(f)?.name),
        None => None,
    };
    let max = input.int("MaxItems").unwrap_or(100).clamp(1, 10000) as usize;
    let marker = input.str("Marker");
    let all = l.mappings.all.lock().unwrap();
    let mut found: Vec<&Mapping> = all
        .values()
        .map(|(m, _)| m)
        .filter(|m| m.account == ctx.account_id && m.region == ctx.region)
        .filter(|m| source.is_none_or(|s| m.source_arn == s))
        .filter(|m| function.as_deref().is_none_or(|f| m.function == f))
        .filter(|m| marker.is_none_or(|k| m.uuid.as_str() > k))
        .collect();
    found.sort_by(|a, b| a.uuid.cmp(&b.uuid));
    let page: Vec<Value> = found
        .iter()
        .take(max)
        .map(|m| m.describe(m.state()))
        .collect();
    let mut out = Value::map().with("EventSourceMappings", Value::List(page));
    if found.len() > max {
        out.insert("NextMarker", found[max - 1].uuid.as_str());
    }
    Ok(out)
}

/// A value from an in-process answer as it would look in JSON on the wire.
pub fn wire_json(v: &Value) -> Json {
    match v {
        Value::Null => Json::Null,
        Value::Bool(b) => json!(b),
        Value::Integer(i) => json!(i),
        Value::Float(f) => json!(f),
        Value::String(s) => json!(s),
        Value::Blob(b) => json!(base64::engine::general_purpose::STANDARD.encode(b)),
        Value::Timestamp(t) => json!(t.as_millis() as f64 / 1000.0),
        Value::Json(raw) => serde_json::from_str(raw.text()).unwrap_or_default(),
        Value::List(l) => Json::Array(l.iter().map(wire_json).collect()),
        Value::Map(m) => Json::Object(m.iter().map(|(k, v)| (k.clone(), wire_json(v))).collect()),
    }
}

/// The mapping's filter patterns, parsed once per poller (they were checked when set).
fn patterns(m: &Mapping) -> Vec<Json> {
    m.filters
        .iter()
        .filter_map(|p| filter::parse(p).ok())
        .collect()
}

fn passes(patterns: &[Json], record: &Json) -> bool {
    if patterns.is_empty() {
        return true;
    }
    // SQS bodies are matched as JSON when they are JSON.
    let mut view = record.clone();
    if let Some(body) = record.get("body").and_then(Json::as_str)
        && let Ok(parsed) = serde_json::from_str::<Json>(body)
    {
        view["body"] = parsed;
    }
    patterns.iter().any(|p| filter::matches(p, &view))
}

/// Invokes the mapping's function with `event`; `Ok(Some(body))` is the function's
/// answer, `Ok(None)` a function error, `Err` a failure to invoke at all.
async fn deliver(l: &Arc<Lambda>, m: &Mapping, event: &Json) -> Result<Option<Bytes>, AwsError> {
    let ctx = service_context(l, &m.account, &m.region, "Invoke");
    let mut input = Value::map().with("FunctionName", m.function.as_str());
    if let Some(q) = &m.qualifier {
        input.insert("Qualifier", q.as_str());
    }
    let t = invoke::resolve(l, &ctx, &input)?;
    let r = runtime::run(l, &t, runtime::Request::new(Bytes::from(event.to_string()))).await?;
    Ok(match r.outcome {
        Outcome::Response(b) => Some(b),
        _ => None,
    })
}

/// SQS batches over 10 messages need a batching window.
fn check_sqs_batch(batch_size: i64, window: i64) -> Result<(), AwsError> {
    if batch_size > 10 && window == 0 {
        return Err(invalid(
            "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10",
        ));
    }
    Ok(())
}

/// A mapping's queue must exist: Lambda tries it when the mapping is created.
async fn check_queue(l: &Lambda, ctx: &RequestContext, arn: &str) -> Result<(), AwsError> {
    let mut qctx = service_context(l, &ctx.account_id, &ctx.region, "GetQueueAttributes");
    if let Some(region) = arn.split(':').nth(3) {
        qctx.region = region.to_owned();
    }
    let input = Value::map()
        .with("QueueUrl", l.queue_url(arn))
        .with("AttributeNames", Value::List(vec!["QueueArn".into()]));
    match l
        .dispatcher
        .call(&qctx, "sqs", "GetQueueAttributes", input)
        .await
    {
        Err(e)
            if e.code == "AWS.SimpleQueueService.NonExistentQueue"
                || e.code == "QueueDoesNotExist" =>
        {
            Err(invalid(
                "Error occurred while ReceiveMessage. SQS Error Code: AWS.SimpleQueueService.NonExistentQueue. SQS Error Message: The specified queue does not exist.",
            ))
        }
        _ => Ok(()),
    }
}

async fn pause() {
    tokio::time::sleep(Duration::from_millis(500)).await;
}

async fn poll_sqs(l: Arc<Lambda>, m: Mapping) {
    let filters = patterns(&m);
    let url = l.queue_url(&m.source_arn);
    let ctx = service_context(&l, &m.account, &m.region, "ReceiveMessage");
    while !l.dispatcher.is_wired() {
        pause().await;
    }
    loop {
        let mut messages: Vec<Value> = Vec::new();
        let window = Duration::from_secs(m.window_secs.max(0) as u64);
        let started = tokio::time::Instant::now();
        while (messages.len() as i64) < m.batch_size {
            let left = window.saturating_sub(started.elapsed());
            let wait = if messages.is_empty() {
                20
            } else {
                left.as_secs().min(20) as i64
            };
            let want = (m.batch_size - messages.len() as i64).clamp(1, 10);
            let r = l
                .dispatcher
                .call(
                    &ctx,
                    "sqs",
                    "ReceiveMessage",
                    Value::map()
                        .with("QueueUrl", url.as_str())
                        .with("MaxNumberOfMessages", want)
                        .with("WaitTimeSeconds", wait)
                        .with("AttributeNames", Value::List(vec!["All".into()]))
                        .with(
                            "MessageSystemAttributeNames",
                            Value::List(vec!["All".into()]),
                        )
                        .with("MessageAttributeNames", Value::List(vec!["All".into()])),
                )
                .await;
            match r {
                Ok(v) => {
                    let got = v
                        .get("Messages")
                        .and_then(Value::as_list)
                        .unwrap_or_default();
                    let empty = got.is_empty();
                    messages.extend(got.iter().cloned());
                    if empty && !messages.is_empty() {
                        break;
                    }
                }
                Err(e) => {
                    tracing::debug!(error = %e.message, queue = %m.source_arn, "event source mapping cannot read its queue");
                    pause().await;
                    break;
                }
            }
            if window.is_zero() || started.elapsed() >= window {
                break;
            }
        }
        if messages.is_empty() {
            continue;
        }
        let mut records = Vec::new();
        let mut dropped = Vec::new();
        for msg in &messages {
            let record = sqs_record(&m, msg);
            if passes(&filters, &record) {
                records.push(record);
            } else {
                dropped.push(msg.str("ReceiptHandle").unwrap_or_default().to_owned());
            }
        }
        delete_messages(&l, &ctx, &url, &dropped).await;
        if records.is_empty() {
            continue;
        }
        let event = json!({ "Records": records });
        match deliver(&l, &m, &event).await {
            Ok(Some(answer)) => {
                let failed = if m
                    .response_types
                    .iter()
                    .any(|t| t == "ReportBatchItemFailures")
                {
                    batch_item_failures(&answer, &records)
                } else {
                    Vec::new()
                };
                let done: Vec<String> = records
                    .iter()
                    .filter(|r| {
                        !failed
                            .iter()
                            .any(|f| Some(f.as_str()) == r["messageId"].as_str())
                    })
                    .filter_map(|r| r["receiptHandle"].as_str().map(str::to_owned))
                    .collect();
                delete_messages(&l, &ctx, &url, &done).await;
            }
            // A failed batch returns to the queue when its visibility timeout ends.
            Ok(None) => {}
            Err(e) => {
                tracing::debug!(error = %e.message, "event source mapping cannot invoke its function");
                pause().await;
            }
        }
    }
}

/// The message ids a function reported as failed; an answer that does not follow the
/// documented shape fails the whole batch, as on AWS.
fn batch_item_failures(answer: &[u8], records: &[Json]) -> Vec<String> {
    let Ok(v) = serde_json::from_slice::<Json>(answer) else {
        return Vec::new();
    };
    let Some(list) = v.get("batchItemFailures").and_then(Json::as_array) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for f in list {
        match f.get("itemIdentifier").and_then(Json::as_str) {
            Some(id) if !id.is_empty() => out.push(id.to_owned()),
            _ => {
                return records
                    .iter()
                    .filter_map(|r| r["messageId"].as_str().map(str::to_owned))
                    .collect();
            }
        }
    }
    out
}

async fn delete_messages(l: &Lambda, ctx: &RequestContext, url: &str, handles: &[String]) {
    for chunk in handles.chunks(10) {
        let entries: Vec<Value> = chunk
            .iter()
            .enumerate()
            .map(|(i, h)| {
                Value::map()
                    .with("Id", i.to_string())
                    .with("ReceiptHandle", h.as_str())
            })
            .collect();
        let _ = l
            .dispatcher
            .call(
                ctx,
                "sqs",
                "DeleteMessageBatch",
                Value::map()
                    .with("QueueUrl", url)
                    .with("Entries", Value::List(entries)),
            )
            .await;
    }
}

fn sqs_record(m: &Mapping, msg: &Value) -> Json {
    let attributes: serde_json::Map<String, Json> = msg
        .get("Attributes")
        .and_then(Value::as_map)
        .map(|a| {
            a.iter()
                .map(|(k, v)| (k.clone(), json!(v.as_str().unwrap_or_default())))
                .collect()
        })
        .unwrap_or_default();
    let message_attributes: serde_json::Map<String, Json> = msg
        .get("MessageAttributes")
        .and_then(Value::as_map)
        .map(|a| {
            a.iter()
                .map(|(k, v)| {
                    let mut o = json!({
                        "stringListValues": [],
                        "binaryListValues": [],
                        "dataType": v.str("DataType").unwrap_or_default(),
                    });
                    if let Some(s) = v.str("StringValue") {
                        o["stringValue"] = json!(s);
                    }
                    if let Some(Value::Blob(b)) = v.get("BinaryValue") {
                        o["binaryValue"] =
                            json!(base64::engine::general_purpose::STANDARD.encode(b));
                    }
                    (k.clone(), o)
                })
                .collect()
        })
        .unwrap_or_default();
    let mut record = json!({
        "messageId": msg.str("MessageId").unwrap_or_default(),
        "receiptHandle": msg.str("ReceiptHandle").unwrap_or_default(),
        "body": msg.str("Body").unwrap_or_default(),
        "attributes": attributes,
        "messageAttributes": message_attributes,
    });
    // AWS's record has the digest only for a message with attributes.
    if let Some(md5) = msg.str("MD5OfMessageAttributes") {
        record["md5OfMessageAttributes"] = json!(md5);
    }
    for (k, v) in [
        ("md5OfBody", json!(msg.str("MD5OfBody").unwrap_or_default())),
        ("eventSource", json!("aws:sqs")),
        ("eventSourceARN", json!(m.source_arn)),
        ("awsRegion", json!(m.region)),
    ] {
        record[k] = v;
    }
    record
}
