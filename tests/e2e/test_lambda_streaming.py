"""Lambda response streaming: a runtime that posts its response in streaming mode
(`Lambda-Runtime-Function-Response-Mode: streaming`, chunked, errors in trailers) reaches
InvokeWithResponseStream callers as `PayloadChunk` events and RESPONSE_STREAM function URLs
as a chunked body while the function still runs; Node.js handlers wrapped in
`awslambda.streamifyResponse` stream through nephos's own bootstrap (with the
`HttpResponseStream` prelude for URLs), custom runtimes through their own POST."""

import base64
import http.client
import json
import time
import urllib.parse

import pytest

from lambdautil import create, invoke, node_available

pytestmark = pytest.mark.skipif(not node_available(), reason="needs node")

# Writes a chunk, waits a second, writes another: the first must reach the caller before
# the function is done.
NODE_SLOW = """
export const handler = awslambda.streamifyResponse(async (event, responseStream, context) => {
  responseStream.setContentType("text/plain");
  responseStream.write("first;");
  await new Promise((r) => setTimeout(r, 1000));
  console.log("between chunks");
  responseStream.write("second");
  responseStream.end();
});
"""

# A function URL's answer: the prelude sets status, headers and cookies.
NODE_HTTP = """
export const handler = awslambda.streamifyResponse(async (event, responseStream, context) => {
  const stream = awslambda.HttpResponseStream.from(responseStream, {
    statusCode: 201,
    headers: { "Content-Type": "text/plain", "X-Custom": "yes" },
    cookies: ["a=1; Path=/", "b=2"],
  });
  stream.write("hello ");
  await new Promise((r) => setTimeout(r, 1000));
  stream.end("world");
});
"""

# LocalStack's lambda_response_streaming.js (its answer recorded against AWS: 200,
# "Hello, world!"); `status` is no prelude key AWS reads.
NODE_LOCALSTACK = """
exports.handler = awslambda.streamifyResponse(
    async (event, responseStream, context) => {
        const metadata = {status: 200, headers: {'Content-Type': 'text/html', 'Cache-Control': 'no-cache'}};
        responseStream = awslambda.HttpResponseStream.from(responseStream, metadata);
        responseStream.write('Hello,');
        responseStream.write(' world!');
        responseStream.end();
    }
);
"""

NODE_FAILS = """
export const handler = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream.write("partial");
  await new Promise((r) => setTimeout(r, 200));
  throw new TypeError("broke mid-stream");
});
"""

NODE_HANGS = """
export const handler = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream.write("started");
  await new Promise((r) => setTimeout(r, 60000));
});
"""

NODE_BUFFERED = """
export const handler = async (event) => ({ statusCode: 200, body: JSON.stringify({ got: event.n }) });
"""

# A custom runtime that streams with a hand-written chunked POST: two chunks a second
# apart, or (for {"fail": true}) a chunk, then an error in the trailers.
STREAMING_BOOTSTRAP = r'''#!/usr/bin/env python3
import base64, http.client, json, os, time

host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
while True:
    c = http.client.HTTPConnection(host, int(port))
    c.request("GET", "/2018-06-01/runtime/invocation/next")
    r = c.getresponse()
    event = json.loads(r.read() or b"{}")
    rid = r.getheader("Lambda-Runtime-Aws-Request-Id")
    c.putrequest("POST", f"/2018-06-01/runtime/invocation/{rid}/response")
    c.putheader("Lambda-Runtime-Function-Response-Mode", "streaming")
    c.putheader("Transfer-Encoding", "chunked")
    c.putheader("Content-Type", "application/x-ndjson")
    c.putheader("Trailer", "Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body")
    c.endheaders()
    def chunk(data):
        c.send(b"%x\r\n%s\r\n" % (len(data), data))
    chunk(b'{"part": 1}\n')
    time.sleep(1)
    if event.get("fail"):
        body = base64.b64encode(json.dumps({"errorType": "Custom.Broken", "errorMessage": "gave up"}).encode())
        c.send(b"0\r\nLambda-Runtime-Function-Error-Type: Custom.Broken\r\nLambda-Runtime-Function-Error-Body: " + body + b"\r\n\r\n")
    else:
        chunk(b'{"part": 2}\n')
        c.send(b"0\r\n\r\n")
    c.getresponse().read()
    c.close()
'''


@pytest.fixture
def lam(nephos, account):
    return nephos.client("lambda", account=account)


def node(lam, name, code, **kw):
    create(lam, name, {"index.mjs": code}, runtime="nodejs20.x", **kw)


def read_stream(r):
    """The events of an InvokeWithResponseStream answer, each with its arrival time."""
    return [(time.monotonic(), e) for e in r["EventStream"]]


def payload(events):
    return b"".join(e["PayloadChunk"]["Payload"] for _, e in events if "PayloadChunk" in e)


def url_of(lam, name):
    url = lam.create_function_url_config(
        FunctionName=name, AuthType="NONE", InvokeMode="RESPONSE_STREAM"
    )["FunctionUrl"]
    lam.add_permission(
        FunctionName=name, StatementId="url", Action="lambda:InvokeFunctionUrl",
        Principal="*", FunctionUrlAuthType="NONE",
    )
    return url


def open_url(nephos, url, body=b"{}"):
    """POSTs to a function URL through nephos's port (its host in `Host`), answer unread."""
    conn = http.client.HTTPConnection("127.0.0.1", nephos.port, timeout=30)
    conn.request("POST", "/", body=body, headers={"Host": urllib.parse.urlsplit(url).netloc})
    return conn.getresponse()


def read_chunks(resp):
    """The body's pieces as they arrive, each with its arrival time."""
    out = []
    while True:
        data = resp.read1(65536)
        if not data:
            return out
        out.append((time.monotonic(), data))


def test_invoke_with_response_stream_delivers_chunks_while_the_function_runs(lam):
    node(lam, "slow", NODE_SLOW, timeout=10)
    r = lam.invoke_with_response_stream(FunctionName="slow", LogType="Tail")
    assert r["StatusCode"] == 200 and r["ExecutedVersion"] == "$LATEST"
    events = read_stream(r)
    assert payload(events) == b"first;second"
    chunks = [(t, e) for t, e in events if "PayloadChunk" in e]
    assert chunks[0][1]["PayloadChunk"]["Payload"] == b"first;"
    # The first chunk came a second before the function wrote its last.
    done_at, complete = events[-1]
    assert chunks[0][0] < done_at - 0.7
    assert "ErrorCode" not in complete["InvokeComplete"]
    log = base64.b64decode(complete["InvokeComplete"]["LogResult"]).decode()
    assert "between chunks" in log and "REPORT RequestId" in log


def test_a_streaming_function_invoked_buffered_answers_the_whole_stream(lam):
    node(lam, "slowbuf", NODE_SLOW, timeout=10)
    body, r = invoke(lam, "slowbuf")
    assert body == b"first;second" and "FunctionError" not in r


def test_a_mid_stream_error_ends_the_stream_with_it(lam):
    node(lam, "fails", NODE_FAILS)
    events = [e for _, e in read_stream(lam.invoke_with_response_stream(FunctionName="fails"))]
    assert payload([(0, e) for e in events]) == b"partial"
    complete = events[-1]["InvokeComplete"]
    assert complete["ErrorCode"] == "TypeError"
    details = json.loads(complete["ErrorDetails"])
    assert (details["errorType"], details["errorMessage"]) == ("TypeError", "broke mid-stream")
    # Invoked buffered, the error is the function's.
    body, r = invoke(lam, "fails")
    assert r["FunctionError"] == "Unhandled" and body["errorMessage"] == "broke mid-stream"


def test_a_stream_past_the_timeout_ends_timed_out(lam):
    node(lam, "hangs", NODE_HANGS, timeout=2)
    started = time.monotonic()
    events = [e for _, e in read_stream(lam.invoke_with_response_stream(FunctionName="hangs"))]
    assert time.monotonic() - started < 10
    assert payload([(0, e) for e in events]) == b"started"
    complete = events[-1]["InvokeComplete"]
    assert complete["ErrorCode"] == "Sandbox.Timedout"
    assert "Task timed out after 2.00 seconds" in complete["ErrorDetails"]


def test_a_buffered_function_streams_its_whole_payload(lam):
    node(lam, "buffered", NODE_BUFFERED)
    r = lam.invoke_with_response_stream(FunctionName="buffered", Payload=json.dumps({"n": 7}))
    events = [e for _, e in read_stream(r)]
    assert json.loads(payload([(0, e) for e in events])) == {"statusCode": 200, "body": '{"got":7}'}
    assert "ErrorCode" not in events[-1]["InvokeComplete"]


def test_a_response_stream_url_sends_the_prelude_then_the_body_as_written(nephos, lam):
    node(lam, "web", NODE_HTTP, timeout=10)
    resp = open_url(nephos, url_of(lam, "web"))
    assert resp.status == 201
    assert resp.getheader("Content-Type") == "text/plain"
    assert resp.getheader("X-Custom") == "yes"
    assert resp.headers.get_all("Set-Cookie") == ["a=1; Path=/", "b=2"]
    assert resp.getheader("Transfer-Encoding") == "chunked"
    chunks = read_chunks(resp)
    assert b"".join(c for _, c in chunks) == b"hello world"
    assert chunks[0][1] == b"hello "
    assert chunks[0][0] < chunks[-1][0] - 0.7


def test_localstacks_streaming_url_function_answers_as_on_aws(nephos, lam):
    create(lam, "lsstream", {"index.js": NODE_LOCALSTACK}, runtime="nodejs18.x")
    resp = open_url(nephos, url_of(lam, "lsstream"), body=b"{'key':'value'}")
    assert (resp.status, resp.read()) == (200, b"Hello, world!")
    assert resp.getheader("Content-Type") == "text/html"
    assert resp.getheader("Cache-Control") == "no-cache"


def test_a_response_stream_url_of_a_buffered_function_answers_its_raw_result(nephos, lam):
    # As AWS's answer to LocalStack's test_lambda_url_echo_invoke[RESPONSE_STREAM]: the
    # result is the body as it is, not read as a response object.
    node(lam, "bufurl", NODE_BUFFERED)
    resp = open_url(nephos, url_of(lam, "bufurl"))
    assert resp.status == 200
    assert json.loads(resp.read()) == {"statusCode": 200, "body": "{}"}


def test_a_url_stream_that_fails_mid_way_is_cut_off(nephos, lam):
    node(lam, "urlfails", NODE_FAILS)
    resp = open_url(nephos, url_of(lam, "urlfails"))
    assert resp.status == 200
    with pytest.raises(http.client.IncompleteRead) as e:
        resp.read()
    assert e.value.partial == b"partial"


def test_a_custom_runtime_streams_with_a_chunked_post(nephos, lam):
    create(lam, "custom", {"bootstrap": (STREAMING_BOOTSTRAP, 0o755)},
           runtime="provided.al2023", handler="x", timeout=10)
    r = lam.invoke_with_response_stream(FunctionName="custom")
    events = read_stream(r)
    assert payload(events) == b'{"part": 1}\n{"part": 2}\n'
    first = next(t for t, e in events if "PayloadChunk" in e)
    assert first < events[-1][0] - 0.7
    assert "ErrorCode" not in events[-1][1]["InvokeComplete"]
    # An error in the trailers ends the stream with it.
    r = lam.invoke_with_response_stream(FunctionName="custom", Payload=b'{"fail": true}')
    events = [e for _, e in read_stream(r)]
    assert payload([(0, e) for e in events]) == b'{"part": 1}\n'
    complete = events[-1]["InvokeComplete"]
    assert complete["ErrorCode"] == "Custom.Broken"
    assert json.loads(complete["ErrorDetails"])["errorMessage"] == "gave up"
    # Through a RESPONSE_STREAM URL: no prelude, so the body of a 200 in its content type.
    resp = open_url(nephos, url_of(lam, "custom"))
    assert (resp.status, resp.getheader("Content-Type")) == (200, "application/x-ndjson")
    chunks = read_chunks(resp)
    assert b"".join(c for _, c in chunks) == b'{"part": 1}\n{"part": 2}\n'
    assert chunks[0][0] < chunks[-1][0] - 0.7


NODE_BIG = """
export const handler = awslambda.streamifyResponse(async (event, responseStream) => {
  const mib = Buffer.alloc(1024 * 1024, 120);
  for (let i = 0; i < event.mib; i++) {
    if (!responseStream.write(mib)) await new Promise((r) => responseStream.once("drain", r));
  }
  responseStream.end();
});
"""


def test_a_stream_may_pass_6_mb_and_is_capped_at_2_mbps_beyond(lam):
    node(lam, "big", NODE_BIG, timeout=30)
    started = time.monotonic()
    r = lam.invoke_with_response_stream(FunctionName="big", Payload=json.dumps({"mib": 12}))
    events = [e for _, e in read_stream(r)]
    elapsed = time.monotonic() - started
    assert len(payload([(0, e) for e in events])) == 12 * 1024 * 1024
    assert "ErrorCode" not in events[-1]["InvokeComplete"]
    # The 6 MiB past the uncapped first 6 take at least 3 s at 2 MiB/s.
    assert elapsed > 2.5
    # Invoked buffered, the same stream is too large.
    body, r = invoke(lam, "big", {"mib": 7})
    assert r["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Function.ResponseSizeTooLarge"
