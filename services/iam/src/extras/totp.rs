//! Virtual MFA seeds: RFC 4648 base32, RFC 6238 TOTP codes (30-second steps, HMAC-SHA1,
//! six digits), and the seed's `otpauth://` URI as a QR code PNG.

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use std::io::Write;

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// Seconds per TOTP step.
pub const STEP_SECS: i64 = 30;

/// Base32 without padding (AWS's 40-byte seeds encode to exactly 64 characters).
pub fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::new();
    let (mut buf, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buf = (buf << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(BASE32[((buf >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(BASE32[((buf << (5 - bits)) & 31) as usize] as char);
    }
    out
}

pub fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut buf, mut bits) = (0u32, 0u32);
    for c in text.bytes().filter(|c| *c != b'=') {
        let v = BASE32.iter().position(|b| *b == c.to_ascii_uppercase())? as u32;
        buf = (buf << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
        }
    }
    Some(out)
}

/// The six-digit code of step `counter` (Unix seconds / 30).
pub fn code(seed: &[u8], counter: i64) -> String {
    let mut mac =
        <Hmac<Sha1> as KeyInit>::new_from_slice(seed).expect("HMAC accepts keys of any length");
    mac.update(&counter.to_be_bytes());
    let h = mac.finalize().into_bytes();
    let off = usize::from(h[h.len() - 1] & 0x0f);
    let bin = (u32::from(h[off] & 0x7f) << 24)
        | (u32::from(h[off + 1]) << 16)
        | (u32::from(h[off + 2]) << 8)
        | u32::from(h[off + 3]);
    format!("{:06}", bin % 1_000_000)
}

/// The step `s` within `window` steps of `now_step` (nearest first) whose code is
/// `code1` and whose next code is `code2`, as a device shows two consecutive codes.
pub fn find_consecutive(
    seed: &[u8],
    now_step: i64,
    window: i64,
    code1: &str,
    code2: &str,
) -> Option<i64> {
    let mut steps = vec![now_step];
    for d in 1..=window {
        steps.push(now_step - d);
        steps.push(now_step + d);
    }
    steps
        .into_iter()
        .find(|s| code(seed, *s) == code1 && code(seed, s + 1) == code2)
}

/// A PNG of the QR code of `text`: one bit per pixel, 4 pixels per module, and the
/// four-module quiet zone the QR standard asks for.
pub fn qr_png(text: &str) -> Result<Vec<u8>, String> {
    const SCALE: usize = 4;
    const QUIET: usize = 4;
    let qr = qrcode::QrCode::new(text.as_bytes()).map_err(|e| e.to_string())?;
    let modules = qr.width();
    let dark: Vec<bool> = qr
        .to_colors()
        .into_iter()
        .map(|c| c == qrcode::Color::Dark)
        .collect();
    let side = (modules + 2 * QUIET) * SCALE;
    let row_bytes = side.div_ceil(8);
    let mut raw = Vec::with_capacity((row_bytes + 1) * side);
    for y in 0..side {
        raw.push(0); // filter: none
        let my = (y / SCALE).checked_sub(QUIET).filter(|m| *m < modules);
        let mut row = vec![0xffu8; row_bytes];
        if let Some(my) = my {
            for x in 0..side {
                let mx = (x / SCALE).checked_sub(QUIET).filter(|m| *m < modules);
                if mx.is_some_and(|mx| dark[my * modules + mx]) {
                    row[x / 8] &= !(0x80 >> (x % 8));
                }
            }
        }
        raw.extend_from_slice(&row);
    }
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(&raw).map_err(|e| e.to_string())?;
    let idat = z.finish().map_err(|e| e.to_string())?;

    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&(side as u32).to_be_bytes());
    ihdr.extend_from_slice(&(side as u32).to_be_bytes());
    // Bit depth 1, greyscale, deflate, adaptive filtering, no interlace.
    ihdr.extend_from_slice(&[1, 0, 0, 0, 0]);
    chunk(&mut png, b"IHDR", &ihdr);
    chunk(&mut png, b"IDAT", &idat);
    chunk(&mut png, b"IEND", &[]);
    Ok(png)
}

fn chunk(png: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    png.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let mut crc = crc32fast::Hasher::new();
    crc.update(kind);
    crc.update(data);
    png.extend_from_slice(kind);
    png.extend_from_slice(data);
    png.extend_from_slice(&crc.finalize().to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_rfc_6238() {
        // RFC 6238 appendix B, SHA-1 seed "12345678901234567890", last six digits.
        let seed = b"12345678901234567890";
        assert_eq!(code(seed, 59 / 30), "287082");
        assert_eq!(code(seed, 1_111_111_109 / 30), "081804");
        assert_eq!(code(seed, 2_000_000_000 / 30), "279037");
    }

    #[test]
    fn base32_round_trips() {
        let bytes: Vec<u8> = (0..40).collect();
        let text = base32_encode(&bytes);
        assert_eq!(text.len(), 64);
        assert_eq!(base32_decode(&text).unwrap(), bytes);
        assert_eq!(base32_encode(b"foobar"), "MZXW6YTBOI");
    }

    #[test]
    fn consecutive_codes_are_found_near_now() {
        let seed = b"abcdefghijabcdefghij";
        let (c1, c2) = (code(seed, 99), code(seed, 100));
        assert_eq!(find_consecutive(seed, 100, 2, &c1, &c2), Some(99));
        assert_eq!(find_consecutive(seed, 200, 2, &c1, &c2), None);
    }

    #[test]
    fn the_qr_code_is_a_png() {
        let png = qr_png("otpauth://totp/a@123456789012?secret=ABC").unwrap();
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
        assert!(png.ends_with(&[0xae, 0x42, 0x60, 0x82]));
    }
}
