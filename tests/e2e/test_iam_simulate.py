"""The IAM policy simulator (SimulatePrincipalPolicy, SimulateCustomPolicy) and the context
keys of policies (GetContextKeysFor*Policy), through boto3 and the AWS CLI against the
nephos binary, each test in an account of its own.

Expected answers come from AWS: the aws-cli examples of the four operations, LocalStack's
`test_simulate_principle_policy` snapshots (recorded against AWS), Terraform's acceptance
test of `aws_iam_principal_policy_simulation` (inline policies are `user_<user>_<policy>`),
and what tools built on the simulator read from it (`IAM Policy`, `Resource Policy`,
`Permissions Boundary Policy`, statements placed from the token before them).
"""

import gzip
import json
import pathlib
import tempfile

import boto3
import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

ROOT = pathlib.Path(__file__).resolve().parents[2]


def fails(call, **kwargs):
    """The (code, message, status) a call fails with."""
    with pytest.raises(ClientError) as e:
        call(**kwargs)
    r = e.value.response
    return r["Error"]["Code"], r["Error"]["Message"], r["ResponseMetadata"]["HTTPStatusCode"]


def doc(*statements, version="2012-10-17"):
    return json.dumps({"Version": version, "Statement": list(statements)})


def allow(action, resource="*", **extra):
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action, resource="*", **extra):
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


@pytest.fixture
def iam(nephos, account):
    return nephos.client("iam", account=account)


def custom(iam, policies, actions, **kwargs):
    return iam.simulate_custom_policy(PolicyInputList=policies, ActionNames=actions, **kwargs)[
        "EvaluationResults"
    ]


def decision(iam, policies, action, **kwargs):
    return custom(iam, policies, [action], **kwargs)[0]["EvalDecision"]


# --- the aws-cli examples ----------------------------------------------------------------

CODECOMMIT_POLICY = """{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "GrantAccessToListRepositories",
            "Effect": "Allow",
            "Action": "codecommit:ListRepositories",
            "Resource": "*"
        }
    ]
}"""


def test_cli_simulate_principal_policy_example(nephos, iam, account):
    iam.create_user(UserName="alejandro")
    arn = iam.create_policy(
        PolicyName="Grant-Access-To-CodeCommit-ListRepo", PolicyDocument=CODECOMMIT_POLICY
    )["Policy"]["Arn"]
    iam.attach_user_policy(UserName="alejandro", PolicyArn=arn)
    user = f"arn:aws:iam::{account}:user/alejandro"
    out = nephos.aws(
        "iam", "simulate-principal-policy",
        "--policy-source-arn", user, "--action-names", "codecommit:ListRepositories",
        account=account,
    )
    assert out == {
        "EvaluationResults": [
            {
                "EvalActionName": "codecommit:ListRepositories",
                "EvalResourceName": "*",
                "EvalDecision": "allowed",
                "MatchedStatements": [
                    {
                        "SourcePolicyId": "Grant-Access-To-CodeCommit-ListRepo",
                        "SourcePolicyType": "IAM Policy",
                        "StartPosition": {"Line": 3, "Column": 19},
                        "EndPosition": {"Line": 9, "Column": 10},
                    }
                ],
                "MissingContextValues": [],
            }
        ],
    }
    # Example 2: a date condition the simulated time does not meet.
    dated = doc(allow("dynamodb:*", Condition={"DateGreaterThan": {"aws:CurrentTime": "2018-08-16T12:00:00Z"}}))
    iam.put_user_policy(UserName="alejandro", PolicyName="dated", PolicyDocument=dated)
    out = nephos.aws(
        "iam", "simulate-principal-policy",
        "--policy-source-arn", user, "--action-names", "dynamodb:CreateBackup",
        "--context-entries",
        "ContextKeyName='aws:CurrentTime',ContextKeyValues='2018-04-25T11:00:00Z',ContextKeyType=date",
        account=account,
    )
    assert out["EvaluationResults"] == [
        {
            "EvalActionName": "dynamodb:CreateBackup",
            "EvalResourceName": "*",
            "EvalDecision": "implicitDeny",
            "MatchedStatements": [],
            "MissingContextValues": [],
        }
    ]


DYNAMODB_AFTER = (
    '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"dynamodb:*","Resource":"*",'
    '"Condition":{"DateGreaterThan":{"aws:CurrentTime":"2018-08-16T12:00:00Z"}}}}'
)


def test_simulate_custom_policy_examples(iam):
    when = lambda t: [{"ContextKeyName": "aws:CurrentTime", "ContextKeyValues": [t], "ContextKeyType": "date"}]
    [r] = custom(iam, [DYNAMODB_AFTER], ["dynamodb:CreateBackup"], ContextEntries=when("2019-04-25T11:00:00Z"))
    assert r == {
        "EvalActionName": "dynamodb:CreateBackup",
        "EvalResourceName": "*",
        "EvalDecision": "allowed",
        "MatchedStatements": [
            {
                "SourcePolicyId": "PolicyInputList.1",
                "SourcePolicyType": "IAM Policy",
                "StartPosition": {"Line": 1, "Column": 38},
                "EndPosition": {"Line": 1, "Column": 167},
            }
        ],
        "MissingContextValues": [],
    }
    [r] = custom(iam, [DYNAMODB_AFTER], ["dynamodb:CreateBackup"], ContextEntries=when("2014-04-25T11:00:00Z"))
    assert (r["EvalDecision"], r["MatchedStatements"], r["MissingContextValues"]) == ("implicitDeny", [], [])
    # Without the key the statement cannot apply, and the simulator says what it lacked.
    [r] = custom(iam, [DYNAMODB_AFTER], ["dynamodb:CreateBackup"])
    assert (r["EvalDecision"], r["MissingContextValues"]) == ("implicitDeny", ["aws:CurrentTime"])


USERNAME_TABLE = (
    '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"dynamodb:*",'
    '"Resource":"arn:aws:dynamodb:us-west-2:123456789012:table/${aws:username}",'
    '"Condition":{"DateGreaterThan":{"aws:CurrentTime":"2015-08-16T12:00:00Z"}}}}'
)


def test_context_keys_examples(iam, account):
    assert iam.get_context_keys_for_custom_policy(PolicyInputList=[USERNAME_TABLE])["ContextKeyNames"] == [
        "aws:username",
        "aws:CurrentTime",
    ]
    iam.create_user(UserName="saanvi")
    iam.put_user_policy(UserName="saanvi", PolicyName="tables", PolicyDocument=USERNAME_TABLE)
    user = f"arn:aws:iam::{account}:user/saanvi"
    assert iam.get_context_keys_for_principal_policy(PolicySourceArn=user)["ContextKeyNames"] == [
        "aws:username",
        "aws:CurrentTime",
    ]
    # Her groups' policies count, keys are listed once (compared regardless of case) in the
    # order first read, and PolicyInputList adds to them.
    iam.create_group(GroupName="ops")
    iam.add_user_to_group(GroupName="ops", UserName="saanvi")
    iam.put_group_policy(
        GroupName="ops", PolicyName="net",
        PolicyDocument=doc(allow("ec2:*", Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"},
                                                       "DateLessThan": {"AWS:CURRENTTIME": "2030-01-01T00:00:00Z"}})),
    )
    extra = doc(allow("s3:*", Condition={"StringEquals": {"s3:prefix": "home/", "aws:SourceIp": "10.1.1.1"}}))
    assert iam.get_context_keys_for_principal_policy(PolicySourceArn=user, PolicyInputList=[extra])[
        "ContextKeyNames"
    ] == ["aws:username", "aws:CurrentTime", "aws:SourceIp", "s3:prefix"]
    group = f"arn:aws:iam::{account}:group/ops"
    assert iam.get_context_keys_for_principal_policy(PolicySourceArn=group)["ContextKeyNames"] == [
        "aws:SourceIp",
        "AWS:CURRENTTIME",
    ]
    assert iam.get_context_keys_for_custom_policy(PolicyInputList=[doc(allow("s3:*"))])["ContextKeyNames"] == []
    code, message, status = fails(iam.get_context_keys_for_custom_policy, PolicyInputList=["{nope"])
    assert (code, status) == ("InvalidInput", 400) and message


# --- LocalStack's recorded test (AWS's answer in test_iam.snapshot.json) -------------------

PUT_OBJECT = {"Version": "2012-10-17", "Statement": {"Sid": "", "Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"}}


@pytest.mark.parametrize("arn_type", ["role", "group", "user"])
def test_simulate_principal_policy_recorded(iam, account, arn_type):
    policy_arn = iam.create_policy(PolicyName=f"put-{arn_type}", PolicyDocument=json.dumps(PUT_OBJECT))["Policy"]["Arn"]
    if arn_type == "role":
        trust = {"Version": "2012-10-17", "Statement": {"Sid": "", "Effect": "Allow",
                 "Principal": {"Service": "apigateway.amazonaws.com"}, "Action": "sts:AssumeRole"}}
        arn = iam.create_role(RoleName="r", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        iam.attach_role_policy(RoleName="r", PolicyArn=policy_arn)
    elif arn_type == "group":
        arn = iam.create_group(GroupName="g")["Group"]["Arn"]
        iam.attach_group_policy(GroupName="g", PolicyArn=policy_arn)
    else:
        arn = iam.create_user(UserName="u")["User"]["Arn"]
        iam.attach_user_policy(UserName="u", PolicyArn=policy_arn)
    bucket = f"arn:aws:s3:::bucket-{account}"
    rs = iam.simulate_principal_policy(
        PolicySourceArn=arn, ActionNames=["s3:PutObject", "s3:GetObjectVersion"], ResourceArns=[bucket]
    )
    statement = {
        "EndPosition": {"Column": 113, "Line": 1},
        "SourcePolicyId": f"put-{arn_type}",
        "SourcePolicyType": "IAM Policy",
        "StartPosition": {"Column": 41, "Line": 1},
    }
    assert rs["IsTruncated"] is False
    assert rs["EvaluationResults"] == [
        {
            "EvalActionName": "s3:PutObject",
            "EvalDecision": "allowed",
            "EvalDecisionDetails": {},
            "EvalResourceName": bucket,
            "MatchedStatements": [statement],
            "MissingContextValues": [],
            "ResourceSpecificResults": [
                {
                    "EvalResourceDecision": "allowed",
                    "EvalResourceName": bucket,
                    "MatchedStatements": [statement],
                    "MissingContextValues": [],
                }
            ],
        },
        {
            "EvalActionName": "s3:GetObjectVersion",
            "EvalDecision": "implicitDeny",
            "EvalDecisionDetails": {},
            "EvalResourceName": bucket,
            "MatchedStatements": [],
            "MissingContextValues": [],
            "ResourceSpecificResults": [
                {
                    "EvalResourceDecision": "implicitDeny",
                    "EvalResourceName": bucket,
                    "MatchedStatements": [],
                    "MissingContextValues": [],
                }
            ],
        },
    ]


# --- sources: inline, managed, groups ----------------------------------------------------


def test_sources_are_named_as_aws_names_them(iam, account):
    iam.create_user(UserName="ana")
    iam.put_user_policy(UserName="ana", PolicyName="own", PolicyDocument=doc(allow("s3:GetObject")))
    iam.create_group(GroupName="readers")
    iam.add_user_to_group(GroupName="readers", UserName="ana")
    iam.put_group_policy(GroupName="readers", PolicyName="grp", PolicyDocument=doc(allow("s3:GetObject")))
    iam.attach_group_policy(GroupName="readers", PolicyArn="arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess")
    mine = iam.create_policy(PolicyName="mine", Path="/team/", PolicyDocument=doc(allow("s3:Get*")))["Policy"]["Arn"]
    iam.attach_user_policy(UserName="ana", PolicyArn=mine)
    user = f"arn:aws:iam::{account}:user/ana"
    [r] = iam.simulate_principal_policy(PolicySourceArn=user, ActionNames=["s3:GetObject"])["EvaluationResults"]
    assert r["EvalDecision"] == "allowed"
    ids = {(m["SourcePolicyId"], m["SourcePolicyType"]) for m in r["MatchedStatements"]}
    assert ids == {
        ("user_ana_own", "IAM Policy"),
        ("mine", "IAM Policy"),
        ("group_readers_grp", "IAM Policy"),
        ("AmazonS3ReadOnlyAccess", "IAM Policy"),
    }
    # A group's own policies, inline and attached.
    group = f"arn:aws:iam::{account}:group/readers"
    [r] = iam.simulate_principal_policy(PolicySourceArn=group, ActionNames=["s3:GetObject"])["EvaluationResults"]
    assert {m["SourcePolicyId"] for m in r["MatchedStatements"]} == {"group_readers_grp", "AmazonS3ReadOnlyAccess"}
    # A role's inline policies.
    trust = doc({"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"})
    role = iam.create_role(RoleName="worker", Path="/svc/", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    iam.put_role_policy(RoleName="worker", PolicyName="q", PolicyDocument=doc(deny("sqs:*"), allow("sqs:SendMessage")))
    [r] = iam.simulate_principal_policy(PolicySourceArn=role, ActionNames=["sqs:SendMessage"])["EvaluationResults"]
    assert r["EvalDecision"] == "explicitDeny"
    assert [m["SourcePolicyId"] for m in r["MatchedStatements"]] == ["role_worker_q", "role_worker_q"]
    # PolicyInputList adds to the stored policies.
    [r] = iam.simulate_principal_policy(
        PolicySourceArn=user, ActionNames=["sns:Publish"], PolicyInputList=[doc(allow("sns:*"))]
    )["EvaluationResults"]
    assert [m["SourcePolicyId"] for m in r["MatchedStatements"]] == ["PolicyInputList.1"]


def test_policy_source_errors(iam, account):
    for kind, message in [
        ("user", "The user with name ghost cannot be found."),
        ("role", "The role with name ghost cannot be found."),
        ("group", "The group with name ghost cannot be found."),
    ]:
        arn = f"arn:aws:iam::{account}:{kind}/ghost"
        assert fails(iam.simulate_principal_policy, PolicySourceArn=arn, ActionNames=["s3:GetObject"]) == (
            "NoSuchEntity", message, 404)
        assert fails(iam.get_context_keys_for_principal_policy, PolicySourceArn=arn) == ("NoSuchEntity", message, 404)
    session = f"arn:aws:sts::{account}:assumed-role/Admin/me"
    assert fails(iam.simulate_principal_policy, PolicySourceArn=session, ActionNames=["s3:GetObject"]) == (
        "InvalidInput", f"Invalid Entity Arn: {session} does not clearly define entity type and name.", 400)
    other = "arn:aws:iam::999988887777:user/bob"
    assert fails(iam.simulate_principal_policy, PolicySourceArn=other, ActionNames=["s3:GetObject"]) == (
        "InvalidInput",
        f"Invalid Policy Source Arn: caller's account {account} does not have access to policies in account 999988887777",
        400)
    # Documents the request passes are checked as IAM checks them.
    code, message, status = fails(iam.simulate_custom_policy, PolicyInputList=["not json"], ActionNames=["s3:GetObject"])
    assert (code, status) == ("InvalidInput", 400) and message
    code, _, _ = fails(
        iam.simulate_custom_policy,
        PolicyInputList=[doc({"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"})],
        ActionNames=["s3:GetObject"],
    )
    assert code == "InvalidInput"


# --- condition operators, with typed context entries --------------------------------------

A = "arn:aws:s3:::b/k"

OPERATORS = [
    # (operator, key, policy value, context type, context values, allowed)
    ("StringEquals", "aws:PrincipalTag/team", "blue", "string", ["blue"], True),
    ("StringEquals", "aws:PrincipalTag/team", "blue", "string", ["Blue"], False),
    ("StringNotEquals", "aws:PrincipalTag/team", "blue", "string", ["red"], True),
    ("StringEqualsIgnoreCase", "aws:PrincipalTag/team", "blue", "string", ["BLUE"], True),
    ("StringNotEqualsIgnoreCase", "aws:PrincipalTag/team", "blue", "string", ["BLUE"], False),
    ("StringLike", "s3:prefix", "home/*", "string", ["home/ana/"], True),
    ("StringLike", "s3:prefix", "home/?", "string", ["home/ab"], False),
    ("StringNotLike", "s3:prefix", "tmp/*", "string", ["home/"], True),
    ("NumericEquals", "s3:max-keys", "10", "numeric", ["10"], True),
    ("NumericNotEquals", "s3:max-keys", "10", "numeric", ["10"], False),
    ("NumericLessThan", "s3:max-keys", "10", "numeric", ["9"], True),
    ("NumericLessThanEquals", "s3:max-keys", "10", "numeric", ["11"], False),
    ("NumericGreaterThan", "s3:max-keys", "10", "numeric", ["10.5"], True),
    ("NumericGreaterThanEquals", "s3:max-keys", "10", "numeric", ["10"], True),
    ("DateEquals", "aws:CurrentTime", "2020-01-01T00:00:00Z", "date", ["2020-01-01T00:00:00Z"], True),
    ("DateNotEquals", "aws:CurrentTime", "2020-01-01T00:00:00Z", "date", ["2020-01-01T00:00:00Z"], False),
    ("DateLessThan", "aws:CurrentTime", "2020-01-01T00:00:00Z", "date", ["2019-12-31T23:59:59Z"], True),
    ("DateLessThanEquals", "aws:CurrentTime", "2020-01-01T00:00:00Z", "date", ["2020-01-02T00:00:00Z"], False),
    ("DateGreaterThan", "aws:EpochTime", "1577836800", "date", ["1577836801"], True),
    ("DateGreaterThanEquals", "aws:CurrentTime", "2020-01-01T00:00:00Z", "date", ["2019-01-01T00:00:00Z"], False),
    ("Bool", "aws:SecureTransport", "true", "boolean", ["true"], True),
    ("Bool", "aws:SecureTransport", "true", "boolean", ["false"], False),
    ("BinaryEquals", "s3:x-amz-content-sha256", "QmluYXJ5VmFsdWU=", "binary", ["QmluYXJ5VmFsdWU="], True),
    ("IpAddress", "aws:SourceIp", "203.0.113.0/24", "ip", ["203.0.113.7"], True),
    ("IpAddress", "aws:SourceIp", "203.0.113.0/24", "ip", ["198.51.100.7"], False),
    ("NotIpAddress", "aws:SourceIp", "203.0.113.0/24", "ip", ["198.51.100.7"], True),
    ("IpAddress", "aws:SourceIp", "2001:db8::/32", "ip", ["2001:db8::1"], True),
    ("ArnEquals", "aws:SourceArn", "arn:aws:sns:us-east-1:123456789012:t", "string",
     ["arn:aws:sns:us-east-1:123456789012:t"], True),
    ("ArnLike", "aws:SourceArn", "arn:aws:sns:*:123456789012:*", "string", ["arn:aws:sns:eu-west-1:123456789012:x"], True),
    ("ArnNotEquals", "aws:SourceArn", "arn:aws:sns:us-east-1:123456789012:t", "string",
     ["arn:aws:sns:us-east-1:123456789012:t"], False),
    ("ArnNotLike", "aws:SourceArn", "arn:aws:sqs:*", "string", ["arn:aws:sns:us-east-1:123456789012:t"], True),
    ("StringEqualsIfExists", "aws:PrincipalTag/team", "blue", "string", ["red"], False),
    ("ForAllValues:StringEquals", "aws:TagKeys", ["a", "b"], "stringList", ["a", "b"], True),
    ("ForAllValues:StringEquals", "aws:TagKeys", ["a", "b"], "stringList", ["a", "c"], False),
    ("ForAnyValue:StringLike", "aws:TagKeys", "cost-*", "stringList", ["team", "cost-center"], True),
    ("ForAnyValue:StringEquals", "aws:TagKeys", "x", "stringList", ["a", "b"], False),
    ("ForAnyValue:NumericLessThan", "dynamodb:Attributes", "3", "numericList", ["5", "2"], True),
    ("ForAllValues:Bool", "aws:MultiFactorAuthPresent", "true", "booleanList", ["true", "true"], True),
    ("ForAnyValue:IpAddress", "aws:SourceIp", "10.0.0.0/8", "ipList", ["192.0.2.1", "10.9.9.9"], True),
    ("ForAnyValue:DateLessThan", "aws:CurrentTime", "2020-01-01T00:00:00Z", "dateList",
     ["2021-01-01T00:00:00Z", "2019-01-01T00:00:00Z"], True),
]


@pytest.mark.parametrize("op,key,value,kind,values,allowed", OPERATORS,
                         ids=[f"{o[0]}-{i}" for i, o in enumerate(OPERATORS)])
def test_condition_operators(iam, op, key, value, kind, values, allowed):
    policy = doc(allow("s3:GetObject", A, Condition={op: {key: value}}))
    entries = [{"ContextKeyName": key, "ContextKeyValues": values, "ContextKeyType": kind}]
    [r] = custom(iam, [policy], ["s3:GetObject"], ResourceArns=[A], ContextEntries=entries)
    assert r["EvalDecision"] == ("allowed" if allowed else "implicitDeny")
    assert r["ResourceSpecificResults"][0]["MissingContextValues"] == []


def test_absent_keys(iam):
    def run(op, key="aws:PrincipalTag/team"):
        policy = doc(allow("s3:GetObject", A, Condition={op: {key: "blue"}}))
        [r] = custom(iam, [policy], ["s3:GetObject"], ResourceArns=[A])
        return r["EvalDecision"], r["ResourceSpecificResults"][0]["MissingContextValues"]

    assert run("StringEquals") == ("implicitDeny", ["aws:PrincipalTag/team"])
    # Negated operators and ...IfExists hold for a key the request lacks.
    assert run("StringNotEquals")[0] == "allowed"
    assert run("StringEqualsIfExists")[0] == "allowed"
    assert run("ForAllValues:StringEquals")[0] == "allowed"
    assert run("ForAnyValue:StringEquals")[0] == "implicitDeny"
    null = doc(allow("s3:GetObject", A, Condition={"Null": {"aws:TokenIssueTime": "true"}}))
    assert decision(iam, [null], "s3:GetObject", ResourceArns=[A]) == "allowed"
    entries = [{"ContextKeyName": "aws:TokenIssueTime", "ContextKeyValues": ["2020-01-01T00:00:00Z"],
                "ContextKeyType": "date"}]
    assert decision(iam, [null], "s3:GetObject", ResourceArns=[A], ContextEntries=entries) == "implicitDeny"


def test_policy_variables(iam, account):
    home = doc(allow("s3:GetObject", "arn:aws:s3:::homes/${aws:username}/*"))
    mine = "arn:aws:s3:::homes/ana/notes.txt"
    name = [{"ContextKeyName": "aws:username", "ContextKeyValues": ["ana"], "ContextKeyType": "string"}]
    assert decision(iam, [home], "s3:GetObject", ResourceArns=[mine], ContextEntries=name) == "allowed"
    assert decision(iam, [home], "s3:GetObject", ResourceArns=["arn:aws:s3:::homes/bo/x"], ContextEntries=name) == (
        "implicitDeny")
    # The simulator knows only what the request's entries say: even simulating the user,
    # `aws:username` is a key to supply.
    iam.create_user(UserName="ana")
    iam.put_user_policy(UserName="ana", PolicyName="home", PolicyDocument=home)
    user = f"arn:aws:iam::{account}:user/ana"
    [r] = iam.simulate_principal_policy(PolicySourceArn=user, ActionNames=["s3:GetObject"], ResourceArns=[mine])[
        "EvaluationResults"]
    assert r["EvalDecision"] == "implicitDeny"
    assert r["ResourceSpecificResults"][0]["MissingContextValues"] == ["aws:username"]
    [r] = iam.simulate_principal_policy(
        PolicySourceArn=user, ActionNames=["s3:GetObject"], ResourceArns=[mine], ContextEntries=name
    )["EvaluationResults"]
    assert r["EvalDecision"] == "allowed"
    # Variables in conditions, with a default, and the `${*}` escape.
    tagged = doc(allow("s3:GetObject", A, Condition={"StringEquals": {
        "s3:prefix": "${aws:PrincipalTag/team, 'none'}/${*}"}}))
    prefix = lambda v: [{"ContextKeyName": "s3:prefix", "ContextKeyValues": [v], "ContextKeyType": "string"}]
    assert decision(iam, [tagged], "s3:GetObject", ResourceArns=[A], ContextEntries=prefix("none/*")) == "allowed"
    team = [{"ContextKeyName": "aws:PrincipalTag/team", "ContextKeyValues": ["blue"], "ContextKeyType": "string"}]
    assert decision(iam, [tagged], "s3:GetObject", ResourceArns=[A], ContextEntries=prefix("blue/*") + team) == "allowed"
    # Variables need a 2012-10-17 document.
    old = doc(allow("s3:GetObject", "arn:aws:s3:::homes/${aws:username}/*"), version="2008-10-17")
    assert fails(iam.simulate_custom_policy, PolicyInputList=[old], ActionNames=["s3:GetObject"]) == (
        "InvalidInput", "Policy document must be version 2012-10-17 or greater.", 400)


# --- explicit deny, boundaries -----------------------------------------------------------


def test_explicit_deny_lists_what_applied(iam):
    both = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"},{"Effect":"Deny","Action":"s3:DeleteObject","Resource":"*"}]}'
    [r] = custom(iam, [both], ["s3:DeleteObject"])
    assert r["EvalDecision"] == "explicitDeny"
    # The deny and the allow it overrides; in a list each statement starts just after the
    # token before it (the `[`, then the previous statement's `}`).
    cut = both.index("},{") + 2
    assert r["MatchedStatements"] == [
        {"SourcePolicyId": "PolicyInputList.1", "SourcePolicyType": "IAM Policy",
         "StartPosition": {"Line": 1, "Column": 38}, "EndPosition": {"Line": 1, "Column": cut}},
        {"SourcePolicyId": "PolicyInputList.1", "SourcePolicyType": "IAM Policy",
         "StartPosition": {"Line": 1, "Column": cut}, "EndPosition": {"Line": 1, "Column": len(both) - 1}},
    ]
    # A deny in another policy wins just the same.
    rs = custom(iam, [doc(allow("s3:*")), doc(deny("s3:Delete*"))], ["s3:DeleteObject", "s3:GetObject"])
    assert [x["EvalDecision"] for x in rs] == ["explicitDeny", "allowed"]
    assert {m["SourcePolicyId"] for m in rs[0]["MatchedStatements"]} == {"PolicyInputList.1", "PolicyInputList.2"}
    assert [m["SourcePolicyId"] for m in rs[1]["MatchedStatements"]] == ["PolicyInputList.1"]
    # NotAction and NotResource.
    not_action = doc({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})
    assert decision(iam, [not_action], "s3:GetObject") == "allowed"
    assert decision(iam, [not_action], "iam:CreateUser") == "implicitDeny"
    not_resource = doc({"Effect": "Deny", "Action": "s3:*", "NotResource": "arn:aws:s3:::public/*"}, allow("s3:*"))
    assert decision(iam, [not_resource], "s3:GetObject", ResourceArns=["arn:aws:s3:::public/x"]) == "allowed"
    assert decision(iam, [not_resource], "s3:GetObject", ResourceArns=["arn:aws:s3:::private/x"]) == "explicitDeny"


def test_permissions_boundaries(iam, account):
    boundary = doc(allow("s3:GetObject"), deny("s3:DeleteBucket"))
    everything = doc(allow("s3:*"))
    rs = custom(iam, [everything], ["s3:GetObject", "s3:PutObject", "s3:DeleteBucket"],
                PermissionsBoundaryPolicyInputList=[boundary])
    assert [(r["EvalDecision"], r["PermissionsBoundaryDecisionDetail"]) for r in rs] == [
        ("allowed", {"AllowedByPermissionsBoundary": True}),
        ("implicitDeny", {"AllowedByPermissionsBoundary": False}),
        ("explicitDeny", {"AllowedByPermissionsBoundary": False}),
    ]
    deny_by = [(m["SourcePolicyId"], m["SourcePolicyType"]) for m in rs[2]["MatchedStatements"]]
    assert ("PermissionsBoundaryPolicyInputList.1", "Permissions Boundary Policy") in deny_by
    # A boundary grants nothing by itself.
    [r] = custom(iam, [doc(allow("sqs:*"))], ["s3:GetObject"], PermissionsBoundaryPolicyInputList=[boundary])
    assert r["EvalDecision"] == "implicitDeny"
    # Without a boundary there is no boundary detail.
    assert "PermissionsBoundaryDecisionDetail" not in custom(iam, [everything], ["s3:GetObject"])[0]
    assert fails(iam.simulate_custom_policy, PolicyInputList=[everything], ActionNames=["s3:GetObject"],
                 PermissionsBoundaryPolicyInputList=[boundary, boundary])[0] == "InvalidInput"

    # A user's stored boundary, by its policy's name; one passed in replaces it.
    b = iam.create_policy(PolicyName="only-get", PolicyDocument=doc(allow("s3:GetObject")))["Policy"]["Arn"]
    iam.create_user(UserName="bounded")
    iam.put_user_policy(UserName="bounded", PolicyName="all", PolicyDocument=everything)
    iam.put_user_permissions_boundary(UserName="bounded", PermissionsBoundary=b)
    user = f"arn:aws:iam::{account}:user/bounded"
    rs = iam.simulate_principal_policy(PolicySourceArn=user, ActionNames=["s3:GetObject", "s3:PutObject"])[
        "EvaluationResults"]
    assert [(r["EvalDecision"], r["PermissionsBoundaryDecisionDetail"]["AllowedByPermissionsBoundary"])
            for r in rs] == [("allowed", True), ("implicitDeny", False)]
    assert {(m["SourcePolicyId"], m["SourcePolicyType"]) for m in rs[0]["MatchedStatements"]} == {
        ("user_bounded_all", "IAM Policy"), ("only-get", "Permissions Boundary Policy")}
    rs = iam.simulate_principal_policy(
        PolicySourceArn=user, ActionNames=["s3:PutObject"],
        PermissionsBoundaryPolicyInputList=[doc(allow("s3:PutObject"))],
    )["EvaluationResults"]
    assert rs[0]["EvalDecision"] == "allowed"


# --- resource policies, callers, accounts ------------------------------------------------


def bucket_policy(principal, effect="Allow", action="s3:GetObject", resource="arn:aws:s3:::shared/*"):
    return doc({"Effect": effect, "Principal": {"AWS": principal}, "Action": action, "Resource": resource})


def test_resource_policy_with_caller(iam, account):
    bob = f"arn:aws:iam::{account}:user/bob"
    obj = "arn:aws:s3:::shared/report.csv"
    # Same account: a resource policy naming the caller is enough.
    [r] = custom(iam, [doc(allow("sqs:*"))], ["s3:GetObject"], ResourceArns=[obj],
                 ResourcePolicy=bucket_policy(bob), CallerArn=bob)
    assert r["EvalDecision"] == "allowed" and r["EvalDecisionDetails"] == {}
    [m] = r["MatchedStatements"]
    assert (m["SourcePolicyId"], m["SourcePolicyType"]) == ("ResourcePolicy", "Resource Policy")
    # Just after the `[` of `{"Version": "2012-10-17", "Statement": [`.
    assert m["StartPosition"] == {"Line": 1, "Column": 41}
    # Someone else is not named.
    eve = f"arn:aws:iam::{account}:user/eve"
    assert decision(iam, [doc(allow("sqs:*"))], "s3:GetObject", ResourceArns=[obj],
                    ResourcePolicy=bucket_policy(bob), CallerArn=eve) == "implicitDeny"
    # A deny in the resource policy comes first among what applied.
    policy = doc({"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::shared/*"},
                 {"Effect": "Deny", "Principal": {"AWS": bob}, "Action": "s3:DeleteObject",
                  "Resource": "arn:aws:s3:::shared/*"})
    [r] = custom(iam, [doc(allow("s3:*"))], ["s3:DeleteObject"], ResourceArns=[obj], ResourcePolicy=policy,
                 CallerArn=bob)
    assert r["EvalDecision"] == "explicitDeny"
    assert [m["SourcePolicyType"] for m in r["MatchedStatements"]] == ["Resource Policy", "Resource Policy", "IAM Policy"]

    # A resource policy needs a caller, and callers are IAM users.
    must = "Invalid caller - Caller must be an IAM user in this context."
    assert fails(iam.simulate_custom_policy, PolicyInputList=[doc(allow("s3:*"))], ActionNames=["s3:GetObject"],
                 ResourceArns=[obj], ResourcePolicy=bucket_policy(bob)) == ("InvalidInput", must, 400)
    for caller in (f"arn:aws:iam::{account}:role/r", f"arn:aws:sts::{account}:assumed-role/r/s"):
        assert fails(iam.simulate_custom_policy, PolicyInputList=[doc(allow("s3:*"))], ActionNames=["s3:GetObject"],
                     CallerArn=caller) == ("InvalidInput", must, 400)
    trust = doc({"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"})
    role = iam.create_role(RoleName="r", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    assert fails(iam.simulate_principal_policy, PolicySourceArn=role, ActionNames=["s3:GetObject"],
                 ResourceArns=[obj], ResourcePolicy=bucket_policy(bob)) == ("InvalidInput", must, 400)
    # The role's policies with a user as the caller.
    iam.put_role_policy(RoleName="r", PolicyName="p", PolicyDocument=doc(allow("s3:GetObject")))
    [r] = iam.simulate_principal_policy(PolicySourceArn=role, ActionNames=["s3:GetObject"], ResourceArns=[obj],
                                        ResourcePolicy=bucket_policy(eve, effect="Deny"), CallerArn=eve)[
        "EvaluationResults"]
    assert r["EvalDecision"] == "explicitDeny"
    # A simulated user is the caller by default.
    iam.create_user(UserName="bob")
    [r] = iam.simulate_principal_policy(PolicySourceArn=bob, ActionNames=["s3:GetObject"], ResourceArns=[obj],
                                        ResourcePolicy=bucket_policy(bob))["EvaluationResults"]
    assert r["EvalDecision"] == "allowed"
    # A malformed resource policy.
    assert fails(iam.simulate_custom_policy, PolicyInputList=[doc(allow("s3:*"))], ActionNames=["s3:GetObject"],
                 ResourcePolicy="{}", CallerArn=bob)[0] == "InvalidInput"


def test_cross_account(iam, account):
    other = "111122223333"
    alice = f"arn:aws:iam::{other}:user/alice"
    obj = "arn:aws:s3:::shared/report.csv"
    none = doc(allow("sqs:*"))
    grant = bucket_policy(alice)
    # The bucket is this account's (ResourceOwner), the caller another's: both sides must
    # allow, and the details say what each decided.
    [r] = custom(iam, [none], ["s3:GetObject"], ResourceArns=[obj], ResourcePolicy=grant, CallerArn=alice,
                 ResourceOwner=f"arn:aws:iam::{account}:root")
    assert r["EvalDecision"] == "implicitDeny"
    assert r["EvalDecisionDetails"] == {"IAM Policy": "implicitDeny", "Resource Policy": "allowed"}
    assert r["ResourceSpecificResults"][0]["EvalDecisionDetails"] == r["EvalDecisionDetails"]
    [r] = custom(iam, [doc(allow("s3:GetObject"))], ["s3:GetObject"], ResourceArns=[obj], ResourcePolicy=grant,
                 CallerArn=alice, ResourceOwner=account)
    assert r["EvalDecision"] == "allowed"
    assert r["EvalDecisionDetails"] == {"IAM Policy": "allowed", "Resource Policy": "allowed"}
    [r] = custom(iam, [doc(allow("s3:GetObject"))], ["s3:GetObject"], ResourceArns=[obj],
                 ResourcePolicy=bucket_policy(f"arn:aws:iam::{other}:user/zed"), CallerArn=alice, ResourceOwner=account)
    assert r["EvalDecision"] == "implicitDeny"
    assert r["EvalDecisionDetails"] == {"IAM Policy": "allowed", "Resource Policy": "implicitDeny"}
    # Naming the caller's account in the resource policy delegates to its identity policies.
    [r] = custom(iam, [doc(allow("s3:GetObject"))], ["s3:GetObject"], ResourceArns=[obj],
                 ResourcePolicy=bucket_policy(other), CallerArn=alice, ResourceOwner=account)
    assert r["EvalDecision"] == "allowed"
    # A resource whose ARN names its account needs no ResourceOwner.
    queue = f"arn:aws:sqs:us-east-1:{account}:q"
    qpolicy = doc({"Effect": "Allow", "Principal": {"AWS": alice}, "Action": "sqs:SendMessage", "Resource": queue})
    [r] = custom(iam, [doc(allow("sqs:SendMessage"))], ["sqs:SendMessage"], ResourceArns=[queue],
                 ResourcePolicy=qpolicy, CallerArn=alice)
    assert r["EvalDecision"] == "allowed" and r["EvalDecisionDetails"] == {
        "IAM Policy": "allowed", "Resource Policy": "allowed"}
    # Within one account the details are empty with a resource, absent for `*`.
    [r] = custom(iam, [doc(allow("sqs:SendMessage"))], ["sqs:SendMessage"], ResourceArns=[queue])
    assert r["EvalDecisionDetails"] == {}
    assert "EvalDecisionDetails" not in custom(iam, [doc(allow("sqs:SendMessage"))], ["sqs:SendMessage"])[0]
    assert "EvalDecisionDetails" not in custom(iam, [doc(allow("sqs:SendMessage"))], ["sqs:SendMessage"],
                                               ResourceArns=["*"])[0]
    assert fails(iam.simulate_custom_policy, PolicyInputList=[none], ActionNames=["s3:GetObject"],
                 ResourceOwner="nobody") == ("InvalidInput", "'nobody' is not a valid as a Resource Owner.", 400)


def test_several_resources(iam):
    policy = doc(allow("s3:GetObject", "arn:aws:s3:::good/*"), deny("s3:GetObject", "arn:aws:s3:::bad/*"))
    good, bad, other = "arn:aws:s3:::good/x", "arn:aws:s3:::bad/x", "arn:aws:s3:::other/x"
    [r] = custom(iam, [policy], ["s3:GetObject"], ResourceArns=[good, bad, other])
    # One result for the action, named by its resource type, with the strictest decision;
    # each resource's own result under it.
    assert r["EvalResourceName"] == "arn:aws:s3:::${BucketName}/${ObjectName}"
    assert r["EvalDecision"] == "explicitDeny"
    assert r["MatchedStatements"] == [] and r["MissingContextValues"] == []
    assert [(x["EvalResourceName"], x["EvalResourceDecision"], len(x["MatchedStatements"]))
            for x in r["ResourceSpecificResults"]] == [(good, "allowed", 1), (bad, "explicitDeny", 1),
                                                       (other, "implicitDeny", 0)]
    [r] = custom(iam, [policy], ["s3:GetObject"], ResourceArns=[good, other])
    assert r["EvalDecision"] == "implicitDeny"
    [r] = custom(iam, [doc(allow("s3:GetObject"))], ["s3:GetObject"], ResourceArns=[good, other])
    assert r["EvalDecision"] == "allowed"
    # Every action is paired with every resource.
    rs = custom(iam, [doc(allow("s3:*"))], ["s3:GetObject", "s3:PutObject"], ResourceArns=[good, bad])
    assert [(x["EvalActionName"], len(x["ResourceSpecificResults"])) for x in rs] == [
        ("s3:GetObject", 2), ("s3:PutObject", 2)]


def test_pages(iam):
    actions = [f"s3:Action{i}" for i in range(5)]
    out = iam.simulate_custom_policy(PolicyInputList=[doc(allow("s3:*"))], ActionNames=actions, MaxItems=2)
    assert out["IsTruncated"] is True and len(out["EvaluationResults"]) == 2
    seen = [r["EvalActionName"] for r in out["EvaluationResults"]]
    while out["IsTruncated"]:
        out = iam.simulate_custom_policy(PolicyInputList=[doc(allow("s3:*"))], ActionNames=actions, MaxItems=2,
                                         Marker=out["Marker"])
        seen += [r["EvalActionName"] for r in out["EvaluationResults"]]
    assert seen == actions and "Marker" not in out
    pages = iam.get_paginator("simulate_custom_policy").paginate(
        PolicyInputList=[doc(allow("s3:*"))], ActionNames=actions, PaginationConfig={"PageSize": 3})
    assert [r["EvalActionName"] for p in pages for r in p["EvaluationResults"]] == actions


def newer_iam_client(nephos, account):
    """An IAM client built from nephos's own (newer) botocore model, which has members the
    installed botocore lacks (PolicyExclusionList)."""
    data = pathlib.Path(tempfile.mkdtemp()) / "iam" / "2010-05-08"
    data.mkdir(parents=True)
    (data / "service-2.json").write_bytes(gzip.decompress((ROOT / "models" / "iam.json.gz").read_bytes()))
    session = botocore.session.get_session()
    session.set_config_variable("data_path", str(data.parent.parent))
    return boto3.Session(botocore_session=session).client(
        "iam", endpoint_url=nephos.endpoint, region_name="us-east-1", aws_access_key_id=account,
        aws_secret_access_key="test", config=Config(retries={"max_attempts": 0}))


def test_policy_exclusions(nephos, iam, account):
    client = newer_iam_client(nephos, account)
    if "PolicyExclusionList" not in client.meta.service_model.operation_model(
            "SimulatePrincipalPolicy").input_shape.members:
        pytest.skip("the vendored model has no PolicyExclusionList")
    iam.create_user(UserName="x")
    iam.put_user_policy(UserName="x", PolicyName="inline", PolicyDocument=doc(allow("s3:GetObject")))
    managed = iam.create_policy(PolicyName="m", PolicyDocument=doc(allow("s3:GetObject")))["Policy"]["Arn"]
    iam.attach_user_policy(UserName="x", PolicyArn=managed)
    iam.attach_user_policy(UserName="x", PolicyArn="arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess")
    user = f"arn:aws:iam::{account}:user/x"

    def sources(*exclusions):
        [r] = client.simulate_principal_policy(PolicySourceArn=user, ActionNames=["s3:GetObject"],
                                               PolicyExclusionList=list(exclusions))["EvaluationResults"]
        return sorted(m["SourcePolicyId"] for m in r["MatchedStatements"])

    assert sources() == ["AmazonS3ReadOnlyAccess", "m", "user_x_inline"]
    assert sources({"PolicyArn": managed}) == ["AmazonS3ReadOnlyAccess", "user_x_inline"]
    assert sources({"PolicyType": "aws-managed"}) == ["m", "user_x_inline"]
    assert sources({"PolicyType": "inline"}, {"PolicyType": "user-managed"}) == ["AmazonS3ReadOnlyAccess"]
    assert sources({"InlinePolicyIdentifier": {"PolicyName": "inline", "AttachmentType": "user",
                                               "AttachmentName": "x"}}) == ["AmazonS3ReadOnlyAccess", "m"]
