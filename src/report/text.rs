//! The human format: `path:line: severity[code] column: message`, a help line, colour only
//! on a terminal, repeated codes grouped after the first few, and a summary.

use super::{Reporter, Summary, plural};
use crate::diagnostic::{Code, Diagnostic, Severity};
use crate::escape::controls;
use crate::validate::FileReport;
use std::collections::BTreeMap;
use std::io::{self, Write};

/// How the text format behaves.
#[derive(Debug, Clone, Copy)]
pub struct TextOptions {
    /// Use ANSI colours.
    pub color: bool,
    /// Print errors only: no warnings, info or summaries.
    pub quiet: bool,
    /// Show at most this many diagnostics of one code per file (0: all).
    pub max_per_code: usize,
}

/// The human-readable renderer.
pub struct Text<W: Write> {
    out: W,
    opts: TextOptions,
    shown: BTreeMap<Code, usize>,
    hidden: BTreeMap<Code, (u64, Option<u64>)>,
}

impl<W: Write> Text<W> {
    /// A renderer writing to `out`.
    pub fn new(out: W, opts: TextOptions) -> Self {
        Text {
            out,
            opts,
            shown: BTreeMap::new(),
            hidden: BTreeMap::new(),
        }
    }

    fn paint(&self, text: &str, ansi: &str) -> String {
        if self.opts.color {
            format!("\x1b[{ansi}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    fn severity(&self, s: Severity) -> String {
        let ansi = match s {
            Severity::Error => "1;31",
            Severity::Warning => "1;33",
            Severity::Info => "1;36",
        };
        self.paint(s.as_str(), ansi)
    }

    fn counts(&self, errors: u64, warnings: u64) -> String {
        let e = plural(errors, "error");
        let w = plural(warnings, "warning");
        let e = if errors > 0 {
            self.paint(&e, "1;31")
        } else {
            e
        };
        let w = if warnings > 0 {
            self.paint(&w, "1;33")
        } else {
            w
        };
        format!("{e}, {w}")
    }
}

impl<W: Write> Reporter for Text<W> {
    fn begin_file(&mut self, _path: &str) -> io::Result<()> {
        self.shown.clear();
        self.hidden.clear();
        Ok(())
    }

    fn diagnostic(&mut self, path: &str, d: &Diagnostic) -> io::Result<()> {
        if self.opts.quiet && d.severity != Severity::Error {
            return Ok(());
        }
        let shown = self.shown.entry(d.code).or_default();
        if self.opts.max_per_code > 0 && *shown >= self.opts.max_per_code {
            let h = self.hidden.entry(d.code).or_default();
            h.0 += 1;
            h.1 = h.1.or(d.line);
            return Ok(());
        }
        *shown += 1;
        let path = controls(path);
        let place = match d.line {
            Some(l) => format!("{path}:{l}:"),
            None => format!("{path}:"),
        };
        let code = format!("{}[{}]", self.severity(d.severity), d.code);
        // Messages name their column already; repeat it only when they do not.
        let column = match &d.column {
            Some(c) if !c.is_empty() && !d.message.starts_with(&format!("`{c}`")) => {
                format!(" {c}:")
            }
            _ => String::new(),
        };
        writeln!(
            self.out,
            "{} {code}{column} {}",
            self.paint(&place, "1"),
            d.message
        )?;
        writeln!(self.out, "  {} {}", self.paint("help:", "1;32"), d.help)
    }

    fn end_file(&mut self, f: &FileReport) -> io::Result<()> {
        for (code, (n, first)) in std::mem::take(&mut self.hidden) {
            let from = first
                .map(|l| format!(", from line {l}"))
                .unwrap_or_default();
            let what = plural(n, &format!("more {code} {}", code.severity()));
            writeln!(
                self.out,
                "{}: … {what} not shown{from} (--max-diagnostics 0 shows all)",
                controls(&f.path)
            )?;
        }
        // A file that could not be read gets no totals: its error is on standard error.
        if self.opts.quiet || f.error.is_some() {
            return Ok(());
        }
        let template = f.template.as_deref().unwrap_or("no template");
        writeln!(
            self.out,
            "{}: {template}, {}, {}: {}",
            self.paint(&controls(&f.path), "1"),
            plural(f.rows, "row"),
            plural(f.orders, "order"),
            self.counts(f.errors, f.warnings)
        )
    }

    fn finish(&mut self, s: &Summary) -> io::Result<()> {
        if !self.opts.quiet && s.files > 1 {
            let unread = match s.unreadable {
                0 => String::new(),
                n => format!(" ({n} could not be read)"),
            };
            writeln!(
                self.out,
                "{} checked{unread}, {}: {}",
                plural(s.files - s.unreadable, "file"),
                plural(s.rows, "row"),
                self.counts(s.errors, s.warnings)
            )?;
        }
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{self, assert_snapshot};
    use super::*;

    fn render(opts: TextOptions) -> String {
        fixture::output(|buf| Box::new(Text::new(buf, opts)))
    }

    #[test]
    fn plain() {
        let opts = TextOptions {
            color: false,
            quiet: false,
            max_per_code: 0,
        };
        assert_snapshot("text.txt", &render(opts));
    }

    #[test]
    fn grouped_after_one_per_code() {
        let opts = TextOptions {
            color: false,
            quiet: false,
            max_per_code: 1,
        };
        assert_snapshot("text-grouped.txt", &render(opts));
    }

    #[test]
    fn quiet_shows_errors_only() {
        let out = render(TextOptions {
            color: false,
            quiet: true,
            max_per_code: 0,
        });
        assert!(
            out.lines()
                .all(|l| l.contains("error[") || l.starts_with("  help:")),
            "{out}"
        );
        assert_eq!(out.matches("error[").count(), 3);
    }

    #[test]
    fn colour_only_when_asked() {
        let coloured = render(TextOptions {
            color: true,
            quiet: false,
            max_per_code: 0,
        });
        assert!(coloured.contains("\x1b[1;31merror\x1b[0m"));
        assert!(
            !render(TextOptions {
                color: false,
                quiet: false,
                max_per_code: 0
            })
            .contains('\x1b')
        );
    }
}
