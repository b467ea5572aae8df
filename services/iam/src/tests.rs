//! What the provider offers the rest of nephos besides its operations: principals'
//! policies, roles for STS, issued keys as credentials, the generation counter, key use,
//! and restarts from storage.

use crate::IamProvider;
use nephos_core::{Clock, CredentialStore, Dispatcher, RequestContext, Value};
use nephos_storage::Storage;
use std::sync::Arc;

const ACCOUNT: &str = "123456789012";
const DOC: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;
const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

fn ctx(op: &str) -> RequestContext {
    let mut c = RequestContext::internal("iam", op, Arc::new(Clock::new()));
    c.account_id = ACCOUNT.to_owned();
    c.caller_arn = format!("arn:aws:iam::{ACCOUNT}:root");
    c
}

async fn call(p: &IamProvider, op: &str, input: Value) -> Value {
    try_call(p, op, input)
        .await
        .unwrap_or_else(|e| panic!("{op}: {e}"))
}

async fn try_call(p: &IamProvider, op: &str, input: Value) -> Result<Value, nephos_core::AwsError> {
    use nephos_core::Provider;
    let out = p
        .handle(
            &ctx(op),
            nephos_core::Input {
                value: input,
                body: None,
            },
        )
        .await?;
    Ok(out.value)
}

fn provider(storage: Storage) -> IamProvider {
    IamProvider::new(storage, Dispatcher::new()).unwrap()
}

fn m() -> Value {
    Value::map()
}

/// A user `u` in group `g`, with an inline policy, an attached one, a group policy of
/// each kind and a boundary; a role `r` with one of each too.
async fn populate(p: &IamProvider) -> String {
    call(
        p,
        "CreatePolicy",
        m().with("PolicyName", "mp").with("PolicyDocument", DOC),
    )
    .await;
    let arn = format!("arn:aws:iam::{ACCOUNT}:policy/mp");
    let u = m().with("UserName", "u");
    call(
        p,
        "CreateUser",
        u.clone().with(
            "Tags",
            Value::List(vec![m().with("Key", "team").with("Value", "x")]),
        ),
    )
    .await;
    call(
        p,
        "PutUserPolicy",
        u.clone()
            .with("PolicyName", "ui")
            .with("PolicyDocument", DOC),
    )
    .await;
    call(
        p,
        "AttachUserPolicy",
        u.clone().with("PolicyArn", arn.as_str()),
    )
    .await;
    call(
        p,
        "PutUserPermissionsBoundary",
        u.clone().with("PermissionsBoundary", arn.as_str()),
    )
    .await;
    call(p, "CreateGroup", m().with("GroupName", "g")).await;
    call(p, "AddUserToGroup", u.clone().with("GroupName", "g")).await;
    call(
        p,
        "PutGroupPolicy",
        m().with("GroupName", "g")
            .with("PolicyName", "gi")
            .with("PolicyDocument", DOC),
    )
    .await;
    call(
        p,
        "AttachGroupPolicy",
        m().with("GroupName", "g").with("PolicyArn", arn.as_str()),
    )
    .await;
    let r = m().with("RoleName", "r");
    call(
        p,
        "CreateRole",
        r.clone()
            .with("AssumeRolePolicyDocument", TRUST)
            .with("MaxSessionDuration", 7200i64),
    )
    .await;
    call(
        p,
        "PutRolePolicy",
        r.clone()
            .with("PolicyName", "ri")
            .with("PolicyDocument", DOC),
    )
    .await;
    call(p, "AttachRolePolicy", r.with("PolicyArn", arn.as_str())).await;
    arn
}

#[tokio::test]
async fn principals_have_their_policies() {
    let p = provider(Storage::ephemeral());
    let arn = populate(&p).await;
    let user = p
        .principal_policies(&format!("arn:aws:iam::{ACCOUNT}:user/u"))
        .unwrap();
    let sources: Vec<&str> = user.identity.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(
        sources,
        ["user/u/ui", arn.as_str(), "group/g/gi", arn.as_str()]
    );
    assert!(user.identity.iter().all(|(_, d)| d == DOC));
    assert_eq!(user.boundary, Some((arn.clone(), DOC.to_owned())));
    assert_eq!(user.tags, [("team".to_owned(), "x".to_owned())]);
    assert_eq!(user.user_name.as_deref(), Some("u"));
    assert!(user.id.starts_with("AIDA"));
    let role = p
        .principal_policies(&format!("arn:aws:iam::{ACCOUNT}:role/r"))
        .unwrap();
    let sources: Vec<&str> = role.identity.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(sources, ["role/r/ri", arn.as_str()]);
    assert!(role.id.starts_with("AROA") && role.user_name.is_none());
    // A wrong path or an unknown principal has none.
    assert!(
        p.principal_policies(&format!("arn:aws:iam::{ACCOUNT}:user/x/u"))
            .is_none()
    );
    assert!(
        p.principal_policies(&format!("arn:aws:iam::{ACCOUNT}:role/none"))
            .is_none()
    );
}

#[tokio::test]
async fn roles_are_described_for_sts() {
    let p = provider(Storage::ephemeral());
    populate(&p).await;
    let arn = format!("arn:aws:iam::{ACCOUNT}:role/r");
    let info = p.role_of(ACCOUNT, &arn).unwrap();
    assert_eq!((info.name.as_str(), info.path.as_str()), ("r", "/"));
    assert_eq!(info.max_session_duration, 7200);
    assert_eq!(info.trust_policy, TRUST);
    let got = call(&p, "GetRole", m().with("RoleName", "r")).await;
    assert_eq!(
        got.get("Role").unwrap().str("RoleId"),
        Some(info.id.as_str())
    );
    assert!(
        p.role_of(ACCOUNT, "arn:aws:iam::123456789012:role/other")
            .is_none()
    );
    p.note_role_use(&arn, "eu-west-1", 1_700_000_000_000);
    let used = call(&p, "GetRole", m().with("RoleName", "r")).await;
    let last = used.get("Role").unwrap().get("RoleLastUsed").unwrap();
    assert_eq!(last.str("Region"), Some("eu-west-1"));
}

#[tokio::test]
async fn active_keys_are_credentials_of_their_user() {
    let p = provider(Storage::ephemeral());
    let user = call(
        &p,
        "CreateUser",
        m().with("UserName", "k").with("Path", "/p/"),
    )
    .await;
    let user_id = user.get("User").unwrap().str("UserId").unwrap().to_owned();
    let key = call(&p, "CreateAccessKey", m().with("UserName", "k")).await;
    let key = key.get("AccessKey").unwrap();
    let id = key.str("AccessKeyId").unwrap();
    let cred = p.lookup(id).unwrap();
    assert_eq!(cred.secret_access_key, key.str("SecretAccessKey").unwrap());
    assert_eq!(cred.account_id, ACCOUNT);
    assert_eq!(
        cred.principal_arn,
        format!("arn:aws:iam::{ACCOUNT}:user/p/k")
    );
    assert_eq!(cred.user_id, user_id);
    assert!(cred.session.is_none() && cred.expires_at_ms.is_none() && cred.session_token.is_none());
    assert!(!p.revoked(id));
    let k = || m().with("UserName", "k").with("AccessKeyId", id);
    call(&p, "UpdateAccessKey", k().with("Status", "Inactive")).await;
    assert!(p.lookup(id).is_none());
    assert!(p.revoked(id));
    call(&p, "UpdateAccessKey", k().with("Status", "Active")).await;
    assert!(p.lookup(id).is_some());
    assert!(!p.revoked(id));
    // A renamed user's key acts as the renamed user.
    call(
        &p,
        "UpdateUser",
        m().with("UserName", "k").with("NewUserName", "k2"),
    )
    .await;
    assert_eq!(
        p.lookup(id).unwrap().principal_arn,
        format!("arn:aws:iam::{ACCOUNT}:user/p/k2")
    );
    call(
        &p,
        "DeleteAccessKey",
        m().with("UserName", "k2").with("AccessKeyId", id),
    )
    .await;
    assert!(p.lookup(id).is_none());
    assert!(p.revoked(id));
    assert!(p.lookup("AKIANOTAKEYATALL0000").is_none());
    assert!(!p.revoked("AKIANOTAKEYATALL0000"));
}

#[tokio::test]
async fn deleted_and_inactive_keys_stay_revoked_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let key = |v: &Value| {
        v.get("AccessKey")
            .unwrap()
            .str("AccessKeyId")
            .unwrap()
            .to_owned()
    };
    let (gone, off, root_gone) = {
        let p = provider(Storage::open(dir.path()).unwrap());
        call(&p, "CreateUser", m().with("UserName", "u")).await;
        let gone = key(&call(&p, "CreateAccessKey", m().with("UserName", "u")).await);
        let off = key(&call(&p, "CreateAccessKey", m().with("UserName", "u")).await);
        let root_gone = key(&call(&p, "CreateAccessKey", m()).await);
        let u = || m().with("UserName", "u");
        call(
            &p,
            "DeleteAccessKey",
            u().with("AccessKeyId", gone.as_str()),
        )
        .await;
        call(
            &p,
            "UpdateAccessKey",
            u().with("AccessKeyId", off.as_str())
                .with("Status", "Inactive"),
        )
        .await;
        call(
            &p,
            "DeleteAccessKey",
            m().with("AccessKeyId", root_gone.as_str()),
        )
        .await;
        // A deleted key has no use to note, and noting it changes nothing.
        p.note_key_use(&gone, "s3", "us-east-1", 1_700_000_000_000);
        (gone, off, root_gone)
    };
    let p = provider(Storage::open(dir.path()).unwrap());
    for k in [&gone, &off, &root_gone] {
        assert!(p.lookup(k).is_none(), "{k} is not a credential");
        assert!(p.revoked(k), "{k} is revoked");
    }
    // Deleting the user afterwards leaves its deleted keys revoked.
    call(
        &p,
        "DeleteAccessKey",
        m().with("UserName", "u").with("AccessKeyId", off.as_str()),
    )
    .await;
    call(&p, "DeleteUser", m().with("UserName", "u")).await;
    assert!(p.revoked(&off) && p.revoked(&gone));
}

#[tokio::test]
async fn the_generation_moves_with_changes_only() {
    let p = provider(Storage::ephemeral());
    let g0 = p.generation(ACCOUNT);
    call(&p, "CreateUser", m().with("UserName", "a")).await;
    let g1 = p.generation(ACCOUNT);
    assert!(g1 > g0);
    call(&p, "GetUser", m().with("UserName", "a")).await;
    call(&p, "ListUsers", m()).await;
    assert_eq!(p.generation(ACCOUNT), g1);
    call(&p, "CreateGroup", m().with("GroupName", "g")).await;
    call(
        &p,
        "AddUserToGroup",
        m().with("GroupName", "g").with("UserName", "a"),
    )
    .await;
    let g2 = p.generation(ACCOUNT);
    // Adding a member twice changes nothing.
    call(
        &p,
        "AddUserToGroup",
        m().with("GroupName", "g").with("UserName", "a"),
    )
    .await;
    assert_eq!(p.generation(ACCOUNT), g2);
    // A failed change changes nothing either.
    assert!(
        try_call(&p, "CreateUser", m().with("UserName", "A"))
            .await
            .is_err()
    );
    assert_eq!(p.generation(ACCOUNT), g2);
    call(
        &p,
        "TagUser",
        m().with("UserName", "a").with(
            "Tags",
            Value::List(vec![m().with("Key", "k").with("Value", "v")]),
        ),
    )
    .await;
    assert!(p.generation(ACCOUNT) > g2);
}

#[tokio::test]
async fn everything_comes_back_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (key_id, user_id, role_id) = {
        let p = provider(Storage::open(dir.path()).unwrap());
        populate(&p).await;
        call(
            &p,
            "CreateInstanceProfile",
            m().with("InstanceProfileName", "ip"),
        )
        .await;
        call(
            &p,
            "AddRoleToInstanceProfile",
            m().with("InstanceProfileName", "ip").with("RoleName", "r"),
        )
        .await;
        let key = call(&p, "CreateAccessKey", m().with("UserName", "u")).await;
        let key_id = key
            .get("AccessKey")
            .unwrap()
            .str("AccessKeyId")
            .unwrap()
            .to_owned();
        // A key's use is stored with the account's next change.
        p.note_key_use(&key_id, "s3", "eu-central-1", 1_700_000_000_000);
        call(&p, "CreateGroup", m().with("GroupName", "later")).await;
        let user_id = p
            .principal_policies(&format!("arn:aws:iam::{ACCOUNT}:user/u"))
            .unwrap()
            .id;
        let role_id = p
            .role_of(ACCOUNT, &format!("arn:aws:iam::{ACCOUNT}:role/r"))
            .unwrap()
            .id;
        (key_id, user_id, role_id)
    };
    let p = provider(Storage::open(dir.path()).unwrap());
    let cred = p.lookup(&key_id).unwrap();
    assert_eq!(cred.user_id, user_id);
    assert_eq!(
        p.role_of(ACCOUNT, &format!("arn:aws:iam::{ACCOUNT}:role/r"))
            .unwrap()
            .id,
        role_id
    );
    let user = p
        .principal_policies(&format!("arn:aws:iam::{ACCOUNT}:user/u"))
        .unwrap();
    assert_eq!(user.identity.len(), 4);
    let pol = call(
        &p,
        "GetPolicy",
        m().with("PolicyArn", format!("arn:aws:iam::{ACCOUNT}:policy/mp")),
    )
    .await;
    // Attached to u, g and r, and bounding u: the counts are rebuilt.
    assert_eq!(pol.get("Policy").unwrap().int("AttachmentCount"), Some(3));
    assert_eq!(
        pol.get("Policy")
            .unwrap()
            .int("PermissionsBoundaryUsageCount"),
        Some(1)
    );
    let used = call(
        &p,
        "GetAccessKeyLastUsed",
        m().with("AccessKeyId", key_id.as_str()),
    )
    .await;
    assert_eq!(
        used.get("AccessKeyLastUsed").unwrap().str("ServiceName"),
        Some("s3")
    );
    let ip = call(
        &p,
        "GetInstanceProfile",
        m().with("InstanceProfileName", "ip"),
    )
    .await;
    assert_eq!(
        ip.get("InstanceProfile")
            .unwrap()
            .get("Roles")
            .unwrap()
            .as_list()
            .unwrap()
            .len(),
        1
    );
    // Deletions are stored too.
    call(&p, "DeleteGroup", m().with("GroupName", "later")).await;
    drop(p);
    let p = provider(Storage::open(dir.path()).unwrap());
    assert!(
        try_call(&p, "GetGroup", m().with("GroupName", "later"))
            .await
            .is_err()
    );
}

fn code_of(r: Result<Value, nephos_core::AwsError>) -> (String, String) {
    let e = r.expect_err("an error");
    (e.code.to_string(), e.message.to_string())
}

#[tokio::test]
async fn a_renamed_user_keeps_its_login_profile_and_credentials_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let cred_id = {
        let p = provider(Storage::open(dir.path()).unwrap());
        call(&p, "CreateUser", m().with("UserName", "Old")).await;
        // The extras find the user whatever case it is named in, and keep the stored name.
        call(
            &p,
            "CreateLoginProfile",
            m().with("UserName", "OLD")
                .with("Password", "Aa1!aaaaaaaaaaaa"),
        )
        .await;
        let got = call(&p, "GetLoginProfile", m().with("UserName", "old")).await;
        assert_eq!(
            got.get("LoginProfile").unwrap().str("UserName"),
            Some("Old")
        );
        let cred = call(
            &p,
            "CreateServiceSpecificCredential",
            m().with("UserName", "old")
                .with("ServiceName", "codecommit.amazonaws.com"),
        )
        .await;
        let cred_id = cred
            .get("ServiceSpecificCredential")
            .unwrap()
            .str("ServiceSpecificCredentialId")
            .unwrap()
            .to_owned();
        call(
            &p,
            "UpdateUser",
            m().with("UserName", "old").with("NewUserName", "New"),
        )
        .await;
        cred_id
    };
    let p = provider(Storage::open(dir.path()).unwrap());
    let got = call(&p, "GetLoginProfile", m().with("UserName", "new")).await;
    assert_eq!(
        got.get("LoginProfile").unwrap().str("UserName"),
        Some("New")
    );
    let creds = call(
        &p,
        "ListServiceSpecificCredentials",
        m().with("UserName", "NEW"),
    )
    .await;
    let listed = creds
        .get("ServiceSpecificCredentials")
        .unwrap()
        .as_list()
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        listed[0].str("ServiceSpecificCredentialId"),
        Some(cred_id.as_str())
    );
    assert_eq!(listed[0].str("UserName"), Some("New"));
    // The old name has nothing left.
    call(&p, "CreateUser", m().with("UserName", "old")).await;
    assert_eq!(
        code_of(try_call(&p, "GetLoginProfile", m().with("UserName", "old")).await).0,
        "NoSuchEntity"
    );
    // What is left blocks DeleteUser, each with AWS's message, until it is gone.
    let delete = || m().with("UserName", "new");
    assert_eq!(
        code_of(try_call(&p, "DeleteUser", delete()).await),
        (
            "DeleteConflict".to_owned(),
            "Cannot delete entity, must delete login profile first.".to_owned()
        )
    );
    call(&p, "DeleteLoginProfile", delete()).await;
    assert_eq!(
        code_of(try_call(&p, "DeleteUser", delete()).await).1,
        "Cannot delete entity, must remove referenced objects first."
    );
    call(
        &p,
        "DeleteServiceSpecificCredential",
        delete().with("ServiceSpecificCredentialId", cred_id.as_str()),
    )
    .await;
    call(&p, "DeleteUser", delete()).await;
}

#[tokio::test]
async fn account_quotas_are_enforced() {
    let p = provider(Storage::ephemeral());
    let cases: [(&str, &str, usize, &str, Value); 5] = [
        ("CreateUser", "UserName", 5_000, "UsersPerAccount", m()),
        ("CreateGroup", "GroupName", 300, "GroupsPerAccount", m()),
        (
            "CreateRole",
            "RoleName",
            1_000,
            "RolesPerAccount",
            m().with("AssumeRolePolicyDocument", TRUST),
        ),
        (
            "CreatePolicy",
            "PolicyName",
            1_500,
            "PoliciesPerAccount",
            m().with("PolicyDocument", DOC),
        ),
        (
            "CreateInstanceProfile",
            "InstanceProfileName",
            1_000,
            "InstanceProfilesPerAccount",
            m(),
        ),
    ];
    for (op, member, quota, name, base) in cases {
        for n in 0..quota {
            call(&p, op, base.clone().with(member, format!("e{n}"))).await;
        }
        let over = try_call(&p, op, base.clone().with(member, "one-more")).await;
        assert_eq!(
            code_of(over),
            (
                "LimitExceeded".to_owned(),
                format!("Cannot exceed quota for {name}: {quota}")
            ),
            "{op}"
        );
    }
    // A service-linked role is a role too.
    let slr = try_call(
        &p,
        "CreateServiceLinkedRole",
        m().with("AWSServiceName", "autoscaling.amazonaws.com"),
    )
    .await;
    assert_eq!(
        code_of(slr).1,
        "Cannot exceed quota for RolesPerAccount: 1000"
    );
}
