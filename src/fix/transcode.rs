//! UTF-16 and UTF-32 files with a byte-order mark, converted to UTF-8 (without the mark) for
//! `fix`: the mark says which encoding it is, so the conversion is certain. A file without
//! one, or with a sequence its encoding does not allow, is not converted.

use std::io::{self, BufReader, BufWriter, Read, Write};

/// Converts `src`, which starts with the byte-order mark of `name` (`UTF-16LE`, `UTF-16BE`,
/// `UTF-32LE` or `UTF-32BE`), into UTF-8 on `out`. Returns the characters written.
pub fn to_utf8(name: &str, src: impl Read, out: impl Write) -> io::Result<u64> {
    let (unit, little) = match name {
        "UTF-16LE" => (2, true),
        "UTF-16BE" => (2, false),
        "UTF-32LE" => (4, true),
        "UTF-32BE" => (4, false),
        _ => return Err(io::Error::other(format!("{name} is not a wide encoding"))),
    };
    let mut src = BufReader::with_capacity(256 * 1024, src);
    let mut out = BufWriter::with_capacity(256 * 1024, out);
    let mut next = || read_unit(&mut src, unit, little);
    let mut chars = 0u64;
    let mut utf8 = [0u8; 4];
    let mut first = true;
    while let Some(u) = next()? {
        let c = if unit == 4 {
            char::from_u32(u).ok_or_else(|| invalid(name))?
        } else {
            decode_utf16(u, &mut next).ok_or_else(|| invalid(name))??
        };
        // The byte-order mark is not copied.
        if std::mem::take(&mut first) && c == '\u{feff}' {
            continue;
        }
        out.write_all(c.encode_utf8(&mut utf8).as_bytes())?;
        chars += 1;
    }
    out.flush()?;
    Ok(chars)
}

/// One UTF-16 character from `u` and, for a surrogate pair, the unit after it.
fn decode_utf16(
    u: u32,
    next: &mut impl FnMut() -> io::Result<Option<u32>>,
) -> Option<io::Result<char>> {
    let high = u as u16;
    if !(0xD800..0xDC00).contains(&high) {
        return char::from_u32(u).map(Ok);
    }
    let low = match next() {
        Ok(Some(l)) => l as u16,
        Ok(None) => return None,
        Err(e) => return Some(Err(e)),
    };
    char::decode_utf16([high, low]).next()?.ok().map(Ok)
}

fn read_unit(src: &mut impl Read, unit: usize, little: bool) -> io::Result<Option<u32>> {
    let mut b = [0u8; 4];
    let got = read_full(src, &mut b[..unit])?;
    if got == 0 {
        return Ok(None);
    }
    if got < unit {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "the file ends inside a character",
        ));
    }
    let b = &b[..unit];
    let value = if little {
        b.iter().rev().fold(0u32, |v, &x| v << 8 | u32::from(x))
    } else {
        b.iter().fold(0u32, |v, &x| v << 8 | u32::from(x))
    };
    Ok(Some(value))
}

fn read_full(src: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match src.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

fn invalid(name: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("it holds a sequence that is not valid {name}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn convert(name: &str, bytes: &[u8]) -> io::Result<String> {
        let mut out = vec![];
        to_utf8(name, bytes, &mut out)?;
        Ok(String::from_utf8(out).unwrap())
    }

    #[test]
    fn every_wide_encoding_with_its_mark() {
        let text = "Oid,Amount\nÖ-1,€5 😀\n";
        let marked = format!("\u{feff}{text}");
        let units16: Vec<u16> = marked.encode_utf16().collect();
        let units32: Vec<u32> = marked.chars().map(u32::from).collect();
        let encodings: [(&str, Vec<u8>); 4] = [
            (
                "UTF-16LE",
                units16.iter().flat_map(|u| u.to_le_bytes()).collect(),
            ),
            (
                "UTF-16BE",
                units16.iter().flat_map(|u| u.to_be_bytes()).collect(),
            ),
            (
                "UTF-32LE",
                units32.iter().flat_map(|u| u.to_le_bytes()).collect(),
            ),
            (
                "UTF-32BE",
                units32.iter().flat_map(|u| u.to_be_bytes()).collect(),
            ),
        ];
        for (name, bytes) in encodings {
            assert_eq!(convert(name, &bytes).unwrap(), text, "{name}");
        }
    }

    #[test]
    fn broken_sequences_are_refused() {
        assert!(convert("UTF-16LE", b"\xff\xfe\x00\xd8").is_err()); // a lone high surrogate
        assert!(convert("UTF-16LE", b"\xff\xfea").is_err()); // half a unit
        assert!(convert("UTF-32LE", b"\xff\xfe\0\0\0\0\x11\0").is_err()); // past U+10FFFF
    }
}
