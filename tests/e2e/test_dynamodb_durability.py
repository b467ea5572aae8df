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


def _stream_records(server, account, arn):
    s = server.client("dynamodbstreams", account=account)
    shards = s.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
    out = []
    for sh in shards:
        it = s.get_shard_iterator(StreamArn=arn, ShardId=sh["ShardId"],
                                  ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while it:
            r = s.get_records(ShardIterator=it, Limit=1000)
            out += [(sh["ShardId"], x) for x in r["Records"]]
            if not r["Records"]:
                break
            it = r.get("NextShardIterator")
    return shards, out


def test_stream_records_and_pitr_history_survive_kill_9(start_nephos, tmp_path):
    data = tmp_path / "data"
    server = start_nephos("--data-dir", str(data), "--quiet")
    account = new_account()
    c = server.client("dynamodb", account=account)
    desc = make_table(c, "sdur", "S", StreamSpecification={"StreamEnabled": True,
                                                          "StreamViewType": "NEW_AND_OLD_IMAGES"})
    arn = desc["LatestStreamArn"]
    c.update_continuous_backups(TableName="sdur", PointInTimeRecoverySpecification={
        "PointInTimeRecoveryEnabled": True})
    c.put_item(TableName="sdur", Item={"pk": {"S": "keep"}, "v": {"N": "1"}})
    c.put_item(TableName="sdur", Item={"pk": {"S": "later-deleted"}, "v": {"N": "1"}})
    time.sleep(1.2)
    restore_point = time.time()
    time.sleep(1.2)
    c.put_item(TableName="sdur", Item={"pk": {"S": "keep"}, "v": {"N": "2"}})
    c.delete_item(TableName="sdur", Key={"pk": {"S": "later-deleted"}})
    shards_before, before = _stream_records(server, account, arn)
    assert [x["eventName"] for _, x in before] == ["INSERT", "INSERT", "MODIFY", "REMOVE"]

    acknowledged = []
    lock = threading.Lock()
    stop = threading.Event()

    def writer(n):
        w = server.client("dynamodb", account=account, config_args={"connect_timeout": 2, "read_timeout": 2})
        i = 0
        while not stop.is_set():
            try:
                w.put_item(TableName="sdur", Item={"pk": {"S": f"w{n}-{i}"}, "v": {"N": str(i)}})
            except Exception:
                return
            with lock:
                acknowledged.append(f"w{n}-{i}")
            i += 1

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait()
    stop.set()
    for t in threads:
        t.join()
    assert len(acknowledged) > 50

    server = start_nephos("--data-dir", str(data), "--quiet")
    c = server.client("dynamodb", account=account)
    assert c.describe_table(TableName="sdur")["Table"]["LatestStreamArn"] == arn
    shards_after, after = _stream_records(server, account, arn)
    assert [s["ShardId"] for s in shards_after] == [s["ShardId"] for s in shards_before]
    # The records read before the crash are there again, unchanged.
    assert after[: len(before)] == before
    inserted = {x["dynamodb"]["Keys"]["pk"]["S"] for _, x in after if x["eventName"] == "INSERT"}
    missing = [k for k in acknowledged if k not in inserted]
    assert not missing, missing[:5]
    seqs = [int(x["dynamodb"]["SequenceNumber"]) for _, x in after]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)

    # New writes continue the same shard after the last sequence number.
    c.put_item(TableName="sdur", Item={"pk": {"S": "after-restart"}})
    _, again = _stream_records(server, account, arn)
    assert again[-1][1]["dynamodb"]["Keys"] == {"pk": {"S": "after-restart"}}
    assert int(again[-1][1]["dynamodb"]["SequenceNumber"]) > seqs[-1]

    # History from before the crash restores.
    pitr = c.describe_continuous_backups(TableName="sdur")["ContinuousBackupsDescription"][
        "PointInTimeRecoveryDescription"]
    assert pitr["PointInTimeRecoveryStatus"] == "ENABLED"
    assert pitr["EarliestRestorableDateTime"].timestamp() < restore_point
    c.restore_table_to_point_in_time(SourceTableName="sdur", TargetTableName="sdur-past",
                                     RestoreDateTime=restore_point)
    items = c.scan(TableName="sdur-past")["Items"]
    assert sorted((i["pk"]["S"], i["v"]["N"]) for i in items) == [("keep", "1"), ("later-deleted", "1")]


def test_replication_of_acknowledged_writes_survives_kill_9(start_nephos, tmp_path):
    data = tmp_path / "data"
    server = start_nephos("--data-dir", str(data), "--quiet")
    account = new_account()
    east = server.client("dynamodb", account=account)
    make_table(east, "gdur", "S")
    east.update_table(TableName="gdur", ReplicaUpdates=[{"Create": {"RegionName": "eu-west-1"}}])
    acknowledged = []
    lock = threading.Lock()
    stop = threading.Event()

    def writer(n):
        w = server.client("dynamodb", account=account, config_args={"connect_timeout": 2, "read_timeout": 2})
        i = 0
        while not stop.is_set():
            try:
                w.put_item(TableName="gdur", Item={"pk": {"S": f"w{n}-{i}"}})
            except Exception:
                return
            with lock:
                acknowledged.append(f"w{n}-{i}")
            i += 1

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait()
    stop.set()
    for t in threads:
        t.join()
    assert len(acknowledged) > 50

    # Changes still queued for the other region at the crash are replicated after restart.
    server = start_nephos("--data-dir", str(data), "--quiet")
    west = server.client("dynamodb", account=account, region="eu-west-1")
    deadline = time.time() + 10
    while True:
        have = set()
        kwargs = {}
        while True:
            page = west.scan(TableName="gdur", **kwargs)
            have |= {i["pk"]["S"] for i in page["Items"]}
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        missing = [k for k in acknowledged if k not in have]
        if not missing or time.time() > deadline:
            break
        time.sleep(0.2)
    assert not missing, missing[:5]
