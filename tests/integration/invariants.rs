//! Invariants of validate, split, fix, the config parser and the API response readers that
//! hold for any input. Shared by the fuzz targets (`fuzz/`, which include this file), the
//! replay of kept fuzz inputs (`fuzz_regressions.rs`) and the property tests
//! (`properties.rs`). Each check panics when an invariant is broken.
//!
//! Only the library and std are used here, so that the fuzz crate can build this file too.

use convsubmit::api::client::{Reply, read_get, read_post};
use convsubmit::commands::status::{conversion_status, source_line};
use convsubmit::config::Config;
use convsubmit::diagnostic::{Diagnostic, Severity};
use convsubmit::input::{RecordReader, count_line_breaks};
use convsubmit::report::{self, Reporter, Summary};
use convsubmit::split::{PartReader, split_file};
use convsubmit::template::{self, BUILTIN_NAMES, Kind, Template};
use convsubmit::validate::{self, FileReport, Options};
use convsubmit::values::date::parse_day;
use std::collections::HashSet;
use std::path::Path;

/// Every template choice a run can make: `None` detects one from the header.
pub fn templates() -> Vec<Option<Template>> {
    let builtin = BUILTIN_NAMES
        .iter()
        .map(|n| Some(template::load(n).expect("a built-in template loads")));
    std::iter::once(None).chain(builtin).collect()
}

fn options(template: Option<Template>, max_rows: u64) -> Options {
    Options {
        template,
        as_of: parse_day("2026-06-30").expect("a valid day"),
        max_rows,
    }
}

/// Validates `input`, returning what was found; the run itself must not fail.
fn run_validate(input: &[u8], opts: &Options) -> (FileReport, Vec<Diagnostic>) {
    let mut found = vec![];
    let (report, outcome) = validate::check(
        "in.csv",
        Some("in.csv"),
        input,
        opts,
        &mut |_| {},
        &mut |d| {
            found.push(d.clone());
            Ok(())
        },
    );
    assert!(outcome.is_ok(), "validation failed: {outcome:?}");
    (report, found)
}

/// Records in `bytes` as the library's reader sees them.
fn records(bytes: &[u8]) -> u64 {
    let mut reader = RecordReader::new(bytes);
    let mut rec = Default::default();
    let mut n = 0;
    while reader.read(&mut rec).expect("reading a slice cannot fail") {
        n += 1;
    }
    n
}

/// Validation with template detection and with every built-in template: counts add up,
/// every line number points inside the input, rows are never more than the records, shown
/// text has no control characters, and every report format renders it.
pub fn check_validate(input: &[u8]) {
    let lines = 1 + count_line_breaks(input);
    let records = records(input);
    for template in templates() {
        let name = template.as_ref().map_or("auto", |t| t.name.as_str());
        let (report, found) = run_validate(input, &options(template.clone(), 3));
        let count = |s: Severity| found.iter().filter(|d| d.severity == s).count() as u64;
        assert_eq!(report.errors, count(Severity::Error), "{name}");
        assert_eq!(report.warnings, count(Severity::Warning), "{name}");
        assert_eq!(report.infos, count(Severity::Info), "{name}");
        // The header is a record too.
        assert!(
            report.rows == 0 || report.rows < records,
            "{name}: {} rows from {records} records",
            report.rows
        );
        assert!(report.orders <= report.rows, "{name}: {report:?}");
        for d in &found {
            assert_eq!(d.severity, d.code.severity(), "{name}: {d:?}");
            assert!(
                d.line.is_none_or(|l| l >= 1 && l <= lines),
                "{name}: line out of 1..={lines}: {d:?}"
            );
            assert!(
                d.row.is_none_or(|r| d.line.is_some_and(|l| l > r)),
                "{name}: row without a line after it: {d:?}"
            );
            let shown = [&d.message, &d.help].into_iter().chain(d.value.iter());
            assert!(
                shown.flat_map(|s| s.chars()).all(|c| !c.is_control()),
                "{name}: control character shown: {d:?}"
            );
        }
        render(&report, &found);
    }
}

/// Every diagnostic through the text, JSON and JSON Lines reports; the JSON must parse.
fn render(file: &FileReport, found: &[Diagnostic]) {
    let mut summary = Summary::default();
    summary.add(file);
    let drive = |r: &mut dyn Reporter| {
        r.begin_file(&file.path).unwrap();
        for d in found {
            r.diagnostic(&file.path, d).unwrap();
        }
        r.end_file(file).unwrap();
        r.finish(&summary).unwrap();
    };
    let mut text = vec![];
    let opts = report::TextOptions {
        color: true,
        quiet: false,
        max_per_code: 5,
    };
    drive(&mut report::Text::new(&mut text, opts));
    let mut json = vec![];
    drive(&mut report::Json::new(&mut json));
    serde_json::from_slice::<serde_json::Value>(&json).expect("the JSON report parses");
    let mut lines = vec![];
    drive(&mut report::JsonLines::new(&mut lines));
    for l in lines.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        serde_json::from_slice::<serde_json::Value>(l).expect("each JSON line parses");
    }
}

/// Empties `dir` (creating it when missing).
fn fresh(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).expect("a scratch folder");
}

/// Splits `input` into `dir` with the template and `max_rows` that `choice` picks: every
/// data row lands in exactly one part or the rejects; no part holds more than `max_rows`
/// rows; no order is in two parts (or twice in one); every part validates without errors,
/// with the rows the manifest says. Nothing is written when the file cannot be split.
pub fn check_split(input: &[u8], choice: u8, dir: &Path) {
    let all = templates();
    let template = all[choice as usize % all.len()].clone();
    let max_rows = 1 + u64::from(choice / 8 % 4);
    fresh(dir);
    let opts = options(template, max_rows);
    let outcome = split_file(
        "in.csv",
        input,
        &opts,
        dir,
        &mut |_| {},
        &mut |_| Ok(()),
        None,
    )
    .expect("splitting into a scratch folder does not fail");
    let Some(entry) = outcome.entry else {
        assert!(
            outcome.report.errors > 0,
            "nothing written without an error"
        );
        let left: Vec<_> = std::fs::read_dir(dir).unwrap().collect();
        assert!(left.is_empty(), "files left behind: {left:?}");
        return;
    };
    let report = outcome.report;
    assert_eq!(entry.rows, report.rows);
    let t = template::load(&entry.template).expect("the manifest names a built-in template");
    let kept: u64 = entry.parts.iter().map(|p| p.rows).sum();
    let set_aside = entry.rejects.as_ref().map_or(0, |r| r.rows);
    assert_eq!(
        kept + set_aside,
        report.rows,
        "rows in parts + rejects != data rows: {entry:?}"
    );
    let mut seen = HashSet::new();
    let (mut rows, mut key) = (vec![], vec![]);
    for part in &entry.parts {
        assert!(part.rows >= 1 && part.rows <= max_rows, "{part:?}");
        let path = dir.join(&part.file);
        let mut reader = PartReader::open(&path, Some(&t))
            .unwrap()
            .expect("a header");
        let mut counted = 0;
        while reader.next_order(&mut rows, &mut key).unwrap() {
            counted += rows.len() as u64;
            if t.kind != Kind::Modification && !key.is_empty() {
                assert!(
                    seen.insert(key.clone()),
                    "order {} is cut or repeated (in {})",
                    reader.order_id(&rows[0]),
                    part.file
                );
            }
        }
        assert_eq!(counted, part.rows, "{part:?}");
        let bytes = std::fs::read(&path).unwrap();
        let (again, found) = run_validate(&bytes, &options(Some(t.clone()), max_rows));
        let errors: Vec<_> = found
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .collect();
        assert!(errors.is_empty(), "{} has errors: {errors:?}", part.file);
        assert_eq!(again.rows, part.rows, "{part:?}");
    }
    if let Some(r) = &entry.rejects {
        let bytes = std::fs::read(dir.join(&r.file)).unwrap();
        assert_eq!(records(&bytes), r.rows + 1, "rejects: {r:?}");
    }
}

/// Fixes `input` with the template `choice` picks; where fixing succeeds, fixing the
/// output again changes nothing: same bytes, and nothing reported as changed.
pub fn check_fix(input: &[u8], choice: u8, dir: &Path) {
    let all = templates();
    let template = &all[choice as usize % all.len()];
    fresh(dir);
    let (src, once, twice) = (
        dir.join("in.csv"),
        dir.join("once.csv"),
        dir.join("twice.csv"),
    );
    std::fs::write(&src, input).unwrap();
    let first = convsubmit::fix::fix_file(src.to_str().unwrap(), &once, template.as_ref());
    if first.is_err() {
        assert!(!once.exists(), "a failed fix leaves no output");
        return;
    }
    let again = convsubmit::fix::fix_file(once.to_str().unwrap(), &twice, template.as_ref())
        .expect("the output of fix can be fixed again");
    let (a, b) = (
        std::fs::read(&once).unwrap(),
        std::fs::read(&twice).unwrap(),
    );
    assert!(
        a == b,
        "fix is not idempotent:\n once: {:?}\ntwice: {:?}",
        String::from_utf8_lossy(&a),
        String::from_utf8_lossy(&b)
    );
    assert!(again.is_empty(), "a second fix reports changes: {again:?}");
}

/// Any text is a config or an error; a config's paths and secret sources resolve.
pub fn check_config(text: &str) {
    match Config::parse(text) {
        Ok(c) => {
            let paths = [
                &c.sftp.key_file,
                &c.sftp.known_hosts,
                &c.ftp.ca_file,
                &c.email.ca_file,
                &c.ledger.path,
            ];
            for p in paths.into_iter().flatten() {
                let _ = c.resolve(p);
            }
            let _ = c.ledger_path(None);
            let sources = [
                (
                    &c.sftp.password_env,
                    &c.sftp.password_file,
                    &c.sftp.password_command,
                ),
                (
                    &c.ftp.password_env,
                    &c.ftp.password_file,
                    &c.ftp.password_command,
                ),
                (
                    &c.email.password_env,
                    &c.email.password_file,
                    &c.email.password_command,
                ),
                (
                    &c.api.auth_token_env,
                    &c.api.auth_token_file,
                    &c.api.auth_token_command,
                ),
            ];
            for (env, file, command) in sources {
                let set = [env.is_some(), file.is_some(), command.is_some()];
                let n = set.iter().filter(|&&s| s).count();
                let got = c.secret_source("[x] secret", env, file, command);
                assert_eq!(got.is_err(), n > 1, "{n} sources set");
            }
        }
        Err(e) => assert!(!format!("{e:#}").is_empty(), "an error says why"),
    }
}

/// Reads arbitrary bytes as an HTTP response (two bytes of status, `name: value` header
/// lines, an empty line, the body) through the API response readers and the status parsers.
pub fn check_api(data: &[u8]) {
    let (status, rest) = match data {
        [a, b, rest @ ..] => (u16::from_le_bytes([*a, *b]) % 1000, rest),
        _ => (200, data),
    };
    let (head, body) = match rest.windows(2).position(|w| w == b"\n\n") {
        Some(i) => (&rest[..i], &rest[i + 2..]),
        None => (&[][..], rest),
    };
    let mut headers = reqwest::header::HeaderMap::new();
    for line in head.split(|&b| b == b'\n') {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = reqwest::header::HeaderName::from_bytes(&line[..colon]);
        let value = reqwest::header::HeaderValue::from_bytes(&line[colon + 1..]);
        if let (Ok(n), Ok(v)) = (name, value) {
            headers.append(n, v);
        }
    }
    let body = String::from_utf8_lossy(body);
    let now = 1_800_000_000;
    let (outcome, _) = read_post(status, &headers, &body, now);
    match outcome {
        Reply::Queued { .. } => assert!(status == 200 || status == 201, "{status}"),
        Reply::Retry { status: s, .. } => {
            assert_eq!(s, status);
            assert!(
                matches!(status, 200 | 201 | 429) || status >= 500,
                "{status}"
            );
        }
        Reply::Refused { status: s, .. } => {
            assert_eq!(s, status);
            assert!(
                !matches!(status, 200 | 201 | 429) && status < 500,
                "{status}"
            );
        }
    }
    match read_get(status, &headers, &body, now) {
        Ok(v) => {
            assert_eq!(status, 200);
            let _ = conversion_status(&v);
        }
        Err(Reply::Queued { .. }) => panic!("a GET is never queued"),
        Err(_) => {}
    }
    let line = u64::from_le_bytes(
        data.iter()
            .copied()
            .chain([0; 8])
            .take(8)
            .collect::<Vec<_>>()
            .try_into()
            .unwrap(),
    );
    for l in [line, 1, 2, u64::MAX] {
        let _ = source_line(&body, l);
    }
}
