#!/usr/bin/env python3
"""S3 with large bodies: nephos against nginx serving and accepting the same bytes.

nginx is the ceiling for moving bytes between a socket and files on this machine:
  - GetObject 1 MiB   vs nginx GET of a 1 MiB file (sendfile),
  - PutObject 1 MiB   vs nginx WebDAV PUT of 1 MiB (written to a file, like nephos),
    both under wrk with 16 connections and with 1;
  - GetObject 256 MiB vs nginx GET of a 256 MiB file: one stream at a time with curl,
    MiB/s (median of --big-runs).
nginx runs with as many workers as nephos has cores (2 here), access log off.

Each scenario runs --rounds times with the two servers taking turns (the order flips
every round, since a PUT burst leaves the filesystem busier for whoever follows), and
keeps each server's best round.

Usage:  python3 bench/s3_large.py [--duration 5] [--rounds 3] [--big-runs 5]
Needs:  a release build of nephos (NEPHOS_BIN or $CARGO_TARGET_DIR/release/nephos),
        nginx with the dav module (apt-get install -y nginx), wrk and curl.
Writes a markdown table to stdout.
"""

import argparse
import os
import pathlib
import re
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent
AUTH = ("AWS4-HMAC-SHA256 Credential=123456789012/20240101/us-east-1/s3/aws4_request, "
        "SignedHeaders=host, Signature=00")
MIB = 1024 * 1024


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, deadline=10.0):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listens on {port}")


def request(method, url, data=None, headers=None):
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    with urllib.request.urlopen(req, timeout=120) as r:
        r.read()
        return r.status


def nephos_bin():
    explicit = os.environ.get("NEPHOS_BIN")
    if explicit:
        return explicit
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    return str(target / "release" / "nephos")


def wrk(url, method, connections, duration, headers, body_mib=0):
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(f"wrk.method = {method!r}\n")
        if body_mib:
            f.write(f'wrk.body = string.rep("x", {body_mib * MIB})\n')
        for k, v in headers.items():
            f.write(f"wrk.headers[{k!r}] = {v!r}\n")
        script = f.name
    out = subprocess.run(
        ["wrk", "-t", str(min(connections, 2)), "-c", str(connections), "-d", f"{duration}s",
         "--latency", "-s", script, url],
        capture_output=True, text=True, check=True,
    ).stdout
    os.unlink(script)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    p99_ms = float(p99.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if bad:
        raise RuntimeError(f"{method} {url}: {bad.group(1)} non-2xx answers")
    return rps, p99_ms


def curl_mib_s(url, headers, runs):
    speeds = []
    for _ in range(runs):
        cmd = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{speed_download}", url]
        for k, v in headers.items():
            cmd += ["-H", f"{k}: {v}"]
        code, speed = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.split()
        if code != "200":
            raise RuntimeError(f"GET {url}: {code}")
        speeds.append(float(speed) / MIB)
    return statistics.median(speeds)


NGINX_CONF = """
user root;
worker_processes {workers};
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    client_max_body_size 512m;
    client_body_buffer_size 2m;
    client_body_temp_path {tmp}/body;
    server {{
        listen 127.0.0.1:{port};
        root {tmp}/www;
        location /put/ {{
            dav_methods PUT;
            create_full_put_path on;
        }}
    }}
}}
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--big-runs", type=int, default=5)
    ap.add_argument("--big-mib", type=int, default=256)
    args = ap.parse_args()
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="s3large-"))
    procs = []
    try:
        # nginx: the same bytes as files.
        (tmp / "www" / "put").mkdir(parents=True)
        (tmp / "body").mkdir()
        one = os.urandom(MIB)
        (tmp / "www" / "one.bin").write_bytes(one)
        with open(tmp / "www" / "big.bin", "wb") as f:
            for _ in range(args.big_mib):
                f.write(os.urandom(MIB))
        nginx_port = free_port()
        (tmp / "nginx.conf").write_text(NGINX_CONF.format(
            tmp=tmp, port=nginx_port, workers=os.cpu_count() or 2))
        procs.append(subprocess.Popen(["nginx", "-c", str(tmp / "nginx.conf")],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        # nephos: a bucket with the same objects (blobs in a temporary directory).
        nephos_port = free_port()
        procs.append(subprocess.Popen(
            [nephos_bin(), "--host", "127.0.0.1", "--port", str(nephos_port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_port(nginx_port)
        wait_port(nephos_port)
        base = f"http://127.0.0.1:{nephos_port}"
        h = {"Authorization": AUTH}
        request("PUT", f"{base}/bench", headers=h)
        request("PUT", f"{base}/bench/one", data=one, headers=h)
        with open(tmp / "www" / "big.bin", "rb") as f:
            request("PUT", f"{base}/bench/big", data=f.read(), headers=h)
        ng = f"http://127.0.0.1:{nginx_port}"
        request("PUT", f"{ng}/put/warm", data=b"x")

        def turns(nephos, nginx):
            """Best (requests/s, p99) of each over the rounds, alternating who goes first."""
            best = {"nephos": None, "nginx": None}
            for r in range(args.rounds):
                order = [("nephos", nephos), ("nginx", nginx)]
                for name, run in (order if r % 2 == 0 else order[::-1]):
                    got = run()
                    if best[name] is None or got[0] > best[name][0]:
                        best[name] = got
            return best["nephos"], best["nginx"]

        rows = []
        for conns in (16, 1):
            n, x = turns(lambda: wrk(f"{base}/bench/one", "GET", conns, args.duration, h),
                         lambda: wrk(f"{ng}/one.bin", "GET", conns, args.duration, {}))
            rows.append((f"GetObject 1 MiB, {conns} conn", n, x))
            n, x = turns(
                lambda: wrk(f"{base}/bench/put", "PUT", conns, args.duration, h, body_mib=1),
                lambda: wrk(f"{ng}/put/one.bin", "PUT", conns, args.duration, {}, body_mib=1))
            rows.append((f"PutObject 1 MiB, {conns} conn", n, x))
        big_n = curl_mib_s(f"{base}/bench/big", h, args.big_runs)
        big_x = curl_mib_s(f"{ng}/big.bin", {}, args.big_runs)

        print("| scenario | nephos | nginx | nephos/nginx |")
        print("|---|---:|---:|---:|")
        for name, (nr, np99), (xr, xp99) in rows:
            print(f"| {name} | {nr:,.0f}/s ({nr:,.0f} MiB/s), p99 {np99:.2f} ms "
                  f"| {xr:,.0f}/s, p99 {xp99:.2f} ms | {nr / xr:.2f}× |")
        print(f"| GetObject {args.big_mib} MiB, 1 stream | {big_n:,.0f} MiB/s "
              f"| {big_x:,.0f} MiB/s | {big_n / big_x:.2f}× |")
    finally:
        for p in procs:
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
