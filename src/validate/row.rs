//! Row rules: each value against its type and length, required values, attribution keys,
//! conflicting fields, and the EventDate age window.

use super::header::{HeaderPlan, RowRequirement};
use crate::diagnostic::{Code, Diagnostic};
use crate::escape::for_display as shown;
use crate::input::Record;
use crate::template::{Field, Template, ValueType};
use crate::values::date::{self, DateError, Day, When};
use crate::values::{self, currency, number};

/// impact.com ignores events older than this many days (without a MediaId)…
pub const MAX_AGE_DAYS: i64 = 88;
/// …and processes nothing older than this, MediaId or not.
pub const MAX_AGE_WITH_MEDIA_DAYS: i64 = 398;
/// Events more than this many days after the as-of date are suspicious.
pub const MAX_FUTURE_DAYS: i64 = 1;

/// Where a row is, for the diagnostics about it.
#[derive(Clone, Copy)]
pub struct At {
    /// Physical line where the record starts.
    pub line: u64,
    /// 1-based data row.
    pub row: u64,
}

/// What the row rules saw of a row besides their findings, for reports that chart rows
/// (`--format html`): read while checking, so it costs nothing more.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Observed {
    /// The UTC day of the row's EventDate (`NOW`: the as-of day); `None` when it has none
    /// that can be read.
    pub event_day: Option<Day>,
    /// A MediaId or MediaPartnerId value is present.
    pub media: bool,
}

/// Runs every row rule on one well-formed record.
pub fn check(
    t: &Template,
    plan: &HeaderPlan,
    rec: &Record,
    at: At,
    as_of: Day,
    emit: &mut dyn FnMut(Diagnostic),
) -> Observed {
    let mut put = |d: Diagnostic| emit(d.at_row(at.line, at.row));
    let media = plan.media.iter().any(|&c| rec.filled(c));
    let mut seen = Observed {
        event_day: None,
        media,
    };
    for &(col, id) in &plan.checks {
        let value = rec.get(col);
        if !filled(value) {
            continue;
        }
        if let Some((code, message, help)) =
            check_value(&t.fields[id], value, media, as_of, &mut seen.event_day)
        {
            let name = &plan.names[col];
            // Whatever the finding, an address in the value is never shown in full.
            let shown_value = values::mask_emails(value);
            put(Diagnostic::new(code, format!("`{name}` {message}"), help)
                .column(name)
                .value(&shown_value));
        }
    }
    required(plan, rec, &mut put);
    for &(a, b) in &plan.conflicts {
        if rec.filled(a) && rec.filled(b) {
            let (na, nb) = (&plan.names[a], &plan.names[b]);
            put(Diagnostic::new(
                Code::ConflictingColumns,
                format!(
                    "`{na}` and `{nb}` are both set; impact.com cannot tell which amount to use"
                ),
                format!("fill only one of `{na}` and `{nb}` on each row"),
            )
            .column(na)
            .value(rec.get(a)));
        }
    }
    seen
}

/// Checks one non-empty value against its field's type and limits (an EventDate's day goes
/// to `event_day`).
fn check_value(
    field: &Field,
    value: &str,
    media: bool,
    as_of: Day,
    event_day: &mut Option<Day>,
) -> Found {
    match field.ty {
        ValueType::Text => text(value, field.max_length, field.no_email),
        ValueType::Integer => integer(value, field.digits),
        ValueType::Decimal => decimal(value, field.precision, field.scale),
        ValueType::Currency => currency_code(value),
        ValueType::Boolean => (!values::is_boolean(value)).then(|| {
            let message = format!("is `{}`, not true or false", shown(value));
            (Code::InvalidBoolean, message, "write true or false".into())
        }),
        ValueType::EventDate => event_date(value, media, as_of, event_day),
        ValueType::Date => custom_date(value),
        ValueType::EmailHash => email_hash(value),
        ValueType::ReasonCode => {
            text(value, field.max_length, false).or_else(|| reason_code(value, &field.known))
        }
    }
}

/// A value that is not one of the field's documented codes: a warning, since the list is
/// impact.com's API list and the batch list is not confirmed to be the same.
fn reason_code(value: &str, known: &[String]) -> Found {
    if known.iter().any(|k| k == value.trim()) {
        return None;
    }
    let upper = value.trim().to_ascii_uppercase();
    let help = match known.iter().find(|k| **k == upper) {
        Some(k) => format!("write it in capitals: `{k}`"),
        None => format!(
            "use a code impact.com documents, such as {} (the template's schema lists them all), or keep it if your account defines it",
            known
                .iter()
                .take(2)
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(" or ")
        ),
    };
    Some((
        Code::UnknownReason,
        format!(
            "is `{}`, not a reason code impact.com documents",
            shown(value)
        ),
        help,
    ))
}

type Found = Option<(Code, String, String)>;

fn integer(value: &str, digits: u8) -> Found {
    let e = number::check_integer(value, digits).err()?;
    let (code, what) = match e {
        number::NumberError::TooManyDigits(n) => {
            (Code::NumberOutOfRange, format!("has more than {n} digits"))
        }
        _ => (Code::InvalidInteger, "is not a whole number".into()),
    };
    Some((code, format!("{what}: `{}`", shown(value)), e.explain()))
}

/// A plain decimal that fits DECIMAL(precision, scale): more whole digits is an error (the
/// value cannot be stored), more decimal places a warning (impact.com rounds them away).
fn decimal(value: &str, precision: u8, scale: u8) -> Found {
    let digits = match number::decimal_digits(value) {
        Ok(d) => d,
        Err(e) => {
            let message = format!("is not a plain decimal number: `{}`", shown(value));
            return Some((Code::InvalidNumber, message, e.explain()));
        }
    };
    let whole = usize::from(precision.saturating_sub(scale));
    let ty = format!("DECIMAL({precision},{scale})");
    if digits.whole > whole {
        return Some((
            Code::NumberOutOfRange,
            format!(
                "has {} digits before the point: `{}`; impact.com stores it as {ty}, at most {whole}",
                digits.whole,
                shown(value)
            ),
            "check the value (a missing decimal point, or cents sent as units?)".into(),
        ));
    }
    (digits.places > usize::from(scale)).then(|| {
        (
            Code::DecimalPrecision,
            format!(
                "has {} decimal places: `{}`; impact.com stores it as {ty} and keeps {scale}",
                digits.places,
                shown(value)
            ),
            format!(
                "round it to {scale} decimal places yourself, so the amount is the one you mean"
            ),
        )
    })
}

fn text(value: &str, max: Option<usize>, no_email: bool) -> Found {
    if let Some(max) = max
        && value.len() > max
    {
        let chars = value.chars().count();
        if chars > max {
            return Some((
                Code::ValueTooLong,
                format!("is {chars} characters long; at most {max} are allowed"),
                format!("shorten the value to {max} characters"),
            ));
        }
    }
    if no_email && values::contains_email(value) {
        return Some((
            Code::PlaintextEmail,
            format!(
                "holds an email address (`{}`); impact.com does not accept personal data here",
                shown(&values::mask_emails(value))
            ),
            "use your own non-identifying customer id, or a SHA-256 hash of the address".into(),
        ));
    }
    None
}

fn currency_code(value: &str) -> Found {
    let err = currency::check(value).err()?;
    let help = match err {
        currency::CurrencyError::Case => {
            format!("write it in capitals: `{}`", value.to_ascii_uppercase())
        }
        currency::CurrencyError::NotACurrency(what) => format!(
            "`{}` is ISO 4217's code for \"{what}\", not a currency: use the currency of the sale, such as USD, EUR or GBP",
            shown(value)
        ),
        currency::CurrencyError::Unknown => {
            "use a three-letter ISO 4217 code such as USD, EUR or GBP".into()
        }
    };
    Some((
        Code::InvalidCurrency,
        format!("is not an ISO 4217 currency code: `{}`", shown(value)),
        help,
    ))
}

fn email_hash(value: &str) -> Found {
    if values::is_hex_digest(value) {
        return None;
    }
    let what = if values::contains_email(value) {
        format!(
            "is a plain email address (`{}`)",
            shown(&values::mask_emails(value))
        )
    } else {
        format!("is not a SHA-1 or SHA-256 hex digest: `{}`", shown(value))
    };
    Some((
        Code::PlaintextEmail,
        format!("{what}; impact.com accepts only hashed emails"),
        "send the lower-case SHA-256 hex digest of the trimmed, lower-cased address".into(),
    ))
}

const DATE_HELP: &str = "write an ISO 8601 date and time with its UTC offset, e.g. 2026-06-20T14:30:00-07:00 or 2026-06-20T21:30:00Z";

fn date_error(value: &str, e: DateError, allow_now: bool) -> Found {
    let what = if allow_now {
        "an ISO 8601 date or NOW"
    } else {
        "an ISO 8601 date"
    };
    let message = match e {
        DateError::Shape => format!("is not {what}: `{}`", shown(value)),
        DateError::Range(why) => format!("is not a real date: `{}` ({why})", shown(value)),
    };
    Some((Code::InvalidDate, message, DATE_HELP.into()))
}

fn custom_date(value: &str) -> Found {
    match date::parse(value) {
        Ok(When::Now) => date_error(value, DateError::Shape, false),
        Ok(_) => None,
        Err(e) => date_error(value, e, false),
    }
}

fn event_date(value: &str, media: bool, as_of: Day, event_day: &mut Option<Day>) -> Found {
    let when = match date::parse(value) {
        Ok(w) => w,
        Err(e) => return date_error(value, e, true),
    };
    let Some(day) = when.utc_day() else {
        *event_day = Some(as_of);
        return None;
    };
    *event_day = Some(day);
    let age = as_of - day;
    let dates = || (date::format_day(day), date::format_day(as_of));
    if age > MAX_AGE_WITH_MEDIA_DAYS {
        let (on, asof) = dates();
        return Some((
            Code::EventExpired,
            format!(
                "is {age} days before {asof} (event on {on}); impact.com processes nothing older than {MAX_AGE_WITH_MEDIA_DAYS} days"
            ),
            "leave this event out; it can no longer be submitted".into(),
        ));
    }
    if age > MAX_AGE_DAYS && !media {
        let (on, asof) = dates();
        return Some((
            Code::EventTooOld,
            format!(
                "is {age} days before {asof} (event on {on}); impact.com ignores events older than {MAX_AGE_DAYS} days unless a MediaId is given"
            ),
            format!(
                "send it with the partner's MediaId (or MediaPartnerId), which allows up to {MAX_AGE_WITH_MEDIA_DAYS} days, or leave it out"
            ),
        ));
    }
    if -age > MAX_FUTURE_DAYS {
        let (on, asof) = dates();
        return Some((
            Code::EventInFuture,
            format!("is {} days after {asof} (event on {on})", -age),
            "check the date and its UTC offset; pass --as-of if you validate ahead of time".into(),
        ));
    }
    match when {
        When::DateTime {
            has_offset: false, ..
        } => Some((
            Code::AmbiguousTimezone,
            format!("`{}` has no UTC offset; it is read as UTC", shown(value)),
            "add Z or the offset, e.g. 2026-06-20T14:30:00-07:00".into(),
        )),
        When::Date { .. } => Some((
            Code::AmbiguousTimezone,
            format!("`{}` has no time; it is read as midnight UTC", shown(value)),
            "add the time and offset, e.g. 2026-06-20T14:30:00-07:00".into(),
        )),
        _ => None,
    }
}

/// True when `value` holds something other than spaces or tabs (nearly always decided by its
/// first byte).
#[inline]
fn filled(value: &str) -> bool {
    let blank = |b: &u8| *b == b' ' || *b == b'\t';
    match value.as_bytes() {
        [] => false,
        [first, rest @ ..] => !blank(first) || !rest.iter().all(blank),
    }
}

fn required(plan: &HeaderPlan, rec: &Record, put: &mut dyn FnMut(Diagnostic)) {
    // Most requirements name one column: checked first, without the general case's loops.
    let singles_met = plan.required_columns.iter().all(|&c| filled(rec.get(c)));
    for r in &plan.requirements {
        if singles_met && r.is_single() && r.is_unconditional() || !applies(r, rec) {
            continue;
        }
        let filled = |alt: &Vec<usize>| alt.iter().all(|&c| rec.filled(c));
        if r.alternatives.iter().any(filled) {
            continue;
        }
        if r.code == Code::NoAttributionKey {
            // No single column is at fault, so the finding names none.
            let keys: Vec<String> = r.alternatives.iter().map(|a| quoted(plan, a[0])).collect();
            put(Diagnostic::new(
                r.code,
                format!("every attribution key is empty ({})", keys.join(", ")),
                "fill at least one attribution key, e.g. the ClickId of the referring click",
            ));
            continue;
        }
        // Report the first empty column of the first alternative.
        let first = r.alternatives[0].iter().copied().find(|&c| !rec.filled(c));
        let name = &plan.names[first.unwrap_or(r.alternatives[0][0])];
        let (message, help) = if r.alternatives.len() == 1 && r.alternatives[0].len() == 1 {
            (
                format!("`{name}` is empty"),
                format!("every row needs a value in `{name}`"),
            )
        } else {
            let options = alternatives_text(plan, &r.alternatives);
            let what = r.name.as_deref().unwrap_or("the row");
            (
                format!("`{name}` is empty: {what} needs {options}"),
                format!("fill {options}"),
            )
        };
        put(Diagnostic::new(r.code, message, help).column(name));
    }
}

/// Whether a conditional requirement applies to this row (an item in use, a Reason other
/// than the one that waives it).
fn applies(r: &RowRequirement, rec: &Record) -> bool {
    let used = r.when_filled.is_empty() || r.when_filled.iter().any(|&c| rec.filled(c));
    let waived = (r.unless.as_ref()).is_some_and(|(c, v)| rec.get(*c).trim() == v);
    used && !waived
}

fn quoted(plan: &HeaderPlan, col: usize) -> String {
    format!("`{}`", plan.names[col])
}

/// `` `A` or `B` ``, or `` `ActionId`, or `Oid` and `ActionTrackerId` `` when an alternative
/// needs several columns.
fn alternatives_text(plan: &HeaderPlan, alternatives: &[Vec<usize>]) -> String {
    let parts: Vec<String> = alternatives
        .iter()
        .map(|alt| {
            alt.iter()
                .map(|&c| quoted(plan, c))
                .collect::<Vec<_>>()
                .join(" and ")
        })
        .collect();
    let joint = alternatives.iter().any(|a| a.len() > 1);
    parts.join(if joint { ", or " } else { " or " })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn as_of() -> Day {
        date::parse_day("2026-06-30").unwrap()
    }

    fn code(f: Found) -> Option<Code> {
        f.map(|f| f.0)
    }

    #[test]
    fn age_window_boundaries() {
        let at = |v| code(event_date(v, false, as_of(), &mut None));
        assert_eq!(at("2026-04-03T12:00:00Z"), None); // 88 days
        assert_eq!(at("2026-04-02T12:00:00Z"), Some(Code::EventTooOld)); // 89
        assert_eq!(
            code(event_date("2026-04-02T12:00:00Z", true, as_of(), &mut None)),
            None
        );
        assert_eq!(
            code(event_date("2025-05-28T12:00:00Z", true, as_of(), &mut None)),
            None
        ); // 398
        assert_eq!(
            code(event_date("2025-05-27T12:00:00Z", true, as_of(), &mut None)),
            Some(Code::EventExpired)
        );
        assert_eq!(at("2025-05-27T12:00:00Z"), Some(Code::EventExpired));
        assert_eq!(at("2026-07-01T12:00:00Z"), None); // 1 day ahead
        assert_eq!(at("2026-07-02T12:00:00Z"), Some(Code::EventInFuture));
        assert_eq!(at("NOW"), None);
    }

    #[test]
    fn offsets_decide_the_day() {
        // 23:30 on April 2nd at -02:00 is April 3rd in UTC: 88 days, accepted.
        assert_eq!(
            code(event_date(
                "2026-04-02T23:30:00-02:00",
                false,
                as_of(),
                &mut None
            )),
            None
        );
    }

    #[test]
    fn timezone_warnings() {
        assert_eq!(
            code(event_date("2026-06-20T10:00:00", false, as_of(), &mut None)),
            Some(Code::AmbiguousTimezone)
        );
        assert_eq!(
            code(event_date("2026-06-20", false, as_of(), &mut None)),
            Some(Code::AmbiguousTimezone)
        );
        assert_eq!(code(custom_date("2026-06-20")), None);
        assert_eq!(code(custom_date("NOW")), Some(Code::InvalidDate));
    }

    #[test]
    fn text_limits_count_characters() {
        assert_eq!(code(text(&"é".repeat(64), Some(64), false)), None);
        assert_eq!(
            code(text(&"a".repeat(65), Some(64), false)),
            Some(Code::ValueTooLong)
        );
        for email in ["bob@example.com", " bob@example.com", "a@x.com;b@x.com"] {
            assert_eq!(
                code(text(email, Some(255), true)),
                Some(Code::PlaintextEmail)
            );
        }
    }

    #[test]
    fn hashed_emails() {
        assert_eq!(code(email_hash(&"ab".repeat(32))), None);
        let plain = email_hash("jane@example.com").unwrap();
        assert_eq!(plain.0, Code::PlaintextEmail);
        assert!(!plain.1.contains("jane@"), "{}", plain.1);
        let listed = email_hash("\"Jane\" <jane@example.com>").unwrap();
        assert!(listed.1.contains("j***@example.com"), "{}", listed.1);
    }

    #[test]
    fn reason_codes() {
        let known: Vec<String> = ["ITEM_RETURNED", "RESET"].map(String::from).to_vec();
        assert_eq!(code(reason_code("ITEM_RETURNED", &known)), None);
        assert_eq!(code(reason_code(" RESET ", &known)), None);
        let lower = reason_code("reset", &known).unwrap();
        assert_eq!(lower.0, Code::UnknownReason);
        assert!(lower.2.contains("`RESET`"), "{}", lower.2);
        let other = reason_code("Refund", &known).unwrap();
        assert!(
            other.2.contains("`ITEM_RETURNED` or `RESET`"),
            "{}",
            other.2
        );
    }

    #[test]
    fn decimals_fit_their_type() {
        assert_eq!(code(decimal("999999.99", 8, 2)), None);
        assert_eq!(code(decimal("49.990", 8, 2)), None);
        assert_eq!(
            code(decimal("1234567.00", 8, 2)),
            Some(Code::NumberOutOfRange)
        );
        assert_eq!(
            code(decimal("123456789.99", 8, 2)),
            Some(Code::NumberOutOfRange)
        );
        assert_eq!(code(decimal("123456789.99", 14, 2)), None);
        assert_eq!(code(decimal("49.999", 8, 2)), Some(Code::DecimalPrecision));
        assert_eq!(code(decimal("1,000.00", 8, 2)), Some(Code::InvalidNumber));
        assert_eq!(code(integer(&"9".repeat(16), 16)), None);
        assert_eq!(
            code(integer(&"9".repeat(17), 16)),
            Some(Code::NumberOutOfRange)
        );
        assert_eq!(code(integer("1.5", 16)), Some(Code::InvalidInteger));
    }
}
