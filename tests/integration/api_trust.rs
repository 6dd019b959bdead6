//! `push --api` and `status` against a hostile or misconfigured API server: redirects are
//! never followed, a `QueuedUri` is only asked of the configured server, every answer is read
//! up to 1 MiB, secrets never travel over plain http without the opt-in, and a `base_url`
//! that is not an http(s) base is a configuration error before anything is sent.

use crate::generate::{self, Spec};
use crate::hostile::{Measured, measured};
use crate::servers::api::{ApiOptions, ApiServer};
use crate::util::{AS_OF, Output, TestEnv};
use std::io::ErrorKind;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

const SID: &str = "IRtrustAccount00000000000000001";
const TOKEN: &str = "tok-Trust-9f3c1e";
/// Opts in to plain http, as a loopback test rig may.
const INSECURE: &str = "allow_insecure_http = true\n";

const ORDER: &str = "CampaignId,ActionTrackerId,EventDate,OrderId,ClickId,CurrencyCode,Amount,Category,Sku,Quantity\n\
    18543,27015,2026-06-28T09:15:00-07:00,ORD-1,Zq3x,USD,49.99,Shoes,SKU-RUN-042,1\n";
const OTHER_ORDER: &str = "CampaignId,ActionTrackerId,EventDate,OrderId,ClickId,CurrencyCode,Amount,Category,Sku,Quantity\n\
    18543,27015,2026-06-28T10:15:00-07:00,ORD-2,Zq3y,USD,19.99,Shoes,SKU-RUN-043,1\n";

fn server() -> ApiServer {
    ApiServer::start(ApiOptions::new(SID, TOKEN))
}

/// `[api]` naming `base_url`, the token in a file (so that [`measured`] runs need no
/// environment), and `extra` lines.
fn config(env: &TestEnv, base_url: &str, extra: &str) {
    env.write("token", TOKEN);
    env.write(
        "convsubmit.toml",
        format!(
            "[api]\nbase_url = \"{base_url}\"\naccount_sid = \"{SID}\"\nauth_token_file = \"token\"\nconcurrency = 1\n{extra}\n[ledger]\npath = \"ledger.sqlite\"\n"
        ),
    );
    // Private, as a secret file and the config naming it should be (else warnings).
    for name in ["token", "convsubmit.toml"] {
        let private = std::fs::Permissions::from_mode(0o600);
        std::fs::set_permissions(env.path().join(name), private).unwrap();
    }
}

/// The Authorization header's credentials, base64-encoded by an independent encoder.
fn basic_auth() -> String {
    let out = std::process::Command::new("sh")
        .args([
            "-c",
            "printf '%s' \"$0\" | base64 -w0",
            &format!("{SID}:{TOKEN}"),
        ])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()
}

/// Neither the token nor the Authorization header's value ever shows.
fn assert_no_secret(out: &Output) {
    let basic = basic_auth();
    for text in [&out.stdout, &out.stderr] {
        assert!(
            !text.contains(TOKEN) && !text.contains(&basic),
            "a secret leaked:\n{out:?}"
        );
    }
}

fn run(env: &TestEnv, args: &[&str]) -> Output {
    let out = env.run(args);
    assert_no_secret(&out);
    out
}

fn push(env: &TestEnv, args: &[&str]) -> Output {
    let mut all = vec!["push", "--as-of", AS_OF, "--api"];
    all.extend_from_slice(args);
    run(env, &all)
}

/// A listener that must never see a connection: connections a test makes to it wait in its
/// backlog, so a non-blocking accept afterwards tells whether there was one.
struct Trap(TcpListener);

impl Trap {
    fn new() -> Trap {
        Trap(TcpListener::bind("127.0.0.1:0").unwrap())
    }

    fn origin(&self) -> String {
        format!("http://{}", self.0.local_addr().unwrap())
    }

    fn assert_untouched(&self) {
        self.0.set_nonblocking(true).unwrap();
        match self.0.accept() {
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(e) => panic!("accept: {e}"),
            Ok((_, peer)) => panic!("the second listener got a connection from {peer}"),
        }
    }
}

#[test]
fn a_redirect_of_the_conversions_post_is_refused_and_not_followed() {
    let server = server();
    let trap = Trap::new();
    let location = format!("{}/steal/Conversions", trap.origin());
    server.faults.redirect("POST", 307, &location);
    let env = TestEnv::new();
    config(&env, &server.base_url, INSECURE);
    env.write("many.csv", generate::item_level(&Spec::clean(81, 20)));
    // --max-time: a followed redirect would otherwise wait for the trap's answer.
    let out = push(&env, &["--max-time", "20", "--retries", "0", "many.csv"]);
    out.assert_code(4);
    trap.assert_untouched();
    assert!(out.stderr.contains(&location), "{out:?}");
    assert!(out.stderr.contains("redirect"), "{out:?}");
    assert!(!out.stderr.contains("re-run"), "{out:?}");
    // Every request would meet the same redirect: the run stops at the first.
    assert_eq!(server.conversion_requests().len(), 1);
}

#[test]
fn a_redirect_of_a_status_request_is_refused_and_not_followed() {
    let server = server();
    let env = TestEnv::new();
    config(&env, &server.base_url, INSECURE);
    env.write("order.csv", ORDER);
    push(&env, &["order.csv"]).assert_code(0);
    let trap = Trap::new();
    let location = format!("{}/steal", trap.origin());
    server.faults.redirect("GET", 302, &location);
    let out = run(&env, &["status"]);
    out.assert_code(4);
    trap.assert_untouched();
    assert!(out.stderr.contains(&location), "{out:?}");
    assert!(out.stderr.contains("redirect"), "{out:?}");
}

#[test]
fn relative_and_absolute_queued_uris_are_both_asked() {
    let server = server();
    let env = TestEnv::new();
    // A trailing slash is the same base.
    config(&env, &format!("{}/", server.base_url), INSECURE);
    env.write("first.csv", ORDER);
    push(&env, &["first.csv"]).assert_code(0);
    server.faults.queued_uri_prefix(&server.base_url);
    env.write("second.csv", OTHER_ORDER);
    push(&env, &["second.csv"]).assert_code(0);
    let uris: Vec<String> = server.queued().iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(uris.len(), 2);
    server.set_api_submission_result("ORD-1", Some("Contract Error"), Some("RELATIVE_ASKED"));
    server.set_api_submission_result("ORD-2", Some("Contract Error"), Some("ABSOLUTE_ASKED"));
    server.clear_requests();
    let out = run(&env, &["status"]);
    out.assert_code(1);
    assert!(
        out.stdout.contains(
            "first.csv:2: error[impact] API, order `ORD-1`: Contract Error: RELATIVE_ASKED"
        ),
        "{out:?}"
    );
    assert!(
        out.stdout.contains(
            "second.csv:2: error[impact] API, order `ORD-2`: Contract Error: ABSOLUTE_ASKED"
        ),
        "{out:?}"
    );
    let gets: Vec<String> = server.requests().iter().map(|r| r.path.clone()).collect();
    for id in &uris {
        let want = format!("/Advertisers/{SID}/APISubmissions/{id}");
        assert!(gets.contains(&want), "{want} not asked: {gets:?}");
    }
}

#[test]
fn a_queued_uri_on_another_server_is_reported_and_not_asked() {
    let server = server();
    let trap = Trap::new();
    server.faults.queued_uri_prefix(&trap.origin());
    let env = TestEnv::new();
    config(&env, &server.base_url, INSECURE);
    env.write("order.csv", ORDER);
    push(&env, &["order.csv"]).assert_code(0);
    let out = run(&env, &["status"]);
    out.assert_code(4);
    trap.assert_untouched();
    assert!(out.stderr.contains(&trap.origin()), "{out:?}");
    assert!(
        out.stderr.contains("not asked") && out.stderr.contains("order `ORD-1`"),
        "{out:?}"
    );
    assert!(out.stderr.contains("base_url"), "{out:?}");
}

/// `args` in `env`, with its peak memory; fails if it runs longer than `limit`.
fn measured_run(env: &TestEnv, args: &[&str], limit: Duration) -> Measured {
    let m = measured(env, args, limit);
    assert_no_secret(&m.out);
    m
}

#[test]
fn an_endless_answer_to_the_conversions_post_is_cut_at_1_mib() {
    let server = server();
    server.faults.endless_body("POST");
    let env = TestEnv::new();
    config(&env, &server.base_url, INSECURE);
    env.write("order.csv", ORDER);
    let args = [
        "push",
        "--as-of",
        AS_OF,
        "--api",
        "--retries",
        "1",
        "order.csv",
    ];
    let m = measured_run(&env, &args, Duration::from_secs(60));
    m.out.assert_code(3);
    assert!(
        m.out.stderr.contains("the server's answer exceeded 1 MiB"),
        "{:?}",
        m.out
    );
    assert!(m.time < Duration::from_secs(10), "{:?}", m.time);
    assert!(m.peak_mb < 64, "{} MB", m.peak_mb);
    assert_eq!(server.conversion_requests().len(), 2, "one try, one retry");
}

#[test]
fn an_endless_answer_to_a_status_request_is_cut_at_1_mib() {
    let server = server();
    let env = TestEnv::new();
    config(&env, &server.base_url, INSECURE);
    env.write("order.csv", ORDER);
    push(&env, &["order.csv"]).assert_code(0);
    server.faults.endless_body("GET");
    let m = measured_run(&env, &["status"], Duration::from_secs(60));
    m.out.assert_code(3);
    assert!(
        m.out.stderr.contains("the server's answer exceeded 1 MiB"),
        "{:?}",
        m.out
    );
    assert!(m.out.stderr.contains("re-run later"), "{:?}", m.out);
    assert!(m.time < Duration::from_secs(10), "{:?}", m.time);
    assert!(m.peak_mb < 64, "{} MB", m.peak_mb);
}

#[test]
fn secrets_go_over_plain_http_only_with_the_opt_in() {
    let server = server();
    let env = TestEnv::new();
    config(&env, &server.base_url, "");
    env.write("order.csv", ORDER);
    for args in [
        vec!["push", "--as-of", AS_OF, "--api", "order.csv"],
        vec!["push", "--as-of", AS_OF, "--api", "--dry-run", "order.csv"],
        vec!["status"],
    ] {
        let out = run(&env, &args);
        out.assert_code(2);
        assert!(
            out.stderr.contains("plain http")
                && out.stderr.contains("https://")
                && out.stderr.contains("allow_insecure_http = true"),
            "{args:?}: {out:?}"
        );
        assert!(server.requests().is_empty(), "{args:?}: a request was sent");
    }
    config(&env, &server.base_url, INSECURE);
    push(&env, &["order.csv"]).assert_code(0);
    assert_eq!(server.conversions().len(), 1);
    run(&env, &["status"]).assert_code(0);
}

#[test]
fn a_base_url_that_is_not_an_http_base_is_a_configuration_error() {
    let server = server();
    let port = server.addr().port();
    let env = TestEnv::new();
    env.write("order.csv", ORDER);
    for bad in [
        format!("ftp://127.0.0.1:{port}"),
        "not a url".to_string(),
        format!("http://127.0.0.1:{port}/api?x=1"),
        format!("http://127.0.0.1:{port}/#top"),
        "mailto:ops@acme.example".to_string(),
        format!("http://acme:hunter2@127.0.0.1:{port}"),
        "http://".to_string(),
    ] {
        config(&env, &bad, INSECURE);
        for args in [
            vec![
                "push",
                "--as-of",
                AS_OF,
                "--api",
                "--retries",
                "1",
                "order.csv",
            ],
            vec!["status"],
        ] {
            let started = Instant::now();
            let out = run(&env, &args);
            out.assert_code(2);
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "{bad}: not at once"
            );
            assert!(
                out.stderr.contains("base_url") && out.stderr.contains("[api]"),
                "{bad}: {out:?}"
            );
            assert!(!out.stderr.contains("hunter2"), "{bad}: {out:?}");
        }
    }
    assert!(server.requests().is_empty(), "a request was sent");
}

#[test]
fn a_refusal_that_echoes_the_credentials_does_not_show_them() {
    // A hostile server puts what it received back in its message: the client cuts it out
    // of the text itself (it knows its own token), whatever the shared redaction does.
    let server = server();
    let trap = Trap::new();
    let basic = basic_auth();
    let location = format!("{}/?auth=Basic%20{basic}&token={TOKEN}", trap.origin());
    server.faults.redirect("POST", 301, &location);
    let env = TestEnv::new();
    config(&env, &server.base_url, INSECURE);
    env.write("order.csv", ORDER);
    let out = push(&env, &["--max-time", "20", "order.csv"]);
    out.assert_code(4);
    trap.assert_untouched();
    assert!(out.stderr.contains("***"), "{out:?}");
}

#[test]
fn a_field_error_that_echoes_the_token_is_printed_safely() {
    // The token falls across the point where a long message is shortened, and a terminal
    // escape follows: no piece of the token and no raw control character may show.
    let server = server();
    let message = format!("{}{TOKEN}\u{1b}[2J{}", "x".repeat(110), "y".repeat(50));
    server.faults.field_error_for_order(
        "ORD-1",
        "Amount",
        &message,
        crate::servers::api::ErrorShape::Lower,
    );
    let env = TestEnv::new();
    config(&env, &server.base_url, INSECURE);
    env.write("order.csv", ORDER);
    let out = push(&env, &["order.csv"]);
    out.assert_code(4);
    let results = env.read("order.api-results.csv");
    for text in [&out.stdout, &out.stderr, &results] {
        assert!(!text.contains(&TOKEN[..6]), "{text}");
        assert!(!text.contains('\u{1b}'), "{text:?}");
    }
    assert!(
        out.stdout.contains("order `ORD-1`: field `Amount`: xxxx"),
        "{out:?}"
    );
}
