"""S3 with --data-dir: acknowledged objects, versions and uploads survive kill -9, and an
upload cut off mid-body leaves no torn object."""

import hashlib
import os
import signal
import socket
import threading
import time

from conftest import new_account
from s3util import auth_header, bucket_name


def test_objects_survive_kill_9_and_partial_uploads_vanish(start_nephos, tmp_path):
    data = tmp_path / "data"
    server = start_nephos("--data-dir", str(data), "--quiet")
    account = new_account()
    s3 = server.client("s3", account=account, config_args={"connect_timeout": 2, "read_timeout": 5})
    b = bucket_name(account)
    s3.create_bucket(Bucket=b)
    s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    big = os.urandom(3 * 1024 * 1024)
    versions = [s3.put_object(Bucket=b, Key="versioned", Body=body)["VersionId"] for body in (b"v1", b"v2")]
    up = s3.create_multipart_upload(Bucket=b, Key="pending")["UploadId"]
    part_etag = s3.upload_part(Bucket=b, Key="pending", UploadId=up, PartNumber=1, Body=b"p" * 1000)["ETag"]

    acknowledged = {}
    lock = threading.Lock()
    stop = threading.Event()

    def writer(n):
        client = server.client("s3", account=account, config_args={"connect_timeout": 2, "read_timeout": 5})
        i = 0
        while not stop.is_set():
            key = f"w{n}/{i}"
            body = (big if i % 5 == 0 else os.urandom(2000)) + key.encode()
            try:
                etag = client.put_object(Bucket=b, Key=key, Body=body)["ETag"]
            except Exception:
                return
            with lock:
                acknowledged[key] = (hashlib.md5(body).hexdigest(), etag)
            i += 1

    # A raw upload that announces 8 MiB and sends half: it must never appear.
    sock = socket.create_connection(("127.0.0.1", server.port))
    head = (
        f"PUT /{b}/torn HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {8 * 1024 * 1024}\r\n"
        f"Authorization: {auth_header(account)}\r\n\r\n"
    )
    sock.sendall(head.encode() + b"t" * (4 * 1024 * 1024))

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    time.sleep(2.0)
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait()
    stop.set()
    for t in threads:
        t.join()
    sock.close()
    assert len(acknowledged) > 20, "the write load was too light to mean anything"

    restarted = start_nephos("--data-dir", str(data), "--quiet")
    s3 = restarted.client("s3", account=account)
    for key, (md5, etag) in acknowledged.items():
        got = s3.get_object(Bucket=b, Key=key)
        assert hashlib.md5(got["Body"].read()).hexdigest() == md5, key
        assert got["ETag"] == etag
    listed = {o["Key"] for p in s3.get_paginator("list_objects_v2").paginate(Bucket=b) for o in p.get("Contents", [])}
    assert "torn" not in listed
    # Whatever else is listed (written but not acknowledged before the kill) is whole.
    for key in listed - set(acknowledged) - {"versioned"}:
        body = s3.get_object(Bucket=b, Key=key)["Body"].read()
        assert body.endswith(key.encode()), key
    assert [v["VersionId"] for v in s3.list_object_versions(Bucket=b, Prefix="versioned")["Versions"]] == versions[::-1]
    assert s3.get_object(Bucket=b, Key="versioned", VersionId=versions[0])["Body"].read() == b"v1"
    assert s3.get_bucket_versioning(Bucket=b)["Status"] == "Enabled"
    # The multipart upload in progress survived with its part, and completes.
    assert [p["ETag"] for p in s3.list_parts(Bucket=b, Key="pending", UploadId=up)["Parts"]] == [part_etag]
    s3.complete_multipart_upload(Bucket=b, Key="pending", UploadId=up, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part_etag}]})
    assert s3.get_object(Bucket=b, Key="pending")["Body"].read() == b"p" * 1000
    # No orphaned partial blobs are kept: a sweep after start removes the crashed run's.
    deadline = time.monotonic() + 10
    while list((data / "s3" / "blobs").rglob("*.tmp")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not list((data / "s3" / "blobs").rglob("*.tmp"))


def test_deletes_survive_restart(start_nephos, tmp_path):
    data = tmp_path / "data"
    server = start_nephos("--data-dir", str(data), "--quiet")
    account = new_account()
    s3 = server.client("s3", account=account)
    b = bucket_name(account)
    s3.create_bucket(Bucket=b)
    s3.put_object(Bucket=b, Key="gone", Body=b"x" * 20000)
    s3.put_object(Bucket=b, Key="kept", Body=b"y")
    s3.delete_object(Bucket=b, Key="gone")
    server.stop(signal.SIGKILL)
    s3 = start_nephos("--data-dir", str(data), "--quiet").client("s3", account=account)
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=b)["Contents"]] == ["kept"]


def test_no_blob_outlives_its_object(start_nephos, tmp_path):
    """Overwrites, copies, deletes, multipart completes (with unused and replaced parts),
    aborts, part copies, version deletes and lifecycle expirations leave exactly the live
    bodies on disk."""
    data = tmp_path / "data"
    server = start_nephos("--data-dir", str(data), "--quiet")
    account = new_account()
    s3 = server.client("s3", account=account)
    b, v = bucket_name(account, "blobs"), bucket_name(account, "vblobs")
    big = b"x" * 100_000  # past the inline limit: every body here is a file
    s3.create_bucket(Bucket=b)
    s3.put_object(Bucket=b, Key="a", Body=big)
    s3.put_object(Bucket=b, Key="a", Body=big)
    s3.copy_object(Bucket=b, Key="a2", CopySource=f"{b}/a")
    s3.delete_object(Bucket=b, Key="a2")
    up = s3.create_multipart_upload(Bucket=b, Key="m")["UploadId"]
    e1 = s3.upload_part(Bucket=b, Key="m", UploadId=up, PartNumber=1, Body=b"p" * (5 * 1024 * 1024))["ETag"]
    s3.upload_part(Bucket=b, Key="m", UploadId=up, PartNumber=2, Body=b"r" * 100_000)
    e2 = s3.upload_part(Bucket=b, Key="m", UploadId=up, PartNumber=2, Body=b"q" * 100_000)["ETag"]
    s3.upload_part(Bucket=b, Key="m", UploadId=up, PartNumber=3, Body=b"s" * 100_000)
    s3.complete_multipart_upload(Bucket=b, Key="m", UploadId=up, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
    up = s3.create_multipart_upload(Bucket=b, Key="n")["UploadId"]
    s3.upload_part(Bucket=b, Key="n", UploadId=up, PartNumber=1, Body=big)
    s3.abort_multipart_upload(Bucket=b, Key="n", UploadId=up)
    up = s3.create_multipart_upload(Bucket=b, Key="pc")["UploadId"]
    etag = s3.upload_part_copy(Bucket=b, Key="pc", UploadId=up, PartNumber=1,
                               CopySource=f"{b}/a")["CopyPartResult"]["ETag"]
    s3.complete_multipart_upload(Bucket=b, Key="pc", UploadId=up, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": etag}]})
    s3.delete_object(Bucket=b, Key="pc")
    s3.delete_object(Bucket=b, Key="m")
    s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "a"}]})
    s3.create_bucket(Bucket=v)
    s3.put_bucket_versioning(Bucket=v, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=v, Key="k", Body=big)["VersionId"]
    s3.put_object(Bucket=v, Key="k", Body=big + b"2")
    s3.delete_object(Bucket=v, Key="k", VersionId=v1)
    s3.delete_object(Bucket=v, Key="k")  # a delete marker: the version stays
    # Lifecycle: an expired object and an abandoned upload go with their files.
    s3.put_object(Bucket=b, Key="old/x", Body=big)
    up = s3.create_multipart_upload(Bucket=b, Key="old/mpu")["UploadId"]
    s3.upload_part(Bucket=b, Key="old/mpu", UploadId=up, PartNumber=1, Body=big)
    s3.put_bucket_lifecycle_configuration(Bucket=b, LifecycleConfiguration={"Rules": [
        {"ID": "old", "Status": "Enabled", "Filter": {"Prefix": "old/"}, "Expiration": {"Days": 1},
         "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}}]})
    server.internal("/_nephos/clock", {"advance_seconds": 3 * 86400})
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (s3.list_objects_v2(Bucket=b).get("KeyCount")
                                           or s3.list_multipart_uploads(Bucket=b).get("Uploads")):
        time.sleep(0.05)

    files = [p for p in (data / "s3" / "blobs").rglob("*") if p.is_file()]
    assert len(files) == 1 and files[0].read_bytes() == big + b"2"
