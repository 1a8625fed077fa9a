//! Day arithmetic of Java's default `GregorianCalendar`: the Gregorian calendar from
//! 1582-10-15 on, the Julian calendar before (so day 1 of year 1 is not what a proleptic
//! Gregorian calendar says), always in UTC.

use crate::logical::MILLIS_PER_DAY;

/// Days since the epoch of 1582-10-15, the first Gregorian day.
pub const GREGORIAN_CUTOVER: i64 = -141_427;

/// A calendar day. `year` is proleptic: 0 is 1 BC, -1 is 2 BC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CivilDate {
    pub year: i64,
    /// 1 to 12.
    pub month: u32,
    /// 1 to 31.
    pub day: u32,
}

impl CivilDate {
    /// Java's `ERA` field: false for BC.
    pub fn is_ad(&self) -> bool {
        self.year > 0
    }

    /// Java's `YEAR` field: the year of the era (1 BC is 1).
    pub fn year_of_era(&self) -> i64 {
        if self.year > 0 {
            self.year
        } else {
            1 - self.year
        }
    }
}

/// A point in time split into its UTC day and time of day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateTime {
    /// Days since the epoch.
    pub days: i64,
    pub date: CivilDate,
    /// Milliseconds since midnight.
    pub millis_of_day: i64,
}

impl DateTime {
    /// Splits milliseconds since the epoch.
    pub fn from_millis(millis: i64) -> DateTime {
        let days = millis.div_euclid(MILLIS_PER_DAY);
        DateTime {
            days,
            date: civil_from_days(days),
            millis_of_day: millis.rem_euclid(MILLIS_PER_DAY),
        }
    }

    /// Hour of the day, 0 to 23.
    pub fn hour(&self) -> i64 {
        self.millis_of_day / 3_600_000
    }

    /// Minute of the hour.
    pub fn minute(&self) -> i64 {
        self.millis_of_day / 60_000 % 60
    }

    /// Second of the minute.
    pub fn second(&self) -> i64 {
        self.millis_of_day / 1000 % 60
    }

    /// Millisecond of the second.
    pub fn millisecond(&self) -> i64 {
        self.millis_of_day % 1000
    }
}

/// Day of the week of a day since the epoch, Sunday = 0 … Saturday = 6.
pub fn day_of_week(days: i64) -> i64 {
    (days + 4).rem_euclid(7)
}

/// The calendar day of a day since the epoch.
pub fn civil_from_days(days: i64) -> CivilDate {
    if days >= GREGORIAN_CUTOVER {
        gregorian_from_days(days)
    } else {
        julian_from_days(days)
    }
}

/// Days since the epoch of a calendar day, leniently: months past 12 or below 1 move the
/// year, days past the month's end move on into the next months. `None` on overflow.
pub fn days_from_civil(year: i64, month: i64, day: i64) -> Option<i64> {
    let year = year.checked_add((month - 1).div_euclid(12))?;
    let month = (month - 1).rem_euclid(12) + 1;
    if year.unsigned_abs() > 1 << 40 {
        return None;
    }
    let offset = day.checked_sub(1)?;
    let gregorian = days_from_gregorian(year, month).checked_add(offset)?;
    if gregorian >= GREGORIAN_CUTOVER {
        Some(gregorian)
    } else {
        days_from_julian(year, month).checked_add(offset)
    }
}

/// Days in the March-based year before the first of `month` (March = 0).
const fn days_before_month(month: i64) -> i64 {
    let mp = if month > 2 { month - 3 } else { month + 9 };
    (153 * mp + 2) / 5
}

/// Days since the epoch of the first of a month, proleptic Gregorian.
const fn days_from_gregorian(year: i64, month: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + days_before_month(month);
    era * 146_097 + doe - 719_468
}

/// Days since the epoch of the first of a month, Julian calendar.
const fn days_from_julian(year: i64, month: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(4);
    let yoe = y - era * 4;
    era * 1461 + yoe * 365 + days_before_month(month) - JULIAN_SHIFT
}

/// Makes Julian 1582-10-04 the day before Gregorian 1582-10-15.
const JULIAN_SHIFT: i64 = days_from_julian_unshifted(1582, 10) + 4 - GREGORIAN_CUTOVER;

const fn days_from_julian_unshifted(year: i64, month: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(4);
    let yoe = y - era * 4;
    era * 1461 + yoe * 365 + days_before_month(month)
}

/// Splits a March-based day of year into month and day.
fn month_day(doy: i64) -> (u32, u32, bool) {
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (month, day, month <= 2)
}

fn gregorian_from_days(days: i64) -> CivilDate {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let (month, day, next_year) = month_day(doy);
    CivilDate {
        year: yoe + era * 400 + i64::from(next_year),
        month,
        day,
    }
}

fn julian_from_days(days: i64) -> CivilDate {
    let z = days + JULIAN_SHIFT;
    let era = z.div_euclid(1461);
    let doe = z - era * 1461;
    let yoe = (doe - doe / 1460) / 365;
    let doy = doe - 365 * yoe;
    let (month, day, next_year) = month_day(doy);
    CivilDate {
        year: yoe + era * 4 + i64::from(next_year),
        month,
        day,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ymd(days: i64) -> (i64, u32, u32) {
        let d = civil_from_days(days);
        (d.year, d.month, d.day)
    }

    #[test]
    fn epoch_and_known_days() {
        assert_eq!(ymd(0), (1970, 1, 1));
        assert_eq!(ymd(19_724), (2024, 1, 2));
        assert_eq!(ymd(-1), (1969, 12, 31));
        assert_eq!(ymd(11_016), (2000, 2, 29));
        assert_eq!(day_of_week(0), 4, "1970-01-01 was a Thursday");
    }

    #[test]
    fn julian_before_the_cutover() {
        assert_eq!(ymd(GREGORIAN_CUTOVER), (1582, 10, 15));
        assert_eq!(ymd(GREGORIAN_CUTOVER - 1), (1582, 10, 4));
        // Java prints proleptic-Gregorian 0001-01-01 (-62135596800000 ms) as 0001-01-03.
        assert_eq!(ymd(-719_162), (1, 1, 3));
        assert_eq!(days_from_civil(1, 1, 3), Some(-719_162));
        assert_eq!(ymd(-719_164), (1, 1, 1));
        assert_eq!(ymd(-719_165), (0, 12, 31));
        // Java: -62198755200000 ms is 0002-01-03 BC, proleptic year -1.
        assert_eq!(ymd(-719_893), (-1, 1, 3));
    }

    #[test]
    fn lenient_days_round_trip() {
        for days in (-800_000..800_000).step_by(997) {
            let d = civil_from_days(days);
            assert_eq!(
                days_from_civil(d.year, d.month.into(), d.day.into()),
                Some(days),
                "{d:?}"
            );
        }
        assert_eq!(days_from_civil(2024, 13, 1), days_from_civil(2025, 1, 1));
        assert_eq!(days_from_civil(2024, 2, 30), days_from_civil(2024, 3, 1));
        assert_eq!(days_from_civil(2024, 0, 1), days_from_civil(2023, 12, 1));
    }

    #[test]
    fn times_of_day_before_the_epoch() {
        let t = DateTime::from_millis(-1);
        assert_eq!(
            (t.date.year, t.hour(), t.minute(), t.millisecond()),
            (1969, 23, 59, 999)
        );
        assert_eq!(
            CivilDate {
                year: 0,
                month: 1,
                day: 1
            }
            .year_of_era(),
            1
        );
    }
}
