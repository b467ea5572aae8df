"""S3 versioning: enable/suspend, version ids, delete markers, reads and deletes by
version, null versions, ListObjectVersions."""

import pytest
from botocore.exceptions import ClientError

from s3util import raw


def code(e):
    return e.value.response["Error"]["Code"]


def test_versions_and_delete_markers(nephos, account, s3b):
    s3, b = s3b
    assert "Status" not in s3.get_bucket_versioning(Bucket=b)
    s3.put_object(Bucket=b, Key="k", Body=b"null-version")
    s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    assert s3.get_bucket_versioning(Bucket=b)["Status"] == "Enabled"
    v1 = s3.put_object(Bucket=b, Key="k", Body=b"one")["VersionId"]
    v2 = s3.put_object(Bucket=b, Key="k", Body=b"two")["VersionId"]
    assert v1 != v2 and len(v1) == 32
    assert s3.get_object(Bucket=b, Key="k")["Body"].read() == b"two"
    assert s3.get_object(Bucket=b, Key="k", VersionId=v1)["Body"].read() == b"one"
    assert s3.get_object(Bucket=b, Key="k", VersionId="null")["Body"].read() == b"null-version"
    assert s3.get_object(Bucket=b, Key="k")["VersionId"] == v2
    d = s3.delete_object(Bucket=b, Key="k")
    assert d["DeleteMarker"] is True
    marker = d["VersionId"]
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=b, Key="k")
    assert code(e) == "NoSuchKey"
    assert e.value.response["ResponseMetadata"]["HTTPHeaders"]["x-amz-delete-marker"] == "true"
    r = raw(nephos, account, "GET", f"/{b}/k?versionId={marker}")
    assert r.status_code == 405 and r.headers["x-amz-delete-marker"] == "true"
    assert s3.list_objects_v2(Bucket=b)["KeyCount"] == 0
    vs = s3.list_object_versions(Bucket=b)
    assert [v["VersionId"] for v in vs["Versions"]] == [v2, v1, "null"]
    assert [v["IsLatest"] for v in vs["Versions"]] == [False, False, False]
    assert [(m["VersionId"], m["IsLatest"]) for m in vs["DeleteMarkers"]] == [(marker, True)]
    # Deleting the marker restores the previous version.
    r = s3.delete_object(Bucket=b, Key="k", VersionId=marker)
    assert r["DeleteMarker"] is True and r["VersionId"] == marker
    assert s3.get_object(Bucket=b, Key="k")["Body"].read() == b"two"
    s3.delete_object(Bucket=b, Key="k", VersionId=v2)
    assert s3.get_object(Bucket=b, Key="k")["Body"].read() == b"one"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=b, Key="k", VersionId=v2)
    assert code(e) == "NoSuchVersion"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=b, Key="k", VersionId="bogus")
    assert code(e) == "InvalidArgument"


def test_suspended_writes_null_versions(s3b):
    s3, b = s3b
    s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=b, Key="k", Body=b"one")["VersionId"]
    s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Suspended"})
    assert s3.get_bucket_versioning(Bucket=b)["Status"] == "Suspended"
    s3.put_object(Bucket=b, Key="k", Body=b"n1")
    s3.put_object(Bucket=b, Key="k", Body=b"n2")
    ids = [v["VersionId"] for v in s3.list_object_versions(Bucket=b)["Versions"]]
    assert ids == ["null", v1]
    assert s3.get_object(Bucket=b, Key="k")["VersionId"] == "null"
    d = s3.delete_object(Bucket=b, Key="k")
    assert d["DeleteMarker"] is True and d["VersionId"] == "null"
    vs = s3.list_object_versions(Bucket=b)
    assert [v["VersionId"] for v in vs["Versions"]] == [v1]
    assert [m["VersionId"] for m in vs["DeleteMarkers"]] == ["null"]


def test_list_versions_pagination_and_delete_many(s3b):
    s3, b = s3b
    s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    want = []
    for k in ["a", "b"]:
        for i in range(3):
            want.append((k, s3.put_object(Bucket=b, Key=k, Body=b"%d" % i)["VersionId"]))
    want = [x for k in ["a", "b"] for x in reversed([w for w in want if w[0] == k])]
    seen = []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=b, PaginationConfig={"PageSize": 2}):
        seen += [(v["Key"], v["VersionId"]) for v in page.get("Versions", [])]
    assert seen == want
    r = s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "a", "VersionId": want[0][1]}, {"Key": "b"}]})
    by_key = {d["Key"]: d for d in r["Deleted"]}
    assert by_key["a"]["VersionId"] == want[0][1]
    assert by_key["b"]["DeleteMarker"] is True and "DeleteMarkerVersionId" in by_key["b"]
    assert s3.get_object(Bucket=b, Key="a")["VersionId"] == want[1][1]


def test_version_ids_in_a_never_versioned_bucket(nephos, account):
    """Only `null` exists there: another id is invalid for GetObject and DeleteObject and
    missing for DeleteObjects (AWS-recorded)."""
    s3 = nephos.client("s3", account=account)
    b = f"t{account}-never"
    s3.create_bucket(Bucket=b)
    s3.put_object(Bucket=b, Key="k", Body=b"v")
    other = "HPniJFCxqTsMuIH9KX8K8wEjNUgmABCD"
    for call in (lambda: s3.get_object(Bucket=b, Key="k", VersionId=other),
                 lambda: s3.delete_object(Bucket=b, Key="k", VersionId=other)):
        with pytest.raises(ClientError) as e:
            call()
        err = e.value.response["Error"]
        assert (err["Code"], err["Message"], err["ArgumentName"], err["ArgumentValue"]) == (
            "InvalidArgument", "Invalid version id specified", "versionId", other)
    out = s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "k", "VersionId": other}]})
    assert out["Errors"] == [{"Key": "k", "VersionId": other, "Code": "NoSuchVersion",
                              "Message": "The specified version does not exist."}]
    assert s3.get_object(Bucket=b, Key="k", VersionId="null")["Body"].read() == b"v"


def test_writes_to_a_suspended_bucket_name_the_null_version(nephos, account):
    # As AWS recorded: PutObject names no null version, CopyObject does, and a null
    # source version is never named as CopySourceVersionId.
    s3 = nephos.client("s3", account=account)
    b = f"t{account}-susp"
    s3.create_bucket(Bucket=b)
    s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=b, Key="k", Body=b"v1")["VersionId"]
    s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Suspended"})
    put = s3.put_object(Bucket=b, Key="k", Body=b"v2")
    assert "VersionId" not in put
    assert "x-amz-version-id" not in put["ResponseMetadata"]["HTTPHeaders"]
    copied = s3.copy_object(Bucket=b, Key="k", CopySource=f"{b}/k", MetadataDirective="REPLACE")
    assert copied["VersionId"] == "null"
    assert "CopySourceVersionId" not in copied
    s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    again = s3.copy_object(Bucket=b, Key="k", CopySource=f"{b}/k", MetadataDirective="REPLACE")
    assert "CopySourceVersionId" not in again and again["VersionId"] != "null"
    named = s3.copy_object(Bucket=b, Key="k2", CopySource={"Bucket": b, "Key": "k", "VersionId": v1})
    assert named["CopySourceVersionId"] == v1


def test_an_altered_version_id_is_invalid_not_missing(nephos, account, s3b):
    s3, b = s3b
    s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    vid = s3.put_object(Bucket=b, Key="k", Body=b"x")["VersionId"]
    forged = vid[:-4] + ("ABCD" if not vid.endswith("ABCD") else "WXYZ")
    with pytest.raises(ClientError) as e:
        s3.delete_object(Bucket=b, Key="k", VersionId=forged)
    err = e.value.response["Error"]
    assert (err["Code"], err["Message"], err["ArgumentName"], err["ArgumentValue"]) == (
        "InvalidArgument", "Invalid version id specified", "versionId", forged)
    s3.delete_object(Bucket=b, Key="k", VersionId=vid)
    # An id S3 issued that no longer exists is missing, not invalid.
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=b, Key="k", VersionId=vid)
    assert code(e) == "NoSuchVersion"
