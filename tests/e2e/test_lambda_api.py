"""Lambda's control plane as AWS answers it: layers, event invoke configs, function URLs,
provisioned concurrency, code signing, recursion and runtime management settings, and the
exact shapes and errors of the function API (recorded from AWS in LocalStack's suite)."""

import io
import json
import re
import time
import zipfile

import pytest
from botocore.exceptions import ClientError

from conftest import new_account

ROLE = "arn:aws:iam::000000000000:role/lambda-role"
HANDLER = "def handler(event, context):\n    return event\n"


def zip_of(files):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, text in files.items():
            z.writestr(name, text)
    return buf.getvalue()


def error(e):
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


def wait_active(lam, name, qualifier=None):
    kwargs = {"FunctionName": name}
    if qualifier:
        kwargs["Qualifier"] = qualifier
    for _ in range(100):
        c = lam.get_function_configuration(**kwargs)
        if c["State"] == "Active" and c.get("LastUpdateStatus") == "Successful":
            return c
        time.sleep(0.05)
    raise AssertionError(f"{name} never became active: {c}")


def create(lam, name, **kwargs):
    out = lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=ROLE,
        Handler="index.handler",
        Code={"ZipFile": zip_of({"index.py": HANDLER})},
        **kwargs,
    )
    wait_active(lam, name)
    return out


@pytest.fixture
def lam(nephos, account):
    return nephos.client("lambda", account=account)


# ---- errors and revisions ---------------------------------------------------------------


def test_errors_carry_type_user_as_aws_does(lam):
    with pytest.raises(ClientError) as e:
        lam.get_function(FunctionName="missing")
    assert e.value.response["Type"] == "User"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_settling_and_tagging_give_new_revisions(lam, account):
    out = create(lam, "rev")
    assert "LastUpdateStatus" not in out  # a new function has no update status yet
    active = lam.get_function(FunctionName="rev")["Configuration"]
    assert active["RevisionId"] != out["RevisionId"]
    arn = active["FunctionArn"]
    lam.tag_resource(Resource=arn, Tags={"a": "b"})
    tagged = lam.get_function(FunctionName="rev")["Configuration"]["RevisionId"]
    assert tagged != active["RevisionId"]
    updated = lam.update_function_configuration(FunctionName="rev", Timeout=9)
    assert updated["RevisionId"] != tagged
    done = wait_active(lam, "rev")
    assert done["RevisionId"] != updated["RevisionId"]
    with pytest.raises(ClientError) as e:
        lam.update_function_code(
            FunctionName="rev", ZipFile=zip_of({"index.py": HANDLER}), RevisionId="wrong"
        )
    assert error(e) == (
        "PreconditionFailedException",
        "The Revision Id provided does not match the latest Revision Id. "
        "Call the GetFunction/GetAlias API to retrieve the latest Revision Id",
    )
    with pytest.raises(ClientError) as e:
        lam.tag_resource(Resource=arn, Tags={})
    assert error(e)[0] == "InvalidParameterValueException"


def test_function_names_regions_and_deletes(lam, account):
    create(lam, "f1")
    with pytest.raises(ClientError) as e:
        lam.get_function(FunctionName=f"arn:aws:lambda:eu-central-1:{account}:function:f1")
    assert error(e) == (
        "ResourceNotFoundException",
        "Functions from 'eu-central-1' are not reachable in this region ('us-east-1')",
    )
    # AWS's pattern makes `function:` optional: this ARN names the function `function`.
    with pytest.raises(ClientError) as e:
        lam.get_function(FunctionName=f"arn:aws:lambda:us-east-1:{account}:function")
    assert error(e) == (
        "ResourceNotFoundException",
        f"Function not found: arn:aws:lambda:us-east-1:{account}:function:function",
    )
    with pytest.raises(ClientError) as e:
        lam.create_function(
            FunctionName="a" * 65, Runtime="python3.12", Role=ROLE, Handler="index.handler",
            Code={"ZipFile": zip_of({"index.py": HANDLER})},
        )
    assert error(e)[0] == "InvalidParameterValueException"
    with pytest.raises(ClientError) as e:
        lam.delete_function(FunctionName="nope:$LATEST")
    assert error(e) == (
        "InvalidParameterValueException",
        "$LATEST version cannot be deleted without deleting the function.",
    )
    with pytest.raises(ClientError) as e:
        lam.delete_function(FunctionName="nope", Qualifier="3")
    assert error(e)[1] == f"Function not found: arn:aws:lambda:us-east-1:{account}:function:nope"
    out = lam.delete_function(FunctionName="f1")
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert out["StatusCode"] == 204


def test_versions_aliases_and_concurrency_as_aws_answers(lam, account):
    out = create(lam, "ver", Publish=True)
    assert out["Version"] == "1"
    assert out["FunctionArn"] == f"arn:aws:lambda:us-east-1:{account}:function:ver"
    wait_active(lam, "ver", "1")
    # An unchanged $LATEST publishes nothing new, whatever the description asked for.
    assert lam.publish_version(FunctionName="ver", Description="again")["Version"] == "1"
    lam.update_function_configuration(FunctionName="ver", Description="changed")
    wait_active(lam, "ver")
    v2 = lam.publish_version(FunctionName="ver", Description="second")
    assert (v2["Version"], v2["Description"]) == ("2", "second")
    assert lam.publish_version(FunctionName="ver")["Version"] == "2"
    versions = lam.list_versions_by_function(FunctionName="ver")["Versions"]
    assert versions[0]["FunctionArn"].endswith(":ver:$LATEST")
    assert all("State" not in v and "RuntimeVersionConfig" not in v for v in versions)
    with pytest.raises(ClientError) as e:
        lam.create_alias(
            FunctionName="ver", Name="a", FunctionVersion="$LATEST",
            RoutingConfig={"AdditionalVersionWeights": {"1": 0.5}},
        )
    assert error(e)[1] == "$LATEST is not supported for an alias pointing to more than 1 version"
    assert "Type" not in e.value.response
    with pytest.raises(ClientError) as e:
        lam.create_alias(
            FunctionName="ver", Name="a", FunctionVersion="1",
            RoutingConfig={"AdditionalVersionWeights": {"1": 0.5}},
        )
    assert "is already included in routing configuration" in error(e)[1]
    with pytest.raises(ClientError) as e:
        lam.update_alias(FunctionName="ver", Name="none", Description="x")
    assert error(e)[1].startswith("Alias not found: ")
    with pytest.raises(ClientError) as e:
        lam.put_function_concurrency(FunctionName="ver:$LATEST", ReservedConcurrentExecutions=0)
    assert error(e)[0] == "InvalidParameterValueException"
    with pytest.raises(ClientError) as e:
        lam.put_function_concurrency(FunctionName="ver", ReservedConcurrentExecutions=950)
    assert "Type" not in e.value.response


def test_permissions_errors_and_revisions(lam, account):
    create(lam, "perm")
    with pytest.raises(ClientError) as e:
        lam.add_permission(
            FunctionName="perm", StatementId="s", Action="lambda:InvokeFunction",
            Principal="invalid.nonaws.com",
        )
    assert error(e)[1] == "The provided principal was invalid. Please check the principal and try again."
    with pytest.raises(ClientError) as e:
        lam.add_permission(
            FunctionName="perm", Qualifier="nope", StatementId="s",
            Action="lambda:InvokeFunction", Principal="s3.amazonaws.com",
        )
    assert error(e)[1].startswith("Cannot find alias arn: ")
    with pytest.raises(ClientError) as e:
        lam.remove_permission(FunctionName="ghost", StatementId="s")
    assert error(e)[1] == f"No policy found for: arn:aws:lambda:us-east-1:{account}:function:ghost"
    before = lam.get_function(FunctionName="perm")["Configuration"]["RevisionId"]
    lam.add_permission(
        FunctionName="perm", StatementId="s", Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com",
    )
    policy = lam.get_policy(FunctionName="perm")
    assert policy["RevisionId"] != before
    lam.remove_permission(FunctionName="perm", StatementId="s")
    with pytest.raises(ClientError) as e:
        lam.get_policy(FunctionName="perm")
    assert error(e)[1] == "The resource you requested does not exist."


def test_snap_start_setting(lam):
    create(lam, "snap")
    out = lam.update_function_configuration(
        FunctionName="snap", SnapStart={"ApplyOn": "PublishedVersions"}
    )
    assert out["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "Off"}
    wait_active(lam, "snap")
    v = lam.publish_version(FunctionName="snap")
    assert v["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "On"}


# ---- layers -----------------------------------------------------------------------------


def test_layer_lifecycle_and_functions_using_layers(lam, account):
    content = zip_of({"python/helper.py": "X = 1\n"})
    v1 = lam.publish_layer_version(
        LayerName="lib", Content={"ZipFile": content}, CompatibleRuntimes=["python3.12"],
        CompatibleArchitectures=["x86_64"], Description="d", LicenseInfo="MIT",
    )
    assert v1["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert v1["Version"] == 1
    assert v1["LayerVersionArn"] == f"arn:aws:lambda:us-east-1:{account}:layer:lib:1"
    assert v1["Content"]["CodeSize"] == len(content)
    # The location serves the zip itself.
    import urllib.request

    with urllib.request.urlopen(v1["Content"]["Location"]) as r:
        assert r.read() == content
    bare = lam.publish_layer_version(LayerName="lib", Content={"ZipFile": content})
    assert bare["Version"] == 2
    assert "CompatibleRuntimes" not in bare and "CompatibleArchitectures" not in bare
    versions = lam.list_layer_versions(LayerName="lib")["LayerVersions"]
    assert [v["Version"] for v in versions] == [2, 1]
    layers = lam.list_layers(CompatibleRuntime="python3.12")["Layers"]
    assert [(x["LayerName"], x["LatestMatchingVersion"]["Version"]) for x in layers] == [("lib", 1)]
    got = lam.get_layer_version_by_arn(Arn=v1["LayerVersionArn"])
    assert got["LicenseInfo"] == "MIT" and got["Description"] == "d"

    create(lam, "with-layer", Layers=[v1["LayerVersionArn"]])
    c = lam.get_function_configuration(FunctionName="with-layer")
    assert c["Layers"] == [{"Arn": v1["LayerVersionArn"], "CodeSize": len(content)}]
    with pytest.raises(ClientError) as e:
        lam.update_function_configuration(
            FunctionName="with-layer", Layers=[v1["LayerVersionArn"], bare["LayerVersionArn"]]
        )
    assert error(e)[1].startswith("Two different versions of the same layer are not allowed")
    missing = f"arn:aws:lambda:us-east-1:{account}:layer:lib:9"
    with pytest.raises(ClientError) as e:
        lam.update_function_configuration(FunctionName="with-layer", Layers=[missing])
    assert error(e) == ("InvalidParameterValueException", f"Layer version {missing} does not exist.")
    with pytest.raises(ClientError) as e:
        lam.update_function_configuration(
            FunctionName="with-layer",
            Layers=[f"arn:aws:lambda:eu-west-1:{account}:layer:lib:1"],
        )
    assert "not in the same region" in error(e)[1]
    with pytest.raises(ClientError) as e:
        lam.update_function_configuration(FunctionName="with-layer", Layers=[missing] * 6)
    assert error(e)[1] == "Cannot reference more than 5 layers."

    # Deleting versions keeps their numbers used; functions keep what they reference.
    lam.delete_layer_version(LayerName="lib", VersionNumber=1)
    lam.delete_layer_version(LayerName="lib", VersionNumber=1)  # again: no error
    lam.delete_layer_version(LayerName="lib", VersionNumber=2)
    assert lam.list_layer_versions(LayerName="lib")["LayerVersions"] == []
    assert lam.list_layers()["Layers"] == []
    assert lam.publish_layer_version(LayerName="lib", Content={"ZipFile": content})["Version"] == 3
    assert lam.get_function_configuration(FunctionName="with-layer")["Layers"][0]["Arn"] == v1["LayerVersionArn"]
    with pytest.raises(ClientError) as e:
        lam.get_layer_version(LayerName="lib", VersionNumber=1)
    assert error(e) == ("ResourceNotFoundException", "The resource you requested does not exist.")
    with pytest.raises(ClientError) as e:
        lam.get_layer_version(LayerName="lib", VersionNumber=0)
    assert error(e) == ("InvalidParameterValueException", "Layer Version Cannot be less than 1")


def test_layer_from_s3_and_compatibility_validation(nephos, account):
    lam = nephos.client("lambda", account=account)
    s3 = nephos.client("s3", account=account)
    s3.create_bucket(Bucket=f"layers-{account}")
    content = zip_of({"nodejs/x.js": "module.exports = 1\n"})
    s3.put_object(Bucket=f"layers-{account}", Key="l.zip", Body=content)
    out = lam.publish_layer_version(
        LayerName="s3layer", Content={"S3Bucket": f"layers-{account}", "S3Key": "l.zip"}
    )
    assert out["Content"]["CodeSize"] == len(content)
    with pytest.raises(ClientError) as e:
        lam.publish_layer_version(
            LayerName="bad", Content={"ZipFile": content},
            CompatibleRuntimes=["python3.12"], CompatibleArchitectures=["sparc"],
        )
    assert error(e)[0] == "ValidationException"


def test_layer_version_policies_and_cross_account_use(nephos, account):
    lam = nephos.client("lambda", account=account)
    other_account = new_account()
    other = nephos.client("lambda", account=other_account)
    content = zip_of({"python/shared.py": "Y = 2\n"})
    arn = lam.publish_layer_version(LayerName="shared", Content={"ZipFile": content})["LayerVersionArn"]
    with pytest.raises(ClientError) as e:
        lam.get_layer_version_policy(LayerName="shared", VersionNumber=1)
    assert error(e)[1] == "No policy is associated with the given resource."
    # Another account cannot use the layer until the policy grants it.
    with pytest.raises(ClientError):
        other.get_layer_version_by_arn(Arn=arn)
    added = lam.add_layer_version_permission(
        LayerName="shared", VersionNumber=1, StatementId="s1",
        Action="lambda:GetLayerVersion", Principal=other_account,
    )
    assert json.loads(added["Statement"])["Principal"] == {"AWS": f"arn:aws:iam::{other_account}:root"}
    assert other.get_layer_version_by_arn(Arn=arn)["Version"] == 1
    create(other, "consumer", Layers=[arn])
    with pytest.raises(ClientError) as e:
        lam.add_layer_version_permission(
            LayerName="shared", VersionNumber=1, StatementId="s1",
            Action="lambda:GetLayerVersion", Principal="*",
        )
    assert error(e)[0] == "ResourceConflictException"
    with pytest.raises(ClientError) as e:
        lam.add_layer_version_permission(
            LayerName="shared", VersionNumber=1, StatementId="s2",
            Action="lambda:GetLayerVersion", Principal="*", RevisionId="wrong",
        )
    assert error(e)[0] == "PreconditionFailedException"
    policy = lam.get_layer_version_policy(LayerName="shared", VersionNumber=1)
    assert policy["RevisionId"] == added["RevisionId"]
    assert [s["Sid"] for s in json.loads(policy["Policy"])["Statement"]] == ["s1"]
    lam.remove_layer_version_permission(LayerName="shared", VersionNumber=1, StatementId="s1")
    with pytest.raises(ClientError) as e:
        lam.remove_layer_version_permission(LayerName="shared", VersionNumber=2, StatementId="s1")
    assert error(e)[1] == f"Layer version arn:aws:lambda:us-east-1:{account}:layer:shared:2 does not exist."


def test_layers_survive_restart(start_nephos, tmp_path):
    server = start_nephos("--data-dir", str(tmp_path), "--quiet")
    account = new_account()
    lam = server.client("lambda", account=account)
    arn = lam.publish_layer_version(LayerName="kept", Content={"ZipFile": zip_of({"a": "b"})})["LayerVersionArn"]
    csc = lam.create_code_signing_config(
        AllowedPublishers={"SigningProfileVersionArns": ["arn:aws:signer:us-east-1:000000000000:/signing-profiles/p"]}
    )["CodeSigningConfig"]["CodeSigningConfigArn"]
    server.stop()
    server.start()
    lam = server.client("lambda", account=account)
    assert lam.get_layer_version_by_arn(Arn=arn)["Version"] == 1
    assert lam.get_code_signing_config(CodeSigningConfigArn=csc)["CodeSigningConfig"]["CodeSigningConfigArn"] == csc
    assert lam.publish_layer_version(LayerName="kept", Content={"ZipFile": zip_of({"a": "c"})})["Version"] == 2


# ---- event invoke configs ---------------------------------------------------------------


def test_event_invoke_config_lifecycle(lam, account):
    create(lam, "eic")
    create(lam, "dest")
    lam.publish_version(FunctionName="eic")
    lam.create_alias(FunctionName="eic", Name="live", FunctionVersion="1")
    with pytest.raises(ClientError) as e:
        lam.put_function_event_invoke_config(FunctionName="eic")
    assert error(e)[1] == "You must specify at least one of error handling or destination setting."
    with pytest.raises(ClientError) as e:
        lam.put_function_event_invoke_config(FunctionName="ghost", MaximumRetryAttempts=1)
    assert error(e) == ("ResourceNotFoundException", "The function doesn't exist.")
    self_arn = f"arn:aws:lambda:us-east-1:{account}:function:eic"
    with pytest.raises(ClientError) as e:
        lam.put_function_event_invoke_config(
            FunctionName="eic", DestinationConfig={"OnSuccess": {"Destination": self_arn}}
        )
    assert error(e)[1] == "You can't specify the function as a destination for itself."
    with pytest.raises(ClientError) as e:
        lam.put_function_event_invoke_config(
            FunctionName="eic",
            DestinationConfig={"OnSuccess": {"Destination": f"arn:aws:iam:us-east-1:{account}:function:x"}},
        )
    assert "is invalid" in error(e)[1]
    dest = f"arn:aws:lambda:us-east-1:{account}:function:dest"
    out = lam.put_function_event_invoke_config(
        FunctionName="eic", MaximumRetryAttempts=0, DestinationConfig={"OnFailure": {"Destination": dest}}
    )
    assert out["FunctionArn"] == f"{self_arn}:$LATEST"
    assert out["DestinationConfig"] == {"OnSuccess": {}, "OnFailure": {"Destination": dest}}
    assert "MaximumEventAgeInSeconds" not in out
    # Update changes only what it names; Put replaces everything.
    up = lam.update_function_event_invoke_config(FunctionName="eic", MaximumEventAgeInSeconds=60)
    assert (up["MaximumRetryAttempts"], up["MaximumEventAgeInSeconds"]) == (0, 60)
    assert up["DestinationConfig"]["OnFailure"] == {"Destination": dest}
    put = lam.put_function_event_invoke_config(FunctionName="eic", MaximumRetryAttempts=2)
    assert "MaximumEventAgeInSeconds" not in put and put["DestinationConfig"]["OnFailure"] == {}
    lam.put_function_event_invoke_config(FunctionName="eic", Qualifier="1", MaximumRetryAttempts=1)
    lam.put_function_event_invoke_config(FunctionName="eic:live", MaximumRetryAttempts=1)
    listed = lam.list_function_event_invoke_configs(FunctionName="eic")["FunctionEventInvokeConfigs"]
    assert [c["FunctionArn"].rsplit(":", 1)[1] for c in listed] == ["$LATEST", "1", "live"]
    with pytest.raises(ClientError) as e:
        lam.put_function_event_invoke_config(FunctionName="eic:live", Qualifier="1", MaximumRetryAttempts=1)
    assert error(e)[1] == "The derived qualifier from the function name does not match the specified qualifier."
    # Deleting the alias takes its config with it.
    lam.delete_alias(FunctionName="eic", Name="live")
    with pytest.raises(ClientError) as e:
        lam.get_function_event_invoke_config(FunctionName="eic", Qualifier="live")
    assert error(e)[1] == f"The function {self_arn}:live doesn't have an EventInvokeConfig"
    lam.delete_function_event_invoke_config(FunctionName="eic")
    with pytest.raises(ClientError) as e:
        lam.delete_function_event_invoke_config(FunctionName="eic")
    assert error(e)[0] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        lam.list_function_event_invoke_configs(FunctionName="ghost")
    assert error(e)[1] == "The function doesn't exist."


# ---- function URLs ----------------------------------------------------------------------


def test_function_url_lifecycle(nephos, lam, account):
    create(lam, "urlfn")
    lam.publish_version(FunctionName="urlfn")
    lam.create_alias(FunctionName="urlfn", Name="live", FunctionVersion="1")
    with pytest.raises(ClientError) as e:
        lam.create_function_url_config(FunctionName="ghost", AuthType="NONE")
    assert error(e) == ("ResourceNotFoundException", "Function does not exist")
    with pytest.raises(ClientError) as e:
        lam.create_function_url_config(FunctionName="urlfn", Qualifier="1", AuthType="NONE")
    assert error(e)[0] == "ValidationException"
    out = lam.create_function_url_config(
        FunctionName="urlfn", AuthType="NONE", Cors={"AllowOrigins": ["*"], "MaxAge": 10}
    )
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 201
    port = nephos.endpoint.rsplit(":", 1)[1]
    assert re.fullmatch(rf"http://[a-z0-9]{{32}}\.lambda-url\.us-east-1\.localhost:{port}/", out["FunctionUrl"])
    assert out["FunctionArn"] == f"arn:aws:lambda:us-east-1:{account}:function:urlfn"
    assert out["Cors"] == {"AllowOrigins": ["*"], "MaxAge": 10}
    assert "InvokeMode" not in out
    with pytest.raises(ClientError) as e:
        lam.create_function_url_config(FunctionName="urlfn", AuthType="NONE")
    assert error(e)[0] == "ResourceConflictException"
    alias = lam.create_function_url_config(FunctionName="urlfn", Qualifier="live", AuthType="AWS_IAM")
    assert alias["FunctionUrl"] != out["FunctionUrl"]
    got = lam.get_function_url_config(FunctionName="urlfn")
    assert got["InvokeMode"] == "BUFFERED" and "LastModifiedTime" in got
    up = lam.update_function_url_config(FunctionName="urlfn", AuthType="AWS_IAM")
    assert up["AuthType"] == "AWS_IAM" and up["FunctionUrl"] == out["FunctionUrl"]
    listed = lam.list_function_url_configs(FunctionName="urlfn")["FunctionUrlConfigs"]
    assert [c["FunctionArn"].split(":")[-1] for c in listed] == ["urlfn", "live"]
    lam.delete_function_url_config(FunctionName="urlfn")
    with pytest.raises(ClientError) as e:
        lam.get_function_url_config(FunctionName="urlfn")
    assert error(e) == ("ResourceNotFoundException", "The resource you requested does not exist.")
    assert lam.get_function_url_config(FunctionName="urlfn", Qualifier="live")["AuthType"] == "AWS_IAM"


# ---- provisioned concurrency ------------------------------------------------------------


def test_provisioned_concurrency_lifecycle(lam, account):
    create(lam, "prov")
    lam.publish_version(FunctionName="prov")
    lam.create_alias(FunctionName="prov", Name="live", FunctionVersion="1")
    with pytest.raises(ClientError) as e:
        lam.put_provisioned_concurrency_config(
            FunctionName="prov", Qualifier="$LATEST", ProvisionedConcurrentExecutions=1
        )
    assert error(e)[1] == "Provisioned Concurrency Configs cannot be applied to unpublished function versions."
    with pytest.raises(ClientError) as e:
        lam.get_provisioned_concurrency_config(FunctionName="prov", Qualifier="nope")
    assert error(e)[1] == f"Cannot find alias arn: arn:aws:lambda:us-east-1:{account}:function:prov:nope"
    with pytest.raises(ClientError) as e:
        lam.get_provisioned_concurrency_config(FunctionName="prov", Qualifier="1")
    assert error(e)[0] == "ProvisionedConcurrencyConfigNotFoundException"
    out = lam.put_provisioned_concurrency_config(
        FunctionName="prov", Qualifier="1", ProvisionedConcurrentExecutions=2
    )
    assert out["Status"] == "IN_PROGRESS" and out["RequestedProvisionedConcurrentExecutions"] == 2
    # The environments start in the background, as on AWS: IN_PROGRESS, then READY.
    for _ in range(200):
        got = lam.get_provisioned_concurrency_config(FunctionName="prov", Qualifier="1")
        if got["Status"] == "READY":
            break
        assert got["Status"] == "IN_PROGRESS" and got["AllocatedProvisionedConcurrentExecutions"] == 0
        time.sleep(0.05)
    assert got["Status"] == "READY" and got["AllocatedProvisionedConcurrentExecutions"] == 2
    with pytest.raises(ClientError) as e:
        lam.put_provisioned_concurrency_config(
            FunctionName="prov", Qualifier="live", ProvisionedConcurrentExecutions=1
        )
    assert error(e)[0] == "ResourceConflictException"
    with pytest.raises(ClientError) as e:
        lam.put_function_concurrency(FunctionName="prov", ReservedConcurrentExecutions=1)
    assert "should not be lower than function's total provisioned concurrency [2]" in error(e)[1]
    listed = lam.list_provisioned_concurrency_configs(FunctionName="prov")["ProvisionedConcurrencyConfigs"]
    assert [c["FunctionArn"] for c in listed] == [f"arn:aws:lambda:us-east-1:{account}:function:prov:1"]
    lam.delete_provisioned_concurrency_config(FunctionName="prov", Qualifier="1")
    assert lam.list_provisioned_concurrency_configs(FunctionName="prov")["ProvisionedConcurrencyConfigs"] == []


# ---- code signing, recursion, runtime management ----------------------------------------


def test_code_signing_configs(lam, account):
    create(lam, "signed")
    profile = f"arn:aws:signer:us-east-1:{account}:/signing-profiles/p"
    csc = lam.create_code_signing_config(
        Description="d", AllowedPublishers={"SigningProfileVersionArns": [profile]},
        CodeSigningPolicies={"UntrustedArtifactOnDeployment": "Enforce"},
    )["CodeSigningConfig"]
    assert re.fullmatch(r"csc-[a-z0-9]{17}", csc["CodeSigningConfigId"])
    arn = csc["CodeSigningConfigArn"]
    up = lam.update_code_signing_config(
        CodeSigningConfigArn=arn, CodeSigningPolicies={"UntrustedArtifactOnDeployment": "Warn"}
    )["CodeSigningConfig"]
    assert up["CodeSigningPolicies"] == {"UntrustedArtifactOnDeployment": "Warn"}
    assert up["Description"] == "d"
    assert lam.get_function_code_signing_config(FunctionName="signed").get("CodeSigningConfigArn") is None
    put = lam.put_function_code_signing_config(FunctionName="signed", CodeSigningConfigArn=arn)
    assert put["FunctionName"] == "signed"
    assert lam.list_functions_by_code_signing_config(CodeSigningConfigArn=arn)["FunctionArns"] == [
        f"arn:aws:lambda:us-east-1:{account}:function:signed"
    ]
    assert [c["CodeSigningConfigArn"] for c in lam.list_code_signing_configs()["CodeSigningConfigs"]] == [arn]
    missing = f"arn:aws:lambda:us-east-1:{account}:code-signing-config:csc-0000000000000000a"
    with pytest.raises(ClientError) as e:
        lam.put_function_code_signing_config(FunctionName="signed", CodeSigningConfigArn=missing)
    assert error(e)[0] == "CodeSigningConfigNotFoundException"
    with pytest.raises(ClientError) as e:
        lam.get_code_signing_config(CodeSigningConfigArn=missing)
    assert error(e) == (
        "ResourceNotFoundException",
        f"The Lambda code signing configuration {missing} can not be found.",
    )
    assert "Type" not in e.value.response
    lam.delete_function_code_signing_config(FunctionName="signed")
    assert lam.list_functions_by_code_signing_config(CodeSigningConfigArn=arn)["FunctionArns"] == []
    lam.delete_code_signing_config(CodeSigningConfigArn=arn)
    assert lam.list_code_signing_configs()["CodeSigningConfigs"] == []


def test_recursion_and_runtime_management(lam, account):
    create(lam, "rec")
    assert lam.get_function_recursion_config(FunctionName="rec")["RecursiveLoop"] == "Terminate"
    assert lam.put_function_recursion_config(FunctionName="rec", RecursiveLoop="Allow")["RecursiveLoop"] == "Allow"
    assert lam.get_function_recursion_config(FunctionName="rec")["RecursiveLoop"] == "Allow"
    got = lam.get_runtime_management_config(FunctionName="rec")
    assert got["UpdateRuntimeOn"] == "Auto"
    runtime_arn = "arn:aws:lambda:us-east-1::runtime:abc"
    put = lam.put_runtime_management_config(
        FunctionName="rec", UpdateRuntimeOn="Manual", RuntimeVersionArn=runtime_arn
    )
    assert (put["UpdateRuntimeOn"], put["RuntimeVersionArn"]) == ("Manual", runtime_arn)
    assert lam.get_runtime_management_config(FunctionName="rec")["RuntimeVersionArn"] == runtime_arn
    with pytest.raises(ClientError) as e:
        lam.put_runtime_management_config(FunctionName="rec", UpdateRuntimeOn="Manual")
    assert error(e)[0] == "InvalidParameterValueException"
    with pytest.raises(ClientError) as e:
        lam.get_function_recursion_config(FunctionName="ghost")
    assert error(e)[0] == "ResourceNotFoundException"


def test_invoke_async_runs_the_function(lam, tmp_path):
    out_file = tmp_path / "event.json"
    code = (
        "import json\n"
        "def handler(event, context):\n"
        f"    open({str(out_file)!r}, 'w').write(json.dumps(event))\n"
    )
    lam.create_function(
        FunctionName="async", Runtime="python3.12", Role=ROLE, Handler="index.handler",
        Code={"ZipFile": zip_of({"index.py": code})},
    )
    wait_active(lam, "async")
    out = lam.invoke_async(FunctionName="async", InvokeArgs=b'{"hello": "world"}')
    assert out["Status"] == 202
    for _ in range(300):
        if out_file.exists() and out_file.read_text():
            assert json.loads(out_file.read_text()) == {"hello": "world"}
            return
        time.sleep(0.1)
    raise AssertionError("the asynchronous invocation never ran")


def test_cross_account_access_through_resource_policies(nephos, account):
    owner = nephos.client("lambda", account=account)
    other_account = new_account()
    other = nephos.client("lambda", account=other_account)
    arn = create(owner, "shared-fn")["FunctionArn"]
    # Without a grant, the other account does not see the function.
    with pytest.raises(ClientError) as e:
        other.get_function(FunctionName=arn)
    assert error(e)[0] == "ResourceNotFoundException"
    owner.add_permission(
        FunctionName="shared-fn", StatementId="x", Principal=other_account, Action="lambda:GetFunction"
    )
    assert other.get_function(FunctionName=arn)["Configuration"]["FunctionArn"] == arn
    # The grant names one action: others stay closed.
    with pytest.raises(ClientError):
        other.publish_version(FunctionName=arn)
    owner.add_permission(
        FunctionName="shared-fn", StatementId="all", Principal=other_account, Action="lambda:*"
    )
    other.create_alias(FunctionName=arn, Name="theirs", FunctionVersion="$LATEST")
    assert owner.get_alias(FunctionName="shared-fn", Name="theirs")["FunctionVersion"] == "$LATEST"
    # Layers: GetLayerVersion by layer ARN once the layer version's policy allows it.
    layer = owner.publish_layer_version(LayerName="xl", Content={"ZipFile": zip_of({"a": "b"})})
    with pytest.raises(ClientError):
        other.get_layer_version(LayerName=layer["LayerArn"], VersionNumber=1)
    owner.add_layer_version_permission(
        LayerName="xl", VersionNumber=1, StatementId="s", Action="lambda:GetLayerVersion", Principal="*"
    )
    got = other.get_layer_version(LayerName=layer["LayerArn"], VersionNumber=1)
    assert got["LayerVersionArn"] == layer["LayerVersionArn"]


def test_unknown_runtimes_are_refused_in_lambdas_words(lam):
    """Lambda names the runtimes it accepts (AWS's answer, recorded in LocalStack's
    suite), not the model's enum, which lists retired runtimes too."""
    accepted = (
        "[nodejs20.x, python3.14, provided.al2023, python3.12, python3.13, nodejs24.x, nodejs22.x, "
        "java25, python3.10, python3.11, java21, ruby3.3, ruby3.4, ruby3.2, python3.8, python3.9, "
        "java17, nodejs16.x, dotnet10, dotnet8, java11, dotnet6, nodejs18.x, provided.al2, java8.al2]"
    )
    create(lam, "rt")
    for runtime in ("non-existent-runtime", "PYTHON3.9"):
        expected = (
            "InvalidParameterValueException",
            f"Value {runtime} at 'runtime' failed to satisfy constraint: Member must satisfy enum "
            f"value set: {accepted} or be a valid ARN",
        )
        with pytest.raises(ClientError) as e:
            lam.create_function(FunctionName="rt2", Runtime=runtime, Role=ROLE, Handler="index.handler",
                                Code={"ZipFile": zip_of({"index.py": HANDLER})})
        assert error(e) == expected
        with pytest.raises(ClientError) as e:
            lam.update_function_configuration(FunctionName="rt", Runtime=runtime)
        assert error(e) == expected
