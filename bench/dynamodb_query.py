#!/usr/bin/env python3
"""DynamoDB at scale: a Query returning 1,000 items from a 100,000-item partition
(server-side latency via boto3 round trips), RSS per ~200-byte item, and restart time
with --data-dir.

Usage: NEPHOS_BIN=... python3 bench/dynamodb_query.py [--items 100000] [--memory-items 1000000]
Targets: nephos always; moto with --moto (slow: use --items 10000).
"""

import argparse
import os
import pathlib
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import boto3
from botocore.config import Config

ROOT = pathlib.Path(__file__).resolve().parent.parent


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid):
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def start(argv, port):
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < 60:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, time.perf_counter() - t0
        except OSError:
            time.sleep(0.002)
    raise RuntimeError("server did not start")


def client(port):
    return boto3.client("dynamodb", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                        aws_access_key_id="123456789012", aws_secret_access_key="x",
                        config=Config(retries={"max_attempts": 0}, max_pool_connections=16))


def create(c):
    c.create_table(TableName="q", BillingMode="PAY_PER_REQUEST",
                   KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                   AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                         {"AttributeName": "sk", "AttributeType": "N"}])


def item(pk, i):
    # ~200 bytes as DynamoDB counts them.
    return {"pk": {"S": pk}, "sk": {"N": str(i)}, "name": {"S": f"user number {i:08d}"},
            "email": {"S": f"user{i:08d}@example.com"}, "age": {"N": str(i % 100)},
            "bio": {"S": "x" * 110}}


def load(c, pk, n, offset=0):
    from concurrent.futures import ThreadPoolExecutor
    batches = [[{"PutRequest": {"Item": item(pk, i)}} for i in range(s, min(s + 25, n))] for s in range(0, n, 25)]
    with ThreadPoolExecutor(8) as ex:
        list(ex.map(lambda b: c.batch_write_item(RequestItems={"q": b}), batches))


def query_ms(port, n):
    """Median wall time of the raw HTTP round trip (no SDK parsing on the client)."""
    import http.client
    import json
    lo = n // 2
    body = json.dumps({"TableName": "q", "KeyConditionExpression": "pk = :p AND sk >= :lo", "Limit": 1000,
                       "ExpressionAttributeValues": {":p": {"S": "p"}, ":lo": {"N": str(lo)}}})
    headers = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "DynamoDB_20120810.Query",
               "Authorization": "AWS4-HMAC-SHA256 Credential=123456789012/20240101/us-east-1/dynamodb/aws4_request, "
                                "SignedHeaders=host, Signature=00"}
    conn = http.client.HTTPConnection("127.0.0.1", port)
    times = []
    for _ in range(30):
        t0 = time.perf_counter()
        conn.request("POST", "/", body, headers)
        data = conn.getresponse().read()
        times.append((time.perf_counter() - t0) * 1000)
        assert json.loads(data)["Count"] == min(1000, n - lo)
    times.sort()
    return times[len(times) // 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=100_000)
    ap.add_argument("--memory-items", type=int, default=0)
    ap.add_argument("--moto", action="store_true")
    args = ap.parse_args()
    nephos = os.environ.get("NEPHOS_BIN") or str(ROOT / "target" / "release" / "nephos")
    targets = [("nephos", lambda p, d=None: [nephos, "--port", str(p), "--quiet"] + (["--data-dir", d] if d else []))]
    if args.moto:
        moto = shutil.which("moto_server") or str(pathlib.Path(sys.executable).parent / "moto_server")
        targets.append(("moto", lambda p, d=None: [moto, "-p", str(p)]))
    for name, argv in targets:
        port = free_port()
        proc, _ = start(argv(port), port)
        c = client(port)
        create(c)
        load(c, "p", args.items)
        print(f"{name}: Query 1,000 of {args.items:,} items in one partition: {query_ms(port, args.items):.2f} ms (median HTTP round trip)")
        proc.terminate()
        proc.wait()
    if args.memory_items:
        d = tempfile.mkdtemp()
        port = free_port()
        proc, _ = start(targets[0][1](port, d), port)
        c = client(port)
        create(c)
        base = rss_kib(proc.pid)
        n = args.memory_items
        per = 1000
        for s in range(0, n, per * 25):
            pass
        from concurrent.futures import ThreadPoolExecutor
        def part(k):
            load(c, f"m{k}", per)
        with ThreadPoolExecutor(2) as ex:
            list(ex.map(part, range(n // per)))
        rss = rss_kib(proc.pid)
        print(f"nephos: {n:,} items: RSS {rss / 1024:.0f} MiB, {(rss - base) * 1024 / n:.0f} bytes/item")
        proc.kill()
        proc.wait()
        port = free_port()
        t0 = time.perf_counter()
        proc = subprocess.Popen(targets[0][1](port, d), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        for line in proc.stdout:
            if "ready on" in line:
                break
        print(f"nephos: restart with {n:,} items ready in {time.perf_counter() - t0:.2f} s")
        proc.terminate()
        proc.wait()
        shutil.rmtree(d)


if __name__ == "__main__":
    main()
