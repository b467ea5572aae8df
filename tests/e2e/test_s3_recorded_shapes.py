"""S3 answers whose shape AWS recorded differently from what its model implies: empty
Tagging documents, empty policies, empty numbers in the query, the bucket region on
listings, HeadBucket's content type, conditional completions after a delete."""

import pytest
from botocore.exceptions import ClientError

from s3util import bucket_name


def unvalidated(nephos, account):
    return nephos.client("s3", account=account, config_args={"parameter_validation": False})


def test_a_tagging_document_without_tag_set_clears_the_tags(nephos, account, s3b):
    s3, b = s3b
    raw = unvalidated(nephos, account)
    s3.put_bucket_tagging(Bucket=b, Tagging={"TagSet": [{"Key": "a", "Value": "1"}]})
    assert raw.put_bucket_tagging(Bucket=b, Tagging={"TagSet": None})["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as e:
        s3.get_bucket_tagging(Bucket=b)
    assert e.value.response["Error"]["Code"] == "NoSuchTagSet"
    s3.put_object(Bucket=b, Key="k", Body=b"x", Tagging="a=1")
    raw.put_object_tagging(Bucket=b, Key="k", Tagging={"TagSet": None})
    assert s3.get_object_tagging(Bucket=b, Key="k")["TagSet"] == []


def test_an_empty_bucket_policy_is_malformed_policy(nephos, account, s3b):
    s3, b = s3b
    with pytest.raises(ClientError) as e:
        unvalidated(nephos, account).put_bucket_policy(Bucket=b, Policy="")
    err = e.value.response["Error"]
    assert (err["Code"], err["Message"]) == (
        "MalformedPolicy", "Policies must be valid JSON and the first byte must be '{'")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_an_empty_number_in_the_query_is_none(nephos, account, s3b):
    s3, b = s3b
    up = s3.create_multipart_upload(Bucket=b, Key="k")["UploadId"]
    s3.upload_part(Bucket=b, Key="k", UploadId=up, PartNumber=1, Body=b"data")
    raw = unvalidated(nephos, account)
    for arg in ({"PartNumberMarker": ""}, {"MaxParts": ""}):
        parts = raw.list_parts(Bucket=b, Key="k", UploadId=up, **arg)
        assert (parts["PartNumberMarker"], parts["MaxParts"], len(parts["Parts"])) == (0, 1000, 1)


def test_listings_name_the_bucket_region(nephos, account):
    s3 = nephos.client("s3", account=account)
    b = bucket_name(account, "west")
    s3.create_bucket(Bucket=b, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    for listing in (s3.list_objects_v2(Bucket=b), s3.list_objects(Bucket=b)):
        assert listing["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == "us-west-2"


def test_head_bucket_is_labelled_xml(s3b):
    s3, b = s3b
    headers = s3.head_bucket(Bucket=b)["ResponseMetadata"]["HTTPHeaders"]
    assert headers["content-type"] == "application/xml"


def test_a_delete_during_an_upload_conflicts_with_if_none_match(s3b):
    s3, b = s3b
    s3.put_object(Bucket=b, Key="k", Body=b"x")
    up = s3.create_multipart_upload(Bucket=b, Key="k")["UploadId"]
    etag = s3.upload_part(Bucket=b, Key="k", UploadId=up, PartNumber=1, Body=b"test")["ETag"]
    parts = {"Parts": [{"ETag": etag, "PartNumber": 1}]}
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=b, Key="k", UploadId=up, MultipartUpload=parts, IfNoneMatch="*")
    assert e.value.response["Error"]["Code"] == "PreconditionFailed"
    s3.delete_object(Bucket=b, Key="k")
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=b, Key="k", UploadId=up, MultipartUpload=parts, IfNoneMatch="*")
    err = e.value.response["Error"]
    assert (err["Code"], err["Condition"], err["Key"]) == ("ConditionalRequestConflict", "If-None-Match", "k")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    # A new upload started after the delete completes.
    up = s3.create_multipart_upload(Bucket=b, Key="k")["UploadId"]
    etag = s3.upload_part(Bucket=b, Key="k", UploadId=up, PartNumber=1, Body=b"test")["ETag"]
    parts = {"Parts": [{"ETag": etag, "PartNumber": 1}]}
    s3.complete_multipart_upload(Bucket=b, Key="k", UploadId=up, MultipartUpload=parts, IfNoneMatch="*")


def test_a_copy_source_without_a_key_is_invalid_argument(s3b):
    s3, b = s3b
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=b, Key="dest", CopySource="wrongformat")
    err = e.value.response["Error"]
    assert (err["Code"], err["Message"], err["ArgumentName"], err["ArgumentValue"]) == (
        "InvalidArgument", "Invalid copy source object key", "x-amz-copy-source", "x-amz-copy-source")


def test_bucket_encryption_errors(nephos, account, s3b):
    s3, b = s3b
    with pytest.raises(ClientError) as e:
        s3.put_bucket_encryption(Bucket=b + "-missing", ServerSideEncryptionConfiguration={"Rules": []})
    assert e.value.response["Error"]["Code"] == "NoSuchBucket"
    with pytest.raises(ClientError) as e:
        s3.put_bucket_encryption(Bucket=b, ServerSideEncryptionConfiguration={"Rules": []})
    assert e.value.response["Error"]["Code"] == "MalformedXML"
    rule = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256", "KMSMasterKeyID": "k"}}
    with pytest.raises(ClientError) as e:
        s3.put_bucket_encryption(Bucket=b, ServerSideEncryptionConfiguration={"Rules": [rule]})
    err = e.value.response["Error"]
    assert (err["Code"], err["ArgumentName"]) == ("InvalidArgument", "ApplyServerSideEncryptionByDefault")
    assert "ArgumentValue" not in err


KEY = b"1234567890abcdef1234567890abcdef"


def test_sse_c_with_sse_and_reads_with_a_key_of_another_size(s3b):
    import base64
    import hashlib

    s3, b = s3b
    key64 = base64.b64encode(KEY).decode()
    md5 = base64.b64encode(hashlib.md5(KEY).digest()).decode()
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=b, Key="k", Body=b"x", ServerSideEncryption="AES256",
                      SSECustomerAlgorithm="KMS", SSECustomerKey=key64, SSECustomerKeyMD5=md5)
    err = e.value.response["Error"]
    assert (err["Code"], err["ArgumentName"], err["ArgumentValue"]) == (
        "InvalidArgument", "x-amz-server-side-encryption", "AES256")
    s3.put_object(Bucket=b, Key="k", Body=b"x", SSECustomerAlgorithm="AES256",
                  SSECustomerKey=key64, SSECustomerKeyMD5=md5)
    # Without an MD5 botocore encodes the encoded key again: a 44-byte key, not the object's.
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=b, Key="k", SSECustomerAlgorithm="AES256", SSECustomerKey=key64)
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=b, Key="k", SSECustomerAlgorithm="AES256", SSECustomerKey=key64)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    # A write with a key of the wrong size stays a 400.
    short = KEY[:10]
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=b, Key="k", Body=b"x", SSECustomerAlgorithm="AES256",
                      SSECustomerKey=base64.b64encode(short).decode(),
                      SSECustomerKeyMD5=base64.b64encode(hashlib.md5(short).digest()).decode())
    assert e.value.response["Error"]["Code"] == "InvalidArgument"


def test_copies_in_place_under_bucket_encryption_and_into_standard(s3b):
    s3, b = s3b
    s3.put_object(Bucket=b, Key="ia", Body=b"x", StorageClass="STANDARD_IA")
    s3.copy_object(Bucket=b, Key="dest", CopySource=f"{b}/ia")
    attrs = s3.get_object_attributes(Bucket=b, Key="dest", ObjectAttributes=["StorageClass"])
    assert attrs["StorageClass"] == "STANDARD"
    s3.put_object(Bucket=b, Key="k", Body=b"")
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=b, Key="k", CopySource={"Bucket": b, "Key": "k"})
    assert e.value.response["Error"]["Code"] == "InvalidRequest"
    s3.put_bucket_encryption(Bucket=b, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    copied = s3.copy_object(Bucket=b, Key="k", CopySource={"Bucket": b, "Key": "k"})
    assert copied["ServerSideEncryption"] == "AES256"
