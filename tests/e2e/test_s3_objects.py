"""S3 objects: put/get/head/delete, metadata, ranges, conditions, copy, tagging, unsafe keys."""

import datetime
import hashlib

import pytest
from botocore.exceptions import ClientError

from s3util import bucket_name, raw


def code(e):
    return e.value.response["Error"]["Code"]


def status(e):
    return e.value.response["ResponseMetadata"]["HTTPStatusCode"]


def test_put_get_head_delete_with_metadata(s3b):
    s3, b = s3b
    body = b"hello world"
    put = s3.put_object(
        Bucket=b, Key="docs/a.txt", Body=body, ContentType="text/plain", Metadata={"Owner": "me"},
        CacheControl="max-age=60", ContentDisposition="attachment", ContentLanguage="en",
        StorageClass="STANDARD_IA",
    )
    assert put["ETag"] == '"%s"' % hashlib.md5(body).hexdigest()
    got = s3.get_object(Bucket=b, Key="docs/a.txt")
    assert got["Body"].read() == body
    assert got["ContentType"] == "text/plain"
    assert got["Metadata"] == {"owner": "me"}
    assert got["CacheControl"] == "max-age=60"
    assert got["ContentDisposition"] == "attachment"
    assert got["ContentLanguage"] == "en"
    assert got["StorageClass"] == "STANDARD_IA"
    assert got["ETag"] == put["ETag"]
    assert got["ContentLength"] == len(body)
    assert got["AcceptRanges"] == "bytes"
    head = s3.head_object(Bucket=b, Key="docs/a.txt")
    assert head["ContentLength"] == len(body) and head["Metadata"] == {"owner": "me"}
    s3.delete_object(Bucket=b, Key="docs/a.txt")
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=b, Key="docs/a.txt")
    assert code(e) == "NoSuchKey"
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=b, Key="docs/a.txt")
    assert status(e) == 404
    # Deleting a missing key succeeds.
    assert s3.delete_object(Bucket=b, Key="nope")["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_missing_bucket(nephos, account):
    s3 = nephos.client("s3", account=account)
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket_name(account, "none"), Key="k", Body=b"")
    assert code(e) == "NoSuchBucket"


def test_default_content_type_and_empty_body(s3b):
    s3, b = s3b
    s3.put_object(Bucket=b, Key="empty", Body=b"")
    got = s3.get_object(Bucket=b, Key="empty")
    assert got["Body"].read() == b""
    assert got["ContentType"] == "binary/octet-stream"
    assert got["ETag"] == '"d41d8cd98f00b204e9800998ecf8427e"'


def test_ranges(nephos, account, s3b):
    s3, b = s3b
    s3.put_object(Bucket=b, Key="r", Body=b"0123456789")
    for rng, want, cr in [
        ("bytes=0-3", b"0123", "bytes 0-3/10"),
        ("bytes=7-", b"789", "bytes 7-9/10"),
        ("bytes=-2", b"89", "bytes 8-9/10"),
        ("bytes=5-100", b"56789", "bytes 5-9/10"),
    ]:
        r = raw(nephos, account, "GET", f"/{b}/r", headers={"Range": rng})
        assert r.status_code == 206, rng
        assert r.content == want
        assert r.headers["Content-Range"] == cr
        assert r.headers["Content-Length"] == str(len(want))
    r = raw(nephos, account, "GET", f"/{b}/r", headers={"Range": "bytes=10-"})
    assert r.status_code == 416 and "<Code>InvalidRange</Code>" in r.text
    # A malformed range is ignored.
    r = raw(nephos, account, "GET", f"/{b}/r", headers={"Range": "bytes=5-1"})
    assert r.status_code == 200 and r.content == b"0123456789"
    got = s3.get_object(Bucket=b, Key="r", Range="bytes=2-4")
    assert got["Body"].read() == b"234" and got["ContentRange"] == "bytes 2-4/10"


def test_conditional_reads(nephos, account, s3b):
    s3, b = s3b
    etag = s3.put_object(Bucket=b, Key="c", Body=b"v1")["ETag"]
    lm = s3.head_object(Bucket=b, Key="c")["ResponseMetadata"]["HTTPHeaders"]["last-modified"]
    get = lambda h: raw(nephos, account, "GET", f"/{b}/c", headers=h)
    assert get({"If-Match": etag}).status_code == 200
    r = get({"If-Match": '"nope"'})
    assert r.status_code == 412 and "<Code>PreconditionFailed</Code>" in r.text
    assert get({"If-None-Match": etag}).status_code == 304
    assert get({"If-None-Match": '"other"'}).status_code == 200
    assert get({"If-Modified-Since": lm}).status_code == 304
    assert get({"If-Modified-Since": "Sat, 01 Jan 2000 00:00:00 GMT"}).status_code == 200
    assert get({"If-Unmodified-Since": "Sat, 01 Jan 2000 00:00:00 GMT"}).status_code == 412
    assert get({"If-Unmodified-Since": lm}).status_code == 200
    # If-Match wins over a failing If-Unmodified-Since; If-None-Match over If-Modified-Since.
    assert get({"If-Match": etag, "If-Unmodified-Since": "Sat, 01 Jan 2000 00:00:00 GMT"}).status_code == 200
    assert raw(nephos, account, "HEAD", f"/{b}/c", headers={"If-None-Match": etag}).status_code == 304
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=b, Key="c", IfMatch='"zzz"')
    assert status(e) == 412


def test_conditional_writes(s3b):
    s3, b = s3b
    s3.put_object(Bucket=b, Key="once", Body=b"first", IfNoneMatch="*")
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=b, Key="once", Body=b"second", IfNoneMatch="*")
    assert code(e) == "PreconditionFailed"
    assert s3.get_object(Bucket=b, Key="once")["Body"].read() == b"first"
    etag = s3.head_object(Bucket=b, Key="once")["ETag"]
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=b, Key="once", Body=b"x", IfMatch='"wrong"')
    assert code(e) == "PreconditionFailed"
    s3.put_object(Bucket=b, Key="once", Body=b"third", IfMatch=etag)
    assert s3.get_object(Bucket=b, Key="once")["Body"].read() == b"third"
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=b, Key="absent", Body=b"x", IfMatch=etag)
    assert code(e) == "NoSuchKey"


def test_copy_directives_and_cross_bucket(nephos, account, s3b):
    s3, b = s3b
    other = bucket_name(account, "dst")
    s3.create_bucket(Bucket=other)
    s3.put_object(Bucket=b, Key="src", Body=b"data", ContentType="text/x", Metadata={"a": "1"}, Tagging="t=1")
    r = s3.copy_object(Bucket=other, Key="copy", CopySource={"Bucket": b, "Key": "src"})
    assert r["CopyObjectResult"]["ETag"] == '"%s"' % hashlib.md5(b"data").hexdigest()
    got = s3.get_object(Bucket=other, Key="copy")
    assert got["Body"].read() == b"data" and got["Metadata"] == {"a": "1"} and got["ContentType"] == "text/x"
    assert s3.get_object_tagging(Bucket=other, Key="copy")["TagSet"] == [{"Key": "t", "Value": "1"}]
    s3.copy_object(
        Bucket=other, Key="replaced", CopySource=f"{b}/src", MetadataDirective="REPLACE",
        Metadata={"b": "2"}, ContentType="text/y", TaggingDirective="REPLACE", Tagging="u=2",
    )
    got = s3.head_object(Bucket=other, Key="replaced")
    assert got["Metadata"] == {"b": "2"} and got["ContentType"] == "text/y"
    assert s3.get_object_tagging(Bucket=other, Key="replaced")["TagSet"] == [{"Key": "u", "Value": "2"}]
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=b, Key="src", CopySource={"Bucket": b, "Key": "src"})
    assert code(e) == "InvalidRequest"
    s3.copy_object(Bucket=b, Key="src", CopySource={"Bucket": b, "Key": "src"}, MetadataDirective="REPLACE", Metadata={"c": "3"})
    assert s3.head_object(Bucket=b, Key="src")["Metadata"] == {"c": "3"}
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=b, Key="x", CopySource={"Bucket": b, "Key": "missing"})
    assert code(e) == "NoSuchKey"
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=b, Key="x", CopySource={"Bucket": b, "Key": "src"}, CopySourceIfMatch='"nope"')
    assert code(e) == "PreconditionFailed"
    # Copying a large (blob-backed) object streams it.
    big = bytes(range(256)) * 400
    s3.put_object(Bucket=b, Key="big", Body=big)
    s3.copy_object(Bucket=other, Key="big", CopySource={"Bucket": b, "Key": "big"})
    assert s3.get_object(Bucket=other, Key="big")["Body"].read() == big


def test_object_tagging(s3b):
    s3, b = s3b
    s3.put_object(Bucket=b, Key="t", Body=b"x", Tagging="a=1&b=two%20words")
    assert s3.get_object_tagging(Bucket=b, Key="t")["TagSet"] == [
        {"Key": "a", "Value": "1"}, {"Key": "b", "Value": "two words"}]
    assert s3.get_object(Bucket=b, Key="t")["TagCount"] == 2
    s3.put_object_tagging(Bucket=b, Key="t", Tagging={"TagSet": [{"Key": "z", "Value": "9"}]})
    assert s3.get_object_tagging(Bucket=b, Key="t")["TagSet"] == [{"Key": "z", "Value": "9"}]
    s3.delete_object_tagging(Bucket=b, Key="t")
    assert s3.get_object_tagging(Bucket=b, Key="t")["TagSet"] == []
    too_many = [{"Key": f"k{i}", "Value": "v"} for i in range(11)]
    with pytest.raises(ClientError) as e:
        s3.put_object_tagging(Bucket=b, Key="t", Tagging={"TagSet": too_many})
    assert code(e) == "BadRequest"


def test_delete_many(s3b):
    s3, b = s3b
    for k in ["a", "b", "c"]:
        s3.put_object(Bucket=b, Key=k, Body=b"x")
    r = s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "a"}, {"Key": "b"}, {"Key": "zz"}]})
    assert sorted(d["Key"] for d in r["Deleted"]) == ["a", "b", "zz"]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=b)["Contents"]] == ["c"]
    r = s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "c"}], "Quiet": True})
    assert "Deleted" not in r
    assert s3.list_objects_v2(Bucket=b)["KeyCount"] == 0


@pytest.mark.parametrize("key", [
    "../../etc/passwd", "a/../../b", "..", "./x", "dir/", "/leading", "a//b", "sp ace+plus%25",
    "ünïcödé/日本", "null\x00byte", "k" * 1024, "?query#frag", "tab\tand\nnewline",
])
def test_unsafe_keys_are_stored_exactly(nephos, account, s3b, key):
    s3, b = s3b
    body = key.encode() + b"-body"
    s3.put_object(Bucket=b, Key=key, Body=body)
    assert s3.get_object(Bucket=b, Key=key)["Body"].read() == body
    listed = s3.list_objects_v2(Bucket=b)["Contents"]  # botocore asks for url encoding and decodes
    assert [o["Key"] for o in listed] == [key]
    s3.delete_object(Bucket=b, Key=key)
    assert s3.list_objects_v2(Bucket=b)["KeyCount"] == 0


def test_key_too_long(s3b):
    s3, b = s3b
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=b, Key="k" * 1025, Body=b"x")
    assert code(e) == "KeyTooLongError"


def test_response_overrides(s3b):
    s3, b = s3b
    s3.put_object(Bucket=b, Key="o", Body=b"x", ContentType="text/plain")
    got = s3.get_object(Bucket=b, Key="o", ResponseContentType="application/json", ResponseContentDisposition="inline")
    assert got["ContentType"] == "application/json" and got["ContentDisposition"] == "inline"


def test_last_modified_and_expires(s3b):
    s3, b = s3b
    exp = datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc)
    s3.put_object(Bucket=b, Key="e", Body=b"x", Expires=exp)
    head = s3.head_object(Bucket=b, Key="e")
    assert head["ResponseMetadata"]["HTTPHeaders"]["expires"] == "Tue, 01 Jan 2030 00:00:00 GMT"
    age = datetime.datetime.now(datetime.timezone.utc) - head["LastModified"]
    assert abs(age.total_seconds()) < 60
