"""DynamoDB Query and Scan: ordering per key type, pagination, Select, the 1 MB page,
parallel scans, secondary indexes, and the key-condition errors."""

import pytest
from botocore.exceptions import ClientError

from dynamodb_helpers import ddb, error_of, make_table


def keys(r, attr="sk", ty="N"):
    return [i[attr][ty] for i in r["Items"]]


def test_number_sort_keys_order_by_value(nephos, account):
    c = ddb(nephos, account)
    make_table(c, "q", "S", "N")
    nums = ["-100", "-1.5", "-1", "0", "0.001", "1", "1.25", "2", "10", "1E+20"]
    for n in reversed(nums):
        c.put_item(TableName="q", Item={"pk": {"S": "p"}, "sk": {"N": n}})
    r = c.query(TableName="q", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "p"}})
    assert keys(r) == ["-100", "-1.5", "-1", "0", "0.001", "1", "1.25", "2", "10", "100000000000000000000"]
    r = c.query(TableName="q", KeyConditionExpression="pk = :p AND sk BETWEEN :a AND :b", ScanIndexForward=False,
                ExpressionAttributeValues={":p": {"S": "p"}, ":a": {"N": "-1"}, ":b": {"N": "1.25"}})
    assert keys(r) == ["1.25", "1", "0.001", "0", "-1"]
    for op, expect in [("<", ["-100", "-1.5"]), ("<=", ["-100", "-1.5", "-1"]), (">", ["10", "100000000000000000000"])]:
        v = "-1" if op in ("<", "<=") else "2"
        r = c.query(TableName="q", KeyConditionExpression=f"pk = :p AND sk {op} :v",
                    ExpressionAttributeValues={":p": {"S": "p"}, ":v": {"N": v}})
        assert keys(r) == expect, op


def test_string_and_binary_sort_keys(nephos, account):
    c = ddb(nephos, account)
    make_table(c, "s", "S", "S")
    for s in ["b", "a", "ab", "B", "é", "a\u0000"]:
        c.put_item(TableName="s", Item={"pk": {"S": "p"}, "sk": {"S": s}})
    r = c.query(TableName="s", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "p"}})
    assert keys(r, ty="S") == sorted(["b", "a", "ab", "B", "é", "a\u0000"], key=lambda s: s.encode())
    r = c.query(TableName="s", KeyConditionExpression="pk = :p AND begins_with(sk, :a)",
                ExpressionAttributeValues={":p": {"S": "p"}, ":a": {"S": "a"}})
    assert keys(r, ty="S") == ["a", "a\u0000", "ab"]
    make_table(c, "bin", "S", "B")
    for b in [b"\x80", b"\x01", b"\x01\x00", b"\xff"]:
        c.put_item(TableName="bin", Item={"pk": {"S": "p"}, "sk": {"B": b}})
    r = c.query(TableName="bin", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "p"}})
    assert keys(r, ty="B") == [b"\x01", b"\x01\x00", b"\x80", b"\xff"]


def test_pagination_limit_and_select(nephos, account):
    c = ddb(nephos, account)
    make_table(c, "pg", "S", "N")
    for i in range(10):
        c.put_item(TableName="pg", Item={"pk": {"S": "p"}, "sk": {"N": str(i)}, "odd": {"BOOL": i % 2 == 1}})
    seen = []
    start = None
    while True:
        kw = {"ExclusiveStartKey": start} if start else {}
        r = c.query(TableName="pg", KeyConditionExpression="pk = :p", Limit=3,
                    FilterExpression="odd = :t",
                    ExpressionAttributeValues={":p": {"S": "p"}, ":t": {"BOOL": True}}, **kw)
        seen += keys(r)
        start = r.get("LastEvaluatedKey")
        if not start:
            break
    assert seen == ["1", "3", "5", "7", "9"]
    r = c.query(TableName="pg", KeyConditionExpression="pk = :p", Select="COUNT",
                ExpressionAttributeValues={":p": {"S": "p"}})
    assert r["Count"] == 10 and "Items" not in r
    r = c.scan(TableName="pg", ProjectionExpression="sk", Limit=4)
    assert r["Count"] == 4 and set(r["Items"][0]) == {"sk"} and "LastEvaluatedKey" in r
    total = 0
    for seg in range(3):
        total += c.scan(TableName="pg", Segment=seg, TotalSegments=3)["Count"]
    assert total == 10
    pages = list(c.get_paginator("scan").paginate(TableName="pg", PaginationConfig={"PageSize": 4}))
    assert sum(p["Count"] for p in pages) == 10


def test_one_megabyte_pages(nephos, account):
    c = ddb(nephos, account)
    make_table(c, "big", "S", "N")
    blob = "x" * 300_000
    for i in range(5):
        c.put_item(TableName="big", Item={"pk": {"S": "p"}, "sk": {"N": str(i)}, "d": {"S": blob}})
    r = c.query(TableName="big", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "p"}})
    assert r["Count"] == 4 and r["LastEvaluatedKey"] == {"pk": {"S": "p"}, "sk": {"N": "3"}}


def test_key_condition_errors(nephos, account):
    c = ddb(nephos, account)
    make_table(c, "kc", "S", "N")
    with pytest.raises(ClientError) as e:
        c.query(TableName="kc", KeyConditionExpression="sk = :v", ExpressionAttributeValues={":v": {"N": "1"}})
    assert error_of(e) == ("ValidationException", "Query condition missed key schema element: pk")
    with pytest.raises(ClientError) as e:
        c.query(TableName="kc", KeyConditionExpression="pk = :v OR sk = :w",
                ExpressionAttributeValues={":v": {"S": "1"}, ":w": {"N": "1"}})
    assert error_of(e) == ("ValidationException", "Query key condition not supported")
    with pytest.raises(ClientError) as e:
        c.query(TableName="kc", KeyConditionExpression="pk = :v", FilterExpression="sk > :w",
                ExpressionAttributeValues={":v": {"S": "1"}, ":w": {"N": "1"}})
    assert error_of(e) == ("ValidationException", "Filter Expression can only contain non-primary key attributes: Primary key attribute: sk")
    with pytest.raises(ClientError) as e:
        c.query(TableName="kc", KeyConditionExpression="pk = :v", ExpressionAttributeValues={":v": {"N": "1"}})
    assert error_of(e)[1] == "One or more parameter values were invalid: Condition parameter type does not match schema type"


def test_indexes(nephos, account):
    c = ddb(nephos, account)
    c.create_table(
        TableName="ix",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"},
            {"AttributeName": "score", "AttributeType": "N"}, {"AttributeName": "team", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
        LocalSecondaryIndexes=[{
            "IndexName": "by_score", "Projection": {"ProjectionType": "KEYS_ONLY"},
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "score", "KeyType": "RANGE"}],
        }],
        GlobalSecondaryIndexes=[{
            "IndexName": "by_team", "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["name"]},
            "KeySchema": [{"AttributeName": "team", "KeyType": "HASH"}, {"AttributeName": "score", "KeyType": "RANGE"}],
        }],
    )
    rows = [("u1", "a", 30, "red"), ("u1", "b", 10, "blue"), ("u1", "c", 20, None), ("u2", "a", 5, "red")]
    for pk, sk, score, team in rows:
        item = {"pk": {"S": pk}, "sk": {"S": sk}, "score": {"N": str(score)}, "name": {"S": pk + sk}, "other": {"S": "o"}}
        if team:
            item["team"] = {"S": team}
        c.put_item(TableName="ix", Item=item)
    r = c.query(TableName="ix", IndexName="by_score", KeyConditionExpression="pk = :p AND score > :s",
                ExpressionAttributeValues={":p": {"S": "u1"}, ":s": {"N": "15"}})
    assert [i["sk"]["S"] for i in r["Items"]] == ["c", "a"]
    assert set(r["Items"][0]) == {"pk", "sk", "score"}
    r = c.query(TableName="ix", IndexName="by_team", KeyConditionExpression="team = :t",
                ExpressionAttributeValues={":t": {"S": "red"}}, ScanIndexForward=False)
    assert [i["score"]["N"] for i in r["Items"]] == ["30", "5"]
    assert set(r["Items"][0]) == {"pk", "sk", "score", "team", "name"}
    # Sparse: the item without a team is not in the GSI.
    assert c.scan(TableName="ix", IndexName="by_team")["Count"] == 3
    # Pagination over an index.
    r1 = c.query(TableName="ix", IndexName="by_team", KeyConditionExpression="team = :t", Limit=1,
                 ExpressionAttributeValues={":t": {"S": "red"}})
    r2 = c.query(TableName="ix", IndexName="by_team", KeyConditionExpression="team = :t", Limit=1,
                 ExclusiveStartKey=r1["LastEvaluatedKey"], ExpressionAttributeValues={":t": {"S": "red"}})
    assert [r1["Items"][0]["score"]["N"], r2["Items"][0]["score"]["N"]] == ["5", "30"]
    # Moving an item between index keys updates the index.
    c.update_item(TableName="ix", Key={"pk": {"S": "u2"}, "sk": {"S": "a"}}, UpdateExpression="SET team = :b",
                  ExpressionAttributeValues={":b": {"S": "blue"}})
    r = c.query(TableName="ix", IndexName="by_team", KeyConditionExpression="team = :t",
                ExpressionAttributeValues={":t": {"S": "red"}}, ReturnConsumedCapacity="INDEXES")
    assert r["Count"] == 1
    assert "by_team" in r["ConsumedCapacity"]["GlobalSecondaryIndexes"]
    with pytest.raises(ClientError) as e:
        c.query(TableName="ix", IndexName="by_team", KeyConditionExpression="team = :t", ConsistentRead=True,
                ExpressionAttributeValues={":t": {"S": "red"}})
    assert error_of(e)[1] == "Consistent reads are not supported on global secondary indexes"
    with pytest.raises(ClientError) as e:
        c.put_item(TableName="ix", Item={"pk": {"S": "x"}, "sk": {"S": "y"}, "score": {"S": "notanumber"}})
    assert error_of(e)[0] == "ValidationException"


def test_legacy_parameters(nephos, account):
    c = ddb(nephos, account)
    make_table(c, "leg", "S", "N")
    for i in range(5):
        c.put_item(TableName="leg", Item={"pk": {"S": "p"}, "sk": {"N": str(i)}, "v": {"N": str(i * 10)}})
    r = c.query(TableName="leg", KeyConditions={
        "pk": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "p"}]},
        "sk": {"ComparisonOperator": "GE", "AttributeValueList": [{"N": "2"}]},
    }, QueryFilter={"v": {"ComparisonOperator": "LT", "AttributeValueList": [{"N": "40"}]}}, AttributesToGet=["sk"])
    assert keys(r) == ["2", "3"]
    r = c.scan(TableName="leg", ScanFilter={"v": {"ComparisonOperator": "BETWEEN", "AttributeValueList": [{"N": "10"}, {"N": "20"}]}})
    assert sorted(keys(r)) == ["1", "2"]
