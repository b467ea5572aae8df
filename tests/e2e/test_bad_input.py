"""Bad input never panics, hangs or loses the server: it gets a 4xx in AWS's format."""

import socket

import pytest
import requests

SIGNED = "AWS4-HMAC-SHA256 Credential=123456789012/20240101/us-east-1/{svc}/aws4_request, SignedHeaders=host, Signature=00"


def post(nephos, svc, body, headers, path="/", method="POST"):
    h = {"Authorization": SIGNED.format(svc=svc), **headers}
    return requests.request(method, nephos.endpoint + path, data=body, headers=h, timeout=10)


CASES = [
    # (id, service, body, headers, path, method, expected status, text in the error)
    ("json-malformed", "dynamodb", b"{", {"X-Amz-Target": "DynamoDB_20120810.ListTables", "Content-Type": "application/x-amz-json-1.0"}, "/", "POST", 400, "SerializationException"),
    ("json-not-an-object", "dynamodb", b"[1,2]", {"X-Amz-Target": "DynamoDB_20120810.ListTables", "Content-Type": "application/x-amz-json-1.0"}, "/", "POST", 400, "SerializationException"),
    ("json-invalid-utf8", "dynamodb", b'{"TableName": "\xff\xfe"}', {"X-Amz-Target": "DynamoDB_20120810.DescribeTable", "Content-Type": "application/x-amz-json-1.0"}, "/", "POST", 400, "SerializationException"),
    ("json-wrong-type", "dynamodb", b'{"Limit": "ten"}', {"X-Amz-Target": "DynamoDB_20120810.ListTables", "Content-Type": "application/x-amz-json-1.0"}, "/", "POST", 400, ""),
    ("json-unknown-operation", "dynamodb", b"{}", {"X-Amz-Target": "DynamoDB_20120810.Teleport", "Content-Type": "application/x-amz-json-1.0"}, "/", "POST", 400, "UnknownOperationException"),
    ("json-missing-required", "dynamodb", b"{}", {"X-Amz-Target": "DynamoDB_20120810.DescribeTable", "Content-Type": "application/x-amz-json-1.0"}, "/", "POST", 400, "ValidationException"),
    ("query-wrong-content-type", "sts", b"Action=GetCallerIdentity&Version=2011-06-15", {"Content-Type": "application/json"}, "/", "POST", 400, "MissingAction"),
    ("json-wrong-content-type", "dynamodb", b"Action=ListTables", {"X-Amz-Target": "DynamoDB_20120810.ListTables", "Content-Type": "application/x-www-form-urlencoded"}, "/", "POST", 400, "SerializationException"),
    ("query-unknown-action", "sts", b"Action=Teleport&Version=2011-06-15", {"Content-Type": "application/x-www-form-urlencoded"}, "/", "POST", 400, "InvalidAction"),
    ("query-invalid-utf8", "sts", b"Action=GetAccessKeyInfo&Version=2011-06-15&AccessKeyId=%FF%FE%FD%FC%FB%FA%F9%F8%F7%F6%F5%F4%F3%F2%F1%F0", {"Content-Type": "application/x-www-form-urlencoded"}, "/", "POST", 400, ""),
    ("query-bad-integer", "sts", b"Action=GetSessionToken&Version=2011-06-15&DurationSeconds=soon", {"Content-Type": "application/x-www-form-urlencoded"}, "/", "POST", 400, ""),
    ("rest-xml-malformed", "s3", b"<Tagging><TagSet><Tag><Key>a</Key>", {"Content-Type": "application/xml"}, "/bucket?tagging", "PUT", 400, "MalformedXML"),
    ("rest-xml-not-xml", "s3", b"\x00\x01\x02garbage", {"Content-Type": "application/xml"}, "/bucket?tagging", "PUT", 400, "MalformedXML"),
    ("rest-json-malformed", "lambda", b"{nope", {"Content-Type": "application/json"}, "/2015-03-31/functions", "POST", 400, ""),
    ("cbor-malformed", "monitoring", b"\xbf\x61", {"smithy-protocol": "rpc-v2-cbor", "Content-Type": "application/cbor"}, "/service/GraniteServiceVersion20100801/operation/ListDashboards", "POST", 400, ""),
    ("cbor-unknown-operation", "monitoring", b"\xa0", {"smithy-protocol": "rpc-v2-cbor", "Content-Type": "application/cbor"}, "/service/GraniteServiceVersion20100801/operation/Teleport", "POST", 404, ""),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_gets_an_aws_error(nephos, case):
    _, svc, body, headers, path, method, status, text = case
    r = post(nephos, svc, body, headers, path, method)
    assert r.status_code == status, r.text
    assert text in r.text
    assert r.headers.get("x-amzn-requestid") or r.headers.get("x-amz-request-id")
    # Still alive and well.
    assert requests.get(nephos.endpoint + "/_nephos/health", timeout=5).status_code == 200


def test_oversized_headers_are_refused(nephos):
    r = requests.get(nephos.endpoint + "/", headers={"X-Big": "a" * 300_000}, timeout=10)
    assert r.status_code in (400, 431)
    assert requests.get(nephos.endpoint + "/_nephos/health", timeout=5).status_code == 200


def test_oversized_body_is_refused(nephos):
    body = b"{" + b" " * (101 * 1024 * 1024)
    r = post(nephos, "dynamodb", body, {"X-Amz-Target": "DynamoDB_20120810.ListTables", "Content-Type": "application/x-amz-json-1.0"})
    assert r.status_code == 413


def test_garbage_on_the_socket_does_not_hang(nephos):
    with socket.create_connection(("127.0.0.1", nephos.port), timeout=5) as s:
        s.sendall(b"\x16\x03\x01\x02\x00garbage that is not http\r\n\r\n")
        data = s.recv(1024)
    assert data == b"" or data.startswith(b"HTTP/1.1 400")
    assert requests.get(nephos.endpoint + "/_nephos/health", timeout=5).status_code == 200


def test_truncated_body_does_not_hang(nephos):
    with socket.create_connection(("127.0.0.1", nephos.port), timeout=10) as s:
        s.sendall(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: 100\r\n\r\nAction=GetCallerIdentity"
        )
        s.shutdown(socket.SHUT_WR)
        data = s.recv(4096)
    assert data == b"" or b" 400 " in data.split(b"\r\n")[0]
