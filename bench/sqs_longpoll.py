#!/usr/bin/env python3
"""Long-poll latency: a receiver blocked in ReceiveMessage(WaitTimeSeconds=20) gets a
message sent just now. Reports p50/p99 of send-start to receive-returned, in ms.

Usage: python3 bench/sqs_longpoll.py [--targets nephos,moto] [--rounds 300]
"""

import argparse
import http.client
import json
import statistics
import sys
import threading
import time

sys.path.insert(0, __file__.rsplit("/", 1)[0])
import run  # noqa: E402  (the targets and helpers of bench/run.py)


def measure(port, rounds):
    def conn():
        return http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def post(c, op, body):
        c.request("POST", "/", body=json.dumps(body), headers=run.sqs_headers(op))
        r = c.getresponse()
        return r.status, r.read()

    setup = conn()
    post(setup, "CreateQueue", {"QueueName": "longpoll"})
    url = run.sqs_url("longpoll")
    receiver, sender = conn(), conn()
    latencies = []
    for _ in range(rounds):
        done = {}

        def receive():
            status, body = post(receiver, "ReceiveMessage", {"QueueUrl": url, "WaitTimeSeconds": 20})
            done["t"] = time.perf_counter()
            done["body"] = json.loads(body)

        th = threading.Thread(target=receive)
        th.start()
        time.sleep(0.02)  # let the receive reach the server and block
        t0 = time.perf_counter()
        post(sender, "SendMessage", {"QueueUrl": url, "MessageBody": "ping"})
        th.join()
        msgs = done["body"].get("Messages", [])
        if not msgs:
            raise RuntimeError(f"receiver got nothing: {done['body']}")
        latencies.append((done["t"] - t0) * 1000)
        post(sender, "DeleteMessage", {"QueueUrl": url, "ReceiptHandle": msgs[0]["ReceiptHandle"]})
    latencies.sort()
    return statistics.median(latencies), latencies[int(len(latencies) * 0.99) - 1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--targets", default="nephos")
    ap.add_argument("--rounds", type=int, default=300)
    args = ap.parse_args()
    probe = ("POST", "/", json.dumps({}), run.sqs_headers("ListQueues"), 200)
    print("| target | p50 | p99 |\n|---|---:|---:|")
    for t in run.targets(args.targets.split(",")):
        t.start(probe)
        try:
            p50, p99 = measure(t.port, args.rounds)
        finally:
            t.stop()
        print(f"| {t.name} | {p50:.2f} ms | {p99:.2f} ms |")


if __name__ == "__main__":
    main()
