"""AssumeRoleWithSAML end to end: responses signed by the test's own identity provider
key (exclusive canonicalization, RSA-SHA256), checked by nephos against the certificate
in the IAM SAML provider's metadata; unsigned, altered and expired responses refused.

The exchanges need IAM SAML providers, so they skip while IAM does not implement them.
"""

import base64
import datetime
import hashlib
import json

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

DS = "http://www.w3.org/2000/09/xmldsig#"
ISSUER = "https://idp.example.test/saml"


@pytest.fixture(scope="module")
def idp():
    """A key pair and self-signed certificate, and the provider metadata naming it."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test idp")])
    start = datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(7).not_valid_before(start).not_valid_after(start + datetime.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    der = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
    metadata = (
        f'<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{ISSUER}">'
        '<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
        f'<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="{DS}"><ds:X509Data>'
        f"<ds:X509Certificate>{der}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
        '<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" '
        'Location="https://idp.example.test/sso"/>'
        "</md:IDPSSODescriptor></md:EntityDescriptor>"
    )
    return key, metadata


def stamp(seconds):
    t = datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def canonical_assertion(provider, role, session, not_after, extra_attributes=""):
    """The assertion as exclusive canonicalization writes it (the signed bytes)."""
    return (
        '<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a1" '
        'IssueInstant="2026-01-01T00:00:00Z" Version="2.0">'
        f"<saml:Issuer>{ISSUER}</saml:Issuer>"
        "<saml:Subject>"
        '<saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">alice@example.test</saml:NameID>'
        '<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">'
        f'<saml:SubjectConfirmationData NotOnOrAfter="{not_after}" Recipient="https://signin.aws.amazon.com/saml">'
        "</saml:SubjectConfirmationData></saml:SubjectConfirmation></saml:Subject>"
        f'<saml:Conditions NotBefore="2020-01-01T00:00:00Z" NotOnOrAfter="{not_after}">'
        "<saml:AudienceRestriction><saml:Audience>https://signin.aws.amazon.com/saml</saml:Audience>"
        "</saml:AudienceRestriction></saml:Conditions>"
        "<saml:AttributeStatement>"
        '<saml:Attribute Name="https://aws.amazon.com/SAML/Attributes/Role">'
        f"<saml:AttributeValue>{role},{provider}</saml:AttributeValue></saml:Attribute>"
        '<saml:Attribute Name="https://aws.amazon.com/SAML/Attributes/RoleSessionName">'
        f"<saml:AttributeValue>{session}</saml:AttributeValue></saml:Attribute>"
        f"{extra_attributes}"
        "</saml:AttributeStatement></saml:Assertion>"
    )


def signature(key, canonical):
    digest = base64.b64encode(hashlib.sha256(canonical.encode()).digest()).decode()
    signed_info = (
        f'<ds:SignedInfo xmlns:ds="{DS}">'
        '<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"></ds:CanonicalizationMethod>'
        '<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"></ds:SignatureMethod>'
        '<ds:Reference URI="#_a1"><ds:Transforms>'
        '<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"></ds:Transform>'
        '<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"></ds:Transform>'
        "</ds:Transforms>"
        '<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"></ds:DigestMethod>'
        f"<ds:DigestValue>{digest}</ds:DigestValue></ds:Reference></ds:SignedInfo>"
    )
    value = base64.b64encode(key.sign(signed_info.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()
    # In the document the namespace is declared on ds:Signature, and tags are written
    # differently: canonicalization must give back the signed bytes.
    embedded = signed_info.replace(f' xmlns:ds="{DS}"', "", 1).replace("></ds:Transform>", " />")
    return f'<ds:Signature xmlns:ds="{DS}">{embedded}<ds:SignatureValue>{value}</ds:SignatureValue></ds:Signature>'


def response(canonical, sig):
    """A response holding the assertion, written as an equivalent, non-canonical document."""
    assertion = (
        canonical.replace("</saml:Issuer>", f"</saml:Issuer>{sig}", 1)
        .replace(
            '<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a1" '
            'IssueInstant="2026-01-01T00:00:00Z" Version="2.0">',
            "<saml:Assertion Version='2.0' ID=\"_a1\"\n  IssueInstant=\"2026-01-01T00:00:00Z\" "
            'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">',
            1,
        )
        .replace("></saml:SubjectConfirmationData>", " />")
        .replace("</saml:Subject>", "</saml:Subject><!-- a comment is not signed content -->", 1)
    )
    doc = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
        'xmlns:xs="http://www.w3.org/2001/XMLSchema" ID="_r1" Version="2.0" '
        'Destination="https://signin.aws.amazon.com/saml">'
        '<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>'
        f"{assertion}</samlp:Response>"
    )
    return base64.b64encode(doc.encode()).decode()


def anonymous_sts(server):
    return boto3.client(
        "sts", endpoint_url=server.endpoint, region_name="us-east-1",
        config=Config(signature_version=UNSIGNED, retries={"max_attempts": 0}),
    )


def unimplemented(e):
    return e.response["ResponseMetadata"]["HTTPStatusCode"] == 501


def setup(server, account, metadata, trust_condition=None):
    """An IAM SAML provider for the test IdP and a role trusting it."""
    iam = server.client("iam", account=account)
    try:
        provider = iam.create_saml_provider(SAMLMetadataDocument=metadata, Name="test-idp")[
            "SAMLProviderArn"
        ]
    except ClientError as e:
        if unimplemented(e):
            pytest.skip("IAM does not implement SAML providers yet")
        raise
    statement = {
        "Effect": "Allow",
        "Principal": {"Federated": provider},
        "Action": ["sts:AssumeRoleWithSAML", "sts:TagSession", "sts:SetSourceIdentity"],
    }
    if trust_condition:
        statement["Condition"] = trust_condition
    role = iam.create_role(
        RoleName="saml-role",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
    )["Role"]["Arn"]
    return provider, role


def error(e):
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


def nephos_now(server):
    return server.internal("/_nephos/clock")["now_ms"] // 1000


def test_signed_responses_are_exchanged_for_role_sessions(nephos, account, idp):
    key, metadata = idp
    provider, role = setup(nephos, account, metadata)
    canonical = canonical_assertion(
        provider, role, "alice", stamp(nephos_now(nephos) + 600),
        '<saml:Attribute Name="https://aws.amazon.com/SAML/Attributes/SourceIdentity">'
        "<saml:AttributeValue>alice</saml:AttributeValue></saml:Attribute>"
        '<saml:Attribute Name="https://aws.amazon.com/SAML/Attributes/PrincipalTag:Dept">'
        "<saml:AttributeValue>eng</saml:AttributeValue></saml:Attribute>",
    )
    out = anonymous_sts(nephos).assume_role_with_saml(
        RoleArn=role, PrincipalArn=provider, SAMLAssertion=response(canonical, signature(key, canonical))
    )
    assert out["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{account}:assumed-role/saml-role/alice"
    assert out["Subject"] == "alice@example.test"
    assert out["SubjectType"] == "persistent"
    assert out["Issuer"] == ISSUER
    assert out["Audience"] == "https://signin.aws.amazon.com/saml"
    assert out["SourceIdentity"] == "alice"
    assert out["PackedPolicySize"] > 0
    expected = base64.b64encode(
        hashlib.sha1(f"{ISSUER}{account}/test-idp".encode()).digest()
    ).decode()
    assert out["NameQualifier"] == expected
    creds = out["Credentials"]
    ident = boto3.client(
        "sts", endpoint_url=nephos.endpoint, region_name="us-east-1",
        aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    ).get_caller_identity()
    assert ident["Arn"] == out["AssumedRoleUser"]["Arn"]


def test_unsigned_altered_and_misdirected_responses_are_refused(nephos, account, idp):
    key, metadata = idp
    provider, role = setup(nephos, account, metadata)
    sts = anonymous_sts(nephos)
    later = stamp(nephos_now(nephos) + 600)
    canonical = canonical_assertion(provider, role, "alice", later)
    sig = signature(key, canonical)

    def refused(assertion, role_arn=role):
        with pytest.raises(ClientError) as e:
            sts.assume_role_with_saml(RoleArn=role_arn, PrincipalArn=provider, SAMLAssertion=assertion)
        return error(e)

    assert refused(response(canonical, "")) == ("InvalidIdentityToken", "Response signature invalid")
    altered = base64.b64encode(
        base64.b64decode(response(canonical, sig)).replace(b">alice</saml:AttributeValue>", b">root</saml:AttributeValue>")
    ).decode()
    assert refused(altered) == ("InvalidIdentityToken", "Response signature invalid")
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert refused(response(canonical, signature(stranger, canonical))) == (
        "InvalidIdentityToken", "Response signature invalid",
    )
    # Signed, but for another role than the one asked for.
    other_role = f"arn:aws:iam::{account}:role/other"
    assert refused(response(canonical, sig), other_role) == (
        "AccessDenied", "Not authorized to perform sts:AssumeRoleWithSAML",
    )
    bad_name = canonical_assertion(provider, role, "a", later)
    assert refused(response(bad_name, signature(key, bad_name))) == (
        "InvalidIdentityToken", "RoleSessionName in AuthnResponse must match [a-zA-Z_0-9+=,.@-]{2,64}",
    )
    assert refused(base64.b64encode(b"<not-saml/>").decode())[0] == "InvalidIdentityToken"
    with pytest.raises(ClientError) as e:
        sts.assume_role_with_saml(
            RoleArn=role, PrincipalArn=f"arn:aws:iam::{account}:saml-provider/missing",
            SAMLAssertion=response(canonical, sig),
        )
    assert error(e)[0] == "InvalidIdentityToken"


def test_assertions_expire_on_the_nephos_clock(start_nephos, idp):
    key, metadata = idp
    server = start_nephos("--quiet")
    account = "410987654321"
    provider, role = setup(server, account, metadata)
    canonical = canonical_assertion(provider, role, "alice", stamp(nephos_now(server) + 300))
    assertion = response(canonical, signature(key, canonical))
    sts = anonymous_sts(server)
    assert sts.assume_role_with_saml(RoleArn=role, PrincipalArn=provider, SAMLAssertion=assertion)
    server.internal("/_nephos/clock", {"advance_seconds": 301})
    with pytest.raises(ClientError) as e:
        sts.assume_role_with_saml(RoleArn=role, PrincipalArn=provider, SAMLAssertion=assertion)
    assert error(e)[0] == "ExpiredTokenException"


def test_trust_policy_decides_under_enforce_iam(start_nephos, idp):
    key, metadata = idp
    server = start_nephos("--enforce-iam", "--quiet")
    account = "410987654322"
    provider, role = setup(
        server, account, metadata, {"StringEquals": {"saml:aud": "https://signin.aws.amazon.com/saml", "saml:sub": "bob@example.test"}}
    )
    canonical = canonical_assertion(provider, role, "alice", stamp(nephos_now(server) + 600))
    with pytest.raises(ClientError) as e:
        anonymous_sts(server).assume_role_with_saml(
            RoleArn=role, PrincipalArn=provider, SAMLAssertion=response(canonical, signature(key, canonical))
        )
    assert error(e) == ("AccessDenied", "Not authorized to perform sts:AssumeRoleWithSAML")
