//! Work folders: where a run writes files before they are moved into place (`split`), or
//! keeps its copies of the parts (`push`). Each is private to its user, named for its run
//! alone, held locked while the run lives, and removed on drop. A run killed before it could
//! remove its own (SIGKILL, a power cut) leaves it behind, full of customer data: the next
//! run in the same folder removes it, with care (see [`remove_abandoned`]).

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// How the work folders of one kind are named: `<prefix><pid>-<rest><suffix>`, where `pid`
/// is the run's process id and `rest` makes the name unique (a counter; older versions put
/// the input's stem there).
#[derive(Debug, Clone, Copy)]
pub struct Pattern {
    /// What the name starts with.
    pub prefix: &'static str,
    /// What it ends with.
    pub suffix: &'static str,
}

impl Pattern {
    /// The name for `pid` and `n`.
    fn name(&self, pid: u32, n: u64) -> String {
        format!("{}{pid}-{n}{}", self.prefix, self.suffix)
    }

    /// The pid in `name`, when `name` is one of these folders' names.
    pub fn pid(&self, name: &str) -> Option<u32> {
        let middle = name.strip_prefix(self.prefix)?.strip_suffix(self.suffix)?;
        let (pid, rest) = middle.split_once('-')?;
        if rest.is_empty() || pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        pid.parse().ok()
    }
}

/// A work folder, removed when dropped.
#[derive(Debug)]
pub struct WorkDir {
    path: PathBuf,
    /// Held for the run's life: tells a run in another pid namespace (a container sharing
    /// the folder), where this pid means nothing, that the folder is in use.
    _lock: Option<File>,
}

/// Different names for the work folders of one process.
static NEXT: AtomicU64 = AtomicU64::new(0);

impl WorkDir {
    /// A new, empty folder in `parent` (mode 0700: the files hold customer data) under a
    /// name no other run has; then removes the folders there of runs that were killed.
    pub fn create(parent: &Path, pattern: Pattern) -> io::Result<WorkDir> {
        let pid = std::process::id();
        let mut tries = 0;
        let path = loop {
            let path = parent.join(pattern.name(pid, NEXT.fetch_add(1, Ordering::Relaxed)));
            match private_dir(&path) {
                Ok(()) => break path,
                // Another user's with this pid, or one being removed: the next name.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && tries < 1000 => tries += 1,
                Err(e) => return Err(e),
            }
        };
        let lock = File::open(&path).ok().filter(|f| f.try_lock().is_ok());
        let work = WorkDir { path, _lock: lock };
        if let Ok(own) = std::fs::symlink_metadata(&work.path) {
            remove_abandoned(parent, pattern, &own, &work.path);
        }
        Ok(work)
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

fn private_dir(path: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path)
}

/// Removes the work folders in `parent` of runs that no longer exist. Only what is surely
/// such a folder goes:
///
/// - its name matches `pattern` exactly, and is not `own`;
/// - no process has its pid (checked in `/proc`: where there is none, nothing is removed);
/// - it is a real folder, not a symlink (never followed: its target is not ours to remove),
///   owned by the user who owns `own_meta` (this run's own new folder);
/// - no process holds its lock (a live run in another pid namespace does).
pub fn remove_abandoned(parent: &Path, pattern: Pattern, own_meta: &std::fs::Metadata, own: &Path) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(pid) = entry.file_name().to_str().and_then(|n| pattern.pid(n)) else {
            continue;
        };
        if path == own || Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if !meta.file_type().is_dir() || !same_owner(&meta, own_meta) {
            continue;
        }
        // `remove_dir_all` never follows a symlink, even one put here since the check.
        match File::open(&path).map(|f| f.try_lock().map(|()| f)) {
            Ok(Ok(_locked)) => {
                let _ = std::fs::remove_dir_all(&path);
            }
            // Locked: a live run elsewhere. Unreadable: not ours to judge.
            _ => continue,
        }
    }
}

#[cfg(unix)]
fn same_owner(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.uid() == b.uid()
}

#[cfg(not(unix))]
fn same_owner(_: &std::fs::Metadata, _: &std::fs::Metadata) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: Pattern = Pattern {
        prefix: ".convsubmit-",
        suffix: ".tmp",
    };

    #[test]
    fn only_exact_names_are_work_folders() {
        assert_eq!(P.pid(".convsubmit-123-0.tmp"), Some(123));
        // As older versions named them.
        assert_eq!(P.pid(".convsubmit-123-sales.tmp"), Some(123));
        assert_eq!(P.pid(".convsubmit-123-sales-2.tmp"), Some(123));
        for name in [
            ".convsubmit-123.tmp",
            ".convsubmit-123-.tmp",
            ".convsubmit--0.tmp",
            ".convsubmit-12a-0.tmp",
            ".convsubmit-+12-0.tmp",
            ".convsubmit-123-0.tmp~",
            "convsubmit-123-0.tmp",
            ".convsubmit-99999999999-0.tmp",
            ".convsubmit-doctor-probe",
        ] {
            assert_eq!(P.pid(name), None, "{name}");
        }
    }
}
