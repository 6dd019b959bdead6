//! Hostile and odd inputs: the binary never panics (checked on every run by `util`), always
//! exits 0, 1 or 2, reports bad input as a diagnostic, and counts lines exactly.

use crate::model::{self, File};
use crate::util::{AS_OF, Rng, TestEnv, fixture};
use std::io::Read;
use std::process::Stdio;

const HEADER: &str = "CampaignId,ActionTrackerId,EventDate,OrderId,ClickId,Amount";

fn row(oid: &str, amount: &str) -> String {
    format!("18543,27015,2026-06-20T12:00:00Z,{oid},c1,{amount}")
}

/// Validates `bytes` as `name` with `--format json`; returns the exit code and the file.
fn check(env: &TestEnv, name: &str, bytes: impl AsRef<[u8]>) -> (i32, File) {
    env.write(name, bytes);
    let out = env.validate(&["--format", "json", name]);
    assert!([0, 1].contains(&out.code), "{name}: {out:#?}");
    let mut report = model::parse_json(&out.stdout);
    assert_eq!(report.files.len(), 1);
    (out.code, report.files.remove(0))
}

/// `(line, code)` pairs as the fixtures tables write them.
fn pairs(list: &[(u64, &str)]) -> Vec<(u64, String)> {
    list.iter().map(|&(l, c)| (l, c.to_string())).collect()
}

#[test]
fn random_bytes_are_reported_not_fatal() {
    let env = TestEnv::new();
    let mut rng = Rng::new(0x5eed);
    for i in 0..24 {
        let len = [1, 7, 100, 4096, 70_000][i % 5];
        let (code, file) = check(&env, "random.csv", rng.bytes(len));
        assert_eq!(code, 1, "case {i}: {file:?}");
        assert!(!file.diagnostics.is_empty(), "case {i}");
    }
}

#[test]
fn mutated_csv_never_breaks_the_contract() {
    let env = TestEnv::new();
    let base = fixture("item-level-errors.csv");
    let alphabet = b",\"\r\n\0\xff\xef\xbb\xbf\x1baZ09-:.T@ ";
    let mut rng = Rng::new(42);
    for _ in 0..150 {
        let mut bytes = base.clone();
        for _ in 0..1 + rng.below(12) {
            let at = rng.below(bytes.len());
            let b = alphabet[rng.below(alphabet.len())];
            match rng.below(3) {
                0 => bytes[at] = b,
                1 => {
                    bytes.remove(at);
                }
                _ => bytes.insert(at, b),
            }
        }
        check(&env, "mutated.csv", bytes);
    }
}

#[test]
fn a_file_cut_mid_quoted_field_is_malformed_where_the_record_starts() {
    let env = TestEnv::new();
    let whole = fixture("valid/order-level.csv");
    let text = String::from_utf8(whole.clone()).unwrap();
    // Row 2 (line 3) holds a quoted value with a line break: cut inside it.
    let cut = text.find("second line").unwrap();
    let (code, file) = check(&env, "cut-quoted.csv", &whole[..cut]);
    assert_eq!(code, 1);
    assert_eq!(file.findings(), pairs(&[(3, "malformed-csv")]));
    assert_eq!(file.rows, 2);
}

#[test]
fn a_file_cut_mid_row_has_a_short_last_row() {
    let env = TestEnv::new();
    let whole = fixture("item-level-valid.csv");
    let cut = whole.len() - 20;
    let (code, file) = check(&env, "cut-row.csv", &whole[..cut]);
    assert_eq!(code, 1);
    assert_eq!(file.findings(), pairs(&[(11, "wrong-field-count")]));
}

#[test]
fn a_50_mb_field_is_reported_shortened() {
    let env = TestEnv::new();
    let huge = "c".repeat(50_000_000);
    let csv = format!("{HEADER}\n18543,27015,2026-06-20T12:00:00Z,ORD-1,{huge},1.00\n");
    drop(huge);
    let (code, file) = check(&env, "huge.csv", csv);
    assert_eq!(code, 1);
    assert_eq!(file.findings(), pairs(&[(2, "value-too-long")]));
    let d = &file.diagnostics[0];
    assert!(d.message.contains("50000000 characters"), "{}", d.message);
    let value = d.value.as_deref().unwrap();
    assert!(
        value.len() < 400,
        "value not shortened: {} bytes",
        value.len()
    );
    assert!(value.ends_with("… (50000000 bytes in all)"), "{value}");
}

#[test]
fn a_100000_column_header_is_handled() {
    let env = TestEnv::new();
    let names: Vec<String> = (0..100_000).map(|i| format!("Col{i}")).collect();
    let full = vec!["x"; 100_000].join(",");
    let short = vec!["x"; 99_999].join(",");
    let f = env.write(
        "wide.csv",
        format!("{}\n{full}\n{short}\n", names.join(",")),
    );
    let out = env.validate(&[f]);
    out.assert_code(1);
    assert!(out.stdout.contains("wide.csv:1: error[missing-column]"));
    assert!(out.stdout.contains("wide.csv:3: error[wrong-field-count]"));
    assert!(
        !out.stdout.contains("wide.csv:2:"),
        "a full row is not short"
    );
    assert!(
        out.stdout
            .contains("… 99980 more unknown-column warnings not shown, from line 1"),
        "{}",
        &out.stdout[out.stdout.len().saturating_sub(2000)..]
    );
}

#[test]
fn nul_bytes_are_an_encoding_error_at_their_line() {
    let env = TestEnv::new();
    let csv = format!(
        "{HEADER}\n{}\n{}\n",
        row("ORD-1", "1.00"),
        row("ORD-\u{0}2", "1.00")
    );
    let (code, file) = check(&env, "nul.csv", csv);
    assert_eq!(code, 1);
    assert_eq!(file.findings(), pairs(&[(3, "invalid-encoding")]));
    let (_, header) = check(&env, "nul-header.csv", "Campaign\0Id,OrderId\n1,2\n");
    assert_eq!(header.findings(), pairs(&[(1, "invalid-encoding")]));
    assert_eq!(header.template, None);
}

/// The same data rows (two bad amounts, on rows 2 and 4) with `eol` line endings.
fn bad_rows(eol: &str) -> String {
    [
        HEADER.to_string(),
        row("ORD-1", "1.00"),
        row("ORD-2", "x"),
        row("ORD-3", "1.00"),
        row("ORD-4", "y"),
    ]
    .iter()
    .map(|l| format!("{l}{eol}"))
    .collect()
}

#[test]
fn every_line_ending_counts_one_line() {
    let env = TestEnv::new();
    for (name, eol) in [("lf.csv", "\n"), ("crlf.csv", "\r\n"), ("cr.csv", "\r")] {
        let (code, file) = check(&env, name, bad_rows(eol));
        assert_eq!(code, 1);
        let got: Vec<_> = file.diagnostics.iter().map(|d| (d.line, d.row)).collect();
        assert_eq!(got, [(Some(3), Some(2)), (Some(5), Some(4))], "{name}");
        assert_eq!(file.rows, 4, "{name}");
    }
}

#[test]
fn a_multi_line_value_is_reported_where_its_record_starts() {
    let env = TestEnv::new();
    let csv = format!(
        "{HEADER},Note\n{},\"one\ntwo\r\nthree\"\n{},\n{},\"a\rb\"\n{},\n",
        row("ORD-1", "1.00"),
        row("ORD-2", "x"),
        row("ORD-3", "bad"),
        row("ORD-4", "y"),
    );
    let (_, file) = check(&env, "multi-line.csv", csv);
    let got: Vec<_> = file.diagnostics.iter().map(|d| (d.line, d.row)).collect();
    // Row 1 spans lines 2-4, row 2 is line 5, row 3 spans lines 6-7, row 4 is line 8.
    assert_eq!(
        got,
        [(Some(5), Some(2)), (Some(6), Some(3)), (Some(8), Some(4))]
    );
}

#[test]
fn utf16_with_and_without_bom_is_one_file_level_error() {
    let env = TestEnv::new();
    let text = format!("{HEADER}\r\n{}\r\n", row("ORD-1", "1.00"));
    let le: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let be: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
    let cases = [
        ("le-bom.csv", [&[0xFF, 0xFE][..], &le].concat(), "UTF-16LE"),
        ("be-bom.csv", [&[0xFE, 0xFF][..], &be].concat(), "UTF-16BE"),
        ("le.csv", le, "UTF-16LE"),
        ("be.csv", be, "UTF-16BE"),
    ];
    for (name, bytes, encoding) in cases {
        let (code, file) = check(&env, name, bytes);
        assert_eq!(code, 1);
        assert_eq!(file.findings(), pairs(&[(0, "invalid-encoding")]), "{name}");
        assert!(file.diagnostics[0].message.contains(encoding), "{name}");
        assert_eq!((file.template.as_deref(), file.rows), (None, 0), "{name}");
    }
}

#[test]
fn empty_and_header_only_files_have_no_rows() {
    let env = TestEnv::new();
    for (name, bytes) in [
        ("empty.csv", String::new()),
        ("header-only.csv", format!("{HEADER}\n")),
        ("header-no-newline.csv", HEADER.to_string()),
        ("header-crlf.csv", format!("{HEADER}\r\n")),
    ] {
        let (code, file) = check(&env, name, bytes);
        assert_eq!(code, 1, "{name}");
        assert_eq!(file.findings(), pairs(&[(0, "no-rows")]), "{name}");
    }
    let (_, blank) = check(&env, "blank-lines.csv", "\n\r\n\n");
    assert_eq!(
        blank.findings(),
        pairs(&[
            (0, "no-rows"),
            (1, "blank-row"),
            (2, "blank-row"),
            (3, "blank-row")
        ])
    );
}

#[test]
fn standard_input_is_read_and_named() {
    let env = TestEnv::new();
    let demo = fixture("item-level-errors.csv");
    let out = env.run_with_stdin(&["validate", "--as-of", AS_OF, "-"], &demo);
    out.assert_code(1);
    assert!(
        out.stdout
            .contains("<stdin>:6: error[order-not-consecutive]")
    );
    assert!(
        out.stdout
            .ends_with("<stdin>: item-level, 12 rows, 8 orders: 4 errors, 1 warning\n")
    );
    // No file name, so no file-extension warning.
    assert!(!out.stdout.contains("file-extension"));
}

#[test]
fn several_files_add_up() {
    let env = TestEnv::new();
    let demo = env.copy_fixture("item-level-errors.csv");
    let dates = env.copy_fixture("invalid/order-dates.csv");
    let stdin = fixture("invalid/order-duplicate.csv");
    let out = env.run_with_stdin(
        &[
            "validate", "--as-of", AS_OF, "--format", "json", demo, "-", dates, demo,
        ],
        &stdin,
    );
    out.assert_code(1);
    let report = model::parse_json(&out.stdout);
    let paths: Vec<&str> = report.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, [demo, "<stdin>", dates, demo]);
    assert_eq!(
        (
            report.summary.rows,
            report.summary.errors,
            report.summary.warnings
        ),
        // demo + order-duplicate + order-dates + demo (order-duplicate has no warnings)
        (12 + 6 + 16 + 12, 4 + 2 + 7 + 4, 1 + 3 + 1)
    );
}

#[test]
fn control_characters_never_reach_stdout_raw() {
    let env = TestEnv::new();
    let evil = "\u{1b}[31mred\u{1b}[0m\u{202e}\u{7}";
    let csv = format!(
        "{HEADER},Bad\u{1b}[2JColumn\n{},x\n",
        row("ORD-\u{1b}]0;title\u{7}", &format!("\"{evil}\""))
    );
    let f = env.write("evil.csv", csv);
    for format in ["text", "json", "jsonl", "github", "junit", "sarif"] {
        let out = env.validate(&["--format", format, f]);
        out.assert_code(1);
        for c in ['\u{1b}', '\u{7}', '\u{202e}'] {
            assert!(
                !out.stdout.contains(c),
                "{format} lets {c:?} through:\n{}",
                out.stdout
            );
        }
    }
    let text = env.validate(&[f]).stdout;
    assert!(
        text.contains("`\\u{1b}[31mred\\u{1b}[0m\\u{202e}\\u{7}`"),
        "{text}"
    );
    assert!(text.contains("Bad\\u{1b}[2JColumn"), "{text}");
}

#[test]
fn control_characters_in_file_names_are_escaped() {
    let env = TestEnv::new();
    let name = "x\n::error title=injected::pwned\n\u{1b}[31m.csv";
    env.write(name, format!("{HEADER}\n{}\n", row("ORD-1", "fifty")));
    for format in ["text", "github"] {
        let out = env.validate(&["--format", format, name]);
        assert!(!out.stdout.contains('\u{1b}'), "{format}: {}", out.stdout);
        assert!(
            !out.stdout
                .lines()
                .any(|l| l.starts_with("::error title=injected")),
            "{format}: {}",
            out.stdout
        );
    }
}

/// Runs `validate` with output much larger than a pipe buffer, reads a little, and closes the
/// pipe. Returns the exit code and standard error.
fn close_pipe_early(format: &str) -> (i32, String) {
    let env = TestEnv::new();
    let names: Vec<String> = (0..20_000).map(|i| format!("Col{i}")).collect();
    let f = env.write("wide.csv", format!("{}\n", names.join(",")));
    let mut cmd = env.command(&[
        "validate",
        "--as-of",
        AS_OF,
        "--max-diagnostics",
        "0",
        "--format",
        format,
        f,
    ]);
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut head = [0u8; 1024];
    child.stdout.take().unwrap().read_exact(&mut head).unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    (status.code().unwrap_or(-1), stderr)
}

/// The file has errors (no rows, missing columns): a closed pipe ends the output quietly,
/// and the exit code is still the verdict (see also `closed_output`).
#[test]
fn a_closed_pipe_ends_quietly() {
    assert_eq!(close_pipe_early("text"), (1, String::new()));
}

#[test]
fn a_closed_pipe_ends_quietly_in_json_formats() {
    for format in ["json", "jsonl", "sarif"] {
        assert_eq!(close_pipe_early(format), (1, String::new()), "{format}");
    }
}
