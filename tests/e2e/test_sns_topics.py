"""SNS topics: create (standard, FIFO, idempotent), names, listing, attributes, policies,
data protection, tags, and the errors AWS answers."""

import json

import pytest
from botocore.exceptions import ClientError


def err(excinfo):
    e = excinfo.value.response["Error"]
    return e["Code"], e["Message"], excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"]


def test_create_standard_and_fifo(nephos, account):
    sns = nephos.client("sns", account=account)
    arn = sns.create_topic(Name="orders")["TopicArn"]
    assert arn == f"arn:aws:sns:us-east-1:{account}:orders"
    fifo = sns.create_topic(Name="orders.fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
    attrs = sns.get_topic_attributes(TopicArn=fifo)["Attributes"]
    assert attrs["FifoTopic"] == "true"
    assert attrs["ContentBasedDeduplication"] == "false"
    std = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert "FifoTopic" not in std
    assert std["Owner"] == account
    assert std["TopicArn"] == arn
    assert std["SubscriptionsConfirmed"] == "0"
    assert std["SubscriptionsPending"] == "0"
    assert std["SubscriptionsDeleted"] == "0"
    assert std["DisplayName"] == ""
    policy = json.loads(std["Policy"])
    assert policy["Id"] == "__default_policy_ID"
    assert policy["Statement"][0]["Resource"] == arn
    assert policy["Statement"][0]["Condition"]["StringEquals"]["AWS:SourceOwner"] == account
    assert "defaultHealthyRetryPolicy" in json.loads(std["EffectiveDeliveryPolicy"])["http"]


def test_create_is_idempotent_with_same_attributes(nephos, account):
    sns = nephos.client("sns", account=account)
    a = sns.create_topic(Name="t", Attributes={"DisplayName": "x"})["TopicArn"]
    assert sns.create_topic(Name="t", Attributes={"DisplayName": "x"})["TopicArn"] == a
    assert sns.create_topic(Name="t")["TopicArn"] == a
    with pytest.raises(ClientError) as e:
        sns.create_topic(Name="t", Attributes={"DisplayName": "y"})
    code, msg, status = err(e)
    assert (code, status) == ("InvalidParameter", 400)
    assert "already exists with different attributes" in msg


@pytest.mark.parametrize(
    "name,attrs",
    [
        ("bad name", {}),
        ("x" * 257, {}),
        ("", {}),
        ("no-suffix", {"FifoTopic": "true"}),
        ("suffix.fifo", {}),
    ],
)
def test_invalid_names(nephos, name, attrs):
    sns = nephos.client("sns")
    with pytest.raises(ClientError) as e:
        sns.create_topic(Name=name, Attributes=attrs)
    code, msg, status = err(e)
    assert code == "InvalidParameter" and status == 400
    assert msg.startswith("Invalid parameter:")


def test_fifo_only_attributes(nephos):
    sns = nephos.client("sns")
    with pytest.raises(ClientError) as e:
        sns.create_topic(Name="std", Attributes={"ContentBasedDeduplication": "true"})
    assert err(e)[0] == "InvalidParameter"
    arn = sns.create_topic(
        Name="f.fifo",
        Attributes={"FifoTopic": "true", "ContentBasedDeduplication": "true", "FifoThroughputScope": "MessageGroup"},
    )["TopicArn"]
    attrs = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert attrs["ContentBasedDeduplication"] == "true"
    assert attrs["FifoThroughputScope"] == "MessageGroup"


def test_list_topics_pages_by_100(nephos, account):
    sns = nephos.client("sns", account=account)
    made = {sns.create_topic(Name=f"t{i:03d}")["TopicArn"] for i in range(105)}
    first = sns.list_topics()
    assert len(first["Topics"]) == 100
    second = sns.list_topics(NextToken=first["NextToken"])
    assert len(second["Topics"]) == 5
    assert "NextToken" not in second
    assert {t["TopicArn"] for t in first["Topics"] + second["Topics"]} == made
    paged = [t for p in sns.get_paginator("list_topics").paginate() for t in p["Topics"]]
    assert len(paged) == 105


def test_accounts_and_regions_are_isolated(nephos, account):
    a = nephos.client("sns", account=account)
    a.create_topic(Name="mine")
    assert nephos.client("sns").list_topics()["Topics"] == []
    assert nephos.client("sns", account=account, region="eu-west-1").list_topics()["Topics"] == []


def test_not_found_errors(nephos, account):
    sns = nephos.client("sns", account=account)
    missing = f"arn:aws:sns:us-east-1:{account}:nope"
    for call in (
        lambda: sns.get_topic_attributes(TopicArn=missing),
        lambda: sns.set_topic_attributes(TopicArn=missing, AttributeName="DisplayName", AttributeValue="x"),
        lambda: sns.publish(TopicArn=missing, Message="m"),
        lambda: sns.subscribe(TopicArn=missing, Protocol="sqs", Endpoint="arn:aws:sqs:us-east-1:1:q"),
        lambda: sns.list_subscriptions_by_topic(TopicArn=missing),
    ):
        with pytest.raises(ClientError) as e:
            call()
        assert err(e) == ("NotFound", "Topic does not exist", 404)
    # Deleting a topic that does not exist succeeds.
    sns.delete_topic(TopicArn=missing)
    with pytest.raises(ClientError) as e:
        sns.get_topic_attributes(TopicArn="not-an-arn")
    assert err(e)[0] == "InvalidParameter"


def test_set_attributes(nephos):
    sns = nephos.client("sns")
    arn = sns.create_topic(Name="attrs")["TopicArn"]
    for name, value in [
        ("DisplayName", "Hello"),
        ("KmsMasterKeyId", "alias/aws/sns"),
        ("SignatureVersion", "2"),
        ("TracingConfig", "Active"),
        ("DeliveryPolicy", json.dumps({"http": {"defaultHealthyRetryPolicy": {"numRetries": 5}}})),
        ("HTTPSuccessFeedbackRoleArn", "arn:aws:iam::123456789012:role/r"),
    ]:
        sns.set_topic_attributes(TopicArn=arn, AttributeName=name, AttributeValue=value)
        assert sns.get_topic_attributes(TopicArn=arn)["Attributes"][name] == value
    attrs = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert json.loads(attrs["EffectiveDeliveryPolicy"])["http"]["defaultHealthyRetryPolicy"]["numRetries"] == 5
    for name, value in [("SignatureVersion", "3"), ("TracingConfig", "x"), ("Bogus", "1"), ("FifoTopic", "true")]:
        with pytest.raises(ClientError) as e:
            sns.set_topic_attributes(TopicArn=arn, AttributeName=name, AttributeValue=value)
        assert err(e)[0] == "InvalidParameter"
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "SNS:Publish", "Resource": arn}]}
    sns.set_topic_attributes(TopicArn=arn, AttributeName="Policy", AttributeValue=json.dumps(policy))
    assert json.loads(sns.get_topic_attributes(TopicArn=arn)["Attributes"]["Policy"]) == policy


def test_add_and_remove_permission(nephos):
    sns = nephos.client("sns")
    arn = sns.create_topic(Name="perm")["TopicArn"]
    sns.add_permission(TopicArn=arn, Label="pub", AWSAccountId=["111122223333"], ActionName=["Publish"])
    stmts = json.loads(sns.get_topic_attributes(TopicArn=arn)["Attributes"]["Policy"])["Statement"]
    added = [s for s in stmts if s["Sid"] == "pub"][0]
    assert added["Principal"]["AWS"] == "arn:aws:iam::111122223333:root"
    assert added["Action"] == "SNS:Publish"
    with pytest.raises(ClientError) as e:
        sns.add_permission(TopicArn=arn, Label="pub", AWSAccountId=["111122223333"], ActionName=["Publish"])
    assert err(e)[0] == "InvalidParameter"
    sns.remove_permission(TopicArn=arn, Label="pub")
    stmts = json.loads(sns.get_topic_attributes(TopicArn=arn)["Attributes"]["Policy"])["Statement"]
    assert [s["Sid"] for s in stmts] == ["__default_statement_ID"]


def test_data_protection_policy(nephos):
    sns = nephos.client("sns")
    arn = sns.create_topic(Name="dpp")["TopicArn"]
    assert sns.get_data_protection_policy(ResourceArn=arn)["DataProtectionPolicy"] == ""
    policy = json.dumps({"Name": "p", "Version": "2021-06-01", "Statement": []})
    sns.put_data_protection_policy(ResourceArn=arn, DataProtectionPolicy=policy)
    assert sns.get_data_protection_policy(ResourceArn=arn)["DataProtectionPolicy"] == policy
    with pytest.raises(ClientError) as e:
        sns.put_data_protection_policy(ResourceArn=arn, DataProtectionPolicy="{not json")
    assert err(e)[0] == "InvalidParameter"
    created = sns.create_topic(Name="dpp2", DataProtectionPolicy=policy)["TopicArn"]
    assert sns.get_data_protection_policy(ResourceArn=created)["DataProtectionPolicy"] == policy


def test_tags(nephos, account):
    sns = nephos.client("sns", account=account)
    arn = sns.create_topic(Name="tagged", Tags=[{"Key": "env", "Value": "dev"}])["TopicArn"]
    assert sns.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "env", "Value": "dev"}]
    sns.tag_resource(ResourceArn=arn, Tags=[{"Key": "team", "Value": "a"}, {"Key": "env", "Value": "prod"}])
    tags = {t["Key"]: t["Value"] for t in sns.list_tags_for_resource(ResourceArn=arn)["Tags"]}
    assert tags == {"env": "prod", "team": "a"}
    sns.untag_resource(ResourceArn=arn, TagKeys=["env"])
    assert sns.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "a"}]
    with pytest.raises(ClientError) as e:
        sns.tag_resource(ResourceArn=arn, Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(50)])
    assert err(e)[0] == "TagLimitExceeded"
    with pytest.raises(ClientError) as e:
        sns.list_tags_for_resource(ResourceArn=f"arn:aws:sns:us-east-1:{account}:gone")
    assert err(e)[:1] == ("ResourceNotFound",)
    with pytest.raises(ClientError) as e:
        sns.create_topic(Name="tagged", Tags=[{"Key": "other", "Value": "x"}])
    assert "different tags" in err(e)[1]


def test_delete_topic_removes_subscriptions(nephos, account):
    sns = nephos.client("sns", account=account)
    arn = sns.create_topic(Name="gone")["TopicArn"]
    sns.subscribe(TopicArn=arn, Protocol="sms", Endpoint="+15555550100")
    sns.delete_topic(TopicArn=arn)
    assert sns.list_topics()["Topics"] == []
    assert sns.list_subscriptions()["Subscriptions"] == []


def test_cli(nephos, account):
    out = nephos.aws("sns", "create-topic", "--name", "cli-topic", account=account)
    arn = out["TopicArn"]
    nephos.aws("sns", "set-topic-attributes", "--topic-arn", arn, "--attribute-name", "DisplayName",
               "--attribute-value", "From CLI", account=account)
    attrs = nephos.aws("sns", "get-topic-attributes", "--topic-arn", arn, account=account)["Attributes"]
    assert attrs["DisplayName"] == "From CLI"
    listed = nephos.aws("sns", "list-topics", account=account)["Topics"]
    assert listed == [{"TopicArn": arn}]
    failed = nephos.aws("sns", "get-topic-attributes", "--topic-arn", arn + "x", account=account, check=False)
    assert failed.returncode != 0 and "NotFound" in failed.stderr


def test_durable_topics_and_subscriptions(start_nephos, tmp_path):
    server = start_nephos("--data-dir", str(tmp_path))
    sns = server.client("sns", account="123456789012")
    arn = sns.create_topic(Name="kept", Tags=[{"Key": "a", "Value": "b"}])["TopicArn"]
    sub = sns.subscribe(TopicArn=arn, Protocol="sms", Endpoint="+15555550100",
                        Attributes={"FilterPolicy": json.dumps({"k": ["v"]})})["SubscriptionArn"]
    server.stop(9)
    server.start()
    sns = server.client("sns", account="123456789012")
    assert sns.list_topics()["Topics"] == [{"TopicArn": arn}]
    assert sns.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "a", "Value": "b"}]
    attrs = sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
    assert json.loads(attrs["FilterPolicy"]) == {"k": ["v"]}
    sns.publish(TopicArn=arn, Message="m", MessageAttributes={"k": {"DataType": "String", "StringValue": "v"}})
