"""CloudWatch Logs export tasks: events written to S3 as AWS lays them out."""

import gzip

import pytest
from botocore.exceptions import ClientError

from logsutil import error_of, group_with_stream, now_ms, put
from s3util import bucket_name


def test_export_task_writes_gzipped_streams_to_s3(nephos, account):
    logs = nephos.client("logs", account=account)
    s3 = nephos.client("s3", account=account)
    bucket = bucket_name(account)
    s3.create_bucket(Bucket=bucket)
    g, _ = group_with_stream(logs, "/exp/app", "web")
    logs.create_log_stream(logGroupName=g, logStreamName="worker")
    logs.create_log_stream(logGroupName=g, logStreamName="other")
    t = now_ms(nephos) - 60_000
    t -= t % 1000
    put(logs, g, "web", ["GET /", "GET /x"], t, step=1500)
    put(logs, g, "worker", ["job done"], t + 1)
    put(logs, g, "other", ["outside the range"], t + 50_000)

    task = logs.create_export_task(
        taskName="nightly", logGroupName=g, fromTime=t, to=t + 10_000,
        destination=bucket, destinationPrefix="exp",
    )["taskId"]
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert keys == {"exp/aws-logs-write-test", f"exp/{task}/web/000000.gz", f"exp/{task}/worker/000000.gz"}
    body = s3.get_object(Bucket=bucket, Key=f"exp/{task}/web/000000.gz")["Body"].read()
    lines = gzip.decompress(body).decode().splitlines()
    assert [line.split(" ", 1)[1] for line in lines] == ["GET /", "GET /x"]
    assert lines[1].split(" ", 1)[0].endswith(".500Z")

    described = logs.describe_export_tasks(taskId=task)["exportTasks"][0]
    assert described["status"]["code"] == "COMPLETED"
    assert described["taskName"] == "nightly"
    assert described["destination"] == bucket and described["destinationPrefix"] == "exp"
    assert described["from"] == t and described["to"] == t + 10_000
    assert described["executionInfo"]["completionTime"] >= described["executionInfo"]["creationTime"]
    assert [x["taskId"] for x in logs.describe_export_tasks(statusCode="COMPLETED")["exportTasks"]] == [task]
    assert logs.describe_export_tasks(statusCode="RUNNING")["exportTasks"] == []

    with pytest.raises(ClientError) as e:
        logs.cancel_export_task(taskId=task)
    assert error_of(e)[0] == "InvalidOperationException"
    with pytest.raises(ClientError) as e:
        logs.cancel_export_task(taskId="nope")
    assert error_of(e)[0] == "ResourceNotFoundException"


def test_export_task_errors(nephos, account):
    logs = nephos.client("logs", account=account)
    g, _ = group_with_stream(logs, "/exp/err", "s")
    with pytest.raises(ClientError) as e:
        logs.create_export_task(logGroupName=g, fromTime=0, to=1, destination=bucket_name(account) + "-missing")
    assert error_of(e) == (
        "InvalidParameterException",
        "The given bucket does not exist. Please make sure the bucket is valid.",
    )
    with pytest.raises(ClientError) as e:
        logs.create_export_task(logGroupName="/exp/none", fromTime=0, to=1, destination="b")
    assert error_of(e)[0] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        logs.create_export_task(logGroupName=g, fromTime=5, to=1, destination="b")
    assert error_of(e)[0] == "InvalidParameterException"
