"""S3 bucket CORS: configuration, preflights answered from the bucket's rules, and CORS
headers on cross-origin requests."""

import pytest
import requests
from botocore.exceptions import ClientError

from s3util import bucket_name

RULES = [
    {
        "ID": "app",
        "AllowedOrigins": ["https://*.example.com"],
        "AllowedMethods": ["GET", "PUT"],
        "AllowedHeaders": ["x-amz-*", "Content-Type"],
        "ExposeHeaders": ["ETag", "x-amz-version-id"],
        "MaxAgeSeconds": 600,
    },
    {"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]},
]


def code(e):
    return e.value.response["Error"]["Code"]


def preflight(url, origin, method, headers=None):
    h = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        h["Access-Control-Request-Headers"] = headers
    return requests.options(url, headers=h, timeout=5)


def test_cors_configuration_round_trip_and_validation(nephos, account):
    s3 = nephos.client("s3", account=account)
    b = bucket_name(account, "cors")
    s3.create_bucket(Bucket=b)
    with pytest.raises(ClientError) as e:
        s3.get_bucket_cors(Bucket=b)
    assert code(e) == "NoSuchCORSConfiguration"
    s3.put_bucket_cors(Bucket=b, CORSConfiguration={"CORSRules": RULES})
    assert s3.get_bucket_cors(Bucket=b)["CORSRules"] == RULES
    with pytest.raises(ClientError) as e:
        s3.put_bucket_cors(
            Bucket=b,
            CORSConfiguration={"CORSRules": [{"AllowedOrigins": ["*"], "AllowedMethods": ["PATCH"]}]},
        )
    assert code(e) == "InvalidRequest"
    assert "Unsupported method is PATCH" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        s3.put_bucket_cors(
            Bucket=b,
            CORSConfiguration={"CORSRules": [{"AllowedOrigins": ["*.*.x"], "AllowedMethods": ["GET"]}]},
        )
    assert code(e) == "InvalidRequest"
    s3.delete_bucket_cors(Bucket=b)
    with pytest.raises(ClientError) as e:
        s3.get_bucket_cors(Bucket=b)
    assert code(e) == "NoSuchCORSConfiguration"


def test_preflight_uses_bucket_rules(nephos, account):
    s3 = nephos.client("s3", account=account)
    b = bucket_name(account, "pre")
    s3.create_bucket(Bucket=b)
    url = f"{nephos.endpoint}/{b}/some/key.txt"
    r = preflight(url, "https://app.example.com", "PUT")
    assert r.status_code == 403
    assert "<Code>CORSResponse</Code>" in r.text
    assert "CORS is not enabled for this bucket." in r.text
    s3.put_bucket_cors(Bucket=b, CORSConfiguration={"CORSRules": RULES})
    r = preflight(url, "https://app.example.com", "PUT", "x-amz-date, content-type")
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == "https://app.example.com"
    assert r.headers["access-control-allow-methods"] == "GET, PUT"
    assert r.headers["access-control-allow-headers"] == "x-amz-date, content-type"
    assert r.headers["access-control-max-age"] == "600"
    assert r.headers["access-control-expose-headers"] == "ETag, x-amz-version-id"
    assert r.headers["access-control-allow-credentials"] == "true"
    # The second rule: any origin, GET only, no headers.
    r = preflight(url, "http://elsewhere.test", "GET")
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == "*"
    for origin, method, headers in [
        ("http://elsewhere.test", "PUT", None),
        ("https://app.example.com", "DELETE", None),
        ("https://app.example.com", "PUT", "authorization"),
    ]:
        r = preflight(url, origin, method, headers)
        assert r.status_code == 403, (origin, method, headers)
        assert "This CORS request is not allowed" in r.text
    # Virtual-host style reaches the same rules.
    host = f"{b}.s3.localhost.localstack.cloud:{nephos.endpoint.rsplit(':', 1)[1]}"
    r = requests.options(
        f"{nephos.endpoint}/k",
        headers={"Host": host, "Origin": "https://app.example.com", "Access-Control-Request-Method": "GET"},
        timeout=5,
    )
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == "https://app.example.com"
    # Requests that name no bucket, and other services, keep the generic answer.
    r = preflight(f"{nephos.endpoint}/", "http://x.test", "POST")
    assert r.status_code == 200


def test_actual_requests_get_rule_headers(nephos, account):
    s3 = nephos.client("s3", account=account)
    b = bucket_name(account, "act")
    s3.create_bucket(Bucket=b)
    s3.delete_public_access_block(Bucket=b)
    s3.put_bucket_policy(
        Bucket=b,
        Policy='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*",'
        f'"Action":"s3:GetObject","Resource":"arn:aws:s3:::{b}/*"}}]}}',
    )
    s3.put_object(Bucket=b, Key="k", Body=b"hi")
    url = f"{nephos.endpoint}/{b}/k"
    r = requests.get(url, headers={"Origin": "https://app.example.com"}, timeout=5)
    assert r.status_code == 200
    assert "access-control-allow-origin" not in r.headers
    s3.put_bucket_cors(Bucket=b, CORSConfiguration={"CORSRules": RULES})
    r = requests.get(url, headers={"Origin": "https://app.example.com"}, timeout=5)
    assert r.status_code == 200 and r.content == b"hi"
    assert r.headers["access-control-allow-origin"] == "https://app.example.com"
    assert r.headers["access-control-expose-headers"] == "ETag, x-amz-version-id"
    r = requests.delete(url, headers={"Origin": "https://app.example.com"}, timeout=5)
    assert "access-control-allow-origin" not in r.headers
