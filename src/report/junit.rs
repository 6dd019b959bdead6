//! JUnit XML: one test suite per file, one test case per file × code (every code, so a clean
//! file shows every check passing). Errors fail their test case; with `--strict`, warnings do
//! too. Each case lists at most [`LISTED_PER_CASE`] findings, with the exact count. A file
//! that could not be read is a suite with one test case in error (JUnit's `<error>`: the test
//! could not run), named `read`.

use super::{Reporter, Summary, markup as xml, plural};
use crate::diagnostic::{Code, Diagnostic, Severity};
use crate::validate::FileReport;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Write};

/// Findings listed in one test case's body.
pub const LISTED_PER_CASE: usize = 200;

#[derive(Default)]
struct Case {
    count: u64,
    worst: Option<Severity>,
    listed: Vec<String>,
}

/// The JUnit renderer. It buffers one bounded document and writes it at the end.
pub struct Junit<W: Write> {
    out: W,
    strict: bool,
    cases: BTreeMap<Code, Case>,
    suites: String,
    tests: u64,
    failures: u64,
    errors: u64,
}

impl<W: Write> Junit<W> {
    /// A renderer writing to `out`; `strict` makes warnings fail.
    pub fn new(out: W, strict: bool) -> Self {
        Junit {
            out,
            strict,
            cases: BTreeMap::new(),
            suites: String::new(),
            tests: 0,
            failures: 0,
            errors: 0,
        }
    }

    /// The suite of a file that could not be read: one test case in error.
    fn unread(&mut self, path: &str, error: &str) {
        self.tests += 1;
        self.errors += 1;
        let path = xml(path);
        let _ = write!(
            self.suites,
            "  <testsuite name=\"{path}\" tests=\"1\" failures=\"0\" errors=\"1\" skipped=\"0\">\n    <testcase classname=\"{path}\" name=\"read\">\n      <error message=\"{}\" type=\"unreadable-input\"/>\n    </testcase>\n  </testsuite>\n",
            xml(error)
        );
    }

    fn fails(&self, worst: Option<Severity>) -> bool {
        match worst {
            Some(Severity::Error) => true,
            Some(Severity::Warning) => self.strict,
            _ => false,
        }
    }
}

impl<W: Write> Reporter for Junit<W> {
    fn begin_file(&mut self, _path: &str) -> io::Result<()> {
        self.cases.clear();
        Ok(())
    }

    fn diagnostic(&mut self, _path: &str, d: &Diagnostic) -> io::Result<()> {
        let case = self.cases.entry(d.code).or_default();
        case.count += 1;
        case.worst = case.worst.max(Some(d.severity));
        if case.listed.len() < LISTED_PER_CASE {
            let at = d.line.map(|l| format!("line {l}: ")).unwrap_or_default();
            case.listed
                .push(format!("{at}{} (help: {})", d.message, d.help));
        }
        Ok(())
    }

    fn end_file(&mut self, f: &FileReport) -> io::Result<()> {
        if let Some(e) = &f.error {
            self.unread(&f.path, e);
            return Ok(());
        }
        let mut body = String::new();
        let mut failures = 0;
        for &code in Code::ALL {
            let case = self.cases.remove(&code).unwrap_or_default();
            let _ = write!(
                body,
                "    <testcase classname=\"{}\" name=\"{code}\"",
                xml(&f.path)
            );
            if case.count == 0 {
                body.push_str("/>\n");
                continue;
            }
            let mut text = case.listed.join("\n");
            if case.count > case.listed.len() as u64 {
                let _ = write!(text, "\n… {} more", case.count - case.listed.len() as u64);
            }
            let summary = plural(case.count, &format!("{code} finding"));
            if self.fails(case.worst) {
                failures += 1;
                let _ = write!(
                    body,
                    ">\n      <failure message=\"{}\" type=\"{code}\">{}</failure>\n    </testcase>\n",
                    xml(&summary),
                    xml(&text)
                );
            } else {
                let _ = write!(
                    body,
                    ">\n      <system-out>{}</system-out>\n    </testcase>\n",
                    xml(&text)
                );
            }
        }
        let tests = Code::ALL.len() as u64;
        self.tests += tests;
        self.failures += failures;
        let template = f.template.as_deref().unwrap_or("");
        let _ = write!(
            self.suites,
            "  <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\">\n    <properties>\n      <property name=\"template\" value=\"{}\"/>\n      <property name=\"rows\" value=\"{}\"/>\n    </properties>\n{body}  </testsuite>\n",
            xml(&f.path),
            xml(template),
            f.rows
        );
        Ok(())
    }

    fn finish(&mut self, _s: &Summary) -> io::Result<()> {
        write!(
            self.out,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"convsubmit\" tests=\"{}\" failures=\"{}\" errors=\"{}\">\n{}</testsuites>\n",
            self.tests, self.failures, self.errors, self.suites
        )?;
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{self, assert_snapshot};
    use super::*;

    #[test]
    fn suites_per_file_cases_per_code() {
        let out = fixture::output(|buf| Box::new(Junit::new(buf, false)));
        assert_snapshot("junit.xml", &out);
        assert_eq!(out.matches("<testcase ").count(), 2 * Code::ALL.len());
        assert_eq!(out.matches("<failure ").count(), 2);
    }

    #[test]
    fn strict_fails_warnings_too() {
        let out = fixture::output(|buf| Box::new(Junit::new(buf, true)));
        assert_eq!(out.matches("<failure ").count(), 3);
    }

    #[test]
    fn escapes_markup_and_controls() {
        assert_eq!(xml("a<b>&\"'\u{1}"), "a&lt;b&gt;&amp;&quot;&apos;\u{FFFD}");
    }
}
