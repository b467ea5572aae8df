//! A policy document parsed once: statements compiled (patterns, principals, condition
//! values), so evaluating walks no JSON.
//!
//! [`Document::parse`] checks the text as IAM does for a [`PolicyKind`] and fails with
//! IAM's `MalformedPolicyDocument` message; [`Document::parse_lenient`] takes whatever a
//! service stored (it never fails: what it cannot read grants nothing). In a lenient
//! document a statement with an element it cannot read (both `Action` and `NotAction`,
//! an unknown condition operator, ...) never applies, so it can neither allow nor deny.

use serde_json::Value as Json;

use crate::condition::{self, Condition};
use crate::context::Context;
use crate::principal::{self, PrincipalId};
use crate::validate;
use crate::variables::{Pattern, Template};

/// Which kind of policy a document is; IAM's rules differ by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyKind {
    /// Attached to a user, group or role (managed or inline).
    Identity,
    /// Attached to a resource (bucket, queue, topic, function, key...): names principals.
    Resource,
    /// A role's trust policy: names who may assume it, with `sts:` actions only.
    Trust,
    /// A permissions boundary: a managed policy, checked as an identity policy.
    Boundary,
    /// A session policy passed to STS.
    Session,
}

impl PolicyKind {
    /// Whether statements name principals (resource and trust policies).
    pub fn names_principals(self) -> bool {
        matches!(self, PolicyKind::Resource | PolicyKind::Trust)
    }
}

/// Why IAM refuses a document: the message of its `MalformedPolicyDocument` error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    pub message: String,
}

impl PolicyError {
    /// The AWS error code IAM and STS answer with (status 400).
    pub fn code(&self) -> &'static str {
        "MalformedPolicyDocument"
    }
}

impl std::fmt::Display for PolicyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for PolicyError {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// A place in the document text, as the policy simulator reports statements: 1-based
/// line and column (columns count characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

#[derive(Debug, Clone)]
pub(crate) enum Actions {
    Only(Vec<Pattern>),
    AllBut(Vec<Pattern>),
}

#[derive(Debug, Clone)]
pub(crate) enum Resources {
    /// No `Resource` element: a resource policy's own resource.
    Implicit,
    Only(Vec<Pattern>),
    AllBut(Vec<Pattern>),
}

#[derive(Debug, Clone)]
pub(crate) enum Principals {
    Only(Vec<PrincipalId>),
    AllBut(Vec<PrincipalId>),
}

#[derive(Debug, Clone)]
pub(crate) struct Statement {
    pub sid: Option<String>,
    pub effect: Effect,
    pub principals: Option<Principals>,
    pub actions: Actions,
    pub resources: Resources,
    pub conditions: Vec<Condition>,
    /// An element could not be read: the statement never applies.
    pub never: bool,
    /// Where the statement's object starts and ends (strict parse only).
    pub span: Option<(Position, Position)>,
}

impl Statement {
    #[inline]
    pub fn action_matches(&self, action: &str) -> bool {
        let any = |ps: &[Pattern]| ps.iter().any(|p| p.matches_action(action));
        match &self.actions {
            Actions::Only(ps) => any(ps),
            Actions::AllBut(ps) => !any(ps),
        }
    }

    pub fn resource_matches<'a>(
        &'a self,
        resource: &str,
        ctx: &Context,
        missing: &mut dyn FnMut(&'a str),
    ) -> bool {
        let mut any = |ps: &'a [Pattern]| {
            ps.iter()
                .any(|p| p.matches_resource(resource, ctx, missing))
        };
        match &self.resources {
            Resources::Implicit => true,
            Resources::Only(ps) => any(ps),
            Resources::AllBut(ps) => !any(ps),
        }
    }

    /// Every condition holds. All are evaluated, so every missing key is reported.
    pub fn conditions_hold<'a>(&'a self, ctx: &Context, missing: &mut dyn FnMut(&'a str)) -> bool {
        let mut all = true;
        for c in &self.conditions {
            all &= c.holds(ctx, missing);
        }
        all
    }
}

/// A parsed policy document.
#[derive(Debug, Clone)]
pub struct Document {
    kind: PolicyKind,
    version: Option<String>,
    id: Option<String>,
    pub(crate) statements: Vec<Statement>,
    index: ActionIndex,
}

/// Which statements can apply to an action of each service the document names, so an
/// evaluation looks only at those (a user's ten policies of twenty statements over
/// several services leave a few per request).
#[derive(Debug, Clone, Default)]
struct ActionIndex {
    /// Lowercase service prefix, indices of the statements that may match it (in
    /// document order).
    by_vendor: Vec<(String, Vec<u32>)>,
    /// Statements that may match any service (`*`, `NotAction`, a wildcard in the
    /// prefix): the candidates for a service no statement names.
    any: Vec<u32>,
}

impl ActionIndex {
    fn build(statements: &[Statement]) -> ActionIndex {
        let vendors: Vec<Option<Vec<String>>> = statements
            .iter()
            .map(|s| match &s.actions {
                _ if s.never => Some(Vec::new()),
                Actions::Only(ps) => ps
                    .iter()
                    .map(|p| p.vendor().map(str::to_ascii_lowercase))
                    .collect(),
                Actions::AllBut(_) => None,
            })
            .collect();
        let mut index = ActionIndex::default();
        for (i, v) in vendors.iter().enumerate() {
            match v {
                None => index.any.push(i as u32),
                Some(names) => {
                    for n in names {
                        if !index.by_vendor.iter().any(|(k, _)| k == n) {
                            index.by_vendor.push((n.clone(), Vec::new()));
                        }
                    }
                }
            }
        }
        for (name, list) in &mut index.by_vendor {
            *list = vendors
                .iter()
                .enumerate()
                .filter(|(_, v)| v.as_ref().is_none_or(|names| names.contains(name)))
                .map(|(i, _)| i as u32)
                .collect();
        }
        index
    }
}

impl Document {
    /// Parses and checks `text` as IAM does for a policy of `kind`.
    pub fn parse(text: &str, kind: PolicyKind) -> Result<Document, PolicyError> {
        let json = validate::validate(text, kind)?;
        let mut doc = Document::compile(&json, kind);
        let spans = statement_spans(text);
        if spans.len() == doc.statements.len() {
            let positions = Positions::new(text);
            for (s, (start, end)) in doc.statements.iter_mut().zip(spans) {
                s.span = Some((positions.at(start + 1), positions.at(end + 1)));
            }
        }
        Ok(doc)
    }

    /// A resource policy as a service stored it; text that is no JSON object grants
    /// nothing.
    pub fn parse_lenient(text: &str) -> Document {
        match serde_json::from_str::<Json>(text) {
            Ok(json) => Document::from_json(&json, PolicyKind::Resource),
            Err(_) => Document::empty(PolicyKind::Resource),
        }
    }

    /// A document of `kind` from JSON already parsed, read leniently.
    pub fn from_json(json: &Json, kind: PolicyKind) -> Document {
        Document::compile(json, kind)
    }

    fn empty(kind: PolicyKind) -> Document {
        Document {
            kind,
            version: None,
            id: None,
            statements: Vec::new(),
            index: ActionIndex::default(),
        }
    }

    fn compile(json: &Json, kind: PolicyKind) -> Document {
        let Some(top) = json.as_object() else {
            return Document::empty(kind);
        };
        let version = top.get("Version").and_then(Json::as_str).map(str::to_owned);
        let vars = version.as_deref() == Some("2012-10-17");
        let statements = match top.get("Statement") {
            Some(Json::Array(a)) => a
                .iter()
                .filter_map(|s| compile_statement(s, kind, vars))
                .collect(),
            Some(s @ Json::Object(_)) => compile_statement(s, kind, vars).into_iter().collect(),
            _ => Vec::new(),
        };
        Document {
            kind,
            version,
            id: top.get("Id").and_then(Json::as_str).map(str::to_owned),
            index: ActionIndex::build(&statements),
            statements,
        }
    }

    /// Indices of the statements that may apply to `action`, in document order.
    #[inline]
    pub(crate) fn candidates(&self, action: &str) -> &[u32] {
        let vendor = action.split(':').next().unwrap_or(action);
        self.index
            .by_vendor
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(vendor))
            .map_or(&self.index.any, |(_, list)| list)
    }

    pub fn kind(&self) -> PolicyKind {
        self.kind
    }

    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// Number of statements.
    pub fn len(&self) -> usize {
        self.statements.len()
    }

    pub fn is_empty(&self) -> bool {
        self.statements.is_empty()
    }

    /// The statements' `Sid`s (`None` where a statement has none), in order.
    pub fn sids(&self) -> impl Iterator<Item = Option<&str>> {
        self.statements.iter().map(|s| s.sid.as_deref())
    }

    /// The context keys the document reads (condition keys and variables), as
    /// GetContextKeysForCustomPolicy lists them: as written, first use first, each once
    /// (compared case-insensitively). The escapes `${*}`/`${?}`/`${$}` are no keys.
    pub fn context_keys(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut push = |k: &str| {
            if !out.iter().any(|o| o.eq_ignore_ascii_case(k)) {
                out.push(k.to_owned());
            }
        };
        for s in &self.statements {
            if let Resources::Only(ps) | Resources::AllBut(ps) = &s.resources {
                for p in ps {
                    p.var_keys().for_each(&mut push);
                }
            }
            for c in &s.conditions {
                push(c.key());
                c.var_keys().for_each(&mut push);
            }
        }
        out
    }

    /// The principals the statements name, as (type, value) pairs (`("AWS",
    /// "arn:aws:iam::111122223333:role/r")`, `("*", "*")`), for IAM to check that they
    /// exist ("Invalid principal in policy").
    pub fn principals(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        for s in &self.statements {
            let (Some(Principals::Only(ids)) | Some(Principals::AllBut(ids))) = &s.principals
            else {
                continue;
            };
            for id in ids {
                out.push(match id {
                    PrincipalId::Everyone => ("*", "*".to_owned()),
                    PrincipalId::AwsAny => ("AWS", "*".to_owned()),
                    PrincipalId::Account(a) => ("AWS", a.clone()),
                    PrincipalId::Arn { arn, .. } => ("AWS", arn.clone()),
                    PrincipalId::Service(s) => ("Service", s.clone()),
                    PrincipalId::Federated(f) => ("Federated", f.clone()),
                    PrincipalId::Canonical(c) => ("CanonicalUser", c.clone()),
                    PrincipalId::Other => continue,
                });
            }
        }
        out
    }
}

/// A policy's length as IAM counts it against its quotas: characters, white space not
/// counted.
pub fn canonical_len(text: &str) -> usize {
    text.chars().filter(|c| !c.is_whitespace()).count()
}

fn compile_statement(s: &Json, kind: PolicyKind, vars: bool) -> Option<Statement> {
    let s = s.as_object()?;
    let effect = match s.get("Effect")?.as_str()? {
        "Allow" => Effect::Allow,
        "Deny" => Effect::Deny,
        _ => return None,
    };
    let mut never = false;
    let patterns = |v: &Json, vars: bool| -> Option<Vec<Pattern>> {
        match v {
            Json::String(p) => Some(vec![Pattern::compile(Template::parse(p, vars))]),
            Json::Array(a) => Some(
                a.iter()
                    .filter_map(Json::as_str)
                    .map(|p| Pattern::compile(Template::parse(p, vars)))
                    .collect(),
            ),
            _ => None,
        }
    };
    // Actions take no variables.
    let actions = match (s.get("Action"), s.get("NotAction")) {
        (Some(a), None) => patterns(a, false).map(Actions::Only),
        (None, Some(a)) => patterns(a, false).map(Actions::AllBut),
        _ => None,
    };
    let actions = actions.unwrap_or_else(|| {
        never = true;
        Actions::Only(Vec::new())
    });
    let resources = match (s.get("Resource"), s.get("NotResource")) {
        (Some(r), None) => patterns(r, vars).map(Resources::Only),
        (None, Some(r)) => patterns(r, vars).map(Resources::AllBut),
        (None, None) if kind.names_principals() => Some(Resources::Implicit),
        _ => None,
    };
    let resources = resources.unwrap_or_else(|| {
        never = true;
        Resources::Implicit
    });
    let principals = match (s.get("Principal"), s.get("NotPrincipal")) {
        (Some(p), None) => principal::compile(p).map(Principals::Only),
        (None, Some(p)) => principal::compile(p).map(Principals::AllBut),
        (None, None) => None,
        _ => {
            never = true;
            None
        }
    };
    if principals.is_none() && kind.names_principals() {
        // A resource policy's statement names whom it is about, or applies to no one.
        never = true;
    }
    let mut conditions = Vec::new();
    if let Some(c) = s.get("Condition") {
        match c.as_object() {
            Some(blocks) => {
                for (op, block) in blocks {
                    let Some(block) = block.as_object() else {
                        never = true;
                        continue;
                    };
                    match condition::parse_operator(op) {
                        Some((op, qual, if_exists)) => {
                            for (key, values) in block {
                                let raw = condition::scalars(values);
                                conditions
                                    .push(Condition::new(op, qual, if_exists, key, &raw, vars));
                            }
                        }
                        // An operator IAM does not know never holds: it must not grant.
                        None if !block.is_empty() => never = true,
                        None => {}
                    }
                }
            }
            None => never = true,
        }
    }
    Some(Statement {
        sid: s.get("Sid").and_then(Json::as_str).map(str::to_owned),
        effect,
        principals,
        actions,
        resources,
        conditions,
        never,
        span: None,
    })
}

/// Byte offsets of each statement object's `{` and `}` in the text (the `Statement`
/// member's object, or each object of its array). Empty if the text cannot be scanned.
fn statement_spans(text: &str) -> Vec<(usize, usize)> {
    let b = text.as_bytes();
    let mut spans = Vec::new();
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return spans;
    }
    i += 1;
    loop {
        i = skip_ws(b, i);
        match b.get(i) {
            Some(b'}') | None => return spans,
            Some(b',') => {
                i += 1;
                continue;
            }
            Some(b'"') => {}
            Some(_) => return Vec::new(),
        }
        let Some(key_end) = scan_string(b, i) else {
            return Vec::new();
        };
        let key = &b[i + 1..key_end - 1];
        i = skip_ws(b, key_end);
        if b.get(i) != Some(&b':') {
            return Vec::new();
        }
        i = skip_ws(b, i + 1);
        let Some(end) = scan_value(b, i) else {
            return Vec::new();
        };
        if key == b"Statement" {
            spans.clear();
            match b[i] {
                b'{' => spans.push((i, end - 1)),
                b'[' => {
                    let mut j = skip_ws(b, i + 1);
                    while j < end - 1 {
                        match b[j] {
                            b',' => j = skip_ws(b, j + 1),
                            _ => {
                                let Some(e) = scan_value(b, j) else {
                                    return Vec::new();
                                };
                                if b[j] == b'{' {
                                    spans.push((j, e - 1));
                                }
                                j = skip_ws(b, e);
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        i = end;
    }
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while b.get(i).is_some_and(|c| c.is_ascii_whitespace()) {
        i += 1;
    }
    i
}

/// End (exclusive) of the string starting at `b[i] == '"'`.
fn scan_string(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    while j < b.len() {
        match b[j] {
            b'\\' => j += 2,
            b'"' => return Some(j + 1),
            _ => j += 1,
        }
    }
    None
}

/// End (exclusive) of the JSON value starting at `i`.
fn scan_value(b: &[u8], i: usize) -> Option<usize> {
    match *b.get(i)? {
        b'"' => scan_string(b, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            while j < b.len() {
                match b[j] {
                    b'"' => {
                        j = scan_string(b, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            None
        }
        _ => {
            let mut j = i;
            while j < b.len() && !matches!(b[j], b',' | b'}' | b']') && !b[j].is_ascii_whitespace()
            {
                j += 1;
            }
            Some(j)
        }
    }
}

/// Byte offset → line and column.
struct Positions<'a> {
    text: &'a str,
    line_starts: Vec<usize>,
}

impl<'a> Positions<'a> {
    fn new(text: &'a str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Positions { text, line_starts }
    }

    /// The position of byte `offset` (which may be the text's end).
    fn at(&self, offset: usize) -> Position {
        let line = self.line_starts.partition_point(|&s| s <= offset) - 1;
        let start = self.line_starts[line];
        let column = self
            .text
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count())
            + 1;
        Position {
            line: line + 1,
            column,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_match_the_simulator() {
        // aws-cli's simulate-custom-policy example: the statement is reported from just
        // after its `{` (line 1, column 38) to just after its `}` (column 167).
        let text = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"dynamodb:*","Resource":"*","Condition":{"DateGreaterThan":{"aws:CurrentTime":"2018-08-16T12:00:00Z"}}}}"#;
        let doc = Document::parse(text, PolicyKind::Identity).unwrap();
        let (start, end) = doc.statements[0].span.unwrap();
        assert_eq!(
            start,
            Position {
                line: 1,
                column: 38
            }
        );
        assert_eq!(
            end,
            Position {
                line: 1,
                column: 167
            }
        );
        let text = "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\"Effect\": \"Allow\", \"Action\": \"s3:*\", \"Resource\": \"*\"},\n    {\n      \"Effect\": \"Deny\", \"Action\": \"s3:Delete*\", \"Resource\": \"*\"\n    }\n  ]\n}";
        let doc = Document::parse(text, PolicyKind::Identity).unwrap();
        assert_eq!(
            doc.statements[0].span.unwrap(),
            (
                Position { line: 4, column: 6 },
                Position {
                    line: 4,
                    column: 59
                }
            )
        );
        assert_eq!(
            doc.statements[1].span.unwrap(),
            (
                Position { line: 5, column: 6 },
                Position { line: 7, column: 6 }
            )
        );
    }

    #[test]
    fn action_index() {
        let json: Json = serde_json::from_str(
            r#"{"Version":"2012-10-17","Statement":[
                {"Effect":"Allow","Action":"s3:Get*","Resource":"*"},
                {"Effect":"Allow","Action":"*","Resource":"*"},
                {"Effect":"Deny","NotAction":"ec2:*","Resource":"*"},
                {"Effect":"Allow","Action":["SQS:Send*","s3:Put*"],"Resource":"*"},
                {"Effect":"Allow","Action":"sq?:x","Resource":"*"},
                {"Effect":"Allow","Action":"iam:GetUser","Resource":"*"}]}"#,
        )
        .unwrap();
        // Leniently: IAM itself refuses a wildcard in a service prefix.
        let d = Document::from_json(&json, PolicyKind::Identity);
        assert_eq!(d.candidates("S3:GetObject"), [0, 1, 2, 3, 4]);
        assert_eq!(d.candidates("sqs:SendMessage"), [1, 2, 3, 4]);
        assert_eq!(d.candidates("ec2:RunInstances"), [1, 2, 4]);
        assert_eq!(d.candidates("iam:getuser"), [1, 2, 4, 5]);
    }

    #[test]
    fn lenient_documents_never_fail() {
        assert!(Document::parse_lenient("nope").is_empty());
        assert!(Document::parse_lenient("[]").is_empty());
        let d = Document::parse_lenient(
            r#"{"Statement":[{"Effect":"Allow","Action":"x","NotAction":"y","Principal":"*"},{"Effect":"allow"},"x"]}"#,
        );
        assert_eq!(d.len(), 1);
        assert!(d.statements[0].never);
    }

    #[test]
    fn context_keys_and_length() {
        let text = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"dynamodb:*","Resource":"arn:aws:dynamodb:us-west-2:123456789012:table/${aws:username}","Condition":{"DateGreaterThan":{"aws:CurrentTime":"2015-08-16T12:00:00Z"},"StringLike":{"s3:prefix":"${*}home/${AWS:UserName}/*"}}}}"#;
        let doc = Document::parse(text, PolicyKind::Identity).unwrap();
        // aws-cli's get-context-keys-for-custom-policy example lists these two, in this
        // order.
        assert_eq!(
            doc.context_keys(),
            ["aws:username", "aws:CurrentTime", "s3:prefix"]
        );
        assert_eq!(canonical_len("{ \"a\" :\n\t\"b c\" }"), 10);
    }
}
