//! `convsubmit split`: parts, rejects and the manifest, checked against an independent CSV
//! reader (the `csv` crate) and against `validate` itself.

use crate::generate::{self, Spec};
use crate::util::{AS_OF, Output, TestEnv};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};

fn split(env: &TestEnv, args: &[&str]) -> Output {
    let mut all = vec!["split", "--as-of", AS_OF, "--out", "out"];
    all.extend_from_slice(args);
    env.run(&all)
}

fn manifest(env: &TestEnv) -> Value {
    serde_json::from_str(&env.read("out/manifest.json")).expect("manifest.json is JSON")
}

fn sha256(bytes: &[u8]) -> String {
    // The binary's own digest is what is under test, so compute it with a tool it does not use.
    let out = std::process::Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(bytes)?;
            c.wait_with_output()
        })
        .expect("sha256sum runs");
    String::from_utf8(out.stdout).unwrap()[..64].to_string()
}

/// Every invariant of one split of `input` (file `name` in `env`), checked independently.
/// Returns the number of parts.
fn check_split(env: &TestEnv, name: &str, input: &str, max_rows: usize) -> usize {
    let (header, source) = generate::parse(input.as_bytes());
    let by_line: HashMap<u64, &Vec<String>> = source.iter().map(|r| (r.line, &r.fields)).collect();
    let m = manifest(env);
    let entry = m["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["input"] == name)
        .expect("an entry for the input");
    assert_eq!(entry["rows"], source.len());
    assert_eq!(entry["sha256"], sha256(input.as_bytes()));
    let header_line = entry["header_line"].as_u64().unwrap();
    let oid = header.iter().position(|h| h == "OrderId").unwrap();
    let mut seen_lines: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    let mut part_of_order: HashMap<String, usize> = HashMap::new();
    let parts = entry["parts"].as_array().unwrap();
    for (i, p) in parts.iter().enumerate() {
        let file = p["file"].as_str().unwrap();
        let bytes = std::fs::read(env.path().join("out").join(file)).unwrap();
        assert_eq!(p["sha256"], sha256(&bytes), "{file}");
        assert_eq!(p["bytes"], bytes.len(), "{file}");
        let (part_header, rows) = generate::parse(&bytes);
        assert_eq!(part_header, header, "{file} starts with the header");
        assert!(
            !rows.is_empty() && rows.len() <= max_rows,
            "{file}: {}",
            rows.len()
        );
        assert_eq!(p["rows"], rows.len());
        let mut orders_here = 0;
        let mut last: Option<&str> = None;
        for r in &rows {
            let id = r.fields[oid].as_str();
            if last != Some(id) {
                orders_here += 1;
                let before = part_of_order.insert(id.to_string(), i);
                assert!(
                    before.is_none(),
                    "order {id} is cut or not consecutive ({file})"
                );
            }
            last = Some(id);
            let source_line = map_line(p, r.line, header_line).expect("every line maps back");
            assert_eq!(
                by_line.get(&source_line),
                Some(&&r.fields),
                "{file}:{}",
                r.line
            );
            assert!(seen_lines.insert(source_line, r.fields.clone()).is_none());
        }
        assert_eq!(p["orders"], orders_here);
        assert_eq!(p["first_order"], rows[0].fields[oid]);
        assert_eq!(p["last_order"], rows[rows.len() - 1].fields[oid]);
        // Every part passes validation on its own.
        env.validate(&["--max-rows", &max_rows.to_string(), &format!("out/{file}")])
            .assert_code(0);
    }
    let rejected_orders: HashSet<String> = match entry["rejects"].as_object() {
        None => HashSet::new(),
        Some(r) => {
            let text =
                std::fs::read(env.path().join("out").join(r["file"].as_str().unwrap())).unwrap();
            let (rh, rows) = generate::parse(&text);
            assert_eq!(rh[..3], ["line", "code", "message"]);
            assert_eq!(rh[3..], header[..]);
            assert_eq!(r["rows"], rows.len());
            let mut ids = HashSet::new();
            for row in rows {
                let line: u64 = row.fields[0].parse().unwrap();
                assert_eq!(
                    by_line.get(&line),
                    Some(&&row.fields[3..].to_vec()),
                    "reject at {line}"
                );
                assert!(!row.fields[1].is_empty() && !row.fields[2].is_empty());
                assert!(seen_lines.insert(line, row.fields[3..].to_vec()).is_none());
                ids.insert(row.fields[3 + oid].clone());
            }
            ids
        }
    };
    // Parts and rejects together hold every input row exactly once.
    assert_eq!(seen_lines.len(), source.len());
    // An order is wholly in a part or wholly set aside.
    for id in &rejected_orders {
        assert!(
            !part_of_order.contains_key(id),
            "order {id} is both sent and set aside"
        );
    }
    parts.len()
}

fn map_line(part: &Value, line: u64, header_line: u64) -> Option<u64> {
    if line == 1 {
        return Some(header_line);
    }
    part["lines"].as_array()?.iter().find_map(|r| {
        let (p, s, n) = (
            r["part_line"].as_u64()?,
            r["source_line"].as_u64()?,
            r["count"].as_u64()?,
        );
        (p..p + n).contains(&line).then(|| s + (line - p))
    })
}

#[test]
fn twenty_five_thousand_rows_make_three_parts_with_orders_intact() {
    let env = TestEnv::new();
    let input = generate::item_level(&Spec::clean(7, 25_000));
    env.write("sales.csv", &input);
    let out = split(&env, &["sales.csv"]);
    out.assert_code(0);
    assert_eq!(check_split(&env, "sales.csv", &input, 10_000), 3);
    for n in 1..=3 {
        let file = format!("2026-06-30_sales_part00{n}.csv");
        assert!(
            out.stdout.contains(&format!("wrote out/{file}: ")),
            "{}",
            out.stdout
        );
    }
    assert!(!env.path().join("out/sales.rejects.csv").exists());
}

#[test]
fn damaged_files_split_into_clean_parts_and_rejects() {
    let newlines = ["\n", "\r\n"];
    for seed in 1..=12u64 {
        let env = TestEnv::new();
        let spec = Spec {
            bad: 80,
            scattered: 60,
            plain_emails: 5,
            max_items: 1 + seed as usize % 6,
            newline: newlines[seed as usize % 2],
            multiline: seed % 3 == 0,
            ..Spec::clean(seed, 300 + seed as usize * 37)
        };
        let input = generate::item_level(&spec);
        env.write("in.csv", &input);
        let max_rows = [1, 2, 7, 50, 10_000][seed as usize % 5];
        let out = split(&env, &["--max-rows", &max_rows.to_string(), "in.csv"]);
        out.assert_code(1);
        check_split(&env, "in.csv", &input, max_rows);
    }
}

#[test]
fn max_rows_one_sends_single_row_orders_and_sets_larger_ones_aside() {
    let env = TestEnv::new();
    let input = generate::item_level(&Spec::clean(3, 200));
    env.write("in.csv", &input);
    split(&env, &["--max-rows", "1", "in.csv"]).assert_code(1);
    let parts = check_split(&env, "in.csv", &input, 1);
    let rejects = env.read("out/in.rejects.csv");
    assert!(
        rejects
            .lines()
            .skip(1)
            .all(|l| l.contains(",order-too-large,"))
    );
    let (_, rows) = generate::parse(input.as_bytes());
    let mut sizes: HashMap<&str, usize> = HashMap::new();
    for r in &rows {
        *sizes.entry(&r.fields[3]).or_default() += 1;
    }
    assert_eq!(parts, sizes.values().filter(|&&n| n == 1).count());
    assert!(parts > 0 && parts < sizes.len());
}

#[test]
fn the_whole_order_of_a_bad_row_is_set_aside_with_the_reason() {
    let env = TestEnv::new();
    env.copy_fixture("item-level-errors.csv");
    let out = split(&env, &["item-level-errors.csv"]);
    out.assert_code(1);
    let input = String::from_utf8(crate::util::fixture("item-level-errors.csv")).unwrap();
    check_split(&env, "item-level-errors.csv", &input, 10_000);
    let rejects = env.read("out/item-level-errors.rejects.csv");
    // ORD-10481's first rows (lines 2-3) are clean, but its row on line 6 is apart from them.
    assert!(rejects.contains("\n2,order-not-consecutive,\"set aside with its order"));
    assert!(rejects.contains("\n4,invalid-number,"));
    assert!(
        out.stdout
            .contains("set aside 6 rows (4 orders) in out/item-level-errors.rejects.csv")
    );
}

#[test]
fn order_level_duplicates_lose_only_the_repeat() {
    let env = TestEnv::new();
    env.copy_fixture("invalid/order-duplicate.csv");
    split(&env, &["invalid/order-duplicate.csv"]).assert_code(1);
    let rejects = env.read("out/order-duplicate.rejects.csv");
    let codes: Vec<&str> = rejects
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap())
        .collect();
    assert!(
        !codes.is_empty() && codes.iter().all(|&c| c == "duplicate-order"),
        "{rejects}"
    );
    let input = String::from_utf8(crate::util::fixture("invalid/order-duplicate.csv")).unwrap();
    let m = manifest(&env);
    let file = m["files"][0]["parts"][0]["file"]
        .as_str()
        .unwrap()
        .to_string();
    let part = env.read(&format!("out/{file}"));
    assert_eq!(part.lines().count() + codes.len(), input.lines().count());
}

#[test]
fn file_level_errors_write_nothing() {
    let env = TestEnv::new();
    env.copy_fixture("invalid/item-missing-columns.csv");
    env.copy_fixture("invalid/order-utf16le.csv");
    let out = split(
        &env,
        &[
            "invalid/item-missing-columns.csv",
            "invalid/order-utf16le.csv",
        ],
    );
    out.assert_code(1);
    assert!(out.stdout.contains("missing-column"));
    assert!(out.stdout.contains("invalid-encoding"));
    assert!(out.stdout.contains("nothing written"));
    let files: Vec<_> = std::fs::read_dir(env.path().join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(files, ["manifest.json"]);
    assert_eq!(manifest(&env)["files"], serde_json::json!([]));
}

#[test]
fn a_rerun_replaces_the_previous_parts() {
    let env = TestEnv::new();
    env.write("s.csv", generate::item_level(&Spec::clean(5, 300)));
    split(&env, &["--max-rows", "50", "s.csv"]).assert_code(0);
    env.write("other.csv", generate::item_level(&Spec::clean(6, 10)));
    split(&env, &["other.csv"]).assert_code(0);
    assert!(env.path().join("out/2026-06-30_s_part006.csv").exists());
    // Fewer rows now: the old parts beyond the new count must not linger.
    let small = generate::item_level(&Spec::clean(5, 20));
    env.write("s.csv", &small);
    split(&env, &["--max-rows", "50", "s.csv"]).assert_code(0);
    let mut files: Vec<_> = std::fs::read_dir(env.path().join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    assert_eq!(
        files,
        ["2026-06-30_other.csv", "2026-06-30_s.csv", "manifest.json"]
    );
    assert_eq!(manifest(&env)["files"].as_array().unwrap().len(), 2);
    check_split(&env, "s.csv", &small, 50);
}

#[test]
fn stdin_and_odd_line_breaks() {
    let env = TestEnv::new();
    let input = "CampaignId,OrderId,ActionTrackerId,EventDate,Amount,CurrencyCode,ClickId\r\
        9,A1,1,2026-06-29T10:00:00Z,1.00,USD,c\r\
        9,A2,1,2026-06-29T10:00:00Z,2.00,USD,c";
    let out = env.run_with_stdin(
        &["split", "--as-of", AS_OF, "--out", "o", "-"],
        input.as_bytes(),
    );
    out.assert_code(0);
    // A lone CR becomes CRLF; a missing final line break is added.
    assert_eq!(
        env.read("o/2026-06-30_stdin.csv"),
        "CampaignId,OrderId,ActionTrackerId,EventDate,Amount,CurrencyCode,ClickId\r\n9,A1,1,2026-06-29T10:00:00Z,1.00,USD,c\r\n9,A2,1,2026-06-29T10:00:00Z,2.00,USD,c\r\n"
    );
}

#[test]
fn refuses_to_overwrite_its_input_or_mix_two_inputs() {
    let env = TestEnv::new();
    env.write(
        "out/2026-06-01_s.csv",
        generate::item_level(&Spec::clean(1, 5)),
    );
    let out = split(&env, &["out/2026-06-01_s.csv"]);
    out.assert_code(2);
    assert!(
        out.stderr
            .contains("would be overwritten by its own output"),
        "{out:?}"
    );
    env.write("a/s.csv", "x");
    env.write("b/s.csv", "x");
    let out = split(&env, &["a/s.csv", "b/s.csv"]);
    out.assert_code(2);
    assert!(out.stderr.contains("two inputs are named `s`"), "{out:?}");
    split(&env, &["missing.csv"]).assert_code(2);
}

#[test]
fn every_fixture_splits_into_parts_that_validate_and_rejects_that_add_up() {
    let fixtures = crate::util::fixtures_dir();
    let mut names = vec![];
    for dir in ["valid", "invalid"] {
        for e in std::fs::read_dir(fixtures.join(dir)).unwrap() {
            names.push(format!(
                "{dir}/{}",
                e.unwrap().file_name().to_string_lossy()
            ));
        }
    }
    names.extend([
        "item-level-errors.csv".into(),
        "item-level-valid.csv".into(),
    ]);
    names.sort();
    let env = TestEnv::new();
    for name in &names {
        env.copy_fixture(name);
        let out = split(&env, &["--max-rows", "3", name]);
        assert!(out.code == 0 || out.code == 1, "{name}: {out:?}");
        let m = manifest(&env);
        let Some(entry) = m["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["input"] == name.as_str())
        else {
            // Nothing written: the file had a file-level error.
            assert_eq!(out.code, 1, "{name}");
            assert!(out.stdout.contains("nothing written"), "{name}: {out:?}");
            continue;
        };
        let mut rows = 0;
        for p in entry["parts"].as_array().unwrap() {
            let file = format!("out/{}", p["file"].as_str().unwrap());
            env.validate(&["--max-rows", "3", &file]).assert_code(0);
            rows += p["rows"].as_u64().unwrap();
        }
        let rejected = entry["rejects"]["rows"].as_u64().unwrap_or(0);
        assert_eq!(rows + rejected, entry["rows"].as_u64().unwrap(), "{name}");
        assert_eq!(out.code == 1, rejected > 0, "{name}: {out:?}");
    }
}

/// The `orders` of `validate --format json` for `file`.
fn validated_orders(env: &TestEnv, file: &str) -> u64 {
    let out = env.validate(&["--format", "json", file]);
    crate::model::parse_json(&out.stdout).files[0].orders
}

#[test]
fn order_level_rejects_count_one_order_for_the_rows_of_one_order() {
    let env = TestEnv::new();
    let header = "CampaignId,ActionTrackerId,EventDate,OrderId,ClickId,Amount";
    env.write(
        "dup.csv",
        format!(
            "{header}\n18543,27015,2026-06-20T12:00:00Z,ORD-1,c,fifty\n\
             18543,27015,2026-06-20T12:00:00Z,ORD-1,c,sixty\n\
             18543,27015,2026-06-20T12:00:00Z,ORD-2,c,1.00\n"
        ),
    );
    let out = split(&env, &["dup.csv"]);
    out.assert_code(1);
    assert!(
        out.stdout.contains("set aside 2 rows (1 order) in out"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains(": 1 row, 1 order\n"), "{}", out.stdout);
    let m = manifest(&env);
    assert_eq!(m["files"][0]["rejects"]["orders"], 1);
    assert_eq!(m["files"][0]["orders"], validated_orders(&env, "dup.csv"));
}

#[test]
fn a_modification_file_has_as_many_orders_in_validate_as_in_split() {
    let env = TestEnv::new();
    env.copy_fixture("valid/modification.csv");
    let rows = crate::util::fixture("valid/modification.csv")
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .count() as u64
        - 1;
    // One row per action: each row is an order of its own.
    assert_eq!(validated_orders(&env, "valid/modification.csv"), rows);
    let out = split(&env, &["valid/modification.csv"]);
    out.assert_code(0);
    let m = manifest(&env);
    let entry = &m["files"][0];
    assert_eq!(entry["orders"], rows);
    let parts: u64 = (entry["parts"].as_array().unwrap().iter())
        .map(|p| p["orders"].as_u64().unwrap())
        .sum();
    assert_eq!(parts, rows);
    let summary = format!("modification, {rows} rows, {rows} orders");
    assert!(out.stdout.contains(&summary), "{}", out.stdout);
}

#[test]
fn reset_and_item_level_modification_files_split_one_row_per_action() {
    for file in [
        "valid/modification-reset.csv",
        "valid/modification-items.csv",
    ] {
        let env = TestEnv::new();
        env.copy_fixture(file);
        let out = split(&env, &[file]);
        out.assert_code(0);
        let rows = crate::util::fixture(file)
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .count() as u64
            - 1;
        let entry = &manifest(&env)["files"][0];
        assert_eq!(
            (entry["rows"].as_u64(), entry["orders"].as_u64()),
            (Some(rows), Some(rows)),
            "{file}"
        );
    }
    // A rejected item-level modification goes to the rejects file, the rest is written.
    let env = TestEnv::new();
    env.write(
        "items.csv",
        "ActionTrackerId,Oid,Reason,Sku1,Quantity1\n16027,O1,ITEM_RETURNED,SKU-1,\n16027,O2,ITEM_RETURNED,SKU-1,0\n",
    );
    let out = split(&env, &["items.csv"]);
    out.assert_code(1);
    let rejects = env.read("out/items.rejects.csv");
    assert!(
        rejects.contains("2,missing-value,`Quantity1` is empty,16027,O1"),
        "{rejects}"
    );
    assert!(!rejects.contains("O2"), "{rejects}");
}

#[test]
fn the_rejects_file_keeps_input_line_order() {
    let env = TestEnv::new();
    let header =
        "CampaignId,ActionTrackerId,EventDate,OrderId,ClickId,Sku,Category,Quantity,Amount";
    let row = |id: &str, amount: &str| {
        format!("18543,27015,2026-06-20T12:00:00Z,{id},c1,S1,Books,1,{amount}\n")
    };
    // ORD-A comes back twice (its first row went into a part before that was known); ORD-C's
    // second row is bad, and a row without OrderId lies between ORD-C's rows.
    let rows = [
        row("ORD-A", "1.00"),
        row("ORD-B", "1.00"),
        row("ORD-A", "1.00"),
        row("ORD-C", "1.00"),
        row("", "1.00"),
        row("ORD-C", "fifty"),
        row("ORD-A", "1.00"),
        row("ORD-D", "1.00"),
    ];
    env.write("scattered.csv", format!("{header}\n{}", rows.concat()));
    let out = split(&env, &["scattered.csv"]);
    out.assert_code(1);
    let rejects = env.read("out/scattered.rejects.csv");
    let lines: Vec<u64> = (rejects.lines().skip(1))
        .map(|l| l.split(',').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(lines, [2, 4, 5, 6, 7, 8], "{rejects}");
    let kept = env.read("out/2026-06-30_scattered.csv");
    assert!(
        kept.contains("ORD-B") && kept.contains("ORD-D") && !kept.contains("ORD-A"),
        "{kept}"
    );
}

#[test]
fn a_part_name_never_starts_with_a_prefix_impact_com_reserves() {
    let env = TestEnv::new();
    env.write(
        "Receipt_2026-06-01.csv",
        generate::item_level(&Spec::clean(5, 30)),
    );
    let out = split(&env, &["--max-rows", "10", "Receipt_2026-06-01.csv"]);
    out.assert_code(0);
    let m = manifest(&env);
    let parts = m["files"][0]["parts"].as_array().unwrap();
    assert!(parts.len() > 1, "{m}");
    for p in parts {
        let name = p["file"].as_str().unwrap();
        assert!(
            name.starts_with(&format!("{AS_OF}_Receipt_2026-06-01_part")),
            "{name}"
        );
        assert!(env.path().join("out").join(name).is_file(), "{name}");
    }
    assert!(
        out.stdout
            .contains("impact.com ignores files whose names start with `receipt_`"),
        "{out:?}"
    );
}
