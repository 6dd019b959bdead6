//! A ledger that cannot be trusted stops the run with a clear error and exit code 2, and a
//! ledger another run holds makes this one wait (up to `--max-time`) and then exit 3: never a
//! silent fresh start that would send every part again.

use crate::generate::{self, Spec};
use crate::util::{AS_OF, Output, TestEnv};
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, Instant};

fn push(env: &TestEnv, extra: &[&str]) -> Output {
    let mut args = vec!["push", "--as-of", AS_OF, "--ledger", "ledger.sqlite"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--dir", "inbox", "--max-rows", "500", "sales.csv"]);
    env.run(&args)
}

/// The inbox's files and their inodes: a part delivered again gets a new inode.
fn inbox(env: &TestEnv) -> BTreeMap<String, u64> {
    std::fs::read_dir(env.path().join("inbox"))
        .unwrap()
        .flatten()
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            (name, e.metadata().unwrap().ino())
        })
        .collect()
}

/// A folder with three parts delivered and recorded.
fn delivered() -> (TestEnv, BTreeMap<String, u64>) {
    let env = TestEnv::new();
    env.write("sales.csv", generate::item_level(&Spec::clean(81, 1_200)));
    std::fs::create_dir(env.path().join("inbox")).unwrap();
    push(&env, &[]).assert_code(0);
    let before = inbox(&env);
    assert_eq!(before.len(), 3);
    (env, before)
}

fn sqlite(db: &Path, sql: &str) {
    let status = std::process::Command::new("python3")
        .args([
            "-c",
            "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.executescript(sys.argv[2]); c.commit()",
            db.to_str().unwrap(),
            sql,
        ])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn a_damaged_ledger_stops_the_run_and_nothing_is_sent_again() {
    type Damage = fn(&Path);
    let cases: [(&str, Damage); 5] = [
        ("garbage", |p| {
            std::fs::write(
                p,
                b"this was never an SQLite database, whatever its name says\n",
            )
            .unwrap()
        }),
        ("truncated", |p| {
            let len = std::fs::metadata(p).unwrap().len();
            let f = std::fs::OpenOptions::new().write(true).open(p).unwrap();
            f.set_len(len / 2 + 100).unwrap();
        }),
        ("header overwritten", |p| {
            let mut bytes = std::fs::read(p).unwrap();
            bytes[..100].fill(0xA5);
            std::fs::write(p, bytes).unwrap();
        }),
        ("emptied", |p| std::fs::write(p, b"").unwrap()),
        ("another program's schema", |p| {
            std::fs::remove_file(p).unwrap();
            sqlite(
                p,
                "CREATE TABLE deliveries (id INTEGER PRIMARY KEY, what TEXT); \
                 INSERT INTO deliveries (what) VALUES ('x');",
            );
        }),
    ];
    for (name, damage) in cases {
        let (env, before) = delivered();
        damage(&env.path().join("ledger.sqlite"));
        let out = push(&env, &[]);
        assert_eq!(out.code, 2, "{name}: {out:#?}");
        assert!(
            out.stderr.contains("ledger.sqlite") && out.stderr.contains("nothing was sent"),
            "{name}: {out:#?}"
        );
        assert_eq!(inbox(&env), before, "{name}: a part was sent again");
        eprintln!(
            "{name}: exit 2: {}",
            out.stderr.lines().next().unwrap_or_default()
        );
    }
}

#[test]
fn a_ledger_that_cannot_be_written_stops_the_run_before_anything_is_sent() {
    use std::os::unix::fs::PermissionsExt;
    let (env, before) = delivered();
    // A new input, so that there is something to send.
    env.write("sales.csv", generate::item_level(&Spec::clean(82, 1_200)));
    let root = std::fs::metadata("/proc/self").unwrap().uid() == 0;
    if root {
        // Root may write any file: run as nobody, with the test folder open to it.
        let open = std::process::Command::new("chmod")
            .args(["-R", "a+rwX"])
            .arg(env.path())
            .status()
            .unwrap();
        assert!(open.success());
    }
    let ledger = env.path().join("ledger.sqlite");
    std::fs::set_permissions(&ledger, std::fs::Permissions::from_mode(0o444)).unwrap();
    let args = [
        "push",
        "--as-of",
        AS_OF,
        "--ledger",
        "ledger.sqlite",
        "--dir",
        "inbox",
        "--max-rows",
        "500",
        "sales.csv",
    ];
    let out = if root {
        let mut cmd = std::process::Command::new("setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(env!("CARGO_BIN_EXE_convsubmit"))
            .args(args)
            .current_dir(env.path())
            .env("NO_COLOR", "1")
            .env("HOME", env.path())
            .stdin(std::process::Stdio::null());
        crate::util::finish(cmd)
    } else {
        env.run(&args)
    };
    assert_eq!(out.code, 2, "{out:#?}");
    assert!(
        out.stderr.contains("ledger.sqlite") && out.stderr.contains("nothing was sent"),
        "{out:#?}"
    );
    assert_eq!(inbox(&env), before, "nothing was sent");
    eprintln!(
        "read-only: exit 2: {}",
        out.stderr.lines().next().unwrap_or_default()
    );
}

#[test]
fn a_ledger_held_by_another_run_waits_until_max_time_then_exits_3() {
    let (env, before) = delivered();
    env.write("sales.csv", generate::item_level(&Spec::clean(83, 1_200)));
    // Another run: it holds the lock file as convsubmit does.
    let lock = std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(env.path().join("ledger.sqlite.lock"))
        .unwrap();
    lock.try_lock().unwrap();
    let started = Instant::now();
    let out = push(&env, &["--max-time", "3"]);
    let took = started.elapsed();
    assert_eq!(out.code, 3, "{out:#?}");
    assert!(
        out.stderr.contains("waiting for another convsubmit run")
            && out.stderr.contains("another run still holds the ledger")
            && out.stderr.contains("nothing was sent"),
        "{out:#?}"
    );
    assert!(
        took >= Duration::from_secs(3) && took < Duration::from_secs(3 + 5),
        "took {took:?}"
    );
    assert_eq!(inbox(&env), before, "nothing was sent");
    eprintln!("held lock: exit 3 after {:.1}s", took.as_secs_f64());
    // Once the other run ends, this one goes ahead. The new parts would have the old names,
    // which hold other bytes: they arrive under new ones, and the old files stay as they were.
    drop(lock);
    push(&env, &[]).assert_code(0);
    let after = inbox(&env);
    assert_eq!(after.len(), 2 * before.len(), "{after:?}");
    assert!(
        before.iter().all(|(name, ino)| after[name] == *ino),
        "{after:?}"
    );
}

/// How many times each part's content was recorded, and the files in `folder`.
fn recorded(db: &Path) -> Vec<(String, i64)> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare("SELECT sha256, COUNT(*) FROM deliveries GROUP BY sha256 ORDER BY sha256")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

/// Two pushes at once of the same parts into one folder, through two spellings of one
/// ledger: every part is delivered and recorded once.
fn two_at_once(env: &TestEnv, input: &str, ledgers: [&str; 2]) -> Vec<Output> {
    let children: Vec<_> = ledgers
        .iter()
        .map(|ledger| {
            let mut cmd = env.command(&[
                "push",
                "--as-of",
                AS_OF,
                "--ledger",
                ledger,
                "--dir",
                "inbox",
                "--max-rows",
                "10",
                "--max-time",
                "120",
                input,
            ]);
            cmd.stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            cmd.spawn().unwrap()
        })
        .collect();
    children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            Output {
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
                code: out.status.code().unwrap_or(-1),
            }
        })
        .collect()
}

#[test]
fn one_ledger_has_one_lock_whatever_path_names_it() {
    let env = TestEnv::new();
    std::fs::create_dir_all(env.path().join("state/sub")).unwrap();
    std::fs::create_dir(env.path().join("inbox")).unwrap();
    std::os::unix::fs::symlink("state/l.sqlite", env.path().join("link.sqlite")).unwrap();
    let db = env.path().join("state/l.sqlite");
    // First a symlink and a `..` spelling, while the ledger does not exist yet.
    env.write("a.csv", generate::item_level(&Spec::clean(7, 1_500)));
    for out in two_at_once(&env, "a.csv", ["link.sqlite", "state/sub/../l.sqlite"]) {
        out.assert_code(0);
    }
    // Then the path itself and a hard link to the file.
    std::fs::hard_link(&db, env.path().join("hard.sqlite")).unwrap();
    env.write("b.csv", generate::item_level(&Spec::clean(8, 1_500)));
    for out in two_at_once(&env, "b.csv", ["state/l.sqlite", "hard.sqlite"]) {
        out.assert_code(0);
    }
    let counts = recorded(&db);
    let twice: Vec<_> = counts.iter().filter(|(_, n)| *n > 1).collect();
    assert!(counts.len() > 100, "{} parts", counts.len());
    assert!(twice.is_empty(), "{} parts recorded twice", twice.len());
    let files = std::fs::read_dir(env.path().join("inbox")).unwrap().count();
    assert_eq!(files, counts.len(), "each part once in the folder");
}

/// The PostgreSQL ledger, as far as it goes without a server (the rest is in the interop
/// suite, `interop_pg`): where it is read from, what is refused before connecting, and a
/// server that cannot be reached.
mod postgres {
    use super::*;

    const SECRET: &str = "Pg-Secret-4417x";

    /// `push --dir inbox` of a valid file in a fresh folder with `config` as its config.
    fn setup(config: &str) -> TestEnv {
        let env = TestEnv::new();
        env.copy_fixture("item-level-valid.csv");
        std::fs::create_dir(env.path().join("inbox")).unwrap();
        env.write("convsubmit.toml", config);
        env
    }

    fn push(env: &TestEnv, extra: &[&str]) -> Output {
        let mut args = vec!["push", "--as-of", AS_OF, "--dir", "inbox"];
        args.extend_from_slice(extra);
        args.push("item-level-valid.csv");
        let out = env.run_env(&args, &[("LEDGER_PW", SECRET)]);
        for text in [&out.stdout, &out.stderr] {
            assert!(!text.contains(SECRET), "the password leaked:\n{out:?}");
        }
        out
    }

    fn nothing_sent(env: &TestEnv) {
        let inbox = std::fs::read_dir(env.path().join("inbox")).unwrap().count();
        assert_eq!(inbox, 0, "nothing may be sent");
    }

    /// A port on 127.0.0.1 that nothing listens on.
    fn closed_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    #[test]
    fn a_password_in_the_ledger_url_is_refused_and_never_printed() {
        for url in [
            format!("postgresql://ledger:{SECRET}@db.example/acme"),
            format!("postgresql://ledger@db.example/acme?sslmode=require&password={SECRET}"),
        ] {
            let env = setup(&format!("[ledger]\nurl = \"{url}\"\n"));
            let out = push(&env, &[]);
            out.assert_code(2);
            assert!(
                out.stderr.contains("[ledger] url holds a password"),
                "{out:?}"
            );
            assert!(out.stderr.contains("password_env"), "{out:?}");
            nothing_sent(&env);
            let out = push(&setup(""), &["--ledger-url", &url]);
            out.assert_code(2);
            assert!(
                out.stderr.contains("--ledger-url holds a password"),
                "{out:?}"
            );
            let out = env.run(&["history", "--ledger-url", &url]);
            out.assert_code(2);
            assert!(!out.stderr.contains(SECRET), "{out:?}");
        }
    }

    #[test]
    fn what_is_refused_before_connecting() {
        let cases = [
            (
                "[ledger]\nurl = \"postgresql://l@db.example/a?sslmode=disable\"\n",
                "allowed only for a server on this machine",
            ),
            (
                "[ledger]\nurl = \"postgresql://l@db.example/a?sslmode=prefer\"\n",
                "fall back to plain text",
            ),
            (
                "[ledger]\nurl = \"postgresql://l@db.example/a\"\npath = \"l.sqlite\"\n",
                "not both",
            ),
            (
                "[ledger]\nurl = \"postgresql://l@db.example/a\"\npassword_env = \"A\"\npassword_command = \"echo b\"\n",
                "only one of",
            ),
            (
                "[ledger]\nurl = \"mysql://l@db.example/a\"\n",
                "postgresql://",
            ),
        ];
        for (config, want) in cases {
            let env = setup(config);
            let out = push(&env, &[]);
            out.assert_code(2);
            assert!(out.stderr.contains(want), "{config}: {out:?}");
            nothing_sent(&env);
        }
        // --ledger and --ledger-url name two ledgers.
        let env = setup("");
        push(
            &env,
            &["--ledger", "l.sqlite", "--ledger-url", "postgresql://l@h/a"],
        )
        .assert_code(2);
        // A password file others could have written is refused before anything runs.
        let env =
            setup("[ledger]\nurl = \"postgresql://l@db.example/a\"\npassword_file = \"pw\"\n");
        env.write("pw", SECRET);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::Permissions::from_mode(0o666);
        std::fs::set_permissions(env.path().join("pw"), mode).unwrap();
        let out = push(&env, &[]);
        out.assert_code(2);
        assert!(out.stderr.contains("[ledger] password_file"), "{out:?}");
    }

    #[test]
    fn a_ledger_database_that_cannot_be_reached_is_temporary() {
        let url = format!(
            "postgresql://ledger@127.0.0.1:{}/acme?sslmode=disable",
            closed_port()
        );
        let env = setup(&format!(
            "[ledger]\nurl = \"{url}\"\npassword_env = \"LEDGER_PW\"\n"
        ));
        for quiet in [&[][..], &["-q"][..]] {
            let out = push(&env, quiet);
            out.assert_code(3);
            assert!(
                out.stderr.contains("cannot connect to the ledger"),
                "{out:?}"
            );
            assert!(out.stderr.contains(&url), "the URL, as written: {out:?}");
            assert!(out.stderr.contains("re-run later"), "{out:?}");
        }
        nothing_sent(&env);
        let out = env.run_env(&["history"], &[("LEDGER_PW", SECRET)]);
        out.assert_code(3);
        // A dry run reads no ledger password and connects to nothing.
        let env = setup(&format!(
            "[ledger]\nurl = \"{url}\"\npassword_command = \"touch ran\"\n"
        ));
        let out = push(&env, &["--dry-run"]);
        out.assert_code(0);
        assert!(out.stdout.contains("would send"), "{out:?}");
        assert!(!env.path().join("ran").exists(), "the password command ran");
    }
}
