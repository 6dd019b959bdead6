//! `convsubmit completions SHELL`: a completion script, generated from the command definitions
//! in [`crate::cli`], so that it completes every command, option and value the binary has.

use crate::cli::{Cli, CompletionsArgs};
use crate::exit::ExitStatus;
use anyhow::Result;
use clap::CommandFactory;
use std::io::Write;

/// Runs the subcommand.
pub fn run(args: &CompletionsArgs, out: &mut dyn Write) -> Result<ExitStatus> {
    let mut cmd = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "convsubmit", &mut script);
    out.write_all(&script)?;
    out.flush()?;
    Ok(ExitStatus::Success)
}
