"""Users and their other resources together (boto3): a renamed user keeps its login
profile, MFA device, SSH key, signing certificate and service-specific credential; those
resources find their user whatever case its name is given in; DeleteUser says which of
them is in the way, as AWS words it; assigned MFA devices name their user in full; the
account-wide entity quotas hold."""

import signal

import pytest
from botocore.exceptions import ClientError

from test_iam_extras import error, self_signed, ssh_rsa_key, two_codes


def delete_conflict(iam, user):
    with pytest.raises(ClientError) as e:
        iam.delete_user(UserName=user)
    code, message, status = error(e)
    assert (code, status) == ("DeleteConflict", 409)
    return message


def give_everything(nephos, iam, user):
    """A login profile, an enabled MFA device, an SSH key, a signing certificate and a
    service-specific credential for `user` (named in another case each time)."""
    iam.create_login_profile(UserName=user.upper(), Password="Aa1!aaaaaaaaaaaa")
    dev = iam.create_virtual_mfa_device(VirtualMFADeviceName=f"{user}-phone")["VirtualMFADevice"]
    c1, c2 = two_codes(dev["Base32StringSeed"].decode(), nephos)
    iam.enable_mfa_device(
        UserName=user.lower(), SerialNumber=dev["SerialNumber"],
        AuthenticationCode1=c1, AuthenticationCode2=c2,
    )
    _, line, _ = ssh_rsa_key()
    ssh = iam.upload_ssh_public_key(UserName=user.swapcase(), SSHPublicKeyBody=line)["SSHPublicKey"]
    cert = iam.upload_signing_certificate(UserName=user.upper(), CertificateBody=self_signed()[0])[
        "Certificate"
    ]
    cred = iam.create_service_specific_credential(
        UserName=user.lower(), ServiceName="codecommit.amazonaws.com"
    )["ServiceSpecificCredential"]
    return {
        "serial": dev["SerialNumber"],
        "ssh": ssh["SSHPublicKeyId"],
        "cert": cert["CertificateId"],
        "cred": cred["ServiceSpecificCredentialId"],
    }


def resources_of(iam, user):
    """What `user` has, by kind (the user names as the answers give them)."""
    out = {}
    try:
        out["login"] = iam.get_login_profile(UserName=user)["LoginProfile"]["UserName"]
    except ClientError as e:
        assert e.response["Error"]["Code"] == "NoSuchEntity"
    out["mfa"] = [(d["UserName"], d["SerialNumber"]) for d in iam.list_mfa_devices(UserName=user)["MFADevices"]]
    out["ssh"] = [(k["UserName"], k["SSHPublicKeyId"]) for k in iam.list_ssh_public_keys(UserName=user)["SSHPublicKeys"]]
    out["certs"] = [
        (c["UserName"], c["CertificateId"]) for c in iam.list_signing_certificates(UserName=user)["Certificates"]
    ]
    out["creds"] = [
        (c["UserName"], c["ServiceSpecificCredentialId"])
        for c in iam.list_service_specific_credentials(UserName=user)["ServiceSpecificCredentials"]
    ]
    return out


def test_a_user_found_in_any_case_keeps_its_stored_name(nephos, account):
    iam = nephos.client("iam", account=account)
    iam.create_user(UserName="Alice")
    ids = give_everything(nephos, iam, "Alice")
    expected = {
        "login": "Alice",
        "mfa": [("Alice", ids["serial"])],
        "ssh": [("Alice", ids["ssh"])],
        "certs": [("Alice", ids["cert"])],
        "creds": [("Alice", ids["cred"])],
    }
    assert resources_of(iam, "alice") == expected
    assert resources_of(iam, "ALICE") == expected
    # A second login profile is refused whatever case the name is given in.
    with pytest.raises(ClientError) as e:
        iam.create_login_profile(UserName="alice", Password="Aa1!aaaaaaaaaaaa")
    assert error(e)[0] == "EntityAlreadyExists"
    # The assigned device names its user in full, id included.
    user = iam.get_user(UserName="Alice")["User"]
    listed = iam.list_virtual_mfa_devices(AssignmentStatus="Assigned")["VirtualMFADevices"]
    assert listed[0]["User"] == {
        "Path": "/", "UserName": "Alice", "UserId": user["UserId"], "Arn": user["Arn"],
        "CreateDate": user["CreateDate"],
    }


def test_delete_user_names_what_is_in_the_way(nephos, account):
    iam = nephos.client("iam", account=account)
    iam.create_user(UserName="bob")
    ids = give_everything(nephos, iam, "bob")
    assert delete_conflict(iam, "BOB") == "Cannot delete entity, must delete login profile first."
    iam.delete_login_profile(UserName="bob")
    assert delete_conflict(iam, "bob") == "Cannot delete entity, must delete MFA device first."
    iam.deactivate_mfa_device(UserName="Bob", SerialNumber=ids["serial"])
    assert delete_conflict(iam, "bob") == "Cannot delete entity, must delete certificates first."
    iam.delete_signing_certificate(UserName="bob", CertificateId=ids["cert"])
    assert delete_conflict(iam, "bob") == "Cannot delete entity, must remove referenced objects first."
    iam.delete_ssh_public_key(UserName="bob", SSHPublicKeyId=ids["ssh"])
    assert delete_conflict(iam, "bob") == "Cannot delete entity, must remove referenced objects first."
    iam.delete_service_specific_credential(UserName="BOB", ServiceSpecificCredentialId=ids["cred"])
    iam.delete_user(UserName="bob")


def test_a_renamed_user_keeps_its_resources(start_nephos, tmp_path, account):
    data = tmp_path / "data"
    server = start_nephos("--data-dir", str(data), "--quiet")
    iam = server.client("iam", account=account)
    user = iam.create_user(UserName="carol")["User"]
    ids = give_everything(server, iam, "carol")
    iam.update_user(UserName="CAROL", NewUserName="Caroline", NewPath="/renamed/")
    expected = {
        "login": "Caroline",
        "mfa": [("Caroline", ids["serial"])],
        "ssh": [("Caroline", ids["ssh"])],
        "certs": [("Caroline", ids["cert"])],
        "creds": [("Caroline", ids["cred"])],
    }
    assert resources_of(iam, "caroline") == expected
    # The device's user follows the rename (name, path and ARN; same id).
    listed = iam.list_virtual_mfa_devices(AssignmentStatus="Assigned")["VirtualMFADevices"]
    assert listed[0]["User"]["UserName"] == "Caroline"
    assert listed[0]["User"]["Path"] == "/renamed/"
    assert listed[0]["User"]["UserId"] == user["UserId"]
    assert listed[0]["User"]["Arn"] == f"arn:aws:iam::{account}:user/renamed/Caroline"
    # The old name has nothing left, even once a new user takes it.
    iam.create_user(UserName="carol")
    assert resources_of(iam, "carol") == {"mfa": [], "ssh": [], "certs": [], "creds": []}
    iam.delete_user(UserName="carol")
    assert delete_conflict(iam, "caroline") == "Cannot delete entity, must delete login profile first."

    # The rename is stored with the resources it moved.
    server.stop(signal.SIGKILL)
    again = start_nephos("--data-dir", str(data), "--quiet")
    iam = again.client("iam", account=account)
    assert resources_of(iam, "Caroline") == expected
    iam.create_user(UserName="carol")
    assert resources_of(iam, "carol") == {"mfa": [], "ssh": [], "certs": [], "creds": []}


def test_renaming_a_user_to_itself_in_another_case(nephos, account):
    iam = nephos.client("iam", account=account)
    iam.create_user(UserName="dan")
    iam.create_login_profile(UserName="dan", Password="Aa1!aaaaaaaaaaaa")
    iam.update_user(UserName="dan", NewUserName="Dan")
    assert iam.get_login_profile(UserName="DAN")["LoginProfile"]["UserName"] == "Dan"
    iam.update_user(UserName="Dan", NewPath="/p/")
    assert iam.get_login_profile(UserName="dan")["LoginProfile"]["UserName"] == "Dan"


def test_account_quota_of_groups(nephos, account):
    iam = nephos.client("iam", account=account)
    quota = iam.get_account_summary()["SummaryMap"]["GroupsQuota"]
    assert quota == 300
    for n in range(quota):
        iam.create_group(GroupName=f"g{n}")
    with pytest.raises(ClientError) as e:
        iam.create_group(GroupName="one-more")
    assert error(e) == ("LimitExceeded", "Cannot exceed quota for GroupsPerAccount: 300", 409)
    assert iam.get_account_summary()["SummaryMap"]["Groups"] == 300
    iam.delete_group(GroupName="g0")
    iam.create_group(GroupName="one-more")
