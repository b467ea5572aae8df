//! Log groups: create, delete, describe, retention, tags, KMS keys.

use crate::errors;
use crate::state::{Core, GroupMeta, LogGroup};
use crate::util::{self, GroupRef, group_arn};
use nephos_core::{AwsError, RequestContext, Value};
use nephos_storage::Mutation;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// The retention periods AWS accepts, in days.
pub const RETENTION_DAYS: [i64; 22] = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

const MAX_TAGS: usize = 50;

pub async fn create_log_group(
    c: &Core,
    ctx: &RequestContext,
    i: &Value,
) -> Result<Value, AwsError> {
    let name = i.str("logGroupName").unwrap_or_default();
    let tags = util::string_map(i.get("tags"));
    if tags.len() > MAX_TAGS {
        return Err(errors::invalid_parameter(
            "A resource can have no more than 50 tags.",
        ));
    }
    let region = c.regions.get(ctx);
    let group = {
        let mut groups = region.groups.lock().unwrap();
        if groups.contains_key(name) {
            return Err(errors::already_exists(
                "The specified log group already exists",
            ));
        }
        let g = LogGroup {
            name: name.to_owned(),
            meta: GroupMeta {
                creation_time: ctx.clock.now_millis(),
                kms_key_id: i.str("kmsKeyId").map(str::to_owned),
                log_group_class: i.str("logGroupClass").unwrap_or("STANDARD").to_owned(),
                deletion_protection: i.bool("deletionProtectionEnabled").unwrap_or(false),
                tags: tags.into_iter().collect(),
                ..Default::default()
            },
            streams: BTreeMap::new(),
        };
        let m = Core::meta_mutation(&ctx.account_id, &ctx.region, &g);
        let g = Arc::new(Mutex::new(g));
        groups.insert(name.to_owned(), g.clone());
        (g, m)
    };
    if let Err(e) = c.commit(vec![group.1]).await {
        region.groups.lock().unwrap().remove(name);
        return Err(e);
    }
    Ok(Value::map())
}

pub async fn delete_log_group(
    c: &Core,
    ctx: &RequestContext,
    i: &Value,
) -> Result<Value, AwsError> {
    let name = i.str("logGroupName").unwrap_or_default();
    let region = c.regions.get(ctx);
    let g = {
        let mut groups = region.groups.lock().unwrap();
        let g = groups.get(name).ok_or_else(errors::group_not_found)?;
        if g.lock().unwrap().meta.deletion_protection {
            return Err(AwsError::validation(
                "Cannot delete log group with deletion protection enabled. Disable deletion protection first.",
            ));
        }
        groups.remove(name).ok_or_else(errors::group_not_found)?
    };
    let batch = {
        let g = g.lock().unwrap();
        let mut batch = vec![Mutation::delete(
            crate::state::GROUPS,
            crate::state::group_key(&ctx.account_id, &ctx.region, name),
        )];
        for s in g.streams.values() {
            batch.extend(Core::forget_stream(&ctx.account_id, &ctx.region, name, s));
        }
        batch
    };
    c.commit(batch).await?;
    Ok(Value::map())
}

/// A group as DescribeLogGroups shows it.
pub fn describe(account: &str, region: &str, g: &LogGroup) -> Value {
    let arn = group_arn(account, region, &g.name);
    let mut v = Value::map()
        .with("logGroupName", g.name.as_str())
        .with("creationTime", g.meta.creation_time)
        .with("metricFilterCount", g.meta.metric_filters.len() as i64)
        .with("arn", format!("{arn}:*"))
        .with("storedBytes", g.stored_bytes() as i64)
        .with("logGroupClass", g.meta.log_group_class.as_str())
        .with("deletionProtectionEnabled", g.meta.deletion_protection)
        .with("logGroupArn", arn);
    if let Some(days) = g.meta.retention_in_days {
        v.insert("retentionInDays", days);
    }
    if let Some(k) = &g.meta.kms_key_id {
        v.insert("kmsKeyId", k.as_str());
    }
    v
}

pub async fn describe_log_groups(
    c: &Core,
    ctx: &RequestContext,
    i: &Value,
) -> Result<Value, AwsError> {
    let prefix = i.str("logGroupNamePrefix");
    let pattern = i.str("logGroupNamePattern");
    if prefix.is_some() && pattern.is_some() {
        return Err(errors::invalid_parameter(
            "LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.",
        ));
    }
    let identifiers = util::strings(i.get("logGroupIdentifiers"));
    if !identifiers.is_empty() && (prefix.is_some() || pattern.is_some()) {
        return Err(errors::invalid_parameter(
            "LogGroup identifiers and LogGroup name prefix or pattern are mutually exclusive parameters.",
        ));
    }
    let class = i.str("logGroupClass");
    // The pattern matches anywhere in the name, ignoring case.
    let pattern = pattern.map(str::to_ascii_lowercase);
    let region = c.regions.get(ctx);
    let groups: Vec<Arc<Mutex<LogGroup>>> = region
        .groups
        .lock()
        .unwrap()
        .iter()
        .filter(|(name, _)| {
            prefix.is_none_or(|p| name.starts_with(p))
                && pattern
                    .as_deref()
                    .is_none_or(|p| name.to_ascii_lowercase().contains(p))
                && (identifiers.is_empty()
                    || identifiers.iter().any(|id| {
                        id == *name
                            || util::parse_group_arn(id).is_some_and(|r| {
                                r.name == **name
                                    && r.account == ctx.account_id
                                    && r.region == ctx.region
                            })
                    }))
        })
        .map(|(_, g)| g.clone())
        .collect();
    let now = ctx.clock.now_millis();
    let mut expired = Vec::new();
    let mut shown = Vec::new();
    for g in groups {
        let mut g = g.lock().unwrap();
        if class.is_some_and(|k| k != g.meta.log_group_class) {
            continue;
        }
        expired.extend(g.expire(&ctx.account_id, &ctx.region, now));
        shown.push(describe(&ctx.account_id, &ctx.region, &g));
    }
    c.forget(expired).await;
    let limit = i.int("limit").unwrap_or(50) as usize;
    let (page, next) = util::page(shown, i.str("nextToken"), limit)?;
    let mut out = Value::map().with("logGroups", page);
    if let Some(t) = next {
        out.insert("nextToken", t);
    }
    Ok(out)
}

/// ListLogGroups: names, ARNs and classes, filtered by a pattern (`^prefix`, substrings,
/// up to five alternatives separated by `|`, case-sensitive), class and tags.
pub fn list_log_groups(c: &Core, ctx: &RequestContext, i: &Value) -> Result<Value, AwsError> {
    if i.get("dataSources").is_some() || i.get("fieldIndexNames").is_some() {
        return Err(errors::invalid_parameter(
            "Filtering by dataSources or fieldIndexNames is not supported by nephos.",
        ));
    }
    let alternatives: Vec<(bool, String)> = i
        .str("logGroupNamePattern")
        .map(|p| {
            p.split('|')
                .map(|a| match a.strip_prefix('^') {
                    Some(prefix) => (true, prefix.to_owned()),
                    None => (false, a.to_owned()),
                })
                .collect()
        })
        .unwrap_or_default();
    let class = i.str("logGroupClass");
    let tag_filters: Vec<(String, Vec<String>)> = i
        .get("logGroupTags")
        .and_then(Value::as_list)
        .unwrap_or_default()
        .iter()
        .map(|f| {
            (
                f.str("key").unwrap_or_default().to_owned(),
                util::strings(f.get("values")),
            )
        })
        .collect();
    let groups: Vec<Arc<Mutex<LogGroup>>> = c
        .regions
        .get(ctx)
        .groups
        .lock()
        .unwrap()
        .values()
        .cloned()
        .collect();
    let mut shown = Vec::new();
    for g in groups {
        let g = g.lock().unwrap();
        let named = alternatives.is_empty()
            || alternatives.iter().any(|(prefix, text)| {
                if *prefix {
                    g.name.starts_with(text.as_str())
                } else {
                    g.name.contains(text.as_str())
                }
            });
        let tagged = tag_filters.iter().all(|(key, values)| {
            g.meta
                .tags
                .get(key)
                .is_some_and(|v| values.is_empty() || values.contains(v))
        });
        if named && tagged && class.is_none_or(|k| k == g.meta.log_group_class) {
            shown.push(
                Value::map()
                    .with("logGroupName", g.name.as_str())
                    .with(
                        "logGroupArn",
                        group_arn(&ctx.account_id, &ctx.region, &g.name),
                    )
                    .with("logGroupClass", g.meta.log_group_class.as_str()),
            );
        }
    }
    let limit = i.int("limit").unwrap_or(50) as usize;
    let (page, next) = util::page(shown, i.str("nextToken"), limit)?;
    let mut out = Value::map().with("logGroups", page);
    if let Some(t) = next {
        out.insert("nextToken", t);
    }
    Ok(out)
}

/// Runs `f` on the caller's group `name` and stores its settings afterwards.
async fn update_group(
    c: &Core,
    r: &GroupRef,
    f: impl FnOnce(&mut LogGroup) -> Result<(), AwsError>,
) -> Result<(), AwsError> {
    let g = c
        .find(&r.account, &r.region, &r.name)
        .ok_or_else(errors::group_not_found)?;
    let m = {
        let mut g = g.lock().unwrap();
        f(&mut g)?;
        Core::meta_mutation(&r.account, &r.region, &g)
    };
    c.commit(vec![m]).await
}

fn own(ctx: &RequestContext, i: &Value) -> GroupRef {
    GroupRef {
        account: ctx.account_id.clone(),
        region: ctx.region.clone(),
        name: i.str("logGroupName").unwrap_or_default().to_owned(),
    }
}

pub async fn put_retention_policy(
    c: &Core,
    ctx: &RequestContext,
    i: &Value,
) -> Result<Value, AwsError> {
    let days = i.int("retentionInDays").unwrap_or(0);
    if !RETENTION_DAYS.contains(&days) {
        let allowed: Vec<String> = RETENTION_DAYS.iter().map(i64::to_string).collect();
        return Err(errors::invalid_parameter(format!(
            "1 validation error detected: Value '{days}' at 'retentionInDays' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
            allowed.join(", ")
        )));
    }
    update_group(c, &own(ctx, i), |g| {
        g.meta.retention_in_days = Some(days);
        Ok(())
    })
    .await?;
    Ok(Value::map())
}

pub async fn delete_retention_policy(
    c: &Core,
    ctx: &RequestContext,
    i: &Value,
) -> Result<Value, AwsError> {
    update_group(c, &own(ctx, i), |g| {
        g.meta.retention_in_days = None;
        Ok(())
    })
    .await?;
    Ok(Value::map())
}

pub async fn put_log_group_deletion_protection(
    c: &Core,
    ctx: &RequestContext,
    i: &Value,
) -> Result<Value, AwsError> {
    let r = util::group_ref(ctx, i)?;
    let enabled = i.bool("deletionProtectionEnabled").unwrap_or(false);
    update_group(c, &r, |g| {
        g.meta.deletion_protection = enabled;
        Ok(())
    })
    .await?;
    Ok(Value::map())
}

pub async fn associate_kms_key(
    c: &Core,
    ctx: &RequestContext,
    i: &Value,
) -> Result<Value, AwsError> {
    if i.str("logGroupName").is_none() {
        // resourceIdentifier names query results, which nephos does not encrypt.
        return Err(errors::invalid_parameter(
            "Either logGroupName or resourceIdentifier must be specified; nephos supports logGroupName.",
        ));
    }
    let key = i.str("kmsKeyId").unwrap_or_default().to_owned();
    update_group(c, &own(ctx, i), |g| {
        g.meta.kms_key_id = Some(key);
        Ok(())
    })
    .await?;
    Ok(Value::map())
}

pub async fn disassociate_kms_key(
    c: &Core,
    ctx: &RequestContext,
    i: &Value,
) -> Result<Value, AwsError> {
    if i.str("logGroupName").is_none() {
        return Err(errors::invalid_parameter(
            "Either logGroupName or resourceIdentifier must be specified; nephos supports logGroupName.",
        ));
    }
    update_group(c, &own(ctx, i), |g| {
        g.meta.kms_key_id = None;
        Ok(())
    })
    .await?;
    Ok(Value::map())
}

fn add_tags(
    g: &mut LogGroup,
    tags: Vec<(String, String)>,
    too_many: AwsError,
) -> Result<(), AwsError> {
    let mut merged = g.meta.tags.clone();
    merged.extend(tags);
    if merged.len() > MAX_TAGS {
        return Err(too_many);
    }
    g.meta.tags = merged;
    Ok(())
}

pub async fn tag_log_group(c: &Core, ctx: &RequestContext, i: &Value) -> Result<Value, AwsError> {
    let tags = util::string_map(i.get("tags"));
    update_group(c, &own(ctx, i), |g| {
        add_tags(
            g,
            tags,
            errors::invalid_parameter("A resource can have no more than 50 tags."),
        )
    })
    .await?;
    Ok(Value::map())
}

pub async fn untag_log_group(c: &Core, ctx: &RequestContext, i: &Value) -> Result<Value, AwsError> {
    let keys = util::strings(i.get("tags"));
    update_group(c, &own(ctx, i), |g| {
        keys.iter().for_each(|k| {
            g.meta.tags.remove(k);
        });
        Ok(())
    })
    .await?;
    Ok(Value::map())
}

fn tags_value(tags: &BTreeMap<String, String>) -> Value {
    let mut v = Value::map();
    for (k, val) in tags {
        v.insert(k, val.as_str());
    }
    v
}

pub fn list_tags_log_group(c: &Core, ctx: &RequestContext, i: &Value) -> Result<Value, AwsError> {
    let r = own(ctx, i);
    let g = c
        .find(&r.account, &r.region, &r.name)
        .ok_or_else(errors::group_not_found)?;
    let tags = tags_value(&g.lock().unwrap().meta.tags);
    Ok(Value::map().with("tags", tags))
}

/// The group a tagging ARN names (tags on other resources are not supported).
fn tagged(i: &Value) -> Result<GroupRef, AwsError> {
    let arn = i.str("resourceArn").unwrap_or_default();
    util::parse_group_arn(arn)
        .ok_or_else(|| errors::invalid_parameter(format!("Invalid resource ARN: {arn}")))
}

pub async fn tag_resource(c: &Core, _ctx: &RequestContext, i: &Value) -> Result<Value, AwsError> {
    let r = tagged(i)?;
    let tags = util::string_map(i.get("tags"));
    update_group(c, &r, |g| {
        add_tags(
            g,
            tags,
            AwsError::new(
                400,
                "TooManyTagsException",
                "A resource can have no more than 50 tags.",
            )
            .with_field("resourceName", r.arn()),
        )
    })
    .await?;
    Ok(Value::map())
}

pub async fn untag_resource(c: &Core, _ctx: &RequestContext, i: &Value) -> Result<Value, AwsError> {
    let r = tagged(i)?;
    let keys = util::strings(i.get("tagKeys"));
    update_group(c, &r, |g| {
        keys.iter().for_each(|k| {
            g.meta.tags.remove(k);
        });
        Ok(())
    })
    .await?;
    Ok(Value::map())
}

pub fn list_tags_for_resource(
    c: &Core,
    _ctx: &RequestContext,
    i: &Value,
) -> Result<Value, AwsError> {
    let r = tagged(i)?;
    let g = c
        .find(&r.account, &r.region, &r.name)
        .ok_or_else(errors::group_not_found)?;
    let tags = tags_value(&g.lock().unwrap().meta.tags);
    Ok(Value::map().with("tags", tags))
}
