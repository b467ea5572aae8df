"""IAM's other identity resources through the real wire (boto3 and the AWS CLI): login
profiles and the password policy, virtual MFA, OIDC and SAML providers, server and
signing certificates, SSH keys, service-specific credentials, the account alias, the
credential report, STS preferences, and the Organizations-only operations.
"""

import base64
import datetime
import hashlib
import hmac
import signal
import struct
import time

import pytest
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


def error(exc):
    e = exc.value.response
    return e["Error"]["Code"], e["Error"]["Message"], e["ResponseMetadata"]["HTTPStatusCode"]


def totp(seed_b32, step):
    key = base64.b32decode(seed_b32 + "=" * (-len(seed_b32) % 8))
    h = hmac.new(key, struct.pack(">q", step), hashlib.sha1).digest()
    off = h[-1] & 0x0F
    return "%06d" % ((struct.unpack(">I", h[off : off + 4])[0] & 0x7FFFFFFF) % 1_000_000)


def two_codes(seed_b32, server):
    """The device's previous and current codes, on nephos's clock."""
    now = server.internal("/_nephos/clock")["now_ms"] // 1000 // 30
    return totp(seed_b32, now - 1), totp(seed_b32, now)


def self_signed(cn="example.com", days=365):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    not_after = datetime.datetime(2031, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc))
        .not_valid_after(not_after)
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return pem, key_pem, not_after


def saml_metadata(entity="https://idp.example.com/saml", valid_until="2030-01-02T03:04:05Z"):
    # AWS wants documents of at least 1000 characters; real metadata always is.
    cert, _, _ = self_signed("idp.example.com")
    body = "".join(cert.strip().splitlines()[1:-1])
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
        f'xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{entity}" validUntil="{valid_until}">'
        '<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
        '<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data>'
        f"<ds:X509Certificate>{body}</ds:X509Certificate>"
        "</ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
        '<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" '
        'Location="https://idp.example.com/sso"/>'
        "</md:IDPSSODescriptor></md:EntityDescriptor>"
    )


# Password policy.


def test_password_policy_lifecycle(nephos, account):
    iam = nephos.client("iam", account=account)
    with pytest.raises(ClientError) as e:
        iam.get_account_password_policy()
    assert error(e) == (
        "NoSuchEntity",
        f"The Password Policy with domain name {account} cannot be found.",
        404,
    )
    with pytest.raises(ClientError) as e:
        iam.delete_account_password_policy()
    assert error(e) == (
        "NoSuchEntity",
        "The account policy with name PasswordPolicy cannot be found.",
        404,
    )

    iam.update_account_password_policy()
    assert iam.get_account_password_policy()["PasswordPolicy"] == {
        "MinimumPasswordLength": 6,
        "RequireSymbols": False,
        "RequireNumbers": False,
        "RequireUppercaseCharacters": False,
        "RequireLowercaseCharacters": False,
        "AllowUsersToChangePassword": False,
        "ExpirePasswords": False,
    }
    iam.update_account_password_policy(
        MinimumPasswordLength=12,
        RequireSymbols=True,
        RequireNumbers=True,
        MaxPasswordAge=90,
        PasswordReusePrevention=5,
        HardExpiry=True,
    )
    p = iam.get_account_password_policy()["PasswordPolicy"]
    assert p["MinimumPasswordLength"] == 12 and p["RequireSymbols"] and p["RequireNumbers"]
    assert p["ExpirePasswords"] is True and p["MaxPasswordAge"] == 90
    assert p["PasswordReusePrevention"] == 5 and p["HardExpiry"] is True
    # No partial updates: what is left out goes back to its default.
    iam.update_account_password_policy(RequireUppercaseCharacters=True)
    p = iam.get_account_password_policy()["PasswordPolicy"]
    assert p["MinimumPasswordLength"] == 6 and not p["RequireSymbols"]
    assert "MaxPasswordAge" not in p and p["RequireUppercaseCharacters"]

    with pytest.raises(ClientError) as e:
        iam.update_account_password_policy(MinimumPasswordLength=200)
    assert error(e)[0] in ("ValidationError", "ParamValidation")
    iam.delete_account_password_policy()
    with pytest.raises(ClientError):
        iam.get_account_password_policy()


def test_password_policy_with_the_cli(nephos, account):
    nephos.aws("iam", "update-account-password-policy", "--minimum-password-length", "9",
               account=account)
    out = nephos.aws("iam", "get-account-password-policy", account=account)
    assert out["PasswordPolicy"]["MinimumPasswordLength"] == 9


# Login profiles.


def test_login_operations_need_an_existing_user(nephos, account):
    iam = nephos.client("iam", account=account)
    for call in (
        lambda: iam.create_login_profile(UserName="ghost", Password="Aa1!aaaaaaaa"),
        lambda: iam.get_login_profile(UserName="ghost"),
        lambda: iam.update_login_profile(UserName="ghost", Password="Aa1!aaaaaaaa"),
        lambda: iam.delete_login_profile(UserName="ghost"),
    ):
        with pytest.raises(ClientError) as e:
            call()
        assert error(e) == ("NoSuchEntity", "The user with name ghost cannot be found.", 404)


def test_root_names_a_user_for_login_profiles_and_cannot_change_a_password(nephos, account):
    iam = nephos.client("iam", account=account)
    with pytest.raises(ClientError) as e:
        iam.get_login_profile()
    assert error(e) == (
        "ValidationError",
        "Must specify userName when calling with non-User credentials",
        400,
    )
    with pytest.raises(ClientError) as e:
        iam.change_password(OldPassword="a", NewPassword="b")
    assert error(e) == ("InvalidUserType", "Only IAM Users can change their own password.", 400)


def test_login_profile_lifecycle(nephos, account):
    iam = nephos.client("iam", account=account)
    iam.create_user(UserName="alice")
    with pytest.raises(ClientError) as e:
        iam.get_login_profile(UserName="alice")
    assert error(e) == ("NoSuchEntity", "Login Profile for User alice cannot be found.", 404)
    lp = iam.create_login_profile(
        UserName="alice", Password="Correct-Horse-9", PasswordResetRequired=True
    )["LoginProfile"]
    assert lp["UserName"] == "alice" and lp["PasswordResetRequired"] is True
    with pytest.raises(ClientError) as e:
        iam.create_login_profile(UserName="alice", Password="Correct-Horse-9")
    assert error(e) == ("EntityAlreadyExists", "Login Profile for user alice already exists.", 409)
    got = iam.get_login_profile(UserName="alice")["LoginProfile"]
    assert got["CreateDate"] == lp["CreateDate"]
    iam.update_login_profile(UserName="alice", PasswordResetRequired=False)
    assert iam.get_login_profile(UserName="alice")["LoginProfile"]["PasswordResetRequired"] is False
    # A user with a password cannot be deleted.
    with pytest.raises(ClientError) as e:
        iam.delete_user(UserName="alice")
    assert error(e)[0] == "DeleteConflict"
    iam.delete_login_profile(UserName="alice")
    with pytest.raises(ClientError) as e:
        iam.delete_login_profile(UserName="alice")
    assert error(e)[0] == "NoSuchEntity"
    iam.delete_user(UserName="alice")


def test_passwords_follow_the_policy(nephos, account):
    iam = nephos.client("iam", account=account)
    iam.create_user(UserName="bob")
    # Without a custom policy AWS's default applies: 8 characters, three kinds.
    with pytest.raises(ClientError) as e:
        iam.create_login_profile(UserName="bob", Password="abcdefg1")
    assert error(e) == (
        "PasswordPolicyViolation",
        "Password should meet 1 more of the following requirements: "
        "Password should have at least one uppercase letter, "
        "Password should have at least one symbol",
        400,
    )
    iam.update_account_password_policy(MinimumPasswordLength=10, RequireSymbols=True)
    with pytest.raises(ClientError) as e:
        iam.create_login_profile(UserName="bob", Password="short")
    assert error(e) == (
        "PasswordPolicyViolation",
        "Password should have a minimum length of 10, Password should have at least one symbol",
        400,
    )
    iam.create_login_profile(UserName="bob", Password="long-enough!")
    with pytest.raises(ClientError) as e:
        iam.update_login_profile(UserName="bob", Password="nosymbolhere")
    assert error(e)[0] == "PasswordPolicyViolation"


def test_users_change_their_own_password(nephos, account):
    iam = nephos.client("iam", account=account)
    iam.create_user(UserName="carol")
    iam.create_login_profile(UserName="carol", Password="First-Pass-1", PasswordResetRequired=True)
    key = iam.create_access_key(UserName="carol")["AccessKey"]
    import boto3

    me = boto3.client(
        "iam",
        endpoint_url=nephos.endpoint,
        region_name="us-east-1",
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
    )
    with pytest.raises(ClientError) as e:
        me.change_password(OldPassword="wrong", NewPassword="Second-Pass-2")
    assert error(e)[0] == "AccessDenied"
    me.change_password(OldPassword="First-Pass-1", NewPassword="Second-Pass-2")
    assert iam.get_login_profile(UserName="carol")["LoginProfile"]["PasswordResetRequired"] is False
    # Its own login profile, without naming the user.
    assert me.get_login_profile()["LoginProfile"]["UserName"] == "carol"


# Virtual MFA devices.


def test_virtual_mfa_device_lifecycle(nephos, account):
    iam = nephos.client("iam", account=account)
    dev = iam.create_virtual_mfa_device(
        VirtualMFADeviceName="phone", Path="/team/", Tags=[{"Key": "k", "Value": "v"}]
    )["VirtualMFADevice"]
    serial = dev["SerialNumber"]
    assert serial == f"arn:aws:iam::{account}:mfa/team/phone"
    seed = dev["Base32StringSeed"].decode()
    assert len(seed) == 64 and set(seed) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    png = dev["QRCodePNG"]
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and png.endswith(b"IEND\xaeB`\x82")
    assert dev["Tags"] == [{"Key": "k", "Value": "v"}]

    with pytest.raises(ClientError) as e:
        iam.create_virtual_mfa_device(VirtualMFADeviceName="phone")
    assert error(e) == (
        "EntityAlreadyExists",
        "MFADevice entity at the same path and name already exists.",
        409,
    )
    with pytest.raises(ClientError) as e:
        iam.create_virtual_mfa_device(VirtualMFADeviceName="x", Path="/a//b/")
    assert error(e)[0] == "ValidationError"

    listed = iam.list_virtual_mfa_devices()["VirtualMFADevices"]
    assert [d["SerialNumber"] for d in listed] == [serial]
    assert "Base32StringSeed" not in listed[0]
    assert iam.list_virtual_mfa_devices(AssignmentStatus="Assigned")["VirtualMFADevices"] == []
    assert len(iam.list_virtual_mfa_devices(AssignmentStatus="Unassigned")["VirtualMFADevices"]) == 1

    iam.tag_mfa_device(SerialNumber=serial, Tags=[{"Key": "K", "Value": "w"}, {"Key": "z", "Value": "1"}])
    assert iam.list_mfa_device_tags(SerialNumber=serial)["Tags"] == [
        {"Key": "K", "Value": "w"},
        {"Key": "z", "Value": "1"},
    ]
    with pytest.raises(ClientError) as e:
        iam.tag_mfa_device(SerialNumber=serial, Tags=[{"Key": "a", "Value": "1"}, {"Key": "A", "Value": "2"}])
    assert error(e) == (
        "InvalidInput",
        "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
        400,
    )
    iam.untag_mfa_device(SerialNumber=serial, TagKeys=["k"])
    assert iam.list_mfa_device_tags(SerialNumber=serial)["Tags"] == [{"Key": "z", "Value": "1"}]

    iam.delete_virtual_mfa_device(SerialNumber=serial)
    missing = f"VirtualMFADevice with serial number {serial} doesn't exist."
    with pytest.raises(ClientError) as e:
        iam.delete_virtual_mfa_device(SerialNumber=serial)
    assert error(e) == ("NoSuchEntity", missing, 404)
    with pytest.raises(ClientError) as e:
        iam.list_mfa_device_tags(SerialNumber=serial)
    assert error(e) == ("NoSuchEntity", missing, 404)


def test_mfa_device_listing_pages(nephos, account):
    iam = nephos.client("iam", account=account)
    for n in range(5):
        iam.create_virtual_mfa_device(VirtualMFADeviceName=f"d{n}")
    first = iam.list_virtual_mfa_devices(MaxItems=2)
    assert first["IsTruncated"] is True and len(first["VirtualMFADevices"]) == 2
    rest = iam.list_virtual_mfa_devices(Marker=first["Marker"], MaxItems=10)
    assert rest["IsTruncated"] is False and "Marker" not in rest
    serials = [d["SerialNumber"] for d in first["VirtualMFADevices"] + rest["VirtualMFADevices"]]
    assert serials == sorted(serials) and len(set(serials)) == 5
    pages = nephos.aws("iam", "list-virtual-mfa-devices", "--page-size", "2", account=account)
    assert len(pages["VirtualMFADevices"]) == 5


def test_mfa_needs_a_user_and_the_root_has_no_devices(nephos, account):
    iam = nephos.client("iam", account=account)
    serial = iam.create_virtual_mfa_device(VirtualMFADeviceName="m")["VirtualMFADevice"]["SerialNumber"]
    with pytest.raises(ClientError) as e:
        iam.enable_mfa_device(
            UserName="ghost", SerialNumber=serial, AuthenticationCode1="123456", AuthenticationCode2="654321"
        )
    assert error(e) == ("NoSuchEntity", "The user with name ghost cannot be found.", 404)
    assert iam.list_mfa_devices()["MFADevices"] == []
    with pytest.raises(ClientError) as e:
        iam.list_mfa_devices(UserName="ghost")
    assert error(e)[0] == "NoSuchEntity"
    with pytest.raises(ClientError) as e:
        iam.get_mfa_device(SerialNumber=serial)
    assert error(e)[0] == "NoSuchEntity"


def test_enable_resync_and_deactivate_a_virtual_mfa(nephos, account):
    iam = nephos.client("iam", account=account)
    iam.create_user(UserName="dave")
    dev = iam.create_virtual_mfa_device(VirtualMFADeviceName="dave-phone")["VirtualMFADevice"]
    serial, seed = dev["SerialNumber"], dev["Base32StringSeed"].decode()
    with pytest.raises(ClientError) as e:
        iam.enable_mfa_device(
            UserName="dave", SerialNumber=serial, AuthenticationCode1="000000", AuthenticationCode2="000000"
        )
    assert error(e) == (
        "InvalidAuthenticationCode",
        "Authentication code for device is not valid.",
        403,
    )
    c1, c2 = two_codes(seed, nephos)
    iam.enable_mfa_device(UserName="dave", SerialNumber=serial, AuthenticationCode1=c1, AuthenticationCode2=c2)
    devices = iam.list_mfa_devices(UserName="dave")["MFADevices"]
    assert [d["SerialNumber"] for d in devices] == [serial]
    assigned = iam.list_virtual_mfa_devices(AssignmentStatus="Assigned")["VirtualMFADevices"]
    assert assigned[0]["User"]["UserName"] == "dave" and "EnableDate" in assigned[0]
    with pytest.raises(ClientError) as e:
        iam.delete_virtual_mfa_device(SerialNumber=serial)
    assert error(e)[0] == "DeleteConflict"
    with pytest.raises(ClientError) as e:
        iam.delete_user(UserName="dave")
    assert error(e)[0] == "DeleteConflict"

    # A device whose clock ran ten minutes ahead resyncs.
    now = nephos.internal("/_nephos/clock")["now_ms"] // 1000 // 30
    iam.resync_mfa_device(
        UserName="dave", SerialNumber=serial,
        AuthenticationCode1=totp(seed, now + 19), AuthenticationCode2=totp(seed, now + 20),
    )
    with pytest.raises(ClientError) as e:
        iam.resync_mfa_device(
            UserName="dave", SerialNumber=serial, AuthenticationCode1="111111", AuthenticationCode2="222222"
        )
    assert error(e)[0] == "InvalidAuthenticationCode"

    iam.deactivate_mfa_device(UserName="dave", SerialNumber=serial)
    assert iam.list_mfa_devices(UserName="dave")["MFADevices"] == []
    iam.delete_virtual_mfa_device(SerialNumber=serial)


# OpenID Connect providers.


THUMB = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280"


def test_oidc_provider_lifecycle(nephos, account):
    iam = nephos.client("iam", account=account)
    arn = iam.create_open_id_connect_provider(
        Url="https://oidc.example.com/id/ABC/",
        ClientIDList=["sts.amazonaws.com", "sts.amazonaws.com"],
        ThumbprintList=[THUMB],
        Tags=[{"Key": "team", "Value": "a"}],
    )["OpenIDConnectProviderArn"]
    assert arn == f"arn:aws:iam::{account}:oidc-provider/oidc.example.com/id/ABC"
    got = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert got["Url"] == "oidc.example.com/id/ABC"
    assert got["ClientIDList"] == ["sts.amazonaws.com"]
    assert got["ThumbprintList"] == [THUMB]
    assert got["Tags"] == [{"Key": "team", "Value": "a"}]
    assert "CreateDate" in got

    with pytest.raises(ClientError) as e:
        iam.create_open_id_connect_provider(Url="https://oidc.example.com/id/ABC", ThumbprintList=[THUMB])
    assert error(e) == (
        "EntityAlreadyExists",
        "Provider with url https://oidc.example.com/id/ABC already exists.",
        409,
    )
    with pytest.raises(ClientError) as e:
        iam.create_open_id_connect_provider(Url="http://insecure.example.com", ThumbprintList=[THUMB])
    assert error(e) == ("ValidationError", "Invalid Open ID Connect Provider URL", 400)
    with pytest.raises(ClientError) as e:
        iam.create_open_id_connect_provider(Url="https://many.example.com", ThumbprintList=[THUMB] * 6)
    assert error(e) == ("InvalidInput", "Thumbprint list must contain fewer than 5 entries.", 400)

    iam.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="app")
    iam.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="app")
    iam.remove_client_id_from_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="sts.amazonaws.com")
    iam.remove_client_id_from_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="never-there")
    other = "a" * 40
    iam.update_open_id_connect_provider_thumbprint(OpenIDConnectProviderArn=arn, ThumbprintList=[other, THUMB])
    got = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert got["ClientIDList"] == ["app"] and got["ThumbprintList"] == [other, THUMB]

    iam.tag_open_id_connect_provider(OpenIDConnectProviderArn=arn, Tags=[{"Key": "env", "Value": "prod"}])
    iam.untag_open_id_connect_provider(OpenIDConnectProviderArn=arn, TagKeys=["team"])
    tags = iam.list_open_id_connect_provider_tags(OpenIDConnectProviderArn=arn)
    assert tags["Tags"] == [{"Key": "env", "Value": "prod"}] and tags["IsTruncated"] is False

    listed = iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]
    assert listed == [{"Arn": arn}]
    iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    for call in (iam.get_open_id_connect_provider, iam.delete_open_id_connect_provider,
                 iam.list_open_id_connect_provider_tags):
        with pytest.raises(ClientError) as e:
            call(OpenIDConnectProviderArn=arn)
        assert error(e) == ("NoSuchEntity", f"OpenIDConnect Provider not found for arn {arn}", 404)
    assert iam.list_open_id_connect_providers()["OpenIDConnectProviderList"] == []


def test_oidc_with_the_cli(nephos, account):
    out = nephos.aws(
        "iam", "create-open-id-connect-provider", "--url", "https://token.example.org",
        "--thumbprint-list", THUMB, "--client-id-list", "x", account=account,
    )
    arn = out["OpenIDConnectProviderArn"]
    got = nephos.aws("iam", "get-open-id-connect-provider", "--open-id-connect-provider-arn", arn,
                     account=account)
    assert got["Url"] == "token.example.org" and got["ClientIDList"] == ["x"]


# SAML providers.


def test_saml_provider_lifecycle(nephos, account):
    iam = nephos.client("iam", account=account)
    doc = saml_metadata()
    created = iam.create_saml_provider(Name="corp-idp", SAMLMetadataDocument=doc,
                                       Tags=[{"Key": "a", "Value": "b"}])
    arn = created["SAMLProviderArn"]
    assert arn == f"arn:aws:iam::{account}:saml-provider/corp-idp"
    assert created["Tags"] == [{"Key": "a", "Value": "b"}]
    got = iam.get_saml_provider(SAMLProviderArn=arn)
    assert got["SAMLMetadataDocument"] == doc
    assert got["ValidUntil"] == datetime.datetime(2030, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    assert got["Tags"] == [{"Key": "a", "Value": "b"}]
    assert len(got["SAMLProviderUUID"]) >= 22

    with pytest.raises(ClientError) as e:
        iam.create_saml_provider(Name="corp-idp", SAMLMetadataDocument=doc)
    assert error(e) == ("InvalidInput", "SAMLProvider corp-idp already exists.", 400)
    with pytest.raises(ClientError) as e:
        iam.create_saml_provider(Name="bad", SAMLMetadataDocument="<NotMetadata>" + "x" * 1000 + "</NotMetadata>")
    assert error(e) == ("InvalidInput", "Could not parse metadata", 400)
    with pytest.raises(ClientError) as e:
        iam.create_saml_provider(Name="broken", SAMLMetadataDocument=doc[:-10] + "x" * 10)
    assert error(e)[0] == "InvalidInput"

    newer = saml_metadata(valid_until="2031-05-06T07:08:09Z")
    assert iam.update_saml_provider(SAMLProviderArn=arn, SAMLMetadataDocument=newer)["SAMLProviderArn"] == arn
    got = iam.get_saml_provider(SAMLProviderArn=arn)
    assert got["SAMLMetadataDocument"] == newer and got["ValidUntil"].year == 2031

    iam.tag_saml_provider(SAMLProviderArn=arn, Tags=[{"Key": "c", "Value": "d"}])
    iam.untag_saml_provider(SAMLProviderArn=arn, TagKeys=["a"])
    assert iam.list_saml_provider_tags(SAMLProviderArn=arn)["Tags"] == [{"Key": "c", "Value": "d"}]
    listed = iam.list_saml_providers()["SAMLProviderList"]
    assert [p["Arn"] for p in listed] == [arn] and listed[0]["ValidUntil"].year == 2031

    iam.delete_saml_provider(SAMLProviderArn=arn)
    for call in (iam.get_saml_provider, iam.delete_saml_provider):
        with pytest.raises(ClientError) as e:
            call(SAMLProviderArn=arn)
        assert error(e) == ("NoSuchEntity", f"Manifest not found for arn {arn}", 404)


# Server certificates.


def test_server_certificate_lifecycle(nephos, account):
    iam = nephos.client("iam", account=account)
    pem, key, not_after = self_signed()
    chain, _, _ = self_signed("ca.example.com")
    meta = iam.upload_server_certificate(
        ServerCertificateName="web", CertificateBody=pem, PrivateKey=key, CertificateChain=chain,
        Path="/cloudfront/", Tags=[{"Key": "t", "Value": "1"}],
    )["ServerCertificateMetadata"]
    assert meta["Arn"] == f"arn:aws:iam::{account}:server-certificate/cloudfront/web"
    assert meta["ServerCertificateId"].startswith("ASCA") and len(meta["ServerCertificateId"]) == 21
    assert meta["Expiration"] == not_after and meta["Path"] == "/cloudfront/"

    got = iam.get_server_certificate(ServerCertificateName="web")["ServerCertificate"]
    assert got["CertificateBody"] == pem and got["CertificateChain"] == chain
    assert got["ServerCertificateMetadata"]["ServerCertificateId"] == meta["ServerCertificateId"]
    assert got["Tags"] == [{"Key": "t", "Value": "1"}]
    assert "PrivateKey" not in got

    with pytest.raises(ClientError) as e:
        iam.upload_server_certificate(ServerCertificateName="web", CertificateBody=pem, PrivateKey=key)
    assert error(e) == ("EntityAlreadyExists", "The Server Certificate with name web already exists.", 409)
    with pytest.raises(ClientError) as e:
        iam.upload_server_certificate(ServerCertificateName="bad", CertificateBody="not a cert", PrivateKey=key)
    assert error(e)[0] == "MalformedCertificate" and error(e)[2] == 400
    with pytest.raises(ClientError) as e:
        iam.upload_server_certificate(ServerCertificateName="bad", CertificateBody=pem, PrivateKey=pem)
    assert error(e)[0] == "MalformedCertificate"

    assert [m["ServerCertificateName"] for m in
            iam.list_server_certificates(PathPrefix="/cloudfront/")["ServerCertificateMetadataList"]] == ["web"]
    assert iam.list_server_certificates(PathPrefix="/elb/")["ServerCertificateMetadataList"] == []

    iam.update_server_certificate(ServerCertificateName="web", NewServerCertificateName="www", NewPath="/elb/")
    with pytest.raises(ClientError) as e:
        iam.get_server_certificate(ServerCertificateName="web")
    assert error(e) == ("NoSuchEntity", "The Server Certificate with name web cannot be found.", 404)
    moved = iam.get_server_certificate(ServerCertificateName="www")["ServerCertificate"]
    assert moved["ServerCertificateMetadata"]["Arn"].endswith(":server-certificate/elb/www")

    iam.tag_server_certificate(ServerCertificateName="www", Tags=[{"Key": "u", "Value": "2"}])
    iam.untag_server_certificate(ServerCertificateName="www", TagKeys=["t"])
    assert iam.list_server_certificate_tags(ServerCertificateName="www")["Tags"] == [{"Key": "u", "Value": "2"}]
    iam.delete_server_certificate(ServerCertificateName="www")
    with pytest.raises(ClientError) as e:
        iam.delete_server_certificate(ServerCertificateName="www")
    assert error(e)[0] == "NoSuchEntity"


# Signing certificates, SSH keys, service-specific credentials.


def test_user_credentials_need_an_existing_user(nephos, account):
    iam = nephos.client("iam", account=account)
    pem, _, _ = self_signed()
    missing = ("NoSuchEntity", "The user with name ghost cannot be found.", 404)
    for call in (
        lambda: iam.upload_signing_certificate(UserName="ghost", CertificateBody=pem),
        lambda: iam.list_signing_certificates(UserName="ghost"),
        lambda: iam.upload_ssh_public_key(UserName="ghost", SSHPublicKeyBody="ssh-rsa AAAA"),
        lambda: iam.list_ssh_public_keys(UserName="ghost"),
        lambda: iam.create_service_specific_credential(UserName="ghost", ServiceName="nope.amazonaws.com"),
        lambda: iam.list_service_specific_credentials(UserName="ghost"),
    ):
        with pytest.raises(ClientError) as e:
            call()
        assert error(e) == missing
    # The root user has no SSH keys of its own.
    assert iam.list_ssh_public_keys()["SSHPublicKeys"] == []


def ssh_rsa_key(bits=2048):
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    line = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode()
    blob = base64.b64decode(line.split()[1])
    fingerprint = ":".join("%02x" % b for b in hashlib.md5(blob).digest())
    return key, line, fingerprint


def test_ssh_public_key_lifecycle(nephos, account):
    iam = nephos.client("iam", account=account)
    iam.create_user(UserName="erin")
    key, line, fingerprint = ssh_rsa_key()
    up = iam.upload_ssh_public_key(UserName="erin", SSHPublicKeyBody=line + " erin@laptop")["SSHPublicKey"]
    kid = up["SSHPublicKeyId"]
    assert kid.startswith("APKA") and up["Fingerprint"] == fingerprint and up["Status"] == "Active"
    ssh = iam.get_ssh_public_key(UserName="erin", SSHPublicKeyId=kid, Encoding="SSH")["SSHPublicKey"]
    assert ssh["SSHPublicKeyBody"] == line
    pem = iam.get_ssh_public_key(UserName="erin", SSHPublicKeyId=kid, Encoding="PEM")["SSHPublicKey"]
    assert pem["SSHPublicKeyBody"] == key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    with pytest.raises(ClientError) as e:
        iam.upload_ssh_public_key(UserName="erin", SSHPublicKeyBody=line)
    assert error(e)[0] == "DuplicateSSHPublicKey"
    _, short, _ = ssh_rsa_key(1024)
    with pytest.raises(ClientError) as e:
        iam.upload_ssh_public_key(UserName="erin", SSHPublicKeyBody=short)
    assert error(e)[0] == "InvalidPublicKey"
    with pytest.raises(ClientError) as e:
        iam.upload_ssh_public_key(UserName="erin", SSHPublicKeyBody="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA")
    assert error(e)[0] == "UnrecognizedPublicKeyEncoding"
    iam.update_ssh_public_key(UserName="erin", SSHPublicKeyId=kid, Status="Inactive")
    listed = iam.list_ssh_public_keys(UserName="erin")["SSHPublicKeys"]
    assert [(k["SSHPublicKeyId"], k["Status"]) for k in listed] == [(kid, "Inactive")]
    iam.delete_ssh_public_key(UserName="erin", SSHPublicKeyId=kid)
    with pytest.raises(ClientError) as e:
        iam.get_ssh_public_key(UserName="erin", SSHPublicKeyId=kid, Encoding="SSH")
    assert error(e) == ("NoSuchEntity", f"The Public Key with id {kid} cannot be found.", 404)


def test_signing_certificate_lifecycle(nephos, account):
    iam = nephos.client("iam", account=account)
    iam.create_user(UserName="frank")
    pem, _, _ = self_signed()
    cert = iam.upload_signing_certificate(UserName="frank", CertificateBody=pem)["Certificate"]
    assert cert["UserName"] == "frank" and cert["Status"] == "Active"
    with pytest.raises(ClientError) as e:
        iam.upload_signing_certificate(UserName="frank", CertificateBody=pem)
    assert error(e)[0] == "DuplicateCertificate"
    with pytest.raises(ClientError) as e:
        iam.upload_signing_certificate(UserName="frank", CertificateBody="garbage")
    assert error(e)[0] == "MalformedCertificate"
    iam.upload_signing_certificate(UserName="frank", CertificateBody=self_signed("b")[0])
    with pytest.raises(ClientError) as e:
        iam.upload_signing_certificate(UserName="frank", CertificateBody=self_signed("c")[0])
    assert error(e) == ("LimitExceeded", "Cannot exceed quota for CertificatesPerUser: 2", 409)
    iam.update_signing_certificate(UserName="frank", CertificateId=cert["CertificateId"], Status="Inactive")
    statuses = {c["CertificateId"]: c["Status"] for c in iam.list_signing_certificates(UserName="frank")["Certificates"]}
    assert statuses[cert["CertificateId"]] == "Inactive"
    iam.delete_signing_certificate(UserName="frank", CertificateId=cert["CertificateId"])
    with pytest.raises(ClientError) as e:
        iam.delete_signing_certificate(UserName="frank", CertificateId=cert["CertificateId"])
    assert error(e) == (
        "NoSuchEntity", f"The Certificate with id {cert['CertificateId']} cannot be found.", 404,
    )


def test_service_specific_credential_lifecycle(nephos, account):
    iam = nephos.client("iam", account=account)
    iam.create_user(UserName="gina")
    with pytest.raises(ClientError) as e:
        iam.create_service_specific_credential(UserName="gina", ServiceName="lambda.amazonaws.com")
    assert error(e) == (
        "NoSuchEntity",
        "No such service lambda.amazonaws.com is supported for Service Specific Credentials",
        404,
    )
    cred = iam.create_service_specific_credential(UserName="gina", ServiceName="codecommit.amazonaws.com")[
        "ServiceSpecificCredential"
    ]
    assert cred["ServiceUserName"] == f"gina-at-{account}" and cred["Status"] == "Active"
    assert len(cred["ServicePassword"]) == 60
    cid = cred["ServiceSpecificCredentialId"]
    listed = iam.list_service_specific_credentials(UserName="gina", ServiceName="codecommit.amazonaws.com")
    assert [c["ServiceSpecificCredentialId"] for c in listed["ServiceSpecificCredentials"]] == [cid]
    assert "ServicePassword" not in listed["ServiceSpecificCredentials"][0]
    # As AWS answered it (recorded): no IsTruncated when no page was asked for.
    assert "IsTruncated" not in listed and "Marker" not in listed
    iam.update_service_specific_credential(UserName="gina", ServiceSpecificCredentialId=cid, Status="Inactive")
    reset = iam.reset_service_specific_credential(UserName="gina", ServiceSpecificCredentialId=cid)
    assert reset["ServiceSpecificCredential"]["ServicePassword"] != cred["ServicePassword"]
    assert reset["ServiceSpecificCredential"]["Status"] == "Inactive"
    iam.delete_service_specific_credential(UserName="gina", ServiceSpecificCredentialId=cid)
    with pytest.raises(ClientError) as e:
        iam.delete_service_specific_credential(UserName="gina", ServiceSpecificCredentialId=cid)
    assert error(e) == ("NoSuchEntity", f"No such credential {cid} exists", 404)
    bedrock = iam.create_service_specific_credential(
        UserName="gina", ServiceName="bedrock.amazonaws.com", CredentialAgeDays=30
    )["ServiceSpecificCredential"]
    assert bedrock["ServiceCredentialAlias"].endswith(f"-at-{account}")
    assert bedrock["ServiceCredentialSecret"] and "ExpirationDate" in bedrock
    # Pages when asked for.
    other = iam.create_service_specific_credential(UserName="gina", ServiceName="cassandra.amazonaws.com")[
        "ServiceSpecificCredential"
    ]
    first = iam.list_service_specific_credentials(UserName="gina", MaxItems=1)
    assert first["IsTruncated"] is True and len(first["ServiceSpecificCredentials"]) == 1
    rest = iam.list_service_specific_credentials(UserName="gina", Marker=first["Marker"])
    assert rest["IsTruncated"] is False
    ids = [c["ServiceSpecificCredentialId"] for c in first["ServiceSpecificCredentials"] + rest["ServiceSpecificCredentials"]]
    assert sorted(ids) == sorted([bedrock["ServiceSpecificCredentialId"], other["ServiceSpecificCredentialId"]])


# Account alias.


def test_account_alias_lifecycle(nephos, account):
    iam = nephos.client("iam", account=account)
    alias = f"corp-{account}"
    assert iam.list_account_aliases()["AccountAliases"] == []
    iam.create_account_alias(AccountAlias=alias)
    assert iam.list_account_aliases()["AccountAliases"] == [alias]
    # One alias per account: a new one replaces it.
    iam.create_account_alias(AccountAlias=alias + "-b")
    assert iam.list_account_aliases()["AccountAliases"] == [alias + "-b"]
    # Aliases are unique across accounts.
    other = nephos.client("iam")
    with pytest.raises(ClientError) as e:
        other.create_account_alias(AccountAlias=alias + "-b")
    assert error(e) == ("EntityAlreadyExists", f"The account alias {alias}-b already exists.", 409)
    with pytest.raises(ClientError) as e:
        iam.delete_account_alias(AccountAlias=alias)
    assert error(e) == ("NoSuchEntity", f"The account alias {alias} cannot be found.", 404)
    iam.delete_account_alias(AccountAlias=alias + "-b")
    assert iam.list_account_aliases()["AccountAliases"] == []
    other.create_account_alias(AccountAlias=alias + "-b")


# Credential report.


def test_credential_report(start_nephos, account):
    # Its own server: the test moves the clock four hours on.
    nephos = start_nephos()
    iam = nephos.client("iam", account=account)
    with pytest.raises(ClientError) as e:
        iam.get_credential_report()
    assert error(e)[:1] == ("ReportNotPresent",) and error(e)[2] == 410
    first = iam.generate_credential_report()
    assert first["State"] == "STARTED"
    assert first["Description"] == "No report exists. Starting a new report generation task"
    assert iam.generate_credential_report()["State"] == "COMPLETE"
    report = iam.get_credential_report()
    assert report["ReportFormat"] == "text/csv"
    lines = report["Content"].decode().splitlines()
    assert lines[0].split(",")[:8] == [
        "user", "arn", "user_creation_time", "password_enabled", "password_last_used",
        "password_last_changed", "password_next_rotation", "mfa_active",
    ]
    assert len(lines[0].split(",")) == 22
    root = lines[1].split(",")
    assert root[:2] == ["<root_account>", f"arn:aws:iam::{account}:root"]
    assert root[3] == "not_supported" and len(root) == 22
    # After four hours the report expires.
    nephos.internal("/_nephos/clock", {"advance_seconds": 4 * 3600 + 1})
    with pytest.raises(ClientError) as e:
        iam.get_credential_report()
    assert error(e)[0] == "ReportExpired"
    assert iam.generate_credential_report()["State"] == "STARTED"


def test_credential_report_lists_users(nephos, account):
    iam = nephos.client("iam", account=account)
    iam.create_user(UserName="hank")
    iam.create_login_profile(UserName="hank", Password="Pass-word-123")
    iam.generate_credential_report()
    lines = iam.get_credential_report()["Content"].decode().splitlines()
    hank = [line.split(",") for line in lines if line.startswith("hank,")][0]
    assert hank[3] == "true" and hank[4] == "no_information" and hank[7] == "false"


# STS preferences, Organizations, role templates.


def test_sts_preferences(nephos, account):
    iam = nephos.client("iam", account=account)
    iam.set_security_token_service_preferences(GlobalEndpointTokenVersion="v2Token")
    with pytest.raises(ClientError) as e:
        iam.set_security_token_service_preferences(GlobalEndpointTokenVersion="v3Token")
    assert error(e)[0] in ("ValidationError", "ParamValidation")


def test_sts_preferences_show_in_the_account_summary(nephos, account):
    iam = nephos.client("iam", account=account)
    assert iam.get_account_summary()["SummaryMap"]["GlobalEndpointTokenVersion"] == 1
    iam.set_security_token_service_preferences(GlobalEndpointTokenVersion="v2Token")
    assert iam.get_account_summary()["SummaryMap"]["GlobalEndpointTokenVersion"] == 2


def test_organizations_features_need_an_organization(nephos, account):
    iam = nephos.client("iam", account=account)
    for call in (
        iam.list_organizations_features,
        iam.enable_organizations_root_credentials_management,
        iam.disable_organizations_root_credentials_management,
        iam.enable_organizations_root_sessions,
        iam.disable_organizations_root_sessions,
    ):
        with pytest.raises(ClientError) as e:
            call()
        assert error(e) == (
            "OrganizationNotFoundException",
            "The request was rejected because no organization is associated with your account.",
            400,
        )
    with pytest.raises(ClientError) as e:
        iam.get_organizations_access_report(JobId="a" * 36)
    assert error(e)[0] == "NoSuchEntity"


def raw_query(server, account, action, **params):
    """A query-protocol request made by hand, for operations newer than the installed
    botocore; returns (status, error code, message)."""
    import re
    import urllib.error
    import urllib.parse
    import urllib.request

    body = urllib.parse.urlencode({"Action": action, "Version": "2010-05-08", **params}).encode()
    req = urllib.request.Request(server.endpoint, data=body, method="POST", headers={
        "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
        "Authorization": f"AWS4-HMAC-SHA256 Credential={account}/20260101/us-east-1/iam/aws4_request, "
                         "SignedHeaders=host, Signature=" + "0" * 64,
        "X-Amz-Date": "20260101T000000Z",
    })
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, None, resp.read().decode()
    except urllib.error.HTTPError as e:
        text = e.read().decode()
        code = re.search(r"<Code>(.*?)</Code>", text).group(1)
        message = re.search(r"<Message>(.*?)</Message>", text).group(1)
        return e.code, code, message


def test_role_templates_do_not_exist(nephos, account):
    arn = "arn:aws:iam::aws:role-template/Example"
    for action in ("GetRoleTemplateVersion", "AcquireRole"):
        assert raw_query(nephos, account, action, TemplateArn=arn) == (
            404, "NoSuchEntity", f"The role template with ARN {arn} cannot be found."
        )


# Durability.


def test_extras_survive_kill_9(start_nephos, tmp_path, account):
    server = start_nephos("--data-dir", str(tmp_path))
    iam = server.client("iam", account=account)
    iam.update_account_password_policy(MinimumPasswordLength=14)
    iam.create_account_alias(AccountAlias=f"durable-{account}")
    serial = iam.create_virtual_mfa_device(VirtualMFADeviceName="keep")["VirtualMFADevice"]["SerialNumber"]
    oidc = iam.create_open_id_connect_provider(Url="https://keep.example.com", ThumbprintList=[THUMB])[
        "OpenIDConnectProviderArn"
    ]
    saml = iam.create_saml_provider(Name="keep", SAMLMetadataDocument=saml_metadata())["SAMLProviderArn"]
    pem, key, _ = self_signed()
    iam.upload_server_certificate(ServerCertificateName="keep", CertificateBody=pem, PrivateKey=key)
    iam.set_security_token_service_preferences(GlobalEndpointTokenVersion="v2Token")
    iam.generate_credential_report()
    server.stop(signal.SIGKILL)

    again = start_nephos("--data-dir", str(tmp_path)).client("iam", account=account)
    assert again.get_account_password_policy()["PasswordPolicy"]["MinimumPasswordLength"] == 14
    assert again.list_account_aliases()["AccountAliases"] == [f"durable-{account}"]
    assert [d["SerialNumber"] for d in again.list_virtual_mfa_devices()["VirtualMFADevices"]] == [serial]
    assert again.get_open_id_connect_provider(OpenIDConnectProviderArn=oidc)["ThumbprintList"] == [THUMB]
    assert again.get_saml_provider(SAMLProviderArn=saml)["ValidUntil"].year == 2030
    assert again.get_server_certificate(ServerCertificateName="keep")["ServerCertificate"]["CertificateBody"] == pem
    assert again.get_credential_report()["ReportFormat"] == "text/csv"
    assert again.generate_credential_report()["State"] == "COMPLETE"
