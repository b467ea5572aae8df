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
    let clock = gw.clock().clone();
    gw.register(Arc::new(
        nephos_sts::StsProvider::new(
            Storage::ephemeral(),
            "000000000000",
            Dispatcher::new(),
            clock,
        )
        .unwrap(),
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
    let input = Value::map().with("TradeInToken", "x");
    let err = d
        .call(&ctx, "sts", "GetDelegatedAccessToken", input)
        .await
        .unwrap_err();
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

/// DynamoDB writes a stored item's JSON itself (`Value::Json`); in-process callers still
/// get an ordinary value tree, typed by the model as the wire's readers see it.
#[tokio::test]
async fn items_written_as_json_reach_callers_as_values() {
    let clock = Arc::new(Clock::new());
    let mut gw = Gateway::new(Config::default(), clock.clone(), Storage::ephemeral());
    gw.register(nephos_dynamodb::DynamoDb::open(Storage::ephemeral(), clock).unwrap());
    let gw = Arc::new(gw);
    let d = Dispatcher::new();
    d.set(gw.in_process());
    let ctx = RequestContext::internal("states", "StartExecution", gw.clock().clone());
    let key = |v: &str| Value::map().with("S", v);
    let table = Value::map()
        .with("TableName", "t")
        .with("BillingMode", "PAY_PER_REQUEST")
        .with(
            "KeySchema",
            vec![
                Value::map()
                    .with("AttributeName", "pk")
                    .with("KeyType", "HASH"),
            ],
        )
        .with(
            "AttributeDefinitions",
            vec![
                Value::map()
                    .with("AttributeName", "pk")
                    .with("AttributeType", "S"),
            ],
        );
    d.call(&ctx, "dynamodb", "CreateTable", table)
        .await
        .unwrap();
    let item = Value::map()
        .with("pk", key("a \"quoted\" key"))
        .with(
            "blob",
            Value::map().with("B", bytes::Bytes::from_static(b"\x00\xff")),
        )
        .with("n", Value::map().with("N", "12.50"));
    d.call(
        &ctx,
        "dynamodb",
        "PutItem",
        Value::map().with("TableName", "t").with("Item", item),
    )
    .await
    .unwrap();
    let get = Value::map()
        .with("TableName", "t")
        .with("Key", Value::map().with("pk", key("a \"quoted\" key")));
    let out = d.call(&ctx, "dynamodb", "GetItem", get).await.unwrap();
    let item = out.get("Item").expect("the item");
    assert_eq!(
        item.get("pk").and_then(|v| v.str("S")),
        Some("a \"quoted\" key")
    );
    assert_eq!(item.get("n").and_then(|v| v.str("N")), Some("12.5"));
    assert_eq!(
        item.get("blob").and_then(|v| v.get("B")),
        Some(&Value::Blob(bytes::Bytes::from_static(b"\x00\xff")))
    );
}
