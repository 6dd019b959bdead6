//! The push pipeline: validate → set rejects aside → split (in a work folder) → deliver each
//! part the ledger does not know of yet → record it. The parts are exactly the files `split`
//! writes for the same input and options.

use super::retry::{self, Policy};
use super::{DeliveryError, Holding, Kind, Transport};
use crate::diagnostic::Diagnostic;
use crate::ledger::{self, Delivery, Ledger};
use crate::split::{self, FileEntry, Names, work};
use crate::validate::{self, FileReport};
use anyhow::{Context, Result};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// One part ready to send.
#[derive(Debug, Clone)]
pub struct Part {
    /// The input it came from.
    pub input: String,
    /// Its file in the work folder.
    pub local: PathBuf,
    /// Its name at the destination.
    pub name: String,
    /// SHA-256 of its bytes.
    pub sha256: String,
    /// Size.
    pub bytes: u64,
    /// Data rows.
    pub rows: u64,
    /// Where its lines come from in the input (line 1, the header, is `header_line`).
    pub lines: Vec<split::Run>,
    /// The input's header line.
    pub header_line: u64,
}

impl Part {
    /// The input line that line `line` of the part came from.
    pub fn source_line(&self, line: u64) -> Option<u64> {
        if line == 1 {
            return Some(self.header_line);
        }
        self.lines
            .iter()
            .find(|r| (r.part_line..r.part_line + r.count).contains(&line))
            .map(|r| r.source_line + (line - r.part_line))
    }
}

/// What preparing one input gave.
pub struct Prepared {
    /// The validation report.
    pub report: FileReport,
    /// What `split` made of it (`None`: file-level errors, nothing to send).
    pub entry: Option<FileEntry>,
    /// Where its rejects were put, beside the input.
    pub rejects: Option<PathBuf>,
    /// Its parts.
    pub parts: Vec<Part>,
}

/// A work folder for the parts of one run, removed when dropped.
pub struct WorkDir(work::WorkDir);

impl WorkDir {
    /// A new, empty folder of this user's alone (the parts hold customer data) in the
    /// temporary folder, under a name no other run has. Folders there of runs that were
    /// killed are removed (see [`work::remove_abandoned`]).
    pub fn create() -> Result<WorkDir> {
        let tmp = std::env::temp_dir();
        work::WorkDir::create(&tmp, WORK)
            .map(WorkDir)
            .with_context(|| format!("cannot create a work folder in {}", tmp.display()))
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        self.0.path()
    }
}

/// Work folders are named `convsubmit-push-<pid>-<n>` in the temporary folder.
const WORK: work::Pattern = work::Pattern {
    prefix: "convsubmit-push-",
    suffix: "",
};

/// Splits one input into `work/<n>/`, and moves its rejects beside the input (`<stem>.rejects.csv`;
/// in the current folder for standard input). A rejects file of an earlier run is removed
/// when this run rejects nothing, so that it never describes an older input.
pub fn prepare(
    name: &str,
    src: impl Read + Send,
    opts: &validate::Options,
    work: &Path,
    progress: &mut dyn FnMut(u64),
    sink: &mut dyn FnMut(&Diagnostic) -> io::Result<()>,
) -> Result<Prepared> {
    std::fs::create_dir_all(work)
        .with_context(|| format!("cannot create the work folder {}", work.display()))?;
    let outcome = split::split_file(name, src, opts, work, progress, sink)?;
    let names = Names::new(name, opts.as_of);
    let beside = if name == crate::input::STDIN_NAME {
        PathBuf::from(names.rejects())
    } else {
        Path::new(name).with_file_name(names.rejects())
    };
    let mut rejects = None;
    let mut parts = vec![];
    if let Some(entry) = &outcome.entry {
        match &entry.rejects {
            Some(r) => {
                move_file(&work.join(&r.file), &beside)?;
                rejects = Some(beside);
            }
            None => remove_stale(&beside)?,
        }
        parts = entry
            .parts
            .iter()
            .map(|p| Part {
                input: name.to_string(),
                local: work.join(&p.file),
                name: p.file.clone(),
                sha256: p.sha256.clone(),
                bytes: p.bytes,
                rows: p.rows,
                lines: p.lines.clone(),
                header_line: entry.header_line,
            })
            .collect();
    }
    Ok(Prepared {
        report: outcome.report,
        entry: outcome.entry,
        rejects,
        parts,
    })
}

fn move_file(from: &Path, to: &Path) -> Result<()> {
    if std::fs::rename(from, to).is_ok() {
        return Ok(());
    }
    // Another file system: copy under a temporary name beside `to`, then rename, so that a
    // copy cut short (a full disk) never shows under the real name.
    let tmp = crate::output::beside(to, "copy");
    let copied = std::fs::copy(from, &tmp)
        .and_then(|_| std::fs::File::open(&tmp)?.sync_all())
        .and_then(|()| std::fs::rename(&tmp, to));
    if let Err(e) = copied {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("cannot write {}", to.display()));
    }
    let _ = std::fs::remove_file(from);
    Ok(())
}

fn remove_stale(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("cannot remove the old {}", path.display()))
        }
        _ => Ok(()),
    }
}

/// What happened to one part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fate {
    /// Delivered now, under this name.
    Sent(String),
    /// Delivered by an earlier run: the ledger's record of it.
    AlreadyDelivered(Delivery),
    /// Would be sent (`--dry-run`).
    WouldSend,
    /// Found at the destination under this name with the part's very bytes (an earlier run
    /// sent it and stopped before recording it, or a run with another ledger sent it).
    /// Recorded now, not sent again.
    Arrived(String),
}

/// Something to tell the user while delivering.
pub enum Event<'a> {
    /// A part's fate is known.
    Part(&'a Part, &'a Fate),
    /// A temporary failure; the next attempt comes after the delay.
    Retry(&'a DeliveryError, Duration),
    /// Bytes of the current part sent so far.
    Progress(&'a Part, u64),
}

/// How to deliver.
pub struct DeliverOptions {
    /// Send parts the ledger knows of, again.
    pub force: bool,
    /// List only.
    pub dry_run: bool,
    /// Retries and the deadline.
    pub policy: Policy,
}

/// Delivers `parts` through `transport`, skipping those the ledger has for this destination.
/// Connects only when there is something to send, once for all parts (again after a
/// temporary failure). Stops at the first part that cannot be delivered.
pub fn deliver(
    parts: &[Part],
    transport: &mut dyn Transport,
    ledger: Option<&Ledger>,
    how: &DeliverOptions,
    events: &mut dyn FnMut(Event),
) -> Result<usize, Failure> {
    // Progress (inside an attempt) and retry notices (between attempts) share the callback.
    let events = std::cell::RefCell::new(events);
    let tell = |e: Event| (events.borrow_mut())(e);
    let mut channel = Channel {
        transport,
        destination: String::new(),
        connected: false,
        tell: &tell,
    };
    channel.destination = channel.transport.destination();
    let mut sent = 0;
    for part in parts {
        let known = match ledger {
            Some(l) if !how.force => l
                .find(&channel.destination, &part.sha256)
                .map_err(Failure::LedgerBefore)?,
            _ => None,
        };
        if let Some(d) = known {
            tell(Event::Part(part, &Fate::AlreadyDelivered(d)));
            continue;
        }
        if how.dry_run {
            tell(Event::Part(part, &Fate::WouldSend));
            continue;
        }
        let fate = channel.deliver(part, ledger, how)?;
        let (Fate::Sent(name) | Fate::Arrived(name)) = &fate else {
            unreachable!("a part delivered was sent or found")
        };
        if let Some(l) = ledger {
            l.record(&Delivery {
                sha256: part.sha256.clone(),
                destination: channel.destination.clone(),
                remote_name: name.clone(),
                bytes: part.bytes,
                rows: part.rows,
                input: part.input.clone(),
                delivered_at: ledger::now(),
                source_lines: serde_json::json!({
                    "header_line": part.header_line,
                    "runs": part.lines,
                })
                .to_string(),
            })
            .map_err(Failure::Ledger)?;
        }
        sent += usize::from(matches!(fate, Fate::Sent(_)));
        tell(Event::Part(part, &fate));
    }
    if channel.connected {
        channel.transport.disconnect();
    }
    Ok(sent)
}

/// The transport of one run, and whether it is connected.
struct Channel<'a> {
    transport: &'a mut dyn Transport,
    destination: String,
    connected: bool,
    tell: &'a dyn Fn(Event<'_>),
}

/// Why one attempt at a part failed: the channel (retried when temporary) or the ledger's
/// note (never retried; the part was not sent).
enum Step {
    Channel(DeliveryError),
    Ledger(anyhow::Error),
}

impl From<DeliveryError> for Step {
    fn from(e: DeliveryError) -> Step {
        Step::Channel(e)
    }
}

impl retry::Retryable for Step {
    fn is_temporary(&self) -> bool {
        matches!(self, Step::Channel(e) if e.kind == Kind::Temporary)
    }
}

impl Channel<'_> {
    /// Sends one part the ledger does not list, retrying temporary failures.
    fn deliver(
        &mut self,
        part: &Part,
        ledger: Option<&Ledger>,
        how: &DeliverOptions,
    ) -> Result<Fate, Failure> {
        // A part an earlier run began to send and did not record may have arrived.
        let noted = match ledger {
            Some(l) if !how.force => l
                .unfinished(&self.destination, &part.sha256)
                .map_err(Failure::LedgerBefore)?,
            _ => None,
        };
        let tell = self.tell;
        retry::run(
            &how.policy,
            || {
                if !self.connected {
                    self.transport.connect(io_timeout(&how.policy))?;
                    self.connected = true;
                }
                let result = self.attempt(part, ledger, noted.as_deref(), how.force);
                if result.as_ref().is_err_and(retry::Retryable::is_temporary) {
                    self.connected = false;
                }
                result
            },
            |e, delay| {
                if let Step::Channel(e) = e {
                    tell(Event::Retry(e, delay));
                }
            },
        )
        .map_err(|e| match e {
            Step::Channel(e) => Failure::Delivery(e),
            Step::Ledger(e) => Failure::LedgerBefore(e),
        })
    }

    /// One attempt: the noted name if it holds the part already, else the first name that
    /// is free (noted in the ledger, then sent) or holds the part. `force`: a name that holds
    /// the part counts as taken, so that the part is delivered again as a new file.
    fn attempt(
        &mut self,
        part: &Part,
        ledger: Option<&Ledger>,
        noted: Option<&str>,
        force: bool,
    ) -> Result<Fate, Step> {
        if let Some(name) = noted
            && self.transport.holds(name, part.bytes, &part.sha256)? == Holding::Same
        {
            return Ok(Fate::Arrived(name.to_string()));
        }
        let name = match self.free_name(part, force)? {
            (name, Holding::Same) => return Ok(Fate::Arrived(name)),
            (name, _) => name,
        };
        if let Some(l) = ledger {
            l.begin(&self.destination, &part.sha256, &name, part.bytes)
                .map_err(Step::Ledger)?;
        }
        let tell = self.tell;
        self.transport
            .put(&part.local, &name, &mut |n| tell(Event::Progress(part, n)))?;
        Ok(Fate::Sent(name))
    }

    /// The part's name, or its first variant ([`variant`]) that holds nothing or the part
    /// itself: a name that holds other bytes is never reused.
    fn free_name(&mut self, part: &Part, force: bool) -> Result<(String, Holding), DeliveryError> {
        for n in 1..=MAX_VARIANTS {
            let name = variant(&part.name, n);
            match self.transport.holds(&name, part.bytes, &part.sha256)? {
                Holding::Other => continue,
                Holding::Same if force => continue,
                holding => return Ok((name, holding)),
            }
        }
        Err(DeliveryError::permanent(
            "choose a name",
            format!(
                "{} and its variants up to {} all hold other files at {}",
                part.name,
                variant(&part.name, MAX_VARIANTS),
                self.destination
            ),
        )
        .help(
            "move the old files out of the way at the destination; none of them is ever replaced",
        ))
    }
}

/// How many names a part may try at the destination (its own, then `.2` … `.99`).
pub const MAX_VARIANTS: u32 = 99;

/// Variant `n` of a part's name: the name itself for 1, else `n` before its extension
/// (`2026-06-30_orders_part001.2.csv`).
pub fn variant(name: &str, n: u32) -> String {
    if n <= 1 {
        return name.to_string();
    }
    match name.rfind('.') {
        Some(i) if i > 0 => format!("{}.{n}{}", &name[..i], &name[i..]),
        _ => format!("{name}.{n}"),
    }
}

/// Makes every part's name unique within the run (two inputs with one stem, or standard
/// input beside a file called `stdin.csv`): a repeated name gets the first free
/// [`variant`], in input order, so the same inputs get the same names on every run.
pub fn unique_names(parts: &mut [Part]) {
    let mut used = std::collections::HashSet::new();
    for part in parts {
        let base = part.name.clone();
        let mut n = 1;
        while used.contains(&variant(&base, n)) {
            n += 1;
        }
        part.name = variant(&base, n);
        used.insert(part.name.clone());
    }
}

/// The timeout for one network operation: a minute, or what is left of the run.
pub fn io_timeout(policy: &Policy) -> Duration {
    policy
        .remaining()
        .min(Duration::from_secs(60))
        .max(Duration::from_secs(1))
}

/// Why delivery stopped.
#[derive(Debug)]
pub enum Failure {
    /// The channel failed.
    Delivery(DeliveryError),
    /// The ledger could not be read or written before the part was sent: it was not sent.
    LedgerBefore(anyhow::Error),
    /// The ledger could not record a part just delivered.
    Ledger(anyhow::Error),
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
/// `help` says what to do after a delivery ran out of time.
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
        if reading {
            crate::say::error(&format!(
                "--max-time {secs}s ran out while reading the input; nothing was sent"
            ));
            crate::say::help(
                "a temporary failure: re-run later, when the input is complete (or with a larger --max-time)",
            );
        } else {
            // The last network operation's own timeout fires first, with a clearer message.
            sleep_until(later(deadline, WATCHDOG_GRACE));
            crate::say::error(&format!(
                "the server did not finish answering within --max-time {secs}s; stopped"
            ));
            crate::say::help(help);
        }
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
