"""SQS with --data-dir: queues and acknowledged messages survive kill -9."""

import signal
import threading
import time

from conftest import new_account


def test_acknowledged_messages_survive_kill_9(start_nephos, tmp_path):
    data = tmp_path / "data"
    server = start_nephos("--data-dir", str(data), "--quiet")
    account = new_account()
    setup = server.client("sqs", account=account)
    std = setup.create_queue(QueueName="durable", tags={"t": "1"}, Attributes={"VisibilityTimeout": "77"})["QueueUrl"]
    fifo = setup.create_queue(QueueName="durable.fifo", Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"})["QueueUrl"]
    setup.send_message(QueueUrl=std, MessageBody="to-delete")
    m = setup.receive_message(QueueUrl=std)["Messages"][0]
    setup.delete_message(QueueUrl=std, ReceiptHandle=m["ReceiptHandle"])
    acknowledged = []
    lock = threading.Lock()
    stop = threading.Event()

    def writer(n):
        sqs = server.client("sqs", account=account, config_args={"connect_timeout": 2, "read_timeout": 2})
        i = 0
        while not stop.is_set():
            body = f"w{n}-{i}"
            try:
                if n % 2:
                    sqs.send_message(QueueUrl=fifo, MessageBody=body, MessageGroupId=f"g{n}")
                else:
                    sqs.send_message(QueueUrl=std, MessageBody=body,
                                     MessageAttributes={"k": {"DataType": "String", "StringValue": body}})
            except Exception:
                return
            with lock:
                acknowledged.append(body)
            i += 1

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    time.sleep(2.0)
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait()
    stop.set()
    for t in threads:
        t.join()
    assert len(acknowledged) > 50

    restarted = start_nephos("--data-dir", str(data), "--quiet")
    sqs = restarted.client("sqs", account=account)
    urls = sorted(sqs.list_queues()["QueueUrls"])
    assert [u.rsplit("/", 1)[1] for u in urls] == ["durable", "durable.fifo"]
    std = next(u for u in urls if u.endswith("/durable"))
    fifo = next(u for u in urls if u.endswith(".fifo"))
    assert sqs.list_queue_tags(QueueUrl=std)["Tags"] == {"t": "1"}
    assert sqs.get_queue_attributes(QueueUrl=std, AttributeNames=["VisibilityTimeout"])["Attributes"]["VisibilityTimeout"] == "77"
    found = []
    for url in (std, fifo):
        while True:
            msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]).get("Messages", [])
            if not msgs:
                break
            for m in msgs:
                found.append(m["Body"])
                if url == std:
                    assert m["MessageAttributes"]["k"]["StringValue"] == m["Body"]
            sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)])
    missing = set(acknowledged) - set(found)
    assert not missing, f"{len(missing)} acknowledged messages lost"
    assert "to-delete" not in found
    # FIFO order per group survived.
    per_group = {}
    for b in found:
        if int(b[1]) % 2:
            per_group.setdefault(b.split("-")[0], []).append(int(b.split("-")[1]))
    for seq in per_group.values():
        assert seq == sorted(seq)


def _drain(sqs, url, **kw):
    """Receives until the queue answers empty; returns the messages (not deleted)."""
    out = []
    while True:
        msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"],
                                   VisibilityTimeout=43200, **kw).get("Messages", [])
        if not msgs:
            return out
        out.extend(msgs)


def test_receive_state_dedup_and_sequence_survive_kill_9(start_nephos, tmp_path):
    data = tmp_path / "data"
    server = start_nephos("--data-dir", str(data), "--quiet")
    account = new_account()
    sqs = server.client("sqs", account=account)
    std = sqs.create_queue(QueueName="recv")["QueueUrl"]
    fifo = sqs.create_queue(QueueName="recv.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    for body in ("in-flight", "deleted", "old-handle", "visible"):
        sqs.send_message(QueueUrl=std, MessageBody=body)
    got = sqs.receive_message(QueueUrl=std, MaxNumberOfMessages=3, VisibilityTimeout=60)["Messages"]
    handles = {m["Body"]: m["ReceiptHandle"] for m in got}
    assert set(handles) == {"in-flight", "deleted", "old-handle"}
    sqs.delete_message(QueueUrl=std, ReceiptHandle=handles["deleted"])
    # A visibility change is durable too: 60 s -> 600 s.
    sqs.change_message_visibility(QueueUrl=std, ReceiptHandle=handles["old-handle"], VisibilityTimeout=600)

    first = sqs.send_message(QueueUrl=fifo, MessageBody="one", MessageGroupId="g", MessageDeduplicationId="d1")
    second = sqs.send_message(QueueUrl=fifo, MessageBody="two", MessageGroupId="h", MessageDeduplicationId="d2")
    m = sqs.receive_message(QueueUrl=fifo)["Messages"][0]
    assert m["Body"] == "one"
    sqs.delete_message(QueueUrl=fifo, ReceiptHandle=m["ReceiptHandle"])

    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait()
    restarted = start_nephos("--data-dir", str(data), "--quiet")
    sqs = restarted.client("sqs", account=account)

    # Only the never-received message is visible; the in-flight ones keep their timeout.
    visible = _drain(sqs, std)
    assert [m["Body"] for m in visible] == ["visible"]
    sqs.delete_message(QueueUrl=std, ReceiptHandle=visible[0]["ReceiptHandle"])
    attrs = sqs.get_queue_attributes(QueueUrl=std, AttributeNames=["All"])["Attributes"]
    assert attrs["ApproximateNumberOfMessagesNotVisible"] == "2"
    # A receipt handle issued before the restart still deletes its message.
    sqs.delete_message(QueueUrl=std, ReceiptHandle=handles["old-handle"])

    # FIFO: a deduplication id seen before the restart still deduplicates (even though
    # its message was deleted), and sequence numbers keep growing.
    dup = sqs.send_message(QueueUrl=fifo, MessageBody="one again", MessageGroupId="g", MessageDeduplicationId="d1")
    assert dup["MessageId"] == first["MessageId"]
    assert dup["SequenceNumber"] == first["SequenceNumber"]
    third = sqs.send_message(QueueUrl=fifo, MessageBody="three", MessageGroupId="g", MessageDeduplicationId="d3")
    assert int(third["SequenceNumber"]) > int(second["SequenceNumber"])
    bodies = [m["Body"] for m in _drain(sqs, fifo)]
    assert sorted(bodies) == ["three", "two"]

    restarted.internal("/_nephos/clock", {"advance_seconds": 61})
    again = _drain(sqs, std)
    assert [m["Body"] for m in again] == ["in-flight"]
    assert again[0]["Attributes"]["ApproximateReceiveCount"] == "2"
    restarted.internal("/_nephos/clock", {"advance_seconds": 600})
    assert _drain(sqs, std) == []  # neither the deleted nor the old-handle message returns



def test_fifo_dedup_window_ends_after_restart(start_nephos, tmp_path):
    data = tmp_path / "data"
    server = start_nephos("--data-dir", str(data), "--quiet")
    account = new_account()
    sqs = server.client("sqs", account=account)
    fifo = sqs.create_queue(QueueName="win.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    first = sqs.send_message(QueueUrl=fifo, MessageBody="a", MessageGroupId="g", MessageDeduplicationId="d")
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait()
    restarted = start_nephos("--data-dir", str(data), "--quiet")
    sqs = restarted.client("sqs", account=account)
    restarted.internal("/_nephos/clock", {"advance_seconds": 301})
    later = sqs.send_message(QueueUrl=fifo, MessageBody="b", MessageGroupId="g", MessageDeduplicationId="d")
    assert later["MessageId"] != first["MessageId"]
    assert int(later["SequenceNumber"]) > int(first["SequenceNumber"])
    assert [m["Body"] for m in _drain(sqs, fifo)] == ["a", "b"]


def test_consumers_killed_mid_flight_lose_no_delete_and_no_receive(start_nephos, tmp_path):
    data = tmp_path / "data"
    server = start_nephos("--data-dir", str(data), "--quiet")
    account = new_account()
    sqs = server.client("sqs", account=account)
    url = sqs.create_queue(QueueName="consumed")["QueueUrl"]
    sent = [f"m{i}" for i in range(2000)]
    for i in range(0, len(sent), 10):
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(j), "MessageBody": b} for j, b in enumerate(sent[i:i + 10])])
    deleted, held = set(), set()
    lock = threading.Lock()
    stop = threading.Event()

    def consumer(n):
        c = server.client("sqs", account=account, config_args={"connect_timeout": 2, "read_timeout": 2})
        while not stop.is_set():
            try:
                msgs = c.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=600).get("Messages", [])
                if not msgs:
                    return
                # Every other consumer keeps its messages in flight instead of deleting.
                if n % 2:
                    with lock:
                        held.update(m["Body"] for m in msgs)
                    continue
                c.delete_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)])
                with lock:
                    deleted.update(m["Body"] for m in msgs)
            except Exception:
                return

    threads = [threading.Thread(target=consumer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait()
    stop.set()
    for t in threads:
        t.join()
    assert deleted and held

    restarted = start_nephos("--data-dir", str(data), "--quiet")
    sqs = restarted.client("sqs", account=account)
    now_visible = {m["Body"] for m in _drain(sqs, url)}
    assert not now_visible & deleted, "deleted messages reappeared"
    assert not now_visible & held, "in-flight messages became visible before their timeout"
    restarted.internal("/_nephos/clock", {"advance_seconds": 601})
    later = _drain(sqs, url)
    assert not {m["Body"] for m in later} & deleted
    assert held <= {m["Body"] for m in later}
    for m in later:
        if m["Body"] in held:
            assert int(m["Attributes"]["ApproximateReceiveCount"]) >= 2
    assert now_visible | {m["Body"] for m in later} | deleted == set(sent)
