//! The page itself: written into a string at the end of the run, every value escaped.

use super::{CodeView, Example, FileView, ROW_CELLS, SplitView, svg};
use crate::diagnostic::{Code, Severity};
pub(crate) use crate::report::markup as esc;
use crate::report::{Summary, plural};
use crate::validate::{MAX_AGE_DAYS, MAX_AGE_WITH_MEDIA_DAYS};
use crate::values::date::{Day, format_day};
use std::fmt::Write;

/// Where the page links each code: its section in the rules documentation, relative to the
/// page (documented in docs/output-formats.md).
pub const RULES_DOC: &str = "docs/rules.md";

const STYLE: &str = r#"
:root{--err:#c62828;--warn:#b26a00;--info:#1565c0;--ok:#2e7d32;--ink:#1d2330;--mute:#5b6475;--line:#dde1e8;--bg:#f6f7f9}
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);margin:0;background:var(--bg)}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 12px}h2{font-size:19px;margin:0 0 8px;word-break:break-all}h3{font-size:16px;margin:22px 0 8px}
section{background:#fff;border:1px solid var(--line);border-radius:8px;padding:16px 20px;margin:16px 0}
.verdict{border-left:6px solid var(--ok)}.verdict.fail{border-left-color:var(--err)}.verdict.warn{border-left-color:var(--warn)}
.headline{font-size:20px;font-weight:600;margin:0 0 10px}
.verdict.fail .headline{color:var(--err)}.verdict.warn .headline{color:var(--warn)}.verdict.ok .headline{color:var(--ok)}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:8px 0}dl.facts dt{color:var(--mute)}dl.facts dd{margin:0}
table{border-collapse:collapse;width:100%;margin:6px 0}th,td{text-align:left;padding:4px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{font-weight:600;background:#fafbfc}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px}
.sev{font-weight:600}.sev.error{color:var(--err)}.sev.warning{color:var(--warn)}.sev.info{color:var(--info)}
tbody.code>tr.head>td{border-top:2px solid var(--line)}
table.findings{table-layout:fixed}table.findings th:nth-child(1){width:210px}table.findings th:nth-child(2){width:90px}table.findings th:nth-child(3){width:90px}
table.findings td{overflow-wrap:anywhere}
.examples{font-size:13px}.example{margin:6px 0 12px}.example p{margin:0 0 4px}
.cells{overflow-x:auto}.cells table{width:auto}.cells td,.cells th{white-space:pre;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;border:1px solid var(--line)}
td.hit{background:#ffe0e0;outline:2px solid var(--err);font-weight:700}
.more{color:var(--mute)}
svg{max-width:100%;height:auto;font:11px system-ui,sans-serif}
.filter{display:flex;gap:8px;margin:6px 0}.filter input{flex:1;padding:4px 8px}
.sha{word-break:break-all}
ol.next li{margin:4px 0}
"#;

/// Hides the findings that do not match the filter, and scrolls each example's row to its
/// offending cell (the page works without it).
const SCRIPT: &str = r#"
for(const h of document.querySelectorAll('.cells td.hit')){const c=h.closest('.cells'),a=h.getBoundingClientRect(),b=c.getBoundingClientRect();c.scrollLeft+=a.left-b.left-(b.width-a.width)/2}
for(const f of document.querySelectorAll('form.filter')){const t=document.getElementById(f.dataset.table),q=f.elements.q,s=f.elements.severity;
const go=()=>{const w=q.value.toLowerCase();for(const b of t.tBodies){b.hidden=!((s.value===''||b.dataset.severity===s.value)&&b.textContent.toLowerCase().includes(w))}};
q.oninput=go;s.onchange=go;f.onsubmit=e=>e.preventDefault();f.hidden=false}
"#;

/// The whole page.
pub fn render(files: &[FileView], summary: &Summary, as_of: Day) -> String {
    let mut p = String::with_capacity(64 * 1024);
    let split = files.iter().any(|f| f.split.is_some());
    let command = if split { "split" } else { "validate" };
    let _ = write!(
        p,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\n\
         <meta name=\"generator\" content=\"convsubmit {}\">\n\
         <title>convsubmit {command}: {}, {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n\
         <h1>convsubmit {command}</h1>\n",
        env!("CARGO_PKG_VERSION"),
        plural(summary.errors, "error"),
        plural(summary.warnings, "warning"),
    );
    verdict(&mut p, files, summary, as_of, split);
    for (i, f) in files.iter().enumerate() {
        file(&mut p, i + 1, f, as_of);
    }
    let _ = write!(p, "</main>\n<script>{SCRIPT}</script>\n</body>\n</html>\n");
    p
}

fn verdict(p: &mut String, files: &[FileView], s: &Summary, as_of: Day, split: bool) {
    let (class, headline) = if s.unreadable > 0 {
        (
            "fail",
            format!("{} could not be read", plural(s.unreadable, "file")),
        )
    } else if s.errors > 0 {
        let with = files.iter().filter(|f| f.report.errors > 0).count() as u64;
        let head = if split {
            format!(
                "{} in {} of {}: rows were set aside",
                plural(s.errors, "error"),
                with,
                plural(s.files, "file")
            )
        } else {
            format!(
                "Not ready to send: {} in {} of {}",
                plural(s.errors, "error"),
                with,
                plural(s.files, "file")
            )
        };
        ("fail", head)
    } else if s.warnings > 0 {
        (
            "warn",
            format!("Ready to send, with {}", plural(s.warnings, "warning")),
        )
    } else {
        ("ok", "Ready to send: no errors, no warnings".to_string())
    };
    let _ = write!(
        p,
        "<section id=\"verdict\" class=\"verdict {class}\">\n<p class=\"headline\">{}</p>\n\
         <dl class=\"facts\"><dt>files</dt><dd>{}</dd><dt>rows</dt><dd id=\"total-rows\">{}</dd>\
         <dt>orders</dt><dd>{}</dd><dt>as of</dt><dd>{}</dd><dt>errors</dt><dd id=\"total-errors\">{}</dd>\
         <dt>warnings</dt><dd id=\"total-warnings\">{}</dd></dl>\n",
        esc(&headline),
        s.files,
        s.rows,
        files.iter().map(|f| f.report.orders).sum::<u64>(),
        format_day(as_of),
        s.errors,
        s.warnings,
    );
    p.push_str(
        "<table class=\"files\"><thead><tr><th>file</th><th>template</th><th class=\"num\">rows</th>\
         <th class=\"num\">orders</th><th class=\"num\">errors</th><th class=\"num\">warnings</th></tr></thead><tbody>\n",
    );
    for (i, f) in files.iter().enumerate() {
        let r = &f.report;
        let _ = writeln!(
            p,
            "<tr><td><a href=\"#file-{}\">{}</a></td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            i + 1,
            esc(&f.path),
            esc(r.template.as_deref().unwrap_or(if r.error.is_some() {
                "not read"
            } else {
                "none"
            })),
            r.rows,
            r.orders,
            r.errors,
            r.warnings
        );
    }
    p.push_str("</tbody></table>\n<h3>What to do next</h3>\n<ol class=\"next\">\n");
    for step in next_steps(files, s, split) {
        let _ = writeln!(p, "<li>{step}</li>");
    }
    p.push_str("</ol>\n</section>\n");
}

/// The advice of the verdict, as HTML (values escaped).
fn next_steps(files: &[FileView], s: &Summary, split: bool) -> Vec<String> {
    let mut steps = vec![];
    for f in files {
        if let Some(e) = &f.report.error {
            steps.push(format!(
                "<strong>{}</strong> could not be read: {}",
                esc(&f.path),
                esc(e)
            ));
        }
    }
    // The most frequent error codes over every file, with their fix.
    let mut errors: Vec<(Code, u64, &str)> = vec![];
    for f in files {
        for (code, v) in &f.codes {
            if code.severity() != Severity::Error {
                continue;
            }
            match errors.iter_mut().find(|e| e.0 == *code) {
                Some(e) => e.1 += v.count,
                None => errors.push((*code, v.count, &v.help)),
            }
        }
    }
    errors.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    for (code, n, help) in errors.iter().take(3) {
        steps.push(format!(
            "Fix <a href=\"{RULES_DOC}#{code}\"><code>{code}</code></a> ({}): {}",
            plural(*n, "finding"),
            esc(help)
        ));
    }
    if errors.len() > 3 {
        steps.push(format!(
            "Then the other {} error codes listed below.",
            errors.len() - 3
        ));
    }
    if split {
        let parts: usize = files
            .iter()
            .filter_map(|f| f.split.as_ref()?.entry.as_ref())
            .map(|e| e.parts.len())
            .sum();
        let rejected: u64 = files
            .iter()
            .filter_map(|f| f.split.as_ref()?.entry.as_ref()?.rejects.as_ref())
            .map(|r| r.rows)
            .sum();
        if parts > 0 {
            steps.push(format!(
                "The {} hold only rows impact.com accepts: they can be sent now (<code>convsubmit push</code>).",
                plural(parts as u64, "part")
            ));
        }
        if rejected > 0 {
            steps.push(format!(
                "Fix the {} set aside in the rejects file (each with its line, code and message), then split it again.",
                plural(rejected, "row")
            ));
        }
    } else if s.errors > 0 {
        steps.push(
            "Run <code>convsubmit validate</code> again; <code>convsubmit fix</code> repairs what a machine can (order grouping, plain emails, spaces around values, currency case, thousands separators, header spelling, encodings), and <code>convsubmit split</code> sends what is good while setting bad rows aside.".into(),
        );
    } else if s.unreadable == 0 {
        steps.push("Send the file(s): <code>convsubmit push</code>.".into());
        if s.warnings > 0 {
            steps.push(
                "Review the warnings below: impact.com accepts the rows, but may not read them as meant (they fail a run only with <code>--strict</code>).".into(),
            );
        }
    }
    steps
}

fn file(p: &mut String, n: usize, f: &FileView, as_of: Day) {
    let r = &f.report;
    let _ = writeln!(
        p,
        "<section class=\"file\" id=\"file-{n}\">\n<h2>{}</h2>\n<p>{}, {}, {}: {}, {}</p>",
        esc(&f.path),
        esc(r.template.as_deref().unwrap_or("no template")),
        plural(r.rows, "row"),
        plural(r.orders, "order"),
        plural(r.errors, "error"),
        plural(r.warnings, "warning"),
    );
    if let Some(e) = &r.error {
        let _ = writeln!(p, "<p class=\"sev error\">{}</p>", esc(e));
    }
    if let Some(split) = &f.split {
        split_section(p, split);
    }
    findings(p, n, f);
    let _ = writeln!(p, "<h3>Findings by column</h3>");
    svg::columns(p, &f.columns);
    let _ = writeln!(p, "<h3>EventDate by day</h3>");
    svg::days(p, &f.days, as_of);
    p.push_str("</section>\n");
}

fn findings(p: &mut String, n: usize, f: &FileView) {
    let _ = writeln!(p, "<h3>Findings by code</h3>");
    if f.codes.is_empty() {
        p.push_str("<p>No findings.</p>\n");
        return;
    }
    let _ = writeln!(
        p,
        "<form class=\"filter\" data-table=\"findings-{n}\" hidden><input name=\"q\" type=\"search\" placeholder=\"filter findings\" aria-label=\"filter findings\">\
         <select name=\"severity\" aria-label=\"severity\"><option value=\"\">every severity</option><option>error</option><option>warning</option><option>info</option></select></form>"
    );
    let _ = writeln!(
        p,
        "<table class=\"findings\" id=\"findings-{n}\"><thead><tr><th>code</th><th>severity</th><th class=\"num\">count</th><th>what it means, and the fix</th></tr></thead>"
    );
    // Errors first, then warnings and infos; within a severity the most frequent first.
    let mut codes: Vec<(&Code, &CodeView)> = f.codes.iter().collect();
    codes.sort_by(|a, b| {
        (b.0.severity().cmp(&a.0.severity()))
            .then(b.1.count.cmp(&a.1.count))
            .then(a.0.cmp(b.0))
    });
    for (code, v) in codes {
        let sev = code.severity();
        let _ = writeln!(
            p,
            "<tbody class=\"code\" data-code=\"{code}\" data-severity=\"{sev}\"><tr class=\"head\">\
             <td><a href=\"{RULES_DOC}#{code}\"><code>{code}</code></a></td><td class=\"sev {sev}\">{sev}</td>\
             <td class=\"num count\">{}</td><td>{}<br><strong>Fix:</strong> {}</td></tr>",
            v.count,
            esc(code.title()),
            esc(&v.help)
        );
        p.push_str("<tr class=\"examples\"><td colspan=\"4\">");
        for e in &v.examples {
            example(p, e, &f.header);
        }
        let more = v.count - v.examples.len() as u64;
        if more > 0 {
            let _ = write!(
                p,
                "<p class=\"more\">… and {} more (<code>--format json</code> lists every one)</p>",
                more
            );
        }
        p.push_str("</td></tr></tbody>\n");
    }
    p.push_str("</table>\n");
}

fn example(p: &mut String, e: &Example, header: &[String]) {
    let mut place = vec![];
    if let Some(l) = e.line {
        place.push(format!("line {l}"));
    }
    if let Some(c) = &e.column {
        place.push(format!("column <code>{}</code>", esc(c)));
    }
    if let Some(v) = &e.value {
        place.push(format!("value <code class=\"value\">{}</code>", esc(v)));
    }
    let place = if place.is_empty() {
        String::new()
    } else {
        format!("<strong>{}</strong>: ", place.join(", "))
    };
    let _ = write!(
        p,
        "<div class=\"example\"><p>{place}{}</p>",
        esc(&e.message)
    );
    if let Some(cells) = &e.cells {
        let hit = e
            .column
            .as_ref()
            .and_then(|c| header.iter().position(|h| h == &super::shown_cell(c)));
        row_table(p, e.line, header, cells, hit);
    }
    p.push_str("</div>");
}

/// An example's row under the header, the offending cell highlighted; a wide row is shown
/// around that cell.
fn row_table(
    p: &mut String,
    line: Option<u64>,
    header: &[String],
    cells: &[String],
    hit: Option<usize>,
) {
    let width = header.len().max(cells.len());
    let centre = hit.unwrap_or(0);
    let start = centre
        .saturating_sub(ROW_CELLS / 2)
        .min(width.saturating_sub(ROW_CELLS));
    let end = (start + ROW_CELLS).min(width);
    let cut = |p: &mut String, on: bool, tag: &str| {
        if on {
            let _ = write!(p, "<{tag} class=\"more\">…</{tag}>");
        }
    };
    p.push_str("<div class=\"cells\"><table><thead><tr><th>line</th>");
    cut(p, start > 0, "th");
    for h in header.get(start..end.min(header.len())).unwrap_or_default() {
        let _ = write!(p, "<th>{}</th>", esc(h));
    }
    cut(p, end < width, "th");
    let _ = write!(
        p,
        "</tr></thead><tbody><tr><td class=\"num\">{}</td>",
        line.map(|l| l.to_string()).unwrap_or_default()
    );
    cut(p, start > 0, "td");
    for (i, c) in cells.iter().enumerate().take(end).skip(start) {
        if Some(i) == hit {
            let _ = write!(p, "<td class=\"hit\">{}</td>", esc(c));
        } else {
            let _ = write!(p, "<td>{}</td>", esc(c));
        }
    }
    cut(p, end < width, "td");
    p.push_str("</tr></tbody></table></div>");
}

fn split_section(p: &mut String, s: &SplitView) {
    p.push_str("<h3>Parts</h3>\n");
    let Some(entry) = &s.entry else {
        p.push_str("<p class=\"sev error\">Nothing was written: the file has errors that affect every row.</p>\n");
        return;
    };
    if entry.parts.is_empty() {
        p.push_str("<p>No rows to send.</p>\n");
    } else {
        p.push_str(
            "<table class=\"parts\"><thead><tr><th>part</th><th class=\"num\">rows</th><th class=\"num\">orders</th><th>sha256</th></tr></thead><tbody>\n",
        );
        for part in &entry.parts {
            let _ = writeln!(
                p,
                "<tr><td><code>{}</code></td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"mono sha\">{}</td></tr>",
                esc(&part.file),
                part.rows,
                part.orders,
                esc(&part.sha256)
            );
        }
        p.push_str("</tbody></table>\n");
    }
    p.push_str("<h3>Rejects</h3>\n");
    match &entry.rejects {
        None => p.push_str("<p>No row was set aside.</p>\n"),
        Some(r) => {
            let _ = writeln!(
                p,
                "<p><code>{}</code>: {} ({}) set aside, each with its line, code and message.</p>",
                esc(&r.file),
                plural(r.rows, "row"),
                plural(r.orders, "order")
            );
            p.push_str(
                "<table class=\"reasons\"><thead><tr><th>reason</th><th class=\"num\">rows</th><th>what it means</th></tr></thead><tbody>\n",
            );
            for (code, n) in &s.reasons {
                let _ = writeln!(
                    p,
                    "<tr><td><a href=\"{RULES_DOC}#{code}\"><code>{code}</code></a></td><td class=\"num\">{n}</td><td>{}</td></tr>",
                    esc(code.title())
                );
            }
            p.push_str("</tbody></table>\n");
        }
    }
}

/// The cutoffs drawn on the EventDate chart, with what they mean.
pub const CUTOFFS: [(i64, &str); 2] = [
    (MAX_AGE_DAYS, "older needs a MediaId"),
    (MAX_AGE_WITH_MEDIA_DAYS, "older is never processed"),
];
