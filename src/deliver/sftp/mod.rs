//! `--sftp`: SSH with a key, a password or both (see [`auth`]), the server's host key checked against
//! known_hosts or a pinned `SHA256:` fingerprint (an unknown or changed key stops the run;
//! nothing is ever trusted silently), then a temporary name, a size check and a rename.

use super::{
    DeliveryError, FailureKind, Holding, PROBE_NAME, Transport, connect_tcp, name_taken, put_probe,
    resolve, server_url, temporary_name,
};
mod auth;

pub use auth::{Auth, KeyFile};
use ssh2::{
    CheckResult, ErrorCode, HashType, KnownHostFileKind, OpenFlags, OpenType, Session,
    Sftp as SftpChannel,
};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How the server's key is checked.
#[derive(Debug, Clone)]
pub enum HostKeyCheck {
    /// Against an OpenSSH known_hosts file.
    KnownHosts(PathBuf),
    /// Against a pinned `SHA256:…` fingerprint.
    Pinned(String),
}

/// How to reach the server.
#[derive(Debug, Clone)]
pub struct SftpSettings {
    /// Host name or address.
    pub host: String,
    /// Port (22).
    pub port: u16,
    /// Login.
    pub user: String,
    /// Key, password, or both.
    pub auth: Auth,
    /// Host key check.
    pub host_key: HostKeyCheck,
    /// Folder on the server.
    pub remote_dir: String,
    /// Upload under a temporary name and rename (else straight to the final name).
    pub rename: bool,
}

struct Conn {
    // Dropped in field order: the channel before the session.
    sftp: SftpChannel,
    session: Session,
    /// The login methods the server accepted, in order.
    accepted: Vec<&'static str>,
}

/// The SFTP transport.
pub struct Sftp {
    settings: SftpSettings,
    conn: Option<Conn>,
}

impl Sftp {
    /// A transport that connects on [`Transport::connect`].
    pub fn new(settings: SftpSettings) -> Sftp {
        Sftp {
            settings,
            conn: None,
        }
    }

    fn remote(&self, name: &str) -> PathBuf {
        let dir = self.settings.remote_dir.trim_end_matches('/');
        PathBuf::from(format!("{dir}/{name}"))
    }

    fn open(&self, timeout: Duration) -> Result<Conn, DeliveryError> {
        let s = &self.settings;
        let tcp = connect_tcp(resolve(&s.host, s.port)?, timeout)
            .map_err(|e| DeliveryError::io("connect", &e))?;
        let mut session = Session::new().map_err(|e| classify("connect", &e))?;
        session.set_timeout(timeout.as_millis().min(u128::from(u32::MAX)) as u32);
        session.set_tcp_stream(tcp);
        session
            .handshake()
            .map_err(|e| classify("SSH handshake", &e))?;
        self.check_host_key(&session)?;
        let accepted = auth::login(&session, &s.user, &s.auth)?;
        let sftp = session.sftp().map_err(|e| classify("open SFTP", &e))?;
        Ok(Conn {
            sftp,
            session,
            accepted,
        })
    }

    fn check_host_key(&self, session: &Session) -> Result<(), DeliveryError> {
        let s = &self.settings;
        let (key, _) = session
            .host_key()
            .ok_or_else(|| DeliveryError::permanent("host key", "the server sent no host key"))?;
        let fingerprint = session
            .host_key_hash(HashType::Sha256)
            .map(|h| format!("SHA256:{}", crate::digest::base64(h, false)))
            .ok_or_else(|| DeliveryError::permanent("host key", "cannot hash the host key"))?;
        let pin_line = format!("host_key = \"{fingerprint}\"");
        match &s.host_key {
            HostKeyCheck::Pinned(pin) if *pin == fingerprint => Ok(()),
            HostKeyCheck::Pinned(pin) => Err(DeliveryError::permanent(
                "host key",
                format!(
                    "{}:{} presented the key {fingerprint}, not the pinned {pin}",
                    s.host, s.port
                ),
            )
            .help(format!(
                "the server's key changed, or this is not the server you expect. Confirm the new key with the server's operator; if it is right, set {pin_line} under [sftp]"
            ))),
            HostKeyCheck::KnownHosts(path) => {
                let mut known = session
                    .known_hosts()
                    .map_err(|e| classify("host key", &e))?;
                if path.exists() {
                    known
                        .read_file(path, KnownHostFileKind::OpenSSH)
                        .map_err(|e| {
                            DeliveryError::permanent(
                                "host key",
                                format!("cannot read {}: {}", path.display(), e.message()),
                            )
                        })?;
                }
                match known.check_port(&s.host, s.port, key) {
                    CheckResult::Match => Ok(()),
                    CheckResult::NotFound => Err(DeliveryError::permanent(
                        "host key",
                        format!(
                            "{}:{} is not in {}; its key is {fingerprint}",
                            s.host,
                            s.port,
                            path.display()
                        ),
                    )
                    .help(format!(
                        "check the fingerprint with the server's operator, then either set {pin_line} under [sftp], or add the key to {} (e.g. `ssh-keyscan -p {} {} >> {}`)",
                        path.display(),
                        s.port,
                        s.host,
                        path.display()
                    ))),
                    CheckResult::Mismatch => Err(DeliveryError::permanent(
                        "host key",
                        format!(
                            "the key of {}:{} ({fingerprint}) differs from the one in {}",
                            s.host,
                            s.port,
                            path.display()
                        ),
                    )
                    .help(format!(
                        "the server's key changed, or this is not the server you expect. Confirm the new key with the server's operator; if it is right, replace the old line in {} or set {pin_line} under [sftp]",
                        path.display()
                    ))),
                    CheckResult::Failure => Err(DeliveryError::permanent(
                        "host key",
                        format!("cannot check the key against {}", path.display()),
                    )),
                }
            }
        }
    }

    fn upload(
        &mut self,
        local: &Path,
        name: &str,
        progress: &mut dyn FnMut(u64),
    ) -> Result<(), DeliveryError> {
        let rename = self.settings.rename;
        let (tmp, dst) = (self.remote(&temporary_name(name)), self.remote(name));
        let target = if rename { &tmp } else { &dst };
        let conn = self
            .conn
            .as_ref()
            .ok_or_else(|| DeliveryError::temporary("upload", "not connected"))?;
        let size = std::fs::metadata(local)
            .map_err(|e| DeliveryError::permanent("read part", e.to_string()))?
            .len();
        let mut src = std::fs::File::open(local)
            .map_err(|e| DeliveryError::permanent("read part", e.to_string()))?;
        // The file is always created new: straight to the final name, one that exists is never
        // truncated; under the temporary name, whatever is there (a killed run's upload, or a
        // link planted to make this upload write elsewhere) is removed first, never followed.
        if rename {
            let _ = conn.sftp.unlink(&tmp);
        }
        let flags = OpenFlags::WRITE | OpenFlags::CREATE | OpenFlags::EXCLUSIVE;
        let mut remote = conn
            .sftp
            .open_mode(target, flags, 0o644, OpenType::File)
            .map_err(|e| match conn.sftp.stat(target) {
                Ok(_) if !rename => name_taken(name),
                _ => classify("upload", &e),
            })?;
        let mut buf = vec![0; 64 * 1024];
        let mut sent = 0;
        loop {
            let n = src
                .read(&mut buf)
                .map_err(|e| DeliveryError::permanent("read part", e.to_string()))?;
            if n == 0 {
                break;
            }
            remote.write_all(&buf[..n]).map_err(|e| {
                // ssh2 reports a lost connection as `Other`: only a refusal is permanent.
                let kind = match e.kind() {
                    std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::NotFound => {
                        FailureKind::Permanent
                    }
                    _ => FailureKind::Temporary,
                };
                DeliveryError {
                    kind,
                    stage: "upload",
                    message: e.to_string(),
                    help: None,
                    wait: None,
                }
            })?;
            sent += n as u64;
            progress(sent);
        }
        remote.close().map_err(|e| classify("upload", &e))?;
        drop(remote);
        let stat = conn
            .sftp
            .stat(target)
            .map_err(|e| classify("size check", &e))?;
        if stat.size != Some(size) {
            return Err(DeliveryError::temporary(
                "size check",
                format!("the server holds {:?} bytes of {size}", stat.size),
            ));
        }
        if rename {
            // SFTP v3 rename refuses an existing target: a file already there is never
            // replaced (see `Transport::put`).
            conn.sftp.rename(&tmp, &dst, None).map_err(|e| {
                if conn.sftp.lstat(&dst).is_ok() {
                    let _ = conn.sftp.unlink(&tmp);
                    return name_taken(name);
                }
                let err = classify("rename", &e);
                if err.kind == FailureKind::Permanent {
                    err.help("the server refuses to rename uploads; set `rename = false` under [sftp] to upload straight to the final name (a partial file can then appear under it while uploading)")
                } else {
                    err
                }
            })?;
        }
        Ok(())
    }
}

/// Network and session errors are temporary; refusals by the server permanent, but for a
/// full disk or quota.
fn classify(stage: &'static str, e: &ssh2::Error) -> DeliveryError {
    let kind = match e.code() {
        // LIBSSH2_FX_NO_SPACE_ON_FILESYSTEM, QUOTA_EXCEEDED, NO_CONNECTION, CONNECTION_LOST
        ErrorCode::SFTP(14 | 15 | 6 | 7) => FailureKind::Temporary,
        ErrorCode::SFTP(_) => FailureKind::Permanent,
        ErrorCode::Session(_) => FailureKind::Temporary,
    };
    DeliveryError {
        kind,
        stage,
        message: e.message().to_string(),
        help: None,
        wait: None,
    }
}

impl Transport for Sftp {
    fn destination(&self) -> String {
        let s = &self.settings;
        server_url("sftp", &s.user, &s.host, s.port, &s.remote_dir)
    }

    fn connect(&mut self, timeout: Duration) -> Result<(), DeliveryError> {
        self.disconnect();
        self.conn = Some(self.open(timeout)?);
        Ok(())
    }

    fn put(
        &mut self,
        local: &Path,
        name: &str,
        progress: &mut dyn FnMut(u64),
    ) -> Result<(), DeliveryError> {
        let result = self.upload(local, name, progress);
        if result
            .as_ref()
            .is_err_and(|e| e.kind == FailureKind::Temporary)
        {
            self.conn = None;
        }
        result
    }

    fn holds(&mut self, name: &str, bytes: u64, sha256: &str) -> Result<Holding, DeliveryError> {
        let conn = self
            .conn
            .as_ref()
            .ok_or_else(|| DeliveryError::temporary("look up", "not connected"))?;
        let path = self.remote(name);
        let stat = match conn.sftp.lstat(&path) {
            Ok(st) => st,
            // LIBSSH2_FX_NO_SUCH_FILE
            Err(e) if e.code() == ErrorCode::SFTP(2) => return Ok(Holding::Absent),
            Err(e) => return Err(classify("look up", &e)),
        };
        if !stat.is_file() {
            return Ok(Holding::Other);
        }
        let file = conn.sftp.open(&path).map_err(|e| classify("look up", &e))?;
        Holding::compare(stat.size.unwrap_or(u64::MAX), file, bytes, sha256)
            .map_err(|e| DeliveryError::io("look up", &e))
    }

    fn probe(&mut self, step: &mut dyn FnMut(&str)) -> Result<(), DeliveryError> {
        if let Some(conn) = &self.conn {
            step(&format!("logged in with {}", conn.accepted.join(", then ")));
        }
        let rename = self.settings.rename;
        put_probe(self, rename, step)?;
        let conn = self
            .conn
            .as_ref()
            .ok_or_else(|| DeliveryError::temporary("remove", "not connected"))?;
        conn.sftp
            .unlink(&self.remote(PROBE_NAME))
            .map_err(|e| classify("remove", &e))?;
        step("removed it");
        Ok(())
    }

    fn disconnect(&mut self) {
        if let Some(conn) = self.conn.take() {
            let _ = conn.session.disconnect(None, "bye", None);
        }
    }
}
