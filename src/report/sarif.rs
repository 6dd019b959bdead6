//! SARIF 2.1.0 for code-scanning uploads: every code is a rule; every finding is a result
//! with a `physicalLocation` region. Results are streamed.

use super::{Reporter, Summary};
use crate::diagnostic::{Code, Diagnostic, Severity};
use crate::validate::FileReport;
use serde_json::json;
use std::io::{self, Write};

/// The SARIF renderer.
pub struct Sarif<W: Write> {
    out: W,
    results: u64,
    started: bool,
    artifacts: Vec<serde_json::Value>,
    /// One per input that could not be read: SARIF's place for what stopped the tool from
    /// checking something.
    notifications: Vec<serde_json::Value>,
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

/// A relative URI reference for a path: `/` separators, unsafe bytes percent-encoded.
pub fn uri(path: &str) -> String {
    let path = path.replace('\\', "/");
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl<W: Write> Sarif<W> {
    /// A renderer writing to `out`.
    pub fn new(out: W) -> Self {
        Sarif {
            out,
            results: 0,
            started: false,
            artifacts: Vec::new(),
            notifications: Vec::new(),
        }
    }

    fn start(&mut self) -> io::Result<()> {
        if self.started {
            return Ok(());
        }
        self.started = true;
        let rules: Vec<_> = Code::ALL
            .iter()
            .map(|c| {
                json!({
                    "id": c.as_str(),
                    "shortDescription": { "text": c.title() },
                    "defaultConfiguration": { "level": level(c.severity()) },
                })
            })
            .collect();
        let driver = json!({
            "name": "convsubmit",
            "version": env!("CARGO_PKG_VERSION"),
            "rules": rules,
        });
        write!(
            self.out,
            "{{\"$schema\":\"https://json.schemastore.org/sarif-2.1.0.json\",\"version\":\"2.1.0\",\"runs\":[{{\"tool\":{{\"driver\":{driver}}},\"results\":["
        )
    }
}

impl<W: Write> Reporter for Sarif<W> {
    fn begin_file(&mut self, _path: &str) -> io::Result<()> {
        self.start()
    }

    fn diagnostic(&mut self, path: &str, d: &Diagnostic) -> io::Result<()> {
        let index = Code::ALL.iter().position(|&c| c == d.code).unwrap_or(0);
        let result = json!({
            "ruleId": d.code.as_str(),
            "ruleIndex": index,
            "level": level(d.severity),
            "message": { "text": format!("{} Help: {}", d.message, d.help) },
            "locations": [{
                "physicalLocation": {
                    "artifactLocation": { "uri": uri(path) },
                    "region": { "startLine": d.line.unwrap_or(1) },
                }
            }],
        });
        if self.results > 0 {
            self.out.write_all(b",")?;
        }
        self.results += 1;
        serde_json::to_writer(&mut self.out, &result).map_err(super::json::json_err)
    }

    fn end_file(&mut self, f: &FileReport) -> io::Result<()> {
        if let Some(e) = &f.error {
            self.notifications.push(json!({
                "level": "error",
                "message": { "text": e },
                "locations": [{
                    "physicalLocation": { "artifactLocation": { "uri": uri(&f.path) } }
                }],
            }));
        }
        // Each checked file is an artifact; its properties name the template used.
        self.artifacts.push(json!({
            "location": { "uri": uri(&f.path) },
            "properties": {
                "template": f.template,
                "rows": f.rows,
                "orders": f.orders,
                "errors": f.errors,
                "warnings": f.warnings,
            },
        }));
        Ok(())
    }

    fn finish(&mut self, _s: &Summary) -> io::Result<()> {
        self.start()?;
        self.out.write_all(b"],\"artifacts\":")?;
        serde_json::to_writer(&mut self.out, &self.artifacts).map_err(super::json::json_err)?;
        if !self.notifications.is_empty() {
            let invocations = json!([{
                "executionSuccessful": false,
                "toolExecutionNotifications": self.notifications,
            }]);
            write!(self.out, ",\"invocations\":{invocations}")?;
        }
        self.out.write_all(b"}]}\n")?;
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{self, assert_snapshot};
    use super::*;

    #[test]
    fn sarif_document() {
        let out = fixture::output(|buf| Box::new(Sarif::new(buf)));
        let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(doc["version"], "2.1.0");
        let results = doc["runs"][0]["results"].as_array().unwrap();
        assert_eq!(results.len(), 5);
        assert_eq!(
            results[2]["locations"][0]["physicalLocation"]["region"]["startLine"],
            3
        );
        assert_eq!(results[2]["level"], "error");
        assert_eq!(results[0]["level"], "note");
        let rules = doc["runs"][0]["tool"]["driver"]["rules"]
            .as_array()
            .unwrap();
        assert_eq!(rules.len(), Code::ALL.len());
        let mut pretty = serde_json::to_string_pretty(&doc).unwrap();
        pretty = pretty.replace(env!("CARGO_PKG_VERSION"), "[VERSION]");
        assert_snapshot("sarif.json", &(pretty + "\n"));
    }

    #[test]
    fn uris_are_encoded() {
        assert_eq!(uri("data/my file#1.csv"), "data/my%20file%231.csv");
        assert_eq!(uri("a\\b.csv"), "a/b.csv");
    }
}
