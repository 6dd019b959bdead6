//! Every output format, on the README's demo file, against reviewed snapshots in
//! `fixtures/expected/`, plus the format-specific promises (caps, colour, strictness).

use crate::model;
use crate::util::{AS_OF, TestEnv, assert_snapshot};
use serde_json::Value;

const DEMO: &str = "item-level-errors.csv";

/// Runs `validate --format FORMAT` on the demo file and checks the exit code.
fn demo(format: &str) -> String {
    let env = TestEnv::new();
    env.copy_fixture(DEMO);
    let out = env.validate(&["--format", format, DEMO]);
    out.assert_code(1);
    assert_eq!(out.stderr, "", "{format}");
    out.stdout
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap() + "\n"
}

#[test]
fn text() {
    assert_snapshot("item-level-errors.text.txt", &demo("text"));
}

#[test]
fn json() {
    let out = demo("json");
    model::parse_json(&out);
    assert_snapshot(
        "item-level-errors.json",
        &pretty(&serde_json::from_str(&out).unwrap()),
    );
}

#[test]
fn jsonl() {
    let out = demo("jsonl");
    model::parse_jsonl(&out);
    assert_snapshot("item-level-errors.jsonl", &out);
}

#[test]
fn github() {
    assert_snapshot("item-level-errors.github.txt", &demo("github"));
}

#[test]
fn github_step_summary() {
    let env = TestEnv::new();
    env.copy_fixture(DEMO);
    env.write("summary.md", "# earlier step\n");
    let mut cmd = env.command(&["validate", "--as-of", AS_OF, "--format", "github", DEMO]);
    cmd.env("GITHUB_STEP_SUMMARY", env.path().join("summary.md"));
    let out = crate::util::finish(cmd);
    out.assert_code(1);
    // The summary adds a table; it changes nothing on standard output.
    assert_eq!(out.stdout, demo("github"));
    let summary = env.read("summary.md");
    let appended = summary
        .strip_prefix("# earlier step\n")
        .expect("the step summary is appended to, not replaced");
    assert_snapshot("item-level-errors.github-summary.md", appended);
}

#[test]
fn junit() {
    assert_snapshot("item-level-errors.junit.xml", &demo("junit"));
}

#[test]
fn sarif() {
    let out = demo("sarif");
    let mut doc: Value = serde_json::from_str(&out).unwrap();
    let version = &mut doc["runs"][0]["tool"]["driver"]["version"];
    assert_eq!(version.as_str(), Some(env!("CARGO_PKG_VERSION")));
    *version = Value::from("[VERSION]");
    assert_snapshot("item-level-errors.sarif.json", &pretty(&doc));
}

#[test]
fn sarif_regions_are_the_json_lines() {
    let env = TestEnv::new();
    env.copy_fixture(DEMO);
    let f = env.copy_fixture("invalid/order-header-only.csv");
    let json = model::parse_json(&env.validate(&["--format", "json", DEMO, f]).stdout);
    let sarif: Value =
        serde_json::from_str(&env.validate(&["--format", "sarif", DEMO, f]).stdout).unwrap();
    let want: Vec<(String, u64, String)> = json
        .files
        .iter()
        .flat_map(|f| {
            f.diagnostics
                .iter()
                .map(|d| (f.path.clone(), d.line.unwrap_or(1), d.code.clone()))
        })
        .collect();
    let got: Vec<(String, u64, String)> = sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let loc = &r["locations"][0]["physicalLocation"];
            (
                loc["artifactLocation"]["uri"].as_str().unwrap().to_string(),
                loc["region"]["startLine"].as_u64().unwrap(),
                r["ruleId"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(got, want);
    assert_eq!(sarif["version"], "2.1.0");
    let rules = sarif["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap();
    assert_eq!(rules.len(), crate::contract::CODES.len());
}

/// A file with `n` rows that each have one `invalid-number` error and one
/// `ambiguous-timezone` warning.
fn many_findings(n: usize) -> String {
    let mut csv = String::from("CampaignId,ActionTrackerId,EventDate,OrderId,ClickId,Amount\n");
    for i in 0..n {
        csv.push_str(&format!(
            "18543,27015,2026-06-20T12:00:00,ORD-{i},c1,\"1.000,00\"\n"
        ));
    }
    csv
}

#[test]
fn github_annotates_at_most_ten_of_each_severity() {
    let env = TestEnv::new();
    let f = env.write("many.csv", many_findings(15));
    let out = env.validate(&["--format", "github", f]);
    out.assert_code(1);
    let count = |prefix: &str| out.stdout.lines().filter(|l| l.starts_with(prefix)).count();
    assert_eq!(count("::error file=many.csv,"), 10);
    assert_eq!(count("::warning file=many.csv,"), 10);
    let plain = |l: &&str| !l.starts_with("::") && l.contains(" many.csv:1");
    assert_eq!(
        out.stdout.lines().filter(plain).count(),
        10,
        "the rest as plain log lines"
    );
    assert!(
        out.stdout.contains(
            "::notice title=convsubmit::5 more errors, 5 more warnings and 0 more notices were not annotated"
        ),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("error[invalid-number] many.csv:16: "));
}

#[test]
fn text_quiet_shows_errors_only() {
    let env = TestEnv::new();
    env.copy_fixture(DEMO);
    let out = env.validate(&["--quiet", DEMO]);
    out.assert_code(1);
    let heads: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| !l.starts_with("  help: "))
        .map(|l| l.split(']').next().unwrap())
        .collect();
    assert_eq!(
        heads,
        [
            "item-level-errors.csv:4: error[invalid-number",
            "item-level-errors.csv:5: error[event-too-old",
            "item-level-errors.csv:6: error[order-not-consecutive",
            "item-level-errors.csv:7: error[plaintext-email",
        ]
    );
}

#[test]
fn text_groups_repeated_codes_but_keeps_counts_exact() {
    let env = TestEnv::new();
    let f = env.write("many.csv", many_findings(30));
    let out = env.validate(&[f]);
    assert_eq!(out.stdout.matches("error[invalid-number]").count(), 20);
    assert_eq!(
        out.stdout.matches("warning[ambiguous-timezone]").count(),
        20
    );
    assert!(out.stdout.contains(
        "many.csv: … 10 more invalid-number errors not shown, from line 22 (--max-diagnostics 0 shows all)"
    ));
    assert!(
        out.stdout
            .ends_with("many.csv: order-level, 30 rows, 30 orders: 30 errors, 30 warnings\n"),
        "{}",
        out.stdout
    );
    let all = env.validate(&["--max-diagnostics", "0", f]);
    assert_eq!(all.stdout.matches("error[invalid-number]").count(), 30);
}

#[test]
fn colour_only_when_asked() {
    let env = TestEnv::new();
    env.copy_fixture(DEMO);
    assert!(!env.validate(&[DEMO]).stdout.contains('\x1b'));
    let mut cmd = env.command(&["validate", "--as-of", AS_OF, DEMO]);
    cmd.env_remove("NO_COLOR");
    assert!(
        !crate::util::finish(cmd).stdout.contains('\x1b'),
        "stdout is not a terminal"
    );
    let forced = env.validate(&["--color", "always", DEMO]);
    assert!(
        forced.stdout.contains("\x1b[1;31merror\x1b[0m"),
        "{}",
        forced.stdout
    );
}

#[test]
fn junit_strict_fails_warning_cases_too() {
    let env = TestEnv::new();
    env.copy_fixture(DEMO);
    let failures = |args: &[&str]| {
        let mut all = vec!["--format", "junit"];
        all.extend_from_slice(args);
        all.push(DEMO);
        env.validate(&all).stdout.matches("<failure ").count()
    };
    assert_eq!(failures(&[]), 4);
    assert_eq!(failures(&["--strict"]), 5);
}

#[test]
fn several_files_end_with_a_total_line() {
    let env = TestEnv::new();
    env.copy_fixture(DEMO);
    let ok = env.copy_fixture("item-level-valid.csv");
    let out = env.validate(&[DEMO, ok]);
    out.assert_code(1);
    assert!(
        out.stdout
            .ends_with("2 files checked, 22 rows: 4 errors, 1 warning\n"),
        "{}",
        out.stdout
    );
}

/// `validate --format FORMAT missing.csv DEMO`: exit code 2, and the output.
fn with_a_missing_file(format: &str) -> String {
    let env = TestEnv::new();
    env.copy_fixture(DEMO);
    let out = env.validate(&["--format", format, "missing.csv", DEMO]);
    out.assert_code(2);
    assert!(
        out.stderr.contains("cannot open missing.csv"),
        "{format}: {out:?}"
    );
    out.stdout
}

#[test]
fn an_input_that_cannot_be_opened_is_listed_with_its_error() {
    let report = model::parse_json(&with_a_missing_file("json"));
    let paths: Vec<&str> = report.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["missing.csv", DEMO]);
    let missing = &report.files[0];
    let error = missing.error.as_deref().unwrap_or_default();
    assert!(error.starts_with("cannot open missing.csv: "), "{error}");
    assert_eq!((missing.rows, missing.template.as_deref()), (0, None));
    assert_eq!(report.files[1].error, None);

    let (_, last) = model::parse_jsonl(&with_a_missing_file("jsonl"));
    assert_eq!(last.files.len(), 2);
    assert!(
        last.files[0]
            .error
            .as_deref()
            .unwrap_or_default()
            .starts_with("cannot open")
    );

    let sarif: Value = serde_json::from_str(&with_a_missing_file("sarif")).unwrap();
    let run = &sarif["runs"][0];
    let note = &run["invocations"][0]["toolExecutionNotifications"][0];
    assert_eq!(run["invocations"][0]["executionSuccessful"], false);
    assert_eq!(note["level"], "error");
    assert!(
        note["message"]["text"]
            .as_str()
            .unwrap()
            .starts_with("cannot open missing.csv")
    );
    assert_eq!(
        note["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "missing.csv"
    );

    let junit = with_a_missing_file("junit");
    assert!(
        junit.contains("<testsuite name=\"missing.csv\" tests=\"1\" failures=\"0\" errors=\"1\""),
        "{junit}"
    );
    assert!(
        junit.contains("<error message=\"cannot open missing.csv"),
        "{junit}"
    );

    let github = with_a_missing_file("github");
    assert!(
        github.lines().any(|l| l.starts_with(
            "::error file=missing.csv,title=convsubmit cannot read::cannot open missing.csv"
        )),
        "{github}"
    );
}

/// The severity and count per code a json report gives for the demo file.
fn json_counts() -> std::collections::BTreeMap<(String, String), u64> {
    let doc: Value = serde_json::from_str(&demo("json")).unwrap();
    let mut counts = std::collections::BTreeMap::new();
    for d in doc["files"][0]["diagnostics"].as_array().unwrap() {
        let key = (d["code"].as_str().unwrap(), d["severity"].as_str().unwrap());
        *counts.entry((key.0.into(), key.1.into())).or_default() += 1;
    }
    counts
}

#[test]
fn html_is_one_self_contained_page_with_exact_counts() {
    let page = demo("html");
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.trim_end().ends_with("</html>"));
    // Nothing is fetched: no external script, style, font or image.
    for fetch in [
        "src=",
        "<link",
        "url(",
        "@import",
        "href=\"http",
        "href=\"//",
    ] {
        assert!(!page.contains(fetch), "{fetch}");
    }
    assert!(page.contains("default-src 'none'"));
    // Each code's count and severity are json's.
    let counts = json_counts();
    assert!(counts.len() > 3);
    for ((code, severity), n) in counts {
        let group = format!("data-code=\"{code}\" data-severity=\"{severity}\"");
        let at = page.find(&group).unwrap_or_else(|| panic!("{group}"));
        let cell = "<td class=\"num count\">";
        let count = &page[at..];
        let count = &count[count.find(cell).unwrap() + cell.len()..];
        let count: u64 = count[..count.find('<').unwrap()].parse().unwrap();
        assert_eq!(count, n, "{code}");
    }
}

#[test]
fn output_writes_the_report_to_a_file_for_any_format() {
    let env = TestEnv::new();
    env.copy_fixture(DEMO);
    for format in ["json", "html", "text"] {
        let name = format!("report.{format}");
        let out = env.validate(&["--format", format, "--output", &name, DEMO]);
        out.assert_code(1);
        assert_eq!(out.stdout, "", "{format}");
        assert!(!env.read(&name).is_empty(), "{format}");
    }
    model::parse_json(&env.read("report.json"));
    let out = env.validate(&["--format", "json", "--output", "no/such/dir/r.json", DEMO]);
    out.assert_code(2);
    assert!(
        out.stderr.contains("cannot write the report"),
        "{}",
        out.stderr
    );
}

#[test]
fn split_html_lists_the_parts_and_the_rejects() {
    let env = TestEnv::new();
    env.copy_fixture(DEMO);
    let out = env.run(&[
        "split",
        "--as-of",
        AS_OF,
        "--out",
        "out",
        "--format",
        "html",
        "--output",
        "page.html",
        DEMO,
    ]);
    out.assert_code(1);
    let page = env.read("page.html");
    let manifest: Value = serde_json::from_str(&env.read("out/manifest.json")).unwrap();
    let entry = &manifest["files"][0];
    for part in entry["parts"].as_array().unwrap() {
        let row = format!(
            "<tr><td><code>{}</code></td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"mono sha\">{}</td></tr>",
            part["file"].as_str().unwrap(),
            part["rows"],
            part["orders"],
            part["sha256"].as_str().unwrap()
        );
        assert!(page.contains(&row), "{row}");
    }
    let rejects = entry["rejects"]["file"].as_str().unwrap();
    assert!(page.contains(&format!(
        "<code>{rejects}</code>: {} rows",
        entry["rejects"]["rows"]
    )));
    assert!(page.contains("<table class=\"reasons\">"));
    // What split says it wrote goes to stdout, as the report is in a file.
    assert!(out.stdout.contains("wrote "), "{}", out.stdout);
}
