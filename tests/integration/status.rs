//! `convsubmit status` as cron and scripts meet it: each impact.com error once, nothing that
//! looks like success when impact.com could not be asked, `--max-time` bounding a silent
//! server, `--format json|jsonl` in the documented shape, and `-q` silent when all is well.

use crate::model::assert_keys;
use crate::push_api::{pretend_sftp, push_dir};
use crate::servers::api::{ApiOptions, ApiServer};
use crate::util::{AS_OF, Output, TestEnv};
use serde_json::Value;
use std::net::TcpListener;
use std::time::{Duration, Instant};

const SID: &str = "IRstatusAccount000000000000001";
const TOKEN: &str = "tok-Status-7d41b0";

const ORDER: &str = "CampaignId,ActionTrackerId,EventDate,OrderId,ClickId,CurrencyCode,Amount,Category,Sku,Quantity\n\
    18543,27015,2026-06-28T09:15:00-07:00,ORD-1,Zq3x,USD,49.99,Shoes,SKU-RUN-042,1\n\
    18543,27015,2026-06-28T10:15:00-07:00,ORD-2,Zq3y,USD,19.99,Shoes,SKU-RUN-043,1\n";

fn server() -> ApiServer {
    ApiServer::start(ApiOptions::new(SID, TOKEN))
}

/// `[api]` naming `base_url`, the token in `TEST_API_TOKEN`.
fn config(env: &TestEnv, base_url: &str) {
    env.write(
        "convsubmit.toml",
        format!(
            "[api]\nbase_url = \"{base_url}\"\nallow_insecure_http = true\naccount_sid = \"{SID}\"\nauth_token_env = \"TEST_API_TOKEN\"\n\n[ledger]\npath = \"ledger.sqlite\"\n"
        ),
    );
}

/// `args` with `token` as the auth token; no secret shows.
fn run_with(env: &TestEnv, token: &str, args: &[&str]) -> Output {
    let out = env.run_env(args, &[("TEST_API_TOKEN", token)]);
    for text in [&out.stdout, &out.stderr] {
        assert!(!text.contains(TOKEN) && !text.contains(token), "{out:?}");
    }
    out
}

fn run(env: &TestEnv, args: &[&str]) -> Output {
    run_with(env, TOKEN, args)
}

/// `sales.csv` (ORDER) pushed into a folder `times` times (`--force` after the first), the
/// ledger then saying it went over SFTP; returns the part's name. impact.com takes a file
/// away once it has read it, so every push uses the same name.
fn pushed_as_file(env: &TestEnv, times: usize) -> String {
    let inbox = env.path().join("inbox");
    env.write("sales.csv", ORDER);
    for n in 0..times {
        let _ = std::fs::remove_dir_all(&inbox);
        std::fs::create_dir(&inbox).unwrap();
        push_dir(env, "sales.csv", if n == 0 { &[] } else { &["--force"] });
    }
    pretend_sftp(env);
    let history = run(env, &["history", "--format", "json"]);
    let v: Value = serde_json::from_str(&history.stdout).unwrap();
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["remote_name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), times, "{history:?}");
    assert!(names.iter().all(|n| *n == names[0]), "{names:?}");
    names[0].to_string()
}

/// The port of a listener just closed: a connection to it is refused.
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A server, and sales.csv pushed `times` times as a file impact.com reports one error of.
fn one_error_after_pushes(times: usize) -> (ApiServer, TestEnv, String) {
    let server = server();
    let env = TestEnv::new();
    config(&env, &server.base_url);
    let part = pushed_as_file(&env, times);
    server.add_ftp_submission(&part, vec![(3, "ORD-2", "OID_DUPLICATE")]);
    (server, env, part)
}

#[test]
fn status_reports_each_impact_error_once_after_forced_pushes() {
    let (_server, env, part) = one_error_after_pushes(3);
    let out = run(&env, &["status"]);
    out.assert_code(1);
    let line = format!("sales.csv:3: error[impact] {part} line 3, order `ORD-2`: OID_DUPLICATE");
    assert_eq!(out.stdout.matches(&line).count(), 1, "{out:?}");
    assert!(
        out.stdout
            .contains("status: 0 API conversions and 1 file checked; 0 not complete yet; 1 error reported by impact.com"),
        "{out:?}"
    );
}

#[test]
fn status_against_a_refused_connection_says_so_and_exits_3() {
    let env = TestEnv::new();
    config(&env, &format!("http://127.0.0.1:{}", closed_port()));
    pushed_as_file(&env, 1);
    let out = run(&env, &["status"]);
    out.assert_code(3);
    assert_eq!(out.stdout, "", "no summary when impact.com was not asked");
    assert!(
        out.stderr.contains("error: cannot ask impact.com") && out.stderr.contains("re-run later"),
        "{out:?}"
    );
    let json = run(&env, &["status", "--format", "json"]);
    json.assert_code(3);
    assert_eq!(json.stdout, "", "{json:?}");
}

#[test]
fn status_with_a_wrong_token_names_the_settings_and_exits_4() {
    let server = server();
    let env = TestEnv::new();
    config(&env, &server.base_url);
    pushed_as_file(&env, 1);
    let out = run_with(&env, "tok-wrong-0000", &["status"]);
    out.assert_code(4);
    assert_eq!(out.stdout, "", "{out:?}");
    assert!(out.stderr.contains("HTTP 401"), "{out:?}");
    assert!(
        out.stderr.contains("account_sid") && out.stderr.contains("auth token"),
        "{out:?}"
    );
    assert!(!out.stderr.contains("re-run"), "{out:?}");
}

#[test]
fn status_max_time_bounds_a_silent_server() {
    // Connections wait in the backlog: accepted by the system, never answered.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let env = TestEnv::new();
    config(&env, &format!("http://{}", silent.local_addr().unwrap()));
    pushed_as_file(&env, 1);
    let started = Instant::now();
    let out = run(&env, &["status", "--max-time", "2"]);
    let took = started.elapsed();
    out.assert_code(3);
    assert!(took < Duration::from_secs(8), "{took:?}");
    assert_eq!(out.stdout, "", "{out:?}");
    assert_eq!(
        out.stderr.matches("error:").count(),
        1,
        "one message: {out:?}"
    );
    assert!(
        out.stderr.contains("--max-time 2s") && out.stderr.contains("re-run later"),
        "{out:?}"
    );
}

/// The items of a `status --format json` document, its keys checked strictly.
fn parse_status_json(text: &str) -> Value {
    assert!(text.ends_with('\n') && text.lines().count() == 1, "{text}");
    let v: Value = serde_json::from_str(text).unwrap();
    assert_keys(&v, &["version", "items", "summary"]);
    assert_eq!(v["version"], 1);
    for item in v["items"].as_array().unwrap() {
        assert_keys(item, &["kind", "input", "name", "status", "errors"]);
        for e in item["errors"].as_array().unwrap() {
            assert_keys(e, &["line", "sent_as", "order_id", "reason"]);
        }
    }
    assert_keys(
        &v["summary"],
        &["api_conversions", "files", "not_complete", "errors"],
    );
    v
}

#[test]
fn status_json_and_jsonl_have_the_documented_shape() {
    let (server, env, part) = one_error_after_pushes(2);
    env.write(
        "order.csv",
        ORDER.lines().take(2).collect::<Vec<_>>().join("\n") + "\n",
    );
    run(&env, &["push", "--as-of", AS_OF, "--api", "order.csv"]).assert_code(0);
    server.set_api_submission_result("ORD-1", Some("Contract Error"), Some("CONTRACT_NOT_FOUND"));

    let out = run(&env, &["status", "--format", "json"]);
    out.assert_code(1);
    assert_eq!(out.stderr, "", "{out:?}");
    let v = parse_status_json(&out.stdout);
    let items = v["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{v}");
    let api = &items[0];
    assert_eq!(
        (
            api["kind"].as_str(),
            api["input"].as_str(),
            api["name"].as_str()
        ),
        (Some("api"), Some("order.csv"), Some("ORD-1"))
    );
    assert_eq!(
        api["errors"][0],
        serde_json::json!({"line": 2, "sent_as": "API", "order_id": "ORD-1",
            "reason": "Contract Error: CONTRACT_NOT_FOUND"})
    );
    let file = &items[1];
    assert_eq!(
        (
            file["kind"].as_str(),
            file["name"].as_str(),
            file["status"].as_str()
        ),
        (Some("file"), Some(part.as_str()), Some("Complete"))
    );
    assert_eq!(
        file["errors"],
        serde_json::json!([{"line": 3, "sent_as": format!("{part} line 3"),
            "order_id": "ORD-2", "reason": "OID_DUPLICATE"}])
    );
    assert_eq!(
        v["summary"],
        serde_json::json!({"api_conversions": 1, "files": 1, "not_complete": 0, "errors": 2})
    );

    let lines = run(&env, &["status", "--format", "jsonl"]);
    lines.assert_code(1);
    let parsed: Vec<Value> = lines
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let (summary, each) = parsed.split_last().unwrap();
    assert_eq!(each, items.as_slice(), "jsonl: the json items, a line each");
    assert_eq!(summary, &serde_json::json!({"summary": v["summary"]}));

    // history takes the same formats: jsonl is its json array, a delivery a line.
    let array = run(&env, &["history", "--format", "json"]).stdout;
    let each: Vec<Value> = run(&env, &["history", "--format", "jsonl"])
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        Value::from(each),
        serde_json::from_str::<Value>(&array).unwrap()
    );

    // Nothing pushed yet is still a document.
    let empty = TestEnv::new();
    config(&empty, &server.base_url);
    let none = parse_status_json(&run(&empty, &["status", "--format", "json"]).stdout);
    assert_eq!(none["items"], serde_json::json!([]));
}

#[test]
fn status_quiet_prints_nothing_when_all_is_well_and_errors_still() {
    let server = server();
    let env = TestEnv::new();
    config(&env, &server.base_url);
    let quiet = run(&env, &["status", "-q"]);
    quiet.assert_code(0);
    assert_eq!((quiet.stdout.as_str(), quiet.stderr.as_str()), ("", ""));
    let part = pushed_as_file(&env, 1);
    server.add_ftp_submission(&part, vec![]);
    let quiet = run(&env, &["status", "-q"]);
    quiet.assert_code(0);
    assert_eq!((quiet.stdout.as_str(), quiet.stderr.as_str()), ("", ""));
    assert!(run(&env, &["status"]).stdout.contains("1 file checked"));

    server.add_ftp_submission(&part, vec![(2, "ORD-1", "OID_DUPLICATE")]);
    let errors = run(&env, &["status", "-q"]);
    errors.assert_code(1);
    assert_eq!(
        errors.stdout,
        format!("sales.csv:2: error[impact] {part} line 2, order `ORD-1`: OID_DUPLICATE\n")
    );
    let unreachable = TestEnv::new();
    config(&unreachable, &format!("http://127.0.0.1:{}", closed_port()));
    pushed_as_file(&unreachable, 1);
    let out = run(&unreachable, &["status", "-q"]);
    out.assert_code(3);
    assert!(out.stderr.contains("cannot ask impact.com"), "{out:?}");
}
