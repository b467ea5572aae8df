"""DynamoDB export to S3 and import from S3, through nephos's S3."""

import json

import pytest
from botocore.exceptions import ClientError

from dynamodb_helpers import ddb, error_of, make_table


def test_export_then_import_round_trips(nephos, account):
    c = ddb(nephos, account)
    s3 = nephos.client("s3", account=account)
    bucket = f"exp-{account}"
    s3.create_bucket(Bucket=bucket)
    arn = make_table(c, "ex", "S", "N")["TableArn"]
    items = [{"pk": {"S": f"p{i}"}, "sk": {"N": str(i)}, "b": {"B": b"\x00\x01"}, "m": {"M": {"x": {"L": [{"N": "1.5"}]}}}}
             for i in range(4)]
    for it in items:
        c.put_item(TableName="ex", Item=it)
    with pytest.raises(ClientError) as e:
        c.export_table_to_point_in_time(TableArn=arn, S3Bucket=bucket)
    assert error_of(e)[0] == "PointInTimeRecoveryUnavailableException"
    c.update_continuous_backups(TableName="ex", PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
    d = c.export_table_to_point_in_time(TableArn=arn, S3Bucket=bucket, S3Prefix="dumps")["ExportDescription"]
    assert d["ExportStatus"] == "COMPLETED" and d["ItemCount"] == 4
    assert c.describe_export(ExportArn=d["ExportArn"])["ExportDescription"]["ExportArn"] == d["ExportArn"]
    assert [x["ExportArn"] for x in c.list_exports(TableArn=arn)["ExportSummaries"]] == [d["ExportArn"]]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="dumps/AWSDynamoDB/")["Contents"]]
    assert any(k.endswith("manifest-summary.json") for k in keys)
    data_key = next(k for k in keys if "/data/" in k)
    lines = s3.get_object(Bucket=bucket, Key=data_key)["Body"].read().decode().splitlines()
    assert len(lines) == 4 and json.loads(lines[0])["Item"]["pk"] == {"S": "p0"}
    # Import the data file into a new table.
    prefix = data_key.rsplit("/", 1)[0] + "/"
    imp = c.import_table(
        S3BucketSource={"S3Bucket": bucket, "S3KeyPrefix": prefix}, InputFormat="DYNAMODB_JSON",
        TableCreationParameters={
            "TableName": "imported", "BillingMode": "PAY_PER_REQUEST",
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"},
                                     {"AttributeName": "sk", "AttributeType": "N"}]})["ImportTableDescription"]
    assert imp["ImportStatus"] == "COMPLETED" and imp["ImportedItemCount"] == 4
    assert c.describe_import(ImportArn=imp["ImportArn"])["ImportTableDescription"]["ImportStatus"] == "COMPLETED"
    assert len(c.list_imports()["ImportSummaryList"]) == 1
    got = c.get_item(TableName="imported", Key={"pk": {"S": "p2"}, "sk": {"N": "2"}})["Item"]
    assert got == items[2]


def test_import_csv(nephos, account):
    c = ddb(nephos, account)
    s3 = nephos.client("s3", account=account)
    bucket = f"csv-{account}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="in/a.csv", Body=b"id,name,age\n1,ann,30\n2,bob,40\n")
    imp = c.import_table(
        S3BucketSource={"S3Bucket": bucket, "S3KeyPrefix": "in/"}, InputFormat="CSV",
        TableCreationParameters={
            "TableName": "people", "BillingMode": "PAY_PER_REQUEST",
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "N"}]})["ImportTableDescription"]
    assert imp["ImportedItemCount"] == 2 and imp["ErrorCount"] == 0
    got = c.get_item(TableName="people", Key={"id": {"N": "2"}})["Item"]
    assert got == {"id": {"N": "2"}, "name": {"S": "bob"}, "age": {"S": "40"}}
