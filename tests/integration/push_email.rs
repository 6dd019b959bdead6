//! `convsubmit push --email` and `doctor --email` against a real SMTP server on 127.0.0.1
//! (in this process); every message received is parsed back.

use crate::generate::{self, Spec};
use crate::push::expected_parts;
use crate::servers::smtp::{Received, SmtpOptions, SmtpServer, Stage};
use crate::util::{AS_OF, Output, TestEnv};
use mail_parser::{MessageParser, MimeHeaders};
use std::collections::BTreeMap;

const PASSWORD: &str = "smtp-pw-Lk2$sEcReT";
const TO: &str = "42f56e88-9c1d@batch.impact.com";

fn server(starttls: bool, implicit: bool) -> SmtpServer {
    SmtpServer::start(SmtpOptions {
        starttls,
        implicit_tls: implicit,
        auth: Some(("reports@acme.example".into(), PASSWORD.into())),
        ..SmtpOptions::default()
    })
}

fn config(env: &TestEnv, server: &SmtpServer, extra: &str) {
    let ca = match &server.ca_pem {
        Some(pem) => {
            env.write("ca.pem", std::fs::read(pem).unwrap());
            "ca_file = \"ca.pem\"\n"
        }
        None => "",
    };
    env.write(
        "convsubmit.toml",
        format!(
            "[email]\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {}\nusername = \"reports@acme.example\"\npassword_env = \"TEST_SMTP_PASSWORD\"\n{ca}from = \"Acme Reports <reports@acme.example>\"\nto = \"{TO}\"\ncc = [\"ops@acme.example\", \"finance@acme.example\"]\n{extra}\n[ledger]\npath = \"ledger.sqlite\"\n",
            server.port
        ),
    );
}

/// The shipped valid example with its one 27016 row made 27015: a file of one event type, as
/// one address takes.
pub fn one_event_type(env: &TestEnv) {
    let text = String::from_utf8(crate::util::fixture("item-level-valid.csv")).unwrap();
    env.write("item-level-valid.csv", text.replace(",27016,", ",27015,"));
}

fn push(env: &TestEnv, args: &[&str]) -> Output {
    let mut all = vec!["push", "--as-of", AS_OF, "--email"];
    all.extend_from_slice(args);
    let out = env.run_env(&all, &[("TEST_SMTP_PASSWORD", PASSWORD)]);
    for text in [&out.stdout, &out.stderr] {
        assert!(!text.contains(PASSWORD), "the password leaked:\n{out:?}");
    }
    out
}

/// Each message's attachment: name → bytes; checks the headers of every message.
pub fn attachments(messages: &[Received]) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for m in messages {
        assert_eq!(m.to, [TO, "ops@acme.example", "finance@acme.example"]);
        assert!(!m.has_bare_lf());
        let parsed = MessageParser::default().parse(&m.raw).unwrap();
        let to: Vec<&str> = parsed
            .to()
            .unwrap()
            .iter()
            .filter_map(|a| a.address())
            .collect();
        assert_eq!(to, [TO], "To: holds only the impact.com address");
        let cc: Vec<&str> = parsed
            .cc()
            .unwrap()
            .iter()
            .filter_map(|a| a.address())
            .collect();
        assert_eq!(cc, ["ops@acme.example", "finance@acme.example"]);
        let from = parsed.from().unwrap().first().unwrap();
        assert_eq!(from.address(), Some("reports@acme.example"));
        assert_eq!(parsed.attachment_count(), 1);
        let a = parsed.attachments().next().unwrap();
        let ct = a.content_type().unwrap();
        let name = a.attachment_name().unwrap().to_string();
        let want = match name.ends_with(".pgp") {
            true => ("application", Some("octet-stream")),
            false => ("text", Some("csv")),
        };
        assert_eq!((ct.ctype(), ct.subtype()), want, "{name}");
        assert!(parsed.subject().unwrap().contains(&name));
        assert!(
            out.insert(name, a.contents().to_vec()).is_none(),
            "one message per part"
        );
    }
    out
}

#[test]
fn starttls_and_auth_send_each_part_in_its_own_message_once() {
    let server = server(true, false);
    let env = TestEnv::new();
    config(&env, &server, "");
    env.write("sales.csv", generate::item_level(&Spec::clean(51, 900)));
    let want = expected_parts(&env, "sales.csv", "400");
    let out = push(&env, &["--max-rows", "400", "sales.csv"]);
    out.assert_code(0);
    let messages = server.messages();
    assert!(
        messages
            .iter()
            .all(|m| m.tls && m.authenticated_as.is_some())
    );
    assert_eq!(attachments(&messages), want);
    let again = push(&env, &["--max-rows", "400", "sales.csv"]);
    again.assert_code(0);
    assert!(
        again
            .stdout
            .contains(&format!("{} already delivered", want.len())),
        "{again:?}"
    );
    assert_eq!(server.messages().len(), want.len());
    let doctor = env.run_env(&["doctor", "--email"], &[("TEST_SMTP_PASSWORD", PASSWORD)]);
    doctor.assert_code(0);
    assert!(doctor.stdout.contains("no message sent"), "{doctor:?}");
    assert_eq!(server.messages().len(), want.len());
}

#[test]
fn a_server_without_starttls_is_refused_before_anything_is_said() {
    let server = SmtpServer::start(SmtpOptions::default());
    let env = TestEnv::new();
    config(&env, &server, "");
    one_event_type(&env);
    let out = push(&env, &["item-level-valid.csv"]);
    out.assert_code(4);
    assert!(
        out.stderr.contains("TLS failed") && out.stderr.contains("does not offer STARTTLS"),
        "{out:?}"
    );
    assert!(
        !server
            .log()
            .iter()
            .any(|l| l.starts_with("AUTH") || l.starts_with("MAIL"))
    );
    // Only when configured: plain SMTP, with a warning.
    let plain = SmtpServer::start(SmtpOptions {
        auth: Some(("reports@acme.example".into(), PASSWORD.into())),
        ..SmtpOptions::default()
    });
    config(&env, &plain, "tls = \"none\"");
    let out = push(&env, &["item-level-valid.csv"]);
    out.assert_code(0);
    assert!(out.stderr.contains("clear text"), "{out:?}");
    assert_eq!(plain.messages().len(), 1);
}

#[test]
fn implicit_tls() {
    let server = server(false, true);
    let env = TestEnv::new();
    config(&env, &server, "tls = \"implicit\"");
    one_event_type(&env);
    push(&env, &["item-level-valid.csv"]).assert_code(0);
    assert!(server.messages()[0].tls);
}

#[test]
fn refusals_are_permanent_and_name_the_stage() {
    let server = server(true, false);
    let env = TestEnv::new();
    config(&env, &server, "");
    one_event_type(&env);
    let out = env.run_env(
        &["push", "--as-of", AS_OF, "--email", "item-level-valid.csv"],
        &[("TEST_SMTP_PASSWORD", "wrong-Pw-1x")],
    );
    out.assert_code(4);
    assert!(
        out.stderr.contains("AUTH failed") && !out.stderr.contains("retrying"),
        "{out:?}"
    );
    assert!(!out.stderr.contains("wrong-Pw-1x"));
    server.faults.reply_once(Stage::Rcpt, 550);
    let out = push(&env, &["item-level-valid.csv"]);
    out.assert_code(4);
    assert!(out.stderr.contains("RCPT failed"), "{out:?}");
    assert!(server.messages().is_empty());
}

#[test]
fn temporary_replies_and_dropped_connections_are_retried_and_sent_once() {
    let server = server(true, false);
    server.faults.reply_once(Stage::DataEnd, 451);
    let env = TestEnv::new();
    config(&env, &server, "");
    one_event_type(&env);
    let out = push(&env, &["item-level-valid.csv"]);
    out.assert_code(0);
    assert!(
        out.stderr.contains("DATA failed") && out.stderr.contains("retrying in"),
        "{out:?}"
    );
    assert_eq!(server.messages().len(), 1);
    server.faults.drop_during_data_once();
    env.write("big.csv", generate::item_level(&Spec::clean(52, 300)));
    let out = push(&env, &["big.csv"]);
    out.assert_code(0);
    assert!(out.stderr.contains("retrying in"), "{out:?}");
    // The dropped message was sent again whole; the ledger has each part once.
    assert_eq!(server.messages().len(), 2);
    let history = env.run(&["history", "--format", "json"]);
    let list: serde_json::Value = serde_json::from_str(&history.stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2);
}

#[test]
fn parts_over_the_attachment_limit_are_cut_between_orders() {
    let server = server(true, false);
    let env = TestEnv::new();
    config(&env, &server, "max_attachment_bytes = 20000");
    env.write("sales.csv", generate::item_level(&Spec::clean(53, 600)));
    let whole = expected_parts(&env, "sales.csv", "10000");
    assert!(whole.values().next().unwrap().len() > 40_000);
    push(&env, &["sales.csv"]).assert_code(0);
    let got = attachments(&server.messages());
    assert!(got.len() >= 3);
    let (header, rows) = generate::parse(whole.values().next().unwrap());
    let mut joined = vec![];
    let mut orders_seen = std::collections::HashSet::new();
    for (name, bytes) in &got {
        assert!(bytes.len() <= 20_000, "{name}: {}", bytes.len());
        let (h, part_rows) = generate::parse(bytes);
        assert_eq!(h, header);
        let ids: std::collections::BTreeSet<String> =
            part_rows.iter().map(|r| r.fields[3].clone()).collect();
        for id in ids {
            assert!(
                orders_seen.insert(id.clone()),
                "order {id} cut across attachments"
            );
        }
        joined.extend(part_rows.into_iter().map(|r| r.fields));
    }
    let original: Vec<Vec<String>> = rows.into_iter().map(|r| r.fields).collect();
    assert_eq!(joined, original);
}

const TO_27016: &str = "7d0c4b1a-33e2@batch.impact.com";

/// `sales.csv` with orders of two event types: 27015 (seed 61), then 27016 (seed 62).
fn two_event_types(env: &TestEnv) -> (String, String) {
    let a = generate::item_level(&Spec::clean(61, 120));
    let b = generate::item_level(&Spec::clean(62, 80)).replace(",27015,", ",27016,");
    let body = |s: &str| s.split_once('\n').unwrap().1.to_string();
    env.write("sales.csv", format!("{}{}", a, body(&b)));
    (body(&a), body(&b))
}

fn table_config(env: &TestEnv, server: &SmtpServer, to: &str) {
    config(env, server, "");
    let text = env.read("convsubmit.toml");
    let text = text.replace(&format!("to = \"{TO}\"\n"), "");
    let text = text.replace("\n[ledger]", &format!("\n[email.to]\n{to}\n[ledger]"));
    env.write("convsubmit.toml", text);
}

#[test]
fn each_event_type_is_mailed_to_its_own_address_once() {
    let server = server(true, false);
    let env = TestEnv::new();
    table_config(
        &env,
        &server,
        &format!("27015 = \"{TO}\"\n27016 = \"{TO_27016}\"\n"),
    );
    let (rows_a, rows_b) = two_event_types(&env);
    let out = push(&env, &["sales.csv"]);
    out.assert_code(0);
    let messages = server.messages();
    assert_eq!(messages.len(), 2, "{out:?}");
    let header = format!("{}\n", generate::HEADER);
    for (m, (to, name, rows)) in messages.iter().zip([
        (TO, format!("{AS_OF}_sales_27015.csv"), &rows_a),
        (TO_27016, format!("{AS_OF}_sales_27016.csv"), &rows_b),
    ]) {
        assert_eq!(m.to, [to, "ops@acme.example", "finance@acme.example"]);
        let parsed = MessageParser::default().parse(&m.raw).unwrap();
        let header_to: Vec<&str> = parsed
            .to()
            .unwrap()
            .iter()
            .filter_map(|a| a.address())
            .collect();
        assert_eq!(header_to, [to], "To: holds only the event type's address");
        let a = parsed.attachments().next().unwrap();
        assert_eq!(a.attachment_name(), Some(name.as_str()));
        assert_eq!(
            String::from_utf8_lossy(a.contents()),
            format!("{header}{rows}")
        );
    }
    // The ledger knows each part by its address: a re-run sends nothing.
    let again = push(&env, &["sales.csv"]);
    again.assert_code(0);
    assert!(again.stdout.contains("2 already delivered"), "{again:?}");
    assert_eq!(server.messages().len(), 2);
    let history = env.run(&["history", "--format", "json"]);
    let list: serde_json::Value = serde_json::from_str(&history.stdout).unwrap();
    let mut destinations: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["destination"].as_str().unwrap())
        .collect();
    destinations.sort();
    let mut want = [format!("mailto:{TO}"), format!("mailto:{TO_27016}")];
    want.sort();
    assert_eq!(destinations, want);
    // The JSON report names each part's event type.
    let json = push(&env, &["--force", "--format", "json", "sales.csv"]);
    json.assert_code(0);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let types: Vec<&str> = doc["delivery"]["units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["27015", "27016"], "{doc}");
}

#[test]
fn an_event_type_without_an_address_stops_the_run_before_anything_is_sent() {
    let server = server(true, false);
    let env = TestEnv::new();
    table_config(&env, &server, &format!("27015 = \"{TO}\"\n"));
    two_event_types(&env);
    let out = push(&env, &["sales.csv"]);
    out.assert_code(2);
    assert!(
        out.stderr.contains("no address for event type 27016"),
        "{out:?}"
    );
    assert!(out.stderr.contains("[email.to]"), "{out:?}");
    assert!(server.messages().is_empty());
}

#[test]
fn one_address_refuses_a_file_of_two_event_types_before_anything_is_sent() {
    let server = server(true, false);
    let env = TestEnv::new();
    config(&env, &server, "");
    two_event_types(&env);
    let out = push(&env, &["sales.csv"]);
    out.assert_code(2);
    assert!(
        out.stderr.contains("2 event types (27015, 27016)"),
        "{out:?}"
    );
    assert!(out.stderr.contains("[email.to]"), "{out:?}");
    assert!(server.messages().is_empty());
}

/// With `encrypt_to`, each attachment is one encrypted part (after the cutting by event type
/// and size), that GnuPG decrypts back to the part; a re-run sends nothing.
#[test]
fn encrypted_parts_are_mailed_one_per_attachment_and_decrypt_to_the_parts() {
    let gpg = crate::pgp::Gpg::new("2y", None);
    let server = server(true, false);
    let env = TestEnv::new();
    config(
        &env,
        &server,
        "max_attachment_bytes = 20000\nencrypt_to = \"impact-public.asc\"",
    );
    gpg.write_public_key(&env, "impact-public.asc", true);
    env.write("sales.csv", generate::item_level(&Spec::clean(53, 600)));
    let whole = expected_parts(&env, "sales.csv", "10000");
    let out = push(&env, &["sales.csv"]);
    out.assert_code(0);
    let got = attachments(&server.messages());
    assert!(got.len() >= 3, "{got:?}");
    let plain = crate::pgp::decrypted(&gpg, &got);
    let (header, rows) = generate::parse(whole.values().next().unwrap());
    let mut joined = vec![];
    for (name, bytes) in &got {
        assert!(bytes.len() <= 20_000, "{name}: {}", bytes.len());
        let (h, part_rows) = generate::parse(&plain[name.strip_suffix(".pgp").unwrap()]);
        assert_eq!(h, header);
        joined.extend(part_rows.into_iter().map(|r| r.fields));
    }
    let original: Vec<Vec<String>> = rows.into_iter().map(|r| r.fields).collect();
    assert_eq!(joined, original);
    let again = push(&env, &["sales.csv"]);
    crate::util::assert_already_delivered(&again, got.len());
    assert_eq!(server.messages().len(), got.len());
}
