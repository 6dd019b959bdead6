//! A file read while it is being written: `fix` validates its output as the rows go out
//! instead of reading the whole file again once it is done. The reader sees only bytes the
//! writer has handed to the file, waits for more, and ends where the writer ended (or fails
//! where the writer failed). The writer never waits for the reader.

use super::copy::Copier;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, PoisonError};

#[derive(Default)]
struct State {
    /// Bytes in the file so far.
    written: u64,
    /// Set when writing stopped: `true` when the file is whole.
    done: Option<bool>,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    grew: Condvar,
}

impl Shared {
    fn update(&self, f: impl FnOnce(&mut State)) {
        f(&mut self.state.lock().unwrap_or_else(PoisonError::into_inner));
        self.grew.notify_all();
    }
}

/// Creates `path` afresh for writing (see [`crate::output::create_fresh`]), and opens it
/// for following.
pub fn create(path: &Path) -> io::Result<(Writer, Follower)> {
    let file = crate::output::create_fresh(path)?;
    let reader = File::open(path)?;
    let shared = Arc::new(Shared::default());
    let writer = Writer {
        file: Some(file),
        shared: Arc::clone(&shared),
    };
    let follower = Follower {
        file: reader,
        read: 0,
        shared,
    };
    Ok((writer, follower))
}

/// The writing end. Dropped without [`Writer::complete`], it tells the reader the file is
/// incomplete.
pub struct Writer {
    file: Option<File>,
    shared: Arc<Shared>,
}

/// Bytes copied between two updates of what the reader may read: it reads behind the writer
/// instead of waiting for the end of a long copy.
const COPY_STEP: u64 = 4 << 20;

impl Writer {
    /// Appends `len` bytes of `src` from `offset`, with `copier`.
    pub fn copy_from(
        &mut self,
        copier: &mut Copier,
        src: &File,
        offset: u64,
        len: u64,
    ) -> io::Result<()> {
        let file = self.file.as_mut().expect("taken only on completion");
        let (mut at, end) = (offset, offset + len);
        while at < end {
            let n = (end - at).min(COPY_STEP);
            copier.copy(src, at, n, file)?;
            self.shared.update(|s| s.written += n);
            at += n;
        }
        Ok(())
    }

    /// Says the file is whole (everything written has been flushed to it) and returns it,
    /// e.g. to be synced.
    pub fn complete(mut self) -> File {
        self.shared.update(|s| s.done = Some(true));
        self.file.take().expect("taken only here")
    }
}

impl Write for Writer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let file = self.file.as_mut().expect("taken only on completion");
        let n = file.write(buf)?;
        self.shared.update(|s| s.written += n as u64);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        if self.file.is_some() {
            self.shared.update(|s| s.done = Some(false));
        }
    }
}

/// The reading end.
pub struct Follower {
    file: File,
    read: u64,
    shared: Arc<Shared>,
}

impl Read for Follower {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let available = {
            let mut s = self
                .shared
                .state
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            loop {
                if s.written > self.read {
                    break s.written - self.read;
                }
                match s.done {
                    Some(true) => return Ok(0),
                    Some(false) => {
                        return Err(io::Error::other("the file stopped being written"));
                    }
                    None => {
                        s = self
                            .shared
                            .grew
                            .wait(s)
                            .unwrap_or_else(PoisonError::into_inner);
                    }
                }
            }
        };
        let want = buf
            .len()
            .min(usize::try_from(available).unwrap_or(usize::MAX));
        let n = self.file.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file is shorter than what was written to it",
            ));
        }
        self.read += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("convsubmit-follow-{}-{name}", std::process::id()))
    }

    #[test]
    fn the_reader_gets_every_byte_as_it_is_written_then_the_end() {
        let path = temp("whole");
        let (mut w, mut r) = create(&path).unwrap();
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let reading = std::thread::spawn(move || {
            let mut got = vec![];
            r.read_to_end(&mut got).map(|_| got)
        });
        for piece in data.chunks(7_000) {
            w.write_all(piece).unwrap();
            std::thread::yield_now();
        }
        drop(w.complete());
        assert_eq!(reading.join().unwrap().unwrap(), data);
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn a_writer_that_stops_early_is_an_error_for_the_reader_not_an_end() {
        let path = temp("cut");
        let (mut w, mut r) = create(&path).unwrap();
        w.write_all(b"a,b\n1,2\n").unwrap();
        drop(w);
        let mut got = vec![];
        let err = r.read_to_end(&mut got).unwrap_err();
        assert_eq!(got, b"a,b\n1,2\n");
        assert!(err.to_string().contains("stopped being written"), "{err}");
        std::fs::remove_file(&path).unwrap();
    }
}
