"""Fixtures shared by the end-to-end tests of one service or another (the server-wide
ones live in tests/conftest.py)."""

import pytest

from s3util import bucket_name


@pytest.fixture
def s3b(nephos, account):
    """An S3 client of the test's own account and a bucket of its own."""
    s3 = nephos.client("s3", account=account)
    name = bucket_name(account)
    s3.create_bucket(Bucket=name)
    return s3, name
