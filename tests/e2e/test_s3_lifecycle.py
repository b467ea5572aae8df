"""S3 lifecycle configuration: validation, round trip, and rules applied by the
background task when the shared clock advances (on a private server)."""

import time

import pytest
from botocore.exceptions import ClientError

from s3util import bucket_name

DAY = 86400


def code(e):
    return e.value.response["Error"]["Code"]


def wait_for(check, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()


def test_lifecycle_configuration_round_trip_and_validation(nephos, account):
    s3 = nephos.client("s3", account=account)
    b = bucket_name(account, "lc")
    s3.create_bucket(Bucket=b)
    with pytest.raises(ClientError) as e:
        s3.get_bucket_lifecycle_configuration(Bucket=b)
    assert code(e) == "NoSuchLifecycleConfiguration"
    rules = [
        {"ID": "logs", "Status": "Enabled", "Filter": {"Prefix": "logs/"}, "Expiration": {"Days": 30}},
        {"ID": "big", "Status": "Disabled",
         "Filter": {"And": {"Prefix": "data/", "Tags": [{"Key": "t", "Value": "v"}],
                            "ObjectSizeGreaterThan": 10, "ObjectSizeLessThan": 1000}},
         "Transitions": [{"Days": 10, "StorageClass": "GLACIER"}],
         "NoncurrentVersionExpiration": {"NoncurrentDays": 5}},
        {"ID": "mpu", "Status": "Enabled", "Filter": {"Prefix": ""},
         "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
         "Expiration": {"ExpiredObjectDeleteMarker": True}},
    ]
    s3.put_bucket_lifecycle_configuration(Bucket=b, LifecycleConfiguration={"Rules": rules})
    assert s3.get_bucket_lifecycle_configuration(Bucket=b)["Rules"] == rules
    bad = [
        ({"ID": "x", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 0}}, "InvalidArgument"),
        ({"ID": "x", "Status": "Enabled", "Filter": {"Prefix": ""}}, "InvalidRequest"),
        ({"ID": "x", "Status": "Enabled", "Filter": {"Prefix": ""},
          "Expiration": {"Days": 1, "ExpiredObjectDeleteMarker": True}}, "MalformedXML"),
    ]
    for rule, want in bad:
        with pytest.raises(ClientError) as e:
            s3.put_bucket_lifecycle_configuration(Bucket=b, LifecycleConfiguration={"Rules": [rule]})
        assert code(e) == want, rule
    with pytest.raises(ClientError) as e:
        s3.put_bucket_lifecycle_configuration(
            Bucket=b, LifecycleConfiguration={"Rules": [rules[0], rules[0]]})
    assert code(e) == "InvalidArgument"
    s3.delete_bucket_lifecycle(Bucket=b)
    with pytest.raises(ClientError) as e:
        s3.get_bucket_lifecycle_configuration(Bucket=b)
    assert code(e) == "NoSuchLifecycleConfiguration"


def keys(s3, b):
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=b).get("Contents", []))


def test_lifecycle_applied_when_the_clock_advances(start_nephos, tmp_path, account):
    server = start_nephos("--data-dir", str(tmp_path))
    s3 = server.client("s3", account=account)
    b = "lifecycle-run"
    s3.create_bucket(Bucket=b)
    s3.put_object(Bucket=b, Key="logs/a", Body=b"x")
    s3.put_object(Bucket=b, Key="logs/small", Body=b"x" * 10)
    s3.put_object(Bucket=b, Key="keep/a", Body=b"x")
    s3.put_object(Bucket=b, Key="tagged", Body=b"x", Tagging="tier=cold")
    s3.put_object(Bucket=b, Key="sized", Body=b"x" * 100)
    up = s3.create_multipart_upload(Bucket=b, Key="stale")["UploadId"]
    s3.put_bucket_lifecycle_configuration(Bucket=b, LifecycleConfiguration={"Rules": [
        {"ID": "logs", "Status": "Enabled", "Filter": {"Prefix": "logs/"}, "Expiration": {"Days": 2}},
        {"ID": "cold", "Status": "Enabled", "Filter": {"Tag": {"Key": "tier", "Value": "cold"}},
         "Transitions": [{"Days": 1, "StorageClass": "GLACIER"}]},
        {"ID": "size", "Status": "Enabled", "Filter": {"ObjectSizeGreaterThan": 50},
         "Expiration": {"Days": 1}},
        {"ID": "mpu", "Status": "Enabled", "Filter": {"Prefix": ""},
         "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}},
        {"ID": "off", "Status": "Disabled", "Filter": {"Prefix": "keep/"}, "Expiration": {"Days": 1}},
    ]})
    server.internal("/_nephos/clock", {"advance_seconds": 3 * DAY})
    assert wait_for(lambda: keys(s3, b) == ["keep/a", "tagged"]), keys(s3, b)
    assert wait_for(lambda: s3.head_object(Bucket=b, Key="tagged").get("StorageClass") == "GLACIER")
    assert wait_for(lambda: s3.list_multipart_uploads(Bucket=b).get("Uploads", []) == [])
    with pytest.raises(ClientError):
        s3.list_parts(Bucket=b, Key="stale", UploadId=up)
    # Deletions are durable.
    server.stop()
    s3 = start_nephos("--data-dir", str(tmp_path)).client("s3", account=account)
    assert keys(s3, b) == ["keep/a", "tagged"]


def test_noncurrent_versions_and_delete_markers_expire(start_nephos, account):
    server = start_nephos()
    s3 = server.client("s3", account=account)
    b = "lifecycle-versions"
    s3.create_bucket(Bucket=b)
    s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=b, Key="k", Body=b"1")
    s3.put_object(Bucket=b, Key="k", Body=b"2")
    s3.put_object(Bucket=b, Key="gone", Body=b"1")
    s3.delete_object(Bucket=b, Key="gone")
    s3.put_bucket_lifecycle_configuration(Bucket=b, LifecycleConfiguration={"Rules": [
        {"ID": "nc", "Status": "Enabled", "Filter": {"Prefix": ""},
         "NoncurrentVersionExpiration": {"NoncurrentDays": 1}},
        {"ID": "dm", "Status": "Enabled", "Filter": {"Prefix": ""},
         "Expiration": {"ExpiredObjectDeleteMarker": True}},
    ]})
    server.internal("/_nephos/clock", {"advance_seconds": 2 * DAY + 600})

    def versions():
        r = s3.list_object_versions(Bucket=b)
        return (sorted((v["Key"], v["IsLatest"]) for v in r.get("Versions", [])),
                [m["Key"] for m in r.get("DeleteMarkers", [])])

    # First pass: noncurrent versions go; the lone delete marker goes on a later pass.
    assert wait_for(lambda: versions()[0] == [("k", True)])
    server.internal("/_nephos/clock", {"advance_seconds": 2 * DAY})
    assert wait_for(lambda: versions() == ([("k", True)], [])), versions()
    assert s3.get_object(Bucket=b, Key="k")["Body"].read() == b"2"
