//! A standard output closed early (`convsubmit validate big.csv | head -1`) stops the output,
//! never the work: the exit code is still the verdict.

use crate::util::{AS_OF, Output, TestEnv};
use std::io::{BufRead, BufReader};
use std::process::Stdio;

const HEADER: &str = "CampaignId,ActionTrackerId,EventDate,OrderId,ClickId,CurrencyCode,Amount";

/// `rows` rows whose Amount is not a number: one error each.
fn bad_rows(rows: usize) -> String {
    let mut s = format!("{HEADER}\n");
    for i in 0..rows {
        s.push_str(&format!(
            "18543,27015,2026-06-20T12:00:00Z,ORD-{i},click{i},USD,fifty\n"
        ));
    }
    s
}

/// `rows` rows whose EventDate has no offset: one warning each, no error.
fn warned_rows(rows: usize) -> String {
    let mut s = format!("{HEADER}\n");
    for i in 0..rows {
        s.push_str(&format!(
            "18543,27015,2026-06-20T12:00:00,ORD-{i},click{i},USD,1.00\n"
        ));
    }
    s
}

/// Runs `args` with standard output a pipe that is read for one line and then closed, as
/// `| head -1` does. Returns that line and the run.
fn head_1(env: &TestEnv, args: &[&str]) -> (String, Output) {
    let mut cmd = env.command(args);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut first = String::new();
    {
        let mut reader = BufReader::new(child.stdout.take().unwrap());
        reader.read_line(&mut first).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let out = Output {
        stdout: String::new(),
        stderr: String::from_utf8(out.stderr).unwrap(),
        code: out.status.code().unwrap_or(-1),
    };
    assert!(!out.stderr.contains("panicked"), "{out:#?}");
    (first, out)
}

/// Far more output than a pipe and the report's buffer hold.
const ROWS: usize = 4000;

#[test]
fn validate_into_a_closed_pipe_exits_with_its_verdict() {
    let env = TestEnv::new();
    env.write("bad.csv", bad_rows(ROWS));
    env.write("warned.csv", warned_rows(ROWS));
    let all = ["--max-diagnostics", "0"];
    for (format, file, code) in [
        ("text", "bad.csv", 1),
        ("jsonl", "bad.csv", 1),
        ("json", "bad.csv", 1),
        ("text", "warned.csv", 0),
        ("jsonl", "warned.csv", 0),
    ] {
        let mut args = vec!["validate", "--as-of", AS_OF, "--format", format, file];
        args.extend(all);
        let (first, out) = head_1(&env, &args);
        assert!(!first.is_empty(), "{format} {file}: no output");
        assert_eq!(out.code, code, "{format} {file}: {out:#?}");
    }
    let (_, out) = head_1(
        &env,
        &[
            "validate",
            "--as-of",
            AS_OF,
            "--format",
            "jsonl",
            "missing.csv",
            "bad.csv",
        ],
    );
    assert_eq!(out.code, 2, "{out:#?}");
    assert!(out.stderr.contains("cannot open missing.csv"), "{out:#?}");
}

#[test]
fn split_into_a_closed_pipe_still_writes_every_part_and_exits_with_its_verdict() {
    let env = TestEnv::new();
    let mut input = bad_rows(ROWS);
    input.push_str("18543,27015,2026-06-20T12:00:00Z,ORD-GOOD,c,USD,1.00\n");
    env.write("bad.csv", input);
    let (first, out) = head_1(
        &env,
        &[
            "split", "--as-of", AS_OF, "--format", "jsonl", "--out", "out", "bad.csv",
        ],
    );
    assert!(!first.is_empty());
    assert_eq!(out.code, 1, "{out:#?}");
    let manifest = env.read("out/manifest.json");
    assert!(manifest.contains("bad.rejects.csv"), "{manifest}");
    assert_eq!(env.read("out/bad.rejects.csv").lines().count(), ROWS + 1);
}

#[test]
fn fix_into_a_closed_pipe_still_writes_its_output_and_exits_with_its_verdict() {
    let env = TestEnv::new();
    env.write("bad.csv", bad_rows(ROWS));
    let (first, out) = head_1(
        &env,
        &[
            "fix",
            "--as-of",
            AS_OF,
            "--max-diagnostics",
            "0",
            "bad.csv",
            "-o",
            "fixed.csv",
        ],
    );
    assert!(first.starts_with("fixed bad.csv into fixed.csv"), "{first}");
    assert_eq!(out.code, 1, "{out:#?}");
    assert_eq!(env.read("fixed.csv").lines().count(), ROWS + 1);
}
