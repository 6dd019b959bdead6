//! `manifest.json`: what `split` wrote, with enough to map a line of a part back to the
//! line of the input it came from.

use crate::input::{SmallFileError, read_small};
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The file name of the manifest in the output folder.
pub const FILE_NAME: &str = "manifest.json";

/// The largest manifest read. One is about 300 bytes per part and a few hundred per input:
/// this is hundreds of thousands of parts.
pub const MAX_BYTES: u64 = 64 << 20;

/// The manifest's format version.
pub const VERSION: u32 = 1;

/// Everything written to one output folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Format version ([`VERSION`]).
    pub version: u32,
    /// One entry per input, by input file name.
    pub files: Vec<FileEntry>,
}

/// What one input became.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// The input path as given (`<stdin>` for standard input).
    pub input: String,
    /// SHA-256 of the input's bytes, in hex.
    pub sha256: String,
    /// Size of the input.
    pub bytes: u64,
    /// The template the input was checked against.
    pub template: String,
    /// The day event ages were counted to.
    pub as_of: String,
    /// Most data rows per part.
    pub max_rows: u64,
    /// The input's header line (every part's line 1).
    pub header_line: u64,
    /// Data rows in the input.
    pub rows: u64,
    /// Orders in the input.
    pub orders: u64,
    /// The parts, in input order.
    pub parts: Vec<Part>,
    /// Rows set aside, if any.
    pub rejects: Option<RejectsEntry>,
}

/// One part file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    /// File name, in the output folder.
    pub file: String,
    /// Data rows (the header not counted).
    pub rows: u64,
    /// Orders.
    pub orders: u64,
    /// Size in bytes.
    pub bytes: u64,
    /// SHA-256 of the file, in hex.
    pub sha256: String,
    /// OrderId of the first row.
    pub first_order: String,
    /// OrderId of the last row.
    pub last_order: String,
    /// Where the part's lines come from in the input, as runs of consecutive lines.
    pub lines: Vec<Run>,
}

/// `count` consecutive physical lines starting at `part_line` in a part, which are the lines
/// starting at `source_line` in the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run {
    /// First line in the part.
    pub part_line: u64,
    /// The same line in the input.
    pub source_line: u64,
    /// Lines in the run.
    pub count: u64,
}

/// The rejects file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectsEntry {
    /// File name, in the output folder.
    pub file: String,
    /// Rows set aside.
    pub rows: u64,
    /// Orders they belong to.
    pub orders: u64,
}

impl Run {
    /// The input line of part line `line`, when the run holds it. Checked: the runs come
    /// from files (the manifest, the ledger), where any numbers may have been written.
    pub fn source_line(&self, line: u64) -> Option<u64> {
        let offset = line.checked_sub(self.part_line)?;
        if offset >= self.count {
            return None;
        }
        self.source_line.checked_add(offset)
    }
}

impl FileEntry {
    /// Every file this entry names.
    pub fn files(&self) -> impl Iterator<Item = &str> {
        self.parts
            .iter()
            .map(|p| p.file.as_str())
            .chain(self.rejects.iter().map(|r| r.file.as_str()))
    }
}

impl Manifest {
    /// Reads `dir/manifest.json`; an empty manifest when there is none. Only a regular file
    /// of at most [`MAX_BYTES`] is read: what else is there is not a manifest, and reading it
    /// might take all memory (a symlink to `/dev/zero`, a sparse file).
    pub fn load(dir: &Path) -> Result<Manifest> {
        let path = dir.join(FILE_NAME);
        let not_ours = |why: &str| {
            anyhow::anyhow!(
                "{} is not a convsubmit manifest ({why}); choose another --out folder",
                path.display()
            )
        };
        let bytes = match read_small(&path, MAX_BYTES) {
            Ok(Some(b)) => b,
            Ok(None) => {
                return Ok(Manifest {
                    version: VERSION,
                    files: vec![],
                });
            }
            Err(SmallFileError::Io(e)) => {
                return Err(e).with_context(|| format!("cannot read {}", path.display()));
            }
            Err(SmallFileError::NotRegular) => return Err(not_ours("not a regular file")),
            Err(SmallFileError::Changed) => {
                return Err(anyhow::anyhow!(
                    "{} changed while it was read",
                    path.display()
                ));
            }
            Err(SmallFileError::TooLarge) => {
                return Err(not_ours(&format!("over {} MiB", MAX_BYTES >> 20)));
            }
        };
        let m: Manifest = serde_json::from_slice(&bytes).with_context(|| {
            format!(
                "{} is not a convsubmit manifest; choose another --out folder",
                path.display()
            )
        })?;
        anyhow::ensure!(
            m.version == VERSION,
            "{} has manifest version {}; this convsubmit writes version {VERSION}",
            path.display(),
            m.version
        );
        Ok(m)
    }

    /// Writes `dir/manifest.json` atomically (a temporary file, then rename).
    pub fn save(&self, dir: &Path) -> Result<()> {
        let path = dir.join(FILE_NAME);
        let tmp = dir.join(format!(".{FILE_NAME}.tmp"));
        let mut text = serde_json::to_string_pretty(self)?;
        text.push('\n');
        if let Err(e) = std::fs::write(&tmp, text) {
            // A half-written file (a full disk) is not left behind.
            let _ = std::fs::remove_file(&tmp);
            return Err(e).with_context(|| format!("cannot write {}", path.display()));
        }
        std::fs::rename(&tmp, &path).with_context(|| format!("cannot write {}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_lines_map_back_to_the_input() {
        let part = Part {
            file: "p.csv".into(),
            rows: 4,
            orders: 2,
            bytes: 0,
            sha256: String::new(),
            first_order: "A".into(),
            last_order: "B".into(),
            lines: vec![
                Run {
                    part_line: 2,
                    source_line: 5,
                    count: 2,
                },
                Run {
                    part_line: 4,
                    source_line: 10,
                    count: 3,
                },
            ],
        };
        let map = LineMap {
            header_line: 3,
            runs: part.lines.clone(),
        };
        let mapped: Vec<_> = (1..=7).map(|l| map.source_line(l)).collect();
        assert_eq!(
            mapped,
            [
                Some(3),
                Some(5),
                Some(6),
                Some(10),
                Some(11),
                Some(12),
                None
            ]
        );
    }
}

/// Where every line of a part comes from in its input: the header's line and the runs of
/// data lines. Stored in the ledger as JSON (`{"header_line":…,"runs":[…]}`) so that `status`
/// can map impact.com's line numbers back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineMap {
    /// The input's header line.
    pub header_line: u64,
    /// The part's data lines, as runs.
    pub runs: Vec<Run>,
}

impl LineMap {
    /// The input line of line `line` of the part (line 1 is the header). Checked: a map read
    /// back from the ledger may hold any numbers.
    pub fn source_line(&self, line: u64) -> Option<u64> {
        if line == 1 {
            return Some(self.header_line);
        }
        self.runs.iter().find_map(|r| r.source_line(line))
    }
}
