//! Identifiers in the formats AWS uses.

use rand::Rng;

/// A request id in the UUID format most services use.
pub fn request_id() -> String {
    // Request ids are echoed to clients, not secrets: a fast per-thread generator seeded
    // from the OS-seeded one is enough, and every request pays for one.
    thread_local! {
        static IDS: std::cell::RefCell<rand::rngs::SmallRng> =
            std::cell::RefCell::new(rand::SeedableRng::from_rng(&mut rand::rng()));
    }
    let mut b: [u8; 16] = IDS.with(|r| r.borrow_mut().random());
    // Version 4, variant 1.
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const HEX: &[u8; 16] = b"0123456789abcdef";
    // Every request gets one, so this avoids the formatting machinery.
    let mut out = Vec::with_capacity(36);
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push(b'-');
        }
        out.push(HEX[usize::from(byte >> 4)]);
        out.push(HEX[usize::from(byte & 0x0f)]);
    }
    String::from_utf8(out).unwrap_or_default()
}

/// `len` random characters from `alphabet`.
pub fn random_alnum(len: usize, alphabet: &[u8]) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| alphabet[rng.random_range(0..alphabet.len())] as char)
        .collect()
}

/// Whether `s` is a 12-digit AWS account id.
pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    #[test]
    fn request_ids_look_like_uuids() {
        let id = super::request_id();
        assert_eq!(id.len(), 36);
        assert_eq!(id.as_bytes()[14], b'4');
        assert!(matches!(id.as_bytes()[19], b'8' | b'9' | b'a' | b'b'));
        assert_eq!(id.matches('-').count(), 4);
        assert_eq!(&id[8..9], "-");
    }
}
