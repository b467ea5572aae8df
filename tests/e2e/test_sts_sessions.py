"""STS sessions end to end: AssumeRole's durations, role chaining, session tags and
policies, source identity and MFA; GetSessionToken, GetFederationToken, AssumeRoot,
DecodeAuthorizationMessage; expiry on nephos's clock and durability across restarts.

Roles are created in IAM when IAM implements roles; until then AssumeRole takes a role
on the word of its ARN, and the tests that need IAM skip.
"""

import json

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

TRUST_ANYONE = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"],
            }
        ],
    }
)
S3_READ = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
    }
)


def unimplemented(e):
    return e.response["ResponseMetadata"]["HTTPStatusCode"] == 501


def make_role(nephos, account, name, path="/", trust=TRUST_ANYONE, max_session=None):
    """The role's ARN, and whether IAM created it (else it is only named)."""
    iam = nephos.client("iam", account=account)
    kwargs = dict(RoleName=name, Path=path, AssumeRolePolicyDocument=trust)
    if max_session:
        kwargs["MaxSessionDuration"] = max_session
    try:
        return iam.create_role(**kwargs)["Role"]["Arn"], True
    except ClientError as e:
        if not unimplemented(e):
            raise
        return f"arn:aws:iam::{account}:role{path}{name}", False


def client_of(nephos, creds, service="sts"):
    return boto3.client(
        service,
        endpoint_url=nephos.endpoint,
        region_name="us-east-1",
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        config=Config(retries={"max_attempts": 0}, parameter_validation=False),
    )


def lifetime(nephos, creds):
    now_ms = nephos.internal("/_nephos/clock")["now_ms"]
    return creds["Expiration"].timestamp() - now_ms / 1000


def error(e):
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


def unvalidated(nephos, account):
    return nephos.client("sts", account=account, config_args={"parameter_validation": False})


def test_durations_within_the_role_maximum(nephos, account):
    sts = nephos.client("sts", account=account)
    arn, created = make_role(nephos, account, "durations", max_session=7200)
    out = sts.assume_role(RoleArn=arn, RoleSessionName="default")
    assert 3500 < lifetime(nephos, out["Credentials"]) <= 3600
    out = sts.assume_role(RoleArn=arn, RoleSessionName="longer", DurationSeconds=7200)
    assert 7100 < lifetime(nephos, out["Credentials"]) <= 7200
    if not created:
        pytest.skip("IAM does not implement roles yet: no MaxSessionDuration to exceed")
    with pytest.raises(ClientError) as e:
        sts.assume_role(RoleArn=arn, RoleSessionName="toolong", DurationSeconds=7201)
    assert error(e) == (
        "ValidationError",
        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
    )
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_role_chaining_is_capped_at_one_hour(nephos, account):
    sts = nephos.client("sts", account=account)
    first, _ = make_role(nephos, account, "first", max_session=43200)
    second, _ = make_role(nephos, account, "second", max_session=43200)
    creds = sts.assume_role(RoleArn=first, RoleSessionName="hop1", DurationSeconds=7200)[
        "Credentials"
    ]
    hop = client_of(nephos, creds)
    with pytest.raises(ClientError) as e:
        hop.assume_role(RoleArn=second, RoleSessionName="hop2", DurationSeconds=3601)
    assert error(e) == (
        "ValidationError",
        "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.",
    )
    out = hop.assume_role(RoleArn=second, RoleSessionName="hop2", DurationSeconds=3600)
    assert out["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{account}:assumed-role/second/hop2"
    ident = client_of(nephos, out["Credentials"]).get_caller_identity()
    assert ident["Arn"] == out["AssumedRoleUser"]["Arn"]
    assert ident["UserId"] == out["AssumedRoleUser"]["AssumedRoleId"]
    assert ident["UserId"].startswith("AROA") and ident["UserId"].endswith(":hop2")


def test_session_tags_and_transitive_tags_in_a_chain(nephos, account):
    sts = nephos.client("sts", account=account)
    arn, _ = make_role(nephos, account, "tagged")
    tags = [{"Key": "Project", "Value": "unicorn"}, {"Key": "Team", "Value": "ci"}]
    out = sts.assume_role(
        RoleArn=arn, RoleSessionName="t1", Tags=tags, TransitiveTagKeys=["Project"]
    )
    tagged_size = out["PackedPolicySize"]
    assert tagged_size > 0
    # Without session policies or tags there is no packed size to report.
    assert "PackedPolicySize" not in sts.assume_role(RoleArn=arn, RoleSessionName="t0")
    hop = client_of(nephos, out["Credentials"])
    # Only the transitive tag passes down the chain (it fills part of the packed size)...
    chained = hop.assume_role(RoleArn=arn, RoleSessionName="t2")
    assert 0 < chained["PackedPolicySize"] < tagged_size
    # ...and may not be set again, in any case.
    with pytest.raises(ClientError) as e:
        hop.assume_role(RoleArn=arn, RoleSessionName="t3", Tags=[{"Key": "PROJECT", "Value": "x"}])
    assert error(e) == (
        "InvalidParameterValue",
        "One of the specified transitive tag keys can't be set because it conflicts with a transitive tag key from the calling session.",
    )
    # A non-transitive tag of the caller can be set anew.
    hop.assume_role(RoleArn=arn, RoleSessionName="t4", Tags=[{"Key": "Team", "Value": "other"}])
    # The transitive tags pass on again, further down.
    third = client_of(nephos, chained["Credentials"]).assume_role(RoleArn=arn, RoleSessionName="t5")
    assert third["PackedPolicySize"] == chained["PackedPolicySize"]


def test_session_tag_errors(nephos, account):
    sts = unvalidated(nephos, account)
    arn, _ = make_role(nephos, account, "tagerrors")
    with pytest.raises(ClientError) as e:
        sts.assume_role(
            RoleArn=arn,
            RoleSessionName="ss",
            Tags=[{"Key": "team", "Value": "a"}, {"Key": "Team", "Value": "b"}],
        )
    assert error(e) == (
        "InvalidParameterValue",
        "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
    )
    with pytest.raises(ClientError) as e:
        sts.assume_role(
            RoleArn=arn,
            RoleSessionName="ss",
            Tags=[{"Key": "team", "Value": "a"}],
            TransitiveTagKeys=["cost"],
        )
    assert error(e) == (
        "InvalidParameterValue",
        "The specified transitive tag key must be included in the requested tags.",
    )
    with pytest.raises(ClientError) as e:
        sts.assume_role(
            RoleArn=arn,
            RoleSessionName="ss",
            Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(51)],
        )
    assert error(e)[0] == "ValidationError"
    # 50 tags fit the count but not the packed space when their values are long.
    with pytest.raises(ClientError) as e:
        sts.assume_role(
            RoleArn=arn,
            RoleSessionName="ss",
            Tags=[{"Key": f"key-{i:02d}", "Value": "v" * 40} for i in range(50)],
        )
    code, message = error(e)
    assert code == "PackedPolicyTooLarge"
    assert message.startswith("Packed size of session tags consumes ")
    assert message.endswith("% of allotted space.")


def test_session_policies(nephos, account):
    sts = unvalidated(nephos, account)
    arn, _ = make_role(nephos, account, "scoped")
    out = sts.assume_role(
        RoleArn=arn,
        RoleSessionName="ss",
        Policy=S3_READ,
        PolicyArns=[{"arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}],
    )
    assert 0 < out["PackedPolicySize"] < 100
    for bad, message in [
        ("{not json", "The policy is not in the valid JSON format."),
        ('{"Version":"2012-10-17"}', "Syntax errors in policy."),
        ('{"Statement":[{"Action":"s3:*","Resource":"*"}]}', "Missing required field Effect"),
    ]:
        with pytest.raises(ClientError) as e:
            sts.assume_role(RoleArn=arn, RoleSessionName="ss", Policy=bad)
        assert error(e) == ("MalformedPolicyDocument", message)
    with pytest.raises(ClientError) as e:
        sts.assume_role(RoleArn=arn, RoleSessionName="ss", PolicyArns=[{"arn": "not-an-arn"}])
    assert error(e)[0] == "ValidationError"
    statements = [
        {"Effect": "Allow", "Action": f"s3:GetObject{i}", "Resource": f"arn:aws:s3:::bucket-{i}/*"}
        for i in range(40)
    ]
    with pytest.raises(ClientError) as e:
        sts.assume_role(
            RoleArn=arn,
            RoleSessionName="ss",
            Policy=json.dumps({"Version": "2012-10-17", "Statement": statements}),
        )
    code, message = error(e)
    assert code == "PackedPolicyTooLarge"
    assert message.startswith("Packed policy consumes ")


def test_source_identity_is_set_once_for_the_chain(nephos, account):
    sts = nephos.client("sts", account=account)
    arn, _ = make_role(nephos, account, "traced")
    out = sts.assume_role(RoleArn=arn, RoleSessionName="s1", SourceIdentity="alice")
    assert out["SourceIdentity"] == "alice"
    assert "SourceIdentity" not in sts.assume_role(RoleArn=arn, RoleSessionName="s0")
    hop = client_of(nephos, out["Credentials"])
    inherited = hop.assume_role(RoleArn=arn, RoleSessionName="s2")
    assert inherited["SourceIdentity"] == "alice"
    assert hop.assume_role(RoleArn=arn, RoleSessionName="s3", SourceIdentity="alice")[
        "SourceIdentity"
    ] == "alice"
    with pytest.raises(ClientError) as e:
        hop.assume_role(RoleArn=arn, RoleSessionName="s4", SourceIdentity="mallory")
    assert error(e) == (
        "ValidationError",
        "The source identity is already set for this assume role session",
    )


def iam_has_mfa(nephos, account):
    try:
        nephos.client("iam", account=account).list_mfa_devices()
        return True
    except ClientError as e:
        if unimplemented(e):
            return False
        raise


def test_mfa_serial_and_code(nephos, account):
    sts = nephos.client("sts", account=account)
    arn, _ = make_role(nephos, account, "mfa")
    serial = f"arn:aws:iam::{account}:mfa/root-device"
    with pytest.raises(ClientError) as e:
        unvalidated(nephos, account).assume_role(
            RoleArn=arn, RoleSessionName="ss", SerialNumber=serial
        )
    assert error(e)[0] == "AccessDenied"
    if iam_has_mfa(nephos, account):
        # The account's root has no such device.
        for call in (
            lambda: sts.assume_role(
                RoleArn=arn, RoleSessionName="ss", SerialNumber=serial, TokenCode="123456"
            ),
            lambda: sts.get_session_token(SerialNumber=serial, TokenCode="123456"),
        ):
            with pytest.raises(ClientError) as e:
                call()
            assert error(e)[0] == "AccessDenied"
            assert "MultiFactorAuthentication failed" in error(e)[1]
    else:
        out = sts.assume_role(
            RoleArn=arn, RoleSessionName="ss", SerialNumber=serial, TokenCode="123456"
        )
        assert out["Credentials"]["AccessKeyId"].startswith("ASIA")
        assert sts.get_session_token(SerialNumber=serial, TokenCode="123456")["Credentials"]


def test_assume_role_of_a_missing_role_is_refused_once_iam_knows_roles(nephos, account):
    sts = nephos.client("sts", account=account)
    _, created = make_role(nephos, account, "exists")
    if not created:
        pytest.skip("IAM does not implement roles yet")
    missing = f"arn:aws:iam::{account}:role/missing"
    with pytest.raises(ClientError) as e:
        sts.assume_role(RoleArn=missing, RoleSessionName="ss")
    assert error(e) == (
        "AccessDenied",
        f"User: arn:aws:iam::{account}:root is not authorized to perform: sts:AssumeRole on resource: {missing}",
    )
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    # A role is known by its whole ARN, path included.
    with pytest.raises(ClientError):
        sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/other/exists", RoleSessionName="ss")
    # The session's id is the role's own id.
    role_id = nephos.client("iam", account=account).get_role(RoleName="exists")["Role"]["RoleId"]
    out = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/exists", RoleSessionName="ss")
    assert out["AssumedRoleUser"]["AssumedRoleId"] == f"{role_id}:ss"


def test_get_federation_token(nephos, account):
    sts = nephos.client("sts", account=account)
    out = sts.get_federation_token(
        Name="bob", Policy=S3_READ, Tags=[{"Key": "Dept", "Value": "eng"}], DurationSeconds=7200
    )
    user = out["FederatedUser"]
    assert user == {
        "FederatedUserId": f"{account}:bob",
        "Arn": f"arn:aws:sts::{account}:federated-user/bob",
    }
    assert out["PackedPolicySize"] > 0
    # The account's root user gets an hour at most.
    assert 3500 < lifetime(nephos, out["Credentials"]) <= 3600
    fed = client_of(nephos, out["Credentials"])
    ident = fed.get_caller_identity()
    assert (ident["UserId"], ident["Account"], ident["Arn"]) == (
        f"{account}:bob",
        account,
        f"arn:aws:sts::{account}:federated-user/bob",
    )
    for call in (lambda: fed.get_federation_token(Name="again"), fed.get_session_token):
        with pytest.raises(ClientError) as e:
            call()
        assert e.value.response["Error"]["Code"] == "AccessDenied"
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert "GetFederationToken with session credentials" in str(
        pytest.raises(ClientError, fed.get_federation_token, Name="again").value
    )
    with pytest.raises(ClientError) as e:
        unvalidated(nephos, account).get_federation_token(Name="bob", Policy="x" * 2049)
    assert error(e)[0] == "ValidationError"
    out = nephos.aws(
        "sts", "get-federation-token", "--name", "carol", "--policy", S3_READ, account=account
    )
    assert out["FederatedUser"]["Arn"] == f"arn:aws:sts::{account}:federated-user/carol"


def test_assume_root_needs_an_organization(nephos, account):
    sts = nephos.client("sts", account=account)
    with pytest.raises(ClientError) as e:
        sts.assume_root(
            TargetPrincipal="111122223333",
            TaskPolicyArn={"arn": "arn:aws:iam::aws:policy/root-task/S3UnlockBucketPolicy"},
        )
    assert error(e) == (
        "AccessDenied",
        f"User: arn:aws:iam::{account}:root is not authorized to perform: sts:AssumeRoot on resource: arn:aws:iam::111122223333:root",
    )


def test_decode_authorization_message_refuses_what_nephos_did_not_encode(nephos, account):
    sts = nephos.client("sts", account=account)
    for garbage in ["x", "not base64 at all!", "A" * 200]:
        with pytest.raises(ClientError) as e:
            sts.decode_authorization_message(EncodedMessage=garbage)
        assert e.value.response["Error"]["Code"] == "InvalidAuthorizationMessageException"
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    out = nephos.aws(
        "sts", "decode-authorization-message", "--encoded-message", "bogus", account=account,
        check=False,
    )
    assert out.returncode != 0 and "InvalidAuthorizationMessageException" in out.stderr


def test_role_sessions_expire_on_the_nephos_clock(start_nephos):
    server = start_nephos("--quiet")
    account = "210987654321"
    arn, _ = make_role(server, account, "shortlived")
    creds = server.client("sts", account=account).assume_role(
        RoleArn=arn, RoleSessionName="ss", DurationSeconds=900
    )["Credentials"]
    temp = client_of(server, creds)
    assert temp.get_caller_identity()["Account"] == account
    server.internal("/_nephos/clock", {"advance_seconds": 901})
    with pytest.raises(ClientError) as e:
        temp.get_caller_identity()
    assert e.value.response["Error"]["Code"] == "ExpiredToken"


def test_sessions_keys_and_issuers_survive_a_restart_and_reset_forgets_sessions(
    start_nephos, tmp_path
):
    server = start_nephos("--data-dir", str(tmp_path), "--quiet")
    account = "210987654322"
    arn, _ = make_role(server, account, "durable")
    creds = server.client("sts", account=account).assume_role(RoleArn=arn, RoleSessionName="ss")[
        "Credentials"
    ]
    jwks = server.internal("/_nephos/sts/oidc/jwks.json")
    server.internal(
        "/_nephos/sts/oidc/issuers",
        {"issuer": "https://idp.durable.example", "jwks": {"keys": [jwks["keys"][0]]}},
    )
    server.stop()
    server.start()
    assert client_of(server, creds).get_caller_identity()["Arn"].endswith("assumed-role/durable/ss")
    assert server.internal("/_nephos/sts/oidc/jwks.json") == jwks
    issuers = server.internal("/_nephos/sts/oidc/issuers")["issuers"]
    assert {"issuer": "https://idp.durable.example", "keys": 1} in issuers
    server.internal("/_nephos/reset", {})
    # The session is forgotten: its key is now just some other key of the default account.
    assert client_of(server, creds).get_caller_identity()["Arn"] == "arn:aws:iam::000000000000:root"
    assert server.internal("/_nephos/sts/oidc/issuers")["issuers"] == []
    # The signing key outlives the reset in memory; once published again it is stored
    # again, and survives restarts.
    assert server.internal("/_nephos/sts/oidc/jwks.json") == jwks
    server.stop()
    server.start()
    assert server.internal("/_nephos/sts/oidc/jwks.json") == jwks


def test_caller_identity_of_every_kind_of_principal(nephos, account):
    sts = nephos.client("sts", account=account)
    root = sts.get_caller_identity()
    assert (root["UserId"], root["Arn"]) == (account, f"arn:aws:iam::{account}:root")
    session = client_of(nephos, sts.get_session_token()["Credentials"]).get_caller_identity()
    assert (session["UserId"], session["Arn"]) == (account, f"arn:aws:iam::{account}:root")
    arn, _ = make_role(nephos, account, "who", path="/team/")
    out = sts.assume_role(RoleArn=arn, RoleSessionName="me")
    role = client_of(nephos, out["Credentials"]).get_caller_identity()
    assert role["Arn"] == f"arn:aws:sts::{account}:assumed-role/who/me"
    iam = nephos.client("iam", account=account)
    try:
        user = iam.create_user(UserName="dev")["User"]
    except ClientError as e:
        if unimplemented(e):
            pytest.skip("IAM does not implement users yet")
        raise
    key = iam.create_access_key(UserName="dev")["AccessKey"]
    as_user = boto3.client(
        "sts",
        endpoint_url=nephos.endpoint,
        region_name="us-east-1",
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
        config=Config(retries={"max_attempts": 0}),
    )
    ident = as_user.get_caller_identity()
    assert (ident["UserId"], ident["Arn"], ident["Account"]) == (user["UserId"], user["Arn"], account)
    # A session token of an IAM user stays that user.
    temp = client_of(nephos, as_user.get_session_token()["Credentials"]).get_caller_identity()
    assert (temp["UserId"], temp["Arn"]) == (user["UserId"], user["Arn"])
    fed = as_user.get_federation_token(Name="contractor", Policy=S3_READ)
    assert fed["FederatedUser"]["FederatedUserId"] == f"{account}:contractor"


def test_aws_cli_assume_role(nephos, account):
    arn, _ = make_role(nephos, account, "cli")
    out = nephos.aws(
        "sts", "assume-role", "--role-arn", arn, "--role-session-name", "cli-session",
        "--tags", "Key=Env,Value=dev", "--transitive-tag-keys", "Env",
        "--source-identity", "ci-bot", account=account,
    )
    assert out["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{account}:assumed-role/cli/cli-session"
    assert out["SourceIdentity"] == "ci-bot"
    assert out["PackedPolicySize"] > 0


def test_trust_policies_decide_under_enforce_iam(start_nephos):
    server = start_nephos("--enforce-iam", "--quiet")
    account = "210987654323"
    iam = server.client("iam", account=account)
    try:
        iam.create_user(UserName="dev")
    except ClientError as e:
        if unimplemented(e):
            pytest.skip("IAM does not implement users yet")
        raise
    iam.put_user_policy(
        UserName="dev",
        PolicyName="assume",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:*", "Resource": "*"}]}
        ),
    )
    key = iam.create_access_key(UserName="dev")["AccessKey"]
    user_arn = f"arn:aws:iam::{account}:user/dev"
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": user_arn},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": "shared-secret"}},
            }
        ],
    }
    role = iam.create_role(RoleName="guarded", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    as_user = client_of(server, {**key, "SessionToken": None})
    with pytest.raises(ClientError) as e:
        as_user.assume_role(RoleArn=role, RoleSessionName="no-id")
    assert error(e) == (
        "AccessDenied",
        f"User: {user_arn} is not authorized to perform: sts:AssumeRole on resource: {role}",
    )
    out = as_user.assume_role(RoleArn=role, RoleSessionName="with-id", ExternalId="shared-secret")
    assert out["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{account}:assumed-role/guarded/with-id"
    # Session tags need sts:TagSession in the trust policy too.
    with pytest.raises(ClientError) as e:
        as_user.assume_role(
            RoleArn=role, RoleSessionName="tagged", ExternalId="shared-secret",
            Tags=[{"Key": "team", "Value": "a"}],
        )
    assert error(e) == (
        "AccessDenied",
        f"User: {user_arn} is not authorized to perform: sts:TagSession on resource: {role}",
    )
    # The account's root user may not assume roles at all.
    with pytest.raises(ClientError) as e:
        server.client("sts", account=account).assume_role(RoleArn=role, RoleSessionName="root")
    assert error(e) == ("AccessDenied", "Roles may not be assumed by root accounts.")
    # A role trusted by a role: its sessions (a chain) are let in by the role's ARN.
    trust_role = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": role}, "Action": "sts:AssumeRole"}],
    }
    second = iam.create_role(RoleName="second", AssumeRolePolicyDocument=json.dumps(trust_role))[
        "Role"
    ]["Arn"]
    iam.put_role_policy(
        RoleName="guarded",
        PolicyName="chain",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}
        ),
    )
    chained = client_of(server, out["Credentials"]).assume_role(RoleArn=second, RoleSessionName="hop")
    assert chained["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{account}:assumed-role/second/hop"
    with pytest.raises(ClientError) as e:
        as_user.assume_role(RoleArn=second, RoleSessionName="direct")
    assert error(e)[0] == "AccessDenied"


def totp(seed_b32, at):
    """RFC 6238 code (30 s steps, HMAC-SHA1, six digits) of a base32 seed at Unix time `at`."""
    import base64
    import hashlib
    import hmac
    import struct

    key = base64.b32decode(seed_b32 + b"=" * (-len(seed_b32) % 8))
    mac = hmac.new(key, struct.pack(">Q", int(at) // 30), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    return f"{(struct.unpack('>I', mac[offset:offset + 4])[0] & 0x7FFFFFFF) % 1_000_000:06d}"


def test_mfa_of_a_users_device_under_enforce_iam(start_nephos):
    server = start_nephos("--enforce-iam", "--quiet")
    account = "210987654324"
    iam = server.client("iam", account=account)
    try:
        iam.create_user(UserName="ops")
        device = iam.create_virtual_mfa_device(VirtualMFADeviceName="ops-phone")["VirtualMFADevice"]
    except ClientError as e:
        if unimplemented(e):
            pytest.skip("IAM does not implement users or MFA devices yet")
        raise
    now = server.internal("/_nephos/clock")["now_ms"] / 1000
    seed = device["Base32StringSeed"]
    iam.enable_mfa_device(
        UserName="ops", SerialNumber=device["SerialNumber"],
        AuthenticationCode1=totp(seed, now - 30), AuthenticationCode2=totp(seed, now),
    )
    iam.put_user_policy(
        UserName="ops", PolicyName="sts",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:*", "Resource": "*"}]}
        ),
    )
    key = iam.create_access_key(UserName="ops")["AccessKey"]
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": account},
                "Action": "sts:AssumeRole",
                "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
            }
        ],
    }
    role = iam.create_role(RoleName="mfa-only", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    as_user = client_of(server, {**key, "SessionToken": None})
    with pytest.raises(ClientError) as e:
        as_user.assume_role(RoleArn=role, RoleSessionName="no-mfa")
    assert error(e)[0] == "AccessDenied"
    code = totp(seed, now)
    out = as_user.assume_role(
        RoleArn=role, RoleSessionName="with-mfa", SerialNumber=device["SerialNumber"], TokenCode=code
    )
    assert out["AssumedRoleUser"]["Arn"].endswith("assumed-role/mfa-only/with-mfa")
    # A session token made with MFA carries it into AssumeRole.
    session = as_user.get_session_token(SerialNumber=device["SerialNumber"], TokenCode=code)
    assert client_of(server, session["Credentials"]).assume_role(RoleArn=role, RoleSessionName="via-session")
    # Another user's device is not this user's.
    with pytest.raises(ClientError) as e:
        as_user.assume_role(
            RoleArn=role, RoleSessionName="stolen",
            SerialNumber=f"arn:aws:iam::{account}:mfa/someone-else", TokenCode=code,
        )
    assert error(e)[0] == "AccessDenied"
    assert "MultiFactorAuthentication failed" in error(e)[1]
    # The code is checked against the device's seed on nephos's clock: a code from ten
    # minutes on is wrong now, and today's code is wrong once the clock has moved on.
    for wrong in (totp(seed, now + 600), "000000" if code != "000000" else "111111"):
        with pytest.raises(ClientError) as e:
            as_user.get_session_token(SerialNumber=device["SerialNumber"], TokenCode=wrong)
        assert error(e) == ("AccessDenied", "MultiFactorAuthentication failed with invalid MFA one time pass code.")
    server.internal("/_nephos/clock", {"advance_seconds": 3600})
    with pytest.raises(ClientError) as e:
        as_user.assume_role(
            RoleArn=role, RoleSessionName="late", SerialNumber=device["SerialNumber"], TokenCode=code
        )
    assert error(e)[1] == "MultiFactorAuthentication failed with invalid MFA one time pass code."
    assert as_user.assume_role(
        RoleArn=role, RoleSessionName="on-time", SerialNumber=device["SerialNumber"],
        TokenCode=totp(seed, now + 3600),
    )
