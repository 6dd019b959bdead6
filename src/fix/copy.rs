//! Copies a byte range of one file onto the end of another. `fix` copies most of its input
//! this way: long runs of rows it leaves as they are. On Linux the kernel copies them
//! (`copy_file_range`), without a trip through this process's memory; where it cannot (an
//! older kernel, two file systems, another system) they are read and written.

use std::fs::File;
use std::io::{self, Write};

/// Bytes read at a time when the kernel cannot copy.
const CHUNK: usize = 256 * 1024;

/// How a [`Copier`] copies.
#[derive(Debug)]
pub struct Copier {
    /// The kernel said it cannot copy between these two files: read and write from now on.
    by_hand: bool,
    buf: Vec<u8>,
}

impl Default for Copier {
    fn default() -> Self {
        Copier {
            by_hand: !cfg!(target_os = "linux"),
            buf: vec![],
        }
    }
}

impl Copier {
    /// Appends `len` bytes of `src` from `offset` to `to` (at its current position). Fails
    /// with `UnexpectedEof` if `src` ends first.
    pub fn copy(&mut self, src: &File, offset: u64, len: u64, to: &mut File) -> io::Result<()> {
        let (mut offset, end) = (offset, offset + len);
        while offset < end {
            let n = if self.by_hand {
                0
            } else {
                match kernel_copy(src, offset, end - offset, to) {
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) if cannot_copy(&e) => {
                        self.by_hand = true;
                        0
                    }
                    Err(e) => return Err(e),
                }
            };
            // Nothing copied (the kernel cannot, or some file systems' answer for "not
            // here"): read and write a piece, which also tells a real end of file.
            offset += if n == 0 {
                self.by_hand_piece(src, offset, end - offset, to)?
            } else {
                n
            };
        }
        Ok(())
    }

    fn by_hand_piece(
        &mut self,
        src: &File,
        offset: u64,
        len: u64,
        to: &mut File,
    ) -> io::Result<u64> {
        let want = usize::try_from(len).unwrap_or(usize::MAX).min(CHUNK);
        self.buf.resize(want.max(self.buf.len()), 0);
        let n = read_at(src, &mut self.buf[..want], offset)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the input is shorter than when it was read",
            ));
        }
        to.write_all(&self.buf[..n])?;
        Ok(n as u64)
    }
}

/// Errors that mean "not between these files", not "failed".
fn cannot_copy(e: &io::Error) -> bool {
    // EPERM, EXDEV, EINVAL, ENOSYS, EOPNOTSUPP.
    matches!(e.raw_os_error(), Some(1 | 18 | 22 | 38 | 95))
}

#[cfg(unix)]
fn read_at(src: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(src, buf, offset)
}

#[cfg(not(unix))]
fn read_at(mut src: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    use std::io::{Read, Seek, SeekFrom};
    src.seek(SeekFrom::Start(offset))?;
    src.read(buf)
}

/// Fills `buf` from `src` at `offset`, whatever `src`'s position.
pub fn read_exact_at(src: &File, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
    while !buf.is_empty() {
        match read_at(src, buf, offset) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// One `copy_file_range` call: bytes copied, 0 at the end of `src`.
#[cfg(target_os = "linux")]
fn kernel_copy(src: &File, offset: u64, len: u64, to: &File) -> io::Result<u64> {
    use std::ffi::{c_int, c_uint};
    use std::os::fd::AsRawFd;
    unsafe extern "C" {
        // glibc 2.27 and later; Linux 4.5 and later (older kernels: ENOSYS).
        fn copy_file_range(
            fd_in: c_int,
            off_in: *mut i64,
            fd_out: c_int,
            off_out: *mut i64,
            len: usize,
            flags: c_uint,
        ) -> isize;
    }
    let mut off_in = i64::try_from(offset).map_err(|_| io::Error::from_raw_os_error(22))?;
    // At most 1 GiB a call, as the kernel copies at most about that much anyway.
    let len = usize::try_from(len.min(1 << 30)).unwrap_or(1 << 30);
    // SAFETY: both descriptors are open files for the whole call; `off_in` outlives it; a
    // null `off_out` means "at `to`'s position, advancing it".
    let n = unsafe {
        copy_file_range(
            src.as_raw_fd(),
            &mut off_in,
            to.as_raw_fd(),
            std::ptr::null_mut(),
            len,
            0,
        )
    };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as u64)
    }
}

#[cfg(not(target_os = "linux"))]
fn kernel_copy(_: &File, _: u64, _: u64, _: &File) -> io::Result<u64> {
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Seek};

    fn temp(name: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("convsubmit-copy-{}-{name}", std::process::id()))
    }

    fn copies(by_hand: bool) {
        let (a, b) = (temp(&format!("a{by_hand}")), temp(&format!("b{by_hand}")));
        let data: Vec<u8> = (0..700_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&a, &data).unwrap();
        let src = File::open(&a).unwrap();
        let mut to = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&b)
            .unwrap();
        let mut copier = Copier {
            by_hand,
            buf: vec![],
        };
        to.write_all(b"head").unwrap();
        copier.copy(&src, 10, 600_000, &mut to).unwrap();
        copier.copy(&src, 3, 4, &mut to).unwrap();
        let err = copier.copy(&src, 699_990, 20, &mut to).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        let mut got = vec![];
        to.rewind().unwrap();
        to.read_to_end(&mut got).unwrap();
        let mut want = b"head".to_vec();
        want.extend_from_slice(&data[10..600_010]);
        want.extend_from_slice(&data[3..7]);
        want.extend_from_slice(&data[699_990..]);
        assert_eq!(got.len(), want.len());
        assert!(got == want);
        let _ = (std::fs::remove_file(&a), std::fs::remove_file(&b));
    }

    #[test]
    fn copies_ranges_in_the_kernel() {
        copies(false);
    }

    #[test]
    fn copies_ranges_by_hand() {
        copies(true);
    }
}
