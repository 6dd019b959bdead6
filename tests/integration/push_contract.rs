//! The push contract (spec §5–§7) on every channel at once: `--max-time` ending a delivery
//! with one true message, permanent and temporary failures and what they ask of a person,
//! `--quiet` silent on a success that needed a retry, the JSON report of a delivery, the
//! one `--dir` rule, and `--dry-run`.

use crate::generate::{self, Spec};
use crate::push::files_in;
use crate::servers::api::{ApiOptions, ApiServer, ErrorShape};
use crate::servers::ftp::{FtpOptions, FtpServer};
use crate::servers::raw::{RawServer, Step};
use crate::servers::sftp::{SftpOptions, SftpServer};
use crate::servers::smtp::{SmtpOptions, SmtpServer, Stage};
use crate::util::{AS_OF, Output, TestEnv};
use serde_json::Value;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

const SECRET: &str = "contract-pw-Rt5!sEcReT";
const SECRET_VAR: &str = "CONTRACT_SECRET";
const SID: &str = "IRcontract0000000000000000000001";

/// One channel, and the server behind it (alive while the rig lives).
enum Rig {
    Dir,
    Ftp(FtpServer),
    Sftp(SftpServer),
    Email(SmtpServer),
    Api(ApiServer),
}

impl Rig {
    fn ftp() -> Rig {
        Rig::Ftp(FtpServer::start(FtpOptions {
            user: "acme".into(),
            password: SECRET.into(),
            ..FtpOptions::default()
        }))
    }

    fn sftp() -> Rig {
        Rig::Sftp(SftpServer::start(SftpOptions::password("acme", SECRET)))
    }

    /// The FTP server's faults.
    fn ftp_faults(&self) -> &crate::servers::ftp::Faults {
        let Rig::Ftp(s) = self else { panic!("not FTP") };
        &s.faults
    }

    /// The SFTP server's faults.
    fn sftp_faults(&self) -> &crate::servers::sftp::Faults {
        let Rig::Sftp(s) = self else {
            panic!("not SFTP")
        };
        &s.faults
    }

    fn email() -> Rig {
        Rig::Email(SmtpServer::start(SmtpOptions {
            auth: Some(("acme".into(), SECRET.into())),
            ..SmtpOptions::default()
        }))
    }

    fn api(latency: Duration) -> Rig {
        Rig::Api(ApiServer::start(ApiOptions {
            latency,
            ..ApiOptions::new(SID, SECRET)
        }))
    }

    fn all() -> Vec<Rig> {
        vec![
            Rig::Dir,
            Rig::ftp(),
            Rig::sftp(),
            Rig::email(),
            Rig::api(Duration::ZERO),
        ]
    }

    fn name(&self) -> &'static str {
        match self {
            Rig::Dir => "dir",
            Rig::Ftp(_) => "ftp",
            Rig::Sftp(_) => "sftp",
            Rig::Email(_) => "email",
            Rig::Api(_) => "api",
        }
    }

    /// Writes the config (and, for `--dir`, makes the folder); returns the channel's flags.
    fn setup(&self, env: &TestEnv) -> Vec<String> {
        let (section, flag) = match self {
            Rig::Dir => {
                std::fs::create_dir(env.path().join("inbox")).unwrap();
                return vec!["--dir".into(), "inbox".into()];
            }
            Rig::Ftp(s) => (host_section("ftp", s.port, ""), "--ftp"),
            Rig::Sftp(s) => {
                let pin = format!("host_key = \"{}\"\n", s.host_key_sha256);
                (host_section("sftp", s.port, &pin), "--sftp")
            }
            Rig::Email(s) => (email_section(s.port), "--email"),
            Rig::Api(s) => (api_section(&s.base_url), "--api"),
        };
        env.write("convsubmit.toml", section);
        vec![flag.into()]
    }

    /// The files under their final names at the destination.
    fn arrived(&self, env: &TestEnv) -> Vec<String> {
        let files = match self {
            Rig::Dir => files_in(&env.path().join("inbox")).into_iter().collect(),
            Rig::Ftp(s) => s.files(),
            Rig::Sftp(s) => s.files(),
            Rig::Email(_) | Rig::Api(_) => vec![],
        };
        files
            .into_iter()
            .map(|(name, _)| name)
            .filter(|n| !n.starts_with('.'))
            .collect()
    }
}

fn host_section(section: &str, port: u16, extra: &str) -> String {
    format!(
        "[{section}]\nhost = \"127.0.0.1\"\nport = {port}\nusername = \"acme\"\npassword_env = \"{SECRET_VAR}\"\n{extra}"
    )
}

fn email_section(port: u16) -> String {
    format!(
        "[email]\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {port}\ntls = \"none\"\nusername = \"acme\"\npassword_env = \"{SECRET_VAR}\"\nfrom = \"reports@acme.example\"\nto = \"x@batch.impact.com\"\n"
    )
}

fn api_section(base_url: &str) -> String {
    format!(
        "[api]\nbase_url = \"{base_url}\"\nallow_insecure_http = true\naccount_sid = \"{SID}\"\nauth_token_env = \"{SECRET_VAR}\"\nconcurrency = 1\n"
    )
}

/// `convsubmit push --as-of AS_OF --ledger ledger.sqlite FLAGS... ARGS...`, the secret in
/// the environment (and never in the output).
fn push(env: &TestEnv, flags: &[String], args: &[&str]) -> Output {
    let out = push_env(env, flags, args, &[(SECRET_VAR, SECRET)]);
    for text in [&out.stdout, &out.stderr] {
        assert!(!text.contains(SECRET), "the secret leaked:\n{out:?}");
    }
    out
}

/// The same push with `vars` as its only extra environment.
fn push_env(env: &TestEnv, flags: &[String], args: &[&str], vars: &[(&str, &str)]) -> Output {
    let mut all = vec!["push", "--as-of", AS_OF, "--ledger", "ledger.sqlite"];
    all.extend(flags.iter().map(String::as_str));
    all.extend_from_slice(args);
    env.run_env(&all, vars)
}

fn flags(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// The lines of standard error that start an error.
fn errors(out: &Output) -> Vec<&str> {
    out.stderr
        .lines()
        .filter(|l| l.starts_with("convsubmit: error:"))
        .collect()
}

// --- `--max-time` in the middle of a delivery ------------------------------------------------

/// `--max-time` of the trials.
const MAX_TIME: &str = "2";
/// The longest a trial may take: `--max-time`, the watchdog's grace, start-up.
const TRIAL_LIMIT: Duration = Duration::from_secs(8);

/// A run that `--max-time` ended: exit 3, one error, and a true one (the watchdog's, the
/// lane's out-of-time error or the loop's), saying to re-run later; no false error made of
/// the work folder the watchdog removed.
#[track_caller]
fn assert_one_true_timeout(trial: &str, out: &Output, took: Duration) {
    assert_eq!(out.code, 3, "{trial}: {out:#?}");
    let errors = errors(out);
    assert_eq!(errors.len(), 1, "{trial}: one error, not {errors:?}");
    let true_words = [
        "did not finish answering within --max-time",
        "out of time (--max-time)",
        "--max-time ran out",
        "ran out while reading the input; nothing was sent",
    ];
    assert!(
        true_words.iter().any(|w| errors[0].contains(w)),
        "{trial}: {out:#?}"
    );
    for false_words in [
        "No such file or directory",
        "write failed",
        "a permanent failure",
    ] {
        assert!(!out.stderr.contains(false_words), "{trial}: {out:#?}");
    }
    assert!(out.stderr.contains("re-run later"), "{trial}: {out:#?}");
    assert!(took <= TRIAL_LIMIT, "{trial}: took {took:?}");
    eprintln!(
        "{trial}: exit 3 in {:.1}s: {}",
        took.as_secs_f64(),
        errors[0]
    );
}

/// Runs `trial` five times side by side (to catch races), each on its own rig; `trial`
/// returns what one run printed and how long it took.
fn five_trials(name: &str, trial: impl Fn(usize) -> (Output, Duration) + Sync) {
    std::thread::scope(|s| {
        let runs: Vec<_> = (0..5)
            .map(|i| {
                s.spawn({
                    let trial = &trial;
                    move || (i, trial(i))
                })
            })
            .collect();
        for run in runs {
            let (i, (out, took)) = run.join().unwrap();
            assert_one_true_timeout(&format!("{name} trial {i}"), &out, took);
        }
    });
}

/// A timed push: what it printed, how long it took, and how many parts it says it sent.
fn timed_push(env: &TestEnv, flags: &[String], args: &[&str]) -> (Output, Duration, usize) {
    let started = Instant::now();
    let out = push(env, flags, args);
    let took = started.elapsed();
    let sent = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("sent "))
        .count();
    (out, took, sent)
}

/// An input of about 600 rows: six parts or so with `--max-rows 100`.
fn six_parts(env: &TestEnv) -> &'static str {
    env.write("sales.csv", generate::item_level(&Spec::clean(21, 600)))
}

#[test]
fn max_time_during_slow_ftp_uploads_is_exit_3_with_one_true_message() {
    five_trials("ftp", |i| {
        let rig = Rig::ftp();
        // Each part takes 0.6 s to 3 s: the deadline falls on another part each time, and
        // the slower replies outlast the lane's own timeout.
        let latency = Duration::from_millis(600 + 600 * i as u64);
        rig.ftp_faults().upload_latency(latency);
        let env = TestEnv::new();
        let flags = rig.setup(&env);
        let input = six_parts(&env);
        let args = ["--max-time", MAX_TIME, "--max-rows", "100", input];
        let (out, took, sent) = timed_push(&env, &flags, &args);
        // What arrived under a final name is what the run says it sent, no more.
        assert_eq!(rig.arrived(&env).len(), sent, "trial {i}: {out:#?}");
        assert!(sent < 6, "trial {i}: {out:#?}");
        (out, took)
    });
}

#[test]
fn max_time_during_a_stalled_sftp_write_is_exit_3_with_one_true_message() {
    five_trials("sftp", |i| {
        let rig = Rig::sftp();
        rig.sftp_faults().stall_writes(true);
        let env = TestEnv::new();
        let flags = rig.setup(&env);
        let input = six_parts(&env);
        let max_time = (1 + i % 2).to_string();
        let args = ["--max-time", &max_time, "--max-rows", "100", input];
        let (out, took, sent) = timed_push(&env, &flags, &args);
        assert_eq!(
            (sent, rig.arrived(&env).len()),
            (0, 0),
            "trial {i}: {out:#?}"
        );
        (out, took)
    });
}

#[test]
fn max_time_while_an_smtp_server_drips_its_last_reply_is_the_watchdogs_one_message() {
    let send = |s: &str| Step::Send(s.as_bytes().to_vec());
    let script = vec![
        send("220 drip ESMTP\r\n"),
        Step::ReadLine,
        send("250-drip\r\n250 AUTH PLAIN\r\n"),
        Step::ReadLine,
        send("235 ok\r\n"),
        Step::ReadLine,
        send("250 ok\r\n"),
        Step::ReadLine,
        send("250 ok\r\n"),
        Step::ReadLine,
        send("354 go ahead\r\n"),
        Step::ReadSome,
        // The message went; its reply comes a byte at a time, never ending.
        Step::Drip(b"250".to_vec(), Duration::from_millis(150)),
    ];
    five_trials("email", |i| {
        let server = RawServer::start(script.clone());
        let env = TestEnv::new();
        env.write("convsubmit.toml", email_section(server.port));
        crate::push_email::one_event_type(&env);
        let started = Instant::now();
        let out = push(
            &env,
            &flags(&["--email"]),
            &["--max-time", MAX_TIME, "item-level-valid.csv"],
        );
        assert!(server.accepted() >= 1, "trial {i}: never connected");
        assert!(
            out.stderr
                .contains("did not finish answering within --max-time"),
            "trial {i}: {out:#?}"
        );
        (out, started.elapsed())
    });
}

#[test]
fn max_time_during_slow_api_answers_is_exit_3_with_one_true_message() {
    five_trials("api", |i| {
        let rig = Rig::api(Duration::from_millis(500 + 400 * i as u64));
        let Rig::Api(server) = &rig else {
            unreachable!()
        };
        let env = TestEnv::new();
        let flags = rig.setup(&env);
        env.copy_fixture("item-level-valid.csv");
        let args = ["--max-time", MAX_TIME, "item-level-valid.csv"];
        let (out, took, _) = timed_push(&env, &flags, &args);
        assert!(
            server.conversion_requests().len() < 7,
            "trial {i}: {out:#?}"
        );
        (out, took)
    });
}

#[test]
fn max_time_in_the_middle_of_a_folder_delivery_is_exit_3_and_leaves_the_rest_to_the_next_run() {
    // 800 parts of one row: writing each part (and its two ledger commits) takes
    // milliseconds, so the deadline falls among the parts, once reading is done in time.
    let rows: String = generate::item_level(&Spec {
        max_items: 1,
        ..Spec::clean(22, 800)
    });
    five_trials("dir", |i| {
        let env = TestEnv::new();
        let flags = Rig::Dir.setup(&env);
        env.write("sales.csv", &rows);
        let args = ["--max-rows", "1", "sales.csv"];
        let (mut out, mut took, mut sent) = (None, Duration::ZERO, 0);
        // A loaded machine can take longer to read than --max-time (a true message too,
        // checked): then again with a second more, until the deadline falls among the parts.
        for max_time in ["3", "4", "5"] {
            let limited = [&["--max-time", max_time][..], &args].concat();
            let run = timed_push(&env, &flags, &limited);
            (took, sent) = (run.1, run.2);
            if sent > 0 {
                out = Some(run.0);
                break;
            }
            assert_one_true_timeout(&format!("dir trial {i} (reading)"), &run.0, took);
        }
        let out =
            out.unwrap_or_else(|| panic!("trial {i}: the deadline never fell among the parts"));
        assert!(sent < 800, "trial {i}: not mid-delivery: {out:#?}");
        assert_eq!(Rig::Dir.arrived(&env).len(), sent, "trial {i}: {out:#?}");
        // The ledger lists exactly what was sent: the next run sends the rest.
        let next = push(&env, &flags, &[&["--dry-run"][..], &args].concat());
        let rest = format!(
            "would send {} parts of 800 to dir:inbox; {sent} already delivered",
            800 - sent
        );
        assert!(next.stdout.contains(&rest), "trial {i}: {next:#?}");
        (out, took)
    });
}

// --- permanent and temporary failures --------------------------------------------------------

/// A permanent failure: exit 4, one error, a help line naming what to change, and no word
/// of re-running or retrying.
#[track_caller]
fn assert_permanent(case: &str, out: &Output, names: &str) {
    assert_eq!(out.code, 4, "{case}: {out:#?}");
    assert_eq!(errors(out).len(), 1, "{case}: {out:#?}");
    let help: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("  help: "))
        .collect();
    assert!(
        help.iter().any(|h| h.contains(names)),
        "{case}: no help naming {names:?}: {out:#?}"
    );
    for rerun in [
        "re-run to send the rest",
        "re-run later",
        "retrying",
        "re-run",
    ] {
        assert!(
            !out.stderr.contains(rerun),
            "{case}: says {rerun:?}: {out:#?}"
        );
    }
}

/// Runs a push with `secret` (not the server's) as the channel's secret.
fn push_with_secret(env: &TestEnv, flags: &[String], secret: &str) -> Output {
    push_env(
        env,
        flags,
        &["item-level-valid.csv"],
        &[(SECRET_VAR, secret)],
    )
}

#[test]
fn permanent_failures_exit_4_and_name_what_to_change_without_a_rerun() {
    let wrong = "not-the-secret-Wq3";
    for rig in [Rig::ftp(), Rig::sftp(), Rig::api(Duration::ZERO)] {
        let env = TestEnv::new();
        let flags = rig.setup(&env);
        env.copy_fixture("item-level-valid.csv");
        let out = push_with_secret(&env, &flags, wrong);
        let names = match rig {
            Rig::Api(_) => "auth token",
            _ => "password",
        };
        assert_permanent(&format!("{} wrong secret", rig.name()), &out, names);
        assert!(rig.arrived(&env).is_empty());
    }
    // An SFTP host key that known_hosts does not list.
    let rig = Rig::sftp();
    let Rig::Sftp(server) = &rig else {
        unreachable!()
    };
    let env = TestEnv::new();
    env.write("known_hosts", "");
    env.write(
        "convsubmit.toml",
        host_section("sftp", server.port, "known_hosts = \"known_hosts\"\n"),
    );
    env.copy_fixture("item-level-valid.csv");
    let out = push_with_secret(&env, &flags(&["--sftp"]), SECRET);
    assert_permanent("sftp unknown host key", &out, "host_key = \"SHA256:");
    // A folder that does not exist.
    let env = TestEnv::new();
    env.copy_fixture("item-level-valid.csv");
    let out = push_with_secret(&env, &flags(&["--dir", "missing"]), SECRET);
    assert_permanent("missing --dir", &out, "mkdir -p missing");
}

#[test]
fn a_refused_connection_is_temporary_and_says_rerun_later() {
    // A port that was just free: nothing listens there any more.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let sections = [
        ("--ftp", host_section("ftp", port, "")),
        (
            "--sftp",
            host_section(
                "sftp",
                port,
                "host_key = \"SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"\n",
            ),
        ),
        ("--email", email_section(port)),
        ("--api", api_section(&format!("http://127.0.0.1:{port}"))),
    ];
    for (flag, section) in sections {
        let env = TestEnv::new();
        env.write("convsubmit.toml", section);
        crate::push_email::one_event_type(&env);
        let out = push(
            &env,
            &flags(&[flag]),
            &["--retries", "1", "item-level-valid.csv"],
        );
        assert_eq!(out.code, 3, "{flag}: {out:#?}");
        assert_eq!(errors(&out).len(), 1, "{flag}: {out:#?}");
        assert!(out.stderr.contains("retrying in"), "{flag}: {out:#?}");
        assert!(
            out.stderr
                .contains("  help: a temporary failure: re-run later"),
            "{flag}: {out:#?}"
        );
    }
}

// --- `--quiet` ---------------------------------------------------------------------------------

/// Arms a one-time temporary fault on the rig's server; returns a check that it fired (the
/// run retried).
fn one_temporary_fault<'a>(rig: &'a Rig, env: &TestEnv) -> Box<dyn Fn() -> bool + 'a> {
    match rig {
        // The ledger held by another run for a second: the run waits, then delivers.
        Rig::Dir => {
            let lock = std::fs::File::create(env.path().join("ledger.sqlite.lock")).unwrap();
            lock.lock().unwrap();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_secs(1));
                drop(lock);
            });
            let armed = Instant::now();
            Box::new(move || armed.elapsed() >= Duration::from_secs(1))
        }
        Rig::Ftp(s) => {
            s.clear_log();
            s.faults.disk_full_times(1);
            Box::new(|| s.verbs().iter().filter(|v| *v == "STOR").count() == 2)
        }
        Rig::Sftp(s) => {
            s.faults.fail_write_after_bytes(Some(100));
            let uploads = || {
                let log = s.log();
                log.iter()
                    .filter(|l| l.starts_with("open ") && l.ends_with(".uploading"))
                    .count()
            };
            let before = uploads();
            Box::new(move || uploads() == before + 2)
        }
        Rig::Email(s) => {
            s.clear();
            s.faults.reply_once(Stage::DataEnd, 451);
            Box::new(|| {
                let data = s.log().iter().filter(|l| *l == "DATA").count();
                data == 2 && s.messages().len() == 1
            })
        }
        Rig::Api(s) => {
            s.clear_requests();
            s.faults.server_errors(1, 503);
            // Seven orders, the first sent twice.
            Box::new(|| s.conversion_requests().len() == 8)
        }
    }
}

#[test]
fn quiet_is_silent_on_a_success_after_a_retry_on_every_channel() {
    for rig in Rig::all() {
        let env = TestEnv::new();
        let flags = rig.setup(&env);
        match rig {
            // One address takes one event type.
            Rig::Email(_) => crate::push_email::one_event_type(&env),
            _ => drop(env.copy_fixture("item-level-valid.csv")),
        };
        let fired = one_temporary_fault(&rig, &env);
        let out = push(&env, &flags, &["-q", "item-level-valid.csv"]);
        assert_eq!(
            (out.code, out.stdout.as_str(), out.stderr.as_str()),
            (0, "", ""),
            "{}: {out:#?}",
            rig.name()
        );
        assert!(fired(), "{}: the fault never fired", rig.name());
        drop(fired);
        // Without -q the same run says it retried (and warns of clear text where it travels).
        let fired = one_temporary_fault(&rig, &env);
        let loud = push(&env, &flags, &["--force", "item-level-valid.csv"]);
        loud.assert_code(0);
        assert!(fired(), "{}: the fault never fired", rig.name());
        let said = match rig {
            Rig::Dir => "waiting for another convsubmit run",
            _ => "retrying in",
        };
        assert!(loud.stderr.contains(said), "{}: {loud:#?}", rig.name());
        let warning = match rig {
            Rig::Ftp(_) => "--ftp sends the password and the data in clear text",
            Rig::Email(_) => "tls = \"none\"",
            _ => "",
        };
        assert!(loud.stderr.contains(warning), "{}: {loud:#?}", rig.name());
    }
}

// --- `push --format json|jsonl` ----------------------------------------------------------------

const DOCUMENT: &[&str] = &["version", "files", "summary", "delivery"];
const DELIVERY: &[&str] = &["destination", "dry_run", "units", "totals", "stopped"];
const TOTALS: &[&str] = &[
    "units",
    "sent",
    "rows_sent",
    "already_delivered",
    "would_send",
    "refused",
    "not_sent",
];
const STOPPED: &[&str] = &["class", "stage", "message", "help"];
/// Every unit's keys, and a part's or an order's own.
const UNIT: &[&str] = &["unit", "input", "name", "rows", "outcome"];
const PART: &[&str] = &["sha256", "bytes"];
const ORDER: &[&str] = &["line"];

/// Fails unless `v` is an object with exactly `keys` (the union of the lists).
#[track_caller]
fn assert_keys(v: &Value, keys: &[&[&str]]) {
    let have: BTreeSet<&str> = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .map(String::as_str)
        .collect();
    let want: BTreeSet<&str> = keys.iter().flat_map(|k| k.iter().copied()).collect();
    assert_eq!(have, want, "{v:#}");
}

/// The keys a unit of outcome `outcome` has beyond `UNIT` and its kind's.
fn fate_keys(outcome: &str, order: bool) -> &'static [&'static str] {
    match (outcome, order) {
        ("sent", false) => &["remote_name"],
        ("sent", true) => &["remote_name", "queued_uri"],
        ("already_delivered", _) => &["remote_name", "delivered_at"],
        ("found_delivered", _) => &["remote_name"],
        ("would_send", false) => &[],
        ("would_send", true) => &["request"],
        ("refused", _) => &["status", "message", "problems"],
        ("failed", _) => &["exit_code", "stage", "message"],
        ("not_sent", _) => &[],
        _ => panic!("unknown outcome {outcome}"),
    }
}

/// Checks a unit's keys; returns its outcome.
#[track_caller]
fn unit_outcome(u: &Value) -> &str {
    let order = match u["unit"].as_str() {
        Some("part") => false,
        Some("order") => true,
        other => panic!("unit {other:?}: {u:#}"),
    };
    let outcome = u["outcome"].as_str().unwrap_or_else(|| panic!("{u:#}"));
    let kind = if order { ORDER } else { PART };
    assert_keys(u, &[UNIT, kind, fate_keys(outcome, order)]);
    outcome
}

/// Checks `delivery`'s shape (with `units` or, in jsonl, without); returns its units'
/// outcomes and its totals as `[units, sent, rows_sent, already_delivered, would_send,
/// refused, not_sent]`.
#[track_caller]
fn delivery_shape(d: &Value, units: Option<&[Value]>) -> (Vec<String>, Vec<u64>) {
    let keys: Vec<&str> = DELIVERY
        .iter()
        .copied()
        .filter(|k| units.is_none() || *k != "units")
        .collect();
    assert_keys(d, &[&keys]);
    assert_keys(&d["totals"], &[TOTALS]);
    if !d["stopped"].is_null() {
        assert_keys(&d["stopped"], &[STOPPED]);
    }
    let units = units.or_else(|| d["units"].as_array().map(Vec::as_slice));
    let outcomes = units
        .unwrap_or_default()
        .iter()
        .map(|u| unit_outcome(u).to_string())
        .collect();
    let totals = TOTALS
        .iter()
        .map(|k| d["totals"][k].as_u64().unwrap())
        .collect();
    (outcomes, totals)
}

/// `push --format json`'s one document.
#[track_caller]
fn document(out: &Output) -> Value {
    assert_eq!(out.stdout.lines().count(), 1, "one document: {out:#?}");
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_keys(&doc, &[DOCUMENT]);
    doc
}

/// `push --format jsonl`'s unit lines, and the delivery of its summary line (the last).
#[track_caller]
fn json_lines(out: &Output) -> (Vec<Value>, Value) {
    let mut lines: Vec<Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let summary = lines.pop().unwrap();
    assert_keys(&summary, &[&["summary", "files", "delivery"]]);
    let units = lines
        .into_iter()
        .filter(|l| l.get("unit").is_some())
        .collect();
    (units, summary["delivery"].clone())
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    format!("{:x}", sha2::Sha256::digest(bytes))
}

#[test]
fn push_json_is_one_document_of_parts_sent_then_already_delivered() {
    let env = TestEnv::new();
    let flags = Rig::Dir.setup(&env);
    env.write("sales.csv", generate::item_level(&Spec::clean(23, 250)));
    let args = ["--format", "json", "--max-rows", "100", "sales.csv"];
    let first = push(&env, &flags, &args);
    first.assert_code(0);
    let doc = document(&first);
    let d = &doc["delivery"];
    let (outcomes, totals) = delivery_shape(d, None);
    assert_eq!(outcomes, ["sent"; 3]);
    assert_eq!(
        (&d["destination"], &d["dry_run"]),
        (&"dir:inbox".into(), &false.into())
    );
    assert!(d["stopped"].is_null());
    let arrived = files_in(&env.path().join("inbox"));
    let mut rows = 0;
    for u in d["units"].as_array().unwrap() {
        let name = u["name"].as_str().unwrap();
        assert_eq!(
            (&u["input"], &u["remote_name"]),
            (&"sales.csv".into(), &name.into())
        );
        let bytes = &arrived[name];
        assert_eq!(u["bytes"], bytes.len());
        assert_eq!(u["sha256"], sha256_hex(bytes));
        rows += u["rows"].as_u64().unwrap();
    }
    assert_eq!(rows, doc["summary"]["rows"].as_u64().unwrap());
    assert_eq!(totals, [3, 3, rows, 0, 0, 0, 0]);
    // A re-run: every part already delivered, with when.
    let again = document(&push(&env, &flags, &args));
    let (outcomes, totals) = delivery_shape(&again["delivery"], None);
    assert_eq!(outcomes, ["already_delivered"; 3]);
    assert_eq!(totals, [3, 0, 0, 3, 0, 0, 0]);
    let at = again["delivery"]["units"][0]["delivered_at"]
        .as_str()
        .unwrap();
    assert!(at.ends_with('Z') && at.len() == 20, "{at}");
    // jsonl: a line per part, then the summary line with the delivery but not its units.
    let jsonl = push(
        &env,
        &flags,
        &["--format", "jsonl", "--max-rows", "100", "sales.csv"],
    );
    jsonl.assert_code(0);
    let (units, delivery) = json_lines(&jsonl);
    let (outcomes, totals) = delivery_shape(&delivery, Some(&units));
    assert_eq!(outcomes, ["already_delivered"; 3]);
    assert_eq!(totals, [3, 0, 0, 3, 0, 0, 0]);
}

#[test]
fn push_json_of_a_stopped_run_names_the_failed_part_and_the_rest_not_sent() {
    let rig = Rig::ftp();
    let env = TestEnv::new();
    let flags = rig.setup(&env);
    env.copy_fixture("item-level-valid.csv");
    env.write("sales.csv", generate::item_level(&Spec::clean(24, 250)));
    push(&env, &flags, &["item-level-valid.csv"]).assert_code(0);
    // The server's disk is full: the first new part fails (temporary, no retry left).
    rig.ftp_faults().disk_full(true);
    let args = [
        "--retries",
        "0",
        "--max-rows",
        "100",
        "item-level-valid.csv",
        "sales.csv",
    ];
    let json = push(&env, &flags, &[&["--format", "json"][..], &args].concat());
    json.assert_code(3);
    assert_eq!(errors(&json).len(), 1, "the error is still said: {json:#?}");
    let doc = document(&json);
    let d = &doc["delivery"];
    let (outcomes, totals) = delivery_shape(d, None);
    assert_eq!(
        outcomes,
        ["already_delivered", "failed", "not_sent", "not_sent"]
    );
    assert_eq!(totals, [4, 0, 0, 1, 0, 0, 3]);
    let failed = &d["units"][1];
    assert_eq!(
        (&failed["exit_code"], &failed["input"]),
        (&3.into(), &"sales.csv".into())
    );
    let stopped = &d["stopped"];
    assert_eq!(
        (&stopped["class"], &stopped["stage"]),
        (&3.into(), &failed["stage"])
    );
    assert!(
        stopped["message"].as_str().unwrap().contains("452"),
        "{stopped:#}"
    );
    let help = stopped["help"].as_array().unwrap();
    assert!(
        help.iter()
            .any(|h| h.as_str().unwrap().contains("re-run later"))
    );
    // The same in jsonl; and a permanent failure is class 4.
    rig.ftp_faults().disk_full(false);
    rig.ftp_faults().refuse_rename(true);
    let jsonl = push(&env, &flags, &[&["--format", "jsonl"][..], &args].concat());
    jsonl.assert_code(4);
    let (units, delivery) = json_lines(&jsonl);
    let (outcomes, totals) = delivery_shape(&delivery, Some(&units));
    assert_eq!(
        outcomes,
        ["already_delivered", "failed", "not_sent", "not_sent"]
    );
    assert_eq!(totals, [4, 0, 0, 1, 0, 0, 3]);
    assert_eq!(units[1]["exit_code"], 4);
    assert_eq!(delivery["stopped"]["class"], 4);
    assert!(
        delivery["stopped"]["help"][0]
            .as_str()
            .unwrap()
            .contains("rename = false")
    );
}

#[test]
fn push_api_json_reports_orders_queued_and_refused() {
    let rig = Rig::api(Duration::ZERO);
    let Rig::Api(server) = &rig else {
        unreachable!()
    };
    server.faults.field_error_for_order(
        "ORD-20502",
        "CurrencyCode",
        "Not a currency",
        ErrorShape::Lower,
    );
    let env = TestEnv::new();
    let flags = rig.setup(&env);
    env.copy_fixture("item-level-valid.csv");
    let out = push(&env, &flags, &["--format", "json", "item-level-valid.csv"]);
    out.assert_code(4);
    let doc = document(&out);
    let d = &doc["delivery"];
    let (outcomes, totals) = delivery_shape(d, None);
    let mut want = vec!["sent"; 7];
    want[1] = "refused";
    assert_eq!(outcomes, want);
    assert_eq!(totals, [7, 6, 9, 0, 0, 1, 0]);
    assert!(d["stopped"].is_null());
    let units = d["units"].as_array().unwrap();
    // Each queued order's QueuedUri is the one the server gave it.
    let batches: BTreeSet<String> = server.queued().into_iter().map(|(id, _)| id).collect();
    let sent: BTreeSet<String> = units
        .iter()
        .filter(|u| u["outcome"] == "sent")
        .map(|u| {
            assert_eq!(u["remote_name"], u["name"]);
            let uri = u["queued_uri"].as_str().unwrap();
            let prefix = format!("/Advertisers/{SID}/APISubmissions/");
            uri.strip_prefix(&prefix).unwrap_or(uri).to_string()
        })
        .collect();
    assert_eq!(sent, batches);
    let (first, refused) = (&units[0], &units[1]);
    assert_eq!(
        (&first["name"], &first["line"], &first["rows"]),
        (&"ORD-20501".into(), &2.into(), &2.into())
    );
    assert_eq!(
        (&refused["name"], &refused["line"], &refused["status"]),
        (&"ORD-20502".into(), &4.into(), &400.into())
    );
    let problem = &refused["problems"][0];
    assert_keys(problem, &[&["line", "field", "column", "message"]]);
    assert_eq!(
        (&problem["line"], &problem["field"], &problem["column"]),
        (&4.into(), &"CurrencyCode".into(), &"CurrencyCode".into())
    );
    // A re-run once the order is put right: the six already queued, the seventh sent.
    server.faults.clear();
    let (units, delivery) = json_lines(&push(
        &env,
        &flags,
        &["--format", "jsonl", "item-level-valid.csv"],
    ));
    let (outcomes, totals) = delivery_shape(&delivery, Some(&units));
    let mut want = vec!["already_delivered"; 7];
    want[1] = "sent";
    assert_eq!(outcomes, want);
    assert_eq!(totals, [7, 1, 1, 6, 0, 0, 0]);
}

#[test]
fn push_json_is_a_whole_document_when_nothing_is_sent() {
    let env = TestEnv::new();
    let flags = Rig::Dir.setup(&env);
    env.copy_fixture("item-level-errors.csv");
    let json = [
        "--format",
        "json",
        "--fail-on-reject",
        "item-level-errors.csv",
    ];
    let out = push(&env, &flags, &json);
    out.assert_code(1);
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_keys(&doc, &[&["version", "files", "summary"]]);
    assert_eq!(doc["summary"]["errors"], 4);
    let out = push(&env, &flags, &["--format", "jsonl", "missing.csv"]);
    out.assert_code(2);
    let summary: Value = serde_json::from_str(out.stdout.lines().last().unwrap()).unwrap();
    assert_keys(&summary, &[&["summary", "files"]]);
    assert!(
        summary["files"][0]["error"]
            .as_str()
            .unwrap()
            .contains("missing.csv")
    );
}

// --- `--dir`: convsubmit never creates a destination folder ----------------------------------

#[test]
fn push_dry_run_and_doctor_refuse_a_missing_folder_alike_and_split_makes_its_own() {
    let env = TestEnv::new();
    env.copy_fixture("item-level-valid.csv");
    let runs = [
        push(
            &env,
            &flags(&["--dir", "missing/inbox"]),
            &["item-level-valid.csv"],
        ),
        push(
            &env,
            &flags(&["--dry-run", "--dir", "missing/inbox"]),
            &["item-level-valid.csv"],
        ),
        env.run(&["doctor", "--dir", "missing/inbox"]),
    ];
    let said = |out: &Output| {
        let lines = out.stderr.lines();
        let wanted = |l: &&str| l.starts_with("convsubmit: error:") || l.starts_with("  help:");
        lines.filter(wanted).map(str::to_string).collect::<Vec<_>>()
    };
    let first = said(&runs[0]);
    assert_eq!(first.len(), 2, "{:#?}", runs[0]);
    assert!(first[0].contains("missing/inbox"), "{first:?}");
    assert!(first[1].contains("mkdir -p missing/inbox"), "{first:?}");
    for out in &runs {
        out.assert_code(4);
        assert_eq!(said(out), first, "the same message: {out:#?}");
    }
    assert!(!env.path().join("missing").exists());
    // split's output folder is the split's own output, like an -o file: it is made.
    let split = env.run(&[
        "split",
        "--as-of",
        AS_OF,
        "item-level-valid.csv",
        "--out",
        "parts/today",
    ]);
    split.assert_code(0);
    let written = files_in(&env.path().join("parts/today"));
    assert!(
        written.contains_key("2026-06-30_item-level-valid.csv"),
        "{split:#?}"
    );
}

// --- `--dry-run` ---------------------------------------------------------------------------

#[test]
fn dry_run_says_what_would_be_sent_and_creates_nothing() {
    let env = TestEnv::new();
    let flags = Rig::Dir.setup(&env);
    env.write("sales.csv", generate::item_level(&Spec::clean(25, 250)));
    env.copy_fixture("item-level-errors.csv");
    let out = push(
        &env,
        &flags,
        &["--dry-run", "--max-rows", "100", "sales.csv"],
    );
    out.assert_code(0);
    let would: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("would send "))
        .collect();
    assert_eq!(would.len(), 3, "a line per part: {out:#?}");
    for (n, line) in would.iter().enumerate() {
        let part = format!("would send 2026-06-30_sales_part00{}.csv (", n + 1);
        assert!(
            line.starts_with(&part) && line.ends_with(" bytes) to dir:inbox"),
            "{line}"
        );
    }
    assert!(
        out.stdout
            .ends_with("push: would send 3 parts of 3 to dir:inbox\n"),
        "{out:#?}"
    );
    // Rows set aside: exit 1, the rest still listed.
    let out = push(&env, &flags, &["--dry-run", "item-level-errors.csv"]);
    out.assert_code(1);
    assert!(
        out.stdout
            .contains("push: would send 1 part of 1 to dir:inbox"),
        "{out:#?}"
    );
    // In json: each part would_send.
    let doc = document(&push(
        &env,
        &flags,
        &[
            "--dry-run",
            "--format",
            "json",
            "--max-rows",
            "100",
            "sales.csv",
        ],
    ));
    let (outcomes, totals) = delivery_shape(&doc["delivery"], None);
    assert_eq!(outcomes, ["would_send"; 3]);
    assert_eq!(totals, [3, 0, 0, 0, 3, 0, 0]);
    assert_eq!(doc["delivery"]["dry_run"], true);
    // Nothing at the destination; no ledger, no lock beside it.
    assert!(files_in(&env.path().join("inbox")).is_empty());
    for ledger in ["ledger.sqlite", "ledger.sqlite.lock"] {
        assert!(!env.path().join(ledger).exists(), "{ledger} was created");
    }
}

#[test]
fn dry_run_on_a_server_connects_to_nothing() {
    let rig = Rig::ftp();
    let Rig::Ftp(server) = &rig else {
        unreachable!()
    };
    let env = TestEnv::new();
    rig.setup(&env);
    env.copy_fixture("item-level-valid.csv");
    // No secret is given: a dry run reads none.
    let dry = flags(&["--ftp", "--dry-run"]);
    let out = push_env(&env, &dry, &["item-level-valid.csv"], &[]);
    out.assert_code(0);
    assert!(
        out.stdout
            .contains("push: would send 1 part of 1 to ftp://acme@127.0.0.1:"),
        "{out:#?}"
    );
    assert!(server.log().is_empty(), "{:?}", server.log());
    assert!(server.files().is_empty());
    assert!(!env.path().join("ledger.sqlite").exists());
}
