"""DynamoDB items: put/get/update/delete, data fidelity, expressions and their errors,
batches and transactions, with the boto3 client and resource APIs."""

from decimal import Decimal

import pytest
from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from dynamodb_helpers import ddb, error_of, make_table, resource


@pytest.fixture
def table(nephos, account):
    c = ddb(nephos, account)
    make_table(c, "items", "S", "N")
    return c


def put(c, pk, sk, **attrs):
    item = {"pk": {"S": pk}, "sk": {"N": str(sk)}}
    item.update(attrs)
    c.put_item(TableName="items", Item=item)


def test_every_attribute_type_round_trips(table):
    item = {
        "pk": {"S": "a"}, "sk": {"N": "1"},
        "s": {"S": ""}, "n": {"N": "-0012.500"}, "b": {"B": b"\x00\xff"},
        "ss": {"SS": ["x", "y"]}, "ns": {"NS": ["1", "2.5"]}, "bs": {"BS": [b"1", b"2"]},
        "m": {"M": {"k": {"L": [{"NULL": True}, {"BOOL": False}]}}},
        "big": {"N": "9.9999999999999999999999999999999999999E+125"},
        "small": {"N": "1E-130"},
    }
    table.put_item(TableName="items", Item=item)
    got = table.get_item(TableName="items", Key={"pk": {"S": "a"}, "sk": {"N": "1"}}, ConsistentRead=True)["Item"]
    assert got["n"] == {"N": "-12.5"}
    assert got["s"] == {"S": ""}
    assert got["b"] == {"B": b"\x00\xff"}
    assert sorted(got["ss"]["SS"]) == ["x", "y"]
    assert sorted(got["ns"]["NS"]) == ["1", "2.5"]
    assert got["m"] == item["m"]
    assert got["big"]["N"] == "99999999999999999999999999999999999999" + "0" * 88
    assert got["small"]["N"] == "0." + "0" * 129 + "1"


@pytest.mark.parametrize("value,message", [
    ({"N": "1E+126"}, "Number overflow. Attempting to store a number with magnitude larger than supported range"),
    ({"N": "1E-131"}, "Number underflow. Attempting to store a number with magnitude smaller than supported range"),
    ({"N": "1" * 39}, "Attempting to store more than 38 significant digits in a Number"),
    ({"N": "abc"}, "The parameter cannot be converted to a numeric value: abc"),
    ({"SS": []}, "One or more parameter values were invalid: An string set  may not be empty"),
    ({"SS": ["a", "a"]}, "One or more parameter values were invalid: Input collection [a, a] contains duplicates."),
])
def test_invalid_values(table, value, message):
    with pytest.raises(ClientError) as e:
        table.put_item(TableName="items", Item={"pk": {"S": "a"}, "sk": {"N": "1"}, "v": value})
    assert error_of(e) == ("ValidationException", message)


def test_key_validation(table):
    with pytest.raises(ClientError) as e:
        table.put_item(TableName="items", Item={"pk": {"S": "a"}})
    assert error_of(e) == ("ValidationException", "One or more parameter values were invalid: Missing the key sk in the item")
    with pytest.raises(ClientError) as e:
        table.put_item(TableName="items", Item={"pk": {"N": "1"}, "sk": {"N": "1"}})
    assert error_of(e) == ("ValidationException", "One or more parameter values were invalid: Type mismatch for key pk expected: S actual: N")
    with pytest.raises(ClientError) as e:
        table.get_item(TableName="items", Key={"pk": {"S": "a"}})
    assert error_of(e) == ("ValidationException", "The provided key element does not match the schema")
    with pytest.raises(ClientError) as e:
        table.put_item(TableName="items", Item={"pk": {"S": ""}, "sk": {"N": "1"}})
    assert "cannot contain an empty string value. Key: pk" in error_of(e)[1]
    with pytest.raises(ClientError) as e:
        table.put_item(TableName="items", Item={"pk": {"S": "x" * 2049}, "sk": {"N": "1"}})
    assert "Size of hashkey has exceeded the maximum size limit of2048 bytes" in error_of(e)[1]
    with pytest.raises(ClientError) as e:
        table.get_item(TableName="nope", Key={"pk": {"S": "a"}})
    assert error_of(e) == ("ResourceNotFoundException", "Requested resource not found")


def test_item_size_limit(table):
    big = "x" * (400 * 1024 - 20)
    table.put_item(TableName="items", Item={"pk": {"S": "a"}, "sk": {"N": "1"}, "d": {"S": big}})
    with pytest.raises(ClientError) as e:
        table.put_item(TableName="items", Item={"pk": {"S": "a"}, "sk": {"N": "1"}, "d": {"S": big + "x" * 30}})
    assert error_of(e) == ("ValidationException", "Item size has exceeded the maximum allowed size")


def test_conditions_and_return_values(table):
    put(table, "a", 1, v={"N": "1"})
    with pytest.raises(ClientError) as e:
        table.put_item(
            TableName="items", Item={"pk": {"S": "a"}, "sk": {"N": "1"}},
            ConditionExpression="attribute_not_exists(pk)",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    assert error_of(e) == ("ConditionalCheckFailedException", "The conditional request failed")
    assert e.value.response["Item"]["v"] == {"N": "1"}
    old = table.put_item(TableName="items", Item={"pk": {"S": "a"}, "sk": {"N": "1"}, "v": {"N": "2"}},
                         ConditionExpression="v = :one", ExpressionAttributeValues={":one": {"N": "1"}},
                         ReturnValues="ALL_OLD")["Attributes"]
    assert old["v"] == {"N": "1"}
    r = table.update_item(
        TableName="items", Key={"pk": {"S": "a"}, "sk": {"N": "1"}},
        UpdateExpression="SET v = v + :d, #l = list_append(if_not_exists(#l, :empty), :one) ADD tags :t",
        ExpressionAttributeNames={"#l": "list"},
        ExpressionAttributeValues={":d": {"N": "0.5"}, ":one": {"L": [{"S": "x"}]}, ":empty": {"L": []}, ":t": {"SS": ["q"]}},
        ReturnValues="UPDATED_NEW",
    )["Attributes"]
    assert r == {"v": {"N": "2.5"}, "list": {"L": [{"S": "x"}]}, "tags": {"SS": ["q"]}}
    r = table.update_item(
        TableName="items", Key={"pk": {"S": "a"}, "sk": {"N": "1"}},
        UpdateExpression="REMOVE v DELETE tags :t", ExpressionAttributeValues={":t": {"SS": ["q"]}},
        ReturnValues="ALL_NEW",
    )["Attributes"]
    assert "v" not in r and "tags" not in r
    deleted = table.delete_item(TableName="items", Key={"pk": {"S": "a"}, "sk": {"N": "1"}}, ReturnValues="ALL_OLD")
    assert deleted["Attributes"]["list"] == {"L": [{"S": "x"}]}
    assert "Item" not in table.get_item(TableName="items", Key={"pk": {"S": "a"}, "sk": {"N": "1"}})


def test_update_creates_and_rejects_key_changes(table):
    r = table.update_item(TableName="items", Key={"pk": {"S": "n"}, "sk": {"N": "5"}},
                          UpdateExpression="SET c = :z", ExpressionAttributeValues={":z": {"N": "0"}},
                          ReturnValues="ALL_NEW")["Attributes"]
    assert r == {"pk": {"S": "n"}, "sk": {"N": "5"}, "c": {"N": "0"}}
    with pytest.raises(ClientError) as e:
        table.update_item(TableName="items", Key={"pk": {"S": "n"}, "sk": {"N": "5"}},
                          UpdateExpression="SET pk = :z", ExpressionAttributeValues={":z": {"S": "0"}})
    assert error_of(e)[1] == "One or more parameter values were invalid: Cannot update attribute pk. This attribute is part of the key"


@pytest.mark.parametrize("kwargs,message", [
    ({"ConditionExpression": "a = = :v", "ExpressionAttributeValues": {":v": {"S": "x"}}},
     'Invalid ConditionExpression: Syntax error; token: "=", near: "= = :v"'),
    ({"ConditionExpression": "a = :v", "ExpressionAttributeValues": {":v": {"S": "x"}, ":x": {"S": "y"}}},
     "Value provided in ExpressionAttributeValues unused in expressions: keys: {:x}"),
    ({"ConditionExpression": "#n = :v", "ExpressionAttributeValues": {":v": {"S": "x"}}},
     "Invalid ConditionExpression: An expression attribute name used in the document path is not defined; attribute name: #n"),
    ({"ConditionExpression": "name = :v", "ExpressionAttributeValues": {":v": {"S": "x"}}},
     "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: name"),
    ({"ConditionExpression": "a = :v"},
     "Invalid ConditionExpression: An expression attribute value used in expression is not defined; attribute value: :v"),
    ({"ConditionExpression": "bogus(a)"}, "Invalid ConditionExpression: Invalid function name; function: bogus"),
])
def test_expression_errors(table, kwargs, message):
    with pytest.raises(ClientError) as e:
        table.put_item(TableName="items", Item={"pk": {"S": "a"}, "sk": {"N": "1"}}, **kwargs)
    assert error_of(e) == ("ValidationException", message)


def test_projection_nested_paths(table):
    put(table, "p", 1, m={"M": {"a": {"L": [{"N": "1"}, {"N": "2"}, {"N": "3"}]}, "b": {"S": "x"}}}, top={"S": "t"})
    got = table.get_item(TableName="items", Key={"pk": {"S": "p"}, "sk": {"N": "1"}},
                         ProjectionExpression="m.a[1], #t", ExpressionAttributeNames={"#t": "top"})["Item"]
    assert got == {"m": {"M": {"a": {"L": [{"N": "2"}]}}}, "top": {"S": "t"}}


def test_resource_api_and_condition_builders(nephos, account):
    c = ddb(nephos, account)
    make_table(c, "res", "S", "N")
    t = resource(nephos, account).Table("res")
    for i in range(10):
        t.put_item(Item={"pk": "p", "sk": i, "price": Decimal("0.1") * i, "tags": {"a", "b"}})
    assert t.get_item(Key={"pk": "p", "sk": 3})["Item"]["price"] == Decimal("0.3")
    r = t.query(KeyConditionExpression=Key("pk").eq("p") & Key("sk").between(2, 5),
                FilterExpression=Attr("price").gt(Decimal("0.25")) & Attr("tags").contains("a"))
    assert [int(i["sk"]) for i in r["Items"]] == [3, 4, 5]
    assert r["ScannedCount"] == 4
    r = t.scan(FilterExpression=Attr("sk").is_in([1, 9]) | Attr("nothing").exists())
    assert sorted(int(i["sk"]) for i in r["Items"]) == [1, 9]
    t.update_item(Key={"pk": "p", "sk": 1}, UpdateExpression="SET price = price + :x",
                  ExpressionAttributeValues={":x": Decimal("0.2")})
    assert t.get_item(Key={"pk": "p", "sk": 1})["Item"]["price"] == Decimal("0.3")
    with t.batch_writer() as bw:
        for i in range(30):
            bw.put_item(Item={"pk": "q", "sk": i})
    assert t.query(KeyConditionExpression=Key("pk").eq("q"), Select="COUNT")["Count"] == 30


def test_batch_get_and_write(table):
    table.batch_write_item(RequestItems={"items": [
        {"PutRequest": {"Item": {"pk": {"S": "b"}, "sk": {"N": str(i)}}}} for i in range(25)
    ]})
    r = table.batch_get_item(RequestItems={"items": {
        "Keys": [{"pk": {"S": "b"}, "sk": {"N": str(i)}} for i in range(0, 25, 5)] + [{"pk": {"S": "zz"}, "sk": {"N": "0"}}],
        "ProjectionExpression": "sk",
    }})
    assert sorted(int(i["sk"]["N"]) for i in r["Responses"]["items"]) == [0, 5, 10, 15, 20]
    assert r["UnprocessedKeys"] == {}
    with pytest.raises(ClientError) as e:
        table.batch_write_item(RequestItems={"items": [
            {"PutRequest": {"Item": {"pk": {"S": "b"}, "sk": {"N": "1"}}}},
            {"DeleteRequest": {"Key": {"pk": {"S": "b"}, "sk": {"N": "1"}}}},
        ]})
    assert error_of(e) == ("ValidationException", "Provided list of item keys contains duplicates")
    with pytest.raises(ClientError) as e:
        table.batch_write_item(RequestItems={"items": [
            {"PutRequest": {"Item": {"pk": {"S": "b"}, "sk": {"N": str(i)}}}} for i in range(26)
        ]})
    assert error_of(e)[0] == "ValidationException"
    r = table.batch_write_item(RequestItems={"items": [
        {"DeleteRequest": {"Key": {"pk": {"S": "b"}, "sk": {"N": str(i)}}}} for i in range(25)
    ]})
    assert r["UnprocessedItems"] == {}
    assert table.scan(TableName="items")["Count"] == 0


def test_transactions(table):
    put(table, "t", 1, v={"N": "1"})
    table.transact_write_items(TransactItems=[
        {"Put": {"TableName": "items", "Item": {"pk": {"S": "t"}, "sk": {"N": "2"}}}},
        {"Update": {"TableName": "items", "Key": {"pk": {"S": "t"}, "sk": {"N": "1"}},
                    "UpdateExpression": "SET v = v + :one", "ExpressionAttributeValues": {":one": {"N": "1"}}}},
        {"ConditionCheck": {"TableName": "items", "Key": {"pk": {"S": "t"}, "sk": {"N": "1"}},
                            "ConditionExpression": "attribute_exists(pk)"}},
    ][:2])
    with pytest.raises(ClientError) as e:
        table.transact_write_items(TransactItems=[
            {"Put": {"TableName": "items", "Item": {"pk": {"S": "t"}, "sk": {"N": "3"}}}},
            {"ConditionCheck": {"TableName": "items", "Key": {"pk": {"S": "t"}, "sk": {"N": "1"}},
                                "ConditionExpression": "v = :x", "ExpressionAttributeValues": {":x": {"N": "100"}},
                                "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}},
        ])
    code, msg = error_of(e)
    assert code == "TransactionCanceledException"
    assert msg == "Transaction cancelled, please refer cancellation reasons for specific reasons [None, ConditionalCheckFailed]"
    reasons = e.value.response["CancellationReasons"]
    assert reasons[0] == {"Code": "None"}
    assert reasons[1]["Code"] == "ConditionalCheckFailed"
    assert reasons[1]["Item"]["v"] == {"N": "2"}
    assert "Item" not in table.get_item(TableName="items", Key={"pk": {"S": "t"}, "sk": {"N": "3"}})
    with pytest.raises(ClientError) as e:
        table.transact_write_items(TransactItems=[
            {"Put": {"TableName": "items", "Item": {"pk": {"S": "t"}, "sk": {"N": "3"}}}},
            {"Delete": {"TableName": "items", "Key": {"pk": {"S": "t"}, "sk": {"N": "3"}}}},
        ])
    assert error_of(e)[0] == "ValidationException"
    r = table.transact_get_items(TransactItems=[
        {"Get": {"TableName": "items", "Key": {"pk": {"S": "t"}, "sk": {"N": "1"}}}},
        {"Get": {"TableName": "items", "Key": {"pk": {"S": "t"}, "sk": {"N": "9"}}}},
    ])["Responses"]
    assert r[0]["Item"]["v"] == {"N": "2"} and r[1] == {}


def test_transaction_idempotency_token(table):
    req = [{"Update": {"TableName": "items", "Key": {"pk": {"S": "i"}, "sk": {"N": "1"}},
                       "UpdateExpression": "ADD c :one", "ExpressionAttributeValues": {":one": {"N": "1"}}}}]
    table.transact_write_items(TransactItems=req, ClientRequestToken="tok1")
    table.transact_write_items(TransactItems=req, ClientRequestToken="tok1")
    got = table.get_item(TableName="items", Key={"pk": {"S": "i"}, "sk": {"N": "1"}})["Item"]
    assert got["c"] == {"N": "1"}
    req[0]["Update"]["ExpressionAttributeValues"][":one"] = {"N": "2"}
    with pytest.raises(ClientError) as e:
        table.transact_write_items(TransactItems=req, ClientRequestToken="tok1")
    assert error_of(e)[0] == "IdempotentParameterMismatchException"


def test_consumed_capacity(table):
    r = table.put_item(TableName="items", Item={"pk": {"S": "c"}, "sk": {"N": "1"}, "d": {"S": "x" * 1500}},
                       ReturnConsumedCapacity="TOTAL")
    assert r["ConsumedCapacity"] == {"TableName": "items", "CapacityUnits": 2.0, "WriteCapacityUnits": 2.0}
    r = table.get_item(TableName="items", Key={"pk": {"S": "c"}, "sk": {"N": "1"}}, ReturnConsumedCapacity="TOTAL")
    assert r["ConsumedCapacity"]["CapacityUnits"] == 0.5
    r = table.get_item(TableName="items", Key={"pk": {"S": "c"}, "sk": {"N": "1"}}, ConsistentRead=True,
                       ReturnConsumedCapacity="INDEXES")
    assert r["ConsumedCapacity"]["Table"]["CapacityUnits"] == 1.0
    r = table.transact_write_items(TransactItems=[
        {"Put": {"TableName": "items", "Item": {"pk": {"S": "c"}, "sk": {"N": "2"}}}}], ReturnConsumedCapacity="TOTAL")
    assert r["ConsumedCapacity"][0]["CapacityUnits"] == 2.0
    # An overwrite is charged for the larger of the old and new item, and a plain
    # overwrite (no condition, no ALL_OLD) is charged the same as one that reads the old.
    big = {"pk": {"S": "c"}, "sk": {"N": "3"}, "d": {"S": "x" * 2900}}
    table.put_item(TableName="items", Item=big)
    small = {"pk": {"S": "c"}, "sk": {"N": "3"}}
    r = table.put_item(TableName="items", Item=small, ReturnConsumedCapacity="TOTAL")
    assert r["ConsumedCapacity"]["CapacityUnits"] == 3.0
    r = table.put_item(TableName="items", Item=big, ReturnConsumedCapacity="TOTAL", ReturnValues="ALL_OLD")
    assert r["ConsumedCapacity"]["CapacityUnits"] == 3.0 and r["Attributes"] == small
    r = table.put_item(TableName="items", Item=small, ReturnConsumedCapacity="TOTAL")
    assert r["ConsumedCapacity"]["CapacityUnits"] == 3.0


def test_expression_attribute_maps_need_an_expression_and_entries(table):
    key = {"pk": {"S": "a"}, "sk": {"N": "1"}}
    with pytest.raises(ClientError) as e:
        table.get_item(TableName="items", Key=key, ExpressionAttributeNames={"#n": "name"})
    assert error_of(e) == (
        "ValidationException",
        "ExpressionAttributeNames can only be specified when using expressions",
    )
    with pytest.raises(ClientError) as e:
        table.delete_item(TableName="items", Key=key, ExpressionAttributeValues={":v": {"S": "x"}})
    assert error_of(e) == (
        "ValidationException",
        "ExpressionAttributeValues can only be specified when using expressions",
    )
    with pytest.raises(ClientError) as e:
        table.get_item(TableName="items", Key=key, ProjectionExpression="pk", ExpressionAttributeNames={})
    assert error_of(e) == ("ValidationException", "ExpressionAttributeNames must not be empty")
