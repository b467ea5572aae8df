//! The ec2Query protocol ([`Ec2Codec`]): query-style form requests with EC2's naming
//! (`queryName`, else capitalized `locationName`) and always-flattened lists (`Name.N`);
//! responses are `<OpResponse><requestId/>members</OpResponse>` without a result wrapper,
//! errors `<Response><Errors><Error>..</Error></Errors><RequestID/></Response>`.

use crate::query::{self, Flavor};
use crate::xml::{self, XmlWriter};
use crate::{Body, Codec, HttpRequest, HttpResponse, ResponseMeta};
use nephos_core::{AwsError, Input, Output};
use nephos_model::{Operation, Protocol, ServiceModel};

pub struct Ec2Codec;

impl Codec for Ec2Codec {
    fn protocol(&self) -> Protocol {
        Protocol::Ec2
    }

    fn resolve<'m>(
        &self,
        model: &'m ServiceModel,
        req: &HttpRequest,
        body: Option<&[u8]>,
    ) -> Result<&'m Operation, AwsError> {
        query::resolve_action(model, &query::form_params(req, body.unwrap_or_default()))
    }

    fn parse(
        &self,
        model: &ServiceModel,
        op: &Operation,
        req: &HttpRequest,
        body: Body,
    ) -> Result<Input, AwsError> {
        query::parse_form(model, op, req, body, Flavor::Ec2)
    }

    fn serialize(
        &self,
        model: &ServiceModel,
        op: &Operation,
        output: Output,
        meta: ResponseMeta<'_>,
    ) -> HttpResponse {
        let mut w = XmlWriter::new();
        let root = format!("{}Response", op.name);
        let mut attrs = vec![("xmlns".to_owned(), query::xml_namespace(model))];
        let shape = op.output.as_ref().map(|o| model.target(o));
        if let Some(shape) = shape {
            attrs.extend(xml::struct_attributes(model, shape, &output.value));
        }
        w.open(&root, &attrs);
        w.leaf("requestId", &[], meta.request_id);
        if let Some(shape) = shape {
            xml::write_members(&mut w, model, shape, &output.value);
        }
        w.close(&root);
        query::xml_response(200, w.finish(), meta.request_id, "x-amzn-requestid")
    }

    fn serialize_error(
        &self,
        model: &ServiceModel,
        _op: Option<&Operation>,
        err: &AwsError,
        meta: ResponseMeta<'_>,
    ) -> HttpResponse {
        // EC2 has no ValidationError: its input errors are InvalidParameterValue & co.
        let (code, status, _sender, shape) = query::wire_error(model, err, false);
        let mut w = XmlWriter::new();
        w.open("Response", &[]);
        w.open("Errors", &[]);
        w.open("Error", &[]);
        w.leaf("Code", &[], &code);
        w.leaf("Message", &[], &err.message);
        query::write_error_fields(&mut w, model, shape, err);
        w.close("Error");
        w.close("Errors");
        w.leaf("RequestID", &[], meta.request_id);
        w.close("Response");
        let mut resp = query::xml_response(status, w.finish(), meta.request_id, "x-amzn-requestid");
        query::add_headers(&mut resp, err);
        resp
    }
}
