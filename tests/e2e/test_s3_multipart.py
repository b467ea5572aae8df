"""S3 multipart uploads: ETags, part rules, listing, copy parts, abort."""

import hashlib

import pytest
from botocore.exceptions import ClientError


MIB = 1024 * 1024


def code(e):
    return e.value.response["Error"]["Code"]


def test_complete_etag_and_parts(s3b):
    s3, b = s3b
    parts = [b"a" * 5 * MIB, b"b" * 5 * MIB, b"tail"]
    up = s3.create_multipart_upload(Bucket=b, Key="mp", ContentType="text/x", Metadata={"m": "1"})
    done = []
    for i, data in enumerate(parts, 1):
        r = s3.upload_part(Bucket=b, Key="mp", UploadId=up["UploadId"], PartNumber=i, Body=data)
        assert r["ETag"] == '"%s"' % hashlib.md5(data).hexdigest()
        done.append({"PartNumber": i, "ETag": r["ETag"]})
    listed = s3.list_parts(Bucket=b, Key="mp", UploadId=up["UploadId"])
    assert [p["PartNumber"] for p in listed["Parts"]] == [1, 2, 3]
    assert listed["Parts"][2]["Size"] == 4
    page = s3.list_parts(Bucket=b, Key="mp", UploadId=up["UploadId"], MaxParts=2)
    assert page["IsTruncated"] and page["NextPartNumberMarker"] == 2
    uploads = s3.list_multipart_uploads(Bucket=b)["Uploads"]
    assert [u["UploadId"] for u in uploads] == [up["UploadId"]]
    r = s3.complete_multipart_upload(Bucket=b, Key="mp", UploadId=up["UploadId"], MultipartUpload={"Parts": done})
    md5s = b"".join(hashlib.md5(p).digest() for p in parts)
    assert r["ETag"] == '"%s-3"' % hashlib.md5(md5s).hexdigest()
    got = s3.get_object(Bucket=b, Key="mp")
    assert got["Body"].read() == b"".join(parts)
    assert got["ETag"] == r["ETag"] and got["ContentType"] == "text/x" and got["Metadata"] == {"m": "1"}
    part2 = s3.get_object(Bucket=b, Key="mp", PartNumber=2)
    assert part2["PartsCount"] == 3 and part2["ContentLength"] == 5 * MIB
    assert part2["Body"].read() == parts[1]
    ranged = s3.get_object(Bucket=b, Key="mp", Range=f"bytes={5 * MIB - 2}-{5 * MIB + 1}")
    assert ranged["Body"].read() == b"aabb"
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=b)
    with pytest.raises(ClientError) as e:
        s3.list_parts(Bucket=b, Key="mp", UploadId=up["UploadId"])
    assert code(e) == "NoSuchUpload"


def test_part_rules(s3b):
    s3, b = s3b
    up = s3.create_multipart_upload(Bucket=b, Key="k")["UploadId"]
    e1 = s3.upload_part(Bucket=b, Key="k", UploadId=up, PartNumber=1, Body=b"small")["ETag"]
    e2 = s3.upload_part(Bucket=b, Key="k", UploadId=up, PartNumber=2, Body=b"small")["ETag"]
    complete = lambda parts: s3.complete_multipart_upload(Bucket=b, Key="k", UploadId=up, MultipartUpload={"Parts": parts})
    with pytest.raises(ClientError) as e:
        complete([{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}])
    assert code(e) == "EntityTooSmall"
    with pytest.raises(ClientError) as e:
        complete([{"PartNumber": 2, "ETag": e2}, {"PartNumber": 1, "ETag": e1}])
    assert code(e) == "InvalidPartOrder"
    with pytest.raises(ClientError) as e:
        complete([{"PartNumber": 1, "ETag": '"0000"'}])
    assert code(e) == "InvalidPart"
    with pytest.raises(ClientError) as e:
        complete([{"PartNumber": 3, "ETag": e1}])
    assert code(e) == "InvalidPart"
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket=b, Key="k", UploadId=up, PartNumber=10001, Body=b"x")
    assert code(e) == "InvalidArgument"
    # A single small part is a valid upload; the failed attempts left the upload usable.
    r = complete([{"PartNumber": 2, "ETag": e2}])
    assert r["ETag"].endswith('-1"')
    assert s3.get_object(Bucket=b, Key="k")["Body"].read() == b"small"


def test_abort_and_unknown_upload(s3b):
    s3, b = s3b
    up = s3.create_multipart_upload(Bucket=b, Key="k")["UploadId"]
    s3.upload_part(Bucket=b, Key="k", UploadId=up, PartNumber=1, Body=b"x")
    s3.abort_multipart_upload(Bucket=b, Key="k", UploadId=up)
    for call in (
        lambda: s3.abort_multipart_upload(Bucket=b, Key="k", UploadId=up),
        lambda: s3.upload_part(Bucket=b, Key="k", UploadId=up, PartNumber=1, Body=b"x"),
        lambda: s3.complete_multipart_upload(Bucket=b, Key="k", UploadId=up, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": "x"}]}),
    ):
        with pytest.raises(ClientError) as e:
            call()
        assert code(e) == "NoSuchUpload"
    with pytest.raises(ClientError):
        s3.head_object(Bucket=b, Key="k")


def test_upload_part_copy(s3b):
    s3, b = s3b
    src = bytes(range(256)) * (6 * MIB // 256)
    s3.put_object(Bucket=b, Key="src", Body=src)
    up = s3.create_multipart_upload(Bucket=b, Key="dst")["UploadId"]
    p1 = s3.upload_part_copy(Bucket=b, Key="dst", UploadId=up, PartNumber=1, CopySource={"Bucket": b, "Key": "src"}, CopySourceRange=f"bytes=0-{5 * MIB - 1}")
    p2 = s3.upload_part_copy(Bucket=b, Key="dst", UploadId=up, PartNumber=2, CopySource={"Bucket": b, "Key": "src"}, CopySourceRange=f"bytes={5 * MIB}-{len(src) - 1}")
    assert p1["CopyPartResult"]["ETag"] == '"%s"' % hashlib.md5(src[: 5 * MIB]).hexdigest()
    s3.complete_multipart_upload(Bucket=b, Key="dst", UploadId=up, MultipartUpload={"Parts": [
        {"PartNumber": 1, "ETag": p1["CopyPartResult"]["ETag"]}, {"PartNumber": 2, "ETag": p2["CopyPartResult"]["ETag"]}]})
    assert s3.get_object(Bucket=b, Key="dst")["Body"].read() == src
    with pytest.raises(ClientError) as e:
        s3.upload_part_copy(Bucket=b, Key="dst2", UploadId=s3.create_multipart_upload(Bucket=b, Key="dst2")["UploadId"],
                            PartNumber=1, CopySource={"Bucket": b, "Key": "src"}, CopySourceRange=f"bytes=0-{len(src)}")
    assert code(e) == "InvalidArgument"


def test_replacing_a_part(s3b):
    s3, b = s3b
    up = s3.create_multipart_upload(Bucket=b, Key="k")["UploadId"]
    s3.upload_part(Bucket=b, Key="k", UploadId=up, PartNumber=1, Body=b"old")
    e = s3.upload_part(Bucket=b, Key="k", UploadId=up, PartNumber=1, Body=b"new")["ETag"]
    s3.complete_multipart_upload(Bucket=b, Key="k", UploadId=up, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e}]})
    assert s3.get_object(Bucket=b, Key="k")["Body"].read() == b"new"


def test_list_parts_always_names_the_next_marker(s3b):
    s3, b = s3b
    up = s3.create_multipart_upload(Bucket=b, Key="m")["UploadId"]
    assert s3.list_parts(Bucket=b, Key="m", UploadId=up)["NextPartNumberMarker"] == 0
    s3.upload_part(Bucket=b, Key="m", UploadId=up, PartNumber=1, Body=b"x")
    listed = s3.list_parts(Bucket=b, Key="m", UploadId=up)
    assert not listed["IsTruncated"] and listed["NextPartNumberMarker"] == 1
    assert s3.list_parts(Bucket=b, Key="m", UploadId=up, PartNumberMarker=10)["NextPartNumberMarker"] == 0


def test_complete_errors_as_s3_orders_and_words_them(s3b):
    s3, b = s3b
    # An unknown upload is reported before an empty part list.
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=b, Key="m", UploadId="fakeid", MultipartUpload={"Parts": []})
    assert code(e) == "NoSuchUpload"
    up = s3.create_multipart_upload(Bucket=b, Key="m")["UploadId"]
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=b, Key="m", UploadId=up)
    assert code(e) == "InvalidRequest"
    assert e.value.response["Error"]["Message"] == "You must specify at least one part"
    r = s3.upload_part(Bucket=b, Key="m", UploadId=up, PartNumber=1, Body=b"x")
    s3.upload_part(Bucket=b, Key="m", UploadId=up, PartNumber=2, Body=b"y")
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=b, Key="m", UploadId=up,
                                     MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"%s"' % ("0" * 32)}]})
    err = e.value.response["Error"]
    assert err["Code"] == "InvalidPart" and err["ETag"] == "0" * 32
    assert "the specified entity tag may not match the part's entity tag." in err["Message"]
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=b, Key="m", UploadId=up, MultipartUpload={"Parts": [
            {"PartNumber": 2, "ETag": r["ETag"]}, {"PartNumber": 1, "ETag": r["ETag"]}]})
    assert e.value.response["Error"]["Message"] == (
        "The list of parts was not in ascending order. Parts must be ordered by part number.")
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=b, Key="m", UploadId=up, MultipartUpload={"Parts": [
            {"PartNumber": 1, "ETag": r["ETag"]}, {"PartNumber": 2, "ETag": r["ETag"]}]})
    err = e.value.response["Error"]
    assert err["Code"] == "EntityTooSmall" and err["ETag"] == r["ETag"].strip('"')
    assert err["Message"] == "Your proposed upload is smaller than the minimum allowed size"


def test_upload_part_echoes_the_checksum_it_was_sent_with(s3b):
    s3, b = s3b
    up = s3.create_multipart_upload(Bucket=b, Key="m")["UploadId"]
    r = s3.upload_part(Bucket=b, Key="m", UploadId=up, PartNumber=1, Body=b"abc", ChecksumAlgorithm="SHA256")
    assert "ChecksumSHA256" in r
    # The upload itself names no algorithm: ListParts shows none.
    assert "ChecksumSHA256" not in s3.list_parts(Bucket=b, Key="m", UploadId=up)["Parts"][0]


def test_list_multipart_uploads_markers(s3b):
    s3, b = s3b
    listed = s3.list_multipart_uploads(Bucket=b)
    assert (listed["NextKeyMarker"], listed["NextUploadIdMarker"]) == ("", "")
    assert "Prefix" not in listed
    ids = [s3.create_multipart_upload(Bucket=b, Key="a")["UploadId"] for _ in range(3)]
    last = s3.create_multipart_upload(Bucket=b, Key="b")["UploadId"]
    listed = s3.list_multipart_uploads(Bucket=b)
    assert not listed["IsTruncated"]
    assert (listed["NextKeyMarker"], listed["NextUploadIdMarker"]) == ("b", last)
    # Uploads of one key follow in the order they began; the id marker is a position.
    page = s3.list_multipart_uploads(Bucket=b, KeyMarker="a", UploadIdMarker=ids[0], MaxUploads=1)
    assert [u["UploadId"] for u in page["Uploads"]] == [ids[1]] and page["IsTruncated"]
    with pytest.raises(ClientError) as e:
        s3.list_multipart_uploads(Bucket=b, KeyMarker="b", UploadIdMarker=ids[0])
    assert code(e) == "InvalidArgument"
    # Without a key marker the id marker is ignored.
    page = s3.list_multipart_uploads(Bucket=b, UploadIdMarker=ids[2], MaxUploads=1)
    assert page["UploadIdMarker"] == "" and page["Uploads"][0]["Key"] == "a"


def test_list_multipart_uploads_skips_the_common_prefix_of_the_marker(s3b):
    s3, b = s3b
    for k in ("folder/aSub/f1", "folder/aSub/f2", "folder/file1"):
        s3.create_multipart_upload(Bucket=b, Key=k)
    page = s3.list_multipart_uploads(Bucket=b, Prefix="folder/", Delimiter="/", KeyMarker="folder/aSub/", MaxUploads=1)
    assert [u["Key"] for u in page["Uploads"]] == ["folder/file1"] and "CommonPrefixes" not in page


def test_invalid_part_order_names_the_upload(s3b):
    s3, b = s3b
    up = s3.create_multipart_upload(Bucket=b, Key="m")["UploadId"]
    r = s3.upload_part(Bucket=b, Key="m", UploadId=up, PartNumber=1, Body=b"x")
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=b, Key="m", UploadId=up, MultipartUpload={"Parts": [
            {"PartNumber": 2, "ETag": r["ETag"]}, {"PartNumber": 1, "ETag": r["ETag"]}]})
    assert code(e) == "InvalidPartOrder" and e.value.response["Error"]["UploadId"] == up


def test_part_of_a_plain_object_is_partial_content(s3b):
    s3, b = s3b
    s3.put_object(Bucket=b, Key="p", Body=b"test-123")
    got = s3.get_object(Bucket=b, Key="p", PartNumber=1)
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206 and got["ContentRange"] == "bytes 0-7/8"
    head = s3.head_object(Bucket=b, Key="p", PartNumber=1)
    assert head["ResponseMetadata"]["HTTPStatusCode"] == 206


def test_upload_part_copy_range_errors(s3b):
    s3, b = s3b
    s3.put_object(Bucket=b, Key="src", Body=b"0123456789")
    up = s3.create_multipart_upload(Bucket=b, Key="m")["UploadId"]

    def copy(r):
        with pytest.raises(ClientError) as e:
            s3.upload_part_copy(Bucket=b, Key="m", UploadId=up, PartNumber=1,
                                CopySource={"Bucket": b, "Key": "src"}, CopySourceRange=r)
        return e.value.response["Error"]

    for bad in ("0-8", "bytes=1-0", "bytes=-2", "bytes=1-", "bytes=0-1,3-4"):
        err = copy(bad)
        assert (err["Code"], err["ArgumentValue"]) == ("InvalidArgument", bad)
        assert err["Message"].startswith("The x-amz-copy-source-range value must be of the form bytes=first-last")
    assert copy("bytes=100-200") == {"Code": "InvalidRequest",
                                     "Message": "The specified copy range is invalid for the source object size"}
    assert copy("bytes=0-100")["Message"] == "Range specified is not valid for source object of size: 10"


def test_copy_source_dates_in_the_future_are_ignored(s3b):
    import datetime

    s3, b = s3b
    s3.put_object(Bucket=b, Key="src", Body=b"x")
    up = s3.create_multipart_upload(Bucket=b, Key="m")["UploadId"]
    later = datetime.datetime.now(tz=datetime.timezone.utc) + datetime.timedelta(days=1)
    r = s3.upload_part_copy(Bucket=b, Key="m", UploadId=up, PartNumber=1,
                            CopySource={"Bucket": b, "Key": "src"}, CopySourceIfModifiedSince=later)
    assert "ETag" in r["CopyPartResult"]
    assert s3.get_object(Bucket=b, Key="src", IfModifiedSince=later)["Body"].read() == b"x"


def test_list_multipart_uploads_url_encoding(s3b):
    s3, b = s3b
    s3.create_multipart_upload(Bucket=b, Key="dir/a b")
    listed = s3.list_multipart_uploads(Bucket=b, Prefix="dir/", EncodingType="url")
    assert listed["EncodingType"] == "url" and listed["Uploads"][0]["Key"] == "dir/a%20b"
    assert "EncodingType" not in s3.list_multipart_uploads(Bucket=b)
