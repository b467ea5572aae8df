"""Output-direction conformance: nephos serializes every ``output/*.json`` and
``legacy/output/*.json`` case of the AWS protocol test suites, and botocore's own response
parsers must read each response back into the case's ``result`` (or raise its error with
the same code, message and fields).

The serializing is done by ``cargo run -p nephos-protocol --example serialize_cases``, one
run per suite file. Parsing and comparison follow botocore's tests/unit/test_protocols.py.

Skip lists: ``crates/nephos-protocol/tests/skips/output-<stem>.txt`` (legacy files:
``legacy-output-<stem>.txt``), one ``CaseId  # reason`` per line. A skipped case that
passes fails the run, so the lists stay honest. Cases botocore itself ignores
(``protocol-tests-ignore-list.json``) are skipped when they fail, since botocore cannot
judge them.

Run one protocol: ``pytest tests/protocol/test_output_conformance.py -k rest-json``.
"""

import base64
import copy
import functools
import json
import math
import os
import re
import subprocess
from calendar import timegm
from pathlib import Path

import pytest
from botocore.awsrequest import HeadersDict
from botocore.eventstream import EventStream
from botocore.model import NoShapeFoundError, OperationModel, ServiceModel
from botocore.parsers import PROTOCOL_PARSERS
from botocore.utils import parse_timestamp
from dateutil.tz import tzutc

REPO = Path(__file__).resolve().parents[2]
SKIPS = REPO / "crates" / "nephos-protocol" / "tests" / "skips"


def _suites_dir():
    env = os.environ.get("NEPHOS_PROTOCOL_TESTS")
    if env:
        return Path(env)
    for parent in REPO.parents:
        candidate = parent / "shared" / "aws-protocol-tests"
        if candidate.is_dir():
            return candidate
    return REPO.parent / "shared" / "aws-protocol-tests"


SUITES = _suites_dir()


def _slug(text):
    return re.sub(r"[^A-Za-z0-9]", "_", text)


def _load(path):
    """Cases of a suite file as (suite index, case index, id, suite, case); ids are named
    exactly as the Rust harness names them (tests/conformance/support.rs)."""
    seen = set()
    out = []
    for si, suite in enumerate(json.loads(path.read_text())):
        for ci, case in enumerate(suite.get("cases", [])):
            cid = case.get("id") or f"{_slug(suite.get('description', 'case'))}-{ci}"
            if cid in seen:
                cid = f"{cid}-{si}"
            seen.add(cid)
            out.append((si, ci, cid, suite, case))
    return out


def _skip_list(name):
    path = SKIPS / f"{name}.txt"
    skips = {}
    if path.exists():
        for line in path.read_text().splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            cid, _, reason = line.partition("#")
            skips[cid.strip()] = reason.strip()
    return skips


@functools.lru_cache(maxsize=None)
def _botocore_ignored():
    data = json.loads((SUITES / "protocol-tests-ignore-list.json").read_text())
    ignored = set()
    for proto in data.get("protocols", {}).values():
        ignored.update(proto.get("output", {}).get("cases", []))
    return ignored


def _files():
    for rel in sorted(SUITES.glob("output/*.json")):
        yield rel, f"output-{rel.stem}"
    for rel in sorted(SUITES.glob("legacy/output/*.json")):
        yield rel, f"legacy-output-{rel.stem}"


def _params():
    params = []
    for path, skip_name in _files():
        for si, ci, cid, _suite, case in _load(path):
            if "response" not in case:
                continue
            params.append(
                pytest.param(
                    str(path), skip_name, si, ci, cid, id=f"{skip_name}:{cid}"
                )
            )
    return params


@functools.lru_cache(maxsize=None)
def _serialized(path):
    cmd = [
        "cargo",
        "run",
        "-q",
        "-p",
        "nephos-protocol",
        "--example",
        "serialize_cases",
        "--",
        path,
    ]
    run = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    if run.returncode != 0:
        raise RuntimeError(f"serialize_cases failed:\n{run.stderr}")
    lines = {}
    for line in run.stdout.splitlines():
        if line.strip():
            item = json.loads(line)
            lines[(item["suite"], item["case"])] = item
    return lines


class _RawStream:
    """What botocore's event stream parser reads a streamed body from."""

    def __init__(self, data):
        self._data = data

    def stream(self):
        yield self._data


def _timestamp(value):
    """Epoch seconds, keeping fractions (the suites expect `946845296.123`)."""
    dt = parse_timestamp(value).astimezone(tzutc())
    whole = timegm(dt.timetuple())
    return whole + dt.microsecond / 1e6 if dt.microsecond else whole


def _fixup(parsed):
    parsed.pop("ResponseMetadata", None)
    parsed = _normalize(parsed)
    for key, value in parsed.items():
        if isinstance(value, EventStream):
            parsed[key] = _normalize(list(value))
            break
    if "Error" in parsed:
        for key in list(parsed["Error"].keys()):
            if key not in ("Code", "Message"):
                del parsed["Error"][key]
    return parsed


def _normalize(value):
    """Bytes as text (the suites' blobs are UTF-8), non-finite floats as the strings the
    suites write them as."""
    if isinstance(value, dict):
        return {k: _normalize(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalize(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8")
    if hasattr(value, "read") and not isinstance(value, EventStream):
        return value.read().decode("utf-8")
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
    return value


def _parse(suite, case, item):
    protocol = suite["metadata"]["protocol"]
    description = copy.deepcopy({k: v for k, v in suite.items() if k != "cases"})
    name = case["given"].get("name", "OperationName")
    given = copy.deepcopy(case["given"])
    given.setdefault("name", name)
    # The query suites leave out the result wrapper that every real query model declares;
    # botocore's own protocol tests add it the same way (nephos writes <OpResult>).
    if protocol == "query" and "output" in given:
        given["output"].setdefault("resultWrapper", f"{name}Result")
    description["operations"] = {name: given}
    model = ServiceModel(description)
    operation = OperationModel(given, model, name)
    parser = PROTOCOL_PARSERS[protocol](timestamp_parser=_timestamp)
    body = base64.b64decode(item["body_base64"])
    headers = HeadersDict()
    for k, v in item["headers"]:
        headers[k] = v if k not in headers else f"{headers[k]}, {v}"
    response = {
        "status_code": item["status"],
        "headers": headers,
        "body": body,
        "context": {"operation_name": name},
    }
    if operation.has_event_stream_output:
        response["body"] = _RawStream(body)
    output_shape = operation.output_shape
    parsed = parser.parse(response, output_shape)
    if "error" in case:
        try:
            error_shape = model.shape_for_error_code(parsed["Error"]["Code"])
        except (NoShapeFoundError, KeyError, AttributeError):
            try:
                error_shape = model.shape_for(parsed["Error"]["Code"])
            except (NoShapeFoundError, KeyError):
                error_shape = None
        if error_shape is not None:
            parsed.update(parser.parse(response, error_shape))
    return _fixup(parsed)


def _expected(case):
    if "error" in case:
        expected = {
            "Error": {
                "Code": case.get("errorCode", ""),
                "Message": case.get("errorMessage", ""),
            }
        }
        expected.update(case["error"])
        return expected
    return case["result"]


def _check(path, si, ci):
    item = _serialized(path).get((si, ci))
    if item is None:
        raise AssertionError("serialize_cases printed nothing for this case")
    if "failure" in item:
        raise AssertionError(f"serialization failed: {item['failure']}")
    _, _, _, suite, case = next(c for c in _load(Path(path)) if c[:2] == (si, ci))
    parsed = _parse(suite, case, item)
    expected = _normalize(_expected(case))
    assert parsed == expected, (
        f"\nparsed   {json.dumps(parsed, default=str, sort_keys=True)}"
        f"\nexpected {json.dumps(expected, default=str, sort_keys=True)}"
        f"\nresponse status {item['status']} headers {item['headers']}"
        f"\nbody {base64.b64decode(item['body_base64'])!r}"
    )


@pytest.mark.parametrize("path, skip_name, si, ci, cid", _params())
def test_output(path, skip_name, si, ci, cid):
    reason = _skip_list(skip_name).get(cid)
    try:
        _check(path, si, ci)
    except Exception as e:  # noqa: BLE001 - any failure is the case's failure
        if reason is not None:
            pytest.skip(reason)
        if cid in _botocore_ignored():
            pytest.skip(f"botocore itself ignores this case: {e}")
        raise
    if reason is not None:
        pytest.fail(
            f"{cid} is listed in tests/skips/{skip_name}.txt but now passes: remove it"
        )
