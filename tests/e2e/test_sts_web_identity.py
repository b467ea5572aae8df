"""AssumeRoleWithWebIdentity end to end: tokens minted by nephos's own OpenID Connect
issuer (`/_nephos/sts/oidc/`) and tokens the test signs with its own RSA and EC keys
(registered as an issuer's JWKS), verified as AWS verifies them.

A token is only accepted for an account with an IAM OpenID Connect provider for its
issuer, so the exchanges skip while IAM does not implement OIDC providers.
"""

import base64
import json
import time

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

NEPHOS_ISSUER = "https://oidc.nephos.local"
CLIENT = "sts.amazonaws.com"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def int_bytes(n, size=None):
    return n.to_bytes(size or (n.bit_length() + 7) // 8, "big")


def sign(claims, key, kid, alg):
    header = {"alg": alg, "typ": "JWT", "kid": kid}
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    data = signing_input.encode()
    if alg == "RS256":
        sig = key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    else:
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
        sig = int_bytes(r, 32) + int_bytes(s, 32)
    return f"{signing_input}.{b64url(sig)}"


def rsa_jwk(key, kid):
    numbers = key.public_key().public_numbers()
    return {"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
            "n": b64url(int_bytes(numbers.n)), "e": b64url(int_bytes(numbers.e))}


def ec_jwk(key, kid):
    numbers = key.public_key().public_numbers()
    return {"kty": "EC", "kid": kid, "crv": "P-256",
            "x": b64url(int_bytes(numbers.x, 32)), "y": b64url(int_bytes(numbers.y, 32))}


def now(server):
    return server.internal("/_nephos/clock")["now_ms"] // 1000


def mint(server, **claims):
    return server.internal("/_nephos/sts/oidc/token", claims)["token"]


def unimplemented(e):
    return e.response["ResponseMetadata"]["HTTPStatusCode"] == 501


def web_trust(provider_arn, condition=None):
    statement = {
        "Effect": "Allow",
        "Principal": {"Federated": provider_arn},
        "Action": ["sts:AssumeRoleWithWebIdentity", "sts:TagSession", "sts:SetSourceIdentity"],
    }
    if condition:
        statement["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def make_provider(server, account, url, client_ids=(CLIENT,)):
    iam = server.client("iam", account=account)
    try:
        return iam.create_open_id_connect_provider(
            Url=url, ClientIDList=list(client_ids), ThumbprintList=["9e99a48a9960b14926bb7f3b02e22da2b0ab7280"]
        )["OpenIDConnectProviderArn"]
    except ClientError as e:
        if unimplemented(e):
            pytest.skip("IAM does not implement OpenID Connect providers yet")
        raise


def make_role(server, account, name, trust, max_session=None):
    iam = server.client("iam", account=account)
    kwargs = dict(RoleName=name, AssumeRolePolicyDocument=trust)
    if max_session:
        kwargs["MaxSessionDuration"] = max_session
    try:
        return iam.create_role(**kwargs)["Role"]["Arn"]
    except ClientError as e:
        if unimplemented(e):
            pytest.skip("IAM does not implement roles yet")
        raise


def anonymous_sts(server):
    """AssumeRoleWithWebIdentity is called without credentials, as SDKs call it."""
    return boto3.client(
        "sts",
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        config=Config(signature_version=UNSIGNED, retries={"max_attempts": 0}),
    )


def error(e):
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


def test_nephos_is_an_oidc_issuer(nephos):
    config = nephos.internal("/_nephos/sts/oidc/.well-known/openid-configuration")
    assert config["issuer"] == NEPHOS_ISSUER
    assert config["id_token_signing_alg_values_supported"] == ["ES256"]
    (jwk,) = nephos.internal("/_nephos/sts/oidc/jwks.json")["keys"]
    assert (jwk["kty"], jwk["crv"], jwk["alg"]) == ("EC", "P-256", "ES256")
    issued_at = now(nephos)
    answer = nephos.internal(
        "/_nephos/sts/oidc/token", {"sub": "repo:org/app:ref:refs/heads/main", "aud": CLIENT}
    )
    token = answer["token"]
    head, body, sig = token.split(".")
    header, claims = json.loads(unb64url(head)), json.loads(unb64url(body))
    assert header == {"alg": "ES256", "typ": "JWT", "kid": jwk["kid"]}
    assert claims["iss"] == NEPHOS_ISSUER and answer["issuer"] == NEPHOS_ISSUER
    assert claims["sub"] == "repo:org/app:ref:refs/heads/main" and claims["aud"] == CLIENT
    assert issued_at <= claims["iat"] <= issued_at + 5
    assert claims["exp"] == claims["iat"] + 3600 == answer["expires_at"]
    # A standard ES256 JWS: anyone with the published key can verify it.
    public = ec.EllipticCurvePublicNumbers(
        int.from_bytes(unb64url(jwk["x"]), "big"), int.from_bytes(unb64url(jwk["y"]), "big"), ec.SECP256R1()
    ).public_key()
    raw = unb64url(sig)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    public.verify(der, f"{head}.{body}".encode(), ec.ECDSA(hashes.SHA256()))
    # Any issuer without registered keys, and explicit times.
    other = nephos.internal(
        "/_nephos/sts/oidc/token",
        {"iss": "https://token.actions.githubusercontent.com", "sub": "x", "exp": 2000000000},
    )
    claims = json.loads(unb64url(other["token"].split(".")[1]))
    assert claims["iss"] == "https://token.actions.githubusercontent.com"
    assert claims["exp"] == 2000000000


def test_tokens_need_a_provider_and_must_read_as_tokens(nephos, account):
    sts = anonymous_sts(nephos)
    role = f"arn:aws:iam::{account}:role/web"
    token = mint(nephos, sub="someone", aud=CLIENT)
    with pytest.raises(ClientError) as e:
        sts.assume_role_with_web_identity(RoleArn=role, RoleSessionName="ss", WebIdentityToken=token)
    assert error(e) == (
        "InvalidIdentityToken",
        f"No OpenIDConnect provider found in your account for {NEPHOS_ISSUER}",
    )
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    for garbage in ["not-a-token", "a.b.c", "x" * 30]:
        with pytest.raises(ClientError) as e:
            sts.assume_role_with_web_identity(
                RoleArn=role, RoleSessionName="ss", WebIdentityToken=garbage
            )
        assert error(e)[0] == "InvalidIdentityToken"
    with pytest.raises(ClientError) as e:
        sts.assume_role_with_web_identity(
            RoleArn="arn:aws:iam::123456789012:user/u", RoleSessionName="ss", WebIdentityToken=token
        )
    assert error(e) == ("ValidationError", "arn:aws:iam::123456789012:user/u is invalid")
    with pytest.raises(ClientError) as e:
        sts.assume_role_with_web_identity(
            RoleArn=role, RoleSessionName="ss", WebIdentityToken="opaque-access-token",
            ProviderId="graph.facebook.com",
        )
    assert error(e)[0] == "IDPCommunicationError"


def test_web_identity_with_nephos_tokens(nephos, account):
    provider = make_provider(nephos, account, NEPHOS_ISSUER, [CLIENT, "other-client"])
    assert provider == f"arn:aws:iam::{account}:oidc-provider/oidc.nephos.local"
    role = make_role(nephos, account, "web", web_trust(provider), max_session=7200)
    sts = anonymous_sts(nephos)
    token = mint(nephos, sub="repo:org/app", aud=CLIENT)
    out = sts.assume_role_with_web_identity(
        RoleArn=role, RoleSessionName="gha", WebIdentityToken=token, DurationSeconds=7200
    )
    assert out["SubjectFromWebIdentityToken"] == "repo:org/app"
    assert out["Audience"] == CLIENT
    assert out["Provider"] == provider
    assert out["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{account}:assumed-role/web/gha"
    role_id = nephos.client("iam", account=account).get_role(RoleName="web")["Role"]["RoleId"]
    assert out["AssumedRoleUser"]["AssumedRoleId"] == f"{role_id}:gha"
    creds = out["Credentials"]
    ident = boto3.client(
        "sts", endpoint_url=nephos.endpoint, region_name="us-east-1",
        aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    ).get_caller_identity()
    assert ident["Arn"] == out["AssumedRoleUser"]["Arn"] and ident["Account"] == account
    # azp names the client when there is one; aud may be a list.
    listed = mint(nephos, sub="x", aud=["unknown", "other-client"])
    assert sts.assume_role_with_web_identity(
        RoleArn=role, RoleSessionName="ss", WebIdentityToken=listed
    )["Audience"] == "other-client"
    with pytest.raises(ClientError) as e:
        sts.assume_role_with_web_identity(
            RoleArn=role, RoleSessionName="ss", WebIdentityToken=mint(nephos, sub="x", aud="nope")
        )
    assert error(e) == ("InvalidIdentityToken", "Incorrect token audience")
    # Altered claims no longer verify.
    head, _, sig = token.split(".")
    forged = f"{head}.{b64url(json.dumps({'iss': NEPHOS_ISSUER, 'sub': 'admin', 'aud': CLIENT, 'exp': 4102444800}).encode())}.{sig}"
    with pytest.raises(ClientError) as e:
        sts.assume_role_with_web_identity(RoleArn=role, RoleSessionName="ss", WebIdentityToken=forged)
    assert error(e)[0] == "InvalidIdentityToken"
    # Not yet valid.
    with pytest.raises(ClientError) as e:
        sts.assume_role_with_web_identity(
            RoleArn=role, RoleSessionName="ss",
            WebIdentityToken=mint(nephos, sub="x", aud=CLIENT, nbf=now(nephos) + 600),
        )
    assert error(e)[0] == "InvalidIdentityToken"
    with pytest.raises(ClientError) as e:
        sts.assume_role_with_web_identity(
            RoleArn=role, RoleSessionName="ss", WebIdentityToken=token, DurationSeconds=7201
        )
    assert error(e) == (
        "ValidationError",
        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
    )
    with pytest.raises(ClientError) as e:
        sts.assume_role_with_web_identity(
            RoleArn=f"arn:aws:iam::{account}:role/missing", RoleSessionName="ss", WebIdentityToken=token
        )
    assert error(e) == ("AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity")
    out = nephos.aws(
        "sts", "assume-role-with-web-identity", "--role-arn", role, "--role-session-name", "cli",
        "--web-identity-token", token, account=account,
    )
    assert out["SubjectFromWebIdentityToken"] == "repo:org/app"


def test_tokens_expire_on_the_nephos_clock(start_nephos):
    server = start_nephos("--quiet")
    account = "310987654321"
    provider = make_provider(server, account, NEPHOS_ISSUER)
    role = make_role(server, account, "web", web_trust(provider))
    token = mint(server, sub="x", aud=CLIENT)
    sts = anonymous_sts(server)
    assert sts.assume_role_with_web_identity(RoleArn=role, RoleSessionName="ss", WebIdentityToken=token)
    server.internal("/_nephos/clock", {"advance_seconds": 3601})
    with pytest.raises(ClientError) as e:
        sts.assume_role_with_web_identity(RoleArn=role, RoleSessionName="ss", WebIdentityToken=token)
    code, message = error(e)
    assert code == "ExpiredTokenException"
    assert message.startswith("Token expired: current date/time ")
    assert "must be before the expiration date/time" in message


def test_tokens_signed_by_keys_nephos_does_not_hold(nephos, account):
    issuer = f"https://idp.example.test/{account}"
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    registered = nephos.internal(
        "/_nephos/sts/oidc/issuers",
        {"issuer": issuer, "jwks": {"keys": [rsa_jwk(rsa_key, "r1"), ec_jwk(ec_key, "e1")]}},
    )
    assert registered == {"issuer": issuer, "keys": 2}
    # nephos no longer signs for an issuer whose keys it was given.
    with pytest.raises(Exception) as e:
        mint(nephos, iss=issuer, sub="x")
    assert getattr(e.value, "code", None) == 409
    provider = make_provider(nephos, account, issuer)
    role = make_role(nephos, account, "external", web_trust(provider))
    sts = anonymous_sts(nephos)
    t = now(nephos)
    claims = {"iss": issuer, "sub": "user-1", "aud": CLIENT, "iat": t, "exp": t + 600}
    for token in (sign(claims, rsa_key, "r1", "RS256"), sign(claims, ec_key, "e1", "ES256")):
        out = sts.assume_role_with_web_identity(RoleArn=role, RoleSessionName="ss", WebIdentityToken=token)
        assert out["SubjectFromWebIdentityToken"] == "user-1"
    for token in (
        sign(claims, stranger, "r1", "RS256"),
        sign(claims, rsa_key, "unknown-kid", "RS256"),
    ):
        with pytest.raises(ClientError) as e:
            sts.assume_role_with_web_identity(
                RoleArn=role, RoleSessionName="ss", WebIdentityToken=token
            )
        assert error(e)[0] == "InvalidIdentityToken"
    removed = nephos.internal("/_nephos/sts/oidc/issuers", {"issuer": issuer}, method="DELETE")
    assert removed["removed"] is True
    assert mint(nephos, iss=issuer, sub="x")


def test_session_tags_and_source_identity_from_claims(nephos, account):
    provider = make_provider(nephos, account, NEPHOS_ISSUER)
    role = make_role(nephos, account, "tagged-web", web_trust(provider))
    token = mint(
        nephos, sub="x", aud=CLIENT,
        **{
            "https://aws.amazon.com/tags": {
                "principal_tags": {"team": ["blue"], "env": ["dev"]},
                "transitive_tag_keys": ["team"],
            },
            "https://aws.amazon.com/source_identity": "alice",
        },
    )
    out = anonymous_sts(nephos).assume_role_with_web_identity(
        RoleArn=role, RoleSessionName="ss", WebIdentityToken=token
    )
    assert out["PackedPolicySize"] > 0
    assert out["SourceIdentity"] == "alice"


def test_trust_policy_decides_under_enforce_iam(start_nephos):
    server = start_nephos("--enforce-iam", "--quiet")
    account = "310987654322"
    provider = make_provider(server, account, NEPHOS_ISSUER)
    role = make_role(
        server, account, "guarded",
        web_trust(provider, {"StringLike": {"oidc.nephos.local:sub": "repo:org/*"},
                             "StringEquals": {"oidc.nephos.local:aud": CLIENT}}),
    )
    sts = anonymous_sts(server)
    good = mint(server, sub="repo:org/app", aud=CLIENT)
    assert sts.assume_role_with_web_identity(RoleArn=role, RoleSessionName="ss", WebIdentityToken=good)
    bad = mint(server, sub="repo:evil/app", aud=CLIENT)
    with pytest.raises(ClientError) as e:
        sts.assume_role_with_web_identity(RoleArn=role, RoleSessionName="ss", WebIdentityToken=bad)
    assert error(e) == ("AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    # A role that trusts only AWS principals does not trust the provider.
    aws_only = make_role(
        server, account, "aws-only",
        json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": account}, "Action": "sts:AssumeRole"}]}),
    )
    with pytest.raises(ClientError) as e:
        sts.assume_role_with_web_identity(RoleArn=aws_only, RoleSessionName="ss", WebIdentityToken=good)
    assert error(e)[0] == "AccessDenied"
