//! `convsubmit fix`: what it changes, what it keeps, and that it is idempotent.

use crate::generate::{self, Spec};
use crate::util::{AS_OF, Output, TestEnv};
use std::collections::HashMap;

fn fix(env: &TestEnv, args: &[&str]) -> Output {
    let mut all = vec!["fix", "--as-of", AS_OF];
    all.extend_from_slice(args);
    env.run(&all)
}

fn sha256_hex(s: &str) -> String {
    let out = std::process::Command::new("sh")
        .args(["-c", "printf '%s' \"$0\" | sha256sum", s])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()[..64].to_string()
}

/// Each order's rows as read by an independent parser, in file order.
fn orders(text: &str) -> HashMap<String, Vec<Vec<String>>> {
    let (header, rows) = generate::parse(text.as_bytes());
    let oid = header.iter().position(|h| h == "OrderId").unwrap();
    let mut by_order: HashMap<String, Vec<Vec<String>>> = HashMap::new();
    for r in rows {
        by_order
            .entry(r.fields[oid].clone())
            .or_default()
            .push(r.fields);
    }
    by_order
}

#[test]
fn scattered_orders_are_regrouped_stably_and_fix_is_idempotent() {
    for seed in 1..=10u64 {
        let env = TestEnv::new();
        let spec = Spec {
            scattered: 150,
            bad: 30,
            plain_emails: 20,
            newline: ["\n", "\r\n"][seed as usize % 2],
            multiline: seed % 3 == 0,
            ..Spec::clean(seed, 400)
        };
        let input = generate::item_level(&spec);
        env.write("in.csv", &input);
        let first = fix(&env, &["in.csv", "-o", "out.csv"]);
        assert!(first.stdout.contains("regrouped"), "{first:?}");
        let fixed = env.read("out.csv");
        // No row lost or added; each order keeps its rows in their order; emails hashed.
        let (before, after) = (orders(&input), orders(&fixed));
        assert_eq!(before.len(), after.len());
        for (id, rows) in &before {
            let hashed: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    let mut r = r.clone();
                    if r[5].contains('@') {
                        r[5] = sha256_hex(&r[5].trim().to_lowercase());
                    }
                    // `1,000.00` has a decimal point: its separator is certain to go.
                    if r[7] == "1,000.00" {
                        r[7] = "1000.00".into();
                    }
                    r
                })
                .collect();
            assert_eq!(after.get(id), Some(&hashed), "order {id}");
        }
        // Orders stay where their first row was.
        let first_seen = |text: &str| {
            let (_, rows) = generate::parse(text.as_bytes());
            let mut ids: Vec<String> = rows.into_iter().map(|r| r.fields[3].clone()).collect();
            ids.dedup();
            let mut seen = std::collections::HashSet::new();
            ids.retain(|i| seen.insert(i.clone()));
            ids
        };
        assert_eq!(first_seen(&input), first_seen(&fixed));
        // What is left is what fix cannot fix.
        let left = env.validate(&["--format", "jsonl", "out.csv"]);
        for line in left.stdout.lines() {
            assert!(
                !line.contains("order-not-consecutive") && !line.contains("plaintext-email"),
                "seed {seed}: {line}"
            );
        }
        assert_eq!(
            first.code, left.code,
            "fix exits as validate of its output does"
        );
        // A second run changes nothing.
        let again = fix(&env, &["out.csv", "-o", "again.csv"]);
        assert!(again.stdout.contains("nothing to change"), "{again:?}");
        assert_eq!(env.read("again.csv"), fixed);
    }
}

#[test]
fn mechanical_problems_are_fixed_and_reported() {
    let env = TestEnv::new();
    let input = "\u{feff}orderid, ActionTrackerId ,EventDate,Amount,CurrencyCode,ClickId,CustomerEmail\r\n\
        A1,1,2026-06-29,1.00,USD,c,Jane@Example.com \n\
        \r\n\
        A2,1,2026-06-29,2.00,USD,c,\r\
        A3,1,2026-06-29,\"3,00\",USD,c,\r\n";
    env.write("in.csv", input);
    let out = fix(&env, &["in.csv", "-o", "out.csv"]);
    out.assert_code(1);
    assert_eq!(
        env.read("out.csv"),
        format!(
            "OrderId,ActionTrackerId,EventDate,Amount,CurrencyCode,ClickId,CustomerEmail\r\n\
             A1,1,2026-06-29,1.00,USD,c,{}\r\n\
             A2,1,2026-06-29,2.00,USD,c,\r\n\
             A3,1,2026-06-29,\"3,00\",USD,c,\r\n",
            sha256_hex("jane@example.com")
        )
    );
    for said in [
        "fixed in.csv into out.csv (order-level, 3 rows)",
        "hashed 1 plain email (SHA-256 of the trimmed, lower-cased address)",
        "renamed column `orderid` to `OrderId`",
        "renamed column ` ActionTrackerId ` to `ActionTrackerId`",
        "removed the UTF-8 byte-order mark",
        "changed 2 line breaks to CRLF, like the header's",
        "removed 1 empty row",
        // What fix cannot fix is reported against the output.
        "out.csv:4: error[invalid-number]",
    ] {
        assert!(
            out.stdout.contains(said),
            "missing {said:?} in\n{}",
            out.stdout
        );
    }
    assert!(!out.stdout.contains("Jane@Example.com"));
}

#[test]
fn in_place_and_from_stdin() {
    let env = TestEnv::new();
    let input = generate::item_level(&Spec {
        scattered: 300,
        ..Spec::clean(9, 60)
    });
    env.write("in.csv", &input);
    let out = env.run_with_stdin(
        &["fix", "--as-of", AS_OF, "-", "-o", "from-stdin.csv"],
        input.as_bytes(),
    );
    out.assert_code(0);
    fix(&env, &["in.csv", "-o", "in.csv"]).assert_code(0);
    assert_eq!(env.read("in.csv"), env.read("from-stdin.csv"));
    assert_ne!(env.read("in.csv"), input);
    // No temporary file is left behind.
    let files = std::fs::read_dir(env.path()).unwrap().count();
    assert_eq!(files, 2);
}

#[test]
fn unusable_inputs_are_refused_with_exit_2() {
    let env = TestEnv::new();
    // UTF-16 without a byte-order mark: which one it is would be a guess.
    let bom_less = &crate::util::fixture("invalid/order-utf16le.csv")[2..];
    env.write("utf16.csv", bom_less);
    env.write("empty.csv", "");
    for (file, said) in [
        ("utf16.csv", "fix reads UTF-8 only"),
        ("empty.csv", "there is no header to fix"),
        ("missing.csv", "cannot open missing.csv"),
    ] {
        let out = fix(&env, &[file, "-o", "out.csv"]);
        out.assert_code(2);
        assert!(out.stderr.contains(said), "{out:?}");
    }
    assert!(!env.path().join("out.csv").exists());
}

#[test]
fn a_named_pipe_is_read_once_and_never_hangs() {
    let env = TestEnv::new();
    let input = generate::item_level(&Spec {
        scattered: 300,
        ..Spec::clean(10, 40)
    });
    let fifo = env.path().join("pipe.csv");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let writer = {
        let (fifo, input) = (fifo.clone(), input.clone());
        std::thread::spawn(move || std::fs::write(fifo, input).unwrap())
    };
    let out = fix(&env, &["pipe.csv", "-o", "out.csv"]);
    writer.join().unwrap();
    out.assert_code(0);
    assert!(out.stdout.contains("regrouped"), "{out:?}");
    env.write("in.csv", &input);
    fix(&env, &["in.csv", "-o", "direct.csv"]).assert_code(0);
    assert_eq!(env.read("out.csv"), env.read("direct.csv"));
}

#[test]
fn a_modification_file_has_nothing_to_regroup() {
    let env = TestEnv::new();
    for file in [
        "valid/modification-items.csv",
        "valid/modification-reset.csv",
    ] {
        env.copy_fixture(file);
        let out = fix(&env, &[file, "-o", "fixed.csv"]);
        out.assert_code(0);
        assert!(out.stdout.contains("nothing to change"), "{out:?}");
        assert_eq!(env.read("fixed.csv").as_bytes(), crate::util::fixture(file));
    }
}

#[test]
fn values_are_repaired_where_certain_and_reported_with_their_lines() {
    let env = TestEnv::new();
    let input = "CampaignId,ActionTrackerId,EventDate,OrderId,ClickId,Amount,CurrencyCode\n\
        18543,27015,2026-06-20T12:00:00Z, ORD-1 ,c1,\"1,234.56\",usd\n\
        18543,27015,2026-06-20T12:00:00Z,ORD-2,c2,\"10,5\", eur\n\
        18543,27015,2026-06-20T12:00:00Z,ORD-3,c3,\"1,000\",xyz\n\
        18543,27015,2026-06-20T12:00:00Z,ORD-4,c4,\"-12,345,678.90\",GBP\n";
    env.write("in.csv", input);
    let out = fix(&env, &["in.csv", "-o", "out.csv"]);
    for said in [
        "removed the spaces around 2 values (lines 2, 3 of the input)",
        "wrote 2 currency codes in capitals (lines 2, 3 of the input)",
        "removed the thousands separators of 2 amounts (lines 2, 5 of the input)",
    ] {
        assert!(out.stdout.contains(said), "{said}\n{}", out.stdout);
    }
    let fixed = env.read("out.csv");
    let rows: Vec<&str> = fixed.lines().skip(1).collect();
    assert_eq!(
        rows,
        [
            "18543,27015,2026-06-20T12:00:00Z,ORD-1,c1,1234.56,USD",
            "18543,27015,2026-06-20T12:00:00Z,ORD-2,c2,\"10,5\",EUR",
            "18543,27015,2026-06-20T12:00:00Z,ORD-3,c3,\"1,000\",xyz",
            "18543,27015,2026-06-20T12:00:00Z,ORD-4,c4,-12345678.90,GBP",
        ]
    );
    // What is left is a decision: a decimal comma, `1,000`, an unknown code, and an amount
    // too large for its type once it reads as one.
    let left = env.validate(&["--format", "json", "out.csv"]);
    let found = crate::model::parse_json(&left.stdout).files[0].findings();
    let codes: Vec<&str> = found.iter().map(|(_, c)| c.as_str()).collect();
    let want = [
        "invalid-number",
        "invalid-currency",
        "invalid-number",
        "number-out-of-range",
    ];
    assert_eq!(codes, want);
    let again = fix(&env, &["out.csv", "-o", "again.csv"]);
    assert!(again.stdout.contains("nothing to change"), "{again:?}");
}

#[test]
fn wide_files_with_a_byte_order_mark_become_utf8() {
    let env = TestEnv::new();
    let text = "CampaignId,ActionTrackerId,EventDate,OrderId,ClickId,Amount\n\
                18543,27015,2026-06-20T12:00:00Z,ÖRD-1,c1,10.00\n";
    let utf16: Vec<u8> = std::iter::once('\u{feff}')
        .chain(text.chars())
        .collect::<String>()
        .encode_utf16()
        .flat_map(u16::to_be_bytes)
        .collect();
    env.write("wide.csv", utf16);
    let out = fix(&env, &["wide.csv", "-o", "out.csv"]);
    out.assert_code(0);
    assert!(
        out.stdout
            .contains("converted the file from UTF-16BE to UTF-8"),
        "{out:?}"
    );
    assert_eq!(env.read("out.csv"), text);
}

/// Rows left as they are are copied in runs, line breaks and all; a run never carries a
/// line break that is not the header's, an empty row, or a row that moved.
#[test]
fn copied_runs_keep_only_the_headers_line_breaks() {
    let env = TestEnv::new();
    let row = |oid: &str, sku: &str| {
        format!("18543,27015,2026-06-28T09:15:00-07:00,{oid},c,CUST-1,USD,1.00,Shoes,{sku},1,")
    };
    let header = "CampaignId,ActionTrackerId,EventDate,OrderId,ClickId,CustomerId,CurrencyCode,Amount,Category,Sku,Quantity,MediaPartnerId";
    // An LF row then an empty row: together as long as one CRLF, which must not be copied.
    let input = format!(
        "{header}\r\n{}\n\n{}\r\n{}\r{}\r\n{}\r\n{}\r\n{}",
        row("A1", "s1"),
        row("A2", "s1"),
        row("A3", "s1"),
        row("A4", "s1"),
        row("A5", "s1"),
        row("A3", "s2"),
        row("A6", "s1"),
    );
    env.write("in.csv", &input);
    let out = fix(&env, &["in.csv", "-o", "out.csv"]);
    out.assert_code(0);
    let want: String = [
        header.to_string(),
        row("A1", "s1"),
        row("A2", "s1"),
        row("A3", "s1"),
        row("A3", "s2"),
        row("A4", "s1"),
        row("A5", "s1"),
        row("A6", "s1"),
    ]
    .iter()
    .map(|l| format!("{l}\r\n"))
    .collect();
    assert_eq!(env.read("out.csv"), want);
    for said in [
        "regrouped 1 order",
        "changed 2 line breaks to CRLF",
        "removed 1 empty row",
    ] {
        assert!(
            out.stdout.contains(said),
            "missing {said:?} in\n{}",
            out.stdout
        );
    }
    // And the same file once more is left as it is.
    let again = fix(&env, &["out.csv", "-o", "again.csv"]);
    again.assert_code(0);
    assert_eq!(env.read("again.csv"), want);
}
