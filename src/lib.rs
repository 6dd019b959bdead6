//! convsubmit: validate impact.com batch conversion files before they are sent.
//!
//! The library holds all logic; the `convsubmit` binary is a thin `main` over [`run`].
//! Findings are data ([`diagnostic::Diagnostic`]); `Err` means the tool itself failed.

#![warn(missing_docs)]

pub mod api;
pub mod cli;
pub mod color;
pub mod commands;
pub mod config;
pub mod csv_out;
pub mod deliver;
pub mod diagnostic;
pub mod digest;
pub mod error;
pub mod escape;
pub mod exit;
pub mod fast_hash;
pub mod fix;
pub mod input;
pub mod ledger;
pub mod output;
pub mod progress;
pub mod push;
pub mod redact;
pub mod report;
pub mod say;
pub mod secret;
pub mod split;
pub mod template;
pub mod trust;
pub mod validate;
pub mod values;

#[cfg(test)]
mod snapshot;

use cli::{Cli, Command};

/// Runs a parsed command line.
pub fn run(cli: Cli) -> error::CliResult {
    let global = commands::shared::Global {
        verbose: cli.verbose,
        quiet: cli.quiet,
        color: cli.color,
    };
    match &cli.command {
        Command::Validate(args) => Ok(commands::validate::run(args, global)?),
        Command::Split(args) => Ok(commands::split::run(args, global)?),
        Command::Fix(args) => Ok(commands::fix::run(args, global)?),
        Command::Push(args) => {
            let config = config::Config::load(cli.config.as_deref())?;
            Ok(commands::push::run(args, global, &config)?)
        }
        Command::History(args) => {
            let config = config::Config::load(cli.config.as_deref())?;
            Ok(commands::history::run(
                args,
                &config,
                &mut output::stdout(),
            )?)
        }
        Command::Status(args) => {
            let config = config::Config::load(cli.config.as_deref())?;
            Ok(commands::status::run(
                args,
                global,
                &config,
                &mut output::stdout(),
            )?)
        }
        Command::Doctor(args) => {
            let config = config::Config::load(cli.config.as_deref())?;
            Ok(commands::doctor::run(args, &config)?)
        }
        Command::Templates(args) => {
            let mut out = output::stdout();
            let mut notes: Box<dyn std::io::Write> = if cli.quiet {
                Box::new(std::io::sink())
            } else {
                Box::new(std::io::stderr())
            };
            Ok(commands::templates::run(
                &args.action,
                &mut out,
                &mut notes,
            )?)
        }
        Command::Completions(args) => Ok(commands::completions::run(args, &mut output::stdout())?),
        Command::Man(args) => Ok(commands::man::run(args, global, &mut output::stdout())?),
    }
}
