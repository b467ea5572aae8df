"""Helpers shared by the SQS end-to-end tests."""


def advance(nephos, seconds):
    """Moves nephos's one clock forward (visibility timeouts, delays, retention)."""
    nephos.internal("/_nephos/clock", {"advance_seconds": seconds})


def fifo(sqs, name="q.fifo", **attrs):
    return sqs.create_queue(QueueName=name, Attributes={"FifoQueue": "true", **attrs})["QueueUrl"]
