//! Amazon CloudWatch Logs: log groups and streams, events, filter patterns, metric and
//! subscription filters, Logs Insights queries.
//!
//! Groups live per account and region ([`state`]); each stream keeps its events in one
//! vector sorted by (timestamp, arrival), so reads binary-search their time window and
//! FilterLogEvents merges streams without sorting. A PutLogEvents batch is one storage
//! write, committed before the request is acknowledged. Retention runs on the shared
//! clock: reads and writes drop events past a group's retention (and their stored
//! batches), so advancing the clock expires them.
//!
//! - [`groups`], [`streams`], [`events`]: the resources and their events;
//! - [`pattern`]: the filter pattern language (terms, JSON, space-delimited, regex);
//! - [`filters`]: metric and subscription filters, delivery to Lambda; `policies`:
//!   resource policies (stored, not evaluated); `exports`: export tasks to S3;
//! - [`insights`]: Logs Insights queries; `definitions`: saved queries;
//! - [`livetail`]: StartLiveTail sessions, fed by PutLogEvents.

mod definitions;
mod errors;
pub mod events;
mod exports;
pub mod filters;
pub mod groups;
pub mod insights;
pub mod livetail;
pub mod pattern;
mod policies;
mod state;
pub mod streams;
mod util;

use nephos_core::{AwsError, BoxFuture, Dispatcher, Input, Output, Provider, RequestContext};
use nephos_storage::Storage;
use state::Core;

/// Entry points for the fuzz targets in `fuzz/` (not an API).
#[doc(hidden)]
pub mod fuzzing {
    /// Parses `src` as a filter pattern and matches what parses against a few messages
    /// (plain text, JSON, space-delimited, and `src` itself); parses `src` as a Logs
    /// Insights query too.
    pub fn filter_pattern(src: &str) {
        if let Ok(p) = crate::pattern::Pattern::parse(src) {
            for msg in [
                src,
                "ERROR disk full",
                r#"{"a":1,"b":"x","c":[1,{"d":null}],"e":true}"#,
                r#"127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET / HTTP/1.0" 404 2326"#,
                "",
            ] {
                let _ = p.find(msg);
            }
        }
        crate::insights::fuzz_query(src);
    }
}

pub struct LogsProvider {
    core: Core,
}

impl LogsProvider {
    /// Opens the provider, reloading groups, streams and events stored before a restart.
    /// Subscription deliveries go out through `dispatcher`.
    pub fn new(storage: Storage, dispatcher: Dispatcher) -> Result<LogsProvider, String> {
        Ok(LogsProvider {
            core: Core::load(storage, dispatcher)?,
        })
    }
}

impl Provider for LogsProvider {
    fn service(&self) -> &'static str {
        "logs"
    }

    /// A log group (`...:log-group:<name>[:*]`, or one of its streams
    /// `...:log-group:<name>:log-stream:<stream>`): its account, its tags, and as its
    /// policy the statements of the resource policies that can name it: its own
    /// (resource-scoped) and the account's (`Resource` in each statement says which
    /// groups it covers).
    fn resource_facts(&self, _ctx: &RequestContext, arn: &str) -> nephos_core::ResourceFacts {
        let group_arn = arn.split_once(":log-stream:").map_or(arn, |(g, _)| g);
        let Some(g) = util::parse_group_arn(group_arn) else {
            return nephos_core::ResourceFacts::default();
        };
        let Some(group) = self.core.find(&g.account, &g.region, &g.name) else {
            return nephos_core::ResourceFacts::default();
        };
        let tags = group
            .lock()
            .unwrap()
            .meta
            .tags
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let bare = format!(
            "arn:aws:logs:{}:{}:log-group:{}",
            g.region, g.account, g.name
        );
        let region = self.core.regions.get_for(&g.account, &g.region);
        let policies = region.policies.lock().unwrap();
        let mut statements: Vec<serde_json::Value> = Vec::new();
        for (key, p) in policies.iter() {
            let applies = key.starts_with("name:")
                || key
                    .strip_prefix("arn:")
                    .is_some_and(|a| a.strip_suffix(":*").unwrap_or(a) == bare);
            if !applies {
                continue;
            }
            let Ok(doc) = serde_json::from_str::<serde_json::Value>(&p.policy_document) else {
                continue;
            };
            match doc.get("Statement") {
                Some(serde_json::Value::Array(list)) => statements.extend(list.iter().cloned()),
                Some(one @ serde_json::Value::Object(_)) => statements.push(one.clone()),
                _ => {}
            }
        }
        nephos_core::ResourceFacts {
            owner: Some(g.account.clone()),
            policy: (!statements.is_empty()).then(|| {
                serde_json::json!({"Version": "2012-10-17", "Statement": statements}).to_string()
            }),
            tags,
            partition_key: None,
        }
    }

    fn operations(&self) -> &'static [&'static str] {
        &[
            "AssociateKmsKey",
            "CancelExportTask",
            "CreateExportTask",
            "CreateLogGroup",
            "CreateLogStream",
            "DeleteLogGroup",
            "DeleteLogStream",
            "DeleteMetricFilter",
            "DeleteQueryDefinition",
            "DeleteResourcePolicy",
            "DeleteRetentionPolicy",
            "DeleteSubscriptionFilter",
            "DescribeExportTasks",
            "DescribeLogGroups",
            "DescribeLogStreams",
            "DescribeMetricFilters",
            "DescribeQueries",
            "DescribeQueryDefinitions",
            "DescribeResourcePolicies",
            "DescribeSubscriptionFilters",
            "DisassociateKmsKey",
            "FilterLogEvents",
            "GetLogEvents",
            "GetLogGroupFields",
            "GetLogRecord",
            "GetQueryResults",
            "ListLogGroups",
            "ListTagsForResource",
            "ListTagsLogGroup",
            "PutLogEvents",
            "PutLogGroupDeletionProtection",
            "PutMetricFilter",
            "PutQueryDefinition",
            "PutResourcePolicy",
            "PutRetentionPolicy",
            "PutSubscriptionFilter",
            "StartLiveTail",
            "StartQuery",
            "StopQuery",
            "TagLogGroup",
            "TagResource",
            "TestMetricFilter",
            "UntagLogGroup",
            "UntagResource",
        ]
    }

    fn handle<'a>(
        &'a self,
        ctx: &'a RequestContext,
        input: Input,
    ) -> BoxFuture<'a, Result<Output, AwsError>> {
        Box::pin(async move {
            let c = &self.core;
            let i = &input.value;
            if ctx.operation == "StartLiveTail" {
                return livetail::start_live_tail(c, ctx, i);
            }
            let value = match ctx.operation.as_str() {
                "CreateLogGroup" => groups::create_log_group(c, ctx, i).await?,
                "DeleteLogGroup" => groups::delete_log_group(c, ctx, i).await?,
                "DescribeLogGroups" => groups::describe_log_groups(c, ctx, i).await?,
                "ListLogGroups" => groups::list_log_groups(c, ctx, i)?,
                "PutRetentionPolicy" => groups::put_retention_policy(c, ctx, i).await?,
                "DeleteRetentionPolicy" => groups::delete_retention_policy(c, ctx, i).await?,
                "PutLogGroupDeletionProtection" => {
                    groups::put_log_group_deletion_protection(c, ctx, i).await?
                }
                "AssociateKmsKey" => groups::associate_kms_key(c, ctx, i).await?,
                "DisassociateKmsKey" => groups::disassociate_kms_key(c, ctx, i).await?,
                "TagLogGroup" => groups::tag_log_group(c, ctx, i).await?,
                "UntagLogGroup" => groups::untag_log_group(c, ctx, i).await?,
                "ListTagsLogGroup" => groups::list_tags_log_group(c, ctx, i)?,
                "TagResource" => groups::tag_resource(c, ctx, i).await?,
                "UntagResource" => groups::untag_resource(c, ctx, i).await?,
                "ListTagsForResource" => groups::list_tags_for_resource(c, ctx, i)?,
                "CreateLogStream" => streams::create_log_stream(c, ctx, i).await?,
                "DeleteLogStream" => streams::delete_log_stream(c, ctx, i).await?,
                "DescribeLogStreams" => streams::describe_log_streams(c, ctx, i).await?,
                "PutLogEvents" => events::put_log_events(c, ctx, i).await?,
                "GetLogEvents" => events::get_log_events(c, ctx, i).await?,
                "FilterLogEvents" => events::filter_log_events(c, ctx, i).await?,
                "PutMetricFilter" => filters::put_metric_filter(c, ctx, i).await?,
                "DeleteMetricFilter" => filters::delete_metric_filter(c, ctx, i).await?,
                "DescribeMetricFilters" => filters::describe_metric_filters(c, ctx, i)?,
                "TestMetricFilter" => filters::test_metric_filter(i)?,
                "PutSubscriptionFilter" => filters::put_subscription_filter(c, ctx, i).await?,
                "DeleteSubscriptionFilter" => {
                    filters::delete_subscription_filter(c, ctx, i).await?
                }
                "DescribeSubscriptionFilters" => {
                    filters::describe_subscription_filters(c, ctx, i).await?
                }
                "StartQuery" => insights::start_query(c, ctx, i).await?,
                "GetQueryResults" => insights::get_query_results(c, ctx, i)?,
                "GetLogRecord" => insights::get_log_record(c, i)?,
                "GetLogGroupFields" => insights::get_log_group_fields(c, ctx, i).await?,
                "StopQuery" => insights::stop_query(c, ctx, i)?,
                "DescribeQueries" => insights::describe_queries(c, ctx, i)?,
                "CreateExportTask" => exports::create_export_task(c, ctx, i).await?,
                "DescribeExportTasks" => exports::describe_export_tasks(c, ctx, i)?,
                "CancelExportTask" => exports::cancel_export_task(c, ctx, i)?,
                "PutResourcePolicy" => policies::put_resource_policy(c, ctx, i).await?,
                "DescribeResourcePolicies" => policies::describe_resource_policies(c, ctx, i)?,
                "DeleteResourcePolicy" => policies::delete_resource_policy(c, ctx, i).await?,
                "PutQueryDefinition" => definitions::put_query_definition(c, ctx, i).await?,
                "DescribeQueryDefinitions" => definitions::describe_query_definitions(c, ctx, i)?,
                "DeleteQueryDefinition" => definitions::delete_query_definition(c, ctx, i).await?,
                other => return Err(AwsError::not_implemented("logs", other)),
            };
            Ok(Output::new(value))
        })
    }

    fn reset(&self) {
        self.core.regions.clear();
    }
}

#[cfg(test)]
mod tests {
    /// A small deterministic mutation run over the fuzz entry point: no input may panic.
    #[test]
    fn mutated_patterns_and_queries_never_panic() {
        let seeds = [
            "ERROR ?WARN -\"x y\" %a+b%",
            "{ $.a[0].b = \"x*\" && ($.c != 1 || $.d IS NULL) }",
            "[ip, ..., status = 4* || status = 5*, bytes > 10]",
            "fields a, b | filter a like /x/ and not ispresent(c) | stats count(*) by bin(5m) | sort a desc | limit 3",
            "parse @message \"* [*] *\" as a, b, c | display a",
        ];
        let alphabet: Vec<char> = "ab1 .*?-\"%[]{}()$=!<>&|,/\\@#'`é\n".chars().collect();
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut rand = move |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        for round in 0..4000 {
            let mut s: Vec<char> = seeds[round % seeds.len()].chars().collect();
            for _ in 0..1 + rand(4) {
                let at = rand(s.len() + 1);
                match rand(3) {
                    0 => s.insert(at, alphabet[rand(alphabet.len())]),
                    1 if at < s.len() => {
                        s.remove(at);
                    }
                    _ if at < s.len() => s[at] = alphabet[rand(alphabet.len())],
                    _ => {}
                }
            }
            crate::fuzzing::filter_pattern(&s.iter().collect::<String>());
        }
    }
}
