//! GitHub Actions workflow commands. GitHub shows at most 10 error and 10 warning annotations
//! per step and drops the rest silently, so only the first 10 of each become annotations; the
//! rest are printed as plain log lines, a notice says how many were not annotated, and the
//! full table goes to `$GITHUB_STEP_SUMMARY` when it is set. A file that could not be read is
//! always annotated (`title=convsubmit cannot read`), outside the caps: it was not checked.

use super::{Reporter, Summary, plural, slot};
use crate::diagnostic::{Diagnostic, Severity};
use crate::escape::controls;
use crate::validate::FileReport;
use std::fs::File;
use std::io::{self, Write};

/// Annotations of one severity GitHub shows per step.
pub const ANNOTATION_CAP: u64 = 10;
/// GitHub's size limit for one step summary.
const SUMMARY_CAP: u64 = 1024 * 1024 - 4096;

/// The GitHub Actions renderer.
pub struct Github<W: Write> {
    out: W,
    summary: Option<StepSummary>,
    annotated: [u64; 3],
    skipped: [u64; 3],
}

struct StepSummary {
    file: File,
    written: u64,
    dropped: u64,
}

/// Escapes a command's message.
fn data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a command's property value.
fn property(s: &str) -> String {
    data(s).replace(':', "%3A").replace(',', "%2C")
}

/// Escapes a Markdown table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\r', '\n'], " ")
}

impl<W: Write> Github<W> {
    /// A renderer writing commands to `out` and, if given, the table to a step summary file.
    pub fn new(out: W, step_summary: Option<File>) -> Self {
        Github {
            out,
            summary: step_summary.map(|file| StepSummary {
                file,
                written: 0,
                dropped: 0,
            }),
            annotated: [0; 3],
            skipped: [0; 3],
        }
    }

    fn table_row(&mut self, path: &str, d: &Diagnostic) -> io::Result<()> {
        let line = d.line.map(|l| l.to_string()).unwrap_or_default();
        let column = d.column.as_deref().unwrap_or("");
        let cells = [
            &line,
            d.severity.as_str(),
            d.code.as_str(),
            column,
            &d.message,
        ];
        self.table_line(path, cells)
    }

    /// One row of the step summary: the path, then line, severity, code, column, message.
    fn table_line(&mut self, path: &str, cells: [&str; 5]) -> io::Result<()> {
        let Some(s) = self.summary.as_mut() else {
            return Ok(());
        };
        let [line, severity, code, column, message] = cells;
        let row = format!(
            "| {} | {line} | {severity} | `{code}` | {} | {} |\n",
            cell(&controls(path)),
            cell(column),
            cell(message)
        );
        if s.written == 0 {
            let head = "### convsubmit\n\n| File | Line | Severity | Code | Column | Message |\n|---|---|---|---|---|---|\n";
            s.file.write_all(head.as_bytes())?;
            s.written += head.len() as u64;
        }
        if s.written + row.len() as u64 > SUMMARY_CAP {
            s.dropped += 1;
            return Ok(());
        }
        s.written += row.len() as u64;
        s.file.write_all(row.as_bytes())
    }
}

impl<W: Write> Reporter for Github<W> {
    fn begin_file(&mut self, _path: &str) -> io::Result<()> {
        Ok(())
    }

    fn diagnostic(&mut self, path: &str, d: &Diagnostic) -> io::Result<()> {
        self.table_row(path, d)?;
        let i = slot(d.severity);
        // Keep one notice free for the "not annotated" notice.
        let cap = if d.severity == Severity::Info {
            ANNOTATION_CAP - 1
        } else {
            ANNOTATION_CAP
        };
        if self.annotated[i] >= cap {
            self.skipped[i] += 1;
            // A log line must never start with `::` (GitHub would run it as a command), so it
            // starts with the severity, and the path is escaped.
            let place = match d.line {
                Some(l) => format!("{}:{l}", controls(path)),
                None => controls(path),
            };
            return writeln!(
                self.out,
                "{}[{}] {place}: {}",
                d.severity, d.code, d.message
            );
        }
        self.annotated[i] += 1;
        let command = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "notice",
        };
        let line = d.line.map(|l| format!(",line={l}")).unwrap_or_default();
        let title = format!("convsubmit {}", d.code);
        let text = format!("{}\nhelp: {}", d.message, d.help);
        writeln!(
            self.out,
            "::{command} file={}{line},title={}::{}",
            property(&controls(path)),
            property(&title),
            data(&text)
        )
    }

    fn end_file(&mut self, f: &FileReport) -> io::Result<()> {
        if let Some(e) = &f.error {
            self.table_line(&f.path, ["", "error", "cannot read", "", e])?;
            return writeln!(
                self.out,
                "::error file={},title={}::{}",
                property(&controls(&f.path)),
                property("convsubmit cannot read"),
                data(&controls(e))
            );
        }
        let template = f.template.as_deref().unwrap_or("no template");
        writeln!(
            self.out,
            "summary {}: {template}, {}: {}, {}",
            controls(&f.path),
            plural(f.rows, "row"),
            plural(f.errors, "error"),
            plural(f.warnings, "warning")
        )
    }

    fn finish(&mut self, s: &Summary) -> io::Result<()> {
        let [e, w, n] = self.skipped;
        if e + w + n > 0 {
            let msg = format!(
                "{}, {} and {} were not annotated: GitHub shows at most {ANNOTATION_CAP} of each per step. The log above and the job summary list them all.",
                plural(e, "more error"),
                plural(w, "more warning"),
                plural(n, "more notice")
            );
            writeln!(self.out, "::notice title=convsubmit::{}", data(&msg))?;
        }
        if let Some(sum) = self.summary.as_mut() {
            let mut tail = String::new();
            if sum.written == 0 {
                tail.push_str("### convsubmit\n\n");
            }
            if sum.dropped > 0 {
                tail.push_str(&format!(
                    "\n{} not shown (step summary size limit).\n",
                    plural(sum.dropped, "more finding")
                ));
            }
            tail.push_str(&format!(
                "\n**{}, {}: {}, {}**\n",
                plural(s.files, "file"),
                plural(s.rows, "row"),
                plural(s.errors, "error"),
                plural(s.warnings, "warning")
            ));
            sum.file.write_all(tail.as_bytes())?;
        }
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{self, assert_snapshot};
    use super::*;
    use crate::diagnostic::Code;

    #[test]
    fn annotations_and_step_summary() {
        let dir = std::env::temp_dir().join(format!("convsubmit-gh-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("summary.md");
        let file = File::create(&path).unwrap();
        let out = fixture::output(|buf| Box::new(Github::new(buf, Some(file))));
        assert_snapshot("github.txt", &out);
        assert_snapshot(
            "github-summary.md",
            &std::fs::read_to_string(&path).unwrap(),
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn escapes_properties_and_data() {
        assert_eq!(property("a,b:c%\n"), "a%2Cb%3Ac%25%0A");
        assert_eq!(data("50%\r\nx:y,z"), "50%25%0D%0Ax:y,z");
    }

    #[test]
    fn caps_annotations_and_says_so() {
        let mut buf = Vec::new();
        let mut r = Github::new(&mut buf, None);
        let d = Diagnostic::new(Code::InvalidDate, "bad", "fix").at_row(2, 1);
        for _ in 0..25 {
            r.diagnostic("f.csv", &d).unwrap();
        }
        r.finish(&Summary {
            files: 1,
            rows: 25,
            errors: 25,
            ..Summary::default()
        })
        .unwrap();
        let out = String::from_utf8(buf).unwrap();
        assert_eq!(out.matches("::error ").count(), 10);
        assert_eq!(out.matches("error[invalid-date] f.csv:2: bad").count(), 15);
        assert!(out.contains("::notice title=convsubmit::15 more errors, 0 more warnings and 0 more notices were not annotated"));
    }
}
