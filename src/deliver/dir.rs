//! `--dir DIR`: parts written into a local folder (for example one that your own FTP server
//! offers impact.com), each under a temporary name, flushed to disk, then given its final
//! name by a rename that never replaces a file already there (see [`place`]).

use super::{DeliveryError, Holding, PROBE_NAME, Transport, name_taken, temporary_name};
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Delivers into a folder.
pub struct Dir {
    path: PathBuf,
}

impl Dir {
    /// Parts go into `path`, which must exist.
    pub fn new(path: &Path) -> Dir {
        Dir {
            path: path.to_path_buf(),
        }
    }

    fn fail(&self, stage: &'static str, e: &std::io::Error) -> DeliveryError {
        let err = DeliveryError::io(stage, e);
        DeliveryError {
            message: format!("{}: {}", self.path.display(), err.message),
            ..err
        }
    }
}

/// Gives `tmp` the name `dst` unless `dst` exists. On Linux one atomic rename that never
/// replaces (`RENAME_NOREPLACE`), so a run killed at any point leaves either the temporary
/// name or the final one, never both; elsewhere, or on a file system without it, a hard link
/// (then the temporary name is removed), else a rename after a look (which a writer racing
/// this one could still beat).
fn place(tmp: &Path, dst: &Path) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    match rename_noreplace(tmp, dst) {
        Err(e) if matches!(e.raw_os_error(), Some(EINVAL | ENOSYS)) => {}
        other => return other,
    }
    match std::fs::hard_link(tmp, dst) {
        Err(e)
            if e.kind() != std::io::ErrorKind::AlreadyExists && dst.symlink_metadata().is_err() =>
        {
            std::fs::rename(tmp, dst)
        }
        other => other,
    }
}

#[cfg(target_os = "linux")]
const EINVAL: i32 = 22;
#[cfg(target_os = "linux")]
const ENOSYS: i32 = 38;

/// `renameat2(…, RENAME_NOREPLACE)`: fails with `AlreadyExists` when `to` exists.
#[cfg(target_os = "linux")]
fn rename_noreplace(from: &Path, to: &Path) -> std::io::Result<()> {
    use std::ffi::{CString, c_char, c_int, c_uint};
    use std::os::unix::ffi::OsStrExt;
    unsafe extern "C" {
        // glibc 2.28 and later; Linux 3.15 and later (older kernels: ENOSYS).
        fn renameat2(
            olddirfd: c_int,
            oldpath: *const c_char,
            newdirfd: c_int,
            newpath: *const c_char,
            flags: c_uint,
        ) -> c_int;
    }
    const AT_FDCWD: c_int = -100;
    const RENAME_NOREPLACE: c_uint = 1;
    let from = CString::new(from.as_os_str().as_bytes())?;
    let to = CString::new(to.as_os_str().as_bytes())?;
    // SAFETY: both are valid NUL-terminated paths that outlive the call.
    let r = unsafe {
        renameat2(
            AT_FDCWD,
            from.as_ptr(),
            AT_FDCWD,
            to.as_ptr(),
            RENAME_NOREPLACE,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

impl Transport for Dir {
    fn destination(&self) -> String {
        let abs = std::path::absolute(&self.path).unwrap_or_else(|_| self.path.clone());
        format!("dir://{}", abs.display())
    }

    fn connect(&mut self, _timeout: Duration) -> Result<(), DeliveryError> {
        self.check()
    }

    /// The folder must exist: it is never created (a missing mount or a mistyped path would
    /// otherwise receive the parts unnoticed). The same check for `--dry-run` and `doctor`.
    fn check(&self) -> Result<(), DeliveryError> {
        match std::fs::metadata(&self.path) {
            Ok(m) if m.is_dir() => Ok(()),
            Ok(_) => Err(DeliveryError::permanent(
                "open folder",
                format!("{} is not a folder", self.path.display()),
            )),
            Err(e) => Err(self
                .fail("open folder", &e)
                .help(format!(
                    "create the folder (mkdir -p {}) or give --dir an existing one; convsubmit never creates it",
                    crate::escape::shell_word(&self.path)
                ))),
        }
    }

    fn put(
        &mut self,
        local: &Path,
        name: &str,
        progress: &mut dyn FnMut(u64),
    ) -> Result<(), DeliveryError> {
        let tmp = self.path.join(temporary_name(name));
        let result = (|| {
            let mut src = File::open(local)?;
            let mut dst = crate::output::create_fresh(&tmp)?;
            let mut buf = vec![0; 256 * 1024];
            let mut sent = 0;
            loop {
                let n = src.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                dst.write_all(&buf[..n])?;
                sent += n as u64;
                progress(sent);
            }
            dst.sync_all()
        })();
        if let Err(e) = result {
            let _ = std::fs::remove_file(&tmp);
            return Err(self.fail("write", &e));
        }
        let placed = place(&tmp, &self.path.join(name));
        let _ = std::fs::remove_file(&tmp);
        match placed {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(name_taken(name));
            }
            Err(e) => return Err(self.fail("rename", &e)),
            Ok(()) => {}
        }
        // Make the new name itself durable.
        if let Ok(d) = File::open(&self.path) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    fn holds(&mut self, name: &str, bytes: u64, sha256: &str) -> Result<Holding, DeliveryError> {
        let path = self.path.join(name);
        match std::fs::symlink_metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Holding::Absent),
            Err(e) => Err(self.fail("look up", &e)),
            // A folder, a link, a device: not a part, and not to be replaced either.
            Ok(m) if !m.is_file() => Ok(Holding::Other),
            Ok(m) => File::open(&path)
                .and_then(|f| Holding::compare(m.len(), f, bytes, sha256))
                .map_err(|e| self.fail("look up", &e)),
        }
    }

    fn label(&self) -> String {
        format!("dir:{}", self.path.display())
    }

    fn probe(&mut self, step: &mut dyn FnMut(&str)) -> Result<(), DeliveryError> {
        let tmp = self.path.join(temporary_name(PROBE_NAME));
        let done = self.path.join(PROBE_NAME);
        std::fs::write(&tmp, b"convsubmit doctor\n").map_err(|e| self.fail("write", &e))?;
        step("wrote a probe file");
        std::fs::rename(&tmp, &done).map_err(|e| self.fail("rename", &e))?;
        step("renamed it");
        std::fs::remove_file(&done).map_err(|e| self.fail("remove", &e))?;
        step("removed it");
        Ok(())
    }

    fn disconnect(&mut self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_placed_part_leaves_no_temporary_name_and_never_replaces_a_file() {
        let dir = std::env::temp_dir().join(format!("convsubmit-place-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (tmp, dst) = (dir.join(".a.csv.uploading"), dir.join("a.csv"));
        std::fs::write(&tmp, "new").unwrap();
        place(&tmp, &dst).unwrap();
        assert!(
            !tmp.exists(),
            "the temporary name is gone with the same step"
        );
        assert_eq!(std::fs::read_to_string(&dst).unwrap(), "new");
        std::fs::write(&tmp, "other").unwrap();
        let e = place(&tmp, &dst).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read_to_string(&dst).unwrap(), "new");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
