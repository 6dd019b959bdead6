//! Writes part files on threads of their own, so that hashing (SHA-256), writing and syncing
//! each part overlap with reading and checking the next rows instead of holding them up. One
//! thread hashes and writes; another syncs each finished file while the next is written, so
//! waiting for the disk costs no time of the writer's.

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
/// Written files that may wait for their sync: bounds open files and unsynced data.
const SYNC_QUEUE: usize = 4;

/// SHA-256 (hex) and size of a written file.
pub type Written = io::Result<(String, u64)>;

enum Job {
    Create(PathBuf),
    Data(Vec<u8>),
    /// Flush and sync the file, then answer.
    Finish(SyncSender<Written>),
}

/// A written file waiting for its sync, and who waits for the answer.
struct Unsynced {
    file: File,
    sha256: String,
    bytes: u64,
    answer: SyncSender<Written>,
}

/// File-writing threads, one file at a time.
///
/// The bytes of the order being read wait at the end of the chunk being filled
/// ("pending"), so that they are copied once, from the input straight into the chunk: once
/// the order proves clean they are committed to the file, otherwise discarded.
pub struct Spool {
    jobs: Option<SyncSender<Job>>,
    threads: Vec<JoinHandle<()>>,
    chunk: Vec<u8>,
    /// `chunk[pending..]` is pending, `chunk[..pending]` belongs to the file.
    pending: usize,
    /// Chunk buffers the writer is done with, to be filled again: a buffer allocated on one
    /// thread and freed on another costs the allocator dearly.
    spare: Receiver<Vec<u8>>,
}

impl Spool {
    /// Starts the threads.
    pub fn new() -> Spool {
        let (jobs, inbox) = sync_channel(QUEUE);
        let (to_sync, unsynced) = sync_channel(SYNC_QUEUE);
        let (recycle, spare) = sync_channel(QUEUE + 2);
        let writer = std::thread::spawn(move || write_files(&inbox, &to_sync, &recycle));
        let syncer = std::thread::spawn(move || sync_files(&unsynced));
        Spool {
            jobs: Some(jobs),
            threads: vec![writer, syncer],
            chunk: Vec::with_capacity(CHUNK),
            pending: 0,
            spare,
        }
    }

    /// Starts writing `path` (created or truncated), beginning with `header`; what is
    /// pending stays pending, after it.
    pub fn create(&mut self, path: PathBuf, header: &[u8]) -> io::Result<()> {
        self.send(Job::Create(path))?;
        self.insert(header);
        Ok(())
    }

    /// Appends to what is pending.
    pub fn append_pending(&mut self, data: &[u8]) {
        self.chunk.extend_from_slice(data);
    }

    /// What is pending.
    pub fn pending(&self) -> &[u8] {
        &self.chunk[self.pending..]
    }

    /// Drops what is pending.
    pub fn discard_pending(&mut self) {
        self.chunk.truncate(self.pending);
    }

    /// Commits what is pending to the file being written.
    pub fn commit(&mut self) -> io::Result<()> {
        self.pending = self.chunk.len();
        if self.pending >= CHUNK {
            self.send_committed()?;
        }
        Ok(())
    }

    /// Appends `data` to the file being written, before what is pending.
    pub fn write(&mut self, data: &[u8]) -> io::Result<()> {
        self.insert(data);
        if self.pending >= CHUNK {
            self.send_committed()?;
        }
        Ok(())
    }

    /// Ends the file being written (what is pending stays for the next); the answer arrives
    /// once it is on disk, while the caller goes on with the next file.
    pub fn finish(&mut self) -> io::Result<Receiver<Written>> {
        if self.pending > 0 {
            self.send_committed()?;
        }
        let (answer, result) = sync_channel(1);
        self.send(Job::Finish(answer))?;
        Ok(result)
    }

    fn insert(&mut self, data: &[u8]) {
        if self.pending == self.chunk.len() {
            self.chunk.extend_from_slice(data);
        } else {
            // Moves the pending bytes (one order's) along: rare, and small.
            self.chunk
                .splice(self.pending..self.pending, data.iter().copied());
        }
        self.pending += data.len();
    }

    /// Hands the committed bytes to the writer; what is pending moves to the next chunk.
    fn send_committed(&mut self) -> io::Result<()> {
        let mut next = match self.spare.try_recv() {
            Ok(mut b) => {
                b.clear();
                b
            }
            Err(_) => Vec::with_capacity(CHUNK),
        };
        next.extend_from_slice(&self.chunk[self.pending..]);
        self.chunk.truncate(self.pending);
        let full = std::mem::replace(&mut self.chunk, next);
        self.pending = 0;
        self.send(Job::Data(full))
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
        // Closing the queue ends the writer once it has written what it was given, and the
        // writer's end closes the syncer's queue.
        self.jobs.take();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn write_files(
    inbox: &Receiver<Job>,
    to_sync: &SyncSender<Unsynced>,
    recycle: &SyncSender<Vec<u8>>,
) {
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
                // A full queue means buffers enough: this one is freed.
                let _ = recycle.try_send(data);
            }
            Job::Finish(answer) => {
                let written = match (file.take(), failed.take()) {
                    (_, Some(e)) => Err(e),
                    (None, None) => Err(io::Error::other("no file was being written")),
                    (Some(f), None) => f.finish(),
                };
                match written {
                    Ok((file, sha256, bytes)) => {
                        let job = Unsynced {
                            file,
                            sha256,
                            bytes,
                            answer,
                        };
                        if let Err(e) = to_sync.send(job) {
                            let _ =
                                e.0.answer
                                    .send(Err(io::Error::other("the part-syncing thread stopped")));
                        }
                    }
                    Err(e) => {
                        let _ = answer.send(Err(e));
                    }
                }
            }
        }
    }
}

fn sync_files(unsynced: &Receiver<Unsynced>) {
    for u in unsynced {
        let _ = u
            .answer
            .send(u.file.sync_all().map(|()| (u.sha256, u.bytes)));
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
            spool.create(dir.join(format!("{i}.csv")), b"").unwrap();
            let data: Vec<u8> = (0..size).map(|b| b as u8).collect();
            for piece in data.chunks(1000) {
                spool.write(piece).unwrap();
            }
            answers.push((i, data, spool.finish().unwrap()));
        }
        spool
            .create(dir.join("missing").join("x.csv"), b"")
            .unwrap();
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

    #[test]
    fn pending_bytes_go_to_the_file_they_are_committed_in_or_nowhere() {
        let dir = std::env::temp_dir().join(format!("convsubmit-pending-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let big = vec![b'x'; CHUNK + 5];
        let mut spool = Spool::new();
        spool.create(dir.join("a.csv"), b"h\n").unwrap();
        spool.append_pending(b"1\n");
        spool.commit().unwrap();
        spool.append_pending(b"dropped\n");
        assert_eq!(spool.pending(), b"dropped\n");
        spool.discard_pending();
        spool.append_pending(&big);
        spool.commit().unwrap();
        // Gathered while `a` is open, committed into `b` after its header.
        spool.append_pending(b"2\n");
        spool.write(b"single\n").unwrap();
        let a = spool.finish().unwrap();
        spool.create(dir.join("b.csv"), b"h\n").unwrap();
        assert_eq!(spool.pending(), b"2\n");
        spool.commit().unwrap();
        let b = spool.finish().unwrap();
        let mut want_a = b"h\n1\n".to_vec();
        want_a.extend_from_slice(&big);
        want_a.extend_from_slice(b"single\n");
        for (answer, name, want) in [(a, "a.csv", want_a), (b, "b.csv", b"h\n2\n".to_vec())] {
            let (sha, bytes) = answer.recv().unwrap().unwrap();
            assert_eq!(
                (sha, bytes),
                (crate::digest::sha256_hex(&want), want.len() as u64)
            );
            assert_eq!(std::fs::read(dir.join(name)).unwrap(), want, "{name}");
        }
        drop(spool);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
