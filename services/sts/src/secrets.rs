//! Keys STS keeps to itself, made once per data directory: the key nephos's own OpenID
//! Connect issuer signs tokens with, and the key authorization messages are sealed with.
//!
//! Both must outlive a restart (a token minted before it must still verify, a message
//! encoded before it must still decode), so they are stored like any other state. A reset
//! wipes storage after the providers have forgotten their state; the keys stay in memory
//! and are written again the next time one is used.

use nephos_storage::{Mutation, Storage};
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use std::sync::atomic::{AtomicBool, Ordering};

const TABLE: &str = "sts.secrets";
const SIGNING_KEY: &[u8] = b"oidc-signing-key";
const MESSAGE_KEY: &[u8] = b"authorization-message-key";

pub(crate) struct Secrets {
    storage: Storage,
    /// PKCS#8 of the P-256 key nephos's issuer signs with (ES256).
    signing_pkcs8: Vec<u8>,
    signing: EcdsaKeyPair,
    /// AES-256-GCM key of authorization messages.
    message_key: [u8; 32],
    saved: AtomicBool,
    pub(crate) rng: SystemRandom,
}

impl Secrets {
    /// Loads the keys of the data directory, making (and storing) those it lacks.
    pub(crate) fn open(storage: Storage) -> Result<Secrets, String> {
        let rng = SystemRandom::new();
        let mut signing_pkcs8 = None;
        let mut message_key = None;
        for (key, value) in storage.load(TABLE).map_err(|e| e.to_string())? {
            match key.as_slice() {
                SIGNING_KEY => signing_pkcs8 = Some(value),
                MESSAGE_KEY if value.len() == 32 => {
                    let mut k = [0u8; 32];
                    k.copy_from_slice(&value);
                    message_key = Some(k);
                }
                _ => {}
            }
        }
        let fresh = signing_pkcs8.is_none() || message_key.is_none();
        let signing_pkcs8 = match signing_pkcs8 {
            Some(p) => p,
            None => EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                .map_err(|_| "could not make a signing key".to_owned())?
                .as_ref()
                .to_vec(),
        };
        let message_key = match message_key {
            Some(k) => k,
            None => {
                let mut k = [0u8; 32];
                rng.fill(&mut k)
                    .map_err(|_| "no randomness for a message key".to_owned())?;
                k
            }
        };
        let signing =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &signing_pkcs8, &rng)
                .map_err(|_| "the stored OIDC signing key is not a P-256 key".to_owned())?;
        let secrets = Secrets {
            storage,
            signing_pkcs8,
            signing,
            message_key,
            saved: AtomicBool::new(!fresh),
            rng,
        };
        secrets.save_if_needed()?;
        Ok(secrets)
    }

    /// After a reset wiped storage: the keys are written again on their next use.
    pub(crate) fn forget_saved(&self) {
        self.saved.store(false, Ordering::Relaxed);
    }

    fn save_if_needed(&self) -> Result<(), String> {
        if self.saved.load(Ordering::Relaxed) {
            return Ok(());
        }
        let batch = vec![
            Mutation::put(TABLE, SIGNING_KEY, self.signing_pkcs8.clone()),
            Mutation::put(TABLE, MESSAGE_KEY, self.message_key.to_vec()),
        ];
        block_on(self.storage.commit(batch)).map_err(|e| e.to_string())?;
        self.saved.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// The issuer's key pair, stored before anything it signs leaves nephos.
    pub(crate) fn signing_key(&self) -> Result<&EcdsaKeyPair, String> {
        self.save_if_needed()?;
        Ok(&self.signing)
    }

    /// The issuer's public key as an uncompressed P-256 point (`04 || x || y`). Once
    /// published the key must stay, so it is stored (again, after a reset) first.
    pub(crate) fn signing_public_point(&self) -> &[u8] {
        if let Err(e) = self.save_if_needed() {
            tracing::error!(error = %e, "storing STS's keys failed");
        }
        self.signing.public_key().as_ref()
    }

    pub(crate) fn message_key(&self) -> Result<&[u8; 32], String> {
        self.save_if_needed()?;
        Ok(&self.message_key)
    }
}

/// Runs a future to its end on this thread. Storage commits only wait for the storage
/// writer thread, so parking this one (even a runtime worker, briefly) cannot deadlock;
/// it lets the synchronous paths (start-up, internal endpoints) write durably.
pub(crate) fn block_on<F: std::future::Future>(fut: F) -> F::Output {
    use std::sync::Arc;
    use std::task::{Context, Poll, Wake, Waker};

    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut fut = std::pin::pin!(fut);
    loop {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::park();
    }
}
