//! A single value of 1 GB, streamed through standard input: reported with its real length,
//! and memory stays bounded (the reader keeps at most 16 MiB of a row).

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
    let env = TestEnv::new();
    let mut child = env
        .command(&["validate", "--as-of", AS_OF, "--format", "json", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut stdin = child.stdin.take().unwrap();
    let q = if quoted { "\"" } else { "" };
    write!(stdin, "{HEADER}18543,27015,2026-06-20T12:00:00Z,ORD-1,{q}").unwrap();
    let chunk = vec![b'c'; 1 << 20];
    let mut peak = 0;
    for i in 0..GB / chunk.len() {
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
