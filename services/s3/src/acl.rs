//! Access control lists (canned and explicit grants, on buckets and objects), Block
//! Public Access settings and object ownership controls, and how they take part in
//! authorization. Objects are owned by their bucket's owner.

use crate::S3Provider;
use crate::errors;
use crate::store::{Bucket, T_OBJECTS, canonical_id, owner_value};
use nephos_core::{AwsError, RequestContext, Value};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

pub const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";
pub const AUTHENTICATED_USERS: &str = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers";
pub const LOG_DELIVERY: &str = "http://acs.amazonaws.com/groups/s3/LogDelivery";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Grantee {
    /// The owner of the resource (the bucket owner, for objects too).
    Owner,
    User(String),
    Group(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Grant {
    pub grantee: Grantee,
    pub permission: String,
}

fn grant(grantee: Grantee, permission: &str) -> Grant {
    Grant {
        grantee,
        permission: permission.to_owned(),
    }
}

pub fn private() -> Vec<Grant> {
    vec![grant(Grantee::Owner, "FULL_CONTROL")]
}

/// The grants of a canned ACL.
pub fn canned(name: &str) -> Result<Vec<Grant>, AwsError> {
    let mut g = private();
    match name {
        "private" | "bucket-owner-read" | "bucket-owner-full-control" => {}
        "public-read" => g.push(grant(Grantee::Group(ALL_USERS.into()), "READ")),
        "public-read-write" => {
            g.push(grant(Grantee::Group(ALL_USERS.into()), "READ"));
            g.push(grant(Grantee::Group(ALL_USERS.into()), "WRITE"));
        }
        "authenticated-read" => g.push(grant(Grantee::Group(AUTHENTICATED_USERS.into()), "READ")),
        "log-delivery-write" => {
            g.push(grant(Grantee::Group(LOG_DELIVERY.into()), "WRITE"));
            g.push(grant(Grantee::Group(LOG_DELIVERY.into()), "READ_ACP"));
        }
        "aws-exec-read" => {}
        _ => return Err(errors::invalid_arg("", "x-amz-acl", Some(name))),
    }
    Ok(g)
}

const GRANT_HEADERS: [(&str, &str, &str); 5] = [
    (
        "GrantFullControl",
        "FULL_CONTROL",
        "x-amz-grant-full-control",
    ),
    ("GrantRead", "READ", "x-amz-grant-read"),
    ("GrantReadACP", "READ_ACP", "x-amz-grant-read-acp"),
    ("GrantWrite", "WRITE", "x-amz-grant-write"),
    ("GrantWriteACP", "WRITE_ACP", "x-amz-grant-write-acp"),
];

const PERMISSIONS: [&str; 5] = ["FULL_CONTROL", "READ", "READ_ACP", "WRITE", "WRITE_ACP"];

/// The groups S3 knows; any other group URI is refused.
const GROUPS: [&str; 3] = [ALL_USERS, AUTHENTICATED_USERS, LOG_DELIVERY];

/// A canonical user id: 64 lower-case hex digits.
fn valid_canonical_id(id: &str) -> bool {
    id.len() == 64
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// `name` is how S3 names the argument: `id`/`uri` for grant headers,
/// `CanonicalUser/ID`/`Group/URI` for an AccessControlPolicy body.
fn user_grantee(id: &str, name: &str) -> Result<Grantee, AwsError> {
    if !valid_canonical_id(id) {
        return Err(errors::invalid_arg("Invalid id", name, Some(id)));
    }
    Ok(Grantee::User(id.to_owned()))
}

fn group_grantee(uri: &str, name: &str) -> Result<Grantee, AwsError> {
    if !GROUPS.contains(&uri) {
        return Err(errors::invalid_arg("Invalid group uri", name, Some(uri)));
    }
    Ok(Grantee::Group(uri.to_owned()))
}

fn unresolvable_email() -> AwsError {
    AwsError::new(
        400,
        "UnresolvableGrantByEmailAddress",
        "The e-mail address you provided does not match any account on record.",
    )
}

/// One `kind=value` item of an `x-amz-grant-*` header (`header`, whose whole value is
/// `full`).
fn parse_grantee(item: &str, header: &str, full: &str) -> Result<Grantee, AwsError> {
    let unknown = || errors::invalid_arg("Argument format not recognized", header, Some(full));
    let (kind, value) = item.split_once('=').ok_or_else(unknown)?;
    let value = value.trim().trim_matches('"');
    match kind.trim().to_ascii_lowercase().as_str() {
        "id" => user_grantee(value, "id"),
        "uri" => group_grantee(value, "uri"),
        "emailaddress" => Err(unresolvable_email()),
        _ => Err(unknown()),
    }
}

fn malformed_acl() -> AwsError {
    AwsError::new(
        400,
        "MalformedACLError",
        "The XML you provided was not well-formed or did not validate against our published schema",
    )
}

/// The ACL a request sets: a canned `ACL`, `x-amz-grant-*` headers, or (for the ACL
/// operations) an `AccessControlPolicy` body; `None` when it sets none.
pub fn from_input(input: &Value) -> Result<Option<Vec<Grant>>, AwsError> {
    let headers: Vec<(&str, &str, &str)> = GRANT_HEADERS
        .iter()
        .filter_map(|(m, p, h)| input.str(m).map(|v| (v, *p, *h)))
        .collect();
    let policy = input.get("AccessControlPolicy");
    if policy.is_some() && (input.str("ACL").is_some() || !headers.is_empty()) {
        return Err(AwsError::new(
            400,
            "UnexpectedContent",
            "This request does not support content",
        ));
    }
    if let Some(name) = input.str("ACL") {
        if !headers.is_empty() {
            return Err(errors::invalid_request(
                "Specifying both Canned ACLs and Header Grants is not allowed",
            ));
        }
        return canned(name).map(Some);
    }
    if !headers.is_empty() {
        let mut out = Vec::new();
        for (value, permission, header) in headers {
            for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                out.push(grant(parse_grantee(item, header, value)?, permission));
            }
        }
        return Ok(Some(out));
    }
    let Some(policy) = policy else {
        return Ok(None);
    };
    let owner = policy
        .get("Owner")
        .and_then(|o| o.str("ID"))
        .ok_or_else(malformed_acl)?;
    let mut out = Vec::new();
    let grants = policy
        .get("Grants")
        .and_then(Value::as_list)
        .unwrap_or_default();
    for g in grants {
        let permission = g
            .str("Permission")
            .filter(|p| PERMISSIONS.contains(p))
            .ok_or_else(malformed_acl)?;
        let e = g.get("Grantee").ok_or_else(malformed_acl)?;
        let grantee = match e.str("Type") {
            Some("CanonicalUser") => {
                Grantee::User(e.str("ID").ok_or_else(malformed_acl)?.to_owned())
            }
            Some("Group") => Grantee::Group(e.str("URI").ok_or_else(malformed_acl)?.to_owned()),
            Some("AmazonCustomerByEmail") => return Err(unresolvable_email()),
            _ => return Err(malformed_acl()),
        };
        out.push(grant(grantee, permission));
    }
    // Identities are checked once the document's shape is known good.
    user_grantee(owner, "CanonicalUser/ID")?;
    for g in &out {
        match &g.grantee {
            Grantee::User(id) => {
                user_grantee(id, "CanonicalUser/ID")?;
            }
            Grantee::Group(uri) => {
                group_grantee(uri, "Group/URI")?;
            }
            Grantee::Owner => {}
        }
    }
    Ok(Some(out))
}

pub fn is_public(grants: &[Grant]) -> bool {
    grants.iter().any(
        |g| matches!(&g.grantee, Grantee::Group(u) if u == ALL_USERS || u == AUTHENTICATED_USERS),
    )
}

/// The grants as `GetBucketAcl`/`GetObjectAcl` show them.
pub fn to_value(grants: &[Grant], owner: &str) -> Value {
    let owner_id = canonical_id(owner);
    let list = grants
        .iter()
        .map(|g| {
            let grantee = match &g.grantee {
                Grantee::Owner => Value::map()
                    .with("Type", "CanonicalUser")
                    .with("ID", owner_id.as_str())
                    .with("DisplayName", owner),
                // A user grant to the owner shows the owner's name, as the owner grant does.
                Grantee::User(id) if *id == owner_id => Value::map()
                    .with("Type", "CanonicalUser")
                    .with("ID", id.as_str())
                    .with("DisplayName", owner),
                Grantee::User(id) => Value::map()
                    .with("Type", "CanonicalUser")
                    .with("ID", id.as_str()),
                Grantee::Group(uri) => Value::map().with("Type", "Group").with("URI", uri.as_str()),
            };
            Value::map()
                .with("Grantee", grantee)
                .with("Permission", g.permission.as_str())
        })
        .collect();
    Value::map()
        .with("Owner", owner_value(owner))
        .with("Grants", Value::List(list))
}

/// Whether `grants` give `permission` to the caller (`None`: anonymous).
pub fn allows(
    grants: &[Grant],
    caller: Option<&str>,
    owner: &str,
    permission: &str,
    ignore_public: bool,
) -> bool {
    let caller_id = caller.map(canonical_id);
    grants.iter().any(|g| {
        let perm_ok = g.permission == permission || g.permission == "FULL_CONTROL";
        let who = match &g.grantee {
            Grantee::Owner => caller == Some(owner),
            Grantee::User(id) => caller_id.as_deref() == Some(id.as_str()),
            Grantee::Group(u) if u == ALL_USERS => !ignore_public,
            Grantee::Group(u) if u == AUTHENTICATED_USERS => !ignore_public && caller.is_some(),
            Grantee::Group(_) => false,
        };
        perm_ok && who
    })
}

/// The ACL permission an action needs, and whether it is checked on the object.
pub fn permission_of(action: &str) -> Option<(&'static str, bool)> {
    Some(match action {
        "s3:GetObject" | "s3:GetObjectVersion" => ("READ", true),
        "s3:GetObjectAcl" => ("READ_ACP", true),
        "s3:PutObjectAcl" => ("WRITE_ACP", true),
        "s3:ListBucket" | "s3:ListBucketVersions" | "s3:ListBucketMultipartUploads" => {
            ("READ", false)
        }
        "s3:PutObject" | "s3:DeleteObject" | "s3:AbortMultipartUpload" => ("WRITE", false),
        _ => return None,
    })
}

/// Block Public Access: BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy,
/// RestrictPublicBuckets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct PublicAccessBlock {
    pub block_acls: bool,
    pub ignore_acls: bool,
    pub block_policy: bool,
    pub restrict_buckets: bool,
}

impl PublicAccessBlock {
    /// What new buckets get since April 2023: everything blocked.
    pub const ALL: PublicAccessBlock = PublicAccessBlock {
        block_acls: true,
        ignore_acls: true,
        block_policy: true,
        restrict_buckets: true,
    };

    /// Reads a `PublicAccessBlockConfiguration` (absent flags are false).
    pub fn from_value(c: Option<&Value>) -> PublicAccessBlock {
        let flag = |k: &str| c.and_then(|c| c.bool(k)).unwrap_or(false);
        PublicAccessBlock {
            block_acls: flag("BlockPublicAcls"),
            ignore_acls: flag("IgnorePublicAcls"),
            block_policy: flag("BlockPublicPolicy"),
            restrict_buckets: flag("RestrictPublicBuckets"),
        }
    }

    pub fn to_value(self) -> Value {
        Value::map()
            .with("BlockPublicAcls", self.block_acls)
            .with("IgnorePublicAcls", self.ignore_acls)
            .with("BlockPublicPolicy", self.block_policy)
            .with("RestrictPublicBuckets", self.restrict_buckets)
    }

    /// The stricter of two settings, flag by flag (bucket and account settings combine).
    pub fn or(self, o: PublicAccessBlock) -> PublicAccessBlock {
        PublicAccessBlock {
            block_acls: self.block_acls || o.block_acls,
            ignore_acls: self.ignore_acls || o.ignore_acls,
            block_policy: self.block_policy || o.block_policy,
            restrict_buckets: self.restrict_buckets || o.restrict_buckets,
        }
    }
}

pub const OWNERSHIPS: [&str; 3] = [
    "BucketOwnerEnforced",
    "BucketOwnerPreferred",
    "ObjectWriter",
];

/// Whether `grants` give anything to anyone but the owner (not allowed with ACLs off).
pub fn grants_others(grants: &[Grant]) -> bool {
    grants.iter().any(|g| g.grantee != Grantee::Owner)
}

pub fn invalid_acl_with_ownership() -> AwsError {
    AwsError::new(
        400,
        "InvalidBucketAclWithObjectOwnership",
        "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting",
    )
}

fn missing_acl() -> AwsError {
    AwsError::new(
        400,
        "MissingSecurityHeader",
        "Your request was missing a required header",
    )
    .with_field("MissingHeaderName", "x-amz-acl")
}

fn not_supported() -> AwsError {
    AwsError::new(
        400,
        "AccessControlListNotSupported",
        "The bucket does not allow ACLs",
    )
}

impl S3Provider {
    /// The Block Public Access settings in force for `b`: its own, combined with its
    /// owner's account-level ones.
    pub fn effective_pab(&self, b: &Bucket) -> PublicAccessBlock {
        let (own, owner) = {
            let m = b.meta.read().unwrap();
            (m.public_access_block.unwrap_or_default(), m.owner.clone())
        };
        own.or(self.account_pab(&owner).unwrap_or_default())
    }

    pub fn account_pab(&self, account: &str) -> Option<PublicAccessBlock> {
        self.store.account_pab.read().unwrap().get(account).copied()
    }

    /// Refuses an ACL the bucket's settings do not allow to be set.
    pub fn check_acl(&self, b: &Bucket, grants: Option<&[Grant]>) -> Result<(), AwsError> {
        let Some(grants) = grants else {
            return Ok(());
        };
        let enforced = b.meta.read().unwrap().ownership.as_deref() == Some("BucketOwnerEnforced");
        if enforced && grants_others(grants) {
            return Err(not_supported());
        }
        if self.effective_pab(b).block_acls && is_public(grants) {
            return Err(errors::access_denied());
        }
        Ok(())
    }

    pub(crate) async fn put_bucket_acl(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let b = self.owned_bucket(ctx, input.str("Bucket").unwrap_or_default())?;
        let grants = from_input(input)?.ok_or_else(missing_acl)?;
        self.check_acl(&b, Some(&grants))?;
        b.meta.write().unwrap().acl = Some(grants);
        self.save_bucket(&b).await?;
        Ok(Value::map())
    }

    pub(crate) fn get_bucket_acl(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let b = self.owned_bucket(ctx, input.str("Bucket").unwrap_or_default())?;
        let m = b.meta.read().unwrap();
        let grants = match m.ownership.as_deref() {
            Some("BucketOwnerEnforced") => private(),
            _ => m.acl.clone().unwrap_or_else(private),
        };
        Ok(to_value(&grants, &m.owner))
    }

    pub(crate) fn get_object_acl(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let key = input.str("Key").unwrap_or_default();
        let b = self.bucket_for_key(ctx, input.str("Bucket").unwrap_or_default(), Some(key))?;
        let v = self.find_version(&b, key, input.str("VersionId"))?;
        let grants = match b.meta.read().unwrap().ownership.as_deref() {
            Some("BucketOwnerEnforced") => private(),
            _ => v.meta.acl.clone().unwrap_or_else(private),
        };
        Ok(to_value(&grants, &b.owner()))
    }

    pub(crate) async fn put_object_acl(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let key = input.str("Key").unwrap_or_default();
        let b = self.bucket_for_key(ctx, input.str("Bucket").unwrap_or_default(), Some(key))?;
        let grants = from_input(input)?.ok_or_else(missing_acl)?;
        self.check_acl(&b, Some(&grants))?;
        // A delete marker has no ACL to write, current or addressed by version.
        let addressed = match input.str("VersionId") {
            Some(id) => b.version(key, id),
            None => b.latest(key),
        };
        if let Some(m) = addressed.filter(|v| v.delete_marker) {
            return Err(AwsError::new(
                405,
                "MethodNotAllowed",
                "The specified method is not allowed against this resource.",
            )
            .with_field("Method", "PUT")
            .with_field("ResourceType", "DeleteMarker")
            .with_header("x-amz-delete-marker", "true")
            .with_header("x-amz-version-id", m.version_id.as_str())
            .with_header("Allow", "DELETE"));
        }
        let v = self.find_version(&b, key, input.str("VersionId"))?;
        // Only a change of the ACL is an ObjectAcl:Put event.
        let changed = v.meta.acl.clone().unwrap_or_else(private) != grants;
        let mut updated = (*v).clone();
        updated.meta.acl = Some(grants);
        let batch = self.store.put(T_OBJECTS, updated.storage_key(), &updated);
        self.store.commit(batch).await?;
        let updated = Arc::new(updated);
        if let Some(list) = b.objects.write().unwrap().get_mut(key)
            && let Some(slot) = list.iter_mut().find(|x| x.version_id == v.version_id)
        {
            *slot = updated.clone();
        }
        if changed {
            self.notify_subresource(ctx, &b, "ObjectAcl:Put", &updated)
                .await;
        }
        Ok(Value::map())
    }

    pub(crate) async fn put_public_access_block(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let b = self.owned_bucket(ctx, input.str("Bucket").unwrap_or_default())?;
        let pab = PublicAccessBlock::from_value(input.get("PublicAccessBlockConfiguration"));
        b.meta.write().unwrap().public_access_block = Some(pab);
        self.save_bucket(&b).await?;
        Ok(Value::map())
    }

    pub(crate) fn get_public_access_block(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let name = input.str("Bucket").unwrap_or_default();
        let b = self.owned_bucket(ctx, name)?;
        let pab = b.meta.read().unwrap().public_access_block;
        let Some(p) = pab else {
            return Err(AwsError::new(
                404,
                "NoSuchPublicAccessBlockConfiguration",
                "The public access block configuration was not found",
            )
            .with_field("BucketName", name));
        };
        Ok(Value::map().with("PublicAccessBlockConfiguration", p.to_value()))
    }

    pub(crate) async fn delete_public_access_block(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        self.clear_bucket_setting(ctx, input, |m| m.public_access_block = None)
            .await
    }

    pub(crate) async fn put_ownership_controls(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let b = self.owned_bucket(ctx, input.str("Bucket").unwrap_or_default())?;
        let rules = input
            .get("OwnershipControls")
            .and_then(|c| c.get("Rules"))
            .and_then(Value::as_list)
            .unwrap_or_default();
        let [rule] = rules else {
            return Err(errors::malformed_xml());
        };
        let setting = rule
            .str("ObjectOwnership")
            .filter(|o| OWNERSHIPS.contains(o))
            .ok_or_else(errors::malformed_xml)?;
        {
            let mut m = b.meta.write().unwrap();
            // Disabling ACLs needs a bucket ACL that gives only the owner access.
            if setting == "BucketOwnerEnforced" && m.acl.as_deref().is_some_and(grants_others) {
                return Err(invalid_acl_with_ownership());
            }
            m.ownership = Some(setting.to_owned());
        }
        self.save_bucket(&b).await?;
        Ok(Value::map())
    }

    pub(crate) fn get_ownership_controls(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        let name = input.str("Bucket").unwrap_or_default();
        let b = self.owned_bucket(ctx, name)?;
        let o = b.meta.read().unwrap().ownership.clone();
        let Some(o) = o else {
            return Err(AwsError::new(
                404,
                "OwnershipControlsNotFoundError",
                "The bucket ownership controls were not found",
            )
            .with_field("BucketName", name));
        };
        Ok(Value::map().with(
            "OwnershipControls",
            Value::map().with(
                "Rules",
                Value::List(vec![Value::map().with("ObjectOwnership", o)]),
            ),
        ))
    }

    pub(crate) async fn delete_ownership_controls(
        &self,
        ctx: &RequestContext,
        input: &Value,
    ) -> Result<Value, AwsError> {
        self.clear_bucket_setting(ctx, input, |m| m.ownership = None)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canned_acls_and_evaluation() {
        let g = canned("public-read").unwrap();
        assert!(is_public(&g));
        assert!(allows(&g, None, "111111111111", "READ", false));
        assert!(!allows(&g, None, "111111111111", "READ", true));
        assert!(!allows(&g, None, "111111111111", "WRITE", false));
        assert!(allows(
            &g,
            Some("111111111111"),
            "111111111111",
            "WRITE",
            false
        ));
        let g = canned("authenticated-read").unwrap();
        assert!(!allows(&g, None, "111111111111", "READ", false));
        assert!(allows(
            &g,
            Some("222222222222"),
            "111111111111",
            "READ",
            false
        ));
        let g = vec![grant(Grantee::User(canonical_id("222222222222")), "READ")];
        assert!(allows(
            &g,
            Some("222222222222"),
            "111111111111",
            "READ",
            false
        ));
        assert!(!allows(
            &g,
            Some("333333333333"),
            "111111111111",
            "READ",
            false
        ));
        assert!(canned("bogus").is_err());
    }
}
