"""Lambda runtimes other than nephos's Python one: Node.js (CommonJS, ES modules, async,
callbacks, errors), custom runtimes (`provided.al2023` with the package's own
`bootstrap`, as in AWS's custom-runtime tutorial, speaking the Runtime API with curl),
and AWS's own runtime interface clients (`awslambdaric` from PyPI, `aws-lambda-ric` from npm)
run as custom runtimes unchanged: they are the strictest clients of nephos's Runtime API."""

import importlib.util
import json
import os
import re
import shlex
import statistics
import time

import pytest

from conftest import Nephos
from lambdautil import (
    VENV_PYTHON,
    account_of,
    create,
    invoke,
    node_available,
    tail,
)

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"

needs_node = pytest.mark.skipif(not node_available(), reason="no node on PATH")


@pytest.fixture(scope="module")
def server():
    s = Nephos("--lambda-python", VENV_PYTHON)
    yield s
    s.stop()


@pytest.fixture
def lam(server):
    return server.client("lambda")


# --- Node.js ------------------------------------------------------------------------------

NODE_CONTEXT = """
  const r1 = context.getRemainingTimeInMillis();
  await new Promise((res) => setTimeout(res, 50));
  const r2 = context.getRemainingTimeInMillis();
  console.log("node says", JSON.stringify(event));
  return {
    event,
    functionName: context.functionName,
    functionVersion: context.functionVersion,
    invokedFunctionArn: context.invokedFunctionArn,
    memoryLimitInMB: context.memoryLimitInMB,
    awsRequestId: context.awsRequestId,
    logGroupName: context.logGroupName,
    logStreamName: context.logStreamName,
    remaining: [r1, r2],
    env: process.env,
    cwd: process.cwd(),
  };
"""


@needs_node
def test_node_commonjs_async_context(lam):
    acct = account_of(lam)
    code = "exports.handler = async (event, context) => {" + NODE_CONTEXT + "};\n"
    create(lam, "cjs", {"index.js": code}, runtime="nodejs20.x",
           Environment={"Variables": {"USER_VAR": "u"}})
    event = {"a": [1, "two", None], "ü": "✓"}
    out, r = invoke(lam, "cjs", event, LogType="Tail")
    assert "FunctionError" not in r, out
    assert out["event"] == event
    assert out["functionName"] == "cjs" and out["functionVersion"] == "$LATEST"
    assert out["invokedFunctionArn"] == f"arn:aws:lambda:us-east-1:{acct}:function:cjs"
    assert str(out["memoryLimitInMB"]) == "128"
    assert re.fullmatch(UUID, out["awsRequestId"])
    assert out["logGroupName"] == "/aws/lambda/cjs"
    r1, r2 = out["remaining"]
    assert 2000 < r1 <= 3000 and r1 - r2 >= 40, out["remaining"]
    env = out["env"]
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_nodejs20.x"
    assert env["_HANDLER"] == "index.handler"
    assert env["LAMBDA_TASK_ROOT"] == out["cwd"]
    assert env["USER_VAR"] == "u"
    assert env["AWS_LAMBDA_LOG_STREAM_NAME"] == out["logStreamName"]
    text = tail(r)
    rid = out["awsRequestId"]
    assert re.search(rf"\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}Z\t{rid}\tINFO\tnode says ", text), text


@needs_node
def test_node_es_module_mjs(lam):
    code = "export const handler = async (event, context) => ({ esm: 'mjs', v: event.v, rid: context.awsRequestId });\n"
    create(lam, "mjs", {"index.mjs": code}, runtime="nodejs22.x")
    out, r = invoke(lam, "mjs", {"v": 7})
    assert "FunctionError" not in r, out
    assert out["esm"] == "mjs" and out["v"] == 7


@needs_node
def test_node_es_module_js_with_type_module(lam):
    files = {
        "package.json": json.dumps({"name": "fn", "type": "module"}),
        "src/app.js": "import { helper } from './lib.js';\n"
                      "export async function handler(event) { return { esm: 'js', h: helper(event.x) }; }\n",
        "src/lib.js": "export const helper = (x) => x * 2;\n",
    }
    create(lam, "esmjs", files, runtime="nodejs20.x", handler="src/app.handler")
    out, r = invoke(lam, "esmjs", {"x": 21})
    assert "FunctionError" not in r, out
    assert out == {"esm": "js", "h": 42}


@needs_node
def test_node_callback_style_and_module_exports(lam):
    code = """
const util = require('./util');
module.exports.handler = function (event, context, callback) {
  setTimeout(() => {
    if (event.fail) callback(new TypeError('callback failure'));
    else callback(null, { cb: true, twice: util.twice(event.n || 1) });
  }, 20);
};
"""
    files = {"index.js": code, "util.js": "module.exports = { twice: (n) => 2 * n };\n"}
    create(lam, "callback", files, runtime="nodejs20.x")
    out, r = invoke(lam, "callback", {"n": 4})
    assert "FunctionError" not in r, out
    assert out == {"cb": True, "twice": 8}
    out, r = invoke(lam, "callback", {"fail": True})
    assert r["FunctionError"] == "Unhandled"
    assert out["errorType"] == "TypeError" and out["errorMessage"] == "callback failure"
    assert isinstance(out["trace"], list) and out["trace"][0] == "TypeError: callback failure"


@needs_node
def test_node_thrown_error_shape(lam):
    code = "exports.handler = async function(event, context) {\n    throw Error(`Error: ${event.error_msg}`)\n};\n"
    create(lam, "nodeerr", {"index.js": code}, runtime="nodejs20.x")
    out, r = invoke(lam, "nodeerr", {"error_msg": "some_error_msg"})
    assert r["FunctionError"] == "Unhandled"
    # AWS (recorded): {"errorType": "Error", "errorMessage": "Error: some_error_msg", "trace": [...]}
    assert set(out) == {"errorType", "errorMessage", "trace"}
    assert out["errorType"] == "Error" and out["errorMessage"] == "Error: some_error_msg"
    assert out["trace"][0] == "Error: Error: some_error_msg"
    assert any("index.js" in line for line in out["trace"])
    # A custom error class keeps its name.
    code = "class Nope extends Error { constructor(m) { super(m); this.name = 'Nope'; } }\n" \
           "exports.handler = async () => { throw new Nope('custom'); };\n"
    create(lam, "nodeerr2", {"index.js": code}, runtime="nodejs20.x")
    out, r = invoke(lam, "nodeerr2")
    assert (out["errorType"], out["errorMessage"]) == ("Nope", "custom")


@needs_node
def test_node_missing_module_and_handler(lam):
    create(lam, "nomod", {"index.js": "exports.handler = async () => 1;\n"}, runtime="nodejs20.x",
           handler="missing.handler")
    out, r = invoke(lam, "nomod")
    assert r["FunctionError"] == "Unhandled"
    assert out["errorType"] == "Runtime.ImportModuleError"
    assert out["errorMessage"].startswith("Error: Cannot find module 'missing'")

    create(lam, "nohandler", {"index.js": "exports.other = async () => 1;\n"}, runtime="nodejs20.x")
    out, r = invoke(lam, "nohandler")
    assert r["FunctionError"] == "Unhandled"
    assert out["errorType"] == "Runtime.HandlerNotFound"
    assert out["errorMessage"] == "index.handler is undefined or not exported"


@needs_node
def test_node_missing_dependency_is_import_module_error(lam):
    """AWS: {"errorType": "Runtime.ImportModuleError", "errorMessage": "Error: Cannot find
    module 'left-pad-not-here'\nRequire stack:\n- /var/task/index.js\n- ...", ...}"""
    create(lam, "nodep", {"index.js": "require('left-pad-not-here');\nexports.handler = async () => 1;\n"},
           runtime="nodejs20.x")
    out, r = invoke(lam, "nodep")
    assert r["FunctionError"] == "Unhandled"
    assert out["errorType"] == "Runtime.ImportModuleError"
    assert out["errorMessage"].startswith("Error: Cannot find module 'left-pad-not-here'")


@needs_node
def test_node_syntax_error(lam):
    create(lam, "nodesyntax", {"index.js": "exports.handler = async () => {\n"}, runtime="nodejs20.x")
    out, r = invoke(lam, "nodesyntax")
    assert r["FunctionError"] == "Unhandled"
    assert out["errorType"] == "Runtime.UserCodeSyntaxError"
    assert out["errorMessage"].startswith("SyntaxError: ")


@needs_node
def test_node_process_exit_and_timeout(lam):
    code = """
exports.handler = async (event) => {
  if (event.exit !== undefined) process.exit(event.exit);
  if (event.sleep) await new Promise((r) => setTimeout(r, event.sleep));
  return process.pid;
};
"""
    create(lam, "nodeexit", {"index.js": code}, runtime="nodejs20.x", timeout=1)
    pid1, _ = invoke(lam, "nodeexit")
    out, r = invoke(lam, "nodeexit", {"exit": 2})
    assert out["errorType"] == "Runtime.ExitError"
    assert re.fullmatch(rf"RequestId: {UUID} Error: Runtime exited with error: exit status 2", out["errorMessage"])
    t0 = time.monotonic()
    out, r = invoke(lam, "nodeexit", {"sleep": 4000})
    assert 0.95 <= time.monotonic() - t0 < 2.5
    assert out["errorType"] == "Sandbox.Timedout"
    assert out["errorMessage"].endswith("Error: Task timed out after 1.00 seconds")
    pid2, r = invoke(lam, "nodeexit")
    assert "FunctionError" not in r and pid2 != pid1


RACE = ("bug: an environment goes back to the warm pool when its runtime posts a result, before it asks "
        "for the next event; if it exits in between, the invocation handed to it fails with Runtime.ExitError")


@needs_node
def test_node_unhandled_rejection(lam):
    code = """
let calls = 0;
exports.handler = async (event) => {
  calls++;
  if (event.float) {
    Promise.reject(new Error("floating"));
    await new Promise((r) => setTimeout(r, 200));
  }
  return calls;
};
"""
    create(lam, "rejects", {"index.js": code}, runtime="nodejs20.x")
    assert invoke(lam, "rejects")[0] == 1
    out, r = invoke(lam, "rejects", {"float": True})
    assert r["FunctionError"] == "Unhandled"
    assert out["errorType"] == "Runtime.UnhandledPromiseRejection"
    assert out["errorMessage"] == "Error: floating"
    # The runtime exited: the next invocation starts a new one. (Invoked at once, it can
    # race the exit: see test_invocation_is_not_handed_to_a_runtime_that_never_asked_for_it.)
    time.sleep(0.5)
    out, r = invoke(lam, "rejects")
    assert "FunctionError" not in r, out
    assert out == 1


@needs_node
def test_node_warm_state(lam):
    code = "let n = 0;\nexports.handler = async () => ++n;\n"
    create(lam, "nodewarm", {"index.js": code}, runtime="nodejs20.x")
    assert [invoke(lam, "nodewarm")[0] for _ in range(3)] == [1, 2, 3]


def test_missing_interpreter_is_a_clear_service_error(start_nephos):
    """nephos's own: a runtime whose interpreter cannot start names the flag to set."""
    from botocore.exceptions import ClientError
    server = start_nephos("--lambda-node", "/nonexistent/node")
    lam = server.client("lambda")
    create(lam, "nonode", {"index.js": "exports.handler = async () => 1;\n"}, runtime="nodejs20.x")
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName="nonode")
    assert e.value.response["Error"]["Code"] == "ServiceException"
    assert "--lambda-node" in e.value.response["Error"]["Message"]


# --- custom runtimes -------------------------------------------------------------------------

# AWS's custom runtime tutorial (bash: the tutorial's `source` and `pipefail` need it).
TUTORIAL_BOOTSTRAP = """#!/bin/bash
set -euo pipefail

# Initialization - load function handler
source $LAMBDA_TASK_ROOT/"$(echo $_HANDLER | cut -d. -f1).sh"

# Processing
while true
do
  HEADERS="$(mktemp)"
  # Get an event. The HTTP request will block until one is received
  EVENT_DATA=$(curl -sS -LD "$HEADERS" "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/next")

  # Extract request ID by scraping response headers received above
  REQUEST_ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)

  # Run the handler function from the script
  RESPONSE=$($(echo "$_HANDLER" | cut -d. -f2) "$EVENT_DATA")

  # Send the response
  curl -sS "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/$REQUEST_ID/response"  -d "$RESPONSE"
done
"""

TUTORIAL_FUNCTION = """function handler () {
  EVENT_DATA=$1
  echo "$EVENT_DATA" 1>&2;
  RESPONSE="Echoing request: '$EVENT_DATA'"

  echo $RESPONSE
}
"""


def test_custom_runtime_tutorial_bootstrap(lam):
    files = {"bootstrap": (TUTORIAL_BOOTSTRAP, 0o755), "function.sh": (TUTORIAL_FUNCTION, 0o755)}
    create(lam, "custom", files, runtime="provided.al2023", handler="function.handler")
    payload = '{"text":"Hello"}'
    out, r = invoke(lam, "custom", raw=payload, LogType="Tail")
    assert "FunctionError" not in r
    assert r["ExecutedVersion"] == "$LATEST"
    assert out == b"Echoing request: '{\"text\":\"Hello\"}'", out
    assert '{"text":"Hello"}' in tail(r)  # the handler's stderr is in the log
    # Warm: the same loop serves the next one.
    out, r = invoke(lam, "custom", raw='{"n":2}')
    assert out == b"Echoing request: '{\"n\":2}'"


ERROR_BOOTSTRAP = """#!/bin/bash
set -eu
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
if [ -n "${FAIL_INIT:-}" ]; then
  curl -sS -X POST "$API/init/error" -H "Lambda-Runtime-Function-Error-Type: Runtime.Custom" \\
    -d '{"errorMessage":"init went wrong","errorType":"Runtime.Custom"}'
  exit 1
fi
while true; do
  HEADERS="$(mktemp)"
  EVENT=$(curl -sS -LD "$HEADERS" "$API/invocation/next")
  ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  DEADLINE=$(grep -Fi Lambda-Runtime-Deadline-Ms "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  ARN=$(grep -Fi Lambda-Runtime-Invoked-Function-Arn "$HEADERS" | tr -d '[:space:]' | cut -d: -f2-)
  if [ "$EVENT" = '{"ok": true}' ]; then
    curl -sS "$API/invocation/$ID/response" -d "{\\"id\\":\\"$ID\\",\\"deadline\\":$DEADLINE,\\"arn\\":\\"$ARN\\"}"
  else
    curl -sS -X POST "$API/invocation/$ID/error" -H "Lambda-Runtime-Function-Error-Type: Unhandled" \\
      -d '{"errorMessage":"bad thing happened","errorType":"CustomError","stackTrace":["line 1"]}'
  fi
done
"""


def test_custom_runtime_error_and_headers(lam):
    acct = account_of(lam)
    create(lam, "customerr", {"bootstrap": (ERROR_BOOTSTRAP, 0o755)}, runtime="provided.al2023",
           handler="unused")
    before = int(time.time() * 1000)
    out, r = invoke(lam, "customerr", {"ok": True})
    assert "FunctionError" not in r, out
    assert re.fullmatch(UUID, out["id"])
    assert before + 2000 < out["deadline"] <= int(time.time() * 1000) + 3000
    assert out["arn"] == f"arn:aws:lambda:us-east-1:{acct}:function:customerr"
    out, r = invoke(lam, "customerr", {"ok": False})
    assert r["FunctionError"] == "Unhandled"
    assert out == {"errorMessage": "bad thing happened", "errorType": "CustomError", "stackTrace": ["line 1"]}
    # The runtime keeps serving after reporting an error.
    out, r = invoke(lam, "customerr", {"ok": True})
    assert "FunctionError" not in r


def test_custom_runtime_init_error(lam):
    create(lam, "custominit", {"bootstrap": (ERROR_BOOTSTRAP, 0o755)}, runtime="provided.al2023",
           handler="unused", Environment={"Variables": {"FAIL_INIT": "1"}})
    out, r = invoke(lam, "custominit", {"ok": True})
    assert r["FunctionError"] == "Unhandled"
    assert out == {"errorMessage": "init went wrong", "errorType": "Runtime.Custom"}


ONE_SHOT_BOOTSTRAP = """#!/bin/bash
set -eu
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
HEADERS="$(mktemp)"
EVENT=$(curl -sS -LD "$HEADERS" "$API/invocation/next")
ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
curl -sS "$API/invocation/$ID/response" -d '"one shot"'
sleep 0.5
exit 0
"""


def test_invocation_is_not_handed_to_a_runtime_that_never_asked_for_it(lam):
    """A runtime that answers one event and then exits (without calling /next again):
    AWS hands an invocation only to a runtime waiting in /next, so the second invoke runs
    in a new environment instead of failing."""
    create(lam, "oneshot", {"bootstrap": (ONE_SHOT_BOOTSTRAP, 0o755)}, runtime="provided.al2023", handler="x")
    out, r = invoke(lam, "oneshot")
    assert out == "one shot" and "FunctionError" not in r
    out, r = invoke(lam, "oneshot")
    assert "FunctionError" not in r, out
    assert out == "one shot"


def test_custom_runtime_bootstrap_exits(lam):
    create(lam, "customexit", {"bootstrap": ("#!/bin/sh\nexit 7\n", 0o755)}, runtime="provided.al2023",
           handler="x")
    out, r = invoke(lam, "customexit")
    assert r["FunctionError"] == "Unhandled"
    assert out["errorType"] == "Runtime.ExitError"
    assert re.fullmatch(rf"RequestId: {UUID} Error: Runtime exited with error: exit status 7", out["errorMessage"])


def test_custom_runtime_without_bootstrap(lam):
    """AWS: StatusCode 200, FunctionError Unhandled, {"errorMessage": "RequestId: <id>
    Error: Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]",
    "errorType": "Runtime.InvalidEntrypoint"}."""
    create(lam, "nobootstrap", {"readme.txt": "no bootstrap here"}, runtime="provided.al2023", handler="x")
    out, r = invoke(lam, "nobootstrap")
    assert r["StatusCode"] == 200 and r["FunctionError"] == "Unhandled"
    assert out["errorType"] == "Runtime.InvalidEntrypoint"
    assert re.fullmatch(rf"RequestId: {UUID} Error: Couldn't find valid bootstrap\(s\): \[.*\]", out["errorMessage"])


def test_custom_runtime_bootstrap_not_executable(lam):
    """AWS: {"errorMessage": "RequestId: <id> Error: fork/exec /var/task/bootstrap:
    permission denied", "errorType": "Runtime.InvalidEntrypoint"}."""
    create(lam, "noexec", {"bootstrap": ("#!/bin/sh\necho hi\n", 0o644)}, runtime="provided.al2023", handler="x")
    out, r = invoke(lam, "noexec")
    assert r["StatusCode"] == 200 and r["FunctionError"] == "Unhandled"
    assert out["errorType"] == "Runtime.InvalidEntrypoint"
    assert out["errorMessage"].endswith("permission denied")


# --- awslambdaric ----------------------------------------------------------------------------

has_ric = importlib.util.find_spec("awslambdaric") is not None


@pytest.mark.skipif(not has_ric, reason="awslambdaric not installed (tests/requirements.txt)")
def test_awslambdaric_runs_unchanged(lam):
    bootstrap = f"#!/bin/sh\nexec {shlex.quote(VENV_PYTHON)} -m awslambdaric $_HANDLER\n"
    app = """
import os

def handler(event, context):
    if event.get("fail"):
        raise ValueError("ric failure")
    return {
        "event": event,
        "rid": context.aws_request_id,
        "arn": context.invoked_function_arn,
        "remaining": context.get_remaining_time_in_millis(),
        "fn": context.function_name,
        "mem": context.memory_limit_in_mb,
    }
"""
    acct = account_of(lam)
    create(lam, "ric", {"bootstrap": (bootstrap, 0o755), "app.py": app}, runtime="provided.al2023",
           handler="app.handler", timeout=5)
    out, r = invoke(lam, "ric", {"hello": "ric"})
    assert "FunctionError" not in r, out
    assert out["event"] == {"hello": "ric"}
    assert re.fullmatch(UUID, out["rid"])
    assert out["arn"] == f"arn:aws:lambda:us-east-1:{acct}:function:ric"
    assert 3000 < out["remaining"] <= 5000
    assert out["fn"] == "ric" and out["mem"] == "128"
    out, r = invoke(lam, "ric", {"fail": True})
    assert r["FunctionError"] == "Unhandled"
    assert out["errorType"] == "ValueError" and out["errorMessage"] == "ric failure"
    assert out["requestId"] and isinstance(out["stackTrace"], list)
    # Warm again after the error.
    out, r = invoke(lam, "ric", {"again": 1})
    assert out["event"] == {"again": 1}


# The npm package's entry point, which scripts/test compiles once into the cache (its native
# part needs cmake and autotools; its 4.x needs Node.js 22, this is 3.3.0).
NODE_RIC = os.environ.get("NEPHOS_NODE_RIC")


@needs_node
@pytest.mark.skipif(not (NODE_RIC and os.path.exists(NODE_RIC)),
                    reason="aws-lambda-ric not installed (scripts/test installs it)")
def test_npm_aws_lambda_ric_runs_unchanged(lam):
    bootstrap = f"#!/bin/sh\nexec node {shlex.quote(NODE_RIC)} $_HANDLER\n"
    app = """
export const handler = async (event, context) => {
  console.log("ric says", JSON.stringify(event));
  if (event.fail) throw new TypeError("ric failure");
  return { event, rid: context.awsRequestId, fn: context.functionName,
           arn: context.invokedFunctionArn, remaining: context.getRemainingTimeInMillis() };
};
"""
    acct = account_of(lam)
    create(lam, "noderic", {"bootstrap": (bootstrap, 0o755), "index.mjs": app},
           runtime="provided.al2023", handler="index.handler", timeout=5)
    out, r = invoke(lam, "noderic", {"hello": "ric"}, LogType="Tail")
    assert "FunctionError" not in r, out
    assert out["event"] == {"hello": "ric"} and out["fn"] == "noderic"
    assert re.fullmatch(UUID, out["rid"])
    assert out["arn"] == f"arn:aws:lambda:us-east-1:{acct}:function:noderic"
    assert 3000 < out["remaining"] <= 5000
    assert re.search(r"\tINFO\tric says \{\"hello\":\"ric\"\}", tail(r)), tail(r)
    out, r = invoke(lam, "noderic", {"fail": True})
    assert r["FunctionError"] == "Unhandled"
    assert out["errorType"] == "TypeError" and out["errorMessage"] == "ric failure"
    out, _ = invoke(lam, "noderic", {"again": 1})
    assert out["event"] == {"again": 1}


# --- timings ---------------------------------------------------------------------------------


@needs_node
def test_node_cold_start_and_warm_latency(lam):
    create(lam, "nodetiming", {"index.js": "exports.handler = async () => 1;\n"}, runtime="nodejs20.x")
    t0 = time.perf_counter()
    invoke(lam, "nodetiming")
    cold = time.perf_counter() - t0
    warm = []
    for _ in range(200):
        t0 = time.perf_counter()
        invoke(lam, "nodetiming")
        warm.append(time.perf_counter() - t0)
    p50 = statistics.median(warm) * 1000
    print(f"\nnode cold start {cold * 1000:.1f} ms, warm p50 {p50:.2f} ms, p99 {sorted(warm)[197] * 1000:.2f} ms")
    assert cold < 10 and p50 < 200
