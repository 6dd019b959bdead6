//! The one redaction step: every secret this run has read (passwords, tokens, passphrases) is
//! known here, with the encodings a server or a library may echo it in (base64 at any
//! alignment, as inside `AUTH PLAIN` or an HTTP Basic header, URL and form encoding, JSON
//! escaping), and every message that carries text from outside is passed through
//! [`redact`] before it is printed. A server that answers `530 Login incorrect for password
//! …` or `535 bad credentials AHVzZXIAcGFzcw==` shows `***` instead.

use std::borrow::Cow;
use std::sync::{Mutex, PoisonError};

/// What replaces a secret.
pub const MASK: &str = "***";

/// The texts to hide, longest first (so that a longer encoding is masked whole before a
/// shorter one inside it).
static PATTERNS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Secrets shorter than this are still sent but not searched for: masking every `a` or `12`
/// in messages would garble them and hide nothing of value.
const MIN_LEN: usize = 3;

/// Makes `secret` (and its encodings) unprintable for the rest of the run.
pub fn register(secret: &str) {
    if secret.len() < MIN_LEN {
        return;
    }
    let mut patterns = PATTERNS.lock().unwrap_or_else(PoisonError::into_inner);
    for p in encodings(secret) {
        if p.len() >= MIN_LEN && !patterns.contains(&p) {
            patterns.push(p);
        }
    }
    patterns.sort_by_key(|p| std::cmp::Reverse(p.len()));
}

/// `text` with every known secret replaced by [`MASK`].
pub fn redact(text: &str) -> Cow<'_, str> {
    let patterns = PATTERNS.lock().unwrap_or_else(PoisonError::into_inner);
    let mut out = Cow::Borrowed(text);
    for p in patterns.iter() {
        if out.contains(p.as_str()) {
            out = Cow::Owned(out.replace(p.as_str(), MASK));
        }
    }
    out
}

/// The forms a secret can come back in.
fn encodings(secret: &str) -> Vec<String> {
    let mut all = vec![
        secret.to_string(),
        url_encode(secret, false),
        url_encode(secret, true),
        crate::escape::controls(secret),
    ];
    if let Ok(json) = serde_json::to_string(secret)
        && let Some(inner) = json.strip_prefix('"').and_then(|j| j.strip_suffix('"'))
    {
        all.push(inner.to_string());
    }
    let base64 = base64_forms(secret.as_bytes());
    // As a form value, base64's `+`, `/` and `=` are percent-encoded.
    all.extend(base64.iter().map(|b| url_encode(b, true)));
    all.extend(base64);
    all
}

/// The base64 text that stands for `secret` wherever it sits in an encoded blob: for each of
/// the three alignments, the characters that depend on the secret's bytes alone (those of a
/// group shared with bytes before it are left out), both as the blob would end with the
/// secret (padded) and as it would go on after it (whole groups only).
fn base64_forms(secret: &[u8]) -> Vec<String> {
    let mut forms = vec![];
    for (offset, skip) in [(0, 0), (1, 2), (2, 3)] {
        let mut bytes = vec![0u8; offset];
        bytes.extend_from_slice(secret);
        let padded = crate::digest::base64(&bytes, true);
        let whole = crate::digest::base64(&bytes[..bytes.len() / 3 * 3], false);
        for s in [padded, whole] {
            if let Some(tail) = s.get(skip..) {
                forms.push(tail.to_string());
            }
        }
    }
    // The same in the URL-safe alphabet.
    let urlsafe: Vec<String> = forms
        .iter()
        .map(|f| f.replace('+', "-").replace('/', "_"))
        .collect();
    forms.extend(urlsafe);
    forms
}

/// Percent-encoding of everything but unreserved characters; `form`: spaces as `+`.
fn url_encode(s: &str, form: bool) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            b' ' if form => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(bytes: &[u8]) -> String {
        crate::digest::base64(bytes, true)
    }

    #[test]
    fn raw_and_encoded_secrets_are_masked_at_every_alignment() {
        let secret = "FTPSECRET-7c1d";
        register(secret);
        assert_eq!(
            redact("530 Login incorrect for password FTPSECRET-7c1d"),
            "530 Login incorrect for password ***"
        );
        // AUTH PLAIN: NUL, user, NUL, password; users of every length shift the alignment.
        for user in ["r", "re", "rep", "reports@acme.example"] {
            let blob = b64(format!("\0{user}\0{secret}").as_bytes());
            let shown = redact(&format!("535 bad credentials {blob}")).into_owned();
            assert!(shown.contains(MASK), "{user}: {shown}");
            // What is left of the blob says nothing of the secret: at most the characters of
            // the one group it shares with the user name.
            let left = shown
                .trim_start_matches("535 bad credentials ")
                .replace(MASK, "");
            assert!(
                left.len() <= b64(format!("\0{user}\0").as_bytes()).len() + 1,
                "{shown}"
            );
            // And a blob that goes on after the secret.
            let blob = b64(format!("{user}:{secret}:more-bytes").as_bytes());
            assert!(redact(&blob).contains(MASK), "{user}: {blob}");
        }
        assert_eq!(redact("pw=FTPSECRET-7c1d&x=1"), "pw=***&x=1");
    }

    #[test]
    fn url_and_json_forms_are_masked() {
        register("p@ss word/\"x\"");
        assert_eq!(redact("password=p%40ss+word%2F%22x%22"), "password=***");
        assert_eq!(redact("a=p%40ss%20word%2F%22x%22"), "a=***");
        assert_eq!(redact(r#"{"pw":"p@ss word/\"x\""}"#), r#"{"pw":"***"}"#);
    }

    #[test]
    fn text_without_secrets_is_not_copied() {
        register("zz-unused-secret");
        assert!(matches!(redact("nothing here"), Cow::Borrowed(_)));
        register("ab");
        assert_eq!(redact("ab cab"), "ab cab");
    }
}
