//! The AWS managed policy catalogue (`arn:aws:iam::aws:policy/...`), vendored as data.
//!
//! `services/iam/data/aws-managed-policies.json.gz` is written by `data/refresh.py` from a
//! pinned moto wheel (Apache-2.0, `data/LICENSE.moto`): AWS's own documents, never retyped.
//! It is embedded in the binary and parsed the first time IAM asks for a managed policy, so
//! start-up and idle memory pay nothing for it.

use serde::Deserialize;
use std::io::Read;
use std::sync::LazyLock;

/// One AWS managed policy, as GetPolicy and GetPolicyVersion describe it.
#[derive(Debug, Clone)]
pub struct ManagedPolicy {
    pub name: String,
    pub arn: String,
    pub path: String,
    pub description: String,
    /// The default version's id (`v3`).
    pub version_id: String,
    /// The default version's document, as JSON text.
    pub document: String,
    /// Unix milliseconds.
    pub create_date: i64,
    pub update_date: i64,
}

static GZ: &[u8] = include_bytes!("../data/aws-managed-policies.json.gz");

/// The file's records, as refresh.py writes them.
#[derive(Deserialize)]
struct Record {
    name: String,
    path: String,
    arn: String,
    version: String,
    created: i64,
    updated: i64,
    #[serde(default)]
    description: String,
    document: String,
}

static POLICIES: LazyLock<Vec<ManagedPolicy>> = LazyLock::new(|| {
    let mut json = Vec::with_capacity(GZ.len() * 8);
    flate2::read::GzDecoder::new(GZ)
        .read_to_end(&mut json)
        .expect("vendored aws-managed-policies.json.gz is corrupt");
    let records: Vec<Record> =
        serde_json::from_slice(&json).expect("vendored aws-managed-policies.json.gz is corrupt");
    let mut policies: Vec<ManagedPolicy> = records
        .into_iter()
        .map(|r| ManagedPolicy {
            name: r.name,
            arn: r.arn,
            path: r.path,
            description: r.description,
            version_id: r.version,
            document: r.document,
            create_date: r.created,
            update_date: r.updated,
        })
        .collect();
    // refresh.py sorts already; sorting again keeps `get`'s binary search right whatever
    // wrote the file.
    policies.sort_by(|a, b| a.arn.cmp(&b.arn));
    policies
});

/// Every AWS managed policy, sorted by ARN.
pub fn all() -> &'static [ManagedPolicy] {
    POLICIES.as_slice()
}

/// The AWS managed policy with this ARN.
pub fn get(arn: &str) -> Option<&'static ManagedPolicy> {
    // Only `arn:aws:iam::aws:policy/...` can match: answer other ARNs (every customer
    // managed policy) without loading the catalogue.
    if !arn.starts_with("arn:aws:iam::aws:policy/") {
        return None;
    }
    let all = all();
    all.binary_search_by(|p| p.arn.as_str().cmp(arn))
        .ok()
        .map(|i| &all[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policies_developers_attach_are_there() {
        for (name, path) in [
            ("AdministratorAccess", "/"),
            ("PowerUserAccess", "/"),
            ("ReadOnlyAccess", "/"),
            ("AWSLambdaBasicExecutionRole", "/service-role/"),
            ("AWSLambdaSQSQueueExecutionRole", "/service-role/"),
            ("AWSLambdaDynamoDBExecutionRole", "/service-role/"),
            ("AWSLambdaKinesisExecutionRole", "/service-role/"),
            ("AWSLambdaVPCAccessExecutionRole", "/service-role/"),
            ("AWSLambdaRole", "/service-role/"),
            ("AWSXRayDaemonWriteAccess", "/"),
            ("AmazonS3FullAccess", "/"),
            ("AmazonS3ReadOnlyAccess", "/"),
            ("AmazonDynamoDBFullAccess", "/"),
            ("AmazonSQSFullAccess", "/"),
            ("AmazonSNSFullAccess", "/"),
            ("AWSLambda_FullAccess", "/"),
            ("CloudWatchLogsFullAccess", "/"),
            ("AWSCloudFormationFullAccess", "/"),
            ("AWSStepFunctionsFullAccess", "/"),
            ("IAMFullAccess", "/"),
        ] {
            let arn = format!("arn:aws:iam::aws:policy{path}{name}");
            let p = get(&arn).unwrap_or_else(|| panic!("{arn}"));
            assert_eq!((p.name.as_str(), p.path.as_str()), (name, path));
            assert!(p.version_id.starts_with('v'), "{name}");
            assert!(p.create_date > 1_400_000_000_000, "{name}");
            assert!(p.update_date >= p.create_date, "{name}");
        }
        let admin = get("arn:aws:iam::aws:policy/AdministratorAccess").unwrap();
        let doc: serde_json::Value = serde_json::from_str(&admin.document).unwrap();
        assert_eq!(doc["Version"], "2012-10-17");
        assert_eq!(doc["Statement"][0]["Effect"], "Allow");
        assert_eq!(doc["Statement"][0]["Action"], "*");
        assert_eq!(doc["Statement"][0]["Resource"], "*");
        let basic = get("arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")
            .expect("service-role policies are addressed by their path");
        assert!(basic.document.contains("logs:PutLogEvents"));
    }

    #[test]
    fn every_kind_of_path_is_there_and_every_document_is_json() {
        let all = all();
        assert!(all.len() > 1000, "{} policies", all.len());
        for prefix in ["/service-role/", "/aws-service-role/", "/job-function/"] {
            assert!(all.iter().any(|p| p.path == prefix), "{prefix}");
        }
        for w in all.windows(2) {
            assert!(w[0].arn < w[1].arn, "sorted and unique: {}", w[1].arn);
        }
        for p in all {
            let doc: serde_json::Value =
                serde_json::from_str(&p.document).unwrap_or_else(|e| panic!("{}: {e}", p.arn));
            assert!(doc.get("Statement").is_some(), "{}", p.arn);
            assert!(p.arn.starts_with("arn:aws:iam::aws:policy/"), "{}", p.arn);
            assert!(get(&p.arn).is_some_and(|q| std::ptr::eq(p, q)));
        }
    }

    #[test]
    fn unknown_and_customer_arns_are_not_managed_policies() {
        assert!(get("arn:aws:iam::aws:policy/NoSuchPolicy").is_none());
        assert!(get("arn:aws:iam::123456789012:policy/AdministratorAccess").is_none());
        assert!(get("AdministratorAccess").is_none());
    }
}
