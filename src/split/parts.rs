//! Packs orders into part files: the header in each, at most `max_rows` data rows, an order
//! never cut across two parts. Parts are written under temporary names in a work folder and
//! named only when the count is known.

use super::manifest::{Part, Run};
use super::spool::{Spool, Written};
use crate::validate::{OrderOf, OrderTally};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::mpsc::Receiver;

/// One data row of an order about to be packed.
#[derive(Debug, Clone, Copy)]
pub struct RowSpan {
    /// Physical line in the input.
    pub line: u64,
    /// Physical lines it spans.
    pub lines: u64,
    /// End of the row (its line break included) in the order's data.
    pub end: usize,
}

/// One order (or one row of a file without orders spanning rows): its rows' bytes, each
/// followed by the line break, and where each row came from.
pub struct OrderRows<'a> {
    /// The rows, back to back.
    pub data: &'a [u8],
    /// Each row's origin.
    pub rows: &'a [RowSpan],
    /// The OrderId as written.
    pub order_id: &'a str,
    /// The order, for counting.
    pub order: OrderOf<'a>,
}

/// A part being written.
struct Open {
    path: PathBuf,
    part: Part,
    /// The part's physical line for the next row.
    next_line: u64,
    /// Its orders, by the counting rule.
    orders: OrderTally,
}

/// Writes parts into a work folder.
pub struct Packer {
    dir: PathBuf,
    /// Temporary file names start with this.
    tag: &'static str,
    header: Vec<u8>,
    max_rows: u64,
    open: Option<Open>,
    done: Vec<(PathBuf, Part)>,
    /// For each part in `done`: its digest and size, once written.
    written: Vec<Receiver<Written>>,
    /// Writes the parts, and holds the order being gathered.
    spool: Spool,
}

impl Packer {
    /// Parts go to `dir` as `<tag>-0001.csv`, …; `header` (its line break included) starts
    /// each one.
    pub fn new(dir: &Path, tag: &'static str, header: Vec<u8>, max_rows: u64) -> Packer {
        Packer {
            dir: dir.to_path_buf(),
            tag,
            header,
            max_rows,
            open: None,
            done: vec![],
            written: vec![],
            spool: Spool::new(),
        }
    }

    /// Appends bytes of the order being gathered (rows, each with its line break), to be
    /// packed by [`Packer::commit`] or dropped by [`Packer::discard`].
    pub fn gather(&mut self, data: &[u8]) {
        self.spool.append_pending(data);
    }

    /// The bytes gathered so far.
    pub fn gathered(&self) -> &[u8] {
        self.spool.pending()
    }

    /// Drops the bytes gathered.
    pub fn discard(&mut self) {
        self.spool.discard_pending();
    }

    /// Packs the order gathered, whose rows are `rows` (`end` counted from its first
    /// byte): into the open part if it fits, else into a new one. An order larger than
    /// `max_rows` never gets here (it is rejected as `order-too-large`).
    pub fn commit(&mut self, rows: &[RowSpan], order_id: &str, order: OrderOf) -> io::Result<()> {
        self.make_room(rows.len() as u64)?;
        self.spool.commit()?;
        self.record(rows, order_id, order);
        Ok(())
    }

    /// Packs one whole order given at once; what is being gathered stays so.
    pub fn add(&mut self, unit: &OrderRows) -> io::Result<()> {
        self.make_room(unit.rows.len() as u64)?;
        self.spool.write(unit.data)?;
        self.record(unit.rows, unit.order_id, unit.order);
        Ok(())
    }

    /// Makes sure the open part can take `n` more rows.
    fn make_room(&mut self, n: u64) -> io::Result<()> {
        if self
            .open
            .as_ref()
            .is_some_and(|o| o.part.rows + n > self.max_rows)
        {
            self.close()?;
        }
        if self.open.is_none() {
            self.open = Some(self.start()?);
        }
        Ok(())
    }

    fn record(&mut self, rows: &[RowSpan], order_id: &str, order: OrderOf) {
        let Some(o) = self.open.as_mut() else {
            unreachable!("a part was just opened")
        };
        for r in rows {
            match o.part.lines.last_mut() {
                Some(run)
                    if run.source_line + run.count == r.line
                        && run.part_line + run.count == o.next_line =>
                {
                    run.count += r.lines;
                }
                _ => o.part.lines.push(Run {
                    part_line: o.next_line,
                    source_line: r.line,
                    count: r.lines,
                }),
            }
            o.next_line += r.lines;
        }
        if o.part.rows == 0 {
            o.part.first_order = order_id.to_string();
        }
        o.part.last_order.clear();
        o.part.last_order.push_str(order_id);
        o.part.rows += rows.len() as u64;
        if let Some(r) = rows.first() {
            o.orders.note(order, r.line);
        }
        o.part.orders = o.orders.count();
    }

    fn start(&mut self) -> io::Result<Open> {
        let path = self
            .dir
            .join(format!("{}-{:04}.csv", self.tag, self.done.len() + 1));
        self.spool.create(path.clone(), &self.header)?;
        Ok(Open {
            path,
            part: Part {
                file: String::new(),
                rows: 0,
                orders: 0,
                bytes: 0,
                sha256: String::new(),
                first_order: String::new(),
                last_order: String::new(),
                lines: vec![],
            },
            next_line: 2,
            orders: OrderTally::default(),
        })
    }

    fn close(&mut self) -> io::Result<()> {
        if let Some(o) = self.open.take() {
            self.written.push(self.spool.finish()?);
            self.done.push((o.path, o.part));
        }
        Ok(())
    }

    /// Closes the last part and waits until every part is on disk; returns every part
    /// (temporary path, details without a name).
    pub fn finish(mut self) -> io::Result<Vec<(PathBuf, Part)>> {
        self.close()?;
        for ((_, part), written) in self.done.iter_mut().zip(&self.written) {
            let (sha, bytes) = written
                .recv()
                .map_err(|_| io::Error::other("the part-writing thread stopped"))??;
            part.sha256 = sha;
            part.bytes = bytes;
        }
        Ok(std::mem::take(&mut self.done))
    }
}
