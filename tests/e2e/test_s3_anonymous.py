"""Unsigned requests are anonymous, as on AWS: they act as no account, so only a bucket
policy or ACL that grants them lets them in. The owners a caller expects
(`x-amz-expected-bucket-owner`) are checked, and empty documents are sent as documents."""

import json

import pytest
import requests
from botocore.exceptions import ClientError

from conftest import new_account
from s3util import bucket_name


def code(e):
    return e.value.response["Error"]["Code"]


def default_account_client(nephos):
    """A client of the default account: non-numeric keys map to it, as unsigned requests
    used to."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3", endpoint_url=nephos.endpoint, region_name="us-east-1",
        aws_access_key_id="test", aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 0}),
    )


def test_unsigned_requests_do_not_act_as_the_default_account(nephos):
    s3 = default_account_client(nephos)
    name = f"anon-{new_account()}"
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="private", Body=b"secret")
    url = f"{nephos.endpoint}/{name}"
    assert requests.get(f"{url}/private").status_code == 403
    assert requests.get(url, params={"list-type": "2"}).status_code == 403
    put = requests.put(f"{url}/new", data=b"x")
    assert put.status_code == 403
    assert "<Code>AccessDenied</Code>" in put.text
    assert requests.delete(f"{url}/private").status_code == 403
    assert requests.get(url, params={"versioning": ""}).status_code == 403
    assert requests.put(f"{nephos.endpoint}/anon-new-{new_account()}").status_code == 403
    assert requests.get(nephos.endpoint + "/").status_code == 403
    # Nothing changed.
    assert s3.get_object(Bucket=name, Key="private")["Body"].read() == b"secret"
    with pytest.raises(ClientError):
        s3.head_object(Bucket=name, Key="new")


def test_unsigned_requests_get_what_a_policy_grants(nephos, account):
    s3 = nephos.client("s3", account=account)
    name = bucket_name(account, "anonpol")
    s3.create_bucket(Bucket=name)
    s3.delete_public_access_block(Bucket=name)
    s3.put_object(Bucket=name, Key="pub/a", Body=b"a")
    s3.put_object(Bucket=name, Key="priv/b", Body=b"b")
    s3.put_bucket_policy(Bucket=name, Policy=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                       "Resource": f"arn:aws:s3:::{name}/pub/*"}],
    }))
    url = f"{nephos.endpoint}/{name}"
    assert requests.get(f"{url}/pub/a").content == b"a"
    assert requests.get(f"{url}/priv/b").status_code == 403
    assert requests.put(f"{url}/pub/c", data=b"c").status_code == 403


def test_expected_bucket_owner(nephos, account):
    s3 = nephos.client("s3", account=account)
    name = bucket_name(account, "owner")
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="k", Body=b"v", ExpectedBucketOwner=account)
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=name, Key="k", ExpectedBucketOwner=new_account())
    assert code(e) == "AccessDenied"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    with pytest.raises(ClientError) as e:
        s3.get_bucket_versioning(Bucket=name, ExpectedBucketOwner="0000")
    assert code(e) == "InvalidBucketOwnerAWSAccountID"
    assert e.value.response["Error"]["Message"] == (
        "The value of the expected bucket owner parameter must be an AWS Account ID... [0000]"
    )
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=name, Key="copy", CopySource=f"{name}/k",
                       ExpectedSourceBucketOwner=new_account())
    assert code(e) == "AccessDenied"
    s3.copy_object(Bucket=name, Key="copy", CopySource=f"{name}/k", ExpectedSourceBucketOwner=account)


def test_empty_documents_are_sent_not_empty_bodies(nephos, account):
    s3 = nephos.client("s3", account=account)
    name = bucket_name(account, "emptydoc")
    s3.create_bucket(Bucket=name)
    bodies = {}
    s3.meta.events.register(
        "after-call.s3",
        lambda http_response, model, **_: bodies.__setitem__(model.name, http_response.content),
    )
    s3.get_bucket_versioning(Bucket=name)
    assert b"<VersioningConfiguration" in bodies["GetBucketVersioning"]
    s3.put_object(Bucket=name, Key="a", Body=b"a")
    s3.delete_objects(Bucket=name, Delete={"Objects": [{"Key": "a"}], "Quiet": True})
    assert b"<DeleteResult" in bodies["DeleteObjects"]


def test_documents_are_framed_as_s3_frames_them(nephos, account):
    """An XML declaration first, `Server: AmazonS3`, whole-second timestamps written with
    three zero decimals, and us-east-1's location as an empty element."""
    import re

    s3 = nephos.client("s3", account=account)
    name = bucket_name(account, "frame")
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="k", Body=b"v")
    seen = {}
    s3.meta.events.register(
        "after-call.s3",
        lambda http_response, model, **_: seen.__setitem__(model.name, http_response),
    )
    s3.list_objects_v2(Bucket=name)
    s3.list_buckets()
    s3.get_bucket_location(Bucket=name)
    for op in ("ListObjectsV2", "ListBuckets"):
        body = seen[op].content
        assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n'), body[:60]
        assert seen[op].headers["server"] == "AmazonS3"
        stamps = re.findall(rb"<(?:LastModified|CreationDate)>([^<]+)<", body)
        assert stamps and all(re.fullmatch(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z", s) for s in stamps), stamps
    assert seen["GetBucketLocation"].content.endswith(
        b'<LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>')
