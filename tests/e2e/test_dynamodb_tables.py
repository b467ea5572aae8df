"""DynamoDB tables: create, describe, update, delete, list, tags, TTL, with AWS's errors."""

import pytest
from botocore.exceptions import ClientError

from dynamodb_helpers import ddb, error_of, make_table


def test_create_describe_delete(nephos, account):
    c = ddb(nephos, account)
    d = make_table(c, "users", "S", "N")
    assert d["TableName"] == "users"
    assert d["TableArn"] == f"arn:aws:dynamodb:us-east-1:{account}:table/users"
    assert len(d["TableId"]) == 36
    assert d["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    t = c.describe_table(TableName="users")["Table"]
    assert t["TableStatus"] == "ACTIVE"
    assert t["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert t["ItemCount"] == 0 and t["TableSizeBytes"] == 0
    c.put_item(TableName="users", Item={"pk": {"S": "a"}, "sk": {"N": "1"}, "x": {"S": "hello"}})
    t = c.describe_table(TableName="users")["Table"]
    assert t["ItemCount"] == 1
    assert t["TableSizeBytes"] == len("pk") + 1 + len("sk") + 2 + len("x") + 5
    c.delete_table(TableName="users")
    with pytest.raises(ClientError) as e:
        c.describe_table(TableName="users")
    assert error_of(e) == ("ResourceNotFoundException", "Requested resource not found: Table: users not found")
    c.get_waiter("table_not_exists").wait(TableName="users")


def test_create_existing_table_is_in_use(nephos, account):
    c = ddb(nephos, account)
    make_table(c, "dup")
    with pytest.raises(ClientError) as e:
        make_table(c, "dup")
    assert error_of(e) == ("ResourceInUseException", "Table already exists: dup")


def test_attribute_definitions_validation(nephos, account):
    c = ddb(nephos, account)
    with pytest.raises(ClientError) as e:
        c.create_table(
            TableName="bad",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "extra", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
    assert error_of(e) == (
        "ValidationException",
        "One or more parameter values were invalid: Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions",
    )
    with pytest.raises(ClientError) as e:
        c.create_table(
            TableName="bad",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "other", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    assert error_of(e)[1].startswith(
        "One or more parameter values were invalid: Some index key attributes are not defined in AttributeDefinitions"
    )
    with pytest.raises(ClientError) as e:
        c.create_table(
            TableName="bad",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        )
    assert "ReadCapacityUnits and WriteCapacityUnits must both be specified" in error_of(e)[1]


def test_provisioned_billing_and_update(nephos, account):
    c = ddb(nephos, account)
    c.create_table(
        TableName="prov",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "B"}],
        ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 7},
        TableClass="STANDARD_INFREQUENT_ACCESS",
    )
    t = c.describe_table(TableName="prov")["Table"]
    assert t["ProvisionedThroughput"]["ReadCapacityUnits"] == 5
    assert t["ProvisionedThroughput"]["WriteCapacityUnits"] == 7
    assert t["TableClassSummary"]["TableClass"] == "STANDARD_INFREQUENT_ACCESS"
    c.update_table(TableName="prov", BillingMode="PAY_PER_REQUEST", DeletionProtectionEnabled=True)
    t = c.describe_table(TableName="prov")["Table"]
    assert t["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert t["DeletionProtectionEnabled"] is True
    with pytest.raises(ClientError) as e:
        c.delete_table(TableName="prov")
    assert error_of(e)[0] == "ValidationException"
    c.update_table(TableName="prov", DeletionProtectionEnabled=False)
    c.delete_table(TableName="prov")


def test_list_tables_paginates(nephos, account):
    c = ddb(nephos, account)
    for i in range(5):
        make_table(c, f"tab{i}")
    page = c.list_tables(Limit=2)
    assert page["TableNames"] == ["tab0", "tab1"]
    assert page["LastEvaluatedTableName"] == "tab1"
    page = c.list_tables(Limit=2, ExclusiveStartTableName="tab3")
    assert page["TableNames"] == ["tab4"]
    assert "LastEvaluatedTableName" not in page
    names = [n for p in c.get_paginator("list_tables").paginate(PaginationConfig={"PageSize": 2}) for n in p["TableNames"]]
    assert names == [f"tab{i}" for i in range(5)]


def test_tags(nephos, account):
    c = ddb(nephos, account)
    arn = make_table(c, "tagged", Tags=[{"Key": "a", "Value": "1"}])["TableArn"]
    c.tag_resource(ResourceArn=arn, Tags=[{"Key": "b", "Value": "2"}])
    tags = c.list_tags_of_resource(ResourceArn=arn)["Tags"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("a", "1"), ("b", "2")]
    c.untag_resource(ResourceArn=arn, TagKeys=["a"])
    assert c.list_tags_of_resource(ResourceArn=arn)["Tags"] == [{"Key": "b", "Value": "2"}]
    with pytest.raises(ClientError) as e:
        c.list_tags_of_resource(ResourceArn=arn + "x")
    assert error_of(e)[0] == "ResourceNotFoundException"


def test_time_to_live_settings(nephos, account):
    c = ddb(nephos, account)
    make_table(c, "ttl")
    assert c.describe_time_to_live(TableName="ttl")["TimeToLiveDescription"]["TimeToLiveStatus"] == "DISABLED"
    c.update_time_to_live(TableName="ttl", TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"})
    d = c.describe_time_to_live(TableName="ttl")["TimeToLiveDescription"]
    assert d == {"TimeToLiveStatus": "ENABLED", "AttributeName": "exp"}


def test_gsi_created_by_update_table_is_backfilled(nephos, account):
    c = ddb(nephos, account)
    make_table(c, "g")
    for i in range(3):
        c.put_item(TableName="g", Item={"pk": {"S": f"k{i}"}, "color": {"S": "red" if i < 2 else "blue"}})
    c.update_table(
        TableName="g",
        AttributeDefinitions=[{"AttributeName": "color", "AttributeType": "S"}],
        GlobalSecondaryIndexUpdates=[{"Create": {
            "IndexName": "by_color",
            "KeySchema": [{"AttributeName": "color", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "KEYS_ONLY"},
        }}],
    )
    t = c.describe_table(TableName="g")["Table"]
    assert t["GlobalSecondaryIndexes"][0]["IndexName"] == "by_color"
    r = c.query(TableName="g", IndexName="by_color", KeyConditionExpression="color = :c",
                ExpressionAttributeValues={":c": {"S": "red"}})
    assert sorted(i["pk"]["S"] for i in r["Items"]) == ["k0", "k1"]
    c.update_table(TableName="g", GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "by_color"}}])
    assert "GlobalSecondaryIndexes" not in c.describe_table(TableName="g")["Table"]


def test_cli_tables(nephos, account):
    out = nephos.aws(
        "dynamodb", "create-table", "--table-name", "cli",
        "--attribute-definitions", "AttributeName=id,AttributeType=S",
        "--key-schema", "AttributeName=id,KeyType=HASH",
        "--billing-mode", "PAY_PER_REQUEST", account=account,
    )
    assert out["TableDescription"]["TableName"] == "cli"
    assert nephos.aws("dynamodb", "list-tables", account=account)["TableNames"] == ["cli"]
    nephos.aws("dynamodb", "put-item", "--table-name", "cli", "--item", '{"id": {"S": "1"}, "n": {"N": "0.1"}}', account=account)
    nephos.aws("dynamodb", "update-item", "--table-name", "cli", "--key", '{"id": {"S": "1"}}',
               "--update-expression", "SET n = n + :v", "--expression-attribute-values", '{":v": {"N": "0.2"}}', account=account)
    got = nephos.aws("dynamodb", "get-item", "--table-name", "cli", "--key", '{"id": {"S": "1"}}', account=account)
    assert got["Item"]["n"] == {"N": "0.3"}
    scan = nephos.aws("dynamodb", "scan", "--table-name", "cli", account=account)
    assert scan["Count"] == 1
