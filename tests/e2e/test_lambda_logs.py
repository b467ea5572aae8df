"""Function logs in CloudWatch Logs: every invocation's lines framed by START, END and
REPORT in /aws/lambda/<name> (or the configured group), and subscription filters that
deliver a group's events to a function."""

import base64
import gzip
import io
import json
import re
import time
import zipfile

import pytest


def zipped(source):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("app.py", source)
    return buf.getvalue()


def function(lam, account, name, source, **extra):
    arn = lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=f"arn:aws:iam::{account}:role/logs",
        Handler="app.handler",
        Code={"ZipFile": zipped(source)},
        **extra,
    )["FunctionArn"]
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.2})
    return arn


def events(logs, group, n, **kw):
    deadline = time.time() + 10
    found = []
    while time.time() < deadline:
        try:
            found = logs.filter_log_events(logGroupName=group, **kw)["events"]
        except logs.exceptions.ResourceNotFoundException:
            found = []
        if len(found) >= n:
            return found
        time.sleep(0.1)
    return found


@pytest.fixture
def clients(nephos, account):
    return nephos.client("lambda", account=account), nephos.client("logs", account=account)


def test_invocations_write_their_lines_to_the_function_log_group(clients, account):
    lam, logs = clients
    function(lam, account, "talker", "def handler(e, c):\n    print('said', e['n'])\n    return 1\n")
    ids = [lam.invoke(FunctionName="talker", Payload=json.dumps({"n": i}))["ResponseMetadata"]["RequestId"] for i in range(2)]
    found = events(logs, "/aws/lambda/talker", 8)
    messages = [e["message"] for e in found]
    assert all(m.endswith("\n") for m in messages)
    for i, rid in enumerate(ids):
        mine = [m for m in messages if rid in m or m == f"said {i}\n"]
        assert mine[0] == f"START RequestId: {rid} Version: $LATEST\n"
        assert mine[1] == f"said {i}\n"
        assert mine[2] == f"END RequestId: {rid}\n"
        assert re.match(
            rf"REPORT RequestId: {rid}\tDuration: [\d.]+ ms\tBilled Duration: \d+ ms\tMemory Size: 128 MB\tMax Memory Used: \d+ MB",
            mine[3],
        )
    # Only the cold start reports an init duration.
    reports = [m for m in messages if m.startswith("REPORT")]
    assert sum("Init Duration" in r for r in reports) == 1
    [stream] = logs.describe_log_streams(logGroupName="/aws/lambda/talker")["logStreams"]
    assert re.match(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}$", stream["logStreamName"])
    hits = logs.filter_log_events(logGroupName="/aws/lambda/talker", filterPattern='"said 1"')["events"]
    assert [h["message"] for h in hits] == ["said 1\n"]


def test_a_configured_log_group_is_used(clients, account):
    lam, logs = clients
    function(
        lam,
        account,
        "custom",
        "def handler(e, c):\n    print('custom group')\n",
        LoggingConfig={"LogFormat": "Text", "LogGroup": "/my/app"},
    )
    assert lam.get_function_configuration(FunctionName="custom")["LoggingConfig"]["LogGroup"] == "/my/app"
    lam.invoke(FunctionName="custom")
    assert any(e["message"] == "custom group\n" for e in events(logs, "/my/app", 4))


def test_subscription_filters_deliver_matching_events_to_a_function(clients, nephos, account):
    lam, logs = clients
    ddb = nephos.client("dynamodb", account=account)
    ddb.create_table(
        TableName="got",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    sink = function(
        lam,
        account,
        "sink",
        "import boto3, uuid\nddb = boto3.client('dynamodb')\n"
        "def handler(e, c):\n"
        "    ddb.put_item(TableName='got', Item={'id': {'S': str(uuid.uuid4())}, 'data': {'S': e['awslogs']['data']}})\n",
    )
    lam.add_permission(
        FunctionName="sink",
        StatementId="logs",
        Action="lambda:InvokeFunction",
        Principal="logs.amazonaws.com",
    )
    logs.create_log_group(logGroupName="app")
    logs.create_log_stream(logGroupName="app", logStreamName="s")
    logs.put_subscription_filter(logGroupName="app", filterName="errors", filterPattern="ERROR", destinationArn=sink)
    now = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName="app",
        logStreamName="s",
        logEvents=[{"timestamp": now, "message": "ERROR disk full"}, {"timestamp": now, "message": "all fine"}],
    )
    deadline = time.time() + 10
    items = []
    while time.time() < deadline and not items:
        items = ddb.scan(TableName="got")["Items"]
        time.sleep(0.1)
    assert len(items) == 1
    payload = json.loads(gzip.decompress(base64.b64decode(items[0]["data"]["S"])))
    assert payload["messageType"] == "DATA_MESSAGE"
    assert payload["logGroup"] == "app" and payload["logStream"] == "s"
    assert payload["subscriptionFilters"] == ["errors"]
    assert [e["message"] for e in payload["logEvents"]] == ["ERROR disk full"]


def test_json_log_format_writes_platform_records_and_json_app_logs(clients, account):
    lam, logs = clients
    function(
        lam,
        account,
        "jsonlogs",
        "import logging\nlog = logging.getLogger()\n"
        "def handler(e, c):\n    log.info('structured %s', 42)\n    log.debug('hidden')\n    return 1\n",
        LoggingConfig={"LogFormat": "JSON", "ApplicationLogLevel": "INFO", "SystemLogLevel": "INFO"},
    )
    cfg = lam.get_function_configuration(FunctionName="jsonlogs")["LoggingConfig"]
    assert cfg == {"LogFormat": "JSON", "ApplicationLogLevel": "INFO", "SystemLogLevel": "INFO",
                   "LogGroup": "/aws/lambda/jsonlogs"}
    rid = lam.invoke(FunctionName="jsonlogs")["ResponseMetadata"]["RequestId"]
    found = events(logs, "/aws/lambda/jsonlogs", 3)
    records = [json.loads(e["message"]) for e in found]
    assert records[0]["type"] == "platform.start"
    assert records[0]["record"] == {"requestId": rid, "version": "$LATEST"}
    app = [r for r in records if "level" in r]
    assert [(r["level"], r["message"], r["requestId"]) for r in app] == [("INFO", "structured 42", rid)]
    report = records[-1]
    assert report["type"] == "platform.report" and report["record"]["requestId"] == rid
    assert report["record"]["status"] == "success"
    assert set(report["record"]["metrics"]) >= {"durationMs", "billedDurationMs", "memorySizeMB", "maxMemoryUsedMB", "initDurationMs"}


def test_invoke_with_response_stream_delivers_chunks_then_completion(clients, account):
    lam, _ = clients
    function(lam, account, "streamer", "def handler(e, c):\n    print('streaming')\n    return 'x' * e['n']\n")
    r = lam.invoke_with_response_stream(FunctionName="streamer", Payload=json.dumps({"n": 100_000}), LogType="Tail")
    assert r["StatusCode"] == 200 and r["ExecutedVersion"] == "$LATEST"
    body, complete = b"", None
    for event in r["EventStream"]:
        if "PayloadChunk" in event:
            body += event["PayloadChunk"]["Payload"]
        elif "InvokeComplete" in event:
            complete = event["InvokeComplete"]
    assert json.loads(body) == "x" * 100_000
    assert "ErrorCode" not in complete
    assert "streaming" in base64.b64decode(complete["LogResult"]).decode()
    function(lam, account, "streamfail", "def handler(e, c):\n    raise ValueError('nope')\n")
    r = lam.invoke_with_response_stream(FunctionName="streamfail")
    [event] = list(r["EventStream"])
    assert event["InvokeComplete"]["ErrorCode"] == "ValueError"
    assert json.loads(event["InvokeComplete"]["ErrorDetails"])["errorMessage"] == "nope"
