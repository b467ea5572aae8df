"""SQS messages: send, receive, delete, visibility, batches, attributes and digests,
content rules, delays, retention, counts and long polling."""

import hashlib
import struct
import threading
import time

import pytest
from botocore.exceptions import ClientError


def advance(nephos, seconds):
    nephos.internal("/_nephos/clock", {"advance_seconds": seconds})


def code(exc):
    return exc.value.response["Error"]["Code"]


def md5_of_attributes(attrs):
    """The digest as the AWS SDKs (Java, .NET, Go) verify it."""
    h = hashlib.md5()
    for name in sorted(attrs):
        a = attrs[name]
        for part in (name.encode(), a["DataType"].encode()):
            h.update(struct.pack(">I", len(part)) + part)
        if "BinaryValue" in a:
            h.update(b"\x02" + struct.pack(">I", len(a["BinaryValue"])) + a["BinaryValue"])
        else:
            v = a["StringValue"].encode()
            h.update(b"\x01" + struct.pack(">I", len(v)) + v)
    return h.hexdigest()


@pytest.fixture
def sqs(nephos, account):
    return nephos.client("sqs", account=account)


@pytest.fixture
def url(sqs):
    return sqs.create_queue(QueueName="msgs")["QueueUrl"]


def counts(sqs, url):
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return (int(a["ApproximateNumberOfMessages"]), int(a["ApproximateNumberOfMessagesNotVisible"]),
            int(a["ApproximateNumberOfMessagesDelayed"]))


def test_attributes_of_every_type_and_their_digests(sqs, url):
    attrs = {
        "s": {"DataType": "String", "StringValue": "héllo"},
        "n": {"DataType": "Number", "StringValue": "-12.5e3"},
        "b": {"DataType": "Binary", "BinaryValue": b"\x00\xff\x10"},
        "c": {"DataType": "String.custom", "StringValue": "x"},
        "nb": {"DataType": "Number.int", "StringValue": "7"},
        "bc": {"DataType": "Binary.gif", "BinaryValue": b"GIF"},
    }
    sent = sqs.send_message(QueueUrl=url, MessageBody="body", MessageAttributes=attrs,
                            MessageSystemAttributes={"AWSTraceHeader": {"DataType": "String", "StringValue": "Root=1-abc"}})
    assert sent["MD5OfMessageBody"] == hashlib.md5(b"body").hexdigest()
    assert sent["MD5OfMessageAttributes"] == md5_of_attributes(attrs)
    assert sent["MD5OfMessageSystemAttributes"] == md5_of_attributes(
        {"AWSTraceHeader": {"DataType": "String", "StringValue": "Root=1-abc"}})
    got = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"], MessageSystemAttributeNames=["All"])["Messages"][0]
    assert got["MessageId"] == sent["MessageId"]
    assert got["MD5OfBody"] == sent["MD5OfMessageBody"]
    assert got["MessageAttributes"] == attrs
    assert got["MD5OfMessageAttributes"] == md5_of_attributes(attrs)
    a = got["Attributes"]
    assert a["AWSTraceHeader"] == "Root=1-abc"
    assert a["ApproximateReceiveCount"] == "1"
    assert a["SenderId"] == sqs.meta.config.__dict__.get("_user_provided_options", {}).get("x", a["SenderId"])
    assert abs(int(a["SentTimestamp"]) - int(a["ApproximateFirstReceiveTimestamp"])) < 5000


def test_attribute_name_selection(sqs, url):
    attrs = {n: {"DataType": "String", "StringValue": n} for n in ["a.x", "a.y", "b", "ab"]}
    sqs.send_message(QueueUrl=url, MessageBody="m", MessageAttributes=attrs)

    def pick(names):
        m = sqs.receive_message(QueueUrl=url, MessageAttributeNames=names, VisibilityTimeout=0)["Messages"][0]
        if "MessageAttributes" in m:
            assert m["MD5OfMessageAttributes"] == md5_of_attributes(m["MessageAttributes"])
        return sorted(m.get("MessageAttributes", {}))

    assert pick(["All"]) == ["a.x", "a.y", "ab", "b"]
    assert pick([".*"]) == ["a.x", "a.y", "ab", "b"]
    # A `prefix.*` pattern takes every name that starts with the prefix; `*` takes all.
    assert pick(["a.*"]) == ["a.x", "a.y", "ab"]
    assert pick(["a.x.*"]) == ["a.x"]
    assert pick(["*"]) == ["a.x", "a.y", "ab", "b"]
    assert pick(["b"]) == ["b"]
    assert pick(["zzz"]) == []
    m = sqs.receive_message(QueueUrl=url, AttributeNames=["SentTimestamp"], VisibilityTimeout=0)["Messages"][0]
    assert list(m["Attributes"]) == ["SentTimestamp"]
    m = sqs.receive_message(QueueUrl=url, MessageSystemAttributeNames=["ApproximateReceiveCount", "SenderId"], VisibilityTimeout=0)["Messages"][0]
    assert sorted(m["Attributes"]) == ["ApproximateReceiveCount", "SenderId"]
    assert "Attributes" not in sqs.receive_message(QueueUrl=url, VisibilityTimeout=0)["Messages"][0]


def test_invalid_attributes(sqs, url):
    for attrs in [
        {"n": {"DataType": "Number", "StringValue": "abc"}},
        {"x": {"DataType": "Weird", "StringValue": "1"}},
        {"e": {"DataType": "String", "StringValue": ""}},
        {"AWS.reserved": {"DataType": "String", "StringValue": "1"}},
        {f"k{i}": {"DataType": "String", "StringValue": "v"} for i in range(11)},
    ]:
        with pytest.raises(ClientError) as e:
            sqs.send_message(QueueUrl=url, MessageBody="x", MessageAttributes=attrs)
        assert code(e) == "InvalidParameterValue", attrs


def test_size_limit_and_characters(sqs, url):
    sqs.send_message(QueueUrl=url, MessageBody="x" * 1048576)
    with pytest.raises(ClientError) as e:
        sqs.send_message(QueueUrl=url, MessageBody="x" * 1048577)
    assert code(e) == "InvalidParameterValue"
    assert e.value.response["Error"]["Message"] == (
        "One or more parameters are invalid. Reason: Message must be shorter than 1048576 bytes."
    )
    # Attributes count towards the limit.
    with pytest.raises(ClientError):
        sqs.send_message(QueueUrl=url, MessageBody="x" * 1048572, MessageAttributes={"k": {"DataType": "String", "StringValue": "vvvv"}})
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"MaximumMessageSize": "1024"})
    with pytest.raises(ClientError):
        sqs.send_message(QueueUrl=url, MessageBody="x" * 1025)
    with pytest.raises(ClientError) as e:
        sqs.send_message(QueueUrl=url, MessageBody="bad \x00 char")
    assert code(e) == "InvalidMessageContents"
    with pytest.raises(ClientError) as e:
        sqs.send_message(QueueUrl=url, MessageBody="\ufffe")
    assert code(e) == "InvalidMessageContents"
    sqs.send_message(QueueUrl=url, MessageBody="tab\tnl\ncr\r emoji 😀")
    with pytest.raises(ClientError):
        sqs.send_message(QueueUrl=url, MessageBody="")


def test_visibility_timeout_on_the_clock(nephos, sqs, url):
    sqs.send_message(QueueUrl=url, MessageBody="v")
    m = sqs.receive_message(QueueUrl=url)["Messages"][0]
    assert counts(sqs, url) == (0, 1, 0)
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    advance(nephos, 31)
    m2 = sqs.receive_message(QueueUrl=url, VisibilityTimeout=100, AttributeNames=["All"])["Messages"][0]
    assert m2["MessageId"] == m["MessageId"] and m2["ReceiptHandle"] != m["ReceiptHandle"]
    assert m2["Attributes"]["ApproximateReceiveCount"] == "2"
    advance(nephos, 60)
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    # Extend, then make visible at once.
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m2["ReceiptHandle"], VisibilityTimeout=43200)
    advance(nephos, 3600)
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m2["ReceiptHandle"], VisibilityTimeout=0)
    m3 = sqs.receive_message(QueueUrl=url)["Messages"][0]
    with pytest.raises(ClientError) as e:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m3["ReceiptHandle"], VisibilityTimeout=43201)
    assert code(e) == "InvalidParameterValue"
    # On a standard queue an older handle still deletes the message (AWS, as recorded in
    # LocalStack's test_exists_filter_policy).
    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    assert counts(sqs, url) == (0, 0, 0)
    # Deleting again is fine; changing visibility of a deleted message is not.
    sqs.delete_message(QueueUrl=url, ReceiptHandle=m3["ReceiptHandle"])
    with pytest.raises(ClientError):
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m3["ReceiptHandle"], VisibilityTimeout=5)


def test_not_in_flight_and_invalid_handles(sqs, url):
    sqs.send_message(QueueUrl=url, MessageBody="x")
    m = sqs.receive_message(QueueUrl=url, VisibilityTimeout=0)["Messages"][0]
    # AWS accepts a visibility change for a message whose timeout has run out (and
    # leaves it visible).
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=10)
    assert counts(sqs, url) == (1, 0, 0)
    with pytest.raises(sqs.exceptions.ReceiptHandleIsInvalid) as e:
        sqs.delete_message(QueueUrl=url, ReceiptHandle="garbage")
    assert code(e) == "ReceiptHandleIsInvalid"
    other = sqs.create_queue(QueueName="other")["QueueUrl"]
    with pytest.raises(sqs.exceptions.ReceiptHandleIsInvalid):
        sqs.delete_message(QueueUrl=other, ReceiptHandle=m["ReceiptHandle"])


def test_receive_parameters(sqs, url):
    for i in range(15):
        sqs.send_message(QueueUrl=url, MessageBody=str(i))
    assert len(sqs.receive_message(QueueUrl=url)["Messages"]) == 1
    assert len(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]) == 10
    for bad in [0, 11]:
        with pytest.raises(ClientError) as e:
            sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=bad)
        assert code(e) == "InvalidParameterValue"
    with pytest.raises(ClientError):
        sqs.receive_message(QueueUrl=url, WaitTimeSeconds=21)
    with pytest.raises(ClientError):
        sqs.receive_message(QueueUrl=url, VisibilityTimeout=43201)


def test_delays_queue_and_message(nephos, sqs, url):
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"DelaySeconds": "60"})
    sqs.send_message(QueueUrl=url, MessageBody="queue-delay")
    sqs.send_message(QueueUrl=url, MessageBody="message-delay", DelaySeconds=900)
    sqs.send_message(QueueUrl=url, MessageBody="no-delay", DelaySeconds=0)
    assert counts(sqs, url) == (1, 0, 2)
    m = sqs.receive_message(QueueUrl=url)["Messages"][0]
    assert m["Body"] == "no-delay"
    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    advance(nephos, 61)
    m = sqs.receive_message(QueueUrl=url)["Messages"][0]
    assert m["Body"] == "queue-delay"
    assert counts(sqs, url) == (0, 1, 1)
    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    advance(nephos, 900)
    assert sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"] == "message-delay"
    with pytest.raises(ClientError) as e:
        sqs.send_message(QueueUrl=url, MessageBody="x", DelaySeconds=901)
    assert code(e) == "InvalidParameterValue"


def test_retention_expires_messages(nephos, sqs, url):
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"MessageRetentionPeriod": "60"})
    sqs.send_message(QueueUrl=url, MessageBody="old")
    advance(nephos, 30)
    sqs.send_message(QueueUrl=url, MessageBody="new")
    advance(nephos, 31)
    assert counts(sqs, url) == (1, 0, 0)
    assert sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"] == "new"


def test_send_batch_with_per_entry_failures(sqs, url):
    r = sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": "ok1", "MessageBody": "a", "MessageAttributes": {"k": {"DataType": "String", "StringValue": "v"}}},
        {"Id": "bad", "MessageBody": "bad \x01"},
        {"Id": "ok2", "MessageBody": "b", "DelaySeconds": 5},
        {"Id": "toolong", "MessageBody": "x", "DelaySeconds": 901},
    ])
    assert sorted(e["Id"] for e in r["Successful"]) == ["ok1", "ok2"]
    ok1 = next(e for e in r["Successful"] if e["Id"] == "ok1")
    assert ok1["MD5OfMessageBody"] == hashlib.md5(b"a").hexdigest()
    assert ok1["MD5OfMessageAttributes"] == md5_of_attributes({"k": {"DataType": "String", "StringValue": "v"}})
    failed = {e["Id"]: e for e in r["Failed"]}
    assert failed["bad"]["Code"] == "InvalidMessageContents" and failed["bad"]["SenderFault"] is True
    assert failed["toolong"]["Code"] == "InvalidParameterValue"


def test_batch_request_errors(sqs, url):
    with pytest.raises(sqs.exceptions.EmptyBatchRequest) as e:
        sqs.send_message_batch(QueueUrl=url, Entries=[])
    assert code(e) == "AWS.SimpleQueueService.EmptyBatchRequest"
    with pytest.raises(sqs.exceptions.TooManyEntriesInBatchRequest) as e:
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": "x"} for i in range(11)])
    assert code(e) == "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"
    with pytest.raises(sqs.exceptions.BatchEntryIdsNotDistinct) as e:
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "a", "MessageBody": "x"}, {"Id": "a", "MessageBody": "y"}])
    assert code(e) == "AWS.SimpleQueueService.BatchEntryIdsNotDistinct"
    with pytest.raises(sqs.exceptions.InvalidBatchEntryId):
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "bad id!", "MessageBody": "x"}])
    with pytest.raises(sqs.exceptions.BatchRequestTooLong) as e:
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": "x" * 110000} for i in range(10)])
    assert code(e) == "AWS.SimpleQueueService.BatchRequestTooLong"
    assert e.value.response["Error"]["Message"] == (
        "Batch requests cannot be longer than 1048576 bytes. You have sent 1100000 bytes."
    )
    with pytest.raises(sqs.exceptions.TooManyEntriesInBatchRequest):
        sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": "x"} for i in range(11)])
    with pytest.raises(sqs.exceptions.EmptyBatchRequest):
        sqs.change_message_visibility_batch(QueueUrl=url, Entries=[])


def test_delete_and_visibility_batches(sqs, url):
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": str(i)} for i in range(4)])
    msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert len(msgs) == 4
    r = sqs.change_message_visibility_batch(QueueUrl=url, Entries=[
        {"Id": "a", "ReceiptHandle": msgs[0]["ReceiptHandle"], "VisibilityTimeout": 0},
        {"Id": "b", "ReceiptHandle": "nonsense", "VisibilityTimeout": 0},
    ])
    assert [e["Id"] for e in r["Successful"]] == ["a"]
    assert r["Failed"][0]["Id"] == "b" and r["Failed"][0]["Code"] == "ReceiptHandleIsInvalid"
    r = sqs.delete_message_batch(QueueUrl=url, Entries=[
        {"Id": f"d{i}", "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs[1:])
    ] + [{"Id": "bad", "ReceiptHandle": "nonsense"}])
    assert len(r["Successful"]) == 3 and r["Failed"][0]["Id"] == "bad"
    assert counts(sqs, url) == (1, 0, 0)


def test_resource_api(nephos, account):
    res = nephos.client("sqs", account=account)  # same credentials for the resource
    import boto3
    sqs = boto3.resource("sqs", endpoint_url=nephos.endpoint, region_name="us-east-1",
                         aws_access_key_id=account, aws_secret_access_key="test")
    q = sqs.create_queue(QueueName="res", Attributes={"VisibilityTimeout": "5"})
    assert q.attributes["VisibilityTimeout"] == "5"
    q.send_message(MessageBody="one", MessageAttributes={"k": {"DataType": "String", "StringValue": "v"}})
    q.send_messages(Entries=[{"Id": "1", "MessageBody": "two"}])
    got = q.receive_messages(MaxNumberOfMessages=10, MessageAttributeNames=["All"])
    assert sorted(m.body for m in got) == ["one", "two"]
    for m in got:
        m.delete()
    assert sqs.get_queue_by_name(QueueName="res").url == q.url
    assert [x.url for x in sqs.queues.all()] == [q.url]
    q.delete()
    assert "QueueUrls" not in res.list_queues()


def test_long_poll_returns_when_a_message_arrives(nephos, sqs, url):
    result = {}

    def poll():
        t = time.monotonic()
        result["r"] = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=20)
        result["t"] = time.monotonic() - t

    th = threading.Thread(target=poll)
    th.start()
    time.sleep(0.5)
    sqs.send_message(QueueUrl=url, MessageBody="wake")
    th.join(10)
    assert result["r"]["Messages"][0]["Body"] == "wake"
    assert 0.4 < result["t"] < 3


def test_long_poll_empty_waits_then_returns(sqs, url):
    t = time.monotonic()
    assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)
    assert 0.9 < time.monotonic() - t < 3
    # The queue's default wait applies when the request names none.
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"ReceiveMessageWaitTimeSeconds": "1"})
    t = time.monotonic()
    sqs.receive_message(QueueUrl=url)
    assert 0.9 < time.monotonic() - t < 3


def test_long_poll_wakes_when_the_clock_passes_visibility_or_delay(nephos, sqs, url):
    sqs.send_message(QueueUrl=url, MessageBody="delayed", DelaySeconds=600)
    result = {}
    th = threading.Thread(target=lambda: result.update(r=sqs.receive_message(QueueUrl=url, WaitTimeSeconds=20)))
    th.start()
    time.sleep(0.5)
    advance(nephos, 601)
    th.join(5)
    assert result["r"]["Messages"][0]["Body"] == "delayed"
    th = threading.Thread(target=lambda: result.update(r=sqs.receive_message(QueueUrl=url, WaitTimeSeconds=20)))
    th.start()
    time.sleep(0.5)
    advance(nephos, 31)
    th.join(5)
    assert result["r"]["Messages"][0]["Body"] == "delayed"


def test_idle_long_pollers_cost_no_cpu(nephos, account):
    import os
    sqs = nephos.client("sqs", account=account, config_args={"max_pool_connections": 100, "read_timeout": 30})
    url = sqs.create_queue(QueueName="idle")["QueueUrl"]
    pid = nephos.proc.pid

    def cpu():
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    threads = [threading.Thread(target=lambda: sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5)) for _ in range(100)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    before = cpu()
    time.sleep(2)
    used = cpu() - before
    for t in threads:
        t.join()
    assert used < 0.1, f"100 idle pollers used {used:.2f} s of CPU in 2 s"
