"""DynamoDB on-demand backups and point-in-time recovery."""

import re

import pytest
from botocore.exceptions import ClientError

from conftest import new_account
from dynamodb_helpers import ddb, error_of, make_table


def items_of(c, table):
    return sorted(i["pk"]["S"] for i in c.scan(TableName=table, ConsistentRead=True)["Items"])


def test_backup_is_a_copy_and_restores_with_indexes(nephos, account):
    c = ddb(nephos, account)
    make_table(c, "src", extra_defs=[{"AttributeName": "g", "AttributeType": "S"}],
               GlobalSecondaryIndexes=[{"IndexName": "byg", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                                        "Projection": {"ProjectionType": "ALL"}}])
    for i in range(5):
        c.put_item(TableName="src", Item={"pk": {"S": f"k{i}"}, "g": {"S": "x"}, "n": {"N": str(i)}})
    b = c.create_backup(TableName="src", BackupName="first")["BackupDetails"]
    assert b["BackupStatus"] == "AVAILABLE" and b["BackupType"] == "USER" and b["BackupName"] == "first"
    assert re.fullmatch(rf"arn:aws:dynamodb:us-east-1:{account}:table/src/backup/\d{{14}}-[0-9a-f]{{8}}", b["BackupArn"])
    # Later writes do not reach the backup.
    c.put_item(TableName="src", Item={"pk": {"S": "late"}, "g": {"S": "x"}})
    c.delete_item(TableName="src", Key={"pk": {"S": "k0"}})
    d = c.describe_backup(BackupArn=b["BackupArn"])["BackupDescription"]
    assert d["SourceTableDetails"]["TableName"] == "src"
    assert d["SourceTableDetails"]["ItemCount"] == 5
    listed = c.list_backups(TableName="src")["BackupSummaries"]
    assert [x["BackupArn"] for x in listed] == [b["BackupArn"]]
    r = c.restore_table_from_backup(TargetTableName="copy", BackupArn=b["BackupArn"])["TableDescription"]
    assert r["TableName"] == "copy" and r["RestoreSummary"]["SourceBackupArn"] == b["BackupArn"]
    assert items_of(c, "copy") == [f"k{i}" for i in range(5)]
    assert c.describe_table(TableName="copy")["Table"]["ItemCount"] == 5
    q = c.query(TableName="copy", IndexName="byg", KeyConditionExpression="g = :g",
                ExpressionAttributeValues={":g": {"S": "x"}})
    assert q["Count"] == 5
    with pytest.raises(ClientError) as e:
        c.restore_table_from_backup(TargetTableName="copy", BackupArn=b["BackupArn"])
    assert error_of(e)[0] == "TableAlreadyExistsException"
    gone = c.delete_backup(BackupArn=b["BackupArn"])["BackupDescription"]
    assert gone["BackupDetails"]["BackupStatus"] == "DELETED"
    with pytest.raises(ClientError) as e:
        c.describe_backup(BackupArn=b["BackupArn"])
    assert error_of(e)[0] == "BackupNotFoundException"
    assert c.list_backups()["BackupSummaries"] == []
    with pytest.raises(ClientError) as e:
        c.create_backup(TableName="nope", BackupName="xyz")
    assert error_of(e)[0] == "TableNotFoundException"


def test_point_in_time_recovery(start_nephos):
    # A private server: the test advances its clock, which other tests compare to wall time.
    nephos = start_nephos("--quiet")
    c = ddb(nephos, new_account())
    make_table(c, "pitr")
    d = c.describe_continuous_backups(TableName="pitr")["ContinuousBackupsDescription"]
    assert d["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "DISABLED"
    with pytest.raises(ClientError) as e:
        c.restore_table_to_point_in_time(SourceTableName="pitr", TargetTableName="xyz", UseLatestRestorableTime=True)
    assert error_of(e)[0] == "PointInTimeRecoveryUnavailableException"
    c.put_item(TableName="pitr", Item={"pk": {"S": "before"}})
    d = c.update_continuous_backups(TableName="pitr", PointInTimeRecoverySpecification={
        "PointInTimeRecoveryEnabled": True})["ContinuousBackupsDescription"]
    p = d["PointInTimeRecoveryDescription"]
    assert p["PointInTimeRecoveryStatus"] == "ENABLED"
    c.put_item(TableName="pitr", Item={"pk": {"S": "a"}})
    nephos.internal("/_nephos/clock", {"advance_seconds": 60})
    t1 = c.describe_continuous_backups(TableName="pitr")["ContinuousBackupsDescription"][
        "PointInTimeRecoveryDescription"]["LatestRestorableDateTime"]
    nephos.internal("/_nephos/clock", {"advance_seconds": 60})
    c.put_item(TableName="pitr", Item={"pk": {"S": "b"}})
    c.delete_item(TableName="pitr", Key={"pk": {"S": "before"}})
    r = c.restore_table_to_point_in_time(SourceTableName="pitr", TargetTableName="at_t1", RestoreDateTime=t1)
    assert r["TableDescription"]["RestoreSummary"]["SourceTableArn"].endswith(":table/pitr")
    assert items_of(c, "at_t1") == ["a", "before"]
    c.restore_table_to_point_in_time(SourceTableName="pitr", TargetTableName="latest", UseLatestRestorableTime=True)
    assert items_of(c, "latest") == ["a", "b"]
    earliest = c.describe_continuous_backups(TableName="pitr")["ContinuousBackupsDescription"][
        "PointInTimeRecoveryDescription"]["EarliestRestorableDateTime"]
    import datetime
    with pytest.raises(ClientError) as e:
        c.restore_table_to_point_in_time(SourceTableName="pitr", TargetTableName="xyz",
                                         RestoreDateTime=earliest - datetime.timedelta(seconds=10))
    assert error_of(e)[0] == "InvalidRestoreTimeException"
    c.update_continuous_backups(TableName="pitr", PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": False})
    d = c.describe_continuous_backups(TableName="pitr")["ContinuousBackupsDescription"]
    assert d["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "DISABLED"


def test_backups_survive_restart(start_nephos, tmp_path):
    data = tmp_path / "data"
    server = start_nephos("--data-dir", str(data), "--quiet")
    account = new_account()
    c = server.client("dynamodb", account=account)
    make_table(c, "dur")
    for i in range(3):
        c.put_item(TableName="dur", Item={"pk": {"S": f"k{i}"}})
    arn = c.create_backup(TableName="dur", BackupName="bkp")["BackupDetails"]["BackupArn"]
    c.update_continuous_backups(TableName="dur", PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
    server.stop()
    server = start_nephos("--data-dir", str(data), "--quiet")
    c = server.client("dynamodb", account=account)
    assert c.describe_backup(BackupArn=arn)["BackupDescription"]["BackupDetails"]["BackupStatus"] == "AVAILABLE"
    d = c.describe_continuous_backups(TableName="dur")["ContinuousBackupsDescription"]
    assert d["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"
    c.restore_table_from_backup(TargetTableName="back", BackupArn=arn)
    server.stop()
    server = start_nephos("--data-dir", str(data), "--quiet")
    c = server.client("dynamodb", account=account)
    assert items_of(c, "back") == ["k0", "k1", "k2"]
