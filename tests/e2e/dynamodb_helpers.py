"""Shared helpers for the DynamoDB end-to-end tests."""

import boto3
from botocore.config import Config


def ddb(nephos, account):
    return nephos.client("dynamodb", account=account)


def resource(nephos, account):
    return boto3.resource(
        "dynamodb",
        endpoint_url=nephos.endpoint,
        region_name="us-east-1",
        aws_access_key_id=account,
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 0}),
    )


def make_table(client, name="t", hash_type="S", range_type=None, **extra):
    keys = [{"AttributeName": "pk", "KeyType": "HASH"}]
    defs = [{"AttributeName": "pk", "AttributeType": hash_type}]
    if range_type:
        keys.append({"AttributeName": "sk", "KeyType": "RANGE"})
        defs.append({"AttributeName": "sk", "AttributeType": range_type})
    defs += extra.pop("extra_defs", [])
    return client.create_table(
        TableName=name, KeySchema=keys, AttributeDefinitions=defs,
        BillingMode="PAY_PER_REQUEST", **extra,
    )["TableDescription"]


def error_of(excinfo):
    return excinfo.value.response["Error"]["Code"], excinfo.value.response["Error"]["Message"]
