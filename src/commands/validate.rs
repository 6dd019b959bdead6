//! `convsubmit validate`: checks every file, streams the report, picks the exit status.

use super::shared::{Global, options, progress_wanted, report_to};
use crate::cli::ValidateArgs;
use crate::exit::ExitStatus;
use crate::progress::Progress;
use crate::report::open_reported;
use crate::report::{self, Summary};
use crate::validate::{self, Failure};
use anyhow::Result;
use std::cell::RefCell;
use std::time::Instant;

/// Runs the subcommand.
pub fn run(args: &ValidateArgs, global: Global) -> Result<ExitStatus> {
    let opts = options(&args.check)?;
    let show_progress = progress_wanted(&args.report, global);
    let out = report_to(args.report_file.output.as_deref(), show_progress)?;
    let mut reporter = report::make_reporter(
        &args.report,
        args.strict,
        global.quiet,
        global.color,
        opts.as_of,
        out,
    )?;
    let mut summary = Summary::default();
    let mut unreadable = false;
    for arg in &args.files {
        let Some(input) = open_reported(arg, &mut unreadable, reporter.as_mut(), &mut summary)?
        else {
            continue;
        };
        let name = input.name.clone();
        let started = Instant::now();
        let bar = Progress::new(&name, input.size, show_progress);
        reporter.begin_file(&name)?;
        let extension = input.extension_name().map(str::to_string);
        let (mut file, outcome) = if reporter.wants_rows() {
            // The format shows rows too: the reporter gets both, one call at a time.
            let shared = RefCell::new(reporter.as_mut());
            validate::check_rows(
                &name,
                extension.as_deref(),
                input.source,
                &opts,
                &mut |bytes| bar.set(bytes),
                &mut |d| bar.suspend(|| shared.borrow_mut().diagnostic(&name, d)),
                &mut report::RowsTo::new(&shared),
            )
        } else {
            validate::check(
                &name,
                extension.as_deref(),
                input.source,
                &opts,
                &mut |bytes| bar.set(bytes),
                &mut |d| bar.suspend(|| reporter.diagnostic(&name, d)),
            )
        };
        bar.finish();
        match outcome {
            Ok(()) => {}
            Err(Failure::Write(e)) => return Err(e.into()),
            Err(Failure::Read(e)) => {
                let e = format!("cannot read {name}: {e}");
                crate::say::error(&e);
                file.error = Some(e);
                unreadable = true;
            }
        }
        reporter.end_file(&file)?;
        summary.add(&file);
        if global.verbose > 0 {
            verbose_line(&name, file.rows, input.size, started);
        }
    }
    reporter.finish(&summary)?;
    Ok(status(&summary, unreadable, args.strict))
}

fn status(s: &Summary, unreadable: bool, strict: bool) -> ExitStatus {
    if unreadable {
        ExitStatus::Failure
    } else if s.errors > 0 || (strict && s.warnings > 0) {
        ExitStatus::DataErrors
    } else {
        ExitStatus::Success
    }
}

fn verbose_line(name: &str, rows: u64, size: Option<u64>, started: Instant) {
    let secs = started.elapsed().as_secs_f64().max(1e-9);
    let rate = size
        .map(|b| format!(", {:.1} MB/s", b as f64 / secs / 1e6))
        .unwrap_or_default();
    crate::say::note(&format!(
        "{name}: {rows} rows in {:.3}s ({:.0} rows/s{rate})",
        secs,
        rows as f64 / secs
    ));
}
