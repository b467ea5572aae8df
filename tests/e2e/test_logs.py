"""CloudWatch Logs: log groups, streams, PutLogEvents rules, GetLogEvents tokens,
FilterLogEvents, retention on the nephos clock, tags, KMS keys."""

import pytest
from botocore.exceptions import ClientError

from logsutil import advance, error_of, group_with_stream, now_ms, put

DAY_MS = 86_400_000


@pytest.fixture
def logs(nephos, account):
    return nephos.client("logs", account=account)


@pytest.fixture
def raw(nephos, account):
    """A client that leaves validation to the server."""
    return nephos.client("logs", account=account, config_args={"parameter_validation": False})


# --- log groups -------------------------------------------------------------------------


def test_create_describe_delete_log_group(logs, account):
    logs.create_log_group(
        logGroupName="/app/one", tags={"team": "core"}, kmsKeyId="arn:aws:kms:us-east-1:1:key/k",
        logGroupClass="INFREQUENT_ACCESS",
    )
    g = logs.describe_log_groups()["logGroups"][0]
    assert g["logGroupName"] == "/app/one"
    assert g["arn"] == f"arn:aws:logs:us-east-1:{account}:log-group:/app/one:*"
    assert g["logGroupArn"] == f"arn:aws:logs:us-east-1:{account}:log-group:/app/one"
    assert g["metricFilterCount"] == 0
    assert g["storedBytes"] == 0
    assert g["kmsKeyId"] == "arn:aws:kms:us-east-1:1:key/k"
    assert g["logGroupClass"] == "INFREQUENT_ACCESS"
    assert isinstance(g["creationTime"], int)
    assert "retentionInDays" not in g
    assert logs.list_tags_log_group(logGroupName="/app/one")["tags"] == {"team": "core"}

    with pytest.raises(ClientError) as e:
        logs.create_log_group(logGroupName="/app/one")
    assert error_of(e) == ("ResourceAlreadyExistsException", "The specified log group already exists")

    logs.delete_log_group(logGroupName="/app/one")
    assert logs.describe_log_groups()["logGroups"] == []
    with pytest.raises(ClientError) as e:
        logs.delete_log_group(logGroupName="/app/one")
    assert error_of(e) == ("ResourceNotFoundException", "The specified log group does not exist.")


def test_log_group_names_are_validated(logs, raw):
    for bad in ["has space", "colon:name", "x" * 513]:
        with pytest.raises(ClientError) as e:
            raw.create_log_group(logGroupName=bad)
        code, msg = error_of(e)
        assert code == "InvalidParameterException"
        assert "logGroupName" in msg
    logs.create_log_group(logGroupName="ok.name-_/#1")


def test_describe_log_groups_prefix_pattern_and_pages(logs, raw):
    names = [f"/svc/{c}-{i:02d}" for c in ("api", "Web") for i in range(30)]
    for n in reversed(names):
        logs.create_log_group(logGroupName=n)
    got = [g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix="/svc/api")["logGroups"]]
    assert got == sorted(n for n in names if n.startswith("/svc/api"))
    # The pattern matches anywhere in the name, ignoring case.
    got = [g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePattern="web-1")["logGroups"]]
    assert got == [f"/svc/Web-{i}" for i in range(10, 20)]

    seen, token = [], None
    while True:
        kw = {"limit": 7}
        if token:
            kw["nextToken"] = token
        page = logs.describe_log_groups(**kw)
        assert len(page["logGroups"]) <= 7
        seen += [g["logGroupName"] for g in page["logGroups"]]
        token = page.get("nextToken")
        if not token:
            break
    assert seen == sorted(names)
    # The default page is 50 groups.
    first = logs.describe_log_groups()
    assert len(first["logGroups"]) == 50 and "nextToken" in first
    # The paginator walks them all.
    pages = logs.get_paginator("describe_log_groups").paginate()
    assert sum(len(p["logGroups"]) for p in pages) == 60

    with pytest.raises(ClientError) as e:
        logs.describe_log_groups(logGroupNamePrefix="/svc", logGroupNamePattern="api")
    assert error_of(e)[0] == "InvalidParameterException"
    for bad in (0, 51):
        with pytest.raises(ClientError) as e:
            raw.describe_log_groups(limit=bad)
        assert error_of(e)[0] == "InvalidParameterException"


def test_deletion_protection(logs, account):
    logs.create_log_group(logGroupName="kept", deletionProtectionEnabled=True)
    assert logs.describe_log_groups()["logGroups"][0]["deletionProtectionEnabled"] is True
    with pytest.raises(ClientError) as e:
        logs.delete_log_group(logGroupName="kept")
    assert error_of(e) == (
        "ValidationException",
        "Cannot delete log group with deletion protection enabled. Disable deletion protection first.",
    )
    arn = f"arn:aws:logs:us-east-1:{account}:log-group:kept"
    logs.put_log_group_deletion_protection(logGroupIdentifier=arn, deletionProtectionEnabled=False)
    assert logs.describe_log_groups()["logGroups"][0]["deletionProtectionEnabled"] is False
    logs.delete_log_group(logGroupName="kept")
    with pytest.raises(ClientError) as e:
        logs.put_log_group_deletion_protection(logGroupIdentifier="kept", deletionProtectionEnabled=True)
    assert error_of(e)[0] == "ResourceNotFoundException"


def test_retention_policy_values(logs):
    logs.create_log_group(logGroupName="r")
    logs.put_retention_policy(logGroupName="r", retentionInDays=7)
    assert logs.describe_log_groups()["logGroups"][0]["retentionInDays"] == 7
    for bad in (2, 0, 4000):
        with pytest.raises(ClientError) as e:
            logs.put_retention_policy(logGroupName="r", retentionInDays=bad)
        code, msg = error_of(e)
        assert code == "InvalidParameterException"
        assert "retentionInDays" in msg and "[1, 3, 5, 7, 14, 30," in msg
    logs.delete_retention_policy(logGroupName="r")
    assert "retentionInDays" not in logs.describe_log_groups()["logGroups"][0]
    with pytest.raises(ClientError) as e:
        logs.put_retention_policy(logGroupName="missing", retentionInDays=1)
    assert error_of(e)[0] == "ResourceNotFoundException"


def test_retention_expires_events_on_the_clock(start_nephos):
    # A server of its own: days on the shared server's clock would age other tests' state.
    nephos = start_nephos()
    logs = nephos.client("logs")
    g, s = group_with_stream(logs)
    t0 = now_ms(nephos)
    put(logs, g, s, ["old-1", "old-2"], t0 - 2 * DAY_MS + 60_000)
    put(logs, g, s, ["new"], t0)
    logs.put_retention_policy(logGroupName=g, retentionInDays=1)
    # Already past one day: gone at the next read.
    msgs = [e["message"] for e in logs.get_log_events(logGroupName=g, logStreamName=s, startFromHead=True)["events"]]
    assert msgs == ["new"]
    advance(nephos, 2 * 86_400)
    assert logs.get_log_events(logGroupName=g, logStreamName=s)["events"] == []
    assert logs.filter_log_events(logGroupName=g)["events"] == []
    assert logs.describe_log_groups()["logGroups"][0]["storedBytes"] == 0
    # Events older than the retention are refused as expired.
    t1 = now_ms(nephos)
    r = put(logs, g, s, ["expired", "fresh"], t1 - 25 * 3_600_000, step=DAY_MS)
    assert r["rejectedLogEventsInfo"] == {"expiredLogEventEndIndex": 1}


def test_tags_both_apis(logs, account):
    logs.create_log_group(logGroupName="t", tags={"a": "1"})
    logs.tag_log_group(logGroupName="t", tags={"b": "2"})
    logs.untag_log_group(logGroupName="t", tags=["a"])
    assert logs.list_tags_log_group(logGroupName="t")["tags"] == {"b": "2"}
    arn = f"arn:aws:logs:us-east-1:{account}:log-group:t"
    logs.tag_resource(resourceArn=arn, tags={"c": "3"})
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"b": "2", "c": "3"}
    # The ARN with DescribeLogGroups's trailing :* is not a resource ARN.
    with pytest.raises(ClientError) as e:
        logs.list_tags_for_resource(resourceArn=arn + ":*")
    assert error_of(e)[0] == "InvalidParameterException"
    logs.untag_resource(resourceArn=arn, tagKeys=["b"])
    assert logs.list_tags_log_group(logGroupName="t")["tags"] == {"c": "3"}
    with pytest.raises(ClientError) as e:
        logs.tag_resource(resourceArn=arn, tags={f"k{i}": "v" for i in range(50)})
    assert error_of(e)[0] == "TooManyTagsException"
    with pytest.raises(ClientError) as e:
        logs.list_tags_for_resource(resourceArn=f"arn:aws:logs:us-east-1:{account}:log-group:nope")
    assert error_of(e)[0] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        logs.list_tags_log_group(logGroupName="nope")
    assert error_of(e)[0] == "ResourceNotFoundException"


def test_kms_key_association(logs):
    logs.create_log_group(logGroupName="k")
    logs.associate_kms_key(logGroupName="k", kmsKeyId="arn:aws:kms:us-east-1:1:key/abc")
    assert logs.describe_log_groups()["logGroups"][0]["kmsKeyId"] == "arn:aws:kms:us-east-1:1:key/abc"
    logs.disassociate_kms_key(logGroupName="k")
    assert "kmsKeyId" not in logs.describe_log_groups()["logGroups"][0]
    with pytest.raises(ClientError) as e:
        logs.associate_kms_key(logGroupName="missing", kmsKeyId="k")
    assert error_of(e)[0] == "ResourceNotFoundException"


def test_accounts_and_regions_are_isolated(nephos, account):
    a = nephos.client("logs", account=account)
    a.create_log_group(logGroupName="iso")
    assert nephos.client("logs").describe_log_groups()["logGroups"] == []
    assert nephos.client("logs", account=account, region="eu-west-1").describe_log_groups()["logGroups"] == []


# --- log streams ------------------------------------------------------------------------


def test_log_streams_lifecycle(nephos, logs, account):
    logs.create_log_group(logGroupName="g")
    logs.create_log_stream(logGroupName="g", logStreamName="b")
    logs.create_log_stream(logGroupName="g", logStreamName="a")
    with pytest.raises(ClientError) as e:
        logs.create_log_stream(logGroupName="g", logStreamName="a")
    assert error_of(e)[0] == "ResourceAlreadyExistsException"
    with pytest.raises(ClientError) as e:
        logs.create_log_stream(logGroupName="nope", logStreamName="a")
    assert error_of(e) == ("ResourceNotFoundException", "The specified log group does not exist.")
    with pytest.raises(ClientError) as e:
        logs.create_log_stream(logGroupName="g", logStreamName="has:colon")
    assert error_of(e)[0] == "InvalidParameterException"

    streams = logs.describe_log_streams(logGroupName="g")["logStreams"]
    assert [s["logStreamName"] for s in streams] == ["a", "b"]
    assert streams[0]["arn"] == f"arn:aws:logs:us-east-1:{account}:log-group:g:log-stream:a"
    assert "firstEventTimestamp" not in streams[0]

    t = now_ms(nephos)
    put(logs, "g", "b", ["x"], t - 5000)
    put(logs, "g", "a", ["y", "z"], t - 1000)
    a = logs.describe_log_streams(logGroupName="g", logStreamNamePrefix="a")["logStreams"][0]
    assert a["firstEventTimestamp"] == t - 1000
    assert a["lastEventTimestamp"] == t - 999
    assert a["lastIngestionTime"] >= t - 10
    assert a["uploadSequenceToken"]
    assert a["storedBytes"] == 0

    by_time = logs.describe_log_streams(logGroupName="g", orderBy="LastEventTime", descending=True)
    assert [s["logStreamName"] for s in by_time["logStreams"]] == ["a", "b"]
    by_time = logs.describe_log_streams(logGroupName="g", orderBy="LastEventTime")
    assert [s["logStreamName"] for s in by_time["logStreams"]] == ["b", "a"]
    desc = logs.describe_log_streams(logGroupName="g", descending=True)
    assert [s["logStreamName"] for s in desc["logStreams"]] == ["b", "a"]
    with pytest.raises(ClientError) as e:
        logs.describe_log_streams(logGroupName="g", orderBy="LastEventTime", logStreamNamePrefix="a")
    assert error_of(e) == (
        "InvalidParameterException",
        "Cannot order by LastEventTime with a logStreamNamePrefix.",
    )
    # The group may be named by its ARN.
    arn = f"arn:aws:logs:us-east-1:{account}:log-group:g"
    assert len(logs.describe_log_streams(logGroupIdentifier=arn)["logStreams"]) == 2

    logs.delete_log_stream(logGroupName="g", logStreamName="a")
    assert [s["logStreamName"] for s in logs.describe_log_streams(logGroupName="g")["logStreams"]] == ["b"]
    with pytest.raises(ClientError) as e:
        logs.delete_log_stream(logGroupName="g", logStreamName="a")
    assert error_of(e) == ("ResourceNotFoundException", "The specified log stream does not exist.")


def test_describe_log_streams_pages(logs):
    logs.create_log_group(logGroupName="p")
    for i in range(12):
        logs.create_log_stream(logGroupName="p", logStreamName=f"s{i:02d}")
    seen, token = [], None
    while True:
        kw = {"logGroupName": "p", "limit": 5}
        if token:
            kw["nextToken"] = token
        page = logs.describe_log_streams(**kw)
        seen += [s["logStreamName"] for s in page["logStreams"]]
        token = page.get("nextToken")
        if not token:
            break
    assert seen == [f"s{i:02d}" for i in range(12)]


# --- PutLogEvents -----------------------------------------------------------------------


def test_put_log_events_rules(nephos, logs, raw):
    g, s = group_with_stream(logs)
    t = now_ms(nephos)
    r = put(logs, g, s, ["a", "b"], t)
    assert r["nextSequenceToken"]
    assert "rejectedLogEventsInfo" not in r
    # The sequence token is accepted and ignored, as AWS does now.
    logs.put_log_events(
        logGroupName=g, logStreamName=s, sequenceToken="bogus-but-ignored",
        logEvents=[{"timestamp": t, "message": "c"}],
    )

    with pytest.raises(ClientError) as e:
        logs.put_log_events(logGroupName=g, logStreamName=s, logEvents=[
            {"timestamp": t, "message": "x"}, {"timestamp": t - 1, "message": "y"}])
    assert error_of(e) == (
        "InvalidParameterException",
        "Log events in a single PutLogEvents request must be in chronological order.",
    )
    with pytest.raises(ClientError) as e:
        logs.put_log_events(logGroupName=g, logStreamName=s, logEvents=[
            {"timestamp": t - 25 * 3_600_000, "message": "x"}, {"timestamp": t, "message": "y"}])
    assert error_of(e)[0] == "InvalidParameterException"
    assert "24 hours" in error_of(e)[1]
    # 1,048,576 bytes at most, counting 26 bytes per event.
    big = "x" * (1_048_576 // 4 - 26)
    put(logs, g, s, [big] * 4, t)
    with pytest.raises(ClientError) as e:
        put(logs, g, s, [big] * 3 + [big + "y"], t)
    assert error_of(e)[0] == "InvalidParameterException"
    with pytest.raises(ClientError) as e:
        put(raw, g, s, ["x"] * 10_001, t)
    assert error_of(e)[0] == "InvalidParameterException"
    put(logs, g, s, ["x"] * 10_000, t)

    with pytest.raises(ClientError) as e:
        put(logs, g, "nope", ["x"], t)
    assert error_of(e) == ("ResourceNotFoundException", "The specified log stream does not exist.")
    with pytest.raises(ClientError) as e:
        put(logs, "nope", s, ["x"], t)
    assert error_of(e) == ("ResourceNotFoundException", "The specified log group does not exist.")


def test_put_log_events_rejects_too_old_and_too_new(nephos, logs):
    g, s = group_with_stream(logs)
    t = now_ms(nephos)
    events = [
        {"timestamp": t - 15 * DAY_MS, "message": "too old"},
        {"timestamp": t - 15 * DAY_MS + 1, "message": "too old 2"},
        {"timestamp": t, "message": "ok"},
        {"timestamp": t + 3 * 3_600_000, "message": "too new"},
    ]
    # The span rule applies first, so split the batch: old + ok, then ok + new.
    r = logs.put_log_events(logGroupName=g, logStreamName=s, logEvents=events[:2])
    assert r["rejectedLogEventsInfo"] == {"tooOldLogEventEndIndex": 2}
    r = logs.put_log_events(logGroupName=g, logStreamName=s, logEvents=events[2:])
    assert r["rejectedLogEventsInfo"] == {"tooNewLogEventStartIndex": 1}
    msgs = [e["message"] for e in logs.get_log_events(logGroupName=g, logStreamName=s)["events"]]
    assert msgs == ["ok"]


def test_put_of_100_events_is_fast(nephos, logs):
    import time

    g, s = group_with_stream(logs)
    t = now_ms(nephos)
    started = time.monotonic()
    for n in range(20):
        put(logs, g, s, [f"event {n}-{i}" for i in range(100)], t + n * 100)
    assert time.monotonic() - started < 5
    assert len(logs.get_log_events(logGroupName=g, logStreamName=s)["events"]) == 2000


# --- GetLogEvents -----------------------------------------------------------------------


def test_get_log_events_tokens(nephos, logs, account):
    g, s = group_with_stream(logs)
    t = now_ms(nephos) - 100_000
    put(logs, g, s, [f"m{i}" for i in range(10)], t, step=1000)

    # Without a token, the newest events; with startFromHead, the oldest.
    tail = logs.get_log_events(logGroupName=g, logStreamName=s, limit=3)
    assert [e["message"] for e in tail["events"]] == ["m7", "m8", "m9"]
    assert all(set(e) == {"timestamp", "message", "ingestionTime"} for e in tail["events"])
    head = logs.get_log_events(logGroupName=g, logStreamName=s, limit=3, startFromHead=True)
    assert [e["message"] for e in head["events"]] == ["m0", "m1", "m2"]
    for tok in (head["nextForwardToken"], head["nextBackwardToken"]):
        assert tok[:2] in ("f/", "b/") and tok[2:].isdigit()

    # Forward from the head to the end; at the end the same token comes back.
    seen, token = [], None
    while True:
        kw = {"logGroupName": g, "logStreamName": s, "limit": 4, "startFromHead": True}
        if token:
            kw["nextToken"] = token
        page = logs.get_log_events(**kw)
        seen += [e["message"] for e in page["events"]]
        if page["nextForwardToken"] == token:
            assert page["events"] == []
            break
        token = page["nextForwardToken"]
    assert seen == [f"m{i}" for i in range(10)]

    # New events appear after the end token.
    put(logs, g, s, ["m10"], t + 20_000)
    after = logs.get_log_events(logGroupName=g, logStreamName=s, nextToken=token)
    assert [e["message"] for e in after["events"]] == ["m10"]

    # Backward from the tail.
    back = logs.get_log_events(logGroupName=g, logStreamName=s, limit=3, nextToken=tail["nextBackwardToken"])
    assert [e["message"] for e in back["events"]] == ["m4", "m5", "m6"]
    first = logs.get_log_events(logGroupName=g, logStreamName=s, nextToken=head["nextBackwardToken"])
    assert first["events"] == [] and first["nextBackwardToken"] == head["nextBackwardToken"]

    # Time window: startTime inclusive, endTime exclusive.
    win = logs.get_log_events(logGroupName=g, logStreamName=s, startTime=t + 2000, endTime=t + 5000, startFromHead=True)
    assert [e["message"] for e in win["events"]] == ["m2", "m3", "m4"]

    # logGroupIdentifier takes the ARN.
    arn = f"arn:aws:logs:us-east-1:{account}:log-group:{g}"
    assert len(logs.get_log_events(logGroupIdentifier=arn, logStreamName=s)["events"]) == 11
    with pytest.raises(ClientError) as e:
        logs.get_log_events(logGroupName=g, logGroupIdentifier=arn, logStreamName=s)
    assert error_of(e)[0] == "InvalidParameterException"
    with pytest.raises(ClientError) as e:
        logs.get_log_events(logGroupName=g, logStreamName="nope")
    assert error_of(e) == ("ResourceNotFoundException", "The specified log stream does not exist.")
    with pytest.raises(ClientError) as e:
        logs.get_log_events(logGroupName=g, logStreamName=s, nextToken="garbage")
    assert error_of(e)[0] == "InvalidParameterException"


def test_events_out_of_order_across_batches_are_read_in_time_order(nephos, logs):
    g, s = group_with_stream(logs)
    t = now_ms(nephos) - 60_000
    put(logs, g, s, ["late"], t + 5000)
    put(logs, g, s, ["early"], t)
    put(logs, g, s, ["middle"], t + 2000)
    msgs = [e["message"] for e in logs.get_log_events(logGroupName=g, logStreamName=s, startFromHead=True)["events"]]
    assert msgs == ["early", "middle", "late"]


# --- FilterLogEvents --------------------------------------------------------------------


def test_filter_log_events_across_streams(nephos, logs, account):
    logs.create_log_group(logGroupName="f")
    for st in ("web-1", "web-2", "db"):
        logs.create_log_stream(logGroupName="f", logStreamName=st)
    t = now_ms(nephos) - 100_000
    put(logs, "f", "web-1", ["ERROR a", "INFO b", "ERROR c"], t, step=10)
    put(logs, "f", "web-2", ["ERROR d", "INFO e"], t + 5, step=10)
    put(logs, "f", "db", ["ERROR f"], t + 1)

    r = logs.filter_log_events(logGroupName="f", filterPattern="ERROR")
    assert [e["message"] for e in r["events"]] == ["ERROR a", "ERROR f", "ERROR d", "ERROR c"]
    e0 = r["events"][0]
    assert set(e0) == {"logStreamName", "timestamp", "message", "ingestionTime", "eventId"}
    assert e0["logStreamName"] == "web-1"
    assert len({e["eventId"] for e in r["events"]}) == 4
    assert {x["logStreamName"] for x in r["searchedLogStreams"]} == {"web-1", "web-2", "db"}

    r = logs.filter_log_events(logGroupName="f", logStreamNamePrefix="web", filterPattern="ERROR")
    assert [e["message"] for e in r["events"]] == ["ERROR a", "ERROR d", "ERROR c"]
    r = logs.filter_log_events(logGroupName="f", logStreamNames=["db", "web-2"])
    assert [e["message"] for e in r["events"]] == ["ERROR f", "ERROR d", "INFO e"]
    r = logs.filter_log_events(logGroupName="f", startTime=t + 5, endTime=t + 20)
    assert [e["message"] for e in r["events"]] == ["ERROR d", "INFO b", "INFO e"]
    r = logs.filter_log_events(logGroupName="f", interleaved=True, filterPattern="-ERROR")
    assert [e["message"] for e in r["events"]] == ["INFO b", "INFO e"]

    # Pages of two, with nextToken, cover everything once, in order.
    seen, token = [], None
    while True:
        kw = {"logGroupName": "f", "limit": 2}
        if token:
            kw["nextToken"] = token
        page = logs.filter_log_events(**kw)
        seen += [e["message"] for e in page["events"]]
        token = page.get("nextToken")
        if not token:
            break
    assert seen == ["ERROR a", "ERROR f", "ERROR d", "INFO b", "INFO e", "ERROR c"]
    pages = logs.get_paginator("filter_log_events").paginate(logGroupName="f", PaginationConfig={"PageSize": 4})
    assert sum(len(p["events"]) for p in pages) == 6

    arn = f"arn:aws:logs:us-east-1:{account}:log-group:f"
    assert len(logs.filter_log_events(logGroupIdentifier=arn)["events"]) == 6
    with pytest.raises(ClientError) as e:
        logs.filter_log_events(logGroupName="nope")
    assert error_of(e) == ("ResourceNotFoundException", "The specified log group does not exist.")
    with pytest.raises(ClientError) as e:
        logs.filter_log_events(logGroupName="f", filterPattern="{ $.a = }")
    assert error_of(e)[0] == "InvalidParameterException"
    with pytest.raises(ClientError) as e:
        logs.filter_log_events(logGroupName="f", logStreamNames=["db"], logStreamNamePrefix="web")
    assert error_of(e)[0] == "InvalidParameterException"


def test_filter_over_100k_events_is_fast(nephos, logs):
    import time

    g, s = group_with_stream(logs)
    t = now_ms(nephos) - 3_600_000
    for b in range(10):
        put(logs, g, s, [("ERROR" if i % 1000 == 0 else "INFO") + f" line {b}-{i} with some padding text" for i in range(10_000)], t + b * 10_000)
    started = time.monotonic()
    r = logs.filter_log_events(logGroupName=g, filterPattern="ERROR")
    elapsed = time.monotonic() - started
    assert len(r["events"]) == 100
    assert elapsed < 1.0, elapsed
    started = time.monotonic()
    r = logs.filter_log_events(logGroupName=g, filterPattern='"line 9-9999"')
    assert len(r["events"]) == 1 and time.monotonic() - started < 1.0


def test_reset_forgets_everything(start_nephos):
    server = start_nephos()
    logs = server.client("logs")
    logs.create_log_group(logGroupName="gone")
    server.internal("/_nephos/reset", {})
    assert logs.describe_log_groups()["logGroups"] == []


def test_resource_policies(logs, account):
    doc = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"route53.amazonaws.com"},"Action":["logs:PutLogEvents"],"Resource":"*"}]}'
    r = logs.put_resource_policy(policyName="route53", policyDocument=doc)
    assert r["resourcePolicy"]["policyName"] == "route53"
    assert r["resourcePolicy"]["policyDocument"] == doc
    assert r["resourcePolicy"]["policyScope"] == "ACCOUNT"
    assert r["revisionId"] == r["resourcePolicy"]["revisionId"]
    first_revision = r["revisionId"]
    again = logs.put_resource_policy(policyName="route53", policyDocument=doc, expectedRevisionId=first_revision)
    assert again["revisionId"] != first_revision
    with pytest.raises(ClientError) as e:
        logs.put_resource_policy(policyName="route53", policyDocument=doc, expectedRevisionId=first_revision)
    assert error_of(e)[0] == "OperationAbortedException"
    with pytest.raises(ClientError) as e:
        logs.put_resource_policy(policyName="bad", policyDocument="{not json")
    assert error_of(e)[0] == "InvalidParameterException"

    logs.create_log_group(logGroupName="rp")
    arn = f"arn:aws:logs:us-east-1:{account}:log-group:rp"
    scoped = logs.put_resource_policy(resourceArn=arn, policyDocument=doc)["resourcePolicy"]
    assert scoped["policyScope"] == "RESOURCE" and scoped["resourceArn"] == arn
    with pytest.raises(ClientError) as e:
        logs.put_resource_policy(resourceArn=f"arn:aws:logs:us-east-1:{account}:log-group:none", policyDocument=doc)
    assert error_of(e)[0] == "ResourceNotFoundException"

    assert len(logs.describe_resource_policies()["resourcePolicies"]) == 2
    assert [p["policyName"] for p in logs.describe_resource_policies(policyScope="ACCOUNT")["resourcePolicies"]] == ["route53"]
    assert [p["resourceArn"] for p in logs.describe_resource_policies(resourceArn=arn)["resourcePolicies"]] == [arn]

    for n in range(9):
        logs.put_resource_policy(policyName=f"p{n}", policyDocument=doc)
    with pytest.raises(ClientError) as e:
        logs.put_resource_policy(policyName="eleventh", policyDocument=doc)
    assert error_of(e)[0] == "LimitExceededException"

    logs.delete_resource_policy(policyName="route53")
    logs.delete_resource_policy(resourceArn=arn)
    with pytest.raises(ClientError) as e:
        logs.delete_resource_policy(policyName="route53")
    assert error_of(e) == ("ResourceNotFoundException", "Policy with name [route53] does not exist")
    assert len(logs.describe_resource_policies()["resourcePolicies"]) == 9
