"""SNS answers as AWS recorded them (LocalStack's AWS-validated snapshots): error wording
and codes, idempotent calls, what notifications carry, filter policy limits and operators."""

import base64
import json
import re
import time

import pytest
from botocore.exceptions import ClientError

from snsutil import allow_topic
from test_sns_delivery import err


@pytest.fixture
def clients(nephos, account):
    return nephos.client("sns", account=account), nephos.client("sqs", account=account)


def make_queue(sqs, name, **attrs):
    url = sqs.create_queue(QueueName=name, Attributes=attrs)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    allow_topic(sqs, url, f"arn:aws:sns:*:{arn.split(':')[4]}:*")
    return url, arn


def receive(sqs, url, wait=5):
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        r = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                AttributeNames=["All"], MessageAttributeNames=["All"])
        if r.get("Messages"):
            return r["Messages"]
    return []


def test_add_permission_errors(clients, account):
    sns, _ = clients
    topic = sns.create_topic(Name="perm")["TopicArn"]
    sns.add_permission(TopicArn=topic, Label="l", AWSAccountId=[account], ActionName=["Publish"])
    with pytest.raises(ClientError) as e:
        sns.add_permission(TopicArn=topic, Label="l", AWSAccountId=[account], ActionName=["Publish"])
    assert err(e) == ("InvalidParameter", "Invalid parameter: Statement already exists")
    with pytest.raises(ClientError) as e:
        sns.add_permission(TopicArn=topic, Label="m", AWSAccountId=[account], ActionName=["InvalidAction"])
    assert err(e) == ("InvalidParameter", "Invalid parameter: Policy statement action out of service scope!")


def test_publish_from_another_region_is_refused(nephos, clients, account):
    sns, _ = clients
    topic = sns.create_topic(Name="regional")["TopicArn"]
    other = nephos.client("sns", account=account, region="ap-southeast-1")
    with pytest.raises(ClientError) as e:
        other.publish(TopicArn=topic, Message="x")
    assert err(e) == ("InvalidParameter", "Invalid parameter: TopicArn")
    with pytest.raises(ClientError) as e:
        other.publish_batch(TopicArn=topic, PublishBatchRequestEntries=[{"Id": "1", "Message": "x"}])
    assert err(e) == ("InvalidParameter", "Invalid parameter: TopicArn")


def test_publish_batch_limits(clients):
    sns, _ = clients
    topic = sns.create_topic(Name="limits")["TopicArn"]
    # Attributes count towards the 256 KiB of a batch: name, type and value.
    attrs = {"attr1": {"DataType": "Number", "StringValue": "1"}}
    body = "a" * (262144 - len("attr1Number1"))
    with pytest.raises(ClientError) as e:
        sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=[
            {"Id": "1", "Message": body, "MessageAttributes": attrs}, {"Id": "2", "Message": "b"}])
    assert err(e)[0] == "BatchRequestTooLong"
    sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=[
        {"Id": "1", "Message": body[:-1], "MessageAttributes": attrs}, {"Id": "2", "Message": "b"}])
    for bad, reason in [("a" * 81, "is too long"), ("message.id", "contains an impermissible character")]:
        with pytest.raises(ClientError) as e:
            sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=[{"Id": bad, "Message": "m"}])
        assert err(e) == ("InvalidBatchEntryId",
                          f"The Id of a batch entry in the batch request {reason}: {bad}")


def test_publish_batch_invalid_entry_fails_the_request(clients):
    sns, _ = clients
    fifo = sns.create_topic(Name="b.fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
    for entry, message in [
        ({"Id": "1", "Message": "m"}, "The MessageGroupId parameter is required for FIFO topics"),
        ({"Id": "1", "Message": "m", "MessageGroupId": "g"},
         "The topic should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly"),
        ({"Id": "1", "Message": json.dumps({"sqs": "x"}), "MessageStructure": "json", "MessageGroupId": "g",
          "MessageDeduplicationId": "d"}, "Message Structure - No default entry in JSON message body"),
    ]:
        with pytest.raises(ClientError) as e:
            sns.publish_batch(TopicArn=fifo, PublishBatchRequestEntries=[entry])
        assert err(e) == ("InvalidParameter", f"Invalid parameter: {message}")


def test_message_structure_and_attribute_types(clients):
    sns, sqs = clients
    topic = sns.create_topic(Name="structure")["TopicArn"]
    url, arn = make_queue(sqs, "structure")
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    # A default that is no string is no default.
    with pytest.raises(ClientError) as e:
        sns.publish(TopicArn=topic, Message=json.dumps({"default": {"o": 1}}), MessageStructure="json")
    assert err(e)[1] == "Invalid parameter: Message Structure - No default entry in JSON message body"
    # A protocol entry that is no string is ignored: the queue gets the default.
    sns.publish(TopicArn=topic, Message=json.dumps({"default": "d", "sqs": {"f": "v"}}), MessageStructure="json")
    [m] = receive(sqs, url)
    assert json.loads(m["Body"])["Message"] == "d"
    for data_type in ["String.", "Stringprefixed"]:
        with pytest.raises(ClientError) as e:
            sns.publish(TopicArn=topic, Message="m",
                        MessageAttributes={"a": {"DataType": data_type, "StringValue": "v"}})
        assert err(e) == ("ParameterValueInvalid",
                          "The message attribute 'a' has an invalid message attribute type, the set of "
                          "supported type prefixes is Binary, Number, and String.")
    sns.publish(TopicArn=topic, Message="m", MessageAttributes={"a": {"DataType": "String.  x.", "StringValue": "v"}})


def test_unsubscribe_twice_and_wrong_arns(clients, account):
    sns, _ = clients
    topic = sns.create_topic(Name="unsub")["TopicArn"]
    sub = sns.subscribe(TopicArn=topic, Protocol="sms", Endpoint="+15555550100")["SubscriptionArn"]
    sns.unsubscribe(SubscriptionArn=sub)
    sns.unsubscribe(SubscriptionArn=sub)
    with pytest.raises(ClientError) as e:
        sns.unsubscribe(SubscriptionArn=f"arn:aws:sns:us-east-1:{account}:random")
    assert err(e) == ("InvalidParameter", "Invalid parameter: SubscriptionId")
    with pytest.raises(ClientError) as e:
        sns.unsubscribe(SubscriptionArn="arn:aws:sns:us-east-1:random")
    assert err(e)[1] == "Invalid parameter: SubscriptionArn Reason: An ARN must have at least 6 elements, not 5"


def test_unsubscribe_without_arn_is_invalid_parameter(nephos, account):
    # AWS (LocalStack's recorded test_unsubscribe_wrong_arn_format): SNS's own wording, not
    # the generic ValidationError of a missing required member.
    sns = nephos.client("sns", account=account, config_args={"parameter_validation": False})
    with pytest.raises(ClientError) as e:
        sns.unsubscribe()
    assert err(e) == ("InvalidParameter", "Invalid parameter: SubscriptionArn Reason: no value for required parameter")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_subscription_attributes_as_aws_reports_them(clients):
    sns, sqs = clients
    topic = sns.create_topic(Name="subattrs")["TopicArn"]
    _, arn = make_queue(sqs, "subattrs")
    sub = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, ReturnSubscriptionArn=True,
                        Attributes={"RawMessageDelivery": "TrUe", "FilterPolicyScope": "MessageBody",
                                    "FilterPolicy": ""})["SubscriptionArn"]
    attrs = sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
    # An empty filter policy is none, and the scope only shows beside a policy.
    assert "FilterPolicy" not in attrs and "FilterPolicyScope" not in attrs
    assert attrs["RawMessageDelivery"] == "true"
    # Same endpoint again: omitted or default-valued attributes are no difference.
    for extra in [None, {}, {"RawMessageDelivery": "true", "FilterPolicyScope": "MessageBody"}]:
        kwargs = {} if extra is None else {"Attributes": extra}
        again = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, ReturnSubscriptionArn=True, **kwargs)
        assert again["SubscriptionArn"] == sub
    with pytest.raises(ClientError) as e:
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn,
                      Attributes={"RawMessageDelivery": "false", "FilterPolicyScope": "MessageBody"})
    assert "Subscription already exists with different attributes" in err(e)[1]
    with pytest.raises(ClientError) as e:
        sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName="FilterPolicyScope",
                                        AttributeValue="RandomValue")
    assert err(e)[1] == ("Invalid parameter: FilterPolicyScope: Invalid value [RandomValue]. "
                         "Please use either MessageBody or MessageAttributes")
    sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName="FilterPolicy",
                                    AttributeValue=json.dumps({"a": ["b"]}))
    attrs = sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
    assert attrs["FilterPolicyScope"] == "MessageBody"


def test_invalid_sms_endpoint_wording(clients):
    sns, _ = clients
    topic = sns.create_topic(Name="sms")["TopicArn"]
    with pytest.raises(ClientError) as e:
        sns.subscribe(TopicArn=topic, Protocol="sms", Endpoint="/+15551234567")
    assert err(e) == ("InvalidParameter", "Invalid SMS endpoint: /+15551234567")


def test_next_token_is_base64(clients):
    sns, _ = clients
    topic = sns.create_topic(Name="pages")["TopicArn"]
    for i in range(101):
        sns.subscribe(TopicArn=topic, Protocol="sms", Endpoint=f"+1231231{i:04d}")
    first = sns.list_subscriptions_by_topic(TopicArn=topic)
    assert base64.b64decode(first["NextToken"], validate=True)
    second = sns.list_subscriptions_by_topic(TopicArn=topic, NextToken=first["NextToken"])
    assert len(second["Subscriptions"]) == 1 and "NextToken" not in second


def test_fifo_notifications_are_unsigned_and_cert_url_named_like_aws(clients):
    sns, sqs = clients
    fifo = sns.create_topic(Name="n.fifo", Attributes={"FifoTopic": "true",
                                                       "ContentBasedDeduplication": "true"})["TopicArn"]
    furl, farn = make_queue(sqs, "n.fifo", FifoQueue="true")
    sns.subscribe(TopicArn=fifo, Protocol="sqs", Endpoint=farn)
    sns.publish(TopicArn=fifo, Message="x", MessageGroupId="g")
    [m] = receive(sqs, furl)
    env = json.loads(m["Body"])
    assert not {"Signature", "SignatureVersion", "SigningCertURL"} & set(env)
    std = sns.create_topic(Name="n")["TopicArn"]
    url, arn = make_queue(sqs, "n")
    sns.subscribe(TopicArn=std, Protocol="sqs", Endpoint=arn)
    # A standard topic passes a message group on to a standard queue.
    sns.publish(TopicArn=std, Message="y", MessageGroupId="grp")
    [m] = receive(sqs, url)
    assert m["Attributes"]["MessageGroupId"] == "grp"
    env = json.loads(m["Body"])
    assert re.search(r"/SimpleNotificationService-[0-9a-f]{32}\.pem$", env["SigningCertURL"])


def subscribe_error(sns, topic, policy, scope=None):
    attributes = {"FilterPolicy": json.dumps(policy)}
    if scope:
        attributes["FilterPolicyScope"] = scope
    with pytest.raises(ClientError) as e:
        sns.subscribe(TopicArn=topic, Protocol="sms", Endpoint="+123123123", Attributes=attributes)
    return err(e)[1].removeprefix("Invalid parameter: Attributes Reason: FilterPolicy: ")


def test_filter_policy_validation_wording(clients):
    sns, _ = clients
    topic = sns.create_topic(Name="filters")["TopicArn"]
    for numeric, message in [
        ([">", 20, "<", 30, "<", 50], "Too many terms in numeric range expression"),
        (["<", 100, ">", 10], "Too many elements in numeric expression"),
        ([">", 20, 30], "Bad value in numeric range: 30"),
        (["=", "000"], "Value of equals must be numeric"),
        ([">", 3, "<", 1], "Bottom must be less than top"),
    ]:
        assert subscribe_error(sns, topic, {"k": [{"numeric": numeric}]}) == message
    assert subscribe_error(sns, topic, {"k": [{"anything-but": {"suffix": "x"}}]}) == \
        "Unsupported anything-but pattern: suffix"
    # 4 x (6 + 4 x (4 + 4)) = 152 combinations.
    policy = {
        "source": ["a", "b", "c", "d"],
        "$or": [
            {"metricName": ["1", "2", "3", "4", "5", "6"]},
            {"metricType": ["1", "2", "3", "4"], "$or": [{"metricId": [1, 2, 3, 4]}, {"spaceId": [1, 2, 3, 4]}]},
        ],
    }
    assert subscribe_error(sns, topic, policy, "MessageAttributes") == "Filter policy is too complex"
    # Nested keys weigh by depth: 3x4 x 2x3 x 1x3 = 216.
    nested = {"a": {"b": {"c": ["1", "2", "3", "4"]}}, "d": {"e": ["1", "2", "3"]}, "f": ["1", "2", "3"]}
    assert subscribe_error(sns, topic, nested, "MessageBody") == "Filter policy is too complex"
    assert subscribe_error(sns, topic, {"ip": [{"cidr": "10.0.0.1/24"}]}) == "Nonstandard IP address: 10.0.0.1"


def test_body_filter_dotted_keys_and_cidr(clients):
    sns, sqs = clients
    topic = sns.create_topic(Name="bodyfilter")["TopicArn"]
    url, arn = make_queue(sqs, "bodyfilter")
    policy = {"object.nested": ["v"], "detail": {"$or": [{"ip": [{"cidr": "10.0.0.0/24"}]},
                                                         {"ip6": [{"cidr": "2001:db8:1234:1a00::/64"}]}]}}
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={
        "RawMessageDelivery": "true", "FilterPolicyScope": "MessageBody", "FilterPolicy": json.dumps(policy)})
    bodies = [
        {"object": {"nested": "v"}, "detail": {"ip": "10.0.0.255"}},
        {"object.nested": "v", "detail": {"ip6": "2001:0db8:1234:1a00:0000:0000:0000:0001"}},
        {"object": {"nested": "v"}, "detail": {"ip": "10.0.1.1"}},
        {"object": {"nested": "v"}, "detail": {"ip": "10.0.0.256"}},
        {"object": {"nested": "w"}, "detail": {"ip": "10.0.0.1"}},
    ]
    for b in bodies:
        sns.publish(TopicArn=topic, Message=json.dumps(b))
    got = []
    deadline = time.monotonic() + 4
    while time.monotonic() < deadline:
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
            got.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    assert sorted(map(json.dumps, got)) == sorted(map(json.dumps, bodies[:2]))


def test_publish_trace_header_reaches_the_queue(nephos, clients, account):
    # AWS (LocalStack's recorded test_publish_sqs_from_sns_with_xray_propagation): the
    # publisher's X-Amzn-Trace-Id arrives as the queue message's AWSTraceHeader.
    sns, sqs = clients
    trace = "Root=1-3152b799-8954dae64eda91bc9a23a7e8;Parent=7fa8c0f79203be72;Sampled=1"
    topic = sns.create_topic(Name="traced")["TopicArn"]
    url, arn = make_queue(sqs, "traced")
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    traced = nephos.client("sns", account=account)

    def add(request, **_):
        request.headers["X-Amzn-Trace-Id"] = trace

    traced.meta.events.register("before-send.sns.Publish", add)
    traced.publish(TopicArn=topic, Message="traced")
    sns.publish(TopicArn=topic, Message="untraced")
    got = {}
    deadline = time.monotonic() + 5
    while len(got) < 2 and time.monotonic() < deadline:
        for m in receive(sqs, url, wait=1):
            got[json.loads(m["Body"])["Message"]] = m
    assert got["traced"]["Attributes"]["AWSTraceHeader"] == trace
    assert "AWSTraceHeader" not in got["untraced"]["Attributes"]


# --- Lambda subscribers, function URLs and delivery status logs -------------------------

import io  # noqa: E402
import zipfile  # noqa: E402


def echo_function(nephos, account, name):
    """A function that prints each event it gets (as one JSON line) and answers 200."""
    lam = nephos.client("lambda", account=account)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("app.py", "import json\ndef handler(e, c):\n    print('EVENT ' + json.dumps(e))\n"
                             "    return {'statusCode': 200, 'body': 'ok'}\n")
    arn = lam.create_function(FunctionName=name, Runtime="python3.12", Handler="app.handler",
                              Role=f"arn:aws:iam::{account}:role/fn", Code={"ZipFile": buf.getvalue()},
                              )["FunctionArn"]
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.2})
    lam.add_permission(FunctionName=name, StatementId="sns", Action="lambda:InvokeFunction",
                       Principal="sns.amazonaws.com")
    return lam, arn


def function_events(nephos, account, name, n=1, wait=15):
    logs = nephos.client("logs", account=account)
    deadline = time.monotonic() + wait
    found = []
    while time.monotonic() < deadline:
        try:
            found = [json.loads(e["message"].split("EVENT ", 1)[1])
                     for e in logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
                     if "EVENT " in e["message"]]
        except logs.exceptions.ResourceNotFoundException:
            found = []
        if len(found) >= n:
            return found
        time.sleep(0.2)
    return found


def test_lambda_records_say_signature_version_1_and_carry_a_null_subject(nephos, clients, account):
    # AWS recorded (test_publish_lambda_verify_signature, test_sns_topic_as_lambda_dead_letter_queue):
    # Lambda's SNS records always say SignatureVersion 1, even when the topic signs with
    # version 2 (SHA256), and carry "Subject": null when the message has none.
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    import urllib.request

    sns, _ = clients
    _, fn = echo_function(nephos, account, "records")
    topic = sns.create_topic(Name="sigv2", Attributes={"SignatureVersion": "2"})["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=fn)
    sns.publish(TopicArn=topic, Message="no subject")
    sns.publish(TopicArn=topic, Message="with subject", Subject="hello")
    events = function_events(nephos, account, "records", n=2)
    records = {e["Records"][0]["Sns"]["Message"]: e["Records"][0]["Sns"] for e in events}
    assert set(records) == {"no subject", "with subject"}
    bare, subject = records["no subject"], records["with subject"]
    assert "Subject" in bare and bare["Subject"] is None
    assert subject["Subject"] == "hello"
    for r in (bare, subject):
        assert r["SignatureVersion"] == "1"
        assert r["Type"] == "Notification" and "SigningCertUrl" in r and "UnsubscribeUrl" in r
    # The signature itself is the topic's version 2 one.
    with urllib.request.urlopen(subject["SigningCertUrl"], timeout=10) as resp:
        cert = x509.load_pem_x509_certificate(resp.read())
    canonical = "".join(f"{k}\n{subject[k]}\n" for k in
                        ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"])
    cert.public_key().verify(base64.b64decode(subject["Signature"]), canonical.encode(),
                             padding.PKCS1v15(), hashes.SHA256())


def test_http_subscription_reaches_a_function_url(nephos, clients, account):
    # Function URLs are `<id>.lambda-url.<region>.localhost:<port>` names: SNS reaches them
    # on the loopback address even where the system resolver knows only `localhost`.
    sns, _ = clients
    lam, _ = echo_function(nephos, account, "urlsub")
    url = lam.create_function_url_config(FunctionName="urlsub", AuthType="NONE")["FunctionUrl"]
    assert ".localhost:" in url
    lam.add_permission(FunctionName="urlsub", StatementId="url", Action="lambda:InvokeFunctionUrl",
                       Principal="*", FunctionUrlAuthType="NONE")
    topic = sns.create_topic(Name="tourl")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=url)
    events = function_events(nephos, account, "urlsub")
    assert events, "the subscription confirmation never reached the function URL"
    body = json.loads(events[0]["body"])
    assert body["Type"] == "SubscriptionConfirmation" and body["TopicArn"] == topic
    assert events[0]["headers"]["x-amz-sns-message-type"] == "SubscriptionConfirmation"
    sub = sns.confirm_subscription(TopicArn=topic, Token=body["Token"])["SubscriptionArn"]

    # AWS recorded (test_subscribe_external_http_endpoint_lambda_url_sig_validation):
    # unsubscribing tells the endpoint, with a token whose SubscribeURL restores it.
    sns.unsubscribe(SubscriptionArn=sub)
    events = function_events(nephos, account, "urlsub", n=2)
    assert len(events) == 2
    bye, headers = json.loads(events[1]["body"]), events[1]["headers"]
    assert bye["Type"] == "UnsubscribeConfirmation" and bye["TopicArn"] == topic
    assert bye["Message"] == (f"You have chosen to deactivate subscription {sub}.\nTo cancel this operation "
                              "and restore the subscription, visit the SubscribeURL included in this message.")
    assert bye["SubscribeURL"].endswith(f"/?Action=ConfirmSubscription&TopicArn={topic}&Token={bye['Token']}")
    assert headers["x-amz-sns-message-type"] == "UnsubscribeConfirmation"
    assert headers["x-amz-sns-subscription-arn"] == sub
    with pytest.raises(ClientError):
        sns.get_subscription_attributes(SubscriptionArn=sub)
    assert sns.confirm_subscription(TopicArn=topic, Token=bye["Token"])["SubscriptionArn"] == sub
    assert sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]["PendingConfirmation"] == "false"


def delivery_logs(nephos, account, group, n=1, wait=10):
    logs = nephos.client("logs", account=account)
    deadline = time.monotonic() + wait
    found = []
    while time.monotonic() < deadline:
        try:
            found = [json.loads(e["message"]) for e in logs.filter_log_events(logGroupName=group)["events"]]
        except logs.exceptions.ResourceNotFoundException:
            found = []
        if len(found) >= n:
            return found
        time.sleep(0.2)
    return found


def test_delivery_status_logs(nephos, clients, account):
    # AWS recorded (test_delivery_lambda): with <Protocol>SuccessFeedbackRoleArn and a
    # sample rate, each successful delivery is logged to sns/<region>/<account>/<topic>;
    # failures (<Protocol>FailureFeedbackRoleArn) to .../<topic>/Failure.
    sns, sqs = clients
    iam = nephos.client("iam", account=account)
    role = iam.create_role(RoleName="SNSFeedback", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"},
                                                "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    _, fn = echo_function(nephos, account, "logged")
    name = "feedback"
    topic = sns.create_topic(Name=name)["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=fn)
    sns.publish(TopicArn=topic, Message="before")
    sns.set_topic_attributes(TopicArn=topic, AttributeName="LambdaSuccessFeedbackRoleArn", AttributeValue=role)
    # A role without a sample rate logs no successes.
    sns.publish(TopicArn=topic, Message="unsampled")
    assert len(function_events(nephos, account, "logged", n=2)) == 2
    group = f"sns/us-east-1/{account}/{name}"
    assert delivery_logs(nephos, account, group, wait=1) == []
    sns.set_topic_attributes(TopicArn=topic, AttributeName="LambdaSuccessFeedbackSampleRate", AttributeValue="100")
    attrs = sns.get_topic_attributes(TopicArn=topic)["Attributes"]
    assert attrs["LambdaSuccessFeedbackRoleArn"] == role and attrs["LambdaSuccessFeedbackSampleRate"] == "100"
    msg_id = sns.publish(TopicArn=topic, Message="Should be received")["MessageId"]
    [entry] = delivery_logs(nephos, account, group)
    assert entry["status"] == "SUCCESS"
    n = entry["notification"]
    assert n["messageId"] == msg_id and n["topicArn"] == topic
    assert n["messageMD5Sum"] == "c1c7ff780647014d463e6801bf83c59d"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}", n["timestamp"])
    d = entry["delivery"]
    assert set(d) == {"deliveryId", "destination", "dwellTimeMs", "providerResponse", "statusCode"}
    assert d["destination"] == fn and d["statusCode"] == 202 and isinstance(d["dwellTimeMs"], int)
    assert set(json.loads(d["providerResponse"])) == {"lambdaRequestId"}
    assert len(nephos.client("logs", account=account).describe_log_streams(logGroupName=group)["logStreams"]) == 1

    # SQS: successes name SQS's request and message; a failure goes to .../Failure.
    url, queue = make_queue(sqs, "feedbackq")
    topic2 = sns.create_topic(Name="feedback2")["TopicArn"]
    for attr, value in [("SQSSuccessFeedbackRoleArn", role), ("SQSSuccessFeedbackSampleRate", "100"),
                        ("SQSFailureFeedbackRoleArn", role)]:
        sns.set_topic_attributes(TopicArn=topic2, AttributeName=attr, AttributeValue=value)
    sns.subscribe(TopicArn=topic2, Protocol="sqs", Endpoint=queue)
    sns.subscribe(TopicArn=topic2, Protocol="sqs", Endpoint=f"arn:aws:sqs:us-east-1:{account}:missing")
    sns.publish(TopicArn=topic2, Message="m")
    [ok] = delivery_logs(nephos, account, f"sns/us-east-1/{account}/feedback2")
    assert ok["status"] == "SUCCESS" and ok["delivery"]["statusCode"] == 200
    sent = receive(sqs, url)
    assert json.loads(ok["delivery"]["providerResponse"])["sqsMessageId"] == sent[0]["MessageId"]
    [failed] = delivery_logs(nephos, account, f"sns/us-east-1/{account}/feedback2/Failure")
    assert failed["status"] == "FAILURE" and failed["delivery"]["destination"].endswith(":missing")

    # A role IAM does not know gets no logs.
    topic3 = sns.create_topic(Name="feedback3")["TopicArn"]
    for attr, value in [("SQSSuccessFeedbackRoleArn", f"arn:aws:iam::{account}:role/nobody"),
                        ("SQSSuccessFeedbackSampleRate", "100")]:
        sns.set_topic_attributes(TopicArn=topic3, AttributeName=attr, AttributeValue=value)
    sns.subscribe(TopicArn=topic3, Protocol="sqs", Endpoint=queue)
    sns.publish(TopicArn=topic3, Message="m")
    assert receive(sqs, url)
    assert delivery_logs(nephos, account, f"sns/us-east-1/{account}/feedback3", wait=1) == []


def test_subscription_principal_is_the_subscribing_identity(nephos, clients, account):
    # AWS recorded `arn:aws:iam::<account>:user/<name>` for the IAM user the suite ran as:
    # the principal is whoever called Subscribe (the account's root for its own keys).
    sns, _ = clients
    iam = nephos.client("iam", account=account)
    iam.create_user(UserName="subscriber")
    iam.put_user_policy(UserName="subscriber", PolicyName="all", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    key = iam.create_access_key(UserName="subscriber")["AccessKey"]
    import boto3
    from botocore.config import Config
    user = boto3.client("sns", endpoint_url=nephos.endpoint, region_name="us-east-1",
                        aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
                        config=Config(retries={"max_attempts": 0}))
    topic = sns.create_topic(Name="principal")["TopicArn"]
    by_user = user.subscribe(TopicArn=topic, Protocol="sqs", ReturnSubscriptionArn=True,
                             Endpoint=f"arn:aws:sqs:us-east-1:{account}:a")["SubscriptionArn"]
    by_root = sns.subscribe(TopicArn=topic, Protocol="sqs", ReturnSubscriptionArn=True,
                            Endpoint=f"arn:aws:sqs:us-east-1:{account}:b")["SubscriptionArn"]
    principal = lambda s: sns.get_subscription_attributes(SubscriptionArn=s)["Attributes"]["SubscriptionPrincipal"]  # noqa: E731
    assert principal(by_user) == f"arn:aws:iam::{account}:user/subscriber"
    assert principal(by_root) == f"arn:aws:iam::{account}:root"
