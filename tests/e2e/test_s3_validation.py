"""Requests S3 refuses, with AWS's codes, messages and error elements (as recorded
against AWS): ACLs, tags, Object Lock, versioning, lifecycle, inventory, request
payment, logging targets, listing markers."""

import datetime

import pytest
from botocore.exceptions import ClientError

from s3util import bucket_name, raw

OWNER_ID_LEN = 64


def err(e):
    return e.value.response["Error"]


def status(e):
    return e.value.response["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture
def s3(nephos, account):
    return nephos.client("s3", account=account)


@pytest.fixture
def bucket(s3, account):
    b = bucket_name(account, "val")
    s3.create_bucket(Bucket=b)
    return b


def test_grant_headers_name_the_bad_argument(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.put_bucket_acl(Bucket=bucket, GrantWrite='uri="http://acs.amazonaws.com/groups/s3/FakeGroup"')
    assert err(e) == {**err(e), "Code": "InvalidArgument", "Message": "Invalid group uri",
                      "ArgumentName": "uri",
                      "ArgumentValue": "http://acs.amazonaws.com/groups/s3/FakeGroup"}
    with pytest.raises(ClientError) as e:
        s3.put_bucket_acl(Bucket=bucket, GrantWrite='fakekey="1234"')
    assert err(e)["Message"] == "Argument format not recognized"
    assert err(e)["ArgumentName"] == "x-amz-grant-write"
    assert err(e)["ArgumentValue"] == 'fakekey="1234"'
    with pytest.raises(ClientError) as e:
        s3.put_bucket_acl(Bucket=bucket, GrantWrite='id="wrong-id"')
    assert (err(e)["Message"], err(e)["ArgumentName"], err(e)["ArgumentValue"]) == (
        "Invalid id", "id", "wrong-id")


def test_access_control_policy_checks(s3, bucket):
    owner = s3.list_buckets()["Owner"]
    group = {"URI": "http://acs.amazonaws.com/groups/s3/LogDelivery", "Type": "Group"}
    acp = {"Owner": owner, "Grants": [{"Grantee": group, "Permission": "WRONG-PERMISSION"}]}
    with pytest.raises(ClientError) as e:
        s3.put_bucket_acl(Bucket=bucket, AccessControlPolicy=acp)
    assert err(e)["Code"] == "MalformedACLError"
    acp = {"Owner": {"ID": "wrong-id"}, "Grants": [{"Grantee": group, "Permission": "WRITE"}]}
    with pytest.raises(ClientError) as e:
        s3.put_bucket_acl(Bucket=bucket, AccessControlPolicy=acp)
    assert (err(e)["Code"], err(e)["ArgumentName"], err(e)["ArgumentValue"]) == (
        "InvalidArgument", "CanonicalUser/ID", "wrong-id")
    bad_group = {**group, "URI": "http://acs.amazonaws.com/groups/s3/FakeGroup"}
    acp = {"Owner": owner, "Grants": [{"Grantee": bad_group, "Permission": "WRITE"}]}
    with pytest.raises(ClientError) as e:
        s3.put_bucket_acl(Bucket=bucket, AccessControlPolicy=acp)
    assert (err(e)["ArgumentName"], err(e)["Message"]) == ("Group/URI", "Invalid group uri")
    with pytest.raises(ClientError) as e:
        s3.put_bucket_acl(Bucket=bucket, AccessControlPolicy={})
    assert err(e)["Code"] == "MalformedACLError"
    with pytest.raises(ClientError) as e:
        s3.put_bucket_acl(Bucket=bucket)
    assert (err(e)["Code"], err(e)["MissingHeaderName"]) == ("MissingSecurityHeader", "x-amz-acl")
    good = {"Owner": owner, "Grants": [{"Grantee": {"ID": owner["ID"], "Type": "CanonicalUser"},
                                        "Permission": "FULL_CONTROL"}]}
    with pytest.raises(ClientError) as e:
        s3.put_bucket_acl(Bucket=bucket, ACL="private", AccessControlPolicy=good)
    assert (err(e)["Code"], err(e)["Message"]) == (
        "UnexpectedContent", "This request does not support content")


def test_tag_validation(nephos, account, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"")
    lax = nephos.client("s3", account=account, config_args={"parameter_validation": False})
    cases = [
        ([{"Key": "Key1", "Value": "a"}, {"Key": "Key1", "Value": "b"}],
         "Cannot provide multiple Tags with the same key", {"TagKey": "Key1"}),
        ([{"Key": "Key1,Key2", "Value": "a"}],
         "The TagKey you have provided is invalid", {"TagKey": "Key1,Key2"}),
        ([{"Key": "Key1", "Value": "Val1,Val2"}],
         "The TagValue you have provided is invalid", {"TagKey": "Key1", "TagValue": "Val1,Val2"}),
    ]
    for tags, message, fields in cases:
        for put in (lambda t: lax.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": t}),
                    lambda t: lax.put_object_tagging(Bucket=bucket, Key="k", Tagging={"TagSet": t})):
            with pytest.raises(ClientError) as e:
                put(tags)
            assert err(e)["Code"] == "InvalidTag" and err(e)["Message"] == message
            for k, v in fields.items():
                assert err(e)[k] == v
    prefixed = [{"Key": "aws:prefixed", "Value": "v"}]
    with pytest.raises(ClientError) as e:
        lax.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": prefixed})
    assert err(e)["Message"] == "System tags cannot be added/updated by requester"
    with pytest.raises(ClientError) as e:
        lax.put_object_tagging(Bucket=bucket, Key="k", Tagging={"TagSet": prefixed})
    assert err(e)["Message"] == "Your TagKey cannot be prefixed with aws:"
    # botocore drops a None member and all after it: a Tag without its Value, a
    # document S3 finds outside its schema.
    with pytest.raises(ClientError) as e:
        lax.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "k", "Value": None}]})
    assert err(e)["Code"] == "MalformedXML"
    with pytest.raises(ClientError) as e:
        lax.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls={"Rules": [{}]})
    assert err(e)["Code"] == "MalformedXML"
    for header in ("key1=val1&key1=val2", "key1=val1,key2=val2"):
        with pytest.raises(ClientError) as e:
            s3.put_object(Bucket=bucket, Key="t", Body=b"", Tagging=header)
        assert (err(e)["ArgumentName"], err(e)["ArgumentValue"]) == ("x-amz-tagging", header)
    # Tagging answers 204.
    r = s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "a", "Value": "b"}]})
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_create_bucket_with_tags(s3, account):
    b = bucket_name(account, "tagged")
    s3.create_bucket(Bucket=b, CreateBucketConfiguration={"Tags": [{"Key": "t", "Value": "1"}]})
    assert s3.get_bucket_tagging(Bucket=b)["TagSet"] == [{"Key": "t", "Value": "1"}]
    # us-east-1 repeats a create, but not one bringing tags.
    s3.create_bucket(Bucket=b)
    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket=b, CreateBucketConfiguration={"Tags": [{"Key": "u", "Value": "2"}]})
    assert err(e)["Code"] == "BucketAlreadyOwnedByYou"
    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket=bucket_name(account, "tagged2"),
                         CreateBucketConfiguration={"Tags": [{"Key": "aws:x", "Value": "1"}]})
    assert err(e)["Code"] == "InvalidTag" and err(e)["Message"].startswith(
        'User-defined tag keys can\'t start with "aws:"')


def test_repeated_create_of_another_regions_bucket(s3, account):
    b = bucket_name(account, "west")
    cfg = {"LocationConstraint": "us-west-1"}
    s3.create_bucket(Bucket=b, CreateBucketConfiguration=cfg)
    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket=b, CreateBucketConfiguration=cfg)
    assert (err(e)["Code"], status(e)) == ("BucketAlreadyOwnedByYou", 409)


def test_versioning_configuration_checks(s3, bucket, account):
    with pytest.raises(ClientError) as e:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={})
    assert (err(e)["Code"], err(e)["Message"]) == (
        "IllegalVersioningConfigurationException", "The Versioning element must be specified")
    locked = bucket_name(account, "locked")
    s3.create_bucket(Bucket=locked, ObjectLockEnabledForBucket=True)
    with pytest.raises(ClientError) as e:
        s3.put_bucket_versioning(Bucket=locked, VersioningConfiguration={"Status": "Suspended"})
    assert (err(e)["Code"], status(e)) == ("InvalidBucketState", 409)
    s3.put_bucket_versioning(Bucket=locked, VersioningConfiguration={"Status": "Enabled"})


def test_object_lock_checks(s3, account, bucket):
    locked = bucket_name(account, "lock")
    s3.create_bucket(Bucket=locked, ObjectLockEnabledForBucket=True)
    later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=10)
    for mode in ("BAD-VALUE", "governance"):
        with pytest.raises(ClientError) as e:
            s3.put_object(Bucket=locked, Key="k", Body=b"x", ObjectLockMode=mode,
                          ObjectLockRetainUntilDate=later)
        assert (err(e)["Message"], err(e)["ArgumentName"], err(e)["ArgumentValue"]) == (
            "Unknown wormMode directive.", "x-amz-object-lock-mode", mode)
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=locked, Key="k", Body=b"x", ObjectLockMode="GOVERNANCE")
    assert err(e)["ArgumentName"] == "x-amz-object-lock-retain-until-date"
    cfg = {"ObjectLockEnabled": "Enabled", "Rule": {}}
    with pytest.raises(ClientError) as e:
        s3.put_object_lock_configuration(Bucket=locked, ObjectLockConfiguration=cfg)
    assert err(e)["Code"] == "MalformedXML"
    cfg["Rule"] = {"DefaultRetention": {"Mode": "BAD-VALUE", "Days": 1}}
    with pytest.raises(ClientError) as e:
        s3.put_object_lock_configuration(Bucket=locked, ObjectLockConfiguration=cfg)
    assert err(e)["Code"] == "MalformedXML"

    v = s3.put_object(Bucket=locked, Key="k", Body=b"x")["VersionId"]
    # A legal hold never set is no configuration; one set OFF is.
    with pytest.raises(ClientError) as e:
        s3.get_object_legal_hold(Bucket=locked, Key="k", VersionId=v)
    assert (err(e)["Code"], status(e)) == ("NoSuchObjectLockConfiguration", 404)
    s3.put_object_legal_hold(Bucket=locked, Key="k", VersionId=v, LegalHold={"Status": "ON"})
    assert s3.head_object(Bucket=locked, Key="k")["ObjectLockLegalHoldStatus"] == "ON"
    s3.put_object_legal_hold(Bucket=locked, Key="k", VersionId=v, LegalHold={"Status": "OFF"})
    assert s3.get_object_legal_hold(Bucket=locked, Key="k", VersionId=v)["LegalHold"] == {
        "Status": "OFF"}
    assert s3.head_object(Bucket=locked, Key="k")["ObjectLockLegalHoldStatus"] == "OFF"

    with pytest.raises(ClientError) as e:
        s3.put_object_retention(Bucket=locked, Key="k", Retention={"Mode": "GOVERNANCE"})
    assert err(e)["Code"] == "MalformedXML"
    with pytest.raises(ClientError) as e:
        s3.put_object_retention(Bucket=locked, Key="k", Retention={
            "Mode": "GOVERNANCE", "RetainUntilDate": datetime.datetime(2020, 1, 1)})
    # S3 echoes the date as Java prints it in US Pacific time.
    assert (err(e)["ArgumentName"], err(e)["ArgumentValue"]) == (
        "RetainUntilDate", "Tue Dec 31 16:00:00 PST 2019")

    s3.put_object(Bucket=bucket, Key="plain", Body=b"x")
    for bypass in (True, False):
        with pytest.raises(ClientError) as e:
            s3.delete_object(Bucket=bucket, Key="plain", BypassGovernanceRetention=bypass)
        assert err(e)["ArgumentName"] == "x-amz-bypass-governance-retention"
    with pytest.raises(ClientError) as e:
        s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "plain"}]},
                          BypassGovernanceRetention=True)
    assert err(e)["Code"] == "InvalidArgument"


def test_version_ids_of_a_never_versioned_bucket(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    vid = "HPniJFCxqTsMuIH9KX8K8wEjNUgmABCD"
    with pytest.raises(ClientError) as e:
        s3.delete_object(Bucket=bucket, Key="k", VersionId=vid)
    assert (err(e)["Code"], err(e)["ArgumentName"], err(e)["ArgumentValue"]) == (
        "InvalidArgument", "versionId", vid)
    assert s3.get_object(Bucket=bucket, Key="k", VersionId="null")["Body"].read() == b"x"


def test_lifecycle_checks(s3, bucket):
    def put(rule, **kw):
        return s3.put_bucket_lifecycle_configuration(
            Bucket=bucket, LifecycleConfiguration={"Rules": [rule]}, **kw)

    base = {"ID": "r", "Status": "Enabled", "Expiration": {"Days": 7}}
    with pytest.raises(ClientError) as e:
        put(base)  # neither Filter nor Prefix
    assert err(e)["Code"] == "MalformedXML"
    with pytest.raises(ClientError) as e:
        put({**base, "Filter": {}, "NoncurrentVersionExpiration": {}})
    assert err(e)["Code"] == "MalformedXML"
    with pytest.raises(ClientError) as e:
        put({**base, "Filter": {}, "Expiration": {
            "Date": datetime.datetime(2023, 1, 1, 2, 2, tzinfo=datetime.timezone.utc)}})
    assert (err(e)["Message"], err(e)["ArgumentName"]) == ("'Date' must be at midnight GMT", "Date")
    tags = [{"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}]
    with pytest.raises(ClientError) as e:
        put({**base, "Filter": {"And": {"Tags": tags}}})
    assert (err(e)["Code"], err(e)["Message"]) == ("InvalidRequest", "Duplicate Tag Keys are not allowed.")
    with pytest.raises(ClientError) as e:
        put({**base, "Filter": {}}, TransitionDefaultMinimumObjectSize="value")
    assert err(e)["Message"] == "Invalid TransitionDefaultMinimumObjectSize found: value"
    r = put({**base, "Filter": {}}, TransitionDefaultMinimumObjectSize="varies_by_storage_class")
    assert r["TransitionDefaultMinimumObjectSize"] == "varies_by_storage_class"
    got = s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    assert got["TransitionDefaultMinimumObjectSize"] == "varies_by_storage_class"
    # A rule without an ID gets one.
    put({"Status": "Enabled", "Expiration": {"Days": 7}, "Filter": {}})
    assert s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"][0]["ID"]


def test_expiration_header(s3, bucket):
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [
        {"ID": "big", "Status": "Enabled", "Filter": {"ObjectSizeGreaterThan": 20},
         "Expiration": {"Days": 7}},
        {"ID": "logs", "Status": "Enabled", "Filter": {"Prefix": "logs/"},
         "Expiration": {"Days": 3}},
    ]})
    put = s3.put_object(Bucket=bucket, Key="logs/a", Body=b"x")
    assert put["Expiration"].endswith('GMT", rule-id="logs"')
    assert put["Expiration"].startswith('expiry-date="')
    head = s3.head_object(Bucket=bucket, Key="logs/a")
    date = datetime.datetime.strptime(head["Expiration"].split('"')[1], "%a, %d %b %Y %H:%M:%S GMT")
    # The first midnight (UTC) after three days.
    assert (date.hour, date.minute) == (0, 0)
    assert 3 <= (date.replace(tzinfo=datetime.timezone.utc) - head["LastModified"]).days <= 4
    s3.put_object(Bucket=bucket, Key="large", Body=b"a" * 22)
    assert 'rule-id="big"' in s3.get_object(Bucket=bucket, Key="large")["Expiration"]
    assert "Expiration" not in s3.put_object(Bucket=bucket, Key="small", Body=b"a")


def test_inventory_and_request_payment_checks(s3, bucket, account):
    dest = bucket_name(account, "inv")
    s3.create_bucket(Bucket=dest)

    def config(**over):
        c = {"Id": "inv", "IsEnabled": True, "IncludedObjectVersions": "All",
             "Schedule": {"Frequency": "Daily"},
             "Destination": {"S3BucketDestination": {"Bucket": f"arn:aws:s3:::{dest}",
                                                     "Format": "CSV"}}}
        c.update(over)
        return c

    def put(c):
        return s3.put_bucket_inventory_configuration(Bucket=bucket, Id="inv",
                                                     InventoryConfiguration=c)

    with pytest.raises(ClientError) as e:
        put(config(Id="other"))
    assert (err(e)["Code"], err(e)["Message"]) == (
        "IdMismatch", "Document ID does not match the specified configuration ID.")
    with pytest.raises(ClientError) as e:
        put(config(Destination={"S3BucketDestination": {"Bucket": dest, "Format": "CSV"}}))
    assert (err(e)["Code"], err(e)["Message"]) == ("InvalidS3DestinationBucket", "Invalid bucket ARN.")
    for bad in ({"Schedule": {"Frequency": "Hourly"}}, {"IncludedObjectVersions": "Wrong"},
                {"OptionalFields": ["TestField"]}):
        with pytest.raises(ClientError) as e:
            put(config(**bad))
        assert err(e)["Code"] == "MalformedXML"
    assert put(config())["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as e:
        s3.get_bucket_inventory_configuration(Bucket=bucket, Id="missing")
    assert err(e)["Code"] == "NoSuchConfiguration" and "BucketName" not in err(e)
    with pytest.raises(ClientError) as e:
        s3.put_bucket_request_payment(Bucket=bucket, RequestPaymentConfiguration={"Payer": "Random"})
    assert err(e)["Code"] == "MalformedXML"


def test_logging_target_in_another_region(s3, account, bucket):
    west = bucket_name(account, "west-logs")
    s3.create_bucket(Bucket=west, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    status_ = {"LoggingEnabled": {"TargetBucket": west, "TargetPrefix": "log"}}
    with pytest.raises(ClientError) as e:
        s3.put_bucket_logging(Bucket=bucket, BucketLoggingStatus=status_)
    assert (status(e), err(e)["Code"], err(e)["TargetBucketLocation"]) == (
        403, "CrossLocationLoggingProhibitted", "us-west-2")
    assert "SourceBucketLocation" not in err(e)
    east2 = bucket_name(account, "east2")
    s3.create_bucket(Bucket=east2, CreateBucketConfiguration={"LocationConstraint": "us-east-2"})
    with pytest.raises(ClientError) as e:
        s3.put_bucket_logging(Bucket=east2, BucketLoggingStatus=status_)
    assert err(e)["SourceBucketLocation"] == "us-east-2"


def test_listing_arguments(nephos, s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.list_buckets(BucketRegion="eu-east-1")
    assert (err(e)["Message"], err(e)["ArgumentName"]) == (
        "Argument value eu-east-1 is not a valid AWS Region", "bucket-region")
    listed = s3.list_buckets()["Buckets"]
    assert listed and all("BucketArn" not in b for b in listed)
    head = s3.head_bucket(Bucket=bucket)
    assert "BucketArn" not in head and head["AccessPointAlias"] is False
    with pytest.raises(ClientError) as e:
        s3.list_objects_v2(Bucket=bucket, ContinuationToken="")
    assert (err(e)["Code"], err(e)["ArgumentName"]) == ("InvalidArgument", "continuation-token")
    s3.create_multipart_upload(Bucket=bucket, Key="a")
    other = s3.create_multipart_upload(Bucket=bucket, Key="b")["UploadId"]
    with pytest.raises(ClientError) as e:
        s3.list_multipart_uploads(Bucket=bucket, KeyMarker="a", UploadIdMarker=other)
    assert (err(e)["Message"], err(e)["ArgumentName"], err(e)["ArgumentValue"]) == (
        "Invalid uploadId marker", "upload-id-marker", other)


def test_bucket_policy_put_answers_204(s3, bucket):
    policy = ('{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*",'
              f'"Action":"s3:GetObject","Resource":"arn:aws:s3:::{bucket}/*"}}]}}')
    r = s3.put_bucket_policy(Bucket=bucket, Policy=policy)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_not_modified_carries_the_etag(nephos, account, s3, bucket):
    etag = s3.put_object(Bucket=bucket, Key="k", Body=b"data")["ETag"]
    for method in ("GET", "HEAD"):
        r = raw(nephos, account, method, f"/{bucket}/k", headers={"If-None-Match": etag})
        assert r.status_code == 304
        assert r.headers["ETag"] == etag
        assert r.content == b""
    # An If-Modified-Since in the future is ignored.
    future = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1))
    assert s3.get_object(Bucket=bucket, Key="k", IfModifiedSince=future)["Body"].read() == b"data"


def test_acl_of_a_delete_marker(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    marker = s3.delete_object(Bucket=bucket, Key="k")["VersionId"]
    for extra in ({}, {"VersionId": marker}):
        with pytest.raises(ClientError) as e:
            s3.put_object_acl(Bucket=bucket, Key="k", ACL="private", **extra)
        assert (status(e), err(e)["Code"], err(e)["Method"], err(e)["ResourceType"]) == (
            405, "MethodNotAllowed", "PUT", "DeleteMarker")
        assert e.value.response["ResponseMetadata"]["HTTPHeaders"]["allow"] == "DELETE"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="k", VersionId=marker)
    assert e.value.response["ResponseMetadata"]["HTTPHeaders"]["allow"] == "DELETE"


def test_listing_echoes(s3, bucket, account):
    for i in range(3):
        s3.put_object(Bucket=bucket, Key=f"k{i}", Body=b"x")
    first = s3.list_objects_v2(Bucket=bucket, MaxKeys=1, StartAfter="k0")
    rest = s3.list_objects_v2(Bucket=bucket, StartAfter="k0",
                              ContinuationToken=first["NextContinuationToken"])
    # StartAfter no longer applies once a continuation token is sent, and is not echoed.
    assert "StartAfter" in first and "StartAfter" not in rest
    assert [o["Key"] for o in rest["Contents"]] == ["k2"]
    assert "Prefix" not in s3.list_buckets(MaxBuckets=1)
    # A bucket created outside us-east-1 is located on S3's global host name.
    west = bucket_name(account, "locwest")
    r = s3.create_bucket(Bucket=west, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    assert r["Location"] == f"http://{west}.s3.amazonaws.com/"
    assert s3.create_bucket(Bucket=bucket_name(account, "loceast"))["Location"] == \
        f"/{bucket_name(account, 'loceast')}"


def test_analytics_id_mismatch(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.put_bucket_analytics_configuration(Bucket=bucket, Id="other", AnalyticsConfiguration={
            "Id": "a", "StorageClassAnalysis": {}})
    assert err(e)["Code"] == "MalformedXML"


def test_small_answers_as_aws_gives_them(nephos, account, s3, bucket):
    # An explicit grant to the owner's canonical id shows the owner's name.
    owner = s3.list_buckets()["Owner"]
    s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls={
        "Rules": [{"ObjectOwnership": "ObjectWriter"}]})
    s3.put_bucket_acl(Bucket=bucket, AccessControlPolicy={"Owner": owner, "Grants": [
        {"Grantee": {"ID": owner["ID"], "Type": "CanonicalUser"}, "Permission": "FULL_CONTROL"}]})
    grantee = s3.get_bucket_acl(Bucket=bucket)["Grants"][0]["Grantee"]
    assert grantee.get("DisplayName") == owner.get("DisplayName") and grantee["ID"] == owner["ID"]
    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket=bucket_name(account, "own"), ObjectOwnership="RandomValue")
    assert err(e)["Message"] == "Invalid x-amz-object-ownership header: RandomValue"
    assert "ArgumentValue" not in err(e)
    # EU is kept as the bucket's location constraint.
    eu = bucket_name(account, "eu")
    s3.create_bucket(Bucket=eu, CreateBucketConfiguration={"LocationConstraint": "EU"})
    assert s3.get_bucket_location(Bucket=eu)["LocationConstraint"] == "EU"
    assert s3.head_bucket(Bucket=eu)["BucketRegion"] == "eu-west-1"
    # A versioned bucket asks for all its versions to be deleted.
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket=bucket)
    assert err(e)["Message"].endswith("You must delete all versions in the bucket.")
    # An empty delimiter is not echoed.
    assert "Delimiter" not in s3.list_objects(Bucket=bucket, Delimiter="")
    with pytest.raises(ClientError) as e:
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": f"arn:aws:sqs:us-east-1:{account}:q",
                                     "Events": ["s3:ObjectCreated:*"],
                                     "Filter": {"Key": {"FilterRules": [{"Name": "INVALID", "Value": "x"}]}}}]},
            SkipDestinationValidation=True)
    assert (err(e)["ArgumentName"], err(e)["ArgumentValue"]) == ("FilterRule.Name", "INVALID")


def test_metrics_configurations_page_by_100(s3, bucket):
    for i in range(102):
        s3.put_bucket_metrics_configuration(Bucket=bucket, Id=f"m{i:03}", MetricsConfiguration={
            "Id": f"m{i:03}", "Filter": {"Prefix": "logs/"}})
    first = s3.list_bucket_metrics_configurations(Bucket=bucket)
    assert len(first["MetricsConfigurationList"]) == 100 and first["IsTruncated"]
    second = s3.list_bucket_metrics_configurations(
        Bucket=bucket, ContinuationToken=first["NextContinuationToken"])
    assert [c["Id"] for c in second["MetricsConfigurationList"]] == ["m100", "m101"]
    assert second["IsTruncated"] is False and "NextContinuationToken" not in second
    assert second["ContinuationToken"] == first["NextContinuationToken"]


def test_delete_objects_names_missing_versions(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    vid = "HPniJFCxqTsMuIH9KX8K8wEjNUgmABCD"
    r = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "k", "VersionId": vid}]})
    assert "Deleted" not in r
    assert r["Errors"] == [{"Key": "k", "VersionId": vid, "Code": "NoSuchVersion",
                            "Message": "The specified version does not exist."}]
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"
