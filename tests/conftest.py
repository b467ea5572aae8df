"""Shared fixtures: the built nephos binary on a free port, and clients pointed at it.

Every test talks to a real `nephos` process over HTTP with real clients (boto3, the AWS
CLI). Tests isolate themselves by account: each gets a fresh 12-digit access key id, which
nephos maps to its own account, so tests never see each other's state.
"""

import collections
import itertools
import json
import os
import pathlib
import random
import re
import shutil
import subprocess
import sys
import time
import urllib.request

import boto3
import pytest
from botocore.config import Config

ROOT = pathlib.Path(__file__).resolve().parent.parent

# Lambda functions run with a /tmp of their own (as on AWS), so files a test shares with
# its functions (attempt counters, markers) must live elsewhere: pytest's tmp_path follows
# tempfile's directory.
if os.path.isdir("/var/tmp") and os.access("/var/tmp", os.W_OK):
    import tempfile

    tempfile.tempdir = "/var/tmp"


def nephos_binary():
    explicit = os.environ.get("NEPHOS_BIN")
    if explicit:
        return explicit
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    for profile in ("release", "debug"):
        candidate = target / profile / "nephos"
        if candidate.exists():
            return str(candidate)
    pytest.exit("no nephos binary: run `cargo build --release` or set NEPHOS_BIN", 2)


class Nephos:
    """A running nephos process."""

    def __init__(self, *args, env=None):
        self.args = list(args)
        self.env = env
        self.proc = None
        self.endpoint = None
        self.start()

    def start(self):
        cmd = [nephos_binary(), "--host", "127.0.0.1", "--port", "0", *self.args]
        env = dict(os.environ, **(self.env or {}))
        env.pop("NEPHOS_PORT", None)
        # Lambda functions run on the test interpreter, whose environment has boto3 (as
        # AWS's Python runtimes ship it).
        env.setdefault("NEPHOS_LAMBDA_PYTHON", sys.executable)
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        deadline = time.monotonic() + 20
        line = ""
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            m = re.search(r"ready on (http://\S+)", line)
            if m:
                self.endpoint = m.group(1)
                break
            if self.proc.poll() is not None:
                raise RuntimeError(f"nephos exited: {self.proc.stderr.read()}")
        else:
            raise RuntimeError(f"nephos did not start: {line!r}")
        # Keep draining output so a chatty server never blocks on a full pipe.
        # The newest lines it printed, for tests that read its log.
        self.output = collections.deque(maxlen=20000)
        self._drain = [
            _drain_in_background(self.proc.stdout, self.output),
            _drain_in_background(self.proc.stderr, self.output),
        ]

    @property
    def port(self):
        return int(self.endpoint.rsplit(":", 1)[1])

    def stop(self, sig=None):
        if self.proc and self.proc.poll() is None:
            if sig is None:
                self.proc.terminate()
            else:
                self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def client(self, service, account=None, region="us-east-1", **kwargs):
        key = account or new_account()
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=region,
            aws_access_key_id=key,
            aws_secret_access_key="test",
            config=Config(retries={"max_attempts": 0}, **kwargs.pop("config_args", {})),
            **kwargs,
        )

    def internal(self, path, body=None, method=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.endpoint + path, data=data, method=method or ("POST" if data else "GET")
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    def aws(self, *args, account=None, check=True, region="us-east-1"):
        """Runs the AWS CLI against this nephos; returns parsed JSON output (or text)."""
        env = dict(
            os.environ,
            AWS_ACCESS_KEY_ID=account or new_account(),
            AWS_SECRET_ACCESS_KEY="test",
            AWS_DEFAULT_REGION=region,
            AWS_CONFIG_FILE="/dev/null",
            AWS_SHARED_CREDENTIALS_FILE="/dev/null",
        )
        aws = shutil.which("aws", path=str(pathlib.Path(sys.executable).parent)) or "aws"
        out = subprocess.run(
            [aws, "--endpoint-url", self.endpoint, "--output", "json", *args],
            capture_output=True, text=True, env=env, timeout=60,
        )
        if check and out.returncode != 0:
            raise AssertionError(f"aws {' '.join(args)} failed: {out.stderr}")
        if not check:
            return out
        return json.loads(out.stdout) if out.stdout.strip() else None


def _drain_in_background(stream, lines):
    import threading

    t = threading.Thread(target=lambda: [lines.append(line) for line in stream], daemon=True)
    t.start()
    return t


_accounts = itertools.count(random.randrange(10**11, 9 * 10**11, 10**6))


def new_account():
    """A fresh 12-digit access key id: nephos gives it its own account."""
    return f"{next(_accounts):012d}"


@pytest.fixture(scope="session")
def nephos():
    server = Nephos()
    yield server
    server.stop()


@pytest.fixture
def account():
    return new_account()


@pytest.fixture
def start_nephos():
    """Starts extra nephos processes with their own flags; stops them after the test."""
    started = []

    def start(*args, env=None):
        server = Nephos(*args, env=env)
        started.append(server)
        return server

    yield start
    for s in started:
        s.stop()


@pytest.fixture
def s3b(nephos, account):
    """An S3 client of the test's own account and a bucket of its own."""
    from s3util import bucket_name  # tests/e2e is on the path once its tests are collected

    s3 = nephos.client("s3", account=account)
    name = bucket_name(account)
    s3.create_bucket(Bucket=name)
    return s3, name
