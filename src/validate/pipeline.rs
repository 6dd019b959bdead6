//! Reading runs ahead of order tracking on a thread of its own, so that a file is checked on
//! two cores: one thread parses records, the caller's thread tracks orders and reports, in
//! file order, and each row's value checks run on whichever of the two has time: the reading
//! thread checks a batch itself when the queue to the caller is full, and the caller checks
//! any batch that arrives unchecked. Rows travel in batches along a bounded queue (memory
//! stays a few batches deep) and batches are reused.

use super::row::{self, At};
use super::{HeaderPlan, cut, unreadable};
use crate::csv_out;
use crate::diagnostic::Diagnostic;
use crate::input::{Ending, MAX_FIELDS, Record, RecordReader};
use crate::template::Template;
use crate::values::date::Day;
use std::io::{self, Read};
use std::sync::mpsc::{Receiver, Sender, SyncSender, TrySendError, channel, sync_channel};

/// Rows per batch: large enough that handing a batch over costs nothing per row, small
/// enough that the first findings appear at once.
const BATCH_ROWS: usize = 2048;
/// A batch is closed early once its rows hold this many bytes, so that a few huge rows cannot
/// fill every batch in flight.
const BATCH_BYTES: usize = 1 << 20;
/// Full batches that may wait between two threads.
const QUEUE: usize = 4;
/// A slot whose buffers grew past this (a huge row) gives them back when reused.
const SLOT_KEEP_BYTES: usize = 1 << 20;

/// One record, as read and checked.
#[derive(Default)]
pub struct Slot {
    /// The parsed fields.
    pub rec: Record,
    /// The record's bytes, when `rec` does not hold them already (see [`Slot::raw`]).
    raw: Vec<u8>,
    /// How it ended.
    pub ending: Ending,
    /// Physical lines it spans.
    pub lines: u64,
    /// Its length in the input, without its line break (also when [`Slot::raw`] holds only
    /// part of it).
    pub len: u64,
    /// 1-based record number after the header (blank rows count).
    pub row: u64,
    /// Empty or spaces only (and well-formed): skipped with a warning.
    pub blank: bool,
    /// Passed the file-level reading checks, so its values were checked.
    pub readable: bool,
    /// What the row checks found, in order.
    pub found: Vec<Diagnostic>,
    /// What they saw of the row (its EventDate's day, a MediaId).
    pub observed: row::Observed,
}

/// Consecutive records of the input.
pub struct Batch {
    /// Slots in use are `slots[..len]`; the rest are kept for reuse.
    pub slots: Vec<Slot>,
    /// Slots in use.
    pub len: usize,
    /// Input bytes consumed after the last record of the batch.
    pub offset: u64,
    /// Reading stopped with this error after the batch's records.
    pub error: Option<io::Error>,
    /// The row checks have run on its records.
    checked: bool,
}

impl Slot {
    /// The record's bytes as in the input, without its line break.
    pub fn raw(&self) -> &[u8] {
        self.rec.verbatim().unwrap_or(&self.raw)
    }
}

impl Batch {
    fn new() -> Self {
        Batch {
            slots: Vec::with_capacity(BATCH_ROWS),
            len: 0,
            offset: 0,
            error: None,
            checked: false,
        }
    }

    /// The records in use.
    pub fn rows(&mut self) -> &mut [Slot] {
        &mut self.slots[..self.len]
    }
}

/// What the row checks need.
pub struct Checks<'a> {
    /// The template.
    pub template: &'a Template,
    /// The header's plan.
    pub plan: &'a HeaderPlan,
    /// Ages are counted to this day.
    pub as_of: Day,
}

/// The batches of a file, in order, each checked by the time it is handed out (when there
/// are checks).
pub struct Batches<'a> {
    queue: Receiver<Batch>,
    checks: Option<&'a Checks<'a>>,
}

impl Iterator for Batches<'_> {
    type Item = Batch;

    fn next(&mut self) -> Option<Batch> {
        let mut batch = self.queue.recv().ok()?;
        check(self.checks, &mut batch);
        Some(batch)
    }
}

/// Runs `consume` on the batches of `reader` (read past its header), in order, while another
/// thread reads ahead; with `checks`, each batch has been checked. `consume` hands each batch
/// back through the sender it is given, to be reused; an `Err` from it stops the reading.
pub fn run<R: Read + Send, E>(
    reader: &mut RecordReader<R>,
    checks: Option<&Checks>,
    consume: impl FnOnce(Batches, Sender<Batch>) -> Result<(), E>,
) -> Result<(), E> {
    let (free_tx, free_rx) = channel();
    let (read_tx, read_rx) = sync_channel(QUEUE);
    std::thread::scope(|s| {
        s.spawn(move || read(reader, checks, &free_rx, &read_tx));
        // When `consume` returns early, dropping its receiver ends the reading thread at its
        // next hand-over.
        let batches = Batches {
            queue: read_rx,
            checks,
        };
        consume(batches, free_tx)
    })
}

fn read<R: Read>(
    reader: &mut RecordReader<R>,
    checks: Option<&Checks>,
    free: &Receiver<Batch>,
    out: &SyncSender<Batch>,
) {
    let mut row = 0u64;
    loop {
        let mut batch = free.try_recv().unwrap_or_else(|_| Batch::new());
        batch.len = 0;
        batch.checked = false;
        let mut bytes = 0;
        let mut done = false;
        while batch.len < BATCH_ROWS && bytes < BATCH_BYTES {
            if batch.len == batch.slots.len() {
                batch.slots.push(Slot::default());
            }
            let slot = &mut batch.slots[batch.len];
            if slot.raw.capacity() + slot.rec.capacity() > SLOT_KEEP_BYTES {
                *slot = Slot::default();
            }
            match reader.read(&mut slot.rec) {
                Ok(true) => {}
                Ok(false) => {
                    done = true;
                    break;
                }
                Err(e) => {
                    batch.error = Some(e);
                    done = true;
                    break;
                }
            }
            row += 1;
            slot.row = row;
            slot.raw.clear();
            if !reader.raw_complete() {
                // Its first bytes are gone: pass on what was kept, as valid CSV (fields past
                // MAX_FIELDS are not kept).
                let kept = slot.rec.len().min(MAX_FIELDS);
                let fields = (0..kept).map(|i| slot.rec.bytes(i));
                csv_out::write_fields(&mut slot.raw, fields).expect("writing to memory");
            } else if slot.rec.verbatim().is_none() {
                slot.raw.extend_from_slice(reader.raw());
            }
            bytes += slot.raw().len();
            slot.len = reader.raw_len(&slot.rec);
            slot.ending = reader.ending();
            slot.lines = reader.line() - slot.rec.line() + u64::from(slot.ending == Ending::Eof);
            batch.len += 1;
        }
        batch.offset = reader.offset();
        // A full queue means the caller is the slower side: check this batch here.
        let sent = match out.try_send(batch) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(mut batch)) => {
                check(checks, &mut batch);
                out.send(batch).map_err(drop)
            }
            Err(TrySendError::Disconnected(_)) => Err(()),
        };
        if sent.is_err() || done {
            return;
        }
    }
}

/// Runs the row checks on `batch`, unless they ran already or there are none.
fn check(checks: Option<&Checks>, batch: &mut Batch) {
    let Some(checks) = checks else { return };
    if !batch.checked {
        for slot in batch.rows() {
            check_one(checks, slot);
        }
        batch.checked = true;
    }
}

fn check_one(checks: &Checks, slot: &mut Slot) {
    let rec = &slot.rec;
    slot.found.clear();
    slot.observed = row::Observed::default();
    slot.blank = rec.is_blank() && rec.malformed.is_none();
    if slot.blank {
        return;
    }
    let at = At {
        line: rec.line(),
        row: slot.row,
    };
    match cut(rec, checks.plan).or_else(|| unreadable(rec, checks.plan.width())) {
        Some(d) => {
            slot.found.push(d.at_row(at.line, at.row));
            slot.readable = false;
        }
        None => {
            let found = &mut slot.found;
            slot.observed = row::check(
                checks.template,
                checks.plan,
                rec,
                at,
                checks.as_of,
                &mut |d| found.push(d),
            );
            slot.readable = true;
        }
    }
}
