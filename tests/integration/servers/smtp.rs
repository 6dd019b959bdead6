// In-process SMTP test server (synchronous, std::net + native-tls).
//
// Dependencies (put them in the crate's [dev-dependencies]):
//
//     native-tls = "0.2"    # server-side TLS (system OpenSSL), same backend as lettre's "native-tls"
//     rcgen      = "0.14"   # test CA + server certificate (default features: ring + pem)
//
// The tests that drive it additionally use (client side, not needed by this file):
//
//     lettre      = { version = "0.11", default-features = false, features = ["smtp-transport", "builder", "hostname", "native-tls"] }
//     mail-parser = "0.11"  # 1.x needs a newer rustc
//
// Design
// - Binds 127.0.0.1:0, so there is no port race. One accept thread, one thread per connection.
// - `SmtpServer` stops on Drop: the accept thread is woken and joined, and all open client
//   sockets are shut down (their threads exit soon after). The temporary CA file is removed.
// - One test CA and one server certificate (SAN: localhost, 127.0.0.1) are generated per
//   process and shared by all servers; each TLS server writes the CA to its own temp file.
// - A message is stored only when the final reply after DATA is 250. It is stored (and the
//   log is written) BEFORE the reply is sent, so `messages()` / `log()` are complete as soon
//   as the client call returns.
// - `Received::raw` is everything between the 354 reply and the terminating "." line,
//   dot-unstuffed, every line including its CRLF (so it ends with "\r\n"; lettre's
//   `message()` appends "\r\n.\r\n" to the formatted message). DATA framing is strict
//   RFC 5321: lines end only at CRLF, so a bare LF is plain data (not a line end, no
//   dot-unstuffing after it). Many real servers (e.g. Postfix) treat bare LF as a line end;
//   `Received::has_bare_lf()` lets a test assert the client never sends one.
// - AUTH (PLAIN and LOGIN) is advertised and accepted only over TLS when `starttls` or
//   `implicit_tls` is on; in clear text otherwise. When `auth` is set, MAIL requires a
//   successful AUTH (530 5.7.0 otherwise). Wrong credentials: 535 5.7.8.
// - Fault stages: `Mail` = reply to MAIL FROM, `Rcpt` = reply to RCPT TO, `DataEnd` = final
//   reply after ".", `Auth` = final reply of the AUTH exchange (after the credentials were
//   read). A 2xx fault code lets the command take effect (DataEnd: stored only if 250); any
//   other code rejects it. `reply_once` codes are queued per stage and used before `always`.
#![allow(dead_code)]

use super::api::base64;
use std::collections::{HashMap, VecDeque};
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

/// Idle timeout per client connection (read and write).
const CONN_TIMEOUT: Duration = Duration::from_secs(30);
const MAX_COMMAND_LINE: usize = 64 * 1024;
const MAX_DATA_LINE: usize = 4 * 1024 * 1024;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

// ---------------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stage {
    /// Reply to `MAIL FROM`.
    Mail,
    /// Reply to `RCPT TO`.
    Rcpt,
    /// The final reply after the terminating "." of DATA.
    DataEnd,
    /// The final reply of the AUTH exchange.
    Auth,
}

/// Fault injection; shared (cheap to clone) and changeable while the server runs.
#[derive(Clone, Default)]
pub struct Faults {
    inner: Arc<Mutex<FaultState>>,
}

#[derive(Default)]
struct FaultState {
    once: HashMap<Stage, VecDeque<u16>>,
    always: HashMap<Stage, u16>,
    drop_during_data: usize,
}

impl Faults {
    /// The next command of `stage` gets reply `code` (one-shot; repeated calls queue up).
    pub fn reply_once(&self, stage: Stage, code: u16) {
        lock(&self.inner)
            .once
            .entry(stage)
            .or_default()
            .push_back(code);
    }

    /// Persistent reply `code` for `stage`; `None` clears it.
    pub fn always(&self, stage: Stage, code: Option<u16>) {
        let mut st = lock(&self.inner);
        match code {
            Some(c) => {
                st.always.insert(stage, c);
            }
            None => {
                st.always.remove(&stage);
            }
        }
    }

    /// Close the next connection that sends DATA after the first data line (one-shot).
    /// The message is not stored.
    pub fn drop_during_data_once(&self) {
        lock(&self.inner).drop_during_data += 1;
    }

    /// Remove all pending faults.
    pub fn clear(&self) {
        *lock(&self.inner) = FaultState::default();
    }

    fn take(&self, stage: Stage) -> Option<u16> {
        let mut st = lock(&self.inner);
        if let Some(code) = st.once.get_mut(&stage).and_then(|q| q.pop_front()) {
            return Some(code);
        }
        st.always.get(&stage).copied()
    }

    fn take_drop_during_data(&self) -> bool {
        let mut st = lock(&self.inner);
        if st.drop_during_data > 0 {
            st.drop_during_data -= 1;
            true
        } else {
            false
        }
    }
}

#[derive(Clone, Default)]
pub struct SmtpOptions {
    /// Offer STARTTLS (and require it before AUTH).
    pub starttls: bool,
    /// TLS from the first byte (port 465 style).
    pub implicit_tls: bool,
    /// (user, password): AUTH PLAIN and LOGIN offered (only after TLS if TLS is on) and
    /// required before MAIL.
    pub auth: Option<(String, String)>,
    pub faults: Faults,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    /// The MAIL FROM address (without angle brackets; empty for the null sender).
    pub from: String,
    /// RCPT TO addresses (without angle brackets), in order.
    pub to: Vec<String>,
    /// The message as received, dot-unstuffed, lines with CRLF.
    pub raw: Vec<u8>,
    /// The message was received over TLS (STARTTLS or implicit).
    pub tls: bool,
    /// The user name of a successful AUTH.
    pub authenticated_as: Option<String>,
}

impl Received {
    /// `raw` contains an LF not preceded by CR (non-conforming SMTP data; real servers may
    /// reject it or treat it as a line end, e.g. strip a leading "." of the next line).
    pub fn has_bare_lf(&self) -> bool {
        self.raw
            .iter()
            .enumerate()
            .any(|(i, &b)| b == b'\n' && (i == 0 || self.raw[i - 1] != b'\r'))
    }
}

pub struct SmtpServer {
    pub port: u16,
    /// PEM of the CA that signed the server certificate (SAN localhost and 127.0.0.1);
    /// `Some` when `starttls` or `implicit_tls` is on.
    pub ca_pem: Option<PathBuf>,
    pub faults: Faults,
    shared: Arc<Shared>,
    accept_thread: Option<JoinHandle<()>>,
    temp_dir: Option<PathBuf>,
}

impl SmtpServer {
    pub fn start(opts: SmtpOptions) -> SmtpServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local_addr").port();
        let tls_on = opts.starttls || opts.implicit_tls;

        let (acceptor, temp_dir, ca_pem) = if tls_on {
            let pki = test_pki();
            let identity =
                native_tls::Identity::from_pkcs8(pki.cert_pem.as_bytes(), pki.key_pem.as_bytes())
                    .expect("native-tls identity");
            let acceptor = native_tls::TlsAcceptor::new(identity).expect("TlsAcceptor");
            static DIR_COUNTER: AtomicU64 = AtomicU64::new(0);
            let dir = std::env::temp_dir().join(format!(
                "smtp-test-server-{}-{}",
                std::process::id(),
                DIR_COUNTER.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(&dir).expect("create temp dir");
            let ca_path = dir.join("ca.pem");
            std::fs::write(&ca_path, &pki.ca_pem).expect("write ca.pem");
            (Some(acceptor), Some(dir), Some(ca_path))
        } else {
            (None, None, None)
        };

        let shared = Arc::new(Shared {
            starttls: opts.starttls && !opts.implicit_tls,
            implicit_tls: opts.implicit_tls,
            auth: opts.auth,
            faults: opts.faults.clone(),
            acceptor,
            messages: Mutex::new(Vec::new()),
            log: Mutex::new(Vec::new()),
            conns: Mutex::new(HashMap::new()),
            next_conn: AtomicU64::new(0),
            stop: AtomicBool::new(false),
        });

        let sh = shared.clone();
        let accept_thread = std::thread::Builder::new()
            .name(format!("smtp-test-accept-{port}"))
            .spawn(move || accept_loop(listener, sh))
            .expect("spawn accept thread");

        SmtpServer {
            port,
            ca_pem,
            faults: opts.faults,
            shared,
            accept_thread: Some(accept_thread),
            temp_dir,
        }
    }

    /// Messages accepted with a final 250, in order.
    pub fn messages(&self) -> Vec<Received> {
        lock(&self.shared.messages).clone()
    }

    /// Commands received, e.g. "EHLO", "STARTTLS", "AUTH PLAIN", "MAIL FROM:<a@b>",
    /// "RCPT TO:<x@y>", "DATA", "QUIT" (never AUTH payloads).
    pub fn log(&self) -> Vec<String> {
        lock(&self.shared.log).clone()
    }

    /// Forget stored messages and the command log.
    pub fn clear(&self) {
        lock(&self.shared.messages).clear();
        lock(&self.shared.log).clear();
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept().
        let _ =
            TcpStream::connect_timeout(&([127, 0, 0, 1], self.port).into(), Duration::from_secs(1));
        if let Some(t) = self.accept_thread.take() {
            let _ = t.join();
        }
        for (_, s) in lock(&self.shared.conns).drain() {
            let _ = s.shutdown(Shutdown::Both);
        }
        if let Some(dir) = self.temp_dir.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Certificates
// ---------------------------------------------------------------------------------------------

struct TestPki {
    ca_pem: String,
    cert_pem: String,
    key_pem: String,
}

fn test_pki() -> &'static TestPki {
    static PKI: OnceLock<TestPki> = OnceLock::new();
    PKI.get_or_init(|| {
        use rcgen::{
            BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose,
            IsCa, KeyPair, KeyUsagePurpose,
        };
        let mut ca = CertificateParams::new(Vec::<String>::new()).expect("ca params");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "SMTP test CA");
        ca.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().expect("ca key"))
            .expect("ca cert");

        let mut leaf =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
                .expect("leaf params");
        leaf.distinguished_name
            .push(DnType::CommonName, "localhost");
        leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let leaf_key = KeyPair::generate().expect("leaf key");
        let cert = leaf.signed_by(&leaf_key, &ca).expect("leaf cert");

        TestPki {
            ca_pem: ca.pem(),
            cert_pem: cert.pem(),
            key_pem: leaf_key.serialize_pem(),
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Server internals
// ---------------------------------------------------------------------------------------------

struct Shared {
    /// STARTTLS offered (false when implicit TLS is on).
    starttls: bool,
    implicit_tls: bool,
    auth: Option<(String, String)>,
    faults: Faults,
    acceptor: Option<native_tls::TlsAcceptor>,
    messages: Mutex<Vec<Received>>,
    log: Mutex<Vec<String>>,
    conns: Mutex<HashMap<u64, TcpStream>>,
    next_conn: AtomicU64,
    stop: AtomicBool,
}

impl Shared {
    fn log(&self, entry: impl Into<String>) {
        lock(&self.log).push(entry.into());
    }

    fn tls_configured(&self) -> bool {
        self.starttls || self.implicit_tls
    }

    fn auth_allowed(&self, tls: bool) -> bool {
        self.auth.is_some() && (tls || !self.tls_configured())
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let accepted = listener.accept();
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok((stream, _)) = accepted else {
            std::thread::sleep(Duration::from_millis(10));
            continue;
        };
        let id = shared.next_conn.fetch_add(1, Ordering::Relaxed);
        if let Ok(clone) = stream.try_clone() {
            lock(&shared.conns).insert(id, clone);
        }
        let sh = shared.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("smtp-test-conn-{id}"))
            .spawn(move || {
                let _ = handle_connection(stream, &sh);
                close_conn(&sh, id);
            });
        if spawned.is_err() {
            close_conn(&shared, id);
        }
    }
}

fn close_conn(shared: &Shared, id: u64) {
    if let Some(s) = lock(&shared.conns).remove(&id) {
        let _ = s.shutdown(Shutdown::Both);
    }
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<native_tls::TlsStream<TcpStream>>),
    Closed,
}

impl Stream {
    fn tcp(&self) -> Option<&TcpStream> {
        match self {
            Stream::Plain(s) => Some(s),
            Stream::Tls(s) => Some(s.get_ref()),
            Stream::Closed => None,
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
            Stream::Closed => Ok(0),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
            Stream::Closed => Err(io::ErrorKind::NotConnected.into()),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
            Stream::Closed => Ok(()),
        }
    }
}

struct Conn {
    stream: Stream,
    buf: Vec<u8>,
}

impl Conn {
    /// One line including its terminator; `None` on EOF. Commands end at LF (lenient);
    /// DATA lines (`crlf_only`) end only at CRLF as RFC 5321 says, so a bare LF is data.
    fn read_line(&mut self, max: usize, crlf_only: bool) -> io::Result<Option<Vec<u8>>> {
        let mut scanned = 0;
        loop {
            while let Some(pos) = self.buf[scanned..].iter().position(|&b| b == b'\n') {
                let end = scanned + pos + 1;
                if !crlf_only || (end >= 2 && self.buf[end - 2] == b'\r') {
                    return Ok(Some(self.buf.drain(..end).collect()));
                }
                scanned = end;
            }
            scanned = self.buf.len();
            if self.buf.len() > max {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "line too long"));
            }
            let mut chunk = [0u8; 16 * 1024];
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                return Ok(None);
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    fn reply(&mut self, text: &str) -> io::Result<()> {
        self.stream.write_all(text.as_bytes())?;
        self.stream.write_all(b"\r\n")?;
        self.stream.flush()
    }

    fn reply_lines(&mut self, code: u16, lines: &[String]) -> io::Result<()> {
        let mut out = String::new();
        for (i, l) in lines.iter().enumerate() {
            let sep = if i + 1 == lines.len() { ' ' } else { '-' };
            out.push_str(&format!("{code}{sep}{l}\r\n"));
        }
        self.stream.write_all(out.as_bytes())?;
        self.stream.flush()
    }

    fn upgrade(&mut self, acceptor: &native_tls::TlsAcceptor) -> io::Result<()> {
        match std::mem::replace(&mut self.stream, Stream::Closed) {
            Stream::Plain(tcp) => {
                let tls = acceptor
                    .accept(tcp)
                    .map_err(|e| io::Error::other(format!("TLS handshake: {e}")))?;
                self.stream = Stream::Tls(Box::new(tls));
                Ok(())
            }
            other => {
                self.stream = other;
                Err(io::Error::other("already TLS"))
            }
        }
    }

    fn kill(&mut self) {
        if let Some(tcp) = self.stream.tcp() {
            let _ = tcp.shutdown(Shutdown::Both);
        }
        self.stream = Stream::Closed;
    }
}

#[derive(Default)]
struct Session {
    tls: bool,
    greeted: bool,
    user: Option<String>,
    from: Option<String>,
    to: Vec<String>,
}

impl Session {
    fn reset_transaction(&mut self) {
        self.from = None;
        self.to.clear();
    }
}

fn fault_reply(code: u16) -> String {
    let class = code / 100;
    if matches!(class, 2 | 4 | 5) {
        format!("{code} {class}.0.0 Injected reply")
    } else {
        format!("{code} Injected reply")
    }
}

fn is_positive(code: u16) -> bool {
    code / 100 == 2
}

/// Address inside `<...>` after a `FROM:` / `TO:` prefix (case-insensitive); parameters after
/// the closing bracket are ignored.
fn parse_path(arg: &str, prefix: &str) -> Option<String> {
    let arg = arg.trim_start();
    if arg.len() < prefix.len() || !arg[..prefix.len()].eq_ignore_ascii_case(prefix) {
        return None;
    }
    let rest = arg[prefix.len()..].trim_start();
    let rest = rest.strip_prefix('<')?;
    let end = rest.find('>')?;
    Some(rest[..end].to_string())
}

fn trim_crlf(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

enum AuthOutcome {
    Credentials(String, String),
    Reply(&'static str),
}

/// Read one SASL response line after a 334 challenge.
fn sasl_line(conn: &mut Conn, challenge: &str) -> io::Result<Result<Vec<u8>, &'static str>> {
    conn.reply(challenge)?;
    let Some(line) = conn.read_line(MAX_COMMAND_LINE, false)? else {
        return Err(io::ErrorKind::UnexpectedEof.into());
    };
    let text = String::from_utf8_lossy(trim_crlf(&line)).trim().to_string();
    if text == "*" {
        return Ok(Err("501 5.0.0 Authentication cancelled"));
    }
    Ok(base64::decode(&text).ok_or("501 5.5.2 Invalid base64"))
}

fn read_auth(conn: &mut Conn, mech: &str, initial: Option<&str>) -> io::Result<AuthOutcome> {
    let invalid_b64 = AuthOutcome::Reply("501 5.5.2 Invalid base64");
    match mech {
        "PLAIN" => {
            let payload = match initial {
                Some("=") => Vec::new(),
                Some(ir) => match base64::decode(ir) {
                    Some(p) => p,
                    None => return Ok(invalid_b64),
                },
                None => match sasl_line(conn, "334 ")? {
                    Ok(p) => p,
                    Err(r) => return Ok(AuthOutcome::Reply(r)),
                },
            };
            let parts: Vec<&[u8]> = payload.split(|&b| b == 0).collect();
            if parts.len() != 3 {
                return Ok(AuthOutcome::Reply("501 5.5.2 Malformed PLAIN response"));
            }
            Ok(AuthOutcome::Credentials(
                String::from_utf8_lossy(parts[1]).into_owned(),
                String::from_utf8_lossy(parts[2]).into_owned(),
            ))
        }
        "LOGIN" => {
            let user = match initial {
                Some(ir) => match base64::decode(ir) {
                    Some(u) => u,
                    None => return Ok(invalid_b64),
                },
                None => match sasl_line(conn, "334 VXNlcm5hbWU6")? {
                    Ok(u) => u,
                    Err(r) => return Ok(AuthOutcome::Reply(r)),
                },
            };
            let pass = match sasl_line(conn, "334 UGFzc3dvcmQ6")? {
                Ok(p) => p,
                Err(r) => return Ok(AuthOutcome::Reply(r)),
            };
            Ok(AuthOutcome::Credentials(
                String::from_utf8_lossy(&user).into_owned(),
                String::from_utf8_lossy(&pass).into_owned(),
            ))
        }
        _ => Ok(AuthOutcome::Reply(
            "504 5.5.4 Unrecognized authentication type",
        )),
    }
}

fn handle_connection(tcp: TcpStream, sh: &Shared) -> io::Result<()> {
    tcp.set_read_timeout(Some(CONN_TIMEOUT))?;
    tcp.set_write_timeout(Some(CONN_TIMEOUT))?;
    let _ = tcp.set_nodelay(true);
    let mut conn = Conn {
        stream: Stream::Plain(tcp),
        buf: Vec::new(),
    };
    let mut s = Session::default();

    if sh.implicit_tls {
        let acceptor = sh.acceptor.as_ref().expect("acceptor");
        conn.upgrade(acceptor)?;
        s.tls = true;
    }
    conn.reply("220 localhost ESMTP test server ready")?;

    loop {
        let Some(raw_line) = conn.read_line(MAX_COMMAND_LINE, false)? else {
            return Ok(());
        };
        let line = String::from_utf8_lossy(trim_crlf(&raw_line)).into_owned();
        let (verb, arg) = match line.split_once(' ') {
            Some((v, a)) => (v.to_ascii_uppercase(), a.trim().to_string()),
            None => (line.trim().to_ascii_uppercase(), String::new()),
        };

        match verb.as_str() {
            "EHLO" | "HELO" => {
                sh.log(verb.as_str());
                s.greeted = true;
                s.reset_transaction();
                if verb == "HELO" {
                    conn.reply("250 localhost")?;
                    continue;
                }
                let mut lines = vec![
                    "localhost greets you".to_string(),
                    "8BITMIME".to_string(),
                    "SMTPUTF8".to_string(),
                    "ENHANCEDSTATUSCODES".to_string(),
                ];
                if sh.starttls && !s.tls {
                    lines.push("STARTTLS".to_string());
                }
                if sh.auth_allowed(s.tls) && s.user.is_none() {
                    lines.push("AUTH PLAIN LOGIN".to_string());
                }
                conn.reply_lines(250, &lines)?;
            }
            "STARTTLS" => {
                sh.log("STARTTLS");
                if !sh.starttls || s.tls {
                    conn.reply("502 5.5.1 STARTTLS not available")?;
                    continue;
                }
                conn.reply("220 2.0.0 Ready to start TLS")?;
                conn.buf.clear(); // discard anything pipelined before the handshake
                conn.upgrade(sh.acceptor.as_ref().expect("acceptor"))?;
                // RFC 3207: forget everything learned before TLS.
                s = Session {
                    tls: true,
                    ..Session::default()
                };
            }
            "AUTH" => {
                let (mech, initial) = match arg.split_once(' ') {
                    Some((m, ir)) => (m.to_ascii_uppercase(), Some(ir.trim().to_string())),
                    None => (arg.to_ascii_uppercase(), None),
                };
                sh.log(format!("AUTH {mech}"));
                if sh.auth.is_none() {
                    conn.reply("502 5.5.1 AUTH not available")?;
                    continue;
                }
                if !sh.auth_allowed(s.tls) {
                    conn.reply("530 5.7.0 Must issue a STARTTLS command first")?;
                    continue;
                }
                if !s.greeted {
                    conn.reply("503 5.5.1 Send EHLO first")?;
                    continue;
                }
                if s.user.is_some() {
                    conn.reply("503 5.5.1 Already authenticated")?;
                    continue;
                }
                if s.from.is_some() {
                    conn.reply("503 5.5.1 AUTH not allowed during a mail transaction")?;
                    continue;
                }
                let (user, pass) = match read_auth(&mut conn, &mech, initial.as_deref())? {
                    AuthOutcome::Reply(r) => {
                        conn.reply(r)?;
                        continue;
                    }
                    AuthOutcome::Credentials(u, p) => (u, p),
                };
                if let Some(code) = sh.faults.take(Stage::Auth) {
                    if is_positive(code) {
                        s.user = Some(user);
                    }
                    conn.reply(&fault_reply(code))?;
                    continue;
                }
                let (good_user, good_pass) = sh.auth.as_ref().expect("auth");
                if &user == good_user && &pass == good_pass {
                    s.user = Some(user);
                    conn.reply("235 2.7.0 Authentication successful")?;
                } else {
                    conn.reply("535 5.7.8 Authentication credentials invalid")?;
                }
            }
            "MAIL" => {
                sh.log(format!("MAIL {arg}"));
                if !s.greeted {
                    conn.reply("503 5.5.1 Send EHLO first")?;
                    continue;
                }
                if sh.auth.is_some() && s.user.is_none() {
                    conn.reply("530 5.7.0 Authentication required")?;
                    continue;
                }
                if s.from.is_some() {
                    conn.reply("503 5.5.1 Nested MAIL command")?;
                    continue;
                }
                let Some(from) = parse_path(&arg, "FROM:") else {
                    conn.reply("501 5.5.4 Syntax: MAIL FROM:<address>")?;
                    continue;
                };
                let code = sh.faults.take(Stage::Mail);
                if code.is_none_or(is_positive) {
                    s.from = Some(from);
                }
                match code {
                    Some(c) => conn.reply(&fault_reply(c))?,
                    None => conn.reply("250 2.1.0 Ok")?,
                }
            }
            "RCPT" => {
                sh.log(format!("RCPT {arg}"));
                if s.from.is_none() {
                    conn.reply("503 5.5.1 Need MAIL before RCPT")?;
                    continue;
                }
                let Some(to) = parse_path(&arg, "TO:") else {
                    conn.reply("501 5.5.4 Syntax: RCPT TO:<address>")?;
                    continue;
                };
                let code = sh.faults.take(Stage::Rcpt);
                if code.is_none_or(is_positive) {
                    s.to.push(to);
                }
                match code {
                    Some(c) => conn.reply(&fault_reply(c))?,
                    None => conn.reply("250 2.1.5 Ok")?,
                }
            }
            "DATA" => {
                sh.log("DATA");
                if s.from.is_none() {
                    conn.reply("503 5.5.1 Need MAIL command")?;
                    continue;
                }
                if s.to.is_empty() {
                    conn.reply("554 5.5.1 No valid recipients")?;
                    continue;
                }
                conn.reply("354 End data with <CR><LF>.<CR><LF>")?;
                let drop_it = sh.faults.take_drop_during_data();
                let mut raw = Vec::new();
                loop {
                    let Some(l) = conn.read_line(MAX_DATA_LINE, true)? else {
                        return Ok(()); // client went away mid-DATA: nothing stored
                    };
                    if drop_it {
                        conn.kill(); // injected fault: close after the first data line
                        return Ok(());
                    }
                    if l == b".\r\n" {
                        break;
                    }
                    let l = if l.first() == Some(&b'.') {
                        &l[1..]
                    } else {
                        &l[..]
                    };
                    raw.extend_from_slice(l);
                }
                let code = sh.faults.take(Stage::DataEnd);
                let from = s.from.take().unwrap_or_default();
                let to = std::mem::take(&mut s.to);
                match code {
                    None | Some(250) => {
                        lock(&sh.messages).push(Received {
                            from,
                            to,
                            raw,
                            tls: s.tls,
                            authenticated_as: s.user.clone(),
                        });
                        match code {
                            None => conn.reply("250 2.0.0 Ok: queued")?,
                            Some(c) => conn.reply(&fault_reply(c))?,
                        }
                    }
                    Some(c) => conn.reply(&fault_reply(c))?,
                }
            }
            "RSET" => {
                sh.log("RSET");
                s.reset_transaction();
                conn.reply("250 2.0.0 Ok")?;
            }
            "NOOP" => {
                sh.log("NOOP");
                conn.reply("250 2.0.0 Ok")?;
            }
            "QUIT" => {
                sh.log("QUIT");
                conn.reply("221 2.0.0 Bye")?;
                return Ok(());
            }
            _ => {
                sh.log(verb.as_str());
                conn.reply("500 5.5.2 Command not recognized")?;
            }
        }
    }
}
