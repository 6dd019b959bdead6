//! The `convsubmit` binary: parse arguments, run, print the one error, exit with its class.

use clap::{CommandFactory, FromArgMatches};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // clap's own help and errors follow --color, NO_COLOR and CLICOLOR_FORCE too.
    let choice = convsubmit::color::for_clap(convsubmit::color::from_args(&args));
    let cli = convsubmit::cli::Cli::command()
        .color(choice)
        .try_get_matches_from(args)
        .and_then(|m| convsubmit::cli::Cli::from_arg_matches(&m))
        .unwrap_or_else(|e| e.exit());
    match convsubmit::run(cli) {
        Ok(status) => status.into(),
        Err(err) => err.report().into(),
    }
}
