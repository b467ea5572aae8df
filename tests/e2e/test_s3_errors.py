"""S3 error bodies as AWS writes them: the code, the message, then the elements that
name what failed (BucketName, Key, Condition, ArgumentName/ArgumentValue, ...), read
from the raw XML because botocore keeps only some of them."""

import re

from conftest import new_account
from s3util import bucket_name, raw


def element(xml, name):
    m = re.search(rf"<{name}>([^<]*)</{name}>", xml)
    return m.group(1) if m else None


def assert_error(r, status, code, **elements):
    assert r.status_code == status, r.text
    assert element(r.text, "Code") == code, r.text
    for name, value in elements.items():
        assert element(r.text, name) == value, (name, r.text)
    # The extra elements come after the message, before the request ids.
    if elements:
        first = next(iter(elements))
        assert re.search(rf"</Message><{first}>", r.text), r.text
    assert element(r.text, "RequestId") and element(r.text, "HostId")


def test_bucket_and_key_errors_name_them(nephos, account):
    b = bucket_name(account, "err")
    assert_error(raw(nephos, account, "GET", "/nosuch-bkt-x1/k"), 404, "NoSuchBucket",
                 BucketName="nosuch-bkt-x1")
    assert raw(nephos, account, "PUT", f"/{b}").status_code == 200
    assert_error(raw(nephos, account, "GET", f"/{b}/missing/key.txt"), 404, "NoSuchKey",
                 Key="missing/key.txt")
    assert raw(nephos, account, "PUT", f"/{b}/k", data=b"x").status_code == 200
    assert_error(raw(nephos, account, "DELETE", f"/{b}"), 409, "BucketNotEmpty", BucketName=b)
    assert_error(raw(nephos, new_account(), "PUT", f"/{b}"), 409, "BucketAlreadyExists",
                 BucketName=b)
    assert_error(raw(nephos, account, "GET", f"/{b}?policy"), 404, "NoSuchBucketPolicy",
                 BucketName=b)
    assert_error(raw(nephos, account, "GET", f"/{b}/k?uploadId=nope"), 404, "NoSuchUpload",
                 UploadId="nope")


def test_preconditions_and_arguments(nephos, account):
    b = bucket_name(account, "args")
    raw(nephos, account, "PUT", f"/{b}")
    raw(nephos, account, "PUT", f"/{b}/k", data=b"x")
    assert_error(raw(nephos, account, "GET", f"/{b}/k", headers={"If-Match": '"nope"'}),
                 412, "PreconditionFailed", Condition="If-Match")
    assert_error(raw(nephos, account, "PUT", f"/{b}/k", headers={"If-None-Match": "*"}, data=b"y"),
                 412, "PreconditionFailed", Condition="If-None-Match")
    assert_error(raw(nephos, account, "GET", f"/{b}/k?versionId=bogus"), 400, "InvalidArgument",
                 ArgumentName="versionId", ArgumentValue="bogus")
    assert_error(raw(nephos, account, "PUT", f"/{b}/k2", headers={"x-amz-acl": "everyone"}, data=b""),
                 400, "InvalidArgument", ArgumentName="x-amz-acl", ArgumentValue="everyone")
    assert_error(raw(nephos, account, "GET", f"/{b}?list-type=2&continuation-token=zz"), 400,
                 "InvalidArgument", ArgumentName="continuation-token", ArgumentValue="zz")
    assert_error(raw(nephos, account, "GET", f"/{b}/k", headers={"Range": "bytes=5-9"}), 416,
                 "InvalidRange", RangeRequested="bytes=5-9", ActualObjectSize="1")
    assert_error(raw(nephos, account, "PUT", f"/{b}/k4", data=b"x",
                     headers={"x-amz-storage-class": "FANCY"}),
                 400, "InvalidStorageClass", StorageClassRequested="FANCY")
    assert_error(raw(nephos, account, "PUT", f"/{b}/k5", headers={
        "x-amz-copy-source": f"/{b}/k", "x-amz-metadata-directive": "MERGE"}), 400,
        "InvalidArgument", ArgumentName="x-amz-metadata-directive", ArgumentValue="MERGE")
    assert_error(raw(nephos, account, "PUT", f"/{b}/k3", data=b"x", headers={
        "x-amz-server-side-encryption-customer-algorithm": "AES256",
        "x-amz-server-side-encryption-customer-key": "c2hvcnQ=",
    }), 400, "InvalidArgument", ArgumentName="x-amz-server-side-encryption")


def test_location_constraints(nephos, account):
    body = ("<CreateBucketConfiguration><LocationConstraint>{}</LocationConstraint>"
            "</CreateBucketConfiguration>")
    b = bucket_name(account, "loc")
    # us-east-1 is chosen by sending no constraint; naming it is invalid.
    r = raw(nephos, account, "PUT", f"/{b}", data=body.format("us-east-1"))
    assert_error(r, 400, "InvalidLocationConstraint", LocationConstraint="us-east-1")
    assert element(r.text, "Message") == "The specified location-constraint is not valid"
    r = raw(nephos, account, "PUT", f"/{b}", data=body.format("mars-north-1"))
    assert_error(r, 400, "InvalidLocationConstraint", LocationConstraint="mars-north-1")
    s3 = nephos.client("s3", account=account)
    try:
        s3.create_bucket(Bucket=b, CreateBucketConfiguration={"LocationConstraint": "us-east-1"})
        raise AssertionError("created")
    except s3.exceptions.ClientError as e:
        assert e.response["Error"]["Code"] == "InvalidLocationConstraint"
    eu = nephos.client("s3", account=account, region="eu-west-2")
    try:
        eu.create_bucket(Bucket=b, CreateBucketConfiguration={"LocationConstraint": "us-east-1"})
        raise AssertionError("created")
    except eu.exceptions.ClientError as e:
        # A regional endpoint calls every other region incompatible (AWS-recorded).
        assert e.response["Error"]["Code"] == "IllegalLocationConstraintException"
