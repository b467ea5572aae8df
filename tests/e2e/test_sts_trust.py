"""Role trust policies under `--enforce-iam`, end to end: STS decides the trust side on
the policy engine, the gateway's authorizer the caller's identity side (which must allow
`sts:AssumeRole` on the role, across accounts always), and Lambda assumes execution
roles as `lambda.amazonaws.com`.

From the AssumeRole API reference and the IAM user guide's cross-account evaluation: a
principal in another account needs both the trust policy and its own identity policy;
within one account a trust policy naming the account delegates to identity policies,
while one naming the user itself suffices.
"""

import json

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import Nephos
from lambdautil import VENV_PYTHON, create, invoke

A = "314159265301"
B = "314159265302"
C = "314159265303"


@pytest.fixture(scope="module")
def server():
    s = Nephos("--enforce-iam", "--quiet", "--lambda-python", VENV_PYTHON)
    yield s
    s.stop()


def doc(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def trust(principal, action="sts:AssumeRole", **extra):
    return {"Effect": "Allow", "Principal": principal, "Action": action, **extra}


ASSUME_ANY = doc({"Effect": "Allow", "Action": "sts:*", "Resource": "*"})


def client_of(server, creds, service="sts"):
    return boto3.client(
        service,
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds.get("SessionToken"),
        config=Config(retries={"max_attempts": 0}),
    )


def user(server, account, name, policy=ASSUME_ANY):
    """An IAM user of `account` (with an identity policy, unless None) and its STS client."""
    iam = server.client("iam", account=account)
    iam.create_user(UserName=name)
    if policy:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=policy)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return client_of(server, key), f"arn:aws:iam::{account}:user/{name}"


def role(server, account, name, trust_policy, policy=None):
    iam = server.client("iam", account=account)
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust_policy)["Role"]["Arn"]
    if policy:
        iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=policy)
    return arn


def denied(call, **kwargs):
    with pytest.raises(ClientError) as e:
        call(**kwargs)
    r = e.value.response
    assert (r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]) == ("AccessDenied", 403), r
    return r["Error"]["Message"]


def test_same_account(server):
    sts, dev = user(server, A, "dev")
    by_account = role(server, A, "by-account", doc(trust({"AWS": f"arn:aws:iam::{A}:root"})))
    by_user = role(server, A, "by-user", doc(trust({"AWS": dev})))
    other = role(server, A, "other", doc(trust({"AWS": f"arn:aws:iam::{A}:user/someone-else"})))
    for arn in (by_account, by_user):
        got = sts.assume_role(RoleArn=arn, RoleSessionName="s1")["AssumedRoleUser"]["Arn"]
        assert got == f"arn:aws:sts::{A}:assumed-role/{arn.rsplit('/', 1)[1]}/s1"
    message = denied(sts.assume_role, RoleArn=other, RoleSessionName="s1")
    assert message == f"User: {dev} is not authorized to perform: sts:AssumeRole on resource: {other}"
    # An explicit deny in the trust policy wins over an allow.
    guarded = role(server, A, "guarded", doc(
        trust({"AWS": A}),
        {"Effect": "Deny", "Principal": {"AWS": dev}, "Action": "sts:AssumeRole"},
    ))
    denied(sts.assume_role, RoleArn=guarded, RoleSessionName="s1")
    # A trust policy naming the account delegates to identity policies: a user without
    # one is refused by the authorizer, with the reason.
    bare, _ = user(server, A, "bare", policy=None)
    message = denied(bare.assume_role, RoleArn=by_account, RoleSessionName="s1")
    assert message.endswith("because no identity-based policy allows the sts:AssumeRole action"), message


def test_same_account_trust_naming_the_user_needs_no_identity_policy(server):
    sts, bare = user(server, A, "unpoliced", policy=None)
    arn = role(server, A, "names-unpoliced", doc(trust({"AWS": bare})))
    sts.assume_role(RoleArn=arn, RoleSessionName="s1")


def test_cross_account(server):
    sts, alice = user(server, B, "alice", policy=doc(
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": f"arn:aws:iam::{A}:role/x-*"}))
    trusting = role(server, A, "x-trusting", doc(trust({"AWS": B})))
    creds = sts.assume_role(RoleArn=trusting, RoleSessionName="cross")["Credentials"]
    me = client_of(server, creds).get_caller_identity()
    assert (me["Account"], me["Arn"]) == (A, f"arn:aws:sts::{A}:assumed-role/x-trusting/cross")
    # The trust side: a role that does not trust account B.
    untrusting = role(server, A, "x-untrusting", doc(trust({"AWS": C})))
    denied(sts.assume_role, RoleArn=untrusting, RoleSessionName="s1")
    # The identity side: trusted, but alice's policy does not cover this role.
    uncovered = role(server, A, "y-trusting", doc(trust({"AWS": B})))
    message = denied(sts.assume_role, RoleArn=uncovered, RoleSessionName="s1")
    assert "no identity-based policy allows the sts:AssumeRole action" in message
    # Naming a user of another account still needs its identity policy.
    bob_sts, bob = user(server, B, "bob", policy=None)
    names_bob = role(server, A, "x-names-bob", doc(trust({"AWS": bob})))
    denied(bob_sts.assume_role, RoleArn=names_bob, RoleSessionName="s1")


def test_role_sessions_by_their_role(server):
    sts, _ = user(server, C, "chainer")
    first = role(server, C, "first", doc(trust({"AWS": C})), policy=ASSUME_ANY)
    second = role(server, C, "second", doc(trust({"AWS": first})))
    third = role(server, C, "third", doc(trust({"AWS": f"arn:aws:sts::{C}:assumed-role/first/named"})))
    creds = sts.assume_role(RoleArn=first, RoleSessionName="named")["Credentials"]
    session = client_of(server, creds)
    # A trust policy naming a role trusts its sessions; one naming a session, that session.
    assert session.assume_role(RoleArn=second, RoleSessionName="s1")["AssumedRoleUser"]["Arn"].endswith("second/s1")
    assert session.assume_role(RoleArn=third, RoleSessionName="s1")["AssumedRoleUser"]["Arn"].endswith("third/s1")
    other = client_of(server, sts.assume_role(RoleArn=first, RoleSessionName="other")["Credentials"])
    denied(other.assume_role, RoleArn=third, RoleSessionName="s1")


def test_external_id(server):
    sts, dev = user(server, B, "vendor")
    arn = role(server, A, "x-vendor", doc(trust({"AWS": B}, Condition={"StringEquals": {"sts:ExternalId": "s3cr3t"}})))
    assert sts.assume_role(RoleArn=arn, RoleSessionName="s1", ExternalId="s3cr3t")["Credentials"]
    denied(sts.assume_role, RoleArn=arn, RoleSessionName="s1", ExternalId="guess")
    denied(sts.assume_role, RoleArn=arn, RoleSessionName="s1")


def test_tag_conditions_see_every_value(server):
    sts, _ = user(server, A, "tagger")
    arn = role(server, A, "tagged", doc(trust(
        {"AWS": A}, action=["sts:AssumeRole", "sts:TagSession"],
        Condition={
            "ForAllValues:StringEquals": {"aws:TagKeys": ["team", "project"]},
            "StringEqualsIfExists": {"aws:RequestTag/team": "blue"},
        },
    )))
    tags = lambda **kv: [{"Key": k, "Value": v} for k, v in kv.items()]
    assert sts.assume_role(RoleArn=arn, RoleSessionName="s1", Tags=tags(team="blue", project="x"))
    # The second key is one the policy does not allow: every value counts, not the first.
    denied(sts.assume_role, RoleArn=arn, RoleSessionName="s1", Tags=tags(team="blue", cost="1"))
    denied(sts.assume_role, RoleArn=arn, RoleSessionName="s1", Tags=tags(team="red"))
    # Tags need sts:TagSession in the trust policy too.
    untagged = role(server, A, "untagged", doc(trust({"AWS": A})))
    assert sts.assume_role(RoleArn=untagged, RoleSessionName="s1")
    message = denied(sts.assume_role, RoleArn=untagged, RoleSessionName="s1", Tags=tags(team="blue"))
    assert "sts:TagSession" in message
    # sts:TransitiveTagKeys is a set too.
    transitive = role(server, A, "transitive", doc(trust(
        {"AWS": A}, action=["sts:AssumeRole", "sts:TagSession"],
        Condition={"ForAnyValue:StringEquals": {"sts:TransitiveTagKeys": "project"}},
    )))
    assert sts.assume_role(RoleArn=transitive, RoleSessionName="s1", Tags=tags(team="a", project="b"),
                           TransitiveTagKeys=["team", "project"])
    denied(sts.assume_role, RoleArn=transitive, RoleSessionName="s1", Tags=tags(team="a", project="b"),
           TransitiveTagKeys=["team"])


def test_principal_keys_in_trust_conditions(server):
    sts, dev = user(server, C, "keyed")
    iam = server.client("iam", account=C)
    iam.tag_user(UserName="keyed", Tags=[{"Key": "dept", "Value": "ops"}])
    arn = role(server, C, "by-tag", doc(trust(
        {"AWS": C},
        Condition={"StringEquals": {"aws:PrincipalTag/dept": "ops", "aws:username": "keyed"},
                   "ArnEquals": {"aws:PrincipalArn": dev}},
    )))
    assert sts.assume_role(RoleArn=arn, RoleSessionName="s1")
    other, _ = user(server, C, "unkeyed")
    denied(other.assume_role, RoleArn=arn, RoleSessionName="s1")


FUNCTION = """
import boto3

def handler(event, context):
    return boto3.client("sts").get_caller_identity()["Arn"]
"""

LAMBDA_TRUST = doc(trust({"Service": "lambda.amazonaws.com"}))


def test_lambda_assumes_roles_that_trust_it(server):
    account = "314159265304"
    lam = server.client("lambda", account=account)
    trusted = role(server, account, "fn-role", LAMBDA_TRUST)
    create(lam, "trusted", {"index.py": FUNCTION}, Role=trusted, timeout=20)
    out, r = invoke(lam, "trusted")
    assert "FunctionError" not in r, out
    assert out == f"arn:aws:sts::{account}:assumed-role/fn-role/trusted"
    # A role that trusts another service gives the function no session of it.
    ec2_only = role(server, account, "ec2-role", doc(trust({"Service": "ec2.amazonaws.com"})))
    try:
        create(lam, "untrusted", {"index.py": FUNCTION}, Role=ec2_only, timeout=20)
    except ClientError:
        return  # refused at creation, as AWS refuses it
    out, r = invoke(lam, "untrusted")
    assert "assumed-role/ec2-role" not in json.dumps(out)


def test_create_function_refuses_a_role_lambda_cannot_assume(server):
    account = "314159265305"
    lam = server.client("lambda", account=account)
    ec2_only = role(server, account, "ec2-only", doc(trust({"Service": "ec2.amazonaws.com"})))
    with pytest.raises(ClientError) as e:
        create(lam, "refused", {"index.py": FUNCTION}, Role=ec2_only)
    err = e.value.response["Error"]
    assert (err["Code"], err["Message"]) == (
        "InvalidParameterValueException", "The role defined for the function cannot be assumed by Lambda.")
