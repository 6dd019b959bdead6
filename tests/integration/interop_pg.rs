//! The PostgreSQL ledger against a real server: PostgreSQL from Debian's packages, started
//! on 127.0.0.1 by `scripts/interop` with password auth (scram-sha-256) and TLS (which runs
//! these tests; alone they are ignored). Each test keeps its ledger in a schema of its own
//! (the URL's `options=-csearch_path=…`), so each has its own tables and its own lock.

use crate::crash::{Channel, crash_and_rerun, folder_deliveries};
use crate::generate::{self, Spec};
use crate::push::{expected_parts, files_in};
use crate::util::{AS_OF, Output, TestEnv};
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What `scripts/interop` started, from its environment variables.
struct Pg {
    port: String,
    password: String,
    ca: PathBuf,
    /// `pg_ctl` for the server, as the user it runs as.
    ctl: PathBuf,
    /// `psql` as the superuser, in the ledger's database.
    psql: PathBuf,
}

fn pg() -> Pg {
    let var = |name: &str| {
        std::env::var(format!("CONVSUBMIT_INTEROP_PG_{name}")).unwrap_or_else(|_| {
            panic!("CONVSUBMIT_INTEROP_PG_{name} is not set: run scripts/interop")
        })
    };
    Pg {
        port: var("PORT"),
        password: var("PASSWORD"),
        ca: var("CA").into(),
        ctl: var("CTL").into(),
        psql: var("PSQL").into(),
    }
}

const PASSWORD_VAR: &str = "INTEROP_PG_PASSWORD";

impl Pg {
    /// Runs `sql` as the superuser; returns what it printed (unaligned, tuples only).
    fn sql(&self, sql: &str) -> String {
        let out = Command::new(&self.psql)
            .args(["-At", "-c", sql])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    /// A fresh, empty schema `name` owned by the ledger's user: one test's ledger.
    fn schema(&self, name: &str) {
        self.sql(&format!(
            "DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name} AUTHORIZATION cvsledger"
        ));
    }

    /// The ledger in schema `schema`, as `user`.
    fn url(&self, user: &str, schema: &str) -> String {
        format!(
            "postgresql://{user}@127.0.0.1:{}/cvsledger?sslmode=verify-full&options=-csearch_path%3D{schema}",
            self.port
        )
    }

    /// `env`'s config: the ledger in `schema`, TLS verified against the server's CA, the
    /// password from an environment variable.
    fn config(&self, env: &TestEnv, schema: &str) {
        self.config_url(env, &self.url("cvsledger", schema), true);
    }

    /// `env`'s config: the ledger at `url`, the server's CA named when `ca`.
    fn config_url(&self, env: &TestEnv, url: &str, ca: bool) {
        let ca = match ca {
            true => format!("ca_file = \"{}\"\n", self.ca.display()),
            false => String::new(),
        };
        env.write(
            "convsubmit.toml",
            format!("[ledger]\nurl = \"{url}\"\npassword_env = \"{PASSWORD_VAR}\"\n{ca}"),
        );
    }

    /// A work folder whose ledger is the fresh schema `schema`, with an empty `inbox`.
    fn host(&self, schema: &str) -> TestEnv {
        self.schema(schema);
        let env = TestEnv::new();
        self.config(&env, schema);
        std::fs::create_dir(env.path().join("inbox")).unwrap();
        env
    }

    /// Starts convsubmit in `env` with the password in its environment.
    fn spawn(&self, env: &TestEnv, args: &[&str]) -> std::process::Child {
        env.command(args)
            .env(PASSWORD_VAR, &self.password)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// Runs convsubmit in `env` with the password `password` in its environment; the
    /// password appears nowhere in what it printed.
    fn run_with(&self, env: &TestEnv, args: &[&str], password: &str) -> Output {
        let out = env.run_env(args, &[(PASSWORD_VAR, password)]);
        for text in [&out.stdout, &out.stderr] {
            assert!(!text.contains(password), "the password leaked:\n{out:?}");
            assert!(
                !text.contains(&self.password),
                "the password leaked:\n{out:?}"
            );
        }
        out
    }

    fn run(&self, env: &TestEnv, args: &[&str]) -> Output {
        self.run_with(env, args, &self.password)
    }

    /// `(deliveries, distinct parts)` the ledger in `schema` records.
    fn recorded(&self, schema: &str) -> (usize, usize) {
        let counts = self.sql(&format!(
            "SELECT count(*), count(DISTINCT sha256) FROM {schema}.convsubmit_deliveries"
        ));
        let (all, distinct) = counts.split_once('|').unwrap();
        (all.parse().unwrap(), distinct.parse().unwrap())
    }
}

fn push_args<'a>(dir: &'a str, more: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["push", "--as-of", AS_OF, "-q", "--dir", dir];
    v.extend_from_slice(more);
    v
}

/// The files in `dir` and their inodes: a part delivered again gets a new inode.
fn inodes(dir: &Path) -> BTreeMap<String, u64> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            (name, e.metadata().unwrap().ino())
        })
        .filter(|(n, _)| !n.starts_with('.'))
        .collect()
}

#[test]
#[ignore = "needs the PostgreSQL server scripts/interop starts"]
fn interop_pg_two_hosts_on_one_ledger_deliver_each_part_once() {
    let s = pg();
    s.schema("two_hosts");
    let destination = TestEnv::new();
    let inbox = destination.path().join("inbox");
    std::fs::create_dir(&inbox).unwrap();
    let csv = generate::item_level(&Spec::clean(0x2405, 3_000));
    // Two "hosts": two work folders, each with its own copy of the export and its own
    // config, one ledger and one destination.
    let hosts = [TestEnv::new(), TestEnv::new()];
    for h in &hosts {
        s.config(h, "two_hosts");
        h.write("sales.csv", &csv);
    }
    let want = expected_parts(&hosts[0], "sales.csv", "20");
    assert!(want.len() > 50, "{}", want.len());
    let dir = inbox.to_str().unwrap();
    let args = push_args(dir, &["--max-rows", "20", "sales.csv"]);
    let children: Vec<_> = hosts.iter().map(|h| s.spawn(h, &args)).collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{:?}: {stderr}", out.status);
        assert!(!stderr.contains(&s.password));
    }
    assert_eq!(files_in(&inbox), want, "every part, complete, nothing else");
    assert_eq!(s.recorded("two_hosts"), (want.len(), want.len()));
    // Each host, run again, finds everything delivered by one or the other.
    let before = inodes(&inbox);
    for h in &hosts {
        let out = s.run(h, &push_args(dir, &["--max-rows", "20", "sales.csv"]));
        out.assert_code(0);
    }
    assert_eq!(inodes(&inbox), before, "nothing delivered again");
    assert_eq!(s.recorded("two_hosts"), (want.len(), want.len()));
}

#[test]
#[ignore = "needs the PostgreSQL server scripts/interop starts"]
fn interop_pg_killed_runs_then_a_rerun_deliver_every_part_exactly_once() {
    let s = pg();
    let env = s.host("killed");
    env.write(
        "many.csv",
        generate::item_level(&Spec::clean(0x2406, 2_000)),
    );
    let want = expected_parts(&env, "many.csv", "10");
    let ch = Channel {
        name: "dir with a PostgreSQL ledger",
        env: &env,
        args: push_args("inbox", &["--max-rows", "10", "many.csv"]),
        vars: vec![(PASSWORD_VAR, &s.password)],
        window: 200..2500,
        seed: 0x2406,
        want: want.keys().cloned().collect(),
        repeats_per_kill: 0,
    };
    let f = crash_and_rerun(&ch, folder_deliveries(&env.path().join("inbox")));
    eprintln!("{f:?}");
    // Under final names (a run killed between the folder's link and the removal of its
    // temporary name leaves that dot-file behind, whatever the ledger).
    let mut arrived = files_in(&env.path().join("inbox"));
    arrived.retain(|name, _| !name.starts_with('.'));
    assert_eq!(arrived, want);
    assert_eq!(s.recorded("killed"), (want.len(), want.len()));
    assert_eq!(
        s.sql("SELECT count(*) FROM killed.convsubmit_sending"),
        "0",
        "the re-run resolved every note"
    );
}

#[test]
#[ignore = "needs the PostgreSQL server scripts/interop starts"]
fn interop_pg_a_server_restart_mid_run_is_temporary_and_a_rerun_completes() {
    let s = pg();
    let env = s.host("restart");
    env.write(
        "many.csv",
        generate::item_level(&Spec::clean(0x2407, 2_000)),
    );
    let inbox = env.path().join("inbox");
    let want = expected_parts(&env, "many.csv", "5");
    let args = push_args("inbox", &["--max-rows", "5", "many.csv"]);
    let child = s.spawn(&env, &args);
    // Once the run is delivering, the server restarts under it.
    let until = Instant::now() + Duration::from_secs(60);
    while inodes(&inbox).len() < 5 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(5));
    }
    let restart = Command::new(&s.ctl)
        .args(["restart", "-m", "fast", "-w"])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(restart.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("re-run later"), "{stderr}");
    assert!(!stderr.contains(&s.password));
    let delivered = inodes(&inbox);
    assert!(delivered.len() < want.len(), "the restart came too late");
    s.run(&env, &args).assert_code(0);
    assert_eq!(files_in(&inbox), want, "every part, complete, nothing else");
    let after = inodes(&inbox);
    for (name, ino) in &delivered {
        assert_eq!(after.get(name), Some(ino), "{name} was delivered again");
    }
    assert_eq!(s.recorded("restart"), (want.len(), want.len()));
}

#[test]
#[ignore = "needs the PostgreSQL server scripts/interop starts"]
fn interop_pg_a_wrong_password_or_a_missing_permission_is_permanent_and_never_shown() {
    let s = pg();
    let env = s.host("refused");
    env.copy_fixture("item-level-valid.csv");
    let wrong = "Wr0ng-pg-Passw0rd-7731";
    for format in ["text", "json"] {
        let args = push_args("inbox", &["--format", format, "item-level-valid.csv"]);
        let out = s.run_with(&env, &args, wrong);
        out.assert_code(4);
        assert!(
            out.stderr.contains("password authentication failed"),
            "{out:?}"
        );
        assert!(out.stderr.contains("[ledger] password_env"), "{out:?}");
        assert!(!out.stderr.contains("re-run"), "{out:?}");
    }
    assert!(inodes(&env.path().join("inbox")).is_empty(), "nothing sent");
    // A user who may not create the tables (PostgreSQL 15: not in the public schema).
    s.config_url(&env, &s.url("cvsnocreate", "public"), true);
    let out = s.run(&env, &push_args("inbox", &["item-level-valid.csv"]));
    out.assert_code(4);
    assert!(out.stderr.contains("permission denied"), "{out:?}");
    assert!(inodes(&env.path().join("inbox")).is_empty(), "nothing sent");
    // A server whose certificate is not trusted: permanent too.
    s.config_url(&env, &s.url("cvsledger", "refused"), false);
    let out = s.run(&env, &push_args("inbox", &["item-level-valid.csv"]));
    out.assert_code(4);
    assert!(out.stderr.contains("[ledger] ca_file"), "{out:?}");
}

#[test]
#[ignore = "needs the PostgreSQL server scripts/interop starts"]
fn interop_pg_a_foreign_or_newer_ledger_is_refused() {
    let s = pg();
    let env = TestEnv::new();
    env.copy_fixture("item-level-valid.csv");
    std::fs::create_dir(env.path().join("inbox")).unwrap();
    let args = push_args("inbox", &["item-level-valid.csv"]);
    // Another program's tables beside ours are fine.
    s.schema("shared_db");
    s.sql("CREATE TABLE shared_db.orders (id int)");
    s.config(&env, "shared_db");
    s.run(&env, &args).assert_code(0);
    // A newer convsubmit's ledger.
    s.sql("UPDATE shared_db.convsubmit_meta SET schema_version = 3");
    let out = s.run(&env, &args);
    out.assert_code(2);
    assert!(out.stderr.contains("schema version 3"), "{out:?}");
    // Tables named like ours that are not ours.
    s.schema("foreign_tables");
    s.sql("CREATE TABLE foreign_tables.convsubmit_deliveries (id int)");
    s.config(&env, "foreign_tables");
    let out = s.run(&env, &args);
    out.assert_code(2);
    assert!(out.stderr.contains("no convsubmit_meta"), "{out:?}");
    s.schema("damaged");
    s.config(&env, "damaged");
    s.run(&env, &["history"]).assert_code(0);
    s.sql("ALTER TABLE damaged.convsubmit_sending DROP COLUMN started_at");
    let out = s.run(&env, &args);
    out.assert_code(2);
    assert!(
        out.stderr.contains("without the column started_at"),
        "{out:?}"
    );
}

#[test]
#[ignore = "needs the PostgreSQL server scripts/interop starts"]
fn interop_pg_history_and_status_read_the_shared_ledger() {
    let s = pg();
    let env = s.host("reports");
    env.copy_fixture("item-level-valid.csv");
    s.run(&env, &push_args("inbox", &["item-level-valid.csv"]))
        .assert_code(0);
    let out = s.run(&env, &["history", "--format", "json"]);
    out.assert_code(0);
    let list: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1, "{}", out.stdout);
    assert_eq!(list[0]["input"], "item-level-valid.csv");
    // The same ledger named on the command line, the config's ledger ignored.
    let other = TestEnv::new();
    let url = s.url("cvsledger", "reports");
    other.write(
        "convsubmit.toml",
        format!(
            "[ledger]\npath = \"local.sqlite\"\npassword_env = \"{PASSWORD_VAR}\"\nca_file = \"{}\"\n",
            s.ca.display()
        ),
    );
    let out = s.run(
        &other,
        &["history", "--ledger-url", &url, "--format", "jsonl"],
    );
    out.assert_code(0);
    assert_eq!(out.stdout.lines().count(), 1, "{out:?}");
    // status: only the folder's delivery, which impact.com is not asked about.
    env.write(
        "convsubmit.toml",
        format!(
            "{}[api]\nbase_url = \"http://127.0.0.1:9\"\nallow_insecure_http = true\naccount_sid = \"IRtest\"\nauth_token_env = \"{PASSWORD_VAR}\"\n",
            env.read("convsubmit.toml")
        ),
    );
    let out = s.run(&env, &["status", "--format", "json"]);
    out.assert_code(0);
}

#[test]
#[ignore = "needs the PostgreSQL server scripts/interop starts"]
fn interop_pg_a_ledger_another_host_holds_makes_a_run_wait_then_exit_3() {
    let s = pg();
    let env = s.host("busy");
    env.copy_fixture("item-level-valid.csv");
    // "Another host": a session holding the ledger's lock, as a run does, for 8 seconds.
    let mut other = Command::new(&s.psql)
        .args([
            "-c",
            "SET search_path = busy; \
             SELECT pg_advisory_lock(('x' || left(md5('convsubmit ledger ' || current_schema()), 16))::bit(64)::bigint); \
             SELECT pg_sleep(8)",
        ])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let until = Instant::now() + Duration::from_secs(10);
    while s.sql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted") == "0" {
        assert!(Instant::now() < until, "the lock was never taken");
        std::thread::sleep(Duration::from_millis(50));
    }
    let started = Instant::now();
    let args = [
        "push",
        "--as-of",
        AS_OF,
        "--max-time",
        "2",
        "--dir",
        "inbox",
    ];
    let out = s.run(&env, &[&args[..], &["item-level-valid.csv"]].concat());
    out.assert_code(3);
    assert!(
        out.stderr
            .contains("waiting for another convsubmit run to finish with the ledger"),
        "{out:?}"
    );
    assert!(
        out.stderr.contains("another run still holds the ledger"),
        "{out:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(7),
        "{:?}",
        started.elapsed()
    );
    assert!(inodes(&env.path().join("inbox")).is_empty(), "nothing sent");
    // Once that session ends, so does its lock.
    other.wait().unwrap();
    s.run(&env, &[&args[..], &["item-level-valid.csv"]].concat())
        .assert_code(0);
}

/// A ledger of schema version 1 (before encrypted parts) is migrated by the next run: its
/// records kept (a re-run is silent), the encrypted columns added, its version 2; then an
/// encrypted part records its encrypted digest.
#[test]
#[ignore = "needs the PostgreSQL server scripts/interop starts"]
fn interop_pg_a_version_1_ledger_is_migrated_and_records_encrypted_parts() {
    let s = pg();
    let env = TestEnv::new();
    env.copy_fixture("item-level-valid.csv");
    std::fs::create_dir(env.path().join("inbox")).unwrap();
    let args = push_args("inbox", &["item-level-valid.csv"]);
    s.schema("migrated");
    s.config(&env, "migrated");
    s.run(&env, &args).assert_code(0);
    s.sql(
        "ALTER TABLE migrated.convsubmit_deliveries DROP COLUMN encrypted_sha256, DROP COLUMN encrypted_bytes;
         ALTER TABLE migrated.convsubmit_sending DROP COLUMN encrypted_sha256, DROP COLUMN encrypted_bytes;
         UPDATE migrated.convsubmit_meta SET schema_version = 1",
    );
    let again = s.run(
        &env,
        &[
            "push",
            "--as-of",
            AS_OF,
            "--dir",
            "inbox",
            "item-level-valid.csv",
        ],
    );
    again.assert_code(0);
    assert!(again.stdout.contains("1 already delivered"), "{again:?}");
    assert_eq!(
        s.sql("SELECT schema_version FROM migrated.convsubmit_meta"),
        "2"
    );
    // An encrypted part of another input records both digests.
    let gpg = crate::pgp::Gpg::new("2y", None);
    gpg.write_public_key(&env, "impact-public.asc", true);
    let text = env.read("convsubmit.toml");
    env.write(
        "convsubmit.toml",
        format!("{text}\n[dir]\nencrypt_to = \"impact-public.asc\"\n"),
    );
    let other = crate::util::fixture("item-level-valid.csv");
    let other = String::from_utf8(other)
        .unwrap()
        .replace(",27016,", ",27015,");
    env.write("other.csv", other);
    s.run(&env, &push_args("inbox", &["other.csv"]))
        .assert_code(0);
    let row = s.sql(
        "SELECT remote_name, length(encrypted_sha256), encrypted_bytes > bytes
         FROM migrated.convsubmit_deliveries WHERE encrypted_sha256 IS NOT NULL",
    );
    assert_eq!(row, "2026-06-30_other.csv.pgp|64|t", "{row}");
}
