//! `convsubmit push`, `history` and `doctor`: against a folder and against a real SFTP
//! server on 127.0.0.1 (in this process). What arrives is compared with what `split` writes.

use crate::generate::{self, Spec};
use crate::servers::sftp::{SftpOptions, SftpServer, client_keypair};
use crate::util::{AS_OF, Output, TestEnv};
use std::collections::BTreeMap;
use std::path::Path;

const PASSWORD: &str = "pw-Vq7!sEcReT";

/// The parts `split` writes for `input` with `--max-rows max`: name → bytes.
pub fn expected_parts(env: &TestEnv, input: &str, max: &str) -> BTreeMap<String, Vec<u8>> {
    env.run(&[
        "split",
        "--as-of",
        AS_OF,
        "-q",
        "--max-rows",
        max,
        input,
        "--out",
        "expected",
    ]);
    files_in(&env.path().join("expected"))
        .into_iter()
        .filter(|(n, _)| n.ends_with(".csv") && !n.contains(".rejects."))
        .collect()
}

pub fn files_in(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_file())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

fn push(env: &TestEnv, args: &[&str]) -> Output {
    let mut all = vec!["push", "--as-of", AS_OF, "--ledger", "ledger.sqlite"];
    all.extend_from_slice(args);
    env.run_env(&all, &[("TEST_SFTP_PASSWORD", PASSWORD)])
}

fn assert_no_secret(out: &Output, env: &TestEnv) {
    for text in [&out.stdout, &out.stderr] {
        assert!(!text.contains(PASSWORD), "the password leaked:\n{out:?}");
    }
    if let Ok(bytes) = std::fs::read(env.path().join("ledger.sqlite")) {
        let needle = PASSWORD.as_bytes();
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle),
            "the password is in the ledger"
        );
    }
}

#[test]
fn a_folder_gets_exactly_the_split_parts_once() {
    let env = TestEnv::new();
    env.write("sales.csv", generate::item_level(&Spec::clean(11, 2_500)));
    std::fs::create_dir(env.path().join("inbox")).unwrap();
    let want = expected_parts(&env, "sales.csv", "1000");
    assert_eq!(want.len(), 3);
    let first = push(&env, &["--dir", "inbox", "--max-rows", "1000", "sales.csv"]);
    first.assert_code(0);
    assert!(
        first
            .stdout
            .contains("push: sent 3 parts of 3 to dir:inbox ("),
        "{first:?}"
    );
    assert_eq!(files_in(&env.path().join("inbox")), want);
    // A re-run sends nothing; --force sends again.
    let again = push(&env, &["--dir", "inbox", "--max-rows", "1000", "sales.csv"]);
    again.assert_code(0);
    assert!(
        again
            .stdout
            .contains("push: sent 0 parts of 3 to dir:inbox (0 rows); 3 already delivered"),
        "{again:?}"
    );
    let forced = push(
        &env,
        &[
            "--dir",
            "inbox",
            "--max-rows",
            "1000",
            "--force",
            "sales.csv",
        ],
    );
    assert!(
        forced.stdout.contains("push: sent 3 parts of 3"),
        "{forced:?}"
    );
    let history = env.run(&["history", "--ledger", "ledger.sqlite", "--format", "json"]);
    history.assert_code(0);
    let list: serde_json::Value = serde_json::from_str(&history.stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 6);
    let (_, rows) = generate::parse(&want.values().next().unwrap()[..]);
    assert_eq!(list[0]["rows"], rows.len());
    assert_eq!(list[0]["input"], "sales.csv");
    let text = env.run(&["history", "--ledger", "ledger.sqlite"]);
    assert_eq!(text.stdout.lines().count(), 6, "{text:?}");
}

#[test]
fn rejects_go_beside_the_input_and_fail_on_reject_sends_nothing() {
    let env = TestEnv::new();
    env.copy_fixture("item-level-errors.csv");
    std::fs::create_dir(env.path().join("inbox")).unwrap();
    let out = push(
        &env,
        &[
            "--dir",
            "inbox",
            "--fail-on-reject",
            "item-level-errors.csv",
        ],
    );
    out.assert_code(1);
    assert!(
        out.stdout.contains("nothing sent (--fail-on-reject)"),
        "{out:?}"
    );
    assert!(files_in(&env.path().join("inbox")).is_empty());
    assert!(
        env.read("item-level-errors.rejects.csv")
            .starts_with("line,code,message,")
    );
    let out = push(&env, &["--dir", "inbox", "item-level-errors.csv"]);
    out.assert_code(1);
    assert_eq!(files_in(&env.path().join("inbox")).len(), 1);
}

#[test]
fn a_rejects_file_never_replaces_an_input_or_another_inputs_rejects() {
    let env = TestEnv::new();
    env.copy_fixture("item-level-errors.csv");
    std::fs::create_dir(env.path().join("inbox")).unwrap();
    let valid = crate::util::fixture("item-level-valid.csv");
    // An input named like another input's rejects file: it would be replaced before it is read.
    env.write("item-level-errors.rejects.csv", &valid);
    let out = push(
        &env,
        &[
            "--dir",
            "inbox",
            "item-level-errors.csv",
            "item-level-errors.rejects.csv",
        ],
    );
    out.assert_code(2);
    assert!(out.stderr.contains("would replace the input"), "{out:?}");
    assert_eq!(
        std::fs::read(env.path().join("item-level-errors.rejects.csv")).unwrap(),
        valid
    );
    assert!(files_in(&env.path().join("inbox")).is_empty());
    // Two inputs of one stem in one folder: one rejects file for both.
    std::fs::remove_file(env.path().join("item-level-errors.rejects.csv")).unwrap();
    env.write("item-level-errors.txt", env.read("item-level-errors.csv"));
    let out = push(
        &env,
        &[
            "--dir",
            "inbox",
            "item-level-errors.csv",
            "item-level-errors.txt",
        ],
    );
    out.assert_code(2);
    assert!(
        out.stderr.contains("would put their rejects in one file"),
        "{out:?}"
    );
    assert!(files_in(&env.path().join("inbox")).is_empty());
}

#[test]
fn a_json_report_is_one_document_whatever_the_run_comes_to() {
    let env = TestEnv::new();
    env.copy_fixture("item-level-errors.csv");
    std::fs::create_dir(env.path().join("inbox")).unwrap();
    // Stopped before delivery (--fail-on-reject), by a missing folder, and delivered.
    let runs: [(&[&str], i32, bool); 3] = [
        (&["--dir", "inbox", "--fail-on-reject"], 1, false),
        (&["--dir", "missing"], 4, true),
        (&["--dir", "inbox"], 1, true),
    ];
    for (args, code, delivered) in runs {
        let mut all = args.to_vec();
        all.extend(["--format", "json", "item-level-errors.csv"]);
        let out = push(&env, &all);
        out.assert_code(code);
        let doc: serde_json::Value = serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("not one JSON document ({e}): {out:?}"));
        assert_eq!(doc["files"][0]["path"], "item-level-errors.csv", "{out:?}");
        assert_eq!(doc.get("delivery").is_some(), delivered, "{out:?}");
    }
}

#[test]
fn a_missing_folder_or_a_damaged_ledger_stops_the_run() {
    let env = TestEnv::new();
    env.copy_fixture("item-level-valid.csv");
    let out = push(&env, &["--dir", "nowhere", "item-level-valid.csv"]);
    out.assert_code(4);
    assert!(out.stderr.contains("open folder failed"), "{out:?}");
    std::fs::create_dir(env.path().join("inbox")).unwrap();
    env.write(
        "ledger.sqlite",
        "not a database, and long enough to be looked at by SQLite",
    );
    let out = push(&env, &["--dir", "inbox", "item-level-valid.csv"]);
    out.assert_code(2);
    assert!(out.stderr.contains("nothing was sent"), "{out:?}");
    assert!(files_in(&env.path().join("inbox")).is_empty());
}

/// The server's files under final names (temporary names start with a dot).
fn final_files(server: &SftpServer) -> BTreeMap<String, Vec<u8>> {
    server
        .files()
        .into_iter()
        .filter(|(n, _)| !n.starts_with('.'))
        .collect()
}

/// Every part arrived by exactly one rename onto its final name.
fn assert_each_renamed_once(log: &[String], parts: &BTreeMap<String, Vec<u8>>) {
    for name in parts.keys() {
        let renames = log
            .iter()
            .filter(|l| l.starts_with("rename ") && l.ends_with(&format!(" {name}")))
            .count();
        assert_eq!(renames, 1, "{name} arrived {renames} times: {log:?}");
    }
}

/// A config for the SFTP server, with known_hosts holding its key.
pub fn sftp_config(env: &TestEnv, server: &SftpServer, extra: &str) {
    env.write("known_hosts", format!("{}\n", server.known_hosts_line()));
    env.write(
        "convsubmit.toml",
        format!(
            "[sftp]\nhost = \"127.0.0.1\"\nport = {}\nusername = \"acme\"\nknown_hosts = \"known_hosts\"\n{extra}\n",
            server.port
        ),
    );
}

fn password_server() -> SftpServer {
    SftpServer::start(SftpOptions::password("acme", PASSWORD))
}

#[test]
fn sftp_with_a_password_delivers_each_part_under_its_final_name() {
    let server = password_server();
    let env = TestEnv::new();
    sftp_config(&env, &server, "password_env = \"TEST_SFTP_PASSWORD\"");
    env.write("sales.csv", generate::item_level(&Spec::clean(12, 1_200)));
    let want = expected_parts(&env, "sales.csv", "500");
    let out = push(&env, &["--sftp", "--max-rows", "500", "sales.csv"]);
    out.assert_code(0);
    assert_no_secret(&out, &env);
    let got: BTreeMap<String, Vec<u8>> = server.files().into_iter().collect();
    assert_eq!(got, want);
    // Each part went up under a temporary name and was renamed once.
    let log = server.log();
    assert_each_renamed_once(&log, &want);
    assert!(
        !log.iter()
            .any(|l| l.starts_with("open ") && l.ends_with(".csv") && !l.contains(".uploading")),
        "{log:?}"
    );
    let again = push(&env, &["--sftp", "--max-rows", "500", "sales.csv"]);
    assert!(again.stdout.contains("3 already delivered"), "{again:?}");
}

#[test]
fn sftp_with_a_key_and_a_pinned_host_key() {
    let env = TestEnv::new();
    let (key, public) = client_keypair(env.path());
    let server = SftpServer::start(SftpOptions::public_key("acme", &public));
    let key_name = key.file_name().unwrap().to_string_lossy().into_owned();
    env.write(
        "convsubmit.toml",
        format!(
            "[sftp]\nhost = \"127.0.0.1\"\nport = {}\nusername = \"acme\"\nkey_file = \"{key_name}\"\nhost_key = \"{}\"\n",
            server.port, server.host_key_sha256
        ),
    );
    env.copy_fixture("item-level-valid.csv");
    let out = push(&env, &["--sftp", "item-level-valid.csv"]);
    out.assert_code(0);
    assert_eq!(server.files().len(), 1);
    let doctor = env.run(&["doctor", "--sftp"]);
    doctor.assert_code(0);
    assert!(
        doctor
            .stdout
            .contains("ok: connected, host key verified, logged in"),
        "{doctor:?}"
    );
    assert!(doctor.stdout.contains("ok: removed it"), "{doctor:?}");
    assert_eq!(server.files().len(), 1, "the probe file is removed");
}

#[test]
fn unknown_and_changed_host_keys_stop_with_the_fingerprint_and_the_fix() {
    let server = password_server();
    let env = TestEnv::new();
    sftp_config(&env, &server, "password_env = \"TEST_SFTP_PASSWORD\"");
    env.write("known_hosts", "");
    env.copy_fixture("item-level-valid.csv");
    let out = push(&env, &["--sftp", "item-level-valid.csv"]);
    out.assert_code(4);
    assert!(out.stderr.contains(&server.host_key_sha256), "{out:?}");
    assert!(
        out.stderr
            .contains(&format!("host_key = \"{}\"", server.host_key_sha256)),
        "{out:?}"
    );
    assert!(!out.stderr.contains("retrying"), "{out:?}");
    // Another server on another port, known under this one's port: a changed key.
    let other = password_server();
    env.write(
        "known_hosts",
        format!(
            "[127.0.0.1]:{} {}\n",
            server.port, other.host_key_openssh_pub
        ),
    );
    let out = push(&env, &["--sftp", "item-level-valid.csv"]);
    out.assert_code(4);
    assert!(out.stderr.contains("differs from the one in"), "{out:?}");
    assert!(server.files().is_empty());
    assert_no_secret(&out, &env);
}

#[test]
fn a_wrong_password_is_permanent_and_never_shown() {
    let server = password_server();
    let env = TestEnv::new();
    sftp_config(&env, &server, "password_env = \"WRONG_PASSWORD\"");
    env.copy_fixture("item-level-valid.csv");
    let out = env.run_env(
        &[
            "push",
            "--as-of",
            AS_OF,
            "--ledger",
            "ledger.sqlite",
            "--sftp",
            "item-level-valid.csv",
        ],
        &[("WRONG_PASSWORD", "not-the-pw-Zx9")],
    );
    out.assert_code(4);
    assert!(out.stderr.contains("login failed"), "{out:?}");
    assert!(!out.stderr.contains("retrying"), "{out:?}");
    assert!(!out.stderr.contains("not-the-pw-Zx9") && !out.stdout.contains("not-the-pw-Zx9"));
    // An unset variable is a configuration problem, named without a value.
    let out = env.run(&[
        "push",
        "--as-of",
        AS_OF,
        "--ledger",
        "ledger.sqlite",
        "--sftp",
        "item-level-valid.csv",
    ]);
    out.assert_code(2);
    assert!(out.stderr.contains("WRONG_PASSWORD is not set"), "{out:?}");
}

#[test]
fn a_refused_rename_names_the_option_and_rename_false_works() {
    let server = password_server();
    server.faults.refuse_rename(true);
    let env = TestEnv::new();
    sftp_config(&env, &server, "password_env = \"TEST_SFTP_PASSWORD\"");
    env.copy_fixture("item-level-valid.csv");
    let out = push(&env, &["--sftp", "item-level-valid.csv"]);
    out.assert_code(4);
    assert!(out.stderr.contains("rename = false"), "{out:?}");
    assert!(!server.files().iter().any(|(n, _)| n.ends_with(".csv")));
    sftp_config(
        &env,
        &server,
        "password_env = \"TEST_SFTP_PASSWORD\"\nrename = false",
    );
    push(&env, &["--sftp", "item-level-valid.csv"]).assert_code(0);
    assert!(
        server
            .files()
            .iter()
            .any(|(n, _)| n.ends_with("item-level-valid.csv"))
    );
}

#[test]
fn a_connection_dropped_mid_upload_is_retried_and_nothing_partial_is_final() {
    let server = password_server();
    server.faults.fail_write_after_bytes(Some(5_000));
    let env = TestEnv::new();
    sftp_config(&env, &server, "password_env = \"TEST_SFTP_PASSWORD\"");
    env.write("big.csv", generate::item_level(&Spec::clean(4, 600)));
    let want = expected_parts(&env, "big.csv", "10000");
    let out = push(&env, &["--sftp", "big.csv"]);
    out.assert_code(0);
    assert!(out.stderr.contains("retrying in"), "{out:?}");
    assert_eq!(final_files(&server), want);
}

#[test]
fn a_killed_runs_work_folder_is_removed_and_another_users_is_left_alone() {
    let env = TestEnv::new();
    env.write("sales.csv", generate::item_level(&Spec::clean(12, 50)));
    std::fs::create_dir(env.path().join("inbox")).unwrap();
    let tmp = env.path().join("tmp");
    // A process that has ended: its pid names a folder no live run owns.
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    let dead = gone.id();
    gone.wait().unwrap();
    let abandoned = tmp.join(format!("convsubmit-push-{dead}-0"));
    std::fs::create_dir_all(abandoned.join("0")).unwrap();
    std::fs::write(abandoned.join("0").join("part.csv"), "customer data").unwrap();
    // A folder of a live process (this test): never touched.
    let live = tmp.join(format!("convsubmit-push-{}-0", std::process::id()));
    std::fs::create_dir_all(&live).unwrap();
    let tmp_var = tmp.to_str().unwrap();
    let out = env.run_env(
        &[
            "push",
            "--as-of",
            AS_OF,
            "--ledger",
            "ledger.sqlite",
            "--dir",
            "inbox",
            "sales.csv",
        ],
        &[("TMPDIR", tmp_var)],
    );
    out.assert_code(0);
    assert!(!abandoned.exists(), "a killed run's parts stayed behind");
    assert!(live.exists(), "a live run's folder was removed");
    let left: Vec<_> = std::fs::read_dir(&tmp)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(left.len(), 1, "the run removed its own folder: {left:?}");
}

#[test]
fn doctor_help_offers_only_the_channels_it_can_check() {
    let env = TestEnv::new();
    let help = env.run(&["doctor", "--help"]);
    help.assert_code(0);
    assert!(!help.stdout.contains("--api"), "{}", help.stdout);
    for flag in ["--sftp", "--ftp", "--ftps", "--dir <DIR>"] {
        assert!(help.stdout.contains(flag), "{flag}: {}", help.stdout);
    }
    let email = help
        .stdout
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("--email"))
        .take_while(|l| !l.trim_start().starts_with("--dir"))
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        email.contains("[email]")
            && email.contains("impact.com address")
            && email.contains("sends none"),
        "{}",
        help.stdout
    );
    let api = env.run(&["doctor", "--api"]);
    api.assert_code(2);
    assert!(api.stderr.contains("--api"), "{api:?}");
    // push still offers it, as one of the channels.
    let push = env.run(&["push", "--help"]);
    assert!(push.stdout.contains("--api"), "{}", push.stdout);
    env.run(&["push", "--api", "--dir", "x", "f.csv"])
        .assert_code(2);
}

#[test]
fn modification_files_are_pushed_like_the_parts_split_writes() {
    let env = TestEnv::new();
    env.copy_fixture("valid/modification-items.csv");
    env.copy_fixture("valid/modification-reset.csv");
    std::fs::create_dir(env.path().join("inbox")).unwrap();
    for file in [
        "valid/modification-items.csv",
        "valid/modification-reset.csv",
    ] {
        let out = push(&env, &["--dir", "inbox", file]);
        out.assert_code(0);
        assert!(
            out.stdout.contains("push: sent 1 part of 1 to dir:inbox"),
            "{out:?}"
        );
    }
    let sent: Vec<Vec<u8>> = files_in(&env.path().join("inbox")).into_values().collect();
    assert_eq!(sent.len(), 2);
    assert!(sent.contains(&crate::util::fixture("valid/modification-items.csv")));
}

#[test]
fn an_input_named_as_impact_com_reserves_is_delivered_under_a_name_it_reads() {
    // impact.com ignores files whose names start with `result_` or `receipt_`.
    let env = TestEnv::new();
    env.write(
        "result_2026-06-01.csv",
        generate::item_level(&Spec::clean(3, 20)),
    );
    std::fs::create_dir(env.path().join("inbox")).unwrap();
    let out = push(&env, &["--dir", "inbox", "result_2026-06-01.csv"]);
    out.assert_code(0);
    let sent: Vec<String> = files_in(&env.path().join("inbox")).into_keys().collect();
    assert_eq!(sent, [format!("{AS_OF}_result_2026-06-01.csv")], "{out:?}");
    assert!(
        out.stdout
            .contains("impact.com ignores files whose names start with `result_`"),
        "{out:?}"
    );
    // Under --quiet the run says nothing, and the name is the same.
    let quiet = push(&env, &["-q", "--dir", "inbox", "result_2026-06-01.csv"]);
    quiet.assert_code(0);
    assert_eq!(quiet.stdout, "", "{quiet:?}");
    assert_eq!(quiet.stderr, "", "{quiet:?}");
}
