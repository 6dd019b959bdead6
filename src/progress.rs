//! Progress on stderr, only for people: hidden unless stderr is a terminal, the format is
//! text and `--quiet` is off, so cron mail and CI logs never see a bar.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

/// A byte-count progress bar for one input, or nothing.
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// A bar for an input of `size` bytes (a spinner with the bytes read when the size is
    /// unknown), drawn only if `enabled` and stderr is a terminal.
    pub fn new(name: &str, size: Option<u64>, enabled: bool) -> Self {
        if !enabled || !std::io::stderr().is_terminal() {
            return Progress {
                bar: ProgressBar::hidden(),
            };
        }
        let bar = match total(size) {
            Some(n) => ProgressBar::new(n),
            None => ProgressBar::new_spinner(),
        };
        bar.set_style(style(size));
        bar.set_draw_target(ProgressDrawTarget::stderr());
        bar.set_message(crate::escape::for_display(name));
        Progress { bar }
    }

    /// Whether anything is drawn.
    pub fn visible(&self) -> bool {
        !self.bar.is_hidden()
    }

    /// Bytes read so far.
    pub fn set(&self, bytes: u64) {
        self.bar.set_position(bytes);
    }

    /// Runs `f` (which writes to the terminal) with the bar out of the way.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        self.bar.suspend(f)
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// The size to draw a bar against: none for a stream (a FIFO, standard input, `<(…)`), nor
/// for a size of 0 (what some devices and files still being written report), where a bar
/// would read `921 KiB/0 B`.
fn total(size: Option<u64>) -> Option<u64> {
    size.filter(|&n| n > 0)
}

/// A bar with the total when there is one, else a spinner with the bytes read so far.
fn template(size: Option<u64>) -> &'static str {
    match total(size) {
        Some(_) => "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
        None => "{spinner} {msg} {bytes} {bytes_per_sec}",
    }
}

fn style(size: Option<u64>) -> ProgressStyle {
    let fallback = match total(size) {
        Some(_) => ProgressStyle::default_bar(),
        None => ProgressStyle::default_spinner(),
    };
    ProgressStyle::with_template(template(size)).map_or(fallback, |s| s.progress_chars("=> "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_total_a_spinner_shows_the_bytes_read() {
        for size in [None, Some(0)] {
            let t = template(size);
            assert!(
                t.starts_with("{spinner}") && t.contains("{bytes}"),
                "{size:?}"
            );
            assert!(!t.contains("total") && !t.contains("{bar"), "{size:?}");
        }
        let t = template(Some(1 << 20));
        assert!(t.contains("{bytes}/{total_bytes}") && t.contains("{bar:30}"));
        for size in [None, Some(0), Some(5)] {
            assert!(ProgressStyle::with_template(template(size)).is_ok());
        }
        assert_eq!(
            (total(None), total(Some(0)), total(Some(5))),
            (None, None, Some(5))
        );
    }
}
