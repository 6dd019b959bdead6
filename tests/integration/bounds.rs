//! Bounds on what a run may leave, read or wait for (spec §7 "Bounded"): work folders of
//! killed runs are removed (safely), state files are read only when regular and small,
//! `--max-time` bounds reading the input too, and no `--max-time` value panics.

use crate::hostile::{measured, mkfifo};
use crate::util::{AS_OF, TestEnv};
use std::time::Duration;

const HEADER: &str = "CampaignId,ActionTrackerId,EventDate,OrderId,ClickId,Amount";

fn small_input(env: &TestEnv) -> &'static str {
    env.write(
        "in.csv",
        format!("{HEADER}\n18543,27015,2026-06-20T12:00:00Z,ORD-1,c1,1.00\n"),
    )
}

/// The largest values clap accepts and the largest an `i64` holds: either overflowed
/// `Instant + Duration` ("overflow when adding duration to instant", exit 101).
const HUGE: [&str; 2] = ["18446744073709551615", "9223372036854775807"];

#[test]
fn a_huge_max_time_never_panics() {
    let env = TestEnv::new();
    let input = small_input(&env);
    std::fs::create_dir(env.path().join("dest")).unwrap();
    // A port nothing listens on: the network channels fail at once, temporarily.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    env.write("known_hosts", "");
    env.write(
        "convsubmit.toml",
        format!(
            "[sftp]\nhost = \"127.0.0.1\"\nport = {port}\nusername = \"u\"\npassword_env = \"TEST_PW\"\nknown_hosts = \"known_hosts\"\n\
             [ftp]\nhost = \"127.0.0.1\"\nport = {port}\nusername = \"u\"\npassword_env = \"TEST_PW\"\n"
        ),
    );
    for max in HUGE {
        let push = |channel: &[&'static str]| {
            let mut a = vec![
                "push",
                "--as-of",
                AS_OF,
                "--ledger",
                "ledger.sqlite",
                "--retries",
                "0",
                "--max-time",
                max,
            ];
            a.extend_from_slice(channel);
            a.push(input);
            a
        };
        let runs: [(Vec<&str>, i32); 6] = [
            (push(&["--dir", "dest", "--force"]), 0),
            (push(&["--sftp"]), 3),
            (push(&["--ftp"]), 3),
            (vec!["doctor", "--dir", "dest", "--max-time", max], 0),
            (vec!["doctor", "--sftp", "--max-time", max], 3),
            (vec!["doctor", "--ftp", "--max-time", max], 3),
        ];
        for (args, code) in runs {
            // `run_env` fails on "panicked" in stderr; the code shows any other abort.
            let out = env.run_env(&args, &[("TEST_PW", "x")]);
            assert!(!out.stderr.contains("overflow"), "{args:?}: {out:#?}");
            assert_eq!(out.code, code, "{args:?}: {out:#?}");
        }
    }
}

#[test]
fn a_manifest_that_is_a_device_or_huge_is_refused_unread() {
    let env = TestEnv::new();
    let input = small_input(&env);
    std::fs::create_dir_all(env.path().join("zero")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", env.path().join("zero/manifest.json")).unwrap();
    std::fs::create_dir_all(env.path().join("sparse")).unwrap();
    let sparse = std::fs::File::create(env.path().join("sparse/manifest.json")).unwrap();
    sparse.set_len(3 << 30).unwrap();
    std::fs::create_dir_all(env.path().join("fifo")).unwrap();
    mkfifo(&env.path().join("fifo/manifest.json"));
    for (out, why) in [
        ("zero", "not a regular file"),
        ("sparse", "over 64 MiB"),
        // Opening a FIFO without a writer would wait forever.
        ("fifo", "not a regular file"),
    ] {
        let m = measured(
            &env,
            &["split", "--as-of", AS_OF, "--out", out, input],
            Duration::from_secs(60),
        );
        m.out.assert_code(2);
        let want = format!(
            "convsubmit: error: {out}/manifest.json is not a convsubmit manifest ({why}); choose another --out folder"
        );
        assert_eq!(m.out.stderr.lines().next(), Some(want.as_str()), "{out}");
        // Before: 7 GB (and counting) for /dev/zero, 3.1 GB for the sparse file.
        assert!(m.peak_mb < 100, "{out}: {} MB", m.peak_mb);
        assert!(m.time < Duration::from_secs(10), "{out}: {:?}", m.time);
    }
}

#[test]
fn a_ca_file_that_is_a_device_is_refused_unread() {
    let env = TestEnv::new();
    let input = small_input(&env);
    // Just a greeting: the certificate is read once the server has answered.
    let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = server.local_addr().unwrap().port();
    std::thread::spawn(move || {
        use std::io::Write;
        while let Ok((mut s, _)) = server.accept() {
            let _ = s.write_all(b"220 ready\r\n");
            std::thread::sleep(Duration::from_secs(1));
        }
    });
    std::os::unix::fs::symlink("/dev/zero", env.path().join("ca.pem")).unwrap();
    env.write(
        "convsubmit.toml",
        format!(
            "[ftp]\nhost = \"127.0.0.1\"\nport = {port}\nusername = \"u\"\npassword_env = \"TEST_PW\"\nca_file = \"ca.pem\"\n"
        ),
    );
    let mut cmd = env.command(&[
        "push",
        "--as-of",
        AS_OF,
        "--ftps",
        "--ledger",
        "l.sqlite",
        "--max-time",
        "20",
        input,
    ]);
    cmd.env("TEST_PW", "x");
    let started = std::time::Instant::now();
    let out = crate::util::finish(cmd);
    out.assert_code(4);
    assert!(
        out.stderr
            .contains("cannot read ca_file ca.pem: not a regular file"),
        "{out:#?}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}
