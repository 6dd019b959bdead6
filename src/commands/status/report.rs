//! What `status` prints on standard output: a line per error and a summary (`text`), or the
//! items and their totals as one JSON document (`json`) or a JSON object per line (`jsonl`).
//! Shapes documented in docs/output-formats.md.

use super::ask::Item;
use crate::cli::LedgerFormat;
use crate::report::plural;
use serde::Serialize;
use std::io::{self, Write};

/// The totals of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// API conversions asked about.
    pub api_conversions: usize,
    /// Files asked about (each part name once).
    pub files: usize,
    /// Items impact.com has not completed, or was not asked about.
    pub not_complete: usize,
    /// Errors impact.com reports, each once: the errors printed.
    pub errors: usize,
}

impl Counts {
    /// The totals of `items`.
    pub fn of(items: &[Item]) -> Counts {
        let count = |kind: &str| items.iter().filter(|i| i.kind == kind).count();
        Counts {
            api_conversions: count("api"),
            files: count("file"),
            not_complete: items
                .iter()
                .filter(|i| !i.status.eq_ignore_ascii_case("complete"))
                .count(),
            errors: items.iter().map(|i| i.errors.len()).sum(),
        }
    }
}

/// The `json` document.
#[derive(Serialize)]
struct Document<'a> {
    version: u32,
    items: &'a [Item],
    summary: Counts,
}

/// The last `jsonl` line.
#[derive(Serialize)]
struct SummaryLine {
    summary: Counts,
}

/// Writes the report of `items` in `format`; with `quiet`, text shows the errors only.
pub fn write(
    items: &[Item],
    format: LedgerFormat,
    quiet: bool,
    out: &mut dyn Write,
) -> io::Result<()> {
    let summary = Counts::of(items);
    match format {
        LedgerFormat::Json => {
            let doc = Document {
                version: 1,
                items,
                summary,
            };
            serde_json::to_writer(&mut *out, &doc)?;
            writeln!(out)?;
        }
        LedgerFormat::Jsonl => {
            for i in items {
                serde_json::to_writer(&mut *out, i)?;
                writeln!(out)?;
            }
            serde_json::to_writer(&mut *out, &SummaryLine { summary })?;
            writeln!(out)?;
        }
        LedgerFormat::Text => {
            text(items, out)?;
            if !quiet {
                writeln!(
                    out,
                    "status: {} and {} checked; {} not complete yet; {} reported by impact.com",
                    plural(summary.api_conversions as u64, "API conversion"),
                    plural(summary.files as u64, "file"),
                    summary.not_complete,
                    plural(summary.errors as u64, "error"),
                )?;
            }
        }
    }
    out.flush()
}

/// `input:line: error[impact] sent-as, order `ID`: reason`, a line per error.
fn text(items: &[Item], out: &mut dyn Write) -> io::Result<()> {
    for f in items.iter().flat_map(|i| &i.errors) {
        let order = f.order_id.as_deref().map_or(String::new(), |o| {
            format!(", order `{}`", crate::escape::for_display(o))
        });
        writeln!(
            out,
            "{}:{}: error[impact] {}{order}: {}",
            crate::escape::controls(&f.input),
            f.line.unwrap_or(0),
            crate::escape::controls(&f.sent_as),
            crate::escape::for_display(&f.reason)
        )?;
    }
    Ok(())
}
