//! Recognises what the first bytes of a file say about its encoding.

/// The encoding the first bytes announce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniffed {
    /// No byte-order mark: read as UTF-8.
    Utf8,
    /// A UTF-8 byte-order mark of this many bytes (skipped).
    Utf8Bom(usize),
    /// A UTF-16 or UTF-32 file, which impact.com cannot read; `bom` says how it was seen.
    Wide {
        /// `UTF-16LE`, `UTF-16BE`, `UTF-32LE` or `UTF-32BE`.
        name: &'static str,
        /// Announced by a byte-order mark (rather than by NUL-byte patterns).
        bom: bool,
    },
}

/// Looks at up to the first 4 bytes of a file.
pub fn sniff(p: &[u8]) -> Sniffed {
    let wide = |name, bom| Sniffed::Wide { name, bom };
    match p {
        [0xFF, 0xFE, 0, 0, ..] => wide("UTF-32LE", true),
        [0, 0, 0xFE, 0xFF, ..] => wide("UTF-32BE", true),
        [0xFF, 0xFE, ..] => wide("UTF-16LE", true),
        [0xFE, 0xFF, ..] => wide("UTF-16BE", true),
        [0xEF, 0xBB, 0xBF, ..] => Sniffed::Utf8Bom(3),
        // ASCII text in a wide encoding has NUL bytes in fixed places.
        [a, 0, 0, 0, ..] if *a != 0 => wide("UTF-32LE", false),
        [0, 0, 0, a, ..] if *a != 0 => wide("UTF-32BE", false),
        [a, 0, b, 0, ..] if *a != 0 && *b != 0 => wide("UTF-16LE", false),
        [0, a, 0, b, ..] if *a != 0 && *b != 0 => wide("UTF-16BE", false),
        _ => Sniffed::Utf8,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boms_and_patterns() {
        assert_eq!(sniff(b"\xEF\xBB\xBFab"), Sniffed::Utf8Bom(3));
        assert_eq!(
            sniff(b"\xFF\xFEa\0"),
            Sniffed::Wide {
                name: "UTF-16LE",
                bom: true
            }
        );
        assert_eq!(
            sniff(b"\xFE\xFF\0a"),
            Sniffed::Wide {
                name: "UTF-16BE",
                bom: true
            }
        );
        assert_eq!(
            sniff(b"\xFF\xFE\0\0"),
            Sniffed::Wide {
                name: "UTF-32LE",
                bom: true
            }
        );
        assert_eq!(
            sniff(b"C\0a\0"),
            Sniffed::Wide {
                name: "UTF-16LE",
                bom: false
            }
        );
        assert_eq!(
            sniff(b"\0C\0a"),
            Sniffed::Wide {
                name: "UTF-16BE",
                bom: false
            }
        );
        assert_eq!(
            sniff(b"C\0\0\0"),
            Sniffed::Wide {
                name: "UTF-32LE",
                bom: false
            }
        );
        assert_eq!(sniff(b"Camp"), Sniffed::Utf8);
        assert_eq!(sniff(b""), Sniffed::Utf8);
        assert_eq!(sniff(b"a\0"), Sniffed::Utf8);
    }
}
