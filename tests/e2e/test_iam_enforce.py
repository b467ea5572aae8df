"""IAM enforcement (`--enforce-iam`) in the situations people meet: explicit denies,
permissions boundaries, session policies, role sessions, federated users, resource
policies across accounts, conditions on the keys nephos supplies, policy variables,
revoked keys, the decision log, a Lambda function's own calls, SNS delivering to SQS,
and decisions that must follow the policies when they change.

One nephos serves the module (with `--enforce-iam`); each test acts in accounts of its
own. Tests that move the clock start their own nephos.
"""

import base64
import hashlib
import hmac
import itertools
import json
import struct
import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import Nephos
from lambdautil import zip_bytes

REGION = "us-east-1"
_accounts = itertools.count(741_000_000_001)


def new_account():
    return f"{next(_accounts):012d}"


def doc(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action, resource="*", **extra):
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action, resource="*", **extra):
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


@pytest.fixture(scope="module")
def server():
    s = Nephos("--enforce-iam", "--quiet")
    yield s
    s.stop()


class Account:
    """One account: its root's clients, and IAM users made in it."""

    def __init__(self, server, account=None):
        self.server = server
        self.id = account or new_account()

    def root(self, service, region=REGION):
        return self.client(service, (self.id, "test", None), region)

    def client(self, service, creds, region=REGION):
        key, secret, token = creds
        return boto3.client(
            service,
            endpoint_url=self.server.endpoint,
            region_name=region,
            aws_access_key_id=key,
            aws_secret_access_key=secret,
            aws_session_token=token,
            config=Config(retries={"max_attempts": 0}, s3={"addressing_style": "path"}),
        )

    def user(self, name, *statements, boundary=None, tags=None):
        """An IAM user with an inline policy of `statements` (none: no policy); its
        access key as (id, secret, None)."""
        iam = self.root("iam")
        kw = {"Tags": [{"Key": k, "Value": v} for k, v in tags.items()]} if tags else {}
        if boundary:
            kw["PermissionsBoundary"] = boundary
        iam.create_user(UserName=name, **kw)
        if statements:
            iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=doc(*statements))
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return key["AccessKeyId"], key["SecretAccessKey"], None

    def arn(self, kind, name):
        return f"arn:aws:iam::{self.id}:{kind}/{name}"

    def managed(self, name, *statements):
        return self.root("iam").create_policy(PolicyName=name, PolicyDocument=doc(*statements))["Policy"]["Arn"]

    def role(self, name, *statements, trust=None):
        iam = self.root("iam")
        trust = trust or doc(
            {"Effect": "Allow", "Principal": {"AWS": self.id}, "Action": ["sts:AssumeRole", "sts:TagSession"]}
        )
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
        if statements:
            iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=doc(*statements))
        return arn


def creds_of(c):
    return c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"]


def refusal(call, *args, **kwargs):
    with pytest.raises(ClientError) as e:
        call(*args, **kwargs)
    return e.value.response


def assert_denied(response, who, action, resource, why, code="AccessDenied", status=403, quote=False):
    """AWS's denial: `User: <who> is not authorized to perform: <action> on resource:
    <resource> <why>`."""
    err = response["Error"]
    assert response["ResponseMetadata"]["HTTPStatusCode"] == status, err
    assert err["Code"] == code, err
    shown = f'"{resource}"' if quote else resource
    assert err["Message"] == f"User: {who} is not authorized to perform: {action} on resource: {shown} {why}", err


def no_identity(action):
    return f"because no identity-based policy allows the {action} action"


def totp(seed_b32, at):
    """RFC 6238 code (30 s steps, HMAC-SHA1, six digits) of a base32 seed at Unix time `at`."""
    key = base64.b32decode(seed_b32 + b"=" * (-len(seed_b32) % 8))
    mac = hmac.new(key, struct.pack(">Q", int(at) // 30), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    return f"{(struct.unpack('>I', mac[offset:offset + 4])[0] & 0x7FFFFFFF) % 1_000_000:06d}"


# ---------------------------------------------------------------------------------------
# How policies combine.


def test_an_explicit_deny_beats_any_allow(server):
    a = Account(server)
    s3 = a.root("s3")
    s3.create_bucket(Bucket=f"b-{a.id}")
    b = f"b-{a.id}"
    s3.put_object(Bucket=b, Key="public.txt", Body=b"p")
    s3.put_object(Bucket=b, Key="secret/x", Body=b"s")
    user = a.user(
        "dev",
        allow("s3:*", [f"arn:aws:s3:::{b}", f"arn:aws:s3:::{b}/*"]),
        deny("s3:GetObject", f"arn:aws:s3:::{b}/secret/*"),
    )
    as_dev = a.client("s3", user)
    assert as_dev.get_object(Bucket=b, Key="public.txt")["Body"].read() == b"p"
    r = refusal(as_dev.get_object, Bucket=b, Key="secret/x")
    assert_denied(
        r, a.arn("user", "dev"), "s3:GetObject", f"arn:aws:s3:::{b}/secret/x",
        "with an explicit deny in an identity-based policy", quote=True,
    )
    # The deny names GetObject only.
    as_dev.put_object(Bucket=b, Key="secret/y", Body=b"w")


def test_a_permissions_boundary_limits_what_policies_allow(server):
    a = Account(server)
    url = a.root("sqs").create_queue(QueueName="jobs")["QueueUrl"]
    boundary = a.managed("send-only", allow(["sqs:SendMessage", "sqs:GetQueueUrl"]))
    user = a.user("worker", allow("sqs:*"), boundary=boundary)
    sqs = a.client("sqs", user)
    sqs.send_message(QueueUrl=url, MessageBody="m")
    r = refusal(sqs.receive_message, QueueUrl=url)
    assert_denied(
        r, a.arn("user", "worker"), "sqs:ReceiveMessage", f"arn:aws:sqs:{REGION}:{a.id}:jobs",
        "because no permissions boundary allows the sqs:ReceiveMessage action",
    )
    a.root("iam").delete_user_permissions_boundary(UserName="worker")
    assert sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"] == "m"


def test_session_policies_of_assume_role_limit_the_session(server):
    a = Account(server)
    ddb = a.root("dynamodb")
    ddb.create_table(
        TableName="t", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
    )
    table = f"arn:aws:dynamodb:{REGION}:{a.id}:table/t"
    role = a.role("app", allow("dynamodb:*", table))
    user = a.user("dev", allow("sts:AssumeRole", role))
    sts = a.client("sts", user)
    key = {"pk": {"S": "k"}}

    # `Policy`: only GetItem.
    s = sts.assume_role(RoleArn=role, RoleSessionName="s1", Policy=doc(allow("dynamodb:GetItem", table)))
    ddb_s = a.client("dynamodb", creds_of(s["Credentials"]))
    ddb_s.get_item(TableName="t", Key=key)
    r = refusal(ddb_s.put_item, TableName="t", Item=key)
    assert_denied(
        r, f"arn:aws:sts::{a.id}:assumed-role/app/s1", "dynamodb:PutItem", table,
        "because no session policy allows the dynamodb:PutItem action",
        code="AccessDeniedException", status=400,
    )

    # `PolicyArns`: only PutItem.
    put_only = a.managed("put-only", allow("dynamodb:PutItem", "*"))
    s = sts.assume_role(RoleArn=role, RoleSessionName="s2", PolicyArns=[{"arn": put_only}])
    ddb_s = a.client("dynamodb", creds_of(s["Credentials"]))
    ddb_s.put_item(TableName="t", Item=key)
    r = refusal(ddb_s.get_item, TableName="t", Key=key)
    assert "because no session policy allows the dynamodb:GetItem action" in r["Error"]["Message"]

    # A session policy grants nothing the role does not have.
    s = sts.assume_role(RoleArn=role, RoleSessionName="s3", Policy=doc(allow("sqs:ListQueues")))
    r = refusal(a.client("sqs", creds_of(s["Credentials"])).list_queues)
    assert_denied(
        r, f"arn:aws:sts::{a.id}:assumed-role/app/s3", "sqs:ListQueues", "*", no_identity("sqs:ListQueues")
    )


def test_role_sessions_act_with_the_roles_policies(server):
    a = Account(server)
    role = a.role("reader", allow("sns:ListTopics"))
    user = a.user("dev", allow("sts:AssumeRole", role))
    s = a.client("sts", user).assume_role(RoleArn=role, RoleSessionName="s1")["Credentials"]
    sns = a.client("sns", creds_of(s))
    sns.list_topics()
    r = refusal(sns.create_topic, Name="t")
    assert_denied(
        r, f"arn:aws:sts::{a.id}:assumed-role/reader/s1", "sns:CreateTopic", f"arn:aws:sns:{REGION}:{a.id}:t",
        no_identity("sns:CreateTopic"), code="AuthorizationError",
    )
    # The session sees the role's policies as they change.
    a.root("iam").put_role_policy(RoleName="reader", PolicyName="create", PolicyDocument=doc(allow("sns:CreateTopic")))
    sns.create_topic(Name="t")
    # The user's own policies are not the session's.
    r = refusal(a.client("sns", user).list_topics)
    assert_denied(r, a.arn("user", "dev"), "sns:ListTopics", "*", no_identity("sns:ListTopics"), code="AuthorizationError")


def test_federated_users_have_what_the_user_and_the_session_policy_both_allow(server):
    a = Account(server)
    b = f"fed-{a.id}"
    a.root("s3").create_bucket(Bucket=b)
    a.root("s3").put_object(Bucket=b, Key="k", Body=b"x")
    user = a.user(
        "broker",
        allow("sts:GetFederationToken"),
        allow(["s3:ListBucket", "s3:GetObject"], [f"arn:aws:s3:::{b}", f"arn:aws:s3:::{b}/*"]),
    )
    sts = a.client("sts", user)
    fed = sts.get_federation_token(Name="alice", Policy=doc(allow("s3:ListBucket", f"arn:aws:s3:::{b}")))
    s3 = a.client("s3", creds_of(fed["Credentials"]))
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=b)["Contents"]] == ["k"]
    r = refusal(s3.get_object, Bucket=b, Key="k")
    assert_denied(
        r, f"arn:aws:sts::{a.id}:federated-user/alice", "s3:GetObject", f"arn:aws:s3:::{b}/k",
        "because no session policy allows the s3:GetObject action", quote=True,
    )
    # Without a session policy a federated user may do nothing.
    bare = a.client("s3", creds_of(sts.get_federation_token(Name="bob")["Credentials"]))
    r = refusal(bare.list_objects_v2, Bucket=b)
    assert r["Error"]["Code"] == "AccessDenied"
    assert r["Error"]["Message"].startswith(f"User: arn:aws:sts::{a.id}:federated-user/bob is not authorized")


# ---------------------------------------------------------------------------------------
# Resource policies, within an account and across accounts.


def cross_account_case(server, make, call, action, code, status=403, quote=False):
    """Account A owns a resource made by `make(a, principal, with_policy, case)` (returning
    its ARN), whose policy names `principal` (a user of account B); that user calls
    `call(client_factory, arn)`, which succeeds where both policies allow."""
    a, b = Account(server), Account(server)
    for case, (identity, resource_policy) in enumerate(
        [(True, True), (True, False), (False, True)]
    ):
        name = f"u{case}"
        user_arn = b.arn("user", name)
        b.root("iam").create_user(UserName=name)
        arn = make(a, user_arn, resource_policy, case)
        if identity:
            b.root("iam").put_user_policy(UserName=name, PolicyName="p", PolicyDocument=doc(allow(action, arn)))
        key = b.root("iam").create_access_key(UserName=name)["AccessKey"]
        creds = (key["AccessKeyId"], key["SecretAccessKey"], None)
        factory = lambda service, creds=creds: b.client(service, creds)  # noqa: E731
        if identity and resource_policy:
            call(factory, arn)
            continue
        try:
            call(factory, arn)
        except ClientError as e:
            why = (
                f"because no resource-based policy allows the {action} action"
                if identity
                else no_identity(action)
            )
            assert_denied(e.response, user_arn, action, arn, why, code=code, status=status, quote=quote)
        else:
            raise AssertionError(f"case {case}: {action} was allowed")
    # Within one account the resource policy alone lets a user in.
    c = Account(server)
    c.root("iam").create_user(UserName="solo")
    arn = make(c, c.arn("user", "solo"), True, 9)
    key = c.root("iam").create_access_key(UserName="solo")["AccessKey"]
    call(lambda service: c.client(service, (key["AccessKeyId"], key["SecretAccessKey"], None)), arn)


def test_cross_account_s3_needs_both_the_users_policy_and_the_bucket_policy(server):
    def make(a, user_arn, policy, case):
        b = f"x-{a.id}-{case}"
        s3 = a.root("s3")
        s3.create_bucket(Bucket=b)
        s3.put_object(Bucket=b, Key="k", Body=b"x")
        # Across accounts the policy names the other account (S3's own bucket policy
        # check knows principals only as accounts), which leaves the choice to that
        # account's policies; within one it names the user, which grants outright.
        user_account = user_arn.split(":")[4]
        principal = user_arn if user_account == a.id else user_account
        if policy:
            s3.put_bucket_policy(
                Bucket=b,
                Policy=doc({"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "s3:GetObject",
                            "Resource": f"arn:aws:s3:::{b}/*"}),
            )
        return f"arn:aws:s3:::{b}/k"

    def call(client, arn):
        bucket, key = arn.split(":::")[1].split("/", 1)
        assert client("s3").get_object(Bucket=bucket, Key=key)["Body"].read() == b"x"

    cross_account_case(server, make, call, "s3:GetObject", "AccessDenied", quote=True)


def test_cross_account_sqs_needs_both_the_users_policy_and_the_queue_policy(server):
    def make(a, user_arn, policy, case):
        arn = f"arn:aws:sqs:{REGION}:{a.id}:q{case}"
        attrs = {}
        if policy:
            attrs["Policy"] = doc({"Effect": "Allow", "Principal": {"AWS": user_arn}, "Action": "sqs:SendMessage",
                                   "Resource": arn})
        a.root("sqs").create_queue(QueueName=f"q{case}", Attributes=attrs)
        return arn

    def call(client, arn):
        _, _, _, region, account, name = arn.split(":")
        url = f"{client('sqs').meta.endpoint_url}/{account}/{name}"
        client("sqs").send_message(QueueUrl=url, MessageBody="m")

    cross_account_case(server, make, call, "sqs:SendMessage", "AccessDenied")


def test_cross_account_sns_needs_both_the_users_policy_and_the_topic_policy(server):
    def make(a, user_arn, policy, case):
        arn = a.root("sns").create_topic(Name=f"t{case}")["TopicArn"]
        if policy:
            a.root("sns").set_topic_attributes(
                TopicArn=arn, AttributeName="Policy",
                AttributeValue=doc({"Effect": "Allow", "Principal": {"AWS": user_arn}, "Action": "sns:Publish",
                                    "Resource": arn}),
            )
        return arn

    def call(client, arn):
        client("sns").publish(TopicArn=arn, Message="m")

    cross_account_case(server, make, call, "sns:Publish", "AuthorizationError")


def test_cross_account_lambda_needs_both_the_users_policy_and_the_function_policy(server):
    code = zip_bytes({"index.py": "def handler(event, context):\n    return 'hi'\n"})

    def make(a, user_arn, policy, case):
        lam = a.root("lambda")
        name = f"f{case}"
        role = a.role(
            f"r{case}",
            trust=doc({"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}),
        )
        arn = lam.create_function(
            FunctionName=name, Runtime="python3.12", Role=role,
            Handler="index.handler", Code={"ZipFile": code},
        )["FunctionArn"]
        if policy:
            lam.add_permission(FunctionName=name, StatementId="s", Action="lambda:GetFunctionConfiguration",
                               Principal=user_arn)
        return arn

    def call(client, arn):
        assert client("lambda").get_function_configuration(FunctionName=arn)["FunctionArn"] == arn

    cross_account_case(server, make, call, "lambda:GetFunctionConfiguration", "AccessDeniedException")


# ---------------------------------------------------------------------------------------
# Conditions on the keys nephos supplies.


def test_source_ip(server):
    a = Account(server)
    here = a.user("here", allow("sqs:ListQueues", Condition={"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}}))
    there = a.user("there", allow("sqs:ListQueues", Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}))
    a.client("sqs", here).list_queues()
    r = refusal(a.client("sqs", there).list_queues)
    assert_denied(r, a.arn("user", "there"), "sqs:ListQueues", "*", no_identity("sqs:ListQueues"))


def test_current_time_and_epoch_time_move_with_nephos_clock(start_nephos):
    server = start_nephos("--enforce-iam", "--quiet")
    a = Account(server)
    now = server.internal("/_nephos/clock")["now_ms"] / 1000
    until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 3600))
    by_date = a.user("d", allow("sqs:ListQueues", Condition={"DateLessThan": {"aws:CurrentTime": until}}))
    by_epoch = a.user(
        "e", allow("sqs:ListQueues", Condition={"NumericLessThan": {"aws:EpochTime": str(int(now) + 3600)}})
    )
    for u in (by_date, by_epoch):
        a.client("sqs", u).list_queues()
    server.internal("/_nephos/clock", {"advance_seconds": 7200})
    for name, u in (("d", by_date), ("e", by_epoch)):
        r = refusal(a.client("sqs", u).list_queues)
        assert_denied(r, a.arn("user", name), "sqs:ListQueues", "*", no_identity("sqs:ListQueues"))


def test_principal_tags_from_user_tags_and_session_tags(server):
    a = Account(server)
    blue_only = allow("dynamodb:ListTables", Condition={"StringEquals": {"aws:PrincipalTag/team": "blue"}})
    user = a.user("dev", blue_only, allow("sts:AssumeRole"), allow("sts:TagSession"), tags={"team": "blue"})
    ddb = a.client("dynamodb", user)
    ddb.list_tables()
    a.root("iam").tag_user(UserName="dev", Tags=[{"Key": "team", "Value": "red"}])
    r = refusal(ddb.list_tables)
    assert_denied(
        r, a.arn("user", "dev"), "dynamodb:ListTables", "*", no_identity("dynamodb:ListTables"),
        code="AccessDeniedException", status=400,
    )
    # Session tags are the session's principal tags.
    role = a.role(
        "tagged", allow("dynamodb:ListTables", Condition={"StringEquals": {"aws:PrincipalTag/team": "green"}})
    )
    sts = a.client("sts", user)
    green = sts.assume_role(RoleArn=role, RoleSessionName="green", Tags=[{"Key": "team", "Value": "green"}])
    a.client("dynamodb", creds_of(green["Credentials"])).list_tables()
    other = sts.assume_role(RoleArn=role, RoleSessionName="gray", Tags=[{"Key": "team", "Value": "gray"}])
    r = refusal(a.client("dynamodb", creds_of(other["Credentials"])).list_tables)
    assert r["Error"]["Code"] == "AccessDeniedException"


def test_request_tags_and_tag_keys_on_create(server):
    a = Account(server)
    only_dev = {
        "StringEquals": {"aws:RequestTag/env": "dev"},
        "ForAllValues:StringEquals": {"aws:TagKeys": ["env"]},
    }
    user = a.user("dev", allow(["sqs:CreateQueue", "sqs:TagQueue"], Condition=only_dev))
    sqs = a.client("sqs", user)
    sqs.create_queue(QueueName="ok", tags={"env": "dev"})
    for name, tags in (("prod", {"env": "prod"}), ("extra", {"env": "dev", "owner": "me"}), ("none", {})):
        r = refusal(sqs.create_queue, QueueName=name, tags=tags)
        assert_denied(
            r, a.arn("user", "dev"), "sqs:CreateQueue", f"arn:aws:sqs:{REGION}:{a.id}:{name}",
            no_identity("sqs:CreateQueue"),
        )
    # Tagging on create is tagging: sqs:TagQueue too.
    creator = a.user("creator", allow("sqs:CreateQueue"))
    r = refusal(a.client("sqs", creator).create_queue, QueueName="t", tags={"env": "dev"})
    assert_denied(
        r, a.arn("user", "creator"), "sqs:TagQueue", f"arn:aws:sqs:{REGION}:{a.id}:t", no_identity("sqs:TagQueue")
    )
    a.client("sqs", creator).create_queue(QueueName="untagged")


def test_resource_tags(server):
    a = Account(server)
    sqs = a.root("sqs")
    dev = sqs.create_queue(QueueName="dev", tags={"env": "dev"})["QueueUrl"]
    plain = sqs.create_queue(QueueName="plain")["QueueUrl"]
    user = a.user("dev", allow("sqs:SendMessage", Condition={"StringEquals": {"aws:ResourceTag/env": "dev"}}))
    as_dev = a.client("sqs", user)
    as_dev.send_message(QueueUrl=dev, MessageBody="m")
    r = refusal(as_dev.send_message, QueueUrl=plain, MessageBody="m")
    assert_denied(
        r, a.arn("user", "dev"), "sqs:SendMessage", f"arn:aws:sqs:{REGION}:{a.id}:plain", no_identity("sqs:SendMessage")
    )
    sqs.tag_queue(QueueUrl=plain, Tags={"env": "dev"})
    as_dev.send_message(QueueUrl=plain, MessageBody="m")


def test_requested_region(server):
    a = Account(server)
    user = a.user("dev", allow("dynamodb:ListTables", Condition={"StringEquals": {"aws:RequestedRegion": "us-east-1"}}))
    a.client("dynamodb", user).list_tables()
    r = refusal(a.client("dynamodb", user, region="eu-west-1").list_tables)
    assert r["Error"]["Code"] == "AccessDeniedException"
    assert "dynamodb:ListTables" in r["Error"]["Message"]


def test_multi_factor_auth_present_only_with_mfa_sessions(server):
    a = Account(server)
    iam = a.root("iam")
    user = a.user(
        "ops", allow("sts:GetSessionToken"),
        allow("sqs:ListQueues", Condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}}),
    )
    # A long-term key carries no aws:MultiFactorAuthPresent at all.
    r = refusal(a.client("sqs", user).list_queues)
    assert_denied(r, a.arn("user", "ops"), "sqs:ListQueues", "*", no_identity("sqs:ListQueues"))
    sts = a.client("sts", user)
    no_mfa = sts.get_session_token()["Credentials"]
    assert refusal(a.client("sqs", creds_of(no_mfa)).list_queues)["Error"]["Code"] == "AccessDenied"
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName="ops-phone")["VirtualMFADevice"]
    seed = device["Base32StringSeed"]
    now = server.internal("/_nephos/clock")["now_ms"] / 1000
    iam.enable_mfa_device(
        UserName="ops", SerialNumber=device["SerialNumber"],
        AuthenticationCode1=totp(seed, now - 30), AuthenticationCode2=totp(seed, now),
    )
    with_mfa = sts.get_session_token(SerialNumber=device["SerialNumber"], TokenCode=totp(seed, now + 30))
    a.client("sqs", creds_of(with_mfa["Credentials"])).list_queues()


def test_s3_prefix_on_list_objects(server):
    a = Account(server)
    b = f"p-{a.id}"
    a.root("s3").create_bucket(Bucket=b)
    user = a.user(
        "alice", allow("s3:ListBucket", f"arn:aws:s3:::{b}", Condition={"StringLike": {"s3:prefix": "home/alice/*"}})
    )
    s3 = a.client("s3", user)
    s3.list_objects_v2(Bucket=b, Prefix="home/alice/")
    for prefix in ("home/bob/", ""):
        r = refusal(s3.list_objects_v2, Bucket=b, Prefix=prefix)
        assert_denied(
            r, a.arn("user", "alice"), "s3:ListBucket", f"arn:aws:s3:::{b}", no_identity("s3:ListBucket"), quote=True
        )


def test_dynamodb_leading_keys_follow_the_tables_partition_key(server):
    a = Account(server)
    a.root("dynamodb").create_table(
        TableName="t", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
    )
    own_items = {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["${aws:username}"]}}
    user = a.user("alice", allow(["dynamodb:GetItem", "dynamodb:PutItem"], Condition=own_items))
    ddb = a.client("dynamodb", user)
    # The sort key first: the partition key is known from the table, not the order.
    ddb.put_item(TableName="t", Item={"sk": {"S": "bob"}, "pk": {"S": "alice"}})
    assert ddb.get_item(TableName="t", Key={"sk": {"S": "bob"}, "pk": {"S": "alice"}})["Item"]
    r = refusal(ddb.get_item, TableName="t", Key={"sk": {"S": "alice"}, "pk": {"S": "bob"}})
    assert_denied(
        r, a.arn("user", "alice"), "dynamodb:GetItem", f"arn:aws:dynamodb:{REGION}:{a.id}:table/t",
        no_identity("dynamodb:GetItem"), code="AccessDeniedException", status=400,
    )


def test_username_variable_gives_each_user_a_home_folder(server):
    a = Account(server)
    b = f"home-{a.id}"
    a.root("s3").create_bucket(Bucket=b)
    home = allow(["s3:GetObject", "s3:PutObject"], f"arn:aws:s3:::{b}/home/${{aws:username}}/*")
    alice = a.client("s3", a.user("alice", home))
    bob = a.client("s3", a.user("bob", home))
    alice.put_object(Bucket=b, Key="home/alice/notes", Body=b"a")
    bob.put_object(Bucket=b, Key="home/bob/notes", Body=b"b")
    r = refusal(alice.get_object, Bucket=b, Key="home/bob/notes")
    assert_denied(
        r, a.arn("user", "alice"), "s3:GetObject", f"arn:aws:s3:::{b}/home/bob/notes",
        no_identity("s3:GetObject"), quote=True,
    )


# ---------------------------------------------------------------------------------------
# Keys, the decision log, and decisions that follow changes.


def test_inactive_and_deleted_keys_are_refused(server):
    a = Account(server)
    user = a.user("dev", allow("sqs:ListQueues"))
    sqs = a.client("sqs", user)
    sqs.list_queues()
    iam = a.root("iam")
    iam.update_access_key(UserName="dev", AccessKeyId=user[0], Status="Inactive")
    r = refusal(sqs.list_queues)
    assert (r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Code"]) == (403, "InvalidClientTokenId")
    iam.update_access_key(UserName="dev", AccessKeyId=user[0], Status="Active")
    sqs.list_queues()
    iam.delete_access_key(UserName="dev", AccessKeyId=user[0])
    r = refusal(sqs.list_queues)
    assert r["Error"]["Code"] == "InvalidClientTokenId"
    r = refusal(a.client("s3", user).list_buckets)
    assert r["Error"]["Code"] == "InvalidAccessKeyId"


def test_the_decision_log_shows_the_statement_that_decided(server):
    a = Account(server)
    url = a.root("sqs").create_queue(QueueName="q")["QueueUrl"]
    a.root("iam").create_user(UserName="dev")
    a.root("iam").put_user_policy(
        UserName="dev", PolicyName="reader",
        PolicyDocument=doc({"Sid": "ReadQueue", **allow("sqs:GetQueueAttributes")}),
    )
    key = a.root("iam").create_access_key(UserName="dev")["AccessKey"]
    sqs = a.client("sqs", (key["AccessKeyId"], key["SecretAccessKey"], None))
    for _ in range(2):  # the second is answered from the decision cache
        rid = sqs.get_queue_attributes(QueueUrl=url)["ResponseMetadata"]["RequestId"]
        [d] = [d for d in server.internal("/_nephos/iam/decisions")["decisions"] if d["request_id"] == rid]
        assert d["decision"] == "Allow"
        assert d["action"] == "sqs:GetQueueAttributes"
        assert d["resource"] == f"arn:aws:sqs:{REGION}:{a.id}:q"
        assert d["principal"] == a.arn("user", "dev")
        assert d["matched"] == [
            {"source": "Identity", "policy": "user/dev/reader", "sid": "ReadQueue", "statement": 0, "effect": "Allow"}
        ]
    r = refusal(sqs.send_message, QueueUrl=url, MessageBody="m")
    rid = r["ResponseMetadata"]["RequestId"]
    [d] = [d for d in server.internal("/_nephos/iam/decisions")["decisions"] if d["request_id"] == rid]
    assert d["decision"] == "ImplicitDeny"
    assert d["reason"] == no_identity("sqs:SendMessage")
    assert d["matched"] == []


def test_decisions_follow_policy_and_resource_changes(server):
    a = Account(server)
    b = f"c-{a.id}"
    s3 = a.root("s3")
    s3.create_bucket(Bucket=b)
    s3.put_object(Bucket=b, Key="k", Body=b"x")
    user = a.user("dev", allow("s3:GetObject", f"arn:aws:s3:::{b}/*"))
    as_dev = a.client("s3", user)
    for _ in range(3):
        as_dev.get_object(Bucket=b, Key="k")
    # A bucket policy's explicit deny applies at once.
    s3.put_bucket_policy(
        Bucket=b,
        Policy=doc({"Effect": "Deny", "Principal": {"AWS": a.arn("user", "dev")}, "Action": "s3:GetObject",
                    "Resource": f"arn:aws:s3:::{b}/*"}),
    )
    r = refusal(as_dev.get_object, Bucket=b, Key="k")
    assert "with an explicit deny in a resource-based policy" in r["Error"]["Message"]
    s3.delete_bucket_policy(Bucket=b)
    as_dev.get_object(Bucket=b, Key="k")
    # So does a change to the user's own policy.
    a.root("iam").put_user_policy(UserName="dev", PolicyName="p", PolicyDocument=doc(allow("s3:ListBucket")))
    r = refusal(as_dev.get_object, Bucket=b, Key="k")
    assert_denied(
        r, a.arn("user", "dev"), "s3:GetObject", f"arn:aws:s3:::{b}/k", no_identity("s3:GetObject"), quote=True
    )
    # And to a group the user joins.
    iam = a.root("iam")
    iam.create_group(GroupName="readers")
    iam.put_group_policy(GroupName="readers", PolicyName="r", PolicyDocument=doc(allow("s3:GetObject")))
    iam.add_user_to_group(GroupName="readers", UserName="dev")
    as_dev.get_object(Bucket=b, Key="k")


# ---------------------------------------------------------------------------------------
# Passing roles, Lambda functions' own calls, SNS delivering to SQS.


def test_passing_a_role_to_lambda_needs_iam_pass_role(server):
    a = Account(server)
    role = a.role(
        "fn", trust=doc({"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"})
    )
    code = {"ZipFile": zip_bytes({"index.py": "def handler(e, c):\n    return 1\n"})}
    create = dict(Runtime="python3.12", Role=role, Handler="index.handler", Code=code)
    lam = a.client("lambda", a.user("no-pass", allow("lambda:CreateFunction")))
    r = refusal(lam.create_function, FunctionName="f1", **create)
    assert_denied(
        r, a.arn("user", "no-pass"), "iam:PassRole", role, no_identity("iam:PassRole"), code="AccessDeniedException"
    )
    to_ec2 = {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}
    lam = a.client("lambda", a.user("ec2", allow("lambda:CreateFunction"), allow("iam:PassRole", role, Condition=to_ec2)))
    assert refusal(lam.create_function, FunctionName="f2", **create)["Error"]["Code"] == "AccessDeniedException"
    to_lambda = {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}
    lam = a.client(
        "lambda", a.user("ok", allow("lambda:CreateFunction"), allow("iam:PassRole", role, Condition=to_lambda))
    )
    assert lam.create_function(FunctionName="f3", **create)["Role"] == role


FUNCTION = """
import boto3, botocore

def handler(event, context):
    s3 = boto3.client("s3", config=botocore.config.Config(s3={"addressing_style": "path"}))
    out = {"me": boto3.client("sts").get_caller_identity()["Arn"]}
    for bucket in event["buckets"]:
        try:
            s3.list_objects_v2(Bucket=bucket)
            out[bucket] = "ok"
        except botocore.exceptions.ClientError as e:
            out[bucket] = e.response["Error"]["Code"] + ": " + e.response["Error"]["Message"]
    return out
"""


def test_a_functions_own_calls_are_decided_by_its_execution_role(server):
    a = Account(server)
    mine, theirs = f"mine-{a.id}", f"theirs-{a.id}"
    for b in (mine, theirs):
        a.root("s3").create_bucket(Bucket=b)
    role = a.role(
        "fn-role", allow("s3:ListBucket", f"arn:aws:s3:::{mine}"),
        trust=doc({"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}),
    )
    lam = a.root("lambda")
    lam.create_function(
        FunctionName="lister", Runtime="python3.12", Role=role, Handler="index.handler",
        Code={"ZipFile": zip_bytes({"index.py": FUNCTION})}, Timeout=30,
    )
    lam.get_waiter("function_active_v2").wait(FunctionName="lister", WaiterConfig={"Delay": 0.1, "MaxAttempts": 300})
    out = json.loads(lam.invoke(FunctionName="lister", Payload=json.dumps({"buckets": [mine, theirs]}))["Payload"].read())
    who = f"arn:aws:sts::{a.id}:assumed-role/fn-role/lister"
    assert out["me"] == who, out
    assert out[mine] == "ok", out
    assert out[theirs] == (
        f'AccessDenied: User: {who} is not authorized to perform: s3:ListBucket on resource: '
        f'"arn:aws:s3:::{theirs}" because no identity-based policy allows the s3:ListBucket action'
    ), out


def test_sns_delivers_to_a_queue_only_when_the_queue_policy_lets_it(server):
    a = Account(server)
    sns, sqs = a.root("sns"), a.root("sqs")
    topic = sns.create_topic(Name="events")["TopicArn"]
    url = sqs.create_queue(QueueName="inbox")["QueueUrl"]
    queue = f"arn:aws:sqs:{REGION}:{a.id}:inbox"
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue, Attributes={"RawMessageDelivery": "true"})
    sns.publish(TopicArn=topic, Message="dropped")
    time.sleep(0.5)
    assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)
    sqs.set_queue_attributes(
        QueueUrl=url,
        Attributes={"Policy": doc({"Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"},
                                   "Action": "sqs:SendMessage", "Resource": queue,
                                   "Condition": {"ArnEquals": {"aws:SourceArn": topic}}})},
    )
    sns.publish(TopicArn=topic, Message="delivered")
    got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5)["Messages"]
    assert [m["Body"] for m in got] == ["delivered"]


def test_delete_objects_reports_each_denied_key_and_deletes_the_others(server):
    """AWS answers a DeleteObjects request with an `AccessDenied` entry for each key the
    caller may not delete, and deletes the others."""
    a = Account(server)
    b = f"d-{a.id}"
    s3 = a.root("s3")
    s3.create_bucket(Bucket=b)
    for k in ("tmp/a", "keep/b", "tmp/c"):
        s3.put_object(Bucket=b, Key=k, Body=b"x")
    user = a.client("s3", a.user("dev", allow("s3:DeleteObject", f"arn:aws:s3:::{b}/tmp/*")))
    out = user.delete_objects(
        Bucket=b, Delete={"Objects": [{"Key": "tmp/a"}, {"Key": "keep/b"}, {"Key": "tmp/c"}]}
    )
    assert [d["Key"] for d in out["Deleted"]] == ["tmp/a", "tmp/c"]
    assert out["Errors"] == [{"Key": "keep/b", "Code": "AccessDenied", "Message": "Access Denied"}]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=b)["Contents"]] == ["keep/b"]
    # Every key refused: still an answer, with nothing deleted.
    out = user.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "keep/b"}], "Quiet": True})
    assert "Deleted" not in out and [e["Key"] for e in out["Errors"]] == ["keep/b"]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=b)["Contents"]] == ["keep/b"]
    # The decision log names the refused key.
    rid = out["ResponseMetadata"]["RequestId"]
    decided = [d for d in server.internal("/_nephos/iam/decisions")["decisions"] if d["request_id"] == rid]
    assert [(d["decision"], d["resource"]) for d in decided] == [("ImplicitDeny", f"arn:aws:s3:::{b}/keep/b")], decided


def test_logs_exports_to_a_bucket_only_when_its_policy_lets_logs_write(server):
    """With --enforce-iam CloudWatch Logs writes an export only into a bucket whose policy
    allows it (AWS's guide names the regional principal `logs.<region>.amazonaws.com`)."""
    a = Account(server)
    logs, s3 = a.root("logs"), a.root("s3")
    bucket = f"exports-{a.id}"
    s3.create_bucket(Bucket=bucket)
    logs.create_log_group(logGroupName="/app")
    args = dict(logGroupName="/app", fromTime=0, to=1, destination=bucket, destinationPrefix="x")
    with pytest.raises(ClientError) as e:
        logs.create_export_task(**args)
    assert e.value.response["Error"]["Code"] == "InvalidParameterException"
    assert "PutObject call on the given bucket failed" in e.value.response["Error"]["Message"]
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)
    logs_principal = {"Service": f"logs.{REGION}.amazonaws.com"}
    s3.put_bucket_policy(Bucket=bucket, Policy=doc(
        {"Effect": "Allow", "Principal": logs_principal, "Action": "s3:GetBucketAcl",
         "Resource": f"arn:aws:s3:::{bucket}"},
        {"Effect": "Allow", "Principal": logs_principal, "Action": "s3:PutObject",
         "Resource": f"arn:aws:s3:::{bucket}/*"},
    ))
    assert logs.create_export_task(**args)["taskId"]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["x/aws-logs-write-test"]


def test_aws_iam_function_urls_are_decided_by_the_callers_policies(server):
    """A function URL with AuthType AWS_IAM takes a signed request; under --enforce-iam an
    IAM user's request needs lambda:InvokeFunctionUrl from its policies."""
    import urllib.parse

    import requests
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    a = Account(server)
    role = a.role(
        "url-fn", trust=doc({"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"})
    )
    lam = a.root("lambda")
    lam.create_function(
        FunctionName="web", Runtime="python3.12", Role=role, Handler="index.handler",
        Code={"ZipFile": zip_bytes({"index.py": "def handler(e, c):\n    return 'hello'\n"})},
    )
    lam.get_waiter("function_active_v2").wait(FunctionName="web", WaiterConfig={"Delay": 0.1, "MaxAttempts": 300})
    url = lam.create_function_url_config(FunctionName="web", AuthType="AWS_IAM")["FunctionUrl"]
    host = urllib.parse.urlsplit(url).netloc
    fn_arn = f"arn:aws:lambda:{REGION}:{a.id}:function:web"
    allowed = a.user("caller", allow("lambda:InvokeFunctionUrl", fn_arn))
    denied = a.user("other", allow("lambda:GetFunction", fn_arn))

    def call(creds):
        req = AWSRequest("GET", f"http://{host}/", headers={"Host": host})
        SigV4Auth(Credentials(creds[0], creds[1]), "lambda", REGION).add_auth(req)
        return requests.get(f"{server.endpoint}/", headers=dict(req.headers), timeout=30)

    r = call(allowed)
    assert (r.status_code, r.text) == (200, "hello")
    r = call(denied)
    assert r.status_code == 403 and r.json()["Message"].startswith("Forbidden"), r.text
    assert call((a.id, "test")).status_code == 200  # the account's root
