//! Cells converted to the Connect values of [`MySqlType::schema`], as Debezium converts them.

use base64::Engine as _;

use super::{Cell, MySqlType};
use crate::event::Value;
use crate::sources::calendar::{civil_from_days, days_from_civil};
use crate::sources::decimal::Decimal;
use crate::sources::mysql::config::{BigintUnsignedMode, TypeModes};
use crate::sources::options::{BinaryMode, DecimalMode, TimeMode};

/// Converts a cell to the Connect value of a column of type `column`. `snapshot` selects
/// Debezium's snapshot rendering of timestamps (it reads them through JDBC, which writes
/// the fraction without trailing zeros, where the binlog reader writes `fsp` digits).
pub fn value(
    column: &MySqlType,
    cell: &Cell,
    modes: &TypeModes,
    snapshot: bool,
) -> Result<Value, String> {
    let mismatch = || format!("a {cell:?} value does not fit a {column:?} column");
    Ok(match (column, cell) {
        (_, Cell::Null) => Value::Null,
        (MySqlType::Int { bytes, unsigned }, Cell::Int(_) | Cell::UInt(_)) => {
            // A binlog image holds the raw bytes: signed values are sign-extended here.
            let bits = *bytes as u32 * 8;
            let (signed, raw) = match *cell {
                Cell::Int(v) => (v, v as u64),
                Cell::UInt(v) if *unsigned || bits >= 64 => (v as i64, v),
                Cell::UInt(v) => {
                    let shift = 64 - bits;
                    (((v << shift) as i64) >> shift, v)
                }
                _ => unreachable!("matched Int or UInt"),
            };
            match (bytes, unsigned) {
                (1, _) | (2, false) => Value::Int16(signed as i16),
                (2, true) | (3, _) | (4, false) => Value::Int32(signed as i32),
                (4, true) => Value::Int64(raw as u32 as i64),
                (8, true) if modes.bigint_unsigned == BigintUnsignedMode::Precise => {
                    decimal(&raw.to_string(), 0, modes)?
                }
                _ => Value::Int64(signed),
            }
        }
        (MySqlType::Float, Cell::Float(v)) => Value::Float32(*v),
        (MySqlType::Float, Cell::Double(v)) => Value::Float32(*v as f32),
        (MySqlType::Double, Cell::Double(v)) => Value::Float64(*v),
        (MySqlType::Double, Cell::Float(v)) => Value::Float64(*v as f64),
        (MySqlType::Decimal { scale, .. }, Cell::Decimal(text)) => decimal(text, *scale, modes)?,
        (MySqlType::Bool, Cell::Bits(bytes)) => Value::Boolean(bytes.iter().any(|b| *b != 0)),
        (MySqlType::Bits(length), Cell::Bits(bytes)) => {
            // Debezium's Bits: little-endian, as many bytes as the length needs.
            let width = length.div_ceil(8) as usize;
            let mut out: Vec<u8> = bytes.iter().rev().copied().take(width).collect();
            out.resize(width, 0);
            Value::Bytes(out)
        }
        (MySqlType::Date, Cell::Date { year, month, day }) => {
            if *month == 0 || *day == 0 {
                return Ok(Value::Null);
            }
            Value::Int32(days_from_civil(*year as i64, *month, *day) as i32)
        }
        (
            MySqlType::DateTime(fsp),
            Cell::DateTime {
                year,
                month,
                day,
                micros_of_day,
            },
        ) => {
            if *month == 0 || *day == 0 {
                return Ok(Value::Null);
            }
            let micros = days_from_civil(*year as i64, *month, *day) * 86_400_000_000
                + *micros_of_day as i64;
            match modes.time {
                TimeMode::Connect => Value::Int64(micros.div_euclid(1000)),
                _ if *fsp <= 3 => Value::Int64(micros.div_euclid(1000)),
                _ => Value::Int64(micros),
            }
        }
        (MySqlType::Timestamp(fsp), Cell::Timestamp { seconds, micros }) => {
            if *seconds == 0 && *micros == 0 {
                // The zero timestamp has no instant; Debezium writes the epoch.
                return Ok(Value::String(zoned_timestamp(0, 0, *fsp, snapshot).into()));
            }
            Value::String(zoned_timestamp(*seconds, *micros, *fsp, snapshot).into())
        }
        (MySqlType::Time(_), Cell::Time(micros)) => match modes.time {
            TimeMode::Connect if *micros < 0 || *micros >= 86_400_000_000 => {
                // A Connect Time is a time of day: Debezium writes null outside it.
                Value::Null
            }
            TimeMode::Connect => Value::Int32((*micros / 1000) as i32),
            _ => Value::Int64(*micros),
        },
        (MySqlType::Year, Cell::Year(year)) => Value::Int32(*year as i32),
        (MySqlType::Year, Cell::Int(year)) => Value::Int32(*year as i32),
        (MySqlType::Text(Some(encoding)), Cell::Bytes(bytes)) if !snapshot => {
            // A binlog image holds the column's own bytes; a snapshot's text is UTF-8.
            Value::String(
                encoding
                    .decode_without_bom_handling(bytes)
                    .0
                    .as_ref()
                    .into(),
            )
        }
        (MySqlType::Text(_) | MySqlType::Unknown(_), Cell::Bytes(bytes)) => {
            Value::String(String::from_utf8_lossy(bytes).as_ref().into())
        }
        (MySqlType::Binary { pad }, Cell::Bytes(bytes)) => {
            let mut bytes = bytes.to_vec();
            if let Some(pad) = pad {
                bytes.resize((*pad as usize).max(bytes.len()), 0);
            }
            binary(bytes, modes)
        }
        (MySqlType::Json, Cell::Bytes(bytes)) => {
            Value::String(String::from_utf8_lossy(bytes).as_ref().into())
        }
        (MySqlType::Json, Cell::JsonBinary(bytes)) => Value::String(json_text(bytes)?.into()),
        (MySqlType::Enum(_) | MySqlType::Set(_), Cell::Bytes(bytes)) => {
            Value::String(String::from_utf8_lossy(bytes).as_ref().into())
        }
        (MySqlType::Enum(labels), Cell::Enum(index)) => match index {
            0 => Value::String("".into()),
            i => Value::String(
                labels
                    .get(*i as usize - 1)
                    .ok_or_else(|| format!("enum index {i} is beyond the {} labels", labels.len()))?
                    .as_str()
                    .into(),
            ),
        },
        (MySqlType::Set(labels), Cell::Set(bits)) => {
            let members: Vec<&str> = labels
                .iter()
                .enumerate()
                .filter(|(i, _)| *i < 64 && bits & (1 << i) != 0)
                .map(|(_, l)| l.as_str())
                .collect();
            Value::String(members.join(",").into())
        }
        (MySqlType::Point | MySqlType::Geometry, Cell::Bytes(bytes)) => geometry(column, bytes)?,
        _ => return Err(mismatch()),
    })
}

fn binary(bytes: Vec<u8>, modes: &TypeModes) -> Value {
    match modes.binary {
        BinaryMode::Bytes => Value::Bytes(bytes),
        BinaryMode::Base64 => Value::String(
            base64::engine::general_purpose::STANDARD
                .encode(bytes)
                .into(),
        ),
        BinaryMode::Hex => Value::String(
            bytes
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
                .into(),
        ),
    }
}

/// A decimal's text as `decimal.handling.mode` wants it, at the column's scale.
fn decimal(text: &str, scale: u32, modes: &TypeModes) -> Result<Value, String> {
    Ok(match modes.decimal {
        DecimalMode::Double => Value::Float64(
            text.parse()
                .map_err(|_| format!("cannot read {text:?} as a number"))?,
        ),
        DecimalMode::String => Value::String(text.into()),
        DecimalMode::Precise => {
            Value::Bytes(Decimal::parse(text)?.rescale(scale, text)?.unscaled_bytes())
        }
    })
}

/// A `timestamp` as Debezium's ZonedTimestamp in UTC: `fsp` fraction digits when streamed,
/// the fraction without trailing zeros when snapshotted.
fn zoned_timestamp(seconds: i64, micros: u32, fsp: u32, snapshot: bool) -> String {
    let (year, month, day) = civil_from_days(seconds.div_euclid(86_400));
    let of_day = seconds.rem_euclid(86_400);
    let mut out = format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60
    );
    let digits = format!("{micros:06}");
    let fraction = if snapshot {
        digits.trim_end_matches('0')
    } else {
        &digits[..fsp.min(6) as usize]
    };
    if !fraction.is_empty() {
        out.push('.');
        out.push_str(fraction);
    }
    out.push('Z');
    out
}

/// A spatial value (MySQL's internal format: a 4-byte little-endian SRID, then WKB) as
/// Debezium's Point `{x, y, wkb, srid}` or Geometry `{wkb, srid}`; an SRID of 0 is null.
fn geometry(column: &MySqlType, bytes: &[u8]) -> Result<Value, String> {
    if bytes.len() < 5 {
        return Err(format!("a {}-byte spatial value is too short", bytes.len()));
    }
    let srid = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    let wkb = bytes[4..].to_vec();
    let srid = match srid {
        0 => Value::Null,
        s => Value::Int32(s as i32),
    };
    if !matches!(column, MySqlType::Point) {
        return Ok(Value::Struct(vec![Value::Bytes(wkb), srid]));
    }
    if wkb.len() < 21 {
        return Err("a POINT value is too short".into());
    }
    let little = wkb[0] == 1;
    let coordinate = |at: usize| {
        let raw: [u8; 8] = wkb[at..at + 8].try_into().expect("8 bytes");
        if little {
            f64::from_le_bytes(raw)
        } else {
            f64::from_be_bytes(raw)
        }
    };
    Ok(Value::Struct(vec![
        Value::Float64(coordinate(5)),
        Value::Float64(coordinate(13)),
        Value::Bytes(wkb),
        srid,
    ]))
}

/// MySQL's binary JSON as the compact JSON text Debezium writes.
pub fn json_text(bytes: &[u8]) -> Result<String, String> {
    use mysql_common::binlog::jsonb;
    use mysql_common::io::ParseBuf;
    let value: jsonb::Value = ParseBuf(bytes)
        .parse(())
        .map_err(|e| format!("cannot decode binary JSON: {e}"))?;
    let json = serde_json::Value::try_from(value)
        .map_err(|e| format!("cannot decode binary JSON: {e}"))?;
    Ok(json.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(t: MySqlType, c: Cell) -> Value {
        value(&t, &c, &TypeModes::default(), false).unwrap()
    }

    #[test]
    fn integers_as_debezium_widens_them() {
        let int = |bytes, unsigned| MySqlType::Int { bytes, unsigned };
        assert_eq!(v(int(1, true), Cell::UInt(255)), Value::Int16(255));
        assert_eq!(
            v(int(4, true), Cell::UInt(4294967295)),
            Value::Int64(4294967295)
        );
        assert_eq!(v(int(8, true), Cell::UInt(u64::MAX)), Value::Int64(-1));
        assert_eq!(v(int(1, false), Cell::UInt(0x80)), Value::Int16(-128));
        assert_eq!(
            v(int(3, false), Cell::UInt(0x80_0000)),
            Value::Int32(-8_388_608)
        );
        assert_eq!(v(int(2, false), Cell::Int(-5)), Value::Int16(-5));
        let precise = TypeModes {
            bigint_unsigned: BigintUnsignedMode::Precise,
            ..TypeModes::default()
        };
        assert_eq!(
            value(&int(8, true), &Cell::UInt(u64::MAX), &precise, false).unwrap(),
            Value::Bytes(vec![0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])
        );
    }

    #[test]
    fn binlog_text_is_decoded_from_its_charset() {
        let latin1 = MySqlType::Text(Some(encoding_rs::WINDOWS_1252));
        assert_eq!(
            v(latin1.clone(), Cell::Bytes(b"caf\xe9")),
            Value::String("café".into())
        );
        assert_eq!(
            value(
                &latin1,
                &Cell::Bytes("café".as_bytes()),
                &TypeModes::default(),
                true
            )
            .unwrap(),
            Value::String("café".into())
        );
    }

    #[test]
    fn temporal_values() {
        assert_eq!(
            v(
                MySqlType::Timestamp(3),
                Cell::Timestamp {
                    seconds: 1,
                    micros: 0
                }
            ),
            Value::String("1970-01-01T00:00:01.000Z".into())
        );
        assert_eq!(
            value(
                &MySqlType::Timestamp(3),
                &Cell::Timestamp {
                    seconds: 2147483647,
                    micros: 499_000
                },
                &TypeModes::default(),
                true
            )
            .unwrap(),
            Value::String("2038-01-19T03:14:07.499Z".into())
        );
        assert_eq!(
            v(
                MySqlType::DateTime(0),
                Cell::DateTime {
                    year: 1000,
                    month: 1,
                    day: 1,
                    micros_of_day: 0
                }
            ),
            Value::Int64(-30_610_224_000_000)
        );
        assert_eq!(
            v(
                MySqlType::Date,
                Cell::Date {
                    year: 0,
                    month: 0,
                    day: 0
                }
            ),
            Value::Null
        );
    }

    #[test]
    fn bits_sets_and_geometry() {
        assert_eq!(
            v(MySqlType::Bits(12), Cell::Bits(&[0x0a, 0xaa])),
            Value::Bytes(vec![0xaa, 0x0a])
        );
        assert_eq!(
            v(MySqlType::Bits(12), Cell::Bits(&[0])),
            Value::Bytes(vec![0, 0])
        );
        assert_eq!(
            v(
                MySqlType::Set(vec!["a".into(), "b".into(), "c".into()]),
                Cell::Set(5)
            ),
            Value::String("a,c".into())
        );
        let mut point = vec![0, 0, 0, 0, 1, 1, 0, 0, 0];
        point.extend(1.5f64.to_le_bytes());
        point.extend((-2.25f64).to_le_bytes());
        let Value::Struct(fields) = v(MySqlType::Point, Cell::Bytes(&point)) else {
            panic!("a struct")
        };
        assert_eq!(fields[0], Value::Float64(1.5));
        assert_eq!(fields[1], Value::Float64(-2.25));
        assert_eq!(fields[3], Value::Null);
    }

    #[test]
    fn mysql_binary_json() {
        // {"a": [1, "x"]}: a small object with one key, whose value is a small array.
        let bytes = [
            0x00, 0x01, 0x00, 0x18, 0x00, 0x0b, 0x00, 0x01, 0x00, 0x02, 0x0c, 0x00, b'a', 0x02,
            0x00, 0x0c, 0x00, 0x05, 0x01, 0x00, 0x0c, 0x0a, 0x00, 0x01, b'x',
        ];
        assert_eq!(json_text(&bytes).unwrap(), r#"{"a":[1,"x"]}"#);
        assert!(json_text(&[0x77]).is_err());
    }
}
