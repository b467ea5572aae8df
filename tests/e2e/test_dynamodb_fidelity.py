"""DynamoDB answers as AWS recorded them (LocalStack's AWS-validated snapshots)."""

from dynamodb_helpers import ddb, make_table


def test_billing_mode_summary_only_for_tables_that_were_on_demand(nephos, account):
    c = ddb(nephos, account)
    c.create_table(
        TableName="prov",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 5},
    )
    # Provisioned from the start: AWS reports no summary, in any answer.
    assert "BillingModeSummary" not in c.describe_table(TableName="prov")["Table"]
    c.update_table(TableName="prov", BillingMode="PAY_PER_REQUEST")
    summary = c.describe_table(TableName="prov")["Table"]["BillingModeSummary"]
    assert summary["BillingMode"] == "PAY_PER_REQUEST"
    switched = summary["LastUpdateToPayPerRequestDateTime"]
    c.update_table(TableName="prov", BillingMode="PROVISIONED",
                   ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1})
    summary = c.describe_table(TableName="prov")["Table"]["BillingModeSummary"]
    assert summary == {"BillingMode": "PROVISIONED", "LastUpdateToPayPerRequestDateTime": switched}
    make_table(c, "ondemand")
    assert c.describe_table(TableName="ondemand")["Table"]["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"


def test_execute_transaction_of_writes_answers_empty_responses(nephos, account):
    c = ddb(nephos, account)
    make_table(c, "users")
    r = c.execute_transaction(TransactStatements=[
        {"Statement": "INSERT INTO users VALUE {'pk': 'user01'}"},
        {"Statement": "INSERT INTO users VALUE {'pk': 'user02'}"},
    ])
    assert r["Responses"] == []
    assert c.scan(TableName="users")["Count"] == 2


def test_warm_throughput(nephos, account):
    c = ddb(nephos, account)
    created = c.create_table(
        TableName="warm",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 5},
        WarmThroughput={"ReadUnitsPerSecond": 1000, "WriteUnitsPerSecond": 1200},
    )["TableDescription"]
    assert created["WarmThroughput"] == {"ReadUnitsPerSecond": 1000, "WriteUnitsPerSecond": 1200, "Status": "UPDATING"}
    t = c.describe_table(TableName="warm")["Table"]
    assert t["WarmThroughput"] == {"ReadUnitsPerSecond": 1000, "WriteUnitsPerSecond": 1200, "Status": "ACTIVE"}
    created = c.create_table(
        TableName="cold",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 5},
    )["TableDescription"]
    # Not asked for: absent on creation and deletion, the provisioned rate once active.
    assert "WarmThroughput" not in created
    t = c.describe_table(TableName="cold")["Table"]
    assert t["WarmThroughput"] == {"ReadUnitsPerSecond": 5, "WriteUnitsPerSecond": 5, "Status": "ACTIVE"}
    assert "WarmThroughput" not in c.delete_table(TableName="cold")["TableDescription"]


def test_describe_endpoints(nephos, account):
    c = ddb(nephos, account)
    assert c.describe_endpoints()["Endpoints"] == [
        {"Address": "dynamodb.us-east-1.amazonaws.com", "CachePeriodInMinutes": 1440}]


def test_resource_policy_lifecycle(nephos, account):
    import json

    import pytest
    from botocore.exceptions import ClientError

    c = ddb(nephos, account)
    arn = make_table(c, "withpolicy")["TableArn"]
    with pytest.raises(ClientError) as e:
        c.get_resource_policy(ResourceArn=arn)
    assert e.value.response["Error"]["Code"] == "PolicyNotFoundException"
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
        "Action": "dynamodb:GetItem", "Resource": arn}]})
    first = c.put_resource_policy(ResourceArn=arn, Policy=policy)["RevisionId"]
    got = c.get_resource_policy(ResourceArn=arn)
    assert got["Policy"] == policy and got["RevisionId"] == first
    with pytest.raises(ClientError) as e:
        c.put_resource_policy(ResourceArn=arn, Policy=policy, ExpectedRevisionId="1")
    assert e.value.response["Error"]["Code"] == "PolicyNotFoundException"
    second = c.put_resource_policy(ResourceArn=arn, Policy=policy, ExpectedRevisionId=first)["RevisionId"]
    assert int(second) > int(first)
    assert c.delete_resource_policy(ResourceArn=arn)["RevisionId"] == second
    with pytest.raises(ClientError) as e:
        c.delete_resource_policy(ResourceArn=arn)
    assert e.value.response["Error"]["Code"] == "PolicyNotFoundException"
    with pytest.raises(ClientError) as e:
        c.get_resource_policy(ResourceArn=arn.replace("withpolicy", "missing"))
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
