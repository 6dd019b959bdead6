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
            Some(format!("its size went from {} to {} bytes", self.len, now.len))
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
        size: meta.is_file().then(|| meta.len()),
        source: Box::new(file),
        identity: meta.is_file().then(|| Identity::of(&meta)),
    })
}
