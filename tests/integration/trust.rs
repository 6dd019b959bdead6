//! Trust (spec §7): a config error never shows a value from the file; a config or secret file
//! someone else could have changed is refused (exit 2) before any command runs, secret is
//! read or connection is made, with the `chmod`/`chown` that fixes it; config and secret
//! files are read only when regular and small. The real binary on real files.

use crate::util::{AS_OF, Output, TestEnv};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// A value no output has any other reason to contain.
const SECRET: &str = "hunter2-Tq5";

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn is_root() -> bool {
    // SAFETY: no arguments, cannot fail.
    unsafe { libc::geteuid() == 0 }
}

#[track_caller]
fn assert_no_secret(what: &str, out: &Output) {
    for (name, text) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        assert!(
            !text.contains(SECRET) && !text.contains("hunter2"),
            "{what}: the value is in {name}: {out:#?}"
        );
    }
}

/// `push --dir out --config c.toml` on a valid file, and `doctor --dir out`.
fn push_and_doctor(env: &TestEnv) -> [Output; 2] {
    env.copy_fixture("item-level-valid.csv");
    std::fs::create_dir_all(env.path().join("out")).unwrap();
    [
        env.run(&[
            "push",
            "--as-of",
            AS_OF,
            "--dir",
            "out",
            "--config",
            "c.toml",
            "item-level-valid.csv",
        ]),
        env.run(&["doctor", "--dir", "out", "--config", "c.toml"]),
    ]
}

#[test]
fn a_config_error_names_the_place_and_the_key_but_never_a_value() {
    // (config, line, key, what is said)
    let cases = [
        (
            format!("[sftp]\nusername = \"acme\"\npassword = \"{SECRET}\"\n"),
            "line 3, column 1",
            "key `sftp.password`",
            "unknown key (expected one of: host, port",
        ),
        (
            format!("[api]\naccount_sid = \"IRx\"\nauth_token = \"{SECRET}\"\n"),
            "line 3, column 1",
            "key `api.auth_token`",
            "unknown key",
        ),
        (
            format!("[email]\nsmtp_password = '{SECRET}'\n"),
            "line 2, column 1",
            "key `email.smtp_password`",
            "unknown key",
        ),
        (
            format!("[sftp]\nport = \"{SECRET}\"\n"),
            "line 2, column 8",
            "key `sftp.port`",
            "wrong type: expected a whole number from 0 to 65535, found a string",
        ),
        (
            format!("[sftp]\npassword_env = \"X\"\npassword = {SECRET}\n"),
            "line 3, column 12",
            "key `sftp.password`",
            "invalid TOML: string values must be quoted",
        ),
        (
            format!("[sftp]\npassword_file = \"{SECRET}\nhost = \"h\"\n"),
            "line 2, column ",
            "key `sftp.password_file`",
            "invalid TOML: invalid basic string",
        ),
        (
            format!("[sftp]\nhost = \"h\"\nhost = \"{SECRET}\"\n"),
            "line 3, column 1",
            "key `sftp.host`",
            "set twice",
        ),
    ];
    for (config, line, key, said) in cases {
        let env = TestEnv::new();
        env.write("c.toml", &config);
        for out in push_and_doctor(&env) {
            let what = format!("{config:?}");
            out.assert_code(2);
            assert_no_secret(&what, &out);
            let want = format!("the config file c.toml is not valid: {line}");
            assert!(out.stderr.contains(&want), "{what}: {out:#?}");
            assert!(
                out.stderr.contains(key) && out.stderr.contains(said),
                "{what}: {out:#?}"
            );
            // The line itself is never shown, as toml's own message does (`3 | password = …`).
            assert!(!out.stderr.contains(" | "), "{what}: {out:#?}");
        }
    }
}

/// A config that runs `password_command`, which leaves `marker` when run.
fn planted_config(env: &TestEnv, name: &str) {
    env.write(
        name,
        "[sftp]\nhost = \"127.0.0.1\"\nport = 9\nusername = \"acme\"\n\
         password_command = \"id > marker; echo pw\"\n",
    );
}

#[track_caller]
fn assert_refused(what: &str, out: &Output, env: &TestEnv, fix: &str) {
    assert_eq!(out.code, 2, "{what}: {out:#?}");
    assert!(
        !env.path().join("marker").exists(),
        "{what}: the password command ran: {out:#?}"
    );
    assert!(out.stderr.contains("refusing"), "{what}: {out:#?}");
    assert!(out.stderr.contains(fix), "{what}: no `{fix}`: {out:#?}");
}

/// `push --sftp` and `doctor --sftp` with `--config CONFIG`: the ways the command would run.
fn sftp_runs(env: &TestEnv, config: &str) -> [Output; 2] {
    env.copy_fixture("item-level-valid.csv");
    let common = ["--sftp", "--config", config, "--max-time", "5"];
    let mut push = vec!["push", "--as-of", AS_OF, "--retries", "0"];
    push.extend_from_slice(&common);
    push.push("item-level-valid.csv");
    let mut doctor = vec!["doctor"];
    doctor.extend_from_slice(&common);
    [env.run(&push), env.run(&doctor)]
}

#[test]
fn a_config_the_group_or_others_can_write_is_refused_before_any_command_runs() {
    // The control: a private config's command does run (so the marker proves something).
    let env = TestEnv::new();
    planted_config(&env, "c.toml");
    set_mode(&env.path().join("c.toml"), 0o644);
    let [push, _] = sftp_runs(&env, "c.toml");
    assert_eq!(push.code, 3, "{push:#?}");
    assert!(env.path().join("marker").exists(), "{push:#?}");

    for mode in [0o666, 0o646, 0o664, 0o620] {
        let env = TestEnv::new();
        planted_config(&env, "c.toml");
        set_mode(&env.path().join("c.toml"), mode);
        for out in sftp_runs(&env, "c.toml") {
            let what = format!("mode {mode:o}");
            assert_refused(&what, &out, &env, "run `chmod go-w c.toml`");
            assert!(out.stderr.contains("the config file c.toml"), "{out:#?}");
        }
    }
}

#[test]
fn the_implicit_config_file_is_checked_too() {
    let env = TestEnv::new();
    planted_config(&env, "convsubmit.toml");
    set_mode(&env.path().join("convsubmit.toml"), 0o666);
    env.copy_fixture("item-level-valid.csv");
    let out = env.run(&["doctor", "--sftp", "--max-time", "5"]);
    assert_refused(
        "./convsubmit.toml",
        &out,
        &env,
        "chmod go-w convsubmit.toml",
    );
}

#[test]
fn a_config_in_a_folder_others_can_write_needs_the_sticky_bit() {
    let env = TestEnv::new();
    std::fs::create_dir(env.path().join("open")).unwrap();
    planted_config(&env, "open/c.toml");
    set_mode(&env.path().join("open"), 0o777);
    let folder = env.path().join("open");
    for out in sftp_runs(&env, "open/c.toml") {
        let fix = format!("run `chmod go-w {}`", folder.display());
        assert_refused("a folder others can write", &out, &env, &fix);
        assert!(out.stderr.contains("no sticky bit"), "{out:#?}");
    }

    // Group-writable without sticky: refused too.
    set_mode(&folder, 0o775);
    let [push, _] = sftp_runs(&env, "open/c.toml");
    assert_refused("a folder the group can write", &push, &env, "chmod go-w");

    // Like /tmp: anyone may write, only owners may remove or rename. Accepted (the
    // command runs, then the connection is refused: exit 3).
    set_mode(&folder, 0o1777);
    let [push, doctor] = sftp_runs(&env, "open/c.toml");
    assert_eq!(push.code, 3, "{push:#?}");
    assert_eq!(doctor.code, 3, "{doctor:#?}");
    assert!(env.path().join("marker").exists());
}

#[test]
fn a_secret_file_others_can_write_is_refused() {
    for (section, key, flag) in [
        (
            "[ftp]\nhost = \"127.0.0.1\"\nport = 9\nusername = \"acme\"\n",
            "password_file",
            "--ftp",
        ),
        (
            "[api]\naccount_sid = \"IRx\"\nbase_url = \"http://127.0.0.1:9\"\n",
            "auth_token_file",
            "--api",
        ),
    ] {
        let env = TestEnv::new();
        env.write("pw.txt", format!("{SECRET}\n"));
        set_mode(&env.path().join("pw.txt"), 0o602);
        env.write("c.toml", format!("{section}{key} = \"pw.txt\"\n"));
        env.copy_fixture("item-level-valid.csv");
        let out = env.run(&[
            "push",
            "--as-of",
            AS_OF,
            flag,
            "--config",
            "c.toml",
            "--retries",
            "0",
            "--max-time",
            "5",
            "item-level-valid.csv",
        ]);
        assert_eq!(out.code, 2, "{key}: {out:#?}");
        assert!(
            out.stderr.contains("refusing the ") && out.stderr.contains(key),
            "{key}: {out:#?}"
        );
        assert!(
            out.stderr.contains("run `chmod go-w pw.txt`"),
            "{key}: {out:#?}"
        );
        assert_no_secret(key, &out);
    }

    // The files that decide whom a secret goes to count too.
    let env = TestEnv::new();
    env.write("known_hosts", "\n");
    set_mode(&env.path().join("known_hosts"), 0o666);
    planted_config(&env, "c.toml");
    let text = env.read("c.toml") + "known_hosts = \"known_hosts\"\n";
    env.write("c.toml", text);
    let [push, _] = sftp_runs(&env, "c.toml");
    assert_refused("known_hosts", &push, &env, "chmod go-w known_hosts");
}

#[test]
fn files_and_folders_of_another_user_are_refused() {
    if !is_root() {
        eprintln!(
            "SKIPPED files_and_folders_of_another_user_are_refused: chown to uid 65534 needs root"
        );
        return;
    }
    let env = TestEnv::new();
    planted_config(&env, "c.toml");
    std::os::unix::fs::chown(env.path().join("c.toml"), Some(65534), None).unwrap();
    for out in sftp_runs(&env, "c.toml") {
        assert_refused(
            "another user's config",
            &out,
            &env,
            "run `chown root c.toml`",
        );
    }

    let env = TestEnv::new();
    std::fs::create_dir(env.path().join("theirs")).unwrap();
    planted_config(&env, "theirs/c.toml");
    let folder = env.path().join("theirs");
    std::os::unix::fs::chown(&folder, Some(65534), None).unwrap();
    set_mode(&folder, 0o755);
    let [push, _] = sftp_runs(&env, "theirs/c.toml");
    let fix = format!("run `chown root {}`", folder.display());
    assert_refused("another user's folder", &push, &env, &fix);

    let env = TestEnv::new();
    env.write("pw.txt", format!("{SECRET}\n"));
    set_mode(&env.path().join("pw.txt"), 0o600);
    std::os::unix::fs::chown(env.path().join("pw.txt"), Some(65534), None).unwrap();
    env.write(
        "c.toml",
        "[ftp]\nhost = \"127.0.0.1\"\nport = 9\nusername = \"acme\"\npassword_file = \"pw.txt\"\n",
    );
    env.copy_fixture("item-level-valid.csv");
    let out = env.run(&["doctor", "--ftp", "--config", "c.toml", "--max-time", "5"]);
    assert_refused(
        "another user's secret file",
        &out,
        &env,
        "run `chown root pw.txt`",
    );
    assert_no_secret("another user's secret file", &out);
}

/// Runs `args` in `env`, killing it after `limit`: reading /dev/zero whole never ends.
fn run_bounded(env: &TestEnv, args: &[&str], limit: Duration) -> (Output, Duration) {
    let started = Instant::now();
    let mut child = env
        .command(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{args:?} still runs after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let out = Output {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        code: out.status.code().unwrap_or(-1),
    };
    (out, started.elapsed())
}

#[test]
fn config_and_secret_files_are_read_only_when_regular_and_small() {
    let limit = Duration::from_secs(20);
    // A secret file that is a link to /dev/zero.
    let env = TestEnv::new();
    std::os::unix::fs::symlink("/dev/zero", env.path().join("pw.txt")).unwrap();
    env.write(
        "c.toml",
        "[ftp]\nhost = \"127.0.0.1\"\nport = 9\nusername = \"acme\"\npassword_file = \"pw.txt\"\n",
    );
    env.copy_fixture("item-level-valid.csv");
    let (out, took) = run_bounded(
        &env,
        &[
            "push",
            "--as-of",
            AS_OF,
            "--ftp",
            "--config",
            "c.toml",
            "item-level-valid.csv",
        ],
        limit,
    );
    assert_eq!(out.code, 2, "{out:#?}");
    assert!(
        out.stderr
            .contains("pw.txt is not a regular file but a device"),
        "{out:#?}"
    );
    assert!(took < Duration::from_secs(10), "{took:?}");

    // The config itself a link to /dev/zero, or a huge file.
    let env = TestEnv::new();
    std::os::unix::fs::symlink("/dev/zero", env.path().join("c.toml")).unwrap();
    let (out, _) = run_bounded(&env, &["doctor", "--dir", ".", "--config", "c.toml"], limit);
    assert_eq!(out.code, 2, "{out:#?}");
    assert!(
        out.stderr.contains("c.toml is not a regular file"),
        "{out:#?}"
    );

    let env = TestEnv::new();
    let comment = "# a comment line\n".repeat(70_000);
    env.write("convsubmit.toml", comment);
    let (out, _) = run_bounded(&env, &["doctor", "--dir", "."], limit);
    assert_eq!(out.code, 2, "{out:#?}");
    assert!(
        out.stderr
            .contains("convsubmit.toml holds 1190000 bytes, more than the 1048576"),
        "{out:#?}"
    );
}

#[test]
fn test_folders_and_private_files_stay_accepted() {
    // The usual setup: a 0755 folder under the temp dir, a 0644 config, a 0600 secret.
    let env = TestEnv::new();
    env.write("pw.txt", "pw\n");
    set_mode(&env.path().join("pw.txt"), 0o600);
    env.write(
        "c.toml",
        "[ftp]\nusername = \"acme\"\npassword_file = \"pw.txt\"\n",
    );
    set_mode(&env.path().join("c.toml"), 0o600);
    let [push, doctor] = push_and_doctor(&env);
    push.assert_code(0);
    doctor.assert_code(0);
    assert!(!push.stderr.contains("warning"), "{push:#?}");
}
