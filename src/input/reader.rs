//! A streaming RFC 4180 record reader that knows where every record starts.
//!
//! The `csv` crate counts only `\n` as a line break and silently accepts an unterminated
//! quote, so it can report neither the physical line of a record in a CR-only file nor a
//! broken quote. This reader counts `\n`, `\r\n` and a lone `\r` as one line each, keeps the
//! raw bytes of the current record contiguous (for exact UTF-8 error offsets), reuses its
//! buffers across records and never holds more than the largest record in memory.

use std::io::{self, Read};

const INITIAL_CAPACITY: usize = 64 * 1024;

/// Most bytes of one record kept in memory. No impact.com value comes near this; a longer
/// record (a runaway quote, a binary blob) is read to its end but only this much is kept, so
/// memory stays bounded whatever the input.
pub const MAX_RECORD_BYTES: usize = 16 << 20;

/// Most fields of one record kept apart (about 8 bytes each). Fields past this are counted,
/// and read as empty, so that a line of nothing but commas cannot take gigabytes.
pub const MAX_FIELDS: usize = 1 << 20;

/// Why a record could not be parsed unambiguously.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malformed {
    /// A quoted field is still open at the end of the input.
    UnterminatedQuote,
    /// A `"` inside a field that did not start with one.
    StrayQuote,
    /// Text between a closing `"` and the next comma or line end.
    TextAfterQuote,
}

/// Where in the input something was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spot {
    /// Physical 1-based line.
    pub line: u64,
    /// 0-based byte offset from the start of the input.
    pub byte: u64,
}

/// One record, with its fields unquoted into a reused buffer, each followed by a separator
/// byte (so that a line without quotes can be copied in one piece).
#[derive(Debug, Default)]
pub struct Record {
    fields: Vec<u8>,
    ends: Vec<usize>,
    /// Where the record starts.
    pub start: Option<Spot>,
    /// The first parse problem in the record, if any.
    pub malformed: Option<(Malformed, Spot)>,
    /// A quoted value was still open at the end of the input (also after an earlier
    /// problem, which `malformed` names instead).
    pub unclosed: bool,
    /// Where the first byte that is not UTF-8 is, if any.
    pub invalid_utf8: Option<Spot>,
    /// Where the first NUL byte is, if any.
    pub nul: Option<Spot>,
    /// Set when the record was longer than [`MAX_RECORD_BYTES`] and was cut.
    pub cut: Option<Cut>,
    /// The fields are the record's raw bytes (no quotes): see [`Record::verbatim`].
    verbatim: bool,
    /// Fields past [`MAX_FIELDS`]: counted, not kept.
    uncounted: usize,
    /// Reading stopped inside this record (a header past the limits): it is not blank,
    /// whatever was read of it, and nothing after it is read.
    stopped: bool,
}

/// The field at which a record over [`MAX_RECORD_BYTES`] was cut, and its real length. Fields
/// after it are kept empty (their count stays right); the record's raw bytes are lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cut {
    /// 0-based field.
    pub field: usize,
    /// Its length in bytes…
    pub bytes: u64,
    /// …and in characters (UTF-8 sequences).
    pub chars: u64,
}

/// Characters in `bytes`, counting every byte that does not continue a UTF-8 sequence.
fn count_chars(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| (b as i8) >= -0x40).count() as u64
}

impl Record {
    /// The record's raw bytes (without its line break) when its fields hold them unchanged, as
    /// for any record without quotes: saves keeping a copy.
    pub fn verbatim(&self) -> Option<&[u8]> {
        // Each field is followed by one separator byte: a comma, as in the input, except last.
        self.verbatim
            .then(|| &self.fields[..self.fields.len().saturating_sub(1)])
    }

    /// Bytes its buffers hold on to.
    pub fn capacity(&self) -> usize {
        self.fields.capacity() + self.ends.capacity() * std::mem::size_of::<usize>()
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.ends.len() + self.uncounted
    }

    /// True for a record without fields (never returned by the reader).
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The raw bytes of field `i`.
    #[inline]
    pub fn bytes(&self, i: usize) -> &[u8] {
        let Some(&end) = self.ends.get(i) else {
            // Past MAX_FIELDS.
            return &[];
        };
        let start = if i == 0 { 0 } else { self.ends[i - 1] + 1 };
        &self.fields[start..end]
    }

    /// Field `i` as text; empty when the record is not valid UTF-8 (callers check
    /// [`Record::invalid_utf8`] first).
    #[inline]
    pub fn get(&self, i: usize) -> &str {
        if self.invalid_utf8.is_some() || self.start.is_none() {
            return "";
        }
        // SAFETY: the raw bytes of this record were checked to be UTF-8 (`check_raw`), and
        // fields are those bytes with some ASCII quote bytes removed and cut at ASCII commas
        // or line breaks, which can never split or join a multi-byte sequence.
        unsafe { std::str::from_utf8_unchecked(self.bytes(i)) }
    }

    /// True when field `i` holds something other than spaces or tabs.
    #[inline]
    pub fn filled(&self, i: usize) -> bool {
        self.bytes(i).iter().any(|&b| b != b' ' && b != b'\t')
    }

    /// Field `i` as text, with invalid bytes replaced.
    pub fn lossy(&self, i: usize) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(self.bytes(i))
    }

    /// True when every field is empty or only spaces and tabs.
    pub fn is_blank(&self) -> bool {
        !self.stopped && (0..self.len()).all(|i| !self.filled(i))
    }

    /// Physical line where the record starts.
    pub fn line(&self) -> u64 {
        self.start.map_or(0, |s| s.line)
    }

    fn clear(&mut self) {
        self.fields.clear();
        self.ends.clear();
        self.start = None;
        self.malformed = None;
        self.unclosed = false;
        self.invalid_utf8 = None;
        self.nul = None;
        self.cut = None;
        self.verbatim = false;
        self.uncounted = 0;
        self.stopped = false;
    }

    /// Appends bytes of the current field, up to [`MAX_RECORD_BYTES`] in all.
    #[inline]
    fn keep(&mut self, bytes: &[u8]) {
        if self.cut.is_none() && self.fields.len() + bytes.len() <= MAX_RECORD_BYTES {
            self.fields.extend_from_slice(bytes);
        } else {
            self.keep_cut(bytes);
        }
    }

    #[cold]
    fn keep_cut(&mut self, bytes: &[u8]) {
        let field = self.ends.len();
        match &mut self.cut {
            Some(cut) if cut.field == field => {
                cut.bytes += bytes.len() as u64;
                cut.chars += count_chars(bytes);
            }
            Some(_) => {}
            None => {
                let start = self.ends.last().map_or(0, |&e| e + 1);
                let so_far = &self.fields[start..];
                self.cut = Some(Cut {
                    field,
                    bytes: (so_far.len() + bytes.len()) as u64,
                    chars: count_chars(so_far) + count_chars(bytes),
                });
                // Keep what fits, ending on a character boundary so the text stays UTF-8.
                let mut room = MAX_RECORD_BYTES.saturating_sub(self.fields.len());
                while room > 0 && room < bytes.len() && (bytes[room] as i8) < -0x40 {
                    room -= 1;
                }
                self.fields
                    .extend_from_slice(&bytes[..room.min(bytes.len())]);
            }
        }
    }

    fn end_field(&mut self) {
        if self.ends.len() < MAX_FIELDS {
            self.ends.push(self.fields.len());
            self.fields.push(b',');
        } else {
            self.uncounted += 1;
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    FieldStart,
    Unquoted,
    Quoted,
    QuoteInQuoted,
}

/// Reads records one at a time from any byte source.
pub struct RecordReader<R> {
    src: R,
    buf: Vec<u8>,
    /// Start of the current record (everything before it is consumed).
    start: usize,
    /// Scan position.
    pos: usize,
    /// End of valid data in `buf`.
    end: usize,
    eof: bool,
    /// Absolute offset of `buf[0]`.
    base: u64,
    /// Line at `pos`.
    line: u64,
    /// How the record just read ended.
    ending: Ending,
    /// The record just read was cut and its first bytes are gone from `buf`.
    raw_lost: bool,
    /// The record just read is known to be ASCII without NUL bytes.
    clean: bool,
    /// No record but blank ones has been read yet: the next is the header.
    before_header: bool,
}

/// How a record ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Ending {
    /// At the end of the input, without a line break.
    #[default]
    Eof,
    /// `\n`.
    Lf,
    /// `\r\n`.
    CrLf,
    /// A lone `\r`.
    Cr,
}

impl Ending {
    fn len(self) -> usize {
        match self {
            Ending::Eof => 0,
            Ending::Lf | Ending::Cr => 1,
            Ending::CrLf => 2,
        }
    }
}

impl<R: Read> RecordReader<R> {
    /// Wraps a byte source.
    pub fn new(src: R) -> Self {
        RecordReader {
            src,
            buf: vec![0; INITIAL_CAPACITY],
            start: 0,
            pos: 0,
            end: 0,
            eof: false,
            base: 0,
            line: 1,
            ending: Ending::Eof,
            raw_lost: false,
            clean: false,
            before_header: true,
        }
    }

    /// Starts over on `bytes` alone (the source is never read again), keeping the buffer:
    /// parses records already in memory without a new allocation each time.
    pub fn load(&mut self, bytes: &[u8]) {
        if self.buf.len() < bytes.len() {
            self.buf.resize(bytes.len(), 0);
        }
        self.buf[..bytes.len()].copy_from_slice(bytes);
        self.start = 0;
        self.pos = 0;
        self.end = bytes.len();
        self.eof = true;
        self.base = 0;
        self.line = 1;
        self.ending = Ending::Eof;
    }

    /// The raw bytes of the record just read, as in the input, without its line break. Of a
    /// record that was cut ([`Record::cut`]), only its last bytes: see [`RecordReader::raw_len`].
    pub fn raw(&self) -> &[u8] {
        &self.buf[self.start..self.pos - self.ending.len()]
    }

    /// False when [`RecordReader::raw`] holds only the end of the record just read: it was
    /// longer than [`MAX_RECORD_BYTES`].
    pub fn raw_complete(&self) -> bool {
        !self.raw_lost
    }

    /// The length of the record just read (starting at `rec.start`), without its line break,
    /// even when [`RecordReader::raw`] no longer holds all of it.
    pub fn raw_len(&self, rec: &Record) -> u64 {
        let start = rec.start.map_or(self.offset(), |s| s.byte);
        self.offset() - self.ending.len() as u64 - start
    }

    /// The physical line the next record starts on.
    pub fn line(&self) -> u64 {
        self.line
    }

    /// How the record just read ended.
    pub fn ending(&self) -> Ending {
        self.ending
    }

    /// Up to `n` bytes at the very start of the input, without consuming them.
    pub fn peek_prefix(&mut self, n: usize) -> io::Result<&[u8]> {
        while self.end - self.pos < n && !self.eof {
            self.fill()?;
        }
        let have = (self.end - self.pos).min(n);
        Ok(&self.buf[self.pos..self.pos + have])
    }

    /// Skips `n` bytes already seen through [`RecordReader::peek_prefix`] (a byte-order mark).
    pub fn skip(&mut self, n: usize) {
        self.pos += n;
        self.start = self.pos;
    }

    /// Bytes consumed so far, for progress reporting.
    pub fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// Reads the next record into `rec`. Returns `false` at the end of the input.
    pub fn read(&mut self, rec: &mut Record) -> io::Result<bool> {
        rec.clear();
        self.start = self.pos;
        if self.pos == self.end && !self.eof {
            self.fill()?;
        }
        if self.pos == self.end {
            return Ok(false);
        }
        rec.start = Some(self.spot(self.pos));
        self.raw_lost = false;
        self.clean = false;
        self.parse(rec)?;
        if self.before_header {
            self.before_header = rec.is_blank() && !self.header_over_limits(rec);
        }
        if self.clean {
            // ASCII without NUL bytes, as the line scan found.
        } else if self.raw_lost {
            // Only the kept fields can still be checked; `get` relies on their being UTF-8.
            if std::str::from_utf8(&rec.fields).is_err() {
                rec.invalid_utf8 = rec.start;
            }
        } else {
            self.check_raw(rec);
        }
        Ok(true)
    }

    /// The record being read (the header, or a blank line before it) is past the limits.
    fn header_over_limits(&self, rec: &Record) -> bool {
        rec.cut.is_some() || rec.uncounted > 0
    }

    fn spot(&self, idx: usize) -> Spot {
        Spot {
            line: self.line,
            byte: self.base + idx as u64,
        }
    }

    fn note(&self, rec: &mut Record, kind: Malformed, idx: usize) {
        if rec.malformed.is_none() {
            rec.malformed = Some((kind, self.spot(idx)));
        }
    }

    /// Reads a whole record at once when its line is already buffered and holds no quote (the
    /// common case), in one vectorised pass instead of the state machine.
    fn fast_line(&mut self, rec: &mut Record) -> io::Result<bool> {
        let avail = &self.buf[self.pos..self.end];
        let line = match scan_line(avail, &mut rec.ends) {
            Some(line) if line.len <= MAX_RECORD_BYTES => line,
            _ => {
                rec.ends.clear();
                return Ok(false);
            }
        };
        let n = line.len;
        rec.fields.extend_from_slice(&avail[..n]);
        rec.verbatim = true;
        self.clean = line.clean;
        let terminator = avail[n];
        self.pos += n;
        self.end_record(rec, terminator)?;
        Ok(true)
    }

    /// The state machine. Runs until a record terminator or the end of the input.
    fn parse(&mut self, rec: &mut Record) -> io::Result<()> {
        if self.fast_line(rec)? {
            return Ok(());
        }
        let mut state = State::FieldStart;
        let mut quoted_cr = false;
        loop {
            if self.pos == self.end {
                if !self.eof && self.before_header && self.header_over_limits(rec) {
                    // No header is this long: whatever follows is not read (a header past
                    // the limits is a file error), so that `/dev/zero` or an endless line of
                    // commas ends at once instead of being read forever.
                    self.eof = true;
                    rec.stopped = true;
                }
                if !self.eof {
                    if rec.cut.is_some() || self.pos - self.start > MAX_RECORD_BYTES {
                        // The record's raw bytes are not kept whole (its fields are, up to
                        // the limits): let the buffer forget what was read instead of
                        // growing with it.
                        self.start = self.pos;
                        self.raw_lost = true;
                    }
                    self.fill()?;
                    continue;
                }
                self.ending = Ending::Eof;
                if state == State::Quoted {
                    rec.unclosed = true;
                    let open = rec.start.unwrap_or(self.spot(self.pos));
                    if rec.malformed.is_none() {
                        rec.malformed = Some((Malformed::UnterminatedQuote, open));
                    }
                }
                rec.end_field();
                return Ok(());
            }
            let b = self.buf[self.pos];
            // Outside quotes, a comma ends the field and a line break ends the record.
            if state != State::Quoted {
                match b {
                    b',' => {
                        rec.end_field();
                        self.pos += 1;
                        state = State::FieldStart;
                        continue;
                    }
                    b'\n' | b'\r' => {
                        return self.end_record(rec, b);
                    }
                    _ => {}
                }
            }
            match state {
                State::FieldStart if b == b'"' => {
                    self.pos += 1;
                    state = State::Quoted;
                }
                State::FieldStart | State::Unquoted => {
                    if b == b'"' {
                        self.note(rec, Malformed::StrayQuote, self.pos);
                    }
                    let run = self.run_unquoted().max(1);
                    rec.keep(&self.buf[self.pos..self.pos + run]);
                    self.pos += run;
                    state = State::Unquoted;
                }
                State::Quoted => match b {
                    b'"' => {
                        state = State::QuoteInQuoted;
                        quoted_cr = false;
                        self.pos += 1;
                    }
                    b'\r' | b'\n' => {
                        // `\r\n` inside a value is one line break, like outside.
                        if b == b'\r' || !quoted_cr {
                            self.line += 1;
                        }
                        quoted_cr = b == b'\r';
                        rec.keep(&[b]);
                        self.pos += 1;
                    }
                    _ => {
                        let run = self.run_quoted();
                        rec.keep(&self.buf[self.pos..self.pos + run]);
                        self.pos += run;
                        quoted_cr = false;
                    }
                },
                State::QuoteInQuoted => {
                    if b == b'"' {
                        rec.keep(b"\"");
                        self.pos += 1;
                        state = State::Quoted;
                        quoted_cr = false;
                    } else {
                        self.note(rec, Malformed::TextAfterQuote, self.pos);
                        state = State::Unquoted;
                    }
                }
            }
        }
    }

    /// Length of the run of ordinary bytes at `pos` outside quotes (at least 1 when called on
    /// one): up to a comma, quote or line break. Vectorised, for long values.
    #[inline]
    fn run_unquoted(&self) -> usize {
        let rest = &self.buf[self.pos..self.end];
        let n = memchr::memchr3(b',', b'"', b'\n', rest).unwrap_or(rest.len());
        memchr::memchr(b'\r', &rest[..n]).unwrap_or(n)
    }

    /// Length of the run of ordinary bytes at `pos` inside quotes: up to a quote or line break.
    #[inline]
    fn run_quoted(&self) -> usize {
        let rest = &self.buf[self.pos..self.end];
        memchr::memchr3(b'"', b'\r', b'\n', rest).unwrap_or(rest.len())
    }

    fn end_record(&mut self, rec: &mut Record, terminator: u8) -> io::Result<()> {
        rec.end_field();
        self.pos += 1;
        self.line += 1;
        if terminator == b'\r' && self.pos == self.end && !self.eof {
            // Look at the next byte now, so that `raw` and `ending` see a whole CRLF.
            self.fill()?;
        }
        self.ending = if terminator == b'\n' {
            Ending::Lf
        } else if self.pos < self.end && self.buf[self.pos] == b'\n' {
            self.pos += 1;
            Ending::CrLf
        } else {
            Ending::Cr
        };
        Ok(())
    }

    /// UTF-8 and NUL checks over the raw bytes of the record just parsed.
    fn check_raw(&self, rec: &mut Record) {
        let raw = &self.buf[self.start..self.pos];
        let first = rec.line();
        let at = |idx: usize| Spot {
            line: first + count_line_breaks(&raw[..idx]),
            byte: self.base + (self.start + idx) as u64,
        };
        // Nearly every record is ASCII, which is checked faster than UTF-8.
        if !raw.is_ascii()
            && let Err(e) = std::str::from_utf8(raw)
        {
            rec.invalid_utf8 = Some(at(e.valid_up_to()));
        }
        if let Some(idx) = memchr::memchr(0, raw) {
            rec.nul = Some(at(idx));
        }
    }

    /// Reads more input, keeping the current record's raw bytes contiguous.
    fn fill(&mut self) -> io::Result<()> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.base += self.start as u64;
            self.pos -= self.start;
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            let grown = self.buf.len() * 2;
            self.buf.resize(grown, 0);
        }
        loop {
            match self.src.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(());
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

/// What one pass over a line without quotes found.
struct Line {
    /// Bytes before the line break.
    len: usize,
    /// Only ASCII, and no NUL byte.
    clean: bool,
}

/// Scans `avail` up to its first line break, appending the position of every comma to `ends`,
/// sixteen bytes at a time. `None` when there is a quote before the line break (the state
/// machine's case) or no line break at all; `ends` is then left partly filled.
#[cfg(target_arch = "x86_64")]
fn scan_line(avail: &[u8], ends: &mut Vec<usize>) -> Option<Line> {
    use std::arch::x86_64::{_mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8};
    let mut base = 0;
    let mut odd = 0u32;
    let mut chunks = avail.chunks_exact(16);
    for chunk in &mut chunks {
        // SAFETY: SSE2 is part of every x86_64 CPU, and the unaligned load reads exactly the
        // 16 bytes of `chunk`.
        let (eol, quote, comma, strange) = unsafe {
            let v = _mm_loadu_si128(chunk.as_ptr().cast());
            let is = |b: u8| _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(b as i8))) as u32;
            // The byte mask of `v` itself marks bytes past ASCII.
            let strange = is(0) | _mm_movemask_epi8(v) as u32;
            (is(b'\n') | is(b'\r'), is(b'"'), is(b','), strange)
        };
        let stop = if eol == 0 { 16 } else { eol.trailing_zeros() };
        let before = (1u32 << stop) - 1;
        // Quotes, and lines of very many fields, are the state machine's.
        if quote & before != 0 || ends.len() >= MAX_FIELDS {
            return None;
        }
        odd |= strange & before;
        let mut commas = comma & before;
        while commas != 0 {
            ends.push(base + commas.trailing_zeros() as usize);
            commas &= commas - 1;
        }
        if eol != 0 {
            return Some(Line {
                len: base + stop as usize,
                clean: odd == 0,
            });
        }
        base += 16;
    }
    for (i, &b) in chunks.remainder().iter().enumerate() {
        match b {
            b'\n' | b'\r' => {
                return Some(Line {
                    len: base + i,
                    clean: odd == 0,
                });
            }
            b'"' => return None,
            b',' if ends.len() >= MAX_FIELDS => return None,
            b',' => ends.push(base + i),
            0 | 0x80.. => odd = 1,
            _ => {}
        }
    }
    None
}

/// [`scan_line`] with `memchr`'s scans, and commas found eight bytes at a time. Leaves the
/// UTF-8 and NUL checks to the caller.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
fn scan_line_portable(avail: &[u8], ends: &mut Vec<usize>) -> Option<Line> {
    let n = memchr::memchr2(b'\n', b'\r', avail)?;
    let line = &avail[..n];
    if memchr::memchr(b'"', line).is_some() {
        return None;
    }
    push_commas_swar(line, ends);
    if ends.len() > MAX_FIELDS {
        return None;
    }
    Some(Line {
        len: n,
        clean: false,
    })
}

#[cfg(not(target_arch = "x86_64"))]
use scan_line_portable as scan_line;

/// Appends the position of every comma in `line`, eight bytes at a time: fields are short,
/// so one `memchr` call per comma costs more than this.
fn push_commas_swar(line: &[u8], out: &mut Vec<usize>) {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const COMMAS: u64 = 0x2c2c_2c2c_2c2c_2c2c;
    let mut chunks = line.chunks_exact(8);
    let mut base = 0;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word) ^ COMMAS;
        // High bit set exactly in the bytes of `x` that are zero (the commas).
        let mut zeros = !(((x & LOW7) + LOW7) | x | LOW7);
        while zeros != 0 {
            out.push(base + zeros.trailing_zeros() as usize / 8);
            zeros &= zeros - 1;
        }
        base += 8;
    }
    for (i, &b) in chunks.remainder().iter().enumerate() {
        if b == b',' {
            out.push(base + i);
        }
    }
}

/// Counts `\n`, `\r\n` and lone `\r` as one line break each.
pub fn count_line_breaks(bytes: &[u8]) -> u64 {
    let mut n = 0;
    let mut prev_cr = false;
    for &b in bytes {
        match b {
            b'\r' => n += 1,
            b'\n' if !prev_cr => n += 1,
            _ => {}
        }
        prev_cr = b == b'\r';
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A source that gives at most `.1` bytes per read, to cross every buffer boundary.
    struct Slow<'a>(&'a [u8], usize);

    impl Read for Slow<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = self.0.len().min(self.1).min(out.len());
            out[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    /// Parses `input` (read `chunk` bytes at a time) into (line, fields, problem) triples.
    fn parse_chunked(input: &[u8], chunk: usize) -> Vec<(u64, Vec<String>, Option<Malformed>)> {
        let mut r = RecordReader::new(Slow(input, chunk));
        let mut rec = Record::default();
        let mut out = vec![];
        while r.read(&mut rec).unwrap() {
            let fields = (0..rec.len()).map(|i| rec.lossy(i).into_owned()).collect();
            out.push((rec.line(), fields, rec.malformed.map(|m| m.0)));
        }
        out
    }

    #[test]
    fn an_endless_header_stops_at_the_limits() {
        // NUL bytes (`/dev/zero`), an endless line of commas, of quoted empty values, and an
        // endless line of spaces after a blank line: each read only up to the limits.
        let cases: [(&[u8], &[u8]); 4] =
            [(b"", b"\0"), (b"", b","), (b"", b"\"\","), (b"\n", b" ")];
        for (start, endless) in cases {
            let mut r = RecordReader::new(start.chain(RepeatSlice(endless, 0)));
            let mut rec = Record::default();
            let mut last = None;
            while r.read(&mut rec).unwrap() {
                assert!(
                    last.is_none() || start == b"\n",
                    "{endless:?}: a second record"
                );
                last = Some((rec.cut.is_some() || rec.len() > MAX_FIELDS, rec.is_blank()));
            }
            assert_eq!(last, Some((true, false)), "{endless:?}");
            assert!(r.offset() < 4 * MAX_RECORD_BYTES as u64, "{endless:?}");
        }
        // A long data row is still read to its end: only the header stops reading.
        let long = format!("A,B\n{}\n1,2\n", "x".repeat(MAX_RECORD_BYTES + 10));
        let mut r = RecordReader::new(long.as_bytes());
        let mut rec = Record::default();
        let mut lines = vec![];
        while r.read(&mut rec).unwrap() {
            lines.push((rec.line(), rec.cut.is_some()));
        }
        assert_eq!(lines, [(1, false), (2, true), (3, false)]);
    }

    /// `bytes` repeated forever.
    struct RepeatSlice(&'static [u8], usize);

    impl Read for RepeatSlice {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            for b in out.iter_mut() {
                *b = self.0[self.1 % self.0.len()];
                self.1 += 1;
            }
            Ok(out.len())
        }
    }

    fn parse(input: &str) -> Vec<(u64, Vec<String>, Option<Malformed>)> {
        let whole = parse_chunked(input.as_bytes(), usize::MAX);
        for chunk in [1, 2, 3, 7] {
            assert_eq!(
                parse_chunked(input.as_bytes(), chunk),
                whole,
                "chunk {chunk}"
            );
        }
        whole
    }

    fn lines(input: &str) -> Vec<u64> {
        parse(input).into_iter().map(|r| r.0).collect()
    }

    #[test]
    fn every_line_ending_counts_once() {
        assert_eq!(lines("a\nb\nc\n"), [1, 2, 3]);
        assert_eq!(lines("a\r\nb\r\nc"), [1, 2, 3]);
        assert_eq!(lines("a\rb\rc\r"), [1, 2, 3]);
        assert_eq!(lines("a\r\nb\nc\rd"), [1, 2, 3, 4]);
    }

    #[test]
    fn multi_line_records_report_their_first_line() {
        let recs = parse("h1,h2\n\"x\ny\",1\nz,2\r\n\"p\r\nq\r\nr\",3\r\ns,4");
        let got: Vec<_> = recs.iter().map(|r| (r.0, r.1.join("|"))).collect();
        assert_eq!(
            got,
            [
                (1, "h1|h2".into()),
                (2, "x\ny|1".into()),
                (4, "z|2".into()),
                (5, "p\r\nq\r\nr|3".into()),
                (8, "s|4".into())
            ]
        );
    }

    #[test]
    fn a_lone_cr_ending_one_quoted_value_does_not_pair_with_the_next_values_lf() {
        // `\r` (a break), then `","` and `\n` (another), then the record end: `c` is on line 4.
        assert_eq!(lines("\"a\r\",\"\nb\"\nc\n"), [1, 4]);
    }

    #[test]
    fn empty_lines_are_records_with_one_empty_field() {
        let recs = parse("a,b\n\n1,2\n,\n");
        let got: Vec<_> = recs.iter().map(|r| (r.0, r.1.len())).collect();
        assert_eq!(got, [(1, 2), (2, 1), (3, 2), (4, 2)]);
    }

    #[test]
    fn quotes_and_escapes() {
        let recs = parse("\"a,b\",\"say \"\"hi\"\"\",\"\"\n");
        assert_eq!(recs[0].1, ["a,b", "say \"hi\"", ""]);
        assert_eq!(recs[0].2, None);
    }

    #[test]
    fn malformed_quotes_are_reported_where_they_are() {
        assert_eq!(parse("ab\"c,d\n")[0].2, Some(Malformed::StrayQuote));
        assert_eq!(parse("\"ab\"c,d\n")[0].2, Some(Malformed::TextAfterQuote));
        let open = parse("a,b\n1,\"never closed\n2,3\n");
        assert_eq!(open.len(), 2);
        assert_eq!(open[1].0, 2);
        assert_eq!(open[1].2, Some(Malformed::UnterminatedQuote));
    }

    #[test]
    fn invalid_utf8_and_nul_are_located_exactly() {
        let input = b"a,b\n\"x\ny\xff\",1\nc\0,2\n";
        let mut r = RecordReader::new(&input[..]);
        let mut rec = Record::default();
        assert!(r.read(&mut rec).unwrap());
        assert_eq!((rec.invalid_utf8, rec.nul), (None, None));
        assert!(r.read(&mut rec).unwrap());
        assert_eq!(rec.invalid_utf8, Some(Spot { line: 3, byte: 8 }));
        assert!(r.read(&mut rec).unwrap());
        assert_eq!(rec.nul, Some(Spot { line: 4, byte: 14 }));
        assert!(!r.read(&mut rec).unwrap());
    }

    #[test]
    fn a_record_larger_than_the_buffer_is_read_whole() {
        let big = "z".repeat(INITIAL_CAPACITY * 3 + 17);
        let recs = parse_chunked(format!("h\n{big}\nlast\n").as_bytes(), 4096);
        assert_eq!(recs.len(), 3);
        assert_eq!(recs[1].1[0].len(), big.len());
        assert_eq!((recs[2].0, recs[2].1[0].as_str()), (3, "last"));
    }

    #[test]
    fn agrees_with_the_csv_crate_on_well_formed_input() {
        let input = "a,b,c\n1,\"two\nlines\",3\n\"q\"\"x\",,\n4,5,6";
        let mut theirs = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(input.as_bytes());
        let expect: Vec<Vec<String>> = theirs
            .records()
            .map(|r| r.unwrap().iter().map(String::from).collect())
            .collect();
        let ours: Vec<Vec<String>> = parse(input).into_iter().map(|r| r.1).collect();
        assert_eq!(ours, expect);
    }

    #[test]
    fn fields_next_to_quotes_and_commas_keep_multibyte_characters_whole() {
        let input = "é,\"ü\"\"ß\",€\"x,\"😀\"\n";
        let mut r = RecordReader::new(input.as_bytes());
        let mut rec = Record::default();
        assert!(r.read(&mut rec).unwrap());
        let got: Vec<&str> = (0..rec.len()).map(|i| rec.get(i)).collect();
        assert_eq!(got, ["é", "ü\"ß", "€\"x", "😀"]);
        // A record that is not UTF-8 never yields text through `get`.
        let mut r = RecordReader::new(&b"a\xff,b\n"[..]);
        assert!(r.read(&mut rec).unwrap());
        assert_eq!((rec.get(0), rec.get(1)), ("", ""));
        assert_eq!(rec.lossy(0), "a\u{fffd}");
    }

    /// Random records written by the `csv` crate read back identically, each at the line where
    /// its bytes start.
    #[test]
    fn reads_back_whatever_the_csv_crate_writes() {
        const ALPHABET: &[&str] = &[
            "a", "Z", "7", ",", "\"", "\n", "\r\n", "\r", " ", "é", "😀", "",
        ];
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        for case in 0..300 {
            let width = 1 + next(5);
            let terminator = if next(2) == 0 {
                csv::Terminator::CRLF
            } else {
                csv::Terminator::Any(b'\n')
            };
            let mut w = csv::WriterBuilder::new()
                .terminator(terminator)
                .from_writer(vec![]);
            let mut expect = vec![];
            for _ in 0..1 + next(6) {
                let record: Vec<String> = (0..width)
                    .map(|_| {
                        (0..next(5))
                            .map(|_| ALPHABET[next(ALPHABET.len())])
                            .collect()
                    })
                    .collect();
                // A lone empty field is written as an empty line, which reads back as a blank row.
                let start = w.get_ref().len();
                w.write_record(&record).unwrap();
                w.flush().unwrap();
                expect.push((start, record));
            }
            let bytes = w.into_inner().unwrap();
            let mut r = RecordReader::new(&bytes[..]);
            let mut rec = Record::default();
            for (start, fields) in &expect {
                assert!(r.read(&mut rec).unwrap(), "case {case}: record missing");
                let got: Vec<&str> = (0..rec.len()).map(|i| rec.get(i)).collect();
                assert_eq!(got, *fields, "case {case}");
                assert_eq!(
                    rec.line(),
                    1 + count_line_breaks(&bytes[..*start]),
                    "case {case}"
                );
                assert_eq!(rec.malformed, None, "case {case}");
            }
            assert!(!r.read(&mut rec).unwrap(), "case {case}: extra record");
        }
    }

    /// Both line scanners agree with a byte-by-byte reading on random lines of commas,
    /// quotes, line breaks, NUL and non-ASCII bytes, at every length and position.
    #[test]
    fn line_scans_find_commas_breaks_and_quotes_in_every_position() {
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        let alphabet = [
            b',',
            b'a',
            0x2d,
            0xac,
            0x2c ^ 0x80,
            b'\0',
            b'"',
            b'\n',
            b'\r',
        ];
        for len in 0..80 {
            for _ in 0..40 {
                let line: Vec<u8> = (0..len)
                    .map(|_| {
                        rng ^= rng << 13;
                        rng ^= rng >> 7;
                        rng ^= rng << 17;
                        // Mostly plain bytes, so that long lines without breaks occur.
                        let pick = (rng % 40) as usize;
                        if pick < alphabet.len() {
                            alphabet[pick]
                        } else {
                            b'x'
                        }
                    })
                    .collect();
                let end = line.iter().position(|&b| b == b'\n' || b == b'\r');
                let want = end.and_then(|n| {
                    let body = &line[..n];
                    (!body.contains(&b'"')).then(|| {
                        let commas: Vec<usize> = (0..n).filter(|&i| body[i] == b',').collect();
                        (n, commas, body.iter().all(|&b| b != 0 && b.is_ascii()))
                    })
                });
                let mut ends = vec![];
                let got = scan_line(&line, &mut ends).map(|l| (l.len, ends.clone(), l.clean));
                assert_eq!(got, want, "{line:?}");
                ends.clear();
                let portable = scan_line_portable(&line, &mut ends).map(|l| (l.len, ends.clone()));
                assert_eq!(portable, want.map(|(n, c, _)| (n, c)), "portable: {line:?}");
            }
        }
    }

    #[test]
    fn line_break_counting() {
        assert_eq!(count_line_breaks(b"a\r\nb\rc\nd"), 3);
        assert_eq!(count_line_breaks(b""), 0);
    }

    #[test]
    fn raw_bytes_and_endings_of_each_record() {
        let input = b"a,\"b\nc\"\r\nd\re\n\"f\"\"\"";
        for chunk in [1, 2, 3, 64] {
            let mut r = RecordReader::new(Slow(input, chunk));
            let mut rec = Record::default();
            let mut got = vec![];
            while r.read(&mut rec).unwrap() {
                got.push((r.raw().to_vec(), r.ending(), rec.line(), r.line()));
            }
            let raws: Vec<&[u8]> = got.iter().map(|g| g.0.as_slice()).collect();
            assert_eq!(
                raws,
                [&b"a,\"b\nc\""[..], b"d", b"e", b"\"f\"\"\""],
                "chunk {chunk}"
            );
            // Even when a read ends between the CR and the LF.
            let endings: Vec<Ending> = got.iter().map(|g| g.1).collect();
            assert_eq!(
                endings,
                [Ending::CrLf, Ending::Cr, Ending::Lf, Ending::Eof],
                "chunk {chunk}"
            );
            let lines: Vec<(u64, u64)> = got.iter().map(|g| (g.2, g.3)).collect();
            assert_eq!(lines, [(1, 3), (3, 4), (4, 5), (5, 5)], "chunk {chunk}");
        }
    }

    #[test]
    fn load_parses_bytes_already_in_memory() {
        let mut r = RecordReader::new(io::empty());
        let mut rec = Record::default();
        for (bytes, fields) in [(&b"x,\"y,z\""[..], vec!["x", "y,z"]), (b"1", vec!["1"])] {
            r.load(bytes);
            assert!(r.read(&mut rec).unwrap());
            let got: Vec<&str> = (0..rec.len()).map(|i| rec.get(i)).collect();
            assert_eq!(got, fields);
            assert_eq!(r.raw(), bytes);
            assert!(!r.read(&mut rec).unwrap());
        }
    }
}
