//! Nothing overwritten: a name at the destination that holds other bytes is never replaced,
//! on every channel that has names (a folder, FTP, SFTP). The one rule: the part goes under
//! the first free variant of its name (`x.csv`, `x.2.csv`, `x.3.csv`, …); a name that holds
//! the part's very bytes is recorded, not sent again. Two inputs with one stem, standard input
//! twice on one day, and an export that changed between two runs of one day all keep every row.

use crate::generate::{self, Spec};
use crate::push::files_in;
use crate::servers::ftp::{FtpOptions, FtpServer};
use crate::servers::sftp::{SftpOptions, SftpServer};
use crate::util::{AS_OF, Output, TestEnv};
use std::collections::BTreeMap;
use std::path::PathBuf;

const PASSWORD: &str = "overwrite-pw-Zx8!";

/// One destination with names, and the server behind it (kept alive while the rig lives).
enum Rig {
    Dir,
    Ftp(FtpServer),
    Sftp(SftpServer),
}

impl Rig {
    fn all() -> Vec<Rig> {
        vec![
            Rig::Dir,
            Rig::Ftp(FtpServer::start(FtpOptions {
                user: "acme".into(),
                password: PASSWORD.into(),
                ..FtpOptions::default()
            })),
            Rig::Sftp(SftpServer::start(SftpOptions::password("acme", PASSWORD))),
        ]
    }

    fn name(&self) -> &'static str {
        match self {
            Rig::Dir => "dir",
            Rig::Ftp(_) => "ftp",
            Rig::Sftp(_) => "sftp",
        }
    }

    /// Writes the config; returns the channel's flags.
    fn setup(&self, env: &TestEnv) -> Vec<String> {
        let server = |section: &str, port: u16, extra: &str| {
            env.write(
                "convsubmit.toml",
                format!(
                    "[{section}]\nhost = \"127.0.0.1\"\nport = {port}\nusername = \"acme\"\npassword_env = \"OVERWRITE_PW\"\n{extra}"
                ),
            );
        };
        match self {
            Rig::Dir => {
                std::fs::create_dir(env.path().join("inbox")).unwrap();
                vec!["--dir".into(), "inbox".into()]
            }
            Rig::Ftp(s) => {
                server("ftp", s.port, "");
                vec!["--ftp".into()]
            }
            Rig::Sftp(s) => {
                env.write("known_hosts", format!("{}\n", s.known_hosts_line()));
                server("sftp", s.port, "known_hosts = \"known_hosts\"\n");
                vec!["--sftp".into()]
            }
        }
    }

    /// The folder the destination's files are in.
    fn root(&self, env: &TestEnv) -> PathBuf {
        match self {
            Rig::Dir => env.path().join("inbox"),
            Rig::Ftp(s) => s.root.clone(),
            Rig::Sftp(s) => s.root.clone(),
        }
    }

    /// The batch files there (not the temporary ones).
    fn files(&self, env: &TestEnv) -> BTreeMap<String, Vec<u8>> {
        files_in(&self.root(env))
            .into_iter()
            .filter(|(n, _)| !n.starts_with('.'))
            .collect()
    }

    fn push(&self, env: &TestEnv, flags: &[String], args: &[&str]) -> Output {
        self.push_with(env, "ledger.sqlite", flags, args)
    }

    fn push_with(&self, env: &TestEnv, ledger: &str, flags: &[String], args: &[&str]) -> Output {
        let mut all = vec!["push", "--as-of", AS_OF, "--ledger", ledger];
        all.extend(flags.iter().map(String::as_str));
        all.extend_from_slice(args);
        env.run_env(&all, &[("OVERWRITE_PW", PASSWORD)])
    }
}

/// The single part `split` makes of `input`.
fn part_of(env: &TestEnv, input: &str) -> Vec<u8> {
    let out = format!("expect-{}", input.replace('/', "-"));
    env.run(&["split", "--as-of", AS_OF, "-q", input, "--out", &out])
        .assert_code(0);
    let parts: Vec<_> = files_in(&env.path().join(&out))
        .into_iter()
        .filter(|(n, _)| n.ends_with(".csv"))
        .collect();
    assert_eq!(parts.len(), 1, "{parts:?}");
    parts.into_iter().next().unwrap().1
}

fn orders(seed: u64) -> String {
    generate::item_level(&Spec::clean(seed, 40))
}

const NAME: &str = "2026-06-30_orders.csv";
const NAME_2: &str = "2026-06-30_orders.2.csv";
const NAME_3: &str = "2026-06-30_orders.3.csv";

#[test]
fn a_name_that_holds_other_bytes_is_never_replaced_on_any_channel() {
    for rig in Rig::all() {
        let what = rig.name();
        let env = TestEnv::new();
        let flags = rig.setup(&env);
        env.write("a/orders.csv", orders(1));
        env.write("b/orders.csv", orders(2));
        let (a, b) = (part_of(&env, "a/orders.csv"), part_of(&env, "b/orders.csv"));

        // Two inputs with one stem: both delivered, under two names.
        let out = rig.push(&env, &flags, &["a/orders.csv", "b/orders.csv"]);
        out.assert_code(0);
        let files = rig.files(&env);
        assert!(files.get(NAME) == Some(&a), "{what}: {out:?}");
        assert!(files.get(NAME_2) == Some(&b), "{what}: {out:?}");
        assert_eq!(files.len(), 2, "{what}: {:?}", files.keys());

        // A re-run sends nothing and says so.
        let again = rig.push(&env, &flags, &["a/orders.csv", "b/orders.csv"]);
        again.assert_code(0);
        assert!(
            again.stdout.contains("2 already delivered"),
            "{what}: {again:?}"
        );
        assert!(rig.files(&env) == files, "{what}");

        // The export changed the same day: the new part takes the next free name.
        env.write("a/orders.csv", orders(3));
        let changed = part_of(&env, "a/orders.csv");
        let out = rig.push(&env, &flags, &["a/orders.csv"]);
        out.assert_code(0);
        let now = rig.files(&env);
        assert!(
            now.get(NAME) == Some(&a),
            "{what}: the first part was replaced"
        );
        assert!(now.get(NAME_2) == Some(&b), "{what}");
        assert!(now.get(NAME_3) == Some(&changed), "{what}: {out:?}");
        assert!(
            out.stdout.contains(&format!("sent {NAME_3}")),
            "{what}: {out:?}"
        );

        // A ledger that does not know of it finds the same bytes there: nothing sent again.
        let fresh = rig.push_with(&env, "other-ledger.sqlite", &flags, &["a/orders.csv"]);
        fresh.assert_code(0);
        assert!(
            fresh.stdout.contains(&format!("found {NAME_3}")),
            "{what}: {fresh:?}"
        );
        assert!(rig.files(&env) == now, "{what}");
    }
}

#[test]
fn standard_input_twice_on_one_day_keeps_both() {
    let env = TestEnv::new();
    std::fs::create_dir(env.path().join("inbox")).unwrap();
    let push = |csv: &str| {
        env.run_with_stdin(
            &[
                "push", "--as-of", AS_OF, "--ledger", "l.sqlite", "--dir", "inbox", "-",
            ],
            csv.as_bytes(),
        )
    };
    push(&orders(4)).assert_code(0);
    push(&orders(5)).assert_code(0);
    let files = files_in(&env.path().join("inbox"));
    let names: Vec<_> = files.keys().map(String::as_str).collect();
    assert_eq!(names, ["2026-06-30_stdin.2.csv", "2026-06-30_stdin.csv"]);
    env.write("s4.csv", orders(4));
    env.write("s5.csv", orders(5));
    assert!(files["2026-06-30_stdin.csv"] == part_of(&env, "s4.csv"));
    assert!(files["2026-06-30_stdin.2.csv"] == part_of(&env, "s5.csv"));
}

/// A file that changes while push reads it is not sent, nor any other input of the run.
/// Deterministic: the second input is a FIFO, which push opens only once it has read the
/// first file whole; the test appends to the first file once the FIFO is open, then feeds
/// the FIFO.
#[test]
fn an_input_that_changes_while_it_is_read_is_not_sent() {
    use std::io::Write;
    let env = TestEnv::new();
    std::fs::create_dir(env.path().join("inbox")).unwrap();
    env.write("a.csv", orders(6));
    let fifo = env.path().join("b.csv");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let mut cmd = env.command(&[
        "push",
        "--as-of",
        AS_OF,
        "--ledger",
        "l.sqlite",
        "--dir",
        "inbox",
        "--max-time",
        "60",
        "a.csv",
        "b.csv",
    ]);
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().unwrap();
    // Returns once push has opened the FIFO, so after it read a.csv.
    let mut writer = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    let mut a = std::fs::OpenOptions::new()
        .append(true)
        .open(env.path().join("a.csv"))
        .unwrap();
    a.write_all(b"18543,27015,2026-06-20T10:00:00Z,ORD-late,abcdefghijklmnopqrstuvwxyz,,USD,1.00,Books,SKU-1,1\n")
        .unwrap();
    drop(a);
    writer.write_all(orders(7).as_bytes()).unwrap();
    drop(writer);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("a.csv changed while it was read (its size went from"),
        "{stderr}"
    );
    assert!(stderr.contains("nothing was sent"), "{stderr}");
    assert_eq!(
        std::fs::read_dir(env.path().join("inbox")).unwrap().count(),
        0
    );
}

/// A link planted under a part's temporary name (to make the upload write elsewhere) is
/// removed, never written through, on every channel with names.
#[test]
fn a_link_planted_under_the_temporary_name_is_not_followed() {
    for rig in Rig::all() {
        let what = rig.name();
        let env = TestEnv::new();
        let flags = rig.setup(&env);
        env.write("orders.csv", orders(9));
        let part = part_of(&env, "orders.csv");
        let victim = env.path().join("victim.txt");
        std::fs::write(&victim, "precious").unwrap();
        let planted = rig.root(&env).join(format!(".{NAME}.uploading"));
        std::os::unix::fs::symlink(&victim, &planted).unwrap();
        rig.push(&env, &flags, &["orders.csv"]).assert_code(0);
        assert_eq!(
            std::fs::read_to_string(&victim).unwrap(),
            "precious",
            "{what}"
        );
        let delivered = rig.root(&env).join(NAME);
        assert!(
            std::fs::symlink_metadata(&delivered).unwrap().is_file(),
            "{what}"
        );
        assert!(std::fs::read(&delivered).unwrap() == part, "{what}");
    }
}
