#!/usr/bin/env python3
"""IAM enforcement's cost on the request path: the same requests by the same IAM user,
with nephos started with and without --enforce-iam, in one run (rounds alternate).

The user's access key signs the wrk requests (the key id names the user; signatures are
not verified), and one inline policy of one statement allows exactly what the scenarios
do. Target (issue 12): with enforcement, at least 85 % of the throughput without it.
Also reports the server's CPU µs per request (user + system, all threads), which does
not depend on how busy the rest of the machine is.

Usage:
  python3 bench/iam.py [--duration 5] [--rounds 2] [--connections 16]
Needs a release build of nephos (NEPHOS_BIN or $CARGO_TARGET_DIR/release/nephos), wrk
and boto3.
"""

import argparse
import json
import os
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import run as bench  # noqa: E402  (shares the wrk driver and process handling)

import boto3  # noqa: E402

ACCOUNT = "123456789012"
POLICY = {
    "Version": "2012-10-17",
    "Statement": [{
        "Effect": "Allow",
        "Action": ["dynamodb:GetItem", "s3:GetObject", "sqs:SendMessage"],
        "Resource": "*",
    }],
}


def prepare(port):
    """As the account root: the user, its key and policy, and the resources."""
    def client(service):
        return boto3.client(service, endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                            aws_access_key_id=ACCOUNT, aws_secret_access_key="test")

    iam = client("iam")
    iam.create_user(UserName="bench")
    iam.put_user_policy(UserName="bench", PolicyName="bench", PolicyDocument=json.dumps(POLICY))
    key = iam.create_access_key(UserName="bench")["AccessKey"]["AccessKeyId"]
    ddb = client("dynamodb")
    ddb.create_table(TableName="bench", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                           {"AttributeName": "sk", "AttributeType": "N"}])
    ddb.put_item(TableName="bench", Item=json.loads(bench.DDB_ITEM))
    s3 = client("s3")
    s3.create_bucket(Bucket="bench-get")
    s3.put_object(Bucket="bench-get", Key="key", Body=b"x" * 1024)
    client("sqs").create_queue(QueueName="bench-send")
    return key


def scenarios(key):
    def auth(service):
        return (f"AWS4-HMAC-SHA256 Credential={key}/20240101/us-east-1/{service}/aws4_request, "
                "SignedHeaders=host, Signature=00")

    ddb = dict(bench.ddb_headers("GetItem"), Authorization=auth("dynamodb"))
    s3 = dict(bench.S3_HEADERS, Authorization=auth("s3"))
    sqs = dict(bench.sqs_headers("SendMessage"), Authorization=auth("sqs"))
    return {
        "dynamodb:GetItem": ("POST", "/", '{"TableName": "bench", "Key": {"pk": {"S": "user#1"}, "sk": {"N": "1"}}}',
                             ddb, 200),
        "s3:GetObject-1KiB": ("GET", "/bench-get/key", None, s3, 200),
        "sqs:SendMessage": ("POST", "/", bench.sqs_body("bench-send", MessageBody="x" * 1024), sqs, 200),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--connections", type=int, default=16)
    args = ap.parse_args()
    binary = bench.nephos_bin()
    variants = {"off": [], "on": ["--enforce-iam"]}
    best = {}
    for _ in range(args.rounds):
        for name, extra in variants.items():
            t = bench.Target(name, lambda port, extra=extra: [binary, "--port", str(port), *extra])
            t.start(("GET", "/_nephos/health", None, {}))
            try:
                key = prepare(t.port)
                for scen, spec in scenarios(key).items():
                    rps, p99, errors, cpu = bench.wrk(t.port, spec, args.connections, args.duration, t.proc.pid)
                    if errors:
                        sys.exit(f"{scen} with enforcement {name}: {errors} requests failed")
                    prev = best.get((scen, name))
                    if prev is None or rps > prev[0]:
                        best[(scen, name)] = (rps, p99, cpu)
            finally:
                t.stop()
    lines = [f"# IAM enforcement cost ({args.connections} connections, {args.duration} s, best of {args.rounds})", "",
             "| scenario | req/s off | req/s on | on/off | CPU µs/req off | CPU µs/req on |",
             "|---|---:|---:|---:|---:|---:|"]
    for scen in scenarios("K"):
        off, on = best[(scen, "off")], best[(scen, "on")]
        lines.append(f"| {scen} | {off[0]:,.0f} | {on[0]:,.0f} | {on[0] / off[0]:.0%} | {off[2]:.1f} | {on[2]:.1f} |")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
