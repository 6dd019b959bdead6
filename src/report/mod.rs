//! Renderers: each output format is a [`Reporter`] that receives findings as they are found
//! and writes them to any `io::Write`. Findings are never held in memory beyond what a format
//! needs (a per-code cap for text, 10 annotations for GitHub, a per-testcase cap for JUnit).

mod github;
mod json;
mod junit;
mod make;
mod open;
mod sarif;
mod text;

pub use github::Github;
pub use json::{Json, JsonLines};
pub use junit::Junit;
pub use make::make_reporter;
pub use open::open_reported;
pub use sarif::Sarif;
pub use text::{Text, TextOptions};

use crate::diagnostic::Diagnostic;
use crate::validate::FileReport;
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
        for d in &diags {
            r.diagnostic(a, d).unwrap();
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
