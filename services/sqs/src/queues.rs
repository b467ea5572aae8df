//! Queue handlers: create, find, list, attributes, tags, permissions, purge, delete.

use crate::attributes::{self, READ_ONLY};
use crate::errors;
use crate::names;
use crate::queue::{ATTRIBUTE_PROPAGATION_MS, DEDUP, Meta, Queue, SEQS};
use crate::state::{self, Core, QUEUES};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use nephos_core::{AwsError, RequestContext, Value};
use nephos_storage::Mutation;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Name deletion blocks reuse for this long.
const DELETE_COOLDOWN_MS: i64 = 60_000;
const PURGE_COOLDOWN_MS: i64 = 60_000;
const MAX_TAGS: usize = 50;

pub fn string_map(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_map)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_list)
        .map(|l| {
            l.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

pub fn url_of(ctx: &RequestContext, q: &Queue) -> String {
    names::queue_url(ctx.host.as_deref(), &q.region, &q.account, &q.name)
}

/// Checks a RedrivePolicy against its target queue: it must exist, be of the same type,
/// and allow this queue as a source.
fn check_dead_letter_target(
    core: &Core,
    attrs: &BTreeMap<String, String>,
    fifo: bool,
    source_arn: &str,
) -> Result<(), AwsError> {
    let Some(value) = attrs.get("RedrivePolicy").filter(|v| !v.is_empty()) else {
        return Ok(());
    };
    let policy = attributes::redrive_policy(value)?;
    let bad = |reason: &str| {
        errors::invalid_parameter(format!(
            "Value {value} for parameter RedrivePolicy is invalid. Reason: {reason}"
        ))
    };
    let Some(target) = core.by_arn(&policy.target_arn) else {
        return Err(bad("Dead-letter target does not exist."));
    };
    if target.fifo != fifo {
        return Err(bad(
            "Dead-letter queue must be same type of queue as the source.",
        ));
    }
    let allow = target
        .inner
        .lock()
        .unwrap()
        .meta()
        .attrs
        .get("RedriveAllowPolicy")
        .filter(|v| !v.is_empty())
        .map(|v| attributes::redrive_allow_policy(v))
        .transpose()?;
    if allow.is_some_and(|a| !a.allows(source_arn)) {
        return Err(bad(
            "Dead-letter target does not allow this queue as a source queue.",
        ));
    }
    Ok(())
}

pub async fn create_queue(
    core: &Core,
    ctx: &RequestContext,
    input: &Value,
) -> Result<Value, AwsError> {
    let name = input.str("QueueName").unwrap_or_default();
    let given = string_map(input.get("Attributes"));
    let fifo = given
        .get("FifoQueue")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    names::validate_name(name, fifo)?;
    let attrs = attributes::validate(&given, fifo, true)?;
    let tags = string_map(input.get("tags"));
    if tags.len() > MAX_TAGS {
        return Err(errors::invalid_parameter(format!(
            "Too many tags added for queue {name}."
        )));
    }
    let now = ctx.clock.now_millis();
    let region = core.regions.get(ctx);
    if let Some(existing) = region.queues.read().unwrap().get(name).cloned() {
        let inner = existing.inner.lock().unwrap();
        let meta = inner.meta();
        for (k, v) in &attrs {
            let current = meta
                .attrs
                .get(k)
                .cloned()
                .or_else(|| attributes::default(k, meta.fifo, &meta.attrs))
                .unwrap_or_default();
            if &current != v {
                return Err(AwsError::new(
                    400,
                    "QueueNameExists",
                    format!(
                        "A queue already exists with the same name and a different value for attribute {k}"
                    ),
                ));
            }
        }
        return Ok(Value::map().with("QueueUrl", url_of(ctx, &existing)));
    }
    if let Some(at) = region.deleted.lock().unwrap().get(name)
        && now - at < DELETE_COOLDOWN_MS
    {
        return Err(AwsError::new(
            400,
            "QueueDeletedRecently",
            "You must wait 60 seconds after deleting a queue before you can create another with the same name.",
        ));
    }
    let arn = names::queue_arn(&ctx.region, &ctx.account_id, name);
    check_dead_letter_target(core, &attrs, fifo, &arn)?;
    let meta = Meta {
        fifo,
        attrs: attrs.into_iter().filter(|(_, v)| !v.is_empty()).collect(),
        tags,
        created_ms: now,
        modified_ms: now,
    };
    let q = Arc::new(Queue::new(
        &ctx.account_id,
        &ctx.region,
        name,
        meta.clone(),
        now,
        core.storage.is_durable(),
    ));
    {
        let mut queues = region.queues.write().unwrap();
        if let Some(raced) = queues.get(name) {
            return Ok(Value::map().with("QueueUrl", url_of(ctx, raced)));
        }
        queues.insert(name.to_owned(), q.clone());
    }
    core.commit(vec![Core::meta_mutation(&q, &meta)]).await?;
    Ok(Value::map().with("QueueUrl", url_of(ctx, &q)))
}

pub fn get_queue_url(core: &Core, ctx: &RequestContext, input: &Value) -> Result<Value, AwsError> {
    let name = input.str("QueueName").unwrap_or_default();
    let owner = input
        .str("QueueOwnerAWSAccountId")
        .unwrap_or(&ctx.account_id);
    let q = core
        .find(owner, &ctx.region, name)
        .ok_or_else(errors::queue_does_not_exist)?;
    let url = url_of(ctx, &q);
    core.authorize(ctx, &q, "GetQueueUrl", &url)?;
    Ok(Value::map().with("QueueUrl", url))
}

/// One page of names after `token`.
fn page(
    names: Vec<String>,
    max: Option<i64>,
    token: Option<&str>,
) -> Result<(Vec<String>, Option<String>), AwsError> {
    let after = match token {
        Some(t) => Some(
            B64.decode(t)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| errors::invalid_parameter("Invalid NextToken value."))?,
        ),
        None => None,
    };
    let limit = match max {
        Some(m) if !(1..=1000).contains(&m) => {
            return Err(errors::invalid_parameter(format!(
                "Value {m} for parameter MaxResults is invalid. Reason: MaxResults must be an integer between 1 and 1000."
            )));
        }
        Some(m) => m as usize,
        None => 1000,
    };
    let rest: Vec<String> = names
        .into_iter()
        .filter(|n| after.as_ref().is_none_or(|a| n > a))
        .collect();
    let more = max.is_some() && rest.len() > limit;
    let items: Vec<String> = rest.into_iter().take(limit).collect();
    let next = more
        .then(|| items.last().map(|l| B64.encode(l.as_bytes())))
        .flatten();
    Ok((items, next))
}

pub fn list_queues(core: &Core, ctx: &RequestContext, input: &Value) -> Result<Value, AwsError> {
    let prefix = input.str("QueueNamePrefix").unwrap_or_default();
    let region = core.regions.get(ctx);
    let names: Vec<String> = region
        .queues
        .read()
        .unwrap()
        .keys()
        .filter(|n| n.starts_with(prefix))
        .cloned()
        .collect();
    let (items, next) = page(names, input.int("MaxResults"), input.str("NextToken"))?;
    let urls: Vec<Value> = items
        .iter()
        .map(|n| names::queue_url(ctx.host.as_deref(), &ctx.region, &ctx.account_id, n).into())
        .collect();
    let mut out = Value::map();
    if !urls.is_empty() {
        out.insert("QueueUrls", urls);
    }
    if let Some(t) = next {
        out.insert("NextToken", t);
    }
    Ok(out)
}

pub fn list_dead_letter_source_queues(
    core: &Core,
    ctx: &RequestContext,
    input: &Value,
) -> Result<Value, AwsError> {
    let dlq = core.resolve(ctx, input.str("QueueUrl").unwrap_or_default())?;
    let region = core.regions.get_for(&dlq.account, &dlq.region);
    let queues: Vec<Arc<Queue>> = region.queues.read().unwrap().values().cloned().collect();
    let names: Vec<String> = queues
        .iter()
        .filter(|q| {
            q.inner
                .lock()
                .unwrap()
                .meta()
                .attrs
                .get("RedrivePolicy")
                .and_then(|p| attributes::redrive_policy(p).ok())
                .is_some_and(|p| p.target_arn == dlq.arn)
        })
        .map(|q| q.name.clone())
        .collect();
    let (items, next) = page(names, input.int("MaxResults"), input.str("NextToken"))?;
    let urls: Vec<Value> = items
        .iter()
        .map(|n| names::queue_url(ctx.host.as_deref(), &dlq.region, &dlq.account, n).into())
        .collect();
    let mut out = Value::map().with("queueUrls", urls);
    if let Some(t) = next {
        out.insert("NextToken", t);
    }
    Ok(out)
}

pub fn get_queue_attributes(
    core: &Core,
    ctx: &RequestContext,
    input: &Value,
) -> Result<Value, AwsError> {
    let q = core.resolve(ctx, input.str("QueueUrl").unwrap_or_default())?;
    let wanted = strings(input.get("AttributeNames"));
    for w in &wanted {
        if !attributes::is_known(w) {
            return Err(errors::invalid_attribute_name(w));
        }
    }
    let all = wanted.iter().any(|w| w == "All");
    let mut inner = q.inner.lock().unwrap();
    inner.maintain(ctx.clock.now_millis());
    let (visible, in_flight, delayed) = inner.counts();
    let meta = inner.meta();
    let value_of = |name: &str| -> Option<String> {
        Some(match name {
            "ApproximateNumberOfMessages" => visible.to_string(),
            "ApproximateNumberOfMessagesNotVisible" => in_flight.to_string(),
            "ApproximateNumberOfMessagesDelayed" => delayed.to_string(),
            "CreatedTimestamp" => (meta.created_ms / 1000).to_string(),
            "LastModifiedTimestamp" => (meta.modified_ms / 1000).to_string(),
            "QueueArn" => q.arn.clone(),
            // The reuse period means something only with a KMS key.
            "KmsDataKeyReusePeriodSeconds" if !meta.attrs.contains_key("KmsMasterKeyId") => {
                return None;
            }
            other => meta
                .attrs
                .get(other)
                .cloned()
                .or_else(|| attributes::default(other, meta.fifo, &meta.attrs))?,
        })
    };
    let mut names: Vec<&str> = Vec::new();
    if all {
        names.extend(READ_ONLY);
        names.extend([
            "DelaySeconds",
            "MaximumMessageSize",
            "MessageRetentionPeriod",
            "ReceiveMessageWaitTimeSeconds",
            "VisibilityTimeout",
            "Policy",
            "RedrivePolicy",
            "RedriveAllowPolicy",
            "KmsMasterKeyId",
            "KmsDataKeyReusePeriodSeconds",
            "SqsManagedSseEnabled",
            "FifoQueue",
            "ContentBasedDeduplication",
            "DeduplicationScope",
            "FifoThroughputLimit",
        ]);
    } else {
        names.extend(wanted.iter().map(String::as_str));
    }
    let mut attrs = Value::map();
    for n in names {
        if let Some(v) = value_of(n) {
            attrs.insert(n, v);
        }
    }
    let mut out = Value::map();
    if attrs.as_map().is_some_and(|m| !m.is_empty()) {
        out.insert("Attributes", attrs);
    }
    Ok(out)
}

pub async fn set_queue_attributes(
    core: &Core,
    ctx: &RequestContext,
    input: &Value,
) -> Result<Value, AwsError> {
    let q = core.resolve(ctx, input.str("QueueUrl").unwrap_or_default())?;
    let given = string_map(input.get("Attributes"));
    let attrs = attributes::validate(&given, q.fifo, false)?;
    check_dead_letter_target(core, &attrs, q.fifo, &q.arn)?;
    let meta = {
        let mut inner = q.inner.lock().unwrap();
        let meta = inner.meta_mut();
        let mut merged = meta.attrs.clone();
        // Choosing a KMS key turns SSE-SQS off, and it stays off when the key is removed.
        if attrs.get("KmsMasterKeyId").is_some_and(|k| !k.is_empty())
            && !attrs.contains_key("SqsManagedSseEnabled")
        {
            merged.insert("SqsManagedSseEnabled".into(), "false".into());
        }
        for (k, v) in attrs {
            if v.is_empty() {
                merged.remove(&k);
            } else {
                merged.insert(k, v);
            }
        }
        if merged.get("FifoThroughputLimit").map(String::as_str) == Some("perMessageGroupId")
            && merged.get("DeduplicationScope").map(String::as_str) != Some("messageGroup")
        {
            return Err(errors::invalid_parameter(
                "The perMessageGroupId value is allowed only when the value for DeduplicationScope is messageGroup",
            ));
        }
        let now = ctx.clock.now_millis();
        let was_per_group = meta.dedup_per_group();
        meta.attrs = merged;
        meta.modified_ms = now;
        let meta = meta.clone();
        if meta.dedup_per_group() != was_per_group {
            inner.dedup_scope_change = Some((was_per_group, now + ATTRIBUTE_PROPAGATION_MS));
        }
        meta
    };
    core.commit(vec![Core::meta_mutation(&q, &meta)]).await?;
    // A shorter delay or wait may make messages receivable sooner.
    q.notify.notify_waiters();
    Ok(Value::map())
}

async fn update_meta(
    core: &Core,
    q: &Queue,
    f: impl FnOnce(&mut Meta) -> Result<(), AwsError>,
) -> Result<(), AwsError> {
    let meta = {
        let mut inner = q.inner.lock().unwrap();
        f(inner.meta_mut())?;
        inner.meta().clone()
    };
    core.commit(vec![Core::meta_mutation(q, &meta)]).await
}

pub async fn tag_queue(
    core: &Core,
    ctx: &RequestContext,
    input: &Value,
) -> Result<Value, AwsError> {
    let q = core.resolve(ctx, input.str("QueueUrl").unwrap_or_default())?;
    let tags = string_map(input.get("Tags"));
    if tags.is_empty() {
        return Err(errors::invalid_parameter(
            "The request must contain a non-empty list of tags.",
        ));
    }
    update_meta(core, &q, |m| {
        let mut merged = m.tags.clone();
        merged.extend(tags);
        if merged.len() > MAX_TAGS {
            return Err(errors::invalid_parameter(format!(
                "Too many tags added for queue {}.",
                q.name
            )));
        }
        m.tags = merged;
        Ok(())
    })
    .await?;
    Ok(Value::map())
}

pub async fn untag_queue(
    core: &Core,
    ctx: &RequestContext,
    input: &Value,
) -> Result<Value, AwsError> {
    let q = core.resolve(ctx, input.str("QueueUrl").unwrap_or_default())?;
    let keys = strings(input.get("TagKeys"));
    update_meta(core, &q, |m| {
        for k in &keys {
            m.tags.remove(k);
        }
        Ok(())
    })
    .await?;
    Ok(Value::map())
}

pub fn list_queue_tags(
    core: &Core,
    ctx: &RequestContext,
    input: &Value,
) -> Result<Value, AwsError> {
    let q = core.resolve(ctx, input.str("QueueUrl").unwrap_or_default())?;
    let inner = q.inner.lock().unwrap();
    let tags = &inner.meta().tags;
    let mut out = Value::map();
    if !tags.is_empty() {
        let mut m = Value::map();
        for (k, v) in tags {
            m.insert(k, v.as_str());
        }
        out.insert("Tags", m);
    }
    Ok(out)
}

pub async fn add_permission(
    core: &Core,
    ctx: &RequestContext,
    input: &Value,
) -> Result<Value, AwsError> {
    let q = core.resolve(ctx, input.str("QueueUrl").unwrap_or_default())?;
    let label = input.str("Label").unwrap_or_default().to_owned();
    let accounts = strings(input.get("AWSAccountIds"));
    let actions = strings(input.get("Actions"));
    if accounts.is_empty() || actions.is_empty() {
        return Err(errors::missing_parameter(if accounts.is_empty() {
            "AWSAccountIds"
        } else {
            "Actions"
        }));
    }
    let arn = q.arn.clone();
    update_meta(core, &q, |m| {
        let mut doc: serde_json::Value = m
            .attrs
            .get("Policy")
            .and_then(|p| serde_json::from_str(p).ok())
            .unwrap_or_else(|| {
                serde_json::json!({"Version": "2012-10-17", "Id": format!("{arn}/SQSDefaultPolicy"), "Statement": []})
            });
        let statements = doc
            .get_mut("Statement")
            .and_then(|s| s.as_array_mut())
            .ok_or_else(|| errors::invalid_parameter("The queue policy is not valid."))?;
        if statements
            .iter()
            .any(|s| s.get("Sid").and_then(|v| v.as_str()) == Some(label.as_str()))
        {
            return Err(errors::invalid_parameter(format!(
                "Value {label} for parameter Label is invalid. Reason: Already exists."
            )));
        }
        let principals: Vec<String> = accounts
            .iter()
            .map(|a| format!("arn:aws:iam::{a}:root"))
            .collect();
        let acts: Vec<String> = actions.iter().map(|a| format!("SQS:{a}")).collect();
        statements.push(serde_json::json!({
            "Sid": label,
            "Effect": "Allow",
            "Principal": {"AWS": if principals.len() == 1 { serde_json::json!(principals[0]) } else { serde_json::json!(principals) }},
            "Action": if acts.len() == 1 { serde_json::json!(acts[0]) } else { serde_json::json!(acts) },
            "Resource": arn,
        }));
        m.attrs.insert("Policy".into(), doc.to_string());
        Ok(())
    })
    .await?;
    Ok(Value::map())
}

pub async fn remove_permission(
    core: &Core,
    ctx: &RequestContext,
    input: &Value,
) -> Result<Value, AwsError> {
    let q = core.resolve(ctx, input.str("QueueUrl").unwrap_or_default())?;
    let label = input.str("Label").unwrap_or_default().to_owned();
    update_meta(core, &q, |m| {
        let mut doc: serde_json::Value = m
            .attrs
            .get("Policy")
            .and_then(|p| serde_json::from_str(p).ok())
            .unwrap_or(serde_json::Value::Null);
        let statements = doc.get_mut("Statement").and_then(|s| s.as_array_mut());
        let Some(statements) = statements else {
            return Err(errors::invalid_parameter(format!(
                "Value {label} for parameter Label is invalid. Reason: can't find label."
            )));
        };
        let before = statements.len();
        statements.retain(|s| s.get("Sid").and_then(|v| v.as_str()) != Some(label.as_str()));
        if statements.len() == before {
            return Err(errors::invalid_parameter(format!(
                "Value {label} for parameter Label is invalid. Reason: can't find label."
            )));
        }
        if statements.is_empty() {
            m.attrs.remove("Policy");
        } else {
            m.attrs.insert("Policy".into(), doc.to_string());
        }
        Ok(())
    })
    .await?;
    Ok(Value::map())
}

pub async fn purge_queue(
    core: &Core,
    ctx: &RequestContext,
    input: &Value,
) -> Result<Value, AwsError> {
    let q = core.resolve(ctx, input.str("QueueUrl").unwrap_or_default())?;
    let now = ctx.clock.now_millis();
    let batch = {
        let mut inner = q.inner.lock().unwrap();
        if now < inner.purge_until {
            return Err(AwsError::new(
                403,
                "PurgeQueueInProgress",
                format!(
                    "Only one PurgeQueue operation on {} is allowed every 60 seconds.",
                    q.name
                ),
            ));
        }
        inner.purge_until = now + PURGE_COOLDOWN_MS;
        let seqs = inner.purge();
        let mut batch = std::mem::take(&mut inner.pending);
        batch.extend(state::forget_messages(&q, &seqs));
        // A purged FIFO queue takes a deduplication id again at once.
        batch.extend(
            inner
                .clear_dedup()
                .into_iter()
                .map(|k| Mutation::delete(DEDUP, k)),
        );
        batch
    };
    core.commit(batch).await?;
    Ok(Value::map())
}

pub async fn delete_queue(
    core: &Core,
    ctx: &RequestContext,
    input: &Value,
) -> Result<Value, AwsError> {
    let q = core.resolve(ctx, input.str("QueueUrl").unwrap_or_default())?;
    let region = core.regions.get_for(&q.account, &q.region);
    let removed = region.queues.write().unwrap().remove(&q.name);
    if removed.is_none() {
        return Err(errors::queue_does_not_exist());
    }
    region
        .deleted
        .lock()
        .unwrap()
        .insert(q.name.clone(), ctx.clock.now_millis());
    let mut batch = {
        let mut inner = q.inner.lock().unwrap();
        inner.deleted = true;
        let seqs = inner.purge();
        let mut batch = std::mem::take(&mut inner.pending);
        batch.extend(state::forget_messages(&q, &seqs));
        // A queue created later under the same name must not inherit deduplication ids.
        batch.extend(
            inner
                .dedup_keys()
                .into_iter()
                .map(|k| Mutation::delete(DEDUP, k)),
        );
        batch
    };
    q.notify.notify_waiters();
    batch.push(Mutation::delete(SEQS, q.key().into_bytes()));
    batch.push(Mutation::delete(QUEUES, q.key().into_bytes()));
    core.commit(batch).await?;
    Ok(Value::map())
}
