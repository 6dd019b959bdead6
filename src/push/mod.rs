//! The push use case: plan (every input validated and split before anything is sent, rows
//! with errors set aside), then deliver (the plan's parts, or their orders for the API,
//! through one [`channel::Channel`]: ledger note → send → record, retried and bounded by
//! `--max-time`), and an [`outcome::Outcome`] that is data. Commands parse arguments, call
//! these, and render the outcome. Below this layer, `deliver/` (transports) and `api/`
//! (the HTTP client) know nothing of it.

pub mod api;
pub mod channel;
pub mod deliver;
pub mod encrypt;
pub mod fit;
pub mod names;
pub mod outcome;
pub mod pace;
pub mod part;
pub mod plan;
pub mod retry;
pub mod route;
pub mod select;
pub mod watchdog;

use crate::error::CliError;
use crate::exit::ExitStatus;
use crate::ledger::{Ledger, Location};
use plan::Plan;
use retry::Policy;

/// Whether the plan may be sent: `Err` for an input that changed while it was read (a file
/// still being written; exit 3), `Ok(Some(…))` when nothing is to be sent, with the exit
/// code and why.
pub fn admit(plan: &Plan, fail_on_reject: bool) -> Result<Option<(ExitStatus, &str)>, CliError> {
    if let Some(change) = plan.changed_input() {
        return Err(CliError::temporary(format!("{change}; nothing was sent"))
            .help("it is still being written: re-run once it is complete"));
    }
    if plan.unreadable {
        return Ok(Some((
            ExitStatus::Failure,
            "nothing sent: an input could not be read",
        )));
    }
    if fail_on_reject && plan.data_errors() {
        return Ok(Some((
            ExitStatus::DataErrors,
            "nothing sent (--fail-on-reject): rows would be set aside",
        )));
    }
    Ok(None)
}

/// Opens the ledger, waiting for another run until the deadline (exit 3 when it does not
/// end in time), and saying so unless `quiet`. `--dry-run` creates no ledger file, and
/// connects to no database (it reads no secret): every part not in a local ledger is listed.
pub fn open_ledger(
    at: &Location,
    dry_run: bool,
    quiet: bool,
    policy: &Policy,
) -> Result<Option<Ledger>, CliError> {
    if dry_run && (matches!(at, Location::Postgres(_)) || !at.may_exist()) {
        return Ok(None);
    }
    let mut notice = |m: &str| {
        if !quiet {
            crate::say::note(m)
        }
    };
    Ledger::open_at(at, policy.remaining(), &mut notice)
        .map(Some)
        .map_err(|e| e.into_cli("nothing was sent"))
}
