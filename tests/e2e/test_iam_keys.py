"""IAM access keys: created, listed, deactivated, deleted; requests signed with them act
as their user (and stop working when the key is inactive or gone); IAM state survives
kill -9 with --data-dir."""

import json
import signal

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

DOC = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
}
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


def fails(call, **kwargs):
    with pytest.raises(ClientError) as e:
        call(**kwargs)
    r = e.value.response
    return r["Error"]["Code"], r["Error"]["Message"], r["ResponseMetadata"]["HTTPStatusCode"]


def as_key(server, service, key, region="us-east-1"):
    """A client signing with an access key IAM created."""
    return boto3.client(
        service,
        endpoint_url=server.endpoint,
        region_name=region,
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
        config=Config(retries={"max_attempts": 0}),
    )


@pytest.fixture
def iam(nephos, account):
    return nephos.client("iam", account=account)


def test_access_key_lifecycle(iam):
    iam.create_user(UserName="k")
    key = iam.create_access_key(UserName="k")["AccessKey"]
    assert key["AccessKeyId"].startswith("AKIA") and len(key["AccessKeyId"]) == 20
    assert key["AccessKeyId"][4:].isalnum() and key["AccessKeyId"].isupper()
    assert len(key["SecretAccessKey"]) == 40
    assert key["Status"] == "Active" and key["UserName"] == "k"
    second = iam.create_access_key(UserName="k")["AccessKey"]
    assert fails(iam.create_access_key, UserName="k") == (
        "LimitExceeded", "Cannot exceed quota for AccessKeysPerUser: 2", 409)
    listed = iam.list_access_keys(UserName="k")["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in listed] == [key["AccessKeyId"], second["AccessKeyId"]]
    assert all("SecretAccessKey" not in k for k in listed)
    iam.update_access_key(UserName="k", AccessKeyId=key["AccessKeyId"], Status="Inactive")
    assert iam.list_access_keys(UserName="k")["AccessKeyMetadata"][0]["Status"] == "Inactive"
    last = iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])
    assert last["UserName"] == "k"
    assert last["AccessKeyLastUsed"] == {"ServiceName": "N/A", "Region": "N/A"}
    iam.delete_access_key(UserName="k", AccessKeyId=key["AccessKeyId"])
    assert fails(iam.delete_access_key, UserName="k", AccessKeyId=key["AccessKeyId"]) == (
        "NoSuchEntity", f"The Access Key with id {key['AccessKeyId']} cannot be found.", 404)
    assert fails(iam.update_access_key, UserName="k", AccessKeyId=second["AccessKeyId"], Status="Bogus")[0] == (
        "ValidationError")


def test_a_key_signs_as_its_user(nephos, iam, account):
    iam.create_user(UserName="signer", Path="/p/")
    key = iam.create_access_key(UserName="signer")["AccessKey"]
    me = as_key(nephos, "iam", key)
    # GetUser without a name answers the calling user.
    user = me.get_user()["User"]
    assert user["UserName"] == "signer"
    assert user["Arn"] == f"arn:aws:iam::{account}:user/p/signer"
    # The key's requests act in the user's account.
    assert [u["UserName"] for u in me.list_users()["Users"]] == ["signer"]
    # Keys operations without a name act on the calling user's keys.
    mine = me.list_access_keys()["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in mine] == [key["AccessKeyId"]]
    other = me.create_access_key()["AccessKey"]
    assert other["UserName"] == "signer"
    me.delete_access_key(AccessKeyId=other["AccessKeyId"])
    # Requests to other services count as the key's use.
    as_key(nephos, "sqs", key, region="eu-west-1").list_queues()
    last = iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])["AccessKeyLastUsed"]
    # The gateway reports the use (once it calls note_key_use); until then it is N/A.
    assert last["ServiceName"] in ("sqs", "iam", "N/A")


def test_keys_are_refused_once_inactive_or_deleted(start_nephos, account):
    server = start_nephos("--verify-signatures")
    iam = server.client("iam", account=account)
    iam.create_user(UserName="v")
    key = iam.create_access_key(UserName="v")["AccessKey"]
    me = as_key(server, "iam", key)
    assert me.get_user()["User"]["UserName"] == "v"
    wrong = dict(key, SecretAccessKey="x" * 40)
    with pytest.raises(ClientError) as e:
        as_key(server, "iam", wrong).get_user()
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    iam.update_access_key(UserName="v", AccessKeyId=key["AccessKeyId"], Status="Inactive")
    with pytest.raises(ClientError) as e:
        me.get_user()
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    iam.update_access_key(UserName="v", AccessKeyId=key["AccessKeyId"], Status="Active")
    assert me.get_user()["User"]["UserName"] == "v"
    iam.delete_access_key(UserName="v", AccessKeyId=key["AccessKeyId"])
    with pytest.raises(ClientError) as e:
        me.get_user()
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


# How each service refuses a key it does not know (AWS's answers to a deleted key).
REFUSALS = {
    "s3": ("InvalidAccessKeyId", 403),
    "sqs": ("InvalidClientTokenId", 403),
    "dynamodb": ("UnrecognizedClientException", 400),
    "iam": ("InvalidClientTokenId", 403),
}


def call_each_service(server, key):
    """One harmless request to each service, signed with `key`: the error code and
    status of each, or None where it succeeded."""
    calls = {
        "s3": lambda c: c.list_buckets(),
        "sqs": lambda c: c.list_queues(),
        "dynamodb": lambda c: c.list_tables(),
        "iam": lambda c: c.get_user(),
    }
    out = {}
    for service, call in calls.items():
        try:
            call(as_key(server, service, key))
            out[service] = None
        except ClientError as e:
            r = e.response
            out[service] = (r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"])
    return out


def test_inactive_and_deleted_keys_are_refused_without_signature_checks(nephos, iam, account):
    """Without --verify-signatures an unknown key acts as its account's root; a key IAM
    made inactive or deleted must not (that would turn a revoked user into root)."""
    iam.create_user(UserName="revoked")
    off = iam.create_access_key(UserName="revoked")["AccessKey"]
    gone = iam.create_access_key(UserName="revoked")["AccessKey"]
    assert call_each_service(nephos, off) == dict.fromkeys(REFUSALS)
    iam.update_access_key(UserName="revoked", AccessKeyId=off["AccessKeyId"], Status="Inactive")
    iam.delete_access_key(UserName="revoked", AccessKeyId=gone["AccessKeyId"])
    assert call_each_service(nephos, off) == REFUSALS
    assert call_each_service(nephos, gone) == REFUSALS
    # A wrong secret changes nothing: the key id alone is refused.
    assert call_each_service(nephos, dict(gone, SecretAccessKey="x" * 40)) == REFUSALS
    # Reactivated, the key works again (as its user, not as root).
    iam.update_access_key(UserName="revoked", AccessKeyId=off["AccessKeyId"], Status="Active")
    assert call_each_service(nephos, off) == dict.fromkeys(REFUSALS)
    assert as_key(nephos, "iam", off).get_user()["User"]["UserName"] == "revoked"
    # Once the user is gone too, its deleted keys stay refused.
    iam.delete_access_key(UserName="revoked", AccessKeyId=off["AccessKeyId"])
    iam.delete_user(UserName="revoked")
    assert call_each_service(nephos, off) == REFUSALS
    # Root keys as well.
    root = iam.create_access_key()["AccessKey"]
    iam.delete_access_key(AccessKeyId=root["AccessKeyId"])
    assert call_each_service(nephos, root) == REFUSALS


def test_deleted_keys_stay_refused_after_kill_9(start_nephos, tmp_path, account):
    data = tmp_path / "data"
    server = start_nephos("--data-dir", str(data), "--quiet")
    iam = server.client("iam", account=account)
    iam.create_user(UserName="gone")
    key = iam.create_access_key(UserName="gone")["AccessKey"]
    iam.delete_access_key(UserName="gone", AccessKeyId=key["AccessKeyId"])
    server.stop(signal.SIGKILL)
    again = start_nephos("--data-dir", str(data), "--quiet")
    assert call_each_service(again, key) == REFUSALS


def test_root_access_keys(iam):
    key = iam.create_access_key()["AccessKey"]
    assert key["AccessKeyId"].startswith("AKIA") and "UserName" not in key
    assert [k["AccessKeyId"] for k in iam.list_access_keys()["AccessKeyMetadata"]] == [key["AccessKeyId"]]
    summary = iam.get_account_summary()["SummaryMap"]
    assert summary["AccountAccessKeysPresent"] == 1
    iam.delete_access_key(AccessKeyId=key["AccessKeyId"])
    assert iam.get_account_summary()["SummaryMap"]["AccountAccessKeysPresent"] == 0


def test_aws_cli_access_keys(nephos, account):
    nephos.aws("iam", "create-user", "--user-name", "cli", account=account)
    key = nephos.aws("iam", "create-access-key", "--user-name", "cli", account=account)["AccessKey"]
    keys = nephos.aws("iam", "list-access-keys", "--user-name", "cli", account=account)
    assert keys["AccessKeyMetadata"][0]["AccessKeyId"] == key["AccessKeyId"]
    nephos.aws("iam", "update-access-key", "--user-name", "cli", "--access-key-id",
               key["AccessKeyId"], "--status", "Inactive", account=account)
    keys = nephos.aws("iam", "list-access-keys", "--user-name", "cli", account=account)
    assert keys["AccessKeyMetadata"][0]["Status"] == "Inactive"


def test_iam_state_survives_kill_9(start_nephos, tmp_path, account):
    data = tmp_path / "data"
    server = start_nephos("--data-dir", str(data), "--quiet", "--verify-signatures")
    iam = server.client("iam", account=account)
    user = iam.create_user(UserName="durable", Path="/d/", Tags=[{"Key": "k", "Value": "v"}])["User"]
    iam.create_group(GroupName="grp")
    iam.add_user_to_group(GroupName="grp", UserName="durable")
    role = iam.create_role(RoleName="dr", AssumeRolePolicyDocument=json.dumps(TRUST),
                           MaxSessionDuration=7200)["Role"]
    arn = iam.create_policy(PolicyName="dp", PolicyDocument=json.dumps(DOC))["Policy"]["Arn"]
    doc2 = dict(DOC, Statement=[dict(DOC["Statement"][0], Action="sqs:*")])
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(doc2), SetAsDefault=True)
    iam.attach_user_policy(UserName="durable", PolicyArn=arn)
    iam.attach_role_policy(RoleName="dr", PolicyArn=arn)
    iam.put_group_policy(GroupName="grp", PolicyName="gp", PolicyDocument=json.dumps(DOC))
    iam.create_instance_profile(InstanceProfileName="ipd")
    iam.add_role_to_instance_profile(InstanceProfileName="ipd", RoleName="dr")
    key = iam.create_access_key(UserName="durable")["AccessKey"]
    off = iam.create_access_key(UserName="durable")["AccessKey"]
    iam.update_access_key(UserName="durable", AccessKeyId=off["AccessKeyId"], Status="Inactive")
    server.stop(signal.SIGKILL)

    again = start_nephos("--data-dir", str(data), "--quiet", "--verify-signatures")
    iam = again.client("iam", account=account)
    got = iam.get_user(UserName="durable")["User"]
    assert (got["UserId"], got["Arn"], got["Tags"]) == (user["UserId"], user["Arn"], [{"Key": "k", "Value": "v"}])
    assert iam.get_role(RoleName="dr")["Role"]["RoleId"] == role["RoleId"]
    assert iam.get_role(RoleName="dr")["Role"]["MaxSessionDuration"] == 7200
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v2"
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 2
    assert iam.get_policy_version(PolicyArn=arn, VersionId="v2")["PolicyVersion"]["Document"] == doc2
    assert [v["VersionId"] for v in iam.list_policy_versions(PolicyArn=arn)["Versions"]] == ["v2", "v1"]
    assert [g["GroupName"] for g in iam.list_groups_for_user(UserName="durable")["Groups"]] == ["grp"]
    assert iam.list_group_policies(GroupName="grp")["PolicyNames"] == ["gp"]
    assert iam.get_instance_profile(InstanceProfileName="ipd")["InstanceProfile"]["Roles"][0]["RoleName"] == "dr"
    # The key still signs as its user; the inactive one is still refused.
    assert as_key(again, "iam", key).get_user()["User"]["UserName"] == "durable"
    with pytest.raises(ClientError):
        as_key(again, "iam", off).get_user()
    statuses = {k["AccessKeyId"]: k["Status"] for k in iam.list_access_keys(UserName="durable")["AccessKeyMetadata"]}
    assert statuses == {key["AccessKeyId"]: "Active", off["AccessKeyId"]: "Inactive"}
