"""STS through the real wire: boto3 and the AWS CLI against the nephos binary."""

import datetime

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError


def nephos_now(server):
    """nephos's own clock (other tests may have advanced it)."""
    ms = server.internal("/_nephos/clock")["now_ms"]
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc)


def unvalidated(server, service, **kwargs):
    """A client that sends what it is given, so nephos's own validation answers."""
    return server.client(service, config_args={"parameter_validation": False}, **kwargs)


def test_caller_identity_is_the_account_of_a_12_digit_key(nephos, account):
    ident = nephos.client("sts", account=account).get_caller_identity()
    assert ident["Account"] == account
    assert ident["Arn"] == f"arn:aws:iam::{account}:root"
    assert ident["UserId"] == account
    assert ident["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert len(ident["ResponseMetadata"]["RequestId"]) == 36


def test_any_other_key_is_the_default_account(nephos):
    ident = nephos.client("sts", account="AKIAIOSFODNN7EXAMPLE").get_caller_identity()
    assert ident["Account"] == "000000000000"


def test_default_account_is_configurable(start_nephos):
    server = start_nephos("--default-account", "111122223333")
    assert server.client("sts", account="test").get_caller_identity()["Account"] == "111122223333"
    env_server = start_nephos(env={"NEPHOS_DEFAULT_ACCOUNT": "444455556666"})
    assert env_server.client("sts", account="test").get_caller_identity()["Account"] == "444455556666"


def test_aws_cli_get_caller_identity(nephos, account):
    out = nephos.aws("sts", "get-caller-identity", account=account)
    assert out["Account"] == account
    assert out["Arn"].endswith(":root")


def test_session_token_credentials_act_as_their_issuer(nephos, account):
    sts = nephos.client("sts", account=account)
    creds = sts.get_session_token(DurationSeconds=900)["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA") and len(creds["AccessKeyId"]) == 20
    assert len(creds["SecretAccessKey"]) == 40
    assert creds["SessionToken"]
    left = (creds["Expiration"] - nephos_now(nephos)).total_seconds()
    assert 800 < left <= 900

    temp = boto3.client(
        "sts",
        endpoint_url=nephos.endpoint,
        region_name="eu-west-1",
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )
    ident = temp.get_caller_identity()
    assert ident["Account"] == account
    assert ident["Arn"] == f"arn:aws:iam::{account}:root"
    # Session credentials cannot mint more session credentials.
    with pytest.raises(ClientError) as e:
        temp.get_session_token()
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_root_sessions_are_capped_at_one_hour(nephos):
    creds = nephos.client("sts").get_session_token(DurationSeconds=129600)["Credentials"]
    left = (creds["Expiration"] - nephos_now(nephos)).total_seconds()
    assert 3500 < left <= 3600


def test_duration_out_of_range_is_a_validation_error(nephos):
    with pytest.raises(ClientError) as e:
        unvalidated(nephos, "sts").get_session_token(DurationSeconds=899)
    err = e.value.response["Error"]
    assert err["Code"] == "ValidationError"
    assert "durationSeconds" in err["Message"]
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_access_key_info(nephos, account):
    sts = nephos.client("sts", account=account)
    issued = sts.get_session_token()["Credentials"]["AccessKeyId"]
    other = nephos.client("sts")
    assert other.get_access_key_info(AccessKeyId=issued)["Account"] == account
    padded = unvalidated(nephos, "sts")
    with pytest.raises(ClientError) as e:
        padded.get_access_key_info(AccessKeyId="short")
    assert e.value.response["Error"]["Code"] == "ValidationError"
    assert other.get_access_key_info(AccessKeyId="AKIAIOSFODNN7EXAMPLE")["Account"] == "000000000000"
    out = nephos.aws("sts", "get-access-key-info", "--access-key-id", issued)
    assert out["Account"] == account


def test_unimplemented_sts_operation_answers_501(nephos):
    with pytest.raises(ClientError) as e:
        nephos.client("sts").get_delegated_access_token(TradeInToken="x" * 20)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert e.value.response["Error"]["Code"] == "NotImplemented"
    assert "GetDelegatedAccessToken" in e.value.response["Error"]["Message"]


def test_assume_role_sessions_act_as_the_role_in_its_account(nephos, account):
    sts = nephos.client("sts", account=account)
    try:
        nephos.client("iam", account=account).create_role(
            RoleName="deployer",
            Path="/team/",
            AssumeRolePolicyDocument='{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
            '"Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}',
        )
    except ClientError as e:  # until IAM implements roles, a role is taken on its ARN's word
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 501
    out = sts.assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/team/deployer", RoleSessionName="ci-run"
    )
    creds = out["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")
    left = (creds["Expiration"] - nephos_now(nephos)).total_seconds()
    assert 3500 < left <= 3600
    user = out["AssumedRoleUser"]
    assert user["Arn"] == f"arn:aws:sts::{account}:assumed-role/deployer/ci-run"
    assert user["AssumedRoleId"].startswith("AROA") and user["AssumedRoleId"].endswith(":ci-run")
    temp = boto3.client(
        "sts",
        endpoint_url=nephos.endpoint,
        region_name="us-east-1",
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )
    ident = temp.get_caller_identity()
    assert ident["Arn"] == user["Arn"]
    assert ident["UserId"] == user["AssumedRoleId"]
    assert ident["Account"] == account
    # The same role gets the same role id in every session.
    again = sts.assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/team/deployer", RoleSessionName="other"
    )
    assert again["AssumedRoleUser"]["AssumedRoleId"].split(":")[0] == user["AssumedRoleId"].split(":")[0]


def test_assume_role_refuses_what_is_not_a_role_arn(nephos, account):
    with pytest.raises(ClientError) as e:
        nephos.client("sts", account=account).assume_role(
            RoleArn="arn:aws:iam::123456789012:user/bob", RoleSessionName="ss"
        )
    assert e.value.response["Error"]["Code"] == "ValidationError"
