//! `convsubmit push`: validate, set rejects aside, split, deliver, record.

use super::shared::{Global, open_input, options, progress_wanted, report_output};
use crate::cli::{Format, PushArgs};
use crate::config::Config;
use crate::deliver::push::{self, DeliverOptions, Event, Failure, Fate, Part, Phase, WorkDir};
use crate::deliver::retry::Policy;
use crate::deliver::{DeliveryError, Kind};
use crate::exit::ExitStatus;
use crate::ledger::{Ledger, OpenError};
use crate::progress::Progress;
use crate::report::{Summary, plural};
use anyhow::Result;
use std::io::{self, Write};
use std::time::Duration;

/// Runs the subcommand.
pub fn run(args: &PushArgs, global: Global, config: &Config) -> Result<ExitStatus> {
    let policy = Policy::new(
        args.retries,
        push::deadline(Duration::from_secs(args.max_time)),
    );
    // From the start: `--max-time` bounds the whole run, reading the inputs included.
    let watchdog = push::watchdog(
        policy.deadline,
        Duration::from_secs(args.max_time),
        Phase::Reading,
        "a temporary failure: re-run later; parts already delivered are not sent again",
    );
    let opts = options(&args.check)?;
    // The API channel sends orders, not files: it has its own sender (see `api`).
    let mut transport = match args.api {
        true => None,
        false => Some(super::channel::transport(
            &args.channel,
            &args.server,
            config,
            !args.dry_run,
        )?),
    };
    let api = match args.api {
        true => Some(crate::api::settings::settings(config, !args.dry_run)?),
        false => None,
    };
    let text = args.report.format == Format::Text;
    let mut say = Say {
        quiet: global.quiet,
        to_stdout: text,
    };
    for w in config.warnings() {
        crate::say::warning(&w);
    }
    if args.channel.email && config.email.tls.as_deref() == Some("none") && !args.dry_run {
        crate::say::warning(
            "[email] tls = \"none\": the password and the data travel in clear text",
        );
    }
    if let Some(to) =
        config.email.to.as_deref().filter(|t| {
            args.channel.email && !t.to_ascii_lowercase().ends_with("@batch.impact.com")
        })
    {
        crate::say::warning(&format!(
            "[email] to = \"{to}\" is not an impact.com batch address (…@batch.impact.com)"
        ));
    }
    if args.channel.ftp && !args.dry_run {
        crate::say::warning(
            "--ftp sends the password and the data in clear text; use --ftps if the server offers it",
        );
    }

    // Validate and split every input before anything is sent.
    let work = WorkDir::create()?;
    watchdog.work(work.path());
    let show_progress = progress_wanted(&args.report, global);
    let mut reporter = crate::report::make_reporter(
        &args.report,
        false,
        global.quiet,
        report_output(show_progress),
    )?;
    let mut summary = Summary::default();
    let (mut unreadable, mut unusable, mut rejected_rows) = (false, false, 0);
    let mut parts: Vec<Part> = vec![];
    let mut notes = vec![];
    // The files read, as they were when opened.
    let mut read = vec![];
    for (i, arg) in args.files.iter().enumerate() {
        let Some(input) = open_input(arg, &mut unreadable) else {
            continue;
        };
        let name = input.name.clone();
        if let Some(identity) = input.identity {
            read.push((name.clone(), identity));
        }
        let bar = Progress::new(&name, input.size, show_progress);
        reporter.begin_file(&name)?;
        let prepared = push::prepare(
            &name,
            input.source,
            &opts,
            &work.path().join(i.to_string()),
            &mut |b| bar.set(b),
            &mut |d| bar.suspend(|| reporter.diagnostic(&name, d)),
        )?;
        bar.finish();
        reporter.end_file(&prepared.report)?;
        summary.add(&prepared.report);
        match (&prepared.entry, &prepared.rejects) {
            (None, _) => {
                unusable = true;
                notes.push(format!(
                    "{name}: nothing sent: the file has errors that affect every row (see above)"
                ));
            }
            (Some(e), Some(path)) => {
                let r = e.rejects.as_ref().map_or(0, |r| r.rows);
                rejected_rows += r;
                notes.push(format!(
                    "set aside {} of {name} in {}",
                    plural(r, "row"),
                    path.display()
                ));
            }
            _ => {}
        }
        parts.extend(prepared.parts);
    }
    reporter.finish(&summary)?;
    // Every input must still be what was read: a file still being written is not sent.
    for (name, identity) in &read {
        if let Some(change) = identity.changed(name) {
            crate::say::error(&format!(
                "{name} changed while it was read ({change}); nothing was sent"
            ));
            crate::say::help("it is still being written: re-run once it is complete");
            return Ok(ExitStatus::TemporaryDelivery);
        }
    }
    if let Some(max) = transport.as_ref().and_then(|t| t.max_part_bytes()) {
        // Email: a part over the attachment limit goes as several smaller ones.
        parts = crate::deliver::fit::fit(parts, max, opts.template.as_ref())?;
    }
    // Two inputs with one stem must not deliver two files under one name.
    push::unique_names(&mut parts);
    for n in &notes {
        say.line(n)?;
    }
    if unreadable {
        say.line("nothing sent: an input could not be read")?;
        return Ok(ExitStatus::Failure);
    }
    if args.fail_on_reject && (rejected_rows > 0 || unusable) {
        say.line("nothing sent (--fail-on-reject): rows would be set aside")?;
        return Ok(ExitStatus::DataErrors);
    }

    watchdog.phase(Phase::Delivering);
    let ledger_path = config.ledger_path(args.ledger.as_deref());
    let ledger = if args.dry_run && !ledger_path.exists() {
        None
    } else {
        match Ledger::open(&ledger_path, policy.remaining(), &mut |m| {
            crate::say::note(m)
        }) {
            Ok(l) => Some(l),
            Err(OpenError::Busy(_)) => {
                crate::say::error(&format!(
                    "another run still holds the ledger {}; nothing was sent (re-run later)",
                    ledger_path.display()
                ));
                return Ok(ExitStatus::TemporaryDelivery);
            }
            Err(e @ OpenError::Other(_)) => return Err(e.into()),
        }
    };
    let data_errors = rejected_rows > 0 || unusable;
    let Some(mut transport) = transport.take() else {
        let api = api.expect("built for --api");
        return super::api::deliver(
            args,
            &api,
            &opts,
            &parts,
            ledger.as_ref(),
            policy,
            &mut |l| say.line(l),
            data_errors,
        );
    };
    let destination = transport.label();
    let total = parts.len();
    let how = DeliverOptions {
        force: args.force,
        dry_run: args.dry_run,
        policy,
    };
    let mut bar: Option<(String, Progress)> = None;
    let (mut skipped, mut sent_parts, mut rows_sent, mut started) = (0, 0u64, 0, 0);
    let result = push::deliver(
        &parts,
        transport.as_mut(),
        ledger.as_ref(),
        &how,
        &mut |e| match e {
            Event::Part(p, fate) => {
                if let Some((_, b)) = bar.take() {
                    b.finish();
                }
                let line = match fate {
                    Fate::Sent(name) => {
                        rows_sent += p.rows;
                        sent_parts += 1;
                        format!("sent {name} ({}) to {destination}", plural(p.rows, "row"))
                    }
                    Fate::AlreadyDelivered(d) => {
                        skipped += 1;
                        format!(
                            "already delivered {} on {}; not sent again",
                            d.remote_name, d.delivered_at
                        )
                    }
                    Fate::Arrived(name) => {
                        skipped += 1;
                        format!(
                            "found {name} at {destination} with the same bytes (sent before, not recorded); recorded, not sent again"
                        )
                    }
                    Fate::WouldSend => format!(
                        "would send {} ({}, {} bytes) to {destination}",
                        p.name,
                        plural(p.rows, "row"),
                        p.bytes
                    ),
                };
                let _ = say.line(&line);
            }
            Event::Retry(err, delay) => {
                crate::say::note(&format!("{err}; retrying in {:.1}s", delay.as_secs_f64()))
            }
            Event::Progress(p, n) => {
                let fresh = bar.as_ref().is_none_or(|(name, _)| *name != p.name);
                if fresh {
                    started += 1;
                    let label = format!("part {started}/{total} {}", p.name);
                    bar = Some((
                        p.name.clone(),
                        Progress::new(&label, Some(p.bytes), show_progress),
                    ));
                }
                if let Some((_, b)) = &bar {
                    b.set(n);
                }
            }
        },
    );
    if let Some((_, b)) = bar.take() {
        b.finish();
    }
    let status = match result {
        Ok(sent) => {
            let verb = if args.dry_run { "would send" } else { "sent" };
            let count = if args.dry_run { total - skipped } else { sent };
            say.line(&format!(
                "push: {verb} {} of {total} to {destination}{}{}",
                plural(count as u64, "part"),
                if args.dry_run {
                    String::new()
                } else {
                    format!(" ({})", plural(rows_sent, "row"))
                },
                if skipped > 0 {
                    format!("; {skipped} already delivered")
                } else {
                    String::new()
                }
            ))?;
            if data_errors {
                ExitStatus::DataErrors
            } else {
                ExitStatus::Success
            }
        }
        Err(Failure::Delivery(e)) => {
            let status = report_failure(&e, &destination);
            say.line(&format!(
                "push: stopped after sending {} of {total} to {destination} ({}); re-run to send the rest",
                plural(sent_parts, "part"),
                plural(rows_sent, "row")
            ))?;
            status
        }
        Err(Failure::LedgerBefore(e)) => {
            crate::say::error(&format!("{e:#}"));
            say.line(&format!(
                "push: stopped after sending {} of {total} to {destination} ({}); the next part was not sent: fix the ledger, then re-run to send the rest",
                plural(sent_parts, "part"),
                plural(rows_sent, "row")
            ))?;
            ExitStatus::Failure
        }
        Err(Failure::Ledger(e)) => {
            crate::say::error(&format!("{e:#}"));
            crate::say::help(&format!(
                "the last part may have been delivered without being recorded; check {destination} before sending it again"
            ));
            ExitStatus::PermanentDelivery
        }
    };
    Ok(status)
}

/// Prints a delivery failure with what to do; returns the exit status it calls for.
pub fn report_failure(e: &DeliveryError, destination: &str) -> ExitStatus {
    crate::say::error(&format!("{destination}: {e}"));
    if let Some(help) = &e.help {
        crate::say::help(help);
    }
    match e.kind {
        Kind::Temporary => {
            crate::say::help(
                "a temporary failure: re-run later; parts already delivered are not sent again",
            );
            ExitStatus::TemporaryDelivery
        }
        Kind::Permanent => ExitStatus::PermanentDelivery,
    }
}

/// Lines about the run: on stdout with a text report, else on stderr (so stdout stays
/// machine-readable); none with `--quiet`.
struct Say {
    quiet: bool,
    to_stdout: bool,
}

impl Say {
    fn line(&mut self, s: &str) -> io::Result<()> {
        if self.quiet {
            return Ok(());
        }
        if self.to_stdout {
            let mut out = crate::output::stdout();
            writeln!(out, "{}", crate::say::clean(s))?;
            out.flush()
        } else {
            crate::say::line(s);
            Ok(())
        }
    }
}
