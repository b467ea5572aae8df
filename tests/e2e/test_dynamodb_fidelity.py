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
