"""Exact error codes and messages of DynamoDB's commonest failures, as AWS words them
(AWS docs, and compatibility suites verified against DynamoDB): key schema validation,
missing key attributes, type mismatches, conditional checks, missing and existing tables,
and expression errors."""

import pytest
from botocore.exceptions import ClientError

from dynamodb_helpers import ddb, error_of

S = lambda v: {"S": v}  # noqa: E731
V = "ValidationException"


@pytest.fixture
def c(nephos, account):
    c = ddb(nephos, account)
    c.create_table(TableName="h", KeySchema=[{"AttributeName": "a", "KeyType": "HASH"}],
                   AttributeDefinitions=[{"AttributeName": "a", "AttributeType": "S"}],
                   BillingMode="PAY_PER_REQUEST")
    c.create_table(
        TableName="r",
        KeySchema=[{"AttributeName": "a", "KeyType": "HASH"}, {"AttributeName": "b", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in "abc"],
        LocalSecondaryIndexes=[{"IndexName": "index4", "Projection": {"ProjectionType": "ALL"},
                                "KeySchema": [{"AttributeName": "a", "KeyType": "HASH"},
                                              {"AttributeName": "c", "KeyType": "RANGE"}]}],
        BillingMode="PAY_PER_REQUEST")
    return c


def fails(fn, code, message):
    with pytest.raises(ClientError) as e:
        fn()
    assert error_of(e) == (code, message)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_key_attribute_errors(c):
    fails(lambda: c.put_item(TableName="h", Item={"b": S("x")}), V,
          "One or more parameter values were invalid: Missing the key a in the item")
    fails(lambda: c.put_item(TableName="r", Item={"a": S("x")}), V,
          "One or more parameter values were invalid: Missing the key b in the item")
    fails(lambda: c.put_item(TableName="h", Item={"a": {"N": "1"}}), V,
          "One or more parameter values were invalid: Type mismatch for key a expected: S actual: N")
    fails(lambda: c.put_item(TableName="h", Item={"a": {"SS": ["x"]}}), V,
          "One or more parameter values were invalid: Type mismatch for key a expected: S actual: SS")
    fails(lambda: c.put_item(TableName="r", Item={"a": S("a"), "b": S("a"), "c": {"N": "1"}}), V,
          "One or more parameter values were invalid: Type mismatch for Index Key c Expected: S Actual: N IndexName: index4")
    fails(lambda: c.put_item(TableName="h", Item={"a": S("x" * 2049)}), V,
          "One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of2048 bytes")
    fails(lambda: c.put_item(TableName="r", Item={"a": S("x"), "b": S("x" * 1025)}), V,
          "One or more parameter values were invalid: Aggregated size of all range keys has exceeded the size limit of 1024 bytes")
    for key in ({"b": S("x")}, {"a": {"N": "1"}}, {"a": S("x"), "b": S("y")}):
        fails(lambda: c.get_item(TableName="h", Key=key), V, "The provided key element does not match the schema")
        fails(lambda: c.delete_item(TableName="h", Key=key), V, "The provided key element does not match the schema")
    fails(lambda: c.update_item(TableName="h", Key={"a": S("x")}, UpdateExpression="SET a = :v",
                                ExpressionAttributeValues={":v": S("y")}), V,
          "One or more parameter values were invalid: Cannot update attribute a. This attribute is part of the key")


def test_return_values_of_put_and_delete(c):
    for rv in ("ALL_NEW", "UPDATED_OLD", "UPDATED_NEW"):
        fails(lambda: c.put_item(TableName="h", Item={"a": S("x")}, ReturnValues=rv), V,
              "ReturnValues can only be ALL_OLD or NONE")
        fails(lambda: c.delete_item(TableName="h", Key={"a": S("x")}, ReturnValues=rv), V,
              "ReturnValues can only be ALL_OLD or NONE")


def test_missing_and_existing_tables(c):
    nf = "ResourceNotFoundException"
    fails(lambda: c.get_item(TableName="nope", Key={"a": S("x")}), nf, "Requested resource not found")
    fails(lambda: c.put_item(TableName="nope", Item={"a": S("x")}), nf, "Requested resource not found")
    fails(lambda: c.query(TableName="nope", KeyConditionExpression="a = :a",
                          ExpressionAttributeValues={":a": S("x")}), nf, "Requested resource not found")
    fails(lambda: c.scan(TableName="nope"), nf, "Requested resource not found")
    fails(lambda: c.batch_get_item(RequestItems={"nope": {"Keys": [{"a": S("x")}]}}), nf,
          "Requested resource not found")
    fails(lambda: c.describe_table(TableName="nope"), nf, "Requested resource not found: Table: nope not found")
    fails(lambda: c.delete_table(TableName="nope"), nf, "Requested resource not found: Table: nope not found")
    fails(lambda: c.create_table(TableName="h", KeySchema=[{"AttributeName": "a", "KeyType": "HASH"}],
                                 AttributeDefinitions=[{"AttributeName": "a", "AttributeType": "S"}],
                                 BillingMode="PAY_PER_REQUEST"),
          "ResourceInUseException", "Table already exists: h")


def test_conditional_check_failed(c):
    fails(lambda: c.put_item(TableName="h", Item={"a": S("x")}, ConditionExpression="attribute_exists(a)"),
          "ConditionalCheckFailedException", "The conditional request failed")


def test_create_table_key_schema(c):
    def create(keys, defs):
        return lambda: c.create_table(
            TableName="x", BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": n, "KeyType": t} for n, t in keys],
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in defs])
    fails(create([("a", "RANGE")], "a"), V, "Invalid KeySchema: The first KeySchemaElement is not a HASH key type")
    fails(create([("a", "HASH"), ("b", "HASH")], "ab"), V,
          "Invalid KeySchema: The second KeySchemaElement is not a RANGE key type")
    fails(create([("a", "HASH")], "z"), V,
          "One or more parameter values were invalid: Some index key attributes are not defined in "
          "AttributeDefinitions. Keys: [a], AttributeDefinitions: [z]")
    fails(create([("a", "HASH")], "az"), V,
          "One or more parameter values were invalid: Number of attributes in KeySchema does not exactly match "
          "number of attributes defined in AttributeDefinitions")


def test_expression_errors(c):
    def upd(expr, values=None, names=None):
        kw = {}
        if values is not None:
            kw["ExpressionAttributeValues"] = values
        if names is not None:
            kw["ExpressionAttributeNames"] = names
        return lambda: c.update_item(TableName="h", Key={"a": S("x")}, UpdateExpression=expr, **kw)

    one = {":a": S("1")}
    fails(upd(""), V, "Invalid UpdateExpression: The expression can not be empty;")
    fails(lambda: c.put_item(TableName="h", Item={"a": S("x")}, ConditionExpression=""), V,
          "Invalid ConditionExpression: The expression can not be empty;")
    fails(upd("remove Absolute"), V,
          "Invalid UpdateExpression: Attribute name is a reserved keyword; reserved keyword: Absolute")
    fails(upd("set b = :a set c = :a", one), V,
          'Invalid UpdateExpression: The "SET" section can only be used once in an update expression;')
    fails(upd("set #c = :a", one, {"#a": "q"}), V,
          "Invalid UpdateExpression: An expression attribute name used in the document path is not defined; "
          "attribute name: #c")
    fails(upd("set b = :c", one), V,
          "Invalid UpdateExpression: An expression attribute value used in expression is not defined; "
          "attribute value: :c")
    fails(upd("set b = :a remove b", one), V,
          "Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of "
          "these paths; path one: [b], path two: [b]")
    fails(upd("set b = :a", one, {"#a": "q"}), V,
          "Value provided in ExpressionAttributeNames unused in expressions: keys: {#a}")
    fails(upd("set b = :a", {":a": S("1"), ":b": S("2")}), V,
          "Value provided in ExpressionAttributeValues unused in expressions: keys: {:b}")
    fails(upd("set b = :a", {}), V, "ExpressionAttributeValues must not be empty")
    fails(upd("set b = :a", {":a": S("1"), "b": S("2")}), V,
          'ExpressionAttributeValues contains invalid key: Syntax error; key: "b"')
    fails(upd("set b = :a", one, {"c": "d"}), V,
          'ExpressionAttributeNames contains invalid key: Syntax error; key: "c"')
    # Literal operands are type-checked before the item is read.
    fails(upd("set b = b + :a", one), V,
          "Invalid UpdateExpression: Incorrect operand type for operator or function; "
          "operator or function: +, operand type: S")
    fails(upd("set b = list_append(b, :a)", {":a": {"N": "1"}}), V,
          "Invalid UpdateExpression: Incorrect operand type for operator or function; "
          "operator or function: list_append, operand type: N")
    fails(upd("add b :a", one), V,
          "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: ADD, operand type: STRING")
    fails(upd("set b = if_not_exists(c)"), V,
          "Invalid UpdateExpression: Incorrect number of operands for operator or function; "
          "operator or function: if_not_exists, number of operands: 1")
    fails(upd("set b = foo(c)"), V, "Invalid UpdateExpression: Invalid function name; function: foo")
    fails(upd("set b = size(c)"), V,
          "Invalid UpdateExpression: The function is not allowed in an update expression; function: size")
    fails(lambda: c.put_item(TableName="h", Item={"a": S("x")}, ConditionExpression="if_not_exists(a, b) = c"), V,
          "Invalid ConditionExpression: The function is not allowed in a condition expression; function: if_not_exists")
    fails(lambda: c.put_item(TableName="h", Item={"a": S("x")}, ConditionExpression="a = :v"), V,
          "Invalid ConditionExpression: An expression attribute value used in expression is not defined; "
          "attribute value: :v")


def test_query_and_scan_errors(c):
    vals = {":a": S("1")}
    fails(lambda: c.query(TableName="h", KeyConditionExpression="b = :a", ExpressionAttributeValues=vals), V,
          "Query condition missed key schema element: a")
    fails(lambda: c.query(TableName="h", KeyConditionExpression="a = :a", FilterExpression="a = :a",
                          ExpressionAttributeValues=vals), V,
          "Filter Expression can only contain non-primary key attributes: Primary key attribute: a")
    fails(lambda: c.query(TableName="h", IndexName="nope", KeyConditionExpression="a = :a",
                          ExpressionAttributeValues=vals), V, "The table does not have the specified index: nope")
    # Query words this one as a constraint violation, Scan does not.
    fails(lambda: c.query(TableName="h", KeyConditionExpression="a = :a", ExpressionAttributeValues=vals,
                          Select="COUNT", ProjectionExpression="b"), V,
          "1 validation error detected: Cannot specify the ProjectionExpression when choosing to get only the Count")
    fails(lambda: c.scan(TableName="h", Select="COUNT", ProjectionExpression="b"), V,
          "Cannot specify the ProjectionExpression when choosing to get only the Count")
