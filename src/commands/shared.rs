//! What every command that reads inputs shares: the global switches, the validation options
//! of the command line, the progress and output choices, and opening an input. Not a command.

use crate::cli::{CheckArgs, Format, ReportArgs};
use crate::template;
use crate::validate::Options;
use crate::values::date;
use anyhow::{Context, Result};
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::Path;

/// Global switches that shape the output.
#[derive(Debug, Clone, Copy)]
pub struct Global {
    /// `-v` count.
    pub verbose: u8,
    /// `--quiet`.
    pub quiet: bool,
    /// `--color`.
    pub color: crate::cli::Color,
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

/// Where a report goes: `--output FILE` (created or truncated before any input is read, so
/// that a path that cannot be written stops the run at once), else standard output as
/// [`report_output`] has it.
pub fn report_to<'a>(file: Option<&Path>, progress: bool) -> Result<Box<dyn Write + 'a>> {
    match file {
        Some(path) => {
            let f = std::fs::File::create(path)
                .with_context(|| format!("cannot write the report to {}", path.display()))?;
            Ok(Box::new(BufWriter::with_capacity(64 * 1024, f)))
        }
        None => Ok(report_output(progress)),
    }
}
