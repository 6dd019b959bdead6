use super::super::fixture::{self, assert_snapshot};
use super::*;
use crate::diagnostic::Severity;
use crate::values::date::parse_day;

fn as_of() -> Day {
    parse_day("2026-06-30").unwrap()
}

fn page() -> String {
    fixture::output(|buf| Box::new(Html::new(buf, as_of())))
}

#[test]
fn html_page() {
    let page = page().replace(env!("CARGO_PKG_VERSION"), "[VERSION]");
    assert_snapshot("html.html", &page);
}

#[test]
fn values_are_escaped() {
    let out = page();
    // The fixture's row holds `<script>alert(1)</script>` and a message `<limit> & "quote"`.
    assert!(!out.contains("<script>alert"), "{out}");
    assert!(out.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(out.contains("a &lt;limit&gt; &amp; &quot;quote&quot;"));
    // The page's own script is the only one.
    assert_eq!(out.matches("<script>").count(), 1);
}

/// The counts in the findings table's count cells, in order.
fn counts(page: &str) -> Vec<u64> {
    page.split("<td class=\"num count\">")
        .skip(1)
        .map(|s| s[..s.find('<').unwrap()].parse().unwrap())
        .collect()
}

#[test]
fn a_million_rows_with_half_a_million_findings_stay_under_5_mb() {
    use crate::input::{Record, RecordReader};
    // Wide rows of long values full of characters to escape: the worst case for examples.
    let width = 200;
    let names: Vec<String> = (0..width)
        .map(|i| format!("{}{i}", "Col<&>".repeat(10)))
        .collect();
    let csv: Vec<String> = (0..width)
        .map(|i| format!("\"{}{i}\"", "<v,\"\"&>".repeat(30)))
        .collect();
    let csv = csv.join(",");
    let mut record = Record::default();
    RecordReader::new(csv.as_bytes()).read(&mut record).unwrap();
    let mut buf = Vec::new();
    let mut html = Html::new(&mut buf, as_of());
    let r: &mut dyn Reporter = &mut html;
    r.begin_file("big.csv").unwrap();
    r.header(1, &names);
    let codes = Code::ALL;
    let mut report = FileReport {
        path: "big.csv".into(),
        template: Some("item-level".into()),
        rows: 1_000_000,
        orders: 400_000,
        ..FileReport::default()
    };
    let long = "x".repeat(200);
    for row in 1..=1_000_000u64 {
        let line = row + 1;
        if row % 2 == 0 {
            let code = codes[(row / 2) as usize % codes.len()];
            let column = &names[(row / 2) as usize % width];
            let d = Diagnostic::new(code, format!("{long} <b>{row}</b>"), &long)
                .at_row(line, row)
                .column(column)
                .value(&long);
            match d.severity {
                Severity::Error => report.errors += 1,
                Severity::Warning => report.warnings += 1,
                Severity::Info => report.infos += 1,
            }
            r.diagnostic("big.csv", &d).unwrap();
        }
        r.row(&RowView {
            line,
            record: &record,
            event_day: Some(as_of() - (row % 900) as i64 + 30),
            media: row % 3 == 0,
        });
    }
    r.end_file(&report).unwrap();
    let mut summary = Summary::default();
    summary.add(&report);
    r.finish(&summary).unwrap();
    let page = String::from_utf8(buf).unwrap();
    assert!(page.len() < 5_000_000, "{} bytes", page.len());
    // Counts stay exact; examples are capped.
    assert_eq!(counts(&page).iter().sum::<u64>(), 500_000);
    assert_eq!(
        page.matches("<div class=\"example\">").count(),
        codes.len() * EXAMPLES_PER_CODE
    );
    assert_eq!(
        page.matches("<td class=\"hit\">").count(),
        codes.len() * EXAMPLES_PER_CODE
    );
}

#[test]
fn split_shows_parts_and_rejects() {
    use crate::split::{FileEntry, Part, RejectsEntry};
    let mut buf = Vec::new();
    let mut html = Html::new(&mut buf, as_of());
    html.begin_file("in<1>.csv").unwrap();
    let part = Part {
        file: "in_1-part1.csv".into(),
        rows: 3,
        orders: 2,
        bytes: 100,
        sha256: "ab".repeat(32),
        first_order: "O1".into(),
        last_order: "O2".into(),
        lines: vec![],
    };
    let entry = FileEntry {
        input: "in<1>.csv".into(),
        sha256: "cd".repeat(32),
        bytes: 200,
        template: "item-level".into(),
        as_of: "2026-06-30".into(),
        max_rows: 10,
        header_line: 1,
        rows: 5,
        orders: 3,
        parts: vec![part],
        rejects: Some(RejectsEntry {
            file: "in_1-rejects.csv".into(),
            rows: 2,
            orders: 1,
        }),
    };
    html.split(Some(&entry), &[(Code::InvalidNumber, 2)])
        .unwrap();
    html.end_file(&FileReport {
        path: "in<1>.csv".into(),
        rows: 5,
        orders: 3,
        errors: 1,
        ..FileReport::default()
    })
    .unwrap();
    html.finish(&Summary::default()).unwrap();
    let page = String::from_utf8(buf).unwrap();
    assert!(page.contains("<title>convsubmit split"));
    assert!(page.contains(&format!(
        "<tr><td><code>in_1-part1.csv</code></td><td class=\"num\">3</td><td class=\"num\">2</td><td class=\"mono sha\">{}</td></tr>",
        "ab".repeat(32)
    )));
    assert!(page.contains("<code>in_1-rejects.csv</code>: 2 rows (1 order) set aside"));
    assert!(page.contains("<code>invalid-number</code></a></td><td class=\"num\">2</td>"));
    assert!(page.contains("in&lt;1&gt;.csv"));
}
