//! Durable records of IAM entities: table `iam.records`, key `account \t kind \t id`
//! (kind `user`, `role`, `policy`, ...; id the entity's name or ARN), value the entity
//! as JSON. Names never become paths.

use nephos_storage::{Mutation, Storage};
use serde::Serialize;

pub const TABLE: &str = "iam.records";

pub struct Store {
    storage: Storage,
}

/// One change to commit: a record written or removed.
pub enum Change {
    Put(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
}

fn key(account: &str, kind: &str, id: &str) -> Vec<u8> {
    format!("{account}\t{kind}\t{id}").into_bytes()
}

impl Change {
    pub fn put<T: Serialize>(account: &str, kind: &str, id: &str, value: &T) -> Change {
        Change::Put(
            key(account, kind, id),
            serde_json::to_vec(value).expect("entities serialize"),
        )
    }

    pub fn delete(account: &str, kind: &str, id: &str) -> Change {
        Change::Delete(key(account, kind, id))
    }
}

impl Store {
    pub fn new(storage: Storage) -> Store {
        Store { storage }
    }

    /// Every stored record as (account, kind, id, JSON).
    pub fn load(&self) -> Result<Vec<(String, String, String, serde_json::Value)>, String> {
        let mut out = Vec::new();
        for (k, v) in self.storage.load(TABLE).map_err(|e| e.to_string())? {
            let k = String::from_utf8_lossy(&k).into_owned();
            let mut parts = k.splitn(3, '\t');
            let (Some(a), Some(kind), Some(id)) = (parts.next(), parts.next(), parts.next()) else {
                continue;
            };
            let value = serde_json::from_slice(&v).map_err(|e| e.to_string())?;
            out.push((a.to_owned(), kind.to_owned(), id.to_owned(), value));
        }
        Ok(out)
    }

    /// Commits `changes` in one transaction, durably, before the caller answers.
    pub async fn commit(&self, changes: Vec<Change>) -> Result<(), nephos_core::AwsError> {
        if changes.is_empty() {
            return Ok(());
        }
        let muts = changes
            .into_iter()
            .map(|c| match c {
                Change::Put(k, v) => Mutation::put(TABLE, k, v),
                Change::Delete(k) => Mutation::delete(TABLE, k),
            })
            .collect();
        self.storage.commit(muts).await.map_err(|e| {
            tracing::error!(error = %e, "persisting IAM entities failed");
            nephos_core::AwsError::new(500, "ServiceFailure", "the change could not be stored")
        })
    }
}
