//! Dates, times, timestamps and intervals from Postgres' text output (DateStyle ISO,
//! TimeZone UTC, IntervalStyle iso_8601), converted the way Debezium converts them.

/// `timestamp 'infinity'` as Debezium writes it (pgjdbc's constant, read as microseconds).
pub const TIMESTAMP_INFINITY_MICROS: i64 = 9_223_372_036_825_200_000;
/// `timestamp '-infinity'` as Debezium writes it.
pub const TIMESTAMP_NEG_INFINITY_MICROS: i64 = -9_223_372_036_832_400_000;

use crate::sources::calendar::{civil_from_days, days_from_civil};

/// `YYYY-MM-DD` (with ` BC` for years before 1) as days since the epoch.
pub fn parse_date(text: &str) -> Option<i64> {
    let (text, bc) = match text.strip_suffix(" BC") {
        Some(t) => (t, true),
        None => (text, false),
    };
    let mut parts = text.splitn(3, '-');
    let year: i64 = parts.next()?.parse().ok()?;
    let month: u32 = parts.next()?.parse().ok()?;
    let day: u32 = parts.next()?.parse().ok()?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let year = if bc { 1 - year } else { year };
    Some(days_from_civil(year, month, day))
}

/// `HH:MM:SS[.ffffff]` as microseconds past midnight (`24:00:00` allowed).
pub fn parse_time(text: &str) -> Option<i64> {
    let mut parts = text.splitn(3, ':');
    let h: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next()?.parse().ok()?;
    let sec = parts.next()?;
    let (s, frac) = sec.split_once('.').unwrap_or((sec, ""));
    let s: i64 = s.parse().ok()?;
    Some(((h * 60 + m) * 60 + s) * 1_000_000 + fraction_micros(frac)?)
}

fn fraction_micros(frac: &str) -> Option<i64> {
    if frac.is_empty() {
        return Some(0);
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let six: String = frac.chars().chain(std::iter::repeat('0')).take(6).collect();
    six.parse().ok()
}

/// `YYYY-MM-DD HH:MM:SS[.ffffff][ BC]` as microseconds since the epoch; infinities as
/// Debezium's constants.
pub fn parse_timestamp(text: &str) -> Option<i64> {
    match text {
        "infinity" => return Some(TIMESTAMP_INFINITY_MICROS),
        "-infinity" => return Some(TIMESTAMP_NEG_INFINITY_MICROS),
        _ => {}
    }
    let (text, bc) = match text.strip_suffix(" BC") {
        Some(t) => (t, " BC"),
        None => (text, ""),
    };
    let (date, time) = text.split_once(' ')?;
    Some(parse_date(&format!("{date}{bc}"))? * 86_400_000_000 + parse_time(time)?)
}

/// Splits a trailing UTC offset (`+05:30`, `-08`, `+05:45:10`) off a time, in seconds east.
fn split_offset(text: &str) -> Option<(&str, i64)> {
    let at = text.rfind(['+', '-'])?;
    let (time, offset) = text.split_at(at);
    let sign = if offset.starts_with('-') { -1 } else { 1 };
    let mut parts = offset[1..].split(':');
    let h: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next().map(str::parse).transpose().ok()?.unwrap_or(0);
    let s: i64 = parts.next().map(str::parse).transpose().ok()?.unwrap_or(0);
    Some((time, sign * (h * 3600 + m * 60 + s)))
}

/// A `timestamptz` in UTC text (`2024-01-02 03:04:05.123456+00`) as Debezium's
/// ZonedTimestamp: ISO 8601 in UTC with exactly `precision` fraction digits and `Z`;
/// infinities as Postgres writes them.
pub fn zoned_timestamp(text: &str, precision: u32) -> Option<String> {
    if text == "infinity" || text == "-infinity" {
        return Some(text.to_owned());
    }
    let (body, bc) = match text.strip_suffix(" BC") {
        Some(t) => (t, " BC"),
        None => (text, ""),
    };
    let (local, offset) = split_offset(body)?;
    let micros = parse_timestamp(&format!("{local}{bc}"))? - offset * 1_000_000;
    let days = micros.div_euclid(86_400_000_000);
    let of_day = micros.rem_euclid(86_400_000_000);
    let (year, month, day) = civil_from_days(days);
    let secs = of_day / 1_000_000;
    let year_text = if year > 9999 {
        format!("+{year}")
    } else if year < 0 {
        format!("-{:04}", -year)
    } else {
        format!("{year:04}")
    };
    let mut out = format!(
        "{year_text}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    );
    if precision > 0 {
        let frac = format!("{:06}", of_day % 1_000_000);
        out.push('.');
        out.push_str(&frac[..precision.min(6) as usize]);
    }
    out.push('Z');
    Some(out)
}

/// A `timetz` (`12:34:56.789+05:30`) as Debezium's ZonedTime: shifted to UTC, fraction
/// without trailing zeros, `Z`.
pub fn zoned_time(text: &str) -> Option<String> {
    let (time, offset) = split_offset(text)?;
    let micros = (parse_time(time)? - offset * 1_000_000).rem_euclid(86_400_000_000);
    let secs = micros / 1_000_000;
    let mut out = format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60);
    let frac = micros % 1_000_000;
    if frac != 0 {
        let digits = format!("{frac:06}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
    out.push('Z');
    Some(out)
}

/// An ISO 8601 interval as Postgres writes it (`P1Y2M3DT4H5M6.789S`, `P-1DT-2H-3M-4.000005S`)
/// as Debezium's MicroDuration: 30.4375 days a month, computed in double precision and
/// truncated (saturating), exactly as Debezium computes it.
pub fn interval_micros(text: &str) -> Option<i64> {
    let body = text.strip_prefix('P')?;
    let (date, time) = body.split_once('T').unwrap_or((body, ""));
    let (mut years, mut months, mut days, mut hours, mut minutes) = (0i32, 0i32, 0i32, 0i32, 0i32);
    let mut seconds = 0f64;
    for (unit, number) in components(date)? {
        let n: i32 = number.parse().ok()?;
        match unit {
            'Y' => years = n,
            'M' => months = n,
            'W' => days = days.checked_add(n.checked_mul(7)?)?,
            'D' => days = days.checked_add(n)?,
            _ => return None,
        }
    }
    for (unit, number) in components(time)? {
        match unit {
            'H' => hours = number.parse().ok()?,
            'M' => minutes = number.parse().ok()?,
            'S' => seconds = number.parse().ok()?,
            _ => return None,
        }
    }
    let days_total =
        (years.wrapping_mul(12).wrapping_add(months)) as f64 * (365.25 / 12.0) + days as f64;
    let seconds_total =
        ((days_total * 24.0 + hours as f64) * 60.0 + minutes as f64) * 60.0 + seconds;
    Some((seconds_total * 1e6) as i64)
}

/// Splits `1Y-2M3D` into `(unit, number)` pairs.
fn components(text: &str) -> Option<Vec<(char, &str)>> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, c) in text.char_indices() {
        if c.is_ascii_alphabetic() {
            out.push((c, text.get(start..i)?));
            start = i + 1;
        }
    }
    (start == text.len()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_times() {
        assert_eq!(parse_date("1970-01-02"), Some(1));
        assert_eq!(parse_date("1969-07-20"), Some(-165));
        assert_eq!(parse_date("0001-01-01"), Some(-719162));
        assert_eq!(parse_time("24:00:00"), Some(86_400_000_000));
        assert_eq!(parse_time("13:45:30.123456"), Some(49_530_123_456));
        assert_eq!(
            parse_timestamp("1965-03-04 05:06:07.123456"),
            Some(-152_391_232_876_544)
        );
        assert_eq!(parse_timestamp("infinity"), Some(TIMESTAMP_INFINITY_MICROS));
        assert_eq!(parse_time("12:xx:00"), None);
    }

    #[test]
    fn zoned_values_are_utc() {
        assert_eq!(
            zoned_timestamp("2024-01-02 01:04:05.123456+00", 6).as_deref(),
            Some("2024-01-02T01:04:05.123456Z")
        );
        assert_eq!(
            zoned_timestamp("2023-12-31 21:59:59+00", 6).as_deref(),
            Some("2023-12-31T21:59:59.000000Z")
        );
        assert_eq!(
            zoned_timestamp("2024-01-01 05:30:00.1+05:30", 3).as_deref(),
            Some("2024-01-01T00:00:00.100Z")
        );
        assert_eq!(
            zoned_timestamp("2024-01-01 00:00:00+00", 0).as_deref(),
            Some("2024-01-01T00:00:00Z")
        );
        assert_eq!(
            zoned_time("12:34:56.789+05:30").as_deref(),
            Some("07:04:56.789Z")
        );
        assert_eq!(
            zoned_time("23:59:59.999999-14:59").as_deref(),
            Some("14:58:59.999999Z")
        );
        assert_eq!(zoned_time("00:00:00+00").as_deref(), Some("00:00:00Z"));
    }

    #[test]
    fn intervals_as_debezium_computes_them() {
        assert_eq!(
            interval_micros("P1Y2M3DT4H5M6.789S"),
            Some(37_091_106_789_000)
        );
        assert_eq!(
            interval_micros("P-1DT-2H-3M-4.000005S"),
            Some(-93_784_000_005)
        );
        assert_eq!(interval_micros("P-178000000Y"), Some(i64::MIN));
        assert_eq!(interval_micros("PT0S"), Some(0));
        assert_eq!(interval_micros("1 day"), None);
    }
}
