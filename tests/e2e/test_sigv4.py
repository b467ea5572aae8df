"""SigV4 with --verify-signatures: real clients sign, nephos checks."""

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError


@pytest.fixture(scope="module")
def verifying(request):
    from conftest import Nephos

    server = Nephos("--verify-signatures", "--quiet")
    request.addfinalizer(server.stop)
    return server


def sts(server, key="123456789012", secret="test", token=None, region="us-east-1"):
    return boto3.client(
        "sts",
        endpoint_url=server.endpoint,
        region_name=region,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        aws_session_token=token,
        config=Config(retries={"max_attempts": 0}),
    )


def test_correctly_signed_requests_pass(verifying):
    assert sts(verifying).get_caller_identity()["Account"] == "123456789012"
    out = verifying.aws("sts", "get-caller-identity", account="210987654321")
    assert out["Account"] == "210987654321"


def test_wrong_secret_is_signature_does_not_match(verifying):
    with pytest.raises(ClientError) as e:
        sts(verifying, secret="not-the-secret").get_caller_identity()
    assert e.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_json_protocol_services_say_invalid_signature(verifying):
    ddb = boto3.client(
        "dynamodb", endpoint_url=verifying.endpoint, region_name="us-east-1",
        aws_access_key_id="123456789012", aws_secret_access_key="wrong",
        config=Config(retries={"max_attempts": 0}),
    )
    with pytest.raises(ClientError) as e:
        ddb.list_tables()
    assert e.value.response["Error"]["Code"] == "InvalidSignatureException"


def test_unsigned_requests_are_refused(verifying):
    r = requests.post(
        verifying.endpoint + "/",
        data="Action=GetCallerIdentity&Version=2011-06-15",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=5,
    )
    assert r.status_code == 403
    assert "MissingAuthenticationToken" in r.text


def test_tampered_request_is_refused(verifying):
    client = sts(verifying)

    def tamper(request, **kwargs):
        request.body = b"Action=GetCallerIdentity&Version=2011-06-15&Extra=1"
        request.headers["Content-Length"] = str(len(request.body))

    client.meta.events.register_last("before-send.sts.GetCallerIdentity", tamper)
    with pytest.raises(ClientError) as e:
        client.get_caller_identity()
    assert e.value.response["Error"]["Code"] == "SignatureDoesNotMatch"


def test_presigned_url_works_from_a_plain_http_client_until_it_expires(start_nephos):
    server = start_nephos("--verify-signatures", "--quiet")
    # Signed for GET, as EKS-style tokens are (the default would sign the operation's POST).
    url = sts(server).generate_presigned_url("get_caller_identity", ExpiresIn=60, HttpMethod="GET")
    r = requests.get(url, timeout=5)
    assert r.status_code == 200, r.text
    assert "<Account>123456789012</Account>" in r.text
    server.internal("/_nephos/clock", {"advance_seconds": 120})
    expired = requests.get(url, timeout=5)
    assert expired.status_code == 403
    assert "expired" in expired.text.lower()


def test_session_credentials_verify_with_their_own_secret(verifying):
    creds = sts(verifying, key="123456789012").get_session_token(DurationSeconds=900)["Credentials"]
    temp = sts(verifying, creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    assert temp.get_caller_identity()["Account"] == "123456789012"
    wrong_secret = sts(verifying, creds["AccessKeyId"], "test", creds["SessionToken"])
    with pytest.raises(ClientError) as e:
        wrong_secret.get_caller_identity()
    assert e.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    wrong_token = sts(verifying, creds["AccessKeyId"], creds["SecretAccessKey"], "bogus")
    with pytest.raises(ClientError) as e:
        wrong_token.get_caller_identity()
    assert e.value.response["Error"]["Code"] == "InvalidClientTokenId"


def test_session_credentials_expire_on_the_nephos_clock(start_nephos):
    server = start_nephos("--quiet")  # expiry holds even without signature checks
    creds = server.client("sts").get_session_token(DurationSeconds=900)["Credentials"]
    temp = sts(server, creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    assert temp.get_caller_identity()
    server.internal("/_nephos/clock", {"advance_seconds": 901})
    with pytest.raises(ClientError) as e:
        temp.get_caller_identity()
    assert e.value.response["Error"]["Code"] == "ExpiredToken"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_request_time_skew_is_refused(start_nephos):
    server = start_nephos("--verify-signatures", "--quiet")
    server.internal("/_nephos/clock", {"advance_seconds": 3600})
    with pytest.raises(ClientError) as e:
        sts(server).get_caller_identity()
    assert e.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    assert "Signature expired" in e.value.response["Error"]["Message"]


def test_secret_key_is_configurable(start_nephos):
    server = start_nephos("--verify-signatures", "--secret-access-key", "s3cr3t", "--quiet")
    assert sts(server, secret="s3cr3t").get_caller_identity()
    with pytest.raises(ClientError):
        sts(server, secret="test").get_caller_identity()
