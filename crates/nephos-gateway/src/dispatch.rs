//! In-process calls between services: the same model validation and handlers as the wire,
//! without HTTP or codecs.

use crate::Gateway;
use nephos_core::{AwsError, BoxFuture, Dispatch, Input, Output, RequestContext, Value};
use std::sync::Weak;

/// The gateway as a [`Dispatch`]. Holds it weakly: providers keep the dispatcher and the
/// gateway keeps the providers.
pub struct InProcess(pub(crate) Weak<Gateway>);

impl Dispatch for InProcess {
    fn call<'a>(
        &'a self,
        ctx: &'a RequestContext,
        service: &'a str,
        operation: &'a str,
        input: Value,
    ) -> BoxFuture<'a, Result<Value, AwsError>> {
        Box::pin(async move {
            let gateway = self
                .0
                .upgrade()
                .ok_or_else(|| AwsError::internal("nephos is shutting down"))?;
            gateway
                .call_in_process(ctx, service, operation, input)
                .await
        })
    }

    fn call_input<'a>(
        &'a self,
        ctx: &'a RequestContext,
        service: &'a str,
        operation: &'a str,
        input: Input,
    ) -> BoxFuture<'a, Result<Output, AwsError>> {
        Box::pin(async move {
            let gateway = self
                .0
                .upgrade()
                .ok_or_else(|| AwsError::internal("nephos is shutting down"))?;
            gateway
                .call_in_process_input(ctx, service, operation, input)
                .await
        })
    }

    fn authorize(&self, ctx: &RequestContext, input: &Value) -> Result<(), AwsError> {
        let Some(gateway) = self.0.upgrade() else {
            return Ok(());
        };
        let Some(authorizer) = &gateway.authorizer else {
            return Ok(());
        };
        if ctx.credential.is_none() {
            return Ok(());
        }
        let provider = gateway.providers.get(ctx.service);
        let facts = |arn: &str| {
            provider.map_or_else(nephos_core::ResourceFacts::default, |p| {
                p.resource_facts(ctx, arn)
            })
        };
        authorizer.authorize(ctx, input, &facts).map(|_| ())
    }

    fn verify_mfa(&self, code: &nephos_core::MfaCode<'_>) -> Option<bool> {
        let gateway = self.0.upgrade()?;
        gateway.credentials.iter().find_map(|s| s.verify_mfa(code))
    }
}

impl Gateway {
    /// Runs `service.operation` for the caller of `ctx` (same account and region).
    pub async fn call_in_process(
        &self,
        ctx: &RequestContext,
        service: &str,
        operation: &str,
        input: Value,
    ) -> Result<Value, AwsError> {
        let input = Input {
            value: input,
            body: None,
        };
        Ok(self
            .call_in_process_input(ctx, service, operation, input)
            .await?
            .value)
    }

    /// [`Gateway::call_in_process`] with a request body, answering the whole output.
    pub async fn call_in_process_input(
        &self,
        ctx: &RequestContext,
        service: &str,
        operation: &str,
        input: Input,
    ) -> Result<Output, AwsError> {
        let model = nephos_model::service(service)
            .ok_or_else(|| AwsError::internal(format!("no model for service {service}")))?;
        let op = model.operation(operation).ok_or_else(|| {
            AwsError::internal(format!("service {service} has no operation {operation}"))
        })?;
        nephos_protocol::validate::validate(model, op, &input.value)
            .map_err(|e| crate::conventions::model_violation(model, e))?;
        let (name, provider) = self
            .providers
            .get_key_value(service)
            .filter(|(_, p)| p.operations().contains(&operation))
            .ok_or_else(|| AwsError::not_implemented(service, operation))?;
        let mut inner = ctx.clone();
        inner.service = name;
        inner.operation = operation.to_owned();
        inner.request_id = nephos_core::request_id();
        let mut output = provider.handle(&inner, input).await?;
        if contains_json(&output.value)
            && let Some(shape) = op.output.as_ref().map(|r| model.shape(&r.shape))
            && let Value::Map(members) = &output.value
        {
            // Members a service wrote as JSON reach callers as values, as over the wire.
            let text = nephos_protocol::jsonshape::struct_to_vec(model, shape, members);
            let members = nephos_protocol::jsonshape::parse_struct(model, shape, &text)
                .map_err(|e| AwsError::internal(format!("an answer does not read back: {e}")))?;
            output.value = Value::Map(members);
        }
        Ok(output)
    }
}

fn contains_json(v: &Value) -> bool {
    match v {
        Value::Json(_) => true,
        Value::List(items) => items.iter().any(contains_json),
        Value::Map(m) => m.values().any(contains_json),
        _ => false,
    }
}
