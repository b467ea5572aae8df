"""S3 buckets: create (regions, global names), head, list, delete, tagging, addressing."""

import pytest
from botocore.exceptions import ClientError

from conftest import new_account
from s3util import bucket_name, raw


def code(e):
    return e.value.response["Error"]["Code"]


def test_create_head_list_delete(nephos, account):
    s3 = nephos.client("s3", account=account)
    name = bucket_name(account)
    s3.create_bucket(Bucket=name)
    assert s3.head_bucket(Bucket=name)["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == "us-east-1"
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == [name]
    assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] is None
    s3.delete_bucket(Bucket=name)
    with pytest.raises(ClientError) as e:
        s3.head_bucket(Bucket=name)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket=name)
    assert code(e) == "NoSuchBucket"


def test_list_buckets_paginates_and_filters(nephos, account):
    s3 = nephos.client("s3", account=account)
    names = [bucket_name(account, f"p{i}") for i in range(5)]
    for n in names:
        s3.create_bucket(Bucket=n)
    page = s3.list_buckets(MaxBuckets=2)
    assert [b["Name"] for b in page["Buckets"]] == names[:2]
    rest = s3.list_buckets(MaxBuckets=10, ContinuationToken=page["ContinuationToken"])
    assert [b["Name"] for b in rest["Buckets"]] == names[2:]
    assert "ContinuationToken" not in rest
    assert [b["Name"] for b in s3.list_buckets(Prefix=names[3])["Buckets"]] == [names[3]]


def test_region_constraints(nephos, account):
    eu = nephos.client("s3", account=account, region="eu-west-2")
    name = bucket_name(account, "eu")
    with pytest.raises(ClientError) as e:
        eu.create_bucket(Bucket=name)
    assert code(e) == "IllegalLocationConstraintException"
    eu.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-2"})
    assert eu.get_bucket_location(Bucket=name)["LocationConstraint"] == "eu-west-2"
    with pytest.raises(ClientError) as e:
        eu.create_bucket(Bucket=bucket_name(account, "y"), CreateBucketConfiguration={"LocationConstraint": "ap-south-1"})
    assert code(e) == "IllegalLocationConstraintException"


def test_us_east_1_is_the_global_endpoint(nephos, account):
    """us-east-1 creates a bucket in whatever region its constraint names; regional
    endpoints refuse other regions (us-east-1 and unknown names included) as AWS does."""
    us = nephos.client("s3", account=account)
    name = bucket_name(account, "west")
    us.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    assert us.get_bucket_location(Bucket=name)["LocationConstraint"] == "us-west-2"
    head = us.head_bucket(Bucket=name)
    assert head["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == "us-west-2"
    for bad in ("us-east-1", "foo"):
        with pytest.raises(ClientError) as e:
            us.create_bucket(Bucket=bucket_name(account, "x"), CreateBucketConfiguration={"LocationConstraint": bad})
        assert code(e) == "InvalidLocationConstraint"
    west = nephos.client("s3", account=account, region="us-west-1")
    for bad in ("us-east-1", "bar"):
        with pytest.raises(ClientError) as e:
            west.create_bucket(Bucket=bucket_name(account, "y"), CreateBucketConfiguration={"LocationConstraint": bad})
        assert code(e) == "IllegalLocationConstraintException"
        assert e.value.response["Error"]["Message"] == (
            f"The {bad} location constraint is incompatible for the region specific endpoint this request was sent to."
        )


def test_names_are_global_across_accounts(nephos, account):
    name = bucket_name(account, "g")
    mine = nephos.client("s3", account=account, region="eu-west-1")
    mine.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    with pytest.raises(ClientError) as e:
        mine.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert code(e) == "BucketAlreadyOwnedByYou"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    other = nephos.client("s3", account=new_account())
    with pytest.raises(ClientError) as e:
        other.create_bucket(Bucket=name)
    assert code(e) == "BucketAlreadyExists"
    # Another account's bucket is not readable without a policy.
    with pytest.raises(ClientError) as e:
        other.list_objects_v2(Bucket=name)
    assert code(e) == "AccessDenied"
    assert other.list_buckets()["Buckets"] == []


@pytest.mark.parametrize("bad", ["ab", "UPPER", "a_b", "-abc", "abc-", "a..b", "192.168.1.1", "xn--abc", "x" * 64])
def test_invalid_names(nephos, account, bad):
    # Sent raw: botocore refuses some of these names itself.
    r = raw(nephos, account, "PUT", f"/{bad}")
    assert r.status_code == 400 and "<Code>InvalidBucketName</Code>" in r.text, r.text


def test_delete_only_when_empty(nephos, account):
    s3 = nephos.client("s3", account=account)
    name = bucket_name(account)
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="k", Body=b"x")
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket=name)
    assert code(e) == "BucketNotEmpty"
    s3.delete_object(Bucket=name, Key="k")
    s3.delete_bucket(Bucket=name)


def test_bucket_tagging(nephos, account):
    s3 = nephos.client("s3", account=account)
    name = bucket_name(account)
    s3.create_bucket(Bucket=name)
    with pytest.raises(ClientError) as e:
        s3.get_bucket_tagging(Bucket=name)
    assert code(e) == "NoSuchTagSet"
    s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": [{"Key": "team", "Value": "a"}]})
    assert s3.get_bucket_tagging(Bucket=name)["TagSet"] == [{"Key": "team", "Value": "a"}]
    s3.delete_bucket_tagging(Bucket=name)
    with pytest.raises(ClientError):
        s3.get_bucket_tagging(Bucket=name)


def test_virtual_host_and_localstack_hosts(nephos, account):
    s3 = nephos.client("s3", account=account)
    name = bucket_name(account, "vh")
    s3.create_bucket(Bucket=name)
    port = nephos.port
    r = raw(nephos, account, "PUT", "/dir/key.txt", data=b"vhost", host=f"{name}.s3.localhost.localstack.cloud:{port}")
    assert r.status_code == 200, r.text
    r = raw(nephos, account, "GET", "/dir/key.txt", host=f"{name}.s3.localhost:{port}")
    assert r.status_code == 200 and r.content == b"vhost"
    r = raw(nephos, account, "GET", "/?list-type=2", host=f"{name}.s3.localhost:{port}")
    assert "<Key>dir/key.txt</Key>" in r.text
    r = raw(nephos, account, "GET", f"/{name}/dir/key.txt", host=f"s3.localhost.localstack.cloud:{port}")
    assert r.content == b"vhost"
    # boto3 with virtual addressing against a localstack-style endpoint name.
    from botocore.config import Config
    import boto3

    vh = boto3.client(
        "s3", endpoint_url=f"http://s3.localhost.localstack.cloud:{port}", region_name="us-east-1",
        aws_access_key_id=account, aws_secret_access_key="test",
        config=Config(s3={"addressing_style": "virtual"}),
    )
    try:
        vh.put_object(Bucket=name, Key="b", Body=b"via boto3")
    except Exception as e:  # no DNS for *.localhost.localstack.cloud on this machine
        pytest.skip(f"virtual host name does not resolve here: {e}")
    assert vh.get_object(Bucket=name, Key="b")["Body"].read() == b"via boto3"
