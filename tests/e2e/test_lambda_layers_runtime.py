"""Layers reach the running function where each runtime looks for /opt content."""

import io
import json
import zipfile


def zipped(files):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return buf.getvalue()


def test_python_and_node_functions_import_from_their_layers(nephos, account):
    lam = nephos.client("lambda", account=account)
    base = lam.publish_layer_version(
        LayerName="shared",
        Content={"ZipFile": zipped({
            "python/greet.py": "def hello():\n    return 'from layer 1'\n",
            "python/only_first.py": "VALUE = 'first'\n",
            "nodejs/node_modules/greet/index.js": "exports.hello = () => 'node layer';\n",
        })},
    )["LayerVersionArn"]
    override = lam.publish_layer_version(
        LayerName="override",
        Content={"ZipFile": zipped({"python/greet.py": "def hello():\n    return 'from layer 2'\n"})},
    )["LayerVersionArn"]
    role = f"arn:aws:iam::{account}:role/layers"
    lam.create_function(
        FunctionName="py", Runtime="python3.12", Role=role, Handler="app.handler",
        Layers=[base, override],
        Code={"ZipFile": zipped({"app.py": "import greet, only_first\ndef handler(e, c):\n    return [greet.hello(), only_first.VALUE]\n"})},
    )
    lam.create_function(
        FunctionName="node", Runtime="nodejs20.x", Role=role, Handler="index.handler",
        Layers=[base],
        Code={"ZipFile": zipped({"index.js": "const g = require('greet');\nexports.handler = async () => g.hello();\n"})},
    )
    for name in ("py", "node"):
        lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.2})
    # The later layer wins where both have a file, as when AWS unpacks them into /opt.
    assert json.loads(lam.invoke(FunctionName="py")["Payload"].read()) == ["from layer 2", "first"]
    assert json.loads(lam.invoke(FunctionName="node")["Payload"].read()) == "node layer"


def test_exec_wrapper_from_a_layer_starts_the_runtime(nephos, account):
    """AWS_LAMBDA_EXEC_WRAPPER names a script (here from a layer, at /opt/...) that the
    managed runtime starts through, with the runtime's command as its arguments."""
    from lambdautil import invoke, wait_active, zip_bytes

    lam = nephos.client("lambda", account=account)
    layer = lam.publish_layer_version(
        LayerName="wrapper",
        Content={"ZipFile": zip_bytes({
            "wrap.sh": ('#!/bin/sh\nexport WRAPPED="by wrap.sh with $# arguments"\nexec "$@"\n', 0o755),
        })},
    )["LayerVersionArn"]
    role = f"arn:aws:iam::{account}:role/wrapped"
    code = {"index.py": "import os\ndef handler(e, c):\n    return os.environ.get('WRAPPED')\n"}
    for name, wrapper in (("wrapped", "/opt/wrap.sh"), ("plain", None), ("missing", "/opt/nope.sh")):
        env = {"Variables": {"AWS_LAMBDA_EXEC_WRAPPER": wrapper}} if wrapper else {}
        lam.create_function(
            FunctionName=name, Runtime="python3.12", Role=role, Handler="index.handler",
            Layers=[layer], Code={"ZipFile": zip_bytes(code)}, Environment=env,
        )
        wait_active(lam, name)
    out, _ = invoke(lam, "wrapped")
    assert out.startswith("by wrap.sh with ") and out != "by wrap.sh with 0 arguments", out
    assert invoke(lam, "plain")[0] is None
    out, r = invoke(lam, "missing")
    assert r["FunctionError"] == "Unhandled"
    assert out["errorType"] == "Runtime.InvalidEntrypoint", out
    assert out["errorMessage"].endswith("Error: fork/exec /opt/nope.sh: no such file or directory"), out
