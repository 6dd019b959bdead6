//! `--max-time`: the run's deadline, the timeout of one network operation within it, and the
//! watchdog that ends the process when the deadline has passed whatever a server or an input
//! does.

use super::retry::Policy;
use crate::say::{error_text, help_text};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The timeout for one network operation: a minute, or what is left of the run.
pub fn io_timeout(policy: &Policy) -> Duration {
    policy
        .remaining()
        .min(Duration::from_secs(60))
        .max(Duration::from_secs(1))
}

/// How long after `--max-time` the watchdog ends a run: enough for the last network
/// operation's own timeout (at least a second) to fire first.
pub const WATCHDOG_GRACE: Duration = Duration::from_secs(3);

/// What a run is doing, for the watchdog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Opening and reading the inputs: nothing has been sent.
    Reading,
    /// Connecting and delivering (or checking, for `doctor`).
    Delivering,
}

/// The watchdog of a run: see [`watchdog`].
#[derive(Clone)]
pub struct Watchdog(std::sync::Arc<std::sync::Mutex<Watched>>);

struct Watched {
    phase: Phase,
    /// A folder of this run's to remove before exiting.
    work: Option<PathBuf>,
}

impl Watchdog {
    /// The run has moved on to `phase`.
    pub fn phase(&self, phase: Phase) {
        if let Ok(mut w) = self.0.lock() {
            w.phase = phase;
        }
    }

    /// The run's work folder, removed if the watchdog ends the run.
    pub fn work(&self, work: &Path) {
        if let Ok(mut w) = self.0.lock() {
            w.work = Some(work.to_path_buf());
        }
    }
}

/// Ends the process with exit code 3 when `--max-time` has run out: at `deadline` while the
/// inputs are read (an input that never ends, a FIFO without a writer), and [`WATCHDOG_GRACE`]
/// later while delivering. Per-read timeouts do not bound a server that sends a byte every
/// few seconds forever (nor one a library waits on without a timeout), and nothing bounds a
/// read of a local input: `--max-time` promises an end whatever the input or the server
/// does. The ledger stays consistent: it is safe against the process stopping at any point,
/// and what was not recorded is sent or checked by the next run.
///
/// Once it fires, nothing else is printed: a part the main thread could no longer read (the
/// work folder is being removed) does not end the run with a false error and exit 4.
///
/// `help` says what to do after a delivery (or a check) ran out of time.
pub fn watchdog(
    deadline: Instant,
    max_time: Duration,
    phase: Phase,
    help: &'static str,
) -> Watchdog {
    let watched = Watchdog(std::sync::Arc::new(std::sync::Mutex::new(Watched {
        phase,
        work: None,
    })));
    let state = watched.clone();
    std::thread::spawn(move || {
        sleep_until(deadline);
        let reading = state.0.lock().is_ok_and(|w| w.phase == Phase::Reading);
        let secs = max_time.as_secs();
        let words = if reading {
            [
                error_text(&format!(
                    "--max-time {secs}s ran out while reading the input; nothing was sent"
                )),
                help_text(
                    "a temporary failure: re-run later, when the input is complete (or with a larger --max-time)",
                ),
            ]
        } else {
            // The last network operation's own timeout fires first, with a clearer message.
            sleep_until(later(deadline, WATCHDOG_GRACE));
            [
                error_text(&format!(
                    "the server did not finish answering within --max-time {secs}s; stopped"
                )),
                help_text(help),
            ]
        };
        crate::say::last_words(&words);
        // Held while exiting: the main thread cannot begin to use the folder again.
        let w = state.0.lock();
        if let Some(work) = w.as_ref().ok().and_then(|w| w.work.as_ref()) {
            let _ = std::fs::remove_dir_all(work);
        }
        std::process::exit(crate::exit::ExitStatus::TemporaryDelivery as i32);
    });
    watched
}

fn sleep_until(end: Instant) {
    while let Some(left) = end
        .checked_duration_since(Instant::now())
        .filter(|d| !d.is_zero())
    {
        std::thread::sleep(left);
    }
}

/// A deadline `max_time` from now.
pub fn deadline(max_time: Duration) -> Instant {
    later(Instant::now(), max_time)
}

/// `from + wait`, or the latest time the clock can hold when that is past it: any
/// `--max-time` is accepted (`Instant + Duration` panics on overflow), and a huge one
/// simply never runs out.
pub fn later(from: Instant, wait: Duration) -> Instant {
    let mut wait = wait;
    loop {
        match from.checked_add(wait) {
            Some(t) => return t,
            // Terminates: `from + 0` always exists.
            None => wait /= 2,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_saturates_instead_of_panicking() {
        let now = Instant::now();
        assert_eq!(
            later(now, Duration::from_secs(5)),
            now + Duration::from_secs(5)
        );
        for secs in [u64::MAX, i64::MAX as u64] {
            let t = later(now, Duration::from_secs(secs));
            assert!(t > now + Duration::from_secs(100 * 365 * 86_400));
            // The watchdog's grace past it does not overflow either.
            assert!(later(t, WATCHDOG_GRACE) >= t);
        }
    }
}
