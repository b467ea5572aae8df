"""IAM enforcement of every implemented operation (`--enforce-iam`), through the real wire.

For each operation the providers of STS, IAM, S3, S3 Control, SQS, SNS, DynamoDB,
DynamoDB Streams, Lambda and CloudWatch Logs answer (`nephos coverage`), a minimal valid
request is built from the botocore model: the required members, with the resources the
call names created first by the account's root. It is sent twice:

- by an IAM user with no policy: the service's own access-denied error, with AWS's
  message (`User: <arn> is not authorized to perform: <action> on resource: <arn> because
  no identity-based policy allows the <action> action`); the action must be one the
  Service Authorization Reference lists, the resource must fit one of the action's
  resource types, and the decision log must have recorded the same denial;
- by an IAM user whose policy allows exactly the actions on the resources nephos asks
  for (learned one denial at a time, each of which must be new): anything but an
  access-denied error.

One nephos serves the module; each service acts in its own account, each operation on
resources of its own, so the operations cannot disturb each other.
"""

import atexit
import base64
import datetime
import gzip
import io
import json
import pathlib
import re
import shutil
import socket
import subprocess
import tempfile
import time
import zipfile

import boto3
import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import ROOT, Nephos, nephos_binary

REGION = "us-east-1"
SERVICES = ["sts", "iam", "s3", "s3control", "sqs", "sns", "dynamodb", "dynamodbstreams", "lambda", "logs"]
# One account per service; the first digits are this file's.
ACCOUNTS = {s: f"73{i:02d}00000073" for i, s in enumerate(SERVICES)}

# AWS checks no permission for these (sts: anyone may ask who they are; GetSessionToken
# authenticates rather than acts).
NO_AUTHORIZATION = {("sts", "GetCallerIdentity"), ("sts", "GetSessionToken")}

# Operations the service itself refuses to an allowed IAM user, as AWS does.
SERVICE_DENIES = {
    # Only an organization's management account (with centralized root access) may.
    ("sts", "AssumeRoot"),
}

# Operations newer than the vendored Service Authorization Reference: their actions are
# named after them.
NEWER_THAN_REFERENCE = {
    ("iam", "AcquireRole"),
    ("iam", "GetRoleTemplateVersion"),
    ("lambda", "PauseDurableExecution"),
    ("lambda", "ResumeDurableExecution"),
    ("lambda", "DeleteDurableExecution"),
}

# What operations that need more than their own action need, all of it (the rest need
# exactly one action, checked against the reference).
EXPECTED = {
    ("lambda", "CreateFunction"): {"lambda:CreateFunction", "iam:PassRole"},
    ("lambda", "UpdateFunctionConfiguration"): {"lambda:UpdateFunctionConfiguration", "iam:PassRole"},
    ("s3", "PutBucketReplication"): {"s3:PutReplicationConfiguration", "iam:PassRole"},
    ("logs", "PutSubscriptionFilter"): {"logs:PutSubscriptionFilter", "iam:PassRole"},
    ("s3", "CopyObject"): {"s3:GetObject", "s3:PutObject"},
    ("s3", "UploadPartCopy"): {"s3:GetObject", "s3:PutObject"},
    # "you need the s3:GetObject and s3:GetObjectAttributes permissions" (GetObjectAttributes).
    ("s3", "GetObjectAttributes"): {"s3:GetObject", "s3:GetObjectAttributes"},
}

# Each service's access-denied answer: (HTTP status, error code as boto3 reports it).
DENIAL = {
    "s3": (403, "AccessDenied"),
    "s3control": (403, "AccessDenied"),
    "sns": (403, "AuthorizationError"),
    "sqs": (403, "AccessDenied"),
    "iam": (403, "AccessDenied"),
    "sts": (403, "AccessDenied"),
    "lambda": (403, "AccessDeniedException"),
    "dynamodb": (400, "AccessDeniedException"),
    "dynamodbstreams": (400, "AccessDeniedException"),
    "logs": (400, "AccessDeniedException"),
}

MESSAGE = re.compile(
    r"User: (?P<who>\S+) is not authorized to perform: (?P<action>\S+) on resource: "
    r"(?P<resource>\S+) because no identity-based policy allows the (?P<again>\S+) action"
)


def implemented():
    """(service, operation) for every operation the binary's providers answer."""
    out = subprocess.run([nephos_binary(), "coverage"], capture_output=True, text=True, check=True)
    ops = []
    for line in out.stdout.splitlines():
        m = re.match(r"\| (\S+) \| \d+ \| \d+ \| (.*) \|$", line)
        if m and m.group(1) in SERVICES:
            ops += [(m.group(1), op.strip()) for op in m.group(2).split(",") if op.strip()]
    return sorted(ops, key=lambda so: (SERVICES.index(so[0]), so[1]))


def reference():
    data = ROOT / "services/iam/data/service-authorization.json.gz"
    return json.loads(gzip.decompress(data.read_bytes()))


REFERENCE = reference()


def fits(template, arn):
    """Whether `arn` is an instance of a reference ARN template (`${Var}` any text)."""
    pattern = re.escape(template)
    pattern = re.sub(r"\\\$\\\{[A-Za-z]+\\\}", ".+", pattern)
    return re.fullmatch(pattern, arn) is not None


def boto_session():
    """A boto3 session that knows every operation nephos's models have: where the
    installed botocore lacks one (IAM's newest), nephos's own model stands in."""
    bs = botocore.session.get_session()
    installed = botocore.session.get_session()
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="nephos-models-"))
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    for service in SERVICES:
        model = json.loads(gzip.decompress((ROOT / f"models/{service}.json.gz").read_bytes()))
        try:
            known = set(installed.get_service_model(service).operation_names)
        except Exception:
            known = set()
        if set(model["operations"]) <= known:
            continue
        for param in model.get("clientContextParams", {}).values():
            param.setdefault("documentation", "")
        where = tmp / service / model["metadata"]["apiVersion"]
        where.mkdir(parents=True)
        (where / "service-2.json").write_text(json.dumps(model))
    bs.get_component("data_loader").search_paths.insert(0, str(tmp))
    return boto3.Session(botocore_session=bs)


SESSION = boto_session()


def client(server, service, key, secret="test", token=None):
    endpoint = server.endpoint
    if service == "s3control":
        # boto3 puts the account id before the host (`<account>.localhost`), which the
        # module's resolver sends to nephos.
        endpoint = f"http://localhost:{server.port}"
    return SESSION.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        aws_session_token=token,
        config=Config(retries={"max_attempts": 0}, s3={"addressing_style": "path"}, inject_host_prefix=False),
    )


def zip_of(files):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for path, text in files.items():
            z.writestr(path, text)
    return buf.getvalue()


HANDLER = zip_of({"index.py": "def handler(event, context):\n    return {'ok': True}\n"})


def doc(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def slug(op):
    return re.sub(r"[^a-z0-9]", "", op.lower())[:40]


# ---------------------------------------------------------------------------------------
# Values for the members a request needs.


def string_for(shape):
    """A plausible string the shape's constraints accept."""
    if shape.enum:
        return shape.enum[0]
    lo = shape.metadata.get("min", 1) or 1
    hi = shape.metadata.get("max", 256)
    pattern = shape.metadata.get("pattern")
    candidates = ["x" * max(lo, 1), "a1" + "x" * max(lo - 2, 0), "abc", "x1"]
    if pattern:
        try:
            compiled = re.compile(pattern)
        except re.error:
            compiled = None
        if compiled:
            for c in candidates:
                if lo <= len(c) <= hi and compiled.search(c):
                    return c
    return candidates[0][:hi]


def generate(shape, name, given, depth=0):
    """The required members of `shape`, `given` supplying values by member name."""
    if name in given:
        return given[name]
    kind = shape.type_name
    if kind == "structure":
        return {m: generate(shape.members[m], m, given, depth + 1) for m in shape.required_members}
    if kind == "list":
        n = max(1, shape.metadata.get("min", 0) or 0)
        return [generate(shape.member, name, given, depth + 1) for _ in range(n)]
    if kind == "map":
        n = shape.metadata.get("min", 0) or 0
        return {f"k{i}": generate(shape.value, name, given, depth + 1) for i in range(n)}
    if kind == "string":
        return string_for(shape)
    if kind in ("integer", "long"):
        lo = shape.metadata.get("min", 1)
        return max(lo, 1) if shape.metadata.get("max", 10**9) >= 1 else lo
    if kind in ("double", "float"):
        return 1.0
    if kind == "boolean":
        return False
    if kind == "timestamp":
        return datetime.datetime.now(datetime.timezone.utc)
    if kind == "blob":
        return b"x"
    return None


# ---------------------------------------------------------------------------------------
# The resources each operation acts on, created by the account's root.


class World:
    """What an operation's request names: values by member name, and by (operation,
    member) where a name means different things to different operations."""

    def __init__(self, env, service, op):
        self.env = env
        self.service = service
        self.op = op
        self.account = ACCOUNTS[service]
        self.suffix = slug(op)
        self.values = {}
        self.per_op = {}
        # Optional members that name what the request acts on (so the request is
        # authorized on its resource rather than `*`) or that pass a role.
        self.optional = set()
        build = getattr(self, f"build_{service}")
        build()

    def root(self, service):
        return client(self.env.server, service, self.account)

    def given(self):
        return {**self.values, **self.per_op.get(self.op, {})}

    def request(self, shape):
        """The operation's input: its required members, and the optional ones this world
        says name its resource."""
        if shape is None:
            return {}
        given = self.given()
        params = generate(shape, "", given)
        for member in shape.members:
            if member in self.optional and member not in params and member in given:
                params[member] = given[member]
        return params

    # -- IAM and STS --------------------------------------------------------------------
    def iam_entities(self):
        iam = self.root("iam")
        s = self.suffix
        user, group, role, profile = f"u-{s}", f"g-{s}", f"r-{s}", f"ip-{s}"
        iam.create_user(UserName=user)
        key = iam.create_access_key(UserName=user)["AccessKey"]["AccessKeyId"]
        iam.create_group(GroupName=group)
        trust = doc({"Effect": "Allow", "Principal": {"AWS": self.account}, "Action": "sts:AssumeRole"})
        role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
        policy_arn = iam.create_policy(
            PolicyName=f"p-{s}", PolicyDocument=doc({"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"})
        )["Policy"]["Arn"]
        iam.create_instance_profile(InstanceProfileName=profile)
        return user, key, group, role, role_arn, policy_arn, profile

    def build_iam(self):
        user, key, group, role, role_arn, policy_arn, profile = self.iam_entities()
        a = self.account
        creates = self.op.startswith("Create") or self.op.startswith("Upload")
        self.values = {
            "UserName": f"new-{self.suffix}" if self.op == "CreateUser" else user,
            "GroupName": f"new-{self.suffix}" if self.op == "CreateGroup" else group,
            "RoleName": f"new-{self.suffix}" if self.op in ("CreateRole",) else role,
            "InstanceProfileName": f"new-{self.suffix}" if self.op == "CreateInstanceProfile" else profile,
            "PolicyArn": policy_arn,
            "PermissionsBoundary": policy_arn,
            "PolicyName": "inline",
            "PolicyDocument": doc({"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}),
            "AssumeRolePolicyDocument": doc(
                {"Effect": "Allow", "Principal": {"AWS": a}, "Action": "sts:AssumeRole"}
            ),
            "AccessKeyId": key,
            "Status": "Active",
            "SerialNumber": f"arn:aws:iam::{a}:mfa/dev-{self.suffix}",
            "VirtualMFADeviceName": f"dev-{self.suffix}",
            "AuthenticationCode1": "123456",
            "AuthenticationCode2": "654321",
            "OldPassword": "Old-password-1",
            "NewPassword": "New-password-1",
            "Password": "New-password-1",
            "CertificateBody": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
            "PrivateKey": "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----",
            "CertificateId": "ASCACERTIFICATEID00000001",
            "ServerCertificateName": f"cert-{self.suffix}",
            "SSHPublicKeyBody": "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ nephos",
            "SSHPublicKeyId": "APKAEIBAERJR2EXAMPLE",
            "Encoding": "SSH",
            "ServiceSpecificCredentialId": "ACCAEXAMPLE123456789",
            "ServiceName": "codecommit.amazonaws.com",
            "Url": f"https://oidc-{self.suffix}.example.com",
            "ClientID": "client",
            "ThumbprintList": ["a" * 40],
            "OpenIDConnectProviderArn": f"arn:aws:iam::{a}:oidc-provider/oidc-{self.suffix}.example.com",
            "SAMLProviderArn": f"arn:aws:iam::{a}:saml-provider/saml-{self.suffix}",
            "SAMLMetadataDocument": "x" * 1000,
            "Name": f"saml-{self.suffix}",
            "AWSServiceName": "elasticbeanstalk.amazonaws.com",
            "DeletionTaskId": f"task/aws-service-role/elasticbeanstalk.amazonaws.com/AWSServiceRoleForElasticBeanstalk/{'0' * 36}",
            "JobId": "0" * 36,
            "AccountAlias": f"alias-{self.suffix}"[:60],
            "Arn": role_arn,
            "PolicySourceArn": f"arn:aws:iam::{a}:user/{user}",
            "ActionNames": ["s3:GetObject"],
            "PolicyInputList": [doc({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"})],
            "ServiceNamespace": "s3",
            "ServiceNamespaces": ["s3"],
            "VersionId": "v1",
            "Description": "d",
            "GlobalEndpointTokenVersion": "v2Token",
            "Tags": [{"Key": "k", "Value": "v"}],
            "TagKeys": ["k"],
        }
        if creates and self.op == "CreatePolicy":
            self.values["PolicyName"] = f"new-{self.suffix}"

    def build_sts(self):
        iam = self.root("iam")
        a = self.account
        trust = doc({"Effect": "Allow", "Principal": {"AWS": a}, "Action": "sts:AssumeRole"})
        role_arn = iam.create_role(RoleName=f"r-{self.suffix}", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
        self.values = {
            "RoleArn": role_arn,
            "RoleSessionName": "session",
            "Name": "federated",
            "AccessKeyId": "AKIAIOSFODNN7EXAMPLE",
            "EncodedMessage": "encoded-message",
            "PrincipalArn": f"arn:aws:iam::{a}:saml-provider/idp",
            "SAMLAssertion": base64.b64encode(b"<Response/>").decode() + "x" * 4,
            "WebIdentityToken": "x" * 16,
            "TargetPrincipal": "111122223333",
            "TaskPolicyArn": {"arn": "arn:aws:iam::aws:policy/root-task/S3UnlockBucketPolicy"},
        }

    # -- S3 --------------------------------------------------------------------------------
    def build_s3(self):
        s3 = self.root("s3")
        bucket = f"enf-{self.suffix}"
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key="obj.txt", Body=b"hello")
        upload = s3.create_multipart_upload(Bucket=bucket, Key="obj.txt")["UploadId"]
        self.values = {
            "Bucket": f"new-{self.suffix}" if self.op == "CreateBucket" else bucket,
            "Key": "obj.txt",
            "UploadId": upload,
            "CopySource": f"{bucket}/obj.txt",
            "Id": "cfg1",
            "PartNumber": 1,
            "Policy": doc(
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": self.account},
                    "Action": "s3:GetObject",
                    "Resource": f"arn:aws:s3:::{bucket}/*",
                }
            ),
            "Delete": {"Objects": [{"Key": "obj.txt"}]},
            "ObjectAttributes": ["ETag"],
            "Tagging": {"TagSet": [{"Key": "k", "Value": "v"}]},
            "ReplicationConfiguration": {
                "Role": f"arn:aws:iam::{self.account}:role/replication",
                "Rules": [{"Status": "Enabled", "Destination": {"Bucket": "arn:aws:s3:::elsewhere"}}],
            },
        }

    def build_s3control(self):
        self.values = {"AccountId": self.account, "PublicAccessBlockConfiguration": {"BlockPublicAcls": True}}

    # -- SQS and SNS -----------------------------------------------------------------------
    def build_sqs(self):
        sqs = self.root("sqs")
        name = f"enf-{self.suffix}"
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = f"arn:aws:sqs:{REGION}:{self.account}:{name}"
        handle = base64.b64encode(json.dumps({"taskId": "t", "sourceArn": arn}).encode()).decode()
        self.values = {
            "QueueUrl": url,
            "QueueName": f"new-{self.suffix}" if self.op == "CreateQueue" else name,
            "SourceArn": arn,
            "TaskHandle": handle,
            "ReceiptHandle": "handle",
            "MessageBody": "hello",
            "Label": "label",
            "AWSAccountIds": [self.account],
            "Actions": ["SendMessage"],
            "Attributes": {"DelaySeconds": "0"},
            "Tags": {"k": "v"},
            "TagKeys": ["k"],
            "VisibilityTimeout": 0,
        }

    def build_sns(self):
        sns = self.root("sns")
        sqs = self.root("sqs")
        topic = sns.create_topic(Name=f"enf-{self.suffix}")["TopicArn"]
        queue = f"enf-{self.suffix}"
        sqs.create_queue(QueueName=queue)
        queue_arn = f"arn:aws:sqs:{REGION}:{self.account}:{queue}"
        sub = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, ReturnSubscriptionArn=True)[
            "SubscriptionArn"
        ]
        app = sns.create_platform_application(
            Name=f"app-{self.suffix}", Platform="GCM", Attributes={"PlatformCredential": "key"}
        )["PlatformApplicationArn"]
        endpoint = sns.create_platform_endpoint(PlatformApplicationArn=app, Token=f"tok-{self.suffix}")["EndpointArn"]
        self.values = {
            "TopicArn": topic,
            "ResourceArn": topic,
            "SubscriptionArn": sub,
            "PlatformApplicationArn": app,
            "EndpointArn": endpoint,
            "TargetArn": topic,
            "Name": f"new-{self.suffix}",
            "Platform": "GCM",
            "Attributes": {},
            "AttributeName": "DisplayName",
            "Message": "hello",
            "Protocol": "sqs",
            "Label": "label",
            "AWSAccountId": [self.account],
            "ActionName": ["Publish"],
            "Token": "token",
            "PhoneNumber": "+15555550100",
            "phoneNumber": "+15555550100",
            "OneTimePassword": "123456",
            "attributes": {},
            "DataProtectionPolicy": "{}",
            "PublishBatchRequestEntries": [{"Id": "m1", "Message": "hello"}],
            "Tags": [{"Key": "k", "Value": "v"}],
            "TagKeys": ["k"],
        }
        self.per_op = {
            "CreatePlatformApplication": {"Attributes": {"PlatformCredential": "key"}},
            "SetPlatformApplicationAttributes": {"Attributes": {"PlatformCredential": "key2"}},
            "SetEndpointAttributes": {"Attributes": {"Enabled": "true"}},
            "SetSMSAttributes": {"attributes": {"DefaultSMSType": "Promotional"}},
            "SetSubscriptionAttributes": {"AttributeName": "RawMessageDelivery"},
        }
        self.optional = {"TopicArn"}

    # -- DynamoDB --------------------------------------------------------------------------
    def build_dynamodb(self):
        ddb = self.root("dynamodb")
        table = f"enf-{self.suffix}"
        desc = ddb.create_table(
            TableName=table,
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )["TableDescription"]
        arn = desc["TableArn"]
        stream = desc.get("LatestStreamArn", f"{arn}/stream/2024-01-01T00:00:00.000")
        ddb.put_item(TableName=table, Item={"pk": {"S": "k1"}})
        backup = ddb.create_backup(TableName=table, BackupName="bk1")["BackupDetails"]["BackupArn"]
        key = {"pk": {"S": "k1"}}
        new = f"new-{self.suffix}"
        self.values = {
            "TableName": new if self.op == "CreateTable" else table,
            "TableArn": arn,
            "ResourceArn": arn,
            "TargetTableName": new,
            "GlobalTableName": table,
            "StreamArn": stream,
            "Key": key,
            "Item": key,
            "BackupArn": backup,
            "BackupName": "bk2",
            "ExportArn": f"{arn}/export/01700000000000-abcdef12",
            "ImportArn": f"{arn}/import/01700000000000-abcdef12",
            "S3Bucket": "bucket",
            "S3BucketSource": {"S3Bucket": "bucket"},
            "InputFormat": "CSV",
            "Statement": f'SELECT * FROM "{table}"',
            "Statements": [{"Statement": f'SELECT * FROM "{table}"'}],
            "TransactStatements": [{"Statement": f"SELECT * FROM \"{table}\" WHERE pk = 'k1'"}],
            "ReplicationGroup": [{"RegionName": REGION}],
            "ReplicaUpdates": [{"Create": {"RegionName": "us-west-2"}}],
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "TimeToLiveSpecification": {"Enabled": True, "AttributeName": "ttl"},
            "TableCreationParameters": {
                "TableName": new,
                "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                "BillingMode": "PAY_PER_REQUEST",
            },
            "Policy": doc(
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{self.account}:root"},
                    "Action": "dynamodb:GetItem",
                    "Resource": arn,
                }
            ),
            "Tags": [{"Key": "k", "Value": "v"}],
            "TagKeys": ["k"],
            "ShardId": "shardId-00000001700000000000-00000001",
            "ShardIterator": "iterator",
            "ShardIteratorType": "TRIM_HORIZON",
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        }
        self.per_op = {
            "BatchGetItem": {"RequestItems": {table: {"Keys": [key]}}},
            "BatchWriteItem": {"RequestItems": {table: [{"PutRequest": {"Item": key}}]}},
            "TransactGetItems": {"TransactItems": [{"Get": {"TableName": table, "Key": key}}]},
            "TransactWriteItems": {"TransactItems": [{"Put": {"TableName": table, "Item": key}}]},
            "CreateTable": {"BillingMode": "PAY_PER_REQUEST"},
        }
        self.values["SourceTableName"] = table
        self.optional = {"SourceTableName"}

    build_dynamodbstreams = build_dynamodb

    # -- Lambda ----------------------------------------------------------------------------
    def build_lambda(self):
        iam = self.root("iam")
        lam = self.root("lambda")
        trust = doc({"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"})
        role = iam.create_role(RoleName=f"fn-{self.suffix}", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
        name = f"enf-{self.suffix}"
        fn = lam.create_function(
            FunctionName=name, Runtime="python3.12", Role=role, Handler="index.handler", Code={"ZipFile": HANDLER}
        )["FunctionArn"]
        lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 100})
        lam.publish_version(FunctionName=name)
        lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
        layer = lam.publish_layer_version(LayerName=f"layer-{self.suffix}", Content={"ZipFile": HANDLER})
        signer = f"arn:aws:signer:{REGION}:{self.account}:/signing-profiles/p/abcdefghij"
        csc = lam.create_code_signing_config(AllowedPublishers={"SigningProfileVersionArns": [signer]})[
            "CodeSigningConfig"
        ]["CodeSigningConfigArn"]
        self.values = {
            "FunctionName": f"new-{self.suffix}" if self.op == "CreateFunction" else name,
            "Role": role,
            "Runtime": "python3.12",
            "Handler": "index.handler",
            "Code": {"ZipFile": HANDLER},
            "Content": {"ZipFile": HANDLER},
            "Qualifier": "live",
            "Name": "live" if self.op != "CreateAlias" else "new",
            "FunctionVersion": "1",
            "Action": "lambda:InvokeFunction",
            "Principal": "s3.amazonaws.com",
            "StatementId": "sid1",
            "AuthType": "NONE",
            "LayerName": layer["LayerArn"].rsplit(":", 1)[1] if self.op != "PublishLayerVersion" else f"new-{self.suffix}",
            "VersionNumber": 1,
            "Arn": layer["LayerVersionArn"],
            "CodeSigningConfigArn": csc,
            "AllowedPublishers": {"SigningProfileVersionArns": [signer]},
            "UUID": "00000000-0000-0000-0000-000000000000",
            "DurableExecutionArn": f"{fn}:$LATEST/durable-execution/exec-{self.suffix}/0123456789abcdef",
            "InvokeArgs": b"{}",
            "ProvisionedConcurrentExecutions": 1,
            "ReservedConcurrentExecutions": 1,
            "RecursiveLoop": "Allow",
            "UpdateRuntimeOn": "Auto",
            "Resource": fn,
            "Tags": {"k": "v"},
            "TagKeys": ["k"],
        }
        self.per_op = {
            "AddLayerVersionPermission": {"Action": "lambda:GetLayerVersion", "Principal": self.account},
            "RemoveLayerVersionPermission": {"StatementId": "sid1"},
        }
        self.optional = {"Runtime", "Handler"} if self.op == "CreateFunction" else set()
        if self.op == "UpdateFunctionConfiguration":
            self.optional = {"Role"}

    # -- CloudWatch Logs -------------------------------------------------------------------
    def build_logs(self):
        logs = self.root("logs")
        group = f"/enf/{self.suffix}"
        logs.create_log_group(logGroupName=group)
        logs.create_log_stream(logGroupName=group, logStreamName="s1")
        arn = f"arn:aws:logs:{REGION}:{self.account}:log-group:{group}"
        now = int(time.time() * 1000)
        self.values = {
            "logGroupName": f"/new/{self.suffix}" if self.op == "CreateLogGroup" else group,
            "logStreamName": "new" if self.op == "CreateLogStream" else "s1",
            "logGroupIdentifier": group,
            "logGroupIdentifiers": [group],
            "resourceArn": arn,
            "filterName": "f1",
            "filterPattern": "",
            "metricTransformations": [{"metricName": "m", "metricNamespace": "ns", "metricValue": "1"}],
            "destinationArn": f"arn:aws:lambda:{REGION}:{self.account}:function:nothing",
            "destination": "bucket",
            "from": now - 60_000,
            "to": now,
            "startTime": (now - 60_000) // 1000,
            "endTime": now // 1000,
            "queryString": "fields @message",
            "queryId": "0" * 36,
            "queryDefinitionId": "0" * 36,
            "name": "query",
            "taskId": "0" * 36,
            "logEvents": [{"timestamp": now, "message": "m"}],
            "logEventMessages": ["m"],
            "logRecordPointer": "pointer",
            "kmsKeyId": f"arn:aws:kms:{REGION}:{self.account}:key/00000000-0000-0000-0000-000000000000",
            "retentionInDays": 1,
            "deletionProtectionEnabled": False,
            "tagKeys": ["k"],
        }
        self.per_op = {
            "TagLogGroup": {"tags": {"k": "v"}},
            "TagResource": {"tags": {"k": "v"}},
            "UntagLogGroup": {"tags": ["k"]},
            "GetLogEvents": {"startTime": now - 60_000, "endTime": now},
            "FilterLogEvents": {"startTime": now - 60_000, "endTime": now},
        }
        self.optional = {"roleArn"}
        if self.op not in ("StartLiveTail",):
            self.optional.add("logGroupName")
        self.values["roleArn"] = f"arn:aws:iam::{self.account}:role/logs-delivery"


class Env:
    """The module's nephos, its users, and the IAM clients of each account."""

    def __init__(self, server):
        self.server = server
        self.denied = {}
        self.counter = 0

    def iam(self, service):
        return client(self.server, "iam", ACCOUNTS[service])

    def user(self, service, name):
        iam = self.iam(service)
        iam.create_user(UserName=name)
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return key["AccessKeyId"], key["SecretAccessKey"]

    def denied_key(self, service):
        if service not in self.denied:
            self.denied[service] = self.user(service, "nobody")
        return self.denied[service]

    def decisions(self):
        return self.server.internal("/_nephos/iam/decisions")["decisions"]


@pytest.fixture(scope="module")
def env():
    real = socket.getaddrinfo

    def resolve(host, *args, **kwargs):
        if isinstance(host, str) and host.endswith(".localhost"):
            host = "127.0.0.1"
        return real(host, *args, **kwargs)

    socket.getaddrinfo = resolve
    server = Nephos("--enforce-iam", "--quiet")
    try:
        yield Env(server)
    finally:
        server.stop()
        socket.getaddrinfo = real


def call(c, op, params):
    """Runs `op`; returns (response, None) or (None, ClientError)."""
    method = getattr(c, _snake(c, op))
    try:
        out = method(**params)
        body = out.get("Body") or out.get("Payload") or out.get("EventStream")
        if hasattr(body, "read"):
            body.read()
        elif body is not None and hasattr(body, "__iter__") and not isinstance(body, (dict, list, bytes, str)):
            for _ in body:
                pass
        return out, None
    except ClientError as e:
        return None, e


def _snake(c, op):
    for snake, api in c.meta.method_to_api_mapping.items():
        if api == op:
            return snake
    raise KeyError(op)


def is_denied(e, service):
    if e is None:
        return False
    code = DENIAL[service][1]
    err = e.response["Error"]
    return err.get("Code") in (code, "AccessDenied", "AccessDeniedException", "403") or (
        "is not authorized to perform" in err.get("Message", "")
    )


def denial_of(e, env, service):
    """(principal, action, resource, action named again) of the authorizer's denial of a
    request, from the decision log (HEAD answers carry no message); `None` when the
    authorizer let it through (a service's own refusal)."""
    rid = e.response["ResponseMetadata"].get("RequestId")
    assert rid, e.response
    denied = [d for d in env.decisions() if d["request_id"] == rid and d["decision"] != "Allow"]
    if not denied:
        return None
    d = denied[-1]
    err = e.response["Error"]
    m = MESSAGE.fullmatch(err.get("Message", ""))
    if m is None:
        assert err.get("Code") == "403" and not err.get("Message", "").startswith("User:"), err
        return d["principal"], d["action"], d["resource"], d["action"]
    resource = m.group("resource")
    if service in ("s3", "s3control"):
        assert resource.startswith('"') and resource.endswith('"'), err
        resource = resource[1:-1]
    assert (m.group("action"), resource) == (d["action"], d["resource"]), (err, d)
    return m.group("who"), m.group("action"), resource, m.group("again")


def unsigned(model):
    return model.auth_type == "none" or "smithy.api#noAuth" in (getattr(model, "auth", None) or [])


OPS = implemented()


def test_every_service_has_operations():
    services = {s for s, _ in OPS}
    assert services == set(SERVICES), services
    assert len(OPS) > 450


# Operations AWS answers item by item: a refused item is reported in the answer.
ITEMIZED = {("s3", "DeleteObjects")}


def itemized(env, service, op, out, err, params):
    """DeleteObjects: each key the user may not delete comes back as an `AccessDenied`
    entry of `Errors`, with its denial in the decision log; allowed those, none does."""
    assert err is None, err.response["Error"]
    assert out.get("Errors") and all(e["Code"] == "AccessDenied" for e in out["Errors"]), out
    rid = out["ResponseMetadata"]["RequestId"]
    denied = [d for d in env.decisions() if d["request_id"] == rid]
    assert denied and all(d["decision"] == "ImplicitDeny" for d in denied), denied
    assert {d["action"] for d in denied} == {"s3:DeleteObject"}, denied
    allowed_name = f"ok-{slug(op)}"
    key, secret = env.user(service, allowed_name)
    env.iam(service).put_user_policy(
        UserName=allowed_name,
        PolicyName="exactly",
        PolicyDocument=doc(*[{"Effect": "Allow", "Action": d["action"], "Resource": d["resource"]} for d in denied]),
    )
    out, err = call(client(env.server, service, key, secret), op, params)
    assert err is None and not out.get("Errors"), (err and err.response["Error"], out)


@pytest.mark.parametrize("service,op", OPS, ids=[f"{s}.{o}" for s, o in OPS])
def test_operation_denied_then_allowed(env, service, op):
    world = World(env, service, op)
    key, secret = env.denied_key(service)
    as_nobody = client(env.server, service, key, secret)
    model = as_nobody.meta.service_model.operation_model(op)
    params = world.request(model.input_shape)

    out, err = call(as_nobody, op, params)
    if (service, op) in ITEMIZED:
        return itemized(env, service, op, out, err, params)
    if (service, op) in NO_AUTHORIZATION or unsigned(model):
        assert not is_denied(err, service), err and err.response["Error"]
        return
    assert err is not None, f"{op} was not denied to a user without policies"
    status, code = DENIAL[service]
    got = (err.response["ResponseMetadata"]["HTTPStatusCode"], err.response["Error"]["Code"])
    head = model.http.get("method") == "HEAD"
    assert got == (status, "403" if head else code), err.response["Error"]
    denial = denial_of(err, env, service)
    assert denial is not None, f"{op}: no denial recorded for {err.response['Error']}"
    who, action, resource, again = denial
    assert who == f"arn:aws:iam::{ACCOUNTS[service]}:user/nobody"
    assert again == action
    prefix, name = action.split(":", 1)
    ref = REFERENCE["services"][prefix]
    if (service, op) in NEWER_THAN_REFERENCE:
        assert (name, resource) == (op, "*"), (action, resource)
    else:
        assert name in ref["actions"], f"{action} is not in the Service Authorization Reference"
    if resource != "*":
        kinds = [r["type"] for r in ref["actions"][name]["resources"]]
        templates = [ref["resources"][k]["arn"] for k in kinds if k in ref["resources"]]
        assert any(fits(t, resource) for t in templates), (action, resource, templates)

    # The allowed user: exactly what nephos asked for, one denial at a time.
    allowed_name = f"ok-{slug(op)}"
    key, secret = env.user(service, allowed_name)
    as_allowed = client(env.server, service, key, secret)
    iam = env.iam(service)
    granted = []
    for _ in range(8):
        if granted:
            iam.put_user_policy(
                UserName=allowed_name,
                PolicyName="exactly",
                PolicyDocument=doc(
                    *[{"Effect": "Allow", "Action": a, "Resource": r} for a, r in granted]
                ),
            )
        _, err = call(as_allowed, op, params)
        if not is_denied(err, service):
            if (service, op) in EXPECTED:
                assert {a for a, _ in granted} == EXPECTED[(service, op)], granted
            else:
                assert len({a for a, _ in granted}) == 1, granted
            return
        denial = denial_of(err, env, service)
        if denial is None:
            assert (service, op) in SERVICE_DENIES, f"{op} refused by the service: {err.response['Error']}"
            return
        who, action, resource, _ = denial
        assert (action, resource) not in granted, f"{action} on {resource} allowed by policy yet denied"
        granted.append((action, resource))
    raise AssertionError(f"{op} still denied after allowing {granted}")
