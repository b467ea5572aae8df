"""S3 ACLs (canned and explicit grants), Block Public Access and object ownership."""

import json

import pytest
import requests
from botocore.exceptions import ClientError

from conftest import new_account
from s3util import bucket_name

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"


def code(e):
    return e.value.response["Error"]["Code"]


def test_canned_acls_and_anonymous_reads(nephos, account):
    s3 = nephos.client("s3", account=account)
    b = bucket_name(account, "acl")
    # ACLs and public access are off for new buckets: turn them on, as AWS users must.
    s3.create_bucket(Bucket=b, ObjectOwnership="ObjectWriter")
    s3.delete_public_access_block(Bucket=b)
    acl = s3.get_bucket_acl(Bucket=b)
    owner = acl["Owner"]["ID"]
    assert len(owner) == 64
    assert acl["Grants"] == [
        {"Grantee": {"Type": "CanonicalUser", "ID": owner, "DisplayName": account},
         "Permission": "FULL_CONTROL"}
    ]
    s3.put_object(Bucket=b, Key="private", Body=b"p")
    s3.put_object(Bucket=b, Key="public", Body=b"hello", ACL="public-read")
    assert requests.get(f"{nephos.endpoint}/{b}/private", timeout=5).status_code == 403
    r = requests.get(f"{nephos.endpoint}/{b}/public", timeout=5)
    assert r.status_code == 200 and r.content == b"hello"
    grants = s3.get_object_acl(Bucket=b, Key="public")["Grants"]
    assert {"Grantee": {"Type": "Group", "URI": ALL_USERS}, "Permission": "READ"} in grants
    # Anonymous listing needs READ on the bucket.
    assert requests.get(f"{nephos.endpoint}/{b}", timeout=5).status_code == 403
    s3.put_bucket_acl(Bucket=b, ACL="public-read")
    assert requests.get(f"{nephos.endpoint}/{b}", timeout=5).status_code == 200
    s3.put_object_acl(Bucket=b, Key="public", ACL="private")
    assert requests.get(f"{nephos.endpoint}/{b}/public", timeout=5).status_code == 403
    s3.put_object_acl(Bucket=b, Key="private", ACL="authenticated-read")
    other = nephos.client("s3", account=new_account())
    assert other.get_object(Bucket=b, Key="private")["Body"].read() == b"p"
    assert requests.get(f"{nephos.endpoint}/{b}/private", timeout=5).status_code == 403


def test_explicit_grants(nephos, account):
    s3 = nephos.client("s3", account=account)
    b = bucket_name(account, "grants")
    s3.create_bucket(Bucket=b, ObjectOwnership="ObjectWriter")
    s3.put_object(Bucket=b, Key="k", Body=b"x")
    friend = new_account()
    friend_s3 = nephos.client("s3", account=friend)
    friend_id = friend_s3.list_buckets()["Owner"]["ID"]
    with pytest.raises(ClientError) as e:
        friend_s3.get_object(Bucket=b, Key="k")
    assert code(e) == "AccessDenied"
    s3.put_object_acl(Bucket=b, Key="k", GrantRead=f'id="{friend_id}"')
    assert friend_s3.get_object(Bucket=b, Key="k")["Body"].read() == b"x"
    owner = s3.get_bucket_acl(Bucket=b)["Owner"]
    s3.put_bucket_acl(
        Bucket=b,
        AccessControlPolicy={
            "Owner": owner,
            "Grants": [
                {"Grantee": {"Type": "CanonicalUser", "ID": owner["ID"]}, "Permission": "FULL_CONTROL"},
                {"Grantee": {"Type": "CanonicalUser", "ID": friend_id}, "Permission": "WRITE"},
            ],
        },
    )
    grants = s3.get_bucket_acl(Bucket=b)["Grants"]
    assert {"Grantee": {"Type": "CanonicalUser", "ID": friend_id}, "Permission": "WRITE"} in grants
    friend_s3.put_object(Bucket=b, Key="from-friend", Body=b"y")
    with pytest.raises(ClientError) as e:
        s3.put_object_acl(Bucket=b, Key="k", ACL="private", GrantRead=f'id="{friend_id}"')
    assert code(e) == "InvalidRequest"


def test_block_public_access(nephos, account):
    s3 = nephos.client("s3", account=account)
    b = bucket_name(account, "bpa")
    s3.create_bucket(Bucket=b, ObjectOwnership="ObjectWriter")
    everything = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
                  "RestrictPublicBuckets": True}
    assert s3.get_public_access_block(Bucket=b)["PublicAccessBlockConfiguration"] == everything
    s3.delete_public_access_block(Bucket=b)
    with pytest.raises(ClientError) as e:
        s3.get_public_access_block(Bucket=b)
    assert code(e) == "NoSuchPublicAccessBlockConfiguration"
    s3.put_object(Bucket=b, Key="k", Body=b"x", ACL="public-read")
    assert requests.get(f"{nephos.endpoint}/{b}/k", timeout=5).status_code == 200
    cfg = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
           "RestrictPublicBuckets": False}
    s3.put_public_access_block(Bucket=b, PublicAccessBlockConfiguration=cfg)
    assert s3.get_public_access_block(Bucket=b)["PublicAccessBlockConfiguration"] == cfg
    # IgnorePublicAcls: the existing public grant no longer counts.
    assert requests.get(f"{nephos.endpoint}/{b}/k", timeout=5).status_code == 403
    for call in [
        lambda: s3.put_object(Bucket=b, Key="k2", Body=b"x", ACL="public-read"),
        lambda: s3.put_bucket_acl(Bucket=b, ACL="public-read-write"),
        lambda: s3.put_object_acl(Bucket=b, Key="k", GrantRead=f'uri="{ALL_USERS}"'),
        lambda: s3.put_bucket_policy(Bucket=b, Policy=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                           "Resource": f"arn:aws:s3:::{b}/*"}]})),
    ]:
        with pytest.raises(ClientError) as e:
            call()
        assert code(e) == "AccessDenied"
    s3.put_object(Bucket=b, Key="k3", Body=b"x", ACL="private")
    s3.delete_public_access_block(Bucket=b)
    assert requests.get(f"{nephos.endpoint}/{b}/k", timeout=5).status_code == 200


def test_ownership_controls(nephos, account):
    s3 = nephos.client("s3", account=account)
    b = bucket_name(account, "own")
    s3.create_bucket(Bucket=b)
    s3.delete_public_access_block(Bucket=b)
    rules = {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    # New buckets have ACLs disabled.
    assert s3.get_bucket_ownership_controls(Bucket=b)["OwnershipControls"] == rules
    s3.delete_bucket_ownership_controls(Bucket=b)
    with pytest.raises(ClientError) as e:
        s3.get_bucket_ownership_controls(Bucket=b)
    assert code(e) == "OwnershipControlsNotFoundError"
    s3.put_bucket_ownership_controls(Bucket=b, OwnershipControls=rules)
    assert s3.get_bucket_ownership_controls(Bucket=b)["OwnershipControls"] == rules
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=b, Key="k", Body=b"x", ACL="public-read")
    assert code(e) == "AccessControlListNotSupported"
    with pytest.raises(ClientError) as e:
        s3.put_bucket_acl(Bucket=b, ACL="public-read")
    assert code(e) == "AccessControlListNotSupported"
    s3.put_object(Bucket=b, Key="k", Body=b"x", ACL="bucket-owner-full-control")
    s3.delete_bucket_ownership_controls(Bucket=b)
    with pytest.raises(ClientError) as e:
        s3.get_bucket_ownership_controls(Bucket=b)
    assert code(e) == "OwnershipControlsNotFoundError"
    s3.put_object(Bucket=b, Key="k", Body=b"x", ACL="public-read")
    b2 = bucket_name(account, "own2")
    s3.create_bucket(Bucket=b2, ObjectOwnership="BucketOwnerEnforced")
    with pytest.raises(ClientError) as e:
        s3.put_object_acl(Bucket=b2, Key="none", ACL="public-read")
    assert code(e) in ("AccessControlListNotSupported", "NoSuchKey")
