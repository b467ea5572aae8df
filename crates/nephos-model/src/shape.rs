//! The botocore `service-2.json` format, as typed Rust.
//!
//! Field names follow botocore exactly (so a model file and this file can be read side by
//! side); only what the protocol engine, validation or routing reads is kept.

use indexmap::IndexMap;
use serde::Deserialize;
use std::any::Any;
use std::sync::OnceLock;

/// Shape and member names are looked up several times per request; foldhash is several
/// times faster than the default SipHash on such short keys.
pub type Hasher = foldhash::fast::RandomState;

/// The wire protocols of AWS services.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// awsQuery: form-encoded `Action=` requests, XML responses.
    Query,
    /// ec2Query: like query with EC2's own list and error conventions.
    Ec2,
    /// awsJson 1.0 or 1.1: `X-Amz-Target` selects the operation.
    Json,
    /// restJson1: HTTP bindings plus a JSON payload.
    RestJson,
    /// restXml: HTTP bindings plus an XML payload (S3, Route 53, CloudFront).
    RestXml,
    /// smithy rpcv2Cbor: `/service/S/operation/O` with CBOR bodies.
    RpcV2Cbor,
}

impl Protocol {
    /// Parses a botocore protocol name (`rest-json`, `smithy-rpc-v2-cbor`, ...).
    pub fn from_name(name: &str) -> Option<Protocol> {
        Some(match name {
            "query" => Protocol::Query,
            "ec2" => Protocol::Ec2,
            "json" => Protocol::Json,
            "rest-json" => Protocol::RestJson,
            "rest-xml" => Protocol::RestXml,
            "smithy-rpc-v2-cbor" => Protocol::RpcV2Cbor,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Protocol::Query => "query",
            Protocol::Ec2 => "ec2",
            Protocol::Json => "json",
            Protocol::RestJson => "rest-json",
            Protocol::RestXml => "rest-xml",
            Protocol::RpcV2Cbor => "smithy-rpc-v2-cbor",
        }
    }
}

/// A whole service model: metadata, operations and the shapes they reference.
#[derive(Debug, Deserialize)]
pub struct ServiceModel {
    pub metadata: Metadata,
    #[serde(default)]
    pub operations: IndexMap<String, Operation, Hasher>,
    #[serde(default)]
    pub shapes: IndexMap<String, Shape, Hasher>,
    /// What the protocol engine derives from the model once (its REST router), kept here
    /// so that it lives and dies with the model.
    #[serde(skip)]
    pub derived: Derived,
}

/// A slot for data derived from a model on first use.
#[derive(Default)]
pub struct Derived(OnceLock<Box<dyn Any + Send + Sync>>);

impl Derived {
    pub fn get_or_init(
        &self,
        init: impl FnOnce() -> Box<dyn Any + Send + Sync>,
    ) -> &(dyn Any + Send + Sync) {
        self.0.get_or_init(init).as_ref()
    }
}

impl std::fmt::Debug for Derived {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Derived")
    }
}

impl ServiceModel {
    pub fn from_slice(json: &[u8]) -> Result<ServiceModel, String> {
        serde_json::from_slice(json).map_err(|e| e.to_string())
    }

    /// Builds a model from an already parsed JSON value (the protocol test suites assemble
    /// `{metadata, shapes, operations}` from a suite's parts).
    pub fn from_value(value: serde_json::Value) -> Result<ServiceModel, String> {
        serde_json::from_value(value).map_err(|e| e.to_string())
    }

    /// The shape `r` points at. The reference remembers where its shape sits in the model,
    /// so a shape graph walked per request is not hashed name by name.
    ///
    /// # Panics
    /// When the model has no such shape (models are checked when vendored).
    pub fn target(&self, r: &ShapeRef) -> &Shape {
        self.try_target(r)
            .unwrap_or_else(|| panic!("model has no shape {}", r.shape))
    }

    /// [`ServiceModel::target`] for references that may dangle.
    pub fn try_target(&self, r: &ShapeRef) -> Option<&Shape> {
        if let Some(&i) = r.resolved.0.get()
            && let Some((name, shape)) = self.shapes.get_index(i as usize)
            && *name == r.shape
        {
            return Some(shape);
        }
        let (i, _, shape) = self.shapes.get_full(r.shape.as_str())?;
        if let Ok(i) = u32::try_from(i) {
            let _ = r.resolved.0.set(i);
        }
        Some(shape)
    }

    /// The shape a reference points at.
    ///
    /// # Panics
    /// On a dangling reference: vendored models are checked by a test, so this is a bug.
    pub fn shape(&self, name: &str) -> &Shape {
        self.shapes
            .get(name)
            .unwrap_or_else(|| panic!("model has no shape {name}"))
    }

    pub fn operation(&self, name: &str) -> Option<&Operation> {
        self.operations.get(name)
    }

    /// The protocols this service speaks, most preferred first.
    pub fn protocols(&self) -> Vec<Protocol> {
        let names: Vec<&str> = match &self.metadata.protocols {
            Some(list) if !list.is_empty() => list.iter().map(String::as_str).collect(),
            _ => vec![self.metadata.protocol.as_str()],
        };
        names.into_iter().filter_map(Protocol::from_name).collect()
    }

    /// The error shape whose code (its `error.code`, else its name) is `code`.
    pub fn error_shape(&self, code: &str) -> Option<(&str, &Shape)> {
        if let Some((name, shape)) = self.shapes.get_key_value(code)
            && shape.exception
        {
            return Some((name.as_str(), shape));
        }
        self.shapes
            .iter()
            .find(|(_, s)| {
                s.exception && s.error.as_ref().and_then(|e| e.code.as_deref()) == Some(code)
            })
            .map(|(n, s)| (n.as_str(), s))
    }
}

/// A service's `metadata` block.
#[derive(Debug, Deserialize, Default, Clone)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub endpoint_prefix: String,
    #[serde(default)]
    pub protocol: String,
    pub protocols: Option<Vec<String>>,
    pub json_version: Option<String>,
    pub target_prefix: Option<String>,
    pub signing_name: Option<String>,
    pub service_id: Option<String>,
    pub xml_namespace: Option<String>,
    pub global_endpoint: Option<String>,
    /// Present (as `{}`) on JSON services that also answer their old query-protocol clients.
    pub aws_query_compatible: Option<serde_json::Value>,
    pub timestamp_format: Option<TimestampFormat>,
}

/// One operation: its HTTP binding, input and output shapes, and declared errors.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Operation {
    pub name: String,
    #[serde(default)]
    pub http: Http,
    pub input: Option<ShapeRef>,
    pub output: Option<ShapeRef>,
    #[serde(default)]
    pub errors: Vec<ShapeRef>,
    /// `{"hostPrefix": "{AccountId}."}` style endpoint traits.
    pub endpoint: Option<serde_json::Value>,
    /// `none` marks operations that callers invoke unsigned.
    pub authtype: Option<String>,
    #[serde(default)]
    pub auth: Vec<String>,
    pub http_checksum: Option<serde_json::Value>,
    #[serde(default)]
    pub http_checksum_required: bool,
    #[serde(default)]
    pub idempotent: bool,
}

/// An operation's HTTP binding.
#[derive(Debug, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct Http {
    #[serde(default = "default_method")]
    pub method: String,
    /// Absent in some legacy protocol test cases of RPC protocols, where it is `/`.
    #[serde(default = "default_request_uri")]
    pub request_uri: String,
    pub response_code: Option<u16>,
}

fn default_method() -> String {
    "POST".into()
}

fn default_request_uri() -> String {
    "/".into()
}

impl Default for Http {
    fn default() -> Self {
        Http {
            method: "POST".into(),
            request_uri: "/".into(),
            response_code: None,
        }
    }
}

/// A reference to a shape: a structure member, a list member, a map key or value, or an
/// operation's input/output. The serialization traits that botocore puts on references
/// live here.
#[derive(Debug, Deserialize, Clone, Default)]
#[serde(rename_all = "camelCase")]
pub struct ShapeRef {
    pub shape: String,
    /// `header`, `headers`, `querystring`, `uri` or `statusCode`; absent for the body.
    pub location: Option<String>,
    /// Wire name: header/query/label name, JSON key, XML element name.
    #[serde(alias = "LocationName")]
    pub location_name: Option<String>,
    /// ec2 protocol's request key override.
    pub query_name: Option<String>,
    #[serde(default)]
    pub flattened: bool,
    #[serde(default)]
    pub xml_attribute: bool,
    pub xml_namespace: Option<XmlNamespace>,
    #[serde(default)]
    pub idempotency_token: bool,
    #[serde(default, rename = "jsonvalue")]
    pub json_value: bool,
    pub timestamp_format: Option<TimestampFormat>,
    #[serde(default)]
    pub streaming: bool,
    #[serde(default, rename = "eventpayload")]
    pub event_payload: bool,
    #[serde(default, rename = "eventheader")]
    pub event_header: bool,
    #[serde(default)]
    pub host_label: bool,
    /// On an operation's output (query protocol): the element that wraps the result.
    pub result_wrapper: Option<String>,
    /// Where `shape` sits in the model's shapes, once looked up.
    #[serde(skip)]
    pub resolved: Resolved,
}

/// A cached position in [`ServiceModel::shapes`]. A clone starts empty, since it may be
/// put into another model; a stale position is detected by the name check in
/// [`ServiceModel::try_target`].
#[derive(Default)]
pub struct Resolved(OnceLock<u32>);

impl Clone for Resolved {
    fn clone(&self) -> Self {
        Resolved::default()
    }
}

impl std::fmt::Debug for Resolved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Resolved")
    }
}

/// An XML namespace trait: either a bare URI or `{prefix, uri}`.
#[derive(Debug, Deserialize, Clone)]
#[serde(untagged)]
pub enum XmlNamespace {
    Uri(String),
    Full { prefix: Option<String>, uri: String },
}

impl XmlNamespace {
    pub fn uri(&self) -> &str {
        match self {
            XmlNamespace::Uri(u) => u,
            XmlNamespace::Full { uri, .. } => uri,
        }
    }
    pub fn prefix(&self) -> Option<&str> {
        match self {
            XmlNamespace::Uri(_) => None,
            XmlNamespace::Full { prefix, .. } => prefix.as_deref(),
        }
    }
}

/// How a timestamp is written on the wire.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
pub enum TimestampFormat {
    #[serde(rename = "iso8601")]
    Iso8601,
    #[serde(rename = "rfc822")]
    Rfc822,
    #[serde(rename = "unixTimestamp", alias = "unix-timestamp")]
    UnixTimestamp,
}

/// The type of a shape.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ShapeType {
    Structure,
    List,
    Map,
    String,
    Character,
    Integer,
    Long,
    Short,
    Byte,
    Float,
    Double,
    Boolean,
    Blob,
    Timestamp,
    BigInteger,
    BigDecimal,
}

/// A shape with every trait the engine reads.
#[derive(Debug, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct Shape {
    #[serde(rename = "type")]
    pub kind: ShapeType,
    /// Structure members, in model order (serializers keep that order).
    #[serde(default)]
    pub members: IndexMap<String, ShapeRef, Hasher>,
    #[serde(default)]
    pub required: Vec<String>,
    /// The member bound to the whole HTTP body (rest protocols).
    pub payload: Option<String>,
    /// List element.
    pub member: Option<ShapeRef>,
    /// Map key and value.
    pub key: Option<ShapeRef>,
    pub value: Option<ShapeRef>,
    #[serde(rename = "enum")]
    pub enum_values: Option<Vec<String>>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub pattern: Option<String>,
    pub timestamp_format: Option<TimestampFormat>,
    #[serde(default)]
    pub streaming: bool,
    #[serde(default)]
    pub requires_length: bool,
    #[serde(default)]
    pub flattened: bool,
    /// XML element name of a structure or of list members.
    pub location_name: Option<String>,
    pub xml_namespace: Option<XmlNamespace>,
    #[serde(default)]
    pub exception: bool,
    #[serde(default)]
    pub fault: bool,
    pub error: Option<ErrorTrait>,
    #[serde(default)]
    pub eventstream: bool,
    #[serde(default)]
    pub event: bool,
    #[serde(default)]
    pub union: bool,
    #[serde(default)]
    pub document: bool,
    #[serde(default)]
    pub sensitive: bool,
    #[serde(default)]
    pub sparse: bool,
    #[serde(default)]
    pub wrapper: bool,
}

impl Shape {
    pub fn is_required(&self, member: &str) -> bool {
        self.required.iter().any(|r| r == member)
    }
}

/// The `error` trait of an exception shape.
#[derive(Debug, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct ErrorTrait {
    /// The code clients see when it differs from the shape name (query-compatible services).
    pub code: Option<String>,
    pub http_status_code: Option<u16>,
    #[serde(default)]
    pub sender_fault: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(shapes: serde_json::Value) -> ServiceModel {
        ServiceModel::from_value(serde_json::json!({
            "metadata": {"protocol": "json"}, "operations": {}, "shapes": shapes
        }))
        .unwrap()
    }

    #[test]
    fn a_remembered_position_never_names_the_wrong_shape() {
        let a = model(serde_json::json!({"S": {"type": "string"}, "I": {"type": "integer"}}));
        let b = model(serde_json::json!({"I": {"type": "integer"}, "S": {"type": "string"}}));
        let r = ShapeRef {
            shape: "S".into(),
            ..Default::default()
        };
        // Resolved in `a` (position 0), then used with `b`, where position 0 is `I`.
        assert_eq!(a.target(&r).kind, ShapeType::String);
        assert_eq!(b.target(&r).kind, ShapeType::String);
        assert_eq!(a.target(&r).kind, ShapeType::String);
        // A clone starts without a position, and dangling references are found out.
        assert_eq!(b.target(&r.clone()).kind, ShapeType::String);
        let missing = ShapeRef {
            shape: "Nope".into(),
            ..Default::default()
        };
        assert!(a.try_target(&missing).is_none());
    }
}
