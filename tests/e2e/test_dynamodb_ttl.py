"""DynamoDB time to live: settings, and the background expiry on the shared clock."""

import time

import pytest
from botocore.exceptions import ClientError

from dynamodb_helpers import ddb, error_of, make_table


def wait_for(pred, timeout=5.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


def test_ttl_update_errors(nephos, account):
    c = ddb(nephos, account)
    make_table(c, "ttlerr")
    with pytest.raises(ClientError) as e:
        c.update_time_to_live(TableName="ttlerr", TimeToLiveSpecification={"Enabled": False, "AttributeName": "exp"})
    assert error_of(e) == ("ValidationException", "TimeToLive is already disabled")
    out = c.update_time_to_live(TableName="ttlerr", TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"})
    assert out["TimeToLiveSpecification"] == {"Enabled": True, "AttributeName": "exp"}
    with pytest.raises(ClientError) as e:
        c.update_time_to_live(TableName="ttlerr", TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"})
    assert error_of(e) == ("ValidationException", "TimeToLive is already enabled")
    with pytest.raises(ClientError) as e:
        c.update_time_to_live(TableName="nope", TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"})
    assert error_of(e)[0] == "ResourceNotFoundException"


def test_expired_items_are_deleted_when_the_clock_advances(start_nephos, account):
    server = start_nephos()
    c = server.client("dynamodb", account=account)
    make_table(c, "exp")
    c.update_time_to_live(TableName="exp", TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"})
    now = int(time.time())
    c.put_item(TableName="exp", Item={"pk": {"S": "past"}, "ttl": {"N": str(now - 60)}})
    c.put_item(TableName="exp", Item={"pk": {"S": "soon"}, "ttl": {"N": str(now + 3600)}})
    c.put_item(TableName="exp", Item={"pk": {"S": "later"}, "ttl": {"N": str(now + 86400 * 2)}})
    c.put_item(TableName="exp", Item={"pk": {"S": "string"}, "ttl": {"S": str(now - 60)}})
    c.put_item(TableName="exp", Item={"pk": {"S": "none"}})
    # More than five years in the past: never deleted.
    c.put_item(TableName="exp", Item={"pk": {"S": "ancient"}, "ttl": {"N": str(now - 6 * 365 * 86400)}})

    def keys():
        return sorted(i["pk"]["S"] for i in c.scan(TableName="exp")["Items"])

    assert wait_for(lambda: "past" not in keys())
    assert keys() == ["ancient", "later", "none", "soon", "string"]
    server.internal("/_nephos/clock", {"advance_seconds": 7200})
    assert wait_for(lambda: "soon" not in keys())
    assert keys() == ["ancient", "later", "none", "string"]
    # An update that moves the expiry into the past expires the item too.
    c.update_item(TableName="exp", Key={"pk": {"S": "later"}}, UpdateExpression="SET #t = :t",
                  ExpressionAttributeNames={"#t": "ttl"}, ExpressionAttributeValues={":t": {"N": str(now - 10)}})
    assert wait_for(lambda: keys() == ["ancient", "none", "string"])


def test_ttl_deletions_are_durable(start_nephos, tmp_path, account):
    server = start_nephos("--data-dir", str(tmp_path))
    c = server.client("dynamodb", account=account)
    make_table(c, "dur")
    c.update_time_to_live(TableName="dur", TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"})
    now = int(time.time())
    for i in range(20):
        c.put_item(TableName="dur", Item={"pk": {"S": f"k{i}"}, "ttl": {"N": str(now + 600 + i % 2 * 100000)}})
    server.internal("/_nephos/clock", {"advance_seconds": 1200})
    assert wait_for(lambda: c.scan(TableName="dur", Select="COUNT")["Count"] == 10)
    server.stop()
    server = start_nephos("--data-dir", str(tmp_path))
    c = server.client("dynamodb", account=account)
    assert c.scan(TableName="dur", Select="COUNT")["Count"] == 10
    assert c.describe_time_to_live(TableName="dur")["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED", "AttributeName": "ttl"}
