"""Lambda's data plane for Python functions, end to end: real processes behind Invoke.

The event and the context object (qualified ARNs via versions and aliases), the
environment AWS gives a function (and none of nephos's own), handlers in packages, warm
state and its reset, `LogType: Tail`, every error AWS reports with its exact payload,
timeouts, crashes, payload limits, weighted aliases, reserved concurrency, boto3 inside a
function writing to nephos's S3 and DynamoDB, the AWS CLI, and cold/warm timings.
Exact payload shapes follow AWS's recorded responses (LocalStack's AWS snapshots)."""

import concurrent.futures
import json
import os
import re
import statistics
import time

import pytest
from botocore.exceptions import ClientError

from conftest import Nephos
from lambdautil import (
    VENV_PYTHON,
    account_of,
    create,
    invoke,
    tail,
    wait_updated,
    zip_bytes,
)

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
MARKER = "NEPHOS_LTEST_PRIVATE_MARKER"


@pytest.fixture(scope="module")
def server():
    """nephos running Python functions with the tests' venv (boto3 importable), with a
    variable of its own that no function may see."""
    s = Nephos("--lambda-python", VENV_PYTHON, env={MARKER: "nephos-only"})
    yield s
    s.stop()


@pytest.fixture
def lam(server):
    return server.client("lambda")


def err(excinfo):
    e = excinfo.value.response
    return e["Error"]["Code"], e["Error"]["Message"], e["ResponseMetadata"]["HTTPStatusCode"]


ECHO = """
import json, os, time

def handler(event, context):
    r1 = context.get_remaining_time_in_millis()
    time.sleep(0.05)
    r2 = context.get_remaining_time_in_millis()
    return {
        "event": event,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "aws_request_id": context.aws_request_id,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "remaining": [r1, r2],
        "env": dict(os.environ),
        "cwd": os.getcwd(),
    }
"""


def test_event_context_and_environment(server, lam):
    acct = account_of(lam)
    create(lam, "echo", {"index.py": ECHO}, MemorySize=256,
           Environment={"Variables": {"MY_VAR": "hello", "WITH_EQUALS": "a=b c"}})
    event = {"s": "héllo ✓", "n": 1.5, "list": [1, None, True], "nested": {"k": "v"}}
    out, r = invoke(lam, "echo", event)
    assert r["StatusCode"] == 200 and "FunctionError" not in r
    assert r["ExecutedVersion"] == "$LATEST"
    assert out["event"] == event
    assert out["function_name"] == "echo"
    assert out["function_version"] == "$LATEST"
    assert out["invoked_function_arn"] == f"arn:aws:lambda:us-east-1:{acct}:function:echo"
    assert out["memory_limit_in_mb"] == "256"
    assert re.fullmatch(UUID, out["aws_request_id"])
    assert out["log_group_name"] == "/aws/lambda/echo"
    r1, r2 = out["remaining"]
    assert 2000 < r1 <= 3000 and r2 < r1 and r1 - r2 >= 40, out["remaining"]

    env = out["env"]
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "echo"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/echo"
    assert re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}", env["AWS_LAMBDA_LOG_STREAM_NAME"])
    assert env["AWS_LAMBDA_LOG_STREAM_NAME"] == out["log_stream_name"]
    assert env["_HANDLER"] == "index.handler"
    assert env["LAMBDA_TASK_ROOT"] == out["cwd"]
    assert os.path.isfile(os.path.join(env["LAMBDA_TASK_ROOT"], "index.py"))
    assert env["AWS_REGION"] == "us-east-1"
    assert env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.12"
    assert env["TZ"] == ":UTC"
    assert env["AWS_ENDPOINT_URL"].rstrip("/").endswith(f":{server.port}")
    assert env["AWS_ACCESS_KEY_ID"] and env["AWS_SECRET_ACCESS_KEY"]
    assert re.fullmatch(r"127\.0\.0\.1:\d+", env["AWS_LAMBDA_RUNTIME_API"])
    assert env["MY_VAR"] == "hello" and env["WITH_EQUALS"] == "a=b c"
    # Nothing of nephos's own environment (nor the test runner's it inherited).
    assert MARKER not in env
    assert "PYTEST_CURRENT_TEST" not in env and "NEPHOS_BIN" not in env
    assert not any(k.startswith("NEPHOS_") for k in env), sorted(env)


def test_request_id_is_the_invocations_request_id(lam):
    """AWS: the x-amzn-RequestId of Invoke is the context's aws_request_id (and the one
    in the START/END/REPORT lines)."""
    create(lam, "rid", {"index.py": "def handler(e, c):\n    return c.aws_request_id\n"})
    out, r = invoke(lam, "rid", LogType="Tail")
    assert f"START RequestId: {out} Version: $LATEST" in tail(r)
    assert out == r["ResponseMetadata"]["RequestId"]


def test_qualified_arns_via_version_and_alias(lam):
    acct = account_of(lam)
    create(lam, "q", {"index.py": ECHO})
    v = lam.publish_version(FunctionName="q")["Version"]
    assert v == "1"
    lam.create_alias(FunctionName="q", Name="live", FunctionVersion="1")
    base = f"arn:aws:lambda:us-east-1:{acct}:function:q"

    out, r = invoke(lam, "q", Qualifier="live")
    assert out["invoked_function_arn"] == f"{base}:live"
    assert out["function_version"] == "1" and out["env"]["AWS_LAMBDA_FUNCTION_VERSION"] == "1"
    assert r["ExecutedVersion"] == "1"
    assert re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[1\][0-9a-f]{32}", out["log_stream_name"])

    out, r = invoke(lam, "q:1")
    assert out["invoked_function_arn"] == f"{base}:1" and r["ExecutedVersion"] == "1"

    out, r = invoke(lam, f"{base}:live")
    assert out["invoked_function_arn"] == f"{base}:live"

    out, r = invoke(lam, "q", Qualifier="$LATEST")
    assert out["invoked_function_arn"] == f"{base}:$LATEST"
    assert out["function_version"] == "$LATEST" and r["ExecutedVersion"] == "$LATEST"


def test_handler_in_a_package_with_local_imports(lam):
    files = {
        "pkg/__init__.py": "",
        "pkg/mod.py": "from . import helper\nimport toplevel\n"
                      "def handler(e, c):\n    return [helper.X, toplevel.Y, __name__]\n",
        "pkg/helper.py": "X = 'rel'\n",
        "toplevel.py": "Y = 'top'\n",
    }
    create(lam, "pkgfn", files, handler="pkg/mod.handler")
    out, r = invoke(lam, "pkgfn")
    assert out == ["rel", "top", "pkg.mod"], out
    # The dotted form names the same module.
    lam.update_function_configuration(FunctionName="pkgfn", Handler="pkg.mod.handler")
    wait_updated(lam, "pkgfn")
    out, r = invoke(lam, "pkgfn")
    assert out == ["rel", "top", "pkg.mod"], out


COUNTER = """
import os
count = 0

def handler(event, context):
    global count
    count += 1
    return {"count": count, "pid": os.getpid(), "v": os.environ.get("VV")}
"""


def test_warm_state_persists_and_resets_on_update(lam):
    create(lam, "warm", {"index.py": COUNTER}, Environment={"Variables": {"VV": "1"}})
    outs = [invoke(lam, "warm")[0] for _ in range(3)]
    assert [o["count"] for o in outs] == [1, 2, 3]
    assert len({o["pid"] for o in outs}) == 1
    assert outs[0]["v"] == "1"

    lam.update_function_configuration(FunctionName="warm", Environment={"Variables": {"VV": "2"}})
    wait_updated(lam, "warm")
    out, _ = invoke(lam, "warm")
    assert out["count"] == 1 and out["v"] == "2" and out["pid"] != outs[0]["pid"]
    assert invoke(lam, "warm")[0]["count"] == 2

    lam.update_function_code(FunctionName="warm", ZipFile=zip_bytes({"index.py": COUNTER + "\n# v2\n"}))
    wait_updated(lam, "warm")
    assert invoke(lam, "warm")[0]["count"] == 1


def test_log_tail(lam):
    code = """
import logging
logger = logging.getLogger()
logger.setLevel(logging.INFO)

def handler(event, context):
    print("hello from print", event.get("n"))
    logger.info("via logging")
    print("x" * event.get("big", 0))
    return context.aws_request_id
"""
    create(lam, "tail", {"index.py": code})
    rid, r = invoke(lam, "tail", {"n": 1}, LogType="Tail")
    text = tail(r)
    lines = text.rstrip("\n").split("\n")
    assert lines[0] == f"START RequestId: {rid} Version: $LATEST"
    assert "hello from print 1" in lines
    assert any(re.fullmatch(rf"\[INFO\]\t\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}Z\t{rid}\tvia logging", l)
               for l in lines), lines
    assert lines[-2] == f"END RequestId: {rid}"
    report = lines[-1]
    assert re.fullmatch(
        rf"REPORT RequestId: {rid}\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms\t"
        rf"Memory Size: 128 MB\tMax Memory Used: \d+ MB\tInit Duration: \d+\.\d\d ms", report), report
    # Warm: no Init Duration.
    rid2, r = invoke(lam, "tail", {"n": 2}, LogType="Tail")
    text2 = tail(r)
    assert "hello from print 2" in text2 and "hello from print 1" not in text2
    assert "Init Duration" not in text2
    # Without LogType there is no LogResult.
    _, r = invoke(lam, "tail")
    assert "LogResult" not in r
    # The tail is the last 4 KB.
    rid3, r = invoke(lam, "tail", {"big": 10000}, LogType="Tail")
    text3 = tail(r)
    assert len(text3.encode()) <= 4096
    assert text3.rstrip("\n").split("\n")[-1].startswith(f"REPORT RequestId: {rid3}")


def test_events_that_are_not_objects(lam):
    create(lam, "anyevent", {"index.py": "def handler(e, c):\n    return {'type': type(e).__name__, 'e': e}\n"})
    for raw, expected in (('"just a string"', "just a string"), ("[1, 2]", [1, 2]), ("42", 42), ("null", None)):
        out, r = invoke(lam, "anyevent", raw=raw)
        assert out["e"] == expected, (raw, out)


def test_user_environment_may_set_tz(lam):
    code = "import time\ndef handler(e, c):\n    return time.strftime('%Z', time.localtime(0))\n"
    create(lam, "tz", {"index.py": code}, Environment={"Variables": {"TZ": "America/New_York"}})
    assert invoke(lam, "tz")[0] == "EST"


def test_client_context_and_identity_are_objects(lam):
    """AWS's Python runtime (awslambdaric): client_context has .custom, .env and .client
    (with .installation_id ...); identity is a CognitoIdentity whose fields are None."""
    import base64
    code = """
def handler(e, c):
    cc = c.client_context
    return {"custom": cc.custom, "env": cc.env, "installation_id": cc.client.installation_id,
            "identity": [c.identity.cognito_identity_id, c.identity.cognito_identity_pool_id]}
"""
    create(lam, "cctx", {"index.py": code})
    ctx = {"custom": {"k": "v"}, "env": {"platform": "test"}, "client": {"installation_id": "inst-1"}}
    out, r = invoke(lam, "cctx", ClientContext=base64.b64encode(json.dumps(ctx).encode()).decode())
    assert "FunctionError" not in r, out
    assert out == {"custom": {"k": "v"}, "env": {"platform": "test"}, "installation_id": "inst-1",
                   "identity": [None, None]}


def test_client_context_reaches_the_function(lam):
    import base64
    code = "def handler(e, c):\n    return repr(c.client_context.custom)\n"
    create(lam, "cctx2", {"index.py": code})
    ctx = {"custom": {"k": "v"}}
    out, r = invoke(lam, "cctx2", ClientContext=base64.b64encode(json.dumps(ctx).encode()).decode())
    assert "'k'" in out and "'v'" in out
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName="cctx2", ClientContext="%%% not base64")
    assert err(e)[0] == "InvalidRequestContentException"


def trace_header(client, value):
    def add(request, **kwargs):
        request.headers["X-Amzn-Trace-Id"] = value
    client.meta.events.register("before-sign.lambda.Invoke", add)


TRACE = "import os\ndef handler(e, c):\n    return os.environ.get('_X_AMZN_TRACE_ID')\n"


def test_trace_header_reaches_the_function(server):
    lam = server.client("lambda")
    create(lam, "traced", {"index.py": TRACE})
    root = "Root=1-5759e988-bd862e3fe1be46a994272793"
    trace_header(lam, f"{root};Sampled=1")
    out, _ = invoke(lam, "traced")
    assert out and out.startswith(root), out


def test_trace_id_is_always_set(lam):
    """AWS (recorded introspection): _X_AMZN_TRACE_ID is in every Python function's
    environment; Lambda starts a trace (Root=1-<8 hex>-<24 hex>) when the caller sent none."""
    create(lam, "untraced", {"index.py": TRACE})
    out, _ = invoke(lam, "untraced")
    assert out and re.match(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24};", out), out


def test_init_duration_is_the_module_import(lam):
    """AWS: REPORT's Init Duration is the init phase (importing the module); Duration is
    the handler's run."""
    code = "import time\ntime.sleep(0.4)\ndef handler(e, c):\n    return 1\n"
    create(lam, "slowinit", {"index.py": code})
    _, r = invoke(lam, "slowinit", LogType="Tail")
    report = tail(r).rstrip("\n").split("\n")[-1]
    init = float(re.search(r"Init Duration: (\d+\.\d+) ms", report).group(1))
    duration = float(re.search(r"\tDuration: (\d+\.\d+) ms", report).group(1))
    assert init >= 400 and duration < 200, report


def test_slow_init_does_not_eat_the_timeout(lam):
    """AWS: the init phase has its own 10 s limit; the function's timeout covers the
    invocation. A module taking 1.3 s to import still serves a 1 s-timeout function."""
    code = "import time\ntime.sleep(1.3)\ndef handler(e, c):\n    return 'served'\n"
    create(lam, "slowinit2", {"index.py": code}, timeout=1)
    out, r = invoke(lam, "slowinit2")
    assert "FunctionError" not in r, out
    assert out == "served"


def test_parallel_invocations_get_their_own_environments(lam):
    code = "import os, time\ndef handler(e, c):\n    time.sleep(0.5)\n    return os.getpid()\n"
    create(lam, "parallel", {"index.py": code})
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        pids = list(pool.map(lambda _: invoke(lam, "parallel")[0], range(6)))
    assert time.monotonic() - t0 < 4  # not one after the other (3 s)
    assert len(set(pids)) == 6, pids
    # Warm again: the next wave reuses them.
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        again = list(pool.map(lambda _: invoke(lam, "parallel")[0], range(6)))
    assert set(again) <= set(pids), (pids, again)


def test_update_while_busy_finishes_on_the_old_code(lam):
    code = "import time\ndef handler(e, c):\n    time.sleep(e.get('sleep', 0))\n    return %r\n"
    create(lam, "busyupd", {"index.py": code % "old"}, timeout=5)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        inflight = pool.submit(lambda: invoke(lam, "busyupd", {"sleep": 1.0})[0])
        time.sleep(0.3)
        lam.update_function_code(FunctionName="busyupd", ZipFile=zip_bytes({"index.py": code % "new"}))
        wait_updated(lam, "busyupd")
        assert invoke(lam, "busyupd")[0] == "new"
        assert inflight.result() == "old"
    assert invoke(lam, "busyupd")[0] == "new"


# --- errors ----------------------------------------------------------------------------


def failing(lam, name, files, handler="index.handler", event=None, **kw):
    create(lam, name, files, handler=handler, **kw)
    out, r = invoke(lam, name, event)
    assert r["StatusCode"] == 200
    assert r["FunctionError"] == "Unhandled"
    assert r["ExecutedVersion"] == "$LATEST"
    return out, r


def test_handler_exception_payload(lam):
    code = """
class MyError(Exception):
    pass

def handler(event, context):
    if event.get("custom"):
        raise MyError("custom failure")
    raise Exception("Handler fails")
"""
    out, r = failing(lam, "boom", {"index.py": code})
    assert set(out) == {"errorMessage", "errorType", "requestId", "stackTrace"}
    assert out["errorMessage"] == "Handler fails"
    assert out["errorType"] == "Exception"
    assert re.fullmatch(UUID, out["requestId"])
    assert len(out["stackTrace"]) == 1
    assert re.fullmatch(r'  File "[^"]*index\.py", line 8, in handler\n    raise Exception\("Handler fails"\)\n',
                        out["stackTrace"][0]), out["stackTrace"]
    out, r = invoke(lam, "boom", {"custom": True})
    assert r["FunctionError"] == "Unhandled"
    assert (out["errorType"], out["errorMessage"]) == ("MyError", "custom failure")


def test_handler_exception_logs_the_traceback(lam):
    """AWS's Python runtime logs '[ERROR] ValueError: bad value' followed by
    'Traceback (most recent call last):' and the stack."""
    create(lam, "tb", {"index.py": "def handler(e, c):\n    raise ValueError('bad value')\n"})
    _, r = invoke(lam, "tb", LogType="Tail")
    text = tail(r)
    assert "[ERROR] ValueError: bad value" in text
    assert "Traceback (most recent call last):" in text
    assert "raise ValueError('bad value')" in text


def test_deleting_a_function_ends_its_environments(lam):
    create(lam, "ephemeral", {"index.py": "import os\ndef handler(e, c):\n    return os.getpid()\n"})
    pid, _ = invoke(lam, "ephemeral")

    def gone():
        try:
            os.kill(pid, 0)
            return False
        except ProcessLookupError:
            return True

    assert not gone()
    lam.delete_function(FunctionName="ephemeral")
    deadline = time.monotonic() + 3
    while not gone() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gone(), f"the function's process {pid} outlived DeleteFunction"


def test_import_module_error(lam):
    out, _ = failing(lam, "noimp", {"index.py": "x = 1\n"}, handler="missing.handler")
    assert out == {
        "errorMessage": "Unable to import module 'missing': No module named 'missing'",
        "errorType": "Runtime.ImportModuleError",
        "requestId": "",
        "stackTrace": [],
    }
    # A dependency the module imports is missing: same error type, that module's name.
    out, _ = failing(lam, "nodep", {"index.py": "import not_installed_dep\n"})
    assert out["errorType"] == "Runtime.ImportModuleError"
    assert out["errorMessage"] == "Unable to import module 'index': No module named 'not_installed_dep'"


def test_handler_not_found(lam):
    out, _ = failing(lam, "nohandler", {"index.py": "def other(e, c):\n    return 1\n"})
    assert out == {
        "errorMessage": "Handler 'handler' missing on module 'index'",
        "errorType": "Runtime.HandlerNotFound",
        "requestId": "",
        "stackTrace": [],
    }


def test_syntax_error(lam):
    out, _ = failing(lam, "syntax", {"index.py": "def handler(event, context)\n    return 1\n"})
    assert out["errorType"] == "Runtime.UserCodeSyntaxError"
    assert out["requestId"] == ""
    assert out["errorMessage"].startswith("Syntax error in module 'index': ")
    assert "(index.py, line 1)" in out["errorMessage"]


def test_exception_at_import(lam):
    out, _ = failing(lam, "initfail", {"index.py": "raise Exception('Runtime startup fails')\n"})
    assert out["errorType"] == "Exception"
    assert out["errorMessage"] == "Runtime startup fails"
    assert out["requestId"] == ""
    assert 'line 1, in <module>\n    raise Exception(\'Runtime startup fails\')\n' in out["stackTrace"][-1]


def test_init_error_is_retried_on_the_next_invoke(lam, tmp_path):
    """An environment whose init failed is not reused: the next invoke starts over (here
    the module succeeds the second time)."""
    flag = tmp_path / "flag"
    code = f"""
import os
if not os.path.exists({str(flag)!r}):
    open({str(flag)!r}, "w").close()
    raise RuntimeError("first init fails")

def handler(e, c):
    return "recovered"
"""
    out, _ = failing(lam, "initonce", {"index.py": code})
    assert (out["errorType"], out["errorMessage"]) == ("RuntimeError", "first init fails")
    out, r = invoke(lam, "initonce")
    assert out == "recovered" and "FunctionError" not in r


EXITER = """
import os, sys

def handler(event, context):
    if "exit" in event:
        sys.exit(event["exit"])
    if "sleep" in event:
        import time
        time.sleep(event["sleep"])
    return os.getpid()
"""


def test_exit_error_and_recovery(lam):
    create(lam, "exiter", {"index.py": EXITER})
    pid1, _ = invoke(lam, "exiter")
    out, r = invoke(lam, "exiter", {"exit": 3})
    assert r["FunctionError"] == "Unhandled"
    rid = re.fullmatch(rf"RequestId: ({UUID}) Error: Runtime exited with error: exit status 3",
                       out["errorMessage"])
    assert rid, out
    assert out == {"errorType": "Runtime.ExitError", "errorMessage": out["errorMessage"]}
    # The environment is replaced: the next invocation works, in a new process.
    pid2, r = invoke(lam, "exiter")
    assert "FunctionError" not in r and isinstance(pid2, int) and pid2 != pid1


def test_exit_zero_in_handler_has_no_reason(lam):
    """AWS (recorded): a handler calling sys.exit(0) gives 'Runtime exited without
    providing a reason'."""
    create(lam, "exit0", {"index.py": EXITER})
    out, r = invoke(lam, "exit0", {"exit": 0})
    assert r["FunctionError"] == "Unhandled"
    assert out["errorType"] == "Runtime.ExitError"
    assert re.fullmatch(rf"RequestId: {UUID} Error: Runtime exited without providing a reason",
                        out["errorMessage"]), out


def test_exit_zero_at_init_has_no_reason(lam):
    """AWS (recorded): a module calling sys.exit(0) at import gives the same."""
    out, _ = failing(lam, "initexit0", {"index.py": "import sys\nsys.exit(0)\n"})
    assert out["errorType"] == "Runtime.ExitError"
    assert re.fullmatch(rf"RequestId: {UUID} Error: Runtime exited without providing a reason",
                        out["errorMessage"]), out


def test_timeout(lam):
    create(lam, "slow", {"index.py": EXITER}, timeout=1)
    pid1, _ = invoke(lam, "slow")
    t0 = time.monotonic()
    out, r = invoke(lam, "slow", {"sleep": 5}, LogType="Tail")
    elapsed = time.monotonic() - t0
    assert 0.95 <= elapsed < 2.5, elapsed
    assert r["FunctionError"] == "Unhandled"
    assert set(out) == {"errorType", "errorMessage"}
    assert out["errorType"] == "Sandbox.Timedout"
    m = re.fullmatch(rf"RequestId: ({UUID}) Error: Task timed out after 1\.00 seconds", out["errorMessage"])
    assert m, out
    text = tail(r)
    assert f"Task timed out after 1.00 seconds" in text
    assert re.search(r"\tStatus: timeout\s*$", text), text
    # The timed-out environment is gone: the next invocation runs in a new one.
    pid2, r = invoke(lam, "slow")
    assert "FunctionError" not in r and pid2 != pid1


def test_marshal_error(lam):
    out, _ = failing(lam, "marshal", {"index.py": "def handler(e, c):\n    return {1, 2}\n"})
    assert out["errorType"] == "Runtime.MarshalError"
    assert out["errorMessage"] == "Unable to marshal response: Object of type set is not JSON serializable"
    assert re.fullmatch(UUID, out["requestId"]) and out["stackTrace"] == []


MARSHAL = """
import decimal
def handler(e, c):
    k = e["k"]
    if k == "decimal":
        return {"price": decimal.Decimal("1.50"), "n": decimal.Decimal("3")}
    if k == "unicode":
        return {"s": "h\u00e9llo \u2713"}
    if k == "bytes":
        return b"raw\\x00bytes"
"""


def test_decimal_results_are_numbers(lam):
    """AWS's Python runtime (awslambdaric's marshaller) encodes decimal.Decimal as the
    number it holds: returning an item read with boto3's DynamoDB resource works."""
    create(lam, "dec", {"index.py": MARSHAL})
    r = lam.invoke(FunctionName="dec", Payload=json.dumps({"k": "decimal"}))
    assert "FunctionError" not in r
    assert r["Payload"].read() == b'{"price": 1.50, "n": 3}'


def test_bytes_result_is_returned_raw(lam):
    create(lam, "bytesres", {"index.py": MARSHAL})
    r = lam.invoke(FunctionName="bytesres", Payload=json.dumps({"k": "bytes"}))
    assert "FunctionError" not in r
    assert r["Payload"].read() == b"raw\x00bytes"


def test_python312_results_keep_unicode(lam):
    create(lam, "uni12", {"index.py": MARSHAL}, runtime="python3.12")
    r = lam.invoke(FunctionName="uni12", Payload=json.dumps({"k": "unicode"}))
    assert r["Payload"].read() == '{"s": "h\u00e9llo \u2713"}'.encode()


def test_python311_results_escape_unicode(lam):
    create(lam, "uni11", {"index.py": MARSHAL}, runtime="python3.11")
    r = lam.invoke(FunctionName="uni11", Payload=json.dumps({"k": "unicode"}))
    assert r["Payload"].read() == b'{"s": "h\\u00e9llo \\u2713"}'


def test_none_and_scalar_results(lam):
    code = "def handler(e, c):\n    return e.get('r')\n"
    create(lam, "scalar", {"index.py": code})
    for value in (None, 0, "text", [1, "2"], False):
        out, r = invoke(lam, "scalar", {"r": value})
        assert "FunctionError" not in r and out == value
    # An empty payload is the event {}.
    r = lam.invoke(FunctionName="scalar")
    assert r["Payload"].read() == b"null"


def test_request_payload_limits_and_invalid_json(lam):
    create(lam, "limits", {"index.py": "def handler(e, c):\n    return len(e)\n"})
    big = json.dumps("x" * (6 * 1024 * 1024))  # 6 MB + the two quotes
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName="limits", Payload=big)
    assert err(e) == ("RequestTooLargeException",
                      "Request must be smaller than 6291456 bytes for the InvokeFunction operation", 413)
    # Just under the limit is accepted.
    out, r = invoke(lam, "limits", raw=json.dumps("x" * (6 * 1024 * 1024 - 100)))
    assert out == 6 * 1024 * 1024 - 100

    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName="limits", Payload=b'{"a": ')
    code, msg, status = err(e)
    assert (code, status) == ("InvalidRequestContentException", 400)
    assert msg.startswith("Could not parse request body into json: Could not parse payload into json: ")
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName="limits", Payload=b"n\x87r\x9e")
    assert err(e)[0] == "InvalidRequestContentException"


BIG = "def handler(e, c):\n    return 'x' * e['n']\n"


def test_response_over_the_limit_fails_at_once(lam):
    """AWS (recorded): a response above 6291556 bytes ends the invocation at once with
    Function.ResponseSizeTooLarge."""
    create(lam, "bigresp", {"index.py": BIG}, MemorySize=512, timeout=2)
    t0 = time.monotonic()
    out, r = invoke(lam, "bigresp", {"n": 6 * 1024 * 1024 + 200})
    assert r["FunctionError"] == "Unhandled"
    assert out == {
        "errorMessage": "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
        "errorType": "Function.ResponseSizeTooLarge",
    }
    assert time.monotonic() - t0 < 1.5


def test_response_just_under_the_aws_limit(lam):
    create(lam, "bigok", {"index.py": BIG}, MemorySize=512, timeout=2)
    # 6291500 bytes with the quotes: within AWS's limit.
    out, r = invoke(lam, "bigok", {"n": 6291498})
    assert "FunctionError" not in r, out
    assert len(out) == 6291498


def test_large_response_round_trips(lam):
    create(lam, "bigish", {"index.py": BIG}, MemorySize=512)
    out, r = invoke(lam, "bigish", {"n": 5 * 1024 * 1024})
    assert "FunctionError" not in r and out == "x" * (5 * 1024 * 1024)


def test_dry_run_is_204_and_runs_nothing(lam):
    create(lam, "dry", {"index.py": "def handler(e, c):\n    raise Exception('must not run')\n"})
    r = lam.invoke(FunctionName="dry", InvocationType="DryRun")
    assert r["Payload"].read() == b""
    assert r["StatusCode"] == 204


def test_dry_run_checks_the_function_exists(lam):
    create(lam, "dry2", {"index.py": "def handler(e, c):\n    raise Exception('must not run')\n"})
    r = lam.invoke(FunctionName="dry2", InvocationType="DryRun")
    assert r["Payload"].read() == b"" and "FunctionError" not in r
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName="nope", InvocationType="DryRun")
    assert err(e)[0] == "ResourceNotFoundException"


def test_unknown_function(lam):
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName="nope")
    code, msg, status = err(e)
    assert (code, status) == ("ResourceNotFoundException", 404)
    # AWS names the version an unqualified invocation would have run.
    assert msg == f"Function not found: arn:aws:lambda:us-east-1:{account_of(lam)}:function:nope:$LATEST"


# --- versions, aliases, concurrency -----------------------------------------------------


def test_weighted_alias_split(lam):
    code = "import os\ndef handler(e, c):\n    return [%r, os.environ['AWS_LAMBDA_FUNCTION_VERSION'], c.invoked_function_arn]\n"
    create(lam, "weighted", {"index.py": code % "one"})
    assert lam.publish_version(FunctionName="weighted")["Version"] == "1"
    lam.update_function_code(FunctionName="weighted", ZipFile=zip_bytes({"index.py": code % "two"}))
    wait_updated(lam, "weighted")
    assert lam.publish_version(FunctionName="weighted")["Version"] == "2"
    lam.create_alias(FunctionName="weighted", Name="canary", FunctionVersion="1",
                     RoutingConfig={"AdditionalVersionWeights": {"2": 0.3}})
    counts = {"1": 0, "2": 0}
    for _ in range(300):
        (label, version, arn), r = invoke(lam, "weighted", Qualifier="canary")
        assert r["ExecutedVersion"] == version
        assert label == {"1": "one", "2": "two"}[version]
        assert arn.endswith(":function:weighted:canary")
        counts[version] += 1
    # Expectation 90 of 300 (sd about 8): a wide band that still catches 0 %, 50 % or 100 %.
    assert 55 <= counts["2"] <= 125, counts
    # Versions invoked directly are what they are.
    assert invoke(lam, "weighted:2")[0][0] == "two"
    assert invoke(lam, "weighted")[0][0] == "two"


SLEEPER = "import time\ndef handler(e, c):\n    time.sleep(e.get('sleep', 0))\n    return 'done'\n"


def test_reserved_concurrency_one_throttles_the_second(lam):
    create(lam, "one", {"index.py": SLEEPER}, timeout=5)
    lam.put_function_concurrency(FunctionName="one", ReservedConcurrentExecutions=1)

    def call(_):
        try:
            return invoke(lam, "one", {"sleep": 1.5})[0]
        except ClientError as e:
            return e.response

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        results = list(pool.map(call, range(2)))
    ok = [x for x in results if x == "done"]
    throttled = [x for x in results if isinstance(x, dict)]
    assert len(ok) == 1 and len(throttled) == 1, results
    t = throttled[0]
    assert t["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert t["Error"] == {"Code": "TooManyRequestsException", "Message": "Rate Exceeded."}
    assert t.get("Reason") == "ReservedFunctionConcurrentInvocationLimitExceeded"
    # Once the first finished, invocations go through again.
    assert invoke(lam, "one")[0] == "done"


def test_reserved_concurrency_zero_throttles_everything(lam):
    create(lam, "zero", {"index.py": SLEEPER})
    lam.put_function_concurrency(FunctionName="zero", ReservedConcurrentExecutions=0)
    for _ in range(3):
        with pytest.raises(ClientError) as e:
            lam.invoke(FunctionName="zero", Payload=b"{}")
        assert err(e) == ("TooManyRequestsException", "Rate Exceeded.", 429)
        assert e.value.response.get("Reason") == "ReservedFunctionConcurrentInvocationLimitExceeded"
        assert e.value.response.get("Type") == "User"
    lam.delete_function_concurrency(FunctionName="zero")
    assert invoke(lam, "zero")[0] == "done"


def test_account_concurrency_limit_flag(start_nephos):
    server = start_nephos("--lambda-python", VENV_PYTHON, "--lambda-max-concurrency", "1")
    lam = server.client("lambda")
    create(lam, "acctlimit", {"index.py": SLEEPER}, timeout=5)

    def call(_):
        try:
            return invoke(lam, "acctlimit", {"sleep": 1.0})[0]
        except ClientError as e:
            return e.response

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        results = list(pool.map(call, range(2)))
    throttled = [x for x in results if isinstance(x, dict)]
    assert results.count("done") == 1 and len(throttled) == 1, results
    assert throttled[0]["Error"]["Code"] == "TooManyRequestsException"
    assert throttled[0].get("Reason") == "ConcurrentInvocationLimitExceeded"


# --- boto3 inside a function ------------------------------------------------------------


def test_function_uses_boto3_against_nephos(server, lam):
    acct = account_of(lam)
    s3 = server.client("s3", account=acct)
    ddb = server.client("dynamodb", account=acct)
    s3.create_bucket(Bucket=f"fn-out-{acct}")
    ddb.create_table(TableName="fnout", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
    code = """
import boto3

def handler(event, context):
    s3 = boto3.client("s3")
    s3.put_object(Bucket=event["bucket"], Key="from-lambda.txt", Body=b"written by " + context.aws_request_id.encode())
    ddb = boto3.resource("dynamodb")
    ddb.Table(event["table"]).put_item(Item={"pk": "k1", "rid": context.aws_request_id})
    me = boto3.client("sts").get_caller_identity()
    return {"rid": context.aws_request_id, "account": me["Account"]}
"""
    create(lam, "writer", {"index.py": code}, timeout=20)
    out, r = invoke(lam, "writer", {"bucket": f"fn-out-{acct}", "table": "fnout"})
    assert "FunctionError" not in r, out
    assert out["account"] == acct
    body = s3.get_object(Bucket=f"fn-out-{acct}", Key="from-lambda.txt")["Body"].read()
    assert body == b"written by " + out["rid"].encode()
    item = ddb.get_item(TableName="fnout", Key={"pk": {"S": "k1"}})["Item"]
    assert item["rid"] == {"S": out["rid"]}


# --- the AWS CLI ------------------------------------------------------------------------


def test_aws_cli_create_wait_invoke(server, tmp_path, account):
    zipf = tmp_path / "fn.zip"
    zipf.write_bytes(zip_bytes({"index.py": "def handler(e, c):\n    return {'got': e}\n"}))
    server.aws("lambda", "create-function", "--function-name", "clifn", "--runtime", "python3.12",
               "--handler", "index.handler", "--role", f"arn:aws:iam::{account}:role/r",
               "--zip-file", f"fileb://{zipf}", account=account)
    server.aws("lambda", "wait", "function-active-v2", "--function-name", "clifn", account=account)
    outfile = tmp_path / "out.json"
    # (The CLI here is v1, whose --payload is the raw JSON: v2's --cli-binary-format
    # raw-in-base64-out does not exist in v1.)
    r = server.aws("lambda", "invoke", "--function-name", "clifn", "--payload", '{"a": [1, 2]}',
                   str(outfile), account=account)
    assert r == {"StatusCode": 200, "ExecutedVersion": "$LATEST"}
    assert json.loads(outfile.read_text()) == {"got": {"a": [1, 2]}}
    # --log-type Tail prints LogResult.
    r = server.aws("lambda", "invoke", "--function-name", "clifn", "--payload", "{}",
                   "--log-type", "Tail", str(outfile), account=account)
    import base64
    assert "REPORT RequestId:" in base64.b64decode(r["LogResult"]).decode()


# --- timings (printed, loosely asserted) --------------------------------------------------


def test_python_cold_start_and_warm_latency(lam):
    create(lam, "timing", {"index.py": "def handler(e, c):\n    return 1\n"})
    t0 = time.perf_counter()
    invoke(lam, "timing")
    cold = time.perf_counter() - t0
    warm = []
    for _ in range(200):
        t0 = time.perf_counter()
        invoke(lam, "timing")
        warm.append(time.perf_counter() - t0)
    p50 = statistics.median(warm) * 1000
    p99 = sorted(warm)[197] * 1000
    print(f"\npython cold start {cold * 1000:.1f} ms, warm p50 {p50:.2f} ms, p99 {p99:.2f} ms")
    assert cold < 10 and p50 < 200


PROVISIONED = """
import os, time
STARTED = time.time()
time.sleep(0.3)  # a slow init: a provisioned environment has done it before any invoke

def handler(event, context):
    time.sleep(0.5)  # long enough for two calls at once to need two environments
    return {"init": os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"], "pid": os.getpid(),
            "since_init": time.time() - STARTED}
"""


def test_provisioned_concurrency_keeps_environments_initialised(lam):
    create(lam, "prov", {"index.py": PROVISIONED})
    lam.publish_version(FunctionName="prov")
    lam.create_alias(FunctionName="prov", Name="live", FunctionVersion="1")
    put = lam.put_provisioned_concurrency_config(
        FunctionName="prov", Qualifier="live", ProvisionedConcurrentExecutions=2
    )
    assert (put["Status"], put["AllocatedProvisionedConcurrentExecutions"]) == ("IN_PROGRESS", 0)
    deadline = time.time() + 20
    while (got := lam.get_provisioned_concurrency_config(FunctionName="prov", Qualifier="live"))["Status"] != "READY":
        assert got["Status"] == "IN_PROGRESS" and time.time() < deadline, got
        time.sleep(0.1)
    assert got["AvailableProvisionedConcurrentExecutions"] == 2
    # Both environments ran their init before the first invocation reached them.
    time.sleep(0.5)
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        outs = list(pool.map(lambda _: invoke(lam, "prov", Qualifier="live")[0], range(2)))
    assert {o["init"] for o in outs} == {"provisioned-concurrency"}, outs
    assert all(o["since_init"] > 1.2 for o in outs), outs
    assert len({o["pid"] for o in outs}) == 2
    # Without the configuration, $LATEST starts on demand.
    assert invoke(lam, "prov")[0]["init"] == "on-demand"
    lam.delete_provisioned_concurrency_config(FunctionName="prov", Qualifier="live")
    with pytest.raises(ClientError) as e:
        lam.get_provisioned_concurrency_config(FunctionName="prov", Qualifier="live")
    assert e.value.response["Error"]["Code"] == "ProvisionedConcurrencyConfigNotFoundException"


WHO = """
import boto3, os, time

def handler(event, context):
    time.sleep(event.get("sleep", 0))
    me = boto3.client("sts").get_caller_identity()["Arn"]
    return {"me": me, "key": os.environ["AWS_ACCESS_KEY_ID"]}
"""


def test_each_environment_has_a_session_of_its_own_named_after_the_function(server, lam):
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    role = server.client("iam", account=account_of(lam)).create_role(
        RoleName="shared-role", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    for name in ("who-a", "who-b", "w"):
        create(lam, name, {"index.py": WHO}, Role=role, timeout=30)
    a, b = invoke(lam, "who-a")[0], invoke(lam, "who-b")[0]
    prefix = f"arn:aws:sts::{account_of(lam)}:assumed-role/shared-role/"
    assert (a["me"], b["me"]) == (prefix + "who-a", prefix + "who-b")
    # A one-character name is shorter than a session name may be: AWS extends it.
    assert invoke(lam, "w")[0]["me"] == prefix + "w@lambda_function"
    # Two environments of one function at once: two sessions.
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        outs = list(pool.map(lambda _: invoke(lam, "who-a", {"sleep": 1})[0], range(2)))
    assert outs[0]["key"] != outs[1]["key"], outs


def test_provisioned_concurrency_is_carved_out_of_the_reservation(lam):
    """Recorded from AWS: with all of a function's reserved concurrency provisioned for a
    version, $LATEST has none left, while the provisioned version still runs."""
    create(lam, "carved", {"index.py": "def handler(event, context):\n    return 'ok'\n"})
    v1 = lam.publish_version(FunctionName="carved")["Version"]
    lam.put_function_concurrency(FunctionName="carved", ReservedConcurrentExecutions=1)
    assert invoke(lam, "carved", Qualifier="$LATEST")[0] == "ok"
    lam.put_provisioned_concurrency_config(FunctionName="carved", Qualifier=v1, ProvisionedConcurrentExecutions=1)
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName="carved", Qualifier="$LATEST", Payload=b"{}")
    r = e.value.response
    assert (r["Error"]["Code"], r["Error"]["Message"], r["Reason"]) == (
        "TooManyRequestsException", "Rate Exceeded.", "ReservedFunctionConcurrentInvocationLimitExceeded")
    assert invoke(lam, "carved", Qualifier=v1)[0] == "ok"
    lam.update_function_configuration(FunctionName="carved", Description="two")
    wait_updated(lam, "carved")
    v2 = lam.publish_version(FunctionName="carved")
    assert v2["Version"] != v1
    with pytest.raises(ClientError) as e:
        lam.put_provisioned_concurrency_config(
            FunctionName="carved", Qualifier=v2["Version"], ProvisionedConcurrentExecutions=1)
    assert err(e)[:2] == ("InvalidParameterValueException",
                          "Requested Provisioned Concurrency should not be greater than the reservedConcurrentExecution for function")
