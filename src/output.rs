//! Where output goes: standard output whose write errors say what could not be written (so
//! that a full disk behind `>` reads "cannot write to standard output: No space left on
//! device"), and temporary names for files written whole or not at all.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// A hidden temporary name beside `path` (same folder, so that renaming it to `path` is
/// atomic), marked with `what` and the process id.
pub fn beside(path: &Path, what: &str) -> PathBuf {
    let name = path
        .file_name()
        .map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
    path.with_file_name(format!(".{name}.{what}-{}.tmp", std::process::id()))
}

/// Locked standard output; errors name it.
pub struct Stdout(io::StdoutLock<'static>);

/// Standard output, locked.
pub fn stdout() -> Stdout {
    Stdout(io::stdout().lock())
}

fn named(e: io::Error) -> io::Error {
    // The kind stays: a closed pipe must still end quietly, and `write_all` retries
    // `Interrupted`.
    io::Error::new(e.kind(), format!("cannot write to standard output: {e}"))
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf).map_err(named)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush().map_err(named)
    }
}
