//! The validation engine: reads one input once, record by record, and streams every finding
//! to a sink as it is found. Memory is bounded by the number of distinct orders.

mod header;
mod orders;
pub(crate) mod pipeline;
mod row;
mod similar;

pub use header::HeaderPlan;
pub use orders::{OrderOf, OrderTally, describe as describe_order, order_of};
pub use row::{MAX_AGE_DAYS, MAX_AGE_WITH_MEDIA_DAYS, MAX_FUTURE_DAYS};

use crate::diagnostic::{Code, Diagnostic, Severity};
use crate::input::{
    Ending, MAX_FIELDS, MAX_RECORD_BYTES, Malformed, Record, RecordReader, Sniffed, Spot, sniff,
};
use crate::template::{self, Template};
use crate::values::date::Day;
use std::io::{self, Read};

/// Default for `--max-rows`: impact.com's recommended rows per file.
pub const DEFAULT_MAX_ROWS: u64 = 10_000;

/// How to validate.
pub struct Options {
    /// The template, or `None` to detect one per file.
    pub template: Option<Template>,
    /// Ages are counted to this UTC day.
    pub as_of: Day,
    /// Most rows one order may have.
    pub max_rows: u64,
}

pub use crate::diagnostic::FileReport;

/// Why validating a file stopped early.
#[derive(Debug)]
pub enum Failure {
    /// The input could not be read.
    Read(io::Error),
    /// The report could not be written.
    Write(io::Error),
}

/// The header as the engine read it, for a [`RowSink`].
pub struct HeaderSeen<'a> {
    /// The header's bytes as in the input, without its line break.
    pub raw: &'a [u8],
    /// How the header line ended.
    pub ending: Ending,
    /// Its physical line.
    pub line: u64,
    /// The template in use.
    pub template: &'a Template,
    /// Column roles, and the order key.
    pub plan: &'a HeaderPlan,
}

/// A data row after its checks, for a [`RowSink`]. Blank rows are not passed on.
pub struct RowSeen<'a> {
    /// The parsed fields.
    pub record: &'a Record,
    /// The row's bytes as in the input, without its line break.
    pub raw: &'a [u8],
    /// Physical line where the row starts.
    pub line: u64,
    /// Physical lines the row spans (more than 1 when a quoted value holds line breaks).
    pub lines: u64,
    /// The order key, for item-level rows with an OrderId: consecutive rows with the same key
    /// are one order (as the order rules saw them).
    pub key: Option<&'a [u8]>,
    /// The order had rows earlier in the file, apart from this run of rows.
    pub apart: bool,
    /// The order the row counts towards, for any template ([`order_of`]).
    pub order: OrderOf<'a>,
    /// The OrderId as written (empty when there is none).
    pub order_id: &'a str,
    /// The first error found on this row, if any.
    pub error: Option<&'a Diagnostic>,
    /// The UTC day of its EventDate (`NOW`: the as-of day), when one could be read.
    pub event_day: Option<Day>,
    /// A MediaId or MediaPartnerId value is present.
    pub media: bool,
}

/// Receives every row of a file as it is checked (e.g. to write the good ones out).
pub trait RowSink {
    /// The header was read and matched to a template.
    fn header(&mut self, header: &HeaderSeen) -> io::Result<()>;
    /// One data row, after every check on it.
    fn row(&mut self, row: &RowSeen) -> io::Result<()>;
    /// False when [`RowSeen::error`] is not needed (saves a copy per bad row).
    fn wants_errors(&self) -> bool {
        true
    }
}

/// A [`RowSink`] that ignores everything (plain validation).
struct NoRows;

impl RowSink for NoRows {
    fn header(&mut self, _: &HeaderSeen) -> io::Result<()> {
        Ok(())
    }
    fn row(&mut self, _: &RowSeen) -> io::Result<()> {
        Ok(())
    }
    fn wants_errors(&self) -> bool {
        false
    }
}

/// Matches a header to `t`, as validation does, without reporting anything.
pub fn plan_header(t: &Template, cells: Vec<String>) -> HeaderPlan {
    header::plan(t, cells, 1, &mut |_| {})
}

/// Counts findings and passes them on; remembers the first write error.
struct Emitter<'a> {
    report: &'a mut FileReport,
    sink: &'a mut dyn FnMut(&Diagnostic) -> io::Result<()>,
    failed: Option<io::Error>,
    /// Keep the first error of each row (only when rows are passed on).
    keep_row_error: bool,
    row_error: Option<Diagnostic>,
}

impl Emitter<'_> {
    fn emit(&mut self, d: Diagnostic) {
        match d.severity {
            Severity::Error => self.report.errors += 1,
            Severity::Warning => self.report.warnings += 1,
            Severity::Info => self.report.infos += 1,
        }
        if self.keep_row_error
            && d.severity == Severity::Error
            && d.row.is_some()
            && self.row_error.is_none()
        {
            self.row_error = Some(d.clone());
        }
        if self.failed.is_none()
            && let Err(e) = (self.sink)(&d)
        {
            self.failed = Some(e);
        }
    }

    fn check(&mut self) -> Result<(), Failure> {
        self.failed
            .take()
            .map_or(Ok(()), |e| Err(Failure::Write(e)))
    }
}

/// Validates one input. `name` is what reports call it; `extension` is the file name to
/// check for `.csv` (`None` for stdin). `progress` receives the bytes read so far.
///
/// Returns what was found so far even when reading or writing failed part-way.
pub fn check(
    name: &str,
    extension: Option<&str>,
    src: impl Read + Send,
    opts: &Options,
    progress: &mut dyn FnMut(u64),
    sink: &mut dyn FnMut(&Diagnostic) -> io::Result<()>,
) -> (FileReport, Result<(), Failure>) {
    check_rows(name, extension, src, opts, progress, sink, &mut NoRows)
}

/// [`check`], also passing the header and every data row to `rows` as they are checked.
/// A write error from `rows` stops the run as [`Failure::Write`].
pub fn check_rows(
    name: &str,
    extension: Option<&str>,
    src: impl Read + Send,
    opts: &Options,
    progress: &mut dyn FnMut(u64),
    sink: &mut dyn FnMut(&Diagnostic) -> io::Result<()>,
    rows: &mut dyn RowSink,
) -> (FileReport, Result<(), Failure>) {
    let mut report = FileReport {
        path: name.to_string(),
        ..FileReport::default()
    };
    let mut em = Emitter {
        report: &mut report,
        sink,
        failed: None,
        keep_row_error: rows.wants_errors(),
        row_error: None,
    };
    let outcome =
        check_into(&mut em, extension, src, opts, progress, rows).and_then(|()| em.check());
    (report, outcome)
}

fn check_into(
    em: &mut Emitter,
    extension: Option<&str>,
    src: impl Read + Send,
    opts: &Options,
    progress: &mut dyn FnMut(u64),
    rows: &mut dyn RowSink,
) -> Result<(), Failure> {
    if let Some(file) = extension
        && !file.to_ascii_lowercase().ends_with(".csv")
    {
        em.emit(Diagnostic::new(
            Code::FileExtension,
            "the file name does not end in .csv; impact.com processes only .csv and .xml files (Records shows 0)",
            "rename the file to end in .csv before submitting it",
        ));
    }
    let mut reader = RecordReader::new(src);
    if !start(&mut reader, em)? {
        return Ok(());
    }
    run(&mut reader, opts, em, progress, rows)
}

/// Handles byte-order marks and wide encodings. Returns false when the file cannot be read.
fn start<R: Read>(reader: &mut RecordReader<R>, em: &mut Emitter) -> Result<bool, Failure> {
    let prefix = reader.peek_prefix(4).map_err(Failure::Read)?;
    match sniff(prefix) {
        Sniffed::Utf8 => Ok(true),
        Sniffed::Utf8Bom(n) => {
            reader.skip(n);
            em.emit(
                Diagnostic::new(
                    Code::Bom,
                    "the file starts with a UTF-8 byte-order mark; it is accepted and ignored",
                    "nothing to do; saving the file as UTF-8 without BOM removes it",
                )
                .at_line(1),
            );
            Ok(true)
        }
        Sniffed::Wide { name, bom } => {
            let how = if bom {
                "its byte-order mark says"
            } else {
                "its NUL bytes show"
            };
            let help = if bom {
                format!(
                    "`convsubmit fix in.csv -o out.csv` converts it to UTF-8 (or `iconv -f {name} -t UTF-8 in.csv > out.csv`)"
                )
            } else {
                format!("save the file as UTF-8, e.g. `iconv -f {name} -t UTF-8 in.csv > out.csv`")
            };
            em.emit(Diagnostic::new(
                Code::InvalidEncoding,
                format!("the file is {name} ({how} so); impact.com reads UTF-8"),
                help,
            ));
            Ok(false)
        }
    }
}

fn run<R: Read + Send>(
    reader: &mut RecordReader<R>,
    opts: &Options,
    em: &mut Emitter,
    progress: &mut dyn FnMut(u64),
    rows: &mut dyn RowSink,
) -> Result<(), Failure> {
    let mut rec = Record::default();
    let Some(header_line) = read_header(reader, &mut rec, em)? else {
        return Ok(());
    };
    let cells: Vec<String> = (0..rec.len()).map(|i| rec.lossy(i).into_owned()).collect();
    let t = template::given_or_detected(opts.template.as_ref(), &cells)
        .map_err(|e| Failure::Read(io::Error::other(e)))?;
    let t = t.as_ref();
    em.report.template = Some(t.name.clone());
    let plan = header::plan(t, cells, header_line, &mut |d| em.emit(d));
    let seen = HeaderSeen {
        raw: reader.raw(),
        ending: reader.ending(),
        line: header_line,
        template: t,
        plan: &plan,
    };
    rows.header(&seen).map_err(Failure::Write)?;
    let mut orders = orders::Orders::new(t.kind, opts.max_rows);
    let checks = pipeline::Checks {
        template: t,
        plan: &plan,
        as_of: opts.as_of,
    };
    let mut needed = vec![None; plan.deferred.len()];
    pipeline::run(reader, Some(&checks), |batches, free| {
        for mut batch in batches {
            for slot in batch.rows() {
                note_needed(&plan, slot, &mut needed);
                track(slot, &plan, &mut orders, em, rows)?;
            }
            progress(batch.offset);
            em.check()?;
            if let Some(e) = batch.error.take() {
                return Err(Failure::Read(e));
            }
            // The reading thread may have ended: then there is nothing to reuse it for.
            let _ = free.send(batch);
        }
        Ok(())
    })?;
    em.report.orders = orders.count();
    let missing: Vec<String> = (plan.deferred.iter().zip(&needed))
        .filter_map(|(d, n)| {
            let (col, value) = (&plan.names[d.unless.0], &d.unless.1);
            let line = (*n)?;
            Some(format!(
                "{} (line {line}: `{col}` is not `{value}`)",
                d.label
            ))
        })
        .collect();
    if !missing.is_empty() {
        let labels: Vec<&str> = missing.iter().map(String::as_str).collect();
        em.emit(header::missing_column(t, &labels, header_line));
    }
    if em.report.rows == 0 {
        em.emit(Diagnostic::new(
            Code::NoRows,
            "the file has a header but no data rows",
            "add conversion rows below the header, or do not submit this file",
        ));
    }
    Ok(())
}

/// Notes which missing columns this row needs (a row that is not waived by its `unless`).
/// Keeps the first line of each.
fn note_needed(plan: &HeaderPlan, slot: &pipeline::Slot, needed: &mut [Option<u64>]) {
    if slot.blank || !slot.readable {
        return;
    }
    for (d, n) in plan.deferred.iter().zip(needed.iter_mut()) {
        let (col, value) = &d.unless;
        if n.is_none() && slot.rec.get(*col).trim() != value {
            *n = Some(slot.rec.line());
        }
    }
}

/// Reports one checked row, tracks its order and passes it on.
fn track(
    slot: &mut pipeline::Slot,
    plan: &HeaderPlan,
    orders: &mut orders::Orders,
    em: &mut Emitter,
    rows: &mut dyn RowSink,
) -> Result<(), Failure> {
    let rec = &slot.rec;
    let (line, row) = (rec.line(), slot.row);
    if slot.blank {
        em.emit(blank(line, "in the data").at_row(line, row));
        return Ok(());
    }
    em.report.rows += 1;
    em.row_error = None;
    for d in slot.found.drain(..) {
        em.emit(d);
    }
    if slot.readable {
        orders.row(plan, rec, line, row, &mut |d| em.emit(d));
    }
    let readable = slot.readable;
    let seen = RowSeen {
        record: rec,
        raw: slot.raw(),
        line,
        lines: slot.lines,
        key: if readable { orders.last_key() } else { None },
        apart: readable && orders.last_apart(),
        order: if readable {
            orders.last_order()
        } else {
            OrderOf::Nothing
        },
        order_id: match plan.order_id {
            Some(c) if readable => rec.get(c),
            _ => "",
        },
        error: em.row_error.as_ref(),
        event_day: slot.observed.event_day,
        media: slot.observed.media,
    };
    rows.row(&seen).map_err(Failure::Write)
}

/// Reads up to the header (skipping blank lines). Returns its line, or `None` when the file
/// has no header or the header cannot be read as text.
fn read_header<R: Read>(
    reader: &mut RecordReader<R>,
    rec: &mut Record,
    em: &mut Emitter,
) -> Result<Option<u64>, Failure> {
    loop {
        if !reader.read(rec).map_err(Failure::Read)? {
            em.emit(Diagnostic::new(
                Code::NoRows,
                "the file is empty: no header and no data rows",
                "export the file again; it should start with a header line such as CampaignId,ActionTrackerId,…",
            ));
            return Ok(None);
        }
        if !rec.is_blank() {
            break;
        }
        em.emit(blank(rec.line(), "before the header"));
    }
    let line = rec.line();
    if rec.len() > MAX_FIELDS {
        em.emit(
            Diagnostic::new(
                Code::ValueTooLong,
                // Reading stopped there: the count is only where it stopped.
                format!("the header has over {MAX_FIELDS} columns: this is not a batch file"),
                "check that this is the CSV export you meant to send",
            )
            .at_line(line),
        );
        return Ok(None);
    }
    if rec.cut.is_some() {
        em.emit(
            Diagnostic::new(
                Code::ValueTooLong,
                format!(
                    "the header is over {} MiB long: this is not a batch file",
                    MAX_RECORD_BYTES >> 20
                ),
                "check that this is the CSV export you meant to send",
            )
            .at_line(line),
        );
        return Ok(None);
    }
    if rec.nul.is_some() || rec.invalid_utf8.is_some() {
        if let Some(d) = unreadable(rec, rec.len()) {
            em.emit(d.at_line(line));
        }
        return Ok(None);
    }
    if let Some(d) = malformed(rec) {
        em.emit(d.at_line(line));
    }
    Ok(Some(line))
}

fn blank(line: u64, where_: &str) -> Diagnostic {
    Diagnostic::new(
        Code::BlankRow,
        format!("empty row {where_}; it is skipped"),
        "remove the empty line",
    )
    .at_line(line)
}

/// The diagnostic for a record longer than the reader keeps ([`MAX_RECORD_BYTES`]).
fn cut(rec: &Record, plan: &HeaderPlan) -> Option<Diagnostic> {
    let cut = rec.cut?;
    let kept = MAX_RECORD_BYTES >> 20;
    let d = match plan.names.get(cut.field) {
        Some(name) => Diagnostic::new(
            Code::ValueTooLong,
            format!(
                "`{name}` is {} characters long; no impact.com value comes near that, and only the first {kept} MiB of a row are read",
                cut.chars
            ),
            "look for a quote that is never closed before this value, or a file pasted into a cell",
        )
        .column(name),
        None => Diagnostic::new(
            Code::ValueTooLong,
            format!(
                "field {} is {} characters long, past the header's {} columns",
                cut.field + 1,
                cut.chars,
                plan.width()
            ),
            "look for a quote that is never closed, or a file pasted into a cell",
        ),
    };
    // Shortened for display as any long value is, but with the length of the whole.
    let start: String = (rec.lossy(cut.field).chars())
        .take(crate::escape::MAX_DISPLAY_CHARS)
        .collect();
    let mut d = d;
    d.value = Some(format!(
        "{}… ({} bytes in all)",
        crate::escape::controls(&start),
        cut.bytes
    ));
    Some(d)
}

/// The diagnostic for a record that gets no other check: not text, not parseable, or of the
/// wrong width.
fn unreadable(rec: &Record, width: usize) -> Option<Diagnostic> {
    if let Some(spot) = rec.nul {
        return Some(encoding(
            rec,
            spot,
            "a NUL byte",
            "the file looks binary or UTF-16; save it as UTF-8 text",
        ));
    }
    if let Some(spot) = rec.invalid_utf8 {
        return Some(encoding(
            rec,
            spot,
            "bytes that are not UTF-8",
            "save the file as UTF-8 (a Windows-1252 or Latin-1 export shows up like this)",
        ));
    }
    if let Some(d) = malformed(rec) {
        return Some(d);
    }
    if rec.len() != width {
        let (n, w) = (rec.len(), width);
        return Some(Diagnostic::new(
            Code::WrongFieldCount,
            format!(
                "row has {n} field{} but the header has {w}",
                if n == 1 { "" } else { "s" }
            ),
            "quote values that contain commas, and give every row one value per header column",
        ));
    }
    None
}

fn encoding(rec: &Record, spot: Spot, what: &str, help: &str) -> Diagnostic {
    let on = if spot.line == rec.line() {
        String::new()
    } else {
        format!(" on line {}", spot.line)
    };
    Diagnostic::new(
        Code::InvalidEncoding,
        format!("{what} at byte offset {}{on}", spot.byte),
        help,
    )
}

fn malformed(rec: &Record) -> Option<Diagnostic> {
    let (kind, spot) = rec.malformed?;
    let on = if spot.line == rec.line() {
        String::new()
    } else {
        format!(" (line {})", spot.line)
    };
    let quote_help = "quote the whole value and double any quote inside it: \"15\"\" screen\"";
    Some(match kind {
        Malformed::StrayQuote => Diagnostic::new(
            Code::MalformedCsv,
            format!(
                "a quote inside an unquoted value at byte offset {}{on}",
                spot.byte
            ),
            quote_help,
        ),
        Malformed::TextAfterQuote => Diagnostic::new(
            Code::MalformedCsv,
            format!(
                "text after the closing quote of a value at byte offset {}{on}",
                spot.byte
            ),
            quote_help,
        ),
        Malformed::UnterminatedQuote => Diagnostic::new(
            Code::MalformedCsv,
            "a quoted value that starts in this row is never closed; the rest of the file was read into it",
            "close the quote, and double any quote inside a quoted value",
        ),
    })
}

#[cfg(test)]
mod tests {
    //! Engine-level properties over many mutated inputs: never a panic, counts that add up,
    //! and line numbers that point inside the input.

    use super::*;
    use crate::values::date::parse_day;

    /// xorshift64*: deterministic, so a failure is reproducible from its seed.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    const SEED_FILE: &str = "CampaignId,ActionTrackerId,EventDate,OrderId,ClickId,CustomerEmail,CurrencyCode,Amount,Category,Sku,Quantity,MediaPartnerId\n\
        1000,12345,2026-06-20T12:00:00Z,ORD-1,abc,e2d6a40c8b4d3e6a2779ba1802ef29d13940a051,USD,10.00,Toys,SKU-1,2,\n\
        1000,12345,2026-06-20T12:00:00Z,ORD-1,abc,,USD,\"5,00\",Toys,SKU-2,1,\n\
        1000,12345,2025-01-01,ORD-2,\"x\ny\",jane@example.com,EUR,7,Books,SKU-3,1,778899\n";

    /// Bytes that stress the tokenizer and the value parsers.
    const NASTY: &[&[u8]] = &[
        b"\"",
        b",",
        b"\n",
        b"\r",
        b"\r\n",
        b"\0",
        b"\xff",
        b"\xc3",
        b"\xef\xbb\xbf",
        b"\xe2\x80\xae",
        b"NOW",
        b"-",
        b".",
        b"9999999999999999999",
        b"@",
        b" ",
        b"\t",
        b"\"\"",
    ];

    fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
        let mut out = input.to_vec();
        for _ in 0..1 + rng.below(6) {
            let at = rng.below(out.len() + 1);
            match rng.below(3) {
                0 => {
                    let piece = NASTY[rng.below(NASTY.len())];
                    out.splice(at..at, piece.iter().copied());
                }
                1 if at < out.len() => {
                    let end = (at + 1 + rng.below(8)).min(out.len());
                    out.drain(at..end);
                }
                _ => out.truncate(at),
            }
        }
        out
    }

    fn run(input: &[u8], template: Option<&Template>) -> (FileReport, Vec<Diagnostic>) {
        let opts = Options {
            template: template.cloned(),
            as_of: parse_day("2026-06-30").unwrap(),
            max_rows: 2,
        };
        let mut found = vec![];
        let (report, outcome) = check(
            "f.csv",
            Some("f.csv"),
            input,
            &opts,
            &mut |_| {},
            &mut |d| {
                found.push(d.clone());
                Ok(())
            },
        );
        assert!(outcome.is_ok());
        (report, found)
    }

    #[test]
    fn mutated_files_never_panic_and_counts_add_up() {
        let mut rng = Rng(0x5eed_cafe);
        let load = |n| Some(template::load(n).unwrap());
        let templates = [
            None,
            load("order-level"),
            load("chained"),
            load("modification"),
        ];
        for case in 0..3000 {
            let input = mutate(&mut rng, SEED_FILE.as_bytes());
            let (report, found) = run(&input, templates[case % templates.len()].as_ref());
            let count = |s: Severity| found.iter().filter(|d| d.severity == s).count() as u64;
            assert_eq!(report.errors, count(Severity::Error), "case {case}");
            assert_eq!(report.warnings, count(Severity::Warning), "case {case}");
            let lines = 1 + crate::input::count_line_breaks(&input);
            for d in &found {
                assert_eq!(d.severity, d.code.severity());
                assert!(
                    d.line.is_none_or(|l| l >= 1 && l <= lines),
                    "case {case}: {d:?}"
                );
                assert!(
                    d.row.is_none_or(|r| d.line.is_some_and(|l| l > r)),
                    "case {case}: {d:?}"
                );
                let shown = [&d.message, &d.help].into_iter().chain(d.value.iter());
                assert!(
                    shown.flat_map(|s| s.chars()).all(|c| !c.is_control()),
                    "case {case}: {d:?}"
                );
            }
        }
    }

    #[test]
    fn the_seed_file_finds_what_it_should() {
        let (report, found) = run(SEED_FILE.as_bytes(), None);
        let codes: Vec<(u64, &str)> = found
            .iter()
            .map(|d| (d.line.unwrap_or(0), d.code.as_str()))
            .collect();
        assert_eq!(report.template.as_deref(), Some("item-level"));
        assert_eq!((report.rows, report.orders), (3, 2));
        assert_eq!(
            codes,
            [
                (3, "invalid-number"),
                (3, "inconsistent-order"),
                (4, "event-expired"),
                (4, "plaintext-email"),
            ]
        );
    }
}
