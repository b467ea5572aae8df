"""Helpers shared by the S3 end-to-end tests."""

import requests


def auth_header(account, region="us-east-1"):
    # Signatures are not verified by default; the scope names the account and region.
    return (
        f"AWS4-HMAC-SHA256 Credential={account}/20240101/{region}/s3/aws4_request, "
        "SignedHeaders=host, Signature=00"
    )


def raw(nephos, account, method, path, headers=None, data=None, host=None):
    h = {"Authorization": auth_header(account)}
    if host:
        h["Host"] = host
    h.update(headers or {})
    return requests.request(method, nephos.endpoint + path, headers=h, data=data, timeout=30)


def bucket_name(account, suffix="b"):
    return f"t{account}-{suffix}"
