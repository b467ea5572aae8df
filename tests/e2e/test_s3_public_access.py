"""Block Public Access and object ownership as AWS sets them up since April 2023: new
buckets block everything public and have ACLs disabled unless CreateBucket says
otherwise; account-wide Block Public Access comes from S3 Control and is enforced on
every bucket of the account."""

import json
import socket

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from s3util import bucket_name

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
EVERYTHING = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
              "RestrictPublicBuckets": True}


def code(e):
    return e.value.response["Error"]["Code"]


def public_policy(b):
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{b}/*"}]})


@pytest.fixture
def s3control(nephos, monkeypatch):
    """An S3 Control client as boto3 builds it: the account id is prefixed to the
    endpoint's host (`<account>.localhost:<port>`), which resolves to the server here."""
    real = socket.getaddrinfo

    def resolve(host, *args, **kwargs):
        if isinstance(host, str) and host.endswith(".localhost"):
            host = "127.0.0.1"
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)

    def make(account):
        return boto3.client(
            "s3control",
            endpoint_url=f"http://localhost:{nephos.port}",
            region_name="us-east-1",
            aws_access_key_id=account,
            aws_secret_access_key="test",
            config=Config(retries={"max_attempts": 0}),
        )

    return make


def test_new_buckets_block_public_access_and_disable_acls(nephos, account):
    s3 = nephos.client("s3", account=account)
    b = bucket_name(account, "dflt")
    s3.create_bucket(Bucket=b)
    assert s3.get_public_access_block(Bucket=b)["PublicAccessBlockConfiguration"] == EVERYTHING
    assert s3.get_bucket_ownership_controls(Bucket=b)["OwnershipControls"] == {
        "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=b, Key="k", Body=b"x", ACL="public-read")
    assert code(e) == "AccessControlListNotSupported"
    s3.put_object(Bucket=b, Key="k", Body=b"x", ACL="bucket-owner-full-control")
    grants = s3.get_object_acl(Bucket=b, Key="k")["Grants"]
    assert [g["Permission"] for g in grants] == ["FULL_CONTROL"]
    with pytest.raises(ClientError) as e:
        s3.put_bucket_policy(Bucket=b, Policy=public_policy(b))
    assert code(e) == "AccessDenied"
    assert requests.get(f"{nephos.endpoint}/{b}/k", timeout=5).status_code == 403


def test_create_bucket_acl_and_ownership_headers(nephos, account):
    s3 = nephos.client("s3", account=account)
    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket=bucket_name(account, "a1"), ACL="public-read")
    assert code(e) == "InvalidBucketAclWithObjectOwnership"
    assert e.value.response["Error"]["Message"] == (
        "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting")
    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket=bucket_name(account, "a2"), ACL="public-read",
                         ObjectOwnership="ObjectWriter")
    assert code(e) == "InvalidBucketAclWithBlockPublicAccessError"
    # A private ACL is what BucketOwnerEnforced means anyway.
    s3.create_bucket(Bucket=bucket_name(account, "a3"), ACL="private")
    b = bucket_name(account, "a4")
    s3.create_bucket(Bucket=b, ObjectOwnership="BucketOwnerPreferred",
                     GrantRead='uri="http://acs.amazonaws.com/groups/s3/LogDelivery"')
    assert s3.get_bucket_ownership_controls(Bucket=b)["OwnershipControls"]["Rules"] == [
        {"ObjectOwnership": "BucketOwnerPreferred"}]
    # ACLs work once enabled; disabling them again needs an owner-only bucket ACL.
    s3.put_object(Bucket=b, Key="k", Body=b"x",
                  GrantRead='uri="http://acs.amazonaws.com/groups/s3/LogDelivery"')
    # Public ones stay blocked by the bucket's Block Public Access.
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=b, Key="k", Body=b"x", ACL="authenticated-read")
    assert code(e) == "AccessDenied"
    with pytest.raises(ClientError) as e:
        s3.put_bucket_ownership_controls(
            Bucket=b, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
    assert code(e) == "InvalidBucketAclWithObjectOwnership"
    s3.put_bucket_acl(Bucket=b, ACL="private")
    s3.put_bucket_ownership_controls(
        Bucket=b, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})


def test_account_block_public_access(nephos, account, s3control):
    control = s3control(account)
    with pytest.raises(ClientError) as e:
        control.get_public_access_block(AccountId=account)
    assert code(e) == "NoSuchPublicAccessBlockConfiguration"
    # A bucket opened up the way AWS users do it.
    s3 = nephos.client("s3", account=account)
    b = bucket_name(account, "acct")
    s3.create_bucket(Bucket=b, ObjectOwnership="ObjectWriter")
    s3.delete_public_access_block(Bucket=b)
    s3.put_object(Bucket=b, Key="acl", Body=b"a", ACL="public-read")
    s3.put_object(Bucket=b, Key="pol", Body=b"p")
    url = f"{nephos.endpoint}/{b}"
    assert requests.get(f"{url}/acl", timeout=5).status_code == 200

    control.put_public_access_block(AccountId=account, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
        "RestrictPublicBuckets": False})
    assert control.get_public_access_block(AccountId=account)["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
        "RestrictPublicBuckets": False}
    # The bucket's own settings are untouched, but the account's apply.
    with pytest.raises(ClientError) as e:
        s3.get_public_access_block(Bucket=b)
    assert code(e) == "NoSuchPublicAccessBlockConfiguration"
    assert requests.get(f"{url}/acl", timeout=5).status_code == 403
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=b, Key="k2", Body=b"x", ACL="public-read")
    assert code(e) == "AccessDenied"
    with pytest.raises(ClientError) as e:
        s3.put_bucket_policy(Bucket=b, Policy=public_policy(b))
    assert code(e) == "AccessDenied"

    # RestrictPublicBuckets alone: a public policy can be set but grants nothing.
    control.put_public_access_block(AccountId=account, PublicAccessBlockConfiguration={
        "RestrictPublicBuckets": True})
    s3.put_bucket_policy(Bucket=b, Policy=public_policy(b))
    assert requests.get(f"{url}/pol", timeout=5).status_code == 403
    assert requests.get(f"{url}/acl", timeout=5).status_code == 200

    control.delete_public_access_block(AccountId=account)
    with pytest.raises(ClientError) as e:
        control.get_public_access_block(AccountId=account)
    assert code(e) == "NoSuchPublicAccessBlockConfiguration"
    r = requests.get(f"{url}/pol", timeout=5)
    assert (r.status_code, r.content) == (200, b"p")


def test_account_settings_are_the_callers_own(nephos, account, s3control):
    with pytest.raises(ClientError) as e:
        s3control(account).put_public_access_block(
            AccountId="999999999990",
            PublicAccessBlockConfiguration={"BlockPublicAcls": True})
    assert code(e) == "AccessDenied"


def test_account_settings_survive_a_restart(start_nephos, tmp_path, account, monkeypatch):
    real = socket.getaddrinfo
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, *a, **k: real(
        "127.0.0.1" if isinstance(host, str) and host.endswith(".localhost") else host, *a, **k))

    def control(server):
        return boto3.client("s3control", endpoint_url=f"http://localhost:{server.port}",
                            region_name="us-east-1", aws_access_key_id=account,
                            aws_secret_access_key="test",
                            config=Config(retries={"max_attempts": 0}))

    server = start_nephos("--data-dir", str(tmp_path))
    control(server).put_public_access_block(
        AccountId=account, PublicAccessBlockConfiguration={"BlockPublicPolicy": True})
    server.stop()
    server = start_nephos("--data-dir", str(tmp_path))
    got = control(server).get_public_access_block(AccountId=account)
    assert got["PublicAccessBlockConfiguration"]["BlockPublicPolicy"] is True
    s3 = server.client("s3", account=account)
    b = bucket_name(account, "restart")
    s3.create_bucket(Bucket=b)
    s3.delete_public_access_block(Bucket=b)
    with pytest.raises(ClientError) as e:
        s3.put_bucket_policy(Bucket=b, Policy=public_policy(b))
    assert code(e) == "AccessDenied"
