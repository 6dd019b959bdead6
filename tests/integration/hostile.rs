//! Hostile inputs for every command that reads or writes files (`validate`, `split`, `fix`,
//! `push --dir --dry-run`): each ends with a documented exit code and a clear diagnostic or
//! message, in bounded memory and time, never hangs and never leaves a half-written file.
//! Memory is the peak resident size of the child, from `wait4`.

use crate::util::{AS_OF, Output, TestEnv};
use std::io::Read;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// What a measured run produced, with its peak memory and wall time.
pub struct Measured {
    pub out: Output,
    pub peak_mb: u64,
    pub time: Duration,
}

/// Runs `args` in `env`, killing it after `limit` (a hang fails the test), and measures it.
///
/// The peak is the child's `ru_maxrss` from `wait4`. A process started straight from this
/// one would count this process's own peak too (exec records the peak of the memory it
/// replaces, and the spawn shares this process's memory until then), so a small shell
/// starts the binary and exits; this process, a child subreaper, then reaps the binary.
pub fn measured(env: &TestEnv, args: &[&str], limit: Duration) -> Measured {
    static SUBREAPER: std::sync::Once = std::sync::Once::new();
    // SAFETY: a process attribute; orphaned descendants become children of this process.
    SUBREAPER.call_once(|| assert_eq!(unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1) }, 0));
    let started = Instant::now();
    let cmd = env.command(args);
    let program = cmd.get_program().to_owned();
    let mut shell = std::process::Command::new("/bin/sh");
    shell
        .arg("-c")
        .arg(r#"exec 3>pid; "$0" "$@" 3>&- & echo $! >&3"#)
        .arg(program)
        .args(cmd.get_args())
        .current_dir(env.path());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => shell.env(k, v),
            None => shell.env_remove(k),
        };
    }
    let pid_file = env.path().join("pid");
    let mut child = shell
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut s = vec![];
            r.read_to_end(&mut s).unwrap();
            String::from_utf8(s).expect("output is UTF-8")
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    assert!(child.wait().unwrap().success());
    let pid: libc::pid_t = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let (status, usage) = loop {
        let mut status = 0;
        // SAFETY: rusage is plain data, filled in by the kernel.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: waits, without blocking, for the binary (now a child of this process).
        let done = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        assert!(done >= 0, "wait4: {}", std::io::Error::last_os_error());
        if done == pid {
            break (status, usage);
        }
        if started.elapsed() > limit {
            // SAFETY: our own child, not yet reaped.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("{args:?} still runs after {limit:?}: it hangs");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let time = started.elapsed();
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    let out = Output {
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
        code,
    };
    assert!(!out.stderr.contains("panicked"), "panic: {out:#?}");
    Measured {
        out,
        // Linux reports kilobytes.
        peak_mb: usage.ru_maxrss as u64 / 1024,
        time,
    }
}

/// The arguments that run `command` on `file`, writing (if at all) into `out-<tag>`.
fn args_for<'a>(command: &'a str, file: &'a str, out: &'a str) -> Vec<&'a str> {
    let mut a = vec![command, "--as-of", AS_OF];
    match command {
        "split" => a.extend(["--out", out]),
        "fix" => a.extend(["-o", out]),
        "push" => a.extend(["--dir", ".", "--dry-run", "--ledger", "ledger.sqlite"]),
        _ => {}
    }
    a.push(file);
    a
}

/// The four commands that read inputs.
const COMMANDS: [&str; 4] = ["validate", "split", "fix", "push"];

/// One line of the record kept for docs/reliability.md (shown with `--nocapture`).
fn record(input: &str, command: &str, m: &Measured, what: &str) {
    eprintln!(
        "| {input} | {command} | {} | {what} | {} MB | {:.2} s |",
        m.out.code,
        m.peak_mb,
        m.time.as_secs_f64()
    );
}

/// The diagnostic codes in a text report, in order of first appearance.
fn codes(stdout: &str) -> Vec<String> {
    let mut seen: Vec<String> = vec![];
    for l in stdout.lines() {
        let found = ["error[", "warning[", "info["]
            .iter()
            .find_map(|p| l.find(p).map(|i| &l[i + p.len()..]));
        if let Some(rest) = found.and_then(|r| r.split(']').next())
            && !seen.iter().any(|c| c == rest)
        {
            seen.push(rest.to_string());
        }
    }
    seen
}

#[test]
fn a_million_columns_finish_in_bounded_memory_and_time() {
    let env = TestEnv::new();
    let header: Vec<String> = (0..1_000_000).map(|i| format!("C{i}")).collect();
    env.write("wide-header.csv", format!("{}\n", header.join(",")));
    drop(header);
    let fields = vec!["x"; 1_000_000].join(",");
    env.write(
        "wide-row.csv",
        format!("CampaignId,ActionTrackerId,EventDate,OrderId,ClickId,Amount\n{fields}\n"),
    );
    let cases = [
        ("wide-header.csv", "unknown-column"),
        ("wide-row.csv", "wrong-field-count"),
    ];
    for (file, code) in cases {
        for command in COMMANDS {
            let out = format!("out-{command}-{file}");
            let m = measured(
                &env,
                &args_for(command, file, &out),
                Duration::from_secs(300),
            );
            record(file, command, &m, code);
            let text = &m.out.stdout;
            m.out.assert_code(1);
            assert!(codes(text).iter().any(|c| c == code), "{file} {command}");
            // About 8 MB of input: what the reader and the header plan hold, never more.
            assert!(m.peak_mb < 400, "{file} {command}: {} MB", m.peak_mb);
            assert!(m.time < Duration::from_secs(240), "{file} {command}");
        }
    }
    // The header names nothing impact.com knows: no part is written.
    assert!(
        !env.path()
            .join("out-split-wide-header.csv")
            .join("2026-06-30_wide-header.csv")
            .exists()
    );
}

const HEADER: &str = "CampaignId,ActionTrackerId,EventDate,OrderId,ClickId,Amount";

fn row(oid: &str) -> String {
    format!("18543,27015,2026-06-20T12:00:00Z,{oid},c1,1.00")
}

/// A degenerate file and what each command must make of it.
struct Case {
    name: &'static str,
    bytes: Vec<u8>,
    /// `validate`: exit code and the diagnostic codes, in order.
    validate: (i32, &'static [&'static str]),
    /// `split`: exit code and whether a part is written.
    split: (i32, bool),
    /// `fix`: exit code and a piece of what it says (stdout when it fixed, stderr if not).
    fix: (i32, &'static str),
}

fn degenerate_cases() -> Vec<Case> {
    const MB: usize = 1_000_000;
    let text = format!("{HEADER}\r\n{}\r\n", row("ORD-1"));
    let mut bad_utf8 = format!("{HEADER}\n{}\n", row("ORD-1")).into_bytes();
    bad_utf8.extend_from_slice(row("ORD-\u{ff}2").as_bytes());
    // Not a character: a lone continuation byte and an invalid lead byte.
    let at = bad_utf8.len() - 12;
    bad_utf8.splice(at..at + 2, [0x80, 0xFE]);
    bad_utf8.extend_from_slice(format!("\n{}\n", row("ORD-3")).as_bytes());
    vec![
        Case {
            // An even number of quotes: one quoted header cell of quote characters.
            name: "quotes.csv",
            bytes: vec![b'"'; 5 * MB],
            validate: (1, &["no-rows", "missing-column", "unknown-column"]),
            split: (1, false),
            fix: (1, "fixed quotes.csv"),
        },
        Case {
            // An odd number: the quoted cell never ends.
            name: "quotes-odd.csv",
            bytes: vec![b'"'; 5 * MB + 1],
            validate: (
                1,
                &[
                    "malformed-csv",
                    "no-rows",
                    "missing-column",
                    "unknown-column",
                ],
            ),
            split: (1, false),
            fix: (2, "cannot be read as CSV text"),
        },
        Case {
            name: "commas.csv",
            bytes: vec![b','; 5 * MB],
            // Over a million fields: a header past the limits, which stops reading.
            validate: (1, &["value-too-long"]),
            split: (1, false),
            fix: (2, "cannot be read as CSV text"),
        },
        Case {
            name: "newlines.csv",
            bytes: vec![b'\n'; MB],
            validate: (1, &["no-rows", "blank-row"]),
            split: (1, false),
            fix: (2, "holds only empty rows (1000000 rows)"),
        },
        Case {
            name: "crs.csv",
            bytes: vec![b'\r'; MB],
            validate: (1, &["no-rows", "blank-row"]),
            split: (1, false),
            fix: (2, "holds only empty rows (1000000 rows)"),
        },
        Case {
            name: "nuls.csv",
            bytes: vec![0; MB],
            validate: (1, &["invalid-encoding"]),
            split: (1, false),
            fix: (2, "cannot be read as CSV text"),
        },
        Case {
            name: "bom-only.csv",
            bytes: b"\xEF\xBB\xBF".to_vec(),
            validate: (1, &["no-rows", "bom"]),
            split: (1, false),
            fix: (2, "bom-only.csv is empty"),
        },
        Case {
            name: "cr-endings.csv",
            bytes: format!("{HEADER}\r{}\r{}\r", row("ORD-1"), row("ORD-2")).into_bytes(),
            validate: (0, &[]),
            split: (0, true),
            fix: (0, "changed 3 line breaks to CRLF"),
        },
        Case {
            name: "utf16le.csv",
            bytes: text.encode_utf16().flat_map(u16::to_le_bytes).collect(),
            validate: (1, &["invalid-encoding"]),
            split: (1, false),
            fix: (2, "utf16le.csv is UTF-16LE; fix reads UTF-8 only"),
        },
        Case {
            name: "utf16be.csv",
            bytes: text.encode_utf16().flat_map(u16::to_be_bytes).collect(),
            validate: (1, &["invalid-encoding"]),
            split: (1, false),
            fix: (2, "utf16be.csv is UTF-16BE; fix reads UTF-8 only"),
        },
        Case {
            name: "bad-utf8.csv",
            bytes: bad_utf8,
            validate: (1, &["invalid-encoding"]),
            // The bad row is set aside; the others go.
            split: (1, true),
            fix: (1, "fixed bad-utf8.csv"),
        },
    ]
}

#[test]
fn degenerate_files_get_a_diagnostic_from_every_command() {
    let env = TestEnv::new();
    let limit = Duration::from_secs(120);
    for case in degenerate_cases() {
        let name = case.name;
        env.write(name, &case.bytes);
        let cap = 64 + 12 * case.bytes.len() as u64 / 1_000_000;

        let v = measured(&env, &args_for("validate", name, ""), limit);
        let mut got = codes(&v.out.stdout);
        record(name, "validate", &v, &got.join(" "));
        got.sort();
        let mut want: Vec<String> = case.validate.1.iter().map(|s| s.to_string()).collect();
        want.sort();
        assert_eq!(
            (v.out.code, got),
            (case.validate.0, want),
            "{name}: {:#?}",
            v.out
        );

        let out = format!("out-{name}");
        let s = measured(&env, &args_for("split", name, &out), limit);
        let part = env.path().join(&out).join(format!("2026-06-30_{name}"));
        record(
            name,
            "split",
            &s,
            if part.exists() {
                "part written"
            } else {
                "nothing written"
            },
        );
        assert_eq!(
            (s.out.code, part.exists()),
            case.split,
            "{name}: {:#?}",
            s.out
        );
        if !case.split.1 {
            assert!(
                s.out.stdout.contains(&format!("{name}: nothing written")),
                "{name}"
            );
        }

        let fixed = format!("fixed-{name}");
        let f = measured(&env, &args_for("fix", name, &fixed), limit);
        let said = if f.out.code == 2 {
            &f.out.stderr
        } else {
            &f.out.stdout
        };
        record(name, "fix", &f, said.lines().next().unwrap_or(""));
        assert_eq!(f.out.code, case.fix.0, "{name}: {:#?}", f.out);
        assert!(said.contains(case.fix.1), "{name}: {said}");
        // Refused: nothing written, not even a temporary file.
        if f.out.code == 2 {
            assert!(!env.path().join(&fixed).exists(), "{name}");
        }

        let p = measured(&env, &args_for("push", name, ""), limit);
        record(name, "push", &p, "");
        assert_eq!(p.out.code, case.split.0, "{name}: {:#?}", p.out);

        for m in [&v, &s, &f, &p] {
            assert!(m.peak_mb < cap, "{name}: {} MB over {cap} MB", m.peak_mb);
        }
    }
    let left: Vec<_> = std::fs::read_dir(env.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(left.is_empty(), "temporary files left: {left:?}");
}

#[test]
fn unreadable_inputs_are_exit_2_with_the_reason() {
    let env = TestEnv::new();
    std::fs::create_dir(env.path().join("folder.csv")).unwrap();
    // Opens, then every read fails with EIO (address 0 is never mapped): a file that cannot be
    // read even by root.
    let eio = "/proc/self/mem";
    let probe = std::fs::read(eio).unwrap_err();
    assert_eq!(probe.raw_os_error(), Some(libc::EIO), "{probe}");
    let cases = [
        ("folder.csv", "it is a directory"),
        ("missing.csv", "No such file or directory"),
        (eio, "Input/output error"),
    ];
    for (file, reason) in cases {
        for command in COMMANDS {
            let out = format!("out-{command}");
            let m = measured(
                &env,
                &args_for(command, file, &out),
                Duration::from_secs(60),
            );
            record(file, command, &m, reason);
            m.out.assert_code(2);
            let first = m.out.stderr.lines().next().unwrap_or("");
            assert!(
                first.starts_with("convsubmit: error: cannot "),
                "{file} {command}: {}",
                m.out.stderr
            );
            assert!(
                m.out.stderr.contains(file) && m.out.stderr.contains(reason),
                "{file} {command}: {}",
                m.out.stderr
            );
        }
    }
    assert!(!env.path().join("out-split").join("2026-06-30_mem").exists());
    assert!(!env.path().join("out-fix").exists());
}

pub fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid C string.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

#[test]
fn a_fifo_is_read_once_and_never_hangs() {
    let env = TestEnv::new();
    let good = format!("{HEADER}\n{}\n{}\n", row("ORD-1"), row("ORD-2"));
    for (content, code, fix_code) in [(good.as_str(), 0, 0), ("", 1, 2)] {
        for command in COMMANDS {
            let fifo = env.path().join("pipe.csv");
            let _ = std::fs::remove_file(&fifo);
            mkfifo(&fifo);
            // The writer comes late, then closes: the command waits for it, reads to the end.
            let data = content.to_string();
            let writer = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(300));
                std::fs::write(&fifo, data).unwrap();
            });
            let out = format!("out-{command}");
            let m = measured(
                &env,
                &args_for(command, "pipe.csv", &out),
                Duration::from_secs(60),
            );
            if !writer.is_finished() {
                // The command did not read the FIFO: free the writer, then fail below.
                drop(std::fs::File::open(env.path().join("pipe.csv")));
            }
            writer.join().unwrap();
            record(
                "FIFO",
                command,
                &m,
                if content.is_empty() {
                    "empty"
                } else {
                    "2 rows"
                },
            );
            let want = if command == "fix" { fix_code } else { code };
            m.out.assert_code(want);
            if content.is_empty() && command != "fix" {
                assert_eq!(codes(&m.out.stdout), ["no-rows"], "{command}");
            }
        }
    }
}

#[test]
fn a_full_standard_output_names_it_and_exits_2() {
    let env = TestEnv::new();
    env.write("in.csv", format!("{HEADER}\n{}\n", row("ORD-1")));
    std::fs::create_dir(env.path().join("dest")).unwrap();
    let runs: [&[&str]; 9] = [
        &["validate", "in.csv"],
        &["validate", "--format", "json", "in.csv"],
        &["split", "--out", "out", "in.csv"],
        &["fix", "-o", "fixed.csv", "in.csv"],
        &["push", "--dir", "dest", "--dry-run", "in.csv"],
        &["history", "--ledger", "none.sqlite"],
        &["templates", "list"],
        &["templates", "show", "order-level"],
        &["doctor", "--dir", "dest"],
    ];
    for args in runs {
        let full = std::fs::File::options()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let out = crate::util::finish({
            let mut c = env.command(args);
            c.stdout(full);
            c
        });
        out.assert_code(2);
        assert_eq!(
            out.stderr.lines().next(),
            Some(
                "convsubmit: error: cannot write to standard output: No space left on device (os error 28)"
            ),
            "{args:?}: {out:#?}"
        );
    }
}

#[test]
fn fix_never_replaces_a_device_a_pipe_or_a_folder() {
    let env = TestEnv::new();
    env.write("in.csv", format!("{HEADER}\n{}\n", row("ORD-1")));
    std::os::unix::fs::symlink("/dev/full", env.path().join("device.csv")).unwrap();
    mkfifo(&env.path().join("pipe.csv"));
    std::fs::create_dir(env.path().join("folder.csv")).unwrap();
    for (out, what) in [
        ("device.csv", "not a regular file"),
        ("pipe.csv", "not a regular file"),
        ("folder.csv", "a directory"),
    ] {
        let r = env.run(&["fix", "-o", out, "in.csv"]);
        r.assert_code(2);
        assert!(
            r.stderr
                .contains(&format!("cannot write {out}: it is {what}")),
            "{}",
            r.stderr
        );
    }
    let kind = |n: &str| {
        std::fs::symlink_metadata(env.path().join(n))
            .unwrap()
            .file_type()
    };
    use std::os::unix::fs::FileTypeExt;
    assert!(kind("device.csv").is_symlink());
    assert!(kind("pipe.csv").is_fifo());
    assert!(kind("folder.csv").is_dir());
}
