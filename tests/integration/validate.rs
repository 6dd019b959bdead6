//! Verdicts: the exact findings of every fixture, and the exit codes.

use crate::model::{self, Severity};
use crate::util::{TestEnv, fixture, fixtures_dir};

/// A fixture with the exact `(line, code)` of every finding it must produce (line 0: none).
pub struct Case {
    pub file: &'static str,
    pub args: &'static [&'static str],
    pub exit: i32,
    pub template: Option<&'static str>,
    pub findings: &'static [(u64, &'static str)],
}

const fn case(
    file: &'static str,
    template: &'static str,
    exit: i32,
    findings: &'static [(u64, &'static str)],
) -> Case {
    Case {
        file,
        args: &[],
        exit,
        template: Some(template),
        findings,
    }
}

const CHAINED: &[&str] = &["--template", "chained"];
const MAX_ROWS_3: &[&str] = &["--max-rows", "3"];

/// Every file in `fixtures/invalid/`, with its verdict as of 2026-06-30.
pub const INVALID: &[Case] = &[
    Case {
        args: CHAINED,
        ..case(
            "invalid/chained-missing-customer.csv",
            "chained",
            1,
            &[(3, "missing-value")],
        )
    },
    case(
        "invalid/item-conflicting-columns.csv",
        "item-level",
        1,
        &[(4, "conflicting-columns"), (5, "missing-value")],
    ),
    case(
        "invalid/item-forbidden-column.csv",
        "item-level",
        1,
        &[(1, "conflicting-columns")],
    ),
    case(
        "invalid/item-inconsistent-order.csv",
        "item-level",
        0,
        &[
            (3, "inconsistent-order"),
            (4, "inconsistent-order"),
            (4, "inconsistent-order"),
        ],
    ),
    case(
        "invalid/item-missing-columns.csv",
        "item-level",
        1,
        &[(1, "missing-column")],
    ),
    case(
        "invalid/item-missing-values.csv",
        "item-level",
        1,
        &[
            (2, "missing-value"),
            (3, "missing-value"),
            (4, "missing-value"),
            (5, "missing-value"),
            (6, "missing-value"),
            (6, "missing-value"),
            (7, "missing-value"),
            (8, "missing-value"),
        ],
    ),
    case(
        "invalid/item-nonconsecutive.csv",
        "item-level",
        1,
        &[
            (5, "order-not-consecutive"),
            (6, "order-not-consecutive"),
            (9, "order-not-consecutive"),
        ],
    ),
    case(
        "invalid/item-numbers.csv",
        "item-level",
        1,
        &[
            (2, "invalid-integer"),
            (3, "invalid-number"),
            (4, "invalid-number"),
            (5, "invalid-number"),
            (6, "invalid-number"),
            (7, "invalid-integer"),
            (8, "invalid-integer"),
            (9, "invalid-number"),
            (10, "invalid-integer"),
        ],
    ),
    Case {
        args: MAX_ROWS_3,
        ..case(
            "invalid/item-order-too-large.csv",
            "item-level",
            1,
            &[(5, "order-too-large")],
        )
    },
    case(
        "invalid/modification-invalid.csv",
        "modification",
        1,
        &[
            (2, "missing-value"),
            (3, "missing-value"),
            (4, "invalid-number"),
            (5, "invalid-integer"),
            (6, "unknown-reason"),
        ],
    ),
    case(
        "invalid/modification-items.csv",
        "modification",
        1,
        &[
            (1, "missing-column"),
            (2, "missing-value"),
            (3, "invalid-integer"),
            (3, "invalid-number"),
            (4, "missing-value"),
        ],
    ),
    case(
        "invalid/order-bom-and-blank-rows.csv",
        "order-level",
        0,
        &[(1, "bom"), (3, "blank-row"), (5, "blank-row")],
    ),
    case(
        "invalid/order-dates.csv",
        "order-level",
        1,
        &[
            (3, "event-too-old"),
            (6, "event-expired"),
            (7, "event-expired"),
            (8, "invalid-date"),
            (9, "invalid-date"),
            (10, "ambiguous-timezone"),
            (11, "ambiguous-timezone"),
            (12, "event-in-future"),
            (16, "invalid-date"),
            (17, "invalid-date"),
        ],
    ),
    case(
        "invalid/order-duplicate.csv",
        "order-level",
        1,
        &[(5, "duplicate-order"), (7, "duplicate-order")],
    ),
    case(
        "invalid/order-field-count.csv",
        "order-level",
        1,
        &[
            (3, "wrong-field-count"),
            (4, "wrong-field-count"),
            (5, "wrong-field-count"),
        ],
    ),
    case(
        "invalid/order-header-only.csv",
        "order-level",
        1,
        &[(0, "no-rows")],
    ),
    case(
        "invalid/order-header-problems.csv",
        "order-level",
        1,
        &[
            (1, "duplicate-column"),
            (1, "duplicate-column"),
            (1, "header-case"),
            (1, "unknown-column"),
        ],
    ),
    case(
        "invalid/order-latin1.csv",
        "order-level",
        1,
        &[(3, "invalid-encoding")],
    ),
    case(
        "invalid/order-malformed-quotes.csv",
        "order-level",
        1,
        &[
            (2, "malformed-csv"),
            (3, "malformed-csv"),
            (5, "malformed-csv"),
        ],
    ),
    case(
        "invalid/order-named.txt",
        "order-level",
        0,
        &[(0, "file-extension")],
    ),
    case(
        "invalid/order-no-attribution.csv",
        "order-level",
        1,
        &[(3, "no-attribution-key")],
    ),
    case(
        "invalid/order-number-range.csv",
        "order-level",
        1,
        &[
            (2, "number-out-of-range"),
            (3, "decimal-precision"),
            (4, "number-out-of-range"),
            (4, "number-out-of-range"),
        ],
    ),
    case(
        "invalid/order-plaintext-email.csv",
        "order-level",
        1,
        &[
            (2, "plaintext-email"),
            (5, "plaintext-email"),
            (6, "plaintext-email"),
        ],
    ),
    case(
        "invalid/order-types.csv",
        "order-level",
        1,
        &[
            (2, "invalid-currency"),
            (3, "invalid-currency"),
            (4, "invalid-boolean"),
            (5, "value-too-long"),
            (6, "value-too-long"),
            (7, "value-too-long"),
            (8, "invalid-date"),
            (9, "value-too-long"),
        ],
    ),
    Case {
        template: None,
        ..case(
            "invalid/order-utf16le.csv",
            "",
            1,
            &[(0, "invalid-encoding")],
        )
    },
];

/// The clean fixtures: no finding of any severity.
const VALID: &[Case] = &[
    case("item-level-valid.csv", "item-level", 0, &[]),
    case("valid/order-level.csv", "order-level", 0, &[]),
    Case {
        args: CHAINED,
        ..case("valid/chained.csv", "chained", 0, &[])
    },
    case("valid/modification.csv", "modification", 0, &[]),
    case("valid/modification-reset.csv", "modification", 0, &[]),
    case("valid/modification-items.csv", "modification", 0, &[]),
];

/// The README's demo file.
const DEMO: Case = case(
    "item-level-errors.csv",
    "item-level",
    1,
    &[
        (4, "invalid-number"),
        (5, "event-too-old"),
        (6, "order-not-consecutive"),
        (7, "plaintext-email"),
        (8, "ambiguous-timezone"),
    ],
);

/// Runs one case with `--format json`; returns what differs from the expectation.
fn mismatch(c: &Case) -> Option<String> {
    let env = TestEnv::new();
    let name = env.copy_fixture(c.file);
    let mut args = vec!["--format", "json"];
    args.extend_from_slice(c.args);
    args.push(name);
    let out = env.validate(&args);
    let report = model::parse_json(&out.stdout);
    let file = &report.files[0];
    let want: Vec<(u64, String)> = c.findings.iter().map(|&(l, s)| (l, s.into())).collect();
    let got = (out.code, file.template.as_deref(), file.findings());
    let expected = (c.exit, c.template, want);
    (got != expected).then(|| format!("{}:\n  expected {expected:?}\n  got      {got:?}", c.file))
}

#[track_caller]
fn assert_cases(cases: &[Case]) {
    let failures: Vec<String> = cases.iter().filter_map(mismatch).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_invalid_fixture_has_exactly_its_findings() {
    assert_cases(INVALID);
}

#[test]
fn valid_fixtures_have_no_findings_at_all() {
    assert_cases(VALID);
}

#[test]
fn the_demo_fixture_has_exactly_its_findings() {
    assert_cases(&[DEMO]);
}

#[test]
fn every_invalid_fixture_is_listed() {
    let mut on_disk: Vec<String> = std::fs::read_dir(fixtures_dir().join("invalid"))
        .unwrap()
        .map(|e| format!("invalid/{}", e.unwrap().file_name().to_string_lossy()))
        .collect();
    on_disk.sort();
    let listed: Vec<&str> = INVALID.iter().map(|c| c.file).collect();
    assert_eq!(
        on_disk, listed,
        "fixtures/invalid/ and INVALID (keep both sorted)"
    );
}

#[test]
fn the_clean_demo_passes_strict() {
    let env = TestEnv::new();
    let f = env.copy_fixture("item-level-valid.csv");
    let out = env.validate(&["--strict", f]);
    out.assert_code(0);
    assert_eq!(
        out.stdout,
        "item-level-valid.csv: item-level, 10 rows, 7 orders: 0 errors, 0 warnings\n"
    );
    assert_eq!(out.stderr, "");
}

#[test]
fn warnings_fail_only_with_strict() {
    let env = TestEnv::new();
    for f in [
        "invalid/order-named.txt",
        "invalid/item-inconsistent-order.csv",
    ] {
        env.copy_fixture(f);
        env.validate(&[f]).assert_code(0);
        env.validate(&["--strict", f]).assert_code(1);
    }
    // Info alone never fails.
    let bom = env.copy_fixture("invalid/order-bom-and-blank-rows.csv");
    let no_blank = String::from_utf8(fixture(bom))
        .unwrap()
        .replace("\n\n", "\n")
        .replace("\n,,,,,,,\n", "\n");
    let only_bom = env.write("bom-only.csv", no_blank);
    let out = env.validate(&["--strict", "--format", "json", only_bom]);
    out.assert_code(0);
    assert_eq!(
        model::parse_json(&out.stdout).files[0].findings(),
        [(1, "bom".to_string())]
    );
}

#[test]
fn chained_is_chosen_only_when_asked_for() {
    let env = TestEnv::new();
    let f = env.copy_fixture("invalid/chained-missing-customer.csv");
    let out = env.validate(&["--format", "json", f]);
    out.assert_code(0);
    let report = model::parse_json(&out.stdout);
    assert_eq!(report.files[0].template.as_deref(), Some("order-level"));
    assert!(report.files[0].diagnostics.is_empty());
}

#[test]
fn a_missing_column_is_one_error_naming_every_missing_column() {
    let env = TestEnv::new();
    let f = env.copy_fixture("invalid/item-missing-columns.csv");
    let out = env.validate(&["--format", "json", f]);
    let report = model::parse_json(&out.stdout);
    let d = &report.files[0].diagnostics[0];
    assert!(
        d.message.contains("`ActionTrackerId` or `EventTypeCode`")
            && d.message.contains("`Quantity`"),
        "{}",
        d.message
    );
    assert!(
        !d.message.contains("`Sku`"),
        "Sku is present: {}",
        d.message
    );
}

#[test]
fn plain_emails_are_masked_in_every_format() {
    let env = TestEnv::new();
    let f = env.copy_fixture("invalid/order-plaintext-email.csv");
    for format in ["text", "json", "jsonl", "github", "junit", "sarif"] {
        let out = env.validate(&["--format", format, f]);
        out.assert_code(1);
        assert!(
            out.stdout.contains("j***@example.com"),
            "{format}: {}",
            out.stdout
        );
        for secret in ["jane.doe@", "bob.smith@"] {
            assert!(!out.stdout.contains(secret), "{format} leaks {secret}");
        }
    }
}

#[test]
fn invalid_utf8_is_located_by_line_and_byte_offset() {
    let env = TestEnv::new();
    let f = env.copy_fixture("invalid/order-latin1.csv");
    let bytes = fixture(f);
    let offset = bytes.iter().position(|&b| b == 0xE1).unwrap();
    let out = env.validate(&["--format", "json", f]);
    let d = &model::parse_json(&out.stdout).files[0].diagnostics[0];
    assert_eq!((d.line, d.row), (Some(3), Some(2)));
    assert!(
        d.message.contains(&format!("byte offset {offset}")),
        "{}",
        d.message
    );
}

#[test]
fn findings_name_their_column_and_value() {
    let env = TestEnv::new();
    let f = env.copy_fixture("invalid/item-numbers.csv");
    let out = env.validate(&["--format", "json", f]);
    let report = model::parse_json(&out.stdout);
    let at = |line| {
        let d = report.files[0]
            .diagnostics
            .iter()
            .find(|d| d.line == Some(line))
            .unwrap();
        (d.column.as_deref(), d.value.as_deref())
    };
    assert_eq!(at(4), (Some("Amount"), Some("1,000.00")));
    assert_eq!(at(8), (Some("CampaignId"), Some("1854O")));
    assert_eq!(at(9), (Some("Amount"), Some(" 12.00")));
}

#[test]
fn integer_help_does_not_suggest_a_decimal_point() {
    let env = TestEnv::new();
    let f = env.copy_fixture("invalid/item-numbers.csv");
    let out = env.validate(&["--format", "json", f]);
    let report = model::parse_json(&out.stdout);
    for d in report.files[0].diagnostics.iter() {
        if d.code == "invalid-integer" {
            assert!(!d.help.contains("point"), "line {:?}: {}", d.line, d.help);
        }
    }
}

#[test]
fn inconsistent_order_names_the_disagreeing_column() {
    let env = TestEnv::new();
    let f = env.copy_fixture("invalid/item-inconsistent-order.csv");
    let out = env.validate(&["--format", "json", f]);
    let report = model::parse_json(&out.stdout);
    let got: Vec<_> = report.files[0]
        .diagnostics
        .iter()
        .map(|d| (d.column.as_deref(), d.value.as_deref()))
        .collect();
    assert_eq!(
        got,
        [
            (Some("CurrencyCode"), Some("EUR")),
            (Some("EventDate"), Some("2026-06-21T12:00:00Z")),
            (Some("ClickId"), Some("c2")),
        ]
    );
}

#[test]
fn missing_value_names_the_empty_column() {
    let env = TestEnv::new();
    let f = env.copy_fixture("invalid/modification-invalid.csv");
    let out = env.validate(&["--format", "json", f]);
    let report = model::parse_json(&out.stdout);
    let d = report.files[0]
        .diagnostics
        .iter()
        .find(|d| d.line == Some(3))
        .unwrap();
    assert_eq!(d.column.as_deref(), Some("ActionTrackerId"));
}

#[test]
fn usage_and_input_problems_exit_2() {
    let env = TestEnv::new();
    let ok = env.copy_fixture("item-level-valid.csv");
    env.write("broken.toml", "name = \n");
    env.write("a-folder/x.csv", "");
    let cases: &[(&[&str], &str)] = &[
        (&["no-such-file.csv"], "cannot open no-such-file.csv"),
        (&["--template", "nope", ok], "unknown template `nope`"),
        (&["--template", "broken.toml", ok], "broken.toml"),
        (&["--template", "missing.toml", ok], "missing.toml"),
        (&["a-folder"], "a-folder: it is a directory"),
        (&["--max-rows", "0", ok], "--max-rows"),
        (&["--format", "xml", ok], "xml"),
        (&["--no-such-flag", ok], "--no-such-flag"),
        (&[], "FILE"),
    ];
    for (args, stderr) in cases {
        let out = env.validate(args);
        assert_eq!(out.code, 2, "{args:?}\n{out:#?}");
        assert!(out.stderr.contains(stderr), "{args:?}: {}", out.stderr);
    }
    for bad in ["2026-02-30", "30/06/2026", "2026-6-30", ""] {
        let out = env.run(&["validate", "--as-of", bad, ok]);
        assert_eq!(out.code, 2, "--as-of {bad:?}\n{out:#?}");
        assert!(out.stderr.contains("--as-of"), "{}", out.stderr);
    }
}

#[test]
fn an_unreadable_file_does_not_stop_the_others() {
    let env = TestEnv::new();
    let bad = env.copy_fixture("invalid/item-nonconsecutive.csv");
    let out = env.validate(&["--format", "json", "missing.csv", bad]);
    out.assert_code(2);
    assert!(
        out.stderr.contains("cannot open missing.csv"),
        "{}",
        out.stderr
    );
    let report = model::parse_json(&out.stdout);
    assert_eq!(report.files.len(), 2);
    assert_eq!(report.files[0].path, "missing.csv");
    assert!(report.files[0].error.is_some());
    assert_eq!(report.files[1].path, bad);
    assert_eq!(report.files[1].error, None);
    assert_eq!(report.summary.errors, 3);
}

#[test]
fn info_findings_are_listed_but_not_counted() {
    let env = TestEnv::new();
    let f = env.copy_fixture("invalid/order-bom-and-blank-rows.csv");
    let out = env.validate(&["--format", "json", f]);
    let file = &model::parse_json(&out.stdout).files[0];
    assert_eq!(file.count(Severity::Info), 1);
    assert_eq!((file.errors, file.warnings), (0, 2));
    assert_eq!((file.rows, file.orders), (3, 3));
}

const PIPED: &str = "CampaignId,ActionTrackerId,EventDate,OrderId,ClickId,Amount\n\
                     18543,27015,2026-06-20T12:00:00Z,ORD-1,c1,1.00\n";

/// `validate --strict ARG` with `PIPED` written into the FIFO `fifo` (when given) or on
/// standard input.
fn validate_streamed(env: &TestEnv, arg: &str, fifo: Option<&str>) -> crate::util::Output {
    let args = [
        "validate",
        "--as-of",
        crate::util::AS_OF,
        "--strict",
        "--format",
        "json",
        arg,
    ];
    match fifo {
        None => env.run_with_stdin(&args, PIPED.as_bytes()),
        Some(name) => {
            let path = env.path().join(name);
            crate::hostile::mkfifo(&path);
            let writer = std::thread::spawn(move || std::fs::write(&path, PIPED).unwrap());
            let out = env.run(&args);
            writer.join().unwrap();
            out
        }
    }
}

#[test]
fn a_stream_has_no_file_name_to_judge_its_extension_by() {
    let env = TestEnv::new();
    for (arg, fifo) in [
        // A FIFO, as `mkfifo` makes it, and the name bash gives `<(…)`.
        ("export-fifo", Some("export-fifo")),
        ("/dev/stdin", None),
        ("/dev/fd/0", None),
        ("/proc/self/fd/0", None),
    ] {
        let out = validate_streamed(&env, arg, fifo);
        let report = model::parse_json(&out.stdout);
        assert_eq!(report.files[0].findings(), [], "{arg}: {out:?}");
        out.assert_code(0);
    }
    // A regular file is still judged by its name.
    let named = env.write("export.txt", PIPED);
    let out = env.validate(&["--strict", named]);
    out.assert_code(1);
    assert!(out.stdout.contains("warning[file-extension]"), "{out:?}");
}

#[test]
fn a_file_without_amount_is_a_reset_file_only_if_every_reason_is_reset() {
    let env = TestEnv::new();
    let f = env.write(
        "mixed.csv",
        "Oid,ActionTrackerId,Reason\nO9999935,16027,RESET\nO9999936,16027,ORDER_UPDATE\n",
    );
    let out = env.validate(&["--format", "json", f]);
    out.assert_code(1);
    let file = &model::parse_json(&out.stdout).files[0];
    assert_eq!(file.findings(), [(1, "missing-column".to_string())]);
    let m = &file.diagnostics[0].message;
    assert!(
        m.contains("`Amount`") && m.contains("line 3: `Reason` is not `RESET`"),
        "{m}"
    );
}

#[test]
fn codes_that_name_no_currency_are_not_currencies() {
    let env = TestEnv::new();
    let header = "CampaignId,ActionTrackerId,EventDate,OrderId,ClickId,Amount,CurrencyCode";
    let row =
        |id: &str, cur: &str| format!("18543,27015,2026-06-20T12:00:00Z,{id},c1,1.00,{cur}\n");
    let f = env.write(
        "cur.csv",
        format!(
            "{header}\n{}{}{}",
            row("O1", "XXX"),
            row("O2", "XTS"),
            row("O3", "XAU")
        ),
    );
    let out = env.validate(&["--format", "json", f]);
    let file = &model::parse_json(&out.stdout).files[0];
    let found = file.findings();
    assert_eq!(
        found,
        [
            (2, "invalid-currency".to_string()),
            (3, "invalid-currency".to_string())
        ]
    );
    assert!(
        file.diagnostics[1].help.contains("testing"),
        "{:?}",
        file.diagnostics[1]
    );
}

#[test]
fn email_addresses_are_found_after_trimming_and_never_shown_in_full() {
    let env = TestEnv::new();
    let f = env.write(
        "emails.csv",
        "CampaignId,ActionTrackerId,EventDate,OrderId,CustomerId,CustomerEmail\n\
         18543,27015,2026-06-20T12:00:00Z,O1, jane@example.com,\n\
         18543,27015,2026-06-20T12:00:00Z,O2,c2,  Jane.Doe@Example.com \n\
         18543,27015,2026-06-20T12:00:00Z,O3,c3,\"\"\"Jane Doe\"\" <jane@example.com>\"\n\
         18543,27015,2026-06-20T12:00:00Z,O4,a@x.com;b@x.com,\n",
    );
    let json = env.validate(&["--format", "json", f]);
    let found = model::parse_json(&json.stdout).files[0].findings();
    let want: Vec<(u64, String)> = (2..=5)
        .map(|l| (l, "plaintext-email".to_string()))
        .collect();
    assert_eq!(found, want);
    for format in ["text", "json", "jsonl", "github", "sarif", "junit"] {
        let out = env.validate(&["--format", format, f]);
        for local in ["jane@", "Jane.Doe@", "a@x.com", "b@x.com"] {
            assert!(
                !out.stdout.contains(local),
                "{format} shows {local}:\n{}",
                out.stdout
            );
        }
    }
}

#[test]
fn amount_with_an_item_subtotal_on_one_row_conflicts() {
    let env = TestEnv::new();
    let f = env.write(
        "totals.csv",
        "CampaignId,ActionTrackerId,EventDate,OrderId,ClickId,Sku,Category,Quantity,Amount,ItemSubtotal\n\
         18543,27015,2026-06-20T12:00:00Z,O1,c1,S1,Books,1,10.00,10.00\n\
         18543,27015,2026-06-20T12:00:00Z,O2,c1,S1,Books,1,10.00,\n\
         18543,27015,2026-06-20T12:00:00Z,O3,c1,S1,Books,1, ,10.00\n",
    );
    let out = env.validate(&["--format", "json", f]);
    let file = &model::parse_json(&out.stdout).files[0];
    assert_eq!(file.findings(), [(2, "conflicting-columns".to_string())]);
    let d = &file.diagnostics[0];
    assert!(
        d.message.contains("`ItemSubtotal` and `Amount`"),
        "{}",
        d.message
    );
}
