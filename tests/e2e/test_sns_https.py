"""SNS delivery to https:// subscribers: real TLS receivers with self-signed certificates
issued by a private CA made here with `cryptography`; confirmation, notifications, raw delivery, retries then the
dead-letter queue, and certificate verification when NEPHOS_SNS_VERIFY_TLS=1 asks for it."""

import datetime
import http.server
import ipaddress
import json
import queue
import ssl
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from conftest import new_account
from test_sns_delivery import advance_until_request, make_queue, receive, verify


def self_signed(tmp_path):
    """A private CA and a certificate it issued for localhost and 127.0.0.1; returns
    (server certificate path, server key path, CA certificate path)."""
    now = datetime.datetime.now(datetime.timezone.utc)

    def issue(subject, key, issuer, issuer_key, ca):
        b = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            b = b.add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        return b.sign(issuer_key, hashes.SHA256())

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = issue("nephos test CA", ca_key, "nephos test CA", ca_key, True)
    cert = issue("localhost", key, "nephos test CA", ca_key, False)
    paths = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    paths[0].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    paths[2].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return paths


class TlsReceiver:
    """A local HTTPS endpoint that records requests and answers chosen statuses."""

    def __init__(self, cert, key, statuses=()):
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
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.server.handle_error = lambda *a: None  # failed handshakes are expected
        self.port = self.server.server_port
        self.url = f"https://127.0.0.1:{self.port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def next(self, timeout=5):
        return self.requests.get(timeout=timeout)

    def close(self):
        self.server.shutdown()


@pytest.fixture
def cert(tmp_path):
    return self_signed(tmp_path)


@pytest.fixture
def tls_receiver(cert):
    r = TlsReceiver(*cert[:2])
    yield r
    r.close()


def test_https_confirmation_notification_and_raw(nephos, account, tls_receiver):
    sns = nephos.client("sns", account=account)
    topic = sns.create_topic(Name="secure")["TopicArn"]
    assert sns.subscribe(TopicArn=topic, Protocol="https", Endpoint=tls_receiver.url)["SubscriptionArn"] == "pending confirmation"
    headers, body = tls_receiver.next()
    assert headers["x-amz-sns-message-type"] == "SubscriptionConfirmation"
    conf = json.loads(body)
    verify(nephos, conf)
    sub = sns.confirm_subscription(TopicArn=topic, Token=conf["Token"])["SubscriptionArn"]
    mid = sns.publish(TopicArn=topic, Message="over tls", Subject="s")["MessageId"]
    headers, body = tls_receiver.next()
    assert headers["x-amz-sns-message-type"] == "Notification"
    assert headers["x-amz-sns-subscription-arn"] == sub
    assert headers["Host"] == f"127.0.0.1:{tls_receiver.port}"
    note = json.loads(body)
    assert note["Message"] == "over tls" and note["MessageId"] == mid
    verify(nephos, note)
    sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName="RawMessageDelivery", AttributeValue="true")
    sns.publish(TopicArn=topic, Message="raw over tls")
    headers, body = tls_receiver.next()
    assert body == "raw over tls" and headers["x-amz-sns-rawdelivery"] == "true"


def test_https_retries_on_the_clock_then_dead_letter(nephos, account, cert):
    sns, sqs = nephos.client("sns", account=account), nephos.client("sqs", account=account)
    recv = TlsReceiver(*cert[:2], statuses=[200] + [503] * 10)
    try:
        topic = sns.create_topic(Name="flaky-tls")["TopicArn"]
        dlq_url, dlq = make_queue(sqs, "https-dlq")
        sns.subscribe(TopicArn=topic, Protocol="https", Endpoint=recv.url,
                      Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq}),
                                  "DeliveryPolicy": json.dumps({"healthyRetryPolicy": {
                                      "numRetries": 2, "minDelayTarget": 40, "maxDelayTarget": 40}})})
        sns.confirm_subscription(TopicArn=topic, Token=json.loads(recv.next()[1])["Token"])
        sns.publish(TopicArn=topic, Message="tls will fail")
        recv.next()  # first attempt; the retries wait 40 s on the nephos clock
        with pytest.raises(queue.Empty):
            recv.next(timeout=1)
        for _ in range(2):
            advance_until_request(nephos, recv, 41)
        [dead] = receive(sqs, dlq_url)
        assert json.loads(dead["Body"])["Message"] == "tls will fail"
    finally:
        recv.close()


def test_verification_on_request_rejects_unknown_certificates(start_nephos, cert, tls_receiver):
    strict = start_nephos("--quiet", env={"NEPHOS_SNS_VERIFY_TLS": "1"})
    account = new_account()
    sns, sqs = strict.client("sns", account=account), strict.client("sqs", account=account)
    topic = sns.create_topic(Name="strict")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="https", Endpoint=tls_receiver.url)
    # The private CA is not trusted: the confirmation never arrives.
    with pytest.raises(queue.Empty):
        tls_receiver.next(timeout=2)
    [sub] = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert sub["SubscriptionArn"] == "PendingConfirmation"


def test_verification_trusts_a_configured_ca_file(start_nephos, cert, tls_receiver):
    strict = start_nephos("--quiet", env={"NEPHOS_SNS_VERIFY_TLS": "1", "NEPHOS_SNS_TLS_CA_FILE": str(cert[2])})
    sns = strict.client("sns", account=new_account())
    topic = sns.create_topic(Name="trusted")["TopicArn"]
    for url in (tls_receiver.url, tls_receiver.url.replace("127.0.0.1", "localhost")):
        sns.subscribe(TopicArn=topic, Protocol="https", Endpoint=url)
        headers, body = tls_receiver.next()
        assert json.loads(body)["Type"] == "SubscriptionConfirmation"
