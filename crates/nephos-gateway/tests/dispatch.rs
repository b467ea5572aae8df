//! In-process dispatch: validation and handlers as on the wire, without HTTP.

use nephos_core::{Clock, Dispatcher, RequestContext, Value};
use nephos_gateway::{Config, Gateway};
use nephos_storage::Storage;
use std::sync::Arc;

fn gateway() -> (Arc<Gateway>, Dispatcher) {
    let mut gw = Gateway::new(
        Config::default(),
        Arc::new(Clock::new()),
        Storage::ephemeral(),
    );
    gw.register(Arc::new(
        nephos_sts::StsProvider::new(Storage::ephemeral(), "000000000000").unwrap(),
    ));
    let gw = Arc::new(gw);
    let dispatcher = Dispatcher::new();
    dispatcher.set(gw.in_process());
    (gw, dispatcher)
}

#[tokio::test]
async fn calls_validate_and_dispatch_like_the_wire() {
    let (gw, d) = gateway();
    let mut ctx = RequestContext::internal("s3", "PutObject", gw.clock().clone());
    ctx.account_id = "123456789012".into();
    let out = d
        .call(&ctx, "sts", "GetCallerIdentity", Value::map())
        .await
        .unwrap();
    assert_eq!(out.str("Account"), Some("123456789012"));

    let bad = Value::map().with("DurationSeconds", 5);
    let err = d
        .call(&ctx, "sts", "GetSessionToken", bad)
        .await
        .unwrap_err();
    assert_eq!(err.code, "ValidationException");
    assert!(err.message.contains("durationSeconds"), "{}", err.message);

    let err = d
        .call(&ctx, "sts", "AssumeRole", Value::map())
        .await
        .unwrap_err();
    assert_eq!(
        err.status, 400,
        "missing required members are caught before the 501"
    );
    let input = Value::map()
        .with("RoleArn", "arn:aws:iam::123456789012:role/r")
        .with("RoleSessionName", "session");
    let err = d.call(&ctx, "sts", "AssumeRole", input).await.unwrap_err();
    assert_eq!((err.status, err.code.as_ref()), (501, "NotImplemented"));

    let err = d
        .call(&ctx, "nosuch", "Op", Value::map())
        .await
        .unwrap_err();
    assert_eq!(err.status, 500);
}

#[tokio::test]
async fn an_unwired_dispatcher_fails_cleanly() {
    let ctx = RequestContext::internal("s3", "PutObject", Arc::new(Clock::new()));
    let err = Dispatcher::new()
        .call(&ctx, "sts", "GetCallerIdentity", Value::map())
        .await
        .unwrap_err();
    assert_eq!(err.code, "InternalFailure");
}
