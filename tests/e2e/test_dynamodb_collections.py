"""Item collections of tables with local secondary indexes: ReturnItemCollectionMetrics=SIZE
answers with the collection key and AWS's size estimate range (the 10 GB limit itself is
covered by the Rust unit tests of the accounting)."""

from dynamodb_helpers import ddb, make_table

LSI = [{"IndexName": "byl", "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                                         {"AttributeName": "l", "KeyType": "RANGE"}],
        "Projection": {"ProjectionType": "ALL"}}]


def metrics(pk):
    return {"ItemCollectionKey": {"pk": {"S": pk}}, "SizeEstimateRangeGB": [0.0, 1.0]}


def test_item_collection_metrics(nephos, account):
    c = ddb(nephos, account)
    make_table(c, "lsi", "S", "S", LocalSecondaryIndexes=LSI,
               extra_defs=[{"AttributeName": "l", "AttributeType": "N"}])
    make_table(c, "plain", "S", "S")
    item = {"pk": {"S": "p"}, "sk": {"S": "a"}, "l": {"N": "1"}}
    r = c.put_item(TableName="lsi", Item=item, ReturnItemCollectionMetrics="SIZE")
    assert r["ItemCollectionMetrics"] == metrics("p")
    assert "ItemCollectionMetrics" not in c.put_item(TableName="lsi", Item=item)
    # Tables without local indexes have no item collections to report.
    assert "ItemCollectionMetrics" not in c.put_item(
        TableName="plain", Item={"pk": {"S": "p"}, "sk": {"S": "a"}}, ReturnItemCollectionMetrics="SIZE")
    r = c.update_item(TableName="lsi", Key={"pk": {"S": "p"}, "sk": {"S": "a"}}, UpdateExpression="SET v = :v",
                      ExpressionAttributeValues={":v": {"S": "x"}}, ReturnItemCollectionMetrics="SIZE")
    assert r["ItemCollectionMetrics"] == metrics("p")
    r = c.delete_item(TableName="lsi", Key={"pk": {"S": "p"}, "sk": {"S": "a"}}, ReturnItemCollectionMetrics="SIZE")
    assert r["ItemCollectionMetrics"] == metrics("p")
    r = c.batch_write_item(RequestItems={
        "lsi": [{"PutRequest": {"Item": {"pk": {"S": "q"}, "sk": {"S": "1"}}}},
                {"PutRequest": {"Item": {"pk": {"S": "r"}, "sk": {"S": "1"}, "l": {"N": "2"}}}}],
        "plain": [{"PutRequest": {"Item": {"pk": {"S": "q"}, "sk": {"S": "1"}}}}]},
        ReturnItemCollectionMetrics="SIZE")
    assert r["ItemCollectionMetrics"] == {"lsi": [metrics("q"), metrics("r")]}
    r = c.transact_write_items(TransactItems=[
        {"Put": {"TableName": "lsi", "Item": {"pk": {"S": "s"}, "sk": {"S": "1"}}}},
        {"Put": {"TableName": "plain", "Item": {"pk": {"S": "s"}, "sk": {"S": "1"}}}}],
        ReturnItemCollectionMetrics="SIZE")
    assert r["ItemCollectionMetrics"] == {"lsi": [metrics("s")]}
