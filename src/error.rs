//! The one error type of a run, carrying its exit class (as cargo's `CliError` does), and the
//! one place that prints it. Commands return `Err(CliError)` for a run that cannot go on;
//! a verdict (findings, rows set aside) is an `Ok(ExitStatus)`, not an error.

use crate::exit::ExitStatus;
use std::fmt;

/// A run that stopped: what went wrong, what to do, and the exit code it calls for.
#[derive(Debug)]
pub struct CliError {
    /// The exit code.
    pub class: ExitStatus,
    /// What went wrong, with its causes.
    pub error: anyhow::Error,
    /// What a person should do, most specific first.
    pub help: Vec<String>,
}

impl CliError {
    /// An error of class `class`.
    pub fn new(class: ExitStatus, error: impl Into<anyhow::Error>) -> CliError {
        CliError {
            class,
            error: error.into(),
            help: vec![],
        }
    }

    /// A temporary failure (exit 3): a re-run later can succeed.
    pub fn temporary(message: impl fmt::Display) -> CliError {
        CliError::new(ExitStatus::TemporaryDelivery, anyhow::anyhow!("{message}"))
    }

    /// A permanent failure (exit 4): a person has to change something first.
    pub fn permanent(message: impl fmt::Display) -> CliError {
        CliError::new(ExitStatus::PermanentDelivery, anyhow::anyhow!("{message}"))
    }

    /// A usage or configuration problem (exit 2).
    pub fn usage(message: impl fmt::Display) -> CliError {
        CliError::new(ExitStatus::Failure, anyhow::anyhow!("{message}"))
    }

    /// Adds what to do.
    pub fn help(mut self, help: impl Into<String>) -> CliError {
        self.help.push(help.into());
        self
    }

    /// Prints the error, its causes and its help on standard error (through [`crate::say`],
    /// so no secret and no control character is printed), and returns its exit code.
    pub fn report(&self) -> ExitStatus {
        crate::say::error(&self.error.to_string());
        for cause in self.error.chain().skip(1) {
            crate::say::line(&format!("  caused by: {cause}"));
        }
        for help in &self.help {
            crate::say::help(help);
        }
        self.class
    }
}

/// Anything else that stops a run is a usage, configuration or input problem (exit 2).
impl From<anyhow::Error> for CliError {
    fn from(error: anyhow::Error) -> CliError {
        CliError::new(ExitStatus::Failure, error)
    }
}

impl From<std::io::Error> for CliError {
    fn from(error: std::io::Error) -> CliError {
        CliError::new(ExitStatus::Failure, error)
    }
}

/// What a command returns.
pub type CliResult = Result<ExitStatus, CliError>;
