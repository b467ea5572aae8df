"""DynamoDB with --data-dir: tables and every acknowledged item survive kill -9."""

import signal
import threading
import time

from conftest import new_account
from dynamodb_helpers import make_table


def test_acknowledged_items_survive_kill_9(start_nephos, tmp_path):
    data = tmp_path / "data"
    server = start_nephos("--data-dir", str(data), "--quiet")
    account = new_account()
    c = server.client("dynamodb", account=account)
    make_table(c, "dur", "S", "N")
    c.put_item(TableName="dur", Item={"pk": {"S": "gone"}, "sk": {"N": "0"}})
    c.delete_item(TableName="dur", Key={"pk": {"S": "gone"}, "sk": {"N": "0"}})
    acknowledged = []
    lock = threading.Lock()
    stop = threading.Event()

    def writer(n):
        w = server.client("dynamodb", account=account, config_args={"connect_timeout": 2, "read_timeout": 2})
        i = 0
        while not stop.is_set():
            try:
                w.update_item(TableName="dur", Key={"pk": {"S": f"w{n}"}, "sk": {"N": str(i)}},
                              UpdateExpression="SET v = :v", ExpressionAttributeValues={":v": {"N": str(i)}})
            except Exception:
                return
            with lock:
                acknowledged.append((n, i))
            i += 1

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    time.sleep(2.0)
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait()
    stop.set()
    for t in threads:
        t.join()
    assert len(acknowledged) > 50

    server = start_nephos("--data-dir", str(data), "--quiet")
    c = server.client("dynamodb", account=account)
    t = c.describe_table(TableName="dur")["Table"]
    assert t["ItemCount"] >= len(acknowledged)
    for n, i in acknowledged[:: max(1, len(acknowledged) // 200)]:
        got = c.get_item(TableName="dur", Key={"pk": {"S": f"w{n}"}, "sk": {"N": str(i)}})["Item"]
        assert got["v"] == {"N": str(i)}
    assert "Item" not in c.get_item(TableName="dur", Key={"pk": {"S": "gone"}, "sk": {"N": "0"}})
    r = c.query(TableName="dur", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "w0"}})
    assert [int(x["sk"]["N"]) for x in r["Items"]] == sorted(int(x["sk"]["N"]) for x in r["Items"])
