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

/// True when `s` holds an email address anywhere: alone, with spaces around it, in a display
/// form (`"Jane Doe" <jane@example.com>`) or in a list (`a@x.com;b@x.com`). Decided by a
/// search for `@` when there is none.
pub fn contains_email(s: &str) -> bool {
    emails(s).next().is_some()
}

/// Hides most of the local part of every address in `s` (see [`contains_email`]), so
/// diagnostics do not copy personal data into logs: `Jane <jane@x.com>` → `Jane <j***@x.com>`.
pub fn mask_emails(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut done = 0;
    for (start, at, end) in emails(s) {
        out.push_str(&s[done..start]);
        out.extend(s[start..at].chars().take(1));
        out.push_str("***");
        out.push_str(&s[at..end]);
        done = end;
    }
    out.push_str(&s[done..]);
    out
}

/// Where an address may not continue: spaces and the punctuation of display forms and lists.
fn breaks_address(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            ';' | ',' | '<' | '>' | '"' | '\'' | '(' | ')' | '[' | ']' | ':'
        )
}

/// The addresses in `s`: (start, position of `@`, end) of each token that looks like
/// `local@domain.tld`.
fn emails(s: &str) -> impl Iterator<Item = (usize, usize, usize)> + '_ {
    memchr::memchr_iter(b'@', s.as_bytes()).filter_map(move |at| {
        let start = s[..at].rfind(breaks_address).map_or(0, |i| i + 1);
        let end = s[at + 1..]
            .find(breaks_address)
            .map_or(s.len(), |i| at + 1 + i);
        looks_like_email(&s[start..end]).then_some((start, at, end))
    })
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
        assert_eq!(mask_emails("jane.doe@example.com"), "j***@example.com");
    }

    #[test]
    fn every_shape_of_address_is_found_and_masked() {
        let cases = [
            (" jane@example.com", " j***@example.com"),
            ("  Jane.Doe@Example.com ", "  J***@Example.com "),
            (
                "\"Jane Doe\" <jane@example.com>",
                "\"Jane Doe\" <j***@example.com>",
            ),
            ("a@x.com;b@x.com", "a***@x.com;b***@x.com"),
            ("mailto:bob@x.org", "mailto:b***@x.org"),
        ];
        for (value, masked) in cases {
            assert!(contains_email(value), "{value}");
            assert_eq!(mask_emails(value), masked);
        }
        for other in ["CUST-1", "a@b", "@x.com", "a@@x.com", "x@.com"] {
            assert!(!contains_email(other), "{other}");
            assert_eq!(mask_emails(other), other);
        }
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
