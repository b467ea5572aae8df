//! DynamoDB numbers: exact decimals of up to 38 significant digits, magnitudes from
//! 1E-130 to 9.9999999999999999999999999999999999999E+125, with AWS's errors.

use std::cmp::Ordering;

/// `±mant × 10^exp`, normalized: `mant` has no trailing zeros, and zero is `(false, 0, 0)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Decimal {
    neg: bool,
    mant: u128,
    exp: i32,
}

pub const MAX_DIGITS: u32 = 38;

fn digits(mut m: u128) -> u32 {
    let mut n = 0;
    while m > 0 {
        m /= 10;
        n += 1;
    }
    n
}

impl Decimal {
    pub const ZERO: Decimal = Decimal {
        neg: false,
        mant: 0,
        exp: 0,
    };

    fn normalized(neg: bool, mut mant: u128, mut exp: i32) -> Decimal {
        if mant == 0 {
            return Decimal::ZERO;
        }
        while mant.is_multiple_of(10) {
            mant /= 10;
            exp += 1;
        }
        Decimal { neg, mant, exp }
    }

    pub fn from_i64(v: i64) -> Decimal {
        Decimal::normalized(v < 0, v.unsigned_abs() as u128, 0)
    }

    pub fn is_zero(&self) -> bool {
        self.mant == 0
    }

    /// Significant digits (0 for zero).
    pub fn significant_digits(&self) -> u32 {
        digits(self.mant)
    }

    /// The exponent in scientific notation (`1.5E+3` has 3).
    fn sci_exp(&self) -> i32 {
        self.exp + digits(self.mant) as i32 - 1
    }

    /// Parses the wire form, with AWS's validation errors.
    pub fn parse(text: &str) -> Result<Decimal, String> {
        let invalid = || format!("The parameter cannot be converted to a numeric value: {text}");
        let s = text.trim();
        let (neg, body) = match s.as_bytes().first() {
            Some(b'-') => (true, &s[1..]),
            Some(b'+') => (false, &s[1..]),
            _ => (false, s),
        };
        let (mantissa, exponent) = match body.find(['e', 'E']) {
            Some(i) => (&body[..i], Some(&body[i + 1..])),
            None => (body, None),
        };
        let (int_part, frac_part) = match mantissa.find('.') {
            Some(i) => (&mantissa[..i], &mantissa[i + 1..]),
            None => (mantissa, ""),
        };
        if (int_part.is_empty() && frac_part.is_empty())
            || !int_part.bytes().all(|b| b.is_ascii_digit())
            || !frac_part.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(invalid());
        }
        let mut exp: i64 = match exponent {
            Some(e) => {
                let digits_part = e.strip_prefix(['+', '-']).unwrap_or(e);
                if digits_part.is_empty() || !digits_part.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(invalid());
                }
                // Absurd exponents are out of range either way; clamp before parsing.
                if digits_part.len() > 9 {
                    if e.starts_with('-') {
                        -1_000_000_000
                    } else {
                        1_000_000_000
                    }
                } else {
                    e.parse::<i64>().map_err(|_| invalid())?
                }
            }
            None => 0,
        };
        exp -= frac_part.len() as i64;
        let all = int_part.bytes().chain(frac_part.bytes());
        let mut sig: Vec<u8> = all.skip_while(|&b| b == b'0').collect();
        while sig.last() == Some(&b'0') {
            sig.pop();
            exp += 1;
        }
        if sig.is_empty() {
            return Ok(Decimal::ZERO);
        }
        if sig.len() > MAX_DIGITS as usize {
            return Err("Attempting to store more than 38 significant digits in a Number".into());
        }
        let mant = sig
            .iter()
            .fold(0u128, |m, &b| m * 10 + u128::from(b - b'0'));
        let sci = exp + sig.len() as i64 - 1;
        check_range(sci)?;
        Ok(Decimal {
            neg,
            mant,
            exp: exp as i32,
        })
    }

    fn check(self) -> Result<Decimal, String> {
        if self.mant == 0 {
            return Ok(self);
        }
        if self.significant_digits() > MAX_DIGITS {
            return Err("Attempting to store more than 38 significant digits in a Number".into());
        }
        check_range(i64::from(self.sci_exp()))?;
        Ok(self)
    }

    pub fn add(self, other: Decimal) -> Result<Decimal, String> {
        if self.is_zero() {
            return Ok(other);
        }
        if other.is_zero() {
            return Ok(self);
        }
        let exp = self.exp.min(other.exp);
        let scale = |d: Decimal| -> Option<i128> {
            let shift = u32::try_from(d.exp - exp).ok()?;
            let m = i128::try_from(d.mant)
                .ok()?
                .checked_mul(10i128.checked_pow(shift)?)?;
            Some(if d.neg { -m } else { m })
        };
        let too_precise =
            || "Attempting to store more than 38 significant digits in a Number".to_owned();
        let a = scale(self).ok_or_else(too_precise)?;
        let b = scale(other).ok_or_else(too_precise)?;
        let sum = a.checked_add(b).ok_or_else(too_precise)?;
        Decimal::normalized(sum < 0, sum.unsigned_abs(), exp).check()
    }

    pub fn neg(self) -> Decimal {
        if self.is_zero() {
            self
        } else {
            Decimal {
                neg: !self.neg,
                ..self
            }
        }
    }

    /// The integer part (truncated toward zero), if it fits in an i64.
    pub fn trunc_i64(&self) -> Option<i64> {
        let m = if self.exp >= 0 {
            self.mant
                .checked_mul(10u128.checked_pow(self.exp as u32)?)?
        } else {
            match 10u128.checked_pow(self.exp.unsigned_abs()) {
                Some(d) => self.mant / d,
                None => 0,
            }
        };
        let v = i64::try_from(m).ok()?;
        Some(if self.neg { -v } else { v })
    }

    pub fn sub(self, other: Decimal) -> Result<Decimal, String> {
        self.add(other.neg())
    }

    /// A compact binary form for item storage: a sign byte, the zigzag exponent and the
    /// mantissa as varints (`12345` takes 4 bytes instead of 6 as text).
    pub fn encode_compact(&self, out: &mut Vec<u8>) {
        out.push(u8::from(self.neg));
        let z = ((self.exp << 1) ^ (self.exp >> 31)) as u32;
        put_varint(out, u128::from(z));
        put_varint(out, self.mant);
    }

    /// Reads [`Decimal::encode_compact`]'s form at `b[*i..]`, advancing `i`.
    pub fn decode_compact(b: &[u8], i: &mut usize) -> Option<Decimal> {
        let neg = *b.get(*i)? != 0;
        *i += 1;
        let z = u32::try_from(get_varint(b, i)?).ok()?;
        let exp = ((z >> 1) as i32) ^ -((z & 1) as i32);
        let mant = get_varint(b, i)?;
        if mant == 0 {
            return Some(Decimal::ZERO);
        }
        if digits(mant) > MAX_DIGITS {
            return None;
        }
        Some(Decimal { neg, mant, exp })
    }

    /// Significant digits of the compact form at `b[*i..]` without building the number.
    pub fn compact_digits(b: &[u8], i: &mut usize) -> Option<u32> {
        *i += 1;
        get_varint(b, i)?;
        Some(digits(get_varint(b, i)?))
    }

    /// Bytes that sort as the numbers do, for sort keys in ordered maps.
    pub fn sortable_bytes(&self, out: &mut Vec<u8>) {
        if self.is_zero() {
            out.push(0x80);
            return;
        }
        let e = (self.sci_exp() + 10_000) as u16;
        let text = self.mant.to_string();
        if self.neg {
            out.push(0x40);
            out.extend_from_slice(&(!e).to_be_bytes());
            out.extend(text.bytes().map(|b| 0xFE - (b - b'0')));
            out.push(0xFF);
        } else {
            out.push(0xC0);
            out.extend_from_slice(&e.to_be_bytes());
            out.extend(text.bytes().map(|b| b - b'0' + 1));
        }
    }
}

fn put_varint(out: &mut Vec<u8>, mut n: u128) {
    loop {
        let b = (n & 0x7F) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn get_varint(b: &[u8], i: &mut usize) -> Option<u128> {
    let mut n = 0u128;
    let mut shift = 0;
    loop {
        let x = *b.get(*i)?;
        *i += 1;
        n |= u128::from(x & 0x7F) << shift;
        if x & 0x80 == 0 {
            return Some(n);
        }
        shift += 7;
        if shift > 126 {
            return None;
        }
    }
}

fn check_range(sci: i64) -> Result<(), String> {
    if sci > 125 {
        return Err(
            "Number overflow. Attempting to store a number with magnitude larger than supported range"
                .into(),
        );
    }
    if sci < -130 {
        return Err(
            "Number underflow. Attempting to store a number with magnitude smaller than supported range"
                .into(),
        );
    }
    Ok(())
}

impl Ord for Decimal {
    fn cmp(&self, other: &Decimal) -> Ordering {
        let sign = |d: &Decimal| {
            if d.is_zero() {
                0
            } else if d.neg {
                -1
            } else {
                1
            }
        };
        let (sa, sb) = (sign(self), sign(other));
        if sa != sb || sa == 0 {
            return sa.cmp(&sb);
        }
        let magnitude = self.sci_exp().cmp(&other.sci_exp()).then_with(|| {
            // Same leading exponent: compare digit strings left-aligned.
            let (a, b) = (self.mant.to_string(), other.mant.to_string());
            a.cmp(&b)
        });
        if sa < 0 {
            magnitude.reverse()
        } else {
            magnitude
        }
    }
}

impl PartialOrd for Decimal {
    fn partial_cmp(&self, other: &Decimal) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Decimal {
    /// Appends the number in plain notation without exponent, as DynamoDB returns numbers
    /// (answers write many, so without the formatting machinery).
    pub fn push_to(&self, out: &mut String) {
        if self.is_zero() {
            out.push('0');
            return;
        }
        if self.neg {
            out.push('-');
        }
        let mut digits = itoa::Buffer::new();
        let d = digits.format(self.mant);
        if self.exp >= 0 {
            out.push_str(d);
            out.extend(std::iter::repeat_n('0', self.exp as usize));
        } else {
            let frac = (-self.exp) as usize;
            if d.len() > frac {
                let (i, r) = d.split_at(d.len() - frac);
                out.push_str(i);
                out.push('.');
                out.push_str(r);
            } else {
                out.push_str("0.");
                out.extend(std::iter::repeat_n('0', frac - d.len()));
                out.push_str(d);
            }
        }
    }
}

impl std::fmt::Display for Decimal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut text = String::with_capacity(24);
        self.push_to(&mut text);
        f.write_str(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::parse(s).unwrap()
    }

    #[test]
    fn parses_and_normalizes() {
        assert_eq!(d("1.0").to_string(), "1");
        assert_eq!(d("-0.00").to_string(), "0");
        assert_eq!(d("1e2").to_string(), "100");
        assert_eq!(d("0012.3400").to_string(), "12.34");
        assert_eq!(d(".5").to_string(), "0.5");
        assert_eq!(d("-1.5E-3").to_string(), "-0.0015");
        assert!(Decimal::parse("abc").is_err());
        assert!(Decimal::parse("1.2.3").is_err());
        assert!(Decimal::parse("").is_err());
        assert!(Decimal::parse("1e").is_err());
    }

    #[test]
    fn limits() {
        assert!(Decimal::parse("9.9999999999999999999999999999999999999E+125").is_ok());
        assert!(
            Decimal::parse("1E+126")
                .unwrap_err()
                .starts_with("Number overflow")
        );
        assert!(Decimal::parse("1E-130").is_ok());
        assert!(
            Decimal::parse("1E-131")
                .unwrap_err()
                .starts_with("Number underflow")
        );
        assert!(
            Decimal::parse("123456789012345678901234567890123456789")
                .unwrap_err()
                .contains("38 significant")
        );
        assert!(Decimal::parse("12345678901234567890123456789012345678000000").is_ok());
    }

    #[test]
    fn truncates_to_integers() {
        assert_eq!(d("1700000000.9").trunc_i64(), Some(1_700_000_000));
        assert_eq!(d("-2.5").trunc_i64(), Some(-2));
        assert_eq!(d("1E3").trunc_i64(), Some(1000));
        assert_eq!(d("1E-100").trunc_i64(), Some(0));
        assert_eq!(d("1E30").trunc_i64(), None);
    }

    #[test]
    fn exact_arithmetic() {
        assert_eq!(d("0.1").add(d("0.2")).unwrap(), d("0.3"));
        assert_eq!(d("10").sub(d("10.5")).unwrap().to_string(), "-0.5");
        assert!(d("1E+100").add(d("1")).is_err());
        assert_eq!(
            d("1E+100").add(d("1E+100")).unwrap().to_string(),
            "2".to_owned() + &"0".repeat(100)
        );
    }

    #[test]
    fn ordering_and_sortable_bytes_agree() {
        let vals = [
            "-1E+10", "-100", "-12", "-1.2", "-1", "-0.5", "0", "1E-130", "0.5", "1", "1.2", "12",
            "100", "1E+10",
        ];
        for w in vals.windows(2) {
            let (a, b) = (d(w[0]), d(w[1]));
            assert!(a < b, "{a} < {b}");
            let (mut ba, mut bb) = (Vec::new(), Vec::new());
            a.sortable_bytes(&mut ba);
            b.sortable_bytes(&mut bb);
            assert!(ba < bb, "{a} < {b} bytewise");
        }
    }
}
