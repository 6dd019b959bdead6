//! `--format` → the [`Reporter`] that renders it: the one place formats are dispatched.

use super::Reporter;
use crate::cli::{Color, Format, ReportArgs};
use crate::values::date::Day;
use anyhow::{Context, Result};
use std::io::{self, IsTerminal, Write};

/// The reporter for `--format` (text coloured as `color` and the environment say); `as_of`
/// is the day ages are counted to (the html page's EventDate chart draws its cutoffs from it).
pub fn make_reporter<'a>(
    args: &ReportArgs,
    strict: bool,
    quiet: bool,
    color: Color,
    as_of: Day,
    out: Box<dyn Write + 'a>,
) -> Result<Box<dyn Reporter + 'a>> {
    Ok(match args.format {
        Format::Text => {
            let color = crate::color::wanted(color, io::stdout().is_terminal());
            let opts = super::TextOptions {
                color,
                quiet,
                max_per_code: args.max_diagnostics,
            };
            Box::new(super::Text::new(out, opts))
        }
        Format::Json => Box::new(super::Json::new(out)),
        Format::Jsonl => Box::new(super::JsonLines::new(out)),
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
            Box::new(super::Github::new(out, summary))
        }
        Format::Junit => Box::new(super::Junit::new(out, strict)),
        Format::Sarif => Box::new(super::Sarif::new(out)),
        Format::Html => Box::new(super::Html::new(out, as_of)),
    })
}
