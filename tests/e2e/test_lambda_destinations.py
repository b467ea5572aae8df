"""Asynchronous invocations under an event invoke configuration: MaximumRetryAttempts and
MaximumEventAgeInSeconds replace AWS's defaults (2 retries, 6 hours), and the invocation
record goes to the OnSuccess / OnFailure destination (an SQS queue, SNS topic or Lambda
function), in AWS's shape (recorded against AWS in LocalStack's suite); the dead-letter
queue still receives failed events. Retries are driven by nephos's clock."""

import itertools
import json
import re
import signal
import time

import pytest

from conftest import Nephos
from lambdautil import VENV_PYTHON, create, wait_for

_accounts = itertools.count(441700000001)


def acct():
    return f"{next(_accounts):012d}"


@pytest.fixture(scope="module")
def server():
    s = Nephos("--lambda-python", VENV_PYTHON)
    yield s
    s.stop()


# Appends one JSON line per attempt to $ATTEMPTS, then fails if the event says so.
FN = """
import json, os

def handler(event, context):
    path = os.environ.get("ATTEMPTS")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps({"rid": context.aws_request_id, "event": event,
                                "version": context.function_version}) + "\\n")
    if isinstance(event, dict) and event.get("fail"):
        raise Exception("failure " + str(event.get("tag", "")))
    return {"echo": event}
"""

RECORD_KEYS = ["version", "timestamp", "requestContext", "requestPayload", "responseContext",
               "responsePayload"]
CONTEXT_KEYS = ["requestId", "functionArn", "condition", "approximateInvokeCount"]
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def attempts(path):
    if not path.exists():
        return []
    return [json.loads(l) for l in path.read_text().splitlines() if l.strip()]


def wait_attempts(path, n, timeout=10):
    got = wait_for(lambda: len(attempts(path)) >= n, timeout=timeout)
    assert got, f"expected {n} attempts, saw {attempts(path)}"
    return attempts(path)


def advance(server, seconds):
    server.internal("/_nephos/clock", {"advance_seconds": seconds})


def advance_until(server, path, n, step=31, tries=12):
    """Advances the clock `step` seconds at a time until attempt `n` happened."""
    total = 0
    for _ in range(tries):
        advance(server, step)
        total += step
        if wait_for(lambda: len(attempts(path)) >= n, timeout=0.4):
            return total
    raise AssertionError(f"attempt {n} never came: {attempts(path)}")


def make_queue(server, account, name):
    sqs = server.client("sqs", account=account)
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return sqs, url, arn


def receive(sqs, url, wait=8):
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                   MessageAttributeNames=["All"]).get("Messages", [])
        if msgs:
            for m in msgs:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            return msgs
    return []


def ordered(text):
    """JSON with its objects as lists of pairs, to check the order of keys."""
    return json.loads(text, object_pairs_hook=lambda pairs: pairs)


def record_of(msg):
    body = msg["Body"]
    rec = json.loads(body)
    assert [k for k, _ in ordered(body)] == [k for k in RECORD_KEYS if k in rec]
    assert [k for k, _ in dict(ordered(body))["requestContext"]] == CONTEXT_KEYS
    assert rec["version"] == "1.0"
    assert TIMESTAMP.match(rec["timestamp"]), rec["timestamp"]
    return rec


def function(server, account, tmp_path, name, **kw):
    lam = server.client("lambda", account=account)
    path = tmp_path / f"{name}.attempts"
    env = {"Variables": {"ATTEMPTS": str(path)}}
    create(lam, name, {"index.py": FN}, Environment=env, **kw)
    return lam, path


def fn_arn(account, name, qualifier="$LATEST"):
    return f"arn:aws:lambda:us-east-1:{account}:function:{name}:{qualifier}"


def send_event(lam, name, payload, **kw):
    r = lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps(payload), **kw)
    assert r["StatusCode"] == 202
    return r["ResponseMetadata"]["RequestId"]


def test_success_record_to_sqs(server, tmp_path):
    a = acct()
    lam, path = function(server, a, tmp_path, "okfn")
    sqs, ok_url, ok_arn = make_queue(server, a, "on-success")
    _, bad_url, bad_arn = make_queue(server, a, "on-failure")
    lam.put_function_event_invoke_config(
        FunctionName="okfn",
        DestinationConfig={"OnSuccess": {"Destination": ok_arn}, "OnFailure": {"Destination": bad_arn}})
    rid = send_event(lam, "okfn", {"a": 1, "nested": {"b": [1, 2]}})
    [msg] = receive(sqs, ok_url)
    rec = record_of(msg)
    assert rec["requestContext"] == {
        "requestId": rid,
        "functionArn": fn_arn(a, "okfn"),
        "condition": "Success",
        "approximateInvokeCount": 1,
    }
    assert rec["requestPayload"] == {"a": 1, "nested": {"b": [1, 2]}}
    assert rec["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert [k for k, _ in dict(ordered(msg["Body"]))["responseContext"]] == ["statusCode", "executedVersion"]
    assert rec["responsePayload"] == {"echo": {"a": 1, "nested": {"b": [1, 2]}}}
    assert receive(sqs, bad_url, wait=1) == []
    assert len(attempts(path)) == 1


def test_no_destination_for_a_synchronous_invoke(server, tmp_path):
    a = acct()
    lam, path = function(server, a, tmp_path, "syncfn")
    sqs, url, arn = make_queue(server, a, "never")
    lam.put_function_event_invoke_config(
        FunctionName="syncfn", DestinationConfig={"OnSuccess": {"Destination": arn}})
    lam.invoke(FunctionName="syncfn", Payload=b"{}")
    assert receive(sqs, url, wait=1.5) == []


def test_failure_without_retries_goes_to_sqs_at_once(server, tmp_path):
    a = acct()
    lam, path = function(server, a, tmp_path, "failfn")
    sqs, url, arn = make_queue(server, a, "on-failure")
    lam.put_function_event_invoke_config(
        FunctionName="failfn", MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": arn}})
    rid = send_event(lam, "failfn", {"fail": True, "tag": "zero"})
    # No clock advance: with no retries the record comes right after the attempt.
    [msg] = receive(sqs, url)
    rec = record_of(msg)
    assert rec["requestContext"] == {
        "requestId": rid,
        "functionArn": fn_arn(a, "failfn"),
        "condition": "RetriesExhausted",
        "approximateInvokeCount": 1,
    }
    assert rec["requestPayload"] == {"fail": True, "tag": "zero"}
    assert rec["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST",
                                      "functionError": "Unhandled"}
    assert [k for k, _ in dict(ordered(msg["Body"]))["responseContext"]] == \
        ["statusCode", "executedVersion", "functionError"]
    assert rec["responsePayload"]["errorMessage"] == "failure zero"
    assert rec["responsePayload"]["errorType"] == "Exception"
    advance(server, 3600)
    time.sleep(0.5)
    assert len(attempts(path)) == 1


def test_one_retry_then_failure_record(server, tmp_path):
    a = acct()
    lam, path = function(server, a, tmp_path, "retry1")
    sqs, url, arn = make_queue(server, a, "on-failure")
    lam.put_function_event_invoke_config(
        FunctionName="retry1", MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": arn}})
    rid = send_event(lam, "retry1", {"fail": True})
    wait_attempts(path, 1)
    assert receive(sqs, url, wait=1) == []  # a retry is still to come
    waited = advance_until(server, path, 2)
    assert waited >= 60
    [msg] = receive(sqs, url)
    rec = record_of(msg)
    assert rec["requestContext"]["condition"] == "RetriesExhausted"
    assert rec["requestContext"]["approximateInvokeCount"] == 2
    assert rec["requestContext"]["requestId"] == rid
    advance(server, 3600)
    time.sleep(0.5)
    assert len(attempts(path)) == 2
    assert [x["rid"] for x in attempts(path)] == [rid, rid]


def test_success_after_a_retry_counts_both_attempts(server, tmp_path):
    a = acct()
    lam = server.client("lambda", account=a)
    path = tmp_path / "flaky.attempts"
    code = """
import json, os

def handler(event, context):
    with open(os.environ["ATTEMPTS"], "a") as f:
        f.write("{}\\n")
    if sum(1 for _ in open(os.environ["ATTEMPTS"])) == 1:
        raise Exception("first time")
    return "second time"
"""
    create(lam, "flaky", {"index.py": code}, Environment={"Variables": {"ATTEMPTS": str(path)}})
    sqs, url, arn = make_queue(server, a, "on-success")
    lam.put_function_event_invoke_config(
        FunctionName="flaky", DestinationConfig={"OnSuccess": {"Destination": arn}})
    send_event(lam, "flaky", {})
    wait_attempts(path, 1)
    advance_until(server, path, 2)
    [msg] = receive(sqs, url)
    rec = record_of(msg)
    assert rec["requestContext"]["condition"] == "Success"
    assert rec["requestContext"]["approximateInvokeCount"] == 2
    assert rec["requestPayload"] == {}
    assert rec["responsePayload"] == "second time"
    assert rec["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}


def test_event_age_exceeded(server, tmp_path):
    """AWS (recorded): with a 60-second age the first retry (a minute later) could not
    start in time, so the event is given up right after the first attempt; with 90 one
    retry fits, the second does not."""
    a = acct()
    lam, path = function(server, a, tmp_path, "agefn")
    sqs, url, arn = make_queue(server, a, "on-failure")
    lam.put_function_event_invoke_config(
        FunctionName="agefn", MaximumRetryAttempts=2, MaximumEventAgeInSeconds=60,
        DestinationConfig={"OnFailure": {"Destination": arn}})
    send_event(lam, "agefn", {"fail": True})
    [msg] = receive(sqs, url)
    rec = record_of(msg)
    assert rec["requestContext"]["condition"] == "EventAgeExceeded"
    assert rec["requestContext"]["approximateInvokeCount"] == 1
    assert rec["responseContext"]["functionError"] == "Unhandled"
    advance(server, 3600)
    time.sleep(0.5)
    assert len(attempts(path)) == 1

    lam.update_function_event_invoke_config(FunctionName="agefn", MaximumEventAgeInSeconds=90)
    path.unlink()
    send_event(lam, "agefn", {"fail": True})
    wait_attempts(path, 1)
    assert receive(sqs, url, wait=1) == []
    advance_until(server, path, 2)
    [msg] = receive(sqs, url)
    rec = record_of(msg)
    assert rec["requestContext"]["condition"] == "EventAgeExceeded"
    assert rec["requestContext"]["approximateInvokeCount"] == 2
    advance(server, 3600)
    time.sleep(0.5)
    assert len(attempts(path)) == 2


def test_default_retries_without_a_config(server, tmp_path):
    """Only destinations configured: AWS's two retries still apply (3 attempts)."""
    a = acct()
    lam, path = function(server, a, tmp_path, "deffn")
    sqs, url, arn = make_queue(server, a, "on-failure")
    lam.put_function_event_invoke_config(
        FunctionName="deffn", DestinationConfig={"OnFailure": {"Destination": arn}})
    send_event(lam, "deffn", {"fail": True})
    wait_attempts(path, 1)
    advance_until(server, path, 2)
    assert receive(sqs, url, wait=0.5) == []
    advance_until(server, path, 3)
    [msg] = receive(sqs, url)
    rec = record_of(msg)
    assert rec["requestContext"]["condition"] == "RetriesExhausted"
    assert rec["requestContext"]["approximateInvokeCount"] == 3


def test_sns_destination(server, tmp_path):
    a = acct()
    lam, path = function(server, a, tmp_path, "snsfn")
    sns = server.client("sns", account=a)
    topic = sns.create_topic(Name="results")["TopicArn"]
    sqs, url, qarn = make_queue(server, a, "results-sub")
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"},
                       "Action": "sqs:SendMessage", "Resource": qarn}]})})
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=qarn,
                  Attributes={"RawMessageDelivery": "true"})
    lam.put_function_event_invoke_config(
        FunctionName="snsfn", MaximumRetryAttempts=0,
        DestinationConfig={"OnSuccess": {"Destination": topic}, "OnFailure": {"Destination": topic}})
    rid_ok = send_event(lam, "snsfn", {"n": 1})
    [msg] = receive(sqs, url)
    rec = record_of(msg)
    assert rec["requestContext"]["condition"] == "Success"
    assert rec["requestContext"]["requestId"] == rid_ok
    assert rec["responsePayload"] == {"echo": {"n": 1}}
    rid_bad = send_event(lam, "snsfn", {"fail": True, "tag": "sns"})
    [msg] = receive(sqs, url)
    rec = record_of(msg)
    assert rec["requestContext"]["condition"] == "RetriesExhausted"
    assert rec["requestContext"]["requestId"] == rid_bad
    assert rec["responsePayload"]["errorMessage"] == "failure sns"


def test_lambda_destination(server, tmp_path):
    a = acct()
    lam, path = function(server, a, tmp_path, "srcfn")
    _, dest_path = function(server, a, tmp_path, "destfn")
    lam.put_function_event_invoke_config(
        FunctionName="srcfn", MaximumRetryAttempts=0,
        DestinationConfig={"OnSuccess": {"Destination": fn_arn(a, "destfn").rsplit(":", 1)[0]},
                           "OnFailure": {"Destination": fn_arn(a, "destfn").rsplit(":", 1)[0]}})
    rid = send_event(lam, "srcfn", {"hello": "world"})
    [got] = wait_attempts(dest_path, 1)
    rec = got["event"]
    assert list(rec) == RECORD_KEYS
    assert rec["requestContext"] == {
        "requestId": rid, "functionArn": fn_arn(a, "srcfn"), "condition": "Success",
        "approximateInvokeCount": 1}
    assert rec["requestPayload"] == {"hello": "world"}
    assert rec["responsePayload"] == {"echo": {"hello": "world"}}
    # Delivered as an invocation of its own (a request id of its own).
    assert got["rid"] != rid

    rid = send_event(lam, "srcfn", {"fail": True, "tag": "lambda"})
    got = wait_attempts(dest_path, 2)[1]
    assert got["event"]["requestContext"]["condition"] == "RetriesExhausted"
    assert got["event"]["requestContext"]["requestId"] == rid
    assert got["event"]["responseContext"]["functionError"] == "Unhandled"


def test_config_on_an_alias_applies_to_the_alias_only(server, tmp_path):
    a = acct()
    lam, path = function(server, a, tmp_path, "aliasfn")
    lam.publish_version(FunctionName="aliasfn")
    lam.create_alias(FunctionName="aliasfn", Name="prod", FunctionVersion="1")
    sqs, url, arn = make_queue(server, a, "alias-success")
    lam.put_function_event_invoke_config(
        FunctionName="aliasfn", Qualifier="prod",
        DestinationConfig={"OnSuccess": {"Destination": arn}})
    rid = send_event(lam, "aliasfn", {"via": "alias"}, Qualifier="prod")
    [msg] = receive(sqs, url)
    rec = record_of(msg)
    assert rec["requestContext"]["functionArn"] == fn_arn(a, "aliasfn", "prod")
    assert rec["requestContext"]["requestId"] == rid
    assert rec["responseContext"] == {"statusCode": 200, "executedVersion": "1"}
    # $LATEST and version 1 have no configuration of their own.
    send_event(lam, "aliasfn", {"via": "latest"})
    send_event(lam, "aliasfn", {"via": "version"}, Qualifier="1")
    wait_attempts(path, 3)
    assert receive(sqs, url, wait=1.5) == []


def test_retries_on_an_alias_follow_its_config(server, tmp_path):
    """MaximumRetryAttempts=0 on the alias; unqualified invocations keep AWS's retries."""
    a = acct()
    lam, path = function(server, a, tmp_path, "aliasretry")
    lam.publish_version(FunctionName="aliasretry")
    lam.create_alias(FunctionName="aliasretry", Name="live", FunctionVersion="1")
    sqs, url, arn = make_queue(server, a, "alias-failure")
    lam.put_function_event_invoke_config(
        FunctionName="aliasretry", Qualifier="live", MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": arn}})
    send_event(lam, "aliasretry", {"fail": True, "tag": "live"}, Qualifier="live")
    [msg] = receive(sqs, url)
    assert record_of(msg)["requestContext"]["functionArn"] == fn_arn(a, "aliasretry", "live")
    send_event(lam, "aliasretry", {"fail": True, "tag": "latest"})
    wait_attempts(path, 2)
    advance_until(server, path, 3)
    latest = [x for x in attempts(path) if x["event"]["tag"] == "latest"]
    assert len(latest) == 2  # retried: $LATEST has no config
    assert receive(sqs, url, wait=1) == []


def test_dead_letter_queue_and_on_failure_both_receive(server, tmp_path):
    a = acct()
    sqs, dlq_url, dlq_arn = make_queue(server, a, "dlq")
    _, dest_url, dest_arn = make_queue(server, a, "on-failure")
    lam, path = function(server, a, tmp_path, "bothfn", DeadLetterConfig={"TargetArn": dlq_arn})
    lam.put_function_event_invoke_config(
        FunctionName="bothfn", MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": dest_arn}})
    rid = send_event(lam, "bothfn", {"fail": True, "tag": "both"})
    [dead] = receive(sqs, dlq_url)
    assert json.loads(dead["Body"]) == {"fail": True, "tag": "both"}
    assert dead["MessageAttributes"]["RequestID"]["StringValue"] == rid
    assert dead["MessageAttributes"]["ErrorMessage"]["StringValue"] == "failure both"
    [msg] = receive(sqs, dest_url)
    rec = record_of(msg)
    assert rec["requestContext"]["condition"] == "RetriesExhausted"
    assert rec["requestContext"]["requestId"] == rid
    # A success goes to neither.
    send_event(lam, "bothfn", {"ok": True})
    wait_attempts(path, 2)
    assert receive(sqs, dlq_url, wait=1) == [] and receive(sqs, dest_url, wait=0.5) == []


def test_zero_reserved_concurrency_goes_to_on_failure(server, tmp_path):
    """AWS (recorded): with reserved concurrency 0 the event goes to the on-failure
    destination at once, never run: approximateInvokeCount 0 and no response."""
    a = acct()
    lam, path = function(server, a, tmp_path, "zerofn")
    sqs, url, arn = make_queue(server, a, "on-failure")
    lam.put_function_concurrency(FunctionName="zerofn", ReservedConcurrentExecutions=0)
    lam.put_function_event_invoke_config(
        FunctionName="zerofn", MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": arn}})
    rid = send_event(lam, "zerofn", {"z": 0})
    [msg] = receive(sqs, url)
    rec = record_of(msg)
    assert list(rec) == ["version", "timestamp", "requestContext", "requestPayload"]
    assert rec["requestContext"] == {
        "requestId": rid, "functionArn": fn_arn(a, "zerofn"),
        "condition": "ZeroReservedConcurrency", "approximateInvokeCount": 0}
    assert rec["requestPayload"] == {"z": 0}
    assert attempts(path) == []


def test_config_changed_while_an_event_waits(server, tmp_path):
    """The configuration in force when the retry is due decides: retries lowered to 0
    while an event waits for its first retry end it without another attempt."""
    a = acct()
    lam, path = function(server, a, tmp_path, "changefn")
    sqs, url, arn = make_queue(server, a, "on-failure")
    lam.put_function_event_invoke_config(
        FunctionName="changefn", MaximumRetryAttempts=2,
        DestinationConfig={"OnFailure": {"Destination": arn}})
    send_event(lam, "changefn", {"fail": True})
    wait_attempts(path, 1)
    lam.put_function_event_invoke_config(
        FunctionName="changefn", MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": arn}})
    advance_until(server, path, 2)
    [msg] = receive(sqs, url)
    assert record_of(msg)["requestContext"]["approximateInvokeCount"] == 2


def test_retry_after_kill_9_keeps_config_and_destination(start_nephos, tmp_path):
    data = tmp_path / "data"
    path = tmp_path / "attempts"
    a = acct()
    first = start_nephos("--data-dir", str(data), "--quiet", "--lambda-python", VENV_PYTHON)
    lam = first.client("lambda", account=a)
    create(lam, "durdest", {"index.py": FN}, Environment={"Variables": {"ATTEMPTS": str(path)}})
    sqs, url, arn = make_queue(first, a, "on-failure")
    lam.put_function_event_invoke_config(
        FunctionName="durdest", MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": arn}})
    rid = send_event(lam, "durdest", {"fail": True, "tag": "durable"})
    wait_attempts(path, 1)
    time.sleep(0.3)  # the failed attempt is stored
    first.proc.send_signal(signal.SIGKILL)
    first.proc.wait()

    second = start_nephos("--data-dir", str(data), "--quiet", "--lambda-python", VENV_PYTHON)
    sqs2 = second.client("sqs", account=a)
    url2 = sqs2.get_queue_url(QueueName="on-failure")["QueueUrl"]
    # The retry waits for its minute on the restarted nephos's clock.
    time.sleep(1)
    assert len(attempts(path)) == 1
    advance_until(second, path, 2)
    [msg] = receive(sqs2, url2)
    rec = record_of(msg)
    assert rec["requestContext"]["condition"] == "RetriesExhausted"
    assert rec["requestContext"]["approximateInvokeCount"] == 2
    assert rec["requestContext"]["requestId"] == rid
    advance(second, 3600)
    time.sleep(0.5)
    assert len(attempts(path)) == 2
