//! The rejects file: every row set aside, with `line,code,message` first (so they line up
//! even for a row with the wrong number of fields), then the row's own values, in input
//! line order (so a corrected rejects file can be resubmitted as it is).
//!
//! Rows are set aside as they are found, which is not always in line order (the earlier rows
//! of an order are set aside when a later row of it turns out bad, or when the order proves
//! not consecutive after its first rows went into a part). The file notes where each row
//! went (24 bytes a row) and, when any came out of order, rewrites itself sorted at the end.

use crate::csv_out::{write_field, write_fields};
use crate::diagnostic::Code;
use crate::input::{Record, RecordReader};
use crate::validate::{OrderOf, OrderTally};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
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
    /// One written row, reused.
    buf: Vec<u8>,
    /// Where each row is in the file: (line, offset after the header, length).
    spans: Vec<Span>,
    /// Bytes of rows written so far.
    written: u64,
    /// A row was written after a row of a later line.
    unsorted: bool,
}

#[derive(Clone, Copy)]
struct Span {
    line: u64,
    offset: u64,
    len: u32,
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
            buf: Vec::new(),
            spans: Vec::new(),
            written: 0,
            unsorted: false,
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
        let buf = &mut self.buf;
        buf.clear();
        write!(buf, "{line},{code},")?;
        write_field(buf, message.as_bytes())?;
        self.parser.load(raw);
        if self.parser.read(&mut self.rec)? {
            for i in 0..self.rec.len() {
                buf.push(b',');
                write_field(buf, self.rec.bytes(i))?;
            }
        }
        buf.extend_from_slice(self.newline);
        out.write_all(buf)?;
        self.unsorted |= self.spans.last().is_some_and(|s| s.line > line);
        let len = u32::try_from(buf.len()).map_err(io::Error::other)?;
        self.spans.push(Span {
            line,
            offset: self.written,
            len,
        });
        self.written += u64::from(len);
        self.rows += 1;
        *self.reasons.entry(code).or_default() += 1;
        self.orders.note(order, line);
        Ok(())
    }

    /// Closes the file, its rows in line order; returns its path when any row was written.
    pub fn finish(mut self) -> io::Result<Option<PathBuf>> {
        let Some(out) = self.out.take() else {
            return Ok(None);
        };
        let file = out.into_inner().map_err(|e| e.into_error())?;
        if self.unsorted {
            drop(file);
            self.rewrite_sorted()?;
        } else {
            file.sync_all()?;
        }
        Ok(Some(self.path))
    }

    /// Copies the rows into a new file in line order (stable: rows of one line keep their
    /// order), then puts it in place of the old one.
    fn rewrite_sorted(&mut self) -> io::Result<()> {
        self.spans.sort_by_key(|s| s.line);
        let sorted = self.path.with_extension("csv.sorting");
        let mut from = File::open(&self.path)?;
        let mut to = BufWriter::new(File::create(&sorted)?);
        to.write_all(&self.header)?;
        let start = self.header.len() as u64;
        for span in &self.spans {
            from.seek(SeekFrom::Start(start + span.offset))?;
            self.buf.resize(span.len as usize, 0);
            from.read_exact(&mut self.buf)?;
            to.write_all(&self.buf)?;
        }
        to.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        std::fs::rename(&sorted, &self.path)
    }
}
