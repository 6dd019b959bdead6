//! The interop suite: `push` and `doctor` against OpenSSH sshd and vsftpd from Debian
//! packages, started on 127.0.0.1 by `scripts/interop` (which runs these tests; alone they
//! are ignored). Deliveries are counted in the servers' own logs.

use crate::crash::{Channel, crash_and_rerun};
use crate::generate::{self, Spec};
use crate::push::expected_parts;
use crate::util::{AS_OF, Output, TestEnv};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What `scripts/interop` started, from its environment variables.
struct Servers {
    user: String,
    password: String,
    home: PathBuf,
    ssh_port: String,
    ssh_host_key: String,
    ssh_fingerprint: String,
    ssh_client_key: PathBuf,
    ssh_log: PathBuf,
    ftp_port: String,
    ftp_ca: PathBuf,
    ftp_log: PathBuf,
}

fn servers() -> Servers {
    let var = |name: &str| {
        std::env::var(format!("CONVSUBMIT_INTEROP_{name}"))
            .unwrap_or_else(|_| panic!("CONVSUBMIT_INTEROP_{name} is not set: run scripts/interop"))
    };
    let key = std::fs::read_to_string(var("SSH_HOST_KEY")).unwrap();
    Servers {
        user: var("USER"),
        password: var("PASSWORD"),
        home: var("HOME").into(),
        ssh_port: var("SSH_PORT"),
        ssh_host_key: key.split_whitespace().take(2).collect::<Vec<_>>().join(" "),
        ssh_fingerprint: var("SSH_HOST_FINGERPRINT"),
        ssh_client_key: var("SSH_CLIENT_KEY").into(),
        ssh_log: var("SSH_LOG").into(),
        ftp_port: var("FTP_PORT"),
        ftp_ca: var("FTP_CA").into(),
        ftp_log: var("FTP_LOG").into(),
    }
}

impl Servers {
    /// A fresh folder on the servers for one test (both serve the same home).
    fn folder(&self, name: &str) -> PathBuf {
        let dir = self.home.join("inbox").join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        dir
    }

    fn sftp_config(&self, env: &TestEnv, dir: &Path, auth: &str, check: &str) {
        env.write(
            "convsubmit.toml",
            format!(
                "[sftp]\nhost = \"127.0.0.1\"\nport = {}\nusername = \"{}\"\nremote_dir = \"{}\"\n{auth}\n{check}\n[ledger]\npath = \"ledger.sqlite\"\n",
                self.ssh_port,
                self.user,
                dir.display()
            ),
        );
    }

    fn known_hosts(&self, env: &TestEnv) -> &'static str {
        env.write(
            "known_hosts",
            format!("[127.0.0.1]:{} {}\n", self.ssh_port, self.ssh_host_key),
        );
        "known_hosts = \"known_hosts\""
    }

    fn ftp_config(&self, env: &TestEnv, dir: &Path) {
        env.write(
            "convsubmit.toml",
            format!(
                "[ftp]\nhost = \"127.0.0.1\"\nport = {}\nusername = \"{}\"\npassword_env = \"INTEROP_PASSWORD\"\nca_file = \"{}\"\nremote_dir = \"{}\"\n[ledger]\npath = \"ledger.sqlite\"\n",
                self.ftp_port,
                self.user,
                self.ftp_ca.display(),
                dir.display()
            ),
        );
    }

    fn run(&self, env: &TestEnv, args: &[&str]) -> Output {
        let out = env.run_env(args, &[("INTEROP_PASSWORD", &self.password)]);
        for text in [&out.stdout, &out.stderr] {
            assert!(
                !text.contains(&self.password),
                "the password leaked:\n{out:?}"
            );
        }
        out
    }

    /// Renames onto `dir/name` in sftp-server's log.
    fn sftp_renames(&self, dir: &Path, name: &str) -> usize {
        self.sftp_renames_in(dir).get(name).copied().unwrap_or(0)
    }

    /// Renames onto each name in `dir`, from sftp-server's log, read once (the kill test
    /// polls this every few milliseconds).
    fn sftp_renames_in(&self, dir: &Path) -> BTreeMap<String, usize> {
        let prefix = format!("new \"{}/", dir.display());
        let log = std::fs::read_to_string(&self.ssh_log).unwrap();
        let names = log
            .lines()
            .filter(|l| l.contains("rename"))
            .filter_map(|l| {
                let rest = &l[l.find(&prefix)? + prefix.len()..];
                Some(rest[..rest.find('"')?].to_string())
            });
        crate::crash::tally(names)
    }

    /// `RNTO` commands per name in vsftpd's log, read once.
    fn ftp_renames_all(&self) -> BTreeMap<String, usize> {
        let log = std::fs::read_to_string(&self.ftp_log).unwrap();
        let names = log.lines().filter_map(|l| {
            let rest = &l[l.find("\"RNTO ")? + 6..];
            Some(rest[..rest.find('"')?].to_string())
        });
        crate::crash::tally(names)
    }
}

fn arrived(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .filter(|(n, _)| !n.starts_with('.'))
        .collect()
}

fn push_args<'a>(channel: &'a str, more: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["push", "--as-of", AS_OF, channel];
    v.extend_from_slice(more);
    v
}

#[test]
#[ignore = "needs the servers scripts/interop starts"]
fn sftp_password_known_hosts_and_rerun() {
    let s = servers();
    let env = TestEnv::new();
    let dir = s.folder("sftp-password");
    let check = s.known_hosts(&env);
    s.sftp_config(&env, &dir, "password_env = \"INTEROP_PASSWORD\"", check);
    env.write("sales.csv", generate::item_level(&Spec::clean(41, 1_200)));
    let want = expected_parts(&env, "sales.csv", "500");
    s.run(
        &env,
        &push_args("--sftp", &["--max-rows", "500", "sales.csv"]),
    )
    .assert_code(0);
    assert_eq!(arrived(&dir), want);
    for name in want.keys() {
        assert_eq!(s.sftp_renames(&dir, name), 1, "{name}");
    }
    let again = s.run(
        &env,
        &push_args("--sftp", &["--max-rows", "500", "sales.csv"]),
    );
    assert!(
        again
            .stdout
            .contains(&format!("{} already delivered", want.len())),
        "{again:?}"
    );
}

#[test]
#[ignore = "needs the servers scripts/interop starts"]
fn sftp_key_with_a_pinned_host_key_and_doctor() {
    let s = servers();
    let env = TestEnv::new();
    let dir = s.folder("sftp-key");
    s.sftp_config(
        &env,
        &dir,
        &format!("key_file = \"{}\"", s.ssh_client_key.display()),
        &format!("host_key = \"{}\"", s.ssh_fingerprint),
    );
    env.copy_fixture("item-level-valid.csv");
    s.run(&env, &push_args("--sftp", &["item-level-valid.csv"]))
        .assert_code(0);
    assert_eq!(arrived(&dir).len(), 1);
    let doctor = s.run(&env, &["doctor", "--sftp"]);
    doctor.assert_code(0);
    assert!(doctor.stdout.contains("ok: removed it"), "{doctor:?}");
    assert_eq!(arrived(&dir).len(), 1);
}

/// A config for the sshd on the port named by `CONVSUBMIT_INTEROP_<port>`, with `auth`.
fn sftp_variant(s: &Servers, env: &TestEnv, dir: &Path, port: &str, auth: &str) {
    let port = std::env::var(format!("CONVSUBMIT_INTEROP_{port}")).unwrap();
    env.write(
        "convsubmit.toml",
        format!(
            "[sftp]\nhost = \"127.0.0.1\"\nport = {port}\nusername = \"{}\"\nremote_dir = \"{}\"\nhost_key = \"{}\"\n{auth}\n[ledger]\npath = \"ledger.sqlite\"\n",
            s.user,
            dir.display(),
            s.ssh_fingerprint
        ),
    );
}

#[test]
#[ignore = "needs the servers scripts/interop starts"]
fn sftp_with_the_key_and_then_the_password_as_a_connection_asks() {
    let s = servers();
    let env = TestEnv::new();
    let dir = s.folder("sftp-both");
    let key = format!("key_file = \"{}\"", s.ssh_client_key.display());
    env.copy_fixture("item-level-valid.csv");
    // The key alone: accepted as the first factor, then the missing password is named.
    sftp_variant(&s, &env, &dir, "SSH_BOTH_PORT", &key);
    let out = s.run(&env, &push_args("--sftp", &["item-level-valid.csv"]));
    out.assert_code(4);
    assert!(out.stderr.contains("accepted publickey"), "{out:?}");
    assert!(out.stderr.contains("password_env"), "{out:?}");
    // Both: delivered, and doctor says how it logged in.
    let both = format!("{key}\npassword_env = \"INTEROP_PASSWORD\"");
    sftp_variant(&s, &env, &dir, "SSH_BOTH_PORT", &both);
    s.run(&env, &push_args("--sftp", &["item-level-valid.csv"]))
        .assert_code(0);
    assert_eq!(arrived(&dir).len(), 1);
    let doctor = s.run(&env, &["doctor", "--sftp"]);
    doctor.assert_code(0);
    assert!(
        doctor
            .stdout
            .contains("logged in with publickey, then password"),
        "{doctor:?}"
    );
}

#[test]
#[ignore = "needs the servers scripts/interop starts"]
fn sftp_answers_keyboard_interactive_prompts_with_the_password() {
    let s = servers();
    let env = TestEnv::new();
    let dir = s.folder("sftp-kbd");
    sftp_variant(
        &s,
        &env,
        &dir,
        "SSH_KBD_PORT",
        "password_env = \"INTEROP_PASSWORD\"",
    );
    env.copy_fixture("item-level-valid.csv");
    s.run(&env, &push_args("--sftp", &["item-level-valid.csv"]))
        .assert_code(0);
    assert_eq!(arrived(&dir).len(), 1);
    let doctor = s.run(&env, &["doctor", "--sftp"]);
    doctor.assert_code(0);
    assert!(
        doctor
            .stdout
            .contains("logged in with keyboard-interactive"),
        "{doctor:?}"
    );
}

#[test]
#[ignore = "needs the servers scripts/interop starts"]
fn sftp_refuses_an_unknown_host_key_and_a_wrong_password() {
    let s = servers();
    let env = TestEnv::new();
    let dir = s.folder("sftp-refusals");
    env.write("known_hosts", "");
    s.sftp_config(
        &env,
        &dir,
        "password_env = \"INTEROP_PASSWORD\"",
        "known_hosts = \"known_hosts\"",
    );
    env.copy_fixture("item-level-valid.csv");
    let out = s.run(&env, &push_args("--sftp", &["item-level-valid.csv"]));
    out.assert_code(4);
    assert!(out.stderr.contains(&s.ssh_fingerprint), "{out:?}");
    let check = s.known_hosts(&env);
    s.sftp_config(&env, &dir, "password_env = \"WRONG\"", check);
    let out = env.run_env(
        &push_args("--sftp", &["item-level-valid.csv"]),
        &[("WRONG", "not-it-3Xq")],
    );
    out.assert_code(4);
    assert!(
        out.stderr.contains("login failed") && !out.stderr.contains("retrying"),
        "{out:?}"
    );
    assert!(arrived(&dir).is_empty());
}

#[test]
#[ignore = "needs the servers scripts/interop starts"]
fn ftps_and_plain_ftp_deliver_exact_parts_once() {
    let s = servers();
    for (channel, folder) in [("--ftps", "ftps"), ("--ftp", "ftp")] {
        let env = TestEnv::new();
        let dir = s.folder(folder);
        s.ftp_config(&env, &dir);
        env.write(
            "sales.csv",
            generate::item_level(&Spec {
                newline: "\r\n",
                ..Spec::clean(42, 900)
            }),
        );
        let want = expected_parts(&env, "sales.csv", "400");
        let out = s.run(
            &env,
            &push_args(channel, &["--max-rows", "400", "sales.csv"]),
        );
        out.assert_code(0);
        assert_eq!(
            out.stderr.contains("clear text"),
            channel == "--ftp",
            "{out:?}"
        );
        assert_eq!(arrived(&dir), want, "{channel}");
        let doctor = s.run(&env, &["doctor", channel]);
        doctor.assert_code(0);
        let again = s.run(
            &env,
            &push_args(channel, &["--max-rows", "400", "sales.csv"]),
        );
        assert!(
            again
                .stdout
                .contains(&format!("{} already delivered", want.len())),
            "{again:?}"
        );
    }
}

#[test]
#[ignore = "needs the servers scripts/interop starts"]
fn ftps_refuses_an_untrusted_certificate_and_a_wrong_password() {
    let s = servers();
    let env = TestEnv::new();
    let dir = s.folder("ftps-refusals");
    env.write(
        "convsubmit.toml",
        format!(
            "[ftp]\nhost = \"127.0.0.1\"\nport = {}\nusername = \"{}\"\npassword_env = \"INTEROP_PASSWORD\"\nremote_dir = \"{}\"\n[ledger]\npath = \"ledger.sqlite\"\n",
            s.ftp_port,
            s.user,
            dir.display()
        ),
    );
    env.copy_fixture("item-level-valid.csv");
    let out = s.run(&env, &push_args("--ftps", &["item-level-valid.csv"]));
    out.assert_code(4);
    assert!(out.stderr.contains("TLS failed"), "{out:?}");
    s.ftp_config(&env, &dir);
    let out = env.run_env(
        &push_args("--ftps", &["item-level-valid.csv"]),
        &[("INTEROP_PASSWORD", "not-it-3Xq")],
    );
    out.assert_code(4);
    assert!(out.stderr.contains("login failed"), "{out:?}");
    assert!(arrived(&dir).is_empty());
}

#[test]
#[ignore = "needs the servers scripts/interop starts"]
fn killed_runs_then_a_rerun_deliver_every_part_exactly_once() {
    let s = servers();
    for (channel, seed) in [("--sftp", 0x1A7E), ("--ftps", 0x1A7F)] {
        let env = TestEnv::new();
        let dir = s.folder(&format!("killed{channel}"));
        if channel == "--sftp" {
            let check = s.known_hosts(&env);
            s.sftp_config(&env, &dir, "password_env = \"INTEROP_PASSWORD\"", check);
        } else {
            s.ftp_config(&env, &dir);
        }
        env.write("many.csv", generate::item_level(&Spec::clean(43, 5_000)));
        // Enough parts that the last trials still find some left to deliver.
        let want = expected_parts(&env, "many.csv", "10");
        let ch = Channel {
            name: channel,
            env: &env,
            args: push_args(channel, &["-q", "--max-rows", "10", "many.csv"]),
            vars: vec![("INTEROP_PASSWORD", &s.password)],
            window: 50..600,
            seed,
            want: want.keys().cloned().collect(),
            repeats_per_kill: 0,
        };
        crash_and_rerun(&ch, || {
            let renames = match channel {
                "--sftp" => s.sftp_renames_in(&dir),
                _ => s.ftp_renames_all(),
            };
            // The log may name other tests' files; only this input's parts count.
            renames
                .into_iter()
                .filter(|(name, _)| want.contains_key(name))
                .collect()
        });
        assert_eq!(arrived(&dir), want, "{channel}");
    }
}

#[test]
#[ignore = "needs the servers scripts/interop starts"]
fn email_over_starttls_to_aiosmtpd() {
    let port = std::env::var("CONVSUBMIT_INTEROP_SMTP_PORT").expect("run scripts/interop");
    let maildir = PathBuf::from(std::env::var("CONVSUBMIT_INTEROP_MAILDIR").unwrap()).join("new");
    let s = servers();
    let env = TestEnv::new();
    env.write(
        "convsubmit.toml",
        format!(
            "[email]\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {port}\nca_file = \"{}\"\nfrom = \"reports@acme.example\"\nto = \"interop-1@batch.impact.com\"\ncc = [\"ops@acme.example\"]\n[ledger]\npath = \"ledger.sqlite\"\n",
            s.ftp_ca.display()
        ),
    );
    env.write("sales.csv", generate::item_level(&Spec::clean(44, 700)));
    let want = expected_parts(&env, "sales.csv", "300");
    let before = std::fs::read_dir(&maildir).map_or(0, |d| d.count());
    s.run(
        &env,
        &push_args("--email", &["--max-rows", "300", "sales.csv"]),
    )
    .assert_code(0);
    let got = mailed_to(&maildir, "interop-1@batch.impact.com");
    assert_eq!(got, want);
    assert_eq!(
        std::fs::read_dir(&maildir).unwrap().count(),
        before + want.len()
    );
    let again = s.run(
        &env,
        &push_args("--email", &["--max-rows", "300", "sales.csv"]),
    );
    assert!(
        again
            .stdout
            .contains(&format!("{} already delivered", want.len())),
        "{again:?}"
    );
}

/// The attachments of the messages in `maildir` addressed to `to`: name → bytes.
fn mailed_to(maildir: &Path, to: &str) -> BTreeMap<String, Vec<u8>> {
    use mail_parser::MimeHeaders;
    let mut got = BTreeMap::new();
    for entry in std::fs::read_dir(maildir).unwrap() {
        let raw = std::fs::read(entry.unwrap().path()).unwrap();
        let m = mail_parser::MessageParser::default().parse(&raw).unwrap();
        if m.to().and_then(|t| t.first()).and_then(|a| a.address()) != Some(to) {
            continue;
        }
        let a = m.attachments().next().unwrap();
        got.insert(
            a.attachment_name().unwrap().to_string(),
            a.contents().to_vec(),
        );
    }
    got
}

/// `encrypt_to` over OpenSSH: every part arrives once as `….pgp`, which GnuPG decrypts back
/// to the split part; a re-run sends nothing.
#[test]
#[ignore = "needs the servers scripts/interop starts"]
fn sftp_parts_encrypted_to_the_connections_key_decrypt_with_gpg() {
    let gpg = crate::pgp::Gpg::new("2y", None);
    let s = servers();
    let env = TestEnv::new();
    let dir = s.folder("sftp-pgp");
    let check = s.known_hosts(&env);
    gpg.write_public_key(&env, "impact-public.asc", true);
    let auth = "password_env = \"INTEROP_PASSWORD\"\nencrypt_to = \"impact-public.asc\"";
    s.sftp_config(&env, &dir, auth, check);
    env.write("sales.csv", generate::item_level(&Spec::clean(46, 1_200)));
    let want = expected_parts(&env, "sales.csv", "500");
    let args = push_args("--sftp", &["--max-rows", "500", "sales.csv"]);
    s.run(&env, &args).assert_code(0);
    let got = arrived(&dir);
    assert_eq!(crate::pgp::decrypted(&gpg, &got), want);
    for name in got.keys() {
        assert_eq!(s.sftp_renames(&dir, name), 1, "{name}");
    }
    let again = s.run(&env, &args);
    crate::util::assert_already_delivered(&again, want.len());
    assert_eq!(arrived(&dir), got);
}

/// `encrypt_to` by email to aiosmtpd: each attachment is one `….pgp` that decrypts to a part.
#[test]
#[ignore = "needs the servers scripts/interop starts"]
fn email_parts_encrypted_to_aiosmtpd_decrypt_with_gpg() {
    let port = std::env::var("CONVSUBMIT_INTEROP_SMTP_PORT").expect("run scripts/interop");
    let maildir = PathBuf::from(std::env::var("CONVSUBMIT_INTEROP_MAILDIR").unwrap()).join("new");
    let gpg = crate::pgp::Gpg::new("2y", None);
    let s = servers();
    let env = TestEnv::new();
    gpg.write_public_key(&env, "impact-public.asc", false);
    env.write(
        "convsubmit.toml",
        format!(
            "[email]\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {port}\nca_file = \"{}\"\nfrom = \"reports@acme.example\"\nto = \"interop-pgp@batch.impact.com\"\nencrypt_to = \"impact-public.asc\"\n[ledger]\npath = \"ledger.sqlite\"\n",
            s.ftp_ca.display()
        ),
    );
    env.write("sales.csv", generate::item_level(&Spec::clean(47, 700)));
    let want = expected_parts(&env, "sales.csv", "300");
    let args = push_args("--email", &["--max-rows", "300", "sales.csv"]);
    s.run(&env, &args).assert_code(0);
    let got = mailed_to(&maildir, "interop-pgp@batch.impact.com");
    assert_eq!(crate::pgp::decrypted(&gpg, &got), want);
    let again = s.run(&env, &args);
    crate::util::assert_already_delivered(&again, want.len());
    assert_eq!(mailed_to(&maildir, "interop-pgp@batch.impact.com"), got);
}

#[test]
#[ignore = "needs the servers scripts/interop starts"]
fn email_per_event_type_to_aiosmtpd() {
    let port = std::env::var("CONVSUBMIT_INTEROP_SMTP_PORT").expect("run scripts/interop");
    let maildir = PathBuf::from(std::env::var("CONVSUBMIT_INTEROP_MAILDIR").unwrap()).join("new");
    let s = servers();
    let env = TestEnv::new();
    let to = [
        ("27015", "interop-27015@batch.impact.com"),
        ("27016", "interop-27016@batch.impact.com"),
    ];
    env.write(
        "convsubmit.toml",
        format!(
            "[email]\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {port}\nca_file = \"{}\"\nfrom = \"reports@acme.example\"\ncc = [\"ops@acme.example\"]\n[email.to]\n{} = \"{}\"\n{} = \"{}\"\n[ledger]\npath = \"ledger.sqlite\"\n",
            s.ftp_ca.display(),
            to[0].0,
            to[0].1,
            to[1].0,
            to[1].1
        ),
    );
    let a = generate::item_level(&Spec::clean(45, 300));
    let b = generate::item_level(&Spec::clean(46, 200)).replace(",27015,", ",27016,");
    let body = |s: &str| s.split_once('\n').unwrap().1.to_string();
    env.write("mixed.csv", format!("{a}{}", body(&b)));
    let args = push_args("--email", &["mixed.csv"]);
    s.run(&env, &args).assert_code(0);
    let header = format!("{}\n", generate::HEADER);
    let mut got = BTreeMap::new();
    for entry in std::fs::read_dir(&maildir).unwrap() {
        let raw = std::fs::read(entry.unwrap().path()).unwrap();
        let m = mail_parser::MessageParser::default().parse(&raw).unwrap();
        let Some(addr) = m.to().and_then(|t| t.first()).and_then(|a| a.address()) else {
            continue;
        };
        if !to.iter().any(|(_, a)| *a == addr) {
            continue;
        }
        use mail_parser::MimeHeaders;
        let a = m.attachments().next().unwrap();
        got.insert(
            (addr.to_string(), a.attachment_name().unwrap().to_string()),
            String::from_utf8(a.contents().to_vec()).unwrap(),
        );
    }
    let want = BTreeMap::from([
        (
            (to[0].1.to_string(), format!("{AS_OF}_mixed_27015.csv")),
            format!("{header}{}", body(&a)),
        ),
        (
            (to[1].1.to_string(), format!("{AS_OF}_mixed_27016.csv")),
            format!("{header}{}", body(&b)),
        ),
    ]);
    assert_eq!(got, want);
    let again = s.run(&env, &args);
    again.assert_code(0);
    assert!(again.stdout.contains("2 already delivered"), "{again:?}");
}

/// A small tmpfs mounted inside a test folder (needs root), unmounted on drop. `fill`
/// leaves a chosen amount of free space, so that a write fails at a chosen point.
struct SmallDisk {
    dir: PathBuf,
}

impl SmallDisk {
    fn mount(env: &TestEnv, name: &str) -> SmallDisk {
        let dir = env.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=768k", "tmpfs"])
            .arg(&dir)
            .status()
            .unwrap()
            .success();
        assert!(ok, "cannot mount a tmpfs (scripts/interop runs as root)");
        SmallDisk { dir }
    }

    /// Removes everything, then fills the disk up to `free_kb` free kilobytes.
    fn reset(&self, free_kb: u64) {
        for e in std::fs::read_dir(&self.dir).unwrap() {
            let p = e.unwrap().path();
            let _ = std::fs::remove_dir_all(&p).or_else(|_| std::fs::remove_file(&p));
        }
        let avail = self.free_kb();
        let fill = avail.saturating_sub(free_kb) as usize * 1024;
        std::fs::write(self.dir.join(".filler"), vec![0u8; fill]).unwrap();
    }

    /// Keeps the files, and sets the filler so that `free_kb` kilobytes are free.
    fn reset_keep(&self, free_kb: u64) {
        let _ = std::fs::remove_file(self.dir.join(".filler"));
        let fill = self.free_kb().saturating_sub(free_kb) as usize * 1024;
        std::fs::write(self.dir.join(".filler"), vec![0u8; fill]).unwrap();
    }

    fn free_kb(&self) -> u64 {
        let out = std::process::Command::new("df")
            .args(["-k", "--output=avail"])
            .arg(&self.dir)
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        text.lines().last().unwrap().trim().parse().unwrap()
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.dir).status();
    }
}

/// Names of the files in `dir` that are not the filler, sorted.
fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|r| {
            r.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n != ".filler")
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// An order-level file of 3000 rows, every third with a bad amount (so rejects are written).
fn disk_input(env: &TestEnv, name: &str) -> String {
    let mut csv = String::from("CampaignId,ActionTrackerId,EventDate,OrderId,ClickId,Amount\n");
    for i in 0..3000 {
        let amount = if i % 3 == 0 { "x" } else { "1.00" };
        csv += &format!("18543,27015,2026-06-20T12:00:00Z,ORD-{i},c{i},{amount}\n");
    }
    env.write(name, csv);
    name.to_string()
}

/// Free space left on the disk in each trial (KB): from nothing to enough for everything.
const FREE_KB: [u64; 8] = [0, 4, 12, 24, 48, 96, 160, 400];

fn assert_enospc(out: &Output, file: &str) {
    let first = out
        .stderr
        .lines()
        .find(|l| l.contains("error:"))
        .unwrap_or("");
    assert!(
        first.contains(file) && out.stderr.contains("No space left on device"),
        "{file}: {out:#?}"
    );
}

#[test]
#[ignore = "needs root to mount a tmpfs (scripts/interop)"]
fn a_full_disk_is_named_and_leaves_no_half_written_file() {
    let env = TestEnv::new();
    let disk = SmallDisk::mount(&env, "disk");
    let input = disk_input(&env, "in.csv");
    let parts = expected_parts(&env, &input, "500");
    let whole_fix = {
        env.run(&["fix", "--as-of", AS_OF, "-q", "-o", "fixed.csv", &input]);
        env.read("fixed.csv")
    };
    let mut outcomes = BTreeMap::new();
    for free in FREE_KB {
        // split --out on the full disk: exit 2 naming the folder, or every part complete.
        disk.reset(free);
        let out = quiet(
            &env,
            &["split", "--max-rows", "500", "--out", "disk/out", &input],
        );
        tally(&mut outcomes, "split", &out, 2, "disk/out");
        let written = names_in(&disk.dir.join("out"));
        for name in &written {
            assert!(
                !name.starts_with('.'),
                "left behind: {name} ({free} KB free)"
            );
            if let Some(bytes) = parts.get(name) {
                assert_eq!(
                    &std::fs::read(disk.dir.join("out").join(name)).unwrap(),
                    bytes,
                    "{name}"
                );
            }
        }
        if out.code == 2 {
            assert!(written.iter().all(|n| n == "manifest.json"), "{written:?}");
        }

        // fix -o on the full disk: the whole file or nothing.
        disk.reset(free);
        let out = quiet(&env, &["fix", "-o", "disk/fixed.csv", &input]);
        *outcomes.entry(("fix", out.code)).or_insert(0) += 1;
        match out.code {
            2 => {
                assert_enospc(&out, "disk/fixed.csv");
                assert_eq!(names_in(&disk.dir), Vec::<String>::new());
            }
            1 => assert_eq!(env.read("disk/fixed.csv"), whole_fix),
            _ => panic!("{out:#?}"),
        }

        // push: the rejects go beside an input on the full disk (the parts elsewhere).
        disk.reset(400);
        std::fs::copy(env.path().join(&input), disk.dir.join("in.csv")).unwrap();
        disk.reset_keep(free);
        let out = quiet(
            &env,
            &[
                "push",
                "--dir",
                ".",
                "--dry-run",
                "--ledger",
                "l.sqlite",
                "disk/in.csv",
            ],
        );
        *outcomes.entry(("push rejects", out.code)).or_insert(0) += 1;
        match out.code {
            2 => {
                assert_enospc(&out, "disk/in.rejects.csv");
                assert_eq!(names_in(&disk.dir), ["in.csv"]);
            }
            1 => assert_eq!(names_in(&disk.dir), ["in.csv", "in.rejects.csv"]),
            _ => panic!("{out:#?}"),
        }

        // push --dir onto the full disk: a temporary failure (3); only whole parts arrive.
        disk.reset(free);
        std::fs::create_dir(disk.dir.join("dest")).unwrap();
        let _ = std::fs::remove_file(env.path().join("l.sqlite"));
        let out = quiet(
            &env,
            &[
                "push",
                "--max-rows",
                "500",
                "--retries",
                "0",
                "--dir",
                "disk/dest",
                "--ledger",
                "l.sqlite",
                &input,
            ],
        );
        tally(&mut outcomes, "push --dir", &out, 3, "disk/dest");
        let landed = arrived(&disk.dir.join("dest"));
        for (name, bytes) in &landed {
            assert_eq!(parts.get(name), Some(bytes), "{name} is not a whole part");
        }
        assert!(
            names_in(&disk.dir.join("dest"))
                .iter()
                .all(|n| !n.starts_with('.'))
        );
        assert_eq!(landed.len() == parts.len(), out.code == 1);

        // The ledger on the full disk: exit 2 before the part it cannot note is sent.
        disk.reset(free);
        let dest = env.path().join("dest");
        let _ = std::fs::remove_dir_all(&dest);
        std::fs::create_dir(&dest).unwrap();
        let ledger_run: &[&str] = &[
            "push",
            "--max-rows",
            "500",
            "--dir",
            "dest",
            "--ledger",
            "disk/led/ledger.sqlite",
            &input,
        ];
        let out = quiet(&env, ledger_run);
        *outcomes.entry(("push ledger", out.code)).or_insert(0) += 1;
        match out.code {
            // 2: it could not note a part before sending it; 4: it could not record a part
            // just delivered (the next run finds it complete and records it).
            2 | 4 => {
                assert_enospc_or_full(&out, "disk/led/ledger.sqlite");
                // Every part that arrived was recorded: a re-run with space sends the rest.
                let before = arrived(&dest).len();
                disk.reset_keep(400);
                let again = quiet(&env, ledger_run);
                again.assert_code(1);
                assert_eq!(arrived(&dest), parts, "{before} parts before");
            }
            1 => assert_eq!(arrived(&dest), parts),
            _ => panic!("{out:#?}"),
        }
    }
    eprintln!("full-disk outcomes (command, exit code) -> trials: {outcomes:?}");
    for command in ["split", "fix", "push rejects", "push --dir", "push ledger"] {
        let codes: Vec<i32> = outcomes
            .keys()
            .filter(|k| k.0 == command)
            .map(|k| k.1)
            .collect();
        assert!(
            codes.contains(&1) && codes.len() >= 2,
            "{command}: the sweep must see both a failure and a success: {codes:?}"
        );
    }
}

/// Runs `args` (a command, then its options) with `--as-of` and `-q`.
fn quiet(env: &TestEnv, args: &[&str]) -> Output {
    let mut all = vec![args[0], "--as-of", AS_OF, "-q"];
    all.extend_from_slice(&args[1..]);
    env.run(&all)
}

/// Counts the outcome of a run on the full disk: complete (1: rows were set aside), or
/// `failed` with `No space left on device` naming `file`.
fn tally(
    outcomes: &mut BTreeMap<(&'static str, i32), u32>,
    what: &'static str,
    out: &Output,
    failed: i32,
    file: &str,
) {
    *outcomes.entry((what, out.code)).or_insert(0) += 1;
    match out.code {
        1 => {}
        c if c == failed => assert_enospc(out, file),
        _ => panic!("{out:#?}"),
    }
}

/// SQLite says "database or disk is full" rather than the system's words.
fn assert_enospc_or_full(out: &Output, file: &str) {
    assert!(
        out.stderr.contains(file) && out.stderr.contains("disk is full"),
        "{file}: {out:#?}"
    );
}
