//! Secrets never leak: one table of every channel's secret (SFTP, FTP and SMTP passwords, the
//! API token), read through each source (`_env`, `_file`, `_command`), over every path (success,
//! a wrong secret, a refused connection, a TLS or host-key failure, HTTP 400, `--dry-run`).
//! Each run's stdout and stderr, every file it left in its folder (ledger, results CSV,
//! rejects) and the server's own log are searched for the value.
//!
//! Also: the warnings about secret files and config files other users can read (files they
//! can write are refused: trust.rs).

use crate::servers::api::{ApiOptions, ApiServer, ErrorShape};
use crate::servers::ftp::{FtpOptions, FtpServer};
use crate::servers::sftp::{SftpOptions, SftpServer};
use crate::servers::smtp::{SmtpOptions, SmtpServer};
use crate::util::{AS_OF, Output, TestEnv};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Channel {
    Sftp,
    Ftp,
    Smtp,
    Api,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Source {
    Env,
    File,
    Command,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Route {
    Success,
    /// The server expects another secret.
    WrongSecret,
    /// Nothing listens on the port.
    Refused,
    /// SFTP: an unknown host key; FTPS, SMTP, HTTPS: a certificate that does not verify.
    TrustFailure,
    /// API: the server refuses an order's field.
    Http400,
    DryRun,
}

/// The files holding the secret for `_file` and `_command` (not searched).
const SECRET_FILE: &str = "secret.txt";
const COMMAND_FILE: &str = "command-secret.txt";

impl Channel {
    /// A value no output has any other reason to contain.
    fn secret(self) -> &'static str {
        match self {
            Channel::Sftp => "sftp-Vq7!Zr4-leakcheck",
            Channel::Ftp => "ftp-Qe4#Lm8-leakcheck",
            Channel::Smtp => "smtp-Lk2$Pw6-leakcheck",
            Channel::Api => "api-Zq8!Tk3-leakcheck",
        }
    }

    /// `password` or `auth_token`, and the config keys naming the secret.
    fn secret_key(self, source: Source, env: &TestEnv) -> String {
        let key = if self == Channel::Api {
            "auth_token"
        } else {
            "password"
        };
        match source {
            Source::Env => format!("{key}_env = \"TEST_SECRET\"\n"),
            Source::File => {
                env.write(SECRET_FILE, format!("{}\n", self.secret()));
                let path = env.path().join(SECRET_FILE);
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
                format!("{key}_file = \"{SECRET_FILE}\"\n")
            }
            Source::Command => {
                env.write(COMMAND_FILE, self.secret());
                format!("{key}_command = \"cat {COMMAND_FILE}\"\n")
            }
        }
    }
}

/// A server for one case; its log, whatever it is, as lines.
enum Server {
    Sftp(SftpServer),
    Ftp(FtpServer),
    Smtp(SmtpServer),
    Api(ApiServer),
}

impl Server {
    fn log(&self) -> Vec<String> {
        match self {
            Server::Sftp(s) => s.log(),
            Server::Ftp(s) => s.log(),
            Server::Smtp(s) => s.log(),
            Server::Api(s) => s
                .requests()
                .iter()
                .map(|r| {
                    format!(
                        "{} {} {}",
                        r.method,
                        r.path,
                        String::from_utf8_lossy(&r.body)
                    )
                })
                .collect(),
        }
    }
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Sets up `env` for one case: the server, the config, and the channel's flag.
fn setup(ch: Channel, source: Source, path: Route, env: &TestEnv) -> (Server, String) {
    let right = ch.secret();
    let expected = if path == Route::WrongSecret {
        "the-server-expects-this-one"
    } else {
        right
    };
    let secret = ch.secret_key(source, env);
    let trusted = path != Route::TrustFailure;
    let refused = path == Route::Refused;
    let (server, port, section, flag) = match ch {
        Channel::Sftp => {
            let s = SftpServer::start(SftpOptions::password("acme", expected));
            let known = if trusted {
                s.known_hosts_line()
            } else {
                String::new()
            };
            env.write("known_hosts", format!("{known}\n"));
            let port = if refused { free_port() } else { s.port };
            (
                Server::Sftp(s),
                port,
                "[sftp]\nknown_hosts = \"known_hosts\"\n".to_string(),
                "--sftp",
            )
        }
        Channel::Ftp => {
            let s = FtpServer::start(FtpOptions {
                tls: !trusted,
                user: "acme".into(),
                password: expected.into(),
                ..FtpOptions::default()
            });
            let port = if refused { free_port() } else { s.port };
            let flag = if trusted { "--ftp" } else { "--ftps" };
            (Server::Ftp(s), port, "[ftp]\n".to_string(), flag)
        }
        Channel::Smtp => {
            let s = SmtpServer::start(SmtpOptions {
                starttls: true,
                auth: Some(("acme".into(), expected.into())),
                ..SmtpOptions::default()
            });
            let mut section =
                "[email]\nfrom = \"a@acme.example\"\nto = \"x@batch.impact.com\"\n".to_string();
            if trusted {
                env.write("ca.pem", std::fs::read(s.ca_pem.as_ref().unwrap()).unwrap());
                section.push_str("ca_file = \"ca.pem\"\n");
            }
            let port = if refused { free_port() } else { s.port };
            (Server::Smtp(s), port, section, "--email")
        }
        Channel::Api => {
            const SID: &str = "IRleakcheck";
            // HTTPS against the SMTP server's TLS port: a certificate this system does not trust.
            if !trusted {
                let tls = SmtpServer::start(SmtpOptions {
                    implicit_tls: true,
                    ..SmtpOptions::default()
                });
                let section = format!(
                    "[api]\nbase_url = \"https://127.0.0.1:{}\"\naccount_sid = \"{SID}\"\n",
                    tls.port
                );
                return (
                    Server::Smtp(tls),
                    config(env, &section, &secret, None, "--api"),
                );
            }
            let s = ApiServer::start(ApiOptions::new(SID, expected));
            if path == Route::Http400 {
                let (_, rows) =
                    crate::generate::parse(&crate::util::fixture("item-level-errors.csv"));
                for r in rows {
                    s.faults.field_error_for_order(
                        &r.fields[3],
                        "Amount",
                        "Too large",
                        ErrorShape::Lower,
                    );
                }
            }
            let port = if refused {
                free_port()
            } else {
                s.addr().port()
            };
            let section = format!(
                "[api]\nbase_url = \"http://127.0.0.1:{port}\"\nallow_insecure_http = true\naccount_sid = \"{SID}\"\nconcurrency = 1\n"
            );
            return (
                Server::Api(s),
                config(env, &section, &secret, None, "--api"),
            );
        }
    };
    (server, config(env, &section, &secret, Some(port), flag))
}

/// Writes the config; returns the flag.
fn config(env: &TestEnv, section: &str, secret: &str, port: Option<u16>, flag: &str) -> String {
    let server = match (port, section.starts_with("[email]")) {
        (Some(p), true) => {
            format!("smtp_host = \"127.0.0.1\"\nsmtp_port = {p}\nusername = \"acme\"\n")
        }
        (Some(p), false) => format!("host = \"127.0.0.1\"\nport = {p}\nusername = \"acme\"\n"),
        (None, _) => String::new(),
    };
    env.write(
        "convsubmit.toml",
        format!("{section}{server}{secret}\n[ledger]\npath = \"ledger.sqlite\"\n"),
    );
    flag.to_string()
}

/// Every file under `dir` but the ones holding the secret on purpose.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = vec![];
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if p.is_dir() {
            out.extend(files(&p));
        } else if name != SECRET_FILE && name != COMMAND_FILE {
            out.push((p.display().to_string(), std::fs::read(&p).unwrap()));
        }
    }
    out
}

#[track_caller]
fn assert_clean(what: &str, secret: &str, out: &Output, env: &TestEnv, log: &[String]) {
    for (name, text) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        assert!(
            !text.contains(secret),
            "{what}: the secret is in {name}: {out:#?}"
        );
    }
    let needle = secret.as_bytes();
    for (name, bytes) in files(env.path()) {
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle),
            "{what}: the secret is in {name}"
        );
    }
    for line in log {
        assert!(
            !line.contains(secret),
            "{what}: the secret is in the server's log: {line}"
        );
    }
}

#[test]
fn no_secret_leaks_on_any_channel_source_or_path() {
    use Route::*;
    let mut runs = 0;
    for ch in [Channel::Sftp, Channel::Ftp, Channel::Smtp, Channel::Api] {
        let mut paths = vec![Success, WrongSecret, Refused, TrustFailure, DryRun];
        if ch == Channel::Api {
            paths.push(Http400);
        }
        for source in [Source::Env, Source::File, Source::Command] {
            for &path in &paths {
                let what = format!("{ch:?} {source:?} {path:?}");
                let env = TestEnv::new();
                // Rows with errors, so that a rejects file is written too.
                env.copy_fixture("item-level-errors.csv");
                let (server, flag) = setup(ch, source, path, &env);
                let mut args = vec![
                    "push",
                    "--as-of",
                    AS_OF,
                    &flag,
                    "--retries",
                    "0",
                    "--max-time",
                    "10",
                ];
                if path == DryRun {
                    args.push("--dry-run");
                }
                args.push("item-level-errors.csv");
                let out = env.run_env(&args, &[("TEST_SECRET", ch.secret())]);
                let want = match path {
                    Success | DryRun => 1,
                    Refused => 3,
                    WrongSecret | TrustFailure | Http400 => 4,
                };
                assert_eq!(out.code, want, "{what}: {out:#?}");
                assert!(
                    env.path().join("item-level-errors.rejects.csv").exists(),
                    "{what}: no rejects"
                );
                assert_clean(&what, ch.secret(), &out, &env, &server.log());
                runs += 1;
            }
        }
    }
    eprintln!("{runs} runs, no secret found");
}

/// `push` with a config naming a password file, for the permission warnings.
fn warning_run(config_mode: u32, secret_mode: u32) -> Output {
    let env = TestEnv::new();
    env.write(SECRET_FILE, "perm-Secret-77\n");
    env.write(
        "convsubmit.toml",
        format!("[ftp]\nusername = \"acme\"\npassword_file = \"{SECRET_FILE}\"\n"),
    );
    let set = |name: &str, mode| {
        std::fs::set_permissions(env.path().join(name), std::fs::Permissions::from_mode(mode))
            .unwrap()
    };
    set(SECRET_FILE, secret_mode);
    set("convsubmit.toml", config_mode);
    crate::push_email::one_event_type(&env);
    let out = env.run(&[
        "push",
        "--as-of",
        AS_OF,
        "--ftp",
        "--dry-run",
        "item-level-valid.csv",
    ]);
    assert!(!out.stderr.contains("perm-Secret-77") && !out.stdout.contains("perm-Secret-77"));
    out
}

fn warnings(out: &Output) -> Vec<&str> {
    out.stderr
        .lines()
        .filter(|l| l.contains("warning:") && !l.contains("clear text"))
        .collect()
}

#[test]
fn secret_and_config_files_others_can_read_are_warned_about() {
    // Private files: no warning.
    assert_eq!(warnings(&warning_run(0o600, 0o600)), Vec::<&str>::new());
    // A secret file the group can read.
    let out = warning_run(0o600, 0o640);
    let w = warnings(&out);
    assert_eq!(w.len(), 1, "{out:#?}");
    assert!(
        w[0].contains(SECRET_FILE) && w[0].contains("chmod 600 "),
        "{out:#?}"
    );
    // A config file that names a secret file, readable by others.
    let out = warning_run(0o644, 0o600);
    let w = warnings(&out);
    assert_eq!(w.len(), 1, "{out:#?}");
    assert!(
        w[0].contains("convsubmit.toml") && w[0].contains("chmod 600 "),
        "{out:#?}"
    );
    // Writable by others: anyone could point it at their own command or file. Refused, not
    // warned about (trust.rs has the cases).
    let out = warning_run(0o602, 0o600);
    assert_eq!(out.code, 2, "{out:#?}");
    assert!(
        out.stderr.contains("chmod go-w convsubmit.toml"),
        "{out:#?}"
    );
    // Both.
    assert_eq!(warnings(&warning_run(0o644, 0o644)).len(), 2);
}

/// Standard base64, padded, as a server would echo an `AUTH PLAIN` blob.
fn b64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in bytes.chunks(3) {
        let n = c
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            out.push(if i <= c.len() {
                A[(n >> (18 - 6 * i) & 63) as usize] as char
            } else {
                '='
            });
        }
    }
    out
}

/// A server that echoes the secret it was sent, raw or encoded, in its refusal: what reaches
/// the user is `***`, never the secret nor its encoding.
#[test]
fn servers_that_echo_the_secret_have_it_masked() {
    use crate::servers::raw::{RawServer, Step};
    let send = |s: String| Step::Send(s.into_bytes());
    let secret = "FTPSECRET-7c1d";
    let plain = b64(format!("\0reports@acme.example\0{secret}").as_bytes());
    let cases = [
        (
            "FTP 530 with the password",
            "[ftp]\n",
            "--ftp",
            vec![
                send("220 echo\r\n".into()),
                Step::ReadLine,
                send("331 password please\r\n".into()),
                Step::ReadLine,
                send(format!("530 Login incorrect for password {secret}\r\n")),
            ],
            plain.clone(),
        ),
        (
            "SMTP 535 with the AUTH PLAIN blob",
            "[email]\ntls = \"none\"\nfrom = \"reports@acme.example\"\nto = \"x@batch.impact.com\"\n",
            "--email",
            vec![
                send("220 echo ESMTP\r\n".into()),
                Step::ReadLine,
                send("250-echo\r\n250 AUTH PLAIN LOGIN\r\n".into()),
                Step::ReadLine,
                send(format!("535 5.7.8 bad credentials {plain}\r\n")),
            ],
            plain.clone(),
        ),
    ];
    for (what, section, flag, script, encoded) in cases {
        let server = RawServer::start(script);
        let env = TestEnv::new();
        crate::push_email::one_event_type(&env);
        let login = if flag == "--email" {
            format!(
                "smtp_host = \"127.0.0.1\"\nsmtp_port = {}\nusername = \"reports@acme.example\"\n",
                server.port
            )
        } else {
            format!(
                "host = \"127.0.0.1\"\nport = {}\nusername = \"reports@acme.example\"\n",
                server.port
            )
        };
        env.write(
            "convsubmit.toml",
            format!(
                "{section}{login}password_env = \"ECHO_SECRET\"\n[ledger]\npath = \"ledger.sqlite\"\n"
            ),
        );
        let out = env.run_env(
            &[
                "push",
                "--as-of",
                AS_OF,
                flag,
                "--max-time",
                "10",
                "item-level-valid.csv",
            ],
            &[("ECHO_SECRET", secret)],
        );
        assert!(server.accepted() >= 1, "{what}: never connected");
        assert_eq!(out.code, 4, "{what}: {out:#?}");
        assert!(out.stderr.contains("***"), "{what}: {out:#?}");
        for text in [&out.stdout, &out.stderr] {
            assert!(!text.contains(secret), "{what}: {out:#?}");
            assert!(!text.contains(encoded.as_str()), "{what}: {out:#?}");
            // Not even most of the blob: only what encodes the user name may be left.
            assert!(!text.contains(&encoded[12..]), "{what}: {out:#?}");
        }
        assert_clean(what, secret, &out, &env, &[]);
    }
}
