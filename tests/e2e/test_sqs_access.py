"""SQS queue policies evaluated for other accounts; AddPermission/RemovePermission."""

import json

import pytest
from botocore.exceptions import ClientError

from conftest import new_account


def test_other_accounts_need_a_policy_grant(nephos):
    owner, other = new_account(), new_account()
    mine = nephos.client("sqs", account=owner)
    theirs = nephos.client("sqs", account=other)
    url = mine.create_queue(QueueName="shared")["QueueUrl"]
    with pytest.raises(ClientError) as e:
        theirs.send_message(QueueUrl=url, MessageBody="x")
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    with pytest.raises(ClientError):
        theirs.get_queue_url(QueueName="shared", QueueOwnerAWSAccountId=owner)
    arn = f"arn:aws:sqs:us-east-1:{owner}:shared"
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{other}:root"}, "Action": "sqs:SendMessage", "Resource": arn}]}
    mine.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    theirs.send_message(QueueUrl=url, MessageBody="granted")
    with pytest.raises(ClientError) as e:
        theirs.receive_message(QueueUrl=url)
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    got = mine.receive_message(QueueUrl=url)["Messages"][0]
    assert got["Body"] == "granted"
    mine.delete_message(QueueUrl=url, ReceiptHandle=got["ReceiptHandle"])
    # A wildcard principal with sqs:* grants everything, an explicit Deny wins.
    policy["Statement"] = [
        {"Effect": "Allow", "Principal": "*", "Action": "sqs:*"},
        {"Effect": "Deny", "Principal": {"AWS": other}, "Action": "sqs:DeleteMessage"},
    ]
    mine.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    assert theirs.get_queue_url(QueueName="shared", QueueOwnerAWSAccountId=owner)["QueueUrl"] == url
    theirs.send_message(QueueUrl=url, MessageBody="again")
    m = theirs.receive_message(QueueUrl=url, VisibilityTimeout=0)["Messages"][0]
    with pytest.raises(ClientError):
        theirs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def test_add_and_remove_permission(nephos):
    owner, other = new_account(), new_account()
    mine = nephos.client("sqs", account=owner)
    theirs = nephos.client("sqs", account=other)
    url = mine.create_queue(QueueName="perm")["QueueUrl"]
    mine.add_permission(QueueUrl=url, Label="send", AWSAccountIds=[other], Actions=["SendMessage", "ReceiveMessage"])
    policy = json.loads(mine.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])["Attributes"]["Policy"])
    assert policy["Statement"][0]["Sid"] == "send"
    theirs.send_message(QueueUrl=url, MessageBody="x")
    assert theirs.receive_message(QueueUrl=url)["Messages"][0]["Body"] == "x"
    with pytest.raises(ClientError):
        mine.add_permission(QueueUrl=url, Label="send", AWSAccountIds=[other], Actions=["SendMessage"])
    mine.remove_permission(QueueUrl=url, Label="send")
    with pytest.raises(ClientError) as e:
        theirs.send_message(QueueUrl=url, MessageBody="x")
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    with pytest.raises(ClientError):
        mine.remove_permission(QueueUrl=url, Label="send")


def test_policy_conditions_are_evaluated(nephos):
    owner, other, third = new_account(), new_account(), new_account()
    mine = nephos.client("sqs", account=owner)
    url = mine.create_queue(QueueName="conditional")["QueueUrl"]
    arn = f"arn:aws:sqs:us-east-1:{owner}:conditional"
    mine.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage", "Resource": arn,
         "Condition": {"StringEquals": {"aws:PrincipalAccount": other}}},
        # aws:SourceArn is set only for service principals: this never grants a direct call.
        {"Effect": "Allow", "Principal": "*", "Action": "sqs:*", "Resource": arn,
         "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:*:*"}}},
    ]})})
    nephos.client("sqs", account=other).send_message(QueueUrl=url, MessageBody="granted")
    with pytest.raises(ClientError) as e:
        nephos.client("sqs", account=third).send_message(QueueUrl=url, MessageBody="x")
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    with pytest.raises(ClientError):
        nephos.client("sqs", account=other).receive_message(QueueUrl=url)
