//! In-process FTP / explicit-FTPS test server for integration tests.
//!
//! Built on libunftp (control/data channels) with a fault-injecting wrapper around
//! `unftp_sbe_fs::Filesystem`. Synchronous API: the server runs in its own `std::thread`
//! with its own single-threaded tokio runtime; plain `#[test]` fns drive it with a blocking
//! client (suppaftp).
//!
//! Cargo.toml (all dev-dependencies; versions known to build on the project machine):
//!
//! ```toml
//! [dev-dependencies]
//! tokio        = { version = "1.54.1", features = ["rt", "net", "sync", "macros", "io-util", "time"] }
//! libunftp     = { version = "0.24.0", default-features = false, features = ["ring"] }
//! unftp-sbe-fs = "0.4.0"
//! unftp-core   = "0.1.0"
//! async-trait  = "0.1.92"
//! rcgen        = "0.14.10"
//! slog         = "2.8.2"   # only to capture libunftp's per-command log (libunftp already depends on it)
//! # client used by the tests:
//! suppaftp     = { version = "12.2.1", features = ["native-tls"] }
//! ```
//!
//! Notes:
//! * The command log (`FtpServer::log`) is taken from libunftp's debug-level slog records.
//!   libunftp compiles slog with `release_max_level_info`, so the log is empty when the tests
//!   are built with `--release` (debug-assertions off): `log()` then panics with a clear message.
//!   Everything else works in release (checked).
//! * suppaftp 12 defaults to ASCII transfers and rewrites LF as CRLF in `put_file`; call
//!   `ftp.transfer_type(suppaftp::types::FileType::Binary)` to upload bytes unchanged.
//! * With `tls: true` the server *requires* TLS (AUTH TLS before USER, PROT P for data).
#![allow(dead_code)]

use std::fmt;
use std::io;
use std::net::TcpListener as StdTcpListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use libunftp::options::{FtpsRequired, PassiveHost};
use tokio::io::AsyncReadExt;
use unftp_core::auth::{AuthenticationError, Authenticator, Credentials, Principal, UserDetail};
use unftp_core::storage::{
    Error as StorageError, ErrorKind, Fileinfo, Metadata, Result as StorageResult, StorageBackend,
};
use unftp_sbe_fs::{Filesystem, Meta};

// ---------------------------------------------------------------------------------------------
// Options and faults
// ---------------------------------------------------------------------------------------------

/// How to start a server.
#[derive(Clone, Debug)]
pub struct FtpOptions {
    /// Explicit FTPS (AUTH TLS) with a freshly generated CA + leaf certificate; TLS is required.
    pub tls: bool,
    pub user: String,
    pub password: String,
    /// Fault switches; keep a clone (or use `FtpServer::faults`) to flip them while running.
    pub faults: Faults,
    /// The address the PASV reply advertises (a server behind NAT sends one the client
    /// cannot reach).
    pub pasv_address: [u8; 4],
}

impl Default for FtpOptions {
    fn default() -> Self {
        FtpOptions {
            tls: false,
            pasv_address: [127, 0, 0, 1],
            user: "alice".into(),
            password: "secret".into(),
            faults: Faults::default(),
        }
    }
}

/// Fault injection switches, shared with the running server and changeable at any time.
#[derive(Clone, Default)]
pub struct Faults {
    inner: Arc<FaultState>,
}

#[derive(Default)]
struct FaultState {
    refuse_rename: AtomicBool,
    disk_full: AtomicBool,
    drop_after_bytes: Mutex<Option<u64>>,
    stall_uploads: AtomicBool,
    upload_latency_ms: AtomicU32,
    disk_full_times: AtomicU32,
}

impl Faults {
    /// RNTO (the storage rename that RNFR/RNTO triggers) fails with `550 Permission denied`.
    /// RNFR itself still answers 350: it only checks that the source exists.
    pub fn refuse_rename(&self, on: bool) {
        self.inner.refuse_rename.store(on, Ordering::SeqCst);
    }

    /// STOR/APPE fail with `452 Insufficient storage space` (transient). The server reads and
    /// discards the whole upload first, so the client reliably sees the 452 reply.
    pub fn disk_full(&self, on: bool) {
        self.inner.disk_full.store(on, Ordering::SeqCst);
    }

    /// The next STOR/APPE stores only the first `n` bytes, then the server closes the data
    /// connection and replies `426`. One-shot: resets to `None` once it fires.
    pub fn drop_after_bytes(&self, n: Option<u64>) {
        *self.inner.drop_after_bytes.lock().unwrap() = n;
    }

    /// While on, STOR/APPE read the upload and then give no reply for 12 s (a server stalled
    /// mid-transfer), then fail.
    pub fn stall_uploads(&self, on: bool) {
        self.inner.stall_uploads.store(on, Ordering::SeqCst);
    }

    /// Every STOR/APPE stores the upload, then waits `latency` before it replies (a slow
    /// server: a run's `--max-time` can end in the middle of a delivery).
    pub fn upload_latency(&self, latency: std::time::Duration) {
        let ms = u32::try_from(latency.as_millis()).unwrap_or(u32::MAX);
        self.inner.upload_latency_ms.store(ms, Ordering::SeqCst);
    }

    /// The next `n` STOR/APPE fail as with `disk_full` (transient), then uploads work again.
    pub fn disk_full_times(&self, n: u32) {
        self.inner.disk_full_times.store(n, Ordering::SeqCst);
    }

    fn take_disk_full(&self) -> bool {
        self.inner
            .disk_full_times
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }

    fn rename_refused(&self) -> bool {
        self.inner.refuse_rename.load(Ordering::SeqCst)
    }

    fn is_disk_full(&self) -> bool {
        self.inner.disk_full.load(Ordering::SeqCst)
    }

    fn take_drop_after(&self) -> Option<u64> {
        self.inner.drop_after_bytes.lock().unwrap().take()
    }
}

impl fmt::Debug for Faults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Faults")
            .field("refuse_rename", &self.rename_refused())
            .field("disk_full", &self.is_disk_full())
            .field(
                "drop_after_bytes",
                &*self.inner.drop_after_bytes.lock().unwrap(),
            )
            .finish()
    }
}

// ---------------------------------------------------------------------------------------------
// Server handle
// ---------------------------------------------------------------------------------------------

/// A running server. Stopped, and its folders removed, on drop.
pub struct FtpServer {
    pub port: u16,
    /// The folder served (a unique temp dir).
    pub root: PathBuf,
    /// With `tls`: PEM of the self-signed CA that issued the server certificate
    /// (CN/SAN localhost + 127.0.0.1). Trust it with `add_root_certificate`.
    pub cert_pem: Option<PathBuf>,
    pub faults: Faults,
    log: Arc<Mutex<Vec<String>>>,
    tls_dir: Option<PathBuf>,
    passive_ports: (u16, u16),
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

const PASV_BASE: u32 = 50_000;
const PASV_SPAN: u32 = 10_000;
const PASV_PER_SERVER: u32 = 25;

/// A unique passive range per server: a global counter, offset by the process id so that
/// process-per-test runners (nextest) also spread out. libunftp picks random ports inside the
/// range and retries busy ones, so an occasional overlap is harmless.
fn next_passive_range(seq: u32) -> (u16, u16) {
    let slots = PASV_SPAN / PASV_PER_SERVER;
    let slot = (std::process::id().wrapping_mul(37).wrapping_add(seq)) % slots;
    let start = PASV_BASE + slot * PASV_PER_SERVER;
    (start as u16, (start + PASV_PER_SERVER - 1) as u16)
}

fn unique_dir(tag: &str, seq: u32) -> PathBuf {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!(
        "ftp-test-{}-{}-{}-{}",
        std::process::id(),
        seq,
        nanos,
        tag
    ));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

impl FtpServer {
    /// Starts the server; returns once it accepts connections on 127.0.0.1:`port` (the socket is
    /// bound before this returns, and the server thread has signalled it is up, so no polling).
    /// Panics if it cannot start.
    pub fn start(opts: FtpOptions) -> FtpServer {
        let seq = COUNTER.fetch_add(1, Ordering::SeqCst);
        let root = unique_dir("root", seq);
        let passive_ports = next_passive_range(seq);
        let log = Arc::new(Mutex::new(Vec::new()));

        let (tls_dir, tls_files) = if opts.tls {
            let dir = unique_dir("tls", seq);
            let files = write_test_certs(&dir);
            (Some(dir), Some(files))
        } else {
            (None, None)
        };
        let cert_pem = tls_files.as_ref().map(|f| f.ca_pem.clone());

        let config = Arc::new(ServerConfig {
            root: root.clone(),
            user: opts.user.clone(),
            password: opts.password.clone(),
            faults: opts.faults.clone(),
            log: log.clone(),
            passive_ports,
            pasv_address: opts.pasv_address,
            tls: tls_files,
        });

        // We own the listening socket: no bind-to-0-then-rebind race, and connections queue in
        // the backlog until the accept loop runs.
        let listener = StdTcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).expect("set_nonblocking");
        let port = listener.local_addr().expect("local_addr").port();

        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), String>>();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(format!("ftp-test-server-{port}"))
            .spawn(move || run_server(config, listener, ready_tx, stop_rx))
            .expect("spawn server thread");

        match ready_rx.recv_timeout(Duration::from_secs(10)) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("FTP test server failed to start: {e}"),
            Err(e) => panic!("FTP test server did not start: {e}"),
        }

        FtpServer {
            port,
            root,
            cert_pem,
            faults: opts.faults,
            log,
            tls_dir,
            passive_ports,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// All regular files below `root`, recursively, as (relative path with '/', contents),
    /// sorted by path.
    pub fn files(&self) -> Vec<(String, Vec<u8>)> {
        fn walk(base: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                let Ok(ft) = entry.file_type() else { continue };
                if ft.is_dir() {
                    walk(base, &path, out);
                } else if ft.is_file() {
                    let rel = path.strip_prefix(base).unwrap_or(&path);
                    let name = rel
                        .components()
                        .map(|c| c.as_os_str().to_string_lossy())
                        .collect::<Vec<_>>()
                        .join("/");
                    if let Ok(data) = std::fs::read(&path) {
                        out.push((name, data));
                    }
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.root, &self.root, &mut out);
        out.sort();
        out
    }

    /// Control-channel commands received so far, in order, across all sessions, e.g.
    /// `"USER alice"`, `"PASS"` (never the password), `"TYPE"`, `"PASV"`/`"EPSV"`,
    /// `"STOR .x.tmp"`, `"SIZE .x.tmp"`, `"RNFR .x.tmp"`, `"RNTO x"`, `"DELE x"`, `"MKD d"`,
    /// `"AUTH Tls"`, `"PBSZ"`, `"PROT Private"`, `"QUIT"`. Compare verbs with `starts_with`.
    ///
    /// Panics in builds without debug assertions (e.g. `--release`): libunftp's slog is compiled
    /// with `release_max_level_info` there, so the debug records this log comes from are gone.
    pub fn log(&self) -> Vec<String> {
        if !cfg!(debug_assertions) {
            panic!(
                "FtpServer::log() needs debug assertions (libunftp drops debug-level logs in release builds)"
            );
        }
        self.log.lock().unwrap().clone()
    }

    /// Only the verbs of `log()`, e.g. `["USER", "PASS", "STOR", ...]`.
    pub fn verbs(&self) -> Vec<String> {
        self.log()
            .iter()
            .map(|l| l.split(' ').next().unwrap_or("").to_string())
            .collect()
    }

    pub fn clear_log(&self) {
        self.log.lock().unwrap().clear();
    }

    /// The inclusive passive port range this instance uses.
    pub fn passive_ports(&self) -> (u16, u16) {
        self.passive_ports
    }
}

impl Drop for FtpServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_dir_all(&self.root);
        if let Some(d) = &self.tls_dir {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Server thread
// ---------------------------------------------------------------------------------------------

struct TlsFiles {
    chain_pem: PathBuf,
    key_pem: PathBuf,
    ca_pem: PathBuf,
}

struct ServerConfig {
    root: PathBuf,
    user: String,
    password: String,
    faults: Faults,
    log: Arc<Mutex<Vec<String>>>,
    passive_ports: (u16, u16),
    pasv_address: [u8; 4],
    tls: Option<TlsFiles>,
}

type TestServer = libunftp::Server<FaultyFs, unftp_core::auth::DefaultUser>;

/// libunftp's `Server::service` consumes the server, so one is built per control connection.
fn build_server(cfg: &Arc<ServerConfig>) -> Result<TestServer, String> {
    let root = cfg.root.clone();
    let faults = cfg.faults.clone();
    let storage = Box::new(move || FaultyFs {
        inner: Filesystem::new(root.clone()).expect("open ftp root"),
        faults: faults.clone(),
    });
    let auth = Arc::new(PasswordAuth {
        user: cfg.user.clone(),
        password: cfg.password.clone(),
    });
    let logger = slog::Logger::root(CommandLogDrain(cfg.log.clone()), slog::o!());
    let mut b = libunftp::ServerBuilder::with_authenticator(storage, auth)
        .greeting("convsubmit FTP test server")
        .passive_ports(cfg.passive_ports.0..=cfg.passive_ports.1)
        .passive_host(PassiveHost::Ip(cfg.pasv_address.into()))
        .logger(logger);
    if let Some(tls) = &cfg.tls {
        b = b
            .ftps(tls.chain_pem.clone(), tls.key_pem.clone())
            .ftps_required(FtpsRequired::All, FtpsRequired::All);
    }
    b.build().map_err(|e| format!("{e:?}"))
}

fn run_server(
    cfg: Arc<ServerConfig>,
    listener: StdTcpListener,
    ready: std::sync::mpsc::Sender<Result<(), String>>,
    stop: tokio::sync::oneshot::Receiver<()>,
) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = ready.send(Err(format!("tokio runtime: {e}")));
            return;
        }
    };
    rt.block_on(async move {
        // Validate the configuration (TLS files etc.) once, up front.
        if let Err(e) = build_server(&cfg) {
            let _ = ready.send(Err(e));
            return;
        }
        let listener = match tokio::net::TcpListener::from_std(listener) {
            Ok(l) => l,
            Err(e) => {
                let _ = ready.send(Err(format!("listener: {e}")));
                return;
            }
        };
        let _ = ready.send(Ok(()));
        let accept_loop = async {
            loop {
                let Ok((stream, _peer)) = listener.accept().await else {
                    continue;
                };
                match build_server(&cfg) {
                    Ok(server) => {
                        tokio::spawn(async move {
                            let _ = server.service(stream).await;
                        });
                    }
                    Err(e) => eprintln!("FTP test server: cannot build server: {e}"),
                }
            }
        };
        tokio::select! {
            _ = stop => {}
            _ = accept_loop => {}
        }
    });
    rt.shutdown_timeout(Duration::from_secs(2));
}

// ---------------------------------------------------------------------------------------------
// TLS material
// ---------------------------------------------------------------------------------------------

/// A CA certificate plus a leaf (localhost, 127.0.0.1) signed by it. OpenSSL (native-tls) does
/// not reliably accept a non-CA self-signed leaf as its own trust anchor, hence the CA.
fn write_test_certs(dir: &Path) -> TlsFiles {
    use rcgen::{
        BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose,
        IsCa, Issuer, KeyPair, KeyUsagePurpose,
    };

    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "convsubmit test CA");
    ca_params.distinguished_name = dn;
    let ca_cert = ca_params.self_signed(&ca_key).expect("CA cert");
    let issuer = Issuer::new(ca_params, ca_key);

    let leaf_key = KeyPair::generate().expect("leaf key");
    let mut leaf_params =
        CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .expect("leaf params");
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "localhost");
    leaf_params.distinguished_name = dn;
    leaf_params.is_ca = IsCa::ExplicitNoCa;
    leaf_params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf_cert = leaf_params
        .signed_by(&leaf_key, &issuer)
        .expect("leaf cert");

    let files = TlsFiles {
        chain_pem: dir.join("server-chain.pem"),
        key_pem: dir.join("server-key.pem"),
        ca_pem: dir.join("ca.pem"),
    };
    std::fs::write(
        &files.chain_pem,
        format!("{}{}", leaf_cert.pem(), ca_cert.pem()),
    )
    .expect("write chain");
    std::fs::write(&files.key_pem, leaf_key.serialize_pem()).expect("write key");
    std::fs::write(&files.ca_pem, ca_cert.pem()).expect("write CA");
    files
}

// ---------------------------------------------------------------------------------------------
// Authentication
// ---------------------------------------------------------------------------------------------

struct PasswordAuth {
    user: String,
    password: String,
}

impl fmt::Debug for PasswordAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordAuth")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Authenticator for PasswordAuth {
    async fn authenticate(
        &self,
        username: &str,
        creds: &Credentials,
    ) -> Result<Principal, AuthenticationError> {
        if username != self.user {
            return Err(AuthenticationError::BadUser);
        }
        if creds.password.as_deref() != Some(self.password.as_str()) {
            return Err(AuthenticationError::BadPassword);
        }
        Ok(Principal {
            username: username.to_string(),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Command log: a slog drain that keeps libunftp's "Control channel event Command(..)" records
// ---------------------------------------------------------------------------------------------

struct CommandLogDrain(Arc<Mutex<Vec<String>>>);

impl slog::Drain for CommandLogDrain {
    type Ok = ();
    type Err = slog::Never;

    fn log(
        &self,
        record: &slog::Record<'_>,
        _values: &slog::OwnedKVList,
    ) -> Result<(), slog::Never> {
        if record.level() == slog::Level::Debug {
            let msg = record.msg().to_string();
            if let Some(line) = command_line(&msg)
                && let Ok(mut log) = self.0.lock()
            {
                log.push(line);
            }
        }
        Ok(())
    }
}

/// Turns `Control channel event Command(Stor { path: ".x.tmp" })` into `STOR .x.tmp`.
fn command_line(msg: &str) -> Option<String> {
    let inner = msg
        .strip_prefix("Control channel event Command(")?
        .strip_suffix(')')?;
    let (name, fields) = match inner.find(" {") {
        Some(i) => (
            &inner[..i],
            inner[i + 2..]
                .trim_end()
                .strip_suffix('}')
                .unwrap_or("")
                .trim(),
        ),
        None => (inner.trim(), ""),
    };
    let verb = match name {
        "Pass" => return Some("PASS".to_string()), // never record the password
        "Other" => String::new(),
        n => n.to_ascii_uppercase(),
    };
    let values = parse_field_values(fields);
    let mut parts: Vec<String> = Vec::new();
    if !verb.is_empty() {
        parts.push(verb);
    }
    parts.extend(values.into_iter().filter(|v| !v.is_empty()));
    if name == "Other" && !parts.is_empty() {
        parts[0] = parts[0].to_ascii_uppercase();
    }
    Some(parts.join(" "))
}

/// Parses the values of `a: "x", b: Some("y"), c: None, d: b"z", e: Tls` (Rust Debug output).
fn parse_field_values(fields: &str) -> Vec<String> {
    let chars: Vec<char> = fields.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    while i < chars.len() {
        // field name up to ':'
        while i < chars.len() && chars[i] != ':' {
            i += 1;
        }
        i += 1; // ':'
        while i < chars.len() && chars[i] == ' ' {
            i += 1;
        }
        if i >= chars.len() {
            break;
        }
        let (value, next) = parse_value(&chars, i);
        out.push(value);
        i = next;
        // skip to after the top-level ','
        while i < chars.len() && chars[i] != ',' {
            i += 1;
        }
        i += 1;
    }
    out
}

fn parse_value(c: &[char], mut i: usize) -> (String, usize) {
    if c[i..].starts_with(&['b', '"']) {
        i += 1;
    }
    if c[i] == '"' {
        return parse_quoted(c, i);
    }
    if c[i..].starts_with(&['S', 'o', 'm', 'e', '(']) {
        let (v, next) = parse_value(c, i + 5);
        let next = if next < c.len() && c[next] == ')' {
            next + 1
        } else {
            next
        };
        return (v, next);
    }
    if c[i..].starts_with(&['N', 'o', 'n', 'e']) {
        return (String::new(), i + 4);
    }
    // bare token, possibly with nested braces/parens, up to a top-level ','
    let start = i;
    let mut depth = 0i32;
    while i < c.len() {
        match c[i] {
            '{' | '(' | '[' => depth += 1,
            '}' | ')' | ']' => {
                if depth == 0 {
                    break;
                }
                depth -= 1;
            }
            ',' if depth == 0 => break,
            _ => {}
        }
        i += 1;
    }
    (c[start..i].iter().collect::<String>().trim().to_string(), i)
}

fn parse_quoted(c: &[char], mut i: usize) -> (String, usize) {
    let mut s = String::new();
    i += 1; // opening quote
    while i < c.len() {
        match c[i] {
            '"' => return (s, i + 1),
            '\\' if i + 1 < c.len() => {
                i += 1;
                match c[i] {
                    'n' => s.push('\n'),
                    'r' => s.push('\r'),
                    't' => s.push('\t'),
                    '0' => s.push('\0'),
                    'x' if i + 2 < c.len() => {
                        let hex: String = c[i + 1..i + 3].iter().collect();
                        if let Ok(b) = u8::from_str_radix(&hex, 16) {
                            s.push(b as char);
                        }
                        i += 2;
                    }
                    'u' if i + 1 < c.len() && c[i + 1] == '{' => {
                        let end = c[i..]
                            .iter()
                            .position(|&ch| ch == '}')
                            .map(|p| p + i)
                            .unwrap_or(c.len() - 1);
                        let hex: String = c[i + 2..end].iter().collect();
                        if let Some(ch) =
                            u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32)
                        {
                            s.push(ch);
                        }
                        i = end;
                    }
                    other => s.push(other),
                }
            }
            ch => s.push(ch),
        }
        i += 1;
    }
    (s, i)
}

// ---------------------------------------------------------------------------------------------
// Storage backend: unftp_sbe_fs::Filesystem plus fault injection
// ---------------------------------------------------------------------------------------------

#[derive(Debug)]
struct FaultyFs {
    inner: Filesystem,
    faults: Faults,
}

#[async_trait]
impl<User: UserDetail> StorageBackend<User> for FaultyFs {
    type Metadata = Meta;

    fn enter(&mut self, user_detail: &User) -> io::Result<()> {
        StorageBackend::<User>::enter(&mut self.inner, user_detail)
    }

    fn supported_features(&self) -> u32 {
        StorageBackend::<User>::supported_features(&self.inner)
    }

    async fn metadata<P: AsRef<Path> + Send + fmt::Debug>(
        &self,
        user: &User,
        path: P,
    ) -> StorageResult<Self::Metadata> {
        self.inner.metadata(user, path).await
    }

    async fn list<P: AsRef<Path> + Send + fmt::Debug>(
        &self,
        user: &User,
        path: P,
    ) -> StorageResult<Vec<Fileinfo<PathBuf, Self::Metadata>>>
    where
        <Self as StorageBackend<User>>::Metadata: Metadata,
    {
        self.inner.list(user, path).await
    }

    async fn get<P: AsRef<Path> + Send + fmt::Debug>(
        &self,
        user: &User,
        path: P,
        start_pos: u64,
    ) -> StorageResult<Box<dyn tokio::io::AsyncRead + Send + Sync + Unpin>> {
        self.inner.get(user, path, start_pos).await
    }

    async fn put<
        P: AsRef<Path> + Send + fmt::Debug,
        R: tokio::io::AsyncRead + Send + Sync + Unpin + 'static,
    >(
        &self,
        user: &User,
        input: R,
        path: P,
        start_pos: u64,
    ) -> StorageResult<u64> {
        let mut input = input;
        if self.faults.is_disk_full() || self.faults.take_disk_full() {
            // Consume the upload so the client gets to read the 452 reply instead of EPIPE.
            let _ = tokio::io::copy(&mut input, &mut tokio::io::sink()).await;
            return Err(StorageError::new(
                ErrorKind::InsufficientStorageSpaceError,
                "injected fault: disk full",
            ));
        }
        if self.faults.inner.stall_uploads.load(Ordering::SeqCst) {
            let _ = tokio::io::copy(&mut input, &mut tokio::io::sink()).await;
            tokio::time::sleep(std::time::Duration::from_secs(12)).await;
            return Err(StorageError::new(
                ErrorKind::LocalError,
                "injected fault: stalled",
            ));
        }
        if let Some(n) = self.faults.take_drop_after() {
            let mut head = Vec::new();
            let _ = (&mut input).take(n).read_to_end(&mut head).await;
            self.inner
                .put(user, std::io::Cursor::new(head), path, start_pos)
                .await?;
            drop(input); // closes the data connection mid-transfer
            return Err(StorageError::new(
                ErrorKind::ConnectionClosed,
                format!("injected fault: transfer aborted after {n} bytes"),
            ));
        }
        let stored = self.inner.put(user, input, path, start_pos).await;
        let latency = self.faults.inner.upload_latency_ms.load(Ordering::SeqCst);
        tokio::time::sleep(std::time::Duration::from_millis(latency.into())).await;
        stored
    }

    async fn del<P: AsRef<Path> + Send + fmt::Debug>(
        &self,
        user: &User,
        path: P,
    ) -> StorageResult<()> {
        self.inner.del(user, path).await
    }

    async fn mkd<P: AsRef<Path> + Send + fmt::Debug>(
        &self,
        user: &User,
        path: P,
    ) -> StorageResult<()> {
        self.inner.mkd(user, path).await
    }

    async fn rename<P: AsRef<Path> + Send + fmt::Debug>(
        &self,
        user: &User,
        from: P,
        to: P,
    ) -> StorageResult<()> {
        if self.faults.rename_refused() {
            return Err(StorageError::new(
                ErrorKind::PermissionDenied,
                "injected fault: rename refused",
            ));
        }
        self.inner.rename(user, from, to).await
    }

    async fn rmd<P: AsRef<Path> + Send + fmt::Debug>(
        &self,
        user: &User,
        path: P,
    ) -> StorageResult<()> {
        self.inner.rmd(user, path).await
    }

    async fn cwd<P: AsRef<Path> + Send + fmt::Debug>(
        &self,
        user: &User,
        path: P,
    ) -> StorageResult<()> {
        self.inner.cwd(user, path).await
    }
}
