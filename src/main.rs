//! The `convsubmit` binary: parse arguments, run, print the one error, exit with its class.

use clap::Parser;
use convsubmit::error::is_broken_pipe;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = convsubmit::cli::Cli::parse();
    match convsubmit::run(cli) {
        Ok(status) => status.into(),
        // `convsubmit history … | head` ends quietly.
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => err.report().into(),
    }
}
