//! Bounds on what a run may leave, read or wait for (spec §7 "Bounded"): work folders of
//! killed runs are removed (safely), state files are read only when regular and small,
//! `--max-time` bounds reading the input too, and no `--max-time` value panics.

use crate::generate::{self, Spec};
use crate::hostile::{measured, mkfifo};
use crate::util::{AS_OF, Output, TestEnv};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

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
    // The config's files are checked before anything else: a configuration error.
    out.assert_code(2);
    assert!(
        out.stderr.contains("ca_file ca.pem is not a regular file"),
        "{out:#?}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// The work folders (`.convsubmit-<pid>-….tmp`) in `out`.
fn work_folders(out: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(out)
        .unwrap()
        .flatten()
        .filter(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.starts_with(".convsubmit-") && n.ends_with(".tmp")
        })
        .map(|e| e.path())
        .collect();
    found.sort();
    found
}

/// A pid no process has (one that has just ended).
fn dead_pid() -> u32 {
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    let pid = gone.id();
    gone.wait().unwrap();
    pid
}

fn split_into(env: &TestEnv, out: &str, input: &str) {
    env.run(&["split", "--as-of", AS_OF, "-q", "--out", out, input])
        .assert_code(0);
}

#[test]
fn a_killed_splits_work_folder_is_removed_by_the_next_split() {
    let env = TestEnv::new();
    env.write("big.csv", generate::item_level(&Spec::clean(7, 400_000)));
    let input = small_input(&env);
    let out = env.path().join("out");
    let mut child = env
        .command(&["split", "--as-of", AS_OF, "-q", "--out", "out", "big.csv"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Killed once its work folder holds some of the data.
    let limit = Instant::now() + Duration::from_secs(120);
    let work = loop {
        assert!(
            child.try_wait().unwrap().is_none(),
            "split ended before the kill"
        );
        assert!(Instant::now() < limit, "no work folder with data appeared");
        let folders = if out.exists() {
            work_folders(&out)
        } else {
            vec![]
        };
        let held = folders
            .into_iter()
            .find(|w| std::fs::read_dir(w).is_ok_and(|mut d| d.next().is_some()));
        if let Some(w) = held {
            break w;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    child.kill().unwrap();
    child.wait().unwrap();
    let name = work.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with(&format!(".convsubmit-{}-", child.id())),
        "{name}"
    );
    let meta = std::fs::metadata(&work).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o700, "{name}");
    assert!(work.exists(), "the kill left its work folder");
    split_into(&env, "out", input);
    assert_eq!(work_folders(&out), Vec::<PathBuf>::new());
    assert!(out.join("2026-06-30_in.csv").exists());
}

#[test]
fn work_folders_of_live_runs_other_users_and_symlinks_are_left_alone() {
    let env = TestEnv::new();
    let input = small_input(&env);
    let out = env.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let dead = dead_pid();
    let folder = |name: String| {
        let path = out.join(name);
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("part.csv"), "customer data").unwrap();
        path
    };
    // Removed: a killed run's, as this version and older ones named it.
    let killed = folder(format!(".convsubmit-{dead}-0.tmp"));
    let legacy = folder(format!(".convsubmit-{dead}-sales.tmp"));
    // Kept: a live process's (this test's).
    let live = folder(format!(".convsubmit-{}-0.tmp", std::process::id()));
    // Kept: held locked, as by a live run in another pid namespace.
    let locked = folder(format!(".convsubmit-{dead}-1.tmp"));
    let lock = std::fs::File::open(&locked).unwrap();
    lock.try_lock().unwrap();
    // Kept: names that only look alike.
    let unlike = [
        folder(format!(".convsubmit-{dead}.tmp")),
        folder(format!(".convsubmit-{dead}-0.tmp.bak")),
        folder(format!("convsubmit-{dead}-0.tmp")),
    ];
    // Kept, and not followed: a symlink named like one, to a folder with files.
    let target = env.path().join("precious");
    std::fs::create_dir(&target).unwrap();
    std::fs::write(target.join("keep.csv"), "not yours").unwrap();
    let link = out.join(format!(".convsubmit-{dead}-2.tmp"));
    std::os::unix::fs::symlink(&target, &link).unwrap();
    // Kept: a regular file with such a name.
    let file = out.join(format!(".convsubmit-{dead}-3.tmp"));
    std::fs::write(&file, "a file").unwrap();
    // Kept: another user's (only root can make one).
    let other = folder(format!(".convsubmit-{dead}-4.tmp"));
    // SAFETY: no arguments.
    let root = unsafe { libc::geteuid() } == 0;
    if root {
        std::os::unix::fs::chown(&other, Some(54_321), Some(54_321)).unwrap();
    }

    split_into(&env, "out", input);
    assert!(
        !killed.exists() && !legacy.exists(),
        "a killed run's folder stayed"
    );
    for kept in [&live, &locked].into_iter().chain(&unlike) {
        assert!(
            kept.join("part.csv").exists(),
            "{} was removed",
            kept.display()
        );
    }
    assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
    assert_eq!(env.read("precious/keep.csv"), "not yours");
    assert_eq!(env.read(&format!("out/.convsubmit-{dead}-3.tmp")), "a file");
    if root {
        assert!(
            other.join("part.csv").exists(),
            "another user's folder was removed"
        );
        assert_eq!(std::fs::metadata(&other).unwrap().uid(), 54_321);
    }
    drop(lock);
    // Unlocked now, and its pid dead: the next run removes it.
    split_into(&env, "out", input);
    assert!(!locked.exists());
    assert!(live.exists());
}

/// Runs `cmd`, killing it after `limit` (a hang fails the test); its output and how long
/// it took.
fn run_limited(mut cmd: std::process::Command, limit: Duration) -> (Output, Duration) {
    use std::io::Read;
    let started = Instant::now();
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            r.read_to_string(&mut s).unwrap();
            s
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > limit {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("{cmd:?} still runs after {limit:?}: it hangs");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let took = started.elapsed();
    let out = Output {
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
        code: status.code().unwrap_or(-1),
    };
    assert!(!out.stderr.contains("panicked"), "{out:#?}");
    (out, took)
}

/// Writes `header`, then `row` every `every` (as fast as it can when zero), into the FIFO
/// at `path` until its reader is gone.
fn feed(path: PathBuf, every: Duration) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        use std::io::Write;
        let Ok(mut f) = std::fs::OpenOptions::new().write(true).open(&path) else {
            return;
        };
        let row = "18543,27015,2026-06-20T12:00:00Z,ORD-1,c1,1.00\n".repeat(if every.is_zero() {
            1000
        } else {
            1
        });
        if f.write_all(format!("{HEADER}\n").as_bytes()).is_err() {
            return;
        }
        while f.write_all(row.as_bytes()).is_ok() {
            std::thread::sleep(every);
        }
    })
}

#[test]
fn max_time_bounds_reading_the_input() {
    let env = TestEnv::new();
    let tmp = env.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    std::fs::create_dir(env.path().join("dest")).unwrap();
    let fifo = env.path().join("in.csv");
    for (case, every) in [
        ("a FIFO without a writer", None),
        ("a FIFO fed a row a second", Some(Duration::from_secs(1))),
        ("a FIFO fed rows without end", Some(Duration::ZERO)),
    ] {
        let _ = std::fs::remove_file(&fifo);
        mkfifo(&fifo);
        let writer = every.map(|e| feed(fifo.clone(), e));
        let mut cmd = env.command(&[
            "push",
            "--as-of",
            AS_OF,
            "--ledger",
            "ledger.sqlite",
            "--max-time",
            "2",
            "--dir",
            "dest",
            "in.csv",
        ]);
        cmd.env("TMPDIR", &tmp);
        let (out, took) = run_limited(cmd, Duration::from_secs(30));
        out.assert_code(3);
        assert!(
            out.stderr.contains(
                "convsubmit: error: --max-time 2s ran out while reading the input; nothing was sent"
            ),
            "{case}: {out:#?}"
        );
        // Before: still running at 30 s.
        assert!(took < Duration::from_secs(8), "{case}: {took:?}");
        assert_eq!(
            std::fs::read_dir(&tmp).unwrap().count(),
            0,
            "{case}: the work folder stayed"
        );
        assert_eq!(
            std::fs::read_dir(env.path().join("dest")).unwrap().count(),
            0
        );
        if let Some(w) = writer {
            w.join().unwrap();
        }
    }
}

#[test]
fn a_header_past_the_limits_ends_reading_at_once() {
    let env = TestEnv::new();
    std::fs::create_dir(env.path().join("dest")).unwrap();
    for args in [
        &["validate", "/dev/zero"][..],
        &["split", "--out", "out", "/dev/zero"],
        &[
            "push",
            "--ledger",
            "ledger.sqlite",
            // Long enough for the header limit to stop it first, even on a loaded machine.
            "--max-time",
            "30",
            "--dir",
            "dest",
            "/dev/zero",
        ],
    ] {
        let (out, took) = run_limited(env.command(args), Duration::from_secs(60));
        // A file-level error, as for any other header that is not one (exit 1).
        out.assert_code(1);
        assert!(
            out.stdout.contains(
                "/dev/zero:1: error[value-too-long] the header is over 16 MiB long: this is not a batch file"
            ),
            "{args:?}: {out:#?}"
        );
        // Before: validate read /dev/zero for ever.
        assert!(took < Duration::from_secs(10), "{args:?}: {took:?}");
    }
}

/// A server that answers every request with `head` (an HTTP status line and headers).
fn answering(head: &'static str) -> u16 {
    use std::io::{Read, Write};
    let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = server.local_addr().unwrap().port();
    std::thread::spawn(move || {
        while let Ok((mut s, _)) = server.accept() {
            // The request (headers and a small body) is read before the answer.
            s.set_read_timeout(Some(Duration::from_millis(200)))
                .unwrap();
            let mut buf = [0u8; 65536];
            let _ = s.read(&mut buf);
            let _ = s.write_all(head.as_bytes());
        }
    });
    port
}

#[test]
fn a_huge_wait_asked_by_the_api_never_panics() {
    for head in [
        "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 18446744073709551615\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 9223372036854775807\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        "HTTP/1.1 429 Too Many Requests\r\nX-RateLimit-Remaining: 0\r\nX-RateLimit-Reset: 18446744073709551615\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    ] {
        let env = TestEnv::new();
        let input = small_input(&env);
        let port = answering(head);
        env.write(
            "convsubmit.toml",
            format!(
                "[api]\nbase_url = \"http://127.0.0.1:{port}\"\naccount_sid = \"IRtestAccount0000000000000000001\"\nauth_token_env = \"TEST_API_TOKEN\"\nallow_insecure_http = true\n"
            ),
        );
        let mut cmd = env.command(&[
            "push",
            "--as-of",
            AS_OF,
            "--api",
            "--ledger",
            "ledger.sqlite",
            "--max-time",
            "3",
            input,
        ]);
        cmd.env("TEST_API_TOKEN", "t");
        let (out, took) = run_limited(cmd, Duration::from_secs(30));
        assert_eq!(out.code, 3, "{head}: {out:#?}");
        assert!(!out.stderr.contains("overflow"), "{out:#?}");
        assert!(took < Duration::from_secs(10), "{head}: {took:?}");
    }
}

/// A template file is read only when it is a regular file of at most 4 MiB: `/dev/zero`
/// took memory without end before.
#[test]
fn a_template_that_is_a_device_or_huge_is_refused_unread() {
    let env = TestEnv::new();
    env.copy_fixture("item-level-valid.csv");
    std::os::unix::fs::symlink("/dev/zero", env.path().join("zero.toml")).unwrap();
    let big = std::fs::File::create(env.path().join("big.toml")).unwrap();
    big.set_len(5 << 20).unwrap();
    for (template, why) in [
        ("zero.toml", "not a regular file"),
        ("big.toml", "over 4 MiB"),
    ] {
        let started = std::time::Instant::now();
        let out = env.run(&["validate", "--template", template, "item-level-valid.csv"]);
        out.assert_code(2);
        assert!(out.stderr.contains(why), "{out:#?}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}
