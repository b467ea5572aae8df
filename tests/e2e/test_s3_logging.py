"""S3 server access logs: requests to a bucket with logging enabled are delivered as log
objects in AWS's record format to the target bucket, in batches on the shared clock,
when the target bucket lets the logging service write."""

import json
import re
import time

import pytest
import requests
from botocore.exceptions import ClientError

from s3util import bucket_name

# bucket_owner bucket [time] ip requester request_id operation key "uri" status error
# bytes_sent object_size total_time turnaround "referer" "agent" version host_id sigv
# cipher auth host tls access_point acl_required
RECORD = re.compile(
    r'^(\S+) (\S+) \[(\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000)\] (\S+) (\S+) (\S+) (\S+) (\S+) '
    r'"([^"]*)" (\d{3}) (\S+) (\S+) (\S+) (\d+) (\S+) "([^"]*)" "([^"]*)" (\S+) (\S+) (\S+) '
    r'(\S+) (\S+) (\S+) (\S+) (\S+) (\S+)$'
)


@pytest.fixture
def nephos(start_nephos):
    """A private server: delivering logs advances its clock, which the shared server's
    other tests must not see."""
    return start_nephos()


def logging_policy(target, source, account):
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "logging.s3.amazonaws.com"},
        "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{target}/*",
        "Condition": {"ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{source}"},
                      "StringEquals": {"aws:SourceAccount": account}}}]})


def delivered(nephos, s3, bucket, prefix, wait=True):
    """Advances the clock past a delivery and returns the log objects' keys."""
    nephos.internal("/_nephos/clock", {"advance_seconds": 61})
    deadline = time.monotonic() + (5 if wait else 1)
    while True:
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])]
        if keys or time.monotonic() > deadline:
            return keys
        time.sleep(0.05)


def test_access_logs_are_delivered_to_the_target(nephos, account):
    s3 = nephos.client("s3", account=account)
    src, logs = bucket_name(account, "src"), bucket_name(account, "logs")
    s3.create_bucket(Bucket=src)
    s3.create_bucket(Bucket=logs)
    s3.put_bucket_policy(Bucket=logs, Policy=logging_policy(logs, src, account))
    s3.put_bucket_logging(Bucket=src, BucketLoggingStatus={
        "LoggingEnabled": {"TargetBucket": logs, "TargetPrefix": "access/"}})
    s3.put_object(Bucket=src, Key="a.txt", Body=b"hello")
    assert s3.get_object(Bucket=src, Key="a.txt")["Body"].read() == b"hello"
    with pytest.raises(ClientError):
        s3.get_object(Bucket=src, Key="missing")
    assert requests.get(f"{nephos.endpoint}/{src}/a.txt?x-id=GetObject", timeout=5,
                        headers={"Referer": "https://example.com/page", "User-Agent": "browser/1.0"}
                        ).status_code == 403
    s3.get_bucket_versioning(Bucket=src)
    url = s3.generate_presigned_url("get_object", Params={"Bucket": src, "Key": "a.txt"})
    assert requests.get(url, timeout=5).content == b"hello"
    v4 = nephos.client("s3", account=account, config_args={"signature_version": "s3v4"})
    url4 = v4.generate_presigned_url("get_object", Params={"Bucket": src, "Key": "a.txt"})
    assert requests.get(url4, timeout=5).content == b"hello"

    keys = delivered(nephos, s3, logs, "access/")
    assert len(keys) == 1
    assert re.fullmatch(r"access/\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d-[0-9A-Z]{16}", keys[0]), keys
    obj = s3.get_object(Bucket=logs, Key=keys[0])
    assert obj["ContentType"] == "text/plain"
    lines = obj["Body"].read().decode().splitlines()
    records = [RECORD.match(line) for line in lines]
    assert all(records), lines
    owner_id = s3.list_buckets()["Owner"]["ID"]
    by_op = [(r.group(7), r.group(8), r.group(10), r.group(11)) for r in records]
    assert by_op == [
        ("REST.PUT.OBJECT", "a.txt", "200", "-"),
        ("REST.GET.OBJECT", "a.txt", "200", "-"),
        ("REST.GET.OBJECT", "missing", "404", "NoSuchKey"),
        ("REST.GET.OBJECT", "a.txt", "403", "AccessDenied"),
        ("REST.GET.VERSIONING", "-", "200", "-"),
        ("REST.GET.OBJECT", "a.txt", "200", "-"),
        ("REST.GET.OBJECT", "a.txt", "200", "-"),
    ]
    put, get, _, anon, versioning, presigned, presigned4 = records
    assert put.group(1) == owner_id and put.group(2) == src
    assert put.group(5) == owner_id and anon.group(5) == "-"
    # The request as sent: path (as addressed), query string, HTTP version.
    assert re.fullmatch(rf"PUT /({src}/)?a\.txt(\?\S*)? HTTP/1\.1", put.group(9)), put.group(9)
    assert anon.group(9) == f"GET /{src}/a.txt?x-id=GetObject HTTP/1.1"
    assert "versioning" in versioning.group(9).split(" ")[1]
    assert "Signature=" in presigned.group(9)
    assert presigned.group(20) == ("SigV2" if "AWSAccessKeyId=" in url else "SigV4")
    assert "X-Amz-Signature=" in presigned4.group(9)
    assert (presigned4.group(20), presigned4.group(22)) == ("SigV4", "QueryString")
    assert anon.group(16) == "https://example.com/page" and anon.group(17) == "browser/1.0"
    assert put.group(16) == "-" and "Boto3" in put.group(17)
    assert (put.group(22), anon.group(22), presigned.group(22)) == ("AuthHeader", "-", "QueryString")
    assert put.group(13) == "5" and get.group(12) == "5" and get.group(13) == "5"
    assert put.group(20) == "SigV4" and anon.group(20) == "-"
    assert put.group(6) != get.group(6)
    # Delivered once: nothing new without new requests.
    assert delivered(nephos, s3, logs, "access/", wait=False) == keys


def test_partitioned_prefix(nephos, account):
    s3 = nephos.client("s3", account=account)
    src, logs = bucket_name(account, "psrc"), bucket_name(account, "plogs")
    s3.create_bucket(Bucket=src)
    s3.create_bucket(Bucket=logs)
    s3.put_bucket_policy(Bucket=logs, Policy=logging_policy(logs, src, account))
    s3.put_bucket_logging(Bucket=src, BucketLoggingStatus={"LoggingEnabled": {
        "TargetBucket": logs, "TargetPrefix": "p/",
        "TargetObjectKeyFormat": {"PartitionedPrefix": {"PartitionDateSource": "DeliveryTime"}}}})
    s3.list_objects_v2(Bucket=src)
    keys = delivered(nephos, s3, logs, "p/")
    assert len(keys) == 1
    assert re.fullmatch(
        rf"p/{account}/us-east-1/{src}/\d{{4}}/\d\d/\d\d/\d{{4}}-\d\d-\d\d-\d\d-\d\d-\d\d-[0-9A-Z]{{16}}",
        keys[0]), keys


def test_targets_must_allow_delivery(nephos, account):
    s3 = nephos.client("s3", account=account)
    src, closed = bucket_name(account, "csrc"), bucket_name(account, "closed")
    s3.create_bucket(Bucket=src)
    s3.create_bucket(Bucket=closed)
    # A policy for another source does not let this one deliver.
    s3.put_bucket_policy(Bucket=closed, Policy=logging_policy(closed, "some-other-bucket", account))
    s3.put_bucket_logging(Bucket=src, BucketLoggingStatus={
        "LoggingEnabled": {"TargetBucket": closed, "TargetPrefix": "x/"}})
    s3.list_objects_v2(Bucket=src)
    assert delivered(nephos, s3, closed, "x/", wait=False) == []

    # With ACLs enabled the Log Delivery group needs WRITE. AWS accepts the target
    # before it has it (AWS-recorded); nothing is delivered until then.
    acl_target = bucket_name(account, "acllogs")
    s3.create_bucket(Bucket=acl_target, ObjectOwnership="ObjectWriter")
    s3.put_bucket_logging(Bucket=src, BucketLoggingStatus={
        "LoggingEnabled": {"TargetBucket": acl_target, "TargetPrefix": "y/"}})
    s3.head_bucket(Bucket=src)
    assert delivered(nephos, s3, acl_target, "y/", wait=False) == []
    log_delivery = 'uri="http://acs.amazonaws.com/groups/s3/LogDelivery"'
    owner = f'id="{s3.list_buckets()["Owner"]["ID"]}"'
    s3.put_bucket_acl(Bucket=acl_target, GrantFullControl=owner, GrantWrite=log_delivery,
                      GrantReadACP=log_delivery)
    s3.put_bucket_logging(Bucket=src, BucketLoggingStatus={
        "LoggingEnabled": {"TargetBucket": acl_target, "TargetPrefix": "y/"}})
    s3.head_bucket(Bucket=src)
    keys = delivered(nephos, s3, acl_target, "y/")
    assert len(keys) == 1
    body = s3.get_object(Bucket=acl_target, Key=keys[0])["Body"].read().decode()
    assert " REST.HEAD.BUCKET - " in body
