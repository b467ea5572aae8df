"""Lambda function URLs, the data plane: HTTP requests to `<id>.lambda-url.<region>.localhost`
on nephos's port run the function with the payload format 2.0 event and answer with its
result, as AWS's URL front end does (answers recorded from AWS in LocalStack's suite)."""

import json
import subprocess
import urllib.parse

import boto3
import pytest
import requests

from conftest import new_account
from lambdautil import create

# Echoes the event back as the response body.
ECHO = """
import json

def handler(event, context):
    return {"statusCode": 200, "body": json.dumps({"event": event})}
"""

RETURNS = "def handler(event, context):\n    return {value}\n"


def url_of(lam, name, auth="NONE", public=True, qualifier=None, **kw):
    """A function URL for `name` (by default one everyone may invoke, as the console sets up)."""
    q = {"Qualifier": qualifier} if qualifier else {}
    url = lam.create_function_url_config(FunctionName=name, AuthType=auth, **q, **kw)["FunctionUrl"]
    if public:
        lam.add_permission(
            FunctionName=name, StatementId="url", Action="lambda:InvokeFunctionUrl",
            Principal="*", FunctionUrlAuthType=auth, **q,
        )
    return url


def send(nephos, url, method="GET", path="", headers=None, **kw):
    """Sends to a function URL through nephos's address: the URL's host goes in `Host`, as a
    resolver of `*.localhost` (curl, browsers) would send it."""
    u = urllib.parse.urlsplit(url)
    return requests.request(
        method, f"{nephos.endpoint}{path or '/'}", headers={"Host": u.netloc, **(headers or {})},
        timeout=30, **kw,
    )


@pytest.fixture
def lam(nephos, account):
    return nephos.client("lambda", account=account)


@pytest.mark.parametrize("value,content", [
    ('{"hello": "world"}', '{"hello":"world"}'),
    ('{"statusCode": 200, "body": "body123"}', "body123"),
    ('["hello", 3, True]', '["hello",3,true]'),
    ('"hello"', "hello"),
    ("3", "3"),
    ("3.1", "3.1"),
    ("True", "true"),
])
def test_results_become_answers(nephos, lam, value, content):
    create(lam, "ret", {"index.py": RETURNS.format(value=value)})
    url = url_of(lam, "ret")
    r = send(nephos, url, "POST", "/custom_path/extend?test_param=test_value", data=b"{'key':'value'}")
    assert (r.status_code, r.text) == (200, content)
    assert r.headers["Content-Type"] == "application/json"
    assert r.headers["Content-Length"] == str(len(content))
    assert r.headers["x-amzn-RequestId"]


def test_the_event_is_payload_format_2(nephos, lam, account):
    create(lam, "echo", {"index.py": ECHO})
    url = url_of(lam, "echo")
    host = urllib.parse.urlsplit(url).netloc
    r = send(
        nephos, url, "POST", "/pa2%2Fth/1?q=query&multiQuery=foo&multiQuery=%2Fbar",
        headers={"Content-Type": "text/plain", "ExTrA-HeadErs": "With WeiRd CapS", "User-Agent": "test/echo",
                 "Cookie": "a=1; b=2"},
        data=b"text",
    )
    assert r.status_code == 200, r.text
    e = r.json()["event"]
    assert (e["version"], e["routeKey"], e["rawPath"]) == ("2.0", "$default", "/pa2%2Fth/1")
    assert e["rawQueryString"] == "q=query&multiQuery=foo&multiQuery=%2Fbar"
    assert e["queryStringParameters"] == {"q": "query", "multiQuery": "foo,/bar"}
    assert e["headers"]["extra-headers"] == "With WeiRd CapS"
    assert e["headers"]["host"] == host and "cookie" not in e["headers"]
    assert "connection" not in e["headers"]  # hop-by-hop: it ends at the front end
    assert e["cookies"] == ["a=1", "b=2"]
    assert (e["body"], e["isBase64Encoded"]) == ("text", False)
    rc = e["requestContext"]
    domain = host.split(":")[0]
    assert rc["accountId"] == "anonymous"
    assert (rc["apiId"], rc["domainPrefix"], rc["domainName"]) == (domain.split(".")[0], domain.split(".")[0], domain)
    assert rc["http"] == {"method": "POST", "path": "/pa2%2Fth/1", "protocol": "HTTP/1.1",
                          "sourceIp": "127.0.0.1", "userAgent": "test/echo"}
    assert (rc["routeKey"], rc["stage"]) == ("$default", "$default")
    assert rc["requestId"] == r.headers["x-amzn-RequestId"]
    assert isinstance(rc["timeEpoch"], int) and rc["time"].endswith(" +0000")
    # Binary bodies travel base64-encoded; a request without a body has none.
    r = send(nephos, url, "PUT", headers={"Content-Type": "application/octet-stream"}, data=b"\x00\xff")
    e = r.json()["event"]
    assert (e["body"], e["isBase64Encoded"]) == ("AP8=", True)
    e = send(nephos, url).json()["event"]
    assert "body" not in e and e["isBase64Encoded"] is False and "queryStringParameters" not in e


def test_response_objects_set_status_headers_cookies_and_binary_bodies(nephos, lam):
    code = """
import base64, json

def handler(event, context):
    ask = json.loads(event["body"])
    if ask.get("binary"):
        return {"statusCode": 200, "headers": {"Content-Type": "image/png"},
                "body": base64.b64encode(b"\\x89PNG").decode(), "isBase64Encoded": True}
    return ask
"""
    create(lam, "shaped", {"index.py": code})
    url = url_of(lam, "shaped")
    r = send(nephos, url, "POST", json={
        "statusCode": 201, "headers": {"Content-Type": "application/json", "My-Custom-Header": "Custom Value"},
        "cookies": ["c1=v1; Path=/", "c2=v2"], "body": json.dumps({"message": "hello-world"}),
    })
    assert (r.status_code, r.json()) == (201, {"message": "hello-world"})
    assert r.headers["my-custom-header"] == "Custom Value"
    assert r.raw.headers.getlist("Set-Cookie") == ["c1=v1; Path=/", "c2=v2"]
    r = send(nephos, url, "POST", json={"statusCode": "418", "body": "i'm a teapot"})
    assert (r.status_code, r.text) == (418, "i'm a teapot")
    r = send(nephos, url, "POST", json={"binary": True})
    assert (r.status_code, r.content, r.headers["Content-Type"]) == (200, b"\x89PNG", "image/png")


def test_function_errors_answer_502(nephos, lam):
    create(lam, "boom", {"index.py": "def handler(event, context):\n    raise ValueError('no')\n"})
    url = url_of(lam, "boom")
    r = send(nephos, url, "POST", data=b"{}")
    assert (r.status_code, r.text) == (502, "Internal Server Error")


def test_urls_need_the_permission_their_auth_type_asks_for(nephos, lam, account):
    create(lam, "private", {"index.py": RETURNS.format(value='"ok"')})
    url = url_of(lam, "private", public=False)
    r = send(nephos, url)
    assert (r.status_code, r.json()) == (403, {
        "Message": "Forbidden. For troubleshooting Function URL authorization issues, see: "
                   "https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html"})
    assert r.headers["x-amzn-ErrorType"] == "AccessDeniedException"
    # A permission for AWS_IAM URLs does not open a NONE one.
    lam.add_permission(FunctionName="private", StatementId="iam", Action="lambda:InvokeFunctionUrl",
                       Principal="*", FunctionUrlAuthType="AWS_IAM")
    assert send(nephos, url).status_code == 403
    lam.add_permission(FunctionName="private", StatementId="none", Action="lambda:InvokeFunctionUrl",
                       Principal="*", FunctionUrlAuthType="NONE")
    assert (send(nephos, url).status_code, send(nephos, url).text) == (200, "ok")
    # An unknown URL id.
    r = send(nephos, "http://0123456789abcdefghijklmnopqrstuv.lambda-url.us-east-1.localhost:1/")
    assert (r.status_code, r.text, r.headers["x-amzn-ErrorType"]) == (403, '{"Message":null}', "AccessDeniedException")


def test_aws_iam_urls_take_signed_requests(nephos, lam, account):
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    create(lam, "signed", {"index.py": ECHO})
    url = url_of(lam, "signed", auth="AWS_IAM", public=False)
    host = urllib.parse.urlsplit(url).netloc

    def signed(key):
        req = AWSRequest("GET", f"http://{host}/x", headers={"Host": host})
        SigV4Auth(Credentials(key, "test"), "lambda", "us-east-1").add_auth(req)
        return send(nephos, url, path="/x", headers=dict(req.headers))

    assert send(nephos, url).status_code == 403
    r = signed(account)
    assert r.status_code == 200, r.text
    iam = r.json()["event"]["requestContext"]["authorizer"]["iam"]
    assert (iam["accountId"], iam["accessKey"], iam["userArn"]) == (account, account, f"arn:aws:iam::{account}:root")
    assert r.json()["event"]["requestContext"]["accountId"] == account
    # Another account needs the function's policy to name it.
    other = new_account()
    assert signed(other).status_code == 403
    lam.add_permission(FunctionName="signed", StatementId="other", Action="lambda:InvokeFunctionUrl",
                       Principal=other, FunctionUrlAuthType="AWS_IAM")
    assert signed(other).status_code == 200


def test_an_alias_url_runs_the_alias_version(nephos, lam):
    create(lam, "versions", {"index.py": RETURNS.format(value='"one"')})
    lam.publish_version(FunctionName="versions")
    lam.create_alias(FunctionName="versions", Name="live", FunctionVersion="1")
    lam.update_function_code(FunctionName="versions", ZipFile=__import__("lambdautil").zip_bytes(
        {"index.py": RETURNS.format(value='"two"')}))
    lam.get_waiter("function_updated_v2").wait(FunctionName="versions", WaiterConfig={"Delay": 0.1})
    live = url_of(lam, "versions", qualifier="live")
    latest = url_of(lam, "versions")
    assert live != latest
    assert send(nephos, live).text == "one"
    assert send(nephos, latest).text == "two"


def test_cors_rules_answer_preflights_and_requests(nephos, lam):
    create(lam, "web", {"index.py": RETURNS.format(value='"hi"')})
    url = url_of(lam, "web", Cors={
        "AllowOrigins": ["https://app.example"], "AllowMethods": ["GET", "POST"],
        "AllowHeaders": ["x-custom"], "ExposeHeaders": ["x-out"], "MaxAge": 300, "AllowCredentials": True,
    })
    pre = send(nephos, url, "OPTIONS", headers={
        "Origin": "https://app.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "x-custom"})
    assert pre.status_code == 200
    assert pre.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert pre.headers["Access-Control-Allow-Methods"] == "GET,POST"
    assert pre.headers["Access-Control-Allow-Headers"] == "x-custom"
    assert pre.headers["Access-Control-Max-Age"] == "300"
    assert pre.headers["Access-Control-Allow-Credentials"] == "true"
    r = send(nephos, url, headers={"Origin": "https://app.example"})
    assert r.text == "hi" and r.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert r.headers["Access-Control-Expose-Headers"] == "x-out"
    # An origin the rules do not name gets no CORS headers (the browser refuses).
    other = send(nephos, url, "OPTIONS", headers={"Origin": "https://evil.example",
                                                   "Access-Control-Request-Method": "POST"})
    assert "Access-Control-Allow-Origin" not in other.headers
    assert "Access-Control-Allow-Origin" not in send(nephos, url, headers={"Origin": "https://evil.example"}).headers


def test_curl_reaches_the_url_as_printed(nephos, lam):
    """curl resolves `*.localhost` to the loopback address itself, so the URL Lambda
    printed works as is."""
    create(lam, "curl", {"index.py": RETURNS.format(value='{"from": "curl"}')})
    url = url_of(lam, "curl")
    out = subprocess.run(["curl", "-s", "-w", "\\n%{http_code}", url + "path?x=1"],
                         capture_output=True, text=True, timeout=30)
    body, status = out.stdout.rsplit("\n", 1)
    assert (status, json.loads(body)) == ("200", {"from": "curl"}), out.stderr
