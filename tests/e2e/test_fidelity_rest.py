"""What issue 10 still named: DynamoDB contributor insights and SSEDescription, SQS on a
queue URL without an Action, answered as AWS answers them."""

import pytest
from botocore.exceptions import ClientError
from dynamodb_helpers import ddb, error_of, make_table


# --- DynamoDB: contributor insights -------------------------------------------------


def _gsi_table(c, name):
    return make_table(
        c, name, range_type="S",
        extra_defs=[{"AttributeName": "g", "AttributeType": "S"}],
        GlobalSecondaryIndexes=[{
            "IndexName": "byg",
            "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "ALL"},
        }],
        LocalSecondaryIndexes=[{
            "IndexName": "local",
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                          {"AttributeName": "g", "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": "KEYS_ONLY"},
        }],
    )


def _strip(r):
    r.pop("ResponseMetadata", None)
    return r


def test_contributor_insights_never_configured_reads_disabled(nephos, account):
    c = ddb(nephos, account)
    make_table(c, "fresh")
    assert _strip(c.describe_contributor_insights(TableName="fresh")) == {
        "TableName": "fresh", "ContributorInsightsStatus": "DISABLED",
    }
    # DISABLE of a never-configured table is a no-op that echoes DISABLED.
    assert _strip(c.update_contributor_insights(
        TableName="fresh", ContributorInsightsAction="DISABLE")) == {
        "TableName": "fresh", "ContributorInsightsStatus": "DISABLED",
    }
    assert c.list_contributor_insights(TableName="fresh")["ContributorInsightsSummaries"] == []


def test_contributor_insights_enable_disable_cycle_per_table_and_index(nephos, account):
    c = ddb(nephos, account)
    _gsi_table(c, "cycle")
    up = _strip(c.update_contributor_insights(TableName="cycle", ContributorInsightsAction="ENABLE"))
    assert up == {
        "TableName": "cycle", "ContributorInsightsStatus": "ENABLING",
        "ContributorInsightsMode": "ACCESSED_AND_THROTTLED_KEYS",
    }
    d = c.describe_contributor_insights(TableName="cycle")
    assert d["ContributorInsightsStatus"] == "ENABLED"
    assert d["ContributorInsightsMode"] == "ACCESSED_AND_THROTTLED_KEYS"
    rules = d["ContributorInsightsRuleList"]
    # A table with a sort key gets four rules, named after it and their creation time.
    assert [r.rsplit("-", 1)[0] for r in rules] == [
        f"DynamoDBContributorInsights-{k}-cycle" for k in ("PKC", "SKC", "PKT", "SKT")
    ]
    assert len({r.rsplit("-", 1)[1] for r in rules}) == 1
    assert "LastUpdateDateTime" in d and "IndexName" not in d
    # ENABLE again with the same mode: a settled no-op, rules unchanged.
    again = c.update_contributor_insights(TableName="cycle", ContributorInsightsAction="ENABLE")
    assert again["ContributorInsightsStatus"] == "ENABLED"
    assert c.describe_contributor_insights(TableName="cycle")["ContributorInsightsRuleList"] == rules

    # The global index has a state of its own; its key has no sort key: two rules.
    assert c.describe_contributor_insights(TableName="cycle", IndexName="byg")[
        "ContributorInsightsStatus"] == "DISABLED"
    up = _strip(c.update_contributor_insights(
        TableName="cycle", IndexName="byg", ContributorInsightsAction="ENABLE",
        ContributorInsightsMode="THROTTLED_KEYS"))
    assert up == {
        "TableName": "cycle", "IndexName": "byg", "ContributorInsightsStatus": "ENABLING",
        "ContributorInsightsMode": "THROTTLED_KEYS",
    }
    d = c.describe_contributor_insights(TableName="cycle", IndexName="byg")
    assert d["IndexName"] == "byg" and d["ContributorInsightsStatus"] == "ENABLED"
    assert [r.rsplit("-", 1)[0] for r in d["ContributorInsightsRuleList"]] == [
        "DynamoDBContributorInsights-PKT-cycle-byg"]

    summaries = c.list_contributor_insights(TableName="cycle")["ContributorInsightsSummaries"]
    assert summaries == [
        {"TableName": "cycle", "ContributorInsightsStatus": "ENABLED",
         "ContributorInsightsMode": "ACCESSED_AND_THROTTLED_KEYS"},
        {"TableName": "cycle", "IndexName": "byg", "ContributorInsightsStatus": "ENABLED",
         "ContributorInsightsMode": "THROTTLED_KEYS"},
    ]

    down = _strip(c.update_contributor_insights(TableName="cycle", ContributorInsightsAction="DISABLE"))
    assert down == {
        "TableName": "cycle", "ContributorInsightsStatus": "DISABLING",
        "ContributorInsightsMode": "ACCESSED_AND_THROTTLED_KEYS",
    }
    d = _strip(c.describe_contributor_insights(TableName="cycle"))
    assert d["ContributorInsightsStatus"] == "DISABLED"
    assert "ContributorInsightsRuleList" not in d
    assert d["ContributorInsightsMode"] == "ACCESSED_AND_THROTTLED_KEYS"
    # Disabled entries leave the list.
    summaries = c.list_contributor_insights(TableName="cycle")["ContributorInsightsSummaries"]
    assert [s.get("IndexName") for s in summaries] == ["byg"]

    # Deleting the index takes its insights with it.
    c.update_table(TableName="cycle", GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "byg"}}])
    assert c.list_contributor_insights(TableName="cycle")["ContributorInsightsSummaries"] == []


def test_contributor_insights_errors(nephos, account):
    c = ddb(nephos, account)
    _gsi_table(c, "errs")
    for call in (
        lambda: c.describe_contributor_insights(TableName="nope"),
        lambda: c.update_contributor_insights(TableName="nope", ContributorInsightsAction="ENABLE"),
        lambda: c.list_contributor_insights(TableName="nope"),
    ):
        with pytest.raises(ClientError) as e:
            call()
        assert error_of(e) == ("ResourceNotFoundException",
                               "Requested resource not found: Table: nope not found")
    # Local indexes have no insights of their own, unknown ones are not found.
    for index in ("local", "ghost"):
        with pytest.raises(ClientError) as e:
            c.update_contributor_insights(TableName="errs", IndexName=index,
                                          ContributorInsightsAction="ENABLE")
        assert error_of(e) == (
            "ResourceNotFoundException",
            f"Requested resource not found: Index: {index} not found for table: errs")


def test_list_contributor_insights_of_the_region_pages(nephos, account):
    c = ddb(nephos, account)
    for name in ("a", "a-b", "b"):
        make_table(c, name)
        c.update_contributor_insights(TableName=name, ContributorInsightsAction="ENABLE")
    make_table(c, "off")
    seen, token = [], None
    while True:
        page = c.list_contributor_insights(MaxResults=2, **({"NextToken": token} if token else {}))
        seen += [s["TableName"] for s in page["ContributorInsightsSummaries"]]
        token = page.get("NextToken")
        if not token:
            break
    assert seen == ["a", "a-b", "b"]


def test_contributor_insights_survive_a_restart(start_nephos, account, tmp_path):
    server = start_nephos("--data-dir", str(tmp_path))
    c = ddb(server, account)
    make_table(c, "kept")
    c.update_contributor_insights(TableName="kept", ContributorInsightsAction="ENABLE")
    rules = c.describe_contributor_insights(TableName="kept")["ContributorInsightsRuleList"]
    server.stop()
    server.start()
    c = ddb(server, account)
    d = c.describe_contributor_insights(TableName="kept")
    assert d["ContributorInsightsStatus"] == "ENABLED"
    assert d["ContributorInsightsRuleList"] == rules


# --- DynamoDB: server-side encryption -----------------------------------------------


def test_sse_description_with_the_aws_managed_key(nephos, account):
    c = ddb(nephos, account)
    created = make_table(c, "enc", SSESpecification={"Enabled": True})
    want = {
        "Status": "ENABLED", "SSEType": "KMS",
        "KMSMasterKeyArn": f"arn:aws:kms:us-east-1:{account}:alias/aws/dynamodb",
    }
    assert created["SSEDescription"] == want
    assert c.describe_table(TableName="enc")["Table"]["SSEDescription"] == want


def test_sse_description_names_the_key_given(nephos, account):
    c = ddb(nephos, account)
    key_id = "1234abcd-12ab-34cd-56ef-1234567890ab"
    created = make_table(c, "cmk", SSESpecification={
        "Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key_id})
    assert created["SSEDescription"]["KMSMasterKeyArn"] == \
        f"arn:aws:kms:us-east-1:{account}:key/{key_id}"
    arn = f"arn:aws:kms:us-east-1:{account}:key/{key_id}"
    make_table(c, "cmkarn", SSESpecification={"Enabled": True, "KMSMasterKeyId": arn})
    assert c.describe_table(TableName="cmkarn")["Table"]["SSEDescription"]["KMSMasterKeyArn"] == arn


def test_aws_owned_key_has_no_sse_description(nephos, account):
    c = ddb(nephos, account)
    assert "SSEDescription" not in make_table(c, "plain")
    assert "SSEDescription" not in make_table(c, "owned", SSESpecification={"Enabled": False})
    assert "SSEDescription" not in c.describe_table(TableName="owned")["Table"]


def test_update_table_switches_encryption(nephos, account):
    c = ddb(nephos, account)
    make_table(c, "switch")
    up = c.update_table(TableName="switch", SSESpecification={"Enabled": True, "SSEType": "KMS"})
    assert up["TableDescription"]["SSEDescription"]["Status"] == "UPDATING"
    d = c.describe_table(TableName="switch")["Table"]["SSEDescription"]
    assert d["Status"] == "ENABLED"
    assert d["KMSMasterKeyArn"].endswith(":alias/aws/dynamodb")
    c.update_table(TableName="switch", SSESpecification={"Enabled": False})
    assert "SSEDescription" not in c.describe_table(TableName="switch")["Table"]


# --- SQS: a queue URL without an Action -----------------------------------------------


def _sqs_auth(account):
    return {"Authorization": f"AWS4-HMAC-SHA256 Credential={account}/20240101/us-east-1/sqs/"
                             "aws4_request, SignedHeaders=host, Signature=0"}


@pytest.mark.parametrize("accept", [None, "application/json"])
def test_get_on_a_queue_url_without_action_is_unknown_operation(nephos, account, accept):
    import requests

    url = nephos.client("sqs", account=account).create_queue(QueueName="noaction")["QueueUrl"]
    headers = _sqs_auth(account)
    if accept:
        headers["Accept"] = accept
    r = requests.get(url, headers=headers, timeout=10)
    # AWS answers XML even when JSON is accepted: a bare element, 404.
    assert r.status_code == 404
    assert r.text == "<UnknownOperationException/>"
    r = requests.post(url, data={"Version": "2012-11-05"}, headers=headers, timeout=10)
    assert r.status_code == 404
    assert r.text == "<UnknownOperationException/>"


def test_json_protocol_without_target_is_still_a_json_error(nephos, account):
    import requests

    r = requests.post(nephos.endpoint, data=b"{}", timeout=10, headers={
        **_sqs_auth(account), "Content-Type": "application/x-amz-json-1.0"})
    assert r.status_code == 400
    assert r.json()["__type"].endswith("UnknownOperationException")


# --- S3: replication configurations -----------------------------------------------------


def test_replication_destination_must_exist_and_be_versioned(nephos, account):
    from s3util import bucket_name

    s3 = nephos.client("s3", account=account)
    src, dst = bucket_name(account, "rsrc"), bucket_name(account, "rdst")
    s3.create_bucket(Bucket=src)
    s3.put_bucket_versioning(Bucket=src, VersioningConfiguration={"Status": "Enabled"})
    cfg = {"Role": f"arn:aws:iam::{account}:role/r", "Rules": [{
        "Priority": 1, "Status": "Enabled", "Filter": {"Prefix": "Tax"},
        "DeleteMarkerReplication": {"Status": "Disabled"},
        "Destination": {"Bucket": "arn:aws:s3:::does-not-exist-" + account}}]}
    for _ in range(2):
        with pytest.raises(ClientError) as e:
            s3.put_bucket_replication(Bucket=src, ReplicationConfiguration=cfg)
        assert e.value.response["Error"]["Code"] == "InvalidRequest"
        assert e.value.response["Error"]["Message"] == "Destination bucket must have versioning enabled."
        # Existing but unversioned: the same answer.
        s3.create_bucket(Bucket=dst)
        cfg["Rules"][0]["Destination"]["Bucket"] = f"arn:aws:s3:::{dst}"
    s3.put_bucket_versioning(Bucket=dst, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_replication(Bucket=src, ReplicationConfiguration=cfg)
    # A rule given without an ID gets one.
    rule = s3.get_bucket_replication(Bucket=src)["ReplicationConfiguration"]["Rules"][0]
    assert rule["ID"]
    assert {k: v for k, v in rule.items() if k != "ID"} == cfg["Rules"][0]
