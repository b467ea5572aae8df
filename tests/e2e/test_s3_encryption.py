"""S3 server-side encryption: SSE-S3, SSE-C key checks, SSE-KMS settings and default
bucket encryption."""

import base64
import hashlib
import os

import pytest
import requests
from botocore.exceptions import ClientError

from s3util import bucket_name


def code(e):
    return e.value.response["Error"]["Code"]


def test_sse_s3_and_kms_headers(nephos, account):
    s3 = nephos.client("s3", account=account)
    b = bucket_name(account, "sse")
    s3.create_bucket(Bucket=b)
    r = s3.put_object(Bucket=b, Key="a", Body=b"x", ServerSideEncryption="AES256")
    assert r["ServerSideEncryption"] == "AES256"
    assert s3.head_object(Bucket=b, Key="a")["ServerSideEncryption"] == "AES256"
    assert s3.get_object(Bucket=b, Key="a")["ServerSideEncryption"] == "AES256"
    r = s3.put_object(Bucket=b, Key="k", Body=b"x", ServerSideEncryption="aws:kms",
                      SSEKMSKeyId="my-key", BucketKeyEnabled=True)
    assert r["ServerSideEncryption"] == "aws:kms" and r["SSEKMSKeyId"] == "my-key"
    h = s3.head_object(Bucket=b, Key="k")
    assert h["ServerSideEncryption"] == "aws:kms"
    assert h["SSEKMSKeyId"] == "my-key"
    assert h["BucketKeyEnabled"] is True
    r = s3.put_object(Bucket=b, Key="k2", Body=b"x", ServerSideEncryption="aws:kms")
    assert r["SSEKMSKeyId"].startswith("arn:aws:kms:")
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=b, Key="k3", Body=b"x", ServerSideEncryption="AES256", SSEKMSKeyId="x")
    assert code(e) == "InvalidArgument"


def test_default_bucket_encryption(nephos, account):
    s3 = nephos.client("s3", account=account)
    b = bucket_name(account, "dflt")
    s3.create_bucket(Bucket=b)
    rule = s3.get_bucket_encryption(Bucket=b)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    s3.put_bucket_encryption(
        Bucket=b,
        ServerSideEncryptionConfiguration={"Rules": [{
            "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "alias/mine"},
            "BucketKeyEnabled": True,
        }]},
    )
    rule = s3.get_bucket_encryption(Bucket=b)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "alias/mine"}
    assert rule["BucketKeyEnabled"] is True
    r = s3.put_object(Bucket=b, Key="k", Body=b"x")
    assert r["ServerSideEncryption"] == "aws:kms" and r["SSEKMSKeyId"] == "alias/mine"
    assert r["BucketKeyEnabled"] is True
    # An explicit header wins over the default.
    assert s3.put_object(Bucket=b, Key="k2", Body=b"x", ServerSideEncryption="AES256")["ServerSideEncryption"] == "AES256"
    s3.delete_bucket_encryption(Bucket=b)
    assert s3.put_object(Bucket=b, Key="k3", Body=b"x")["ServerSideEncryption"] == "AES256"


def test_sse_c(nephos, account):
    s3 = nephos.client("s3", account=account)
    b = bucket_name(account, "ssec")
    s3.create_bucket(Bucket=b)
    key = os.urandom(32)
    md5 = base64.b64encode(hashlib.md5(key).digest()).decode()
    r = s3.put_object(Bucket=b, Key="k", Body=b"secret", SSECustomerAlgorithm="AES256", SSECustomerKey=key)
    assert r["SSECustomerAlgorithm"] == "AES256" and r["SSECustomerKeyMD5"] == md5
    assert "ServerSideEncryption" not in r
    g = s3.get_object(Bucket=b, Key="k", SSECustomerAlgorithm="AES256", SSECustomerKey=key)
    assert g["Body"].read() == b"secret" and g["SSECustomerKeyMD5"] == md5
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=b, Key="k")
    assert code(e) == "InvalidRequest"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=b, Key="k", SSECustomerAlgorithm="AES256", SSECustomerKey=os.urandom(32))
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=b, Key="k2", Body=b"x", SSECustomerAlgorithm="AES256", SSECustomerKey=b"short")
    assert code(e) == "InvalidArgument"
    assert "secret key was invalid" in e.value.response["Error"]["Message"]
    # A wrong key MD5, on the wire.
    url = f"{nephos.endpoint}/{b}/k3"
    r = requests.put(url, data=b"x", headers={
        "Authorization": f"AWS4-HMAC-SHA256 Credential={account}/20240101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00",
        "x-amz-content-sha256": "UNSIGNED-PAYLOAD",
        "x-amz-server-side-encryption-customer-algorithm": "AES256",
        "x-amz-server-side-encryption-customer-key": base64.b64encode(key).decode(),
        "x-amz-server-side-encryption-customer-key-MD5": base64.b64encode(b"0" * 16).decode(),
    }, timeout=5)
    assert r.status_code == 400
    assert "<Code>InvalidArgument</Code>" in r.text
    assert "did not match the hash" in r.text
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=b, Key="k4", Body=b"x", SSECustomerAlgorithm="AES128", SSECustomerKey=key)
    assert code(e) in ("InvalidEncryptionAlgorithmError", "InvalidArgument")
    # Copying an SSE-C object needs the source key.
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=b, Key="c", CopySource={"Bucket": b, "Key": "k"})
    assert code(e) == "InvalidRequest"
    s3.copy_object(Bucket=b, Key="c", CopySource={"Bucket": b, "Key": "k"},
                   CopySourceSSECustomerAlgorithm="AES256", CopySourceSSECustomerKey=key)
    assert s3.get_object(Bucket=b, Key="c")["Body"].read() == b"secret"


def test_sse_c_multipart(nephos, account):
    s3 = nephos.client("s3", account=account)
    b = bucket_name(account, "ssecmp")
    s3.create_bucket(Bucket=b)
    key, other = os.urandom(32), os.urandom(32)
    md5 = base64.b64encode(hashlib.md5(key).digest()).decode()
    ssec = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": key}
    up = s3.create_multipart_upload(Bucket=b, Key="big", **ssec)
    assert up["SSECustomerAlgorithm"] == "AES256" and up["SSECustomerKeyMD5"] == md5
    uid = up["UploadId"]
    part1 = b"a" * (5 * 1024 * 1024)
    # Parts must carry the upload's key: not none, not another one.
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket=b, Key="big", UploadId=uid, PartNumber=1, Body=part1)
    assert code(e) == "InvalidRequest"
    assert "Subsequent part requests must include the appropriate encryption parameters" in \
        e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket=b, Key="big", UploadId=uid, PartNumber=1, Body=part1,
                       SSECustomerAlgorithm="AES256", SSECustomerKey=other)
    assert code(e) == "InvalidRequest"
    assert e.value.response["Error"]["Message"] == (
        "The provided encryption parameters did not match the ones used originally.")
    p1 = s3.upload_part(Bucket=b, Key="big", UploadId=uid, PartNumber=1, Body=part1, **ssec)
    assert p1["SSECustomerAlgorithm"] == "AES256" and p1["SSECustomerKeyMD5"] == md5
    assert "ServerSideEncryption" not in p1
    # A part copied from an SSE-C object needs the source's key too.
    s3.put_object(Bucket=b, Key="src", Body=b"tail", **ssec)
    with pytest.raises(ClientError) as e:
        s3.upload_part_copy(Bucket=b, Key="big", UploadId=uid, PartNumber=2,
                            CopySource={"Bucket": b, "Key": "src"}, **ssec)
    assert code(e) == "InvalidRequest"
    p2 = s3.upload_part_copy(Bucket=b, Key="big", UploadId=uid, PartNumber=2,
                             CopySource={"Bucket": b, "Key": "src"},
                             CopySourceSSECustomerAlgorithm="AES256",
                             CopySourceSSECustomerKey=key, **ssec)
    assert p2["SSECustomerKeyMD5"] == md5
    parts = [{"PartNumber": 1, "ETag": p1["ETag"]},
             {"PartNumber": 2, "ETag": p2["CopyPartResult"]["ETag"]}]
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=b, Key="big", UploadId=uid,
                                     MultipartUpload={"Parts": parts},
                                     SSECustomerAlgorithm="AES256", SSECustomerKey=other)
    assert code(e) == "InvalidRequest"
    s3.complete_multipart_upload(Bucket=b, Key="big", UploadId=uid,
                                 MultipartUpload={"Parts": parts}, **ssec)
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=b, Key="big")
    assert code(e) == "InvalidRequest"
    g = s3.get_object(Bucket=b, Key="big", **ssec)
    assert g["SSECustomerKeyMD5"] == md5
    assert g["Body"].read() == part1 + b"tail"
    # An upload without SSE-C refuses parts that send a key.
    plain = s3.create_multipart_upload(Bucket=b, Key="plain")["UploadId"]
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket=b, Key="plain", UploadId=plain, PartNumber=1, Body=b"x", **ssec)
    assert code(e) == "InvalidRequest"
    r = s3.upload_part(Bucket=b, Key="plain", UploadId=plain, PartNumber=1, Body=b"x")
    assert r["ServerSideEncryption"] == "AES256"


def test_sse_c_key_errors_as_aws_words_them(nephos, account):
    """A write without the key's MD5 is an invalid key; a read without it, or with another
    key, is refused with AWS's sentence; the errors name the algorithm header, value null."""
    import base64
    import hashlib

    from botocore.exceptions import ClientError

    s3 = nephos.client("s3", account=account)
    b = f"t{account}-ssec-words"
    s3.create_bucket(Bucket=b)
    key = b"k" * 32
    b64 = base64.b64encode(key).decode()
    md5 = base64.b64encode(hashlib.md5(key).digest()).decode()

    def raw_put(headers):
        from s3util import raw
        return raw(nephos, account, "PUT", f"/{b}/obj", data=b"x", headers=headers)

    r = raw_put({"x-amz-server-side-encryption-customer-algorithm": "AES256",
                 "x-amz-server-side-encryption-customer-key": b64})
    assert r.status_code == 400
    assert "<Message>The secret key was invalid for the specified algorithm.</Message>" in r.text
    assert "<ArgumentValue>null</ArgumentValue>" in r.text
    assert md5  # boto3 computes the MD5 itself from the raw key
    s3.put_object(Bucket=b, Key="obj", Body=b"x", SSECustomerAlgorithm="AES256", SSECustomerKey=key)
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=b, Key="obj", SSECustomerAlgorithm="AES256", SSECustomerKey=b"o" * 32)
    err = e.value.response["Error"]
    assert (err["Code"], err["Message"]) == (
        "AccessDenied",
        "Requests specifying Server Side Encryption with Customer provided keys must provide the correct secret key.")
