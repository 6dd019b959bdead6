//! The value repairs `fix` makes, each one only where the intended value is certain: spaces
//! and tabs around a value go, a currency code valid in capitals is written in capitals, and
//! thousands separators go from a decimal that has a decimal point after whole groups of
//! three (`1,234.56`; never `10,5` or `1,000`). Everything else stays a finding.

use crate::template::ValueType;
use crate::values::currency;

/// Which repairs a value needs (a bit each).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Needs(u8);

impl Needs {
    /// Spaces or tabs around the value.
    pub const TRIM: Needs = Needs(1);
    /// A currency code in other letter case.
    pub const UPPER: Needs = Needs(2);
    /// Thousands separators in a decimal.
    pub const SEPARATORS: Needs = Needs(4);

    /// No repair at all.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether `other`'s repairs are among these.
    pub fn has(self, other: Needs) -> bool {
        self.0 & other.0 == other.0 && !other.is_empty()
    }

    fn with(self, other: Needs, on: bool) -> Needs {
        if on { Needs(self.0 | other.0) } else { self }
    }
}

/// The repairs `value`, of type `ty`, needs. Decided by a byte or two for a value that
/// needs none (this runs on every value of a file).
#[inline]
pub fn needs(ty: ValueType, value: &str) -> Needs {
    let b = value.as_bytes();
    let edge = match b {
        [] => false,
        [first, ..] => blank(*first) || b.last().is_some_and(|l| blank(*l)),
    };
    let maybe = edge
        || match ty {
            ValueType::Currency => b.iter().any(u8::is_ascii_lowercase),
            ValueType::Decimal => memchr::memchr(b',', b).is_some(),
            _ => false,
        };
    if maybe {
        needs_slowly(ty, value, edge)
    } else {
        Needs::default()
    }
}

fn blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn needs_slowly(ty: ValueType, value: &str, trim: bool) -> Needs {
    let v = value.trim_matches([' ', '\t']);
    let upper = ty == ValueType::Currency
        && v.bytes().any(|b| b.is_ascii_lowercase())
        && currency::check(&v.to_ascii_uppercase()).is_ok();
    let separators = ty == ValueType::Decimal && v.contains(',') && unambiguous_thousands(v);
    Needs::default()
        .with(Needs::TRIM, trim)
        .with(Needs::UPPER, upper)
        .with(Needs::SEPARATORS, separators)
}

/// Writes the repaired `value` into `out` (cleared first).
pub fn apply(ty: ValueType, value: &str, out: &mut String) {
    out.clear();
    let n = needs(ty, value);
    let v = value.trim_matches([' ', '\t']);
    if n.has(Needs::UPPER) {
        out.push_str(&v.to_ascii_uppercase());
    } else if n.has(Needs::SEPARATORS) {
        out.extend(v.chars().filter(|&c| c != ','));
    } else {
        out.push_str(v);
    }
}

/// `1,234.56`, `-12,345,678.90`: groups of three after the first one to three digits, and a
/// decimal point after them, so a comma cannot be a decimal comma.
fn unambiguous_thousands(v: &str) -> bool {
    let body = v.strip_prefix('-').unwrap_or(v);
    let Some((whole, fraction)) = body.split_once('.') else {
        return false;
    };
    let mut groups = whole.split(',');
    let first = groups.next().unwrap_or_default();
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let mut rest = groups.peekable();
    (1..=3).contains(&first.len())
        && digits(first)
        && rest.peek().is_some()
        && rest.all(|g| g.len() == 3 && digits(g))
        && digits(fraction)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed(ty: ValueType, v: &str) -> String {
        let mut out = String::new();
        apply(ty, v, &mut out);
        out
    }

    #[test]
    fn only_certain_repairs() {
        use ValueType::{Currency, Decimal, Text};
        assert_eq!(needs(Text, "abc"), Needs::default());
        assert_eq!(needs(Text, " abc\t"), Needs::TRIM);
        assert_eq!(needs(Text, " "), Needs::TRIM);
        assert_eq!(fixed(Text, "  a b "), "a b");
        assert_eq!(needs(Currency, "usd"), Needs::UPPER);
        assert_eq!(fixed(Currency, " eur "), "EUR");
        assert!(needs(Currency, "xyz").is_empty() && needs(Currency, "xxx").is_empty());
        assert_eq!(fixed(Decimal, "1,234.56"), "1234.56");
        assert_eq!(fixed(Decimal, "-12,345,678.90"), "-12345678.90");
        for left in [
            "10,5",
            "1,000",
            "1,00.00",
            "1234,567.00",
            ",123.00",
            "1,234.",
            "1,2345.00",
        ] {
            assert!(needs(Decimal, left).is_empty(), "{left}");
        }
        assert!(needs(Text, "1,234.56").is_empty());
    }

    #[test]
    fn repairs_are_idempotent() {
        use ValueType::{Currency, Decimal, Text};
        for (ty, v) in [(Text, " a "), (Currency, " usd"), (Decimal, " 1,234.56 ")] {
            let once = fixed(ty, v);
            assert!(needs(ty, &once).is_empty(), "{v:?} → {once:?}");
        }
    }
}
