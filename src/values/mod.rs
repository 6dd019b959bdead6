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
    matches!(s.len(), 40 | 64) && all_hex(s.as_bytes())
}

/// True when every byte is a hex digit, eight bytes at a time (digests are checked on every
/// row of a file that has them).
fn all_hex(bytes: &[u8]) -> bool {
    const fn splat(b: u8) -> u64 {
        u64::from_ne_bytes([b; 8])
    }
    const HIGH: u64 = splat(0x80);
    // For bytes below 0x80: the high bit of each byte of the result is set when the byte is
    // within lo..=hi (no carry crosses bytes).
    fn within(w: u64, lo: u8, hi: u8) -> u64 {
        w.wrapping_add(splat(0x80 - lo)) & !w.wrapping_add(splat(0x7f - hi)) & HIGH
    }
    let mut chunks = bytes.chunks_exact(8);
    let words_ok = chunks.by_ref().all(|c| {
        let w = u64::from_le_bytes(c.try_into().unwrap_or_default());
        // Setting bit 5 folds A-F onto a-f and changes nothing else that matters.
        w & HIGH == 0 && (within(w, b'0', b'9') | within(w | splat(0x20), b'a', b'f')) == HIGH
    });
    words_ok && chunks.remainder().iter().all(u8::is_ascii_hexdigit)
}

/// Something shaped like `local@domain.tld`.
pub fn looks_like_email(s: &str) -> bool {
    let Some(at) = memchr::memchr(b'@', s.as_bytes()) else {
        return false;
    };
    let (local, domain) = (&s[..at], &s[at + 1..]);
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
    fn hex_digits_are_told_apart_from_every_other_byte() {
        for b in 0..=255u8 {
            let word = [b; 8];
            assert_eq!(all_hex(&word), b.is_ascii_hexdigit(), "byte {b:#x}");
            let mut mixed = *b"0123abCD";
            mixed[5] = b;
            assert_eq!(
                all_hex(&mixed),
                b.is_ascii_hexdigit(),
                "byte {b:#x} among digits"
            );
        }
    }

    #[test]
    fn booleans() {
        assert!(is_boolean("true") && is_boolean("FALSE") && !is_boolean("yes"));
    }
}
