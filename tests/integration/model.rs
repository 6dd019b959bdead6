//! The documented `json` and `jsonl` shapes (docs/output-formats.md), parsed strictly: unknown
//! keys are rejected, and every documented key must be present even when its value is null.

use serde::Deserialize;
use serde_json::Value;

pub const DIAGNOSTIC_KEYS: &[&str] = &[
    "severity", "code", "line", "row", "column", "value", "message", "help",
];
const FILE_KEYS: &[&str] = &[
    "path",
    "template",
    "rows",
    "orders",
    "errors",
    "warnings",
    "diagnostics",
];
const SUMMARY_KEYS: &[&str] = &["files", "rows", "errors", "warnings"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Info,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Diagnostic {
    pub severity: Severity,
    pub code: String,
    pub line: Option<u64>,
    pub row: Option<u64>,
    pub column: Option<String>,
    pub value: Option<String>,
    pub message: String,
    pub help: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct File {
    pub path: String,
    pub template: Option<String>,
    pub rows: u64,
    pub orders: u64,
    pub errors: u64,
    pub warnings: u64,
    pub diagnostics: Vec<Diagnostic>,
    /// Why the file could not be read (only then present).
    #[serde(default)]
    pub error: Option<String>,
}

impl File {
    /// `(line, code)` of every diagnostic, sorted; line 0 stands for "no line".
    pub fn findings(&self) -> Vec<(u64, String)> {
        let mut v: Vec<_> = self
            .diagnostics
            .iter()
            .map(|d| (d.line.unwrap_or(0), d.code.clone()))
            .collect();
        v.sort();
        v
    }

    pub fn count(&self, severity: Severity) -> u64 {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == severity)
            .count() as u64
    }
}

#[derive(Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    pub files: u64,
    pub rows: u64,
    pub errors: u64,
    pub warnings: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Report {
    pub version: u64,
    pub files: Vec<File>,
    pub summary: Summary,
}

/// The totals `files` add up to.
pub fn totals<'a>(files: impl IntoIterator<Item = &'a File>) -> Summary {
    let mut s = Summary {
        files: 0,
        rows: 0,
        errors: 0,
        warnings: 0,
    };
    for f in files {
        s.files += 1;
        s.rows += f.rows;
        s.errors += f.errors;
        s.warnings += f.warnings;
    }
    s
}

/// Fails unless `v` is an object with exactly the keys `keys`.
#[track_caller]
pub fn assert_keys(v: &Value, keys: &[&str]) {
    let obj = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"));
    let mut have: Vec<&str> = obj.keys().map(String::as_str).collect();
    let mut want = keys.to_vec();
    have.sort_unstable();
    want.sort_unstable();
    assert_eq!(have, want, "keys of {v}");
}

/// Fails unless a diagnostic is consistent with itself: the severity is the code's, lines and
/// rows are 1-based, a row implies a line, and no value carries a raw control character.
#[track_caller]
pub fn check_diagnostic(d: &Diagnostic) {
    assert_eq!(
        d.severity,
        severity_of(&d.code),
        "severity of {}: {d:?}",
        d.code
    );
    assert_ne!(d.line, Some(0), "{d:?}");
    assert_ne!(d.row, Some(0), "{d:?}");
    if let (Some(row), Some(line)) = (d.row, d.line) {
        assert!(
            line > row,
            "data row {row} cannot start on line {line}: {d:?}"
        );
    }
    assert!(d.row.is_none() || d.line.is_some(), "{d:?}");
    assert!(!d.message.is_empty() && !d.help.is_empty(), "{d:?}");
    for text in [&d.message, &d.help]
        .into_iter()
        .chain(d.value.as_ref())
        .chain(d.column.as_ref())
    {
        assert!(
            !text.contains(char::is_control),
            "raw control character: {d:?}"
        );
    }
}

/// Parses a `--format json` document strictly and checks its internal arithmetic.
#[track_caller]
pub fn parse_json(text: &str) -> Report {
    assert!(
        text.ends_with('\n') && text.lines().count() == 1,
        "one line: {text}"
    );
    let raw: Value = serde_json::from_str(text).expect("valid JSON");
    assert_keys(&raw, &["version", "files", "summary"]);
    for f in raw["files"].as_array().expect("files is an array") {
        let mut keys = FILE_KEYS.to_vec();
        // Present only for a file that could not be read, and then a string.
        if f.get("error").is_some() {
            assert!(f["error"].is_string(), "{f}");
            keys.push("error");
        }
        assert_keys(f, &keys);
        for d in f["diagnostics"]
            .as_array()
            .expect("diagnostics is an array")
        {
            assert_keys(d, DIAGNOSTIC_KEYS);
        }
    }
    assert_keys(&raw["summary"], SUMMARY_KEYS);
    let report: Report = serde_json::from_value(raw).expect("the documented shape");
    assert_eq!(report.version, 1);
    for f in &report.files {
        assert_eq!(f.errors, f.count(Severity::Error), "errors of {}", f.path);
        assert_eq!(
            f.warnings,
            f.count(Severity::Warning),
            "warnings of {}",
            f.path
        );
        assert!(f.orders <= f.rows, "{} has more orders than rows", f.path);
        f.diagnostics.iter().for_each(check_diagnostic);
    }
    assert_eq!(report.summary, totals(&report.files), "summary");
    report
}

/// One `jsonl` diagnostic line: a diagnostic plus the file it is about.
#[derive(Debug)]
pub struct Located {
    pub path: String,
    pub diagnostic: Diagnostic,
}

/// The file totals on the last `jsonl` line (a `json` file object without diagnostics).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileTotals {
    pub path: String,
    pub template: Option<String>,
    pub rows: u64,
    pub orders: u64,
    pub errors: u64,
    pub warnings: u64,
    #[serde(default)]
    pub error: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Last {
    pub summary: Summary,
    pub files: Vec<FileTotals>,
}

/// Parses `--format jsonl` strictly: diagnostic lines, then one summary line.
#[track_caller]
pub fn parse_jsonl(text: &str) -> (Vec<Located>, Last) {
    let lines: Vec<&str> = text.lines().collect();
    let (last, diagnostics) = lines.split_last().expect("at least the summary line");
    let mut out = vec![];
    for line in diagnostics {
        let raw: Value = serde_json::from_str(line).expect("valid JSON");
        let mut keys = DIAGNOSTIC_KEYS.to_vec();
        keys.push("path");
        assert_keys(&raw, &keys);
        // `flatten` and `deny_unknown_fields` do not mix: check the keys above, the types here.
        let path = raw["path"].as_str().expect("path is a string").to_string();
        let diagnostic: Diagnostic = {
            let mut d = raw.clone();
            d.as_object_mut().unwrap().remove("path");
            serde_json::from_value(d).expect("a diagnostic")
        };
        check_diagnostic(&diagnostic);
        out.push(Located { path, diagnostic });
    }
    let raw: Value = serde_json::from_str(last).expect("valid JSON");
    assert_keys(&raw, &["summary", "files"]);
    let last: Last = serde_json::from_value(raw).expect("the documented summary line");
    assert_eq!(last.summary.files, last.files.len() as u64);
    for f in &last.files {
        let of_file = |s: Severity| {
            out.iter()
                .filter(|l| l.path == f.path && l.diagnostic.severity == s)
                .count() as u64
        };
        assert_eq!(f.errors, of_file(Severity::Error), "errors of {}", f.path);
        assert_eq!(
            f.warnings,
            of_file(Severity::Warning),
            "warnings of {}",
            f.path
        );
    }
    let sum = |get: fn(&FileTotals) -> u64| last.files.iter().map(get).sum::<u64>();
    assert_eq!(
        last.summary,
        Summary {
            files: last.files.len() as u64,
            rows: sum(|f| f.rows),
            errors: sum(|f| f.errors),
            warnings: sum(|f| f.warnings),
        }
    );
    (out, last)
}

/// The severity each code always has (docs/rules.md, spec §4).
pub fn severity_of(code: &str) -> Severity {
    match code {
        "bom" => Severity::Info,
        "blank-row" | "unknown-column" | "header-case" | "ambiguous-timezone"
        | "event-in-future" | "inconsistent-order" | "file-extension" | "decimal-precision"
        | "unknown-reason" => Severity::Warning,
        _ => Severity::Error,
    }
}
