#!/usr/bin/env python3
"""Side-by-side benchmarks: nephos, rustack, moto's server and a bare hyper "hello" server.

Measured in one run on the same machine, so the ratios mean something on a noisy host
(scenario by scenario the targets take turns, and with --rounds N the best of N runs
counts; hello gets the very requests nephos gets and answers them without looking):
  - start-up time to the first answer (median of several starts),
  - idle RSS after start-up and one request,
  - requests/s and latency percentiles of an operation under wrk, with 16 connections
    and with 1, and the server's CPU time per request (user + system, all its threads,
    from /proc), which does not depend on how busy the rest of the machine is.

Usage:
  python3 bench/run.py                 # everything, 10 s per load run
  python3 bench/run.py --duration 5 --targets nephos,hello
Needs: a release build of nephos (NEPHOS_BIN or target/release/nephos, or
$CARGO_TARGET_DIR/release/...), the bench hello server (built by this script with cargo),
wrk (apt-get install wrk), moto[server] (pip install "moto[server]") and, for rustack,
RUSTACK_BIN naming a release build of it (bench/README.md says how).
nephos runs with its default settings (the request log on) unless --nephos-args says
otherwise.
Writes a markdown table to stdout and to bench/results/latest.md.
"""

import argparse
import os
import pathlib
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
TARGET = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))

STS_BODY = "Action=GetCallerIdentity&Version=2011-06-15"
STS_HEADERS = {
    "Content-Type": "application/x-www-form-urlencoded",
    "Authorization": "AWS4-HMAC-SHA256 Credential=123456789012/20240101/us-east-1/sts/aws4_request, "
    "SignedHeaders=host, Signature=00",
}


def ddb_headers(op):
    return {
        "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Target": f"DynamoDB_20120810.{op}",
        "Authorization": "AWS4-HMAC-SHA256 Credential=123456789012/20240101/us-east-1/dynamodb/aws4_request, "
        "SignedHeaders=host, Signature=00",
    }


SQS_ACCOUNT = "123456789012"


def sqs_headers(op):
    return {
        "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Target": f"AmazonSQS.{op}",
        "Authorization": f"AWS4-HMAC-SHA256 Credential={SQS_ACCOUNT}/20240101/us-east-1/sqs/aws4_request, "
        "SignedHeaders=host, Signature=00",
    }


DDB_ITEM = ('{"pk": {"S": "user#1"}, "sk": {"N": "1"}, "name": {"S": "Jane Doe"}, '
            '"email": {"S": "jane@example.com"}, "age": {"N": "42"}, "tags": {"SS": ["a", "b"]}}')
DDB_CREATE = ('{"TableName": "bench", "BillingMode": "PAY_PER_REQUEST", '
              '"KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}], '
              '"AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "N"}]}')



def sqs_url(queue):
    # A full URL: moto reads nothing else (nephos takes any host, or none).
    return f"http://localhost/{SQS_ACCOUNT}/{queue}"


def sqs_body(queue, **extra):
    import json
    return json.dumps({"QueueUrl": sqs_url(queue), **extra})


def sqs_setup(queue, prefill_per_second=0):
    """Creates `queue` and, for consumers, fills it with enough 1 KiB messages to last
    the run (a keep-alive connection sending batches of 10)."""

    def setup(port, target, duration):
        import http.client
        import json
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

        def post(op, body):
            conn.request("POST", "/", body=body, headers=sqs_headers(op))
            resp = conn.getresponse()
            resp.read()
            return resp.status

        post("CreateQueue", json.dumps({"QueueName": queue}))
        rate = prefill_per_second if target.startswith("nephos") else prefill_per_second // 40
        entries = [{"Id": str(i), "MessageBody": "x" * 1024} for i in range(10)]
        batch = json.dumps({"QueueUrl": sqs_url(queue), "Entries": entries})
        for _ in range(rate * duration // 10):
            post("SendMessageBatch", batch)
        conn.close()

    return setup


# A consumer's loop: receive one message, delete it by its receipt handle, repeat.
RECEIVE_DELETE_LUA = """
local handles = {}
request = function()
  if #handles > 0 then
    local h = table.remove(handles)
    wrk.headers["X-Amz-Target"] = "AmazonSQS.DeleteMessage"
    return wrk.format("POST", nil, nil, '{"QueueUrl":"%s","ReceiptHandle":"' .. h .. '"}')
  end
  wrk.headers["X-Amz-Target"] = "AmazonSQS.ReceiveMessage"
  return wrk.format("POST", nil, nil, '{"QueueUrl":"%s","MaxNumberOfMessages":1}')
end
response = function(status, headers, body)
  local h = body:match('"ReceiptHandle":"([^"]+)"')
  if h then table.insert(handles, h) end
end
""" % (sqs_url("bench-consume"), sqs_url("bench-consume"))

SNS_TOPIC = f"arn:aws:sns:us-east-1:{SQS_ACCOUNT}:bench-topic"
SNS_FANOUT_TOPIC = f"arn:aws:sns:us-east-1:{SQS_ACCOUNT}:bench-fanout"
SNS_HEADERS = {
    "Content-Type": "application/x-www-form-urlencoded",
    "Authorization": f"AWS4-HMAC-SHA256 Credential={SQS_ACCOUNT}/20240101/us-east-1/sns/aws4_request, "
    "SignedHeaders=host, Signature=00",
}


def sns_publish_body(topic):
    import urllib.parse
    return urllib.parse.urlencode({"Action": "Publish", "Version": "2010-03-31", "TopicArn": topic,
                                   "Message": "x" * 256})


def sns_setup(topic, queues=0):
    """Creates `topic` and, for fan-out, `queues` SQS queues subscribed to it (raw)."""

    def setup(port, target, duration):
        import http.client
        import json
        import urllib.parse
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

        def sns(**params):
            conn.request("POST", "/", body=urllib.parse.urlencode(dict(params, Version="2010-03-31")),
                         headers=SNS_HEADERS)
            resp = conn.getresponse()
            resp.read()
            return resp.status

        name = topic.rsplit(":", 1)[1]
        sns(Action="CreateTopic", Name=name)
        for i in range(queues):
            arn = f"arn:aws:sqs:us-east-1:{SQS_ACCOUNT}:{name}-{i}"
            # The policy AWS requires before SNS may deliver to a queue.
            policy = json.dumps({"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage", "Resource": arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": topic}}}]})
            conn.request("POST", "/", body=json.dumps({"QueueName": f"{name}-{i}", "Attributes": {"Policy": policy}}),
                         headers=sqs_headers("CreateQueue"))
            conn.getresponse().read()
            sns(Action="Subscribe", TopicArn=topic, Protocol="sqs",
                Endpoint=f"arn:aws:sqs:us-east-1:{SQS_ACCOUNT}:{name}-{i}",
                **{"Attributes.entry.1.key": "RawMessageDelivery", "Attributes.entry.1.value": "true"})
        conn.close()

    return setup


S3_HEADERS = {
    "Authorization": "AWS4-HMAC-SHA256 Credential=123456789012/20240101/us-east-1/s3/aws4_request, "
    "SignedHeaders=host, Signature=00",
    "x-amz-content-sha256": "UNSIGNED-PAYLOAD",
}
KIB_BODY = "x" * 1024
# ListObjectsV2 reads one full page of this many keys.
LIST_KEYS = 1000

# name -> (method, path, body, headers, expected status[, {"setup": f, "lua": extra}])
SCENARIOS = {
    "sts:GetCallerIdentity": ("POST", "/", STS_BODY, STS_HEADERS, 200),
    "s3:PutObject-1KiB": ("PUT", "/bench-put/key", KIB_BODY, S3_HEADERS, 200),
    "s3:GetObject-1KiB": ("GET", "/bench-get/key", None, S3_HEADERS, 200),
    "s3:ListObjectsV2-1000": ("GET", "/bench-list?list-type=2", None, S3_HEADERS, 200),
    "dynamodb:GetItem": ("POST", "/", '{"TableName": "bench", "Key": {"pk": {"S": "user#1"}, "sk": {"N": "1"}}}',
                         ddb_headers("GetItem"), 200),
    "dynamodb:PutItem": ("POST", "/", '{"TableName": "bench", "Item": ' + DDB_ITEM + '}', ddb_headers("PutItem"), 200),
    "sqs:SendMessage": (
        "POST", "/", sqs_body("bench-send", MessageBody="x" * 1024), sqs_headers("SendMessage"), 200,
        {"setup": sqs_setup("bench-send")},
    ),
    "sqs:ReceiveMessage+DeleteMessage": (
        "POST", "/", sqs_body("bench-consume", MaxNumberOfMessages=1), sqs_headers("ReceiveMessage"), 200,
        {"setup": sqs_setup("bench-consume", prefill_per_second=50000), "lua": RECEIVE_DELETE_LUA},
    ),
    "sns:Publish": (
        "POST", "/", sns_publish_body(SNS_TOPIC), SNS_HEADERS, 200, {"setup": sns_setup(SNS_TOPIC)},
    ),
    "sns:Publish->10xSQS": (
        "POST", "/", sns_publish_body(SNS_FANOUT_TOPIC), SNS_HEADERS, 200,
        {"setup": sns_setup(SNS_FANOUT_TOPIC, queues=10)},
    ),
}

# name -> requests (method, path, body, headers) that prepare a target for the scenario.
SETUP = {
    "dynamodb:GetItem": [("POST", "/", DDB_CREATE, ddb_headers("CreateTable")),
                         ("POST", "/", '{"TableName": "bench", "Item": ' + DDB_ITEM + '}', ddb_headers("PutItem"))],
    "dynamodb:PutItem": [("POST", "/", DDB_CREATE, ddb_headers("CreateTable"))],
    "s3:PutObject-1KiB": [("PUT", "/bench-put", None, S3_HEADERS)],
    "s3:GetObject-1KiB": [("PUT", "/bench-get", None, S3_HEADERS), ("PUT", "/bench-get/key", KIB_BODY, S3_HEADERS)],
    "s3:ListObjectsV2-1000": [("PUT", "/bench-list", None, S3_HEADERS)]
    + [("PUT", f"/bench-list/k{i:06d}", "v", S3_HEADERS) for i in range(LIST_KEYS)],
}


def setup(port, requests):
    """Runs preparation requests over one kept-alive connection."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for method, path, body, headers in requests:
        conn.request(method, path, body=body.encode() if body else b"", headers=headers)
        resp = conn.getresponse()
        resp.read()
        if resp.status >= 300:
            print(f"warning: setup {method} {path} answered {resp.status}", file=sys.stderr)
    conn.close()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_once(port, method, path, body, headers, timeout=1.0):
    """One raw HTTP/1.1 request; returns the status code or None if nothing answered."""
    data = body.encode() if body else b""
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    head += f"Content-Length: {len(data)}\r\n\r\n"
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(head.encode() + data)
            first = s.recv(64)
    except OSError:
        return None
    m = re.match(rb"HTTP/1\.[01] (\d{3})", first)
    return int(m.group(1)) if m else None


def cpu_ticks(pid):
    """User + system clock ticks of every thread of `pid` so far."""
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def rss_kib(pid):
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class Target:
    def __init__(self, name, argv_for_port, env_for_port=None):
        self.name = name
        self.argv_for_port = argv_for_port
        self.env_for_port = env_for_port or (lambda _port: {})
        self.proc = None
        self.port = None

    def start(self, probe):
        """Starts the server; returns seconds until it first answered `probe`."""
        self.port = free_port()
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            self.argv_for_port(self.port),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=dict(os.environ, **self.env_for_port(self.port)),
        )
        deadline = t0 + 30
        while time.perf_counter() < deadline:
            if http_once(self.port, *probe[:4], timeout=0.5) is not None:
                return time.perf_counter() - t0
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited during start-up")
            time.sleep(0.0005)
        raise RuntimeError(f"{self.name} did not answer within 30 s")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def wrk(port, scenario, connections, duration, pid):
    method, path, body, headers = scenario[:4]
    extra = scenario[5] if len(scenario) > 5 else {}
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(f"wrk.method = {method!r}\n")
        if body:
            f.write(f"wrk.body = {body!r}\n")
        for k, v in headers.items():
            f.write(f"wrk.headers[{k!r}] = {v!r}\n")
        f.write(extra.get("lua", ""))
        script = f.name
    ticks = cpu_ticks(pid)
    out = subprocess.run(
        ["wrk", "-t", str(min(connections, 2)), "-c", str(connections), "-d", f"{duration}s",
         "--latency", "-s", script, f"http://127.0.0.1:{port}{path}"],
        capture_output=True, text=True, check=True,
    ).stdout
    ticks = cpu_ticks(pid) - ticks
    os.unlink(script)
    total = int(re.search(r"(\d+) requests in", out).group(1))
    cpu_us = ticks * 1e6 / os.sysconf("SC_CLK_TCK") / max(total, 1)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, float(p99.group(1)) * scale, int(non2xx.group(1)) if non2xx else 0, cpu_us


def nephos_bin():
    explicit = os.environ.get("NEPHOS_BIN")
    if explicit:
        return explicit
    path = TARGET / "release" / "nephos"
    if not path.exists():
        sys.exit(f"no release build at {path}: run cargo build --release")
    return str(path)


def hello_bin():
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "nephos-bench-hello"], cwd=ROOT, check=True)
    return str(TARGET / "release" / "nephos-bench-hello")


def targets(selected, nephos_args):
    out = []
    if "nephos" in selected:
        # NEPHOS_BIN may name several builds, `label=path,label=path`, to compare them.
        builds = [b.partition("=") for b in nephos_bin().split(",")]
        for label, _, path in builds:
            name = f"nephos-{label}" if path else "nephos"
            binary = path or label
            out.append(Target(name, lambda p, b=binary: [b, "--port", str(p), *nephos_args]))
    if "rustack" in selected:
        rustack = os.environ.get("RUSTACK_BIN")
        if not rustack:
            sys.exit("RUSTACK_BIN must name a release build of rustack (bench/README.md)")
        # rustack binds where GATEWAY_LISTEN says; everything else at its defaults.
        out.append(Target("rustack", lambda p: [rustack],
                          lambda p: {"GATEWAY_LISTEN": f"127.0.0.1:{p}"}))
    if "moto" in selected:
        moto = shutil.which("moto_server") or shutil.which("moto_server", path=str(pathlib.Path(sys.executable).parent))
        if not moto:
            sys.exit('moto_server not found: pip install "moto[server]"')
        out.append(Target("moto", lambda p: [moto, "-p", str(p)]))
    if "hello" in selected:
        hello = hello_bin()
        out.append(Target("hello", lambda p: [hello, str(p)]))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--starts", type=int, default=5)
    ap.add_argument("--targets", default="nephos,rustack,moto,hello")
    ap.add_argument("--nephos-args", default="",
                    help="extra arguments for nephos, e.g. --quiet (default: none)")
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    ap.add_argument("--rounds", type=int, default=1,
                    help="runs of each measurement, interleaved across targets; the best counts")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk not found: apt-get install wrk")
    selected = args.targets.split(",")
    scenarios = {k: SCENARIOS[k] for k in args.scenarios.split(",")}
    probe = next(iter(scenarios.values()))
    live = targets(selected, args.nephos_args.split())
    rows = []
    for t in live:
        starts = []
        for _ in range(args.starts):
            starts.append(t.start(probe))
            t.stop()
        t.start(probe)
        http_once(t.port, *probe[:4])
        time.sleep(0.5)
        rows.append({"target": t.name, "start_ms": statistics.median(starts) * 1000,
                     "rss_mib": rss_kib(t.proc.pid) / 1024})
    # Scenario by scenario, the targets take turns (round after round): on a shared
    # machine, load that comes and goes then hits every target alike.
    try:
        for name, sc in scenarios.items():
            for t in live:
                if t.name != "hello":  # every nephos build and peer is set up alike
                    setup(t.port, SETUP.get(name, []))
                    got = http_once(t.port, *sc[:4])
                    if got != sc[4]:
                        print(f"warning: {t.name} answered {got} to {name}", file=sys.stderr)
            for conns in (16, 1):
                for _ in range(args.rounds):
                    for t, row in zip(live, rows):
                        # hello gets the same request (and wrk the same Lua): it answers
                        # without looking, so the client's work is alike for every target.
                        run = sc
                        if t.name != "hello" and len(sc) > 5 and "setup" in sc[5]:
                            sc[5]["setup"](t.port, t.name, args.duration)
                        result = wrk(t.port, run, conns, args.duration, t.proc.pid)
                        key = f"{name}@{conns}"
                        if key not in row or result[0] > row[key][0]:
                            row[key] = result
            print(f"measured {name}", file=sys.stderr)
            report(args, rows, scenarios)
    finally:
        for t in live:
            t.stop()
    print((ROOT / "bench" / "results" / "latest.md").read_text())


def report(args, rows, scenarios):
    """Writes the tables of what has been measured so far."""
    lines = [f"# nephos benchmarks ({time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, wrk {args.duration}s per run)", ""]
    lines.append("| target | start-up to first answer | idle RSS |")
    lines.append("|---|---:|---:|")
    for r in rows:
        lines.append(f"| {r['target']} | {r['start_ms']:.1f} ms | {r['rss_mib']:.1f} MiB |")
    hello = next((r for r in rows if r["target"] == "hello"), None)
    for name in scenarios:
        for conns in (16, 1):
            key = f"{name}@{conns}"
            if any(key not in r for r in rows):
                continue
            lines += ["", f"## {name}, {conns} connection{'s' if conns > 1 else ''}", "",
                      "| target | requests/s | CPU µs/request | p99 | non-2xx | vs hello |",
                      "|---|---:|---:|---:|---:|---:|"]
            for r in rows:
                rps, p99, bad, cpu = r[key]
                ratio = f"{rps / hello[key][0]:.2f}x" if hello else "-"
                lines.append(f"| {r['target']} | {rps:,.0f} | {cpu:.1f} | {p99:.2f} ms | {bad} | {ratio} |")
            nephos = next((r for r in rows if r["target"].startswith("nephos")), None)
            moto = next((r for r in rows if r["target"] == "moto"), None)
            if nephos and moto:
                lines.append(f"\nnephos/moto: {nephos[key][0] / moto[key][0]:.0f}x requests/s")
    report = "\n".join(lines) + "\n"
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    (results / "latest.md").write_text(report)


if __name__ == "__main__":
    main()
