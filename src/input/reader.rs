//! A streaming RFC 4180 record reader that knows where every record starts.
//!
//! The `csv` crate counts only `\n` as a line break and silently accepts an unterminated
//! quote, so it can report neither the physical line of a record in a CR-only file nor a
//! broken quote. This reader counts `\n`, `\r\n` and a lone `\r` as one line each, keeps the
//! raw bytes of the current record contiguous (for exact UTF-8 error offsets), reuses its
//! buffers across records and never holds more than the largest record in memory.

use std::io::{self, Read};

const INITIAL_CAPACITY: usize = 64 * 1024;

/// Bytes that end a run of plain field text outside quotes.
const UNQUOTED_STOP: [bool; 256] = table(b",\"\r\n");
/// Bytes that end a run of plain field text inside quotes.
const QUOTED_STOP: [bool; 256] = table(b"\"\r\n");

const fn table(bytes: &[u8]) -> [bool; 256] {
    let mut t = [false; 256];
    let mut i = 0;
    while i < bytes.len() {
        t[bytes[i] as usize] = true;
        i += 1;
    }
    t
}

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
}

impl Record {
    /// Number of fields.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// True for a record without fields (never returned by the reader).
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The raw bytes of field `i`.
    #[inline]
    pub fn bytes(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] + 1 };
        &self.fields[start..self.ends[i]]
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
        (0..self.len()).all(|i| !self.filled(i))
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
    }

    fn end_field(&mut self) {
        self.ends.push(self.fields.len());
        self.fields.push(b',');
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
}

/// How a record ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// At the end of the input, without a line break.
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

    /// The raw bytes of the record just read, as in the input, without its line break.
    pub fn raw(&self) -> &[u8] {
        &self.buf[self.start..self.pos - self.ending.len()]
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
        self.parse(rec)?;
        self.check_raw(rec);
        Ok(true)
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
    /// common case), with `memchr`'s vectorised scans instead of the state machine.
    fn fast_line(&mut self, rec: &mut Record) -> io::Result<bool> {
        let avail = &self.buf[self.pos..self.end];
        let Some(n) = memchr::memchr2(b'\n', b'\r', avail) else {
            return Ok(false);
        };
        let line = &avail[..n];
        if memchr::memchr(b'"', line).is_some() {
            return Ok(false);
        }
        rec.fields.extend_from_slice(line);
        push_commas(line, &mut rec.ends);
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
                if !self.eof {
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
                    let run = self.run(&UNQUOTED_STOP).max(1);
                    rec.fields
                        .extend_from_slice(&self.buf[self.pos..self.pos + run]);
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
                        rec.fields.push(b);
                        self.pos += 1;
                    }
                    _ => {
                        let run = self.run(&QUOTED_STOP);
                        rec.fields
                            .extend_from_slice(&self.buf[self.pos..self.pos + run]);
                        self.pos += run;
                        quoted_cr = false;
                    }
                },
                State::QuoteInQuoted => {
                    if b == b'"' {
                        rec.fields.push(b'"');
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

    /// Length of the run of ordinary bytes at `pos` (at least 1 when called on one).
    #[inline]
    fn run(&self, stop: &[bool; 256]) -> usize {
        self.buf[self.pos..self.end]
            .iter()
            .position(|&c| stop[c as usize])
            .unwrap_or(self.end - self.pos)
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
        if let Err(e) = std::str::from_utf8(raw) {
            rec.invalid_utf8 = Some(at(e.valid_up_to()));
        }
        // `contains` scans a word at a time; the position is needed only when there is one.
        if raw.contains(&0)
            && let Some(idx) = raw.iter().position(|&b| b == 0)
        {
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

/// Appends the position of every comma in `line`, eight bytes at a time: fields are short,
/// so one `memchr` call per comma costs more than this.
fn push_commas(line: &[u8], out: &mut Vec<usize>) {
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

    #[test]
    fn commas_are_found_in_every_position() {
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        for len in 0..80 {
            for _ in 0..20 {
                let line: Vec<u8> = (0..len)
                    .map(|_| {
                        rng ^= rng << 13;
                        rng ^= rng >> 7;
                        rng ^= rng << 17;
                        [b',', b'a', 0x2d, 0xac, 0x2c ^ 0x80, b'\0'][(rng % 6) as usize]
                    })
                    .collect();
                let mut got = vec![];
                push_commas(&line, &mut got);
                let want: Vec<usize> = (0..line.len()).filter(|&i| line[i] == b',').collect();
                assert_eq!(got, want, "{line:?}");
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
