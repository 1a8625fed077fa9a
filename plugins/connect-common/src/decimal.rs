//! Java's `BigDecimal` as far as Connect's `Decimal` logical type needs it: unscaled
//! big-endian two's-complement bytes with a scale, text in and out.

/// A decimal number: `-1^negative × digits × 10^-scale`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BigDecimal {
    negative: bool,
    /// Decimal digits of the unscaled magnitude, without leading zeros (`"0"` for zero).
    digits: String,
    scale: i32,
}

impl BigDecimal {
    /// Zero with scale 0 (`BigDecimal.ZERO`).
    pub fn zero() -> BigDecimal {
        BigDecimal {
            negative: false,
            digits: "0".into(),
            scale: 0,
        }
    }

    /// The decimal a Connect `Decimal` value holds: unscaled two's-complement bytes.
    pub fn from_unscaled_bytes(bytes: &[u8], scale: i32) -> BigDecimal {
        let negative = bytes.first().is_some_and(|b| b & 0x80 != 0);
        let magnitude = if negative {
            negate_twos_complement(bytes)
        } else {
            bytes.to_vec()
        };
        let digits = bytes_to_decimal(&magnitude);
        BigDecimal {
            negative: negative && digits != "0",
            digits,
            scale,
        }
    }

    /// Parses text as `new BigDecimal(String)`: an optional sign, digits with an optional
    /// point, an optional exponent (`1.5`, `-.5`, `12E-3`).
    pub fn parse(text: &str) -> Result<BigDecimal, String> {
        let invalid = || format!("{text:?} is not a decimal number");
        let (negative, rest) = match text.as_bytes().first() {
            Some(b'-') => (true, &text[1..]),
            Some(b'+') => (false, &text[1..]),
            _ => (false, text),
        };
        let (significand, exponent) = match rest.find(['e', 'E']) {
            Some(at) => (&rest[..at], Some(&rest[at + 1..])),
            None => (rest, None),
        };
        let (whole, fraction) = match significand.find('.') {
            Some(at) => (&significand[..at], &significand[at + 1..]),
            None => (significand, ""),
        };
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.len() + fraction.len() == 0 || !all_digits(whole) || !all_digits(fraction) {
            return Err(invalid());
        }
        let exponent: i64 = match exponent {
            None => 0,
            Some(e) => {
                let unsigned = e.strip_prefix(['+', '-']).unwrap_or(e);
                if unsigned.is_empty() || !all_digits(unsigned) {
                    return Err(invalid());
                }
                e.parse::<i32>().map_err(|_| invalid())?.into()
            }
        };
        let scale = i32::try_from(fraction.len() as i64 - exponent).map_err(|_| invalid())?;
        let digits = strip_leading_zeros(&format!("{whole}{fraction}"));
        Ok(BigDecimal {
            negative: negative && digits != "0",
            digits,
            scale,
        })
    }

    /// The scale (digits after the point).
    pub fn scale(&self) -> i32 {
        self.scale
    }

    /// The same number with another scale, if that needs no rounding (`setScale` with
    /// `RoundingMode.UNNECESSARY`).
    pub fn with_scale(&self, scale: i32) -> Option<BigDecimal> {
        let mut out = self.clone();
        out.scale = scale;
        if self.digits == "0" {
            return Some(out);
        }
        let change = i64::from(scale) - i64::from(self.scale);
        if change >= 0 {
            out.digits
                .push_str(&"0".repeat(usize::try_from(change).ok()?));
        } else {
            let drop = usize::try_from(-change).ok()?;
            let keep = self.digits.len().checked_sub(drop)?;
            if !self.digits[keep..].bytes().all(|b| b == b'0') {
                return None;
            }
            out.digits.truncate(keep);
        }
        Some(out)
    }

    /// The unscaled value as `BigInteger.toByteArray()`: minimal big-endian two's complement.
    pub fn to_unscaled_bytes(&self) -> Vec<u8> {
        let mut magnitude = decimal_to_bytes(&self.digits);
        if !self.negative {
            if magnitude.first().is_none_or(|b| b & 0x80 != 0) {
                magnitude.insert(0, 0);
            }
            return magnitude;
        }
        // -m fits in len bytes when m <= 2^(8·len − 1).
        let fits = match magnitude.split_first() {
            Some((&top, rest)) => top < 0x80 || (top == 0x80 && rest.iter().all(|&b| b == 0)),
            None => true,
        };
        if !fits {
            magnitude.insert(0, 0);
        }
        negate_twos_complement(&magnitude)
    }

    /// `BigDecimal.longValue()`: the integer part (truncated), its low 64 bits.
    pub fn long_value(&self) -> i64 {
        let mut value: u64 = 0;
        let digits = self.digits.as_bytes();
        let keep = if self.scale > 0 {
            digits
                .len()
                .saturating_sub(self.scale.unsigned_abs() as usize)
        } else {
            digits.len()
        };
        for &d in &digits[..keep] {
            value = value.wrapping_mul(10).wrapping_add(u64::from(d - b'0'));
        }
        if self.scale < 0 {
            // 10^64 is a multiple of 2^64: more factors of ten leave zero.
            for _ in 0..self.scale.unsigned_abs().min(64) {
                value = value.wrapping_mul(10);
            }
        }
        let value = value as i64;
        if self.negative {
            value.wrapping_neg()
        } else {
            value
        }
    }

    /// `BigDecimal.doubleValue()`: the nearest double.
    pub fn to_f64(&self) -> f64 {
        let sign = if self.negative { "-" } else { "" };
        let text = format!("{sign}{}e{}", self.digits, -i64::from(self.scale));
        text.parse().unwrap_or(f64::NAN)
    }

    /// `BigDecimal.toString()`: plain notation unless the exponent is small, then scientific
    /// notation (`1.5E+3`, `1E-7`).
    pub fn to_java_string(&self) -> String {
        let sign = if self.negative { "-" } else { "" };
        let digits = &self.digits;
        let n = digits.len() as i64;
        let scale = i64::from(self.scale);
        let adjusted = -scale + (n - 1);
        if scale >= 0 && adjusted >= -6 {
            if scale == 0 {
                return format!("{sign}{digits}");
            }
            let point = n - scale;
            return if point > 0 {
                let (int, frac) = digits.split_at(point as usize);
                format!("{sign}{int}.{frac}")
            } else {
                format!("{sign}0.{}{digits}", "0".repeat((-point) as usize))
            };
        }
        let (first, rest) = digits.split_at(1);
        let point = if rest.is_empty() { "" } else { "." };
        let exp_sign = if adjusted >= 0 { "+" } else { "" };
        format!("{sign}{first}{point}{rest}E{exp_sign}{adjusted}")
    }
}

fn strip_leading_zeros(digits: &str) -> String {
    let stripped = digits.trim_start_matches('0');
    if stripped.is_empty() {
        "0".into()
    } else {
        stripped.into()
    }
}

/// Two's-complement negation of a big-endian byte string (same length).
fn negate_twos_complement(bytes: &[u8]) -> Vec<u8> {
    let mut out: Vec<u8> = bytes.iter().map(|b| !b).collect();
    for b in out.iter_mut().rev() {
        let (sum, carry) = b.overflowing_add(1);
        *b = sum;
        if !carry {
            break;
        }
    }
    out
}

/// Big-endian unsigned bytes to decimal digits.
fn bytes_to_decimal(bytes: &[u8]) -> String {
    // Little-endian base-2^32 limbs.
    let mut limbs: Vec<u32> = bytes
        .rchunks(4)
        .map(|chunk| chunk.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b)))
        .collect();
    let mut groups = Vec::new();
    while limbs.iter().any(|&l| l != 0) {
        let mut rem: u64 = 0;
        for limb in limbs.iter_mut().rev() {
            let cur = (rem << 32) | u64::from(*limb);
            *limb = (cur / 1_000_000_000) as u32;
            rem = cur % 1_000_000_000;
        }
        groups.push(rem as u32);
        while limbs.last() == Some(&0) {
            limbs.pop();
        }
    }
    match groups.split_last() {
        None => "0".into(),
        Some((top, rest)) => {
            let mut out = top.to_string();
            for g in rest.iter().rev() {
                out.push_str(&format!("{g:09}"));
            }
            out
        }
    }
}

/// Decimal digits to minimal big-endian unsigned bytes (empty for zero).
fn decimal_to_bytes(digits: &str) -> Vec<u8> {
    let mut limbs: Vec<u32> = Vec::new();
    let bytes = digits.as_bytes();
    let first = bytes.len() % 9;
    let chunks = std::iter::once(&bytes[..first]).chain(bytes[first..].chunks(9));
    for chunk in chunks.filter(|c| !c.is_empty()) {
        let chunk_value = chunk
            .iter()
            .fold(0u64, |acc, &d| acc * 10 + u64::from(d - b'0'));
        let multiplier = 10u64.pow(chunk.len() as u32);
        let mut carry = chunk_value;
        for limb in limbs.iter_mut() {
            let cur = u64::from(*limb) * multiplier + carry;
            *limb = cur as u32;
            carry = cur >> 32;
        }
        if carry != 0 {
            limbs.push(carry as u32);
        }
    }
    let mut out: Vec<u8> = limbs.iter().rev().flat_map(|l| l.to_be_bytes()).collect();
    let leading = out.iter().take_while(|&&b| b == 0).count();
    out.drain(..leading);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(bytes: &[u8], scale: i32) -> String {
        BigDecimal::from_unscaled_bytes(bytes, scale).to_java_string()
    }

    #[test]
    fn unscaled_bytes_read_as_java_does() {
        assert_eq!(text(&[0x27, 0x42], 2), "100.50"); // 10050
        assert_eq!(text(&[0xfd, 0x2b], 2), "-7.25"); // -725
        assert_eq!(text(&[0x00], 2), "0.00");
        assert_eq!(text(&[0x80], 0), "-128");
        assert_eq!(text(&[0x01], 9), "1E-9");
        assert_eq!(text(&[0x0c], -3), "1.2E+4");
        assert_eq!(
            text(&[0x01, 0, 0, 0, 0, 0, 0, 0, 0], 0),
            "18446744073709551616"
        );
    }

    #[test]
    fn text_round_trips_through_bytes() {
        for (s, bytes) in [
            ("100.50", vec![0x27, 0x42]),
            ("-7.25", vec![0xfd, 0x2b]),
            ("0", vec![0]),
            ("128", vec![0, 0x80]),
            ("-128", vec![0x80]),
            ("-129", vec![0xff, 0x7f]),
            ("-256", vec![0xff, 0x00]),
            (
                "12345678901234567890",
                vec![0, 0xab, 0x54, 0xa9, 0x8c, 0xeb, 0x1f, 0x0a, 0xd2],
            ),
        ] {
            let d = BigDecimal::parse(s).unwrap();
            assert_eq!(d.to_unscaled_bytes(), bytes, "{s}");
            assert_eq!(BigDecimal::from_unscaled_bytes(&bytes, d.scale()), d, "{s}");
        }
    }

    #[test]
    fn parses_java_grammar_only() {
        let d = BigDecimal::parse("-1.5E3").unwrap();
        assert_eq!((d.to_java_string(), d.scale()), ("-1.5E+3".into(), -2));
        assert_eq!(BigDecimal::parse(".5").unwrap().to_java_string(), "0.5");
        assert_eq!(BigDecimal::parse("+0.00").unwrap().to_java_string(), "0.00");
        for bad in ["", "-", "1e", "abc", " 1", "1.2.3", "NaN", "0x10", "1e+"] {
            assert!(BigDecimal::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn numeric_views_truncate_like_java() {
        let p = |s: &str| BigDecimal::parse(s).unwrap();
        assert_eq!(p("12.7").long_value(), 12);
        assert_eq!(p("-12.7").long_value(), -12);
        assert_eq!(p("3000000000").long_value(), 3_000_000_000);
        assert_eq!(p("1e2").long_value(), 100);
        assert_eq!(p("18446744073709551617").long_value(), 1);
        assert_eq!(p("1e70").long_value(), 0);
        assert_eq!(p("0.1").to_f64(), 0.1);
        assert_eq!(p("-2.5e-3").to_f64(), -0.0025);
    }

    #[test]
    fn rescaling_never_rounds() {
        let p = |s: &str| BigDecimal::parse(s).unwrap();
        assert_eq!(p("0").with_scale(2).unwrap().to_java_string(), "0.00");
        assert_eq!(p("1.5").with_scale(2).unwrap().to_java_string(), "1.50");
        assert_eq!(p("1.500").with_scale(2).unwrap().to_java_string(), "1.50");
        assert_eq!(p("1.234").with_scale(2), None);
        assert_eq!(p("100").with_scale(-2).unwrap().to_java_string(), "1E+2");
    }
}
