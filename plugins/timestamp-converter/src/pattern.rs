//! Java's `SimpleDateFormat` patterns (English names, UTC, Java's calendar with the Julian
//! calendar before 1582-10-15): compiling and formatting.

use connect_common::calendar::{DateTime, civil_from_days, day_of_week, days_from_civil};

/// The pattern letters `SimpleDateFormat` knows.
const LETTERS: &str = "GyMdkHmsSEDFwWahKzZYuXL";

pub(crate) const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
pub(crate) const WEEKDAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// One element of a compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// A pattern letter repeated `count` times.
    Field { letter: char, count: usize },
    /// Text to print or match as is.
    Literal(String),
}

impl Token {
    /// Whether the field is read as a number (so that a field right before it must keep to
    /// its width when parsing).
    pub fn is_numeric(&self) -> bool {
        match *self {
            Token::Field { letter, count } => match letter {
                'M' | 'L' => count <= 2,
                'y' | 'd' | 'k' | 'H' | 'm' | 's' | 'S' | 'D' | 'F' | 'w' | 'W' | 'h' | 'K'
                | 'Y' | 'u' => true,
                _ => false,
            },
            Token::Literal(_) => false,
        }
    }
}

/// A compiled `SimpleDateFormat` pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    text: String,
    tokens: Vec<Token>,
}

impl Pattern {
    /// Compiles a pattern: letters are fields, `'…'` quotes text, `''` is a quote; other
    /// characters are literal. Unknown letters and unterminated quotes are errors.
    pub fn compile(text: &str) -> Result<Pattern, String> {
        let chars: Vec<char> = text.chars().collect();
        let mut tokens: Vec<Token> = Vec::new();
        let mut literal = String::new();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c == '\'' {
                if chars.get(i + 1) == Some(&'\'') {
                    literal.push('\'');
                    i += 2;
                    continue;
                }
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err("Unterminated quote".into()),
                        Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                            literal.push('\'');
                            i += 2;
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(&q) => {
                            literal.push(q);
                            i += 1;
                        }
                    }
                }
            } else if c.is_ascii_alphabetic() {
                if !LETTERS.contains(c) {
                    return Err(format!("Illegal pattern character '{c}'"));
                }
                let count = chars[i..].iter().take_while(|&&d| d == c).count();
                if c == 'X' && count > 3 {
                    return Err(format!("invalid ISO 8601 format: length={count}"));
                }
                if !literal.is_empty() {
                    tokens.push(Token::Literal(std::mem::take(&mut literal)));
                }
                tokens.push(Token::Field { letter: c, count });
                i += count;
            } else {
                literal.push(c);
                i += 1;
            }
        }
        if !literal.is_empty() {
            tokens.push(Token::Literal(literal));
        }
        Ok(Pattern {
            text: text.to_owned(),
            tokens,
        })
    }

    /// The pattern as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The compiled elements.
    pub fn tokens(&self) -> &[Token] {
        &self.tokens
    }

    /// Formats milliseconds since the epoch in UTC.
    pub fn format(&self, millis: i64) -> String {
        let t = DateTime::from_millis(millis);
        let mut out = String::new();
        for token in &self.tokens {
            match token {
                Token::Literal(text) => out.push_str(text),
                Token::Field { letter, count } => format_field(&mut out, &t, *letter, *count),
            }
        }
        out
    }
}

/// Appends `value` with at least `digits` digits.
fn pad(out: &mut String, value: i64, digits: usize) {
    if value < 0 {
        out.push('-');
    }
    out.push_str(&format!("{:0digits$}", value.unsigned_abs()));
}

fn text(out: &mut String, name: &str, count: usize) {
    if count >= 4 {
        out.push_str(name);
    } else {
        out.extend(name.chars().take(3));
    }
}

fn format_field(out: &mut String, t: &DateTime, letter: char, count: usize) {
    let date = t.date;
    let hour = t.hour();
    let dow = day_of_week(t.days);
    match letter {
        'G' => out.push_str(if date.is_ad() { "AD" } else { "BC" }),
        'y' => year(out, date.year_of_era(), count),
        'Y' => year(out, week_of_year(t.days).0, count),
        'M' | 'L' if count >= 3 => text(out, MONTHS[date.month as usize - 1], count),
        'M' | 'L' => pad(out, date.month.into(), count),
        'd' => pad(out, date.day.into(), count),
        'D' => pad(out, day_of_year(t.days), count),
        'F' => pad(out, (day_of_month(t.days) - 1) / 7 + 1, count),
        'w' => pad(out, week_of_year(t.days).1, count),
        'W' => {
            let nth = day_of_month(t.days);
            let first = day_of_week(t.days - nth + 1);
            pad(out, (nth - 1 + first) / 7 + 1, count);
        }
        'E' => text(out, WEEKDAYS[dow as usize], count),
        'u' => pad(out, if dow == 0 { 7 } else { dow }, count),
        'a' => out.push_str(if hour < 12 { "AM" } else { "PM" }),
        'H' => pad(out, hour, count),
        'k' => pad(out, if hour == 0 { 24 } else { hour }, count),
        'K' => pad(out, hour % 12, count),
        'h' => pad(out, if hour % 12 == 0 { 12 } else { hour % 12 }, count),
        'm' => pad(out, t.minute(), count),
        's' => pad(out, t.second(), count),
        'S' => pad(out, t.millisecond(), count),
        'z' => out.push_str(if count >= 4 {
            "Coordinated Universal Time"
        } else {
            "UTC"
        }),
        'Z' => out.push_str("+0000"),
        'X' => out.push('Z'),
        _ => {}
    }
}

/// A year as `y` prints it: two digits for `yy`, else at least `count` digits.
fn year(out: &mut String, value: i64, count: usize) {
    if count == 2 {
        pad(out, value.rem_euclid(100), 2);
    } else {
        pad(out, value, count);
    }
}

/// Position of the day in its month, 1-based, counting the days the month has (October
/// 1582 skips ten).
fn day_of_month(days: i64) -> i64 {
    let date = civil_from_days(days);
    days - days_from_civil(date.year, date.month.into(), 1).unwrap_or(days) + 1
}

/// Day of the year, 1-based, in Java's calendar.
fn day_of_year(days: i64) -> i64 {
    let date = civil_from_days(days);
    days - days_from_civil(date.year, 1, 1).unwrap_or(days) + 1
}

/// Week-based year and week of the year, with weeks starting on Sunday and week 1 the week
/// holding January 1st (Java's US rules).
fn week_of_year(days: i64) -> (i64, i64) {
    let date = civil_from_days(days);
    let week_start = days - day_of_week(days);
    if let Some(next_jan1) = days_from_civil(date.year + 1, 1, 1)
        && week_start + 6 >= next_jan1
    {
        return (date.year + 1, 1);
    }
    let jan1 = days_from_civil(date.year, 1, 1).unwrap_or(days);
    (date.year, (days - jan1 + day_of_week(jan1)) / 7 + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(pattern: &str, millis: i64) -> String {
        Pattern::compile(pattern).unwrap().format(millis)
    }

    #[test]
    fn compiles_quotes_and_rejects_unknown_letters() {
        let p = Pattern::compile("yyyy-MM-dd'T'HH:mm:ss''").unwrap();
        assert_eq!(p.tokens().len(), 12);
        assert_eq!(p.tokens()[7], Token::Literal(":".into()));
        assert_eq!(p.tokens()[11], Token::Literal("'".into()));
        assert_eq!(
            Pattern::compile("yyyy-bb").unwrap_err(),
            "Illegal pattern character 'b'"
        );
        assert_eq!(Pattern::compile("'abc").unwrap_err(), "Unterminated quote");
        assert!(Pattern::compile("XXXX").is_err());
    }

    /// Expected strings from JDK 17's SimpleDateFormat in UTC.
    #[test]
    fn formats_as_java() {
        let all = "yyyy-MM-dd G HH:mm:ss.SSS EEE u D w W F Y";
        assert_eq!(
            fmt(all, -62_135_596_800_000),
            "0001-01-03 AD 00:00:00.000 Mon 1 3 2 2 1 1"
        );
        assert_eq!(
            fmt(all, -12_219_292_800_000),
            "1582-10-15 AD 00:00:00.000 Fri 5 278 40 1 1 1582"
        );
        assert_eq!(
            fmt(all, -12_219_292_800_001),
            "1582-10-04 AD 23:59:59.999 Thu 4 277 40 1 1 1582"
        );
        assert_eq!(
            fmt(all, -1),
            "1969-12-31 AD 23:59:59.999 Wed 3 365 1 5 5 1970"
        );
        assert_eq!(
            fmt(all, 1_704_164_645_123),
            "2024-01-02 AD 03:04:05.123 Tue 2 2 1 1 1 2024"
        );
        assert_eq!(
            fmt(all, 1_703_980_800_000),
            "2023-12-31 AD 00:00:00.000 Sun 7 365 1 6 5 2024"
        );
        assert_eq!(
            fmt(all, 1_767_139_200_000),
            "2025-12-31 AD 00:00:00.000 Wed 3 365 1 5 5 2026"
        );
    }

    #[test]
    fn formats_text_hours_zones_and_padding() {
        let t = 1_704_164_645_123; // 2024-01-02T03:04:05.123Z
        assert_eq!(
            fmt("MMM MMMM EEEE a h K k", t),
            "Jan January Tuesday AM 3 3 3"
        );
        assert_eq!(fmt("yy y yyyyy", t), "24 2024 02024");
        assert_eq!(fmt("SSSSSS S", t), "000123 123");
        assert_eq!(
            fmt("z zzzz Z X XXX", t),
            "UTC Coordinated Universal Time +0000 Z Z"
        );
        assert_eq!(fmt("h a k", 0), "12 AM 24");
        assert_eq!(
            fmt("yyyy-MM-dd HH:mm:ss", 1_704_164_645_123_456),
            "55972-10-29 20:05:23"
        );
    }
}
