//! Where functions live: per account and region, each stored whole as one record.

use crate::model::Function;
use nephos_core::{AwsError, RequestContext, Scoped};
use nephos_storage::{Mutation, Storage};
use std::collections::BTreeMap;
use std::sync::Mutex;

pub const FUNCTIONS: &str = "lambda.functions";

#[derive(Default)]
pub struct Region {
    pub functions: Mutex<BTreeMap<String, Function>>,
}

pub fn key(account: &str, region: &str, name: &str) -> String {
    format!("{account}\t{region}\t{name}")
}

pub fn load(storage: &Storage, regions: &Scoped<Region>) -> Result<(), String> {
    for (k, v) in storage.load(FUNCTIONS).map_err(|e| e.to_string())? {
        let k = String::from_utf8_lossy(&k).into_owned();
        let mut parts = k.splitn(3, '\t');
        let (Some(account), Some(region), Some(_)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let f: Function = serde_json::from_slice(&v).map_err(|e| e.to_string())?;
        regions
            .get_for(account, region)
            .functions
            .lock()
            .unwrap()
            .insert(f.name.clone(), f);
    }
    Ok(())
}

/// The mutation that stores `f` as it is now.
pub fn put(ctx: &RequestContext, f: &Function) -> Result<Mutation, AwsError> {
    let v = serde_json::to_vec(f).map_err(|e| AwsError::internal(e.to_string()))?;
    Ok(Mutation::put(
        FUNCTIONS,
        key(&ctx.account_id, &ctx.region, &f.name),
        v,
    ))
}

pub fn delete(ctx: &RequestContext, name: &str) -> Mutation {
    Mutation::delete(FUNCTIONS, key(&ctx.account_id, &ctx.region, name))
}

pub async fn commit(storage: &Storage, batch: Vec<Mutation>) -> Result<(), AwsError> {
    storage.commit(batch).await.map_err(|e| {
        tracing::error!(error = %e, "persisting lambda state failed");
        AwsError::internal("the change could not be stored")
    })
}
