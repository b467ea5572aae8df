"""With --data-dir, every acknowledged write survives kill -9."""

import signal
import threading
import time

import boto3
from botocore.config import Config

from conftest import new_account


def test_acknowledged_writes_survive_kill_9(start_nephos, tmp_path):
    data = tmp_path / "data"
    server = start_nephos("--data-dir", str(data), "--quiet")
    acknowledged = []
    lock = threading.Lock()
    stop = threading.Event()

    def writer():
        while not stop.is_set():
            account = new_account()
            sts = server.client("sts", account=account, config_args={"connect_timeout": 2, "read_timeout": 2})
            try:
                creds = sts.get_session_token(DurationSeconds=3600)["Credentials"]
            except Exception:
                return  # the server died under us: only acknowledged writes count
            with lock:
                acknowledged.append((account, creds))

    threads = [threading.Thread(target=writer) for _ in range(8)]
    for t in threads:
        t.start()
    time.sleep(2.0)
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait()
    stop.set()
    for t in threads:
        t.join()
    assert len(acknowledged) > 50, "the write load was too light to mean anything"

    restarted = start_nephos("--data-dir", str(data), "--quiet")
    health = restarted.internal("/_nephos/health")
    assert health["data"] == "persistent"
    probe = restarted.client("sts")
    for account, creds in acknowledged:
        assert probe.get_access_key_info(AccessKeyId=creds["AccessKeyId"])["Account"] == account
    # The credentials themselves still work and still act as their issuer.
    account, creds = acknowledged[-1]
    temp = boto3.client(
        "sts",
        endpoint_url=restarted.endpoint,
        region_name="us-east-1",
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        config=Config(retries={"max_attempts": 0}),
    )
    assert temp.get_caller_identity()["Account"] == account


def test_ephemeral_mode_forgets_on_restart(start_nephos, account):
    server = start_nephos()
    key = server.client("sts", account=account).get_session_token()["Credentials"]["AccessKeyId"]
    server.stop()
    again = start_nephos()
    assert again.client("sts").get_access_key_info(AccessKeyId=key)["Account"] == "000000000000"
