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
    ErrorTrait, Http, Metadata, Operation, Protocol, ServiceModel, Shape, ShapeRef, ShapeType,
    TimestampFormat, XmlNamespace,
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
        let mut model =
            parse_gz(gz).unwrap_or_else(|e| panic!("vendored model {name} is corrupt: {e}"));
        restore_query_errors(name, &mut model);
        model
    }))
}

/// SQS moved from query to JSON before SDKs supported several protocols, and botocore's
/// model lost the `awsQueryError` traits of its exceptions (Smithy's model keeps them):
/// without them the codecs could not give old query clients (and the
/// `x-amzn-query-error` header) the codes SDKs match on.
fn restore_query_errors(name: &str, model: &mut ServiceModel) {
    const SQS: &[(&str, &str, u16)] = &[
        (
            "BatchEntryIdsNotDistinct",
            "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
            400,
        ),
        (
            "BatchRequestTooLong",
            "AWS.SimpleQueueService.BatchRequestTooLong",
            400,
        ),
        (
            "EmptyBatchRequest",
            "AWS.SimpleQueueService.EmptyBatchRequest",
            400,
        ),
        ("InvalidAddress", "InvalidAddress", 404),
        ("InvalidAttributeName", "InvalidAttributeName", 400),
        ("InvalidAttributeValue", "InvalidAttributeValue", 400),
        (
            "InvalidBatchEntryId",
            "AWS.SimpleQueueService.InvalidBatchEntryId",
            400,
        ),
        ("InvalidIdFormat", "InvalidIdFormat", 400),
        ("InvalidMessageContents", "InvalidMessageContents", 400),
        ("InvalidSecurity", "InvalidSecurity", 403),
        ("KmsAccessDenied", "KMS.AccessDeniedException", 400),
        ("KmsDisabled", "KMS.DisabledException", 400),
        ("KmsInvalidKeyUsage", "KMS.InvalidKeyUsageException", 400),
        ("KmsInvalidState", "KMS.InvalidStateException", 400),
        ("KmsNotFound", "KMS.NotFoundException", 400),
        ("KmsOptInRequired", "KMS.OptInRequired", 403),
        ("KmsThrottled", "KMS.ThrottlingException", 400),
        (
            "MessageNotInflight",
            "AWS.SimpleQueueService.MessageNotInflight",
            400,
        ),
        ("OverLimit", "OverLimit", 403),
        (
            "PurgeQueueInProgress",
            "AWS.SimpleQueueService.PurgeQueueInProgress",
            403,
        ),
        (
            "QueueDeletedRecently",
            "AWS.SimpleQueueService.QueueDeletedRecently",
            400,
        ),
        (
            "QueueDoesNotExist",
            "AWS.SimpleQueueService.NonExistentQueue",
            400,
        ),
        ("QueueNameExists", "QueueAlreadyExists", 400),
        ("ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid", 404),
        ("RequestThrottled", "RequestThrottled", 403),
        (
            "ResourceNotFoundException",
            "ResourceNotFoundException",
            404,
        ),
        (
            "TooManyEntriesInBatchRequest",
            "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
            400,
        ),
        (
            "UnsupportedOperation",
            "AWS.SimpleQueueService.UnsupportedOperation",
            400,
        ),
    ];
    if name != "sqs" {
        return;
    }
    // SQS checks attribute names itself (`InvalidAttributeName`), and ReceiveMessage's
    // deprecated `AttributeNames` takes message system attribute names the enum lacks.
    for shape in ["QueueAttributeName", "MessageSystemAttributeName"] {
        if let Some(s) = model.shapes.get_mut(shape) {
            s.enum_values = None;
        }
    }
    for (shape, code, status) in SQS {
        if let Some(s) = model.shapes.get_mut(*shape)
            && s.exception
            && s.error.is_none()
        {
            s.error = Some(ErrorTrait {
                code: Some((*code).to_owned()),
                http_status_code: Some(*status),
                sender_fault: true,
            });
        }
    }
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
