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
