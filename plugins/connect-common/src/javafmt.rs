//! Java's `Double.toString` and `Float.toString` (the shortest digits that read back to the
//! same number, as JDK 19 and later print them).

/// `Double.toString(value)`.
pub fn double_to_string(value: f64) -> String {
    if value.is_nan() {
        return "NaN".into();
    }
    if value.is_infinite() {
        return if value > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    java_text(
        value == 0.0,
        value.is_sign_negative(),
        &format!("{value:e}"),
    )
}

/// `Float.toString(value)`.
pub fn float_to_string(value: f32) -> String {
    if value.is_nan() {
        return "NaN".into();
    }
    if value.is_infinite() {
        return if value > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    java_text(
        value == 0.0,
        value.is_sign_negative(),
        &format!("{value:e}"),
    )
}

/// Lays out Rust's shortest scientific form (`-1.25e-4`) as Java does: plain notation for
/// magnitudes in [10^-3, 10^7), else `d.dddE±n`; always a digit after the point.
fn java_text(zero: bool, negative: bool, scientific: &str) -> String {
    let sign = if negative { "-" } else { "" };
    if zero {
        return format!("{sign}0.0");
    }
    let unsigned = scientific.trim_start_matches('-');
    let (mantissa, exponent) = unsigned.split_once('e').unwrap_or((unsigned, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let (first, rest) = digits.split_at(1.min(digits.len()));
    if (-3..7).contains(&exponent) {
        if exponent >= 0 {
            let int_len = exponent as usize + 1;
            let mut int_part = digits.chars().take(int_len).collect::<String>();
            while int_part.len() < int_len {
                int_part.push('0');
            }
            let frac: String = digits.chars().skip(int_len).collect();
            let frac = if frac.is_empty() { "0".into() } else { frac };
            format!("{sign}{int_part}.{frac}")
        } else {
            let zeros = "0".repeat((-exponent - 1) as usize);
            format!("{sign}0.{zeros}{digits}")
        }
    } else {
        let rest = if rest.is_empty() { "0" } else { rest };
        format!("{sign}{first}.{rest}E{exponent}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_print_as_java() {
        for (v, s) in [
            (100.0, "100.0"),
            (1.5, "1.5"),
            (-0.25, "-0.25"),
            (0.001, "0.001"),
            (0.0001, "1.0E-4"),
            (1.0e7, "1.0E7"),
            (1234567.0, "1234567.0"),
            (1.2345e-5, "1.2345E-5"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1e21, "1.0E21"),
            (123456789.0, "1.23456789E8"),
            (f64::NAN, "NaN"),
            (f64::NEG_INFINITY, "-Infinity"),
        ] {
            assert_eq!(double_to_string(v), s, "{v}");
        }
    }

    #[test]
    fn floats_use_float_digits() {
        assert_eq!(float_to_string(0.1), "0.1");
        assert_eq!(float_to_string(3.4028235e38), "3.4028235E38");
        assert_eq!(float_to_string(-2.5e-2), "-0.025");
    }
}
