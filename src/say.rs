//! The one way messages reach standard error: each line passes through [`redact`] (no secret
//! this run knows, in any encoding, is ever printed, whatever a server or a parser put in the
//! text) and then through [`escape::controls`] (no control or bidi character reaches the
//! terminal or the log).
//!
//! [`redact`]: crate::redact::redact
//! [`escape::controls`]: crate::escape::controls

use std::io::Write;

/// `text` made safe to print: secrets masked, control characters escaped.
pub fn clean(text: &str) -> String {
    crate::escape::controls(&crate::redact::redact(text))
}

/// `convsubmit: error: …`
pub fn error(text: &str) {
    line(&format!("convsubmit: error: {text}"));
}

/// `convsubmit: warning: …`
pub fn warning(text: &str) {
    line(&format!("convsubmit: warning: {text}"));
}

/// `  help: …`, after an error.
pub fn help(text: &str) {
    line(&format!("  help: {text}"));
}

/// `convsubmit: …`, a notice.
pub fn note(text: &str) {
    line(&format!("convsubmit: {text}"));
}

/// Text on standard error, as it is (but cleaned), each of its lines as a line: a parser's
/// message may point at its input over several. A closed or full standard error is no
/// reason to stop: there is nowhere left to say anything.
pub fn line(text: &str) {
    let text = crate::redact::redact(text);
    let mut err = std::io::stderr().lock();
    for line in text.split('\n') {
        let _ = writeln!(
            err,
            "{}",
            crate::escape::controls(line.trim_end_matches('\r'))
        );
    }
}
