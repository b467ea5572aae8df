//! The routing index: per service, what a request must look like to belong to it.

use serde::Deserialize;
use std::collections::HashMap;
use std::sync::OnceLock;

/// One service's routing facts, as `models/refresh.py` derived them from its model.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceEntry {
    /// botocore service name (`s3`, `dynamodbstreams`).
    pub name: String,
    pub service_id: String,
    pub api_version: String,
    /// Protocol names in the model's order of preference.
    pub protocols: Vec<String>,
    pub endpoint_prefix: String,
    /// The SigV4 credential-scope service name clients sign with.
    pub signing_name: String,
    /// Global services (IAM, Route 53, CloudFront) keep one state per account, not per region.
    pub global: bool,
    pub target_prefix: Option<String>,
    pub json_version: Option<String>,
    #[serde(default)]
    pub aws_query_compatible: bool,
    /// Operation names, for services reachable through the query protocols (`Action=`).
    #[serde(default)]
    pub actions: Vec<String>,
    /// Literal leading parts of the request URIs of rest services.
    #[serde(default)]
    pub rest_prefixes: Vec<String>,
}

/// All services' routing facts.
#[derive(Debug, Deserialize)]
pub struct Index {
    pub botocore: String,
    pub services: Vec<ServiceEntry>,
    #[serde(skip)]
    by_name: HashMap<String, usize>,
}

impl Index {
    pub fn get(&self, name: &str) -> Option<&ServiceEntry> {
        self.by_name.get(name).map(|&i| &self.services[i])
    }
}

/// The routing index of the vendored models, parsed on first use.
pub fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut index: Index = serde_json::from_str(crate::embedded::INDEX_JSON)
            .expect("models/index.json is corrupt");
        index.by_name = index
            .services
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.clone(), i))
            .collect();
        index
    })
}
