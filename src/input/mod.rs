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
}

/// Opens `arg` (`-` is standard input).
pub fn open(arg: &str) -> Result<Input> {
    if arg == "-" {
        return Ok(Input {
            name: STDIN_NAME.into(),
            is_stdin: true,
            size: None,
            source: Box::new(io::stdin()),
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
        size: Some(meta.len()),
        source: Box::new(file),
    })
}
