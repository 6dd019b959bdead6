//! Writes part files on a thread of its own: hashing (SHA-256), writing and syncing each part
//! overlap with reading and checking the next rows instead of holding them up.

use crate::digest::HashingWriter;
use std::fs::File;
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

/// Bytes gathered before they are handed to the writing thread.
const CHUNK: usize = 256 * 1024;
/// Chunks that may wait for the writing thread: bounds the memory of a slow disk.
const QUEUE: usize = 8;

/// SHA-256 (hex) and size of a written file.
pub type Written = io::Result<(String, u64)>;

enum Job {
    Create(PathBuf),
    Data(Vec<u8>),
    /// Flush and sync the file, then answer.
    Finish(SyncSender<Written>),
}

/// A file-writing thread, one file at a time.
pub struct Spool {
    jobs: Option<SyncSender<Job>>,
    thread: Option<JoinHandle<()>>,
    chunk: Vec<u8>,
}

impl Spool {
    /// Starts the thread.
    pub fn new() -> Spool {
        let (jobs, inbox) = sync_channel(QUEUE);
        let thread = std::thread::spawn(move || write_files(&inbox));
        Spool {
            jobs: Some(jobs),
            thread: Some(thread),
            chunk: Vec::with_capacity(CHUNK),
        }
    }

    /// Starts writing `path` (created or truncated).
    pub fn create(&mut self, path: PathBuf) -> io::Result<()> {
        self.send(Job::Create(path))
    }

    /// Appends to the file being written.
    pub fn write(&mut self, data: &[u8]) -> io::Result<()> {
        self.chunk.extend_from_slice(data);
        if self.chunk.len() >= CHUNK {
            let full = std::mem::replace(&mut self.chunk, Vec::with_capacity(CHUNK));
            self.send(Job::Data(full))?;
        }
        Ok(())
    }

    /// Ends the file being written; the answer arrives once it is on disk, while the caller
    /// goes on with the next file.
    pub fn finish(&mut self) -> io::Result<Receiver<Written>> {
        if !self.chunk.is_empty() {
            let rest = std::mem::replace(&mut self.chunk, Vec::with_capacity(CHUNK));
            self.send(Job::Data(rest))?;
        }
        let (answer, result) = sync_channel(1);
        self.send(Job::Finish(answer))?;
        Ok(result)
    }

    fn send(&mut self, job: Job) -> io::Result<()> {
        let sent = self.jobs.as_ref().is_some_and(|j| j.send(job).is_ok());
        if sent {
            Ok(())
        } else {
            Err(io::Error::other("the part-writing thread stopped"))
        }
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        // Closing the queue ends the thread once it has written what it was given.
        self.jobs.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn write_files(inbox: &Receiver<Job>) {
    // Chunks arrive whole (CHUNK bytes), so they go to the file without another buffer.
    let mut file: Option<HashingWriter<File>> = None;
    // The first error of the current file, answered at its end.
    let mut failed: Option<io::Error> = None;
    for job in inbox {
        match job {
            Job::Create(path) => {
                failed = None;
                file = match File::create(&path) {
                    Ok(f) => Some(HashingWriter::new(f)),
                    Err(e) => {
                        failed = Some(e);
                        None
                    }
                };
            }
            Job::Data(data) => {
                if let (Some(f), None) = (file.as_mut(), &failed)
                    && let Err(e) = f.write_all(&data)
                {
                    failed = Some(e);
                }
            }
            Job::Finish(answer) => {
                let result = match (file.take(), failed.take()) {
                    (_, Some(e)) => Err(e),
                    (None, None) => Err(io::Error::other("no file was being written")),
                    (Some(f), None) => f.finish().and_then(|(file, sha, bytes)| {
                        file.sync_all()?;
                        Ok((sha, bytes))
                    }),
                };
                let _ = answer.send(result);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_written_whole_with_their_digest_and_errors_come_back() {
        let dir = std::env::temp_dir().join(format!("convsubmit-spool-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut spool = Spool::new();
        let mut answers = vec![];
        for (i, size) in [0usize, 10, CHUNK + 7, 3 * CHUNK].into_iter().enumerate() {
            spool.create(dir.join(format!("{i}.csv"))).unwrap();
            let data: Vec<u8> = (0..size).map(|b| b as u8).collect();
            for piece in data.chunks(1000) {
                spool.write(piece).unwrap();
            }
            answers.push((i, data, spool.finish().unwrap()));
        }
        spool.create(dir.join("missing").join("x.csv")).unwrap();
        spool.write(b"abc").unwrap();
        let failed = spool.finish().unwrap();
        for (i, data, answer) in answers {
            let (sha, bytes) = answer.recv().unwrap().unwrap();
            assert_eq!(bytes, data.len() as u64);
            assert_eq!(sha, crate::digest::sha256_hex(&data));
            assert_eq!(std::fs::read(dir.join(format!("{i}.csv"))).unwrap(), data);
        }
        assert!(
            failed.recv().unwrap().is_err(),
            "a file that cannot be created"
        );
        drop(spool);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
