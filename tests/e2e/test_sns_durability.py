"""SNS with --data-dir: a message whose Publish was acknowledged is delivered even if
nephos is killed (-9) before its deliveries end: deliveries resume on restart (at least
once, as SNS), and a message delivered to the end is not sent again."""

import json
import queue
import signal

import pytest

from conftest import new_account
from test_sns_delivery import Receiver, make_queue, receive


def test_acknowledged_publishes_survive_kill_9(start_nephos, tmp_path):
    data = tmp_path / "data"
    account = new_account()
    # Confirmation and first message 200; the second fails, so its retry waits 60 s on the clock.
    recv = Receiver(statuses=[200, 200, 500])
    try:
        server = start_nephos("--data-dir", str(data), "--quiet")
        sns, sqs = server.client("sns", account=account), server.client("sqs", account=account)
        topic = sns.create_topic(Name="durable")["TopicArn"]
        url, arn = make_queue(sqs, "durable-q")
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
        sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=recv.url, Attributes={
            "RawMessageDelivery": "true",
            "DeliveryPolicy": json.dumps({"healthyRetryPolicy": {
                "numRetries": 3, "numNoDelayRetries": 0, "minDelayTarget": 60, "maxDelayTarget": 60}})})
        sns.confirm_subscription(TopicArn=topic, Token=json.loads(recv.next()[1])["Token"])
        sns.publish(TopicArn=topic, Message="delivered before the crash")
        assert recv.next()[1] == "delivered before the crash"  # answered 200
        assert [m["Body"] for m in receive(sqs, url)] == ["delivered before the crash"]
        sns.publish(TopicArn=topic, Message="cut off")
        assert recv.next()[1] == "cut off"  # answered 500: a retry is pending
        server.proc.send_signal(signal.SIGKILL)
        server.proc.wait()

        # The pending message is delivered again after the restart. At least once: the
        # queue, which had it already, may get it again, and so may the endpoint the first
        # message if the crash came before nephos had noted its delivery.
        server = start_nephos("--data-dir", str(data), "--quiet")
        sns, sqs = server.client("sns", account=account), server.client("sqs", account=account)
        again = []
        while True:
            try:
                again.append(recv.next(timeout=1.5)[1])
            except queue.Empty:
                break
        assert "cut off" in again and set(again) <= {"cut off", "delivered before the crash"}
        assert {m["Body"] for m in receive(sqs, url, wait=2)} <= {"cut off", "delivered before the crash"}

        # Delivered to the end: a further restart sends nothing.
        server.stop()
        server = start_nephos("--data-dir", str(data), "--quiet")
        server.client("sns", account=account).list_topics()
        with pytest.raises(queue.Empty):
            recv.next(timeout=1.5)
    finally:
        recv.close()
