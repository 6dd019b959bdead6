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
    line(&error_text(text));
}

/// The line [`error`] prints.
pub fn error_text(text: &str) -> String {
    format!("convsubmit: error: {text}")
}

/// `convsubmit: warning: …`
pub fn warning(text: &str) {
    line(&format!("convsubmit: warning: {text}"));
}

/// `  help: …`, after an error.
pub fn help(text: &str) {
    line(&help_text(text));
}

/// The line [`help`] prints.
pub fn help_text(text: &str) -> String {
    format!("  help: {text}")
}

/// `convsubmit: …`, a notice.
pub fn note(text: &str) {
    line(&format!("convsubmit: {text}"));
}

/// Taken for every line printed: a process about to exit keeps it (see [`last_words`]).
static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn turn() -> std::sync::MutexGuard<'static, ()> {
    TURN.lock().unwrap_or_else(|e| e.into_inner())
}

/// Text on standard error, as it is (but cleaned), each of its lines as a line: a parser's
/// message may point at its input over several. A closed or full standard error is no
/// reason to stop: there is nowhere left to say anything.
pub fn line(text: &str) {
    let _turn = turn();
    write_lines(text);
}

/// A line on standard output, cleaned, in turn with standard error.
pub fn out(text: &str) -> std::io::Result<()> {
    let _turn = turn();
    let mut out = crate::output::stdout();
    writeln!(out, "{}", clean(text))?;
    out.flush()
}

/// Prints `lines` on standard error as the last words of a process about to exit: no other
/// thread prints anything after them (a failure caused by the exit's own cleanup would
/// otherwise read as the run's error).
pub fn last_words(lines: &[String]) {
    let turn = turn();
    for l in lines {
        write_lines(l);
    }
    std::mem::forget(turn);
}

fn write_lines(text: &str) {
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
