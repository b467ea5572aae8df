"""SQS over the query protocol of older SDKs: form bodies posted to the endpoint or to the
queue URL itself, XML answers, legacy error codes."""

import hashlib
import xml.etree.ElementTree as ET

import pytest
import requests
from urllib.parse import urlsplit

NS = {"q": "http://queue.amazonaws.com/doc/2012-11-05/"}


def auth(account):
    return {"Authorization": f"AWS4-HMAC-SHA256 Credential={account}/20240101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0"}


def loopback(url, headers):
    """LocalStack-style queue URLs (`sqs.<region>.localhost.localstack.cloud`) resolve
    through public DNS only: resolve them here so the tests need no network."""
    parts = urlsplit(url)
    if parts.hostname and parts.hostname.endswith(".localhost.localstack.cloud"):
        headers = {**headers, "Host": parts.netloc}
        url = f"http://127.0.0.1:{parts.port}{parts.path}"
    return url, headers


def call(url, account, **params):
    url, headers = loopback(url, auth(account))
    r = requests.post(url, data={"Version": "2012-11-05", **params}, headers=headers, timeout=30)
    return r, ET.fromstring(r.content)


def test_query_protocol_round_trip(nephos, account):
    r, x = call(nephos.endpoint, account, Action="CreateQueue", QueueName="old",
                **{"Attribute.1.Name": "VisibilityTimeout", "Attribute.1.Value": "45",
                   "Tag.1.Key": "created", "Tag.1.Value": "yes"})
    assert r.status_code == 200
    url = x.find(".//q:QueueUrl", NS).text
    assert url == f"{nephos.endpoint}/queue/us-east-1/{account}/old"
    # Old SDKs post to the queue URL without a QueueUrl parameter.
    r, x = call(url, account, Action="SendMessage", MessageBody="hello",
                **{"MessageAttribute.1.Name": "n", "MessageAttribute.1.Value.DataType": "Number",
                   "MessageAttribute.1.Value.StringValue": "5"})
    assert r.status_code == 200
    assert x.find(".//q:MD5OfMessageBody", NS).text == hashlib.md5(b"hello").hexdigest()
    assert x.find(".//q:MD5OfMessageAttributes", NS).text
    r, x = call(nephos.endpoint, account, Action="ReceiveMessage", QueueUrl=url,
                **{"AttributeName.1": "All", "MessageAttributeName.1": "All", "MaxNumberOfMessages": "5"})
    msg = x.find(".//q:Message", NS)
    assert msg.find("q:Body", NS).text == "hello"
    attrs = {a.find("q:Name", NS).text: a.find("q:Value", NS).text for a in msg.findall("q:Attribute", NS)}
    assert attrs["ApproximateReceiveCount"] == "1" and attrs["SenderId"] == account
    ma = msg.find("q:MessageAttribute", NS)
    assert ma.find("q:Name", NS).text == "n"
    assert ma.find("q:Value/q:StringValue", NS).text == "5"
    handle = msg.find("q:ReceiptHandle", NS).text
    r, _ = call(url, account, Action="DeleteMessage", ReceiptHandle=handle)
    assert r.status_code == 200
    r, x = call(url, account, Action="GetQueueAttributes", **{"AttributeName.1": "All"})
    attrs = {a.find("q:Name", NS).text: a.find("q:Value", NS).text for a in x.findall(".//q:Attribute", NS)}
    assert attrs["VisibilityTimeout"] == "45" and attrs["ApproximateNumberOfMessages"] == "0"
    r, x = call(nephos.endpoint, account, Action="ListQueues")
    assert [u.text for u in x.findall(".//q:QueueUrl", NS)] == [url]
    r, x = call(url, account, Action="SendMessageBatch",
                **{"SendMessageBatchRequestEntry.1.Id": "a", "SendMessageBatchRequestEntry.1.MessageBody": "1",
                   "SendMessageBatchRequestEntry.2.Id": "b", "SendMessageBatchRequestEntry.2.MessageBody": "bad\x01"})
    assert r.status_code == 200
    assert x.find(".//q:SendMessageBatchResultEntry/q:Id", NS).text == "a"
    assert x.find(".//q:BatchResultErrorEntry/q:Code", NS).text == "InvalidMessageContents"
    assert call(url, account, Action="TagQueue", **{"Tag.1.Key": "k", "Tag.1.Value": "v"})[0].status_code == 200
    r, x = call(url, account, Action="ListQueueTags")
    tags = {t.find("q:Key", NS).text: t.find("q:Value", NS).text for t in x.findall(".//q:Tag", NS)}
    assert tags == {"created": "yes", "k": "v"}


@pytest.mark.parametrize("action,params,code,status", [
    ("GetQueueUrl", {"QueueName": "missing"}, "AWS.SimpleQueueService.NonExistentQueue", 400),
    ("SendMessageBatch", {k: v for i in range(11) for k, v in [(f"SendMessageBatchRequestEntry.{i + 1}.Id", f"e{i}"), (f"SendMessageBatchRequestEntry.{i + 1}.MessageBody", "x")]},
     "AWS.SimpleQueueService.TooManyEntriesInBatchRequest", 400),
    ("SendMessageBatch", {"SendMessageBatchRequestEntry.1.Id": "a", "SendMessageBatchRequestEntry.1.MessageBody": "x",
                          "SendMessageBatchRequestEntry.2.Id": "a", "SendMessageBatchRequestEntry.2.MessageBody": "y"},
     "AWS.SimpleQueueService.BatchEntryIdsNotDistinct", 400),
    ("DeleteMessage", {"ReceiptHandle": "junk"}, "ReceiptHandleIsInvalid", 404),
    ("CreateQueue", {"QueueName": "errs", "Attribute.1.Name": "DelaySeconds", "Attribute.1.Value": "1000"}, "InvalidAttributeValue", 400),
])
def test_query_errors_use_legacy_codes(nephos, account, action, params, code, status):
    _, x = call(nephos.endpoint, account, Action="CreateQueue", QueueName="errs")
    url = x.find(".//q:QueueUrl", NS).text
    target = url if action in ("SendMessageBatch", "DeleteMessage") else nephos.endpoint
    r, x = call(target, account, Action=action, **params)
    assert r.status_code == status
    assert x.find(".//q:Code", NS).text == code
    assert x.find(".//q:Type", NS).text == "Sender"


def test_query_purge_in_progress(nephos, account):
    _, x = call(nephos.endpoint, account, Action="CreateQueue", QueueName="p")
    url = x.find(".//q:QueueUrl", NS).text
    assert call(url, account, Action="PurgeQueue")[0].status_code == 200
    r, x = call(url, account, Action="PurgeQueue")
    assert r.status_code == 403
    assert x.find(".//q:Code", NS).text == "AWS.SimpleQueueService.PurgeQueueInProgress"


def test_signed_query_requests_with_verification(start_nephos, account):
    """A real SigV4-signed query request, as old SDKs send it, with verification on."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    server = start_nephos("--verify-signatures", "--quiet")
    creds = Credentials(account, "test")

    def signed(url, **params):
        req = AWSRequest(method="POST", url=url, data={"Version": "2012-11-05", **params},
                         headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
        SigV4Auth(creds, "sqs", "us-east-1").add_auth(req)
        p = req.prepare()
        target, headers = loopback(p.url, dict(p.headers))
        return requests.post(target, data=p.body, headers=headers, timeout=10)

    r = signed(server.endpoint, Action="CreateQueue", QueueName="signed")
    assert r.status_code == 200, r.text
    url = ET.fromstring(r.content).find(".//q:QueueUrl", NS).text
    r = signed(url, Action="SendMessage", MessageBody="s")
    assert r.status_code == 200, r.text
    import datetime
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    target, headers = loopback(url, {**auth(account), "X-Amz-Date": now})
    bad = requests.post(target, data={"Action": "SendMessage", "MessageBody": "x", "Version": "2012-11-05"},
                        headers=headers, timeout=10)
    assert bad.status_code == 403
    assert ET.fromstring(bad.content).find(".//q:Code", NS).text == "SignatureDoesNotMatch"
