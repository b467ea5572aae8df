#!/usr/bin/env python3
"""S3 listing at scale: ListObjectsV2 pages of 1,000 from a bucket of 100,000 keys.

Pages measured (raw HTTP over one kept-alive connection, median of --runs, in ms, as the
client sees them: request, listing, XML, transfer):
  - the first page,
  - a page from the middle (start-after),
  - the last page (start-after near the end),
  - a prefix covering 10,000 keys (first page),
  - a delimiter listing that rolls 100,000 keys into 100 common prefixes.
The bucket is filled over 8 kept-alive connections. With --moto, moto's server gets the
same scenarios with --moto-keys keys (filling moto with 100,000 objects takes many
minutes); the issue's reference for moto is ~2 s to list 10,000 keys.

Usage:  python3 bench/s3_list.py [--keys 100000] [--runs 20] [--moto] [--moto-keys 10000]
Needs:  a release build of nephos (NEPHOS_BIN or $CARGO_TARGET_DIR/release/nephos).
"""

import argparse
import concurrent.futures
import http.client
import pathlib
import shutil
import socket
import statistics
import subprocess
import sys
import time

from s3_large import free_port, nephos_bin  # same directory: the bench helpers

AUTH = ("AWS4-HMAC-SHA256 Credential=123456789012/20240101/us-east-1/s3/aws4_request, "
        "SignedHeaders=host, Signature=00")
BUCKET = "list-bench"


def start(argv, port):
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    end = time.monotonic() + 60
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return proc
        except OSError:
            time.sleep(0.01)
    raise RuntimeError("server did not start")


def key(i):
    # 100 "directories" of 1,000 keys each at 100,000 keys: d00/k000000 ... d99/k099999.
    return f"d{i // 1000 % 100:02d}/k{i:06d}"


def fill(port, n):
    def put_range(lo, hi):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for i in range(lo, hi):
            conn.request("PUT", f"/{BUCKET}/{key(i)}", body=b"v", headers={"Authorization": AUTH})
            r = conn.getresponse()
            r.read()
            if r.status != 200:
                raise RuntimeError(f"PUT {key(i)}: {r.status}")
        conn.close()

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("PUT", f"/{BUCKET}", headers={"Authorization": AUTH})
    conn.getresponse().read()
    conn.close()
    step = (n + 7) // 8
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        for f in [pool.submit(put_range, lo, min(lo + step, n)) for lo in range(0, n, step)]:
            f.result()


def timed(port, query, runs):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    times, size, count = [], 0, 0
    for _ in range(runs):
        t0 = time.perf_counter()
        conn.request("GET", f"/{BUCKET}?list-type=2&{query}", headers={"Authorization": AUTH})
        r = conn.getresponse()
        body = r.read()
        times.append((time.perf_counter() - t0) * 1000)
        if r.status != 200:
            raise RuntimeError(f"list {query}: {r.status}")
        size = len(body)
        count = body.count(b"<Key>") + body.count(b"<CommonPrefixes>")
    conn.close()
    return statistics.median(times), count, size


def scenarios(n):
    mid, last = key(n // 2), key(n - 1001)
    return [
        ("first page", "max-keys=1000"),
        ("middle page (start-after)", f"max-keys=1000&start-after={mid}"),
        ("last page (start-after)", f"max-keys=1000&start-after={last}"),
        ("prefix of 10 % (first page)", "max-keys=1000&prefix=d05/"),
        ("delimiter: all into common prefixes", "max-keys=1000&delimiter=/"),
    ]


def run_target(name, argv_for, n, runs):
    port = free_port()
    proc = start(argv_for(port), port)
    try:
        t0 = time.perf_counter()
        fill(port, n)
        filled = time.perf_counter() - t0
        print(f"{name}: {n:,} keys put in {filled:.1f} s ({n / filled:,.0f}/s)", file=sys.stderr)
        return {label: timed(port, q, runs) for label, q in scenarios(n)}
    finally:
        proc.terminate()
        proc.wait(10)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keys", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--moto", action="store_true")
    ap.add_argument("--moto-keys", type=int, default=10_000)
    args = ap.parse_args()
    nephos = lambda p: [nephos_bin(), "--host", "127.0.0.1", "--port", str(p), "--quiet"]  # noqa: E731
    results = [(f"nephos, {args.keys:,} keys", run_target("nephos", nephos, args.keys, args.runs))]
    if args.moto:
        moto = shutil.which("moto_server") or shutil.which(
            "moto_server", path=str(pathlib.Path(sys.executable).parent))
        if not moto:
            sys.exit('moto_server not found: pip install "moto[server]"')
        argv = lambda p: [moto, "-p", str(p)]  # noqa: E731
        results.append((f"nephos, {args.moto_keys:,} keys",
                        run_target("nephos", nephos, args.moto_keys, args.runs)))
        results.append((f"moto, {args.moto_keys:,} keys",
                        run_target("moto", argv, args.moto_keys, max(3, args.runs // 5))))
    labels = [label for label, _ in scenarios(args.keys)]
    print("| ListObjectsV2 | " + " | ".join(name for name, _ in results) + " |")
    print("|---|" + "---:|" * len(results))
    for label in labels:
        cells = [f"{r[label][0]:.2f} ms ({r[label][1]:,} entries)" for _, r in results]
        print(f"| {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
