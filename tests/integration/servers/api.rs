// In-process stand-in for impact.com's Conversions API (see shared/impact-facts.md §6-7).
//
// Dependencies (test crate's Cargo.toml):
//   [dev-dependencies]
//   serde_json = "1"
//
// std-only HTTP/1.1 server: 127.0.0.1:0, one thread per connection, keep-alive,
// Content-Length bodies (chunked uploads get 411), stopped on Drop.
//
// Routes (AccountSID = ApiOptions::account_sid, HTTP Basic AccountSID:AuthToken on all):
//   POST /Advertisers/{SID}/Conversions
//   GET  /Advertisers/{SID}/APISubmissions            {"APISubmission":[..]}
//   GET  /Advertisers/{SID}/APISubmissions/{BatchId}
//   GET  /Advertisers/{SID}/FTPFileSubmissions        {"FTPFileSubmissions":[..]}
//        (filters SubmissionDateStart/End, CompletedDateStart/End)
//   GET  /Advertisers/{SID}/FTPFileSubmissions/{BatchId}
//   GET  /Advertisers/{SID}/FTPFileSubmissions/{BatchId}/ErrorDetails   {"ErrorDetail":[..]}
// Responses are JSON when `Accept` mentions json or the last path segment ends in
// `.json`; otherwise the documented default, XML wrapped in <ImpactRadiusResponse>.
#![allow(dead_code)]

// Also used by the SMTP server; declared here because this file is also built alone
// (examples/api_standin.rs).
#[path = "base64.rs"]
pub mod base64;

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

/// Numeric AccountId reported in submission records.
pub const ACCOUNT_ID: &str = "1234567";

const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 32 * 1024 * 1024;

// ---------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------

pub struct ApiOptions {
    pub account_sid: String,
    pub auth_token: String,
    /// Sleep before answering each Conversions POST (whatever the outcome).
    pub latency: Duration,
    pub faults: Faults,
}

impl ApiOptions {
    pub fn new(account_sid: &str, auth_token: &str) -> ApiOptions {
        ApiOptions {
            account_sid: account_sid.to_string(),
            auth_token: auth_token.to_string(),
            latency: Duration::ZERO,
            faults: Faults::default(),
        }
    }
}

/// How `X-RateLimit-Reset` is expressed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ResetStyle {
    /// Epoch seconds (rounded up) when the window ends.
    #[default]
    Epoch,
    /// Seconds until the window ends (rounded up, >= 1).
    Delta,
    /// Header omitted.
    None,
}

/// 400 body shape for `field_error_for_order`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorShape {
    /// `{"Status":"ERROR","errors":[{"field","level":"ERROR","message"}]}` (v14 Conversions).
    Lower,
    /// `{"Status":"ERROR","Message":"Validation Failed","Errors":[{"Field","Message"}]}`.
    Upper,
}

/// Fault injection, shared with the running server (clone freely, change any time).
#[derive(Clone, Default)]
pub struct Faults {
    inner: Arc<Mutex<FaultState>>,
}

#[derive(Default)]
struct FaultState {
    rate: Option<RateWindow>,
    reset_style: ResetStyle,
    omit_retry_after: bool,
    omit_rate_headers: bool,
    server_errors: u32,
    server_error_status: u16,
    field_errors: HashMap<String, (String, String, ErrorShape)>,
    /// Method -> (status, Location): every such request is answered with a redirect.
    redirects: HashMap<String, (u16, String)>,
    /// Methods answered 200 with a body that never ends.
    endless: Vec<String>,
    /// Put before the QueuedUri path (an origin such as "http://127.0.0.1:PORT").
    queued_uri_prefix: String,
}

struct RateWindow {
    limit: u32,
    window: Duration,
    start: Option<Instant>,
    count: u32,
}

struct RateInfo {
    limit: u32,
    remaining: u32,
    end: Instant,
    limited: bool,
    style: ResetStyle,
    omit_retry_after: bool,
    omit_rate_headers: bool,
}

impl Faults {
    /// At most `limit` Conversions POSTs per fixed window. A window starts with the
    /// first Conversions POST after the previous one ended. Only authenticated
    /// POSTs for the right AccountSID count. Every Conversions response carries
    /// X-RateLimit-Limit / -Remaining / -Reset while a limit is set; over the limit
    /// the answer is 429 with Retry-After (integer seconds, >= 1, rounded up).
    pub fn rate_limit(&self, limit: u32, window: Duration) {
        self.lock().rate = Some(RateWindow {
            limit,
            window,
            start: None,
            count: 0,
        });
    }
    pub fn clear_rate_limit(&self) {
        self.lock().rate = None;
    }
    pub fn reset_style(&self, style: ResetStyle) {
        self.lock().reset_style = style;
    }
    pub fn omit_retry_after(&self, on: bool) {
        self.lock().omit_retry_after = on;
    }
    /// The limit is enforced but announced by no X-RateLimit-* header (a 429 still carries
    /// Retry-After unless `omit_retry_after`).
    pub fn omit_rate_headers(&self, on: bool) {
        self.lock().omit_rate_headers = on;
    }
    /// The next `n` (authenticated, not rate-limited) Conversions POSTs get `status`.
    pub fn server_errors(&self, n: u32, status: u16) {
        let mut s = self.lock();
        s.server_errors = n;
        s.server_error_status = status;
    }
    /// Every Conversions POST whose OrderId is `order_id` gets 400 in `shape`.
    pub fn field_error_for_order(
        &self,
        order_id: &str,
        field: &str,
        message: &str,
        shape: ErrorShape,
    ) {
        self.lock().field_errors.insert(
            order_id.to_string(),
            (field.to_string(), message.to_string(), shape),
        );
    }
    pub fn clear_field_error(&self, order_id: &str) {
        self.lock().field_errors.remove(order_id);
    }
    /// Every request of `method` (before authentication) is answered `status` with
    /// `Location: location`, and nothing else happens.
    pub fn redirect(&self, method: &str, status: u16, location: &str) {
        self.lock()
            .redirects
            .insert(method.to_string(), (status, location.to_string()));
    }
    /// Every request of `method` is answered 200, chunked, with a body that never ends (until
    /// the client hangs up or the server stops).
    pub fn endless_body(&self, method: &str) {
        self.lock().endless.push(method.to_string());
    }
    /// The QueuedUri of conversions queued from now on is `prefix` followed by the usual
    /// path: `prefix` = an origin such as "http://127.0.0.1:PORT" makes it absolute.
    pub fn queued_uri_prefix(&self, prefix: &str) {
        self.lock().queued_uri_prefix = prefix.to_string();
    }
    /// Remove every fault.
    pub fn clear(&self) {
        *self.lock() = FaultState::default();
    }

    fn lock(&self) -> MutexGuard<'_, FaultState> {
        lock(&self.inner)
    }

    /// Called on arrival of each Conversions POST. `counted`: consumes quota if allowed.
    fn arrive(&self, now: Instant, counted: bool) -> Option<RateInfo> {
        let mut s = self.lock();
        let style = s.reset_style;
        let omit_retry_after = s.omit_retry_after;
        let omit_rate_headers = s.omit_rate_headers;
        let rw = s.rate.as_mut()?;
        let expired = match rw.start {
            None => true,
            Some(start) => now >= start + rw.window,
        };
        if expired {
            rw.start = Some(now);
            rw.count = 0;
        }
        let end = rw.start.unwrap_or(now) + rw.window;
        let limited = rw.count >= rw.limit;
        if counted && !limited {
            rw.count += 1;
        }
        Some(RateInfo {
            limit: rw.limit,
            remaining: rw.limit.saturating_sub(rw.count),
            end,
            limited,
            style,
            omit_retry_after,
            omit_rate_headers,
        })
    }

    fn take_server_error(&self) -> Option<u16> {
        let mut s = self.lock();
        if s.server_errors > 0 {
            s.server_errors -= 1;
            Some(s.server_error_status)
        } else {
            None
        }
    }

    fn field_error(&self, order_id: &str) -> Option<(String, String, ErrorShape)> {
        self.lock().field_errors.get(order_id).cloned()
    }

    fn redirect_for(&self, method: &str) -> Option<(u16, String)> {
        self.lock().redirects.get(method).cloned()
    }

    fn is_endless(&self, method: &str) -> bool {
        self.lock().endless.iter().any(|m| m == method)
    }

    fn prefix(&self) -> String {
        self.lock().queued_uri_prefix.clone()
    }
}

/// One request as received, plus what was answered.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    /// Path plus query, as sent.
    pub path: String,
    /// Lower-cased names, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// URL-decoded form pairs in order (form bodies only; lossy on bad encoding).
    pub form: Vec<(String, String)>,
    /// When the request head was read.
    pub at: Instant,
    /// Status answered (0 if the connection died before an answer was decided).
    pub status: u16,
    /// Conversions POST arriving while the rate-limit quota of the window was spent.
    pub while_limited: bool,
    /// Connection number (same value = same TCP connection: keep-alive reuse).
    pub conn: u64,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
    pub fn form_value(&self, key: &str) -> Option<&str> {
        form_get(&self.form, key)
    }
    pub fn is_conversion_post(&self) -> bool {
        self.method == "POST"
            && self
                .path
                .split('?')
                .next()
                .unwrap_or("")
                .ends_with("/Conversions")
    }
}

/// First value for `key` in a form.
pub fn form_get<'a>(form: &'a [(String, String)], key: &str) -> Option<&'a str> {
    form.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

pub struct ApiServer {
    /// "http://127.0.0.1:PORT"
    pub base_url: String,
    pub faults: Faults,
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl ApiServer {
    pub fn start(opts: ApiOptions) -> ApiServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local_addr");
        let seed = RandomState::new().build_hasher().finish();
        let shared = Arc::new(Shared {
            sid: opts.account_sid,
            token: opts.auth_token,
            latency: opts.latency,
            faults: opts.faults.clone(),
            state: Mutex::new(State::default()),
            seq: AtomicU64::new(1),
            seed,
            stop: AtomicBool::new(false),
            conns: Mutex::new(HashMap::new()),
        });
        let sh = Arc::clone(&shared);
        let accept = thread::Builder::new()
            .name("api-accept".into())
            .spawn(move || accept_loop(sh, listener))
            .expect("spawn accept thread");
        ApiServer {
            base_url: format!("http://{addr}"),
            faults: opts.faults,
            addr,
            shared,
            accept: Some(accept),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `base_url` + `path` (path starts with '/').
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    /// "http://127.0.0.1:PORT/Advertisers/{SID}/Conversions"
    pub fn conversions_url(&self) -> String {
        self.url(&format!("/Advertisers/{}/Conversions", self.shared.sid))
    }

    /// Every request, in arrival order.
    pub fn requests(&self) -> Vec<Request> {
        lock(&self.shared.state).log.clone()
    }

    /// Conversions POSTs only, in arrival order.
    pub fn conversion_requests(&self) -> Vec<Request> {
        self.requests()
            .into_iter()
            .filter(|r| r.is_conversion_post())
            .collect()
    }

    pub fn clear_requests(&self) {
        lock(&self.shared.state).log.clear();
    }

    /// Forms of accepted (QUEUED) conversions, in acceptance order.
    pub fn conversions(&self) -> Vec<Vec<(String, String)>> {
        lock(&self.shared.state)
            .submissions
            .iter()
            .map(|s| s.form.clone())
            .collect()
    }

    /// (BatchId, form) of accepted conversions.
    pub fn queued(&self) -> Vec<(String, Vec<(String, String)>)> {
        lock(&self.shared.state)
            .submissions
            .iter()
            .map(|s| (s.batch_id.clone(), s.form.clone()))
            .collect()
    }

    /// Registers a completed FTP file submission; returns its BatchId ("F-…").
    /// TotalRecords defaults to max(number of errors, highest Line).
    pub fn add_ftp_submission(&self, file_name: &str, errors: Vec<(u64, &str, &str)>) -> String {
        let total = errors
            .iter()
            .map(|e| e.0)
            .max()
            .unwrap_or(0)
            .max(errors.len() as u64);
        self.add_ftp_submission_with_total(file_name, total, errors)
    }

    pub fn add_ftp_submission_with_total(
        &self,
        file_name: &str,
        total_records: u64,
        errors: Vec<(u64, &str, &str)>,
    ) -> String {
        let batch_id = format!("F-{}", self.shared.next_id());
        let sub = FtpSubmission {
            batch_id: batch_id.clone(),
            file_name: file_name.to_string(),
            submitted: SystemTime::now(),
            total_records,
            errors: errors
                .into_iter()
                .map(|(l, o, r)| (l, o.to_string(), r.to_string()))
                .collect(),
        };
        lock(&self.shared.state).ftp.push(sub);
        batch_id
    }

    /// What APISubmissions/{id} reports for the submission(s) of `order_id`
    /// (may be called before or after the submission).
    pub fn set_api_submission_result(
        &self,
        order_id: &str,
        error_type: Option<&str>,
        error_reason: Option<&str>,
    ) {
        lock(&self.shared.state).api_results.insert(
            order_id.to_string(),
            (
                error_type.unwrap_or("").to_string(),
                error_reason.unwrap_or("").to_string(),
            ),
        );
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        for s in lock(&self.shared.conns).values() {
            let _ = s.shutdown(Shutdown::Both);
        }
        // Wake the accept loop.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(2));
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

// ---------------------------------------------------------------------------
// Server internals
// ---------------------------------------------------------------------------

struct Shared {
    sid: String,
    token: String,
    latency: Duration,
    faults: Faults,
    state: Mutex<State>,
    seq: AtomicU64,
    seed: u64,
    stop: AtomicBool,
    conns: Mutex<HashMap<u64, TcpStream>>,
}

#[derive(Default)]
struct State {
    log: Vec<Request>,
    submissions: Vec<ApiSubmission>,
    api_results: HashMap<String, (String, String)>,
    ftp: Vec<FtpSubmission>,
}

struct ApiSubmission {
    batch_id: String,
    form: Vec<(String, String)>,
    payload: String,
    submitted: SystemTime,
}

struct FtpSubmission {
    batch_id: String,
    file_name: String,
    submitted: SystemTime,
    total_records: u64,
    errors: Vec<(u64, String, String)>,
}

impl Shared {
    /// uuid-shaped unique id.
    fn next_id(&self) -> String {
        let n = self.seq.fetch_add(1, Ordering::SeqCst);
        let a = splitmix(self.seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let b = splitmix(a ^ n);
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            0x8000 | ((b >> 48) & 0x3fff),
            b & 0xffff_ffff_ffff
        )
    }
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn accept_loop(shared: Arc<Shared>, listener: TcpListener) {
    let mut workers: Vec<JoinHandle<()>> = Vec::new();
    let mut next_conn: u64 = 0;
    for stream in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else { continue };
        let _ = stream.set_nodelay(true);
        next_conn += 1;
        let id = next_conn;
        if let Ok(clone) = stream.try_clone() {
            lock(&shared.conns).insert(id, clone);
        }
        if shared.stop.load(Ordering::SeqCst) {
            let _ = stream.shutdown(Shutdown::Both);
            break;
        }
        let sh = Arc::clone(&shared);
        let spawned = thread::Builder::new()
            .name(format!("api-conn-{id}"))
            .spawn(move || {
                serve_connection(&sh, stream, id);
                lock(&sh.conns).remove(&id);
            });
        match spawned {
            Ok(h) => workers.push(h),
            Err(_) => {
                lock(&shared.conns).remove(&id);
            }
        }
        workers.retain(|h| !h.is_finished());
    }
    for h in workers {
        let _ = h.join();
    }
}

struct Response {
    status: u16,
    content_type: &'static str,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn new(status: u16) -> Response {
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            headers: Vec::new(),
            body: Vec::new(),
        }
    }
    fn text(status: u16, text: &str) -> Response {
        let mut r = Response::new(status);
        r.body = text.as_bytes().to_vec();
        r
    }
    fn value(status: u16, v: &Value, want_json: bool) -> Response {
        let mut r = Response::new(status);
        if want_json {
            r.content_type = "application/json; charset=utf-8";
            r.body = serde_json::to_vec(v).expect("json");
        } else {
            r.content_type = "application/xml; charset=utf-8";
            r.body = to_xml(v).into_bytes();
        }
        r
    }
    fn header(mut self, k: &str, v: impl Into<String>) -> Response {
        self.headers.push((k.to_string(), v.into()));
        self
    }
}

fn serve_connection(shared: &Shared, stream: TcpStream, conn: u64) {
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut writer = stream;
    loop {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let head = match read_head(&mut reader) {
            Ok(Some(h)) => h,
            Ok(None) => return,
            Err(_) => {
                let _ = write_response(
                    &mut writer,
                    &Response::text(400, "bad request head\n"),
                    false,
                );
                return;
            }
        };
        let at = Instant::now();
        let Some((method, target, version, headers)) = parse_head(&head) else {
            let _ = write_response(
                &mut writer,
                &Response::text(400, "bad request head\n"),
                false,
            );
            return;
        };
        let hdr = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        let conn_hdr = hdr("connection").unwrap_or_default().to_ascii_lowercase();
        let keep_alive = if version == "HTTP/1.0" {
            conn_hdr.contains("keep-alive")
        } else {
            !conn_hdr.contains("close")
        };

        let mut req = Request {
            method,
            path: target,
            headers: headers.clone(),
            body: Vec::new(),
            form: Vec::new(),
            at,
            status: 0,
            while_limited: false,
            conn,
        };

        // Body framing.
        let chunked =
            hdr("transfer-encoding").is_some_and(|te| !te.trim().eq_ignore_ascii_case("identity"));
        if chunked {
            req.status = 411;
            lock(&shared.state).log.push(req);
            let r = Response::text(
                411,
                "Length Required: chunked request bodies are not supported\n",
            );
            let _ = write_response(&mut writer, &r, false);
            return;
        }
        let len = match hdr("content-length").map(|v| v.trim().parse::<usize>()) {
            None => 0,
            Some(Ok(n)) if n <= MAX_BODY => n,
            Some(_) => {
                req.status = 400;
                lock(&shared.state).log.push(req);
                let _ = write_response(
                    &mut writer,
                    &Response::text(400, "bad Content-Length\n"),
                    false,
                );
                return;
            }
        };
        if len > 0
            && hdr("expect").is_some_and(|e| e.eq_ignore_ascii_case("100-continue"))
            && writer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").is_err()
        {
            return;
        }
        let mut body = vec![0u8; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        if is_form(hdr("content-type").as_deref()) {
            req.form = parse_form(&body, false).unwrap_or_default();
        }
        req.body = body;

        let idx = {
            let mut st = lock(&shared.state);
            st.log.push(req.clone());
            st.log.len() - 1
        };
        let routed = route(shared, &req);
        {
            let mut st = lock(&shared.state);
            // clear_requests() may have run meanwhile; match by arrival time and conn.
            if let Some(r) = st.log.get_mut(idx).filter(|r| r.at == at && r.conn == conn) {
                r.status = routed.resp.status;
                r.while_limited = routed.while_limited;
            }
        }
        if routed.delay && !shared.latency.is_zero() {
            thread::sleep(shared.latency);
        }
        if routed.endless {
            write_endless(shared, &mut writer);
            return;
        }
        if write_response(&mut writer, &routed.resp, keep_alive).is_err() || !keep_alive {
            return;
        }
    }
}

/// Reads up to and including the blank line. Ok(None) on clean EOF before a request.
fn read_head(reader: &mut BufReader<TcpStream>) -> io::Result<Option<Vec<String>>> {
    let mut lines = Vec::new();
    let mut total = 0usize;
    loop {
        let mut buf = Vec::new();
        let n = reader
            .by_ref()
            .take((MAX_HEAD + 1 - total) as u64)
            .read_until(b'\n', &mut buf)?;
        if n == 0 {
            if lines.is_empty() {
                return Ok(None);
            }
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "eof in head"));
        }
        total += n;
        if total > MAX_HEAD {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "head too large"));
        }
        let line = String::from_utf8_lossy(&buf)
            .trim_end_matches(['\r', '\n'])
            .to_string();
        if line.is_empty() {
            if lines.is_empty() {
                continue; // tolerate stray CRLF between requests
            }
            return Ok(Some(lines));
        }
        lines.push(line);
    }
}

type Head = (String, String, String, Vec<(String, String)>);

fn parse_head(lines: &[String]) -> Option<Head> {
    let mut parts = lines.first()?.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    let version = parts.next()?.to_string();
    if parts.next().is_some() || !version.starts_with("HTTP/1.") {
        return None;
    }
    let mut headers = Vec::new();
    for l in &lines[1..] {
        let (k, v) = l.split_once(':')?;
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    Some((method, target, version, headers))
}

fn write_response(w: &mut TcpStream, r: &Response, keep_alive: bool) -> io::Result<()> {
    let mut out = format!("HTTP/1.1 {} {}\r\n", r.status, reason(r.status));
    out.push_str(&format!("Content-Type: {}\r\n", r.content_type));
    out.push_str(&format!("Content-Length: {}\r\n", r.body.len()));
    out.push_str(&format!("Date: {}\r\n", http_date(SystemTime::now())));
    out.push_str(if keep_alive {
        "Connection: keep-alive\r\n"
    } else {
        "Connection: close\r\n"
    });
    for (k, v) in &r.headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(&r.body);
    w.write_all(&bytes)?;
    w.flush()
}

/// A 200 whose chunked body goes on until the client hangs up or the server stops.
fn write_endless(shared: &Shared, w: &mut TcpStream) {
    let head =
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
    if w.write_all(head.as_bytes()).is_err() {
        return;
    }
    let data = vec![b' '; 64 * 1024];
    let chunk = [format!("{:x}\r\n", data.len()).as_bytes(), &data, b"\r\n"].concat();
    while !shared.stop.load(Ordering::SeqCst) {
        if w.write_all(&chunk).is_err() {
            return;
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Request Failed",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        411 => "Length Required",
        415 => "Unsupported Media Type",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

// ---------------------------------------------------------------------------
// Routing
// ---------------------------------------------------------------------------

struct Routed {
    resp: Response,
    while_limited: bool,
    delay: bool,
    /// Stream an endless chunked body instead of `resp.body`.
    endless: bool,
}

fn route(shared: &Shared, req: &Request) -> Routed {
    let (path, query) = match req.path.split_once('?') {
        Some((p, q)) => (p, q),
        None => (req.path.as_str(), ""),
    };
    let mut segs: Vec<String> = path
        .trim_start_matches('/')
        .split('/')
        .map(pct_decode_lossy)
        .collect();
    let mut want_json = req
        .header("accept")
        .is_some_and(|a| a.to_ascii_lowercase().contains("json"));
    if let Some(last) = segs.last_mut()
        && let Some(stripped) = last.strip_suffix(".json")
    {
        *last = stripped.to_string();
        want_json = true;
    }
    let plain = |resp| Routed {
        resp,
        while_limited: false,
        delay: false,
        endless: false,
    };
    if let Some((status, location)) = shared.faults.redirect_for(&req.method) {
        return plain(Response::text(status, "moved\n").header("Location", location));
    }
    if shared.faults.is_endless(&req.method) {
        return Routed {
            endless: true,
            ..plain(Response::new(200))
        };
    }

    if segs.len() < 3 || segs[0] != "Advertisers" {
        return plain(error_message(404, "Not Found", want_json));
    }
    let sid = segs[1].clone();
    let rest: Vec<&str> = segs[2..].iter().map(String::as_str).collect();

    if rest == ["Conversions"] {
        if req.method != "POST" {
            return plain(
                error_message(405, "Method Not Allowed", want_json).header("Allow", "POST"),
            );
        }
        return conversions_post(shared, req, &sid, want_json);
    }

    let known = matches!(
        rest.as_slice(),
        ["APISubmissions"]
            | ["APISubmissions", _]
            | ["FTPFileSubmissions"]
            | ["FTPFileSubmissions", _]
            | ["FTPFileSubmissions", _, "ErrorDetails"]
    );
    if !known {
        return plain(error_message(404, "Not Found", want_json));
    }
    if req.method != "GET" {
        return plain(error_message(405, "Method Not Allowed", want_json).header("Allow", "GET"));
    }
    if !authorized(shared, req) {
        return plain(unauthorized(want_json));
    }
    if sid != shared.sid {
        return plain(error_message(403, "Forbidden", want_json));
    }
    let resp = match rest.as_slice() {
        ["APISubmissions"] => {
            let st = lock(&shared.state);
            let list: Vec<Value> = st
                .submissions
                .iter()
                .map(|s| api_submission_json(shared, &st, s))
                .collect();
            Response::value(200, &json!({ "APISubmission": list }), want_json)
        }
        ["APISubmissions", id] => {
            let st = lock(&shared.state);
            match st.submissions.iter().find(|s| s.batch_id == *id) {
                Some(s) => Response::value(200, &api_submission_json(shared, &st, s), want_json),
                None => error_message(404, "Not Found", want_json),
            }
        }
        ["FTPFileSubmissions"] => ftp_list(shared, query, want_json),
        ["FTPFileSubmissions", id] => {
            let st = lock(&shared.state);
            match st.ftp.iter().find(|s| s.batch_id == *id) {
                Some(s) => Response::value(200, &ftp_json(shared, s), want_json),
                None => error_message(404, "Not Found", want_json),
            }
        }
        ["FTPFileSubmissions", id, "ErrorDetails"] => {
            let st = lock(&shared.state);
            match st.ftp.iter().find(|s| s.batch_id == *id) {
                Some(s) => {
                    let uri = format!(
                        "/Advertisers/{}/FTPFileSubmissions/{}/ErrorDetails",
                        shared.sid, s.batch_id
                    );
                    let items: Vec<Value> = s
                        .errors
                        .iter()
                        .map(|(line, order, reason)| {
                            json!({
                                "Line": line, "CampaignId": "", "ActionTrackerId": "", "MediaPartnerId": "",
                                "EventCode": "", "OrderId": order, "Category": "", "Sku": "",
                                "Status": "ERROR", "Reason": reason, "Uri": uri,
                            })
                        })
                        .collect();
                    Response::value(200, &json!({ "ErrorDetail": items }), want_json)
                }
                None => error_message(404, "Not Found", want_json),
            }
        }
        _ => error_message(404, "Not Found", want_json),
    };
    plain(resp)
}

fn conversions_post(shared: &Shared, req: &Request, sid: &str, want_json: bool) -> Routed {
    let auth_ok = authorized(shared, req);
    let sid_ok = sid == shared.sid;
    let rate = shared.faults.arrive(req.at, auth_ok && sid_ok);
    let while_limited = rate.as_ref().is_some_and(|r| r.limited);
    let resp = conversions_answer(shared, req, auth_ok, sid_ok, rate.as_ref(), want_json);
    let resp = match &rate {
        Some(r) => add_rate_headers(resp, r),
        None => resp,
    };
    Routed {
        resp,
        while_limited,
        delay: true,
        endless: false,
    }
}

fn conversions_answer(
    shared: &Shared,
    req: &Request,
    auth_ok: bool,
    sid_ok: bool,
    rate: Option<&RateInfo>,
    want_json: bool,
) -> Response {
    if !auth_ok {
        return unauthorized(want_json);
    }
    if !sid_ok {
        return error_message(403, "Forbidden", want_json);
    }
    if let Some(r) = rate.filter(|r| r.limited) {
        let mut resp = error_message(429, "Too many requests", want_json);
        if !r.omit_retry_after {
            resp = resp.header("Retry-After", secs_until(r.end).to_string());
        }
        return resp;
    }
    if let Some(status) = shared.faults.take_server_error() {
        return error_message(status, reason(status), want_json);
    }
    if !is_form(req.header("content-type")) {
        return error_message(
            415,
            "Unsupported Media Type: expected application/x-www-form-urlencoded",
            want_json,
        );
    }
    let form = match parse_form(&req.body, true) {
        Ok(f) => f,
        Err(e) => return lower_errors(&[("Body", e)], want_json),
    };
    let event_id = ["ActionTrackerId", "EventTypeId", "EventTypeCode"];
    let present = |k: &str| form_get(&form, k).is_some_and(|v| !v.trim().is_empty());
    let mut missing: Vec<(&str, String)> = ["CampaignId", "EventDate", "OrderId"]
        .into_iter()
        .filter(|k| !present(k))
        .map(|k| (k, format!("{k} is required")))
        .collect();
    if !event_id.iter().any(|k| present(k)) {
        missing.push((
            "EventTypeId",
            "One of ActionTrackerId, EventTypeId or EventTypeCode is required".into(),
        ));
    }
    if !missing.is_empty() {
        return lower_errors(&missing, want_json);
    }
    let order_id = form_get(&form, "OrderId").unwrap_or("").to_string();
    if let Some((field, message, shape)) = shared.faults.field_error(&order_id) {
        return match shape {
            ErrorShape::Lower => lower_errors(&[(field.as_str(), message)], want_json),
            ErrorShape::Upper => Response::value(
                400,
                &json!({"Status": "ERROR", "Message": "Validation Failed",
                        "Errors": [{"Field": field, "Message": message}]}),
                want_json,
            ),
        };
    }
    let batch_id = format!("A-{}", shared.next_id());
    let queued_uri = format!(
        "{}/Advertisers/{}/APISubmissions/{}",
        shared.faults.prefix(),
        shared.sid,
        batch_id
    );
    lock(&shared.state).submissions.push(ApiSubmission {
        batch_id,
        form,
        payload: String::from_utf8_lossy(&req.body).into_owned(),
        submitted: SystemTime::now(),
    });
    Response::value(
        200,
        &json!({"Status": "QUEUED", "QueuedUri": queued_uri}),
        want_json,
    )
}

fn add_rate_headers(mut resp: Response, r: &RateInfo) -> Response {
    if r.omit_rate_headers {
        return resp;
    }
    resp.headers
        .push(("X-RateLimit-Limit".into(), r.limit.to_string()));
    resp.headers
        .push(("X-RateLimit-Remaining".into(), r.remaining.to_string()));
    match r.style {
        ResetStyle::Epoch => resp
            .headers
            .push(("X-RateLimit-Reset".into(), epoch_ceil(r.end).to_string())),
        ResetStyle::Delta => resp
            .headers
            .push(("X-RateLimit-Reset".into(), secs_until(r.end).to_string())),
        ResetStyle::None => {}
    }
    resp
}

/// Whole seconds until `end`, rounded up, at least 1.
fn secs_until(end: Instant) -> u64 {
    let d = end.saturating_duration_since(Instant::now());
    let s = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    s.max(1)
}

/// Epoch seconds of `end` (wall clock), rounded up.
fn epoch_ceil(end: Instant) -> u64 {
    let wall = SystemTime::now() + end.saturating_duration_since(Instant::now());
    let d = wall.duration_since(UNIX_EPOCH).unwrap_or_default();
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

fn authorized(shared: &Shared, req: &Request) -> bool {
    let Some(h) = req.header("authorization") else {
        return false;
    };
    let Some((scheme, cred)) = h.trim().split_once(' ') else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return false;
    }
    let Some(raw) = base64::decode(cred.trim()) else {
        return false;
    };
    let Ok(s) = String::from_utf8(raw) else {
        return false;
    };
    match s.split_once(':') {
        Some((u, p)) => u == shared.sid && p == shared.token,
        None => false,
    }
}

fn unauthorized(want_json: bool) -> Response {
    error_message(401, "Authentication failed", want_json)
        .header("WWW-Authenticate", "Basic realm=\"impact.com\"")
}

fn error_message(status: u16, message: &str, want_json: bool) -> Response {
    Response::value(
        status,
        &json!({"Status": "ERROR", "Message": message}),
        want_json,
    )
}

fn lower_errors(errs: &[(&str, String)], want_json: bool) -> Response {
    let list: Vec<Value> = errs
        .iter()
        .map(|(f, m)| json!({"field": f, "level": "ERROR", "message": m}))
        .collect();
    Response::value(400, &json!({"Status": "ERROR", "errors": list}), want_json)
}

fn api_submission_json(shared: &Shared, st: &State, s: &ApiSubmission) -> Value {
    let f = |k: &str| form_get(&s.form, k).unwrap_or("").to_string();
    let first = |ks: &[&str]| {
        ks.iter()
            .find_map(|k| form_get(&s.form, k))
            .unwrap_or("")
            .to_string()
    };
    let order_id = f("OrderId");
    let (etype, ereason) = st.api_results.get(&order_id).cloned().unwrap_or_default();
    json!({
        "BatchId": s.batch_id,
        "AccountId": ACCOUNT_ID,
        "SubmissionDate": iso(s.submitted),
        "CampaignId": f("CampaignId"),
        "ActionTrackerId": first(&["EventTypeId", "ActionTrackerId"]),
        "MediaPartnerId": first(&["MediaPartnerId", "MediaId"]),
        "EventCode": f("EventTypeCode"),
        "OrderId": order_id,
        "Payload": s.payload,
        "Type": "Conversion",
        "Status": "Complete",
        "CompletionDate": iso(s.submitted + Duration::from_secs(1)),
        "ErrorType": etype,
        "ErrorReason": ereason,
        "Uri": format!("/Advertisers/{}/APISubmissions/{}", shared.sid, s.batch_id),
    })
}

fn ftp_json(shared: &Shared, s: &FtpSubmission) -> Value {
    let uri = format!(
        "/Advertisers/{}/FTPFileSubmissions/{}",
        shared.sid, s.batch_id
    );
    json!({
        "BatchId": s.batch_id,
        "AccountId": ACCOUNT_ID,
        "SubmissionDate": iso(s.submitted),
        "FileName": s.file_name,
        "Type": "Conversion",
        "Status": "Complete",
        "TotalRecords": s.total_records,
        "TotalErrors": s.errors.len(),
        "CompletionDate": iso(ftp_completed(s)),
        "ErrorsUri": format!("{uri}/ErrorDetails"),
        "Uri": uri,
    })
}

fn ftp_completed(s: &FtpSubmission) -> SystemTime {
    s.submitted + Duration::from_secs(60)
}

fn ftp_list(shared: &Shared, query: &str, want_json: bool) -> Response {
    let params = parse_form(query.as_bytes(), false).unwrap_or_default();
    let mut bounds: Vec<(&str, i64)> = Vec::new();
    for key in [
        "SubmissionDateStart",
        "SubmissionDateEnd",
        "CompletedDateStart",
        "CompletedDateEnd",
    ] {
        if let Some(v) = form_get(&params, key) {
            match parse_iso(v) {
                Some(t) => bounds.push((key, t)),
                None => return lower_errors(&[(key, format!("Invalid date ({v})"))], want_json),
            }
        }
    }
    let st = lock(&shared.state);
    let list: Vec<Value> = st
        .ftp
        .iter()
        .filter(|s| {
            let sub = epoch_secs(s.submitted);
            let done = epoch_secs(ftp_completed(s));
            bounds.iter().all(|(k, t)| match *k {
                "SubmissionDateStart" => sub >= *t,
                "SubmissionDateEnd" => sub <= *t,
                "CompletedDateStart" => done >= *t,
                _ => done <= *t,
            })
        })
        .map(|s| ftp_json(shared, s))
        .collect();
    Response::value(200, &json!({ "FTPFileSubmissions": list }), want_json)
}

// ---------------------------------------------------------------------------
// Encoding helpers
// ---------------------------------------------------------------------------

fn is_form(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|ct| {
        ct.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .eq_ignore_ascii_case("application/x-www-form-urlencoded")
    })
}

/// application/x-www-form-urlencoded. strict: bad %-escapes or non-UTF-8 are errors;
/// otherwise they are kept literally / replaced lossily.
fn parse_form(body: &[u8], strict: bool) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for part in body.split(|&b| b == b'&') {
        if part.is_empty() {
            continue;
        }
        let (k, v) = match part.iter().position(|&b| b == b'=') {
            Some(i) => (&part[..i], &part[i + 1..]),
            None => (part, &b""[..]),
        };
        out.push((form_decode(k, strict)?, form_decode(v, strict)?));
    }
    Ok(out)
}

fn form_decode(s: &[u8], strict: bool) -> Result<String, String> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = s
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok());
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None if strict => {
                        return Err(format!(
                            "Invalid percent-encoding in form body near byte {i}"
                        ));
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    if strict {
        String::from_utf8(out).map_err(|_| "Form body is not valid UTF-8".to_string())
    } else {
        Ok(String::from_utf8_lossy(&out).into_owned())
    }
}

fn pct_decode_lossy(s: &str) -> String {
    // Path segments: '+' is literal.
    form_decode(s.replace('+', "%2B").as_bytes(), false).unwrap_or_else(|_| s.to_string())
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Generic JSON -> `<ImpactRadiusResponse>` rendering (arrays: `<Errors><Error>..</Error></Errors>`).
fn to_xml(v: &Value) -> String {
    let mut out =
        String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ImpactRadiusResponse>");
    if let Value::Object(m) = v {
        xml_children(&mut out, m);
    }
    out.push_str("</ImpactRadiusResponse>\n");
    out
}

fn xml_children(out: &mut String, m: &Map<String, Value>) {
    for (k, v) in m {
        xml_element(out, k, v);
    }
}

fn xml_element(out: &mut String, name: &str, v: &Value) {
    match v {
        Value::Null => out.push_str(&format!("<{name}/>")),
        Value::String(s) => out.push_str(&format!("<{name}>{}</{name}>", xml_escape(s))),
        Value::Array(items) => {
            let item = name.strip_suffix('s').unwrap_or(name);
            out.push_str(&format!("<{name}>"));
            for it in items {
                xml_element(out, item, it);
            }
            out.push_str(&format!("</{name}>"));
        }
        Value::Object(m) => {
            out.push_str(&format!("<{name}>"));
            xml_children(out, m);
            out.push_str(&format!("</{name}>"));
        }
        other => out.push_str(&format!("<{name}>{other}</{name}>")),
    }
}

// ---------------------------------------------------------------------------
// Dates (UTC, std only)
// ---------------------------------------------------------------------------

fn epoch_secs(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}

fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// "2024-05-01T12:34:56+00:00"
fn iso(t: SystemTime) -> String {
    let s = epoch_secs(t);
    let (y, m, d) = civil_from_days(s.div_euclid(86_400));
    let r = s.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}+00:00",
        r / 3600,
        r / 60 % 60,
        r % 60
    )
}

fn http_date(t: SystemTime) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let s = epoch_secs(t);
    let days = s.div_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let r = s.rem_euclid(86_400);
    format!(
        "{}, {d:02} {} {y:04} {:02}:{:02}:{:02} GMT",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[(m - 1) as usize],
        r / 3600,
        r / 60 % 60,
        r % 60
    )
}

/// "YYYY-MM-DD" or "YYYY-MM-DD[T ]HH:MM[:SS[.fff]][Z|±HH[:]MM]" -> epoch seconds.
/// A space in place of '+' before the offset is accepted (unencoded '+' in a query).
fn parse_iso(s: &str) -> Option<i64> {
    let s = s.trim_start();
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        if t.bytes().all(|c| c.is_ascii_digit()) {
            t.parse().ok()
        } else {
            None
        }
    };
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    let days = days_from_civil(y, mo as u32, d as u32);
    let mut secs = days * 86_400;
    if b.len() == 10 {
        return Some(secs);
    }
    if !matches!(b[10], b'T' | b't' | b' ') || b.len() < 16 || b[13] != b':' {
        return None;
    }
    let (h, mi) = (num(11..13)?, num(14..16)?);
    let mut i = 16;
    let mut sec = 0;
    if b.get(i) == Some(&b':') {
        sec = num(17..19)?;
        i = 19;
        if b.get(i) == Some(&b'.') {
            i += 1;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
        }
    }
    if h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    secs += h * 3600 + mi * 60 + sec;
    let rest = s[i..].trim_end();
    let offset = match rest {
        "" | "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes()[0] {
                b'+' | b' ' => 1,
                b'-' => -1,
                _ => return None,
            };
            let digits: String = rest[1..].chars().filter(|c| *c != ':').collect();
            if digits.len() != 4 || !digits.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let oh: i64 = digits[..2].parse().ok()?;
            let om: i64 = digits[2..].parse().ok()?;
            sign * (oh * 3600 + om * 60)
        }
    };
    Some(secs - offset)
}
