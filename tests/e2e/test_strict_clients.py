"""S3 through clients whose parsers and protocol handling are strict, not just boto3.

- the AWS Common Runtime S3 client (`awscrt.s3`, the engine of the CRT-based SDKs and of
  Mountpoint): parallel multipart uploads, ranged parallel downloads, aws-chunked bodies
  with trailing checksums, errors read from the XML body;
- pyarrow's S3 filesystem, which is the AWS SDK for C++: Parquet files written with
  multipart uploads, listed, read back with ranged reads, copied, deleted;
- the AWS CLI streaming a large upload from stdin with --expected-size.

Every server here verifies SigV4 signatures, so the clients' own signers are checked too.
Each test runs under its own 12-digit account.
"""

import hashlib
import io
import os
import pathlib
import subprocess
import sys

import boto3
import pytest
from botocore.config import Config

from conftest import Nephos, new_account
from s3util import bucket_name

MIB = 1024 * 1024
SECRET = "test"  # the secret nephos expects for access keys it did not issue


@pytest.fixture(scope="module")
def server():
    srv = Nephos("--verify-signatures", "--quiet")
    yield srv
    srv.stop()


def make_bucket(server, account, suffix):
    s3 = _boto(server, account)
    b = bucket_name(account, suffix)
    s3.create_bucket(Bucket=b)
    return s3, b


def _boto(server, account):
    return boto3.client(
        "s3", endpoint_url=server.endpoint, region_name="us-east-1",
        aws_access_key_id=account, aws_secret_access_key=SECRET,
        config=Config(retries={"max_attempts": 0}),
    )


def multipart_etag(parts):
    digests = b"".join(hashlib.md5(p).digest() for p in parts)
    return '"%s-%d"' % (hashlib.md5(digests).hexdigest(), len(parts))


# --------------------------------------------------------------------------------------
# AWS Common Runtime S3 client
# --------------------------------------------------------------------------------------

try:
    from awscrt import auth as crt_auth
    from awscrt import http as crt_http
    from awscrt import io as crt_io
    from awscrt import s3 as crt_s3
except ImportError:  # no wheel for this platform: the CRT tests skip, the others run
    crt_s3 = None


@pytest.fixture(scope="module")
def crt_bootstrap():
    if crt_s3 is None:
        pytest.skip("awscrt is not installed (no wheel for this platform)")
    elg = crt_io.EventLoopGroup(2)
    return crt_io.ClientBootstrap(elg, crt_io.DefaultHostResolver(elg))


class CrtS3:
    """The CRT S3 client on nephos's plain-HTTP endpoint, path-style, signed with SigV4."""

    def __init__(self, bootstrap, server, account, part_size=5 * MIB):
        creds = crt_auth.AwsCredentialsProvider.new_static(account, SECRET)
        signing = crt_s3.create_default_s3_signing_config(region="us-east-1", credential_provider=creds)
        self.host = f"127.0.0.1:{server.port}"
        self.client = crt_s3.S3Client(
            bootstrap=bootstrap, region="us-east-1", tls_mode=crt_s3.S3RequestTlsMode.DISABLED,
            signing_config=signing, part_size=part_size,
            retry_config=crt_s3.S3RetryConfig(max_retries=1),
        )

    def request(self, type, method, path, body=None, headers=(), checksum=None, known_length=True):
        """Runs one meta request; returns (status, headers, body, on_done kwargs).

        Raises the CRT's S3ResponseError (with the server's status, headers and body) when
        the server answered an error, or AwsCrtError when the client rejected the answer.
        """
        hdrs = crt_http.HttpHeaders([("Host", self.host), *headers])
        stream = None
        if body is not None:
            stream = io.BytesIO(body) if known_length else _Unseekable(body)
            if known_length:
                hdrs.add("Content-Length", str(len(body)))
        req = crt_http.HttpRequest(method, path, hdrs, stream)
        got = {"status": None, "headers": None, "done": None}
        chunks = []

        def on_headers(status_code, headers, **_):
            got["status"], got["headers"] = status_code, dict((k.lower(), v) for k, v in headers)

        def on_body(chunk, offset, **_):
            # Offsets are within the object (a ranged GET starts at the range's first byte).
            chunks.append((offset, bytes(chunk)))

        def on_done(**kwargs):
            got["done"] = kwargs

        r = self.client.make_request(
            type=type, request=req, on_headers=on_headers, on_body=on_body, on_done=on_done,
            checksum_config=checksum,
        )
        r.finished_future.result(120)
        chunks.sort()
        for (o1, c1), (o2, _) in zip(chunks, chunks[1:]):
            assert o1 + len(c1) == o2, f"body chunks not contiguous at {o1 + len(c1)} / {o2}"
        return got["status"], got["headers"], b"".join(c for _, c in chunks), got["done"]

    def put(self, path, body, **kw):
        return self.request(crt_s3.S3RequestType.PUT_OBJECT, "PUT", path, body, **kw)

    def get(self, path, **kw):
        return self.request(crt_s3.S3RequestType.GET_OBJECT, "GET", path, **kw)


class _Unseekable(io.RawIOBase):
    """A body of unknown length: the CRT uploads it in parts as it reads."""

    def __init__(self, data):
        self._buf = io.BytesIO(data)

    def readable(self):
        return True

    def seekable(self):
        return False

    def readinto(self, b):
        chunk = self._buf.read(len(b))
        b[: len(chunk)] = chunk
        return len(chunk)


@pytest.fixture
def crt_bucket(server, crt_bootstrap):
    account = new_account()
    s3, b = make_bucket(server, account, "crt")
    return CrtS3(crt_bootstrap, server, account), s3, b


def test_crt_multipart_upload_and_parallel_ranged_download(crt_bucket):
    c, s3, b = crt_bucket
    data = os.urandom(20 * MIB + 123)
    status, _, _, _ = c.put(f"/{b}/big.bin", data)
    assert status == 200
    head = s3.head_object(Bucket=b, Key="big.bin")
    parts = [data[i:i + 5 * MIB] for i in range(0, len(data), 5 * MIB)]
    assert len(parts) == 5
    assert head["ContentLength"] == len(data) and head["ETag"] == multipart_etag(parts)
    status, headers, got, _ = c.get(f"/{b}/big.bin")
    assert status == 200 and got == data
    assert headers["etag"] == head["ETag"]


def test_crt_single_part_and_empty_objects(crt_bucket):
    c, s3, b = crt_bucket
    small = b"hello from the common runtime"
    assert c.put(f"/{b}/small.txt", small, headers=[("Content-Type", "text/plain")])[0] == 200
    status, headers, got, _ = c.get(f"/{b}/small.txt")
    assert status == 200 and got == small
    assert headers["etag"] == '"%s"' % hashlib.md5(small).hexdigest()
    assert headers["content-type"] == "text/plain"
    # An empty object: the CRT's first ranged GET gets 416 from S3 and it must cope.
    assert c.put(f"/{b}/empty", b"")[0] == 200
    status, _, got, _ = c.get(f"/{b}/empty")
    assert status in (200, 206) and got == b""
    assert s3.head_object(Bucket=b, Key="empty")["ContentLength"] == 0


def test_crt_ranged_get_across_parts(crt_bucket):
    c, s3, b = crt_bucket
    data = os.urandom(12 * MIB)
    s3.put_object(Bucket=b, Key="r.bin", Body=data)
    first, last = 1000, 11 * MIB + 17
    status, headers, got, _ = c.get(f"/{b}/r.bin", headers=[("Range", f"bytes={first}-{last}")])
    assert status == 206 and got == data[first:last + 1]
    assert headers["content-range"] == f"bytes {first}-{last}/{len(data)}"


CHECKSUMS = ["CRC32", "CRC32C", "SHA1", "SHA256", "CRC64NVME"]


def _trailer_config(algorithm):
    algo = getattr(crt_s3.S3ChecksumAlgorithm, algorithm)
    return algo, crt_s3.S3ChecksumConfig(algorithm=algo, location=crt_s3.S3ChecksumLocation.TRAILER)


@pytest.mark.parametrize("algorithm", CHECKSUMS)
def test_crt_trailing_checksum_single_part(crt_bucket, algorithm):
    """An aws-chunked body whose only checksum is an x-amz-checksum-* trailer (announced by
    x-amz-trailer, no x-amz-sdk-checksum-algorithm): S3 verifies it, keeps it, answers it."""
    c, s3, b = crt_bucket
    algo, upload = _trailer_config(algorithm)
    small = os.urandom(300 * 1024)
    status, headers, _, _ = c.put(f"/{b}/ck-small", small, checksum=upload)
    assert status == 200
    assert f"x-amz-checksum-{algorithm.lower()}" in headers, headers
    head = s3.head_object(Bucket=b, Key="ck-small", ChecksumMode="ENABLED")
    assert f"Checksum{algorithm}" in head
    status, _, got, done = c.get(f"/{b}/ck-small", checksum=crt_s3.S3ChecksumConfig(validate_response=True))
    assert status == 200 and got == small
    assert done["did_validate_checksum"] is True
    assert done["checksum_validation_algorithm"] == algo


@pytest.mark.parametrize("algorithm", CHECKSUMS)
def test_crt_trailing_checksums_multipart(crt_bucket, algorithm):
    """Each part carries its checksum as a trailer; the upload was created with the algorithm."""
    c, s3, b = crt_bucket
    _, upload = _trailer_config(algorithm)
    big = os.urandom(11 * MIB)
    assert c.put(f"/{b}/ck-big", big, checksum=upload)[0] == 200
    head = s3.head_object(Bucket=b, Key="ck-big", ChecksumMode="ENABLED")
    assert head["ETag"].endswith('-3"') and f"Checksum{algorithm}" in head
    status, _, got, _ = c.get(f"/{b}/ck-big", checksum=crt_s3.S3ChecksumConfig(validate_response=True))
    assert status == 200 and got == big


def test_crt_upload_of_unknown_length(crt_bucket):
    """A stream without Content-Length: the CRT always uses a multipart upload for it."""
    c, s3, b = crt_bucket
    data = os.urandom(7 * MIB + 5)
    assert c.put(f"/{b}/stream.bin", data, known_length=False)[0] == 200
    head = s3.head_object(Bucket=b, Key="stream.bin")
    assert head["ContentLength"] == len(data)
    assert head["ETag"] == multipart_etag([data[:5 * MIB], data[5 * MIB:]])
    assert c.get(f"/{b}/stream.bin")[2] == data


def test_crt_reads_errors_from_the_xml_body(crt_bucket):
    c, _, b = crt_bucket
    with pytest.raises(crt_s3.S3ResponseError) as e:
        c.get(f"/{b}/missing")
    assert e.value.status_code == 404
    assert b"<Code>NoSuchKey</Code>" in e.value.body
    with pytest.raises(crt_s3.S3ResponseError) as e:
        c.put(f"/{bucket_name(new_account(), 'nobucket')}/k", os.urandom(6 * MIB))
    assert e.value.status_code == 404
    assert b"<Code>NoSuchBucket</Code>" in e.value.body


def test_crt_signature_is_verified(server, crt_bootstrap):
    """The CRT's SigV4 signer is the one nephos verifies: a wrong secret is refused."""
    account = new_account()
    _, b = make_bucket(server, account, "crtsig")
    c = CrtS3(crt_bootstrap, server, account)
    creds = crt_auth.AwsCredentialsProvider.new_static(account, "not-the-secret")
    c.client = crt_s3.S3Client(
        bootstrap=crt_bootstrap, region="us-east-1", tls_mode=crt_s3.S3RequestTlsMode.DISABLED,
        signing_config=crt_s3.create_default_s3_signing_config(region="us-east-1", credential_provider=creds),
        retry_config=crt_s3.S3RetryConfig(max_retries=1),
    )
    with pytest.raises(crt_s3.S3ResponseError) as e:
        c.put(f"/{b}/k", b"x")
    assert e.value.status_code == 403
    assert b"<Code>SignatureDoesNotMatch</Code>" in e.value.body


# --------------------------------------------------------------------------------------
# pyarrow's S3 filesystem (the AWS SDK for C++)
# --------------------------------------------------------------------------------------


def _arrow_fs(server, account):
    pafs = pytest.importorskip("pyarrow.fs", reason="pyarrow has no wheel for this platform")
    return pafs, pafs.S3FileSystem(
        endpoint_override=f"127.0.0.1:{server.port}", scheme="http",
        access_key=account, secret_key=SECRET, region="us-east-1",
        allow_bucket_creation=True, allow_bucket_deletion=True,
        retry_strategy=pafs.AwsStandardS3RetryStrategy(max_attempts=1),
        connect_timeout=10, request_timeout=60,
    )


def _table(pa, rows):
    width = 120
    blob = os.urandom(rows * width)  # incompressible, so the file is as large as asked
    return pa.table({
        "i": pa.array(range(rows), pa.int64()),
        "b": pa.array([blob[n * width:(n + 1) * width] for n in range(rows)], pa.binary()),
    })


def test_pyarrow_parquet_write_list_read_delete(server):
    pa = pytest.importorskip("pyarrow", reason="pyarrow has no wheel for this platform")
    pq = pytest.importorskip("pyarrow.parquet")
    account = new_account()
    pafs, fs = _arrow_fs(server, account)
    b = bucket_name(account, "arrow")
    fs.create_dir(b)  # CreateBucket
    s3 = _boto(server, account)
    s3.head_bucket(Bucket=b)

    big = _table(pa, 200_000)  # ~25 MB: above the SDK's 10 MB part size, so multipart
    pq.write_table(big, f"{b}/data/big.parquet", filesystem=fs, compression="none")
    small = pa.table({"x": [1, 2, 3], "y": ["a", "b", "c"]})
    pq.write_table(small, f"{b}/data/part/small.parquet", filesystem=fs)

    info = fs.get_file_info(f"{b}/data/big.parquet")
    assert info.type == pafs.FileType.File and info.size > 20 * MIB
    assert "-" in s3.head_object(Bucket=b, Key="data/big.parquet")["ETag"]

    listed = {i.path: i.type for i in fs.get_file_info(pafs.FileSelector(b, recursive=True))}
    assert listed == {
        f"{b}/data": pafs.FileType.Directory,
        f"{b}/data/big.parquet": pafs.FileType.File,
        f"{b}/data/part": pafs.FileType.Directory,
        f"{b}/data/part/small.parquet": pafs.FileType.File,
    }
    top = fs.get_file_info(pafs.FileSelector(f"{b}/data", recursive=False))
    assert sorted(i.base_name for i in top) == ["big.parquet", "part"]

    assert pq.read_table(f"{b}/data/big.parquet", filesystem=fs).equals(big)
    assert pq.read_table(f"{b}/data/part/small.parquet", filesystem=fs).equals(small)
    # Column projection: ranged reads of the footer and one column chunk.
    assert pq.read_table(f"{b}/data/big.parquet", filesystem=fs, columns=["i"]).column("i").equals(big.column("i"))

    fs.delete_file(f"{b}/data/big.parquet")
    fs.delete_dir(f"{b}/data/part")
    assert fs.get_file_info(f"{b}/data/big.parquet").type == pafs.FileType.NotFound
    assert [i for i in fs.get_file_info(pafs.FileSelector(b, recursive=True)) if i.type == pafs.FileType.File] == []
    fs.delete_dir(b)  # DeleteBucket
    assert fs.get_file_info(b).type == pafs.FileType.NotFound


def test_pyarrow_streams_copies_and_directories(server):
    pytest.importorskip("pyarrow", reason="pyarrow has no wheel for this platform")
    account = new_account()
    pafs, fs = _arrow_fs(server, account)
    b = bucket_name(account, "arrowio")
    fs.create_dir(b)
    s3 = _boto(server, account)

    data = os.urandom(3 * MIB + 11)
    with fs.open_output_stream(f"{b}/raw.bin", metadata={"Content-Type": "application/x-test"}) as out:
        out.write(data)
    assert s3.head_object(Bucket=b, Key="raw.bin")["ContentType"] == "application/x-test"
    with fs.open_input_file(f"{b}/raw.bin") as f:
        assert f.size() == len(data)
        f.seek(MIB + 3)
        assert f.read(1000) == data[MIB + 3:MIB + 1003]
        assert f.read_at(10, len(data) - 10) == data[-10:]
    with fs.open_input_stream(f"{b}/raw.bin") as f:
        assert f.read() == data

    fs.copy_file(f"{b}/raw.bin", f"{b}/copies/raw.bin")  # CopyObject
    fs.move(f"{b}/copies/raw.bin", f"{b}/moved.bin")  # CopyObject + DeleteObject
    with fs.open_input_stream(f"{b}/moved.bin") as f:
        assert f.read() == data
    assert fs.get_file_info(f"{b}/copies/raw.bin").type == pafs.FileType.NotFound

    fs.create_dir(f"{b}/empty/dir")  # directory markers: keys ending in '/'
    assert fs.get_file_info(f"{b}/empty/dir").type == pafs.FileType.Directory
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=b).get("Contents", [])]
    assert "empty/dir/" in keys
    fs.delete_dir_contents(b)
    assert s3.list_objects_v2(Bucket=b).get("KeyCount") == 0


# --------------------------------------------------------------------------------------
# The AWS CLI (s3transfer) streaming from stdin
# --------------------------------------------------------------------------------------


def _aws_cli(server, account, *args, data=None):
    aws = pathlib.Path(sys.executable).parent / "aws"
    env = dict(
        os.environ, AWS_ACCESS_KEY_ID=account, AWS_SECRET_ACCESS_KEY=SECRET,
        AWS_DEFAULT_REGION="us-east-1", AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null",
    )
    out = subprocess.run(
        [str(aws), "--endpoint-url", server.endpoint, *args],
        input=data, capture_output=True, env=env, timeout=180,
    )
    assert out.returncode == 0, out.stderr.decode(errors="replace")
    return out.stdout


def test_aws_cli_streams_a_large_upload_with_expected_size(server):
    account = new_account()
    s3, b = make_bucket(server, account, "cli")
    data = os.urandom(50 * MIB + 7)
    _aws_cli(server, account, "s3", "cp", "-", f"s3://{b}/stream.bin", "--expected-size", str(len(data)), data=data)
    head = s3.head_object(Bucket=b, Key="stream.bin")
    assert head["ContentLength"] == len(data)
    assert head["ETag"].endswith('-7"')  # 50 MiB in parts of 8 MiB
    assert _aws_cli(server, account, "s3", "cp", f"s3://{b}/stream.bin", "-") == data


def test_pyarrow_lists_past_one_page(server):
    """More keys than one ListObjectsV2 page: the SDK for C++ follows continuation tokens,
    both for a recursive listing and for a delimited one with common prefixes."""
    pytest.importorskip("pyarrow", reason="pyarrow has no wheel for this platform")
    from concurrent.futures import ThreadPoolExecutor

    account = new_account()
    pafs, fs = _arrow_fs(server, account)
    s3, b = make_bucket(server, account, "arrowlist")
    keys = [f"flat/k{i:04d}" for i in range(1010)] + [f"dirs/d{i:04d}/x" for i in range(1005)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: s3.put_object(Bucket=b, Key=k, Body=b"."), keys))
    flat = fs.get_file_info(pafs.FileSelector(f"{b}/flat", recursive=True))
    assert sorted(i.path for i in flat) == sorted(f"{b}/{k}" for k in keys if k.startswith("flat/"))
    dirs = fs.get_file_info(pafs.FileSelector(f"{b}/dirs", recursive=False))
    assert len(dirs) == 1005 and all(i.type == pafs.FileType.Directory for i in dirs)
