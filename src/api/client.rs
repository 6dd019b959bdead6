//! One Conversions API request, and what its response means: queued, refused (field errors,
//! authentication), or worth retrying (429, 5xx, network), with the wait the server asks for.

use crate::secret::Secret;
use reqwest::Url;
use std::io::Read;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How a request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// 200 with `Status: QUEUED`.
    Queued {
        /// `QueuedUri`.
        uri: String,
    },
    /// Refused for good (400, 401, 403, …), with the field errors the body names.
    Refused {
        /// HTTP status (0: no response, the server's certificate was not accepted).
        status: u16,
        /// What the server said.
        message: String,
        /// (field, message) pairs.
        fields: Vec<(String, String)>,
    },
    /// Worth retrying (429, 5xx, network): after `wait` when the server says how long.
    Retry {
        /// HTTP status (0: no response).
        status: u16,
        /// What happened.
        message: String,
        /// The wait the server asked for.
        wait: Option<Duration>,
    },
}

/// What the rate-limit headers of a response say.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// `X-RateLimit-Remaining`.
    pub remaining: Option<u64>,
    /// Time until the window resets (`X-RateLimit-Reset`, epoch or delta).
    pub reset: Option<Duration>,
}

/// The most of a response body read. impact.com's answers are a few KB; a server sending
/// more is cut off here rather than filling memory.
pub const MAX_BODY: u64 = 1024 * 1024;

/// What [`read_body`] says when an answer is longer than [`MAX_BODY`].
pub const TOO_LONG: &str = "the server's answer exceeded 1 MiB";

/// A client for one account.
pub struct Client {
    http: reqwest::blocking::Client,
    base: Url,
    url: String,
    account_sid: String,
    token: Secret,
}

impl Client {
    /// A client posting to `{base}/Advertisers/{account_sid}/Conversions`. `base` is a
    /// checked base URL ([`check_base_url`]).
    pub fn new(
        base: &str,
        account_sid: &str,
        token: Secret,
        timeout: Duration,
    ) -> anyhow::Result<Client> {
        let http = reqwest::blocking::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(30)))
            .user_agent(concat!("convsubmit/", env!("CARGO_PKG_VERSION")))
            // A redirect would take the credentials and the orders to wherever the server
            // says: it is reported, never followed.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Client {
            http,
            base: check_base_url(base).map_err(anyhow::Error::msg)?,
            url: conversions_url(base, account_sid),
            account_sid: account_sid.to_string(),
            token,
        })
    }

    /// The URL of `uri`, a path of the API or an absolute URL the server gave (a
    /// `QueuedUri`, an `ErrorsUri`). `Err` names the origin when it is not the configured
    /// server's: the credentials go to no other.
    pub fn resolve(&self, uri: &str) -> Result<Url, String> {
        resolve(&self.base, uri)
    }

    /// GETs `url` (from [`Client::resolve`]), for `status`, returning the JSON body; the
    /// whole request, answer included, takes at most `timeout`.
    pub fn get_json(&self, url: Url, timeout: Duration) -> Result<serde_json::Value, Reply> {
        let resp = self
            .http
            .get(url)
            .timeout(timeout)
            .basic_auth(&self.account_sid, Some(self.token.expose()))
            .header("Accept", "application/json")
            .send()
            .map_err(network)?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        if let Some(refused) = redirect(status, &headers, &|t| self.scrub(t)) {
            return Err(refused);
        }
        let body = read_body(resp, status)?;
        read_get(status, &headers, &body, now_epoch()).map_err(|e| self.scrub_outcome(e))
    }

    /// Posts one conversion.
    pub fn post(&self, body: String) -> (Reply, Limits) {
        let sent = self
            .http
            .post(&self.url)
            .basic_auth(&self.account_sid, Some(self.token.expose()))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("Accept", "application/json")
            .body(body)
            .send();
        let resp = match sent {
            Ok(r) => r,
            Err(e) => return (network(e), Limits::default()),
        };
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        if let Some(refused) = redirect(status, &headers, &|t| self.scrub(t)) {
            return (refused, limits(&headers, now_epoch()));
        }
        let text = match read_body(resp, status) {
            Ok(t) => t,
            Err(e) => return (e, limits(&headers, now_epoch())),
        };
        let (outcome, limits) = read_post(status, &headers, &text, now_epoch());
        (self.scrub_outcome(outcome), limits)
    }

    /// `outcome` with this client's credentials cut out of the server's text: a server
    /// may echo what it received, and the message is printed.
    fn scrub_outcome(&self, outcome: Reply) -> Reply {
        match outcome {
            Reply::Refused {
                status,
                message,
                fields,
            } => Reply::Refused {
                status,
                message: self.scrub(&message),
                fields: fields
                    .into_iter()
                    .map(|(f, m)| (self.scrub(&f), self.scrub(&m)))
                    .collect(),
            },
            Reply::Retry {
                status,
                message,
                wait,
            } => Reply::Retry {
                status,
                message: self.scrub(&message),
                wait,
            },
            queued => queued,
        }
    }

    /// The server's text made safe to print: the credentials cut out first, then control
    /// characters escaped and the text shortened (so no part of a secret is left).
    fn scrub(&self, text: &str) -> String {
        // The token and `base64(sid:token)` are known to the redaction step (a `Secret`).
        shorten(&crate::redact::redact(text))
    }
}

/// Why `text` cannot be the API's base URL, or the URL. A base is `http://` or `https://`
/// with a host, perhaps a path, and nothing else: no user or password (secrets do not go in
/// the config), no query or fragment (the API's paths are appended to it).
pub fn check_base_url(text: &str) -> Result<Url, String> {
    let url = Url::parse(text).map_err(|e| format!("not a URL ({e})"))?;
    if url.scheme() != "https" && url.scheme() != "http" {
        return Err(format!(
            "the scheme is {}: only https:// (or http:// for a local test rig) is possible",
            url.scheme()
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("it names no host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(
            "it holds a user name or password: the credentials go in account_sid and the auth token"
                .into(),
        );
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(
            "it has a query (?…) or fragment (#…): the API's paths could not be put after it"
                .into(),
        );
    }
    Ok(url)
}

/// See [`Client::resolve`]. A relative `uri` goes after the base, as the Conversions path
/// does; an absolute one must have the base's scheme, host and port. Pure.
pub fn resolve(base: &Url, uri: &str) -> Result<Url, String> {
    let uri = uri.trim();
    let url = match Url::parse(uri) {
        Ok(absolute) => absolute,
        Err(_) => {
            let slash = if uri.starts_with('/') { "" } else { "/" };
            let joined = format!("{}{slash}{uri}", base.as_str().trim_end_matches('/'));
            Url::parse(&joined).map_err(|e| format!("{} ({e})", shorten(uri)))?
        }
    };
    // Checked for the joined form too: nothing after the base can change its origin.
    if url.origin() != base.origin() {
        return Err(match url.origin() {
            o if o.is_tuple() => o.ascii_serialization(),
            _ => shorten(uri),
        });
    }
    Ok(url)
}

/// The body of `resp`, read up to [`MAX_BODY`]: longer is a temporary failure (a proxy's
/// error page, or a hostile server), never an unbounded read.
pub fn read_body(resp: impl Read, status: u16) -> Result<String, Reply> {
    let mut bytes = Vec::new();
    let read = resp.take(MAX_BODY + 1).read_to_end(&mut bytes);
    let fail = |message: String| Reply::Retry {
        status,
        message,
        wait: None,
    };
    if bytes.len() as u64 > MAX_BODY {
        return Err(fail(TOO_LONG.to_string()));
    }
    if let Err(e) = read {
        return Err(fail(format!(
            "cannot read the server's answer: {}",
            crate::deliver::error_chain(&e)
        )));
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// What the response to a GET (`status`) means: its JSON body when 200, else why not.
/// `now` is the current epoch second (for `X-RateLimit-Reset`). Pure: any status, headers
/// and body give an answer, never a panic.
pub fn read_get(
    status: u16,
    headers: &reqwest::header::HeaderMap,
    body: &str,
    now: u64,
) -> Result<serde_json::Value, Reply> {
    if let Some(refused) = redirect(status, headers, &shorten) {
        return Err(refused);
    }
    if status == 200 {
        return serde_json::from_str(body).map_err(|e| Reply::Retry {
            status,
            message: format!("the response is not JSON: {e}"),
            wait: None,
        });
    }
    Err(classify(
        status,
        body,
        limits(headers, now),
        retry_after(headers),
    ))
}

/// What the response to a POST of one conversion means, and its rate-limit headers.
/// `now` is the current epoch second. Pure, like [`read_get`].
pub fn read_post(
    status: u16,
    headers: &reqwest::header::HeaderMap,
    body: &str,
    now: u64,
) -> (Reply, Limits) {
    let limits = limits(headers, now);
    if let Some(refused) = redirect(status, headers, &shorten) {
        return (refused, limits);
    }
    if status == 200 || status == 201 {
        let json: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
        if let Some(uri) = field(&json, "QueuedUri").and_then(|v| v.as_str()) {
            return (
                Reply::Queued {
                    uri: uri.to_string(),
                },
                limits,
            );
        }
        return (
            Reply::Retry {
                status,
                // Shortened by the client, once the credentials are cut out.
                message: format!("no QueuedUri in the response: {}", body.trim()),
                wait: None,
            },
            limits,
        );
    }
    (classify(status, body, limits, retry_after(headers)), limits)
}

/// `{base}/Advertisers/{sid}/Conversions`.
pub fn conversions_url(base: &str, account_sid: &str) -> String {
    format!(
        "{}/Advertisers/{account_sid}/Conversions",
        base.trim_end_matches('/')
    )
}

fn network(e: reqwest::Error) -> Reply {
    // reqwest's message names the URL, never the credentials; its causes say what broke.
    let message = crate::deliver::error_chain(&e.without_url());
    if crate::deliver::certificate_rejected(&message) {
        // Every request would meet the same certificate: refused, not retried.
        return Reply::Refused {
            status: 0,
            message: format!("the server's TLS certificate was not accepted: {message}"),
            fields: vec![],
        };
    }
    Reply::Retry {
        status: 0,
        message,
        wait: None,
    }
}

/// A 3xx answer, refused: following it would send the credentials (and a POST's orders)
/// wherever the server names, and every request would meet it again.
/// `scrub` makes the Location safe to print (it shortens it after cutting the secrets out).
fn redirect(
    status: u16,
    headers: &reqwest::header::HeaderMap,
    scrub: &dyn Fn(&str) -> String,
) -> Option<Reply> {
    if !is_redirect(status) {
        return None;
    }
    let location = headers
        .get("location")
        .map(|v| scrub(&String::from_utf8_lossy(v.as_bytes())))
        .filter(|l| !l.is_empty());
    let message = match location {
        Some(l) => format!(
            "HTTP {status}: a redirect to {l}, not followed (convsubmit never follows redirects)"
        ),
        None => format!(
            "HTTP {status}: a redirect (with no Location), not followed (convsubmit never follows redirects)"
        ),
    };
    Some(Reply::Refused {
        status,
        message,
        fields: vec![],
    })
}

/// A redirect (any 3xx), as [`Reply::Refused`] reports it.
pub fn is_redirect(status: u16) -> bool {
    (300..400).contains(&status)
}

fn classify(status: u16, body: &str, limits: Limits, retry_after: Option<Duration>) -> Reply {
    if status == 429 || status >= 500 {
        return Reply::Retry {
            status,
            message: format!("HTTP {status}"),
            wait: retry_after.or(limits.reset),
        };
    }
    let json: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    let message = field(&json, "Message")
        .and_then(|v| v.as_str())
        .map(str::to_string)
        .unwrap_or_else(|| format!("HTTP {status}"));
    Reply::Refused {
        status,
        message,
        fields: field_errors(&json),
    }
}

/// A JSON object's member, by name in any letter case.
fn field<'a>(v: &'a serde_json::Value, name: &str) -> Option<&'a serde_json::Value> {
    v.as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// Both documented error shapes: `{"errors":[{"field","message"}]}` and
/// `{"Errors":[{"Field","Message"}]}`, keys in any case.
pub fn field_errors(json: &serde_json::Value) -> Vec<(String, String)> {
    let Some(list) = field(json, "errors").and_then(|v| v.as_array()) else {
        return vec![];
    };
    list.iter()
        .map(|e| {
            let text = |k| {
                field(e, k)
                    .and_then(|v| v.as_str())
                    .unwrap_or("")
                    .to_string()
            };
            (text("field"), text("message"))
        })
        .collect()
}

fn header_u64(headers: &reqwest::header::HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// `Retry-After` in seconds.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    header_u64(headers, "retry-after").map(Duration::from_secs)
}

/// `X-RateLimit-Remaining`, and `X-RateLimit-Reset` read as epoch seconds when above 10^9,
/// else as seconds from now (impact.com documents both readings).
fn limits(headers: &reqwest::header::HeaderMap, now: u64) -> Limits {
    let reset = header_u64(headers, "x-ratelimit-reset").map(|v| reset_wait(v, now));
    Limits {
        remaining: header_u64(headers, "x-ratelimit-remaining"),
        reset,
    }
}

/// The wait a reset value asks for, given the current epoch second.
pub fn reset_wait(value: u64, now: u64) -> Duration {
    if value > 1_000_000_000 {
        Duration::from_secs(value.saturating_sub(now))
    } else {
        Duration::from_secs(value)
    }
}

fn now_epoch() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn shorten(s: &str) -> String {
    crate::escape::for_display(s.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_error_shapes_in_any_case() {
        let lower: serde_json::Value = serde_json::from_str(
            r#"{"Status":"ERROR","errors":[{"field":"Margin","level":"ERROR","message":"Invalid numeric format (fifty)"}]}"#,
        )
        .unwrap();
        assert_eq!(
            field_errors(&lower),
            [(
                "Margin".to_string(),
                "Invalid numeric format (fifty)".to_string()
            )]
        );
        let upper: serde_json::Value = serde_json::from_str(
            r#"{"Status":"ERROR","Message":"Validation Failed","Errors":[{"Field":"AccountId","Message":"Not a numeric value"}]}"#,
        )
        .unwrap();
        assert_eq!(
            field_errors(&upper),
            [("AccountId".to_string(), "Not a numeric value".to_string())]
        );
    }

    #[test]
    fn reset_is_epoch_above_a_billion() {
        assert_eq!(
            reset_wait(1_800_000_030, 1_800_000_000),
            Duration::from_secs(30)
        );
        assert_eq!(reset_wait(1_700_000_000, 1_800_000_000), Duration::ZERO);
        assert_eq!(reset_wait(42, 1_800_000_000), Duration::from_secs(42));
    }

    #[test]
    fn a_base_url_is_http_or_https_with_a_host_and_nothing_after_its_path() {
        for good in [
            "https://api.impact.com",
            "http://127.0.0.1:8080",
            "https://proxy.example/impact",
        ] {
            assert!(check_base_url(good).is_ok(), "{good}");
        }
        for (bad, why) in [
            ("ftp://host", "scheme is ftp"),
            ("not a url", "not a URL"),
            ("https://", "not a URL"),
            ("mailto:ops@acme.example", "scheme is mailto"),
            ("https://api.impact.com/?x=1", "query"),
            ("https://api.impact.com/#x", "fragment"),
            ("https://acme:pw@api.impact.com", "password"),
            ("file:///etc/passwd", "scheme is file"),
        ] {
            let e = check_base_url(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
            assert!(!e.contains("pw@"), "{bad}: {e}");
        }
    }

    #[test]
    fn a_uri_resolves_on_the_base_server_only() {
        let base = check_base_url("http://127.0.0.1:8080").unwrap();
        let same = "http://127.0.0.1:8080/Advertisers/IR1/APISubmissions/A-1";
        for uri in [
            "/Advertisers/IR1/APISubmissions/A-1",
            "Advertisers/IR1/APISubmissions/A-1",
            same,
            " http://127.0.0.1:8080/Advertisers/IR1/APISubmissions/A-1 ",
        ] {
            assert_eq!(resolve(&base, uri).unwrap().as_str(), same, "{uri}");
        }
        // A path never changes the host, however it is spelled.
        for uri in [
            "//evil.example/x",
            "@evil.example/x",
            ":9/x",
            "\\\\evil.example/x",
        ] {
            assert_eq!(
                resolve(&base, uri).unwrap().origin(),
                base.origin(),
                "{uri}"
            );
        }
        for (uri, named) in [
            ("https://127.0.0.1:8080/x", "https://127.0.0.1:8080"),
            ("http://127.0.0.1:8081/x", "http://127.0.0.1:8081"),
            ("http://evil.example/x", "http://evil.example"),
            ("javascript:alert(1)", "javascript:alert(1)"),
        ] {
            assert_eq!(resolve(&base, uri).unwrap_err(), named, "{uri}");
        }
        // A base with a path keeps it before the API's paths; the default port is the same.
        let proxy = check_base_url("https://proxy.example/impact").unwrap();
        assert_eq!(
            resolve(&proxy, "/Advertisers/IR1").unwrap().as_str(),
            "https://proxy.example/impact/Advertisers/IR1"
        );
        assert!(resolve(&proxy, "https://proxy.example:443/Advertisers/IR1").is_ok());
    }

    #[test]
    fn a_body_is_read_up_to_1_mib() {
        let exact = vec![b'x'; MAX_BODY as usize];
        assert_eq!(read_body(&exact[..], 200).unwrap().len(), exact.len());
        let endless = std::io::repeat(b' ');
        assert!(matches!(
            read_body(endless, 200),
            Err(Reply::Retry { status: 200, message, .. }) if message == TOO_LONG
        ));
    }

    #[test]
    fn the_credentials_are_cut_out_of_a_reply() {
        let token = "t+k/=1-client-test";
        let client = Client::new(
            "https://api.example",
            "IR1",
            Secret::new(token),
            std::time::Duration::from_secs(1),
        )
        .unwrap();
        let basic = crate::digest::base64(format!("IR1:{token}").as_bytes(), true);
        let form = crate::api::form::encode_value(&basic);
        let text = format!("got {token} and Basic {basic} and {form}");
        let clean = client.scrub(&text);
        assert!(!clean.contains(token) && !clean.contains(&basic) && !clean.contains(&form));
        assert!(clean.starts_with("got *** and Basic "), "{clean}");
    }

    #[test]
    fn a_redirect_is_refused_naming_its_location() {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("location", "https://elsewhere.example/x".parse().unwrap());
        for status in [301, 302, 303, 307, 308] {
            let (outcome, _) = read_post(status, &headers, "", 0);
            assert!(
                matches!(&outcome, Reply::Refused { status: s, message, .. }
                    if *s == status && message.contains("https://elsewhere.example/x")),
                "{outcome:?}"
            );
            assert!(matches!(
                read_get(status, &headers, "", 0),
                Err(Reply::Refused { .. })
            ));
        }
    }

    #[test]
    fn statuses_are_classified() {
        let l = Limits::default();
        assert!(
            matches!(classify(429, "", l, Some(Duration::from_secs(3))), Reply::Retry { wait: Some(w), .. } if w == Duration::from_secs(3))
        );
        assert!(matches!(classify(503, "", l, None), Reply::Retry { .. }));
        assert!(matches!(
            classify(401, "{}", l, None),
            Reply::Refused { status: 401, .. }
        ));
        assert!(matches!(
            classify(400, "{}", l, None),
            Reply::Refused { status: 400, .. }
        ));
    }
}
