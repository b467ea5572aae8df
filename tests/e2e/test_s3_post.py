"""S3 POST Object: browser-based uploads of a multipart/form-data form with a policy."""

import base64
import json
import xml.etree.ElementTree as ET
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from s3util import bucket_name


@pytest.fixture
def s3b(nephos, account):
    s3 = nephos.client("s3", account=account)
    name = bucket_name(account, "post")
    s3.create_bucket(Bucket=name)
    return s3, name


def post(presigned, files=None, **kwargs):
    return requests.post(
        presigned["url"],
        data=presigned["fields"],
        files=files or {"file": "abcdef"},
        allow_redirects=False,
        timeout=30,
        **kwargs,
    )


def error(resp):
    root = ET.fromstring(resp.content)
    return {child.tag: child.text for child in root}


def test_post_object_stores_the_file_and_answers_204(s3b):
    s3, b = s3b
    body = b"0" * 70_000
    p = s3.generate_presigned_post(Bucket=b, Key="k", ExpiresIn=60, Conditions=[{"bucket": b}])
    r = post(p, files={"file": body})
    assert r.status_code == 204, r.text
    assert "Content-Type" not in r.headers
    assert r.headers["x-amz-checksum-type"] == "FULL_OBJECT"
    head = s3.head_object(Bucket=b, Key="k", ChecksumMode="ENABLED")
    assert head["ChecksumCRC64NVME"] == r.headers["x-amz-checksum-crc64nvme"]
    assert r.headers["ETag"] == head["ETag"]
    assert s3.get_object(Bucket=b, Key="k")["Body"].read() == body


def test_post_object_fields_become_object_headers_metadata_and_tags(s3b):
    s3, b = s3b
    tagging = "<Tagging><TagSet><Tag><Key>a</Key><Value>1</Value></Tag></TagSet></Tagging>"
    fields = {
        "x-amz-meta-Test-1": "m1",
        "Content-Type": "text/plain",
        "x-amz-storage-class": "STANDARD_IA",
        "tagging": tagging,
    }
    p = s3.generate_presigned_post(
        Bucket=b, Key="up-${filename}", Fields=fields, ExpiresIn=60,
        Conditions=[{"bucket": b}, ["starts-with", "$key", "up-"]]
        + [["eq", f"${k}", v] for k, v in fields.items()],
    )
    r = post(p, files={"file": ("name.txt", "hello")})
    assert r.status_code == 204, r.text
    head = s3.head_object(Bucket=b, Key="up-name.txt")
    assert head["Metadata"] == {"test-1": "m1"}
    assert head["ContentType"] == "text/plain"
    assert head["StorageClass"] == "STANDARD_IA"
    assert s3.get_object_tagging(Bucket=b, Key="up-name.txt")["TagSet"] == [{"Key": "a", "Value": "1"}]
    # Without a file name, `${filename}` stays as written.
    p = s3.generate_presigned_post(Bucket=b, Key="raw-${filename}", ExpiresIn=60)
    assert post(p, files={"file": (None, "as field")}).status_code == 204
    assert s3.get_object(Bucket=b, Key="raw-${filename}")["Body"].read() == b"as field"


def test_post_object_success_actions(s3b):
    s3, b = s3b
    p = s3.generate_presigned_post(
        Bucket=b, Key="k", Fields={"success_action_status": "201"}, ExpiresIn=60,
        Conditions=[["eq", "$success_action_status", "201"]],
    )
    r = post(p)
    assert r.status_code == 201
    doc = {c.tag: c.text for c in ET.fromstring(r.content)}
    assert doc["Bucket"] == b and doc["Key"] == "k" and doc["ETag"] == r.headers["ETag"]
    assert doc["Location"] == r.headers["Location"]
    # The Location is on the host the client addressed, so it resolves without DNS.
    assert requests.head(doc["Location"], timeout=5).status_code in (200, 403)
    redirect = "http://localhost.test/done"
    p = s3.generate_presigned_post(
        Bucket=b, Key="k", Fields={"success_action_redirect": redirect}, ExpiresIn=60,
        Conditions=[["starts-with", "$success_action_redirect", "http://localhost"]],
    )
    r = post(p)
    assert r.status_code == 303 and not r.text
    q = parse_qs(urlparse(r.headers["Location"]).query)
    assert (q["bucket"][0], q["key"][0], q["etag"][0]) == (b, "k", r.headers["ETag"])
    # A redirect S3 cannot read as a URL is ignored.
    p["fields"]["success_action_redirect"] = "/relative"
    p2 = s3.generate_presigned_post(
        Bucket=b, Key="k", Fields={"success_action_redirect": "/relative"}, ExpiresIn=60,
        Conditions=[["starts-with", "$success_action_redirect", ""]],
    )
    assert post(p2).status_code == 204


def test_post_object_policy_is_enforced(nephos, s3b):
    s3, b = s3b
    p = s3.generate_presigned_post(
        Bucket=b, Key="k", ExpiresIn=60, Conditions=[["content-length-range", 5, 10]]
    )
    r = post(p, files={"file": "a" * 12})
    assert r.status_code == 400
    assert error(r)["Code"] == "EntityTooLarge" and error(r)["MaxSizeAllowed"] == "10"
    r = post(p, files={"file": "a"})
    assert error(r)["Code"] == "EntityTooSmall" and error(r)["MinSizeAllowed"] == "5"
    # Field names are case-insensitive.
    p["fields"]["Policy"] = p["fields"].pop("policy")
    assert post(p, files={"file": "a" * 5}).status_code == 204
    p = s3.generate_presigned_post(
        Bucket=b, Key="k", Fields={"success_action_redirect": "http://localhost.test/x"},
        ExpiresIn=60, Conditions=[["starts-with", "$success_action_redirect", "http://localhost"]],
    )
    p["fields"]["success_action_redirect"] = "HTTP://localhost.test/x"
    r = post(p)
    assert r.status_code == 403
    assert error(r)["Message"] == (
        'Invalid according to Policy: Policy Condition failed: '
        '["starts-with", "$success_action_redirect", "http://localhost"]'
    )
    p = s3.generate_presigned_post(
        Bucket=b, Key="k", ExpiresIn=60, Conditions=[["content-length-range", "x", "10"]]
    )
    assert error(post(p))["Code"] == "AccessDenied"


def test_post_object_expired_policy_and_bad_forms(nephos, s3b):
    s3, b = s3b
    p = s3.generate_presigned_post(Bucket=b, Key="k", ExpiresIn=60)
    policy = json.loads(base64.b64decode(p["fields"]["policy"]))
    policy["expiration"] = "2000-01-01T00:00:00Z"
    p["fields"]["policy"] = base64.b64encode(json.dumps(policy).encode()).decode()
    r = post(p)
    assert r.status_code == 403
    assert error(r)["Message"] == "Invalid according to Policy: Policy expired."
    # Not a form: 412.
    p = s3.generate_presigned_post(Bucket=b, Key="k", ExpiresIn=60)
    r = requests.post(p["url"], data="x", headers={"Content-Type": "text/html"}, timeout=30)
    assert r.status_code == 412
    assert error(r)["Condition"] == "Bucket POST must be of the enclosure-type multipart/form-data"
    # A policy without its signature fields.
    fields = {k: v for k, v in p["fields"].items() if k.lower() not in ("signature", "x-amz-signature")}
    r = requests.post(p["url"], data=fields, files={"file": "x"}, timeout=30)
    assert r.status_code == 400
    assert error(r)["ArgumentName"] in ("Signature", "X-Amz-Signature")
    fields = {k: v for k, v in p["fields"].items() if k in ("key", "policy")}
    r = requests.post(p["url"], data=fields, files={"file": "x"}, timeout=30)
    assert r.status_code == 403 and error(r)["Code"] == "AccessDenied"
    p = s3.generate_presigned_post(Bucket=b, Key="k", Fields={"tagging": "not-xml"}, ExpiresIn=60)
    r = post(p)
    assert r.status_code == 400 and error(r)["Code"] == "MalformedXML"
    p = s3.generate_presigned_post(
        Bucket=b, Key="k", Fields={"x-amz-storage-class": "Fake"}, ExpiresIn=60
    )
    r = post(p)
    assert r.status_code == 400 and error(r)["Code"] == "InvalidStorageClass"
