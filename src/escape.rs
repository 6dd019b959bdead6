//! Makes untrusted text safe to echo: no control or bidi characters reach a terminal or log,
//! and a 50 MB cell does not become a 50 MB diagnostic.

use std::fmt::Write;

/// Longest value (in characters) echoed in a diagnostic before it is shortened.
pub const MAX_DISPLAY_CHARS: usize = 120;

/// Escapes control, bidi and other invisible formatting characters, without shortening
/// (for file names in human-readable output).
pub fn controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    text.chars().for_each(|c| push_escaped(&mut out, c));
    out
}

/// Escapes control, bidi and other invisible formatting characters as `\u{..}` (or `\n`,
/// `\r`, `\t`) and shortens the text to [`MAX_DISPLAY_CHARS`] characters.
pub fn for_display(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_DISPLAY_CHARS * 2));
    for (shown, c) in text.chars().enumerate() {
        if shown == MAX_DISPLAY_CHARS {
            let _ = write!(out, "… ({} bytes in all)", text.len());
            break;
        }
        push_escaped(&mut out, c);
    }
    out
}

/// A path as a shell word, so that the printed fix can be pasted as is.
pub fn shell_word(path: &std::path::Path) -> String {
    let s = path.display().to_string();
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./-+,:@%=".contains(c));
    if plain {
        s
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if is_hazard(c) => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
        c => out.push(c),
    }
}

/// Characters that can move the cursor, hide text or reorder it on a terminal.
fn is_hazard(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{200B}'..='\u{200F}'   // zero-width and directional marks
            | '\u{202A}'..='\u{202E}' // bidi embeddings and overrides
            | '\u{2066}'..='\u{2069}' // bidi isolates
            | '\u{FEFF}'              // stray byte-order mark
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_controls_and_bidi() {
        assert_eq!(for_display("a\u{1b}[31mb"), "a\\u{1b}[31mb");
        assert_eq!(for_display("x\ny\r\tz\0"), "x\\ny\\r\\tz\\u{0}");
        assert_eq!(for_display("abc\u{202E}def"), "abc\\u{202e}def");
        assert_eq!(for_display("café"), "café");
    }

    #[test]
    fn file_names_are_escaped_but_never_shortened() {
        let name = format!("{}\n::error::x.csv", "d/".repeat(100));
        let shown = controls(&name);
        assert!(shown.ends_with("\\n::error::x.csv") && shown.len() == name.len() + 1);
    }

    #[test]
    fn shortens_long_values() {
        let long = "x".repeat(10_000);
        let shown = for_display(&long);
        assert!(shown.starts_with(&"x".repeat(MAX_DISPLAY_CHARS)));
        assert!(shown.ends_with("… (10000 bytes in all)"));
        assert_eq!(
            for_display(&"y".repeat(MAX_DISPLAY_CHARS)).len(),
            MAX_DISPLAY_CHARS
        );
    }
}
