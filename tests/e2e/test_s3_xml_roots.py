"""S3 XML answers carry AWS's exact root element and namespace, for every implemented operation.

Strict clients (the AWS SDKs for Java, Go, C++ and the CRT) look the root element up by
name, so a wrong root is a parse failure there even though boto3 ignores it. The expected
roots come from the vendored model (`models/s3.json.gz`, which already carries the Smithy
@xmlName patch), never from a hand-typed table, and the set of operations checked is
computed from the model and docs/coverage.md: implementing a new operation with an XML
answer and no scenario step here fails `test_every_xml_operation_is_checked`.
"""

import datetime
import gzip
import hashlib
import json
import pathlib
import urllib.parse
import xml.etree.ElementTree as ET

import pytest

from conftest import new_account
from s3util import bucket_name

ROOT = pathlib.Path(__file__).resolve().parents[2]
S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"
MIB = 1024 * 1024

_MODEL = json.loads(gzip.decompress((ROOT / "models" / "s3.json.gz").read_bytes()))
_SHAPES = _MODEL["shapes"]
# Members bound to these locations travel outside the body.
_NON_BODY = {"header", "headers", "statusCode", "uri", "querystring"}


def implemented_operations():
    for line in (ROOT / "docs" / "coverage.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells and cells[0] == "s3":
            return {op.strip() for op in cells[3].split(",") if op.strip()}
    raise AssertionError("docs/coverage.md has no s3 row")


def expected_root(op):
    """The root element AWS answers `op` with, or None when the answer has no XML body."""
    out = _MODEL["operations"][op].get("output")
    if not out:
        return None
    shape = _SHAPES[out["shape"]]
    members = shape.get("members", {})
    payload = shape.get("payload")
    if payload:
        target = members[payload]["shape"]
        if _SHAPES[target]["type"] != "structure":
            return None  # a blob or string payload is the raw body, not XML
        return shape.get("locationName") or members[payload].get("locationName") or target
    if not any(m.get("location") not in _NON_BODY for m in members.values()):
        return None
    return shape.get("locationName") or out["shape"]


XML_OPERATIONS = sorted(op for op in implemented_operations() if expected_root(op))


class Recorder:
    """Keeps every successful raw S3 answer body, per operation, as the client received it."""

    def __init__(self):
        self.bodies = {}

    def __call__(self, operation_model, response_dict, **_):
        if operation_model.has_streaming_output:
            return
        if not 200 <= response_dict["status_code"] < 300:
            return
        self.bodies.setdefault(operation_model.name, []).append(response_dict["body"])

    def last(self, op):
        return self.bodies[op][-1]


def _future(days):
    return datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=days)


def _drive_every_operation(s3, account, rec):
    """Calls every implemented S3 operation with an XML answer at least once."""
    variants = {}
    b = bucket_name(account, "roots")
    src_bucket = bucket_name(account, "lock")
    s3.create_bucket(Bucket=b)
    s3.list_buckets()

    # A bucket that was never versioned answers an empty VersioningConfiguration.
    s3.get_bucket_versioning(Bucket=b)
    variants["never-versioned"] = rec.last("GetBucketVersioning")

    # Objects, copies, listings, tagging, ACLs, attributes.
    s3.put_object(Bucket=b, Key="a.txt", Body=b"hello", Tagging="k=v")
    s3.put_object(Bucket=b, Key="dir/b.txt", Body=b"world")
    s3.copy_object(Bucket=b, Key="copy.txt", CopySource={"Bucket": b, "Key": "a.txt"})
    s3.list_objects(Bucket=b)
    s3.list_objects_v2(Bucket=b, Delimiter="/")
    s3.get_object_tagging(Bucket=b, Key="a.txt")
    s3.get_object_acl(Bucket=b, Key="a.txt")
    s3.get_bucket_acl(Bucket=b)
    s3.get_object_attributes(Bucket=b, Key="a.txt", ObjectAttributes=["ETag", "ObjectSize", "StorageClass"])
    s3.get_bucket_location(Bucket=b)

    # Multipart: initiate, part copy, list parts and uploads, complete.
    big = b"x" * (5 * MIB)
    s3.put_object(Bucket=b, Key="big", Body=big)
    up = s3.create_multipart_upload(Bucket=b, Key="mp")["UploadId"]
    p1 = s3.upload_part(Bucket=b, Key="mp", UploadId=up, PartNumber=1, Body=b"y" * (5 * MIB))
    p2 = s3.upload_part_copy(Bucket=b, Key="mp", UploadId=up, PartNumber=2,
                             CopySource={"Bucket": b, "Key": "big"}, CopySourceRange="bytes=0-1023")
    s3.list_parts(Bucket=b, Key="mp", UploadId=up)
    s3.list_multipart_uploads(Bucket=b)
    s3.complete_multipart_upload(Bucket=b, Key="mp", UploadId=up, MultipartUpload={"Parts": [
        {"PartNumber": 1, "ETag": p1["ETag"]},
        {"PartNumber": 2, "ETag": p2["CopyPartResult"]["ETag"]},
    ]})
    variants["complete"] = rec.last("CompleteMultipartUpload")

    # Deletes: a verbose answer and a quiet one without errors (an empty DeleteResult).
    s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "copy.txt"}, {"Key": "nope"}]})
    s3.put_object(Bucket=b, Key="q1", Body=b"1")
    s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "q1"}, {"Key": "q2"}], "Quiet": True})
    variants["quiet-delete"] = rec.last("DeleteObjects")

    # Versioning and version listings.
    s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    s3.get_bucket_versioning(Bucket=b)
    s3.put_object(Bucket=b, Key="a.txt", Body=b"v2")
    s3.list_object_versions(Bucket=b)

    # Bucket configurations, each set first where AWS answers an error while unset.
    s3.put_bucket_tagging(Bucket=b, Tagging={"TagSet": [{"Key": "team", "Value": "x"}]})
    s3.get_bucket_tagging(Bucket=b)
    s3.put_bucket_cors(Bucket=b, CORSConfiguration={"CORSRules": [
        {"AllowedMethods": ["GET"], "AllowedOrigins": ["*"]}]})
    s3.get_bucket_cors(Bucket=b)
    s3.put_bucket_lifecycle_configuration(Bucket=b, LifecycleConfiguration={"Rules": [
        {"ID": "r", "Status": "Enabled", "Filter": {"Prefix": "logs/"}, "Expiration": {"Days": 3}}]})
    s3.get_bucket_lifecycle_configuration(Bucket=b)
    s3.put_bucket_website(Bucket=b, WebsiteConfiguration={"IndexDocument": {"Suffix": "index.html"}})
    s3.get_bucket_website(Bucket=b)
    s3.put_bucket_encryption(Bucket=b, ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    s3.get_bucket_encryption(Bucket=b)
    s3.put_bucket_ownership_controls(Bucket=b, OwnershipControls={"Rules": [
        {"ObjectOwnership": "BucketOwnerPreferred"}]})
    s3.get_bucket_ownership_controls(Bucket=b)
    pab = {"BlockPublicAcls": True, "IgnorePublicAcls": True,
           "BlockPublicPolicy": False, "RestrictPublicBuckets": False}
    s3.put_public_access_block(Bucket=b, PublicAccessBlockConfiguration=pab)
    s3.get_public_access_block(Bucket=b)
    s3.put_bucket_policy(Bucket=b, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
        "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{b}/*"}]}))
    s3.get_bucket_policy_status(Bucket=b)
    s3.get_bucket_notification_configuration(Bucket=b)
    s3.get_bucket_logging(Bucket=b)
    s3.put_bucket_request_payment(Bucket=b, RequestPaymentConfiguration={"Payer": "BucketOwner"})
    s3.get_bucket_request_payment(Bucket=b)
    s3.put_bucket_accelerate_configuration(Bucket=b, AccelerateConfiguration={"Status": "Enabled"})
    s3.get_bucket_accelerate_configuration(Bucket=b)
    replica = bucket_name(account, "replica")
    s3.create_bucket(Bucket=replica)
    s3.put_bucket_versioning(Bucket=replica, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_replication(Bucket=b, ReplicationConfiguration={
        "Role": f"arn:aws:iam::{account}:role/r", "Rules": [{
            "ID": "all", "Priority": 1, "Status": "Enabled", "Filter": {"Prefix": ""},
            "DeleteMarkerReplication": {"Status": "Disabled"},
            "Destination": {"Bucket": f"arn:aws:s3:::{replica}"}}]})
    s3.get_bucket_replication(Bucket=b)

    # Id-keyed configurations.
    s3.put_bucket_analytics_configuration(Bucket=b, Id="an", AnalyticsConfiguration={
        "Id": "an", "Filter": {"Prefix": "logs/"}, "StorageClassAnalysis": {}})
    s3.get_bucket_analytics_configuration(Bucket=b, Id="an")
    s3.list_bucket_analytics_configurations(Bucket=b)
    s3.put_bucket_metrics_configuration(Bucket=b, Id="me", MetricsConfiguration={
        "Id": "me", "Filter": {"Prefix": "hot/"}})
    s3.get_bucket_metrics_configuration(Bucket=b, Id="me")
    s3.list_bucket_metrics_configurations(Bucket=b)
    s3.put_bucket_intelligent_tiering_configuration(Bucket=b, Id="it", IntelligentTieringConfiguration={
        "Id": "it", "Status": "Enabled", "Tierings": [{"Days": 90, "AccessTier": "ARCHIVE_ACCESS"}]})
    s3.get_bucket_intelligent_tiering_configuration(Bucket=b, Id="it")
    s3.list_bucket_intelligent_tiering_configurations(Bucket=b)
    inv = {"Id": "inv", "IsEnabled": True, "IncludedObjectVersions": "Current",
           "Destination": {"S3BucketDestination": {"Bucket": "arn:aws:s3:::dest", "Format": "CSV"}},
           "Schedule": {"Frequency": "Weekly"}}
    s3.put_bucket_inventory_configuration(Bucket=b, Id="inv", InventoryConfiguration=inv)
    s3.get_bucket_inventory_configuration(Bucket=b, Id="inv")
    s3.list_bucket_inventory_configurations(Bucket=b)

    # Object Lock: bucket configuration, retention and legal hold of an object.
    s3.create_bucket(Bucket=src_bucket, ObjectLockEnabledForBucket=True)
    s3.get_object_lock_configuration(Bucket=src_bucket)
    s3.put_object(Bucket=src_bucket, Key="locked", Body=b"l")
    s3.put_object_retention(Bucket=src_bucket, Key="locked",
                            Retention={"Mode": "GOVERNANCE", "RetainUntilDate": _future(1)})
    s3.get_object_retention(Bucket=src_bucket, Key="locked")
    s3.put_object_legal_hold(Bucket=src_bucket, Key="locked", LegalHold={"Status": "ON"})
    s3.get_object_legal_hold(Bucket=src_bucket, Key="locked")
    return variants


@pytest.fixture(scope="module")
def captured(nephos):
    account = new_account()
    s3 = nephos.client("s3", account=account)
    rec = Recorder()
    s3.meta.events.register("before-parse.s3", rec)
    variants = _drive_every_operation(s3, account, rec)
    return rec.bodies, variants


def _parse(body):
    assert body, "empty body where AWS answers XML"
    return ET.fromstring(body)  # raises on anything that is not well-formed XML


def _split(tag):
    if tag.startswith("{"):
        ns, local = tag[1:].split("}", 1)
        return ns, local
    return None, tag


def test_model_roots_match_known_aws_roots():
    """The model-derived roots agree with what AWS is known to answer."""
    known = {
        "CreateMultipartUpload": "InitiateMultipartUploadResult",
        "ListBuckets": "ListAllMyBucketsResult",
        "CompleteMultipartUpload": "CompleteMultipartUploadResult",
        "ListObjects": "ListBucketResult", "ListObjectsV2": "ListBucketResult",
        "DeleteObjects": "DeleteResult",
        "GetObjectTagging": "Tagging", "GetBucketTagging": "Tagging",
        "GetObjectAcl": "AccessControlPolicy", "GetBucketAcl": "AccessControlPolicy",
        "ListParts": "ListPartsResult", "ListMultipartUploads": "ListMultipartUploadsResult",
        "ListObjectVersions": "ListVersionsResult", "GetBucketVersioning": "VersioningConfiguration",
        "CopyObject": "CopyObjectResult", "UploadPartCopy": "CopyPartResult",
    }
    assert {op: expected_root(op) for op in known} == known
    assert expected_root("GetObject") is None and expected_root("GetBucketPolicy") is None
    assert expected_root("PutObject") is None and expected_root("HeadObject") is None


@pytest.mark.parametrize("op", XML_OPERATIONS)
def test_xml_root_element(captured, op):
    bodies, _ = captured
    assert op in bodies, f"the scenario never called {op}: add a step for it"
    want = expected_root(op)
    for body in bodies[op]:
        ns, local = _split(_parse(body).tag)
        assert local == want, f"{op}: root <{local}>, AWS answers <{want}>: {body[:300]!r}"
        assert ns == S3_NS, f"{op}: root namespace {ns!r}, AWS answers {S3_NS!r}: {body[:300]!r}"


def test_every_xml_operation_is_checked(captured):
    bodies, _ = captured
    missing = set(XML_OPERATIONS) - set(bodies)
    assert not missing, f"implemented S3 operations with XML answers never checked: {sorted(missing)}"
    # Sanity: the computed set is not vacuous.
    assert len(XML_OPERATIONS) > 40


def test_never_versioned_bucket_answers_empty_versioning_configuration(captured):
    root = _parse(captured[1]["never-versioned"])
    assert _split(root.tag) == (S3_NS, "VersioningConfiguration")
    assert list(root) == []


def test_quiet_delete_without_errors_answers_empty_delete_result(captured):
    root = _parse(captured[1]["quiet-delete"])
    assert _split(root.tag) == (S3_NS, "DeleteResult")
    assert list(root) == []


def test_complete_multipart_upload_location_is_absolute_url(captured):
    root = _parse(captured[1]["complete"])
    location = root.find(f"{{{S3_NS}}}Location")
    if location is None:
        location = root.find("Location")
    assert location is not None and location.text, "CompleteMultipartUploadResult has no Location"
    url = urllib.parse.urlsplit(location.text)
    assert url.scheme in ("http", "https") and url.netloc, f"Location {location.text!r} is not an absolute URL"
    assert url.path.endswith("/mp"), location.text


def test_complete_multipart_upload_etag_matches_parts(captured):
    """The Complete answer's ETag is the multipart ETag of the two parts (5 MiB + 1 KiB copy)."""
    root = _parse(captured[1]["complete"])
    etag = root.find(f"{{{S3_NS}}}ETag").text
    digests = hashlib.md5(b"y" * (5 * MIB)).digest() + hashlib.md5(b"x" * 1024).digest()
    assert etag == '"%s-2"' % hashlib.md5(digests).hexdigest()
