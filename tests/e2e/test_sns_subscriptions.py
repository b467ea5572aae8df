"""SNS subscriptions: protocols and endpoint checks, confirmation, listing, attributes,
filter policy validation, unsubscribe."""

import json
import time
import urllib.request

import pytest
from botocore.exceptions import ClientError


def err(excinfo):
    e = excinfo.value.response["Error"]
    return e["Code"], e["Message"]


@pytest.fixture
def topic(nephos, account):
    sns = nephos.client("sns", account=account)
    return sns, sns.create_topic(Name="subs")["TopicArn"]


def outbox(nephos):
    # Confirmation messages leave in the background, right after Subscribe answers.
    time.sleep(0.2)
    return nephos.internal("/_nephos/sns/outbox")


@pytest.mark.parametrize(
    "protocol,endpoint",
    [
        ("http", "https://example.com"),
        ("https", "http://example.com"),
        ("email", "not-an-email"),
        ("sms", "hello"),
        ("sqs", "not-an-arn"),
        ("lambda", "arn:aws:sqs:us-east-1:123456789012:q"),
        ("application", "arn:aws:sns:us-east-1:123456789012:topic"),
        ("carrier-pigeon", "x"),
    ],
)
def test_endpoint_validation(topic, protocol, endpoint):
    sns, arn = topic
    with pytest.raises(ClientError) as e:
        sns.subscribe(TopicArn=arn, Protocol=protocol, Endpoint=endpoint)
    code, msg = err(e)
    assert code == "InvalidParameter"
    # AWS words a bad phone number on its own.
    assert msg.startswith("Invalid SMS endpoint:" if protocol == "sms" else "Invalid parameter:")


def test_sqs_and_sms_are_confirmed_at_once(topic, account):
    sns, arn = topic
    q = f"arn:aws:sqs:us-east-1:{account}:q1"
    sub = sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=q)["SubscriptionArn"]
    assert sub.startswith(arn + ":")
    # Subscribing again answers the same subscription.
    assert sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=q)["SubscriptionArn"] == sub
    attrs = sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
    assert attrs["PendingConfirmation"] == "false"
    assert attrs["Protocol"] == "sqs" and attrs["Endpoint"] == q
    assert attrs["RawMessageDelivery"] == "false"
    assert attrs["Owner"] == account
    assert sns.get_topic_attributes(TopicArn=arn)["Attributes"]["SubscriptionsConfirmed"] == "1"
    with pytest.raises(ClientError) as e:
        sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=q, Attributes={"RawMessageDelivery": "true"})
    assert "different attributes" in err(e)[1]


def test_fifo_queue_needs_fifo_topic(topic, account):
    sns, arn = topic
    with pytest.raises(ClientError) as e:
        sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=f"arn:aws:sqs:us-east-1:{account}:q.fifo")
    assert err(e)[0] == "InvalidParameter"


def test_email_confirmation_through_token(nephos, topic):
    sns, arn = topic
    pending = sns.subscribe(TopicArn=arn, Protocol="email", Endpoint="me@example.com")
    assert pending["SubscriptionArn"] == "pending confirmation"
    with_arn = sns.subscribe(TopicArn=arn, Protocol="email-json", Endpoint="me@example.com",
                             ReturnSubscriptionArn=True)["SubscriptionArn"]
    assert with_arn.startswith(arn + ":")
    listed = sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]
    assert {s["SubscriptionArn"] for s in listed} == {"PendingConfirmation"}
    assert sns.get_topic_attributes(TopicArn=arn)["Attributes"]["SubscriptionsPending"] == "2"
    mail = [m for m in outbox(nephos) if m["endpoint"] == "me@example.com" and m["protocol"] == "email"
            and m["topicArn"] == arn]
    assert mail and mail[-1]["note"] == "SubscriptionConfirmation"
    token = mail[-1]["attributes"]["Token"]
    with pytest.raises(ClientError) as e:
        sns.confirm_subscription(TopicArn=arn, Token="bogus")
    assert err(e)[0] == "InvalidParameter"
    confirmed = sns.confirm_subscription(TopicArn=arn, Token=token)["SubscriptionArn"]
    attrs = sns.get_subscription_attributes(SubscriptionArn=confirmed)["Attributes"]
    assert attrs["PendingConfirmation"] == "false"
    # The SubscribeURL works as a plain GET, as a mail client would open it.
    json_mail = [m for m in outbox(nephos) if m["protocol"] == "email-json" and m["topicArn"] == arn][-1]
    envelope = json.loads(json_mail["message"])
    assert envelope["Type"] == "SubscriptionConfirmation"
    with urllib.request.urlopen(envelope["SubscribeURL"]) as resp:
        body = resp.read().decode()
    assert resp.status == 200 and "ConfirmSubscriptionResult" in body and with_arn in body
    assert sns.get_topic_attributes(TopicArn=arn)["Attributes"]["SubscriptionsConfirmed"] == "2"


def test_list_subscriptions_and_unsubscribe(topic, account):
    sns, arn = topic
    subs = [
        sns.subscribe(TopicArn=arn, Protocol="sms", Endpoint=f"+1555555{i:04d}")["SubscriptionArn"]
        for i in range(3)
    ]
    listed = sns.list_subscriptions()["Subscriptions"]
    assert {s["SubscriptionArn"] for s in listed} == set(subs)
    assert all(s["TopicArn"] == arn and s["Owner"] == account for s in listed)
    sns.unsubscribe(SubscriptionArn=subs[0])
    assert len(sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]) == 2
    assert sns.get_topic_attributes(TopicArn=arn)["Attributes"]["SubscriptionsDeleted"] == "1"
    with pytest.raises(ClientError) as e:
        sns.get_subscription_attributes(SubscriptionArn=subs[0])
    assert err(e) == ("NotFound", "Subscription does not exist")
    with pytest.raises(ClientError) as e:
        sns.unsubscribe(SubscriptionArn="garbage")
    assert err(e)[0] == "InvalidParameter"


def test_list_subscriptions_pages(topic):
    sns, arn = topic
    for i in range(102):
        sns.subscribe(TopicArn=arn, Protocol="sms", Endpoint=f"+1555556{i:04d}")
    first = sns.list_subscriptions_by_topic(TopicArn=arn)
    assert len(first["Subscriptions"]) == 100 and first["NextToken"]
    second = sns.list_subscriptions_by_topic(TopicArn=arn, NextToken=first["NextToken"])
    assert len(second["Subscriptions"]) == 2 and "NextToken" not in second


def test_subscription_attributes(topic, account):
    sns, arn = topic
    sub = sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=f"arn:aws:sqs:us-east-1:{account}:q",
                        Attributes={"RawMessageDelivery": "true"})["SubscriptionArn"]
    attrs = sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
    assert attrs["RawMessageDelivery"] == "true"
    policy = {"store": ["a", "b"], "price": [{"numeric": [">", 10]}]}
    sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName="FilterPolicy",
                                    AttributeValue=json.dumps(policy))
    attrs = sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
    assert json.loads(attrs["FilterPolicy"]) == policy
    assert attrs["FilterPolicyScope"] == "MessageAttributes"
    sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName="FilterPolicyScope",
                                    AttributeValue="MessageBody")
    redrive = json.dumps({"deadLetterTargetArn": f"arn:aws:sqs:us-east-1:{account}:dlq"})
    sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName="RedrivePolicy", AttributeValue=redrive)
    attrs = sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
    assert attrs["FilterPolicyScope"] == "MessageBody" and attrs["RedrivePolicy"] == redrive
    for name, value in [
        ("RawMessageDelivery", "maybe"),
        ("FilterPolicyScope", "Nowhere"),
        ("RedrivePolicy", json.dumps({"deadLetterTargetArn": "nope"})),
        ("Bogus", "x"),
    ]:
        with pytest.raises(ClientError) as e:
            sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName=name, AttributeValue=value)
        assert err(e)[0] == "InvalidParameter"
    sms = sns.subscribe(TopicArn=arn, Protocol="sms", Endpoint="+15555550100")["SubscriptionArn"]
    with pytest.raises(ClientError) as e:
        sns.set_subscription_attributes(SubscriptionArn=sms, AttributeName="RawMessageDelivery",
                                        AttributeValue="true")
    assert "does not support raw message delivery" in err(e)[1]


@pytest.mark.parametrize(
    "policy,fragment",
    [
        ({"a": ["1"], "b": ["1"], "c": ["1"], "d": ["1"], "e": ["1"], "f": ["1"]}, "more than 5 keys"),
        ({"a": [str(i) for i in range(13)], "b": [str(i) for i in range(13)]}, "too complex"),
        ({"a": [{"prefixx": "x"}]}, "Unrecognized match type prefixx"),
        ({"a": [{"numeric": [">", "x"]}]}, "must be numeric"),
        ({"a": {"nested": ["x"]}}, "does not support nested"),
        ({"a": []}, "Empty arrays"),
    ],
)
def test_filter_policy_validation(topic, account, policy, fragment):
    sns, arn = topic
    with pytest.raises(ClientError) as e:
        sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=f"arn:aws:sqs:us-east-1:{account}:q",
                      Attributes={"FilterPolicy": json.dumps(policy)})
    code, msg = err(e)
    assert code == "InvalidParameter" and fragment in msg
    assert msg.startswith("Invalid parameter: ")


def test_cli_subscribe(nephos, account):
    arn = nephos.aws("sns", "create-topic", "--name", "cli-subs", account=account)["TopicArn"]
    out = nephos.aws("sns", "subscribe", "--topic-arn", arn, "--protocol", "sms",
                     "--notification-endpoint", "+15555550111", account=account)
    listed = nephos.aws("sns", "list-subscriptions-by-topic", "--topic-arn", arn, account=account)
    assert listed["Subscriptions"][0]["SubscriptionArn"] == out["SubscriptionArn"]
