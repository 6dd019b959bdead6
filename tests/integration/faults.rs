//! Network faults on every channel, each classified as temporary (exit 3, retried) or
//! permanent (exit 4), and each ending within `--max-time` plus a little: a server that
//! accepts and says nothing, one that drips a byte at a time forever, one that stalls in the
//! middle of a transfer, a TLS handshake answered with garbage, a certificate that does not
//! verify, a refused connection, a host name that cannot be resolved.

use crate::servers::ftp::{FtpOptions, FtpServer};
use crate::servers::raw::{RawServer, Step};
use crate::servers::sftp::{SftpOptions, SftpServer};
use crate::servers::smtp::{SmtpOptions, SmtpServer};
use crate::util::{AS_OF, Output, TestEnv};
use std::time::{Duration, Instant};

/// `--max-time` of every run here.
const MAX_TIME: u64 = 4;
/// What a run may take beyond `--max-time` (start-up, validation, the last timeout).
const SLACK: Duration = Duration::from_secs(5);

#[derive(Clone, Copy, Debug, PartialEq)]
enum Ch {
    Sftp,
    Ftp,
    Ftps,
    Smtp,
    SmtpImplicit,
    Api,
    Https,
}

impl Ch {
    fn flag(self) -> &'static str {
        match self {
            Ch::Sftp => "--sftp",
            Ch::Ftp => "--ftp",
            Ch::Ftps => "--ftps",
            Ch::Smtp | Ch::SmtpImplicit => "--email",
            Ch::Api | Ch::Https => "--api",
        }
    }

    /// A config pointing the channel at 127.0.0.1:`port`, its secret from `$TEST_SECRET`.
    fn config(self, port: u16, extra: &str) -> String {
        let host = format!(
            "host = \"127.0.0.1\"\nport = {port}\nusername = \"acme\"\npassword_env = \"TEST_SECRET\"\n"
        );
        let email = format!(
            "smtp_host = \"127.0.0.1\"\nsmtp_port = {port}\nusername = \"acme\"\npassword_env = \"TEST_SECRET\"\nfrom = \"a@acme.example\"\nto = \"x@batch.impact.com\"\n"
        );
        let api = |scheme| {
            format!(
                "base_url = \"{scheme}://127.0.0.1:{port}\"\nallow_insecure_http = true\naccount_sid = \"IRfault\"\nauth_token_env = \"TEST_SECRET\"\nconcurrency = 1\n"
            )
        };
        let section = match self {
            Ch::Sftp if extra.contains("host_key") => format!("[sftp]\n{host}"),
            // The pin is never reached: the raw servers' faults come before the host key.
            Ch::Sftp => format!(
                "[sftp]\n{host}host_key = \"SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"\n"
            ),
            Ch::Ftp | Ch::Ftps => format!("[ftp]\n{host}"),
            Ch::Smtp => format!("[email]\n{email}"),
            Ch::SmtpImplicit => format!("[email]\n{email}tls = \"implicit\"\n"),
            Ch::Api => format!("[api]\n{}", api("http")),
            Ch::Https => format!("[api]\n{}", api("https")),
        };
        format!("{section}{extra}\n[ledger]\npath = \"ledger.sqlite\"\n")
    }
}

/// Pushes one valid file through `ch` to 127.0.0.1:`port`; returns the output and how long
/// the run took.
fn push(ch: Ch, port: u16, extra: &str, secret: &str) -> (Output, Duration, TestEnv) {
    push_with(ch, ch.config(port, extra), secret)
}

/// Pushes one valid file through `ch` configured by `config`.
fn push_with(ch: Ch, config: String, secret: &str) -> (Output, Duration, TestEnv) {
    let env = TestEnv::new();
    env.write("convsubmit.toml", config);
    crate::push_email::one_event_type(&env);
    let max = MAX_TIME.to_string();
    let started = Instant::now();
    let out = env.run_env(
        &[
            "push",
            "--as-of",
            AS_OF,
            ch.flag(),
            "--max-time",
            &max,
            "item-level-valid.csv",
        ],
        &[("TEST_SECRET", secret)],
    );
    (out, started.elapsed(), env)
}

/// One fault: the channel, what the server does, and what the run must say.
struct Case {
    name: &'static str,
    ch: Ch,
    script: Vec<Step>,
    /// Config lines beyond the channel's.
    extra: &'static str,
    code: i32,
    says: &'static str,
}

fn send(s: &str) -> Step {
    Step::Send(s.as_bytes().to_vec())
}

fn drip(s: &str) -> Step {
    Step::Drip(s.as_bytes().to_vec(), Duration::from_millis(200))
}

/// What a TLS server's answer to a ClientHello is not.
const GARBAGE: &str = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\nnot TLS at all\r\n";

/// Up to STARTTLS's go-ahead, then garbage instead of the server's handshake.
fn starttls_then_garbage() -> Vec<Step> {
    vec![
        send("220 fault ESMTP\r\n"),
        Step::ReadLine,
        send("250-fault\r\n250 STARTTLS\r\n"),
        Step::ReadLine,
        send("220 go ahead\r\n"),
        Step::ReadSome,
        send(GARBAGE),
    ]
}

fn cases() -> Vec<Case> {
    use Step::*;
    let stall = |ch, name| Case {
        name,
        ch,
        script: vec![Stall],
        extra: "",
        code: 3,
        says: "",
    };
    vec![
        // The server accepts and says nothing.
        stall(Ch::Sftp, "SFTP banner never sent"),
        stall(Ch::Ftp, "FTP greeting never sent"),
        stall(Ch::Smtp, "SMTP greeting never sent"),
        Case {
            script: vec![ReadSome, Stall],
            ..stall(Ch::Api, "HTTP response never sent")
        },
        // Mid-transfer: the message or the request body went, the reply never comes.
        Case {
            script: vec![
                send("220 fault ESMTP\r\n"),
                ReadLine,
                send("250-fault\r\n250 AUTH PLAIN\r\n"),
                ReadLine,
                send("235 ok\r\n"),
                ReadLine,
                send("250 ok\r\n"),
                ReadLine,
                send("250 ok\r\n"),
                ReadLine,
                send("354 go ahead\r\n"),
                ReadSome,
                Stall,
            ],
            extra: "tls = \"none\"",
            ..stall(Ch::Smtp, "SMTP stall during DATA")
        },
        Case {
            script: vec![
                ReadSome,
                send(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n{\"Status\":",
                ),
                Stall,
            ],
            ..stall(Ch::Api, "HTTP stall mid-response")
        },
        // Slow-loris: one byte every 200 ms, never a whole reply.
        Case {
            script: vec![drip("SSH-2.0-slow")],
            ..stall(Ch::Sftp, "SFTP banner dripped")
        },
        Case {
            script: vec![drip("220 slow")],
            ..stall(Ch::Ftp, "FTP greeting dripped")
        },
        Case {
            script: vec![drip("220 slow")],
            ..stall(Ch::Smtp, "SMTP greeting dripped")
        },
        Case {
            script: vec![ReadSome, send("HTTP/1.1 200 OK\r\n"), drip("X-Slow: y\r\n")],
            ..stall(Ch::Api, "HTTP headers dripped")
        },
        // A TLS handshake answered with something that is not TLS.
        Case {
            script: vec![
                send("220 fault FTP\r\n"),
                ReadLine,
                send("234 AUTH TLS ok\r\n"),
                ReadSome,
                send(GARBAGE),
            ],
            ..stall(Ch::Ftps, "FTPS handshake answered with garbage")
        },
        Case {
            script: starttls_then_garbage(),
            ..stall(Ch::Smtp, "SMTP STARTTLS handshake answered with garbage")
        },
        Case {
            script: vec![ReadSome, send(GARBAGE)],
            ..stall(Ch::SmtpImplicit, "SMTP implicit TLS answered with garbage")
        },
        Case {
            script: vec![ReadSome, send(GARBAGE)],
            ..stall(Ch::Https, "HTTPS handshake answered with garbage")
        },
    ]
}

/// Asserts the exit code, the message and the time a fault run took; returns its line for
/// the figures.
#[track_caller]
fn check(name: &str, out: &Output, took: Duration, code: i32, says: &str) -> String {
    assert_eq!(out.code, code, "{name}: {out:#?}");
    let kind = if code == 3 { "a temporary failure" } else { "" };
    assert!(out.stderr.contains(kind), "{name}: {out:#?}");
    if code == 4 {
        assert!(
            !out.stderr.contains("a temporary failure") && !out.stderr.contains("retrying"),
            "{name}: a permanent failure was retried: {out:#?}"
        );
    }
    assert!(out.stderr.contains(says), "{name}: {out:#?}");
    assert!(
        took <= Duration::from_secs(MAX_TIME) + SLACK,
        "{name}: took {took:?} with --max-time {MAX_TIME}"
    );
    let first = out
        .stderr
        .lines()
        .find(|l| l.starts_with("convsubmit: error:"))
        .unwrap_or("");
    format!(
        "{name}: exit {} in {:.1}s: {first}",
        out.code,
        took.as_secs_f64()
    )
}

#[test]
fn stalls_drips_and_broken_handshakes_end_in_time_with_the_right_exit_code() {
    let results: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = cases()
            .into_iter()
            .map(|c| {
                s.spawn(move || {
                    let server = RawServer::start(c.script.clone());
                    let (out, took, _env) = push(c.ch, server.port, c.extra, "fault-secret-Xy7");
                    assert!(server.accepted() >= 1, "{}: never connected", c.name);
                    check(c.name, &out, took, c.code, c.says)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join()).collect()
    });
    let mut failed = 0;
    for r in results {
        match r {
            Ok(line) => eprintln!("{line}"),
            Err(_) => failed += 1,
        }
    }
    assert_eq!(failed, 0, "{failed} fault cases failed (see above)");
}

#[test]
fn a_refused_connection_is_temporary_on_every_channel() {
    for ch in [Ch::Sftp, Ch::Ftp, Ch::Smtp, Ch::Api] {
        // A port that was just free: nothing listens there any more.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let (out, took, _env) = push(ch, port, "", "fault-secret-Xy7");
        eprintln!(
            "{}",
            check(&format!("{ch:?} refused"), &out, took, 3, "retrying in")
        );
    }
}

#[test]
fn a_certificate_that_does_not_verify_is_permanent() {
    // The test servers' certificates come from a CA the client is not told of.
    let ftps = FtpServer::start(FtpOptions {
        tls: true,
        user: "acme".into(),
        password: "fault-secret-Xy7".into(),
        ..FtpOptions::default()
    });
    let (out, took, _env) = push(Ch::Ftps, ftps.port, "", "fault-secret-Xy7");
    eprintln!(
        "{}",
        check("FTPS untrusted certificate", &out, took, 4, "ca_file")
    );
    let smtp = SmtpServer::start(SmtpOptions {
        starttls: true,
        ..SmtpOptions::default()
    });
    let (out, took, _env) = push(Ch::Smtp, smtp.port, "", "fault-secret-Xy7");
    eprintln!(
        "{}",
        check("SMTP STARTTLS untrusted certificate", &out, took, 4, "TLS")
    );
    let implicit = SmtpServer::start(SmtpOptions {
        implicit_tls: true,
        ..SmtpOptions::default()
    });
    let (out, took, _env) = push(Ch::SmtpImplicit, implicit.port, "", "fault-secret-Xy7");
    eprintln!(
        "{}",
        check(
            "SMTP implicit TLS untrusted certificate",
            &out,
            took,
            4,
            "TLS"
        )
    );
    // An HTTPS client meets the same certificate on a TLS port.
    let (out, took, _env) = push(Ch::Https, implicit.port, "", "fault-secret-Xy7");
    eprintln!(
        "{}",
        check("HTTPS untrusted certificate", &out, took, 4, "certificate")
    );
}

#[test]
fn a_host_name_that_cannot_be_resolved_is_temporary_and_asks_no_dns_server() {
    // A NUL byte makes the name invalid before any lookup: the resolver is never asked, so no
    // query leaves the machine, and the error takes the path of every resolution failure.
    for ch in [Ch::Sftp, Ch::Ftp, Ch::Smtp] {
        let config = ch.config(25, "").replace("127.0.0.1", "bad\\u0000host");
        let (out, took, _env) = push_with(ch, config, "fault-secret-Xy7");
        eprintln!(
            "{}",
            check(
                &format!("{ch:?} unresolvable"),
                &out,
                took,
                3,
                "cannot resolve"
            )
        );
    }
}

#[test]
fn a_server_stalled_mid_upload_is_temporary_and_ends_in_time() {
    const SECRET: &str = "fault-secret-Xy7";
    let sftp = SftpServer::start(SftpOptions::password("acme", SECRET));
    sftp.faults.stall_writes(true);
    let (out, took, _env) = push(
        Ch::Sftp,
        sftp.port,
        &format!("host_key = \"{}\"", sftp.host_key_sha256),
        SECRET,
    );
    eprintln!("{}", check("SFTP stall mid-upload", &out, took, 3, ""));
    assert!(sftp.log().iter().any(|l| l.contains("stalled")));
    let ftp = FtpServer::start(FtpOptions {
        user: "acme".into(),
        password: SECRET.into(),
        ..FtpOptions::default()
    });
    ftp.faults.stall_uploads(true);
    let (out, took, _env) = push(Ch::Ftp, ftp.port, "", SECRET);
    eprintln!("{}", check("FTP stall mid-upload", &out, took, 3, ""));
    assert!(ftp.files().iter().all(|(n, _)| n.starts_with('.')));
}

#[test]
fn doctor_ends_within_max_time_against_a_dripping_server() {
    let server = RawServer::start(vec![drip("220 slow")]);
    let env = TestEnv::new();
    env.write("convsubmit.toml", Ch::Ftp.config(server.port, ""));
    let max = MAX_TIME.to_string();
    let started = Instant::now();
    let out = env.run_env(
        &["doctor", "--ftp", "--max-time", &max],
        &[("TEST_SECRET", "fault-secret-Xy7")],
    );
    let took = started.elapsed();
    assert!(server.accepted() >= 1, "never connected");
    eprintln!(
        "{}",
        check(
            "doctor, FTP greeting dripped",
            &out,
            took,
            3,
            "within --max-time"
        )
    );
}
