"""SQS dead-letter queues: redrive on the receive that exceeds maxReceiveCount,
RedriveAllowPolicy, ListDeadLetterSourceQueues, message move tasks."""

import json
import time

import pytest
from botocore.exceptions import ClientError


@pytest.fixture
def sqs(nephos, account):
    return nephos.client("sqs", account=account)


def arn(sqs, url):
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def redrive(dlq_arn, count=2):
    return json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": count})


def test_message_moves_on_the_receive_that_exceeds_the_count(sqs):
    dlq = sqs.create_queue(QueueName="dlq")["QueueUrl"]
    src = sqs.create_queue(QueueName="src", Attributes={"RedrivePolicy": redrive(arn(sqs, dlq))})["QueueUrl"]
    policy = json.loads(sqs.get_queue_attributes(QueueUrl=src, AttributeNames=["RedrivePolicy"])["Attributes"]["RedrivePolicy"])
    assert policy == {"deadLetterTargetArn": arn(sqs, dlq), "maxReceiveCount": 2}
    sent = sqs.send_message(QueueUrl=src, MessageBody="poison", MessageAttributes={"k": {"DataType": "String", "StringValue": "v"}})
    for _ in range(2):
        assert sqs.receive_message(QueueUrl=src, VisibilityTimeout=0)["Messages"][0]["Body"] == "poison"
    assert "Messages" not in sqs.receive_message(QueueUrl=src)
    m = sqs.receive_message(QueueUrl=dlq, AttributeNames=["All"], MessageAttributeNames=["All"])["Messages"][0]
    assert m["MessageId"] == sent["MessageId"] and m["Body"] == "poison"
    assert m["MessageAttributes"]["k"]["StringValue"] == "v"
    assert m["Attributes"]["DeadLetterQueueSourceArn"] == arn(sqs, src)
    assert sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"] == [src]


def test_redrive_policy_validation(sqs, account):
    src = sqs.create_queue(QueueName="src2")["QueueUrl"]
    missing = f"arn:aws:sqs:us-east-1:{account}:nope"
    for bad in [redrive(missing), json.dumps({"maxReceiveCount": 3}), "not json",
                json.dumps({"deadLetterTargetArn": missing, "maxReceiveCount": 0})]:
        with pytest.raises(ClientError) as e:
            sqs.set_queue_attributes(QueueUrl=src, Attributes={"RedrivePolicy": bad})
        assert e.value.response["Error"]["Code"] == "InvalidParameterValue", bad
    fifo_dlq = sqs.create_queue(QueueName="d.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    with pytest.raises(ClientError):
        sqs.set_queue_attributes(QueueUrl=src, Attributes={"RedrivePolicy": redrive(arn(sqs, fifo_dlq))})


def test_redrive_allow_policy(sqs):
    dlq = sqs.create_queue(QueueName="guarded", Attributes={"RedriveAllowPolicy": json.dumps({"redrivePermission": "denyAll"})})["QueueUrl"]
    src = sqs.create_queue(QueueName="s")["QueueUrl"]
    with pytest.raises(ClientError) as e:
        sqs.set_queue_attributes(QueueUrl=src, Attributes={"RedrivePolicy": redrive(arn(sqs, dlq))})
    assert e.value.response["Error"]["Code"] == "InvalidParameterValue"
    sqs.set_queue_attributes(QueueUrl=dlq, Attributes={"RedriveAllowPolicy": json.dumps({"redrivePermission": "byQueue", "sourceQueueArns": [arn(sqs, src)]})})
    sqs.set_queue_attributes(QueueUrl=src, Attributes={"RedrivePolicy": redrive(arn(sqs, dlq))})
    other = sqs.create_queue(QueueName="other")["QueueUrl"]
    with pytest.raises(ClientError):
        sqs.set_queue_attributes(QueueUrl=other, Attributes={"RedrivePolicy": redrive(arn(sqs, dlq))})
    got = json.loads(sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["RedriveAllowPolicy"])["Attributes"]["RedriveAllowPolicy"])
    assert got == {"redrivePermission": "byQueue", "sourceQueueArns": [arn(sqs, src)]}
    for bad in [{"redrivePermission": "byQueue"}, {"redrivePermission": "maybe"}]:
        with pytest.raises(ClientError):
            sqs.set_queue_attributes(QueueUrl=dlq, Attributes={"RedriveAllowPolicy": json.dumps(bad)})


def dead_letter(sqs, n):
    dlq = sqs.create_queue(QueueName="movedlq")["QueueUrl"]
    src = sqs.create_queue(QueueName="movesrc", Attributes={"RedrivePolicy": redrive(arn(sqs, dlq), 1)})["QueueUrl"]
    for i in range(n):
        sqs.send_message(QueueUrl=src, MessageBody=f"m{i}")
    for _ in range(n):
        sqs.receive_message(QueueUrl=src, VisibilityTimeout=0, MaxNumberOfMessages=10)
    while "Messages" in sqs.receive_message(QueueUrl=src, VisibilityTimeout=0, MaxNumberOfMessages=10):
        pass
    assert sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]["ApproximateNumberOfMessages"] == str(n)
    return dlq, src


def test_move_task_back_to_source(sqs):
    dlq, src = dead_letter(sqs, 3)
    handle = sqs.start_message_move_task(SourceArn=arn(sqs, dlq))["TaskHandle"]
    assert handle
    for _ in range(50):
        tasks = sqs.list_message_move_tasks(SourceArn=arn(sqs, dlq))["Results"]
        if tasks[0]["Status"] == "COMPLETED":
            break
        time.sleep(0.1)
    assert tasks[0]["Status"] == "COMPLETED"
    assert tasks[0]["ApproximateNumberOfMessagesMoved"] == 3
    assert tasks[0]["SourceArn"] == arn(sqs, dlq)
    bodies = sorted(m["Body"] for m in sqs.receive_message(QueueUrl=src, MaxNumberOfMessages=10)["Messages"])
    assert bodies == ["m0", "m1", "m2"]


def test_move_task_rate_and_cancel(nephos, sqs):
    dlq, src = dead_letter(sqs, 5)
    dest = sqs.create_queue(QueueName="dest")["QueueUrl"]
    handle = sqs.start_message_move_task(SourceArn=arn(sqs, dlq), DestinationArn=arn(sqs, dest), MaxNumberOfMessagesPerSecond=1)["TaskHandle"]
    with pytest.raises(ClientError):
        sqs.start_message_move_task(SourceArn=arn(sqs, dlq))
    time.sleep(0.3)
    running = sqs.list_message_move_tasks(SourceArn=arn(sqs, dlq))["Results"][0]
    assert running["Status"] == "RUNNING" and running["TaskHandle"] == handle
    assert running["MaxNumberOfMessagesPerSecond"] == 1 and running["DestinationArn"] == arn(sqs, dest)
    moved = sqs.cancel_message_move_task(TaskHandle=handle)["ApproximateNumberOfMessagesMoved"]
    assert 1 <= moved < 5
    time.sleep(0.2)
    nephos.internal("/_nephos/clock", {"advance_seconds": 2})
    for _ in range(30):
        status = sqs.list_message_move_tasks(SourceArn=arn(sqs, dlq))["Results"][0]["Status"]
        if status == "CANCELLED":
            break
        time.sleep(0.1)
    assert status == "CANCELLED"
    with pytest.raises(ClientError):
        sqs.cancel_message_move_task(TaskHandle=handle)


def test_move_task_needs_a_dead_letter_queue(sqs, account):
    plain = sqs.create_queue(QueueName="plain")["QueueUrl"]
    with pytest.raises(ClientError) as e:
        sqs.start_message_move_task(SourceArn=arn(sqs, plain))
    assert e.value.response["Error"]["Code"] == "InvalidParameterValue"
    with pytest.raises(ClientError) as e:
        sqs.list_message_move_tasks(SourceArn=f"arn:aws:sqs:us-east-1:{account}:missing")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
