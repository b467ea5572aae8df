"""CloudWatch Logs Insights: StartQuery, GetQueryResults, StopQuery, DescribeQueries."""

import json

import pytest
from botocore.exceptions import ClientError

from logsutil import error_of, now_ms, put


@pytest.fixture
def logs(nephos, account):
    return nephos.client("logs", account=account)


@pytest.fixture
def loaded(nephos, logs):
    """Two streams of JSON and text events in the last few minutes; the window in seconds."""
    logs.create_log_group(logGroupName="/q/app")
    logs.create_log_stream(logGroupName="/q/app", logStreamName="api")
    logs.create_log_stream(logGroupName="/q/app", logStreamName="worker")
    t = now_ms(nephos) - 600_000
    t -= t % 300_000  # on a five-minute boundary, so bins are predictable
    api = [
        {"level": "ERROR", "path": "/a", "ms": 120, "user": {"id": "u1"}},
        {"level": "INFO", "path": "/a", "ms": 20, "user": {"id": "u2"}},
        {"level": "INFO", "path": "/b", "ms": 40, "user": {"id": "u1"}},
        {"level": "ERROR", "path": "/b", "ms": 300, "user": {"id": "u3"}},
    ]
    put(logs, "/q/app", "api", [json.dumps(e) for e in api], t, step=60_000)
    put(logs, "/q/app", "worker", ["2024 [WARN] queue slow", "2024 [INFO] job done", "2024 [ERROR] job failed"], t + 360_000, step=1000)
    return t // 1000, (t + 600_000) // 1000


def run(logs, window, query, **kw):
    start, end = window
    qid = logs.start_query(logGroupName="/q/app", startTime=start, endTime=end, queryString=query, **kw)["queryId"]
    r = logs.get_query_results(queryId=qid)
    assert r["status"] == "Complete"
    rows = [{f["field"]: f["value"] for f in row} for row in r["results"]]
    return rows, r["statistics"], qid


def test_fields_sort_limit_and_builtins(logs, loaded, account):
    rows, stats, _ = run(logs, loaded, "fields @timestamp, @message, @logStream, @log | sort @timestamp desc | limit 2")
    assert len(rows) == 2
    assert rows[0]["@message"] == "2024 [ERROR] job failed"
    assert rows[0]["@logStream"] == "worker"
    assert rows[0]["@log"] == f"{account}:/q/app"
    assert rows[0]["@timestamp"] > rows[1]["@timestamp"]
    assert len(rows[0]["@timestamp"]) == len("2024-01-01 00:00:00.000")
    assert "@ptr" in rows[0]
    assert stats["recordsScanned"] == 7.0
    assert stats["bytesScanned"] > 0


def test_filter_with_json_fields_and_regex(logs, loaded):
    rows, stats, _ = run(logs, loaded, "fields path, ms | filter level = 'ERROR' and ms > 200")
    assert [(r["path"], r["ms"]) for r in rows] == [("/b", "300")]
    assert stats["recordsMatched"] == 1.0
    rows, _, _ = run(logs, loaded, "filter @message like /job/ | fields @message | sort @message asc")
    assert [r["@message"] for r in rows] == ["2024 [ERROR] job failed", "2024 [INFO] job done"]
    rows, _, _ = run(logs, loaded, "filter @message =~ /\\[(WARN|ERROR)\\]/ | fields @message")
    assert len(rows) == 2
    rows, _, _ = run(logs, loaded, "filter user.id = 'u1' | fields path | sort path")
    assert [r["path"] for r in rows] == ["/a", "/b"]
    rows, _, _ = run(logs, loaded, "filter ispresent(path) and not (level = 'INFO') | fields path")
    assert sorted(r["path"] for r in rows) == ["/a", "/b"]
    rows, _, _ = run(logs, loaded, "filter level in ['ERROR', 'WARN'] or @message like 'WARN' | fields @message")
    assert len(rows) == 3


def test_stats(logs, loaded):
    rows, stats, _ = run(logs, loaded, "filter ispresent(ms) | stats count(*) as n, sum(ms), avg(ms), min(ms), max(ms) by level | sort level")
    assert rows == [
        {"level": "ERROR", "n": "2", "sum(ms)": "420", "avg(ms)": "210", "min(ms)": "120", "max(ms)": "300"},
        {"level": "INFO", "n": "2", "sum(ms)": "60", "avg(ms)": "30", "min(ms)": "20", "max(ms)": "40"},
    ]
    assert stats["recordsMatched"] == 4.0
    rows, _, _ = run(logs, loaded, "stats count(*) by bin(5m)")
    assert [r["count(*)"] for r in rows] == ["4", "3"]
    assert all(r["bin(5m)"].endswith(("0:00.000", "5:00.000")) for r in rows)
    rows, _, _ = run(logs, loaded, "stats count(*)")
    assert rows == [{"count(*)": "7"}]


def test_parse_glob_and_regex(logs, loaded):
    rows, _, _ = run(
        logs, loaded,
        'filter @logStream = "worker" | parse @message "* [*] *" as year, lvl, text | display lvl, text | sort lvl',
    )
    assert [(r["lvl"], r["text"]) for r in rows] == [("ERROR", "job failed"), ("INFO", "job done"), ("WARN", "queue slow")]
    rows, _, _ = run(logs, loaded, "parse @message /\\[(?<lvl>[A-Z]+)\\]/ | filter lvl = 'WARN' | fields lvl, @message")
    assert rows[0]["lvl"] == "WARN" and rows[0]["@message"] == "2024 [WARN] queue slow"
    rows, _, _ = run(logs, loaded, "parse @message /\\[(?<lvl>[A-Z]+)\\]/ | stats count(*) by lvl | sort lvl")
    assert rows == [
        {"lvl": "", "count(*)": "4"},
        {"lvl": "ERROR", "count(*)": "1"},
        {"lvl": "INFO", "count(*)": "1"},
        {"lvl": "WARN", "count(*)": "1"},
    ]


def test_time_window_and_limit_parameter(logs, loaded):
    start, end = loaded
    rows, _, _ = run(logs, (start, start + 59), "fields @message")
    assert len(rows) == 1
    rows, _, _ = run(logs, loaded, "fields @message", limit=3)
    assert len(rows) == 3


def test_query_errors_and_bookkeeping(logs, loaded):
    start, end = loaded
    with pytest.raises(ClientError) as e:
        logs.start_query(logGroupName="/q/app", startTime=start, endTime=end, queryString="fields | nonsense")
    assert error_of(e)[0] == "MalformedQueryException"
    with pytest.raises(ClientError) as e:
        logs.start_query(logGroupName="/q/missing", startTime=start, endTime=end, queryString="fields @message")
    assert error_of(e)[0] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        logs.start_query(startTime=start, endTime=end, queryString="fields @message")
    assert error_of(e)[0] == "InvalidParameterException"
    with pytest.raises(ClientError) as e:
        logs.get_query_results(queryId="00000000-0000-0000-0000-000000000000")
    assert error_of(e)[0] == "ResourceNotFoundException"

    _, _, q1 = run(logs, loaded, "fields @message")
    q2 = logs.start_query(logGroupNames=["/q/app"], startTime=start, endTime=end, queryString="stats count(*)")["queryId"]
    queries = logs.describe_queries()["queries"]
    assert [q["queryId"] for q in queries][:2] == [q2, q1]
    assert queries[0]["status"] == "Complete"
    assert queries[0]["queryString"] == "stats count(*)"
    assert queries[0]["logGroupName"] == "/q/app"
    assert isinstance(queries[0]["createTime"], int)
    assert logs.describe_queries(logGroupName="/q/other")["queries"] == []
    assert len(logs.describe_queries(status="Complete")["queries"]) >= 2
    # A query that already completed has nothing to stop.
    assert logs.stop_query(queryId=q1)["success"] is False
    with pytest.raises(ClientError) as e:
        logs.stop_query(queryId="00000000-0000-0000-0000-000000000000")
    assert error_of(e)[0] == "ResourceNotFoundException"


def test_query_by_arn_over_two_groups(nephos, logs, account):
    t = now_ms(nephos) - 60_000
    for name in ("/q/one", "/q/two"):
        logs.create_log_group(logGroupName=name)
        logs.create_log_stream(logGroupName=name, logStreamName="s")
        put(logs, name, "s", [f"hello from {name}"], t)
    qid = logs.start_query(
        logGroupIdentifiers=[f"arn:aws:logs:us-east-1:{account}:log-group:/q/one", "/q/two"],
        startTime=t // 1000 - 1, endTime=t // 1000 + 1, queryString="fields @log, @message | sort @message",
    )["queryId"]
    rows = [{f["field"]: f["value"] for f in row} for row in logs.get_query_results(queryId=qid)["results"]]
    assert [r["@log"] for r in rows] == [f"{account}:/q/one", f"{account}:/q/two"]


def test_get_log_record_from_a_result_pointer(logs, loaded, account):
    rows, _, _ = run(logs, loaded, "filter level = 'ERROR' and ms > 200 | fields @message")
    record = logs.get_log_record(logRecordPointer=rows[0]["@ptr"])["logRecord"]
    assert record["@message"] == json.dumps({"level": "ERROR", "path": "/b", "ms": 300, "user": {"id": "u3"}})
    assert record["@logStream"] == "api"
    assert record["@log"] == f"{account}:/q/app"
    assert record["@timestamp"].isdigit() and record["@ingestionTime"].isdigit()
    assert record["user.id"] == "u3"
    with pytest.raises(ClientError) as e:
        logs.get_log_record(logRecordPointer="not-a-pointer")
    assert error_of(e)[0] == "InvalidParameterException"


def test_get_log_group_fields(nephos, logs):
    logs.create_log_group(logGroupName="/q/fields")
    logs.create_log_stream(logGroupName="/q/fields", logStreamName="s")
    t = now_ms(nephos) - 60_000
    put(logs, "/q/fields", "s", [json.dumps({"a": 1}), json.dumps({"a": 2, "b": {"c": 3}}), "plain", "text"], t)
    fields = {f["name"]: f["percent"] for f in logs.get_log_group_fields(logGroupName="/q/fields")["logGroupFields"]}
    assert fields["@message"] == 100 and fields["@timestamp"] == 100
    assert fields["a"] == 50 and fields["b.c"] == 25
    # Around a time long before: nothing.
    assert logs.get_log_group_fields(logGroupName="/q/fields", time=t // 1000 - 3600)["logGroupFields"] == []
    with pytest.raises(ClientError) as e:
        logs.get_log_group_fields(logGroupName="/q/none")
    assert error_of(e)[0] == "ResourceNotFoundException"


def test_list_log_groups(logs, account):
    logs.create_log_group(logGroupName="/aws/lambda/fn-a", tags={"env": "prod"})
    logs.create_log_group(logGroupName="/aws/lambda/fn-b", tags={"env": "dev"})
    logs.create_log_group(logGroupName="/app/discovery", logGroupClass="INFREQUENT_ACCESS")
    got = logs.list_log_groups(logGroupNamePattern="^/aws/lambda|discovery")["logGroups"]
    assert [g["logGroupName"] for g in got] == ["/app/discovery", "/aws/lambda/fn-a", "/aws/lambda/fn-b"]
    assert got[1] == {
        "logGroupName": "/aws/lambda/fn-a",
        "logGroupArn": f"arn:aws:logs:us-east-1:{account}:log-group:/aws/lambda/fn-a",
        "logGroupClass": "STANDARD",
    }
    assert [g["logGroupName"] for g in logs.list_log_groups(logGroupNamePattern="^/app")["logGroups"]] == ["/app/discovery"]
    # Case-sensitive.
    assert logs.list_log_groups(logGroupNamePattern="DISCOVERY")["logGroups"] == []
    assert [g["logGroupName"] for g in logs.list_log_groups(logGroupClass="INFREQUENT_ACCESS")["logGroups"]] == ["/app/discovery"]
    tagged = logs.list_log_groups(logGroupTags=[{"key": "env", "values": ["prod"]}])["logGroups"]
    assert [g["logGroupName"] for g in tagged] == ["/aws/lambda/fn-a"]
    first = logs.list_log_groups(limit=2)
    assert len(first["logGroups"]) == 2
    rest = logs.list_log_groups(limit=2, nextToken=first["nextToken"])
    assert [g["logGroupName"] for g in rest["logGroups"]] == ["/aws/lambda/fn-b"] and "nextToken" not in rest


def test_query_definitions(logs):
    qid = logs.put_query_definition(
        name="errors/by-path", queryString="filter level = 'ERROR' | stats count(*) by path",
        logGroupNames=["/q/app"],
    )["queryDefinitionId"]
    other = logs.put_query_definition(name="all", queryString="fields @message")["queryDefinitionId"]
    defs = logs.describe_query_definitions()["queryDefinitions"]
    assert [d["name"] for d in defs] == ["all", "errors/by-path"]
    d = defs[1]
    assert d["queryDefinitionId"] == qid
    assert d["queryString"] == "filter level = 'ERROR' | stats count(*) by path"
    assert d["logGroupNames"] == ["/q/app"]
    assert isinstance(d["lastModified"], int)
    assert "logGroupNames" not in defs[0]
    assert [d["name"] for d in logs.describe_query_definitions(queryDefinitionNamePrefix="err")["queryDefinitions"]] == ["errors/by-path"]

    # Putting with the id updates it in place.
    assert logs.put_query_definition(queryDefinitionId=qid, name="errors", queryString="fields @message")["queryDefinitionId"] == qid
    assert [d["name"] for d in logs.describe_query_definitions()["queryDefinitions"]] == ["all", "errors"]
    with pytest.raises(ClientError) as e:
        logs.put_query_definition(queryDefinitionId="nope", name="x", queryString="fields @message")
    assert error_of(e)[0] == "ResourceNotFoundException"

    page = logs.describe_query_definitions(maxResults=1)
    assert len(page["queryDefinitions"]) == 1 and page["nextToken"]

    assert logs.delete_query_definition(queryDefinitionId=other)["success"] is True
    assert [d["name"] for d in logs.describe_query_definitions()["queryDefinitions"]] == ["errors"]
    with pytest.raises(ClientError) as e:
        logs.delete_query_definition(queryDefinitionId=other)
    assert error_of(e)[0] == "ResourceNotFoundException"
