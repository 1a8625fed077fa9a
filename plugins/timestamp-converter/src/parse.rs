//! Parsing text with a `SimpleDateFormat` pattern, leniently as Java does: blanks before a
//! field are skipped, numbers take all their digits unless the next field is a number too
//! (then exactly the field's width), out-of-range values roll over (month 13 is January of
//! the next year), text after the pattern is ignored.

use connect_common::calendar::{DateTime, days_from_civil};
use connect_common::logical::MILLIS_PER_DAY;

use crate::pattern::{MONTHS, Pattern, Token, WEEKDAYS};

/// Zone names `z`/`Z` accept besides `GMT±h:mm` and `±hhmm`, with their offsets in minutes.
const ZONE_NAMES: &[(&str, i64)] = &[
    ("Coordinated Universal Time", 0),
    ("Greenwich Mean Time", 0),
    ("UTC", 0),
    ("GMT", 0),
    ("UT", 0),
    ("EST", -300),
    ("EDT", -240),
    ("CST", -360),
    ("CDT", -300),
    ("MST", -420),
    ("MDT", -360),
    ("PST", -480),
    ("PDT", -420),
    ("CET", 60),
    ("CEST", 120),
];

/// Calendar fields as parsed, each with the order in which it was set (0: not set), which
/// decides between fields that say the same thing, as Java's calendar does.
#[derive(Debug, Default)]
struct Fields {
    stamp: usize,
    bc: bool,
    year: Option<i64>,
    ambiguous_year: bool,
    month: (i64, usize),
    day: (i64, usize),
    day_of_year: (i64, usize),
    hour_of_day: (i64, usize),
    hour: (i64, usize),
    pm: (i64, usize),
    minute: i64,
    second: i64,
    millis: i64,
    offset_minutes: i64,
}

impl Fields {
    fn next(&mut self) -> usize {
        self.stamp += 1;
        self.stamp
    }

    /// Milliseconds since the epoch, `None` on overflow.
    fn resolve(&self, extra_years: i64) -> Option<i64> {
        let year = self.year.unwrap_or(1970);
        let year = if self.bc { 1 - year } else { year } + extra_years;
        let days = if self.day_of_year.1 > self.month.1.max(self.day.1) {
            days_from_civil(year, 1, 1)?.checked_add(self.day_of_year.0 - 1)?
        } else {
            let day = if self.day.1 > 0 { self.day.0 } else { 1 };
            days_from_civil(year, self.month.0 + 1, day)?
        };
        let am_pm_stamp = if self.hour.1 > 0 && self.pm.1 > 0 {
            self.hour.1.max(self.pm.1)
        } else {
            0
        };
        let mut best = am_pm_stamp.max(self.hour_of_day.1);
        if best == 0 {
            best = self.hour.1.max(self.pm.1);
        }
        let hours = if best == 0 {
            0
        } else if best == self.hour_of_day.1 {
            self.hour_of_day.0
        } else {
            self.hour.0 + 12 * self.pm.0
        };
        let time = hours * 3_600_000 + self.minute * 60_000 + self.second * 1000 + self.millis
            - self.offset_minutes * 60_000;
        days.checked_mul(MILLIS_PER_DAY)?.checked_add(time)
    }
}

/// Reads text at a position.
struct Cursor<'a> {
    chars: &'a [char],
    pos: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn skip_blanks(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t')) {
            self.pos += 1;
        }
    }

    /// A decimal integer: all digits, or only within `width` characters. Java's value is an
    /// `int`, so it wraps.
    fn number(&mut self, width: Option<usize>) -> Option<i64> {
        let end = width.map_or(self.chars.len(), |w| self.pos + w);
        if end > self.chars.len() {
            return None;
        }
        let mut i = self.pos;
        let negative = width.is_none() && self.chars.get(i) == Some(&'-');
        if negative {
            i += 1;
        }
        let start = i;
        let mut value: i64 = 0;
        while i < end && self.chars[i].is_ascii_digit() {
            value = value
                .saturating_mul(10)
                .saturating_add(i64::from(self.chars[i] as u8 - b'0'));
            i += 1;
        }
        if i == start {
            return None;
        }
        self.pos = i;
        let value = if negative { -value } else { value };
        Some(i64::from(value as i32))
    }

    /// The longest of `names` (any case) at the cursor; its index.
    fn one_of(&mut self, names: &[&str]) -> Option<usize> {
        let rest = &self.chars[self.pos..];
        let matches = |name: &str| {
            let n: Vec<char> = name.chars().collect();
            rest.len() >= n.len()
                && rest
                    .iter()
                    .zip(&n)
                    .all(|(a, b)| a.to_lowercase().eq(b.to_lowercase()))
        };
        let (index, len) = names
            .iter()
            .enumerate()
            .filter(|(_, name)| matches(name))
            .map(|(i, name)| (i, name.chars().count()))
            .max_by_key(|&(_, len)| len)?;
        self.pos += len;
        Some(index)
    }

    fn digit(&mut self) -> Option<i64> {
        let c = self.peek()?.to_digit(10)?;
        self.pos += 1;
        Some(c.into())
    }

    /// `hh[[:]mm]` after a sign, as Java's `subParseNumericZone`: `count` 0 for `z`/`Z`
    /// (two hour digits, or one with `colon`), 1–3 for `X`.
    fn numeric_zone(&mut self, sign: i64, count: usize, colon: bool) -> Option<i64> {
        let mut hours = self.digit()?;
        match self.digit() {
            Some(d) => hours = hours * 10 + d,
            None if count > 0 || !colon => return None,
            None => {}
        }
        if hours > 23 {
            return None;
        }
        let mut minutes = 0;
        if count != 1 {
            if colon {
                (self.peek()? == ':').then_some(())?;
                self.pos += 1;
            }
            minutes = self.digit()? * 10 + self.digit()?;
            if minutes > 59 {
                return None;
            }
        }
        Some(sign * (hours * 60 + minutes))
    }

    /// `z`/`Z`: `±hhmm`, `GMT`, `GMT±h:mm`, or a zone name.
    fn general_zone(&mut self) -> Option<i64> {
        match self.peek()? {
            '+' => {
                self.pos += 1;
                self.numeric_zone(1, 0, false)
            }
            '-' => {
                self.pos += 1;
                self.numeric_zone(-1, 0, false)
            }
            'G' | 'g' if self.one_of(&["GMT"]).is_some() => match self.peek() {
                Some('+') => {
                    self.pos += 1;
                    self.numeric_zone(1, 0, true)
                }
                Some('-') => {
                    self.pos += 1;
                    self.numeric_zone(-1, 0, true)
                }
                _ => Some(0),
            },
            _ => {
                let names: Vec<&str> = ZONE_NAMES.iter().map(|(n, _)| *n).collect();
                self.one_of(&names).map(|i| ZONE_NAMES[i].1)
            }
        }
    }

    /// `X`: `Z` or `±hh`, `±hhmm`, `±hh:mm` by `count`.
    fn iso_zone(&mut self, count: usize) -> Option<i64> {
        let sign = match self.peek()? {
            'Z' => {
                self.pos += 1;
                return Some(0);
            }
            '+' => 1,
            '-' => -1,
            _ => return None,
        };
        self.pos += 1;
        self.numeric_zone(sign, count, count == 3)
    }
}

/// Parses `text` with `pattern` into milliseconds since the epoch. Two-digit years (`yy`)
/// land in the hundred years from `century_start` (milliseconds), as Java places them in the
/// hundred years from 80 years before now.
pub fn parse(pattern: &Pattern, text: &str, century_start: i64) -> Result<i64, String> {
    let fail = || {
        format!(
            "Could not parse timestamp: value ({text}) does not match pattern ({})",
            pattern.text()
        )
    };
    let chars: Vec<char> = text.chars().collect();
    let mut cursor = Cursor {
        chars: &chars,
        pos: 0,
    };
    let mut fields = Fields::default();
    let tokens = pattern.tokens();
    for (i, token) in tokens.iter().enumerate() {
        match token {
            Token::Literal(literal) => {
                for c in literal.chars() {
                    if cursor.peek() != Some(c) {
                        return Err(fail());
                    }
                    cursor.pos += 1;
                }
            }
            Token::Field { letter, count } => {
                let obey_count = tokens.get(i + 1).is_some_and(Token::is_numeric);
                parse_field(
                    &mut cursor,
                    &mut fields,
                    *letter,
                    *count,
                    obey_count,
                    century_start,
                )
                .ok_or_else(fail)?;
            }
        }
    }
    if cursor.pos == 0 {
        return Err(fail());
    }
    let millis = fields.resolve(0).ok_or_else(fail)?;
    if fields.ambiguous_year && millis < century_start {
        return fields.resolve(100).ok_or_else(fail);
    }
    Ok(millis)
}

fn parse_field(
    cursor: &mut Cursor<'_>,
    fields: &mut Fields,
    letter: char,
    count: usize,
    obey_count: bool,
    century_start: i64,
) -> Option<()> {
    cursor.skip_blanks();
    cursor.peek()?;
    let width = obey_count.then_some(count);
    let start = cursor.pos;
    match letter {
        'G' => fields.bc = cursor.one_of(&["BC", "AD"])? == 0,
        'y' => {
            let mut year = cursor.number(width)?;
            let two_digits = cursor.pos - start == 2
                && cursor.chars[start..cursor.pos]
                    .iter()
                    .all(char::is_ascii_digit);
            if count <= 2 && two_digits {
                let start_year = DateTime::from_millis(century_start).date.year;
                let ambiguous = start_year.rem_euclid(100);
                fields.ambiguous_year = year == ambiguous;
                year += start_year.div_euclid(100) * 100 + if year < ambiguous { 100 } else { 0 };
            }
            fields.next();
            fields.year = Some(year);
        }
        'M' | 'L' if count <= 2 => fields.month = (cursor.number(width)? - 1, fields.next()),
        'M' | 'L' => {
            let month = match cursor.one_of(&MONTHS) {
                Some(m) => m,
                None => cursor.one_of(&MONTHS.map(|m| &m[..3]))?,
            };
            fields.month = (month as i64, fields.next());
        }
        'd' => fields.day = (cursor.number(width)?, fields.next()),
        'D' => fields.day_of_year = (cursor.number(width)?, fields.next()),
        'E' => {
            // The day of the week is read but, the date being given, not used.
            if cursor.one_of(&WEEKDAYS).is_none() {
                cursor.one_of(&WEEKDAYS.map(|d| &d[..3]))?;
            }
        }
        'u' => {
            cursor.number(width)?;
        }
        'a' => fields.pm = (cursor.one_of(&["AM", "PM"])? as i64, fields.next()),
        'H' => fields.hour_of_day = (cursor.number(width)?, fields.next()),
        'k' => {
            let h = cursor.number(width)?;
            fields.hour_of_day = (if h == 24 { 0 } else { h }, fields.next());
        }
        'K' => fields.hour = (cursor.number(width)?, fields.next()),
        'h' => {
            let h = cursor.number(width)?;
            fields.hour = (if h == 12 { 0 } else { h }, fields.next());
        }
        'm' => fields.minute = cursor.number(width)?,
        's' => fields.second = cursor.number(width)?,
        'S' => fields.millis = cursor.number(width)?,
        'z' | 'Z' => fields.offset_minutes = cursor.general_zone()?,
        'X' => fields.offset_minutes = cursor.iso_zone(count)?,
        // Week-based fields (Y, w, W, F) would need Java's week rules to resolve a date.
        _ => return None,
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 1945-01-01T00:00:00Z: two-digit years fall in 1945–2044.
    const CENTURY: i64 = -788_918_400_000;

    fn at(pattern: &str, text: &str) -> Result<i64, String> {
        parse(&Pattern::compile(pattern).unwrap(), text, CENTURY)
    }

    #[test]
    fn common_patterns() {
        assert_eq!(
            at("yyyy-MM-dd HH:mm:ss", "2024-01-02 03:04:05"),
            Ok(1_704_164_645_000)
        );
        assert_eq!(
            at(
                "yyyy-MM-dd'T'HH:mm:ss.SSSXXX",
                "2024-01-02T05:04:05.123+02:00"
            ),
            Ok(1_704_164_645_123)
        );
        assert_eq!(
            at("yyyy-MM-dd'T'HH:mm:ss.SSSX", "2024-01-02T03:04:05.123Z"),
            Ok(1_704_164_645_123)
        );
        assert_eq!(
            at("yyyyMMddHHmmss", "20240102030405"),
            Ok(1_704_164_645_000)
        );
        assert_eq!(
            at("dd MMM yyyy HH:mm Z", "02 jan 2024 04:04 +0100"),
            Ok(1_704_164_640_000)
        );
        assert_eq!(
            at(
                "EEE, d MMMM yyyy h:mm a z",
                "Tue, 2 January 2024 3:04 AM GMT"
            ),
            Ok(1_704_164_640_000)
        );
    }

    #[test]
    fn lenient_like_java() {
        // Greedy S: ".123456" is 123456 ms, as in Java.
        assert_eq!(
            at("yyyy-MM-dd HH:mm:ss.SSS", "2024-01-02 03:04:05.123456"),
            Ok(1_704_164_645_000 + 123_456)
        );
        // Rollover and trailing text.
        assert_eq!(
            at("yyyy-MM-dd", "2023-13-02T10:00"),
            at("yyyy-MM-dd", "2024-01-02")
        );
        assert_eq!(at("yyyy-MM-dd", " 2024-01-02"), Ok(1_704_153_600_000));
        assert!(
            at("yyyy-MM-dd", "2024/01/02")
                .unwrap_err()
                .contains("does not match pattern (yyyy-MM-dd)")
        );
        assert!(at("yyyy-MM-dd HH", "2024-01-02").is_err());
    }

    #[test]
    fn two_digit_years_use_the_century_window() {
        assert_eq!(at("yy-MM-dd", "24-01-02"), at("yyyy-MM-dd", "2024-01-02"));
        assert_eq!(at("yy-MM-dd", "50-01-02"), at("yyyy-MM-dd", "1950-01-02"));
        assert_eq!(at("yy-MM-dd", "45-06-01"), at("yyyy-MM-dd", "1945-06-01"));
        assert_eq!(at("yy-MM-dd", "2024-01-02"), at("yyyy-MM-dd", "2024-01-02"));
    }

    /// Results of JDK 17's `SimpleDateFormat.parse` in UTC.
    #[test]
    fn java_resolution_rules() {
        assert_eq!(at("yyyy", "12345"), Ok(327_403_382_400_000));
        assert_eq!(at("y-M-d", "2024-1-2"), Ok(1_704_153_600_000));
        assert_eq!(at("HH:mm a", "15:00 PM"), Ok(54_000_000));
        assert_eq!(at("a HH:mm", "PM 03:00"), Ok(10_800_000));
        assert_eq!(at("D yyyy", "40 2024"), Ok(1_707_436_800_000));
        assert_eq!(at("yyyy-MM-dd D", "2024-01-01 40"), Ok(1_707_436_800_000));
        assert_eq!(
            at("dd MMM yyyy EEE", "02 Jan 2024 Mon"),
            Ok(1_704_153_600_000)
        );
        assert_eq!(at("HH z", "10 utc"), Ok(36_000_000));
        assert!(at("yyyy-MM-dd'T'HH:mm:ss'Z'", "2024-01-02T03:04:05.123456Z").is_err());
        assert!(
            at("w yyyy", "3 2024").is_err(),
            "week fields are not parsed"
        );
    }

    #[test]
    fn hours_am_pm_and_zones() {
        assert_eq!(at("h:mm a", "12:30 AM"), Ok(30 * 60_000));
        assert_eq!(at("h:mm a", "12:30 PM"), Ok(12 * 3_600_000 + 30 * 60_000));
        assert_eq!(at("k", "24"), Ok(0));
        assert_eq!(at("HH z", "10 GMT+1:30"), Ok(10 * 3_600_000 - 90 * 60_000));
        assert_eq!(at("HH Z", "10 PST"), Ok(18 * 3_600_000));
        assert!(at("HH Z", "10 +08:00").is_err());
        assert!(at("HH X", "10 +0800").is_ok());
        assert!(at("HH XXX", "10 +0800").is_err());
        assert_eq!(at("yyyy G", "44 BC"), at("yyyy-MM-dd", "-43-01-01"));
    }
}
