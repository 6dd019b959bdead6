//! The `convsubmit` binary: parse arguments, run, print the one error, exit with its class.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = convsubmit::cli::Cli::parse();
    match convsubmit::run(cli) {
        Ok(status) => status.into(),
        Err(err) => err.report().into(),
    }
}
