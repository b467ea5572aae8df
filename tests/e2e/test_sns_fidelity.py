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
