"""S3 through the AWS CLI (s3 and s3api) and boto3's managed transfers."""

import os
import time

import boto3
import requests
from boto3.s3.transfer import TransferConfig

from s3util import bucket_name

MIB = 1024 * 1024


def test_aws_s3_commands(nephos, account, tmp_path):
    b = bucket_name(account, "cli")

    def cli(*args):
        out = nephos.aws(*args, account=account, check=False)
        assert out.returncode == 0, out.stderr
        return out.stdout

    cli("s3", "mb", f"s3://{b}")
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_bytes(b"alpha")
    (src / "sub" / "b.txt").write_bytes(b"beta")
    big = os.urandom(9 * MIB)  # above the CLI's 8 MiB multipart threshold
    (src / "big.bin").write_bytes(big)
    # S3 keeps whole seconds: a file written in the second of its upload looks newer
    # than its copy and would be uploaded again, on AWS as here.
    for f in [src / "a.txt", src / "sub" / "b.txt", src / "big.bin"]:
        os.utime(f, (time.time() - 60, time.time() - 60))
    cli("s3", "sync", str(src), f"s3://{b}/data")
    out = cli("s3", "ls", f"s3://{b}/data/", "--recursive")
    for name in ["data/a.txt", "data/sub/b.txt", "data/big.bin"]:
        assert name in out
    head = nephos.aws("s3api", "head-object", "--bucket", b, "--key", "data/big.bin", account=account)
    assert head["ContentLength"] == len(big) and head["ETag"].endswith('-2"')
    # A second sync uploads nothing.
    assert "upload:" not in cli("s3", "sync", str(src), f"s3://{b}/data")
    dst = tmp_path / "dst"
    cli("s3", "cp", f"s3://{b}/data", str(dst), "--recursive")
    assert (dst / "big.bin").read_bytes() == big
    assert (dst / "sub" / "b.txt").read_bytes() == b"beta"
    cli("s3", "cp", str(src / "a.txt"), f"s3://{b}/single.txt")
    url = cli("s3", "presign", f"s3://{b}/single.txt").strip()
    assert url.startswith(nephos.endpoint) and "Signature=" in url  # CLI v1 presigns with SigV2
    assert requests.get(url, timeout=10).content == b"alpha"
    listed = nephos.aws("s3api", "list-objects-v2", "--bucket", b, "--prefix", "data/sub/", account=account)
    assert [o["Key"] for o in listed["Contents"]] == ["data/sub/b.txt"]
    cli("s3", "rm", f"s3://{b}", "--recursive")
    assert nephos.aws("s3api", "list-objects-v2", "--bucket", b, account=account).get("KeyCount", 0) == 0
    cli("s3", "rb", f"s3://{b}")
    assert b not in cli("s3", "ls")


def test_boto3_managed_transfers(nephos, account, tmp_path):
    s3 = nephos.client("s3", account=account)
    b = bucket_name(account, "xfer")
    s3.create_bucket(Bucket=b)
    path = tmp_path / "up.bin"
    data = os.urandom(21 * MIB)
    path.write_bytes(data)
    cfg = TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB, max_concurrency=4)
    s3.upload_file(str(path), b, "up.bin", Config=cfg)
    head = s3.head_object(Bucket=b, Key="up.bin")
    assert head["ContentLength"] == len(data) and head["ETag"].endswith('-5"')
    out = tmp_path / "down.bin"
    s3.download_file(b, "up.bin", str(out), Config=cfg)
    assert out.read_bytes() == data
    res = boto3.resource(
        "s3", endpoint_url=nephos.endpoint, region_name="us-east-1",
        aws_access_key_id=account, aws_secret_access_key="test",
    )
    assert [o.key for o in res.Bucket(b).objects.all()] == ["up.bin"]
