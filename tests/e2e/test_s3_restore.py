"""Archived objects (GLACIER, DEEP_ARCHIVE): unreadable until RestoreObject has made a
temporary copy, which takes the tier's time on the shared clock and lasts the requested
days (to the next midnight UTC)."""

import pytest
from botocore.exceptions import ClientError

from s3util import bucket_name

HOUR = 3600


@pytest.fixture
def nephos(start_nephos):
    """A private server: these tests move its clock."""
    return start_nephos()


def code(excinfo):
    return excinfo.value.response["Error"]["Code"], excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"]


def test_restore_an_archived_object(nephos, account):
    s3 = nephos.client("s3", account=account)
    b = bucket_name(account, "cold")
    s3.create_bucket(Bucket=b)
    s3.put_object(Bucket=b, Key="frozen", Body=b"deep", StorageClass="GLACIER")
    s3.put_object(Bucket=b, Key="warm", Body=b"here")

    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=b, Key="frozen")
    assert code(e) == ("InvalidObjectState", 403)
    assert e.value.response["Error"]["StorageClass"] == "GLACIER"
    head = s3.head_object(Bucket=b, Key="frozen")
    assert head["StorageClass"] == "GLACIER" and "Restore" not in head
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=b, Key="thawed", CopySource=f"{b}/frozen")
    assert code(e) == ("InvalidObjectState", 403)
    with pytest.raises(ClientError) as e:
        s3.restore_object(Bucket=b, Key="warm", RestoreRequest={"Days": 1})
    assert code(e) == ("InvalidObjectState", 403)

    r = s3.restore_object(Bucket=b, Key="frozen", RestoreRequest={
        "Days": 2, "GlacierJobParameters": {"Tier": "Standard"}})
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 202
    with pytest.raises(ClientError) as e:
        s3.restore_object(Bucket=b, Key="frozen", RestoreRequest={"Days": 2})
    assert code(e) == ("RestoreAlreadyInProgress", 409)
    assert s3.head_object(Bucket=b, Key="frozen")["Restore"] == 'ongoing-request="true"'
    with pytest.raises(ClientError):
        s3.get_object(Bucket=b, Key="frozen")

    # A Standard retrieval takes up to 5 hours.
    nephos.internal("/_nephos/clock", {"advance_seconds": 5 * HOUR + 60})
    restore = s3.head_object(Bucket=b, Key="frozen")["Restore"]
    assert restore.startswith('ongoing-request="false", expiry-date="') and restore.endswith('00:00:00 GMT"')
    assert s3.get_object(Bucket=b, Key="frozen")["Body"].read() == b"deep"
    s3.copy_object(Bucket=b, Key="thawed", CopySource=f"{b}/frozen", StorageClass="STANDARD")
    assert s3.get_object(Bucket=b, Key="thawed")["Body"].read() == b"deep"
    # Renewing a restored copy answers 200.
    r = s3.restore_object(Bucket=b, Key="frozen", RestoreRequest={"Days": 1})
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 200

    # The copy expires; the object is archived again.
    nephos.internal("/_nephos/clock", {"advance_seconds": 3 * 24 * HOUR})
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=b, Key="frozen")
    assert code(e) == ("InvalidObjectState", 403)
    assert "Restore" not in s3.head_object(Bucket=b, Key="frozen")
    assert s3.get_object(Bucket=b, Key="thawed")["Body"].read() == b"deep"


def test_expedited_and_deep_archive_times(nephos, account):
    s3 = nephos.client("s3", account=account)
    b = bucket_name(account, "tiers")
    s3.create_bucket(Bucket=b)
    s3.put_object(Bucket=b, Key="g", Body=b"g", StorageClass="GLACIER")
    s3.put_object(Bucket=b, Key="d", Body=b"d", StorageClass="DEEP_ARCHIVE")
    s3.restore_object(Bucket=b, Key="g", RestoreRequest={"Days": 1, "GlacierJobParameters": {"Tier": "Expedited"}})
    s3.restore_object(Bucket=b, Key="d", RestoreRequest={"Days": 1})
    nephos.internal("/_nephos/clock", {"advance_seconds": 6 * 60})
    assert s3.get_object(Bucket=b, Key="g")["Body"].read() == b"g"
    with pytest.raises(ClientError):
        s3.get_object(Bucket=b, Key="d")  # Deep Archive Standard: up to 12 hours
    nephos.internal("/_nephos/clock", {"advance_seconds": 12 * HOUR})
    assert s3.get_object(Bucket=b, Key="d")["Body"].read() == b"d"
