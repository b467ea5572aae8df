//! State scoped by account and region, as AWS scopes it.

use crate::RequestContext;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// One `T` per (account, region) — or per account for global services (IAM, Route 53,
/// CloudFront) — created on first use. Each `T` holds its own fine-grained locks, so two
/// accounts never contend.
#[derive(Debug)]
pub struct Scoped<T> {
    global: bool,
    stores: RwLock<HashMap<(String, String), Arc<T>>>,
}

impl<T: Default> Scoped<T> {
    /// State per account and region.
    pub fn regional() -> Self {
        Scoped {
            global: false,
            stores: RwLock::default(),
        }
    }

    /// State per account, shared by all regions.
    pub fn global() -> Self {
        Scoped {
            global: true,
            stores: RwLock::default(),
        }
    }

    /// The state of the caller's account (and region, unless global).
    pub fn get(&self, ctx: &RequestContext) -> Arc<T> {
        self.get_for(&ctx.account_id, &ctx.region)
    }

    pub fn get_for(&self, account: &str, region: &str) -> Arc<T> {
        let region = if self.global { "" } else { region };
        let key = (account.to_owned(), region.to_owned());
        if let Some(s) = self.stores.read().unwrap().get(&key) {
            return s.clone();
        }
        self.stores.write().unwrap().entry(key).or_default().clone()
    }

    /// Every (account, region) that has state, for background tasks (expiry sweeps).
    pub fn all(&self) -> Vec<((String, String), Arc<T>)> {
        self.stores
            .read()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Forgets everything (`POST /_nephos/reset`).
    pub fn clear(&self) {
        self.stores.write().unwrap().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn accounts_and_regions_are_isolated() {
        let s: Scoped<Mutex<Vec<u32>>> = Scoped::regional();
        s.get_for("111111111111", "us-east-1")
            .lock()
            .unwrap()
            .push(1);
        assert!(
            s.get_for("111111111111", "eu-west-1")
                .lock()
                .unwrap()
                .is_empty()
        );
        assert!(
            s.get_for("222222222222", "us-east-1")
                .lock()
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            *s.get_for("111111111111", "us-east-1").lock().unwrap(),
            vec![1]
        );
        let g: Scoped<Mutex<Vec<u32>>> = Scoped::global();
        g.get_for("111111111111", "us-east-1")
            .lock()
            .unwrap()
            .push(7);
        assert_eq!(
            *g.get_for("111111111111", "ap-south-1").lock().unwrap(),
            vec![7]
        );
        g.clear();
        assert!(g.all().is_empty());
    }
}
