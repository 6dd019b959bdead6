//! `convsubmit fix`: rewrites a file, says what changed, then reports what is left.

use super::shared::{Global, options, progress_wanted, report_output};
use crate::cli::{FixArgs, Format};
use crate::exit::ExitStatus;
use crate::fix::{self, Changes};
use crate::report::{Reporter, Summary, plural};
use crate::validate;
use anyhow::{Context, Result};
use std::io::{self, Write};
use std::thread::ScopedJoinHandle;

/// Runs the subcommand.
pub fn run(args: &FixArgs, global: Global) -> Result<ExitStatus> {
    let opts = options(&args.check)?;
    let mut rewrite = fix::prepare(&args.file, &args.output, opts.template.as_ref())?;
    let shown = args.output.display().to_string();
    // What is left is what validation of the output finds. It reads the output while the
    // rewrite writes it (on a thread of its own); nothing is said before the rewrite is
    // done, and nothing but the rewrite's error if it failed.
    let follower = rewrite.follow()?;
    let show_progress = progress_wanted(&args.report, global);
    let mut reporter = crate::report::make_reporter(
        &args.report,
        false,
        global.quiet,
        global.color,
        opts.as_of,
        report_output(show_progress),
    )?;
    std::thread::scope(|scope| {
        let mut gate = Gate {
            writing: Some(scope.spawn(move || rewrite.write())),
            done: None,
        };
        let begin = |gate: &mut Gate, reporter: &mut dyn Reporter| -> io::Result<()> {
            let changes = gate.wait()?;
            if !global.quiet {
                describe_to(&args.file, &shown, changes, args.report.format)?;
            }
            reporter.begin_file(&shown)
        };
        let mut begun = false;
        let (report, outcome) = validate::check(
            &shown,
            Some(&shown),
            follower,
            &opts,
            &mut |_| {},
            &mut |d| {
                if !begun {
                    begin(&mut gate, &mut *reporter)?;
                    begun = true;
                }
                reporter.diagnostic(&shown, d)
            },
        );
        // A failed rewrite is the error to report, whatever validation made of it.
        if gate.wait().is_err()
            && let Some(Err(e)) = gate.done.take()
        {
            return Err(e);
        }
        match outcome {
            Ok(()) => {}
            Err(validate::Failure::Read(e)) => {
                return Err(e).with_context(|| format!("cannot read {shown}"));
            }
            Err(validate::Failure::Write(e)) => return Err(e.into()),
        }
        if !begun {
            begin(&mut gate, &mut *reporter)?;
        }
        Ok(verdict(&report, &mut *reporter)?)
    })
}

/// Ends the report with what is left in the output; errors there make exit 1.
fn verdict(report: &validate::FileReport, reporter: &mut dyn Reporter) -> io::Result<ExitStatus> {
    reporter.end_file(report)?;
    let mut summary = Summary::default();
    summary.add(report);
    reporter.finish(&summary)?;
    Ok(if report.errors > 0 {
        ExitStatus::DataErrors
    } else {
        ExitStatus::Success
    })
}

/// Holds the report back until the rewrite is done.
struct Gate<'scope> {
    writing: Option<ScopedJoinHandle<'scope, Result<Changes>>>,
    /// The rewrite's outcome, once it is done.
    done: Option<Result<Changes>>,
}

impl Gate<'_> {
    /// Waits for the rewrite: what changed, or an error that stops the report.
    fn wait(&mut self) -> io::Result<&Changes> {
        if let Some(w) = self.writing.take() {
            let done = w
                .join()
                .unwrap_or_else(|_| Err(anyhow::anyhow!("the rewrite stopped unexpectedly")));
            self.done = Some(done);
        }
        match &self.done {
            Some(Ok(changes)) => Ok(changes),
            _ => Err(io::Error::other("the rewrite failed")),
        }
    }
}

/// Says what changed: on standard output with a text report, else on standard error so
/// that standard output stays machine-readable.
fn describe_to(input: &str, output: &str, changes: &Changes, format: Format) -> io::Result<()> {
    let mut to: Box<dyn Write> = if format == Format::Text {
        Box::new(crate::output::stdout())
    } else {
        Box::new(io::stderr().lock())
    };
    for line in describe(input, output, changes) {
        writeln!(to, "{}", crate::escape::controls(&line))?;
    }
    to.flush()
}

/// `line 4`, `lines 2, 5, 9`, `lines 2, 3, 4, 5, 6, …`: the input lines of a repair.
fn input_lines(t: &fix::Tally) -> String {
    let shown: Vec<String> = t.lines.iter().map(u64::to_string).collect();
    let more = if t.count > t.lines.len() as u64 {
        ", …"
    } else {
        ""
    };
    let noun = if t.count == 1 { "line" } else { "lines" };
    format!("{noun} {}{more} of the input", shown.join(", "))
}

/// One line per kind of change.
fn describe(input: &str, output: &str, c: &Changes) -> Vec<String> {
    let mut lines = vec![format!(
        "fixed {input} into {output} ({}, {})",
        c.template,
        plural(c.rows, "row")
    )];
    let mut say = |s: String| lines.push(format!("  {s}"));
    if c.moved > 0 {
        say(format!(
            "regrouped {}: moved {} up to join the rest of its order",
            plural(c.regrouped, "order"),
            plural(c.moved, "row")
        ));
    }
    if c.hashed > 0 {
        say(format!(
            "hashed {} (SHA-256 of the trimmed, lower-cased address)",
            plural(c.hashed, "plain email")
        ));
    }
    for (from, to) in &c.header {
        say(format!("renamed column `{from}` to `{to}`"));
    }
    if let Some(name) = c.converted {
        say(format!("converted the file from {name} to UTF-8"));
    }
    let repairs = [
        (&c.trimmed, "removed the spaces around {}", "value"),
        (&c.upcased, "wrote {} in capitals", "currency code"),
        (
            &c.separators,
            "removed the thousands separators of {}",
            "amount",
        ),
    ];
    for (tally, what, noun) in repairs {
        if tally.count > 0 {
            let what = what.replace("{}", &plural(tally.count, noun));
            say(format!("{what} ({})", input_lines(tally)));
        }
    }
    if c.bom {
        say("removed the UTF-8 byte-order mark".into());
    }
    if c.line_breaks > 0 {
        say(format!(
            "changed {} to {}, like the header's",
            plural(c.line_breaks, "line break"),
            c.newline
        ));
    }
    if c.blank > 0 {
        say(format!("removed {}", plural(c.blank, "empty row")));
    }
    if c.is_empty() {
        say("nothing to change: the output is the input, byte for byte".into());
    }
    lines
}
