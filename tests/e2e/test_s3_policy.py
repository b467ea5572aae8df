"""S3 bucket policies: stored, validated, and evaluated for anonymous and cross-account
callers."""

import json

import boto3
import pytest
import requests
from botocore.exceptions import ClientError

from conftest import new_account
from s3util import bucket_name


def code(e):
    return e.value.response["Error"]["Code"]


def test_public_read_policy(nephos, account):
    s3 = nephos.client("s3", account=account)
    b = bucket_name(account, "pol")
    s3.create_bucket(Bucket=b)
    # New buckets refuse public policies until Block Public Access is relaxed.
    s3.delete_public_access_block(Bucket=b)
    s3.put_object(Bucket=b, Key="public/x.txt", Body=b"for everyone")
    s3.put_object(Bucket=b, Key="private/y.txt", Body=b"secret")
    url = f"{nephos.endpoint}/{b}"
    assert requests.get(f"{url}/public/x.txt", timeout=5).status_code == 403
    with pytest.raises(ClientError) as e:
        s3.get_bucket_policy(Bucket=b)
    assert code(e) == "NoSuchBucketPolicy"
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "PublicRead", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
             "Resource": f"arn:aws:s3:::{b}/public/*"},
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999999999999:root"},
             "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{b}"},
        ],
    }
    s3.put_bucket_policy(Bucket=b, Policy=json.dumps(policy))
    assert json.loads(s3.get_bucket_policy(Bucket=b)["Policy"]) == policy
    r = requests.get(f"{url}/public/x.txt", timeout=5)
    assert (r.status_code, r.content) == (200, b"for everyone")
    r = requests.get(f"{url}/private/y.txt", timeout=5)
    assert r.status_code == 403 and "<Code>AccessDenied</Code>" in r.text
    assert requests.put(f"{url}/public/new", data=b"x", timeout=5).status_code == 403
    assert requests.get(f"{url}?list-type=2", timeout=5).status_code == 403
    other = nephos.client("s3", account=new_account())
    assert other.get_object(Bucket=b, Key="public/x.txt")["Body"].read() == b"for everyone"
    with pytest.raises(ClientError) as e:
        other.list_objects_v2(Bucket=b)
    assert code(e) == "AccessDenied"
    listed = nephos.client("s3", account="999999999999").list_objects_v2(Bucket=b)
    assert listed["KeyCount"] == 2
    with pytest.raises(ClientError) as e:
        other.get_bucket_policy(Bucket=b)
    assert code(e) == "AccessDenied"
    s3.delete_bucket_policy(Bucket=b)
    assert requests.get(f"{url}/public/x.txt", timeout=5).status_code == 403


def test_deny_applies_to_the_owner_and_bad_policies_are_refused(nephos, account):
    s3 = nephos.client("s3", account=account)
    b = bucket_name(account, "deny")
    s3.create_bucket(Bucket=b)
    s3.put_object(Bucket=b, Key="locked", Body=b"x")
    deny = {"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject",
                           "Resource": f"arn:aws:s3:::{b}/*"}]}
    s3.put_bucket_policy(Bucket=b, Policy=json.dumps(deny))
    with pytest.raises(ClientError) as e:
        s3.delete_object(Bucket=b, Key="locked")
    assert code(e) == "AccessDenied"
    assert s3.get_object(Bucket=b, Key="locked")["Body"].read() == b"x"
    for bad in ["not json", json.dumps({"Statement": []}),
                json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                                           "Resource": "arn:aws:s3:::some-other-bucket/*"}]})]:
        with pytest.raises(ClientError) as e:
            s3.put_bucket_policy(Bucket=b, Policy=bad)
        assert code(e) == "MalformedPolicy"


def test_policies_name_users_and_their_conditions_decide(nephos, account):
    """Bucket policies are evaluated by the engine every service shares: principals by
    user, conditions on the keys of the request (here `aws:SourceIp`, and the TLS
    condition CDK's `enforceSSL` writes, which nephos judges as AWS judges SDK callers)."""
    s3 = nephos.client("s3", account=account)
    b = bucket_name(account, "cond")
    s3.create_bucket(Bucket=b)
    s3.put_object(Bucket=b, Key="k", Body=b"x")
    other = new_account()
    iam = nephos.client("iam", account=other)
    keys = {}
    for name in ("alice", "bob"):
        iam.create_user(UserName=name)
        k = iam.create_access_key(UserName=name)["AccessKey"]
        keys[name] = boto3.client(
            "s3", endpoint_url=nephos.endpoint, region_name="us-east-1",
            aws_access_key_id=k["AccessKeyId"], aws_secret_access_key=k["SecretAccessKey"],
        )
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{other}:user/alice"},
         "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{b}/*"},
        {"Sid": "EnforceSSL", "Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "s3:*",
         "Resource": [f"arn:aws:s3:::{b}", f"arn:aws:s3:::{b}/*"],
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
    ]}
    s3.put_bucket_policy(Bucket=b, Policy=json.dumps(policy))
    assert keys["alice"].get_object(Bucket=b, Key="k")["Body"].read() == b"x"
    with pytest.raises(ClientError) as e:
        keys["bob"].get_object(Bucket=b, Key="k")
    assert code(e) == "AccessDenied"
    assert s3.get_object(Bucket=b, Key="k")["Body"].read() == b"x"
    # A deny on every address outside 10/8 binds the owner too; the policy itself stays
    # the owner's to change.
    policy["Statement"][1] = {
        "Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{b}/*",
        "Condition": {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
    }
    s3.put_bucket_policy(Bucket=b, Policy=json.dumps(policy))
    for client in (s3, keys["alice"]):
        with pytest.raises(ClientError) as e:
            client.get_object(Bucket=b, Key="k")
        assert code(e) == "AccessDenied"
    policy["Statement"][1]["Condition"] = {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}
    s3.put_bucket_policy(Bucket=b, Policy=json.dumps(policy))
    assert keys["alice"].get_object(Bucket=b, Key="k")["Body"].read() == b"x"
