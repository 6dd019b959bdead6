//! `convsubmit history`: the deliveries the ledger records.

use crate::cli::{HistoryArgs, LedgerFormat};
use crate::config::Config;
use crate::error::CliResult;
use crate::exit::ExitStatus;
use crate::ledger::Ledger;
use crate::values::date::format_day;
use std::io::Write;
use std::time::Duration;

/// Runs the subcommand.
pub fn run(args: &HistoryArgs, config: &Config, out: &mut dyn Write) -> CliResult {
    let args = &args.report;
    let at = config.ledger_location(args.ledger.as_deref(), args.ledger_url.as_deref())?;
    let deliveries = if at.may_exist() {
        let ledger = Ledger::open_at(&at, Duration::from_secs(30), &mut |m| crate::say::note(m))
            .map_err(|e| e.into_cli("nothing was listed"))?;
        let since = args.since.map(format_day);
        ledger
            .history(since.as_deref())
            .map_err(crate::ledger::to_cli)?
    } else {
        vec![]
    };
    match args.format {
        LedgerFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, &deliveries).map_err(std::io::Error::from)?;
            writeln!(out)?;
        }
        LedgerFormat::Jsonl => {
            for d in &deliveries {
                serde_json::to_writer(&mut *out, d).map_err(std::io::Error::from)?;
                writeln!(out)?;
            }
        }
        LedgerFormat::Text => {
            if deliveries.is_empty() {
                writeln!(out, "no deliveries recorded in {}", at.describe())?;
            }
            for d in &deliveries {
                // An encrypted part: the digest of what was sent, beside the part's own.
                let encrypted = match &d.encrypted_sha256 {
                    Some(e) => format!("  encrypted sha256:{}", &e[..e.len().min(12)]),
                    None => String::new(),
                };
                writeln!(
                    out,
                    "{}  {}{}  {} rows  {} bytes  sha256:{}{encrypted}  from {}",
                    d.delivered_at,
                    d.destination.trim_end_matches('/'),
                    format_args!("/{}", d.remote_name),
                    d.rows,
                    d.bytes,
                    &d.sha256[..d.sha256.len().min(12)],
                    crate::escape::controls(&d.input)
                )?;
            }
        }
    }
    out.flush()?;
    Ok(ExitStatus::Success)
}
