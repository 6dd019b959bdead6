//! `convsubmit status`: asks impact.com what became of what the ledger says was pushed, and
//! reports every error once, at the input line it came from. This module owns the run: the
//! `[api]` settings, the ledger, `--max-time`, and the exit code with its message; the
//! questions are [`ask`]'s, the report [`report`]'s.

pub mod ask;
pub mod report;

pub use ask::{Finding, Item, conversion_status, source_line};

use crate::api::client::{Client, Reply, is_redirect};
use crate::api::settings::{ApiSettings, settings};
use crate::cli::{LedgerFormat, StatusArgs};
use crate::commands::shared::Global;
use crate::config::Config;
use crate::error::{CliError, CliResult};
use crate::exit::ExitStatus;
use crate::ledger::{Ledger, Location};
use crate::push::retry::Policy;
use crate::push::watchdog::{Phase, deadline, io_timeout, watchdog};
use crate::values::date::format_day;
use anyhow::Result;
use ask::{Asker, Found};
use std::io::Write;
use std::time::Duration;

/// The longest wait for a ledger another run holds (within `--max-time`).
const LEDGER_WAIT: Duration = Duration::from_secs(30);

/// Runs the subcommand.
pub fn run(args: &StatusArgs, global: Global, config: &Config, out: &mut dyn Write) -> CliResult {
    let max_time = Duration::from_secs(args.max_time);
    let policy = Policy::new(0, deadline(max_time));
    // A server that drips bytes defeats per-request timeouts: the run ends anyway.
    watchdog(
        policy.deadline,
        max_time,
        Phase::Delivering,
        "a temporary failure: nothing was changed; re-run later (or with a larger --max-time)",
    );
    let api = settings(config, true)?;
    let at = config.ledger_location(
        args.report.ledger.as_deref(),
        args.report.ledger_url.as_deref(),
    )?;
    if !at.may_exist() {
        if args.report.format != LedgerFormat::Text {
            report::write(&[], args.report.format, global.quiet, out)?;
        } else if !global.quiet {
            writeln!(out, "nothing pushed yet: no ledger at {}", at.describe())?;
        }
        return Ok(ExitStatus::Success);
    }
    let ledger = open_ledger(&at, &policy, global.quiet)?;
    let found = ask_all(&ledger, &api, args, &policy).map_err(crate::ledger::to_cli)?;
    if let Some(f) = &found.failure {
        // Part of the answers would read as all of them: no report, the reason instead.
        return Err(failed(f, &api, &found.foreign, &policy, args));
    }
    report::write(&found.items, args.report.format, global.quiet, out)?;
    if let Some(e) = foreign(&found.foreign, &api) {
        return Err(e);
    }
    Ok(if found.items.iter().any(|i| !i.errors.is_empty()) {
        ExitStatus::DataErrors
    } else {
        ExitStatus::Success
    })
}

/// The ledger, waiting for another run within the time left (exit 3 when it stays held).
fn open_ledger(at: &Location, policy: &Policy, quiet: bool) -> Result<Ledger, CliError> {
    let wait = policy.remaining().min(LEDGER_WAIT);
    Ledger::open_at(at, wait, &mut |m| {
        if !quiet {
            crate::say::note(m)
        }
    })
    .map_err(|e| e.into_cli("nothing was asked"))
}

/// Asks impact.com of everything the ledger records for `[api]`'s account (since
/// `--since`), each error once.
fn ask_all(
    ledger: &Ledger,
    api: &ApiSettings,
    args: &StatusArgs,
    policy: &Policy,
) -> Result<Found> {
    let since = args.report.since.map(format_day);
    let client = Client::new(
        &api.base_url,
        &api.account_sid,
        api.token.clone(),
        io_timeout(policy),
    )?;
    let asker = Asker {
        client: &client,
        account_sid: &api.account_sid,
        policy,
    };
    let destination = api.destination();
    let queued = ledger
        .conversions(since.as_deref())?
        .into_iter()
        .filter(|c| c.destination == destination)
        .collect();
    let mut found = Found::default();
    ask::conversions(&asker, queued, &mut found);
    if found.failure.is_none() {
        let files = ledger
            .history(since.as_deref())?
            .into_iter()
            .filter(|d| !d.destination.starts_with("dir://"))
            .collect();
        ask::files(&asker, files, since.as_deref(), &mut found);
    }
    ask::dedup_errors(&mut found.items);
    Ok(found)
}

/// The error for URIs that named another server (not asked: the token goes to no other),
/// with what to check.
fn foreign(foreign: &[String], api: &ApiSettings) -> Option<CliError> {
    if foreign.is_empty() {
        return None;
    }
    let e = CliError::permanent(foreign.join("\n"));
    Some(e.help(format!(
        "base_url under [api] ({}) must name the server that queued them; check it, and the ledger's entries",
        api.base_url
    )))
}

/// Why impact.com could not be asked, and what to do.
fn failed(
    f: &Reply,
    api: &ApiSettings,
    foreign_uris: &[String],
    policy: &Policy,
    args: &StatusArgs,
) -> CliError {
    let (status, message) = match f {
        Reply::Refused {
            status, message, ..
        } => (*status, message),
        Reply::Retry { message, .. } => {
            // What a person must fix outweighs what a re-run may.
            if let Some(e) = foreign(foreign_uris, api) {
                return e.help(format!("and impact.com could not be asked now ({message})"));
            }
            return if policy.remaining().is_zero() {
                CliError::temporary(format!(
                    "impact.com did not answer within --max-time {}s ({message}); nothing was changed",
                    args.max_time
                ))
                .help("a temporary failure: re-run later, or with a larger --max-time")
            } else {
                CliError::temporary(format!(
                    "cannot ask impact.com at {} now ({message}); nothing was changed",
                    api.base_url
                ))
                .help("a temporary failure: re-run later")
            };
        }
        Reply::Queued { .. } => return CliError::temporary("impact.com gave no status"),
    };
    refused(status, message, api)
}

/// What a person must change after impact.com refused a request.
fn refused(status: u16, message: &str, api: &ApiSettings) -> CliError {
    let base = &api.base_url;
    let (error, help) = match status {
        s if is_redirect(s) => (
            format!("{base}: {message}"),
            "base_url under [api] must name the API itself (https://api.impact.com); a redirect is not followed, so nothing went elsewhere",
        ),
        401 | 403 => (
            format!(
                "{base}: impact.com refused the account SID or auth token (HTTP {status}: {message})"
            ),
            "check account_sid and the auth token named under [api]",
        ),
        0 => (
            format!("{base}: {message}"),
            "check base_url under [api]: it must name impact.com's API, with a certificate this system trusts",
        ),
        _ => (
            format!("impact.com refused the status request (HTTP {status}: {message})"),
            "check base_url and account_sid under [api]",
        ),
    };
    CliError::permanent(error).help(help)
}
