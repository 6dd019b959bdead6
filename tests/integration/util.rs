//! Running the real binary in a throw-away directory, and comparing output with stored files.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The date every run counts event ages from, so results never depend on today.
pub const AS_OF: &str = "2026-06-30";

/// `fixtures/` in the source tree (read only: tests never write there).
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// The bytes of `fixtures/<name>`.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = fixtures_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// What one run of the binary produced.
#[derive(Debug)]
pub struct Output {
    pub stdout: String,
    pub stderr: String,
    /// The exit code (`-1` when the process was killed by a signal).
    pub code: i32,
}

impl Output {
    /// Fails with the whole output unless the exit code is `code`.
    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "unexpected exit code\n{self:#?}");
        self
    }
}

/// Fails unless `out` is a successful re-run that found `n` parts already delivered.
#[track_caller]
pub fn assert_already_delivered(out: &Output, n: usize) {
    out.assert_code(0);
    let want = format!("{n} already delivered");
    assert!(out.stdout.contains(&want), "{out:?}");
}

/// A unique temporary directory, removed on drop. Commands run inside it, with relative file
/// names, so no machine path ever shows up in an output.
pub struct TestEnv {
    dir: PathBuf,
}

impl TestEnv {
    pub fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("convsubmit-it-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TestEnv { dir }
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Writes `bytes` to `name` (relative; parent folders are created). Returns `name`.
    pub fn write<'a>(&self, name: &'a str, bytes: impl AsRef<[u8]>) -> &'a str {
        let path = self.dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, bytes).unwrap();
        name
    }

    /// Copies `fixtures/<name>` to `<name>` here. Returns `name`.
    pub fn copy_fixture<'a>(&self, name: &'a str) -> &'a str {
        self.write(name, fixture(name))
    }

    /// Reads a file written here (e.g. by the binary).
    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(name)).unwrap()
    }

    /// The binary, ready to run here: no colour, no inherited `GITHUB_STEP_SUMMARY`.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_convsubmit"));
        // The user's own config, state and keys are never read: HOME is the test folder.
        cmd.args(args)
            .current_dir(&self.dir)
            .env("NO_COLOR", "1")
            .env("HOME", &self.dir)
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("XDG_STATE_HOME")
            .env_remove("GITHUB_STEP_SUMMARY")
            .stdin(Stdio::null());
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        finish(self.command(args))
    }

    /// Runs with extra environment variables.
    pub fn run_env(&self, args: &[&str], vars: &[(&str, &str)]) -> Output {
        let mut cmd = self.command(args);
        for (k, v) in vars {
            cmd.env(k, v);
        }
        finish(cmd)
    }

    /// Runs with `stdin` as standard input.
    pub fn run_with_stdin(&self, args: &[&str], stdin: &[u8]) -> Output {
        let cmd = self.command(args);
        convert(fed(cmd, stdin).unwrap())
    }

    /// `validate --as-of AS_OF ARGS...`.
    pub fn validate(&self, args: &[&str]) -> Output {
        let mut all = vec!["validate", "--as-of", AS_OF];
        all.extend_from_slice(args);
        self.run(&all)
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs `cmd` with `stdin` as its standard input (fed from a thread), capturing its output.
pub fn fed(mut cmd: Command, stdin: &[u8]) -> std::io::Result<std::process::Output> {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn()?;
    let mut pipe = child.stdin.take().expect("piped");
    let input = stdin.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = pipe.write_all(&input);
    });
    let out = child.wait_with_output();
    let _ = feeder.join();
    out
}

pub fn finish(mut cmd: Command) -> Output {
    convert(cmd.output().unwrap())
}

fn convert(out: std::process::Output) -> Output {
    let output = Output {
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
        code: out.status.code().unwrap_or(-1),
    };
    assert!(
        !output.stderr.contains("panicked"),
        "the binary panicked\n{output:#?}"
    );
    output
}

/// Compares `actual` with `fixtures/expected/<name>`; with `UPDATE_SNAPSHOTS` set, writes it.
#[track_caller]
pub fn assert_snapshot(name: &str, actual: &str) {
    crate::snapshot::assert_snapshot(&format!("expected/{name}"), actual);
}

/// A small deterministic pseudo-random generator (xorshift64*), so fuzz-style inputs are the
/// same on every run.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}
