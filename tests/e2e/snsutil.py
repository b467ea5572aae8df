"""Helpers for SNS tests: what a queue needs before SNS may deliver to it."""

import json


def allow_topic(sqs, url, topic_arn):
    """Gives the queue the policy AWS requires for SNS delivery: `sqs:SendMessage` for the
    `sns.amazonaws.com` service principal, limited to `topic_arn` (wildcards allowed)."""
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"},
                       "Action": "sqs:SendMessage", "Resource": arn,
                       "Condition": {"ArnLike": {"aws:SourceArn": topic_arn}}}]})})
