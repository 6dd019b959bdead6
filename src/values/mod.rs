//! Parsers for the value types impact.com documents: dates, numbers, currency codes,
//! booleans and hashed emails. Pure functions, no allocation on the success path.

pub mod currency;
pub mod date;
pub mod number;

/// `true` or `false`, in any letter case.
pub fn is_boolean(s: &str) -> bool {
    s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false")
}

/// A SHA-1 (40) or SHA-256 (64) hex digest.
pub fn is_hex_digest(s: &str) -> bool {
    matches!(s.len(), 40 | 64) && s.bytes().all(|c| c.is_ascii_hexdigit())
}

/// Something shaped like `local@domain.tld`.
pub fn looks_like_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.contains(char::is_whitespace)
}

/// Hides most of an email's local part, so diagnostics do not copy personal data into logs.
pub fn mask_email(s: &str) -> String {
    match s.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_and_digests() {
        assert!(looks_like_email("jane.doe@example.com"));
        assert!(!looks_like_email("CUST-1"));
        assert!(!looks_like_email("a@b"));
        assert!(!looks_like_email("a b@c.com"));
        assert!(is_hex_digest(&"a".repeat(40)));
        assert!(is_hex_digest(&"F0".repeat(32)));
        assert!(!is_hex_digest(&"a".repeat(32)));
        assert!(!is_hex_digest(&"g".repeat(40)));
        assert_eq!(mask_email("jane.doe@example.com"), "j***@example.com");
    }

    #[test]
    fn booleans() {
        assert!(is_boolean("true") && is_boolean("FALSE") && !is_boolean("yes"));
    }
}
