//! IAM's checks of a policy document before it is stored (`MalformedPolicyDocument`),
//! in IAM's order, with its messages.
//!
//! The order and messages follow IAM's observed behaviour as recorded against AWS by
//! moto's `test_iam_policies.py` (syntax, then version, then "legacy parsing" of
//! effects, dates and resources, then SIDs, actions, resource formats, vendors, and
//! last the presence of resources). Messages IAM gives for other kinds come from AWS
//! answers quoted in public bug reports: "Policy document should not specify a
//! principal." (an identity policy with `Principal`), "This policy contains invalid
//! Json" (a trust policy that is no JSON; LocalStack's recorded snapshot), "Has
//! prohibited field Resource" and "Invalid principal in policy: ..." (trust policies).

use std::collections::HashSet;

use serde_json::{Map, Value as Json};

use crate::condition;
use crate::document::{PolicyError, PolicyKind};

const VERSIONS: [&str; 2] = ["2008-10-17", "2012-10-17"];
const TOP: [&str; 4] = ["Version", "Id", "Statement", "Conditions"];
const ELEMENTS: [&str; 9] = [
    "Sid",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Condition",
];
const PARTITIONS: [&str; 8] = [
    "aws",
    "aws-cn",
    "aws-us-gov",
    "aws-iso",
    "aws-iso-b",
    "aws-iso-e",
    "aws-iso-f",
    "aws-eusc",
];
const IAM_PATHS: [&str; 13] = [
    "user/",
    "federated-user/",
    "role/",
    "group/",
    "instance-profile/",
    "mfa/",
    "server-certificate/",
    "policy/",
    "sms-mfa/",
    "saml-provider/",
    "oidc-provider/",
    "report/",
    "access-report/",
];

fn err(message: impl Into<String>) -> PolicyError {
    PolicyError {
        message: message.into(),
    }
}

fn syntax() -> PolicyError {
    err("Syntax errors in policy.")
}

fn legacy() -> PolicyError {
    err("The policy failed legacy parsing")
}

/// A string or list element's strings (list members that are `null` are skipped, as
/// IAM does).
fn strings(v: &Json) -> Vec<&str> {
    match v {
        Json::String(s) => vec![s.as_str()],
        Json::Array(a) => a.iter().filter_map(Json::as_str).collect(),
        _ => Vec::new(),
    }
}

/// Checks `text` as IAM checks a document of `kind`, and returns it parsed.
pub(crate) fn validate(text: &str, kind: PolicyKind) -> Result<Json, PolicyError> {
    let json: Json = serde_json::from_str(text).map_err(|_| match kind {
        PolicyKind::Trust => err("This policy contains invalid Json"),
        _ => syntax(),
    })?;
    let statements = check_syntax(&json).ok_or_else(syntax)?;
    let identity = matches!(
        kind,
        PolicyKind::Identity | PolicyKind::Boundary | PolicyKind::Session
    );
    if identity && json.get("Version").and_then(Json::as_str) != Some("2012-10-17") {
        return Err(err(
            "Policy document must be version 2012-10-17 or greater.",
        ));
    }
    if identity
        && statements
            .iter()
            .any(|s| s.contains_key("Principal") || s.contains_key("NotPrincipal"))
    {
        return Err(err("Policy document should not specify a principal."));
    }
    for s in &statements {
        legacy_statement(s).ok_or_else(legacy)?;
    }
    let mut resource_error = None;
    for key in ["Resource", "NotResource"] {
        for s in &statements {
            let Some(v) = s.get(key) else { continue };
            match v {
                Json::String(r) => check_resource(r, &mut resource_error),
                v => {
                    let mut rs: Vec<&str> =
                        strings(v).into_iter().filter(|r| !r.is_empty()).collect();
                    rs.sort_unstable_by(|a, b| b.cmp(a));
                    for r in rs {
                        check_resource(r, &mut resource_error);
                    }
                }
            }
            if resource_error.is_none() {
                legacy_resources(v).ok_or_else(legacy)?;
            }
        }
    }
    let mut sids = HashSet::new();
    for s in &statements {
        if let Some(sid) = s.get("Sid").and_then(Json::as_str)
            && !sid.is_empty()
            && !sids.insert(sid)
        {
            return Err(err(
                "Statement IDs (SID) in a single policy must be unique.",
            ));
        }
    }
    if !statements
        .iter()
        .all(|s| has_list(s, "Action", "NotAction"))
    {
        return Err(err("Policy statement must contain actions."));
    }
    if let Some(e) = resource_error {
        return Err(err(e));
    }
    for key in ["Action", "NotAction"] {
        for s in &statements {
            for a in s.get(key).map(strings).unwrap_or_default() {
                check_vendor(a)?;
            }
        }
    }
    match kind {
        PolicyKind::Identity | PolicyKind::Boundary | PolicyKind::Session => {
            if !statements
                .iter()
                .all(|s| has_list(s, "Resource", "NotResource"))
            {
                return Err(err("Policy statement must contain resources."));
            }
        }
        PolicyKind::Trust => check_trust(&statements)?,
        PolicyKind::Resource => {
            if statements
                .iter()
                .any(|s| !s.contains_key("Principal") && !s.contains_key("NotPrincipal"))
            {
                return Err(err("Missing required field Principal"));
            }
            check_principals(&statements)?;
        }
    }
    Ok(json)
}

/// The grammar: element names, types and shapes. `None` is "Syntax errors in policy.".
fn check_syntax(json: &Json) -> Option<Vec<&Map<String, Json>>> {
    let top = json.as_object()?;
    if !top.keys().all(|k| TOP.contains(&k.as_str())) {
        return None;
    }
    if let Some(v) = top.get("Version")
        && !v.as_str().is_some_and(|v| VERSIONS.contains(&v))
    {
        return None;
    }
    if top.get("Id").is_some_and(|v| !v.is_string()) {
        return None;
    }
    let statements: Vec<&Json> = match top.get("Statement")? {
        s @ Json::Object(_) => vec![s],
        Json::Array(a) if !a.is_empty() => a.iter().collect(),
        _ => return None,
    };
    let mut out = Vec::with_capacity(statements.len());
    for s in statements {
        let s = s.as_object()?;
        if !s.keys().all(|k| ELEMENTS.contains(&k.as_str())) {
            return None;
        }
        if (s.contains_key("Resource") && s.contains_key("NotResource"))
            || (s.contains_key("Action") && s.contains_key("NotAction"))
            || (s.contains_key("Principal") && s.contains_key("NotPrincipal"))
        {
            return None;
        }
        let effect = s.get("Effect")?.as_str()?;
        if !effect.eq_ignore_ascii_case("allow") && !effect.eq_ignore_ascii_case("deny") {
            return None;
        }
        for key in ["Action", "NotAction", "Resource", "NotResource"] {
            match s.get(key) {
                None | Some(Json::String(_)) => {}
                Some(Json::Array(a)) if a.iter().all(|x| x.is_string() || x.is_null()) => {}
                Some(_) => return None,
            }
        }
        for key in ["Principal", "NotPrincipal"] {
            match s.get(key) {
                None => {}
                Some(Json::String(p)) if p == "*" => {}
                Some(Json::Object(m))
                    if m.values().all(|v| match v {
                        Json::String(_) => true,
                        Json::Array(a) => a.iter().all(Json::is_string),
                        _ => false,
                    }) => {}
                Some(_) => return None,
            }
        }
        if let Some(c) = s.get("Condition") {
            for (op, block) in c.as_object()? {
                let block = block.as_object()?;
                if !block.values().all(|v| {
                    matches!(
                        v,
                        Json::String(_) | Json::Bool(_) | Json::Number(_) | Json::Array(_)
                    )
                }) {
                    return None;
                }
                if condition::parse_operator(op).is_none() && !block.is_empty() {
                    return None;
                }
            }
        }
        if s.get("Sid").is_some_and(|v| !v.is_string()) {
            return None;
        }
        out.push(s);
    }
    Some(out)
}

/// Whether the statement has `key` or `not_key`, and a list there is not empty.
fn has_list(s: &Map<String, Json>, key: &str, not_key: &str) -> bool {
    match s.get(key).or_else(|| s.get(not_key)) {
        Some(Json::Array(a)) => !a.is_empty(),
        Some(_) => true,
        None => false,
    }
}

/// IAM's legacy parser: the effect's exact case, and dates in `Date*` conditions.
fn legacy_statement(s: &Map<String, Json>) -> Option<()> {
    if !matches!(s.get("Effect")?.as_str()?, "Allow" | "Deny") {
        return None;
    }
    let Some(c) = s.get("Condition").and_then(Json::as_object) else {
        return Some(());
    };
    for (op, block) in c {
        let base = op
            .strip_prefix("ForAnyValue:")
            .or_else(|| op.strip_prefix("ForAllValues:"))
            .unwrap_or(op);
        if !base.starts_with("Date") {
            continue;
        }
        for v in block.as_object()?.values() {
            match v {
                Json::String(d) => legacy_date(d)?,
                Json::Array(a) => {
                    for d in a {
                        legacy_date(d.as_str()?)?;
                    }
                }
                _ => return None,
            }
        }
    }
    Some(())
}

/// Python-style `int()`: optional sign and surrounding blanks.
fn int(s: &str) -> Option<i128> {
    let s = s.trim();
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn in_range(s: &str, lo: i128, hi: i128) -> Option<()> {
    int(s).filter(|v| (lo..=hi).contains(v)).map(|_| ())
}

/// A date value as IAM's legacy parser takes it: epoch seconds, or a lenient ISO 8601
/// date-time (`01T`, `2016-12-13t2:00:00.593194+23` pass).
fn legacy_date(d: &str) -> Option<()> {
    let d = d.to_ascii_lowercase();
    if !d.contains('t') && !d.contains('-') {
        return in_range(&d, 0, i128::from(i64::MAX));
    }
    let (date, time) = d.split_once('t').unwrap_or((&d, ""));
    let (neg, date) = match date.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, date),
    };
    let parts: Vec<&str> = date.split('-').collect();
    if parts.len() > 3 {
        return None;
    }
    let year = int(parts[0])?;
    let year = if neg { -year } else { year };
    if !(-292_275_054..=292_278_993).contains(&year) {
        return None;
    }
    if let Some(m) = parts.get(1) {
        in_range(m, 1, 12)?;
    }
    if let Some(day) = parts.get(2) {
        in_range(day, 1, 31)?;
    }
    let t: Vec<&str> = time.split(':').collect();
    if !t[0].is_empty() {
        in_range(t[0], 0, 23)?;
    }
    if let Some(m) = t.get(1) {
        in_range(m, 0, 59)?;
    }
    if let Some(&sec) = t.get(2) {
        let seconds = if let Some((s, rest)) = sec.split_once('z') {
            if !rest.is_empty() {
                return None;
            }
            s
        } else if let Some((s, zone)) = sec.split_once('+') {
            let (h, m) = match zone.split_once(':') {
                Some((h, m)) => (h, Some(m)),
                None => (zone, None),
            };
            if h.len() != 2 {
                return None;
            }
            in_range(h, 0, 23)?;
            if let Some(m) = m {
                if m.len() != 2 {
                    return None;
                }
                in_range(m, 0, 59)?;
            }
            s
        } else {
            sec
        };
        let (whole, frac) = match seconds.split_once('.') {
            Some((w, f)) => (w, Some(f)),
            None => (seconds, None),
        };
        in_range(whole, 0, 59)?;
        if let Some(f) = frac {
            in_range(f, 0, 999_999_999)?;
        }
    }
    Some(())
}

/// The legacy parser's view of resource ARNs (run only while no format error is known).
fn legacy_resources(v: &Json) -> Option<()> {
    match v {
        Json::String(r) if r != "*" => {
            if r.matches(':').count() < 5 && r.contains("::") {
                return None;
            }
            (!r.split(':').nth(2)?.is_empty()).then_some(())
        }
        Json::Array(a) => {
            for r in a.iter().filter_map(Json::as_str) {
                if !r.is_empty() && r != "*" && r.matches(':').count() < 5 && r.contains("::") {
                    return None;
                }
            }
            Some(())
        }
        _ => Some(()),
    }
}

/// A resource's format; the last error found is the one IAM reports.
fn check_resource(r: &str, error: &mut Option<String>) {
    if r == "*" {
        return;
    }
    let Some((_, rest)) = r.split_once(':') else {
        *error = Some(format!("Resource {r} must be in ARN format or \"*\"."));
        return;
    };
    let (partition, rest) = match rest.split_once(':') {
        Some((p, rest)) => (p, Some(rest)),
        None => (rest, None),
    };
    if partition != "*" && !PARTITIONS.contains(&partition) {
        let remaining: Vec<&str> = rest.unwrap_or("").split(':').collect();
        let arn1 = if !remaining[0].is_empty() || remaining.len() > 1 {
            remaining[0]
        } else {
            "*"
        };
        let arn2 = remaining.get(1).copied().unwrap_or("*");
        let arn3 = remaining.get(2).copied().unwrap_or("*");
        let arn4 = if remaining.len() > 3 {
            remaining[3..].join(":")
        } else {
            "*".to_owned()
        };
        *error = Some(format!(
            "Partition \"{partition}\" is not valid for resource \"arn:{partition}:{arn1}:{arn2}:{arn3}:{arn4}\"."
        ));
        return;
    }
    let Some(rest) = rest else {
        *error = Some("Resource vendor must be fully qualified and cannot contain regexes.".into());
        return;
    };
    let (service, region_on) = rest.split_once(':').unwrap_or((rest, ""));
    let resource_id = region_on.splitn(3, ':').nth(2).unwrap_or("");
    let region_given = !region_on.is_empty() && !region_on.starts_with(':');
    match service {
        "iam" if region_given => {
            *error = Some(format!(
                "IAM resource {r} cannot contain region information."
            ));
        }
        "s3" if region_given && !resource_id.starts_with("accesspoint/") => {
            *error = Some(format!("Resource {r} can not contain region information."));
        }
        "iam" if !IAM_PATHS.iter().any(|p| resource_id.starts_with(p)) && resource_id != "root" => {
            *error = Some(format!(
                "IAM resource path must either be \"*\" or start with {}.",
                IAM_PATHS.join(", ")
            ));
        }
        _ => {}
    }
}

fn check_vendor(action: &str) -> Result<(), PolicyError> {
    let parts: Vec<&str> = action.split(':').collect();
    if parts.len() == 1 && parts[0] != "*" {
        return Err(err(
            "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
        ));
    }
    if parts.len() > 2 {
        return Err(err("Actions/Condition can contain only one colon."));
    }
    let vendor = parts[0];
    if vendor != "*"
        && !vendor
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    {
        return Err(err(format!("Vendor {vendor} is not valid")));
    }
    Ok(())
}

/// Role trust policies: principals required, no resources, only STS actions.
fn check_trust(statements: &[&Map<String, Json>]) -> Result<(), PolicyError> {
    for s in statements {
        if s.contains_key("NotPrincipal") {
            return Err(err("Has prohibited field NotPrincipal"));
        }
        if !s.contains_key("Principal") {
            return Err(err(
                "Invalid principal in policy: com.amazon.balsa.error.InvalidPolicyException: The passed in policy has a statement with no principals!",
            ));
        }
    }
    for s in statements {
        let actions = s.get("Action").map(strings);
        if !actions.is_some_and(|a| {
            a.iter().all(|a| {
                a.split_once(':')
                    .is_some_and(|(vendor, _)| vendor.eq_ignore_ascii_case("sts"))
            })
        }) {
            return Err(err(
                "Trust Policy statement actions can only be sts:AssumeRole, sts:AssumeRoleWithSAML,  and sts:AssumeRoleWithWebIdentity",
            ));
        }
    }
    if statements
        .iter()
        .any(|s| s.contains_key("Resource") || s.contains_key("NotResource"))
    {
        return Err(err("Has prohibited field Resource"));
    }
    check_principals(statements)
}

/// Principal values of a shape IAM takes: `Invalid principal in policy: "AWS":"x"`.
fn check_principals(statements: &[&Map<String, Json>]) -> Result<(), PolicyError> {
    for s in statements {
        let Some(Json::Object(m)) = s.get("Principal").or_else(|| s.get("NotPrincipal")) else {
            continue;
        };
        for (kind, ids) in m {
            for id in strings(ids) {
                let ok = match kind.as_str() {
                    "AWS" => valid_aws_principal(id),
                    "Service" | "Federated" | "CanonicalUser" => {
                        !id.is_empty() && !id.contains(char::is_whitespace)
                    }
                    _ => false,
                };
                if !ok {
                    return Err(err(format!(
                        "Invalid principal in policy: \"{}\":\"{id}\"",
                        kind.to_ascii_uppercase()
                    )));
                }
            }
        }
    }
    Ok(())
}

fn valid_aws_principal(id: &str) -> bool {
    let account = |a: &str| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit());
    if id == "*" || account(id) {
        return true;
    }
    // A unique id (AIDA..., AROA...): what IAM shows for a deleted principal.
    if id.len() >= 16
        && id.starts_with('A')
        && id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    {
        return true;
    }
    let parts: Vec<&str> = id.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", partition, "iam", "", acct, resource]
            if PARTITIONS.contains(partition) && account(acct) =>
        {
            *resource == "root"
                || ["user/", "role/"]
                    .iter()
                    .any(|p| resource.strip_prefix(p).is_some_and(|n| !n.is_empty()))
        }
        ["arn", partition, "sts", "", acct, resource]
            if PARTITIONS.contains(partition) && account(acct) =>
        {
            resource.strip_prefix("assumed-role/").is_some_and(|r| {
                r.split_once('/')
                    .is_some_and(|(a, b)| !a.is_empty() && !b.is_empty())
            }) || resource
                .strip_prefix("federated-user/")
                .is_some_and(|n| !n.is_empty())
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_dates() {
        for ok in [
            "2019-07-01T13:20:15Z",
            "2016-12-13T21:20:37.593194+00:00",
            "2016-12-13t2:00:00.593194+23",
            "-292275054",
            "01T",
            "1526357900",
        ] {
            assert!(legacy_date(ok).is_some(), "{ok}");
        }
        for bad in [
            "sdfdsf",
            "234-13",
            "2016-12-13t2:00:00.593194+1",
            "2016-12-13t2:00:00.1999999999+10:59",
            "9223372036854775808",
        ] {
            assert!(legacy_date(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn aws_principals() {
        for ok in [
            "*",
            "111122223333",
            "arn:aws:iam::111122223333:root",
            "arn:aws:iam::111122223333:user/a/b",
            "arn:aws:iam::111122223333:role/r",
            "arn:aws:sts::111122223333:assumed-role/r/s",
            "arn:aws:sts::111122223333:federated-user/f",
            "AROAEXAMPLEEXAMPLEEX",
        ] {
            assert!(valid_aws_principal(ok), "{ok}");
        }
        for bad in [
            "alice",
            "arn:aws:iam::1:user/a",
            "arn:aws:s3:::b",
            "arn:aws:iam::111122223333:group/g",
        ] {
            assert!(!valid_aws_principal(bad), "{bad}");
        }
    }
}
