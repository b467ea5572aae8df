"""IAM instance profiles, service-linked roles and the account-wide views (summary,
authorization details, policies granting a service, service-last-accessed reports)."""

import json

import pytest
from botocore.exceptions import ClientError

DOC = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "sqs:SendMessage"], "Resource": "*"}],
}
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


def fails(call, **kwargs):
    with pytest.raises(ClientError) as e:
        call(**kwargs)
    r = e.value.response
    return r["Error"]["Code"], r["Error"]["Message"], r["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture
def iam(nephos, account):
    return nephos.client("iam", account=account)


def test_instance_profiles(iam, account):
    ip = iam.create_instance_profile(InstanceProfileName="web", Path="/w/",
                                     Tags=[{"Key": "a", "Value": "b"}])["InstanceProfile"]
    assert ip["InstanceProfileId"].startswith("AIPA") and len(ip["InstanceProfileId"]) == 21
    assert ip["Arn"] == f"arn:aws:iam::{account}:instance-profile/w/web" and ip["Roles"] == []
    assert fails(iam.create_instance_profile, InstanceProfileName="web") == (
        "EntityAlreadyExists", "Instance Profile web already exists.", 409)
    iam.create_role(RoleName="r1", AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.create_role(RoleName="r2", AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.add_role_to_instance_profile(InstanceProfileName="web", RoleName="r1")
    assert fails(iam.add_role_to_instance_profile, InstanceProfileName="web", RoleName="r2") == (
        "LimitExceeded", "Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1", 409)
    got = iam.get_instance_profile(InstanceProfileName="web")["InstanceProfile"]
    assert [r["RoleName"] for r in got["Roles"]] == ["r1"]
    assert got["Roles"][0]["AssumeRolePolicyDocument"] == TRUST
    assert got["Tags"] == [{"Key": "a", "Value": "b"}]
    assert [p["InstanceProfileName"] for p in iam.list_instance_profiles_for_role(RoleName="r1")["InstanceProfiles"]] == ["web"]
    assert iam.list_instance_profiles_for_role(RoleName="r2")["InstanceProfiles"] == []
    iam.create_instance_profile(InstanceProfileName="other")
    assert [p["InstanceProfileName"] for p in iam.list_instance_profiles()["InstanceProfiles"]] == ["other", "web"]
    assert [p["InstanceProfileName"] for p in iam.list_instance_profiles(PathPrefix="/w/")["InstanceProfiles"]] == ["web"]
    assert fails(iam.delete_instance_profile, InstanceProfileName="web") == (
        "DeleteConflict", "Cannot delete entity, must remove roles from instance profile first.", 409)
    iam.tag_instance_profile(InstanceProfileName="web", Tags=[{"Key": "c", "Value": "d"}])
    iam.untag_instance_profile(InstanceProfileName="web", TagKeys=["a"])
    assert iam.list_instance_profile_tags(InstanceProfileName="web")["Tags"] == [{"Key": "c", "Value": "d"}]
    iam.remove_role_from_instance_profile(InstanceProfileName="web", RoleName="r1")
    iam.delete_instance_profile(InstanceProfileName="web")
    assert fails(iam.get_instance_profile, InstanceProfileName="web") == (
        "NoSuchEntity", "Instance Profile web cannot be found.", 404)


def test_account_summary(iam):
    before = iam.get_account_summary()["SummaryMap"]
    assert before["Users"] == 0 and before["UsersQuota"] == 5000
    assert before["AttachedPoliciesPerUserQuota"] == 10 and before["AccessKeysPerUserQuota"] == 2
    assert before["PolicySizeQuota"] == 6144 and before["VersionsPerPolicyQuota"] == 5
    assert before["MFADevices"] == 0 and before["AccountMFAEnabled"] == 0
    iam.create_user(UserName="u")
    iam.create_group(GroupName="g")
    iam.create_role(RoleName="r", AssumeRolePolicyDocument=json.dumps(TRUST))
    arn = iam.create_policy(PolicyName="p", PolicyDocument=json.dumps(DOC))["Policy"]["Arn"]
    iam.attach_user_policy(UserName="u", PolicyArn=arn)
    iam.attach_role_policy(RoleName="r", PolicyArn=arn)
    iam.create_instance_profile(InstanceProfileName="ip")
    s = iam.get_account_summary()["SummaryMap"]
    assert (s["Users"], s["Groups"], s["Roles"], s["Policies"], s["InstanceProfiles"]) == (1, 1, 1, 1, 1)
    assert s["PolicyVersionsInUse"] == 2


def test_account_authorization_details(iam):
    arn = iam.create_policy(PolicyName="p", PolicyDocument=json.dumps(DOC))["Policy"]["Arn"]
    iam.create_user(UserName="u", Tags=[{"Key": "t", "Value": "1"}])
    iam.create_group(GroupName="g")
    iam.add_user_to_group(GroupName="g", UserName="u")
    iam.put_user_policy(UserName="u", PolicyName="inl", PolicyDocument=json.dumps(DOC))
    iam.attach_group_policy(GroupName="g", PolicyArn=arn)
    iam.create_role(RoleName="r", AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.create_instance_profile(InstanceProfileName="ip")
    iam.add_role_to_instance_profile(InstanceProfileName="ip", RoleName="r")
    d = iam.get_account_authorization_details()
    assert not d["IsTruncated"]
    [u] = d["UserDetailList"]
    assert u["GroupList"] == ["g"] and u["UserPolicyList"] == [{"PolicyName": "inl", "PolicyDocument": DOC}]
    assert u["Tags"] == [{"Key": "t", "Value": "1"}]
    [g] = d["GroupDetailList"]
    assert g["AttachedManagedPolicies"] == [{"PolicyName": "p", "PolicyArn": arn}]
    [r] = d["RoleDetailList"]
    assert r["AssumeRolePolicyDocument"] == TRUST
    assert [p["InstanceProfileName"] for p in r["InstanceProfileList"]] == ["ip"]
    [p] = d["Policies"]
    assert p["Arn"] == arn and p["AttachmentCount"] == 1
    assert p["PolicyVersionList"][0]["Document"] == DOC and p["PolicyVersionList"][0]["IsDefaultVersion"]
    only_roles = iam.get_account_authorization_details(Filter=["Role"])
    assert only_roles["UserDetailList"] == [] and len(only_roles["RoleDetailList"]) == 1
    assert only_roles["Policies"] == []
    first = iam.get_account_authorization_details(MaxItems=2)
    assert first["IsTruncated"]
    rest = iam.get_account_authorization_details(Marker=first["Marker"])
    total = sum(len(x[k]) for x in (first, rest) for k in ("UserDetailList", "GroupDetailList", "RoleDetailList", "Policies"))
    assert total == 4


def test_policies_granting_service_access(iam, account):
    arn = iam.create_policy(PolicyName="mp", PolicyDocument=json.dumps(DOC))["Policy"]["Arn"]
    user = iam.create_user(UserName="u")["User"]
    iam.create_group(GroupName="g")
    iam.add_user_to_group(GroupName="g", UserName="u")
    iam.attach_group_policy(GroupName="g", PolicyArn=arn)
    sns_only = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sns:Publish", "Resource": "*"}]}
    iam.put_user_policy(UserName="u", PolicyName="inl", PolicyDocument=json.dumps(sns_only))
    out = iam.list_policies_granting_service_access(Arn=user["Arn"], ServiceNamespaces=["s3", "sns", "ec2"])
    by_ns = {e["ServiceNamespace"]: e["Policies"] for e in out["PoliciesGrantingServiceAccess"]}
    assert by_ns["s3"] == [{"PolicyName": "mp", "PolicyType": "MANAGED", "PolicyArn": arn}]
    assert by_ns["sns"] == [{"PolicyName": "inl", "PolicyType": "INLINE", "EntityType": "USER", "EntityName": "u"}]
    assert by_ns["ec2"] == []


def test_service_last_accessed(nephos, iam, account):
    arn = iam.create_user(UserName="la")["User"]["Arn"]
    iam.put_user_policy(UserName="la", PolicyName="p", PolicyDocument=json.dumps(DOC))
    job = iam.generate_service_last_accessed_details(Arn=arn)["JobId"]
    assert len(job) == 36
    out = iam.get_service_last_accessed_details(JobId=job)
    assert out["JobStatus"] == "COMPLETED" and out["JobType"] == "SERVICE_LEVEL"
    assert sorted(s["ServiceNamespace"] for s in out["ServicesLastAccessed"]) == ["s3", "sqs"]
    assert all(s["TotalAuthenticatedEntities"] == 0 for s in out["ServicesLastAccessed"])
    ents = iam.get_service_last_accessed_details_with_entities(JobId=job, ServiceNamespace="s3")
    assert [e["EntityInfo"]["Name"] for e in ents["EntityDetailsList"]] == ["la"]
    assert ents["EntityDetailsList"][0]["EntityInfo"]["Type"] == "USER"
    assert fails(iam.get_service_last_accessed_details, JobId="0" * 36)[0] == "NoSuchEntity"
    assert fails(iam.generate_service_last_accessed_details, Arn=arn + "x")[0] == "NoSuchEntity"


def test_service_linked_roles(iam, account):
    r = iam.create_service_linked_role(AWSServiceName="autoscaling.amazonaws.com")["Role"]
    assert r["RoleName"] == "AWSServiceRoleForAutoScaling"
    assert r["Path"] == "/aws-service-role/autoscaling.amazonaws.com/"
    assert r["Arn"] == f"arn:aws:iam::{account}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
    assert r["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "autoscaling.amazonaws.com"}
    attached = iam.list_attached_role_policies(RoleName=r["RoleName"])["AttachedPolicies"]
    assert attached == [{"PolicyName": "AutoScalingServiceRolePolicy",
                         "PolicyArn": "arn:aws:iam::aws:policy/aws-service-role/AutoScalingServiceRolePolicy"}]
    custom = iam.create_service_linked_role(AWSServiceName="autoscaling.amazonaws.com", CustomSuffix="x1")["Role"]
    assert custom["RoleName"] == "AWSServiceRoleForAutoScaling_x1"
    assert fails(iam.create_service_linked_role, AWSServiceName="batch.amazonaws.com", CustomSuffix="s") == (
        "InvalidInput", "Custom suffix is not allowed for batch.amazonaws.com", 400)
    iam.create_service_linked_role(AWSServiceName="batch.amazonaws.com")
    assert fails(iam.create_service_linked_role, AWSServiceName="batch.amazonaws.com") == (
        "InvalidInput",
        "Service role name AWSServiceRoleForBatch has been taken in this account, please try a different suffix.",
        400)
    # The account cannot change a role its service owns.
    assert fails(iam.delete_role, RoleName="AWSServiceRoleForBatch")[0] == "UnmodifiableEntity"
    task = iam.delete_service_linked_role(RoleName="AWSServiceRoleForBatch")["DeletionTaskId"]
    assert task.startswith("task/aws-service-role/batch.amazonaws.com/AWSServiceRoleForBatch/")
    assert iam.get_service_linked_role_deletion_status(DeletionTaskId=task)["Status"] == "SUCCEEDED"
    assert fails(iam.get_role, RoleName="AWSServiceRoleForBatch")[0] == "NoSuchEntity"
    rds = iam.create_service_linked_role(AWSServiceName="rds.amazonaws.com")["Role"]
    assert rds["Description"] == "Allows Amazon RDS to manage AWS resources on your behalf"
