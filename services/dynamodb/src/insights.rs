//! CloudWatch Contributor Insights for DynamoDB (Describe/Update/ListContributorInsights),
//! per table and per global secondary index. nephos keeps the setting and names the rules
//! as AWS names them; it collects no contributor data. An enable or disable answers
//! ENABLING or DISABLING, as AWS does, and is settled by the next read (AWS takes 1–16 s).

use crate::state::DynamoDb;
use crate::table::{Insights, Table, TableMeta};
use crate::tables::table_name;
use nephos_core::{AwsError, RequestContext, Timestamp, Value};

const DEFAULT_MODE: &str = "ACCESSED_AND_THROTTLED_KEYS";

fn table_not_found(name: &str) -> AwsError {
    AwsError::new(
        400,
        "ResourceNotFoundException",
        format!("Requested resource not found: Table: {name} not found"),
    )
}

/// Insights exist for the table and its global indexes only: a local index or an unknown
/// name is not found, as on AWS.
fn check_index(meta: &TableMeta, index: Option<&str>) -> Result<(), AwsError> {
    match index {
        Some(i) if !meta.indexes.iter().any(|x| x.global && x.name == i) => Err(AwsError::new(
            400,
            "ResourceNotFoundException",
            format!(
                "Requested resource not found: Index: {i} not found for table: {}",
                meta.name
            ),
        )),
        _ => Ok(()),
    }
}

/// The rules AWS creates: partition key (PK) and, when the key has one, sort key (SK)
/// rules for most accessed (C) and most throttled (T) keys; THROTTLED_KEYS mode only has
/// the throttled ones.
fn rule_names(meta: &TableMeta, ins: &Insights) -> Vec<Value> {
    let has_range = match &ins.index {
        Some(i) => meta
            .indexes
            .iter()
            .find(|x| &x.name == i)
            .is_some_and(|x| x.key.range.is_some()),
        None => meta.key.range.is_some(),
    };
    let target = match &ins.index {
        Some(i) => format!("{}-{i}", meta.name),
        None => meta.name.clone(),
    };
    let kinds: &[&str] = match (ins.mode.as_str(), has_range) {
        ("THROTTLED_KEYS", true) => &["PKT", "SKT"],
        ("THROTTLED_KEYS", false) => &["PKT"],
        (_, true) => &["PKC", "SKC", "PKT", "SKT"],
        (_, false) => &["PKC", "PKT"],
    };
    kinds
        .iter()
        .map(|k| {
            Value::from(format!(
                "DynamoDBContributorInsights-{k}-{target}-{}",
                ins.rules_ms
            ))
        })
        .collect()
}

fn with_index(out: Value, index: Option<&str>) -> Value {
    match index {
        Some(i) => out.with("IndexName", i),
        None => out,
    }
}

impl DynamoDb {
    pub fn describe_contributor_insights(
        &self,
        ctx: &RequestContext,
        v: &Value,
    ) -> Result<Value, AwsError> {
        let name = table_name(v);
        let t = self.table(ctx, &name).map_err(|_| table_not_found(&name))?;
        let t = t.read().unwrap();
        let index = v.str("IndexName");
        check_index(&t.meta, index)?;
        let mut out = with_index(Value::map().with("TableName", t.meta.name.as_str()), index);
        match t.meta.insights.iter().find(|i| i.index.as_deref() == index) {
            // A table never configured answers with its name and DISABLED only.
            None => out.insert("ContributorInsightsStatus", "DISABLED"),
            Some(ins) => {
                if ins.enabled {
                    out.insert(
                        "ContributorInsightsRuleList",
                        Value::List(rule_names(&t.meta, ins)),
                    );
                }
                out.insert(
                    "ContributorInsightsStatus",
                    if ins.enabled { "ENABLED" } else { "DISABLED" },
                );
                out.insert("LastUpdateDateTime", Timestamp::from_millis(ins.updated_ms));
                out.insert("ContributorInsightsMode", ins.mode.as_str());
            }
        }
        Ok(out)
    }

    pub async fn update_contributor_insights(
        &self,
        ctx: &RequestContext,
        v: &Value,
    ) -> Result<Value, AwsError> {
        let name = table_name(v);
        let t = self.table(ctx, &name).map_err(|_| table_not_found(&name))?;
        let index = v.str("IndexName");
        let enable = v.str("ContributorInsightsAction") == Some("ENABLE");
        let (snapshot, status, mode, table) = {
            let mut t = t.write().unwrap();
            check_index(&t.meta, index)?;
            let now = ctx.clock.now_millis();
            let current = t
                .meta
                .insights
                .iter()
                .position(|i| i.index.as_deref() == index);
            // ENABLE without a mode asks for the default one, and a settled state asked
            // for again is a no-op answered with that state.
            let wanted = v.str("ContributorInsightsMode").unwrap_or(DEFAULT_MODE);
            let (status, mode) = match (current, enable) {
                (Some(p), true)
                    if t.meta.insights[p].enabled && t.meta.insights[p].mode == wanted =>
                {
                    ("ENABLED", Some(wanted.to_owned()))
                }
                (Some(p), true) => {
                    let ins = &mut t.meta.insights[p];
                    if !ins.enabled {
                        ins.rules_ms = now;
                    }
                    ins.enabled = true;
                    ins.mode = wanted.to_owned();
                    ins.updated_ms = now;
                    ("ENABLING", Some(wanted.to_owned()))
                }
                (None, true) => {
                    t.meta.insights.push(Insights {
                        index: index.map(str::to_owned),
                        enabled: true,
                        mode: wanted.to_owned(),
                        updated_ms: now,
                        rules_ms: now,
                    });
                    ("ENABLING", Some(wanted.to_owned()))
                }
                (Some(p), false) if t.meta.insights[p].enabled => {
                    let ins = &mut t.meta.insights[p];
                    ins.enabled = false;
                    ins.updated_ms = now;
                    ("DISABLING", Some(ins.mode.clone()))
                }
                (Some(p), false) => ("DISABLED", Some(t.meta.insights[p].mode.clone())),
                (None, false) => ("DISABLED", None),
            };
            let changed = matches!(status, "ENABLING" | "DISABLING");
            (
                changed.then(|| Table::new(t.meta.clone())),
                status,
                mode,
                t.meta.name.clone(),
            )
        };
        if let Some(snapshot) = snapshot {
            self.persist_meta(ctx, &snapshot).await?;
        }
        let mut out = with_index(Value::map().with("TableName", table), index)
            .with("ContributorInsightsStatus", status);
        if let Some(mode) = mode {
            out.insert("ContributorInsightsMode", mode);
        }
        Ok(out)
    }

    /// Enabled insights (disabled ones are left out, as AWS does) of one table or of
    /// every table in the region: each table before its indexes, tables by name.
    pub fn list_contributor_insights(
        &self,
        ctx: &RequestContext,
        v: &Value,
    ) -> Result<Value, AwsError> {
        let tables: Vec<_> = match v.str("TableName") {
            Some(_) => {
                let name = table_name(v);
                vec![self.table(ctx, &name).map_err(|_| table_not_found(&name))?]
            }
            None => {
                let region = self.region(ctx);
                let map = region.tables.read().unwrap();
                let mut names: Vec<&String> = map.keys().collect();
                names.sort();
                names.into_iter().map(|n| map[n].clone()).collect()
            }
        };
        let mut all = Vec::new();
        for t in tables {
            let t = t.read().unwrap();
            let mut entries: Vec<&Insights> =
                t.meta.insights.iter().filter(|i| i.enabled).collect();
            entries.sort_by(|a, b| a.index.cmp(&b.index));
            for ins in entries {
                // A space sorts before every character of a table name.
                let key = format!("{} {}", t.meta.name, ins.index.as_deref().unwrap_or(""));
                let summary = with_index(
                    Value::map().with("TableName", t.meta.name.as_str()),
                    ins.index.as_deref(),
                )
                .with("ContributorInsightsStatus", "ENABLED")
                .with("ContributorInsightsMode", ins.mode.as_str());
                all.push((key, summary));
            }
        }
        // The token is the key of the last entry given, so later changes do not shift pages.
        let start = v.str("NextToken").unwrap_or_default();
        let limit = v.int("MaxResults").unwrap_or(100).clamp(1, 100) as usize;
        let rest: Vec<_> = all
            .into_iter()
            .filter(|(k, _)| start.is_empty() || k.as_str() > start)
            .collect();
        let mut out = Value::map();
        if rest.len() > limit {
            out.insert("NextToken", rest[limit - 1].0.as_str());
        }
        Ok(out.with(
            "ContributorInsightsSummaries",
            Value::List(rest.into_iter().take(limit).map(|(_, s)| s).collect()),
        ))
    }
}
