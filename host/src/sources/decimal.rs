//! Decimal numbers of any size as Kafka Connect's Decimal carries them: the unscaled value
//! as minimal big-endian two's complement bytes, and a scale.

/// A decimal number of any size: sign, digits of the unscaled value, scale.
#[derive(Debug, Clone, PartialEq)]
pub struct Decimal {
    pub negative: bool,
    /// Decimal digits of the unscaled value, without leading zeros ("" for zero).
    pub digits: String,
    pub scale: u32,
}

impl Decimal {
    /// Parses `-123.4500` (an exponent such as `1.5E+2` too).
    pub fn parse(text: &str) -> Result<Decimal, String> {
        let bad = || format!("cannot read {text:?} as a decimal");
        let (negative, body) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.strip_prefix('+').unwrap_or(text)),
        };
        let (mantissa, exponent) = match body.split_once(['e', 'E']) {
            Some((m, e)) => (m, e.parse::<i64>().map_err(|_| bad())?),
            None => (body, 0),
        };
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        if int.is_empty() && frac.is_empty()
            || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        let mut digits = format!("{int}{frac}");
        let mut scale = frac.len() as i64 - exponent;
        if scale < 0 {
            digits.extend(std::iter::repeat_n('0', (-scale) as usize));
            scale = 0;
        }
        let digits = digits.trim_start_matches('0').to_owned();
        Ok(Decimal {
            negative: negative && !digits.is_empty(),
            digits,
            scale: u32::try_from(scale).map_err(|_| bad())?,
        })
    }

    /// The same number at `scale` fraction digits; fails if that would drop nonzero digits.
    pub fn rescale(mut self, scale: u32, text: &str) -> Result<Decimal, String> {
        if scale >= self.scale {
            if !self.digits.is_empty() {
                self.digits
                    .extend(std::iter::repeat_n('0', (scale - self.scale) as usize));
            }
        } else {
            let drop = (self.scale - scale) as usize;
            let keep = self.digits.len().saturating_sub(drop);
            if self.digits[keep..].bytes().any(|b| b != b'0') {
                return Err(format!(
                    "{text:?} has more fraction digits than the column's scale {scale}"
                ));
            }
            self.digits.truncate(keep);
        }
        self.scale = scale;
        Ok(self)
    }

    /// Java's `stripTrailingZeros`, with a scale never below zero.
    pub fn strip_trailing_zeros(mut self) -> Decimal {
        while self.scale > 0 && self.digits.ends_with('0') {
            self.digits.pop();
            self.scale -= 1;
        }
        if self.digits.is_empty() {
            self.scale = 0;
        }
        self
    }

    /// Java's `BigInteger.toByteArray` of the unscaled value: minimal big-endian two's
    /// complement.
    pub fn unscaled_bytes(&self) -> Vec<u8> {
        // Magnitude in base 256, little-endian, by schoolbook multiply-and-add.
        let mut magnitude: Vec<u8> = Vec::with_capacity(self.digits.len() / 2 + 1);
        for d in self.digits.bytes() {
            let mut carry = (d - b'0') as u32;
            for byte in magnitude.iter_mut() {
                let v = *byte as u32 * 10 + carry;
                *byte = v as u8;
                carry = v >> 8;
            }
            while carry > 0 {
                magnitude.push(carry as u8);
                carry >>= 8;
            }
        }
        // One more byte so the sign bit is free, then two's complement if negative.
        magnitude.push(0);
        if self.negative {
            let mut carry = 1u16;
            for byte in magnitude.iter_mut() {
                let v = (!*byte) as u16 + carry;
                *byte = v as u8;
                carry = v >> 8;
            }
        }
        magnitude.reverse();
        let mut start = 0;
        while start + 1 < magnitude.len() {
            let (b, next) = (magnitude[start], magnitude[start + 1]);
            let redundant = (b == 0x00 && next & 0x80 == 0) || (b == 0xff && next & 0x80 != 0);
            if !redundant {
                break;
            }
            start += 1;
        }
        magnitude.split_off(start)
    }
}
