//! Where functions live: per account and region, each stored whole as one record; layers
//! (each with all its versions) and code signing configurations likewise.

use crate::layers::Layer;
use crate::model::Function;
use crate::signing::CodeSigningConfig;
use nephos_core::{AwsError, RequestContext, Scoped};
use nephos_storage::{Mutation, Storage};
use std::collections::BTreeMap;
use std::sync::Mutex;

pub const FUNCTIONS: &str = "lambda.functions";
pub const LAYERS: &str = "lambda.layers";
pub const CODE_SIGNING: &str = "lambda.code-signing";

#[derive(Default)]
pub struct Region {
    pub functions: Mutex<BTreeMap<String, Function>>,
    /// Layers by name; a layer whose versions were all deleted stays, as its version
    /// numbers are never reused.
    pub layers: Mutex<BTreeMap<String, Layer>>,
    /// Code signing configurations by id (`csc-...`).
    pub code_signing: Mutex<BTreeMap<String, CodeSigningConfig>>,
}

pub fn key(account: &str, region: &str, name: &str) -> String {
    format!("{account}\t{region}\t{name}")
}

/// Reads every record of `table` as (account, region, name, value).
fn records<T: serde::de::DeserializeOwned>(
    storage: &Storage,
    table: &str,
) -> Result<Vec<(String, String, String, T)>, String> {
    let mut out = Vec::new();
    for (k, v) in storage.load(table).map_err(|e| e.to_string())? {
        let k = String::from_utf8_lossy(&k).into_owned();
        let mut parts = k.splitn(3, '\t');
        let (Some(account), Some(region), Some(name)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let value: T = serde_json::from_slice(&v).map_err(|e| e.to_string())?;
        out.push((
            account.to_owned(),
            region.to_owned(),
            name.to_owned(),
            value,
        ));
    }
    Ok(out)
}

pub fn load(storage: &Storage, regions: &Scoped<Region>) -> Result<(), String> {
    for (account, region, _, f) in records::<Function>(storage, FUNCTIONS)? {
        regions
            .get_for(&account, &region)
            .functions
            .lock()
            .unwrap()
            .insert(f.name.clone(), f);
    }
    for (account, region, name, layer) in records::<Layer>(storage, LAYERS)? {
        regions
            .get_for(&account, &region)
            .layers
            .lock()
            .unwrap()
            .insert(name, layer);
    }
    for (account, region, id, csc) in records::<CodeSigningConfig>(storage, CODE_SIGNING)? {
        regions
            .get_for(&account, &region)
            .code_signing
            .lock()
            .unwrap()
            .insert(id, csc);
    }
    Ok(())
}

/// The mutation that stores (or, given `None`, deletes) a record of a table other than
/// functions.
pub fn put_record<T: serde::Serialize>(
    ctx: &RequestContext,
    table: &str,
    name: &str,
    value: Option<&T>,
) -> Result<Mutation, AwsError> {
    let k = key(&ctx.account_id, &ctx.region, name);
    Ok(match value {
        Some(v) => Mutation::put(
            table,
            k,
            serde_json::to_vec(v).map_err(|e| AwsError::internal(e.to_string()))?,
        ),
        None => Mutation::delete(table, k),
    })
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
