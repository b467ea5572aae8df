"""Helpers shared by the CloudWatch Logs end-to-end tests."""


def now_ms(nephos):
    """nephos's clock, which other tests may have advanced past the wall clock."""
    return nephos.internal("/_nephos/clock")["now_ms"]


def advance(nephos, seconds):
    nephos.internal("/_nephos/clock", {"advance_seconds": seconds})


def group_with_stream(logs, group="/test/app", stream="s1"):
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    return group, stream


def put(logs, group, stream, messages, start, step=1):
    """Puts `messages` with timestamps start, start+step, ... (in order)."""
    events = [{"timestamp": start + i * step, "message": m} for i, m in enumerate(messages)]
    return logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)


def error_of(excinfo):
    err = excinfo.value.response["Error"]
    return err["Code"], err["Message"]
