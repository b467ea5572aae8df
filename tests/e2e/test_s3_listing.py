"""S3 listings: ListObjects v1 and v2, prefixes, delimiters, pagination, url encoding."""

import pytest

from s3util import bucket_name, raw

KEYS = ["a/1", "a/2", "a/b/3", "b", "c d/e", "c+d", "z"]


@pytest.fixture
def listed(nephos, account):
    s3 = nephos.client("s3", account=account)
    name = bucket_name(account)
    s3.create_bucket(Bucket=name)
    for k in KEYS:
        s3.put_object(Bucket=name, Key=k, Body=k.encode())
    return s3, name


def test_v2_all_prefix_delimiter(listed):
    s3, b = listed
    r = s3.list_objects_v2(Bucket=b)
    assert [o["Key"] for o in r["Contents"]] == KEYS
    assert r["KeyCount"] == len(KEYS) and r["IsTruncated"] is False
    assert r["Contents"][0]["Size"] == 3 and r["Contents"][0]["StorageClass"] == "STANDARD"
    r = s3.list_objects_v2(Bucket=b, Delimiter="/")
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["a/", "c d/"]
    assert [o["Key"] for o in r["Contents"]] == ["b", "c+d", "z"]
    assert r["KeyCount"] == 5
    r = s3.list_objects_v2(Bucket=b, Prefix="a/", Delimiter="/")
    assert [o["Key"] for o in r["Contents"]] == ["a/1", "a/2"]
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["a/b/"]
    assert s3.list_objects_v2(Bucket=b, Prefix="nothing")["KeyCount"] == 0


def test_v2_pagination_and_start_after(listed):
    s3, b = listed
    seen, token = [], None
    while True:
        kw = {"ContinuationToken": token} if token else {}
        r = s3.list_objects_v2(Bucket=b, MaxKeys=2, **kw)
        seen += [o["Key"] for o in r.get("Contents", [])]
        if not r["IsTruncated"]:
            break
        token = r["NextContinuationToken"]
    assert seen == KEYS
    r = s3.list_objects_v2(Bucket=b, StartAfter="b")
    assert [o["Key"] for o in r["Contents"]] == ["c d/e", "c+d", "z"]
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=b, Delimiter="/", PaginationConfig={"PageSize": 1})
    items = []
    for p in pages:
        items += [o["Key"] for o in p.get("Contents", [])] + [c["Prefix"] for c in p.get("CommonPrefixes", [])]
    assert items == ["a/", "b", "c d/", "c+d", "z"]
    r = s3.list_objects_v2(Bucket=b, FetchOwner=True, MaxKeys=1)
    assert "ID" in r["Contents"][0]["Owner"]


def test_v1_markers(listed):
    s3, b = listed
    r = s3.list_objects(Bucket=b, MaxKeys=3)
    assert [o["Key"] for o in r["Contents"]] == KEYS[:3] and r["IsTruncated"]
    r = s3.list_objects(Bucket=b, Marker=r["NextMarker"])
    assert [o["Key"] for o in r["Contents"]] == KEYS[3:]
    keys = [o["Key"] for p in s3.get_paginator("list_objects").paginate(Bucket=b, PaginationConfig={"PageSize": 2}) for o in p["Contents"]]
    assert keys == KEYS


def test_url_encoding_on_the_wire(nephos, account, listed):
    _, b = listed
    r = raw(nephos, account, "GET", f"/{b}?list-type=2&encoding-type=url&prefix=c")
    assert "<Key>c%20d/e</Key>" in r.text and "<Key>c%2Bd</Key>" in r.text
    assert "<EncodingType>url</EncodingType>" in r.text
    r = raw(nephos, account, "GET", f"/{b}?list-type=2&prefix=c")
    assert "<Key>c d/e</Key>" in r.text


def test_invalid_token(nephos, account, listed):
    _, b = listed
    r = raw(nephos, account, "GET", f"/{b}?list-type=2&continuation-token=%%%")
    assert r.status_code == 400 and "InvalidArgument" in r.text


def test_version_listing_pages_through_common_prefixes(nephos, account):
    """A page ending on a common prefix names no version marker, so paging on goes past
    the prefix (it used to restart at it: the paginator saw the same token twice)."""
    s3 = nephos.client("s3", account=account)
    b = f"t{account}-verpages"
    s3.create_bucket(Bucket=b)
    s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    for k in ["a/1", "a/2", "b/1", "c", "d/x/1"]:
        s3.put_object(Bucket=b, Key=k, Body=b"1")
        s3.put_object(Bucket=b, Key=k, Body=b"2")
    first = s3.list_object_versions(Bucket=b, Delimiter="/", MaxKeys=1)
    assert first["CommonPrefixes"] == [{"Prefix": "a/"}]
    assert first["NextKeyMarker"] == "a/" and "NextVersionIdMarker" not in first
    prefixes, keys = [], []
    pages = s3.get_paginator("list_object_versions").paginate(
        Bucket=b, Delimiter="/", PaginationConfig={"PageSize": 1})
    for page in pages:
        prefixes += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        keys += [v["Key"] for v in page.get("Versions", [])]
    assert prefixes == ["a/", "b/", "d/"]
    assert keys == ["c", "c"]
