"""IAM users, groups, roles, managed and inline policies and their attachments, through
boto3 and the AWS CLI against the nephos binary (each test in an account of its own)."""

import json

import pytest
from botocore.exceptions import ClientError

DOC = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
}
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "ec2.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


def fails(call, **kwargs):
    """The (code, message, status) a call fails with."""
    with pytest.raises(ClientError) as e:
        call(**kwargs)
    r = e.value.response
    return r["Error"]["Code"], r["Error"]["Message"], r["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture
def iam(nephos, account):
    return nephos.client("iam", account=account)


# --- users ---------------------------------------------------------------------------


def test_user_lifecycle(iam, account):
    u = iam.create_user(UserName="alice", Path="/eng/", Tags=[{"Key": "team", "Value": "a"}])["User"]
    assert u["UserName"] == "alice" and u["Path"] == "/eng/"
    assert u["Arn"] == f"arn:aws:iam::{account}:user/eng/alice"
    assert u["UserId"].startswith("AIDA") and len(u["UserId"]) == 21
    assert u["Tags"] == [{"Key": "team", "Value": "a"}]
    got = iam.get_user(UserName="alice")["User"]
    assert got["UserId"] == u["UserId"] and got["CreateDate"] == u["CreateDate"]
    # Names are unique regardless of case, and found regardless of case.
    assert fails(iam.create_user, UserName="ALICE") == (
        "EntityAlreadyExists", "User with name ALICE already exists.", 409)
    assert iam.get_user(UserName="Alice")["User"]["UserName"] == "alice"
    # Renaming keeps the id and moves the ARN.
    iam.update_user(UserName="alice", NewUserName="alicia", NewPath="/ops/")
    moved = iam.get_user(UserName="alicia")["User"]
    assert moved["UserId"] == u["UserId"]
    assert moved["Arn"] == f"arn:aws:iam::{account}:user/ops/alicia"
    assert fails(iam.get_user, UserName="alice") == (
        "NoSuchEntity", "The user with name alice cannot be found.", 404)
    iam.delete_user(UserName="alicia")
    assert fails(iam.delete_user, UserName="alicia")[0] == "NoSuchEntity"


def test_list_users_by_path_and_pages(iam):
    for n in range(5):
        iam.create_user(UserName=f"u{n}", Path="/a/" if n % 2 else "/b/")
    assert [u["UserName"] for u in iam.list_users()["Users"]] == ["u0", "u1", "u2", "u3", "u4"]
    assert [u["UserName"] for u in iam.list_users(PathPrefix="/a/")["Users"]] == ["u1", "u3"]
    first = iam.list_users(MaxItems=2)
    assert first["IsTruncated"] and [u["UserName"] for u in first["Users"]] == ["u0", "u1"]
    second = iam.list_users(MaxItems=2, Marker=first["Marker"])
    assert [u["UserName"] for u in second["Users"]] == ["u2", "u3"]
    third = iam.list_users(MaxItems=2, Marker=second["Marker"])
    assert [u["UserName"] for u in third["Users"]] == ["u4"] and not third["IsTruncated"]
    assert "Marker" not in third
    # Listings leave tags out, as IAM does.
    iam.tag_user(UserName="u0", Tags=[{"Key": "k", "Value": "v"}])
    assert "Tags" not in iam.list_users()["Users"][0]
    # A paginator walks the pages.
    names = [u["UserName"] for p in iam.get_paginator("list_users").paginate(PaginationConfig={"PageSize": 2}) for u in p["Users"]]
    assert names == ["u0", "u1", "u2", "u3", "u4"]


def test_paths_must_begin_and_end_with_slash(iam):
    code, _, status = fails(iam.create_user, UserName="p", Path="/no-end")
    assert (code, status) == ("ValidationError", 400)


def test_delete_user_conflicts(iam):
    iam.create_user(UserName="bob")
    key = iam.create_access_key(UserName="bob")["AccessKey"]["AccessKeyId"]
    assert fails(iam.delete_user, UserName="bob") == (
        "DeleteConflict", "Cannot delete entity, must delete access keys first.", 409)
    iam.delete_access_key(UserName="bob", AccessKeyId=key)
    iam.put_user_policy(UserName="bob", PolicyName="p", PolicyDocument=json.dumps(DOC))
    assert fails(iam.delete_user, UserName="bob")[1] == "Cannot delete entity, must delete policies first."
    iam.delete_user_policy(UserName="bob", PolicyName="p")
    arn = iam.create_policy(PolicyName="mp", PolicyDocument=json.dumps(DOC))["Policy"]["Arn"]
    iam.attach_user_policy(UserName="bob", PolicyArn=arn)
    assert fails(iam.delete_user, UserName="bob")[1] == "Cannot delete entity, must detach all policies first."
    iam.detach_user_policy(UserName="bob", PolicyArn=arn)
    iam.create_group(GroupName="g")
    iam.add_user_to_group(GroupName="g", UserName="bob")
    assert fails(iam.delete_user, UserName="bob")[1] == "Cannot delete entity, must remove users from group first."
    iam.remove_user_from_group(GroupName="g", UserName="bob")
    iam.delete_user(UserName="bob")


def test_user_permissions_boundary(iam):
    arn = iam.create_policy(PolicyName="bound", PolicyDocument=json.dumps(DOC))["Policy"]["Arn"]
    assert "PermissionsBoundary" not in iam.create_user(UserName="b")["User"]
    iam.put_user_permissions_boundary(UserName="b", PermissionsBoundary=arn)
    assert iam.get_user(UserName="b")["User"]["PermissionsBoundary"] == {
        "PermissionsBoundaryArn": arn, "PermissionsBoundaryType": "Policy"}
    assert iam.get_policy(PolicyArn=arn)["Policy"]["PermissionsBoundaryUsageCount"] == 1
    missing = arn + "x"
    assert fails(iam.put_user_permissions_boundary, UserName="b", PermissionsBoundary=missing) == (
        "NoSuchEntity", f"Scope ARN: {missing} does not exist or is not attachable.", 404)
    # A policy bounding an entity cannot be deleted.
    assert fails(iam.delete_policy, PolicyArn=arn)[0] == "DeleteConflict"
    iam.delete_user_permissions_boundary(UserName="b")
    assert "PermissionsBoundary" not in iam.get_user(UserName="b")["User"]
    created = iam.create_user(UserName="b2", PermissionsBoundary=arn)["User"]
    assert created["PermissionsBoundary"]["PermissionsBoundaryArn"] == arn


def test_get_user_of_the_root_caller(iam, account):
    u = iam.get_user()["User"]
    assert u["UserId"] == account
    assert u["Arn"] == f"arn:aws:iam::{account}:root"


def test_user_tags(iam):
    iam.create_user(UserName="t")
    iam.tag_user(UserName="t", Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
    iam.tag_user(UserName="t", Tags=[{"Key": "A", "Value": "3"}])
    assert iam.list_user_tags(UserName="t")["Tags"] == [
        {"Key": "A", "Value": "3"}, {"Key": "b", "Value": "2"}]
    page = iam.list_user_tags(UserName="t", MaxItems=1)
    assert page["IsTruncated"] and len(page["Tags"]) == 1
    assert iam.list_user_tags(UserName="t", Marker=page["Marker"])["Tags"] == [{"Key": "b", "Value": "2"}]
    iam.untag_user(UserName="t", TagKeys=["a"])
    assert iam.list_user_tags(UserName="t")["Tags"] == [{"Key": "b", "Value": "2"}]
    assert fails(iam.tag_user, UserName="t", Tags=[{"Key": "x", "Value": "1"}, {"Key": "X", "Value": "2"}]) == (
        "InvalidInput", "Duplicate tag keys found. Please note that Tag keys are case insensitive.", 400)
    iam.tag_user(UserName="t", Tags=[{"Key": f"k{n}", "Value": "v"} for n in range(49)])
    code, _, status = fails(iam.tag_user, UserName="t", Tags=[{"Key": "one-too-many", "Value": "v"}])
    assert (code, status) == ("LimitExceeded", 409)
    assert fails(iam.list_user_tags, UserName="nobody")[0] == "NoSuchEntity"


# --- groups --------------------------------------------------------------------------


def test_group_lifecycle_and_members(iam, account):
    g = iam.create_group(GroupName="devs", Path="/x/")["Group"]
    assert g["GroupId"].startswith("AGPA") and g["Arn"] == f"arn:aws:iam::{account}:group/x/devs"
    assert fails(iam.create_group, GroupName="DEVS") == (
        "EntityAlreadyExists", "Group with name DEVS already exists.", 409)
    for n in ("ann", "ben", "cid"):
        iam.create_user(UserName=n)
        iam.add_user_to_group(GroupName="devs", UserName=n)
    iam.add_user_to_group(GroupName="devs", UserName="ann")  # already in: no change
    got = iam.get_group(GroupName="devs")
    assert [u["UserName"] for u in got["Users"]] == ["ann", "ben", "cid"]
    page = iam.get_group(GroupName="devs", MaxItems=2)
    assert page["IsTruncated"] and len(page["Users"]) == 2
    rest = iam.get_group(GroupName="devs", Marker=page["Marker"])
    assert [u["UserName"] for u in rest["Users"]] == ["cid"]
    assert [x["GroupName"] for x in iam.list_groups_for_user(UserName="ben")["Groups"]] == ["devs"]
    assert fails(iam.delete_group, GroupName="devs") == (
        "DeleteConflict", "Cannot delete entity, must remove users from group first.", 409)
    iam.update_group(GroupName="devs", NewGroupName="builders")
    # Membership follows the rename.
    assert [x["GroupName"] for x in iam.list_groups_for_user(UserName="ben")["Groups"]] == ["builders"]
    assert [x["GroupName"] for x in iam.list_groups(PathPrefix="/x/")["Groups"]] == ["builders"]
    for n in ("ann", "ben", "cid"):
        iam.remove_user_from_group(GroupName="builders", UserName=n)
    assert fails(iam.remove_user_from_group, GroupName="builders", UserName="ann")[0] == "NoSuchEntity"
    assert fails(iam.add_user_to_group, GroupName="builders", UserName="zed") == (
        "NoSuchEntity", "The user with name zed cannot be found.", 404)
    iam.delete_group(GroupName="builders")
    assert fails(iam.get_group, GroupName="builders") == (
        "NoSuchEntity", "The group with name builders cannot be found.", 404)


def test_groups_per_user_quota(iam):
    iam.create_user(UserName="joiner")
    for n in range(10):
        iam.create_group(GroupName=f"g{n}")
        iam.add_user_to_group(GroupName=f"g{n}", UserName="joiner")
    iam.create_group(GroupName="g10")
    assert fails(iam.add_user_to_group, GroupName="g10", UserName="joiner") == (
        "LimitExceeded", "Cannot exceed quota for GroupsPerUser: 10", 409)


# --- roles ---------------------------------------------------------------------------


def test_role_lifecycle(iam, account):
    r = iam.create_role(RoleName="app", Path="/svc/", AssumeRolePolicyDocument=json.dumps(TRUST),
                        Description="the app", Tags=[{"Key": "k", "Value": "v"}])["Role"]
    assert r["RoleId"].startswith("AROA") and len(r["RoleId"]) == 21
    assert r["Arn"] == f"arn:aws:iam::{account}:role/svc/app"
    # boto3 decodes the URL-encoded document IAM answers.
    assert r["AssumeRolePolicyDocument"] == TRUST
    assert "MaxSessionDuration" not in r and "RoleLastUsed" not in r
    got = iam.get_role(RoleName="app")["Role"]
    assert got["MaxSessionDuration"] == 3600 and got["RoleLastUsed"] == {}
    assert got["Description"] == "the app" and got["Tags"] == [{"Key": "k", "Value": "v"}]
    listed = iam.list_roles(PathPrefix="/svc/")["Roles"]
    assert [x["RoleName"] for x in listed] == ["app"]
    assert "Tags" not in listed[0] and listed[0]["MaxSessionDuration"] == 3600
    assert fails(iam.create_role, RoleName="APP", AssumeRolePolicyDocument=json.dumps(TRUST)) == (
        "EntityAlreadyExists", "Role with name APP already exists.", 409)
    iam.update_role(RoleName="app", MaxSessionDuration=7200, Description="new")
    got = iam.get_role(RoleName="app")["Role"]
    assert (got["MaxSessionDuration"], got["Description"]) == (7200, "new")
    assert iam.update_role_description(RoleName="app", Description="d2")["Role"]["Description"] == "d2"
    new_trust = dict(TRUST, Statement=[dict(TRUST["Statement"][0], Principal={"Service": "lambda.amazonaws.com"})])
    iam.update_assume_role_policy(RoleName="app", PolicyDocument=json.dumps(new_trust))
    assert iam.get_role(RoleName="app")["Role"]["AssumeRolePolicyDocument"] == new_trust
    iam.tag_role(RoleName="app", Tags=[{"Key": "k2", "Value": "v2"}])
    iam.untag_role(RoleName="app", TagKeys=["k"])
    assert iam.list_role_tags(RoleName="app")["Tags"] == [{"Key": "k2", "Value": "v2"}]
    iam.delete_role(RoleName="app")
    assert fails(iam.get_role, RoleName="app") == (
        "NoSuchEntity", "The role with name app cannot be found.", 404)


def test_role_session_duration_limits(nephos, iam, account):
    # A client that sends what it is given, so nephos's own validation answers.
    raw = nephos.client("iam", account=account, config_args={"parameter_validation": False})
    code, _, status = fails(raw.create_role, RoleName="r", AssumeRolePolicyDocument=json.dumps(TRUST),
                            MaxSessionDuration=60)
    assert (code, status) == ("ValidationError", 400)
    code, _, _ = fails(raw.create_role, RoleName="r", AssumeRolePolicyDocument=json.dumps(TRUST),
                       MaxSessionDuration=43201)
    assert code == "ValidationError"
    r = iam.create_role(RoleName="r", AssumeRolePolicyDocument=json.dumps(TRUST), MaxSessionDuration=43200)
    assert iam.get_role(RoleName="r")["Role"]["MaxSessionDuration"] == 43200
    assert r["Role"]["RoleName"] == "r"


def test_trust_policy_documents_are_checked(iam):
    bad = '{"Version": "2012-10-17", "Statement": [{"Action": "sts:AssumeRole", "Principal": "*", "Effect": "Allow",}]}'
    assert fails(iam.create_role, RoleName="r", AssumeRolePolicyDocument=bad) == (
        "MalformedPolicyDocument", "This policy contains invalid Json", 400)
    big = dict(TRUST, Statement=[dict(TRUST["Statement"][0], Sid="x" * 2100)])
    assert fails(iam.create_role, RoleName="r", AssumeRolePolicyDocument=json.dumps(big)) == (
        "LimitExceeded", "Cannot exceed quota for ACLSizePerRole: 2048", 409)
    # The old policy language is still accepted in trust policies.
    old = dict(TRUST, Version="2008-10-17")
    iam.create_role(RoleName="r", AssumeRolePolicyDocument=json.dumps(old))


def test_role_delete_conflicts(iam):
    iam.create_role(RoleName="r", AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.put_role_policy(RoleName="r", PolicyName="p", PolicyDocument=json.dumps(DOC))
    assert fails(iam.delete_role, RoleName="r") == (
        "DeleteConflict", "Cannot delete entity, must delete policies first.", 409)
    iam.delete_role_policy(RoleName="r", PolicyName="p")
    iam.create_instance_profile(InstanceProfileName="ip")
    iam.add_role_to_instance_profile(InstanceProfileName="ip", RoleName="r")
    assert fails(iam.delete_role, RoleName="r")[1] == (
        "Cannot delete entity, must remove roles from instance profile first.")
    iam.remove_role_from_instance_profile(InstanceProfileName="ip", RoleName="r")
    iam.delete_role(RoleName="r")


def test_role_permissions_boundary(iam):
    arn = iam.create_policy(PolicyName="rb", PolicyDocument=json.dumps(DOC))["Policy"]["Arn"]
    iam.create_role(RoleName="r", AssumeRolePolicyDocument=json.dumps(TRUST), PermissionsBoundary=arn)
    assert iam.get_role(RoleName="r")["Role"]["PermissionsBoundary"]["PermissionsBoundaryArn"] == arn
    iam.delete_role_permissions_boundary(RoleName="r")
    assert "PermissionsBoundary" not in iam.get_role(RoleName="r")["Role"]
    iam.put_role_permissions_boundary(RoleName="r", PermissionsBoundary=arn)
    ents = iam.list_entities_for_policy(PolicyArn=arn, PolicyUsageFilter="PermissionsBoundary")
    assert [x["RoleName"] for x in ents["PolicyRoles"]] == ["r"]


# --- managed policies ----------------------------------------------------------------


def test_managed_policy_lifecycle(iam, account):
    p = iam.create_policy(PolicyName="read", Path="/team/", PolicyDocument=json.dumps(DOC),
                          Description="reads", Tags=[{"Key": "a", "Value": "b"}])["Policy"]
    assert p["Arn"] == f"arn:aws:iam::{account}:policy/team/read"
    assert p["PolicyId"].startswith("ANPA") and p["DefaultVersionId"] == "v1"
    assert (p["AttachmentCount"], p["PermissionsBoundaryUsageCount"], p["IsAttachable"]) == (0, 0, True)
    assert fails(iam.create_policy, PolicyName="read", PolicyDocument=json.dumps(DOC)) == (
        "EntityAlreadyExists", "A policy called read already exists. Duplicate names are not allowed.", 409)
    got = iam.get_policy(PolicyArn=p["Arn"])["Policy"]
    assert got["Description"] == "reads" and got["Tags"] == [{"Key": "a", "Value": "b"}]
    v1 = iam.get_policy_version(PolicyArn=p["Arn"], VersionId="v1")["PolicyVersion"]
    assert v1["Document"] == DOC and v1["IsDefaultVersion"]
    doc2 = dict(DOC, Statement=[dict(DOC["Statement"][0], Action="s3:PutObject")])
    v2 = iam.create_policy_version(PolicyArn=p["Arn"], PolicyDocument=json.dumps(doc2), SetAsDefault=True)
    assert v2["PolicyVersion"]["VersionId"] == "v2" and v2["PolicyVersion"]["IsDefaultVersion"]
    assert iam.get_policy(PolicyArn=p["Arn"])["Policy"]["DefaultVersionId"] == "v2"
    for _ in range(3):
        iam.create_policy_version(PolicyArn=p["Arn"], PolicyDocument=json.dumps(DOC))
    assert fails(iam.create_policy_version, PolicyArn=p["Arn"], PolicyDocument=json.dumps(DOC)) == (
        "LimitExceeded",
        "A managed policy can have up to 5 versions. Before you create a new version, you must delete an existing version.",
        409)
    versions = iam.list_policy_versions(PolicyArn=p["Arn"])["Versions"]
    assert [v["VersionId"] for v in versions] == ["v5", "v4", "v3", "v2", "v1"]
    assert [v["IsDefaultVersion"] for v in versions] == [False, False, False, True, False]
    assert fails(iam.delete_policy_version, PolicyArn=p["Arn"], VersionId="v2") == (
        "DeleteConflict", "Cannot delete the default version of a policy.", 409)
    assert fails(iam.delete_policy, PolicyArn=p["Arn"])[0] == "DeleteConflict"
    iam.set_default_policy_version(PolicyArn=p["Arn"], VersionId="v5")
    for v in ("v1", "v2", "v3", "v4"):
        iam.delete_policy_version(PolicyArn=p["Arn"], VersionId=v)
    # Version numbers are never reused.
    assert iam.create_policy_version(PolicyArn=p["Arn"], PolicyDocument=json.dumps(DOC))["PolicyVersion"]["VersionId"] == "v6"
    iam.delete_policy_version(PolicyArn=p["Arn"], VersionId="v6")
    assert fails(iam.get_policy_version, PolicyArn=p["Arn"], VersionId="v1") == (
        "NoSuchEntity", f"Policy {p['Arn']} version v1 does not exist or is not attachable.", 404)
    iam.tag_policy(PolicyArn=p["Arn"], Tags=[{"Key": "c", "Value": "d"}])
    iam.untag_policy(PolicyArn=p["Arn"], TagKeys=["a"])
    assert iam.list_policy_tags(PolicyArn=p["Arn"])["Tags"] == [{"Key": "c", "Value": "d"}]
    iam.delete_policy(PolicyArn=p["Arn"])
    assert fails(iam.get_policy, PolicyArn=p["Arn"]) == (
        "NoSuchEntity", f"Policy {p['Arn']} was not found.", 404)


def test_policy_documents_are_checked(iam):
    assert fails(iam.create_policy, PolicyName="p", PolicyDocument="not json") == (
        "MalformedPolicyDocument", "Syntax errors in policy.", 400)
    assert fails(iam.create_policy, PolicyName="p", PolicyDocument=json.dumps({"Version": "2012-10-17"}))[1] == (
        "Syntax errors in policy.")
    no_version = {"Statement": DOC["Statement"]}
    assert fails(iam.create_policy, PolicyName="p", PolicyDocument=json.dumps(no_version))[1] == (
        "Policy document must be version 2012-10-17 or greater.")
    big = dict(DOC, Statement=[dict(DOC["Statement"][0], Resource=["arn:aws:s3:::" + "b" * 100] * 60)])
    assert fails(iam.create_policy, PolicyName="p", PolicyDocument=json.dumps(big)) == (
        "LimitExceeded", "Cannot exceed quota for PolicySize: 6144", 409)


def test_list_policies_scopes_and_filters(iam):
    arns = [iam.create_policy(PolicyName=f"p{n}", Path="/a/" if n else "/b/", PolicyDocument=json.dumps(DOC))["Policy"]["Arn"]
            for n in range(3)]
    local = iam.list_policies(Scope="Local")["Policies"]
    assert [p["PolicyName"] for p in local] == ["p0", "p1", "p2"]
    assert "Tags" not in local[0] and "Description" not in local[0]
    assert [p["PolicyName"] for p in iam.list_policies(Scope="Local", PathPrefix="/a/")["Policies"]] == ["p1", "p2"]
    iam.create_user(UserName="u")
    iam.attach_user_policy(UserName="u", PolicyArn=arns[2])
    attached = iam.list_policies(Scope="Local", OnlyAttached=True)["Policies"]
    assert [(p["PolicyName"], p["AttachmentCount"]) for p in attached] == [("p2", 1)]
    page = iam.list_policies(Scope="Local", MaxItems=2)
    assert page["IsTruncated"]
    assert [p["PolicyName"] for p in iam.list_policies(Scope="Local", Marker=page["Marker"])["Policies"]] == ["p2"]


# --- attachments ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["user", "group", "role"])
def test_attach_and_detach(iam, account, kind):
    name = f"{kind}-x"
    Kind = kind.capitalize()
    if kind == "user":
        iam.create_user(UserName=name)
    elif kind == "group":
        iam.create_group(GroupName=name)
    else:
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))
    attach = getattr(iam, f"attach_{kind}_policy")
    detach = getattr(iam, f"detach_{kind}_policy")
    listed = getattr(iam, f"list_attached_{kind}_policies")
    who = {f"{Kind}Name": name}
    arn = iam.create_policy(PolicyName=f"p-{kind}", PolicyDocument=json.dumps(DOC))["Policy"]["Arn"]
    assert fails(attach, PolicyArn="longpolicynamebutnoarn", **who) == (
        "ValidationError", "Invalid ARN:  Could not be parsed!", 400)
    assert fails(attach, PolicyArn=arn + "123", **who) == (
        "NoSuchEntity", f"Policy {arn}123 does not exist or is not attachable.", 404)
    attach(PolicyArn=arn, **who)
    attach(PolicyArn=arn, **who)  # attaching twice changes nothing
    assert listed(**who)["AttachedPolicies"] == [{"PolicyName": f"p-{kind}", "PolicyArn": arn}]
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 1
    ents = iam.list_entities_for_policy(PolicyArn=arn)
    assert [x[f"{Kind}Name"] for x in ents[f"Policy{Kind}s"]] == [name]
    assert fails(iam.delete_policy, PolicyArn=arn) == (
        "DeleteConflict", "Cannot delete a policy attached to entities.", 409)
    plural = "delete_" + kind
    assert fails(getattr(iam, plural), **who)[1] == "Cannot delete entity, must detach all policies first."
    detach(PolicyArn=arn, **who)
    assert listed(**who)["AttachedPolicies"] == []
    assert fails(detach, PolicyArn=arn, **who) == ("NoSuchEntity", f"Policy {arn} was not found.", 404)
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 0
    # Ten managed policies at most.
    more = [iam.create_policy(PolicyName=f"q{n}-{kind}", PolicyDocument=json.dumps(DOC))["Policy"]["Arn"] for n in range(11)]
    for a in more[:10]:
        attach(PolicyArn=a, **who)
    quota = {"user": "PoliciesPerUser", "group": "PoliciesPerGroup", "role": "PoliciesPerRole"}[kind]
    assert fails(attach, PolicyArn=more[10], **who) == (
        "LimitExceeded", f"Cannot exceed quota for {quota}: 10", 409)
    page = listed(MaxItems=4, **who)
    assert page["IsTruncated"] and len(page["AttachedPolicies"]) == 4
    assert len(listed(Marker=page["Marker"], **who)["AttachedPolicies"]) == 6


def test_attach_to_missing_entity(iam):
    arn = iam.create_policy(PolicyName="p", PolicyDocument=json.dumps(DOC))["Policy"]["Arn"]
    assert fails(iam.attach_role_policy, RoleName="ghost", PolicyArn=arn) == (
        "NoSuchEntity", "The role with name ghost cannot be found.", 404)


# --- inline policies -----------------------------------------------------------------


@pytest.mark.parametrize("kind,quota", [("user", 2048), ("group", 5120), ("role", 10240)])
def test_inline_policies(iam, kind, quota):
    name = f"{kind}-i"
    Kind = kind.capitalize()
    if kind == "user":
        iam.create_user(UserName=name)
    elif kind == "group":
        iam.create_group(GroupName=name)
    else:
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))
    who = {f"{Kind}Name": name}
    put = getattr(iam, f"put_{kind}_policy")
    get = getattr(iam, f"get_{kind}_policy")
    delete = getattr(iam, f"delete_{kind}_policy")
    listed = getattr(iam, f"list_{kind}_policies")
    # A document with characters that need URL-encoding comes back as written.
    doc = dict(DOC, Statement=[dict(DOC["Statement"][0], Resource="arn:aws:s3:::b/a b%2F+c")])
    put(PolicyName="one", PolicyDocument=json.dumps(doc), **who)
    put(PolicyName="two", PolicyDocument=json.dumps(DOC), **who)
    got = get(PolicyName="one", **who)
    assert got["PolicyDocument"] == doc and got[f"{Kind}Name"] == name and got["PolicyName"] == "one"
    assert listed(**who)["PolicyNames"] == ["one", "two"]
    page = listed(MaxItems=1, **who)
    assert page["PolicyNames"] == ["one"] and page["IsTruncated"]
    assert listed(Marker=page["Marker"], **who)["PolicyNames"] == ["two"]
    delete(PolicyName="one", **who)
    assert fails(get, PolicyName="one", **who) == (
        "NoSuchEntity", f"The {kind} policy with name one cannot be found.", 404)
    # The size quota counts all of the entity's inline policies, whitespace excluded.
    half = dict(DOC, Statement=[dict(DOC["Statement"][0], Resource="x" * (quota // 2))])
    put(PolicyName="big1", PolicyDocument=json.dumps(half, indent=8), **who)
    assert fails(put, PolicyName="big2", PolicyDocument=json.dumps(half), **who) == (
        "LimitExceeded", f"Maximum policy size of {quota} bytes exceeded for {kind} {name}", 409)
    # Replacing a policy counts its new size only.
    put(PolicyName="big1", PolicyDocument=json.dumps(half), **who)


def test_aws_cli_users_and_roles(nephos, account):
    out = nephos.aws("iam", "create-user", "--user-name", "cli-user", account=account)
    assert out["User"]["UserName"] == "cli-user"
    nephos.aws("iam", "create-role", "--role-name", "cli-role",
               "--assume-role-policy-document", json.dumps(TRUST), account=account)
    role = nephos.aws("iam", "get-role", "--role-name", "cli-role", account=account)["Role"]
    assert role["AssumeRolePolicyDocument"] == TRUST
    nephos.aws("iam", "put-role-policy", "--role-name", "cli-role", "--policy-name", "p",
               "--policy-document", json.dumps(DOC), account=account)
    assert nephos.aws("iam", "get-role-policy", "--role-name", "cli-role", "--policy-name", "p",
                      account=account)["PolicyDocument"] == DOC
    users = nephos.aws("iam", "list-users", account=account)["Users"]
    assert [u["UserName"] for u in users] == ["cli-user"]
    err = nephos.aws("iam", "get-user", "--user-name", "nobody", account=account, check=False)
    assert err.returncode != 0 and "NoSuchEntity" in err.stderr
