"""SNS delivery: fan-out to SQS (wrapped and raw, filter policies on attributes and body,
FIFO), real HTTP subscribers (confirmation, headers, retries on the nephos clock,
dead-letter queues), signatures verified with `cryptography` as AWS documents, the outbox
for email/SMS/Lambda, and Publish/PublishBatch validation."""

import base64
import re
import http.server
import json
import queue
import threading
import time
import urllib.request

import pytest
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from snsutil import allow_topic


def err(excinfo):
    e = excinfo.value.response["Error"]
    return e["Code"], e["Message"]


@pytest.fixture
def clients(nephos, account):
    return nephos.client("sns", account=account), nephos.client("sqs", account=account)


def make_queue(sqs, name, sns_may_send=True, **attrs):
    """A queue; unless told otherwise, its policy lets any topic of the account deliver."""
    url = sqs.create_queue(QueueName=name, Attributes=attrs)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    if sns_may_send:
        account = arn.split(":")[4]
        allow_topic(sqs, url, f"arn:aws:sns:*:{account}:*")
    return url, arn


def receive(sqs, url, n=1, wait=5, **kw):
    got = []
    deadline = time.monotonic() + wait
    while len(got) < n and time.monotonic() < deadline:
        r = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                MessageAttributeNames=["All"], **kw)
        got.extend(r.get("Messages", []))
    return got


def verify(nephos, msg):
    """AWS's documented verification: fetch the certificate, rebuild the string to sign."""
    with urllib.request.urlopen(msg["SigningCertURL"]) as resp:
        cert = x509.load_pem_x509_certificate(resp.read())
    if msg["Type"] == "Notification":
        fields = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
    else:
        fields = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]
    text = "".join(f"{k}\n{msg[k]}\n" for k in fields if k in msg)
    algo = hashes.SHA256() if msg["SignatureVersion"] == "2" else hashes.SHA1()
    cert.public_key().verify(base64.b64decode(msg["Signature"]), text.encode(), padding.PKCS1v15(), algo)


def test_sqs_fanout_wrapped_and_raw(nephos, clients, account):
    sns, sqs = clients
    topic = sns.create_topic(Name="fan")["TopicArn"]
    wrapped_url, wrapped = make_queue(sqs, "wrapped")
    raw_url, raw = make_queue(sqs, "raw")
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=wrapped)
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=raw, Attributes={"RawMessageDelivery": "true"})
    attrs = {
        "color": {"DataType": "String", "StringValue": "blue"},
        "n": {"DataType": "Number", "StringValue": "42"},
        "bin": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
    }
    mid = sns.publish(TopicArn=topic, Message="hello world", Subject="greeting", MessageAttributes=attrs)["MessageId"]
    [w] = receive(sqs, wrapped_url)
    env = json.loads(w["Body"])
    assert env["Type"] == "Notification"
    assert env["MessageId"] == mid
    assert env["TopicArn"] == topic
    assert env["Subject"] == "greeting"
    assert env["Message"] == "hello world"
    assert env["Timestamp"].endswith("Z") and len(env["Timestamp"]) == 24
    assert env["SignatureVersion"] == "1"
    # Named like AWS's: SimpleNotificationService-<hash>.pem.
    assert re.search(r"/_nephos/sns/SimpleNotificationService-[0-9a-f]{32}\.pem$", env["SigningCertURL"])
    assert "Action=Unsubscribe" in env["UnsubscribeURL"]
    assert env["MessageAttributes"]["color"] == {"Type": "String", "Value": "blue"}
    assert env["MessageAttributes"]["n"] == {"Type": "Number", "Value": "42"}
    assert env["MessageAttributes"]["bin"] == {"Type": "Binary", "Value": base64.b64encode(b"\x00\x01").decode()}
    assert list(env)[:4] == ["Type", "MessageId", "TopicArn", "Subject"]
    verify(nephos, env)
    [r] = receive(sqs, raw_url)
    assert r["Body"] == "hello world"
    assert r["MessageAttributes"]["color"] == {"StringValue": "blue", "DataType": "String"}
    assert r["MessageAttributes"]["n"]["StringValue"] == "42"
    assert r["MessageAttributes"]["bin"]["BinaryValue"] == b"\x00\x01"


def test_publish_returns_before_delivery_and_fans_out_to_many(clients):
    sns, sqs = clients
    topic = sns.create_topic(Name="many")["TopicArn"]
    urls = []
    for i in range(5):
        url, arn = make_queue(sqs, f"m{i}")
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
        urls.append(url)
    for i in range(20):
        sns.publish(TopicArn=topic, Message=f"m{i}")
    for url in urls:
        got = receive(sqs, url, n=20)
        assert sorted(m["Body"] for m in got) == sorted(f"m{i}" for i in range(20))


def test_filter_policies_attributes_and_body(clients):
    sns, sqs = clients
    topic = sns.create_topic(Name="filtered")["TopicArn"]
    policies = {
        "red": ({"color": ["red"]}, "MessageAttributes"),
        "cheap": ({"price": [{"numeric": ["<", 100]}], "color": [{"anything-but": "green"}]}, "MessageAttributes"),
        "prefix": ({"$or": [{"color": [{"prefix": "bl"}]}, {"size": [{"exists": True}]}]}, "MessageAttributes"),
        "tags": ({"tags": ["sale"]}, "MessageAttributes"),
        "body": ({"order": {"region": [{"equals-ignore-case": "EU"}], "total": [{"numeric": [">=", 10]}]}}, "MessageBody"),
    }
    urls = {}
    for name, (policy, scope) in policies.items():
        url, arn = make_queue(sqs, f"f-{name}")
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={
            "RawMessageDelivery": "true", "FilterPolicy": json.dumps(policy), "FilterPolicyScope": scope})
        urls[name] = url

    def pub(body, **attrs):
        ma = {}
        for k, v in attrs.items():
            if isinstance(v, list):
                ma[k] = {"DataType": "String.Array", "StringValue": json.dumps(v)}
            elif isinstance(v, (int, float)):
                ma[k] = {"DataType": "Number", "StringValue": str(v)}
            else:
                ma[k] = {"DataType": "String", "StringValue": v}
        sns.publish(TopicArn=topic, Message=body, MessageAttributes=ma)

    pub("1", color="red", price=50)
    pub("2", color="green", price=50)
    pub("3", color="blue", price=500)
    pub("4", size="XL", tags=["new", "sale"])
    pub(json.dumps({"order": {"region": "eu", "total": 12}}))
    pub(json.dumps({"order": {"region": "us", "total": 12}}))
    time.sleep(0.5)

    def bodies(name):
        return sorted(m["Body"] for m in receive(sqs, urls[name], n=10, wait=1.5))

    assert bodies("red") == ["1"]
    assert bodies("cheap") == ["1"]
    assert bodies("prefix") == ["3", "4"]
    assert bodies("tags") == ["4"]
    assert bodies("body") == [json.dumps({"order": {"region": "eu", "total": 12}})]


def test_message_structure_json(clients):
    sns, sqs = clients
    topic = sns.create_topic(Name="structured")["TopicArn"]
    url, arn = make_queue(sqs, "structured")
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
    sns.subscribe(TopicArn=topic, Protocol="sms", Endpoint="+15555550199")
    sns.publish(TopicArn=topic, MessageStructure="json",
                Message=json.dumps({"default": "for everyone", "sqs": "for queues"}))
    [m] = receive(sqs, url)
    assert m["Body"] == "for queues"
    with pytest.raises(ClientError) as e:
        sns.publish(TopicArn=topic, MessageStructure="json", Message=json.dumps({"sqs": "x"}))
    assert err(e) == ("InvalidParameter", "Invalid parameter: Message Structure - No default entry in JSON message body")
    with pytest.raises(ClientError) as e:
        sns.publish(TopicArn=topic, MessageStructure="json", Message="not json")
    assert err(e)[0] == "InvalidParameter"


def test_fifo_topic_to_fifo_queue(clients):
    sns, sqs = clients
    topic = sns.create_topic(Name="ordered.fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
    url, arn = make_queue(sqs, "ordered.fifo", FifoQueue="true")
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
    seqs = []
    for i in range(10):
        r = sns.publish(TopicArn=topic, Message=f"m{i}", MessageGroupId="g", MessageDeduplicationId=f"d{i}")
        seqs.append(int(r["SequenceNumber"]))
    assert seqs == sorted(seqs)
    dup = sns.publish(TopicArn=topic, Message="again", MessageGroupId="g", MessageDeduplicationId="d0")
    assert int(dup["SequenceNumber"]) == seqs[0]
    got = []
    deadline = time.monotonic() + 5
    while len(got) < 10 and time.monotonic() < deadline:
        r = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                AttributeNames=["MessageGroupId", "MessageDeduplicationId"])
        for m in r.get("Messages", []):
            got.append(m)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    assert [m["Body"] for m in got] == [f"m{i}" for i in range(10)]
    assert got[0]["Attributes"]["MessageGroupId"] == "g"
    assert got[0]["Attributes"]["MessageDeduplicationId"] == "d0"
    with pytest.raises(ClientError) as e:
        sns.publish(TopicArn=topic, Message="x")
    assert "MessageGroupId" in err(e)[1]
    with pytest.raises(ClientError) as e:
        sns.publish(TopicArn=topic, Message="x", MessageGroupId="g")
    assert "ContentBasedDeduplication" in err(e)[1]
    sns.set_topic_attributes(TopicArn=topic, AttributeName="ContentBasedDeduplication", AttributeValue="true")
    a = sns.publish(TopicArn=topic, Message="same", MessageGroupId="g")
    b = sns.publish(TopicArn=topic, Message="same", MessageGroupId="g")
    assert a["MessageId"] == b["MessageId"]


def test_wrapped_fifo_envelope_has_sequence_number(clients):
    sns, sqs = clients
    topic = sns.create_topic(Name="w.fifo", Attributes={"FifoTopic": "true", "ContentBasedDeduplication": "true"})["TopicArn"]
    url, arn = make_queue(sqs, "w.fifo", FifoQueue="true")
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    r = sns.publish(TopicArn=topic, Message="x", MessageGroupId="g")
    [m] = receive(sqs, url)
    env = json.loads(m["Body"])
    assert env["SequenceNumber"] == r["SequenceNumber"]


def test_publish_validation(clients):
    sns, _ = clients
    topic = sns.create_topic(Name="v")["TopicArn"]
    cases = [
        (dict(TopicArn=topic, Message="x" * (256 * 1024 + 1)), "Message too long"),
        (dict(TopicArn=topic, Message="x", Subject="a\nb"), "Subject"),
        (dict(TopicArn=topic, Message="x", MessageAttributes={"a": {"DataType": "Number", "StringValue": "abc"}}), "number"),
        (dict(TopicArn=topic, Message="x", MessageDeduplicationId="d"), "MessageDeduplicationId"),
        (dict(Message="x"), "TopicArn or TargetArn"),
        (dict(PhoneNumber="abc", Message="x"), "PhoneNumber"),
    ]
    for kwargs, fragment in cases:
        with pytest.raises(ClientError) as e:
            sns.publish(**kwargs)
        code, msg = err(e)
        assert code == "InvalidParameter" and fragment in msg, (kwargs, msg)


def test_publish_batch(clients):
    sns, sqs = clients
    topic = sns.create_topic(Name="batch")["TopicArn"]
    url, arn = make_queue(sqs, "batch")
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
    r = sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=[
        {"Id": "a", "Message": "one"},
        {"Id": "c", "Message": "three"},
    ])
    assert sorted(s["Id"] for s in r["Successful"]) == ["a", "c"] and r["Failed"] == []
    assert sorted(m["Body"] for m in receive(sqs, url, n=2)) == ["one", "three"]
    for entries, code in [
        ([], "EmptyBatchRequest"),
        ([{"Id": str(i), "Message": "m"} for i in range(11)], "TooManyEntriesInBatchRequest"),
        ([{"Id": "same", "Message": "m"}, {"Id": "same", "Message": "n"}], "BatchEntryIdsNotDistinct"),
        ([{"Id": "bad id!", "Message": "m"}], "InvalidBatchEntryId"),
        ([{"Id": str(i), "Message": "x" * 30000} for i in range(10)], "BatchRequestTooLong"),
    ]:
        with pytest.raises(ClientError) as e:
            sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=entries)
        assert err(e)[0] == code
    fifo = sns.create_topic(Name="batch.fifo", Attributes={"FifoTopic": "true", "ContentBasedDeduplication": "true"})["TopicArn"]
    r = sns.publish_batch(TopicArn=fifo, PublishBatchRequestEntries=[
        {"Id": "a", "Message": "one", "MessageGroupId": "g"},
        {"Id": "b", "Message": "two", "MessageGroupId": "g"},
    ])
    assert [s["SequenceNumber"] for s in r["Successful"]] and r["Failed"] == []


def test_outbox_email_sms_lambda(nephos, clients, account):
    sns, _ = clients
    topic = sns.create_topic(Name="outbox")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sms", Endpoint="+15555550123")
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=f"arn:aws:lambda:us-east-1:{account}:function:f")
    sub = sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="x@example.com", ReturnSubscriptionArn=True)["SubscriptionArn"]
    token = None
    for _ in range(50):
        found = [m for m in nephos.internal("/_nephos/sns/outbox") if m["subscriptionArn"] == sub]
        if found:
            token = found[0]["attributes"]["Token"]
            break
        time.sleep(0.05)
    sns.confirm_subscription(TopicArn=topic, Token=token)
    mid = sns.publish(TopicArn=topic, Message="news", Subject="Hi")["MessageId"]
    direct = sns.publish(PhoneNumber="+15555550999", Message="direct text")["MessageId"]
    time.sleep(0.3)
    box = nephos.internal("/_nephos/sns/outbox")
    mine = {(m["protocol"], m["endpoint"]): m for m in box if m["messageId"] in (mid, direct)}
    assert mine[("sms", "+15555550123")]["message"] == "news"
    assert mine[("email", "x@example.com")]["subject"] == "Hi"
    assert mine[("sms", "+15555550999")]["message"] == "direct text"
    lam = mine[("lambda", f"arn:aws:lambda:us-east-1:{account}:function:f")]
    assert "not delivered" in lam["note"]
    req = urllib.request.Request(nephos.endpoint + "/_nephos/sns/outbox", method="DELETE")
    urllib.request.urlopen(req).read()
    assert nephos.internal("/_nephos/sns/outbox") == []


class Receiver:
    """A real local HTTP endpoint that records requests and answers chosen statuses."""

    def __init__(self, statuses=()):
        self.requests = queue.Queue()
        self.statuses = list(statuses)
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                outer.requests.put((dict(self.headers), body))
                status = outer.statuses.pop(0) if outer.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def next(self, timeout=5):
        return self.requests.get(timeout=timeout)

    def close(self):
        self.server.shutdown()


def advance_until_request(nephos, recv, seconds, tries=20):
    """Advances the clock until the next retry reaches `recv`. The endpoint records a
    request before answering it, so nephos may not be waiting for its next retry yet when
    the test sees the request: an advance made before it waits is not the one it waits for."""
    for _ in range(tries):
        nephos.internal("/_nephos/clock", {"advance_seconds": seconds})
        try:
            return recv.next(timeout=0.5)
        except queue.Empty:
            continue
    raise AssertionError("no retry arrived")


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def test_http_confirmation_and_notification(nephos, clients, receiver):
    sns, _ = clients
    topic = sns.create_topic(Name="web")["TopicArn"]
    assert sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=receiver.url)["SubscriptionArn"] == "pending confirmation"
    headers, body = receiver.next()
    assert headers["x-amz-sns-message-type"] == "SubscriptionConfirmation"
    assert headers["x-amz-sns-topic-arn"] == topic
    assert headers["Content-Type"] == "text/plain; charset=UTF-8"
    conf = json.loads(body)
    assert conf["Type"] == "SubscriptionConfirmation" and conf["Token"]
    verify(nephos, conf)
    # Nothing is delivered before confirmation.
    sns.publish(TopicArn=topic, Message="too early")
    with urllib.request.urlopen(conf["SubscribeURL"]) as resp:
        assert resp.status == 200
    [sub] = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert sub["SubscriptionArn"].startswith(topic)
    mid = sns.publish(TopicArn=topic, Message="hello http", Subject="s")["MessageId"]
    headers, body = receiver.next()
    assert headers["x-amz-sns-message-type"] == "Notification"
    assert headers["x-amz-sns-message-id"] == mid
    assert headers["x-amz-sns-subscription-arn"] == sub["SubscriptionArn"]
    note = json.loads(body)
    assert note["Message"] == "hello http" and note["MessageId"] == mid
    verify(nephos, note)
    assert receiver.requests.empty()


def test_signature_version_2(nephos, clients, receiver):
    sns, _ = clients
    topic = sns.create_topic(Name="v2", Attributes={"SignatureVersion": "2"})["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=receiver.url)
    conf = json.loads(receiver.next()[1])
    assert conf["SignatureVersion"] == "2"
    verify(nephos, conf)
    sns.confirm_subscription(TopicArn=topic, Token=conf["Token"])
    sns.publish(TopicArn=topic, Message="signed with sha256")
    note = json.loads(receiver.next()[1])
    verify(nephos, note)
    tampered = dict(note, Message="forged")
    with pytest.raises(Exception):
        verify(nephos, tampered)


def test_http_raw_delivery(clients, receiver):
    sns, _ = clients
    topic = sns.create_topic(Name="rawweb")["TopicArn"]
    sub = sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=receiver.url, ReturnSubscriptionArn=True)["SubscriptionArn"]
    sns.confirm_subscription(TopicArn=topic, Token=json.loads(receiver.next()[1])["Token"])
    sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName="RawMessageDelivery", AttributeValue="true")
    sns.publish(TopicArn=topic, Message="just the body")
    headers, body = receiver.next()
    assert body == "just the body"
    assert headers["x-amz-sns-rawdelivery"] == "true"


def test_http_retries_on_the_clock_then_dead_letter(nephos, clients):
    sns, sqs = clients
    # Confirmation answers 200; then every notification attempt fails with 500.
    recv = Receiver(statuses=[200] + [500] * 10)
    try:
        topic = sns.create_topic(Name="flaky")["TopicArn"]
        dlq_url, dlq = make_queue(sqs, "http-dlq")
        sub = sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=recv.url, ReturnSubscriptionArn=True,
                            Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq}),
                                        "DeliveryPolicy": json.dumps({"healthyRetryPolicy": {
                                            "numRetries": 3, "numNoDelayRetries": 1, "minDelayTarget": 30,
                                            "maxDelayTarget": 30}})})["SubscriptionArn"]
        sns.confirm_subscription(TopicArn=topic, Token=json.loads(recv.next()[1])["Token"])
        eff = json.loads(sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]["EffectiveDeliveryPolicy"])
        assert eff["healthyRetryPolicy"]["numRetries"] == 3
        sns.publish(TopicArn=topic, Message="will fail")
        recv.next()  # first attempt
        recv.next()  # the immediate retry
        # The next retries wait 30 s on the nephos clock.
        with pytest.raises(queue.Empty):
            recv.next(timeout=1)
        assert sqs.receive_message(QueueUrl=dlq_url).get("Messages") is None
        for _ in range(2):
            advance_until_request(nephos, recv, 31)
        [dead] = receive(sqs, dlq_url)
        assert json.loads(dead["Body"])["Message"] == "will fail"
    finally:
        recv.close()


def test_sqs_delivery_failure_goes_to_dead_letter_queue(clients, account):
    sns, sqs = clients
    topic = sns.create_topic(Name="missing-queue")["TopicArn"]
    dlq_url, dlq = make_queue(sqs, "sqs-dlq")
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=f"arn:aws:sqs:us-east-1:{account}:does-not-exist",
                  Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq}), "RawMessageDelivery": "true"})
    sns.publish(TopicArn=topic, Message="orphan")
    [m] = receive(sqs, dlq_url)
    assert m["Body"] == "orphan"


def test_queues_must_let_the_topic_in(start_nephos, account):
    """Under --enforce-iam, as on AWS: SNS sends as the service principal
    `sns.amazonaws.com` for the topic, so a queue whose policy does not allow that gets
    nothing (same account too), and the message goes to the subscription's dead-letter
    queue if that one lets SNS in."""
    strict = start_nephos("--enforce-iam")
    sns, sqs = strict.client("sns", account=account), strict.client("sqs", account=account)
    topic = sns.create_topic(Name="gated")["TopicArn"]
    other = sns.create_topic(Name="gated-other")["TopicArn"]
    url, arn = make_queue(sqs, "gated", sns_may_send=False)
    dlq_url, dlq = make_queue(sqs, "gated-dlq")
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn,
                  Attributes={"RawMessageDelivery": "true",
                              "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq})})
    sns.publish(TopicArn=topic, Message="no policy")
    [m] = receive(sqs, dlq_url)
    assert m["Body"] == "no policy"
    allow_topic(sqs, url, other)  # a policy for another topic does not do
    sns.publish(TopicArn=topic, Message="wrong topic")
    [m] = receive(sqs, dlq_url)
    assert m["Body"] == "wrong topic"
    assert receive(sqs, url, wait=1) == []
    allow_topic(sqs, url, topic)
    sns.publish(TopicArn=topic, Message="let in")
    assert [m["Body"] for m in receive(sqs, url)] == ["let in"]
    # The queue's owner still reaches it directly, policy or not.
    sqs.send_message(QueueUrl=url, MessageBody="owner")
    assert [m["Body"] for m in receive(sqs, url)] == ["owner"]


def test_certificate_is_served(nephos):
    with urllib.request.urlopen(nephos.endpoint + "/_nephos/sns/SimpleNotificationService.pem") as resp:
        pem = resp.read()
    cert = x509.load_pem_x509_certificate(pem)
    assert cert.public_key().key_size == 2048


def test_lambda_and_firehose_deliveries_fail_to_the_dead_letter_queue(nephos, clients, account):
    """A Lambda subscription whose function does not exist, and Firehose (not emulated):
    their subscriptions are accepted and confirmed, and a delivery fails as to a deleted
    endpoint (a client-side error AWS does not retry): to the dead-letter queue, with an
    outbox note, never a pretended success."""
    sns, sqs = clients
    topic = sns.create_topic(Name="managed")["TopicArn"]
    dlq_url, dlq = make_queue(sqs, "managed-dlq")
    redrive = json.dumps({"deadLetterTargetArn": dlq})
    fn = f"arn:aws:lambda:us-east-1:{account}:function:handler"
    stream = f"arn:aws:firehose:us-east-1:{account}:deliverystream/archive"
    lam = sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=fn, ReturnSubscriptionArn=True,
                        Attributes={"RedrivePolicy": redrive})["SubscriptionArn"]
    fh = sns.subscribe(TopicArn=topic, Protocol="firehose", Endpoint=stream, ReturnSubscriptionArn=True,
                       Attributes={"RedrivePolicy": redrive, "RawMessageDelivery": "true",
                                   "SubscriptionRoleArn": f"arn:aws:iam::{account}:role/sns-firehose"})["SubscriptionArn"]
    nodlq = sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=fn + "-2", ReturnSubscriptionArn=True)["SubscriptionArn"]
    for arn in (lam, fh, nodlq):
        attrs = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
        assert attrs["PendingConfirmation"] == "false"
    mid = sns.publish(TopicArn=topic, Message="to managed endpoints")["MessageId"]
    dead = receive(sqs, dlq_url, n=2)
    assert len(dead) == 2
    bodies = sorted(m["Body"] for m in dead)
    raw = [b for b in bodies if b == "to managed endpoints"]
    wrapped = [json.loads(b) for b in bodies if b != "to managed endpoints"]
    assert len(raw) == 1 and len(wrapped) == 1
    assert wrapped[0]["MessageId"] == mid and wrapped[0]["Type"] == "Notification"
    time.sleep(0.2)
    notes = {m["subscriptionArn"]: m["note"] for m in nephos.internal("/_nephos/sns/outbox") if m["messageId"] == mid}
    assert set(notes) == {lam, fh, nodlq}
    assert all(n.startswith("not delivered: ") for n in notes.values())
    assert "Function not found" in notes[lam] and "Firehose is not emulated" in notes[fh]
    # Nothing else reaches the dead-letter queue (the subscription without one discards).
    assert receive(sqs, dlq_url, n=1, wait=1) == []


def test_without_enforce_iam_a_missing_queue_policy_delivers_and_warns(start_nephos, account):
    """Code written against other emulators subscribes queues without a policy: by default
    the delivery happens, with one warning naming the statement AWS would need."""
    server = start_nephos()
    sns, sqs = server.client("sns", account=account), server.client("sqs", account=account)
    topic = sns.create_topic(Name="lenient")["TopicArn"]
    url, arn = make_queue(sqs, "lenient", sns_may_send=False)
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
    sns.publish(TopicArn=topic, Message="one")
    sns.publish(TopicArn=topic, Message="two")
    got = receive(sqs, url) + receive(sqs, url, wait=1)
    assert sorted(m["Body"] for m in got) == ["one", "two"]
    server.stop()
    time.sleep(0.2)
    warnings = [l for l in server.output if "AWS would drop this delivery" in l]
    assert len(warnings) == 1, warnings
    assert "sns.amazonaws.com" in warnings[0] and topic in warnings[0] and arn in warnings[0]
