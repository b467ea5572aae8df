"""What an execution environment sees of the machine, as on AWS: its own `/tmp` of the
function's ephemeral storage size (not the host's, not another environment's, kept across
warm invocations), a read-only task root, and REPORT's Max Memory Used counting every
process of the environment, not only the runtime."""

import os
import re
import uuid

import pytest

from conftest import Nephos
from lambdautil import VENV_PYTHON, create, invoke, tail


@pytest.fixture(scope="module")
def server():
    s = Nephos("--lambda-python", VENV_PYTHON)
    yield s
    s.stop()


@pytest.fixture
def lam(server):
    return server.client("lambda")


PROBE = """
import os, shutil

def handler(event, context):
    if event.get("write"):
        with open("/tmp/" + event["write"], "w") as f:
            f.write(event["write"])
    try:
        with open(os.path.join(os.environ["LAMBDA_TASK_ROOT"], "written"), "w") as f:
            f.write("x")
        task_root = "writable"
    except OSError as e:
        task_root = e.strerror
    return {
        "tmp_mb": shutil.disk_usage("/tmp").total // (1024 * 1024),
        "tmp": sorted(n for n in os.listdir("/tmp") if not n.startswith("nephos-")),
        "tmpdir": os.environ.get("TMPDIR"),
        "task_root": task_root,
    }
"""


def test_tmp_is_the_environments_own_and_sized_by_ephemeral_storage(lam):
    marker = f"sandbox-{uuid.uuid4().hex}"
    create(lam, "probe", {"index.py": PROBE}, EphemeralStorage={"Size": 700})
    first, r = invoke(lam, "probe", {"write": marker})
    assert "FunctionError" not in r, first
    assert first["tmp_mb"] == 700
    assert first["tmp"] == [marker]
    # AWS sets no TMPDIR: /tmp itself is the function's.
    assert first["tmpdir"] is None
    assert not os.path.exists("/tmp/" + marker), "the function wrote to the host's /tmp"
    # A warm environment keeps its /tmp between invocations.
    again, _ = invoke(lam, "probe", {})
    assert again["tmp"] == [marker]
    # Another function's environment does not see it.
    create(lam, "other", {"index.py": PROBE})
    other, _ = invoke(lam, "other", {})
    assert other["tmp"] == []
    assert other["tmp_mb"] == 512


def test_task_root_is_read_only(lam):
    create(lam, "ro", {"index.py": PROBE})
    out, _ = invoke(lam, "ro", {})
    assert out["task_root"] == "Read-only file system"


FILL = """
import errno

def handler(event, context):
    written = 0
    chunk = b"\\0" * (1024 * 1024)
    try:
        with open("/tmp/fill", "wb") as f:
            for _ in range(event["mb"]):
                f.write(chunk)
                written += 1
            f.flush()
    except OSError as e:
        return {"written": written, "error": errno.errorcode[e.errno]}
    finally:
        import os
        if os.path.exists("/tmp/fill"):
            os.remove("/tmp/fill")
    return {"written": written, "error": None}
"""


def test_writing_past_ephemeral_storage_fails_with_no_space(lam):
    create(lam, "fill", {"index.py": FILL}, timeout=30)
    out, r = invoke(lam, "fill", {"mb": 520})
    assert "FunctionError" not in r, out
    assert out["error"] == "ENOSPC"
    # (buffered: the last chunk may fail only when flushed)
    assert 500 <= out["written"] <= 512
    # Within the limit it succeeds.
    out, _ = invoke(lam, "fill", {"mb": 100})
    assert out == {"written": 100, "error": None}


CHILD = """
import subprocess, sys

def handler(event, context):
    # A helper process that holds memory past the invocation (in the environment's
    # process group, as anything a function starts is).
    child = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; b = bytearray(200 * 1024 * 1024); b[::4096] = b'x' * len(b[::4096]);"
         " print('ready', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE,
    )
    child.stdout.readline()
    return {"child": child.pid}
"""


def test_max_memory_used_counts_every_process_of_the_environment(lam):
    create(lam, "child", {"index.py": CHILD}, MemorySize=1024, timeout=20)
    _, r = invoke(lam, "child", {}, LogType="Tail")
    report = re.search(r"Max Memory Used: (\d+) MB", tail(r))
    assert report, tail(r)
    # The runtime alone is ~15 MB; the child holds 200 MB.
    assert int(report.group(1)) >= 200


PEEK = """
import os

def handler(event, context):
    seen = []
    for root, dirs, files in os.walk(event["data"]):
        seen.extend(os.path.join(root, f) for f in files)
    return {"seen": seen, "task_root": os.environ["LAMBDA_TASK_ROOT"]}
"""


def test_nephos_data_directory_is_hidden_but_for_the_functions_own_code(start_nephos, tmp_path):
    data = tmp_path / "data"
    server = start_nephos("--data-dir", str(data), "--lambda-python", VENV_PYTHON)
    lam = server.client("lambda")
    create(lam, "secret", {"index.py": "TOKEN = 'hunter2'\ndef handler(e, c):\n    return 1\n"})
    create(lam, "peek", {"index.py": PEEK})
    host_files = [p for p in data.rglob("*") if p.is_file()]
    assert any(p.name == "index.py" for p in host_files) and len(host_files) > 2
    out, r = invoke(lam, "peek", {"data": str(data)})
    assert "FunctionError" not in r, out
    # Only its own package: not nephos's state, not the other function's code.
    assert out["seen"] and all(p.startswith(out["task_root"] + "/") for p in out["seen"]), out
    # (nephos marks a finished unpacking with a dot file in the package's directory)
    names = [os.path.basename(p) for p in out["seen"]]
    assert [n for n in names if not n.startswith(".nephos")] == ["index.py"]
