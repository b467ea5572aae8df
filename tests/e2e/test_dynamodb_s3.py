"""DynamoDB export to S3 and import from S3, through nephos's S3."""

import gzip
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
    # Data files are gzip-compressed JSON lines, as AWS writes them.
    assert data_key.endswith(".json.gz")
    lines = gzip.decompress(s3.get_object(Bucket=bucket, Key=data_key)["Body"].read()).decode().splitlines()
    assert len(lines) == 4 and json.loads(lines[0])["Item"]["pk"] == {"S": "p0"}
    # Import the data file into a new table.
    prefix = data_key.rsplit("/", 1)[0] + "/"
    imp = c.import_table(
        S3BucketSource={"S3Bucket": bucket, "S3KeyPrefix": prefix}, InputFormat="DYNAMODB_JSON",
        InputCompressionType="GZIP",
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


# Made with the zstd CLI: two frames (two files concatenated) of DynamoDB JSON lines, and a
# one-frame CSV file; embedded so the test needs no zstd module.
ZSTD_JSON = ("KLUv/SRaLQIAVAN7Ikl0ZW0iOnsicGtTIjoiejEifSwibk4iOiIxIn19fQoyc3NTUyI6WyJhIiwiYiJdfX19CgUATQWCgDH1Xab5"
             "WCUJJytVHyi1L/0kG9kAAHsiSXRlbSI6eyJwayI6eyJTIjoiejMifX19CjrlnVc=")
ZSTD_CSV = "KLUv/QRYoQAAaWQsbmFtZQoxLGFubgoyLGJvYgqokfZh"


def _import(c, bucket, prefix, fmt, name, compression=None, key_type="S", key="pk"):
    extra = {"InputCompressionType": compression} if compression else {}
    return c.import_table(
        S3BucketSource={"S3Bucket": bucket, "S3KeyPrefix": prefix}, InputFormat=fmt,
        TableCreationParameters={
            "TableName": name, "BillingMode": "PAY_PER_REQUEST",
            "KeySchema": [{"AttributeName": key, "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": key, "AttributeType": key_type}]},
        **extra)["ImportTableDescription"]


def test_import_gzip_and_zstd(nephos, account):
    import base64
    import gzip

    c = ddb(nephos, account)
    s3 = nephos.client("s3", account=account)
    bucket = f"cmp-{account}"
    s3.create_bucket(Bucket=bucket)
    lines = b"".join(json.dumps({"Item": {"pk": {"S": f"g{i}"}, "n": {"N": str(i)}}}).encode() + b"\n"
                     for i in range(3))
    # Two objects, one of them two gzip members back to back.
    s3.put_object(Bucket=bucket, Key="gz/a.json.gz", Body=gzip.compress(lines))
    s3.put_object(Bucket=bucket, Key="gz/b.json.gz",
                  Body=gzip.compress(b'{"Item":{"pk":{"S":"m1"}}}\n') + gzip.compress(b'{"Item":{"pk":{"S":"m2"}}}\n'))
    imp = _import(c, bucket, "gz/", "DYNAMODB_JSON", "from-gzip", "GZIP")
    assert imp["InputCompressionType"] == "GZIP"
    assert (imp["ImportedItemCount"], imp["ErrorCount"]) == (5, 0)
    assert c.get_item(TableName="from-gzip", Key={"pk": {"S": "g2"}})["Item"] == {"pk": {"S": "g2"}, "n": {"N": "2"}}
    assert "Item" in c.get_item(TableName="from-gzip", Key={"pk": {"S": "m2"}})

    s3.put_object(Bucket=bucket, Key="gzcsv/a.csv.gz", Body=gzip.compress(b"id,name\n7,zed\n"))
    imp = _import(c, bucket, "gzcsv/", "CSV", "csv-gzip", "GZIP", key_type="N", key="id")
    assert imp["ImportedItemCount"] == 1
    assert c.get_item(TableName="csv-gzip", Key={"id": {"N": "7"}})["Item"]["name"] == {"S": "zed"}

    s3.put_object(Bucket=bucket, Key="zst/a.json.zst", Body=base64.b64decode(ZSTD_JSON))
    imp = _import(c, bucket, "zst/", "DYNAMODB_JSON", "from-zstd", "ZSTD")
    assert (imp["InputCompressionType"], imp["ImportedItemCount"], imp["ErrorCount"]) == ("ZSTD", 3, 0)
    assert c.get_item(TableName="from-zstd", Key={"pk": {"S": "z2"}})["Item"]["ss"]["SS"] == ["a", "b"]
    assert "Item" in c.get_item(TableName="from-zstd", Key={"pk": {"S": "z3"}})

    s3.put_object(Bucket=bucket, Key="zcsv/a.csv.zst", Body=base64.b64decode(ZSTD_CSV))
    imp = _import(c, bucket, "zcsv/", "CSV", "csv-zstd", "ZSTD", key_type="N", key="id")
    assert imp["ImportedItemCount"] == 2
    assert c.get_item(TableName="csv-zstd", Key={"id": {"N": "2"}})["Item"]["name"] == {"S": "bob"}

    # An object that does not decompress is one error; the other objects still import.
    s3.put_object(Bucket=bucket, Key="bad/a.json.gz", Body=b"not gzip at all")
    s3.put_object(Bucket=bucket, Key="bad/b.json.gz", Body=gzip.compress(lines))
    imp = _import(c, bucket, "bad/", "DYNAMODB_JSON", "bad-gzip", "GZIP")
    assert (imp["ImportedItemCount"], imp["ErrorCount"], imp["ProcessedItemCount"]) == (3, 1, 4)


def test_import_ion(nephos, account):
    import gzip

    c = ddb(nephos, account)
    s3 = nephos.client("s3", account=account)
    bucket = f"ion-{account}"
    s3.create_bucket(Bucket=bucket)
    # The export format of the AWS docs: one `$ion_1_0 {Item:{...}}` per line.
    body = (b'$ion_1_0 {Item:{Id:103.,Authors:$dynamodb_SS::["Author1","Author2"],'
            b'Dimensions:"8.5 x 11.0 x 1.5",InPublication:false,PageCount:6d2,Price:2d3,'
            b'Bin:{{aGVsbG8=}},Nums:$dynamodb_NS::[1.5,2.],Tags:["a",1.],Meta:{k:"v"},Nothing:null}}\n'
            b'$ion_1_0 {Item:{Id:104.}}\n')
    s3.put_object(Bucket=bucket, Key="ion/a.ion.gz", Body=gzip.compress(body))
    imp = _import(c, bucket, "ion/", "ION", "from-ion", "GZIP", key_type="N", key="Id")
    assert (imp["InputFormat"], imp["ImportedItemCount"], imp["ErrorCount"]) == ("ION", 2, 0)
    got = c.get_item(TableName="from-ion", Key={"Id": {"N": "103"}})["Item"]
    assert got == {
        "Id": {"N": "103"}, "Authors": {"SS": ["Author1", "Author2"]},
        "Dimensions": {"S": "8.5 x 11.0 x 1.5"}, "InPublication": {"BOOL": False},
        "PageCount": {"N": "600"}, "Price": {"N": "2000"}, "Bin": {"B": b"hello"},
        "Nums": {"NS": ["1.5", "2"]}, "Tags": {"L": [{"S": "a"}, {"N": "1"}]},
        "Meta": {"M": {"k": {"S": "v"}}}, "Nothing": {"NULL": True},
    }
    # A malformed object: what parsed before the damage imports, the rest is skipped.
    s3.put_object(Bucket=bucket, Key="badion/a.ion",
                  Body=b'$ion_1_0 {Item:{Id:1.}}\n$ion_1_0 {Item:{Id:2., x:(oops)}}\n$ion_1_0 {Item:{Id:3.}}\n')
    imp = _import(c, bucket, "badion/", "ION", "bad-ion", key_type="N", key="Id")
    assert (imp["ImportedItemCount"], imp["ErrorCount"]) == (1, 1)


def test_ion_export_imports_back(nephos, account):
    c = ddb(nephos, account)
    s3 = nephos.client("s3", account=account)
    bucket = f"ionx-{account}"
    s3.create_bucket(Bucket=bucket)
    arn = make_table(c, "ionsrc", "S")["TableArn"]
    items = [{"pk": {"S": "a\"b"}, "n": {"N": "600"}, "f": {"N": "-0.25"}, "bin": {"B": b"\x00\xff"},
              "ss": {"SS": ["x", "y"]}, "ns": {"NS": ["1", "2.5"]}, "bs": {"BS": [b"\x01"]},
              "l": {"L": [{"NULL": True}, {"BOOL": True}]}, "m": {"M": {"k k": {"S": "v"}}}},
             {"pk": {"S": "plain"}}]
    for it in items:
        c.put_item(TableName="ionsrc", Item=it)
    c.update_continuous_backups(TableName="ionsrc", PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
    d = c.export_table_to_point_in_time(TableArn=arn, S3Bucket=bucket, ExportFormat="ION")["ExportDescription"]
    assert d["ExportFormat"] == "ION"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    data_key = next(k for k in keys if "/data/" in k)
    assert data_key.endswith(".ion.gz")
    text = gzip.decompress(s3.get_object(Bucket=bucket, Key=data_key)["Body"].read()).decode()
    assert all(line.startswith("$ion_1_0 {Item:{") for line in text.splitlines())
    summary = json.loads(s3.get_object(Bucket=bucket, Key=d["ExportManifest"])["Body"].read())
    assert summary["outputFormat"] == "ION"
    imp = c.import_table(
        S3BucketSource={"S3Bucket": bucket, "S3KeyPrefix": data_key.rsplit("/", 1)[0] + "/"},
        InputFormat="ION", InputCompressionType="GZIP",
        TableCreationParameters={
            "TableName": "iondst", "BillingMode": "PAY_PER_REQUEST",
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}]})["ImportTableDescription"]
    assert (imp["ImportedItemCount"], imp["ErrorCount"]) == (2, 0)
    for it in items:
        assert c.get_item(TableName="iondst", Key={"pk": it["pk"]})["Item"] == it
