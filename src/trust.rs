//! Which files convsubmit takes orders and secrets from. Like OpenSSH's StrictModes, a config
//! file or a file holding a secret (or the keys and certificates that decide whom a secret is
//! sent to) is used only when nobody but the user running convsubmit, or root, could have
//! written it: the file and every folder above it up to `/` must belong to that user or root,
//! and neither the group nor others may write them (a folder may, with the sticky bit, like
//! `/tmp`). A config file others can change chooses the commands convsubmit runs and where
//! the secrets go. Anything else is refused (exit 2) with the `chmod`/`chown` that fixes it.
//!
//! Reads are bounded too: only regular files, at most [`MAX_FILE_BYTES`], so a path that
//! leads to `/dev/zero`, a FIFO or a huge file is an error at once.

use anyhow::{Context, Result, anyhow, bail};
use std::fs::Metadata;
use std::path::{Path, PathBuf};

/// The largest config or secret file read (a config is a few hundred bytes, a key a few KiB).
pub const MAX_FILE_BYTES: u64 = 1 << 20;

/// Why a file or folder cannot be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// It belongs to this user, neither the one running convsubmit nor root.
    Owner(u32),
    /// The group and/or others can write it (a folder: and it has no sticky bit).
    Writable {
        /// The group can write it.
        group: bool,
        /// Every other user can write it.
        others: bool,
    },
}

/// The rule on the facts alone: what is wrong with a file or folder owned by `owner` with
/// permission bits `mode`, for the user `me`. Empty when it can be trusted.
pub fn judge(owner: u32, mode: u32, me: u32, is_dir: bool) -> Vec<Problem> {
    let mut problems = vec![];
    if owner != me && owner != 0 {
        problems.push(Problem::Owner(owner));
    }
    // In a sticky folder only a file's owner may remove or rename it (`/tmp`).
    let sticky = is_dir && mode & 0o1000 != 0;
    let (group, others) = (mode & 0o020 != 0, mode & 0o002 != 0);
    if (group || others) && !sticky {
        problems.push(Problem::Writable { group, others });
    }
    problems
}

/// Checks that `path` is a regular file of at most [`MAX_FILE_BYTES`] that nobody else could
/// have written (see the module). `what` names it for messages, e.g. `the config file`.
pub fn check(path: &Path, what: &str) -> Result<Metadata> {
    let meta = std::fs::metadata(path)
        .with_context(|| format!("cannot read {what} {}", path.display()))?;
    if !meta.is_file() {
        bail!(
            "{what} {} is not a regular file but {}: name a file",
            path.display(),
            kind(&meta)
        );
    }
    if meta.len() > MAX_FILE_BYTES {
        bail!(
            "{what} {} holds {} bytes, more than the {} a config or secret file may hold",
            path.display(),
            meta.len(),
            MAX_FILE_BYTES
        );
    }
    let fixes = unix::problems(path, &meta)?;
    if !fixes.is_empty() {
        bail!(
            "refusing {what} {}: someone else could have changed it: {}",
            path.display(),
            fixes.join("; ")
        );
    }
    Ok(meta)
}

/// [`check`]s `path`, then reads it as text, at most [`MAX_FILE_BYTES`] (it may grow meanwhile).
pub fn read(path: &Path, what: &str) -> Result<String> {
    let bytes = read_bytes(path, what)?;
    String::from_utf8(bytes).map_err(|_| anyhow!("{what} {} is not UTF-8 text", path.display()))
}

/// [`check`]s `path`, then reads it, at most [`MAX_FILE_BYTES`] (a binary key file).
pub fn read_bytes(path: &Path, what: &str) -> Result<Vec<u8>> {
    use crate::input::{SmallFileError, read_small_as};
    let checked = check(path, what)?;
    match read_small_as(path, MAX_FILE_BYTES, &checked) {
        Ok(Some(bytes)) => Ok(bytes),
        Ok(None) | Err(SmallFileError::NotRegular | SmallFileError::Changed) => {
            bail!("{what} {} changed while it was read", path.display())
        }
        Err(SmallFileError::Io(e)) => {
            Err(e).with_context(|| format!("cannot read {what} {}", path.display()))
        }
        Err(SmallFileError::TooLarge) => bail!(
            "{what} {} holds more than the {MAX_FILE_BYTES} bytes a config or secret file may hold",
            path.display()
        ),
    }
}

fn kind(meta: &Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = meta.file_type();
        if t.is_char_device() || t.is_block_device() {
            return "a device";
        }
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if meta.is_dir() {
        "a folder"
    } else {
        "not a file"
    }
}

pub use crate::escape::shell_word;

#[cfg(unix)]
mod unix {
    use super::{Metadata, Path, PathBuf, Problem, Result, judge, shell_word};
    use std::collections::HashSet;
    use std::os::unix::fs::MetadataExt;

    /// The user the run's file access is checked as.
    fn current_uid() -> u32 {
        unsafe extern "C" {
            // POSIX: always succeeds, no arguments.
            safe fn geteuid() -> u32;
        }
        geteuid()
    }

    /// The name `chown` takes for `uid`, from /etc/passwd (the number when not listed).
    fn user_name(uid: u32) -> String {
        let passwd = std::fs::File::open("/etc/passwd").and_then(|f| {
            let mut text = String::new();
            std::io::Read::read_to_string(
                &mut std::io::Read::take(f, super::MAX_FILE_BYTES),
                &mut text,
            )?;
            Ok(text)
        });
        passwd
            .ok()
            .and_then(|text| {
                text.lines().find_map(|line| {
                    let mut fields = line.split(':');
                    let name = fields.next()?;
                    let id = fields.nth(1)?.parse::<u32>().ok()?;
                    (id == uid && !name.is_empty()).then(|| name.to_string())
                })
            })
            .unwrap_or_else(|| uid.to_string())
    }

    /// The fixes for the file `path` (its metadata `meta`) and every folder above it, both
    /// as written and with symbolic links resolved. Empty when all can be trusted.
    pub fn problems(path: &Path, meta: &Metadata) -> Result<Vec<String>> {
        let me = current_uid();
        let own = judge(meta.uid(), meta.mode(), me, false);
        let mut fixes = describe(&own, "it", path, me, meta);
        let mut seen = HashSet::new();
        for dir in folders(path) {
            let Ok(m) = std::fs::metadata(&dir) else {
                continue;
            };
            if !seen.insert((m.dev(), m.ino())) {
                continue;
            }
            let problems = judge(m.uid(), m.mode(), me, true);
            let subject = format!("the folder {} on its path", dir.display());
            fixes.extend(describe(&problems, &subject, &dir, me, &m));
        }
        Ok(fixes)
    }

    /// Every folder above `path` as written (its own folder first), then above the file it
    /// leads to. Whoever can write any of them can replace the file or a link on the way.
    fn folders(path: &Path) -> Vec<PathBuf> {
        let mut out = vec![];
        if let Ok(abs) = std::path::absolute(path) {
            out.extend(abs.ancestors().skip(1).map(Path::to_path_buf));
        }
        if let Ok(real) = std::fs::canonicalize(path) {
            out.extend(real.ancestors().skip(1).map(Path::to_path_buf));
        }
        out.retain(|p| !p.as_os_str().is_empty());
        out
    }

    /// One sentence with its fix per problem of `path`, named `subject`.
    fn describe(
        problems: &[Problem],
        subject: &str,
        path: &Path,
        me: u32,
        meta: &Metadata,
    ) -> Vec<String> {
        let word = shell_word(path);
        let me_name = user_name(me);
        problems
            .iter()
            .map(|p| match *p {
                Problem::Owner(owner) => {
                    let not = match me {
                        0 => "not to root, who runs convsubmit".to_string(),
                        _ => format!("neither to {me_name}, who runs convsubmit, nor to root"),
                    };
                    format!(
                        "{subject} belongs to {}, {not}: run `chown {me_name} {word}`",
                        user_name(owner)
                    )
                }
                Problem::Writable { group, others } => {
                    let who = match (group, others) {
                        (true, true) => "the group and other users",
                        (true, false) => "the group",
                        _ => "other users",
                    };
                    let sticky = if meta.is_dir() {
                        " and it has no sticky bit"
                    } else {
                        ""
                    };
                    format!(
                        "{who} can write {subject} (mode {:o}){sticky}: run `chmod go-w {word}`",
                        meta.mode() & 0o7777
                    )
                }
            })
            .collect()
    }
}

#[cfg(not(unix))]
mod unix {
    use super::{Metadata, Path, Result};

    /// Permissions are not Unix modes here: nothing to check.
    pub fn problems(_path: &Path, _meta: &Metadata) -> Result<Vec<String>> {
        Ok(vec![])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: u32 = 1000;
    const OTHER: u32 = 65534;

    #[test]
    fn owner_must_be_the_user_or_root() {
        for is_dir in [false, true] {
            assert_eq!(judge(ME, 0o600, ME, is_dir), vec![]);
            assert_eq!(judge(0, 0o644, ME, is_dir), vec![]);
            assert_eq!(judge(0, 0o755, 0, is_dir), vec![]);
            assert_eq!(judge(OTHER, 0o600, ME, is_dir), vec![Problem::Owner(OTHER)]);
            // Root is trusted as an owner, but root running it trusts only root and itself.
            assert_eq!(judge(ME, 0o600, 0, is_dir), vec![Problem::Owner(ME)]);
        }
    }

    #[test]
    fn files_the_group_or_others_can_write_are_refused() {
        let w = |group, others| vec![Problem::Writable { group, others }];
        assert_eq!(judge(ME, 0o620, ME, false), w(true, false));
        assert_eq!(judge(ME, 0o602, ME, false), w(false, true));
        assert_eq!(judge(ME, 0o666, ME, false), w(true, true));
        assert_eq!(judge(0, 0o777, ME, false), w(true, true));
        // The sticky bit means nothing on a file.
        assert_eq!(judge(ME, 0o1666, ME, false), w(true, true));
        // Reading is not writing (the readable-secret warnings are separate).
        assert_eq!(judge(ME, 0o644, ME, false), vec![]);
        assert_eq!(judge(ME, 0o755, ME, false), vec![]);
        // Only the owner's own write bit, or none.
        assert_eq!(judge(ME, 0o400, ME, false), vec![]);
        assert_eq!(judge(ME, 0o000, ME, false), vec![]);
    }

    #[test]
    fn folders_others_can_write_need_the_sticky_bit() {
        let w = |group, others| vec![Problem::Writable { group, others }];
        assert_eq!(judge(ME, 0o755, ME, true), vec![]);
        assert_eq!(judge(ME, 0o775, ME, true), w(true, false));
        assert_eq!(judge(ME, 0o757, ME, true), w(false, true));
        assert_eq!(judge(ME, 0o777, ME, true), w(true, true));
        // `/tmp`: root's, everyone writes, sticky.
        assert_eq!(judge(0, 0o1777, ME, true), vec![]);
        assert_eq!(judge(ME, 0o1770, ME, true), vec![]);
        // Sticky does not make another user's folder trusted.
        assert_eq!(judge(OTHER, 0o1777, ME, true), vec![Problem::Owner(OTHER)]);
        // Both wrong: both reported, so that one message gives every fix.
        assert_eq!(
            judge(OTHER, 0o777, ME, true),
            vec![
                Problem::Owner(OTHER),
                Problem::Writable {
                    group: true,
                    others: true
                }
            ]
        );
    }

    #[test]
    fn shell_words() {
        assert_eq!(
            shell_word(Path::new("/etc/acme/c.toml")),
            "/etc/acme/c.toml"
        );
        assert_eq!(shell_word(Path::new("my dir/c.toml")), "'my dir/c.toml'");
        assert_eq!(shell_word(Path::new("it's")), r"'it'\''s'");
    }

    #[cfg(unix)]
    #[test]
    fn real_files_are_checked_with_their_folders() {
        use std::os::unix::fs::PermissionsExt;
        let set = |p: &Path, mode| {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap()
        };
        let dir = std::env::temp_dir().join(format!("convsubmit-trust-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        set(&dir, 0o755);
        set(&dir.join("sub"), 0o755);
        let file = dir.join("sub").join("c.toml");
        std::fs::write(&file, "x = 1\n").unwrap();
        set(&file, 0o644);
        assert_eq!(read(&file, "the config file").unwrap(), "x = 1\n");

        set(&file, 0o664);
        let e = read(&file, "the config file").unwrap_err().to_string();
        assert!(e.contains("the group can write it (mode 664)"), "{e}");
        assert!(e.contains(&format!("chmod go-w {}", file.display())), "{e}");
        set(&file, 0o644);

        set(&dir.join("sub"), 0o777);
        let e = check(&file, "the config file").unwrap_err().to_string();
        assert!(e.contains("no sticky bit"), "{e}");
        assert!(
            e.contains(&format!("chmod go-w {}", dir.join("sub").display())),
            "{e}"
        );
        set(&dir.join("sub"), 0o1777);
        check(&file, "the config file").unwrap();

        // A link in a trusted folder to a file in an untrusted one: the target's folder counts.
        set(&dir.join("sub"), 0o777);
        let link = dir.join("link.toml");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        assert!(check(&link, "the config file").is_err());
        set(&dir.join("sub"), 0o755);
        check(&link, "the config file").unwrap();

        let zero = dir.join("zero");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        let e = read(&zero, "the secret file").unwrap_err().to_string();
        assert!(e.contains("not a regular file but a device"), "{e}");
        let e = read(&dir, "the secret file").unwrap_err().to_string();
        assert!(e.contains("not a regular file but a folder"), "{e}");

        let big = dir.join("big");
        std::fs::write(&big, vec![b'#'; MAX_FILE_BYTES as usize + 1]).unwrap();
        let e = read(&big, "the config file").unwrap_err().to_string();
        assert!(e.contains("more than the 1048576"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
