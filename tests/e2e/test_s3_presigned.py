"""Presigned S3 URLs used from curl, with signatures verified."""

import shutil
import subprocess

import pytest

from conftest import new_account
from s3util import bucket_name

pytestmark = pytest.mark.skipif(not shutil.which("curl"), reason="curl is not installed")


def curl(*args):
    out = subprocess.run(["curl", "-s", "-o", "-", "-w", "\n%{http_code}", *args], capture_output=True, timeout=30)
    body, _, code = out.stdout.rpartition(b"\n")
    return int(code), body


def test_presigned_put_and_get_from_curl(start_nephos, tmp_path):
    server = start_nephos("--verify-signatures", "--quiet")
    account = new_account()
    # SigV4 query auth (boto3 presigns S3 URLs with SigV2 unless told otherwise).
    s3 = server.client("s3", account=account, config_args={"signature_version": "s3v4"})
    b = bucket_name(account, "ps")
    s3.create_bucket(Bucket=b)
    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": b, "Key": "up.txt"}, ExpiresIn=300)
    src = tmp_path / "up.txt"
    src.write_bytes(b"uploaded by curl")
    code, body = curl("-X", "PUT", "--upload-file", str(src), put_url)
    assert code == 200, body
    assert s3.get_object(Bucket=b, Key="up.txt")["Body"].read() == b"uploaded by curl"
    get_url = s3.generate_presigned_url("get_object", Params={"Bucket": b, "Key": "up.txt"}, ExpiresIn=300)
    code, body = curl(get_url)
    assert (code, body) == (200, b"uploaded by curl")
    code, body = curl(get_url.replace("X-Amz-Signature=", "X-Amz-Signature=0"))
    assert code == 403 and b"SignatureDoesNotMatch" in body
    short = s3.generate_presigned_url("get_object", Params={"Bucket": b, "Key": "up.txt"}, ExpiresIn=60)
    server.internal("/_nephos/clock", {"advance_seconds": 120})
    code, body = curl(short)
    assert code == 403 and b"AccessDenied" in body
