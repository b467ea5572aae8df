"""DynamoDB provisioned-throughput throttling (--dynamodb-throttling): token buckets on the
shared clock, AWS's 300 s burst capacity, GSI back-pressure on base-table writes."""

import pytest
from botocore.exceptions import ClientError

from conftest import new_account
from dynamodb_helpers import error_of

TABLE_MSG = ("The level of configured provisioned throughput for the table was exceeded. "
             "Consider increasing your provisioning level with the UpdateTable API.")
GSI_MSG = ("The level of configured provisioned throughput for one or more global secondary indexes "
           "of the table was exceeded. Consider increasing your provisioning level for the "
           "under-provisioned global secondary indexes with the UpdateTable API")


def provisioned(c, name, rcu, wcu, gsi_wcu=None):
    extra = {}
    defs = [{"AttributeName": "pk", "AttributeType": "S"}]
    if gsi_wcu is not None:
        defs.append({"AttributeName": "g", "AttributeType": "S"})
        extra["GlobalSecondaryIndexes"] = [{
            "IndexName": "byg", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "ALL"},
            "ProvisionedThroughput": {"ReadCapacityUnits": 1, "WriteCapacityUnits": gsi_wcu}}]
    c.create_table(TableName=name, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                   AttributeDefinitions=defs,
                   ProvisionedThroughput={"ReadCapacityUnits": rcu, "WriteCapacityUnits": wcu}, **extra)


def throttled(fn, msg=TABLE_MSG):
    with pytest.raises(ClientError) as e:
        fn()
    assert error_of(e) == ("ProvisionedThroughputExceededException", msg)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return e.value.response["ThrottlingReasons"]


@pytest.fixture
def server(start_nephos):
    return start_nephos("--dynamodb-throttling", "--quiet")


def test_writes_and_reads_beyond_capacity_are_throttled(server):
    c = server.client("dynamodb", account=new_account())
    provisioned(c, "t", 1, 1)
    put = lambda k: c.put_item(TableName="t", Item={"pk": {"S": k}})  # noqa: E731
    get = lambda **kw: c.get_item(TableName="t", Key={"pk": {"S": "a"}}, **kw)  # noqa: E731
    # Eventually consistent reads cost half a unit: two fit in one second, not three.
    get()
    get()
    arn = c.describe_table(TableName="t")["Table"]["TableArn"]
    assert throttled(get) == [{"reason": "TableReadProvisionedThroughputExceeded", "resource": arn}]
    put("a")
    assert throttled(lambda: put("b")) == [{"reason": "TableWriteProvisionedThroughputExceeded", "resource": arn}]
    server.internal("/_nephos/clock", {"advance_seconds": 1})
    put("b")
    throttled(lambda: put("c"))
    get(ConsistentRead=True)
    throttled(lambda: c.query(TableName="t", KeyConditionExpression="pk = :p",
                              ExpressionAttributeValues={":p": {"S": "a"}}))
    throttled(lambda: c.scan(TableName="t"))
    # Raising the provisioned capacity takes effect.
    c.update_table(TableName="t", ProvisionedThroughput={"ReadCapacityUnits": 50, "WriteCapacityUnits": 50})
    server.internal("/_nephos/clock", {"advance_seconds": 1})
    for i in range(40):
        put(f"x{i}")


def test_burst_capacity_keeps_300_seconds(server):
    c = server.client("dynamodb", account=new_account())
    provisioned(c, "burst", 1, 1)
    server.internal("/_nephos/clock", {"advance_seconds": 400})
    big = "x" * (10 * 1024 - 10)  # about 10 write units per item
    for i in range(30):
        c.put_item(TableName="burst", Item={"pk": {"S": f"k{i:02}"}, "v": {"S": big}})
    # 400 s idle kept only 300 s of capacity: 300 units are spent.
    throttled(lambda: c.put_item(TableName="burst", Item={"pk": {"S": "more"}}))


def test_gsi_capacity_throttles_base_table_writes(server):
    c = server.client("dynamodb", account=new_account())
    provisioned(c, "g", 100, 100, gsi_wcu=1)
    c.put_item(TableName="g", Item={"pk": {"S": "1"}, "g": {"S": "x"}})
    reasons = throttled(lambda: c.put_item(TableName="g", Item={"pk": {"S": "2"}, "g": {"S": "y"}}), GSI_MSG)
    arn = c.describe_table(TableName="g")["Table"]["TableArn"]
    assert reasons == [{"reason": "IndexWriteProvisionedThroughputExceeded", "resource": f"{arn}/index/byg"}]
    assert "Item" not in c.get_item(TableName="g", Key={"pk": {"S": "2"}})
    # Items outside the index do not touch its capacity.
    c.put_item(TableName="g", Item={"pk": {"S": "3"}})


def test_batches_leave_throttled_tables_unprocessed(server):
    c = server.client("dynamodb", account=new_account())
    provisioned(c, "slow", 1, 1)
    c.create_table(TableName="fast", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                   AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                   BillingMode="PAY_PER_REQUEST")
    c.put_item(TableName="slow", Item={"pk": {"S": "a"}})
    req = {"slow": [{"PutRequest": {"Item": {"pk": {"S": "b"}}}}],
           "fast": [{"PutRequest": {"Item": {"pk": {"S": "b"}}}}]}
    r = c.batch_write_item(RequestItems=req)
    assert r["UnprocessedItems"] == {"slow": req["slow"]}
    assert "Item" in c.get_item(TableName="fast", Key={"pk": {"S": "b"}})
    throttled(lambda: c.batch_write_item(RequestItems={"slow": req["slow"]}))
    for _ in range(2):
        c.get_item(TableName="slow", Key={"pk": {"S": "a"}})
    keys = {"slow": {"Keys": [{"pk": {"S": "a"}}]}, "fast": {"Keys": [{"pk": {"S": "b"}}]}}
    r = c.batch_get_item(RequestItems=keys)
    assert r["UnprocessedKeys"] == {"slow": keys["slow"]} and len(r["Responses"]["fast"]) == 1
    throttled(lambda: c.batch_get_item(RequestItems={"slow": keys["slow"]}))


def test_throttling_is_off_by_default(nephos, account):
    c = nephos.client("dynamodb", account=account)
    provisioned(c, "free", 1, 1)
    for i in range(10):
        c.put_item(TableName="free", Item={"pk": {"S": str(i)}})
        c.get_item(TableName="free", Key={"pk": {"S": str(i)}}, ConsistentRead=True)


def test_transactions_out_of_capacity_are_cancelled(server):
    c = server.client("dynamodb", account=new_account())
    provisioned(c, "tx", 1, 1)
    c.create_table(TableName="free", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                   AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                   BillingMode="PAY_PER_REQUEST")
    # A transactional write costs two units: more than a second of capacity, which a request
    # may take when a full second is there (the bucket then owes the rest).
    items = [{"Put": {"TableName": "free", "Item": {"pk": {"S": "a"}}}},
             {"Put": {"TableName": "tx", "Item": {"pk": {"S": "a"}}}}]
    c.transact_write_items(TransactItems=items)
    with pytest.raises(ClientError) as e:
        c.transact_write_items(TransactItems=items)
    assert e.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert e.value.response["Error"]["Message"] == (
        "Transaction cancelled, please refer cancellation reasons for specific reasons "
        "[None, ProvisionedThroughputExceeded]")
    assert e.value.response["CancellationReasons"] == [
        {"Code": "None"}, {"Code": "ProvisionedThroughputExceeded", "Message": TABLE_MSG}]
    # Transactional reads are charged the same way.
    gets = [{"Get": {"TableName": "free", "Key": {"pk": {"S": "a"}}}},
            {"Get": {"TableName": "tx", "Key": {"pk": {"S": "a"}}}}]
    c.transact_get_items(TransactItems=gets)
    with pytest.raises(ClientError) as e:
        c.transact_get_items(TransactItems=gets)
    assert e.value.response["CancellationReasons"] == [
        {"Code": "None"}, {"Code": "ProvisionedThroughputExceeded", "Message": TABLE_MSG}]
