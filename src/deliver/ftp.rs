//! `--ftp` and `--ftps` (explicit TLS, certificate verified): passive mode through the
//! control connection's address (the server's PASV address is ignored, as it is often a
//! private one), binary transfers, a temporary name, a size check, then a rename.

use super::{
    DeliveryError, FailureKind, Holding, PROBE_NAME, Transport, ca_certificate,
    certificate_rejected, connect_tcp, name_taken, put_probe, resolve, server_url, temporary_name,
};
use crate::secret::Secret;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use suppaftp::native_tls::{Certificate, TlsConnector};
use suppaftp::types::FileType;
use suppaftp::{
    FtpError, FtpStream, ImplFtpStream, NativeTlsConnector, NativeTlsFtpStream, TlsStream,
};

/// How to reach the server.
#[derive(Debug, Clone)]
pub struct FtpSettings {
    /// Host name or address.
    pub host: String,
    /// Port (21).
    pub port: u16,
    /// Login.
    pub user: String,
    /// Password.
    pub password: Secret,
    /// Explicit TLS (`--ftps`).
    pub tls: bool,
    /// An extra CA certificate to trust (PEM).
    pub ca_file: Option<PathBuf>,
    /// Folder on the server.
    pub remote_dir: String,
    /// Upload under a temporary name and rename (else straight to the final name).
    pub rename: bool,
}

/// A connection of either kind.
enum Conn {
    Plain(FtpStream),
    Tls(NativeTlsFtpStream),
}

/// The FTP/FTPS transport.
pub struct Ftp {
    settings: FtpSettings,
    conn: Option<Conn>,
}

impl Ftp {
    /// A transport that connects on [`Transport::connect`].
    pub fn new(settings: FtpSettings) -> Ftp {
        Ftp {
            settings,
            conn: None,
        }
    }

    fn scheme(&self) -> &'static str {
        if self.settings.tls { "ftps" } else { "ftp" }
    }

    fn open(&self, timeout: Duration) -> Result<Conn, DeliveryError> {
        let s = &self.settings;
        let addr = resolve(&s.host, s.port)?;
        let stream = connect_tcp(addr, timeout).map_err(|e| DeliveryError::io("connect", &e))?;
        if s.tls {
            let ftp = NativeTlsFtpStream::connect_with_stream(stream)
                .map_err(|e| classify("connect", e))?;
            let connector = tls_connector(s.ca_file.as_deref())?;
            let ftp = ftp
                .into_secure(NativeTlsConnector::from(connector), &s.host)
                .map_err(|e| tls_error(e, s.ca_file.is_some()))?;
            Ok(Conn::Tls(setup(ftp, s, timeout)?))
        } else {
            let ftp = FtpStream::connect_with_stream(stream).map_err(|e| classify("connect", e))?;
            Ok(Conn::Plain(setup(ftp, s, timeout)?))
        }
    }
}

fn tls_connector(ca_file: Option<&Path>) -> Result<TlsConnector, DeliveryError> {
    let mut b = TlsConnector::builder();
    if let Some(path) = ca_file {
        let cert = ca_certificate(path, Certificate::from_pem)?;
        b.add_root_certificate(cert);
    }
    b.build()
        .map_err(|e| DeliveryError::permanent("TLS", e.to_string()))
}

fn tls_error(e: FtpError, has_ca: bool) -> DeliveryError {
    match e {
        FtpError::SecureError(msg) if certificate_rejected(&msg) => {
            let help = if has_ca {
                "the server's certificate is not signed by the ca_file under [ftp], or does not name the host"
            } else {
                "the server's certificate is not trusted by this system or does not name the host; if it is signed by your own CA, set ca_file under [ftp]"
            };
            DeliveryError::permanent("TLS", msg).help(help)
        }
        FtpError::UnexpectedResponse(r) if code(&r) >= 500 => DeliveryError::permanent(
            "TLS",
            format!("the server refused AUTH TLS ({})", reply(&r)),
        )
        .help("the server does not offer FTPS; check the host, or ask its operator"),
        other => classify("TLS", other),
    }
}

fn setup<T: TlsStream>(
    ftp: ImplFtpStream<T>,
    s: &FtpSettings,
    timeout: Duration,
) -> Result<ImplFtpStream<T>, DeliveryError> {
    // Data connections go to the control connection's address (the PASV address is often a
    // private one), with the same timeouts.
    let mut ftp = ftp.passive_stream_builder(move |addr: SocketAddr| {
        connect_tcp(addr, timeout).map_err(FtpError::ConnectionError)
    });
    ftp.set_passive_nat_workaround(true);
    ftp.login(s.user.as_str(), s.password.expose())
        .map_err(|e| match e {
            FtpError::UnexpectedResponse(r) if code(&r) == 530 => DeliveryError::permanent(
                "login",
                format!(
                    "the server refused the login for {} ({})",
                    s.user,
                    reply(&r)
                ),
            )
            .help("check the username and the password variable or file named in the config"),
            other => classify("login", other),
        })?;
    ftp.transfer_type(FileType::Binary)
        .map_err(|e| classify("login", e))?;
    if !s.remote_dir.is_empty() && s.remote_dir != "/" {
        ftp.cwd(&s.remote_dir)
            .map_err(|e| classify("change folder", e))?;
    }
    Ok(ftp)
}

/// The reply code: suppaftp reports codes it does not know (534, …) as 0, so read the text
/// when it does.
fn code(r: &suppaftp::types::Response) -> u32 {
    match r.status.code() {
        0 => String::from_utf8_lossy(&r.body)
            .get(..3)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0),
        c => c,
    }
}

fn reply(r: &suppaftp::types::Response) -> String {
    let body = String::from_utf8_lossy(&r.body);
    crate::escape::for_display(body.trim())
}

/// 4xx replies and network errors are temporary; 5xx replies permanent.
fn classify(stage: &'static str, e: FtpError) -> DeliveryError {
    match e {
        FtpError::ConnectionError(io) => DeliveryError::io(stage, &io),
        FtpError::UnexpectedResponse(r) => {
            // 4xx: try again later; 5xx: refused. A reply without a code is a protocol
            // problem, worth another try.
            let kind = if code(&r) < 500 {
                FailureKind::Temporary
            } else {
                FailureKind::Permanent
            };
            DeliveryError {
                kind,
                stage,
                message: reply(&r),
                help: None,
                wait: None,
            }
        }
        FtpError::SecureError(m) if certificate_rejected(&m) => DeliveryError::permanent(stage, m),
        FtpError::SecureError(m) => {
            DeliveryError::temporary(stage, format!("the TLS handshake broke off: {m}"))
        }
        other => DeliveryError::temporary(stage, other.to_string()),
    }
}

fn upload<T: TlsStream>(
    ftp: &mut ImplFtpStream<T>,
    local: &Path,
    name: &str,
    rename: bool,
    progress: &mut dyn FnMut(u64),
) -> Result<(), DeliveryError> {
    let size = std::fs::metadata(local)
        .map_err(|e| DeliveryError::permanent("read part", e.to_string()))?
        .len();
    let target = if rename {
        temporary_name(name)
    } else {
        name.to_string()
    };
    // RNTO and STOR replace what is there: look first (another writer could still come in
    // between; nothing in FTP can prevent that).
    if !rename && remote_size(ftp, name)?.is_some() {
        return Err(name_taken(name));
    }
    if rename {
        // A killed run's upload, or a link planted under the temporary name: removed, so
        // that the upload does not write through it (a server may follow links on STOR).
        let _ = ftp.rm(&target);
    }
    let mut src = std::fs::File::open(local)
        .map_err(|e| DeliveryError::permanent("read part", e.to_string()))?;
    let mut stream = ftp
        .put_with_stream(&target)
        .map_err(|e| classify("upload", e))?;
    let mut buf = vec![0; 64 * 1024];
    let mut sent = 0;
    loop {
        let n = src
            .read(&mut buf)
            .map_err(|e| DeliveryError::permanent("read part", e.to_string()))?;
        if n == 0 {
            break;
        }
        stream
            .write_all(&buf[..n])
            .map_err(|e| DeliveryError::io("upload", &e))?;
        sent += n as u64;
        progress(sent);
    }
    stream.finish().map_err(|e| classify("upload", e))?;
    let remote = ftp.size(&target).map_err(|e| classify("size check", e))?;
    if remote as u64 != size {
        return Err(DeliveryError::temporary(
            "size check",
            format!("the server holds {remote} bytes of {size}"),
        ));
    }
    if rename {
        if remote_size(ftp, name)?.is_some() {
            let _ = ftp.rm(&target);
            return Err(name_taken(name));
        }
        ftp.rename(&target, &name.to_string()).map_err(|e| {
            let err = classify("rename", e);
            if err.kind == FailureKind::Permanent {
                err.help("the server refuses to rename uploads; set `rename = false` under [ftp] to upload straight to the final name (a partial file can then appear under it while uploading)")
            } else {
                err
            }
        })?;
    }
    Ok(())
}

/// The size of `name` on the server, `None` when there is no such file (550).
fn remote_size<T: TlsStream>(
    ftp: &mut ImplFtpStream<T>,
    name: &str,
) -> Result<Option<u64>, DeliveryError> {
    match ftp.size(name) {
        Ok(n) => Ok(Some(n as u64)),
        Err(FtpError::UnexpectedResponse(r)) if code(&r) == 550 => Ok(None),
        Err(e) => Err(classify("look up", e)),
    }
}

/// What `name` holds: its size first, then, when the size is the part's, its bytes.
fn holds<T: TlsStream>(
    ftp: &mut ImplFtpStream<T>,
    name: &str,
    bytes: u64,
    sha256: &str,
) -> Result<Holding, DeliveryError> {
    let Some(size) = remote_size(ftp, name)? else {
        return Ok(Holding::Absent);
    };
    if size != bytes {
        return Ok(Holding::Other);
    }
    let mut stream = ftp
        .retr_as_stream(name)
        .map_err(|e| classify("look up", e))?;
    let holding = Holding::compare(size, &mut stream, bytes, sha256)
        .map_err(|e| DeliveryError::io("look up", &e))?;
    stream.finish().map_err(|e| classify("look up", e))?;
    Ok(holding)
}

impl Transport for Ftp {
    fn destination(&self) -> String {
        let s = &self.settings;
        server_url(self.scheme(), &s.user, &s.host, s.port, &s.remote_dir)
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
        let rename = self.settings.rename;
        let result = match self.conn.as_mut() {
            None => Err(DeliveryError::temporary("upload", "not connected")),
            Some(Conn::Plain(f)) => upload(f, local, name, rename, progress),
            Some(Conn::Tls(f)) => upload(f, local, name, rename, progress),
        };
        if result
            .as_ref()
            .is_err_and(|e| e.kind == FailureKind::Temporary)
        {
            // The connection is in an unknown state: start afresh on the next attempt.
            self.conn = None;
        }
        result
    }

    fn holds(&mut self, name: &str, bytes: u64, sha256: &str) -> Result<Holding, DeliveryError> {
        let result = match self.conn.as_mut() {
            None => Err(DeliveryError::temporary("look up", "not connected")),
            Some(Conn::Plain(f)) => holds(f, name, bytes, sha256),
            Some(Conn::Tls(f)) => holds(f, name, bytes, sha256),
        };
        if result
            .as_ref()
            .is_err_and(|e| e.kind == FailureKind::Temporary)
        {
            self.conn = None;
        }
        result
    }

    fn probe(&mut self, step: &mut dyn FnMut(&str)) -> Result<(), DeliveryError> {
        let rename = self.settings.rename;
        put_probe(self, rename, step)?;
        let removed = match self.conn.as_mut() {
            Some(Conn::Plain(f)) => f.rm(PROBE_NAME),
            Some(Conn::Tls(f)) => f.rm(PROBE_NAME),
            None => return Err(DeliveryError::temporary("remove", "not connected")),
        };
        removed.map_err(|e| classify("remove", e))?;
        step("removed it");
        Ok(())
    }

    fn disconnect(&mut self) {
        match self.conn.take() {
            Some(Conn::Plain(mut f)) => {
                let _ = f.quit();
            }
            Some(Conn::Tls(mut f)) => {
                let _ = f.quit();
            }
            None => {}
        }
    }
}
