#!/usr/bin/env python3
"""Instructions per request on nephos's hot path, counted by callgrind.

Counts repeat exactly on a busy machine, unlike requests/s. nephos runs under
`valgrind --tool=callgrind` twice per operation, serving N and then 5N identical requests
over one keep-alive connection (default settings: the request log on); the difference
divided by 4N is the cost of one request, start-up and set-up cancelled out.

Usage: python3 bench/callgrind.py [--bin PATH ...] [--n 200] [--ops GetItem,PutItem,...]
Needs valgrind (Debian package).
"""

import argparse
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

AUTH = ("AWS4-HMAC-SHA256 Credential=000000000001/20250101/us-east-1/{svc}/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64)


def json_call(svc, target, body):
    return ("POST", "/", json.dumps(body).encode(), {
        "Content-Type": "application/x-amz-json-1.0" if svc == "dynamodb" else "application/x-amz-json-1.0",
        "X-Amz-Target": target, "X-Amz-Date": "20250101T000000Z", "Authorization": AUTH.format(svc=svc)})


def rest_call(method, path, body=b""):
    return (method, path, body, {"X-Amz-Date": "20250101T000000Z", "Authorization": AUTH.format(svc="s3"),
                                 "x-amz-content-sha256": "UNSIGNED-PAYLOAD"})


TABLE = {"TableName": "cg", "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
         "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
         "BillingMode": "PAY_PER_REQUEST"}
ITEM = {"pk": {"S": "key-1"}, "name": {"S": "x" * 100}, "n": {"N": "42"}}
QUEUE_URL = "http://127.0.0.1/000000000001/cg"

# op -> (set-up calls, the measured call)
OPS = {
    "GetItem": ([json_call("dynamodb", "DynamoDB_20120810.CreateTable", TABLE),
                 json_call("dynamodb", "DynamoDB_20120810.PutItem", {"TableName": "cg", "Item": ITEM})],
                json_call("dynamodb", "DynamoDB_20120810.GetItem", {"TableName": "cg", "Key": {"pk": {"S": "key-1"}}})),
    "PutItem": ([json_call("dynamodb", "DynamoDB_20120810.CreateTable", TABLE)],
                json_call("dynamodb", "DynamoDB_20120810.PutItem", {"TableName": "cg", "Item": ITEM})),
    "SendMessage": ([json_call("sqs", "AmazonSQS.CreateQueue", {"QueueName": "cg"})],
                    json_call("sqs", "AmazonSQS.SendMessage", {"QueueUrl": QUEUE_URL, "MessageBody": "m" * 1024})),
    "GetObject": ([rest_call("PUT", "/cgb"), rest_call("PUT", "/cgb/k", b"o" * 1024)],
                  rest_call("GET", "/cgb/k")),
    "PutObject": ([rest_call("PUT", "/cgb")], rest_call("PUT", "/cgb/k", b"o" * 1024)),
}


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def instructions(binary, op, n):
    setup, call = OPS[op]
    port = free_port()
    out = tempfile.mktemp(prefix="callgrind.")
    proc = subprocess.Popen(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", binary,
         "--port", str(port), "--worker-threads", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                conn.request("GET", "/_nephos/health")
                conn.getresponse().read()
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.2)
        for method, path, body, headers in setup + [call] * n:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            resp.read()
            if resp.status >= 300:
                sys.exit(f"{op}: {method} {path} answered {resp.status}")
        conn.close()
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    with open(out) as f:
        text = f.read()
    os.unlink(out)
    return int(re.search(r"^(?:summary|totals): (\d+)", text, re.M).group(1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", action="append", help="nephos binaries to compare")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--ops", default=",".join(OPS))
    args = ap.parse_args()
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(os.path.dirname(__file__), "..", "target"))
    bins = args.bin or [os.path.join(target, "release", "nephos")]
    print("| op | " + " | ".join(bins) + " |")
    print("|---|" + "---:|" * len(bins))
    for op in args.ops.split(","):
        row = []
        for b in bins:
            small, large = instructions(b, op, args.n), instructions(b, op, 5 * args.n)
            row.append(f"{(large - small) / (4 * args.n):,.0f}")
        print(f"| {op} | " + " | ".join(row) + " |", flush=True)


if __name__ == "__main__":
    main()
