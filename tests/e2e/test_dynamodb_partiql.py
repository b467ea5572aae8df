"""DynamoDB PartiQL: ExecuteStatement, BatchExecuteStatement and ExecuteTransaction."""

import pytest
from botocore.exceptions import ClientError

from dynamodb_helpers import ddb, error_of, make_table


@pytest.fixture
def c(nephos, account):
    client = ddb(nephos, account)
    make_table(client, "music", range_type="N", extra_defs=[{"AttributeName": "genre", "AttributeType": "S"}],
               GlobalSecondaryIndexes=[{"IndexName": "by_genre", "KeySchema": [
                   {"AttributeName": "genre", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                   "Projection": {"ProjectionType": "ALL"}}])
    return client


def run(c, stmt, params=None, **kw):
    if params is not None:
        kw["Parameters"] = params
    return c.execute_statement(Statement=stmt, **kw)


def test_insert_select_update_delete(c):
    assert run(c, "INSERT INTO \"music\" VALUE {'pk': 'band', 'sk': 1, 'genre': 'rock', 'tags': <<'a', 'b'>>}")["Items"] == []
    run(c, "INSERT INTO music VALUE {'pk': ?, 'sk': ?, 'genre': 'jazz', 'n': 5}", [{"S": "band"}, {"N": "2"}])
    with pytest.raises(ClientError) as e:
        run(c, "INSERT INTO music VALUE {'pk': 'band', 'sk': 1}")
    assert error_of(e) == ("DuplicateItemException", "Duplicate primary key exists in table")
    items = run(c, "SELECT * FROM music WHERE pk = 'band'")["Items"]
    assert [i["sk"]["N"] for i in items] == ["1", "2"]
    assert items[0]["tags"]["SS"] in (["a", "b"], ["b", "a"])
    got = run(c, "SELECT pk, n FROM \"music\" WHERE pk = ? AND sk > ?", [{"S": "band"}, {"N": "1"}])["Items"]
    assert got == [{"pk": {"S": "band"}, "n": {"N": "5"}}]
    assert run(c, "SELECT sk FROM \"music\".\"by_genre\" WHERE genre = 'jazz'")["Items"] == [{"sk": {"N": "2"}}]
    run(c, "UPDATE music SET n = n + 1 SET extra = 'x' WHERE pk = 'band' AND sk = 2")
    item = c.get_item(TableName="music", Key={"pk": {"S": "band"}, "sk": {"N": "2"}})["Item"]
    assert item["n"] == {"N": "6"} and item["extra"] == {"S": "x"}
    run(c, "UPDATE music REMOVE extra WHERE pk = 'band' AND sk = 2")
    assert "extra" not in c.get_item(TableName="music", Key={"pk": {"S": "band"}, "sk": {"N": "2"}})["Item"]
    with pytest.raises(ClientError) as e:
        run(c, "UPDATE music SET n = 1 WHERE pk = 'band' AND sk = 3")
    assert error_of(e)[0] == "ConditionalCheckFailedException"
    with pytest.raises(ClientError) as e:
        run(c, "UPDATE music SET n = 1 WHERE pk = 'band' AND sk = 2 AND n = 100")
    assert error_of(e)[0] == "ConditionalCheckFailedException"
    with pytest.raises(ClientError) as e:
        run(c, "UPDATE music SET n = 1 WHERE pk = 'band'")
    assert error_of(e) == ("ValidationException",
                           "Where clause does not contain a mandatory equality on all key attributes")
    run(c, "DELETE FROM music WHERE pk = 'band' AND sk = 1")
    assert [i["sk"]["N"] for i in run(c, "SELECT * FROM music")["Items"]] == ["2"]


def test_filters_and_functions(c):
    for i in range(6):
        run(c, f"INSERT INTO music VALUE {{'pk': 'p', 'sk': {i}, 'genre': 'g{i % 2}', 'name': 'song{i}'}}")
    def sks(stmt, params=None):
        return [int(i["sk"]["N"]) for i in run(c, stmt, params)["Items"]]
    assert sks("SELECT * FROM music WHERE pk = 'p' AND sk BETWEEN 2 AND 4") == [2, 3, 4]
    assert sks("SELECT * FROM music WHERE pk = 'p' AND sk IN [1, 5]") == [1, 5]
    assert sks("SELECT * FROM music WHERE pk = 'p' AND (genre = 'g0' OR sk = 1)") == [0, 1, 2, 4]
    assert sks("SELECT * FROM music WHERE pk = 'p' AND NOT genre = 'g0'") == [1, 3, 5]
    assert sks("SELECT * FROM music WHERE begins_with(name, 'song1')") == [1]
    assert sks("SELECT * FROM music WHERE pk = 'p' AND missing_attr IS MISSING AND sk < 2") == [0, 1]
    assert sks("SELECT * FROM music WHERE pk = 'p' AND name IS NOT MISSING AND sk >= 5") == [5]
    assert sks("SELECT * FROM music WHERE contains(name, ?)", [{"S": "g3"}]) == [3]


def test_paging_with_limit_and_next_token(c):
    for i in range(7):
        run(c, f"INSERT INTO music VALUE {{'pk': 'pg', 'sk': {i}}}")
    seen, token = [], None
    for _ in range(10):
        kw = {"Limit": 3}
        if token:
            kw["NextToken"] = token
        out = run(c, "SELECT * FROM music WHERE pk = 'pg'", **kw)
        seen += [int(i["sk"]["N"]) for i in out["Items"]]
        token = out.get("NextToken")
        if not token:
            break
    assert seen == list(range(7))


def test_syntax_and_parameter_errors(c):
    cases = [
        ("SELEC * FROM music", "Statement wasn't well formed, can't be processed: Expected data manipulation"),
        ("SELECT * music", None),
        ("INSERT INTO music VALUE {'pk': 'a'", None),
    ]
    for stmt, msg in cases:
        with pytest.raises(ClientError) as e:
            run(c, stmt)
        code, text = error_of(e)
        assert code == "ValidationException"
        assert text.startswith("Statement wasn't well formed, can't be processed: ")
        if msg:
            assert text == msg
    with pytest.raises(ClientError) as e:
        run(c, "SELECT * FROM music WHERE pk = ?")
    assert error_of(e) == ("ValidationException", "Number of parameters in request and statement don't match.")
    with pytest.raises(ClientError) as e:
        run(c, "SELECT * FROM nosuchtable")
    assert error_of(e)[0] == "ResourceNotFoundException"


def test_batch_execute_statement(c):
    out = c.batch_execute_statement(Statements=[
        {"Statement": "INSERT INTO music VALUE {'pk': 'b', 'sk': 1}"},
        {"Statement": "INSERT INTO music VALUE {'pk': 'b', 'sk': ?}", "Parameters": [{"N": "2"}]},
        {"Statement": "INSERT INTO music VALUE {'pk': 'b', 'sk': 1}"},
    ])["Responses"]
    assert "Error" not in out[0] and "Error" not in out[1]
    assert out[2]["Error"]["Code"] == "DuplicateItem"
    out = c.batch_execute_statement(Statements=[
        {"Statement": "SELECT * FROM music WHERE pk = 'b' AND sk = 1"},
        {"Statement": "SELECT * FROM music WHERE pk = 'b' AND sk = 9"},
    ])["Responses"]
    assert out[0]["Item"] == {"pk": {"S": "b"}, "sk": {"N": "1"}}
    assert "Item" not in out[1]


def test_execute_transaction(c):
    c.execute_transaction(TransactStatements=[
        {"Statement": "INSERT INTO music VALUE {'pk': 't', 'sk': 1, 'v': 1}"},
        {"Statement": "INSERT INTO music VALUE {'pk': 't', 'sk': 2, 'v': 2}"},
    ])
    with pytest.raises(ClientError) as e:
        c.execute_transaction(TransactStatements=[
            {"Statement": "UPDATE music SET v = 10 WHERE pk = 't' AND sk = 1"},
            {"Statement": "INSERT INTO music VALUE {'pk': 't', 'sk': 2}"},
        ])
    assert error_of(e)[0] == "TransactionCanceledException"
    reasons = e.value.response["CancellationReasons"]
    assert [r["Code"] for r in reasons] == ["None", "DuplicateItem"]
    # All or nothing: the update did not happen.
    item = c.get_item(TableName="music", Key={"pk": {"S": "t"}, "sk": {"N": "1"}})["Item"]
    assert item["v"] == {"N": "1"}
    out = c.execute_transaction(TransactStatements=[
        {"Statement": "SELECT v FROM music WHERE pk = 't' AND sk = 1"},
        {"Statement": "SELECT v FROM music WHERE pk = 't' AND sk = 2"},
    ])["Responses"]
    assert out == [{"Item": {"v": {"N": "1"}}}, {"Item": {"v": {"N": "2"}}}]
