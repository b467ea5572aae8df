"""DynamoDB-stream event source mappings against the real binary: partial batch responses,
bisection, retries, record age, on-failure records (SQS and S3), parallelization,
batching windows and tumbling windows, with AWS's event and failure-record shapes."""

import io
import json
import time
import zipfile

import pytest

# Records every invocation (its event, and when it ran) in the `calls` table, then answers
# as ANSWER says. Records whose item has `fail` set are reported as failed.
RECORDING = """
import boto3, json, time
ddb = boto3.client('dynamodb')
def handler(event, context):
    t0 = time.time()
    time.sleep(SLEEP)
    shown = dict(event)
    if len(json.dumps(event.get('state'))) > 1000:
        # A big window state is noted by its size (an item holds 400 KB).
        shown['state'] = {'size': len(json.dumps(event['state']))}
    ddb.put_item(TableName='calls', Item={
        'pk': {'S': context.aws_request_id},
        'event': {'S': json.dumps(shown)},
        't0': {'N': repr(t0)}, 't1': {'N': repr(time.time())}})
    return answer(event)
"""

REPORT_FAILED = """
def answer(event):
    return {'batchItemFailures': [
        {'itemIdentifier': r['dynamodb']['SequenceNumber']}
        for r in event['Records'] if 'fail' in r['dynamodb'].get('NewImage', {})]}
"""

RAISE_ON_FAILED = """
def answer(event):
    if any('fail' in r['dynamodb'].get('NewImage', {}) for r in event['Records']):
        raise RuntimeError('bad record')
    return {}
"""

EMPTY_IDENTIFIER = """
def answer(event):
    return {'batchItemFailures': [{'itemIdentifier': ''}]}
"""

ALWAYS_RAISE = """
def answer(event):
    raise RuntimeError('always')
"""

BIG_STATE_FOR_A = """
def answer(event):
    if any(r['dynamodb']['Keys']['pk']['S'] == 'a' for r in event['Records']):
        return {'state': {'pad': 'x' * 1100000}}
    return {'state': {'n': 1}}
"""

COUNTING_STATE = """
def answer(event):
    state = dict(event.get('state') or {})
    state['count'] = state.get('count', 0) + len(event['Records'])
    return {'state': state}
"""


def zipped(source):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("app.py", source)
    return buf.getvalue()


def function(lam, account, name, answer, sleep=0.0):
    lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=f"arn:aws:iam::{account}:role/esm",
        Handler="app.handler",
        Code={"ZipFile": zipped(RECORDING.replace("SLEEP", repr(sleep)) + answer)},
        Timeout=30,
    )
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.2})


def wait_for(predicate, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    return predicate()


def table(ddb, name, stream=True):
    kw = {}
    if stream:
        kw["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    r = ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        **kw,
    )
    return r["TableDescription"].get("LatestStreamArn")


def calls(ddb):
    """The recorded invocations, in the order they started."""
    items = ddb.scan(TableName="calls")["Items"]
    out = [
        dict(json.loads(i["event"]["S"]), t0=float(i["t0"]["N"]), t1=float(i["t1"]["N"]))
        for i in items
    ]
    return sorted(out, key=lambda c: c["t0"])


def keys(call):
    return [r["dynamodb"]["Keys"]["pk"]["S"] for r in call["Records"]]


def put(ddb, name, pk, **attrs):
    item = {"pk": {"S": pk}}
    item.update({k: {"S": v} for k, v in attrs.items()})
    ddb.put_item(TableName=name, Item=item)


def queue(sqs, name):
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def failure_records(sqs, url, n=1, timeout=20):
    got = []

    def more():
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            got.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        return len(got) >= n

    wait_for(more, timeout)
    return got


@pytest.fixture
def clients(nephos, account):
    lam, sqs, ddb = (nephos.client(s, account=account) for s in ("lambda", "sqs", "dynamodb"))
    table(ddb, "calls", stream=False)
    return lam, sqs, ddb


def test_reported_failures_retry_from_the_lowest_failed_record(clients, account):
    lam, sqs, ddb = clients
    url, dest = queue(sqs, "partial-failures")
    stream = table(ddb, "items")
    for pk, extra in [("a", {}), ("b", {"fail": "yes"}), ("c", {})]:
        put(ddb, "items", pk, **extra)
    function(lam, account, "partial", REPORT_FAILED)
    lam.create_event_source_mapping(
        EventSourceArn=stream,
        FunctionName="partial",
        StartingPosition="TRIM_HORIZON",
        BatchSize=3,
        MaximumRetryAttempts=2,
        FunctionResponseTypes=["ReportBatchItemFailures"],
        DestinationConfig={"OnFailure": {"Destination": dest}},
    )
    [record] = failure_records(sqs, url)
    # The first call had the whole batch; each retry starts at the failed record.
    assert [keys(c) for c in calls(ddb)] == [["a", "b", "c"], ["b", "c"], ["b", "c"]]
    seqs = [r["dynamodb"]["SequenceNumber"] for r in calls(ddb)[0]["Records"]]
    info = record["DDBStreamBatchInfo"]
    assert info["startSequenceNumber"] == seqs[1] and info["endSequenceNumber"] == seqs[2]
    assert info["batchSize"] == 2
    assert info["shardId"].startswith("shardId-")
    assert info["streamArn"] == stream
    # Arrival times are ISO 8601 to the second; the failure's own time has milliseconds.
    assert len(info["approximateArrivalOfFirstRecord"]) == len("2024-01-02T03:04:05Z")
    assert info["approximateArrivalOfFirstRecord"].endswith("Z")
    assert len(record["timestamp"]) == len("2024-01-02T03:04:05.678Z")
    assert record["version"] == "1.0"
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestContext"]["functionArn"].endswith(":function:partial")
    # The function answered: no function error.
    assert record["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": None,
    }


def test_a_malformed_failure_report_fails_the_whole_batch(clients, account):
    lam, sqs, ddb = clients
    url, dest = queue(sqs, "malformed")
    stream = table(ddb, "items")
    put(ddb, "items", "a")
    put(ddb, "items", "b")
    function(lam, account, "empty-id", EMPTY_IDENTIFIER)
    lam.create_event_source_mapping(
        EventSourceArn=stream,
        FunctionName="empty-id",
        StartingPosition="TRIM_HORIZON",
        BatchSize=10,
        MaximumRetryAttempts=1,
        FunctionResponseTypes=["ReportBatchItemFailures"],
        DestinationConfig={"OnFailure": {"Destination": dest}},
    )
    [record] = failure_records(sqs, url)
    assert record["DDBStreamBatchInfo"]["batchSize"] == 2
    assert [keys(c) for c in calls(ddb)] == [["a", "b"], ["a", "b"]]


def test_the_last_processing_result_follows_the_batches(clients, account):
    lam, _, ddb = clients
    stream = table(ddb, "items")
    function(lam, account, "fine", "def answer(event):\n    return {}\n")
    m = lam.create_event_source_mapping(
        EventSourceArn=stream, FunctionName="fine", StartingPosition="TRIM_HORIZON"
    )
    assert m["LastProcessingResult"] == "No records processed"
    put(ddb, "items", "a")
    wait_for(lambda: calls(ddb))
    result = wait_for(
        lambda: lam.get_event_source_mapping(UUID=m["UUID"])["LastProcessingResult"] == "OK"
    )
    assert result
    assert lam.update_event_source_mapping(UUID=m["UUID"], Enabled=False)["LastProcessingResult"] == "OK"


def test_reported_failures_are_ignored_without_the_response_type(clients, account):
    lam, _, ddb = clients
    stream = table(ddb, "items")
    put(ddb, "items", "a", fail="yes")
    function(lam, account, "partial", REPORT_FAILED)
    lam.create_event_source_mapping(
        EventSourceArn=stream, FunctionName="partial", StartingPosition="TRIM_HORIZON"
    )
    wait_for(lambda: calls(ddb))
    time.sleep(1.5)
    assert len(calls(ddb)) == 1


def test_bisection_isolates_the_bad_record(clients, account):
    lam, sqs, ddb = clients
    url, dest = queue(sqs, "bisected")
    stream = table(ddb, "items")
    for pk in "abcd":
        put(ddb, "items", pk, **({"fail": "yes"} if pk == "c" else {}))
    function(lam, account, "picky", RAISE_ON_FAILED)
    lam.create_event_source_mapping(
        EventSourceArn=stream,
        FunctionName="picky",
        StartingPosition="TRIM_HORIZON",
        BatchSize=4,
        BisectBatchOnFunctionError=True,
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": dest}},
    )
    [record] = failure_records(sqs, url)
    assert record["DDBStreamBatchInfo"]["batchSize"] == 1
    assert record["responseContext"]["functionError"] == "Unhandled"
    wait_for(lambda: len(calls(ddb)) >= 5)
    assert [keys(c) for c in calls(ddb)] == [["a", "b", "c", "d"], ["a", "b"], ["c", "d"], ["c"], ["d"]]


def test_failure_records_go_to_s3_with_the_records(nephos, clients, account):
    lam, _, ddb = clients
    s3 = nephos.client("s3", account=account)
    s3.create_bucket(Bucket=f"failures-{account}")
    stream = table(ddb, "items")
    put(ddb, "items", "a")
    function(lam, account, "failing", ALWAYS_RAISE)
    m = lam.create_event_source_mapping(
        EventSourceArn=stream,
        FunctionName="failing",
        StartingPosition="TRIM_HORIZON",
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": f"arn:aws:s3:::failures-{account}"}},
    )
    objects = wait_for(lambda: s3.list_objects_v2(Bucket=f"failures-{account}").get("Contents"))
    key = objects[0]["Key"]
    body = json.loads(s3.get_object(Bucket=f"failures-{account}", Key=key)["Body"].read())
    shard = body["DDBStreamBatchInfo"]["shardId"]
    stamp = body["timestamp"][:19]
    day = stamp[:10].replace("-", "/")
    assert key.startswith(f"aws/lambda/{m['UUID']}/{shard}/{day}/{stamp.replace(':', '.')}-")
    assert [r["dynamodb"]["Keys"] for r in body["payload"]["Records"]] == [{"pk": {"S": "a"}}]
    assert body["payload"]["Records"][0]["eventSourceARN"] == stream
    assert body["requestContext"]["approximateInvokeCount"] == 1


def test_parallelization_runs_keys_concurrently_and_each_key_in_order(clients, account):
    lam, _, ddb = clients
    stream = table(ddb, "items")
    for i in range(3):
        for pk in ["a", "b", "c", "d"]:
            put(ddb, "items", pk, n=str(i))
    function(lam, account, "slow", "def answer(event):\n    return {}\n", sleep=0.5)
    lam.create_event_source_mapping(
        EventSourceArn=stream,
        FunctionName="slow",
        StartingPosition="TRIM_HORIZON",
        BatchSize=1,
        ParallelizationFactor=10,
    )
    got = wait_for(lambda: len(calls(ddb)) >= 12 and calls(ddb), timeout=30)
    # One key's changes arrive in stream order.
    for pk in "abcd":
        mine = [c for c in got if keys(c) == [pk]]
        assert [c["Records"][0]["dynamodb"]["NewImage"]["n"]["S"] for c in mine] == ["0", "1", "2"]
        assert all(x["t1"] <= y["t0"] for x, y in zip(mine, mine[1:]))
    # Batches of different keys overlapped.
    assert any(x["t0"] < y["t1"] and y["t0"] < x["t1"] for x in got for y in got if x is not y)


def test_the_batching_window_gathers_records(clients, account):
    lam, _, ddb = clients
    stream = table(ddb, "items")
    function(lam, account, "gather", "def answer(event):\n    return {}\n")
    m = lam.create_event_source_mapping(
        EventSourceArn=stream,
        FunctionName="gather",
        StartingPosition="TRIM_HORIZON",
        BatchSize=10,
        MaximumBatchingWindowInSeconds=3,
    )
    assert m["MaximumBatchingWindowInSeconds"] == 3
    for pk in "abc":
        put(ddb, "items", pk)
        time.sleep(0.4)
    got = wait_for(lambda: calls(ddb))
    time.sleep(0.5)
    assert [keys(c) for c in calls(ddb)] == [["a", "b", "c"]]
    assert got


def test_enabling_and_disabling_are_named(clients, account):
    lam, _, ddb = clients
    stream = table(ddb, "items")
    function(lam, account, "f", "def answer(event):\n    return {}\n")
    m = lam.create_event_source_mapping(
        EventSourceArn=stream, FunctionName="f", StartingPosition="LATEST"
    )
    assert m["State"] == "Creating"
    assert lam.update_event_source_mapping(UUID=m["UUID"], Enabled=False)["State"] == "Disabling"
    assert lam.get_event_source_mapping(UUID=m["UUID"])["State"] == "Disabled"
    assert lam.update_event_source_mapping(UUID=m["UUID"], Enabled=True)["State"] == "Enabling"
    updated = lam.update_event_source_mapping(
        UUID=m["UUID"], BatchSize=5, ParallelizationFactor=4, TumblingWindowInSeconds=30
    )
    assert updated["State"] == "Updating"
    assert updated["ParallelizationFactor"] == 4 and updated["TumblingWindowInSeconds"] == 30


# Tests below advance nephos's clock, so each runs its own nephos.


def isolated(start_nephos, account):
    server = start_nephos("--quiet")
    lam, sqs, ddb = (server.client(s, account=account) for s in ("lambda", "sqs", "dynamodb"))
    table(ddb, "calls", stream=False)
    return server, lam, sqs, ddb


def test_records_older_than_the_maximum_age_are_given_up(start_nephos, account):
    server, lam, sqs, ddb = isolated(start_nephos, account)
    url, dest = queue(sqs, "too-old")
    stream = table(ddb, "items")
    put(ddb, "items", "a")
    function(lam, account, "failing", ALWAYS_RAISE)
    lam.create_event_source_mapping(
        EventSourceArn=stream,
        FunctionName="failing",
        StartingPosition="TRIM_HORIZON",
        MaximumRecordAgeInSeconds=60,
        DestinationConfig={"OnFailure": {"Destination": dest}},
    )
    wait_for(lambda: calls(ddb))
    assert failure_records(sqs, url, timeout=1) == []
    server.internal("/_nephos/clock", {"advance_seconds": 120})
    [record] = failure_records(sqs, url)
    assert record["requestContext"]["condition"] == "RecordAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] >= 1
    assert record["DDBStreamBatchInfo"]["batchSize"] == 1
    assert "responseContext" not in record


def test_tumbling_windows_carry_state_and_close_with_a_final_invocation(start_nephos, account):
    server, lam, _, ddb = isolated(start_nephos, account)
    # Start just after a window opens, so all records fall into one.
    now_ms = server.internal("/_nephos/clock")["now_ms"]
    server.internal("/_nephos/clock", {"advance_seconds": (300_000 - now_ms % 300_000) / 1000 + 1})
    stream = table(ddb, "items")
    for pk in "abc":
        put(ddb, "items", pk)
    function(lam, account, "windowed", COUNTING_STATE)
    lam.create_event_source_mapping(
        EventSourceArn=stream,
        FunctionName="windowed",
        StartingPosition="TRIM_HORIZON",
        BatchSize=2,
        TumblingWindowInSeconds=300,
    )
    got = wait_for(lambda: sum(len(c["Records"]) for c in calls(ddb)) >= 3 and calls(ddb))
    assert [c["state"] for c in got] == [{}, {"count": 2}]
    first = got[0]
    assert first["isFinalInvokeForWindow"] is False and first["isWindowTerminatedEarly"] is False
    assert first["shardId"].startswith("shardId-")
    assert first["eventSourceARN"] == stream
    start, end = first["window"]["start"], first["window"]["end"]
    assert start.endswith(":00Z") and end.endswith(":00Z")
    assert all(c["window"] == first["window"] for c in got)
    # No final invocation before the window ends on nephos's clock.
    time.sleep(1)
    assert len(calls(ddb)) == 2
    server.internal("/_nephos/clock", {"advance_seconds": 300})
    final = wait_for(lambda: len(calls(ddb)) >= 3 and calls(ddb)[-1])
    assert final["isFinalInvokeForWindow"] is True
    assert final["Records"] == []
    assert final["state"] == {"count": 3}
    assert final["window"] == first["window"]


def test_a_state_over_1_mb_ends_the_window_early(start_nephos, account):
    server, lam, _, ddb = isolated(start_nephos, account)
    now_ms = server.internal("/_nephos/clock")["now_ms"]
    server.internal("/_nephos/clock", {"advance_seconds": (300_000 - now_ms % 300_000) / 1000 + 1})
    stream = table(ddb, "items")
    put(ddb, "items", "a")
    put(ddb, "items", "b")
    function(lam, account, "big", BIG_STATE_FOR_A)
    lam.create_event_source_mapping(
        EventSourceArn=stream,
        FunctionName="big",
        StartingPosition="TRIM_HORIZON",
        BatchSize=1,
        TumblingWindowInSeconds=300,
    )
    got = wait_for(lambda: len(calls(ddb)) >= 3 and calls(ddb))
    flags = [(keys(c), c["isFinalInvokeForWindow"], c["isWindowTerminatedEarly"]) for c in got]
    assert flags == [(["a"], False, False), ([], True, True), (["b"], False, False)]
    # The early end hands over the big state; the window goes on with a fresh one.
    assert got[1]["state"]["size"] > 1024 * 1024
    assert got[2]["state"] == {}
    assert got[2]["window"] == got[0]["window"]
    server.internal("/_nephos/clock", {"advance_seconds": 300})
    final = wait_for(lambda: len(calls(ddb)) >= 4 and calls(ddb)[-1])
    assert (final["isFinalInvokeForWindow"], final["isWindowTerminatedEarly"]) == (True, False)
    assert final["state"] == {"n": 1}


def test_reading_goes_on_after_a_retry_outlives_the_shard_iterator(start_nephos, account):
    server, lam, sqs, ddb = isolated(start_nephos, account)
    url, dest = queue(sqs, "outlived")
    stream = table(ddb, "items")
    put(ddb, "items", "a")
    function(lam, account, "failing", ALWAYS_RAISE)
    lam.create_event_source_mapping(
        EventSourceArn=stream,
        FunctionName="failing",
        StartingPosition="TRIM_HORIZON",
        MaximumRetryAttempts=2,
        DestinationConfig={"OnFailure": {"Destination": dest}},
    )
    wait_for(lambda: calls(ddb))
    # Iterators last 15 minutes: the one this batch was read with is gone after it.
    server.internal("/_nephos/clock", {"advance_seconds": 16 * 60})
    [first] = failure_records(sqs, url)
    put(ddb, "items", "b")
    [second] = failure_records(sqs, url)
    assert first["DDBStreamBatchInfo"]["startSequenceNumber"] < second["DDBStreamBatchInfo"]["startSequenceNumber"]
    assert keys(calls(ddb)[-1]) == ["b"]
