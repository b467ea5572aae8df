#!/usr/bin/env python3
"""Writes seed inputs for the fuzz targets into fuzz/corpus/<target>/ (git-ignored).

Valid requests get a fuzzer past operation resolution and into the deep parsers within
seconds instead of minutes; libFuzzer mutates from there. Each seed follows its target's
input layout (see README.md). Run from anywhere: `python3 fuzz/seeds.py`.
"""

import base64
import hashlib
import hmac
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
SIGV4_SUITE = os.path.join(HERE, "..", "..", "..", "shared", "aws-sigv4-tests")
# Methods as nephos_fuzz::method picks them from one byte.
POST, GET, PUT, DELETE, HEAD = 0, 2, 3, 4, 5


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def http(method, target, headers=(), body=b""):
    """The restjson/restxml layout: method byte, target line, header lines, blank, body."""
    if isinstance(body, str):
        body = body.encode()
    head = target + "\n" + "".join(f"{k}: {v}\n" for k, v in headers) + "\n"
    return bytes([method]) + head.encode() + body


# --- query / ec2 -------------------------------------------------------------------------

QUERY = {
    "assume-role": "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fr"
    "&RoleSessionName=s&DurationSeconds=900&Tags.member.1.Key=k&Tags.member.1.Value=v"
    "&PolicyArns.member.1.arn=arn%3Aaws%3Aiam%3A%3Aaws%3Apolicy%2FReadOnly&TransitiveTagKeys.member.1=k",
    "caller": "Action=GetCallerIdentity&Version=2011-06-15",
    "session": "Action=GetSessionToken&Version=2011-06-15&DurationSeconds=3600&SerialNumber=arn%3Aaws%3Aiam%3A%3A1%3Amfa%2Fu&TokenCode=123456",
    "federation": "Action=GetFederationToken&Version=2011-06-15&Name=bob&Policy=%7B%22Version%22%3A%222012-10-17%22%7D",
    "web-identity": "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fr&RoleSessionName=s&WebIdentityToken=eyJ0",
    "decode": "Action=DecodeAuthorizationMessage&Version=2011-06-15&EncodedMessage=abc",
}

EC2 = {
    "run": "Action=RunInstances&Version=2016-11-15&ImageId=ami-12345678&MinCount=1&MaxCount=2&InstanceType=t3.micro"
    "&TagSpecification.1.ResourceType=instance&TagSpecification.1.Tag.1.Key=Name&TagSpecification.1.Tag.1.Value=x"
    "&BlockDeviceMapping.1.DeviceName=%2Fdev%2Fsda1&BlockDeviceMapping.1.Ebs.VolumeSize=8&SecurityGroupId.1=sg-1",
    "describe": "Action=DescribeInstances&Version=2016-11-15&Filter.1.Name=instance-state-name&Filter.1.Value.1=running"
    "&Filter.1.Value.2=stopped&InstanceId.1=i-1&MaxResults=5&NextToken=t",
    "sg": "Action=AuthorizeSecurityGroupIngress&Version=2016-11-15&GroupId=sg-1&IpPermissions.1.IpProtocol=tcp"
    "&IpPermissions.1.FromPort=22&IpPermissions.1.ToPort=22&IpPermissions.1.IpRanges.1.CidrIp=0.0.0.0%2F0",
    "tags": "Action=CreateTags&Version=2016-11-15&ResourceId.1=i-1&ResourceId.2=vol-1&Tag.1.Key=a&Tag.1.Value=b",
    "vpc": "Action=CreateVpc&Version=2016-11-15&CidrBlock=10.0.0.0%2F16&AmazonProvidedIpv6CidrBlock=true",
    "spot": "Action=RequestSpotInstances&Version=2016-11-15&SpotPrice=0.05&InstanceCount=1"
    "&ValidUntil=2030-01-01T00%3A00%3A00Z&LaunchSpecification.ImageId=ami-1",
}

# --- json (dynamodb) ---------------------------------------------------------------------

S, N = {"S": "a"}, {"N": "1"}
DYNAMO = [
    (0, {"TableName": "t", "Key": {"pk": S, "sk": N}, "ConsistentRead": True, "ProjectionExpression": "#a",
         "ExpressionAttributeNames": {"#a": "a"}}),
    (1, {"TableName": "t", "Item": {"pk": S, "b": {"B": base64.b64encode(b"\x00\x01").decode()}, "t": {"BOOL": True},
                                    "z": {"NULL": True}, "l": {"L": [S, N]}, "m": {"M": {"x": S}}, "ss": {"SS": ["a", "b"]},
                                    "ns": {"NS": ["1", "2.5"]}, "bs": {"BS": ["AAE="]}},
         "ConditionExpression": "attribute_not_exists(pk)", "ReturnValues": "ALL_OLD"}),
    (2, {"TableName": "t", "Key": {"pk": S}, "UpdateExpression": "SET a = :v", "ExpressionAttributeValues": {":v": N},
         "ReturnValues": "UPDATED_NEW"}),
    (3, {"TableName": "t", "KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": S}, "Limit": 10,
         "ExclusiveStartKey": {"pk": S}, "ScanIndexForward": False, "IndexName": "gsi1", "Select": "COUNT"}),
    (4, {"TableName": "t", "Segment": 0, "TotalSegments": 4, "FilterExpression": "a > :v",
         "ExpressionAttributeValues": {":v": N}}),
    (5, {"RequestItems": {"t": [{"PutRequest": {"Item": {"pk": S}}}, {"DeleteRequest": {"Key": {"pk": S}}}]}}),
    (6, {"RequestItems": {"t": {"Keys": [{"pk": S}], "ConsistentRead": True}}}),
    (7, {"TransactItems": [{"Put": {"TableName": "t", "Item": {"pk": S}}},
                           {"ConditionCheck": {"TableName": "t", "Key": {"pk": S}, "ConditionExpression": "x"}}],
         "ClientRequestToken": "tok"}),
    (8, {"TableName": "t", "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
         "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
         "ProvisionedThroughput": {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}, "BillingMode": "PROVISIONED",
         "GlobalSecondaryIndexes": [{"IndexName": "g", "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                                     "Projection": {"ProjectionType": "ALL"}}],
         "Tags": [{"Key": "k", "Value": "v"}], "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"}}),
    (9, {"Statement": "SELECT * FROM t WHERE pk = ?", "Parameters": [S], "Limit": 3}),
]

# --- restjson (lambda) -------------------------------------------------------------------

LAMBDA = {
    "create": http(POST, "/2015-03-31/functions", [("Content-Type", "application/json")], json.dumps({
        "FunctionName": "f", "Runtime": "python3.12", "Role": "arn:aws:iam::123456789012:role/r", "Handler": "h.h",
        "Code": {"ZipFile": base64.b64encode(b"PK\x03\x04").decode()}, "Timeout": 3, "MemorySize": 128,
        "Environment": {"Variables": {"A": "b"}}, "Tags": {"k": "v"}, "Layers": ["arn:aws:lambda:us-east-1:1:layer:l:1"],
        "Architectures": ["arm64"], "EphemeralStorage": {"Size": 512}})),
    "invoke": http(POST, "/2015-03-31/functions/my-fn/invocations?Qualifier=1",
                   [("X-Amz-Invocation-Type", "Event"), ("X-Amz-Log-Type", "Tail"), ("X-Amz-Client-Context", "e30=")],
                   b'{"hello": "world"}'),
    "list": http(GET, "/2015-03-31/functions/?Marker=x&MaxItems=10&FunctionVersion=ALL&MasterRegion=us-east-1"),
    "get": http(GET, "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A1%3Afunction%3Af?Qualifier=%24LATEST"),
    "code": http(PUT, "/2015-03-31/functions/f/code", [], json.dumps({"S3Bucket": "b", "S3Key": "k", "Publish": True})),
    "remove-permission": http(DELETE, "/2015-03-31/functions/f/policy/sid?Qualifier=1&RevisionId=r"),
    "tag": http(POST, "/2017-03-31/tags/arn:aws:lambda:us-east-1:1:function:f", [], '{"Tags":{"a":"b"}}'),
    "esm": http(POST, "/2015-03-31/event-source-mappings/", [], json.dumps({
        "FunctionName": "f", "EventSourceArn": "arn:aws:sqs:us-east-1:1:q", "BatchSize": 10,
        "StartingPosition": "AT_TIMESTAMP", "StartingPositionTimestamp": 1700000000.5,
        "FilterCriteria": {"Filters": [{"Pattern": "{}"}]}})),
    "concurrency": http(PUT, "/2017-10-31/functions/f/concurrency", [], '{"ReservedConcurrentExecutions": 5}'),
    "permission": http(POST, "/2015-03-31/functions/f/policy", [], json.dumps({
        "StatementId": "s", "Action": "lambda:InvokeFunction", "Principal": "s3.amazonaws.com"})),
}

# --- restxml (s3) ------------------------------------------------------------------------

S3 = {
    "put-object": http(PUT, "/bucket/dir/key.txt", [
        ("Content-Type", "text/plain"), ("x-amz-meta-foo", "bar"), ("Content-MD5", "XrY7u+Ae7tCTyyK7j1rNww=="),
        ("Expires", "Thu, 01 Dec 1994 16:00:00 GMT"), ("x-amz-tagging", "a=b&c=d"), ("x-amz-object-lock-retain-until-date", "2030-01-01T00:00:00Z"),
        ("x-amz-server-side-encryption", "AES256")], b"hello world"),
    "tagging": http(PUT, "/bucket?tagging", [],
                    "<Tagging xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><TagSet><Tag><Key>k</Key><Value>v</Value></Tag></TagSet></Tagging>"),
    "delete": http(POST, "/bucket?delete", [],
                   "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Delete><Object><Key>a&amp;b</Key><VersionId>1</VersionId></Object><Quiet>true</Quiet></Delete>"),
    "complete": http(POST, "/bucket/key?uploadId=abc", [],
                     "<CompleteMultipartUpload><Part><ETag>\"e\"</ETag><PartNumber>1</PartNumber></Part><Part><ETag>f</ETag><PartNumber>2</PartNumber></Part></CompleteMultipartUpload>"),
    "list": http(GET, "/bucket?list-type=2&prefix=a%2F&max-keys=10&start-after=x&fetch-owner=true&encoding-type=url"),
    "get-object": http(GET, "/bucket/a/b%20c?partNumber=1&versionId=v&response-expires=Thu%2C%2001%20Dec%201994%2016%3A00%3A00%20GMT", [
        ("Range", "bytes=0-9"), ("If-Modified-Since", "Sat, 29 Oct 1994 19:43:31 GMT"), ("If-None-Match", "\"etag\"")]),
    "create-bucket": http(PUT, "/bucket", [("x-amz-acl", "private"), ("x-amz-bucket-object-lock-enabled", "true")],
                          "<CreateBucketConfiguration><LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>"),
    "lifecycle": http(PUT, "/bucket?lifecycle", [],
                      "<LifecycleConfiguration><Rule><ID>r</ID><Filter><Prefix>p</Prefix></Filter><Status>Enabled</Status>"
                      "<Expiration><Date>2030-01-01T00:00:00.000Z</Date></Expiration><Transition><Days>30</Days>"
                      "<StorageClass>GLACIER</StorageClass></Transition></Rule></LifecycleConfiguration>"),
    "acl": http(PUT, "/bucket/key?acl", [],
                "<AccessControlPolicy xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"><AccessControlList><Grant>"
                "<Grantee xsi:type=\"CanonicalUser\"><ID>id</ID></Grantee><Permission>READ</Permission></Grant>"
                "</AccessControlList><Owner><ID>o</ID></Owner></AccessControlPolicy>"),
    "copy": http(PUT, "/bucket/key", [("x-amz-copy-source", "/src/k%3Fversion"), ("x-amz-metadata-directive", "REPLACE"),
                                      ("x-amz-copy-source-if-unmodified-since", "Sat, 29 Oct 1994 19:43:31 GMT")]),
    "upload-part": http(PUT, "/bucket/key?partNumber=3&uploadId=u", [("Content-Length", "3")], b"abc"),
}

# --- cbor (cloudwatch) -------------------------------------------------------------------


class Tag:
    def __init__(self, tag, value):
        self.tag, self.value = tag, value


def cbor(v):
    def head(major, n):
        if n < 24:
            return bytes([major << 5 | n])
        for extra, fmt in ((24, ">B"), (25, ">H"), (26, ">I"), (27, ">Q")):
            if n < 1 << (8 * struct.calcsize(fmt)):
                return bytes([major << 5 | extra]) + struct.pack(fmt, n)
        raise ValueError(n)

    if v is None:
        return b"\xf6"
    if v is True:
        return b"\xf5"
    if v is False:
        return b"\xf4"
    if isinstance(v, int):
        return head(0, v) if v >= 0 else head(1, -1 - v)
    if isinstance(v, float):
        return b"\xfb" + struct.pack(">d", v)
    if isinstance(v, bytes):
        return head(2, len(v)) + v
    if isinstance(v, str):
        b = v.encode()
        return head(3, len(b)) + b
    if isinstance(v, list):
        return head(4, len(v)) + b"".join(cbor(x) for x in v)
    if isinstance(v, dict):
        return head(5, len(v)) + b"".join(cbor(k) + cbor(x) for k, x in v.items())
    if isinstance(v, Tag):
        return head(6, v.tag) + cbor(v.value)
    raise TypeError(v)


TS = Tag(1, 1700000000.25)
CLOUDWATCH = [
    (0, {"Namespace": "ns", "MetricData": [{"MetricName": "m", "Dimensions": [{"Name": "d", "Value": "v"}],
                                             "Timestamp": TS, "Value": 1.5, "Unit": "Seconds", "Values": [1.0, 2.0],
                                             "Counts": [1.0, 3.0], "StorageResolution": 1,
                                             "StatisticValues": {"SampleCount": 2.0, "Sum": 3.0, "Minimum": 1.0, "Maximum": 2.0}}]}),
    (1, {"MetricDataQueries": [{"Id": "q", "MetricStat": {"Metric": {"Namespace": "ns", "MetricName": "m"}, "Period": 60,
                                                             "Stat": "Average"}, "ReturnData": True}],
         "StartTime": TS, "EndTime": Tag(1, 1700003600), "MaxDatapoints": 100, "ScanBy": "TimestampDescending"}),
    (2, {"Namespace": "ns", "MetricName": "m", "StartTime": TS, "EndTime": TS, "Period": 60,
         "Statistics": ["Sum", "Maximum"], "ExtendedStatistics": ["p99"]}),
    (3, {"AlarmName": "a", "EvaluationPeriods": 1, "ComparisonOperator": "GreaterThanThreshold", "Threshold": 1.0,
         "MetricName": "m", "Namespace": "ns", "Period": 60, "Statistic": "Average", "ActionsEnabled": True,
         "AlarmActions": ["arn:aws:sns:us-east-1:1:t"], "Tags": [{"Key": "k", "Value": "v"}]}),
    (4, {"AlarmNames": ["a", "b"], "StateValue": "ALARM", "MaxRecords": 10, "AlarmTypes": ["MetricAlarm"]}),
    (5, {"Namespace": "ns", "Dimensions": [{"Name": "d"}], "RecentlyActive": "PT3H"}),
    (6, {"DashboardName": "d", "DashboardBody": "{\"widgets\":[]}"}),
]

# --- xml ---------------------------------------------------------------------------------

XML = {
    "ns": "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<a:Root xmlns:a=\"urn:x\" xmlns=\"urn:y\" a:attr=\"1 &amp; 2\">"
          "<member><key>k</key><value>v&#x41;&#65;</value></member><!-- c --><b><![CDATA[<raw>]]></b><e/></a:Root>",
    "entities": "<r>&lt;&gt;&amp;&quot;&apos;<x y='&lt;'>t</x></r>",
    "deep": "<a>" * 40 + "x" + "</a>" * 40,
    "pi": "<?xml version=\"1.0\"?><!DOCTYPE r><?pi data?><r>\r\n  text  \r\n</r>",
}

# --- sigv4 -------------------------------------------------------------------------------


def sigv4_seeds():
    seeds = {}
    if os.path.isdir(SIGV4_SUITE):
        for case in sorted(os.listdir(SIGV4_SUITE)):
            path = os.path.join(SIGV4_SUITE, case, case + ".sreq")
            if not os.path.exists(path):
                continue
            text = open(path, "rb").read().replace(b"\r\n", b"\n")
            head = text.split(b"\n\n", 1)[0].split(b"\n")
            method, target = head[0].split(b" ")[0], head[0].split(b" ")[1]
            authz, headers = b"", []
            for line in head[1:]:
                if line.lower().startswith(b"authorization:"):
                    authz = line.split(b":", 1)[1].strip()
                else:
                    headers.append(line)
            m = {b"GET": GET, b"POST": POST}.get(method, POST)
            seeds[case] = bytes([m]) + authz + b"\n" + target + b"\n" + b"\n".join(headers) + b"\n"
    cred = "AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fs3%2Faws4_request"
    seeds["presigned"] = bytes([GET]) + (
        "\n/bucket/key?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=" + cred +
        "&X-Amz-Date=20150830T123600Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
        "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404\n"
        "Host: bucket.s3.amazonaws.com\n").encode()
    seeds["s3-chunked"] = bytes([PUT]) + (
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/s3/aws4_request,"
        "SignedHeaders=content-encoding;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length,"
        "Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9\n/bucket/key\n"
        "x-amz-date: 20150830T123600Z\nx-amz-content-sha256: STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER\n"
        "content-encoding: aws-chunked\nx-amz-decoded-content-length: 5\nx-amz-trailer: x-amz-checksum-crc32\n").encode()
    seeds["sigv2"] = bytes([GET]) + b"AWS AKIDEXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=\n/bucket/key\nDate: Sun, 30 Aug 2015 12:36:00 GMT\n"
    seeds["sigv2-query"] = bytes([GET]) + b"\n/bucket/key?AWSAccessKeyId=AKID&Signature=abc%3D&Expires=1440938160\n"
    return seeds


def chunked_seeds():
    """Valid aws-chunked bodies signed the way the sigv4_chunked target's ChunkSigning is."""

    def h(key, msg):
        return hmac.new(key, msg.encode(), hashlib.sha256).digest()

    key = h(h(h(h(b"AWS4wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20130524"), "us-east-1"), "s3"), "aws4_request")
    date, scope = "20130524T000000Z", "20130524/us-east-1/s3/aws4_request"
    empty = hashlib.sha256(b"").hexdigest()
    prev = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"

    def chunk(data, prev):
        sts = f"AWS4-HMAC-SHA256-PAYLOAD\n{date}\n{scope}\n{prev}\n{empty}\n{hashlib.sha256(data).hexdigest()}"
        sig = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
        return f"{len(data):x};chunk-signature={sig}\r\n".encode() + data + b"\r\n", sig

    body, sig = b"", prev
    for data in (b"hello", b" world", b""):
        c, sig = chunk(data, sig)
        body += c
    signed = body
    trailers = "x-amz-checksum-crc32:DUoRhQ==\n"
    sts = f"AWS4-HMAC-SHA256-TRAILER\n{date}\n{scope}\n{sig}\n{hashlib.sha256(trailers.encode()).hexdigest()}"
    tsig = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
    with_trailer = body[:-2] + f"x-amz-checksum-crc32:DUoRhQ==\r\nx-amz-trailer-signature:{tsig}\r\n\r\n".encode()
    unsigned = b"5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n"
    # byte 0: split point, byte 1: bit 0 = check decoded length, bits 1.. = that length.
    return {
        "signed": bytes([128, 0]) + signed,
        "signed-len": bytes([40, 1 | 11 << 1]) + signed,
        "trailer": bytes([200, 0]) + with_trailer,
        "unsigned": bytes([100, 1 | 11 << 1]) + unsigned,
    }


DYNAMO_EXPRESSIONS = [
    "a = :s AND #b < :n",
    "SET a = a + :n, #b = list_append(if_not_exists(l, :s), :s) REMOVE c[1]",
    "attribute_exists(a.b[2]) OR NOT begins_with(#a, :s)",
    "a BETWEEN :n AND :n",
    "x IN (:s, :n) AND size(#a) > :n",
    "ADD n :n DELETE s :s",
    "a, #b.c[3], d",
    "-1.5E+10",
]

PARTIQL = [
    'SELECT * FROM "t"."i" WHERE pk = ? AND n BETWEEN 1 AND 2',
    "INSERT INTO t VALUE {'a': ?, 'b': <<1, 2>>, 'c': [true, null, {'x': -1.5e3}]}",
    "UPDATE t SET a = a + 1 REMOVE b WHERE pk = 'x' AND sk = ?",
    "DELETE FROM t WHERE pk = 'a' OR begins_with(x, 'y')",
    "SELECT a.b[1], c FROM t WHERE x IS NOT MISSING AND y IN ['a', 'b']",
]


LOGS_PATTERNS = [
    "",
    "ERROR Exception",
    '?ERROR ?WARN -"debug mode"',
    "%ERR(OR)?-[0-9]+%",
    '{ $.a = 1 && ($.b != "x*" || $.c IS NULL) }',
    "{ $.c[1].d NOT EXISTS || $.e IS TRUE }",
    "[ip, id, user, ..., status = 4* || status = 5*, bytes > 1000]",
    "fields @timestamp, @message | filter @message like /ERROR/ | sort @timestamp desc | limit 20",
    "stats count(*) as n, avg(x) by bin(5m) | sort n desc",
    'parse @message "* [*] *" as a, b, c | display b',
]


def main():
    for name, body in QUERY.items():
        write("query_parse", name, body)
    for name, body in EC2.items():
        write("ec2_parse", name, body)
    for pick, body in DYNAMO:
        write("json_parse", str(pick), bytes([pick]) + json.dumps(body).encode())
    for name, data in LAMBDA.items():
        write("restjson_parse", name, data)
    for name, data in S3.items():
        write("restxml_parse", name, data)
    for pick, body in CLOUDWATCH:
        write("cbor_parse", str(pick), bytes([pick]) + cbor(body))
        write("cbor_decode", str(pick), cbor(body))
    for name, doc in XML.items():
        write("xml_reader", name, doc)
    for name, data in S3.items():
        # The XML payloads of the S3 seeds are good documents too.
        body = data.split(b"\n\n", 1)[1]
        if body.startswith(b"<"):
            write("xml_reader", "s3-" + name, body)
    for name, data in sigv4_seeds().items():
        write("sigv4_authorization", name, data)
    for name, data in chunked_seeds().items():
        write("sigv4_chunked", name, data)
    for i, src in enumerate(DYNAMO_EXPRESSIONS):
        write("dynamodb_expressions", str(i), src.encode())
    for i, src in enumerate(PARTIQL):
        write("dynamodb_partiql", str(i), src.encode())
    for i, src in enumerate(LOGS_PATTERNS):
        write("logs_filter_pattern", str(i), src.encode())
    for i, (kind, doc) in enumerate(POLICIES):
        write("policy_document", str(i), bytes([kind]) + json.dumps(doc).encode())


# (policy kind byte: 0 identity, 1 resource, 2 trust, 3 boundary, 4 session; document)
POLICIES = [
    (0, {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
                                                 "Resource": "arn:aws:s3:::b/${aws:username}/*"}]}),
    (0, {"Version": "2012-10-17", "Statement": {"Sid": "a", "Effect": "Deny", "NotAction": ["iam:*"],
                                                "NotResource": "*",
                                                "Condition": {"ForAnyValue:StringLike": {"aws:TagKeys": ["a*"]},
                                                              "IpAddress": {"aws:SourceIp": "10.0.0.0/8"},
                                                              "DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"},
                                                              "NumericLessThanEquals": {"s3:max-keys": "10"},
                                                              "BoolIfExists": {"aws:MultiFactorAuthPresent": "true"},
                                                              "Null": {"aws:ResourceTag/x": "false"}}}}),
    (1, {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": ["111111111111", "*"]},
                                                 "Action": "sqs:*", "Resource": "*",
                                                 "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:*:t"}}}]}),
    (2, {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                 "Action": "sts:AssumeRole"}]}),
    (2, {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Federated": "arn:aws:iam::1:oidc-provider/x"},
                                                 "Action": "sts:AssumeRoleWithWebIdentity",
                                                 "Condition": {"StringEquals": {"x:aud": "a"}}}]}),
    (3, {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}),
    (4, {"Version": "2008-10-17", "Statement": [{"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "${*}"}]}),
]


if __name__ == "__main__":
    main()
