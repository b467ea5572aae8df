"""SQS queues: names, URLs, attributes, tags, listing, purge, delete (boto3 and the CLI)."""

import json

import pytest
from botocore.exceptions import ClientError


def advance(nephos, seconds):
    nephos.internal("/_nephos/clock", {"advance_seconds": seconds})


def code(exc):
    return exc.value.response["Error"]["Code"]


def test_queue_url_routes_back_and_account_path(nephos, account):
    sqs = nephos.client("sqs", account=account)
    url = sqs.create_queue(QueueName="routes")["QueueUrl"]
    # On the host the client addressed (no DNS needed), naming its region as AWS's do.
    assert url == f"{nephos.endpoint}/queue/us-east-1/{account}/routes"
    assert sqs.get_queue_url(QueueName="routes")["QueueUrl"] == url
    west = nephos.client("sqs", account=account, region="eu-west-1")
    west_url = west.create_queue(QueueName="routes")["QueueUrl"]
    assert west_url == f"{nephos.endpoint}/queue/eu-west-1/{account}/routes"
    assert west.list_queues()["QueueUrls"] == [west_url]
    # A host that names a region (AWS's, LocalStack's) wins over the client's region.
    west.send_message(QueueUrl=f"https://sqs.us-east-1.amazonaws.com/{account}/routes", MessageBody="east")
    regional = f"http://sqs.us-east-1.localhost.localstack.cloud:{nephos.port}/{account}/routes"
    west.send_message(QueueUrl=regional, MessageBody="c")
    # The account-path form and a bare name both name the queue.
    sqs.send_message(QueueUrl=f"/{account}/routes", MessageBody="a")
    sqs.send_message(QueueUrl="routes", MessageBody="b")
    # AWS's own URL form for the same account and region.
    aws_url = f"https://sqs.us-east-1.amazonaws.com/{account}/routes"
    attrs = sqs.get_queue_attributes(QueueUrl=aws_url, AttributeNames=["ApproximateNumberOfMessages"])
    assert attrs["Attributes"]["ApproximateNumberOfMessages"] == "4"


def test_queue_name_rules(nephos, account):
    sqs = nephos.client("sqs", account=account)
    sqs.create_queue(QueueName="a" * 80)
    for bad in ["a" * 81, "has.dot", "sp ace", "x.fifo"]:
        with pytest.raises(ClientError) as e:
            sqs.create_queue(QueueName=bad)
        assert code(e) == "InvalidParameterValue"
    sqs.create_queue(QueueName="a" * 75 + ".fifo", Attributes={"FifoQueue": "true"})
    with pytest.raises(ClientError) as e:
        sqs.create_queue(QueueName="a" * 76 + ".fifo", Attributes={"FifoQueue": "true"})
    with pytest.raises(ClientError) as e:
        sqs.create_queue(QueueName="nofifosuffix", Attributes={"FifoQueue": "true"})
    assert code(e) == "InvalidParameterValue"


def test_create_is_idempotent_unless_attributes_differ(nephos, account):
    sqs = nephos.client("sqs", account=account)
    url = sqs.create_queue(QueueName="idem", Attributes={"VisibilityTimeout": "40"})["QueueUrl"]
    assert sqs.create_queue(QueueName="idem", Attributes={"VisibilityTimeout": "40"})["QueueUrl"] == url
    assert sqs.create_queue(QueueName="idem")["QueueUrl"] == url
    with pytest.raises(sqs.exceptions.QueueNameExists) as e:
        sqs.create_queue(QueueName="idem", Attributes={"VisibilityTimeout": "41"})
    assert code(e) == "QueueAlreadyExists"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_attributes_defaults_and_read_only(nephos, account):
    sqs = nephos.client("sqs", account=account)
    url = sqs.create_queue(QueueName="attrs")["QueueUrl"]
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert a["VisibilityTimeout"] == "30"
    assert a["DelaySeconds"] == "0"
    # 1 MiB since AWS raised the limit (August 2025).
    assert a["MaximumMessageSize"] == "1048576"
    assert a["MessageRetentionPeriod"] == "345600"
    assert a["ReceiveMessageWaitTimeSeconds"] == "0"
    assert a["SqsManagedSseEnabled"] == "true"
    assert a["QueueArn"] == f"arn:aws:sqs:us-east-1:{account}:attrs"
    assert int(a["CreatedTimestamp"]) > 1_600_000_000
    assert "FifoQueue" not in a and "Policy" not in a
    for name in ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                 "ApproximateNumberOfMessagesDelayed", "LastModifiedTimestamp"]:
        assert a[name].isdigit()
    only = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    assert list(only) == ["QueueArn"]
    assert "Attributes" not in sqs.get_queue_attributes(QueueUrl=url)
    with pytest.raises(ClientError) as e:
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Bogus"])
    assert code(e) == "InvalidAttributeName"


@pytest.mark.parametrize(
    "name,good,bad",
    [
        ("DelaySeconds", "900", "901"),
        ("MaximumMessageSize", "1024", "1023"),
        ("MaximumMessageSize", "1048576", "1048577"),
        ("MessageRetentionPeriod", "60", "59"),
        ("MessageRetentionPeriod", "1209600", "1209601"),
        ("ReceiveMessageWaitTimeSeconds", "20", "21"),
        ("VisibilityTimeout", "43200", "43201"),
        ("KmsDataKeyReusePeriodSeconds", "86400", "59"),
        ("SqsManagedSseEnabled", "false", "maybe"),
    ],
)
def test_attribute_ranges(nephos, account, name, good, bad):
    sqs = nephos.client("sqs", account=account)
    url = sqs.create_queue(QueueName="ranges")["QueueUrl"]
    if name == "KmsDataKeyReusePeriodSeconds":
        # The reuse period is reported only for a queue with a KMS key.
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"KmsMasterKeyId": "alias/k"})
    sqs.set_queue_attributes(QueueUrl=url, Attributes={name: good})
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[name])["Attributes"][name] == good
    with pytest.raises(ClientError) as e:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={name: bad})
    assert code(e) == "InvalidAttributeValue"
    with pytest.raises(ClientError):
        sqs.create_queue(QueueName="ranges2", Attributes={name: bad})


def test_set_attributes_policy_kms_and_fifo_only(nephos, account):
    sqs = nephos.client("sqs", account=account)
    url = sqs.create_queue(QueueName="setattrs")["QueueUrl"]
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage"}]})
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy, "KmsMasterKeyId": "alias/aws/sqs"})
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert json.loads(a["Policy"]) == json.loads(policy)
    assert a["KmsMasterKeyId"] == "alias/aws/sqs"
    assert a["KmsDataKeyReusePeriodSeconds"] == "300"
    assert a["SqsManagedSseEnabled"] == "false"
    with pytest.raises(ClientError) as e:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": "{not json"})
    assert code(e) == "InvalidAttributeValue"
    with pytest.raises(ClientError) as e:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"ContentBasedDeduplication": "true"})
    assert code(e) == "InvalidAttributeName"
    with pytest.raises(ClientError) as e:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"FifoQueue": "true"})
    # Clearing the policy removes it.
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": ""})
    assert "Policy" not in sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]


def test_fifo_attributes(nephos, account):
    sqs = nephos.client("sqs", account=account)
    url = sqs.create_queue(QueueName="attrs.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert a["FifoQueue"] == "true"
    assert a["ContentBasedDeduplication"] == "false"
    assert a["DeduplicationScope"] == "queue"
    assert a["FifoThroughputLimit"] == "perQueue"
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"DeduplicationScope": "messageGroup", "FifoThroughputLimit": "perMessageGroupId"})
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["DeduplicationScope", "FifoThroughputLimit"])["Attributes"]
    assert a == {"DeduplicationScope": "messageGroup", "FifoThroughputLimit": "perMessageGroupId"}
    with pytest.raises(ClientError) as e:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"DeduplicationScope": "queue"})
    assert code(e) == "InvalidParameterValue"
    with pytest.raises(ClientError) as e:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"FifoThroughputLimit": "fast"})
    assert code(e) == "InvalidAttributeValue"


def test_list_queues_prefix_and_pagination(nephos, account):
    sqs = nephos.client("sqs", account=account)
    for i in range(5):
        sqs.create_queue(QueueName=f"list-{i}")
    sqs.create_queue(QueueName="other")
    assert len(sqs.list_queues()["QueueUrls"]) == 6
    assert len(sqs.list_queues(QueueNamePrefix="list-")["QueueUrls"]) == 5
    assert "QueueUrls" not in sqs.list_queues(QueueNamePrefix="zzz")
    page = sqs.list_queues(QueueNamePrefix="list-", MaxResults=2)
    assert len(page["QueueUrls"]) == 2 and page["NextToken"]
    seen = list(page["QueueUrls"])
    while "NextToken" in page:
        page = sqs.list_queues(QueueNamePrefix="list-", MaxResults=2, NextToken=page["NextToken"])
        seen += page["QueueUrls"]
    assert sorted(seen) == sorted(sqs.list_queues(QueueNamePrefix="list-")["QueueUrls"])
    paginated = [u for p in sqs.get_paginator("list_queues").paginate(PaginationConfig={"PageSize": 4}) for u in p.get("QueueUrls", [])]
    assert len(paginated) == 6
    # Other accounts and regions see nothing of these.
    assert "QueueUrls" not in nephos.client("sqs").list_queues()
    assert "QueueUrls" not in nephos.client("sqs", account=account, region="eu-west-1").list_queues()


def test_tags(nephos, account):
    sqs = nephos.client("sqs", account=account)
    url = sqs.create_queue(QueueName="tagged", tags={"env": "dev"})["QueueUrl"]
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"env": "dev"}
    sqs.tag_queue(QueueUrl=url, Tags={"team": "a", "env": "prod"})
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"env": "prod", "team": "a"}
    sqs.untag_queue(QueueUrl=url, TagKeys=["env"])
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"team": "a"}
    sqs.untag_queue(QueueUrl=url, TagKeys=["team"])
    assert "Tags" not in sqs.list_queue_tags(QueueUrl=url)


def test_purge_and_its_60_second_rule(nephos, account):
    sqs = nephos.client("sqs", account=account)
    url = sqs.create_queue(QueueName="purge")["QueueUrl"]
    for i in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=str(i))
    sqs.purge_queue(QueueUrl=url)
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    with pytest.raises(sqs.exceptions.PurgeQueueInProgress) as e:
        sqs.purge_queue(QueueUrl=url)
    assert code(e) == "AWS.SimpleQueueService.PurgeQueueInProgress"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    advance(nephos, 61)
    sqs.purge_queue(QueueUrl=url)


def test_delete_queue_and_name_reuse_after_60_seconds(nephos, account):
    sqs = nephos.client("sqs", account=account)
    url = sqs.create_queue(QueueName="gone")["QueueUrl"]
    sqs.delete_queue(QueueUrl=url)
    with pytest.raises(sqs.exceptions.QueueDoesNotExist) as e:
        sqs.send_message(QueueUrl=url, MessageBody="x")
    assert code(e) == "AWS.SimpleQueueService.NonExistentQueue"
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.delete_queue(QueueUrl=url)
    with pytest.raises(sqs.exceptions.QueueDeletedRecently) as e:
        sqs.create_queue(QueueName="gone")
    assert code(e) == "AWS.SimpleQueueService.QueueDeletedRecently"
    advance(nephos, 61)
    assert sqs.create_queue(QueueName="gone")["QueueUrl"] == url


def test_get_queue_url_errors_and_owner(nephos, account):
    sqs = nephos.client("sqs", account=account)
    with pytest.raises(sqs.exceptions.QueueDoesNotExist) as e:
        sqs.get_queue_url(QueueName="missing")
    assert e.value.response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-query-error"] == "AWS.SimpleQueueService.NonExistentQueue;Sender"
    url = sqs.create_queue(QueueName="owned")["QueueUrl"]
    assert sqs.get_queue_url(QueueName="owned", QueueOwnerAWSAccountId=account)["QueueUrl"] == url


def test_cli(nephos, account):
    url = nephos.aws("sqs", "create-queue", "--queue-name", "cli", "--attributes", "DelaySeconds=5", account=account)["QueueUrl"]
    assert url.endswith(f"/{account}/cli")
    nephos.aws("sqs", "send-message", "--queue-url", url, "--message-body", "hi", "--delay-seconds", "0", account=account)
    got = nephos.aws("sqs", "receive-message", "--queue-url", url, "--attribute-names", "All", account=account)
    assert got["Messages"][0]["Body"] == "hi"
    nephos.aws("sqs", "delete-message", "--queue-url", url, "--receipt-handle", got["Messages"][0]["ReceiptHandle"], account=account)
    attrs = nephos.aws("sqs", "get-queue-attributes", "--queue-url", url, "--attribute-names", "All", account=account)
    assert attrs["Attributes"]["DelaySeconds"] == "5"
    listed = nephos.aws("sqs", "list-queues", account=account)
    assert listed["QueueUrls"] == [url]
    out = nephos.aws("sqs", "get-queue-url", "--queue-name", "nope", account=account, check=False)
    assert out.returncode != 0 and "NonExistentQueue" in out.stderr
    nephos.aws("sqs", "delete-queue", "--queue-url", url, account=account)
