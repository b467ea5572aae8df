"""S3 bodies stream: a 2 GiB upload and download keep nephos's RSS growth under 64 MiB."""

import hashlib
import os
import threading
import time

import requests

from conftest import new_account
from s3util import auth_header, bucket_name

SIZE = 2 * 1024 * 1024 * 1024
BLOCK = 1024 * 1024


class Generated:
    """A file-like body of SIZE bytes made on the fly (requests sends it with a length)."""

    def __init__(self):
        self.sent = 0
        self.block = bytes(range(256)) * (BLOCK // 256)
        self.md5 = hashlib.md5()

    def __len__(self):
        return SIZE - self.sent

    def read(self, n=-1):
        if self.sent >= SIZE:
            return b""
        n = BLOCK if n is None or n < 0 else n
        off = self.sent % BLOCK
        chunk = self.block[off:off + min(n, BLOCK - off, SIZE - self.sent)]
        self.sent += len(chunk)
        self.md5.update(chunk)
        return chunk


def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def test_two_gib_up_and_down_in_bounded_memory(start_nephos):
    server = start_nephos("--quiet")
    account = new_account()
    b = bucket_name(account, "big")
    s3 = server.client("s3", account=account)
    s3.create_bucket(Bucket=b)
    s3.put_object(Bucket=b, Key="warm", Body=b"x" * 100_000)
    s3.get_object(Bucket=b, Key="warm")["Body"].read()
    pid = server.proc.pid
    base = rss_kib(pid)
    peak = [base]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], rss_kib(pid))
            time.sleep(0.05)

    t = threading.Thread(target=sample)
    t.start()
    try:
        body = Generated()
        headers = {"Authorization": auth_header(account), "Content-Length": str(SIZE)}
        r = requests.put(f"{server.endpoint}/{b}/huge", data=body, headers=headers, timeout=600)
        assert r.status_code == 200, r.text
        assert r.headers["ETag"] == '"%s"' % body.md5.hexdigest()
        got = requests.get(f"{server.endpoint}/{b}/huge", headers={"Authorization": auth_header(account)}, stream=True, timeout=600)
        assert got.headers["Content-Length"] == str(SIZE)
        md5 = hashlib.md5()
        n = 0
        for chunk in got.iter_content(BLOCK):
            md5.update(chunk)
            n += len(chunk)
        assert n == SIZE and md5.hexdigest() == body.md5.hexdigest()
    finally:
        done.set()
        t.join()
    growth_mib = (peak[0] - base) / 1024
    assert growth_mib < 64, f"RSS grew by {growth_mib:.1f} MiB"


def test_overwrites_and_deletes_release_their_files(start_nephos):
    """Every stored body closes its file: overwritten and deleted objects hold neither
    a descriptor nor (deleted-but-open) disk space."""
    server = start_nephos("--quiet")
    account = new_account()
    b = bucket_name(account, "churn")
    s3 = server.client("s3", account=account)
    s3.create_bucket(Bucket=b)
    fds = lambda: len(os.listdir(f"/proc/{server.proc.pid}/fd"))  # noqa: E731
    body = b"z" * (64 * 1024)  # past the inline limit: kept in a file
    s3.put_object(Bucket=b, Key="warm", Body=body)
    before = fds()
    for i in range(200):
        s3.put_object(Bucket=b, Key="same", Body=body)
        s3.put_object(Bucket=b, Key=f"k{i}", Body=body)
        s3.delete_object(Bucket=b, Key=f"k{i}")
    assert fds() - before < 20
    deleted_but_open = [
        os.readlink(f"/proc/{server.proc.pid}/fd/{fd}")
        for fd in os.listdir(f"/proc/{server.proc.pid}/fd")
    ]
    assert not [p for p in deleted_but_open if p.endswith("(deleted)")]
    assert s3.get_object(Bucket=b, Key="same")["Body"].read() == body
