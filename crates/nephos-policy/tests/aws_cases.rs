//! Policy cases whose expected outcomes come from AWS's documentation (each group cites
//! its page) and, for document validation, from IAM's answers as recorded against AWS
//! in moto's `tests/test_iam/test_iam_policies.py`.

use nephos_policy::{
    Context, DenyReason, Document, Effect, PolicyKind, PolicySet, Position, Principal, Request,
    Source, Verdict, authorize, engine,
};
use serde_json::{Value, json};

const ACCT: &str = "111122223333";
const OTHER: &str = "444455556666";

fn user(account: &str, name: &str) -> Principal {
    Principal::Aws {
        account: account.to_owned(),
        arn: format!("arn:aws:iam::{account}:user/{name}"),
    }
}

fn session(account: &str, role: &str, name: &str) -> Principal {
    Principal::Aws {
        account: account.to_owned(),
        arn: format!("arn:aws:sts::{account}:assumed-role/{role}/{name}"),
    }
}

fn root(account: &str) -> Principal {
    Principal::Aws {
        account: account.to_owned(),
        arn: format!("arn:aws:iam::{account}:root"),
    }
}

fn doc(kind: PolicyKind, v: Value) -> Document {
    Document::parse(&v.to_string(), kind).unwrap_or_else(|e| panic!("{v}: {e}"))
}

fn identity(statements: Value) -> Document {
    doc(
        PolicyKind::Identity,
        json!({"Version": "2012-10-17", "Statement": statements}),
    )
}

fn resource_policy(statements: Value) -> Document {
    doc(
        PolicyKind::Resource,
        json!({"Version": "2012-10-17", "Statement": statements}),
    )
}

fn allow_all() -> Document {
    identity(json!([{"Effect": "Allow", "Action": "*", "Resource": "*"}]))
}

/// The verdict of one identity policy for `alice` in `ACCT`.
fn verdict_of(policy: &Document, action: &str, resource: &str, ctx: &Context) -> Verdict {
    let p = user(ACCT, "alice");
    let mut set = PolicySet::new(ACCT);
    set.identity.push(("p", policy));
    engine::evaluate(
        &Request {
            principal: &p,
            action,
            resource,
            context: ctx,
        },
        &set,
    )
    .verdict
}

// --- Condition operators ----------------------------------------------------------
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_multi-value-conditions.html

/// Whether an `Allow` with this `Condition` applies in a context of `keys`.
fn condition_holds(condition: &Value, keys: &[(&str, &[&str])]) -> bool {
    let policy = identity(json!([{
        "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": condition
    }]));
    let mut ctx = Context::new();
    for (k, vs) in keys {
        ctx.set_many(k, vs.iter().copied());
    }
    verdict_of(&policy, "s3:GetObject", "arn:aws:s3:::b/k", &ctx) == Verdict::Allow
}

#[test]
fn condition_operators() {
    type Case = (
        Value,
        &'static [(&'static str, &'static [&'static str])],
        bool,
    );
    let cases: Vec<Case> = vec![
        // String operators: StringEquals is exact and case-sensitive; a missing key never
        // matches, so a negated operator holds.
        (
            json!({"StringEquals": {"aws:PrincipalTag/job-category": "iamuser-admin"}}),
            &[("aws:PrincipalTag/job-category", &["iamuser-admin"])],
            true,
        ),
        (
            json!({"StringEquals": {"aws:PrincipalTag/job-category": "iamuser-admin"}}),
            &[("aws:principaltag/JOB-CATEGORY", &["iamuser-admin"])],
            true,
        ),
        (
            json!({"StringEquals": {"aws:PrincipalTag/job-category": "iamuser-admin"}}),
            &[("aws:PrincipalTag/job-category", &["IAMUSER-ADMIN"])],
            false,
        ),
        (
            json!({"StringEquals": {"aws:PrincipalTag/job-category": "iamuser-admin"}}),
            &[],
            false,
        ),
        (
            json!({"StringNotEquals": {"aws:PrincipalTag/job-category": "iamuser-admin"}}),
            &[],
            true,
        ),
        (
            json!({"StringNotEquals": {"aws:PrincipalTag/job-category": "iamuser-admin"}}),
            &[("aws:PrincipalTag/job-category", &["dev"])],
            true,
        ),
        (
            json!({"StringNotEquals": {"aws:PrincipalTag/job-category": "iamuser-admin"}}),
            &[("aws:PrincipalTag/job-category", &["iamuser-admin"])],
            false,
        ),
        (
            json!({"StringEqualsIgnoreCase": {"aws:PrincipalTag/team": "Blue"}}),
            &[("aws:PrincipalTag/team", &["bLUE"])],
            true,
        ),
        (
            json!({"StringNotEqualsIgnoreCase": {"aws:PrincipalTag/team": "Blue"}}),
            &[("aws:PrincipalTag/team", &["bLUE"])],
            false,
        ),
        (
            json!({"StringNotEqualsIgnoreCase": {"aws:PrincipalTag/team": "Blue"}}),
            &[("aws:PrincipalTag/team", &["red"])],
            true,
        ),
        (
            json!({"StringLike": {"s3:prefix": ["", "home/", "home/alice/*"]}}),
            &[("s3:prefix", &["home/alice/docs/a.txt"])],
            true,
        ),
        (
            json!({"StringLike": {"s3:prefix": ["", "home/", "home/alice/*"]}}),
            &[("s3:prefix", &["home/bob/"])],
            false,
        ),
        (
            json!({"StringLike": {"s3:prefix": "home/?"}}),
            &[("s3:prefix", &["home/a"])],
            true,
        ),
        (
            json!({"StringLike": {"s3:prefix": "home/?"}}),
            &[("s3:prefix", &["home/ab"])],
            false,
        ),
        // StringLike is case-sensitive.
        (
            json!({"StringLike": {"s3:prefix": "Home/*"}}),
            &[("s3:prefix", &["home/a"])],
            false,
        ),
        (
            json!({"StringNotLike": {"s3:prefix": "home/*"}}),
            &[("s3:prefix", &["home/a"])],
            false,
        ),
        (
            json!({"StringNotLike": {"s3:prefix": "home/*"}}),
            &[("s3:prefix", &["tmp/a"])],
            true,
        ),
        (json!({"StringNotLike": {"s3:prefix": "home/*"}}), &[], true),
        // Numeric operators (the s3:max-keys example), integers and decimals.
        (
            json!({"NumericLessThanEquals": {"s3:max-keys": "10"}}),
            &[("s3:max-keys", &["10"])],
            true,
        ),
        (
            json!({"NumericLessThanEquals": {"s3:max-keys": "10"}}),
            &[("s3:max-keys", &["11"])],
            false,
        ),
        (
            json!({"NumericLessThanEquals": {"s3:max-keys": "10"}}),
            &[],
            false,
        ),
        (
            json!({"NumericLessThan": {"s3:max-keys": "10"}}),
            &[("s3:max-keys", &["10"])],
            false,
        ),
        (
            json!({"NumericGreaterThan": {"s3:max-keys": "10"}}),
            &[("s3:max-keys", &["10.5"])],
            true,
        ),
        (
            json!({"NumericGreaterThanEquals": {"s3:max-keys": "10"}}),
            &[("s3:max-keys", &["10"])],
            true,
        ),
        (
            json!({"NumericEquals": {"s3:max-keys": "1.0"}}),
            &[("s3:max-keys", &["1"])],
            true,
        ),
        (
            json!({"NumericEquals": {"s3:max-keys": ["5", "7"]}}),
            &[("s3:max-keys", &["7"])],
            true,
        ),
        (
            json!({"NumericNotEquals": {"s3:max-keys": ["5", "7"]}}),
            &[("s3:max-keys", &["7"])],
            false,
        ),
        (
            json!({"NumericNotEquals": {"s3:max-keys": ["5", "7"]}}),
            &[("s3:max-keys", &["6"])],
            true,
        ),
        (json!({"NumericNotEquals": {"s3:max-keys": "5"}}), &[], true),
        (
            json!({"NumericEquals": {"s3:max-keys": "5"}}),
            &[("s3:max-keys", &["five"])],
            false,
        ),
        // Date operators: W3C ISO 8601 or epoch seconds, on either side.
        (
            json!({"DateGreaterThan": {"aws:TokenIssueTime": "2020-01-01T00:00:01Z"}}),
            &[("aws:TokenIssueTime", &["2020-06-01T00:00:00Z"])],
            true,
        ),
        (
            json!({"DateGreaterThan": {"aws:TokenIssueTime": "2020-01-01T00:00:01Z"}}),
            &[("aws:TokenIssueTime", &["2019-12-31T23:59:59Z"])],
            false,
        ),
        (
            json!({"DateGreaterThan": {"aws:TokenIssueTime": "2020-01-01T00:00:01Z"}}),
            &[],
            false,
        ),
        (
            json!({"DateLessThan": {"aws:CurrentTime": "2021-01-01T00:00:00Z"}}),
            &[("aws:CurrentTime", &["1600000000"])],
            true,
        ),
        (
            json!({"DateLessThan": {"aws:EpochTime": "1600000000"}}),
            &[("aws:EpochTime", &["1599999999"])],
            true,
        ),
        (
            json!({"DateEquals": {"aws:CurrentTime": "2019-07-16T12:00:00Z"}}),
            &[("aws:CurrentTime", &["2019-07-16T14:00:00+02:00"])],
            true,
        ),
        (
            json!({"DateNotEquals": {"aws:CurrentTime": "2019-07-16T12:00:00Z"}}),
            &[("aws:CurrentTime", &["2019-07-16T12:00:01Z"])],
            true,
        ),
        (
            json!({"DateNotEquals": {"aws:CurrentTime": "2019-07-16T12:00:00Z"}}),
            &[],
            true,
        ),
        (
            json!({"DateLessThanEquals": {"aws:CurrentTime": "2019-07-16T12:00:00Z"}}),
            &[("aws:CurrentTime", &["2019-07-16T12:00:00Z"])],
            true,
        ),
        (
            json!({"DateGreaterThanEquals": {"aws:CurrentTime": "2019-07-16"}}),
            &[("aws:CurrentTime", &["2019-07-15T23:00:00Z"])],
            false,
        ),
        // Bool (the aws:SecureTransport example), policy values as strings or JSON bools.
        (
            json!({"Bool": {"aws:SecureTransport": "false"}}),
            &[("aws:SecureTransport", &["false"])],
            true,
        ),
        (
            json!({"Bool": {"aws:SecureTransport": "false"}}),
            &[("aws:SecureTransport", &["true"])],
            false,
        ),
        (
            json!({"Bool": {"aws:SecureTransport": false}}),
            &[("aws:SecureTransport", &["False"])],
            true,
        ),
        (
            json!({"Bool": {"aws:SecureTransport": "false"}}),
            &[],
            false,
        ),
        // BinaryEquals compares bytes against the policy's base64.
        (
            json!({"BinaryEquals": {"key": "QmluYXJ5VmFsdWVJbkJhc2U2NA=="}}),
            &[("key", &["QmluYXJ5VmFsdWVJbkJhc2U2NA=="])],
            true,
        ),
        (
            json!({"BinaryEquals": {"key": "QmluYXJ5VmFsdWVJbkJhc2U2NA=="}}),
            &[("key", &["QmluYXJ5VmFsdWVJbkJhc2U2NQ=="])],
            false,
        ),
        (
            json!({"BinaryEquals": {"key": "QmluYXJ5VmFsdWVJbkJhc2U2NA=="}}),
            &[],
            false,
        ),
        // IP addresses: CIDR, a bare address is /32, IPv6 too.
        (
            json!({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}),
            &[("aws:SourceIp", &["203.0.113.42"])],
            true,
        ),
        (
            json!({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}),
            &[("aws:SourceIp", &["198.51.100.1"])],
            false,
        ),
        (
            json!({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}),
            &[],
            false,
        ),
        (
            json!({"IpAddress": {"aws:SourceIp": "203.0.113.7"}}),
            &[("aws:SourceIp", &["203.0.113.8"])],
            false,
        ),
        (
            json!({"IpAddress": {"aws:SourceIp": ["203.0.113.0/24", "2001:DB8:1234:5678::/64"]}}),
            &[("aws:SourceIp", &["2001:db8:1234:5678::99"])],
            true,
        ),
        (
            json!({"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}}),
            &[("aws:SourceIp", &["198.51.100.1"])],
            true,
        ),
        (
            json!({"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}}),
            &[("aws:SourceIp", &["203.0.113.1"])],
            false,
        ),
        (
            json!({"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}}),
            &[],
            true,
        ),
        // ARN operators: segment by segment, so `*` stays within a segment (the page's
        // own StringLike/ArnLike example).
        (
            json!({"ArnLike": {"aws:SourceArn": "arn:aws:someservice:*:111122223333:finance/*"}}),
            &[(
                "aws:SourceArn",
                &[
                    "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt",
                ],
            )],
            false,
        ),
        (
            json!({"StringLike": {"aws:SourceArn": "arn:aws:someservice:*:111122223333:finance/*"}}),
            &[(
                "aws:SourceArn",
                &[
                    "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt",
                ],
            )],
            true,
        ),
        (
            json!({"ArnLike": {"aws:SourceArn": "arn:aws:someservice:*:111122223333:finance/*"}}),
            &[(
                "aws:SourceArn",
                &["arn:aws:someservice:us-east-2:111122223333:finance/a:b"],
            )],
            true,
        ),
        (
            json!({"ArnEquals": {"aws:SourceArn": "arn:aws:sns:*:123456789012:topic"}}),
            &[(
                "aws:SourceArn",
                &["arn:aws:sns:us-east-2:123456789012:topic"],
            )],
            true,
        ),
        (
            json!({"ArnEquals": {"aws:SourceArn": "arn:aws:sns:*:123456789012:topic"}}),
            &[(
                "aws:SourceArn",
                &["arn:aws:sns:us-east-2:123456789012:Topic"],
            )],
            false,
        ),
        (
            json!({"ArnNotEquals": {"aws:SourceArn": "arn:aws:sns:*:123456789012:topic"}}),
            &[(
                "aws:SourceArn",
                &["arn:aws:sns:us-east-2:123456789012:other"],
            )],
            true,
        ),
        (
            json!({"ArnNotLike": {"aws:SourceArn": "arn:aws:sns:*:123456789012:*"}}),
            &[],
            true,
        ),
        (
            json!({"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:123456789012:*"}}),
            &[],
            false,
        ),
        // Null: "true" holds when the key is absent, "false" when present.
        (json!({"Null": {"aws:TokenIssueTime": "true"}}), &[], true),
        (
            json!({"Null": {"aws:TokenIssueTime": "true"}}),
            &[("aws:TokenIssueTime", &["2020-01-01T00:00:00Z"])],
            false,
        ),
        (
            json!({"Null": {"aws:TokenIssueTime": "false"}}),
            &[("aws:TokenIssueTime", &["2020-01-01T00:00:00Z"])],
            true,
        ),
        (json!({"Null": {"aws:TokenIssueTime": false}}), &[], false),
        // ...IfExists: a missing key holds, a present one is checked (the ec2:InstanceType
        // example); negated too.
        (
            json!({"StringLikeIfExists": {"ec2:InstanceType": ["t1.*", "t2.*", "m3.*"]}}),
            &[],
            true,
        ),
        (
            json!({"StringLikeIfExists": {"ec2:InstanceType": ["t1.*", "t2.*", "m3.*"]}}),
            &[("ec2:InstanceType", &["t2.micro"])],
            true,
        ),
        (
            json!({"StringLikeIfExists": {"ec2:InstanceType": ["t1.*", "t2.*", "m3.*"]}}),
            &[("ec2:InstanceType", &["c5.large"])],
            false,
        ),
        (
            json!({"StringNotEqualsIfExists": {"aws:ResourceTag/team": "blue"}}),
            &[],
            true,
        ),
        (
            json!({"NumericLessThanIfExists": {"s3:max-keys": "10"}}),
            &[("s3:max-keys", &["20"])],
            false,
        ),
        (
            json!({"DateLessThanIfExists": {"aws:CurrentTime": "2020-01-01"}}),
            &[],
            true,
        ),
        (
            json!({"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}),
            &[],
            true,
        ),
        (
            json!({"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}),
            &[("aws:MultiFactorAuthPresent", &["true"])],
            false,
        ),
        (
            json!({"IpAddressIfExists": {"aws:SourceIp": "10.0.0.0/8"}}),
            &[],
            true,
        ),
        (
            json!({"ArnLikeIfExists": {"aws:SourceArn": "arn:aws:s3:::b"}}),
            &[],
            true,
        ),
        (json!({"BinaryEqualsIfExists": {"key": "AA=="}}), &[], true),
        // Several values for one key are ORed, several keys and blocks ANDed (the
        // department/role/account example); negated operators with several values
        // match none of them.
        (
            json!({"StringEqualsIgnoreCase": {"aws:PrincipalTag/department": ["finance", "hr", "legal"], "aws:PrincipalTag/role": ["audit", "security"]}, "StringEquals": {"aws:PrincipalAccount": "123456789012"}}),
            &[
                ("aws:PrincipalTag/department", &["HR"]),
                ("aws:PrincipalTag/role", &["audit"]),
                ("aws:PrincipalAccount", &["123456789012"]),
            ],
            true,
        ),
        (
            json!({"StringEqualsIgnoreCase": {"aws:PrincipalTag/department": ["finance", "hr", "legal"], "aws:PrincipalTag/role": ["audit", "security"]}, "StringEquals": {"aws:PrincipalAccount": "123456789012"}}),
            &[
                ("aws:PrincipalTag/department", &["HR"]),
                ("aws:PrincipalAccount", &["123456789012"]),
            ],
            false,
        ),
        (
            json!({"StringEqualsIgnoreCase": {"aws:PrincipalTag/department": ["finance", "hr", "legal"], "aws:PrincipalTag/role": ["audit", "security"]}, "StringEquals": {"aws:PrincipalAccount": "123456789012"}}),
            &[
                ("aws:PrincipalTag/department", &["HR"]),
                ("aws:PrincipalTag/role", &["audit"]),
                ("aws:PrincipalAccount", &["999999999999"]),
            ],
            false,
        ),
        (
            json!({"StringNotEquals": {"aws:PrincipalAccount": ["111111111111", "222222222222"]}}),
            &[("aws:PrincipalAccount", &["222222222222"])],
            false,
        ),
        (
            json!({"StringNotEquals": {"aws:PrincipalAccount": ["111111111111", "222222222222"]}}),
            &[("aws:PrincipalAccount", &["333333333333"])],
            true,
        ),
        // Set operators over multivalued keys (the dynamodb:Attributes examples).
        (
            json!({"ForAllValues:StringEquals": {"dynamodb:Attributes": ["ID", "Message", "Tags"]}}),
            &[("dynamodb:Attributes", &["Message", "Tags"])],
            true,
        ),
        (
            json!({"ForAllValues:StringEquals": {"dynamodb:Attributes": ["ID", "Message", "Tags"]}}),
            &[("dynamodb:Attributes", &["Message", "UserName"])],
            false,
        ),
        (
            json!({"ForAllValues:StringEquals": {"dynamodb:Attributes": ["ID", "Message", "Tags"]}}),
            &[],
            true,
        ),
        (
            json!({"ForAllValues:StringEquals": {"dynamodb:Attributes": ["ID", "Message", "Tags"]}}),
            &[("dynamodb:Attributes", &[""])],
            true,
        ),
        (
            json!({"ForAnyValue:StringEquals": {"dynamodb:Attributes": ["ID", "PostDateTime"]}}),
            &[("dynamodb:Attributes", &["PostDateTime", "Message"])],
            true,
        ),
        (
            json!({"ForAnyValue:StringEquals": {"dynamodb:Attributes": ["ID", "PostDateTime"]}}),
            &[("dynamodb:Attributes", &["UserName"])],
            false,
        ),
        (
            json!({"ForAnyValue:StringEquals": {"dynamodb:Attributes": ["ID", "PostDateTime"]}}),
            &[],
            false,
        ),
        (
            json!({"ForAnyValue:StringEquals": {"dynamodb:Attributes": ["ID", "PostDateTime"]}}),
            &[("dynamodb:Attributes", &[""])],
            false,
        ),
        (
            json!({"ForAllValues:StringLike": {"aws:TagKeys": ["team-*", "env"]}}),
            &[("aws:TagKeys", &["team-a", "env"])],
            true,
        ),
        (
            json!({"ForAllValues:StringNotEquals": {"aws:TagKeys": ["a", "b"]}}),
            &[("aws:TagKeys", &["c", "d"])],
            true,
        ),
        (
            json!({"ForAllValues:StringNotEquals": {"aws:TagKeys": ["a", "b"]}}),
            &[("aws:TagKeys", &["a", "c"])],
            false,
        ),
        (
            json!({"ForAnyValue:StringNotEquals": {"aws:TagKeys": ["a", "b"]}}),
            &[("aws:TagKeys", &["a", "c"])],
            true,
        ),
        (
            json!({"ForAnyValue:StringNotEquals": {"aws:TagKeys": ["a", "b"]}}),
            &[("aws:TagKeys", &["a"])],
            false,
        ),
        (
            json!({"ForAnyValue:StringNotEquals": {"aws:TagKeys": ["a", "b"]}}),
            &[],
            false,
        ),
        (
            json!({"ForAnyValue:StringEqualsIfExists": {"aws:TagKeys": "a"}}),
            &[],
            true,
        ),
        (
            json!({"ForAnyValue:NumericGreaterThan": {"k": "5"}}),
            &[("k", &["1", "9"])],
            true,
        ),
        (
            json!({"ForAllValues:NumericGreaterThan": {"k": "5"}}),
            &[("k", &["1", "9"])],
            false,
        ),
        (
            json!({"ForAnyValue:IpAddress": {"k": "10.0.0.0/8"}}),
            &[("k", &["192.168.0.1", "10.1.1.1"])],
            true,
        ),
        (
            json!({"ForAllValues:ArnLike": {"k": "arn:aws:iam::*:role/*"}}),
            &[("k", &["arn:aws:iam::1:role/a", "arn:aws:iam::1:role/b"])],
            true,
        ),
        // A multivalued key without a set operator: some value matches (negated: none).
        (
            json!({"StringEquals": {"aws:TagKeys": "a"}}),
            &[("aws:TagKeys", &["b", "a"])],
            true,
        ),
        (
            json!({"StringNotEquals": {"aws:TagKeys": "a"}}),
            &[("aws:TagKeys", &["b", "a"])],
            false,
        ),
        // An empty block asks nothing.
        (json!({"StringEquals": {}}), &[], true),
    ];
    for (i, (condition, keys, want)) in cases.iter().enumerate() {
        assert_eq!(
            condition_holds(condition, keys),
            *want,
            "case {i}: {condition} with {keys:?}"
        );
    }
}

// --- Policy variables ---------------------------------------------------------------
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html

#[test]
fn policy_variables() {
    let alice = Context::new().with("aws:username", "alice");
    // The home-directory example: ${aws:username} in the resource.
    let home = identity(json!([{
        "Effect": "Allow", "Action": "s3:*",
        "Resource": ["arn:aws:s3:::bucket-name/home/${aws:username}", "arn:aws:s3:::bucket-name/home/${aws:username}/*"]
    }]));
    assert_eq!(
        verdict_of(
            &home,
            "s3:GetObject",
            "arn:aws:s3:::bucket-name/home/alice/a.txt",
            &alice
        ),
        Verdict::Allow
    );
    assert_eq!(
        verdict_of(
            &home,
            "s3:GetObject",
            "arn:aws:s3:::bucket-name/home/bob/a.txt",
            &alice
        ),
        Verdict::ImplicitDeny
    );
    // "If a variable that has no value ... is used as part of the Resource ... [it]
    // will not match any resource."
    assert_eq!(
        verdict_of(
            &home,
            "s3:GetObject",
            "arn:aws:s3:::bucket-name/home//a.txt",
            &Context::new()
        ),
        Verdict::ImplicitDeny
    );
    assert_eq!(
        verdict_of(
            &home,
            "s3:GetObject",
            "arn:aws:s3:::bucket-name/home/${aws:username}/a",
            &Context::new()
        ),
        Verdict::ImplicitDeny
    );
    // A variable's value is literal, never a wildcard.
    let star = Context::new().with("aws:username", "*");
    assert_eq!(
        verdict_of(
            &home,
            "s3:GetObject",
            "arn:aws:s3:::bucket-name/home/bob/a.txt",
            &star
        ),
        Verdict::ImplicitDeny
    );
    // Variables in condition values (string operators).
    let tag = identity(json!([{
        "Effect": "Allow", "Action": ["ec2:AttachVolume"], "Resource": "arn:aws:ec2:*:*:volume/*",
        "Condition": {"StringEquals": {"ec2:ResourceTag/VolumeUser": "${aws:username}"}}
    }]));
    let vol = "arn:aws:ec2:us-east-1:111122223333:volume/vol-1";
    assert_eq!(
        verdict_of(
            &tag,
            "ec2:AttachVolume",
            vol,
            &alice.clone().with("ec2:ResourceTag/VolumeUser", "alice")
        ),
        Verdict::Allow
    );
    assert_eq!(
        verdict_of(
            &tag,
            "ec2:AttachVolume",
            vol,
            &alice.clone().with("ec2:ResourceTag/VolumeUser", "bob")
        ),
        Verdict::ImplicitDeny
    );
    // Default values: the team-bucket example.
    let team = identity(json!([{
        "Effect": "Allow", "Action": "s3:*",
        "Resource": "arn:aws:s3:::DOC-EXAMPLE-BUCKET-${aws:PrincipalTag/team, 'company-wide'}"
    }]));
    let yellow = Context::new().with("aws:PrincipalTag/team", "yellow");
    assert_eq!(
        verdict_of(
            &team,
            "s3:ListBucket",
            "arn:aws:s3:::DOC-EXAMPLE-BUCKET-yellow",
            &yellow
        ),
        Verdict::Allow
    );
    assert_eq!(
        verdict_of(
            &team,
            "s3:ListBucket",
            "arn:aws:s3:::DOC-EXAMPLE-BUCKET-company-wide",
            &yellow
        ),
        Verdict::ImplicitDeny
    );
    assert_eq!(
        verdict_of(
            &team,
            "s3:ListBucket",
            "arn:aws:s3:::DOC-EXAMPLE-BUCKET-company-wide",
            &Context::new()
        ),
        Verdict::Allow
    );
    // "Inverted condition operators like StringNotEquals ... do match against a null
    // value"; positive ones do not.
    let null = |op: &str| {
        identity(json!([{
            "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
            "Condition": {op: {"aws:PrincipalTag/Team": "${s3:ExistingObjectTag/Team}"}}
        }]))
    };
    let tagged = Context::new().with("aws:PrincipalTag/Team", "blue");
    assert_eq!(
        verdict_of(&null("StringNotEquals"), "s3:GetObject", "x", &tagged),
        Verdict::Allow
    );
    assert_eq!(
        verdict_of(&null("StringEquals"), "s3:GetObject", "x", &tagged),
        Verdict::ImplicitDeny
    );
    assert_eq!(
        verdict_of(&null("StringLike"), "s3:GetObject", "x", &tagged),
        Verdict::ImplicitDeny
    );
    // ${aws:userid} and ARN operators take variables too.
    let arn = identity(json!([{
        "Effect": "Allow", "Action": "sqs:*", "Resource": "*",
        "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:${aws:PrincipalAccount}:${aws:userid}-*"}}
    }]));
    let ctx = Context::new()
        .with("aws:PrincipalAccount", ACCT)
        .with("aws:userid", "AIDAEXAMPLE")
        .with(
            "aws:SourceArn",
            "arn:aws:sns:us-east-1:111122223333:AIDAEXAMPLE-topic",
        );
    assert_eq!(
        verdict_of(&arn, "sqs:SendMessage", "q", &ctx),
        Verdict::Allow
    );
    // The escapes ${*}, ${?}, ${$} stand for the characters themselves.
    let esc = identity(
        json!([{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/a${*}b${?}${$}"}]),
    );
    assert_eq!(
        verdict_of(
            &esc,
            "s3:GetObject",
            "arn:aws:s3:::b/a*b?$",
            &Context::new()
        ),
        Verdict::Allow
    );
    assert_eq!(
        verdict_of(
            &esc,
            "s3:GetObject",
            "arn:aws:s3:::b/axxbx$",
            &Context::new()
        ),
        Verdict::ImplicitDeny
    );
    // Without Version 2012-10-17 variables are literal text (resource policies may be
    // 2008-10-17).
    let old = doc(
        PolicyKind::Resource,
        json!({"Version": "2008-10-17", "Statement": [{
            "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/${aws:username}"
        }]}),
    );
    let p = user(ACCT, "alice");
    let mut set = PolicySet::new(ACCT);
    set.resource = Some(("bucket", &old));
    let req = |resource| Request {
        principal: &p,
        action: "s3:GetObject",
        resource,
        context: &alice,
    };
    assert!(authorize(&req("arn:aws:s3:::b/${aws:username}"), &set).is_ok());
    assert!(authorize(&req("arn:aws:s3:::b/alice"), &set).is_err());
    // Actions take no variables.
    let act = identity(json!([{"Effect": "Allow", "Action": "s3:Get${thing}", "Resource": "*"}]));
    let thing = Context::new().with("thing", "Object");
    assert_eq!(
        verdict_of(&act, "s3:GetObject", "*", &thing),
        Verdict::ImplicitDeny
    );
    assert_eq!(
        verdict_of(&act, "s3:Get${thing}", "*", &thing),
        Verdict::Allow
    );
}

// --- Actions, resources, NotAction, NotResource ---------------------------------------
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notaction.html
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notresource.html

#[test]
fn actions_and_resources() {
    let ctx = Context::new();
    let p = identity(
        json!([{"Effect": "Allow", "Action": ["IAM:Get*", "iam:List*"], "Resource": "*"},
                             {"Effect": "Deny", "Action": "iam:*Report", "Resource": "*"}]),
    );
    assert_eq!(verdict_of(&p, "iam:GetUser", "*", &ctx), Verdict::Allow);
    assert_eq!(verdict_of(&p, "IAM:listusers", "*", &ctx), Verdict::Allow);
    assert_eq!(
        verdict_of(&p, "iam:CreatePolicy", "*", &ctx),
        Verdict::ImplicitDeny
    );
    assert_eq!(
        verdict_of(&p, "iam:GetOrganizationsAccessReport", "*", &ctx),
        Verdict::ExplicitDeny
    );
    let q = identity(
        json!([{"Effect": "Allow", "Action": "s3:Get?bject", "Resource": "arn:aws:s3:::b/*"}]),
    );
    assert_eq!(
        verdict_of(&q, "s3:GetObject", "arn:aws:s3:::b/x", &ctx),
        Verdict::Allow
    );
    assert_eq!(
        verdict_of(&q, "s3:GetObjectAcl", "arn:aws:s3:::b/x", &ctx),
        Verdict::ImplicitDeny
    );
    // "DOC-EXAMPLE-BUCKET/*/test/*" matches across slashes, and ARNs are case-sensitive.
    let r = identity(
        json!([{"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::DOC-EXAMPLE-BUCKET/*/test/*"}]),
    );
    for ok in [
        "1/test/object.jpg",
        "1/2/test/3/object.jpg",
        "1///test///object.jpg",
        "1/test/",
        "/test/object.jpg",
    ] {
        assert_eq!(
            verdict_of(
                &r,
                "s3:GetObject",
                &format!("arn:aws:s3:::DOC-EXAMPLE-BUCKET/{ok}"),
                &ctx
            ),
            Verdict::Allow,
            "{ok}"
        );
    }
    for no in ["1-test/object.jpg", "test/object.jpg", "1/2/test.jpg"] {
        assert_eq!(
            verdict_of(
                &r,
                "s3:GetObject",
                &format!("arn:aws:s3:::DOC-EXAMPLE-BUCKET/{no}"),
                &ctx
            ),
            Verdict::ImplicitDeny,
            "{no}"
        );
    }
    assert_eq!(
        verdict_of(
            &r,
            "s3:GetObject",
            "arn:aws:s3:::doc-example-bucket/1/test/x",
            &ctx
        ),
        Verdict::ImplicitDeny
    );
    // Wildcards stay within an ARN segment.
    let seg = identity(
        json!([{"Effect": "Allow", "Action": "sqs:*", "Resource": "arn:aws:sqs:us-east-*:111122223333:*"}]),
    );
    assert_eq!(
        verdict_of(
            &seg,
            "sqs:SendMessage",
            "arn:aws:sqs:us-east-2:111122223333:q",
            &ctx
        ),
        Verdict::Allow
    );
    assert_eq!(
        verdict_of(
            &seg,
            "sqs:SendMessage",
            "arn:aws:sqs:us-east-2:999:111122223333:q",
            &ctx
        ),
        Verdict::ImplicitDeny
    );
    // NotAction with Allow: everything but IAM.
    let na = identity(json!([{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]));
    assert_eq!(verdict_of(&na, "s3:ListBucket", "*", &ctx), Verdict::Allow);
    assert_eq!(
        verdict_of(&na, "iam:CreateUser", "*", &ctx),
        Verdict::ImplicitDeny
    );
    // NotResource with Deny: the HR payroll example.
    let nr = identity(json!([
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "s3:*", "NotResource": ["arn:aws:s3:::HRBucket/Payroll", "arn:aws:s3:::HRBucket/Payroll/*"]}
    ]));
    assert_eq!(
        verdict_of(
            &nr,
            "s3:GetObject",
            "arn:aws:s3:::HRBucket/Payroll/jan.csv",
            &ctx
        ),
        Verdict::Allow
    );
    assert_eq!(
        verdict_of(&nr, "s3:GetObject", "arn:aws:s3:::HRBucket/Other/x", &ctx),
        Verdict::ExplicitDeny
    );
}

// --- Evaluation logic ------------------------------------------------------------------
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
// https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html

struct Case<'a> {
    principal: Principal,
    identity: Vec<&'a Document>,
    resource: Option<&'a Document>,
    boundary: Option<&'a Document>,
    session: Vec<&'a Document>,
    resource_account: Option<&'a str>,
    source: Option<&'a str>,
}

impl<'a> Case<'a> {
    fn new(principal: Principal) -> Self {
        Case {
            principal,
            identity: Vec::new(),
            resource: None,
            boundary: None,
            session: Vec::new(),
            resource_account: None,
            source: None,
        }
    }

    fn run(&self, action: &str, resource: &str) -> Result<(), DenyReason> {
        let account = match &self.principal {
            Principal::Aws { account, .. } => account.as_str(),
            Principal::Service(_) => "",
        };
        let mut set = PolicySet::new(account);
        set.identity = self.identity.iter().map(|d| ("id", *d)).collect();
        set.resource = self.resource.map(|d| ("res", d));
        set.boundary = self.boundary.map(|d| ("bnd", d));
        set.session = self.session.iter().map(|d| ("ses", *d)).collect();
        set.resource_account = self.resource_account;
        set.is_root =
            matches!(&self.principal, Principal::Aws { arn, .. } if arn.ends_with(":root"));
        set.session_source = self.source;
        let ctx = Context::new();
        let req = Request {
            principal: &self.principal,
            action,
            resource,
            context: &ctx,
        };
        let quick = authorize(&req, &set);
        let full = engine::evaluate(&req, &set);
        assert_eq!(quick, full.denied_by.map_or(Ok(()), Err));
        quick
    }
}

const BUCKET: &str = "arn:aws:s3:::amzn-s3-demo-bucket";
const OBJECT: &str = "arn:aws:s3:::amzn-s3-demo-bucket/key";

fn bucket_policy_for(principal: Value) -> Document {
    resource_policy(
        json!([{"Effect": "Allow", "Principal": principal, "Action": "s3:GetObject", "Resource": format!("{BUCKET}/*")}]),
    )
}

#[test]
fn same_account() {
    use DenyReason::*;
    let alice = user(ACCT, "alice");
    let allow = allow_all();
    let s3_only = identity(json!([{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]));
    let nothing = identity(json!([{"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}]));
    let names_alice = bucket_policy_for(json!({"AWS": format!("arn:aws:iam::{ACCT}:user/alice")}));
    let names_account = bucket_policy_for(json!({"AWS": ACCT}));
    let names_everyone = bucket_policy_for(json!("*"));

    // Identity policies alone; an implicit deny otherwise.
    let mut c = Case::new(alice.clone());
    assert_eq!(c.run("s3:GetObject", OBJECT), Err(NoIdentityAllow));
    c.identity = vec![&s3_only];
    assert_eq!(c.run("s3:GetObject", OBJECT), Ok(()));
    // "If either the identity-based policy or the resource-based policy within the same
    // account allows the request and the other doesn't, the request is still allowed."
    let mut c = Case::new(alice.clone());
    c.resource = Some(&names_alice);
    assert_eq!(c.run("s3:GetObject", OBJECT), Ok(()));
    assert_eq!(c.run("s3:PutObject", OBJECT), Err(NoIdentityAllow));
    // "*" grants on its own too.
    c.resource = Some(&names_everyone);
    assert_eq!(c.run("s3:GetObject", OBJECT), Ok(()));
    // Naming the account delegates to the account's policies.
    c.resource = Some(&names_account);
    assert_eq!(c.run("s3:GetObject", OBJECT), Err(NoIdentityAllow));
    c.identity = vec![&s3_only];
    assert_eq!(c.run("s3:GetObject", OBJECT), Ok(()));

    // Permissions boundary: the intersection with identity policies...
    let mut c = Case::new(alice.clone());
    c.identity = vec![&allow];
    c.boundary = Some(&s3_only);
    assert_eq!(c.run("s3:GetObject", OBJECT), Ok(()));
    assert_eq!(c.run("iam:CreateUser", "*"), Err(BoundaryImplicit));
    c.boundary = Some(&nothing);
    assert_eq!(c.run("s3:GetObject", OBJECT), Err(BoundaryImplicit));
    // ...but "resource-based policies that grant permissions to an IAM user ARN ... are
    // not limited by an implicit deny in an identity-based policy or permissions
    // boundary".
    c.identity = vec![];
    c.resource = Some(&names_alice);
    assert_eq!(c.run("s3:GetObject", OBJECT), Ok(()));
    c.resource = Some(&names_account);
    assert_eq!(c.run("s3:GetObject", OBJECT), Err(NoIdentityAllow));

    // The Carlos example: his identity policy denies *log* buckets; the bucket policy
    // of his own bucket names him.
    let carlos_policy = identity(json!([
        {"Sid": "AllowS3ListRead", "Effect": "Allow", "Action": ["s3:GetBucketLocation", "s3:ListAllMyBuckets"], "Resource": "arn:aws:s3:::*"},
        {"Sid": "AllowS3Self", "Effect": "Allow", "Action": "s3:*", "Resource": ["arn:aws:s3:::carlossalazar/*", "arn:aws:s3:::carlossalazar"]},
        {"Sid": "DenyS3Logs", "Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::*log*"}
    ]));
    let carlos_bucket = resource_policy(
        json!([{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:user/carlossalazar"},
        "Action": "s3:*", "Resource": ["arn:aws:s3:::carlossalazar/*", "arn:aws:s3:::carlossalazar"]}]),
    );
    let mut c = Case::new(user("123456789012", "carlossalazar"));
    c.identity = vec![&carlos_policy];
    assert_eq!(
        c.run("s3:PutObject", "arn:aws:s3:::carlossalazar-logs"),
        Err(IdentityExplicit)
    );
    c.resource = Some(&carlos_bucket);
    assert_eq!(
        c.run("s3:PutObject", "arn:aws:s3:::carlossalazar/file"),
        Ok(())
    );

    // An explicit deny anywhere wins, whoever allows.
    let deny_get = resource_policy(json!([
        {"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"},
        {"Effect": "Deny", "Principal": {"AWS": ACCT}, "Action": "s3:GetObject", "Resource": "*"}
    ]));
    let mut c = Case::new(alice.clone());
    c.identity = vec![&allow];
    c.resource = Some(&deny_get);
    assert_eq!(c.run("s3:GetObject", OBJECT), Err(ResourceExplicit));
    assert_eq!(c.run("s3:PutObject", OBJECT), Ok(()));
    let deny_all = identity(json!([{"Effect": "Deny", "Action": "*", "Resource": "*"}]));
    c.boundary = Some(&deny_all);
    assert_eq!(c.run("s3:PutObject", OBJECT), Err(BoundaryExplicit));
}

#[test]
fn role_sessions_and_session_policies() {
    use DenyReason::*;
    let s = session(ACCT, "Admin", "s1");
    let allow = allow_all();
    let s3_only = identity(json!([{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]));
    let nothing = identity(json!([{"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}]));
    let names_role =
        bucket_policy_for(json!({"AWS": format!("arn:aws:iam::{ACCT}:role/admins/Admin")}));
    let names_session =
        bucket_policy_for(json!({"AWS": format!("arn:aws:sts::{ACCT}:assumed-role/Admin/s1")}));
    let names_other_session =
        bucket_policy_for(json!({"AWS": format!("arn:aws:sts::{ACCT}:assumed-role/Admin/s2")}));

    // "The resulting session's permissions are the intersection of the role's
    // identity-based policy and the session policies."
    let mut c = Case::new(s.clone());
    c.identity = vec![&allow];
    assert_eq!(c.run("iam:CreateUser", "*"), Ok(()));
    c.session = vec![&s3_only];
    assert_eq!(c.run("s3:GetObject", OBJECT), Ok(()));
    assert_eq!(c.run("iam:CreateUser", "*"), Err(SessionImplicit));
    c.identity = vec![&nothing];
    assert_eq!(c.run("s3:GetObject", OBJECT), Err(NoIdentityAllow));

    // A resource policy naming the role is limited by boundary and session policies;
    // naming the session is not.
    let mut c = Case::new(s.clone());
    c.resource = Some(&names_role);
    assert_eq!(c.run("s3:GetObject", OBJECT), Ok(()));
    c.session = vec![&nothing];
    assert_eq!(c.run("s3:GetObject", OBJECT), Err(SessionImplicit));
    c.session = vec![];
    c.boundary = Some(&nothing);
    assert_eq!(c.run("s3:GetObject", OBJECT), Err(BoundaryImplicit));
    c.session = vec![&nothing];
    c.resource = Some(&names_session);
    assert_eq!(c.run("s3:GetObject", OBJECT), Ok(()));
    c.resource = Some(&names_other_session);
    assert_eq!(c.run("s3:GetObject", OBJECT), Err(NoIdentityAllow));
    // A role of the same name in another account is another role.
    let foreign_role =
        bucket_policy_for(json!({"AWS": format!("arn:aws:iam::{OTHER}:role/Admin")}));
    let mut c = Case::new(s.clone());
    c.resource = Some(&foreign_role);
    assert_eq!(c.run("s3:GetObject", OBJECT), Err(NoIdentityAllow));
    // An explicit deny in a session policy.
    let deny = identity(json!([{"Effect": "Deny", "Action": "s3:*", "Resource": "*"}]));
    let mut c = Case::new(s.clone());
    c.identity = vec![&allow];
    c.session = vec![&allow, &deny];
    assert_eq!(c.run("s3:GetObject", OBJECT), Err(SessionExplicit));
}

#[test]
fn federated_user_sessions() {
    use DenyReason::*;
    // GetFederationToken: "if you do not pass any session policies, then the resulting
    // federated user session has no permissions"; a resource policy naming the
    // federated user grants directly; one naming the IAM user who federated is limited
    // by the session policy.
    let fed = Principal::Aws {
        account: ACCT.into(),
        arn: format!("arn:aws:sts::{ACCT}:federated-user/bob"),
    };
    let alice_arn = format!("arn:aws:iam::{ACCT}:user/alice");
    let allow = allow_all();
    let s3_only = identity(json!([{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]));
    let names_fed =
        bucket_policy_for(json!({"AWS": format!("arn:aws:sts::{ACCT}:federated-user/bob")}));
    let names_alice = bucket_policy_for(json!({"AWS": alice_arn.clone()}));
    let mut c = Case::new(fed);
    c.source = Some(&alice_arn);
    c.identity = vec![&allow];
    assert_eq!(c.run("s3:GetObject", OBJECT), Err(SessionImplicit));
    c.session = vec![&s3_only];
    assert_eq!(c.run("s3:GetObject", OBJECT), Ok(()));
    assert_eq!(c.run("sqs:SendMessage", "*"), Err(SessionImplicit));
    c.identity = vec![];
    c.session = vec![];
    c.resource = Some(&names_fed);
    assert_eq!(c.run("s3:GetObject", OBJECT), Ok(()));
    c.resource = Some(&names_alice);
    assert_eq!(c.run("s3:GetObject", OBJECT), Err(SessionImplicit));
    c.session = vec![&s3_only];
    assert_eq!(c.run("s3:GetObject", OBJECT), Ok(()));
}

// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html
#[test]
fn cross_account() {
    use DenyReason::*;
    // The Production bucket example: Carlos in 111111111111, the bucket in 222222222222.
    let carlos_policy = identity(json!([
        {"Sid": "AllowS3ListRead", "Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"},
        {"Sid": "AllowS3ProductionObjectActions", "Effect": "Allow", "Action": "s3:*Object*", "Resource": "arn:aws:s3:::Production/*"},
        {"Sid": "DenyS3Logs", "Effect": "Deny", "Action": "s3:*", "Resource": ["arn:aws:s3:::*log*", "arn:aws:s3:::*log*/*"]}
    ]));
    let production = resource_policy(json!([{"Effect": "Allow",
        "Action": ["s3:GetObject*", "s3:PutObject*", "s3:ReplicateObject", "s3:RestoreObject"],
        "Principal": {"AWS": "arn:aws:iam::111111111111:user/carlossalazar"},
        "Resource": "arn:aws:s3:::Production/*"}]));
    let mut c = Case::new(user("111111111111", "carlossalazar"));
    c.identity = vec![&carlos_policy];
    c.resource_account = Some("222222222222");
    assert_eq!(
        c.run("s3:PutObject", "arn:aws:s3:::Production-logs/file"),
        Err(IdentityExplicit)
    );
    c.resource = Some(&production);
    assert_eq!(
        c.run("s3:PutObject", "arn:aws:s3:::Production/file"),
        Ok(())
    );
    // "He can create and edit, but not delete the objects in the bucket."
    assert_eq!(
        c.run("s3:DeleteObject", "arn:aws:s3:::Production/file"),
        Err(NoResourceAllow)
    );
    // Both sides must allow.
    c.identity = vec![];
    assert_eq!(
        c.run("s3:PutObject", "arn:aws:s3:::Production/file"),
        Err(NoIdentityAllow)
    );
    // Naming the account works across accounts (its admin delegates through identity
    // policies); naming everyone too; a boundary still limits the principal's side.
    let to_account = bucket_policy_for(json!({"AWS": format!("arn:aws:iam::{OTHER}:root")}));
    let allow = allow_all();
    let nothing = identity(json!([{"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}]));
    let mut c = Case::new(user(OTHER, "dev"));
    c.identity = vec![&allow];
    c.resource_account = Some(ACCT);
    assert_eq!(c.run("s3:GetObject", OBJECT), Err(NoResourceAllow));
    c.resource = Some(&to_account);
    assert_eq!(c.run("s3:GetObject", OBJECT), Ok(()));
    c.boundary = Some(&nothing);
    assert_eq!(c.run("s3:GetObject", OBJECT), Err(BoundaryImplicit));
    let everyone = bucket_policy_for(json!({"AWS": "*"}));
    c.boundary = None;
    c.resource = Some(&everyone);
    assert_eq!(c.run("s3:GetObject", OBJECT), Ok(()));
    // An account's root: no identity policy needed at home, a resource policy abroad.
    let mut c = Case::new(root(OTHER));
    assert_eq!(c.run("s3:GetObject", OBJECT), Ok(()));
    c.resource_account = Some(ACCT);
    assert_eq!(c.run("s3:GetObject", OBJECT), Err(NoResourceAllow));
    c.resource = Some(&to_account);
    assert_eq!(c.run("s3:GetObject", OBJECT), Ok(()));
    // The root user is still refused by an explicit deny in a resource policy.
    let deny = resource_policy(
        json!([{"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"}]),
    );
    let mut c = Case::new(root(ACCT));
    c.resource = Some(&deny);
    assert_eq!(c.run("s3:GetObject", OBJECT), Err(ResourceExplicit));
}

// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html
#[test]
fn services_anonymous_and_providers() {
    use DenyReason::*;
    let topic = "arn:aws:sns:us-east-1:111122223333:t";
    let svc = resource_policy(
        json!([{"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sns:Publish", "Resource": topic,
        "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:s3:*:*:photos"}}}]),
    );
    let s3 = Principal::Service("s3.amazonaws.com".into());
    let mut set = PolicySet::new(ACCT);
    set.resource = Some(("topic", &svc));
    let ctx = Context::new().with("aws:SourceArn", "arn:aws:s3:::photos");
    let req = Request {
        principal: &s3,
        action: "sns:Publish",
        resource: topic,
        context: &ctx,
    };
    assert_eq!(authorize(&req, &set), Ok(()));
    let other = Context::new().with("aws:SourceArn", "arn:aws:s3:::other");
    assert_eq!(
        authorize(
            &Request {
                context: &other,
                ..req
            },
            &set
        ),
        Err(NoResourceAllow)
    );
    // A service has no identity policies: none can let it in.
    let allow = allow_all();
    let mut set = PolicySet::new(ACCT);
    set.identity.push(("p", &allow));
    assert_eq!(authorize(&req, &set), Err(NoResourceAllow));
    // Anonymous callers: only "*" names them.
    let anon = Principal::anonymous();
    let public = bucket_policy_for(json!("*"));
    let aws_any = bucket_policy_for(json!({"AWS": "*"}));
    let account = bucket_policy_for(json!({"AWS": ACCT}));
    for (policy, want) in [
        (&public, Ok(())),
        (&aws_any, Ok(())),
        (&account, Err(NoResourceAllow)),
    ] {
        let mut set = PolicySet::new("");
        set.resource = Some(("b", policy));
        set.resource_account = Some(ACCT);
        let req = Request {
            principal: &anon,
            action: "s3:GetObject",
            resource: OBJECT,
            context: &ctx,
        };
        assert_eq!(authorize(&req, &set), want);
    }
    // A service is not "AWS": {"AWS": "*"} leaves it out.
    let mut set = PolicySet::new(ACCT);
    set.resource = Some(("b", &aws_any));
    let req = Request {
        principal: &s3,
        action: "s3:GetObject",
        resource: OBJECT,
        context: &ctx,
    };
    assert_eq!(authorize(&req, &set), Err(NoResourceAllow));
}

// Role trust policies "must explicitly allow access for principals".
// https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_compare-resource-policies.html
#[test]
fn trust_policies() {
    use DenyReason::*;
    let role = "arn:aws:iam::111122223333:role/Deploy";
    let trust = |principal: Value| {
        doc(
            PolicyKind::Trust,
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}]}),
        )
    };
    let assume =
        identity(json!([{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]));
    let run = |p: &Principal, trust: &Document, id: Option<&Document>, resource_account: &str| {
        let account = match p {
            Principal::Aws { account, .. } => account.clone(),
            Principal::Service(_) => String::new(),
        };
        let mut set = PolicySet::new(&account);
        set.resource = Some(("trust", trust));
        set.identity = id.map(|d| ("p", d)).into_iter().collect();
        set.resource_account = Some(resource_account);
        let ctx = Context::new();
        authorize(
            &Request {
                principal: p,
                action: "sts:AssumeRole",
                resource: role,
                context: &ctx,
            },
            &set,
        )
    };
    let alice = user(ACCT, "alice");
    let names_alice = trust(json!({"AWS": format!("arn:aws:iam::{ACCT}:user/alice")}));
    let names_account = trust(json!({"AWS": ACCT}));
    let names_other = trust(json!({"AWS": OTHER}));
    assert_eq!(run(&alice, &names_alice, None, ACCT), Ok(()));
    assert_eq!(
        run(&alice, &names_account, None, ACCT),
        Err(NoIdentityAllow)
    );
    assert_eq!(run(&alice, &names_account, Some(&assume), ACCT), Ok(()));
    // Identity permission alone is not enough: the trust policy must allow.
    assert_eq!(
        run(&alice, &names_other, Some(&assume), ACCT),
        Err(NoResourceAllow)
    );
    let bob = user(OTHER, "bob");
    assert_eq!(run(&bob, &names_other, None, ACCT), Err(NoIdentityAllow));
    assert_eq!(run(&bob, &names_other, Some(&assume), ACCT), Ok(()));
    // Web identity federation: the provider is the principal, its claims are keys.
    let web = doc(
        PolicyKind::Trust,
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"Federated": "accounts.google.com"}, "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {"accounts.google.com:aud": "my-app"}}}]}),
    );
    let google = Principal::federated("accounts.google.com");
    let mut set = PolicySet::new("");
    set.resource = Some(("trust", &web));
    set.resource_account = Some(ACCT);
    let ctx = Context::new().with("accounts.google.com:aud", "my-app");
    let req = Request {
        principal: &google,
        action: "sts:AssumeRoleWithWebIdentity",
        resource: role,
        context: &ctx,
    };
    assert_eq!(authorize(&req, &set), Ok(()));
    let wrong = Context::new().with("accounts.google.com:aud", "other-app");
    assert_eq!(
        authorize(
            &Request {
                context: &wrong,
                ..req
            },
            &set
        ),
        Err(NoResourceAllow)
    );
    let facebook = Principal::federated("graph.facebook.com");
    assert_eq!(
        authorize(
            &Request {
                principal: &facebook,
                ..req
            },
            &set
        ),
        Err(NoResourceAllow)
    );
}

// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notprincipal.html
#[test]
fn not_principal() {
    use DenyReason::*;
    let bob_arn = format!("arn:aws:iam::{OTHER}:user/Bob");
    let policy = resource_policy(json!([
        {"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"},
        {"Effect": "Deny", "NotPrincipal": {"AWS": [bob_arn, format!("arn:aws:iam::{OTHER}:root")]}, "Action": "s3:*", "Resource": [BUCKET, format!("{BUCKET}/*")]}
    ]));
    let allow = allow_all();
    let run = |p: Principal, boundary: Option<&Document>| {
        let mut c = Case::new(p);
        c.identity = vec![&allow];
        c.resource = Some(&policy);
        c.boundary = boundary;
        c.resource_account = Some(ACCT);
        c.run("s3:GetObject", OBJECT)
    };
    assert_eq!(run(user(OTHER, "Bob"), None), Ok(()));
    assert_eq!(run(user(OTHER, "Alice"), None), Err(ResourceExplicit));
    assert_eq!(
        run(user("999999999999", "Bob"), None),
        Err(ResourceExplicit)
    );
    // "The NotPrincipal element with a Deny effect will always deny any IAM principal
    // that has a permissions boundary policy attached."
    assert_eq!(run(user(OTHER, "Bob"), Some(&allow)), Err(ResourceExplicit));
    // A session is spared only when the session, its role and its account are listed.
    let audit = resource_policy(json!([
        {"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"},
        {"Effect": "Deny", "NotPrincipal": {"AWS": [
            format!("arn:aws:sts::{OTHER}:assumed-role/cross-account-read-only-role/cross-account-audit-app"),
            format!("arn:aws:iam::{OTHER}:role/cross-account-read-only-role"),
            format!("arn:aws:iam::{OTHER}:root")]}, "Action": "s3:*", "Resource": "*"}
    ]));
    let no_role = resource_policy(json!([
        {"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"},
        {"Effect": "Deny", "NotPrincipal": {"AWS": [
            format!("arn:aws:sts::{OTHER}:assumed-role/cross-account-read-only-role/cross-account-audit-app"),
            format!("arn:aws:iam::{OTHER}:root")]}, "Action": "s3:*", "Resource": "*"}
    ]));
    let app = session(
        OTHER,
        "cross-account-read-only-role",
        "cross-account-audit-app",
    );
    for (policy, want) in [(&audit, Ok(())), (&no_role, Err(ResourceExplicit))] {
        let mut c = Case::new(app.clone());
        c.identity = vec![&allow];
        c.resource = Some(policy);
        c.resource_account = Some(ACCT);
        assert_eq!(c.run("s3:GetObject", OBJECT), want);
    }
}

// --- What the policy simulator reports --------------------------------------------------
// https://docs.aws.amazon.com/IAM/latest/APIReference/API_SimulatePrincipalPolicy.html

#[test]
fn matched_statements_and_missing_keys() {
    let text = "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\"Sid\": \"Read\", \"Effect\": \"Allow\", \"Action\": \"s3:Get*\", \"Resource\": \"*\"},\n    {\"Effect\": \"Deny\", \"Action\": \"s3:GetObject\", \"Resource\": \"*\",\n     \"Condition\": {\"BoolIfExists\": {\"aws:MultiFactorAuthPresent\": \"false\"}}}\n  ]\n}";
    let policy = Document::parse(text, PolicyKind::Identity).unwrap();
    let p = user(ACCT, "alice");
    let mut set = PolicySet::new(ACCT);
    set.identity
        .push(("arn:aws:iam::111122223333:policy/read", &policy));
    let mfa = Context::new().with("aws:MultiFactorAuthPresent", "true");
    let req = Request {
        principal: &p,
        action: "s3:GetObject",
        resource: OBJECT,
        context: &mfa,
    };
    let e = engine::evaluate(&req, &set);
    assert_eq!(e.verdict, Verdict::Allow);
    assert_eq!(e.matched.len(), 1);
    let m = &e.matched[0];
    assert_eq!(
        (m.source, m.source_id, m.sid, m.index, m.effect),
        (
            Source::Identity,
            "arn:aws:iam::111122223333:policy/read",
            Some("Read"),
            0,
            Effect::Allow
        )
    );
    assert_eq!(m.start, Some(Position { line: 4, column: 6 }));
    assert_eq!(
        m.end,
        Some(Position {
            line: 4,
            column: 77
        })
    );
    assert!(e.missing_context_keys.is_empty());
    let e = engine::evaluate(
        &Request {
            context: &Context::new(),
            ..req
        },
        &set,
    );
    assert_eq!(e.verdict, Verdict::ExplicitDeny);
    assert_eq!(e.denied_by, Some(DenyReason::IdentityExplicit));
    assert_eq!(e.matched.len(), 2);
    assert_eq!(e.missing_context_keys, ["aws:MultiFactorAuthPresent"]);
    // Statements that do not apply to the action report nothing.
    let e = engine::evaluate(
        &Request {
            action: "s3:PutObject",
            ..req
        },
        &set,
    );
    assert_eq!(e.verdict, Verdict::ImplicitDeny);
    assert!(e.matched.is_empty() && e.missing_context_keys.is_empty());
    assert_eq!(
        DenyReason::NoIdentityAllow.phrase("s3:PutObject"),
        "because no identity-based policy allows the s3:PutObject action"
    );
    assert_eq!(
        DenyReason::ResourceExplicit.phrase("s3:PutObject"),
        "with an explicit deny in a resource-based policy"
    );
}

// --- Document validation ----------------------------------------------------------------
// IAM's answers to CreatePolicy, recorded against AWS in moto's test_iam_policies.py.

#[test]
fn malformed_identity_policies() {
    let stmt = |extra: Value| {
        let mut s = json!({"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::example_bucket"});
        for (k, v) in extra.as_object().unwrap() {
            if v.is_null() {
                s.as_object_mut().unwrap().remove(k);
            } else {
                s[k] = v.clone();
            }
        }
        s
    };
    let v12 =
        |statement: Value| json!({"Version": "2012-10-17", "Statement": statement}).to_string();
    let cases: Vec<(String, &str)> = vec![
        (
            "This is not a json document".into(),
            "Syntax errors in policy.",
        ),
        (
            json!({"Statement": stmt(json!({}))}).to_string(),
            "Policy document must be version 2012-10-17 or greater.",
        ),
        (
            json!({"Version": "2008-10-17", "Statement": stmt(json!({}))}).to_string(),
            "Policy document must be version 2012-10-17 or greater.",
        ),
        (
            json!({"Version": "2013-10-17", "Statement": stmt(json!({}))}).to_string(),
            "Syntax errors in policy.",
        ),
        (
            json!({"Version": "2012-10-17"}).to_string(),
            "Syntax errors in policy.",
        ),
        (
            json!({"Version": "2012-10-17", "Statement": ["afd"]}).to_string(),
            "Syntax errors in policy.",
        ),
        (
            json!({"Version": "2012-10-17", "Statement": []}).to_string(),
            "Syntax errors in policy.",
        ),
        (
            json!({"Version": "2012-10-17", "Statement": stmt(json!({})), "Extra field": "value"})
                .to_string(),
            "Syntax errors in policy.",
        ),
        (
            v12(stmt(json!({"Extra field": "value"}))),
            "Syntax errors in policy.",
        ),
        (
            json!({"Version": "2012-10-17", "Id": ["x"], "Statement": stmt(json!({}))}).to_string(),
            "Syntax errors in policy.",
        ),
        (
            v12(stmt(json!({"Effect": "invalid"}))),
            "Syntax errors in policy.",
        ),
        (
            v12(stmt(json!({"Effect": null}))),
            "Syntax errors in policy.",
        ),
        (
            v12(stmt(
                json!({"Resource": {"a": "arn:aws:s3:::example_bucket"}}),
            )),
            "Syntax errors in policy.",
        ),
        (
            v12(stmt(json!({"Resource": ["adfdf", {}]}))),
            "Syntax errors in policy.",
        ),
        (
            v12(stmt(
                json!({"Action": null, "NotAction": "s3:ListBucket", "NotResource": []}),
            )),
            "Syntax errors in policy.",
        ),
        (
            v12(stmt(json!({"Action": [[]]}))),
            "Syntax errors in policy.",
        ),
        (
            v12(stmt(json!({"NotAction": "s3s:ListBucket", "Action": []}))),
            "Syntax errors in policy.",
        ),
        (v12(stmt(json!({"Action": {}}))), "Syntax errors in policy."),
        (
            v12(stmt(json!({"Condition": []}))),
            "Syntax errors in policy.",
        ),
        (
            v12(stmt(json!({"Condition": "a"}))),
            "Syntax errors in policy.",
        ),
        (
            v12(stmt(json!({"Condition": {"a": "b"}}))),
            "Syntax errors in policy.",
        ),
        (
            v12(stmt(json!({"Condition": {"DateGreaterThan": "b"}}))),
            "Syntax errors in policy.",
        ),
        (
            v12(stmt(json!({"Condition": {"DateGreaterThan": []}}))),
            "Syntax errors in policy.",
        ),
        (
            v12(stmt(json!({"Condition": {"DateGreaterThan": {"a": {}}}}))),
            "Syntax errors in policy.",
        ),
        (
            v12(stmt(json!({"Condition": {"x": {"a": "1"}}}))),
            "Syntax errors in policy.",
        ),
        (
            v12(stmt(
                json!({"Condition": {"ForAnyValue::StringEqualsIfExists": {"a": "asf"}}}),
            )),
            "Syntax errors in policy.",
        ),
        (v12(stmt(json!({"Sid": {}}))), "Syntax errors in policy."),
        (v12(stmt(json!({"Sid": []}))), "Syntax errors in policy."),
        (
            v12(stmt(json!({"NotResource": "*"}))),
            "Syntax errors in policy.",
        ),
        (
            v12(stmt(json!({"Action": "invalid"}))),
            "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
        ),
        (
            v12(stmt(json!({"Action": null, "NotAction": ""}))),
            "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
        ),
        (
            v12(json!({"Effect": "Allow", "Action": "invalid"})),
            "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
        ),
        (
            v12(stmt(json!({"Action": "a a:ListBucket"}))),
            "Vendor a a is not valid",
        ),
        (
            v12(stmt(json!({"Action": "s3:List:Bucket"}))),
            "Actions/Condition can contain only one colon.",
        ),
        (
            v12(json!([
                stmt(json!({"Action": "s3s:ListBucket"})),
                stmt(json!({"Action": "s:3s:ListBucket"}))
            ])),
            "Actions/Condition can contain only one colon.",
        ),
        (
            v12(stmt(json!({"Resource": "invalid resource"}))),
            "Resource invalid resource must be in ARN format or \"*\".",
        ),
        (
            v12(stmt(json!({"Resource": ""}))),
            "Resource  must be in ARN format or \"*\".",
        ),
        (
            v12(stmt(json!({"Resource": ["adf"]}))),
            "Resource adf must be in ARN format or \"*\".",
        ),
        (
            v12(stmt(
                json!({"Action": "s:3:ListBucket", "Resource": "sdfsadf"}),
            )),
            "Resource sdfsadf must be in ARN format or \"*\".",
        ),
        (
            v12(stmt(
                json!({"Action": null, "NotAction": "s3s:ListBucket", "Resource": "a:bsdfdsafsad"}),
            )),
            "Partition \"bsdfdsafsad\" is not valid for resource \"arn:bsdfdsafsad:*:*:*:*\".",
        ),
        (
            v12(stmt(
                json!({"Action": null, "NotAction": "s3s:ListBucket", "Resource": "a:b:cadfsdf"}),
            )),
            "Partition \"b\" is not valid for resource \"arn:b:cadfsdf:*:*:*\".",
        ),
        (
            v12(stmt(
                json!({"Action": null, "NotAction": "s3s:ListBucket", "Resource": "a:b:c:d:e:f:g:h"}),
            )),
            "Partition \"b\" is not valid for resource \"arn:b:c:d:e:f:g:h\".",
        ),
        (
            v12(stmt(json!({"Resource": "aws:s3:::example_bucket"}))),
            "Partition \"s3\" is not valid for resource \"arn:s3:::example_bucket:*\".",
        ),
        (
            v12(stmt(
                json!({"Resource": ["arn:error:s3:::example_bucket", "arn:error:s3::example_bucket"]}),
            )),
            "Partition \"error\" is not valid for resource \"arn:error:s3:::example_bucket\".",
        ),
        (
            v12(stmt(json!({"Resource": "arn:aws"}))),
            "Resource vendor must be fully qualified and cannot contain regexes.",
        ),
        (
            v12(stmt(json!({"Resource": "arn:aws:iam:::example_bucket"}))),
            "IAM resource path must either be \"*\" or start with user/, federated-user/, role/, group/, instance-profile/, mfa/, server-certificate/, policy/, sms-mfa/, saml-provider/, oidc-provider/, report/, access-report/.",
        ),
        (
            v12(stmt(
                json!({"Resource": "arn:aws:iam:us-east-1::example_bucket"}),
            )),
            "IAM resource arn:aws:iam:us-east-1::example_bucket cannot contain region information.",
        ),
        (
            v12(stmt(
                json!({"Resource": "arn:aws:s3:us-east-1::example_bucket"}),
            )),
            "Resource arn:aws:s3:us-east-1::example_bucket can not contain region information.",
        ),
        (
            v12(stmt(json!({"Resource": null}))),
            "Policy statement must contain resources.",
        ),
        (
            v12(stmt(json!({"Resource": []}))),
            "Policy statement must contain resources.",
        ),
        (
            v12(stmt(json!({"Action": null}))),
            "Policy statement must contain actions.",
        ),
        (
            v12(json!({"Effect": "Allow"})),
            "Policy statement must contain actions.",
        ),
        (
            v12(stmt(json!({"Action": []}))),
            "Policy statement must contain actions.",
        ),
        (
            v12(json!([{"Effect": "Deny"}, stmt(json!({}))])),
            "Policy statement must contain actions.",
        ),
        (
            v12(json!([stmt(json!({"Sid": "sdf"})), {"Sid": "sdf", "Effect": "Allow"}])),
            "Statement IDs (SID) in a single policy must be unique.",
        ),
        (
            json!({"Statement": [stmt(json!({"Sid": "sdf"})), {"Sid": "sdf", "Effect": "Allow"}]})
                .to_string(),
            "Policy document must be version 2012-10-17 or greater.",
        ),
        (
            v12(
                json!([stmt(json!({"Sid": "sdf", "Effect": "aLLow"})), {"Sid": "sdf", "Effect": "Allow"}]),
            ),
            "The policy failed legacy parsing",
        ),
        (
            v12(stmt(json!({"Effect": "denY"}))),
            "The policy failed legacy parsing",
        ),
        (
            v12(stmt(json!({"Resource": "arn:aws:s3::example_bucket"}))),
            "The policy failed legacy parsing",
        ),
        (
            v12(json!({"Effect": "Allow", "Resource": "arn:aws:s3::example_bucket"})),
            "The policy failed legacy parsing",
        ),
        (
            v12(stmt(
                json!({"Action": null, "NotAction": "s3:ListBucket", "Resource": "arn:aws::::example_bucket"}),
            )),
            "The policy failed legacy parsing",
        ),
        (
            v12(json!({"Effect": "allow", "Resource": "arn:aws:s3:us-east-1::example_bucket"})),
            "The policy failed legacy parsing",
        ),
        (
            v12(stmt(
                json!({"Resource": null, "NotResource": "arn:aws:s3::example_bucket"}),
            )),
            "The policy failed legacy parsing",
        ),
        (
            v12(stmt(json!({"Resource": "arn:aws::fdsasf"}))),
            "The policy failed legacy parsing",
        ),
        (
            v12(stmt(
                json!({"Condition": {"DateGreaterThan": {"a": "sdfdsf"}}}),
            )),
            "The policy failed legacy parsing",
        ),
        (
            v12(json!({"Effect": "Allow", "Condition": {"DateGreaterThan": {"a": "sdfdsf"}}})),
            "The policy failed legacy parsing",
        ),
        (
            v12(stmt(
                json!({"Condition": {"DateLessThanEquals": {"a": "234-13"}}}),
            )),
            "The policy failed legacy parsing",
        ),
        (
            v12(stmt(
                json!({"Condition": {"DateLessThanEquals": {"a": "2016-12-13t2:00:00.593194+1"}}}),
            )),
            "The policy failed legacy parsing",
        ),
        (
            v12(stmt(
                json!({"Condition": {"DateLessThan": {"a": "9223372036854775808"}}}),
            )),
            "The policy failed legacy parsing",
        ),
        (
            v12(stmt(
                json!({"Resource": "arn:error:s3:::example_bucket", "Condition": {"DateGreaterThan": {"a": "sdfdsf"}}}),
            )),
            "The policy failed legacy parsing",
        ),
        // An identity policy names no principal (IAM's answer to CreatePolicy).
        (
            v12(stmt(json!({"Principal": {"AWS": "*"}}))),
            "Policy document should not specify a principal.",
        ),
    ];
    for (text, want) in &cases {
        let got = Document::parse(text, PolicyKind::Identity)
            .map(|_| ())
            .unwrap_err();
        assert_eq!(got.message, *want, "{text}");
        assert_eq!(got.code(), "MalformedPolicyDocument");
    }
}

#[test]
fn valid_identity_policies() {
    let stmt = |extra: Value| {
        let mut s = json!({"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::example_bucket"});
        for (k, v) in extra.as_object().unwrap() {
            s[k] = v.clone();
        }
        s
    };
    let docs = [
        stmt(json!({"Resource": ["arn:aws:s3:::example_bucket"]})),
        stmt(json!({"Action": "iam: asdf safdsf af "})),
        stmt(json!({"Resource": ["arn:aws:s3:::example_bucket", "*"]})),
        stmt(json!({"Action": "*"})),
        json!([stmt(json!({}))]),
        stmt(
            json!({"Action": "service-prefix:action-name", "Resource": "*", "Condition": {"DateGreaterThan": {"aws:CurrentTime": "2017-07-01T00:00:00Z"}, "DateLessThan": {"aws:CurrentTime": "2017-12-31T23:59:59Z"}}}),
        ),
        stmt(json!({"Resource": "arn:aws:iam:::user/example_bucket"})),
        stmt(json!({"Resource": "arn:aws:s33:::example_bucket"})),
        stmt(json!({"Resource": "arn:aws:fdsasf"})),
        stmt(json!({"Condition": {}})),
        stmt(json!({"Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": "Department"}}})),
        stmt(json!({"Resource": "arn:aws:cloudwatch:us-east-1::example_bucket"})),
        stmt(json!({"Resource": "arn:aws:invalid-service:us-east-1::example_bucket"})),
        stmt(json!({"Condition": {"DateGreaterThan": {}}})),
        stmt(json!({"Condition": {"DateGreaterThan": {"a": []}}})),
        stmt(json!({"Condition": {"a": {}}})),
        stmt(json!({"Condition": {"x": {}, "y": {}}})),
        stmt(json!({"Condition": {"DateGreaterThan": {"a": "01T"}}})),
        stmt(json!({"Condition": {"StringEqualsIfExists": {"a": "asf"}}})),
        stmt(json!({"Condition": {"ForAnyValue:StringEqualsIfExists": {"a": "asf"}}})),
        stmt(
            json!({"Condition": {"DateLessThanEquals": {"a": "2016-12-13T21:20:37.593194+00:00"}}}),
        ),
        stmt(json!({"Condition": {"DateLessThanEquals": {"a": "2016-12-13t2:00:00.593194+23"}}})),
        stmt(json!({"Condition": {"DateLessThan": {"a": "-292275054"}}})),
        stmt(
            json!({"Condition": {"Bool": {"kms:GrantIsForAWSResource": true}, "ForAllValues:Bool": {"kms:GrantIsForAWSResource": false}}}),
        ),
        stmt(
            json!({"Condition": {"Null": {"kms:EncryptionContextKeys": false, "kms:GrantOperations": "true"}}}),
        ),
        stmt(json!({"Resource": ["arn:aws:kms:*:123456789012:key/*", null]})),
        stmt(
            json!({"Action": "s3:*", "Resource": ["arn:aws:s3:us-west-2:123456789012:accesspoint/my-access-point"]}),
        ),
        stmt(json!({"Resource": "arn:aws:iam::*:user/${aws:username}"})),
        stmt(json!({"NotAction": "s3:ListBucket", "Action": null})),
        json!([stmt(json!({"Sid": ""})), stmt(json!({"Sid": ""}))]),
        json!([stmt(json!({"Sid": "sdf"})), stmt(json!({}))]),
    ];
    for statement in docs {
        let mut statement = statement;
        if let Some(o) = statement.as_object_mut() {
            o.retain(|_, v| !v.is_null());
        }
        let text = json!({"Version": "2012-10-17", "Id": "x", "Statement": statement}).to_string();
        if let Err(e) = Document::parse(&text, PolicyKind::Identity) {
            panic!("{text}: {e}");
        }
    }
}

#[test]
fn other_kinds() {
    let trust = |s: Value| {
        Document::parse(
            &json!({"Version": "2012-10-17", "Statement": s}).to_string(),
            PolicyKind::Trust,
        )
    };
    let msg = |r: Result<Document, nephos_policy::PolicyError>| r.map(|_| ()).unwrap_err().message;
    // Trust policies: JSON, principals required, no resources, STS actions only.
    assert_eq!(
        msg(Document::parse("{nope", PolicyKind::Trust)),
        "This policy contains invalid Json"
    );
    assert_eq!(
        msg(trust(
            json!({"Effect": "Allow", "Action": "sts:AssumeRole"})
        )),
        "Invalid principal in policy: com.amazon.balsa.error.InvalidPolicyException: The passed in policy has a statement with no principals!"
    );
    assert_eq!(
        msg(trust(
            json!({"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole", "Resource": "*"})
        )),
        "Has prohibited field Resource"
    );
    assert_eq!(
        msg(trust(
            json!({"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:GetObject"})
        )),
        "Trust Policy statement actions can only be sts:AssumeRole, sts:AssumeRoleWithSAML,  and sts:AssumeRoleWithWebIdentity"
    );
    assert_eq!(
        msg(trust(
            json!({"Effect": "Allow", "Principal": {"AWS": "alice"}, "Action": "sts:AssumeRole"})
        )),
        "Invalid principal in policy: \"AWS\":\"alice\""
    );
    let ok = trust(json!([
        {"Effect": "Allow", "Principal": {"Service": ["ec2.amazonaws.com"]}, "Action": "sts:AssumeRole"},
        {"Effect": "Allow", "Principal": {"AWS": ["111122223333", "arn:aws:iam::111122223333:role/x"]}, "Action": ["sts:AssumeRole", "sts:TagSession"]},
        {"Effect": "Allow", "Principal": {"Federated": "arn:aws:iam::111122223333:oidc-provider/example.com"}, "Action": "sts:AssumeRoleWithWebIdentity"}
    ]))
    .unwrap();
    assert_eq!(ok.principals().len(), 4);
    // Old trust policies keep their 2008 version.
    assert!(Document::parse(r#"{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ecs.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#, PolicyKind::Trust).is_ok());
    // Resource policies need a principal; boundaries and session policies are checked
    // as identity policies.
    assert_eq!(
        msg(Document::parse(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#,
            PolicyKind::Resource
        )),
        "Missing required field Principal"
    );
    for kind in [PolicyKind::Boundary, PolicyKind::Session] {
        assert_eq!(
            msg(Document::parse(
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}]}"#,
                kind
            )),
            "Policy document should not specify a principal."
        );
    }
}

// --- Speed -------------------------------------------------------------------------------

/// A user with 10 attached policies of 20 statements each, the request matching the last
/// statement: under 20 µs per evaluation. Run with
/// `cargo test -p nephos-policy --release -- --ignored --nocapture evaluation_speed`.
#[test]
#[ignore = "timing: run in release"]
fn evaluation_speed() {
    let services = [
        "ec2", "sqs", "sns", "dynamodb", "lambda", "logs", "kms", "sts", "glue", "athena",
    ];
    let docs: Vec<Document> = (0..10)
        .map(|p| {
            let statements: Vec<Value> = (0..20)
                .map(|i| {
                    let svc = services[(p + i) % services.len()];
                    json!({
                        "Sid": format!("S{p}x{i}"),
                        "Effect": "Allow",
                        "Action": [format!("{svc}:Get*"), format!("{svc}:List*"), format!("{svc}:Describe{i}*")],
                        "Resource": [format!("arn:aws:{svc}:us-east-1:{ACCT}:thing-{p}-{i}/*"), format!("arn:aws:{svc}:*:{ACCT}:other-{i}")],
                        "Condition": {"StringEquals": {"aws:PrincipalTag/team": ["blue", "green"]}, "BoolIfExists": {"aws:MultiFactorAuthPresent": "true"}}
                    })
                })
                .collect();
            identity(json!(statements))
        })
        .collect();
    let p = user(ACCT, "alice");
    let mut set = PolicySet::new(ACCT);
    for d in &docs {
        set.identity.push(("arn:aws:iam::111122223333:policy/p", d));
    }
    let ctx = Context::new()
        .with("aws:PrincipalTag/team", "green")
        .with("aws:username", "alice")
        .with("aws:SourceIp", "10.0.0.1")
        .with("aws:CurrentTime", "2026-01-01T00:00:00Z")
        .with("aws:SecureTransport", "true")
        .with("aws:MultiFactorAuthPresent", "true");
    // Matches only policy 9's statement 19 (service index (9 + 19) % 10 = 8: glue).
    let req = Request {
        principal: &p,
        action: "glue:GetTable",
        resource: &format!("arn:aws:glue:us-east-1:{ACCT}:thing-9-19/x"),
        context: &ctx,
    };
    assert_eq!(authorize(&req, &set), Ok(()));
    let denied = Request {
        action: "glue:DeleteTable",
        ..req
    };
    let n = 20_000u32;
    for (name, req) in [("allowed", req), ("denied", denied)] {
        let start = std::time::Instant::now();
        for _ in 0..n {
            std::hint::black_box(authorize(std::hint::black_box(&req), &set)).ok();
        }
        let per = start.elapsed() / n;
        let start = std::time::Instant::now();
        for _ in 0..n {
            std::hint::black_box(engine::evaluate(std::hint::black_box(&req), &set));
        }
        let full = start.elapsed() / n;
        println!("{name}: authorize {per:?}, evaluate {full:?} per request (200 statements)");
        assert!(
            per < std::time::Duration::from_micros(20),
            "{name}: {per:?}"
        );
    }
}
