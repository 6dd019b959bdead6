//! The questions `status` asks impact.com and what its answers say: an API conversion's
//! status and error, a file submission's status and its error details mapped back to input
//! lines. A URI naming another server is never asked (the credentials go nowhere else).

use crate::api::client::{Client, Reply};
use crate::ledger::{Delivery, QueuedConversion};
use crate::push::retry::Policy;
use crate::push::watchdog::io_timeout;
use crate::split::LineMap;
use serde::Serialize;
use serde_json::Value;
use std::collections::HashSet;

/// One error impact.com reports, placed in the input.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// The input file (the item's).
    #[serde(skip)]
    pub input: String,
    /// The input line (`None` when unknown).
    pub line: Option<u64>,
    /// What was sent: a file name and its line, or `API`.
    pub sent_as: String,
    /// The OrderId, when impact.com names it.
    pub order_id: Option<String>,
    /// impact.com's reason.
    pub reason: String,
}

/// One thing pushed and what impact.com says of it.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    /// `api` or `file`.
    pub kind: &'static str,
    /// The input.
    pub input: String,
    /// The file name sent, or the OrderId.
    pub name: String,
    /// impact.com's status (`Queued`, `In Progress`, `Complete`), or why there is none
    /// (`not found`, `not processed yet`, `not asked …`).
    pub status: String,
    /// Errors, at input lines.
    pub errors: Vec<Finding>,
}

/// What the questions found.
#[derive(Debug, Default)]
pub struct Found {
    /// What was asked about, in ledger order.
    pub items: Vec<Item>,
    /// URIs the server gave that name another server: reported, never asked.
    pub foreign: Vec<String>,
    /// Why impact.com could not be asked (the questions stop at the first).
    pub failure: Option<Reply>,
}

/// Why a question has no answer.
pub enum NoAnswer {
    /// The URI names another server (this origin): not asked.
    Foreign(String),
    /// impact.com could not be asked, or refused.
    Failed(Reply),
}

/// Asks impact.com within the run's time.
pub struct Asker<'a> {
    /// The client for the `[api]` account.
    pub client: &'a Client,
    /// The account SID, for the API's paths.
    pub account_sid: &'a str,
    /// `--max-time`: no request waits past its deadline.
    pub policy: &'a Policy,
}

impl Asker<'_> {
    /// GETs `uri`, a path of the API or a URI the server gave, waiting no longer than the
    /// time left (a request after the deadline is a temporary failure, not sent).
    fn ask(&self, uri: &str) -> Result<Value, NoAnswer> {
        let url = self.client.resolve(uri).map_err(NoAnswer::Foreign)?;
        let left = self.policy.remaining();
        if left.is_zero() {
            return Err(NoAnswer::Failed(Reply::Retry {
                status: 0,
                message: "no time left".into(),
                wait: None,
            }));
        }
        let timeout = left.min(io_timeout(self.policy));
        self.client.get_json(url, timeout).map_err(NoAnswer::Failed)
    }
}

/// A member of a JSON object, by name in any case.
fn get<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    v.as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

fn text(v: &Value, name: &str) -> String {
    match get(v, name) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// What the server said, any secret of this run cut out (a server may echo what it got).
fn said(text: &str) -> String {
    crate::redact::redact(text).into_owned()
}

/// The first array among `keys` (impact.com's list keys vary between documents).
fn list<'a>(v: &'a Value, keys: &[&str]) -> Vec<&'a Value> {
    keys.iter()
        .find_map(|k| get(v, k).and_then(Value::as_array))
        .map(|a| a.iter().collect())
        .unwrap_or_default()
}

/// Maps line `line` of a part to the input, from the ledger's JSON (`header_line` and
/// `runs`). `None` when the JSON does not say; any text gives an answer, never a panic.
pub fn source_line(lines_json: &str, line: u64) -> Option<u64> {
    let map: LineMap = serde_json::from_str(lines_json).ok()?;
    map.source_line(line)
}

/// What impact.com's JSON says of one API conversion: its status, and the error (its type
/// first when named) when there is one. Any JSON gives an answer, never a panic.
pub fn conversion_status(v: &Value) -> (String, Option<String>) {
    let reason = text(v, "ErrorReason");
    let kind = text(v, "ErrorType");
    let error = if reason.trim().is_empty() {
        None
    } else if kind.is_empty() {
        Some(reason)
    } else {
        Some(format!("{kind}: {reason}"))
    };
    (text(v, "Status"), error)
}

fn item(kind: &'static str, input: String, name: String, status: &str) -> Item {
    Item {
        kind,
        input,
        name,
        status: status.to_string(),
        errors: vec![],
    }
}

/// Asks of each conversion queued at `destination`.
pub fn conversions(asker: &Asker, queued: Vec<QueuedConversion>, found: &mut Found) {
    for c in queued {
        let v = match asker.ask(&c.queued_uri) {
            Ok(v) => v,
            Err(NoAnswer::Foreign(other)) => {
                found.foreign.push(format!(
                    "order `{}` ({}:{}): its QueuedUri `{}` names another server ({other}): not asked, so the credentials go nowhere else",
                    c.order_id,
                    crate::escape::controls(&c.input),
                    c.line,
                    crate::escape::for_display(&c.queued_uri)
                ));
                let status = "not asked (QueuedUri on another server)";
                found.items.push(item("api", c.input, c.order_id, status));
                continue;
            }
            Err(NoAnswer::Failed(Reply::Refused { status: 404, .. })) => {
                found
                    .items
                    .push(item("api", c.input, c.order_id, "not found"));
                continue;
            }
            Err(NoAnswer::Failed(e)) => {
                found.failure = Some(e);
                return;
            }
        };
        let (status, reason) = conversion_status(&v);
        let (status, reason) = (said(&status), reason.as_deref().map(said));
        let mut it = item("api", c.input, c.order_id, &status);
        it.errors.extend(reason.map(|reason| Finding {
            input: it.input.clone(),
            line: Some(c.line),
            sent_as: "API".into(),
            order_id: Some(it.name.clone()),
            reason,
        }));
        found.items.push(it);
    }
}

/// The deliveries to ask about: each input's part name once, its latest delivery (a part
/// pushed again under the same name is one name to impact.com, whose latest submission of
/// it is the one asked of).
fn latest_each(deliveries: Vec<Delivery>) -> Vec<Delivery> {
    let mut seen = HashSet::new();
    let mut latest: Vec<Delivery> = deliveries
        .into_iter()
        .rev()
        .filter(|d| seen.insert((d.input.clone(), d.remote_name.clone())))
        .collect();
    latest.reverse();
    latest
}

/// Asks of the files delivered to impact.com (`since`: the first day, `YYYY-MM-DD`).
pub fn files(asker: &Asker, deliveries: Vec<Delivery>, since: Option<&str>, found: &mut Found) {
    let deliveries = latest_each(deliveries);
    if deliveries.is_empty() {
        return;
    }
    let mut path = format!("/Advertisers/{}/FTPFileSubmissions", asker.account_sid);
    if let Some(s) = since {
        path.push_str(&format!("?SubmissionDateStart={s}"));
    }
    let v = match asker.ask(&path) {
        Ok(v) => v,
        Err(NoAnswer::Foreign(other)) => {
            found.failure = Some(Reply::Refused {
                status: 0,
                message: format!("{path} would go to another server ({other})"),
                fields: vec![],
            });
            return;
        }
        Err(NoAnswer::Failed(e)) => {
            found.failure = Some(e);
            return;
        }
    };
    let submissions = list(&v, &["FTPFileSubmissions", "FTPFileSubmission"]);
    for d in deliveries {
        let latest = submissions
            .iter()
            .rev()
            .find(|s| same_file(&text(s, "FileName"), &d.remote_name));
        let Some(sub) = latest else {
            let status = "not processed yet";
            found
                .items
                .push(item("file", d.input, d.remote_name, status));
            continue;
        };
        match file_errors(asker, &d, sub) {
            Ok(errors) => {
                let mut it = item("file", d.input, d.remote_name, &said(&text(sub, "Status")));
                it.errors = errors;
                found.items.push(it);
            }
            Err((uri, NoAnswer::Foreign(other))) => {
                found.foreign.push(format!(
                    "file `{}`: its ErrorsUri `{}` names another server ({other}): not asked, so the credentials go nowhere else",
                    crate::escape::controls(&d.remote_name),
                    crate::escape::for_display(&uri)
                ));
                let status = "not asked (ErrorsUri on another server)";
                found
                    .items
                    .push(item("file", d.input, d.remote_name, status));
            }
            Err((_, NoAnswer::Failed(e))) => {
                found.failure = Some(e);
                return;
            }
        }
    }
}

/// impact.com lists a file under `listed`; it was sent as `sent`. An encrypted part went
/// out as `name.csv.pgp`, and may be listed under that name or the one it has once decrypted.
fn same_file(listed: &str, sent: &str) -> bool {
    listed == sent || sent.strip_suffix(crate::push::encrypt::EXTENSION) == Some(listed)
}

/// The errors of one file submission, from its `ErrorsUri` (`Err` names the URI).
fn file_errors(
    asker: &Asker,
    d: &Delivery,
    sub: &Value,
) -> Result<Vec<Finding>, (String, NoAnswer)> {
    let total: u64 = text(sub, "TotalErrors").parse().unwrap_or(0);
    if total == 0 {
        return Ok(vec![]);
    }
    let uri = Some(text(sub, "ErrorsUri"))
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| {
            format!(
                "/Advertisers/{}/FTPFileSubmissions/{}/ErrorDetails",
                asker.account_sid,
                text(sub, "BatchId")
            )
        });
    let details = asker.ask(&uri).map_err(|e| (uri.clone(), e))?;
    let keys = [
        "ErrorDetail",
        "ErrorDetails",
        "FTPFileSubmissionErrors",
        "Errors",
    ];
    Ok(list(&details, &keys)
        .into_iter()
        .map(|e| {
            let part_line: u64 = text(e, "Line").parse().unwrap_or(0);
            Finding {
                input: d.input.clone(),
                line: source_line(&d.source_lines, part_line),
                sent_as: format!("{} line {part_line}", d.remote_name),
                order_id: Some(text(e, "OrderId")).filter(|o| !o.is_empty()),
                reason: said(&text(e, "Reason")),
            }
        })
        .collect())
}

/// Each error once: what it is (input, line, what was sent, order, reason), wherever the
/// answers repeat it. The first stays, in its place.
pub fn dedup_errors(items: &mut [Item]) {
    let mut seen = HashSet::new();
    for i in items {
        i.errors.retain(|f| {
            seen.insert((
                f.input.clone(),
                f.line,
                f.sent_as.clone(),
                f.order_id.clone(),
                f.reason.clone(),
            ))
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(line: u64, reason: &str) -> Finding {
        Finding {
            input: "sales.csv".into(),
            line: Some(line),
            sent_as: "p.csv line 3".into(),
            order_id: Some("ORD-2".into()),
            reason: reason.into(),
        }
    }

    fn file(errors: Vec<Finding>) -> Item {
        let mut it = item("file", "sales.csv".into(), "p.csv".into(), "Complete");
        it.errors = errors;
        it
    }

    #[test]
    fn status_dedup_keeps_the_first_of_each_error_across_items() {
        let mut items = vec![
            file(vec![
                finding(3, "OID_DUPLICATE"),
                finding(3, "OID_DUPLICATE"),
            ]),
            file(vec![
                finding(3, "OID_DUPLICATE"),
                finding(4, "OID_DUPLICATE"),
            ]),
            file(vec![finding(3, "OTHER")]),
        ];
        dedup_errors(&mut items);
        let left: Vec<(usize, Option<u64>, &str)> = items
            .iter()
            .enumerate()
            .flat_map(|(n, i)| i.errors.iter().map(move |f| (n, f.line, f.reason.as_str())))
            .collect();
        assert_eq!(
            left,
            [
                (0, Some(3), "OID_DUPLICATE"),
                (1, Some(4), "OID_DUPLICATE"),
                (2, Some(3), "OTHER")
            ]
        );
    }

    fn delivery(name: &str, lines: &str) -> Delivery {
        Delivery {
            sha256: String::new(),
            destination: "sftp://a@h:22/".into(),
            remote_name: name.into(),
            bytes: 0,
            rows: 0,
            input: "sales.csv".into(),
            delivered_at: String::new(),
            source_lines: lines.into(),
            encrypted_sha256: None,
            encrypted_bytes: None,
        }
    }

    #[test]
    fn an_encrypted_part_is_found_under_either_name() {
        assert!(same_file("p.csv", "p.csv"));
        assert!(same_file("p.csv.pgp", "p.csv.pgp"));
        assert!(same_file("p.csv", "p.csv.pgp"));
        assert!(!same_file("p.csv.pgp", "p.csv"));
        assert!(!same_file("q.csv", "p.csv.pgp"));
        assert!(!same_file("", "p.csv"));
    }

    #[test]
    fn status_asks_each_part_name_once_at_its_latest_delivery() {
        let latest = latest_each(vec![
            delivery("a.csv", "first"),
            delivery("b.csv", "b"),
            delivery("a.csv", "second"),
        ]);
        let got: Vec<(&str, &str)> = latest
            .iter()
            .map(|d| (d.remote_name.as_str(), d.source_lines.as_str()))
            .collect();
        assert_eq!(got, [("b.csv", "b"), ("a.csv", "second")]);
    }
}
