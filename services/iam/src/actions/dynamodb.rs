//! DynamoDB and DynamoDB Streams: per-table actions for batches and transactions, PartiQL
//! statements as `PartiQLSelect`/`Insert`/`Update`/`Delete`, index ARNs for queries on
//! an index, and the fine-grained access keys (`dynamodb:LeadingKeys`,
//! `dynamodb:Attributes`, `dynamodb:Select`, `dynamodb:ReturnValues`).

use super::{Cx, Plan};
use base64::Engine;
use nephos_core::Value;

/// A table named by name or ARN (DynamoDB accepts either in `TableName`); an ARN carries
/// its own account and region (a table shared by a resource policy).
fn table(plan: Plan, name: Option<&str>) -> Plan {
    let Some(name) = name else {
        return plan;
    };
    if let Some((_, region, account, resource)) = super::arn_parts(name)
        && let Some(t) = resource.strip_prefix("table/")
    {
        let t = t.split('/').next().unwrap_or(t);
        return plan
            .var("TableName", t)
            .var("Region", region)
            .var("Account", account);
    }
    plan.var("TableName", name)
}

/// The table name of a plan's table, for the partition key lookup.
fn table_name(name: &str) -> &str {
    super::arn_parts(name)
        .and_then(|(_, _, _, r)| r.strip_prefix("table/"))
        .map_or(name, |t| t.split('/').next().unwrap_or(t))
}

/// An attribute value as condition key text: strings and numbers as written, binary in
/// base64.
fn scalar(v: &Value) -> Option<String> {
    let (kind, inner) = v.as_map()?.iter().next()?;
    match (kind.as_str(), inner) {
        ("S" | "N", Value::String(s)) => Some(s.clone()),
        ("B", Value::Blob(b)) => Some(base64::engine::general_purpose::STANDARD.encode(b)),
        ("B", Value::String(s)) => Some(s.clone()),
        _ => None,
    }
}

/// Reads the request's items and keys of one table into `dynamodb:LeadingKeys` and
/// `dynamodb:Attributes`.
struct Access<'a> {
    cx: &'a Cx<'a>,
    table: Option<&'a str>,
    partition_key: Option<Option<String>>,
    leading: Vec<String>,
    attributes: Vec<String>,
}

impl<'a> Access<'a> {
    fn new(cx: &'a Cx<'a>, table: Option<&'a str>) -> Access<'a> {
        Access {
            cx,
            table,
            partition_key: None,
            leading: Vec::new(),
            attributes: Vec::new(),
        }
    }

    fn partition_key(&mut self) -> Option<String> {
        if self.partition_key.is_none() {
            let (account, region) = match self.table.and_then(super::arn_parts) {
                Some((_, r, a, _)) => (a, r),
                None => (self.cx.account, self.cx.region),
            };
            let name = table_name(self.table.unwrap_or_default());
            self.partition_key = Some(self.cx.lookup.partition_key(account, region, name));
        }
        self.partition_key.clone().flatten()
    }

    fn attribute(&mut self, name: &str) {
        if !self.attributes.iter().any(|a| a == name) {
            self.attributes.push(name.to_owned());
        }
    }

    fn leading(&mut self, value: Option<String>) {
        if let Some(v) = value
            && !self.leading.contains(&v)
        {
            self.leading.push(v);
        }
    }

    /// A key or an item: its attributes are accessed; its partition key value leads.
    fn item(&mut self, item: Option<&Value>) {
        if self.cx.lean {
            return;
        }
        let Some(map) = item.and_then(Value::as_map) else {
            return;
        };
        for name in map.keys() {
            self.attribute(name);
        }
        let value = match self.partition_key() {
            Some(pk) => map.get(&pk).and_then(scalar),
            None => map.values().next().and_then(scalar),
        };
        self.leading(value);
    }

    /// The attribute names an expression reads or writes, and the legacy lists. Key
    /// attributes count as accessed: AWS's fine-grained access examples must allow them
    /// beside the attributes read. Condition and filter expressions do not.
    fn request(&mut self, i: &Value) {
        if self.cx.lean {
            return;
        }
        let Some(members) = i.as_map() else {
            return;
        };
        // One pass over the members the request has (usually two or three), rather
        // than a lookup for each member that could name attributes.
        let names = i.get("ExpressionAttributeNames");
        for (member, v) in members {
            match member.as_str() {
                "ProjectionExpression" | "UpdateExpression" | "KeyConditionExpression" => {
                    if let Some(e) = v.as_str() {
                        for n in expression_names(e, names) {
                            self.attribute(&n);
                        }
                    }
                }
                "AttributesToGet" => {
                    for a in v.as_list().unwrap_or_default() {
                        if let Some(a) = a.as_str() {
                            self.attribute(a);
                        }
                    }
                }
                "AttributeUpdates" | "KeyConditions" => {
                    if let Some(m) = v.as_map() {
                        for k in m.keys() {
                            self.attribute(k);
                        }
                    }
                }
                _ => {}
            }
        }
    }

    /// A Query's partition key value: its equality in `KeyConditionExpression` (or
    /// `KeyConditions`) on the partition key, or the first equality when the key is not
    /// known.
    fn query(&mut self, i: &Value) {
        if self.cx.lean {
            return;
        }
        let pk = self.partition_key();
        let values = i.get("ExpressionAttributeValues");
        let names = i.get("ExpressionAttributeNames");
        if let Some(e) = i.str("KeyConditionExpression") {
            for (name, placeholder) in equalities(e, names) {
                if pk.as_ref().is_none_or(|pk| *pk == name) {
                    let v = values.and_then(|v| v.get(&placeholder)).and_then(scalar);
                    self.leading(v);
                    break;
                }
            }
        } else if let Some(m) = i.get("KeyConditions").and_then(Value::as_map) {
            for (name, cond) in m {
                if cond.str("ComparisonOperator") == Some("EQ")
                    && pk.as_ref().is_none_or(|pk| pk == name)
                {
                    let v = cond
                        .get("AttributeValueList")
                        .and_then(Value::as_list)
                        .and_then(|l| l.first())
                        .and_then(scalar);
                    self.leading(v);
                    break;
                }
            }
        }
    }

    fn into_plan(self, plan: Plan) -> Plan {
        plan.key("dynamodb:LeadingKeys", self.leading)
            .key("dynamodb:Attributes", self.attributes)
    }
}

/// Request-wide keys: what the request asks to get back.
fn options(mut plan: Plan, i: &Value) -> Plan {
    for (member, v) in i.as_map().into_iter().flatten() {
        let key = match member.as_str() {
            "Select" => "dynamodb:Select",
            "ReturnValues" => "dynamodb:ReturnValues",
            "ReturnConsumedCapacity" => "dynamodb:ReturnConsumedCapacity",
            _ => continue,
        };
        plan = plan.key1(key, v.as_str());
    }
    plan
}

/// One item operation (alone or inside a transaction): its table, key or item,
/// expressions and options.
fn item_plan(cx: &Cx, action: &str, i: &Value) -> Plan {
    let t = i.str("TableName");
    let mut access = Access::new(cx, t);
    access.item(i.get("Key"));
    access.item(i.get("Item"));
    access.request(i);
    options(access.into_plan(table(cx.plan(action), t)), i)
}

pub(super) fn plans(op: &str, cx: &Cx) -> Vec<Plan> {
    let plans = table_plans(op, cx);
    if plans.is_empty() {
        // A batch with nothing in it, or a statement this parser cannot read: never
        // nothing to authorize. `dynamodb:<Operation>` is no action, so only a policy
        // allowing every DynamoDB action lets it through.
        return vec![table(cx.plan(op), cx.input.str("TableName"))];
    }
    plans
}

fn table_plans(op: &str, cx: &Cx) -> Vec<Plan> {
    let i = cx.input;
    match op {
        "GetItem" | "PutItem" | "UpdateItem" | "DeleteItem" => vec![item_plan(cx, op, i)],
        "Query" | "Scan" => {
            let t = i.str("TableName");
            let mut access = Access::new(cx, t);
            access.request(i);
            if op == "Query" {
                access.query(i);
            }
            let mut plan = options(access.into_plan(table(cx.plan(op), t)), i);
            // On an index AWS authorizes the index (`table/T/index/I`), not the table.
            if let Some(index) = i.str("IndexName") {
                plan = plan.var("IndexName", index).only("index");
            }
            vec![plan]
        }
        "BatchGetItem" | "BatchWriteItem" => {
            let Some(tables) = i.get("RequestItems").and_then(Value::as_map) else {
                return vec![cx.plan(op)];
            };
            tables
                .iter()
                .map(|(name, req)| {
                    let mut access = Access::new(cx, Some(name));
                    if op == "BatchGetItem" {
                        for k in req.get("Keys").and_then(Value::as_list).unwrap_or_default() {
                            access.item(Some(k));
                        }
                        access.request(req);
                    } else {
                        for w in req.as_list().unwrap_or_default() {
                            access.item(w.get("PutRequest").and_then(|p| p.get("Item")));
                            access.item(w.get("DeleteRequest").and_then(|d| d.get("Key")));
                        }
                    }
                    let plan = table(cx.plan(op), Some(name));
                    options(access.into_plan(plan), i)
                })
                .collect()
        }
        "TransactGetItems" | "TransactWriteItems" => {
            let items = i
                .get("TransactItems")
                .and_then(Value::as_list)
                .unwrap_or_default();
            let mut out = Vec::new();
            for item in items {
                for (member, action) in [
                    ("Get", "GetItem"),
                    ("Put", "PutItem"),
                    ("Update", "UpdateItem"),
                    ("Delete", "DeleteItem"),
                    ("ConditionCheck", "ConditionCheckItem"),
                ] {
                    if let Some(req) = item.get(member) {
                        out.push(
                            item_plan(cx, action, req)
                                .key1("dynamodb:EnclosingOperation", Some(op))
                                .key1(
                                    "dynamodb:ReturnConsumedCapacity",
                                    i.str("ReturnConsumedCapacity"),
                                ),
                        );
                    }
                }
            }
            out
        }
        "ExecuteStatement" => statement(cx, i.str("Statement"), None)
            .into_iter()
            .collect(),
        "BatchExecuteStatement" | "ExecuteTransaction" => {
            let member = if op == "ExecuteTransaction" {
                "TransactStatements"
            } else {
                "Statements"
            };
            let enclosing = (op == "ExecuteTransaction").then_some(op);
            i.get(member)
                .and_then(Value::as_list)
                .unwrap_or_default()
                .iter()
                .filter_map(|s| statement(cx, s.str("Statement"), enclosing))
                .collect()
        }
        // A shard iterator starts with its stream's ARN (AWS's and nephos's alike).
        "GetRecords" => {
            let arn = i
                .str("ShardIterator")
                .and_then(|s| s.split('|').next())
                .filter(|a| a.starts_with("arn:"));
            vec![cx.plan(op).arn(arn)]
        }
        "ImportTable" => {
            let t = i
                .get("TableCreationParameters")
                .and_then(|p| p.str("TableName"));
            let mut plan = table(cx.plan(op), t);
            if let Some(tags) = i.get("TableCreationParameters") {
                plan.context.extend(super::tag_keys(tags));
            }
            vec![plan]
        }
        "RestoreTableFromBackup" => {
            vec![table(cx.plan(op), i.str("TargetTableName")).arn(i.str("BackupArn"))]
        }
        "RestoreTableToPointInTime" => {
            let source = i.str("SourceTableArn").or_else(|| i.str("SourceTableName"));
            vec![table(cx.plan(op), source)]
        }
        "CreateGlobalTable"
        | "UpdateGlobalTable"
        | "UpdateGlobalTableSettings"
        | "DescribeGlobalTable"
        | "DescribeGlobalTableSettings" => {
            let name = i.str("GlobalTableName");
            vec![table(cx.plan(op).var_opt("GlobalTableName", name), name)]
        }
        _ => {
            let mut plan = table(cx.plan(op), i.str("TableName"));
            for member in [
                "ResourceArn",
                "StreamArn",
                "TableArn",
                "BackupArn",
                "ExportArn",
                "ImportArn",
            ] {
                plan = plan.arn(i.str(member));
            }
            plan = plan.var_opt("IndexName", i.str("IndexName"));
            vec![plan]
        }
    }
}

/// A PartiQL statement's action and the table (or index) it names.
fn statement(cx: &Cx, text: Option<&str>, enclosing: Option<&str>) -> Option<Plan> {
    let (action, table_name, index) = partiql(text?)?;
    let mut plan = table(cx.plan(action), Some(&table_name));
    if let Some(index) = index {
        plan = plan.var("IndexName", index).only("index");
    } else {
        plan = plan.only("table");
    }
    Some(plan.key1("dynamodb:EnclosingOperation", enclosing))
}

#[derive(Debug, PartialEq)]
enum Token {
    Word(String),
    /// A double-quoted identifier.
    Quoted(String),
    /// A single-quoted string or a backquoted Ion literal.
    Literal,
    Punct(char),
}

fn tokens(s: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {}
            '"' | '\'' | '`' => {
                let mut text = String::new();
                while let Some(d) = chars.next() {
                    if d == c {
                        // A doubled quote is the quote itself.
                        if chars.peek() == Some(&c) {
                            chars.next();
                        } else {
                            break;
                        }
                    }
                    text.push(d);
                }
                out.push(if c == '"' {
                    Token::Quoted(text)
                } else {
                    Token::Literal
                });
            }
            c if c.is_alphanumeric() || c == '_' || c == '-' => {
                let mut word = String::from(c);
                while let Some(&d) = chars.peek() {
                    if d.is_alphanumeric() || d == '_' || d == '-' {
                        word.push(d);
                        chars.next();
                    } else {
                        break;
                    }
                }
                out.push(Token::Word(word));
            }
            other => out.push(Token::Punct(other)),
        }
    }
    out
}

/// `SELECT ... FROM "t"."i"`, `INSERT INTO t`, `UPDATE t`, `DELETE FROM t`: the action,
/// table and index.
fn partiql(statement: &str) -> Option<(&'static str, String, Option<String>)> {
    let toks = tokens(statement);
    let is = |t: &Token, w: &str| matches!(t, Token::Word(x) if x.eq_ignore_ascii_case(w));
    let name = |t: Option<&Token>| match t {
        Some(Token::Word(w)) | Some(Token::Quoted(w)) => Some(w.clone()),
        _ => None,
    };
    let first = toks.first()?;
    let (action, at) = if is(first, "SELECT") || is(first, "EXISTS") {
        let from = toks.iter().position(|t| is(t, "FROM"))?;
        ("PartiQLSelect", from + 1)
    } else if is(first, "INSERT") {
        ("PartiQLInsert", 2)
    } else if is(first, "UPDATE") {
        ("PartiQLUpdate", 1)
    } else if is(first, "DELETE") {
        ("PartiQLDelete", 2)
    } else {
        return None;
    };
    let table = name(toks.get(at))?;
    let index = match toks.get(at + 1) {
        Some(Token::Punct('.')) => name(toks.get(at + 2)),
        _ => None,
    };
    Some((action, table, index))
}

/// The top-level attribute names an expression names (`a.b[0]` names `a`; `#n` is looked
/// up in `ExpressionAttributeNames`), leaving out values (`:v`), keywords and functions.
fn expression_names(expr: &str, names: Option<&Value>) -> Vec<String> {
    const KEYWORDS: &[&str] = &[
        "SET", "REMOVE", "ADD", "DELETE", "AND", "OR", "NOT", "BETWEEN", "IN",
    ];
    let toks = tokens_with_marks(expr);
    let mut out = Vec::new();
    for (idx, (tok, kind)) in toks.iter().enumerate() {
        let prev = idx.checked_sub(1).map(|p| &toks[p]);
        let next = toks.get(idx + 1);
        if *kind != Mark::Name {
            continue;
        }
        // A nested path element, a list index or a function's name is not an attribute.
        if matches!(prev, Some((p, Mark::Punct)) if p == "." || p == "[") {
            continue;
        }
        if matches!(next, Some((n, Mark::Punct)) if n == "(") {
            continue;
        }
        if !tok.starts_with('#') && KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(tok)) {
            continue;
        }
        let name = match tok.strip_prefix('#') {
            Some(_) => match names.and_then(|n| n.str(tok)) {
                Some(n) => n.to_owned(),
                None => continue,
            },
            None => tok.clone(),
        };
        if !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Mark {
    Name,
    Value,
    Punct,
}

fn tokens_with_marks(expr: &str) -> Vec<(String, Mark)> {
    let mut out = Vec::new();
    let mut chars = expr.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_whitespace() {
            continue;
        }
        if c == '#' || c == ':' || c.is_alphanumeric() || c == '_' {
            let mut word = String::from(c);
            while let Some(&d) = chars.peek() {
                if d.is_alphanumeric() || d == '_' || d == '-' {
                    word.push(d);
                    chars.next();
                } else {
                    break;
                }
            }
            let mark = match c {
                ':' => Mark::Value,
                c if c.is_ascii_digit() => Mark::Value,
                _ => Mark::Name,
            };
            out.push((word, mark));
        } else {
            // `<=`, `<>` and `>=` are two marks; only `=` alone matters here.
            out.push((c.to_string(), Mark::Punct));
        }
    }
    out
}

/// The `name = :value` comparisons of a key condition, names resolved.
fn equalities(expr: &str, names: Option<&Value>) -> Vec<(String, String)> {
    let toks = tokens_with_marks(expr);
    let mut out = Vec::new();
    for w in toks.windows(3) {
        let [(a, Mark::Name), (eq, Mark::Punct), (v, Mark::Value)] = w else {
            continue;
        };
        if eq != "=" {
            continue;
        }
        let name = match a.strip_prefix('#') {
            Some(_) => match names.and_then(|n| n.str(a)) {
                Some(n) => n.to_owned(),
                None => continue,
            },
            None => a.clone(),
        };
        out.push((name, v.clone()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partiql_statements_name_their_action_table_and_index() {
        let p = |s| partiql(s).unwrap();
        assert_eq!(
            p(r#"SELECT * FROM "Music" WHERE Artist = 'Acme'"#),
            ("PartiQLSelect", "Music".into(), None)
        );
        assert_eq!(
            p(r#"select a FROM "Music"."ByYear" where y = ?"#),
            ("PartiQLSelect", "Music".into(), Some("ByYear".into()))
        );
        assert_eq!(
            p("INSERT INTO Music VALUE {'Artist': 'a'}"),
            ("PartiQLInsert", "Music".into(), None)
        );
        assert_eq!(
            p(r#"UPDATE "my-table" SET x = 1 WHERE pk = 'k'"#),
            ("PartiQLUpdate", "my-table".into(), None)
        );
        assert_eq!(
            p(r#"DELETE FROM "a""b" WHERE pk = 'FROM'"#),
            ("PartiQLDelete", "a\"b".into(), None)
        );
        assert!(partiql("DROP TABLE x").is_none());
    }

    #[test]
    fn expressions_name_their_top_level_attributes() {
        let names = Value::map().with("#s", "status").with("#n", "name");
        assert_eq!(
            expression_names(
                "SET #s = :s, a.b[0] = if_not_exists(c, :z) REMOVE d ADD e :one",
                Some(&names)
            ),
            vec!["status", "a", "c", "d", "e"]
        );
        assert_eq!(
            expression_names("#n, info.rating, list[2]", Some(&names)),
            vec!["name", "info", "list"]
        );
        assert_eq!(
            equalities("#n = :v AND begins_with(sk, :p)", Some(&names)),
            vec![("name".to_owned(), ":v".to_owned())]
        );
        assert_eq!(
            equalities("pk = :a AND sk >= :b", None),
            vec![("pk".to_owned(), ":a".to_owned())]
        );
    }
}
