//! Cells from the text a snapshot query returns (the text protocol, session time zone UTC)
//! and from column default literals.

use super::{Cell, MySqlType};
use crate::sources::calendar::days_from_civil;

fn number<T: std::str::FromStr>(text: &str) -> Result<T, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("cannot read {text:?} as a number"))
}

/// `HH:MM:SS[.ffffff]` (hours up to 838, optionally negative) as signed microseconds.
fn time_micros(text: &str) -> Option<i64> {
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let mut parts = body.splitn(3, ':');
    let h: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next()?.parse().ok()?;
    let sec = parts.next().unwrap_or("0");
    let (s, frac) = sec.split_once('.').unwrap_or((sec, ""));
    let s: i64 = s.parse().ok()?;
    if frac.len() > 6 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let frac: i64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<6}").parse().ok()?
    };
    let micros = ((h * 60 + m) * 60 + s) * 1_000_000 + frac;
    Some(if negative { -micros } else { micros })
}

/// `YYYY-MM-DD` as its parts.
fn date_parts(text: &str) -> Option<(u32, u32, u32)> {
    let mut parts = text.splitn(3, '-');
    Some((
        parts.next()?.parse().ok()?,
        parts.next()?.parse().ok()?,
        parts.next()?.parse().ok()?,
    ))
}

/// `YYYY-MM-DD HH:MM:SS[.ffffff]` as a date-time cell.
fn datetime(text: &str) -> Option<Cell<'static>> {
    let (date, time) = text.split_once([' ', 'T']).unwrap_or((text, "00:00:00"));
    let (year, month, day) = date_parts(date)?;
    let micros_of_day = u64::try_from(time_micros(time)?).ok()?;
    Some(Cell::DateTime {
        year,
        month,
        day,
        micros_of_day,
    })
}

/// Parses a value's text as the cell the binlog would carry for a column of this type.
pub fn parse_text<'a>(column: &MySqlType, bytes: &'a [u8]) -> Result<Cell<'a>, String> {
    let text = || {
        std::str::from_utf8(bytes).map_err(|_| "the server sent text that is not UTF-8".to_owned())
    };
    let bad = |what: &str| format!("cannot read {:?} as {what}", String::from_utf8_lossy(bytes));
    Ok(match column {
        MySqlType::Int { unsigned: true, .. } => Cell::UInt(number(text()?)?),
        MySqlType::Int { .. } => Cell::Int(number(text()?)?),
        MySqlType::Float => Cell::Float(number(text()?)?),
        MySqlType::Double => Cell::Double(number(text()?)?),
        MySqlType::Decimal { .. } => Cell::Decimal(text()?.trim().to_owned()),
        MySqlType::Date => {
            let (year, month, day) = date_parts(text()?).ok_or_else(|| bad("a date"))?;
            Cell::Date { year, month, day }
        }
        MySqlType::DateTime(_) => datetime(text()?).ok_or_else(|| bad("a datetime"))?,
        MySqlType::Timestamp(_) => match datetime(text()?).ok_or_else(|| bad("a timestamp"))? {
            Cell::DateTime {
                year: 0,
                month: 0,
                day: 0,
                ..
            } => Cell::Timestamp {
                seconds: 0,
                micros: 0,
            },
            Cell::DateTime {
                year,
                month,
                day,
                micros_of_day,
            } => {
                let days = days_from_civil(year as i64, month, day);
                Cell::Timestamp {
                    seconds: days * 86_400 + (micros_of_day / 1_000_000) as i64,
                    micros: (micros_of_day % 1_000_000) as u32,
                }
            }
            _ => unreachable!("datetime() returns DateTime cells"),
        },
        MySqlType::Time(_) => Cell::Time(time_micros(text()?).ok_or_else(|| bad("a time"))?),
        MySqlType::Year => Cell::Year(number(text()?)?),
        MySqlType::Bool | MySqlType::Bits(_) => {
            // The text protocol sends a bit value's bytes; a default literal is b'101'.
            match text().ok().and_then(|t| t.strip_prefix("b'")) {
                Some(_) => return Err(bad("a bit value")),
                None => Cell::Bits(bytes),
            }
        }
        MySqlType::Text(_)
        | MySqlType::Binary { .. }
        | MySqlType::Json
        | MySqlType::Enum(_)
        | MySqlType::Set(_)
        | MySqlType::Point
        | MySqlType::Geometry
        | MySqlType::Unknown(_) => Cell::Bytes(bytes),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporal_text() {
        assert_eq!(time_micros("-838:59:59"), Some(-3_020_399_000_000));
        assert_eq!(time_micros("-00:00:00.000001"), Some(-1));
        assert_eq!(time_micros("12:34:56.789012"), Some(45_296_789_012));
        assert_eq!(
            parse_text(&MySqlType::Timestamp(0), b"1970-01-01 00:00:01"),
            Ok(Cell::Timestamp {
                seconds: 1,
                micros: 0
            })
        );
        assert_eq!(
            parse_text(&MySqlType::DateTime(3), b"2024-01-02 03:04:05.123"),
            Ok(Cell::DateTime {
                year: 2024,
                month: 1,
                day: 2,
                micros_of_day: 11_045_123_000
            })
        );
        assert!(parse_text(&MySqlType::Date, b"x").is_err());
    }
}
