#!/usr/bin/env python3
"""Vendor the botocore service models that nephos serves.

Downloads one pinned botocore wheel from PyPI, takes the newest API version of every
service named in services.txt, strips the documentation (it is a third of the bytes and
nephos never reads it) and writes:

  models/<service>.json.gz   the model, otherwise unchanged (botocore's service-2 format)
  models/patches/<svc>.json  corrections merged into a model (each says why); generated
                             ones are models/patches/<svc>.<what>.json (xmlroots.py)
  models/index.json          what routing needs without parsing any model: protocols,
                             signing names, target prefixes, query actions, rest path
                             prefixes. nephos reads only this file at start-up.

Usage: python3 models/refresh.py [--botocore VERSION]
The version in use is recorded in models/BOTOCORE_VERSION.
"""

import argparse
import gzip
import io
import json
import pathlib
import subprocess
import sys
import tempfile
import zipfile

HERE = pathlib.Path(__file__).resolve().parent
DROP_KEYS = {"documentation", "documentationUrl", "examples", "deprecatedMessage"}


def strip(node):
    if isinstance(node, dict):
        return {k: strip(v) for k, v in node.items() if k not in DROP_KEYS}
    if isinstance(node, list):
        return [strip(v) for v in node]
    return node


def apply_patch(node, patch):
    """Deep-merges a patch from models/patches/<service>.json; a null deletes the key.
    Patches restore facts botocore's models lost (each file says why)."""
    for key, value in patch.items():
        if key == "_why":
            continue
        if value is None:
            node.pop(key, None)
        elif isinstance(value, dict) and isinstance(node.get(key), dict):
            apply_patch(node[key], value)
        else:
            node[key] = value


def rest_prefixes(model):
    """Literal leading parts of every request URI: enough to tell rest services apart."""
    out = set()
    for op in model["operations"].values():
        uri = op.get("http", {}).get("requestUri", "/")
        path = uri.split("?", 1)[0]
        literal = path.split("{", 1)[0]
        out.add(literal)
    return sorted(out)


def index_entry(name, model):
    meta = model["metadata"]
    protocols = meta.get("protocols") or [meta["protocol"]]
    entry = {
        "name": name,
        "serviceId": meta.get("serviceId", name),
        "apiVersion": meta["apiVersion"],
        "protocols": protocols,
        "endpointPrefix": meta["endpointPrefix"],
        "signingName": meta.get("signingName", meta["endpointPrefix"]),
        "global": "globalEndpoint" in meta,
    }
    for key in ("targetPrefix", "jsonVersion", "xmlNamespace"):
        if key in meta:
            entry[key] = meta[key]
    query_like = any(p in ("query", "ec2") for p in protocols)
    if "awsQueryCompatible" in meta:
        entry["awsQueryCompatible"] = True
        query_like = True
    if query_like:
        entry["actions"] = sorted(model["operations"])
    if any(p.startswith("rest-") for p in protocols):
        entry["restPrefixes"] = rest_prefixes(model)
    return entry


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--botocore", default=(HERE / "BOTOCORE_VERSION").read_text().strip())
    args = ap.parse_args()
    names = [
        line.strip()
        for line in (HERE / "services.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
             "--only-binary=:all:", "-d", tmp, f"botocore=={args.botocore}"],
            check=True,
        )
        wheel = next(pathlib.Path(tmp).glob("botocore-*.whl"))
        with zipfile.ZipFile(wheel) as zf:
            files = zf.namelist()
            index = []
            for name in names:
                prefix = f"botocore/data/{name}/"
                candidates = sorted(
                    f for f in files
                    if f.startswith(prefix) and f.endswith("/service-2.json.gz")
                    and f.count("/") == 4
                )
                if not candidates:
                    sys.exit(f"botocore {args.botocore} has no model for {name}")
                raw = gzip.decompress(zf.read(candidates[-1]))
                model = strip(json.loads(raw))
                # <name>.json is written by hand, <name>.<what>.json by a generator.
                for patch_file in sorted((HERE / "patches").glob(f"{name}.*json")):
                    if patch_file.name.split(".")[0] == name:
                        apply_patch(model, json.loads(patch_file.read_text()))
                data = json.dumps(model, separators=(",", ":"), sort_keys=True).encode()
                # mtime=0 keeps the output byte-identical across refreshes.
                buf = io.BytesIO()
                with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, compresslevel=9) as gz:
                    gz.write(data)
                (HERE / f"{name}.json.gz").write_bytes(buf.getvalue())
                index.append(index_entry(name, model))
            lic = zf.read(next(f for f in files if f.endswith(".dist-info/LICENSE.txt")))
            notice = zf.read(next(f for f in files if f.endswith(".dist-info/NOTICE")))
    (HERE / "LICENSE.botocore.txt").write_bytes(lic)
    (HERE / "NOTICE.botocore").write_bytes(notice)
    (HERE / "BOTOCORE_VERSION").write_text(args.botocore + "\n")
    (HERE / "index.json").write_text(json.dumps(
        {"botocore": args.botocore, "services": index}, indent=1, sort_keys=True) + "\n")
    print(f"vendored {len(index)} models from botocore {args.botocore}")


if __name__ == "__main__":
    main()
