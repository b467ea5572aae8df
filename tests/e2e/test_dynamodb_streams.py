"""DynamoDB Streams with boto3's dynamodbstreams client: stream specifications, shards,
iterators, the record format, TTL deletions, retention and iterator expiry on the clock."""

import time

import pytest
from botocore.exceptions import ClientError

from dynamodb_helpers import ddb, error_of, make_table


def streams(server, account):
    return server.client("dynamodbstreams", account=account)


def stream_table(c, name, view="NEW_AND_OLD_IMAGES", **extra):
    d = make_table(c, name, StreamSpecification={"StreamEnabled": True, "StreamViewType": view}, **extra)
    return d["LatestStreamArn"]


def shard_iterator(s, arn, kind="TRIM_HORIZON", **extra):
    shard = s.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    return s.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType=kind, **extra)["ShardIterator"]


def test_record_format_and_events(nephos, account):
    c, s = ddb(nephos, account), streams(nephos, account)
    arn = stream_table(c, "orders", range_type="N")
    desc = c.describe_table(TableName="orders")["Table"]
    assert desc["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert desc["LatestStreamArn"] == arn
    assert arn == f"{desc['TableArn']}/stream/{desc['LatestStreamLabel']}"
    it = shard_iterator(s, arn)
    key = {"pk": {"S": "a"}, "sk": {"N": "1"}}
    c.put_item(TableName="orders", Item={**key, "v": {"S": "one"}})
    c.put_item(TableName="orders", Item={**key, "v": {"S": "one"}})  # no change: no record
    c.update_item(TableName="orders", Key=key, UpdateExpression="SET v = :v",
                  ExpressionAttributeValues={":v": {"S": "two"}})
    c.update_item(TableName="orders", Key=key, UpdateExpression="SET v = :v",
                  ExpressionAttributeValues={":v": {"S": "two"}})  # no change
    c.delete_item(TableName="orders", Key=key)
    c.delete_item(TableName="orders", Key=key)  # nothing deleted: no record
    out = s.get_records(ShardIterator=it)
    recs = out["Records"]
    assert [r["eventName"] for r in recs] == ["INSERT", "MODIFY", "REMOVE"]
    assert "NextShardIterator" in out
    for r in recs:
        assert r["eventVersion"] == "1.1"
        assert r["eventSource"] == "aws:dynamodb"
        assert r["awsRegion"] == "us-east-1"
        assert len(r["eventID"]) > 0
        assert "userIdentity" not in r
        d = r["dynamodb"]
        assert d["Keys"] == key
        assert d["StreamViewType"] == "NEW_AND_OLD_IMAGES"
        assert len(d["SequenceNumber"]) == 21 and d["SequenceNumber"].isdigit()
        assert d["SizeBytes"] > 0
        assert abs(d["ApproximateCreationDateTime"].timestamp() - time.time()) < 60
    seqs = [int(r["dynamodb"]["SequenceNumber"]) for r in recs]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3
    assert recs[0]["dynamodb"]["NewImage"] == {**key, "v": {"S": "one"}}
    assert "OldImage" not in recs[0]["dynamodb"]
    assert recs[1]["dynamodb"]["OldImage"] == {**key, "v": {"S": "one"}}
    assert recs[1]["dynamodb"]["NewImage"] == {**key, "v": {"S": "two"}}
    assert recs[2]["dynamodb"]["OldImage"] == {**key, "v": {"S": "two"}}
    assert "NewImage" not in recs[2]["dynamodb"]
    # Reading on from the next iterator finds nothing new, then the next write.
    again = s.get_records(ShardIterator=out["NextShardIterator"])
    assert again["Records"] == []
    c.put_item(TableName="orders", Item={**key, "v": {"S": "three"}})
    assert [r["eventName"] for r in s.get_records(ShardIterator=again["NextShardIterator"])["Records"]] == ["INSERT"]


@pytest.mark.parametrize("view,new,old", [
    ("KEYS_ONLY", False, False), ("NEW_IMAGE", True, False), ("OLD_IMAGE", False, True)])
def test_view_types(nephos, account, view, new, old):
    c, s = ddb(nephos, account), streams(nephos, account)
    arn = stream_table(c, "v" + view.lower().replace("_", ""), view=view)
    name = "v" + view.lower().replace("_", "")
    c.put_item(TableName=name, Item={"pk": {"S": "k"}, "a": {"N": "1"}})
    c.put_item(TableName=name, Item={"pk": {"S": "k"}, "a": {"N": "2"}})
    recs = s.get_records(ShardIterator=shard_iterator(s, arn))["Records"]
    modify = recs[1]["dynamodb"]
    assert modify["StreamViewType"] == view
    assert modify["Keys"] == {"pk": {"S": "k"}}
    assert ("NewImage" in modify) == new
    assert ("OldImage" in modify) == old


def test_batch_and_transaction_writes_are_recorded(nephos, account):
    c, s = ddb(nephos, account), streams(nephos, account)
    arn = stream_table(c, "multi", view="KEYS_ONLY")
    c.batch_write_item(RequestItems={"multi": [
        {"PutRequest": {"Item": {"pk": {"S": f"b{i}"}}}} for i in range(3)]})
    c.transact_write_items(TransactItems=[
        {"Put": {"TableName": "multi", "Item": {"pk": {"S": "t"}}}},
        {"Delete": {"TableName": "multi", "Key": {"pk": {"S": "b0"}}}},
    ])
    recs = s.get_records(ShardIterator=shard_iterator(s, arn))["Records"]
    assert [(r["eventName"], r["dynamodb"]["Keys"]["pk"]["S"]) for r in recs] == [
        ("INSERT", "b0"), ("INSERT", "b1"), ("INSERT", "b2"), ("INSERT", "t"), ("REMOVE", "b0")]


def test_iterator_types_and_limit(nephos, account):
    c, s = ddb(nephos, account), streams(nephos, account)
    arn = stream_table(c, "iters", view="KEYS_ONLY")
    for i in range(5):
        c.put_item(TableName="iters", Item={"pk": {"S": f"k{i}"}})
    latest = shard_iterator(s, arn, "LATEST")
    assert s.get_records(ShardIterator=latest)["Records"] == []
    page = s.get_records(ShardIterator=shard_iterator(s, arn), Limit=2)
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in page["Records"]] == ["k0", "k1"]
    rest = s.get_records(ShardIterator=page["NextShardIterator"])
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in rest["Records"]] == ["k2", "k3", "k4"]
    seq = rest["Records"][0]["dynamodb"]["SequenceNumber"]
    at = s.get_records(ShardIterator=shard_iterator(s, arn, "AT_SEQUENCE_NUMBER", SequenceNumber=seq))
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in at["Records"]] == ["k2", "k3", "k4"]
    after = s.get_records(ShardIterator=shard_iterator(s, arn, "AFTER_SEQUENCE_NUMBER", SequenceNumber=seq))
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in after["Records"]] == ["k3", "k4"]
    c.put_item(TableName="iters", Item={"pk": {"S": "k5"}})
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in s.get_records(ShardIterator=latest)["Records"]] == ["k5"]
    with pytest.raises(ClientError) as e:
        s.get_records(ShardIterator="garbage")
    assert error_of(e)[0] == "ValidationException"
    with pytest.raises(ClientError) as e:
        s.get_records(ShardIterator=latest, Limit=1001)
    assert error_of(e)[0] == "ValidationException"


def test_list_and_describe_streams(nephos, account):
    c, s = ddb(nephos, account), streams(nephos, account)
    arns = [stream_table(c, f"ls{i}") for i in range(3)]
    make_table(c, "nostream")
    listed = s.list_streams()["Streams"]
    assert [x["StreamArn"] for x in listed] == arns
    assert listed[0]["TableName"] == "ls0" and listed[0]["StreamLabel"] == arns[0].rsplit("/", 1)[1]
    assert [x["StreamArn"] for x in s.list_streams(TableName="ls1")["Streams"]] == [arns[1]]
    page = s.list_streams(Limit=2)
    assert len(page["Streams"]) == 2 and page["LastEvaluatedStreamArn"] == arns[1]
    rest = s.list_streams(Limit=2, ExclusiveStartStreamArn=page["LastEvaluatedStreamArn"])
    assert [x["StreamArn"] for x in rest["Streams"]] == [arns[2]] and "LastEvaluatedStreamArn" not in rest
    d = s.describe_stream(StreamArn=arns[0])["StreamDescription"]
    assert d["StreamStatus"] == "ENABLED" and d["TableName"] == "ls0"
    assert d["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert d["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    (shard,) = d["Shards"]
    assert shard["ShardId"].startswith("shardId-")
    assert "EndingSequenceNumber" not in shard["SequenceNumberRange"]
    with pytest.raises(ClientError) as e:
        s.describe_stream(StreamArn=arns[0] + "x")
    assert error_of(e)[0] == "ResourceNotFoundException"


def test_update_table_enables_and_disables_streams(nephos, account):
    c, s = ddb(nephos, account), streams(nephos, account)
    make_table(c, "toggle")
    assert "LatestStreamArn" not in c.describe_table(TableName="toggle")["Table"]
    with pytest.raises(ClientError) as e:
        c.update_table(TableName="toggle", StreamSpecification={"StreamEnabled": False})
    assert error_of(e)[0] == "ValidationException"
    d = c.update_table(TableName="toggle", StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})
    arn = d["TableDescription"]["LatestStreamArn"]
    with pytest.raises(ClientError) as e:
        c.update_table(TableName="toggle", StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"})
    assert error_of(e) == ("ValidationException", "Table already has an enabled stream: TableName: toggle")
    c.put_item(TableName="toggle", Item={"pk": {"S": "x"}})
    it = shard_iterator(s, arn)
    c.update_table(TableName="toggle", StreamSpecification={"StreamEnabled": False})
    c.put_item(TableName="toggle", Item={"pk": {"S": "y"}})  # not recorded: stream disabled
    t = c.describe_table(TableName="toggle")["Table"]
    assert "StreamSpecification" not in t and t["LatestStreamArn"] == arn
    d = s.describe_stream(StreamArn=arn)["StreamDescription"]
    assert d["StreamStatus"] == "DISABLED"
    assert "EndingSequenceNumber" in d["Shards"][0]["SequenceNumberRange"]
    out = s.get_records(ShardIterator=it)
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in out["Records"]] == ["x"]
    assert "NextShardIterator" not in out
    # Re-enabling makes a new stream; both are listed.
    d = c.update_table(TableName="toggle", StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"})
    new_arn = d["TableDescription"]["LatestStreamArn"]
    assert new_arn != arn
    assert [x["StreamArn"] for x in s.list_streams(TableName="toggle")["Streams"]] == [arn, new_arn]


def test_ttl_deletions_are_service_records(start_nephos, account):
    server = start_nephos()
    c, s = server.client("dynamodb", account=account), streams(server, account)
    arn = stream_table(c, "ttl", view="OLD_IMAGE")
    c.update_time_to_live(TableName="ttl", TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"})
    c.put_item(TableName="ttl", Item={"pk": {"S": "gone"}, "exp": {"N": str(int(time.time()) + 100)}})
    c.delete_item(TableName="ttl", Key={"pk": {"S": "gone"}}, ConditionExpression="attribute_not_exists(nope)")
    c.put_item(TableName="ttl", Item={"pk": {"S": "gone"}, "exp": {"N": str(int(time.time()) + 100)}})
    server.internal("/_nephos/clock", {"advance_seconds": 200})
    it = shard_iterator(s, arn)
    deadline = time.time() + 5
    while time.time() < deadline:
        recs = s.get_records(ShardIterator=it)["Records"]
        if len(recs) == 4:
            break
        time.sleep(0.05)
    assert [r["eventName"] for r in recs] == ["INSERT", "REMOVE", "INSERT", "REMOVE"]
    assert "userIdentity" not in recs[1]
    assert recs[3]["userIdentity"] == {"Type": "Service", "PrincipalId": "dynamodb.amazonaws.com"}
    assert recs[3]["dynamodb"]["OldImage"]["pk"] == {"S": "gone"}


def test_iterators_expire_and_records_are_trimmed(start_nephos, account):
    server = start_nephos()
    c, s = server.client("dynamodb", account=account), streams(server, account)
    arn = stream_table(c, "old", view="KEYS_ONLY")
    c.put_item(TableName="old", Item={"pk": {"S": "a"}})
    it = shard_iterator(s, arn)
    first = s.get_records(ShardIterator=it)["Records"][0]["dynamodb"]["SequenceNumber"]
    server.internal("/_nephos/clock", {"advance_seconds": 16 * 60})
    with pytest.raises(ClientError) as e:
        s.get_records(ShardIterator=it)
    assert error_of(e)[0] == "ExpiredIteratorException"
    it = shard_iterator(s, arn)
    assert len(s.get_records(ShardIterator=it)["Records"]) == 1
    server.internal("/_nephos/clock", {"advance_seconds": 24 * 3600 - 20 * 60})
    c.put_item(TableName="old", Item={"pk": {"S": "b"}})
    it = shard_iterator(s, arn)
    server.internal("/_nephos/clock", {"advance_seconds": 10 * 60})
    # "a" is now older than 24 hours: trimmed; "b" is still there.
    recs = s.get_records(ShardIterator=shard_iterator(s, arn))["Records"]
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in recs] == ["b"]
    with pytest.raises(ClientError) as e:
        s.get_records(ShardIterator=it)
    assert error_of(e)[0] == "TrimmedDataAccessException"
    shard = s.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    with pytest.raises(ClientError) as e:
        s.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="AT_SEQUENCE_NUMBER",
                             SequenceNumber=first)
    assert error_of(e)[0] == "TrimmedDataAccessException"
