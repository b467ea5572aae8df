"""Lambda event source mappings against the real binary: SQS queues and DynamoDB streams
deliver real messages to real functions with AWS's event shapes."""

import io
import json
import time
import zipfile

import pytest
from botocore.exceptions import ClientError

RECORDER = """
import boto3, json
ddb = boto3.client('dynamodb')
def handler(event, context):
    for r in event['Records']:
        key = r.get('messageId') or r.get('eventID')
        ddb.put_item(TableName='seen', Item={'id': {'S': key}, 'event': {'S': json.dumps(r)}},
                     ConditionExpression='attribute_not_exists(id)')
    return {}
"""

PARTIAL = """
import json
def handler(event, context):
    # Fail every record whose body says so; the rest succeed.
    return {'batchItemFailures': [{'itemIdentifier': r['messageId']}
                                  for r in event['Records'] if r['body'] == 'fail']}
"""

FAILING = """
def handler(event, context):
    raise RuntimeError('always')
"""


def zipped(source):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("app.py", source)
    return buf.getvalue()


def function(lam, account, name, source, timeout=30):
    lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=f"arn:aws:iam::{account}:role/esm",
        Handler="app.handler",
        Code={"ZipFile": zipped(source)},
        Timeout=timeout,
    )
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.2})


def seen_table(ddb):
    ddb.create_table(
        TableName="seen",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def seen(ddb):
    items = ddb.scan(TableName="seen")["Items"]
    return [json.loads(i["event"]["S"]) for i in items]


def wait_for(predicate, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    return predicate()


def queue(sqs, name, **attrs):
    url = sqs.create_queue(QueueName=name, Attributes=attrs)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


@pytest.fixture
def clients(nephos, account):
    return (
        nephos.client("lambda", account=account),
        nephos.client("sqs", account=account),
        nephos.client("dynamodb", account=account),
    )


def test_sqs_messages_reach_the_function_once_each_in_aws_shape(clients, account):
    lam, sqs, ddb = clients
    seen_table(ddb)
    url, arn = queue(sqs, "orders")
    function(lam, account, "recorder", RECORDER)
    m = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="recorder", BatchSize=10)
    assert m["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert m["State"] == "Creating"
    assert m["BatchSize"] == 10 and m["MaximumBatchingWindowInSeconds"] == 0
    assert m["FunctionArn"] == f"arn:aws:lambda:us-east-1:{account}:function:recorder"
    assert m["EventSourceMappingArn"].endswith(f":event-source-mapping:{m['UUID']}")
    assert m["FunctionResponseTypes"] == []
    assert lam.get_event_source_mapping(UUID=m["UUID"])["State"] == "Enabled"

    sqs.send_message(
        QueueUrl=url,
        MessageBody="hello",
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "greeting"}},
    )
    started = time.time()
    for i in range(0, 300, 10):
        sqs.send_message_batch(
            QueueUrl=url, Entries=[{"Id": str(j), "MessageBody": f"m{i + j}"} for j in range(10)]
        )
    records = wait_for(lambda: len(seen(ddb)) >= 301 and seen(ddb))
    print(f"301 messages through the mapping in {time.time() - started:.2f} s")
    assert len(records) == 301
    assert sorted(r["body"] for r in records if r["body"] != "hello") == sorted(f"m{i}" for i in range(300))
    hello = next(r for r in records if r["body"] == "hello")
    assert hello["eventSource"] == "aws:sqs"
    assert hello["eventSourceARN"] == arn
    assert hello["awsRegion"] == "us-east-1"
    assert set(hello["attributes"]) >= {
        "ApproximateReceiveCount",
        "SentTimestamp",
        "SenderId",
        "ApproximateFirstReceiveTimestamp",
    }
    assert hello["messageAttributes"] == {
        "kind": {
            "stringValue": "greeting",
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "String",
        }
    }
    assert len(hello["md5OfBody"]) == 32 and hello["md5OfMessageAttributes"]
    plain = next(r for r in records if r["body"] == "m0")
    assert plain["messageAttributes"] == {} and "md5OfMessageAttributes" not in plain
    # Processed messages are deleted.
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["ApproximateNumberOfMessages"] == "0"
    assert attrs["ApproximateNumberOfMessagesNotVisible"] == "0"


def test_report_batch_item_failures_keeps_only_the_failed_messages(clients, account):
    lam, sqs, _ = clients
    url, arn = queue(sqs, "partial", VisibilityTimeout="1")
    function(lam, account, "partial", PARTIAL)
    lam.create_event_source_mapping(
        EventSourceArn=arn,
        FunctionName="partial",
        BatchSize=10,
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )
    sqs.send_message_batch(
        QueueUrl=url,
        Entries=[{"Id": "a", "MessageBody": "ok"}, {"Id": "b", "MessageBody": "fail"}, {"Id": "c", "MessageBody": "ok"}],
    )

    def left():
        a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        return int(a["ApproximateNumberOfMessages"]) + int(a["ApproximateNumberOfMessagesNotVisible"])

    assert wait_for(lambda: left() == 1)
    time.sleep(0.5)
    assert left() == 1


def test_failed_batches_follow_the_queue_redrive_policy(clients, account):
    lam, sqs, _ = clients
    dlq_url, dlq_arn = queue(sqs, "dead")
    url, arn = queue(
        sqs,
        "source",
        VisibilityTimeout="1",
        RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"}),
    )
    function(lam, account, "failing", FAILING)
    lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="failing", BatchSize=1)
    sqs.send_message(QueueUrl=url, MessageBody="poison")
    msg = wait_for(lambda: sqs.receive_message(QueueUrl=dlq_url).get("Messages"), timeout=20)
    assert msg and msg[0]["Body"] == "poison"


def test_filter_criteria_drop_records_that_do_not_match(clients, account):
    lam, sqs, ddb = clients
    seen_table(ddb)
    url, arn = queue(sqs, "filtered")
    function(lam, account, "recorder", RECORDER)
    lam.create_event_source_mapping(
        EventSourceArn=arn,
        FunctionName="recorder",
        FilterCriteria={"Filters": [{"Pattern": json.dumps({"body": {"kind": ["order"]}})}]},
    )
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"kind": "order", "id": 1}))
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"kind": "refund", "id": 2}))
    sqs.send_message(QueueUrl=url, MessageBody="not json")
    records = wait_for(lambda: seen(ddb))
    time.sleep(0.5)
    records = seen(ddb)
    assert [json.loads(r["body"])["id"] for r in records] == [1]
    # Filtered-out messages are deleted, as on AWS.
    attrs = wait_for(
        lambda: (
            a := sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        )["ApproximateNumberOfMessages"] == "0"
        and a["ApproximateNumberOfMessagesNotVisible"] == "0"
        and a
    )
    assert attrs


def test_dynamodb_stream_records_reach_the_function(clients, account):
    lam, _, ddb = clients
    seen_table(ddb)
    stream = ddb.create_table(
        TableName="source",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]["LatestStreamArn"]
    function(lam, account, "recorder", RECORDER)
    m = lam.create_event_source_mapping(
        EventSourceArn=stream, FunctionName="recorder", StartingPosition="TRIM_HORIZON", BatchSize=5
    )
    assert m["StartingPosition"] == "TRIM_HORIZON"
    assert m["LastProcessingResult"] == "No records processed"
    assert m["MaximumRetryAttempts"] == -1 and m["MaximumRecordAgeInSeconds"] == -1
    assert m["BisectBatchOnFunctionError"] is False and m["ParallelizationFactor"] == 1
    assert m["DestinationConfig"] == {"OnFailure": {}}
    ddb.put_item(TableName="source", Item={"pk": {"S": "a"}, "blob": {"B": b"xyz"}})
    ddb.update_item(
        TableName="source",
        Key={"pk": {"S": "a"}},
        UpdateExpression="SET n = :n",
        ExpressionAttributeValues={":n": {"N": "1"}},
    )
    records = wait_for(lambda: len(seen(ddb)) >= 2 and seen(ddb))
    assert sorted(r["eventName"] for r in records) == ["INSERT", "MODIFY"]
    insert = next(r for r in records if r["eventName"] == "INSERT")
    assert insert["eventSource"] == "aws:dynamodb"
    assert insert["eventVersion"] == "1.1"
    assert insert["eventSourceARN"] == stream
    assert insert["dynamodb"]["Keys"] == {"pk": {"S": "a"}}
    assert insert["dynamodb"]["NewImage"]["blob"] == {"B": "eHl6"}
    assert insert["dynamodb"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert isinstance(insert["dynamodb"]["ApproximateCreationDateTime"], (int, float))


def test_stream_failures_go_to_the_on_failure_destination(clients, account):
    lam, sqs, ddb = clients
    dest_url, dest_arn = queue(sqs, "stream-failures")
    stream = ddb.create_table(
        TableName="events",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"},
    )["TableDescription"]["LatestStreamArn"]
    function(lam, account, "failing", FAILING)
    lam.create_event_source_mapping(
        EventSourceArn=stream,
        FunctionName="failing",
        StartingPosition="TRIM_HORIZON",
        MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": dest_arn}},
    )
    ddb.put_item(TableName="events", Item={"pk": {"S": "x"}})
    msgs = wait_for(lambda: sqs.receive_message(QueueUrl=dest_url).get("Messages"))
    record = json.loads(msgs[0]["Body"])
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["DDBStreamBatchInfo"]["batchSize"] == 1
    assert record["DDBStreamBatchInfo"]["streamArn"] == stream


def test_mappings_are_listed_updated_and_deleted(clients, account):
    lam, sqs, _ = clients
    _, arn = queue(sqs, "q1")
    function(lam, account, "recorder", RECORDER)
    m = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="recorder", BatchSize=5)
    with pytest.raises(ClientError) as e:
        lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="recorder")
    assert e.value.response["Error"]["Code"] == "ResourceConflictException"
    assert m["UUID"] in e.value.response["Error"]["Message"]
    listed = lam.list_event_source_mappings(FunctionName="recorder")["EventSourceMappings"]
    assert [x["UUID"] for x in listed] == [m["UUID"]]
    assert lam.list_event_source_mappings(EventSourceArn=arn)["EventSourceMappings"][0]["UUID"] == m["UUID"]
    updated = lam.update_event_source_mapping(UUID=m["UUID"], Enabled=False, BatchSize=7)
    assert updated["State"] == "Disabling" and updated["BatchSize"] == 7
    assert lam.get_event_source_mapping(UUID=m["UUID"])["State"] == "Disabled"
    deleted = lam.delete_event_source_mapping(UUID=m["UUID"])
    assert deleted["State"] == "Deleting"
    with pytest.raises(ClientError) as e:
        lam.get_event_source_mapping(UUID=m["UUID"])
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="nope")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert e.value.response["Error"]["Message"] == "Function does not exist"
    with pytest.raises(ClientError) as e:
        lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="recorder", BatchSize=50)
    assert e.value.response["Error"]["Code"] == "InvalidParameterValueException"


def test_a_disabled_mapping_delivers_nothing(clients, account):
    lam, sqs, ddb = clients
    seen_table(ddb)
    url, arn = queue(sqs, "quiet")
    function(lam, account, "recorder", RECORDER)
    lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="recorder", Enabled=False)
    sqs.send_message(QueueUrl=url, MessageBody="waiting")
    time.sleep(1)
    assert seen(ddb) == []
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    assert attrs["Attributes"]["ApproximateNumberOfMessages"] == "1"


def test_mappings_survive_kill_9_and_resume_polling(start_nephos, tmp_path, account):
    data = str(tmp_path / "data")
    first = start_nephos("--data-dir", data, "--quiet")
    lam, sqs, ddb = (first.client(s, account=account) for s in ("lambda", "sqs", "dynamodb"))
    seen_table(ddb)
    url, arn = queue(sqs, "durable")
    function(lam, account, "recorder", RECORDER)
    m = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="recorder", BatchSize=1)
    sqs.send_message(QueueUrl=url, MessageBody="before")
    assert wait_for(lambda: len(seen(ddb)) == 1)
    first.proc.kill()
    first.proc.wait()
    second = start_nephos("--data-dir", data, "--quiet")
    lam, sqs, ddb = (second.client(s, account=account) for s in ("lambda", "sqs", "dynamodb"))
    assert lam.get_event_source_mapping(UUID=m["UUID"])["State"] == "Enabled"
    url = sqs.get_queue_url(QueueName="durable")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="after")
    records = wait_for(lambda: len(seen(ddb)) == 2 and seen(ddb))
    assert sorted(r["body"] for r in records) == ["after", "before"]


def test_mappings_are_checked_as_aws_checks_them(clients, account):
    """AWS's answers, recorded in LocalStack's suite: a missing queue, a batch over ten
    without a window, malformed filters, and a second mapping of the same source."""
    lam, sqs, ddb = clients
    function(lam, account, "checked", "def handler(event, context):\n    return None\n")

    def refused(**kw):
        with pytest.raises(ClientError) as e:
            lam.create_event_source_mapping(FunctionName="checked", **kw)
        return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]

    missing = f"arn:aws:sqs:us-east-1:{account}:no-such-queue"
    assert refused(EventSourceArn=missing) == (
        "InvalidParameterValueException",
        "Error occurred while ReceiveMessage. SQS Error Code: AWS.SimpleQueueService.NonExistentQueue. "
        "SQS Error Message: The specified queue does not exist.",
    )
    _, arn = queue(sqs, "checked-q")
    window = ("InvalidParameterValueException",
              "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10")
    assert refused(EventSourceArn=arn, BatchSize=20) == window
    for bad in ({"eventSource": "aws:sqs"}, {"eventSource": []}, "simple string"):
        pattern = bad if isinstance(bad, str) else json.dumps(bad)
        assert refused(EventSourceArn=arn, FilterCriteria={"Filters": [{"Pattern": pattern}]}) == (
            "InvalidParameterValueException", "Invalid filter pattern definition.")
    m = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="checked")
    with pytest.raises(ClientError) as e:
        lam.update_event_source_mapping(UUID=m["UUID"], BatchSize=20)
    assert (e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]) == window
    stream = ddb.create_table(
        TableName="dup", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"},
    )["TableDescription"]["LatestStreamArn"]
    first = lam.create_event_source_mapping(EventSourceArn=stream, FunctionName="checked", StartingPosition="LATEST")
    assert refused(EventSourceArn=stream, StartingPosition="LATEST") == (
        "ResourceConflictException",
        f'The event source arn (" {stream} ") and function (" checked ") provided mapping already exists. '
        f"Please update or delete the existing mapping with UUID {first['UUID']}",
    )
