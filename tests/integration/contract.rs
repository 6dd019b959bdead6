//! The public contract: every diagnostic code is reachable, and the `json` / `jsonl` shapes
//! are exactly the documented ones.

use crate::model::{self, Severity};
use crate::util::TestEnv;
use crate::validate::INVALID;
use std::collections::BTreeSet;

/// Every public code (src/diagnostic.rs `Code::ALL`), in documentation order.
pub const CODES: &[&str] = &[
    "invalid-encoding",
    "bom",
    "malformed-csv",
    "wrong-field-count",
    "no-rows",
    "blank-row",
    "missing-column",
    "duplicate-column",
    "unknown-column",
    "header-case",
    "missing-value",
    "no-attribution-key",
    "invalid-date",
    "ambiguous-timezone",
    "event-too-old",
    "event-expired",
    "event-in-future",
    "invalid-number",
    "decimal-precision",
    "number-out-of-range",
    "unknown-reason",
    "invalid-integer",
    "invalid-currency",
    "invalid-boolean",
    "value-too-long",
    "plaintext-email",
    "conflicting-columns",
    "order-not-consecutive",
    "duplicate-order",
    "inconsistent-order",
    "order-too-large",
    "file-extension",
];

/// `(name, severity)` of every code the `codes!` table in src/diagnostic.rs declares, read from
/// lines like `    EventTooOld = "event-too-old", Error, "…";`.
fn declared_codes() -> Vec<(String, String)> {
    include_str!("../../src/diagnostic.rs")
        .lines()
        .filter_map(|line| {
            let (variant, rest) = line.trim().split_once(" = \"")?;
            let (name, rest) = rest.split_once("\", ")?;
            let (severity, _) = rest.split_once(", \"")?;
            let ok = variant.chars().all(|c| c.is_ascii_alphanumeric())
                && ["Error", "Warning", "Info"].contains(&severity);
            ok.then(|| (name.to_string(), severity.to_lowercase()))
        })
        .collect()
}

#[test]
fn the_code_list_matches_the_source() {
    assert_eq!(CODES.len(), 32);
    let src = include_str!("../../src/diagnostic.rs");
    for code in CODES {
        assert!(
            src.contains(&format!("\"{code}\"")),
            "{code} is not in src/diagnostic.rs"
        );
    }
    let declared = declared_codes();
    let names: Vec<&str> = declared.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, CODES, "src/diagnostic.rs declares other codes");
    for (name, severity) in &declared {
        let ours = format!("{:?}", model::severity_of(name)).to_lowercase();
        assert_eq!(&ours, severity, "severity of {name}");
    }
}

#[test]
fn the_invalid_fixtures_produce_every_code() {
    let env = TestEnv::new();
    let mut seen = BTreeSet::new();
    // One run per distinct set of arguments, each over every fixture that uses it.
    let mut groups: Vec<&[&str]> = INVALID.iter().map(|c| c.args).collect();
    groups.sort();
    groups.dedup();
    for args in groups {
        let mut cmd = vec!["--format", "json"];
        cmd.extend_from_slice(args);
        let files: Vec<&str> = INVALID
            .iter()
            .filter(|c| c.args == args)
            .map(|c| env.copy_fixture(c.file))
            .collect();
        cmd.extend(&files);
        let out = env.validate(&cmd);
        out.assert_code(1);
        let report = model::parse_json(&out.stdout);
        assert_eq!(report.files.len(), files.len());
        for d in report.files.iter().flat_map(|f| &f.diagnostics) {
            seen.insert(d.code.clone());
        }
    }
    let all: BTreeSet<String> = CODES.iter().map(|c| c.to_string()).collect();
    let missing: Vec<_> = all.difference(&seen).collect();
    let unknown: Vec<_> = seen.difference(&all).collect();
    assert!(missing.is_empty(), "never produced: {missing:?}");
    assert!(unknown.is_empty(), "not a documented code: {unknown:?}");
}

#[test]
fn json_has_exactly_the_documented_shape() {
    let env = TestEnv::new();
    let files = [
        env.copy_fixture("item-level-valid.csv"),
        env.copy_fixture("item-level-errors.csv"),
        env.copy_fixture("invalid/order-utf16le.csv"),
        env.copy_fixture("invalid/order-header-only.csv"),
        env.copy_fixture("invalid/order-bom-and-blank-rows.csv"),
        env.copy_fixture("valid/modification.csv"),
    ];
    let mut args = vec!["--format", "json"];
    args.extend(files);
    let out = env.validate(&args);
    out.assert_code(1);
    let report = model::parse_json(&out.stdout);
    let paths: Vec<&str> = report.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, files);
    let templates: Vec<Option<&str>> = report.files.iter().map(|f| f.template.as_deref()).collect();
    assert_eq!(
        templates,
        [
            Some("item-level"),
            Some("item-level"),
            None,
            Some("order-level"),
            Some("order-level"),
            Some("modification"),
        ]
    );
    let demo = &report.files[1];
    assert_eq!(
        (demo.rows, demo.orders, demo.errors, demo.warnings),
        (12, 8, 4, 1)
    );
    let d = &demo.diagnostics[0];
    assert_eq!(
        (d.severity, d.code.as_str(), d.line, d.row),
        (Severity::Error, "invalid-number", Some(4), Some(3))
    );
    assert_eq!(
        (d.column.as_deref(), d.value.as_deref()),
        (Some("Amount"), Some("1,000.00"))
    );
    // Nulls where a field does not apply.
    let no_rows = &report.files[3].diagnostics[0];
    assert_eq!(
        (
            no_rows.line,
            no_rows.row,
            no_rows.column.as_deref(),
            no_rows.value.as_deref()
        ),
        (None, None, None, None)
    );
    assert_eq!(report.summary.files, 6);
}

#[test]
fn json_from_stdin_is_named_stdin() {
    let env = TestEnv::new();
    let demo = crate::util::fixture("item-level-errors.csv");
    let out = env.run_with_stdin(
        &[
            "validate",
            "--as-of",
            crate::util::AS_OF,
            "--format",
            "json",
            "-",
        ],
        &demo,
    );
    out.assert_code(1);
    let report = model::parse_json(&out.stdout);
    assert_eq!(report.files[0].path, "<stdin>");
    assert_eq!(report.files[0].findings().len(), 5);
}

#[test]
fn an_empty_run_is_still_a_document() {
    let env = TestEnv::new();
    let out = env.validate(&["--format", "json", "missing.csv"]);
    out.assert_code(2);
    let report = model::parse_json(&out.stdout);
    // The one input is listed, with why it could not be checked.
    assert_eq!(report.files.len(), 1);
    assert_eq!(report.files[0].path, "missing.csv");
    assert!(report.files[0].error.is_some());
    assert!(report.files[0].diagnostics.is_empty());
}

#[test]
fn jsonl_has_exactly_the_documented_shape() {
    let env = TestEnv::new();
    let files = [
        env.copy_fixture("item-level-errors.csv"),
        env.copy_fixture("item-level-valid.csv"),
        env.copy_fixture("invalid/order-utf16le.csv"),
    ];
    let mut args = vec!["--format", "jsonl"];
    args.extend(files);
    let out = env.validate(&args);
    out.assert_code(1);
    let (lines, last) = model::parse_jsonl(&out.stdout);
    assert_eq!(lines.len(), 6);
    assert!(lines[..5].iter().all(|l| l.path == "item-level-errors.csv"));
    assert_eq!(lines[5].path, "invalid/order-utf16le.csv");
    let paths: Vec<&str> = last.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, files);
    assert_eq!(last.files[2].template, None);
    assert_eq!((last.files[0].rows, last.files[0].orders), (12, 8));
}

#[test]
fn json_and_jsonl_carry_the_same_findings() {
    let env = TestEnv::new();
    let f = env.copy_fixture("invalid/order-dates.csv");
    let json = model::parse_json(&env.validate(&["--format", "json", f]).stdout);
    let (lines, _) = model::parse_jsonl(&env.validate(&["--format", "jsonl", f]).stdout);
    let from_json: Vec<String> = json.files[0]
        .diagnostics
        .iter()
        .map(|d| format!("{d:?}"))
        .collect();
    let from_jsonl: Vec<String> = lines
        .iter()
        .map(|l| format!("{:?}", l.diagnostic))
        .collect();
    assert_eq!(from_json, from_jsonl);
}

#[test]
fn json_never_drops_a_diagnostic() {
    let env = TestEnv::new();
    let mut csv = String::from("CampaignId,ActionTrackerId,EventDate,OrderId,ClickId,Amount\n");
    for i in 0..500 {
        csv.push_str(&format!(
            "18543,27015,2026-06-20T12:00:00Z,ORD-{i},c1,fifty\n"
        ));
    }
    let f = env.write("many.csv", csv);
    let json = model::parse_json(&env.validate(&["--format", "json", f]).stdout);
    assert_eq!(json.files[0].diagnostics.len(), 500);
    let text = env.validate(&["--max-diagnostics", "3", f]).stdout;
    assert!(
        text.contains("many.csv: … 497 more invalid-number errors not shown, from line 5"),
        "{text}"
    );
}

#[test]
fn every_code_has_its_section_in_the_rules_doc() {
    let doc = include_str!("../../docs/rules.md");
    let headings: Vec<&str> = doc
        .lines()
        .filter_map(|l| l.strip_prefix("## `")?.strip_suffix('`'))
        .collect();
    assert_eq!(
        headings, CODES,
        "docs/rules.md: one `## `code`` section per code, in order"
    );
}
