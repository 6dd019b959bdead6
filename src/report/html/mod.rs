//! `html`: one self-contained page for people (no network, no external script, style or
//! font): the verdict first, findings by code with capped examples shown in their rows, the
//! findings by column and the EventDate distribution as inline SVG, and for `split` the parts
//! and the rejects. What the page keeps is bounded whatever the number of findings: exact
//! counts per code and column, a few examples per code (their row's cells copied only for
//! those), and a count per day in a fixed window around the as-of date.

mod page;
mod svg;

use super::{Reporter, RowView, Summary, slot};
use crate::diagnostic::{Code, Diagnostic};
use crate::split::FileEntry;
use crate::validate::FileReport;
use crate::values::date::Day;
use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};

/// Examples kept per code and file (the counts stay exact).
pub const EXAMPLES_PER_CODE: usize = 5;
/// Characters of a cell shown in an example row.
const CELL_CHARS: usize = 60;
/// Cells of an example row shown around the offending one.
const ROW_CELLS: usize = 40;
/// Days counted before the as-of date (older rows are counted together).
const DAYS_BEFORE: i64 = 480;
/// Days counted after it (later rows are counted together).
const DAYS_AFTER: i64 = 60;

/// The HTML renderer: gathers what the page shows, then writes it at the end of the run.
pub struct Html<W: Write> {
    out: W,
    as_of: Day,
    files: Vec<FileView>,
}

/// One finding kept as an example.
struct Example {
    line: Option<u64>,
    column: Option<String>,
    value: Option<String>,
    message: String,
    /// The cells of its row (or of the header, for a header finding), once seen.
    cells: Option<Vec<String>>,
}

/// One code's findings in a file.
#[derive(Default)]
struct CodeView {
    count: u64,
    /// The help line of its first finding.
    help: String,
    examples: Vec<Example>,
}

/// Rows per EventDate day: `[without a MediaId, with one]`.
type DayCount = [u64; 2];

/// What the page shows of one EventDate column.
struct Days {
    /// Days `as_of - DAYS_BEFORE ..= as_of + DAYS_AFTER`.
    window: Vec<DayCount>,
    older: DayCount,
    later: DayCount,
    /// Rows with no EventDate that could be read.
    undated: u64,
}

impl Days {
    fn new() -> Self {
        Days {
            window: vec![[0; 2]; (DAYS_BEFORE + DAYS_AFTER + 1) as usize],
            older: [0; 2],
            later: [0; 2],
            undated: 0,
        }
    }
}

/// The split of a file: its manifest entry and why rows were set aside.
struct SplitView {
    entry: Option<FileEntry>,
    reasons: Vec<(Code, u64)>,
}

/// Everything the page shows about one input.
struct FileView {
    path: String,
    report: FileReport,
    header: Vec<String>,
    codes: BTreeMap<Code, CodeView>,
    /// Findings per column: `[errors, warnings, infos]`.
    columns: HashMap<String, [u64; 3]>,
    days: Days,
    /// Lines of examples whose row has not been seen yet.
    wanted: Vec<u64>,
    split: Option<SplitView>,
}

/// A cell as the page shows it: controls escaped, shortened, an email address masked.
fn shown_cell(value: &str) -> String {
    // Every address in the value masked, whatever its shape (spaces, a display name, a list).
    let value = crate::escape::controls(&crate::values::mask_emails(value));
    match value.char_indices().nth(CELL_CHARS) {
        Some((at, _)) => format!("{}…", &value[..at]),
        None => value,
    }
}

impl FileView {
    fn new(path: &str) -> Self {
        FileView {
            path: path.to_string(),
            report: FileReport::default(),
            header: vec![],
            codes: BTreeMap::new(),
            columns: HashMap::new(),
            days: Days::new(),
            wanted: vec![],
            split: None,
        }
    }

    fn diagnostic(&mut self, d: &Diagnostic) {
        let code = self.codes.entry(d.code).or_default();
        code.count += 1;
        if code.count == 1 {
            code.help = d.help.clone();
        }
        if let Some(c) = &d.column {
            match self.columns.get_mut(c.as_str()) {
                Some(n) => n[slot(d.severity)] += 1,
                None => {
                    let mut n = [0; 3];
                    n[slot(d.severity)] = 1;
                    self.columns.insert(c.clone(), n);
                }
            }
        }
        if code.examples.len() >= EXAMPLES_PER_CODE {
            return;
        }
        // A header finding gets the header's cells when the header is passed on.
        if let (Some(_), Some(line)) = (d.row, d.line) {
            self.wanted.push(line);
        }
        code.examples.push(Example {
            line: d.line,
            column: d.column.clone(),
            value: d.value.clone(),
            message: d.message.clone(),
            cells: None,
        });
    }

    fn row(&mut self, row: &RowView, as_of: Day) {
        let n = usize::from(row.media);
        match row.event_day.map(|d| d - as_of) {
            None => self.days.undated += 1,
            Some(off) if off < -DAYS_BEFORE => self.days.older[n] += 1,
            Some(off) if off > DAYS_AFTER => self.days.later[n] += 1,
            Some(off) => self.days.window[(off + DAYS_BEFORE) as usize][n] += 1,
        }
        if !self.wanted.is_empty() {
            self.capture(row);
        }
    }

    /// Copies the cells of a row an example is about (the examples are found before their
    /// row is passed on; one found later about an earlier row keeps no cells).
    #[cold]
    fn capture(&mut self, row: &RowView) {
        if !self.wanted.contains(&row.line) {
            self.wanted.retain(|&l| l > row.line);
            return;
        }
        self.wanted.retain(|&l| l > row.line);
        let cells: Vec<String> = (0..row.record.len())
            .map(|i| shown_cell(&row.record.lossy(i)))
            .collect();
        for code in self.codes.values_mut() {
            for e in &mut code.examples {
                if e.line == Some(row.line) && e.cells.is_none() {
                    e.cells = Some(cells.clone());
                }
            }
        }
    }
}

impl<W: Write> Html<W> {
    /// A renderer writing the page to `out` when the run is done; ages are counted to
    /// `as_of`.
    pub fn new(out: W, as_of: Day) -> Self {
        Html {
            out,
            as_of,
            files: vec![],
        }
    }

    fn current(&mut self) -> &mut FileView {
        if self.files.is_empty() {
            self.files.push(FileView::new(""));
        }
        let last = self.files.len() - 1;
        &mut self.files[last]
    }
}

impl<W: Write> Reporter for Html<W> {
    fn begin_file(&mut self, path: &str) -> io::Result<()> {
        self.files.push(FileView::new(path));
        Ok(())
    }

    fn diagnostic(&mut self, _path: &str, d: &Diagnostic) -> io::Result<()> {
        self.current().diagnostic(d);
        Ok(())
    }

    fn end_file(&mut self, file: &FileReport) -> io::Result<()> {
        let f = self.current();
        f.report = file.clone();
        f.wanted = vec![];
        Ok(())
    }

    fn finish(&mut self, summary: &Summary) -> io::Result<()> {
        let page = page::render(&self.files, summary, self.as_of);
        self.out.write_all(page.as_bytes())?;
        self.out.flush()
    }

    fn wants_rows(&self) -> bool {
        true
    }

    fn header(&mut self, line: u64, names: &[String]) {
        let f = self.current();
        f.header = names.iter().map(|n| shown_cell(n)).collect();
        for code in f.codes.values_mut() {
            for e in &mut code.examples {
                if e.line == Some(line) && e.column.is_some() && e.cells.is_none() {
                    e.cells = Some(f.header.clone());
                }
            }
        }
    }

    fn row(&mut self, row: &RowView) {
        let as_of = self.as_of;
        self.current().row(row, as_of);
    }

    fn split(&mut self, entry: Option<&FileEntry>, reasons: &[(Code, u64)]) -> io::Result<()> {
        self.current().split = Some(SplitView {
            entry: entry.cloned(),
            reasons: reasons.to_vec(),
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests;
