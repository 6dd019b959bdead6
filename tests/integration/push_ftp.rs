//! `convsubmit push --ftp|--ftps` and `doctor` against a real FTP server on 127.0.0.1 (in
//! this process), with faults injected by the server.

use crate::generate::{self, Spec};
use crate::push::expected_parts;
use crate::servers::ftp::{FtpOptions, FtpServer};
use crate::util::{AS_OF, Output, TestEnv};
use std::collections::BTreeMap;

const PASSWORD: &str = "ftp-pw-Qe4#sEcReT";

fn server(tls: bool) -> FtpServer {
    FtpServer::start(FtpOptions {
        tls,
        user: "alice".into(),
        password: PASSWORD.into(),
        ..FtpOptions::default()
    })
}

/// `convsubmit.toml` for `server` (its CA trusted when it has one) plus `extra` lines.
fn config(env: &TestEnv, server: &FtpServer, extra: &str) {
    let ca = match &server.cert_pem {
        Some(pem) => {
            env.write("ca.pem", std::fs::read(pem).unwrap());
            "ca_file = \"ca.pem\"\n"
        }
        None => "",
    };
    env.write(
        "convsubmit.toml",
        format!(
            "[ftp]\nhost = \"127.0.0.1\"\nport = {}\nusername = \"alice\"\npassword_env = \"TEST_FTP_PASSWORD\"\n{ca}{extra}\n[ledger]\npath = \"ledger.sqlite\"\n",
            server.port
        ),
    );
}

fn push(env: &TestEnv, args: &[&str]) -> Output {
    let mut all = vec!["push", "--as-of", AS_OF];
    all.extend_from_slice(args);
    let out = env.run_env(&all, &[("TEST_FTP_PASSWORD", PASSWORD)]);
    for text in [&out.stdout, &out.stderr] {
        assert!(!text.contains(PASSWORD), "the password leaked:\n{out:?}");
    }
    out
}

fn arrived(server: &FtpServer) -> BTreeMap<String, Vec<u8>> {
    server
        .files()
        .into_iter()
        .filter(|(n, _)| !n.starts_with('.'))
        .collect()
}

fn renames_onto(server: &FtpServer, name: &str) -> usize {
    let rnto = format!("RNTO {name}");
    server.log().iter().filter(|l| **l == rnto).count()
}

#[test]
fn plain_ftp_warns_and_delivers_binary_exact_parts_once() {
    let server = server(false);
    let env = TestEnv::new();
    config(&env, &server, "");
    // CRLF lines: an ASCII-mode transfer would change them; binary must not.
    env.write(
        "sales.csv",
        generate::item_level(&Spec {
            newline: "\r\n",
            ..Spec::clean(31, 900)
        }),
    );
    let want = expected_parts(&env, "sales.csv", "400");
    let out = push(&env, &["--ftp", "--max-rows", "400", "sales.csv"]);
    out.assert_code(0);
    assert!(out.stderr.contains("clear text"), "{out:?}");
    assert_eq!(arrived(&server), want);
    for name in want.keys() {
        assert_eq!(renames_onto(&server, name), 1, "{name}");
        assert!(server.log().contains(&format!("STOR .{name}.uploading")));
    }
    let again = push(&env, &["--ftp", "--max-rows", "400", "sales.csv"]);
    again.assert_code(0);
    assert!(
        again
            .stdout
            .contains(&format!("{} already delivered", want.len())),
        "{again:?}"
    );
}

#[test]
fn passive_mode_uses_the_control_address_not_the_advertised_one() {
    // 192.0.2.1 is reserved for documentation: nothing answers there.
    let server = FtpServer::start(FtpOptions {
        user: "alice".into(),
        password: PASSWORD.into(),
        pasv_address: [192, 0, 2, 1],
        ..FtpOptions::default()
    });
    let env = TestEnv::new();
    config(&env, &server, "");
    env.copy_fixture("item-level-valid.csv");
    push(&env, &["--ftp", "--max-time", "20", "item-level-valid.csv"]).assert_code(0);
    assert_eq!(arrived(&server).len(), 1);
}

#[test]
fn ftps_verifies_the_certificate() {
    let server = server(true);
    let env = TestEnv::new();
    config(&env, &server, "");
    env.copy_fixture("item-level-valid.csv");
    let out = push(&env, &["--ftps", "item-level-valid.csv"]);
    out.assert_code(0);
    assert!(!out.stderr.contains("clear text"), "{out:?}");
    assert_eq!(arrived(&server).len(), 1);
    let doctor = env.run_env(&["doctor", "--ftps"], &[("TEST_FTP_PASSWORD", PASSWORD)]);
    doctor.assert_code(0);
    assert!(
        doctor.stdout.contains("TLS certificate verified"),
        "{doctor:?}"
    );
    // Without the CA the certificate is not trusted: permanent, and it says what to set.
    env.write(
        "convsubmit.toml",
        format!(
            "[ftp]\nhost = \"127.0.0.1\"\nport = {}\nusername = \"alice\"\npassword_env = \"TEST_FTP_PASSWORD\"\n[ledger]\npath = \"ledger.sqlite\"\n",
            server.port
        ),
    );
    let out = push(&env, &["--ftps", "--force", "item-level-valid.csv"]);
    out.assert_code(4);
    assert!(
        out.stderr.contains("TLS failed") && out.stderr.contains("ca_file"),
        "{out:?}"
    );
}

#[test]
fn a_wrong_password_is_permanent() {
    let server = server(false);
    let env = TestEnv::new();
    config(&env, &server, "");
    env.copy_fixture("item-level-valid.csv");
    let out = env.run_env(
        &["push", "--as-of", AS_OF, "--ftp", "item-level-valid.csv"],
        &[("TEST_FTP_PASSWORD", "wrong-Pw-8x")],
    );
    out.assert_code(4);
    assert!(out.stderr.contains("login failed"), "{out:?}");
    assert!(
        !out.stderr.contains("retrying") && !out.stderr.contains("wrong-Pw-8x"),
        "{out:?}"
    );
}

#[test]
fn a_refused_rename_names_the_option() {
    let server = server(false);
    server.faults.refuse_rename(true);
    let env = TestEnv::new();
    config(&env, &server, "");
    env.copy_fixture("item-level-valid.csv");
    let out = push(&env, &["--ftp", "item-level-valid.csv"]);
    out.assert_code(4);
    assert!(out.stderr.contains("rename = false"), "{out:?}");
    assert!(arrived(&server).is_empty());
    config(&env, &server, "rename = false");
    push(&env, &["--ftp", "item-level-valid.csv"]).assert_code(0);
    assert_eq!(arrived(&server).len(), 1);
}

#[test]
fn a_full_disk_is_temporary_and_a_rerun_finishes() {
    let server = server(false);
    server.faults.disk_full(true);
    let env = TestEnv::new();
    config(&env, &server, "");
    env.copy_fixture("item-level-valid.csv");
    let out = push(&env, &["--ftp", "--retries", "1", "item-level-valid.csv"]);
    out.assert_code(3);
    assert!(
        out.stderr.contains("retrying in") && out.stderr.contains("re-run later"),
        "{out:?}"
    );
    assert!(arrived(&server).is_empty());
    server.faults.disk_full(false);
    push(&env, &["--ftp", "item-level-valid.csv"]).assert_code(0);
    assert_eq!(arrived(&server).len(), 1);
}

#[test]
fn a_dropped_transfer_is_retried_and_never_visible_half_done() {
    let server = server(true);
    server.faults.drop_after_bytes(Some(1_000));
    let env = TestEnv::new();
    config(&env, &server, "");
    env.write("big.csv", generate::item_level(&Spec::clean(5, 500)));
    let want = expected_parts(&env, "big.csv", "10000");
    let out = push(&env, &["--ftps", "big.csv"]);
    out.assert_code(0);
    assert!(out.stderr.contains("retrying in"), "{out:?}");
    assert_eq!(arrived(&server), want);
}
