"""S3 bucket configurations stored and returned: logging, requester pays, replication,
inventory, website and transfer acceleration, and the bucket policy status."""

import json

import pytest
from botocore.exceptions import ClientError

from s3util import bucket_name


def code(e):
    return e.value.response["Error"]["Code"]


def strip(r):
    r.pop("ResponseMetadata", None)
    return r


def test_logging_and_request_payment(nephos, account):
    s3 = nephos.client("s3", account=account)
    b, logs = bucket_name(account, "logged"), bucket_name(account, "logs")
    s3.create_bucket(Bucket=b)
    s3.create_bucket(Bucket=logs)
    assert strip(s3.get_bucket_logging(Bucket=b)) == {}
    with pytest.raises(ClientError) as e:
        s3.put_bucket_logging(Bucket=b, BucketLoggingStatus={
            "LoggingEnabled": {"TargetBucket": "no-such-bucket-anywhere", "TargetPrefix": "x/"}})
    assert code(e) == "InvalidTargetBucketForLogging"
    enabled = {"TargetBucket": logs, "TargetPrefix": "access/"}
    s3.put_bucket_logging(Bucket=b, BucketLoggingStatus={"LoggingEnabled": enabled})
    assert s3.get_bucket_logging(Bucket=b)["LoggingEnabled"] == enabled
    s3.put_bucket_logging(Bucket=b, BucketLoggingStatus={})
    assert strip(s3.get_bucket_logging(Bucket=b)) == {}
    assert s3.get_bucket_request_payment(Bucket=b)["Payer"] == "BucketOwner"
    s3.put_bucket_request_payment(Bucket=b, RequestPaymentConfiguration={"Payer": "Requester"})
    assert s3.get_bucket_request_payment(Bucket=b)["Payer"] == "Requester"


def test_replication_and_inventory(nephos, account):
    s3 = nephos.client("s3", account=account)
    b = bucket_name(account, "repl")
    s3.create_bucket(Bucket=b)
    replica = bucket_name(account, "replica")
    s3.create_bucket(Bucket=replica)
    s3.put_bucket_versioning(Bucket=replica, VersioningConfiguration={"Status": "Enabled"})
    cfg = {"Role": f"arn:aws:iam::{account}:role/r", "Rules": [{
        "ID": "all", "Priority": 1, "Status": "Enabled", "Filter": {"Prefix": ""},
        "DeleteMarkerReplication": {"Status": "Disabled"},
        "Destination": {"Bucket": f"arn:aws:s3:::{replica}", "StorageClass": "STANDARD_IA"}}]}
    with pytest.raises(ClientError) as e:
        s3.put_bucket_replication(Bucket=b, ReplicationConfiguration=cfg)
    assert code(e) == "InvalidRequest"
    s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    with pytest.raises(ClientError) as e:
        s3.get_bucket_replication(Bucket=b)
    assert code(e) == "ReplicationConfigurationNotFoundError"
    s3.put_bucket_replication(Bucket=b, ReplicationConfiguration=cfg)
    assert s3.get_bucket_replication(Bucket=b)["ReplicationConfiguration"] == cfg
    s3.delete_bucket_replication(Bucket=b)
    with pytest.raises(ClientError) as e:
        s3.get_bucket_replication(Bucket=b)
    assert code(e) == "ReplicationConfigurationNotFoundError"

    inv = {"Id": "weekly", "IsEnabled": True, "IncludedObjectVersions": "Current",
           "Destination": {"S3BucketDestination": {"Bucket": "arn:aws:s3:::dest", "Format": "CSV"}},
           "Schedule": {"Frequency": "Weekly"}, "OptionalFields": ["Size", "ETag"]}
    s3.put_bucket_inventory_configuration(Bucket=b, Id="weekly", InventoryConfiguration=inv)
    assert s3.get_bucket_inventory_configuration(Bucket=b, Id="weekly")["InventoryConfiguration"] == inv
    assert s3.list_bucket_inventory_configurations(Bucket=b)["InventoryConfigurationList"] == [inv]
    s3.delete_bucket_inventory_configuration(Bucket=b, Id="weekly")
    with pytest.raises(ClientError) as e:
        s3.get_bucket_inventory_configuration(Bucket=b, Id="weekly")
    assert code(e) == "NoSuchConfiguration"


def test_website_configuration(nephos, account):
    s3 = nephos.client("s3", account=account)
    b = bucket_name(account, "site")
    s3.create_bucket(Bucket=b)
    with pytest.raises(ClientError) as e:
        s3.get_bucket_website(Bucket=b)
    assert code(e) == "NoSuchWebsiteConfiguration"
    cfg = {"IndexDocument": {"Suffix": "index.html"}, "ErrorDocument": {"Key": "error.html"},
           "RoutingRules": [{"Condition": {"KeyPrefixEquals": "docs/"},
                             "Redirect": {"ReplaceKeyPrefixWith": "documents/"}}]}
    s3.put_bucket_website(Bucket=b, WebsiteConfiguration=cfg)
    assert strip(s3.get_bucket_website(Bucket=b)) == cfg
    with pytest.raises(ClientError) as e:
        s3.put_bucket_website(Bucket=b, WebsiteConfiguration={"ErrorDocument": {"Key": "e.html"}})
    assert code(e) == "InvalidArgument"
    s3.delete_bucket_website(Bucket=b)
    with pytest.raises(ClientError) as e:
        s3.get_bucket_website(Bucket=b)
    assert code(e) == "NoSuchWebsiteConfiguration"


def test_accelerate_configuration_and_policy_status(nephos, account):
    s3 = nephos.client("s3", account=account)
    b = bucket_name(account, "accel")
    s3.create_bucket(Bucket=b)
    # Never configured: no Status at all.
    assert "Status" not in s3.get_bucket_accelerate_configuration(Bucket=b)
    s3.put_bucket_accelerate_configuration(Bucket=b, AccelerateConfiguration={"Status": "Enabled"})
    assert s3.get_bucket_accelerate_configuration(Bucket=b)["Status"] == "Enabled"
    s3.put_bucket_accelerate_configuration(Bucket=b, AccelerateConfiguration={"Status": "Suspended"})
    assert s3.get_bucket_accelerate_configuration(Bucket=b)["Status"] == "Suspended"
    with pytest.raises(ClientError) as e:
        s3.put_bucket_accelerate_configuration(Bucket=b, AccelerateConfiguration={"Status": "On"})
    assert e.value.response["Error"]["Code"] == "MalformedXML"
    dotted = f"{b}.with.dots"
    s3.create_bucket(Bucket=dotted)
    with pytest.raises(ClientError) as e:
        s3.put_bucket_accelerate_configuration(Bucket=dotted, AccelerateConfiguration={"Status": "Enabled"})
    assert e.value.response["Error"]["Code"] == "InvalidRequest"

    # Policy status: none, private, public (Block Public Access lifted to allow one).
    with pytest.raises(ClientError) as e:
        s3.get_bucket_policy_status(Bucket=b)
    assert e.value.response["Error"]["Code"] == "NoSuchBucketPolicy"
    private = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
        "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{b}/*"}]}
    s3.put_bucket_policy(Bucket=b, Policy=json.dumps(private))
    assert s3.get_bucket_policy_status(Bucket=b)["PolicyStatus"] == {"IsPublic": False}
    s3.delete_public_access_block(Bucket=b)
    public = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{b}/*"}]}
    s3.put_bucket_policy(Bucket=b, Policy=json.dumps(public))
    assert s3.get_bucket_policy_status(Bucket=b)["PolicyStatus"] == {"IsPublic": True}


@pytest.mark.parametrize("family,config", [
    ("analytics", {"Filter": {"Prefix": "logs/"}, "StorageClassAnalysis": {}}),
    ("metrics", {"Filter": {"Prefix": "hot/"}}),
    ("intelligent_tiering", {"Status": "Enabled", "Tierings": [{"Days": 90, "AccessTier": "ARCHIVE_ACCESS"}]}),
])
def test_id_keyed_configurations(nephos, account, family, config):
    """Analytics, metrics and Intelligent-Tiering configurations: kept per Id, listed,
    deleted, NoSuchConfiguration when absent, the body's Id must match the query's."""
    s3 = nephos.client("s3", account=account)
    b = bucket_name(account, family.replace("_", "")[:10])
    s3.create_bucket(Bucket=b)
    member = {"analytics": "AnalyticsConfiguration", "metrics": "MetricsConfiguration",
              "intelligent_tiering": "IntelligentTieringConfiguration"}[family]
    put = getattr(s3, f"put_bucket_{family}_configuration")
    get = getattr(s3, f"get_bucket_{family}_configuration")
    delete = getattr(s3, f"delete_bucket_{family}_configuration")
    listing = getattr(s3, f"list_bucket_{family}_configurations")
    with pytest.raises(ClientError) as e:
        get(Bucket=b, Id="one")
    assert e.value.response["Error"]["Code"] == "NoSuchConfiguration"
    put(Bucket=b, Id="one", **{member: {"Id": "one", **config}})
    put(Bucket=b, Id="two", **{member: {"Id": "two", **config}})
    got = get(Bucket=b, Id="one")[member]
    assert got["Id"] == "one" and all(got[k] == v for k, v in config.items())
    listed = listing(Bucket=b)[f"{member}List"]
    assert sorted(c["Id"] for c in listed) == ["one", "two"]
    with pytest.raises(ClientError) as e:
        put(Bucket=b, Id="three", **{member: {"Id": "other", **config}})
    # A body naming another Id does not fit the schema (AWS-recorded for analytics).
    assert e.value.response["Error"]["Code"] == "MalformedXML"
    delete(Bucket=b, Id="one")
    with pytest.raises(ClientError) as e:
        delete(Bucket=b, Id="one")
    assert e.value.response["Error"]["Code"] == "NoSuchConfiguration"
    assert [c["Id"] for c in listing(Bucket=b)[f"{member}List"]] == ["two"]
