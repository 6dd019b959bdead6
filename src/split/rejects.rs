//! The rejects file: every row set aside, with `line,code,message` first (so they line up
//! even for a row with the wrong number of fields), then the row's own values.

use crate::csv_out::{write_field, write_fields};
use crate::diagnostic::Code;
use crate::input::{Record, RecordReader};
use crate::validate::{OrderOf, OrderTally};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// Writes rejected rows; the file is created at the first one.
pub struct Rejects {
    path: PathBuf,
    /// The header line (its line break included).
    header: Vec<u8>,
    newline: &'static [u8],
    out: Option<BufWriter<File>>,
    /// Re-parses a row's raw bytes into fields.
    parser: RecordReader<io::Empty>,
    rec: Record,
    /// Rows written.
    pub rows: u64,
    /// The orders they belong to.
    orders: OrderTally,
    /// Rows set aside per reason.
    pub reasons: BTreeMap<Code, u64>,
}

impl Rejects {
    /// Rejects will go to `path`, under a header made of `line,code,message` and `columns`.
    pub fn new<'a>(
        path: &Path,
        columns: impl IntoIterator<Item = &'a [u8]>,
        newline: &'static [u8],
    ) -> Rejects {
        let mut header = vec![];
        let lead: [&[u8]; 3] = [b"line", b"code", b"message"];
        // Writing to a Vec cannot fail.
        let _ = write_fields(&mut header, lead.into_iter().chain(columns));
        header.extend_from_slice(newline);
        Rejects {
            path: path.to_path_buf(),
            header,
            newline,
            out: None,
            parser: RecordReader::new(io::empty()),
            rec: Record::default(),
            rows: 0,
            orders: OrderTally::default(),
            reasons: BTreeMap::new(),
        }
    }

    /// Orders the rows set aside belong to, by the counting rule.
    pub fn orders(&self) -> u64 {
        self.orders.count()
    }

    /// Sets aside the row whose bytes (as in the input, no line break) are `raw`, of `order`.
    pub fn add(
        &mut self,
        raw: &[u8],
        line: u64,
        order: OrderOf,
        code: Code,
        message: &str,
    ) -> io::Result<()> {
        if self.out.is_none() {
            let mut out = BufWriter::new(File::create(&self.path)?);
            out.write_all(&self.header)?;
            self.out = Some(out);
        }
        let Some(out) = self.out.as_mut() else {
            unreachable!("opened above")
        };
        write!(out, "{line},{code},")?;
        write_field(out, message.as_bytes())?;
        self.parser.load(raw);
        if self.parser.read(&mut self.rec)? {
            for i in 0..self.rec.len() {
                out.write_all(b",")?;
                write_field(out, self.rec.bytes(i))?;
            }
        }
        out.write_all(self.newline)?;
        self.rows += 1;
        *self.reasons.entry(code).or_default() += 1;
        self.orders.note(order, line);
        Ok(())
    }

    /// Closes the file; returns its path when any row was written.
    pub fn finish(self) -> io::Result<Option<PathBuf>> {
        match self.out {
            Some(out) => {
                let file = out.into_inner().map_err(|e| e.into_error())?;
                file.sync_all()?;
                Ok(Some(self.path))
            }
            None => Ok(None),
        }
    }
}
