"""Helpers for Lambda end-to-end tests: deployment packages built in memory, functions
created and waited for (`function_active_v2`, as SDK users do), invocations decoded."""

import base64
import io
import json
import os
import pathlib
import subprocess
import sys
import time
import zipfile


def account_of(client):
    """The account a client acts as (nephos: its access key id)."""
    return client._request_signer._credentials.access_key


def role(client):
    """An execution role in the client's own account."""
    return f"arn:aws:iam::{account_of(client)}:role/lambda-role"

# The interpreter running the tests: it has boto3 (for functions that call AWS).
VENV_PYTHON = str(pathlib.Path(sys.executable))


def zip_bytes(files):
    """A zip of `{path: text | bytes | (text_or_bytes, unix_mode)}`."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for path, content in files.items():
            mode = 0o644
            if isinstance(content, tuple):
                content, mode = content
            info = zipfile.ZipInfo(path, date_time=(2024, 1, 1, 0, 0, 0))
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, content.encode() if isinstance(content, str) else content)
    return buf.getvalue()


def wait_active(lam, name, qualifier=None):
    kw = {"FunctionName": name}
    if qualifier:
        kw["Qualifier"] = qualifier
    lam.get_waiter("function_active_v2").wait(WaiterConfig={"Delay": 0.1, "MaxAttempts": 300}, **kw)


def wait_updated(lam, name):
    lam.get_waiter("function_updated_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 300}
    )


def create(lam, name, files, runtime="python3.12", handler="index.handler", timeout=3,
           wait=True, **kw):
    """Creates a function from `files` (see zip_bytes) and waits until it is Active."""
    r = lam.create_function(
        FunctionName=name,
        Runtime=runtime,
        Role=kw.pop("Role", None) or role(lam),
        Handler=handler,
        Code={"ZipFile": zip_bytes(files)},
        Timeout=timeout,
        **kw,
    )
    if wait:
        wait_active(lam, name)
    return r


def invoke(lam, name, event=None, raw=None, **kw):
    """Invokes synchronously; returns (decoded payload, response)."""
    body = raw if raw is not None else json.dumps({} if event is None else event)
    r = lam.invoke(FunctionName=name, Payload=body, **kw)
    data = r["Payload"].read()
    try:
        payload = json.loads(data) if data else None
    except ValueError:
        payload = data
    return payload, r


def tail(r):
    """The decoded `LogResult` of a `LogType=Tail` invocation."""
    return base64.b64decode(r["LogResult"]).decode()


def pids_matching(marker):
    """Pids of processes whose command line contains `marker` (not this test's own)."""
    out = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split() if int(p) != os.getpid()]


def wait_for(predicate, timeout=10.0, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = predicate()
        if v:
            return v
        time.sleep(interval)
    return predicate()


def node_available():
    try:
        return subprocess.run(["node", "--version"], capture_output=True).returncode == 0
    except OSError:
        return False
