"""CloudWatch Logs: the filter pattern language (through FilterLogEvents and
TestMetricFilter), metric filters and subscription filters."""

import base64
import gzip
import json

import pytest
from botocore.exceptions import ClientError

from logsutil import error_of, group_with_stream, now_ms, put


@pytest.fixture
def logs(nephos, account):
    return nephos.client("logs", account=account)


def matching(logs, messages, pattern):
    """The messages TestMetricFilter says `pattern` matches."""
    r = logs.test_metric_filter(filterPattern=pattern, logEventMessages=messages)
    return [m["eventMessage"] for m in r["matches"]]


TEXT = [
    "ERROR disk full on /dev/sda1",
    "WARN disk nearly full",
    "INFO all good",
    "error lower case",
    "ERROR Exiting now",
    "user=alice action=login: ok",
]


@pytest.mark.parametrize(
    "pattern,expected",
    [
        ("", TEXT),
        ("ERROR", [TEXT[0], TEXT[4]]),
        ("error", [TEXT[3]]),
        ("ERROR disk", [TEXT[0]]),
        ('"disk full"', [TEXT[0]]),
        ('"nearly full" WARN', [TEXT[1]]),
        ("?ERROR ?WARN", [TEXT[0], TEXT[1], TEXT[4]]),
        ("ERROR -Exiting", [TEXT[0]]),
        ('-"disk"', [TEXT[2], TEXT[3], TEXT[4], TEXT[5]]),
        ('"user=alice"', [TEXT[5]]),
        ("%ERR(OR)? [A-Z][a-z]+%", [TEXT[4]]),
        ("%[0-9]$%", [TEXT[0]]),
        ("?%^WARN% ?good", [TEXT[1], TEXT[2]]),
    ],
)
def test_term_patterns(logs, pattern, expected):
    assert matching(logs, TEXT, pattern) == expected


JSON = [
    json.dumps({"level": "ERROR", "status": 500, "latency": 1200.5, "user": {"id": "u1", "admin": True}, "tags": ["a", "b"], "ip": "10.0.0.7"}),
    json.dumps({"level": "INFO", "status": 200, "latency": 12, "user": {"id": "u2", "admin": False}, "tags": ["b"], "ip": "192.168.1.1"}),
    json.dumps({"level": "WARN", "status": 404, "latency": 30, "user": None, "ip": "10.1.2.3"}),
    "not json at all ERROR",
]


@pytest.mark.parametrize(
    "pattern,expected",
    [
        ('{ $.level = "ERROR" }', [0]),
        ("{ $.level = ERROR }", [0]),
        ('{ $.level != "ERROR" }', [1, 2]),
        ("{ $.status = 200 }", [1]),
        ("{ $.status >= 400 }", [0, 2]),
        ("{ $.status > 400 && $.status < 500 }", [2]),
        ("{ $.latency <= 12 }", [1]),
        ("{ $.latency > 1e3 }", [0]),
        ('{ $.level = "ERROR" || $.level = "WARN" }', [0, 2]),
        ('{ ($.status = 500 || $.status = 404) && $.latency > 100 }', [0]),
        ('{ $.user.id = "u2" }', [1]),
        ("{ $.user.admin IS TRUE }", [0]),
        ("{ $.user.admin IS FALSE }", [1]),
        ("{ $.user IS NULL }", [2]),
        ("{ $.tags NOT EXISTS }", [2]),
        ('{ $.tags[0] = "a" }', [0]),
        ('{ $.tags[0] = "b" }', [1]),
        ('{ $.level = "ERR*" }', [0]),
        ("{ $.ip = 10.* }", [0, 2]),
        ("{ $.ip != 10.* }", [1]),
        ('{ $.level = %^(WARN|INFO)$% }', [1, 2]),
        ("{ $.missing = 1 }", []),
    ],
)
def test_json_patterns(logs, pattern, expected):
    assert matching(logs, JSON, pattern) == [JSON[i] for i in expected]


APACHE = [
    '127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 404 2326',
    '10.0.0.2 - bob [10/Oct/2000:13:25:16 -0700] "POST /api HTTP/1.1" 200 12',
    '10.0.0.3 - - [10/Oct/2000:13:25:17 -0700] "GET /big.bin HTTP/1.1" 500 99999',
    "too few fields",
]


@pytest.mark.parametrize(
    "pattern,expected",
    [
        ("[ip, id, user, timestamp, request, status_code, bytes]", [0, 1, 2]),
        ("[ip, id, user, timestamp, request, status_code = 404, bytes]", [0]),
        ("[ip, id, user, timestamp, request, status_code = 4*, bytes]", [0]),
        ("[ip, id, user, ..., status_code = 5* || status_code = 4*, bytes]", [0, 2]),
        ("[..., bytes > 1000]", [0, 2]),
        ("[ip = 10.*, ...]", [1, 2]),
        ("[ip, id, user != -, ...]", [0, 1, 3]),
        ('[ip, id, user, timestamp, request = "*index*", ...]', [0]),
        ("[ip, id, user, timestamp, request = %^POST%, ...]", [1]),
        ("[..., status_code >= 200 && status_code < 300, bytes]", [1]),
        ("[a, b, c]", [3]),
        ("[a, ..., c]", [0, 1, 2, 3]),
        ("[a, b, ..., c, d, e, f, g]", [0, 1, 2]),
        ("[a, b, ..., c, d, e, f, g, h]", []),
    ],
)
def test_space_delimited_patterns(logs, pattern, expected):
    assert matching(logs, APACHE, pattern) == [APACHE[i] for i in expected]


def test_test_metric_filter_extracts_fields(logs):
    r = logs.test_metric_filter(
        filterPattern="[ip, id, user, timestamp, request, status_code, bytes > 1000]",
        logEventMessages=APACHE,
    )
    assert [m["eventNumber"] for m in r["matches"]] == [1, 3]
    assert r["matches"][0]["extractedValues"] == {
        "$ip": "127.0.0.1",
        "$id": "-",
        "$user": "frank",
        "$timestamp": "10/Oct/2000:13:25:15 -0700",
        "$request": "GET /index.html HTTP/1.0",
        "$status_code": "404",
        "$bytes": "2326",
    }
    r = logs.test_metric_filter(filterPattern="[w1, ..., w3]", logEventMessages=["a b c d"])
    assert r["matches"][0]["extractedValues"] == {"$w1": "a", "$w3": "d"}


@pytest.mark.parametrize(
    "pattern",
    [
        "a:b",
        "ERROR [",
        '"unclosed',
        "{ $.a = }",
        "{ $.a = 1",
        "{ a = 1 }",
        '{ $.a > "x" }',
        "{ $.a IS MAYBE }",
        "[a,,b]",
        "[a > x]",
        "%a% %b% %c%",
    ],
)
def test_bad_patterns_are_refused(logs, pattern):
    with pytest.raises(ClientError) as e:
        logs.test_metric_filter(filterPattern=pattern, logEventMessages=["x"])
    assert error_of(e)[0] == "InvalidParameterException"


def test_unquoted_symbols_name_the_term(logs):
    with pytest.raises(ClientError) as e:
        logs.test_metric_filter(filterPattern="ok a:b", logEventMessages=["x"])
    assert error_of(e) == ("InvalidParameterException", "Invalid character(s) in term 'a:b'")


def test_filter_log_events_uses_the_pattern_language(nephos, logs):
    g, s = group_with_stream(logs)
    t = now_ms(nephos) - 10_000
    put(logs, g, s, JSON + APACHE, t)
    r = logs.filter_log_events(logGroupName=g, filterPattern="{ $.status >= 400 }")
    assert [e["message"] for e in r["events"]] == [JSON[0], JSON[2]]
    r = logs.filter_log_events(logGroupName=g, filterPattern="[..., status_code = 2*, bytes]")
    assert [e["message"] for e in r["events"]] == [APACHE[1]]
    r = logs.filter_log_events(logGroupName=g, filterPattern="ERROR")
    assert [e["message"] for e in r["events"]] == [JSON[0], JSON[3]]


# --- metric filters ---------------------------------------------------------------------


def transformation(name="Errors", value="1"):
    return {"metricName": name, "metricNamespace": "App", "metricValue": value, "defaultValue": 0.0}


def test_metric_filters(logs):
    logs.create_log_group(logGroupName="mf")
    logs.put_metric_filter(
        logGroupName="mf", filterName="errors", filterPattern="ERROR",
        metricTransformations=[transformation()],
    )
    logs.put_metric_filter(
        logGroupName="mf", filterName="bytes", filterPattern="[..., bytes]",
        metricTransformations=[transformation("Bytes", "$bytes")],
    )
    r = logs.describe_metric_filters(logGroupName="mf")["metricFilters"]
    assert [f["filterName"] for f in r] == ["bytes", "errors"]
    assert r[1]["filterPattern"] == "ERROR"
    assert r[1]["logGroupName"] == "mf"
    assert r[1]["metricTransformations"] == [transformation()]
    assert isinstance(r[1]["creationTime"], int)
    assert logs.describe_log_groups()["logGroups"][0]["metricFilterCount"] == 2
    assert [f["filterName"] for f in logs.describe_metric_filters(filterNamePrefix="er", logGroupName="mf")["metricFilters"]] == ["errors"]
    by_metric = logs.describe_metric_filters(metricName="Bytes", metricNamespace="App")["metricFilters"]
    assert [f["filterName"] for f in by_metric] == ["bytes"]

    # Putting the same name again replaces it.
    logs.put_metric_filter(
        logGroupName="mf", filterName="errors", filterPattern="?ERROR ?FATAL",
        metricTransformations=[transformation()],
    )
    r = logs.describe_metric_filters(logGroupName="mf", filterNamePrefix="errors")["metricFilters"]
    assert r[0]["filterPattern"] == "?ERROR ?FATAL"

    with pytest.raises(ClientError) as e:
        logs.put_metric_filter(
            logGroupName="mf", filterName="bad", filterPattern="{ $.x = ",
            metricTransformations=[transformation()],
        )
    assert error_of(e)[0] == "InvalidParameterException"
    with pytest.raises(ClientError) as e:
        logs.put_metric_filter(
            logGroupName="nope", filterName="x", filterPattern="",
            metricTransformations=[transformation()],
        )
    assert error_of(e)[0] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        logs.describe_metric_filters(logGroupName="nope")
    assert error_of(e)[0] == "ResourceNotFoundException"

    logs.delete_metric_filter(logGroupName="mf", filterName="errors")
    assert [f["filterName"] for f in logs.describe_metric_filters(logGroupName="mf")["metricFilters"]] == ["bytes"]
    with pytest.raises(ClientError) as e:
        logs.delete_metric_filter(logGroupName="mf", filterName="errors")
    assert error_of(e)[0] == "ResourceNotFoundException"


# --- subscription filters ---------------------------------------------------------------


def consumer(lam, account, name="consumer"):
    """A function for subscription filters to deliver to (AWS checks it exists)."""
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("app.py", "def handler(e, c):\n    return None\n")
    arn = lam.create_function(
        FunctionName=name, Runtime="python3.12", Role=f"arn:aws:iam::{account}:role/r",
        Handler="app.handler", Code={"ZipFile": buf.getvalue()},
    )["FunctionArn"]
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.2})
    return arn


def test_subscription_filters(nephos, logs, account):
    logs.create_log_group(logGroupName="sf")
    fn = consumer(nephos.client("lambda", account=account), account)
    # AWS tries the destination first: a function that does not exist is refused.
    with pytest.raises(ClientError) as e:
        logs.put_subscription_filter(logGroupName="sf", filterName="one", filterPattern="",
                                     destinationArn=fn + "-missing")
    assert error_of(e)[0] == "InvalidParameterException"
    logs.put_subscription_filter(logGroupName="sf", filterName="one", filterPattern="ERROR", destinationArn=fn)
    logs.put_subscription_filter(
        logGroupName="sf", filterName="two", filterPattern="{ $.a = 1 }", destinationArn=fn,
        distribution="Random", roleArn=f"arn:aws:iam::{account}:role/r",
    )
    r = logs.describe_subscription_filters(logGroupName="sf")["subscriptionFilters"]
    assert [f["filterName"] for f in r] == ["one", "two"]
    assert r[0]["destinationArn"] == fn
    assert r[0]["distribution"] == "ByLogStream"
    assert r[0]["logGroupName"] == "sf"
    assert r[1]["distribution"] == "Random"
    assert r[1]["roleArn"] == f"arn:aws:iam::{account}:role/r"
    assert [f["filterName"] for f in logs.describe_subscription_filters(logGroupName="sf", filterNamePrefix="t")["subscriptionFilters"]] == ["two"]

    # At most two per group; replacing one by name is fine.
    with pytest.raises(ClientError) as e:
        logs.put_subscription_filter(logGroupName="sf", filterName="three", filterPattern="", destinationArn=fn)
    assert error_of(e)[0] == "LimitExceededException"
    logs.put_subscription_filter(logGroupName="sf", filterName="two", filterPattern="WARN", destinationArn=fn)
    with pytest.raises(ClientError) as e:
        logs.put_subscription_filter(logGroupName="sf", filterName="bad", filterPattern="a:b", destinationArn=fn)
    assert error_of(e)[0] == "InvalidParameterException"
    with pytest.raises(ClientError) as e:
        logs.put_subscription_filter(logGroupName="nope", filterName="x", filterPattern="", destinationArn=fn)
    assert error_of(e)[0] == "ResourceNotFoundException"

    # Events go in whatever their delivery does.
    logs.create_log_stream(logGroupName="sf", logStreamName="s")
    t = logs.describe_log_groups()["logGroups"][0]["creationTime"]
    put(logs, "sf", "s", ["ERROR boom"], t)
    assert len(logs.get_log_events(logGroupName="sf", logStreamName="s")["events"]) == 1

    logs.delete_subscription_filter(logGroupName="sf", filterName="one")
    assert [f["filterName"] for f in logs.describe_subscription_filters(logGroupName="sf")["subscriptionFilters"]] == ["two"]
    with pytest.raises(ClientError) as e:
        logs.delete_subscription_filter(logGroupName="sf", filterName="one")
    assert error_of(e)[0] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        logs.describe_subscription_filters(logGroupName="nope")
    assert error_of(e)[0] == "ResourceNotFoundException"


def test_subscription_delivery_invokes_lambda_for_matching_events(start_nephos, account):
    # The function is deleted after the filter is stored: the Invoke is attempted for
    # matching events only, and its failure is logged (the events are stored all the same).
    # (tests/e2e/test_lambda_logs.py follows a delivery that succeeds.)
    import time

    server = start_nephos()
    logs = server.client("logs", account=account)
    lam = server.client("lambda", account=account)
    logs.create_log_group(logGroupName="deliver")
    logs.create_log_stream(logGroupName="deliver", logStreamName="s")
    fn = consumer(lam, account)
    logs.put_subscription_filter(logGroupName="deliver", filterName="errors", filterPattern="ERROR", destinationArn=fn)
    lam.delete_function(FunctionName="consumer")

    def attempts():
        return [line for line in list(server.output) if "subscription delivery failed" in line]

    t = now_ms(server)
    put(logs, "deliver", "s", ["INFO nothing to see"], t)
    time.sleep(0.5)
    assert attempts() == []
    put(logs, "deliver", "s", ["ERROR worth a look"], t + 1)
    deadline = time.monotonic() + 5
    while not attempts() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(attempts()) == 1
    assert fn in attempts()[0]
    assert len(logs.get_log_events(logGroupName="deliver", logStreamName="s")["events"]) == 2
