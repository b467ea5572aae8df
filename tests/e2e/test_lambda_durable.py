"""Lambda durable functions: functions written with AWS's durable execution SDK for
Python (`aws-durable-execution-sdk-python`, run unchanged) as durable executions. Steps
and waits resumed on nephos's clock, callbacks completed or failed from outside,
StopDurableExecution, Pause/Resume/DeleteDurableExecution, the execution's history and
state, listing by function, the errors of unknown executions, tokens and callbacks, and
executions that survive a restart with --data-dir in the middle of a wait or a pause."""

import gzip
import json
import pathlib
import tempfile
import threading
import time

import boto3
import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import Nephos
from lambdautil import VENV_PYTHON, account_of, create, wait_for

try:
    import aws_durable_execution_sdk_python  # noqa: F401

    HAVE_SDK = True
except ImportError:
    HAVE_SDK = False

needs_sdk = pytest.mark.skipif(
    not HAVE_SDK, reason="aws-durable-execution-sdk-python is not installed in the test venv"
)


@pytest.fixture(scope="module")
def server():
    s = Nephos("--lambda-python", VENV_PYTHON)
    yield s
    s.stop()


@pytest.fixture
def lam(server):
    return server.client("lambda")


def advance(server, seconds):
    server.internal("/_nephos/clock", {"advance_seconds": seconds})


DURABLE = {"ExecutionTimeout": 3600, "RetentionPeriodInDays": 7}

# Two steps around a one-minute wait; the steps append to $TRACE so the test sees which
# ran in which invocation.
STEPS_AND_WAIT = """
import os
from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python.config import Duration

def trace(what):
    with open(os.environ["TRACE"], "a") as f:
        f.write(what + "\\n")
    return what

@durable_execution
def handler(event, context: DurableContext):
    a = context.step(lambda _: trace("first") and event["x"] + 1, name="first")
    context.wait(Duration.from_seconds(60), name="pause")
    b = context.step(lambda _: trace("second") and a * 2, name="second")
    return {"result": b}
"""

CALLBACK = """
from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python.config import CallbackConfig, Duration

@durable_execution
def handler(event, context: DurableContext):
    cb = context.create_callback(name="approval",
                                 config=CallbackConfig(timeout=Duration.from_seconds(600)))
    try:
        answer = cb.result()
    except Exception as e:
        return {"rejected": str(e)}
    return {"approved": answer}
"""

ONLY_STEPS = """
from aws_durable_execution_sdk_python import DurableContext, durable_execution

@durable_execution
def handler(event, context: DurableContext):
    n = context.step(lambda _: event["n"] * 10, name="times-ten")
    return context.step(lambda _: n + 1, name="plus-one")
"""

# A step that fails its first attempt (retried 30 s later on the clock) inside a child
# context.
RETRY_IN_CHILD = """
import os
from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python.config import Duration, JitterStrategy, StepConfig
from aws_durable_execution_sdk_python.retries import RetryStrategyConfig, create_retry_strategy

RETRY = StepConfig(retry_strategy=create_retry_strategy(RetryStrategyConfig(
    max_attempts=3, initial_delay=Duration.from_seconds(30), jitter_strategy=JitterStrategy.NONE)))

def flaky(_):
    path = os.environ["TRACE"]
    tries = open(path).read().count("try") if os.path.exists(path) else 0
    with open(path, "a") as f:
        f.write("try\\n")
    if tries == 0:
        raise RuntimeError("first attempt fails")
    return tries

@durable_execution
def handler(event, context: DurableContext):
    def child(ctx):
        return ctx.step(flaky, name="flaky", config=RETRY)
    return {"tries": context.run_in_child_context(child, name="group")}
"""

# A step that holds its invocation until the test creates "$TRACE.go".
GATED = """
import os, time
from aws_durable_execution_sdk_python import DurableContext, durable_execution

def trace(what):
    with open(os.environ["TRACE"], "a") as f:
        f.write(what + "\\n")
    return what

def gate(_):
    while not os.path.exists(os.environ["TRACE"] + ".go"):
        time.sleep(0.05)
    return trace("gate")

@durable_execution
def handler(event, context: DurableContext):
    context.step(gate, name="gate")
    context.step(lambda _: trace("after"), name="after")
    return "done"
"""

LONG_WAIT = """
from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python.config import Duration

@durable_execution
def handler(event, context: DurableContext):
    context.wait(Duration.from_hours(1), name="hour")
    return "woke"
"""


def make(lam, name, code, tmp_path=None, durable=DURABLE):
    env = {"Variables": {"TRACE": str(tmp_path / f"{name}.trace")}} if tmp_path else {}
    create(lam, name, {"index.py": code}, timeout=30, DurableConfig=durable,
           **({"Environment": env} if env else {}))


def start(lam, name, event, **kw):
    r = lam.invoke(FunctionName=f"{name}:$LATEST", InvocationType="Event",
                   Payload=json.dumps(event), **kw)
    assert r["StatusCode"] == 202
    return r["DurableExecutionArn"]


def status_of(lam, arn):
    return lam.get_durable_execution(DurableExecutionArn=arn)["Status"]


def wait_status(lam, arn, want, timeout=20):
    got = wait_for(lambda: status_of(lam, arn) == want, timeout=timeout)
    assert got, f"status {status_of(lam, arn)}, expected {want}"


def events(lam, arn, **kw):
    out, marker = [], None
    while True:
        page = lam.get_durable_execution_history(
            DurableExecutionArn=arn, IncludeExecutionData=True,
            **({"Marker": marker} if marker else {}), **kw)
        out += page["Events"]
        marker = page.get("NextMarker")
        if not marker:
            return out


def event_types(lam, arn):
    return [e["EventType"] for e in events(lam, arn)]


def wait_event(lam, arn, kind, timeout=20):
    got = wait_for(lambda: [e for e in events(lam, arn) if e["EventType"] == kind], timeout=timeout)
    assert got, f"no {kind} event: {event_types(lam, arn)}"
    return got


# --- the function's configuration ---------------------------------------------------------------


def test_durable_config_is_reported_and_updated(lam):
    create(lam, "cfg", {"index.py": "def handler(e, c):\n    return 1\n"},
           DurableConfig={"ExecutionTimeout": 900})
    c = lam.get_function_configuration(FunctionName="cfg")
    assert c["DurableConfig"] == {"ExecutionTimeout": 900, "RetentionPeriodInDays": 14}
    lam.update_function_configuration(FunctionName="cfg", DurableConfig={"RetentionPeriodInDays": 3})
    lam.get_waiter("function_updated_v2").wait(FunctionName="cfg")
    c = lam.get_function_configuration(FunctionName="cfg")
    assert c["DurableConfig"] == {"ExecutionTimeout": 900, "RetentionPeriodInDays": 3}
    # A function without one has none.
    create(lam, "plain", {"index.py": "def handler(e, c):\n    return 1\n"})
    assert "DurableConfig" not in lam.get_function_configuration(FunctionName="plain")


# --- steps and waits --------------------------------------------------------------------------------


@needs_sdk
def test_steps_and_a_wait_resume_on_the_clock(server, lam, tmp_path):
    make(lam, "steps", STEPS_AND_WAIT, tmp_path)
    arn = start(lam, "steps", {"x": 20}, DurableExecutionName="order-1")
    acct = account_of(lam)
    assert arn.startswith(f"arn:aws:lambda:us-east-1:{acct}:function:steps:$LATEST/durable-execution/order-1/")
    trace = tmp_path / "steps.trace"

    # The first step ran, and the execution waits for its minute.
    wait_event(lam, arn, "WaitStarted")
    assert status_of(lam, arn) == "RUNNING"
    assert trace.read_text().split() == ["first"]
    ex = lam.get_durable_execution(DurableExecutionArn=arn)
    assert ex["DurableExecutionName"] == "order-1"
    assert ex["FunctionArn"] == f"arn:aws:lambda:us-east-1:{acct}:function:steps:$LATEST"
    assert ex["InputPayload"] == json.dumps({"x": 20})
    assert "EndTimestamp" not in ex and "Result" not in ex

    advance(server, 61)
    wait_status(lam, arn, "SUCCEEDED")
    # The first step was not run again on replay: its checkpointed result was used.
    assert trace.read_text().split() == ["first", "second"]
    ex = lam.get_durable_execution(DurableExecutionArn=arn)
    assert json.loads(ex["Result"]) == {"result": 42}
    assert ex["EndTimestamp"] >= ex["StartTimestamp"]

    history = events(lam, arn)
    kinds = [e["EventType"] for e in history]
    assert kinds[0] == "ExecutionStarted" and kinds[-1] == "ExecutionSucceeded"
    assert [k for k in kinds if k.startswith(("Step", "Wait"))] == [
        "StepStarted", "StepSucceeded", "WaitStarted", "WaitSucceeded",
        "StepStarted", "StepSucceeded"]
    assert kinds.count("InvocationCompleted") == 2
    assert [e["EventId"] for e in history] == list(range(1, len(history) + 1))
    by_kind = {e["EventType"]: e for e in history}
    assert by_kind["ExecutionStarted"]["ExecutionStartedDetails"]["Input"]["Payload"] == '{"x": 20}'
    assert by_kind["ExecutionStarted"]["ExecutionStartedDetails"]["ExecutionTimeout"] == 3600
    first = [e for e in history if e["EventType"] == "StepSucceeded"][0]
    assert first["Name"] == "first"
    assert first["StepSucceededDetails"]["Result"]["Payload"] == "21"
    wait = by_kind["WaitStarted"]
    assert wait["Name"] == "pause" and wait["WaitStartedDetails"]["Duration"] == 60
    assert json.loads(by_kind["ExecutionSucceeded"]["ExecutionSucceededDetails"]["Result"]["Payload"]) == {"result": 42}

    # Paging and the reverse order.
    page = lam.get_durable_execution_history(DurableExecutionArn=arn, MaxItems=3)
    assert len(page["Events"]) == 3 and page["NextMarker"]
    rev = lam.get_durable_execution_history(DurableExecutionArn=arn, ReverseOrder=True)
    assert rev["Events"][0]["EventType"] == "ExecutionSucceeded"
    # Without the execution's data, payloads are left out.
    bare = lam.get_durable_execution_history(DurableExecutionArn=arn, IncludeExecutionData=False)
    started = bare["Events"][0]["ExecutionStartedDetails"]
    assert "Payload" not in started["Input"]


@needs_sdk
def test_synchronous_invoke_answers_the_result(lam):
    make(lam, "sync", ONLY_STEPS)
    r = lam.invoke(FunctionName="sync:$LATEST", Payload=json.dumps({"n": 4}))
    assert r["StatusCode"] == 200
    assert json.loads(r["Payload"].read()) == 41
    arn = r["DurableExecutionArn"]
    assert status_of(lam, arn) == "SUCCEEDED"
    # A durable function is invoked by a qualified ARN.
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName="sync", Payload=b"{}")
    assert e.value.response["Error"]["Code"] == "InvalidParameterValueException"


@needs_sdk
def test_execution_names_are_idempotent(lam):
    make(lam, "named", LONG_WAIT)
    arn = start(lam, "named", {"a": 1}, DurableExecutionName="once")
    # The same name and payload: the same execution.
    assert start(lam, "named", {"a": 1}, DurableExecutionName="once") == arn
    with pytest.raises(ClientError) as e:
        start(lam, "named", {"a": 2}, DurableExecutionName="once")
    assert e.value.response["Error"]["Code"] == "DurableExecutionAlreadyStartedException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409


@needs_sdk
def test_step_retry_in_a_child_context(server, lam, tmp_path):
    make(lam, "retry", RETRY_IN_CHILD, tmp_path)
    arn = start(lam, "retry", {})
    failed = wait_event(lam, arn, "StepFailed")
    assert failed[0]["StepFailedDetails"]["RetryDetails"] == {
        "CurrentAttempt": 1, "NextAttemptDelaySeconds": 30}
    assert "first attempt fails" in failed[0]["StepFailedDetails"]["Error"]["Payload"]["ErrorMessage"]
    assert status_of(lam, arn) == "RUNNING"
    advance(server, 31)
    wait_status(lam, arn, "SUCCEEDED")
    assert json.loads(lam.get_durable_execution(DurableExecutionArn=arn)["Result"]) == {"tries": 1}
    kinds = event_types(lam, arn)
    assert kinds.count("ContextStarted") == 1 and kinds.count("ContextSucceeded") == 1
    step = [e for e in events(lam, arn) if e["EventType"] == "StepSucceeded"][0]
    context = [e for e in events(lam, arn) if e["EventType"] == "ContextStarted"][0]
    assert step["ParentId"] == context["Id"] and context["Name"] == "group"


# --- callbacks -----------------------------------------------------------------------------------


def callback_id(lam, arn):
    started = wait_event(lam, arn, "CallbackStarted")
    return started[0]["CallbackStartedDetails"]["CallbackId"]


@needs_sdk
def test_callback_success_resumes_the_execution(lam):
    make(lam, "approve", CALLBACK)
    arn = start(lam, "approve", {})
    cid = callback_id(lam, arn)
    started = [e for e in events(lam, arn) if e["EventType"] == "CallbackStarted"][0]
    assert started["Name"] == "approval"
    assert started["CallbackStartedDetails"]["Timeout"] == 600
    lam.send_durable_execution_callback_heartbeat(CallbackId=cid)
    lam.send_durable_execution_callback_success(CallbackId=cid, Result=json.dumps("yes").encode())
    wait_status(lam, arn, "SUCCEEDED")
    ex = lam.get_durable_execution(DurableExecutionArn=arn)
    # Without a serdes the SDK hands the callback's result over as sent.
    assert json.loads(ex["Result"]) == {"approved": '"yes"'}
    done = [e for e in events(lam, arn) if e["EventType"] == "CallbackSucceeded"]
    assert done[0]["CallbackSucceededDetails"]["Result"]["Payload"] == '"yes"'
    # A callback completes once.
    with pytest.raises(ClientError) as e:
        lam.send_durable_execution_callback_success(CallbackId=cid, Result=b'"again"')
    assert e.value.response["Error"]["Code"] == "InvalidParameterValueException"


@needs_sdk
def test_callback_failure_fails_the_wait(lam):
    make(lam, "reject", CALLBACK)
    arn = start(lam, "reject", {})
    cid = callback_id(lam, arn)
    lam.send_durable_execution_callback_failure(
        CallbackId=cid, Error={"ErrorType": "Rejected", "ErrorMessage": "no way"})
    wait_status(lam, arn, "SUCCEEDED")
    result = json.loads(lam.get_durable_execution(DurableExecutionArn=arn)["Result"])
    assert "no way" in result["rejected"]
    failed = [e for e in events(lam, arn) if e["EventType"] == "CallbackFailed"]
    assert failed[0]["CallbackFailedDetails"]["Error"]["Payload"] == {
        "ErrorType": "Rejected", "ErrorMessage": "no way"}


@needs_sdk
def test_callback_times_out_on_the_clock(server, lam):
    make(lam, "late", CALLBACK)
    arn = start(lam, "late", {})
    cid = callback_id(lam, arn)
    advance(server, 601)
    wait_event(lam, arn, "CallbackTimedOut")
    wait_status(lam, arn, "SUCCEEDED")
    assert "rejected" in json.loads(lam.get_durable_execution(DurableExecutionArn=arn)["Result"])
    with pytest.raises(ClientError) as e:
        lam.send_durable_execution_callback_success(CallbackId=cid, Result=b"1")
    assert e.value.response["Error"]["Code"] == "CallbackTimeoutException"


# --- stop, timeout ----------------------------------------------------------------------------------


@needs_sdk
def test_stop_durable_execution(lam):
    make(lam, "stoppable", LONG_WAIT)
    arn = start(lam, "stoppable", {})
    wait_event(lam, arn, "WaitStarted")
    r = lam.stop_durable_execution(DurableExecutionArn=arn,
                                   Error={"ErrorType": "Cancelled", "ErrorMessage": "by test"})
    assert r["StopTimestamp"]
    ex = lam.get_durable_execution(DurableExecutionArn=arn)
    assert ex["Status"] == "STOPPED"
    assert ex["Error"] == {"ErrorType": "Cancelled", "ErrorMessage": "by test"}
    assert event_types(lam, arn)[-1] == "ExecutionStopped"
    # Stopping it again: it is no longer running.
    with pytest.raises(ClientError) as e:
        lam.stop_durable_execution(DurableExecutionArn=arn)
    assert e.value.response["Error"]["Code"] == "InvalidParameterValueException"


@needs_sdk
def test_execution_timeout(server, lam):
    make(lam, "slow", LONG_WAIT, durable={"ExecutionTimeout": 120})
    arn = start(lam, "slow", {})
    wait_event(lam, arn, "WaitStarted")
    advance(server, 121)
    wait_status(lam, arn, "TIMED_OUT")
    assert event_types(lam, arn)[-1] == "ExecutionTimedOut"


# --- listing -----------------------------------------------------------------------------------------


@needs_sdk
def test_list_durable_executions_by_function(lam):
    make(lam, "many", LONG_WAIT)
    arns = [start(lam, "many", {"i": i}, DurableExecutionName=f"run-{i}") for i in range(5)]
    seen, marker = [], None
    while True:
        page = lam.list_durable_executions_by_function(
            FunctionName="many", MaxItems=2, **({"Marker": marker} if marker else {}))
        assert len(page["DurableExecutions"]) <= 2
        seen += page["DurableExecutions"]
        marker = page.get("NextMarker")
        if not marker:
            break
    assert sorted(e["DurableExecutionArn"] for e in seen) == sorted(arns)
    assert {e["Status"] for e in seen} == {"RUNNING"}
    assert {e["DurableExecutionName"] for e in seen} == {f"run-{i}" for i in range(5)}
    lam.stop_durable_execution(DurableExecutionArn=arns[0])
    stopped = lam.list_durable_executions_by_function(FunctionName="many", Statuses=["STOPPED"])
    assert [e["DurableExecutionArn"] for e in stopped["DurableExecutions"]] == [arns[0]]
    named = lam.list_durable_executions_by_function(FunctionName="many", DurableExecutionName="run-3")
    assert [e["DurableExecutionArn"] for e in named["DurableExecutions"]] == [arns[3]]
    with pytest.raises(ClientError) as e:
        lam.list_durable_executions_by_function(FunctionName="nosuch")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"


# --- errors --------------------------------------------------------------------------------------------


def test_unknown_executions_tokens_and_callbacks(lam):
    acct = account_of(lam)
    arn = f"arn:aws:lambda:us-east-1:{acct}:function:nope:$LATEST/durable-execution/x/y"
    for call in (lambda: lam.get_durable_execution(DurableExecutionArn=arn),
                 lambda: lam.get_durable_execution_history(DurableExecutionArn=arn),
                 lambda: lam.stop_durable_execution(DurableExecutionArn=arn)):
        with pytest.raises(ClientError) as e:
            call()
        assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    for call in (lambda: lam.checkpoint_durable_execution(DurableExecutionArn=arn, CheckpointToken="abcd"),
                 lambda: lam.get_durable_execution_state(DurableExecutionArn=arn, CheckpointToken="abcd")):
        with pytest.raises(ClientError) as e:
            call()
        assert e.value.response["Error"]["Code"] == "InvalidParameterValueException"
    with pytest.raises(ClientError) as e:
        lam.send_durable_execution_callback_success(CallbackId="bm90aGluZw==", Result=b"1")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"


@needs_sdk
def test_tokens_are_only_good_during_an_invocation(lam, server):
    make(lam, "tokens", LONG_WAIT)
    arn = start(lam, "tokens", {})
    wait_event(lam, arn, "WaitStarted")
    # Between invocations no token is valid; another account does not see the execution.
    with pytest.raises(ClientError) as e:
        lam.checkpoint_durable_execution(DurableExecutionArn=arn, CheckpointToken="Zm9vOjE=")
    assert e.value.response["Error"]["Code"] == "InvalidParameterValueException"
    other = server.client("lambda")
    with pytest.raises(ClientError) as e:
        other.get_durable_execution(DurableExecutionArn=arn)
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"


# --- restart --------------------------------------------------------------------------------------------


@needs_sdk
def test_waiting_execution_survives_a_restart(start_nephos, tmp_path):
    data = tmp_path / "data"
    first = start_nephos("--data-dir", str(data), "--quiet", "--lambda-python", VENV_PYTHON)
    lam = first.client("lambda")
    acct = account_of(lam)
    make(lam, "survivor", LONG_WAIT, durable={"ExecutionTimeout": 86400})
    arn = start(lam, "survivor", {})
    wait_event(lam, arn, "WaitStarted")
    first.stop()

    second = start_nephos("--data-dir", str(data), "--quiet", "--lambda-python", VENV_PYTHON)
    lam2 = second.client("lambda", account=acct)
    assert status_of(lam2, arn) == "RUNNING"
    advance(second, 3601)
    wait_status(lam2, arn, "SUCCEEDED")
    assert json.loads(lam2.get_durable_execution(DurableExecutionArn=arn)["Result"]) == "woke"


# --- pause, resume, delete ------------------------------------------------------------------------------


def newer(lam):
    """The same client built from nephos's own Lambda model: the installed botocore may
    predate Pause/Resume/DeleteDurableExecution."""
    model = json.loads(gzip.decompress(
        (pathlib.Path(__file__).resolve().parents[2] / "models/lambda.json.gz").read_bytes()))
    for param in model.get("clientContextParams", {}).values():
        param.setdefault("documentation", "")
    data = pathlib.Path(tempfile.mkdtemp()) / "lambda" / model["metadata"]["apiVersion"]
    data.mkdir(parents=True)
    (data / "service-2.json").write_text(json.dumps(model))
    session = botocore.session.get_session()
    session.set_config_variable("data_path", str(data.parent.parent))
    creds = lam._request_signer._credentials
    return boto3.Session(botocore_session=session).client(
        "lambda", endpoint_url=lam.meta.endpoint_url, region_name=lam.meta.region_name,
        aws_access_key_id=creds.access_key, aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 0}))


def code_of(call):
    with pytest.raises(ClientError) as e:
        call()
    return e.value.response["Error"]["Code"]


@needs_sdk
def test_pause_during_a_wait_then_resume(server, lam, tmp_path):
    lam = newer(lam)
    make(lam, "pausable", STEPS_AND_WAIT, tmp_path)
    arn = start(lam, "pausable", {"x": 20})
    trace = tmp_path / "pausable.trace"
    wait_event(lam, arn, "InvocationCompleted")
    assert status_of(lam, arn) == "RUNNING"

    # No invocation in flight: the pause holds at once.
    lam.pause_durable_execution(DurableExecutionArn=arn, Reason="deploying",
                                ExecutionTimeoutPaused=True, ClientToken="pause-1")
    assert status_of(lam, arn) == "PAUSED"
    ex = lam.get_durable_execution(DurableExecutionArn=arn)
    assert ex["PauseDetails"]["Reason"] == "deploying"
    assert ex["PauseDetails"]["ExecutionTimeoutPaused"] is True
    # The same request with the same ClientToken succeeds again; another is refused.
    lam.pause_durable_execution(DurableExecutionArn=arn, Reason="deploying",
                                ExecutionTimeoutPaused=True, ClientToken="pause-1")
    assert code_of(lambda: lam.pause_durable_execution(DurableExecutionArn=arn)) == \
        "ResourceConflictException"
    assert lam.list_durable_executions_by_function(
        FunctionName="pausable", Statuses=["PAUSED"])["DurableExecutions"][0]["Status"] == "PAUSED"

    # The wait completes while paused, but the function is not invoked.
    advance(server, 61)
    wait_event(lam, arn, "WaitSucceeded")
    time.sleep(1)
    assert status_of(lam, arn) == "PAUSED"
    assert trace.read_text().split() == ["first"]
    assert event_types(lam, arn).count("InvocationCompleted") == 1

    lam.resume_durable_execution(DurableExecutionArn=arn, Reason="deployed")
    wait_status(lam, arn, "SUCCEEDED")
    assert trace.read_text().split() == ["first", "second"]
    ex = lam.get_durable_execution(DurableExecutionArn=arn)
    assert json.loads(ex["Result"]) == {"result": 42}
    assert "PauseDetails" not in ex

    history = events(lam, arn)
    kinds = [e["EventType"] for e in history]
    assert kinds.index("ExecutionPaused") < kinds.index("WaitSucceeded") < kinds.index("ExecutionResumed")
    paused = history[kinds.index("ExecutionPaused")]["ExecutionPausedDetails"]
    assert paused["Reason"]["Payload"] == "deploying"
    assert paused["ExecutionTimeoutPaused"] is True and paused["PauseRequestTimestamp"]
    resumed = history[kinds.index("ExecutionResumed")]["ExecutionResumedDetails"]
    assert resumed["Reason"]["Payload"] == "deployed" and resumed["ResumeRequestTimestamp"]
    # A running (or ended) execution can't be resumed.
    assert code_of(lambda: lam.resume_durable_execution(DurableExecutionArn=arn)) == \
        "ResourceConflictException"


@needs_sdk
def test_pause_waits_for_the_invocations_next_checkpoint(lam, tmp_path):
    lam = newer(lam)
    make(lam, "gated", GATED, tmp_path)
    arn = start(lam, "gated", {})
    trace = tmp_path / "gated.trace"
    wait_event(lam, arn, "StepStarted")
    lam.pause_durable_execution(DurableExecutionArn=arn)
    assert status_of(lam, arn) == "PAUSING"
    # The step's checkpoint makes the pause hold: the function runs no further.
    (tmp_path / "gated.trace.go").touch()
    wait_status(lam, arn, "PAUSED")
    wait_event(lam, arn, "InvocationCompleted")
    assert trace.read_text().split() == ["gate"]
    # The pause cut the invocation short: resuming invokes the function again.
    lam.resume_durable_execution(DurableExecutionArn=arn)
    wait_status(lam, arn, "SUCCEEDED")
    assert trace.read_text().split() == ["gate", "after"]


@needs_sdk
def test_resuming_a_pausing_execution_cancels_the_pause(lam, tmp_path):
    lam = newer(lam)
    make(lam, "gated2", GATED, tmp_path)
    arn = start(lam, "gated2", {})
    wait_event(lam, arn, "StepStarted")
    lam.pause_durable_execution(DurableExecutionArn=arn)
    assert status_of(lam, arn) == "PAUSING"
    lam.resume_durable_execution(DurableExecutionArn=arn)
    assert status_of(lam, arn) == "RUNNING"
    (tmp_path / "gated2.trace.go").touch()
    wait_status(lam, arn, "SUCCEEDED")
    assert (tmp_path / "gated2.trace").read_text().split() == ["gate", "after"]
    assert "ExecutionPaused" not in event_types(lam, arn)


@needs_sdk
def test_pause_of_an_ended_execution_is_refused_and_delete(lam):
    lam = newer(lam)
    make(lam, "ended", ONLY_STEPS)
    r = lam.invoke(FunctionName="ended:$LATEST", Payload=json.dumps({"n": 1}))
    arn = r["DurableExecutionArn"]
    assert status_of(lam, arn) == "SUCCEEDED"
    assert code_of(lambda: lam.pause_durable_execution(DurableExecutionArn=arn)) == \
        "ResourceConflictException"

    r = lam.delete_durable_execution(DurableExecutionArn=arn)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert r["DeletionRequestTimestamp"]
    for call in (lambda: lam.get_durable_execution(DurableExecutionArn=arn),
                 lambda: lam.get_durable_execution_history(DurableExecutionArn=arn),
                 lambda: lam.delete_durable_execution(DurableExecutionArn=arn),
                 lambda: lam.pause_durable_execution(DurableExecutionArn=arn)):
        assert code_of(call) == "ResourceNotFoundException"
    assert lam.list_durable_executions_by_function(FunctionName="ended")["DurableExecutions"] == []

    # A running execution can't be deleted; once stopped it can.
    make(lam, "notyet", LONG_WAIT)
    running = start(lam, "notyet", {})
    wait_event(lam, running, "WaitStarted")
    assert code_of(lambda: lam.delete_durable_execution(DurableExecutionArn=running)) == \
        "ResourceConflictException"
    lam.stop_durable_execution(DurableExecutionArn=running)
    lam.delete_durable_execution(DurableExecutionArn=running)
    assert code_of(lambda: lam.get_durable_execution(DurableExecutionArn=running)) == \
        "ResourceNotFoundException"


@needs_sdk
def test_paused_execution_survives_a_restart(start_nephos, tmp_path):
    data = tmp_path / "data"
    first = start_nephos("--data-dir", str(data), "--quiet", "--lambda-python", VENV_PYTHON)
    lam = newer(first.client("lambda"))
    acct = account_of(lam)
    make(lam, "sleeper", LONG_WAIT, durable={"ExecutionTimeout": 86400})
    arn = start(lam, "sleeper", {})
    wait_event(lam, arn, "InvocationCompleted")
    lam.pause_durable_execution(DurableExecutionArn=arn, Reason="maintenance")
    assert status_of(lam, arn) == "PAUSED"
    first.stop()

    second = start_nephos("--data-dir", str(data), "--quiet", "--lambda-python", VENV_PYTHON)
    lam2 = newer(second.client("lambda", account=acct))
    assert status_of(lam2, arn) == "PAUSED"
    assert lam2.get_durable_execution(DurableExecutionArn=arn)["PauseDetails"]["Reason"] == "maintenance"
    advance(second, 3601)
    wait_event(lam2, arn, "WaitSucceeded")
    assert status_of(lam2, arn) == "PAUSED"
    lam2.resume_durable_execution(DurableExecutionArn=arn)
    wait_status(lam2, arn, "SUCCEEDED")
    assert json.loads(lam2.get_durable_execution(DurableExecutionArn=arn)["Result"]) == "woke"
    # Deleted, it stays deleted across a restart.
    lam2.delete_durable_execution(DurableExecutionArn=arn)
    second.stop()
    third = start_nephos("--data-dir", str(data), "--quiet", "--lambda-python", VENV_PYTHON)
    lam3 = newer(third.client("lambda", account=acct))
    assert code_of(lambda: lam3.get_durable_execution(DurableExecutionArn=arn)) == \
        "ResourceNotFoundException"
