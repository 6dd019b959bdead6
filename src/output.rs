//! Where output goes: standard output whose write errors say what could not be written (so
//! that a full disk behind `>` reads "cannot write to standard output: No space left on
//! device") and whose closing by the reader (`| head`) only ends the output, never the run;
//! and temporary names for files written whole or not at all.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// A hidden temporary name beside `path` (same folder, so that renaming it to `path` is
/// atomic), marked with `what` and the process id.
pub fn beside(path: &Path, what: &str) -> PathBuf {
    let name = path
        .file_name()
        .map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
    path.with_file_name(format!(".{name}.{what}-{}.tmp", std::process::id()))
}

/// Creates the temporary file `path` afresh: whatever is there under that name (a file a
/// killed run left, or a symbolic link someone planted to make this run write elsewhere) is
/// removed first, never followed, and the file is created only if the name is then free.
pub fn create_fresh(path: &Path) -> io::Result<std::fs::File> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if !m.is_dir() => std::fs::remove_file(path)?,
        _ => {}
    }
    std::fs::File::options()
        .write(true)
        .create_new(true)
        .open(path)
}

/// Locked standard output; errors name it. Once its reader has gone (a closed pipe, as
/// after `| head -1`), what is written is dropped: the run goes on to its verdict, and its
/// exit code is the one it would have had with the whole output read.
pub struct Stdout(io::StdoutLock<'static>);

/// Set when the reader of standard output has closed it: for the whole process, since
/// every writer shares the one descriptor.
static CLOSED: AtomicBool = AtomicBool::new(false);

/// Standard output, locked.
pub fn stdout() -> Stdout {
    Stdout(io::stdout().lock())
}

/// True once standard output was found closed by its reader.
pub fn stdout_closed() -> bool {
    CLOSED.load(Ordering::Relaxed)
}

/// What a write that failed with `e` returns: success when the reader has gone (noted, so
/// that nothing more is tried), else the error, naming standard output.
fn closed_or_named<T>(e: io::Error, done: T) -> io::Result<T> {
    if e.kind() == io::ErrorKind::BrokenPipe {
        CLOSED.store(true, Ordering::Relaxed);
        return Ok(done);
    }
    // The kind stays: `write_all` retries `Interrupted`.
    Err(io::Error::new(
        e.kind(),
        format!("cannot write to standard output: {e}"),
    ))
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if stdout_closed() {
            return Ok(buf.len());
        }
        self.0.write(buf).or_else(|e| closed_or_named(e, buf.len()))
    }

    fn flush(&mut self) -> io::Result<()> {
        if stdout_closed() {
            return Ok(());
        }
        self.0.flush().or_else(|e| closed_or_named(e, ()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_file_never_writes_through_what_was_there() {
        let dir = std::env::temp_dir().join(format!("convsubmit-fresh-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let victim = dir.join("victim");
        std::fs::write(&victim, "precious").unwrap();
        let tmp = dir.join(".part.tmp");
        std::os::unix::fs::symlink(&victim, &tmp).unwrap();
        create_fresh(&tmp).unwrap().write_all(b"part").unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        assert!(std::fs::symlink_metadata(&tmp).unwrap().is_file());
        // A stale file of a killed run is replaced too.
        create_fresh(&tmp).unwrap().write_all(b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&tmp).unwrap(), "new");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
