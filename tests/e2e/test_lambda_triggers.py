"""Services that already existed invoke functions: SNS subscriptions of protocol `lambda`
and S3 event notifications, each through the function's resource policy."""

import io
import json
import time
import zipfile

import pytest
from botocore.exceptions import ClientError

RECORDER = """
import boto3, json, uuid
ddb = boto3.client('dynamodb')
def handler(event, context):
    ddb.put_item(TableName='seen', Item={'id': {'S': str(uuid.uuid4())}, 'event': {'S': json.dumps(event)}})
"""


def zipped(source):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("app.py", source)
    return buf.getvalue()


def recorder(lam, ddb, account, name="recorder"):
    ddb.create_table(
        TableName="seen",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    arn = lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=f"arn:aws:iam::{account}:role/trigger",
        Handler="app.handler",
        Code={"ZipFile": zipped(RECORDER)},
        Timeout=10,
    )["FunctionArn"]
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.2})
    return arn


def events(ddb, n=1, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        items = ddb.scan(TableName="seen")["Items"]
        if len(items) >= n:
            return [json.loads(i["event"]["S"]) for i in items]
        time.sleep(0.1)
    return [json.loads(i["event"]["S"]) for i in ddb.scan(TableName="seen")["Items"]]


def test_sns_invokes_a_subscribed_function_with_the_sns_event(nephos, account):
    lam, sns, ddb = (nephos.client(s, account=account) for s in ("lambda", "sns", "dynamodb"))
    fn = recorder(lam, ddb, account)
    topic = sns.create_topic(Name="news")["TopicArn"]
    lam.add_permission(
        FunctionName="recorder",
        StatementId="sns",
        Action="lambda:InvokeFunction",
        Principal="sns.amazonaws.com",
        SourceArn=topic,
    )
    sub = sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=fn, ReturnSubscriptionArn=True)[
        "SubscriptionArn"
    ]
    mid = sns.publish(
        TopicArn=topic,
        Message="hello",
        Subject="greeting",
        MessageAttributes={"k": {"DataType": "String", "StringValue": "v"}},
    )["MessageId"]
    [event] = events(ddb)
    [record] = event["Records"]
    assert record["EventSource"] == "aws:sns"
    assert record["EventVersion"] == "1.0"
    assert record["EventSubscriptionArn"] == sub
    msg = record["Sns"]
    assert msg["Type"] == "Notification"
    assert msg["MessageId"] == mid
    assert msg["TopicArn"] == topic
    assert msg["Subject"] == "greeting"
    assert msg["Message"] == "hello"
    assert msg["MessageAttributes"] == {"k": {"Type": "String", "Value": "v"}}
    assert msg["SignatureVersion"] == "1" and msg["Signature"]


def test_s3_notifications_invoke_a_function(nephos, account):
    lam, s3, ddb = (nephos.client(s, account=account) for s in ("lambda", "s3", "dynamodb"))
    fn = recorder(lam, ddb, account)
    bucket = f"trigger-{account}"
    s3.create_bucket(Bucket=bucket)
    lam.add_permission(
        FunctionName="recorder",
        StatementId="s3",
        Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com",
        SourceArn=f"arn:aws:s3:::{bucket}",
        SourceAccount=account,
    )
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [
                {"LambdaFunctionArn": fn, "Events": ["s3:ObjectCreated:*"], "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "in/"}]}}}
            ]
        },
    )
    s3.put_object(Bucket=bucket, Key="skip/me.txt", Body=b"no")
    s3.put_object(Bucket=bucket, Key="in/a b.txt", Body=b"hello")
    [event] = events(ddb)
    time.sleep(0.3)
    assert len(events(ddb)) == 1
    [record] = event["Records"]
    assert record["eventSource"] == "aws:s3"
    assert record["eventName"] == "ObjectCreated:Put"
    assert record["s3"]["bucket"]["name"] == bucket
    assert record["s3"]["object"]["key"] == "in/a+b.txt"
    assert record["s3"]["object"]["size"] == 5


def test_under_enforce_iam_a_function_without_permission_is_not_invoked(start_nephos, account):
    server = start_nephos("--enforce-iam")
    lam, s3, sns, ddb, iam = (
        server.client(s, account=account) for s in ("lambda", "s3", "sns", "dynamodb", "iam")
    )
    # Under enforcement the execution role must exist, trust Lambda, and allow what the
    # function does.
    iam.create_role(
        RoleName="trigger",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}),
    )
    iam.put_role_policy(
        RoleName="trigger",
        PolicyName="record",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": ["dynamodb:PutItem", "logs:*"], "Resource": "*"}]}),
    )
    fn = recorder(lam, ddb, account)
    bucket = f"locked-{account}"
    s3.create_bucket(Bucket=bucket)
    with pytest.raises(ClientError) as e:
        s3.put_bucket_notification_configuration(
            Bucket=bucket,
            NotificationConfiguration={
                "LambdaFunctionConfigurations": [{"LambdaFunctionArn": fn, "Events": ["s3:ObjectCreated:*"]}]
            },
        )
    assert e.value.response["Error"]["Code"] == "InvalidArgument"
    topic = sns.create_topic(Name="locked")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=fn)
    sns.publish(TopicArn=topic, Message="dropped")
    time.sleep(1)
    assert events(ddb, timeout=0.5) == []
    # A permission for another topic does not let this one in.
    lam.add_permission(
        FunctionName="recorder",
        StatementId="other",
        Action="lambda:InvokeFunction",
        Principal="sns.amazonaws.com",
        SourceArn=topic + "-other",
    )
    sns.publish(TopicArn=topic, Message="dropped too")
    time.sleep(1)
    assert events(ddb, timeout=0.5) == []
    lam.add_permission(
        FunctionName="recorder",
        StatementId="mine",
        Action="lambda:InvokeFunction",
        Principal="sns.amazonaws.com",
        SourceArn=topic,
    )
    sns.publish(TopicArn=topic, Message="delivered")
    [event] = events(ddb)
    assert event["Records"][0]["Sns"]["Message"] == "delivered"
