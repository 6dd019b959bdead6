//! The `convsubmit` binary: parse arguments, run, map the outcome to an exit code.

use clap::Parser;
use convsubmit::exit::ExitStatus;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = convsubmit::cli::Cli::parse();
    match convsubmit::run(cli) {
        Ok(status) => status.into(),
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            convsubmit::say::error(&err.to_string());
            for cause in err.chain().skip(1) {
                convsubmit::say::line(&format!("  caused by: {cause}"));
            }
            ExitStatus::Failure.into()
        }
    }
}

/// `convsubmit validate … | head` must end quietly.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain()
        .filter_map(|e| e.downcast_ref::<std::io::Error>())
        .any(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}
