//! The `dynamodbstreams` provider: ListStreams, DescribeStream, GetShardIterator and
//! GetRecords over the streams the DynamoDB tables keep (same state, second service).

use crate::attr::{decode_item, item_to_value};
use crate::state::{DynamoDb, TableRef};
use crate::stream::{RETENTION_MS, StreamLog};
use nephos_core::{AwsError, BoxFuture, Input, Output, Provider, RequestContext, Timestamp, Value};
use std::sync::Arc;

/// Shard iterators expire after 15 minutes.
const ITERATOR_TTL_MS: i64 = 15 * 60 * 1000;

const OPERATIONS: &[&str] = &[
    "DescribeStream",
    "GetRecords",
    "GetShardIterator",
    "ListStreams",
];

pub struct DynamoDbStreams {
    db: Arc<DynamoDb>,
}

impl DynamoDbStreams {
    pub fn new(db: Arc<DynamoDb>) -> DynamoDbStreams {
        DynamoDbStreams { db }
    }
}

fn stream_not_found(arn: &str) -> AwsError {
    AwsError::new(
        400,
        "ResourceNotFoundException",
        format!("Requested resource not found: Stream: {arn} not found"),
    )
}

/// A stream is listed until 24 hours after it was disabled.
fn visible(s: &StreamLog, now_ms: i64) -> bool {
    s.closed_ms.is_none_or(|c| c + RETENTION_MS > now_ms)
}

fn parse_seq(s: &str) -> Result<u128, AwsError> {
    if s.is_empty() || s.len() > 40 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AwsError::validation(format!("Invalid SequenceNumber: {s}")));
    }
    s.parse()
        .map_err(|_| AwsError::validation(format!("Invalid SequenceNumber: {s}")))
}

struct Iter {
    arn: String,
    shard: String,
    pos: u128,
    issued_ms: i64,
}

impl Iter {
    fn render(&self) -> String {
        format!(
            "{}|{}|{}|{}",
            self.arn, self.shard, self.pos, self.issued_ms
        )
    }

    fn parse(s: &str) -> Option<Iter> {
        let mut parts = s.rsplitn(4, '|');
        let issued_ms = parts.next()?.parse().ok()?;
        let pos = parts.next()?.parse().ok()?;
        let shard = parts.next()?.to_owned();
        let arn = parts.next()?.to_owned();
        Some(Iter {
            arn,
            shard,
            pos,
            issued_ms,
        })
    }
}

impl DynamoDbStreams {
    /// The table that owns stream `arn` (`...:table/NAME/stream/LABEL`).
    fn table_of(&self, ctx: &RequestContext, arn: &str) -> Result<TableRef, AwsError> {
        let name = arn
            .split_once(":table/")
            .and_then(|(_, rest)| rest.split_once("/stream/"))
            .map(|(name, _)| name)
            .ok_or_else(|| stream_not_found(arn))?;
        self.db.table(ctx, name).map_err(|_| stream_not_found(arn))
    }

    fn list_streams(&self, ctx: &RequestContext, v: &Value) -> Result<Value, AwsError> {
        let now = ctx.clock.now_millis();
        let limit = v.int("Limit").unwrap_or(100).clamp(1, 100) as usize;
        let only = v.str("TableName").map(|n| {
            n.split_once(":table/")
                .map_or(n, |(_, rest)| rest)
                .to_owned()
        });
        let region = self.db.region(ctx);
        let tables: Vec<(String, TableRef)> = region
            .tables
            .read()
            .unwrap()
            .iter()
            .filter(|(n, _)| only.as_ref().is_none_or(|o| o == *n))
            .map(|(n, t)| (n.clone(), t.clone()))
            .collect();
        let mut all = Vec::new();
        for (name, t) in tables {
            let t = t.read().unwrap();
            for s in t.streams.iter().filter(|s| visible(s, now)) {
                all.push((name.clone(), s.arn.clone(), s.label.clone()));
            }
        }
        let start = match v.str("ExclusiveStartStreamArn") {
            Some(a) => all.iter().position(|x| x.1 == a).map_or(0, |i| i + 1),
            None => 0,
        };
        let page: Vec<&(String, String, String)> = all.iter().skip(start).take(limit).collect();
        let mut out = Value::map().with(
            "Streams",
            Value::List(
                page.iter()
                    .map(|(n, a, l)| {
                        Value::map()
                            .with("StreamArn", a.as_str())
                            .with("TableName", n.as_str())
                            .with("StreamLabel", l.as_str())
                    })
                    .collect(),
            ),
        );
        if start + page.len() < all.len()
            && let Some(last) = page.last()
        {
            out.insert("LastEvaluatedStreamArn", last.1.as_str());
        }
        Ok(out)
    }

    fn describe_stream(&self, ctx: &RequestContext, v: &Value) -> Result<Value, AwsError> {
        let arn = v.str("StreamArn").unwrap_or_default();
        let now = ctx.clock.now_millis();
        let t = self.table_of(ctx, arn)?;
        let mut t = t.write().unwrap();
        let key = crate::tables::key_schema_value(&t.meta.key);
        let name = t.meta.name.clone();
        let s = t
            .streams
            .iter_mut()
            .find(|s| s.arn == arn && visible(s, now))
            .ok_or_else(|| stream_not_found(arn))?;
        s.trim(now);
        let mut range = Value::map().with("StartingSequenceNumber", s.first_seq.to_string());
        if let Some(end) = s.ending_seq() {
            range.insert("EndingSequenceNumber", end.to_string());
        }
        let shards = if v.str("ExclusiveStartShardId") == Some(s.shard_id.as_str()) {
            Vec::new()
        } else {
            vec![
                Value::map()
                    .with("ShardId", s.shard_id.as_str())
                    .with("SequenceNumberRange", range),
            ]
        };
        let d = Value::map()
            .with("StreamArn", s.arn.as_str())
            .with("StreamLabel", s.label.as_str())
            .with(
                "StreamStatus",
                if s.closed_ms.is_some() {
                    "DISABLED"
                } else {
                    "ENABLED"
                },
            )
            .with("StreamViewType", s.view.as_str())
            .with(
                "CreationRequestDateTime",
                Timestamp::from_millis(s.created_ms),
            )
            .with("TableName", name)
            .with("KeySchema", key)
            .with("Shards", Value::List(shards));
        Ok(Value::map().with("StreamDescription", d))
    }

    fn get_shard_iterator(&self, ctx: &RequestContext, v: &Value) -> Result<Value, AwsError> {
        let arn = v.str("StreamArn").unwrap_or_default();
        let shard = v.str("ShardId").unwrap_or_default();
        let kind = v.str("ShardIteratorType").unwrap_or_default();
        let now = ctx.clock.now_millis();
        let t = self.table_of(ctx, arn)?;
        let mut t = t.write().unwrap();
        let s = t
            .streams
            .iter_mut()
            .find(|s| s.arn == arn && visible(s, now))
            .ok_or_else(|| stream_not_found(arn))?;
        if s.shard_id != shard {
            return Err(AwsError::new(
                400,
                "ResourceNotFoundException",
                format!("Requested resource not found: Shard does not exist: {shard}"),
            ));
        }
        s.trim(now);
        let seq = || -> Result<u128, AwsError> {
            match v.str("SequenceNumber") {
                Some(x) => parse_seq(x),
                None => Err(AwsError::validation(format!(
                    "SequenceNumber is required for ShardIteratorType {kind}"
                ))),
            }
        };
        let pos = match kind {
            "TRIM_HORIZON" => s.horizon,
            "LATEST" => s.next_seq,
            "AT_SEQUENCE_NUMBER" | "AFTER_SEQUENCE_NUMBER" => {
                let n = seq()?;
                if n < s.first_seq || n >= s.next_seq {
                    return Err(AwsError::validation(format!(
                        "Invalid SequenceNumber: {n} is not in the shard {shard}"
                    )));
                }
                if n < s.horizon {
                    return Err(trimmed());
                }
                if kind == "AT_SEQUENCE_NUMBER" {
                    n
                } else {
                    n + 1
                }
            }
            "AT_TIMESTAMP" => {
                let at = match v.get("Timestamp") {
                    Some(Value::Timestamp(ts)) => ts.as_millis(),
                    _ => {
                        return Err(AwsError::validation(
                            "Timestamp is required for ShardIteratorType AT_TIMESTAMP",
                        ));
                    }
                };
                s.records
                    .iter()
                    .find(|r| r.at_ms >= at)
                    .map_or(s.next_seq, |r| r.seq)
            }
            other => {
                return Err(AwsError::validation(format!(
                    "Invalid ShardIteratorType: {other}"
                )));
            }
        };
        let it = Iter {
            arn: arn.to_owned(),
            shard: shard.to_owned(),
            pos,
            issued_ms: now,
        };
        Ok(Value::map().with("ShardIterator", it.render()))
    }

    fn get_records(&self, ctx: &RequestContext, v: &Value) -> Result<Value, AwsError> {
        let raw = v.str("ShardIterator").unwrap_or_default();
        let it = Iter::parse(raw).ok_or_else(|| AwsError::validation("Invalid ShardIterator"))?;
        let now = ctx.clock.now_millis();
        if now - it.issued_ms > ITERATOR_TTL_MS {
            return Err(AwsError::new(
                400,
                "ExpiredIteratorException",
                "Iterator expired. The iterator was created more than 15 minutes ago",
            ));
        }
        let limit = v.int("Limit").unwrap_or(1000);
        if limit > 1000 {
            return Err(AwsError::validation(format!(
                "1 validation error detected: Value '{limit}' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 1000"
            )));
        }
        let limit = limit.max(1) as usize;
        let t = self.table_of(ctx, &it.arn)?;
        let mut t = t.write().unwrap();
        let s = t
            .streams
            .iter_mut()
            .find(|s| s.arn == it.arn && visible(s, now))
            .ok_or_else(|| stream_not_found(&it.arn))?;
        if s.shard_id != it.shard {
            return Err(AwsError::validation("Invalid ShardIterator"));
        }
        s.trim(now);
        if it.pos < s.horizon {
            return Err(trimmed());
        }
        let start = s.position(it.pos);
        let mut records = Vec::new();
        let mut next = it.pos;
        for r in s.records.iter().skip(start).take(limit) {
            next = r.seq + 1;
            let mut d = Value::map()
                .with(
                    "ApproximateCreationDateTime",
                    Timestamp::from_millis(r.at_ms.div_euclid(1000) * 1000),
                )
                .with(
                    "Keys",
                    item_to_value(&decode_item(&r.keys).unwrap_or_default()),
                );
            if let Some(n) = &r.new {
                d.insert(
                    "NewImage",
                    item_to_value(&decode_item(n).unwrap_or_default()),
                );
            }
            if let Some(o) = &r.old {
                d.insert(
                    "OldImage",
                    item_to_value(&decode_item(o).unwrap_or_default()),
                );
            }
            d.insert("SequenceNumber", r.seq.to_string());
            d.insert("SizeBytes", r.size as i64);
            d.insert("StreamViewType", s.view.as_str());
            let mut rec = Value::map()
                .with("eventID", r.event_id.as_str())
                .with("eventName", r.event.name())
                .with("eventVersion", "1.1")
                .with("eventSource", "aws:dynamodb")
                .with("awsRegion", ctx.region.as_str())
                .with("dynamodb", d);
            if r.by_service {
                rec.insert(
                    "userIdentity",
                    Value::map()
                        .with("Type", "Service")
                        .with("PrincipalId", "dynamodb.amazonaws.com"),
                );
            }
            records.push(rec);
        }
        let mut out = Value::map().with("Records", Value::List(records));
        // A closed shard read to its end has no next iterator.
        if s.closed_ms.is_none() || next < s.next_seq {
            let n = Iter {
                pos: next,
                issued_ms: now,
                ..it
            };
            out.insert("NextShardIterator", n.render());
        }
        Ok(out)
    }
}

fn trimmed() -> AwsError {
    AwsError::new(
        400,
        "TrimmedDataAccessException",
        "The operation attempted to read past the oldest stream record in a shard.",
    )
}

impl Provider for DynamoDbStreams {
    fn service(&self) -> &'static str {
        "dynamodbstreams"
    }

    /// A stream belongs to its table's account (see DynamoDB's own facts).
    fn resource_facts(&self, _ctx: &RequestContext, arn: &str) -> nephos_core::ResourceFacts {
        crate::facts(&self.db, arn)
    }

    fn operations(&self) -> &'static [&'static str] {
        OPERATIONS
    }

    fn handle<'a>(
        &'a self,
        ctx: &'a RequestContext,
        input: Input,
    ) -> BoxFuture<'a, Result<Output, AwsError>> {
        Box::pin(async move {
            let v = &input.value;
            let out = match ctx.operation.as_str() {
                "ListStreams" => self.list_streams(ctx, v)?,
                "DescribeStream" => self.describe_stream(ctx, v)?,
                "GetShardIterator" => self.get_shard_iterator(ctx, v)?,
                "GetRecords" => self.get_records(ctx, v)?,
                other => return Err(AwsError::not_implemented("dynamodbstreams", other)),
            };
            Ok(Output::new(out))
        })
    }

    /// The streams live in the DynamoDB tables, which DynamoDB's reset clears.
    fn reset(&self) {}
}
