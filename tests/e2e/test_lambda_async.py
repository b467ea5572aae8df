"""Asynchronous invocations (InvocationType Event): 202 and a run in the background, AWS's
two retries on nephos's clock (+60 s, +120 s), then the dead-letter queue or topic with
RequestID/ErrorCode/ErrorMessage attributes; accepted events survive kill -9 with
--data-dir. And the processes behind functions: none outlives a stopped nephos."""

import json
import os
import signal
import time

import pytest
from botocore.exceptions import ClientError

from conftest import Nephos
from lambdautil import (
    VENV_PYTHON,
    account_of,
    create,
    invoke,
    pids_matching,
    wait_for,
)


@pytest.fixture(scope="module")
def server():
    s = Nephos("--lambda-python", VENV_PYTHON)
    yield s
    s.stop()


@pytest.fixture
def lam(server):
    return server.client("lambda")


# Appends one JSON line per attempt to $ATTEMPTS, then fails unless the event says not to.
RECORDER = """
import json, os, time

def handler(event, context):
    with open(os.environ["ATTEMPTS"], "a") as f:
        f.write(json.dumps({"rid": context.aws_request_id, "event": event,
                            "endpoint": os.environ["AWS_ENDPOINT_URL"]}) + "\\n")
    if event.get("fail"):
        raise Exception(f"failure {event.get('tag', '')}")
    return "ok"
"""


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
    """Advances the clock `step` seconds at a time until attempt `n` happened; returns how
    far it advanced. (An advance made before nephos waits is not the one it waits for, so
    the total can exceed the retry delay by a step.)"""
    total = 0
    for _ in range(tries):
        advance(server, step)
        total += step
        if wait_for(lambda: len(attempts(path)) >= n, timeout=0.4):
            return total
    raise AssertionError(f"attempt {n} never came: {attempts(path)}")


def make_queue(server, acct, name):
    sqs = server.client("sqs", account=acct)
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return sqs, url, arn


def receive(sqs, url, wait=5):
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                   MessageAttributeNames=["All"]).get("Messages", [])
        if msgs:
            for m in msgs:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            return msgs
    return []


def send_event(lam, name, payload):
    """An Event invocation; checks what AWS answers but the status (see the test of 202)."""
    r = lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps(payload))
    assert r["Payload"].read() == b""
    assert "FunctionError" not in r and "ExecutedVersion" not in r
    return r


def test_event_invoke_status_is_202(lam):
    create(lam, "evt202", {"index.py": RECORDER}, Environment={"Variables": {"ATTEMPTS": "/dev/null"}})
    r = lam.invoke(FunctionName="evt202", InvocationType="Event", Payload=b"{}")
    assert r["StatusCode"] == 202
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 202


def test_event_invoke_runs_in_the_background(lam, tmp_path):
    path = tmp_path / "attempts"
    create(lam, "evt", {"index.py": RECORDER}, Environment={"Variables": {"ATTEMPTS": str(path)}})
    send_event(lam, "evt", {"n": 1})
    [a] = wait_attempts(path, 1)
    assert a["event"] == {"n": 1}
    time.sleep(0.3)
    assert len(attempts(path)) == 1  # a success is not retried


def test_event_invoke_validation(lam):
    create(lam, "evtval", {"index.py": RECORDER}, Environment={"Variables": {"ATTEMPTS": "/dev/null"}})
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName="evtval", InvocationType="Event", Payload=json.dumps("x" * (1024 * 1024 + 10)))
    assert e.value.response["Error"]["Code"] == "RequestTooLargeException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName="evtval", InvocationType="Event", Payload=b"{nope")
    assert e.value.response["Error"]["Code"] == "InvalidRequestContentException"
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName="missing", InvocationType="Event", Payload=b"{}")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"


def failing_function_with_dlq(server, lam, tmp_path, name):
    acct = account_of(lam)
    sqs, url, arn = make_queue(server, acct, f"{name}-dlq")
    path = tmp_path / "attempts"
    create(lam, name, {"index.py": RECORDER}, Environment={"Variables": {"ATTEMPTS": str(path)}},
           DeadLetterConfig={"TargetArn": arn})
    return sqs, url, path


def run_to_dead_letter(server, lam, path, name, payload):
    r = send_event(lam, name, payload)
    wait_attempts(path, 1)
    # Not retried before a minute has passed on nephos's clock.
    advance(server, 30)
    time.sleep(0.5)
    assert len(attempts(path)) == 1
    first_wait = 30 + advance_until(server, path, 2)
    second_wait = advance_until(server, path, 3)
    assert first_wait >= 60 and second_wait >= 120, (first_wait, second_wait)
    return r


def test_failing_event_retried_twice_then_dead_lettered(server, lam, tmp_path):
    sqs, url, path = failing_function_with_dlq(server, lam, tmp_path, "dlqfn")
    payload = {"fail": True, "tag": "#1"}
    run_to_dead_letter(server, lam, path, "dlqfn", payload)
    [msg] = receive(sqs, url)
    assert json.loads(msg["Body"]) == payload
    attrs = msg["MessageAttributes"]
    assert set(attrs) == {"RequestID", "ErrorCode", "ErrorMessage"}
    assert attrs["ErrorMessage"] == {"DataType": "String", "StringValue": "failure #1"}
    # No fourth attempt, however long we wait.
    advance(server, 3600)
    time.sleep(0.5)
    assert len(attempts(path)) == 3
    assert receive(sqs, url, wait=1) == []


def test_dead_letter_error_code_is_the_number_200(server, lam, tmp_path):
    """AWS (recorded): a function error's dead letter carries ErrorCode as a Number
    attribute, '200' (the Invoke status), not a string error name."""
    sqs, url, path = failing_function_with_dlq(server, lam, tmp_path, "dlqcode")
    run_to_dead_letter(server, lam, path, "dlqcode", {"fail": True})
    [msg] = receive(sqs, url)
    assert msg["MessageAttributes"]["ErrorCode"] == {"DataType": "Number", "StringValue": "200"}


def test_async_request_id_is_stable_across_retries(server, lam, tmp_path):
    """AWS: the request id of an asynchronous invocation is the x-amzn-RequestId Invoke
    returned; every retry runs with it (recorded: both END lines carry it) and the dead
    letter's RequestID attribute names it."""
    sqs, url, path = failing_function_with_dlq(server, lam, tmp_path, "dlqrid")
    r = run_to_dead_letter(server, lam, path, "dlqrid", {"fail": True})
    [msg] = receive(sqs, url)
    rid = r["ResponseMetadata"]["RequestId"]
    rids = [a["rid"] for a in attempts(path)]
    assert len(set(rids)) == 1, rids
    assert rids == [rid] * 3, (rids, rid)
    assert msg["MessageAttributes"]["RequestID"]["StringValue"] == rid


def test_dead_letter_to_sns_topic(server, lam, tmp_path):
    acct = account_of(lam)
    sns = server.client("sns", account=acct)
    topic = sns.create_topic(Name="dlq-topic")["TopicArn"]
    sqs, url, qarn = make_queue(server, acct, "dlq-topic-sub")
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"},
                       "Action": "sqs:SendMessage", "Resource": qarn}]})})
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=qarn)
    path = tmp_path / "attempts"
    create(lam, "snsdlq", {"index.py": RECORDER}, Environment={"Variables": {"ATTEMPTS": str(path)}},
           DeadLetterConfig={"TargetArn": topic})
    run_to_dead_letter(server, lam, path, "snsdlq", {"fail": True, "tag": "sns"})
    [msg] = receive(sqs, url)
    envelope = json.loads(msg["Body"])
    assert json.loads(envelope["Message"]) == {"fail": True, "tag": "sns"}
    assert envelope["MessageAttributes"]["ErrorMessage"] == {"Type": "String", "Value": "failure sns"}
    assert set(envelope["MessageAttributes"]) == {"RequestID", "ErrorCode", "ErrorMessage"}


def test_event_retried_after_a_crash_and_a_timeout(server, lam, tmp_path):
    """Function errors of every kind are retried: an exit, then a timeout, then success."""
    path = tmp_path / "attempts"
    code = """
import json, os, sys, time

def handler(event, context):
    with open(os.environ["ATTEMPTS"], "a") as f:
        f.write(json.dumps({"rid": context.aws_request_id}) + "\\n")
    n = sum(1 for _ in open(os.environ["ATTEMPTS"]))
    if n == 1:
        sys.exit(5)
    if n == 2:
        time.sleep(3)
    return "ok"
"""
    create(lam, "crashy", {"index.py": code}, timeout=1, Environment={"Variables": {"ATTEMPTS": str(path)}})
    send_event(lam, "crashy", {})
    wait_attempts(path, 1)
    advance_until(server, path, 2)
    advance_until(server, path, 3)
    time.sleep(1.5)
    advance(server, 3600)
    time.sleep(0.5)
    assert len(attempts(path)) == 3


def test_throttled_event_waits_for_concurrency(server, lam, tmp_path):
    """AWS keeps a throttled event and retries it (for up to 6 hours): with reserved
    concurrency 0 it waits, and runs once concurrency is back."""
    path = tmp_path / "attempts"
    create(lam, "throttled", {"index.py": RECORDER}, Environment={"Variables": {"ATTEMPTS": str(path)}})
    lam.put_function_concurrency(FunctionName="throttled", ReservedConcurrentExecutions=0)
    send_event(lam, "throttled", {"late": True})
    advance(server, 5)
    time.sleep(0.5)
    assert attempts(path) == []
    lam.delete_function_concurrency(FunctionName="throttled")
    for _ in range(10):
        advance(server, 2)
        if wait_for(lambda: attempts(path), timeout=0.3):
            break
    [a] = attempts(path)
    assert a["event"] == {"late": True}


def test_event_to_an_alias_runs_its_version(lam, tmp_path):
    path = tmp_path / "attempts"
    create(lam, "aliased", {"index.py": RECORDER}, Environment={"Variables": {"ATTEMPTS": str(path)}})
    lam.publish_version(FunctionName="aliased")
    lam.create_alias(FunctionName="aliased", Name="prod", FunctionVersion="1")
    code = RECORDER.replace('"endpoint"', '"version": os.environ["AWS_LAMBDA_FUNCTION_VERSION"], "endpoint"')
    from lambdautil import zip_bytes, wait_updated
    lam.update_function_code(FunctionName="aliased", ZipFile=zip_bytes({"index.py": code}))
    wait_updated(lam, "aliased")
    r = lam.invoke(FunctionName="aliased", Qualifier="prod", InvocationType="Event", Payload=b'{"via": "alias"}')
    assert r["Payload"].read() == b""
    [a] = wait_attempts(path, 1)
    assert a["event"] == {"via": "alias"} and "version" not in a  # version 1's code


# --- durability ------------------------------------------------------------------------------


def test_accepted_event_runs_after_kill_9(start_nephos, tmp_path):
    data = tmp_path / "data"
    path = tmp_path / "attempts"
    first = start_nephos("--data-dir", str(data), "--quiet", "--lambda-python", VENV_PYTHON)
    lam = first.client("lambda")
    acct = account_of(lam)
    # The function sleeps first, so it cannot finish before nephos is killed.
    code = RECORDER.replace("    with open", "    time.sleep(float(os.environ.get('DELAY', '0')))\n    with open", 1)
    create(lam, "durable", {"index.py": code},
           Environment={"Variables": {"ATTEMPTS": str(path), "DELAY": "1.5"}})
    send_event(lam, "durable", {"durable": 1})
    first.proc.send_signal(signal.SIGKILL)
    first.proc.wait()

    # Restarting at once works: a runtime forked at the moment of the kill may hold the
    # data dir's lock for a few milliseconds, and nephos waits that out.
    second = start_nephos("--data-dir", str(data), "--quiet", "--lambda-python", VENV_PYTHON)
    lam2 = second.client("lambda", account=acct)
    # The function survived too, and runs the accepted event in the restarted nephos.
    ran = wait_for(lambda: [a for a in attempts(path) if a["endpoint"].rstrip("/").endswith(f":{second.port}")],
                   timeout=15)
    assert ran, attempts(path)
    assert ran[0]["event"] == {"durable": 1}
    assert invoke(lam2, "durable")[1]["StatusCode"] == 200


# --- processes ---------------------------------------------------------------------------------

SPAWNER = """
import os, subprocess, time

def handler(event, context):
    if event.get("child"):
        subprocess.Popen(["sleep", event["child"]])
    if event.get("sleep"):
        time.sleep(event["sleep"])
    return os.getpid()
"""


def quietly(fn):
    """`fn` for a thread whose request the test cuts short by stopping nephos."""
    def run():
        try:
            fn()
        except Exception:
            pass
    return run


def runtime_marker(server):
    # nephos writes its bootstraps under a directory named after its pid; every Python
    # and Node.js function's command line names it.
    return f"nephos-lambda-{server.proc.pid}-"


def kill_leftovers(*markers):
    for m in markers:
        for pid in pids_matching(m):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_no_function_process_outlives_sigterm(start_nephos):
    server = start_nephos("--lambda-python", VENV_PYTHON)
    lam = server.client("lambda")
    create(lam, "idle", {"index.py": SPAWNER})
    create(lam, "busy", {"index.py": SPAWNER}, timeout=30)
    child = "871.25"
    invoke(lam, "idle", {"child": child})
    import threading
    # Busy with an Event invocation (no client connection for nephos to drain on SIGTERM).
    lam.invoke(FunctionName="busy", InvocationType="Event", Payload=json.dumps({"sleep": 20}))
    marker = runtime_marker(server)
    assert wait_for(lambda: len(pids_matching(marker)) >= 2, timeout=10), pids_matching(marker)
    assert pids_matching(f"sleep {child}")
    try:
        server.stop()
        left = wait_for(lambda: not pids_matching(marker) and not pids_matching(f"sleep {child}"), timeout=3)
        assert left, f"left running: {pids_matching(marker)} {pids_matching('sleep ' + child)}"
    finally:
        kill_leftovers(marker, f"sleep {child}")


def test_idle_function_process_ends_after_kill_9(start_nephos):
    server = start_nephos("--lambda-python", VENV_PYTHON)
    lam = server.client("lambda")
    create(lam, "idle9", {"index.py": SPAWNER})
    pid, _ = invoke(lam, "idle9")
    marker = runtime_marker(server)
    assert pid in pids_matching(marker)
    try:
        server.proc.send_signal(signal.SIGKILL)
        server.proc.wait()
        assert wait_for(lambda: not pids_matching(marker), timeout=5), pids_matching(marker)
    finally:
        kill_leftovers(marker)


def test_busy_function_process_ends_after_kill_9(start_nephos):
    """A function in the middle of an invocation when nephos dies: its Runtime API is gone,
    so it should end within seconds (in AWS the sandbox goes with the service), not run
    on for the rest of its timeout - nor leave its own children behind."""
    server = start_nephos("--lambda-python", VENV_PYTHON)
    lam = server.client("lambda")
    create(lam, "busy9", {"index.py": SPAWNER}, timeout=60)
    child = "872.5"
    import threading
    t = threading.Thread(target=quietly(lambda: invoke(lam, "busy9", {"sleep": 30, "child": child})), daemon=True)
    t.start()
    marker = runtime_marker(server)
    assert wait_for(lambda: pids_matching(marker) and pids_matching(f"sleep {child}"), timeout=10)
    try:
        server.proc.send_signal(signal.SIGKILL)
        server.proc.wait()
        gone = wait_for(lambda: not pids_matching(marker) and not pids_matching(f"sleep {child}"), timeout=3)
        assert gone, f"still running 3 s after kill -9: {pids_matching(marker)} {pids_matching('sleep ' + child)}"
    finally:
        kill_leftovers(marker, f"sleep {child}")


def test_idle_environments_are_reaped(start_nephos):
    """--lambda-idle-seconds: an environment unused that long ends (the reaper looks
    every 10 s), and the next invocation starts a new one."""
    server = start_nephos("--lambda-python", VENV_PYTHON, "--lambda-idle-seconds", "1")
    lam = server.client("lambda")
    create(lam, "reaped", {"index.py": SPAWNER})
    pid, _ = invoke(lam, "reaped")
    marker = runtime_marker(server)
    assert pid in pids_matching(marker)
    try:
        assert wait_for(lambda: pid not in pids_matching(marker), timeout=13, interval=0.25), \
            "the idle environment was not reaped"
        pid2, r = invoke(lam, "reaped")
        assert r["StatusCode"] == 200 and pid2 != pid
    finally:
        kill_leftovers(marker)
