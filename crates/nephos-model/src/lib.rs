//! The AWS service models nephos serves, as a shape graph the protocol engine walks.
//!
//! Models are botocore's `service-2.json` files, vendored gzipped under `models/` and
//! embedded into the binary. Nothing is parsed at start-up: [`index()`] reads the small
//! routing index on first use, and [`service()`] decompresses and parses one model the first
//! time a request for that service arrives, then keeps it for the life of the process.
//!
//! The same types load the self-contained models of AWS's protocol test suites
//! ([`ServiceModel::from_value`]), so codecs are tested against exactly what they serve.

mod index;
mod shape;

pub use index::{Index, ServiceEntry, index};
pub use shape::{
    Derived, ErrorTrait, Http, Metadata, Operation, Protocol, ServiceModel, Shape, ShapeRef,
    ShapeType, TimestampFormat, XmlNamespace,
};

use std::io::Read;
use std::sync::OnceLock;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
}

/// Names of every vendored service model (botocore names such as `s3`, `dynamodb`).
pub fn service_names() -> impl Iterator<Item = &'static str> {
    embedded::EMBEDDED.iter().map(|(name, _)| *name)
}

/// The parsed model of a vendored service, loaded on first use.
///
/// Returns `None` for a service that is not vendored.
pub fn service(name: &str) -> Option<&'static ServiceModel> {
    // One slot per embedded model, found by binary search (the list is sorted): the hot
    // path of every request takes no lock once a model is loaded.
    static SLOTS: [OnceLock<ServiceModel>; embedded::COUNT] =
        [const { OnceLock::new() }; embedded::COUNT];
    let i = embedded::EMBEDDED
        .binary_search_by(|(n, _)| (*n).cmp(name))
        .ok()?;
    let gz = embedded::EMBEDDED[i].1;
    Some(SLOTS[i].get_or_init(|| {
        parse_gz(gz).unwrap_or_else(|e| panic!("vendored model {name} is corrupt: {e}"))
    }))
}

fn parse_gz(gz: &[u8]) -> Result<ServiceModel, String> {
    let mut json = Vec::with_capacity(gz.len() * 8);
    flate2::read::GzDecoder::new(gz)
        .read_to_end(&mut json)
        .map_err(|e| e.to_string())?;
    ServiceModel::from_slice(&json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_vendored_model_parses_and_is_indexed() {
        let index = index();
        for name in service_names() {
            let model = service(name).unwrap();
            assert!(!model.operations.is_empty(), "{name} has no operations");
            let entry = index
                .get(name)
                .unwrap_or_else(|| panic!("{name} missing from index"));
            assert_eq!(entry.api_version, model.metadata.api_version);
            for op in model.operations.values() {
                if let Some(input) = &op.input {
                    assert!(
                        model.shapes.contains_key(&input.shape),
                        "{name}.{}",
                        op.name
                    );
                }
            }
        }
    }

    #[test]
    fn sts_is_query() {
        let sts = service("sts").unwrap();
        assert_eq!(sts.protocols(), vec![Protocol::Query]);
        assert!(sts.operations.contains_key("GetCallerIdentity"));
    }
}
