//! Placeholder: being written.

use crate::{Body, Codec, HttpRequest, HttpResponse, ResponseMeta};
use nephos_core::{AwsError, Input, Output};
use nephos_model::{Operation, Protocol, ServiceModel};

pub struct CborCodec;

impl Codec for CborCodec {
    fn protocol(&self) -> Protocol {
        Protocol::RpcV2Cbor
    }
    fn resolve<'m>(
        &self,
        _model: &'m ServiceModel,
        _req: &HttpRequest,
        _body: Option<&[u8]>,
    ) -> Result<&'m Operation, AwsError> {
        todo!()
    }
    fn parse(
        &self,
        _model: &ServiceModel,
        _op: &Operation,
        _req: &HttpRequest,
        _body: Body,
    ) -> Result<Input, AwsError> {
        todo!()
    }
    fn serialize(
        &self,
        _model: &ServiceModel,
        _op: &Operation,
        _output: Output,
        _meta: ResponseMeta<'_>,
    ) -> HttpResponse {
        todo!()
    }
    fn serialize_error(
        &self,
        _model: &ServiceModel,
        _op: Option<&Operation>,
        _err: &AwsError,
        _meta: ResponseMeta<'_>,
    ) -> HttpResponse {
        todo!()
    }
}
