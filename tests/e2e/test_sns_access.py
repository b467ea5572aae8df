"""SNS topic policies: another account acts on a topic only as its policy grants
(AddPermission, policies set by hand with principals, actions and conditions); an explicit
Deny binds the owner too; refusals are AWS's 403 AuthorizationError."""

import json

import pytest
from botocore.exceptions import ClientError

from conftest import new_account

from snsutil import allow_topic


def refused(excinfo):
    e = excinfo.value.response
    assert e["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert e["Error"]["Code"] == "AuthorizationError"
    return e["Error"]["Message"]


@pytest.fixture
def two(nephos):
    owner, other = new_account(), new_account()
    return owner, other, nephos.client("sns", account=owner), nephos.client("sns", account=other)


def test_other_accounts_are_refused_by_the_default_policy(two):
    owner, other, mine, theirs = two
    topic = mine.create_topic(Name="private")["TopicArn"]
    with pytest.raises(ClientError) as e:
        theirs.publish(TopicArn=topic, Message="x")
    assert refused(e) == (f"User: arn:aws:iam::{other}:root is not authorized to perform: SNS:Publish on "
                          f"resource: {topic} because no resource-based policy allows the SNS:Publish action")
    for call in (lambda: theirs.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=f"arn:aws:sqs:us-east-1:{other}:q"),
                 lambda: theirs.get_topic_attributes(TopicArn=topic),
                 lambda: theirs.set_topic_attributes(TopicArn=topic, AttributeName="DisplayName", AttributeValue="x"),
                 lambda: theirs.delete_topic(TopicArn=topic),
                 lambda: theirs.list_subscriptions_by_topic(TopicArn=topic),
                 lambda: theirs.add_permission(TopicArn=topic, Label="l", AWSAccountId=[other], ActionName=["Publish"]),
                 lambda: theirs.tag_resource(ResourceArn=topic, Tags=[{"Key": "k", "Value": "v"}]),
                 lambda: theirs.publish_batch(TopicArn=topic, PublishBatchRequestEntries=[{"Id": "1", "Message": "m"}])):
        with pytest.raises(ClientError) as e:
            call()
        refused(e)
    # The owner is unaffected, and the topic still exists.
    assert mine.get_topic_attributes(TopicArn=topic)["Attributes"]["Owner"] == owner
    mine.publish(TopicArn=topic, Message="mine")


def test_add_permission_grants_the_named_actions(nephos, two):
    owner, other, mine, theirs = two
    topic = mine.create_topic(Name="shared")["TopicArn"]
    mine.add_permission(TopicArn=topic, Label="pub", AWSAccountId=[other], ActionName=["Publish"])
    assert theirs.publish(TopicArn=topic, Message="allowed")["MessageId"]
    with pytest.raises(ClientError) as e:
        theirs.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=f"arn:aws:sqs:us-east-1:{other}:q")
    refused(e)
    third = nephos.client("sns", account=new_account())
    with pytest.raises(ClientError) as e:
        third.publish(TopicArn=topic, Message="x")
    refused(e)
    mine.remove_permission(TopicArn=topic, Label="pub")
    with pytest.raises(ClientError) as e:
        theirs.publish(TopicArn=topic, Message="revoked")
    refused(e)


def test_cross_account_fan_out_reaches_the_subscribers_queue(nephos, two):
    owner, other, mine, theirs = two
    sqs = nephos.client("sqs", account=other)
    url = sqs.create_queue(QueueName="inbox")["QueueUrl"]
    topic = mine.create_topic(Name="feed")["TopicArn"]
    mine.set_topic_attributes(TopicArn=topic, AttributeName="Policy", AttributeValue=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{other}:root"},
                       "Action": ["sns:Subscribe", "sns:Publish"], "Resource": topic,
                       "Condition": {"StringEquals": {"sns:Protocol": "sqs"}}}]}))
    with pytest.raises(ClientError) as e:
        theirs.subscribe(TopicArn=topic, Protocol="email", Endpoint="a@example.com")
    refused(e)  # the condition names sqs only
    # Publish carries no sns:Protocol key, so the same statement does not grant it.
    with pytest.raises(ClientError) as e:
        theirs.publish(TopicArn=topic, Message="x")
    refused(e)
    theirs.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=f"arn:aws:sqs:us-east-1:{other}:inbox",
                     Attributes={"RawMessageDelivery": "true"})
    # The queue's own policy lets SNS deliver for this topic, as AWS requires (without
    # it nephos delivers anyway unless --enforce-iam: test_sns_delivery covers both).
    allow_topic(sqs, url, topic)
    mine.publish(TopicArn=topic, Message="across accounts")
    got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5).get("Messages", [])
    assert [m["Body"] for m in got] == ["across accounts"]


def test_conditions_wildcards_and_explicit_deny(nephos, two):
    owner, other, mine, theirs = two
    topic = mine.create_topic(Name="guarded")["TopicArn"]
    mine.set_topic_attributes(TopicArn=topic, AttributeName="Policy", AttributeValue=json.dumps({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "SNS:*", "Resource": topic.rsplit(":", 1)[0] + ":*",
             "Condition": {"StringEquals": {"aws:PrincipalAccount": other}}},
            {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "sns:DeleteTopic", "Resource": topic},
            {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sns:Publish",
             "Condition": {"StringEquals": {"aws:SourceAccount": other}}},
        ]}))
    assert theirs.publish(TopicArn=topic, Message="granted by account condition")["MessageId"]
    theirs.get_topic_attributes(TopicArn=topic)
    with pytest.raises(ClientError) as e:
        theirs.delete_topic(TopicArn=topic)
    assert "explicit deny" in refused(e)
    # A third account matches neither the account condition nor aws:SourceAccount (absent
    # from direct calls).
    third = nephos.client("sns", account=new_account())
    with pytest.raises(ClientError) as e:
        third.publish(TopicArn=topic, Message="x")
    refused(e)
    # The explicit Deny binds the owner too.
    with pytest.raises(ClientError) as e:
        mine.delete_topic(TopicArn=topic)
    refused(e)
    mine.publish(TopicArn=topic, Message="owner")


def test_subscriptions_belong_to_their_owner_and_the_topic_owner(nephos, two):
    owner, other, mine, theirs = two
    topic = mine.create_topic(Name="subs")["TopicArn"]
    mine.add_permission(TopicArn=topic, Label="sub", AWSAccountId=[other], ActionName=["Subscribe"])
    sub = theirs.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=f"arn:aws:sqs:us-east-1:{other}:q",
                           ReturnSubscriptionArn=True)["SubscriptionArn"]
    third = nephos.client("sns", account=new_account())
    for call in (lambda: third.get_subscription_attributes(SubscriptionArn=sub),
                 lambda: third.set_subscription_attributes(SubscriptionArn=sub, AttributeName="RawMessageDelivery",
                                                           AttributeValue="true"),
                 lambda: third.unsubscribe(SubscriptionArn=sub)):
        with pytest.raises(ClientError) as e:
            call()
        refused(e)
    # The subscriber and the topic owner both may.
    assert theirs.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]["Owner"] == other
    mine.set_subscription_attributes(SubscriptionArn=sub, AttributeName="RawMessageDelivery", AttributeValue="true")
    theirs.unsubscribe(SubscriptionArn=sub)
    assert mine.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] == []
