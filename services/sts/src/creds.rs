//! The credentials STS has issued: made here, kept (durably with `--data-dir`) so that
//! requests signed with them resolve to their principal, and answered as `Credentials`.

use nephos_core::{AwsError, Credential, Session, Timestamp, Value, random_alnum};
use nephos_storage::{Mutation, Storage};
use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

const TABLE: &str = "sts.credentials";
pub(crate) const UPPER_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const SECRET_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// How long expired credentials are remembered: a request signed with them must keep
/// answering `ExpiredToken` (not act as some default account), but not forever.
const KEEP_EXPIRED_MS: i64 = 7 * 24 * 3600 * 1000;
/// Expired credentials are swept once every this many issues.
const SWEEP_EVERY: u64 = 256;

pub(crate) struct Issued {
    map: RwLock<HashMap<String, Credential>>,
    storage: Storage,
    issues: AtomicU64,
}

impl Issued {
    /// Reloads the credentials issued before a restart.
    pub(crate) fn open(storage: Storage) -> Result<Issued, String> {
        let mut map = HashMap::new();
        for (_, value) in storage.load(TABLE).map_err(|e| e.to_string())? {
            let cred: Credential = serde_json::from_slice(&value).map_err(|e| e.to_string())?;
            map.insert(cred.access_key_id.clone(), cred);
        }
        Ok(Issued {
            map: RwLock::new(map),
            storage,
            issues: AtomicU64::new(0),
        })
    }

    pub(crate) fn get(&self, access_key_id: &str) -> Option<Credential> {
        self.map.read().unwrap().get(access_key_id).cloned()
    }

    pub(crate) fn clear(&self) {
        self.map.write().unwrap().clear();
    }

    /// Keeps `cred` (durably: a client may use it right after) and answers its
    /// `Credentials` member.
    pub(crate) async fn issue(&self, cred: Credential, now_ms: i64) -> Result<Value, AwsError> {
        let record = serde_json::to_vec(&cred).map_err(|e| AwsError::internal(e.to_string()))?;
        let mut batch = vec![Mutation::put(TABLE, cred.access_key_id.as_bytes(), record)];
        let swept = if self.issues.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1
        {
            self.long_expired(now_ms)
        } else {
            Vec::new()
        };
        batch.extend(swept.iter().map(|k| Mutation::delete(TABLE, k.as_bytes())));
        self.storage.commit(batch).await.map_err(|e| {
            tracing::error!(error = %e, "persisting session credentials failed");
            AwsError::internal("the credentials could not be stored")
        })?;
        let out = credentials_value(&cred);
        let mut map = self.map.write().unwrap();
        for k in &swept {
            map.remove(k);
        }
        map.insert(cred.access_key_id.clone(), cred);
        Ok(out)
    }

    fn long_expired(&self, now_ms: i64) -> Vec<String> {
        self.map
            .read()
            .unwrap()
            .values()
            .filter(|c| {
                c.expires_at_ms
                    .is_some_and(|e| e + KEEP_EXPIRED_MS < now_ms)
            })
            .map(|c| c.access_key_id.clone())
            .collect()
    }
}

/// New temporary credentials of `principal_arn` in `account`, valid until `expires_at_ms`.
pub(crate) fn temporary(
    account: &str,
    principal_arn: String,
    user_id: String,
    expires_at_ms: i64,
    session: Session,
) -> Credential {
    Credential {
        access_key_id: format!("ASIA{}", random_alnum(16, UPPER_ALNUM)),
        secret_access_key: random_alnum(40, SECRET_CHARS),
        session_token: Some(format!("FwoGZXIvYXdzE{}", random_alnum(343, SECRET_CHARS))),
        account_id: account.to_owned(),
        principal_arn,
        user_id,
        expires_at_ms: Some(expires_at_ms),
        session: Some(session),
    }
}

fn credentials_value(cred: &Credential) -> Value {
    Value::map()
        .with("AccessKeyId", cred.access_key_id.as_str())
        .with("SecretAccessKey", cred.secret_access_key.as_str())
        .with(
            "SessionToken",
            cred.session_token.clone().unwrap_or_default(),
        )
        .with(
            "Expiration",
            Timestamp::from_millis(cred.expires_at_ms.unwrap_or_default()),
        )
}
