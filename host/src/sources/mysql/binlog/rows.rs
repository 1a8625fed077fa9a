//! Row images of rows events decoded into [`Cell`]s, column by column, from the physical
//! types and metadata of the table map event (MySQL's `log_event.cc` formats).

use mysql_common::binlog::decimal::{Decimal as BinDecimal, decimal_bin_size};
use mysql_common::binlog::events::TableMapEvent;
use mysql_common::constants::ColumnType;

use crate::sources::mysql::types::Cell;

/// How one column's value is laid out in a row image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// A little-endian integer of this many bytes.
    Int(u8),
    Float,
    Double,
    Decimal {
        precision: u8,
        scale: u8,
    },
    Date,
    /// The pre-5.6 `datetime`: an 8-byte `YYYYMMDDhhmmss`.
    DateTimeOld,
    DateTime2 {
        fsp: u8,
    },
    /// The pre-5.6 `timestamp`: 4-byte seconds.
    TimestampOld,
    Timestamp2 {
        fsp: u8,
    },
    /// The pre-5.6 `time`: a 3-byte `hhmmss`.
    TimeOld,
    Time2 {
        fsp: u8,
    },
    Year,
    /// A bit value of this many bytes.
    Bit(u8),
    /// An enum stored in 1 or 2 bytes.
    Enum(u8),
    /// A set stored in 1 to 8 bytes.
    Set(u8),
    /// Data after a little-endian length of 1 to 4 bytes (char, varchar, blobs, geometry).
    Sized(u8),
    /// MySQL binary JSON after a length of 1 to 4 bytes.
    Json(u8),
}

/// A problem decoding a row image.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RowError {
    #[error(
        "column {column}: the table map gives type {kind} with metadata {meta:?}, which Tidemark cannot decode"
    )]
    Unsupported {
        column: usize,
        kind: u8,
        meta: Vec<u8>,
    },
    #[error("the row image ends inside column {0}")]
    Truncated(usize),
    #[error("column {column}: {reason}")]
    Bad { column: usize, reason: String },
}

/// The codec of every column of a table map event.
pub fn codecs(tme: &TableMapEvent<'_>) -> Result<Vec<Codec>, RowError> {
    (0..tme.columns_count() as usize)
        .map(|i| {
            let kind = tme.get_raw_column_type(i).ok().flatten();
            let meta = tme.get_column_metadata(i).unwrap_or(&[]);
            let unsupported = || RowError::Unsupported {
                column: i,
                kind: kind.map(|k| k as u8).unwrap_or(0),
                meta: meta.to_vec(),
            };
            let byte = |n: usize| meta.get(n).copied().ok_or_else(unsupported);
            use ColumnType::*;
            Ok(match kind.ok_or_else(unsupported)? {
                MYSQL_TYPE_TINY => Codec::Int(1),
                MYSQL_TYPE_SHORT => Codec::Int(2),
                MYSQL_TYPE_INT24 => Codec::Int(3),
                MYSQL_TYPE_LONG => Codec::Int(4),
                MYSQL_TYPE_LONGLONG => Codec::Int(8),
                MYSQL_TYPE_FLOAT => Codec::Float,
                MYSQL_TYPE_DOUBLE => Codec::Double,
                MYSQL_TYPE_NEWDECIMAL => Codec::Decimal {
                    precision: byte(0)?,
                    scale: byte(1)?,
                },
                MYSQL_TYPE_DATE | MYSQL_TYPE_NEWDATE => Codec::Date,
                MYSQL_TYPE_DATETIME => Codec::DateTimeOld,
                MYSQL_TYPE_DATETIME2 => Codec::DateTime2 { fsp: byte(0)? },
                MYSQL_TYPE_TIMESTAMP => Codec::TimestampOld,
                MYSQL_TYPE_TIMESTAMP2 => Codec::Timestamp2 { fsp: byte(0)? },
                MYSQL_TYPE_TIME => Codec::TimeOld,
                MYSQL_TYPE_TIME2 => Codec::Time2 { fsp: byte(0)? },
                MYSQL_TYPE_YEAR => Codec::Year,
                MYSQL_TYPE_BIT => {
                    let (bits, bytes) = (byte(0)?, byte(1)?);
                    Codec::Bit(bytes + u8::from(bits > 0))
                }
                MYSQL_TYPE_VARCHAR | MYSQL_TYPE_VAR_STRING => {
                    let max = u16::from_le_bytes([byte(0)?, byte(1)?]);
                    Codec::Sized(if max < 256 { 1 } else { 2 })
                }
                MYSQL_TYPE_STRING => {
                    // The real type and the maximum length share the two metadata bytes.
                    let (b0, b1) = (byte(0)?, byte(1)?);
                    let (real, max) = if b0 & 0x30 != 0x30 {
                        (b0 | 0x30, b1 as u16 | ((((b0 & 0x30) ^ 0x30) as u16) << 4))
                    } else {
                        (b0, b1 as u16)
                    };
                    match real {
                        0xf7 => Codec::Enum(b1),
                        0xf8 => Codec::Set(b1),
                        0xfe => Codec::Sized(if max < 256 { 1 } else { 2 }),
                        _ => return Err(unsupported()),
                    }
                }
                MYSQL_TYPE_ENUM => Codec::Enum(byte(1)?),
                MYSQL_TYPE_SET => Codec::Set(byte(1)?),
                MYSQL_TYPE_BLOB
                | MYSQL_TYPE_TINY_BLOB
                | MYSQL_TYPE_MEDIUM_BLOB
                | MYSQL_TYPE_LONG_BLOB
                | MYSQL_TYPE_GEOMETRY => Codec::Sized(byte(0)?),
                MYSQL_TYPE_JSON => Codec::Json(byte(0)?),
                _ => return Err(unsupported()),
            })
        })
        .collect()
}

/// A cursor over a rows event's data.
pub struct RowReader<'a> {
    data: &'a [u8],
    at: usize,
}

fn uint_le(bytes: &[u8]) -> u64 {
    bytes.iter().rev().fold(0u64, |v, b| (v << 8) | *b as u64)
}

fn uint_be(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0u64, |v, b| (v << 8) | *b as u64)
}

/// The fractional seconds of a temporal2 value as microseconds, and its width.
fn fraction_width(fsp: u8) -> usize {
    (fsp as usize).div_ceil(2)
}

impl<'a> RowReader<'a> {
    /// Reads rows from a rows event's row data.
    pub fn new(data: &'a [u8]) -> RowReader<'a> {
        RowReader { data, at: 0 }
    }

    /// True when every row has been read.
    pub fn is_done(&self) -> bool {
        self.at >= self.data.len()
    }

    fn take(&mut self, n: usize, column: usize) -> Result<&'a [u8], RowError> {
        let end = self.at.checked_add(n).ok_or(RowError::Truncated(column))?;
        let bytes = self
            .data
            .get(self.at..end)
            .ok_or(RowError::Truncated(column))?;
        self.at = end;
        Ok(bytes)
    }

    /// Reads one row image whose columns `present` (one flag per table column) are in it;
    /// absent columns come out as [`Cell::Null`].
    pub fn row(&mut self, codecs: &[Codec], present: &[bool]) -> Result<Vec<Cell<'a>>, RowError> {
        let count = present.iter().filter(|p| **p).count();
        let nulls = self.take(count.div_ceil(8), 0)?;
        let mut cells = Vec::with_capacity(codecs.len());
        let mut k = 0;
        for (i, codec) in codecs.iter().enumerate() {
            if !present.get(i).copied().unwrap_or(false) {
                cells.push(Cell::Null);
                continue;
            }
            let null = nulls[k / 8] & (1 << (k % 8)) != 0;
            k += 1;
            cells.push(if null {
                Cell::Null
            } else {
                self.cell(*codec, i)?
            });
        }
        Ok(cells)
    }

    fn cell(&mut self, codec: Codec, column: usize) -> Result<Cell<'a>, RowError> {
        let bad = |reason: &str| RowError::Bad {
            column,
            reason: reason.to_owned(),
        };
        Ok(match codec {
            Codec::Int(n) => Cell::UInt(uint_le(self.take(n as usize, column)?)),
            Codec::Float => Cell::Float(f32::from_le_bytes(
                self.take(4, column)?.try_into().expect("4 bytes"),
            )),
            Codec::Double => Cell::Double(f64::from_le_bytes(
                self.take(8, column)?.try_into().expect("8 bytes"),
            )),
            Codec::Decimal { precision, scale } => {
                let size = decimal_bin_size(precision as usize, scale as usize);
                let bytes = self.take(size, column)?;
                let decimal =
                    BinDecimal::read_bin(bytes, precision as usize, scale as usize, false)
                        .map_err(|e| bad(&format!("bad decimal: {e}")))?;
                Cell::Decimal(decimal.to_string())
            }
            Codec::Date => {
                let v = uint_le(self.take(3, column)?) as u32;
                Cell::Date {
                    year: v >> 9,
                    month: (v >> 5) & 15,
                    day: v & 31,
                }
            }
            Codec::DateTimeOld => {
                let v = uint_le(self.take(8, column)?);
                let (date, time) = (v / 1_000_000, v % 1_000_000);
                Cell::DateTime {
                    year: (date / 10_000) as u32,
                    month: (date / 100 % 100) as u32,
                    day: (date % 100) as u32,
                    micros_of_day: ((time / 10_000) * 3600 + (time / 100 % 100) * 60 + time % 100)
                        * 1_000_000,
                }
            }
            Codec::DateTime2 { fsp } => {
                let packed = uint_be(self.take(5, column)?).wrapping_sub(0x80_0000_0000);
                let micros = self.fraction(fsp, column)?;
                let ymd = packed >> 17;
                let ym = ymd >> 5;
                let hms = packed & 0x1_ffff;
                Cell::DateTime {
                    year: (ym / 13) as u32,
                    month: (ym % 13) as u32,
                    day: (ymd & 31) as u32,
                    micros_of_day: ((hms >> 12) * 3600 + ((hms >> 6) & 63) * 60 + (hms & 63))
                        * 1_000_000
                        + micros,
                }
            }
            Codec::TimestampOld => Cell::Timestamp {
                seconds: uint_le(self.take(4, column)?) as i64,
                micros: 0,
            },
            Codec::Timestamp2 { fsp } => Cell::Timestamp {
                seconds: uint_be(self.take(4, column)?) as i64,
                micros: self.fraction(fsp, column)? as u32,
            },
            Codec::TimeOld => {
                let raw = uint_le(self.take(3, column)?) as u32;
                // Sign-extend the 24-bit hhmmss.
                let v = ((raw << 8) as i32) >> 8;
                let a = v.unsigned_abs() as i64;
                let micros = ((a / 10_000) * 3600 + (a / 100 % 100) * 60 + a % 100) * 1_000_000;
                Cell::Time(if v < 0 { -micros } else { micros })
            }
            Codec::Time2 { fsp } => Cell::Time(self.time2(fsp, column)?),
            Codec::Year => match self.take(1, column)?[0] {
                0 => Cell::Year(0),
                y => Cell::Year(1900 + y as u32),
            },
            Codec::Bit(n) => Cell::Bits(self.take(n as usize, column)?),
            Codec::Enum(n) => Cell::Enum(uint_le(self.take(n as usize, column)?) as u16),
            Codec::Set(n) => Cell::Set(uint_le(self.take(n as usize, column)?)),
            Codec::Sized(n) | Codec::Json(n) => {
                let len = uint_le(self.take(n as usize, column)?) as usize;
                let bytes = self.take(len, column)?;
                if matches!(codec, Codec::Json(_)) {
                    Cell::JsonBinary(bytes)
                } else {
                    Cell::Bytes(bytes)
                }
            }
        })
    }

    /// The fractional part of a datetime2/timestamp2, big-endian, as microseconds.
    fn fraction(&mut self, fsp: u8, column: usize) -> Result<u64, RowError> {
        let width = fraction_width(fsp);
        let v = uint_be(self.take(width, column)?);
        Ok(match width {
            0 => 0,
            1 => v * 10_000,
            2 => v * 100,
            _ => v,
        })
    }

    /// A time2 as signed microseconds (MySQL's `my_time_packed_from_binary`).
    fn time2(&mut self, fsp: u8, column: usize) -> Result<i64, RowError> {
        const INT_OFFSET: i64 = 0x80_0000;
        let packed: i64 = match fraction_width(fsp) {
            0 => (uint_be(self.take(3, column)?) as i64 - INT_OFFSET) << 24,
            1 => {
                let mut int = uint_be(self.take(3, column)?) as i64 - INT_OFFSET;
                let mut frac = self.take(1, column)?[0] as i64;
                if int < 0 && frac != 0 {
                    int += 1;
                    frac -= 0x100;
                }
                (int << 24) + frac * 10_000
            }
            2 => {
                let mut int = uint_be(self.take(3, column)?) as i64 - INT_OFFSET;
                let mut frac = uint_be(self.take(2, column)?) as i64;
                if int < 0 && frac != 0 {
                    int += 1;
                    frac -= 0x1_0000;
                }
                (int << 24) + frac * 100
            }
            _ => uint_be(self.take(6, column)?) as i64 - 0x8000_0000_0000,
        };
        let magnitude = packed.unsigned_abs();
        let hms = magnitude >> 24;
        let micros = ((hms >> 12) % 1024 * 3600 + ((hms >> 6) & 63) * 60 + (hms & 63)) * 1_000_000
            + (magnitude & 0xff_ffff);
        Ok(if packed < 0 {
            -(micros as i64)
        } else {
            micros as i64
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(codec: Codec, bytes: &[u8]) -> Cell<'_> {
        let mut data = vec![0u8];
        data.extend_from_slice(bytes);
        let data: &'static [u8] = Box::leak(data.into_boxed_slice());
        let mut reader = RowReader::new(data);
        let cells = reader.row(&[codec], &[true]).unwrap();
        assert!(reader.is_done());
        cells.into_iter().next().unwrap()
    }

    #[test]
    fn integers_and_nulls() {
        let data = [0b10u8, 0xff, 0x07, 0x00, 0x00, 0x00];
        let mut reader = RowReader::new(&data);
        let cells = reader
            .row(
                &[Codec::Int(1), Codec::Int(2), Codec::Int(4)],
                &[true, true, true],
            )
            .unwrap();
        assert_eq!(cells, vec![Cell::UInt(255), Cell::Null, Cell::UInt(7)]);
    }

    #[test]
    fn temporal2_values() {
        // 2024-01-02 03:04:05.123 as datetime2(3): ((2024*13+1) << 5 | 2) << 17 | 3<<12|4<<6|5.
        let ym: u64 = 2024 * 13 + 1;
        let packed = (((ym << 5) | 2) << 17) | (3 << 12) | (4 << 6) | 5;
        let mut bytes = (packed + 0x80_0000_0000).to_be_bytes()[3..].to_vec();
        bytes.extend(1230u16.to_be_bytes());
        assert_eq!(
            one(Codec::DateTime2 { fsp: 3 }, &bytes),
            Cell::DateTime {
                year: 2024,
                month: 1,
                day: 2,
                micros_of_day: 11_045_123_000
            }
        );
        // -838:59:59 as time2(0)
        let hms: i64 = (838 << 12) | (59 << 6) | 59;
        let raw = (0x80_0000 - hms) as u32;
        assert_eq!(
            one(Codec::Time2 { fsp: 0 }, &raw.to_be_bytes()[1..]),
            Cell::Time(-3_020_399_000_000)
        );
        // -00:00:00.000001 as time2(6)
        let raw = (0x8000_0000_0000i64 - 1) as u64;
        assert_eq!(
            one(Codec::Time2 { fsp: 6 }, &raw.to_be_bytes()[2..]),
            Cell::Time(-1)
        );
        assert_eq!(
            one(Codec::Timestamp2 { fsp: 3 }, &[0, 0, 0, 1, 0x13, 0x7e]),
            Cell::Timestamp {
                seconds: 1,
                micros: 499_000
            }
        );
        assert_eq!(
            one(Codec::Date, &[0x46, 0xd0, 0x0f]),
            Cell::Date {
                year: 2024,
                month: 2,
                day: 6
            }
        );
    }

    #[test]
    fn decimals_strings_and_truncation() {
        // decimal(10,3) -1234567.891: MySQL's binary format.
        let decimal: BinDecimal = "-1234567.891".parse().unwrap();
        let mut bytes = Vec::new();
        decimal.write_bin(&mut bytes).unwrap();
        assert_eq!(
            one(
                Codec::Decimal {
                    precision: 10,
                    scale: 3
                },
                &bytes
            ),
            Cell::Decimal("-1234567.891".into())
        );
        assert_eq!(one(Codec::Sized(1), &[2, b'h', b'i']), Cell::Bytes(b"hi"));
        let mut reader = RowReader::new(&[0, 5, b'x']);
        assert_eq!(
            reader.row(&[Codec::Sized(1)], &[true]),
            Err(RowError::Truncated(0))
        );
    }
}
