//! Reading input: files or stdin, byte-order marks and UTF-16/32 detection, and the
//! streaming record reader.

mod encoding;
mod reader;

pub use encoding::{Sniffed, sniff};
pub use reader::{
    Cut, Ending, MAX_FIELDS, MAX_RECORD_BYTES, Malformed, Record, RecordReader, Spot,
    count_line_breaks,
};

use anyhow::{Context, Result};
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// The name used for standard input in reports.
pub const STDIN_NAME: &str = "<stdin>";

/// An opened input and the name it is reported under.
pub struct Input {
    /// The path as given, or [`STDIN_NAME`].
    pub name: String,
    /// True for standard input.
    pub is_stdin: bool,
    /// Size in bytes when known (for progress).
    pub size: Option<u64>,
    /// The byte source.
    pub source: Box<dyn Read + Send>,
    /// What the file was when opened (`None` for a stream), to tell whether it changed
    /// while it was read.
    pub identity: Option<Identity>,
}

/// Names that stand for an open descriptor, not for a file with a name of its own: bash's
/// `<(…)` is `/dev/fd/63`.
const DESCRIPTOR_NAMES: &[&str] = &["/dev/fd/", "/proc/self/fd/", "/proc/thread-self/fd/"];
const STREAM_NAMES: &[&str] = &["/dev/stdin"];

impl Input {
    /// The name whose extension says what the file is, for the `file-extension` check: only
    /// a regular file reached by a name of its own. Standard input, a descriptor name
    /// (`/dev/fd/N`, `/proc/self/fd/N`, `/dev/stdin`) and anything that is not a regular
    /// file (a FIFO, a device) carry no extension to judge.
    pub fn extension_name(&self) -> Option<&str> {
        let name = self.name.as_str();
        let descriptor =
            DESCRIPTOR_NAMES.iter().any(|p| name.starts_with(p)) || STREAM_NAMES.contains(&name);
        (self.identity.is_some() && !self.is_stdin && !descriptor).then_some(name)
    }
}

/// A regular file's identity and state: which file (device, inode), its size and its last
/// change. Another value after a pass over the file means it changed while it was read
/// (it grew, was rewritten, or was replaced by another file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity {
    file: (u64, u64),
    len: u64,
    modified: Option<std::time::SystemTime>,
}

impl Identity {
    /// The identity `meta` describes.
    pub fn of(meta: &std::fs::Metadata) -> Identity {
        #[cfg(unix)]
        let file = {
            use std::os::unix::fs::MetadataExt;
            (meta.dev(), meta.ino())
        };
        #[cfg(not(unix))]
        let file = (0, 0);
        Identity {
            file,
            len: meta.len(),
            modified: meta.modified().ok(),
        }
    }

    /// What changed about `path` since this identity was taken, if anything.
    pub fn changed(&self, path: &str) -> Option<String> {
        let now = match std::fs::metadata(path) {
            Ok(m) => Identity::of(&m),
            Err(e) => return Some(format!("it can no longer be read ({e})")),
        };
        if now.file != self.file {
            Some("it was replaced by another file".into())
        } else if now.len != self.len {
            Some(format!(
                "its size went from {} to {} bytes",
                self.len, now.len
            ))
        } else if now.modified != self.modified {
            Some("it was rewritten".into())
        } else {
            None
        }
    }
}

/// Opens `arg` (`-` is standard input).
pub fn open(arg: &str) -> Result<Input> {
    if arg == "-" {
        return Ok(Input {
            name: STDIN_NAME.into(),
            is_stdin: true,
            size: None,
            source: Box::new(io::stdin()),
            identity: None,
        });
    }
    let path = Path::new(arg);
    let file = File::open(path).with_context(|| format!("cannot open {arg}"))?;
    let meta = file
        .metadata()
        .with_context(|| format!("cannot read {arg}"))?;
    if meta.is_dir() {
        anyhow::bail!("cannot read {arg}: it is a directory");
    }
    Ok(Input {
        name: arg.to_string(),
        is_stdin: false,
        // A FIFO or a device has no size to show progress against.
        size: meta.is_file().then_some(meta.len()),
        source: Box::new(file),
        identity: meta.is_file().then(|| Identity::of(&meta)),
    })
}

/// Why a small file (a manifest, a certificate) was not read.
#[derive(Debug)]
pub enum SmallFileError {
    /// It could not be opened or read.
    Io(io::Error),
    /// It is a device, a FIFO, a folder…: reading it might never end, or never stop.
    NotRegular,
    /// It is larger than the limit given.
    TooLarge,
    /// The file opened is not the one looked at before (it was replaced in between).
    Changed,
}

/// Reads a state or configuration file whose size is known to be small: only a regular file
/// (a symlink is followed, but not to a device or a FIFO), and only when it holds at most
/// `max` bytes, so that a symlink to `/dev/zero` or a sparse file of gigabytes costs
/// nothing. `Ok(None)` when it does not exist.
pub fn read_small(path: &Path, max: u64) -> Result<Option<Vec<u8>>, SmallFileError> {
    match std::fs::metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(SmallFileError::Io(e)),
        Ok(m) => read_small_as(path, max, &m),
    }
}

/// [`read_small`] of the file `looked` describes (taken, and perhaps judged, beforehand):
/// the file opened must be that very one, not one swapped in since.
pub fn read_small_as(
    path: &Path,
    max: u64,
    looked: &std::fs::Metadata,
) -> Result<Option<Vec<u8>>, SmallFileError> {
    // Checked before opening, because opening a FIFO waits for a writer; and opened without
    // waiting, for a FIFO swapped in after the look.
    if !looked.is_file() {
        return Err(SmallFileError::NotRegular);
    }
    let file = match open_nonblocking(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        r => r.map_err(SmallFileError::Io)?,
    };
    let meta = file.metadata().map_err(SmallFileError::Io)?;
    if !meta.is_file() {
        return Err(SmallFileError::NotRegular);
    }
    if Identity::of(&meta).file != Identity::of(looked).file {
        return Err(SmallFileError::Changed);
    }
    if meta.len() > max {
        return Err(SmallFileError::TooLarge);
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    // One byte past the limit tells a file that grew since.
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(SmallFileError::Io)?;
    if bytes.len() as u64 > max {
        return Err(SmallFileError::TooLarge);
    }
    Ok(Some(bytes))
}

/// Opens for reading without waiting for a FIFO's writer.
fn open_nonblocking(path: &Path) -> io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(any(target_os = "linux", target_os = "android"))]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, 0o4000); // O_NONBLOCK
    #[cfg(any(target_os = "macos", target_os = "ios", target_os = "freebsd"))]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, 0x0004); // O_NONBLOCK
    options.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_files_are_read_only_when_regular_and_small() {
        let dir = std::env::temp_dir().join(format!("convsubmit-small-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("f");
        std::fs::write(&file, b"12345").unwrap();
        assert_eq!(read_small(&file, 5).unwrap().unwrap(), b"12345");
        assert!(matches!(
            read_small(&file, 4),
            Err(SmallFileError::TooLarge)
        ));
        assert!(read_small(&dir.join("missing"), 5).unwrap().is_none());
        assert!(matches!(
            read_small(&dir, 5),
            Err(SmallFileError::NotRegular)
        ));
        #[cfg(unix)]
        {
            let link = dir.join("zero");
            let _ = std::fs::remove_file(&link);
            std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
            assert!(matches!(
                read_small(&link, 5),
                Err(SmallFileError::NotRegular)
            ));
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
