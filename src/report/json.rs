//! `json` (one document, streamed) and `jsonl` (one object per line) — the wire formats
//! documented in `docs/output-formats.md`. Keys may come in any order: each file object is
//! written with its diagnostics first so that a file with millions of findings streams.

use super::{Reporter, Summary};
use crate::diagnostic::Diagnostic;
use crate::validate::FileReport;
use serde::Serialize;
use std::io::{self, Write};

/// Version of the JSON document shape.
pub const JSON_VERSION: u32 = 1;

#[derive(Serialize)]
struct SummaryObject {
    files: u64,
    rows: u64,
    errors: u64,
    warnings: u64,
}

impl From<&Summary> for SummaryObject {
    fn from(s: &Summary) -> Self {
        SummaryObject {
            files: s.files,
            rows: s.rows,
            errors: s.errors,
            warnings: s.warnings,
        }
    }
}

/// Keeps the kind of an I/O error (a closed pipe must stay a closed pipe).
pub(crate) fn json_err(e: serde_json::Error) -> io::Error {
    match e.io_error_kind() {
        Some(kind) => io::Error::new(kind, e),
        None => io::Error::other(e),
    }
}

/// The single-document renderer.
pub struct Json<W: Write> {
    out: W,
    files: u64,
    diagnostics: u64,
    /// What `push` delivered, written after the summary.
    delivery: Option<serde_json::Value>,
}

impl<W: Write> Json<W> {
    /// A renderer writing to `out`.
    pub fn new(out: W) -> Self {
        Json {
            out,
            files: 0,
            diagnostics: 0,
            delivery: None,
        }
    }

    fn start(&mut self) -> io::Result<()> {
        write!(self.out, "{{\"version\":{JSON_VERSION},\"files\":[")
    }
}

impl<W: Write> Reporter for Json<W> {
    fn begin_file(&mut self, path: &str) -> io::Result<()> {
        if self.files == 0 {
            self.start()?;
        } else {
            self.out.write_all(b",")?;
        }
        self.files += 1;
        self.diagnostics = 0;
        self.out.write_all(b"{\"path\":")?;
        serde_json::to_writer(&mut self.out, path).map_err(json_err)?;
        self.out.write_all(b",\"diagnostics\":[")
    }

    fn diagnostic(&mut self, _path: &str, d: &Diagnostic) -> io::Result<()> {
        if self.diagnostics > 0 {
            self.out.write_all(b",")?;
        }
        self.diagnostics += 1;
        serde_json::to_writer(&mut self.out, d).map_err(json_err)
    }

    fn end_file(&mut self, f: &FileReport) -> io::Result<()> {
        self.out.write_all(b"],\"template\":")?;
        serde_json::to_writer(&mut self.out, &f.template).map_err(json_err)?;
        write!(
            self.out,
            ",\"rows\":{},\"orders\":{},\"errors\":{},\"warnings\":{}",
            f.rows, f.orders, f.errors, f.warnings
        )?;
        if let Some(e) = &f.error {
            self.out.write_all(b",\"error\":")?;
            serde_json::to_writer(&mut self.out, e).map_err(json_err)?;
        }
        self.out.write_all(b"}")
    }

    fn finish(&mut self, s: &Summary) -> io::Result<()> {
        if self.files == 0 {
            self.start()?;
        }
        self.out.write_all(b"],\"summary\":")?;
        serde_json::to_writer(&mut self.out, &SummaryObject::from(s)).map_err(json_err)?;
        if let Some(delivery) = &self.delivery {
            self.out.write_all(b",\"delivery\":")?;
            serde_json::to_writer(&mut self.out, delivery).map_err(json_err)?;
        }
        self.out.write_all(b"}\n")?;
        self.out.flush()
    }

    fn delivery(&mut self, outcome: &serde_json::Value) -> io::Result<()> {
        self.delivery = Some(outcome.clone());
        Ok(())
    }
}

/// One file's totals, as the `json` file object has them (without its diagnostics).
#[derive(Serialize)]
struct FileObject {
    path: String,
    template: Option<String>,
    rows: u64,
    orders: u64,
    errors: u64,
    warnings: u64,
    /// Only for a file that could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

impl From<&FileReport> for FileObject {
    fn from(f: &FileReport) -> Self {
        FileObject {
            path: f.path.clone(),
            template: f.template.clone(),
            rows: f.rows,
            orders: f.orders,
            errors: f.errors,
            warnings: f.warnings,
            error: f.error.clone(),
        }
    }
}

/// The one-object-per-line renderer.
pub struct JsonLines<W: Write> {
    out: W,
    files: Vec<FileObject>,
    /// What `push` delivered, but its units (each a line of its own).
    delivery: Option<serde_json::Value>,
}

impl<W: Write> JsonLines<W> {
    /// A renderer writing to `out`.
    pub fn new(out: W) -> Self {
        JsonLines {
            out,
            files: Vec::new(),
            delivery: None,
        }
    }
}

#[derive(Serialize)]
struct Located<'a> {
    path: &'a str,
    #[serde(flatten)]
    diagnostic: &'a Diagnostic,
}

impl<W: Write> Reporter for JsonLines<W> {
    fn begin_file(&mut self, _path: &str) -> io::Result<()> {
        Ok(())
    }

    fn diagnostic(&mut self, path: &str, d: &Diagnostic) -> io::Result<()> {
        serde_json::to_writer(
            &mut self.out,
            &Located {
                path,
                diagnostic: d,
            },
        )
        .map_err(json_err)?;
        self.out.write_all(b"\n")
    }

    fn end_file(&mut self, f: &FileReport) -> io::Result<()> {
        self.files.push(f.into());
        Ok(())
    }

    fn finish(&mut self, s: &Summary) -> io::Result<()> {
        #[derive(Serialize)]
        struct Line<'a> {
            summary: SummaryObject,
            files: &'a [FileObject],
            #[serde(skip_serializing_if = "Option::is_none")]
            delivery: Option<&'a serde_json::Value>,
        }
        let line = Line {
            summary: s.into(),
            files: &self.files,
            delivery: self.delivery.as_ref(),
        };
        serde_json::to_writer(&mut self.out, &line).map_err(json_err)?;
        self.out.write_all(b"\n")?;
        self.out.flush()
    }

    /// One line per part or order (`"unit": "part"`), then the rest on the summary line.
    fn delivery(&mut self, outcome: &serde_json::Value) -> io::Result<()> {
        let mut rest = outcome.clone();
        let units = rest.as_object_mut().and_then(|o| o.remove("units"));
        for unit in units
            .as_ref()
            .and_then(|u| u.as_array())
            .into_iter()
            .flatten()
        {
            serde_json::to_writer(&mut self.out, unit).map_err(json_err)?;
            self.out.write_all(b"\n")?;
        }
        self.delivery = Some(rest);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{self, assert_snapshot};
    use super::*;

    #[test]
    fn json_document() {
        let out = fixture::output(|buf| Box::new(Json::new(buf)));
        let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(doc["files"][0]["diagnostics"].as_array().unwrap().len(), 5);
        assert_eq!(doc["files"][1]["diagnostics"].as_array().unwrap().len(), 0);
        assert_eq!(doc["summary"]["errors"], 3);
        let pretty = serde_json::to_string_pretty(&doc).unwrap();
        assert_snapshot("json.json", &(pretty + "\n"));
    }

    #[test]
    fn empty_run_is_still_a_document() {
        let mut buf = Vec::new();
        Json::new(&mut buf).finish(&Summary::default()).unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&buf).unwrap();
        assert_eq!(doc["files"].as_array().unwrap().len(), 0);
    }

    #[test]
    fn json_lines() {
        let out = fixture::output(|buf| Box::new(JsonLines::new(buf)));
        for line in out.lines() {
            serde_json::from_str::<serde_json::Value>(line).unwrap();
        }
        assert_snapshot("jsonl.jsonl", &out);
    }
}
