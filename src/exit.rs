//! Exit codes, a public contract (docs/exit-codes.md).

use std::process::ExitCode;

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// 0: no errors (warnings allowed unless `--strict`).
    Success = 0,
    /// 1: data errors found.
    DataErrors = 1,
    /// 2: usage, configuration, template or input-file problem.
    Failure = 2,
    /// 3: delivery failed for a temporary reason; safe to re-run.
    TemporaryDelivery = 3,
    /// 4: delivery refused permanently; needs a person.
    PermanentDelivery = 4,
}

impl From<ExitStatus> for ExitCode {
    fn from(s: ExitStatus) -> Self {
        ExitCode::from(s as u8)
    }
}
