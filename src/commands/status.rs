//! `convsubmit status`: asks impact.com what became of what was pushed, and reports every
//! error at the input line it came from.

use crate::api::client::{Client, Outcome, is_redirect};
use crate::api::settings::settings;
use crate::cli::{HistoryFormat, StatusArgs};
use crate::config::Config;
use crate::exit::ExitStatus;
use crate::ledger::Ledger;
use crate::split::Run;
use crate::values::date::format_day;
use anyhow::Result;
use serde::Serialize;
use serde_json::Value;
use std::io::Write;
use std::time::Duration;

/// One error impact.com reports, placed in the input.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// The input file.
    pub input: String,
    /// The input line (0 when unknown).
    pub line: u64,
    /// What was sent: a file name, or `API`.
    pub sent_as: String,
    /// The OrderId, when impact.com names it.
    pub order_id: String,
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
    /// impact.com's status (`Queued`, `In Progress`, `Complete`, or `not found`).
    pub status: String,
    /// Errors, at input lines.
    pub errors: Vec<Finding>,
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
    let v: Value = serde_json::from_str(lines_json).ok()?;
    let header = get(&v, "header_line")?.as_u64()?;
    if line == 1 {
        return Some(header);
    }
    let runs: Vec<Run> = serde_json::from_value(get(&v, "runs")?.clone()).ok()?;
    runs.iter().find_map(|r| r.source_line(line))
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

/// GETs `path` of the API.
fn get_path(client: &Client, path: &str) -> Result<Value, Outcome> {
    let url = client.resolve(path).map_err(|other| Outcome::Refused {
        status: 0,
        message: format!("{path} would go to another server ({other})"),
        fields: vec![],
    })?;
    client.get_json(url)
}

/// Runs the subcommand.
pub fn run(args: &StatusArgs, config: &Config, out: &mut dyn Write) -> Result<ExitStatus> {
    let api = settings(config, true)?;
    let path = config.ledger_path(args.ledger.as_deref());
    if !path.exists() {
        writeln!(out, "nothing pushed yet: no ledger at {}", path.display())?;
        return Ok(ExitStatus::Success);
    }
    let ledger = Ledger::open(&path, Duration::from_secs(30), &mut |m| crate::say::note(m))?;
    let since = args.since.map(format_day);
    let client = Client::new(
        &api.base_url,
        &api.account_sid,
        api.token.clone(),
        Duration::from_secs(60),
    )?;
    let mut items = vec![];
    let mut failure: Option<Outcome> = None;
    // URIs the server gave that name another server: reported, never asked.
    let mut foreign: Vec<String> = vec![];

    let destination = api.destination();
    for c in ledger.conversions(since.as_deref())? {
        if c.destination != destination {
            continue;
        }
        let url = match client.resolve(&c.queued_uri) {
            Ok(url) => url,
            Err(other) => {
                foreign.push(format!(
                    "order `{}` ({}:{}): its QueuedUri `{}` names another server ({other}): not asked, so the credentials go nowhere else",
                    c.order_id,
                    crate::escape::controls(&c.input),
                    c.line,
                    crate::escape::for_display(&c.queued_uri)
                ));
                items.push(Item {
                    kind: "api",
                    input: c.input,
                    name: c.order_id,
                    status: "not asked (QueuedUri on another server)".into(),
                    errors: vec![],
                });
                continue;
            }
        };
        let (status, errors) = match client.get_json(url) {
            Ok(v) => {
                let (status, reason) = conversion_status(&v);
                let errors = reason
                    .map(|reason| Finding {
                        input: c.input.clone(),
                        line: c.line,
                        sent_as: "API".into(),
                        order_id: c.order_id.clone(),
                        reason,
                    })
                    .into_iter()
                    .collect();
                (status, errors)
            }
            Err(Outcome::Refused { status: 404, .. }) => ("not found".into(), vec![]),
            Err(e) => {
                failure = Some(e);
                break;
            }
        };
        items.push(Item {
            kind: "api",
            input: c.input,
            name: c.order_id,
            status,
            errors,
        });
    }

    let files: Vec<_> = ledger
        .history(since.as_deref())?
        .into_iter()
        .filter(|d| !d.destination.starts_with("dir://"))
        .collect();
    if !files.is_empty() && failure.is_none() {
        let mut path = format!("/Advertisers/{}/FTPFileSubmissions", api.account_sid);
        if let Some(s) = &since {
            path.push_str(&format!("?SubmissionDateStart={s}"));
        }
        match get_path(&client, &path) {
            Err(e) => failure = Some(e),
            Ok(v) => {
                let submissions = list(&v, &["FTPFileSubmissions", "FTPFileSubmission"]);
                for d in files {
                    let Some(sub) = submissions
                        .iter()
                        .rev()
                        .find(|s| text(s, "FileName") == d.remote_name)
                    else {
                        items.push(Item {
                            kind: "file",
                            input: d.input,
                            name: d.remote_name,
                            status: "not processed yet".into(),
                            errors: vec![],
                        });
                        continue;
                    };
                    let mut errors = vec![];
                    let total: u64 = text(sub, "TotalErrors").parse().unwrap_or(0);
                    if total > 0 {
                        let uri = Some(text(sub, "ErrorsUri"))
                            .filter(|u| !u.is_empty())
                            .unwrap_or_else(|| {
                                format!(
                                    "/Advertisers/{}/FTPFileSubmissions/{}/ErrorDetails",
                                    api.account_sid,
                                    text(sub, "BatchId")
                                )
                            });
                        let url = match client.resolve(&uri) {
                            Ok(url) => url,
                            Err(other) => {
                                foreign.push(format!(
                                    "file `{}`: its ErrorsUri `{}` names another server ({other}): not asked, so the credentials go nowhere else",
                                    crate::escape::controls(&d.remote_name),
                                    crate::escape::for_display(&uri)
                                ));
                                items.push(Item {
                                    kind: "file",
                                    input: d.input,
                                    name: d.remote_name,
                                    status: "not asked (ErrorsUri on another server)".into(),
                                    errors: vec![],
                                });
                                continue;
                            }
                        };
                        match client.get_json(url) {
                            Err(e) => {
                                failure = Some(e);
                                break;
                            }
                            Ok(details) => {
                                for e in list(
                                    &details,
                                    &[
                                        "ErrorDetail",
                                        "ErrorDetails",
                                        "FTPFileSubmissionErrors",
                                        "Errors",
                                    ],
                                ) {
                                    let part_line: u64 = text(e, "Line").parse().unwrap_or(0);
                                    errors.push(Finding {
                                        input: d.input.clone(),
                                        line: source_line(&d.source_lines, part_line).unwrap_or(0),
                                        sent_as: format!("{} line {part_line}", d.remote_name),
                                        order_id: text(e, "OrderId"),
                                        reason: text(e, "Reason"),
                                    });
                                }
                            }
                        }
                    }
                    items.push(Item {
                        kind: "file",
                        input: d.input,
                        name: d.remote_name,
                        status: text(sub, "Status"),
                        errors,
                    });
                }
            }
        }
    }

    let errors: usize = items.iter().map(|i| i.errors.len()).sum();
    match args.format {
        HistoryFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, &items)?;
            writeln!(out)?;
        }
        HistoryFormat::Text => {
            for i in &items {
                for f in &i.errors {
                    writeln!(
                        out,
                        "{}:{}: error[impact] {}{}: {}",
                        crate::escape::controls(&f.input),
                        f.line,
                        f.sent_as,
                        if f.order_id.is_empty() {
                            String::new()
                        } else {
                            format!(", order `{}`", f.order_id)
                        },
                        crate::escape::for_display(&f.reason)
                    )?;
                }
            }
            let count = |kind: &str| items.iter().filter(|i| i.kind == kind).count();
            let pending = items
                .iter()
                .filter(|i| !i.status.eq_ignore_ascii_case("complete"))
                .count();
            writeln!(
                out,
                "status: {} API conversions and {} files checked; {} not complete yet; {errors} errors reported by impact.com",
                count("api"),
                count("file"),
                pending
            )?;
        }
    }
    out.flush()?;
    for f in &foreign {
        crate::say::error(&f.to_string());
    }
    if !foreign.is_empty() {
        crate::say::help(&format!(
            "base_url under [api] ({}) must name the server that queued them; check it, and the ledger's entries",
            api.base_url
        ));
    }
    if let Some(f) = failure {
        return Ok(match f {
            Outcome::Refused {
                status, message, ..
            } if is_redirect(status) => {
                crate::say::error(&format!("{}: {message}", api.base_url));
                crate::say::help(
                    "base_url under [api] must name the API itself (https://api.impact.com); a redirect is not followed, so nothing went elsewhere",
                );
                ExitStatus::PermanentDelivery
            }
            Outcome::Retry { message, .. } if !foreign.is_empty() => {
                // What a person must fix (above) outweighs what a re-run may.
                crate::say::error(&format!("cannot ask impact.com now ({message})"));
                ExitStatus::PermanentDelivery
            }
            Outcome::Refused {
                status, message, ..
            } => {
                crate::say::error(&format!(
                    "impact.com refused the status request (HTTP {status}: {message})"
                ));
                ExitStatus::PermanentDelivery
            }
            Outcome::Retry { message, .. } => {
                crate::say::error(&format!(
                    "cannot ask impact.com now ({message}); re-run later"
                ));
                ExitStatus::TemporaryDelivery
            }
            Outcome::Queued { .. } => ExitStatus::Success,
        });
    }
    Ok(if !foreign.is_empty() {
        ExitStatus::PermanentDelivery
    } else if errors > 0 {
        ExitStatus::DataErrors
    } else {
        ExitStatus::Success
    })
}
