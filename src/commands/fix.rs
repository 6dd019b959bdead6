//! `convsubmit fix`: rewrites a file, says what changed, then reports what is left.

use super::validate::{Global, make_reporter, options, progress_wanted, report_output};
use crate::cli::{FixArgs, Format};
use crate::exit::ExitStatus;
use crate::fix::{self, Changes};
use crate::report::{Summary, plural};
use crate::validate;
use anyhow::{Context, Result};
use std::fs::File;
use std::io::{self, Write};

/// Runs the subcommand.
pub fn run(args: &FixArgs, global: Global) -> Result<ExitStatus> {
    let opts = options(&args.check)?;
    let changes = fix::fix_file(&args.file, &args.output, opts.template.as_ref())?;
    let shown = args.output.display().to_string();
    if !global.quiet {
        // Text goes on with the report; other formats keep stdout machine-readable.
        let mut to: Box<dyn Write> = if args.report.format == Format::Text {
            Box::new(crate::output::stdout())
        } else {
            Box::new(io::stderr().lock())
        };
        for line in describe(&args.file, &shown, &changes) {
            writeln!(to, "{}", crate::escape::controls(&line))?;
        }
        to.flush()?;
    }
    // What is left is what validation of the output finds.
    let show_progress = progress_wanted(&args.report, global);
    let mut reporter = make_reporter(&args.report, false, global, report_output(show_progress))?;
    let src = File::open(&args.output).with_context(|| format!("cannot read {shown}"))?;
    reporter.begin_file(&shown)?;
    let (report, outcome) =
        validate::check(&shown, Some(&shown), src, &opts, &mut |_| {}, &mut |d| {
            reporter.diagnostic(&shown, d)
        });
    match outcome {
        Ok(()) => {}
        Err(validate::Failure::Read(e)) => {
            return Err(e).with_context(|| format!("cannot read {shown}"));
        }
        Err(validate::Failure::Write(e)) => return Err(e.into()),
    }
    reporter.end_file(&report)?;
    let mut summary = Summary::default();
    summary.add(&report);
    reporter.finish(&summary)?;
    Ok(if report.errors > 0 {
        ExitStatus::DataErrors
    } else {
        ExitStatus::Success
    })
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
