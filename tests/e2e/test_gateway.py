"""The gateway: internal endpoints, resolution, 501s, CORS, request ids, lifecycle."""

import json
import shutil
import signal
import subprocess
import time

import pytest
import requests
from botocore.exceptions import ClientError


def test_health_lists_every_vendored_service(nephos):
    for path in ("/_nephos/health", "/_localstack/health"):
        health = requests.get(nephos.endpoint + path, timeout=5).json()
        assert health["services"]["sts"] == "running"
        assert health["services"]["s3"] in ("running", "available")
        assert len(health["services"]) >= 60
        assert health["data"] == "ephemeral"


def test_clock_advances_on_request(start_nephos):
    nephos = start_nephos()
    before = nephos.internal("/_nephos/clock")
    after = nephos.internal("/_nephos/clock", {"advance_seconds": 3600})
    assert after["offset_ms"] - before["offset_ms"] == 3_600_000
    assert after["now_ms"] - before["now_ms"] >= 3_600_000
    bad = requests.post(nephos.endpoint + "/_nephos/clock", data="{}", timeout=5)
    assert bad.status_code == 400


def test_clock_moves_sts_expirations(start_nephos):
    server = start_nephos()
    now_ms = server.internal("/_nephos/clock", {"advance_seconds": 86400 * 365})["now_ms"]
    creds = server.client("sts").get_session_token(DurationSeconds=900)["Credentials"]
    expires = creds["Expiration"].timestamp()
    assert abs(expires - (now_ms / 1000 + 900)) < 5
    assert expires > time.time() + 86400 * 364


def test_reset_forgets_state(start_nephos, account):
    server = start_nephos()
    sts = server.client("sts", account=account)
    key = sts.get_session_token()["Credentials"]["AccessKeyId"]
    assert sts.get_access_key_info(AccessKeyId=key)["Account"] == account
    assert server.internal("/_nephos/reset", {}) == {"reset": True}
    assert sts.get_access_key_info(AccessKeyId=key)["Account"] == "000000000000"


def test_unknown_internal_endpoint_is_404(nephos):
    assert requests.get(nephos.endpoint + "/_nephos/nope", timeout=5).status_code == 404


@pytest.mark.parametrize(
    "service,call",
    [
        ("kinesis", lambda c: c.list_streams()),  # json 1.1 (sqs, the query-compatible one, is implemented)
        ("dynamodb", lambda c: c.describe_limits()),  # json 1.0
        ("lambda", lambda c: c.list_capacity_providers()),  # rest-json
        ("s3", lambda c: c.get_object_torrent(Bucket="b", Key="k")),  # rest-xml
        ("ec2", lambda c: c.describe_vpcs()),  # ec2
        ("elasticache", lambda c: c.describe_cache_clusters()),  # query
        ("cloudwatch", lambda c: c.list_dashboards()),  # rpc-v2-cbor
    ],
)
def test_unimplemented_operations_answer_501_in_their_protocol(nephos, service, call):
    with pytest.raises(ClientError) as e:
        call(nephos.client(service))
    resp = e.value.response
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert resp["Error"]["Code"] == "NotImplemented"
    assert service in resp["Error"]["Message"]
    assert resp["ResponseMetadata"].get("RequestId")


def test_unknown_service_is_501(nephos):
    r = requests.post(
        nephos.endpoint + "/",
        headers={"Authorization": "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/nosuchservice/aws4_request, SignedHeaders=host, Signature=00"},
        timeout=5,
    )
    assert r.status_code == 501
    assert "nosuchservice" in r.text


def test_dynamodb_responses_carry_crc32(nephos):
    client = nephos.client("dynamodb")
    headers = client.list_tables()["ResponseMetadata"]["HTTPHeaders"]
    assert "x-amz-crc32" in headers


def test_cors_preflight_and_actual_request(nephos):
    pre = requests.options(
        nephos.endpoint + "/",
        headers={
            "Origin": "http://app.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,x-amz-date,content-type",
        },
        timeout=5,
    )
    assert pre.status_code == 200
    assert pre.headers["access-control-allow-origin"] == "http://app.example"
    assert "POST" in pre.headers["access-control-allow-methods"]
    assert "x-amz-date" in pre.headers["access-control-allow-headers"]
    actual = requests.post(
        nephos.endpoint + "/",
        data="Action=GetCallerIdentity&Version=2011-06-15",
        headers={
            "Origin": "http://app.example",
            "Content-Type": "application/x-www-form-urlencoded",
            "Authorization": "AWS4-HMAC-SHA256 Credential=123456789012/20240101/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=00",
        },
        timeout=5,
    )
    assert actual.status_code == 200
    assert actual.headers["access-control-allow-origin"] == "http://app.example"
    assert "x-amzn-requestid" in actual.headers["access-control-expose-headers"]
    assert "<Account>123456789012</Account>" in actual.text


def test_region_comes_from_the_signature_scope(nephos, account):
    # The same account in two regions: STS answers both (it is global per account).
    for region in ("us-east-1", "eu-central-1", "ap-southeast-2"):
        assert nephos.client("sts", account=account, region=region).get_caller_identity()["Account"] == account


def test_sigterm_shuts_down_cleanly(start_nephos):
    server = start_nephos()
    assert server.client("sts").get_caller_identity()
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(timeout=10) == 0
    server2 = start_nephos()
    server2.proc.send_signal(signal.SIGINT)
    assert server2.proc.wait(timeout=10) == 0


def _log_of(args, calls):
    """Everything nephos (started with `args`) printed while it served `calls`
    GetCallerIdentity requests on one connection and then stopped on SIGTERM."""
    from conftest import nephos_binary

    proc = subprocess.Popen(
        [nephos_binary(), "--port", "0", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        endpoint = None
        while endpoint is None:
            line = proc.stdout.readline()
            if "ready on" in line:
                endpoint = line.split("ready on ")[1].split()[0]
        with requests.Session() as s:
            for _ in range(calls):
                s.post(endpoint + "/", data="Action=GetCallerIdentity&Version=2011-06-15",
                       headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=5)
        proc.send_signal(signal.SIGTERM)
        return proc.communicate(timeout=10)[0]
    finally:
        proc.kill()


def test_request_log_lines_name_service_operation_status(tmp_path):
    out = _log_of([], 1)
    lines = [l for l in out.splitlines() if "GetCallerIdentity" in l]
    assert lines, out
    assert "service=sts" in lines[0] and "status=200" in lines[0] and "ms=" in lines[0]


def test_quiet_mode_logs_no_requests():
    assert "GetCallerIdentity" not in _log_of(["--quiet"], 1)


def test_virtual_host_style_reaches_s3(nephos):
    # No signature, only the Host names the bucket: S3 answers in its own XML error
    # format, for the bucket the host names.
    r = requests.get(
        nephos.endpoint + "/some/key.txt",
        headers={"Host": f"my-bucket.s3.localhost:{nephos.port}"},
        timeout=5,
    )
    assert r.status_code == 404
    assert r.text.startswith("<?xml") or r.text.startswith("<Error>")
    assert "<Code>NoSuchBucket</Code>" in r.text
    assert r.headers.get("x-amz-request-id")


def test_localstack_style_hosts_resolve(nephos):
    r = requests.post(
        nephos.endpoint + "/",
        data="Action=GetCallerIdentity&Version=2011-06-15",
        headers={
            "Host": f"sts.us-east-1.localhost.localstack.cloud:{nephos.port}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
        timeout=5,
    )
    assert r.status_code == 200
    assert "<GetCallerIdentityResult>" in r.text


def test_http2_prior_knowledge(nephos):
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    out = subprocess.run(
        ["curl", "-s", "--http2-prior-knowledge", "-o", "-", "-w", "\n%{http_version}",
         "-H", "Content-Type: application/x-www-form-urlencoded",
         "-d", "Action=GetCallerIdentity&Version=2011-06-15", nephos.endpoint + "/"],
        capture_output=True, text=True, timeout=10,
    )
    body, version = out.stdout.rsplit("\n", 1)
    assert version == "2"
    assert "<Account>000000000000</Account>" in body


def test_expect_continue_with_empty_body_gets_100_continue(nephos, account):
    """AWS answers `100 Continue` even when the body is empty; hyper alone would not."""
    import socket

    s = socket.create_connection(("127.0.0.1", nephos.port), timeout=5)
    auth = (
        f"AWS4-HMAC-SHA256 Credential={account}/20250101/us-east-1/s3/aws4_request, "
        "SignedHeaders=host, Signature=00"
    )
    s.sendall(
        b"PUT /expect-continue-empty HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n"
        b"Expect: 100-continue\r\nAuthorization: " + auth.encode() + b"\r\n\r\n"
    )
    data = b""
    while b"\r\n\r\nHTTP/1.1 200" not in data or not data.endswith(b"\r\n\r\n"):
        chunk = s.recv(4096)
        assert chunk, data
        data += chunk
    assert data.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"), data
    # Without the expectation nothing interim is sent.
    s.sendall(
        b"GET /expect-continue-empty?list-type=2 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Authorization: " + auth.encode() + b"\r\n\r\n"
    )
    reply = s.recv(4096)
    assert reply.startswith(b"HTTP/1.1 200 OK\r\n"), reply
    s.close()


def test_empty_file_then_nonempty_upload_on_one_connection_is_fast(nephos, tmp_path):
    """botocore keeps an early final answer's status line for the connection; without
    `100 Continue` for the empty upload the next upload stalls until its read timeout."""
    import io

    s3 = nephos.client("s3", config_args={"read_timeout": 20})
    s3.create_bucket(Bucket="expect-continue-files")
    started = time.monotonic()
    for i in range(3):
        s3.put_object(Bucket="expect-continue-files", Key=f"empty{i}", Body=io.BytesIO(b""))
        s3.put_object(Bucket="expect-continue-files", Key=f"full{i}", Body=io.BytesIO(b"x" * 10))
    assert time.monotonic() - started < 5
    assert s3.get_object(Bucket="expect-continue-files", Key="full2")["Body"].read() == b"x" * 10


def test_request_log_keeps_every_line_through_a_clean_shutdown():
    """The request log is written by its own thread in batches; SIGTERM still writes out
    every line queued."""
    lines = [l for l in _log_of([], 500).splitlines() if "operation=GetCallerIdentity" in l]
    assert len(lines) == 500
    assert all(" INFO service=sts operation=GetCallerIdentity status=200 ms=" in l for l in lines)
