//! Saved Logs Insights queries: PutQueryDefinition, DescribeQueryDefinitions,
//! DeleteQueryDefinition. Stored per account and region in `logs.querydefs`
//! (`account region id` → the definition as JSON).

use crate::errors;
use crate::state::Core;
use crate::util;
use nephos_core::{AwsError, RequestContext, Value};
use nephos_storage::Mutation;
use serde::{Deserialize, Serialize};

pub const QUERY_DEFS: &str = "logs.querydefs";
/// AWS's quota of saved queries per account and region.
const MAX_DEFINITIONS: usize = 1000;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryDefinition {
    pub name: String,
    pub query_string: String,
    #[serde(default)]
    pub log_group_names: Vec<String>,
    #[serde(default)]
    pub parameters: serde_json::Value,
    pub query_language: String,
    pub last_modified: i64,
}

fn key(ctx: &RequestContext, id: &str) -> String {
    format!("{}\t{}\t{id}", ctx.account_id, ctx.region)
}

fn not_found() -> AwsError {
    errors::not_found("The specified query definition does not exist.")
}

pub async fn put_query_definition(
    c: &Core,
    ctx: &RequestContext,
    i: &Value,
) -> Result<Value, AwsError> {
    let def = QueryDefinition {
        name: i.str("name").unwrap_or_default().to_owned(),
        query_string: i.str("queryString").unwrap_or_default().to_owned(),
        log_group_names: util::strings(i.get("logGroupNames")),
        parameters: i
            .get("parameters")
            .map_or(serde_json::Value::Null, util::to_json),
        query_language: i.str("queryLanguage").unwrap_or("CWLI").to_owned(),
        last_modified: ctx.clock.now_millis(),
    };
    let region = c.regions.get(ctx);
    let (id, m) = {
        let mut defs = region.query_defs.lock().unwrap();
        let id = match i.str("queryDefinitionId") {
            Some(id) if defs.contains_key(id) => id.to_owned(),
            Some(_) => return Err(not_found()),
            None if defs.len() >= MAX_DEFINITIONS => {
                return Err(errors::limit_exceeded("Resource limit exceeded."));
            }
            None => crate::insights::random_id(),
        };
        let m = Mutation::put(
            QUERY_DEFS,
            key(ctx, &id),
            serde_json::to_vec(&def).unwrap_or_default(),
        );
        defs.insert(id.clone(), def);
        (id, m)
    };
    c.commit(vec![m]).await?;
    Ok(Value::map().with("queryDefinitionId", id))
}

pub fn describe_query_definitions(
    c: &Core,
    ctx: &RequestContext,
    i: &Value,
) -> Result<Value, AwsError> {
    let prefix = i.str("queryDefinitionNamePrefix");
    let language = i.str("queryLanguage");
    let region = c.regions.get(ctx);
    let mut found: Vec<(String, String, Value)> = region
        .query_defs
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, d)| {
            prefix.is_none_or(|p| d.name.starts_with(p))
                && language.is_none_or(|l| d.query_language == l)
        })
        .map(|(id, d)| {
            let mut v = Value::map()
                .with("queryLanguage", d.query_language.as_str())
                .with("queryDefinitionId", id.as_str())
                .with("name", d.name.as_str())
                .with("queryString", d.query_string.as_str())
                .with("lastModified", d.last_modified);
            if !d.log_group_names.is_empty() {
                let names: Vec<Value> = d
                    .log_group_names
                    .iter()
                    .map(|n| Value::from(n.as_str()))
                    .collect();
                v.insert("logGroupNames", names);
            }
            if !d.parameters.is_null() {
                v.insert("parameters", util::from_json(&d.parameters));
            }
            (d.name.clone(), id.clone(), v)
        })
        .collect();
    found.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    let limit = i.int("maxResults").unwrap_or(1000) as usize;
    let (page, next) = util::page(
        found.into_iter().map(|(_, _, v)| v).collect(),
        i.str("nextToken"),
        limit,
    )?;
    let mut out = Value::map().with("queryDefinitions", page);
    if let Some(t) = next {
        out.insert("nextToken", t);
    }
    Ok(out)
}

pub async fn delete_query_definition(
    c: &Core,
    ctx: &RequestContext,
    i: &Value,
) -> Result<Value, AwsError> {
    let id = i.str("queryDefinitionId").unwrap_or_default();
    let region = c.regions.get(ctx);
    region
        .query_defs
        .lock()
        .unwrap()
        .remove(id)
        .ok_or_else(not_found)?;
    c.commit(vec![Mutation::delete(QUERY_DEFS, key(ctx, id))])
        .await?;
    Ok(Value::map().with("success", true))
}
