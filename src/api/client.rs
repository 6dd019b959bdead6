//! One Conversions API request, and what its response means: queued, refused (field errors,
//! authentication), or worth retrying (429, 5xx, network), with the wait the server asks for.

use crate::secret::Secret;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How a request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
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

/// A client for one account.
pub struct Client {
    http: reqwest::blocking::Client,
    url: String,
    account_sid: String,
    token: Secret,
}

impl Client {
    /// A client posting to `{base}/Advertisers/{account_sid}/Conversions`.
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
            .build()?;
        Ok(Client {
            http,
            url: conversions_url(base, account_sid),
            account_sid: account_sid.to_string(),
            token,
        })
    }

    /// GETs a path of the API (for `status`), returning the JSON body.
    pub fn get_json(&self, base: &str, path: &str) -> Result<serde_json::Value, Outcome> {
        let url = format!("{}{path}", base.trim_end_matches('/'));
        let resp = self
            .http
            .get(&url)
            .basic_auth(&self.account_sid, Some(self.token.expose()))
            .header("Accept", "application/json")
            .send()
            .map_err(network)?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.text().unwrap_or_default();
        read_get(status, &headers, &body, now_epoch())
    }

    /// Posts one conversion.
    pub fn post(&self, body: String) -> (Outcome, Limits) {
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
        let text = resp.text().unwrap_or_default();
        read_post(status, &headers, &text, now_epoch())
    }
}

/// What the response to a GET (`status`) means: its JSON body when 200, else why not.
/// `now` is the current epoch second (for `X-RateLimit-Reset`). Pure: any status, headers
/// and body give an answer, never a panic.
pub fn read_get(
    status: u16,
    headers: &reqwest::header::HeaderMap,
    body: &str,
    now: u64,
) -> Result<serde_json::Value, Outcome> {
    if status == 200 {
        return serde_json::from_str(body).map_err(|e| Outcome::Retry {
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
) -> (Outcome, Limits) {
    let limits = limits(headers, now);
    if status == 200 || status == 201 {
        let json: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
        if let Some(uri) = field(&json, "QueuedUri").and_then(|v| v.as_str()) {
            return (
                Outcome::Queued {
                    uri: uri.to_string(),
                },
                limits,
            );
        }
        return (
            Outcome::Retry {
                status,
                message: format!("no QueuedUri in the response: {}", shorten(body)),
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

fn network(e: reqwest::Error) -> Outcome {
    // reqwest's message names the URL, never the credentials; its causes say what broke.
    let message = crate::deliver::error_chain(&e.without_url());
    if crate::deliver::certificate_rejected(&message) {
        // Every request would meet the same certificate: refused, not retried.
        return Outcome::Refused {
            status: 0,
            message: format!("the server's TLS certificate was not accepted: {message}"),
            fields: vec![],
        };
    }
    Outcome::Retry {
        status: 0,
        message,
        wait: None,
    }
}

fn classify(status: u16, body: &str, limits: Limits, retry_after: Option<Duration>) -> Outcome {
    if status == 429 || status >= 500 {
        return Outcome::Retry {
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
    Outcome::Refused {
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
    fn statuses_are_classified() {
        let l = Limits::default();
        assert!(
            matches!(classify(429, "", l, Some(Duration::from_secs(3))), Outcome::Retry { wait: Some(w), .. } if w == Duration::from_secs(3))
        );
        assert!(matches!(classify(503, "", l, None), Outcome::Retry { .. }));
        assert!(matches!(
            classify(401, "{}", l, None),
            Outcome::Refused { status: 401, .. }
        ));
        assert!(matches!(
            classify(400, "{}", l, None),
            Outcome::Refused { status: 400, .. }
        ));
    }
}
