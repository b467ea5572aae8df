//! A fast hasher for the authorizer's maps: their keys (action names, resource type
//! names, ARNs, access key ids) are a few dozen bytes looked up several times per
//! request, where SipHash's cost shows. An FxHash-style multiply-rotate is enough for
//! tables built from vendored data and for caches that start over when they grow too
//! big.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

#[derive(Default)]
pub struct FastHasher(u64);

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let w = u64::from_le_bytes(c.try_into().unwrap_or_default());
            self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

pub type FastState = BuildHasherDefault<FastHasher>;

/// A map by string key with [`FastHasher`].
pub type FastMap<V> = HashMap<String, V, FastState>;
