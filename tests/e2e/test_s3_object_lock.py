"""S3 Object Lock: lock-enabled buckets, default retention, retention modes, legal holds
and the bypass-governance header."""

import datetime

import pytest
from botocore.exceptions import ClientError

from s3util import bucket_name


def code(e):
    return e.value.response["Error"]["Code"]


def future(days):
    return datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=days)


def test_lock_configuration_and_default_retention(nephos, account):
    s3 = nephos.client("s3", account=account)
    b = bucket_name(account, "lock")
    s3.create_bucket(Bucket=b, ObjectLockEnabledForBucket=True)
    assert s3.get_bucket_versioning(Bucket=b)["Status"] == "Enabled"
    assert s3.get_object_lock_configuration(Bucket=b)["ObjectLockConfiguration"] == {"ObjectLockEnabled": "Enabled"}
    cfg = {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}}
    s3.put_object_lock_configuration(Bucket=b, ObjectLockConfiguration=cfg)
    assert s3.get_object_lock_configuration(Bucket=b)["ObjectLockConfiguration"] == cfg
    vid = s3.put_object(Bucket=b, Key="k", Body=b"x")["VersionId"]
    h = s3.head_object(Bucket=b, Key="k")
    assert h["ObjectLockMode"] == "GOVERNANCE"
    assert h["ObjectLockRetainUntilDate"] > future(0)
    with pytest.raises(ClientError) as e:
        s3.delete_object(Bucket=b, Key="k", VersionId=vid)
    assert code(e) == "AccessDenied"
    # A delete marker is always allowed; the version stays.
    s3.delete_object(Bucket=b, Key="k")
    s3.delete_object(Bucket=b, Key="k", VersionId=vid, BypassGovernanceRetention=True)
    with pytest.raises(ClientError) as e:
        s3.put_object_lock_configuration(
            Bucket=b, ObjectLockConfiguration={"ObjectLockEnabled": "Enabled",
                                               "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 1, "Years": 1}}})
    assert code(e) == "MalformedXML"
    plain = bucket_name(account, "nolock")
    s3.create_bucket(Bucket=plain)
    with pytest.raises(ClientError) as e:
        s3.get_object_lock_configuration(Bucket=plain)
    assert code(e) == "ObjectLockConfigurationNotFoundError"
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=plain, Key="k", Body=b"x", ObjectLockMode="GOVERNANCE",
                      ObjectLockRetainUntilDate=future(1))
    assert code(e) == "InvalidRequest"
    with pytest.raises(ClientError) as e:
        s3.put_object_lock_configuration(Bucket=plain, ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"})
    assert code(e) == "InvalidBucketState"


def test_compliance_retention_and_legal_hold(nephos, account):
    s3 = nephos.client("s3", account=account)
    b = bucket_name(account, "comp")
    s3.create_bucket(Bucket=b, ObjectLockEnabledForBucket=True)
    vid = s3.put_object(Bucket=b, Key="k", Body=b"x", ObjectLockMode="COMPLIANCE",
                        ObjectLockRetainUntilDate=future(2))["VersionId"]
    r = s3.get_object_retention(Bucket=b, Key="k")["Retention"]
    assert r["Mode"] == "COMPLIANCE"
    for kwargs in [{}, {"BypassGovernanceRetention": True}]:
        with pytest.raises(ClientError) as e:
            s3.delete_object(Bucket=b, Key="k", VersionId=vid, **kwargs)
        assert code(e) == "AccessDenied"
    with pytest.raises(ClientError) as e:
        s3.put_object_retention(Bucket=b, Key="k", Retention={"Mode": "GOVERNANCE", "RetainUntilDate": future(3)},
                                BypassGovernanceRetention=True)
    assert code(e) == "AccessDenied"
    s3.put_object_retention(Bucket=b, Key="k", Retention={"Mode": "COMPLIANCE", "RetainUntilDate": future(5)})
    # Legal holds protect a version with no retention.
    v2 = s3.put_object(Bucket=b, Key="held", Body=b"y")["VersionId"]
    with pytest.raises(ClientError) as e:
        s3.get_object_retention(Bucket=b, Key="held")
    assert code(e) == "NoSuchObjectLockConfiguration"
    # A hold never set is no configuration (AWS-recorded).
    with pytest.raises(ClientError) as e:
        s3.get_object_legal_hold(Bucket=b, Key="held")
    assert code(e) == "NoSuchObjectLockConfiguration"
    s3.put_object_legal_hold(Bucket=b, Key="held", LegalHold={"Status": "ON"})
    assert s3.head_object(Bucket=b, Key="held")["ObjectLockLegalHoldStatus"] == "ON"
    r = s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "held", "VersionId": v2}]},
                          BypassGovernanceRetention=True)
    assert r["Errors"][0]["Code"] == "AccessDenied"
    s3.put_object_legal_hold(Bucket=b, Key="held", LegalHold={"Status": "OFF"})
    s3.delete_object(Bucket=b, Key="held", VersionId=v2)
    # Governance retention can be shortened only with the bypass header.
    s3.put_object(Bucket=b, Key="g", Body=b"z", ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=future(3))
    with pytest.raises(ClientError) as e:
        s3.put_object_retention(Bucket=b, Key="g", Retention={"Mode": "GOVERNANCE", "RetainUntilDate": future(1)})
    assert code(e) == "AccessDenied"
    s3.put_object_retention(Bucket=b, Key="g", Retention={"Mode": "GOVERNANCE", "RetainUntilDate": future(1)},
                            BypassGovernanceRetention=True)
