"""S3 conditional writes (If-Match, If-None-Match on PutObject and
CompleteMultipartUpload) and DeleteObject's conditions on general purpose buckets."""

import datetime

import pytest
from botocore.exceptions import ClientError

from s3util import bucket_name


@pytest.fixture
def s3b(nephos, account):
    s3 = nephos.client("s3", account=account)
    name = bucket_name(account, "pre")
    s3.create_bucket(Bucket=name)
    return s3, name


def err(e):
    return e.value.response["Error"], e.value.response["ResponseMetadata"]["HTTPStatusCode"]


def upload(s3, b, key):
    up = s3.create_multipart_upload(Bucket=b, Key=key)["UploadId"]
    r = s3.upload_part(Bucket=b, Key=key, UploadId=up, PartNumber=1, Body=b"test")
    return up, {"Parts": [{"ETag": r["ETag"], "PartNumber": 1}]}


def test_unsupported_condition_values_answer_501(s3b):
    s3, b = s3b
    etag = s3.put_object(Bucket=b, Key="k", Body=b"x")["ETag"]
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=b, Key="k", IfNoneMatch=etag)
    error, status = err(e)
    assert status == 501 and error["Header"] == "If-None-Match"
    assert error["additionalMessage"] == "We don't accept the provided value of If-None-Match header for this API"
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=b, Key="k", IfMatch="*")
    error, status = err(e)
    assert status == 501 and error["Header"] == "If-Match"
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=b, Key="k", IfMatch="abc", IfNoneMatch="*")
    error, status = err(e)
    assert error["Header"] == "If-Match,If-None-Match"
    assert error["additionalMessage"] == "Multiple conditional request headers present in the request"


def test_complete_conflicts_with_writes_since_the_upload_began(s3b):
    s3, b = s3b
    first = s3.put_object(Bucket=b, Key="k", Body=b"test")["ETag"]
    up, parts = upload(s3, b, "k")
    second = s3.put_object(Bucket=b, Key="k", Body=b"test2")["ETag"]
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=b, Key="k", UploadId=up, MultipartUpload=parts, IfMatch=first)
    assert err(e)[0]["Code"] == "PreconditionFailed"
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=b, Key="k", UploadId=up, MultipartUpload=parts, IfMatch=second)
    error, status = err(e)
    assert (status, error["Code"], error["Condition"], error["Key"]) == (
        409, "ConditionalRequestConflict", "If-Match", "k")
    # A fresh upload succeeds.
    up, parts = upload(s3, b, "k")
    done = s3.complete_multipart_upload(Bucket=b, Key="k", UploadId=up, MultipartUpload=parts, IfMatch=second)
    # If-None-Match: the object exists.
    up, parts = upload(s3, b, "k")
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=b, Key="k", UploadId=up, MultipartUpload=parts, IfNoneMatch="*")
    assert err(e)[0]["Code"] == "PreconditionFailed"
    s3.complete_multipart_upload(Bucket=b, Key="k", UploadId=up, MultipartUpload=parts, IfMatch=done["ETag"])


def test_delete_conditions_are_not_implemented_for_general_purpose_buckets(s3b):
    s3, b = s3b
    s3.put_object(Bucket=b, Key="k", Body=b"x")
    earlier = datetime.datetime.now(tz=datetime.timezone.utc) - datetime.timedelta(days=1)
    for kwargs, header in (
        ({"IfMatch": "bad"}, "If-Match"),
        ({"IfMatchSize": 10}, "x-amz-if-match-size"),
        ({"IfMatchLastModifiedTime": earlier, "IfMatchSize": 10, "IfMatch": "x"}, "x-amz-if-match-last-modified-time"),
    ):
        with pytest.raises(ClientError) as e:
            s3.delete_object(Bucket=b, Key="k", **kwargs)
        error, status = err(e)
        assert (status, error["Code"], error["Header"]) == (501, "NotImplemented", header)
    assert s3.head_object(Bucket=b, Key="k")["ContentLength"] == 1
