"""DynamoDB global tables (2019.11.21): replicas in other regions, replicated writes."""

import time

import pytest
from botocore.exceptions import ClientError

from dynamodb_helpers import error_of, make_table


def eventually(fn, timeout=5.0):
    deadline = time.time() + timeout
    while True:
        try:
            if fn():
                return
        except ClientError:
            pass
        if time.time() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def test_replicas_are_created_and_writes_replicate_both_ways(nephos, account):
    east = nephos.client("dynamodb", account=account, region="us-east-1")
    west = nephos.client("dynamodb", account=account, region="eu-west-1")
    make_table(east, "glob", "S", "N")
    east.put_item(TableName="glob", Item={"pk": {"S": "old"}, "sk": {"N": "1"}, "v": {"S": "before"}})
    d = east.update_table(TableName="glob", ReplicaUpdates=[{"Create": {"RegionName": "eu-west-1"}}])["TableDescription"]
    assert d["Replicas"] == [{"RegionName": "eu-west-1", "ReplicaStatus": "ACTIVE"}]
    w = west.describe_table(TableName="glob")["Table"]
    assert w["TableArn"] == f"arn:aws:dynamodb:eu-west-1:{account}:table/glob"
    assert w["GlobalTableVersion"] == "2019.11.21"
    assert w["Replicas"] == [{"RegionName": "us-east-1", "ReplicaStatus": "ACTIVE"}]
    # Existing items are copied into the new replica.
    assert west.get_item(TableName="glob", Key={"pk": {"S": "old"}, "sk": {"N": "1"}})["Item"]["v"] == {"S": "before"}
    east.put_item(TableName="glob", Item={"pk": {"S": "e"}, "sk": {"N": "1"}})
    west.update_item(TableName="glob", Key={"pk": {"S": "old"}, "sk": {"N": "1"}},
                     UpdateExpression="SET v = :v", ExpressionAttributeValues={":v": {"S": "from-west"}})
    eventually(lambda: "Item" in west.get_item(TableName="glob", Key={"pk": {"S": "e"}, "sk": {"N": "1"}}))
    eventually(lambda: east.get_item(TableName="glob", Key={"pk": {"S": "old"}, "sk": {"N": "1"}})["Item"]["v"]
               == {"S": "from-west"})
    west.delete_item(TableName="glob", Key={"pk": {"S": "e"}, "sk": {"N": "1"}})
    eventually(lambda: "Item" not in east.get_item(TableName="glob", Key={"pk": {"S": "e"}, "sk": {"N": "1"}}))
    with pytest.raises(ClientError) as e:
        east.update_table(TableName="glob", ReplicaUpdates=[{"Create": {"RegionName": "eu-west-1"}}])
    assert error_of(e)[0] == "ValidationException"
    east.update_table(TableName="glob", ReplicaUpdates=[{"Delete": {"RegionName": "eu-west-1"}}])
    with pytest.raises(ClientError) as e:
        west.describe_table(TableName="glob")
    assert error_of(e)[0] == "ResourceNotFoundException"
    assert "Replicas" not in east.describe_table(TableName="glob")["Table"]


def test_legacy_global_tables_link_existing_tables(nephos, account):
    east = nephos.client("dynamodb", account=account, region="us-east-1")
    west = nephos.client("dynamodb", account=account, region="us-west-2")
    spec = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    make_table(east, "legacy", StreamSpecification=spec)
    with pytest.raises(ClientError) as e:
        east.create_global_table(GlobalTableName="legacy", ReplicationGroup=[
            {"RegionName": "us-east-1"}, {"RegionName": "us-west-2"}])
    assert error_of(e)[0] == "TableNotFoundException"
    make_table(west, "legacy", StreamSpecification=spec)
    d = east.create_global_table(GlobalTableName="legacy", ReplicationGroup=[
        {"RegionName": "us-east-1"}, {"RegionName": "us-west-2"}])["GlobalTableDescription"]
    assert d["GlobalTableStatus"] == "ACTIVE"
    assert d["GlobalTableArn"] == f"arn:aws:dynamodb::{account}:global-table/legacy"
    assert sorted(r["RegionName"] for r in d["ReplicationGroup"]) == ["us-east-1", "us-west-2"]
    with pytest.raises(ClientError) as e:
        east.create_global_table(GlobalTableName="legacy", ReplicationGroup=[{"RegionName": "us-east-1"}])
    assert error_of(e)[0] == "GlobalTableAlreadyExistsException"
    assert [g["GlobalTableName"] for g in east.list_global_tables()["GlobalTables"]] == ["legacy"]
    west.put_item(TableName="legacy", Item={"pk": {"S": "w"}})
    eventually(lambda: "Item" in east.get_item(TableName="legacy", Key={"pk": {"S": "w"}}))
    east.update_global_table(GlobalTableName="legacy", ReplicaUpdates=[{"Delete": {"RegionName": "us-west-2"}}])
    with pytest.raises(ClientError) as e:
        east.describe_global_table(GlobalTableName="legacy")
    assert error_of(e)[0] == "GlobalTableNotFoundException"


def test_deleting_a_replica_table_leaves_the_group(nephos, account):
    east = nephos.client("dynamodb", account=account, region="us-east-1")
    west = nephos.client("dynamodb", account=account, region="ap-south-1")
    make_table(east, "leave")
    east.update_table(TableName="leave", ReplicaUpdates=[{"Create": {"RegionName": "ap-south-1"}}])
    west.delete_table(TableName="leave")
    assert "Replicas" not in east.describe_table(TableName="leave")["Table"]
    east.put_item(TableName="leave", Item={"pk": {"S": "x"}})
    assert east.get_item(TableName="leave", Key={"pk": {"S": "x"}})["Item"] == {"pk": {"S": "x"}}


def _records(nephos, account, region, arn):
    s = nephos.client("dynamodbstreams", account=account, region=region)
    shard = s.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    it = s.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    return s.get_records(ShardIterator=it)["Records"]


def test_replicated_writes_appear_in_the_replica_stream(nephos, account):
    east = nephos.client("dynamodb", account=account, region="us-east-1")
    west = nephos.client("dynamodb", account=account, region="eu-west-1")
    spec = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    make_table(east, "gstream", "S", StreamSpecification=spec)
    east.update_table(TableName="gstream", ReplicaUpdates=[{"Create": {"RegionName": "eu-west-1"}}])
    w = west.describe_table(TableName="gstream")["Table"]
    assert w["StreamSpecification"] == spec
    west_arn = w["LatestStreamArn"]
    assert west_arn.startswith(f"arn:aws:dynamodb:eu-west-1:{account}:table/gstream/stream/")
    east_arn = east.describe_table(TableName="gstream")["Table"]["LatestStreamArn"]

    east.put_item(TableName="gstream", Item={"pk": {"S": "a"}, "v": {"N": "1"}})
    eventually(lambda: "Item" in west.get_item(TableName="gstream", Key={"pk": {"S": "a"}}))
    # 2019.11.21 adds no aws:rep:* attributes to items, in either region.
    assert west.get_item(TableName="gstream", Key={"pk": {"S": "a"}})["Item"] == {"pk": {"S": "a"}, "v": {"N": "1"}}
    assert east.get_item(TableName="gstream", Key={"pk": {"S": "a"}})["Item"] == {"pk": {"S": "a"}, "v": {"N": "1"}}

    west.update_item(TableName="gstream", Key={"pk": {"S": "a"}}, UpdateExpression="SET v = :v",
                     ExpressionAttributeValues={":v": {"N": "2"}})
    eventually(lambda: east.get_item(TableName="gstream", Key={"pk": {"S": "a"}})["Item"]["v"] == {"N": "2"})
    west.delete_item(TableName="gstream", Key={"pk": {"S": "a"}})
    eventually(lambda: "Item" not in east.get_item(TableName="gstream", Key={"pk": {"S": "a"}}))

    # One record per write in each region's stream (2019.11.21 publishes one, not two).
    for region, arn in (("us-east-1", east_arn), ("eu-west-1", west_arn)):
        recs = _records(nephos, account, region, arn)
        assert [r["eventName"] for r in recs] == ["INSERT", "MODIFY", "REMOVE"], region
        assert all(r["awsRegion"] == region for r in recs)
        assert recs[0]["dynamodb"]["NewImage"] == {"pk": {"S": "a"}, "v": {"N": "1"}}
        assert recs[1]["dynamodb"]["OldImage"]["v"] == {"N": "1"}
        assert recs[1]["dynamodb"]["NewImage"]["v"] == {"N": "2"}
        assert recs[2]["dynamodb"]["Keys"] == {"pk": {"S": "a"}}
        assert not any(k.startswith("aws:rep:") for r in recs for k in r["dynamodb"].get("NewImage", {}))

    # Stream settings stay aligned across replicas.
    east.update_table(TableName="gstream", StreamSpecification={"StreamEnabled": False})
    assert "StreamSpecification" not in west.describe_table(TableName="gstream")["Table"]
