"""SQS behaviour as AWS recorded it (LocalStack's AWS-validated snapshots): error codes of
the JSON protocol, size limits, FIFO group order across receives, receipt handle rules,
queue type attributes, message attribute rules."""

import json
import time

import pytest
import requests
from botocore.exceptions import ClientError

from sqsutil import advance, fifo


@pytest.fixture
def sqs(nephos, account):
    return nephos.client("sqs", account=account)


def err(exc):
    return exc.value.response["Error"]


def bodies(resp):
    return [m["Body"] for m in resp.get("Messages", [])]


def json_call(nephos, account, action, body):
    return requests.post(
        nephos.endpoint,
        data=json.dumps(body),
        headers={
            "X-Amz-Target": f"AmazonSQS.{action}",
            "Content-Type": "application/x-amz-json-1.0",
            "Authorization": f"AWS4-HMAC-SHA256 Credential={account}/20240101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0",
        },
        timeout=10,
    )


def test_json_errors_name_the_exception_and_carry_the_query_code(nephos, account, sqs):
    url = sqs.create_queue(QueueName="codes")["QueueUrl"]
    r = json_call(nephos, account, "ReceiveMessage", {"QueueUrl": url, "MaxNumberOfMessages": 20})
    assert r.status_code == 400
    assert r.json()["__type"] == "InvalidParameterValueException"
    assert r.headers["x-amzn-query-error"] == "InvalidParameterValue;Sender"
    with pytest.raises(ClientError) as e:
        sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=20)
    assert err(e)["Code"] == "InvalidParameterValue"
    assert err(e)["QueryErrorCode"] == "InvalidParameterValueException"

    f = fifo(sqs, "codes.fifo")
    r = json_call(nephos, account, "SendMessage", {"QueueUrl": f, "MessageBody": "x", "MessageDeduplicationId": "d"})
    assert r.json()["__type"] == "MissingRequiredParameterException"
    assert r.json()["message"] == "The request must contain the parameter MessageGroupId."
    assert r.headers["x-amzn-query-error"] == "MissingParameter;Sender"


def test_batch_limits(sqs):
    url = sqs.create_queue(QueueName="batch", Attributes={"MaximumMessageSize": "1024"})["QueueUrl"]
    # Each entry is held to the queue's maximum, the batch only to 1 MiB.
    r = sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": "ok", "MessageBody": "a" * 1024},
        {"Id": "big", "MessageBody": "a" * 1025},
    ])
    assert [e["Id"] for e in r["Successful"]] == ["ok"]
    assert r["Failed"] == [{
        "Id": "big", "SenderFault": True, "Code": "InvalidParameterValue",
        "Message": "One or more parameters cannot be validated. Reason: Message must be shorter than 1024 bytes.",
    }]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"MaximumMessageSize": "2048"})
    r = sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": "1", "MessageBody": "a" * 2048},
        {"Id": "2", "MessageBody": "a"},
    ])
    assert len(r["Successful"]) == 2 and not r.get("Failed")


def test_fifo_batch_without_group_or_dedup_id_fails_whole(sqs):
    url = fifo(sqs, "b.fifo")
    ok = {"Id": "a", "MessageBody": "x", "MessageGroupId": "g", "MessageDeduplicationId": "d"}
    with pytest.raises(ClientError) as e:
        sqs.send_message_batch(QueueUrl=url, Entries=[ok, {"Id": "b", "MessageBody": "y", "MessageDeduplicationId": "e"}])
    assert err(e)["Code"] == "InvalidParameterValue"
    assert err(e)["Message"] == "The request must contain the parameter MessageGroupId."
    with pytest.raises(ClientError) as e:
        sqs.send_message_batch(QueueUrl=url, Entries=[ok, {"Id": "b", "MessageBody": "y", "MessageGroupId": "g"}])
    assert err(e)["Message"].startswith("The queue should either have ContentBasedDeduplication enabled")
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    # A single send without a group is a missing parameter.
    with pytest.raises(ClientError) as e:
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageDeduplicationId="z")
    assert err(e)["Code"] == "MissingParameter"


def test_fifo_zero_delay_means_the_queues_delay(nephos, sqs):
    url = fifo(sqs, "d.fifo", ContentBasedDeduplication="true", DelaySeconds="2")
    sqs.send_message(QueueUrl=url, MessageBody="m", MessageGroupId="1", DelaySeconds=0)
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    advance(nephos, 3)
    assert bodies(sqs.receive_message(QueueUrl=url)) == ["m"]
    with pytest.raises(ClientError):
        sqs.send_message(QueueUrl=url, MessageBody="n", MessageGroupId="1", DelaySeconds=2)


def send_all(sqs, url, pairs):
    for body, group in pairs:
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId=group)


def test_fifo_groups_are_served_in_the_order_they_became_available(sqs):
    url = fifo(sqs, "o.fifo", ContentBasedDeduplication="true")
    send_all(sqs, url, [("g1-m1", "1"), ("g2-m1", "2"), ("g2-m2", "2"), ("g3-m1", "3"), ("g1-m2", "1")])
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=3, VisibilityTimeout=0)
    assert bodies(first) == ["g1-m1", "g1-m2", "g2-m1"]
    # Groups 1 and 2 came back after group 3, which waited all along.
    again = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)
    assert bodies(again) == ["g3-m1", "g1-m1", "g1-m2", "g2-m1", "g2-m2"]


def test_fifo_group_serves_its_visible_head_only(nephos, sqs):
    url = fifo(sqs, "h.fifo", ContentBasedDeduplication="true", VisibilityTimeout="30")
    send_all(sqs, url, [("g1-m1", "1"), ("g1-m2", "1"), ("g2-m1", "2")])
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2)["Messages"]
    assert [m["Body"] for m in got] == ["g1-m1", "g1-m2"]
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"], VisibilityTimeout=0)
    # g1-m1 is visible again (g1-m2 still in flight): the group is served from its head.
    assert bodies(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=3)) == ["g2-m1", "g1-m1"]


@pytest.mark.parametrize("position,visible", [(0, []), (1, ["foo"]), (2, ["foo", "bar"])])
def test_fifo_message_in_flight_holds_back_the_rest_of_its_group(nephos, sqs, position, visible):
    url = fifo(sqs, f"x{position}.fifo", ContentBasedDeduplication="true", VisibilityTimeout="1")
    send_all(sqs, url, [("foo", "1"), ("bar", "1"), ("baz", "1")])
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=5)["Messages"]
    assert len(got) == 3
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=got[position]["ReceiptHandle"], VisibilityTimeout=4)
    advance(nephos, 2)
    assert bodies(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=5)) == visible


def test_fifo_receipt_handle_expires_with_the_visibility_timeout(nephos, sqs):
    url = fifo(sqs, "e.fifo", ContentBasedDeduplication="true", VisibilityTimeout="1")
    sqs.send_message(QueueUrl=url, MessageBody="m", MessageGroupId="1")
    handle = sqs.receive_message(QueueUrl=url)["Messages"][0]["ReceiptHandle"]
    advance(nephos, 2)
    with pytest.raises(ClientError) as e:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=handle)
    assert err(e)["Code"] == "InvalidParameterValue"
    assert err(e)["Message"] == f"Value {handle} for parameter ReceiptHandle is invalid. Reason: The receipt handle has expired."


def test_standard_queue_older_handle_still_changes_visibility(sqs):
    url = sqs.create_queue(QueueName="stale")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="m")
    old = sqs.receive_message(QueueUrl=url, VisibilityTimeout=0)["Messages"][0]["ReceiptHandle"]
    assert bodies(sqs.receive_message(QueueUrl=url, VisibilityTimeout=30)) == ["m"]
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=old, VisibilityTimeout=0)
    assert bodies(sqs.receive_message(QueueUrl=url)) == ["m"]


def test_standard_queue_older_handle_still_deletes(sqs):
    # AWS (LocalStack's recorded test_exists_filter_policy): a message received twice is
    # deleted with the handle of its first receive.
    url = sqs.create_queue(QueueName="stale-delete")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="m")
    first = sqs.receive_message(QueueUrl=url, VisibilityTimeout=0)["Messages"][0]["ReceiptHandle"]
    second = sqs.receive_message(QueueUrl=url, VisibilityTimeout=0)["Messages"][0]["ReceiptHandle"]
    assert first != second
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first)
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["ApproximateNumberOfMessages"] == attrs["ApproximateNumberOfMessagesNotVisible"] == "0"


def test_queue_type_attributes(sqs):
    cases = [
        ({"FifoQueue": "false"}, "Unknown Attribute FifoQueue."),
        ({"ContentBasedDeduplication": "false"}, "Unknown Attribute ContentBasedDeduplication."),
        ({"DeduplicationScope": "queue"}, "You can specify the DeduplicationScope only when FifoQueue is set to true."),
        ({"FifoThroughputLimit": "perQueue"}, "You can specify the FifoThroughputLimit only when FifoQueue is set to true."),
    ]
    for attrs, message in cases:
        with pytest.raises(ClientError) as e:
            sqs.create_queue(QueueName="std", Attributes=attrs)
        assert (err(e)["Code"], err(e)["Message"]) == ("InvalidAttributeName", message)
    url = sqs.create_queue(QueueName="std")["QueueUrl"]
    with pytest.raises(ClientError) as e:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"FifoQueue": "true"})
    assert err(e)["Message"] == "Unknown Attribute FifoQueue."
    f = fifo(sqs, "t.fifo")
    sqs.set_queue_attributes(QueueUrl=f, Attributes={"FifoQueue": "true"})
    with pytest.raises(ClientError) as e:
        sqs.set_queue_attributes(QueueUrl=f, Attributes={"FifoQueue": "false"})
    assert err(e)["Code"] == "InvalidAttributeValue"
    assert err(e)["Message"] == "Invalid value for the parameter FifoQueue. Reason: Modifying queue type is not supported."


def test_message_attribute_rules(sqs):
    url = sqs.create_queue(QueueName="attrs")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="m", MessageAttributes={"attr.1øßä": {"DataType": "String", "StringValue": "v"}})
    with pytest.raises(ClientError) as e:
        sqs.send_message(QueueUrl=url, MessageBody="m", MessageAttributes={"a§": {"DataType": "String", "StringValue": "v"}})
    assert err(e)["Code"] == "InvalidParameterValue"
    with pytest.raises(ClientError) as e:
        sqs.send_message(QueueUrl=url, MessageBody="m", MessageAttributes={"E": {"DataType": "String", "StringValue": ""}})
    assert err(e)["Message"] == "Message (user) attribute 'E' must contain a non-empty value of type 'String'."
    with pytest.raises(ClientError) as e:
        sqs.send_message(QueueUrl=url, MessageBody="m", MessageAttributes={"c": {"DataType": "String", "StringValue": "bad\x08"}})
    assert err(e)["Code"] == "InvalidParameterValue"


def test_dead_lettered_message_keeps_its_receive_count(sqs):
    dlq = sqs.create_queue(QueueName="dlq")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    src = sqs.create_queue(QueueName="src", Attributes={
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 1})})["QueueUrl"]
    sqs.send_message(QueueUrl=src, MessageBody="m")
    for _ in range(2):
        sqs.receive_message(QueueUrl=src, VisibilityTimeout=0)
    m = sqs.receive_message(QueueUrl=dlq, AttributeNames=["All"])["Messages"][0]
    assert m["Attributes"]["ApproximateReceiveCount"] == "2"
    # An empty list is left out of a batch answer.
    r = sqs.delete_message_batch(QueueUrl=dlq, Entries=[{"Id": "a", "ReceiptHandle": m["ReceiptHandle"]}])
    assert "Failed" not in r


def test_purge_forgets_deduplication_ids(sqs):
    url = fifo(sqs, "p.fifo")
    sqs.send_message(QueueUrl=url, MessageBody="one", MessageGroupId="g", MessageDeduplicationId="d")
    sqs.purge_queue(QueueUrl=url)
    sqs.send_message(QueueUrl=url, MessageBody="two", MessageGroupId="g", MessageDeduplicationId="d")
    assert bodies(sqs.receive_message(QueueUrl=url)) == ["two"]


def test_deduplication_scope_change_takes_effect_after_propagating(nephos, sqs):
    url = fifo(sqs, "s.fifo", DeduplicationScope="queue")
    sqs.send_message(QueueUrl=url, MessageBody="a", MessageGroupId="g1", MessageDeduplicationId="d")
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"DeduplicationScope": "messageGroup", "FifoThroughputLimit": "perMessageGroupId"})
    # Still scoped to the queue: a duplicate.
    sqs.send_message(QueueUrl=url, MessageBody="b", MessageGroupId="g2", MessageDeduplicationId="d")
    advance(nephos, 61)
    sqs.send_message(QueueUrl=url, MessageBody="c", MessageGroupId="g3", MessageDeduplicationId="d")
    assert bodies(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)) == ["a", "c"]


def test_kms_attributes_after_the_key_is_removed(sqs):
    url = sqs.create_queue(QueueName="kms")["QueueUrl"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"KmsMasterKeyId": "k", "KmsDataKeyReusePeriodSeconds": "6000"})
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert (a["KmsDataKeyReusePeriodSeconds"], a["SqsManagedSseEnabled"]) == ("6000", "false")
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"KmsMasterKeyId": "", "KmsDataKeyReusePeriodSeconds": "300"})
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert "KmsMasterKeyId" not in a and "KmsDataKeyReusePeriodSeconds" not in a
    assert a["SqsManagedSseEnabled"] == "false"


def test_move_task_completes_and_cancel_checks_the_handle(sqs):
    dlq = sqs.create_queue(QueueName="mdlq")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sqs.create_queue(QueueName="msrc", Attributes={
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 1})})
    dest = sqs.create_queue(QueueName="mdest")["QueueUrl"]
    dest_arn = sqs.get_queue_attributes(QueueUrl=dest, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sqs.send_message(QueueUrl=dlq, MessageBody="m")
    sqs.start_message_move_task(SourceArn=arn, DestinationArn=dest_arn)
    for _ in range(50):
        r = sqs.list_message_move_tasks(SourceArn=arn)["Results"][0]
        if r["ApproximateNumberOfMessagesMoved"] == 1:
            break
        time.sleep(0.1)
    # Done as soon as the queue is drained, not a second later.
    assert r["Status"] == "COMPLETED"
    with pytest.raises(ClientError) as e:
        sqs.cancel_message_move_task(TaskHandle="foobared")
    assert (err(e)["Code"], err(e)["Message"]) == ("InvalidParameterValue", "Value for parameter TaskHandle is invalid.")
    import base64
    handle = base64.b64encode(json.dumps({"taskId": "x", "sourceArn": arn + "-gone"}).encode()).decode()
    with pytest.raises(ClientError) as e:
        sqs.cancel_message_move_task(TaskHandle=handle)
    assert err(e)["Code"] == "ResourceNotFoundException"
    assert err(e)["Message"] == "The resource that you specified for the SourceArn parameter doesn't exist."


def query(nephos, account, path="/", **params):
    return requests.get(
        f"{nephos.endpoint}{path}",
        params=params,
        headers={"Authorization": f"AWS4-HMAC-SHA256 Credential={account}/20240101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0"},
        timeout=10,
    )


def test_query_api_at_a_queue_url(nephos, account, sqs):
    sqs.create_queue(QueueName="qa")
    path = f"/{account}/qa"
    r = query(nephos, account, path, Action="ReceiveMessage")
    assert r.status_code == 200 and "<ReceiveMessageResult/>" in r.text
    for action in ["CreateQueue", "ListQueues"]:
        r = query(nephos, account, path, Action=action, QueueName="other")
        assert r.status_code == 400
        assert "<Code>InvalidAction</Code>" in r.text
        assert f"<Message>The action {action} is not valid for this endpoint.</Message>" in r.text
    r = query(nephos, account, path, Action="FooBar")
    assert "<Message>The action FooBar is not valid for this endpoint.</Message>" in r.text
    r = query(nephos, account, path, Action="SendMessage")
    assert "<Code>MissingParameter</Code>" in r.text
    assert "<Message>The request must contain the parameter MessageBody.</Message>" in r.text
    r = query(nephos, account, f"/{account}/missing", Action="GetQueueAttributes")
    assert r.status_code == 400
    assert "<Message>The specified queue does not exist for this wsdl version.</Message>" in r.text
    # The JSON protocol keeps the short wording.
    with pytest.raises(ClientError) as e:
        sqs.get_queue_attributes(QueueUrl=f"{nephos.endpoint}/{account}/missing")
    assert err(e)["Message"] == "The specified queue does not exist."


def test_query_dead_letter_sources_are_queue_url_elements(nephos, account, sqs):
    dlq = sqs.create_queue(QueueName="qdlq")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    src = sqs.create_queue(QueueName="qsrc", Attributes={
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 1})})["QueueUrl"]
    r = query(nephos, account, Action="ListDeadLetterSourceQueues", QueueUrl=dlq)
    assert f"<QueueUrl>{src}</QueueUrl>" in r.text


TRACE = "Root=1-3152b799-8954dae64eda91bc9a23a7e8;Parent=7fa8c0f79203be72;Sampled=1"


def with_trace_header(client, event, trace=TRACE):
    def add(request, **_):
        request.headers["X-Amzn-Trace-Id"] = trace

    client.meta.events.register(event, add)


def test_trace_header_becomes_aws_trace_header(nephos, account, sqs):
    # AWS (LocalStack's recorded test_aws_trace_header_propagation): the caller's
    # X-Amzn-Trace-Id is the message's AWSTraceHeader; the send digest covers only the
    # system attributes the caller named.
    url = sqs.create_queue(QueueName="traced")["QueueUrl"]
    traced = nephos.client("sqs", account=account)
    with_trace_header(traced, "before-send.sqs.SendMessage")
    with_trace_header(traced, "before-send.sqs.SendMessageBatch")
    sent = traced.send_message(QueueUrl=url, MessageBody="test")
    assert "MD5OfMessageSystemAttributes" not in sent
    traced.send_message_batch(QueueUrl=url, Entries=[{"Id": "1", "MessageBody": "batch"}])
    explicit = {"AWSTraceHeader": {"DataType": "String", "StringValue": "Root=1-explicit"}}
    traced.send_message(QueueUrl=url, MessageBody="explicit", MessageSystemAttributes=explicit)
    sqs.send_message(QueueUrl=url, MessageBody="untraced")
    # The query protocol reads the same header.
    r = requests.post(
        nephos.endpoint,
        data={"Action": "SendMessage", "QueueUrl": url, "MessageBody": "query"},
        headers={
            "X-Amzn-Trace-Id": TRACE,
            "Authorization": f"AWS4-HMAC-SHA256 Credential={account}/20240101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0",
        },
        timeout=10,
    )
    assert r.status_code == 200, r.text
    got = {}
    for _ in range(5):
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60,
                                     AttributeNames=["SentTimestamp", "AWSTraceHeader"]).get("Messages", []):
            got[m["Body"]] = m
    assert set(got) == {"test", "batch", "explicit", "untraced", "query"}
    for body in ("test", "batch", "query"):
        assert got[body]["Attributes"]["AWSTraceHeader"] == TRACE
        assert "MD5OfMessageSystemAttributes" not in got[body]
    assert got["explicit"]["Attributes"]["AWSTraceHeader"] == "Root=1-explicit"
    assert set(got["untraced"]["Attributes"]) == {"SentTimestamp"}
