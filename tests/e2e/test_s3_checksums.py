"""S3 integrity: Content-MD5, flexible checksums in headers and aws-chunked trailers,
full-object and composite multipart checksums, x-amz-checksum-mode."""

import base64
import hashlib
import zlib

import pytest
from botocore.exceptions import ClientError

from s3util import raw

MIB = 1024 * 1024


def _crc_reflected(data, poly, width):
    mask = (1 << width) - 1
    crc = mask
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ poly if crc & 1 else crc >> 1
    return crc ^ mask


def checksum(alg, data):
    if alg == "CRC32":
        raw_ = (zlib.crc32(data) & 0xFFFFFFFF).to_bytes(4, "big")
    elif alg == "CRC32C":
        raw_ = _crc_reflected(data, 0x82F63B78, 32).to_bytes(4, "big")
    elif alg == "CRC64NVME":
        raw_ = _crc_reflected(data, 0x9A6C9329AC4BC9B5, 64).to_bytes(8, "big")
    elif alg == "SHA1":
        raw_ = hashlib.sha1(data).digest()
    else:
        raw_ = hashlib.sha256(data).digest()
    return base64.b64encode(raw_).decode()


ALGS = ["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"]


def test_known_vectors():
    assert checksum("CRC32C", b"123456789") == base64.b64encode((0xE3069283).to_bytes(4, "big")).decode()
    assert checksum("CRC64NVME", b"123456789") == base64.b64encode((0xAE8B14860A799888).to_bytes(8, "big")).decode()


@pytest.mark.parametrize("alg", ALGS)
def test_header_checksums_stored_and_returned(nephos, account, s3b, alg):
    s3, b = s3b
    data = b"checksummed body " * 100
    value = checksum(alg, data)
    r = raw(nephos, account, "PUT", f"/{b}/k", data=data, headers={f"x-amz-checksum-{alg.lower()}": value})
    assert r.status_code == 200, r.text
    assert r.headers[f"x-amz-checksum-{alg.lower()}"] == value
    got = raw(nephos, account, "GET", f"/{b}/k", headers={"x-amz-checksum-mode": "ENABLED"})
    assert got.headers[f"x-amz-checksum-{alg.lower()}"] == value
    assert got.headers["x-amz-checksum-type"] == "FULL_OBJECT"
    plain = raw(nephos, account, "GET", f"/{b}/k")
    assert f"x-amz-checksum-{alg.lower()}" not in plain.headers
    bad = checksum(alg, b"other")
    r = raw(nephos, account, "PUT", f"/{b}/k2", data=data, headers={f"x-amz-checksum-{alg.lower()}": bad})
    assert r.status_code == 400 and "<Code>BadDigest</Code>" in r.text
    assert f"The {alg} you specified did not match the calculated checksum." in r.text
    r = raw(nephos, account, "PUT", f"/{b}/k2", data=data, headers={f"x-amz-checksum-{alg.lower()}": "!!"})
    assert r.status_code == 400 and "<Code>InvalidRequest</Code>" in r.text
    assert raw(nephos, account, "GET", f"/{b}/k2").status_code == 404


@pytest.mark.parametrize("alg", ["CRC32", "SHA1", "SHA256"])
def test_boto3_checksums_validate_on_get(s3b, alg):
    s3, b = s3b
    data = b"x" * 70000
    put = s3.put_object(Bucket=b, Key="k", Body=data, ChecksumAlgorithm=alg)
    assert put[f"Checksum{alg}"] == checksum(alg, data)
    got = s3.get_object(Bucket=b, Key="k", ChecksumMode="ENABLED")
    assert got[f"Checksum{alg}"] == checksum(alg, data)
    assert got["Body"].read() == data  # botocore validates the body against it


def test_default_checksum_is_crc64nvme(nephos, account, s3b):
    _, b = s3b
    data = b"no checksum sent"
    assert raw(nephos, account, "PUT", f"/{b}/d", data=data).status_code == 200
    got = raw(nephos, account, "HEAD", f"/{b}/d", headers={"x-amz-checksum-mode": "ENABLED"})
    assert got.headers["x-amz-checksum-crc64nvme"] == checksum("CRC64NVME", data)


def test_content_md5(nephos, account, s3b):
    _, b = s3b
    data = b"md5 me"
    good = base64.b64encode(hashlib.md5(data).digest()).decode()
    assert raw(nephos, account, "PUT", f"/{b}/m", data=data, headers={"Content-MD5": good}).status_code == 200
    bad = base64.b64encode(hashlib.md5(b"x").digest()).decode()
    r = raw(nephos, account, "PUT", f"/{b}/m", data=data, headers={"Content-MD5": bad})
    assert r.status_code == 400 and "<Code>BadDigest</Code>" in r.text
    r = raw(nephos, account, "PUT", f"/{b}/m", data=data, headers={"Content-MD5": "not-md5"})
    assert r.status_code == 400 and "<Code>InvalidDigest</Code>" in r.text


def chunked(data, trailer_name, trailer_value, size=64 * 1024):
    out = b""
    for i in range(0, len(data), size):
        piece = data[i:i + size]
        out += b"%x\r\n" % len(piece) + piece + b"\r\n"
    out += b"0\r\n" + f"{trailer_name}:{trailer_value}\r\n\r\n".encode()
    return out


@pytest.mark.parametrize("declared", [True, False], ids=["sdk-algorithm", "trailer-only"])
@pytest.mark.parametrize("alg", ["CRC32", "CRC32C", "SHA1", "SHA256"])
def test_trailer_checksums(nephos, account, s3b, alg, declared):
    """The AWS CRT names the checksum only in `x-amz-trailer`: it is computed and
    checked all the same."""
    _, b = s3b
    data = bytes(range(256)) * 1000
    name = f"x-amz-checksum-{alg.lower()}"
    headers = {
        "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "Content-Encoding": "aws-chunked",
        "x-amz-decoded-content-length": str(len(data)),
        "x-amz-trailer": name,
    }
    if declared:
        headers["x-amz-sdk-checksum-algorithm"] = alg
    r = raw(nephos, account, "PUT", f"/{b}/t", data=chunked(data, name, checksum(alg, data)), headers=headers)
    assert r.status_code == 200, r.text
    got = raw(nephos, account, "GET", f"/{b}/t", headers={"x-amz-checksum-mode": "ENABLED"})
    assert got.content == data
    assert got.headers[name] == checksum(alg, data)
    assert "content-encoding" not in got.headers
    r = raw(nephos, account, "PUT", f"/{b}/t2", data=chunked(data, name, checksum(alg, b"x")), headers=headers)
    assert r.status_code == 400 and "<Code>BadDigest</Code>" in r.text
    assert raw(nephos, account, "GET", f"/{b}/t2").status_code == 404


def _multipart(s3, b, key, parts, **create):
    up = s3.create_multipart_upload(Bucket=b, Key=key, **create)
    alg = create.get("ChecksumAlgorithm")
    done = []
    for i, data in enumerate(parts, 1):
        kw = {"ChecksumAlgorithm": alg} if alg else {}
        r = s3.upload_part(Bucket=b, Key=key, UploadId=up["UploadId"], PartNumber=i, Body=data, **kw)
        p = {"PartNumber": i, "ETag": r["ETag"]}
        if alg:
            assert r[f"Checksum{alg}"] == checksum(alg, data)
            p[f"Checksum{alg}"] = r[f"Checksum{alg}"]
        done.append(p)
    return s3.complete_multipart_upload(Bucket=b, Key=key, UploadId=up["UploadId"], MultipartUpload={"Parts": done})


def test_composite_multipart_checksum(s3b):
    s3, b = s3b
    parts = [b"a" * 5 * MIB, b"b" * 1000]
    r = _multipart(s3, b, "comp", parts, ChecksumAlgorithm="SHA256")
    raw_sums = b"".join(hashlib.sha256(p).digest() for p in parts)
    want = base64.b64encode(hashlib.sha256(raw_sums).digest()).decode() + "-2"
    assert r["ChecksumSHA256"] == want and r["ChecksumType"] == "COMPOSITE"
    got = s3.head_object(Bucket=b, Key="comp", ChecksumMode="ENABLED")
    assert got["ChecksumSHA256"] == want and got["ChecksumType"] == "COMPOSITE"
    listed = s3.list_objects_v2(Bucket=b)["Contents"][0]
    assert listed["ChecksumAlgorithm"] == ["SHA256"] and listed["ChecksumType"] == "COMPOSITE"


def test_full_object_multipart_checksum(s3b):
    s3, b = s3b
    parts = [b"a" * 5 * MIB, b"b" * 1000]
    r = _multipart(s3, b, "full", parts, ChecksumAlgorithm="CRC32", ChecksumType="FULL_OBJECT")
    assert r["ChecksumCRC32"] == checksum("CRC32", b"".join(parts)) and r["ChecksumType"] == "FULL_OBJECT"
    got = s3.get_object(Bucket=b, Key="full", ChecksumMode="ENABLED")
    assert got["Body"].read() == b"".join(parts)
    with pytest.raises(ClientError) as e:
        s3.create_multipart_upload(Bucket=b, Key="x", ChecksumAlgorithm="SHA1", ChecksumType="FULL_OBJECT")
    assert e.value.response["Error"]["Code"] == "InvalidRequest"


def test_multipart_default_is_full_object_crc64nvme(nephos, account, s3b):
    s3, b = s3b
    parts = [b"q" * 5 * MIB, b"r" * 10]
    _multipart(s3, b, "dflt", parts)
    got = raw(nephos, account, "HEAD", f"/{b}/dflt", headers={"x-amz-checksum-mode": "ENABLED"})
    assert got.headers["x-amz-checksum-crc64nvme"] == checksum("CRC64NVME", b"".join(parts))


def test_get_object_attributes(s3b):
    """GetObjectAttributes answers only what is asked: the ETag unquoted, the checksum with
    its type, size, storage class, and for multipart objects the part count, with the
    parts themselves (paginated) only when an additional checksum was used."""
    s3, bucket = s3b
    s3.put_object(Bucket=bucket, Key="one", Body=b"hello", ChecksumAlgorithm="CRC32")
    a = s3.get_object_attributes(Bucket=bucket, Key="one",
                                 ObjectAttributes=["ETag", "Checksum", "ObjectSize", "StorageClass"])
    assert a["ETag"] == "5d41402abc4b2a76b9719d911017c592"
    assert a["Checksum"] == {"ChecksumCRC32": "NhCmhg==", "ChecksumType": "FULL_OBJECT"}
    assert (a["ObjectSize"], a["StorageClass"]) == (5, "STANDARD")
    assert "ObjectParts" not in a and "LastModified" in a
    only = s3.get_object_attributes(Bucket=bucket, Key="one", ObjectAttributes=["ObjectSize"])
    assert "ETag" not in only and "Checksum" not in only

    up = s3.create_multipart_upload(Bucket=bucket, Key="mp", ChecksumAlgorithm="SHA256")["UploadId"]
    parts = []
    for n, body in ((1, b"a" * 5 * 1024 * 1024), (2, b"b" * 5 * 1024 * 1024), (3, b"c" * 100)):
        r = s3.upload_part(Bucket=bucket, Key="mp", UploadId=up, PartNumber=n, Body=body,
                           ChecksumAlgorithm="SHA256")
        parts.append({"PartNumber": n, "ETag": r["ETag"], "ChecksumSHA256": r["ChecksumSHA256"]})
    done = s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=up,
                                        MultipartUpload={"Parts": parts})
    a = s3.get_object_attributes(Bucket=bucket, Key="mp", MaxParts=2,
                                 ObjectAttributes=["ETag", "ObjectParts", "Checksum"])
    assert a["ETag"] == done["ETag"].strip('"') and a["ETag"].endswith("-3")
    assert a["Checksum"]["ChecksumType"] == "COMPOSITE"
    p = a["ObjectParts"]
    assert (p["TotalPartsCount"], p["MaxParts"], p["IsTruncated"], p["NextPartNumberMarker"]) == (3, 2, True, 2)
    assert [(x["PartNumber"], x["ChecksumSHA256"]) for x in p["Parts"]] == \
        [(1, parts[0]["ChecksumSHA256"]), (2, parts[1]["ChecksumSHA256"])]
    rest = s3.get_object_attributes(Bucket=bucket, Key="mp", PartNumberMarker=2,
                                    ObjectAttributes=["ObjectParts"])["ObjectParts"]
    assert [(x["PartNumber"], x["Size"]) for x in rest["Parts"]] == [(3, 100)] and not rest["IsTruncated"]

    # Without an additional checksum, only the count.
    up = s3.create_multipart_upload(Bucket=bucket, Key="plain")["UploadId"]
    r = s3.upload_part(Bucket=bucket, Key="plain", UploadId=up, PartNumber=1, Body=b"x")
    s3.complete_multipart_upload(Bucket=bucket, Key="plain", UploadId=up,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": r["ETag"]}]})
    p = s3.get_object_attributes(Bucket=bucket, Key="plain", ObjectAttributes=["ObjectParts"])["ObjectParts"]
    assert p.get("TotalPartsCount") == 1 and "Parts" not in p

    with pytest.raises(ClientError) as e:
        s3.get_object_attributes(Bucket=bucket, Key="one", ObjectAttributes=["Colour"])
    assert e.value.response["Error"]["Code"] == "InvalidArgument"
    with pytest.raises(ClientError) as e:
        s3.get_object_attributes(Bucket=bucket, Key="nothing", ObjectAttributes=["ETag"])
    assert e.value.response["Error"]["Code"] == "NoSuchKey"


def _error(e):
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


def test_copy_object_result_names_no_checksum_type(s3b):
    s3, b = s3b
    s3.put_object(Bucket=b, Key="src", Body=b"x", ChecksumAlgorithm="SHA256")
    r = s3.copy_object(Bucket=b, Key="dst", CopySource={"Bucket": b, "Key": "src"})["CopyObjectResult"]
    assert "ChecksumSHA256" in r and "ChecksumType" not in r


def test_composite_complete_checks_each_part_checksum(s3b):
    s3, b = s3b
    up = s3.create_multipart_upload(Bucket=b, Key="c", ChecksumAlgorithm="CRC32", ChecksumType="COMPOSITE")["UploadId"]
    r = s3.upload_part(Bucket=b, Key="c", UploadId=up, PartNumber=1, Body=b"abc", ChecksumAlgorithm="CRC32")
    part = {"PartNumber": 1, "ETag": r["ETag"]}
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=b, Key="c", UploadId=up, MultipartUpload={"Parts": [part]})
    assert _error(e) == ("InvalidRequest", "The upload was created using a crc32 checksum. The complete request "
                         "must include the checksum for each part. It was missing for part 1 in the request.")
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=b, Key="c", UploadId=up, MultipartUpload={
            "Parts": [dict(part, ChecksumCRC32=checksum("CRC32", b"bbb"))]})
    assert _error(e)[0] == "InvalidPart"
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=b, Key="c", UploadId=up, MultipartUpload={
            "Parts": [dict(part, ChecksumSHA256=checksum("SHA256", b"abc"))]})
    assert _error(e) == ("BadDigest", "The sha256 you specified for part 1 did not match what we received.")
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=b, Key="c", UploadId=up, ChecksumType="FULL_OBJECT",
                                     MultipartUpload={"Parts": [dict(part, ChecksumCRC32=r["ChecksumCRC32"])]})
    assert _error(e) == ("InvalidRequest", "The upload was created using the COMPOSITE checksum mode. "
                         "The complete request must use the same checksum mode.")
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket=b, Key="c", UploadId=up, PartNumber=2, Body=b"abc", ChecksumAlgorithm="SHA1")
    assert _error(e) == ("InvalidRequest", "Checksum Type mismatch occurred, expected checksum Type: crc32, "
                         "actual checksum Type: sha1")
    s3.complete_multipart_upload(Bucket=b, Key="c", UploadId=up,
                                 MultipartUpload={"Parts": [dict(part, ChecksumCRC32=r["ChecksumCRC32"])]})


def test_full_object_complete_needs_its_type_with_a_checksum(s3b):
    s3, b = s3b
    up = s3.create_multipart_upload(Bucket=b, Key="f", ChecksumAlgorithm="CRC32", ChecksumType="FULL_OBJECT")["UploadId"]
    r = s3.upload_part(Bucket=b, Key="f", UploadId=up, PartNumber=1, Body=b"abc", ChecksumAlgorithm="CRC32")
    parts = {"Parts": [{"PartNumber": 1, "ETag": r["ETag"]}]}
    whole = checksum("CRC32", b"abc")
    for extra in ({"ChecksumCRC32": whole}, {"ChecksumSHA256": checksum("SHA256", b"abc"), "ChecksumType": "FULL_OBJECT"}):
        with pytest.raises(ClientError) as e:
            s3.complete_multipart_upload(Bucket=b, Key="f", UploadId=up, MultipartUpload=parts, **extra)
        assert _error(e) == ("BadDigest", "The crc32 you specified did not match the calculated checksum.")
    done = s3.complete_multipart_upload(Bucket=b, Key="f", UploadId=up, MultipartUpload=parts,
                                        ChecksumCRC32=whole, ChecksumType="FULL_OBJECT")
    assert done["ChecksumCRC32"] == whole


def test_create_multipart_checksum_validation(s3b):
    s3, b = s3b
    with pytest.raises(ClientError) as e:
        s3.create_multipart_upload(Bucket=b, Key="x", ChecksumType="COMPOSITE")
    assert _error(e) == ("InvalidRequest", "The x-amz-checksum-type header can only be used with the "
                         "x-amz-checksum-algorithm header.")
    # Without an algorithm, part checksums in the complete request do not match the upload.
    up = s3.create_multipart_upload(Bucket=b, Key="x")["UploadId"]
    r = s3.upload_part(Bucket=b, Key="x", UploadId=up, PartNumber=1, Body=b"abc", ChecksumAlgorithm="SHA256")
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=b, Key="x", UploadId=up, MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": r["ETag"], "ChecksumSHA256": r["ChecksumSHA256"]}]})
    assert _error(e)[0] == "InvalidPart"
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=b, Key="x", UploadId=up, ChecksumType="FULL_OBJECT",
                                     MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": r["ETag"]}]})
    assert _error(e)[1].startswith("The upload was created using the null checksum mode.")


def test_part_and_range_reads_report_checksums_as_s3_does(s3b):
    s3, b = s3b
    s3.put_object(Bucket=b, Key="r", Body=b"0123456789", ChecksumAlgorithm="CRC32")
    whole = s3.get_object(Bucket=b, Key="r", Range="bytes=0-100", ChecksumMode="ENABLED")
    assert whole["ChecksumCRC32"] == checksum("CRC32", b"0123456789")
    assert "ChecksumCRC32" not in s3.get_object(Bucket=b, Key="r", Range="bytes=0-8", ChecksumMode="ENABLED")
    parts = [b"a" * 5 * MIB, b"tail"]
    _multipart(s3, b, "comp", parts, ChecksumAlgorithm="SHA256")
    got = s3.get_object(Bucket=b, Key="comp", PartNumber=2, ChecksumMode="ENABLED")
    assert got["ChecksumSHA256"] == checksum("SHA256", b"tail") and got["ChecksumType"] == "COMPOSITE"
    attrs = s3.get_object_attributes(Bucket=b, Key="comp", ObjectAttributes=["Checksum"])
    assert "-" not in attrs["Checksum"]["ChecksumSHA256"]
    _multipart(s3, b, "full", parts, ChecksumAlgorithm="CRC32", ChecksumType="FULL_OBJECT")
    got = s3.get_object(Bucket=b, Key="full", PartNumber=2, ChecksumMode="ENABLED")
    assert "ChecksumCRC32" not in got
    attrs = s3.get_object_attributes(Bucket=b, Key="full", ObjectAttributes=["ObjectParts"])
    assert attrs["ObjectParts"] == {"TotalPartsCount": 2}


def test_content_md5_errors_name_the_digests(s3b):
    s3, b = s3b
    good = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=b, Key="k", Body=b"data", ContentMD5="MTIz")
    assert e.value.response["Error"]["Content-MD5"] == "MTIz"
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=b, Key="k", Body=b"data", ContentMD5=good)
    err = e.value.response["Error"]
    assert err["ExpectedDigest"] == hashlib.md5(b"other").hexdigest()
    assert err["CalculatedDigest"] == base64.b64encode(hashlib.md5(b"data").digest()).decode()
    up = s3.create_multipart_upload(Bucket=b, Key="m")["UploadId"]
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket=b, Key="m", UploadId=up, PartNumber=1, Body=b"data", ContentMD5=good)
    assert e.value.response["Error"]["ExpectedDigest"] == good
