"""External Lambda extensions: executables in a layer's `extensions/` directory start
before the runtime, register on the Extensions API, get INVOKE and SHUTDOWN events, and
fail the init when they crash or report an init error."""

import json
import time

from lambdautil import VENV_PYTHON, invoke, wait_updated, zip_bytes, wait_for

# An extension that logs every event to $EXT_DIR/events.log (one JSON object a line).
EXTENSION = """#!%(python)s
import json, os, sys, time, urllib.request
VERSION = "%(version)s"
name = os.path.basename(sys.argv[0])
base = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2020-01-01/extension"
out = os.environ["EXT_DIR"]
def log(rec):
    with open(os.path.join(out, "events.log"), "a") as f:
        f.write(json.dumps(rec) + "\\n")
req = urllib.request.Request(base + "/register", method="POST",
    data=json.dumps({"events": ["INVOKE", "SHUTDOWN"]}).encode(),
    headers={"Lambda-Extension-Name": name, "Lambda-Extension-Accept-Feature": "accountId"})
with urllib.request.urlopen(req) as r:
    ext_id = r.headers["Lambda-Extension-Identifier"]
    info = json.loads(r.read())
seen = {k: os.environ.get(k) for k in ("_HANDLER", "LAMBDA_TASK_ROOT", "AWS_LAMBDA_FUNCTION_NAME", "EXT_DIR")}
log({"registered": name, "version": VERSION, "id": ext_id, "info": info, "env": seen})
open(os.path.join(out, "registered"), "w").close()
if os.environ.get("EXT_MODE") == "init-error":
    req = urllib.request.Request(base + "/init/error", method="POST",
        data=json.dumps({"errorMessage": "no license key", "errorType": "Extension.NoLicense"}).encode(),
        headers={"Lambda-Extension-Identifier": ext_id, "Lambda-Extension-Function-Error-Type": "Extension.NoLicense"})
    with urllib.request.urlopen(req) as r:
        log({"init_error_status": r.status})
    sys.exit(1)
while True:
    req = urllib.request.Request(base + "/event/next", headers={"Lambda-Extension-Identifier": ext_id})
    with urllib.request.urlopen(req) as r:
        event = json.loads(r.read())
    log(event)
    if event["eventType"] == "SHUTDOWN":
        sys.exit(0)
    if os.environ.get("EXT_MODE") == "exit-error":
        req = urllib.request.Request(base + "/exit/error", method="POST", data=b"{}",
            headers={"Lambda-Extension-Identifier": ext_id, "Lambda-Extension-Function-Error-Type": "Extension.Gone"})
        with urllib.request.urlopen(req) as r:
            log({"exit_error_status": r.status})
        sys.exit(0)
    if os.environ.get("EXT_MODE") == "slow":
        time.sleep(1.5)
        log({"done": event["requestId"]})
"""

# The function: what it saw at init, and how the Extensions API treats strangers.
FUNCTION = """import json, os, time, urllib.request, urllib.error
REGISTERED_AT_INIT = os.path.exists(os.path.join(os.environ["EXT_DIR"], "registered"))
def call(ext_id):
    headers = {} if ext_id is None else {"Lambda-Extension-Identifier": ext_id}
    url = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2020-01-01/extension/event/next"
    try:
        urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5)
        return None
    except urllib.error.HTTPError as e:
        return [e.code, json.loads(e.read())["errorType"]]
def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return {
        "registered_at_init": REGISTERED_AT_INIT,
        "request_id": context.aws_request_id,
        "unknown": call("00000000-0000-4000-8000-000000000000") if event.get("probe") else None,
        "missing": call(None) if event.get("probe") else None,
    }
"""


def events(d):
    p = d / "events.log"
    if not p.exists():
        return []
    return [json.loads(line) for line in p.read_text().splitlines() if line.strip()]


def layer(lam, name, files):
    return lam.publish_layer_version(LayerName=name, Content={"ZipFile": zip_bytes(files)})[
        "LayerVersionArn"
    ]


def extension(version="v1"):
    return (EXTENSION % {"python": VENV_PYTHON, "version": version}, 0o755)


def make(lam, account, name, layers, tmp, mode="", timeout=5):
    lam.create_function(
        FunctionName=name, Runtime="python3.12", Role=f"arn:aws:iam::{account}:role/ext",
        Handler="index.handler", Timeout=timeout, Layers=layers,
        Code={"ZipFile": zip_bytes({"index.py": FUNCTION})},
        Environment={"Variables": {"EXT_DIR": str(tmp), "EXT_MODE": mode}},
    )
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.1})


def test_extension_registers_before_the_runtime_and_gets_invoke_and_shutdown(nephos, tmp_path):
    account = "441800000001"
    lam = nephos.client("lambda", account=account)
    # A later layer's extension replaces an earlier one's of the same file name.
    old = layer(lam, "ext-old", {"extensions/recorder": extension("old")})
    new = layer(lam, "ext-new", {"extensions/recorder": extension("new")})
    make(lam, account, "watched", [old, new], tmp_path)

    first, r1 = invoke(lam, "watched", {"probe": True})
    assert "FunctionError" not in r1, first
    # The extension had registered before the function's init code ran.
    assert first["registered_at_init"] is True
    # The Extensions API refuses identifiers it did not hand out.
    assert first["unknown"] == [403, "Extension.UnknownExtensionIdentifier"]
    assert first["missing"] == [403, "Extension.MissingExtensionIdentifier"]
    # Once the extension is done with the first invocation, the environment is reused.
    assert wait_for(lambda: [e for e in events(tmp_path) if e.get("eventType") == "INVOKE"])
    time.sleep(0.3)
    second, _ = invoke(lam, "watched")

    assert wait_for(lambda: len([e for e in events(tmp_path) if e.get("eventType") == "INVOKE"]) == 2)
    log = events(tmp_path)
    regs = [e for e in log if "registered" in e]
    assert len(regs) == 1, log
    reg = regs[0]
    assert reg["registered"] == "recorder" and reg["version"] == "new"
    assert reg["info"] == {
        "functionName": "watched", "functionVersion": "$LATEST",
        "handler": "index.handler", "accountId": account,
    }
    # The function's variables reach extensions; the runtime-only ones do not.
    assert reg["env"]["EXT_DIR"] == str(tmp_path)
    assert reg["env"]["AWS_LAMBDA_FUNCTION_NAME"] == "watched"
    assert reg["env"]["_HANDLER"] is None and reg["env"]["LAMBDA_TASK_ROOT"] is None
    invokes = [e for e in log if e.get("eventType") == "INVOKE"]
    assert [e["requestId"] for e in invokes] == [first["request_id"], second["request_id"]]
    arn = f"arn:aws:lambda:us-east-1:{account}:function:watched"
    for e in invokes:
        assert e["invokedFunctionArn"] == arn
        assert e["tracing"]["type"] == "X-Amzn-Trace-Id" and e["tracing"]["value"].startswith("Root=1-")
        assert e["deadlineMs"] > time.time() * 1000 - 60_000

    # A configuration change retires the environment: its extension hears SHUTDOWN.
    time.sleep(0.3)
    lam.update_function_configuration(
        FunctionName="watched",
        Environment={"Variables": {"EXT_DIR": str(tmp_path), "EXT_MODE": "", "CHANGED": "1"}},
    )
    wait_updated(lam, "watched")
    shutdown = wait_for(lambda: [e for e in events(tmp_path) if e.get("eventType") == "SHUTDOWN"])
    assert shutdown, events(tmp_path)
    assert shutdown[0]["shutdownReason"] == "spindown"
    assert shutdown[0]["deadlineMs"] > time.time() * 1000 - 10_000


def test_environment_is_reused_only_after_extensions_finish(nephos, tmp_path):
    account = "441800000002"
    lam = nephos.client("lambda", account=account)
    ext = layer(lam, "slow", {"extensions/slow-ext": extension()})
    make(lam, account, "slow", [ext], tmp_path, mode="slow")

    started = time.monotonic()
    a, _ = invoke(lam, "slow")
    # The caller has its answer before the extension is done with the invocation.
    assert time.monotonic() - started < 5
    assert not [e for e in events(tmp_path) if e.get("done") == a["request_id"]]
    # Meanwhile the environment is busy: the next invocation gets a new one.
    b, _ = invoke(lam, "slow")
    assert len([e for e in events(tmp_path) if "registered" in e]) == 2
    assert wait_for(lambda: len([e for e in events(tmp_path) if "done" in e]) == 2, timeout=10)
    time.sleep(0.2)
    # Once the extensions are done, an environment is reused: no third registration.
    c, _ = invoke(lam, "slow")
    assert len([e for e in events(tmp_path) if "registered" in e]) == 2
    invoked = [e["requestId"] for e in events(tmp_path) if e.get("eventType") == "INVOKE"]
    assert sorted(invoked) == sorted([a["request_id"], b["request_id"], c["request_id"]])


def test_extension_that_exits_before_registering_fails_the_init(nephos, tmp_path):
    account = "441800000003"
    lam = nephos.client("lambda", account=account)
    ext = layer(lam, "crash", {"extensions/crasher": ("#!/bin/sh\nexit 3\n", 0o755)})
    make(lam, account, "crashy", [ext], tmp_path)
    started = time.monotonic()
    payload, r = invoke(lam, "crashy")
    assert time.monotonic() - started < 8
    assert r["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "Extension.Crash"
    assert "exit status 3" in payload["errorMessage"]
    assert r["ResponseMetadata"]["RequestId"] in payload["errorMessage"]


def test_extension_init_error_fails_the_invocation(nephos, tmp_path):
    account = "441800000004"
    lam = nephos.client("lambda", account=account)
    ext = layer(lam, "bad", {"extensions/unlicensed": extension()})
    make(lam, account, "unlicensed", [ext], tmp_path, mode="init-error")
    payload, r = invoke(lam, "unlicensed")
    assert r["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "Extension.NoLicense"
    assert "no license key" in payload["errorMessage"]
    assert {"init_error_status": 202} in events(tmp_path)
    # The runtime never started: the function's init code did not run.
    assert not [e for e in events(tmp_path) if e.get("eventType") == "INVOKE"]


def test_extensions_hear_shutdown_when_nephos_stops(start_nephos, tmp_path):
    server = start_nephos()
    account = "441800000005"
    lam = server.client("lambda", account=account)
    ext = layer(lam, "stop", {"extensions/stopper": extension()})
    make(lam, account, "stopped", [ext], tmp_path)
    _, r = invoke(lam, "stopped")
    assert "FunctionError" not in r
    assert wait_for(lambda: [e for e in events(tmp_path) if e.get("eventType") == "INVOKE"])
    time.sleep(0.3)
    server.stop()
    shutdown = [e for e in events(tmp_path) if e.get("eventType") == "SHUTDOWN"]
    assert [e["shutdownReason"] for e in shutdown] == ["spindown"], events(tmp_path)


def test_extensions_hear_why_a_timed_out_environment_ends(nephos, tmp_path):
    account = "441800000006"
    lam = nephos.client("lambda", account=account)
    ext = layer(lam, "timeouts", {"extensions/watchdog": extension()})
    make(lam, account, "sleepy", [ext], tmp_path, timeout=1)
    payload, r = invoke(lam, "sleepy", {"sleep": 5})
    assert r["FunctionError"] == "Unhandled" and "timed out" in payload["errorMessage"]
    shutdown = wait_for(lambda: [e for e in events(tmp_path) if e.get("eventType") == "SHUTDOWN"])
    assert [e["shutdownReason"] for e in shutdown] == ["timeout"], events(tmp_path)


def test_extension_that_never_registers_fails_the_init_at_the_limit(nephos, tmp_path):
    """AWS gives the whole init (extensions included) 10 seconds."""
    account = "441800000007"
    lam = nephos.client("lambda", account=account)
    ext = layer(lam, "mute", {"extensions/mute": ("#!/bin/sh\nexec sleep 60\n", 0o755)})
    make(lam, account, "muted", [ext], tmp_path)
    started = time.monotonic()
    payload, r = invoke(lam, "muted")
    assert 9 < time.monotonic() - started < 20
    assert r["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "Extension.InitError"
    assert "mute" in payload["errorMessage"]
    # The extension's process group went with the environment.
    from lambdautil import pids_matching
    assert wait_for(lambda: not pids_matching("exec sleep 60") and not pids_matching("extensions/mute"))


def test_extension_that_leaves_after_init_retires_its_environment(nephos, tmp_path):
    account = "441800000008"
    lam = nephos.client("lambda", account=account)
    ext = layer(lam, "leaver", {"extensions/leaver": extension()})
    make(lam, account, "left", [ext], tmp_path, mode="exit-error")
    a, r = invoke(lam, "left")
    assert "FunctionError" not in r
    assert wait_for(lambda: {"exit_error_status": 202} in events(tmp_path))
    time.sleep(0.3)
    # The environment lost an extension: the next invocation gets a fresh one.
    b, r = invoke(lam, "left")
    assert "FunctionError" not in r
    assert len([e for e in events(tmp_path) if "registered" in e]) == 2
