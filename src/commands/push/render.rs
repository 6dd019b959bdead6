//! How a push is shown to people: a line per part as its fate is known, retry notices,
//! progress bars, the closing line, and the error that ends a failed run. With a text report
//! the lines go to standard output, else to standard error (standard output stays
//! machine-readable). `--quiet`: nothing but errors.

use crate::cli::PushArgs;
use crate::config::Config;
use crate::error::CliError;
use crate::exit::ExitStatus;
use crate::progress::Progress;
use crate::push::deliver::Event;
use crate::push::outcome::{Fate, Outcome, UnitOutcome};
use crate::push::part::Unit;
use crate::report::plural;
use std::io;
use std::path::PathBuf;

/// How many would-be API requests `--dry-run` shows.
const PREVIEWS: usize = 3;

/// Warnings about the channel's settings (not printed with `--quiet`: `doctor` says them too).
pub fn warnings(args: &PushArgs, config: &Config) {
    for w in config.warnings() {
        crate::say::warning(&w);
    }
    if !args.dry_run {
        for w in crate::push::select::warnings(&args.channel, config) {
            crate::say::warning(&w);
        }
    }
}

/// The live view of a run.
pub struct Live {
    quiet: bool,
    to_stdout: bool,
    progress: bool,
    destination: String,
    total: usize,
    started: usize,
    previews: usize,
    bar: Option<(String, Progress)>,
}

impl Live {
    /// A view; `to_stdout` with a text report.
    pub fn new(quiet: bool, to_stdout: bool, progress: bool, destination: String) -> Live {
        Live {
            quiet,
            to_stdout,
            progress,
            destination,
            total: 0,
            started: 0,
            previews: 0,
            bar: None,
        }
    }

    /// How many units the run has.
    pub fn total(&mut self, n: usize) {
        self.total = n;
    }

    /// A line about the run (none with `--quiet`).
    pub fn line(&mut self, s: &str) -> io::Result<()> {
        if self.quiet {
            return Ok(());
        }
        self.always(s)
    }

    /// A line printed even with `--quiet` (an order refused).
    fn always(&mut self, s: &str) -> io::Result<()> {
        if self.to_stdout {
            crate::say::out(s)
        } else {
            crate::say::line(s);
            Ok(())
        }
    }

    /// The plan's notes.
    pub fn notes(&mut self, notes: &[String]) -> io::Result<()> {
        notes.iter().try_for_each(|n| self.line(n))
    }

    /// Shows one event of the delivery.
    pub fn event(&mut self, e: Event) {
        match e {
            Event::Unit(_, outcome) => {
                self.done();
                // A closed output only stops the lines; the run goes on.
                let _ = self.unit(outcome);
            }
            Event::Retry(unit, err, delay) if !self.quiet => crate::say::note(&format!(
                "{}: {err}; retrying in {:.1}s",
                unit.name(),
                delay.as_secs_f64()
            )),
            Event::Retry(..) => {}
            Event::Progress(Unit::Part(p), n) => {
                if self.bar.as_ref().is_none_or(|(name, _)| *name != p.name) {
                    self.done();
                    self.started += 1;
                    let label = format!("part {}/{} {}", self.started, self.total, p.name);
                    let bar = Progress::new(&label, Some(p.bytes), self.progress);
                    self.bar = Some((p.name.clone(), bar));
                }
                if let Some((_, b)) = &self.bar {
                    b.set(n);
                }
            }
            Event::Progress(..) => {}
        }
    }

    /// Removes the progress bar.
    pub fn done(&mut self) {
        if let Some((_, b)) = self.bar.take() {
            b.finish();
        }
    }

    fn unit(&mut self, u: &UnitOutcome) -> io::Result<()> {
        let to = &self.destination;
        let order = u.unit == "order";
        match &u.fate {
            Fate::Refused(r) => {
                let at = |line: u64| format!("{}:{line}: error[http-{}] order `{}`", u.input, r.status, u.name);
                if r.problems.is_empty() {
                    self.always(&format!("{}: {}", at(u.line.unwrap_or(0)), r.message))?;
                }
                for p in &r.problems {
                    let column = p.column.as_ref().map_or(String::new(), |c| format!(" (column `{c}`)"));
                    self.always(&format!("{}: field `{}`{column}: {}", at(p.line), p.field, p.message))?;
                }
                Ok(())
            }
            Fate::WouldSend { request: Some(form) } if order => {
                if self.previews < PREVIEWS {
                    self.previews += 1;
                    self.line(&format!("would POST {to}"))?;
                    self.line(&format!("  {form}"))?;
                }
                Ok(())
            }
            _ if order => Ok(()),
            Fate::Sent { remote_name, .. } => {
                self.line(&format!("sent {remote_name} ({}) to {to}", plural(u.rows, "row")))
            }
            Fate::AlreadyDelivered { remote_name, delivered_at } => self.line(&format!(
                "already delivered {remote_name} on {delivered_at}; not sent again"
            )),
            Fate::FoundDelivered { remote_name } => self.line(&format!(
                "found {remote_name} at {to} with the same bytes (sent before, not recorded); recorded, not sent again"
            )),
            Fate::WouldSend { .. } => self.line(&format!(
                "would {}send {} ({}, {} bytes){} to {to}",
                if u.encrypted_sha256.is_some() { "encrypt and " } else { "" },
                u.name,
                plural(u.rows, "row"),
                u.bytes.unwrap_or(0),
                match u.encrypted_sha256 {
                    Some(_) => format!(" as {}{}", u.name, crate::push::encrypt::EXTENSION),
                    None => String::new(),
                }
            )),
            Fate::Failed { .. } | Fate::NotSent => Ok(()),
        }
    }

    /// The closing line.
    pub fn summary(&mut self, o: &Outcome, written: &[PathBuf]) -> io::Result<()> {
        let orders = o.units.first().is_some_and(|u| u.unit == "order");
        let line = if orders {
            order_summary(o)
        } else {
            part_summary(o)
        };
        self.line(&line)?;
        for path in written {
            self.line(&format!("results of every order in {}", path.display()))?;
        }
        Ok(())
    }
}

/// `push: sent 2 parts of 3 to … (20 rows); 1 already delivered`.
fn part_summary(o: &Outcome) -> String {
    let t = &o.totals;
    let already = match t.already_delivered {
        0 => String::new(),
        n => format!("; {n} already delivered"),
    };
    let (units, to) = (t.units, &o.destination);
    if o.dry_run {
        let n = plural(t.would_send, "part");
        format!("push: would send {n} of {units} to {to}{already}")
    } else {
        let (n, rows) = (plural(t.sent, "part"), plural(t.rows_sent, "row"));
        let verb = if o.stopped.is_some() {
            "stopped after sending"
        } else {
            "sent"
        };
        format!("push: {verb} {n} of {units} to {to} ({rows}){already}")
    }
}

/// `push: queued 7 of 10 orders at …; 2 already queued; 1 refused`.
fn order_summary(o: &Outcome) -> String {
    let t = &o.totals;
    let mut line = if o.dry_run {
        format!(
            "push: would send {} of {} orders to {}",
            t.would_send, t.units, o.destination
        )
    } else {
        format!(
            "push: queued {} of {} orders at {}",
            t.sent, t.units, o.destination
        )
    };
    for (n, what) in [
        (t.already_delivered, "already queued"),
        (t.refused, "refused"),
        (t.not_sent, "left for the next run"),
    ] {
        if n > 0 {
            line.push_str(&format!("; {n} {what}"));
        }
    }
    line
}

/// The error that ends the run, if one does: the failure that stopped the delivery, or the
/// orders the server refused.
pub fn error(o: &Outcome, written: &[PathBuf]) -> Option<CliError> {
    if let Some(s) = &o.stopped {
        return Some(s.error());
    }
    if o.totals.refused == 0 {
        return None;
    }
    let results = written
        .first()
        .map_or(String::new(), |p| format!(" and {}", p.display()));
    let e = CliError::new(
        ExitStatus::PermanentDelivery,
        anyhow::anyhow!(
            "{} refused {} (see above{results})",
            o.destination,
            plural(o.totals.refused, "order")
        ),
    );
    Some(e.help("correct those orders in the input, then push it again: orders already queued are not sent again"))
}
