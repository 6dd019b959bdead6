//! ISO 8601 dates as impact.com accepts them, parsed by hand (no allocation, no regex), and
//! whole-day arithmetic on the proleptic Gregorian calendar.

/// A day number: days since 1970-01-01 (negative before).
pub type Day = i64;

/// What an `EventDate` (or custom date) value turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// The literal `NOW`.
    Now,
    /// A date and time; `utc_day` is the date in UTC.
    DateTime {
        /// The UTC calendar day.
        utc_day: Day,
        /// False when no offset was given (read as UTC).
        has_offset: bool,
    },
    /// A date without a time.
    Date {
        /// The calendar day.
        day: Day,
    },
}

impl When {
    /// The UTC day the event happened on, if the value names one.
    pub fn utc_day(self) -> Option<Day> {
        match self {
            When::Now => None,
            When::DateTime { utc_day, .. } => Some(utc_day),
            When::Date { day } => Some(day),
        }
    }
}

/// Why a value is not an accepted date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DateError {
    /// Not of any accepted shape.
    Shape,
    /// The right shape, but a part is out of range (the text says which).
    Range(String),
}

/// Parses `NOW`, `YYYY-MM-DD` and `YYYY-MM-DDThh:mm[:ss[.f+]][Z|±hh|±hhmm|±hh:mm]`.
pub fn parse(s: &str) -> Result<When, DateError> {
    if s == "NOW" {
        return Ok(When::Now);
    }
    let b = s.as_bytes();
    if b.len() < 10 {
        return Err(DateError::Shape);
    }
    let (y, m, d) = parse_ymd_bytes(&b[..10]).ok_or(DateError::Shape)?;
    let day = checked_day(y, m, d)?;
    if b.len() == 10 {
        return Ok(When::Date { day });
    }
    if b[10] != b'T' {
        return Err(DateError::Shape);
    }
    let (minutes, offset) = parse_time(&b[11..])?;
    let utc_minutes = minutes - offset.unwrap_or(0);
    Ok(When::DateTime {
        utc_day: day + utc_minutes.div_euclid(24 * 60),
        has_offset: offset.is_some(),
    })
}

/// Parses a plain `YYYY-MM-DD` (as `--as-of` takes) into a day number.
pub fn parse_day(s: &str) -> Result<Day, DateError> {
    if s.len() != 10 {
        return Err(DateError::Shape);
    }
    let (y, m, d) = parse_ymd_bytes(s.as_bytes()).ok_or(DateError::Shape)?;
    checked_day(y, m, d)
}

fn parse_ymd_bytes(b: &[u8]) -> Option<(i64, u32, u32)> {
    if b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    Some((
        digits(&b[0..4])? as i64,
        digits(&b[5..7])?,
        digits(&b[8..10])?,
    ))
}

fn checked_day(y: i64, m: u32, d: u32) -> Result<Day, DateError> {
    if !(1..=12).contains(&m) {
        return Err(DateError::Range(format!("month {m:02} does not exist")));
    }
    let last = days_in_month(y, m);
    if d == 0 || d > last {
        return Err(DateError::Range(format!(
            "{y:04}-{m:02} has only {last} days"
        )));
    }
    Ok(days_from_civil(y, m, d))
}

/// Parses the part after `T`: returns minutes since midnight and the offset in minutes.
fn parse_time(b: &[u8]) -> Result<(i64, Option<i64>), DateError> {
    if b.len() < 5 || b[2] != b':' {
        return Err(DateError::Shape);
    }
    let h = digits(&b[0..2]).ok_or(DateError::Shape)?;
    let mi = digits(&b[3..5]).ok_or(DateError::Shape)?;
    let mut rest = &b[5..];
    let mut sec = 0;
    if let [b':', s1, s2, tail @ ..] = rest {
        sec = digits(&[*s1, *s2]).ok_or(DateError::Shape)?;
        rest = tail;
        if let [b'.', tail @ ..] = rest {
            let n = tail.iter().take_while(|c| c.is_ascii_digit()).count();
            if n == 0 {
                return Err(DateError::Shape);
            }
            rest = &tail[n..];
        }
    }
    if h > 23 || mi > 59 || sec > 59 {
        return Err(DateError::Range(format!(
            "time {h:02}:{mi:02}:{sec:02} does not exist"
        )));
    }
    let offset = parse_offset(rest)?;
    Ok(((h * 60 + mi) as i64, offset))
}

fn parse_offset(b: &[u8]) -> Result<Option<i64>, DateError> {
    let (sign, rest) = match b {
        [] => return Ok(None),
        [b'Z'] => return Ok(Some(0)),
        [b'+', rest @ ..] => (1, rest),
        [b'-', rest @ ..] => (-1, rest),
        _ => return Err(DateError::Shape),
    };
    let (h, m) = match rest {
        [h1, h2] => (digits(&[*h1, *h2]), Some(0)),
        [h1, h2, m1, m2] | [h1, h2, b':', m1, m2] => (digits(&[*h1, *h2]), digits(&[*m1, *m2])),
        _ => return Err(DateError::Shape),
    };
    let (h, m) = (h.ok_or(DateError::Shape)?, m.ok_or(DateError::Shape)?);
    if h > 14 || m > 59 {
        return Err(DateError::Range(format!(
            "offset {h:02}:{m:02} is not a real UTC offset"
        )));
    }
    Ok(Some(sign * (h * 60 + m) as i64))
}

fn digits(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + (c - b'0') as u32)
    })
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 (Howard Hinnant's `days_from_civil`).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> Day {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The calendar date of a day number, as `(year, month, day)`.
pub fn civil_from_days(z: Day) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

/// Formats a day number as `YYYY-MM-DD`.
pub fn format_day(day: Day) -> String {
    let (y, m, d) = civil_from_days(day);
    format!("{y:04}-{m:02}-{d:02}")
}

/// A Unix time in seconds as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn format_timestamp(secs: i64) -> String {
    let (day, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        format_day(day),
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// The current time as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn now_utc() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    format_timestamp(secs)
}

/// Today's date in UTC.
pub fn today_utc() -> Day {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    secs.div_euclid(86_400)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> Day {
        parse_day(s).unwrap()
    }

    #[test]
    fn timestamps() {
        assert_eq!(format_timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_timestamp(1_795_446_245), "2026-11-23T15:04:05Z");
        assert_eq!(format_timestamp(-1), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn accepted_forms() {
        let d = day("2026-06-27");
        let utc = |s| parse(s).unwrap();
        assert_eq!(utc("NOW"), When::Now);
        assert_eq!(utc("2026-06-27"), When::Date { day: d });
        for s in [
            "2026-06-27T10:00Z",
            "2026-06-27T10:00:00Z",
            "2026-06-27T10:00:00.250Z",
            "2026-06-27T10:00:00+05",
            "2026-06-27T10:00:00-0800",
            "2026-06-27T10:00:00-08:00",
        ] {
            assert_eq!(
                utc(s),
                When::DateTime {
                    utc_day: d,
                    has_offset: true
                },
                "{s}"
            );
        }
        assert_eq!(
            utc("2026-06-27T10:00:00"),
            When::DateTime {
                utc_day: d,
                has_offset: false
            }
        );
    }

    #[test]
    fn offsets_move_the_utc_date() {
        let d = day("2026-06-27");
        assert_eq!(
            parse("2026-06-27T23:30:00-02:00").unwrap().utc_day(),
            Some(d + 1)
        );
        assert_eq!(
            parse("2026-06-27T00:30:00+01").unwrap().utc_day(),
            Some(d - 1)
        );
    }

    #[test]
    fn rejected_forms() {
        for s in [
            "11/20/2026",
            "yesterday",
            "2026-06-27 10:00:00",
            "2026-06-27T10",
            "2026-06-27T10:00:00.Z",
            "2026-06-27T10:00:00+5",
            "2026-06-27T10:00:00 Z",
            "now",
            "",
        ] {
            assert_eq!(parse(s), Err(DateError::Shape), "{s}");
        }
        for s in [
            "2026-13-01T00:00:00Z",
            "2026-02-30T00:00:00Z",
            "2026-02-29",
            "2026-06-27T24:00:00Z",
            "2026-06-27T10:00:00+15:00",
        ] {
            assert!(matches!(parse(s), Err(DateError::Range(_))), "{s}");
        }
        assert!(parse("2024-02-29").is_ok());
    }

    #[test]
    fn civil_round_trip() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(day("2026-06-30") - day("2026-04-03"), 88);
        assert_eq!(day("2026-06-30") - day("2025-05-28"), 398);
        for z in [-800_000, -1, 0, 1, 20_000, 2_900_000] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
        assert_eq!(format_day(day("2000-02-29")), "2000-02-29");
    }
}
