//! Writing CSV fields: quoted only when they must be (a comma, a quote or a line break
//! inside), so values that needed no quotes come out byte for byte as they went in.

use std::io::{self, Write};

/// True when `value` must be quoted.
pub fn needs_quotes(value: &[u8]) -> bool {
    value
        .iter()
        .any(|&b| matches!(b, b',' | b'"' | b'\r' | b'\n'))
}

/// Writes one field, quoting and doubling quotes when needed.
pub fn write_field(out: &mut impl Write, value: &[u8]) -> io::Result<()> {
    if !needs_quotes(value) {
        return out.write_all(value);
    }
    out.write_all(b"\"")?;
    for (i, piece) in value.split(|&b| b == b'"').enumerate() {
        if i > 0 {
            out.write_all(b"\"\"")?;
        }
        out.write_all(piece)?;
    }
    out.write_all(b"\"")
}

/// Writes fields separated by commas (no line break).
pub fn write_fields<'a>(
    out: &mut impl Write,
    fields: impl IntoIterator<Item = &'a [u8]>,
) -> io::Result<()> {
    for (i, f) in fields.into_iter().enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        write_field(out, f)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(v: &str) -> String {
        let mut out = vec![];
        write_field(&mut out, v.as_bytes()).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn quotes_only_when_needed() {
        assert_eq!(field("plain value"), "plain value");
        assert_eq!(field(""), "");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("15\" screen"), "\"15\"\" screen\"");
        assert_eq!(field("two\r\nlines"), "\"two\r\nlines\"");
    }

    #[test]
    fn round_trips_through_the_reader() {
        use crate::input::{Record, RecordReader};
        let values: [&[u8]; 5] = [b"a", b"\"", b"x,y", b"l1\nl2", b""];
        let mut out = vec![];
        write_fields(&mut out, values).unwrap();
        let mut reader = RecordReader::new(&out[..]);
        let mut rec = Record::default();
        assert!(reader.read(&mut rec).unwrap());
        let back: Vec<&[u8]> = (0..rec.len()).map(|i| rec.bytes(i)).collect();
        assert_eq!(back, values);
        assert_eq!(reader.raw(), &out[..]);
    }
}
