#!/usr/bin/env python3
"""Lambda on nephos, measured against the issue's targets (the peers run functions in
Docker, so the anchors are the machine and AWS itself):

- warm RequestResponse invoke of a trivial Python function over HTTP: p50 and p99 at one
  connection (plain HTTP client, no SDK overhead), invocations/s at 16 connections (wrk);
- cold start (Invoke to answer) of trivial Python and Node.js functions;
- 1,000 SQS messages through an event source mapping into a function that writes each
  to DynamoDB: all processed, none twice, and how long it took;
- nephos's start-up time and idle RSS (Lambda must cost nothing until used).

Usage: NEPHOS_BIN=path/to/nephos python3 bench/lambda.py [--duration 5]
Needs boto3 (for set-up) and wrk on PATH for the 16-connection figure.
"""

import argparse
import http.client
import io
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile

import boto3

ACCOUNT = "000000000000"
# nephos reads the account and region from the SigV4 scope and, without
# --verify-signatures, does not check the signature: a fixed header is a signed caller.
AUTH = (
    f"AWS4-HMAC-SHA256 Credential={ACCOUNT}/20260101/us-east-1/lambda/aws4_request, "
    "SignedHeaders=host, Signature=0"
)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(binary, *args):
    port = free_port()
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--quiet", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=dict(os.environ, NEPHOS_LAMBDA_PYTHON=sys.executable),
    )
    line = proc.stdout.readline()
    ready_ms = (time.perf_counter() - t0) * 1000
    assert "ready" in line, line
    return proc, port, ready_ms


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def zipped(files):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, text in files.items():
            z.writestr(name, text)
    return buf.getvalue()


def client(port, service):
    return boto3.client(
        service,
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id=ACCOUNT,
        aws_secret_access_key="x",
    )


def create(lam, name, runtime, files, handler, **extra):
    lam.create_function(
        FunctionName=name,
        Runtime=runtime,
        Role=f"arn:aws:iam::{ACCOUNT}:role/bench",
        Handler=handler,
        Code={"ZipFile": zipped(files)},
        **extra,
    )
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.1})


def invoke_raw(conn, name, body=b"{}"):
    conn.request(
        "POST",
        f"/2015-03-31/functions/{name}/invocations",
        body=body,
        headers={"Authorization": AUTH, "Content-Type": "application/json"},
    )
    r = conn.getresponse()
    data = r.read()
    assert r.status == 200 and not r.getheader("X-Amz-Function-Error"), (r.status, data)
    return data


def percentile(samples, p):
    s = sorted(samples)
    return s[min(len(s) - 1, int(len(s) * p))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--cold", type=int, default=5, help="cold starts per runtime")
    args = ap.parse_args()
    binary = os.environ.get("NEPHOS_BIN") or shutil.which("nephos")
    results = {}

    # Start-up and idle RSS: a fresh process, and one that has never seen Lambda.
    starts, rss = [], []
    for _ in range(5):
        proc, port, ms = start(binary)
        client(port, "sts").get_caller_identity()
        time.sleep(0.3)
        starts.append(ms)
        rss.append(rss_mib(proc.pid))
        proc.terminate()
        proc.wait()
    results["start-up ms (median of 5)"] = round(statistics.median(starts), 1)
    results["idle RSS MiB after one request"] = round(statistics.median(rss), 1)

    proc, port, _ = start(binary)
    try:
        lam = client(port, "lambda")
        create(lam, "py", "python3.12", {"app.py": "def handler(e, c):\n    return e\n"}, "app.handler")
        create(
            lam,
            "node",
            "nodejs20.x",
            {"index.mjs": "export const handler = async (e) => e;\n"},
            "index.handler",
        )
        conn = http.client.HTTPConnection("127.0.0.1", port)
        for _ in range(50):
            invoke_raw(conn, "py")
        lat = []
        end = time.perf_counter() + args.duration
        while time.perf_counter() < end:
            t0 = time.perf_counter()
            invoke_raw(conn, "py", b'{"n": 1}')
            lat.append((time.perf_counter() - t0) * 1000)
        results["warm Python invoke p50 ms (1 connection)"] = round(percentile(lat, 0.5), 3)
        results["warm Python invoke p99 ms (1 connection)"] = round(percentile(lat, 0.99), 3)
        results["warm Python invokes/s (1 connection)"] = round(len(lat) / args.duration)
        if shutil.which("wrk"):
            script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
            script.write('wrk.method = "POST"\nwrk.body = "{}"\n')
            script.close()
            out = subprocess.run(
                [
                    "wrk", "-t", "2", "-c", "16", "-d", f"{args.duration}s", "-s", script.name,
                    "-H", f"Authorization: {AUTH}",
                    f"http://127.0.0.1:{port}/2015-03-31/functions/py/invocations",
                ],
                capture_output=True,
                text=True,
            ).stdout
            os.unlink(script.name)
            rps = next((ln.split()[1] for ln in out.splitlines() if ln.startswith("Requests/sec")), "?")
            non2xx = next((ln for ln in out.splitlines() if "Non-2xx" in ln), "")
            results["warm Python invokes/s (16 connections, wrk)"] = rps + (f" ({non2xx.strip()})" if non2xx else "")

        for runtime, files, handler, label in (
            ("python3.12", {"app.py": "def handler(e, c):\n    return 1\n"}, "app.handler", "Python"),
            ("nodejs20.x", {"index.mjs": "export const handler = async () => 1;\n"}, "index.handler", "Node.js"),
        ):
            cold = []
            for i in range(args.cold):
                name = f"cold-{label.lower().replace('.', '')}-{i}"
                create(lam, name, runtime, files, handler)
                t0 = time.perf_counter()
                invoke_raw(conn, name)
                cold.append((time.perf_counter() - t0) * 1000)
            results[f"cold start {label} ms (median of {args.cold})"] = round(statistics.median(cold), 1)

        # 1,000 SQS messages through a mapping into a function writing each to DynamoDB.
        sqs, ddb = client(port, "sqs"), client(port, "dynamodb")
        ddb.create_table(
            TableName="seen",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        create(
            lam,
            "writer",
            "python3.12",
            {
                "app.py": (
                    "import boto3\nddb = boto3.client('dynamodb')\n"
                    "def handler(e, c):\n"
                    "    for r in e['Records']:\n"
                    "        ddb.put_item(TableName='seen', Item={'id': {'S': r['messageId']}},\n"
                    "                     ConditionExpression='attribute_not_exists(id)')\n"
                )
            },
            "app.handler",
            Timeout=30,
        )
        url = sqs.create_queue(QueueName="in")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="writer", BatchSize=10)
        t0 = time.perf_counter()
        for i in range(0, 1000, 10):
            sqs.send_message_batch(
                QueueUrl=url, Entries=[{"Id": str(j), "MessageBody": str(i + j)} for j in range(10)]
            )
        count = 0
        while time.perf_counter() - t0 < 60:
            count = ddb.describe_table(TableName="seen")["Table"]["ItemCount"]
            if count >= 1000:
                break
            time.sleep(0.05)
        results["1,000 SQS messages -> mapping -> DynamoDB, seconds"] = round(time.perf_counter() - t0, 2)
        results["  processed (once each)"] = count
        results["RSS MiB with 3+ warm environments (nephos only)"] = round(rss_mib(proc.pid), 1)
    finally:
        proc.terminate()
        proc.wait()

    width = max(len(k) for k in results)
    for k, v in results.items():
        print(f"{k:<{width}}  {v}")


if __name__ == "__main__":
    main()
