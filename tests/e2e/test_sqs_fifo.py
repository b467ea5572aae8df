"""SQS FIFO queues: order per group, one batch in flight per group, deduplication,
sequence numbers, receive request attempt ids."""

import hashlib

import pytest
from botocore.exceptions import ClientError

from sqsutil import advance, fifo


@pytest.fixture
def sqs(nephos, account):
    return nephos.client("sqs", account=account)


def test_order_and_group_locking(sqs):
    url = fifo(sqs, ContentBasedDeduplication="true")
    for i in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=f"a{i}", MessageGroupId="a")
    sqs.send_message(QueueUrl=url, MessageBody="b0", MessageGroupId="b")
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2)["Messages"]
    assert [m["Body"] for m in first] == ["a0", "a1"]
    # Group a is in flight: only group b is deliverable.
    nxt = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in nxt] == ["b0"]
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first[0]["ReceiptHandle"])
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first[1]["ReceiptHandle"])
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=url)["Messages"]] == ["a2"]


def test_in_flight_messages_come_back_in_order(nephos, sqs):
    url = fifo(sqs, ContentBasedDeduplication="true")
    for i in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}", MessageGroupId="g")
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]] == ["m0", "m1", "m2"]
    advance(nephos, 31)
    again = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"])["Messages"]
    assert [m["Body"] for m in again] == ["m0", "m1", "m2"]
    assert again[0]["Attributes"]["ApproximateReceiveCount"] == "2"


def test_deduplication_by_id_and_content_within_5_minutes(nephos, sqs):
    url = fifo(sqs)
    r1 = sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g", MessageDeduplicationId="d1")
    r2 = sqs.send_message(QueueUrl=url, MessageBody="other", MessageGroupId="g", MessageDeduplicationId="d1")
    assert r1["MessageId"] == r2["MessageId"] and r1["SequenceNumber"] == r2["SequenceNumber"]
    with pytest.raises(ClientError) as e:
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g")
    assert e.value.response["Error"]["Code"] == "InvalidParameterValue"
    with pytest.raises(ClientError) as e:
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageDeduplicationId="d")
    assert e.value.response["Error"]["Code"] == "MissingParameter"
    advance(nephos, 301)
    r3 = sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g", MessageDeduplicationId="d1")
    assert r3["MessageId"] != r1["MessageId"]
    assert int(r3["SequenceNumber"]) > int(r1["SequenceNumber"])
    assert len(r3["SequenceNumber"]) == 20

    cbd = fifo(sqs, "cbd.fifo", ContentBasedDeduplication="true")
    a = sqs.send_message(QueueUrl=cbd, MessageBody="same", MessageGroupId="g1")
    b = sqs.send_message(QueueUrl=cbd, MessageBody="same", MessageGroupId="g2")
    assert a["MessageId"] == b["MessageId"]
    m = sqs.receive_message(QueueUrl=cbd, AttributeNames=["All"])["Messages"][0]
    assert m["Attributes"]["MessageDeduplicationId"] == hashlib.sha256(b"same").hexdigest()
    assert m["Attributes"]["MessageGroupId"] == "g1"
    assert m["Attributes"]["SequenceNumber"] == a["SequenceNumber"]


def test_deduplication_scope_message_group(sqs):
    url = fifo(sqs, DeduplicationScope="messageGroup", FifoThroughputLimit="perMessageGroupId")
    a = sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g1", MessageDeduplicationId="d")
    b = sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g2", MessageDeduplicationId="d")
    c = sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g1", MessageDeduplicationId="d")
    assert a["MessageId"] != b["MessageId"] and a["MessageId"] == c["MessageId"]


def test_per_message_delay_not_allowed_and_queue_type_checks(sqs, nephos):
    url = fifo(sqs, ContentBasedDeduplication="true")
    with pytest.raises(ClientError) as e:
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g", DelaySeconds=5)
    assert e.value.response["Error"]["Code"] == "InvalidParameterValue"
    std = sqs.create_queue(QueueName="std")["QueueUrl"]
    with pytest.raises(ClientError):
        sqs.send_message(QueueUrl=std, MessageBody="x", MessageDeduplicationId="d")
    # A queue-level delay applies to FIFO queues.
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"DelaySeconds": "10"})
    sqs.send_message(QueueUrl=url, MessageBody="late", MessageGroupId="g")
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    advance(nephos, 11)
    assert sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"] == "late"


def test_batch_sequence_numbers(sqs):
    url = fifo(sqs, ContentBasedDeduplication="true")
    r = sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": str(i), "MessageBody": f"b{i}", "MessageGroupId": "g"} for i in range(5)])
    seqs = [int(e["SequenceNumber"]) for e in sorted(r["Successful"], key=lambda e: e["Id"])]
    assert seqs == sorted(seqs) and len(set(seqs)) == 5
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in got] == [f"b{i}" for i in range(5)]


def test_receive_request_attempt_id_returns_the_same_messages(sqs):
    url = fifo(sqs, ContentBasedDeduplication="true")
    for i in range(2):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}", MessageGroupId=f"g{i}")
    a = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, ReceiveRequestAttemptId="att")["Messages"]
    b = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, ReceiveRequestAttemptId="att")["Messages"]
    assert [m["ReceiptHandle"] for m in a] == [m["ReceiptHandle"] for m in b]
    assert "Messages" not in sqs.receive_message(QueueUrl=url, ReceiveRequestAttemptId="other")
