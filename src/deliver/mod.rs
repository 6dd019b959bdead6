//! Transports: one [`Transport`] trait for every way a part file leaves (a folder, SFTP,
//! FTP/FTPS, email), and the errors they report (temporary or permanent, with the stage they
//! failed at). Leaves: nothing here knows of the push use case, the ledger or the commands.

pub mod dir;
pub mod email;
pub mod ftp;
pub mod sftp;

use crate::input::SmallFileError;
use std::fmt;
use std::io::Read;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::Path;
use std::time::Duration;

/// Whether re-running later can help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// Network trouble, a busy server, a 4xx reply: retried, then exit 3.
    Temporary,
    /// Authentication, host key, certificate, refused operation: exit 4 at once.
    Permanent,
}

/// A failed delivery step. Messages never hold a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryError {
    /// Temporary or permanent.
    pub kind: FailureKind,
    /// The step that failed: `connect`, `TLS`, `login`, `host key`, `upload`, `rename`, …
    pub stage: &'static str,
    /// What happened.
    pub message: String,
    /// What a person should do, when there is something specific.
    pub help: Option<String>,
    /// How long the server asked to wait before trying again (HTTP `Retry-After`).
    pub wait: Option<Duration>,
}

impl DeliveryError {
    /// A temporary failure.
    pub fn temporary(stage: &'static str, message: impl Into<String>) -> Self {
        DeliveryError {
            kind: FailureKind::Temporary,
            stage,
            message: message.into(),
            help: None,
            wait: None,
        }
    }

    /// A permanent failure.
    pub fn permanent(stage: &'static str, message: impl Into<String>) -> Self {
        DeliveryError {
            kind: FailureKind::Permanent,
            stage,
            message: message.into(),
            help: None,
            wait: None,
        }
    }

    /// Adds what to do.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Adds the wait the server asked for before the next attempt.
    pub fn after(mut self, wait: Option<Duration>) -> Self {
        self.wait = wait;
        self
    }

    /// Classifies an I/O error: timeouts, resets and refusals are temporary; the rest (a
    /// missing folder, no permission) permanent.
    pub fn io(stage: &'static str, e: &std::io::Error) -> Self {
        use std::io::ErrorKind as K;
        let temporary = matches!(
            e.kind(),
            K::TimedOut
                | K::WouldBlock
                | K::Interrupted
                | K::ConnectionRefused
                | K::ConnectionReset
                | K::ConnectionAborted
                | K::NotConnected
                | K::BrokenPipe
                | K::UnexpectedEof
                | K::AddrNotAvailable
                | K::NetworkUnreachable
                | K::HostUnreachable
                | K::NetworkDown
                | K::StorageFull
                | K::ResourceBusy
        );
        let kind = if temporary {
            FailureKind::Temporary
        } else {
            FailureKind::Permanent
        };
        // A read timeout shows as EAGAIN ("Resource temporarily unavailable"): say what it is.
        let message = match e.kind() {
            K::TimedOut | K::WouldBlock => format!("the server did not answer in time ({e})"),
            _ => e.to_string(),
        };
        DeliveryError {
            kind,
            stage,
            message,
            help: None,
            wait: None,
        }
    }
}

impl fmt::Display for DeliveryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failed: {}", self.stage, self.message)
    }
}

impl std::error::Error for DeliveryError {}

/// What a name at the destination holds, compared with a part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holding {
    /// Nothing by that name.
    Absent,
    /// The part's very bytes (an earlier run's delivery).
    Same,
    /// Something else, never to be replaced.
    Other,
}

impl Holding {
    /// Compares what `remote` reads (`size` bytes, as the server says) with a part of `bytes`
    /// bytes and digest `sha256`. Reads at most one byte more than the part.
    pub fn compare(
        size: u64,
        remote: impl Read,
        bytes: u64,
        sha256: &str,
    ) -> std::io::Result<Holding> {
        if size != bytes {
            return Ok(Holding::Other);
        }
        let mut reader = crate::digest::HashingReader::new(remote.take(bytes + 1));
        std::io::copy(&mut reader, &mut std::io::sink())?;
        let (digest, read) = reader.finish()?;
        Ok(if read == bytes && digest == sha256 {
            Holding::Same
        } else {
            Holding::Other
        })
    }
}

/// The error of a final name that something else took while the part was uploaded: the
/// part is left under its temporary name's place (removed), and the next attempt picks a
/// free name.
pub fn name_taken(name: &str) -> DeliveryError {
    DeliveryError::temporary(
        "rename",
        format!(
            "{name} appeared at the destination while the part was uploaded; it was not replaced"
        ),
    )
}

/// A channel that delivers part files: a folder, an FTP or SFTP server, …
///
/// Every implementation makes a part appear under its final name only when it is complete
/// (a temporary name, then a rename), never replaces a file that is already there under
/// that name, and reports failures as [`DeliveryError`]s.
pub trait Transport: Send {
    /// Where parts go, for people and the ledger: `sftp://acme@batch.impact.com:22/` (never
    /// a secret).
    fn destination(&self) -> String;

    /// Connects and logs in (verifying the host key or certificate). Called again after a
    /// failure, to reconnect.
    fn connect(&mut self, timeout: Duration) -> Result<(), DeliveryError>;

    /// Delivers the file at `local` as `name`. `progress` is told the bytes sent so far.
    /// Something already under `name` is never replaced: [`name_taken`] is the error.
    fn put(
        &mut self,
        local: &Path,
        name: &str,
        progress: &mut dyn FnMut(u64),
    ) -> Result<(), DeliveryError>;

    /// What `name` holds at the destination, compared with a part of `bytes` bytes and
    /// digest `sha256` (before a part is sent, and after a run that died mid-delivery, to
    /// tell whether its last part arrived). Channels that cannot look (email) say `Absent`.
    fn holds(&mut self, name: &str, bytes: u64, sha256: &str) -> Result<Holding, DeliveryError>;

    /// Checks what can be checked without connecting or sending (for `--dry-run` as for a
    /// real run): a folder that does not exist, say.
    fn check(&self) -> Result<(), DeliveryError> {
        Ok(())
    }

    /// The largest part the channel takes (email attachments), if it has a limit.
    fn max_part_bytes(&self) -> Option<u64> {
        None
    }

    /// How the destination is shown to people (by default, as [`Transport::destination`]).
    fn label(&self) -> String {
        self.destination()
    }

    /// Writes, renames and removes a small probe file, reporting each step (for `doctor`).
    fn probe(&mut self, step: &mut dyn FnMut(&str)) -> Result<(), DeliveryError>;

    /// Closes the connection, if any (errors are of no interest any more).
    fn disconnect(&mut self);
}

/// The temporary name a part is uploaded under: hidden, and not ending in `.csv` or `.xml`,
/// so impact.com's poller never takes it for a batch file.
pub fn temporary_name(name: &str) -> String {
    format!(".{name}.uploading")
}

/// The probe file `doctor` writes.
pub const PROBE_NAME: &str = ".convsubmit-doctor-probe";

/// `e` with its causes, `outer: inner: …`: libraries often keep the useful part (such as
/// "Connection refused" or OpenSSL's reason) in a source.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        source = s.source();
    }
    text
}

/// Whether a failed TLS handshake is the server's certificate failing verification
/// (untrusted, expired, another host's name): permanent, a person must act. OpenSSL reports
/// all of these as "certificate verify failed". Any other broken handshake (the server
/// answered with something that is not TLS, the connection dropped) is temporary, like any
/// other broken connection.
pub fn certificate_rejected(message: &str) -> bool {
    message.contains("certificate verify failed")
}

/// The first address of `host:port`; a name that does not resolve is temporary (DNS).
pub fn resolve(host: &str, port: u16) -> Result<SocketAddr, DeliveryError> {
    (host, port)
        .to_socket_addrs()
        .map_err(|e| DeliveryError::temporary("connect", format!("cannot resolve {host}: {e}")))?
        .next()
        .ok_or_else(|| DeliveryError::temporary("connect", format!("{host} has no address")))
}

/// A TCP connection whose connect, reads and writes all give up after `timeout`.
pub fn connect_tcp(addr: SocketAddr, timeout: Duration) -> std::io::Result<TcpStream> {
    let stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    Ok(stream)
}

/// The largest `ca_file` read: a whole system bundle is a few hundred KiB.
const MAX_CA_BYTES: u64 = 4 << 20;

/// The CA certificate in `path` (PEM), parsed by the TLS library's own `parse`. Only a
/// regular file of at most [`MAX_CA_BYTES`] is read.
pub fn ca_certificate<C, E: fmt::Display>(
    path: &Path,
    parse: impl FnOnce(&[u8]) -> Result<C, E>,
) -> Result<C, DeliveryError> {
    let unreadable = |why: String| {
        DeliveryError::permanent(
            "TLS",
            format!("cannot read ca_file {}: {why}", path.display()),
        )
    };
    let pem = match crate::input::read_small(path, MAX_CA_BYTES) {
        Ok(Some(pem)) => pem,
        Ok(None) => return Err(unreadable("No such file or directory".into())),
        Err(SmallFileError::Io(e)) => return Err(unreadable(e.to_string())),
        Err(SmallFileError::NotRegular) => return Err(unreadable("not a regular file".into())),
        Err(SmallFileError::Changed) => {
            return Err(unreadable("it changed while it was read".into()));
        }
        Err(SmallFileError::TooLarge) => {
            return Err(unreadable(format!(
                "over {} MiB: not a PEM certificate",
                MAX_CA_BYTES >> 20
            )));
        }
    };
    parse(&pem).map_err(|e| {
        DeliveryError::permanent(
            "TLS",
            format!("ca_file {} is not a PEM certificate: {e}", path.display()),
        )
    })
}

/// `scheme://user@host:port/dir`, as destinations are named.
pub fn server_url(scheme: &str, user: &str, host: &str, port: u16, dir: &str) -> String {
    let slash = if dir.starts_with('/') { "" } else { "/" };
    format!("{scheme}://{user}@{host}:{port}{slash}{dir}")
}

/// `doctor`'s upload: a small probe file sent through `t.put` (temporary name, size check,
/// rename when `rename`), then left for the caller to remove.
pub fn put_probe(
    t: &mut dyn Transport,
    rename: bool,
    step: &mut dyn FnMut(&str),
) -> Result<(), DeliveryError> {
    let dir = std::env::temp_dir().join(format!("convsubmit-probe-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let local = dir.join(PROBE_NAME);
    let put = std::fs::write(&local, b"convsubmit doctor\n")
        .map_err(|e| DeliveryError::permanent("probe", e.to_string()))
        .and_then(|()| t.put(&local, PROBE_NAME, &mut |_| {}));
    let _ = std::fs::remove_dir_all(&dir);
    put?;
    step(if rename {
        "wrote a probe file under a temporary name, checked its size and renamed it"
    } else {
        "wrote a probe file and checked its size"
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_names_are_never_batch_files() {
        let t = temporary_name("2026-06-30_orders.csv");
        assert!(t.starts_with('.') && !t.ends_with(".csv") && !t.ends_with(".xml"));
    }

    #[test]
    fn a_name_that_cannot_be_resolved_is_temporary_and_named() {
        // A NUL byte fails before the resolver is asked: no query leaves the machine.
        let e = resolve("bad\0host", 22).unwrap_err();
        assert_eq!((e.kind, e.stage), (FailureKind::Temporary, "connect"));
        assert!(e.message.starts_with("cannot resolve bad\0host: "), "{e}");
        assert_eq!(resolve("127.0.0.1", 22).unwrap().port(), 22);
    }

    #[test]
    fn only_certificate_failures_are_certificate_failures() {
        assert!(certificate_rejected(
            "error:0A000086:SSL routines:tls_post_process_server_certificate:certificate verify failed"
        ));
        assert!(!certificate_rejected(
            "error:0A00010B:SSL routines:ssl3_get_record:wrong version number"
        ));
    }

    #[test]
    fn io_errors_are_classified() {
        use std::io::{Error, ErrorKind};
        let t = DeliveryError::io("upload", &Error::from(ErrorKind::TimedOut));
        assert_eq!(t.kind, FailureKind::Temporary);
        let p = DeliveryError::io("upload", &Error::from(ErrorKind::PermissionDenied));
        assert_eq!(p.kind, FailureKind::Permanent);
        assert_eq!(p.to_string(), "upload failed: permission denied");
    }
}
