//! `convsubmit push --api` and `status` against the in-process impact.com stand-in, which
//! records every request.

use crate::generate::{self, Spec};
use crate::servers::api::{ApiOptions, ApiServer, ErrorShape, ResetStyle};
use crate::util::{AS_OF, Output, TestEnv};
use std::time::{Duration, Instant};

const SID: &str = "IRtestAccount0000000000000000001";
const TOKEN: &str = "tok-Zq8!sEcReT";

fn server() -> ApiServer {
    ApiServer::start(ApiOptions::new(SID, TOKEN))
}

fn config(env: &TestEnv, server: &ApiServer, extra: &str) {
    env.write(
        "convsubmit.toml",
        format!(
            "[api]\nbase_url = \"{}\"\nallow_insecure_http = true\naccount_sid = \"{SID}\"\nauth_token_env = \"TEST_API_TOKEN\"\n{extra}\n[ledger]\npath = \"ledger.sqlite\"\n",
            server.base_url
        ),
    );
}

fn run(env: &TestEnv, args: &[&str]) -> Output {
    let out = env.run_env(args, &[("TEST_API_TOKEN", TOKEN)]);
    for text in [&out.stdout, &out.stderr] {
        assert!(!text.contains(TOKEN), "the token leaked:\n{out:?}");
    }
    out
}

fn push(env: &TestEnv, args: &[&str]) -> Output {
    let mut all = vec!["push", "--as-of", AS_OF, "--api"];
    all.extend_from_slice(args);
    run(env, &all)
}

const THREE_ITEMS: &str = "CampaignId,ActionTrackerId,EventDate,OrderId,ClickId,CustomerEmail,CurrencyCode,Amount,Category,Sku,Quantity\n\
    18543,27015,2026-06-28T09:15:00-07:00,ORD-1,Zq3x,b1321dcdd9d4d03a98e20b1669c79ca81802d5daac044544cc6cad43be9d2196,USD,49.99,Shoes,SKU-RUN-042,1\n\
    18543,27015,2026-06-28T09:15:00-07:00,ORD-1,Zq3x,b1321dcdd9d4d03a98e20b1669c79ca81802d5daac044544cc6cad43be9d2196,USD,12.50,\"Socks, wool\",SKU-SOCK-007,2\n\
    18543,27015,2026-06-28T09:15:00-07:00,ORD-1,Zq3x,b1321dcdd9d4d03a98e20b1669c79ca81802d5daac044544cc6cad43be9d2196,USD,8.75,Accessories,SKU-LACE-003,1\n";

#[test]
fn a_three_item_order_is_one_exact_form_with_basic_auth() {
    let server = server();
    let env = TestEnv::new();
    config(&env, &server, "");
    env.write("order.csv", THREE_ITEMS);
    let out = push(&env, &["order.csv"]);
    out.assert_code(0);
    let posts = server.conversion_requests();
    assert_eq!(posts.len(), 1);
    let p = &posts[0];
    assert_eq!(p.path, format!("/Advertisers/{SID}/Conversions"));
    let basic = format!("Basic {}", base64(&format!("{SID}:{TOKEN}")));
    assert_eq!(p.header("authorization"), Some(basic.as_str()));
    assert_eq!(
        p.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(p.header("accept"), Some("application/json"));
    assert_eq!(
        String::from_utf8(p.body.clone()).unwrap(),
        "CampaignId=18543&EventTypeId=27015&EventDate=2026-06-28T09%3A15%3A00-07%3A00&OrderId=ORD-1&ClickId=Zq3x\
         &CustomerEmail=b1321dcdd9d4d03a98e20b1669c79ca81802d5daac044544cc6cad43be9d2196&CurrencyCode=USD\
         &ItemSubTotal1=49.99&ItemCategory1=Shoes&ItemSku1=SKU-RUN-042&ItemQuantity1=1\
         &ItemSubTotal2=12.50&ItemCategory2=Socks%2C+wool&ItemSku2=SKU-SOCK-007&ItemQuantity2=2\
         &ItemSubTotal3=8.75&ItemCategory3=Accessories&ItemSku3=SKU-LACE-003&ItemQuantity3=1"
    );
    let results = env.read("order.api-results.csv");
    assert!(
        results.starts_with("line,OrderId,status,result\n2,ORD-1,200,/Advertisers/"),
        "{results}"
    );
    // A re-run sends nothing.
    let again = push(&env, &["order.csv"]);
    again.assert_code(0);
    assert!(again.stdout.contains("1 already queued"), "{again:?}");
    assert_eq!(server.conversion_requests().len(), 1);
}

fn base64(s: &str) -> String {
    // An independent encoder (the binary's is under test elsewhere).
    let out = std::process::Command::new("sh")
        .args(["-c", "printf '%s' \"$0\" | base64 -w0", s])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn dry_run_prints_the_bodies_and_sends_nothing() {
    let server = server();
    let env = TestEnv::new();
    config(&env, &server, "");
    env.write("order.csv", THREE_ITEMS);
    let out = env.run(&["push", "--as-of", AS_OF, "--api", "--dry-run", "order.csv"]);
    out.assert_code(0);
    assert!(
        out.stdout.contains(&format!(
            "would POST {}/Advertisers/{SID}/Conversions",
            server.base_url
        )),
        "{out:?}"
    );
    assert!(
        out.stdout.contains("  CampaignId=18543&EventTypeId=27015"),
        "{out:?}"
    );
    assert!(server.requests().is_empty());
}

#[test]
fn field_errors_of_both_shapes_point_at_the_source_line_and_column() {
    let server = server();
    server
        .faults
        .field_error_for_order("ORD-1", "ItemSku2", "Unknown SKU", ErrorShape::Lower);
    let env = TestEnv::new();
    config(&env, &server, "");
    env.write("order.csv", THREE_ITEMS);
    let out = push(&env, &["order.csv"]);
    out.assert_code(4);
    assert!(
        out.stdout.contains("order.csv:3: error[http-400] order `ORD-1`: field `ItemSku2` (column `Sku`): Unknown SKU"),
        "{out:?}"
    );
    assert_eq!(
        server.conversion_requests().len(),
        1,
        "a 400 is not retried"
    );
    server.faults.clear();
    server.faults.field_error_for_order(
        "ORD-1",
        "CurrencyCode",
        "Not a currency",
        ErrorShape::Upper,
    );
    let out = push(&env, &["order.csv"]);
    out.assert_code(4);
    assert!(out.stdout.contains("order.csv:2: error[http-400] order `ORD-1`: field `CurrencyCode` (column `CurrencyCode`): Not a currency"), "{out:?}");
    assert!(
        env.read("order.api-results.csv")
            .contains("2,ORD-1,400,CurrencyCode: Not a currency")
    );
}

#[test]
fn a_wrong_token_stops_at_once() {
    let server = server();
    let env = TestEnv::new();
    config(&env, &server, "concurrency = 1");
    env.write("many.csv", generate::item_level(&Spec::clean(61, 60)));
    let out = env.run_env(
        &["push", "--as-of", AS_OF, "--api", "many.csv"],
        &[("TEST_API_TOKEN", "wrong-tok-4")],
    );
    out.assert_code(4);
    assert!(
        out.stderr.contains("refused the account SID or auth token"),
        "{out:?}"
    );
    assert_eq!(server.conversion_requests().len(), 1);
    assert!(!out.stdout.contains("wrong-tok-4") && !out.stderr.contains("wrong-tok-4"));
}

#[test]
fn a_429_holds_every_request_until_the_reset_and_5xx_bursts_are_retried() {
    for style in [ResetStyle::Epoch, ResetStyle::Delta] {
        let server = server();
        server.faults.rate_limit(5, Duration::from_secs(2));
        server.faults.reset_style(style);
        server.faults.omit_retry_after(true);
        server.faults.server_errors(2, 503);
        let env = TestEnv::new();
        config(&env, &server, "concurrency = 4");
        env.write("many.csv", generate::item_level(&Spec::clean(62, 40)));
        let out = push(&env, &["many.csv"]);
        out.assert_code(0);
        let posts = server.conversion_requests();
        let queued = posts.iter().filter(|r| r.status == 200).count();
        let orders = server.conversions().len();
        assert_eq!(queued, orders);
        // After a 429, nothing is sent until the window resets: at most the requests already
        // in flight (one per worker) arrive while limited.
        let limited = posts.iter().filter(|r| r.while_limited).count();
        assert!(
            limited <= 4,
            "{style:?}: {limited} requests sent while limited"
        );
        assert!(posts.iter().any(|r| r.status == 503));
    }
}

#[test]
fn the_time_limit_leaves_the_rest_for_the_next_run() {
    let server = ApiServer::start(ApiOptions {
        latency: Duration::from_millis(300),
        ..ApiOptions::new(SID, TOKEN)
    });
    let env = TestEnv::new();
    config(&env, &server, "concurrency = 1");
    env.write("many.csv", generate::item_level(&Spec::clean(63, 60)));
    let out = push(&env, &["--max-time", "2", "many.csv"]);
    out.assert_code(3);
    assert!(out.stdout.contains("left for the next run"), "{out:?}");
    let first = server.conversions().len();
    assert!(first > 0);
    let out = push(&env, &["many.csv"]);
    out.assert_code(0);
    // Every order arrived, none twice.
    let mut ids: Vec<String> = server
        .conversions()
        .iter()
        .map(|f| f.iter().find(|(k, _)| k == "OrderId").unwrap().1.clone())
        .collect();
    let total = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), total, "an order was queued twice");
    assert!(total > first);
}

#[test]
fn status_maps_impact_errors_back_to_input_lines() {
    let server = server();
    let env = TestEnv::new();
    config(&env, &server, "");
    env.write("order.csv", THREE_ITEMS);
    push(&env, &["order.csv"]).assert_code(0);
    server.set_api_submission_result("ORD-1", Some("Contract Error"), Some("CONTRACT_NOT_FOUND"));
    // A file delivered into a folder is not an impact.com file submission; one over SFTP is,
    // so push through a folder and make the ledger say SFTP. Some orders are set aside, so
    // the part's lines are not the input's.
    std::fs::create_dir(env.path().join("inbox")).unwrap();
    let sales = generate::item_level(&Spec::clean(65, 30));
    let mut lines: Vec<String> = sales.lines().map(String::from).collect();
    // The first order gets a bad amount, so it is set aside and the part starts later.
    let mut fields: Vec<String> = lines[1].splitn(9, ',').map(String::from).collect();
    fields[7] = "\"1,0\"".into();
    lines[1] = fields.join(",");
    env.write("sales.csv", lines.join("\n") + "\n");
    push_dir_then_pretend_ftp(&env);
    let part = "2026-06-30_sales.csv";
    server.add_ftp_submission(part, vec![(3, "ORD-X", "OID_DUPLICATE")]);
    let out = run(&env, &["status"]);
    out.assert_code(1);
    assert!(
        out.stdout.contains(
            "order.csv:2: error[impact] API, order `ORD-1`: Contract Error: CONTRACT_NOT_FOUND"
        ),
        "{out:?}"
    );
    let want_line = expected_source_line(&env, 3);
    assert_ne!(want_line, 3, "the mapping under test is not the identity");
    assert!(
        out.stdout.contains(&format!(
            "sales.csv:{want_line}: error[impact] {part} line 3, order `ORD-X`: OID_DUPLICATE"
        )),
        "{out:?}"
    );
    let json = run(&env, &["status", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["items"].as_array().unwrap().len(), 2);
}

/// Pushes sales.csv into a folder, then makes the ledger say it went over SFTP.
fn push_dir_then_pretend_ftp(env: &TestEnv) {
    push_dir(env, "sales.csv", &[]);
    pretend_sftp(env);
}

/// Pushes `input` into the folder `inbox` (created before), with `extra` arguments.
pub fn push_dir(env: &TestEnv, input: &str, extra: &[&str]) {
    let mut args = vec![
        "push",
        "--as-of",
        AS_OF,
        "--dir",
        "inbox",
        "--ledger",
        "ledger.sqlite",
    ];
    args.extend_from_slice(extra);
    args.push(input);
    let out = env.run(&args);
    assert!(out.code == 0 || out.code == 1, "{out:?}");
}

/// Makes the ledger say every delivery went over SFTP: an impact.com file submission.
pub fn pretend_sftp(env: &TestEnv) {
    let db = env.path().join("ledger.sqlite");
    let status = std::process::Command::new("python3")
        .args([
            "-c",
            "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute(\"UPDATE deliveries SET destination='sftp://acme@batch.impact.com:22/'\"); c.commit()",
            db.to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(status.success());
}

/// The input line of line `n` of the part, read from the split manifest of the same input.
fn expected_source_line(env: &TestEnv, n: u64) -> u64 {
    env.run(&[
        "split",
        "--as-of",
        AS_OF,
        "-q",
        "sales.csv",
        "--out",
        "check",
    ]);
    let m: serde_json::Value = serde_json::from_str(&env.read("check/manifest.json")).unwrap();
    let runs = m["files"][0]["parts"][0]["lines"].as_array().unwrap();
    runs.iter()
        .find_map(|r| {
            let (p, s, c) = (
                r["part_line"].as_u64()?,
                r["source_line"].as_u64()?,
                r["count"].as_u64()?,
            );
            (p..p + c).contains(&n).then(|| s + (n - p))
        })
        .unwrap()
}

#[test]
fn remaining_zero_waits_for_the_reset_so_no_request_meets_the_limit() {
    let server = server();
    server.faults.rate_limit(3, Duration::from_secs(1));
    let env = TestEnv::new();
    config(&env, &server, "concurrency = 1");
    env.write("many.csv", generate::item_level(&Spec::clean(66, 20)));
    push(&env, &["many.csv"]).assert_code(0);
    let posts = server.conversion_requests();
    assert!(posts.len() > 3);
    assert!(
        posts.iter().all(|r| !r.while_limited && r.status == 200),
        "a request was sent before the reset"
    );
}

/// 99 orders of one item each.
fn ninety_nine_orders() -> String {
    generate::item_level(&Spec {
        max_items: 1,
        ..Spec::clean(67, 99)
    })
}

#[test]
fn pacing_counts_requests_in_flight_against_the_announced_budget() {
    // Answers take a while, so that requests are in flight when the budget runs out.
    let server = ApiServer::start(ApiOptions {
        latency: Duration::from_millis(100),
        ..ApiOptions::new(SID, TOKEN)
    });
    server.faults.rate_limit(25, Duration::from_secs(3));
    let env = TestEnv::new();
    config(&env, &server, "concurrency = 4");
    env.write("many.csv", ninety_nine_orders());
    let started = Instant::now();
    push(&env, &["many.csv"]).assert_code(0);
    let took = started.elapsed();
    let posts = server.conversion_requests();
    let refused = posts.iter().filter(|r| r.status == 429).count();
    let limited = posts.iter().filter(|r| r.while_limited).count();
    eprintln!(
        "pacing: {} requests, {refused} answered 429, {limited} while limited, {:.1} s",
        posts.len(),
        took.as_secs_f64()
    );
    assert_eq!(server.conversions().len(), 99);
    assert_eq!(
        posts.len(),
        99,
        "a request the budget could not cover was sent"
    );
    assert_eq!((refused, limited), (0, 0));
    // Four windows of 3 s hold the 99 requests; each reset is announced in whole seconds.
    assert!(took < Duration::from_secs(30), "took {took:?}");
}

#[test]
fn without_announced_limits_the_first_429_switches_to_1000_an_hour() {
    let server = server();
    server.faults.rate_limit(3, Duration::from_secs(1));
    server.faults.omit_rate_headers(true);
    server.faults.omit_retry_after(true);
    let env = TestEnv::new();
    config(&env, &server, "concurrency = 4");
    env.write("many.csv", ninety_nine_orders());
    let out = push(&env, &["--max-time", "12", "many.csv"]);
    out.assert_code(3);
    let mut posts = server.conversion_requests();
    posts.sort_by_key(|r| r.at);
    let first_429 = posts.iter().position(|r| r.status == 429).expect("a 429");
    let t429 = posts[first_429].at;
    // Before the 429, nothing is paced: the workers send as fast as answers come.
    let unpaced = t429 - posts[0].at;
    assert!(
        unpaced < Duration::from_secs(2),
        "{unpaced:?} before the first 429"
    );
    // After it (and the requests already in flight), one request every 3.6 s at most, the
    // documented 1,000 an hour, and none that would start past --max-time.
    let after = posts
        .iter()
        .position(|r| r.at > t429 + Duration::from_secs(1));
    let after = after.expect("a request after the 429");
    for pair in posts[after - 1..].windows(2) {
        let gap = pair[1].at - pair[0].at;
        assert!(
            gap >= Duration::from_millis(3500),
            "{gap:?} between requests"
        );
    }
    let paced = posts.len() - after;
    eprintln!(
        "default pacing: {} requests, {paced} after the first 429",
        posts.len()
    );
    assert!(paced <= 3, "{paced} paced requests in 12 s");
}

#[test]
fn retries_are_bounded() {
    let server = server();
    server.faults.server_errors(100, 503);
    let env = TestEnv::new();
    config(&env, &server, "concurrency = 1");
    env.write("order.csv", THREE_ITEMS);
    let out = push(&env, &["--retries", "2", "order.csv"]);
    out.assert_code(3);
    assert_eq!(
        server.conversion_requests().len(),
        3,
        "one attempt and two retries"
    );
    assert!(
        env.read("order.api-results.csv")
            .contains("2,ORD-1,not sent,HTTP 503; no retries left")
    );
}

#[test]
fn order_level_rows_are_one_conversion_each_and_a_rerun_sends_only_the_rest() {
    let server = server();
    server
        .faults
        .field_error_for_order("ORD-30002", "Amount", "Too large", ErrorShape::Lower);
    let env = TestEnv::new();
    config(&env, &server, "");
    env.copy_fixture("valid/order-level.csv");
    push(&env, &["valid/order-level.csv"]).assert_code(4);
    let (_, rows) = generate::parse(&crate::util::fixture("valid/order-level.csv"));
    assert_eq!(server.conversion_requests().len(), rows.len());
    // The refused order alone goes again; the others are recorded one by one.
    server.faults.clear();
    let again = push(&env, &["valid/order-level.csv"]);
    again.assert_code(0);
    assert!(
        again
            .stdout
            .contains(&format!("{} already queued", rows.len() - 1)),
        "{again:?}"
    );
    assert_eq!(server.conversion_requests().len(), rows.len() + 1);
}
