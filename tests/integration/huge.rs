//! A single value of 1 GB, and a row of 200 million fields, streamed through standard input:
//! reported with their real size, and memory stays bounded (the reader keeps at most 16 MiB
//! and about a million fields of a row).

use crate::util::{AS_OF, TestEnv};
use std::io::Write;
use std::process::Stdio;

const HEADER: &str = "CampaignId,ActionTrackerId,EventDate,OrderId,ClickId,Amount\n";
const GB: usize = 1 << 30;

/// Peak resident memory of `pid` so far, in bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0);
    kb * 1024
}

/// Streams a row whose `ClickId` is 1 GB (`quoted` or not) into `validate -`; returns the
/// exit code, stdout and the highest peak RSS seen while it ran.
fn stream_gigabyte_field(quoted: bool) -> (i32, String, u64) {
    let q = if quoted { "\"" } else { "" };
    stream(b'c', GB, q)
}

/// Streams a row whose `ClickId` starts with `q` and goes on with `size` bytes of `fill`.
fn stream(fill: u8, size: usize, q: &str) -> (i32, String, u64) {
    let env = TestEnv::new();
    let mut child = env
        .command(&["validate", "--as-of", AS_OF, "--format", "json", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut stdin = child.stdin.take().unwrap();
    write!(stdin, "{HEADER}18543,27015,2026-06-20T12:00:00Z,ORD-1,{q}").unwrap();
    let chunk = vec![fill; 1 << 20];
    let mut peak = 0;
    for i in 0..size / chunk.len() {
        stdin.write_all(&chunk).unwrap();
        if i % 64 == 0 {
            peak = peak.max(peak_rss(pid));
        }
    }
    writeln!(
        stdin,
        "{q},1.00\n18543,27015,2026-06-20T12:00:00Z,ORD-2,abc,1.00"
    )
    .unwrap();
    peak = peak.max(peak_rss(pid));
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    (out.status.code().unwrap_or(-1), stdout, peak)
}

fn assert_reported(quoted: bool) {
    let (code, stdout, peak) = stream_gigabyte_field(quoted);
    assert_eq!(code, 1, "{stdout}");
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let file = &json["files"][0];
    let found: Vec<(u64, &str)> = file["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["line"].as_u64().unwrap(), d["code"].as_str().unwrap()))
        .collect();
    assert_eq!(found, [(2, "value-too-long")]);
    let d = &file["diagnostics"][0];
    assert_eq!(d["column"], "ClickId");
    let message = d["message"].as_str().unwrap();
    assert!(message.contains(&format!("{GB} characters")), "{message}");
    let value = d["value"].as_str().unwrap();
    assert!(
        value.ends_with(&format!("… ({GB} bytes in all)")),
        "{value}"
    );
    assert!(
        value.len() < 400,
        "value not shortened: {} bytes",
        value.len()
    );
    assert_eq!(file["rows"], 2, "the row after it is read normally");
    assert!(peak > 0, "peak memory was not measured");
    assert!(peak < 160 << 20, "peak RSS {} MB", peak >> 20);
}

#[test]
fn a_one_gigabyte_value_is_reported_in_bounded_memory() {
    assert_reported(false);
}

#[test]
fn a_one_gigabyte_quoted_value_is_reported_in_bounded_memory() {
    assert_reported(true);
}

#[test]
fn a_row_of_two_hundred_million_fields_is_counted_in_bounded_memory() {
    const FIELDS: usize = 200 << 20;
    let (code, stdout, peak) = stream(b',', FIELDS, "x");
    assert_eq!(code, 1, "{stdout}");
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let d = &json["files"][0]["diagnostics"][0];
    assert_eq!(
        (d["line"].as_u64(), d["code"].as_str()),
        (Some(2), Some("wrong-field-count"))
    );
    let message = d["message"].as_str().unwrap();
    // Four fields before ClickId, ClickId, one more per comma, and Amount.
    let fields = 4 + 1 + FIELDS + 1;
    assert!(
        message.contains(&format!("row has {fields} fields")),
        "{message}"
    );
    assert!(peak > 0 && peak < 160 << 20, "peak RSS {} MB", peak >> 20);
}
