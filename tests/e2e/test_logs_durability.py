"""CloudWatch Logs with --data-dir: acknowledged groups, streams, events and filters
survive kill -9; the AWS CLI reads them back (`aws logs tail`, `filter-log-events`)."""

import signal
import threading

from logsutil import now_ms, put


def test_logs_survive_kill_9(start_nephos, tmp_path, account):
    data = tmp_path / "data"
    server = start_nephos("--data-dir", str(data), "--quiet")
    logs = server.client("logs", account=account)
    logs.create_log_group(logGroupName="/d/app", tags={"k": "v"})
    logs.put_retention_policy(logGroupName="/d/app", retentionInDays=30)
    logs.create_log_stream(logGroupName="/d/app", logStreamName="s")
    logs.create_log_stream(logGroupName="/d/app", logStreamName="gone")
    logs.delete_log_stream(logGroupName="/d/app", logStreamName="gone")
    logs.put_metric_filter(
        logGroupName="/d/app", filterName="errors", filterPattern="ERROR",
        metricTransformations=[{"metricName": "E", "metricNamespace": "N", "metricValue": "1"}],
    )
    from test_logs_filters import consumer

    fn = consumer(server.client("lambda", account=account), account, "f")
    logs.put_subscription_filter(logGroupName="/d/app", filterName="sub", filterPattern="", destinationArn=fn)
    logs.put_query_definition(name="saved", queryString="fields @message")
    logs.put_resource_policy(policyName="kept", policyDocument='{"Version":"2012-10-17","Statement":[]}')
    logs.create_log_group(logGroupName="/d/deleted")
    logs.delete_log_group(logGroupName="/d/deleted")
    t = now_ms(server) - 60_000

    # Writers keep putting batches while the server is killed; every batch that was
    # acknowledged must be there afterwards.
    acknowledged = []
    lock = threading.Lock()
    stop = threading.Event()

    def writer(stream):
        c = server.client("logs", account=account, config_args={"connect_timeout": 2, "read_timeout": 2})
        c.create_log_stream(logGroupName="/d/app", logStreamName=stream)
        n = 0
        while not stop.is_set():
            try:
                put(c, "/d/app", stream, [f"{stream} batch {n} event {i}" for i in range(100)], t + n)
            except Exception:
                return
            with lock:
                acknowledged.append((stream, n))
            n += 1

    put(logs, "/d/app", "s", ["ERROR first", "INFO second"], t)
    s3 = server.client("s3", account=account)
    s3.create_bucket(Bucket=f"t{account}-exports")
    export = logs.create_export_task(logGroupName="/d/app", fromTime=0, to=t + 10, destination=f"t{account}-exports")["taskId"]
    threads = [threading.Thread(target=writer, args=(f"w{i}",)) for i in range(3)]
    for th in threads:
        th.start()
    import time

    time.sleep(1.5)
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait()
    stop.set()
    for th in threads:
        th.join()
    assert len(acknowledged) > 10

    again = start_nephos("--data-dir", str(data), "--quiet")
    logs = again.client("logs", account=account)
    # (The subscribed function ran and has a log group of its own.)
    groups = logs.describe_log_groups(logGroupNamePrefix="/d/")["logGroups"]
    assert [g["logGroupName"] for g in groups] == ["/d/app"]
    assert groups[0]["retentionInDays"] == 30
    assert groups[0]["metricFilterCount"] == 1
    assert logs.list_tags_log_group(logGroupName="/d/app")["tags"] == {"k": "v"}
    streams = [s["logStreamName"] for s in logs.describe_log_streams(logGroupName="/d/app")["logStreams"]]
    assert "gone" not in streams and {"s", "w0", "w1", "w2"} <= set(streams)
    got = logs.get_log_events(logGroupName="/d/app", logStreamName="s", startFromHead=True)["events"]
    assert [e["message"] for e in got] == ["ERROR first", "INFO second"]
    for stream, n in acknowledged:
        r = logs.filter_log_events(logGroupName="/d/app", logStreamNames=[stream], filterPattern=f'"{stream} batch {n} "')
        assert len(r["events"]) == 100, (stream, n)
    assert [f["filterName"] for f in logs.describe_subscription_filters(logGroupName="/d/app")["subscriptionFilters"]] == ["sub"]
    assert logs.describe_metric_filters(logGroupName="/d/app")["metricFilters"][0]["filterPattern"] == "ERROR"
    assert [d["name"] for d in logs.describe_query_definitions()["queryDefinitions"]] == ["saved"]
    assert [p["policyName"] for p in logs.describe_resource_policies()["resourcePolicies"]] == ["kept"]
    assert [x["taskId"] for x in logs.describe_export_tasks()["exportTasks"]] == [export]
    # Sequence numbers go on from where they were: new events sort after the old ones.
    put(logs, "/d/app", "s", ["after restart"], t)
    got = logs.get_log_events(logGroupName="/d/app", logStreamName="s", startFromHead=True)["events"]
    assert [e["message"] for e in got] == ["ERROR first", "after restart", "INFO second"]


def test_aws_cli_reads_events(nephos, account):
    # The CLI is v1 (tests/requirements.txt), which has no `aws logs tail`; it reads events
    # with get-log-events and filter-log-events (paginated by the CLI itself).
    logs = nephos.client("logs", account=account)
    logs.create_log_group(logGroupName="/cli/app")
    logs.create_log_stream(logGroupName="/cli/app", logStreamName="web")
    t = now_ms(nephos) - 30_000
    put(logs, "/cli/app", "web", ["GET / 200", "ERROR db down", "GET /x 404"], t, step=1000)

    r = nephos.aws("logs", "get-log-events", "--log-group-name", "/cli/app", "--log-stream-name", "web", "--start-from-head", account=account)
    assert [e["message"] for e in r["events"]] == ["GET / 200", "ERROR db down", "GET /x 404"]
    assert r["nextForwardToken"].startswith("f/")

    r = nephos.aws("logs", "filter-log-events", "--log-group-name", "/cli/app", "--filter-pattern", "?ERROR ?404", account=account)
    assert [e["message"] for e in r["events"]] == ["ERROR db down", "GET /x 404"]
    assert r["events"][0]["logStreamName"] == "web"
    # --page-size makes the CLI follow nextToken across pages.
    r = nephos.aws("logs", "filter-log-events", "--log-group-name", "/cli/app", "--page-size", "1", account=account)
    assert [e["message"] for e in r["events"]] == ["GET / 200", "ERROR db down", "GET /x 404"]
    r = nephos.aws("logs", "describe-log-groups", "--log-group-name-prefix", "/cli", account=account)
    assert [g["logGroupName"] for g in r["logGroups"]] == ["/cli/app"]
