// In-process SFTP server for integration tests (russh + russh-sftp), driven by
// blocking clients such as `ssh2`. Needs these dev-dependencies (std otherwise):
//
// [dev-dependencies]
// russh      = { version = "0.65.1", default-features = false, features = ["ring", "flate2", "rsa"] }
// russh-sftp = "3.0.1"
// rand       = "0.10"
// tokio      = { version = "1.54.1", features = ["rt", "net"] }   # or "full"
// ssh2       = "0.9.6"   # the client under test
//
// Design:
// - `SftpServer::start` binds 127.0.0.1:0 itself (no port race) and serves from
//   its own std::thread with a current-thread tokio Runtime. Dropping the
//   `SftpServer` shuts it down, joins the thread and deletes `root`.
// - The served filesystem is `root` (a fresh temp dir). Client paths "/x",
//   "x", "./x" all map to root/x. A ".." that would leave root is refused.
// - `Faults` is shared (Arc) and may be changed while the server runs.
// - `log()` records operations ("open x.csv", "rename a b", ...), auth results
//   and injected faults; never passwords or key material.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use russh::keys::ssh_key::LineEnding;
use russh::keys::{Algorithm, HashAlg, PrivateKey, PublicKey};
use russh::server::{
    Auth, ChannelOpenHandle, Msg, PublicKeyOffer, Server as _, Session, VerifiedPublicKey,
};
use russh::{Channel, ChannelId, Disconnect, MethodKind, MethodSet};
use russh_sftp::protocol::{
    Attrs, Data, File, FileAttributes, Handle, Name, OpenFlags, Packet, Status, StatusCode, Version,
};
use russh_sftp::server::StatusReply;

// ---------------------------------------------------------------- public API

/// What the server accepts. `password: None` disables password auth,
/// `client_public_key_openssh: None` disables public-key auth.
#[derive(Clone, Default)]
pub struct SftpOptions {
    pub user: String,
    pub password: Option<String>,
    /// "ssh-ed25519 AAAA... [comment]", as in an authorized_keys line.
    pub client_public_key_openssh: Option<String>,
    pub faults: Faults,
    /// The key and then the password, as OpenSSH's `AuthenticationMethods
    /// publickey,password`: the key alone is a partial success.
    pub require_both: bool,
    /// The password only by keyboard-interactive (a `Password: ` prompt), never by the
    /// `password` method.
    pub keyboard_interactive: bool,
}

impl SftpOptions {
    pub fn password(user: &str, password: &str) -> Self {
        SftpOptions {
            user: user.into(),
            password: Some(password.into()),
            ..Default::default()
        }
    }
    pub fn public_key(user: &str, public_key_line: &str) -> Self {
        SftpOptions {
            user: user.into(),
            client_public_key_openssh: Some(public_key_line.into()),
            ..Default::default()
        }
    }
}

/// Fault injection, shared between the test and the running server.
#[derive(Clone, Default)]
pub struct Faults(Arc<FaultState>);

#[derive(Default)]
struct FaultState {
    refuse_rename: AtomicBool,
    fail_write_after: Mutex<Option<u64>>,
    stall_writes: AtomicBool,
}

impl Faults {
    /// While on, SSH_FXP_RENAME (and posix-rename@openssh.com) answer PermissionDenied.
    pub fn refuse_rename(&self, on: bool) {
        self.0.refuse_rename.store(on, Ordering::SeqCst);
    }
    /// One-shot: the next file opened for writing may receive `n` bytes; the
    /// write that would go past them is cut at `n` bytes and the whole SSH
    /// connection is dropped. `None` disarms.
    pub fn fail_write_after_bytes(&self, n: Option<u64>) {
        *self.0.fail_write_after.lock().unwrap() = n;
    }
    /// While on, a write to a file gets no answer for 12 s (a server stalled mid-upload),
    /// then fails.
    pub fn stall_writes(&self, on: bool) {
        self.0.stall_writes.store(on, Ordering::SeqCst);
    }
    fn take_write_limit(&self) -> Option<u64> {
        self.0.fail_write_after.lock().unwrap().take()
    }
}

pub struct SftpServer {
    pub port: u16,
    pub root: PathBuf,
    /// "ssh-ed25519 AAAA..." (no comment).
    pub host_key_openssh_pub: String,
    /// "SHA256:<base64 without padding>", as `ssh-keygen -lf` prints it.
    pub host_key_sha256: String,
    pub faults: Faults,
    log: Log,
    shutdown: Option<russh::server::RunningServerHandle>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SftpServer {
    /// Starts a server with a fresh random Ed25519 host key.
    pub fn start(opts: SftpOptions) -> SftpServer {
        let key =
            PrivateKey::random(&mut rand::rng(), Algorithm::Ed25519).expect("generate host key");
        Self::start_with_host_key(opts, key)
    }

    /// Starts a server with the given host key (e.g. to simulate a changed host key).
    pub fn start_with_host_key(opts: SftpOptions, key: PrivateKey) -> SftpServer {
        let root = unique_temp_dir("sftp-root");
        let host_key_openssh_pub = openssh_pub_no_comment(key.public_key());
        let host_key_sha256 = key.public_key().fingerprint(HashAlg::Sha256).to_string();
        let client_key = opts.client_public_key_openssh.as_deref().map(|line| {
            PublicKey::from_openssh(line.trim())
                .expect("client_public_key_openssh must be an OpenSSH public key line")
        });
        let log = Log::default();
        let shared = Arc::new(Shared {
            user: opts.user,
            password: opts.password,
            client_key,
            root: root.clone(),
            faults: opts.faults.clone(),
            log: log.clone(),
            require_both: opts.require_both,
            keyboard_interactive: opts.keyboard_interactive,
        });
        let methods: &[MethodKind] = match (opts.keyboard_interactive, opts.require_both) {
            (true, _) => &[MethodKind::PublicKey, MethodKind::KeyboardInteractive],
            (false, _) => &[MethodKind::PublicKey, MethodKind::Password],
        };
        let config = Arc::new(russh::server::Config {
            keys: vec![key],
            methods: MethodSet::from(methods),
            auth_rejection_time: Duration::from_millis(10),
            auth_rejection_time_initial: Some(Duration::ZERO),
            inactivity_timeout: Some(Duration::from_secs(120)),
            ..Default::default()
        });

        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("sftp-test-server".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("tokio runtime");
                rt.block_on(async move {
                    let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
                        Ok(l) => l,
                        Err(e) => return tx.send(Err(e)).unwrap(),
                    };
                    let port = listener.local_addr().map(|a| a.port());
                    let mut server = SshServer { shared };
                    let running = server.run_on_socket(config, &listener);
                    let _ = tx.send(port.map(|p| (p, running.handle())));
                    let _ = running.await;
                });
            })
            .expect("spawn sftp server thread");
        let (port, handle) = rx
            .recv()
            .expect("sftp server thread died")
            .expect("bind 127.0.0.1:0");

        SftpServer {
            port,
            root,
            host_key_openssh_pub,
            host_key_sha256,
            faults: opts.faults,
            log,
            shutdown: Some(handle),
            thread: Some(thread),
        }
    }

    /// Line for an OpenSSH known_hosts file: "[127.0.0.1]:PORT ssh-ed25519 AAAA...".
    pub fn known_hosts_line(&self) -> String {
        format!("[127.0.0.1]:{} {}", self.port, self.host_key_openssh_pub)
    }

    /// All regular files under root, as ("dir/name", contents), sorted by name.
    pub fn files(&self) -> Vec<(String, Vec<u8>)> {
        fn walk(dir: &Path, prefix: &str, out: &mut Vec<(String, Vec<u8>)>) {
            let Ok(rd) = std::fs::read_dir(dir) else {
                return;
            };
            for e in rd.flatten() {
                let name = format!("{prefix}{}", e.file_name().to_string_lossy());
                let p = e.path();
                if p.is_dir() {
                    walk(&p, &format!("{name}/"), out);
                } else if let Ok(bytes) = std::fs::read(&p) {
                    out.push((name, bytes));
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.root, "", &mut out);
        out.sort();
        out
    }

    /// Operations seen so far, in order.
    pub fn log(&self) -> Vec<String> {
        self.log.0.lock().unwrap().clone()
    }
}

impl Drop for SftpServer {
    fn drop(&mut self) {
        if let Some(h) = self.shutdown.take() {
            h.shutdown("test server stopped".into());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// Writes a new Ed25519 private key (OpenSSH format, mode 0600) to `dir/id_ed25519`
/// and returns its path and the public key line ("ssh-ed25519 AAAA...").
pub fn client_keypair(dir: &Path) -> (PathBuf, String) {
    use std::os::unix::fs::PermissionsExt;
    let key =
        PrivateKey::random(&mut rand::rng(), Algorithm::Ed25519).expect("generate client key");
    let path = dir.join("id_ed25519");
    let pem = key.to_openssh(LineEnding::LF).expect("encode client key");
    std::fs::write(&path, pem.as_bytes()).expect("write client key");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
        .expect("chmod client key");
    (path, openssh_pub_no_comment(key.public_key()))
}

// ------------------------------------------------------------------ internals

#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    fn push(&self, line: String) {
        self.0.lock().unwrap().push(line);
    }
}

fn openssh_pub_no_comment(key: &PublicKey) -> String {
    let line = key.to_openssh().expect("encode public key");
    line.split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

fn unique_temp_dir(prefix: &str) -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let dir = std::env::temp_dir().join(format!(
        "{prefix}-{}-{}-{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).expect("create sftp root");
    dir.canonicalize().unwrap_or(dir)
}

struct Shared {
    user: String,
    password: Option<String>,
    client_key: Option<PublicKey>,
    root: PathBuf,
    faults: Faults,
    log: Log,
    require_both: bool,
    keyboard_interactive: bool,
}

impl Shared {
    /// The method the password goes by.
    fn password_method(&self) -> MethodKind {
        if self.keyboard_interactive {
            MethodKind::KeyboardInteractive
        } else {
            MethodKind::Password
        }
    }

    fn password_ok(&self, user: &str, password: &str) -> bool {
        user == self.user && self.password.as_deref() == Some(password)
    }

    fn key_ok(&self, user: &str, key: &PublicKey) -> bool {
        user == self.user
            && self
                .client_key
                .as_ref()
                .is_some_and(|k| k.key_data() == key.key_data())
    }
}

struct SshServer {
    shared: Arc<Shared>,
}

impl russh::server::Server for SshServer {
    type Handler = SshConn;
    fn new_client(&mut self, _: Option<std::net::SocketAddr>) -> SshConn {
        SshConn {
            shared: self.shared.clone(),
            channels: HashMap::new(),
            key_done: false,
        }
    }
}

struct SshConn {
    shared: Arc<Shared>,
    channels: HashMap<ChannelId, Channel<Msg>>,
    /// The key was accepted as the first of two factors.
    key_done: bool,
}

impl SshConn {
    /// The answer to a password: accepted only as the second factor when both are required.
    fn password_answer(&mut self, user: &str, password: &str) -> Auth {
        let ok =
            self.shared.password_ok(user, password) && (!self.shared.require_both || self.key_done);
        self.shared.log.push(format!(
            "auth password {user} {}",
            if ok { "ok" } else { "rejected" }
        ));
        if ok { Auth::Accept } else { Auth::reject() }
    }

    /// What is left to do after the key, as OpenSSH says it.
    fn after_key(&self) -> Auth {
        let next = [self.shared.password_method()];
        Auth::Reject {
            proceed_with_methods: Some(MethodSet::from(&next[..])),
            partial_success: true,
        }
    }
}

impl russh::server::Handler for SshConn {
    type Error = russh::Error;

    async fn auth_none(&mut self, _user: &str) -> Result<Auth, Self::Error> {
        // After the key, only the password is left (OpenSSH lists what remains).
        Ok(if self.key_done {
            let next = [self.shared.password_method()];
            Auth::Reject {
                proceed_with_methods: Some(MethodSet::from(&next[..])),
                partial_success: false,
            }
        } else {
            Auth::reject()
        })
    }

    async fn auth_password(&mut self, user: &str, password: &str) -> Result<Auth, Self::Error> {
        if self.shared.keyboard_interactive {
            return Ok(Auth::UnsupportedMethod);
        }
        Ok(self.password_answer(user, password))
    }

    async fn auth_keyboard_interactive<'a>(
        &'a mut self,
        user: &str,
        _submethods: &str,
        response: Option<russh::server::Response<'a>>,
    ) -> Result<Auth, Self::Error> {
        if !self.shared.keyboard_interactive {
            return Ok(Auth::UnsupportedMethod);
        }
        let Some(mut response) = response else {
            return Ok(Auth::Partial {
                name: "".into(),
                instructions: "".into(),
                prompts: vec![("Password: ".into(), false)].into(),
            });
        };
        let answer = response
            .next()
            .map(|b| String::from_utf8_lossy(&b).into_owned());
        Ok(self.password_answer(user, answer.as_deref().unwrap_or("")))
    }

    async fn auth_publickey_offered(
        &mut self,
        user: &str,
        offer: PublicKeyOffer<'_>,
    ) -> Result<Auth, Self::Error> {
        Ok(if self.shared.key_ok(user, offer.public_key) {
            Auth::Accept
        } else {
            Auth::reject()
        })
    }

    async fn auth_publickey(
        &mut self,
        user: &str,
        key: VerifiedPublicKey<'_>,
    ) -> Result<Auth, Self::Error> {
        let ok = self.shared.key_ok(user, key.public_key);
        self.shared.log.push(format!(
            "auth publickey {user} {}",
            if ok { "ok" } else { "rejected" }
        ));
        if ok && self.shared.require_both {
            self.key_done = true;
            return Ok(self.after_key());
        }
        Ok(if ok { Auth::Accept } else { Auth::reject() })
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.channels.insert(channel.id(), channel);
        reply.accept().await;
        Ok(())
    }

    async fn channel_eof(
        &mut self,
        channel: ChannelId,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.close(channel)?;
        Ok(())
    }

    async fn subsystem_request(
        &mut self,
        id: ChannelId,
        name: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        match (name, self.channels.remove(&id)) {
            ("sftp", Some(channel)) => {
                session.channel_success(id)?;
                let fs = Fs {
                    shared: self.shared.clone(),
                    ssh: session.handle(),
                    handles: HashMap::new(),
                    next_handle: 0,
                };
                russh_sftp::server::run(channel.into_stream(), fs).await; // spawns its own task
            }
            _ => session.channel_failure(id)?,
        }
        Ok(())
    }
}

enum Node {
    File {
        file: std::fs::File,
        rel: String,
        received: u64,
        limit: Option<u64>,
    },
    Dir {
        rel: String,
        entries: Option<Vec<File>>,
    },
}

/// One SFTP session. Requests are processed one at a time by russh-sftp.
struct Fs {
    shared: Arc<Shared>,
    ssh: russh::server::Handle,
    handles: HashMap<String, Node>,
    next_handle: u64,
}

type FsResult<T> = Result<T, StatusReply>;

fn io_err(e: io::Error) -> StatusReply {
    let code = match e.kind() {
        io::ErrorKind::NotFound => StatusCode::NoSuchFile,
        io::ErrorKind::PermissionDenied => StatusCode::PermissionDenied,
        _ => StatusCode::Failure,
    };
    code.with_message(e.to_string())
}

fn ok(id: u32) -> Status {
    Status {
        id,
        status_code: StatusCode::Ok,
        error_message: "Ok".into(),
        language_tag: "en-US".into(),
    }
}

fn bad_handle() -> StatusReply {
    StatusCode::Failure.with_message("invalid handle")
}

/// Reads an SFTP "string" (u32 big-endian length + bytes) from the front of `data`.
fn take_string(data: &mut &[u8]) -> Option<String> {
    let len = u32::from_be_bytes(data.get(..4)?.try_into().ok()?) as usize;
    let s = data.get(4..4 + len)?;
    let out = String::from_utf8(s.to_vec()).ok();
    *data = &data[4 + len..];
    out
}

impl Fs {
    fn log(&self, line: String) {
        self.shared.log.push(line);
    }

    /// Maps a client path onto root. Returns (real path, relative name; "." for root).
    fn resolve(&self, client_path: &str) -> FsResult<(PathBuf, String)> {
        let mut parts: Vec<&str> = Vec::new();
        for c in client_path.split('/') {
            match c {
                "" | "." => {}
                ".." => {
                    if parts.pop().is_none() {
                        return Err(StatusCode::PermissionDenied.with_message("path escapes root"));
                    }
                }
                c => parts.push(c),
            }
        }
        if parts.is_empty() {
            return Ok((self.shared.root.clone(), ".".into()));
        }
        let rel = parts.join("/");
        Ok((self.shared.root.join(&rel), rel))
    }

    fn new_handle(&mut self, node: Node) -> String {
        self.next_handle += 1;
        let h = format!("h{}", self.next_handle);
        self.handles.insert(h.clone(), node);
        h
    }

    fn do_rename(&self, oldpath: &str, newpath: &str, overwrite: bool, op: &str) -> FsResult<()> {
        let (from, a) = self.resolve(oldpath)?;
        let (to, b) = self.resolve(newpath)?;
        self.log(format!("{op} {a} {b}"));
        if self.shared.faults.0.refuse_rename.load(Ordering::SeqCst) {
            self.log(format!("fault: {op} refused"));
            return Err(StatusCode::PermissionDenied.with_message("rename refused (test fault)"));
        }
        std::fs::symlink_metadata(&from).map_err(io_err)?;
        // OpenSSH's SSH_FXP_RENAME (v3) refuses to replace an existing target
        // (SSH2_FX_FAILURE); posix-rename@openssh.com replaces it.
        if !overwrite && std::fs::symlink_metadata(&to).is_ok() {
            return Err(StatusCode::Failure.with_message("target exists"));
        }
        std::fs::rename(&from, &to).map_err(io_err)
    }
}

impl russh_sftp::server::Handler for Fs {
    type Error = StatusReply;

    fn unimplemented(&self) -> Self::Error {
        StatusReply::new(StatusCode::OpUnsupported)
    }

    async fn init(&mut self, _version: u32, _ext: HashMap<String, String>) -> FsResult<Version> {
        let mut v = Version::new();
        v.extensions
            .insert("posix-rename@openssh.com".into(), "1".into());
        v.extensions.insert("fsync@openssh.com".into(), "1".into());
        Ok(v)
    }

    async fn realpath(&mut self, id: u32, path: String) -> FsResult<Name> {
        let (_, rel) = self.resolve(&path)?;
        let abs = if rel == "." {
            "/".to_string()
        } else {
            format!("/{rel}")
        };
        Ok(Name {
            id,
            files: vec![File::dummy(abs)],
        })
    }

    async fn open(
        &mut self,
        id: u32,
        filename: String,
        pflags: OpenFlags,
        _attrs: FileAttributes,
    ) -> FsResult<Handle> {
        let (path, rel) = self.resolve(&filename)?;
        self.log(format!("open {rel}"));
        let options: std::fs::OpenOptions = pflags.into();
        let file = options.open(&path).map_err(io_err)?;
        let limit = if pflags.contains(OpenFlags::WRITE) {
            self.shared.faults.take_write_limit()
        } else {
            None
        };
        let handle = self.new_handle(Node::File {
            file,
            rel,
            received: 0,
            limit,
        });
        Ok(Handle { id, handle })
    }

    async fn write(
        &mut self,
        id: u32,
        handle: String,
        offset: u64,
        data: Vec<u8>,
    ) -> FsResult<Status> {
        if self.shared.faults.0.stall_writes.load(Ordering::SeqCst) {
            self.log(format!("fault: write to {handle} stalled"));
            tokio::time::sleep(std::time::Duration::from_secs(12)).await;
            return Err(StatusCode::Failure.with_message("stalled (test fault)"));
        }
        let Some(Node::File {
            file,
            rel,
            received,
            limit,
        }) = self.handles.get_mut(&handle)
        else {
            return Err(bad_handle());
        };
        let over = limit.filter(|lim| *received + data.len() as u64 > *lim);
        let keep = over.map_or(data.len(), |lim| (lim - *received) as usize);
        file.write_all_at(&data[..keep], offset).map_err(io_err)?;
        *received += keep as u64;
        if let Some(lim) = over {
            let line = format!("fault: connection dropped after {lim} bytes of {rel}");
            self.log(line);
            let _ = self
                .ssh
                .disconnect(Disconnect::ByApplication, "test fault".into(), "".into())
                .await;
            return Err(StatusCode::Failure.with_message("connection dropped (test fault)"));
        }
        Ok(ok(id))
    }

    async fn read(&mut self, id: u32, handle: String, offset: u64, len: u32) -> FsResult<Data> {
        let Some(Node::File { file, .. }) = self.handles.get(&handle) else {
            return Err(bad_handle());
        };
        let mut buf = vec![0; len.min(256 * 1024) as usize];
        let n = file.read_at(&mut buf, offset).map_err(io_err)?;
        if n == 0 && !buf.is_empty() {
            return Err(StatusReply::new(StatusCode::Eof));
        }
        buf.truncate(n);
        Ok(Data { id, data: buf })
    }

    async fn close(&mut self, id: u32, handle: String) -> FsResult<Status> {
        match self.handles.remove(&handle) {
            Some(Node::File { rel, .. }) | Some(Node::Dir { rel, .. }) => {
                self.log(format!("close {rel}"));
                Ok(ok(id))
            }
            None => Err(bad_handle()),
        }
    }

    async fn fstat(&mut self, id: u32, handle: String) -> FsResult<Attrs> {
        let Some(Node::File { file, .. }) = self.handles.get(&handle) else {
            return Err(bad_handle());
        };
        let meta = file.metadata().map_err(io_err)?;
        Ok(Attrs {
            id,
            attrs: FileAttributes::from(&meta),
        })
    }

    async fn stat(&mut self, id: u32, path: String) -> FsResult<Attrs> {
        let (p, rel) = self.resolve(&path)?;
        self.log(format!("stat {rel}"));
        let meta = std::fs::metadata(p).map_err(io_err)?;
        Ok(Attrs {
            id,
            attrs: FileAttributes::from(&meta),
        })
    }

    async fn lstat(&mut self, id: u32, path: String) -> FsResult<Attrs> {
        let (p, rel) = self.resolve(&path)?;
        self.log(format!("lstat {rel}"));
        let meta = std::fs::symlink_metadata(p).map_err(io_err)?;
        Ok(Attrs {
            id,
            attrs: FileAttributes::from(&meta),
        })
    }

    async fn setstat(&mut self, id: u32, path: String, _attrs: FileAttributes) -> FsResult<Status> {
        let (p, rel) = self.resolve(&path)?;
        self.log(format!("setstat {rel}"));
        std::fs::symlink_metadata(p).map_err(io_err)?; // attributes are accepted and ignored
        Ok(ok(id))
    }

    async fn fsetstat(
        &mut self,
        id: u32,
        handle: String,
        _attrs: FileAttributes,
    ) -> FsResult<Status> {
        if self.handles.contains_key(&handle) {
            Ok(ok(id))
        } else {
            Err(bad_handle())
        }
    }

    async fn opendir(&mut self, id: u32, path: String) -> FsResult<Handle> {
        let (p, rel) = self.resolve(&path)?;
        self.log(format!("opendir {rel}"));
        let mut entries = Vec::new();
        for e in std::fs::read_dir(p).map_err(io_err)? {
            let e = e.map_err(io_err)?;
            let meta = std::fs::symlink_metadata(e.path()).map_err(io_err)?;
            entries.push(File::new(
                e.file_name().to_string_lossy(),
                FileAttributes::from(&meta),
            ));
        }
        entries.sort_by(|a, b| a.filename.cmp(&b.filename));
        let handle = self.new_handle(Node::Dir {
            rel,
            entries: Some(entries),
        });
        Ok(Handle { id, handle })
    }

    async fn readdir(&mut self, id: u32, handle: String) -> FsResult<Name> {
        let Some(Node::Dir { entries, .. }) = self.handles.get_mut(&handle) else {
            return Err(bad_handle());
        };
        match entries.take() {
            Some(files) if !files.is_empty() => Ok(Name { id, files }),
            _ => Err(StatusReply::new(StatusCode::Eof)),
        }
    }

    async fn remove(&mut self, id: u32, filename: String) -> FsResult<Status> {
        let (p, rel) = self.resolve(&filename)?;
        self.log(format!("remove {rel}"));
        std::fs::remove_file(p).map_err(io_err)?;
        Ok(ok(id))
    }

    async fn mkdir(&mut self, id: u32, path: String, _attrs: FileAttributes) -> FsResult<Status> {
        let (p, rel) = self.resolve(&path)?;
        self.log(format!("mkdir {rel}"));
        std::fs::create_dir(p).map_err(io_err)?;
        Ok(ok(id))
    }

    async fn rmdir(&mut self, id: u32, path: String) -> FsResult<Status> {
        let (p, rel) = self.resolve(&path)?;
        self.log(format!("rmdir {rel}"));
        std::fs::remove_dir(p).map_err(io_err)?;
        Ok(ok(id))
    }

    async fn rename(&mut self, id: u32, oldpath: String, newpath: String) -> FsResult<Status> {
        self.do_rename(&oldpath, &newpath, false, "rename")?;
        Ok(ok(id))
    }

    async fn extended(&mut self, id: u32, request: String, data: Vec<u8>) -> FsResult<Packet> {
        let mut d = data.as_slice();
        let malformed = || StatusCode::BadMessage.with_message("malformed extended request");
        match request.as_str() {
            "posix-rename@openssh.com" => {
                let from = take_string(&mut d).ok_or_else(malformed)?;
                let to = take_string(&mut d).ok_or_else(malformed)?;
                self.do_rename(&from, &to, true, "posix-rename")?;
                Ok(ok(id).into())
            }
            "fsync@openssh.com" => {
                let handle = take_string(&mut d).ok_or_else(malformed)?;
                let Some(Node::File { file, .. }) = self.handles.get(&handle) else {
                    return Err(bad_handle());
                };
                file.sync_all().map_err(io_err)?;
                Ok(ok(id).into())
            }
            _ => Err(self.unimplemented()),
        }
    }
}
