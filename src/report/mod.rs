//! Renderers: each output format is a [`Reporter`] that receives findings as they are found
//! and writes them to any `io::Write`. Findings are never held in memory beyond what a format
//! needs (a per-code cap for text, 10 annotations for GitHub, a per-testcase cap for JUnit).

mod github;
mod html;
mod json;
mod junit;
mod make;
mod open;
mod sarif;
mod text;

pub use github::Github;
pub use html::Html;
pub use json::{Json, JsonLines};
pub use junit::Junit;
pub use make::make_reporter;
pub use open::open_reported;
pub use sarif::Sarif;
pub use text::{Text, TextOptions};

use crate::diagnostic::{Code, Diagnostic, Severity};
use crate::input::Record;
use crate::split::FileEntry;
use crate::validate::{FileReport, HeaderSeen, RowSeen, RowSink};
use crate::values::date::Day;
use std::cell::RefCell;
use std::io;

/// Totals over every file of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Files checked.
    pub files: u64,
    /// Data rows over all files.
    pub rows: u64,
    /// Errors over all files.
    pub errors: u64,
    /// Warnings over all files.
    pub warnings: u64,
    /// Files that could not be opened or read to the end (counted in `files` too).
    pub unreadable: u64,
}

impl Summary {
    /// Adds one file's counts.
    pub fn add(&mut self, f: &FileReport) {
        self.files += 1;
        self.rows += f.rows;
        self.errors += f.errors;
        self.warnings += f.warnings;
        self.unreadable += u64::from(f.error.is_some());
    }
}

/// Receives the findings of a run, file by file, and renders them.
pub trait Reporter {
    /// A file is about to be checked.
    fn begin_file(&mut self, path: &str) -> io::Result<()>;
    /// One finding in the current file.
    fn diagnostic(&mut self, path: &str, d: &Diagnostic) -> io::Result<()>;
    /// The current file is done.
    fn end_file(&mut self, file: &FileReport) -> io::Result<()>;
    /// Every file is done.
    fn finish(&mut self, summary: &Summary) -> io::Result<()>;

    /// What `push` delivered (`--format json|jsonl` carry it; the other formats are about
    /// findings alone). Called before [`Reporter::finish`].
    fn delivery(&mut self, _outcome: &serde_json::Value) -> io::Result<()> {
        Ok(())
    }

    /// True when the format shows rows (`html`): a command then passes each file's header
    /// and rows to [`Reporter::header`] and [`Reporter::row`]. For every other format no
    /// row is passed on at all, so that validation costs what it did.
    fn wants_rows(&self) -> bool {
        false
    }

    /// The current file's header: its physical line and its column names as spelled.
    fn header(&mut self, _line: u64, _names: &[String]) {}

    /// One data row of the current file, after its checks and findings.
    fn row(&mut self, _row: &RowView) {}

    /// What `split` made of the current file: its manifest entry (`None`: nothing was
    /// written) and the rows set aside per reason. Called before [`Reporter::end_file`].
    fn split(&mut self, _entry: Option<&FileEntry>, _reasons: &[(Code, u64)]) -> io::Result<()> {
        Ok(())
    }
}

/// What a [`Reporter`] that shows rows gets of each row.
pub struct RowView<'a> {
    /// Physical line where the row starts.
    pub line: u64,
    /// Its fields.
    pub record: &'a Record,
    /// The UTC day of its EventDate, when one could be read.
    pub event_day: Option<Day>,
    /// A MediaId or MediaPartnerId value is present.
    pub media: bool,
}

/// Passes the rows validation sees to a [`Reporter`] that wants them (borrowed through a
/// `RefCell`, as the same reporter also receives the findings).
pub struct RowsTo<'r, 'a> {
    reporter: &'r RefCell<&'r mut (dyn Reporter + 'a)>,
}

impl<'r, 'a> RowsTo<'r, 'a> {
    /// Rows to `reporter`.
    pub fn new(reporter: &'r RefCell<&'r mut (dyn Reporter + 'a)>) -> Self {
        RowsTo { reporter }
    }
}

impl RowSink for RowsTo<'_, '_> {
    fn header(&mut self, header: &HeaderSeen) -> io::Result<()> {
        let mut r = self.reporter.borrow_mut();
        r.header(header.line, &header.plan.names);
        Ok(())
    }

    fn row(&mut self, row: &RowSeen) -> io::Result<()> {
        self.reporter.borrow_mut().row(&RowView {
            line: row.line,
            record: row.record,
            event_day: row.event_day,
            media: row.media,
        });
        Ok(())
    }

    fn wants_errors(&self) -> bool {
        false
    }
}

/// Escapes text for XML and HTML (content and attribute values), dropping characters XML
/// 1.0 cannot carry.
pub(crate) fn markup(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || matches!(c, '\u{FFFE}' | '\u{FFFF}') => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// A severity's place in per-severity counts: errors, warnings, infos.
pub(crate) fn slot(s: Severity) -> usize {
    match s {
        Severity::Error => 0,
        Severity::Warning => 1,
        Severity::Info => 2,
    }
}

/// `1 error`, `2 errors`.
pub(crate) fn plural(n: u64, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

#[cfg(test)]
pub(crate) mod fixture {
    //! A fixed run used by every renderer's snapshot test.

    use super::*;
    use crate::diagnostic::Code;

    /// Two files: one with findings of every severity, one clean.
    pub fn render(r: &mut dyn Reporter) {
        let a = "data/a.csv";
        let diags = [
            Diagnostic::new(
                Code::Bom,
                "the file starts with a UTF-8 byte-order mark",
                "nothing to do",
            )
            .at_line(1),
            Diagnostic::new(
                Code::UnknownColumn,
                "unknown column `ActionTrakerId`: did you mean `ActionTrackerId`?",
                "rename the column to `ActionTrackerId`",
            )
            .at_line(1)
            .column("ActionTrakerId"),
            Diagnostic::new(
                Code::InvalidNumber,
                "`Amount` is not a plain decimal number: `1,000.00`",
                "remove thousands separators",
            )
            .at_row(3, 2)
            .column("Amount")
            .value("1,000.00"),
            Diagnostic::new(
                Code::EventTooOld,
                "`EventDate` is 89 days before 2026-06-30, a <limit> & \"quote\"",
                "send a MediaId",
            )
            .at_row(4, 3)
            .column("EventDate")
            .value("2026-04-02T12:00:00Z"),
            Diagnostic::new(
                Code::EventTooOld,
                "`EventDate` is 90 days before 2026-06-30",
                "send a MediaId",
            )
            .at_row(6, 4)
            .column("EventDate")
            .value("2026-04-01T12:00:00Z"),
        ];
        let mut sum = Summary::default();
        r.begin_file(a).unwrap();
        // As validation passes them on: the header's findings, the header, then each row's
        // findings before the row.
        for d in diags.iter().filter(|d| d.row.is_none()) {
            r.diagnostic(a, d).unwrap();
        }
        if r.wants_rows() {
            let names = "CampaignId,ActionTrakerId,EventDate,OrderId,Amount,MediaId";
            let names: Vec<String> = names.split(',').map(String::from).collect();
            r.header(1, &names);
        }
        let rows = [
            (2, "1000,1,2026-06-20T12:00:00Z,ORD-1,10.00,778899"),
            (3, "1000,1,2026-06-21T12:00:00Z,ORD-2,\"1,000.00\","),
            (
                4,
                "1000,1,2026-04-02T12:00:00Z,ORD-3,<script>alert(1)</script>,",
            ),
            (6, "1000,1,2026-04-01T12:00:00Z,\"ORD-4\nB\",5.00,"),
        ];
        for (line, csv) in rows {
            for d in diags
                .iter()
                .filter(|d| d.row.is_some() && d.line == Some(line))
            {
                r.diagnostic(a, d).unwrap();
            }
            if r.wants_rows() {
                let mut reader = crate::input::RecordReader::new(csv.as_bytes());
                let mut record = Record::default();
                reader.read(&mut record).unwrap();
                let day = crate::values::date::parse_day(&record.get(2)[..10]).unwrap();
                r.row(&RowView {
                    line,
                    record: &record,
                    event_day: Some(day),
                    media: record.filled(5),
                });
            }
        }
        let fa = FileReport {
            path: a.into(),
            template: Some("item-level".into()),
            rows: 4,
            orders: 3,
            errors: 3,
            warnings: 1,
            infos: 1,
            error: None,
        };
        r.end_file(&fa).unwrap();
        sum.add(&fa);
        let b = "data/b.csv";
        r.begin_file(b).unwrap();
        let fb = FileReport {
            path: b.into(),
            template: Some("order-level".into()),
            rows: 2,
            orders: 2,
            ..FileReport::default()
        };
        r.end_file(&fb).unwrap();
        sum.add(&fb);
        r.finish(&sum).unwrap();
    }

    /// Compares with the stored snapshot `fixtures/snapshots/report/NAME`.
    pub fn assert_snapshot(name: &str, actual: &str) {
        crate::snapshot::assert_snapshot(&format!("snapshots/report/{name}"), actual);
    }

    /// Renders into a string.
    pub fn output(make: impl FnOnce(&mut Vec<u8>) -> Box<dyn Reporter + '_>) -> String {
        let mut buf = Vec::new();
        {
            let mut r = make(&mut buf);
            render(r.as_mut());
        }
        String::from_utf8(buf).unwrap()
    }
}
