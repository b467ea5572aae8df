"""CloudWatch Logs StartLiveTail: an event stream of newly ingested, matching events."""

import pytest
from botocore.exceptions import ClientError

from logsutil import error_of, now_ms, put


@pytest.fixture
def tail_client(nephos, account):
    # StartLiveTail's model prefixes the host with `stream-`, which an IP endpoint lacks.
    return nephos.client("logs", account=account, config_args={"inject_host_prefix": False})


def test_live_tail_streams_matching_events(nephos, account, tail_client):
    logs = nephos.client("logs", account=account)
    logs.create_log_group(logGroupName="/tail/app")
    logs.create_log_stream(logGroupName="/tail/app", logStreamName="web-1")
    logs.create_log_stream(logGroupName="/tail/app", logStreamName="db")
    arn = f"arn:aws:logs:us-east-1:{account}:log-group:/tail/app"
    t = now_ms(nephos)
    put(logs, "/tail/app", "web-1", ["ERROR before the session"], t)

    resp = tail_client.start_live_tail(
        logGroupIdentifiers=[arn], logStreamNamePrefixes=["web"], logEventFilterPattern="ERROR"
    )
    stream = resp["responseStream"]
    events = iter(stream)
    start = next(events)["sessionStart"]
    assert start["logGroupIdentifiers"] == [arn]
    assert start["logStreamNamePrefixes"] == ["web"]
    assert start["logEventFilterPattern"] == "ERROR"
    assert start["sessionId"]

    put(logs, "/tail/app", "web-1", ["INFO skipped", "ERROR one"], t + 1)
    put(logs, "/tail/app", "db", ["ERROR other stream"], t + 2)
    put(logs, "/tail/app", "web-1", ["ERROR two"], t + 3)
    seen = []
    for _ in range(5):
        update = next(events)["sessionUpdate"]
        assert update["sessionMetadata"]["sampled"] is False
        seen += update["sessionResults"]
        if len(seen) >= 2:
            break
    stream.close()
    assert [e["message"] for e in seen] == ["ERROR one", "ERROR two"]
    assert seen[0]["logStreamName"] == "web-1"
    assert seen[0]["logGroupIdentifier"] == arn
    assert seen[0]["timestamp"] == t + 2
    assert isinstance(seen[0]["ingestionTime"], int)


def test_live_tail_errors(nephos, account, tail_client):
    arn = f"arn:aws:logs:us-east-1:{account}:log-group:/tail/none"
    with pytest.raises(ClientError) as e:
        tail_client.start_live_tail(logGroupIdentifiers=[arn])
    assert error_of(e)[0] == "ResourceNotFoundException"
    nephos.client("logs", account=account).create_log_group(logGroupName="/tail/x")
    ok = f"arn:aws:logs:us-east-1:{account}:log-group:/tail/x"
    with pytest.raises(ClientError) as e:
        tail_client.start_live_tail(logGroupIdentifiers=[ok], logEventFilterPattern="{ $.a = ")
    assert error_of(e)[0] == "InvalidParameterException"
    with pytest.raises(ClientError) as e:
        tail_client.start_live_tail(logGroupIdentifiers=[ok], logStreamNames=["a"], logStreamNamePrefixes=["b"])
    assert error_of(e)[0] == "InvalidParameterException"
