"""SNS mobile push and SMS control plane: platform applications and endpoints, publishing
to an endpoint (outbox), SMS attributes, sandbox numbers with one-time passwords, opt-outs,
and the query protocol as older SDKs send it."""

import json
import time
import urllib.parse
import urllib.request

import pytest
from botocore.exceptions import ClientError


def err(excinfo):
    e = excinfo.value.response["Error"]
    return e["Code"], e["Message"]


def test_platform_application_and_endpoints(nephos, account):
    sns = nephos.client("sns", account=account)
    app = sns.create_platform_application(Name="app", Platform="GCM",
                                          Attributes={"PlatformCredential": "key"})["PlatformApplicationArn"]
    assert app == f"arn:aws:sns:us-east-1:{account}:app/GCM/app"
    attrs = sns.get_platform_application_attributes(PlatformApplicationArn=app)["Attributes"]
    assert attrs["Enabled"] == "true" and "PlatformCredential" not in attrs
    sns.set_platform_application_attributes(PlatformApplicationArn=app,
                                            Attributes={"EventEndpointCreated": "arn:aws:sns:us-east-1:1:t"})
    listed = sns.list_platform_applications()["PlatformApplications"]
    assert [a["PlatformApplicationArn"] for a in listed] == [app]
    ep = sns.create_platform_endpoint(PlatformApplicationArn=app, Token="device-1", CustomUserData="u")["EndpointArn"]
    assert ep.startswith(f"arn:aws:sns:us-east-1:{account}:endpoint/GCM/app/")
    assert sns.create_platform_endpoint(PlatformApplicationArn=app, Token="device-1", CustomUserData="u")["EndpointArn"] == ep
    with pytest.raises(ClientError) as e:
        sns.create_platform_endpoint(PlatformApplicationArn=app, Token="device-1", CustomUserData="other")
    assert "already exists with the same Token" in err(e)[1]
    eattrs = sns.get_endpoint_attributes(EndpointArn=ep)["Attributes"]
    assert eattrs == {"CustomUserData": "u", "Enabled": "true", "Token": "device-1"}
    eps = sns.list_endpoints_by_platform_application(PlatformApplicationArn=app)["Endpoints"]
    assert [e["EndpointArn"] for e in eps] == [ep]

    mid = sns.publish(TargetArn=ep, MessageStructure="json",
                      Message=json.dumps({"default": "d", "GCM": json.dumps({"notification": {"title": "t"}})}))["MessageId"]
    [pushed] = [m for m in nephos.internal("/_nephos/sns/outbox") if m["messageId"] == mid]
    assert pushed["protocol"] == "application" and pushed["endpoint"] == ep
    assert json.loads(pushed["message"]) == {"notification": {"title": "t"}}

    # A topic subscription to the endpoint delivers to the outbox too.
    topic = sns.create_topic(Name="push")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="application", Endpoint=ep)
    mid = sns.publish(TopicArn=topic, Message="to devices")["MessageId"]
    time.sleep(0.3)
    assert [m["endpoint"] for m in nephos.internal("/_nephos/sns/outbox") if m["messageId"] == mid] == [ep]

    sns.set_endpoint_attributes(EndpointArn=ep, Attributes={"Enabled": "false"})
    with pytest.raises(ClientError) as e:
        sns.publish(TargetArn=ep, Message="x")
    assert err(e)[0] == "EndpointDisabled"
    sns.delete_endpoint(EndpointArn=ep)
    with pytest.raises(ClientError) as e:
        sns.get_endpoint_attributes(EndpointArn=ep)
    assert err(e)[0] == "NotFound"
    sns.delete_platform_application(PlatformApplicationArn=app)
    assert sns.list_platform_applications()["PlatformApplications"] == []
    with pytest.raises(ClientError) as e:
        sns.create_platform_application(Name="x", Platform="NOPE", Attributes={"PlatformCredential": "k"})
    assert err(e)[0] == "InvalidParameter"


def test_sms_attributes(nephos, account):
    sns = nephos.client("sns", account=account)
    assert sns.get_sms_attributes()["attributes"] == {}
    sns.set_sms_attributes(attributes={"DefaultSMSType": "Transactional", "DefaultSenderID": "Nephos"})
    assert sns.get_sms_attributes(attributes=["DefaultSMSType"])["attributes"] == {"DefaultSMSType": "Transactional"}
    with pytest.raises(ClientError) as e:
        sns.set_sms_attributes(attributes={"DefaultSMSType": "Spam"})
    assert err(e)[0] == "InvalidParameter"


def test_sandbox_numbers_with_one_time_password(nephos, account):
    sns = nephos.client("sns", account=account)
    assert sns.get_sms_sandbox_account_status()["IsInSandbox"] is True
    sns.create_sms_sandbox_phone_number(PhoneNumber="+15555550142")
    assert sns.list_sms_sandbox_phone_numbers()["PhoneNumbers"] == [{"PhoneNumber": "+15555550142", "Status": "Pending"}]
    otp = [m for m in nephos.internal("/_nephos/sns/outbox")
           if m["endpoint"] == "+15555550142" and m.get("note") == "SMSSandboxVerification"][-1]["attributes"]["OneTimePassword"]
    with pytest.raises(ClientError) as e:
        sns.verify_sms_sandbox_phone_number(PhoneNumber="+15555550142", OneTimePassword="000000" if otp != "000000" else "111111")
    assert err(e)[0] == "VerificationException"
    sns.verify_sms_sandbox_phone_number(PhoneNumber="+15555550142", OneTimePassword=otp)
    assert sns.list_sms_sandbox_phone_numbers()["PhoneNumbers"][0]["Status"] == "Verified"
    sns.delete_sms_sandbox_phone_number(PhoneNumber="+15555550142")
    with pytest.raises(ClientError) as e:
        sns.delete_sms_sandbox_phone_number(PhoneNumber="+15555550142")
    assert err(e)[0] == "ResourceNotFound"


def test_opt_out(nephos, account):
    sns = nephos.client("sns", account=account)
    assert sns.check_if_phone_number_is_opted_out(phoneNumber="+15555550100")["isOptedOut"] is False
    assert sns.list_phone_numbers_opted_out()["phoneNumbers"] == []
    sns.opt_in_phone_number(phoneNumber="+15555550100")


def test_query_protocol_raw_request(nephos, account):
    """Older SDKs send form-encoded query requests and read XML."""
    def call(**params):
        data = urllib.parse.urlencode(dict(params, Version="2010-03-31")).encode()
        req = urllib.request.Request(nephos.endpoint + "/", data=data, headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Authorization": f"AWS4-HMAC-SHA256 Credential={account}/20240101/us-east-1/sns/aws4_request, "
                             "SignedHeaders=host, Signature=0",
        })
        try:
            with urllib.request.urlopen(req) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    status, body = call(Action="CreateTopic", Name="query-topic")
    assert status == 200 and f"arn:aws:sns:us-east-1:{account}:query-topic" in body
    assert "<CreateTopicResponse" in body
    status, body = call(Action="Publish", TopicArn=f"arn:aws:sns:us-east-1:{account}:query-topic", Message="hi",
                        **{"MessageAttributes.entry.1.Name": "a", "MessageAttributes.entry.1.Value.DataType": "String",
                           "MessageAttributes.entry.1.Value.StringValue": "b"})
    assert status == 200 and "<MessageId>" in body
    status, body = call(Action="GetTopicAttributes", TopicArn=f"arn:aws:sns:us-east-1:{account}:missing")
    assert status == 404 and "<Code>NotFound</Code>" in body and "Topic does not exist" in body
