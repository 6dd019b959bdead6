//! Progress on stderr, only for people: hidden unless stderr is a terminal, the format is
//! text and `--quiet` is off, so cron mail and CI logs never see a bar.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

/// A byte-count progress bar for one input, or nothing.
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// A bar for an input of `size` bytes (a spinner when unknown), drawn only if `enabled`
    /// and stderr is a terminal.
    pub fn new(name: &str, size: Option<u64>, enabled: bool) -> Self {
        if !enabled || !std::io::stderr().is_terminal() {
            return Progress {
                bar: ProgressBar::hidden(),
            };
        }
        let bar = match size {
            Some(n) => ProgressBar::new(n).with_style(
                ProgressStyle::with_template(
                    "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            ),
            None => ProgressBar::new_spinner(),
        };
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
