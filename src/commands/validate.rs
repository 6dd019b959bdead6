//! `convsubmit validate`: checks every file, streams the report, picks the exit status.

use crate::cli::{CheckArgs, Color, Format, ReportArgs, ValidateArgs};
use crate::exit::ExitStatus;
use crate::input;
use crate::progress::Progress;
use crate::report::{self, Reporter, Summary};
use crate::template;
use crate::validate::{self, Failure, Options};
use crate::values::date;
use anyhow::{Context, Result};
use std::io::{self, BufWriter, IsTerminal, Write};
use std::time::Instant;

/// Global switches that shape the output.
#[derive(Debug, Clone, Copy)]
pub struct Global {
    /// `-v` count.
    pub verbose: u8,
    /// `--quiet`.
    pub quiet: bool,
}

/// The validation options the command line asks for.
pub fn options(args: &CheckArgs) -> Result<Options> {
    let template = match args.template.as_str() {
        "auto" => None,
        t => Some(template::load(t).with_context(|| format!("cannot use template `{t}`"))?),
    };
    Ok(Options {
        template,
        as_of: args.as_of.unwrap_or_else(date::today_utc),
        max_rows: args.max_rows,
    })
}

/// True when a progress bar should be drawn (text format, not quiet, stderr a terminal).
pub fn progress_wanted(report: &ReportArgs, global: Global) -> bool {
    report.format == Format::Text && !global.quiet
}

/// Standard output for a report: line by line when a progress bar may be on screen (it
/// writes inside `suspend`), buffered otherwise.
pub fn report_output<'a>(progress: bool) -> Box<dyn Write + 'a> {
    if progress && io::stderr().is_terminal() {
        Box::new(crate::output::stdout())
    } else {
        Box::new(BufWriter::with_capacity(64 * 1024, crate::output::stdout()))
    }
}

/// Opens an input, or reports why it cannot be read (and notes that one could not).
pub fn open_input(arg: &str, unreadable: &mut bool) -> Option<input::Input> {
    match input::open(arg) {
        Ok(i) => Some(i),
        Err(e) => {
            crate::say::error(&format!("{e:#}"));
            *unreadable = true;
            None
        }
    }
}

/// Runs the subcommand.
pub fn run(args: &ValidateArgs, global: Global) -> Result<ExitStatus> {
    let opts = options(&args.check)?;
    let show_progress = progress_wanted(&args.report, global);
    let out = report_output(show_progress);
    let mut reporter = make_reporter(&args.report, args.strict, global, out)?;
    let mut summary = Summary::default();
    let mut unreadable = false;
    for arg in &args.files {
        let Some(input) = open_input(arg, &mut unreadable) else {
            continue;
        };
        let name = input.name.clone();
        let started = Instant::now();
        let bar = Progress::new(&name, input.size, show_progress);
        reporter.begin_file(&name)?;
        let extension = (!input.is_stdin).then_some(name.as_str());
        let (file, outcome) = validate::check(
            &name,
            extension,
            input.source,
            &opts,
            &mut |bytes| bar.set(bytes),
            &mut |d| bar.suspend(|| reporter.diagnostic(&name, d)),
        );
        bar.finish();
        match outcome {
            Ok(()) => {}
            Err(Failure::Write(e)) => return Err(e.into()),
            Err(Failure::Read(e)) => {
                crate::say::error(&format!("cannot read {name}: {e}"));
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

/// The reporter for `--format`.
pub fn make_reporter<'a>(
    args: &ReportArgs,
    strict: bool,
    global: Global,
    out: Box<dyn Write + 'a>,
) -> Result<Box<dyn Reporter + 'a>> {
    Ok(match args.format {
        Format::Text => {
            let color = match args.color {
                Color::Always => true,
                Color::Never => false,
                Color::Auto => {
                    io::stdout().is_terminal()
                        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                        && std::env::var("TERM").map_or(true, |t| t != "dumb")
                }
            };
            let opts = report::TextOptions {
                color,
                quiet: global.quiet,
                max_per_code: args.max_diagnostics,
            };
            Box::new(report::Text::new(out, opts))
        }
        Format::Json => Box::new(report::Json::new(out)),
        Format::Jsonl => Box::new(report::JsonLines::new(out)),
        Format::Github => {
            let summary = match std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) {
                Some(path) => Some(
                    std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(&path)
                        .with_context(|| {
                            format!(
                                "cannot open $GITHUB_STEP_SUMMARY ({})",
                                path.to_string_lossy()
                            )
                        })?,
                ),
                None => None,
            };
            Box::new(report::Github::new(out, summary))
        }
        Format::Junit => Box::new(report::Junit::new(out, strict)),
        Format::Sarif => Box::new(report::Sarif::new(out)),
    })
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
