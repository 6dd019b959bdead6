//! `fix`: rewrites a file so it passes what can be fixed mechanically. Each order's rows
//! are put together (stably: an order stays where its first row was), the byte-order mark
//! goes, every line ends like the header's (a lone CR becomes CRLF), header names get their
//! documented spelling, plain `CustomerEmail` addresses are hashed, values get the repairs
//! of [`repair`] (spaces around them, currency case, unambiguous thousands separators), a
//! UTF-16/32 file with a byte-order mark becomes UTF-8 ([`transcode`]), and empty rows go.
//! Rows are otherwise copied byte for byte.
//!
//! Two passes over the input: the first indexes where each row is (16 bytes a row, one key
//! per order) and which rows need a value repaired or an address hashed, the second writes
//! rows in their new order: those it leaves as they are in runs of rows that were together
//! in the input ([`copy`]), the others parsed again and rewritten. Memory never holds the file. The output can be read (validated) while the second
//! pass writes it.

mod copy;
pub mod follow;
mod index;
mod repair;
mod transcode;

use crate::csv_out::{write_field, write_fields};
use crate::digest::sha256_hex;
use crate::input::{Ending, Record, RecordReader, Sniffed, sniff};
use crate::output::beside;
use crate::template::{self, Kind, Match, Template, ValueType};
use crate::validate::pipeline;
use crate::validate::{self, pipeline::Slot};
use crate::values::looks_like_email;
use anyhow::{Context, Result, bail};
use copy::Copier;
use index::{Index, Place};
use repair::Needs;
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// What `fix` changed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Changes {
    /// The template the file was read with.
    pub template: String,
    /// Data rows written.
    pub rows: u64,
    /// A UTF-8 byte-order mark was removed.
    pub bom: bool,
    /// Line breaks rewritten to match the header's (LF or CRLF).
    pub line_breaks: u64,
    /// The line break every line now ends with.
    pub newline: &'static str,
    /// Header cells respelled: (as written, as documented).
    pub header: Vec<(String, String)>,
    /// Plain email addresses replaced by their SHA-256.
    pub hashed: u64,
    /// Orders whose rows were apart and are now together.
    pub regrouped: u64,
    /// Rows moved to join the rest of their order.
    pub moved: u64,
    /// Empty rows removed.
    pub blank: u64,
    /// The wide encoding the file was converted from, to UTF-8.
    pub converted: Option<&'static str>,
    /// Values whose surrounding spaces or tabs were removed.
    pub trimmed: Tally,
    /// Currency codes written in capitals.
    pub upcased: Tally,
    /// Decimals whose thousands separators were removed.
    pub separators: Tally,
}

/// How many values one repair changed, and the input lines of the first few.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Tally {
    /// Values changed.
    pub count: u64,
    /// Their input lines, the first [`Tally::LINES`] only.
    pub lines: Vec<u64>,
}

impl Tally {
    /// Lines kept for the report.
    pub const LINES: usize = 5;

    fn note(&mut self, line: u64) {
        self.count += 1;
        if self.lines.len() < Self::LINES && self.lines.last() != Some(&line) {
            self.lines.push(line);
        }
    }
}

impl Changes {
    /// True when the output is the input, byte for byte.
    pub fn is_empty(&self) -> bool {
        !self.bom
            && self.line_breaks == 0
            && self.header.is_empty()
            && self.hashed == 0
            && self.moved == 0
            && self.blank == 0
            && self.converted.is_none()
            && self.trimmed.count + self.upcased.count + self.separators.count == 0
    }
}

/// A file removed on drop unless kept.
struct TempFile(Option<PathBuf>);

impl TempFile {
    fn keep(mut self) -> PathBuf {
        self.0.take().unwrap_or_default()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(p) = &self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Fixes `input` (`-`: standard input) into `output`, written atomically; `output` may be
/// `input` itself. `template` is `None` to detect it from the header.
pub fn fix_file(input: &str, output: &Path, template: Option<&Template>) -> Result<Changes> {
    prepare(input, output, template)?.write()
}

/// A file read once (the first pass), ready to be written.
pub struct Rewrite {
    input: String,
    output: PathBuf,
    /// The file the rows are copied from: the input, or its copy when it was a stream.
    path: PathBuf,
    /// The copy of a streamed input, removed when done.
    _spool: Option<TempFile>,
    changes: Changes,
    names: Vec<String>,
    emails: Vec<usize>,
    /// The type of each column whose values get repairs (by column index).
    types: Vec<Option<ValueType>>,
    /// Offsets of the rows with a value to repair or an address to hash, in file order.
    to_rewrite: Vec<u64>,
    newline: &'static [u8],
    index: Index,
    unclosed: Option<u64>,
    /// The temporary output, created early by [`Rewrite::follow`].
    out: Option<(TempFile, follow::Writer)>,
}

/// Reads `input` once: where its rows are and what will change (all but the emails to hash,
/// counted as they are written).
pub fn prepare(input: &str, output: &Path, template: Option<&Template>) -> Result<Rewrite> {
    // The output is replaced by a rename: over a device such as /dev/stdout, a pipe or a
    // folder that would swap the thing itself for a file (or fail late), so it is refused.
    if let Ok(m) = std::fs::metadata(output)
        && !m.is_file()
    {
        let what = if m.is_dir() {
            "a directory"
        } else {
            "not a regular file (a device, pipe or socket)"
        };
        bail!(
            "cannot write {}: it is {what}; fix writes a new file in its place, so give -o a file name",
            output.display()
        );
    }
    // Regrouping reads rows out of order (and the file twice), so standard input, a pipe or
    // any other stream is saved to a file first: opening a FIFO a second time would wait
    // forever for a writer.
    let mut spool = None;
    let stream =
        input == "-" || std::fs::metadata(input).is_ok_and(|m| !m.is_file() && !m.is_dir());
    let path = if stream {
        let p = beside(output, "input");
        let mut f = crate::output::create_fresh(&p)
            .with_context(|| format!("cannot write {}", p.display()))?;
        spool = Some(TempFile(Some(p.clone())));
        let copied = if input == "-" {
            io::copy(&mut io::stdin().lock(), &mut f)
        } else {
            File::open(input).and_then(|mut src| io::copy(&mut src, &mut f))
        };
        copied.with_context(|| format!("cannot read {input}"))?;
        p
    } else {
        PathBuf::from(input)
    };
    let mut changes = Changes::default();
    let path = match convert_wide(&path, input, output, &mut changes)? {
        Some(converted) => {
            spool = Some(converted);
            spool.as_ref().and_then(|t| t.0.clone()).unwrap_or_default()
        }
        None => path,
    };
    let file = File::open(&path).with_context(|| format!("cannot open {input}"))?;
    if file.metadata().is_ok_and(|m| m.is_dir()) {
        bail!("cannot read {input}: it is a directory");
    }
    let mut reader = RecordReader::new(file);
    let header = read_header(&mut reader, input, &mut changes)?;
    let t = template::given_or_detected(template, &header)?;
    let t = t.as_ref();
    changes.template = t.name.clone();
    let names = canonical(t, &header, &mut changes);
    let plan = validate::plan_header(t, names.clone());
    let emails: Vec<usize> = plan
        .checks
        .iter()
        .filter(|&&(_, id)| t.fields[id].ty == ValueType::EmailHash)
        .map(|&(c, _)| c)
        .collect();
    let mut types = vec![None; plan.width()];
    for &(c, id) in &plan.checks {
        types[c] = Some(t.fields[id].ty);
    }
    let newline: &'static [u8] = if reader.ending() == Ending::Lf {
        b"\n"
    } else {
        b"\r\n"
    };
    changes.newline = if newline == b"\n" { "LF" } else { "CRLF" };
    changes.line_breaks += u64::from(reader.ending() == Ending::Cr);
    let columns: Vec<(usize, ValueType)> = (types.iter().enumerate())
        .filter_map(|(c, ty)| Some((c, (*ty)?)))
        .collect();
    let first = FirstPass {
        plan: &plan,
        regroup: t.kind == Kind::Item,
        newline,
        emails: &emails,
        columns: &columns,
    };
    let (index, unclosed, to_rewrite) = first
        .run(&mut reader, &mut changes)
        .with_context(|| format!("cannot read {input}"))?;
    changes.regrouped = index.regrouped;
    changes.moved = index.moved;
    changes.rows = index.len() as u64;
    Ok(Rewrite {
        input: input.to_string(),
        output: output.to_path_buf(),
        path,
        _spool: spool,
        changes,
        names,
        emails,
        types,
        to_rewrite,
        newline,
        index,
        unclosed,
        out: None,
    })
}

/// A UTF-16/32 file with a byte-order mark, converted to UTF-8 into a file beside `output`
/// (removed when done); `None` when `path` is not one.
fn convert_wide(
    path: &Path,
    input: &str,
    output: &Path,
    changes: &mut Changes,
) -> Result<Option<TempFile>> {
    let mut prefix = [0u8; 4];
    let mut f = File::open(path).with_context(|| format!("cannot open {input}"))?;
    let n = f.read(&mut prefix).unwrap_or(0);
    let Sniffed::Wide { name, bom: true } = sniff(&prefix[..n]) else {
        return Ok(None);
    };
    let p = beside(output, "utf8");
    let to =
        crate::output::create_fresh(&p).with_context(|| format!("cannot write {}", p.display()))?;
    let tmp = TempFile(Some(p));
    let src = File::open(path).with_context(|| format!("cannot open {input}"))?;
    transcode::to_utf8(name, src, to)
        .with_context(|| format!("cannot convert {input} from {name} to UTF-8"))?;
    changes.converted = Some(name);
    Ok(Some(tmp))
}

impl Rewrite {
    /// Creates the temporary output now; the reader returned reads it while
    /// [`Rewrite::write`] writes it (on another thread), and fails if the writing does.
    pub fn follow(&mut self) -> Result<follow::Follower> {
        let tmp = TempFile(Some(beside(&self.output, "fix")));
        let path = tmp.0.clone().unwrap_or_default();
        let (writer, follower) = follow::create(&path)
            .with_context(|| format!("cannot write {}", self.output.display()))?;
        self.out = Some((tmp, writer));
        Ok(follower)
    }

    /// Second pass: writes the rows in their new order into a temporary file, syncs it and
    /// moves it over the output; returns what changed.
    pub fn write(mut self) -> Result<Changes> {
        let output = self.output.clone();
        if self.out.is_none() {
            self.follow()?;
        }
        let (tmp, writer) = self.out.take().expect("created above");
        let src = File::open(&self.path).with_context(|| format!("cannot open {}", self.input))?;
        let mut out = BufWriter::with_capacity(64 * 1024, writer);
        let mut rows = Rows {
            src: &src,
            raw: vec![],
            parser: RecordReader::new(io::empty()),
            rec: Record::default(),
            emails: &self.emails,
            types: &self.types,
            value: String::new(),
        };
        let mut copier = Copier::default();
        let changes = &mut self.changes;
        let (newline, unclosed) = (self.newline, self.unclosed);
        let written = (|| -> io::Result<()> {
            write_fields(&mut out, self.names.iter().map(|n| n.as_bytes()))?;
            out.write_all(newline)?;
            // Rows left as they are and next to each other in the input are copied as one
            // run, line breaks and all.
            let mut run: Option<Run> = None;
            let mut end_run = |run: Option<Run>, out: &mut BufWriter<follow::Writer>| match run {
                Some(r) => r.copy(&src, &mut copier, newline, unclosed, out),
                None => Ok(()),
            };
            for place in self.index.in_order() {
                if self.to_rewrite.binary_search(&place.offset).is_ok() {
                    end_run(run.take(), &mut out)?;
                    changes.hashed += rows.rewrite(place, &mut out)?;
                    out.write_all(newline)?;
                } else if let Some(r) = run.as_mut().filter(|r| r.joins(place, newline)) {
                    r.last = place;
                } else {
                    end_run(run.replace(Run::at(place)), &mut out)?;
                }
            }
            end_run(run, &mut out)?;
            let file = out.into_inner().map_err(|e| e.into_error())?.complete();
            file.sync_all()
        })();
        written.with_context(|| format!("cannot write {}", output.display()))?;
        std::fs::rename(tmp.keep(), &output)
            .with_context(|| format!("cannot write {}", output.display()))?;
        Ok(self.changes)
    }
}

/// Reads up to the header; returns its cells.
fn read_header<R: Read>(
    reader: &mut RecordReader<R>,
    input: &str,
    changes: &mut Changes,
) -> Result<Vec<String>> {
    let prefix = reader
        .peek_prefix(4)
        .with_context(|| format!("cannot read {input}"))?;
    match sniff(prefix) {
        Sniffed::Utf8 => {}
        Sniffed::Utf8Bom(n) => {
            reader.skip(n);
            changes.bom = true;
        }
        Sniffed::Wide { name, .. } => bail!(
            "{input} is {name}; fix reads UTF-8 only: convert it first, e.g. `iconv -f {name} -t UTF-8 {input} > utf8.csv`"
        ),
    }
    let mut rec = Record::default();
    loop {
        if !reader
            .read(&mut rec)
            .with_context(|| format!("cannot read {input}"))?
        {
            if changes.blank > 0 {
                bail!(
                    "{input} has no header to fix: it holds only empty rows ({})",
                    crate::report::plural(changes.blank, "row")
                );
            }
            bail!("{input} is empty: there is no header to fix");
        }
        if !rec.is_blank() {
            break;
        }
        changes.blank += 1;
    }
    if rec.invalid_utf8.is_some()
        || rec.nul.is_some()
        || rec.malformed.is_some()
        || rec.cut.is_some()
        || rec.len() > crate::input::MAX_FIELDS
    {
        bail!(
            "the header of {input} (line {}) cannot be read as CSV text; `convsubmit validate {input}` says why",
            rec.line()
        );
    }
    Ok((0..rec.len()).map(|i| rec.get(i).to_string()).collect())
}

/// The header with every known column in its documented spelling (surrounding spaces
/// removed, letter case corrected; aliases stay aliases).
fn canonical(t: &Template, header: &[String], changes: &mut Changes) -> Vec<String> {
    header
        .iter()
        .map(|cell| {
            let trimmed = cell.trim();
            let fixed = match t.find(trimmed) {
                Some(Match::Exact(_)) => trimmed,
                Some(Match::OtherCase(id)) => t.spelling_like(id, trimmed),
                None => cell.as_str(),
            };
            if fixed != cell {
                changes.header.push((cell.clone(), fixed.to_string()));
            }
            fixed.to_string()
        })
        .collect()
}

/// What the first pass needs to know.
struct FirstPass<'a> {
    plan: &'a validate::HeaderPlan,
    /// Group each order's rows (item-level files).
    regroup: bool,
    newline: &'a [u8],
    /// The columns whose plain addresses are hashed.
    emails: &'a [usize],
    /// The columns whose values get repairs, with their types.
    columns: &'a [(usize, ValueType)],
}

impl FirstPass<'_> {
    /// Where each data row is, grouped by order when `regroup`; the offset of the row whose
    /// quoted value never closes (it runs to the end of the file), if any; and the offsets of
    /// the rows with a value to repair or an address to hash.
    fn run<R: Read + Send>(
        &self,
        reader: &mut RecordReader<R>,
        changes: &mut Changes,
    ) -> Result<(Index, Option<u64>, Vec<u64>)> {
        let mut found = Found::default();
        // Records are parsed on a thread of their own, while this one indexes them.
        pipeline::run(reader, None, |batches, free| -> Result<()> {
            for mut batch in batches {
                for slot in batch.rows() {
                    self.row(slot, &mut found, changes)?;
                }
                if let Some(e) = batch.error.take() {
                    return Err(e.into());
                }
                // The reading thread may have ended: then there is nothing to reuse it for.
                let _ = free.send(batch);
            }
            Ok(())
        })?;
        Ok((found.index, found.unclosed, found.to_rewrite))
    }

    /// Notes one record.
    fn row(&self, slot: &Slot, found: &mut Found, changes: &mut Changes) -> Result<()> {
        let rec = &slot.rec;
        if rec.is_blank() && rec.malformed.is_none() {
            changes.blank += 1;
            return Ok(());
        }
        let whole = match slot.ending {
            Ending::Lf => self.newline == b"\n",
            Ending::CrLf => self.newline == b"\r\n",
            Ending::Eof | Ending::Cr => false,
        };
        changes.line_breaks += u64::from(!whole && slot.ending != Ending::Eof);
        let readable = rec.invalid_utf8.is_none() && rec.malformed.is_none();
        let key = &mut found.key;
        let keyed = self.regroup && readable && self.plan.trimmed_order_key(rec, key);
        let offset = rec.start.map_or(0, |s| s.byte);
        if rec.unclosed {
            found.unclosed = Some(offset);
        }
        // A row too long to be kept whole (validation says why) is copied as it is.
        if readable
            && rec.nul.is_none()
            && rec.cut.is_none()
            && (self.note_repairs(rec, changes) | self.plain_email(rec))
        {
            found.to_rewrite.push(offset);
        }
        let place = Place {
            offset,
            len: slot.len,
            whole,
        };
        (found.index)
            .push(place, keyed.then_some(key.as_slice()))
            .map_err(anyhow::Error::msg)
    }

    /// The row has a plain address to hash.
    fn plain_email(&self, rec: &Record) -> bool {
        self.emails.iter().any(|&c| plain_address(rec, c))
    }

    /// Counts the repairs the row's values need; true when there is any.
    fn note_repairs(&self, rec: &Record, changes: &mut Changes) -> bool {
        let mut any = false;
        // Without quotes, spaces or tabs in the line, only a currency's case can need a repair
        // (a value with a comma is quoted).
        let bare = rec
            .verbatim()
            .is_some_and(|raw| memchr::memchr2(b' ', b'\t', raw).is_none());
        let columns = (self.columns.iter())
            .filter(|&&(c, ty)| c < rec.len() && (!bare || ty == ValueType::Currency));
        for &(c, ty) in columns {
            let value = rec.get(c);
            let n = repair::needs(ty, value);
            // A plain address is hashed (trimmed first), not repaired.
            if n.is_empty() || ty == ValueType::EmailHash && looks_like_email(value.trim()) {
                continue;
            }
            any = true;
            let line = rec.line();
            for (kind, tally) in [
                (Needs::TRIM, &mut changes.trimmed),
                (Needs::UPPER, &mut changes.upcased),
                (Needs::SEPARATORS, &mut changes.separators),
            ] {
                if n.has(kind) {
                    tally.note(line);
                }
            }
        }
        any
    }
}

/// Rows next to each other in the input, copied as they are.
#[derive(Debug, Clone, Copy)]
struct Run {
    first: Place,
    last: Place,
}

impl Run {
    fn at(place: Place) -> Run {
        Run {
            first: place,
            last: place,
        }
    }

    /// `place` is the row right after the run's last one, which ends in the output's line
    /// break (nothing else, such as an empty row, is between them).
    fn joins(&self, place: Place, newline: &[u8]) -> bool {
        self.last.whole && self.last.offset + self.last.len + newline.len() as u64 == place.offset
    }

    /// Writes the run, then a line break after its last row if the input had none (or a
    /// different one) there; none after a row whose quote never closes (it would join the
    /// quoted value, and be one more on every run).
    fn copy(
        self,
        src: &File,
        copier: &mut Copier,
        newline: &[u8],
        unclosed: Option<u64>,
        out: &mut BufWriter<follow::Writer>,
    ) -> io::Result<()> {
        let whole = if self.last.whole {
            newline.len() as u64
        } else {
            0
        };
        let len = self.last.offset + self.last.len + whole - self.first.offset;
        out.flush()?;
        out.get_mut()
            .copy_from(copier, src, self.first.offset, len)?;
        if !self.last.whole && unclosed != Some(self.last.offset) {
            out.write_all(newline)?;
        }
        Ok(())
    }
}

/// What the first pass found.
#[derive(Default)]
struct Found {
    index: Index,
    /// The row whose quoted value never closes.
    unclosed: Option<u64>,
    /// The rows to rewrite, in file order.
    to_rewrite: Vec<u64>,
    /// The last order key, reused.
    key: Vec<u8>,
}

/// Second pass: rewrites the rows with a value to repair or an address to hash.
struct Rows<'a> {
    src: &'a File,
    raw: Vec<u8>,
    parser: RecordReader<io::Empty>,
    rec: Record,
    emails: &'a [usize],
    types: &'a [Option<ValueType>],
    /// A repaired value, reused.
    value: String,
}

impl Rows<'_> {
    /// Writes the row at `place` (no line break) with its values repaired and its plain
    /// addresses hashed; returns how many it hashed.
    fn rewrite(&mut self, place: Place, out: &mut impl Write) -> io::Result<u64> {
        let len = usize::try_from(place.len).map_err(io::Error::other)?;
        self.raw.resize(len, 0);
        copy::read_exact_at(self.src, &mut self.raw, place.offset)?;
        self.parser.load(&self.raw);
        let rec = &mut self.rec;
        if !self.parser.read(rec)?
            || rec.malformed.is_some()
            || rec.invalid_utf8.is_some()
            || rec.nul.is_some()
        {
            out.write_all(&self.raw)?;
            return Ok(0);
        }
        let mut hashed = 0;
        for i in 0..rec.len() {
            if i > 0 {
                out.write_all(b",")?;
            }
            let ty = self.types.get(i).copied().flatten();
            if self.emails.contains(&i) && plain_address(rec, i) {
                let email = rec.get(i).trim().to_lowercase();
                out.write_all(sha256_hex(email.as_bytes()).as_bytes())?;
                hashed += 1;
            } else if let Some(ty) = ty.filter(|&ty| !repair::needs(ty, rec.get(i)).is_empty()) {
                repair::apply(ty, rec.get(i), &mut self.value);
                write_field(out, self.value.as_bytes())?;
            } else {
                write_field(out, rec.bytes(i))?;
            }
        }
        Ok(hashed)
    }
}

/// Column `c` holds a plain address (spaces around it allowed), which `fix` hashes.
fn plain_address(rec: &Record, c: usize) -> bool {
    c < rec.len() && looks_like_email(rec.get(c).trim())
}
