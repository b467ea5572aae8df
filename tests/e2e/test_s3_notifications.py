"""S3 event notifications: configuration, validation, the test event, and S3 event
records delivered to SQS with prefix/suffix filters."""

import json

import pytest
from botocore.exceptions import ClientError

from s3util import bucket_name
from snsutil import allow_topic


def code(e):
    return e.value.response["Error"]["Code"]


def drain(sqs, url, want, tries=20):
    got = []
    for _ in range(tries):
        r = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        for m in r.get("Messages", []):
            got.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        if len(got) >= want:
            break
    return got


def test_notifications_to_sqs(nephos, account):
    s3 = nephos.client("s3", account=account)
    sqs = nephos.client("sqs", account=account)
    url = sqs.create_queue(QueueName="s3-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    b = bucket_name(account, "events")
    s3.create_bucket(Bucket=b)
    assert {k: v for k, v in s3.get_bucket_notification_configuration(Bucket=b).items()
            if k != "ResponseMetadata"} == {}
    config = {
        "QueueConfigurations": [{
            "Id": "uploads",
            "QueueArn": arn,
            "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"],
            "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "in/"},
                                               {"Name": "suffix", "Value": ".txt"}]}},
        }],
    }
    s3.put_bucket_notification_configuration(Bucket=b, NotificationConfiguration=config)
    got = s3.get_bucket_notification_configuration(Bucket=b)
    # S3 writes the filter rule names capitalized, whatever their case in the request.
    rules = config["QueueConfigurations"][0]["Filter"]["Key"]["FilterRules"]
    for r in rules:
        r["Name"] = r["Name"].capitalize()
    assert got["QueueConfigurations"] == config["QueueConfigurations"]
    test_event = drain(sqs, url, 1)
    assert test_event[0]["Event"] == "s3:TestEvent" and test_event[0]["Bucket"] == b

    s3.put_object(Bucket=b, Key="in/a file.txt", Body=b"hello")
    s3.put_object(Bucket=b, Key="in/skip.bin", Body=b"x")
    s3.put_object(Bucket=b, Key="out/b.txt", Body=b"x")
    s3.copy_object(Bucket=b, Key="in/copy.txt", CopySource={"Bucket": b, "Key": "in/a file.txt"})
    s3.delete_object(Bucket=b, Key="in/copy.txt")
    msgs = drain(sqs, url, 3)
    records = [m["Records"][0] for m in msgs]
    assert [r["eventName"] for r in records] == ["ObjectCreated:Put", "ObjectCreated:Copy", "ObjectRemoved:Delete"]
    put = records[0]
    assert put["eventVersion"] == "2.1" and put["eventSource"] == "aws:s3"
    assert put["s3"]["bucket"]["name"] == b
    assert put["s3"]["bucket"]["arn"] == f"arn:aws:s3:::{b}"
    assert put["s3"]["configurationId"] == "uploads"
    obj = put["s3"]["object"]
    assert obj["key"] == "in/a+file.txt"
    assert obj["size"] == 5
    assert obj["eTag"] == "5d41402abc4b2a76b9719d911017c592"
    assert obj["sequencer"]
    assert "size" not in records[2]["s3"]["object"]


def test_notification_validation(nephos, account):
    s3 = nephos.client("s3", account=account)
    b = bucket_name(account, "evval")
    s3.create_bucket(Bucket=b)
    missing = f"arn:aws:sqs:us-east-1:{account}:no-such-queue"
    with pytest.raises(ClientError) as e:
        s3.put_bucket_notification_configuration(Bucket=b, NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": missing, "Events": ["s3:ObjectCreated:*"]}]})
    assert code(e) == "InvalidArgument"
    assert "Unable to validate" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        s3.put_bucket_notification_configuration(Bucket=b, NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": "not-an-arn", "Events": ["s3:ObjectCreated:*"]}]})
    assert code(e) == "InvalidArgument"
    # A topic that does not exist cannot be validated either.
    with pytest.raises(ClientError) as e:
        s3.put_bucket_notification_configuration(Bucket=b, NotificationConfiguration={
            "TopicConfigurations": [{"TopicArn": f"arn:aws:sns:us-east-1:{account}:topic",
                                     "Events": ["s3:ObjectCreated:*"]}]})
    assert code(e) == "InvalidArgument"
    # Without validation, topic, Lambda and EventBridge destinations are stored and returned.
    cfg = {
        "TopicConfigurations": [{"Id": "t", "TopicArn": f"arn:aws:sns:us-east-1:{account}:topic",
                                 "Events": ["s3:ObjectRemoved:*"]}],
        "LambdaFunctionConfigurations": [{"Id": "l", "LambdaFunctionArn": f"arn:aws:lambda:us-east-1:{account}:function:f",
                                          "Events": ["s3:ObjectCreated:Put"]}],
        "EventBridgeConfiguration": {},
    }
    s3.put_bucket_notification_configuration(Bucket=b, NotificationConfiguration=cfg,
                                             SkipDestinationValidation=True)
    got = s3.get_bucket_notification_configuration(Bucket=b)
    for k in cfg:
        assert got[k] == cfg[k]


def s3_topic(sns, sqs, account, name, allow_s3=True):
    """A topic with a raw SQS subscriber; its policy lets S3 publish when `allow_s3`."""
    topic = sns.create_topic(Name=name)["TopicArn"]
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    qarn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=qarn, Attributes={"RawMessageDelivery": "true"})
    allow_topic(sqs, url, topic)
    principal = {"Service": "s3.amazonaws.com"} if allow_s3 else {"AWS": f"arn:aws:iam::{account}:root"}
    policy = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": principal, "Action": "SNS:Publish", "Resource": topic,
        **({"Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::*"}}} if allow_s3 else {}),
    }]}
    sns.set_topic_attributes(TopicArn=topic, AttributeName="Policy", AttributeValue=json.dumps(policy))
    return topic, url


def test_notifications_to_sns(nephos, account):
    s3 = nephos.client("s3", account=account)
    sns = nephos.client("sns", account=account)
    sqs = nephos.client("sqs", account=account)
    topic, url = s3_topic(sns, sqs, account, "s3-topic-events")
    b = bucket_name(account, "snsev")
    s3.create_bucket(Bucket=b)
    s3.put_bucket_notification_configuration(Bucket=b, NotificationConfiguration={
        "TopicConfigurations": [{"Id": "to-topic", "TopicArn": topic, "Events": ["s3:ObjectCreated:*"],
                                 "Filter": {"Key": {"FilterRules": [{"Name": "suffix", "Value": ".csv"}]}}}]})
    # The test event goes to the topic, and through it to the subscriber.
    test_event = drain(sqs, url, 1)
    assert test_event[0]["Event"] == "s3:TestEvent" and test_event[0]["Bucket"] == b
    s3.put_object(Bucket=b, Key="data/report.csv", Body=b"a,b")
    s3.put_object(Bucket=b, Key="data/skip.txt", Body=b"x")
    records = [m["Records"][0] for m in drain(sqs, url, 1)]
    assert len(records) == 1
    r = records[0]
    assert r["eventName"] == "ObjectCreated:Put" and r["eventSource"] == "aws:s3"
    assert r["s3"]["configurationId"] == "to-topic"
    assert r["s3"]["object"]["key"] == "data/report.csv" and r["s3"]["object"]["size"] == 3


def test_topic_policy_must_let_s3_publish(start_nephos, account):
    strict = start_nephos("--enforce-iam")
    s3 = strict.client("s3", account=account)
    sns = strict.client("sns", account=account)
    sqs = strict.client("sqs", account=account)
    topic, url = s3_topic(sns, sqs, account, "s3-topic-closed", allow_s3=False)
    b = bucket_name(account, "snsdeny")
    s3.create_bucket(Bucket=b)
    with pytest.raises(ClientError) as e:
        s3.put_bucket_notification_configuration(Bucket=b, NotificationConfiguration={
            "TopicConfigurations": [{"TopicArn": topic, "Events": ["s3:ObjectCreated:*"]}]})
    assert code(e) == "InvalidArgument"
    assert "Unable to validate" in e.value.response["Error"]["Message"]
    assert drain(sqs, url, 1, tries=2) == []


def queue_for(sqs, name):
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def test_tagging_acl_and_quiet_delete_events(nephos, account):
    s3 = nephos.client("s3", account=account)
    sqs = nephos.client("sqs", account=account)
    url, arn = queue_for(sqs, "s3-sub-events")
    b = bucket_name(account, "subev")
    s3.create_bucket(Bucket=b, ObjectOwnership="ObjectWriter")
    s3.delete_public_access_block(Bucket=b)
    s3.put_bucket_notification_configuration(Bucket=b, NotificationConfiguration={
        "QueueConfigurations": [{"Id": "sub", "QueueArn": arn, "Events": [
            "s3:ObjectTagging:*", "s3:ObjectAcl:Put", "s3:ObjectRemoved:*"]}]})
    drain(sqs, url, 1)  # the test event
    etag = s3.put_object(Bucket=b, Key="k", Body=b"something")["ETag"].strip('"')
    s3.put_object_tagging(Bucket=b, Key="k", Tagging={"TagSet": [{"Key": "a", "Value": "1"}]})
    s3.delete_object_tagging(Bucket=b, Key="k")
    # Setting the ACL the object already has is no change, so no event.
    s3.put_object_acl(Bucket=b, Key="k", ACL="private")
    s3.put_object_acl(Bucket=b, Key="k", ACL="public-read")
    records = [m["Records"][0] for m in drain(sqs, url, 3)]
    assert [r["eventName"] for r in records] == [
        "ObjectTagging:Put", "ObjectTagging:Delete", "ObjectAcl:Put"]
    for r in records:
        assert r["eventVersion"] == "2.3"
        assert r["s3"]["object"] == {"key": "k", "eTag": etag}
    # A quiet DeleteObjects answers nothing but still reports each deletion.
    r = s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "k"}, {"Key": "gone"}], "Quiet": True})
    assert "Deleted" not in r
    removed = [m["Records"][0] for m in drain(sqs, url, 2)]
    assert sorted(x["s3"]["object"]["key"] for x in removed) == ["gone", "k"]
    assert {x["eventName"] for x in removed} == {"ObjectRemoved:Delete"}


def test_destination_arn_errors(nephos, account):
    s3 = nephos.client("s3", account=account)
    b = bucket_name(account, "arnval")
    s3.create_bucket(Bucket=b)
    for member, arn_key, name in (("QueueConfigurations", "QueueArn", "Queue"),
                                  ("TopicConfigurations", "TopicArn", "Topic"),
                                  ("LambdaFunctionConfigurations", "LambdaFunctionArn", "CloudFunction")):
        for skip in (False, True):
            with pytest.raises(ClientError) as e:
                s3.put_bucket_notification_configuration(
                    Bucket=b, SkipDestinationValidation=skip, NotificationConfiguration={
                        member: [{"Id": "x", arn_key: "invalid", "Events": ["s3:ObjectCreated:*"]}]})
            error = e.value.response["Error"]
            assert (error["Message"], error["ArgumentName"], error["ArgumentValue"]) == (
                "The ARN could not be parsed", name, "invalid")
    missing_queue = f"arn:aws:sqs:us-east-1:{account}:my-queue"
    with pytest.raises(ClientError) as e:
        s3.put_bucket_notification_configuration(Bucket=b, NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": missing_queue, "Events": ["s3:ObjectCreated:*"]}]})
    error = e.value.response["Error"]
    assert (error["ArgumentName1"], error["ArgumentValue1"]) == (
        missing_queue, "The destination queue does not exist")
    # A function that does not exist cannot be invoked: S3's answer for that.
    fn = f"arn:aws:lambda:us-east-1:{account}:function:my-lambda"
    with pytest.raises(ClientError) as e:
        s3.put_bucket_notification_configuration(Bucket=b, NotificationConfiguration={
            "LambdaFunctionConfigurations": [{"LambdaFunctionArn": fn, "Events": ["s3:ObjectCreated:*"]}]})
    error = e.value.response["Error"]
    assert (error["ArgumentName1"], error["ArgumentValue1"]) == (
        f"{fn}, null", f"Not authorized to invoke function [{fn}]")


def test_delete_marker_event_carries_the_empty_etag(nephos, account):
    s3 = nephos.client("s3", account=account)
    sqs = nephos.client("sqs", account=account)
    url, arn = queue_for(sqs, "s3-marker-events")
    b = bucket_name(account, "markerev")
    s3.create_bucket(Bucket=b)
    s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_notification_configuration(Bucket=b, NotificationConfiguration={
        "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectRemoved:*"]}]})
    drain(sqs, url, 1)
    s3.put_object(Bucket=b, Key="k", Body=b"x")
    s3.delete_object(Bucket=b, Key="k")
    rec = drain(sqs, url, 1)[0]["Records"][0]
    assert rec["eventName"] == "ObjectRemoved:DeleteMarkerCreated"
    assert rec["s3"]["object"]["eTag"] == "d41d8cd98f00b204e9800998ecf8427e"
