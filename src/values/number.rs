//! Plain decimals and whole numbers, checked by hand, with a reason a person can act on.

/// Why a value is not an accepted number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberError {
    /// Contains a comma (thousands separator or decimal comma).
    Comma,
    /// Contains a currency symbol or code.
    Currency,
    /// Leading or trailing spaces.
    Spaces,
    /// Has a fractional part where a whole number is required.
    Fraction,
    /// A minus sign where only zero or more is allowed.
    Negative,
    /// More digits than the field allows.
    TooManyDigits(u8),
    /// Not a whole number at all.
    NotAWholeNumber,
    /// Anything else.
    NotANumber,
}

impl NumberError {
    /// How to fix the value, in a few words.
    pub fn explain(self) -> String {
        match self {
            NumberError::Comma => {
                "remove thousands separators and use a point for decimals (1000.00)".into()
            }
            NumberError::Currency => {
                "remove the currency symbol; put the currency in CurrencyCode".into()
            }
            NumberError::Spaces => "remove the spaces around the number".into(),
            NumberError::Fraction => "write a whole number without a decimal part".into(),
            NumberError::Negative => "write a number of zero or more, without a sign".into(),
            NumberError::TooManyDigits(n) => format!("use at most {n} digits"),
            NumberError::NotAWholeNumber => "write a whole number using digits only (12)".into(),
            NumberError::NotANumber => "write digits with an optional point (12.50)".into(),
        }
    }
}

/// A plain decimal: an optional `-`, digits, and optionally a point followed by digits.
pub fn check_decimal(s: &str) -> Result<(), NumberError> {
    let body = s.as_bytes().strip_prefix(b"-").unwrap_or(s.as_bytes());
    // One pass: digits, and at most one point with digits on both sides.
    let mut point = None;
    for (i, &c) in body.iter().enumerate() {
        match c {
            b'0'..=b'9' => {}
            b'.' if point.is_none() => point = Some(i),
            _ => return Err(diagnose(s)),
        }
    }
    match point {
        None if !body.is_empty() => Ok(()),
        Some(p) if p > 0 && p + 1 < body.len() => Ok(()),
        _ => Err(diagnose(s)),
    }
}

/// The significant digits of a plain decimal: before the point (leading zeros not counted)
/// and after it (trailing zeros not counted), as a DECIMAL(precision, scale) counts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Digits {
    /// Digits of the whole part.
    pub whole: usize,
    /// Decimal places.
    pub places: usize,
}

/// [`check_decimal`], and the digits the value needs.
pub fn decimal_digits(s: &str) -> Result<Digits, NumberError> {
    check_decimal(s)?;
    let body = s.strip_prefix('-').unwrap_or(s);
    let (whole, places) = body.split_once('.').unwrap_or((body, ""));
    Ok(Digits {
        whole: whole.trim_start_matches('0').len(),
        places: places.trim_end_matches('0').len(),
    })
}

/// A whole number of at most `max_digits` digits, without sign.
pub fn check_integer(s: &str, max_digits: u8) -> Result<(), NumberError> {
    if !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()) {
        return if s.len() > max_digits as usize {
            Err(NumberError::TooManyDigits(max_digits))
        } else {
            Ok(())
        };
    }
    if check_decimal(s).is_ok() {
        if s.starts_with('-') {
            return Err(NumberError::Negative);
        }
        return Err(NumberError::Fraction);
    }
    match diagnose(s) {
        NumberError::NotANumber => Err(NumberError::NotAWholeNumber),
        other => Err(other),
    }
}

fn diagnose(s: &str) -> NumberError {
    if s.trim() != s {
        return NumberError::Spaces;
    }
    let has_digit = s.bytes().any(|c| c.is_ascii_digit());
    if has_digit && s.contains(',') {
        return NumberError::Comma;
    }
    let symbol = |c: char| matches!(c, '$' | '€' | '£' | '¥' | '₹' | '₩' | '₽' | '¢');
    let code = s.len() > 3 && s.as_bytes()[..3].iter().all(u8::is_ascii_uppercase);
    if has_digit && (s.chars().any(symbol) || code) {
        return NumberError::Currency;
    }
    NumberError::NotANumber
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals() {
        for ok in ["0", "12", "12.5", "-3.25", "007.10"] {
            assert_eq!(check_decimal(ok), Ok(()), "{ok}");
        }
        assert_eq!(check_decimal("1,000.00"), Err(NumberError::Comma));
        assert_eq!(check_decimal("10,5"), Err(NumberError::Comma));
        assert_eq!(check_decimal("$12.00"), Err(NumberError::Currency));
        assert_eq!(check_decimal("USD12"), Err(NumberError::Currency));
        assert_eq!(check_decimal(" 12"), Err(NumberError::Spaces));
        for bad in ["fifty", ".5", "5.", "1e5", "+5", "-", "1.2.3", "NaN"] {
            assert_eq!(check_decimal(bad), Err(NumberError::NotANumber), "{bad}");
        }
    }

    #[test]
    fn decimal_digits_are_the_significant_ones() {
        let d = |s| decimal_digits(s).map(|d| (d.whole, d.places));
        assert_eq!(d("123456789.99"), Ok((9, 2)));
        assert_eq!(d("49.999"), Ok((2, 3)));
        assert_eq!(d("-007.100"), Ok((1, 1)));
        assert_eq!(d("0"), Ok((0, 0)));
        assert_eq!(d("1,000.00"), Err(NumberError::Comma));
    }

    #[test]
    fn integers() {
        assert_eq!(check_integer("12345", 10), Ok(()));
        assert_eq!(check_integer("1.5", 10), Err(NumberError::Fraction));
        assert_eq!(check_integer("2.0", 10), Err(NumberError::Fraction));
        assert_eq!(check_integer("two", 10), Err(NumberError::NotAWholeNumber));
        assert_eq!(check_integer("-3", 10), Err(NumberError::Negative));
        assert_eq!(
            check_integer("12345678901", 10),
            Err(NumberError::TooManyDigits(10))
        );
        assert_eq!(check_integer("1,000", 10), Err(NumberError::Comma));
    }
}
