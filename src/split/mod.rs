//! `split`: one pass over an input that validates it and writes what impact.com will accept
//! into parts of at most `max_rows` data rows, never cutting an order, with every rejected
//! row (item-level: every row of an order with a bad row) set aside in a rejects file.

mod manifest;
mod names;
mod orders;
mod parts;
mod rejects;
mod spool;
pub mod work;

pub use manifest::{FILE_NAME as MANIFEST, FileEntry, LineMap, Manifest, Part, RejectsEntry, Run};
pub use names::Names;
pub use orders::{OrderSeen, PartReader, PartRow, for_each_order};

use crate::diagnostic::{Code, Diagnostic, Severity};
use crate::digest::HashingReader;
use crate::fast_hash::FastHash;
use crate::input::Ending;
use crate::template::Template;
use crate::validate::{self, Failure, FileReport, HeaderSeen, OrderOf, RowSeen, RowSink};
use crate::values::date::format_day;
use anyhow::{Context, Result};
use parts::{OrderRows, Packer, RowSpan};
use rejects::Rejects;
use std::collections::HashSet;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// What one input became, before its files are moved into place.
pub struct FileSplit {
    /// The validation report.
    pub report: FileReport,
    /// The manifest entry; `None` when the file could not be split (nothing was written).
    pub entry: Option<FileEntry>,
    /// Rows set aside per reason (the code of the row's, or its order's, first error).
    pub reasons: Vec<(Code, u64)>,
}

/// Splits one input into `out`, validating it with `opts`. Findings go to `sink` as they
/// are found. Files appear in `out` only when the whole input was read and no file-level
/// error was found; a failure leaves `out` as it was. The header and every row also go to
/// `rows` when given (a report that shows them).
pub fn split_file(
    name: &str,
    src: impl Read + Send,
    opts: &validate::Options,
    out: &Path,
    progress: &mut dyn FnMut(u64),
    sink: &mut dyn FnMut(&Diagnostic) -> io::Result<()>,
    rows: Option<&mut dyn RowSink>,
) -> Result<FileSplit> {
    let names = Names::new(name, opts.as_of);
    let work = work::WorkDir::create(out, WORK)
        .with_context(|| format!("cannot write into {}", out.display()))?;
    let mut splitter = Splitter::new(work.path(), names.clone(), opts.max_rows);
    let mut file_errors = 0u64;
    // A report that cannot be written is not a folder that cannot be: say which failed.
    let mut report_failed = false;
    let mut input = HashingReader::new(src);
    let (report, outcome) = validate::check_rows(
        name,
        None,
        &mut input,
        opts,
        progress,
        &mut |d| {
            if d.severity == Severity::Error && d.row.is_none() {
                file_errors += 1;
            }
            sink(d).inspect_err(|_| report_failed = true)
        },
        &mut Tee {
            split: &mut splitter,
            also: rows,
        },
    );
    match outcome {
        Ok(()) => {}
        Err(Failure::Read(e)) => return Err(e).with_context(|| format!("cannot read {name}")),
        Err(Failure::Write(e)) if report_failed => return Err(e.into()),
        Err(Failure::Write(e)) => {
            return Err(e).with_context(|| format!("cannot write into {}", out.display()));
        }
    }
    // Before the rest is read for the digest: a header past the limits stopped reading, and
    // what follows it may never end (`/dev/zero`).
    if file_errors > 0 || !splitter.has_header() {
        return Ok(FileSplit {
            report,
            entry: None,
            reasons: vec![],
        });
    }
    let (sha256, bytes) = input
        .finish()
        .with_context(|| format!("cannot read {name}"))?;
    let mut written = splitter
        .finish()
        .with_context(|| format!("cannot write into {}", out.display()))?;
    let mut entry = FileEntry {
        input: name.to_string(),
        sha256,
        bytes,
        template: report.template.clone().unwrap_or_default(),
        as_of: format_day(opts.as_of),
        max_rows: opts.max_rows,
        header_line: written.header_line,
        rows: report.rows,
        orders: report.orders,
        parts: vec![],
        rejects: None,
    };
    let total = written.parts.len();
    for (i, (tmp, mut part)) in written.parts.into_iter().enumerate() {
        part.file = names.part(i + 1, total);
        move_into(&tmp, &out.join(&part.file))?;
        entry.parts.push(part);
    }
    if let Some((tmp, rows, orders)) = written.rejects.take() {
        let file = names.rejects();
        move_into(&tmp, &out.join(&file))?;
        entry.rejects = Some(RejectsEntry { file, rows, orders });
    }
    Ok(FileSplit {
        report,
        entry: Some(entry),
        reasons: written.reasons,
    })
}

fn move_into(from: &Path, to: &Path) -> Result<()> {
    std::fs::rename(from, to).with_context(|| format!("cannot write {}", to.display()))
}

/// The hidden folder inside the output folder for files being written, removed when done,
/// so that an interrupted split leaves no half-written part under a real name:
/// `.convsubmit-<pid>-<n>.tmp`. One a killed split left is removed by the next.
pub const WORK: work::Pattern = work::Pattern {
    prefix: ".convsubmit-",
    suffix: ".tmp",
};

/// What [`Splitter::finish`] leaves in the work folder.
struct Written {
    header_line: u64,
    parts: Vec<(PathBuf, Part)>,
    /// The rejects file, its rows and orders.
    rejects: Option<(PathBuf, u64, u64)>,
    /// Rows set aside per reason.
    reasons: Vec<(Code, u64)>,
}

/// The rows of the order being read (item-level files).
#[derive(Default)]
struct Block {
    /// The order key; empty when no order is open.
    key: Vec<u8>,
    order_id: String,
    /// Its rows gathered in the packer (only while the order is clean).
    rows: Vec<RowSpan>,
    /// The first error among its rows: line, code, message.
    error: Option<(u64, Code, String)>,
    /// The order had rows earlier in the file (`order-not-consecutive`).
    repeat: bool,
}

/// The [`RowSink`] that writes parts and rejects while the engine checks the rows.
struct Splitter {
    dir: PathBuf,
    names: Names,
    max_rows: u64,
    /// Set when the header has been read.
    started: Option<Started>,
    block: Block,
    /// Keys of orders whose later rows were rejected as not consecutive: their earlier rows
    /// may already be in a part, and must come out of it.
    late: HashSet<Vec<u8>, FastHash>,
    /// A reused buffer for rows that are orders of their own (every row of an order-level
    /// file), so that they cost no allocation.
    single: Vec<u8>,
}

struct Started {
    header_line: u64,
    newline: &'static [u8],
    /// The template the rows were checked against (for reading parts back).
    template: Template,
    packer: Packer,
    rejects: Rejects,
}

impl Splitter {
    fn new(dir: &Path, names: Names, max_rows: u64) -> Splitter {
        Splitter {
            dir: dir.to_path_buf(),
            names,
            max_rows,
            started: None,
            block: Block::default(),
            late: HashSet::default(),
            single: Vec::new(),
        }
    }

    fn has_header(&self) -> bool {
        self.started.is_some()
    }

    fn started(&mut self) -> &mut Started {
        self.started.as_mut().expect("rows come after the header")
    }

    /// Ends the open order: into a part when clean (its rows were buffered), otherwise its
    /// rows are already in the rejects file.
    fn flush(&mut self) -> io::Result<()> {
        let block = std::mem::take(&mut self.block);
        if block.key.is_empty() && block.rows.is_empty() {
            return Ok(());
        }
        if block.error.is_none() {
            let order = OrderOf::Key(&block.key);
            self.started()
                .packer
                .commit(&block.rows, &block.order_id, order)?;
        }
        if block.repeat {
            self.late.insert(block.key.clone());
        }
        // Keep the buffers for the next order: an allocation per order costs more than the
        // rest of the order's bookkeeping.
        let Block {
            mut key,
            mut order_id,
            mut rows,
            ..
        } = block;
        key.clear();
        order_id.clear();
        rows.clear();
        self.block = Block {
            key,
            order_id,
            rows,
            ..Block::default()
        };
        Ok(())
    }

    /// Adds a row to the open order, rejecting the whole order once any row of it is bad.
    fn push(&mut self, row: &RowSeen) -> io::Result<()> {
        self.block.repeat |= row.apart;
        if let Some(d) = row.error
            && self.block.error.is_none()
        {
            self.block.error = Some((row.line, d.code, d.message.clone()));
            self.reject_buffered()?;
        }
        if self.block.error.is_some() {
            let (code, message) = match row.error {
                Some(d) => (d.code, d.message.clone()),
                None => sibling(&self.block),
            };
            return (self.started().rejects).add(row.raw, row.line, row.order, code, &message);
        }
        let Some(s) = self.started.as_mut() else {
            unreachable!("rows come after the header")
        };
        s.packer.gather(row.raw);
        s.packer.gather(s.newline);
        self.block.rows.push(RowSpan {
            line: row.line,
            lines: row.lines,
            end: s.packer.gathered().len(),
        });
        Ok(())
    }

    /// Moves the rows buffered so far (all clean) to the rejects file.
    fn reject_buffered(&mut self) -> io::Result<()> {
        let (code, message) = sibling(&self.block);
        let s = self.started.as_mut().expect("header read");
        let newline_len = s.newline.len();
        let mut start = 0;
        for r in &self.block.rows {
            let raw = &s.packer.gathered()[start..r.end - newline_len];
            let order = OrderOf::Key(&self.block.key);
            s.rejects.add(raw, r.line, order, code, &message)?;
            start = r.end;
        }
        s.packer.discard();
        self.block.rows.clear();
        Ok(())
    }

    fn finish(mut self) -> io::Result<Written> {
        self.flush()?;
        let late = std::mem::take(&mut self.late);
        let Some(s) = self.started.take() else {
            unreachable!("callers check has_header")
        };
        let Started {
            header_line,
            newline,
            template,
            packer,
            mut rejects,
        } = s;
        let mut parts = packer.finish()?;
        if !late.is_empty() {
            let ctx = Repack {
                late: &late,
                template: &template,
                header_line,
                newline,
                max_rows: self.max_rows,
                dir: &self.dir,
            };
            parts = ctx.run(parts, &mut rejects)?;
        }
        let orders = rejects.orders();
        let rows = rejects.rows;
        let reasons = std::mem::take(&mut rejects.reasons).into_iter().collect();
        let rejects = rejects.finish()?.map(|p| (p, rows, orders));
        Ok(Written {
            header_line,
            parts,
            rejects,
            reasons,
        })
    }
}

/// The code and message for a clean row set aside because another row of its order is bad.
fn sibling(block: &Block) -> (Code, String) {
    match &block.error {
        Some((line, code, message)) => (
            *code,
            format!("set aside with its order, because of line {line}: {message}"),
        ),
        None => (Code::OrderNotConsecutive, String::new()),
    }
}

/// The splitter, and what else wants the rows.
struct Tee<'a, 'b> {
    split: &'a mut Splitter,
    also: Option<&'a mut (dyn RowSink + 'b)>,
}

impl RowSink for Tee<'_, '_> {
    fn header(&mut self, h: &HeaderSeen) -> io::Result<()> {
        self.split.header(h)?;
        match &mut self.also {
            Some(also) => also.header(h),
            None => Ok(()),
        }
    }

    fn row(&mut self, row: &RowSeen) -> io::Result<()> {
        self.split.row(row)?;
        match &mut self.also {
            Some(also) => also.row(row),
            None => Ok(()),
        }
    }

    fn wants_errors(&self) -> bool {
        self.split.wants_errors() || self.also.as_ref().is_some_and(|a| a.wants_errors())
    }
}

impl RowSink for Splitter {
    fn header(&mut self, h: &HeaderSeen) -> io::Result<()> {
        // Parts keep the input's line breaks; a lone CR becomes CRLF.
        let newline: &'static [u8] = match h.ending {
            Ending::Lf => b"\n",
            _ => b"\r\n",
        };
        let mut header = h.raw.to_vec();
        header.extend_from_slice(newline);
        let packer = Packer::new(&self.dir, "part", header, self.max_rows);
        let rejects = Rejects::new(
            &self.dir.join(self.names.rejects()),
            h.plan.names.iter().map(|n| n.as_bytes()),
            newline,
        );
        self.started = Some(Started {
            header_line: h.line,
            newline,
            template: h.template.clone(),
            packer,
            rejects,
        });
        Ok(())
    }

    fn row(&mut self, row: &RowSeen) -> io::Result<()> {
        match (row.key, row.error) {
            (Some(key), _) => {
                if self.block.key != key {
                    self.flush()?;
                    self.block.key.extend_from_slice(key);
                    self.block.order_id.push_str(row.order_id);
                }
                self.push(row)
            }
            // A bad row without an order key (no OrderId, or unreadable) is set aside alone,
            // and leaves the open order open: the order rules saw no break either.
            (None, Some(e)) => {
                let rejects = &mut self.started().rejects;
                rejects.add(row.raw, row.line, row.order, e.code, &e.message)
            }
            // A good row that belongs to no order spanning rows is an order of its own. It
            // goes straight into a part, so an open order stays whole.
            (None, None) => {
                let Some(s) = self.started.as_mut() else {
                    unreachable!("rows come after the header")
                };
                let data = &mut self.single;
                data.clear();
                data.extend_from_slice(row.raw);
                data.extend_from_slice(s.newline);
                let span = RowSpan {
                    line: row.line,
                    lines: row.lines,
                    end: data.len(),
                };
                s.packer.add(&OrderRows {
                    data,
                    rows: &[span],
                    order_id: row.order_id,
                    order: row.order,
                })
            }
        }
    }
}

/// Takes the rows of `late` orders out of the parts already written (into the rejects), and
/// packs what is left into new parts. Reads only the parts, never the input again.
struct Repack<'a> {
    late: &'a HashSet<Vec<u8>, FastHash>,
    template: &'a Template,
    header_line: u64,
    newline: &'static [u8],
    max_rows: u64,
    dir: &'a Path,
}

impl Repack<'_> {
    fn run(
        &self,
        parts: Vec<(PathBuf, Part)>,
        rejects: &mut Rejects,
    ) -> io::Result<Vec<(PathBuf, Part)>> {
        const MESSAGE: &str = "set aside with its order: later rows of this order are not next to these (order-not-consecutive), and an order is sent whole or not at all";
        let mut packer: Option<Packer> = None;
        let mut block = Block::default();
        let (mut rows, mut key) = (vec![], vec![]);
        for (path, part) in &parts {
            let Some(mut reader) =
                PartReader::open(path, Some(self.template)).map_err(io::Error::other)?
            else {
                continue;
            };
            let packer = packer.get_or_insert_with(|| {
                let mut header = reader.header_raw().to_vec();
                header.extend_from_slice(self.newline);
                Packer::new(self.dir, "repack", header, self.max_rows)
            });
            let map = LineMap {
                header_line: self.header_line,
                runs: part.lines.clone(),
            };
            while reader.next_order(&mut rows, &mut key)? {
                let late = !key.is_empty() && self.late.contains(&key);
                let order =
                    validate::order_of(self.template.kind, (!key.is_empty()).then_some(&key[..]));
                block.order_id = reader.order_id(&rows[0]);
                for row in &rows {
                    let line = map.source_line(row.line).unwrap_or(0);
                    if late {
                        rejects.add(&row.raw, line, order, Code::OrderNotConsecutive, MESSAGE)?;
                        continue;
                    }
                    packer.gather(&row.raw);
                    packer.gather(self.newline);
                    block.rows.push(RowSpan {
                        line,
                        lines: row.lines,
                        end: packer.gathered().len(),
                    });
                }
                flush_clean(&mut block, packer, order)?;
            }
        }
        let Some(packer) = packer else {
            return Ok(parts);
        };
        for (path, _) in &parts {
            std::fs::remove_file(path)?;
        }
        packer.finish()
    }
}

fn flush_clean(block: &mut Block, packer: &mut Packer, order: OrderOf) -> io::Result<()> {
    if !block.rows.is_empty() {
        packer.commit(&block.rows, &block.order_id, order)?;
    }
    block.rows.clear();
    Ok(())
}
